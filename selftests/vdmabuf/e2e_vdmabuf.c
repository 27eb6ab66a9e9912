// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_vdmabuf: end-to-end tests, guest (L2) side, on libvdmabuf.
 *
 * Needs importer_e2e running on the host (L1) on the device's importer
 * socket.  The two sides talk only through the device (e2e_proto.h): the
 * guest puts the expected hash of each frame in the export's metadata; the
 * host hashes what it reads through its own mapping, writes a verdict into
 * the buffer's last 64 bytes and then sends FRAME_DONE; the guest reads the
 * verdict after the FRAME_DONE event.
 *
 * The metadata is opaque to the device and the library (not an image):
 * that opaque metadata of another type still travels is part of the test.
 *
 * Buffers come from /dev/virtio-vdmabuf itself and from three foreign
 * exporters: vgem (dumb buffer + PRIME), udmabuf (sealed memfd) and the
 * system dma-heap.  A test skips only when the exporter's device node is
 * absent.  The test where a host importer is killed holding a frame runs
 * last.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <drm.h>
#include <drm_mode.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include <vdmabuf/vdmabuf.h>

#include "kselftest_harness.h"
#include "e2e_proto.h"
#include "vdmabuf_util.h"
#include "vgem_fence.h"

#define DEV_PATH		"/dev/virtio-vdmabuf"
#define BUF_SIZE		(1024 * 1024)
#define EVENT_TIMEOUT_MS	60000
#define KILL_TIMEOUT_MS		120000	/* child setup + kill delay + TCG */
#define HOLD_MS			1500
#define KILL_MS			2000
#define EVERY_FRAMES		8
#define ANY_SEQ			UINT64_MAX
#define MAX_QUEUED		256

#ifndef F_SEAL_SHRINK	/* older libc headers */
#define F_ADD_SEALS		1033
#define F_SEAL_SHRINK		0x0002
#endif

enum src { SRC_ALLOC, SRC_VGEM, SRC_UDMABUF, SRC_HEAP };

struct gbuf {
	int fd;		/* the dma-buf */
	int aux;	/* vgem: drm fd; udmabuf: memfd */
	uint32_t handle;	/* vgem: the GEM handle */
	uint8_t *map;
	uint64_t size;
	struct vdmabuf_uuid uuid;
	int exported;
};

/* Events read but not yet consumed by a test. */
struct evq {
	struct vdmabuf_event ev[MAX_QUEUED];
	int n;
};

/* Read whatever is queued (waiting up to @timeout_ms for the first). */
static int read_events(struct vdmabuf_dev *dev, struct evq *q, int timeout_ms)
{
	int ret;

	for (;;) {
		if (q->n == MAX_QUEUED)
			return -ENOSPC;
		ret = vdmabuf_dev_next_event(dev, &q->ev[q->n], timeout_ms);
		if (ret == -EAGAIN)
			return 0;
		if (ret)
			return ret;
		q->n++;
		timeout_ms = 0;
	}
}

/*
 * Take the first queued event of @type for @uuid (and @seq unless
 * ANY_SEQ), reading more for up to @timeout_ms.  0, -ETIMEDOUT or -errno.
 */
static int wait_event(struct vdmabuf_dev *dev, struct evq *q, uint32_t type,
		      const struct vdmabuf_uuid *uuid, uint64_t seq,
		      int timeout_ms, struct vdmabuf_event *out)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int i, ret;

	for (;;) {
		uint64_t now;

		for (i = 0; i < q->n; i++) {
			struct vdmabuf_event *ev = &q->ev[i];

			if (ev->type != type ||
			    memcmp(ev->uuid, uuid->b, sizeof(uuid->b)) ||
			    (seq != ANY_SEQ && ev->seq != seq))
				continue;
			if (out)
				*out = *ev;
			memmove(ev, ev + 1, (q->n - i - 1) * sizeof(*ev));
			q->n--;
			return 0;
		}
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = read_events(dev, q, (int)(deadline - now));
		if (ret < 0)
			return ret;
	}
}

/* The vgem card, or -errno. */
static int open_vgem(void)
{
	int i;

	for (i = 0; i < 16; i++) {
		char path[32], name[16] = "";
		struct drm_version v = {
			.name = name, .name_len = sizeof(name) - 1,
		};
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* A buffer slot with nothing in it yet: gbuf_destroy() leaves it be. */
static void gbuf_blank(struct gbuf *b)
{
	b->fd = -1;
	b->aux = -1;
	b->map = NULL;
	b->exported = 0;
}

/*
 * Make a buffer of about @size bytes from @src and map it.  0 on success,
 * 1 if the source is absent (*why says which), -errno (and *why) else.
 */
static int gbuf_create(struct vdmabuf_dev *dev, enum src src, uint64_t size,
		       struct gbuf *b, const char **why)
{
	int ret;

	b->fd = -1;
	b->aux = -1;
	switch (src) {
	case SRC_ALLOC:
		*why = "vdmabuf_dev_alloc";
		ret = vdmabuf_dev_alloc(dev, size);
		if (ret < 0)
			return ret;
		b->fd = ret;
		break;
	case SRC_VGEM: {
		struct drm_mode_create_dumb cd = {
			.width = 512, .height = size / 2048, .bpp = 32,
		};
		struct drm_prime_handle ph = { .flags = DRM_CLOEXEC | DRM_RDWR };

		*why = "no vgem card in /dev/dri";
		b->aux = open_vgem();
		if (b->aux < 0)
			return 1;
		*why = "DRM_IOCTL_MODE_CREATE_DUMB on vgem";
		if (ioctl(b->aux, DRM_IOCTL_MODE_CREATE_DUMB, &cd))
			return -errno;
		b->handle = cd.handle;
		ph.handle = cd.handle;
		*why = "DRM_IOCTL_PRIME_HANDLE_TO_FD on vgem";
		if (ioctl(b->aux, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph))
			return -errno;
		b->fd = ph.fd;
		break;
	}
	case SRC_UDMABUF: {
		struct udmabuf_create uc = {
			.flags = UDMABUF_FLAGS_CLOEXEC, .size = size,
		};
		int udev;

		*why = "/dev/udmabuf is absent";
		udev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		if (udev < 0)
			return errno == ENOENT ? 1 : -errno;
		*why = "memfd_create + ftruncate + F_SEAL_SHRINK";
		b->aux = memfd_create("e2e_vdmabuf", MFD_ALLOW_SEALING |
				      MFD_CLOEXEC);
		if (b->aux < 0 || ftruncate(b->aux, size) ||
		    fcntl(b->aux, F_ADD_SEALS, F_SEAL_SHRINK)) {
			ret = -errno;
			close(udev);
			return ret;
		}
		uc.memfd = b->aux;
		*why = "UDMABUF_CREATE";
		ret = ioctl(udev, UDMABUF_CREATE, &uc);
		if (ret < 0)
			ret = -errno;
		close(udev);
		if (ret < 0)
			return ret;
		b->fd = ret;
		break;
	}
	case SRC_HEAP: {
		struct dma_heap_allocation_data hd = {
			.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
		};
		int heap;

		*why = "/dev/dma_heap/system is absent";
		heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
		if (heap < 0)
			return errno == ENOENT ? 1 : -errno;
		*why = "DMA_HEAP_IOCTL_ALLOC";
		ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &hd);
		if (ret < 0)
			ret = -errno;
		close(heap);
		if (ret < 0)
			return ret;
		b->fd = (int)hd.fd;
		break;
	}
	}
	*why = "lseek(SEEK_END) on the dma-buf";
	b->size = lseek(b->fd, 0, SEEK_END);
	if ((off_t)b->size < 0)
		return -errno;
	if (b->size < size)
		return -ENOSPC;
	*why = "mmap of the dma-buf";
	b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->fd, 0);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		return -errno;
	}
	return 0;
}

static void gbuf_destroy(struct vdmabuf_dev *dev, struct gbuf *b)
{
	if (b->exported) {
		vdmabuf_dev_unexport(dev, &b->uuid);
		b->exported = 0;
	}
	if (b->map)
		munmap(b->map, b->size);
	if (b->fd >= 0)
		close(b->fd);
	if (b->aux >= 0)
		close(b->aux);
	gbuf_blank(b);
}

/*
 * Fill the buffer with pseudo-random words from @seed, zero the verdict
 * area, and return the hash the host must see.
 */
/* The pattern of @seed in the bytes the host hashes; their hash. */
static uint64_t gbuf_pattern(struct gbuf *b, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	uint64_t *w = (uint64_t *)b->map;
	size_t i, n = (b->size - E2E_VERDICT_SIZE) / 8;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	return fnv1a64(b->map, b->size - E2E_VERDICT_SIZE);
}

static uint64_t gbuf_fill(struct gbuf *b, uint64_t seed)
{
	uint64_t h;

	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	h = gbuf_pattern(b, seed);
	memset(b->map + b->size - E2E_VERDICT_SIZE, 0, E2E_VERDICT_SIZE);
	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	return h;
}

static void zero_verdict(struct gbuf *b)
{
	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	memset(b->map + b->size - E2E_VERDICT_SIZE, 0, E2E_VERDICT_SIZE);
	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* The verdict the host wrote, in host byte order. */
static void read_verdict(struct gbuf *b, struct e2e_verdict *v)
{
	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	memcpy(v, b->map + b->size - E2E_VERDICT_SIZE, sizeof(*v));
	vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	v->magic = le32toh(v->magic);
	v->result = le32toh(v->result);
	v->test_id = le32toh(v->test_id);
	v->flags = le32toh(v->flags);
	v->seq = le64toh(v->seq);
	v->hash_seen = le64toh(v->hash_seen);
	v->hash_expected = le64toh(v->hash_expected);
	v->frames = le64toh(v->frames);
	v->child_magic = le32toh(v->child_magic);
	v->child_pid = le32toh(v->child_pid);
	v->child_seq = le64toh(v->child_seq);
}

static void meta_init(struct e2e_meta *m, uint32_t test_id, uint32_t flags,
		      uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->magic = htole32(E2E_META_MAGIC);
	m->test_id = htole32(test_id);
	m->flags = htole32(flags);
	m->size = htole64(size);
}

static void meta_add(struct e2e_meta *m, uint64_t seq, uint64_t hash)
{
	uint32_t n = le32toh(m->nr_frames);

	if (n >= E2E_MAX_FRAMES)
		return;
	m->frames[n].seq = htole64(seq);
	m->frames[n].hash = htole64(hash);
	m->nr_frames = htole32(n + 1);
}

/* EXPORT, retrying while the device or our queue says busy. */
static int gbuf_export(struct vdmabuf_dev *dev, struct evq *q, struct gbuf *b,
		       const struct e2e_meta *m)
{
	struct vdmabuf_exported ex;
	int tries, ret;

	for (tries = 0; tries < 50; tries++) {
		ret = vdmabuf_dev_export(dev, b->fd, m, sizeof(*m), &ex);
		if (!ret) {
			if (ex.size != b->size)
				return -EPROTO;
			b->uuid = ex.uuid;
			b->exported = 1;
			return 0;
		}
		if (ret != -EBUSY && ret != -ENOBUFS)
			return ret;
		ret = read_events(dev, q, 100);
		if (ret < 0)
			return ret;
	}
	return -EBUSY;
}

static int gbuf_present(struct vdmabuf_dev *dev, struct evq *q,
			struct gbuf *b, uint64_t seq)
{
	int tries, ret;

	for (tries = 0; tries < 50; tries++) {
		ret = vdmabuf_dev_present(dev, &b->uuid, seq, NULL, 0);
		if (!ret)
			return 0;
		if (ret != -EBUSY && ret != -ENOBUFS)
			return ret;
		ret = read_events(dev, q, 100);
		if (ret < 0)
			return ret;
	}
	return -EBUSY;
}

static int gbuf_unexport(struct vdmabuf_dev *dev, struct gbuf *b)
{
	int ret = vdmabuf_dev_unexport(dev, &b->uuid);

	if (ret)
		return ret;
	b->exported = 0;
	return 0;
}

/* Open the device; 1 with *why if the test cannot run here. */
static int open_dev(struct vdmabuf_dev **dev, const char **why)
{
	struct vdmabuf_info info;
	int ret;

	if (vdmabuf_dev_open(DEV_PATH, dev)) {
		*why = DEV_PATH " is absent (virtio_vdmabuf not loaded or no device)";
		return 1;
	}
	ret = vdmabuf_dev_info(*dev, &info);
	if (ret) {
		*why = "VDMABUF_IOCTL_INFO failed";
		return ret;
	}
	if (!(info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT))) {
		*why = "the device does not offer VIRTIO_VDMABUF_F_PRESENT";
		return 1;
	}
	if (info.max_meta_len < sizeof(struct e2e_meta)) {
		*why = "the device's max_meta_len is below 160 bytes";
		return 1;
	}
	return 0;
}

/* Present @seq, wait for its FRAME_DONE, return the verdict. */
#define PRESENT_AND_WAIT(b, seq, v, timeout)				\
	do {								\
		struct vdmabuf_event __ev;				\
		int __r = gbuf_present(self->dev, &self->q, (b), (seq)); \
		ASSERT_EQ(0, __r) TH_LOG("PRESENT seq %llu: %s",	\
					 (unsigned long long)(seq),	\
					 strerror(-__r));		\
		__r = wait_event(self->dev, &self->q,			\
				 VDMABUF_EVENT_FRAME_DONE, &(b)->uuid,	\
				 (seq), (timeout), &__ev);		\
		ASSERT_EQ(0, __r) TH_LOG("FRAME_DONE for seq %llu: %s", \
					 (unsigned long long)(seq),	\
					 strerror(-__r));		\
		EXPECT_EQ(0, __ev.flags & VDMABUF_EVENT_F_REPLACED);	\
		read_verdict((b), (v));					\
	} while (0)

#define EXPECT_VERDICT(v, test, seq_, hash)				\
	do {								\
		ASSERT_EQ(E2E_VERDICT_MAGIC, (v)->magic)		\
			TH_LOG("no verdict from the host: %s",		\
			       "is importer_e2e on the importer socket?"); \
		EXPECT_EQ((uint32_t)(test), (v)->test_id);		\
		EXPECT_EQ((uint64_t)(seq_), (v)->seq);			\
		EXPECT_EQ((uint64_t)(hash), (v)->hash_seen)		\
			TH_LOG("host hashed %016llx, guest wrote %016llx", \
			       (unsigned long long)(v)->hash_seen,	\
			       (unsigned long long)(hash));		\
		EXPECT_EQ(E2E_R_PASS, (v)->result);			\
	} while (0)

#define WAIT_RELEASED(b, timeout)					\
	do {								\
		int __r = wait_event(self->dev, &self->q,		\
				     VDMABUF_EVENT_RELEASED, &(b)->uuid, \
				     ANY_SEQ, (timeout), NULL);		\
		EXPECT_EQ(0, __r) TH_LOG("RELEASED: %s", strerror(-__r)); \
	} while (0)

/* ------------------------------------------------------------------ */
/* Every buffer source                                                */
/* ------------------------------------------------------------------ */

/*
 * The setup of the fixtures with one buffer: the device opened and a
 * buffer made from @src and mapped; skips when either is absent.
 */
static void one_buf_setup(struct __test_metadata *_metadata,
			  struct vdmabuf_dev **dev, struct evq *q,
			  struct gbuf *b, enum src src)
{
	const char *why = "";
	int ret;

	q->n = 0;
	gbuf_blank(b);
	ret = open_dev(dev, &why);
	if (ret == 1)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", why, strerror(-ret));
	ret = gbuf_create(*dev, src, BUF_SIZE, b, &why);
	if (ret == 1)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", why, strerror(-ret));
}

FIXTURE(e2e) {
	struct vdmabuf_dev *dev;
	struct evq q;
	struct gbuf b;
};

FIXTURE_VARIANT(e2e) {
	enum src src;
};

FIXTURE_VARIANT_ADD(e2e, alloc) { .src = SRC_ALLOC };
FIXTURE_VARIANT_ADD(e2e, vgem) { .src = SRC_VGEM };
FIXTURE_VARIANT_ADD(e2e, udmabuf) { .src = SRC_UDMABUF };
FIXTURE_VARIANT_ADD(e2e, dma_heap) { .src = SRC_HEAP };

FIXTURE_SETUP(e2e)
{
	one_buf_setup(_metadata, &self->dev, &self->q, &self->b, variant->src);
}

FIXTURE_TEARDOWN(e2e)
{
	gbuf_destroy(self->dev, &self->b);
	vdmabuf_dev_close(self->dev);
}

/* The bytes the guest wrote are the bytes the host reads; and back. */
TEST_F_TIMEOUT(e2e, pixels_roundtrip, 300)
{
	struct e2e_verdict v;
	struct e2e_meta m;
	uint64_t h;
	int ret;

	h = gbuf_fill(&self->b, 1 + variant->src);
	meta_init(&m, E2E_T_PIXELS, 0, self->b.size);
	meta_add(&m, 1, h);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));

	PRESENT_AND_WAIT(&self->b, 1, &v, EVENT_TIMEOUT_MS);
	EXPECT_VERDICT(&v, E2E_T_PIXELS, 1, h);
	EXPECT_EQ(1, v.frames);

	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
}

/* Writes after EXPORT reach the host without a new EXPORT. */
TEST_F_TIMEOUT(e2e, rewrite_after_export, 300)
{
	struct e2e_verdict v;
	struct e2e_meta m;
	uint64_t h1, h2;
	int ret;

	/* Learn frame 2's hash first: the metadata is fixed at EXPORT. */
	h2 = gbuf_fill(&self->b, 200 + variant->src);
	h1 = gbuf_fill(&self->b, 100 + variant->src);
	ASSERT_NE(h1, h2);
	meta_init(&m, E2E_T_REWRITE, 0, self->b.size);
	meta_add(&m, 1, h1);
	meta_add(&m, 2, h2);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));

	PRESENT_AND_WAIT(&self->b, 1, &v, EVENT_TIMEOUT_MS);
	EXPECT_VERDICT(&v, E2E_T_REWRITE, 1, h1);

	EXPECT_EQ(h2, gbuf_fill(&self->b, 200 + variant->src));
	PRESENT_AND_WAIT(&self->b, 2, &v, EVENT_TIMEOUT_MS);
	EXPECT_VERDICT(&v, E2E_T_REWRITE, 2, h2);
	EXPECT_EQ(2, v.frames);

	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
}

/*
 * RELEASED comes after UNEXPORT once the host closes its import, not
 * before: the host holds it HOLD_MS after it sees UNEXPORTED.
 */
TEST_F_TIMEOUT(e2e, released_after_importer_closes, 300)
{
	struct vdmabuf_query qu;
	struct e2e_verdict v;
	struct e2e_meta m;
	uint64_t h, t0, dt;
	int ret;

	h = gbuf_fill(&self->b, 300 + variant->src);
	meta_init(&m, E2E_T_RELEASE, E2E_F_HOLD, self->b.size);
	m.hold_ms = htole32(HOLD_MS);
	meta_add(&m, 1, h);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));

	/* The verdict proves the host imported it. */
	PRESENT_AND_WAIT(&self->b, 1, &v, EVENT_TIMEOUT_MS);
	EXPECT_VERDICT(&v, E2E_T_RELEASE, 1, h);

	t0 = now_ms();
	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	ret = vdmabuf_dev_query(self->dev, &self->b.uuid, &qu);
	ASSERT_EQ(0, ret)
		TH_LOG("QUERY after UNEXPORT: %s", strerror(-ret));
	EXPECT_EQ(VDMABUF_STATE_UNEXPORTED, qu.state);
	EXPECT_EQ(0, qu.frames_pending);

	/* Our own fds do not keep it: the driver holds it until RELEASED. */
	munmap(self->b.map, self->b.size);
	self->b.map = NULL;
	close(self->b.fd);
	self->b.fd = -1;

	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
	dt = now_ms() - t0;
	EXPECT_LE(HOLD_MS * 2 / 3, dt)
		TH_LOG("RELEASED %llu ms after UNEXPORT, the host held it %d ms",
		       (unsigned long long)dt, HOLD_MS);
}

/* ------------------------------------------------------------------ */
/* Many frames                                                        */
/* ------------------------------------------------------------------ */

FIXTURE(e2e_frames) {
	struct vdmabuf_dev *dev;
	struct evq q;
	struct gbuf b[2];
};

FIXTURE_SETUP(e2e_frames)
{
	const char *why = "";
	int i, ret;

	self->q.n = 0;
	for (i = 0; i < 2; i++)
		gbuf_blank(&self->b[i]);
	ret = open_dev(&self->dev, &why);
	if (ret == 1)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", why, strerror(-ret));
	for (i = 0; i < 2; i++) {
		ret = gbuf_create(self->dev, SRC_ALLOC, BUF_SIZE, &self->b[i],
				  &why);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", why, strerror(-ret));
	}
}

FIXTURE_TEARDOWN(e2e_frames)
{
	int i;

	for (i = 0; i < 2; i++)
		gbuf_destroy(self->dev, &self->b[i]);
	vdmabuf_dev_close(self->dev);
}

/*
 * Every PRESENT gets exactly one FRAME_DONE, also when presents come
 * faster than the host answers (some are then REPLACED, never the last).
 */
TEST_F_TIMEOUT(e2e_frames, frame_done_for_every_present, 300)
{
	int seen[2][EVERY_FRAMES + 1] = { { 0 } };
	uint64_t h[2], deadline;
	struct e2e_verdict v;
	struct e2e_meta m;
	int i, s, ret, done = 0;

	for (i = 0; i < 2; i++) {
		h[i] = gbuf_fill(&self->b[i], 400 + i);
		meta_init(&m, E2E_T_EVERY, 0, self->b[i].size);
		meta_add(&m, 0, h[i]);
		ret = gbuf_export(self->dev, &self->q, &self->b[i], &m);
		ASSERT_EQ(0, ret) TH_LOG("EXPORT %d: %s", i, strerror(-ret));
	}
	for (s = 1; s <= EVERY_FRAMES; s++) {
		for (i = 0; i < 2; i++) {
			ret = gbuf_present(self->dev, &self->q, &self->b[i], s);
			ASSERT_EQ(0, ret) TH_LOG("PRESENT %d seq %d: %s", i, s,
						 strerror(-ret));
		}
	}
	deadline = now_ms() + EVENT_TIMEOUT_MS;
	while (done < 2 * EVERY_FRAMES && now_ms() < deadline) {
		int k = 0;

		ASSERT_EQ(0, read_events(self->dev, &self->q, 1000));
		while (k < self->q.n) {
			struct vdmabuf_event *ev = &self->q.ev[k];

			if (ev->type != VDMABUF_EVENT_FRAME_DONE) {
				k++;
				continue;
			}
			for (i = 0; i < 2; i++)
				if (!memcmp(ev->uuid, self->b[i].uuid.b, 16))
					break;
			ASSERT_LT(i, 2) TH_LOG("FRAME_DONE for a stranger");
			ASSERT_GE(ev->seq, 1);
			ASSERT_LE(ev->seq, EVERY_FRAMES);
			seen[i][ev->seq]++;
			if (ev->seq == EVERY_FRAMES)
				EXPECT_EQ(0, ev->flags & VDMABUF_EVENT_F_REPLACED)
					TH_LOG("the last frame was REPLACED");
			done++;
			memmove(ev, ev + 1, (self->q.n - k - 1) * sizeof(*ev));
			self->q.n--;
		}
	}
	for (i = 0; i < 2 * EVERY_FRAMES; i++) {
		int n = seen[i / EVERY_FRAMES][1 + i % EVERY_FRAMES];

		EXPECT_EQ(1, n)
			TH_LOG("buffer %d seq %d: %d FRAME_DONE events",
			       i / EVERY_FRAMES, 1 + i % EVERY_FRAMES, n);
	}
	/* No FRAME_DONE more than one per PRESENT shows up later. */
	ASSERT_EQ(0, read_events(self->dev, &self->q, 500));
	for (i = 0; i < self->q.n; i++)
		EXPECT_NE(VDMABUF_EVENT_FRAME_DONE, self->q.ev[i].type);

	for (i = 0; i < 2; i++) {
		read_verdict(&self->b[i], &v);
		EXPECT_VERDICT(&v, E2E_T_EVERY, EVERY_FRAMES, h[i]);
		ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b[i]));
	}
	for (i = 0; i < 2; i++)
		WAIT_RELEASED(&self->b[i], EVENT_TIMEOUT_MS);
}

/* ------------------------------------------------------------------ */
/* Implicit sync                                                      */
/* ------------------------------------------------------------------ */

FIXTURE(e2e_fence) {
	struct vdmabuf_dev *dev;
	struct evq q;
	struct gbuf b;
};

FIXTURE_SETUP(e2e_fence)
{
	one_buf_setup(_metadata, &self->dev, &self->q, &self->b, SRC_VGEM);
}

FIXTURE_TEARDOWN(e2e_fence)
{
	gbuf_destroy(self->dev, &self->b);
	vdmabuf_dev_close(self->dev);
}

/* The verdict area, untouched by the host: no frame was looked at yet. */
static int verdict_blank(struct gbuf *b)
{
	size_t i;

	for (i = b->size - E2E_VERDICT_SIZE; i < b->size; i++)
		if (b->map[i])
			return 0;
	return 1;
}

/*
 * Implicit sync: a vgem write fence stands for a GPU still drawing the
 * frame (vgem signals it by itself after 10 s: the test stays well within
 * that).  PRESENT returns at once, the host is told only once the fence
 * has signalled, and what it hashes is the finished frame, not what the
 * buffer held when PRESENT was called.  Meanwhile another PRESENT of the
 * buffer is refused with EBUSY, so frames stay in order.
 */
TEST_F_TIMEOUT(e2e_fence, present_waits_for_write_fence, 300)
{
	struct drm_vgem_fence_attach fa = { .flags = VGEM_FENCE_WRITE };
	struct drm_vgem_fence_signal fs = { 0 };
	struct vdmabuf_event ev;
	struct e2e_verdict v;
	uint64_t h_final, t0;
	struct e2e_meta m;
	int ret;

	h_final = gbuf_fill(&self->b, 42);
	gbuf_fill(&self->b, 7);		/* half drawn */
	meta_init(&m, E2E_T_PIXELS, 0, self->b.size);
	meta_add(&m, 1, h_final);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));

	fa.handle = self->b.handle;
	ASSERT_EQ(0, ioctl(self->b.aux, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa));
	t0 = now_ms();
	ret = gbuf_present(self->dev, &self->q, &self->b, 1);
	ASSERT_EQ(0, ret) TH_LOG("PRESENT: %s", strerror(-ret));
	EXPECT_GT(1000, now_ms() - t0) TH_LOG("PRESENT waited for the fence");
	EXPECT_EQ(-EBUSY, vdmabuf_dev_present(self->dev, &self->b.uuid, 2,
					      NULL, 0));
	/* Time for a host that was told too early to look and answer. */
	usleep(2000 * 1000);
	ASSERT_LE(0, read_events(self->dev, &self->q, 0));
	EXPECT_EQ(-ETIMEDOUT, wait_event(self->dev, &self->q,
					 VDMABUF_EVENT_FRAME_DONE,
					 &self->b.uuid, 1, 0, &ev))
		TH_LOG("FRAME_DONE before the fence signalled");
	EXPECT_TRUE(verdict_blank(&self->b))
		TH_LOG("the host looked at the frame before it was finished");
	/* The "GPU" finishes the frame (no DMA_BUF_SYNC: it would wait). */
	EXPECT_EQ(h_final, gbuf_pattern(&self->b, 42));
	fs.fence = fa.out_fence;
	ASSERT_EQ(0, ioctl(self->b.aux, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));

	ret = wait_event(self->dev, &self->q, VDMABUF_EVENT_FRAME_DONE,
			 &self->b.uuid, 1, EVENT_TIMEOUT_MS, &ev);
	ASSERT_EQ(0, ret) TH_LOG("FRAME_DONE: %s", strerror(-ret));
	EXPECT_EQ(0, ev.flags);
	read_verdict(&self->b, &v);
	EXPECT_VERDICT(&v, E2E_T_PIXELS, 1, h_final);

	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
}

/*
 * A frame still waiting for its fence when the buffer is unexported is
 * never sent: its FRAME_DONE says so (VDMABUF_EVENT_F_DROPPED), before
 * RELEASED, and the host never sees it.
 */
TEST_F_TIMEOUT(e2e_fence, unexported_while_waiting_is_dropped, 300)
{
	struct drm_vgem_fence_attach fa = { .flags = VGEM_FENCE_WRITE };
	struct drm_vgem_fence_signal fs = { 0 };
	struct vdmabuf_event ev;
	struct e2e_meta m;
	uint64_t h;
	int ret;

	h = gbuf_fill(&self->b, 9);
	meta_init(&m, E2E_T_PIXELS, 0, self->b.size);
	meta_add(&m, 1, h);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));
	fa.handle = self->b.handle;
	ASSERT_EQ(0, ioctl(self->b.aux, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa));
	ASSERT_EQ(0, gbuf_present(self->dev, &self->q, &self->b, 1));
	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	fs.fence = fa.out_fence;
	ASSERT_EQ(0, ioctl(self->b.aux, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));

	ret = wait_event(self->dev, &self->q, VDMABUF_EVENT_FRAME_DONE,
			 &self->b.uuid, 1, EVENT_TIMEOUT_MS, &ev);
	ASSERT_EQ(0, ret) TH_LOG("FRAME_DONE: %s", strerror(-ret));
	EXPECT_EQ(VDMABUF_EVENT_F_DROPPED, ev.flags);
	EXPECT_TRUE(verdict_blank(&self->b)) TH_LOG("the host saw the frame");
	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
}

/* ------------------------------------------------------------------ */
/* Last: a host importer is killed while it holds a frame             */
/* ------------------------------------------------------------------ */

FIXTURE(e2e_last) {
	struct vdmabuf_dev *dev;
	struct evq q;
	struct gbuf b;
};

FIXTURE_SETUP(e2e_last)
{
	one_buf_setup(_metadata, &self->dev, &self->q, &self->b, SRC_ALLOC);
}

FIXTURE_TEARDOWN(e2e_last)
{
	gbuf_destroy(self->dev, &self->b);
	vdmabuf_dev_close(self->dev);
}

/*
 * The host forks a second importer that takes its own importer fd,
 * imports and maps the buffer, sees frame 2 and never answers it; the
 * host kills it KILL_MS later.  The guest still gets FRAME_DONE for frame
 * 2 (not before the kill) and RELEASED after UNEXPORT.
 */
TEST_F_TIMEOUT(e2e_last, importer_killed_holding_a_frame, 600)
{
	struct e2e_verdict v;
	struct e2e_meta m;
	uint64_t h, t0, dt;
	int ret;

	h = gbuf_fill(&self->b, 500);
	meta_init(&m, E2E_T_KILL, E2E_F_KILL, self->b.size);
	m.kill_ms = htole32(KILL_MS);
	meta_add(&m, 0, h);
	ret = gbuf_export(self->dev, &self->q, &self->b, &m);
	ASSERT_EQ(0, ret) TH_LOG("EXPORT: %s", strerror(-ret));

	/* Frame 1 comes back once the second importer holds the buffer. */
	PRESENT_AND_WAIT(&self->b, 1, &v, KILL_TIMEOUT_MS);
	ASSERT_EQ(E2E_VERDICT_MAGIC, v.magic)
		TH_LOG("no verdict from the host: is importer_e2e running?");
	ASSERT_EQ(E2E_R_PASS, v.result)
		TH_LOG("host verdict %u (%u: second importer failed)",
		       v.result, E2E_R_CHILD);
	ASSERT_TRUE(v.flags & E2E_VF_CHILD_READY);

	zero_verdict(&self->b);
	t0 = now_ms();
	PRESENT_AND_WAIT(&self->b, 2, &v, KILL_TIMEOUT_MS);
	dt = now_ms() - t0;
	EXPECT_VERDICT(&v, E2E_T_KILL, 2, h);
	EXPECT_EQ(E2E_CHILD_MAGIC, v.child_magic)
		TH_LOG("the second importer never saw frame 2");
	EXPECT_EQ(2, v.child_seq);
	EXPECT_NE(0, v.child_pid);
	EXPECT_LE(KILL_MS / 2, dt)
		TH_LOG("FRAME_DONE %llu ms after PRESENT, before the kill",
		       (unsigned long long)dt);

	ASSERT_EQ(0, gbuf_unexport(self->dev, &self->b));
	WAIT_RELEASED(&self->b, EVENT_TIMEOUT_MS);
}

TEST_HARNESS_MAIN
