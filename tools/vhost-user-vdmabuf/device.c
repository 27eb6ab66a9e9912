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
 *   that its pieces exceed list_limit gets NOMEM.
 * - On a host without udmabuf the device can make no dma-buf
 *   (vud_device_init() with udmabuf -1, the daemon's --no-dmabuf), for
 *   testing the guest alone: every request is checked and answered as
 *   above, and each export held and counted as if pinned, but nothing
 *   pins its pages, no list_limit applies and no importer can import it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/udmabuf.h>

#include "vud.h"

#define PAGE		VIRTIO_VDMABUF_PAGE_SIZE
#define ALIGNED(x)	(((x) & (PAGE - 1)) == 0)
#define MIB		(1ULL << 20)
/* Imports one importer holds of one export, unreturned: no wrap. */
#define VUD_MAX_HOLDS	65535U

/* The kernel backend's defaults (its module parameters). */
static const struct vud_limits vud_default_limits = {
	.max_ranges = 16384,
	.max_meta_len = 1024,
	.max_exports = 1024,
	.max_rects = 16,
	.max_export_size = 512 * MIB,
	.max_total_size = 2048 * MIB,
	.max_guest_events = 8192,
	.max_importer_events = 4096,
	.max_importers = 64,
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
 * vud_limits_default() - the kernel back-end's defaults, no udmabuf cap
 * @lim: filled in
 */
void vud_limits_default(struct vud_limits *lim)
{
	*lim = vud_default_limits;
}

/**
 * vud_limits_from_udmabuf() - lower limits to what udmabuf allows
 * @lim: max_ranges and max_export_size lowered, udmabuf_list_limit set
 * @why: what was lowered and why, for the log; empty if nothing was
 * @why_len: its size
 *
 * Return: 0, or -ENOENT if udmabuf's parameters cannot be read (the
 * module is not loaded); then @lim is left as it was.
 */
int vud_limits_from_udmabuf(struct vud_limits *lim, char *why,
			    size_t why_len)
{
	long long list_limit = udmabuf_param("list_limit");
	long long size_mb = udmabuf_param("size_limit_mb");

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
 * @udmabuf: an open /dev/udmabuf, which @dev keeps; or -1 on a host
 *	without udmabuf: exports are then checked, answered and held as
 *	with it (pinned_bytes counts them), but no host dma-buf is made
 *	(struct vud_export.dmabuf stays -1), nothing caps their memfd
 *	pieces, and vud_import() refuses
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
	struct stat st;
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
	if (fstat(fd, &st))
		return -errno;
	dev->regions[dev->nr_regions++] = (struct vud_region) {
		.gpa = gpa, .size = size, .fd = fd, .fd_offset = fd_offset,
		.file_dev = st.st_dev, .file_ino = st.st_ino,
	};
	return 0;
}

/**
 * vud_remove_region() - a region leaves the memory table
 * @dev: the device
 * @gpa: its guest-physical address
 * @size: its size
 *
 * Exports made from it keep their pages: the udmabuf holds them (with
 * no udmabuf, nothing reads them).
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
			   uint32_t nr_ranges, struct udmabuf_create_item *list)
{
	struct udmabuf_create_item last = {};
	const struct vud_region *last_r = NULL;
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
			if (n && last_r->file_dev == r->file_dev &&
			    last_r->file_ino == r->file_ino &&
			    last.offset + last.size == off) {
				last.size += len;
			} else {
				if (list && n)
					list[n - 1] = last;
				last = (struct udmabuf_create_item) {
					.memfd = r->fd, .offset = off,
					.size = len,
				};
				last_r = r;
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
/* Exports, their importers' records, and the driver's events             */
/* ---------------------------------------------------------------------- */

/* FNV-1a of the whole UUID: the guest chooses it, so no byte of it alone. */
static unsigned int vud_hash(const uint8_t uuid[16])
{
	uint32_t h = 2166136261u;
	unsigned int i;

	for (i = 0; i < 16; i++)
		h = (h ^ uuid[i]) * 16777619u;
	return (h ^ (h >> 16)) & (VUD_HASH_SIZE - 1);
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

/* A record of @type about @uuid with @payload_len bytes of payload. */
static struct vud_irec *vud_irec_alloc(uint32_t type, const uint8_t uuid[16],
				       uint32_t payload_len)
{
	uint32_t len = (sizeof(struct vhost_vdmabuf_event) + payload_len + 7) & ~7U;
	struct vud_irec *rec = calloc(1, sizeof(*rec) - sizeof(rec->hdr) + len);

	if (!rec)
		return NULL;
	rec->hdr.type = type;
	rec->hdr.len = len;
	rec->hdr.payload_len = payload_len;
	memcpy(rec->hdr.uuid, uuid, 16);
	return rec;
}

static void vud_irec_queue(struct vud_importer *imp, struct vud_irec *rec)
{
	rec->next = NULL;
	rec->prev = imp->tail;
	if (imp->tail)
		imp->tail->next = rec;
	else
		imp->queue = rec;
	imp->tail = rec;
	imp->nr_records++;
}

/* Take @rec out of @imp's queue; it is no part's unsent record any more. */
static struct vud_irec *vud_irec_unlink(struct vud_importer *imp,
					struct vud_irec *rec)
{
	if (rec->prev)
		rec->prev->next = rec->next;
	else
		imp->queue = rec->next;
	if (rec->next)
		rec->next->prev = rec->prev;
	else
		imp->tail = rec->prev;
	imp->nr_records--;
	if (rec->part && rec->part->exported == rec)
		rec->part->exported = NULL;
	if (rec->part && rec->part->presented == rec)
		rec->part->presented = NULL;
	rec->part = NULL;
	return rec;
}

/* @rec takes @old's place in @imp's queue; @old is freed. */
static void vud_irec_replace(struct vud_importer *imp, struct vud_irec *old,
			     struct vud_irec *rec)
{
	rec->prev = old->prev;
	rec->next = old->next;
	if (rec->prev)
		rec->prev->next = rec;
	else
		imp->queue = rec;
	if (rec->next)
		rec->next->prev = rec;
	else
		imp->tail = rec;
	free(old);
}

static struct vud_part *vud_part_of(const struct vud_export *exp,
				    const struct vud_importer *imp)
{
	struct vud_part *part;

	for (part = exp->parts; part; part = part->next)
		if (part->imp == imp)
			return part;
	return NULL;
}

static bool vud_held_by_importers(const struct vud_export *exp)
{
	const struct vud_part *part;

	for (part = exp->parts; part; part = part->next)
		if (part->holds)
			return true;
	return false;
}

/*
 * A part and the EXPORTED record for a new importer, or for every
 * importer when the export is new; the UNEXPORTED record is allocated
 * now, so that an UNEXPORT cannot fail.
 */
static int vud_part_add(struct vud_export *exp, struct vud_importer *imp)
{
	struct vud_part *part = calloc(1, sizeof(*part));
	struct vud_irec *rec;

	if (!part)
		return -ENOMEM;
	part->unexported = vud_irec_alloc(VHOST_VDMABUF_EVENT_UNEXPORTED,
					  exp->uuid, 0);
	rec = vud_irec_alloc(VHOST_VDMABUF_EVENT_EXPORTED, exp->uuid,
			     exp->meta_len);
	if (!part->unexported || !rec) {
		free(part->unexported);
		free(part);
		free(rec);
		return -ENOMEM;
	}
	rec->hdr.size = exp->size;
	if (exp->meta_len)
		memcpy(rec->payload, exp->meta, exp->meta_len);
	rec->part = part;
	part->exported = rec;
	part->imp = imp;
	part->next = exp->parts;
	exp->parts = part;
	vud_irec_queue(imp, rec);
	return 0;
}

/* Free @part; its records still queued stay, as no part's. */
static void vud_part_forget(struct vud_part *part)
{
	if (part->exported)
		part->exported->part = NULL;
	if (part->presented)
		part->presented->part = NULL;
	free(part->unexported);
	free(part);
}

/* Remove @imp's part in @exp, and its unsent records. */
static void vud_part_del(struct vud_export *exp, struct vud_importer *imp)
{
	struct vud_part **p = &exp->parts, *part;

	while (*p && (*p)->imp != imp)
		p = &(*p)->next;
	part = *p;
	if (!part)
		return;
	*p = part->next;
	if (part->exported)
		free(vud_irec_unlink(imp, part->exported));
	if (part->presented)
		free(vud_irec_unlink(imp, part->presented));
	vud_part_forget(part);
}

/* The export's frame is done: tell the driver, with @flags. */
static void vud_frame_complete(struct vud_device *dev, struct vud_export *exp,
			       uint32_t flags)
{
	struct vud_part *part;

	if (!exp->frame_pending)
		return;
	for (part = exp->parts; part; part = part->next)
		part->owes = 0;
	exp->owing = 0;
	exp->frame_pending = false;
	exp->frame_done->ev.flags = htole32(flags);
	dev->nr_frame_events++;
	vud_queue_event(dev, exp->frame_done);
	exp->frame_done = NULL;
}

/* @part no longer owes the pending frame. */
static void vud_part_paid(struct vud_device *dev, struct vud_export *exp,
			  struct vud_part *part)
{
	if (!part->owes)
		return;
	part->owes = 0;
	if (!--exp->owing)
		vud_frame_complete(dev, exp, 0);
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

/*
 * The device lets go of a held export: its host dma-buf, if any, is closed
 * (udmabuf unpins when its last user goes).
 */
static void vud_unhold(struct vud_device *dev, struct vud_export *exp)
{
	if (exp->dmabuf >= 0)
		close(exp->dmabuf);
	exp->dmabuf = -1;
	exp->held = false;
	dev->stats.pinned_bytes -= exp->size;
}

/* Free an export that is out of the hash table (or never was in it). */
static void vud_export_free(struct vud_device *dev, struct vud_export *exp)
{
	struct vud_part *part;

	/* Records already queued about it stay: the importers read them. */
	while ((part = exp->parts)) {
		exp->parts = part->next;
		vud_part_forget(part);
	}
	if (exp->held)
		vud_unhold(dev, exp);
	free(exp->frame_done);
	free(exp->meta);
	free(exp);
}

/* ---------------------------------------------------------------------- */
/* Fault injection (VUD_FAULTS builds, the test bed's only)               */
/* ---------------------------------------------------------------------- */

#ifdef VUD_FAULTS
/*
 * The vhost-user-vdmabuf-faults binary is a device that misbehaves when a
 * test asks it to, so that the guest driver's defences against a device
 * can be tested (Documentation/virtio-dmabuf.rst, "Driver requirements").
 * An export asks through its metadata, which the device otherwise never
 * reads: "vud-fault:" and then
 *
 * - "released-live": a RELEASED for the export after the FRAME_DONE of its
 *   first PRESENT, while it is live (the driver must ignore it).  Not at
 *   EXPORT: the driver may take that event before its EXPORT ioctl has
 *   made the export known, and drop it as of an unknown buffer, which
 *   would test nothing;
 * - "unexport-nomem": its first UNEXPORT answered NOMEM, the export left
 *   live (the driver must let the UNEXPORT be retried);
 * - "released-refused": its first three UNEXPORTs answered NOMEM, each
 *   followed by a RELEASED while the export is live (the driver must
 *   ignore those, and retry until the UNEXPORT is taken);
 * - "bogus-events": after the first FRAME_DONE of it the device sends at
 *   once (no importer owing it), three events the driver must ignore:
 *   one of a UUID no export has, one of a type the spec does not define,
 *   and a FRAME_DONE of no frame;
 * - "present-nomem": its first two PRESENTs answered NOMEM (the driver
 *   must take the frame back: the caller's error for a PRESENT it waits
 *   for, a FRAME_DONE flagged dropped for one sent after its fences);
 * - "frame-done-of:UUID" (32 lowercase hex digits): at its EXPORT, a
 *   FRAME_DONE of the export UUID, another one held, which has no frame
 *   on the device (the driver must ignore it, also while a frame of that
 *   export waits in the guest for its buffer's fences).
 *
 * A production build has none of this: a guest cannot make it misbehave.
 */
#define VUD_FAULT_PREFIX	"vud-fault:"

static bool vud_fault_asked(const struct vud_export *exp, const char *name)
{
	size_t p = strlen(VUD_FAULT_PREFIX), n = strlen(name);

	return exp->meta_len >= p + n &&
	       !memcmp(exp->meta, VUD_FAULT_PREFIX, p) &&
	       !memcmp(exp->meta + p, name, n);
}

static void vud_fault_note(const char *what, const uint8_t uuid[16])
{
	fprintf(stderr, "vhost-user-vdmabuf: fault injected: %s for ", what);
	for (unsigned int i = 0; i < 16; i++)
		fprintf(stderr, "%02x", uuid[i]);
	fputc('\n', stderr);
}

/* Queue an event of @type of @uuid, no export's to answer for. */
static void vud_fault_event(struct vud_device *dev, uint32_t type,
			    const uint8_t uuid[16], const char *what)
{
	struct vud_gevent *gev = calloc(1, sizeof(*gev));

	if (!gev)
		return;
	gev->injected = true;
	gev->ev.type = htole32(type);
	memcpy(gev->ev.uuid, uuid, 16);
	vud_queue_event(dev, gev);
	vud_fault_note(what, uuid);
}

/* @exp asks for a FRAME_DONE of the export its metadata names: send it. */
static void vud_fault_frame_done_of(struct vud_device *dev,
				    const struct vud_export *exp)
{
	size_t p = strlen(VUD_FAULT_PREFIX "frame-done-of:");
	const struct vud_export *target;
	uint8_t uuid[16];
	unsigned int i;

	if (exp->meta_len != p + 32)
		return;
	for (i = 0; i < 32; i++) {
		int c = exp->meta[p + i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return;
		uuid[i / 2] = i % 2 ? uuid[i / 2] | v : v << 4;
	}
	target = vud_find(dev, uuid);
	if (!target || target->frame_pending)
		return;
	vud_fault_event(dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid,
			"FRAME_DONE of an export with no frame");
}

/* @exp was just exported: arm what its metadata asks for. */
static void vud_fault_exported(struct vud_device *dev, struct vud_export *exp)
{
	if (vud_fault_asked(exp, "frame-done-of:"))
		vud_fault_frame_done_of(dev, exp);
	if (vud_fault_asked(exp, "unexport-nomem"))
		exp->refuse_unexports = 1;
	if (vud_fault_asked(exp, "released-refused")) {
		exp->refuse_unexports = 3;
		exp->released_refused = true;
	}
	exp->bogus_released = vud_fault_asked(exp, "released-live");
	exp->bogus_events = vud_fault_asked(exp, "bogus-events");
	if (vud_fault_asked(exp, "present-nomem"))
		exp->refuse_presents = 2;
}

/* Queue a RELEASED of @exp, which is live. */
static void vud_fault_release(struct vud_device *dev, struct vud_export *exp)
{
	vud_fault_event(dev, VIRTIO_VDMABUF_EVT_RELEASED, exp->uuid,
			"RELEASED of a live export");
}

/* @exp, live, was just presented, its FRAME_DONE queued or owed. */
static void vud_fault_presented(struct vud_device *dev, struct vud_export *exp)
{
	uint8_t unknown[16];

	/* After its FRAME_DONE: not while an importer still owes it */
	if (exp->bogus_events && !exp->frame_pending) {
		exp->bogus_events = false;
		memcpy(unknown, exp->uuid, 16);
		unknown[15] ^= 0xff;
		vud_fault_event(dev, VIRTIO_VDMABUF_EVT_RELEASED, unknown,
				"RELEASED of an unknown UUID");
		vud_fault_event(dev, 0x7f, exp->uuid, "an event of type 0x7f");
		vud_fault_event(dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, exp->uuid,
				"FRAME_DONE of no frame");
	}
	if (!exp->bogus_released)
		return;
	exp->bogus_released = false;
	vud_fault_release(dev, exp);
}

/* Answer this PRESENT of @exp NOMEM? */
static bool vud_fault_refuse_present(struct vud_export *exp)
{
	if (!exp->refuse_presents)
		return false;
	exp->refuse_presents--;
	vud_fault_note("PRESENT answered NOMEM", exp->uuid);
	return true;
}

/* Answer this UNEXPORT of @exp NOMEM? */
static bool vud_fault_refuse_unexport(struct vud_device *dev,
				      struct vud_export *exp)
{
	if (!exp->refuse_unexports)
		return false;
	exp->refuse_unexports--;
	vud_fault_note("UNEXPORT answered NOMEM", exp->uuid);
	if (exp->released_refused)
		vud_fault_release(dev, exp);
	return true;
}

/* Is @gev an injected event? (Then it is freed.) */
static bool vud_fault_event_free(struct vud_gevent *gev)
{
	if (!gev->injected)
		return false;
	free(gev);
	return true;
}
#else
static void vud_fault_exported(struct vud_device *dev, struct vud_export *exp)
{
	(void)dev;
	(void)exp;
}

static void vud_fault_presented(struct vud_device *dev, struct vud_export *exp)
{
	(void)dev;
	(void)exp;
}

static bool vud_fault_refuse_present(struct vud_export *exp)
{
	(void)exp;
	return false;
}

static bool vud_fault_refuse_unexport(struct vud_device *dev,
				      struct vud_export *exp)
{
	(void)dev;
	(void)exp;
	return false;
}

static bool vud_fault_event_free(struct vud_gevent *gev)
{
	(void)gev;
	return false;
}
#endif

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
	if (vud_fault_event_free(gev))
		return;
	if (le32toh(gev->ev.type) == VIRTIO_VDMABUF_EVT_RELEASED) {
		struct vud_export *exp = vud_released_export(gev);

		vud_unhash(dev, exp);
		dev->stats.held_exports--;
		vud_export_free(dev, exp);
	} else {
		dev->nr_frame_events--;
		free(gev);
	}
}

/*
 * The export is unexported and no importer holds it: the device lets go
 * of it and queues RELEASED, or, for an export a reset took, frees it.
 */
static void vud_release(struct vud_device *dev, struct vud_export *exp)
{
	vud_unhold(dev, exp);
	if (exp->orphan) {
		struct vud_export **p = &dev->orphans;

		while (*p != exp)
			p = &(*p)->next;
		*p = exp->next;
		dev->stats.held_exports--;
		vud_export_free(dev, exp);
		return;
	}
	exp->released.ev = (struct virtio_vdmabuf_event) {
		.type = htole32(VIRTIO_VDMABUF_EVT_RELEASED),
	};
	memcpy(exp->released.ev.uuid, exp->uuid, 16);
	vud_queue_event(dev, &exp->released);
}

/*
 * The export stops being live: importers are told (UNEXPORTED), except
 * those that take no part in it and have not been handed its EXPORTED
 * yet, whose queues lose every trace of it; the pending frame is done.
 */
static void vud_unexport(struct vud_device *dev, struct vud_export *exp)
{
	struct vud_part *part, *next;

	exp->live = false;
	dev->stats.live_exports--;
	dev->live_bytes -= exp->size;
	for (part = exp->parts; part; part = next) {
		next = part->next;
		if (!part->imp->all && !part->joined && !part->holds &&
		    part->exported) {
			vud_part_del(exp, part->imp);
			continue;
		}
		vud_irec_queue(part->imp, part->unexported);
		part->unexported = NULL;
	}
	vud_frame_complete(dev, exp, 0);
	if (!vud_held_by_importers(exp))
		vud_release(dev, exp);
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

	if (vud_find(dev, uuid))
		return VIRTIO_VDMABUF_S_EXISTS;
	if (dev->stats.live_exports >= lim->max_exports ||
	    dev->live_bytes + size > lim->max_total_size)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (dev->stats.pinned_bytes + size > lim->max_total_size ||
	    dev->stats.held_exports - dev->stats.live_exports >=
	    lim->max_exports)
		return VIRTIO_VDMABUF_S_NOMEM;
	for (const struct vud_importer *imp = dev->importers; imp; imp = imp->next)
		if (imp->nr_records >= lim->max_importer_events)
			return VIRTIO_VDMABUF_S_BUSY;
	return VIRTIO_VDMABUF_S_OK;
}

/*
 * Checks 13-14: the memfd pieces of the ranges as one udmabuf.  With no
 * udmabuf there is no dma-buf to make, so nothing to fail after check 13.
 */
static uint32_t vud_export_make(struct vud_device *dev, struct vud_export *exp,
				const struct virtio_vdmabuf_range *ranges,
				uint32_t nr)
{
	uint32_t max = dev->limits.udmabuf_list_limit;
	struct udmabuf_create_list *cl;
	uint32_t n;

	/*
	 * Disjoint ranges cross each region border once at most: at most
	 * nr + VUD_MAX_REGIONS pieces.  Past udmabuf's list_limit the host
	 * cannot make the dma-buf: NOMEM (check 14), as a failed pin is.
	 */
	n = vud_pieces(dev, ranges, nr, NULL);
	if (!n)
		return VIRTIO_VDMABUF_S_FAULT;
	if (dev->udmabuf < 0)
		return VIRTIO_VDMABUF_S_OK;
	if (n > max)
		return VIRTIO_VDMABUF_S_NOMEM;
	cl = calloc(1, sizeof(*cl) + n * sizeof(cl->list[0]));
	if (!cl)
		return VIRTIO_VDMABUF_S_NOMEM;
	cl->flags = UDMABUF_FLAGS_CLOEXEC;
	cl->count = vud_pieces(dev, ranges, nr, cl->list);
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
	exp->dmabuf = -1;
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
	exp->size = size;
	exp->held = true;
	dev->stats.pinned_bytes += size;
	free(ranges);
	ranges = NULL;

	memcpy(exp->uuid, hdr->uuid, 16);
	exp->nr_ranges = nr;
	exp->meta_len = meta_len;
	/* Every importer is told, or none: an EXPORTED record each. */
	for (struct vud_importer *imp = dev->importers; imp; imp = imp->next) {
		if (vud_part_add(exp, imp)) {
			while (exp->parts)
				vud_part_del(exp, exp->parts->imp);
			status = VIRTIO_VDMABUF_S_NOMEM;
			goto err_free;
		}
	}
	exp->live = true;
	exp->next = dev->exports[vud_hash(exp->uuid)];
	dev->exports[vud_hash(exp->uuid)] = exp;
	dev->stats.live_exports++;
	dev->stats.held_exports++;
	dev->live_bytes += size;
	vud_fault_exported(dev, exp);
	return VIRTIO_VDMABUF_S_OK;

err_free:
	free(ranges);
	if (exp)
		vud_export_free(dev, exp);
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
	if (vud_fault_refuse_unexport(dev, exp))
		return VIRTIO_VDMABUF_S_NOMEM;
	vud_unexport(dev, exp);
	return VIRTIO_VDMABUF_S_OK;
}

/*
 * @imp's PRESENTED record of @exp's new frame, with @nr_rects rectangles
 * of damage after those of the unsent record @old it replaces, if any:
 * the whole buffer (no rectangles) if either is whole or both do not fit.
 */
static struct vud_irec *vud_presented_alloc(const struct vud_export *exp,
					    const struct vud_irec *old,
					    const struct vhost_vdmabuf_rect *rects,
					    uint32_t nr_rects)
{
	uint32_t old_len = old ? old->hdr.payload_len : 0;
	uint32_t len = nr_rects * sizeof(*rects);
	struct vud_irec *rec;

	if ((old && !old_len) || !len ||
	    old_len + len > VIRTIO_VDMABUF_MAX_RECTS * sizeof(*rects)) {
		old_len = 0;
		len = 0;
	}
	rec = vud_irec_alloc(VHOST_VDMABUF_EVENT_PRESENTED, exp->uuid,
			     old_len + len);
	if (!rec)
		return NULL;
	if (old_len)
		memcpy(rec->payload, old->payload, old_len);
	if (len)
		memcpy(rec->payload + old_len, rects, len);
	rec->hdr.nr_frames = !old ? 1 : old->hdr.nr_frames == UINT32_MAX ?
			     UINT32_MAX : old->hdr.nr_frames + 1;
	return rec;
}

/*
 * An importer's queue is full, and @exp's new PRESENTED would not replace
 * an unsent one there: a queue never grows by a frame it already holds.
 */
static bool vud_present_busy(struct vud_device *dev, const struct vud_export *exp)
{
	struct vud_importer *imp;

	if (dev->stats.guest_events >= dev->limits.max_guest_events)
		return true;
	for (imp = dev->importers; imp; imp = imp->next) {
		const struct vud_part *part = vud_part_of(exp, imp);

		if (imp->nr_records >= dev->limits.max_importer_events &&
		    !(part && part->presented))
			return true;
	}
	return false;
}

static uint32_t vud_req_present(struct vud_device *dev,
				const struct virtio_vdmabuf_req_hdr *hdr,
				const struct vud_req *req)
{
	struct vhost_vdmabuf_rect rects[VIRTIO_VDMABUF_MAX_RECTS];
	struct virtio_vdmabuf_rect wire[VIRTIO_VDMABUF_MAX_RECTS];
	struct vud_irec **recs = NULL;
	struct virtio_vdmabuf_present_req pr;
	struct vud_importer *imp;
	struct vud_export *exp;
	struct vud_gevent *gev;
	uint32_t nr_rects, i;

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
	vud_req_read(req, sizeof(pr), wire, nr_rects * sizeof(wire[0]));
	for (i = 0; i < nr_rects; i++)
		rects[i] = (struct vhost_vdmabuf_rect) {
			.x = le32toh(wire[i].x), .y = le32toh(wire[i].y),
			.width = le32toh(wire[i].width),
			.height = le32toh(wire[i].height),
		};
	if (vud_present_busy(dev, exp))
		return VIRTIO_VDMABUF_S_BUSY;
	if (vud_fault_refuse_present(exp))
		return VIRTIO_VDMABUF_S_NOMEM;

	/* Everything this frame needs, or nothing. */
	gev = calloc(1, sizeof(*gev));
	if (dev->nr_importers)
		recs = calloc(dev->nr_importers, sizeof(*recs));
	if (!gev || (dev->nr_importers && !recs))
		goto err_nomem;
	for (imp = dev->importers, i = 0; imp; imp = imp->next, i++) {
		const struct vud_part *part = vud_part_of(exp, imp);

		recs[i] = vud_presented_alloc(exp, part ? part->presented : NULL,
					      rects, nr_rects);
		if (!recs[i])
			goto err_nomem;
	}

	vud_frame_complete(dev, exp, VIRTIO_VDMABUF_EVT_F_REPLACED);
	gev->ev.type = htole32(VIRTIO_VDMABUF_EVT_FRAME_DONE);
	memcpy(gev->ev.uuid, exp->uuid, 16);
	gev->ev.seq = pr.seq;
	exp->frame_pending = true;
	exp->frame_seq = le64toh(pr.seq);
	exp->frame_no = ++dev->last_frame;
	exp->frame_done = gev;
	exp->last_seq = exp->frame_seq;
	exp->last_frame = exp->frame_no;
	for (imp = dev->importers, i = 0; imp; imp = imp->next, i++) {
		struct vud_part *part = vud_part_of(exp, imp);
		struct vud_irec *rec = recs[i];

		rec->hdr.seq = exp->frame_seq;
		rec->hdr.frame = exp->frame_no;
		if (part && (imp->all || part->joined)) {
			rec->hdr.flags = VHOST_VDMABUF_EVENT_F_OWED;
			part->owes = exp->frame_no;
			exp->owing++;
		}
		if (!part) {
			vud_irec_queue(imp, rec);
			continue;
		}
		if (part->presented)	/* in the old one's place */
			vud_irec_replace(imp, part->presented, rec);
		else
			vud_irec_queue(imp, rec);
		rec->part = part;
		part->presented = rec;
	}
	free(recs);
	/* With no importer taking part, the frame is done at once. */
	if (!exp->owing)
		vud_frame_complete(dev, exp, 0);
	vud_fault_presented(dev, exp);
	return VIRTIO_VDMABUF_S_OK;

err_nomem:
	for (i = 0; recs && i < dev->nr_importers; i++)
		free(recs[i]);
	free(recs);
	free(gev);
	return VIRTIO_VDMABUF_S_NOMEM;
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

/* ---------------------------------------------------------------------- */
/* Importers                                                              */
/* ---------------------------------------------------------------------- */

/**
 * vud_importer_new() - a new importer, told of every live export
 * @dev: the device
 * @priv: for the caller (struct vud_importer.priv)
 * @impp: the importer
 *
 * A late importer is at no disadvantage: its queue starts with an
 * EXPORTED record of every buffer live now.
 *
 * Return: 0, -EUSERS at max_importers, or -ENOMEM.
 */
int vud_importer_new(struct vud_device *dev, void *priv,
		     struct vud_importer **impp)
{
	struct vud_importer *imp;
	struct vud_export *exp;
	unsigned int b;

	if (dev->nr_importers >= dev->limits.max_importers)
		return -EUSERS;
	imp = calloc(1, sizeof(*imp));
	if (!imp)
		return -ENOMEM;
	imp->priv = priv;
	for (b = 0; b < VUD_HASH_SIZE; b++)
		for (exp = dev->exports[b]; exp; exp = exp->next)
			if (exp->live && vud_part_add(exp, imp))
				goto err_undo;
	imp->next = dev->importers;
	dev->importers = imp;
	dev->nr_importers++;
	*impp = imp;
	return 0;

err_undo:
	for (b = 0; b < VUD_HASH_SIZE; b++)
		for (exp = dev->exports[b]; exp; exp = exp->next)
			vud_part_del(exp, imp);
	free(imp);
	return -ENOMEM;
}

/**
 * vud_importer_free() - an importer is gone (closed, or its program died)
 * @dev: the device
 * @imp: the importer
 *
 * Every frame it owes counts as done and every import as returned, so
 * that exports it was the last to hold are released.
 */
void vud_importer_free(struct vud_device *dev, struct vud_importer *imp)
{
	struct vud_importer **p = &dev->importers;
	struct vud_export *exp, *next;
	struct vud_part *part;
	struct vud_irec *rec;
	unsigned int b;

	while (*p != imp)
		p = &(*p)->next;
	*p = imp->next;
	dev->nr_importers--;
	for (b = 0; b <= VUD_HASH_SIZE; b++) {
		exp = b < VUD_HASH_SIZE ? dev->exports[b] : dev->orphans;
		for (; exp; exp = next) {
			next = exp->next;
			part = vud_part_of(exp, imp);
			if (!part)
				continue;
			vud_part_paid(dev, exp, part);
			vud_part_del(exp, imp);
			if (!exp->live && exp->held &&
			    !vud_held_by_importers(exp))
				vud_release(dev, exp);
		}
	}
	while ((rec = imp->queue))
		free(vud_irec_unlink(imp, rec));
	free(imp);
}

/** vud_importer_peek() - the next record to hand @imp, or NULL */
const struct vud_irec *vud_importer_peek(const struct vud_importer *imp)
{
	return imp->queue;
}

/** vud_importer_pop() - the next record was handed over: drop it */
void vud_importer_pop(struct vud_importer *imp)
{
	if (imp->queue)
		free(vud_irec_unlink(imp, imp->queue));
}

/**
 * vud_import() - VHOST_VDMABUF_IMPORT: the host dma-buf of a live export
 * @dev: the device
 * @imp: the importer
 * @arg: in: uuid, flags; out: fd (the device's own: send a copy), size
 *
 * The importer holds the export from now on, until it returns it
 * (vud_return()) or goes; and it takes part in the export's frames.
 *
 * Return: 0, -EOPNOTSUPP on a device that makes no host dma-buf, -EINVAL
 * for unknown flags, -ENOENT if no live export has the UUID.
 */
int vud_import(struct vud_device *dev, struct vud_importer *imp,
	       struct vhost_vdmabuf_import *arg)
{
	struct vud_export *exp;
	struct vud_part *part;

	if (dev->udmabuf < 0)
		return -EOPNOTSUPP;
	if (arg->flags & ~VHOST_VDMABUF_FD_KEEP_ON_EXEC)
		return -EINVAL;
	exp = vud_find(dev, arg->uuid);
	part = exp && exp->live ? vud_part_of(exp, imp) : NULL;
	if (!part)
		return -ENOENT;
	if (part->holds == VUD_MAX_HOLDS)
		return -EMFILE;
	part->holds++;
	part->joined = true;
	arg->fd = exp->dmabuf;
	arg->size = exp->size;
	return 0;
}

/**
 * vud_unimport() - undo a vud_import() whose dma-buf never reached the
 *	importer
 * @dev: the device
 * @imp: the importer
 * @uuid: the export
 */
void vud_unimport(struct vud_device *dev, struct vud_importer *imp,
		  const uint8_t uuid[16])
{
	struct vud_export *exp = vud_find(dev, uuid);
	struct vud_part *part = exp ? vud_part_of(exp, imp) : NULL;

	if (part && part->holds)
		part->holds--;
}

/* The export with @uuid that @imp holds: a live one, or one a reset took. */
static struct vud_export *vud_find_held(const struct vud_device *dev,
					const struct vud_importer *imp,
					const uint8_t uuid[16])
{
	struct vud_export *exp = vud_find(dev, uuid);
	const struct vud_part *part = exp ? vud_part_of(exp, imp) : NULL;

	if (part && part->holds)
		return exp;
	for (exp = dev->orphans; exp; exp = exp->next) {
		part = vud_part_of(exp, imp);
		if (part && part->holds && !memcmp(exp->uuid, uuid, 16))
			return exp;
	}
	return NULL;
}

/**
 * vud_return() - the importer has let go of every dma-buf and mapping of
 *	an export it imported
 * @dev: the device
 * @imp: the importer
 * @uuid: the export
 *
 * udmabuf does not tell its creator when the last user of a dma-buf is
 * gone, so the importer says so; an unexported export is released once
 * every importer has returned it or gone.
 *
 * Return: 0, or -ENOENT if @imp holds no export with @uuid.
 */
int vud_return(struct vud_device *dev, struct vud_importer *imp,
	       const uint8_t uuid[16])
{
	struct vud_export *exp = vud_find_held(dev, imp, uuid);
	struct vud_part *part;

	if (!exp)
		return -ENOENT;
	part = vud_part_of(exp, imp);
	part->holds = 0;
	if (!exp->live && !vud_held_by_importers(exp))
		vud_release(dev, exp);
	return 0;
}

/**
 * vud_frame_done() - VHOST_VDMABUF_FRAME_DONE
 * @dev: the device
 * @imp: the importer
 * @arg: the export and the frame number of its PRESENTED record
 *
 * Return: 0; -EINVAL for nonzero flags or padding, frame 0 or a frame
 * never given; -ENOENT if no live export has the UUID (an UNEXPORT
 * completes the frames); -ESTALE if @imp does not owe that frame
 * (answered, replaced or completed already).
 */
int vud_frame_done(struct vud_device *dev, struct vud_importer *imp,
		   const struct vhost_vdmabuf_frame_done *arg)
{
	struct vud_export *exp;
	struct vud_part *part;

	if (arg->flags || arg->padding || !arg->frame ||
	    arg->frame > dev->last_frame)
		return -EINVAL;
	exp = vud_find(dev, arg->uuid);
	if (!exp || !exp->live)
		return -ENOENT;
	part = vud_part_of(exp, imp);
	if (!part || part->owes != arg->frame)
		return -ESTALE;
	vud_part_paid(dev, exp, part);
	return 0;
}

/**
 * vud_frames() - VHOST_VDMABUF_FRAMES: take part in frames, or stop
 * @dev: the device
 * @imp: the importer
 * @arg: one export, or all with VHOST_VDMABUF_FRAMES_F_ALL
 *
 * Return: 0, -EINVAL for a bad op or flags (or a UUID with F_ALL),
 * -ENOENT if no live export has the UUID.
 */
int vud_frames(struct vud_device *dev, struct vud_importer *imp,
	       const struct vhost_vdmabuf_frames *arg)
{
	static const uint8_t zero[16];
	bool join = arg->op == VHOST_VDMABUF_FRAMES_JOIN;
	struct vud_export *exp;
	struct vud_part *part;
	unsigned int b;

	if ((!join && arg->op != VHOST_VDMABUF_FRAMES_LEAVE) ||
	    (arg->flags & ~VHOST_VDMABUF_FRAMES_F_ALL))
		return -EINVAL;
	if (arg->flags & VHOST_VDMABUF_FRAMES_F_ALL) {
		if (memcmp(arg->uuid, zero, 16))
			return -EINVAL;
		imp->all = join;
		if (join)
			return 0;
		/* Leaving all: the frames of none, imported ones included. */
		for (b = 0; b < VUD_HASH_SIZE; b++)
			for (exp = dev->exports[b]; exp; exp = exp->next) {
				part = vud_part_of(exp, imp);
				if (!part)
					continue;
				part->joined = false;
				vud_part_paid(dev, exp, part);
			}
		return 0;
	}
	exp = vud_find(dev, arg->uuid);
	part = exp && exp->live ? vud_part_of(exp, imp) : NULL;
	if (!part)
		return -ENOENT;
	part->joined = join;
	if (!join)
		vud_part_paid(dev, exp, part);
	return 0;
}

/**
 * vud_query() - VHOST_VDMABUF_QUERY
 * @dev: the device
 * @arg: in: uuid; out: everything but the metadata
 * @meta: the metadata, @arg->meta_len bytes
 *
 * Return: 0, -EINVAL for nonzero flags or padding, -ENOENT if no held
 * export has the UUID.
 */
int vud_query(const struct vud_device *dev, struct vhost_vdmabuf_query *arg,
	      const uint8_t **meta)
{
	const struct vud_export *exp;

	if (arg->flags || arg->padding)
		return -EINVAL;
	exp = vud_find(dev, arg->uuid);
	if (!exp || !exp->held)
		for (exp = dev->orphans; exp; exp = exp->next)
			if (!memcmp(exp->uuid, arg->uuid, 16))
				break;
	if (!exp)
		return -ENOENT;
	arg->size = exp->size;
	arg->nr_ranges = exp->nr_ranges;
	arg->state = exp->live ? VHOST_VDMABUF_STATE_LIVE :
		     VHOST_VDMABUF_STATE_UNEXPORTED;
	arg->last_seq = exp->last_seq;
	arg->last_frame = exp->last_frame;
	arg->meta_len = exp->meta_len;
	*meta = exp->meta;
	return 0;
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
	struct vud_export *exp, *next;
	struct vud_gevent *gev;
	unsigned int b;

	/*
	 * Every export ends as an UNEXPORT ends it, and none will be
	 * RELEASED: each leaves the UUID table for the orphans (the driver
	 * may use its UUID again), and goes now if no importer holds it,
	 * else when they let go.  Pending frames end without FRAME_DONE.
	 * Exports whose RELEASED is queued go with the event, below.
	 */
	for (b = 0; b < VUD_HASH_SIZE; b++) {
		exp = dev->exports[b];
		dev->exports[b] = NULL;
		for (; exp; exp = next) {
			next = exp->next;
			if (exp->released.ev.type) {
				exp->next = dev->exports[b];
				dev->exports[b] = exp;
				continue;
			}
			exp->orphan = true;
			exp->next = dev->orphans;
			dev->orphans = exp;
			if (exp->frame_pending) {
				for (struct vud_part *p = exp->parts; p; p = p->next)
					p->owes = 0;
				exp->owing = 0;
				exp->frame_pending = false;
				free(exp->frame_done);
				exp->frame_done = NULL;
			}
			if (exp->live)
				vud_unexport(dev, exp);
		}
	}
	while ((gev = dev->events)) {
		dev->events = gev->next;
		if (vud_fault_event_free(gev))
			continue;
		if (le32toh(gev->ev.type) == VIRTIO_VDMABUF_EVT_RELEASED) {
			exp = vud_released_export(gev);
			vud_unhash(dev, exp);
			dev->stats.held_exports--;
			vud_export_free(dev, exp);
		} else {
			free(gev);
		}
	}
	dev->events_tail = &dev->events;
	dev->nr_frame_events = 0;
	dev->stats.guest_events = 0;
}

/** vud_device_fini() - the front-end is gone: free everything */
void vud_device_fini(struct vud_device *dev)
{
	vud_reset(dev);
	while (dev->importers)
		vud_importer_free(dev, dev->importers);
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
