/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the guest-side (L2) vdmabuf test programs: the next event
 * read straight from a /dev/virtio-vdmabuf fd and the raw ioctls
 * (guest_vdmabuf and guest_faults test those; the other programs use
 * libvdmabuf), a udmabuf made from a sealed memfd (a foreign dma-buf
 * to export), and a value of /proc/meminfo.
 */
#ifndef VDMABUF_GUEST_COMMON_H
#define VDMABUF_GUEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/udmabuf.h>
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

/* @key's value in /proc/meminfo ("MemFree:", in kB), or -1 */
static inline long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    sscanf(line + strlen(key), " %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The next event on @dev within @ms: 0, -ETIMEDOUT or -errno. */
static inline int next_event(int dev, struct vdmabuf_event *ev, int ms)
{
	struct pollfd p = { .fd = dev, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&p, 1, ms);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	n = read(dev, ev, sizeof(*ev));
	if (n < 0)
		return -errno;
	return n == sizeof(*ev) ? 0 : -EIO;
}

/*
 * In a kselftest: skip, unless the test has failed already (SKIP() would
 * hide that failure).  Then, either way, @statement.
 */
#define SKIP_UNLESS_FAILED(statement, fmt, ...) do {			\
	if (_metadata->exit_code == KSFT_PASS)				\
		SKIP(statement, fmt, ##__VA_ARGS__);			\
	statement;							\
} while (0)

/* How long the raw-ioctl helpers wait for an event: nested TCG is slow. */
#define VD_EVT_TIMEOUT_MS	10000

/*
 * In a kselftest: the next event on @dev, within VD_EVT_TIMEOUT_MS, is a
 * FRAME_DONE of sequence number @want_seq with @want_flags.
 */
#define EXPECT_FRAME_DONE(dev, want_seq, want_flags) do {				\
	struct vdmabuf_event __fd_ev;					\
									\
	ASSERT_EQ(0, next_event((dev), &__fd_ev, VD_EVT_TIMEOUT_MS));	\
	EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, __fd_ev.type);		\
	EXPECT_EQ((want_seq), __fd_ev.seq);				\
	EXPECT_EQ((want_flags), __fd_ev.flags);				\
} while (0)

/* The raw ioctls, each returning 0 (ALLOC: the fd) or -errno. */
static inline int vd_alloc(int dev, __u64 size, __u32 flags)
{
	struct vdmabuf_alloc a = { .size = size, .flags = flags };

	if (ioctl(dev, VDMABUF_IOCTL_ALLOC, &a))
		return -errno;
	return a.fd;
}

static inline int vd_export(int dev, int fd, struct vdmabuf_export *e)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	return ioctl(dev, VDMABUF_IOCTL_EXPORT, e) ? -errno : 0;
}

static inline int vd_unexport(int dev, const __u8 *uuid)
{
	struct vdmabuf_unexport u = {};

	memcpy(u.uuid, uuid, 16);
	return ioctl(dev, VDMABUF_IOCTL_UNEXPORT, &u) ? -errno : 0;
}

static inline int vd_info(int dev, struct vdmabuf_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(dev, VDMABUF_IOCTL_INFO, info) ? -errno : 0;
}

static inline int vd_query(int dev, const __u8 *uuid, struct vdmabuf_query *q)
{
	memset(q, 0, sizeof(*q));
	memcpy(q->uuid, uuid, 16);
	return ioctl(dev, VDMABUF_IOCTL_QUERY, q) ? -errno : 0;
}

/* Wait until the device released @uuid (the next event must say so). */
static inline int wait_released(int dev, const __u8 *uuid)
{
	struct vdmabuf_event ev;
	int r = next_event(dev, &ev, VD_EVT_TIMEOUT_MS);

	if (r)
		return r;
	if (ev.type != VDMABUF_EVENT_RELEASED || memcmp(ev.uuid, uuid, 16))
		return -EPROTO;
	return 0;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The total @name over every opener of the device whose node is @dev_path
 * (/dev/virtio-vdmabuf, /dev/virtio-vdmabuf1, ...), which INFO does not
 * give (it reports the caller's own): a sysfs attribute of the device,
 * root only.  -errno if it cannot be read.
 */
static inline long long vd_dev_total(const char *dev_path, const char *name)
{
	const char *node = strrchr(dev_path, '/');
	char path[160], text[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device/%s",
		 node ? node + 1 : dev_path, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = 0;
	return strtoll(text, NULL, 10);
}

/* Poll vd_dev_total() until it is @want; 0 or -ETIMEDOUT. */
static inline int vd_wait_total(const char *dev_path, const char *name,
				long long want, int seconds)
{
	double end = now_s() + seconds;

	do {
		if (vd_dev_total(dev_path, name) == want)
			return 0;
		usleep(20000);
	} while (now_s() < end);
	return -ETIMEDOUT;
}

/*
 * A dma-buf of @size bytes from /dev/udmabuf over a memfd sealed against
 * shrinking: the fd, -ENOENT without /dev/udmabuf, or -errno.
 */
static inline int udmabuf_dmabuf(size_t size)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
	int memfd, dev, fd;

	memfd = memfd_create("vdmabuf-test", MFD_ALLOW_SEALING);
	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, size) || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(memfd);
		return -errno;
	}
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		close(memfd);
		return -ENOENT;
	}
	c.memfd = memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	if (fd < 0)
		fd = -errno;
	close(dev);
	close(memfd);
	return fd;
}

#endif /* VDMABUF_GUEST_COMMON_H */
