/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the example programs share besides libvdmabuf: monotonic time, and
 * for the host programs TAP written to a file (the test bed runs them in
 * the background and collects it).  Everything vdmabuf itself does -
 * importer fds, events, imports, UUIDs, dma-buf sync - is the library's.
 */
#ifndef VDMABUF_EXAMPLE_COMMON_H
#define VDMABUF_EXAMPLE_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* TAP output to a file (and nothing else); no file: only counted. */
struct tap {
	FILE *f;
	int n;
	int failed;
};

static inline int tap_open(struct tap *t, const char *path)
{
	t->n = 0;
	t->failed = 0;
	t->f = NULL;
	if (!path)
		return 0;
	t->f = fopen(path, "w");
	if (!t->f) {
		fprintf(stderr, "importer: open TAP file %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	fprintf(t->f, "TAP version 13\n");
	fflush(t->f);
	return 0;
}

static inline void __attribute__((format(printf, 3, 4)))
tap_result(struct tap *t, int ok, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	if (!ok)
		t->failed++;
	if (!t->f)
		return;
	fprintf(t->f, "%sok %d - ", ok ? "" : "not ", t->n);
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
	fflush(t->f);
}

static inline void __attribute__((format(printf, 2, 3)))
tap_diag(struct tap *t, const char *fmt, ...)
{
	va_list ap;

	if (!t->f)
		return;
	fputs("# ", t->f);
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
	fflush(t->f);
}

static inline void tap_close(struct tap *t)
{
	if (!t->f)
		return;
	fprintf(t->f, "1..%d\n", t->n);
	fclose(t->f);
	t->f = NULL;
}

#endif /* VDMABUF_EXAMPLE_COMMON_H */
