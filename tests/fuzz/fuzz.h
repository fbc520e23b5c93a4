/*
 * What the libFuzzer harnesses share (tests/fuzz/README): reading a fuzz
 * input as a few control bytes and length-prefixed chunks, and a check
 * that stops the run with a message when a documented property fails
 * (libFuzzer reports an abort() as a crash and keeps the input).
 */
#ifndef HAREPD_FUZZ_H
#define HAREPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s: ",	\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* The input, read front to back. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 left;
};

static inline void
fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
	in->p = data;
	in->left = size;
}

/* One byte; 0 once the input is used up. */
static inline uint8_t
fuzz_byte(struct fuzz_in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

/* Little-endian, missing bytes read as 0. */
static inline uint64_t
fuzz_u64(struct fuzz_in *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)fuzz_byte(in) << (8 * i);
	return v;
}

/*
 * A chunk: two length bytes (little-endian) then that many bytes, cut
 * at the end of the input. 0 when nothing is left.
 */
static inline int
fuzz_chunk(struct fuzz_in *in, const uint8_t **buf, size_t *len)
{
	size_t n;

	if (in->left == 0)
		return 0;
	n = (size_t)fuzz_u64(in, 2);
	if (n > in->left)
		n = in->left;
	*buf = in->p;
	*len = n;
	in->p += n;
	in->left -= n;
	return 1;
}

#endif
