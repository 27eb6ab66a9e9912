/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * /dev/virtio-vdmabuf: the guest's userspace API of virtio-dmabuf.
 *
 * A guest program allocates or brings a dma-buf, exports it to the host
 * under a new UUID with metadata (see struct virtio_vdmabuf_image in
 * <linux/virtio_vdmabuf.h> for images), presents frames in it, and reads
 * FRAME_DONE and RELEASED events from the same file.  Every open file has
 * its own exports and events.
 *
 * The normative text is Documentation/userspace-api/vdmabuf.rst.
 */
#ifndef _UAPI_LINUX_VDMABUF_H
#define _UAPI_LINUX_VDMABUF_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* fd flags for ALLOC and anything else that returns a file descriptor */
#define VDMABUF_FD_CLOEXEC		(1U << 0)

/**
 * struct vdmabuf_alloc - VDMABUF_IOCTL_ALLOC argument
 * @size: in: bytes, a non-zero multiple of the page size, at most the
 *	module parameter max_alloc_mb
 * @flags: in: VDMABUF_FD_CLOEXEC
 * @fd: out: a dma-buf file descriptor, exported by this driver
 *
 * Allocates page-backed memory in the largest chunks the page allocator
 * gives (2 MiB, then 64 KiB, then 4 KiB), so that an export needs few ranges.
 */
struct vdmabuf_alloc {
	__u64 size;
	__u32 flags;
	__u32 fd;
};

/**
 * struct vdmabuf_export - VDMABUF_IOCTL_EXPORT argument
 * @fd: in: any dma-buf file descriptor that can be shared
 * @flags: in: must be zero
 * @meta_len: in: bytes of metadata at @meta_ptr (at most the device's
 *	max_meta_len)
 * @nr_ranges: out: the number of coalesced ranges sent to the device
 * @meta_ptr: in: user pointer to the metadata, as a __u64
 * @size: out: the buffer's size in bytes
 * @uuid: out: the buffer's new ID (a random, version 4 UUID)
 */
struct vdmabuf_export {
	__u32 fd;
	__u32 flags;
	__u32 meta_len;
	__u32 nr_ranges;
	__u64 meta_ptr;
	__u64 size;
	__u8 uuid[16];
};

/**
 * struct vdmabuf_unexport - VDMABUF_IOCTL_UNEXPORT argument
 * @uuid: in: a buffer this opener exported
 * @flags: in: must be zero
 * @padding: must be zero
 */
struct vdmabuf_unexport {
	__u8 uuid[16];
	__u32 flags;
	__u32 padding;
};

/**
 * struct vdmabuf_rect - a damaged rectangle in pixels
 * @x: left edge
 * @y: top edge
 * @width: width
 * @height: height
 */
struct vdmabuf_rect {
	__u32 x;
	__u32 y;
	__u32 width;
	__u32 height;
};

/**
 * struct vdmabuf_present - VDMABUF_IOCTL_PRESENT argument
 * @uuid: in: a live export of this opener
 * @seq: in: the frame's sequence number, echoed in its FRAME_DONE event
 * @nr_rects: in: damage rectangles at @rects_ptr (0: whole buffer)
 * @flags: in: must be zero
 * @rects_ptr: in: user pointer to struct vdmabuf_rect[@nr_rects], as a __u64
 */
struct vdmabuf_present {
	__u8 uuid[16];
	__u64 seq;
	__u32 nr_rects;
	__u32 flags;
	__u64 rects_ptr;
};

/* struct vdmabuf_query.state */
#define VDMABUF_STATE_EXPORTED		1	/* live on the device */
#define VDMABUF_STATE_UNEXPORTED	2	/* unexported, awaiting RELEASED */

/**
 * struct vdmabuf_query - VDMABUF_IOCTL_QUERY argument
 * @uuid: in: a buffer this opener exported and has not seen RELEASED for
 * @state: out: VDMABUF_STATE_*
 * @nr_ranges: out: ranges sent on EXPORT
 * @size: out: size in bytes
 * @frames_pending: out: PRESENTs not yet answered by FRAME_DONE
 * @padding: out: zero
 */
struct vdmabuf_query {
	__u8 uuid[16];
	__u32 state;
	__u32 nr_ranges;
	__u64 size;
	__u32 frames_pending;
	__u32 padding;
};

/**
 * struct vdmabuf_info - VDMABUF_IOCTL_INFO argument (all out)
 * @features: negotiated virtio feature bits
 * @max_ranges: device limit, from config space
 * @max_meta_len: device limit, from config space
 * @max_exports: device limit, from config space
 * @max_rects: device limit, from config space
 * @max_export_size: device limit, from config space
 * @max_total_size: device limit, from config space
 * @live_exports: this opener's exports not yet RELEASED
 * @live_bytes: their bytes
 * @alloc_bytes: bytes of memory in this opener's ALLOC buffers (until the
 *	last reference to each goes, also after the opener is closed)
 * @max_events: per-opener event queue cap (module parameter)
 * @queued_events: events queued for this opener, not yet read
 *
 * The counters are the caller's own: an opener learns nothing of the
 * others.  The device's totals over every opener are sysfs attributes of
 * the device (live_exports, live_bytes, alloc_bytes), readable by root.
 */
struct vdmabuf_info {
	__u64 features;
	__u32 max_ranges;
	__u32 max_meta_len;
	__u32 max_exports;
	__u32 max_rects;
	__u64 max_export_size;
	__u64 max_total_size;
	__u64 live_exports;
	__u64 live_bytes;
	__u64 alloc_bytes;
	__u32 max_events;
	__u32 queued_events;
};

#define VDMABUF_MAX_OUTPUTS	16	/* VIRTIO_VDMABUF_MAX_OUTPUTS */

/**
 * struct vdmabuf_output - one output of the host's display
 * @width: the preferred width in pixels; 0 if the device described the
 *	output out of bounds
 * @height: the preferred height in pixels; 0 likewise
 */
struct vdmabuf_output {
	__u32 width;
	__u32 height;
};

/**
 * struct vdmabuf_outputs - VDMABUF_IOCTL_OUTPUTS argument (all out)
 * @nr_outputs: the outputs of the host's display
 *	(0..VDMABUF_MAX_OUTPUTS); 0 when the host shows no images (no
 *	VIRTIO_VDMABUF_F_OUTPUTS in struct vdmabuf_info.features)
 * @generation: goes up each time the driver finds the outputs changed
 *	(the device said so, or they differ after a resume); poll()
 *	reports EPOLLPRI while it differs from the generation this file
 *	last got from VDMABUF_IOCTL_OUTPUTS (at first, from the one when
 *	it was opened)
 * @outputs: the first @nr_outputs entries describe the outputs, the
 *	others are zero.  An image meant for output N names N in the
 *	output field of its metadata (struct virtio_vdmabuf_image)
 */
struct vdmabuf_outputs {
	__u32 nr_outputs;
	__u32 generation;
	struct vdmabuf_output outputs[VDMABUF_MAX_OUTPUTS];
};

/* Event types (struct vdmabuf_event.type): the wire protocol's values */
#define VDMABUF_EVENT_RELEASED		1	/* VIRTIO_VDMABUF_EVT_RELEASED */
#define VDMABUF_EVENT_FRAME_DONE	2	/* VIRTIO_VDMABUF_EVT_FRAME_DONE */
/* FRAME_DONE: a later PRESENT of the same buffer replaced this frame. */
#define VDMABUF_EVENT_F_REPLACED	(1U << 0)
/*
 * FRAME_DONE: the frame was never shown.  Its PRESENT waited for the
 * buffer's write fences, and then the buffer was unexported or the device
 * refused the frame.  (Driver-made: the device's FRAME_DONE flags other
 * than VIRTIO_VDMABUF_EVT_F_REPLACED are not passed on.)
 */
#define VDMABUF_EVENT_F_DROPPED		(1U << 1)

/**
 * struct vdmabuf_event - one record read() from /dev/virtio-vdmabuf
 * @type: VDMABUF_EVENT_*
 * @flags: VDMABUF_EVENT_F_*
 * @uuid: the buffer
 * @seq: FRAME_DONE: the frame's sequence number; otherwise zero
 *
 * read() returns whole records only; a buffer smaller than one record
 * gets -EINVAL.  Events are never dropped: while a reader is max_events
 * behind, EXPORT and PRESENT fail with -ENOBUFS until it reads.
 */
struct vdmabuf_event {
	__u32 type;
	__u32 flags;
	__u8 uuid[16];
	__u64 seq;
};

/*
 * ioctl magic 0xB9, numbers 0x00-0x1f; see
 * Documentation/userspace-api/ioctl/ioctl-number.rst.
 */
#define VDMABUF_IOCTL_BASE		0xB9
#define VDMABUF_IOCTL_ALLOC	_IOWR(VDMABUF_IOCTL_BASE, 0x00, struct vdmabuf_alloc)
#define VDMABUF_IOCTL_EXPORT	_IOWR(VDMABUF_IOCTL_BASE, 0x01, struct vdmabuf_export)
#define VDMABUF_IOCTL_UNEXPORT	_IOW(VDMABUF_IOCTL_BASE, 0x02, struct vdmabuf_unexport)
#define VDMABUF_IOCTL_PRESENT	_IOW(VDMABUF_IOCTL_BASE, 0x03, struct vdmabuf_present)
#define VDMABUF_IOCTL_QUERY	_IOWR(VDMABUF_IOCTL_BASE, 0x04, struct vdmabuf_query)
#define VDMABUF_IOCTL_INFO	_IOR(VDMABUF_IOCTL_BASE, 0x05, struct vdmabuf_info)
#define VDMABUF_IOCTL_OUTPUTS	_IOR(VDMABUF_IOCTL_BASE, 0x06, struct vdmabuf_outputs)

#endif /* _UAPI_LINUX_VDMABUF_H */
