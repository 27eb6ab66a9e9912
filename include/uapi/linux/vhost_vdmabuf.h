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
 * @max_importers: most importer files open at once; one more
 *	VHOST_VDMABUF_GET_IMPORTER fails with EUSERS.  0 in SET_LIMITS
 *	means the module parameter (the field was padding before), which
 *	GET_LIMITS then returns
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
	__u32 max_importers;
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
 * Importing also joins the buffer's frames (VHOST_VDMABUF_FRAMES_JOIN).
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
 * @frame: in: the frame number of its PRESENTED event (not the guest's
 *	sequence number, which the guest may reuse)
 * @flags: in: zero
 * @padding: in: zero
 *
 * This importer is done with the frame.  Closing the importer fd counts
 * as done for every frame it has not answered.  EINVAL if @frame is 0 or
 * newer than any frame number the device has given.
 */
struct vhost_vdmabuf_frame_done {
	__u8 uuid[16];
	__u64 frame;
	__u32 flags;
	__u32 padding;
};

/**
 * struct vhost_vdmabuf_frames - VHOST_VDMABUF_FRAMES argument
 * @uuid: in: a live export of this device; zero with
 *	VHOST_VDMABUF_FRAMES_F_ALL
 * @op: in: VHOST_VDMABUF_FRAMES_JOIN or VHOST_VDMABUF_FRAMES_LEAVE
 * @flags: in: VHOST_VDMABUF_FRAMES_F_ALL, else zero
 *
 * JOIN: this importer takes part in the buffer's frames: every later
 * PRESENTED of it has VHOST_VDMABUF_EVENT_F_OWED and owes a FRAME_DONE.
 * IMPORT joins too.  LEAVE: it no longer does; a frame it owes counts as
 * done.  With VHOST_VDMABUF_FRAMES_F_ALL, JOIN takes part in the frames
 * of every buffer, those exported later included (for an importer that
 * must hold the first frame of a buffer it has not imported yet), and
 * LEAVE in those of none; while it is joined to all, LEAVE of one buffer
 * answers the frame owed now, and the next one is owed again.  An
 * importer that never joins or imports only watches: it reads every
 * event and owes nothing.
 */
struct vhost_vdmabuf_frames {
	__u8 uuid[16];
	__u32 op;
	__u32 flags;
};

#define VHOST_VDMABUF_FRAMES_JOIN	1
#define VHOST_VDMABUF_FRAMES_LEAVE	2

/* struct vhost_vdmabuf_frames.flags */
#define VHOST_VDMABUF_FRAMES_F_ALL	(1U << 0)	/* every buffer */

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
 * @last_seq: out: the guest's sequence number of the newest PRESENT, 0 if
 *	none
 * @last_frame: out: the frame number of the newest PRESENT, 0 if none
 * @flags: in: zero
 * @padding: in: zero
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
	__u64 last_frame;
	__u32 flags;
	__u32 padding;
};

/* Event types (struct vhost_vdmabuf_event.type) */
#define VHOST_VDMABUF_EVENT_EXPORTED	1	/* size, metadata */
#define VHOST_VDMABUF_EVENT_PRESENTED	2	/* seq, frame, damage */
#define VHOST_VDMABUF_EVENT_UNEXPORTED	3

/* struct vhost_vdmabuf_event.flags */
#define VHOST_VDMABUF_EVENT_F_OWED	(1U << 0)	/* PRESENTED: answer it */

/**
 * struct vhost_vdmabuf_rect - a damage rectangle of a PRESENTED event
 * @x: left edge, in pixels
 * @y: top edge
 * @width: width
 * @height: height
 *
 * The guest's struct virtio_vdmabuf_rect, converted to host byte order.
 */
struct vhost_vdmabuf_rect {
	__u32 x;
	__u32 y;
	__u32 width;
	__u32 height;
};

/**
 * struct vhost_vdmabuf_event - one record read() from an importer fd
 * @type: VHOST_VDMABUF_EVENT_*
 * @len: the record's total length in bytes, header included, a multiple
 *	of 8; the next record starts @len bytes after this one
 * @uuid: the buffer
 * @size: EXPORTED: the buffer's size in bytes
 * @seq: PRESENTED: the guest's sequence number of the frame
 * @payload_len: bytes of payload after the header: EXPORTED: the guest's
 *	metadata, as the guest sent it; PRESENTED: struct
 *	vhost_vdmabuf_rect[] damage
 * @flags: PRESENTED: VHOST_VDMABUF_EVENT_F_OWED if this importer owes a
 *	FRAME_DONE for the frame; otherwise zero
 * @frame: PRESENTED: the frame number, for FRAME_DONE; the device numbers
 *	the frames of all its buffers from 1 up and never reuses a number
 * @nr_frames: PRESENTED: frames this record stands for: a PRESENTED not
 *	yet read when the buffer's next frame comes is replaced by the new
 *	one, with the damage of both, and the count goes up
 * @padding: zero
 *
 * Everything the device writes is in host byte order; only the metadata,
 * the guest's own bytes, is passed on as it came (the image metadata of
 * <linux/virtio_vdmabuf.h> is little-endian).
 *
 * read() returns whole records only.  A buffer of
 * VHOST_VDMABUF_EVENT_MAX bytes always holds the next record; a smaller
 * one that cannot hold it gets -EINVAL.  Once the VMM has closed
 * /dev/vhost-vdmabuf and every queued record has been read, read()
 * returns 0 (end of file) and poll() reports EPOLLHUP.
 */
struct vhost_vdmabuf_event {
	__u32 type;
	__u32 len;
	__u8 uuid[16];
	__u64 size;
	__u64 seq;
	__u32 payload_len;
	__u32 flags;
	__u64 frame;
	__u32 nr_frames;
	__u32 padding;
};

#define VHOST_VDMABUF_EVENT_MAX \
	(sizeof(struct vhost_vdmabuf_event) + VIRTIO_VDMABUF_MAX_META)

#define VHOST_VDMABUF_IMPORT \
	_IOWR(VHOST_VIRTIO, 0xd8, struct vhost_vdmabuf_import)
#define VHOST_VDMABUF_FRAME_DONE \
	_IOW(VHOST_VIRTIO, 0xd9, struct vhost_vdmabuf_frame_done)
#define VHOST_VDMABUF_QUERY \
	_IOWR(VHOST_VIRTIO, 0xda, struct vhost_vdmabuf_query)
#define VHOST_VDMABUF_FRAMES \
	_IOW(VHOST_VIRTIO, 0xdb, struct vhost_vdmabuf_frames)

#endif /* _UAPI_LINUX_VHOST_VDMABUF_H */
