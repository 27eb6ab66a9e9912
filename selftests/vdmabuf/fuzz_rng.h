/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzers' pseudo-random numbers (fuzz_host, fuzz_guest): a seed
 * spread by splitmix64 into an xorshift64* state, so that a run is the
 * same on every machine and libc (not rand()), and a failure's seed
 * replays it.
 */
#ifndef VDMABUF_FUZZ_RNG_H
#define VDMABUF_FUZZ_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64: the next value of the sequence of @x (advanced) */
static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* xorshift64*: small, fast, and the same everywhere */
struct rng {
	uint64_t s;
};

static inline void rng_init(struct rng *r, uint64_t seed)
{
	uint64_t x = seed;

	r->s = splitmix64(&x) | 1;
}

static inline uint64_t rnd(struct rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* 0..n-1, @n at least 1 */
static inline uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rnd(r) >> 32) * (uint64_t)n) >> 32);
}

/* lo..hi */
static inline uint32_t between(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + below(r, hi - lo + 1);
}

/* true @p times in a hundred */
static inline bool pct(struct rng *r, uint32_t p)
{
	return below(r, 100) < p;
}

static inline void rnd_bytes(struct rng *r, void *p, size_t n)
{
	uint8_t *b = p;
	uint64_t x;

	while (n >= 8) {
		x = rnd(r);
		memcpy(b, &x, 8);
		b += 8;
		n -= 8;
	}
	x = rnd(r);
	memcpy(b, &x, n);
}

#endif /* VDMABUF_FUZZ_RNG_H */
