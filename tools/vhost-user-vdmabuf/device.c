// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-vdmabuf: the device model.
 *
 * Requests are checked in the order Documentation/virtio-dmabuf.rst gives,
 * the order the kernel backend (drivers/vhost/vdmabuf.c) uses, and answer
 * with the same statuses.  Where this backend differs:
 *
 * - Guest memory is the memfds of the vhost-user memory table, and an
 *   export is a udmabuf made from the memfd pieces of its ranges.  The
 *   udmabuf pins the pages (memfd_pin_folios()) for as long as it exists;
 *   the device's own reference is dropped when the export is released.
 *   The pins are counted against max_total_size, not against anyone's
 *   RLIMIT_MEMLOCK: udmabuf charges no one.
 * - udmabuf's list_limit and size_limit_mb cap max_ranges and
 *   max_export_size; an export whose ranges cross so many region borders
 *   that its pieces exceed list_limit gets LIMIT.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/udmabuf.h>

#include "vud.h"

#define PAGE		VIRTIO_VDMABUF_PAGE_SIZE
#define ALIGNED(x)	(((x) & (PAGE - 1)) == 0)
#define MIB		(1ULL << 20)

/* The kernel backend's defaults (its module parameters). */
static const struct vud_limits vud_default_limits = {
	.max_ranges = 16384,
	.max_meta_len = 1024,
	.max_exports = 1024,
	.max_rects = 16,
	.max_export_size = 512 * MIB,
	.max_total_size = 2048 * MIB,
	.max_guest_events = 8192,
};

/* A udmabuf module parameter, or -1 if it cannot be read. */
static long long udmabuf_param(const char *name)
{
	char path[96];
	long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/udmabuf/parameters/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1 || v < 0)
		v = -1;
	fclose(f);
	return v;
}

/**
 * vud_limits_from_udmabuf() - the defaults, within what udmabuf allows
 * @lim: filled in
 * @why: what was lowered and why, for the log; empty if nothing was
 * @why_len: its size
 *
 * Return: 0, or -ENOENT if udmabuf's parameters cannot be read (the
 * module is not loaded).
 */
int vud_limits_from_udmabuf(struct vud_limits *lim, char *why,
			    size_t why_len)
{
	long long list_limit = udmabuf_param("list_limit");
	long long size_mb = udmabuf_param("size_limit_mb");

	*lim = vud_default_limits;
	why[0] = 0;
	if (list_limit < 1 || size_mb < 1)
		return -ENOENT;
	lim->udmabuf_list_limit = list_limit > VIRTIO_VDMABUF_MAX_RANGES ?
				  VIRTIO_VDMABUF_MAX_RANGES : list_limit;
	if (lim->max_ranges > lim->udmabuf_list_limit) {
		lim->max_ranges = lim->udmabuf_list_limit;
		snprintf(why, why_len,
			 "max_ranges %u: udmabuf's list_limit (modprobe udmabuf list_limit=N raises it); ",
			 lim->max_ranges);
	}
	if (lim->max_export_size > (uint64_t)size_mb * MIB) {
		lim->max_export_size = (uint64_t)size_mb * MIB;
		snprintf(why + strlen(why), why_len - strlen(why),
			 "max_export_size %llu MiB: udmabuf's size_limit_mb (modprobe udmabuf size_limit_mb=N raises it)",
			 (unsigned long long)size_mb);
	}
	return 0;
}

/**
 * vud_device_init() - a device with no memory and no exports
 * @dev: the device
 * @lim: its limits, within the spec's bounds (checked by the caller)
 * @udmabuf: an open /dev/udmabuf, which @dev keeps
 *
 * Return: 0
 */
int vud_device_init(struct vud_device *dev, const struct vud_limits *lim,
		    int udmabuf)
{
	memset(dev, 0, sizeof(*dev));
	dev->limits = *lim;
	dev->udmabuf = udmabuf;
	dev->events_tail = &dev->events;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Guest RAM                                                              */
/* ---------------------------------------------------------------------- */

/**
 * vud_check_memfd() - can udmabuf make dma-bufs from @fd's pages?
 * @fd: the file of a region of guest RAM
 * @why: what to change, if not
 * @why_len: its size
 *
 * udmabuf takes memfds (shmem or hugetlbfs) sealed against shrinking,
 * and not sealed against writing.
 *
 * Return: 0 or -EINVAL.
 */
int vud_check_memfd(int fd, char *why, size_t why_len)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0) {
		snprintf(why, why_len,
			 "guest RAM is not a memfd: give QEMU -object memory-backend-memfd,share=on and -machine memory-backend=");
		return -EINVAL;
	}
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		snprintf(why, why_len,
			 "guest RAM is sealed against writing, which udmabuf refuses");
		return -EINVAL;
	}
	if (!(seals & F_SEAL_SHRINK)) {
		snprintf(why, why_len,
			 "guest RAM is not sealed against shrinking, which udmabuf needs: use memory-backend-memfd with seal=on (its default)");
		return -EINVAL;
	}
	return 0;
}

/**
 * vud_add_region() - a region of guest RAM, from the memory table
 * @dev: the device
 * @gpa: its guest-physical address
 * @size: its size
 * @fd: its memfd, which @dev keeps (closed when the region goes)
 * @fd_offset: the offset of @gpa in @fd
 *
 * Return: 0, -E2BIG if @dev has VUD_MAX_REGIONS regions, -EINVAL if
 * the region is empty, wraps, is not page aligned or overlaps another.
 */
int vud_add_region(struct vud_device *dev, uint64_t gpa, uint64_t size,
		   int fd, uint64_t fd_offset)
{
	unsigned int i;

	if (dev->nr_regions == VUD_MAX_REGIONS)
		return -E2BIG;
	if (!size || gpa + size < gpa || !ALIGNED(gpa) || !ALIGNED(size) ||
	    !ALIGNED(fd_offset))
		return -EINVAL;
	for (i = 0; i < dev->nr_regions; i++) {
		const struct vud_region *r = &dev->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	dev->regions[dev->nr_regions++] = (struct vud_region) {
		.gpa = gpa, .size = size, .fd = fd, .fd_offset = fd_offset,
	};
	return 0;
}

/**
 * vud_remove_region() - a region leaves the memory table
 * @dev: the device
 * @gpa: its guest-physical address
 * @size: its size
 *
 * Exports made from it keep their pages: the udmabuf holds them.
 *
 * Return: 0, or -ENOENT if no region matches.
 */
int vud_remove_region(struct vud_device *dev, uint64_t gpa, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < dev->nr_regions; i++) {
		if (dev->regions[i].gpa != gpa || dev->regions[i].size != size)
			continue;
		close(dev->regions[i].fd);
		dev->regions[i] = dev->regions[--dev->nr_regions];
		return 0;
	}
	return -ENOENT;
}

/** vud_remove_all_regions() - a new memory table replaces the old */
void vud_remove_all_regions(struct vud_device *dev)
{
	while (dev->nr_regions)
		close(dev->regions[--dev->nr_regions].fd);
}

/* The region holding @gpa, or NULL. */
static const struct vud_region *vud_region_of(const struct vud_device *dev,
					      uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < dev->nr_regions; i++)
		if (gpa >= dev->regions[i].gpa &&
		    gpa - dev->regions[i].gpa < dev->regions[i].size)
			return &dev->regions[i];
	return NULL;
}

/*
 * The memfd pieces of @ranges, split at region borders and merged where
 * one piece goes on where the last ended, into @list (NULL: only count).
 * Return: the number of pieces, 0 if a range is not all guest RAM.
 */
static uint32_t vud_pieces(const struct vud_device *dev,
			   const struct virtio_vdmabuf_range *ranges,
			   uint32_t nr_ranges, struct udmabuf_create_item *list,
			   uint32_t max)
{
	struct udmabuf_create_item last = { .memfd = (uint32_t)-1 };
	uint32_t i, n = 0;

	for (i = 0; i < nr_ranges; i++) {
		uint64_t addr = le64toh(ranges[i].addr);
		uint64_t left = le64toh(ranges[i].len);

		while (left) {
			const struct vud_region *r = vud_region_of(dev, addr);
			uint64_t off, len;

			if (!r)
				return 0;
			off = addr - r->gpa;
			len = r->size - off < left ? r->size - off : left;
			off += r->fd_offset;
			if (n && last.memfd == (uint32_t)r->fd &&
			    last.offset + last.size == off) {
				last.size += len;
			} else {
				if (n == max)
					return max + 1;
				if (list && n)
					list[n - 1] = last;
				last = (struct udmabuf_create_item) {
					.memfd = r->fd, .offset = off,
					.size = len,
				};
				n++;
			}
			addr += len;
			left -= len;
		}
	}
	if (list && n)
		list[n - 1] = last;
	return n;
}

/* ---------------------------------------------------------------------- */
/* Exports and events                                                     */
/* ---------------------------------------------------------------------- */

static unsigned int vud_hash(const uint8_t uuid[16])
{
	/* Version 4 UUIDs are random: their first byte is hash enough. */
	return uuid[0] & (VUD_HASH_SIZE - 1);
}

/** vud_find() - the held export with @uuid, or NULL */
struct vud_export *vud_find(const struct vud_device *dev,
			    const uint8_t uuid[16])
{
	struct vud_export *exp;

	for (exp = dev->exports[vud_hash(uuid)]; exp; exp = exp->next)
		if (!memcmp(exp->uuid, uuid, 16))
			return exp;
	return NULL;
}

static void vud_queue_event(struct vud_device *dev, struct vud_gevent *gev)
{
	gev->next = NULL;
	*dev->events_tail = gev;
	dev->events_tail = &gev->next;
	dev->stats.guest_events++;
}

/** vud_peek_event() - the oldest event queued for the driver, or NULL */
const struct virtio_vdmabuf_event *vud_peek_event(const struct vud_device *dev)
{
	return dev->events ? &dev->events->ev : NULL;
}

/* The export whose RELEASED @gev is. */
static struct vud_export *vud_released_export(struct vud_gevent *gev)
{
	return (struct vud_export *)((char *)gev -
				     offsetof(struct vud_export, released));
}

static void vud_unhash(struct vud_device *dev, struct vud_export *exp)
{
	struct vud_export **p = &dev->exports[vud_hash(exp->uuid)];

	while (*p != exp)
		p = &(*p)->next;
	*p = exp->next;
}

static void vud_export_free(struct vud_export *exp)
{
	free(exp->meta);
	free(exp);
}

/*
 * vud_pop_event() - the oldest event was delivered: drop it.  An export
 * is held until its RELEASED is delivered, so that max_exports bounds the
 * RELEASED events waiting for eventq buffers.
 */
void vud_pop_event(struct vud_device *dev)
{
	struct vud_gevent *gev = dev->events;

	if (!gev)
		return;
	dev->events = gev->next;
	if (!dev->events)
		dev->events_tail = &dev->events;
	dev->stats.guest_events--;
	if (le32toh(gev->ev.type) == VIRTIO_VDMABUF_EVT_RELEASED) {
		struct vud_export *exp = vud_released_export(gev);

		vud_unhash(dev, exp);
		dev->stats.held_exports--;
		vud_export_free(exp);
	} else {
		dev->nr_frame_events--;
		free(gev);
	}
}

/*
 * The export is unexported and no host user holds it: drop the device's
 * host dma-buf (udmabuf unpins when its last user goes) and queue
 * RELEASED.
 */
static void vud_release(struct vud_device *dev, struct vud_export *exp)
{
	close(exp->dmabuf);
	exp->dmabuf = -1;
	dev->stats.pinned_bytes -= exp->size;
	exp->released.ev = (struct virtio_vdmabuf_event) {
		.type = htole32(VIRTIO_VDMABUF_EVT_RELEASED),
	};
	memcpy(exp->released.ev.uuid, exp->uuid, 16);
	vud_queue_event(dev, &exp->released);
}

static void vud_unexport(struct vud_device *dev, struct vud_export *exp)
{
	exp->live = false;
	dev->stats.live_exports--;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                               */
/* ---------------------------------------------------------------------- */

/* Copy @len bytes at @off of @req to @dst; false if @req is shorter. */
static bool vud_req_read(const struct vud_req *req, size_t off, void *dst,
			 size_t len)
{
	unsigned int i;

	if (off > req->len || len > req->len - off)
		return false;
	for (i = 0; i < req->niov && len; i++) {
		size_t n = req->iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len)
			n = len;
		memcpy(dst, (const char *)req->iov[i].iov_base + off, n);
		dst = (char *)dst + n;
		len -= n;
		off = 0;
	}
	return !len;
}

static int vud_range_cmp(const void *a, const void *b)
{
	uint64_t x = le64toh(((const struct virtio_vdmabuf_range *)a)->addr);
	uint64_t y = le64toh(((const struct virtio_vdmabuf_range *)b)->addr);

	return x < y ? -1 : x > y;
}

/* Checks 10-12: each range well formed, the sum, no overlap. */
static uint32_t vud_check_ranges(const struct virtio_vdmabuf_range *ranges,
				 uint32_t nr, uint64_t size)
{
	struct virtio_vdmabuf_range *sorted;
	uint64_t sum = 0, end;
	uint32_t i, status = VIRTIO_VDMABUF_S_OK;

	for (i = 0; i < nr; i++) {
		uint64_t addr = le64toh(ranges[i].addr);
		uint64_t len = le64toh(ranges[i].len);

		if (!ALIGNED(addr) || !ALIGNED(len) || !len ||
		    __builtin_add_overflow(addr, len, &end) ||
		    __builtin_add_overflow(sum, len, &sum))
			return VIRTIO_VDMABUF_S_INVALID;
	}
	if (sum != size)
		return VIRTIO_VDMABUF_S_INVALID;
	if (nr == 1)
		return VIRTIO_VDMABUF_S_OK;
	sorted = malloc(nr * sizeof(*sorted));
	if (!sorted)
		return VIRTIO_VDMABUF_S_NOMEM;
	memcpy(sorted, ranges, nr * sizeof(*sorted));
	qsort(sorted, nr, sizeof(*sorted), vud_range_cmp);
	for (i = 1; i < nr; i++)
		if (le64toh(sorted[i - 1].addr) + le64toh(sorted[i - 1].len) >
		    le64toh(sorted[i].addr))
			status = VIRTIO_VDMABUF_S_INVALID;
	free(sorted);
	return status;
}

/* Checks 6-9, on the fixed part alone. */
static uint32_t vud_export_admit(const struct vud_device *dev,
				 const uint8_t uuid[16], uint64_t size)
{
	const struct vud_limits *lim = &dev->limits;
	uint64_t live_bytes = 0;
	unsigned int b;

	if (vud_find(dev, uuid))
		return VIRTIO_VDMABUF_S_EXISTS;
	for (b = 0; b < VUD_HASH_SIZE; b++)
		for (struct vud_export *e = dev->exports[b]; e; e = e->next)
			if (e->live)
				live_bytes += e->size;
	if (dev->stats.live_exports >= lim->max_exports ||
	    live_bytes + size > lim->max_total_size)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (dev->stats.pinned_bytes + size > lim->max_total_size ||
	    dev->stats.held_exports - dev->stats.live_exports >=
	    lim->max_exports)
		return VIRTIO_VDMABUF_S_NOMEM;
	return VIRTIO_VDMABUF_S_OK;
}

/* Checks 13-14: the memfd pieces of the ranges as one udmabuf. */
static uint32_t vud_export_make(struct vud_device *dev, struct vud_export *exp,
				const struct virtio_vdmabuf_range *ranges,
				uint32_t nr)
{
	uint32_t max = dev->limits.udmabuf_list_limit;
	struct udmabuf_create_list *cl;
	uint32_t n;

	n = vud_pieces(dev, ranges, nr, NULL, max);
	if (!n)
		return VIRTIO_VDMABUF_S_FAULT;
	if (n > max)
		return VIRTIO_VDMABUF_S_LIMIT;
	cl = calloc(1, sizeof(*cl) + n * sizeof(cl->list[0]));
	if (!cl)
		return VIRTIO_VDMABUF_S_NOMEM;
	cl->flags = UDMABUF_FLAGS_CLOEXEC;
	cl->count = vud_pieces(dev, ranges, nr, cl->list, max);
	exp->dmabuf = ioctl(dev->udmabuf, UDMABUF_CREATE_LIST, cl);
	free(cl);
	return exp->dmabuf < 0 ? VIRTIO_VDMABUF_S_NOMEM : VIRTIO_VDMABUF_S_OK;
}

static uint32_t vud_req_export(struct vud_device *dev,
			       const struct virtio_vdmabuf_req_hdr *hdr,
			       const struct vud_req *req)
{
	static const uint8_t zero[16];
	const struct vud_limits *lim = &dev->limits;
	struct virtio_vdmabuf_range *ranges = NULL;
	struct virtio_vdmabuf_export_req er;
	struct vud_export *exp = NULL;
	uint32_t nr, meta_len, status;
	uint64_t size;

	if (hdr->flags || !memcmp(hdr->uuid, zero, 16))
		return VIRTIO_VDMABUF_S_INVALID;
	if (!vud_req_read(req, 0, &er, sizeof(er)))
		return VIRTIO_VDMABUF_S_INVALID;
	nr = le32toh(er.nr_ranges);
	meta_len = le32toh(er.meta_len);
	size = le64toh(er.size);
	if (!nr)
		return VIRTIO_VDMABUF_S_INVALID;
	if (nr > lim->max_ranges || meta_len > lim->max_meta_len)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (req->len != sizeof(er) + (uint64_t)nr * sizeof(*ranges) + meta_len)
		return VIRTIO_VDMABUF_S_INVALID;
	if (!size || !ALIGNED(size))
		return VIRTIO_VDMABUF_S_INVALID;
	if (size > lim->max_export_size)
		return VIRTIO_VDMABUF_S_LIMIT;
	status = vud_export_admit(dev, hdr->uuid, size);
	if (status)
		return status;

	status = VIRTIO_VDMABUF_S_NOMEM;
	ranges = malloc(nr * sizeof(*ranges));
	exp = calloc(1, sizeof(*exp));
	if (!ranges || !exp)
		goto err_free;
	if (meta_len) {
		exp->meta = malloc(meta_len);
		if (!exp->meta)
			goto err_free;
	}
	vud_req_read(req, sizeof(er), ranges, nr * sizeof(*ranges));
	vud_req_read(req, sizeof(er) + nr * sizeof(*ranges), exp->meta,
		     meta_len);
	status = vud_check_ranges(ranges, nr, size);
	if (status)
		goto err_free;
	status = vud_export_make(dev, exp, ranges, nr);
	if (status)
		goto err_free;
	free(ranges);

	memcpy(exp->uuid, hdr->uuid, 16);
	exp->size = size;
	exp->live = true;
	exp->meta_len = meta_len;
	exp->next = dev->exports[vud_hash(exp->uuid)];
	dev->exports[vud_hash(exp->uuid)] = exp;
	dev->stats.live_exports++;
	dev->stats.held_exports++;
	dev->stats.pinned_bytes += size;
	return VIRTIO_VDMABUF_S_OK;

err_free:
	free(ranges);
	if (exp)
		vud_export_free(exp);
	return status;
}

static uint32_t vud_req_unexport(struct vud_device *dev,
				 const struct virtio_vdmabuf_req_hdr *hdr,
				 const struct vud_req *req)
{
	struct vud_export *exp;

	if (hdr->flags || req->len != sizeof(*hdr))
		return VIRTIO_VDMABUF_S_INVALID;
	exp = vud_find(dev, hdr->uuid);
	if (!exp || !exp->live)
		return VIRTIO_VDMABUF_S_NOENT;
	vud_unexport(dev, exp);
	vud_release(dev, exp);
	return VIRTIO_VDMABUF_S_OK;
}

static uint32_t vud_req_present(struct vud_device *dev,
				const struct virtio_vdmabuf_req_hdr *hdr,
				const struct vud_req *req)
{
	struct virtio_vdmabuf_present_req pr;
	struct vud_export *exp;
	struct vud_gevent *gev;
	uint32_t nr_rects;

	if (!(dev->features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		return VIRTIO_VDMABUF_S_UNSUPPORTED;
	if (!vud_req_read(req, 0, &pr, sizeof(pr)) || hdr->flags || pr.padding)
		return VIRTIO_VDMABUF_S_INVALID;
	exp = vud_find(dev, hdr->uuid);
	if (!exp || !exp->live)
		return VIRTIO_VDMABUF_S_NOENT;
	nr_rects = le32toh(pr.nr_rects);
	if (nr_rects > dev->limits.max_rects)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (req->len != sizeof(pr) + nr_rects * sizeof(struct virtio_vdmabuf_rect))
		return VIRTIO_VDMABUF_S_INVALID;
	if (dev->stats.guest_events >= dev->limits.max_guest_events)
		return VIRTIO_VDMABUF_S_BUSY;
	gev = calloc(1, sizeof(*gev));
	if (!gev)
		return VIRTIO_VDMABUF_S_NOMEM;

	/* No importer takes part in frames yet: the frame is done at once. */
	gev->ev.type = htole32(VIRTIO_VDMABUF_EVT_FRAME_DONE);
	memcpy(gev->ev.uuid, exp->uuid, 16);
	gev->ev.seq = pr.seq;
	dev->nr_frame_events++;
	vud_queue_event(dev, gev);
	return VIRTIO_VDMABUF_S_OK;
}

/**
 * vud_request() - process one request
 * @dev: the device
 * @req: the request's device-readable part
 *
 * Return: the status to answer with (VIRTIO_VDMABUF_S_*).
 */
uint32_t vud_request(struct vud_device *dev, const struct vud_req *req)
{
	struct virtio_vdmabuf_req_hdr hdr;
	uint32_t status;

	dev->stats.requests++;
	if (!vud_req_read(req, 0, &hdr, sizeof(hdr)))
		status = VIRTIO_VDMABUF_S_INVALID;
	else if (le32toh(hdr.type) == VIRTIO_VDMABUF_REQ_EXPORT)
		status = vud_req_export(dev, &hdr, req);
	else if (le32toh(hdr.type) == VIRTIO_VDMABUF_REQ_UNEXPORT)
		status = vud_req_unexport(dev, &hdr, req);
	else if (le32toh(hdr.type) == VIRTIO_VDMABUF_REQ_PRESENT)
		status = vud_req_present(dev, &hdr, req);
	else
		status = VIRTIO_VDMABUF_S_UNSUPPORTED;
	if (status != VIRTIO_VDMABUF_S_OK)
		dev->stats.bad_requests++;
	return status;
}

/**
 * vud_reset() - the device is reset: end every export
 * @dev: the device
 *
 * Events queued for the driver are dropped, and no RELEASED follows for
 * exports from before the reset.
 */
void vud_reset(struct vud_device *dev)
{
	unsigned int b;

	while (dev->events) {
		struct vud_gevent *gev = dev->events;

		dev->events = gev->next;
		if (le32toh(gev->ev.type) != VIRTIO_VDMABUF_EVT_RELEASED)
			free(gev);
	}
	dev->events_tail = &dev->events;
	dev->nr_frame_events = 0;
	dev->stats.guest_events = 0;
	for (b = 0; b < VUD_HASH_SIZE; b++) {
		while (dev->exports[b]) {
			struct vud_export *exp = dev->exports[b];

			dev->exports[b] = exp->next;
			if (exp->dmabuf >= 0) {
				close(exp->dmabuf);
				dev->stats.pinned_bytes -= exp->size;
			}
			vud_export_free(exp);
		}
	}
	dev->stats.live_exports = 0;
	dev->stats.held_exports = 0;
}

/** vud_device_fini() - the front-end is gone: free everything */
void vud_device_fini(struct vud_device *dev)
{
	vud_reset(dev);
	vud_remove_all_regions(dev);
}

/**
 * vud_get_config() - the configuration space
 * @dev: the device
 * @config: filled with @len bytes of it (zero past the end)
 * @len: bytes wanted
 */
void vud_get_config(const struct vud_device *dev, uint8_t *config,
		    uint32_t len)
{
	const struct vud_limits *lim = &dev->limits;
	struct virtio_vdmabuf_config c = {
		.max_ranges = htole32(lim->max_ranges),
		.max_meta_len = htole32(lim->max_meta_len),
		.max_exports = htole32(lim->max_exports),
		.max_rects = htole32(lim->max_rects),
		.max_export_size = htole64(lim->max_export_size),
		.max_total_size = htole64(lim->max_total_size),
	};

	memset(config, 0, len);
	memcpy(config, &c, len < sizeof(c) ? len : sizeof(c));
}
