/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdmabuf benchmark: what bench_guest (in L2) and importer_bench (in L1)
 * tell each other, and the frame contents both sides agree on.
 *
 * They share two channels, nothing else:
 *  - the device: the guest names each export's role in its metadata
 *    (struct bench_meta); the host answers with FRAME_DONE and, by closing
 *    its import, lets RELEASED happen;
 *  - virtio-vsock (the copy alternative and the floor): the guest connects
 *    to the host's port BENCH_VSOCK_PORT and sends a struct bench_hello,
 *    then either single bytes the host echoes (BENCH_K_PING) or frames
 *    (BENCH_K_COPY: a struct bench_frame, then the frame's bytes; the
 *    host answers one byte, BENCH_ACK_OK or BENCH_ACK_BAD).
 *
 * The frame: 64-bit word w of a buffer holds bench_word(seed, w).  A
 * zero-copy buffer has only the first word of every 4 KiB page written
 * (the host reads exactly those words); a copied frame is written in full.
 *
 * All multi-byte fields are little-endian.  Both programs report every
 * number as a "PREFIX KEY VALUE" line, every timing as a "PREFIX KEY N
 * MEDIAN MIN MAX MEAN" line (bench_samples_report() below), which
 * scripts/testbed/bench-report.sh turns into a table and JSON.
 */
#ifndef VDMABUF_BENCH_PROTO_H
#define VDMABUF_BENCH_PROTO_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_pattern.h"	/* DEMO_FOURCC, DEMO_FOURCC_XRGB8888 */

#define BENCH_META_MAGIC	DEMO_FOURCC('V', 'D', 'B', 'N')
#define BENCH_HELLO_MAGIC	DEMO_FOURCC('V', 'D', 'B', 'H')
#define BENCH_FRAME_MAGIC	DEMO_FOURCC('V', 'D', 'B', 'F')
#define BENCH_VSOCK_PORT	30310
#define BENCH_PAGE		4096
#define BENCH_ACK_OK		'K'
#define BENCH_ACK_BAD		'X'

/* The three frame sizes, XRGB8888, linear, stride = width * 4. */
#define BENCH_NR_SIZES		3
static const struct bench_size {
	const char *name;
	uint32_t width;
	uint32_t height;
} bench_sizes[BENCH_NR_SIZES] = {
	{ "1080p", 1920, 1080 },
	{ "4k", 3840, 2160 },
	{ "8k", 7680, 4320 },
};

/* Bytes of a frame of size @i, rounded up to whole pages. */
static inline uint64_t bench_bytes(unsigned int i)
{
	uint64_t b = (uint64_t)bench_sizes[i].width * 4 * bench_sizes[i].height;

	return (b + BENCH_PAGE - 1) & ~(uint64_t)(BENCH_PAGE - 1);
}

static inline uint64_t bench_word(uint64_t seed, uint64_t w)
{
	return (w + 1) * 0x9e3779b97f4a7c15ULL ^ seed;
}

/* struct bench_meta.role */
#define BENCH_R_ZC		1	/* first use: import, touch, close */
#define BENCH_R_STEADY		2	/* imported once, frames acked at once */

/**
 * struct bench_meta - the metadata of a benchmark export
 * @magic: BENCH_META_MAGIC; exports without it are not the benchmark's
 * @role: BENCH_R_*
 * @size_idx: index into bench_sizes[]
 * @iter: BENCH_R_ZC: the cycle's number; 0 is the untimed warm-up
 * @width: pixels
 * @height: rows
 * @stride: bytes per row
 * @fourcc: DEMO_FOURCC_XRGB8888
 * @seed: bench_word() seed of this buffer's contents
 */
struct bench_meta {
	uint32_t magic;
	uint32_t role;
	uint32_t size_idx;
	uint32_t iter;
	uint32_t width;
	uint32_t height;
	uint32_t stride;
	uint32_t fourcc;
	uint64_t seed;
};

/* struct bench_hello.kind */
#define BENCH_K_PING		1	/* 1-byte round trips until EOF */
#define BENCH_K_COPY		2	/* frames of @bytes bytes until EOF */

/**
 * struct bench_hello - first bytes of every vsock connection
 * @magic: BENCH_HELLO_MAGIC
 * @kind: BENCH_K_*
 * @size_idx: BENCH_K_COPY: index into bench_sizes[]
 * @padding: zero
 * @bytes: BENCH_K_COPY: bytes per frame
 * @seed: BENCH_K_COPY: bench_word() seed of the frames
 */
struct bench_hello {
	uint32_t magic;
	uint32_t kind;
	uint32_t size_idx;
	uint32_t padding;
	uint64_t bytes;
	uint64_t seed;
};

/* struct bench_frame.flags */
/* Check every word before answering (an untimed frame). */
#define BENCH_F_VERIFY		(1U << 0)
/* The last frame: check every word after answering. */
#define BENCH_F_LAST		(1U << 1)

/**
 * struct bench_frame - before each copied frame
 * @magic: BENCH_FRAME_MAGIC
 * @flags: BENCH_F_*
 * @seq: frame number on this connection, from 0
 */
struct bench_frame {
	uint32_t magic;
	uint32_t flags;
	uint64_t seq;
};

/* Samples of one measurement, in ns. */
struct bench_samples {
	uint64_t *v;
	unsigned int n;
	unsigned int cap;
};

static inline int bench_samples_init(struct bench_samples *s, unsigned int cap)
{
	s->n = 0;
	s->cap = cap;
	s->v = calloc(cap ? cap : 1, sizeof(*s->v));
	if (!s->v) {
		s->cap = 0;
		return -ENOMEM;
	}
	return 0;
}

static inline void bench_samples_add(struct bench_samples *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->v[s->n++] = ns;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One line on stdout: "@prefix@key N MEDIAN MIN MAX MEAN", times in ms
 * with three decimals (N 0: no times).  One line rather than one per
 * number: the guest's output crawls out through an emulated UART.
 */
static inline void bench_samples_report(struct bench_samples *s,
					const char *prefix, const char *key)
{
	uint64_t sum = 0, med;
	unsigned int i;

	if (!s->n) {
		printf("%s%s 0\n", prefix, key);
		return;
	}
	qsort(s->v, s->n, sizeof(*s->v), bench_cmp_u64);
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	med = s->n % 2 ? s->v[s->n / 2] :
	      (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	printf("%s%s %u %.3f %.3f %.3f %.3f\n", prefix, key, s->n, med / 1e6,
	       s->v[0] / 1e6, s->v[s->n - 1] / 1e6, sum / 1e6 / s->n);
}

/*
 * The @pct percentile (nearest rank) of @s in ns, 0 without samples.
 * Sorts the samples.
 */
static inline uint64_t bench_samples_pct(struct bench_samples *s,
					 unsigned int pct)
{
	unsigned int rank;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), bench_cmp_u64);
	rank = ((uint64_t)s->n * pct + 99) / 100;
	return s->v[rank ? rank - 1 : 0];
}

static inline void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

_Static_assert(sizeof(struct bench_meta) == 40, "bench_meta layout");
_Static_assert(sizeof(struct bench_hello) == 32, "bench_hello layout");
_Static_assert(sizeof(struct bench_frame) == 16, "bench_frame layout");

#endif /* VDMABUF_BENCH_PROTO_H */
