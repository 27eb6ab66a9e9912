// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-vdmabuf: host side of virtio-dmabuf, zero-copy sharing of guest
 * buffers with host users through dma-bufs.
 */

/**
 * DOC: vhost-vdmabuf design
 *
 * The VMM opens /dev/vhost-vdmabuf once per virtio-dmabuf device and drives
 * it with the standard vhost ioctls.  Each open file owns one &struct
 * vhost_dev with two virtqueues: the request queue (EXPORT, UNEXPORT,
 * PRESENT from the guest) and the event queue (RELEASED and FRAME_DONE to
 * the guest).  Both are served by the vhost worker, which shares the VMM's
 * mm; the work done per kick is bounded by vhost_exceeds_weight(), the
 * bytes an EXPORT pins counted with the bytes of the requests.
 *
 * EXPORT carries guest-physical ranges.  They are translated through the
 * vhost memory table (the same table the rings use; a range may span
 * adjacent regions), the pages are pinned in the VMM's mm with
 * FOLL_LONGTERM and counted in its pinned_vm, and charged to the locked
 * memory of the owner's user within the owner's RLIMIT_MEMLOCK, as io_uring
 * and iommufd do (an owner with CAP_IPC_LOCK is not charged).  The charge
 * is the user's, not the mm's: pins outlive the VMM's mm when an importer
 * holds a buffer past the VMM's exit or exec, and the VMMs of one user
 * share one limit.  The export holds the user and the mm (mmgrab()) until
 * it unpins.  Nothing of KVM is used.  Memory allocated for a request is
 * charged to the memory cgroup of the vhost worker, the VMM's; what must
 * not fail later (RELEASED, FRAME_DONE, UNEXPORTED for each importer) is
 * allocated with the request, so nothing loops on __GFP_NOFAIL.
 *
 * Exports live in a per-device table, &struct vhost_vdmabuf_ctx, reference
 * counted with a kref: the vhost file, every importer file and every export
 * still holding guest memory hold a reference.  The exports whose UUID the
 * guest owns are found by UUID in a hash table; the list of all of them is
 * walked to reset the device, to catch a new importer up and to QUERY an
 * export from before a reset.  At most max_exports are live, and an EXPORT
 * is refused while max_exports unexported ones are still held by host
 * dma-bufs, so a device holds fewer than twice max_exports.  There is no
 * global table, so a VM's buffers are only visible through its own device.
 *
 * Host users get an importer file (VHOST_VDMABUF_GET_IMPORTER).  It reads a
 * stream of EXPORTED, PRESENTED and UNEXPORTED events (none lost) and
 * imports a live export as a dma-buf.  An importer takes part in a
 * buffer's frames once it has imported it (or joined them,
 * VHOST_VDMABUF_FRAMES): it then owes a FRAME_DONE for each of its frames,
 * and the guest gets FRAME_DONE when every such importer has answered.
 * One that only watches owes nothing.  Frames are matched by a number the
 * device gives each PRESENT, never reused, not by the guest's sequence
 * number.  A PRESENTED an importer has not read yet is replaced by the
 * buffer's next one (the damage of both, a count of frames): an
 * importer's queue holds at most one per buffer.  A buffer unexported
 * before an importer that takes no part in its frames has read its
 * EXPORTED leaves that queue without a trace, so a queue that is never
 * read holds at most two records per live buffer; one that stopped
 * reading also keeps an UNEXPORTED and a PRESENTED of each buffer it had
 * read of, so at most four per max_exports.  While an importer has
 * max_importer_events unread events, EXPORT, and a PRESENT that would add
 * a record, are answered BUSY.
 * When the VMM has closed the device, an importer reads what is queued and
 * then end of file.
 *
 * An export holds guest memory while the guest has not unexported it or a
 * host dma-buf for it exists.  When both are gone, the pages are unpinned,
 * the charge is dropped and RELEASED is queued to the guest.  Guest events
 * are queued in the device until the guest posts event buffers; the backlog
 * is bounded by the number of exports and pending frames.
 *
 * Stopping the device (VHOST_VDMABUF_SET_RUNNING 0, a paused VM) only stops
 * processing the queues: exports, imports and queued events survive.
 * Resetting it (VHOST_VDMABUF_RESET_DEVICE, VHOST_RESET_OWNER) unexports
 * everything without telling the guest and revokes the host dma-bufs
 * before the ioctl returns, since the guest may reuse its memory as soon
 * as the reset completes: their CPU mappings are zapped and fault SIGBUS,
 * new mappings, attachments, attachment maps and CPU access are refused,
 * and dynamic importers get move_notify.  The host dma-bufs have no kernel
 * mapping (vmap) at all: one could not be taken back.  The pages stay
 * pinned until the last host user lets go, so nothing reads freed memory.
 * Closing the vhost file (the VMM exited) unexports everything but
 * revokes nothing: no guest can reuse memory that the pins still hold,
 * and host dma-bufs keep working until their last user lets go.  That
 * premise fails for guest RAM in a file that outlives the VMM (a shared
 * mapping of a file on a mounted tmpfs or hugetlbfs): exports of such RAM
 * are revoked on close too, without waiting for fences or pinned
 * attachments (a release must not wait for other processes).
 *
 * Locking: &vhost_dev.mutex, then &vhost_virtqueue.mutex (request queue
 * before event queue), then &vhost_vdmabuf_ctx.lock.  Kick handlers take only
 * their vq mutex and the table lock.  Importer and dma-buf callbacks take
 * only the table lock (&vhost_vdmabuf_imp.read_lock comes before it).  Pinning
 * takes the VMM's mmap_lock outside the table lock, and the dma-buf mmap
 * and fault paths, which run under an mmap_lock, never take the table
 * lock.  A revoke takes, under the table lock, &vhost_vdmabuf_export.revoke_sem
 * (a leaf, which the fault path takes under the mmap_lock), the i_mmap lock
 * of each dma-buf and each dma-buf's reservation lock, under which no
 * callback of this driver takes the table lock (pin, unpin and
 * map_dma_buf run under it).  A reset then takes each revoked dma-buf's
 * fences along and waits for them, killable, with neither lock held;
 * closing the vhost file never waits for fences.
 */

#include <linux/anon_inodes.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/kref.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/rhashtable.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uio.h>
#include <linux/vhost.h>
#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#include "vhost.h"

/* Bounds of the module parameters that the UAPI header does not fix. */
#define VDMABUF_HARD_MAX_EXPORTS	65536
/* A dma-buf's size is a size_t: below 4 GiB where that is 32 bits. */
#define VDMABUF_HARD_MAX_EXPORT_MB \
	((unsigned int)min_t(unsigned long, 65536, SIZE_MAX >> 20))
/*
 * The ranges of one export do not overlap, but the guest may export the
 * same memory more than once, and each export pins each of its pages once
 * more.  A pin of a small folio adds GUP_PIN_COUNTING_BIAS (1024) to its
 * refcount, an int: 2^21 pins of one 4 KiB page, 8 GiB of pin cap,
 * overflow it.  The pin cap counts every page pinned for the device, so it
 * bounds the pins one device can hold on one page: at 4096 MiB, 2^30 of
 * refcount, half of the int's positive range.  The bound is per device:
 * several devices over the same guest RAM can each reach it.
 */
#define VDMABUF_HARD_MAX_TOTAL_MB	4096U
#define VDMABUF_MIN_EVENTS		16
#define VDMABUF_HARD_MAX_EVENTS		1048576U
/*
 * A PRESENT and an unexport visit every importer, and for each one look
 * through the others' records of the export: their work grows as the
 * square of the importer count, under the table lock.
 */
#define VDMABUF_HARD_MAX_IMPORTERS	256U

/* Work per kick before yielding to other vhost work. */
#define VHOST_VDMABUF_PKT_WEIGHT	64
#define VHOST_VDMABUF_WEIGHT		0x80000

/* Pages pinned per pin_user_pages_remote() call, and how. */
#define VDMABUF_PIN_BATCH		512UL
#define VDMABUF_FOLL			(FOLL_WRITE | FOLL_LONGTERM)

static unsigned int max_ranges = 16384;
module_param(max_ranges, uint, 0444);
MODULE_PARM_DESC(max_ranges,
		 "Most ranges in one EXPORT (1..65536, default 16384)");

static unsigned int max_meta_len = 1024;
module_param(max_meta_len, uint, 0444);
MODULE_PARM_DESC(max_meta_len,
		 "Most metadata bytes in one EXPORT (0..4096, default 1024)");

static unsigned int max_exports = 1024;
module_param(max_exports, uint, 0444);
MODULE_PARM_DESC(max_exports,
		 "Most live exports per device (1..65536, default 1024)");

static unsigned int max_rects = 16;
module_param(max_rects, uint, 0444);
MODULE_PARM_DESC(max_rects,
		 "Most damage rectangles in one PRESENT (0..64, default 16)");

static unsigned int max_export_mb = 512;
module_param(max_export_mb, uint, 0444);
MODULE_PARM_DESC(max_export_mb,
		 "Largest export in MiB (1..65536, 1..4095 with a 32-bit size_t, default 512)");

static unsigned int max_total_mb = 2048;
module_param(max_total_mb, uint, 0444);
MODULE_PARM_DESC(max_total_mb,
		 "Most MiB exported and pinned per device (1..4096, default 2048)");

static unsigned int max_importer_events = 4096;
module_param(max_importer_events, uint, 0444);
MODULE_PARM_DESC(max_importer_events,
		 "Unread events per importer before EXPORT/PRESENT get BUSY (16..1048576, default 4096)");

static unsigned int max_guest_events = 8192;
module_param(max_guest_events, uint, 0444);
MODULE_PARM_DESC(max_guest_events,
		 "Guest event backlog before PRESENT gets BUSY (16..1048576, default 8192)");

static unsigned int max_importers = 64;
module_param(max_importers, uint, 0444);
MODULE_PARM_DESC(max_importers,
		 "Most importer files open per device (1..256, default 64)");

enum {
	VHOST_VDMABUF_FEATURES = (1ULL << VIRTIO_F_VERSION_1) |
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) |
				 (1ULL << VIRTIO_VDMABUF_F_PRESENT),
};

/* The module parameters: a new device's limits, and their ceilings. */
static struct vhost_vdmabuf_limits vhost_vdmabuf_module_limits(void)
{
	return (struct vhost_vdmabuf_limits) {
		.max_ranges = max_ranges,
		.max_meta_len = max_meta_len,
		.max_exports = max_exports,
		.max_rects = max_rects,
		.max_export_mb = max_export_mb,
		.max_total_mb = max_total_mb,
		.max_importer_events = max_importer_events,
		.max_guest_events = max_guest_events,
		.max_importers = max_importers,
	};
}

static bool vhost_vdmabuf_limits_valid(const struct vhost_vdmabuf_limits *lim)
{
	const struct vhost_vdmabuf_limits top = vhost_vdmabuf_module_limits();

	return !lim->flags &&
	       lim->max_ranges >= 1 && lim->max_ranges <= top.max_ranges &&
	       lim->max_meta_len <= top.max_meta_len &&
	       lim->max_exports >= 1 && lim->max_exports <= top.max_exports &&
	       lim->max_rects <= top.max_rects &&
	       lim->max_export_mb >= 1 &&
	       lim->max_export_mb <= top.max_export_mb &&
	       lim->max_total_mb >= 1 &&
	       lim->max_total_mb <= top.max_total_mb &&
	       lim->max_importer_events >= VDMABUF_MIN_EVENTS &&
	       lim->max_importer_events <= top.max_importer_events &&
	       lim->max_guest_events >= VDMABUF_MIN_EVENTS &&
	       lim->max_guest_events <= top.max_guest_events &&
	       lim->max_importers >= 1 &&
	       lim->max_importers <= top.max_importers;
}

struct vhost_vdmabuf;

/**
 * struct vhost_vdmabuf_ctx - per-device export table, outlives the vhost file
 * @kref: held by the vhost file, each importer file and each export
 * @lock: protects every field below but @nr_pinned and @unpinned
 * @vdb: the vhost device, NULL once its file is released (set to NULL
 *	with a release; importers read it without the lock)
 * @exports: exports holding guest memory (&vhost_vdmabuf_export.node)
 * @owned: by UUID (&vhost_vdmabuf_export.hnode), the exports whose UUID the
 *	guest still owns (&vhost_vdmabuf_export.guest_owned): the live ones and
 *	those unexported but not yet RELEASED; a UUID is in it at most once
 * @importers: open importer files (&vhost_vdmabuf_imp.node)
 * @guest_events: events waiting for guest event buffers
 * @nr_guest_events: length of @guest_events
 * @live_bytes: sum of the sizes of live exports
 * @limits: the device's limits, within the module parameters (set only
 *	while the queues are stopped, so the request handler reads them
 *	without the lock)
 * @last_frame: the frame number given to the newest PRESENT
 * @stats: counters reported by VHOST_VDMABUF_GET_STATS
 * @nr_pinned: pinned attachments of this device's host dma-bufs (atomic,
 *	changed under the dma-buf's reservation lock, not under @lock)
 * @unpinned: woken when @nr_pinned drops to zero
 */
struct vhost_vdmabuf_ctx {
	struct kref kref;
	struct mutex lock;	/* after dev.mutex and vq->mutex */
	struct vhost_vdmabuf *vdb;
	struct list_head exports;
	struct rhashtable owned;
	struct list_head importers;
	struct list_head guest_events;
	unsigned int nr_guest_events;
	u64 live_bytes;
	struct vhost_vdmabuf_limits limits;
	u64 last_frame;
	struct vhost_vdmabuf_stats stats;
	atomic_long_t nr_pinned;
	wait_queue_head_t unpinned;
};

/**
 * struct vhost_vdmabuf_gevent - an event queued for the guest
 * @node: in &vhost_vdmabuf_ctx.guest_events, under &vhost_vdmabuf_ctx.lock
 * @ev: the event as written to the guest
 */
struct vhost_vdmabuf_gevent {
	struct list_head node;
	struct virtio_vdmabuf_event ev;
};

/**
 * struct vhost_vdmabuf_export - one exported guest buffer
 * @node: in &vhost_vdmabuf_ctx.exports
 * @hnode: in &vhost_vdmabuf_ctx.owned while @guest_owned
 * @reap: on a local list while being released
 * @ctx: the table; the export holds a reference
 * @uuid: the guest's ID for it
 * @size: bytes
 * @nr_ranges: ranges the guest sent
 * @meta_len: bytes at @meta
 * @meta: metadata from the guest, immutable
 * @pages: the pinned pages, immutable
 * @nr_pages: entries in @pages
 * @mm: the mm the pages are pinned in, counted in its pinned_vm (mmgrab'ed)
 * @user: the user charged for the pages, or NULL
 * @released_ev: RELEASED, allocated up front so it cannot fail later
 * @live: not unexported by the guest (table lock)
 * @guest_owned: RELEASED is owed to the guest (table lock)
 * @releasing: the last reference is gone, being torn down (table lock)
 * @nr_dmabufs: host dma-bufs not yet released (table lock)
 * @frame_pending: a PRESENT waits for FRAME_DONE (table lock)
 * @frame_seq: the guest's sequence number of it (table lock)
 * @frame_no: its frame number, unique on the device (table lock)
 * @frame_ev: its FRAME_DONE, allocated up front (table lock)
 * @nr_owing: parts that owe FRAME_DONE for it (table lock)
 * @last_seq: sequence number of the newest PRESENT (table lock)
 * @last_frame: frame number of the newest PRESENT (table lock)
 * @parts: importers taking part in the frames (&vhost_vdmabuf_part.enode, table
 *	lock); only while live
 * @presented: unread PRESENTED events, at most one per importer
 *	(&vhost_vdmabuf_ievent.enode, table lock); only while live
 * @exported: unread EXPORTED events, at most one per importer
 *	(&vhost_vdmabuf_ievent.enode, table lock); only while live
 * @spare_unexported: UNEXPORTED records allocated up front, at least one
 *	per open importer while the export is live (&vhost_vdmabuf_ievent.node,
 *	table lock)
 * @nr_spares: length of @spare_unexported (table lock)
 * @dmabufs: its host dma-bufs (&vhost_vdmabuf_dmabuf.node, table lock)
 * @revoke_sem: orders the fault path against a revoke
 * @revoked: the guest was reset: no host access (set under the table
 *	lock and @revoke_sem held for writing; read under either, once for
 *	a check that the fault path repeats, or under a dma-buf's
 *	reservation lock, which the revoke takes after setting it)
 * @outlives_vmm: some of its pages are in a file that outlives the VMM
 *	(vhost_vdmabuf_ram_outlives_vmm()): closing the vhost file revokes it
 *	too (set once at EXPORT)
 *
 * Every IMPORT exports a new host dma-buf.  Each holds the export (through
 * @nr_dmabufs) from dma_buf_export() until its .release.  The export
 * lists them (@dmabufs) for a revoke, which follows
 * &vhost_vdmabuf_dmabuf.dmabuf to the &struct dma_buf and its reservation
 * object only, and only under the table lock: .release unlists the record under
 * that lock before the core frees either.  It never follows &dma_buf.file, on
 * which it holds no reference: .release runs when the dma-buf's dentry goes,
 * and anything else holding the dentry (an O_PATH open of /proc/PID/fd/N)
 * outlives the last fput(), which frees the &struct file; its
 * SLAB_TYPESAFE_BY_RCU memory may then be reused for an unrelated file, or its
 * slab page freed (hence the inode reference in &struct vhost_vdmabuf_dmabuf).
 * The pages are pinned once per export whatever the number of dma-bufs, so a
 * dma-buf per import costs a file and a dentry.
 */
struct vhost_vdmabuf_export {
	struct list_head node;
	struct rhash_head hnode;
	struct list_head reap;
	struct vhost_vdmabuf_ctx *ctx;
	u8 uuid[16];
	u64 size;
	u32 nr_ranges;
	u32 meta_len;
	void *meta;
	struct page **pages;
	unsigned long nr_pages;
	struct mm_struct *mm;
	struct user_struct *user;
	struct vhost_vdmabuf_gevent *released_ev;
	bool live;
	bool guest_owned;
	bool releasing;
	unsigned int nr_dmabufs;
	bool frame_pending;
	u64 frame_seq;
	u64 frame_no;
	struct vhost_vdmabuf_gevent *frame_ev;
	unsigned int nr_owing;
	u64 last_seq;
	u64 last_frame;
	struct list_head parts;
	struct list_head presented;
	struct list_head exported;
	struct list_head spare_unexported;
	unsigned int nr_spares;
	struct list_head dmabufs;
	struct rw_semaphore revoke_sem;	/* leaf, after mmap_lock */
	bool revoked;
	bool outlives_vmm;
};

/**
 * struct vhost_vdmabuf_dmabuf - one host dma-buf of an export, its
 * &dma_buf.priv
 * @node: in &vhost_vdmabuf_export.dmabufs (table lock)
 * @exp: the export; the dma-buf holds it (&vhost_vdmabuf_export.nr_dmabufs)
 * @dmabuf: the dma-buf, valid until its .release unlists this record
 * @inode: the dma-buf's inode (ihold), whose mapping holds its CPU mmaps:
 *	the dentry drops its own reference before .release runs, and the
 *	&struct file may be gone before either
 *	(see &struct vhost_vdmabuf_export)
 * @fences_done: revoked, and a reset has waited for the work queued on it
 *	(table lock)
 */
struct vhost_vdmabuf_dmabuf {
	struct list_head node;
	struct vhost_vdmabuf_export *exp;
	struct dma_buf *dmabuf;
	struct inode *inode;
	bool fences_done;
};

/**
 * struct vhost_vdmabuf_imp - state of an importer file
 * @ctx: the table; the importer holds a reference
 * @node: in &vhost_vdmabuf_ctx.importers (table lock)
 * @events: unread events (&vhost_vdmabuf_ievent.node, table lock)
 * @nr_events: length of @events (table lock, read locklessly for poll)
 * @parts: exports whose frames it takes part in (&vhost_vdmabuf_part.inode,
 *	table lock)
 * @all_frames: it takes part in the frames of every export, from their
 *	next PRESENT on (table lock)
 * @wait: readers and pollers wait here for @events and for the end
 * @read_lock: serialises readers, so that records leave in order; never
 *	held while waiting for events
 */
struct vhost_vdmabuf_imp {
	struct vhost_vdmabuf_ctx *ctx;
	struct list_head node;
	struct list_head events;
	unsigned int nr_events;
	struct list_head parts;
	bool all_frames;
	wait_queue_head_t wait;
	struct mutex read_lock;	/* before the table lock */
};

/**
 * struct vhost_vdmabuf_ievent - an event queued for an importer
 * @node: in &vhost_vdmabuf_imp.events (table lock)
 * @enode: EXPORTED and PRESENTED: in &vhost_vdmabuf_export.exported or
 *	&vhost_vdmabuf_export.presented while unread and the export is live,
 *	else empty (table lock)
 * @imp: the importer it is queued for
 * @reading: a reader is copying it out: it stays first in the queue until
 *	the copy succeeds, but is no longer replaced or dropped (table lock)
 * @len: bytes of the record (@hdr, payload, zero padding)
 * @hdr: the record header; the payload follows it in memory
 * @payload: metadata or damage rectangles
 */
struct vhost_vdmabuf_ievent {
	struct list_head node;
	struct list_head enode;
	struct vhost_vdmabuf_imp *imp;
	bool reading;
	u32 len;
	struct vhost_vdmabuf_event hdr;
	u8 payload[];
};

/**
 * struct vhost_vdmabuf_part - an importer takes part in a live export's frames
 * @inode: in &vhost_vdmabuf_imp.parts (table lock)
 * @enode: in &vhost_vdmabuf_export.parts (table lock)
 * @imp: the importer
 * @exp: the export
 * @owes: FRAME_DONE is owed for the export's pending frame (table lock)
 *
 * Made by IMPORT, by VHOST_VDMABUF_FRAMES_JOIN, or by a PRESENT for an
 * importer that joined all frames; freed by LEAVE, by closing the importer
 * and by unexporting.  Only importers with a part owe
 * FRAME_DONE: one that only watches never holds the guest back.
 */
struct vhost_vdmabuf_part {
	struct list_head inode;
	struct list_head enode;
	struct vhost_vdmabuf_imp *imp;
	struct vhost_vdmabuf_export *exp;
	bool owes;
};

/**
 * struct vhost_vdmabuf - one open /dev/vhost-vdmabuf
 * @dev: the vhost device
 * @vqs: request and event queue
 * @event_work: delivers queued guest events
 * @ctx: the export table
 * @owner: the owner's thread group leader, whose RLIMIT_MEMLOCK bounds
 *	@user's charge (set under @dev.mutex while the queues are stopped,
 *	as is @user)
 * @user: the owner's user, charged for pinned pages; NULL if the owner had
 *	CAP_IPC_LOCK at VHOST_SET_OWNER
 * @memcg: the owner's memory cgroup at VHOST_SET_OWNER, referenced: what
 *	the handlers allocate for the guest is charged to it (set under
 *	@dev.mutex while the queues are stopped, as @owner)
 * @limits_frozen: the device was started (SET_FEATURES or SET_RUNNING 1)
 *	since it was opened or last reset, so the guest may have read the
 *	limits: SET_LIMITS is refused (@dev.mutex)
 *
 * As in VFIO and iommufd, the limit and the capability are the owner's,
 * not those of the vhost worker, which may be a kernel thread; so is the
 * memory cgroup, which memcg does not charge for a kernel thread (before
 * Linux 6.4 the worker always is one, and later a VMM can still ask for
 * one with VHOST_SET_FORK_FROM_OWNER).  The handlers run with it as
 * their active memcg, as the loop driver's workers do.
 */
struct vhost_vdmabuf {
	struct vhost_dev dev;
	struct vhost_virtqueue vqs[VIRTIO_VDMABUF_VQ_MAX];
	struct vhost_work event_work;
	struct vhost_vdmabuf_ctx *ctx;
	struct task_struct *owner;
	struct user_struct *user;
	struct mem_cgroup *memcg;
	bool limits_frozen;
};

static const struct rhashtable_params vhost_vdmabuf_owned_params = {
	.key_len = sizeof_field(struct vhost_vdmabuf_export, uuid),
	.key_offset = offsetof(struct vhost_vdmabuf_export, uuid),
	.head_offset = offsetof(struct vhost_vdmabuf_export, hnode),
	.automatic_shrinking = true,
};

static void vhost_vdmabuf_ctx_free(struct kref *kref)
{
	struct vhost_vdmabuf_ctx *ctx =
		container_of(kref, struct vhost_vdmabuf_ctx, kref);

	WARN_ON(!list_empty(&ctx->exports) || !list_empty(&ctx->importers) ||
		atomic_read(&ctx->owned.nelems));
	rhashtable_destroy(&ctx->owned);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

static void vhost_vdmabuf_ctx_put(struct vhost_vdmabuf_ctx *ctx)
{
	kref_put(&ctx->kref, vhost_vdmabuf_ctx_free);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                 */
/* ---------------------------------------------------------------------- */

static struct vhost_vdmabuf_gevent *vhost_vdmabuf_gevent_alloc(void)
{
	return kzalloc(sizeof(struct vhost_vdmabuf_gevent), GFP_KERNEL_ACCOUNT);
}

/* Queue @gev for the guest, or drop it when the vhost file is gone. */
static void vhost_vdmabuf_guest_event(struct vhost_vdmabuf_ctx *ctx,
				      struct vhost_vdmabuf_gevent *gev,
				      u32 type, u32 flags, const u8 *uuid,
				      u64 seq)
{
	lockdep_assert_held(&ctx->lock);

	if (!ctx->vdb) {
		kfree(gev);
		return;
	}
	gev->ev.type = cpu_to_le32(type);
	gev->ev.flags = cpu_to_le32(flags);
	memcpy(gev->ev.uuid, uuid, sizeof(gev->ev.uuid));
	gev->ev.seq = cpu_to_le64(seq);
	list_add_tail(&gev->node, &ctx->guest_events);
	ctx->nr_guest_events++;
	vhost_vq_work_queue(&ctx->vdb->vqs[VIRTIO_VDMABUF_VQ_EVENT],
			    &ctx->vdb->event_work);
}

static void vhost_vdmabuf_guest_events_discard(struct vhost_vdmabuf_ctx *ctx)
{
	struct vhost_vdmabuf_gevent *gev, *tmp;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry_safe(gev, tmp, &ctx->guest_events, node) {
		list_del(&gev->node);
		kfree(gev);
	}
	ctx->nr_guest_events = 0;
}

static struct vhost_vdmabuf_ievent *
vhost_vdmabuf_ievent_alloc(u32 type, struct vhost_vdmabuf_export *exp,
			   const void *payload, u32 payload_len, u64 seq,
			   gfp_t gfp)
{
	u32 len = ALIGN(sizeof(struct vhost_vdmabuf_event) + payload_len, 8);
	struct vhost_vdmabuf_ievent *iev;

	iev = kzalloc(offsetof(struct vhost_vdmabuf_ievent, hdr) + len, gfp);
	if (!iev)
		return NULL;
	INIT_LIST_HEAD(&iev->enode);
	iev->len = len;
	iev->hdr.type = type;
	iev->hdr.len = len;
	memcpy(iev->hdr.uuid, exp->uuid, sizeof(iev->hdr.uuid));
	iev->hdr.size = exp->size;
	iev->hdr.seq = seq;
	iev->hdr.payload_len = payload_len;
	if (payload && payload_len)
		memcpy(iev->payload, payload, payload_len);
	return iev;
}

/* An EXPORTED record of @exp, its metadata as payload. */
static struct vhost_vdmabuf_ievent *
vhost_vdmabuf_exported_alloc(struct vhost_vdmabuf_export *exp)
{
	return vhost_vdmabuf_ievent_alloc(VHOST_VDMABUF_EVENT_EXPORTED, exp,
					  exp->meta, exp->meta_len, 0,
					  GFP_KERNEL_ACCOUNT);
}

static void vhost_vdmabuf_importer_queue(struct vhost_vdmabuf_imp *imp,
					 struct vhost_vdmabuf_ievent *iev)
{
	lockdep_assert_held(&imp->ctx->lock);
	iev->imp = imp;
	list_add_tail(&iev->node, &imp->events);
	WRITE_ONCE(imp->nr_events, imp->nr_events + 1);
	wake_up_interruptible(&imp->wait);
}

static bool vhost_vdmabuf_importers_busy(struct vhost_vdmabuf_ctx *ctx)
{
	struct vhost_vdmabuf_imp *imp;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry(imp, &ctx->importers, node)
		if (imp->nr_events >= ctx->limits.max_importer_events)
			return true;
	return false;
}

/* Queue @iev, the EXPORTED of @exp, for @imp; it is unread until read. */
static void vhost_vdmabuf_exported_queue(struct vhost_vdmabuf_export *exp,
					 struct vhost_vdmabuf_imp *imp,
					 struct vhost_vdmabuf_ievent *iev)
{
	vhost_vdmabuf_importer_queue(imp, iev);
	list_add_tail(&iev->enode, &exp->exported);
}

/* Take @iev off its importer's queue and free it. */
static void vhost_vdmabuf_ievent_drop(struct vhost_vdmabuf_ievent *iev)
{
	struct vhost_vdmabuf_imp *imp = iev->imp;

	lockdep_assert_held(&imp->ctx->lock);
	list_del(&iev->node);
	list_del(&iev->enode);
	WRITE_ONCE(imp->nr_events, imp->nr_events - 1);
	kfree(iev);
}

/* ---------------------------------------------------------------------- */
/* Exports                                                                */
/* ---------------------------------------------------------------------- */

/*
 * The export of @uuid: the live one; without @live_only, else the one
 * unexported but not yet RELEASED, else one the guest no longer owns (held
 * across a reset), found by a scan of the held exports.
 */
static struct vhost_vdmabuf_export *
vhost_vdmabuf_find(struct vhost_vdmabuf_ctx *ctx, const u8 *uuid,
		   bool live_only)
{
	struct vhost_vdmabuf_export *exp;

	lockdep_assert_held(&ctx->lock);
	exp = rhashtable_lookup_fast(&ctx->owned, uuid,
				     vhost_vdmabuf_owned_params);
	if (exp && (exp->live || !live_only))
		return exp;
	if (live_only || exp)
		return NULL;
	list_for_each_entry(exp, &ctx->exports, node)
		if (!memcmp(exp->uuid, uuid, sizeof(exp->uuid)))
			return exp;
	return NULL;
}

/* Under the table lock: the guest no longer owns @exp's UUID. */
static void vhost_vdmabuf_export_disown(struct vhost_vdmabuf_ctx *ctx,
					struct vhost_vdmabuf_export *exp)
{
	lockdep_assert_held(&ctx->lock);
	if (!exp->guest_owned)
		return;
	exp->guest_owned = false;
	rhashtable_remove_fast(&ctx->owned, &exp->hnode,
			       vhost_vdmabuf_owned_params);
}

/*
 * Under the table lock: give @exp an UNEXPORTED record for each of @n
 * importers, so that unexporting cannot fail.  Records of importers that
 * left are reused.  0, or -ENOMEM.
 */
static int vhost_vdmabuf_export_spares(struct vhost_vdmabuf_export *exp,
				       unsigned int n)
{
	struct vhost_vdmabuf_ievent *iev;

	while (exp->nr_spares < n) {
		iev = vhost_vdmabuf_ievent_alloc(VHOST_VDMABUF_EVENT_UNEXPORTED,
						 exp, NULL, 0, 0,
						 GFP_KERNEL_ACCOUNT);
		if (!iev)
			return -ENOMEM;
		list_add_tail(&iev->node, &exp->spare_unexported);
		exp->nr_spares++;
	}
	return 0;
}

static void vhost_vdmabuf_export_free_spares(struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_ievent *iev, *tmp;

	list_for_each_entry_safe(iev, tmp, &exp->spare_unexported, node) {
		list_del(&iev->node);
		kfree(iev);
	}
	exp->nr_spares = 0;
}

/* The export's frame is over: tell the guest (or not); nothing is owed. */
static void vhost_vdmabuf_frame_finish(struct vhost_vdmabuf_ctx *ctx,
				       struct vhost_vdmabuf_export *exp,
				       u32 flags, bool notify)
{
	struct vhost_vdmabuf_gevent *gev;
	struct vhost_vdmabuf_part *part;

	lockdep_assert_held(&ctx->lock);
	if (!exp->frame_pending)
		return;
	list_for_each_entry(part, &exp->parts, enode)
		part->owes = false;
	exp->nr_owing = 0;
	exp->frame_pending = false;
	gev = exp->frame_ev;
	exp->frame_ev = NULL;
	if (notify)
		vhost_vdmabuf_guest_event(ctx, gev,
					  VIRTIO_VDMABUF_EVT_FRAME_DONE, flags,
					  exp->uuid, exp->frame_seq);
	else
		kfree(gev);
}

static struct vhost_vdmabuf_part *
vhost_vdmabuf_part_find(struct vhost_vdmabuf_imp *imp,
			struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_part *part;

	lockdep_assert_held(&imp->ctx->lock);
	list_for_each_entry(part, &exp->parts, enode)
		if (part->imp == imp)
			return part;
	return NULL;
}

/* @part's importer is done with the pending frame, if it owed it. */
static void vhost_vdmabuf_part_answer(struct vhost_vdmabuf_ctx *ctx,
				      struct vhost_vdmabuf_part *part)
{
	struct vhost_vdmabuf_export *exp = part->exp;

	lockdep_assert_held(&ctx->lock);
	if (!part->owes)
		return;
	part->owes = false;
	if (!--exp->nr_owing)
		vhost_vdmabuf_frame_finish(ctx, exp, 0, true);
}

static void vhost_vdmabuf_part_free(struct vhost_vdmabuf_part *part)
{
	list_del(&part->inode);
	list_del(&part->enode);
	kfree(part);
}

/* The unread PRESENTED of @exp queued for @imp, if any. */
static struct vhost_vdmabuf_ievent *
vhost_vdmabuf_presented_find(struct vhost_vdmabuf_export *exp,
			     struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ievent *iev;

	lockdep_assert_held(&exp->ctx->lock);
	list_for_each_entry(iev, &exp->presented, enode)
		if (iev->imp == imp)
			return iev;
	return NULL;
}

/*
 * @imp has not read @exp's EXPORTED and takes no part in its frames: drop
 * that and its unread PRESENTED, so that it never hears of @exp.  A queue
 * that is never read then holds at most an EXPORTED and a PRESENTED per
 * live export, however often buffers come and go.  True if dropped.
 */
static bool vhost_vdmabuf_unexport_unseen(struct vhost_vdmabuf_export *exp,
					  struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ievent *iev, *found = NULL;

	lockdep_assert_held(&exp->ctx->lock);
	list_for_each_entry(iev, &exp->exported, enode) {
		if (iev->imp == imp) {
			found = iev;
			break;
		}
	}
	/* One being read is as good as read: its reader is told. */
	if (!found || found->reading || vhost_vdmabuf_part_find(imp, exp))
		return false;
	vhost_vdmabuf_ievent_drop(found);
	/* Queued after the EXPORTED, so not being read either. */
	iev = vhost_vdmabuf_presented_find(exp, imp);
	if (iev && !WARN_ON_ONCE(iev->reading))
		vhost_vdmabuf_ievent_drop(iev);
	return true;
}

/*
 * @imp imported @exp, so it knows of it whether or not it has read the
 * EXPORTED: its record is no longer one vhost_vdmabuf_unexport_unseen() may
 * drop, and it will be told UNEXPORTED even if it leaves the frames first.
 */
static void vhost_vdmabuf_exported_seen(struct vhost_vdmabuf_export *exp,
					struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ievent *iev;

	lockdep_assert_held(&exp->ctx->lock);
	list_for_each_entry(iev, &exp->exported, enode) {
		if (iev->imp == imp) {
			list_del_init(&iev->enode);
			return;
		}
	}
}

/* The guest's reference is gone: tell importers, finish the frame. */
static void vhost_vdmabuf_unexport(struct vhost_vdmabuf_ctx *ctx,
				   struct vhost_vdmabuf_export *exp,
				   bool notify)
{
	struct vhost_vdmabuf_ievent *iev, *itmp;
	struct vhost_vdmabuf_part *part, *ptmp;
	struct vhost_vdmabuf_imp *imp;

	lockdep_assert_held(&ctx->lock);
	exp->live = false;
	ctx->stats.live_exports--;
	ctx->live_bytes -= exp->size;
	vhost_vdmabuf_frame_finish(ctx, exp, 0, notify);
	/*
	 * UNEXPORTED is always delivered to an importer that may know of
	 * @exp: every importer left a record for it in @exp's spares.
	 */
	list_for_each_entry(imp, &ctx->importers, node) {
		if (vhost_vdmabuf_unexport_unseen(exp, imp))
			continue;
		iev = list_first_entry_or_null(&exp->spare_unexported,
					       struct vhost_vdmabuf_ievent,
					       node);
		if (WARN_ON_ONCE(!iev))
			break;
		list_del(&iev->node);
		exp->nr_spares--;
		vhost_vdmabuf_importer_queue(imp, iev);
	}
	/* No one takes part in the frames of a buffer that has none. */
	list_for_each_entry_safe(part, ptmp, &exp->parts, enode)
		vhost_vdmabuf_part_free(part);
	/* Unread records stay queued, but no later frame replaces them. */
	list_for_each_entry_safe(iev, itmp, &exp->presented, enode)
		list_del_init(&iev->enode);
	list_for_each_entry_safe(iev, itmp, &exp->exported, enode)
		list_del_init(&iev->enode);
}

/* True if the caller must release @exp with vhost_vdmabuf_export_finish(). */
static bool vhost_vdmabuf_export_last_ref(struct vhost_vdmabuf_export *exp)
{
	lockdep_assert_held(&exp->ctx->lock);
	if (exp->live || exp->nr_dmabufs || exp->releasing)
		return false;
	exp->releasing = true;
	return true;
}

/*
 * Charge @pages to @user's locked memory, if @user is not NULL, within
 * @task's RLIMIT_MEMLOCK: io_uring's __io_account_mem() and iommufd's
 * incr_user_locked_vm().
 */
static int vhost_vdmabuf_charge(struct user_struct *user,
				struct task_struct *task, unsigned long pages)
{
	unsigned long limit, cur, new;

	if (!user)
		return 0;
	limit = task_rlimit(task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	cur = atomic_long_read(&user->locked_vm);
	do {
		new = cur + pages;
		if (new > limit)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	return 0;
}

static void vhost_vdmabuf_uncharge(struct user_struct *user,
				   unsigned long pages)
{
	if (user && !WARN_ON(atomic_long_read(&user->locked_vm) < pages))
		atomic_long_sub(pages, &user->locked_vm);
}

static void vhost_vdmabuf_export_unpin(struct vhost_vdmabuf_export *exp)
{
	unpin_user_pages_dirty_lock(exp->pages, exp->nr_pages, true);
	atomic64_sub(exp->nr_pages, &exp->mm->pinned_vm);
	vhost_vdmabuf_uncharge(exp->user, exp->nr_pages);
}

/* Drop the pages and the charge, then send RELEASED and free @exp. */
static void vhost_vdmabuf_export_finish(struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_ctx *ctx = exp->ctx;

	WARN_ON(!list_empty(&exp->dmabufs));
	vhost_vdmabuf_export_unpin(exp);
	mmdrop(exp->mm);

	mutex_lock(&ctx->lock);
	list_del(&exp->node);
	ctx->stats.held_exports--;
	ctx->stats.pinned_pages -= exp->nr_pages;
	if (exp->user)
		ctx->stats.charged_pages -= exp->nr_pages;
	if (exp->guest_owned) {
		vhost_vdmabuf_export_disown(ctx, exp);
		vhost_vdmabuf_guest_event(ctx, exp->released_ev,
					  VIRTIO_VDMABUF_EVT_RELEASED, 0,
					  exp->uuid, 0);
		exp->released_ev = NULL;
	}
	mutex_unlock(&ctx->lock);

	vhost_vdmabuf_export_free_spares(exp);
	free_uid(exp->user);
	kfree(exp->released_ev);
	kvfree(exp->pages);
	kfree(exp->meta);
	kfree(exp);
	vhost_vdmabuf_ctx_put(ctx);
}

/*
 * Tell @dmabuf's dynamic importers to let go: from the resv lock on,
 * map_dma_buf and pin see the revoke and refuse, so no new access starts.
 */
static void vhost_vdmabuf_dmabuf_revoke(struct dma_buf *dmabuf)
{
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_move_notify(dmabuf);
	dma_resv_unlock(dmabuf->resv);
}

/* One uninterruptible fence wait, after which a fatal signal is looked for. */
#define VDMABUF_FENCE_SLICE	(HZ / 10)

/*
 * Wait for @fence as dma_fence_wait() does (the fence's own wait, the
 * lockdep annotations of fence signalling), in slices, so that a fatal
 * signal ends it: a fence that never signals must not leave the VMM
 * unkillable.  The kernel has no killable dma_fence wait.  0 once it
 * signalled, -EINTR if killed, or the error of a wait that failed (a
 * driver's own wait may, and the fence then counts as signalled).
 */
static int vhost_vdmabuf_fence_wait_killable(struct dma_fence *fence)
{
	long ret = 0;

	while (!ret) {
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = dma_fence_wait_timeout(fence, false, VDMABUF_FENCE_SLICE);
	}
	return ret > 0 ? 0 : ret;
}

/*
 * Take host access to @exp's pages away: CPU mappings are zapped and fault
 * SIGBUS from now on, new mmap, attachments, attachment maps, pins and CPU
 * access are refused, and dynamic importers are told to let go (a reset then waits
 * for the work already queued on the dma-bufs,
 * vhost_vdmabuf_ctx_wait_revoked()).  The pages stay pinned until the last
 * dma-buf is released: a pinned attachment (every static importer's) cannot be
 * taken back, only refused from now on.
 */
static void vhost_vdmabuf_export_revoke(struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_dmabuf *vbuf;

	lockdep_assert_held(&exp->ctx->lock);
	if (exp->revoked)
		return;
	/* A fault that saw @revoked false has inserted its PFN by now. */
	down_write(&exp->revoke_sem);
	WRITE_ONCE(exp->revoked, true);
	up_write(&exp->revoke_sem);
	list_for_each_entry(vbuf, &exp->dmabufs, node) {
		unmap_mapping_range(vbuf->inode->i_mapping, 0, 0, 1);
		vhost_vdmabuf_dmabuf_revoke(vbuf->dmabuf);
	}
}

/*
 * The first fence on @dmabuf that has not signalled, with a reference, or
 * NULL.  Without the reservation lock, which a driver may hold while it
 * waits for fences, and without allocating.
 */
static struct dma_fence *vhost_vdmabuf_busy_fence(struct dma_buf *dmabuf)
{
	struct dma_fence *fence, *busy = NULL;
	struct dma_resv_iter cursor;

	dma_resv_iter_begin(&cursor, dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP);
	dma_resv_for_each_fence_unlocked(&cursor, fence) {
		busy = dma_fence_get(fence);
		break;
	}
	dma_resv_iter_end(&cursor);
	return busy;
}

/*
 * The first busy fence of a host dma-buf of a revoked export that a reset
 * has not finished waiting for, with a reference; NULL when there is none.
 * Whose fences are all signalled is done with, and so is one whose first
 * busy fence is @failed, whose wait failed.
 */
static struct dma_fence *
vhost_vdmabuf_ctx_busy_fence(struct vhost_vdmabuf_ctx *ctx,
			     struct dma_fence *failed)
{
	struct vhost_vdmabuf_export *exp;
	struct vhost_vdmabuf_dmabuf *vbuf;
	struct dma_fence *fence;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry(exp, &ctx->exports, node) {
		if (!exp->revoked)
			continue;
		list_for_each_entry(vbuf, &exp->dmabufs, node) {
			if (vbuf->fences_done)
				continue;
			fence = vhost_vdmabuf_busy_fence(vbuf->dmabuf);
			if (fence && fence != failed)
				return fence;
			dma_fence_put(fence);
			vbuf->fences_done = true;
		}
	}
	return NULL;
}

/*
 * Wait, killably and one fence at a time, for the work queued on the host
 * dma-bufs of every revoked export, including work queued while it waits.
 * The table lock is held only to find the next fence, never across a
 * wait, so importers read UNEXPORTED and close their dma-bufs meanwhile.
 * A host program that keeps queueing work on a revoked dma-buf delays the
 * reset as a pinned attachment does; killing the VMM ends the wait.  A
 * fence whose wait fails counts as signalled, as dma_fence_ops.wait asks;
 * the rest of its dma-buf's work is then not waited for.  -EINTR if
 * killed.
 */
static int vhost_vdmabuf_ctx_wait_revoked(struct vhost_vdmabuf_ctx *ctx)
{
	struct dma_fence *fence, *failed = NULL;
	int ret;

	for (;;) {
		mutex_lock(&ctx->lock);
		fence = vhost_vdmabuf_ctx_busy_fence(ctx, failed);
		mutex_unlock(&ctx->lock);
		/* Held until now: the pointer names no other fence. */
		dma_fence_put(failed);
		failed = NULL;
		if (!fence)
			return 0;
		ret = vhost_vdmabuf_fence_wait_killable(fence);
		if (ret == -EINTR) {
			dma_fence_put(fence);
			return ret;
		}
		if (ret)
			failed = fence;
		else
			dma_fence_put(fence);
		cond_resched();
	}
}

/*
 * Unexport everything without telling the guest and forget its queued
 * events.  A guest reset (@vmm_gone false) also revokes every host dma-buf
 * before returning: the guest may reuse the memory once the reset is
 * complete, and waits (killable, after dropping the table lock) for the
 * work queued on them; -EINTR if killed meanwhile, with every export
 * revoked all the same.  A VMM that is gone revokes only exports of RAM
 * that outlives it (no guest can reuse other memory that is still pinned)
 * without waiting for fences, and detaches the vhost device.
 */
static int vhost_vdmabuf_ctx_reset(struct vhost_vdmabuf_ctx *ctx, bool vmm_gone)
{
	struct vhost_vdmabuf_export *exp, *tmp;
	struct vhost_vdmabuf_imp *imp;
	LIST_HEAD(reap);

	mutex_lock(&ctx->lock);
	list_for_each_entry(exp, &ctx->exports, node) {
		if (exp->live)
			vhost_vdmabuf_unexport(ctx, exp, false);
		vhost_vdmabuf_export_disown(ctx, exp);
		if (!vmm_gone || exp->outlives_vmm)
			vhost_vdmabuf_export_revoke(exp);
		if (vhost_vdmabuf_export_last_ref(exp))
			list_add_tail(&exp->reap, &reap);
	}
	vhost_vdmabuf_guest_events_discard(ctx);
	if (vmm_gone) {
		/*
		 * Importers read what is queued, then end of file: the
		 * release orders the records queued above before the NULL
		 * that vhost_vdmabuf_importer_hup() reads without the lock.
		 */
		smp_store_release(&ctx->vdb, NULL);
		list_for_each_entry(imp, &ctx->importers, node)
			wake_up_interruptible(&imp->wait);
	}
	mutex_unlock(&ctx->lock);

	list_for_each_entry_safe(exp, tmp, &reap, reap)
		vhost_vdmabuf_export_finish(exp);
	/* Every export is revoked before the first wait. */
	return vmm_gone ? 0 : vhost_vdmabuf_ctx_wait_revoked(ctx);
}

/* ---------------------------------------------------------------------- */
/* Host dma-buf                                                           */
/* ---------------------------------------------------------------------- */

static struct sg_table *vhost_vdmabuf_get_sgt(struct vhost_vdmabuf_export *exp,
					      struct device *dev,
					      enum dma_data_direction dir)
{
	unsigned int max_seg;
	struct sg_table *sgt;
	int ret;

	/*
	 * Segments no longer than the importer's device can take, nor than
	 * its DMA mapping can (swiotlb bounces at most 256 KiB at a time).
	 */
	max_seg = min_t(size_t, dma_get_max_seg_size(dev),
			dma_max_mapping_size(dev));
	max_seg = round_down(max_seg, PAGE_SIZE);
	if (!max_seg)
		return ERR_PTR(-EINVAL);
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages_segment(sgt, exp->pages, exp->nr_pages,
						0, exp->size, max_seg,
						GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static struct vhost_vdmabuf_export *
vhost_vdmabuf_dmabuf_export(struct dma_buf *dmabuf)
{
	struct vhost_vdmabuf_dmabuf *vbuf = dmabuf->priv;

	return vbuf->exp;
}

/*
 * A dynamic exporter, so that a revoke can reach every attachment: the
 * core calls map_dma_buf, pin and unpin under the dma-buf's reservation
 * lock, which the revoke takes after setting &vhost_vdmabuf_export.revoked.  A
 * static importer's attachment is pinned and mapped once: at attach on
 * Linux 6.1 and 6.12, at its first mapping on 7.3.
 */
static struct sg_table *vhost_vdmabuf_map_dma_buf(struct dma_buf_attachment *at,
						  enum dma_data_direction dir)
{
	struct vhost_vdmabuf_export *exp =
		vhost_vdmabuf_dmabuf_export(at->dmabuf);

	dma_resv_assert_held(at->dmabuf->resv);
	if (READ_ONCE(exp->revoked))
		return ERR_PTR(-ENODEV);
	return vhost_vdmabuf_get_sgt(exp, at->dev, dir);
}

static void vhost_vdmabuf_unmap_dma_buf(struct dma_buf_attachment *at,
					struct sg_table *sgt,
					enum dma_data_direction dir)
{
	dma_unmap_sgtable(at->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

/* No new attachment of a revoked export: nothing could map it. */
static int vhost_vdmabuf_attach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *at)
{
	struct vhost_vdmabuf_export *exp = vhost_vdmabuf_dmabuf_export(dmabuf);

	return READ_ONCE(exp->revoked) ? -ENODEV : 0;
}

/*
 * A pinned attachment keeps its mapping across a revoke: refuse new ones,
 * and count the others, which a reset waits for
 * (vhost_vdmabuf_ctx_wait_unpinned).
 */
static int vhost_vdmabuf_pin(struct dma_buf_attachment *at)
{
	struct vhost_vdmabuf_export *exp =
		vhost_vdmabuf_dmabuf_export(at->dmabuf);

	dma_resv_assert_held(at->dmabuf->resv);
	if (READ_ONCE(exp->revoked))
		return -ENODEV;
	atomic_long_inc(&exp->ctx->nr_pinned);
	return 0;
}

static void vhost_vdmabuf_unpin(struct dma_buf_attachment *at)
{
	struct vhost_vdmabuf_ctx *ctx =
		vhost_vdmabuf_dmabuf_export(at->dmabuf)->ctx;

	dma_resv_assert_held(at->dmabuf->resv);
	if (atomic_long_dec_and_test(&ctx->nr_pinned))
		wake_up_all(&ctx->unpinned);
}

/* The vma holds the dma-buf's file, which holds the export. */
static vm_fault_t vhost_vdmabuf_vm_fault(struct vm_fault *vmf)
{
	struct vhost_vdmabuf_export *exp = vmf->vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	if (vmf->pgoff >= exp->nr_pages)
		return VM_FAULT_SIGBUS;
	/* A revoke zaps what is inserted before it takes the semaphore. */
	down_read(&exp->revoke_sem);
	if (!exp->revoked)
		ret = vmf_insert_pfn(vmf->vma, vmf->address,
				     page_to_pfn(exp->pages[vmf->pgoff]));
	up_read(&exp->revoke_sem);
	return ret;
}

static const struct vm_operations_struct vhost_vdmabuf_vm_ops = {
	.fault = vhost_vdmabuf_vm_fault,
};

static int vhost_vdmabuf_mmap(struct dma_buf *dmabuf,
			      struct vm_area_struct *vma)
{
	struct vhost_vdmabuf_export *exp = vhost_vdmabuf_dmabuf_export(dmabuf);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* The fault path checks again: a revoke may come after this. */
	if (READ_ONCE(exp->revoked))
		return -ENODEV;
	vma->vm_ops = &vhost_vdmabuf_vm_ops;
	vma->vm_private_data = exp;
	vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	return 0;
}

/*
 * The pages are guest RAM, which the CPU sees coherently through every
 * host mapping, so there is nothing to sync for CPU access.
 * In particular no DMA-API sync on a device of this driver's own: under
 * swiotlb bouncing, mapping copies the pages into a bounce buffer and
 * every sync for the CPU copies that stale copy back over whatever the
 * guest wrote since.  Only a revoke is checked.
 */
static int vhost_vdmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					  enum dma_data_direction dir)
{
	struct vhost_vdmabuf_export *exp = vhost_vdmabuf_dmabuf_export(dmabuf);

	return READ_ONCE(exp->revoked) ? -ENODEV : 0;
}

static void vhost_vdmabuf_dmabuf_release(struct dma_buf *dmabuf)
{
	struct vhost_vdmabuf_dmabuf *vbuf = dmabuf->priv;
	struct vhost_vdmabuf_export *exp = vbuf->exp;
	struct vhost_vdmabuf_ctx *ctx = exp->ctx;
	bool last;

	mutex_lock(&ctx->lock);
	list_del(&vbuf->node);
	exp->nr_dmabufs--;
	ctx->stats.host_dmabufs--;
	last = vhost_vdmabuf_export_last_ref(exp);
	mutex_unlock(&ctx->lock);

	iput(vbuf->inode);
	kfree(vbuf);
	if (last)
		vhost_vdmabuf_export_finish(exp);
}

static const struct dma_buf_ops vhost_vdmabuf_dmabuf_ops = {
	.attach = vhost_vdmabuf_attach,
	.pin = vhost_vdmabuf_pin,
	.unpin = vhost_vdmabuf_unpin,
	.map_dma_buf = vhost_vdmabuf_map_dma_buf,
	.unmap_dma_buf = vhost_vdmabuf_unmap_dma_buf,
	.release = vhost_vdmabuf_dmabuf_release,
	.mmap = vhost_vdmabuf_mmap,
	.begin_cpu_access = vhost_vdmabuf_begin_cpu_access,
};

/* ---------------------------------------------------------------------- */
/* Importer file                                                          */
/* ---------------------------------------------------------------------- */

/*
 * @imp takes part in the live @exp's frames from the next PRESENT on,
 * with @part unless it already does.  Returns @part if unused.
 */
static struct vhost_vdmabuf_part *
vhost_vdmabuf_part_add(struct vhost_vdmabuf_imp *imp,
		       struct vhost_vdmabuf_export *exp,
		       struct vhost_vdmabuf_part *part)
{
	lockdep_assert_held(&imp->ctx->lock);
	if (vhost_vdmabuf_part_find(imp, exp))
		return part;
	part->imp = imp;
	part->exp = exp;
	part->owes = false;
	list_add_tail(&part->inode, &imp->parts);
	list_add_tail(&part->enode, &exp->parts);
	return NULL;
}

/* @imp no longer takes part in @exp's frames, if it did. */
static void vhost_vdmabuf_part_leave(struct vhost_vdmabuf_imp *imp,
				     struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_part *part;

	mutex_lock(&ctx->lock);
	part = vhost_vdmabuf_part_find(imp, exp);
	if (part) {
		vhost_vdmabuf_part_answer(ctx, part);
		vhost_vdmabuf_part_free(part);
	}
	mutex_unlock(&ctx->lock);
}

static long vhost_vdmabuf_importer_import(struct vhost_vdmabuf_imp *imp,
					  void __user *argp)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_import arg;
	struct vhost_vdmabuf_dmabuf *vbuf;
	struct vhost_vdmabuf_part *part;
	struct dma_buf *dmabuf;
	struct vhost_vdmabuf_export *exp;
	struct file *file;
	bool joined;
	int fd, ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~VHOST_VDMABUF_FD_KEEP_ON_EXEC)
		return -EINVAL;

	vbuf = kzalloc(sizeof(*vbuf), GFP_KERNEL_ACCOUNT);
	if (!vbuf)
		return -ENOMEM;
	/* Importing joins the buffer's frames. */
	part = kzalloc(sizeof(*part), GFP_KERNEL_ACCOUNT);
	if (!part) {
		ret = -ENOMEM;
		goto err_free_vbuf;
	}
	fd = get_unused_fd_flags(arg.flags & VHOST_VDMABUF_FD_KEEP_ON_EXEC ?
				 0 : O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_free_part;
	}

	mutex_lock(&ctx->lock);
	exp = vhost_vdmabuf_find(ctx, arg.uuid, true);
	if (!exp) {
		ret = -ENOENT;
		goto err_unlock;
	}
	/*
	 * A dma-buf of its own for every import: see
	 * &struct vhost_vdmabuf_export.
	 */
	info.ops = &vhost_vdmabuf_dmabuf_ops;
	info.size = exp->size;
	info.flags = O_RDWR;
	info.priv = vbuf;
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_unlock;
	}
	file = dmabuf->file;
	vbuf->exp = exp;
	vbuf->dmabuf = dmabuf;
	vbuf->inode = file_inode(file);
	ihold(vbuf->inode);
	list_add_tail(&vbuf->node, &exp->dmabufs);
	exp->nr_dmabufs++;
	ctx->stats.host_dmabufs++;
	arg.size = exp->size;
	vhost_vdmabuf_exported_seen(exp, imp);
	part = vhost_vdmabuf_part_add(imp, exp, part);
	joined = !part;
	mutex_unlock(&ctx->lock);
	kfree(part);

	arg.fd = fd;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		ret = -EFAULT;
		goto err_leave;
	}
	fd_install(fd, file);
	return 0;

err_leave:
	/* A failed IMPORT leaves no part behind: it would owe frames. */
	if (joined)
		vhost_vdmabuf_part_leave(imp, exp);
	fput(file);	/* the release frees @vbuf */
	put_unused_fd(fd);
	return ret;
err_unlock:
	mutex_unlock(&ctx->lock);
	put_unused_fd(fd);
err_free_part:
	kfree(part);
err_free_vbuf:
	kfree(vbuf);
	return ret;
}

static long vhost_vdmabuf_importer_frame_done(struct vhost_vdmabuf_imp *imp,
					      void __user *argp)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_frame_done arg;
	struct vhost_vdmabuf_export *exp;
	struct vhost_vdmabuf_part *part;
	long ret = -ESTALE;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.padding)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	/* A number the device never gave is a caller's bug, not a late one. */
	if (!arg.frame || arg.frame > ctx->last_frame) {
		ret = -EINVAL;
		goto out;
	}
	/* Unexporting finished the frame: an unexported export owes none. */
	exp = vhost_vdmabuf_find(ctx, arg.uuid, true);
	if (!exp) {
		ret = -ENOENT;
		goto out;
	}
	/* Frame numbers are never reused: a late answer matches nothing. */
	if (!exp->frame_pending || exp->frame_no != arg.frame)
		goto out;
	part = vhost_vdmabuf_part_find(imp, exp);
	if (!part || !part->owes)
		goto out;
	vhost_vdmabuf_part_answer(ctx, part);
	ret = 0;
out:
	mutex_unlock(&ctx->lock);
	return ret;
}

/* VHOST_VDMABUF_FRAMES_F_ALL: join every export's frames, or none. */
static void vhost_vdmabuf_importer_all_frames(struct vhost_vdmabuf_imp *imp,
					      bool join)
{
	struct vhost_vdmabuf_part *part, *tmp;

	lockdep_assert_held(&imp->ctx->lock);
	imp->all_frames = join;
	if (join)
		return;
	list_for_each_entry_safe(part, tmp, &imp->parts, inode) {
		vhost_vdmabuf_part_answer(imp->ctx, part);
		vhost_vdmabuf_part_free(part);
	}
}

static long vhost_vdmabuf_importer_frames(struct vhost_vdmabuf_imp *imp,
					  void __user *argp)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_frames arg;
	struct vhost_vdmabuf_part *part = NULL;
	struct vhost_vdmabuf_export *exp;
	bool join, all;
	long ret = 0;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	join = arg.op == VHOST_VDMABUF_FRAMES_JOIN;
	all = arg.flags & VHOST_VDMABUF_FRAMES_F_ALL;
	if ((arg.flags & ~VHOST_VDMABUF_FRAMES_F_ALL) ||
	    (!join && arg.op != VHOST_VDMABUF_FRAMES_LEAVE) ||
	    (all && memchr_inv(arg.uuid, 0, sizeof(arg.uuid))))
		return -EINVAL;
	if (join && !all) {
		part = kzalloc(sizeof(*part), GFP_KERNEL_ACCOUNT);
		if (!part)
			return -ENOMEM;
	}

	mutex_lock(&ctx->lock);
	exp = all ? NULL : vhost_vdmabuf_find(ctx, arg.uuid, true);
	if (all) {
		vhost_vdmabuf_importer_all_frames(imp, join);
	} else if (!exp) {
		ret = -ENOENT;
	} else if (part) {
		part = vhost_vdmabuf_part_add(imp, exp, part);
	} else {
		part = vhost_vdmabuf_part_find(imp, exp);
		if (part) {
			vhost_vdmabuf_part_answer(ctx, part);
			vhost_vdmabuf_part_free(part);
			part = NULL;
		}
	}
	mutex_unlock(&ctx->lock);
	kfree(part);
	return ret;
}

static long vhost_vdmabuf_importer_query(struct vhost_vdmabuf_imp *imp,
					 void __user *argp)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_query arg;
	struct vhost_vdmabuf_export *exp;
	void *meta = NULL;
	long ret = 0;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.padding)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	exp = vhost_vdmabuf_find(ctx, arg.uuid, false);
	if (!exp) {
		mutex_unlock(&ctx->lock);
		return -ENOENT;
	}
	arg.meta_len = exp->meta_len;
	arg.size = exp->size;
	arg.nr_ranges = exp->nr_ranges;
	arg.state = exp->live ? VHOST_VDMABUF_STATE_LIVE :
				VHOST_VDMABUF_STATE_UNEXPORTED;
	arg.last_seq = exp->last_seq;
	arg.last_frame = exp->last_frame;
	if (arg.meta_size && arg.meta_size >= exp->meta_len && exp->meta_len) {
		meta = kmemdup(exp->meta, exp->meta_len, GFP_KERNEL);
		if (!meta)
			ret = -ENOMEM;
	}
	mutex_unlock(&ctx->lock);
	if (ret)
		return ret;

	if (meta && copy_to_user(u64_to_user_ptr(arg.meta_ptr), meta,
				 arg.meta_len))
		ret = -EFAULT;
	kfree(meta);
	if (!ret && copy_to_user(argp, &arg, sizeof(arg)))
		ret = -EFAULT;
	return ret;
}

static long vhost_vdmabuf_importer_ioctl(struct file *file, unsigned int cmd,
					 unsigned long arg)
{
	struct vhost_vdmabuf_imp *imp = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VHOST_VDMABUF_IMPORT:
		return vhost_vdmabuf_importer_import(imp, argp);
	case VHOST_VDMABUF_FRAME_DONE:
		return vhost_vdmabuf_importer_frame_done(imp, argp);
	case VHOST_VDMABUF_QUERY:
		return vhost_vdmabuf_importer_query(imp, argp);
	case VHOST_VDMABUF_FRAMES:
		return vhost_vdmabuf_importer_frames(imp, argp);
	default:
		return -ENOTTY;
	}
}

/*
 * Copy whole records to @buf while they fit: the bytes copied, 0 if none
 * is queued, -EINVAL if the first does not fit.  Under @imp->read_lock.
 * A record stays first in the queue, marked reading, while it is copied,
 * and leaves it only once the copy succeeded: the queue never looks
 * drained with a record in flight, a PRESENT never replaces a record
 * being copied, and one that cannot be copied stays as it was.
 */
static ssize_t vhost_vdmabuf_importer_copy(struct vhost_vdmabuf_imp *imp,
					   char __user *buf, size_t count)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_ievent *iev;
	ssize_t done = 0;
	bool fault, drained;

	lockdep_assert_held(&imp->read_lock);
	for (;;) {
		mutex_lock(&ctx->lock);
		iev = list_first_entry_or_null(&imp->events,
					       struct vhost_vdmabuf_ievent,
					       node);
		if (iev && iev->len <= count - done) {
			iev->reading = true;
		} else if (iev) {
			iev = NULL;
			if (!done)
				done = -EINVAL;
		}
		mutex_unlock(&ctx->lock);
		if (!iev)
			return done;

		/* Still queued while copied: the queue never looks drained. */
		fault = copy_to_user(buf + done, &iev->hdr, iev->len);
		mutex_lock(&ctx->lock);
		iev->reading = false;
		if (!fault) {
			list_del(&iev->node);
			list_del_init(&iev->enode);
			WRITE_ONCE(imp->nr_events, imp->nr_events - 1);
		}
		drained = list_empty(&imp->events) && !ctx->vdb;
		mutex_unlock(&ctx->lock);
		if (fault)
			return done ? done : -EFAULT;
		done += iev->len;
		kfree(iev);
		/* End of file now: wake pollers waiting for EPOLLHUP. */
		if (drained)
			wake_up_interruptible(&imp->wait);
	}
}

/*
 * The VMM has closed the device and @imp has read every event.  Without
 * the table lock, so that poll never sleeps: once @ctx->vdb is NULL
 * nothing is queued again, and the acquire makes every record queued
 * before it count in @imp->nr_events.
 */
static bool vhost_vdmabuf_importer_hup(struct vhost_vdmabuf_imp *imp)
{
	/* Pairs with the smp_store_release() in vhost_vdmabuf_ctx_reset(). */
	return !smp_load_acquire(&imp->ctx->vdb) &&
	       !READ_ONCE(imp->nr_events);
}

static ssize_t vhost_vdmabuf_importer_read(struct file *file, char __user *buf,
					   size_t count, loff_t *ppos)
{
	struct vhost_vdmabuf_imp *imp = file->private_data;
	bool nonblock = file->f_flags & O_NONBLOCK;
	ssize_t ret;

	for (;;) {
		/* A non-blocking reader waits for no event and no reader. */
		if (nonblock) {
			if (!mutex_trylock(&imp->read_lock))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&imp->read_lock)) {
			return -ERESTARTSYS;
		}
		ret = vhost_vdmabuf_importer_copy(imp, buf, count);
		mutex_unlock(&imp->read_lock);
		if (ret)
			return ret;
		if (vhost_vdmabuf_importer_hup(imp))
			return 0;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(imp->wait,
					       READ_ONCE(imp->nr_events) ||
					       !READ_ONCE(imp->ctx->vdb));
		if (ret)
			return ret;
	}
}

static __poll_t vhost_vdmabuf_importer_poll(struct file *file, poll_table *wait)
{
	struct vhost_vdmabuf_imp *imp = file->private_data;

	poll_wait(file, &imp->wait, wait);
	if (READ_ONCE(imp->nr_events))
		return EPOLLIN | EPOLLRDNORM;
	return vhost_vdmabuf_importer_hup(imp) ? EPOLLHUP : 0;
}

static void vhost_vdmabuf_importer_free_events(struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ievent *iev, *tmp;

	lockdep_assert_held(&imp->ctx->lock);
	list_for_each_entry_safe(iev, tmp, &imp->events, node) {
		list_del(&iev->node);
		list_del(&iev->enode);
		kfree(iev);
	}
	imp->nr_events = 0;
}

/* Unlist @imp; what it still owes counts as FRAME_DONE. */
static void vhost_vdmabuf_importer_destroy(struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ctx *ctx = imp->ctx;
	struct vhost_vdmabuf_part *part, *tmp;

	mutex_lock(&ctx->lock);
	list_del(&imp->node);
	ctx->stats.importers--;
	list_for_each_entry_safe(part, tmp, &imp->parts, inode) {
		vhost_vdmabuf_part_answer(ctx, part);
		vhost_vdmabuf_part_free(part);
	}
	vhost_vdmabuf_importer_free_events(imp);
	mutex_unlock(&ctx->lock);

	mutex_destroy(&imp->read_lock);
	kfree(imp);
	vhost_vdmabuf_ctx_put(ctx);
}

static int vhost_vdmabuf_importer_release(struct inode *inode,
					  struct file *file)
{
	vhost_vdmabuf_importer_destroy(file->private_data);
	return 0;
}

static const struct file_operations vhost_vdmabuf_importer_fops = {
	.owner = THIS_MODULE,
	.read = vhost_vdmabuf_importer_read,
	.poll = vhost_vdmabuf_importer_poll,
	.unlocked_ioctl = vhost_vdmabuf_importer_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = vhost_vdmabuf_importer_release,
	.llseek = noop_llseek,
};

static long vhost_vdmabuf_get_importer(struct vhost_vdmabuf *vdb,
				       void __user *argp)
{
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_importer arg;
	struct vhost_vdmabuf_imp *imp;
	struct vhost_vdmabuf_ievent *iev;
	struct vhost_vdmabuf_export *exp;
	struct file *file;
	int fd, ret = 0;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~VHOST_VDMABUF_FD_KEEP_ON_EXEC)
		return -EINVAL;

	imp = kzalloc(sizeof(*imp), GFP_KERNEL_ACCOUNT);
	if (!imp)
		return -ENOMEM;
	imp->ctx = ctx;
	INIT_LIST_HEAD(&imp->events);
	INIT_LIST_HEAD(&imp->parts);
	init_waitqueue_head(&imp->wait);
	mutex_init(&imp->read_lock);

	/* Catch up: an EXPORTED event for every live export. */
	mutex_lock(&ctx->lock);
	if (ctx->stats.importers >= ctx->limits.max_importers) {
		mutex_unlock(&ctx->lock);
		mutex_destroy(&imp->read_lock);
		kfree(imp);
		return -EUSERS;
	}
	kref_get(&ctx->kref);
	list_add_tail(&imp->node, &ctx->importers);
	ctx->stats.importers++;
	list_for_each_entry(exp, &ctx->exports, node) {
		if (!exp->live)
			continue;
		iev = vhost_vdmabuf_exported_alloc(exp);
		if (!iev ||
		    vhost_vdmabuf_export_spares(exp, ctx->stats.importers)) {
			kfree(iev);
			ret = -ENOMEM;
			break;
		}
		vhost_vdmabuf_exported_queue(exp, imp, iev);
	}
	mutex_unlock(&ctx->lock);
	if (ret)
		goto err_destroy;

	fd = get_unused_fd_flags(arg.flags & VHOST_VDMABUF_FD_KEEP_ON_EXEC ?
				 O_RDWR : O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_destroy;
	}
	file = anon_inode_getfile("[vhost-vdmabuf-importer]",
				  &vhost_vdmabuf_importer_fops, imp, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_fd;
	}
	arg.fd = fd;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		put_unused_fd(fd);
		fput(file);	/* the release destroys @imp */
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;

err_fd:
	put_unused_fd(fd);
err_destroy:
	vhost_vdmabuf_importer_destroy(imp);
	return ret;
}

/*
 * Under the table lock: every check of a new export that needs no memory,
 * made before anything is allocated or pinned for it.  Only the request
 * kick handler adds exports and importer events, so the answer stays
 * true until it publishes the export, but for BUSY, which a new importer
 * catching up can make true meanwhile: publishing checks it again.
 */
static u32 vhost_vdmabuf_export_admit(struct vhost_vdmabuf_ctx *ctx,
				      const u8 *uuid, u64 size)
{
	const struct vhost_vdmabuf_limits *lim = &ctx->limits;

	lockdep_assert_held(&ctx->lock);
	if (rhashtable_lookup_fast(&ctx->owned, uuid,
				   vhost_vdmabuf_owned_params))
		return VIRTIO_VDMABUF_S_EXISTS;
	if (ctx->stats.live_exports >= lim->max_exports ||
	    ctx->live_bytes + size > ((u64)lim->max_total_mb << 20))
		return VIRTIO_VDMABUF_S_LIMIT;
	/*
	 * The per-device pin cap covers unexported, still imported buffers;
	 * max_exports bounds how many of them there are.
	 */
	if (ctx->stats.pinned_pages + (size >> PAGE_SHIFT) >
	    ((u64)lim->max_total_mb << (20 - PAGE_SHIFT)) ||
	    ctx->stats.held_exports - ctx->stats.live_exports >=
	    lim->max_exports)
		return VIRTIO_VDMABUF_S_NOMEM;
	if (vhost_vdmabuf_importers_busy(ctx))
		return VIRTIO_VDMABUF_S_BUSY;
	return VIRTIO_VDMABUF_S_OK;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                               */
/* ---------------------------------------------------------------------- */

/*
 * The user address of the guest-physical @addr and the bytes of @len from
 * there that one region of the vhost memory table maps: 0 if @addr is not
 * guest RAM, the region is not read-write, or the piece is not page
 * aligned in the VMM.
 */
static u64 vhost_vdmabuf_gpa_to_uaddr(struct vhost_virtqueue *vq, u64 addr,
				      u64 len, unsigned long *uaddr)
{
	const struct vhost_iotlb_map *map;
	u64 n;

	map = vhost_iotlb_itree_first(vq->umem, addr, addr);
	if (!map || map->start > addr ||
	    (map->perm & VHOST_MAP_RW) != VHOST_MAP_RW)
		return 0;
	/* map->last - addr + 1 may wrap for a 2^64 region. */
	n = map->last - addr >= len - 1 ? len : map->last - addr + 1;
	*uaddr = map->addr + (addr - map->start);
	if (!PAGE_ALIGNED(*uaddr) || !PAGE_ALIGNED(n))
		return 0;
	return n;
}

/* True if every byte of @ranges is guest RAM the VMM maps read-write. */
static bool
vhost_vdmabuf_ranges_in_ram(struct vhost_virtqueue *vq,
			    const struct virtio_vdmabuf_range *ranges,
			    u32 nr_ranges)
{
	unsigned long uaddr;
	u64 addr, len, n;
	u32 i;

	if (!vq->umem)
		return false;
	for (i = 0; i < nr_ranges; i++) {
		addr = le64_to_cpu(ranges[i].addr);
		len = le64_to_cpu(ranges[i].len);
		while (len) {
			n = vhost_vdmabuf_gpa_to_uaddr(vq, addr, len, &uaddr);
			if (!n)
				return false;
			addr += n;
			len -= n;
		}
		cond_resched();
	}
	return true;
}

/*
 * Whether guest RAM at [@start, @end) of @mm can outlive the VMM: a
 * shared mapping of a file that others can open by name (a tmpfs or
 * hugetlbfs file under a mount point), which a next VM may map again.
 * memfd and shared anonymous memory live on internal (kern_mount) mounts:
 * no one can open them by name, only through an fd or a mapping the VMM
 * handed out.  Not caught: System V shared memory, also on an internal
 * mount but attachable again by its key.
 */
static bool vhost_vdmabuf_ram_outlives_vmm(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	struct vm_area_struct *vma;
	struct vma_iterator vmi;

	mmap_assert_locked(mm);
	vma_iter_init(&vmi, mm, start);
	for_each_vma_range(vmi, vma, end) {
		if (vma->vm_file && (vma->vm_flags & VM_SHARED) &&
		    !(file_inode(vma->vm_file)->i_sb->s_flags & SB_KERNMOUNT))
			return true;
	}
	return false;
}

/*
 * Pin @npages from @uaddr in @mm into @pages, VDMABUF_PIN_BATCH at a time;
 * set *@outlives if any of them can outlive the VMM.
 */
static int vhost_vdmabuf_pin_user(struct mm_struct *mm, unsigned long uaddr,
				  unsigned long npages, struct page **pages,
				  unsigned long *nr_pinned, bool *outlives)
{
	unsigned long n;
	long pinned;

	while (npages) {
		n = min(npages, VDMABUF_PIN_BATCH);
		mmap_read_lock(mm);
		pinned = pin_user_pages_remote(mm, uaddr, n, VDMABUF_FOLL,
					       pages + *nr_pinned, NULL);
		if (pinned > 0 &&
		    vhost_vdmabuf_ram_outlives_vmm(mm, uaddr, uaddr +
						   (pinned << PAGE_SHIFT)))
			*outlives = true;
		mmap_read_unlock(mm);
		if (pinned <= 0)
			return pinned ? pinned : -EFAULT;
		*nr_pinned += pinned;
		npages -= pinned;
		uaddr += pinned << PAGE_SHIFT;
		cond_resched();
	}
	return 0;
}

/*
 * Pin the pages of @ranges, checked by vhost_vdmabuf_ranges_in_ram(), in @mm
 * into @pages; *@nr_pinned counts them, also on error, for the unpin.
 * *@outlives is set if any of them can outlive the VMM.
 */
static int vhost_vdmabuf_pin_ranges(struct vhost_virtqueue *vq,
				    const struct virtio_vdmabuf_range *ranges,
				    u32 nr_ranges, struct mm_struct *mm,
				    struct page **pages,
				    unsigned long *nr_pinned, bool *outlives)
{
	unsigned long uaddr;
	u64 addr, len, n;
	int ret;
	u32 i;

	if (!vq->umem)
		return -EFAULT;
	for (i = 0; i < nr_ranges; i++) {
		addr = le64_to_cpu(ranges[i].addr);
		len = le64_to_cpu(ranges[i].len);
		while (len) {
			n = vhost_vdmabuf_gpa_to_uaddr(vq, addr, len, &uaddr);
			if (!n)
				return -EFAULT;
			ret = vhost_vdmabuf_pin_user(mm, uaddr, n >> PAGE_SHIFT,
						     pages, nr_pinned,
						     outlives);
			if (ret)
				return ret;
			addr += n;
			len -= n;
		}
	}
	return 0;
}

static int vhost_vdmabuf_range_cmp(const void *a, const void *b)
{
	u64 x = le64_to_cpu(((const struct virtio_vdmabuf_range *)a)->addr);
	u64 y = le64_to_cpu(((const struct virtio_vdmabuf_range *)b)->addr);

	return x < y ? -1 : x > y;
}

/*
 * INVALID if two of @ranges, already checked for alignment and overflow,
 * overlap: each would pin the shared pages again.  Sorted by address, if
 * any two ranges overlap, two neighbours do.
 */
static u32
vhost_vdmabuf_check_overlap(const struct virtio_vdmabuf_range *ranges,
			    u32 nr_ranges)
{
	struct virtio_vdmabuf_range *sorted;
	u32 i, status = VIRTIO_VDMABUF_S_OK;

	if (nr_ranges < 2)
		return VIRTIO_VDMABUF_S_OK;
	sorted = kvmemdup(ranges, array_size(nr_ranges, sizeof(*ranges)),
			  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!sorted)
		return VIRTIO_VDMABUF_S_NOMEM;
	sort(sorted, nr_ranges, sizeof(*sorted), vhost_vdmabuf_range_cmp, NULL);
	for (i = 1; i < nr_ranges; i++) {
		if (le64_to_cpu(sorted[i].addr) <
		    le64_to_cpu(sorted[i - 1].addr) +
		    le64_to_cpu(sorted[i - 1].len)) {
			status = VIRTIO_VDMABUF_S_INVALID;
			break;
		}
	}
	kvfree(sorted);
	return status;
}

static u32 vhost_vdmabuf_check_ranges(const struct virtio_vdmabuf_range *ranges,
				      u32 nr_ranges, u64 size)
{
	u64 addr, len, end, sum = 0;
	u32 i;

	for (i = 0; i < nr_ranges; i++) {
		addr = le64_to_cpu(ranges[i].addr);
		len = le64_to_cpu(ranges[i].len);
		if (!IS_ALIGNED(addr, VIRTIO_VDMABUF_PAGE_SIZE) ||
		    !IS_ALIGNED(len, VIRTIO_VDMABUF_PAGE_SIZE) || !len ||
		    check_add_overflow(addr, len, &end) ||
		    check_add_overflow(sum, len, &sum))
			return VIRTIO_VDMABUF_S_INVALID;
	}
	if (sum != size)
		return VIRTIO_VDMABUF_S_INVALID;
	return vhost_vdmabuf_check_overlap(ranges, nr_ranges);
}

/**
 * struct vhost_vdmabuf_export_req - an EXPORT request while it is admitted
 * @size: bytes
 * @nr_ranges: entries at @ranges
 * @meta_len: metadata bytes
 * @ranges: the guest's ranges, copied in (freed when the request ends)
 */
struct vhost_vdmabuf_export_req {
	u64 size;
	u32 nr_ranges;
	u32 meta_len;
	struct virtio_vdmabuf_range *ranges;
};

/*
 * The fixed part of EXPORT, checked before anything is computed from its
 * counts or read after it.
 */
static u32 vhost_vdmabuf_export_parse(const struct vhost_vdmabuf_limits *lim,
				      const struct virtio_vdmabuf_req_hdr *hdr,
				      struct iov_iter *from, size_t len,
				      struct vhost_vdmabuf_export_req *er)
{
	struct virtio_vdmabuf_export_req req;

	if (hdr->flags)
		return VIRTIO_VDMABUF_S_INVALID;
	if (!memchr_inv(hdr->uuid, 0, sizeof(hdr->uuid)))
		return VIRTIO_VDMABUF_S_INVALID;
	if (len < sizeof(req))
		return VIRTIO_VDMABUF_S_INVALID;
	if (!copy_from_iter_full(&req.size, sizeof(req) - sizeof(*hdr), from))
		return VIRTIO_VDMABUF_S_INVALID;
	er->size = le64_to_cpu(req.size);
	er->nr_ranges = le32_to_cpu(req.nr_ranges);
	er->meta_len = le32_to_cpu(req.meta_len);

	if (!er->nr_ranges)
		return VIRTIO_VDMABUF_S_INVALID;
	if (er->nr_ranges > lim->max_ranges ||
	    er->meta_len > lim->max_meta_len)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (len != sizeof(req) + (u64)er->nr_ranges *
		   sizeof(*er->ranges) + er->meta_len)
		return VIRTIO_VDMABUF_S_INVALID;
	if (!er->size || !IS_ALIGNED(er->size, VIRTIO_VDMABUF_PAGE_SIZE))
		return VIRTIO_VDMABUF_S_INVALID;
	if (er->size > (u64)lim->max_export_mb << 20)
		return VIRTIO_VDMABUF_S_LIMIT;
	return VIRTIO_VDMABUF_S_OK;
}

/* Copy in and check the ranges, and copy the metadata into @exp. */
static u32 vhost_vdmabuf_export_copy_in(struct vhost_vdmabuf_export *exp,
					struct vhost_vdmabuf_export_req *er,
					struct iov_iter *from)
{
	u32 status;

	er->ranges = kvmalloc_array(er->nr_ranges, sizeof(*er->ranges),
				    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!er->ranges)
		return VIRTIO_VDMABUF_S_NOMEM;
	if (!copy_from_iter_full(er->ranges,
				 er->nr_ranges * sizeof(*er->ranges), from))
		return VIRTIO_VDMABUF_S_INVALID;
	status = vhost_vdmabuf_check_ranges(er->ranges, er->nr_ranges,
					    er->size);
	if (status || !er->meta_len)
		return status;
	exp->meta = kmalloc(er->meta_len, GFP_KERNEL_ACCOUNT);
	if (!exp->meta)
		return VIRTIO_VDMABUF_S_NOMEM;
	if (!copy_from_iter_full(exp->meta, er->meta_len, from))
		return VIRTIO_VDMABUF_S_INVALID;
	exp->meta_len = er->meta_len;
	return VIRTIO_VDMABUF_S_OK;
}

/*
 * Charge the owner's user for the pages of @er and pin them into @exp;
 * undone with vhost_vdmabuf_export_unpin_unpublished().
 */
static u32 vhost_vdmabuf_export_pin(struct vhost_vdmabuf *vdb,
				    struct vhost_virtqueue *vq,
				    struct vhost_vdmabuf_export *exp,
				    const struct vhost_vdmabuf_export_req *er)
{
	unsigned long nr_pages = er->size >> PAGE_SHIFT;
	struct mm_struct *mm = vdb->dev.mm;
	int ret;

	exp->pages = kvmalloc_array(nr_pages, sizeof(*exp->pages),
				    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	exp->released_ev = vhost_vdmabuf_gevent_alloc();
	if (!exp->pages || !exp->released_ev)
		return VIRTIO_VDMABUF_S_NOMEM;
	if (!mm || !vdb->owner || !mmget_not_zero(mm))
		return VIRTIO_VDMABUF_S_NOMEM;
	if (vhost_vdmabuf_charge(vdb->user, vdb->owner, nr_pages))
		goto err_mmput;
	ret = vhost_vdmabuf_pin_ranges(vq, er->ranges, er->nr_ranges, mm,
				       exp->pages, &exp->nr_pages,
				       &exp->outlives_vmm);
	if (ret || exp->nr_pages != nr_pages)
		goto err_unpin;
	mmput(mm);
	return VIRTIO_VDMABUF_S_OK;

err_unpin:
	unpin_user_pages(exp->pages, exp->nr_pages);
	vhost_vdmabuf_uncharge(vdb->user, nr_pages);
err_mmput:
	mmput(mm);
	return VIRTIO_VDMABUF_S_NOMEM;
}

static void
vhost_vdmabuf_export_unpin_unpublished(struct vhost_vdmabuf *vdb,
				       struct vhost_vdmabuf_export *exp)
{
	unpin_user_pages(exp->pages, exp->nr_pages);
	vhost_vdmabuf_uncharge(vdb->user, exp->nr_pages);
}

/* Free an export that was never published. */
static void
vhost_vdmabuf_export_free_unpublished(struct vhost_vdmabuf_export *exp)
{
	kfree(exp->released_ev);
	kvfree(exp->pages);
	kfree(exp->meta);
	kfree(exp);
}

/* Under the table lock: tell every importer, then make @exp live. */
static u32 vhost_vdmabuf_export_publish(struct vhost_vdmabuf *vdb,
					struct vhost_vdmabuf_export *exp,
					const u8 *uuid, u64 size, u32 nr_ranges)
{
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	u32 i, n = ctx->stats.importers;
	struct vhost_vdmabuf_ievent **ievs;
	struct vhost_vdmabuf_imp *imp;
	int ret = -ENOMEM;

	lockdep_assert_held(&ctx->lock);
	if (vhost_vdmabuf_importers_busy(ctx))
		return VIRTIO_VDMABUF_S_BUSY;
	memcpy(exp->uuid, uuid, sizeof(exp->uuid));
	exp->size = size;
	exp->nr_ranges = nr_ranges;
	ievs = kcalloc(n, sizeof(*ievs), GFP_KERNEL_ACCOUNT);
	if (!ievs && n)
		return VIRTIO_VDMABUF_S_NOMEM;
	for (i = 0; i < n; i++) {
		ievs[i] = vhost_vdmabuf_exported_alloc(exp);
		if (!ievs[i])
			goto err_ievs;
	}
	if (vhost_vdmabuf_export_spares(exp, n))
		goto err_ievs;
	/* vhost_vdmabuf_export_admit() checked the UUID; so does this. */
	ret = rhashtable_lookup_insert_fast(&ctx->owned, &exp->hnode,
					    vhost_vdmabuf_owned_params);
	if (ret)
		goto err_ievs;
	i = 0;
	list_for_each_entry(imp, &ctx->importers, node)
		vhost_vdmabuf_exported_queue(exp, imp, ievs[i++]);
	kfree(ievs);

	exp->ctx = ctx;
	kref_get(&ctx->kref);
	exp->mm = vdb->dev.mm;
	mmgrab(exp->mm);
	atomic64_add(exp->nr_pages, &exp->mm->pinned_vm);
	if (vdb->user) {
		exp->user = get_uid(vdb->user);
		ctx->stats.charged_pages += exp->nr_pages;
	}
	INIT_LIST_HEAD(&exp->parts);
	INIT_LIST_HEAD(&exp->presented);
	INIT_LIST_HEAD(&exp->dmabufs);
	init_rwsem(&exp->revoke_sem);
	exp->live = true;
	exp->guest_owned = true;
	list_add_tail(&exp->node, &ctx->exports);
	ctx->stats.live_exports++;
	ctx->stats.held_exports++;
	ctx->stats.pinned_pages += exp->nr_pages;
	ctx->live_bytes += size;
	return VIRTIO_VDMABUF_S_OK;

err_ievs:
	while (i--)
		kfree(ievs[i]);
	kfree(ievs);
	vhost_vdmabuf_export_free_spares(exp);
	return ret == -EEXIST ? VIRTIO_VDMABUF_S_EXISTS :
				VIRTIO_VDMABUF_S_NOMEM;
}

/*
 * EXPORT: parse, admit, copy in, check the ranges are guest RAM, pin, and
 * publish.  Each step undoes its own partial work; this function undoes
 * the earlier steps.  *@work gets the bytes it pinned or tried to, for the
 * kick handler's weight.
 */
static u32 vhost_vdmabuf_req_export(struct vhost_vdmabuf *vdb,
				    struct vhost_virtqueue *vq,
				    const struct virtio_vdmabuf_req_hdr *hdr,
				    struct iov_iter *from, size_t len,
				    u64 *work)
{
	struct vhost_vdmabuf_export_req er = {};
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_export *exp;
	u32 status;

	status = vhost_vdmabuf_export_parse(&ctx->limits, hdr, from, len, &er);
	if (status)
		return status;
	mutex_lock(&ctx->lock);
	status = vhost_vdmabuf_export_admit(ctx, hdr->uuid, er.size);
	mutex_unlock(&ctx->lock);
	if (status)
		return status;

	exp = kzalloc(sizeof(*exp), GFP_KERNEL_ACCOUNT);
	if (!exp)
		return VIRTIO_VDMABUF_S_NOMEM;
	INIT_LIST_HEAD(&exp->spare_unexported);
	INIT_LIST_HEAD(&exp->exported);
	status = vhost_vdmabuf_export_copy_in(exp, &er, from);
	if (status)
		goto err_free;
	if (!vhost_vdmabuf_ranges_in_ram(vq, er.ranges, er.nr_ranges)) {
		status = VIRTIO_VDMABUF_S_FAULT;
		goto err_free;
	}
	*work = er.size;
	status = vhost_vdmabuf_export_pin(vdb, vq, exp, &er);
	if (status)
		goto err_free;

	mutex_lock(&ctx->lock);
	status = vhost_vdmabuf_export_publish(vdb, exp, hdr->uuid, er.size,
					      er.nr_ranges);
	mutex_unlock(&ctx->lock);
	if (status)
		goto err_unpin;
	kvfree(er.ranges);
	return VIRTIO_VDMABUF_S_OK;

err_unpin:
	vhost_vdmabuf_export_unpin_unpublished(vdb, exp);
err_free:
	kvfree(er.ranges);
	vhost_vdmabuf_export_free_unpublished(exp);
	return status;
}

static u32 vhost_vdmabuf_req_unexport(struct vhost_vdmabuf *vdb,
				      const struct virtio_vdmabuf_req_hdr *hdr,
				      size_t len)
{
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_export *exp;
	bool last;

	if (hdr->flags || len != sizeof(*hdr))
		return VIRTIO_VDMABUF_S_INVALID;

	mutex_lock(&ctx->lock);
	exp = vhost_vdmabuf_find(ctx, hdr->uuid, true);
	if (!exp || !exp->guest_owned) {
		mutex_unlock(&ctx->lock);
		return VIRTIO_VDMABUF_S_NOENT;
	}
	vhost_vdmabuf_unexport(ctx, exp, true);
	last = vhost_vdmabuf_export_last_ref(exp);
	mutex_unlock(&ctx->lock);

	if (last)
		vhost_vdmabuf_export_finish(exp);
	return VIRTIO_VDMABUF_S_OK;
}

/* The unread PRESENTED of @exp that a new one for @imp would replace. */
static struct vhost_vdmabuf_ievent *
vhost_vdmabuf_presented_replaceable(struct vhost_vdmabuf_export *exp,
				    struct vhost_vdmabuf_imp *imp)
{
	struct vhost_vdmabuf_ievent *iev =
		vhost_vdmabuf_presented_find(exp, imp);

	return iev && !iev->reading ? iev : NULL;
}

/*
 * An importer's queue is full, and @exp's new PRESENTED would not replace
 * an unread one there: a queue never grows by a frame it already holds.
 */
static bool vhost_vdmabuf_present_busy(struct vhost_vdmabuf_ctx *ctx,
				       struct vhost_vdmabuf_export *exp)
{
	struct vhost_vdmabuf_imp *imp;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry(imp, &ctx->importers, node)
		if (imp->nr_events >= ctx->limits.max_importer_events &&
		    !vhost_vdmabuf_presented_replaceable(exp, imp))
			return true;
	return false;
}

/*
 * A PRESENTED record of @exp's frame @seq with the damage @rects, after
 * that of the unread record @old it replaces, if any: the whole buffer (no
 * rectangles) if either is whole or both do not fit.
 */
static struct vhost_vdmabuf_ievent *
vhost_vdmabuf_presented_alloc(struct vhost_vdmabuf_export *exp,
			      const struct vhost_vdmabuf_ievent *old,
			      const struct vhost_vdmabuf_rect *rects,
			      u32 nr_rects, u64 seq)
{
	u32 old_len = old ? old->hdr.payload_len : 0;
	u32 len = nr_rects * sizeof(*rects);
	struct vhost_vdmabuf_ievent *iev;

	if ((old && !old_len) || !len ||
	    old_len + len > VIRTIO_VDMABUF_MAX_RECTS * sizeof(*rects)) {
		old_len = 0;
		len = 0;
	}
	iev = vhost_vdmabuf_ievent_alloc(VHOST_VDMABUF_EVENT_PRESENTED, exp,
					 NULL, old_len + len, seq,
					 GFP_KERNEL_ACCOUNT);
	if (!iev)
		return NULL;
	if (old_len)
		memcpy(iev->payload, old->payload, old_len);
	memcpy(iev->payload + old_len, rects, len);
	/* Saturates: a reader that never reads must not see it wrap. */
	iev->hdr.nr_frames = !old ? 1 : old->hdr.nr_frames == U32_MAX ?
			     U32_MAX : old->hdr.nr_frames + 1;
	return iev;
}

/*
 * Queue @iev, the PRESENTED of @exp's new frame, for @imp in place of its
 * unread one; @imp owes FRAME_DONE if it takes part in the frames, with
 * @part, if not NULL, if it joined all frames and had none for @exp.
 */
static void vhost_vdmabuf_presented_queue(struct vhost_vdmabuf_export *exp,
					  struct vhost_vdmabuf_imp *imp,
					  struct vhost_vdmabuf_ievent *iev,
					  struct vhost_vdmabuf_part *part)
{
	struct vhost_vdmabuf_ievent *old =
		vhost_vdmabuf_presented_find(exp, imp);

	if (part)
		kfree(vhost_vdmabuf_part_add(imp, exp, part));
	part = vhost_vdmabuf_part_find(imp, exp);
	iev->hdr.frame = exp->frame_no;
	if (part) {
		part->owes = true;
		exp->nr_owing++;
		iev->hdr.flags = VHOST_VDMABUF_EVENT_F_OWED;
	}
	/* One being read is delivered as it is, followed by the new one. */
	if (old && old->reading)
		list_del_init(&old->enode);
	else if (old)
		vhost_vdmabuf_ievent_drop(old);
	vhost_vdmabuf_importer_queue(imp, iev);
	list_add_tail(&iev->enode, &exp->presented);
}

/* Read @nr_rects damage rectangles into @rects, in host byte order. */
static bool vhost_vdmabuf_read_rects(struct iov_iter *from,
				     struct vhost_vdmabuf_rect *rects,
				     u32 nr_rects)
{
	struct virtio_vdmabuf_rect r;
	u32 i;

	for (i = 0; i < nr_rects; i++) {
		if (!copy_from_iter_full(&r, sizeof(r), from))
			return false;
		rects[i].x = le32_to_cpu(r.x);
		rects[i].y = le32_to_cpu(r.y);
		rects[i].width = le32_to_cpu(r.width);
		rects[i].height = le32_to_cpu(r.height);
	}
	return true;
}

/*
 * What a PRESENT of @exp needs for each of @n importers, allocated before
 * anything changes: the PRESENTED record, and a part for an importer that
 * joined all frames and has none for @exp yet.
 */
struct vhost_vdmabuf_present_mem {
	struct vhost_vdmabuf_gevent *gev;
	struct vhost_vdmabuf_ievent **ievs;
	struct vhost_vdmabuf_part **parts;
	u32 n;
};

static bool vhost_vdmabuf_present_alloc(struct vhost_vdmabuf_ctx *ctx,
					struct vhost_vdmabuf_export *exp,
					const struct vhost_vdmabuf_rect *rects,
					u32 nr_rects, u64 seq,
					struct vhost_vdmabuf_present_mem *m)
{
	struct vhost_vdmabuf_ievent *old;
	struct vhost_vdmabuf_imp *imp;
	u32 i = 0;

	lockdep_assert_held(&ctx->lock);
	m->n = ctx->stats.importers;
	m->gev = vhost_vdmabuf_gevent_alloc();
	m->ievs = kcalloc(m->n, sizeof(*m->ievs), GFP_KERNEL_ACCOUNT);
	m->parts = kcalloc(m->n, sizeof(*m->parts), GFP_KERNEL_ACCOUNT);
	if (!m->gev || (m->n && (!m->ievs || !m->parts)))
		return false;
	list_for_each_entry(imp, &ctx->importers, node) {
		old = vhost_vdmabuf_presented_replaceable(exp, imp);
		m->ievs[i] = vhost_vdmabuf_presented_alloc(exp, old, rects,
							   nr_rects, seq);
		if (!m->ievs[i])
			return false;
		if (imp->all_frames && !vhost_vdmabuf_part_find(imp, exp)) {
			m->parts[i] = kzalloc(sizeof(*m->parts[i]),
					      GFP_KERNEL_ACCOUNT);
			if (!m->parts[i])
				return false;
		}
		i++;
	}
	return true;
}

static void vhost_vdmabuf_present_free(struct vhost_vdmabuf_present_mem *m)
{
	u32 i;

	for (i = 0; i < m->n && m->ievs && m->parts; i++) {
		kfree(m->ievs[i]);
		kfree(m->parts[i]);
	}
	kfree(m->parts);
	kfree(m->ievs);
	kfree(m->gev);
}

static u32 vhost_vdmabuf_req_present(struct vhost_vdmabuf *vdb,
				     struct vhost_virtqueue *vq,
				     const struct virtio_vdmabuf_req_hdr *hdr,
				     struct iov_iter *from, size_t len)
{
	struct vhost_vdmabuf_rect rects[VIRTIO_VDMABUF_MAX_RECTS];
	struct virtio_vdmabuf_present_req req;
	struct vhost_vdmabuf_present_mem m = {};
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_imp *imp;
	struct vhost_vdmabuf_export *exp;
	u32 nr_rects, status, i;
	u64 seq;

	if (!vhost_has_feature(vq, VIRTIO_VDMABUF_F_PRESENT))
		return VIRTIO_VDMABUF_S_UNSUPPORTED;
	if (len < sizeof(req))
		return VIRTIO_VDMABUF_S_INVALID;
	req.hdr = *hdr;
	if (!copy_from_iter_full(&req.seq, sizeof(req) - sizeof(*hdr), from))
		return VIRTIO_VDMABUF_S_INVALID;
	if (hdr->flags || req.padding)
		return VIRTIO_VDMABUF_S_INVALID;
	nr_rects = le32_to_cpu(req.nr_rects);
	seq = le64_to_cpu(req.seq);

	mutex_lock(&ctx->lock);
	exp = vhost_vdmabuf_find(ctx, hdr->uuid, true);
	mutex_unlock(&ctx->lock);
	if (!exp || !exp->guest_owned)
		return VIRTIO_VDMABUF_S_NOENT;
	if (nr_rects > ctx->limits.max_rects)
		return VIRTIO_VDMABUF_S_LIMIT;
	if (len != sizeof(req) + nr_rects * sizeof(struct virtio_vdmabuf_rect))
		return VIRTIO_VDMABUF_S_INVALID;
	if (!vhost_vdmabuf_read_rects(from, rects, nr_rects))
		return VIRTIO_VDMABUF_S_INVALID;

	/* The export stays live: only this kick handler unexports. */
	mutex_lock(&ctx->lock);
	if (vhost_vdmabuf_present_busy(ctx, exp) ||
	    ctx->nr_guest_events >= ctx->limits.max_guest_events) {
		status = VIRTIO_VDMABUF_S_BUSY;
		goto out;
	}
	status = VIRTIO_VDMABUF_S_NOMEM;
	if (!vhost_vdmabuf_present_alloc(ctx, exp, rects, nr_rects, seq, &m))
		goto out;

	vhost_vdmabuf_frame_finish(ctx, exp, VIRTIO_VDMABUF_EVT_F_REPLACED,
				   true);
	exp->frame_pending = true;
	exp->frame_seq = seq;
	exp->frame_no = ++ctx->last_frame;
	exp->frame_ev = m.gev;
	exp->last_seq = seq;
	exp->last_frame = exp->frame_no;
	m.gev = NULL;
	i = 0;
	list_for_each_entry(imp, &ctx->importers, node) {
		vhost_vdmabuf_presented_queue(exp, imp, m.ievs[i], m.parts[i]);
		m.ievs[i] = NULL;
		m.parts[i++] = NULL;
	}
	/* No importer takes part: the frame is done. */
	if (!exp->nr_owing)
		vhost_vdmabuf_frame_finish(ctx, exp, 0, true);
	status = VIRTIO_VDMABUF_S_OK;
out:
	mutex_unlock(&ctx->lock);
	vhost_vdmabuf_present_free(&m);
	return status;
}

/* One request; *@work gets the bytes it pinned beyond its own length. */
static u32 vhost_vdmabuf_request(struct vhost_vdmabuf *vdb,
				 struct vhost_virtqueue *vq,
				 struct iov_iter *from, size_t len, u64 *work)
{
	struct virtio_vdmabuf_req_hdr hdr;

	if (len < sizeof(hdr) || !copy_from_iter_full(&hdr, sizeof(hdr), from))
		return VIRTIO_VDMABUF_S_INVALID;

	switch (le32_to_cpu(hdr.type)) {
	case VIRTIO_VDMABUF_REQ_EXPORT:
		return vhost_vdmabuf_req_export(vdb, vq, &hdr, from, len, work);
	case VIRTIO_VDMABUF_REQ_UNEXPORT:
		return vhost_vdmabuf_req_unexport(vdb, &hdr, len);
	case VIRTIO_VDMABUF_REQ_PRESENT:
		return vhost_vdmabuf_req_present(vdb, vq, &hdr, from, len);
	default:
		return VIRTIO_VDMABUF_S_UNSUPPORTED;
	}
}

static void vhost_vdmabuf_handle_requests(struct vhost_vdmabuf *vdb,
					  struct vhost_virtqueue *vq)
{
	struct virtio_vdmabuf_resp resp = {};
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	size_t out_len, in_len;
	u64 total = 0, pinned;
	unsigned int out, in;
	struct iov_iter iter;
	bool added = false;
	int head, pkts = 0;
	u32 status;
	int used;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq))
		goto out;

	vhost_disable_notify(&vdb->dev, vq);
	do {
		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, NULL, NULL);
		if (head < 0)
			break;
		if (head == vq->num) {
			if (unlikely(vhost_enable_notify(&vdb->dev, vq))) {
				vhost_disable_notify(&vdb->dev, vq);
				continue;
			}
			break;
		}

		out_len = iov_length(vq->iov, out);
		in_len = iov_length(&vq->iov[out], in);
		used = 0;
		pinned = 0;
		if (in_len < sizeof(resp)) {
			/* Nowhere to put a status: return it unanswered. */
			vq_err(vq, "vdmabuf: request without room for status\n");
			status = VIRTIO_VDMABUF_S_INVALID;
		} else {
			iov_iter_init(&iter, ITER_SOURCE, vq->iov, out,
				      out_len);
			status = vhost_vdmabuf_request(vdb, vq, &iter, out_len,
						       &pinned);
			resp.status = cpu_to_le32(status);
			iov_iter_init(&iter, ITER_DEST, &vq->iov[out], in,
				      in_len);
			if (copy_to_iter(&resp, sizeof(resp), &iter) ==
			    sizeof(resp))
				used = sizeof(resp);
		}

		mutex_lock(&ctx->lock);
		ctx->stats.requests++;
		if (status != VIRTIO_VDMABUF_S_OK || !used)
			ctx->stats.bad_requests++;
		mutex_unlock(&ctx->lock);

		vhost_add_used(vq, head, used);
		added = true;
		/*
		 * Pinning is the work of an EXPORT: a kick pins about
		 * VHOST_VDMABUF_WEIGHT bytes plus one export at most.
		 */
		total = min_t(u64, total + out_len + pinned, INT_MAX);
	} while (likely(!vhost_exceeds_weight(vq, ++pkts, total)));

	if (added)
		vhost_signal(&vdb->dev, vq);
out:
	mutex_unlock(&vq->mutex);
}

/* Move queued guest events into the guest's event buffers. */
static void vhost_vdmabuf_send_events(struct vhost_vdmabuf *vdb)
{
	struct vhost_virtqueue *vq = &vdb->vqs[VIRTIO_VDMABUF_VQ_EVENT];
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_gevent *gev;
	unsigned int out, in;
	struct iov_iter iter;
	bool added = false;
	int head, pkts = 0;
	size_t in_len;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq))
		goto out;

	vhost_disable_notify(&vdb->dev, vq);
	do {
		/*
		 * Only this function dequeues while the backend is set;
		 * resets discard the queue only after clearing it.
		 */
		mutex_lock(&ctx->lock);
		gev = list_first_entry_or_null(&ctx->guest_events,
					       struct vhost_vdmabuf_gevent,
					       node);
		mutex_unlock(&ctx->lock);
		if (!gev)
			break;

		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, NULL, NULL);
		if (head < 0)
			break;
		if (head == vq->num) {
			if (unlikely(vhost_enable_notify(&vdb->dev, vq))) {
				vhost_disable_notify(&vdb->dev, vq);
				continue;
			}
			break;
		}

		in_len = iov_length(&vq->iov[out], in);
		if (out || in_len < sizeof(gev->ev)) {
			vq_err(vq, "vdmabuf: bad event buffer\n");
			vhost_add_used(vq, head, 0);
			added = true;
			continue;
		}
		iov_iter_init(&iter, ITER_DEST, &vq->iov[out], in, in_len);
		if (copy_to_iter(&gev->ev, sizeof(gev->ev), &iter) !=
		    sizeof(gev->ev)) {
			vq_err(vq, "vdmabuf: faulting event buffer\n");
			vhost_add_used(vq, head, 0);
			added = true;
			continue;
		}

		mutex_lock(&ctx->lock);
		list_del(&gev->node);
		ctx->nr_guest_events--;
		mutex_unlock(&ctx->lock);
		kfree(gev);

		vhost_add_used(vq, head, sizeof(struct virtio_vdmabuf_event));
		added = true;
	} while (likely(!vhost_exceeds_weight(vq, ++pkts, 0)));

	if (added)
		vhost_signal(&vdb->dev, vq);
out:
	mutex_unlock(&vq->mutex);
}

/*
 * The works, run by the vhost worker: charged to the owner's memcg (see
 * struct vhost_vdmabuf).  Only while the device has an owner are they
 * queued, and none runs once vhost_dev_cleanup() or
 * vhost_dev_reset_owner() returned, before @memcg is put.
 */
static void vhost_vdmabuf_handle_req_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);
	struct vhost_vdmabuf *vdb = container_of(vq->dev, struct vhost_vdmabuf,
						 dev);
	struct mem_cgroup *old = set_active_memcg(vdb->memcg);

	vhost_vdmabuf_handle_requests(vdb, vq);
	set_active_memcg(old);
}

static void vhost_vdmabuf_handle_event_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);
	struct vhost_vdmabuf *vdb = container_of(vq->dev, struct vhost_vdmabuf,
						 dev);
	struct mem_cgroup *old = set_active_memcg(vdb->memcg);

	vhost_vdmabuf_send_events(vdb);
	set_active_memcg(old);
}

static void vhost_vdmabuf_event_work(struct vhost_work *work)
{
	struct vhost_vdmabuf *vdb = container_of(work, struct vhost_vdmabuf,
						 event_work);
	struct mem_cgroup *old = set_active_memcg(vdb->memcg);

	vhost_vdmabuf_send_events(vdb);
	set_active_memcg(old);
}

/* ---------------------------------------------------------------------- */
/* /dev/vhost-vdmabuf                                                     */
/* ---------------------------------------------------------------------- */

static int vhost_vdmabuf_start(struct vhost_vdmabuf *vdb)
{
	struct vhost_virtqueue *vq;
	int i, ret;

	lockdep_assert_held(&vdb->dev.mutex);
	for (i = 0; i < ARRAY_SIZE(vdb->vqs); i++) {
		vq = &vdb->vqs[i];
		mutex_lock(&vq->mutex);
		if (!vhost_vq_access_ok(vq)) {
			ret = -EFAULT;
			goto err_vq;
		}
		/*
		 * Acked features are 0 until VHOST_SET_FEATURES: without
		 * VIRTIO_F_VERSION_1 the rings would start in legacy byte
		 * order, which SET_FEATURES refuses.
		 */
		if (!vhost_has_feature(vq, VIRTIO_F_VERSION_1)) {
			ret = -EINVAL;
			goto err_vq;
		}
		if (!vhost_vq_get_backend(vq)) {
			vhost_vq_set_backend(vq, vdb);
			ret = vhost_vq_init_access(vq);
			if (ret)
				goto err_backend;
		}
		mutex_unlock(&vq->mutex);
	}
	/* Requests and event buffers may have come in while stopped. */
	for (i = 0; i < ARRAY_SIZE(vdb->vqs); i++)
		vhost_vq_work_queue(&vdb->vqs[i], &vdb->vqs[i].poll.work);
	return 0;

err_backend:
	vhost_vq_set_backend(vq, NULL);
err_vq:
	mutex_unlock(&vq->mutex);
	for (i--; i >= 0; i--) {
		vq = &vdb->vqs[i];
		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, NULL);
		mutex_unlock(&vq->mutex);
	}
	return ret;
}

static void vhost_vdmabuf_stop(struct vhost_vdmabuf *vdb)
{
	struct vhost_virtqueue *vq;
	int i;

	lockdep_assert_held(&vdb->dev.mutex);
	for (i = 0; i < ARRAY_SIZE(vdb->vqs); i++) {
		vq = &vdb->vqs[i];
		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, NULL);
		mutex_unlock(&vq->mutex);
	}
}

static void vhost_vdmabuf_put_owner(struct vhost_vdmabuf *vdb)
{
	if (vdb->owner)
		put_task_struct(vdb->owner);
	vdb->owner = NULL;
	free_uid(vdb->user);
	vdb->user = NULL;
	mem_cgroup_put(vdb->memcg);
	vdb->memcg = NULL;
}

static int vhost_vdmabuf_open(struct inode *inode, struct file *file)
{
	struct vhost_virtqueue **vqs;
	struct vhost_vdmabuf *vdb;
	struct vhost_vdmabuf_ctx *ctx;
	int ret = -ENOMEM;

	vdb = kvzalloc(sizeof(*vdb), GFP_KERNEL);
	if (!vdb)
		return -ENOMEM;
	vqs = kmalloc_array(ARRAY_SIZE(vdb->vqs), sizeof(*vqs), GFP_KERNEL);
	if (!vqs)
		goto err_vdb;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		goto err_vqs;

	ret = rhashtable_init(&ctx->owned, &vhost_vdmabuf_owned_params);
	if (ret)
		goto err_ctx;
	kref_init(&ctx->kref);
	mutex_init(&ctx->lock);
	ctx->limits = vhost_vdmabuf_module_limits();
	INIT_LIST_HEAD(&ctx->exports);
	INIT_LIST_HEAD(&ctx->importers);
	INIT_LIST_HEAD(&ctx->guest_events);
	init_waitqueue_head(&ctx->unpinned);
	ctx->vdb = vdb;
	vdb->ctx = ctx;

	vqs[VIRTIO_VDMABUF_VQ_REQ] = &vdb->vqs[VIRTIO_VDMABUF_VQ_REQ];
	vqs[VIRTIO_VDMABUF_VQ_EVENT] = &vdb->vqs[VIRTIO_VDMABUF_VQ_EVENT];
	vdb->vqs[VIRTIO_VDMABUF_VQ_REQ].handle_kick =
		vhost_vdmabuf_handle_req_kick;
	vdb->vqs[VIRTIO_VDMABUF_VQ_EVENT].handle_kick =
		vhost_vdmabuf_handle_event_kick;
	vhost_work_init(&vdb->event_work, vhost_vdmabuf_event_work);
	vhost_dev_init(&vdb->dev, vqs, ARRAY_SIZE(vdb->vqs), UIO_MAXIOV,
		       VHOST_VDMABUF_PKT_WEIGHT, VHOST_VDMABUF_WEIGHT, true,
		       NULL);

	file->private_data = vdb;
	return 0;

err_ctx:
	kfree(ctx);
err_vqs:
	kfree(vqs);
err_vdb:
	kvfree(vdb);
	return ret;
}

static int vhost_vdmabuf_release(struct inode *inode, struct file *file)
{
	struct vhost_vdmabuf *vdb = file->private_data;

	mutex_lock(&vdb->dev.mutex);
	vhost_vdmabuf_stop(vdb);
	mutex_unlock(&vdb->dev.mutex);
	vhost_dev_flush(&vdb->dev);

	/* From here on nothing queues work on this device. */
	vhost_vdmabuf_ctx_reset(vdb->ctx, true);
	vhost_dev_flush(&vdb->dev);

	vhost_dev_stop(&vdb->dev);
	vhost_dev_cleanup(&vdb->dev);
	vhost_vdmabuf_put_owner(vdb);
	kfree(vdb->dev.vqs);
	vhost_vdmabuf_ctx_put(vdb->ctx);
	kvfree(vdb);
	return 0;
}

static int vhost_vdmabuf_set_features(struct vhost_vdmabuf *vdb, u64 features)
{
	struct vhost_virtqueue *vq;
	int i;

	if (features & ~VHOST_VDMABUF_FEATURES)
		return -EOPNOTSUPP;
	/* There is no legacy interface: the driver must accept VERSION_1. */
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;

	mutex_lock(&vdb->dev.mutex);
	for (i = 0; i < ARRAY_SIZE(vdb->vqs); i++) {
		vq = &vdb->vqs[i];
		mutex_lock(&vq->mutex);
		vq->acked_features = features;
		mutex_unlock(&vq->mutex);
	}
	/* The driver negotiates features after it read the limits. */
	vdb->limits_frozen = true;
	mutex_unlock(&vdb->dev.mutex);
	return 0;
}

static long vhost_vdmabuf_set_owner(struct vhost_vdmabuf *vdb)
{
	long ret;

	mutex_lock(&vdb->dev.mutex);
	ret = vhost_dev_set_owner(&vdb->dev);
	if (!ret) {
		vdb->owner = get_task_struct(current->group_leader);
		if (!capable(CAP_IPC_LOCK))
			vdb->user = get_uid(current_user());
		vdb->memcg = get_mem_cgroup_from_mm(current->mm);
	}
	mutex_unlock(&vdb->dev.mutex);
	return ret;
}

/*
 * After a revoke, wait until no host dma-buf of the device is pinned: a
 * pinned attachment (a static importer's mapping, a dynamic importer's
 * pin) keeps device access to the guest's memory, so the guest must not
 * reuse it before the importer lets go.  Nothing can pin meanwhile: every
 * export is revoked, and the caller holds the vhost device mutex, so the
 * device stays stopped and takes no new export.  Killable: a VMM killed
 * meanwhile takes its guest down with it.
 */
static long vhost_vdmabuf_ctx_wait_unpinned(struct vhost_vdmabuf_ctx *ctx)
{
	if (wait_event_killable(ctx->unpinned,
				!atomic_long_read(&ctx->nr_pinned)))
		return -EINTR;
	return 0;
}

static long vhost_vdmabuf_reset_owner(struct vhost_vdmabuf *vdb)
{
	struct vhost_iotlb *umem;
	long ret;

	mutex_lock(&vdb->dev.mutex);
	ret = vhost_dev_check_owner(&vdb->dev);
	if (ret)
		goto out;
	umem = vhost_dev_reset_owner_prepare();
	if (!umem) {
		ret = -ENOMEM;
		goto out;
	}
	vhost_vdmabuf_stop(vdb);
	vhost_dev_flush(&vdb->dev);
	ret = vhost_vdmabuf_ctx_reset(vdb->ctx, false);
	vdb->limits_frozen = false;
	vhost_dev_stop(&vdb->dev);
	vhost_dev_reset_owner(&vdb->dev, umem);
	vhost_vdmabuf_put_owner(vdb);
	if (!ret)
		ret = vhost_vdmabuf_ctx_wait_unpinned(vdb->ctx);
out:
	mutex_unlock(&vdb->dev.mutex);
	return ret;
}

static long vhost_vdmabuf_set_running(struct vhost_vdmabuf *vdb,
				      u32 __user *argp)
{
	u32 running;
	long ret;

	if (get_user(running, argp))
		return -EFAULT;
	if (running > 1)
		return -EINVAL;

	mutex_lock(&vdb->dev.mutex);
	ret = vhost_dev_check_owner(&vdb->dev);
	if (ret)
		goto out;
	if (running) {
		ret = vhost_vdmabuf_start(vdb);
		if (!ret)
			vdb->limits_frozen = true;
	} else {
		/* A pause: exports, imports and queued events stay. */
		vhost_vdmabuf_stop(vdb);
		vhost_dev_flush(&vdb->dev);
	}
out:
	mutex_unlock(&vdb->dev.mutex);
	return ret;
}

/*
 * The guest reset the device: stop, unexport everything and revoke host
 * access before returning, so that the VMM completes the reset (and the
 * guest reuses its memory) only after the revoke.  The limits stay as
 * they are, but may be set again until the device is next started.
 */
static long vhost_vdmabuf_reset_device(struct vhost_vdmabuf *vdb)
{
	long ret;

	mutex_lock(&vdb->dev.mutex);
	ret = vhost_dev_check_owner(&vdb->dev);
	if (!ret) {
		vhost_vdmabuf_stop(vdb);
		vhost_dev_flush(&vdb->dev);
		ret = vhost_vdmabuf_ctx_reset(vdb->ctx, false);
		vdb->limits_frozen = false;
		if (!ret)
			ret = vhost_vdmabuf_ctx_wait_unpinned(vdb->ctx);
	}
	mutex_unlock(&vdb->dev.mutex);
	return ret;
}

static long vhost_vdmabuf_get_config(struct vhost_vdmabuf *vdb,
				     void __user *argp)
{
	struct vhost_vdmabuf_limits lim;
	struct virtio_vdmabuf_config cfg;

	mutex_lock(&vdb->ctx->lock);
	lim = vdb->ctx->limits;
	mutex_unlock(&vdb->ctx->lock);
	cfg = (struct virtio_vdmabuf_config) {
		.max_ranges = cpu_to_le32(lim.max_ranges),
		.max_meta_len = cpu_to_le32(lim.max_meta_len),
		.max_exports = cpu_to_le32(lim.max_exports),
		.max_rects = cpu_to_le32(lim.max_rects),
		.max_export_size = cpu_to_le64((u64)lim.max_export_mb << 20),
		.max_total_size = cpu_to_le64((u64)lim.max_total_mb << 20),
	};
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

static long vhost_vdmabuf_get_limits(struct vhost_vdmabuf *vdb,
				     void __user *argp)
{
	struct vhost_vdmabuf_limits lim;

	mutex_lock(&vdb->ctx->lock);
	lim = vdb->ctx->limits;
	mutex_unlock(&vdb->ctx->lock);
	return copy_to_user(argp, &lim, sizeof(lim)) ? -EFAULT : 0;
}

/*
 * Only before the device is first started, or after a reset: the guest
 * driver reads the limits from the configuration space once, when it
 * initializes the device, and what it already exported was checked
 * against them; a pause (SET_RUNNING 0) does not unfreeze them.  The
 * request handler reads them without the table lock.
 */
static long vhost_vdmabuf_set_limits(struct vhost_vdmabuf *vdb,
				     const void __user *argp)
{
	struct vhost_virtqueue *vq = &vdb->vqs[VIRTIO_VDMABUF_VQ_REQ];
	struct vhost_vdmabuf_limits lim;
	long ret;

	if (copy_from_user(&lim, argp, sizeof(lim)))
		return -EFAULT;
	/* Padding before the field existed: VMMs built then leave it 0. */
	if (!lim.max_importers)
		lim.max_importers = max_importers;

	mutex_lock(&vdb->dev.mutex);
	ret = vhost_dev_check_owner(&vdb->dev);
	if (ret)
		goto out;
	if (!vhost_vdmabuf_limits_valid(&lim)) {
		ret = -EINVAL;
		goto out;
	}
	mutex_lock(&vq->mutex);
	if (vdb->limits_frozen || vhost_vq_get_backend(vq)) {
		ret = -EBUSY;
	} else {
		mutex_lock(&vdb->ctx->lock);
		vdb->ctx->limits = lim;
		mutex_unlock(&vdb->ctx->lock);
	}
	mutex_unlock(&vq->mutex);
out:
	mutex_unlock(&vdb->dev.mutex);
	return ret;
}

static long vhost_vdmabuf_get_stats(struct vhost_vdmabuf *vdb,
				    void __user *argp)
{
	struct vhost_vdmabuf_ctx *ctx = vdb->ctx;
	struct vhost_vdmabuf_stats stats;

	mutex_lock(&ctx->lock);
	stats = ctx->stats;
	stats.guest_events = ctx->nr_guest_events;
	mutex_unlock(&ctx->lock);
	stats.pinned_attachments = atomic_long_read(&ctx->nr_pinned);
	return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
}

static long vhost_vdmabuf_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct vhost_vdmabuf *vdb = file->private_data;
	void __user *argp = (void __user *)arg;
	u64 __user *featurep = argp;
	u64 features;
	long ret;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = VHOST_VDMABUF_FEATURES;
		return copy_to_user(featurep, &features, sizeof(features)) ?
			-EFAULT : 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, featurep, sizeof(features)))
			return -EFAULT;
		return vhost_vdmabuf_set_features(vdb, features);
	case VHOST_SET_OWNER:
		return vhost_vdmabuf_set_owner(vdb);
	case VHOST_RESET_OWNER:
		return vhost_vdmabuf_reset_owner(vdb);
	case VHOST_VDMABUF_GET_CONFIG:
		return vhost_vdmabuf_get_config(vdb, argp);
	case VHOST_VDMABUF_SET_RUNNING:
		return vhost_vdmabuf_set_running(vdb, argp);
	case VHOST_VDMABUF_RESET_DEVICE:
		return vhost_vdmabuf_reset_device(vdb);
	case VHOST_VDMABUF_GET_IMPORTER:
		return vhost_vdmabuf_get_importer(vdb, argp);
	case VHOST_VDMABUF_GET_STATS:
		return vhost_vdmabuf_get_stats(vdb, argp);
	case VHOST_VDMABUF_GET_LIMITS:
		return vhost_vdmabuf_get_limits(vdb, argp);
	case VHOST_VDMABUF_SET_LIMITS:
		return vhost_vdmabuf_set_limits(vdb, argp);
	default:
		mutex_lock(&vdb->dev.mutex);
		ret = vhost_dev_ioctl(&vdb->dev, cmd, argp);
		if (ret == -ENOIOCTLCMD)
			ret = vhost_vring_ioctl(&vdb->dev, cmd, argp);
		else
			vhost_dev_flush(&vdb->dev);
		mutex_unlock(&vdb->dev.mutex);
		return ret;
	}
}

static const struct file_operations vhost_vdmabuf_fops = {
	.owner = THIS_MODULE,
	.open = vhost_vdmabuf_open,
	.release = vhost_vdmabuf_release,
	.unlocked_ioctl = vhost_vdmabuf_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice vhost_vdmabuf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vhost-vdmabuf",
	.fops = &vhost_vdmabuf_fops,
};

static int __init vhost_vdmabuf_init(void)
{
	max_ranges = clamp(max_ranges, 1U, VIRTIO_VDMABUF_MAX_RANGES);
	max_meta_len = min(max_meta_len, VIRTIO_VDMABUF_MAX_META);
	max_exports = clamp(max_exports, 1U, VDMABUF_HARD_MAX_EXPORTS);
	max_rects = min(max_rects, VIRTIO_VDMABUF_MAX_RECTS);
	max_export_mb = clamp(max_export_mb, 1U, VDMABUF_HARD_MAX_EXPORT_MB);
	BUILD_BUG_ON(((u64)VDMABUF_HARD_MAX_TOTAL_MB << (20 - PAGE_SHIFT)) *
		     GUP_PIN_COUNTING_BIAS > (INT_MAX >> 1) + 1);
	max_total_mb = clamp(max_total_mb, 1U, VDMABUF_HARD_MAX_TOTAL_MB);
	max_importer_events = clamp(max_importer_events, VDMABUF_MIN_EVENTS,
				    VDMABUF_HARD_MAX_EVENTS);
	max_guest_events = clamp(max_guest_events, VDMABUF_MIN_EVENTS,
				 VDMABUF_HARD_MAX_EVENTS);
	max_importers = clamp(max_importers, 1U, VDMABUF_HARD_MAX_IMPORTERS);

	return misc_register(&vhost_vdmabuf_misc);
}
module_init(vhost_vdmabuf_init);

static void __exit vhost_vdmabuf_exit(void)
{
	misc_deregister(&vhost_vdmabuf_misc);
}
module_exit(vhost_vdmabuf_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vhost host side of virtio-dmabuf");
MODULE_IMPORT_NS("DMA_BUF");
