/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-tree compatibility: the only place that knows about kernel
 * versions.  The driver sources are written against mainline; this header
 * is force-included by the top-level Kbuild when building out of tree.
 *
 * Each block includes the kernel header that declares what it stands in
 * for before it defines anything, so that no macro here renames a kernel
 * declaration.  A name the kernel has renamed, with the same meaning, is
 * kept in the sources and mapped to its new name here for the kernels
 * that renamed it.  Built: Linux 6.1 (Debian 12), 6.12 and the newest
 * Debian ships, 7.3 (scripts/testbed/matrix.sh); run: 6.12.
 */
#ifndef _VDMABUF_COMPAT_H
#define _VDMABUF_COMPAT_H

#include <linux/version.h>
#include <linux/module.h>

/*
 * Linux 6.13 (commit cdd30ebb1b9f, "module: Convert symbol namespace to
 * string literal") made the namespace argument a string literal.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#undef MODULE_IMPORT_NS
#define MODULE_IMPORT_NS(ns)	MODULE_INFO(import_ns, ns)
#endif

/*
 * Linux 6.3 made vma->vm_flags read-only outside helpers such as
 * vm_flags_set(); before, the flags are set directly.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#include <linux/mm.h>
static inline void vdmabuf_compat_vm_flags_set(struct vm_area_struct *vma,
					       vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

#define vm_flags_set vdmabuf_compat_vm_flags_set
#endif

/*
 * Linux 6.5 dropped the vmas argument of pin_user_pages_remote().  A
 * macro of the function's own name is not expanded again inside itself.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#include <linux/mm.h>
#define pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages, locked) \
	pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages, NULL, \
			      locked)
#endif

/*
 * Linux 6.5 gave each virtqueue a vhost worker of its own and queues work
 * on it (vhost_vq_work_queue()); before, on the device's one worker.  The
 * driver ignores the result, and never asks for more than one worker.
 * vhost.h, which declares it, comes later: the macro renames nothing.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define vhost_vq_work_queue(vq, work)	vhost_work_queue((vq)->dev, (work))
#endif

/* kvmemdup(), kmemdup() into kvmalloc() memory, came in Linux 6.3 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#include <linux/slab.h>
#include <linux/string.h>
static inline void *vdmabuf_compat_kvmemdup(const void *src, size_t len,
					    gfp_t gfp)
{
	void *p = kvmalloc(len, gfp);

	if (p)
		memcpy(p, src, len);
	return p;
}

#define kvmemdup vdmabuf_compat_kvmemdup
#endif

/*
 * Linux 6.11 made virtio_find_vqs() take each queue's name and callback
 * in one array of struct virtqueue_info; before, in two arrays.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#include <linux/virtio_config.h>
struct virtqueue_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};

#define VDMABUF_COMPAT_MAX_VQS	4
static inline int vdmabuf_compat_find_vqs(struct virtio_device *vdev,
					  unsigned int nvqs,
					  struct virtqueue *vqs[],
					  struct virtqueue_info vqs_info[],
					  struct irq_affinity *desc)
{
	vq_callback_t *callbacks[VDMABUF_COMPAT_MAX_VQS];
	const char *names[VDMABUF_COMPAT_MAX_VQS];
	unsigned int i;

	if (WARN_ON_ONCE(nvqs > VDMABUF_COMPAT_MAX_VQS))
		return -EINVAL;
	for (i = 0; i < nvqs; i++) {
		callbacks[i] = vqs_info[i].callback;
		names[i] = vqs_info[i].name;
	}
	return virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, desc);
}

#define virtio_find_vqs vdmabuf_compat_find_vqs
#endif

/*
 * Linux 7.1 renamed dma-buf's move notification: the exporter's
 * dma_buf_move_notify() became dma_buf_invalidate_mappings(), with the
 * same meaning for the host module's revoke, and the importer's
 * dma_buf_attach_ops.move_notify became .invalidate_mappings, with a
 * stronger one: an importer that has it promises to unmap within bounded
 * time (dma_buf_attach_revocable()), which the guest driver's pinned
 * attachment never does.  So from 7.1 the guest driver gives no callback,
 * which 7.1 allows (before, dma_buf_dynamic_attach() required one).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 1, 0)
#include <linux/dma-buf.h>
#define dma_buf_move_notify	dma_buf_invalidate_mappings
#define VDMABUF_COMPAT_MOVE_NOTIFY(fn)
#else
#define VDMABUF_COMPAT_MOVE_NOTIFY(fn)	.move_notify = (fn),
#endif

/*
 * Linux 6.13 added hrtimer_setup(), which sets the callback with the
 * rest; Linux 6.15 removed hrtimer_init() ("hrtimers: Delete
 * hrtimer_init()").  Before 6.13, the callback is set by hand.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#include <linux/hrtimer.h>
static inline void
vdmabuf_compat_hrtimer_setup(struct hrtimer *timer,
			     enum hrtimer_restart (*function)(struct hrtimer *),
			     clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}

#define hrtimer_setup vdmabuf_compat_hrtimer_setup
#endif

/*
 * The vdmabuf KMS driver's.  Macros of names Linux 6.1 does not have, so
 * they rename nothing, and need no DRM header here.
 *
 * Linux 6.11 added drm_crtc_vblank_crtc() ("drm/vblank: add dedicated
 * getter for struct drm_vblank_crtc"); before, drivers indexed
 * dev->vblank themselves.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#define drm_crtc_vblank_crtc(crtc) \
	(&(crtc)->dev->vblank[drm_crtc_index(crtc)])
#endif

/*
 * Linux 6.2 replaced drm_atomic_helper_check_crtc_state() by
 * drm_atomic_helper_check_crtc_primary_plane(), its primary-plane check.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define drm_atomic_helper_check_crtc_primary_plane(crtc_state) \
	drm_atomic_helper_check_crtc_state((crtc_state), false)
#endif

/*
 * Linux 6.14 dropped the date every DRM driver had to give before ("drm:
 * remove driver date from struct drm_driver and all drivers"); the
 * vdmabuf KMS driver names one only where it is still read.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
#define VDMABUF_COMPAT_DRM_DATE(d)	.date = (d),
#else
#define VDMABUF_COMPAT_DRM_DATE(d)
#endif

/*
 * Linux 6.17 ("drm: Pass the format info to .fb_create()") gave
 * drm_mode_config_funcs.fb_create the format info the core looked up, and
 * drm_gem_fb_init_with_funcs() takes it (as its fourth argument) instead
 * of looking it up again.  The KMS driver's fb_create declares the
 * parameter with VDMABUF_COMPAT_FB_INFO(info) and passes it on; before
 * 6.17 there is no such parameter, and the macro below drops the
 * argument, a macro of the function's own name.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define VDMABUF_COMPAT_FB_INFO(info)	const struct drm_format_info *info,
#else
#define VDMABUF_COMPAT_FB_INFO(info)
#include <drm/drm_gem_framebuffer_helper.h>
#define drm_gem_fb_init_with_funcs(dev, fb, file, info, mode_cmd, funcs) \
	drm_gem_fb_init_with_funcs(dev, fb, file, mode_cmd, funcs)
#endif

/*
 * Linux 7.2 renamed struct drm_atomic_state, the state of one atomic
 * commit, to struct drm_atomic_commit ("drm: Rename struct
 * drm_atomic_state to drm_atomic_commit"), in the DRM atomic helpers,
 * the plane and CRTC helper vtables and atomic_commit_tail alike; the
 * KMS driver keeps the old name.  The kernel's headers have no token of
 * that name any more: the macro renames nothing of theirs, and needs no
 * DRM header here.  It covers the struct only: the KMS driver calls none
 * of the functions renamed with it (drm_atomic_state_alloc(), _put(),
 * _clear()).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
#define drm_atomic_state	drm_atomic_commit
#endif

#endif /* _VDMABUF_COMPAT_H */
