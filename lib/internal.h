/* SPDX-License-Identifier: MIT */
/*
 * libvdmabuf internals: the export macro, deadlines, retry helpers.
 * Everything here is static: the archive exports nothing else.
 */
#ifndef VDMABUF_LIB_INTERNAL_H
#define VDMABUF_LIB_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>

#include <vdmabuf/vdmabuf.h>

#define VDMABUF_EXPORT	__attribute__((visibility("default")))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Header of an importer event record. */
#define VDB_EV_HDR_LEN	((uint32_t)sizeof(struct vhost_vdmabuf_event))

/* A point on CLOCK_MONOTONIC in ms, or VDB_FOREVER. */
#define VDB_FOREVER	INT64_MIN

static inline int64_t vdb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline @timeout_ms from now (negative: none). */
static inline int64_t vdb_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return VDB_FOREVER;
	return vdb_now_ms() + timeout_ms;
}

/* Milliseconds left until @deadline for poll(): -1 for none, >= 0. */
static inline int vdb_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline == VDB_FOREVER)
		return -1;
	left = deadline - vdb_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Wait until @fd reports one of @events or @deadline passes: 0 when it
 * is ready (or has an error or hangup to report), -EAGAIN on timeout,
 * or a negative errno.  EINTR is retried with the time left.
 */
static inline int vdb_wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ret = poll(&p, 1, vdb_remaining(deadline));

		if (ret > 0) {
			if (p.revents & POLLNVAL)
				return -EBADF;
			return 0;
		}
		if (ret == 0)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
}

/* Set O_NONBLOCK on @fd. */
static inline int vdb_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (fl & O_NONBLOCK)
		return 0;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ioctl() retried on EINTR: its result, or a negative errno. */
static inline int vdb_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

#endif /* VDMABUF_LIB_INTERNAL_H */
