/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * virtio-dmabuf: share guest dma-bufs with the host, zero copy.
 *
 * This header holds two interfaces:
 *  - the virtio wire protocol of device ID VIRTIO_ID_DMABUF (37): config
 *    space, requests, responses and events, all little-endian;
 *  - the guest userspace API of /dev/virtio-vdmabuf.
 *
 * The normative text is Documentation/virtio-dmabuf.rst.
 */
#ifndef _UAPI_LINUX_VIRTIO_VDMABUF_H
#define _UAPI_LINUX_VIRTIO_VDMABUF_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/virtio_types.h>

#ifndef VIRTIO_ID_DMABUF
#define VIRTIO_ID_DMABUF		37
#endif

/* ---------------------------------------------------------------------- */
/* Wire protocol                                                          */
/* ---------------------------------------------------------------------- */

/* Virtqueues */
#define VIRTIO_VDMABUF_VQ_REQ		0	/* driver -> device requests */
#define VIRTIO_VDMABUF_VQ_EVENT		1	/* device -> driver events */
#define VIRTIO_VDMABUF_VQ_MAX		2

/* Feature bits */
/* PRESENT requests and FRAME_DONE events are supported. */
#define VIRTIO_VDMABUF_F_PRESENT	0

/* Granule of every address and length on the wire. */
#define VIRTIO_VDMABUF_PAGE_SIZE	4096

/* Hard upper bounds; a device advertises limits at or below these. */
#define VIRTIO_VDMABUF_MAX_RANGES	65536
#define VIRTIO_VDMABUF_MAX_META		4096
#define VIRTIO_VDMABUF_MAX_RECTS	64

/**
 * struct virtio_vdmabuf_config - device configuration space (read-only)
 * @max_ranges: most ranges one EXPORT may carry (1..VIRTIO_VDMABUF_MAX_RANGES)
 * @max_meta_len: most metadata bytes one EXPORT may carry
 *	(0..VIRTIO_VDMABUF_MAX_META)
 * @max_exports: most live exports the device holds for this driver
 * @max_rects: most damage rectangles one PRESENT may carry
 *	(0..VIRTIO_VDMABUF_MAX_RECTS; 0 without VIRTIO_VDMABUF_F_PRESENT)
 * @max_export_size: largest total size of one export, in bytes
 * @max_total_size: largest sum of the sizes of all live exports, in bytes
 *
 * The driver reads the limits once after feature negotiation and rejects
 * requests beyond them locally, so a producer fails early with a clear errno.
 * The device still checks every request against the same limits.
 */
struct virtio_vdmabuf_config {
	__le32 max_ranges;
	__le32 max_meta_len;
	__le32 max_exports;
	__le32 max_rects;
	__le64 max_export_size;
	__le64 max_total_size;
};

/* Request types (struct virtio_vdmabuf_req_hdr.type) */
#define VIRTIO_VDMABUF_REQ_EXPORT	1
#define VIRTIO_VDMABUF_REQ_UNEXPORT	2
#define VIRTIO_VDMABUF_REQ_PRESENT	3	/* needs VIRTIO_VDMABUF_F_PRESENT */

/**
 * struct virtio_vdmabuf_req_hdr - first bytes of every request
 * @type: VIRTIO_VDMABUF_REQ_*
 * @flags: must be zero
 * @uuid: the buffer's 128-bit ID, a version 4 UUID made by the driver
 */
struct virtio_vdmabuf_req_hdr {
	__le32 type;
	__le32 flags;
	__u8 uuid[16];
};

/**
 * struct virtio_vdmabuf_range - one contiguous run of guest-physical memory
 * @addr: guest-physical address, a multiple of VIRTIO_VDMABUF_PAGE_SIZE
 * @len: length in bytes, a non-zero multiple of VIRTIO_VDMABUF_PAGE_SIZE
 */
struct virtio_vdmabuf_range {
	__le64 addr;
	__le64 len;
};

/**
 * struct virtio_vdmabuf_export_req - EXPORT: share a buffer under a UUID
 * @hdr: type VIRTIO_VDMABUF_REQ_EXPORT, the new buffer's UUID
 * @size: total size in bytes; equals the sum of the ranges' lengths
 * @nr_ranges: number of ranges that follow (1..config.max_ranges)
 * @meta_len: bytes of opaque metadata after the ranges (0..config.max_meta_len)
 *
 * Followed in the device-readable part of the chain by @nr_ranges
 * struct virtio_vdmabuf_range, in buffer order, then @meta_len bytes of
 * metadata (for instance width, height, stride, fourcc and modifier) that
 * the device hands to host importers unchanged.
 */
struct virtio_vdmabuf_export_req {
	struct virtio_vdmabuf_req_hdr hdr;
	__le64 size;
	__le32 nr_ranges;
	__le32 meta_len;
};

/**
 * struct virtio_vdmabuf_rect - a damaged rectangle, in pixels
 * @x: left edge
 * @y: top edge
 * @width: width
 * @height: height
 */
struct virtio_vdmabuf_rect {
	__le32 x;
	__le32 y;
	__le32 width;
	__le32 height;
};

/**
 * struct virtio_vdmabuf_present_req - PRESENT: a new frame in a buffer
 * @hdr: type VIRTIO_VDMABUF_REQ_PRESENT, the UUID of a live export
 * @seq: the frame's sequence number, chosen by the driver, echoed in
 *	FRAME_DONE
 * @nr_rects: damage rectangles that follow (0..config.max_rects; 0 means
 *	the whole buffer)
 * @padding: must be zero
 *
 * Followed by @nr_rects struct virtio_vdmabuf_rect.
 */
struct virtio_vdmabuf_present_req {
	struct virtio_vdmabuf_req_hdr hdr;
	__le64 seq;
	__le32 nr_rects;
	__le32 padding;
};

/* Status codes (struct virtio_vdmabuf_resp.status) */
#define VIRTIO_VDMABUF_S_OK		0
#define VIRTIO_VDMABUF_S_INVALID	1	/* malformed request */
#define VIRTIO_VDMABUF_S_UNSUPPORTED	2	/* unknown type, feature not negotiated */
#define VIRTIO_VDMABUF_S_LIMIT		3	/* over an advertised limit */
#define VIRTIO_VDMABUF_S_EXISTS		4	/* UUID already exported */
#define VIRTIO_VDMABUF_S_NOENT		5	/* no live export by that UUID */
#define VIRTIO_VDMABUF_S_FAULT		6	/* a range is not guest RAM */
#define VIRTIO_VDMABUF_S_NOMEM		7	/* host out of memory or memlock */
#define VIRTIO_VDMABUF_S_BUSY		8	/* retry after reading events */

/**
 * struct virtio_vdmabuf_resp - the device-writable tail of every request
 * @status: VIRTIO_VDMABUF_S_*
 * @padding: written as zero
 */
struct virtio_vdmabuf_resp {
	__le32 status;
	__le32 padding;
};

/* Event types (struct virtio_vdmabuf_event.type) */
#define VIRTIO_VDMABUF_EVT_RELEASED	1
#define VIRTIO_VDMABUF_EVT_FRAME_DONE	2

/* Event flags */
/* FRAME_DONE: a later PRESENT of the same buffer replaced this frame. */
#define VIRTIO_VDMABUF_EVT_F_REPLACED	(1U << 0)

/**
 * struct virtio_vdmabuf_event - one event, device to driver
 * @type: VIRTIO_VDMABUF_EVT_*
 * @flags: VIRTIO_VDMABUF_EVT_F_*
 * @uuid: the buffer the event is about
 * @seq: FRAME_DONE: the @seq of the PRESENT it completes; otherwise zero
 *
 * RELEASED: the device holds no reference to the buffer's memory any more;
 * the driver may reuse or free it.  FRAME_DONE: every host user is done
 * with the frame presented under @seq; the producer may draw into the
 * buffer again.
 */
struct virtio_vdmabuf_event {
	__le32 type;
	__le32 flags;
	__u8 uuid[16];
	__le64 seq;
};

/* ---------------------------------------------------------------------- */
/* Guest userspace API: /dev/virtio-vdmabuf                               */
/* ---------------------------------------------------------------------- */

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
 * @live_exports: exports not yet RELEASED, all openers
 * @live_bytes: bytes held for exports not yet RELEASED, all openers
 * @alloc_bytes: bytes of memory in ALLOC buffers, all openers
 * @max_events: per-opener event queue cap (module parameter)
 * @queued_events: events queued for this opener, not yet read
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

/* Event types (struct vdmabuf_event.type), as on the wire */
#define VDMABUF_EVENT_RELEASED		VIRTIO_VDMABUF_EVT_RELEASED
#define VDMABUF_EVENT_FRAME_DONE	VIRTIO_VDMABUF_EVT_FRAME_DONE
#define VDMABUF_EVENT_F_REPLACED	VIRTIO_VDMABUF_EVT_F_REPLACED

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

#endif /* _UAPI_LINUX_VIRTIO_VDMABUF_H */
