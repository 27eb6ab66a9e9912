// SPDX-License-Identifier: MIT
/*
 * libvdmabuf: the guest device, /dev/virtio-vdmabuf.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Events taken per read(). */
#define DEV_EV_BATCH	64

struct vdmabuf_dev {
	int fd;
	/* What the last read() returned, and how much of it was handed out. */
	uint32_t nr_ev;
	uint32_t next_ev;
	struct vdmabuf_event ev[DEV_EV_BATCH];
};

VDMABUF_EXPORT int vdmabuf_dev_open(const char *path, struct vdmabuf_dev **devp)
{
	struct vdmabuf_dev *dev;
	int fd;

	if (!devp)
		return -EINVAL;
	*devp = NULL;
	if (!path)
		path = VDMABUF_DEV_PATH;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	/* Non-blocking: next_event() waits with poll(). */
	do {
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int err = -errno;

		free(dev);
		return err;
	}
	dev->fd = fd;
	*devp = dev;
	return 0;
}

VDMABUF_EXPORT void vdmabuf_dev_close(struct vdmabuf_dev *dev)
{
	if (!dev)
		return;
	close(dev->fd);
	free(dev);
}

VDMABUF_EXPORT int vdmabuf_dev_fd(const struct vdmabuf_dev *dev)
{
	return dev ? dev->fd : -EINVAL;
}

VDMABUF_EXPORT int vdmabuf_dev_info(struct vdmabuf_dev *dev,
				    struct vdmabuf_info *info)
{
	int ret;

	if (!dev || !info)
		return -EINVAL;
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_INFO, info);
	return ret < 0 ? ret : 0;
}

VDMABUF_EXPORT int vdmabuf_dev_outputs(struct vdmabuf_dev *dev,
				       struct vdmabuf_outputs *outs)
{
	int ret;

	if (!dev || !outs)
		return -EINVAL;
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_OUTPUTS, outs);
	return ret < 0 ? ret : 0;
}

VDMABUF_EXPORT int vdmabuf_dev_alloc(struct vdmabuf_dev *dev, uint64_t size)
{
	struct vdmabuf_alloc a = { .size = size, .flags = VDMABUF_FD_CLOEXEC };
	int ret;

	if (!dev)
		return -EINVAL;
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_ALLOC, &a);
	if (ret < 0)
		return ret;
	return (int)a.fd;
}

VDMABUF_EXPORT int vdmabuf_dev_export(struct vdmabuf_dev *dev, int dmabuf_fd,
				      const void *meta, uint32_t meta_len,
				      struct vdmabuf_exported *out)
{
	struct vdmabuf_export e = {
		.fd = (uint32_t)dmabuf_fd,
		.meta_len = meta_len,
		.meta_ptr = (uint64_t)(uintptr_t)meta,
	};
	int ret;

	if (!dev || dmabuf_fd < 0 || (!meta && meta_len))
		return -EINVAL;
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_EXPORT, &e);
	if (ret < 0)
		return ret;
	if (out) {
		memset(out, 0, sizeof(*out));
		memcpy(out->uuid.b, e.uuid, sizeof(out->uuid.b));
		out->size = e.size;
		out->nr_ranges = e.nr_ranges;
	}
	return 0;
}

VDMABUF_EXPORT int vdmabuf_dev_export_image(struct vdmabuf_dev *dev,
					    int dmabuf_fd,
					    const struct vdmabuf_image *img,
					    struct vdmabuf_exported *out)
{
	struct virtio_vdmabuf_image wire;
	off_t size;
	int ret;

	if (!dev || dmabuf_fd < 0 || !img)
		return -EINVAL;
	/* A dma-buf's size is where SEEK_END lands. */
	size = lseek(dmabuf_fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	if (size == 0)
		return -EINVAL;
	/* Not checkable (tiled, unknown format) is still exportable. */
	ret = vdmabuf_image_validate(img, (uint64_t)size);
	if (ret && ret != -ENOTSUP)
		return ret;
	ret = vdmabuf_image_encode(img, &wire);
	if (ret)
		return ret;
	return vdmabuf_dev_export(dev, dmabuf_fd, &wire, sizeof(wire), out);
}

VDMABUF_EXPORT int vdmabuf_dev_unexport(struct vdmabuf_dev *dev,
					const struct vdmabuf_uuid *uuid)
{
	struct vdmabuf_unexport u = { 0 };
	int ret;

	if (!dev || !uuid)
		return -EINVAL;
	memcpy(u.uuid, uuid->b, sizeof(u.uuid));
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_UNEXPORT, &u);
	return ret < 0 ? ret : 0;
}

VDMABUF_EXPORT int vdmabuf_dev_present(struct vdmabuf_dev *dev,
				       const struct vdmabuf_uuid *uuid,
				       uint64_t seq,
				       const struct vdmabuf_rect *rects,
				       uint32_t nr_rects)
{
	struct vdmabuf_present p = {
		.seq = seq,
		.nr_rects = nr_rects,
		.rects_ptr = (uint64_t)(uintptr_t)rects,
	};
	int ret;

	if (!dev || !uuid || (!rects && nr_rects))
		return -EINVAL;
	memcpy(p.uuid, uuid->b, sizeof(p.uuid));
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_PRESENT, &p);
	return ret < 0 ? ret : 0;
}

VDMABUF_EXPORT int vdmabuf_dev_query(struct vdmabuf_dev *dev,
				     const struct vdmabuf_uuid *uuid,
				     struct vdmabuf_query *q)
{
	struct vdmabuf_query arg = { 0 };
	int ret;

	if (!dev || !uuid || !q)
		return -EINVAL;
	memcpy(arg.uuid, uuid->b, sizeof(arg.uuid));
	ret = vdb_ioctl(dev->fd, VDMABUF_IOCTL_QUERY, &arg);
	if (ret < 0)
		return ret;
	*q = arg;
	return 0;
}

VDMABUF_EXPORT int vdmabuf_dev_next_event(struct vdmabuf_dev *dev,
					  struct vdmabuf_event *ev,
					  int timeout_ms)
{
	int64_t deadline;

	if (!dev || !ev)
		return -EINVAL;
	deadline = vdb_deadline(timeout_ms);
	for (;;) {
		ssize_t n;
		int ret;

		if (dev->next_ev < dev->nr_ev) {
			*ev = dev->ev[dev->next_ev++];
			return 0;
		}
		dev->nr_ev = 0;
		dev->next_ev = 0;
		n = read(dev->fd, dev->ev, sizeof(dev->ev));
		if (n > 0) {
			/* The driver returns whole records only. */
			if (n % sizeof(dev->ev[0]))
				return -EIO;
			dev->nr_ev = (uint32_t)(n / sizeof(dev->ev[0]));
			continue;
		}
		if (n == 0)
			return -ENODEV;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = vdb_wait_fd(dev->fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
}
