/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the example programs share besides libvdmabuf: monotonic time, and
 * for the host programs TAP written to a file (the test bed runs them in
 * the background and collects it) and the loop that takes every queued
 * event.  Everything vdmabuf itself does -
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

#include <vdmabuf/vdmabuf.h>

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

/**
 * importer_drain() - handle every event an importer has queued
 * @imp: the importer
 * @prog: the program's name, for the message on a failure
 * @fn: called for each event; a non-zero return stops the drain
 * @ctx: for @fn
 *
 * What a main loop does when the importer fd is readable: take events
 * until none is left (one read() brings many).
 *
 * Return: 0 when the queue is empty, -ENODEV when the VM's device is gone,
 * what @fn returned if not 0, another negative errno (with a message) on
 * a failure.
 */
static inline int
importer_drain(struct vdmabuf_importer *imp, const char *prog,
	       int (*fn)(void *ctx, const struct vdmabuf_host_event *ev),
	       void *ctx)
{
	struct vdmabuf_host_event ev;
	int ret;

	for (;;) {
		ret = vdmabuf_importer_next_event(imp, &ev, 0);
		if (ret == -EAGAIN)
			return 0;
		if (ret == -ENODEV)
			return ret;
		if (ret) {
			fprintf(stderr, "%s: reading events: %s\n", prog,
				strerror(-ret));
			return ret;
		}
		ret = fn(ctx, &ev);
		if (ret)
			return ret;
	}
}

#endif /* VDMABUF_EXAMPLE_COMMON_H */
