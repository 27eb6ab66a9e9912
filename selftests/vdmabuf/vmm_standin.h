/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VMM stand-in for the programs that drive /dev/vhost-vdmabuf directly
 * (host_vdmabuf's tests, fuzz_host), like tools/virtio/: a memfd is the
 * "guest RAM", mapped here as two memory regions; the split rings live in
 * it and are driven by hand; kick and call are eventfds.  Requests are
 * built as a guest driver would; the host side is seen through an
 * importer fd, GET_STATS, /proc/self/status (VmPin, VmLck) and
 * /proc/vmstat (FOLL_PIN balance).
 *
 * Plain C with return codes, no kselftest harness: a caller decides what
 * a failure is.  Every function is static; a program uses what it needs.
 */
#ifndef VMM_STANDIN_H
#define VMM_STANDIN_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/vhost.h>
#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdmabuf_util.h"

/* Not every program uses every helper. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define DEV_PATH	"/dev/vhost-vdmabuf"
#define PARAMS		"/sys/module/vhost_vdmabuf/parameters/"

#define PAGE		4096ULL
#define REGION		(16ULL << 20)		/* two regions of guest RAM */
#define RAM_SIZE	(2 * REGION)
#define NUM		64			/* ring size of both queues */

/* Guest-physical layout */
#define REQ_RING	0x000000ULL
#define EV_RING		0x004000ULL
#define EV_BUFS		0x008000ULL		/* NUM x 32 bytes */
#define RESP		0x00a000ULL
#define REQ_BUF		0x010000ULL		/* up to BUF_BASE */
#define BUF_BASE	0x100000ULL		/* buffers the tests export */
#define DESC_OFF	0x0000
#define AVAIL_OFF	0x0400
#define USED_OFF	0x1000

#define EV_HDR		((uint32_t)sizeof(struct vhost_vdmabuf_event))

struct vmm {
	int fd;
	int memfd;
	uint8_t *ram[2];
	int kick[2];
	int call[2];
	uint16_t req_avail;
	uint16_t ev_avail;
	uint16_t ev_used;
	bool no_features;	/* vmm_setup() skips VHOST_SET_FEATURES */
	const char *ram_path;	/* guest RAM in this file, not a memfd */
	const char *step;	/* the set-up's last call, which failed if any */
};

static void *gpa(struct vmm *v, uint64_t a)
{
	return a < REGION ? v->ram[0] + a : v->ram[1] + (a - REGION);
}

static struct vring_desc *ring_desc(struct vmm *v, int q)
{
	return gpa(v, (q ? EV_RING : REQ_RING) + DESC_OFF);
}

static struct vring_avail *ring_avail(struct vmm *v, int q)
{
	return gpa(v, (q ? EV_RING : REQ_RING) + AVAIL_OFF);
}

static struct vring_used *ring_used(struct vmm *v, int q)
{
	return gpa(v, (q ? EV_RING : REQ_RING) + USED_OFF);
}

static unsigned int param(const char *name, unsigned int def)
{
	char path[128], buf[32];
	unsigned int val = def;
	int fd, n;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		val = strtoul(buf, NULL, 0);
	}
	close(fd);
	return val;
}

static void kick(struct vmm *v, int q)
{
	uint64_t one = 1;

	if (write(v->kick[q], &one, sizeof(one)) != sizeof(one))
		perror("kick");
}

/* Post @n event buffers (device-writable, 32 bytes each). */
static void post_events(struct vmm *v, unsigned int n)
{
	struct vring_desc *d = ring_desc(v, 1);
	struct vring_avail *a = ring_avail(v, 1);
	unsigned int i, slot;

	for (i = 0; i < n; i++) {
		slot = v->ev_avail % NUM;
		d[slot].addr = EV_BUFS + slot * 32;
		d[slot].len = 32;
		d[slot].flags = VRING_DESC_F_WRITE;
		d[slot].next = 0;
		a->ring[slot] = slot;
		__sync_synchronize();
		a->idx = ++v->ev_avail;
	}
	__sync_synchronize();
	kick(v, 1);
}

/* The device writes the used index behind our back. */
static uint16_t used_idx(struct vring_used *u)
{
	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

static int wait_call(struct vmm *v, int q, int timeout_ms)
{
	struct pollfd pfd = { .fd = v->call[q], .events = POLLIN };
	uint64_t cnt;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret > 0 && read(v->call[q], &cnt, sizeof(cnt)) < 0)
		return -1;
	return ret;
}

/* Next guest event; 0 on success, -1 if none arrives in @timeout_ms. */
static int get_event(struct vmm *v, struct virtio_vdmabuf_event *ev,
		     int timeout_ms)
{
	struct vring_used *u = ring_used(v, 1);
	struct vring_used_elem e;

	while (used_idx(u) == v->ev_used) {
		if (wait_call(v, 1, timeout_ms) <= 0 &&
		    used_idx(u) == v->ev_used)
			return -1;
	}
	__sync_synchronize();
	e = u->ring[v->ev_used % NUM];
	v->ev_used++;
	if (e.len != sizeof(*ev))
		return -2;
	memcpy(ev, gpa(v, EV_BUFS + e.id * 32), sizeof(*ev));
	post_events(v, 1);
	return 0;
}

/*
 * Queue one request and kick: @len readable bytes, then @in_len writable
 * ones.  submit_wait() waits for its answer.
 */
static void submit_post(struct vmm *v, const void *req, size_t len,
			uint32_t in_len)
{
	struct vring_desc *d = ring_desc(v, 0);
	struct vring_avail *a = ring_avail(v, 0);
	struct virtio_vdmabuf_resp *resp = gpa(v, RESP);
	unsigned int n = 0;

	memcpy(gpa(v, REQ_BUF), req, len);
	memset(resp, 0xff, sizeof(*resp));
	if (len) {
		d[0].addr = REQ_BUF;
		d[0].len = len;
		d[0].flags = in_len ? VRING_DESC_F_NEXT : 0;
		d[0].next = 1;
		n++;
	}
	if (in_len) {
		d[n].addr = RESP;
		d[n].len = in_len;
		d[n].flags = VRING_DESC_F_WRITE;
		d[n].next = 0;
	}
	a->ring[v->req_avail % NUM] = 0;
	__sync_synchronize();
	a->idx = ++v->req_avail;
	__sync_synchronize();
	kick(v, 0);
}

/*
 * The status of the request submit_post() queued, or -1 if it is not
 * answered within @timeout_ms; *@used gets the used length.
 */
static int submit_wait(struct vmm *v, int timeout_ms, uint32_t *used)
{
	struct vring_used *u = ring_used(v, 0);
	struct virtio_vdmabuf_resp *resp = gpa(v, RESP);
	uint32_t dummy;

	if (!used)
		used = &dummy;
	while (used_idx(u) != v->req_avail) {
		if (wait_call(v, 0, timeout_ms) <= 0 &&
		    used_idx(u) != v->req_avail)
			return -1;
	}
	__sync_synchronize();
	*used = u->ring[(v->req_avail - 1) % NUM].len;
	return resp->status;
}

/* Send one request; its status, or -1 on timeout. */
static int submit(struct vmm *v, const void *req, size_t len,
		  uint32_t in_len, uint32_t *used)
{
	submit_post(v, req, len, in_len);
	return submit_wait(v, 10000, used);
}

/*
 * The vhost half of the set-up, on guest RAM already mapped: owner,
 * features, memory table, the rings at their guest addresses (with kick
 * and call eventfds, made the first time), running.  Done again after
 * VHOST_RESET_OWNER, whose caller clears the rings first.
 */
static int vmm_ioctl(struct vmm *v, const char *name, unsigned long req,
		     void *arg)
{
	v->step = name;
	return ioctl(v->fd, req, arg);
}

#define VMM_IOCTL(v, req, arg)	vmm_ioctl(v, #req, req, arg)

static int vmm_vhost_setup(struct vmm *v)
{
	struct vhost_memory *mem;
	uint64_t features;
	unsigned int q;
	uint32_t one = 1;

	if (VMM_IOCTL(v, VHOST_SET_OWNER, NULL))
		return -1;
	if (VMM_IOCTL(v, VHOST_GET_FEATURES, &features))
		return -1;
	features &= (1ULL << VIRTIO_F_VERSION_1) |
		    (1ULL << VIRTIO_VDMABUF_F_PRESENT);
	if (!v->no_features && VMM_IOCTL(v, VHOST_SET_FEATURES, &features))
		return -1;

	mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	mem->nregions = 2;
	for (q = 0; q < 2; q++) {
		mem->regions[q].guest_phys_addr = q * REGION;
		mem->regions[q].memory_size = REGION;
		mem->regions[q].userspace_addr = (uintptr_t)v->ram[q];
	}
	if (VMM_IOCTL(v, VHOST_SET_MEM_TABLE, mem)) {
		free(mem);
		return -1;
	}
	free(mem);

	for (q = 0; q < 2; q++) {
		struct vhost_vring_state num = { .index = q, .num = NUM };
		struct vhost_vring_state base = { .index = q, .num = 0 };
		struct vhost_vring_addr addr = {
			.index = q,
			.desc_user_addr = (uintptr_t)ring_desc(v, q),
			.avail_user_addr = (uintptr_t)ring_avail(v, q),
			.used_user_addr = (uintptr_t)ring_used(v, q),
		};
		struct vhost_vring_file f = { .index = q };

		if (v->kick[q] <= 0)
			v->kick[q] = eventfd(0, EFD_CLOEXEC);
		if (v->call[q] <= 0)
			v->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (VMM_IOCTL(v, VHOST_SET_VRING_NUM, &num) ||
		    VMM_IOCTL(v, VHOST_SET_VRING_BASE, &base) ||
		    VMM_IOCTL(v, VHOST_SET_VRING_ADDR, &addr))
			return -1;
		f.fd = v->kick[q];
		if (VMM_IOCTL(v, VHOST_SET_VRING_KICK, &f))
			return -1;
		f.fd = v->call[q];
		if (VMM_IOCTL(v, VHOST_SET_VRING_CALL, &f))
			return -1;
	}
	if (VMM_IOCTL(v, VHOST_VDMABUF_SET_RUNNING, &one))
		return -1;
	return 0;
}

/*
 * The VMM's set-up on its open device @v->fd, as the current user.  The
 * rings' pages are touched here, as a guest's are: the device's first
 * writes to them then fault in no page.
 */
static int vmm_setup(struct vmm *v, unsigned int nr_events)
{
	v->step = "guest RAM";
	v->memfd = v->ram_path ?
		   open(v->ram_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) :
		   memfd_create("guest-ram", MFD_CLOEXEC);
	if (v->memfd < 0 || ftruncate(v->memfd, RAM_SIZE))
		return -1;
	/* Two separate mappings: guest-adjacent, not host-adjacent. */
	v->ram[1] = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED,
			 v->memfd, REGION);
	v->ram[0] = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED,
			 v->memfd, 0);
	if (v->ram[0] == MAP_FAILED || v->ram[1] == MAP_FAILED)
		return -1;
	memset(gpa(v, REQ_RING), 0, EV_BUFS - REQ_RING);
	if (vmm_vhost_setup(v))
		return -1;
	if (nr_events)
		post_events(v, nr_events);
	return 0;
}

static int vmm_init(struct vmm *v, unsigned int nr_events)
{
	memset(v, 0, sizeof(*v));
	v->fd = open(DEV_PATH, O_RDWR);
	if (v->fd < 0)
		return -1;
	return vmm_setup(v, nr_events);
}

static void vmm_close_dev(struct vmm *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static void vmm_fini(struct vmm *v)
{
	int q;

	vmm_close_dev(v);
	for (q = 0; q < 2; q++) {
		if (v->kick[q] > 0)
			close(v->kick[q]);
		if (v->call[q] > 0)
			close(v->call[q]);
		if (v->ram[q] && v->ram[q] != MAP_FAILED)
			munmap(v->ram[q], REGION);
		v->kick[q] = v->call[q] = 0;
		v->ram[q] = NULL;
	}
	if (v->memfd > 0)
		close(v->memfd);
	v->memfd = 0;
}

static void make_uuid(uint8_t uuid[16], unsigned int n)
{
	memset(uuid, 0, 16);
	uuid[0] = 0x5a;
	uuid[6] = 0x40;
	memcpy(uuid + 8, &n, sizeof(n));
}

/* Build an EXPORT request in @buf; returns its length. */
static size_t mk_export(uint8_t *buf, const uint8_t uuid[16], uint64_t size,
			const struct virtio_vdmabuf_range *r, uint32_t nr,
			const void *meta, uint32_t meta_len)
{
	struct virtio_vdmabuf_export_req *req = (void *)buf;

	memset(req, 0, sizeof(*req));
	req->hdr.type = VIRTIO_VDMABUF_REQ_EXPORT;
	memcpy(req->hdr.uuid, uuid, 16);
	req->size = size;
	req->nr_ranges = nr;
	req->meta_len = meta_len;
	memcpy(buf + sizeof(*req), r, nr * sizeof(*r));
	if (meta_len)
		memcpy(buf + sizeof(*req) + nr * sizeof(*r), meta, meta_len);
	return sizeof(*req) + nr * sizeof(*r) + meta_len;
}

static int do_export(struct vmm *v, const uint8_t uuid[16], uint64_t addr,
		     uint64_t len, const char *meta)
{
	struct virtio_vdmabuf_range r = { .addr = addr, .len = len };
	uint8_t buf[256];
	size_t n;

	n = mk_export(buf, uuid, len, &r, 1, meta, meta ? strlen(meta) : 0);
	return submit(v, buf, n, sizeof(struct virtio_vdmabuf_resp), NULL);
}

static int do_unexport(struct vmm *v, const uint8_t uuid[16])
{
	struct virtio_vdmabuf_req_hdr hdr = {
		.type = VIRTIO_VDMABUF_REQ_UNEXPORT,
	};

	memcpy(hdr.uuid, uuid, 16);
	return submit(v, &hdr, sizeof(hdr), 8, NULL);
}

static int do_present(struct vmm *v, const uint8_t uuid[16], uint64_t seq,
		      uint32_t nr_rects)
{
	uint8_t buf[sizeof(struct virtio_vdmabuf_present_req) +
		    VIRTIO_VDMABUF_MAX_RECTS * 16] = {};
	struct virtio_vdmabuf_present_req *req = (void *)buf;
	struct virtio_vdmabuf_rect *r = (void *)(req + 1);
	uint32_t i;

	req->hdr.type = VIRTIO_VDMABUF_REQ_PRESENT;
	memcpy(req->hdr.uuid, uuid, 16);
	req->seq = seq;
	req->nr_rects = nr_rects;
	for (i = 0; i < nr_rects && i < VIRTIO_VDMABUF_MAX_RECTS; i++) {
		r[i].x = i;
		r[i].y = 2 * i;
		r[i].width = 10 + i;
		r[i].height = 20 + i;
	}
	return submit(v, buf, sizeof(*req) + nr_rects * 16, 8, NULL);
}

static int get_stats(struct vmm *v, struct vhost_vdmabuf_stats *s)
{
	return ioctl(v->fd, VHOST_VDMABUF_GET_STATS, s);
}

static int get_importer(struct vmm *v)
{
	struct vhost_vdmabuf_importer arg = {};

	if (ioctl(v->fd, VHOST_VDMABUF_GET_IMPORTER, &arg))
		return -1;
	return arg.fd;
}

static int import_buf(int imp, const uint8_t uuid[16], uint64_t *size)
{
	struct vhost_vdmabuf_import arg = {};

	memcpy(arg.uuid, uuid, 16);
	if (ioctl(imp, VHOST_VDMABUF_IMPORT, &arg))
		return -1;
	if (size)
		*size = arg.size;
	return arg.fd;
}

/* VHOST_VDMABUF_FRAMES: 0, or -1 with errno. */
static int frames(int imp, const uint8_t uuid[16], uint32_t op)
{
	struct vhost_vdmabuf_frames arg = { .op = op };

	memcpy(arg.uuid, uuid, 16);
	return ioctl(imp, VHOST_VDMABUF_FRAMES, &arg);
}

/* Read one importer record into @buf (at least VHOST_VDMABUF_EVENT_MAX). */
static int read_ievent(int imp, void *buf, int timeout_ms)
{
	struct pollfd pfd = { .fd = imp, .events = POLLIN };
	struct vhost_vdmabuf_event *ev = buf;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = read(imp, buf, EV_HDR);
	if (n == EV_HDR)
		return ev->type;
	/* A header-sized buffer is too small for a record with payload. */
	if (n < 0 && errno == EINVAL) {
		n = read(imp, buf, VHOST_VDMABUF_EVENT_MAX);
		if (n > 0 && n == ev->len)
			return ev->type;
	}
	return -1;
}

struct pins {
	long long acquired;
	long long released;
};

/*
 * How long pins_take() and pins_held() wait for pins in flight
 * (foll_pins_settle()): a pin of a test's own never released still fails
 * its check, an unrelated release landing mid-test no longer does.
 */
#define PINS_SETTLE_MS	2000

/*
 * The pin counters, taken once no one's pins are in flight.  On a machine
 * where someone holds pins throughout (a VFIO guest, io_uring's fixed
 * buffers) that never comes: the baseline is then the last reading, said
 * so, and a release of a pin in flight at it would fail the check.
 */
static void pins_take(struct pins *p)
{
	if (!foll_pins_settle(&p->acquired, &p->released, 0, PINS_SETTLE_MS))
		fprintf(stderr,
			"# pins: %lld held machine-wide after %d ms; the baseline taken as it is\n",
			p->acquired - p->released, PINS_SETTLE_MS);
}

/*
 * The pin counters in @p once exactly @n more are held than @before found
 * held (the caller compares them).
 */
static void pins_held(const struct pins *before, struct pins *p, long long n)
{
	foll_pins_settle(&p->acquired, &p->released,
			 before->acquired - before->released + n,
			 PINS_SETTLE_MS);
}

/* The pin counters in @p once as many were released since @before as taken. */
static void pins_since(const struct pins *before, struct pins *p)
{
	pins_held(before, p, 0);
}

static void fill(struct vmm *v, uint64_t addr, uint64_t len, uint8_t seed)
{
	uint64_t i;

	for (i = 0; i < len; i += 64)
		*(uint8_t *)gpa(v, addr + i) = (uint8_t)(seed + i / 64);
}

/*
 * What a test must leave as it found: taken before the VMM opens the
 * device, checked when it closes it.
 */
struct baseline {
	struct pins pins;
	long vmlck;
	long vmpin;
};

static void baseline_take(struct baseline *b)
{
	pins_take(&b->pins);
	b->vmlck = vmlck_kb(0);
	b->vmpin = vmpin_kb(0);
}

static sigjmp_buf sigbus_env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(sigbus_env, 1);
}

/* Write @val at @p: 0, or -1 if writing it raises SIGBUS. */
static int poke(volatile uint8_t *p, uint8_t val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile int ret = -1;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return -2;
	if (!sigsetjmp(sigbus_env, 1)) {
		*p = val;
		ret = 0;
	}
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/* The byte at @p, or -1 if reading it raises SIGBUS. */
static int peek(const volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile int val = -1;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return -2;
	if (!sigsetjmp(sigbus_env, 1))
		val = *p;
	sigaction(SIGBUS, &old, NULL);
	return val;
}

/*
 * After the VMM closed the device and every host user let go: 0 if every
 * page pin taken since @b was released and our pinned and locked memory
 * are back where they were; else -1, with what differs in @why.
 */
static int baseline_check(const struct baseline *b, char *why, size_t len)
{
	struct pins p;
	long vmlck, vmpin;

	pins_since(&b->pins, &p);
	vmlck = vmlck_kb(0);
	vmpin = vmpin_kb(0);
	if (p.acquired - b->pins.acquired != p.released - b->pins.released) {
		snprintf(why, len, "nr_foll_pin: %lld acquired, %lld released",
			 p.acquired - b->pins.acquired,
			 p.released - b->pins.released);
		return -1;
	}
	if (vmlck != b->vmlck || vmpin != b->vmpin) {
		snprintf(why, len, "VmLck %ld kB (was %ld), VmPin %ld kB (was %ld)",
			 vmlck, b->vmlck, vmpin, b->vmpin);
		return -1;
	}
	return 0;
}

#pragma GCC diagnostic pop

#endif /* VMM_STANDIN_H */
