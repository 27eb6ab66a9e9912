// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_host: a structure-aware fuzzer of /dev/vhost-vdmabuf, run as root in
 * the host (L1) VM.
 *
 * It drives the real device through the VMM stand-in (vmm_standin.h).  A
 * seeded PRNG makes a sequence of actions: guest requests (EXPORT,
 * UNEXPORT, PRESENT and malformed ones) split at random descriptor
 * boundaries, direct or indirect, with room for the status or without;
 * event buffers of every size and shape; importer actions (open, read,
 * import, mmap and touch, CPU access, FRAME_DONE, FRAMES, QUERY, close, an
 * importer process killed); and device pause, reset, limits and close and
 * reopen.  Beside it runs a model of what the device must hold.  Every
 * answer is checked against the status the model predicts by the checks of
 * Documentation/virtio-dmabuf.rst in their order, every importer record and
 * guest event against the one the model queued, every ioctl's result
 * against the model's, and every K actions GET_STATS, VmPin, VmLck and the
 * FOLL_PIN balance against the model.  After the last action everything is
 * closed, and page pins, VmLck and VmPin must be back where they started.
 *
 * Action i is made from (seed, i) alone, so any subset of the actions can
 * be replayed.  On a failure the seed, the action and the invariant are
 * printed, then the failing sequence is shrunk (delta debugging over the
 * action list, each try on a fresh device, checked after every action) and
 * the shortest one found is printed, with the --replay argument that runs
 * it again.  Every wait is bounded (--wait-ms) and so is the run
 * (--time-limit, after which it stops early; a watchdog process kills a
 * run that hangs in a system call, killable waits included).
 *
 * A "request" is one action: one virtqueue request, or one call on the
 * device, an importer or a dma-buf.  The output is TAP with one result.
 *
 * With --faults the caller has the kernel fail some of the module's
 * allocations (scripts/testbed/l1-debug.sh): a deviation from the model
 * that such a failure explains is then counted, everything is closed and
 * must come back to its start, and the run goes on with a fresh device;
 * any other one fails the run as without --faults (see deviate()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>
#include <linux/vhost.h>
#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdmabuf_util.h"
#include "fuzz_rng.h"
#include "vmm_standin.h"

#define KSFT_SKIP	4

/* --memlock-kb: the VMM's user, charged for its pins; no other uses it */
#define FUZZ_UID	54329

#define NUUID		12	/* UUIDs the guest reuses: EXISTS, NOENT */
#define NIMP		4	/* importer slots */
#define NBUF		16	/* dma-buf slots */
#define RAM_PAGES	(RAM_SIZE / PAGE)
#define MAXD		NUM	/* descriptors of a chain: the ring's size */
#define MAX_IN		4	/* device-writable descriptors of a request */
#define EV_DESCS	4	/* descriptors of an event buffer */
#define EV_LEN		((uint32_t)sizeof(struct virtio_vdmabuf_event))

/* Guest-physical layout beyond the stand-in's (REQ_RING ... BUF_BASE) */
#define RESP_LEN	0x1000ULL		/* writable part of a request */
#define IND_TABLE	0xb000ULL		/* an indirect table */
#define EVB_BASE	0xc000ULL		/* event buffers: */
#define EVB_SLOT	256			/* one slot per descriptor */
#define REQ_MAX		(BUF_BASE - REQ_BUF - MAXD * 64)

#define S_OK		VIRTIO_VDMABUF_S_OK
#define S_INVALID	VIRTIO_VDMABUF_S_INVALID
#define S_UNSUPPORTED	VIRTIO_VDMABUF_S_UNSUPPORTED
#define S_LIMIT		VIRTIO_VDMABUF_S_LIMIT
#define S_EXISTS	VIRTIO_VDMABUF_S_EXISTS
#define S_NOENT		VIRTIO_VDMABUF_S_NOENT
#define S_FAULT		VIRTIO_VDMABUF_S_FAULT
#define S_NOMEM		VIRTIO_VDMABUF_S_NOMEM
#define S_BUSY		VIRTIO_VDMABUF_S_BUSY

static const char * const status_name[] = {
	"OK", "INVALID", "UNSUPPORTED", "LIMIT", "EXISTS", "NOENT", "FAULT",
	"NOMEM", "BUSY",
};

static const char *sname(uint32_t s)
{
	return s < 9 ? status_name[s] : "?";
}

/* ---------------------------------------------------------------------- */
/* PRNG and hash                                                          */
/* ---------------------------------------------------------------------- */

static uint32_t pick(struct rng *r, const uint32_t *v, uint32_t n)
{
	return v[below(r, n)];
}

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* One of the values given */
#define PICK(r, ...) ({							\
	static const uint32_t __v[] = { __VA_ARGS__ };			\
	pick(r, __v, ARRAY_SIZE(__v));					\
})

#define FNV_BASIS	0xcbf29ce484222325ULL

/* FNV-1a, continued from @h: payloads compare by hash */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---------------------------------------------------------------------- */
/* Actions                                                                */
/* ---------------------------------------------------------------------- */

enum kind {
	A_EXPORT, A_UNEXPORT, A_PRESENT, A_BADREQ,
	A_POST_EVENTS, A_GUEST_EVENTS,
	A_IMP_OPEN, A_IMP_CLOSE, A_IMP_READ, A_IMPORT, A_FRAME_DONE,
	A_FRAMES, A_QUERY, A_MMAP, A_TOUCH, A_SYNC, A_MUNMAP, A_BUF_CLOSE,
	A_IMP_KILL,
	A_STOP, A_START, A_RESET, A_RESET_OWNER, A_REOPEN, A_SET_LIMITS,
	NR_KINDS
};

/* Weights in about thousandths: the guest's requests dominate. */
static const struct {
	const char *name;
	uint32_t weight;
} kinds[NR_KINDS] = {
	[A_EXPORT] = { "EXPORT", 200 },
	[A_UNEXPORT] = { "UNEXPORT", 90 },
	[A_PRESENT] = { "PRESENT", 150 },
	[A_BADREQ] = { "BADREQ", 30 },
	[A_POST_EVENTS] = { "POST_EVENTS", 60 },
	[A_GUEST_EVENTS] = { "GUEST_EVENTS", 40 },
	[A_IMP_OPEN] = { "IMP_OPEN", 25 },
	[A_IMP_CLOSE] = { "IMP_CLOSE", 8 },
	[A_IMP_READ] = { "IMP_READ", 60 },
	[A_IMPORT] = { "IMPORT", 80 },
	[A_FRAME_DONE] = { "FRAME_DONE", 80 },
	[A_FRAMES] = { "FRAMES", 25 },
	[A_QUERY] = { "QUERY", 25 },
	[A_MMAP] = { "MMAP", 25 },
	[A_TOUCH] = { "TOUCH", 30 },
	[A_SYNC] = { "SYNC", 10 },
	[A_MUNMAP] = { "MUNMAP", 15 },
	[A_BUF_CLOSE] = { "BUF_CLOSE", 35 },
	[A_IMP_KILL] = { "IMP_KILL", 2 },
	[A_STOP] = { "STOP", 6 },
	[A_START] = { "START", 6 },
	[A_RESET] = { "RESET", 4 },
	[A_RESET_OWNER] = { "RESET_OWNER", 2 },
	[A_REOPEN] = { "REOPEN", 2 },
	[A_SET_LIMITS] = { "SET_LIMITS", 3 },
};

struct action {
	enum kind kind;
	uint64_t seed;		/* everything else comes from this */
};

/* Action @i of the run of @seed, whatever came before it. */
static void action_make(uint64_t seed, uint64_t i, struct action *a)
{
	static uint32_t total;
	struct rng r;
	uint32_t w, k;

	if (!total)
		for (k = 0; k < NR_KINDS; k++)
			total += kinds[k].weight;
	rng_init(&r, seed ^ (i * 0xd1b54a32d192ed03ULL) ^ 0x5bd1e995);
	w = below(&r, total);
	for (k = 0; k < NR_KINDS - 1 && w >= kinds[k].weight; k++)
		w -= kinds[k].weight;
	a->kind = k;
	a->seed = rnd(&r);
}

/* ---------------------------------------------------------------------- */
/* The model                                                              */
/* ---------------------------------------------------------------------- */

/* An export the device holds (live, or unexported and still imported). */
struct mexp {
	uint64_t serial;	/* unique; also the device's list order */
	int gen;		/* the device (open) it belongs to */
	uint8_t uuid[16];
	uint64_t size;
	uint32_t nr_ranges;
	uint32_t meta_len;
	uint64_t meta_hash;
	struct virtio_vdmabuf_range *ranges;
	bool live;		/* not unexported */
	bool owned;		/* RELEASED owed to the guest */
	bool revoked;		/* a reset took host access away */
	uint32_t nr_dmabufs;
	bool frame_pending;
	uint64_t frame_seq;
	uint64_t frame_no;
	uint32_t nr_owing;
	uint64_t last_seq;
	uint64_t last_frame;
};

/* A record queued for an importer. */
struct mrec {
	uint32_t type;
	uint32_t flags;
	uint32_t nr_frames;
	uint32_t payload_len;
	uint64_t seq;
	uint64_t frame;
	uint64_t size;
	uint64_t hash;		/* of the payload */
	uint8_t uuid[16];
	uint64_t exp;		/* the export's serial */
	bool linked;		/* unread EXPORTED/PRESENTED of a live export */
};

/* An importer takes part in an export's frames. */
struct mpart {
	uint64_t exp;
	bool owes;
};

struct mimp {
	bool used;
	int fd;
	int gen;
	uint64_t serial;	/* the device's list order */
	uint64_t last_frame;	/* its device's, once that is closed */
	bool all_frames;
	struct mpart *parts;
	uint32_t nparts, cparts;
	struct mrec *q;
	uint32_t qn, qc;
};

struct mbuf {
	bool used;
	int fd;			/* -1 once closed */
	uint8_t *map;		/* NULL if not mapped */
	uint64_t size;
	uint64_t exp;		/* the export's serial */
	int gen;
};

/* An event for the guest. */
struct gev {
	uint32_t type;
	uint32_t flags;
	uint8_t uuid[16];
	uint64_t seq;
};

/* An event buffer the guest posted. */
struct evbuf {
	uint8_t head;
	uint8_t nd;
	uint8_t d[EV_DESCS];
	uint16_t len[EV_DESCS];
	bool readable;		/* its first descriptor is device-readable */
	bool good;		/* the device writes an event into it */
};

/* An event buffer the device returns, as the model reckons. */
struct evx {
	struct evbuf b;
	uint32_t len;		/* used length: 32, or 0 for a bad buffer */
	struct gev ev;
};

struct chain {
	uint32_t nout, nin;
	uint32_t out[MAXD];
	uint32_t gap[MAXD];
	uint32_t in[MAX_IN];
	bool indirect;
};

struct fz {
	/* options */
	uint64_t seed;
	int wait_ms;
	bool verbose;
	bool quiet;		/* a replay of the shrinker */
	bool charged;		/* no CAP_IPC_LOCK: pins are charged */
	uint64_t memlock;	/* pages of RLIMIT_MEMLOCK, 0: root */
	/* the device */
	struct vmm v;
	bool open;
	int gen;
	struct vhost_vdmabuf_limits top;	/* module parameters */
	struct vhost_vdmabuf_limits lim;
	bool f_present, f_indirect;
	bool running, frozen;
	uint64_t last_frame;
	uint64_t requests, bad_requests;
	/* a request posted while the device was paused */
	bool pending;
	bool may_nomem;		/* the request reached the checks that allocate */
	uint8_t *pend_req;
	uint32_t pend_len;
	struct chain pend_chain;
	uint16_t pend_used;
	/* exports, in the device's list order; importers; dma-bufs */
	struct mexp **exps;
	uint32_t nexps, cexps;
	uint64_t serial;
	struct mimp imp[NIMP];
	struct mbuf buf[NBUF];
	/* guest events: queued in the device, not delivered */
	struct gev *gq;
	uint32_t gq_head, gq_n, gq_cap;
	/* event buffers posted and not taken, and taken and not read */
	struct evbuf evb[MAXD];
	uint32_t evb_head, evb_n;
	struct evx evx[MAXD];
	uint32_t evx_head, evx_n;
	bool desc_used[MAXD];
	/* scratch */
	uint8_t *req;
	uint8_t *rbuf;
	/* describing an action instead of running it */
	bool describe;
	char desc[512];
	/* with --verbose: what an action aimed at and what came of it */
	char aimed[32];
	char out[160];
	/* accounting */
	struct baseline base;
	uint64_t n_actions, n_vq, n_checks, n_answers, n_records, n_events;
	/* answers by request type (EXPORT, UNEXPORT, PRESENT, other) */
	uint64_t n_status[4][10];	/* [9]: no room for one */
	uint64_t n_ok[NR_KINDS], n_err[NR_KINDS];
	/* --faults: deviations from the model, by invariant */
	uint64_t n_dev;
	bool fault_fatal;	/* a failure no allocation failure explains */
	struct {
		char inv[32];
		uint64_t n;
	} dev_by[32];
	/* the first failure */
	bool failed;
	uint64_t n_run;		/* actions run */
	uint64_t fail_pos;	/* in the sequence run */
	uint64_t fail_index;	/* the action's index */
	uint64_t cur_pos, cur_index;
	char inv[32];
	char msg[1024];
};

static void fail(struct fz *f, const char *inv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first failure; later ones follow from it. */
static void fail(struct fz *f, const char *inv, const char *fmt, ...)
{
	va_list ap;

	if (f->failed)
		return;
	f->failed = true;
	f->fail_pos = f->cur_pos;
	f->fail_index = f->cur_index;
	snprintf(f->inv, sizeof(f->inv), "%s", inv);
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

/* A call of kind @k went as the model said (@err: its errno, or 0). */
static void tally(struct fz *f, enum kind k, int err)
{
	if (err)
		f->n_err[k]++;
	else
		f->n_ok[k]++;
	snprintf(f->out, sizeof(f->out), "%s%s", f->aimed,
		 err ? strerror(err) : "ok");
}

/*
 * With --memlock-kb the VMM is an ordinary user, which cannot open the
 * device nor refresh the page pin counters: root for those only (the
 * saved uid).  Its real uid stays the user charged.
 */
static void as_root(const struct fz *f, bool root)
{
	if (f->memlock && seteuid(root ? 0 : FUZZ_UID))
		perror("fuzz_host: seteuid");
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("fuzz_host: realloc");
		exit(1);
	}
	return p;
}

static bool zero16(const uint8_t *u)
{
	static const uint8_t z[16];

	return !memcmp(u, z, 16);
}

static void uuid_str(const uint8_t *u, char *s)
{
	int i;

	for (i = 0; i < 16; i++)
		sprintf(s + 2 * i, "%02x", u[i]);
}

/* Exports */

static struct mexp *m_exp(struct fz *f, uint64_t serial)
{
	uint32_t i;

	for (i = 0; i < f->nexps; i++)
		if (f->exps[i]->serial == serial)
			return f->exps[i];
	return NULL;
}

/* The export of device @gen whose UUID the guest owns, if any. */
static struct mexp *m_owned(struct fz *f, int gen, const uint8_t *uuid)
{
	uint32_t i;

	for (i = 0; i < f->nexps; i++)
		if (f->exps[i]->gen == gen && f->exps[i]->owned &&
		    !memcmp(f->exps[i]->uuid, uuid, 16))
			return f->exps[i];
	return NULL;
}

/* vhost_vdmabuf_find(): the owned one, else (not @live_only) any held. */
static struct mexp *m_find(struct fz *f, int gen, const uint8_t *uuid,
			   bool live_only)
{
	struct mexp *e = m_owned(f, gen, uuid);
	uint32_t i;

	if (e && (e->live || !live_only))
		return e;
	if (live_only || e)
		return NULL;
	for (i = 0; i < f->nexps; i++)
		if (f->exps[i]->gen == gen &&
		    !memcmp(f->exps[i]->uuid, uuid, 16))
			return f->exps[i];
	return NULL;
}

/* The importers of device @gen, oldest first. */
static uint32_t m_imps(struct fz *f, int gen, struct mimp **out)
{
	uint32_t n = 0, i, j;
	struct mimp *t;

	for (i = 0; i < NIMP; i++)
		if (f->imp[i].used && f->imp[i].gen == gen)
			out[n++] = &f->imp[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && out[j - 1]->serial > out[j]->serial; j--) {
			t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* Importer queues */

static void q_push(struct mimp *m, const struct mrec *rec)
{
	if (m->qn == m->qc) {
		m->qc = m->qc ? 2 * m->qc : 64;
		m->q = xrealloc(m->q, m->qc * sizeof(*m->q));
	}
	m->q[m->qn++] = *rec;
}

static void q_del(struct mimp *m, uint32_t i)
{
	memmove(&m->q[i], &m->q[i + 1], (m->qn - i - 1) * sizeof(*m->q));
	m->qn--;
}

/* The unread @type record of export @exp, still linked to it, or -1. */
static int q_find(struct mimp *m, uint32_t type, uint64_t exp)
{
	uint32_t i;

	for (i = 0; i < m->qn; i++)
		if (m->q[i].linked && m->q[i].exp == exp &&
		    m->q[i].type == type)
			return i;
	return -1;
}

static void rec_make(struct mrec *r, uint32_t type, const struct mexp *e)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->size = e->size;
	r->hash = FNV_BASIS;
	r->exp = e->serial;
	memcpy(r->uuid, e->uuid, 16);
}

static void rec_exported(struct mimp *m, const struct mexp *e)
{
	struct mrec r;

	rec_make(&r, VHOST_VDMABUF_EVENT_EXPORTED, e);
	r.payload_len = e->meta_len;
	r.hash = e->meta_hash;
	r.linked = true;
	q_push(m, &r);
}

/* Parts */

static int part_find(struct mimp *m, uint64_t exp)
{
	uint32_t i;

	for (i = 0; i < m->nparts; i++)
		if (m->parts[i].exp == exp)
			return i;
	return -1;
}

static void part_add(struct mimp *m, uint64_t exp)
{
	if (part_find(m, exp) >= 0)
		return;
	if (m->nparts == m->cparts) {
		m->cparts = m->cparts ? 2 * m->cparts : 8;
		m->parts = xrealloc(m->parts, m->cparts * sizeof(*m->parts));
	}
	m->parts[m->nparts].exp = exp;
	m->parts[m->nparts++].owes = false;
}

static void part_del(struct mimp *m, uint32_t i)
{
	memmove(&m->parts[i], &m->parts[i + 1],
		(m->nparts - i - 1) * sizeof(*m->parts));
	m->nparts--;
}

/* Guest events */

static void g_push(struct fz *f, const struct mexp *e, uint32_t type,
		   uint32_t flags, uint64_t seq)
{
	struct gev *g;

	/* A closed device drops them (vhost_vdmabuf_guest_event()). */
	if (e->gen != f->gen || !f->open)
		return;
	if (f->gq_head + f->gq_n == f->gq_cap) {
		if (f->gq_head) {
			memmove(f->gq, f->gq + f->gq_head,
				f->gq_n * sizeof(*f->gq));
			f->gq_head = 0;
		} else {
			f->gq_cap = f->gq_cap ? 2 * f->gq_cap : 256;
			f->gq = xrealloc(f->gq, f->gq_cap * sizeof(*f->gq));
		}
	}
	g = &f->gq[f->gq_head + f->gq_n++];
	g->type = type;
	g->flags = flags;
	memcpy(g->uuid, e->uuid, 16);
	g->seq = seq;
}

/*
 * What the device's event work does once it runs: each queued event goes
 * into the next posted buffer; a buffer it cannot use is returned empty,
 * but only while an event waits for one (vhost_vdmabuf_send_events()).
 */
static void m_deliver(struct fz *f)
{
	struct evx *x;

	if (!f->running)
		return;
	while (f->gq_n && f->evb_n) {
		x = &f->evx[(f->evx_head + f->evx_n++) % MAXD];
		x->b = f->evb[f->evb_head];
		f->evb_head = (f->evb_head + 1) % MAXD;
		f->evb_n--;
		x->len = 0;
		if (!x->b.good)
			continue;
		x->len = EV_LEN;
		x->ev = f->gq[f->gq_head++];
		f->gq_n--;
	}
}

/* Frames */

static void m_frame_finish(struct fz *f, struct mexp *e, uint32_t flags,
			   bool notify)
{
	struct mimp *imps[NIMP];
	uint32_t n, i;
	int p;

	if (!e->frame_pending)
		return;
	n = m_imps(f, e->gen, imps);
	for (i = 0; i < n; i++) {
		p = part_find(imps[i], e->serial);
		if (p >= 0)
			imps[i]->parts[p].owes = false;
	}
	e->nr_owing = 0;
	e->frame_pending = false;
	if (notify)
		g_push(f, e, VIRTIO_VDMABUF_EVT_FRAME_DONE, flags, e->frame_seq);
}

static void m_part_answer(struct fz *f, struct mimp *m, uint32_t p)
{
	struct mexp *e;

	if (!m->parts[p].owes)
		return;
	m->parts[p].owes = false;
	e = m_exp(f, m->parts[p].exp);
	if (e && !--e->nr_owing)
		m_frame_finish(f, e, 0, true);
}

static void m_exp_free(struct fz *f, struct mexp *e)
{
	uint32_t i;

	for (i = 0; i < f->nexps; i++)
		if (f->exps[i] == e)
			break;
	memmove(&f->exps[i], &f->exps[i + 1],
		(f->nexps - i - 1) * sizeof(*f->exps));
	f->nexps--;
	free(e->ranges);
	free(e);
}

/* The last reference is gone: unpin, RELEASED if owed. */
static bool m_maybe_release(struct fz *f, struct mexp *e)
{
	if (e->live || e->nr_dmabufs)
		return false;
	if (e->owned) {
		e->owned = false;
		g_push(f, e, VIRTIO_VDMABUF_EVT_RELEASED, 0, 0);
	}
	m_exp_free(f, e);
	return true;
}

/* vhost_vdmabuf_unexport() */
static void m_unexport(struct fz *f, struct mexp *e, bool notify)
{
	struct mimp *imps[NIMP], *m;
	uint32_t n, i, k;
	struct mrec r;
	int x, p;

	e->live = false;
	m_frame_finish(f, e, 0, notify);
	n = m_imps(f, e->gen, imps);
	for (i = 0; i < n; i++) {
		m = imps[i];
		/* Never read of it and takes no part: it never hears of it. */
		x = q_find(m, VHOST_VDMABUF_EVENT_EXPORTED, e->serial);
		if (x >= 0 && part_find(m, e->serial) < 0) {
			q_del(m, x);
			x = q_find(m, VHOST_VDMABUF_EVENT_PRESENTED, e->serial);
			if (x >= 0)
				q_del(m, x);
			continue;
		}
		rec_make(&r, VHOST_VDMABUF_EVENT_UNEXPORTED, e);
		q_push(m, &r);
	}
	for (i = 0; i < n; i++) {
		m = imps[i];
		p = part_find(m, e->serial);
		if (p >= 0)
			part_del(m, p);
		for (k = 0; k < m->qn; k++)
			if (m->q[k].exp == e->serial)
				m->q[k].linked = false;
	}
}

/*
 * vhost_vdmabuf_ctx_reset(): a guest reset (@vmm_gone false) or the VMM
 * closing the device.  Guest RAM here is a memfd, which does not outlive
 * the VMM: closing revokes nothing.
 */
static void m_reset(struct fz *f, bool vmm_gone)
{
	struct mexp *e;
	uint32_t i = 0;

	while (i < f->nexps) {
		e = f->exps[i];
		if (e->gen != f->gen) {
			i++;
			continue;
		}
		if (e->live)
			m_unexport(f, e, false);
		e->owned = false;
		if (!vmm_gone)
			e->revoked = true;
		if (!m_maybe_release(f, e))
			i++;
	}
	f->gq_head = 0;
	f->gq_n = 0;
}

/* The device's statistics, as the model has them. */
static void m_stats(struct fz *f, struct vhost_vdmabuf_stats *s)
{
	struct mimp *imps[NIMP];
	struct mexp *e;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < f->nexps; i++) {
		e = f->exps[i];
		if (e->gen != f->gen)
			continue;
		s->live_exports += e->live;
		s->held_exports++;
		s->pinned_pages += e->size / PAGE;
		s->host_dmabufs += e->nr_dmabufs;
	}
	if (f->charged)
		s->charged_pages = s->pinned_pages;
	s->importers = m_imps(f, f->gen, imps);
	s->guest_events = f->gq_n;
	s->requests = f->requests;
	s->bad_requests = f->bad_requests;
}

/* Pages pinned for every export of every device still held. */
static uint64_t m_pinned_all(struct fz *f)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < f->nexps; i++)
		n += f->exps[i]->size / PAGE;
	return n;
}

/* ---------------------------------------------------------------------- */
/* Requests: what the device must answer (and do)                         */
/* ---------------------------------------------------------------------- */

static int range_cmp(const void *a, const void *b)
{
	const struct virtio_vdmabuf_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool m_importers_full(struct fz *f)
{
	struct mimp *imps[NIMP];
	uint32_t n, i;

	n = m_imps(f, f->gen, imps);
	for (i = 0; i < n; i++)
		if (imps[i]->qn >= f->lim.max_importer_events)
			return true;
	return false;
}

/* EXPORT, in the order of the checks of the specification. */
static uint32_t m_export(struct fz *f, const uint8_t *b, uint32_t len)
{
	const struct vhost_vdmabuf_limits *l = &f->lim;
	struct virtio_vdmabuf_export_req rq = {};
	struct virtio_vdmabuf_range *rg;
	uint64_t size, sum = 0, end, live_bytes = 0, pinned = 0;
	uint32_t nr, meta, i, live = 0, held = 0;
	struct mimp *imps[NIMP];
	struct mexp *e;

	memcpy(&rq, b, len < sizeof(rq) ? len : sizeof(rq));
	if (rq.hdr.flags || zero16(rq.hdr.uuid))
		return S_INVALID;
	if (len < sizeof(rq))
		return S_INVALID;
	nr = rq.nr_ranges;
	meta = rq.meta_len;
	size = rq.size;
	if (!nr)
		return S_INVALID;
	if (nr > l->max_ranges || meta > l->max_meta_len)
		return S_LIMIT;
	if (len != sizeof(rq) + (uint64_t)nr * sizeof(*rg) + meta)
		return S_INVALID;
	if (!size || size % PAGE)
		return S_INVALID;
	if (size > (uint64_t)l->max_export_mb << 20)
		return S_LIMIT;
	if (m_owned(f, f->gen, rq.hdr.uuid))
		return S_EXISTS;
	for (i = 0; i < f->nexps; i++) {
		e = f->exps[i];
		if (e->gen != f->gen)
			continue;
		held++;
		pinned += e->size / PAGE;
		if (e->live) {
			live++;
			live_bytes += e->size;
		}
	}
	if (live >= l->max_exports ||
	    live_bytes + size > (uint64_t)l->max_total_mb << 20)
		return S_LIMIT;
	if (pinned + size / PAGE > (uint64_t)l->max_total_mb << 8 ||
	    held - live >= l->max_exports)
		return S_NOMEM;
	if (m_importers_full(f))
		return S_BUSY;
	/* Checks 1 to 9 allocate nothing; from here on NOMEM may come. */
	f->may_nomem = true;

	rg = xrealloc(NULL, nr * sizeof(*rg));
	memcpy(rg, b + sizeof(rq), nr * sizeof(*rg));
	for (i = 0; i < nr; i++) {
		if (rg[i].addr % PAGE || rg[i].len % PAGE || !rg[i].len ||
		    __builtin_add_overflow(rg[i].addr, rg[i].len, &end) ||
		    __builtin_add_overflow(sum, rg[i].len, &sum)) {
			free(rg);
			return S_INVALID;
		}
	}
	if (sum != size) {
		free(rg);
		return S_INVALID;
	}
	e = xrealloc(NULL, sizeof(*e));
	memset(e, 0, sizeof(*e));
	e->ranges = rg;
	rg = xrealloc(NULL, nr * sizeof(*rg));
	memcpy(rg, e->ranges, nr * sizeof(*rg));
	qsort(rg, nr, sizeof(*rg), range_cmp);
	for (i = 1; i < nr; i++)
		if (rg[i].addr < rg[i - 1].addr + rg[i - 1].len)
			break;
	free(rg);
	if (i < nr) {
		free(e->ranges);
		free(e);
		return S_INVALID;
	}
	for (i = 0; i < nr; i++) {
		if (e->ranges[i].addr >= RAM_SIZE ||
		    e->ranges[i].len > RAM_SIZE - e->ranges[i].addr) {
			free(e->ranges);
			free(e);
			return S_FAULT;
		}
	}
	/*
	 * The charge: every page still pinned for our user, whatever the
	 * device, against the owner's RLIMIT_MEMLOCK.
	 */
	if (f->memlock && m_pinned_all(f) + size / PAGE > f->memlock) {
		free(e->ranges);
		free(e);
		return S_NOMEM;
	}

	/* OK: pinned, live, and every importer told. */
	e->serial = ++f->serial;
	e->gen = f->gen;
	memcpy(e->uuid, rq.hdr.uuid, 16);
	e->size = size;
	e->nr_ranges = nr;
	e->meta_len = meta;
	e->meta_hash = fnv(FNV_BASIS, b + sizeof(rq) + nr * sizeof(*rg), meta);
	e->live = true;
	e->owned = true;
	if (f->nexps == f->cexps) {
		f->cexps = f->cexps ? 2 * f->cexps : 64;
		f->exps = xrealloc(f->exps, f->cexps * sizeof(*f->exps));
	}
	f->exps[f->nexps++] = e;
	nr = m_imps(f, f->gen, imps);
	for (i = 0; i < nr; i++)
		rec_exported(imps[i], e);
	return S_OK;
}

static uint32_t m_unexport_req(struct fz *f, const uint8_t *b, uint32_t len)
{
	struct virtio_vdmabuf_req_hdr hdr = {};
	struct mexp *e;

	memcpy(&hdr, b, len < sizeof(hdr) ? len : sizeof(hdr));
	if (hdr.flags || len != sizeof(hdr))
		return S_INVALID;
	e = m_find(f, f->gen, hdr.uuid, true);
	if (!e)
		return S_NOENT;
	m_unexport(f, e, true);
	m_maybe_release(f, e);
	return S_OK;
}

static uint32_t m_present(struct fz *f, const uint8_t *b, uint32_t len)
{
	struct virtio_vdmabuf_present_req rq = {};
	uint32_t nr, i, n, old_len, add;
	struct mimp *imps[NIMP], *m;
	struct mexp *e;
	struct mrec r;
	int old, p;

	if (!f->f_present)
		return S_UNSUPPORTED;
	if (len < sizeof(rq))
		return S_INVALID;
	memcpy(&rq, b, sizeof(rq));
	if (rq.hdr.flags || rq.padding)
		return S_INVALID;
	e = m_find(f, f->gen, rq.hdr.uuid, true);
	if (!e)
		return S_NOENT;
	nr = rq.nr_rects;
	if (nr > f->lim.max_rects)
		return S_LIMIT;
	if (len != sizeof(rq) + nr * sizeof(struct virtio_vdmabuf_rect))
		return S_INVALID;
	n = m_imps(f, f->gen, imps);
	for (i = 0; i < n; i++)
		if (imps[i]->qn >= f->lim.max_importer_events &&
		    q_find(imps[i], VHOST_VDMABUF_EVENT_PRESENTED,
			   e->serial) < 0)
			return S_BUSY;
	if (f->gq_n >= f->lim.max_guest_events)
		return S_BUSY;
	/* Only the frame's memory is allocated, after check 6. */
	f->may_nomem = true;

	/* OK: the pending frame is replaced, every importer told. */
	m_frame_finish(f, e, VIRTIO_VDMABUF_EVT_F_REPLACED, true);
	e->frame_pending = true;
	e->frame_seq = rq.seq;
	e->frame_no = ++f->last_frame;
	e->last_seq = rq.seq;
	e->last_frame = e->frame_no;
	add = nr * sizeof(struct virtio_vdmabuf_rect);
	for (i = 0; i < n; i++) {
		m = imps[i];
		old = q_find(m, VHOST_VDMABUF_EVENT_PRESENTED, e->serial);
		rec_make(&r, VHOST_VDMABUF_EVENT_PRESENTED, e);
		r.seq = rq.seq;
		r.frame = e->frame_no;
		r.linked = true;
		old_len = old >= 0 ? m->q[old].payload_len : 0;
		if ((old >= 0 && !old_len) || !add ||
		    old_len + add > VIRTIO_VDMABUF_MAX_RECTS *
				    sizeof(struct virtio_vdmabuf_rect)) {
			r.payload_len = 0;
			r.hash = FNV_BASIS;
		} else {
			r.payload_len = old_len + add;
			r.hash = fnv(old >= 0 ? m->q[old].hash : FNV_BASIS,
				     b + sizeof(rq), add);
		}
		r.nr_frames = old < 0 ? 1 : m->q[old].nr_frames == UINT32_MAX ?
			      UINT32_MAX : m->q[old].nr_frames + 1;
		if (m->all_frames)
			part_add(m, e->serial);
		p = part_find(m, e->serial);
		if (p >= 0) {
			m->parts[p].owes = true;
			e->nr_owing++;
			r.flags = VHOST_VDMABUF_EVENT_F_OWED;
		}
		if (old >= 0)
			q_del(m, old);
		q_push(m, &r);
	}
	if (!e->nr_owing)
		m_frame_finish(f, e, 0, true);
	return S_OK;
}

/* vhost_vdmabuf_request(): the status, the model updated on OK. */
static uint32_t m_request(struct fz *f, const uint8_t *b, uint32_t len)
{
	uint32_t type;

	if (len < sizeof(struct virtio_vdmabuf_req_hdr))
		return S_INVALID;
	memcpy(&type, b, 4);
	switch (type) {
	case VIRTIO_VDMABUF_REQ_EXPORT:
		return m_export(f, b, len);
	case VIRTIO_VDMABUF_REQ_UNEXPORT:
		return m_unexport_req(f, b, len);
	case VIRTIO_VDMABUF_REQ_PRESENT:
		return m_present(f, b, len);
	default:
		return S_UNSUPPORTED;
	}
}

/* The statuses the specification allows for a request of @type. */
static bool status_allowed(const uint8_t *b, uint32_t len, uint32_t s)
{
	uint32_t type = 0;

	if (len >= 4)
		memcpy(&type, b, 4);
	switch (len < sizeof(struct virtio_vdmabuf_req_hdr) ? 0 : type) {
	case VIRTIO_VDMABUF_REQ_EXPORT:
		return s <= S_BUSY && s != S_UNSUPPORTED && s != S_NOENT;
	case VIRTIO_VDMABUF_REQ_UNEXPORT:
		return s == S_OK || s == S_INVALID || s == S_NOENT;
	case VIRTIO_VDMABUF_REQ_PRESENT:
		return s <= S_BUSY && s != S_EXISTS && s != S_FAULT;
	default:
		return s == S_INVALID || s == S_UNSUPPORTED;
	}
}

/* ---------------------------------------------------------------------- */
/* The rings                                                              */
/* ---------------------------------------------------------------------- */

/*
 * Wait until @n more buffers than @base are used on queue @q, at most
 * f->wait_ms: how many are (more than @n if the device returned more).
 */
static uint16_t wait_used(struct fz *f, int q, uint16_t base, uint16_t n)
{
	uint64_t end = now_ms() + f->wait_ms;
	uint16_t got;
	int64_t left;

	for (;;) {
		got = used_idx(ring_used(&f->v, q)) - base;
		if (got >= n)
			return got;
		left = (int64_t)(end - now_ms());
		if (left <= 0)
			return got;
		wait_call(&f->v, q, left > 100 ? 100 : (int)left);
	}
}

static uint32_t chain_in(const struct chain *c)
{
	uint32_t i, n = 0;

	for (i = 0; i < c->nin; i++)
		n += c->in[i];
	return n;
}

/* Make @req available as one chain laid out as @c, and kick. */
static void chain_post(struct fz *f, const uint8_t *req, const struct chain *c)
{
	struct vring_desc *ring = ring_desc(&f->v, 0), *d;
	struct vring_avail *a = ring_avail(&f->v, 0);
	bool ind = c->indirect && f->f_indirect;
	uint64_t addr = REQ_BUF;
	uint32_t i, n = 0, off = 0;

	d = ind ? gpa(&f->v, IND_TABLE) : ring;
	for (i = 0; i < c->nout; i++) {
		addr += c->gap[i];
		memcpy(gpa(&f->v, addr), req + off, c->out[i]);
		d[n].addr = addr;
		d[n].len = c->out[i];
		d[n].flags = VRING_DESC_F_NEXT;
		d[n].next = n + 1;
		addr += c->out[i];
		off += c->out[i];
		n++;
	}
	memset(gpa(&f->v, RESP), 0xff, RESP_LEN);
	addr = RESP;
	for (i = 0; i < c->nin; i++) {
		d[n].addr = addr;
		d[n].len = c->in[i];
		d[n].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
		d[n].next = n + 1;
		addr += c->in[i];
		n++;
	}
	d[n - 1].flags &= ~VRING_DESC_F_NEXT;
	if (ind) {
		ring[0].addr = IND_TABLE;
		ring[0].len = n * sizeof(*d);
		ring[0].flags = VRING_DESC_F_INDIRECT;
		ring[0].next = 0;
	}
	a->ring[f->v.req_avail % NUM] = 0;
	__sync_synchronize();
	a->idx = ++f->v.req_avail;
	__sync_synchronize();
	kick(&f->v, 0);
	f->n_vq++;
}

/*
 * Every event buffer the model says the device has returned must be
 * back within the wait, and no other.  And every request was answered
 * once: answer_check() sees a second answer only if it came before the
 * check; one that came later shows here (the request a paused device
 * holds is not answered yet, dev_start()).
 */
static void settle(struct fz *f)
{
	int16_t extra;
	uint16_t got;

	if (f->failed || !f->open)
		return;
	extra = (int16_t)(used_idx(ring_used(&f->v, 0)) -
			  (uint16_t)(f->v.req_avail - f->pending));
	if (extra) {
		fail(f, "answered", "%d answers %s than requests",
		     abs(extra), extra > 0 ? "more" : "fewer");
		return;
	}
	got = wait_used(f, 1, f->v.ev_used, f->evx_n);
	if (got != f->evx_n)
		fail(f, "guest events",
		     "%u event buffers returned, %u expected (within %d ms)",
		     got, f->evx_n, f->wait_ms);
}

/* The answer of the request the device took: used length and status. */
static void answer_check(struct fz *f, const uint8_t *req, uint32_t len,
			 const struct chain *c, uint32_t want_used,
			 uint32_t want)
{
	struct vring_used_elem e;
	uint32_t in = chain_in(c), i, status, padding, type = 0;
	const uint8_t *resp;
	uint16_t got;

	got = wait_used(f, 0, f->v.req_avail - 1, 1);
	if (got > 1) {
		fail(f, "answered", "request answered %u times", got);
		return;
	}
	if (!got) {
		fail(f, "answered", "request not answered within %d ms",
		     f->wait_ms);
		return;
	}
	__sync_synchronize();
	e = ring_used(&f->v, 0)->ring[(uint16_t)(f->v.req_avail - 1) % NUM];
	f->n_answers++;
	memcpy(&type, req, len < 4 ? 0 : 4);
	type = len < sizeof(struct virtio_vdmabuf_req_hdr) || type < 1 ||
	       type > 3 ? 3 : type - 1;
	f->n_status[type][want_used ? (want < 9 ? want : 8) : 9]++;
	if (e.id != 0 || e.len != want_used) {
		fail(f, "used length",
		     "used id %u length %u, expected id 0 length %u",
		     e.id, e.len, want_used);
		return;
	}
	resp = gpa(&f->v, RESP);
	snprintf(f->out, sizeof(f->out), "%s%s", f->aimed,
		 want_used ? sname(want) : "returned unanswered");
	if (want_used) {
		memcpy(&status, resp, 4);
		memcpy(&padding, resp + 4, 4);
		/*
		 * NOMEM where the model expected another status is the one
		 * an allocation failure explains, and only once the request
		 * passed the checks that allocate nothing.
		 */
		if (status != want) {
			fail(f, status == S_NOMEM && f->may_nomem ?
			     "status NOMEM" : "status",
			     "expected %s, got %s (%u)%s",
			     sname(want), sname(status), status,
			     status_allowed(req, len, status) ? "" :
			     ", not a status the spec allows for it");
			return;
		}
		if (padding) {
			fail(f, "status", "response padding %#x", padding);
			return;
		}
	}
	/* Not a byte past the response, nor any with no room for one. */
	for (i = want_used; i < RESP_LEN; i++) {
		if (resp[i] != 0xff) {
			fail(f, "status", "byte %u of %u writable ones written",
			     i, in);
			return;
		}
	}
}

/* The device takes a request: what it must answer, the model updated. */
static void m_take(struct fz *f, const uint8_t *req, uint32_t len,
		   const struct chain *c, uint32_t *used, uint32_t *status)
{
	f->requests++;
	f->may_nomem = false;
	*status = S_INVALID;
	*used = 0;
	if (chain_in(c) >= sizeof(struct virtio_vdmabuf_resp)) {
		*used = sizeof(struct virtio_vdmabuf_resp);
		*status = m_request(f, req, len);
	}
	if (*status != S_OK || !*used)
		f->bad_requests++;
	m_deliver(f);
}

/*
 * SET_RUNNING 1.  With a request waiting from the pause, the device takes
 * it first (vhost_vdmabuf_start() queues the request work before the
 * event work).  SET_RUNNING 0 first flushes the worker: event work queued
 * while paused must not run after the start, ahead of the request.
 */
static void dev_start(struct fz *f)
{
	uint32_t zero = 0, one = 1, used, status;

	if (f->pending && f->pend_used != used_idx(ring_used(&f->v, 0))) {
		fail(f, "paused", "a request was answered while paused");
		return;
	}
	if (f->pending && ioctl(f->v.fd, VHOST_VDMABUF_SET_RUNNING, &zero)) {
		fail(f, "ioctl", "SET_RUNNING 0: %s", strerror(errno));
		return;
	}
	if (ioctl(f->v.fd, VHOST_VDMABUF_SET_RUNNING, &one)) {
		fail(f, "ioctl", "SET_RUNNING 1: %s", strerror(errno));
		return;
	}
	f->running = true;
	f->frozen = true;
	if (f->pending) {
		f->pending = false;
		m_take(f, f->pend_req, f->pend_len, &f->pend_chain, &used,
		       &status);
		answer_check(f, f->pend_req, f->pend_len, &f->pend_chain,
			     used, status);
	}
	m_deliver(f);
}

static void do_request(struct fz *f, const uint8_t *req, uint32_t len,
		       const struct chain *c)
{
	uint32_t used, status;

	/* One request at a time waits for a paused device. */
	if (!f->running && f->pending)
		dev_start(f);
	if (f->failed)
		return;
	if (!f->running) {
		memcpy(f->pend_req, req, len);
		f->pend_len = len;
		f->pend_chain = *c;
		f->pend_used = used_idx(ring_used(&f->v, 0));
		f->pending = true;
		chain_post(f, req, c);
		return;
	}
	/* Its checks may count the events not yet delivered: let them go. */
	settle(f);
	if (f->failed)
		return;
	chain_post(f, req, c);
	m_take(f, req, len, c, &used, &status);
	answer_check(f, req, len, c, used, status);
}

/* Event buffers */

static int ev_desc_alloc(struct fz *f)
{
	int i;

	for (i = 0; i < MAXD; i++) {
		if (!f->desc_used[i]) {
			f->desc_used[i] = true;
			return i;
		}
	}
	return -1;
}

static uint32_t ev_descs_free(struct fz *f)
{
	uint32_t i, n = 0;

	for (i = 0; i < MAXD; i++)
		n += !f->desc_used[i];
	return n;
}

/* Post @b (its lengths and kind filled in) on the event queue. */
static void ev_post(struct fz *f, struct evbuf *b)
{
	struct vring_desc *d = ring_desc(&f->v, 1);
	struct vring_avail *a = ring_avail(&f->v, 1);
	uint32_t i, total = 0;
	int k;

	for (i = 0; i < b->nd; i++) {
		k = ev_desc_alloc(f);
		b->d[i] = k;
		memset(gpa(&f->v, EVB_BASE + k * EVB_SLOT), 0xee, EVB_SLOT);
		d[k].addr = EVB_BASE + k * EVB_SLOT;
		d[k].len = b->len[i];
		d[k].flags = (i || !b->readable) ? VRING_DESC_F_WRITE : 0;
		if (i)
			d[b->d[i - 1]].next = k;
		if (i)
			d[b->d[i - 1]].flags |= VRING_DESC_F_NEXT;
		if (i || !b->readable)
			total += b->len[i];
	}
	b->head = b->d[0];
	b->good = !b->readable && total >= EV_LEN;
	a->ring[f->v.ev_avail % NUM] = b->head;
	__sync_synchronize();
	a->idx = ++f->v.ev_avail;
	__sync_synchronize();
	f->evb[(f->evb_head + f->evb_n++) % MAXD] = *b;
	kick(&f->v, 1);
	m_deliver(f);
}

/* Post a plain 32-byte event buffer. */
static void ev_post_plain(struct fz *f)
{
	struct evbuf b = { .nd = 1, .len = { EV_LEN } };

	if (ev_descs_free(f))
		ev_post(f, &b);
}

/* Take back every event buffer the device returned; check each event. */
static void ev_read(struct fz *f)
{
	struct virtio_vdmabuf_event ev;
	struct vring_used_elem e;
	uint32_t i, off, n;
	uint8_t raw[EV_LEN];
	struct evx *x;
	char u[33];

	settle(f);
	while (f->evx_n && !f->failed) {
		x = &f->evx[f->evx_head];
		__sync_synchronize();
		e = ring_used(&f->v, 1)->ring[f->v.ev_used % NUM];
		if (e.id != x->b.head || e.len != x->len) {
			fail(f, "guest events",
			     "event buffer %u returned with length %u, expected buffer %u with %u",
			     e.id, e.len, x->b.head, x->len);
			return;
		}
		if (x->len) {
			for (i = 0, off = 0; off < EV_LEN; i++) {
				n = x->b.len[i];
				if (n > EV_LEN - off)
					n = EV_LEN - off;
				memcpy(raw + off, gpa(&f->v, EVB_BASE +
						      x->b.d[i] * EVB_SLOT), n);
				off += n;
			}
			memcpy(&ev, raw, sizeof(ev));
			if (ev.type != x->ev.type || ev.flags != x->ev.flags ||
			    ev.seq != x->ev.seq ||
			    memcmp(ev.uuid, x->ev.uuid, 16)) {
				uuid_str(x->ev.uuid, u);
				fail(f, "guest events",
				     "event type %u flags %u seq %llu, expected type %u flags %u seq %llu of %s",
				     ev.type, ev.flags,
				     (unsigned long long)ev.seq, x->ev.type,
				     x->ev.flags,
				     (unsigned long long)x->ev.seq, u);
				return;
			}
			f->n_events++;
		}
		for (i = 0; i < x->b.nd; i++)
			f->desc_used[x->b.d[i]] = false;
		f->v.ev_used++;
		f->evx_head = (f->evx_head + 1) % MAXD;
		f->evx_n--;
	}
}

/* ---------------------------------------------------------------------- */
/* Requests: generating them                                              */
/* ---------------------------------------------------------------------- */

static void pool_uuid(uint8_t *u, uint32_t slot)
{
	memset(u, 0, 16);
	u[0] = 0xf2;
	u[1] = 0x22;
	u[6] = 0x40;
	u[8] = 0x80;
	u[15] = slot + 1;
}

/* A UUID of the pool, mostly; a fresh one; or zero. */
static void gen_uuid(struct rng *r, uint8_t *u, char *note, size_t len)
{
	uint32_t c = below(r, 100), slot;

	if (c < 88) {
		slot = below(r, NUUID);
		pool_uuid(u, slot);
		snprintf(note, len, "uuid#%u", slot);
	} else if (c < 97) {
		rnd_bytes(r, u, 16);
		u[6] = (u[6] & 0x0f) | 0x40;
		u[8] = (u[8] & 0x3f) | 0x80;
		snprintf(note, len, "uuid-fresh");
	} else {
		memset(u, 0, 16);
		snprintf(note, len, "uuid-zero");
	}
}

/* A UUID as the descriptions name it. */
static const char *uuid_name(const uint8_t *u, char *buf, size_t len)
{
	uint8_t p[16];

	if (zero16(u))
		return "uuid-zero";
	if (u[15] >= 1 && u[15] <= NUUID) {
		pool_uuid(p, u[15] - 1);
		if (!memcmp(p, u, 16)) {
			snprintf(buf, len, "uuid#%u", u[15] - 1);
			return buf;
		}
	}
	snprintf(buf, len, "uuid-%02x%02x%02x%02x", u[0], u[1], u[2], u[3]);
	return buf;
}

/*
 * Aim at a live export of device @gen, unless @sel (drawn with the
 * action) says not to: UUIDs drawn blindly mostly miss.  The choice
 * depends on the state, which the same sequence of actions makes again.
 */
static struct mexp *aim(struct fz *f, int gen, uint8_t *u, uint64_t sel)
{
	uint32_t i, n = 0;
	char b[24];

	if (!(sel & 3))
		return NULL;
	for (i = 0; i < f->nexps; i++)
		n += f->exps[i]->gen == gen && f->exps[i]->live;
	if (!n)
		return NULL;
	n = (sel >> 8) % n;
	for (i = 0; i < f->nexps; i++) {
		if (f->exps[i]->gen != gen || !f->exps[i]->live || n--)
			continue;
		memcpy(u, f->exps[i]->uuid, 16);
		snprintf(f->aimed, sizeof(f->aimed), "at %s: ",
			 uuid_name(u, b, sizeof(b)));
		return f->exps[i];
	}
	return NULL;
}

/*
 * Guest pages for @nr ranges of @total pages, none overlapping: mostly
 * above BUF_BASE, in random places and order.  Returns the ranges made.
 */
static uint32_t gen_ranges(struct rng *r, struct virtio_vdmabuf_range *rg,
			   uint32_t nr, uint32_t total)
{
	static uint8_t map[RAM_PAGES / 8];
	uint32_t i, k, len, lo, start, rem = total - nr, p, try;

	memset(map, 0, sizeof(map));
	for (i = 0; i < nr; i++) {
		len = 1 + (i == nr - 1 ? rem : below(r, rem / (nr - i) * 2 + 1));
		if (len - 1 > rem)
			len = rem + 1;
		rem -= len - 1;
		lo = pct(r, 80) ? BUF_BASE / PAGE : 0;
		for (try = 0; try < 12; try++) {
			if (try >= 8)
				len = (len + 1) / 2;
			start = lo + below(r, RAM_PAGES - lo - len + 1);
			for (k = 0; k < len; k++) {
				p = start + k;
				if (map[p / 8] & (1 << (p % 8)))
					break;
			}
			if (k == len)
				break;
		}
		if (try == 12)
			return i;
		for (k = 0; k < len; k++) {
			p = start + k;
			map[p / 8] |= 1 << (p % 8);
		}
		rg[i].addr = (uint64_t)start * PAGE;
		rg[i].len = (uint64_t)len * PAGE;
	}
	return nr;
}

static uint32_t gen_meta_len(struct rng *r)
{
	uint32_t c = below(r, 100);

	if (c < 30)
		return 0;
	if (c < 55)
		return between(r, 1, 136);
	if (c < 85)
		return between(r, 137, 1024);
	if (c < 95)
		return PICK(r, 1023, 1024, 136, 16);
	return between(r, 1, 64);
}

/* An EXPORT, valid or broken in one way; its length. */
static uint32_t gen_export(struct rng *r, uint8_t *b, char *note, size_t nlen)
{
	struct virtio_vdmabuf_export_req *rq = (void *)b;
	struct virtio_vdmabuf_range *rg = (void *)(rq + 1);
	uint32_t v = below(r, 100), nr, total, meta, i, k, len, c;
	const char *what = "valid";
	uint64_t size = 0;
	char u[16];

	memset(rq, 0, sizeof(*rq));
	rq->hdr.type = VIRTIO_VDMABUF_REQ_EXPORT;
	gen_uuid(r, rq->hdr.uuid, u, sizeof(u));
	if (v >= 96) {
		nr = between(r, 64, 2048);
		total = nr;
	} else {
		c = below(r, 100);
		total = c < 70 ? between(r, 1, 16) : c < 93 ?
			between(r, 17, 512) : between(r, 513, 4096);
		c = below(r, 100);
		nr = c < 45 ? 1 : c < 85 ? between(r, 2, 4) :
		     between(r, 5, 32);
		if (nr > total)
			nr = total;
	}
	nr = gen_ranges(r, rg, nr, total);
	for (i = 0; i < nr; i++)
		size += rg[i].len;
	meta = gen_meta_len(r);
	k = nr ? below(r, nr) : 0;

	if (v < 60) {
		;
	} else if (v < 65 && nr) {
		what = "overlapping";
		rg[nr].len = (uint64_t)between(r, 1, rg[k].len / PAGE) * PAGE;
		rg[nr].addr = rg[k].addr + (uint64_t)below(r, rg[k].len / PAGE) *
			      PAGE;
		size += rg[nr++].len;
	} else if (v < 70 && nr) {
		what = "outside RAM";
		size -= rg[k].len;
		if (pct(r, 50)) {
			rg[k].addr = RAM_SIZE + (uint64_t)below(r, 4096) * PAGE;
		} else {
			rg[k].addr = RAM_SIZE - PAGE;
			rg[k].len += PAGE;
		}
		size += rg[k].len;
	} else if (v < 73 && nr) {
		what = "huge";
		size -= rg[k].len;
		c = below(r, 3);
		if (c == 0) {
			rg[k].addr = 0;
			rg[k].len = 1ULL << 30;
		} else if (c == 1) {
			rg[k].addr = ~0ULL - PAGE + 1;
			rg[k].len = 2 * PAGE;
		} else {
			rg[k].len = 1ULL << 63;
		}
		size += rg[k].len;
	} else if (v < 76 && nr) {
		what = "zero-length range";
		size -= rg[k].len;
		rg[k].len = 0;
	} else if (v < 79 && nr) {
		what = "unaligned range";
		if (pct(r, 50)) {
			rg[k].addr += between(r, 1, PAGE - 1);
		} else {
			c = between(r, 1, PAGE - 1);
			rg[k].len += c;
			size += c;
		}
	} else if (v < 81) {
		what = "size not the sum";
		size = size > PAGE && pct(r, 50) ? size - PAGE :
		       size + between(r, 1, 4) * PAGE;
	} else if (v < 83) {
		what = "bad size";
		size = pct(r, 50) ? 0 : size + between(r, 1, PAGE - 1);
	} else if (v < 84) {
		what = "no ranges";
		nr = 0;
	} else if (v < 86) {
		what = "too many ranges";
		rq->nr_ranges = PICK(r, 16385, 65536, 65537, 0xffffffff);
	} else if (v < 89) {
		what = "metadata over its limit";
		meta = PICK(r, 1025, 2048, 4096, 4097, 0xffffffff);
	} else if (v < 92) {
		what = "length mismatch";
	} else if (v < 93) {
		what = "header flags";
		rq->hdr.flags = (uint32_t)rnd(r) | 1;
	} else if (v < 94) {
		what = "zero uuid";
		memset(rq->hdr.uuid, 0, 16);
	} else if (v < 96) {
		what = "short";
	} else {
		what = "many ranges";
	}
	if (!rq->nr_ranges)
		rq->nr_ranges = nr;
	rq->size = size;
	rq->meta_len = meta;
	len = sizeof(*rq) + nr * sizeof(*rg);
	if (meta <= 4097) {
		rnd_bytes(r, b + len, meta);
		len += meta;
	}
	if (v >= 89 && v < 92) {
		if (pct(r, 50) && len > sizeof(*rq)) {
			len -= between(r, 1, len - sizeof(*rq) < 16 ?
					  len - sizeof(*rq) : 16);
		} else {
			c = between(r, 1, 64);
			rnd_bytes(r, b + len, c);
			len += c;
		}
	}
	if (v >= 94 && v < 96)
		len = pct(r, 75) ? between(r, 24, 39) : between(r, 0, 23);
	snprintf(note, nlen, "%s %s size %#llx ranges %u/%u meta %u len %u",
		 what, u, (unsigned long long)size, rq->nr_ranges, nr, meta,
		 len);
	return len;
}

static uint32_t gen_unexport(struct rng *r, uint8_t *b, char *note,
			     size_t nlen)
{
	struct virtio_vdmabuf_req_hdr *h = (void *)b;
	uint32_t v = below(r, 100), len = sizeof(*h);
	const char *what = "valid";
	char u[16];

	memset(h, 0, sizeof(*h));
	h->type = VIRTIO_VDMABUF_REQ_UNEXPORT;
	gen_uuid(r, h->uuid, u, sizeof(u));
	if (v < 4) {
		what = "header flags";
		h->flags = 1u << below(r, 32);
	} else if (v < 9) {
		what = "length mismatch";
		len = pct(r, 30) ? between(r, 16, 23) : between(r, 25, 48);
		rnd_bytes(r, b + sizeof(*h), 24);
	}
	snprintf(note, nlen, "%s %s len %u", what, u, len);
	return len;
}

static uint32_t gen_present(struct rng *r, uint8_t *b, char *note,
			    size_t nlen)
{
	struct virtio_vdmabuf_present_req *rq = (void *)b;
	uint32_t v = below(r, 100), c = below(r, 100), nr, body, len;
	const char *what = "valid";
	char u[16];

	memset(rq, 0, sizeof(*rq));
	rq->hdr.type = VIRTIO_VDMABUF_REQ_PRESENT;
	gen_uuid(r, rq->hdr.uuid, u, sizeof(u));
	rq->seq = pct(r, 50) ? below(r, 8) : rnd(r);
	nr = c < 30 ? 0 : c < 80 ? between(r, 1, 16) : c < 92 ?
	     between(r, 17, 64) : PICK(r, 65, 128, 1000, 0xffffffff);
	rq->nr_rects = nr;
	body = nr <= 128 ? nr : 0;
	rnd_bytes(r, rq + 1, body * sizeof(struct virtio_vdmabuf_rect));
	len = sizeof(*rq) + body * sizeof(struct virtio_vdmabuf_rect);
	if (v < 3) {
		what = "header flags";
		rq->hdr.flags = 1u << below(r, 32);
	} else if (v < 6) {
		what = "padding";
		rq->padding = (uint32_t)rnd(r) | 1;
	} else if (v < 9) {
		what = "short";
		len = between(r, 24, 39);
	} else if (v < 14) {
		what = "length mismatch";
		if (pct(r, 50) && len > sizeof(*rq))
			len -= pct(r, 50) ? 16 : between(r, 1, 15);
		else
			len += pct(r, 50) ? 16 : between(r, 1, 15);
	}
	snprintf(note, nlen, "%s %s seq %llu rects %u len %u", what, u,
		 (unsigned long long)rq->seq, nr, len);
	return len;
}

/* Malformed at the header, or no room for the status (*@noroom). */
static uint32_t gen_badreq(struct rng *r, uint8_t *b, char *note, size_t nlen,
			   bool *noroom)
{
	uint32_t c = below(r, 100), len, type;

	if (c < 15) {
		len = 0;
		snprintf(note, nlen, "empty");
	} else if (c < 35) {
		len = between(r, 1, 23);
		rnd_bytes(r, b, len);
		snprintf(note, nlen, "short header, len %u", len);
	} else if (c < 75) {
		type = PICK(r, 0, 4, 5, 0x100, 0x80000001, 0xffffffff);
		len = between(r, 24, 200);
		rnd_bytes(r, b, len);
		memcpy(b, &type, 4);
		snprintf(note, nlen, "type %#x, len %u", type, len);
	} else {
		*noroom = true;
		if (pct(r, 50))
			len = gen_export(r, b, note, nlen);
		else
			len = gen_present(r, b, note, nlen);
	}
	return len;
}

/*
 * How a request of @len bytes is laid out: its readable bytes cut into
 * descriptors at random places (empty ones too), with gaps between them
 * in guest memory; then the writable part, one descriptor or several,
 * rarely too short for the status (@noroom: always).
 */
static void gen_chain(struct rng *r, uint32_t len, bool noroom,
		      struct chain *c, char *note, size_t nlen)
{
	uint32_t k, i, left = len, cut, x;

	memset(c, 0, sizeof(*c));
	c->indirect = pct(r, 25);
	x = below(r, 20);
	k = x < 10 ? 1 : x < 16 ? between(r, 2, 4) : x < 19 ?
	    between(r, 5, 16) : between(r, 17, MAXD - 8);
	if (!len)
		k = below(r, 2);
	for (i = 0; i < k; i++) {
		cut = i == k - 1 ? left : below(r, left / (k - i) * 2 + 1);
		if (cut > left)
			cut = left;
		c->out[i] = cut;
		c->gap[i] = pct(r, 30) ? below(r, 64) : 0;
		left -= cut;
	}
	c->nout = k;
	x = below(r, 100);
	if (noroom)
		x = below(r, 3);
	if (x == 0) {
		c->nin = 0;
	} else if (x == 1) {
		c->nin = 1;
		c->in[0] = between(r, 1, 7);
	} else if (x == 2) {
		c->nin = 2;
		c->in[0] = between(r, 1, 3);
		c->in[1] = between(r, 1, 3);
	} else if (x < 10) {
		c->nin = between(r, 2, 3);
		c->in[0] = between(r, 1, 6);
		c->in[1] = c->nin == 2 ? 8 - c->in[0] : 1;
		if (c->nin == 3)
			c->in[2] = 8 - c->in[0] - 1;
	} else if (x < 16) {
		c->nin = 1;
		c->in[0] = PICK(r, 9, 16, 64, 4096);
	} else {
		c->nin = 1;
		c->in[0] = 8;
	}
	/* A chain has at least one descriptor. */
	if (!c->nout && !c->nin)
		c->nout = 1;
	snprintf(note, nlen, "%u+%u descriptors%s, %u writable bytes", c->nout,
		 c->nin, c->indirect ? " (indirect)" : "", chain_in(c));
}

static void act_request(struct fz *f, struct rng *r, enum kind k)
{
	char note[200], cnote[100];
	bool noroom = false;
	struct chain c;
	uint32_t len;
	uint64_t sel;

	switch (k) {
	case A_EXPORT:
		len = gen_export(r, f->req, note, sizeof(note));
		break;
	case A_UNEXPORT:
		len = gen_unexport(r, f->req, note, sizeof(note));
		break;
	case A_PRESENT:
		len = gen_present(r, f->req, note, sizeof(note));
		break;
	default:
		len = gen_badreq(r, f->req, note, sizeof(note), &noroom);
		break;
	}
	gen_chain(r, len, noroom, &c, cnote, sizeof(cnote));
	sel = rnd(r);
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "%s %s; %s%s", kinds[k].name,
			 note, cnote, k == A_PRESENT || k == A_UNEXPORT ?
			 "; or at a live export" : "");
		return;
	}
	/* The header's UUID, even of a short request: what is sent is @len. */
	if (k == A_PRESENT || k == A_UNEXPORT)
		aim(f, f->gen, f->req + 8, sel);
	do_request(f, f->req, len, &c);
}

/* Event buffers of every size and shape; or read the used ones. */
static void act_post_events(struct fz *f, struct rng *r)
{
	struct evbuf bufs[16], *b;
	uint32_t n = between(r, 1, 16), i, j, x, left;

	for (i = 0; i < n; i++) {
		b = &bufs[i];
		memset(b, 0, sizeof(*b));
		x = below(r, 20);
		if (x < 11) {
			b->nd = 1;
			b->len[0] = EV_LEN;
		} else if (x < 13) {
			b->nd = 1;
			b->len[0] = between(r, EV_LEN + 1, EVB_SLOT);
		} else if (x < 15) {
			/* 32 bytes or more over several descriptors */
			b->nd = between(r, 2, EV_DESCS);
			left = between(r, EV_LEN, 2 * EV_LEN);
			for (j = 0; j < b->nd; j++) {
				b->len[j] = j == b->nd - 1 ? left :
					    below(r, left + 1);
				left -= b->len[j];
			}
		} else if (x < 17) {
			b->nd = 1;
			b->len[0] = below(r, EV_LEN);
		} else if (x < 18) {
			b->nd = between(r, 2, 3);
			left = below(r, EV_LEN);
			for (j = 0; j < b->nd; j++) {
				b->len[j] = j == b->nd - 1 ? left :
					    below(r, left + 1);
				left -= b->len[j];
			}
		} else {
			/* device-readable first: never written */
			b->readable = true;
			b->nd = between(r, 1, 2);
			b->len[0] = EV_LEN;
			b->len[1] = EV_LEN;
		}
	}
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "POST_EVENTS %u buffers", n);
		return;
	}
	for (i = 0; i < n && !f->failed; i++)
		if (ev_descs_free(f) >= bufs[i].nd)
			ev_post(f, &bufs[i]);
}

/* ---------------------------------------------------------------------- */
/* Importers and their dma-bufs                                           */
/* ---------------------------------------------------------------------- */

static void buf_release(struct fz *f, struct mbuf *b)
{
	struct mexp *e = m_exp(f, b->exp);

	b->used = false;
	if (!e)
		return;
	e->nr_dmabufs--;
	m_maybe_release(f, e);
	m_deliver(f);
}

static void buf_drop(struct fz *f, struct mbuf *b)
{
	if (!b->used)
		return;
	if (b->map)
		munmap(b->map, b->size);
	if (b->fd >= 0)
		close(b->fd);
	b->map = NULL;
	b->fd = -1;
	buf_release(f, b);
}

/* vhost_vdmabuf_importer_destroy(): what it owes counts as answered. */
static void imp_close(struct fz *f, struct mimp *m)
{
	if (!m->used)
		return;
	while (m->nparts) {
		m_part_answer(f, m, 0);
		part_del(m, 0);
	}
	close(m->fd);
	free(m->q);
	free(m->parts);
	memset(m, 0, sizeof(*m));
	m_deliver(f);
}

static void act_imp_open(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), c = below(r, 100), flags, n, i;
	struct vhost_vdmabuf_importer arg = {};
	struct mimp *imps[NIMP], *m = &f->imp[s];
	int ret, want, fl, err;

	flags = c < 85 ? 0 : c < 95 ? VHOST_VDMABUF_FD_KEEP_ON_EXEC :
		1u << between(r, 1, 31);
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "IMP_OPEN slot %u flags %#x",
			 s, flags);
		return;
	}
	imp_close(f, m);
	n = m_imps(f, f->gen, imps);
	want = flags & ~VHOST_VDMABUF_FD_KEEP_ON_EXEC ? EINVAL :
	       n >= f->lim.max_importers ? EUSERS : 0;
	arg.flags = flags;
	ret = ioctl(f->v.fd, VHOST_VDMABUF_GET_IMPORTER, &arg);
	err = ret ? errno : 0;
	if (err != want) {
		/* It allocates after the flags are checked. */
		fail(f, err == ENOMEM && want != EINVAL ?
		     "importer ENOMEM" : "importer",
		     "GET_IMPORTER: %s, expected %s",
		     ret ? strerror(err) : "success",
		     want ? strerror(want) : "success");
		if (!ret)
			close(arg.fd);
		return;
	}
	tally(f, A_IMP_OPEN, err);
	if (ret)
		return;
	fl = fcntl(arg.fd, F_GETFD);
	if (!!(fl & FD_CLOEXEC) != !(flags & VHOST_VDMABUF_FD_KEEP_ON_EXEC))
		fail(f, "importer", "GET_IMPORTER: FD_CLOEXEC %d, flags %#x",
		     fl, flags);
	fcntl(arg.fd, F_SETFL, O_NONBLOCK);
	m->used = true;
	m->fd = arg.fd;
	m->gen = f->gen;
	m->serial = ++f->serial;
	/* Caught up: an EXPORTED for every live export. */
	for (i = 0; i < f->nexps; i++)
		if (f->exps[i]->gen == f->gen && f->exps[i]->live)
			rec_exported(m, f->exps[i]);
}

static void act_imp_close(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP);

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "IMP_CLOSE slot %u", s);
		return;
	}
	imp_close(f, &f->imp[s]);
}

/* One record as read, against the one the model queued. */
static bool rec_check(struct fz *f, const struct mrec *w, const uint8_t *p,
		      uint32_t avail)
{
	struct vhost_vdmabuf_event h;
	uint32_t len = (sizeof(h) + w->payload_len + 7) & ~7u, i;
	char u[33];

	memcpy(&h, p, sizeof(h));
	uuid_str(w->uuid, u);
	if (len > avail || h.type != w->type || h.len != len ||
	    memcmp(h.uuid, w->uuid, 16) || h.size != w->size ||
	    h.seq != w->seq || h.payload_len != w->payload_len ||
	    h.flags != w->flags || h.frame != w->frame ||
	    h.nr_frames != w->nr_frames || h.padding) {
		fail(f, "importer records",
		     "read type %u len %u size %llu seq %llu payload %u flags %u frame %llu frames %u; expected type %u len %u size %llu seq %llu payload %u flags %u frame %llu frames %u of %s",
		     h.type, h.len, (unsigned long long)h.size,
		     (unsigned long long)h.seq, h.payload_len, h.flags,
		     (unsigned long long)h.frame, h.nr_frames, w->type, len,
		     (unsigned long long)w->size, (unsigned long long)w->seq,
		     w->payload_len, w->flags, (unsigned long long)w->frame,
		     w->nr_frames, u);
		return false;
	}
	if (fnv(FNV_BASIS, p + sizeof(h), w->payload_len) != w->hash) {
		fail(f, "importer records", "payload of type %u of %s differs",
		     w->type, u);
		return false;
	}
	for (i = sizeof(h) + w->payload_len; i < len; i++) {
		if (p[i]) {
			fail(f, "importer records", "padding byte %u not zero",
			     i);
			return false;
		}
	}
	return true;
}

static uint32_t rec_len(const struct mrec *r)
{
	return (sizeof(struct vhost_vdmabuf_event) + r->payload_len + 7) & ~7u;
}

static void act_imp_read(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), c = below(r, 100), sz, i, off;
	struct mimp *m = &f->imp[s];
	ssize_t n, want = 0;
	int want_err = 0, err;

	sz = c < 60 ? VHOST_VDMABUF_EVENT_MAX : c < 85 ? 65536 :
	     c < 90 ? sizeof(struct vhost_vdmabuf_event) : between(r, 1, 4096);
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "IMP_READ slot %u, %u bytes",
			 s, sz);
		return;
	}
	if (!m->used)
		return;
	if (!m->qn) {
		/* End of file once its device is closed. */
		if (m->gen == f->gen) {
			want = -1;
			want_err = EAGAIN;
		}
	} else if (rec_len(&m->q[0]) > sz) {
		want = -1;
		want_err = EINVAL;
	} else {
		for (i = 0; i < m->qn && want + rec_len(&m->q[i]) <= sz; i++)
			want += rec_len(&m->q[i]);
	}
	n = read(m->fd, f->rbuf, sz);
	err = n < 0 ? errno : 0;
	tally(f, A_IMP_READ, n < 0 ? err : n ? 0 : ENODATA);
	if (n != want || (n < 0 && err != want_err)) {
		fail(f, "importer records",
		     "read of %u bytes: %zd (%s), expected %zd (%s); %u queued",
		     sz, n, n < 0 ? strerror(err) : "-", want,
		     want < 0 ? strerror(want_err) : "-", m->qn);
		return;
	}
	for (off = 0; n > 0 && off < (uint32_t)n && !f->failed;) {
		if (!rec_check(f, &m->q[0], f->rbuf + off, n - off))
			return;
		off += rec_len(&m->q[0]);
		q_del(m, 0);
		f->n_records++;
	}
}

/* A UUID, and the choice for aim() (a live export of the importer's). */
static uint64_t gen_imp_uuid(struct rng *r, uint8_t *u, char *note,
			     size_t len)
{
	gen_uuid(r, u, note, len);
	return rnd(r);
}

static void act_import(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), bs = below(r, NBUF), flags, fl;
	struct vhost_vdmabuf_import arg = {};
	struct mimp *m = &f->imp[s];
	struct mbuf *b = &f->buf[bs];
	struct mexp *e;
	uint64_t sel;
	char u[16];
	int ret, want, err;

	sel = gen_imp_uuid(r, arg.uuid, u, sizeof(u));
	flags = pct(r, 90) ? 0 : pct(r, 70) ? VHOST_VDMABUF_FD_KEEP_ON_EXEC :
		1u << between(r, 1, 31);
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc),
			 "IMPORT slot %u %s flags %#x into dma-buf slot %u",
			 s, u, flags, bs);
		return;
	}
	if (!m->used)
		return;
	buf_drop(f, b);
	aim(f, m->gen, arg.uuid, sel);
	e = m_find(f, m->gen, arg.uuid, true);
	want = flags & ~VHOST_VDMABUF_FD_KEEP_ON_EXEC ? EINVAL :
	       !e ? ENOENT : 0;
	arg.flags = flags;
	ret = ioctl(m->fd, VHOST_VDMABUF_IMPORT, &arg);
	err = ret ? errno : 0;
	if (err != want) {
		/* It allocates (the fd too) before it looks the UUID up. */
		fail(f, err == ENOMEM && want != EINVAL ?
		     "import ENOMEM" : "import", "IMPORT of %s: %s, expected %s",
		     u, ret ? strerror(err) : "success",
		     want ? strerror(want) : "success");
		if (!ret)
			close(arg.fd);
		return;
	}
	tally(f, A_IMPORT, err);
	if (ret)
		return;
	fl = fcntl(arg.fd, F_GETFD);
	if (arg.size != e->size ||
	    !!(fl & FD_CLOEXEC) != !(flags & VHOST_VDMABUF_FD_KEEP_ON_EXEC))
		fail(f, "import", "IMPORT of %s: size %llu (expected %llu), FD_CLOEXEC %u, flags %#x",
		     u, (unsigned long long)arg.size,
		     (unsigned long long)e->size, fl, flags);
	b->used = true;
	b->fd = arg.fd;
	b->map = NULL;
	b->size = e->size;
	b->exp = e->serial;
	b->gen = e->gen;
	e->nr_dmabufs++;
	/* Its EXPORTED is as good as read; it takes part in the frames. */
	ret = q_find(m, VHOST_VDMABUF_EVENT_EXPORTED, e->serial);
	if (ret >= 0)
		m->q[ret].linked = false;
	part_add(m, e->serial);
}

static void act_frame_done(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), c = below(r, 100), x = below(r, 100);
	struct vhost_vdmabuf_frame_done arg = {};
	struct mimp *m;
	uint64_t last, rv = rnd(r);
	struct mexp *e;
	int ret, want, p = -1;
	uint64_t sel;
	uint32_t i, n;
	char u[16], b[24];

	sel = gen_imp_uuid(r, arg.uuid, u, sizeof(u));
	if (x < 3)
		arg.flags = 1;
	else if (x < 5)
		arg.padding = 1;
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc),
			 "FRAME_DONE slot %u %s frame choice %u flags %u padding %u",
			 s, u, c, arg.flags, arg.padding);
		return;
	}
	/* Mostly an importer that owes a frame, if one does. */
	for (i = 0, n = 0; i < NIMP; i++)
		n += f->imp[i].used && f->imp[i].nparts;
	if (n && sel % 8 < 6) {
		for (n = (sel >> 32) % NIMP, i = 0; i < NIMP; i++)
			if (f->imp[(n + i) % NIMP].used &&
			    f->imp[(n + i) % NIMP].nparts)
				break;
		s = (n + i) % NIMP;
	}
	m = &f->imp[s];
	if (!m->used)
		return;
	last = m->gen == f->gen ? f->last_frame : m->last_frame;
	/* Mostly a frame this importer owes, if it owes any. */
	for (i = 0, n = 0; i < m->nparts; i++)
		n += m->parts[i].owes;
	if (n && sel % 4) {
		n = (sel >> 8) % n;
		for (i = 0; i < m->nparts; i++)
			if (m->parts[i].owes && !n--)
				break;
		e = m_exp(f, m->parts[i].exp);
		memcpy(arg.uuid, e->uuid, 16);
		snprintf(f->aimed, sizeof(f->aimed), "at %s: ",
			 uuid_name(arg.uuid, b, sizeof(b)));
	} else {
		aim(f, m->gen, arg.uuid, sel >> 2);
	}
	e = m_find(f, m->gen, arg.uuid, true);
	if (c < 75)
		arg.frame = e ? (e->frame_pending ? e->frame_no :
				 e->last_frame) : last;
	else if (c < 80)
		arg.frame = 0;
	else if (c < 88)
		arg.frame = last + 1 + rv % 3;
	else if (c < 96)
		arg.frame = last ? 1 + rv % last : 0;
	else
		arg.frame = rv;
	if (e)
		p = part_find(m, e->serial);
	if (arg.flags || arg.padding || !arg.frame || arg.frame > last)
		want = EINVAL;
	else if (!e)
		want = ENOENT;
	else if (!e->frame_pending || e->frame_no != arg.frame || p < 0 ||
		 !m->parts[p].owes)
		want = ESTALE;
	else
		want = 0;
	ret = ioctl(m->fd, VHOST_VDMABUF_FRAME_DONE, &arg);
	if (ret ? errno != want : want) {
		fail(f, "frame done", "FRAME_DONE of %s frame %llu: %s, expected %s",
		     u, (unsigned long long)arg.frame,
		     ret ? strerror(errno) : "success",
		     want ? strerror(want) : "success");
		return;
	}
	tally(f, A_FRAME_DONE, ret ? errno : 0);
	if (!ret) {
		m_part_answer(f, m, p);
		m_deliver(f);
	}
}

static void act_frames(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), c = below(r, 100);
	struct vhost_vdmabuf_frames arg = {};
	struct mimp *m = &f->imp[s];
	bool join, all;
	struct mexp *e;
	int ret, want, p, err;
	uint64_t sel;
	char u[16];

	sel = gen_imp_uuid(r, arg.uuid, u, sizeof(u));
	arg.op = c < 40 || (c >= 70 && c < 80) ? VHOST_VDMABUF_FRAMES_JOIN :
		 VHOST_VDMABUF_FRAMES_LEAVE;
	if (c >= 70 && c < 90) {
		arg.flags = VHOST_VDMABUF_FRAMES_F_ALL;
		memset(arg.uuid, 0, 16);
		snprintf(u, sizeof(u), "all");
	}
	if (c >= 90 && c < 93)
		arg.op = PICK(r, 0, 3, 0xffffffff);
	else if (c >= 93 && c < 96)
		arg.flags = 1u << between(r, 1, 31);
	else if (c >= 96)
		arg.flags = VHOST_VDMABUF_FRAMES_F_ALL;
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "FRAMES slot %u %s op %u flags %#x",
			 s, u, arg.op, arg.flags);
		return;
	}
	if (!m->used)
		return;
	join = arg.op == VHOST_VDMABUF_FRAMES_JOIN;
	all = arg.flags & VHOST_VDMABUF_FRAMES_F_ALL;
	if (!all)
		aim(f, m->gen, arg.uuid, sel);
	e = all ? NULL : m_find(f, m->gen, arg.uuid, true);
	if ((arg.flags & ~VHOST_VDMABUF_FRAMES_F_ALL) ||
	    (!join && arg.op != VHOST_VDMABUF_FRAMES_LEAVE) ||
	    (all && !zero16(arg.uuid)))
		want = EINVAL;
	else if (!all && !e)
		want = ENOENT;
	else
		want = 0;
	ret = ioctl(m->fd, VHOST_VDMABUF_FRAMES, &arg);
	err = ret ? errno : 0;
	if (err != want) {
		/* Only JOIN of one buffer allocates, before the look-up. */
		fail(f, err == ENOMEM && join && !all && want != EINVAL ?
		     "frames ENOMEM" : "frames",
		     "FRAMES op %u flags %#x of %s: %s, expected %s",
		     arg.op, arg.flags, u, ret ? strerror(err) : "success",
		     want ? strerror(want) : "success");
		return;
	}
	tally(f, A_FRAMES, err);
	if (ret)
		return;
	if (all) {
		m->all_frames = join;
		if (!join) {
			while (m->nparts) {
				m_part_answer(f, m, 0);
				part_del(m, 0);
			}
		}
	} else if (join) {
		part_add(m, e->serial);
	} else {
		p = part_find(m, e->serial);
		if (p >= 0) {
			m_part_answer(f, m, p);
			part_del(m, p);
		}
	}
	m_deliver(f);
}

static void act_query(struct fz *f, struct rng *r)
{
	uint32_t s = below(r, NIMP), c = below(r, 100);
	struct vhost_vdmabuf_query arg = {};
	struct mimp *m = &f->imp[s];
	static uint8_t meta[VIRTIO_VDMABUF_MAX_META];
	struct mexp *e;
	int ret, want, err;
	uint64_t sel;
	char u[16];

	sel = gen_imp_uuid(r, arg.uuid, u, sizeof(u));
	arg.meta_size = c < 70 ? sizeof(meta) : c < 85 ? between(r, 0, 200) : 0;
	if (pct(r, 3))
		arg.flags = 1;
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "QUERY slot %u %s meta_size %u flags %u",
			 s, u, arg.meta_size, arg.flags);
		return;
	}
	if (!m->used)
		return;
	arg.meta_ptr = (uintptr_t)meta;
	memset(meta, 0, sizeof(meta));
	aim(f, m->gen, arg.uuid, sel);
	e = m_find(f, m->gen, arg.uuid, false);
	want = arg.flags ? EINVAL : !e ? ENOENT : 0;
	ret = ioctl(m->fd, VHOST_VDMABUF_QUERY, &arg);
	err = ret ? errno : 0;
	if (err != want) {
		/* Only a copy of the metadata allocates. */
		fail(f, err == ENOMEM && !want && arg.meta_size &&
		     arg.meta_size >= e->meta_len && e->meta_len ?
		     "query ENOMEM" : "query", "QUERY of %s: %s, expected %s",
		     u, ret ? strerror(err) : "success",
		     want ? strerror(want) : "success");
		return;
	}
	tally(f, A_QUERY, err);
	if (ret)
		return;
	if (arg.size != e->size || arg.nr_ranges != e->nr_ranges ||
	    arg.meta_len != e->meta_len || arg.last_seq != e->last_seq ||
	    arg.last_frame != e->last_frame ||
	    arg.state != (e->live ? VHOST_VDMABUF_STATE_LIVE :
			  VHOST_VDMABUF_STATE_UNEXPORTED)) {
		fail(f, "query", "QUERY of %s: size %llu ranges %u meta %u state %u seq %llu frame %llu; expected %llu %u %u %u %llu %llu",
		     u, (unsigned long long)arg.size, arg.nr_ranges,
		     arg.meta_len, arg.state,
		     (unsigned long long)arg.last_seq,
		     (unsigned long long)arg.last_frame,
		     (unsigned long long)e->size, e->nr_ranges, e->meta_len,
		     e->live ? 1 : 2, (unsigned long long)e->last_seq,
		     (unsigned long long)e->last_frame);
		return;
	}
	if (arg.meta_size && arg.meta_size >= e->meta_len && e->meta_len &&
	    fnv(FNV_BASIS, meta, e->meta_len) != e->meta_hash)
		fail(f, "query", "QUERY of %s: metadata differs", u);
}

/* The guest-physical address of byte @off of export @e. */
static uint64_t exp_gpa(const struct mexp *e, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < e->nr_ranges; i++) {
		if (off < e->ranges[i].len)
			return e->ranges[i].addr + off;
		off -= e->ranges[i].len;
	}
	return ~0ULL;
}

static void act_mmap(struct fz *f, struct rng *r)
{
	uint32_t bs = below(r, NBUF);
	bool priv = pct(r, 5);
	struct mbuf *b = &f->buf[bs];
	struct mexp *e;
	int want;
	void *p;

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "MMAP dma-buf slot %u%s", bs,
			 priv ? " MAP_PRIVATE" : "");
		return;
	}
	if (!b->used || b->map || b->fd < 0)
		return;
	e = m_exp(f, b->exp);
	want = priv ? EINVAL : e->revoked ? ENODEV : 0;
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
		 priv ? MAP_PRIVATE : MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED ? errno != want : want) {
		fail(f, "mmap", "mmap of a dma-buf of %llu bytes: %s, expected %s",
		     (unsigned long long)b->size,
		     p == MAP_FAILED ? strerror(errno) : "success",
		     want ? strerror(want) : "success");
		if (p != MAP_FAILED)
			munmap(p, b->size);
		return;
	}
	tally(f, A_MMAP, p == MAP_FAILED ? errno : 0);
	if (p != MAP_FAILED)
		b->map = p;
}

/*
 * A byte of a mapping: it is the guest's byte there, and a write reaches
 * guest memory; or it faults, revoked.  Only above BUF_BASE is written,
 * away from the rings and the requests.
 */
static void act_touch(struct fz *f, struct rng *r)
{
	uint32_t bs = below(r, NBUF);
	uint64_t x = rnd(r), off, ga;
	uint8_t val = rnd(r);
	struct mbuf *b = &f->buf[bs];
	struct mexp *e;
	int got;

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "TOUCH dma-buf slot %u", bs);
		return;
	}
	if (!b->used || !b->map)
		return;
	e = m_exp(f, b->exp);
	off = x % b->size;
	ga = exp_gpa(e, off);
	got = peek(b->map + off);
	if (e->revoked) {
		if (got != -1 || poke(b->map + off, val) != -1)
			fail(f, "revoked", "a mapping of a revoked export reads or writes");
		tally(f, A_TOUCH, EFAULT);
		return;
	}
	if (got < 0) {
		fail(f, "mapping", "reading byte %#llx of a dma-buf faults",
		     (unsigned long long)off);
		return;
	}
	/*
	 * Below BUF_BASE are the rings and event slots, which the device's
	 * event work writes at any time: no stable byte to compare with.
	 */
	if (e->gen == f->gen && ga >= BUF_BASE &&
	    got != *(uint8_t *)gpa(&f->v, ga)) {
		fail(f, "mapping", "byte %#llx of a dma-buf is %#x, guest memory at %#llx has %#x",
		     (unsigned long long)off, got, (unsigned long long)ga,
		     *(uint8_t *)gpa(&f->v, ga));
		return;
	}
	tally(f, A_TOUCH, 0);
	if (ga < BUF_BASE)
		return;
	if (poke(b->map + off, val) ||
	    (e->gen == f->gen && *(uint8_t *)gpa(&f->v, ga) != val) ||
	    peek(b->map + off) != val)
		fail(f, "mapping", "a write at byte %#llx of a dma-buf did not reach guest memory at %#llx",
		     (unsigned long long)off, (unsigned long long)ga);
}

static void act_sync(struct fz *f, struct rng *r)
{
	uint32_t bs = below(r, NBUF);
	struct dma_buf_sync sync = {
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
	};
	struct mbuf *b = &f->buf[bs];
	int ret, want;

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "SYNC dma-buf slot %u", bs);
		return;
	}
	if (!b->used || b->fd < 0)
		return;
	want = m_exp(f, b->exp)->revoked ? ENODEV : 0;
	ret = ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync);
	if (ret ? errno != want : want) {
		fail(f, "cpu access", "DMA_BUF_IOCTL_SYNC: %s, expected %s",
		     ret ? strerror(errno) : "success",
		     want ? strerror(want) : "success");
		return;
	}
	tally(f, A_SYNC, ret ? errno : 0);
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	if (!ret && ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync))
		fail(f, "cpu access", "DMA_BUF_SYNC_END: %s", strerror(errno));
}

static void act_munmap(struct fz *f, struct rng *r)
{
	uint32_t bs = below(r, NBUF);
	struct mbuf *b = &f->buf[bs];

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "MUNMAP dma-buf slot %u", bs);
		return;
	}
	if (!b->used || !b->map)
		return;
	munmap(b->map, b->size);
	b->map = NULL;
	if (b->fd < 0)
		buf_release(f, b);
}

static void act_buf_close(struct fz *f, struct rng *r)
{
	uint32_t bs = below(r, NBUF);
	struct mbuf *b = &f->buf[bs];

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "BUF_CLOSE dma-buf slot %u", bs);
		return;
	}
	if (!b->used || b->fd < 0)
		return;
	close(b->fd);
	b->fd = -1;
	if (!b->map)
		buf_release(f, b);
}

/*
 * An importer process killed while it holds an import mapped: its
 * importer and dma-buf go with it, and leave nothing behind.
 */
static void act_imp_kill(struct fz *f, struct rng *r)
{
	struct vhost_vdmabuf_importer ia = {};
	struct vhost_vdmabuf_import arg = {};
	struct mimp *imps[NIMP];
	char u[16], got = 0, want;
	struct pollfd pfd;
	int p[2], status, i;
	struct mexp *e;
	uint8_t *map;
	uint64_t sel;
	pid_t pid;

	sel = gen_imp_uuid(r, arg.uuid, u, sizeof(u));
	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "IMP_KILL importing %s", u);
		return;
	}
	aim(f, f->gen, arg.uuid, sel);
	e = m_find(f, f->gen, arg.uuid, true);
	want = m_imps(f, f->gen, imps) >= f->lim.max_importers ? 'U' :
	       !e ? 'N' : e->revoked ? 'R' : 'M';
	if (pipe(p))
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (!pid) {
		char c = 'M';
		int imp, fd;

		/* A watchdog that kills the fuzzer must not leave it holding pins */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			_exit(1);
		/*
		 * Written first: the kernel's copy of a page shared with the
		 * parent would be allocated with the module on the stack.
		 */
		ia.fd = ~0u;
		arg.fd = ~0u;
		imp = ioctl(f->v.fd, VHOST_VDMABUF_GET_IMPORTER, &ia);
		if (imp) {
			c = errno == EUSERS ? 'U' : errno == ENOMEM ? 'A' : 'E';
		} else if (ioctl(ia.fd, VHOST_VDMABUF_IMPORT, &arg)) {
			c = errno == ENOENT ? 'N' : errno == ENOMEM ? 'A' : 'E';
		} else {
			fd = arg.fd;
			map = mmap(NULL, arg.size, PROT_READ, MAP_SHARED, fd, 0);
			if (map == MAP_FAILED)
				c = errno == ENODEV ? 'R' : 'E';
			else if (peek(map) < 0)
				c = 'F';
		}
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, f->wait_ms) == 1 && read(p[0], &got, 1) != 1)
		got = 0;
	close(p[0]);
	kill(pid, SIGKILL);
	for (i = 0; i < f->wait_ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (i == f->wait_ms / 10)
		fail(f, "importer killed", "the importer process did not die");
	else
		tally(f, A_IMP_KILL, want != 'M' ? EPERM : 0);
	if (got != want)
		fail(f, got == 'A' ? "importer killed ENOMEM" : "importer killed",
		     "the importer process got '%c', expected '%c' (U: EUSERS, N: no export, R: revoked, M: mapped, F: faulted, A: ENOMEM, E: error)",
		     got ? got : '-', want);
}

/* ---------------------------------------------------------------------- */
/* The device                                                             */
/* ---------------------------------------------------------------------- */

static void gen_limits(struct fz *f, struct rng *r,
		       struct vhost_vdmabuf_limits *l)
{
	const struct vhost_vdmabuf_limits *t = &f->top;

/* Each limit: mostly the module's, else a small one that is reached. */
#define LIM(field, ...) ({						\
	uint32_t __x = pct(r, 60) ? t->field : PICK(r, __VA_ARGS__);	\
	__x > t->field ? t->field : __x;				\
})
	memset(l, 0, sizeof(*l));
	l->max_ranges = LIM(max_ranges, 1, 2, 4, 64, 16384);
	l->max_meta_len = LIM(max_meta_len, 0, 16, 136, 1024);
	l->max_exports = LIM(max_exports, 1, 2, 4, 8, 1024);
	l->max_rects = LIM(max_rects, 0, 1, 4, 16);
	l->max_export_mb = LIM(max_export_mb, 1, 2, 8, 512);
	l->max_total_mb = LIM(max_total_mb, 1, 4, 16, 2048);
	l->max_importer_events = LIM(max_importer_events, 16, 17, 64, 4096);
	l->max_guest_events = LIM(max_guest_events, 16, 32, 8192);
	l->max_importers = LIM(max_importers, 0, 1, 2, 4, 64);
#undef LIM
}

/* A limit outside its bounds (vhost_vdmabuf_limits_valid()). */
static void gen_bad_limits(struct fz *f, struct rng *r,
			   struct vhost_vdmabuf_limits *l)
{
	gen_limits(f, r, l);
	switch (below(r, 8)) {
	case 0:
		l->flags = 1;
		break;
	case 1:
		l->max_ranges = 0;
		break;
	case 2:
		l->max_exports = f->top.max_exports + 1;
		break;
	case 3:
		l->max_importer_events = 15;
		break;
	case 4:
		l->max_guest_events = 0;
		break;
	case 5:
		l->max_total_mb = 0;
		break;
	case 6:
		l->max_rects = f->top.max_rects + 1;
		break;
	default:
		l->max_importers = f->top.max_importers + 1;
		break;
	}
}

/* SET_LIMITS: EINVAL out of bounds, EBUSY once the guest may have seen. */
static void set_limits(struct fz *f, struct vhost_vdmabuf_limits *l,
		       bool valid)
{
	struct vhost_vdmabuf_limits got;
	int ret, want;

	want = !valid ? EINVAL : f->frozen || f->running ? EBUSY : 0;
	ret = ioctl(f->v.fd, VHOST_VDMABUF_SET_LIMITS, l);
	if (ret ? errno != want : want) {
		fail(f, "limits", "SET_LIMITS: %s, expected %s",
		     ret ? strerror(errno) : "success",
		     want ? strerror(want) : "success");
		return;
	}
	tally(f, A_SET_LIMITS, ret ? errno : 0);
	if (!ret) {
		f->lim = *l;
		if (!f->lim.max_importers)
			f->lim.max_importers = f->top.max_importers;
	}
	if (ioctl(f->v.fd, VHOST_VDMABUF_GET_LIMITS, &got) ||
	    memcmp(&got, &f->lim, sizeof(got)))
		fail(f, "limits", "GET_LIMITS differs from what was set");
}

static void set_features(struct fz *f, bool present, bool indirect)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;

	if (present)
		feat |= 1ULL << VIRTIO_VDMABUF_F_PRESENT;
	if (indirect)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (ioctl(f->v.fd, VHOST_SET_FEATURES, &feat)) {
		fail(f, "ioctl", "SET_FEATURES %#llx: %s",
		     (unsigned long long)feat, strerror(errno));
		return;
	}
	f->f_present = present;
	f->f_indirect = indirect;
	f->frozen = true;
}

static void dev_stop(struct fz *f)
{
	uint32_t zero = 0;

	/* Events in flight reach the ring first: the model says they do. */
	settle(f);
	if (ioctl(f->v.fd, VHOST_VDMABUF_SET_RUNNING, &zero)) {
		fail(f, "ioctl", "SET_RUNNING 0: %s", strerror(errno));
		return;
	}
	f->running = false;
}

/*
 * After RESET_DEVICE (or a new open): the device is stopped and its limits
 * may change.  Maybe new limits, maybe other features, then maybe start.
 */
static void dev_configure(struct fz *f, struct rng *r, bool start)
{
	struct vhost_vdmabuf_limits l;
	uint32_t c = below(r, 100);
	uint64_t bad;

	if (c < 10) {
		gen_bad_limits(f, r, &l);
		set_limits(f, &l, false);
	}
	if (c < 40) {
		gen_limits(f, r, &l);
		set_limits(f, &l, true);
	}
	c = below(r, 100);
	if (c < 5) {
		bad = c < 3 ? 1ULL << 40 : 1ULL << VIRTIO_VDMABUF_F_PRESENT;
		if (!ioctl(f->v.fd, VHOST_SET_FEATURES, &bad))
			fail(f, "ioctl", "SET_FEATURES %#llx accepted",
			     (unsigned long long)bad);
	}
	if (c < 25)
		set_features(f, pct(r, 80), pct(r, 50));
	else
		set_features(f, f->f_present, f->f_indirect);
	if (start && !f->failed)
		dev_start(f);
}

/*
 * The invariant of a set-up (open, VHOST_SET_OWNER, VHOST_SET_MEM_TABLE,
 * ...) whose call @step failed with @err.  An allocation failure gives
 * ENOMEM, or EFAULT from VHOST_SET_MEM_TABLE, which vhost answers when it
 * cannot allocate an entry of the new memory table.  (The rings' pages
 * are in memory before the device writes them: vmm_setup().)
 */
static const char *setup_inv(int err, const char *step)
{
	if (err == ENOMEM)
		return "setup ENOMEM";
	if (err == EFAULT && step && !strcmp(step, "VHOST_SET_MEM_TABLE"))
		return "setup EFAULT";
	return "setup";
}

/*
 * The device is set up and running with VERSION_1 and PRESENT: stop it and
 * let its limits change (RESET_DEVICE), configure it as @r says (no @r:
 * every feature, the limits as they are), start it and post event buffers.
 */
static void dev_bringup(struct fz *f, struct rng *r)
{
	uint32_t i;

	f->pending = false;
	f->running = true;
	f->frozen = true;
	f->gq_head = 0;
	f->gq_n = 0;
	f->evb_head = 0;
	f->evb_n = 0;
	f->evx_head = 0;
	f->evx_n = 0;
	memset(f->desc_used, 0, sizeof(f->desc_used));
	f->f_present = true;
	f->f_indirect = true;
	if (ioctl(f->v.fd, VHOST_VDMABUF_RESET_DEVICE)) {
		fail(f, "setup", "RESET_DEVICE: %s", strerror(errno));
		return;
	}
	m_reset(f, false);
	f->running = false;
	f->frozen = false;
	if (r) {
		dev_configure(f, r, true);
	} else {
		set_features(f, true, true);
		if (!f->failed)
			dev_start(f);
	}
	for (i = 0; i < 16 && !f->failed; i++)
		ev_post_plain(f);
}

/* Open the device as a VMM does, configured by @r; a new generation. */
static void dev_open(struct fz *f, struct rng *r)
{
	/* vmm_init(), the device opened as root */
	memset(&f->v, 0, sizeof(f->v));
	as_root(f, true);
	f->v.fd = open(DEV_PATH, O_RDWR);
	as_root(f, false);
	if (f->v.fd < 0 || vmm_setup(&f->v, 0)) {
		fail(f, setup_inv(errno, f->v.step),
		     "opening and setting up %s: %s: %s", DEV_PATH,
		     f->v.fd < 0 ? "open" : f->v.step, strerror(errno));
		return;
	}
	f->open = true;
	f->gen++;
	f->last_frame = 0;
	f->requests = 0;
	f->bad_requests = 0;
	/* A new device has the module parameters, the ceilings. */
	if (ioctl(f->v.fd, VHOST_VDMABUF_GET_LIMITS, &f->top)) {
		fail(f, "setup", "GET_LIMITS: %s", strerror(errno));
		return;
	}
	f->lim = f->top;
	dev_bringup(f, r);
}

/*
 * VHOST_RESET_OWNER: a reset as RESET_DEVICE's, every export revoked, and
 * the vhost device forgets its owner, memory table and rings.  The guest
 * starts again on cleared rings, which the VMM sets up again; a request
 * waiting in the old ring is gone with it.  The limits stay.
 */
static void dev_reset_owner(struct fz *f, struct rng *r)
{
	int q;

	settle(f);
	ev_read(f);
	if (f->failed)
		return;
	if (ioctl(f->v.fd, VHOST_RESET_OWNER)) {
		/* ENOMEM: the new memory table, before anything changes */
		fail(f, errno == ENOMEM ? "ioctl ENOMEM" : "ioctl",
		     "VHOST_RESET_OWNER: %s", strerror(errno));
		return;
	}
	m_reset(f, false);
	for (q = 0; q < 2; q++)
		memset(ring_desc(&f->v, q), 0, 2 * USED_OFF);
	f->v.req_avail = 0;
	f->v.ev_avail = 0;
	f->v.ev_used = 0;
	if (vmm_vhost_setup(&f->v)) {
		fail(f, setup_inv(errno, f->v.step),
		     "setting up again after VHOST_RESET_OWNER: %s: %s",
		     f->v.step, strerror(errno));
		return;
	}
	dev_bringup(f, r);
}

/* The VMM closes the device: importers of it read what is left, then EOF. */
static void dev_close(struct fz *f)
{
	uint32_t i;

	if (!f->open)
		return;
	settle(f);
	ev_read(f);
	vmm_fini(&f->v);
	m_reset(f, true);
	for (i = 0; i < NIMP; i++)
		if (f->imp[i].used && f->imp[i].gen == f->gen)
			f->imp[i].last_frame = f->last_frame;
	f->open = false;
	f->pending = false;
	f->running = false;
}

static void act_device(struct fz *f, struct rng *r, enum kind k)
{
	uint32_t two = 2;
	bool bad = pct(r, 5), start = pct(r, 85);
	struct vhost_vdmabuf_limits l;

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc), "%s%s", kinds[k].name,
			 k == A_STOP && bad ? " (SET_RUNNING 2)" :
			 k == A_RESET && !start ? " (left stopped)" : "");
		return;
	}
	switch (k) {
	case A_STOP:
		if (bad) {
			if (!ioctl(f->v.fd, VHOST_VDMABUF_SET_RUNNING, &two) ||
			    errno != EINVAL)
				fail(f, "ioctl", "SET_RUNNING 2 not refused");
			return;
		}
		dev_stop(f);
		break;
	case A_START:
		if (f->running)
			settle(f);
		dev_start(f);
		break;
	case A_RESET:
		settle(f);
		if (f->failed)
			return;
		if (ioctl(f->v.fd, VHOST_VDMABUF_RESET_DEVICE)) {
			fail(f, "ioctl", "RESET_DEVICE: %s", strerror(errno));
			return;
		}
		m_reset(f, false);
		f->running = false;
		f->frozen = false;
		dev_configure(f, r, start);
		break;
	case A_RESET_OWNER:
		dev_reset_owner(f, r);
		break;
	case A_REOPEN:
		dev_close(f);
		if (!f->failed)
			dev_open(f, r);
		break;
	default:
		if (bad)
			gen_bad_limits(f, r, &l);
		else
			gen_limits(f, r, &l);
		set_limits(f, &l, !bad);
		break;
	}
}

static void act_guest_events(struct fz *f, struct rng *r)
{
	uint32_t n = below(r, 8);

	if (f->describe) {
		snprintf(f->desc, sizeof(f->desc),
			 "GUEST_EVENTS read, repost %u", n);
		return;
	}
	ev_read(f);
	while (n-- && !f->failed)
		ev_post_plain(f);
}

static void act_run(struct fz *f, const struct action *a)
{
	struct rng r;

	rng_init(&r, a->seed);
	switch (a->kind) {
	case A_EXPORT:
	case A_UNEXPORT:
	case A_PRESENT:
	case A_BADREQ:
		act_request(f, &r, a->kind);
		break;
	case A_POST_EVENTS:
		act_post_events(f, &r);
		break;
	case A_GUEST_EVENTS:
		act_guest_events(f, &r);
		break;
	case A_IMP_OPEN:
		act_imp_open(f, &r);
		break;
	case A_IMP_CLOSE:
		act_imp_close(f, &r);
		break;
	case A_IMP_READ:
		act_imp_read(f, &r);
		break;
	case A_IMPORT:
		act_import(f, &r);
		break;
	case A_FRAME_DONE:
		act_frame_done(f, &r);
		break;
	case A_FRAMES:
		act_frames(f, &r);
		break;
	case A_QUERY:
		act_query(f, &r);
		break;
	case A_MMAP:
		act_mmap(f, &r);
		break;
	case A_TOUCH:
		act_touch(f, &r);
		break;
	case A_SYNC:
		act_sync(f, &r);
		break;
	case A_MUNMAP:
		act_munmap(f, &r);
		break;
	case A_BUF_CLOSE:
		act_buf_close(f, &r);
		break;
	case A_IMP_KILL:
		act_imp_kill(f, &r);
		break;
	default:
		act_device(f, &r, a->kind);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Invariants                                                             */
/* ---------------------------------------------------------------------- */

/*
 * The device's statistics are the model's; our pinned memory is what the
 * held exports of every device pin; with @pins, so is the FOLL_PIN
 * balance.  Changes nothing: a replay that checks after every action runs
 * the same as the run that checked less often.
 */
static void check(struct fz *f, bool pins)
{
	struct vhost_vdmabuf_stats s, w;
	struct pins p;
	uint64_t pages;
	long vmpin;

	if (f->failed || !f->open)
		return;
	settle(f);
	if (f->failed)
		return;
	m_stats(f, &w);
	if (get_stats(&f->v, &s)) {
		fail(f, "stats", "GET_STATS: %s", strerror(errno));
		return;
	}
	if (memcmp(&s, &w, sizeof(s))) {
		fail(f, "stats",
		     "device (model): live %llu (%llu) held %llu (%llu) pinned %llu (%llu) charged %llu (%llu) dmabufs %llu (%llu) importers %llu (%llu) guest events %llu (%llu) requests %llu (%llu) bad %llu (%llu) pinned attachments %llu (0)",
		     s.live_exports, w.live_exports, s.held_exports,
		     w.held_exports, s.pinned_pages, w.pinned_pages,
		     s.charged_pages, w.charged_pages, s.host_dmabufs,
		     w.host_dmabufs, s.importers, w.importers, s.guest_events,
		     w.guest_events, s.requests, w.requests, s.bad_requests,
		     w.bad_requests, s.pinned_attachments);
		return;
	}
	pages = m_pinned_all(f);
	vmpin = vmpin_kb(0);
	if (vmpin != f->base.vmpin + (long)(pages * (PAGE / 1024))) {
		fail(f, "VmPin", "VmPin %ld kB, expected %ld kB (%llu pages held)",
		     vmpin, f->base.vmpin + (long)(pages * (PAGE / 1024)),
		     (unsigned long long)pages);
		return;
	}
	if (vmlck_kb(0) != f->base.vmlck) {
		fail(f, "VmLck", "VmLck %lld kB, was %ld kB", vmlck_kb(0),
		     f->base.vmlck);
		return;
	}
	if (pins) {
		as_root(f, true);
		pins_held(&f->base.pins, &p, pages);
		as_root(f, false);
		if ((p.acquired - f->base.pins.acquired) -
		    (p.released - f->base.pins.released) != (long long)pages) {
			fail(f, "nr_foll_pin",
			     "%lld page pins held, expected %llu",
			     (p.acquired - f->base.pins.acquired) -
			     (p.released - f->base.pins.released),
			     (unsigned long long)pages);
			return;
		}
	}
	f->n_checks++;
}

/* ---------------------------------------------------------------------- */
/* Runs                                                                   */
/* ---------------------------------------------------------------------- */

/* For the watchdog, in memory it shares: the action the run is in. */
static volatile uint64_t *alarm_index, alarm_spare;

struct opts {
	uint64_t seed;
	uint64_t requests;
	uint32_t check_every;
	int wait_ms;
	uint32_t time_limit;	/* seconds, 0: none */
	uint32_t shrink_time;
	uint32_t progress;	/* seconds between progress lines, 0: none */
	uint32_t memlock_kb;	/* an unprivileged VMM with this limit */
	bool verbose;
	bool faults;		/* the kernel fails some of the module's allocations */
	bool list;		/* only print the actions */
	uint64_t *replay;
	uint64_t nreplay;
};

static void fz_init(struct fz *f, const struct opts *o)
{
	char line[256];
	FILE *st;

	memset(f, 0, sizeof(*f));
	f->seed = o->seed;
	f->wait_ms = o->wait_ms;
	f->verbose = o->verbose;
	f->req = xrealloc(NULL, REQ_MAX + 4096);
	f->pend_req = xrealloc(NULL, REQ_MAX + 4096);
	f->rbuf = xrealloc(NULL, 65536);
	/*
	 * Faulted in now: a read's copy_to_user() that did it would have
	 * the page allocated with the module on the stack (--faults).
	 */
	memset(f->rbuf, 0, 65536);
	f->charged = true;
	f->memlock = o->memlock_kb / (PAGE / 1024);
	st = fopen("/proc/self/status", "re");
	while (st && fgets(line, sizeof(line), st)) {
		unsigned long long cap;

		if (sscanf(line, "CapEff: %llx", &cap) == 1)
			f->charged = !(cap & (1ULL << 14));	/* IPC_LOCK */
	}
	if (st)
		fclose(st);
}

/* Close everything; then every counter must be back at its start. */
static void teardown(struct fz *f)
{
	char why[256];
	uint32_t i;

	if (f->open && !f->failed) {
		ev_read(f);
		check(f, true);
	}
	for (i = 0; i < NBUF; i++)
		buf_drop(f, &f->buf[i]);
	for (i = 0; i < NIMP; i++)
		imp_close(f, &f->imp[i]);
	/* Nothing imported, nothing watching: only what is live is held. */
	if (f->open && !f->failed)
		check(f, false);
	dev_close(f);
	while (f->nexps)
		m_exp_free(f, f->exps[0]);
	as_root(f, true);
	if (!f->failed && baseline_check(&f->base, why, sizeof(why)))
		fail(f, "teardown", "after closing everything: %s", why);
	as_root(f, false);
}

static void fz_free(struct fz *f)
{
	uint32_t i;

	for (i = 0; i < NBUF; i++)
		buf_drop(f, &f->buf[i]);
	for (i = 0; i < NIMP; i++)
		imp_close(f, &f->imp[i]);
	if (f->open)
		vmm_fini(&f->v);
	while (f->nexps)
		m_exp_free(f, f->exps[0]);
	free(f->exps);
	free(f->gq);
	free(f->req);
	free(f->pend_req);
	free(f->rbuf);
}

static void describe(struct fz *f, uint64_t i, char *out, size_t len)
{
	struct action a;

	action_make(f->seed, i, &a);
	f->describe = true;
	f->desc[0] = 0;
	act_run(f, &a);
	f->describe = false;
	snprintf(out, len, "%s", f->desc);
}

/*
 * --faults: the kernel fails some of the module's allocations (failslab
 * and fail_page_alloc, set up by the caller).  The module reports each
 * failure at once, as the call's or the request's failure, so the model
 * never goes astray unnoticed, and only a failure of the invariants of
 * fault_ok[] is what one explains, as an out-of-memory error where the
 * driver allocates:
 *
 * - "setup ENOMEM", "setup EFAULT": opening and setting up the device, or
 *   setting it up again after VHOST_RESET_OWNER (see setup_inv());
 * - "ioctl ENOMEM": VHOST_RESET_OWNER, which allocates the next memory
 *   table before it changes anything;
 * - "status NOMEM": a request answered NOMEM where the model expected
 *   another status, once it passed the checks that allocate nothing
 *   (EXPORT's checks 1 to 9, PRESENT's 1 to 6);
 * - "importer ENOMEM", "import ENOMEM", "frames ENOMEM", "query ENOMEM":
 *   GET_IMPORTER, IMPORT, FRAMES JOIN of one buffer and QUERY copying the
 *   metadata failed with ENOMEM, where the model expected neither EINVAL
 *   nor any error but one checked after the allocation;
 * - "importer killed ENOMEM": the same in the importer process killed.
 *
 * Such a deviation is counted; then everything is closed, which must bring
 * every pin and locked page back (teardown's invariant, a failure), and
 * the run goes on with a fresh device at the next action.  Any other
 * failure stays one, as without --faults: a request unanswered, answered
 * twice or with a wrong used length, another status, nonzero padding,
 * bytes written outside the answer, a paused device that answers, an
 * event, record, mapping or count that differs, an ioctl that fails
 * where nothing allocates, an importer process that does not die, pins,
 * VmLck or VmPin not brought back.  A hang is still ended by the
 * watchdog, and the caller checks the kernel's log.
 */
static const char * const fault_ok[] = {
	"setup ENOMEM", "setup EFAULT", "ioctl ENOMEM", "status NOMEM",
	"importer ENOMEM", "import ENOMEM", "frames ENOMEM", "query ENOMEM",
	"importer killed ENOMEM",
};

static bool fault_explains(const char *inv)
{
	uint32_t i;

	for (i = 0; i < ARRAY_SIZE(fault_ok); i++)
		if (!strcmp(inv, fault_ok[i]))
			return true;
	return false;
}

static void deviate(struct fz *f)
{
	char why[256];
	uint32_t i;

	/* f->failed stays set: the run fails as it would without --faults */
	if (!fault_explains(f->inv)) {
		if (f->fault_fatal)
			return;
		f->fault_fatal = true;
		printf("# --faults: invariant '%s' is not one an allocation failure explains\n",
		       f->inv);
		return;
	}
	f->n_dev++;
	for (i = 0; i < ARRAY_SIZE(f->dev_by) - 1; i++)
		if (!f->dev_by[i].n || !strcmp(f->dev_by[i].inv, f->inv))
			break;
	snprintf(f->dev_by[i].inv, sizeof(f->dev_by[i].inv), "%s", f->inv);
	f->dev_by[i].n++;
	if (f->n_dev <= 5 || f->verbose)
		printf("# deviation %llu at action %llu: invariant '%s': %s\n",
		       (unsigned long long)f->n_dev,
		       (unsigned long long)f->cur_index, f->inv, f->msg);
	/* f->failed still set: closing checks nothing against the model */
	for (i = 0; i < NBUF; i++)
		buf_drop(f, &f->buf[i]);
	for (i = 0; i < NIMP; i++)
		imp_close(f, &f->imp[i]);
	if (f->open)
		dev_close(f);
	else if (f->v.fd >= 0 || f->v.memfd > 0)
		vmm_fini(&f->v);	/* a set-up that failed half-way */
	while (f->nexps)
		m_exp_free(f, f->exps[0]);
	f->failed = false;
	as_root(f, true);
	if (baseline_check(&f->base, why, sizeof(why)))
		fail(f, "teardown", "after closing everything at deviation %llu: %s",
		     (unsigned long long)f->n_dev, why);
	as_root(f, false);
}

/*
 * Run the actions @list[0..@n) (or 0..@n-1 with no list) on a fresh
 * device, checking every @every actions, until @deadline (ms, 0: none).
 * Returns the actions run.
 */
static uint64_t run(struct fz *f, const struct opts *o, const uint64_t *list,
		    uint64_t n, uint32_t every, uint64_t deadline)
{
	uint64_t pos, t0 = now_ms(), tp = t0;
	struct action a;
	char d[512];

	as_root(f, true);
	baseline_take(&f->base);
	as_root(f, false);
	f->cur_pos = 0;
	f->cur_index = 0;
	dev_open(f, NULL);
	if (o->faults && f->failed)
		deviate(f);
	for (pos = 0; pos < n && !f->failed; pos++) {
		f->cur_pos = pos;
		f->cur_index = list ? list[pos] : pos;
		*alarm_index = f->cur_index;
		if (f->verbose)
			describe(f, f->cur_index, d, sizeof(d));
		f->aimed[0] = 0;
		f->out[0] = 0;
		action_make(f->seed, f->cur_index, &a);
		if (o->faults && !f->open)
			dev_open(f, NULL);
		if (!f->failed)
			act_run(f, &a);
		if (f->verbose)
			printf("# [%llu] %s%s%s\n",
			       (unsigned long long)f->cur_index, d,
			       f->out[0] ? " => " : "", f->out);
		f->n_actions++;
		/* The FOLL_PIN balance costs more: every 8th check, or all. */
		if (every && (pos + 1) % every == 0)
			check(f, every == 1 || (pos + 1) % (every * 8) == 0);
		if (o->faults && f->failed)
			deviate(f);
		if ((pos & 63) == 63 || o->progress) {
			uint64_t t = now_ms();

			if (deadline && t >= deadline) {
				pos++;
				if (f->quiet)
					break;
				printf("# time limit: stopped after %llu of %llu requests\n",
				       (unsigned long long)pos,
				       (unsigned long long)n);
				break;
			}
			/* Not for a shrinking try: the last one is the run's */
			if (o->progress && !f->quiet &&
			    t - tp >= o->progress * 1000ULL) {
				tp = t;
				printf("# progress: %llu of %llu requests, %llu/s, %llu invariant checks\n",
				       (unsigned long long)pos + 1,
				       (unsigned long long)n,
				       (unsigned long long)((pos + 1) * 1000 /
							    (t - t0 + 1)),
				       (unsigned long long)f->n_checks);
				fflush(stdout);
			}
		}
	}
	f->n_run = pos;
	f->cur_pos = pos;
	f->cur_index = list && pos < n ? list[pos] : pos;
	teardown(f);
	if (o->faults && f->failed)
		deviate(f);
	return pos;
}

/* Does the sequence fail with the invariant @inv?  *@pos: where. */
static bool fails_like(const struct opts *o, const uint64_t *list, uint64_t n,
		       const char *inv, uint64_t *pos, uint64_t deadline)
{
	struct fz t;
	bool same;

	fz_init(&t, o);
	t.verbose = false;
	t.quiet = true;
	run(&t, o, list, n, 1, deadline);
	same = t.failed && !strcmp(t.inv, inv);
	*pos = t.fail_pos;
	fz_free(&t);
	return same;
}

/*
 * Shrink the failing sequence within the time given, each try a replay on
 * a fresh device checked after every action.  First the shortest suffix
 * that fails the same way, of 64, 256, ... actions (the device is reset
 * or reopened every few hundred, so a short one often does), then delta
 * debugging: drop chunks while it still fails the same way, halving the
 * chunks when none can go.
 */
static void shrink(const struct opts *o, const struct fz *f)
{
	uint64_t len, i, chunk, start, clen, pos;
	uint64_t end = now_ms() + o->shrink_time * 1000ULL, tries = 0;
	uint64_t *list, *cand;
	uint32_t parts = 2;
	bool reduced, suffix = false;
	char d[512];
	struct fz t;

	/* Up to the failing action; all of them if it failed at the end. */
	len = f->fail_pos + 1 < f->n_run ? f->fail_pos + 1 : f->n_run;
	list = xrealloc(NULL, len * sizeof(*list));
	cand = xrealloc(NULL, len * sizeof(*cand));
	for (i = 0; i < len; i++)
		list[i] = o->replay ? o->replay[i] : i;
	printf("# shrinking %llu actions (at most %u s)\n",
	       (unsigned long long)len, o->shrink_time);
	fflush(stdout);
	for (clen = 64; clen < len && now_ms() < end; clen *= 4) {
		tries++;
		if (fails_like(o, list + len - clen, clen, f->inv, &pos, end)) {
			memmove(list, list + len - clen, clen * sizeof(*list));
			len = pos + 1 < clen ? pos + 1 : clen;
			suffix = true;
			break;
		}
	}
	/* No failing suffix: the whole list must fail again to be shrunk */
	if (!suffix) {
		tries++;
		if (!fails_like(o, list, len, f->inv, &pos, end)) {
			printf("# a replay of the %llu actions did not fail the same way%s: not shrunk\n",
			       (unsigned long long)len, now_ms() >= end ?
			       " within the time given" : "");
			goto out;
		}
		if (pos + 1 < len)
			len = pos + 1;
	}
	while (len >= 2 && now_ms() < end) {
		chunk = (len + parts - 1) / parts;
		reduced = false;
		for (start = 0; start < len && now_ms() < end; start += chunk) {
			clen = 0;
			for (i = 0; i < len; i++)
				if (i < start || i >= start + chunk)
					cand[clen++] = list[i];
			if (!clen)
				continue;
			tries++;
			if (fails_like(o, cand, clen, f->inv, &pos, end)) {
				len = pos + 1 < clen ? pos + 1 : clen;
				memcpy(list, cand, len * sizeof(*list));
				parts = parts > 2 ? parts - 1 : 2;
				reduced = true;
				break;
			}
		}
		if (!reduced) {
			if (parts >= len)
				break;
			parts = parts * 2 < len ? parts * 2 : len;
		}
	}
	fz_init(&t, o);
	printf("# shortest failing sequence found: %llu actions (%llu tries%s)\n",
	       (unsigned long long)len, (unsigned long long)tries,
	       now_ms() >= end ? ", stopped at the time limit" : "");
	printf("#   replay: fuzz_host --seed %llu --wait-ms %d",
	       (unsigned long long)o->seed, o->wait_ms);
	if (o->memlock_kb)
		printf(" --memlock-kb %u", o->memlock_kb);
	printf(" --replay ");
	for (i = 0; i < len; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)list[i]);
	printf("\n");
	if (len <= 200) {
		/* Replayed once more, saying what each action came to. */
		t.verbose = true;
		run(&t, o, list, len, 1, 0);
		if (t.failed)
			printf("#   => %sinvariant '%s': %s\n",
			       t.fail_pos < t.n_run ? "" :
			       "closing everything after the last: ",
			       t.inv, t.msg);
		else
			printf("#   => this replay did not fail\n");
	} else {
		for (i = 0; i < len; i++) {
			if (i == 40) {
				printf("#   ... %llu more ...\n",
				       (unsigned long long)len - 80);
				i = len - 40;
			}
			describe(&t, list[i], d, sizeof(d));
			printf("# [%llu] %s\n", (unsigned long long)list[i], d);
		}
	}
	fz_free(&t);
out:
	free(list);
	free(cand);
}

/*
 * After @secs, say which action of the run of @seed hangs and SIGKILL the
 * fuzzer: a fatal signal also ends the killable waits of a reset, which
 * an alarm's handler would not.  A process of its own, made before the
 * device is opened; it goes when the fuzzer does.
 */
static pid_t watchdog(uint64_t seed, uint32_t secs)
{
	pid_t parent = getpid(), pid;
	uint32_t i;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (i = 0; i < secs && getppid() == parent; i++)
		sleep(1);
	if (getppid() != parent)
		_exit(0);
	printf("not ok 1 - fuzz_host: seed %llu: hung at action %llu, %llu requests, (whole-run timeout of %u s)\n",
	       (unsigned long long)seed, (unsigned long long)*alarm_index,
	       (unsigned long long)*alarm_index, secs);
	fflush(stdout);
	kill(parent, SIGKILL);
	_exit(0);
}

/* What the run reached: the answers by type, how the calls went. */
static void summary(const struct fz *f)
{
	static const char * const type[] = {
		"EXPORT", "UNEXPORT", "PRESENT", "other",
	};
	uint32_t t, s, k;

	for (t = 0; t < 4; t++) {
		printf("# answers to %s:", type[t]);
		for (s = 0; s < 10; s++)
			if (f->n_status[t][s])
				printf(" %s %llu", s < 9 ? sname(s) : "unanswerable",
				       (unsigned long long)f->n_status[t][s]);
		printf("\n");
	}
	printf("# calls (succeeded/refused as the model said):");
	for (k = 0; k < NR_KINDS; k++)
		if (f->n_ok[k] || f->n_err[k])
			printf(" %s %llu/%llu", kinds[k].name,
			       (unsigned long long)f->n_ok[k],
			       (unsigned long long)f->n_err[k]);
	printf("\n");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fuzz_host --seed S --requests N [--verbose] [--check-every K]\n"
		"                 [--wait-ms MS] [--time-limit S] [--shrink-time S]\n"
		"                 [--progress S] [--replay I,J,...] [--list]\n"
		"                 [--memlock-kb KB] [--faults]\n");
	exit(2);
}

static uint64_t *parse_list(const char *s, uint64_t *n)
{
	uint64_t *l = NULL, cap = 0;
	char *end;

	*n = 0;
	while (*s) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			l = xrealloc(l, cap * sizeof(*l));
		}
		l[(*n)++] = strtoull(s, &end, 0);
		if (end == s)
			usage();
		s = *end == ',' ? end + 1 : end;
	}
	return l;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "requests", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-every", required_argument, NULL, 'k' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "shrink-time", required_argument, NULL, 'S' },
		{ "progress", required_argument, NULL, 'p' },
		{ "replay", required_argument, NULL, 'r' },
		{ "list", no_argument, NULL, 'l' },
		{ "memlock-kb", required_argument, NULL, 'm' },
		{ "faults", no_argument, NULL, 'f' },
		{ }
	};
	struct opts o = {
		.seed = 1, .requests = 10000, .check_every = 50,
		.wait_ms = 5000, .time_limit = 600, .shrink_time = 180,
	};
	uint64_t t0, ms, n;
	pid_t dog = 0;
	struct fz f;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			o.requests = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'k':
			o.check_every = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o.wait_ms = strtol(optarg, NULL, 0);
			break;
		case 't':
			o.time_limit = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			o.shrink_time = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			o.progress = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.replay = parse_list(optarg, &o.nreplay);
			break;
		case 'l':
			o.list = true;
			break;
		case 'm':
			o.memlock_kb = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			o.faults = true;
			break;
		default:
			usage();
		}
	}
	if (o.wait_ms < 100)
		o.wait_ms = 100;
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = o.replay ? o.nreplay : o.requests;
	if (o.list) {
		char d[512];
		uint64_t i;

		fz_init(&f, &o);
		for (i = 0; i < n; i++) {
			describe(&f, o.replay ? o.replay[i] : i, d, sizeof(d));
			printf("[%llu] %s\n", (unsigned long long)(o.replay ?
			       o.replay[i] : i), d);
		}
		fz_free(&f);
		return 0;
	}
	printf("1..1\n");
	if (geteuid() || access(DEV_PATH, F_OK)) {
		printf("ok 1 - fuzz_host # SKIP needs root and %s\n", DEV_PATH);
		return KSFT_SKIP;
	}
	printf("# fuzz_host: seed %llu, %llu requests, invariants checked every %u, waits of %d ms at most\n",
	       (unsigned long long)o.seed, (unsigned long long)n,
	       o.check_every, o.wait_ms);
	/*
	 * An unprivileged VMM: uid FUZZ_UID (saved uid 0), no CAP_IPC_LOCK,
	 * its pins charged within this RLIMIT_MEMLOCK.
	 */
	if (o.memlock_kb) {
		struct rlimit rl = {
			(rlim_t)o.memlock_kb << 10, (rlim_t)o.memlock_kb << 10
		};

		if (setrlimit(RLIMIT_MEMLOCK, &rl) ||
		    setresuid(FUZZ_UID, FUZZ_UID, 0)) {
			printf("not ok 1 - fuzz_host: becoming uid %d with RLIMIT_MEMLOCK %u kB: %s\n",
			       FUZZ_UID, o.memlock_kb, strerror(errno));
			return 1;
		}
		printf("# an unprivileged VMM (uid %d), RLIMIT_MEMLOCK %u kB\n",
		       FUZZ_UID, o.memlock_kb);
	}
	alarm_index = mmap(NULL, sizeof(*alarm_index), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (alarm_index == MAP_FAILED)
		alarm_index = &alarm_spare;
	if (o.time_limit)
		dog = watchdog(o.seed, o.time_limit + o.shrink_time + 120);

	fz_init(&f, &o);
	t0 = now_ms();
	run(&f, &o, o.replay, n, o.replay ? 1 : o.check_every,
	    o.time_limit ? t0 + o.time_limit * 1000ULL : 0);
	ms = now_ms() - t0 + 1;
	printf("# %llu requests in %.1f s: %llu virtqueue requests (%llu answers checked), %llu importer records and %llu guest events checked, %llu invariant checks\n",
	       (unsigned long long)f.n_actions, ms / 1000.0,
	       (unsigned long long)f.n_vq, (unsigned long long)f.n_answers,
	       (unsigned long long)f.n_records,
	       (unsigned long long)f.n_events,
	       (unsigned long long)f.n_checks);
	summary(&f);
	if (o.faults) {
		uint32_t i;

		printf("# --faults: %llu deviation(s) from the model:",
		       (unsigned long long)f.n_dev);
		for (i = 0; i < ARRAY_SIZE(f.dev_by) && f.dev_by[i].n; i++)
			printf(" '%s' %llu", f.dev_by[i].inv,
			       (unsigned long long)f.dev_by[i].n);
		printf("\n");
		/* Injected failures are random: nothing to shrink */
		o.shrink_time = 0;
	}
	if (!f.failed) {
		printf("ok 1 - fuzz_host: seed %llu, %llu requests, %llu invariant checks, %llu req/s\n",
		       (unsigned long long)o.seed,
		       (unsigned long long)f.n_actions,
		       (unsigned long long)f.n_checks,
		       (unsigned long long)(f.n_actions * 1000 / ms));
		fz_free(&f);
		if (dog > 0)
			kill(dog, SIGKILL);
		return 0;
	}
	{
		char d[512];

		describe(&f, f.fail_index, d, sizeof(d));
		printf("# FAIL: seed %llu (--wait-ms %d, --memlock-kb %u), action %llu (%s): invariant '%s': %s\n",
		       (unsigned long long)o.seed, o.wait_ms, o.memlock_kb,
		       (unsigned long long)f.fail_index,
		       f.fail_pos < f.n_run ? d : "teardown", f.inv, f.msg);
	}
	fz_free(&f);
	if (o.shrink_time)
		shrink(&o, &f);
	printf("not ok 1 - fuzz_host: seed %llu, action %llu, invariant '%s', %llu requests, %llu invariant checks\n",
	       (unsigned long long)o.seed, (unsigned long long)f.fail_index,
	       f.inv, (unsigned long long)f.n_actions,
	       (unsigned long long)f.n_checks);
	if (dog > 0)
		kill(dog, SIGKILL);
	return 1;
}
