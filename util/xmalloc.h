/*
 * Allocation that cannot fail for the caller: out of memory aborts
 * (after one line on stderr). A daemon that half-built a verdict or a
 * config is worse than one that is restarted by its supervisor.
 */
#ifndef HAREPD_UTIL_XMALLOC_H
#define HAREPD_UTIL_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
/* Overflow-checked n * size; size 0 gives a valid 1-byte block. */
void	*xreallocarray(void *, size_t n, size_t size);
/* NULL is copied as "": protobuf-c string fields are never NULL. */
char	*xstrdup(const char *);

#endif
