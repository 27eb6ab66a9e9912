/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-vdmabuf: the virtio dma-buf device in userspace, on udmabuf.
 *
 * The device model, apart from vhost-user: guest RAM as memfd pieces,
 * requests parsed and checked in the spec's order
 * (Documentation/virtio-dmabuf.rst), exports made host dma-bufs with
 * UDMABUF_CREATE_LIST, and the events owed to the driver.  main.c feeds
 * it from libvhost-user's queues; the unit tests feed it directly.
 *
 * Single-threaded: every function runs on the daemon's main loop.
 */
#ifndef VUD_H
#define VUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

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
 * @udmabuf_list_limit: udmabuf's list_limit: most memfd pieces in one
 *	host dma-buf, after ranges are split at region borders
 */
struct vud_limits {
	uint32_t max_ranges;
	uint32_t max_meta_len;
	uint32_t max_exports;
	uint32_t max_rects;
	uint64_t max_export_size;
	uint64_t max_total_size;
	uint32_t max_guest_events;
	uint32_t udmabuf_list_limit;
};

/**
 * struct vud_region - one region of guest RAM
 * @gpa: its first guest-physical address
 * @size: its size in bytes
 * @fd: the memfd it lives in, the daemon's own copy
 * @fd_offset: where @gpa is in @fd
 */
struct vud_region {
	uint64_t gpa;
	uint64_t size;
	int fd;
	uint64_t fd_offset;
};

/**
 * struct vud_gevent - an event queued for the driver
 * @next: the next in the device's queue
 * @ev: the event, little-endian, as the driver reads it
 */
struct vud_gevent {
	struct vud_gevent *next;
	struct virtio_vdmabuf_event ev;
};

/**
 * struct vud_export - a buffer the driver exported
 * @next: the next in its hash bucket
 * @uuid: its UUID
 * @size: its size in bytes
 * @dmabuf: the host dma-buf made from its memory (udmabuf); the
 *	daemon's reference, closed once the export is released
 * @live: not unexported yet
 * @meta_len: bytes at @meta
 * @meta: the metadata the EXPORT carried, for importers
 * @released: the RELEASED event, allocated with the export so that an
 *	UNEXPORT can always queue it
 */
struct vud_export {
	struct vud_export *next;
	uint8_t uuid[16];
	uint64_t size;
	int dmabuf;
	bool live;
	uint32_t meta_len;
	uint8_t *meta;
	struct vud_gevent released;
};

#define VUD_HASH_BITS		8
#define VUD_HASH_SIZE		(1U << VUD_HASH_BITS)

/**
 * struct vud_stats - counters, as the kernel backend's GET_STATS has them
 * @requests: requests answered (chains taken from the requestq)
 * @bad_requests: requests answered with INVALID, or unanswerable
 * @live_exports: exports not unexported
 * @held_exports: exports not released (live ones included)
 * @pinned_bytes: bytes of guest RAM the device's host dma-bufs hold
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
 * @udmabuf: /dev/udmabuf
 * @nr_regions: regions in @regions
 * @regions: guest RAM, in no particular order
 * @exports: held exports by UUID hash
 * @events: queued for the driver, oldest first
 * @events_tail: where the next event goes
 * @nr_frame_events: FRAME_DONE events in @events
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

#endif /* VUD_H */
