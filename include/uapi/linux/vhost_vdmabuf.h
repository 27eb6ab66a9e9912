/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * vhost-vdmabuf: the host side of virtio-dmabuf.
 *
 * /dev/vhost-vdmabuf is opened by the VMM, once per device.  Besides the
 * standard vhost ioctls (VHOST_SET_OWNER, VHOST_GET/SET_FEATURES,
 * VHOST_SET_MEM_TABLE, VHOST_SET_VRING_*) it has the ioctls below.  The
 * importer fd it hands out is a capability: whoever holds one may follow
 * this VM's buffers and import them, and nothing else.
 *
 * The normative text is Documentation/virtio-dmabuf.rst.
 */
#ifndef _UAPI_LINUX_VHOST_VDMABUF_H
#define _UAPI_LINUX_VHOST_VDMABUF_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/virtio_vdmabuf.h>

/*
 * The ioctl magic of <linux/vhost.h>.  That header is not included here:
 * it pulls in <linux/virtio_ring.h>, which does not compile as C++, and an
 * importer (a compositor, say) needs none of it.  A VMM includes
 * <linux/vhost.h> itself for the standard vhost ioctls.
 */
#ifndef VHOST_VIRTIO
#define VHOST_VIRTIO 0xAF
#endif

/* fd flags for GET_IMPORTER and IMPORT */
#define VHOST_VDMABUF_FD_KEEP_ON_EXEC	(1U << 0)	/* clear O_CLOEXEC */

/**
 * struct vhost_vdmabuf_importer - VHOST_VDMABUF_GET_IMPORTER argument
 * @flags: in: VHOST_VDMABUF_FD_KEEP_ON_EXEC, else zero
 * @fd: out: a new importer file descriptor for this device
 */
struct vhost_vdmabuf_importer {
	__u32 flags;
	__u32 fd;
};

/**
 * struct vhost_vdmabuf_stats - VHOST_VDMABUF_GET_STATS argument (all out)
 * @live_exports: exports the guest has not unexported
 * @held_exports: exports still holding guest memory (live, or unexported
 *	but still imported on the host)
 * @pinned_pages: pages pinned for this device
 * @charged_pages: pages charged to the locked memory of the VMM's user,
 *	within its RLIMIT_MEMLOCK (none if the VMM has CAP_IPC_LOCK)
 * @host_dmabufs: host dma-bufs that exist for this device's exports
 * @importers: open importer fds
 * @guest_events: events waiting for event buffers from the guest
 * @requests: requests processed since open
 * @bad_requests: requests answered with a status other than OK
 * @pinned_attachments: pins of host dma-bufs not yet unpinned (one per
 *	static importer's attachment, such as a PRIME import; one per
 *	dynamic importer's dma_buf_pin(), and, on kernels without
 *	CONFIG_DMABUF_MOVE_NOTIFY, one per dynamic importer's mapping):
 *	device access that a reset cannot revoke, so
 *	VHOST_VDMABUF_RESET_DEVICE waits until none is left
 */
struct vhost_vdmabuf_stats {
	__u64 live_exports;
	__u64 held_exports;
	__u64 pinned_pages;
	__u64 charged_pages;
	__u64 host_dmabufs;
	__u64 importers;
	__u64 guest_events;
	__u64 requests;
	__u64 bad_requests;
	__u64 pinned_attachments;
};

/**
 * struct vhost_vdmabuf_limits - VHOST_VDMABUF_GET/SET_LIMITS argument
 * @flags: zero
 * @max_ranges: most ranges in one EXPORT (>= 1)
 * @max_meta_len: most metadata bytes in one EXPORT
 * @max_exports: most live exports (>= 1); as many unexported ones may
 *	stay held by host importers
 * @max_rects: most damage rectangles in one PRESENT
 * @max_export_mb: largest export in MiB (>= 1)
 * @max_total_mb: most MiB exported, and pinned, for the device (>= 1)
 * @max_importer_events: unread events per importer before EXPORT and
 *	PRESENT are answered BUSY (>= 16)
 * @max_guest_events: events waiting for the guest before PRESENT is
 *	answered BUSY (>= 16)
 * @padding: zero
 *
 * The device's limits.  A new device has the module parameters of the
 * same names; each parameter is also the ceiling of its field.  The first
 * six make the configuration space (VHOST_VDMABUF_GET_CONFIG).
 */
struct vhost_vdmabuf_limits {
	__u32 flags;
	__u32 max_ranges;
	__u32 max_meta_len;
	__u32 max_exports;
	__u32 max_rects;
	__u32 max_export_mb;
	__u32 max_total_mb;
	__u32 max_importer_events;
	__u32 max_guest_events;
	__u32 padding;
};

/*
 * ioctls on /dev/vhost-vdmabuf.  VHOST_VIRTIO numbers 0xd0-0xdf are this
 * driver's; see Documentation/userspace-api/ioctl/ioctl-number.rst.
 */

/* The configuration space, little-endian, exactly as the guest sees it. */
#define VHOST_VDMABUF_GET_CONFIG \
	_IOR(VHOST_VIRTIO, 0xd0, struct virtio_vdmabuf_config)
/*
 * 1: process the guest's queues; 0: stop processing them (a pause:
 * exports, imports and queued events stay).
 */
#define VHOST_VDMABUF_SET_RUNNING	_IOW(VHOST_VIRTIO, 0xd1, __u32)
#define VHOST_VDMABUF_GET_IMPORTER \
	_IOWR(VHOST_VIRTIO, 0xd2, struct vhost_vdmabuf_importer)
#define VHOST_VDMABUF_GET_STATS \
	_IOR(VHOST_VIRTIO, 0xd3, struct vhost_vdmabuf_stats)
/*
 * The device's limits.  Set them before the device is started; a reset
 * (RESET_DEVICE, VHOST_RESET_OWNER) keeps them and allows setting them again.
 */
#define VHOST_VDMABUF_GET_LIMITS \
	_IOR(VHOST_VIRTIO, 0xd4, struct vhost_vdmabuf_limits)
#define VHOST_VDMABUF_SET_LIMITS \
	_IOW(VHOST_VIRTIO, 0xd5, struct vhost_vdmabuf_limits)
/*
 * The guest reset the device: stop, drop every export and revoke host
 * access to the guest's memory (mmaps fault SIGBUS) before returning;
 * waits (killable) for pinned attachments to be let go.
 */
#define VHOST_VDMABUF_RESET_DEVICE	_IO(VHOST_VIRTIO, 0xd6)

/* ---------------------------------------------------------------------- */
/* Importer fd                                                            */
/* ---------------------------------------------------------------------- */

/**
 * struct vhost_vdmabuf_import - VHOST_VDMABUF_IMPORT argument
 * @uuid: in: a live export of this device
 * @flags: in: VHOST_VDMABUF_FD_KEEP_ON_EXEC, else zero
 * @fd: out: a dma-buf file descriptor (O_RDWR, O_CLOEXEC unless asked)
 * @size: out: the buffer's size in bytes
 *
 * Every import is a new dma-buf over the same pages: importing a UUID
 * twice gives two dma-bufs, each keeping the pages pinned until closed.
 */
struct vhost_vdmabuf_import {
	__u8 uuid[16];
	__u32 flags;
	__u32 fd;
	__u64 size;
};

/**
 * struct vhost_vdmabuf_frame_done - VHOST_VDMABUF_FRAME_DONE argument
 * @uuid: in: the buffer
 * @seq: in: the frame's sequence number from its PRESENTED event
 *
 * This importer is done with the frame.  Closing the importer fd counts
 * as done for every frame it has not answered.
 */
struct vhost_vdmabuf_frame_done {
	__u8 uuid[16];
	__u64 seq;
};

/* struct vhost_vdmabuf_query.state */
#define VHOST_VDMABUF_STATE_LIVE	1	/* exported by the guest */
#define VHOST_VDMABUF_STATE_UNEXPORTED	2	/* gone from the guest, still held */

/**
 * struct vhost_vdmabuf_query - VHOST_VDMABUF_QUERY argument
 * @uuid: in: the buffer
 * @meta_ptr: in: user pointer to a buffer for the metadata, as a __u64
 * @meta_size: in: bytes at @meta_ptr (0: do not copy metadata)
 * @meta_len: out: the metadata's length (copied if it fits in @meta_size)
 * @size: out: the buffer's size in bytes
 * @nr_ranges: out: ranges the guest sent
 * @state: out: VHOST_VDMABUF_STATE_*
 * @last_seq: out: sequence number of the newest PRESENT, 0 if none
 */
struct vhost_vdmabuf_query {
	__u8 uuid[16];
	__u64 meta_ptr;
	__u32 meta_size;
	__u32 meta_len;
	__u64 size;
	__u32 nr_ranges;
	__u32 state;
	__u64 last_seq;
};

/* Event types (struct vhost_vdmabuf_event.type) */
#define VHOST_VDMABUF_EVENT_EXPORTED	1	/* size, metadata */
#define VHOST_VDMABUF_EVENT_PRESENTED	2	/* seq, damage */
#define VHOST_VDMABUF_EVENT_UNEXPORTED	3

/**
 * struct vhost_vdmabuf_event - one record read() from an importer fd
 * @type: VHOST_VDMABUF_EVENT_*
 * @len: the record's total length in bytes, header included, a multiple
 *	of 8; the next record starts @len bytes after this one
 * @uuid: the buffer
 * @size: EXPORTED: the buffer's size in bytes
 * @seq: PRESENTED: the frame's sequence number
 * @payload_len: bytes of payload after the header: EXPORTED: metadata;
 *	PRESENTED: struct virtio_vdmabuf_rect[] (little-endian) damage
 * @flags: zero
 *
 * read() returns whole records only.  A buffer of
 * VHOST_VDMABUF_EVENT_MAX bytes always holds the next record; a smaller
 * one that cannot hold it gets -EINVAL.
 */
struct vhost_vdmabuf_event {
	__u32 type;
	__u32 len;
	__u8 uuid[16];
	__u64 size;
	__u64 seq;
	__u32 payload_len;
	__u32 flags;
};

#define VHOST_VDMABUF_EVENT_MAX \
	(sizeof(struct vhost_vdmabuf_event) + VIRTIO_VDMABUF_MAX_META)

#define VHOST_VDMABUF_IMPORT \
	_IOWR(VHOST_VIRTIO, 0xd8, struct vhost_vdmabuf_import)
#define VHOST_VDMABUF_FRAME_DONE \
	_IOW(VHOST_VIRTIO, 0xd9, struct vhost_vdmabuf_frame_done)
#define VHOST_VDMABUF_QUERY \
	_IOWR(VHOST_VIRTIO, 0xda, struct vhost_vdmabuf_query)

#endif /* _UAPI_LINUX_VHOST_VDMABUF_H */
