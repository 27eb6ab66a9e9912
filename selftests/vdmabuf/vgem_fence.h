/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vgem's fence ioctls (include/uapi/drm/vgem_drm.h; libdrm has no copy),
 * with which the tests stand in for a GPU still writing a buffer.  vgem
 * signals a fence by itself after 10 s.  Include after <drm.h>.
 */
#ifndef VDMABUF_VGEM_FENCE_H
#define VDMABUF_VGEM_FENCE_H

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

#endif /* VDMABUF_VGEM_FENCE_H */
