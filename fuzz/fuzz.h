/*
 * fuzz.h: helpers shared by the libFuzzer targets in fuzz/.
 *
 * Everything here is static inline and keeps its state in the caller's
 * stack frame: a target keeps no global mutable state, so an input that
 * crashes replays the same way on its own.
 *
 * Several targets split their input into a small header of control bytes
 * (flags, a seed for chunk sizes) and the bytes under test, so that the
 * fuzzer can mutate how input is delivered independently of what it is.
 */
#ifndef KILN_FUZZ_H
#define KILN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * A deterministic generator (splitmix64) for chunk sizes and similar
 * choices; seeded from input bytes, never from the clock.
 */
struct fuzz_rng {
	uint64_t	s;
};

static inline void
fuzz_rng_init(struct fuzz_rng *r, const uint8_t *p, size_t n)
{
	size_t i;

	r->s = 0x6b696c6e66757a7aULL;	/* "kilnfuzz" */
	for (i = 0; i < n; i++)
		r->s = (r->s ^ p[i]) * 0x100000001b3ULL;
}

static inline uint64_t
fuzz_rng_next(struct fuzz_rng *r)
{
	uint64_t z;

	z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The next chunk length, 1..left: mostly tiny chunks (to split headers,
 * CRLF pairs and secrets), sometimes medium, sometimes all that is left.
 */
static inline size_t
fuzz_rng_chunk(struct fuzz_rng *r, size_t left)
{
	uint64_t v = fuzz_rng_next(r);
	size_t n;

	if (left == 0)
		return 0;
	switch (v & 3) {
	case 0:
	case 1:
		n = 1 + (size_t)((v >> 8) % 8);
		break;
	case 2:
		n = 1 + (size_t)((v >> 8) % 512);
		break;
	default:
		n = left;
		break;
	}
	return n < left ? n : left;
}

/* A NUL-terminated copy of n bytes (aborts on out-of-memory). */
static inline char *
fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * A broken invariant that no sanitizer would notice: report and abort, so
 * libFuzzer saves the input as a crash.
 */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif
