/* PEM bytes from a ConfigPush as the NUL-terminated strings gRPC wants. */
#ifndef HAREPD_UTIL_PEM_H
#define HAREPD_UTIL_PEM_H

#include <stddef.h>
#include <stdint.h>

/* A copy of len bytes plus NUL; NULL when len is 0 (absent). */
char	*pem_string(const uint8_t *data, size_t len);
/* Wipes (a private key may be inside) and frees; NULL is fine. */
void	 pem_free(char *);

#endif
