// SPDX-License-Identifier: GPL-2.0
/*
 * bench_guest: the guest (L2) half of the vdmabuf benchmark.
 *
 * Built on libvdmabuf.  Needs importer_bench on the host (L1), on the device's importer socket
 * and on vsock port BENCH_VSOCK_PORT (bench_proto.h).  For 1920x1080,
 * 3840x2160 and 7680x4320 XRGB8888 frames it measures, side by side:
 *
 *  - zero copy, first use: ALLOC of a new buffer, timed on its own; then
 *    one buffer, the first 8 bytes of each 4 KiB page stamped (untimed),
 *    goes through this cycle once untimed (a warm-up: under TCG the first
 *    run of a code path includes translating it) and then again and
 *    again, timed: EXPORT (the device translates and pins the pages and
 *    tells the host; each EXPORT is a new UUID), PRESENT (the host
 *    imported the buffer on EXPORTED; on PRESENTED it reads those 8 bytes
 *    of every page through its own mapping, checks them and acks),
 *    FRAME_DONE, UNEXPORT (the host closes its import), RELEASED.
 *    Reported: each step, and the whole cycle from the start of EXPORT to
 *    RELEASED;
 *  - steady state: PRESENT of a buffer exported once, until FRAME_DONE
 *    (the host acks at once; nothing is pinned or mapped per frame);
 *  - the floor, interleaved with the steady state so that both see the
 *    same load: a one-byte round trip over virtio-vsock (the guest sends
 *    a byte, a host process echoes it);
 *  - the copy alternative: the same frame bytes (the steady-state buffer,
 *    written in full) sent over an AF_VSOCK stream to the host, which
 *    reads them all and answers one byte.  The first frame is untimed and
 *    checked word by word before the answer, the last after it;
 *  - with -p DEVICE, FRAME_DONE pacing without and with QEMU's display:
 *    one 1920x1080 XRGB8888 buffer on each device, exported with image
 *    metadata for output 0, presented frame after frame, each waiting for
 *    its FRAME_DONE.  The device (-d) must have no display, DEVICE (the
 *    host's display=on) at least one output: there QEMU imports the
 *    buffer too and owes every frame.  Runs of frames alternate between
 *    the two, A B then B A, so that a drift in the machine's load weighs
 *    on both alike.
 *
 * Each measurement repeats until its count or its time budget runs out
 * (at least BENCH_MIN_ITERS times) and reports median, min, max and mean.
 *
 * usage: bench_guest [-z CYCLES] [-s PRESENTS] [-c FRAMES] [-b BUDGET_S]
 *	  [-d DEVICE] [-p DISPLAY_DEVICE [-r RUNS] [-f FRAMES_PER_RUN]]
 *
 * Defaults: 5 cycles, 200 PRESENTs, 5 copied frames, a budget of 20 s
 * per measurement and size; pacing: 10 runs of 30 frames per device, a
 * budget of twice 20 s.
 *
 * Output: TAP on stdout; every number as "# bench KEY VALUE", every
 * timing as "# bench KEY N MEDIAN MIN MAX MEAN" (ms), collected by
 * scripts/testbed/bench-report.sh.  Nothing about time
 * is asserted.  Exit: 0 if everything arrived intact and every FRAME_DONE
 * and RELEASED came, 1 otherwise, 2 on bad usage.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <linux/dma-buf.h>
#include <linux/vm_sockets.h>

#include <vdmabuf/vdmabuf.h>

#include "bench_proto.h"
#include "example_common.h"

#define EVENT_TIMEOUT_MS	120000	/* nested TCG, an 8K import */
#define CONNECT_TIMEOUT_MS	60000
#define BUSY_RETRIES		100
#define BENCH_MIN_ITERS		3
#define EXPORT_HDR_BYTES	40	/* struct virtio_vdmabuf_export_req */
#define RANGE_BYTES		16	/* struct virtio_vdmabuf_range */
#define PFN_BYTES		8	/* one entry of a flat PFN list */
#define VSOCK_BUF_BYTES		(4ULL << 20)
#define GUEST_PREFIX		"# bench "

struct bench {
	struct vdmabuf_dev *dev;
	int tap_n;
	int tap_failed;
	uint64_t unexpected;
	unsigned int budget_s;
	uint64_t seq;
	uint32_t rmin[BENCH_NR_SIZES];	/* fewest ranges of an export */
	uint32_t rmax[BENCH_NR_SIZES];	/* most; 0: no export yet */
};

static void __attribute__((format(printf, 3, 4)))
tap(struct bench *b, int ok, const char *fmt, ...)
{
	va_list ap;

	b->tap_n++;
	if (!ok)
		b->tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", b->tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void __attribute__((format(printf, 1, 2)))
result(const char *fmt, ...)
{
	va_list ap;

	fputs(GUEST_PREFIX, stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Another round?  Until @max, or the budget since @t0 is gone. */
static int more(struct bench *b, unsigned int done, unsigned int max,
		uint64_t t0)
{
	if (done >= max)
		return 0;
	if (done < BENCH_MIN_ITERS)
		return 1;
	return now_ns() - t0 < b->budget_s * 1000000000ULL;
}

/* ---------------------------------------------------------------------- */
/* The device                                                             */
/* ---------------------------------------------------------------------- */

/* Read exactly one event, waiting up to @timeout_ms.  0 or -errno. */
static int next_event(struct vdmabuf_dev *dev, struct vdmabuf_event *ev,
		      int timeout_ms)
{
	int ret = vdmabuf_dev_next_event(dev, ev, timeout_ms);

	return ret == -EAGAIN ? -ETIMEDOUT : ret;
}

/*
 * Wait on @dev for @type about @uuid (and @seq for FRAME_DONE); others
 * count as unexpected.  *@flags gets the event's flags.  0 or -errno.
 */
static int wait_on(struct bench *b, struct vdmabuf_dev *dev, uint32_t type,
		   const struct vdmabuf_uuid *uuid, uint64_t seq,
		   uint32_t *flags)
{
	struct vdmabuf_event ev;
	struct vdmabuf_uuid evu;
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	for (;;) {
		ret = next_event(dev, &ev, EVENT_TIMEOUT_MS);
		if (ret) {
			fprintf(stderr, "bench_guest: waiting for event %u of %s: %s\n",
				type, vdmabuf_uuid_format(uuid, us),
				strerror(-ret));
			return ret;
		}
		if (ev.type == type && !memcmp(ev.uuid, uuid->b, 16) &&
		    (type != VDMABUF_EVENT_FRAME_DONE || ev.seq == seq)) {
			if (flags)
				*flags = ev.flags;
			return 0;
		}
		memcpy(evu.b, ev.uuid, sizeof(evu.b));
		fprintf(stderr, "bench_guest: unexpected event %u seq %llu for %s\n",
			ev.type, (unsigned long long)ev.seq,
			vdmabuf_uuid_format(&evu, us));
		b->unexpected++;
	}
}

/* wait_on() the benchmark's own device */
static int wait_for(struct bench *b, uint32_t type,
		    const struct vdmabuf_uuid *uuid, uint64_t seq,
		    uint32_t *flags)
{
	return wait_on(b, b->dev, type, uuid, seq, flags);
}

/*
 * After a call that may answer EBUSY/ENOBUFS for a while: 1 when it
 * should be tried again (after a pause), 0 when @ret is its result; then
 * a failure is reported as @what's.
 */
static int busy_retry(int ret, int *tries, const char *what)
{
	if ((ret == -EBUSY || ret == -ENOBUFS) && ++*tries < BUSY_RETRIES) {
		usleep(10000);
		return 1;
	}
	if (ret < 0)
		fprintf(stderr, "bench_guest: %s: %s\n", what, strerror(-ret));
	return 0;
}

/* A mapped ALLOC buffer, and the device it is shared on. */
struct gbuf {
	struct vdmabuf_dev *dev;
	int fd;
	uint64_t *map;
	uint64_t size;
	struct vdmabuf_uuid uuid;
	uint32_t nr_ranges;
};

/* Allocate @g on @dev, for sharing there. */
static int buf_alloc_on(struct vdmabuf_dev *dev, struct gbuf *g,
			uint64_t size)
{
	int ret, tries = 0;

	g->dev = dev;
	g->fd = -1;
	g->map = NULL;
	g->size = size;
	do {
		ret = vdmabuf_dev_alloc(dev, size);
	} while (busy_retry(ret, &tries, "vdmabuf_dev_alloc"));
	if (ret < 0)
		return ret;
	g->fd = ret;
	return 0;
}

static int buf_alloc(struct bench *b, struct gbuf *g, uint64_t size)
{
	return buf_alloc_on(b->dev, g, size);
}

static int buf_map(struct gbuf *g)
{
	g->map = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->fd, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		fprintf(stderr, "bench_guest: mmap %llu bytes: %s\n",
			(unsigned long long)g->size, strerror(errno));
		return -errno;
	}
	return 0;
}

static void buf_free(struct gbuf *g)
{
	if (g->map)
		munmap(g->map, g->size);
	if (g->fd >= 0)
		close(g->fd);
	g->map = NULL;
	g->fd = -1;
}

/* Write bench_word() into the first word of every page, or every word. */
static int buf_fill(struct gbuf *g, uint64_t seed, int every_word)
{
	uint64_t w, words = g->size / 8;
	uint64_t step = every_word ? 1 : BENCH_PAGE / 8;
	int ret;

	ret = vdmabuf_dmabuf_sync(g->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	if (ret)
		return ret;
	for (w = 0; w < words; w += step)
		g->map[w] = htole64(bench_word(seed, w));
	return vdmabuf_dmabuf_sync(g->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

static int buf_export(struct gbuf *g, uint32_t role, unsigned int si,
		      uint32_t iter, uint64_t seed)
{
	struct bench_meta meta = {
		.magic = htole32(BENCH_META_MAGIC),
		.role = htole32(role),
		.size_idx = htole32(si),
		.iter = htole32(iter),
		.width = htole32(bench_sizes[si].width),
		.height = htole32(bench_sizes[si].height),
		.stride = htole32(bench_sizes[si].width * 4),
		.fourcc = htole32(DEMO_FOURCC_XRGB8888),
		.seed = htole64(seed),
	};
	struct vdmabuf_exported ex;
	int ret, tries = 0;

	do {
		ret = vdmabuf_dev_export(g->dev, g->fd, &meta, sizeof(meta),
					 &ex);
	} while (busy_retry(ret, &tries, "vdmabuf_dev_export"));
	if (ret)
		return ret;
	if (ex.size != g->size) {
		fprintf(stderr, "bench_guest: EXPORT size %llu, buffer %llu\n",
			(unsigned long long)ex.size,
			(unsigned long long)g->size);
		return -EPROTO;
	}
	g->uuid = ex.uuid;
	g->nr_ranges = ex.nr_ranges;
	return 0;
}

static int buf_present(struct gbuf *g, uint64_t seq)
{
	int ret, tries = 0;

	do {
		ret = vdmabuf_dev_present(g->dev, &g->uuid, seq, NULL, 0);
	} while (busy_retry(ret, &tries, "vdmabuf_dev_present"));
	return ret;
}

static int buf_unexport(struct gbuf *g)
{
	int ret, tries = 0;

	do {
		ret = vdmabuf_dev_unexport(g->dev, &g->uuid);
	} while (busy_retry(ret, &tries, "vdmabuf_dev_unexport"));
	return ret;
}

static uint64_t new_seed(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = now_ns();
	return s;
}

/* ---------------------------------------------------------------------- */
/* Zero copy, first use                                                   */
/* ---------------------------------------------------------------------- */

static void note_ranges(struct bench *b, unsigned int si, uint32_t nr)
{
	if (!b->rmax[si] || nr < b->rmin[si])
		b->rmin[si] = nr;
	if (nr > b->rmax[si])
		b->rmax[si] = nr;
}

/* ALLOC alone, closed at once: what a new buffer costs the guest. */
static void bench_alloc(struct bench *b, unsigned int si, unsigned int max)
{
	const char *name = bench_sizes[si].name;
	struct bench_samples s;
	uint64_t t0, t_start = now_ns();
	unsigned int done = 0;
	struct gbuf g;
	int ret;
	char key[64];

	ret = bench_samples_init(&s, max);
	while (!ret && more(b, done, max, t_start)) {
		t0 = now_ns();
		ret = buf_alloc(b, &g, bench_bytes(si));
		bench_samples_add(&s, now_ns() - t0);
		buf_free(&g);
		if (!ret)
			done++;
	}
	tap(b, !ret && done, "%s: %u ALLOCs of a new buffer", name, done);
	snprintf(key, sizeof(key), "zc.%s.alloc_ms", name);
	bench_samples_report(&s, GUEST_PREFIX, key);
	bench_samples_free(&s);
}

enum { ZC_EXPORT, ZC_TO_DONE, ZC_UNEXPORT, ZC_TO_RELEASED, ZC_CYCLE, ZC_NR };
static const char *const zc_keys[ZC_NR] = {
	"export_ms", "export_to_frame_done_ms", "unexport_ms",
	"unexport_to_released_ms", "cycle_ms",
};

/*
 * One first-use cycle of @g: EXPORT, PRESENT, FRAME_DONE, UNEXPORT,
 * RELEASED.  Fills @t[] (ns).  0 or -errno.
 */
static int zc_cycle(struct bench *b, struct gbuf *g, unsigned int si,
		    uint32_t iter, uint64_t seed, uint64_t *t)
{
	uint64_t t0, t1, t2, t3, t4, seq = ++b->seq;
	uint32_t flags = 0;
	int ret, exported = 0;

	t0 = now_ns();
	ret = buf_export(g, BENCH_R_ZC, si, iter, seed);
	t1 = now_ns();
	if (ret)
		return ret;
	exported = 1;
	note_ranges(b, si, g->nr_ranges);
	ret = buf_present(g, seq);
	if (!ret)
		ret = wait_for(b, VDMABUF_EVENT_FRAME_DONE, &g->uuid, seq, &flags);
	t2 = now_ns();
	if (ret)
		goto out;
	if (flags & VDMABUF_EVENT_F_REPLACED) {
		fprintf(stderr, "bench_guest: frame %llu was replaced\n",
			(unsigned long long)seq);
		ret = -EPROTO;
		goto out;
	}
	exported = 0;
	ret = buf_unexport(g);
	t3 = now_ns();
	if (ret)
		return ret;
	ret = wait_for(b, VDMABUF_EVENT_RELEASED, &g->uuid, 0, NULL);
	t4 = now_ns();
	if (ret)
		return ret;
	t[ZC_EXPORT] = t1 - t0;
	t[ZC_TO_DONE] = t2 - t0;
	t[ZC_UNEXPORT] = t3 - t2;
	t[ZC_TO_RELEASED] = t4 - t2;
	t[ZC_CYCLE] = t4 - t0;
out:
	if (exported && !buf_unexport(g))
		wait_for(b, VDMABUF_EVENT_RELEASED, &g->uuid, 0, NULL);
	return ret;
}

/*
 * ALLOC timed on its own, then one buffer, its pages stamped, shared for
 * the first time once untimed and then up to @max times: every EXPORT is
 * new to the device (a new UUID, pages translated and pinned again, a new
 * host dma-buf).
 */
static void bench_zc(struct bench *b, unsigned int si, unsigned int max)
{
	const char *name = bench_sizes[si].name;
	struct bench_samples s[ZC_NR];
	uint64_t t[ZC_NR], t_start, seed = new_seed();
	unsigned int i, done = 0;
	struct gbuf g = { .fd = -1 };
	int ret = 0;
	char key[64];

	bench_alloc(b, si, max);
	for (i = 0; i < ZC_NR; i++)
		if (bench_samples_init(&s[i], max))
			ret = -ENOMEM;	/* s[i] is empty, freeing it is fine */
	if (!ret)
		ret = buf_alloc(b, &g, bench_bytes(si));
	if (!ret) {
		ret = buf_map(&g);
		if (!ret)
			ret = buf_fill(&g, seed, 0);
		if (g.map)
			munmap(g.map, g.size);
		g.map = NULL;
	}
	/* Untimed: under TCG the first run of a code path translates it. */
	if (!ret) {
		ret = zc_cycle(b, &g, si, 0, seed, t);
		if (!ret)
			result("zc.%s.warmup_cycle_ms %.3f", name,
			       t[ZC_CYCLE] / 1e6);
	}
	t_start = now_ns();
	while (!ret && more(b, done, max, t_start)) {
		ret = zc_cycle(b, &g, si, done + 1, seed, t);
		if (ret)
			break;
		for (i = 0; i < ZC_NR; i++)
			bench_samples_add(&s[i], t[i]);
		done++;
	}
	buf_free(&g);
	tap(b, !ret && done,
	    "%s: %u zero-copy first-use cycles after a warm-up, each got FRAME_DONE and RELEASED",
	    name, done);
	for (i = 0; i < ZC_NR; i++) {
		snprintf(key, sizeof(key), "zc.%s.%s", name, zc_keys[i]);
		bench_samples_report(&s[i], GUEST_PREFIX, key);
		bench_samples_free(&s[i]);
	}
}

/* ---------------------------------------------------------------------- */
/* vsock: the copy alternative and the floor                              */
/* ---------------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += n;
		len -= n;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t len)
{
	char *c = p;

	while (len) {
		ssize_t n = read(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ECONNRESET;
		c += n;
		len -= n;
	}
	return 0;
}

/* Connect to the host's listener and say hello.  fd or -errno. */
static int vs_connect(const struct bench_hello *h)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_HOST,
		.svm_port = BENCH_VSOCK_PORT,
	};
	uint64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
	uint64_t bufsz = VSOCK_BUF_BYTES;
	int fd, err;

	for (;;) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			perror("bench_guest: socket(AF_VSOCK)");
			return err;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE,
			   &bufsz, sizeof(bufsz));
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE,
			   &bufsz, sizeof(bufsz));
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		err = -errno;
		close(fd);
		if (now_ms() >= deadline) {
			fprintf(stderr, "bench_guest: vsock connect to %u:%u: %s\n",
				VMADDR_CID_HOST, BENCH_VSOCK_PORT,
				strerror(-err));
			return err;
		}
		usleep(500 * 1000);
	}
	err = write_all(fd, h, sizeof(*h));
	if (err) {
		fprintf(stderr, "bench_guest: vsock hello: %s\n", strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/* ---------------------------------------------------------------------- */
/* Steady state, and the floor next to it                                 */
/* ---------------------------------------------------------------------- */

/* One byte to the host and back.  0 or -errno. */
static int ping(int fd, unsigned char out)
{
	unsigned char in = 0;
	int ret;

	ret = write_all(fd, &out, 1);
	if (!ret)
		ret = read_all(fd, &in, 1);
	if (!ret && in != out)
		ret = -EPROTO;
	return ret;
}

/*
 * Export @g once, then up to @max times: PRESENT it and wait for its
 * FRAME_DONE, then one one-byte vsock round trip (the floor), so that
 * both see the same machine load; then unexport it and wait for RELEASED.
 * @g stays allocated and mapped.
 */
static void bench_steady(struct bench *b, unsigned int si, struct gbuf *g,
			 uint64_t seed, unsigned int max)
{
	const char *name = bench_sizes[si].name;
	struct bench_hello h = {
		.magic = htole32(BENCH_HELLO_MAGIC),
		.kind = htole32(BENCH_K_PING),
	};
	struct bench_samples ioc, rtt, flr;
	uint64_t t0, t1, t_start;
	unsigned int done = 0, replaced = 0, pings = 0;
	uint32_t flags;
	int ret, fd, exported = 0, released = 0, ping_err = 0;
	char key[64];

	ret = bench_samples_init(&ioc, max) | bench_samples_init(&rtt, max) |
	      bench_samples_init(&flr, max);
	fd = ret ? -1 : vs_connect(&h);
	if (fd < 0)
		ping_err = fd;
	if (!ret) {
		ret = buf_export(g, BENCH_R_STEADY, si, 0, seed);
		exported = !ret;
	}
	if (exported)
		note_ranges(b, si, g->nr_ranges);
	t_start = now_ns();
	while (!ret && more(b, done, max, t_start)) {
		uint64_t seq = ++b->seq;

		t0 = now_ns();
		ret = buf_present(g, seq);
		t1 = now_ns();
		if (!ret)
			ret = wait_for(b, VDMABUF_EVENT_FRAME_DONE, &g->uuid,
				       seq, &flags);
		if (ret)
			break;
		bench_samples_add(&ioc, t1 - t0);
		bench_samples_add(&rtt, now_ns() - t0);
		if (flags & VDMABUF_EVENT_F_REPLACED)
			replaced++;
		done++;
		if (fd < 0 || ping_err)
			continue;
		t0 = now_ns();
		ping_err = ping(fd, (unsigned char)seq);
		if (!ping_err) {
			bench_samples_add(&flr, now_ns() - t0);
			pings++;
		}
	}
	if (exported && !buf_unexport(g) &&
	    !wait_for(b, VDMABUF_EVENT_RELEASED, &g->uuid, 0, NULL))
		released = 1;
	if (fd >= 0)
		close(fd);
	if (ping_err)
		fprintf(stderr, "bench_guest: %s one-byte round trip: %s\n",
			name, strerror(-ping_err));
	tap(b, !ret && done && !replaced && released,
	    "%s: %u steady-state PRESENTs each got FRAME_DONE (%u replaced), then RELEASED",
	    name, done, replaced);
	tap(b, !ping_err && pings == done,
	    "%s: %u one-byte vsock round trips next to them, each echoed",
	    name, pings);
	printf("# %s steady state: %u frames, %u pings\n", name, done, pings);
	snprintf(key, sizeof(key), "steady.%s.present_ioctl_ms", name);
	bench_samples_report(&ioc, GUEST_PREFIX, key);
	snprintf(key, sizeof(key), "steady.%s.present_to_frame_done_ms", name);
	bench_samples_report(&rtt, GUEST_PREFIX, key);
	snprintf(key, sizeof(key), "floor.%s.vsock_rtt_ms", name);
	bench_samples_report(&flr, GUEST_PREFIX, key);
	bench_samples_free(&ioc);
	bench_samples_free(&rtt);
	bench_samples_free(&flr);
}

/*
 * Send @g's bytes as frames over vsock: one checked, untimed frame, then
 * up to @max timed ones.
 */
static void bench_copy(struct bench *b, unsigned int si, struct gbuf *g,
		       uint64_t seed, unsigned int max)
{
	const char *name = bench_sizes[si].name;
	struct bench_hello h = {
		.magic = htole32(BENCH_HELLO_MAGIC),
		.kind = htole32(BENCH_K_COPY),
		.size_idx = htole32(si),
		.bytes = htole64(g->size),
		.seed = htole64(seed),
	};
	struct bench_samples s;
	uint64_t t0, t_start, seq;
	unsigned int done = 0;
	int fd, ret, verified = 0, acked = 0, synced = 0;
	char key[64];

	ret = bench_samples_init(&s, max);
	fd = ret ? ret : vs_connect(&h);
	ret = fd < 0 ? fd : 0;
	if (!ret) {
		ret = vdmabuf_dmabuf_sync(g->fd,
					  DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		synced = !ret;
	}
	t_start = now_ns();
	for (seq = 0; !ret; seq++) {
		struct bench_frame f = {
			.magic = htole32(BENCH_FRAME_MAGIC),
			.seq = htole64(seq),
		};
		unsigned char ack = 0;
		int last = seq && !more(b, done + 1, max, t_start);

		if (!seq)
			f.flags = htole32(BENCH_F_VERIFY);
		else if (last)
			f.flags = htole32(BENCH_F_LAST);
		t0 = now_ns();
		ret = write_all(fd, &f, sizeof(f)) ?:
		      write_all(fd, g->map, g->size) ?:
		      read_all(fd, &ack, 1);
		if (ret) {
			fprintf(stderr, "bench_guest: %s copy frame %llu: %s\n",
				name, (unsigned long long)seq, strerror(-ret));
			break;
		}
		if (ack != BENCH_ACK_OK) {
			fprintf(stderr, "bench_guest: %s copy frame %llu: host answered 0x%02x\n",
				name, (unsigned long long)seq, ack);
			ret = -EPROTO;
			break;
		}
		acked++;
		if (!seq) {
			verified = 1;
			t_start = now_ns();
			continue;
		}
		bench_samples_add(&s, now_ns() - t0);
		done++;
		if (last)
			break;
	}
	if (synced)
		vdmabuf_dmabuf_sync(g->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	if (fd >= 0)
		close(fd);
	tap(b, !ret && verified && done,
	    "%s: %u frames of %llu bytes copied over vsock and acknowledged, the first checked word by word",
	    name, acked, (unsigned long long)g->size);
	snprintf(key, sizeof(key), "copy.%s.frame_ms", name);
	bench_samples_report(&s, GUEST_PREFIX, key);
	bench_samples_free(&s);
}

/* ---------------------------------------------------------------------- */
/* FRAME_DONE pacing: without and with QEMU's display                     */
/* ---------------------------------------------------------------------- */

#define PACE_SIZE		0	/* bench_sizes[]: 1920x1080 */
#define PACE_WARMUP		10	/* untimed frames per device */
#define PACE_MIN_RUNS		2	/* A B, B A */

enum { PACE_PLAIN, PACE_DISPLAY, PACE_NR };
static const char *const pace_keys[PACE_NR] = { "no_display", "display" };

/* One device of the comparison. */
struct pacer {
	const char *path;
	struct gbuf g;
	struct bench_samples rtt;	/* PRESENT start -> FRAME_DONE */
	uint64_t run_ns;		/* wall time of the timed runs */
	unsigned int runs;
	unsigned int replaced;
	int outputs;			/* of the host's display, or -errno */
	int exported;
	int released;
};

/* The outputs of @dev's host display, or -errno. */
static int nr_outputs(struct vdmabuf_dev *dev)
{
	struct vdmabuf_outputs outs;

	if (ioctl(vdmabuf_dev_fd(dev), VDMABUF_IOCTL_OUTPUTS, &outs))
		return -errno;
	return outs.nr_outputs;
}

/* Allocate a black 1920x1080 XRGB8888 image and export it for output 0. */
static int pace_setup(struct pacer *p, struct vdmabuf_dev *dev)
{
	const struct bench_size *sz = &bench_sizes[PACE_SIZE];
	struct vdmabuf_exported ex;
	struct vdmabuf_image img;
	int64_t size;
	int ret, tries = 0;

	size = vdmabuf_image_init(&img, sz->width, sz->height,
				  DEMO_FOURCC_XRGB8888);
	if (size < 0)
		return size;
	ret = buf_alloc_on(dev, &p->g, size);
	if (ret)
		return ret;
	do {
		ret = vdmabuf_dev_export_image(dev, p->g.fd, &img, &ex);
	} while (busy_retry(ret, &tries, "vdmabuf_dev_export_image"));
	if (ret)
		return ret;
	p->g.uuid = ex.uuid;
	p->exported = 1;
	return 0;
}

/* @n frames, each PRESENTed once the last one's FRAME_DONE came. */
static int pace_frames(struct bench *b, struct pacer *p, unsigned int n,
		       int timed)
{
	unsigned int i;
	uint32_t flags;
	uint64_t t0;
	int ret = 0;

	for (i = 0; !ret && i < n; i++) {
		uint64_t seq = ++b->seq;

		t0 = now_ns();
		ret = buf_present(&p->g, seq);
		if (!ret)
			ret = wait_on(b, p->g.dev, VDMABUF_EVENT_FRAME_DONE,
				      &p->g.uuid, seq, &flags);
		if (ret)
			break;
		if (timed)
			bench_samples_add(&p->rtt, now_ns() - t0);
		if (flags & VDMABUF_EVENT_F_REPLACED)
			p->replaced++;
	}
	if (ret)
		fprintf(stderr, "bench_guest: pacing on %s: %s\n", p->path,
			strerror(-ret));
	return ret;
}

/*
 * FRAME_DONE pacing on b->dev (no display) and @disp (QEMU's display):
 * PACE_WARMUP untimed frames on each, then runs of @per_run frames, A B
 * then B A, up to @runs_max runs or twice the budget.
 */
static void bench_pacing(struct bench *b, const char *plain_path,
			 struct vdmabuf_dev *disp, const char *disp_path,
			 unsigned int runs_max, unsigned int per_run)
{
	struct pacer p[PACE_NR] = {
		{ .path = plain_path, .g.fd = -1 },
		{ .path = disp_path, .g.fd = -1 },
	};
	struct vdmabuf_dev *devs[PACE_NR] = { b->dev, disp };
	uint64_t t0, t_start, budget = 2ULL * b->budget_s * 1000000000ULL;
	unsigned int i, k, run;
	char key[80];
	int ret = 0;

	p[PACE_PLAIN].outputs = nr_outputs(b->dev);
	p[PACE_DISPLAY].outputs = nr_outputs(disp);
	tap(b, !p[PACE_PLAIN].outputs && p[PACE_DISPLAY].outputs > 0,
	    "pacing: %s has no display (%d outputs), %s has QEMU's (%d outputs)",
	    plain_path, p[PACE_PLAIN].outputs, disp_path,
	    p[PACE_DISPLAY].outputs);
	if (p[PACE_PLAIN].outputs || p[PACE_DISPLAY].outputs <= 0)
		return;

	for (i = 0; !ret && i < PACE_NR; i++) {
		ret = bench_samples_init(&p[i].rtt, runs_max * per_run);
		if (!ret)
			ret = pace_setup(&p[i], devs[i]);
		/* Untimed: under TCG the first run of a path translates it. */
		if (!ret)
			ret = pace_frames(b, &p[i], PACE_WARMUP, 0);
	}
	t_start = now_ns();
	for (run = 0; !ret && run < runs_max; run++) {
		/* Whole pairs of runs only, so that both had the same turns. */
		if (run >= PACE_MIN_RUNS && !(run % 2) &&
		    now_ns() - t_start >= budget)
			break;
		for (k = 0; !ret && k < PACE_NR; k++) {
			i = run % 2 ? PACE_NR - 1 - k : k;
			t0 = now_ns();
			ret = pace_frames(b, &p[i], per_run, 1);
			p[i].run_ns += now_ns() - t0;
			p[i].runs++;
		}
	}
	for (i = 0; i < PACE_NR; i++) {
		if (p[i].exported && !buf_unexport(&p[i].g) &&
		    !wait_on(b, p[i].g.dev, VDMABUF_EVENT_RELEASED,
			     &p[i].g.uuid, 0, NULL))
			p[i].released = 1;
		buf_free(&p[i].g);
	}
	for (i = 0; i < PACE_NR; i++) {
		const char *name = pace_keys[i];
		struct pacer *q = &p[i];

		tap(b, !ret && q->rtt.n && !q->replaced && q->released,
		    "pacing: %s (%s): %u runs, %u frames each got FRAME_DONE (%u replaced), then RELEASED",
		    q->path, name, q->runs, q->rtt.n, q->replaced);
		result("pacing.%s.outputs %d", name, q->outputs);
		result("pacing.%s.runs %u", name, q->runs);
		result("pacing.%s.frames_per_run %u", name, per_run);
		if (q->run_ns)
			result("pacing.%s.frames_per_s %.2f", name,
			       q->rtt.n / (q->run_ns / 1e9));
		result("pacing.%s.present_to_frame_done_p95_ms %.3f", name,
		       bench_samples_pct(&q->rtt, 95) / 1e6);
		snprintf(key, sizeof(key), "pacing.%s.present_to_frame_done_ms",
			 name);
		bench_samples_report(&q->rtt, GUEST_PREFIX, key);
		bench_samples_free(&q->rtt);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_guest [-z CYCLES] [-s PRESENTS] [-c FRAMES] [-b BUDGET_S]\n"
		"                   [-d DEVICE] [-p DISPLAY_DEVICE [-r RUNS] [-f FRAMES]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *devpath = VDMABUF_DEV_PATH, *pace_path = NULL;
	struct bench b = { .budget_s = 20 };
	unsigned int zc_max = 5, steady_max = 200, copy_max = 5, si;
	unsigned int pace_runs = 10, pace_frames_per_run = 30;
	struct vdmabuf_dev *pace_dev = NULL;
	struct vdmabuf_info info;
	uint64_t t_start = now_ns();
	int c, ret, ok = 1;

	while ((c = getopt(argc, argv, "z:s:c:b:d:p:r:f:h")) != -1) {
		switch (c) {
		case 'z':
			zc_max = strtoul(optarg, NULL, 0);
			break;
		case 's':
			steady_max = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			copy_max = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			b.budget_s = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			devpath = optarg;
			break;
		case 'p':
			pace_path = optarg;
			break;
		case 'r':
			pace_runs = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			pace_frames_per_run = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !zc_max || !steady_max || !copy_max ||
	    !b.budget_s || pace_runs < PACE_MIN_RUNS || pace_runs > 1000 ||
	    !pace_frames_per_run || pace_frames_per_run > 1000)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");

	ret = vdmabuf_dev_open(devpath, &b.dev);
	if (ret)
		fprintf(stderr, "bench_guest: open %s: %s\n", devpath,
			strerror(-ret));
	else
		ret = vdmabuf_dev_info(b.dev, &info);
	if (ret) {
		if (b.dev)
			fprintf(stderr, "bench_guest: vdmabuf_dev_info: %s\n",
				strerror(-ret));
		ok = 0;
	} else if (!(info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT))) {
		fprintf(stderr, "bench_guest: no VIRTIO_VDMABUF_F_PRESENT\n");
		ok = 0;
	}
	tap(&b, ok, "open %s, PRESENT negotiated", devpath);
	if (!ok) {
		printf("1..%d\n", b.tap_n);
		vdmabuf_dev_close(b.dev);
		return 1;
	}
	result("device.max_ranges %u", info.max_ranges);
	result("device.max_export_size %llu",
	       (unsigned long long)info.max_export_size);
	result("budget_s %u", b.budget_s);
	result("vsock_buffer_bytes %llu", (unsigned long long)VSOCK_BUF_BYTES);

	for (si = 0; si < BENCH_NR_SIZES; si++) {
		const char *name = bench_sizes[si].name;
		uint64_t seed = new_seed(), t0;
		struct gbuf g;
		int ret;

		result("size.%s.width %u", name, bench_sizes[si].width);
		result("size.%s.height %u", name, bench_sizes[si].height);
		result("size.%s.bytes %llu", name,
		       (unsigned long long)bench_bytes(si));
		result("size.%s.pages %llu", name,
		       (unsigned long long)bench_bytes(si) / BENCH_PAGE);
		result("size.%s.flat_pfn_bytes %llu", name,
		       (unsigned long long)bench_bytes(si) / BENCH_PAGE *
		       PFN_BYTES);

		printf("# %s: zero copy, first use\n", name);
		bench_zc(&b, si, zc_max);

		printf("# %s: steady state and copy, one buffer written in full\n",
		       name);
		ret = buf_alloc(&b, &g, bench_bytes(si));
		if (!ret)
			ret = buf_map(&g);
		t0 = now_ns();
		if (!ret)
			ret = buf_fill(&g, seed, 1);
		tap(&b, !ret, "%s: a buffer allocated, mapped and written in full",
		    name);
		if (ret) {
			buf_free(&g);
			continue;
		}
		result("size.%s.fill_ms %.3f", name, (now_ns() - t0) / 1e6);
		bench_steady(&b, si, &g, seed, steady_max);
		bench_copy(&b, si, &g, seed, copy_max);
		buf_free(&g);
		if (!b.rmax[si])
			continue;
		result("zc.%s.nr_ranges.min %u", name, b.rmin[si]);
		result("zc.%s.nr_ranges.max %u", name, b.rmax[si]);
		result("zc.%s.wire_bytes.min %llu", name, (unsigned long long)
		       (EXPORT_HDR_BYTES + RANGE_BYTES * b.rmin[si] +
			sizeof(struct bench_meta)));
		result("zc.%s.wire_bytes.max %llu", name, (unsigned long long)
		       (EXPORT_HDR_BYTES + RANGE_BYTES * b.rmax[si] +
			sizeof(struct bench_meta)));
	}

	if (pace_path) {
		printf("# FRAME_DONE pacing: %s without a display, %s with QEMU's\n",
		       devpath, pace_path);
		ret = vdmabuf_dev_open(pace_path, &pace_dev);
		tap(&b, !ret, "pacing: open %s", pace_path);
		if (ret)
			fprintf(stderr, "bench_guest: open %s: %s\n", pace_path,
				strerror(-ret));
		else
			bench_pacing(&b, devpath, pace_dev, pace_path, pace_runs,
				     pace_frames_per_run);
		vdmabuf_dev_close(pace_dev);
	}

	tap(&b, !b.unexpected, "no unexpected events (%llu)",
	    (unsigned long long)b.unexpected);
	result("run_s %.1f", (now_ns() - t_start) / 1e9);
	printf("1..%d\n", b.tap_n);
	vdmabuf_dev_close(b.dev);
	return b.tap_failed ? 1 : 0;
}
