/*
 * protobuf-c's string fields, gRPC core's grpc_arg keys and execv()'s
 * argv are char * although they are only read: packing a message, reading
 * a channel argument or exec'ing never writes through them. This is the
 * one place harepd drops a const to fill them (PostgreSQL's unconstify()
 * for the same reason); -Wcast-qual catches every other cast that would.
 */
#ifndef HAREPD_UNCONST_H
#define HAREPD_UNCONST_H

#include <stdint.h>

static inline char *
unconst_str(const char *s)
{
	return (char *)(uintptr_t)s;
}

static inline void *
unconst_ptr(const void *p)
{
	return (void *)(uintptr_t)p;
}

#endif
