// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of /dev/virtio-vdmabuf (virtio_vdmabuf.ko), run as root in the L2
 * guest with the vhost-vdmabuf-pci device, vgem loaded, /dev/udmabuf and
 * /dev/dma_heap/system built in.  No host importer is attached, so the
 * device answers every PRESENT with FRAME_DONE at once and releases a
 * buffer as soon as it is unexported.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
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
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/userfaultfd.h>
#include <drm.h>		/* libdrm-dev's copy of the DRM UAPI */
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#include "dmabuf_mover/dmabuf_mover.h"
#include "guest_common.h"
#include "vdmabuf_util.h"
#include "vgem_fence.h"

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

/* When the program started: the stress test fits in what is left. */
static double prog_t0;

static void __attribute__((constructor)) init_t0(void)
{
	prog_t0 = now_s();
}

/* DEV_PATH's totals over every opener (vd_dev_total()). */
static long long dev_total(const char *name)
{
	return vd_dev_total(DEV_PATH, name);
}

static int wait_total(const char *name, long long want, int seconds)
{
	return vd_wait_total(DEV_PATH, name, want, seconds);
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

static int is_uuid_v4(const __u8 *u)
{
	return (u[6] >> 4) == 4 && (u[8] & 0xc0) == 0x80;
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
/* Threads, timed joins and sysfs writes that may block in the kernel  */
/* ------------------------------------------------------------------ */

#define VIRTIO_DRV_DIR	"/sys/bus/virtio/drivers/virtio_vdmabuf"
#define VIRTIO_DEV_DIR	"/sys/bus/virtio/devices"
#define VIRTIO_ID_DMABUF_STR	"0x0025"

/* SIGUSR1 interrupts a blocked system call (no SA_RESTART): EINTR. */
static void sigusr1_nop(int sig)
{
	(void)sig;
}

static void install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = sigusr1_nop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* One read() of one event record, by a thread of its own. */
struct reader {
	int fd;
	ssize_t ret;
	int err;
	double t_end;
	struct vdmabuf_event ev;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->ret = read(r->fd, &r->ev, sizeof(r->ev));
	r->err = r->ret < 0 ? errno : 0;
	r->t_end = now_s();
	return NULL;
}

/*
 * A write of @val to the sysfs file @path by a thread of its own, which
 * may sleep in the kernel for good (an unbind waiting in the driver's
 * remove(), a bind waiting for the device lock).
 */
struct sysfs_op {
	pthread_t th;
	char path[160];
	char val[64];
	int ret;		/* 0 or -errno, once done */
	int done;
	bool started, joined;
};

static void *sysfs_op_fn(void *arg)
{
	struct sysfs_op *op = arg;
	int fd = open(op->path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0) {
		ret = -errno;
	} else {
		if (write(fd, op->val, strlen(op->val)) < 0)
			ret = -errno;
		close(fd);
	}
	op->ret = ret;
	__atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int sysfs_op_start(struct sysfs_op *op, const char *path,
			  const char *val)
{
	memset(op, 0, sizeof(*op));
	snprintf(op->path, sizeof(op->path), "%s", path);
	snprintf(op->val, sizeof(op->val), "%s", val);
	if (pthread_create(&op->th, NULL, sysfs_op_fn, op))
		return -EAGAIN;
	op->started = true;
	return 0;
}

/* 0 once the write returned (its result in op->ret), or -ETIMEDOUT. */
static int sysfs_op_wait(struct sysfs_op *op, int ms)
{
	if (!op->started)
		return -EINVAL;
	if (!op->joined) {
		if (join_within(op->th, ms))
			return -ETIMEDOUT;
		op->joined = true;
	}
	return 0;
}

/*
 * Write @val to @path within @ms: the write's 0 or -errno, or -ETIMEDOUT
 * (then the writer is left behind, with its memory).
 */
static int sysfs_write_timed(const char *path, const char *val, int ms)
{
	struct sysfs_op *op = malloc(sizeof(*op));
	int r;

	if (!op)
		return -ENOMEM;
	r = sysfs_op_start(op, path, val);
	if (!r)
		r = sysfs_op_wait(op, ms);
	if (!r)
		r = op->ret;
	if (r != -ETIMEDOUT)
		free(op);
	return r;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = 0;
		r = 0;
	}
	fclose(f);
	return r;
}

/* @src into @dst of @len bytes, cut short if need be. */
static void copy_name(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* The driver bound to virtio device @name ("" when none) into @drv. */
static void virtio_driver_of(const char *name, char *drv, size_t len)
{
	char path[160], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), VIRTIO_DEV_DIR "/%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		n = 0;
	link[n] = 0;
	copy_name(drv, len, strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}

/*
 * The name (virtioN) of the virtio device behind DEV_PATH: the parent of
 * its misc device when it has one, else the lowest-numbered device bound
 * to virtio_vdmabuf (the first one probed keeps the plain name).
 */
static int vdmabuf_virtio_name(char *name, size_t len)
{
	char link[PATH_MAX];
	const char *base;
	long best = -1;
	glob_t g;
	ssize_t n;
	size_t i;

	n = readlink("/sys/class/misc/virtio-vdmabuf/device", link,
		     sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
		if (!strncmp(base, "virtio", 6)) {
			copy_name(name, len, base);
			return 0;
		}
	}
	if (glob(VIRTIO_DRV_DIR "/virtio*", 0, NULL, &g))
		return -ENOENT;
	for (i = 0; i < g.gl_pathc; i++) {
		long v = strtol(strrchr(g.gl_pathv[i], '/') + 7, NULL, 10);

		if (best < 0 || v < best)
			best = v;
	}
	globfree(&g);
	if (best < 0)
		return -ENOENT;
	snprintf(name, len, "virtio%ld", best);
	return 0;
}

/* Wait up to @ms for DEV_PATH to exist; 0 or -ETIMEDOUT. */
static int wait_dev_node(int ms)
{
	double end = now_s() + ms / 1000.0;

	do {
		if (!access(DEV_PATH, F_OK))
			return 0;
		usleep(20000);
	} while (now_s() < end);
	return -ETIMEDOUT;
}

/* ------------------------------------------------------------------ */

/*
 * Tests that unbind the virtio device behind /dev/virtio-vdmabuf from the
 * driver.  Declared before the other fixtures so that they run first,
 * while the program has time to spare, and every later test runs on the
 * rebound device.  The teardown always binds the device again (unless
 * the unbind itself never finished: then it would only sleep on the
 * device lock too), so that later tests keep a device.
 */
FIXTURE(unbind) {
	int fd;
	struct vdmabuf_info info;
	char name[32];		/* virtioN behind DEV_PATH */
	struct sysfs_op op;	/* the unbind */
	bool unbound;
};

FIXTURE_SETUP(unbind)
{
	self->fd = open_dev(_metadata);
	if (_metadata->exit_code)	/* skipped: no device */
		return;
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vd_info(self->fd, &self->info));
	if (vdmabuf_virtio_name(self->name, sizeof(self->name)))
		SKIP(return, "no virtio device bound to virtio_vdmabuf in " VIRTIO_DRV_DIR);
	if (access(VIRTIO_DRV_DIR "/unbind", W_OK))
		SKIP(return, VIRTIO_DRV_DIR "/unbind is not writable");
}

/* Start unbinding self->name; 0 once done (within @ms), else -ETIMEDOUT. */
static int unbind_dev(FIXTURE_DATA(unbind) *self, int ms)
{
	int r = sysfs_op_start(&self->op, VIRTIO_DRV_DIR "/unbind", self->name);

	if (r)
		return r;
	r = sysfs_op_wait(&self->op, ms);
	if (!r && !self->op.ret)
		self->unbound = true;
	return r ? r : self->op.ret;
}

/* Wait up to @ms more for an unbind still in flight. */
static int unbind_finish(FIXTURE_DATA(unbind) *self, int ms)
{
	int r = sysfs_op_wait(&self->op, ms);

	if (!r && !self->op.ret)
		self->unbound = true;
	return r ? r : self->op.ret;
}

/* Bind the device again and wait for DEV_PATH; 0 or -errno. */
static int rebind_dev(FIXTURE_DATA(unbind) *self)
{
	int r;

	if (!self->unbound)
		return 0;
	r = sysfs_write_timed(VIRTIO_DRV_DIR "/bind", self->name, 10000);
	if (r)
		return r;
	self->unbound = false;
	return wait_dev_node(5000);
}

FIXTURE_TEARDOWN(unbind)
{
	if (self->op.started && !self->op.joined &&
	    unbind_finish(self, 10000) == -ETIMEDOUT)
		TH_LOG("the unbind of %s never finished: not binding it again",
		       self->name);
	if (self->unbound && rebind_dev(self))
		TH_LOG("binding %s again failed", self->name);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Unbinding the device hangs up its open files: asserts that poll()
 * reports POLLHUP|POLLERR on them, that a non-blocking read() and INFO
 * fail with ENODEV, that a reader asleep in read() wakes within 2 s with
 * ENODEV, and that after binding again /dev/virtio-vdmabuf is back and
 * works (INFO on a new open).
 */
TEST_F_TIMEOUT(unbind, removal_hup, 90)
{
	struct reader rd = { .fd = self->fd };
	struct vdmabuf_info info;
	struct vdmabuf_event ev;
	struct pollfd p[2];
	int fd2, joined, r, fd3;
	ssize_t n;
	int n_errno;
	double t0;
	pthread_t th;

	install_sigusr1();
	fd2 = open(DEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_fn, &rd));
	usleep(200000);

	r = unbind_dev(self, 10000);
	ASSERT_EQ(0, r) TH_LOG("unbinding %s", self->name);
	t0 = now_s();

	p[0] = (struct pollfd){ .fd = self->fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = fd2, .events = POLLIN };
	EXPECT_LE(0, poll(p, 2, 100));
	EXPECT_EQ(POLLHUP | POLLERR, p[0].revents & (POLLHUP | POLLERR));
	EXPECT_EQ(POLLHUP | POLLERR, p[1].revents & (POLLHUP | POLLERR));

	n = read(fd2, &ev, sizeof(ev));
	n_errno = n < 0 ? errno : 0;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENODEV, n_errno);

	/* The reader asleep since before the unbind wakes with ENODEV. */
	joined = join_within(th, 2000);
	EXPECT_EQ(0, joined) TH_LOG("the blocked reader still sleeps 2 s after the unbind");
	if (joined) {
		pthread_kill(th, SIGUSR1);
		if (join_within(th, 2000))
			TH_LOG("the blocked reader did not return even on a signal");
	} else {
		EXPECT_EQ(-1, rd.ret);
		EXPECT_EQ(ENODEV, rd.err);
		TH_LOG("the blocked reader returned %zd (%s) %.2f s after the unbind",
		       rd.ret, strerror(rd.err), rd.t_end - t0);
	}

	EXPECT_EQ(-ENODEV, vd_info(self->fd, &info));
	EXPECT_EQ(-ENODEV, vd_info(fd2, &info));
	close(fd2);

	/* Bound again: the device node is back and works. */
	EXPECT_EQ(0, rebind_dev(self)) TH_LOG("binding %s again", self->name);
	fd3 = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, fd3);
	if (fd3 >= 0) {
		EXPECT_EQ(0, vd_info(fd3, &info));
		close(fd3);
	}
}

/* EXPORT of a 4 KiB ALLOC buffer with 64 bytes of metadata, in a thread. */
struct export_call {
	int dev, buf;
	void *meta;
	int ret;
	__u8 uuid[16];
};

static void *export_fn(void *arg)
{
	struct export_call *c = arg;
	struct vdmabuf_export e = {
		.fd = c->buf, .meta_len = 64, .meta_ptr = (uintptr_t)c->meta,
	};

	c->ret = ioctl(c->dev, VDMABUF_IOCTL_EXPORT, &e) ? -errno : 0;
	if (!c->ret)
		memcpy(c->uuid, e.uuid, 16);
	return NULL;
}

/*
 * An EXPORT whose metadata copy is stuck on a userfaultfd page must not
 * hold up the device's removal: asserts that, with the EXPORT asleep in
 * the fault, unbinding the device finishes within 5 s; then, with the
 * fault resolved, that the EXPORT fails with ENODEV.
 */
TEST_F_TIMEOUT(unbind, uffd_meta_does_not_block_unbind, 90)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {};
	struct uffdio_zeropage zp = {};
	struct export_call ex = { .dev = self->fd };
	long psz = sysconf(_SC_PAGESIZE);
	int uffd, unbind_r, export_join, r;
	struct uffd_msg msg;
	struct pollfd p;
	pthread_t th;
	void *page;

	if (self->info.max_meta_len < 64)
		SKIP(return, "the device takes less than 64 bytes of metadata");
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	reg.range.start = (uintptr_t)page;
	reg.range.len = psz;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ex.buf = vd_alloc(self->fd, 4096, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, ex.buf);
	ex.meta = page;
	ASSERT_EQ(0, pthread_create(&th, NULL, export_fn, &ex));

	/* The EXPORT reaches the metadata copy and faults. */
	p = (struct pollfd){ .fd = uffd, .events = POLLIN };
	r = poll(&p, 1, 5000);
	ASSERT_EQ(1, r) TH_LOG("no fault on the metadata page within 5 s (EXPORT returned %d)",
			       ex.ret);
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ((uintptr_t)page, msg.arg.pagefault.address & ~(__u64)(psz - 1));

	/* The EXPORT sleeps in copy_from_user: unbind now. */
	unbind_r = unbind_dev(self, 5000);
	EXPECT_EQ(0, unbind_r) TH_LOG("the unbind of %s did not finish within 5 s",
				      self->name);

	/* Resolve the fault: the EXPORT goes on, and fails. */
	zp.range.start = (uintptr_t)page;
	zp.range.len = psz;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp));
	export_join = join_within(th, 5000);
	EXPECT_EQ(0, export_join) TH_LOG("EXPORT still running 5 s after the fault was resolved");
	if (!export_join)
		EXPECT_EQ(-ENODEV, ex.ret);
	if (unbind_r == -ETIMEDOUT) {
		r = unbind_finish(self, 10000);
		TH_LOG("with the fault resolved, the unbind %s",
		       r == -ETIMEDOUT ? "still did not finish within 10 s" :
		       "finished");
	}
	close(ex.buf);
	close(uffd);
	munmap(page, psz);
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
	/* Past the wire's bound: refused before the (bad) pointer is read. */
	e.meta_len = VIRTIO_VDMABUF_MAX_META + 1;
	e.meta_ptr = 16;
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

/*
 * With swiotlb=force the device's DMA is bounced: the DMA API gives the
 * bounce buffer's addresses, not the buffer's, so EXPORT must be refused
 * (EOPNOTSUPP) rather than share the wrong pages; ALLOC still works.  It
 * runs in the test bed's swiotlb guest (VM_MODE=swiotlb) and skips in a
 * guest booted without swiotlb=force.
 */
TEST_F(dev, export_refused_when_bounced)
{
	struct vdmabuf_export e;
	char cmdline[4096] = "";
	int fd, buf;
	ssize_t n;

	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	ASSERT_LT(0, n);
	if (!strstr(cmdline, "swiotlb=force"))
		SKIP(return, "the guest was not booted with swiotlb=force");

	buf = vd_alloc(self->fd, 64 << 10, 0);
	ASSERT_LE(0, buf);
	EXPECT_EQ(-EOPNOTSUPP, vd_export(self->fd, buf, &e));
	EXPECT_EQ(0, self->info.queued_events);
	close(buf);
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

/*
 * DMA-API debugging's error count (the debug kernel), or -1 on a kernel
 * without it.  Its reports (the first is printed) are what the debug
 * kernel's runs fail on; a test that counts them names the culprit.
 */
#define DMA_API_ERRORS	"/sys/kernel/debug/dma-api/error_count"

static long dma_api_errors(void)
{
	char line[32];

	if (read_line(DMA_API_ERRORS, line, sizeof(line)))
		return -1;
	return strtol(line, NULL, 10);
}

/*
 * A buffer of another exporter: its mapping for the device must satisfy
 * the device's DMA parameters (the system heap maps 1 MiB segments, which
 * the PCI default of 64 KiB would refuse).
 */
static void export_foreign(struct __test_metadata *_metadata, int dev,
			   int buf, __u64 size)
{
	long errors = dma_api_errors();
	struct vdmabuf_export e;

	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(dev, buf, &e));
	EXPECT_EQ(errors, dma_api_errors()) TH_LOG("DMA-API errors (dmesg: DMA-API)");
	EXPECT_EQ(size, e.size);
	EXPECT_LE(1, e.nr_ranges);
	EXPECT_GE(size / 4096, e.nr_ranges);
	close(buf);
	EXPECT_EQ(0, vd_unexport(dev, e.uuid));
	EXPECT_EQ(0, wait_released(dev, e.uuid));
}

/*
 * DMA-API debugging tracks the cache lines a device may write, and
 * reports a line mapped twice at once unless the mappings skip the CPU
 * syncs, which cannot keep overlapping mappings coherent.  The driver's
 * own buffer, exported twice on the first device (one mapping, which the
 * two exports share) and once on the second, is mapped twice at once,
 * once per device: its mappings must skip them (begin_cpu_access and
 * end_cpu_access sync instead).  Skipped on a kernel without DMA-API
 * debugging.
 */
TEST_F(dev, own_buffer_on_two_devices)
{
	long errors = dma_api_errors();
	struct vdmabuf_export e[3];
	int buf, fd1, i;

	if (errors < 0)
		SKIP(return, "no DMA-API debugging (" DMA_API_ERRORS ")");
	buf = vd_alloc(self->fd, 1 << 20, 0);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e[0]));
	ASSERT_EQ(0, vd_export(self->fd, buf, &e[1]));
	fd1 = open(DEV_PATH "1", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd1) TH_LOG("open " DEV_PATH "1: %s", strerror(errno));
	ASSERT_EQ(0, vd_export(fd1, buf, &e[2]));
	EXPECT_EQ(errors, dma_api_errors()) TH_LOG("DMA-API errors (dmesg: DMA-API)");
	for (i = 0; i < 3; i++) {
		int fd = i < 2 ? self->fd : fd1;

		EXPECT_EQ(0, vd_unexport(fd, e[i].uuid));
		EXPECT_EQ(0, wait_released(fd, e[i].uuid));
	}
	close(fd1);
	close(buf);
}

/*
 * The DMA-API debugging entries of the first device's PCI function (its
 * mappings: the virtqueues, with VIRTIO_F_ACCESS_PLATFORM refused, use
 * none), or -1 without DMA-API debugging or with it turned off.
 */
#define DMA_API_DUMP	"/sys/kernel/debug/dma-api/dump"

static int dma_api_mappings(void)
{
	char path[PATH_MAX], line[512], drv[64], name[64];
	const char *pci;
	int n = 0;
	FILE *f;

	if (read_line("/sys/kernel/debug/dma-api/disabled", line, sizeof(line)) ||
	    line[0] != 'N')
		return -1;
	if (!realpath("/sys/class/misc/virtio-vdmabuf/device/..", path))
		return -1;
	pci = strrchr(path, '/') + 1;
	f = fopen(DMA_API_DUMP, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s", drv, name) == 2 && !strcmp(name, pci))
			n++;
	fclose(f);
	return n;
}

/* Wait up to 5 s for the device's mappings to number @want; the last count. */
static int dma_api_mappings_settle(int want)
{
	int i, n = dma_api_mappings();

	for (i = 0; i < 250 && n != want; i++) {
		usleep(20000);
		n = dma_api_mappings();
	}
	return n;
}

/*
 * The device's mappings once no teardown is pending: the same count for
 * 200 ms running (a test before may have just had its last RELEASED),
 * waiting at most 5 s.
 */
static int dma_api_mappings_stable(void)
{
	int i, same = 0, n = dma_api_mappings();

	for (i = 0; i < 250 && same < 10; i++) {
		int m;

		usleep(20000);
		m = dma_api_mappings();
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/*
 * A foreign buffer exported three times at once on one device is mapped
 * for it once, as DRM PRIME imports a dma-buf once per file: the system
 * heap maps with CPU syncs, so a second mapping of its lines for a device
 * that may write them is one DMA-API debugging reports.  The mapping goes
 * soon after the last of the three is released.  Exported again at once,
 * the buffer may find its mapping still there, being torn down: the
 * export must tear it down first, never map beside it.  Exported again
 * later, it is mapped anew.  Skipped on a kernel without DMA-API
 * debugging or the system heap.
 */
TEST_F(dev, foreign_buffer_exported_thrice)
{
	long errors = dma_api_errors();
	int before = dma_api_mappings_stable(), once, buf, i;
	struct vdmabuf_export e[3];

	if (errors < 0 || before < 0)
		SKIP(return, "no DMA-API debugging (" DMA_API_DUMP ")");
	buf = heap_dmabuf(1 << 20);
	if (buf == -ENOENT)
		SKIP(return, "/dev/dma_heap/system is absent");
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e[0]));
	once = dma_api_mappings();
	EXPECT_LT(before, once);
	for (i = 1; i < 3; i++)
		ASSERT_EQ(0, vd_export(self->fd, buf, &e[i]));
	EXPECT_EQ(once, dma_api_mappings()) TH_LOG("mapped more than once");
	EXPECT_EQ(errors, dma_api_errors()) TH_LOG("DMA-API errors (dmesg: DMA-API)");
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(e[0].nr_ranges, e[i].nr_ranges);
		EXPECT_EQ(1 << 20, e[i].size);
		EXPECT_EQ(0, vd_unexport(self->fd, e[i].uuid));
		EXPECT_EQ(0, wait_released(self->fd, e[i].uuid));
	}
	ASSERT_EQ(0, vd_export(self->fd, buf, &e[0]));
	EXPECT_EQ(once, dma_api_mappings()) TH_LOG("mapped beside its old mapping");
	EXPECT_EQ(0, vd_unexport(self->fd, e[0].uuid));
	EXPECT_EQ(0, wait_released(self->fd, e[0].uuid));
	EXPECT_EQ(before, dma_api_mappings_settle(before)) TH_LOG("not unmapped");
	ASSERT_EQ(0, vd_export(self->fd, buf, &e[0]));
	EXPECT_EQ(once, dma_api_mappings());
	EXPECT_EQ(0, vd_unexport(self->fd, e[0].uuid));
	EXPECT_EQ(0, wait_released(self->fd, e[0].uuid));
	EXPECT_EQ(before, dma_api_mappings_settle(before)) TH_LOG("not unmapped");
	EXPECT_EQ(errors, dma_api_errors()) TH_LOG("DMA-API errors (dmesg: DMA-API)");
	close(buf);
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

/* ------------------------------------------------------------------ */
/*
 * Buffers that move: dmabuf_mover.ko stands in for a TTM exporter
 * (amdgpu, xe), whose pin may first migrate the buffer and whose
 * migration leaves a kernel fence until the copy is done.
 */

FIXTURE(mover) {
	int fd, mover, kmsg;
	struct vdmabuf_info info;
};

FIXTURE_SETUP(mover)
{
	self->mover = -1;
	/* Only what the kernel logs from now on. */
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->kmsg);
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));
	self->fd = open_dev(_metadata);
	if (_metadata->exit_code)	/* skipped: no device */
		return;
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vd_info(self->fd, &self->info));
	self->mover = open(DMABUF_MOVER_DEV, O_RDWR | O_CLOEXEC);
	if (self->mover < 0 && errno == ENOENT)
		SKIP(return, DMABUF_MOVER_DEV " is absent (dmabuf_mover.ko not loaded)");
	ASSERT_LE(0, self->mover);
}

FIXTURE_TEARDOWN(mover)
{
	if (self->mover >= 0)
		close(self->mover);
	if (self->fd >= 0)
		close(self->fd);
	close(self->kmsg);
}

static int mover_create(int mover, __u64 size, __u32 flags)
{
	struct dmabuf_mover_create c = { .size = size, .flags = flags };

	return ioctl(mover, DMABUF_MOVER_IOC_CREATE, &c) ? -errno : (int)c.fd;
}

static int mover_op(int mover, unsigned long cmd, int buf,
		    struct dmabuf_mover_op *op)
{
	memset(op, 0, sizeof(*op));
	op->fd = buf;
	return ioctl(mover, cmd, op) ? -errno : 0;
}

/*
 * Did the kernel warn since @kmsg's position?  Logs the first warning
 * (WARN_ONCE: a driver that warns does so in whichever test moves first).
 */
static bool kernel_warned(struct __test_metadata *_metadata, int kmsg)
{
	char rec[1024];
	ssize_t n;

	for (;;) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: read on */
			continue;
		if (n <= 0)
			return false;
		rec[n] = 0;
		rec[strcspn(rec, "\n")] = 0;
		if (strstr(rec, "WARNING:")) {
			TH_LOG("kernel: %s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
			return true;
		}
	}
}

/*
 * CONFIG_DMABUF_MOVE_NOTIFY of the guest's kernel, from the line the test
 * bed puts in /lib/vdmabuf/kconfig: 1, 0, or -1 if it does not say.
 */
static int move_notify_enabled(void)
{
	char line[128];
	FILE *f = fopen("/lib/vdmabuf/kconfig", "re");
	int r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CONFIG_DMABUF_MOVE_NOTIFY=y", 27))
			r = 1;
		else if (!strncmp(line, "# CONFIG_DMABUF_MOVE_NOTIFY is not set", 38))
			r = 0;
	}
	fclose(f);
	return r;
}

/* Wait until nothing pins @buf any more; its pin count, or -errno. */
static int mover_wait_unpinned(int mover, int buf, int ms)
{
	struct dmabuf_mover_op op;
	int r;

	for (;;) {
		r = mover_op(mover, DMABUF_MOVER_IOC_QUERY, buf, &op);
		if (r)
			return r;
		if (!op.pins || ms <= 0)
			return op.pins;
		usleep(10000);
		ms -= 10;
	}
}

/*
 * The move made in the pin is complete only when its kernel fence
 * signals: asserts that, with the move's fence in place, EXPORT has not
 * returned 1 s later (it would send the ranges of a buffer still being
 * copied), and that it succeeds once the fence signals.
 */
TEST_F_TIMEOUT(mover, export_waits_for_the_move, 60)
{
	struct export_call ex = { .dev = self->fd };
	struct dmabuf_mover_op op;
	char meta[64] = "moved";
	int joined, i;
	pthread_t th;

	if (self->info.max_meta_len < sizeof(meta))
		SKIP(return, "the device takes less than 64 bytes of metadata");
	ex.buf = mover_create(self->mover, 64 << 10,
			      DMABUF_MOVER_F_MIGRATE_ON_PIN | DMABUF_MOVER_F_FENCE);
	ASSERT_LE(0, ex.buf);
	ex.meta = meta;
	ASSERT_EQ(0, pthread_create(&th, NULL, export_fn, &ex));

	/* Until EXPORT's pin has moved the buffer (up to 10 s). */
	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(0, mover_op(self->mover, DMABUF_MOVER_IOC_QUERY, ex.buf, &op));
		if (op.moves)
			break;
		usleep(10000);
	}
	ASSERT_EQ(1, op.moves) TH_LOG("EXPORT did not pin the buffer within 10 s");
	ASSERT_EQ(1, op.pending) TH_LOG("the move's fence signalled by itself");

	joined = join_within(th, 1000);
	EXPECT_EQ(ETIMEDOUT, joined)
		TH_LOG("EXPORT returned %d while the exporter was still moving the buffer",
		       ex.ret);
	EXPECT_EQ(0, mover_op(self->mover, DMABUF_MOVER_IOC_SIGNAL, ex.buf, &op));
	if (joined)
		joined = join_within(th, EVT_TIMEOUT_MS);
	ASSERT_EQ(0, joined) TH_LOG("EXPORT still waiting after the move fence signalled");
	ASSERT_EQ(0, ex.ret);
	EXPECT_FALSE(kernel_warned(_metadata, self->kmsg));
	EXPECT_EQ(0, vd_unexport(self->fd, ex.uuid));
	EXPECT_EQ(0, wait_released(self->fd, ex.uuid));
	close(ex.buf);
}

/*
 * An exporter may move the buffer while EXPORT pins it (amdgpu's pin
 * migrates a VRAM buffer to GTT), before any address is taken: asserts
 * that such an EXPORT succeeds without a kernel warning and that the move
 * did happen inside the pin; that the driver's own pin holds while the
 * buffer is exported (the exporter refuses to move it: EBUSY); and that
 * once the buffer is RELEASED the pins are gone and a move warns no one.
 */
TEST_F(mover, moved_while_pinning)
{
	struct dmabuf_mover_op op;
	struct vdmabuf_export e;
	int buf, mn;

	buf = mover_create(self->mover, 64 << 10, DMABUF_MOVER_F_MIGRATE_ON_PIN);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	EXPECT_EQ(64 << 10, e.size);
	ASSERT_EQ(0, mover_op(self->mover, DMABUF_MOVER_IOC_QUERY, buf, &op));
	EXPECT_EQ(1, op.moves) TH_LOG("the exporter did not move the buffer in its pin");
	/* Without CONFIG_DMABUF_MOVE_NOTIFY the core pins again to map. */
	mn = move_notify_enabled();
	if (mn < 0) {
		TH_LOG("no /lib/vdmabuf/kconfig: the pins are not counted exactly");
		EXPECT_LE(1, op.pins);
	} else {
		EXPECT_EQ(mn ? 1 : 2, op.pins) TH_LOG("the driver's own pin is not held");
	}
	EXPECT_FALSE(kernel_warned(_metadata, self->kmsg))
		TH_LOG("a move inside EXPORT's pin warned");
	EXPECT_EQ(-EBUSY, mover_op(self->mover, DMABUF_MOVER_IOC_MOVE, buf, &op))
		TH_LOG("the exported buffer was not pinned");

	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(0, mover_wait_unpinned(self->mover, buf, 5000))
		TH_LOG("still pinned 5 s after RELEASED");
	ASSERT_EQ(0, mover_op(self->mover, DMABUF_MOVER_IOC_MOVE, buf, &op));
	EXPECT_EQ(2, op.moves);
	EXPECT_FALSE(kernel_warned(_metadata, self->kmsg))
		TH_LOG("a move after RELEASED warned");
	close(buf);
}

/* DMABUF_MOVER_IOC_VMAP: @bytes to @offset of @buf, the old ones back. */
static int mover_vmap(int mover, int buf, __u64 offset, void *bytes,
		      __u32 len)
{
	struct dmabuf_mover_vmap v = {
		.fd = buf, .len = len, .offset = offset, .ptr = (uintptr_t)bytes,
	};

	return ioctl(mover, DMABUF_MOVER_IOC_VMAP, &v) ? -errno : 0;
}

/* Byte @i of the pattern user space writes: a page's differs from the next's. */
static __u8 vmap_pattern(__u64 i)
{
	return (__u8)(i * 7 + (i >> 12) * 13);
}

/*
 * Swap @len bytes at @off of @buf (mapped at @map) through the kernel's
 * mapping: asserts that the kernel read what user space wrote there
 * (vmap_pattern()) and that user space then reads the kernel's bytes,
 * (@off + i) ^ 0xa5; then writes the pattern back.
 */
static void vmap_swap(struct __test_metadata *_metadata, int mover, int buf,
		      __u8 *map, __u64 off, __u32 len)
{
	__u8 bytes[DMABUF_MOVER_VMAP_MAX];
	__u32 i;

	for (i = 0; i < len; i++)
		bytes[i] = (__u8)((off + i) ^ 0xa5);
	ASSERT_EQ(0, mover_vmap(mover, buf, off, bytes, len)) TH_LOG("at %llu", off);
	for (i = 0; i < len; i++)
		ASSERT_EQ(vmap_pattern(off + i), bytes[i])
			TH_LOG("the kernel read byte %llu wrong", off + i);
	ASSERT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW));
	for (i = 0; i < len; i++) {
		ASSERT_EQ((__u8)((off + i) ^ 0xa5), map[off + i])
			TH_LOG("user space read byte %llu wrong", off + i);
		map[off + i] = vmap_pattern(off + i);
	}
	ASSERT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
}

/*
 * A kernel importer that draws with the CPU (fbdev emulation, a cursor
 * plane) maps the driver's buffer with dma_buf_vmap(): asserts, at its
 * start, across a page boundary and at its end, that the kernel's mapping
 * reads what user space wrote through mmap() and that user space reads
 * what the kernel wrote, before the buffer is exported, while it is and
 * after; that a range past the end is refused; and that the mapping goes
 * with the buffer (its memory is given back).  The test importer itself
 * must not write into a read-only dma-buf.
 */
TEST_F(mover, vmap_own_buffer)
{
	const __u64 size = 64 << 10;
	const __u64 at[] = { 0, 3 * 4096 - 100, size - 4096 };
	struct vdmabuf_export e;
	__u8 *map, two[2] = {};
	unsigned int i, round;
	__u64 alloc0 = self->info.alloc_bytes;
	int buf, heap;

	buf = vd_alloc(self->fd, size, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, buf);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	for (i = 0; i < size; i++)
		map[i] = vmap_pattern(i);
	ASSERT_EQ(0, dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));

	for (round = 0; round < 3; round++) {
		if (round == 1)
			ASSERT_EQ(0, vd_export(self->fd, buf, &e));
		for (i = 0; i < ARRAY_SIZE(at); i++)
			vmap_swap(_metadata, self->mover, buf, map, at[i],
				  i == 1 ? 200 : DMABUF_MOVER_VMAP_MAX);
		if (round == 1) {
			ASSERT_EQ(0, vd_unexport(self->fd, e.uuid));
			ASSERT_EQ(0, wait_released(self->fd, e.uuid));
		}
	}
	EXPECT_EQ(-EINVAL, mover_vmap(self->mover, buf, size - 1, two, 2));
	EXPECT_EQ(-EINVAL, mover_vmap(self->mover, buf, ~0ULL, two, 1));
	EXPECT_EQ(0, mover_vmap(self->mover, buf, size - 1, two, 1));
	EXPECT_EQ(vmap_pattern(size - 1), two[0]);
	/* Not into a dma-buf its exporter made read-only (the system heap's) */
	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap >= 0) {
		struct dma_heap_allocation_data d = {
			.len = 4096, .fd_flags = O_RDONLY | O_CLOEXEC,
		};

		ASSERT_EQ(0, ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d));
		EXPECT_EQ(-EBADF, mover_vmap(self->mover, d.fd, 0, two, 1));
		close(d.fd);
		close(heap);
	} else {
		TH_LOG("no system heap: the read-only refusal is not checked");
	}
	munmap(map, size);
	close(buf);
	EXPECT_EQ(0, wait_alloc(self->fd, alloc0, 5));
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
	/* Past the wire's bound: refused before the (bad) pointer is read. */
	pr.nr_rects = VIRTIO_VDMABUF_MAX_RECTS + 1;
	pr.rects_ptr = 16;
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
 * PRESENT syncs implicitly with the buffer's writers (e2e_vdmabuf checks
 * it with a host importer; this runs where the guest has none): asserts,
 * with a vgem buffer exported, that a frame whose buffer has an
 * unsignalled write fence waits for it (PRESENT returns with the fence
 * unsignalled, the frame is pending and no FRAME_DONE comes) and
 * completes once it signals; that a second PRESENT meanwhile is refused
 * with EBUSY and not counted, so that frames stay in order; and that an
 * UNEXPORT drops the waiting frame: its FRAME_DONE, flagged dropped,
 * comes before the RELEASED, and the fence signalling after sends
 * nothing.  Skipped if vgem's timeout may have signalled a fence first.
 */
TEST_F_TIMEOUT(dev, present_waits_for_writes, 120)
{
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	__u32 handle, fence = 0;
	int card, buf, r;
	double t0;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	card = vgem_open();
	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf = vgem_dmabuf(card, 64, 64, &handle);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	memcpy(pr.uuid, e.uuid, 16);

	/* The frame waits for the writer; a second one is refused. */
	t0 = now_s();
	ASSERT_EQ(0, vgem_write_fence(card, handle, &fence));
	pr.seq = 1;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
	ASSERT_GT(VGEM_FENCE_LIFE_S, now_s() - t0)
		TH_LOG("PRESENT returned only %.1f s on", now_s() - t0);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(1, q.frames_pending);
	pr.seq = 2;
	EXPECT_EQ(-EBUSY, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 300))
		TH_LOG("an event (type %u, seq %llu) before the fence signalled",
		       ev.type, (unsigned long long)ev.seq);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(1, q.frames_pending) TH_LOG("the refused PRESENT was counted");
	r = vgem_signal(card, fence);
	if (r == -ETIMEDOUT && now_s() - t0 >= VGEM_FENCE_LIFE_S)
		SKIP_UNLESS_FAILED(return, "vgem's fence signalled by itself after %.1f s",
				   now_s() - t0);
	ASSERT_EQ(0, r);
	EXPECT_FRAME_DONE(self->fd, 1, 0);

	/* UNEXPORT while a frame waits: dropped, then RELEASED. */
	t0 = now_s();
	ASSERT_EQ(0, vgem_write_fence(card, handle, &fence));
	pr.seq = 3;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
	ASSERT_EQ(0, vd_unexport(self->fd, e.uuid));
	ASSERT_EQ(0, next_event(self->fd, &ev, EVT_TIMEOUT_MS));
	if (now_s() - t0 >= VGEM_FENCE_LIFE_S)
		SKIP_UNLESS_FAILED(return, "vgem's fence may have signalled by itself (%.1f s)",
				   now_s() - t0);
	EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, ev.type);
	EXPECT_EQ(3, ev.seq);
	EXPECT_EQ(VDMABUF_EVENT_F_DROPPED, ev.flags);
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	r = vgem_signal(card, fence);
	EXPECT_TRUE(r == 0 || (r == -ETIMEDOUT && now_s() - t0 >= VGEM_FENCE_LIFE_S))
		TH_LOG("signalling the fence: %s", strerror(-r));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 300))
		TH_LOG("an event (type %u) after RELEASED", ev.type);
	close(buf);
	close(card);
}

#define PM_TEST		"/sys/power/pm_test"
#define PM_TEST_DELAY	"/sys/module/suspend/parameters/pm_test_delay"

/*
 * Whether the PCI function of DEV_PATH's device keeps its state through a
 * suspend (No_Soft_Reset in its power management capability), when
 * virtio-pci neither freezes nor restores it: 1, 0 (also for a device of
 * another transport, which a suspend resets), or -errno.
 */
static int dev_no_soft_reset(void)
{
	__u8 cfg[256];
	unsigned int ptr, hops;
	ssize_t n;
	int fd;

	fd = open("/sys/class/misc/virtio-vdmabuf/device/../config",
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, cfg, sizeof(cfg));
	close(fd);
	if (n < 0x40)
		return -EIO;
	if (!(cfg[0x06] & 0x10))	/* no capability list */
		return 0;
	ptr = cfg[0x34] & ~3u;
	for (hops = 0; ptr >= 0x40 && ptr + 6 <= (size_t)n && hops < 48; hops++) {
		if (cfg[ptr] == 0x01)	/* power management: PMCSR bit 3 */
			return !!(cfg[ptr + 4] & 0x08);
		ptr = cfg[ptr + 1] & ~3u;
	}
	return 0;
}

/* The bracketed word of /sys/power/pm_test, the test level in force. */
static int pm_test_level(char *level, size_t len)
{
	char line[128], *l, *r;
	int ret = read_line(PM_TEST, line, sizeof(line));

	if (ret)
		return ret;
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r)
		return -EPROTO;
	*r = 0;
	snprintf(level, len, "%s", l + 1);
	return 0;
}

/*
 * Suspend to idle with pm_test=devices: every device is frozen and
 * restored, and nothing else happens; the kernel's pm_test_delay (5 s by
 * default) is 0 meanwhile.  Both knobs are put back once the suspend has
 * returned; if it never does (-ETIMEDOUT), they are left as they are, as
 * is the writer.  0, or the first -errno.
 */
static int suspend_devices(void)
{
	char level[32], delay[16];
	int r, r2;

	r = pm_test_level(level, sizeof(level));
	if (!r)
		r = read_line(PM_TEST_DELAY, delay, sizeof(delay));
	if (r)
		return r;
	r = sysfs_write_timed(PM_TEST_DELAY, "0", 5000);
	if (!r)
		r = sysfs_write_timed(PM_TEST, "devices", 5000);
	if (!r)
		r = sysfs_write_timed("/sys/power/state", "freeze", 60000);
	if (r == -ETIMEDOUT)
		return r;
	r2 = sysfs_write_timed(PM_TEST, level, 5000);
	if (!r)
		r = r2;
	r2 = sysfs_write_timed(PM_TEST_DELAY, delay, 5000);
	return r ? r : r2;
}

/*
 * A suspend ends every export (freeze resets the device, restore starts
 * it again): asserts that, with a buffer of the driver's exported and a
 * vgem buffer exported whose PRESENT waits for an unsignalled write fence,
 * a suspend with pm_test=devices leaves the opener a RELEASED for each,
 * the waiting frame's FRAME_DONE (if any: the spec allows one) flagged
 * dropped before its buffer's RELEASED, and no live export; that the
 * fence signalling after the resume sends nothing; and that the device
 * works after it: the same buffer exports again, is presented and
 * released.  It suspends the machine: only with VDMABUF_TEST_SUSPEND=1.
 */
TEST_F_TIMEOUT(dev, suspend_ends_exports, 180)
{
	bool released[2] = {}, done = false, late;
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e[2];
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	int card, buf[2], r, i, idx;
	__u32 handle, fence = 0;
	double t0;

	if (!getenv("VDMABUF_TEST_SUSPEND") ||
	    strcmp(getenv("VDMABUF_TEST_SUSPEND"), "1"))
		SKIP(return, "suspends the machine: VDMABUF_TEST_SUSPEND=1 to run");
	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	if (access(PM_TEST, W_OK))
		SKIP(return, PM_TEST " is absent (no CONFIG_PM_DEBUG)");
	r = dev_no_soft_reset();
	ASSERT_LE(0, r) TH_LOG("the device's PCI config: %s", strerror(-r));
	if (r)
		SKIP(return, "the device has No_Soft_Reset: a suspend does not reset it");
	card = vgem_open();
	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf[0] = vd_alloc(self->fd, 1 << 20, 0);
	ASSERT_LE(0, buf[0]);
	buf[1] = vgem_dmabuf(card, 256, 256, &handle);
	ASSERT_LE(0, buf[1]);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, vd_export(self->fd, buf[i], &e[i]));

	t0 = now_s();
	ASSERT_EQ(0, vgem_write_fence(card, handle, &fence));
	memcpy(pr.uuid, e[1].uuid, 16);
	pr.seq = 77;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
	ASSERT_EQ(0, vd_query(self->fd, e[1].uuid, &q));
	EXPECT_EQ(1, q.frames_pending);

	r = suspend_devices();
	ASSERT_EQ(0, r) TH_LOG("suspend (pm_test=devices): %s", strerror(-r));
	late = now_s() - t0 >= VGEM_FENCE_LIFE_S;
	TH_LOG("the frame waited %.1f s, the suspend included (vgem gives up at 10 s)",
	       now_s() - t0);

	/* Three events at most, in an order the spec allows. */
	for (i = 0; i < 3 && !(released[0] && released[1]); i++) {
		ASSERT_EQ(0, next_event(self->fd, &ev, EVT_TIMEOUT_MS))
			TH_LOG("event %d after the resume", i);
		if (ev.type == VDMABUF_EVENT_FRAME_DONE) {
			EXPECT_EQ(0, memcmp(ev.uuid, e[1].uuid, 16));
			EXPECT_EQ(77, ev.seq);
			EXPECT_FALSE(done) TH_LOG("two FRAME_DONEs for one PRESENT");
			EXPECT_FALSE(released[1]) TH_LOG("FRAME_DONE after RELEASED");
			EXPECT_TRUE(ev.flags == VDMABUF_EVENT_F_DROPPED ||
				    (late && !ev.flags))
				TH_LOG("the waiting frame's FRAME_DONE, flags %#x", ev.flags);
			done = true;
			continue;
		}
		ASSERT_EQ(VDMABUF_EVENT_RELEASED, ev.type);
		idx = !memcmp(ev.uuid, e[1].uuid, 16);
		ASSERT_EQ(0, memcmp(ev.uuid, e[idx].uuid, 16)) TH_LOG("a RELEASED of no export");
		EXPECT_FALSE(released[idx]) TH_LOG("RELEASED twice");
		released[idx] = true;
	}
	EXPECT_TRUE(released[0] && released[1]);
	EXPECT_EQ(0, wait_live(self->fd, 0, 5));
	EXPECT_EQ(-ENOENT, vd_query(self->fd, e[1].uuid, &q));

	/* The fence the dropped frame waited for signals: nothing is sent. */
	r = vgem_signal(card, fence);
	EXPECT_TRUE(r == 0 || (r == -ETIMEDOUT && now_s() - t0 >= VGEM_FENCE_LIFE_S))
		TH_LOG("signalling the fence: %s", strerror(-r));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("an event (type %u) after every RELEASED", ev.type);

	/* The device works after the resume. */
	ASSERT_EQ(0, vd_export(self->fd, buf[0], &e[0]));
	memcpy(pr.uuid, e[0].uuid, 16);
	pr.seq = 78;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr));
	EXPECT_FRAME_DONE(self->fd, 78, 0);
	EXPECT_EQ(0, vd_unexport(self->fd, e[0].uuid));
	EXPECT_EQ(0, wait_released(self->fd, e[0].uuid));
	for (i = 0; i < 2; i++)
		close(buf[i]);
	close(card);
}

/*
 * A non-blocking read() does not wait behind a blocking one: asserts
 * that, with one thread asleep in read() on the fixture's file (no events
 * queued), a read() by a second thread after F_SETFL O_NONBLOCK on the
 * same file returns -1/EAGAIN within 1 s.  A RELEASED event then wakes
 * the first reader.
 */
TEST_F(dev, nonblock_read_beside_blocked_reader)
{
	struct reader a = { .fd = self->fd }, b = { .fd = self->fd };
	struct vdmabuf_export e;
	int flags, buf, a_join, b_join;
	pthread_t ta, tb;
	double t0;

	install_sigusr1();
	ASSERT_EQ(0, pthread_create(&ta, NULL, reader_fn, &a));
	usleep(200000);
	flags = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, flags | O_NONBLOCK));
	t0 = now_s();
	ASSERT_EQ(0, pthread_create(&tb, NULL, reader_fn, &b));
	b_join = join_within(tb, 1000);
	EXPECT_EQ(0, b_join) TH_LOG("the O_NONBLOCK read() still sleeps after 1 s");
	if (!b_join) {
		EXPECT_EQ(-1, b.ret);
		EXPECT_EQ(EAGAIN, b.err);
	}

	/* An event for the first reader: the RELEASED of an export. */
	buf = vd_alloc(self->fd, 4096, VDMABUF_FD_CLOEXEC);
	EXPECT_LE(0, buf);
	if (buf >= 0) {
		EXPECT_EQ(0, vd_export(self->fd, buf, &e));
		EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
		close(buf);
	}
	a_join = join_within(ta, EVT_TIMEOUT_MS);
	if (a_join) {
		pthread_kill(ta, SIGUSR1);
		a_join = join_within(ta, 2000);
	}
	EXPECT_EQ(0, a_join) TH_LOG("the blocking reader never returned");
	if (b_join) {
		b_join = join_within(tb, 2000);
		if (b_join) {
			pthread_kill(tb, SIGUSR1);
			b_join = join_within(tb, 2000);
		}
		if (!b_join)
			TH_LOG("the O_NONBLOCK read() returned %zd (%s) after %.2f s, once the blocking one had",
			       b.ret, strerror(b.err), b.t_end - t0);
	}
	/* The RELEASED went to one of the two; nothing is left queued. */
	EXPECT_EQ(0, vd_info(self->fd, &self->info));
	EXPECT_EQ(0, self->info.queued_events);
}

/*
 * INFO's live_exports and live_bytes count the calling opener's own
 * exports: asserts that while opener A has one 64 KiB export, another
 * opener B reads 0 and 0, and A reads 1 and 64 KiB.
 */
TEST_F(dev, info_per_opener)
{
	struct vdmabuf_info ia, ib;
	struct vdmabuf_export e;
	int other, buf;

	other = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	buf = vd_alloc(self->fd, 64 << 10, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	ASSERT_EQ(0, vd_info(other, &ib));
	ASSERT_EQ(0, vd_info(self->fd, &ia));
	EXPECT_EQ(0, ib.live_exports);
	EXPECT_EQ(0, ib.live_bytes);
	EXPECT_EQ(1, ia.live_exports);
	EXPECT_EQ(64 << 10, ia.live_bytes);
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	close(buf);
	close(other);
}

#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_PRESENT		(1ULL << 63)

/* The PFN of the page at @addr from /proc/self/pagemap; 0 or -errno. */
static int pagemap_pfn(const void *addr, uint64_t *pfn)
{
	long psz = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t ent;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &ent, sizeof(ent), (uintptr_t)addr / psz * sizeof(ent));
	close(fd);
	if (n != sizeof(ent))
		return -EIO;
	if (!(ent & PM_PRESENT) || !(ent & PM_PFN_MASK))
		return -ENOENT;
	*pfn = ent & PM_PFN_MASK;
	return 0;
}

/*
 * The physical address of a 2 MiB-aligned chunk whose first two pages
 * start with @m0 and @m1, looked up in /proc/kcore (its PT_LOAD headers
 * give the physical address of the RAM they map): 0 or -errno.  For
 * mappings pagemap does not show: a VM_PFNMAP mapping is a hole to it.
 */
static int kcore_find_2m(uint64_t m0, uint64_t m1, uint64_t *phys)
{
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	Elf64_Phdr *ph = NULL;
	Elf64_Ehdr eh;
	int r = -ENOENT;
	unsigned int i;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(*ph) || !eh.e_phnum) {
		r = -EIO;
		goto out;
	}
	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!ph ||
	    pread(fd, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff) !=
	    (ssize_t)(eh.e_phnum * sizeof(*ph))) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < eh.e_phnum && r; i++) {
		uint64_t p, end = ph[i].p_paddr + ph[i].p_memsz;

		if (ph[i].p_type != PT_LOAD || ph[i].p_paddr == (Elf64_Addr)-1)
			continue;
		for (p = (ph[i].p_paddr + (2 << 20) - 1) & ~((2ULL << 20) - 1);
		     p + 8192 <= end; p += 2 << 20) {
			off_t off = ph[i].p_offset + (p - ph[i].p_paddr);
			uint64_t v0, v1;

			if (pread(fd, &v1, 8, off + 4096) != 8 || v1 != m1 ||
			    pread(fd, &v0, 8, off) != 8 || v0 != m0)
				continue;
			*phys = p;
			r = 0;
			break;
		}
	}
out:
	free(ph);
	close(fd);
	return r;
}

/* /proc/kpageflags of @pfn; 0 or -errno. */
static int kpageflags(uint64_t pfn, uint64_t *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, flags, sizeof(*flags), pfn * sizeof(*flags));
	close(fd);
	return n == sizeof(*flags) ? 0 : -EIO;
}

/*
 * ALLOC's high-order chunks are compound pages, so that an importer may
 * take a reference on any page of the buffer: asserts that when the
 * first two pages of a 2 MiB buffer are the start of a 2 MiB chunk, the
 * second one is a compound tail page (KPF_COMPOUND_TAIL in
 * /proc/kpageflags).  The PFNs come from /proc/self/pagemap, or, where
 * it shows the mapping as a hole (VM_PFNMAP), from a marker written
 * through the mapping and found in /proc/kcore.
 */
TEST_F(dev, alloc_pages_compound)
{
	uint64_t pfn0 = 0, pfn1 = 0, phys, flags0 = 0, flags1 = 0, m0, m1;
	size_t size = 2 << 20;
	const char *how = "pagemap";
	volatile uint64_t *map;
	int buf;

	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "/proc/kpageflags is absent (CONFIG_PROC_PAGE_MONITOR)");
	buf = vd_alloc(self->fd, size, VDMABUF_FD_CLOEXEC);
	ASSERT_LE(0, buf);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);

	/* Touch pages 0 and 1, with markers unlikely anywhere else. */
	srand(getpid() ^ (unsigned int)(now_s() * 1e6));
	m0 = 0x5644424d41424630ULL ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
	m1 = ~m0 ^ ((uint64_t)rand() << 31);
	map[0] = m0;
	map[4096 / 8] = m1;

	if (pagemap_pfn((const void *)map, &pfn0) ||
	    pagemap_pfn((const char *)map + 4096, &pfn1)) {
		how = "kcore";
		if (access("/proc/kcore", R_OK)) {
			munmap((void *)map, size);
			close(buf);
			SKIP(return, "pagemap does not show the mapping (VM_PFNMAP) and /proc/kcore is absent");
		}
		if (kcore_find_2m(m0, m1, &phys)) {
			munmap((void *)map, size);
			close(buf);
			SKIP(return, "no 2 MiB chunk: pages 0 and 1 are not at a 2 MiB-aligned address in /proc/kcore");
		}
		/* Make sure it is this buffer: a new marker shows there. */
		map[4096 / 8] = m1 ^ 0xffff;
		ASSERT_EQ(0, kcore_find_2m(m0, m1 ^ 0xffff, &phys));
		pfn0 = phys / 4096;
		pfn1 = pfn0 + 1;
	}
	TH_LOG("PFNs of pages 0 and 1 (from %s): %#jx, %#jx", how,
	       (uintmax_t)pfn0, (uintmax_t)pfn1);
	if (pfn1 != pfn0 + 1 || pfn0 % 512) {
		munmap((void *)map, size);
		close(buf);
		SKIP(return, "no 2 MiB chunk: PFNs %#jx, %#jx", (uintmax_t)pfn0,
		     (uintmax_t)pfn1);
	}
	ASSERT_EQ(0, kpageflags(pfn0, &flags0));
	ASSERT_EQ(0, kpageflags(pfn1, &flags1));
	TH_LOG("kpageflags: page 0 %#jx, page 1 %#jx", (uintmax_t)flags0,
	       (uintmax_t)flags1);
	EXPECT_EQ(1ULL << KPF_COMPOUND_TAIL, flags1 & (1ULL << KPF_COMPOUND_TAIL));
	munmap((void *)map, size);
	close(buf);
}

/* An EXPORT, UNEXPORT and RELEASED of a 4 KiB ALLOC buffer on @dev. */
static void export_roundtrip(struct __test_metadata *_metadata, int dev)
{
	struct vdmabuf_export e;
	int buf = vd_alloc(dev, 4096, VDMABUF_FD_CLOEXEC);

	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(dev, buf, &e));
	EXPECT_EQ(4096, e.size);
	EXPECT_EQ(0, vd_unexport(dev, e.uuid));
	EXPECT_EQ(0, wait_released(dev, e.uuid));
	close(buf);
}

/*
 * A second virtio-dmabuf device (l1-run.sh gives L2 three; the third has
 * a display the KMS driver refuses; two on the vhost-user back-end, which
 * says so in VDMABUF_DEVICES) gets a device node of its own:
 * asserts that that many virtio devices with ID 0x0025 exist,
 * both bound to virtio_vdmabuf, that /dev/virtio-vdmabuf1 exists (the
 * first device keeps /dev/virtio-vdmabuf, later ones get
 * /dev/virtio-vdmabufN from 1), and that on it INFO succeeds and a 4 KiB
 * ALLOC buffer exports, unexports and is released.
 */
TEST_F(dev, second_device)
{
	const char *want = getenv("VDMABUF_DEVICES");
	char id[32], drv[64], name[64];
	struct vdmabuf_info info;
	int nr = 0, fd;
	glob_t g;
	size_t i;

	if (!glob(VIRTIO_DEV_DIR "/*/device", 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++) {
			if (read_line(g.gl_pathv[i], id, sizeof(id)) ||
			    strcmp(id, VIRTIO_ID_DMABUF_STR))
				continue;
			nr++;
			*strrchr(g.gl_pathv[i], '/') = 0;
			snprintf(name, sizeof(name), "%s", strrchr(g.gl_pathv[i], '/') + 1);
			virtio_driver_of(name, drv, sizeof(drv));
			TH_LOG("%s: driver '%s'", name, drv);
			EXPECT_STREQ("virtio_vdmabuf", drv);
		}
		globfree(&g);
	}
	EXPECT_EQ(want ? atoi(want) : 3, nr);
	fd = open(DEV_PATH "1", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open " DEV_PATH "1: %s", strerror(errno));
	EXPECT_EQ(0, vd_info(fd, &info));
	export_roundtrip(_metadata, fd);
	close(fd);
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
	/* The driver's last reference goes just after the last RELEASED */
	EXPECT_EQ(0, wait_alloc(self->fd, start.alloc_bytes, 5));
	ASSERT_EQ(0, vd_info(self->fd, &end));
	EXPECT_EQ(start.live_exports, end.live_exports);
	EXPECT_EQ(start.live_bytes, end.live_bytes);
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
