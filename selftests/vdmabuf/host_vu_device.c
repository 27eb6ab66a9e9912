// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user back-end's device model (tools/vhost-user-vdmabuf/
 * device.c), compiled in and driven directly, with memfds standing in
 * for guest RAM and the real /dev/udmabuf making the host dma-bufs: the
 * malformed requests of host_vdmabuf answered alike (bad_requests.h),
 * exports compared byte for byte with guest RAM, events, limits, reset,
 * and importers (records, frames owed, returns, bounds).
 * Runs in the L1 VM, where udmabuf is loaded.  The device that makes no
 * dma-buf (the daemon's --no-dmabuf) needs no udmabuf: its tests (nodmabuf,
 * bad_nodmabuf) run on any host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mman.h>

#include "bad_requests.h"
#include "vud.h"

#include "kselftest_harness.h"

#define PAGE		BAD_PAGE
/*
 * Guest RAM is [0, RAM), as bad_requests.h has it: its first MiB in memfd
 * B, the rest in memfd A (at the same offsets as the addresses) as two
 * regions, split at HALF.  BAD_BUF is A's first page.
 */
#define RAM		BAD_RAM_SIZE
#define HALF		(RAM / 2)
#define B_SIZE		BAD_BUF

struct ram {
	int a, b;
	uint8_t *amap, *bmap;
};

static int sealed_memfd(uint64_t size, unsigned int seals)
{
	int fd = memfd_create("vu-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, size) ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Each page of guest RAM starts with its address, then a byte pattern. */
static uint8_t ram_byte(uint64_t gpa)
{
	return (gpa * 7 + (gpa >> 12) * 13) & 0xff;
}

static void ram_fill(uint8_t *p, uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = ram_byte(gpa + i);
}

static int ram_init(struct vud_device *dev, struct ram *r)
{
	r->a = sealed_memfd(RAM, F_SEAL_SHRINK | F_SEAL_GROW);
	r->b = sealed_memfd(B_SIZE, F_SEAL_SHRINK | F_SEAL_GROW);
	if (r->a < 0 || r->b < 0)
		return -1;
	r->amap = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, r->a, 0);
	r->bmap = mmap(NULL, B_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->b, 0);
	if (r->amap == MAP_FAILED || r->bmap == MAP_FAILED)
		return -1;
	ram_fill(r->amap, 0, RAM);
	ram_fill(r->bmap, 0, B_SIZE);
	/* The device keeps (and closes) its own copies, as main.c's do. */
	if (vud_add_region(dev, 0, B_SIZE, dup(r->b), 0) ||
	    vud_add_region(dev, B_SIZE, HALF - B_SIZE, dup(r->a), B_SIZE) ||
	    vud_add_region(dev, HALF, HALF, dup(r->a), HALF))
		return -1;
	return 0;
}

static void ram_fini(struct ram *r)
{
	munmap(r->amap, RAM);
	munmap(r->bmap, B_SIZE);
	close(r->a);
	close(r->b);
}

static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void make_uuid(uint8_t uuid[16], unsigned int n)
{
	memset(uuid, 0, 16);
	uuid[0] = 0x5a;
	uuid[6] = 0x40;
	memcpy(uuid + 8, &n, sizeof(n));
}

static uint32_t send(struct vud_device *dev, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct vud_req req = { .iov = &iov, .niov = 1, .len = len };

	return vud_request(dev, &req);
}

static size_t mk_export(uint8_t *buf, const uint8_t uuid[16],
			const struct virtio_vdmabuf_range *r, uint32_t nr,
			uint32_t meta_len)
{
	struct virtio_vdmabuf_export_req *req = (void *)buf;
	uint64_t size = 0;

	for (uint32_t i = 0; i < nr; i++)
		size += r[i].len;
	memset(req, 0, sizeof(*req));
	req->hdr.type = VIRTIO_VDMABUF_REQ_EXPORT;
	memcpy(req->hdr.uuid, uuid, 16);
	req->size = size;
	req->nr_ranges = nr;
	req->meta_len = meta_len;
	memcpy(buf + sizeof(*req), r, nr * sizeof(*r));
	memset(buf + sizeof(*req) + nr * sizeof(*r), 0x6d, meta_len);
	return sizeof(*req) + nr * sizeof(*r) + meta_len;
}

static uint32_t do_export(struct vud_device *dev, const uint8_t uuid[16],
			  uint64_t addr, uint64_t len)
{
	struct virtio_vdmabuf_range r = { .addr = addr, .len = len };
	uint8_t buf[128];

	return send(dev, buf, mk_export(buf, uuid, &r, 1, 0));
}

static uint32_t do_hdr(struct vud_device *dev, uint32_t type,
		       const uint8_t uuid[16])
{
	struct virtio_vdmabuf_req_hdr h = { .type = type };

	memcpy(h.uuid, uuid, 16);
	return send(dev, &h, sizeof(h));
}

static uint32_t do_present(struct vud_device *dev, const uint8_t uuid[16],
			   uint64_t seq)
{
	struct virtio_vdmabuf_present_req p = {
		.hdr.type = VIRTIO_VDMABUF_REQ_PRESENT, .seq = seq,
	};

	memcpy(p.hdr.uuid, uuid, 16);
	return send(dev, &p, sizeof(p));
}

/*
 * A device with F_PRESENT and the test's guest RAM: on /dev/udmabuf and
 * its limits, or, without @udmabuf, the device that makes no dma-buf, on
 * the defaults.
 * Return: 0, -ENODEV without /dev/udmabuf, -EIO if set-up failed.
 */
static int dev_init(struct vud_device *dev, struct ram *ram, bool udmabuf)
{
	struct vud_limits lim;
	char why[512];
	int u = -1;

	if (udmabuf) {
		u = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		if (u < 0)
			return -ENODEV;
	}
	vud_limits_default(&lim);
	if ((udmabuf && vud_limits_from_udmabuf(&lim, why, sizeof(why))) ||
	    vud_device_init(dev, &lim, u)) {
		if (udmabuf)
			close(u);
		return -EIO;
	}
	dev->features = 1ULL << VIRTIO_VDMABUF_F_PRESENT;
	return ram_init(dev, ram) ? -EIO : 0;
}

static void dev_fini(struct vud_device *dev, struct ram *ram)
{
	vud_device_fini(dev);
	if (dev->udmabuf >= 0)
		close(dev->udmabuf);
	ram_fini(ram);
}

FIXTURE(vu) {
	struct vud_device dev;
	struct ram ram;
	int fds;
};

FIXTURE_SETUP(vu)
{
	int ret;

	self->fds = count_fds();
	ret = dev_init(&self->dev, &self->ram, true);
	if (ret == -ENODEV)
		SKIP(return, "/dev/udmabuf is absent (udmabuf not loaded)");
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(vu)
{
	if (self->dev.udmabuf <= 0)
		return;
	dev_fini(&self->dev, &self->ram);
	/* Every udmabuf, region copy and memfd closed. */
	EXPECT_EQ(self->fds, count_fds());
}

/* The advertised limits stay within udmabuf's. */
TEST_F(vu, config)
{
	struct virtio_vdmabuf_config c;
	uint8_t cfg[296];
	long long list_limit = 0, size_mb = 0;
	FILE *f;

	vud_get_config(&self->dev, cfg, sizeof(cfg));
	memcpy(&c, cfg, sizeof(c));
	f = fopen("/sys/module/udmabuf/parameters/list_limit", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lld", &list_limit));
	fclose(f);
	f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lld", &size_mb));
	fclose(f);
	EXPECT_LE(c.max_ranges, list_limit);
	EXPECT_LE(c.max_export_size, (uint64_t)size_mb << 20);
	EXPECT_EQ(1024, c.max_exports);
	EXPECT_EQ(16, c.max_rects);
	/* No outputs: every byte after the limits is zero. */
	for (unsigned int i = sizeof(c); i < sizeof(cfg); i++)
		ASSERT_EQ(0, cfg[i]);
}

/*
 * The host dma-buf holds the guest's pages in buffer order: ranges out of
 * address order, one across two regions of one memfd, one across two
 * memfds; and it is the same memory, not a copy, both ways.
 */
TEST_F(vu, export_is_guest_ram)
{
	const struct virtio_vdmabuf_range r[] = {
		{ .addr = B_SIZE - PAGE, .len = 3 * PAGE },	/* B into A */
		{ .addr = HALF - 2 * PAGE, .len = 4 * PAGE },	/* regions */
		{ .addr = BAD_BUF + 8 * PAGE, .len = 2 * PAGE },
	};
	uint8_t buf[256], uuid[16], *p;
	struct vud_export *exp;
	uint64_t off = 0;

	make_uuid(uuid, 1);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, r, 3, 40)));
	exp = vud_find(&self->dev, uuid);
	ASSERT_NE(NULL, exp);
	EXPECT_EQ(9 * PAGE, exp->size);
	EXPECT_EQ(40, exp->meta_len);
	EXPECT_EQ(0x6d, exp->meta[39]);
	EXPECT_EQ(9 * PAGE, self->dev.stats.pinned_bytes);
	p = mmap(NULL, 9 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 exp->dmabuf, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (unsigned int i = 0; i < 3; i++) {
		for (uint64_t b = 0; b < r[i].len; b++)
			if (p[off + b] != ram_byte(r[i].addr + b)) {
				ASSERT_EQ(ram_byte(r[i].addr + b), p[off + b])
					TH_LOG("range %u byte %llu", i,
					       (unsigned long long)b);
			}
		off += r[i].len;
	}
	/* Zero copy: a write through either side is seen by the other. */
	p[5] = 0xa5;		/* range 0's first page: B's last */
	EXPECT_EQ(0xa5, self->ram.bmap[B_SIZE - PAGE + 5]);
	self->ram.amap[BAD_BUF + 8 * PAGE + 17] = 0x3c;
	EXPECT_EQ(0x3c, p[7 * PAGE + 17]);
	munmap(p, 9 * PAGE);
}

/* Request bytes split across many buffers read as one stream. */
TEST_F(vu, request_split_anywhere)
{
	struct virtio_vdmabuf_range r = { .addr = BAD_BUF, .len = PAGE };
	uint8_t buf[128], uuid[16];
	struct iovec iov[128];
	struct vud_req req;
	size_t len;

	make_uuid(uuid, 2);
	len = mk_export(buf, uuid, &r, 1, 3);
	for (size_t i = 0; i < len; i++)
		iov[i] = (struct iovec) { .iov_base = buf + i, .iov_len = 1 };
	req = (struct vud_req) { .iov = iov, .niov = len, .len = len };
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, vud_request(&self->dev, &req));
	EXPECT_EQ(1, self->dev.stats.live_exports);
}

/*
 * UNEXPORT releases at once (no host user): RELEASED is queued, the pages
 * are let go; the UUID stays taken until the driver has the event.
 */
TEST_F(vu, unexport_releases)
{
	const struct virtio_vdmabuf_event *ev;
	uint8_t uuid[16];
	int fds = count_fds();

	make_uuid(uuid, 3);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, 16 * PAGE));
	EXPECT_EQ(fds + 1, count_fds());
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	EXPECT_EQ(fds, count_fds());
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(0, self->dev.stats.live_exports);
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOENT,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOENT, do_present(&self->dev, uuid, 1));
	EXPECT_EQ(VIRTIO_VDMABUF_S_EXISTS,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	ev = vud_peek_event(&self->dev);
	ASSERT_NE(NULL, ev);
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev->type);
	EXPECT_EQ(0, ev->flags);
	EXPECT_EQ(0, ev->seq);
	EXPECT_EQ(0, memcmp(ev->uuid, uuid, 16));
	vud_pop_event(&self->dev);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
}

/*
 * With no importer every frame is done at once, in order, before the
 * export's RELEASED; the backlog is capped with BUSY, never dropped.
 */
TEST_F(vu, present_frame_done)
{
	const struct virtio_vdmabuf_event *ev;
	uint8_t uuid[16];
	unsigned int i;

	self->dev.limits.max_guest_events = 16;
	make_uuid(uuid, 4);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	for (i = 0; i < 16; i++)
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_present(&self->dev, uuid, 100 + i));
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY, do_present(&self->dev, uuid, 99));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	for (i = 0; i < 17; i++) {
		ev = vud_peek_event(&self->dev);
		ASSERT_NE(NULL, ev);
		EXPECT_EQ(i < 16 ? VIRTIO_VDMABUF_EVT_FRAME_DONE :
			  VIRTIO_VDMABUF_EVT_RELEASED, ev->type);
		EXPECT_EQ(i < 16 ? 100 + i : 0, ev->seq);
		EXPECT_EQ(0, ev->flags);
		vud_pop_event(&self->dev);
	}
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));

	/* PRESENT is a feature: without it, UNSUPPORTED. */
	self->dev.features = 0;
	make_uuid(uuid, 5);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	EXPECT_EQ(VIRTIO_VDMABUF_S_UNSUPPORTED,
		  do_present(&self->dev, uuid, 1));
}

TEST_F(vu, limits)
{
	struct virtio_vdmabuf_range r[3];
	uint8_t buf[256], uuid[16];
	unsigned int i;

	/* max_exports, then max_total_size, with LIMIT. */
	self->dev.limits.max_exports = 4;
	self->dev.limits.max_total_size = 6 * PAGE;
	for (i = 0; i < 4; i++) {
		make_uuid(uuid, 10 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->dev, uuid, BAD_BUF + i * PAGE, PAGE));
	}
	make_uuid(uuid, 20);
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->dev, uuid, BAD_BUF + 8 * PAGE, PAGE));
	make_uuid(uuid, 10);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	make_uuid(uuid, 21);
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->dev, uuid, BAD_BUF + 8 * PAGE, 4 * PAGE));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF + 8 * PAGE, 3 * PAGE));
	EXPECT_EQ(2, self->dev.stats.bad_requests);

	/*
	 * udmabuf's list_limit counts memfd pieces: ranges that cross
	 * region borders into other memfds can exceed it (NOMEM: the host
	 * cannot make the dma-buf); pieces that go on in the same memfd, in
	 * regions of their own, merge.
	 */
	self->dev.limits.max_exports = 1024;
	self->dev.limits.max_total_size = 1ULL << 30;
	self->dev.limits.udmabuf_list_limit = 2;
	r[0] = (struct virtio_vdmabuf_range) { B_SIZE - PAGE, 2 * PAGE };
	r[1] = (struct virtio_vdmabuf_range) { BAD_BUF + 32 * PAGE, PAGE };
	make_uuid(uuid, 22);
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOMEM,
		  send(&self->dev, buf, mk_export(buf, uuid, r, 2, 0)));
	/* Not all guest RAM: FAULT comes first, however many pieces. */
	r[2] = (struct virtio_vdmabuf_range) { 4 * RAM, PAGE };
	EXPECT_EQ(VIRTIO_VDMABUF_S_FAULT,
		  send(&self->dev, buf, mk_export(buf, uuid, r, 3, 0)));
	/* Two pieces: within the limit. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, r, 1, 0)));
	make_uuid(uuid, 23);
	r[0] = (struct virtio_vdmabuf_range) { HALF - PAGE, 2 * PAGE };
	r[1] = (struct virtio_vdmabuf_range) { HALF + PAGE, PAGE };
	r[2] = (struct virtio_vdmabuf_range) { BAD_BUF + 40 * PAGE, PAGE };
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, r, 3, 0)));
}

/*
 * What a reset must end: three exports of 4 pages, IDs @id.., each with a
 * frame presented, the last also unexported (its RELEASED queued).  @uuid:
 * the last one's.
 */
static void exports_for_reset(struct __test_metadata *_metadata,
			      struct vud_device *dev, unsigned int id,
			      uint8_t uuid[16])
{
	for (unsigned int i = 0; i < 3; i++) {
		make_uuid(uuid, id + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(dev, uuid, BAD_BUF + 4 * i * PAGE, 4 * PAGE));
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(dev, uuid, i));
	}
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
}

/* A reset ends every export and drops every queued event, at once. */
TEST_F(vu, reset)
{
	uint8_t uuid[16];
	int fds = count_fds();

	exports_for_reset(_metadata, &self->dev, 30, uuid);
	if (_metadata->exit_code)
		return;
	EXPECT_EQ(fds + 2, count_fds());
	vud_reset(&self->dev);
	EXPECT_EQ(fds, count_fds());
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.live_exports);
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(0, self->dev.stats.guest_events);
	/* Every UUID is free again, guest RAM still known. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
}

/* The overlapping-ranges cases of host_vdmabuf, answered alike. */
TEST_F(vu, overlapping_ranges)
{
	const struct bad_overlap *c = bad_overlaps;
	struct virtio_vdmabuf_range r[2];
	uint8_t buf[256], uuid[16];

	for (unsigned int i = 0; i < ARRAY_SIZE(bad_overlaps); i++) {
		make_uuid(uuid, 40 + i);
		r[0] = (struct virtio_vdmabuf_range) { c[i].a0, c[i].l0 };
		r[1] = (struct virtio_vdmabuf_range) { c[i].a1, c[i].l1 };
		EXPECT_EQ(c[i].status,
			  send(&self->dev, buf, mk_export(buf, uuid, r, 2, 0)))
			TH_LOG("case %u", i);
	}
	EXPECT_EQ(2, self->dev.stats.live_exports);
	EXPECT_EQ(16 * PAGE, self->dev.stats.pinned_bytes);
}

/* Guest RAM udmabuf cannot take is refused, saying what to change. */
TEST(memfd_checks)
{
	char why[256] = "";
	FILE *tmp = tmpfile();
	int fd;

	ASSERT_NE(NULL, tmp);
	EXPECT_EQ(-EINVAL, vud_check_memfd(fileno(tmp), why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "memory-backend-memfd"));
	fclose(tmp);
	fd = sealed_memfd(PAGE, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, vud_check_memfd(fd, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "shrinking"));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	EXPECT_EQ(0, vud_check_memfd(fd, why, sizeof(why)));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(-EINVAL, vud_check_memfd(fd, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "writing"));
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* Importers                                                              */
/* ---------------------------------------------------------------------- */

/* The next record queued for @imp, which must be of @type about @uuid. */
static const struct vud_irec *next_rec(struct vud_importer *imp)
{
	return vud_importer_peek(imp);
}

static void take_rec(struct __test_metadata *_metadata,
		     struct vud_importer *imp, uint32_t type,
		     const uint8_t uuid[16], struct vhost_vdmabuf_event *out)
{
	const struct vud_irec *rec = next_rec(imp);

	ASSERT_NE(NULL, rec);
	EXPECT_EQ(type, rec->hdr.type);
	EXPECT_EQ(0, memcmp(rec->hdr.uuid, uuid, 16));
	EXPECT_EQ(0, rec->hdr.len % 8);
	EXPECT_LE(sizeof(rec->hdr) + rec->hdr.payload_len, rec->hdr.len);
	if (out)
		*out = rec->hdr;
	vud_importer_pop(imp);
}

/* The next driver event, which must be @type about @uuid with @seq. */
static void take_event(struct __test_metadata *_metadata,
		       struct vud_device *dev, uint32_t type,
		       const uint8_t uuid[16], uint64_t seq, uint32_t flags)
{
	const struct virtio_vdmabuf_event *ev = vud_peek_event(dev);

	ASSERT_NE(NULL, ev);
	EXPECT_EQ(type, ev->type);
	EXPECT_EQ(0, memcmp(ev->uuid, uuid, 16));
	EXPECT_EQ(seq, ev->seq);
	EXPECT_EQ(flags, ev->flags);
	vud_pop_event(dev);
}

static int frame_done(struct vud_device *dev, struct vud_importer *imp,
		      const uint8_t uuid[16], uint64_t frame)
{
	struct vhost_vdmabuf_frame_done a = { .frame = frame };

	memcpy(a.uuid, uuid, 16);
	return vud_frame_done(dev, imp, &a);
}

static int import(struct vud_device *dev, struct vud_importer *imp,
		  const uint8_t uuid[16])
{
	struct vhost_vdmabuf_import a = {};

	memcpy(a.uuid, uuid, 16);
	return vud_import(dev, imp, &a);
}

/* A watching importer: every record, owes nothing, holds nothing. */
TEST_F(vu, importer_watches)
{
	struct vhost_vdmabuf_event h;
	struct virtio_vdmabuf_range r = { .addr = BAD_BUF, .len = 2 * PAGE };
	struct vud_importer *imp;
	uint8_t buf[128], uuid[16];

	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	make_uuid(uuid, 50);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, &r, 1, 12)));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, &h);
	EXPECT_EQ(2 * PAGE, h.size);
	EXPECT_EQ(12, h.payload_len);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 7));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, &h);
	EXPECT_EQ(7, h.seq);
	EXPECT_EQ(1, h.frame);
	EXPECT_EQ(1, h.nr_frames);
	EXPECT_EQ(0, h.flags);
	/* Nobody owes the frame: done at once. */
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 7, 0);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	EXPECT_EQ(NULL, next_rec(imp));
	vud_importer_free(&self->dev, imp);
}

/*
 * An import holds the export past its UNEXPORT until returned, and owes
 * each frame; a newer PRESENT replaces an unanswered frame (REPLACED) and
 * an unsent PRESENTED record, whose damage it merges.
 */
TEST_F(vu, import_holds_and_owes)
{
	struct virtio_vdmabuf_present_req *p;
	struct vhost_vdmabuf_event h;
	struct vhost_vdmabuf_import a = {};
	struct vud_importer *imp;
	uint8_t buf[128], uuid[16];

	make_uuid(uuid, 51);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, 4 * PAGE));
	/* A late importer is told of the live export first. */
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	memcpy(a.uuid, uuid, 16);
	a.flags = 2;
	EXPECT_EQ(-EINVAL, vud_import(&self->dev, imp, &a));
	a.flags = 0;
	ASSERT_EQ(0, vud_import(&self->dev, imp, &a));
	EXPECT_EQ(vud_find(&self->dev, uuid)->dmabuf, (int)a.fd);
	EXPECT_EQ(4 * PAGE, a.size);

	/* Frame 1 (seq 10), one rectangle; then frame 2 (seq 11), another. */
	p = (void *)buf;
	memset(buf, 0, sizeof(buf));
	p->hdr.type = VIRTIO_VDMABUF_REQ_PRESENT;
	memcpy(p->hdr.uuid, uuid, 16);
	p->nr_rects = 1;
	p->seq = 10;
	((struct virtio_vdmabuf_rect *)(p + 1))->width = 3;
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, send(&self->dev, buf, sizeof(*p) + 16));
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(-EINVAL, frame_done(&self->dev, imp, uuid, 0));
	EXPECT_EQ(-EINVAL, frame_done(&self->dev, imp, uuid, 2));
	p->seq = 11;
	((struct virtio_vdmabuf_rect *)(p + 1))->width = 5;
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, send(&self->dev, buf, sizeof(*p) + 16));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid,
		   10, VIRTIO_VDMABUF_EVT_F_REPLACED);
	/* One record for both frames, in the first one's place. */
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, &h);
	EXPECT_EQ(11, h.seq);
	EXPECT_EQ(2, h.frame);
	EXPECT_EQ(2, h.nr_frames);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, h.flags);
	EXPECT_EQ(2 * sizeof(struct vhost_vdmabuf_rect), h.payload_len);
	EXPECT_EQ(NULL, next_rec(imp));
	EXPECT_EQ(-ESTALE, frame_done(&self->dev, imp, uuid, 1));
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, frame_done(&self->dev, imp, uuid, 2));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 11, 0);

	/* Unexported, but held: no RELEASED until returned. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(4 * PAGE, self->dev.stats.pinned_bytes);
	EXPECT_EQ(-ENOENT, import(&self->dev, imp, uuid));
	ASSERT_EQ(0, vud_return(&self->dev, imp, uuid));
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	EXPECT_EQ(-ENOENT, vud_return(&self->dev, imp, uuid));
	vud_importer_free(&self->dev, imp);
}

/* An importer that goes pays what it owes and returns what it holds. */
TEST_F(vu, importer_gone_pays_and_returns)
{
	struct vud_importer *imp, *watcher;
	uint8_t uuid[16];

	make_uuid(uuid, 52);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &watcher));
	ASSERT_EQ(0, import(&self->dev, imp, uuid));
	/* Read: the watcher keeps the rest of the story (below). */
	take_rec(_metadata, watcher, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 3));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	/* UNEXPORT completes the frame; the import still holds it. */
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 3, 0);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	vud_importer_free(&self->dev, imp);
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	/* Records of a freed export stay for the watcher to read. */
	take_rec(_metadata, watcher, VHOST_VDMABUF_EVENT_PRESENTED, uuid, NULL);
	take_rec(_metadata, watcher, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	vud_importer_free(&self->dev, watcher);
}

/*
 * A watcher that was not handed an export's EXPORTED yet loses every
 * trace of it at its UNEXPORT; and its full queue makes EXPORT BUSY,
 * PRESENT too unless it replaces an unsent record.
 */
TEST_F(vu, importer_queue_bounded)
{
	struct vud_importer *imp;
	uint8_t uuid[16];
	unsigned int i;

	self->dev.limits.max_importer_events = 16;
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	make_uuid(uuid, 60);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	EXPECT_EQ(NULL, next_rec(imp));
	vud_pop_event(&self->dev);	/* its RELEASED */

	for (i = 0; i < 15; i++) {
		make_uuid(uuid, 61 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->dev, uuid, BAD_BUF + i * PAGE, PAGE));
	}
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 1));
	EXPECT_EQ(16, imp->nr_records);
	make_uuid(uuid, 90);
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY,
		  do_export(&self->dev, uuid, BAD_BUF + 20 * PAGE, PAGE));
	make_uuid(uuid, 61 + 14);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 2));
	make_uuid(uuid, 61);
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY, do_present(&self->dev, uuid, 1));
	EXPECT_EQ(16, imp->nr_records);
	vud_importer_pop(imp);
	make_uuid(uuid, 90);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF + 20 * PAGE, PAGE));
	vud_importer_free(&self->dev, imp);
}

/* Joined to every buffer: leaving one pays its frame, the next is owed. */
TEST_F(vu, frames_all)
{
	struct vhost_vdmabuf_frames f = { .op = VHOST_VDMABUF_FRAMES_JOIN,
					  .flags = VHOST_VDMABUF_FRAMES_F_ALL };
	struct vhost_vdmabuf_event h;
	struct vud_importer *imp;
	uint8_t uuid[16];

	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	ASSERT_EQ(0, vud_frames(&self->dev, imp, &f));
	make_uuid(uuid, 70);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 1));
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	f = (struct vhost_vdmabuf_frames) { .op = VHOST_VDMABUF_FRAMES_LEAVE };
	memcpy(f.uuid, uuid, 16);
	ASSERT_EQ(0, vud_frames(&self->dev, imp, &f));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 1, 0);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 2));
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, &h);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, h.flags);
	EXPECT_EQ(2, h.nr_frames);
	/* Leaving all pays it, and the frames of imported buffers too. */
	ASSERT_EQ(0, import(&self->dev, imp, uuid));
	f = (struct vhost_vdmabuf_frames) { .op = VHOST_VDMABUF_FRAMES_LEAVE,
					    .flags = VHOST_VDMABUF_FRAMES_F_ALL };
	ASSERT_EQ(0, vud_frames(&self->dev, imp, &f));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 2, 0);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 3));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 3, 0);
	f.op = 3;
	EXPECT_EQ(-EINVAL, vud_frames(&self->dev, imp, &f));
	vud_importer_free(&self->dev, imp);
}

/* QUERY: a live export, then an unexported one still held. */
TEST_F(vu, query)
{
	struct virtio_vdmabuf_range r = { .addr = BAD_BUF, .len = PAGE };
	struct vhost_vdmabuf_query q = {};
	struct vud_importer *imp;
	uint8_t buf[128], uuid[16];
	const uint8_t *meta = NULL;

	make_uuid(uuid, 80);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, &r, 1, 9)));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 42));
	memcpy(q.uuid, uuid, 16);
	ASSERT_EQ(0, vud_query(&self->dev, &q, &meta));
	EXPECT_EQ(PAGE, q.size);
	EXPECT_EQ(1, q.nr_ranges);
	EXPECT_EQ(VHOST_VDMABUF_STATE_LIVE, q.state);
	EXPECT_EQ(42, q.last_seq);
	EXPECT_EQ(1, q.last_frame);
	EXPECT_EQ(9, q.meta_len);
	EXPECT_EQ(0x6d, meta[8]);
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	ASSERT_EQ(0, import(&self->dev, imp, uuid));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	ASSERT_EQ(0, vud_query(&self->dev, &q, &meta));
	EXPECT_EQ(VHOST_VDMABUF_STATE_UNEXPORTED, q.state);
	q.flags = 1;
	EXPECT_EQ(-EINVAL, vud_query(&self->dev, &q, &meta));
	q.flags = 0;
	vud_importer_free(&self->dev, imp);
	vud_pop_event(&self->dev);	/* FRAME_DONE of 42 */
	vud_pop_event(&self->dev);	/* RELEASED */
	EXPECT_EQ(-ENOENT, vud_query(&self->dev, &q, &meta));
}

/*
 * A reset takes imported exports from the driver without RELEASED; they
 * stay until their importers let go, and their UUIDs with them.
 */
TEST_F(vu, reset_with_imports)
{
	struct vud_importer *imp;
	uint8_t uuid[16];

	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	make_uuid(uuid, 85);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, 2 * PAGE));
	ASSERT_EQ(0, import(&self->dev, imp, uuid));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 5));
	vud_reset(&self->dev);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.live_exports);
	EXPECT_EQ(1, self->dev.stats.held_exports);
	EXPECT_EQ(2 * PAGE, self->dev.stats.pinned_bytes);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, NULL);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	/* The frame it owed ended with the reset: nothing to answer. */
	EXPECT_EQ(-ENOENT, frame_done(&self->dev, imp, uuid, 1));
	/* The driver may use the UUID again at once (a reset is RELEASED). */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF + 8 * PAGE, PAGE));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	/* Returning gives back the import the reset took, not the new one. */
	ASSERT_EQ(0, vud_return(&self->dev, imp, uuid));
	EXPECT_NE(NULL, vud_find(&self->dev, uuid));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(NULL, vud_find(&self->dev, uuid));
	vud_importer_free(&self->dev, imp);
}

/*
 * A UUID used again after RELEASED is a new export: records of the old
 * one still queued keep their place and are never taken for the new
 * one's (the driver chooses UUIDs; nothing stops it reusing one).
 */
TEST_F(vu, uuid_reused_after_release)
{
	struct vhost_vdmabuf_event h;
	struct vud_importer *imp;
	uint8_t uuid[16];
	struct vhost_vdmabuf_frames all = { .op = VHOST_VDMABUF_FRAMES_JOIN,
					    .flags = VHOST_VDMABUF_FRAMES_F_ALL };

	/* Joined to all: an unexport purges no unread record of it. */
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	ASSERT_EQ(0, vud_frames(&self->dev, imp, &all));
	make_uuid(uuid, 95);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 1));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	vud_pop_event(&self->dev);	/* FRAME_DONE 1 */
	vud_pop_event(&self->dev);	/* RELEASED */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF + PAGE, PAGE));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 2));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	/* Old: PRESENTED, UNEXPORTED; new: EXPORTED, PRESENTED, UNEXPORTED. */
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, &h);
	EXPECT_EQ(1, h.seq);
	EXPECT_EQ(1, h.nr_frames);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_PRESENTED, uuid, &h);
	EXPECT_EQ(2, h.seq);
	EXPECT_EQ(1, h.nr_frames);
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	EXPECT_EQ(NULL, next_rec(imp));
	vud_importer_free(&self->dev, imp);
}

/* max_importers: one more gets EUSERS. */
TEST_F(vu, importers_capped)
{
	struct vud_importer *imp[3];

	self->dev.limits.max_importers = 2;
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp[0]));
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp[1]));
	EXPECT_EQ(-EUSERS, vud_importer_new(&self->dev, NULL, &imp[2]));
	vud_importer_free(&self->dev, imp[0]);
	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp[2]));
	vud_importer_free(&self->dev, imp[1]);
	vud_importer_free(&self->dev, imp[2]);
}

/* Malformed and over-limit requests: the kernel back-end's statuses. */
FIXTURE(bad) {
	struct vud_device dev;
	struct ram ram;
};

FIXTURE_VARIANT(bad) {
	struct bad_req r;
};

#define BAD_VARIANT(name, ...) \
	FIXTURE_VARIANT_ADD(bad, name) { .r = { __VA_ARGS__ } };
BAD_REQUESTS(BAD_VARIANT)

FIXTURE_SETUP(bad)
{
	int ret = dev_init(&self->dev, &self->ram, true);

	if (ret == -ENODEV)
		SKIP(return, "/dev/udmabuf is absent (udmabuf not loaded)");
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(bad)
{
	if (self->dev.udmabuf <= 0)
		return;
	dev_fini(&self->dev, &self->ram);
}

/* @r answered with its status, changing nothing, on a new @dev. */
static void check_bad_request(struct __test_metadata *_metadata,
			      struct vud_device *dev, const struct bad_req *r)
{
	static uint8_t buf[BAD_REQ_BUF];
	struct virtio_vdmabuf_config cfg;
	uint8_t uuid[16];
	size_t len;

	vud_get_config(dev, (uint8_t *)&cfg, sizeof(cfg));
	len = bad_req_build(r, &cfg, buf);
	EXPECT_EQ(r->status, send(dev, buf, len));
	EXPECT_EQ(1, dev->stats.requests);
	EXPECT_EQ(1, dev->stats.bad_requests);
	EXPECT_EQ(0, dev->stats.pinned_bytes);
	EXPECT_EQ(0, dev->stats.live_exports);
	EXPECT_EQ(NULL, vud_peek_event(dev));
	/* And the device works after it. */
	make_uuid(uuid, 99);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_export(dev, uuid, BAD_BUF, 2 * PAGE));
	EXPECT_EQ(1, dev->stats.bad_requests);
}

TEST_F(bad, request)
{
	check_bad_request(_metadata, &self->dev, &variant->r);
}

/* ---------------------------------------------------------------------- */
/* The device that makes no dma-buf: no /dev/udmabuf needed                */
/* ---------------------------------------------------------------------- */

FIXTURE(nodmabuf) {
	struct vud_device dev;
	struct ram ram;
	int fds;
};

FIXTURE_SETUP(nodmabuf)
{
	self->fds = count_fds();
	ASSERT_EQ(0, dev_init(&self->dev, &self->ram, false));
	ASSERT_EQ(-1, self->dev.udmabuf);
}

FIXTURE_TEARDOWN(nodmabuf)
{
	dev_fini(&self->dev, &self->ram);
	EXPECT_EQ(self->fds, count_fds());
}

/* The kernel back-end's defaults, and no list_limit (nothing to cap). */
TEST_F(nodmabuf, config)
{
	struct virtio_vdmabuf_config c;

	vud_get_config(&self->dev, (uint8_t *)&c, sizeof(c));
	EXPECT_EQ(16384, c.max_ranges);
	EXPECT_EQ(1024, c.max_meta_len);
	EXPECT_EQ(1024, c.max_exports);
	EXPECT_EQ(16, c.max_rects);
	EXPECT_EQ(512ULL << 20, c.max_export_size);
	EXPECT_EQ(2048ULL << 20, c.max_total_size);
	EXPECT_EQ(0, self->dev.limits.udmabuf_list_limit);
}

/*
 * An export is held and counted as with udmabuf, with no dma-buf and no
 * fd; UNEXPORT releases it at once, and it is gone once the driver has
 * the RELEASED.
 */
TEST_F(nodmabuf, export_unexport)
{
	struct virtio_vdmabuf_range r = { .addr = BAD_BUF, .len = 16 * PAGE };
	struct vhost_vdmabuf_query q = {};
	const uint8_t *meta = NULL;
	uint8_t buf[128], uuid[16];
	struct vud_export *exp;
	int fds = count_fds();

	make_uuid(uuid, 100);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, &r, 1, 5)));
	exp = vud_find(&self->dev, uuid);
	ASSERT_NE(NULL, exp);
	EXPECT_EQ(-1, exp->dmabuf);
	EXPECT_TRUE(exp->held);
	EXPECT_EQ(fds, count_fds());
	EXPECT_EQ(16 * PAGE, self->dev.stats.pinned_bytes);
	EXPECT_EQ(1, self->dev.stats.live_exports);
	EXPECT_EQ(1, self->dev.stats.held_exports);
	memcpy(q.uuid, uuid, 16);
	ASSERT_EQ(0, vud_query(&self->dev, &q, &meta));
	EXPECT_EQ(VHOST_VDMABUF_STATE_LIVE, q.state);
	EXPECT_EQ(5, q.meta_len);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->dev, uuid, 7));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_FRAME_DONE, uuid, 7, 0);

	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	EXPECT_FALSE(exp->held);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(0, self->dev.stats.live_exports);
	EXPECT_EQ(-ENOENT, vud_query(&self->dev, &q, &meta));
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOENT,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	EXPECT_EQ(VIRTIO_VDMABUF_S_EXISTS,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(NULL, vud_find(&self->dev, uuid));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	EXPECT_EQ(PAGE, self->dev.stats.pinned_bytes);
}

/* Check 13 stays: a range not all guest RAM is FAULT. */
TEST_F(nodmabuf, not_guest_ram)
{
	uint8_t uuid[16];

	make_uuid(uuid, 101);
	EXPECT_EQ(VIRTIO_VDMABUF_S_FAULT,
		  do_export(&self->dev, uuid, 4 * RAM, PAGE));
	EXPECT_EQ(VIRTIO_VDMABUF_S_FAULT,
		  do_export(&self->dev, uuid, RAM - PAGE, 2 * PAGE));
	EXPECT_EQ(2, self->dev.stats.bad_requests);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(NULL, vud_find(&self->dev, uuid));
}

/*
 * 2048 ranges a page apart, 2048 memfd pieces: twice udmabuf's default
 * list_limit (1024), which would have the udmabuf device answer NOMEM.
 */
TEST_F(nodmabuf, pieces_uncapped)
{
	const uint32_t nr = 2048;
	struct virtio_vdmabuf_range *r = calloc(nr, sizeof(*r));
	uint8_t *buf = malloc(sizeof(struct virtio_vdmabuf_export_req) +
			      nr * sizeof(*r));
	uint8_t uuid[16];

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, buf);
	for (uint32_t i = 0; i < nr; i++)
		r[i] = (struct virtio_vdmabuf_range) {
			.addr = BAD_BUF + 2 * i * PAGE, .len = PAGE,
		};
	make_uuid(uuid, 102);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  send(&self->dev, buf, mk_export(buf, uuid, r, nr, 0)));
	EXPECT_EQ(nr * PAGE, self->dev.stats.pinned_bytes);
	free(buf);
	free(r);
}

/* A reset ends live exports, and drops queued RELEASEDs, as with udmabuf. */
TEST_F(nodmabuf, reset)
{
	uint8_t uuid[16];

	exports_for_reset(_metadata, &self->dev, 110, uuid);
	if (_metadata->exit_code)
		return;
	EXPECT_EQ(8 * PAGE, self->dev.stats.pinned_bytes);
	EXPECT_EQ(3, self->dev.stats.held_exports);
	vud_reset(&self->dev);
	EXPECT_EQ(NULL, vud_peek_event(&self->dev));
	EXPECT_EQ(0, self->dev.stats.live_exports);
	EXPECT_EQ(0, self->dev.stats.held_exports);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	EXPECT_EQ(0, self->dev.stats.guest_events);
	EXPECT_EQ(NULL, self->dev.orphans);
	/* Every UUID is free again, guest RAM still known. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
}

/*
 * No dma-buf, no import (main.c serves no importer here; the model says
 * so too), and an importer that tried holds nothing.
 */
TEST_F(nodmabuf, import_refused)
{
	struct vud_importer *imp;
	uint8_t uuid[16];

	ASSERT_EQ(0, vud_importer_new(&self->dev, NULL, &imp));
	make_uuid(uuid, 120);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->dev, uuid, BAD_BUF, PAGE));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_EXPORTED, uuid, NULL);
	EXPECT_EQ(-EOPNOTSUPP, import(&self->dev, imp, uuid));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_hdr(&self->dev, VIRTIO_VDMABUF_REQ_UNEXPORT, uuid));
	take_rec(_metadata, imp, VHOST_VDMABUF_EVENT_UNEXPORTED, uuid, NULL);
	take_event(_metadata, &self->dev, VIRTIO_VDMABUF_EVT_RELEASED, uuid, 0, 0);
	EXPECT_EQ(0, self->dev.stats.pinned_bytes);
	vud_importer_free(&self->dev, imp);
}

/* The malformed and over-limit requests, answered as with udmabuf. */
FIXTURE(bad_nodmabuf) {
	struct vud_device dev;
	struct ram ram;
};

FIXTURE_VARIANT(bad_nodmabuf) {
	struct bad_req r;
};

#define BAD_NODMABUF_VARIANT(name, ...) \
	FIXTURE_VARIANT_ADD(bad_nodmabuf, name) { .r = { __VA_ARGS__ } };
BAD_REQUESTS(BAD_NODMABUF_VARIANT)

FIXTURE_SETUP(bad_nodmabuf)
{
	ASSERT_EQ(0, dev_init(&self->dev, &self->ram, false));
}

FIXTURE_TEARDOWN(bad_nodmabuf)
{
	dev_fini(&self->dev, &self->ram);
}

TEST_F(bad_nodmabuf, request)
{
	check_bad_request(_metadata, &self->dev, &variant->r);
}

TEST_HARNESS_MAIN
