/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the guest-side (L2) vdmabuf test programs: the next event
 * read straight from a /dev/virtio-vdmabuf fd (guest_vdmabuf tests the raw
 * ioctls; the other programs use libvdmabuf), and a udmabuf made from a
 * sealed memfd (a foreign dma-buf to export).
 */
#ifndef VDMABUF_GUEST_COMMON_H
#define VDMABUF_GUEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/udmabuf.h>
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

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
