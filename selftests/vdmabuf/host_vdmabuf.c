// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of /dev/vhost-vdmabuf, run as root in the host VM.
 *
 * This program is its own VMM, like tools/virtio/: a memfd is the "guest
 * RAM", mapped here as two memory regions; the split rings live in it and
 * are driven by hand; kick and call are eventfds.  The requests are built
 * as a guest driver would, including malformed ones, and the host side is
 * checked through an importer fd, the dma-bufs it hands out, vgem (PRIME
 * import maps the dma-buf), GET_STATS, /proc/self/status (VmPin, VmLck)
 * and /proc/vmstat (FOLL_PIN balance).
 */
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <drm.h>
#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/vhost.h>
#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdmabuf_util.h"
#include "vgem_fence.h"
#include "bad_requests.h"
#include "vmm_standin.h"

#include "kselftest_harness.h"

/*
 * Nothing pinned, charged or exported as a host dma-buf while @imp (if
 * any) is still open; then close it and the VMM: every page pin taken is
 * released and our pinned and locked memory are back where they were.
 */
static void vmm_done(struct __test_metadata *_metadata, struct vmm *v,
		     int imp, const struct baseline *b)
{
	struct vhost_vdmabuf_stats s;
	struct pins p;

	if (v->fd >= 0 && !get_stats(v, &s)) {
		EXPECT_EQ(0, s.pinned_pages);
		EXPECT_EQ(0, s.charged_pages);
		EXPECT_EQ(0, s.host_dmabufs);
	}
	if (imp >= 0)
		close(imp);
	vmm_fini(v);
	pins_since(&b->pins, &p);
	EXPECT_EQ(p.acquired - b->pins.acquired,
		  p.released - b->pins.released);
	EXPECT_EQ(b->vmlck, vmlck_kb(0));
	EXPECT_EQ(b->vmpin, vmpin_kb(0));
}

FIXTURE(host) {
	struct vmm v;
	int imp;
	struct baseline base;
	struct virtio_vdmabuf_config cfg;
};

FIXTURE_SETUP(host)
{
	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent (vhost_vdmabuf not loaded)");
	baseline_take(&self->base);
	self->imp = -1;
	ASSERT_EQ(0, vmm_init(&self->v, NUM));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_CONFIG, &self->cfg));
}

FIXTURE_TEARDOWN(host)
{
	vmm_done(_metadata, &self->v, self->imp, &self->base);
}

/* A good export/unexport round trip: the device still works. */
static int device_works(struct vmm *v, unsigned int n)
{
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];

	make_uuid(uuid, 0xf0000 + n);
	if (do_export(v, uuid, BUF_BASE, 2 * PAGE, NULL) !=
	    VIRTIO_VDMABUF_S_OK)
		return 0;
	if (do_unexport(v, uuid) != VIRTIO_VDMABUF_S_OK)
		return 0;
	if (get_event(v, &ev, 5000))
		return 0;
	return ev.type == VIRTIO_VDMABUF_EVT_RELEASED &&
	       !memcmp(ev.uuid, uuid, 16);
}

TEST_F(host, config)
{
	struct virtio_vdmabuf_config *c = &self->cfg;
	uint64_t features;

	EXPECT_EQ(param("max_ranges", 16384), c->max_ranges);
	EXPECT_EQ(param("max_meta_len", 1024), c->max_meta_len);
	EXPECT_EQ(param("max_exports", 1024), c->max_exports);
	EXPECT_EQ(param("max_rects", 16), c->max_rects);
	EXPECT_EQ((uint64_t)param("max_export_mb", 512) << 20,
		  c->max_export_size);
	EXPECT_EQ((uint64_t)param("max_total_mb", 2048) << 20,
		  c->max_total_size);
	EXPECT_GE(VIRTIO_VDMABUF_MAX_RANGES, c->max_ranges);
	EXPECT_GE(VIRTIO_VDMABUF_MAX_META, c->max_meta_len);
	/* Unknown feature bits are refused. */
	features = 1ULL << 40;
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* No legacy interface: a set without VERSION_1 is refused. */
	features = 0;
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(EINVAL, errno);
	features = 1ULL << VIRTIO_VDMABUF_F_PRESENT;
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(device_works(&self->v, 0));
}

TEST_F(host, export_import_mmap)
{
	/* One range in region 0, one across the boundary of the regions. */
	struct virtio_vdmabuf_range r[2] = {
		{ .addr = BUF_BASE + 0x40000, .len = 0x10000 },
		{ .addr = REGION - 0x10000, .len = 0x20000 },
	};
	const uint64_t size = 0x30000;
	static const char meta[] = "1920x1080 XR24";
	uint8_t buf[512], ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	struct dma_buf_sync sync;
	struct stat st1, st2;
	uint8_t uuid[16];
	uint64_t isize;
	int fd1, fd2;
	uint8_t *p;
	size_t n;

	make_uuid(uuid, 1);
	fill(&self->v, r[0].addr, r[0].len, 1);
	fill(&self->v, r[1].addr, r[1].len, 77);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);

	n = mk_export(buf, uuid, size, r, 2, meta, sizeof(meta) - 1);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, submit(&self->v, buf, n, 8, NULL));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.live_exports);
	EXPECT_EQ(1, s.held_exports);
	EXPECT_EQ(size / PAGE, s.pinned_pages);
	/* Root has CAP_IPC_LOCK: pinned in our mm, charged to no one. */
	EXPECT_EQ(0, s.charged_pages);
	EXPECT_EQ(1, s.importers);
	EXPECT_EQ(self->base.vmpin + (long)(size / 1024), vmpin_kb(0));
	EXPECT_EQ(self->base.vmlck, vmlck_kb(0));

	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 2000));
	EXPECT_EQ(0, memcmp(iev->uuid, uuid, 16));
	EXPECT_EQ(size, iev->size);
	EXPECT_EQ(sizeof(meta) - 1, iev->payload_len);
	EXPECT_EQ((EV_HDR + sizeof(meta) - 1 + 7) & ~7U, iev->len);
	EXPECT_EQ(0, memcmp(ebuf + EV_HDR, meta, sizeof(meta) - 1));

	fd1 = import_buf(self->imp, uuid, &isize);
	ASSERT_LE(0, fd1);
	EXPECT_EQ(size, isize);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd1, F_GETFD) & FD_CLOEXEC);
	fd2 = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fstat(fd1, &st1));
	ASSERT_EQ(0, fstat(fd2, &st2));
	EXPECT_NE(st1.st_ino, st2.st_ino);	/* a dma-buf per import */
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(2, s.host_dmabufs);

	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_PRIVATE,
				   fd1, 0));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	ASSERT_NE(MAP_FAILED, p);
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, ioctl(fd1, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(0, memcmp(p, gpa(&self->v, r[0].addr), r[0].len));
	EXPECT_EQ(0, memcmp(p + r[0].len, gpa(&self->v, r[1].addr),
			    REGION - r[1].addr));
	EXPECT_EQ(0, memcmp(p + r[0].len + 0x10000, gpa(&self->v, REGION),
			    0x10000));
	/* Host writes land in guest memory, and the other way round. */
	p[0x10000] = 0xab;
	p[size - 1] = 0xcd;
	*(uint8_t *)gpa(&self->v, r[0].addr + 5) = 0xef;
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, ioctl(fd1, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(0xab, *(uint8_t *)gpa(&self->v, r[1].addr));
	EXPECT_EQ(0xcd, *(uint8_t *)gpa(&self->v, REGION + 0xffff));
	EXPECT_EQ(0xef, p[5]);

	/* Unexported but imported: held, no RELEASED yet. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 2000));
	EXPECT_EQ(0, memcmp(iev->uuid, uuid, 16));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 300));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.live_exports);
	EXPECT_EQ(1, s.held_exports);
	EXPECT_EQ(-1, import_buf(self->imp, uuid, NULL));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0xab, p[0x10000]);

	munmap(p, size);
	close(fd1);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 300));
	close(fd2);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	EXPECT_EQ(0, memcmp(ev.uuid, uuid, 16));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.held_exports);
	EXPECT_EQ(0, s.pinned_pages);
	EXPECT_EQ(0, s.host_dmabufs);
	EXPECT_EQ(self->base.vmpin, vmpin_kb(0));
	EXPECT_EQ(0, s.bad_requests);
}

TEST_F(host, import_keep_on_exec_and_query)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_import arg = {};
	struct vhost_vdmabuf_query q = {};
	char meta[32] = {};
	uint8_t uuid[16];

	make_uuid(uuid, 2);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(0, fcntl(self->imp, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->imp, ebuf, sizeof(ebuf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, "abc"));
	/* Whole records only: a buffer too small for one is refused. */
	EXPECT_EQ(-1, read(self->imp, ebuf, EV_HDR));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(EV_HDR + 8, read(self->imp, ebuf, sizeof(ebuf)));
	EXPECT_EQ(-1, read(self->imp, ebuf, sizeof(ebuf)));
	EXPECT_EQ(EAGAIN, errno);
	memcpy(q.uuid, uuid, 16);
	q.meta_ptr = (uintptr_t)meta;
	q.meta_size = sizeof(meta);
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(3, q.meta_len);
	EXPECT_STREQ("abc", meta);
	EXPECT_EQ(PAGE, q.size);
	EXPECT_EQ(1, q.nr_ranges);
	EXPECT_EQ(VHOST_VDMABUF_STATE_LIVE, q.state);

	memcpy(arg.uuid, uuid, 16);
	arg.flags = 0x80;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_IMPORT, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = VHOST_VDMABUF_FD_KEEP_ON_EXEC;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_IMPORT, &arg));
	EXPECT_EQ(0, fcntl(arg.fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(VHOST_VDMABUF_STATE_UNEXPORTED, q.state);
	close(arg.fd);
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, ioctl(self->imp, 0x1234, 0));
	EXPECT_EQ(ENOTTY, errno);
}

/* The value of @key in /proc/self/fdinfo/@fd into @out; 0, or -1 if absent. */
static int fdinfo_str(int fd, const char *key, char *out, size_t size)
{
	size_t len = strlen(key);
	char path[64], line[256];
	int ret = -1;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) || line[len] != ':')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, size, "%s", line + len + 1 +
			 strspn(line + len + 1, " \t"));
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* Pin this thread to the CPU it runs on (slab caches are per CPU). */
static void stay_on_this_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The dma-buf's file is gone but its dentry is not (an O_PATH open of
 * its /proc/self/fd link holds it), so the dma-buf has not been released
 * yet.  The freed struct file is reused by the next open()s; IMPORT must
 * then make a new dma-buf, never hand out that unrelated file.
 */
TEST_F(host, import_after_file_reuse)
{
	enum { NR_OPENS = 200 };
	char path[64], name[64], size[32];
	struct vhost_vdmabuf_stats s;
	struct virtio_vdmabuf_event ev;
	int fd, opath, fds[NR_OPENS], i;
	cpu_set_t cpus;
	uint8_t uuid[16];
	struct stat st;

	make_uuid(uuid, 10);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(cpus), &cpus));
	stay_on_this_cpu();
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fdinfo_str(fd, "exp_name", name, sizeof(name)));
	ASSERT_STREQ("vhost_vdmabuf", name);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opath = open(path, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, opath);
	close(fd);
	for (i = 0; i < NR_OPENS; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);

	fd = import_buf(self->imp, uuid, NULL);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_FALSE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0, fdinfo_str(fd, "exp_name", name, sizeof(name)));
	EXPECT_STREQ("vhost_vdmabuf", name);
	EXPECT_EQ(0, fdinfo_str(fd, "size", size, sizeof(size)));
	EXPECT_EQ(4 * PAGE, strtoull(size, NULL, 0));
	/* A new dma-buf; the old one lives until the O_PATH file goes. */
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(2, s.host_dmabufs);
	for (i = 0; i < NR_OPENS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(opath);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.host_dmabufs);
	/* Every import is a dma-buf of its own. */
	i = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, i);
	EXPECT_EQ(0, fdinfo_str(i, "exp_name", name, sizeof(name)));
	EXPECT_STREQ("vhost_vdmabuf", name);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(2, s.host_dmabufs);
	close(i);
	close(fd);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

static int open_vgem(void)
{
	char path[300], name[32];
	struct drm_version ver;
	struct dirent *de;
	DIR *d;
	int fd;

	d = opendir("/dev/dri");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "card", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/dri/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&ver, 0, sizeof(ver));
		memset(name, 0, sizeof(name));
		ver.name = name;
		ver.name_len = sizeof(name) - 1;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &ver) &&
		    !strcmp(name, "vgem")) {
			closedir(d);
			return fd;
		}
		close(fd);
	}
	closedir(d);
	return -1;
}

TEST_F(host, vgem_prime_import)
{
	struct drm_prime_handle prime = {};
	struct drm_gem_close gclose = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int vgem, fd;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	make_uuid(uuid, 3);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 16 * PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	prime.fd = fd;
	/* vgem attaches and maps the dma-buf (map_dma_buf, dma_map_sgtable). */
	ASSERT_EQ(0, ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime));
	EXPECT_NE(0, prime.handle);
	close(fd);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	/* vgem still holds the dma-buf: no RELEASED. */
	EXPECT_EQ(-1, get_event(&self->v, &ev, 300));
	gclose.handle = prime.handle;
	EXPECT_EQ(0, ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gclose));
	close(vgem);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/* Malformed and over-limit requests: one variant each. */
FIXTURE(bad) {
	struct vmm v;
	struct baseline base;
	struct virtio_vdmabuf_config cfg;
};

/* The list both back-ends answer alike (bad_requests.h). */
_Static_assert(BAD_BUF == BUF_BASE && BAD_RAM_SIZE == RAM_SIZE,
	       "bad_requests.h and vmm_standin.h agree on guest RAM");

FIXTURE_VARIANT(bad) {
	struct bad_req r;
};

#define BAD_VARIANT(name, ...) \
	FIXTURE_VARIANT_ADD(bad, name) { .r = { __VA_ARGS__ } };
BAD_REQUESTS(BAD_VARIANT)

FIXTURE_SETUP(bad)
{
	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent (vhost_vdmabuf not loaded)");
	baseline_take(&self->base);
	ASSERT_EQ(0, vmm_init(&self->v, NUM));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_CONFIG, &self->cfg));
}

FIXTURE_TEARDOWN(bad)
{
	vmm_done(_metadata, &self->v, -1, &self->base);
}

TEST_F(bad, request)
{
	const struct bad_req *var = &variant->r;
	static uint8_t buf[BAD_REQ_BUF];
	struct vhost_vdmabuf_stats s;
	uint32_t used;
	size_t len;

	len = bad_req_build(var, &self->cfg, buf);
	ASSERT_GT(REQ_BUF + len, REQ_BUF);
	ASSERT_LT(len, BUF_BASE - REQ_BUF);

	EXPECT_EQ(var->status, submit(&self->v, buf, len, 8, &used));
	EXPECT_EQ(8, used);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.requests);
	EXPECT_EQ(1, s.bad_requests);
	EXPECT_EQ(0, s.pinned_pages);
	EXPECT_EQ(0, s.charged_pages);
	EXPECT_EQ(0, s.live_exports);
	EXPECT_TRUE(device_works(&self->v, 1));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.pinned_pages);
	EXPECT_EQ(1, s.bad_requests);
}

/*
 * Ranges of one export must not overlap: each would pin the shared pages
 * once more, so one guest page could be pinned without bound.  An
 * overlapping EXPORT pins nothing; adjacent ranges are fine.
 */
TEST_F(host, overlapping_ranges)
{
	const struct bad_overlap *c = bad_overlaps;
	struct virtio_vdmabuf_range r[2];
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint8_t buf[256], uuid[16];
	unsigned int i;
	size_t n;
	int st;

	for (i = 0; i < ARRAY_SIZE(bad_overlaps); i++) {
		make_uuid(uuid, 20 + i);
		r[0].addr = c[i].a0;
		r[0].len = c[i].l0;
		r[1].addr = c[i].a1;
		r[1].len = c[i].l1;
		n = mk_export(buf, uuid, c[i].l0 + c[i].l1, r, 2, NULL, 0);
		st = submit(&self->v, buf, n, 8, NULL);
		EXPECT_EQ(c[i].status, st) TH_LOG("case %u", i);
		ASSERT_EQ(0, get_stats(&self->v, &s));
		/*
		 * The device's own count: the system-wide FOLL_PIN counters
		 * move with any other pinning user of the machine.
		 */
		if (c[i].status != VIRTIO_VDMABUF_S_OK) {
			EXPECT_EQ(0, s.pinned_pages) TH_LOG("case %u", i);
			EXPECT_EQ(0, s.live_exports) TH_LOG("case %u", i);
		} else {
			EXPECT_EQ((c[i].l0 + c[i].l1) / PAGE, s.pinned_pages);
		}
		if (st == VIRTIO_VDMABUF_S_OK) {
			ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
				  do_unexport(&self->v, uuid));
			ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
			EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
		}
	}
}

/*
 * Overlap is found however the ranges are ordered: thousands of
 * one-page ranges in descending order, then the same with one page sent
 * twice, far apart in the list.
 */
TEST_F(host, overlapping_ranges_many)
{
	const uint32_t nr = 4096;
	static uint8_t buf[sizeof(struct virtio_vdmabuf_export_req) +
			   4096 * sizeof(struct virtio_vdmabuf_range)];
	static struct virtio_vdmabuf_range r[4096];
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint8_t uuid[16];
	uint32_t i;
	size_t n;

	if (self->cfg.max_ranges < nr)
		SKIP(return, "max_ranges is below %u", nr);
	make_uuid(uuid, 30);
	for (i = 0; i < nr; i++) {
		r[i].addr = BUF_BASE + (uint64_t)(nr - 1 - i) * PAGE;
		r[i].len = PAGE;
	}
	n = mk_export(buf, uuid, nr * PAGE, r, nr, NULL, 0);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, submit(&self->v, buf, n, 8, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);

	r[nr / 2].addr = r[0].addr;
	n = mk_export(buf, uuid, nr * PAGE, r, nr, NULL, 0);
	EXPECT_EQ(VIRTIO_VDMABUF_S_INVALID,
		  submit(&self->v, buf, n, 8, NULL));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.pinned_pages);
	if (s.live_exports) {
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	}
}

TEST_F(host, no_room_for_status)
{
	struct virtio_vdmabuf_req_hdr hdr = {
		.type = VIRTIO_VDMABUF_REQ_UNEXPORT,
	};
	struct vhost_vdmabuf_stats s;
	uint32_t used = 1234;

	make_uuid(hdr.uuid, 5);
	submit(&self->v, &hdr, sizeof(hdr), 4, &used);
	EXPECT_EQ(0, used);
	submit(&self->v, &hdr, sizeof(hdr), 0, &used);
	EXPECT_EQ(0, used);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(2, s.requests);
	EXPECT_EQ(2, s.bad_requests);
	EXPECT_TRUE(device_works(&self->v, 2));
}

TEST_F(host, duplicate_uuid_and_double_unexport)
{
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int fd;

	make_uuid(uuid, 6);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_EXISTS,
		  do_export(&self->v, uuid, BUF_BASE + PAGE, PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOENT, do_unexport(&self->v, uuid));
	/* Not RELEASED yet: the UUID is still taken. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_EXISTS,
		  do_export(&self->v, uuid, BUF_BASE + PAGE, PAGE, NULL));
	close(fd);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE + PAGE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

TEST_F_TIMEOUT(host, max_exports_flood, 300)
{
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint32_t i, max = self->cfg.max_exports;
	uint8_t uuid[16];

	if ((uint64_t)max * PAGE > RAM_SIZE - BUF_BASE)
		SKIP(return, "max_exports is larger than this test's RAM");
	for (i = 0; i < max; i++) {
		make_uuid(uuid, 1000 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, uuid, BUF_BASE + i * PAGE, PAGE,
				    NULL));
	}
	make_uuid(uuid, 999);
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(max, s.live_exports);
	EXPECT_EQ(max, s.pinned_pages);
	for (i = 0; i < max; i++) {
		make_uuid(uuid, 1000 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	}
	/* Every RELEASED arrives, in order, none dropped. */
	for (i = 0; i < max; i++) {
		make_uuid(uuid, 1000 + i);
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
		ASSERT_EQ(0, memcmp(uuid, ev.uuid, 16));
	}
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.pinned_pages);
	EXPECT_EQ(0, s.guest_events);
	EXPECT_TRUE(device_works(&self->v, 3));
}

/* Events wait in the device while the guest posts no event buffers. */
/*
 * A VMM that never negotiates features has acked none, VIRTIO_F_VERSION_1
 * included: the device must not start its rings in legacy byte order.
 */
TEST(start_without_features)
{
	struct vmm v;

	memset(&v, 0, sizeof(v));
	v.no_features = true;
	v.fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, v.fd);
	EXPECT_EQ(-1, vmm_setup(&v, 0));
	EXPECT_EQ(EINVAL, errno);
	vmm_fini(&v);
}

TEST(guest_event_backlog)
{
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint8_t uuid[16];
	struct vmm v;
	int i;

	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent");
	ASSERT_EQ(0, vmm_init(&v, 0));
	for (i = 0; i < 3; i++) {
		make_uuid(uuid, 200 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&v, uuid, BUF_BASE + i * PAGE, PAGE, NULL));
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&v, uuid));
	}
	usleep(100000);
	ASSERT_EQ(0, get_stats(&v, &s));
	EXPECT_EQ(3, s.guest_events);
	EXPECT_EQ(0, s.pinned_pages);
	post_events(&v, 2);
	for (i = 0; i < 3; i++) {
		make_uuid(uuid, 200 + i);
		ASSERT_EQ(0, get_event(&v, &ev, 5000));
		EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
		EXPECT_EQ(0, memcmp(uuid, ev.uuid, 16));
	}
	ASSERT_EQ(0, get_stats(&v, &s));
	EXPECT_EQ(0, s.guest_events);
	vmm_fini(&v);
}

static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &hdr, data);
}

/* In a child without CAP_IPC_LOCK: RLIMIT_MEMLOCK limits the pins. */
/*
 * Memory the device allocates for the guest is charged to the VMM's
 * memory cgroup: the memory.current of a VMM in its own cgroup grows by
 * at least half the metadata its guest makes the device keep (the rest
 * of the charge is the records, and up to 64 pages per CPU may come from
 * a stock charged before).  cgroup2 is mounted on a temporary directory
 * if it is not mounted.
 */
#define MEMCG_EXPORTS	1000
#define MEMCG_META	1024

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static long long read_ll(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

/* A mounted cgroup2 into @root, or mount one; *@mounted if we did. */
static int cgroup2_root(char *root, size_t len, bool *mounted)
{
	char dir[256], type[64];
	FILE *f;

	*mounted = false;
	f = fopen("/proc/mounts", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%*s %255s %63s %*[^\n]", dir, type) == 2) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(root, len, "%s", dir);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	snprintf(root, len, "/tmp/vdmabuf-cg.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	if (mount("none", root, "cgroup2", 0, NULL)) {
		rmdir(root);
		return -1;
	}
	*mounted = true;
	return 0;
}

#ifndef VHOST_SET_FORK_FROM_OWNER	/* newer <linux/vhost.h>: 6.12.118, 7.3 */
#define VHOST_SET_FORK_FROM_OWNER	_IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_FORK_OWNER_KTHREAD	0
#endif

/*
 * The VMM's set-up, with a kernel-thread vhost worker if @kthread (which
 * VHOST_SET_FORK_FROM_OWNER asks for before VHOST_SET_OWNER, where the
 * kernel lets a VMM choose): 0, MEMCG_NO_KTHREAD if it cannot, < 0.
 */
#define MEMCG_NO_KTHREAD	-100
static int memcg_vmm_init(struct vmm *v, bool kthread)
{
	__u8 fork_owner = VHOST_FORK_OWNER_KTHREAD;

	if (!kthread)
		return vmm_init(v, NUM);
	memset(v, 0, sizeof(*v));
	v->fd = open(DEV_PATH, O_RDWR);
	if (v->fd < 0)
		return -1;
	if (ioctl(v->fd, VHOST_SET_FORK_FROM_OWNER, &fork_owner))
		return MEMCG_NO_KTHREAD;
	return vmm_setup(v, NUM);
}

/* In the child, in cgroup @cg: bytes charged for the exports, or < 0. */
static long long memcg_exports(const char *cg, uint32_t meta_len, bool kthread)
{
	static uint8_t buf[sizeof(struct virtio_vdmabuf_export_req) + 16 +
			   VIRTIO_VDMABUF_MAX_META];
	struct virtio_vdmabuf_range r = { .len = PAGE };
	uint8_t meta[VIRTIO_VDMABUF_MAX_META] = { 1 };
	char path[384], pid[16];
	long long c0, c1;
	uint8_t uuid[16];
	struct vmm v;
	unsigned int i;
	size_t n;
	int ret;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(path, pid))
		return -2;
	ret = memcg_vmm_init(&v, kthread);
	if (ret)
		return ret == MEMCG_NO_KTHREAD ? ret : -3;
	memset(gpa(&v, BUF_BASE), 0, REGION - BUF_BASE);
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	c0 = read_ll(path);
	for (i = 0; i < MEMCG_EXPORTS; i++) {
		make_uuid(uuid, 3000 + i);
		r.addr = BUF_BASE + i * PAGE;
		n = mk_export(buf, uuid, PAGE, &r, 1, meta, meta_len);
		if (submit(&v, buf, n, 8, NULL) != VIRTIO_VDMABUF_S_OK)
			return -4;
	}
	c1 = read_ll(path);
	for (i = 0; i < MEMCG_EXPORTS; i++) {
		make_uuid(uuid, 3000 + i);
		if (do_unexport(&v, uuid) != VIRTIO_VDMABUF_S_OK)
			return -5;
	}
	vmm_fini(&v);
	return c0 < 0 || c1 < 0 ? -6 : c1 - c0;
}

FIXTURE(memcg) {
	int unused;
};

FIXTURE_SETUP(memcg)
{
}

FIXTURE_TEARDOWN(memcg)
{
}

/*
 * The export bookkeeping the host module allocates for the guest, in the
 * vhost worker, is charged to the VMM's memory cgroup, whether the worker
 * is a task of the VMM's (Linux 6.4 on, by default) or a kernel thread
 * (before 6.4, or by the VMM's choice where the kernel lets it choose):
 * SKIP_KTHREAD when the kernel does not, else the bytes charged for
 * MEMCG_EXPORTS exports, or < 0.
 */
#define SKIP_KTHREAD	-200
static long long memcg_charge_of(struct __test_metadata *_metadata,
				 bool kthread)
{
	uint32_t meta_len = param("max_meta_len", MEMCG_META);
	char root[256], cg[320], path[384];
	long long delta = -1;
	bool mounted;
	int pfd[2], status;
	pid_t pid;

	if (cgroup2_root(root, sizeof(root), &mounted))
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	snprintf(cg, sizeof(cg), "%s/vdmabuf-memcg-test", root);
	if (write_file(path, "+memory") || (mkdir(cg, 0755) && errno != EEXIST)) {
		if (mounted) {
			umount2(root, MNT_DETACH);
			rmdir(root);
		}
		return -1;
	}
	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(pfd[0]);
		delta = memcg_exports(cg, meta_len, kthread);
		_exit(write(pfd[1], &delta, sizeof(delta)) != sizeof(delta));
	}
	close(pfd[1]);
	EXPECT_EQ(sizeof(delta), read(pfd[0], &delta, sizeof(delta)));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	EXPECT_EQ(0, rmdir(cg));
	if (mounted) {
		umount2(root, MNT_DETACH);
		rmdir(root);
	}
	return delta == MEMCG_NO_KTHREAD ? SKIP_KTHREAD : delta;
}

static const char *memcg_unusable(void)
{
	if (access(DEV_PATH, F_OK))
		return DEV_PATH " is absent (vhost_vdmabuf not loaded)";
	if (param("max_exports", 1024) < MEMCG_EXPORTS ||
	    param("max_meta_len", MEMCG_META) < MEMCG_META)
		return "max_exports or max_meta_len is too small";
	return NULL;
}

TEST_F_TIMEOUT(memcg, charged, 300)
{
	const char *why = memcg_unusable();
	long long delta;

	if (why)
		SKIP(return, "%s", why);
	delta = memcg_charge_of(_metadata, false);
	ASSERT_LE(0, delta) TH_LOG("no memory cgroup to test in (%lld)", delta);
	TH_LOG("memory.current grew by %lld bytes for %d exports", delta,
	       MEMCG_EXPORTS);
	EXPECT_LE((long long)MEMCG_EXPORTS * MEMCG_META / 2, delta);
}

#define NO_FORK_OWNER	"no VHOST_SET_FORK_FROM_OWNER in this kernel, or not " \
	"with CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL"

/* The same with a kernel-thread worker, which memcg charges nothing. */
TEST_F_TIMEOUT(memcg, charged_kthread_worker, 300)
{
	const char *why = memcg_unusable();
	long long delta;

	if (why)
		SKIP(return, "%s", why);
	delta = memcg_charge_of(_metadata, true);
	if (delta == SKIP_KTHREAD)
		SKIP(return, "%s", NO_FORK_OWNER);
	ASSERT_LE(0, delta) TH_LOG("no memory cgroup to test in (%lld)", delta);
	TH_LOG("memory.current grew by %lld bytes for %d exports", delta,
	       MEMCG_EXPORTS);
	EXPECT_LE((long long)MEMCG_EXPORTS * MEMCG_META / 2, delta);
}

TEST(memlock_rlimit)
{
	struct pins before, after;
	int status;
	pid_t pid;

	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent");
	pins_take(&before);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		struct virtio_vdmabuf_event ev;
		struct vhost_vdmabuf_stats s;
		uint8_t uuid[16];
		struct vmm v;

		if (drop_cap_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (vmm_init(&v, NUM))
			_exit(11);
		make_uuid(uuid, 300);
		if (do_export(&v, uuid, BUF_BASE, 32 * PAGE, NULL) !=
		    VIRTIO_VDMABUF_S_NOMEM)
			_exit(12);
		if (get_stats(&v, &s) || s.pinned_pages || s.charged_pages)
			_exit(13);
		if (do_export(&v, uuid, BUF_BASE, 8 * PAGE, NULL) !=
		    VIRTIO_VDMABUF_S_OK)
			_exit(14);
		if (get_stats(&v, &s) || s.charged_pages != 8 ||
		    vmpin_kb(0) != 32)
			_exit(15);
		if (do_unexport(&v, uuid) || get_event(&v, &ev, 5000))
			_exit(16);
		if (get_stats(&v, &s) || s.charged_pages || vmpin_kb(0))
			_exit(17);
		vmm_fini(&v);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	pins_since(&before, &after);
	EXPECT_EQ(after.acquired - before.acquired,
		  after.released - before.released);
}

/* A user of no one else in the test VM, for the locked-memory tests. */
#define MEMLOCK_UID	54321

/*
 * In a child: become MEMLOCK_UID (which drops every capability, so
 * CAP_IPC_LOCK too) with an RLIMIT_MEMLOCK of @kb, and set up the VMM on
 * the device opened before, as root.
 */
static int vmm_as_user(struct vmm *v, unsigned long kb)
{
	struct rlimit rl = { kb << 10, kb << 10 };

	memset(v, 0, sizeof(*v));
	v->fd = open(DEV_PATH, O_RDWR);
	if (v->fd < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) ||
	    setresgid(MEMLOCK_UID, MEMLOCK_UID, MEMLOCK_UID) ||
	    setresuid(MEMLOCK_UID, MEMLOCK_UID, MEMLOCK_UID))
		return -1;
	return vmm_setup(v, NUM);
}

/* A VMM of MEMLOCK_UID exports @pages pages; its exit code is the status. */
static pid_t export_as_user(unsigned int pages)
{
	struct vmm v;
	uint8_t uuid[16];
	pid_t pid;
	int st;

	pid = fork();
	if (pid)
		return pid;
	if (vmm_as_user(&v, 64))
		_exit(100);
	make_uuid(uuid, 311);
	st = do_export(&v, uuid, BUF_BASE, pages * PAGE, NULL);
	vmm_fini(&v);
	_exit(st < 0 ? 101 : st);
}

/*
 * Locked memory is charged to the user, not to the VMM's mm: pins that
 * outlive their VMM (the VMM closed its device, an importer still holds
 * the buffer) still count against RLIMIT_MEMLOCK for the next VMM of the
 * same user, until the importer lets go.
 */
TEST(memlock_per_user)
{
	struct pins before, after;
	int ready[2], go[2], status;
	pid_t a, b;
	char c;

	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent");
	pins_take(&before);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	a = fork();
	ASSERT_LE(0, a);
	if (!a) {
		uint8_t uuid[16];
		struct vmm v;
		int imp, buf;

		close(ready[0]);
		close(go[1]);
		if (vmm_as_user(&v, 64))
			_exit(10);
		make_uuid(uuid, 310);
		if (do_export(&v, uuid, BUF_BASE, 8 * PAGE, NULL) !=
		    VIRTIO_VDMABUF_S_OK)
			_exit(11);
		imp = get_importer(&v);
		buf = import_buf(imp, uuid, NULL);
		if (imp < 0 || buf < 0)
			_exit(12);
		close(imp);
		vmm_fini(&v);	/* the VMM is gone, the import holds 8 pages */
		if (write(ready[1], "y", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(13);
		close(buf);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	/* 8 of the user's 16 pages are held: 12 more are too many... */
	b = export_as_user(12);
	ASSERT_LE(0, b);
	ASSERT_EQ(b, waitpid(b, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOMEM, WEXITSTATUS(status));
	/* ...8 are not. */
	b = export_as_user(8);
	ASSERT_LE(0, b);
	ASSERT_EQ(b, waitpid(b, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, WEXITSTATUS(status));

	/* The importer lets go: the user has room for 12 again. */
	ASSERT_EQ(1, write(go[1], "y", 1));
	ASSERT_EQ(a, waitpid(a, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	b = export_as_user(12);
	ASSERT_LE(0, b);
	ASSERT_EQ(b, waitpid(b, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, WEXITSTATUS(status));
	close(ready[0]);
	close(go[1]);
	pins_since(&before, &after);
	EXPECT_EQ(after.acquired - before.acquired,
		  after.released - before.released);
}

/* memlock_after_exec's program after the exec: the device fd it sets up. */
#define EXEC_VMM_ENV	"VDMABUF_TEST_EXEC_VMM"

/*
 * The second half of memlock_after_exec, in this program exec'd by the
 * test's child (MEMLOCK_UID, a 64 KiB RLIMIT_MEMLOCK, 8 pages held by an
 * import kept across the exec): a VMM on the device fd in EXEC_VMM_ENV
 * must not pin 12 pages more, but can pin 8.  Runs before the harness's
 * main() and exits: 0, or which step failed.
 */
__attribute__((constructor)) static void exec_vmm(void)
{
	const char *env = getenv(EXEC_VMM_ENV);
	uint8_t uuid[16];
	struct vmm v;
	int st;

	if (!env)
		return;
	memset(&v, 0, sizeof(v));
	v.fd = atoi(env);
	if (vmm_setup(&v, NUM))
		_exit(100);
	make_uuid(uuid, 321);
	st = do_export(&v, uuid, BUF_BASE, 12 * PAGE, NULL);
	if (st != VIRTIO_VDMABUF_S_NOMEM)
		_exit(20 + (st & 15));
	st = do_export(&v, uuid, BUF_BASE, 8 * PAGE, NULL);
	if (st != VIRTIO_VDMABUF_S_OK)
		_exit(40 + (st & 15));
	vmm_fini(&v);
	_exit(0);
}

/*
 * A VMM that imports its buffer with KEEP_ON_EXEC, closes its device and
 * execs keeps the pages pinned in the new program, with a new mm: the
 * charge must still count against its user's RLIMIT_MEMLOCK there.
 */
TEST(memlock_after_exec)
{
	struct pins before, after;
	int status;
	pid_t pid;

	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent");
	pins_take(&before);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vhost_vdmabuf_import arg = {
			.flags = VHOST_VDMABUF_FD_KEEP_ON_EXEC,
		};
		char num[16];
		struct vmm v;
		int dev, imp;

		dev = open(DEV_PATH, O_RDWR);	/* for after the exec */
		if (dev < 0 || vmm_as_user(&v, 64))
			_exit(10);
		make_uuid(arg.uuid, 320);
		if (do_export(&v, arg.uuid, BUF_BASE, 8 * PAGE, NULL) !=
		    VIRTIO_VDMABUF_S_OK)
			_exit(11);
		imp = get_importer(&v);
		if (imp < 0 || ioctl(imp, VHOST_VDMABUF_IMPORT, &arg))
			_exit(12);
		close(imp);
		vmm_fini(&v);
		snprintf(num, sizeof(num), "%d", dev);
		setenv(EXEC_VMM_ENV, num, 1);
		execl("/proc/self/exe", "host_vdmabuf", (char *)NULL);
		_exit(13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	pins_since(&before, &after);
	EXPECT_EQ(after.acquired - before.acquired,
		  after.released - before.released);
}

/* An importer dies holding an import and an owed frame. */
TEST_F(host, importer_killed)
{
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	int pipefd[2], status;
	uint8_t uuid[16];
	char c;
	pid_t pid;

	make_uuid(uuid, 400);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int imp = get_importer(&self->v);
		int fd = import_buf(imp, uuid, NULL);
		void *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

		c = (imp >= 0 && fd >= 0 && p != MAP_FAILED) ? 'y' : 'n';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	ASSERT_EQ('y', c);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.importers);
	EXPECT_EQ(1, s.host_dmabufs);
	/* The child owes this frame. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 7, 1));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(7, ev.seq);
	EXPECT_EQ(0, ev.flags);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.importers);
	EXPECT_EQ(0, s.host_dmabufs);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* The VMM goes away while a buffer is imported. */
TEST_F(host, vmm_closed_while_imported)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_stats s;
	struct pins p;
	uint8_t uuid[16], copy[4 * 4096];
	uint8_t *m;
	int fd;

	make_uuid(uuid, 500);
	fill(&self->v, BUF_BASE, 4 * PAGE, 9);
	memcpy(copy, gpa(&self->v, BUF_BASE), sizeof(copy));
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);

	vmm_fini(&self->v);	/* vhost fd, rings and guest RAM mapping */
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(-1, import_buf(self->imp, uuid, NULL));
	EXPECT_EQ(0, memcmp(m, copy, sizeof(copy)));
	m[1] = 42;
	EXPECT_EQ(42, m[1]);
	EXPECT_EQ(self->base.vmpin + 16, vmpin_kb(0));
	EXPECT_EQ(-1, get_stats(&self->v, &s));

	munmap(m, 4 * PAGE);
	close(fd);
	EXPECT_EQ(self->base.vmpin, vmpin_kb(0));
	pins_since(&self->base.pins, &p);
	EXPECT_EQ(p.acquired - self->base.pins.acquired,
		  p.released - self->base.pins.released);
}

/* Two devices do not see each other's buffers. */
TEST_F(host, two_devices_isolated)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_query q = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	struct vmm w;
	int imp_w;

	make_uuid(uuid, 600);
	ASSERT_EQ(0, vmm_init(&w, NUM));
	imp_w = get_importer(&w);
	ASSERT_LE(0, imp_w);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	self->imp = get_importer(&self->v);
	/* Catch-up on a new importer of the first device. */
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(-1, read_ievent(imp_w, ebuf, 200));
	EXPECT_EQ(-1, import_buf(imp_w, uuid, NULL));
	EXPECT_EQ(ENOENT, errno);
	memcpy(q.uuid, uuid, 16);
	EXPECT_EQ(-1, ioctl(imp_w, VHOST_VDMABUF_QUERY, &q));
	/* The same UUID is free on the other device. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&w, uuid, BUF_BASE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&w, uuid));
	EXPECT_EQ(0, get_event(&w, &ev, 5000));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	close(imp_w);
	vmm_fini(&w);
}

/*
 * Importers that take part in a buffer's frames (they imported it, or
 * joined) owe FRAME_DONE for each frame; the guest gets it when all have
 * answered.  Answers name the device's frame number.
 */
TEST_F(host, present_frame_done)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct vhost_vdmabuf_rect *rect;
	struct virtio_vdmabuf_event ev;
	uint64_t f1, f2;
	uint8_t uuid[16];
	int imp2, buf;

	make_uuid(uuid, 700);
	self->imp = get_importer(&self->v);
	imp2 = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, frames(imp2, uuid, VHOST_VDMABUF_FRAMES_JOIN));

	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 2));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(1, iev->seq);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);
	EXPECT_EQ(1, iev->nr_frames);
	EXPECT_EQ(32, iev->payload_len);
	EXPECT_EQ(EV_HDR + 32, iev->len);
	f1 = iev->frame;
	EXPECT_NE(0, f1);
	rect = (void *)(ebuf + EV_HDR);
	EXPECT_EQ(1, rect[1].x);
	EXPECT_EQ(11, rect[1].width);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));

	/* Never numbered, and unknown buffer. */
	memcpy(fd.uuid, uuid, 16);
	fd.frame = f1 + 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(EINVAL, errno);
	fd.frame = f1;
	fd.uuid[15] ^= 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ENOENT, errno);
	fd.uuid[15] ^= 1;

	/* A new frame replaces the pending one. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_F_REPLACED, ev.flags);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(2, iev->seq);
	EXPECT_EQ(EV_HDR, iev->len);
	f2 = iev->frame;
	EXPECT_LT(f1, f2);
	fd.frame = f1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ESTALE, errno);

	/*
	 * imp2 read nothing: its one PRESENTED is the newest frame, standing
	 * for both, with the whole buffer as damage.
	 */
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, read_ievent(imp2, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(imp2, ebuf, 1000));
	EXPECT_EQ(2, iev->seq);
	EXPECT_EQ(f2, iev->frame);
	EXPECT_EQ(2, iev->nr_frames);
	EXPECT_EQ(0, iev->payload_len);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);
	EXPECT_EQ(-1, read_ievent(imp2, ebuf, 100));

	/* Both importers owe it. */
	fd.frame = f2;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ESTALE, errno);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	ASSERT_EQ(0, ioctl(imp2, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(2, ev.seq);
	EXPECT_EQ(0, ev.flags);

	/* Closing an importer answers what it owes. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 3, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	fd.frame = iev->frame;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	close(imp2);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(3, ev.seq);

	/* No importer takes part: done at once, the dma-buf open or not. */
	close(self->imp);
	self->imp = -1;
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 4, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(4, ev.seq);
	close(buf);

	/* Unexport with a pending frame: FRAME_DONE, then RELEASED. */
	self->imp = get_importer(&self->v);
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_JOIN));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 5, 0));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_present(&self->v, uuid, 6, self->cfg.max_rects + 1));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(5, ev.seq);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * FRAME_DONE for a buffer the guest has unexported is ENOENT, as for an
 * unknown one, also while a host dma-buf still holds the buffer:
 * unexporting completed the frame, nothing is owed.
 */
TEST_F(host, frame_done_after_unexport)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int buf;

	make_uuid(uuid, 710);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);

	/* Held by @buf, not live. */
	memcpy(fd.uuid, uuid, 16);
	fd.frame = iev->frame;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ENOENT, errno);
	close(buf);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	/* Gone. */
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * An importer that does not read holds EXPORT back once its queue is full
 * of the EXPORTED of live buffers, and PRESENT of a buffer it has no
 * unread PRESENTED for; a PRESENT that replaces an unread one, and an
 * UNEXPORTED, are always queued.  A buffer unexported before the importer
 * read its EXPORTED vanishes from its queue, UNEXPORTED and all.
 */
TEST_F_TIMEOUT(host, importer_backpressure, 300)
{
	const unsigned int cap = 16;
	static uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_limits lim;
	struct virtio_vdmabuf_event ev;
	uint8_t u[16 + 1][16];
	uint32_t one = 1;
	unsigned int i;

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &lim));
	lim.max_importer_events = cap;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	for (i = 0; i <= cap; i++)
		make_uuid(u[i], 800 + i);
	for (i = 0; i < cap; i++)
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, u[i], BUF_BASE + i * PAGE, PAGE,
				    NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY,
		  do_export(&self->v, u[cap], BUF_BASE + cap * PAGE, PAGE,
			    NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY, do_present(&self->v, u[0], 1, 0));

	/* Read two: room for two PRESENTED, then only for replacing one. */
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, u[0], 1, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, u[2], 2, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, u[0], 3, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(3, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY, do_present(&self->v, u[3], 4, 0));

	/* Unexporting an unseen buffer makes room; a seen one is told. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, u[cap - 1]));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, u[cap], BUF_BASE + cap * PAGE, PAGE,
			    NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, u[0]));

	for (i = 2; i < cap - 1; i++) {
		ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
			  read_ievent(self->imp, ebuf, 1000));
		ASSERT_EQ(0, memcmp(iev->uuid, u[i], 16));
	}
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, u[2], 16));
	EXPECT_EQ(2, iev->seq);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, u[0], 16));
	EXPECT_EQ(3, iev->seq);
	EXPECT_EQ(2, iev->nr_frames);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, u[cap], 16));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, u[0], 16));
	EXPECT_EQ(-1, read_ievent(self->imp, ebuf, 100));
	for (i = 1; i <= cap; i++)
		if (i != cap - 1)
			EXPECT_EQ(VIRTIO_VDMABUF_S_OK,
				  do_unexport(&self->v, u[i]));
}

/* A blocking read() sleeping in one thread. */
struct blocked_read {
	int fd;
	pid_t tid;
	ssize_t ret;
	int err;
	uint8_t buf[VHOST_VDMABUF_EVENT_MAX];
};

static void *blocked_read_fn(void *arg)
{
	struct blocked_read *b = arg;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_RELEASE);
	b->ret = read(b->fd, b->buf, sizeof(b->buf));
	b->err = errno;
	return NULL;
}

/*
 * Wait up to 5 s for thread *@tid (set by the thread) to sleep
 * interruptibly (state S in /proc/self/task/TID/stat); 0 once it does.
 */
static int wait_sleeping(const pid_t *tid)
{
	char path[64], buf[256], *p;
	int i, fd;
	ssize_t n;

	for (i = 0; i < 5000; i++, usleep(1000)) {
		pid_t t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);

		if (!t)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", t);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -1;
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return 0;
	}
	return -1;
}

/*
 * A non-blocking read() never sleeps, also while another thread sleeps in
 * a blocking read() of the same importer.
 */
TEST_F(host, nonblock_read_beside_blocked_reader)
{
	struct blocked_read a = {}, b = {};
	pthread_t ta, tb;
	uint8_t uuid[16];
	int flags, ret;

	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	a.fd = b.fd = self->imp;
	ASSERT_EQ(0, pthread_create(&ta, NULL, blocked_read_fn, &a));
	/* a sleeps in read(), so it read the file's flags before this. */
	ASSERT_EQ(0, wait_sleeping(&a.tid));
	flags = fcntl(self->imp, F_GETFL);
	ASSERT_EQ(0, fcntl(self->imp, F_SETFL, flags | O_NONBLOCK));
	ASSERT_EQ(0, pthread_create(&tb, NULL, blocked_read_fn, &b));
	ret = join_within(tb, 2000);
	EXPECT_EQ(0, ret);
	/* Wake a with an event, so that both threads end. */
	make_uuid(uuid, 1000);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	EXPECT_EQ(0, join_within(ta, 5000));
	if (ret)
		EXPECT_EQ(0, pthread_join(tb, NULL));
	EXPECT_EQ(-1, b.ret);
	EXPECT_EQ(EAGAIN, b.err);
	EXPECT_EQ(EV_HDR, a.ret);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * Once the VMM has closed its vhost fd and the importer has read what was
 * queued, poll() reports POLLHUP and read() returns 0 (end of file); a
 * reader sleeping when the VMM closes wakes up to it.
 */
TEST_F(host, importer_eof_after_vmm_close)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct pollfd pfd = { .events = POLLIN };
	struct blocked_read a = {};
	pthread_t ta;
	uint8_t uuid[16];
	int imp2, imp3;

	make_uuid(uuid, 1010);
	self->imp = get_importer(&self->v);
	imp2 = get_importer(&self->v);
	imp3 = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_LE(0, imp2);
	ASSERT_LE(0, imp3);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	/* self->imp takes part in the buffer's frames: it is told. */
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_JOIN));
	/* imp2 reads its EXPORTED, then sleeps in read(). */
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, read_ievent(imp2, ebuf, 1000));
	a.fd = imp2;
	ASSERT_EQ(0, pthread_create(&ta, NULL, blocked_read_fn, &a));
	ASSERT_EQ(0, wait_sleeping(&a.tid));
	vmm_fini(&self->v);
	/* The sleeper gets the UNEXPORTED the close queued, then EOF. */
	EXPECT_EQ(0, join_within(ta, 5000));
	EXPECT_EQ(EV_HDR, a.ret);
	EXPECT_EQ(0, read(imp2, ebuf, sizeof(ebuf)));
	pfd.fd = imp2;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents);
	close(imp2);

	/* imp3 never read of the buffer, nor took part: nothing to read. */
	pfd.fd = imp3;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents);
	EXPECT_EQ(0, read(imp3, ebuf, sizeof(ebuf)));
	close(imp3);

	/* The queue first, then POLLHUP and EOF. */
	pfd.fd = self->imp;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & (POLLIN | POLLHUP));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents);
	EXPECT_EQ(0, read(self->imp, ebuf, sizeof(ebuf)));
}

/* A blocking poll() in one thread. */
struct blocked_poll {
	int fd;
	pid_t tid;
	int ret;
	short revents;
};

static void *blocked_poll_fn(void *arg)
{
	struct blocked_poll *b = arg;
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_RELEASE);
	b->ret = poll(&pfd, 1, 10000);
	b->revents = pfd.revents;
	return NULL;
}

/*
 * With nothing queued, a reader sleeping in read() and a poller sleeping
 * in poll() are woken by the VMM's close itself: read() returns 0 and
 * poll() POLLHUP, within a second.
 */
TEST_F(host, importer_eof_wakes_idle_sleepers)
{
	struct blocked_read r = {};
	struct blocked_poll p = {};
	pthread_t tr, tp;

	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	r.fd = p.fd = self->imp;
	ASSERT_EQ(0, pthread_create(&tr, NULL, blocked_read_fn, &r));
	ASSERT_EQ(0, pthread_create(&tp, NULL, blocked_poll_fn, &p));
	/* Both asleep, nothing queued. */
	ASSERT_EQ(0, wait_sleeping(&r.tid));
	ASSERT_EQ(0, wait_sleeping(&p.tid));
	vmm_fini(&self->v);
	EXPECT_EQ(0, join_within(tr, 1000));
	EXPECT_EQ(0, join_within(tp, 1000));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLHUP, p.revents);
}

/*
 * A record whose copy to the reader faults stays where it was, and stays
 * the buffer's one unread PRESENTED: the next frame replaces it.
 */
TEST_F(host, importer_read_fault_keeps_record)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	void *bad;

	bad = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	make_uuid(uuid, 1040);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(-1, read(self->imp, bad, VHOST_VDMABUF_EVENT_MAX));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(2, iev->seq);
	EXPECT_EQ(2, iev->nr_frames);
	EXPECT_EQ(-1, read_ievent(self->imp, ebuf, 100));
	munmap(bad, 2 * PAGE);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * After the VMM has closed, the read that drains the queue wakes pollers:
 * an edge-triggered epoll user gets EPOLLHUP.
 */
TEST_F(host, importer_hup_wakes_edge_triggered)
{
	struct epoll_event ee = { .events = EPOLLIN | EPOLLET };
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	uint8_t uuid[16];
	int ep;

	make_uuid(uuid, 1050);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->imp, &ee));
	EXPECT_EQ(0, epoll_wait(ep, &ee, 1, 0));
	vmm_fini(&self->v);
	/* The close queued UNEXPORTED: an edge. */
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	EXPECT_EQ(EPOLLIN, ee.events & (EPOLLIN | EPOLLHUP));
	EXPECT_EQ(0, epoll_wait(ep, &ee, 1, 0));
	/* Reading it ends the file: another edge. */
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 0));
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	EXPECT_EQ(EPOLLHUP, ee.events & (EPOLLIN | EPOLLHUP));
	EXPECT_EQ(0, read(self->imp, ebuf, sizeof(ebuf)));
	close(ep);
}

/*
 * The guest may reuse a sequence number.  A late FRAME_DONE for a
 * replaced frame must not complete the new frame with the same number.
 */
TEST_F(host, frame_done_for_replaced_frame_with_same_seq)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int buf;

	make_uuid(uuid, 1020);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 5, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(5, iev->seq);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);
	memcpy(fd.uuid, uuid, 16);
	fd.frame = iev->frame;	/* the answer to the first frame */

	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 5, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_F_REPLACED, ev.flags);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));

	EXPECT_EQ(5, iev->seq);
	EXPECT_NE(fd.frame, iev->frame);

	/* The late answer to the replaced frame completes nothing. */
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ESTALE, errno);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	/* The answer to the new one completes it. */
	fd.frame = iev->frame;
	EXPECT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(5, ev.seq);
	EXPECT_EQ(0, ev.flags);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 5, 0));

	close(buf);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * Observers do not pace the producer: an importer that reads events but
 * imports nothing, and one that never reads, owe no FRAME_DONE; every
 * frame is done at once, also past max_importer_events frames.
 */
TEST_F_TIMEOUT(host, observers_do_not_pace, 300)
{
	unsigned int cap = param("max_importer_events", 4096), n;
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int sleeper;

	make_uuid(uuid, 1030);
	self->imp = get_importer(&self->v);	/* reads, never answers */
	sleeper = get_importer(&self->v);	/* never reads */
	ASSERT_LE(0, self->imp);
	ASSERT_LE(0, sleeper);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, iev->flags);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);
	EXPECT_EQ(0, ev.flags);

	for (n = 2; n < cap + 8; n++) {
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_present(&self->v, uuid, n, 0));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(n, ev.seq);
		ASSERT_EQ(0, ev.flags);
	}
	/* The sleeper's queue: EXPORTED and one PRESENTED for them all. */
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(sleeper, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(sleeper, ebuf, 1000));
	EXPECT_EQ(n - 1, iev->seq);
	EXPECT_EQ(n - 1, iev->nr_frames);
	EXPECT_EQ(0, iev->flags);
	EXPECT_EQ(-1, read_ievent(sleeper, ebuf, 100));
	close(sleeper);

	/* Joining makes it owed; leaving answers it. */
	EXPECT_EQ(-1, frames(self->imp, uuid, 3));
	EXPECT_EQ(EINVAL, errno);
	uuid[0] ^= 1;
	EXPECT_EQ(-1, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_JOIN));
	EXPECT_EQ(ENOENT, errno);
	uuid[0] ^= 1;
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_JOIN));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, n, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_LEAVE));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(n, ev.seq);
	EXPECT_EQ(0, ev.flags);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, n + 1, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(n + 1, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * Buffers coming and going do not fill an observer's queue either: with
 * a queue of 16, an importer that never reads and one that only reads
 * events watch three times as many export, present, unexport cycles as
 * fit, and the guest never gets BUSY; every frame is done at once.  The
 * one that never reads is left with the long-lived buffer's EXPORTED and
 * one PRESENTED standing for all its frames: it never hears of the
 * buffers that came and went while it did not read.
 */
TEST_F_TIMEOUT(host, observers_survive_buffer_churn, 300)
{
	const unsigned int cap = 16, cycles = 3 * cap;
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_limits lim;
	struct virtio_vdmabuf_event ev;
	uint8_t x[16], u[16];
	unsigned int n, i;
	uint32_t one = 1;
	int sleeper;

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &lim));
	lim.max_importer_events = cap;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	self->imp = get_importer(&self->v);	/* reads, never answers */
	sleeper = get_importer(&self->v);	/* never reads */
	ASSERT_LE(0, self->imp);
	ASSERT_LE(0, sleeper);
	make_uuid(x, 1100);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, x, BUF_BASE, PAGE, NULL));
	for (n = 0; n < cycles; n++) {
		make_uuid(u, 1101 + n);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, u, BUF_BASE + PAGE, PAGE, NULL));
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, u, n, 0));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_present(&self->v, x, n + 1, 0));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
		ASSERT_EQ(n + 1, ev.seq);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, u));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
		/* The reader catches up now and then. */
		if (n % 4 == 3)
			for (i = 0; i < 4 * cap; i++)
				if (read_ievent(self->imp, ebuf, 0) < 0)
					break;
	}
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(sleeper, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, x, 16));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(sleeper, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, x, 16));
	EXPECT_EQ(cycles, iev->seq);
	EXPECT_EQ(cycles, iev->nr_frames);
	EXPECT_EQ(-1, read_ievent(sleeper, ebuf, 100));
	close(sleeper);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, x));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * An IMPORT that fails (its answer cannot be written back) does not make
 * the importer take part in the buffer's frames: the next frame is done at
 * once, not held for a FRAME_DONE nobody will send.
 */
TEST_F(host, failed_import_owes_nothing)
{
	struct vhost_vdmabuf_import *arg;
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];

	make_uuid(uuid, 1060);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	arg = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, arg);
	memcpy(arg->uuid, uuid, 16);
	ASSERT_EQ(0, mprotect(arg, PAGE, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_IMPORT, arg));
	EXPECT_EQ(EFAULT, errno);
	munmap(arg, PAGE);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 1000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * An importer that imports a buffer by UUID before it reads the buffer's
 * EXPORTED, and then leaves its frames, still holds a dma-buf of it: the
 * unexport must tell it UNEXPORTED (a reset waits for it to let go), not
 * drop the EXPORTED as if it had never heard of the buffer.
 */
TEST_F(host, import_before_exported_is_told)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int buf;

	make_uuid(uuid, 1065);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_LEAVE));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(0, memcmp(iev->uuid, uuid, 16));
	close(buf);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * FRAME_DONE of a frame number the device never gave (0, or past the
 * newest) is EINVAL, not a late answer; a stale real one is ESTALE.
 */
TEST_F(host, frame_done_unknown_frame)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int buf;

	make_uuid(uuid, 1070);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	memcpy(fd.uuid, uuid, 16);
	fd.frame = iev->frame + 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(EINVAL, errno);
	fd.frame = 0;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(EINVAL, errno);
	fd.frame = iev->frame;
	EXPECT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ESTALE, errno);
	close(buf);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * An unread PRESENTED replaced by the next one carries the damage of both,
 * in order; past 64 rectangles it becomes the whole buffer (none).
 */
TEST_F(host, presented_damage_merges)
{
	unsigned int r = param("max_rects", 16), n;
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_rect *rect = (void *)(ebuf + EV_HDR);
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];

	if (r < 3)
		SKIP(return, "max_rects is below 3");
	make_uuid(uuid, 1080);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 2));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 3));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(2, iev->seq);
	EXPECT_EQ(2, iev->nr_frames);
	EXPECT_EQ(5 * sizeof(*rect), iev->payload_len);
	EXPECT_EQ(1, rect[1].x);
	EXPECT_EQ(0, rect[2].x);
	EXPECT_EQ(10, rect[2].width);
	EXPECT_EQ(2, rect[4].x);
	EXPECT_EQ(22, rect[4].height);

	/* Past 64 rectangles: the whole buffer. */
	for (n = 0; n * r <= VIRTIO_VDMABUF_MAX_RECTS; n++) {
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_present(&self->v, uuid, 3 + n, r));
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	}
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(2 + n, iev->seq);
	EXPECT_EQ(n, iev->nr_frames);
	EXPECT_EQ(0, iev->payload_len);
	EXPECT_EQ(EV_HDR, iev->len);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * A FRAME_DONE for a frame of an earlier export with the same UUID does
 * not complete a frame of the new one: frame numbers are per device.
 */
TEST_F(host, stale_frame_done_after_reexport)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	uint64_t old;
	int buf;

	make_uuid(uuid, 1090);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	old = iev->frame;
	close(buf);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));	/* FRAME_DONE */
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	ASSERT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 1000));

	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	buf = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_LT(old, iev->frame);
	memcpy(fd.uuid, uuid, 16);
	fd.frame = old;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(ESTALE, errno);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	fd.frame = iev->frame;
	EXPECT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	close(buf);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/* Unknown flags and non-zero padding of FRAME_DONE and QUERY: EINVAL. */
TEST_F(host, importer_ioctl_flags)
{
	struct vhost_vdmabuf_frame_done fd = {};
	struct vhost_vdmabuf_query q = {};
	uint8_t uuid[16];

	make_uuid(uuid, 1040);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	memcpy(fd.uuid, uuid, 16);
	memcpy(q.uuid, uuid, 16);
	fd.flags = 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(EINVAL, errno);
	fd.flags = 0;
	fd.padding = 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	EXPECT_EQ(EINVAL, errno);
	q.flags = 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	q.flags = 0;
	q.padding = 1;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	q.padding = 0;
	EXPECT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_QUERY, &q));
	EXPECT_EQ(PAGE, q.size);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * Joined to the frames of every buffer, an importer owes each frame, also
 * of a buffer it has not imported (yet), until it leaves them all.
 */
TEST_F(host, join_all_frames)
{
	struct vhost_vdmabuf_frames arg = {
		.op = VHOST_VDMABUF_FRAMES_JOIN,
		.flags = VHOST_VDMABUF_FRAMES_F_ALL,
	};
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];

	make_uuid(uuid, 1050);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	memcpy(arg.uuid, uuid, 16);
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));
	EXPECT_EQ(EINVAL, errno);
	memset(arg.uuid, 0, 16);
	arg.flags = 2;
	EXPECT_EQ(-1, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = VHOST_VDMABUF_FRAMES_F_ALL;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));

	/* A buffer exported after joining: its first frame waits. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);
	memcpy(fd.uuid, uuid, 16);
	fd.frame = iev->frame;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);

	/* Leaving them all answers the frame owed. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	arg.op = VHOST_VDMABUF_FRAMES_LEAVE;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(2, ev.seq);
	EXPECT_EQ(0, ev.flags);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 3, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(3, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * Joined to all frames, LEAVE of one buffer answers the frame owed now,
 * and that buffer's next frame is owed again.
 */
TEST_F(host, join_all_then_leave_one)
{
	struct vhost_vdmabuf_frames arg = {
		.op = VHOST_VDMABUF_FRAMES_JOIN,
		.flags = VHOST_VDMABUF_FRAMES_F_ALL,
	};
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done fd = {};
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];

	make_uuid(uuid, 1060);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));

	/* LEAVE of this buffer answers frame 1 ... */
	ASSERT_EQ(0, frames(self->imp, uuid, VHOST_VDMABUF_FRAMES_LEAVE));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);

	/* ... and frame 2 is owed again, answered by FRAME_DONE. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_F_OWED, iev->flags);
	memcpy(fd.uuid, uuid, 16);
	fd.frame = iev->frame;
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &fd));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(2, ev.seq);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * LEAVE with F_ALL leaves the frames of every buffer, also those an
 * IMPORT joined; the importer still holds its dma-buf and is still told
 * UNEXPORTED.
 */
TEST_F(host, leave_all_leaves_imported)
{
	struct vhost_vdmabuf_frames arg = {
		.op = VHOST_VDMABUF_FRAMES_LEAVE,
		.flags = VHOST_VDMABUF_FRAMES_F_ALL,
	};
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct virtio_vdmabuf_event ev;
	uint8_t uuid[16];
	int dfd, t;

	make_uuid(uuid, 1061);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));
	dfd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 1, 0));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));

	/* Leaving all answers the frame the import owed ... */
	ASSERT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAMES, &arg));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(1, ev.seq);
	/* ... and the next frame is owed by no one. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 2, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(2, ev.seq);

	/* Still a holder: told UNEXPORTED, RELEASED only after its close. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	do {
		t = read_ievent(self->imp, ebuf, 1000);
	} while (t == VHOST_VDMABUF_EVENT_EXPORTED ||
		 t == VHOST_VDMABUF_EVENT_PRESENTED);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, t);
	EXPECT_EQ(-1, get_event(&self->v, &ev, 200));
	close(dfd);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
}

/*
 * With an importer's queue full, EXPORT is BUSY before anything is
 * allocated or pinned: a guest retrying a large EXPORT costs no pin and
 * unpin of its pages per retry (FOLL_PIN counters of /proc/vmstat).
 */
TEST_F_TIMEOUT(host, busy_export_pins_nothing, 300)
{
	const unsigned int cap = 16;
	const uint64_t big = 8ULL << 20;
	struct vhost_vdmabuf_limits lim;
	struct vhost_vdmabuf_stats s;
	struct pins p0, p;
	uint8_t uuid[16], uuid2[16];
	unsigned int n, try;
	uint32_t one = 1;

	if (self->cfg.max_export_size < big)
		SKIP(return, "max_export_size is below 8 MiB");
	/* A queue of 16, filled by the EXPORTED of 16 live buffers. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &lim));
	lim.max_importer_events = cap;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	make_uuid(uuid2, 811);
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	for (n = 0; n < cap; n++) {
		make_uuid(uuid, 840 + n);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, uuid, BUF_BASE + n * PAGE, PAGE,
				    NULL));
	}

	/* From a quiet start: the pins of the cap exports alone held. */
	pins_held(&self->base.pins, &p0, cap);
	ASSERT_LE(0, p0.acquired);
	for (try = 0; try < 3; try++)
		EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY,
			  do_export(&self->v, uuid2, BUF_BASE + (1ULL << 20),
				    big, NULL));
	read_foll_pins(&p.acquired, &p.released);
	EXPECT_EQ(0, p.acquired - p0.acquired);
	EXPECT_EQ(0, p.released - p0.released);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(cap, s.pinned_pages);
	EXPECT_EQ(cap, s.live_exports);
	for (n = 0; n < cap; n++) {
		make_uuid(uuid, 840 + n);
		EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	}
}

/*
 * CPU access brackets (DMA_BUF_IOCTL_SYNC) never bring back old data: the
 * pages are guest RAM that the CPU sees coherently.  A DMA-API sync on a
 * device of the driver's own would, under swiotlb bouncing (L1 booted
 * with VM_L1_APPEND=swiotlb=force), copy the bounce buffer's stale copy
 * over what the guest wrote since; without bouncing it cannot fail, so
 * make check runs it alone in an L1 booted that way (VM_MODE=swiotlb).
 */
static int swiotlb_forced(void)
{
	char cmdline[4096] = "";
	ssize_t n;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n > 0)
		cmdline[n] = 0;
	return !!strstr(cmdline, "swiotlb=force");
}

TEST_F(host, cpu_access_sees_guest_writes)
{
	struct dma_buf_sync sync = {
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
	};
	const uint64_t size = 16 * PAGE;
	uint8_t uuid[16], want[16 * PAGE];
	uint8_t *m;
	int fd;

	if (!swiotlb_forced())
		SKIP(return, "needs swiotlb=force (VM_MODE=swiotlb): without bouncing it cannot fail");
	make_uuid(uuid, 970);
	fill(&self->v, BUF_BASE, size, 1);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, size, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);

	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(0, memcmp(m, gpa(&self->v, BUF_BASE), size));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));

	/* The guest draws the next frame; the host reads it. */
	fill(&self->v, BUF_BASE, size, 2);
	memcpy(want, gpa(&self->v, BUF_BASE), size);
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(0, memcmp(m, want, size));
	EXPECT_EQ(0, memcmp(gpa(&self->v, BUF_BASE), want, size));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	EXPECT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));

	munmap(m, size);
	close(fd);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
}

/*
 * The VMM sets a device's limits before it starts it (here: after a
 * reset), within the module parameters; the configuration space and the
 * checks of requests follow them, and other devices keep the module's.
 */
TEST_F(host, per_device_limits)
{
	struct vhost_vdmabuf_limits top, lim, got;
	struct virtio_vdmabuf_config cfg;
	struct virtio_vdmabuf_range r[3];
	struct virtio_vdmabuf_event ev;
	uint8_t buf[256], a[16], b[16], c[16];
	uint32_t one = 1;
	struct vmm other;
	size_t n;
	int i, fd, fd2;

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &top));
	EXPECT_EQ(0, top.flags);
	EXPECT_EQ(param("max_importers", 64), top.max_importers);
	EXPECT_EQ(param("max_ranges", 16384), top.max_ranges);
	EXPECT_EQ(param("max_total_mb", 2048), top.max_total_mb);
	EXPECT_EQ(param("max_guest_events", 8192), top.max_guest_events);
	lim = top;
	lim.max_ranges = 2;
	lim.max_meta_len = 8;
	lim.max_exports = 2;
	lim.max_rects = 1;
	lim.max_export_mb = 1;
	lim.max_total_mb = 1;
	lim.max_importer_events = 16;
	lim.max_guest_events = 16;
	lim.max_importers = 2;
	/* Not while the guest may be using the device. */
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	/* Above a ceiling, below a floor, flags set: EINVAL. */
	for (i = 0; i < 4; i++) {
		got = lim;
		if (i == 0)
			got.max_total_mb = top.max_total_mb + 1;
		else if (i == 1)
			got.max_exports = 0;
		else if (i == 2)
			got.flags = 1;
		else
			got.max_importers = top.max_importers + 1;
		EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS,
				    &got));
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &got));
	EXPECT_EQ(0, memcmp(&lim, &got, sizeof(got)));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_CONFIG, &cfg));
	EXPECT_EQ(2, cfg.max_ranges);
	EXPECT_EQ(8, cfg.max_meta_len);
	EXPECT_EQ(2, cfg.max_exports);
	EXPECT_EQ(1, cfg.max_rects);
	EXPECT_EQ(1ULL << 20, cfg.max_export_size);
	EXPECT_EQ(1ULL << 20, cfg.max_total_size);
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	/* Two importers, then EUSERS. */
	fd = get_importer(&self->v);
	EXPECT_LE(0, fd);
	fd2 = get_importer(&self->v);
	EXPECT_LE(0, fd2);
	EXPECT_EQ(-1, get_importer(&self->v));
	EXPECT_EQ(EUSERS, errno);
	close(fd);
	close(fd2);

	make_uuid(a, 820);
	make_uuid(b, 821);
	make_uuid(c, 822);
	for (i = 0; i < 3; i++) {
		r[i].addr = BUF_BASE + 2 * i * PAGE;
		r[i].len = PAGE;
	}
	n = mk_export(buf, a, 3 * PAGE, r, 3, NULL, 0);
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  submit(&self->v, buf, n, 8, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, a, BUF_BASE, PAGE, "123456789"));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, a, BUF_BASE, 2ULL << 20, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, a, BUF_BASE, PAGE, "12345678"));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, b, BUF_BASE + PAGE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, c, BUF_BASE + 2 * PAGE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT, do_present(&self->v, a, 1, 2));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, a));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, b));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	}
	/* max_total_mb: one export of the whole 1 MiB leaves no room. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, a, BUF_BASE, 1ULL << 20, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, b, BUF_BASE + (1ULL << 20), PAGE, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, a));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);

	/* Another device has the module's limits. */
	ASSERT_EQ(0, vmm_init(&other, 0));
	ASSERT_EQ(0, ioctl(other.fd, VHOST_VDMABUF_GET_CONFIG, &cfg));
	EXPECT_EQ(top.max_ranges, cfg.max_ranges);
	EXPECT_EQ((uint64_t)top.max_total_mb << 20, cfg.max_total_size);
	vmm_fini(&other);
}

/*
 * At most max_importers importer files of a device are open at once: each
 * PRESENT visits every importer, so their number bounds the device's work.
 * One more is refused with EUSERS until one is closed; the cap is per
 * device.
 */
TEST_F(host, importers_capped)
{
	unsigned int cap = param("max_importers", 64);
	struct vhost_vdmabuf_stats s;
	int fds[256], i, n, fd;
	struct vmm other;

	ASSERT_GE(256, cap);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	ASSERT_EQ(0, s.importers);
	for (n = 0; n < (int)cap; n++) {
		fds[n] = get_importer(&self->v);
		ASSERT_LE(0, fds[n]);
	}
	EXPECT_EQ(-1, get_importer(&self->v));
	EXPECT_EQ(EUSERS, errno);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(cap, s.importers);

	ASSERT_EQ(0, vmm_init(&other, 0));
	fd = get_importer(&other);
	EXPECT_LE(0, fd);
	close(fd);
	vmm_fini(&other);

	close(fds[--n]);
	fds[n] = get_importer(&self->v);
	EXPECT_LE(0, fds[n]);
	for (i = 0; i <= n; i++)
		close(fds[i]);
}

/*
 * A max_importers of 0 is the module parameter (the field was padding
 * before, so older VMMs leave it zero), and GET_LIMITS says so.  Lowering
 * the cap after a reset closes no importer: those open keep working, and
 * new ones are refused until fewer than the cap are open.
 */
TEST_F(host, importers_cap_lowered)
{
	unsigned int param_cap = param("max_importers", 64);
	struct vhost_vdmabuf_limits lim, got;
	struct vhost_vdmabuf_stats s;
	struct pollfd pfd;
	int fds[3], i, fd;
	char buf[256];

	if (param_cap < 3)
		SKIP(return, "max_importers %u < 3", param_cap);
	for (i = 0; i < 3; i++) {
		fds[i] = get_importer(&self->v);
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &lim));
	lim.max_importers = 0;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &got));
	EXPECT_EQ(param_cap, got.max_importers);
	lim.max_importers = 1;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));

	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(3, s.importers);
	/* Open, nothing to read, not at end of file. */
	for (i = 0; i < 3; i++) {
		pfd = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		EXPECT_EQ(0, poll(&pfd, 1, 0));
		ASSERT_EQ(0, fcntl(fds[i], F_SETFL, O_NONBLOCK));
		EXPECT_EQ(-1, read(fds[i], buf, sizeof(buf)));
		EXPECT_EQ(EAGAIN, errno);
	}
	EXPECT_EQ(-1, get_importer(&self->v));
	EXPECT_EQ(EUSERS, errno);
	close(fds[0]);
	close(fds[1]);
	EXPECT_EQ(-1, get_importer(&self->v));
	EXPECT_EQ(EUSERS, errno);
	close(fds[2]);
	fd = get_importer(&self->v);
	EXPECT_LE(0, fd);
	close(fd);
}

/*
 * Only the VMM that owns the device sets its limits: any other process
 * gets EPERM, also for limits that would be refused anyway.
 */
TEST_F(host, set_limits_owner_only)
{
	struct vhost_vdmabuf_limits lim;
	int status, bad = 0;
	pid_t pid;

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &lim));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (!ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim) ||
		    errno != EPERM)
			bad |= 1;
		lim.flags = 1;
		if (!ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim) ||
		    errno != EPERM)
			bad |= 2;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * The limits freeze when the device is first started (SET_FEATURES or
 * SET_RUNNING 1): the guest has read them, and its exports were checked
 * against them.  A pause keeps them frozen; a reset (RESET_DEVICE or
 * RESET_OWNER) keeps their values but lets the VMM set them again.
 */
TEST_F(host, limits_frozen_until_reset)
{
	struct vhost_vdmabuf_limits top, lim, got;
	uint32_t zero = 0, one = 1;
	uint64_t features;
	uint8_t uuid[16];

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &top));
	lim = top;
	lim.max_exports = 2;
	make_uuid(uuid, 830);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, PAGE, NULL));

	/* Stopped (a pause), with a live export: still frozen. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &zero));
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &got));
	EXPECT_EQ(0, memcmp(&top, &got, sizeof(got)));

	/* Features negotiated, never run: frozen as well. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	features = 1ULL << VIRTIO_F_VERSION_1;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_SET_FEATURES, &features));
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	EXPECT_EQ(EBUSY, errno);

	/* A reset lifts the freeze, and the limits survive it. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &lim));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_LIMITS, &got));
	EXPECT_EQ(0, memcmp(&lim, &got, sizeof(got)));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &top));
	EXPECT_EQ(EBUSY, errno);

	/* RESET_OWNER lifts it too, for the next owner. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_RESET_OWNER));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_SET_OWNER));
	EXPECT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_LIMITS, &top));
}

/*
 * Stopping the device is a pause (QEMU's "stop"): exports, imports, mapped
 * content and pending frames survive it, and requests the guest queued
 * meanwhile are served on "cont".
 */
TEST_F(host, stop_keeps_exports)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_event *iev = (void *)ebuf;
	struct vhost_vdmabuf_frame_done done = {};
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint32_t zero = 0, one = 1, two = 2;
	struct virtio_vdmabuf_range r;
	uint8_t uuid[16], uuid2[16];
	uint8_t req[256], *m;
	int fd, fd2;

	make_uuid(uuid, 900);
	make_uuid(uuid2, 901);
	fill(&self->v, BUF_BASE, 2 * PAGE, 21);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 2 * PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(0, memcmp(m, gpa(&self->v, BUF_BASE), 2 * PAGE));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, uuid, 3, 0));

	EXPECT_EQ(-1, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &two));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &zero));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.live_exports);
	EXPECT_EQ(1, s.held_exports);
	EXPECT_EQ(2, s.pinned_pages);
	EXPECT_EQ(1, s.host_dmabufs);
	/* The mapping still reads and writes guest memory. */
	fill(&self->v, BUF_BASE, 2 * PAGE, 22);
	EXPECT_EQ(0, memcmp(m, gpa(&self->v, BUF_BASE), 2 * PAGE));
	m[7] = 0x5a;
	EXPECT_EQ(0x5a, *(uint8_t *)gpa(&self->v, BUF_BASE + 7));
	/* A live export can still be imported while the VM is paused. */
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_PRESENTED,
		  read_ievent(self->imp, ebuf, 1000));
	memcpy(done.uuid, uuid, 16);
	done.frame = iev->frame;
	EXPECT_EQ(-1, read_ievent(self->imp, ebuf, 100));
	fd2 = import_buf(self->imp, uuid, NULL);
	EXPECT_LE(0, fd2);
	close(fd2);
	/*
	 * The host completes the frame and the guest queues a new export
	 * while the VM is paused: neither reaches a ring before it runs.
	 */
	EXPECT_EQ(0, ioctl(self->imp, VHOST_VDMABUF_FRAME_DONE, &done));
	r.addr = BUF_BASE + 2 * PAGE;
	r.len = PAGE;
	submit_post(&self->v, req, mk_export(req, uuid2, PAGE, &r, 1, NULL, 0),
		    sizeof(struct virtio_vdmabuf_resp));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 300));
	EXPECT_EQ(-1, submit_wait(&self->v, 300, NULL));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.guest_events);	/* the FRAME_DONE, queued */
	EXPECT_EQ(1, s.live_exports);

	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	/* Both go through once it runs again. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, submit_wait(&self->v, 5000, NULL));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(3, ev.seq);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(2, s.live_exports);
	EXPECT_EQ(0, s.guest_events);
	EXPECT_EQ(0, memcmp(m, gpa(&self->v, BUF_BASE), 2 * PAGE));
	/* The guest's view survived: the UUID is still taken. */
	EXPECT_EQ(VIRTIO_VDMABUF_S_EXISTS,
		  do_export(&self->v, uuid, BUF_BASE + 2 * PAGE, PAGE, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid2));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	munmap(m, 2 * PAGE);
	close(fd);
	EXPECT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, uuid));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.held_exports);
	EXPECT_EQ(1, s.bad_requests);	/* the EXISTS */
}

/*
 * A guest reset (@req: VHOST_VDMABUF_RESET_DEVICE or VHOST_RESET_OWNER)
 * revokes host access before the ioctl returns: a mapping held across it
 * faults SIGBUS, pages faulted in before and never touched alike, so not a
 * byte the guest writes after the reset can be read; no new mmap, CPU
 * access or import; the pages are unpinned when the last dma-buf goes.
 */
static void reset_revokes(struct __test_metadata *_metadata, struct vmm *v,
			  int imp, unsigned long req)
{
	struct dma_buf_sync sync = {
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ,
	};
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_stats s;
	const uint64_t size = 4 * PAGE;
	uint8_t uuid[16], *m, *m2, *m3;
	int fd, fd2;

	make_uuid(uuid, 950);
	fill(v, BUF_BASE, size, 31);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_export(v, uuid, BUF_BASE, size, NULL));
	fd = import_buf(imp, uuid, NULL);
	ASSERT_LE(0, fd);
	fd2 = import_buf(imp, uuid, NULL);
	ASSERT_LE(0, fd2);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	m2 = mmap(NULL, size, PROT_READ, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, m2);
	EXPECT_EQ(*(uint8_t *)gpa(v, BUF_BASE), peek(m));
	EXPECT_EQ(0, poke(m + 2 * PAGE, 0x3c));
	EXPECT_EQ(0x3c, *(uint8_t *)gpa(v, BUF_BASE + 2 * PAGE));
	EXPECT_EQ(*(uint8_t *)gpa(v, BUF_BASE + PAGE), peek(m2 + PAGE));
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));

	ASSERT_EQ(0, ioctl(v->fd, req));
	/* The guest reuses its memory at once. */
	memset(gpa(v, BUF_BASE), 0xa5, size);
	/* Writes fault too, into pages written before and not. */
	EXPECT_EQ(-1, poke(m + 2 * PAGE, 0x3c));
	EXPECT_EQ(-1, poke(m + PAGE, 0x3c));
	EXPECT_EQ(0xa5, *(uint8_t *)gpa(v, BUF_BASE + PAGE));
	EXPECT_EQ(0xa5, *(uint8_t *)gpa(v, BUF_BASE + 2 * PAGE));
	EXPECT_EQ(-1, peek(m));
	EXPECT_EQ(-1, peek(m + PAGE));
	EXPECT_EQ(-1, peek(m + 3 * PAGE));
	EXPECT_EQ(-1, peek(m2 + PAGE));
	EXPECT_EQ(-1, peek(m2 + 2 * PAGE));
	m3 = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, m3);
	EXPECT_EQ(ENODEV, errno);
	if (m3 != MAP_FAILED)
		munmap(m3, size);
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
	EXPECT_EQ(-1, ioctl(fd2, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, import_buf(imp, uuid, NULL));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, read_ievent(imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, read_ievent(imp, ebuf, 1000));

	/* Held until the last host user lets go, then unpinned. */
	ASSERT_EQ(0, get_stats(v, &s));
	EXPECT_EQ(0, s.live_exports);
	EXPECT_EQ(1, s.held_exports);
	EXPECT_EQ(size / PAGE, s.pinned_pages);
	EXPECT_EQ(2, s.host_dmabufs);
	munmap(m, size);
	close(fd);
	ASSERT_EQ(0, get_stats(v, &s));
	EXPECT_EQ(1, s.held_exports);
	EXPECT_EQ(1, s.host_dmabufs);
	munmap(m2, size);
	close(fd2);
	ASSERT_EQ(0, get_stats(v, &s));
	EXPECT_EQ(0, s.held_exports);
	EXPECT_EQ(0, s.pinned_pages);
	EXPECT_EQ(0, s.host_dmabufs);
	/*
	 * The reset told the guest nothing, not even RELEASED when the last
	 * dma-buf went: it forgot its exports itself.  (The device is
	 * stopped: an event would wait in the queue.)
	 */
	EXPECT_EQ(0, s.guest_events);
}

TEST_F(host, reset_device_revokes)
{
	struct virtio_vdmabuf_event ev;
	uint32_t one = 1;

	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	reset_revokes(_metadata, &self->v, self->imp,
		      VHOST_VDMABUF_RESET_DEVICE);
	/* The reset left the device stopped; the guest starts it again. */
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_SET_RUNNING, &one));
	EXPECT_EQ(-1, get_event(&self->v, &ev, 300));	/* nothing queued */
	EXPECT_TRUE(device_works(&self->v, 1));
}

TEST_F(host, reset_owner_revokes)
{
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	reset_revokes(_metadata, &self->v, self->imp, VHOST_RESET_OWNER);
}

/*
 * Guest RAM in a file on a mounted tmpfs (memory-backend-file,share=on
 * with a persistent mem-path) outlives the VMM: the next VM that maps the
 * file gets the same pages.  So closing the vhost fd revokes such exports
 * as a reset does: the mapping held across the close faults, and nothing
 * the next VM writes can be read.
 */
TEST(vmm_closed_file_ram_revoked)
{
	struct dma_buf_sync sync = {
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ,
	};
	char dir[] = "/tmp/vdmabuf-ram-XXXXXX", path[64];
	const uint64_t size = 4 * PAGE;
	uint8_t uuid[16], *m, *next;
	struct vmm v;
	int imp, fd, rfd;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64m")) {
		rmdir(dir);
		SKIP(return, "cannot mount a tmpfs: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/guest-ram", dir);
	memset(&v, 0, sizeof(v));
	v.ram_path = path;
	v.fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, v.fd);
	ASSERT_EQ(0, vmm_setup(&v, NUM));
	make_uuid(uuid, 510);
	fill(&v, BUF_BASE, size, 13);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_export(&v, uuid, BUF_BASE, size, NULL));
	imp = get_importer(&v);
	ASSERT_LE(0, imp);
	fd = import_buf(imp, uuid, NULL);
	ASSERT_LE(0, fd);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(*(uint8_t *)gpa(&v, BUF_BASE), peek(m));

	vmm_fini(&v);	/* the VMM exits */
	/* The next VM maps the file and writes its memory. */
	rfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, rfd);
	next = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ASSERT_NE(MAP_FAILED, next);
	memset(next + BUF_BASE, 0x5c, size);
	EXPECT_EQ(-1, peek(m));
	EXPECT_EQ(-1, peek(m + 3 * PAGE));
	EXPECT_EQ(-1, poke(m + PAGE, 0x11));
	EXPECT_EQ(0x5c, next[BUF_BASE + PAGE]);
	EXPECT_EQ(-1, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(ENODEV, errno);

	munmap(m, size);
	close(fd);
	close(imp);
	munmap(next, RAM_SIZE);
	close(rfd);
	EXPECT_EQ(0, umount(dir));
	rmdir(dir);
}

/* A VHOST_VDMABUF_RESET_DEVICE on a thread of the VMM (the owner's mm). */
struct reset_call {
	pthread_t thread;
	int fd;
	int ret;
	int err;
	uint64_t done_ns;	/* 0 while the ioctl runs */
};

static void *reset_thread(void *arg)
{
	struct reset_call *rc = arg;

	rc->ret = ioctl(rc->fd, VHOST_VDMABUF_RESET_DEVICE);
	rc->err = errno;
	__atomic_store_n(&rc->done_ns, now_ns(), __ATOMIC_RELEASE);
	return NULL;
}

static int reset_start(struct reset_call *rc, int fd)
{
	memset(rc, 0, sizeof(*rc));
	rc->fd = fd;
	return pthread_create(&rc->thread, NULL, reset_thread, rc);
}

static uint64_t reset_done(struct reset_call *rc)
{
	return __atomic_load_n(&rc->done_ns, __ATOMIC_ACQUIRE);
}

/* Import dma-buf @fd into vgem: a static importer, which attaches and maps. */
static int vgem_import(int vgem, int fd, uint32_t *handle)
{
	struct drm_prime_handle prime = { .fd = fd };

	if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime))
		return -1;
	*handle = prime.handle;
	return 0;
}

static int vgem_close(int vgem, uint32_t handle)
{
	struct drm_gem_close gclose = { .handle = handle };

	return ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gclose);
}

/*
 * Does a vgem PRIME import pin a dynamic exporter's dma-buf?  The dma-buf
 * core of Linux 6.1 and 6.12 pins and maps a static importer's attachment
 * when it attaches; Linux 7.3's only when it maps, which its vgem's
 * import no longer does.  1 or 0, from an export of @v's (UUID seed
 * @seed) imported and let go again; -1 if that failed.
 */
static int vgem_import_pins(struct vmm *v, int imp, int vgem, int seed)
{
	struct vhost_vdmabuf_stats s;
	uint8_t uuid[16];
	uint32_t handle;
	int fd, pins = -1;

	make_uuid(uuid, seed);
	if (do_export(v, uuid, BUF_BASE, PAGE, NULL) != VIRTIO_VDMABUF_S_OK)
		return -1;
	fd = import_buf(imp, uuid, NULL);
	if (fd >= 0 && !vgem_import(vgem, fd, &handle)) {
		if (!get_stats(v, &s))
			pins = s.pinned_attachments > 0;
		vgem_close(vgem, handle);
	}
	if (fd >= 0)
		close(fd);
	do_unexport(v, uuid);
	return pins;
}

#define VGEM_NO_PIN	"vgem's import pins nothing on this kernel (Linux 7.3 pins a static importer's attachment at its first mapping, which vgem no longer makes)"

/*
 * No new attachment after a reset: a PRIME import (vgem attaches; a
 * dynamic exporter is pinned and mapped at attach on the kernels that do
 * so) of a host dma-buf that was imported before the reset fails with
 * ENODEV.
 */
TEST_F(host, reset_refuses_attachments)
{
	uint8_t uuid[16];
	uint32_t handle;
	int vgem, fd;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	make_uuid(uuid, 960);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_RESET_DEVICE));
	EXPECT_EQ(-1, vgem_import(vgem, fd, &handle));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	close(vgem);
}

/*
 * A reset waits for the work queued on a host dma-buf before it returns:
 * a write fence that vgem added to its reservation object (the import is
 * closed again, so nothing holds an attachment) holds RESET_DEVICE until
 * it signals.  Meanwhile the importer reads UNEXPORTED: the wait holds
 * none of the device's locks.
 */
TEST_F(host, reset_waits_for_fences)
{
	struct drm_vgem_fence_attach attach = { .flags = VGEM_FENCE_WRITE };
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct drm_vgem_fence_signal signal = {};
	struct reset_call rc;
	uint64_t signalled;
	uint8_t uuid[16];
	int vgem, fd;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	make_uuid(uuid, 961);
	self->imp = get_importer(&self->v);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vgem_import(vgem, fd, &attach.handle));
	ASSERT_EQ(0, ioctl(vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach));
	ASSERT_EQ(0, vgem_close(vgem, attach.handle));

	ASSERT_EQ(0, reset_start(&rc, self->v.fd));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 5000));
	usleep(300 * 1000);
	EXPECT_EQ(0, reset_done(&rc));	/* still waiting for the fence */
	signalled = now_ns();
	signal.fence = attach.out_fence;
	EXPECT_EQ(0, ioctl(vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, &signal));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	EXPECT_EQ(0, rc.ret);
	EXPECT_LE(signalled, rc.done_ns);
	close(fd);
	close(vgem);
}

/*
 * A static importer's attachment is pinned and cannot be revoked: a reset
 * waits until the importer lets go (here vgem, told by UNEXPORTED, closes
 * its PRIME import), and reports meanwhile the attachment it waits for.
 */
TEST_F(host, reset_waits_for_pinned)
{
	uint8_t ebuf[VHOST_VDMABUF_EVENT_MAX];
	struct vhost_vdmabuf_stats s;
	struct reset_call rc;
	uint64_t closed;
	uint8_t uuid[16];
	uint32_t handle;
	int vgem, fd;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	if (!vgem_import_pins(&self->v, self->imp, vgem, 963))
		SKIP(close(vgem); return, VGEM_NO_PIN);
	make_uuid(uuid, 962);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, uuid, BUF_BASE, 4 * PAGE, NULL));
	fd = import_buf(self->imp, uuid, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vgem_import(vgem, fd, &handle));
	close(fd);	/* vgem holds the dma-buf */
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(1, s.pinned_attachments);

	ASSERT_EQ(0, reset_start(&rc, self->v.fd));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_EXPORTED,
		  read_ievent(self->imp, ebuf, 1000));
	EXPECT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED,
		  read_ievent(self->imp, ebuf, 5000));
	usleep(300 * 1000);
	EXPECT_EQ(0, reset_done(&rc));	/* still waiting for vgem */
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.live_exports);
	EXPECT_EQ(1, s.host_dmabufs);
	EXPECT_EQ(1, s.pinned_attachments);
	closed = now_ns();
	EXPECT_EQ(0, vgem_close(vgem, handle));
	ASSERT_EQ(0, pthread_join(rc.thread, NULL));
	EXPECT_EQ(0, rc.ret);
	EXPECT_LE(closed, rc.done_ns);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.pinned_attachments);
	EXPECT_EQ(0, s.held_exports);
	EXPECT_EQ(0, s.pinned_pages);
	close(vgem);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * A VMM of its own: export, import, hand the dma-buf to the parent over
 * @sock, and once the parent says so, reset; exits 0 when the reset
 * returns.
 */
static void __attribute__((noreturn)) resetting_vmm(int sock)
{
	uint8_t uuid[16];
	struct vmm v;
	int imp, fd;
	char go;

	if (vmm_init(&v, NUM))
		_exit(2);
	make_uuid(uuid, 963);
	if (do_export(&v, uuid, BUF_BASE, 4 * PAGE, NULL) !=
	    VIRTIO_VDMABUF_S_OK)
		_exit(3);
	imp = get_importer(&v);
	fd = imp < 0 ? -1 : import_buf(imp, uuid, NULL);
	if (fd < 0 || send_fd(sock, fd))
		_exit(4);
	close(fd);
	if (read(sock, &go, 1) != 1)
		_exit(5);
	_exit(ioctl(v.fd, VHOST_VDMABUF_RESET_DEVICE) ? 6 : 0);
}

/* waitpid() for up to @timeout_ms; the pid, or 0 if still running. */
static pid_t wait_exit(pid_t pid, int *status, int timeout_ms)
{
	pid_t got;
	int i;

	for (i = 0; i <= timeout_ms / 50; i++) {
		got = waitpid(pid, status, WNOHANG);
		if (got)
			return got;
		usleep(50 * 1000);
	}
	return 0;
}

/*
 * A reset that waits for a pinned attachment can be killed: the VMM is
 * not stuck in the ioctl when its process must die.  The attachment is
 * another process's (vgem, here the test's), so the wait could be long.
 */
TEST_F(host, reset_wait_is_killable)
{
	int sv[2], vgem, fd, status = 0;
	uint32_t handle;
	pid_t pid, got;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	self->imp = get_importer(&self->v);
	ASSERT_LE(0, self->imp);
	if (!vgem_import_pins(&self->v, self->imp, vgem, 965))
		SKIP(close(vgem); return, VGEM_NO_PIN);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		resetting_vmm(sv[1]);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vgem_import(vgem, fd, &handle));
	close(fd);
	ASSERT_EQ(1, write(sv[0], "g", 1));

	/* The reset waits for vgem... */
	EXPECT_EQ(0, wait_exit(pid, &status, 500));
	/* ...and dies with its process. */
	EXPECT_EQ(0, kill(pid, SIGKILL));
	got = wait_exit(pid, &status, 5000);
	EXPECT_EQ(pid, got);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, vgem_close(vgem, handle));
	if (!got)
		waitpid(pid, &status, 0);
	close(sv[0]);
	close(vgem);
}

/*
 * A reset waiting for a fence can be killed too: a fence that never
 * signals must not leave the VMM unkillable.  vgem's fence signals only
 * when told or after its 10 s timeout; the import that added it is closed
 * again, so the reset waits for the fence alone, not for an attachment.
 */
TEST_F(host, reset_fence_wait_is_killable)
{
	struct drm_vgem_fence_attach attach = { .flags = VGEM_FENCE_WRITE };
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	struct drm_vgem_fence_signal signal = {};
	int sv[2], vgem, fd, status = 0;
	pid_t pid, got;

	vgem = open_vgem();
	if (vgem < 0)
		SKIP(return, "vgem is not loaded");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		resetting_vmm(sv[1]);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vgem_import(vgem, fd, &attach.handle));
	ASSERT_EQ(0, ioctl(vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach));
	ASSERT_EQ(0, vgem_close(vgem, attach.handle));
	ASSERT_EQ(1, write(sv[0], "g", 1));

	/* The reset waits for the fence on the dma-buf @fd holds... */
	EXPECT_EQ(0, wait_exit(pid, &status, 500));
	/* ...and dies with its process, before vgem's timeout... */
	EXPECT_EQ(0, kill(pid, SIGKILL));
	got = wait_exit(pid, &status, 5000);
	EXPECT_EQ(pid, got);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* ...which has not fired yet (else ETIMEDOUT): the kill ended it... */
	signal.fence = attach.out_fence;
	EXPECT_EQ(0, ioctl(vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, &signal));
	if (!got)
		waitpid(pid, &status, 0);
	/* ...after the revoke, which came first. */
	EXPECT_EQ(-1, ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	close(sv[0]);
	close(vgem);
}

/*
 * The per-device caps.  They need the module loaded with small ones, as
 * l1-run.sh does for a second pass ("host_vdmabuf -f limits" after
 * "insmod vhost_vdmabuf.ko max_total_mb=4 max_guest_events=16
 * max_exports=8"; held_exports skips without the last); the
 * first pass, at the defaults, leaves them out with -F limits.  No event
 * buffers are posted until a test posts them.
 */
#define LIMIT_TOTAL_MB		4
#define LIMIT_GUEST_EVENTS	16
#define LIMIT_EXPORTS		8

FIXTURE(limits) {
	struct vmm v;
	struct baseline base;
};

FIXTURE_SETUP(limits)
{
	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent (vhost_vdmabuf not loaded)");
	if (param("max_total_mb", 0) != LIMIT_TOTAL_MB ||
	    param("max_guest_events", 0) != LIMIT_GUEST_EVENTS)
		SKIP(return, "needs vhost_vdmabuf loaded with max_total_mb=%d max_guest_events=%d",
		     LIMIT_TOTAL_MB, LIMIT_GUEST_EVENTS);
	baseline_take(&self->base);
	ASSERT_EQ(0, vmm_init(&self->v, 0));
}

FIXTURE_TEARDOWN(limits)
{
	struct vhost_vdmabuf_stats s;

	if (self->v.fd >= 0 && !get_stats(&self->v, &s))
		EXPECT_EQ(0, s.live_exports);
	vmm_done(_metadata, &self->v, -1, &self->base);
}

/* Wait up to 5 s for the device to hold @n events for the guest. */
static int wait_guest_events(struct vmm *v, uint64_t n)
{
	struct vhost_vdmabuf_stats s;
	int i;

	for (i = 0; i < 500; i++) {
		if (get_stats(v, &s))
			return -1;
		if (s.guest_events == n)
			return 0;
		usleep(10000);
	}
	return -1;
}

/*
 * max_total_mb caps the bytes exported per device (LIMIT), and also the
 * pages pinned, which includes an unexported buffer a host importer still
 * holds (NOMEM): the guest's RELEASED waits for that importer too.
 */
TEST_F(limits, total_mb)
{
	const uint64_t cap = (uint64_t)LIMIT_TOTAL_MB << 20;
	struct virtio_vdmabuf_config cfg;
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	uint8_t a[16], b[16];
	int imp, buf;

	make_uuid(a, 800);
	make_uuid(b, 801);
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_VDMABUF_GET_CONFIG, &cfg));
	ASSERT_EQ(cap, cfg.max_total_size);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, a, BUF_BASE, cap, NULL));
	EXPECT_EQ(VIRTIO_VDMABUF_S_LIMIT,
		  do_export(&self->v, b, BUF_BASE + cap, PAGE, NULL));

	imp = get_importer(&self->v);
	ASSERT_LE(0, imp);
	buf = import_buf(imp, a, NULL);
	ASSERT_LE(0, buf);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, a));
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOMEM,
		  do_export(&self->v, b, BUF_BASE + cap, PAGE, NULL));
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.live_exports);
	EXPECT_EQ(cap / PAGE, s.pinned_pages);
	EXPECT_EQ(0, wait_guest_events(&self->v, 0));

	/* The last host user goes: RELEASED, and room again. */
	close(buf);
	EXPECT_EQ(0, wait_guest_events(&self->v, 1));
	post_events(&self->v, 4);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	EXPECT_EQ(0, memcmp(a, ev.uuid, 16));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, b, BUF_BASE + cap, PAGE, NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, b));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	EXPECT_EQ(0, memcmp(b, ev.uuid, 16));
	close(imp);
}

/*
 * With max_guest_events events waiting for the guest, PRESENT gets BUSY;
 * EXPORT and UNEXPORT still work, and every event queued past the cap
 * reaches the guest once it posts buffers, in order.
 */
TEST_F(limits, guest_events_busy)
{
	const unsigned int n = LIMIT_GUEST_EVENTS + 4;
	struct virtio_vdmabuf_event ev;
	uint8_t x[16], u[16];
	unsigned int i;

	make_uuid(x, 900);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, x, BUF_BASE, PAGE, NULL));
	for (i = 0; i < n; i++) {
		make_uuid(u, 901 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, u, BUF_BASE + PAGE, PAGE, NULL));
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, u));
	}
	ASSERT_EQ(0, wait_guest_events(&self->v, n));
	EXPECT_EQ(VIRTIO_VDMABUF_S_BUSY, do_present(&self->v, x, 1, 0));

	post_events(&self->v, NUM / 2);
	for (i = 0; i < n; i++) {
		make_uuid(u, 901 + i);
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		ASSERT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
		ASSERT_EQ(0, memcmp(u, ev.uuid, 16));
	}
	/* No importer: the frame is done at once. */
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_present(&self->v, x, 2, 0));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_FRAME_DONE, ev.type);
	EXPECT_EQ(2, ev.seq);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, x));
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	EXPECT_EQ(0, memcmp(x, ev.uuid, 16));
}

/*
 * Exports the guest unexported but host importers still hold are capped
 * at max_exports per device: past the cap, EXPORT is NOMEM before it pins
 * anything, until an importer lets one go.  Nothing leaks.
 */
TEST_F(limits, held_exports)
{
	struct virtio_vdmabuf_event ev;
	struct vhost_vdmabuf_stats s;
	struct pins p0, p1;
	int imp, bufs[LIMIT_EXPORTS];
	uint8_t u[16], x[16];
	int i;

	if (param("max_exports", 0) != LIMIT_EXPORTS)
		SKIP(return, "needs vhost_vdmabuf loaded with max_exports=%d",
		     LIMIT_EXPORTS);
	imp = get_importer(&self->v);
	ASSERT_LE(0, imp);
	for (i = 0; i < LIMIT_EXPORTS; i++) {
		make_uuid(u, 700 + i);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
			  do_export(&self->v, u, BUF_BASE + i * PAGE, PAGE,
				    NULL));
		bufs[i] = import_buf(imp, u, NULL);
		ASSERT_LE(0, bufs[i]);
		ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, u));
	}
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.live_exports);
	EXPECT_EQ(LIMIT_EXPORTS, s.held_exports);

	make_uuid(x, 799);
	/* From a quiet start: the held exports' pins alone held. */
	pins_held(&self->base.pins, &p0, LIMIT_EXPORTS);
	EXPECT_EQ(VIRTIO_VDMABUF_S_NOMEM,
		  do_export(&self->v, x, BUF_BASE + LIMIT_EXPORTS * PAGE, PAGE,
			    NULL));
	read_foll_pins(&p1.acquired, &p1.released);
	EXPECT_EQ(p0.acquired, p1.acquired);
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(LIMIT_EXPORTS, s.held_exports);
	EXPECT_EQ(LIMIT_EXPORTS, s.pinned_pages);

	/* One is let go: RELEASED, and room again. */
	close(bufs[0]);
	post_events(&self->v, NUM / 2);
	ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
	EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK,
		  do_export(&self->v, x, BUF_BASE + LIMIT_EXPORTS * PAGE, PAGE,
			    NULL));
	ASSERT_EQ(VIRTIO_VDMABUF_S_OK, do_unexport(&self->v, x));
	for (i = 1; i < LIMIT_EXPORTS; i++)
		close(bufs[i]);
	for (i = 0; i < LIMIT_EXPORTS; i++) {
		ASSERT_EQ(0, get_event(&self->v, &ev, 5000));
		EXPECT_EQ(VIRTIO_VDMABUF_EVT_RELEASED, ev.type);
	}
	ASSERT_EQ(0, get_stats(&self->v, &s));
	EXPECT_EQ(0, s.held_exports);
	close(imp);
}

TEST_HARNESS_MAIN
