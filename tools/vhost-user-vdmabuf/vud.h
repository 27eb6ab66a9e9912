/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-vdmabuf: the virtio dma-buf device in userspace, on udmabuf.
 *
 * The device model, apart from vhost-user: guest RAM as memfd pieces,
 * requests parsed and checked in the spec's order
 * (Documentation/virtio-dmabuf.rst), exports made host dma-bufs with
 * UDMABUF_CREATE_LIST (or, on a host without udmabuf, checked and held
 * with no dma-buf, for testing the guest alone), and the events owed to
 * the driver.  main.c feeds it from libvhost-user's queues; the unit tests
 * feed it directly.
 *
 * Single-threaded: every function runs on the daemon's main loop.
 */
#ifndef VUD_H
#define VUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

/* The most guest RAM regions: libvhost-user's VHOST_USER_MAX_RAM_SLOTS. */
#define VUD_MAX_REGIONS		509

/**
 * struct vud_limits - what the device advertises and enforces
 * @max_ranges: most ranges in one EXPORT, at most udmabuf's list_limit
 * @max_meta_len: most metadata bytes in one EXPORT
 * @max_exports: most live exports
 * @max_rects: most damage rectangles in one PRESENT
 * @max_export_size: largest export in bytes, at most udmabuf's
 *	size_limit_mb
 * @max_total_size: most bytes exported and pinned at once
 * @max_guest_events: FRAME_DONE backlog before PRESENT gets BUSY
 * @max_importer_events: records queued for one importer before EXPORT,
 *	and a PRESENT that would add one, get BUSY
 * @max_importers: most importers at once
 * @udmabuf_list_limit: udmabuf's list_limit: most memfd pieces in one
 *	host dma-buf, after ranges are split at region borders; 0 without
 *	udmabuf (vud_limits_default()), where nothing caps the pieces
 */
struct vud_limits {
	uint32_t max_ranges;
	uint32_t max_meta_len;
	uint32_t max_exports;
	uint32_t max_rects;
	uint64_t max_export_size;
	uint64_t max_total_size;
	uint32_t max_guest_events;
	uint32_t max_importer_events;
	uint32_t max_importers;
	uint32_t udmabuf_list_limit;
};

/**
 * struct vud_region - one region of guest RAM
 * @gpa: its first guest-physical address
 * @size: its size in bytes
 * @fd: the memfd it lives in, the daemon's own copy
 * @fd_offset: where @gpa is in @fd
 * @file_dev: the memfd's device number and...
 * @file_ino: ...inode number: regions of one memfd (each with its own fd)
 *	make one udmabuf piece where they go on
 */
struct vud_region {
	uint64_t gpa;
	uint64_t size;
	int fd;
	uint64_t fd_offset;
	uint64_t file_dev;
	uint64_t file_ino;
};

/**
 * struct vud_gevent - an event queued for the driver
 * @next: the next in the device's queue
 * @ev: the event, little-endian, as the driver reads it
 * @injected: (VUD_FAULTS builds) a bogus event of no export's, freed once
 *	delivered or dropped
 */
struct vud_gevent {
	struct vud_gevent *next;
	struct virtio_vdmabuf_event ev;
#ifdef VUD_FAULTS
	bool injected;
#endif
};

struct vud_part;

/**
 * struct vud_irec - a record queued for an importer, as the kernel
 *	back-end's importer fd reads it (struct vhost_vdmabuf_event, then
 *	the payload, padded to 8 bytes)
 * @next: the next in the importer's queue
 * @prev: the one before
 * @part: the part whose unsent EXPORTED or PRESENTED this is, NULL once
 *	neither (records of an export are told apart by this, not by the
 *	UUID, which the driver may use again after RELEASED)
 * @hdr: the record's header; hdr.len is the record's length
 * @payload: metadata (EXPORTED) or damage (PRESENTED)
 */
struct vud_irec {
	struct vud_irec *next;
	struct vud_irec *prev;
	struct vud_part *part;
	struct vhost_vdmabuf_event hdr;
	uint8_t payload[];
};

struct vud_importer;

/**
 * struct vud_part - one importer's part in one held export
 * @next: the next part of the export
 * @imp: the importer
 * @holds: imports it has not returned; the export is not released
 *	while any part holds it
 * @joined: takes part in the export's frames (IMPORT or FRAMES JOIN)
 * @owes: the frame number it owes a FRAME_DONE for, 0 if none
 * @unexported: the UNEXPORTED record, allocated with the part so that an
 *	UNEXPORT never fails for want of memory; NULL once queued
 * @exported: its EXPORTED record while not handed over yet
 * @presented: its newest PRESENTED record while not handed over yet
 */
struct vud_part {
	struct vud_part *next;
	struct vud_importer *imp;
	uint32_t holds;
	bool joined;
	uint64_t owes;
	struct vud_irec *unexported;
	struct vud_irec *exported;
	struct vud_irec *presented;
};

/**
 * struct vud_importer - a host program that follows the device's exports
 * @next: the next of the device's importers
 * @queue: records not yet handed over, oldest first
 * @tail: the newest of them
 * @nr_records: records in @queue
 * @all: takes part in the frames of every buffer (FRAMES_F_ALL)
 * @priv: the connection's, for main.c
 */
struct vud_importer {
	struct vud_importer *next;
	struct vud_irec *queue;
	struct vud_irec *tail;
	uint32_t nr_records;
	bool all;
	void *priv;
};

/**
 * struct vud_export - a buffer the driver exported
 * @next: the next in its hash bucket, or in the device's orphans
 * @uuid: its UUID
 * @size: its size in bytes
 * @nr_ranges: ranges the EXPORT had
 * @dmabuf: the host dma-buf made from its memory (udmabuf): importers get
 *	copies; the daemon's own is closed once the export is released.
 *	-1 on a device with no udmabuf, which makes none
 * @held: the device holds the export, its size counted in pinned_bytes,
 *	with or without a dma-buf: set once it is made, cleared when it is
 *	released (unexported, or ended by a reset, and held by no importer);
 *	an export whose RELEASED is queued is no longer held
 * @live: not unexported yet
 * @orphan: a reset took it from the driver: out of the UUID table, on
 *	the device's orphans until its importers let go; no RELEASED
 * @meta_len: bytes at @meta
 * @meta: the metadata the EXPORT carried, for importers
 * @parts: the importers' parts in it
 * @frame_pending: a frame waits for importers' FRAME_DONE
 * @frame_seq: the guest's sequence number of the pending frame
 * @frame_no: the pending frame's number
 * @owing: parts that owe a FRAME_DONE for the pending frame
 * @frame_done: its FRAME_DONE event, allocated at PRESENT
 * @last_seq: the newest PRESENT's sequence number, 0 if none
 * @last_frame: the newest PRESENT's frame number, 0 if none
 * @released: the RELEASED event, allocated with the export so that an
 *	UNEXPORT can always queue it
 * @refuse_unexports: (VUD_FAULTS builds) UNEXPORTs of it still to be
 *	answered NOMEM
 * @bogus_released: (VUD_FAULTS builds) a RELEASED to send, while it is
 *	live, after its first PRESENT's FRAME_DONE
 * @released_refused: (VUD_FAULTS builds) a RELEASED is sent after each
 *	UNEXPORT answered NOMEM
 * @refuse_presents: (VUD_FAULTS builds) PRESENTs of it still to be
 *	answered NOMEM
 * @bogus_events: (VUD_FAULTS builds) after the first FRAME_DONE of it
 *	sent at once (no importer owing it), three events the driver must
 *	ignore are sent
 */
struct vud_export {
	struct vud_export *next;
	uint8_t uuid[16];
	uint64_t size;
	uint32_t nr_ranges;
	int dmabuf;
	bool held;
	bool live;
	bool orphan;
	uint32_t meta_len;
	uint8_t *meta;
	struct vud_part *parts;
	bool frame_pending;
	uint64_t frame_seq;
	uint64_t frame_no;
	uint32_t owing;
	struct vud_gevent *frame_done;
	uint64_t last_seq;
	uint64_t last_frame;
	struct vud_gevent released;
#ifdef VUD_FAULTS
	unsigned int refuse_unexports;
	bool bogus_released;
	bool released_refused;
	bool bogus_events;
	unsigned int refuse_presents;
#endif
};

#define VUD_HASH_BITS		8
#define VUD_HASH_SIZE		(1U << VUD_HASH_BITS)

/**
 * struct vud_stats - counters, as the kernel backend's GET_STATS has them
 * @requests: requests answered (chains taken from the requestq)
 * @bad_requests: requests answered with INVALID, or unanswerable
 * @live_exports: exports not unexported
 * @held_exports: exports not released (live ones included)
 * @pinned_bytes: bytes of guest RAM the device holds for the guest: the
 *	sizes of the held exports (which their host dma-bufs pin, if any)
 * @guest_events: events queued for the driver, not delivered yet
 */
struct vud_stats {
	uint64_t requests;
	uint64_t bad_requests;
	uint32_t live_exports;
	uint32_t held_exports;
	uint64_t pinned_bytes;
	uint32_t guest_events;
};

/**
 * struct vud_device - one device
 * @limits: advertised and enforced
 * @features: negotiated virtio features
 * @udmabuf: /dev/udmabuf, or -1 for a device that makes no host dma-buf
 *	(on a host without udmabuf): exports are checked and held alike, but
 *	cannot be imported
 * @nr_regions: regions in @regions
 * @regions: guest RAM, in no particular order
 * @exports: held exports by UUID hash
 * @events: queued for the driver, oldest first
 * @events_tail: where the next event goes
 * @nr_frame_events: FRAME_DONE events in @events
 * @orphans: exports a reset took, still held by importers
 * @live_bytes: the sizes of the live exports
 * @importers: host programs following the exports
 * @nr_importers: how many
 * @last_frame: the newest frame number given; frames of all exports are
 *	numbered from 1 up, never reused
 * @stats: counters
 */
struct vud_device {
	struct vud_limits limits;
	uint64_t features;
	int udmabuf;
	unsigned int nr_regions;
	struct vud_region regions[VUD_MAX_REGIONS];
	struct vud_export *exports[VUD_HASH_SIZE];
	struct vud_gevent *events;
	struct vud_gevent **events_tail;
	uint32_t nr_frame_events;
	struct vud_export *orphans;
	uint64_t live_bytes;
	struct vud_importer *importers;
	uint32_t nr_importers;
	uint64_t last_frame;
	struct vud_stats stats;
};

/**
 * struct vud_req - a request as the device sees it
 * @iov: its device-readable buffers, in order
 * @niov: how many
 * @len: their total length in bytes
 */
struct vud_req {
	const struct iovec *iov;
	unsigned int niov;
	size_t len;
};

void vud_limits_default(struct vud_limits *lim);
int vud_limits_from_udmabuf(struct vud_limits *lim, char *why,
			    size_t why_len);
int vud_device_init(struct vud_device *dev, const struct vud_limits *lim,
		    int udmabuf);
void vud_device_fini(struct vud_device *dev);
void vud_get_config(const struct vud_device *dev, uint8_t *config,
		    uint32_t len);

int vud_check_memfd(int fd, char *why, size_t why_len);
int vud_add_region(struct vud_device *dev, uint64_t gpa, uint64_t size,
		   int fd, uint64_t fd_offset);
int vud_remove_region(struct vud_device *dev, uint64_t gpa, uint64_t size);
void vud_remove_all_regions(struct vud_device *dev);

uint32_t vud_request(struct vud_device *dev, const struct vud_req *req);
void vud_reset(struct vud_device *dev);

struct vud_export *vud_find(const struct vud_device *dev,
			    const uint8_t uuid[16]);
const struct virtio_vdmabuf_event *vud_peek_event(const struct vud_device *dev);
void vud_pop_event(struct vud_device *dev);

int vud_importer_new(struct vud_device *dev, void *priv,
		     struct vud_importer **impp);
void vud_importer_free(struct vud_device *dev, struct vud_importer *imp);
const struct vud_irec *vud_importer_peek(const struct vud_importer *imp);
void vud_importer_pop(struct vud_importer *imp);
int vud_import(struct vud_device *dev, struct vud_importer *imp,
	       struct vhost_vdmabuf_import *arg);
void vud_unimport(struct vud_device *dev, struct vud_importer *imp,
		  const uint8_t uuid[16]);
int vud_frame_done(struct vud_device *dev, struct vud_importer *imp,
		   const struct vhost_vdmabuf_frame_done *arg);
int vud_frames(struct vud_device *dev, struct vud_importer *imp,
	       const struct vhost_vdmabuf_frames *arg);
int vud_query(const struct vud_device *dev, struct vhost_vdmabuf_query *arg,
	      const uint8_t **meta);
int vud_return(struct vud_device *dev, struct vud_importer *imp,
	       const uint8_t uuid[16]);

#endif /* VUD_H */
