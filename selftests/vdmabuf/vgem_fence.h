/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vgem's fence ioctls (include/uapi/drm/vgem_drm.h; libdrm has no copy),
 * with which the tests stand in for a GPU still writing a buffer, and
 * vgem's dumb buffers as dma-bufs.  vgem signals a fence by itself after
 * 10 s.  Include after <drm.h>.
 */
#ifndef VDMABUF_VGEM_FENCE_H
#define VDMABUF_VGEM_FENCE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#ifndef DRM_IOCTL_VGEM_FENCE_ATTACH
struct drm_vgem_fence_attach {
	__u32 handle;
	__u32 flags;
#define VGEM_FENCE_WRITE	0x1
	__u32 out_fence;
	__u32 pad;
};

struct drm_vgem_fence_signal {
	__u32 fence;
	__u32 flags;
};

#define DRM_IOCTL_VGEM_FENCE_ATTACH \
	DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL \
	DRM_IOW(DRM_COMMAND_BASE + 0x2, struct drm_vgem_fence_signal)
#endif

/* vgem's card, opened; -ENOENT if vgem is not loaded. */
static inline int vgem_open(void)
{
	char path[32], name[16];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* A dumb buffer of vgem's @card as a dma-buf fd (its handle in @handle). */
static inline int vgem_dmabuf(int card, __u32 w, __u32 h, __u32 *handle)
{
	struct drm_mode_create_dumb c = { .width = w, .height = h, .bpp = 32 };
	struct drm_prime_handle p = {};

	if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -errno;
	p.handle = c.handle;
	p.flags = DRM_CLOEXEC | DRM_RDWR;
	if (ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p))
		return -errno;
	if (handle)
		*handle = c.handle;
	return p.fd;
}

/*
 * vgem signals a fence by itself 10 s after it was attached: a test that
 * saw this much time go by cannot tell a frame that waited for its fence
 * from one that vgem's timeout let through.
 */
#define VGEM_FENCE_LIFE_S	9.5

/*
 * An unsignalled write fence on vgem buffer @handle, as a GPU still
 * drawing: its id in @fence; 0 or -errno (-EBUSY: a fence of the buffer,
 * of any use, has not signalled).
 */
static inline int vgem_write_fence(int card, __u32 handle, __u32 *fence)
{
	struct drm_vgem_fence_attach fa = {
		.handle = handle, .flags = VGEM_FENCE_WRITE,
	};

	if (ioctl(card, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa))
		return -errno;
	*fence = fa.out_fence;
	return 0;
}

/* Signal @fence: 0, -ETIMEDOUT if vgem did already (10 s on), -errno. */
static inline int vgem_signal(int card, __u32 fence)
{
	struct drm_vgem_fence_signal fs = { .fence = fence };

	return ioctl(card, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs) ? -errno : 0;
}

#endif /* VDMABUF_VGEM_FENCE_H */
