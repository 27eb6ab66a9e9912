// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_guest: a fuzzer of /dev/virtio-vdmabuf (virtio_vdmabuf.ko), run as
 * root in the guest (L2) VM.
 *
 * Several threads share several openers (open files of every
 * virtio-dmabuf device there is) and make random and broken requests:
 * ALLOC; EXPORT of every kind of dma-buf the guest has (the driver's own
 * ALLOC buffers, vgem dumb buffers through PRIME, udmabuf, the system
 * dma-buf heap, dmabuf_mover's moving buffers) and of fds that are none;
 * UNEXPORT, PRESENT (also of buffers with a vgem write fence, which defers
 * it), QUERY, INFO, OUTPUTS, unknown ioctls, read() and poll() of events,
 * mappings and CPU access of the buffers, openers closed with live
 * exports and opened again, and a forked child opener killed with SIGKILL
 * while it makes requests.  Arguments are mutated: flags and padding that
 * must be zero, sizes and counts beyond every limit, fds that are not
 * dma-bufs, pointers that fault (NULL, 1, unmapped, kernel, read-only, a
 * structure that runs into a guard page), blocked calls interrupted.
 *
 * Beside it runs a model of every opener's exports.  Each call's errno is
 * checked where the UAPI decides it, and every event against the model:
 * RELEASED only for a buffer that was unexported, once, after the
 * FRAME_DONE of every PRESENT of it that succeeded; FRAME_DONE only for a
 * PRESENT that succeeded.  INFO's counters must agree with the model.  At
 * the end every export is unexported, every RELEASED read and everything
 * closed; then every opener's and the device's counters (sysfs
 * live_exports, live_bytes, alloc_bytes) must be back where they were,
 * the guest's free memory within MEM_SLACK_KB of its start, and the
 * kernel log free of warnings.
 *
 * Action i is made from (seed, i) alone and thread t runs actions t,
 * t + T, t + 2T...: with --threads 1 a run repeats (as far as the host's
 * timing goes); with more, the same actions run, in another interleaving.
 * Every wait is bounded: poll() with time-outs, a blocked read() or
 * EXPORT interrupted by a signal, a watchdog that names an action taking
 * longer than --hang-secs, and alarm() over the whole run.
 *
 * With --faults the caller has the kernel fail some of the driver's
 * allocations (failslab and fail_page_alloc), so a call may fail, or an
 * event or a count differ, where the model says otherwise.  Such a
 * deviation is counted by invariant and printed (the first five), and the
 * opener it was found on is closed and opened again, with a model afresh.
 * What must still hold: every call returns, a killed opener dies, and
 * once everything is closed every counter is back, the memory too, and
 * the kernel log has no report.
 *
 * A "request" is one action, mostly one system call.  The output is TAP
 * with one result.
 */
#include <endian.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <drm.h>		/* libdrm-dev's copy of the DRM UAPI */
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#include "dmabuf_mover/dmabuf_mover.h"
#include "fuzz_rng.h"
#include "guest_common.h"
#include "vdmabuf_util.h"
#include "vgem_fence.h"

#define KSFT_SKIP	4

#define DEV_BASE	"/dev/virtio-vdmabuf"
#define MAX_DEVS	4
#define MAX_THREADS	16
#define MAX_OPENERS	16
#define NBUF		6		/* dma-buf slots of a thread */
#define NFENCE		4		/* vgem fences a thread keeps */
#define NHIST		8		/* actions a thread remembers */
#define NHASH		256		/* UUID hash buckets of an opener */
#define PAGE		4096ULL
#define EV_SIZE		((int)sizeof(struct vdmabuf_event))
#define RBUF_LEN	(64 << 10)	/* read() buffer, a guard page after */
#define HOLE_LEN	(16 * PAGE)	/* PROT_NONE: pointers that fault */
#define BUDGET		(64ULL << 20)	/* bytes the threads hold and export */
#define CHILD_TICKS	40		/* a child dies by its 40th request */
#define SETTLE_S	60		/* the driver settles in this */
/*
 * Free memory (MemFree, and the free pages on the per-CPU lists, which
 * MemFree leaves out: 28 to 40 MiB of them here) may end this much below
 * its start, taken after warm_up(), once everything was closed and the
 * caches dropped, this process's own growth (VmRSS: the heap and thread
 * stacks glibc keeps) not counted.  Measured in L2: 584 kB down in the
 * first run after boot, 208 kB in the next (the slabs grew); without the
 * warm-up and the per-CPU lists, 11 to 16 MiB down, for good, after the
 * first run and 0 after the next.
 */
#define MEM_SLACK_KB	(8 * 1024)

#define FOURCC(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | \
			    ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

/* ---------------------------------------------------------------------- */
/* PRNG                                                                   */
/* ---------------------------------------------------------------------- */

/* Action @i of the run of @seed */
static void rng_action(struct rng *r, uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0xd1342543de82ef95ULL);

	rng_init(r, splitmix64(&x));
}

/* ---------------------------------------------------------------------- */
/* State                                                                  */
/* ---------------------------------------------------------------------- */

struct opts {
	uint64_t seed;
	uint64_t requests;
	uint32_t threads;
	uint32_t openers;
	uint32_t time_limit;	/* seconds, 0: none */
	uint32_t progress;	/* seconds between progress lines, 0: none */
	uint32_t hang_secs;
	bool no_child;
	bool verbose;
	bool faults;	/* the kernel fails some of the driver's allocations */
};

static struct opts opt = {
	.requests = 20000, .threads = 4, .openers = 4, .time_limit = 540,
	.progress = 30, .hang_secs = 90,
};

struct device {
	char path[32];
	struct vdmabuf_info info;	/* limits, read at the start */
	long long base[3];		/* the device's totals at the start */
};

static const char * const totals[3] = {
	"live_exports", "live_bytes", "alloc_bytes",
};

static struct device devs[MAX_DEVS];
static int ndevs;

/* What the guest has, found at the start */
static int heap_fd = -1, mover_fd = -1, null_fd = -1, memfd = -1;
static bool have_vgem, have_udmabuf;
static uint64_t max_alloc;	/* the module's max_alloc_mb, in bytes */
static uint8_t *hole;		/* HOLE_LEN bytes of PROT_NONE */

/* Export states in the model */
enum { X_LIVE, X_UNEXPORTED, X_RELEASED };

/**
 * struct xrec - one export as the model knows it (under its opener's mu)
 * @hnext: in the opener's hash, released ones too, until the opener closes
 * @uuid: its UUID
 * @size: its size
 * @nr_ranges: ranges EXPORT said it sent
 * @idx: in the opener's @live while not released
 * @state: X_*
 * @unexp_tries: UNEXPORTs begun of it
 * @unexp_inflight: UNEXPORTs not returned yet
 * @present_inflight: PRESENTs not returned yet
 * @npend: PRESENTs begun (not failed) without a FRAME_DONE read
 * @pend_sum: the sum of their seqs
 * @pend_sq: the sum of their squares
 */
struct xrec {
	struct xrec *hnext;
	uint8_t uuid[16];
	uint64_t size;
	uint32_t nr_ranges;
	uint32_t idx;
	uint32_t state;
	uint32_t unexp_tries;
	uint32_t unexp_inflight;
	uint32_t present_inflight;
	uint64_t npend;
	uint64_t pend_sum;
	uint64_t pend_sq;
};

/**
 * struct opener - one open file of a device, shared by the threads
 * @rw: read: a call on @fd; write: closing it, or an exact check
 * @mu: the model, below
 * @rd: one ordered reader at a time (read() and what it read processed)
 * @fd: the open file, -1 while closed
 * @dev: in devs[]
 * @nonblock: opened with O_NONBLOCK
 * @gen: how many times it was opened
 * @hash: its exports, by UUID
 * @live: those not released
 * @nlive: entries in @live
 * @cap: room in @live
 * @live_bytes: their bytes
 * @lost: exports whose UUID EXPORT could not write back (its argument
 *	read-only): the driver unexports them, and their RELEASED is for
 *	a UUID the model does not know
 * @lost_bytes: their bytes, at most (an upper bound: never lowered)
 * @lost_maybe: EXPORTs with a read-only argument in flight
 * @lost_early: RELEASEDs of unknown UUIDs read while some were in flight
 * @presents_ok: PRESENTs that succeeded
 * @frames_done: FRAME_DONE events read
 * @readers: read() calls whose records are not processed yet
 * @racing: racing readers (not under @rd) in flight
 * @racing_epoch: bumped as each racing reader starts and ends
 * @tainted: --faults: the model of it deviated; opened afresh
 */
struct opener {
	pthread_rwlock_t rw;
	pthread_mutex_t mu;
	pthread_mutex_t rd;
	int fd;
	int dev;
	bool nonblock;
	uint32_t gen;
	struct xrec *hash[NHASH];
	struct xrec **live;
	uint32_t nlive;
	uint32_t cap;
	uint64_t live_bytes;
	uint32_t lost;
	uint64_t lost_bytes;
	uint32_t lost_maybe;
	uint32_t lost_early;
	uint64_t presents_ok;
	uint64_t frames_done;
	uint32_t readers;
	uint32_t racing;
	uint64_t racing_epoch;
	bool tainted;
};

static struct opener openers[MAX_OPENERS];
/* The opener the thread's action uses, for fail() */
static __thread struct opener *cur_opener;

enum bkind { B_ALLOC, B_VGEM, B_UDMABUF, B_HEAP, B_MOVER, NR_BKINDS };

static const char * const bkind_name[NR_BKINDS] = {
	"alloc", "vgem", "udmabuf", "heap", "mover",
};

/* A dma-buf a thread holds */
struct fbuf {
	int fd;			/* -1: slot free */
	enum bkind kind;
	uint64_t size;
	uint32_t handle;	/* in the thread's vgem card, 0: none */
	uint32_t mover_flags;
};

struct worker {
	int id;
	pthread_t th;
	struct fbuf buf[NBUF];
	int card;		/* vgem, -1: none */
	uint32_t fences[NFENCE];	/* vgem fences, 0: none */
	uint8_t *scratch;	/* 2 pages, then a guard page */
	uint8_t *guard;
	uint8_t *ro;		/* a page made read-only for an argument */
	uint8_t *rbuf;		/* RBUF_LEN, then a guard page */
	uint64_t seqno;
	/* for the monitor */
	uint64_t cur;		/* the action running */
	uint64_t act_start;	/* its start (ms), 0: between actions */
	uint64_t intr_at;	/* SIGUSR1 at this time (ms), 0: none */
	bool finished;
	char desc[200];
	char res[120];
	struct {
		uint64_t i;
		char desc[200];
		char res[120];
	} hist[NHIST];		/* copies, not formatted: cheaper */
	uint32_t nhist;
};

static struct worker workers[MAX_THREADS];

/* Actions */
enum kind {
	K_ALLOC, K_BUF, K_DROP, K_EXPORT, K_UNEXPORT, K_PRESENT, K_QUERY,
	K_INFO, K_OUTPUTS, K_READ, K_POLL, K_IOCTL, K_MAP, K_FENCE, K_MOVER,
	K_REOPEN, K_CHECK, K_CHILD, NR_KINDS
};

static void act_alloc(struct worker *w, struct rng *r);
static void act_buf(struct worker *w, struct rng *r);
static void act_drop(struct worker *w, struct rng *r);
static void act_export(struct worker *w, struct rng *r);
static void act_unexport(struct worker *w, struct rng *r);
static void act_present(struct worker *w, struct rng *r);
static void act_query(struct worker *w, struct rng *r);
static void act_info(struct worker *w, struct rng *r);
static void act_outputs(struct worker *w, struct rng *r);
static void act_read(struct worker *w, struct rng *r);
static void act_poll(struct worker *w, struct rng *r);
static void act_ioctl(struct worker *w, struct rng *r);
static void act_map(struct worker *w, struct rng *r);
static void act_fence(struct worker *w, struct rng *r);
static void act_mover(struct worker *w, struct rng *r);
static void act_reopen(struct worker *w, struct rng *r);
static void act_check(struct worker *w, struct rng *r);
static void act_child(struct worker *w, struct rng *r);

static const struct {
	const char *name;
	uint32_t weight;	/* relative */
	void (*fn)(struct worker *w, struct rng *r);
} kinds[NR_KINDS] = {
	[K_ALLOC]	= { "ALLOC",	700,	act_alloc },
	[K_BUF]		= { "BUF",	350,	act_buf },
	[K_DROP]	= { "DROP",	300,	act_drop },
	[K_EXPORT]	= { "EXPORT",	1700,	act_export },
	[K_UNEXPORT]	= { "UNEXPORT",	1100,	act_unexport },
	[K_PRESENT]	= { "PRESENT",	1400,	act_present },
	[K_QUERY]	= { "QUERY",	500,	act_query },
	[K_INFO]	= { "INFO",	300,	act_info },
	[K_OUTPUTS]	= { "OUTPUTS",	100,	act_outputs },
	[K_READ]	= { "READ",	1200,	act_read },
	[K_POLL]	= { "POLL",	300,	act_poll },
	[K_IOCTL]	= { "IOCTL",	400,	act_ioctl },
	[K_MAP]		= { "MAP",	120,	act_map },
	[K_FENCE]	= { "FENCE",	400,	act_fence },
	[K_MOVER]	= { "MOVER",	150,	act_mover },
	[K_REOPEN]	= { "REOPEN",	100,	act_reopen },
	[K_CHECK]	= { "CHECK",	150,	act_check },
	[K_CHILD]	= { "CHILD",	20,	act_child },
};

#define NERR	134	/* errnos counted one by one; others as NERR */

/* How the calls went: per kind, the result's errno (0: success) */
static uint64_t n_res[NR_KINDS][NERR + 1];
static uint64_t n_us[NR_KINDS];	/* time in each kind, all threads */
static uint64_t n_done, n_exports, n_presents, n_frames, n_released;
static uint64_t n_events, n_strict, n_children, n_child_ticks, n_leaked;
static uint64_t n_unexports, n_interrupts;
static uint64_t held_bytes;	/* bytes of the threads' buffers */
static int child_busy;

static bool stop;
static uint64_t t_start;
static const char *phase = "set-up";	/* for the whole-run watchdog */

/* The first failure */
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static bool failed;
static int fail_thread = -1;
static uint64_t fail_index;
static char fail_inv[96], fail_msg[512], fail_desc[200];

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* --faults: deviations from the model, by invariant */
static uint64_t n_dev;
static struct {
	char inv[96];
	uint64_t n;
} dev_by[8];

/*
 * What must hold also when the kernel fails allocations: the driver lets
 * go of everything, and says nothing in its log.  (Hangs, too: hung().)
 */
static const char * const hard_inv[] = {
	"a killed opener dies", "every export RELEASED",
	"the opener's counters at the end",
	"the opener's alloc_bytes at the end",
	"the device's totals at the end", "memory back at the end",
	"a clean kernel log",
};

static bool is_hard(const char *inv)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hard_inv); i++)
		if (!strcmp(inv, hard_inv[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		printf("not ok 1 - fuzz_guest: out of memory\n");
		exit(1);
	}
	return p;
}

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
		{ EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" },
		{ ENOSPC, "ENOSPC" }, { E2BIG, "E2BIG" }, { ENOBUFS, "ENOBUFS" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ EPROTO, "EPROTO" }, { ENXIO, "ENXIO" }, { EACCES, "EACCES" },
	};
	static __thread char buf[24];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

/* The action's description, before its calls */
static void __attribute__((format(printf, 2, 3)))
say(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->desc, sizeof(w->desc), fmt, ap);
	va_end(ap);
}

/* What the action came to */
static void __attribute__((format(printf, 2, 3)))
res(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->res, sizeof(w->res), fmt, ap);
	va_end(ap);
}

/* Count the result @ret (0 or -errno) of a call of kind @k */
static void count(enum kind k, int ret)
{
	int e = ret < 0 ? -ret : 0;

	ADD(n_res[k][e < NERR ? e : NERR], 1);
}

/* The first failure stops the run; later ones only print a line. */
static void __attribute__((format(printf, 3, 4)))
fail(struct worker *w, const char *inv, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fail_mu);
	if (opt.faults && !is_hard(inv)) {
		size_t i;

		/* A deviation: counted; the opener is opened afresh */
		for (i = 0; i < ARRAY_SIZE(dev_by) - 1; i++)
			if (!dev_by[i].n || !strcmp(dev_by[i].inv, inv))
				break;
		snprintf(dev_by[i].inv, sizeof(dev_by[i].inv), "%s", inv);
		dev_by[i].n++;
		if (++n_dev <= 5 || opt.verbose) {
			pthread_mutex_lock(&out_mu);
			printf("# deviation %llu at action %llu (%s): invariant '%s': %s\n",
			       (unsigned long long)n_dev,
			       (unsigned long long)(w ? w->cur : 0),
			       w ? w->desc : "teardown", inv, msg);
			pthread_mutex_unlock(&out_mu);
		}
		if (cur_opener)
			STORE(cur_opener->tainted, true);
		pthread_mutex_unlock(&fail_mu);
		return;
	}
	if (!failed) {
		failed = true;
		fail_thread = w ? w->id : -1;
		fail_index = w ? w->cur : 0;
		snprintf(fail_inv, sizeof(fail_inv), "%s", inv);
		snprintf(fail_msg, sizeof(fail_msg), "%s", msg);
		snprintf(fail_desc, sizeof(fail_desc), "%s",
			 w ? w->desc : "teardown");
	} else {
		pthread_mutex_lock(&out_mu);
		printf("# also: invariant '%s': %s\n", inv, msg);
		pthread_mutex_unlock(&out_mu);
	}
	STORE(stop, true);
	pthread_mutex_unlock(&fail_mu);
}

/* @want: 0 for success, -errno; @ret what came */
static bool expect(struct worker *w, const char *inv, int ret, int want)
{
	if (ret == want)
		return true;
	fail(w, inv, "returned %s, not %s", ename(-ret), ename(-want));
	return false;
}

/* Is -@ret one of the errnos of the list (0-terminated)? */
static bool one_of(int ret, const int *ok)
{
	for (; *ok; ok++)
		if (-ret == *ok)
			return true;
	return false;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* Interrupt the thread's next blocking wait after @ms (SIGUSR1). */
static void interrupt_in(struct worker *w, uint32_t ms)
{
	STORE(w->intr_at, now_ms() + ms);
}

static void no_interrupt(struct worker *w)
{
	STORE(w->intr_at, 0);
}

/* A pointer that faults, for an argument of @len bytes */
static void *bad_ptr(struct worker *w, struct rng *r, size_t len, char *what,
		     size_t wlen)
{
	switch (below(r, 6)) {
	case 0:
		snprintf(what, wlen, "NULL");
		return NULL;
	case 1:
		snprintf(what, wlen, "(void *)1");
		return (void *)1;
	case 2:
		snprintf(what, wlen, "unmapped");
		return hole + below(r, HOLE_LEN - 64);
	case 3:
		snprintf(what, wlen, "kernel");
		return (void *)0xffffffff81000000UL;
	case 4:
		snprintf(what, wlen, "(void *)-8");
		return (void *)-8L;
	default:
		/* Its first half mapped, the rest in the guard page */
		snprintf(what, wlen, "half past the guard");
		return w->guard - (len > 1 ? len / 2 : 1);
	}
}

/* ---------------------------------------------------------------------- */
/* The model of an opener's exports (under its mu)                         */
/* ---------------------------------------------------------------------- */

static uint32_t uuid_hash(const uint8_t *u)
{
	uint32_t h;

	memcpy(&h, u, sizeof(h));
	return h % NHASH;
}

static struct xrec *m_find(struct opener *o, const uint8_t *uuid)
{
	struct xrec *x;

	for (x = o->hash[uuid_hash(uuid)]; x; x = x->hnext)
		if (!memcmp(x->uuid, uuid, 16))
			return x;
	return NULL;
}

static struct xrec *m_add(struct opener *o, const struct vdmabuf_export *e)
{
	struct xrec *x = xrealloc(NULL, sizeof(*x));
	uint32_t h = uuid_hash(e->uuid);

	memset(x, 0, sizeof(*x));
	memcpy(x->uuid, e->uuid, 16);
	x->size = e->size;
	x->nr_ranges = e->nr_ranges;
	x->hnext = o->hash[h];
	o->hash[h] = x;
	if (o->nlive == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		o->live = xrealloc(o->live, o->cap * sizeof(*o->live));
	}
	x->idx = o->nlive;
	o->live[o->nlive++] = x;
	o->live_bytes += x->size;
	return x;
}

static void m_released(struct opener *o, struct xrec *x)
{
	struct xrec *last = o->live[--o->nlive];

	last->idx = x->idx;
	o->live[x->idx] = last;
	o->live_bytes -= x->size;
	x->state = X_RELEASED;
}

/* A random export of @o not released yet, NULL if none */
static struct xrec *m_pick(struct opener *o, struct rng *r)
{
	return o->nlive ? o->live[below(r, o->nlive)] : NULL;
}

/* Forget everything of @o: it was closed.  Under its rw, for writing. */
static void m_reset(struct opener *o)
{
	struct xrec *x, *next;
	uint32_t i;

	pthread_mutex_lock(&o->mu);
	for (i = 0; i < NHASH; i++) {
		for (x = o->hash[i]; x; x = next) {
			next = x->hnext;
			free(x);
		}
		o->hash[i] = NULL;
	}
	o->nlive = 0;
	o->live_bytes = 0;
	o->lost = 0;
	o->lost_bytes = 0;
	o->lost_maybe = 0;
	o->lost_early = 0;
	o->presents_ok = 0;
	o->frames_done = 0;
	pthread_mutex_unlock(&o->mu);
}

/* The model's view of a frame: begun, then done or failed */
static void pend_add(struct xrec *x, uint64_t seq)
{
	x->npend++;
	x->pend_sum += seq;
	x->pend_sq += seq * seq;
}

static void pend_del(struct xrec *x, uint64_t seq)
{
	x->npend--;
	x->pend_sum -= seq;
	x->pend_sq -= seq * seq;
}

static void uuid_str(const uint8_t *u, char *s)
{
	static const char hex[] = "0123456789abcdef";
	int i, j = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			s[j++] = '-';
		s[j++] = hex[u[i] >> 4];
		s[j++] = hex[u[i] & 15];
	}
	s[j] = 0;
}

/*
 * One event read from @o, under its mu.  @strict: every event queued
 * before it has been processed (no racing reader was in between), so the
 * order of events about a buffer can be checked.
 */
static void ev_one(struct worker *w, struct opener *o,
		   const struct vdmabuf_event *ev, bool strict)
{
	struct xrec *x;
	char us[40];

	ADD(n_events, 1);
	if (strict)
		ADD(n_strict, 1);
	uuid_str(ev->uuid, us);
	if (ev->type == VDMABUF_EVENT_RELEASED) {
		if (ev->flags || ev->seq)
			fail(w, "event fields",
			     "RELEASED of %s with flags %#x seq %llu", us,
			     ev->flags, (unsigned long long)ev->seq);
	} else if (ev->type == VDMABUF_EVENT_FRAME_DONE) {
		if (ev->flags & ~(VDMABUF_EVENT_F_REPLACED |
				  VDMABUF_EVENT_F_DROPPED))
			fail(w, "event fields", "FRAME_DONE of %s with flags %#x",
			     us, ev->flags);
	} else {
		fail(w, "event type", "event of type %u for %s", ev->type, us);
		return;
	}
	x = m_find(o, ev->uuid);
	if (!x) {
		/* An export whose UUID EXPORT could not return */
		if (ev->type == VDMABUF_EVENT_RELEASED &&
		    (o->lost || o->lost_maybe > o->lost_early)) {
			if (o->lost)
				o->lost--;
			else
				o->lost_early++;	/* its EXPORT returns */
			ADD(n_released, 1);
			return;
		}
		fail(w, "events only for the opener's buffers",
		     "%s for %s, which this opener never exported (%u lost exports)",
		     ev->type == VDMABUF_EVENT_RELEASED ? "RELEASED" : "FRAME_DONE",
		     us, o->lost);
		return;
	}
	if (x->state == X_RELEASED) {
		if (ev->type == VDMABUF_EVENT_RELEASED) {
			fail(w, "one RELEASED per export", "a second RELEASED for %s",
			     us);
			return;
		}
		if (strict) {
			fail(w, "RELEASED is the last event of a buffer",
			     "FRAME_DONE (seq %llu) for %s after its RELEASED",
			     (unsigned long long)ev->seq, us);
			return;
		}
	}
	if (ev->type == VDMABUF_EVENT_FRAME_DONE) {
		if (!x->npend) {
			fail(w, "a FRAME_DONE per PRESENT",
			     "FRAME_DONE (seq %llu, flags %#x) for %s, which has no PRESENT outstanding",
			     (unsigned long long)ev->seq, ev->flags, us);
			return;
		}
		pend_del(x, ev->seq);
		o->frames_done++;
		ADD(n_frames, 1);
		return;
	}
	/* RELEASED */
	ADD(n_released, 1);
	if (!x->unexp_tries)
		fail(w, "RELEASED only after UNEXPORT",
		     "RELEASED for %s, which was never unexported", us);
	else if (strict && x->npend > x->present_inflight)
		fail(w, "FRAME_DONE before RELEASED",
		     "RELEASED for %s with %llu presented frames unanswered",
		     us, (unsigned long long)(x->npend - x->present_inflight));
	else if (!x->npend && (x->pend_sum || x->pend_sq))
		fail(w, "FRAME_DONE echoes seq",
		     "the FRAME_DONE seqs of %s are not those of its PRESENTs",
		     us);
	if (x->state != X_RELEASED)
		m_released(o, x);
}

/* ---------------------------------------------------------------------- */
/* Openers                                                                */
/* ---------------------------------------------------------------------- */

/* A random opener, read-locked and open; NULL if closed. */
static struct opener *opener_get(struct rng *r)
{
	struct opener *o = &openers[below(r, opt.openers)];

	pthread_rwlock_rdlock(&o->rw);
	if (o->fd < 0) {
		pthread_rwlock_unlock(&o->rw);
		return NULL;
	}
	cur_opener = o;
	return o;
}

static void opener_put(struct opener *o)
{
	cur_opener = NULL;
	pthread_rwlock_unlock(&o->rw);
}

static bool opener_wrlock(struct opener *o, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return !pthread_rwlock_timedwrlock(&o->rw, &ts);
}

/* open(), tried again while --faults makes it fail for memory */
static int open_dev(const char *path, int flags)
{
	int fd, tries = 0;

	do
		fd = open(path, flags);
	while (fd < 0 && errno == ENOMEM && opt.faults && ++tries < 100);
	return fd;
}

static int opener_open(struct opener *o, int dev, bool nonblock)
{
	int fd = open_dev(devs[dev].path, O_RDWR | O_CLOEXEC |
			  (nonblock ? O_NONBLOCK : 0));

	if (fd < 0)
		return -errno;
	o->fd = fd;
	o->dev = dev;
	o->nonblock = nonblock;
	o->gen++;
	return 0;
}

/* The device @d's total @name over every opener (sysfs), or -errno */
static long long __attribute__((noinline)) dev_total(int d, const char *name)
{
	return vd_dev_total(devs[d].path, name);
}

static int o_idx(const struct opener *o)
{
	return (int)(o - openers);
}

/* ---------------------------------------------------------------------- */
/* Buffers                                                                */
/* ---------------------------------------------------------------------- */

/* Bytes the threads hold, and those of the exports not released */
static uint64_t in_use(void)
{
	uint64_t b = LOAD(held_bytes);
	uint32_t i;

	for (i = 0; i < opt.openers; i++)
		b += LOAD(openers[i].live_bytes);
	return b;
}

/*
 * A size for a new buffer, within the budget: mostly small, as under
 * nested TCG every page costs (allocated, zeroed, pinned, mapped).
 */
static uint64_t pick_size(struct rng *r, uint64_t max)
{
	uint32_t p = below(r, 100);
	uint64_t size;

	if (p < 65)
		size = PAGE * between(r, 1, 4);
	else if (p < 88)
		size = PAGE * between(r, 5, 64);
	else if (p < 94)
		size = (2ULL << 20) * between(r, 1, 2);	/* 2 MiB chunks */
	else if (p < 99)
		size = PAGE * between(r, 65, 1024);
	else
		size = PAGE * between(r, 1025, 4096);
	if (size > max)
		size = max;
	if (in_use() + size > BUDGET)
		size = PAGE * between(r, 1, 4);
	return size;
}

static void buf_drop(struct worker *w, struct fbuf *b)
{
	struct drm_gem_close gc = {};

	if (b->fd < 0)
		return;
	if (b->handle && w->card >= 0) {
		gc.handle = b->handle;
		ioctl(w->card, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	close(b->fd);
	ADD(held_bytes, -b->size);
	b->fd = -1;
	b->handle = 0;
	b->size = 0;
}

static void buf_set(struct worker *w, struct fbuf *b, int fd, enum bkind kind,
		    uint64_t size, uint32_t handle)
{
	buf_drop(w, b);
	b->fd = fd;
	b->kind = kind;
	b->size = size;
	b->handle = handle;
	b->mover_flags = 0;
	ADD(held_bytes, size);
}

/* A random slot with a buffer, NULL if none */
static struct fbuf *buf_pick(struct worker *w, struct rng *r)
{
	uint32_t i, start = below(r, NBUF);

	for (i = 0; i < NBUF; i++) {
		struct fbuf *b = &w->buf[(start + i) % NBUF];

		if (b->fd >= 0)
			return b;
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* ALLOC, and the other buffers                                           */
/* ---------------------------------------------------------------------- */

static void act_alloc(struct worker *w, struct rng *r)
{
	struct fbuf *b = &w->buf[below(r, NBUF)];
	struct vdmabuf_alloc a = {}, *ap = &a;
	struct opener *o = opener_get(r);
	uint32_t m = below(r, 100);
	char what[40] = "";
	int ret, want = 0, fdflags;
	bool ro = false;

	if (!o)
		return;
	a.size = pick_size(r, max_alloc);
	a.flags = pct(r, 50) ? VDMABUF_FD_CLOEXEC : 0;
	if (m >= 75) {
		want = -EINVAL;
		switch (below(r, 7)) {
		case 0:
			a.size = 0;
			break;
		case 1:
			a.size += between(r, 1, PAGE - 1);
			break;
		case 2:
			a.size = max_alloc + PAGE * between(r, 1, 1 << 20);
			break;
		case 3:
			a.size = pct(r, 50) ? ~(PAGE - 1) : 1ULL << 63;
			break;
		case 4:
			a.flags |= 1U << between(r, 1, 31);
			break;
		case 5:
			ap = bad_ptr(w, r, sizeof(a), what, sizeof(what));
			want = -EFAULT;
			break;
		default:
			/* Read-only: the fd is made, but not returned */
			a.size = PAGE;
			mprotect(w->ro, PAGE, PROT_READ | PROT_WRITE);
			memcpy(w->ro, &a, sizeof(a));
			mprotect(w->ro, PAGE, PROT_READ);
			ap = (struct vdmabuf_alloc *)w->ro;
			snprintf(what, sizeof(what), "read-only");
			ro = true;
			want = -EFAULT;
			break;
		}
	}
	say(w, "ALLOC o%d size %#llx flags %#x%s%s", o_idx(o),
	    (unsigned long long)a.size, a.flags, what[0] ? " arg " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_ALLOC, ap);
	opener_put(o);
	count(K_ALLOC, ret);
	res(w, "%s", ename(-ret));
	if (ro && ret == -EFAULT)
		ADD(n_leaked, 1);	/* closed at the end */
	if (want) {
		if (!(ro && ret == -ENOMEM))
			expect(w, "ALLOC refuses a bad argument", ret, want);
		return;
	}
	if (ret == -ENOMEM || ret == -EMFILE)
		return;
	if (!expect(w, "ALLOC of a good size", ret, 0))
		return;
	res(w, "fd %u", a.fd);
	fdflags = fcntl(a.fd, F_GETFD);
	if (fdflags < 0 || !!(fdflags & FD_CLOEXEC) !=
	    !!(a.flags & VDMABUF_FD_CLOEXEC))
		fail(w, "ALLOC's CLOEXEC", "fd flags %d for ALLOC flags %#x",
		     fdflags, a.flags);
	if (lseek(a.fd, 0, SEEK_END) != (off_t)a.size)
		fail(w, "ALLOC's size", "the dma-buf is not %llu bytes",
		     (unsigned long long)a.size);
	buf_set(w, b, a.fd, B_ALLOC, a.size, 0);
}

static int mk_vgem(struct worker *w, struct rng *r, uint64_t want,
		   uint64_t *size, uint32_t *handle)
{
	struct drm_mode_create_dumb c = { .bpp = 32 };
	struct drm_prime_handle p = {};
	struct drm_gem_close gc = {};

	if (w->card < 0)
		return -ENOENT;
	if (pct(r, 70)) {
		c.width = 1024;		/* 4 KiB rows */
		c.height = want / 4096;
	} else {
		c.width = between(r, 1, 2048);
		c.height = between(r, 1, 512);
	}
	if (ioctl(w->card, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -errno;
	p.handle = c.handle;
	p.flags = DRM_CLOEXEC | DRM_RDWR;
	if (ioctl(w->card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p)) {
		int e = -errno;

		gc.handle = c.handle;
		ioctl(w->card, DRM_IOCTL_GEM_CLOSE, &gc);
		return e;
	}
	*size = c.size;
	*handle = c.handle;
	return p.fd;
}

static int mk_heap(uint64_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (heap_fd < 0)
		return -ENOENT;
	return ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d) ? -errno : (int)d.fd;
}

static int mk_mover(uint64_t size, uint32_t flags)
{
	struct dmabuf_mover_create c = { .size = size, .flags = flags };

	if (mover_fd < 0)
		return -ENOENT;
	return ioctl(mover_fd, DMABUF_MOVER_IOC_CREATE, &c) ? -errno :
	       (int)c.fd;
}

/* A foreign dma-buf (or one of ours, through another opener) */
static void act_buf(struct worker *w, struct rng *r)
{
	struct fbuf *b = &w->buf[below(r, NBUF)];
	enum bkind kind = (enum bkind)between(r, B_VGEM, B_MOVER);
	uint64_t size = pick_size(r, 4ULL << 20);
	uint32_t handle = 0, flags = 0;
	int fd;

	switch (kind) {
	case B_VGEM:
		say(w, "BUF vgem ~%llu", (unsigned long long)size);
		fd = mk_vgem(w, r, size, &size, &handle);
		break;
	case B_UDMABUF:
		say(w, "BUF udmabuf %llu", (unsigned long long)size);
		fd = have_udmabuf ? udmabuf_dmabuf(size) : -ENOENT;
		break;
	case B_HEAP:
		say(w, "BUF heap %llu", (unsigned long long)size);
		fd = mk_heap(size);
		break;
	default:
		flags = below(r, DMABUF_MOVER_F_ALL + 1);
		say(w, "BUF mover %llu flags %#x", (unsigned long long)size,
		    flags);
		fd = mk_mover(size, flags);
		break;
	}
	count(K_BUF, fd < 0 ? fd : 0);
	if (fd < 0) {
		/* Not the driver under test: counted, not judged */
		res(w, "%s", ename(-fd));
		return;
	}
	res(w, "fd %d (%llu bytes)", fd, (unsigned long long)size);
	buf_set(w, b, fd, kind, size, handle);
	b->mover_flags = flags;
}

static void act_drop(struct worker *w, struct rng *r)
{
	struct fbuf *b = buf_pick(w, r);

	if (!b)
		return;
	say(w, "DROP %s fd %d", bkind_name[b->kind], b->fd);
	buf_drop(w, b);
	count(K_DROP, 0);
}

/* ---------------------------------------------------------------------- */
/* EXPORT                                                                 */
/* ---------------------------------------------------------------------- */

/* Metadata for @size bytes into @m: none, bytes, or an image; its length */
static uint32_t make_meta(struct rng *r, uint8_t *m, uint32_t max,
			  uint64_t size)
{
	struct virtio_vdmabuf_image img = {};
	uint32_t p = below(r, 100), len, wd, ht;

	if (p < 35 || !max)
		return 0;
	if (p < 65) {
		len = pct(r, 80) ? between(r, 1, max < 256 ? max : 256) :
		      between(r, 1, max);
		rnd_bytes(r, m, len);
		return len;
	}
	/* An image, as a producer describes it, most of the time right */
	wd = between(r, 1, 256);
	ht = (uint32_t)(size / (wd * 4ULL));
	if (!ht)
		ht = 1;
	if (ht > 4096)
		ht = 4096;
	img.type = htole32(VIRTIO_VDMABUF_META_IMAGE);
	img.version = htole16(VIRTIO_VDMABUF_IMAGE_VERSION);
	img.len = htole16(sizeof(img));
	img.width = htole32(wd);
	img.height = htole32(ht);
	img.fourcc = htole32(FOURCC('X', 'R', '2', '4'));
	img.output = htole32(below(r, 3));
	img.nr_planes = htole32(1);
	img.planes[0].stride = htole32(wd * 4);
	if (pct(r, 30))		/* a field gone wrong */
		rnd_bytes(r, (uint8_t *)&img + below(r, sizeof(img) - 4), 4);
	len = sizeof(img);
	if (pct(r, 10))
		len = below(r, sizeof(img) + 64);
	if (len > max)
		len = max;
	memset(m, 0, len);
	memcpy(m, &img, len < sizeof(img) ? len : sizeof(img));
	return len;
}

/*
 * The system heap maps with CPU syncs, so two mappings of its pages for
 * devices that may write them cannot be kept coherent, and DMA-API
 * debugging reports the second ("cacheline tracking EEXIST").  The driver
 * maps a dma-buf once per device, however many exports share it; across
 * devices it cannot help.  So heap buffers are exported on one device
 * only, this one, and so is any fd another thread may have just opened,
 * and vgem imports none (every other kind of buffer maps without CPU
 * syncs).
 */
#define HEAP_DEV	0

/* An fd that is no dma-buf, and what EXPORT of it must say */
static int not_a_dmabuf(struct worker *w, struct rng *r, struct opener *o,
			int *want, char *what, size_t wlen)
{
	int fd;

	*want = -EINVAL;
	switch (below(r, 8)) {
	case 0:
		snprintf(what, wlen, "fd -1");
		*want = -EBADF;
		return -1;
	case 1:
		snprintf(what, wlen, "fd 0x7fffffff");
		*want = -EBADF;
		return 0x7fffffff;
	case 2:
		snprintf(what, wlen, "fd 1048576");
		*want = -EBADF;
		return 1 << 20;
	case 3:
		snprintf(what, wlen, "the opener");
		return o->fd;
	case 4:
		snprintf(what, wlen, "/dev/null");
		return null_fd;
	case 5:
		snprintf(what, wlen, "a memfd");
		return memfd;
	case 6:
		if (w->card >= 0) {
			snprintf(what, wlen, "the vgem card");
			return w->card;
		}
		snprintf(what, wlen, "stdin");
		return 0;
	default:
		if (o->dev != HEAP_DEV) {
			/* It might be another thread's heap buffer */
			snprintf(what, wlen, "/dev/null");
			return null_fd;
		}
		/* Closed just now: another thread may have it again */
		fd = dup(null_fd);
		close(fd);
		snprintf(what, wlen, "closed fd %d", fd);
		*want = 1;	/* anything */
		return fd;
	}
}

static void act_export(struct worker *w, struct rng *r)
{
	struct vdmabuf_export e = {}, *ep = &e;
	struct fbuf *b = buf_pick(w, r);
	struct device *d;
	struct opener *o;
	uint32_t m = below(r, 100), meta_len;
	char what[48] = "";
	uint8_t *meta;
	bool ro = false, intr = false;
	int ret, want = 0;
	char us[40];

	o = opener_get(r);
	if (!o)
		return;
	/* A heap buffer only on the first device (HEAP_DEV) */
	if (b && b->kind == B_HEAP && o->dev != HEAP_DEV) {
		opener_put(o);
		return;
	}
	d = &devs[o->dev];
	meta = w->guard - 4096;
	meta_len = make_meta(r, meta, d->info.max_meta_len,
			     b ? b->size : PAGE);
	e.meta_len = meta_len;
	e.meta_ptr = (uintptr_t)(w->guard - meta_len);
	memmove(w->guard - meta_len, meta, meta_len);
	if (b)
		e.fd = b->fd;
	if (!b || m >= 72) {
		switch (b ? below(r, 8) : 0) {
		case 0:
			e.fd = not_a_dmabuf(w, r, o, &want, what, sizeof(what));
			break;
		case 1:
			e.flags = 1U << below(r, 32);
			snprintf(what, sizeof(what), "flags %#x", e.flags);
			want = -EINVAL;
			break;
		case 2:
			e.meta_len = pct(r, 50) ? 0xffffffffU :
				     VIRTIO_VDMABUF_MAX_META + between(r, 1, 4096);
			snprintf(what, sizeof(what), "meta_len %u", e.meta_len);
			want = -E2BIG;
			break;
		case 3:
			if (d->info.max_meta_len >= VIRTIO_VDMABUF_MAX_META) {
				e.meta_len = d->info.max_meta_len;
				e.meta_ptr = (uintptr_t)(w->guard - e.meta_len);
				break;
			}
			/* Over the device's limit, within the header's */
			e.meta_len = between(r, d->info.max_meta_len + 1,
					     VIRTIO_VDMABUF_MAX_META);
			e.meta_ptr = (uintptr_t)(w->guard - e.meta_len);
			snprintf(what, sizeof(what), "meta_len %u > %u",
				 e.meta_len, d->info.max_meta_len);
			want = -E2BIG;
			break;
		case 4:
			e.meta_len = between(r, 1, 256);
			e.meta_ptr = (uintptr_t)bad_ptr(w, r, e.meta_len, what,
							sizeof(what));
			if (pct(r, 50)) {
				/* Runs into the guard page by 8 bytes */
				e.meta_ptr = (uintptr_t)(w->guard - e.meta_len + 8);
				snprintf(what, sizeof(what), "meta past the guard");
			}
			want = -EFAULT;
			break;
		case 5:
			ep = bad_ptr(w, r, sizeof(e), what, sizeof(what));
			want = -EFAULT;
			break;
		case 6:
			/* Read-only: exported, but the UUID is not returned */
			mprotect(w->ro, PAGE, PROT_READ | PROT_WRITE);
			memcpy(w->ro, &e, sizeof(e));
			mprotect(w->ro, PAGE, PROT_READ);
			ep = (struct vdmabuf_export *)w->ro;
			snprintf(what, sizeof(what), "arg read-only");
			ro = true;
			break;
		default:
			/* Interrupted while it waits (a mover's move) */
			intr = true;
			snprintf(what, sizeof(what), "interrupted");
			break;
		}
	}
	/* A mover's fence signals by itself only after 10 s */
	if (b && b->kind == B_MOVER && (b->mover_flags & DMABUF_MOVER_F_FENCE))
		intr = true;
	say(w, "EXPORT o%d(dev%d) %s %s fd %d meta %u%s%s", o_idx(o), o->dev,
	    b ? bkind_name[b->kind] : "-", b ? "buf" : "", (int)e.fd,
	    e.meta_len, what[0] ? " " : "", what);
	if (ro) {
		/* Its RELEASED may be read before the EXPORT returns */
		pthread_mutex_lock(&o->mu);
		o->lost_maybe++;
		pthread_mutex_unlock(&o->mu);
	}
	if (intr)
		interrupt_in(w, between(r, 1, 100));
	ret = xioctl(o->fd, VDMABUF_IOCTL_EXPORT, ep);
	no_interrupt(w);
	count(K_EXPORT, ret);
	res(w, "%s", ename(-ret));
	if (ro) {
		/* EFAULT: the driver unexports it, under a UUID unknown */
		pthread_mutex_lock(&o->mu);
		o->lost_maybe--;
		if (ret == -EFAULT) {
			o->lost_bytes += b->size;
			if (o->lost_early)
				o->lost_early--;
			else
				o->lost++;
		} else if (o->lost_early > o->lost_maybe) {
			fail(w, "events only for the opener's buffers",
			     "RELEASED for a UUID this opener never had (EXPORT returned %s)",
			     ename(-ret));
		}
		pthread_mutex_unlock(&o->mu);
		if (!ret)
			fail(w, "EXPORT returns its UUID",
			     "EXPORT with a read-only argument succeeded");
		goto out;
	}
	if (want == 1) {
		if (ret)
			goto out;
		/* The fd went to another thread's buffer: fine */
	} else if (want) {
		/* What comes first: ENOBUFS of a full queue is after these */
		expect(w, "EXPORT refuses a bad argument", ret, want);
		goto out;
	}
	if (ret) {
		static const int ok[] = { ENOSPC, ENOBUFS, ENOMEM, EBUSY, 0 };

		/*
		 * EINTR: interrupted while it waited for a move, or for the
		 * reservation lock another thread's PRESENT held.  E2BIG:
		 * more pages than ranges the device takes.
		 */
		if (one_of(ret, ok) || ret == -EINTR ||
		    (ret == -E2BIG && (!b || b->size / PAGE > d->info.max_ranges)))
			goto out;
		fail(w, "EXPORT of a dma-buf", "%s of %s (%llu bytes)",
		     ename(-ret), b ? bkind_name[b->kind] : "?",
		     b ? (unsigned long long)b->size : 0ULL);
		goto out;
	}
	ADD(n_exports, 1);
	uuid_str(e.uuid, us);
	res(w, "%s, %u ranges", us, e.nr_ranges);
	if ((e.uuid[6] >> 4) != 4 || (e.uuid[8] & 0xc0) != 0x80)
		fail(w, "UUIDs are version 4", "EXPORT gave %s", us);
	if (b && want != 1 && e.size != b->size)
		fail(w, "EXPORT's size", "%llu bytes for a %s buffer of %llu",
		     (unsigned long long)e.size, bkind_name[b->kind],
		     (unsigned long long)b->size);
	if (!e.nr_ranges || e.nr_ranges > d->info.max_ranges ||
	    e.nr_ranges > e.size / PAGE)
		fail(w, "EXPORT's ranges", "%u ranges for %llu bytes (max %u)",
		     e.nr_ranges, (unsigned long long)e.size,
		     d->info.max_ranges);
	pthread_mutex_lock(&o->mu);
	if (m_find(o, e.uuid))
		fail(w, "UUIDs are new", "EXPORT gave %s again", us);
	else
		m_add(o, &e);
	pthread_mutex_unlock(&o->mu);
out:
	opener_put(o);
}

/* ---------------------------------------------------------------------- */
/* UNEXPORT, PRESENT, QUERY                                               */
/* ---------------------------------------------------------------------- */

/* A UUID of another opener's export, or a random one */
static void other_uuid(struct rng *r, struct opener *o, uint8_t *uuid,
		       char *what, size_t wlen)
{
	struct opener *p = &openers[below(r, opt.openers)];
	struct xrec *x = NULL;

	if (p != o) {
		pthread_mutex_lock(&p->mu);
		x = m_pick(p, r);
		if (x)
			memcpy(uuid, x->uuid, 16);
		pthread_mutex_unlock(&p->mu);
	}
	if (x) {
		snprintf(what, wlen, "o%d's uuid", o_idx(p));
		return;
	}
	rnd_bytes(r, uuid, 16);
	if (pct(r, 50)) {
		uuid[6] = (uuid[6] & 0x0f) | 0x40;
		uuid[8] = (uuid[8] & 0x3f) | 0x80;
	}
	snprintf(what, wlen, "random uuid");
}

/*
 * A snapshot of an export before a call: did anything change what the
 * driver may say of it while the call ran?
 */
struct snap {
	uint32_t state;
	uint32_t tries;
};

static void take_snap(struct xrec *x, struct snap *s)
{
	s->state = x->state;
	s->tries = x->unexp_tries;
}

/*
 * Was @x live and left alone by UNEXPORTs (but @mine, done) from @s to
 * now?  Under its opener's mu.
 */
static bool stayed_live(const struct xrec *x, const struct snap *s,
			uint32_t mine)
{
	return s->state == X_LIVE && x->state == X_LIVE &&
	       x->unexp_tries == s->tries + mine && !x->unexp_inflight;
}

/*
 * The UUID an UNEXPORT or QUERY names: one of an opener's exports (@x,
 * @s its state now), 85 times in a hundred, or another UUID (@x NULL,
 * @what says which), which the driver must not know.  Returns the
 * opener, held (opener_put()), or NULL if none is open.
 */
static struct opener *pick_target(struct rng *r, struct xrec **x,
				  uint8_t *uuid, struct snap *s, char *what,
				  size_t wlen)
{
	struct opener *o = opener_get(r);

	*x = NULL;
	if (!o)
		return NULL;
	pthread_mutex_lock(&o->mu);
	if (pct(r, 85))
		*x = m_pick(o, r);
	if (*x) {
		memcpy(uuid, (*x)->uuid, 16);
		take_snap(*x, s);
	}
	pthread_mutex_unlock(&o->mu);
	if (!*x)
		other_uuid(r, o, uuid, what, wlen);
	return o;
}

static void act_unexport(struct worker *w, struct rng *r)
{
	struct vdmabuf_unexport u = {}, *up = &u;
	struct xrec *x = NULL;
	struct opener *o;
	char what[48] = "", us[40];
	struct snap s = {};
	int ret, want = 0;

	o = pick_target(r, &x, u.uuid, &s, what, sizeof(what));
	if (!o)
		return;
	want = x ? 0 : -ENOENT;
	if (x && pct(r, 12)) {
		x = NULL;	/* nothing changes */
		switch (below(r, 3)) {
		case 0:
			u.flags = 1U << below(r, 32);
			snprintf(what, sizeof(what), "flags %#x", u.flags);
			want = -EINVAL;
			break;
		case 1:
			u.padding = (uint32_t)rnd(r) | 1;
			snprintf(what, sizeof(what), "padding %#x", u.padding);
			want = -EINVAL;
			break;
		default:
			up = bad_ptr(w, r, sizeof(u), what, sizeof(what));
			want = -EFAULT;
			break;
		}
	}
	if (x) {
		pthread_mutex_lock(&o->mu);
		x->unexp_tries++;
		x->unexp_inflight++;
		pthread_mutex_unlock(&o->mu);
	}
	uuid_str(u.uuid, us);
	say(w, "UNEXPORT o%d %s%s%s", o_idx(o), us, what[0] ? " " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_UNEXPORT, up);
	count(K_UNEXPORT, ret);
	res(w, "%s", ename(-ret));
	if (!x) {
		expect(w, "UNEXPORT refuses a bad argument", ret, want);
		goto out;
	}
	pthread_mutex_lock(&o->mu);
	x->unexp_inflight--;
	if (!ret) {
		ADD(n_unexports, 1);
		if (x->state == X_LIVE)
			x->state = X_UNEXPORTED;
	} else if (ret == -ENOENT) {
		/* Not live: unexported by another, or so it was */
		if (stayed_live(x, &s, 1))
			fail(w, "UNEXPORT of a live export",
			     "ENOENT for %s, live and left alone", us);
	} else if (ret != -EBUSY && ret != -ENOMEM && ret != -ENOSPC) {
		fail(w, "UNEXPORT of a live export", "%s for %s",
		     ename(-ret), us);
	}
	pthread_mutex_unlock(&o->mu);
out:
	opener_put(o);
}

static void act_present(struct worker *w, struct rng *r)
{
	struct vdmabuf_present p = {}, *pp = &p;
	struct vdmabuf_rect *rects;
	struct xrec *x = NULL;
	struct device *d;
	struct opener *o;
	char what[48] = "", us[40];
	struct snap s = {};
	int ret, want = 0;
	uint32_t i;

	o = opener_get(r);
	if (!o)
		return;
	d = &devs[o->dev];
	pthread_mutex_lock(&o->mu);
	if (pct(r, 90))
		x = m_pick(o, r);
	if (x) {
		memcpy(p.uuid, x->uuid, 16);
		take_snap(x, &s);
	}
	pthread_mutex_unlock(&o->mu);
	p.seq = pct(r, 90) ? ++w->seqno : rnd(r);
	if (pct(r, 50) && d->info.max_rects)
		p.nr_rects = between(r, 1, d->info.max_rects);
	rects = (struct vdmabuf_rect *)(w->guard - p.nr_rects * sizeof(*rects));
	for (i = 0; i < p.nr_rects; i++) {
		rects[i].x = pct(r, 90) ? below(r, 2048) : (uint32_t)rnd(r);
		rects[i].y = pct(r, 90) ? below(r, 2048) : (uint32_t)rnd(r);
		rects[i].width = pct(r, 90) ? below(r, 2048) : (uint32_t)rnd(r);
		rects[i].height = pct(r, 90) ? below(r, 2048) : (uint32_t)rnd(r);
	}
	p.rects_ptr = (uintptr_t)rects;
	if (!x) {
		other_uuid(r, o, p.uuid, what, sizeof(what));
		want = -ENOENT;
	} else if (pct(r, 12)) {
		x = NULL;
		switch (below(r, 5)) {
		case 0:
			p.flags = 1U << below(r, 32);
			snprintf(what, sizeof(what), "flags %#x", p.flags);
			want = -EINVAL;
			break;
		case 1:
			p.nr_rects = pct(r, 50) ? 0xffffffffU :
				     VIRTIO_VDMABUF_MAX_RECTS + between(r, 1, 64);
			snprintf(what, sizeof(what), "nr_rects %u", p.nr_rects);
			want = -E2BIG;
			break;
		case 2:
			if (d->info.max_rects >= VIRTIO_VDMABUF_MAX_RECTS) {
				pp = bad_ptr(w, r, sizeof(p), what, sizeof(what));
				want = -EFAULT;
				break;
			}
			p.nr_rects = between(r, d->info.max_rects + 1,
					     VIRTIO_VDMABUF_MAX_RECTS);
			p.rects_ptr = (uintptr_t)(w->guard - p.nr_rects * 16);
			snprintf(what, sizeof(what), "nr_rects %u > %u",
				 p.nr_rects, d->info.max_rects);
			want = -E2BIG;
			break;
		case 3:
			p.nr_rects = between(r, 1, VIRTIO_VDMABUF_MAX_RECTS);
			p.rects_ptr = (uintptr_t)bad_ptr(w, r, p.nr_rects * 16,
							 what, sizeof(what));
			want = -EFAULT;
			break;
		default:
			pp = bad_ptr(w, r, sizeof(p), what, sizeof(what));
			want = -EFAULT;
			break;
		}
	}
	if (x) {
		pthread_mutex_lock(&o->mu);
		pend_add(x, p.seq);
		x->present_inflight++;
		pthread_mutex_unlock(&o->mu);
	}
	uuid_str(p.uuid, us);
	say(w, "PRESENT o%d %s seq %llu rects %u%s%s", o_idx(o), us,
	    (unsigned long long)p.seq, p.nr_rects, what[0] ? " " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_PRESENT, pp);
	count(K_PRESENT, ret);
	res(w, "%s", ename(-ret));
	if (!x) {
		/* A full event queue is checked before the UUID */
		if (!(want == -ENOENT && ret == -ENOBUFS))
			expect(w, "PRESENT refuses a bad argument", ret, want);
		goto out;
	}
	pthread_mutex_lock(&o->mu);
	x->present_inflight--;
	if (ret) {
		if (!x->npend) {
			fail(w, "a FRAME_DONE per PRESENT",
			     "%s had its FRAME_DONE but failed (%s)", us,
			     ename(-ret));
		} else {
			pend_del(x, p.seq);
		}
		if (ret == -ENOENT && stayed_live(x, &s, 0))
			fail(w, "PRESENT of a live export",
			     "ENOENT for %s, live and left alone", us);
		else if (ret != -ENOENT && ret != -ENOBUFS && ret != -EBUSY &&
			 ret != -ENOMEM && ret != -EINTR && !(ret == -EOPNOTSUPP &&
			 !(d->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT))))
			fail(w, "PRESENT of a live export", "%s for %s",
			     ename(-ret), us);
	} else {
		o->presents_ok++;
		ADD(n_presents, 1);
		/* Its FRAME_DONE comes before RELEASED */
		if (x->state == X_RELEASED && x->npend > x->present_inflight &&
		    !LOAD(o->readers))
			fail(w, "FRAME_DONE before RELEASED",
			     "PRESENT of %s succeeded, and RELEASED came before its FRAME_DONE",
			     us);
	}
	pthread_mutex_unlock(&o->mu);
out:
	opener_put(o);
}

static void act_query(struct worker *w, struct rng *r)
{
	struct vdmabuf_query q = {}, *qp = &q;
	struct xrec *x = NULL;
	struct opener *o;
	char what[48] = "", us[40];
	struct snap s = {};
	int ret, want = 0;

	o = pick_target(r, &x, q.uuid, &s, what, sizeof(what));
	if (!o)
		return;
	want = x ? 0 : -ENOENT;
	if (x && pct(r, 10)) {
		x = NULL;
		qp = bad_ptr(w, r, sizeof(q), what, sizeof(what));
		want = -EFAULT;
	}
	uuid_str(q.uuid, us);
	say(w, "QUERY o%d %s%s%s", o_idx(o), us, what[0] ? " " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_QUERY, qp);
	count(K_QUERY, ret);
	res(w, "%s state %u", ename(-ret), q.state);
	if (!x) {
		expect(w, "QUERY refuses a bad argument", ret, want);
		goto out;
	}
	pthread_mutex_lock(&o->mu);
	if (ret == -ENOENT) {
		if (s.state != X_RELEASED && stayed_live(x, &s, 0))
			fail(w, "QUERY of a live export",
			     "ENOENT for %s, live and left alone", us);
	} else if (ret) {
		fail(w, "QUERY of an export", "%s for %s", ename(-ret), us);
	} else if (q.size != x->size || q.nr_ranges != x->nr_ranges ||
		   q.padding) {
		fail(w, "QUERY of an export",
		     "%s: size %llu ranges %u padding %u, EXPORT said %llu and %u",
		     us, (unsigned long long)q.size, q.nr_ranges, q.padding,
		     (unsigned long long)x->size, x->nr_ranges);
	} else if (q.state != VDMABUF_STATE_EXPORTED &&
		   q.state != VDMABUF_STATE_UNEXPORTED) {
		fail(w, "QUERY's state", "state %u for %s", q.state, us);
	} else if (s.state == X_UNEXPORTED &&
		   q.state != VDMABUF_STATE_UNEXPORTED) {
		fail(w, "QUERY's state", "%s unexported, QUERY says state %u",
		     us, q.state);
	} else if (stayed_live(x, &s, 0) && q.state != VDMABUF_STATE_EXPORTED) {
		fail(w, "QUERY's state", "%s live, QUERY says state %u", us,
		     q.state);
	}
	pthread_mutex_unlock(&o->mu);
out:
	opener_put(o);
}

/* ---------------------------------------------------------------------- */
/* INFO, OUTPUTS, events, poll, unknown ioctls                            */
/* ---------------------------------------------------------------------- */

static bool same_limits(const struct vdmabuf_info *a,
			const struct vdmabuf_info *b)
{
	return a->features == b->features && a->max_ranges == b->max_ranges &&
	       a->max_meta_len == b->max_meta_len &&
	       a->max_exports == b->max_exports &&
	       a->max_rects == b->max_rects &&
	       a->max_export_size == b->max_export_size &&
	       a->max_total_size == b->max_total_size &&
	       a->max_events == b->max_events;
}

static void act_info(struct worker *w, struct rng *r)
{
	struct vdmabuf_info info = {}, *ip = &info;
	struct opener *o = opener_get(r);
	char what[48] = "";
	int ret;

	if (!o)
		return;
	if (pct(r, 15))
		ip = bad_ptr(w, r, sizeof(info), what, sizeof(what));
	say(w, "INFO o%d%s%s", o_idx(o), what[0] ? " " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_INFO, ip);
	count(K_INFO, ret);
	res(w, "%s live %llu queued %u", ename(-ret),
	    (unsigned long long)info.live_exports, info.queued_events);
	if (ip != &info)
		expect(w, "INFO refuses a bad pointer", ret, -EFAULT);
	else if (expect(w, "INFO", ret, 0) &&
		 !same_limits(&info, &devs[o->dev].info))
		fail(w, "INFO's limits", "changed during the run");
	opener_put(o);
}

static void act_outputs(struct worker *w, struct rng *r)
{
	struct vdmabuf_outputs out = {}, *op = &out;
	struct opener *o = opener_get(r);
	char what[48] = "";
	uint32_t i;
	int ret;

	if (!o)
		return;
	if (pct(r, 15))
		op = bad_ptr(w, r, sizeof(out), what, sizeof(what));
	say(w, "OUTPUTS o%d%s%s", o_idx(o), what[0] ? " " : "", what);
	ret = xioctl(o->fd, VDMABUF_IOCTL_OUTPUTS, op);
	count(K_OUTPUTS, ret);
	res(w, "%s, %u outputs", ename(-ret), out.nr_outputs);
	if (op != &out) {
		expect(w, "OUTPUTS refuses a bad pointer", ret, -EFAULT);
	} else if (expect(w, "OUTPUTS", ret, 0)) {
		if (out.nr_outputs > VDMABUF_MAX_OUTPUTS)
			fail(w, "OUTPUTS", "%u outputs", out.nr_outputs);
		for (i = out.nr_outputs; i < VDMABUF_MAX_OUTPUTS; i++)
			if (out.outputs[i].width || out.outputs[i].height)
				fail(w, "OUTPUTS", "output %u past %u is not zero",
				     i, out.nr_outputs);
	}
	opener_put(o);
}

/*
 * read() from @o into @buf (@count bytes) and process what came; -errno
 * or the bytes read.  @racing: not as the one ordered reader.
 */
static ssize_t read_events(struct worker *w, struct opener *o, void *buf,
			   size_t count, bool racing, bool valid)
{
	uint64_t e0 = 0;
	bool strict = false;
	ssize_t n, i;

	if (racing) {
		ADD(o->racing, 1);
		ADD(o->racing_epoch, 1);
	} else {
		pthread_mutex_lock(&o->rd);
		e0 = LOAD(o->racing_epoch);
		strict = !LOAD(o->racing);
	}
	ADD(o->readers, 1);
	n = read(o->fd, buf, count);
	if (n < 0)
		n = -errno;
	if (n > 0 && valid) {
		pthread_mutex_lock(&o->mu);
		strict = strict && !LOAD(o->racing) &&
			 LOAD(o->racing_epoch) == e0;
		for (i = 0; i + EV_SIZE <= n; i += EV_SIZE)
			ev_one(w, o, (struct vdmabuf_event *)((uint8_t *)buf + i),
			       strict);
		pthread_mutex_unlock(&o->mu);
	}
	ADD(o->readers, -1);
	if (racing) {
		ADD(o->racing_epoch, 1);
		ADD(o->racing, -1);
	} else {
		pthread_mutex_unlock(&o->rd);
	}
	return n;
}

static void act_read(struct worker *w, struct rng *r)
{
	struct opener *o = opener_get(r);
	bool racing = pct(r, 10), valid = true, blocking = false;
	uint8_t *buf = w->rbuf;
	uint32_t m = below(r, 100), j = 0;
	size_t cnt = EV_SIZE * between(r, 1, 64);
	char what[48] = "";
	int want = 0;
	ssize_t n;

	if (!o)
		return;
	if (m < 10) {
		cnt = EV_SIZE * between(r, 1, 64) + between(r, 1, EV_SIZE - 1);
	} else if (m < 15) {
		cnt = below(r, EV_SIZE);
		want = -EINVAL;
	} else if (m < 22) {
		/* j whole records fit before the guard page */
		j = below(r, 4);
		buf = w->rbuf + RBUF_LEN - EV_SIZE * j - 8;
		cnt = EV_SIZE * (j + 8);
		snprintf(what, sizeof(what), "%u records before the guard", j);
	} else if (m < 28) {
		buf = bad_ptr(w, r, EV_SIZE, what, sizeof(what));
		if (buf == w->guard - EV_SIZE / 2)
			buf = hole;
		valid = false;
	} else if (m < 31) {
		/* Huge count: what does not fit faults in the guard page */
		cnt = pct(r, 50) ? SSIZE_MAX : 1 << 30;
		buf = w->rbuf + RBUF_LEN - EV_SIZE * 4;
		snprintf(what, sizeof(what), "count %zu", cnt);
	}
	if (!o->nonblock && want != -EINVAL) {
		struct pollfd p = { .fd = o->fd, .events = POLLIN };

		/* Blocking: only if something is there, or to be interrupted */
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) {
			if (!pct(r, 10)) {
				opener_put(o);
				return;
			}
		}
		blocking = true;
	}
	say(w, "READ o%d%s %zu bytes%s%s%s", o_idx(o), racing ? " racing" : "",
	    cnt, blocking ? " blocking" : "", what[0] ? ", " : "", what);
	if (blocking)
		interrupt_in(w, between(r, 10, 60));
	n = read_events(w, o, buf, cnt, racing, valid);
	no_interrupt(w);
	count(K_READ, n < 0 ? (int)n : 0);
	res(w, "%zd", n);
	if (want) {
		expect(w, "read() of less than a record", (int)n, want);
	} else if (n == 0) {
		fail(w, "read() returns records or an error", "it returned 0");
	} else if (n > 0 && (!valid || n % EV_SIZE || (size_t)n > cnt)) {
		fail(w, "read() returns whole records", "%zd bytes for %zu%s",
		     n, cnt, valid ? "" : " into a bad pointer");
	} else if (n < 0 && n != -EAGAIN && n != -EINTR && n != -EFAULT) {
		fail(w, "read()", "%s", ename((int)-n));
	} else if (n == -EFAULT && valid && !j && buf == w->rbuf) {
		fail(w, "read()", "EFAULT into a good buffer");
	}
	opener_put(o);
}

static void act_poll(struct worker *w, struct rng *r)
{
	struct opener *o = opener_get(r), *o2 = NULL;
	struct pollfd p[2] = {};
	int n, i, np = 1, tmo = below(r, 20);

	if (!o)
		return;
	p[0].fd = o->fd;
	p[0].events = pct(r, 50) ? POLLIN | POLLPRI : POLLIN;
	if (pct(r, 30)) {
		o2 = &openers[below(r, opt.openers)];
		if (o2 == o || pthread_rwlock_tryrdlock(&o2->rw)) {
			o2 = NULL;
		} else if (o2->fd < 0) {
			opener_put(o2);
			o2 = NULL;
		} else {
			p[1].fd = o2->fd;
			p[1].events = POLLIN | POLLPRI | POLLOUT;
			np = 2;
		}
	}
	say(w, "POLL o%d%s %d ms", o_idx(o), o2 ? " and another" : "", tmo);
	n = poll(p, np, tmo);
	count(K_POLL, n < 0 ? -errno : 0);
	res(w, "%d: %#x %#x", n, p[0].revents, p[1].revents);
	if (n < 0 && errno != EINTR)
		fail(w, "poll()", "%s", strerror(errno));
	for (i = 0; i < np; i++)
		if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL))
			fail(w, "poll() of a live device", "revents %#x",
			     p[i].revents);
	if (p[0].revents & POLLPRI) {
		struct vdmabuf_outputs out;

		/* The outputs changed: seen, so POLLPRI ends */
		expect(w, "OUTPUTS", xioctl(o->fd, VDMABUF_IOCTL_OUTPUTS, &out),
		       0);
	}
	if (o2)
		opener_put(o2);
	opener_put(o);
}

static bool known_cmd(unsigned long cmd)
{
	return cmd == VDMABUF_IOCTL_ALLOC || cmd == VDMABUF_IOCTL_EXPORT ||
	       cmd == VDMABUF_IOCTL_UNEXPORT || cmd == VDMABUF_IOCTL_PRESENT ||
	       cmd == VDMABUF_IOCTL_QUERY || cmd == VDMABUF_IOCTL_INFO ||
	       cmd == VDMABUF_IOCTL_OUTPUTS;
}

static void act_ioctl(struct worker *w, struct rng *r)
{
	static const unsigned long known[] = {
		VDMABUF_IOCTL_ALLOC, VDMABUF_IOCTL_EXPORT,
		VDMABUF_IOCTL_UNEXPORT, VDMABUF_IOCTL_PRESENT,
		VDMABUF_IOCTL_QUERY, VDMABUF_IOCTL_INFO, VDMABUF_IOCTL_OUTPUTS,
	};
	struct opener *o = opener_get(r);
	struct fbuf *b = buf_pick(w, r);
	void *arg = w->scratch;
	unsigned long cmd;
	char what[48] = "";
	int fd, ret;

	if (!o)
		return;
	fd = o->fd;
	switch (below(r, 5)) {
	case 0:
		/* Ours, with the size or direction of another */
		cmd = known[below(r, ARRAY_SIZE(known))];
		cmd = _IOC(_IOC_DIR(cmd) ^ between(r, 0, 3), _IOC_TYPE(cmd),
			   _IOC_NR(cmd), _IOC_SIZE(cmd) ^ between(r, 0, 255));
		break;
	case 1:
		cmd = _IOC(below(r, 4), VDMABUF_IOCTL_BASE, between(r, 0x07, 0xff),
			   below(r, 1 << 14));
		break;
	case 2:
		cmd = pct(r, 50) ? DMA_BUF_IOCTL_SYNC : DRM_IOCTL_VERSION;
		break;
	case 3:
		/* Ours on a dma-buf */
		if (b) {
			fd = b->fd;
			snprintf(what, sizeof(what), " on a dma-buf");
		}
		cmd = known[below(r, ARRAY_SIZE(known))];
		break;
	default:
		cmd = _IOC(below(r, 4), below(r, 256), below(r, 256),
			   below(r, 1 << 14));
		/* Only the device's own magic reaches the driver unseen */
		cmd = (cmd & ~(0xffUL << _IOC_TYPESHIFT)) |
		      ((unsigned long)VDMABUF_IOCTL_BASE << _IOC_TYPESHIFT);
		break;
	}
	if (fd == o->fd && known_cmd(cmd))
		cmd ^= 1UL << _IOC_SIZESHIFT;
	rnd_bytes(r, w->scratch, 256);
	if (pct(r, 20))
		arg = bad_ptr(w, r, 64, what + strlen(what),
			      sizeof(what) - strlen(what));
	say(w, "IOCTL o%d cmd %#lx%s", o_idx(o), cmd, what);
	ret = xioctl(fd, cmd, arg);
	count(K_IOCTL, ret);
	res(w, "%s", ename(-ret));
	expect(w, "unknown ioctls fail with ENOTTY", ret, -ENOTTY);
	opener_put(o);
}

/* ---------------------------------------------------------------------- */
/* Mappings, fences, moves                                                */
/* ---------------------------------------------------------------------- */

static void act_map(struct worker *w, struct rng *r)
{
	struct fbuf *b = buf_pick(w, r);
	struct dma_buf_sync sy = {};
	uint64_t len;
	bool priv, over;
	uint8_t *p;
	int ret;

	if (!b || b->kind == B_MOVER)
		return;
	priv = pct(r, 10);
	over = pct(r, 10);
	len = b->size + (over ? PAGE : 0);
	say(w, "MAP %s fd %d %llu bytes%s", bkind_name[b->kind], b->fd,
	    (unsigned long long)len, priv ? " private" : "");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 priv ? MAP_PRIVATE : MAP_SHARED, b->fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	count(K_MAP, ret);
	res(w, "%s", ename(-ret));
	if (b->kind == B_ALLOC && (priv || over))
		expect(w, "ALLOC buffers map shared and whole", ret, -EINVAL);
	else if (b->kind == B_ALLOC && ret)
		fail(w, "mmap() of an ALLOC buffer", "%s", ename(-ret));
	if (ret)
		return;
	sy.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
	if (pct(r, 10))
		sy.flags = (uint64_t)rnd(r);
	/* It waits for a vgem fence (10 s at most): interrupted sooner */
	interrupt_in(w, 50);
	ret = xioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sy);
	no_interrupt(w);
	if (ret && (sy.flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK) == 0 &&
	    ret != -EINTR && b->kind == B_ALLOC)
		fail(w, "CPU access to an ALLOC buffer", "SYNC START: %s",
		     ename(-ret));
	if (!priv || b->kind != B_ALLOC) {
		p[0] ^= 1;
		p[b->size - 1] ^= 1;
	}
	sy.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	xioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sy);
	munmap(p, len);
}

/* Signal fence @i of the thread's vgem card, if any */
static int fence_signal(struct worker *w, uint32_t i)
{
	struct drm_vgem_fence_signal fs = {};
	int ret;

	if (!w->fences[i])
		return 0;
	fs.fence = w->fences[i];
	w->fences[i] = 0;
	ret = xioctl(w->card, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs);
	/* Signalled by vgem itself after 10 s, or gone with its object */
	return ret == -ETIMEDOUT || ret == -ENOENT ? 0 : ret;
}

/*
 * A write (or read) fence of vgem on a buffer, which PRESENT then waits
 * for; or one signalled.  A buffer vgem did not make is imported first,
 * but for a heap buffer (HEAP_DEV): vgem's import maps it for vgem's
 * device.
 */
static void act_fence(struct worker *w, struct rng *r)
{
	struct drm_vgem_fence_attach fa = {};
	struct drm_prime_handle ph = {};
	struct fbuf *b = buf_pick(w, r);
	uint32_t i = below(r, NFENCE);
	int ret;

	if (w->card < 0 || !b)
		return;
	if (pct(r, 40) || b->kind == B_HEAP) {
		say(w, "FENCE signal %u", w->fences[i]);
		ret = fence_signal(w, i);
		count(K_FENCE, ret);
		res(w, "%s", ename(-ret));
		return;
	}
	if (!b->handle) {
		ph.fd = b->fd;
		say(w, "FENCE import %s fd %d into vgem", bkind_name[b->kind],
		    b->fd);
		/* A mover's import waits for its move's fence */
		interrupt_in(w, 100);
		ret = xioctl(w->card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph);
		no_interrupt(w);
		count(K_FENCE, ret);
		res(w, "%s", ename(-ret));
		if (ret)
			return;	/* vgem's business */
		b->handle = ph.handle;
	}
	fence_signal(w, i);
	fa.handle = b->handle;
	fa.flags = pct(r, 80) ? VGEM_FENCE_WRITE : 0;
	say(w, "FENCE attach %s to %s handle %u", fa.flags ? "write" : "read",
	    bkind_name[b->kind], b->handle);
	ret = xioctl(w->card, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa);
	count(K_FENCE, ret);
	res(w, "%s fence %u", ename(-ret), fa.out_fence);
	if (!ret)
		w->fences[i] = fa.out_fence;
}

static void act_mover(struct worker *w, struct rng *r)
{
	struct dmabuf_mover_op op = {};
	struct fbuf *b = buf_pick(w, r);
	unsigned long cmd;
	int ret;

	if (!b || b->kind != B_MOVER)
		return;
	cmd = pct(r, 50) ? DMABUF_MOVER_IOC_MOVE : DMABUF_MOVER_IOC_SIGNAL;
	op.fd = b->fd;
	say(w, "MOVER %s fd %d", cmd == DMABUF_MOVER_IOC_MOVE ? "move" : "signal",
	    b->fd);
	ret = xioctl(mover_fd, cmd, &op);
	count(K_MOVER, ret);
	/* EBUSY: pinned (exported); ENOENT: no fence to signal */
	res(w, "%s moves %u pins %u", ename(-ret), op.moves, op.pins);
}

/* ---------------------------------------------------------------------- */
/* Openers closed, exact checks, children killed                          */
/* ---------------------------------------------------------------------- */

static void act_reopen(struct worker *w, struct rng *r)
{
	struct opener *o = &openers[below(r, opt.openers)];
	int dev = pct(r, 70) ? o->dev : (int)below(r, ndevs);
	bool nonblock = pct(r, 50);
	int ret;

	say(w, "REOPEN o%d on dev%d%s", o_idx(o), dev,
	    nonblock ? " nonblocking" : "");
	if (!opener_wrlock(o, 200)) {
		res(w, "busy");
		return;
	}
	if (o->fd >= 0)
		close(o->fd);	/* unexports what is live */
	o->fd = -1;
	m_reset(o);
	o->tainted = false;
	ret = opener_open(o, dev, nonblock);
	count(K_REOPEN, ret);
	res(w, "%s", ename(-ret));
	cur_opener = o;
	expect(w, "open()", ret, 0);
	pthread_rwlock_unlock(&o->rw);
}

/* INFO's counters against the model, nothing else running on @o */
static void check_info(struct worker *w, struct opener *o, bool quiet)
{
	struct vdmabuf_info info;
	uint64_t live, bytes;
	int ret;

	ret = vd_info(o->fd, &info);
	if (!expect(w, "INFO", ret, 0))
		return;
	pthread_mutex_lock(&o->mu);
	live = o->nlive + o->lost;
	bytes = o->live_bytes + o->lost_bytes;
	if (!same_limits(&info, &devs[o->dev].info))
		fail(w, "INFO's limits", "changed during the run");
	/* A RELEASED not read yet is no longer counted */
	if (info.live_exports > live ||
	    info.live_exports + info.queued_events < live)
		fail(w, "INFO's live exports",
		     "o%d: %llu live, %u events queued; the model has %llu not released (%u lost)",
		     o_idx(o), (unsigned long long)info.live_exports,
		     info.queued_events, (unsigned long long)live, o->lost);
	else if (info.live_bytes > bytes)
		fail(w, "INFO's live bytes",
		     "o%d: %llu bytes live; the model has %llu not released",
		     o_idx(o), (unsigned long long)info.live_bytes,
		     (unsigned long long)bytes);
	pthread_mutex_unlock(&o->mu);
	if (!quiet)
		res(w, "live %llu queued %u alloc %llu",
		    (unsigned long long)info.live_exports, info.queued_events,
		    (unsigned long long)info.alloc_bytes);
}

static void act_check(struct worker *w, struct rng *r)
{
	struct opener *o = &openers[below(r, opt.openers)];

	say(w, "CHECK o%d", o_idx(o));
	if (!opener_wrlock(o, 100)) {
		res(w, "busy");
		return;
	}
	if (o->fd >= 0) {
		cur_opener = o;
		check_info(w, o, false);
		count(K_CHECK, 0);
	}
	pthread_rwlock_unlock(&o->rw);
}

/*
 * The child: an opener of its own making requests until it is killed.
 * Only system calls here (it was forked from a threaded process).  Before
 * each request it writes a byte to fd 3, the parent's cue.
 */
static void __attribute__((noreturn))
child_main(uint64_t seed, const char *path)
{
	int bufs[4] = { -1, -1, -1, -1 }, dev;
	uint8_t uuids[8][16] = {};
	uint64_t seq = 0;
	struct rng r;
	uint32_t k;

	rng_init(&r, seed);
	dev = open(path, O_RDWR | O_CLOEXEC | (pct(&r, 50) ? O_NONBLOCK : 0));
	if (dev < 0)
		_exit(1);
	for (;;) {
		struct vdmabuf_alloc a = {};
		struct vdmabuf_export e = {};
		struct vdmabuf_present p = {};
		struct vdmabuf_unexport u = {};
		struct vdmabuf_event ev[8];
		struct pollfd pf = { .fd = dev, .events = POLLIN };
		int *b = &bufs[below(&r, 4)];
		uint8_t *uu = uuids[below(&r, 8)];

		if (write(3, "x", 1) != 1)
			_exit(0);
		k = below(&r, 10);
		switch (k) {
		case 0:
		case 1:
			a.size = PAGE * between(&r, 1, 64);
			if (pct(&r, 5))
				a.size = 16ULL << 20;	/* killed while it allocates */
			if (!ioctl(dev, VDMABUF_IOCTL_ALLOC, &a)) {
				if (*b >= 0)
					close(*b);
				*b = a.fd;
			}
			break;
		case 2:
		case 3:
		case 4:
			e.fd = *b;
			if (!ioctl(dev, VDMABUF_IOCTL_EXPORT, &e))
				memcpy(uu, e.uuid, 16);
			break;
		case 5:
		case 6:
			memcpy(p.uuid, uu, 16);
			p.seq = ++seq;
			ioctl(dev, VDMABUF_IOCTL_PRESENT, &p);
			break;
		case 7:
			memcpy(u.uuid, uu, 16);
			ioctl(dev, VDMABUF_IOCTL_UNEXPORT, &u);
			break;
		case 8:
			if (poll(&pf, 1, 0) == 1 &&
			    read(dev, ev, sizeof(ev)) < 0)
				break;
			break;
		default:
			if (*b >= 0)
				close(*b);
			*b = -1;
			break;
		}
	}
}

/* Reap @pid within @ms: 0, or -ETIMEDOUT */
static int reap(pid_t pid, int *status, int ms)
{
	uint64_t end = now_ms() + ms;

	do {
		pid_t p = waitpid(pid, status, WNOHANG);

		if (p == pid)
			return 0;
		if (p < 0 && errno != EINTR)
			return -errno;
		usleep(2000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

static void act_child(struct worker *w, struct rng *r)
{
	uint32_t ticks = between(r, 1, CHILD_TICKS), got = 0;
	uint64_t seed = rnd(r), end;
	int dev = below(r, ndevs), pfd[2], status = 0, ret;
	uint32_t delay_us = pct(r, 50) ? below(r, 3000) : 0;
	char c[64];
	pid_t pid;

	if (opt.no_child || __atomic_exchange_n(&child_busy, 1, __ATOMIC_ACQ_REL))
		return;
	say(w, "CHILD on dev%d, killed after %u requests and %u us", dev,
	    ticks, delay_us);
	if (pipe2(pfd, O_CLOEXEC)) {
		fail(w, "pipe2()", "%s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail(w, "fork()", "%s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (!pid) {
		dup2(pfd[1], 3);
		close_range(4, ~0U, 0);
		child_main(seed, devs[dev].path);
	}
	close(pfd[1]);
	end = now_ms() + 2000;
	while (got < ticks && now_ms() < end) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(pfd[0], c, ticks - got < sizeof(c) ? ticks - got :
			 sizeof(c));
		if (n <= 0)
			break;	/* it died */
		got += n;
	}
	if (delay_us)
		usleep(delay_us);
	kill(pid, SIGKILL);
	ADD(n_children, 1);
	ADD(n_child_ticks, got);
	close(pfd[0]);
	/* The driver's waits are killable: it dies at once */
	ret = reap(pid, &status, 30000);
	count(K_CHILD, ret);
	res(w, "%u requests, %s", got, ename(-ret));
	if (ret) {
		char path[64], stack[1024] = "";
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, stack, sizeof(stack) - 1);
			stack[n > 0 ? n : 0] = 0;
			close(fd);
		}
		fail(w, "a killed opener dies",
		     "child %d not reaped 30 s after SIGKILL: %s; kernel stack: %s",
		     (int)pid, ename(-ret), stack);
	} else if (!WIFSIGNALED(status) && WEXITSTATUS(status)) {
		fail(w, "the child opener", "exited %d (could not open %s)",
		     WEXITSTATUS(status), devs[dev].path);
	}
out:
	STORE(child_busy, 0);
}

/* ---------------------------------------------------------------------- */
/* Threads                                                                */
/* ---------------------------------------------------------------------- */

static uint32_t pick_kind(struct rng *r)
{
	uint32_t v, k, total = 0;

	for (k = 0; k < NR_KINDS; k++)
		total += kinds[k].weight;
	v = below(r, total);
	for (k = 0; k < NR_KINDS - 1; k++) {
		if (v < kinds[k].weight)
			return k;
		v -= kinds[k].weight;
	}
	return NR_KINDS - 1;
}

/*
 * --faults: open every opener whose model deviated afresh (closing it
 * unexports what it has), as fuzz_host goes on with a fresh device.
 */
static void heal(void)
{
	uint32_t i;

	for (i = 0; i < opt.openers; i++) {
		struct opener *o = &openers[i];

		if (!LOAD(o->tainted) || !opener_wrlock(o, 200))
			continue;
		if (o->tainted) {
			if (o->fd >= 0)
				close(o->fd);
			o->fd = -1;
			m_reset(o);
			if (!opener_open(o, o->dev, o->nonblock))
				o->tainted = false;
		}
		pthread_rwlock_unlock(&o->rw);
	}
}

static void run_action(struct worker *w, uint64_t i)
{
	struct rng r;
	uint64_t t0;
	uint32_t k;

	rng_action(&r, opt.seed, i);
	k = pick_kind(&r);
	w->cur = i;
	w->desc[0] = 0;
	w->res[0] = 0;
	t0 = now_ns();
	STORE(w->act_start, t0 / 1000000 ? t0 / 1000000 : 1);
	kinds[k].fn(w, &r);
	STORE(w->act_start, 0);
	no_interrupt(w);
	ADD(n_us[k], (now_ns() - t0) / 1000);
	cur_opener = NULL;
	if (opt.faults)
		heal();
	if (!w->desc[0])
		snprintf(w->desc, sizeof(w->desc), "%s: nothing to do",
			 kinds[k].name);
	w->hist[w->nhist % NHIST].i = i;
	memcpy(w->hist[w->nhist % NHIST].desc, w->desc, sizeof(w->desc));
	memcpy(w->hist[w->nhist % NHIST].res, w->res, sizeof(w->res));
	w->nhist++;
	if (opt.verbose) {
		pthread_mutex_lock(&out_mu);
		printf("# [%llu] t%d %s => %s\n", (unsigned long long)i, w->id,
		       w->desc, w->res);
		pthread_mutex_unlock(&out_mu);
	}
}

static void sig_nop(int sig)
{
	(void)sig;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	uint64_t i;

	for (i = w->id; i < opt.requests && !LOAD(stop); i += opt.threads) {
		run_action(w, i);
		ADD(n_done, 1);
	}
	STORE(w->finished, true);
	return NULL;
}

static int worker_init(struct worker *w, int id)
{
	uint32_t i;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->card = have_vgem ? vgem_open() : -1;
	for (i = 0; i < NBUF; i++)
		w->buf[i].fd = -1;
	w->scratch = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->rbuf = mmap(NULL, RBUF_LEN + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->scratch == MAP_FAILED || w->ro == MAP_FAILED ||
	    w->rbuf == MAP_FAILED)
		return -ENOMEM;
	w->guard = w->scratch + 2 * PAGE;
	mprotect(w->guard, PAGE, PROT_NONE);
	mprotect(w->rbuf + RBUF_LEN, PAGE, PROT_NONE);
	return 0;
}

static void worker_fini(struct worker *w)
{
	uint32_t i;

	for (i = 0; i < NBUF; i++)
		buf_drop(w, &w->buf[i]);
	if (w->card >= 0)
		close(w->card);
	w->card = -1;
	munmap(w->scratch, 3 * PAGE);
	munmap(w->ro, PAGE);
	munmap(w->rbuf, RBUF_LEN + PAGE);
}

/* ---------------------------------------------------------------------- */
/* Watchdogs                                                              */
/* ---------------------------------------------------------------------- */

/* The kernel log since the start */
static int kmsg = -1;

/* Print what the kernel logged since the last call, as comments. */
static void kmsg_dump(const char *prefix, uint32_t max, bool *bad)
{
	static const char * const pat[] = {
		"BUG:", "WARNING:", "Oops", "general protection",
		"Call Trace", "KASAN", "UBSAN", "possible circular",
		"blocked for more than", "RELEASED for a live buffer",
		"FRAME_DONE without a frame", "for an unknown buffer",
		"short event", "unknown event", "list_add corruption",
		"list_del corruption",
	};
	char rec[1024];
	uint32_t lines = 0;
	ssize_t n;
	size_t i;

	if (kmsg < 0)
		return;
	for (;;) {
		char *msg;

		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: read on */
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		rec[strcspn(rec, "\n")] = 0;
		msg = strchr(rec, ';') ? strchr(rec, ';') + 1 : rec;
		for (i = 0; i < ARRAY_SIZE(pat); i++) {
			/* --faults: an allocation failure prints a trace */
			if (opt.faults && !strcmp(pat[i], "Call Trace"))
				continue;
			if (strstr(msg, pat[i])) {
				if (bad)
					*bad = true;
				break;
			}
		}
		if (i < ARRAY_SIZE(pat) || strstr(msg, "vdmabuf") ||
		    strstr(msg, "vgem") || strstr(msg, "dma")) {
			if (lines++ < max)
				printf("# %s%s\n", prefix, msg);
		}
	}
	if (lines > max)
		printf("# %s... %u more lines\n", prefix, lines - max);
}

static void print_history(int t)
{
	struct worker *w = &workers[t];
	uint32_t i, n = w->nhist < NHIST ? w->nhist : NHIST;

	printf("# thread %d's last %u actions:\n", t, n);
	for (i = w->nhist - n; i < w->nhist; i++)
		printf("#   [%llu] %s => %s\n",
		       (unsigned long long)w->hist[i % NHIST].i,
		       w->hist[i % NHIST].desc, w->hist[i % NHIST].res);
}

/* An action ran for too long: say which, with the kernel's view. */
static void __attribute__((noreturn)) hung(struct worker *w, uint64_t ms)
{
	int fd;
	uint32_t i;

	printf("# HANG: thread %d in action %llu for %llu s: %s\n", w->id,
	       (unsigned long long)w->cur, (unsigned long long)ms / 1000,
	       w->desc);
	for (i = 0; i < opt.threads; i++)
		if (LOAD(workers[i].act_start))
			printf("#   thread %u in action %llu: %s\n", i,
			       (unsigned long long)workers[i].cur,
			       workers[i].desc);
	print_history(w->id);
	/* The blocked tasks' stacks, into the kernel log */
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "w", 1) < 0)
			printf("# sysrq w: %s\n", strerror(errno));
		close(fd);
	}
	usleep(500000);
	kmsg_dump("kernel: ", 200, NULL);
	printf("not ok 1 - fuzz_guest: seed %llu: action %llu hung for %llu s (%s)\n",
	       (unsigned long long)opt.seed, (unsigned long long)w->cur,
	       (unsigned long long)ms / 1000, w->desc);
	fflush(stdout);
	_exit(1);
}

/*
 * alarm() over the whole run: which actions were running.  It runs on
 * the watchdog thread, the only one that takes SIGALRM, so that it comes
 * also while the main thread sleeps in a wait only SIGKILL ends; SIGKILL
 * then ends the run.
 */
static void on_alarm(int sig)
{
	char line[400];
	uint32_t i;
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "# watchdog: in %s\n", phase);
	if (write(1, line, n) < 0)
		_exit(1);
	for (i = 0; i < opt.threads; i++) {
		n = snprintf(line, sizeof(line),
			     "# watchdog: thread %u in action %llu: %s\n", i,
			     (unsigned long long)workers[i].cur, workers[i].desc);
		if (write(1, line, n) < 0)
			break;
	}
	n = snprintf(line, sizeof(line),
		     "not ok 1 - fuzz_guest: seed %llu: the whole-run watchdog fired (alarm)\n",
		     (unsigned long long)opt.seed);
	if (write(1, line, n) < 0)
		_exit(1);
	kill(getpid(), SIGKILL);
}

static void *watchdog_fn(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;)
		pause();
	return NULL;
}

static void progress(uint64_t t)
{
	printf("# progress: %llu of %llu requests in %llu s, %llu/s; %llu exports, %llu unexports, %llu presents, %llu events, %llu children killed\n",
	       (unsigned long long)LOAD(n_done),
	       (unsigned long long)opt.requests,
	       (unsigned long long)(t - t_start) / 1000,
	       (unsigned long long)(LOAD(n_done) * 1000 / (t - t_start + 1)),
	       (unsigned long long)LOAD(n_exports),
	       (unsigned long long)LOAD(n_unexports),
	       (unsigned long long)LOAD(n_presents),
	       (unsigned long long)LOAD(n_events),
	       (unsigned long long)LOAD(n_children));
	fflush(stdout);
}

/* The main thread's watch while the workers run */
static void monitor(void)
{
	uint64_t tp = now_ms(), t;
	bool all;
	uint32_t i;

	do {
		usleep(20000);
		t = now_ms();
		all = true;
		for (i = 0; i < opt.threads; i++) {
			struct worker *w = &workers[i];
			uint64_t s = LOAD(w->act_start), at = LOAD(w->intr_at);

			if (!LOAD(w->finished))
				all = false;
			if (at && t >= at &&
			    __atomic_compare_exchange_n(&w->intr_at, &at, 0, false,
							__ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				pthread_kill(w->th, SIGUSR1);
				ADD(n_interrupts, 1);
			}
			if (s && t > s && t - s > opt.hang_secs * 1000ULL)
				hung(w, t - s);
		}
		if (opt.progress && t - tp >= opt.progress * 1000ULL) {
			tp = t;
			progress(t);
		}
		if (opt.time_limit && !LOAD(stop) &&
		    t - t_start >= opt.time_limit * 1000ULL) {
			STORE(stop, true);
			printf("# time limit: stopped after %llu of %llu requests\n",
			       (unsigned long long)LOAD(n_done),
			       (unsigned long long)opt.requests);
		}
	} while (!all);
}

/* ---------------------------------------------------------------------- */
/* The end: everything back where it was                                  */
/* ---------------------------------------------------------------------- */

/* What the kernel's memory is in, for the numbers of the memory check */
static const char * const mem_keys[] = {
	"MemFree:", "Cached:", "Buffers:", "Slab:", "SUnreclaim:",
	"PageTables:", "KernelStack:", "Shmem:", "AnonPages:", "Percpu:",
	"VmallocUsed:", "Unevictable:",
};

/* Free pages on the per-CPU lists (/proc/zoneinfo), not in MemFree */
static long pcp_kb(void)
{
	FILE *f = fopen("/proc/zoneinfo", "re");
	long n, sum = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			sum += n;
	fclose(f);
	return sum * (long)(PAGE / 1024);
}

/* @v[0]: MemFree and the per-CPU lists' free pages; the rest mem_keys' */
static void mem_read(long *v)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mem_keys); i++)
		v[i] = meminfo_kb(mem_keys[i]);
	v[ARRAY_SIZE(mem_keys)] = pcp_kb();
	if (v[0] >= 0)
		v[0] += v[ARRAY_SIZE(mem_keys)];
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) < 0)
			printf("# drop_caches: %s\n", strerror(errno));
		close(fd);
	}
}

/*
 * Unexport every export of @o the model has not seen released, and read
 * events until each is RELEASED; then its counters must be zero.
 */
static void settle_opener(struct opener *o)
{
	uint64_t end = now_ms() + SETTLE_S * 1000ULL;
	uint8_t *buf = workers[0].rbuf;
	struct vdmabuf_info info;
	char us[40];
	uint32_t i;
	int ret;

	while (now_ms() < end) {
		struct pollfd p = { .fd = o->fd, .events = POLLIN };

		pthread_mutex_lock(&o->mu);
		for (i = 0; i < o->nlive; i++) {
			struct xrec *x = o->live[i];

			if (x->state != X_LIVE)
				continue;
			x->unexp_tries++;
			ret = vd_unexport(o->fd, x->uuid);
			if (!ret) {
				x->state = X_UNEXPORTED;
			} else if (ret != -EBUSY && ret != -ENOMEM &&
				   ret != -ENOSPC) {
				uuid_str(x->uuid, us);
				fail(NULL, "UNEXPORT of a live export",
				     "o%d: %s for %s at the end", o_idx(o),
				     ename(-ret), us);
			}
		}
		i = o->nlive + o->lost;
		pthread_mutex_unlock(&o->mu);
		if (!i)
			break;
		if (poll(&p, 1, 100) == 1)
			read_events(NULL, o, buf, RBUF_LEN, false, true);
	}
	/* The rest of the events, if any */
	for (;;) {
		struct pollfd p = { .fd = o->fd, .events = POLLIN };

		if (poll(&p, 1, 0) != 1 ||
		    read_events(NULL, o, buf, RBUF_LEN, false, true) <= 0)
			break;
	}
	pthread_mutex_lock(&o->mu);
	if (o->nlive || o->lost) {
		uuid_str(o->live[0]->uuid, us);
		fail(NULL, "every export RELEASED",
		     "o%d: %u exports (%s, ...) and %u lost not RELEASED %d s after UNEXPORT",
		     o_idx(o), o->nlive, o->nlive ? us : "-", o->lost, SETTLE_S);
	}
	if (o->presents_ok != o->frames_done)
		fail(NULL, "a FRAME_DONE per PRESENT",
		     "o%d: %llu PRESENTs succeeded, %llu FRAME_DONEs read",
		     o_idx(o), (unsigned long long)o->presents_ok,
		     (unsigned long long)o->frames_done);
	pthread_mutex_unlock(&o->mu);
	ret = vd_info(o->fd, &info);
	if (ret || info.live_exports || info.live_bytes || info.queued_events)
		fail(NULL, "the opener's counters at the end",
		     "o%d: INFO %s, live_exports %llu, live_bytes %llu, queued_events %u",
		     o_idx(o), ename(-ret),
		     (unsigned long long)info.live_exports,
		     (unsigned long long)info.live_bytes, info.queued_events);
}

/* Close the dma-buf fds nobody knows of (ALLOC's EFAULT); how many */
static uint64_t close_strays(void)
{
	int fds[256], nfd = 0, i;
	char path[64], link[64];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while ((de = readdir(d)) && nfd < (int)ARRAY_SIZE(fds)) {
		int fd = atoi(de->d_name);
		ssize_t l;

		if (fd < 3 || fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (!strncmp(link, "/dmabuf:", 8) ||
		    !strcmp(link, "anon_inode:dmabuf"))
			fds[nfd++] = fd;
	}
	closedir(d);
	for (i = 0; i < nfd; i++) {
		close(fds[i]);
		n++;
	}
	return n;
}

/*
 * Wait up to SETTLE_S for device @d's totals to be back at their start;
 * what they are in @v (if not NULL).
 */
static void totals_wait(int d, long long *v)
{
	uint64_t end = now_ms() + SETTLE_S * 1000ULL;
	long long t[3];
	uint32_t i;

	do {
		for (i = 0; i < 3; i++)
			t[i] = dev_total(d, totals[i]);
		if (!memcmp(t, devs[d].base, sizeof(t)))
			break;
		usleep(20000);
	} while (now_ms() < end);
	if (v)
		memcpy(v, t, sizeof(t));
}

static void teardown(const long *mem0, long long rss0)
{
	long mem1[ARRAY_SIZE(mem_keys) + 1], free0 = mem0[0];
	uint64_t t0 = now_ms(), t_settle, t_close;
	long long rss1;
	long long v[MAX_DEVS][3];
	uint64_t end, strays;
	uint32_t i, j;
	bool bad = false;
	long free1;
	int d;

	/* No more fences or moves to wait for */
	for (i = 0; i < opt.threads; i++) {
		for (j = 0; j < NFENCE; j++)
			fence_signal(&workers[i], j);
		for (j = 0; j < NBUF; j++) {
			struct dmabuf_mover_op op = { .fd = workers[i].buf[j].fd };

			if (workers[i].buf[j].fd >= 0 &&
			    workers[i].buf[j].kind == B_MOVER)
				ioctl(mover_fd, DMABUF_MOVER_IOC_SIGNAL, &op);
		}
	}
	phase = "teardown: unexporting everything, reading the RELEASEDs";
	for (i = 0; i < opt.openers; i++)
		if (openers[i].fd >= 0)
			settle_opener(&openers[i]);
	t_settle = now_ms();
	phase = "teardown: closing the buffers";
	for (i = 0; i < opt.threads; i++)
		worker_fini(&workers[i]);
	strays = close_strays();
	if (strays != LOAD(n_leaked))
		fail(NULL, "ALLOC's fd",
		     "%llu dma-buf fds nobody knew of; %llu ALLOCs returned EFAULT with theirs",
		     (unsigned long long)strays,
		     (unsigned long long)LOAD(n_leaked));
	/* Every ALLOC buffer gone: each opener's alloc_bytes is 0 */
	for (i = 0; i < opt.openers; i++) {
		struct opener *o = &openers[i];
		struct vdmabuf_info info = {};

		if (o->fd < 0)
			continue;
		end = now_ms() + SETTLE_S * 1000ULL;
		while (!vd_info(o->fd, &info) && info.alloc_bytes &&
		       now_ms() < end)
			usleep(20000);
		if (info.alloc_bytes)
			fail(NULL, "the opener's alloc_bytes at the end",
			     "o%d: %llu bytes of ALLOC buffers after they were all closed",
			     i, (unsigned long long)info.alloc_bytes);
		close(o->fd);
		o->fd = -1;
		m_reset(o);
		free(o->live);
		o->live = NULL;
		o->cap = 0;
	}
	/* The devices' totals, back where they were */
	t_close = now_ms();
	phase = "teardown: the devices' totals";
	for (d = 0; d < ndevs; d++) {
		totals_wait(d, v[d]);
		printf("# %s: live_exports %lld, live_bytes %lld, alloc_bytes %lld (at the start: %lld, %lld, %lld)\n",
		       devs[d].path, v[d][0], v[d][1], v[d][2],
		       devs[d].base[0], devs[d].base[1], devs[d].base[2]);
		if (memcmp(v[d], devs[d].base, sizeof(v[d])))
			fail(NULL, "the device's totals at the end",
			     "%s: live_exports %lld, live_bytes %lld, alloc_bytes %lld %d s after everything was closed; %lld, %lld, %lld at the start",
			     devs[d].path, v[d][0], v[d][1], v[d][2], SETTLE_S,
			     devs[d].base[0], devs[d].base[1], devs[d].base[2]);
	}
	printf("# teardown: every export RELEASED in %.1f s, every buffer freed in %.1f s, the devices' totals back in %.1f s\n",
	       (t_settle - t0) / 1000.0, (t_close - t_settle) / 1000.0,
	       (now_ms() - t_close) / 1000.0);
	drop_caches();
	mem_read(mem1);
	free1 = mem1[0];
	rss1 = proc_status_kb(0, "VmRSS");
	printf("# free memory (MemFree and the per-CPU lists): %ld kB at the start, %ld kB at the end (caches dropped), this process's VmRSS %lld kB then %lld kB; slack %d kB\n",
	       free0, free1, rss0, rss1, MEM_SLACK_KB);
	printf("# meminfo, start -> end (kB):");
	for (i = 1; i < ARRAY_SIZE(mem_keys); i++)
		printf(" %s %ld -> %ld", mem_keys[i], mem0[i], mem1[i]);
	printf(" per-CPU lists: %ld -> %ld\n", mem0[i], mem1[i]);
	if (rss1 > rss0)
		free1 += rss1 - rss0;
	if (free0 > 0 && free1 > 0 && free0 - free1 > MEM_SLACK_KB)
		fail(NULL, "memory back at the end",
		     "free memory %ld kB below its start of %ld kB, this process's growth not counted",
		     free0 - free1, free0);
	kmsg_dump("kernel: ", 60, &bad);
	if (bad)
		fail(NULL, "a clean kernel log",
		     "the kernel warned during the run (lines above)");
}

/* ---------------------------------------------------------------------- */
/* Set-up and main                                                        */
/* ---------------------------------------------------------------------- */

static int setup(void)
{
	struct stat st;
	uint32_t i;
	char line[32];
	FILE *f;
	int d;

	for (d = 0; d < MAX_DEVS; d++) {
		struct device *dv = &devs[ndevs];
		int fd;

		if (d)
			snprintf(dv->path, sizeof(dv->path), DEV_BASE "%d", d);
		else
			snprintf(dv->path, sizeof(dv->path), DEV_BASE);
		fd = open_dev(dv->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (vd_info(fd, &dv->info)) {
			close(fd);
			continue;
		}
		close(fd);
		ndevs++;
	}
	if (!ndevs)
		return -ENODEV;
	max_alloc = 512ULL << 20;
	f = fopen("/sys/module/virtio_vdmabuf/parameters/max_alloc_mb", "re");
	if (f) {
		if (fgets(line, sizeof(line), f))
			max_alloc = strtoull(line, NULL, 10) << 20;
		fclose(f);
	}
	d = vgem_open();
	have_vgem = d >= 0;
	if (d >= 0)
		close(d);
	have_udmabuf = !stat("/dev/udmabuf", &st);
	heap_fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	mover_fd = open(DMABUF_MOVER_DEV, O_RDWR | O_CLOEXEC);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	memfd = memfd_create("fuzz_guest", MFD_CLOEXEC);
	if (memfd >= 0 && ftruncate(memfd, PAGE))
		return -errno;
	printf("# buffers: alloc (max %llu MiB)%s%s%s%s\n",
	       (unsigned long long)max_alloc >> 20,
	       have_vgem ? ", vgem" : "", have_udmabuf ? ", udmabuf" : "",
	       heap_fd >= 0 ? ", heap" : "", mover_fd >= 0 ? ", mover" : "");
	hole = mmap(NULL, HOLE_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (hole == MAP_FAILED)
		return -ENOMEM;
	for (i = 0; i < opt.openers; i++) {
		struct opener *o = &openers[i];
		pthread_rwlockattr_t ra;
		int ret;

		pthread_rwlockattr_init(&ra);
		/* A closing writer is not starved by the readers */
		pthread_rwlockattr_setkind_np(&ra,
					      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&o->rw, &ra);
		pthread_rwlockattr_destroy(&ra);
		pthread_mutex_init(&o->mu, NULL);
		pthread_mutex_init(&o->rd, NULL);
		o->fd = -1;
		ret = opener_open(o, i % ndevs, i % 2);
		if (ret)
			return ret;
	}
	for (i = 0; i < opt.threads; i++)
		if (worker_init(&workers[i], i))
			return -ENOMEM;
	return 0;
}

/*
 * One buffer of each kind exported, presented and unexported through an
 * opener of its own, and a child forked: what the first use of each
 * costs the kernel for good (slab caches, vgem's and the heap's set-up,
 * the per-CPU lists grown) is then not counted as a leak.
 */
static void warm_up(void)
{
	struct vdmabuf_present p = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	int fds[NR_BKINDS], dev, i, card = vgem_open();
	uint32_t handle;
	uint64_t size;
	struct rng r;
	pid_t pid;

	rng_init(&r, 1);
	dev = open(devs[0].path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	fds[B_ALLOC] = dev >= 0 ? vd_alloc(dev, 2 * PAGE, 0) : -1;
	fds[B_VGEM] = -1;
	if (card >= 0) {
		workers[0].card = card;	/* mk_vgem()'s */
		fds[B_VGEM] = mk_vgem(&workers[0], &r, 2 * PAGE, &size, &handle);
		workers[0].card = -1;
	}
	fds[B_UDMABUF] = have_udmabuf ? udmabuf_dmabuf(2 * PAGE) : -1;
	fds[B_HEAP] = mk_heap(2 * PAGE);
	fds[B_MOVER] = mk_mover(2 * PAGE, 0);
	for (i = 0; i < NR_BKINDS; i++) {
		if (fds[i] < 0 || dev < 0)
			continue;
		if (!vd_export(dev, fds[i], &e)) {
			memcpy(p.uuid, e.uuid, 16);
			ioctl(dev, VDMABUF_IOCTL_PRESENT, &p);
			vd_unexport(dev, e.uuid);
			while (!next_event(dev, &ev, 5000) &&
			       ev.type != VDMABUF_EVENT_RELEASED)
				;
		}
		close(fds[i]);
	}
	if (card >= 0)
		close(card);
	if (dev >= 0)
		close(dev);
	pid = fork();
	if (!pid)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void summary(uint64_t ms)
{
	uint32_t k, e;

	if (opt.faults) {
		printf("# --faults: %llu deviation(s) from the model:",
		       (unsigned long long)n_dev);
		for (k = 0; k < ARRAY_SIZE(dev_by) && dev_by[k].n; k++)
			printf(" '%s' %llu", dev_by[k].inv,
			       (unsigned long long)dev_by[k].n);
		printf("\n");
	}

	printf("# %llu requests in %.1f s by %u threads on %u openers of %d devices: %llu exports, %llu unexports, %llu presents; %llu events read (%llu in order), %llu FRAME_DONE, %llu RELEASED; %llu children killed after %llu requests; %llu calls interrupted\n",
	       (unsigned long long)n_done, ms / 1000.0, opt.threads,
	       opt.openers, ndevs, (unsigned long long)n_exports,
	       (unsigned long long)n_unexports,
	       (unsigned long long)n_presents, (unsigned long long)n_events,
	       (unsigned long long)n_strict, (unsigned long long)n_frames,
	       (unsigned long long)n_released, (unsigned long long)n_children,
	       (unsigned long long)n_child_ticks,
	       (unsigned long long)n_interrupts);
	for (k = 0; k < NR_KINDS; k++) {
		char line[1024];
		int n = 0;

		for (e = 0; e <= NERR; e++)
			if (n_res[k][e] && n < (int)sizeof(line) - 40)
				n += snprintf(line + n, sizeof(line) - n, " %s %llu",
					      e == NERR ? "other" : ename(e),
					      (unsigned long long)n_res[k][e]);
		if (n)
			printf("# %s (%.1f s):%s\n", kinds[k].name,
			       n_us[k] / 1e6, line);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fuzz_guest [--seed S] [--requests N] [--threads T] [--openers K]\n"
		"                  [--time-limit SEC] [--progress SEC] [--hang-secs SEC]\n"
		"                  [--no-child] [--verbose] [--faults]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "requests", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "openers", required_argument, NULL, 'o' },
		{ "time-limit", required_argument, NULL, 'l' },
		{ "progress", required_argument, NULL, 'p' },
		{ "hang-secs", required_argument, NULL, 'H' },
		{ "no-child", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "faults", no_argument, NULL, 'f' },
		{ }
	};
	uint64_t t_prog = now_ms();
	struct sigaction sa = {};
	bool seeded = false;
	pthread_t dog;
	sigset_t set;
	uint64_t ms;
	uint32_t i;
	long mem0[ARRAY_SIZE(mem_keys) + 1];
	long long rss0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'n':
			opt.requests = strtoull(optarg, NULL, 0);
			break;
		case 't':
			opt.threads = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			opt.openers = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			opt.time_limit = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			opt.progress = strtoul(optarg, NULL, 0);
			break;
		case 'H':
			opt.hang_secs = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			opt.no_child = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'f':
			opt.faults = true;
			break;
		default:
			usage();
		}
	}
	if (optind < argc || !opt.threads || opt.threads > MAX_THREADS ||
	    !opt.openers || opt.openers > MAX_OPENERS || !opt.hang_secs)
		usage();
	if (!seeded)
		opt.seed = now_ns() ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..1\n");
	printf("# fuzz_guest: seed %llu, %llu requests, %u threads, %u openers, time limit %u s%s\n",
	       (unsigned long long)opt.seed, (unsigned long long)opt.requests,
	       opt.threads, opt.openers, opt.time_limit,
	       opt.faults ? ", --faults: deviations from the model counted" : "");
	if (geteuid() || access(DEV_BASE, F_OK)) {
		printf("ok 1 - fuzz_guest # SKIP needs root and %s\n", DEV_BASE);
		return KSFT_SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: the signal interrupts a blocked read() or EXPORT */
	sa.sa_handler = sig_nop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	/* Every thread but the watchdog's blocks SIGALRM */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&dog, NULL, watchdog_fn, NULL)) {
		printf("not ok 1 - fuzz_guest: pthread_create: %s\n",
		       strerror(errno));
		return 1;
	}
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	ret = setup();
	if (ret) {
		printf("not ok 1 - fuzz_guest: set-up: %s\n", ename(-ret));
		return 1;
	}
	for (c = 0; c < ndevs; c++)
		for (i = 0; i < 3; i++)
			devs[c].base[i] = dev_total(c, totals[i]);
	warm_up();
	/* Its buffers go a moment after their RELEASED (a deferred fput) */
	for (c = 0; c < ndevs; c++)
		totals_wait(c, NULL);
	drop_caches();
	mem_read(mem0);
	rss0 = proc_status_kb(0, "VmRSS");
	for (c = 0; c < ndevs; c++) {
		struct device *dv = &devs[c];

		printf("# %s: features %#llx, max_ranges %u, max_meta_len %u, max_exports %u, max_rects %u, max_export_size %llu, max_total_size %llu, max_events %u; live_exports %lld, live_bytes %lld, alloc_bytes %lld\n",
		       dv->path, (unsigned long long)dv->info.features,
		       dv->info.max_ranges, dv->info.max_meta_len,
		       dv->info.max_exports, dv->info.max_rects,
		       (unsigned long long)dv->info.max_export_size,
		       (unsigned long long)dv->info.max_total_size,
		       dv->info.max_events, dv->base[0], dv->base[1],
		       dv->base[2]);
	}
	printf("# set-up: %.1f s\n", (now_ms() - t_prog) / 1000.0);
	/* The whole run, its teardown and then some */
	alarm((opt.time_limit ? opt.time_limit : 3600) + 4 * SETTLE_S + 120);
	t_start = now_ms();
	phase = "the run";
	for (i = 0; i < opt.threads; i++) {
		if (pthread_create(&workers[i].th, NULL, worker_fn, &workers[i])) {
			printf("not ok 1 - fuzz_guest: pthread_create: %s\n",
			       strerror(errno));
			return 1;
		}
	}
	monitor();
	for (i = 0; i < opt.threads; i++)
		pthread_join(workers[i].th, NULL);
	ms = now_ms() - t_start + 1;
	teardown(mem0, rss0);
	alarm(0);
	summary(ms);
	if (!failed) {
		printf("ok 1 - fuzz_guest: seed %llu, %llu requests, %llu req/s, %u threads, %llu exports, %llu events, %llu children killed\n",
		       (unsigned long long)opt.seed, (unsigned long long)n_done,
		       (unsigned long long)(n_done * 1000 / ms), opt.threads,
		       (unsigned long long)n_exports,
		       (unsigned long long)n_events,
		       (unsigned long long)n_children);
		return 0;
	}
	printf("# FAIL: seed %llu, action %llu (%s): invariant '%s': %s\n",
	       (unsigned long long)opt.seed, (unsigned long long)fail_index,
	       fail_desc, fail_inv, fail_msg);
	if (fail_thread >= 0)
		print_history(fail_thread);
	printf("not ok 1 - fuzz_guest: seed %llu, action %llu, invariant '%s', %llu requests\n",
	       (unsigned long long)opt.seed, (unsigned long long)fail_index,
	       fail_inv, (unsigned long long)n_done);
	return 1;
}
