// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of /dev/virtio-vdmabuf (virtio_vdmabuf.ko), run as root in the L2
 * guest with the vhost-vdmabuf-pci device, vgem loaded, /dev/udmabuf and
 * /dev/dma_heap/system built in.  No host importer is attached, so the
 * device answers every PRESENT with FRAME_DONE at once and releases a
 * buffer as soon as it is unexported.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <drm.h>		/* libdrm-dev's copy of the DRM UAPI */
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#include "guest_common.h"

#include "kselftest_harness.h"

#define DEV_PATH	"/dev/virtio-vdmabuf"
#define EVT_TIMEOUT_MS	10000	/* generous: the guest runs under nested TCG */
#define VIRTIO_F_VERSION_1_BIT	32

static int open_dev(struct __test_metadata *_metadata)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENODEV))
		SKIP(return -1, DEV_PATH " is absent (no virtio-dmabuf device)");
	return fd;
}

static int vd_alloc(int dev, __u64 size, __u32 flags)
{
	struct vdmabuf_alloc a = { .size = size, .flags = flags };

	if (ioctl(dev, VDMABUF_IOCTL_ALLOC, &a))
		return -errno;
	return a.fd;
}

static int vd_export(int dev, int fd, struct vdmabuf_export *e)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	return ioctl(dev, VDMABUF_IOCTL_EXPORT, e) ? -errno : 0;
}

static int vd_unexport(int dev, const __u8 *uuid)
{
	struct vdmabuf_unexport u = {};

	memcpy(u.uuid, uuid, 16);
	return ioctl(dev, VDMABUF_IOCTL_UNEXPORT, &u) ? -errno : 0;
}

static int vd_info(int dev, struct vdmabuf_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(dev, VDMABUF_IOCTL_INFO, info) ? -errno : 0;
}

static int vd_query(int dev, const __u8 *uuid, struct vdmabuf_query *q)
{
	memset(q, 0, sizeof(*q));
	memcpy(q->uuid, uuid, 16);
	return ioctl(dev, VDMABUF_IOCTL_QUERY, q) ? -errno : 0;
}

/* Wait until the device released @uuid (the next event must say so). */
static int wait_released(int dev, const __u8 *uuid)
{
	struct vdmabuf_event ev;
	int r = next_event(dev, &ev, EVT_TIMEOUT_MS);

	if (r)
		return r;
	if (ev.type != VDMABUF_EVENT_RELEASED || memcmp(ev.uuid, uuid, 16))
		return -EPROTO;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* When the program started: the stress test fits in what is left. */
static double prog_t0;

static void __attribute__((constructor)) init_t0(void)
{
	prog_t0 = now_s();
}

/*
 * The device's totals over every opener, which INFO does not give (it
 * reports the caller's own): sysfs attributes of the device, root only.
 */
#define DEV_SYSFS "/sys/class/misc/virtio-vdmabuf/device/"

static long long dev_total(const char *name)
{
	char path[128], text[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DEV_SYSFS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = 0;
	return strtoll(text, NULL, 10);
}

/* Poll the device's total @name until it is @want; 0 or -ETIMEDOUT. */
static int wait_total(const char *name, long long want, int seconds)
{
	double end = now_s() + seconds;

	do {
		if (dev_total(name) == want)
			return 0;
		usleep(20000);
	} while (now_s() < end);
	return -ETIMEDOUT;
}

/* Poll INFO until live_exports drops to @want; 0 or -ETIMEDOUT. */
static int wait_live(int dev, __u64 want, int seconds)
{
	struct vdmabuf_info info;
	double end = now_s() + seconds;

	do {
		if (vd_info(dev, &info))
			return -EIO;
		if (info.live_exports == want)
			return 0;
		usleep(20000);
	} while (now_s() < end);
	return -ETIMEDOUT;
}

/*
 * Poll INFO until alloc_bytes is back to @want; 0 or -ETIMEDOUT.  A
 * buffer's memory goes with the last reference to its dma-buf.  When that
 * is the driver's own, dropped by its worker on the host's RELEASED, the
 * kernel defers the final fput (a worker has no task_work): INFO may
 * still count the buffer for a moment after the RELEASED event.
 */
static int wait_alloc(int dev, __u64 want, int seconds)
{
	struct vdmabuf_info info;
	double end = now_s() + seconds;

	do {
		if (vd_info(dev, &info))
			return -EIO;
		if (info.alloc_bytes == want)
			return 0;
		usleep(20000);
	} while (now_s() < end);
	return -ETIMEDOUT;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    sscanf(line + strlen(key), " %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int is_uuid_v4(const __u8 *u)
{
	return (u[6] >> 4) == 4 && (u[8] & 0xc0) == 0x80;
}

/* A dumb buffer from vgem as a dma-buf fd; -errno if vgem is absent. */
static int vgem_open(void)
{
	char path[32], name[16];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

static int vgem_dmabuf(int card, __u32 w, __u32 h, __u32 *handle)
{
	struct drm_mode_create_dumb c = { .width = w, .height = h, .bpp = 32 };
	struct drm_prime_handle p = {};

	if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -errno;
	p.handle = c.handle;
	p.flags = DRM_CLOEXEC | DRM_RDWR;
	if (ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p))
		return -errno;
	if (handle)
		*handle = c.handle;
	return p.fd;
}

static int heap_dmabuf(size_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	int r;

	if (heap < 0)
		return -ENOENT;
	r = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d);
	close(heap);
	return r ? -errno : (int)d.fd;
}

static int dmabuf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

/* ------------------------------------------------------------------ */

FIXTURE(dev) {
	int fd;
	struct vdmabuf_info info;
};

FIXTURE_SETUP(dev)
{
	self->fd = open_dev(_metadata);
	if (_metadata->exit_code)	/* skipped: no device */
		return;
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vd_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, info)
{
	struct vdmabuf_info *i = &self->info;

	EXPECT_TRUE(i->features & (1ULL << VIRTIO_F_VERSION_1_BIT));
	EXPECT_LE(1, i->max_ranges);
	EXPECT_GE(65536, i->max_ranges);
	EXPECT_GE(4096, i->max_meta_len);
	EXPECT_LE(1, i->max_exports);
	EXPECT_LT(0, i->max_export_size);
	EXPECT_LE(i->max_export_size, i->max_total_size);
	EXPECT_EQ(4096, i->max_events);
	EXPECT_EQ(0, i->queued_events);
	if (!(i->features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		EXPECT_EQ(0, i->max_rects);
	EXPECT_EQ(-ENOTTY, ioctl(self->fd, _IO(VDMABUF_IOCTL_BASE, 0x1f)) ? -errno : 0);
}

TEST_F(dev, read_semantics)
{
	struct vdmabuf_event ev;
	char small[8];
	int flags = fcntl(self->fd, F_GETFL);

	EXPECT_EQ(-1, read(self->fd, small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, flags | O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 100));
}

TEST_F(dev, alloc_bad)
{
	__u64 max = 512ULL << 20;	/* max_alloc_mb default */
	int fd;

	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, 0, 0));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, 4095, 0));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, 4097, 0));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, max + 4096, 0));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, ~0ULL & ~4095ULL, 0));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, 4096, 2));
	EXPECT_EQ(-EINVAL, vd_alloc(self->fd, 4096, 1U << 31));
	EXPECT_EQ(-EFAULT, ioctl(self->fd, VDMABUF_IOCTL_ALLOC, (void *)16) ? -errno : 0);

	fd = vd_alloc(self->fd, 8192, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Private mappings are refused; beyond the end too. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 4096));
	close(fd);
}

FIXTURE(alloc) {
	int fd;
};

FIXTURE_VARIANT(alloc) {
	__u64 size;
};

FIXTURE_VARIANT_ADD(alloc, s4k) { .size = 4096 };
FIXTURE_VARIANT_ADD(alloc, s64k) { .size = 64 << 10 };
FIXTURE_VARIANT_ADD(alloc, s1m_plus_4k) { .size = (1 << 20) + 4096 };
FIXTURE_VARIANT_ADD(alloc, s2m) { .size = 2 << 20 };
FIXTURE_VARIANT_ADD(alloc, s32m) { .size = 32 << 20 };
FIXTURE_VARIANT_ADD(alloc, s256m) { .size = 256 << 20 };

FIXTURE_SETUP(alloc)
{
	self->fd = open_dev(_metadata);
	if (_metadata->exit_code)	/* skipped: no device */
		return;
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(alloc)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* mmap, write, read back through a second mapping, under SYNC. */
TEST_F_TIMEOUT(alloc, mmap_rw, 300)
{
	__u64 size = variant->size, off, step;
	struct vdmabuf_info before, during, after;
	__u32 *a, *b;
	int buf;

	ASSERT_EQ(0, vd_info(self->fd, &before));
	buf = vd_alloc(self->fd, size, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_info(self->fd, &during));
	EXPECT_EQ(before.alloc_bytes + size, during.alloc_bytes);

	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = mmap(NULL, size, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, b);

	/* Fresh memory is zeroed; sample every page of small, some of big. */
	step = size > (4 << 20) ? 4096 * 61 : 4096;
	for (off = 0; off < size; off += step)
		ASSERT_EQ(0, a[off / 4]);

	EXPECT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	for (off = 0; off < size; off += step)
		a[off / 4] = (__u32)(off ^ 0x5a5a5a5a);
	a[size / 4 - 1] = 0xdeadbeef;
	EXPECT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));

	EXPECT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	for (off = 0; off < size; off += step)
		if (off / 4 != size / 4 - 1)
			ASSERT_EQ((__u32)(off ^ 0x5a5a5a5a), b[off / 4]);
	EXPECT_EQ(0xdeadbeef, b[size / 4 - 1]);
	EXPECT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	EXPECT_EQ(-EINVAL, dmabuf_sync(buf, 0x100));

	munmap(a, size);
	munmap(b, size);
	close(buf);
	ASSERT_EQ(0, vd_info(self->fd, &after));
	EXPECT_EQ(before.alloc_bytes, after.alloc_bytes);
}

/* Exports of the buffer: size right, few ranges, released on unexport. */
TEST_F_TIMEOUT(alloc, export, 300)
{
	struct vdmabuf_export e;
	struct vdmabuf_query q;
	int buf, r;

	buf = vd_alloc(self->fd, variant->size, 0);
	ASSERT_LE(0, buf);
	r = vd_export(self->fd, buf, &e);
	if (r == -ENOSPC)
		SKIP(close(buf); return, "over the device's max_export_size");
	ASSERT_EQ(0, r);
	EXPECT_EQ(variant->size, e.size);
	EXPECT_LE(1, e.nr_ranges);
	/* 2 MiB chunks first: 32 MiB needs at most 16 ranges. */
	if (variant->size >= (2 << 20) && variant->size <= (32 << 20))
		EXPECT_GE((variant->size >> 21) + 16, e.nr_ranges);
	if (variant->size == (32 << 20))
		EXPECT_GE(16, e.nr_ranges);
	EXPECT_TRUE(is_uuid_v4(e.uuid));
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(VDMABUF_STATE_EXPORTED, q.state);
	EXPECT_EQ(e.nr_ranges, q.nr_ranges);
	EXPECT_EQ(variant->size, q.size);
	EXPECT_EQ(0, q.frames_pending);
	close(buf);	/* the driver keeps its own reference */
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ENOENT, vd_query(self->fd, e.uuid, &q));
}

TEST_F(dev, export_own_outlives_fd)
{
	struct vdmabuf_info i1, i2, i3;
	struct vdmabuf_export e;
	struct vdmabuf_query q;
	__u8 meta[64];
	int buf;

	memset(meta, 0xab, sizeof(meta));
	ASSERT_EQ(0, vd_info(self->fd, &i1));
	buf = vd_alloc(self->fd, 1 << 20, 0);
	ASSERT_LE(0, buf);
	memset(&e, 0, sizeof(e));
	e.fd = buf;
	e.meta_len = sizeof(meta);
	e.meta_ptr = (uintptr_t)meta;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_EXPORT, &e));
	close(buf);
	ASSERT_EQ(0, vd_info(self->fd, &i2));
	EXPECT_EQ(i1.live_exports + 1, i2.live_exports);
	EXPECT_EQ(i1.live_bytes + (1 << 20), i2.live_bytes);
	EXPECT_EQ(i1.alloc_bytes + (1 << 20), i2.alloc_bytes);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(0, wait_alloc(self->fd, i1.alloc_bytes, 5));
	ASSERT_EQ(0, vd_info(self->fd, &i3));
	EXPECT_EQ(i1.live_exports, i3.live_exports);
	EXPECT_EQ(i1.live_bytes, i3.live_bytes);
	EXPECT_EQ(i1.alloc_bytes, i3.alloc_bytes);
}

TEST_F(dev, export_bad)
{
	struct vdmabuf_export e;
	__u8 meta[8] = {};
	int buf, memfd;

	buf = vd_alloc(self->fd, 4096, 0);
	ASSERT_LE(0, buf);

	memset(&e, 0, sizeof(e));
	e.fd = buf;
	e.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl(self->fd, VDMABUF_IOCTL_EXPORT, &e) ? -errno : 0);

	e.flags = 0;
	e.meta_len = self->info.max_meta_len + 1;
	e.meta_ptr = (uintptr_t)meta;
	EXPECT_EQ(-E2BIG, ioctl(self->fd, VDMABUF_IOCTL_EXPORT, &e) ? -errno : 0);

	if (self->info.max_meta_len >= sizeof(meta)) {
		e.meta_len = sizeof(meta);
		e.meta_ptr = 16;
		EXPECT_EQ(-EFAULT, ioctl(self->fd, VDMABUF_IOCTL_EXPORT, &e) ? -errno : 0);
	}

	EXPECT_EQ(-EBADF, vd_export(self->fd, -1, &e));
	EXPECT_EQ(-EBADF, vd_export(self->fd, 12345, &e));
	memfd = memfd_create("not-a-dmabuf", 0);
	ASSERT_LE(0, memfd);
	EXPECT_EQ(-EINVAL, vd_export(self->fd, memfd, &e));
	close(memfd);
	EXPECT_EQ(-EFAULT, ioctl(self->fd, VDMABUF_IOCTL_EXPORT, (void *)16) ? -errno : 0);
	close(buf);

	/* Nothing leaked. */
	EXPECT_EQ(0, wait_live(self->fd, self->info.live_exports, 1));
}

TEST_F(dev, unexport_bad)
{
	struct vdmabuf_unexport u = {};
	struct vdmabuf_export e;
	struct vdmabuf_query q;
	int buf;

	memset(u.uuid, 0x42, sizeof(u.uuid));
	EXPECT_EQ(-ENOENT, ioctl(self->fd, VDMABUF_IOCTL_UNEXPORT, &u) ? -errno : 0);
	EXPECT_EQ(-ENOENT, vd_query(self->fd, u.uuid, &q));

	buf = vd_alloc(self->fd, 4096, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	memcpy(u.uuid, e.uuid, 16);
	u.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl(self->fd, VDMABUF_IOCTL_UNEXPORT, &u) ? -errno : 0);
	u.flags = 0;
	u.padding = 1;
	EXPECT_EQ(-EINVAL, ioctl(self->fd, VDMABUF_IOCTL_UNEXPORT, &u) ? -errno : 0);

	/* Another opener does not own it. */
	{
		int other = open(DEV_PATH, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, other);
		EXPECT_EQ(-ENOENT, vd_unexport(other, e.uuid));
		EXPECT_EQ(-ENOENT, vd_query(other, e.uuid, &q));
		close(other);
	}

	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	/* Double unexport, whether or not RELEASED came already. */
	EXPECT_EQ(-ENOENT, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ENOENT, vd_unexport(self->fd, e.uuid));
	close(buf);
}

/*
 * An export pins its buffer until the host releases it, which the
 * exporting process does not control: the exporting user is charged for
 * it within its RLIMIT_MEMLOCK (without CAP_IPC_LOCK).  Past the limit
 * EXPORT fails with ENOMEM, and RELEASED gives the charge back.
 */
TEST_F_TIMEOUT(dev, export_charged_to_memlock, 60)
{
	int small[5], big, i, status;
	pid_t pid;

	big = vd_alloc(self->fd, 2 << 20, 0);
	ASSERT_LE(0, big);
	for (i = 0; i < 5; i++) {
		small[i] = vd_alloc(self->fd, 256 << 10, 0);
		ASSERT_LE(0, small[i]);
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { .rlim_cur = 1 << 20, .rlim_max = 1 << 20 };
		struct vdmabuf_export e[5];

		/* nobody: no capabilities, and 1 MiB of locked memory. */
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) ||
		    setuid(65534))
			_exit(10);
		if (vd_export(self->fd, big, &e[0]) != -ENOMEM)
			_exit(11);
		for (i = 0; i < 4; i++)
			if (vd_export(self->fd, small[i], &e[i]))
				_exit(12);
		if (vd_export(self->fd, small[4], &e[4]) != -ENOMEM)
			_exit(13);
		if (vd_unexport(self->fd, e[0].uuid) ||
		    wait_released(self->fd, e[0].uuid))
			_exit(14);
		if (vd_export(self->fd, small[4], &e[4]))
			_exit(15);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(big);
	for (i = 0; i < 5; i++)
		close(small[i]);
}

/* A buffer exported twice gets two UUIDs and two RELEASED. */
TEST_F(dev, export_twice)
{
	struct vdmabuf_export e1, e2;
	int buf;

	buf = vd_alloc(self->fd, 4 << 20, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e1));
	ASSERT_EQ(0, vd_export(self->fd, buf, &e2));
	EXPECT_NE(0, memcmp(e1.uuid, e2.uuid, 16));
	EXPECT_EQ(0, vd_unexport(self->fd, e2.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e2.uuid));
	EXPECT_EQ(0, vd_unexport(self->fd, e1.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e1.uuid));
	close(buf);
}

static void export_foreign(struct __test_metadata *_metadata, int dev,
			   int buf, __u64 size)
{
	struct vdmabuf_export e;

	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(dev, buf, &e));
	EXPECT_EQ(size, e.size);
	EXPECT_LE(1, e.nr_ranges);
	EXPECT_GE(size / 4096, e.nr_ranges);
	close(buf);
	EXPECT_EQ(0, vd_unexport(dev, e.uuid));
	EXPECT_EQ(0, wait_released(dev, e.uuid));
}

TEST_F(dev, export_vgem)
{
	int card = vgem_open();
	int buf;

	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf = vgem_dmabuf(card, 256, 256, NULL);
	export_foreign(_metadata, self->fd, buf, 256 * 256 * 4);
	close(card);
}

TEST_F(dev, export_udmabuf)
{
	int buf = udmabuf_dmabuf(4 << 20);

	if (buf == -ENOENT)
		SKIP(return, "/dev/udmabuf is absent");
	export_foreign(_metadata, self->fd, buf, 4 << 20);
}

TEST_F(dev, export_dma_heap)
{
	int buf = heap_dmabuf(3 << 20);

	if (buf == -ENOENT)
		SKIP(return, "/dev/dma_heap/system is absent");
	export_foreign(_metadata, self->fd, buf, 3 << 20);
}

/*
 * An ALLOC buffer imports into vgem (PRIME): vgem attaches and maps it,
 * and exporting the handle again gives back the same dma-buf.
 */
TEST_F(dev, prime_into_vgem)
{
	struct drm_prime_handle p = {}, p2 = {};
	struct drm_gem_close gc = {};
	struct stat st1, st2;
	int card = vgem_open();
	int buf;

	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf = vd_alloc(self->fd, 1 << 20, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, buf);
	p.fd = buf;
	ASSERT_EQ(0, ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p));
	p2.handle = p.handle;
	p2.flags = DRM_CLOEXEC | DRM_RDWR;
	ASSERT_EQ(0, ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p2));
	ASSERT_EQ(0, fstat(buf, &st1));
	ASSERT_EQ(0, fstat(p2.fd, &st2));
	EXPECT_EQ(st1.st_ino, st2.st_ino);
	close(p2.fd);
	gc.handle = p.handle;
	EXPECT_EQ(0, ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc));
	close(buf);
	close(card);
}

/* Closing the device unexports live exports; they are released. */
TEST_F_TIMEOUT(dev, close_with_live_exports, 120)
{
	long long live0 = dev_total("live_exports");
	struct vdmabuf_export e;
	struct vdmabuf_info info;
	int other, buf, i;

	ASSERT_LE(0, live0);

	other = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	buf = vd_alloc(other, 2 << 20, 0);
	ASSERT_LE(0, buf);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, vd_export(other, buf, &e));
	close(buf);
	/* Another opener's exports: in the device's total, not in our INFO. */
	EXPECT_EQ(0, wait_total("live_exports", live0 + 3, 1));
	EXPECT_EQ(0, vd_info(self->fd, &info));
	EXPECT_EQ(self->info.live_exports, info.live_exports);
	close(other);
	EXPECT_EQ(0, wait_total("live_exports", live0, 60));
}

/* A producer killed with live exports leaves nothing behind. */
TEST_F_TIMEOUT(dev, producer_killed, 120)
{
	long long live0 = dev_total("live_exports");
	long long bytes0 = dev_total("live_bytes");
	long long alloc0 = dev_total("alloc_bytes");
	int p[2], status;
	char c;
	pid_t pid;

	ASSERT_LE(0, live0);
	ASSERT_LE(0, bytes0);
	ASSERT_LE(0, alloc0);
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vdmabuf_export e;
		int dev = open(DEV_PATH, O_RDWR);
		int buf = vd_alloc(dev, 4 << 20, 0);
		int i;

		for (i = 0; i < 4; i++)
			if (vd_export(dev, buf, &e))
				_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(p[0]);
	EXPECT_EQ(0, wait_total("live_exports", live0 + 4, 1));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(0, wait_total("live_exports", live0, 60));
	EXPECT_EQ(0, wait_total("alloc_bytes", alloc0, 5));
	EXPECT_EQ(bytes0, dev_total("live_bytes"));
}

/*
 * Producers killed in the middle of EXPORT, UNEXPORT and PRESENT (the
 * driver must finish the abandoned requests) leave nothing behind.
 */
TEST_F_TIMEOUT(dev, producer_killed_mid_request, 180)
{
	long long live0 = dev_total("live_exports");
	long long bytes0 = dev_total("live_bytes");
	long long alloc0 = dev_total("alloc_bytes");
	int round, status;
	pid_t pid;

	ASSERT_LE(0, live0);
	ASSERT_LE(0, bytes0);
	ASSERT_LE(0, alloc0);
	srand(getpid());
	for (round = 0; round < 12; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			struct vdmabuf_present pr = {};
			struct vdmabuf_export e;
			int dev = open(DEV_PATH, O_RDWR);
			int buf = vd_alloc(dev, 1 << 20, 0);

			for (pr.seq = 1;; pr.seq++) {
				if (vd_export(dev, buf, &e))
					continue;
				memcpy(pr.uuid, e.uuid, 16);
				ioctl(dev, VDMABUF_IOCTL_PRESENT, &pr);
				if (pr.seq & 1)
					vd_unexport(dev, e.uuid);
			}
		}
		usleep(20000 + rand() % 200000);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	}
	EXPECT_EQ(0, wait_total("live_exports", live0, 90));
	EXPECT_EQ(0, wait_total("alloc_bytes", alloc0, 5));
	EXPECT_EQ(bytes0, dev_total("live_bytes"));
}

/* FRAME_DONE once per PRESENT, in order, then RELEASED last. */
TEST_F_TIMEOUT(dev, present_frame_done, 120)
{
	struct vdmabuf_rect rects[4] = {
		{ 0, 0, 16, 16 }, { 16, 16, 8, 8 }, { 1, 2, 3, 4 }, { 5, 6, 7, 8 },
	};
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	__u64 seq;
	int buf;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT))) {
		buf = vd_alloc(self->fd, 4096, 0);
		ASSERT_LE(0, buf);
		ASSERT_EQ(0, vd_export(self->fd, buf, &e));
		memcpy(pr.uuid, e.uuid, 16);
		EXPECT_EQ(-EOPNOTSUPP, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
		EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
		EXPECT_EQ(0, wait_released(self->fd, e.uuid));
		close(buf);
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	}

	buf = vd_alloc(self->fd, 1 << 20, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	memcpy(pr.uuid, e.uuid, 16);

	/* Bad ones first. */
	pr.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	pr.flags = 0;
	pr.nr_rects = self->info.max_rects + 1;
	pr.rects_ptr = (uintptr_t)rects;
	EXPECT_EQ(-E2BIG, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	pr.nr_rects = 1;
	pr.rects_ptr = 16;
	EXPECT_EQ(-EFAULT, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	pr.rects_ptr = (uintptr_t)rects;
	pr.uuid[0] ^= 0xff;
	EXPECT_EQ(-ENOENT, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	pr.uuid[0] ^= 0xff;
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(0, q.frames_pending);

	for (seq = 1; seq <= 20; seq++) {
		pr.seq = seq * 1000 + 7;
		pr.nr_rects = seq % (self->info.max_rects < 4 ? self->info.max_rects + 1 : 5);
		ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
		ASSERT_EQ(0, next_event(self->fd, &ev, EVT_TIMEOUT_MS));
		EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, ev.type);
		EXPECT_EQ(0, memcmp(ev.uuid, e.uuid, 16));
		EXPECT_EQ(pr.seq, ev.seq);
		EXPECT_EQ(0, ev.flags);
	}
	/* Several in flight: each completes once, in order. */
	for (seq = 1; seq <= 5; seq++) {
		pr.seq = 100000 + seq;
		pr.nr_rects = 0;
		ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
	}
	for (seq = 1; seq <= 5; seq++) {
		ASSERT_EQ(0, next_event(self->fd, &ev, EVT_TIMEOUT_MS));
		EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, ev.type);
		EXPECT_EQ(100000 + seq, ev.seq);
	}
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(0, q.frames_pending);

	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	/* PRESENT of an unexported buffer fails. */
	EXPECT_EQ(-ENOENT, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 200));
	close(buf);
}

/*
 * Many export/unexport/RELEASED cycles from STRESS_THREADS threads sharing
 * one opener, so that several requests are in flight at once, without
 * reading events until the opener's queue is full (-ENOBUFS at
 * max_events): then the thread that hit it reads everything queued.  Each
 * export is released exactly once, and the counters and MemFree return to
 * where they started (MemFree within 16 MiB).  Stops early, after at least
 * 1000 cycles, when it has run for VDMABUF_STRESS_SECONDS (default 360,
 * less when the program has already run for more than 90 s, so that the
 * whole program stays well inside the runner's 600 s).
 */
#define STRESS_CYCLES	10000
#define STRESS_THREADS	4

struct stress {
	pthread_mutex_t lock;
	int dev, buf;
	double t0, budget;
	/* Under lock: */
	unsigned int started, n, released, enobufs, busy;
	unsigned int drains;	/* times a worker read the queue empty */
	__u8 (*uuids)[16];
	char *seen;
	/* Set by a worker that saw something wrong; under lock. */
	const char *err;
	int err_val;
};

static int stress_fail(struct stress *st, const char *what, int val)
{
	if (!st->err) {
		st->err = what;
		st->err_val = val;
	}
	return -1;
}

/* Account one RELEASED event; called with st->lock held. */
static int stress_released(struct stress *st, const struct vdmabuf_event *ev)
{
	unsigned int k = st->released;

	if (ev->type != VDMABUF_EVENT_RELEASED)
		return stress_fail(st, "event type", ev->type);
	if (k >= st->n || memcmp(st->uuids[k], ev->uuid, 16))
		for (k = 0; k < st->n; k++)
			if (!memcmp(st->uuids[k], ev->uuid, 16))
				break;
	if (k >= st->n)
		return stress_fail(st, "RELEASED of an unknown UUID", 0);
	if (st->seen[k])
		return stress_fail(st, "second RELEASED of a UUID", k);
	st->seen[k] = 1;
	st->released++;
	return 0;
}

static void *stress_worker(void *arg)
{
	struct stress *st = arg;
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_info i;
	unsigned int drains;
	int r;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		if (st->err || st->started >= STRESS_CYCLES ||
		    (st->n >= 1000 && now_s() - st->t0 > st->budget)) {
			pthread_mutex_unlock(&st->lock);
			return NULL;
		}
		st->started++;
		drains = st->drains;
		pthread_mutex_unlock(&st->lock);

		r = vd_export(st->dev, st->buf, &e);
		pthread_mutex_lock(&st->lock);
		if (r == -EBUSY || r == -ENOBUFS)
			st->started--;
		if (r == -EBUSY) {
			/* A host importer is behind: back-pressure, retry. */
			if (++st->busy > 100000)
				stress_fail(st, "-EBUSY forever", r);
			pthread_mutex_unlock(&st->lock);
			usleep(1000);
			continue;
		}
		if (r == -ENOBUFS) {
			st->enobufs++;
			/*
			 * Only reads take events off the queue: unless another
			 * worker read it since this one's EXPORT began, the
			 * queue must still be full.
			 */
			if (drains == st->drains &&
			    (vd_info(st->dev, &i) || i.queued_events < i.max_events))
				stress_fail(st, "-ENOBUFS below max_events",
					    (int)i.queued_events);
			/* Read everything queued: nothing was dropped. */
			while (!st->err && next_event(st->dev, &ev, 0) == 0)
				stress_released(st, &ev);
			st->drains++;
			pthread_mutex_unlock(&st->lock);
			continue;
		}
		if (r) {
			stress_fail(st, "EXPORT", r);
			pthread_mutex_unlock(&st->lock);
			return NULL;
		}
		/* Recorded before UNEXPORT: its RELEASED cannot come earlier. */
		memcpy(st->uuids[st->n++], e.uuid, 16);
		pthread_mutex_unlock(&st->lock);

		r = vd_unexport(st->dev, e.uuid);
		if (r) {
			pthread_mutex_lock(&st->lock);
			stress_fail(st, "UNEXPORT", r);
			pthread_mutex_unlock(&st->lock);
			return NULL;
		}
	}
}

TEST_F_TIMEOUT(dev, stress_cycles, 560)
{
	const char *env = getenv("VDMABUF_STRESS_SECONDS");
	double left = 450 - (now_s() - prog_t0);
	struct stress st = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[STRESS_THREADS];
	struct vdmabuf_info start, end;
	struct vdmabuf_event ev;
	long free0, free1;
	int t;

	st.budget = env ? atof(env) : 360;
	st.uuids = calloc(STRESS_CYCLES, 16);
	st.seen = calloc(STRESS_CYCLES, 1);
	ASSERT_TRUE(st.uuids && st.seen);
	if (!env && left < st.budget)
		st.budget = left > 30 ? left : 30;
	free0 = meminfo_kb("MemFree:");
	ASSERT_EQ(0, vd_info(self->fd, &start));
	st.dev = self->fd;
	st.buf = vd_alloc(self->fd, 64 << 10, 0);
	ASSERT_LE(0, st.buf);

	st.t0 = now_s();
	for (t = 0; t < STRESS_THREADS; t++)
		ASSERT_EQ(0, pthread_create(&th[t], NULL, stress_worker, &st));
	for (t = 0; t < STRESS_THREADS; t++)
		pthread_join(th[t], NULL);
	if (st.err)
		TH_LOG("worker: %s (%d)", st.err, st.err_val);
	ASSERT_EQ(NULL, st.err);

	/* The rest of the RELEASED events. */
	while (st.released < st.n) {
		ASSERT_EQ(0, next_event(self->fd, &ev, EVT_TIMEOUT_MS));
		ASSERT_EQ(0, stress_released(&st, &ev));
	}
	close(st.buf);
	ASSERT_EQ(0, vd_info(self->fd, &end));
	EXPECT_EQ(start.live_exports, end.live_exports);
	EXPECT_EQ(start.live_bytes, end.live_bytes);
	EXPECT_EQ(start.alloc_bytes, end.alloc_bytes);
	EXPECT_EQ(0, end.queued_events);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 200));
	free1 = meminfo_kb("MemFree:");
	TH_LOG("%u cycles in %.1f s by %d threads, %u times -ENOBUFS, %u -EBUSY, MemFree %ld -> %ld kB",
	       st.n, now_s() - st.t0, STRESS_THREADS, st.enobufs, st.busy,
	       free0, free1);
	EXPECT_LE(free0 - free1, 16 * 1024);
	if (st.n >= start.max_events + 1)
		EXPECT_LE(1, st.enobufs);
	free(st.uuids);
	free(st.seen);
}

TEST_HARNESS_MAIN
