// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-dmabuf guest driver: share guest dma-bufs with the host, zero copy.
 *
 * Device ID VIRTIO_ID_DMABUF (37); userspace interface /dev/virtio-vdmabuf
 * (/dev/virtio-vdmabufN for the devices after the first).
 * The wire protocol is in include/uapi/linux/virtio_vdmabuf.h, the ioctls in
 * include/uapi/linux/vdmabuf.h.
 */

#include <linux/auxiliary_bus.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/iosys-map.h>
#include <linux/jhash.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rwsem.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include <linux/uuid.h>
#include <linux/vdmabuf.h>
#include <linux/vdmabuf_client.h>
#include <linux/vmalloc.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vdmabuf.h>

/**
 * DOC: virtio-vdmabuf design
 *
 * The driver has two roles.
 *
 * As an **exporter** (VDMABUF_IOCTL_ALLOC) it hands out page-backed dma-bufs
 * allocated in the largest chunks the page allocator gives (2 MiB, 64 KiB,
 * then 4 KiB), so that sharing them needs few ranges.  Any guest driver may
 * import them (for instance vgem through PRIME).
 *
 * As an **importer** (VDMABUF_IOCTL_EXPORT) it shares any dma-buf, its own
 * or a foreign one, with the host.  It never looks at the buffer's
 * struct page: it attaches dynamically to the virtio device's DMA device,
 * pins the attachment, maps it with the DMA API and sends the coalesced
 * sg_dma_address()/sg_dma_len() ranges.  That only gives guest-physical
 * addresses when nothing translates DMA for the device: a device that
 * needs VIRTIO_F_ACCESS_PLATFORM is refused at probe, and EXPORT fails
 * with -EOPNOTSUPP when an IOMMU translates for the device or swiotlb
 * bounces its DMA.
 *
 * Each export is named by a random version 4 UUID.  The driver keeps the
 * dma-buf reference, the pinned attachment and its mapping until the device
 * says RELEASED (or is reset), whatever the producer does meanwhile:
 * unexport, close /dev/virtio-vdmabuf (which unexports its live exports),
 * or die.  Exports of one dma-buf on one device share one attachment and
 * mapping (struct vdmabuf_map), kept until just after the last of them
 * is released (unmap_work tears it down).
 *
 * Requests are single descriptor chains on the requestq: the readable part
 * is the header, the ranges and the metadata (or damage rectangles), the
 * writable part the 8-byte response.  The request memory belongs to the
 * device until the chain comes back: a waiter that is killed leaves the
 * request behind ("abandoned"), and the requestq work finishes it when the
 * device returns it; an abandoned EXPORT the device accepted is unexported
 * at once.
 *
 * Events (RELEASED, FRAME_DONE) come on the eventq into pre-posted 32-byte
 * buffers and are queued, never dropped, to the opener that exported the
 * buffer; it reads them as struct vdmabuf_event records.  Their memory is
 * allocated up front (one RELEASED per export, one FRAME_DONE per PRESENT),
 * so delivering an event never fails.  While an opener has max_events
 * unread events, EXPORT and PRESENT fail with -ENOBUFS.
 *
 * A device reset (remove, freeze, or a device that asked for one) counts
 * as RELEASED of every export.
 *
 * Lock order: state_sem, then lock, then vq_lock; state_sem (or
 * unmap_work), then map_lock, then a dma-buf's reservation lock.
 * map_ref_lock is innermost, taken under map_lock or alone.  A
 * reservation lock is taken under map_lock (a mapping's creation and
 * teardown) or under state_sem alone (PRESENT's fence check), never with
 * lock held.  The event and request works, which deliver FRAME_DONE and
 * RELEASED, take neither map_lock nor a reservation lock: an export's
 * last user queues its mapping's teardown to unmap_work.  An opener's
 * read_lock comes before its ev_lock, which is also taken under lock.
 * The virtqueues are used under vq_lock, and only while vq_ready says
 * they exist.
 */

#define VDMABUF_EVT_BUFS	64	/* most event buffers kept posted */
#define VDMABUF_WORK_BUDGET	256	/* used buffers handled per work run */
#define VDMABUF_HASH_BITS	8

static unsigned int max_alloc_mb = 512;
module_param(max_alloc_mb, uint, 0444);
MODULE_PARM_DESC(max_alloc_mb, "Largest VDMABUF_IOCTL_ALLOC buffer in MiB (1..65536, default 512)");

static unsigned int max_events = 4096;
module_param(max_events, uint, 0444);
MODULE_PARM_DESC(max_events, "Unread events per opener before EXPORT and PRESENT fail with -ENOBUFS (16..1048576, default 4096)");

/* Device numbers: the first is /dev/virtio-vdmabuf, the next ones ...N. */
static DEFINE_IDA(vdmabuf_ida);

/**
 * struct vdmabuf_acct - bytes of ALLOC buffers, which outlive their opener
 *	and their device
 * @ref: held by its owner (an opener, or a device), by each ALLOC buffer
 *	counted in it, and by each opener's account whose @parent it is
 * @alloc_bytes: bytes held by those buffers
 * @parent: the device's account, for an opener's (also counts them)
 *
 * An opener reads its own in VDMABUF_IOCTL_INFO; the device's is its
 * sysfs attribute alloc_bytes, for the administrator.
 */
struct vdmabuf_acct {
	refcount_t ref;
	atomic64_t alloc_bytes;
	struct vdmabuf_acct *parent;
};

static struct vdmabuf_acct *vdmabuf_acct_new(struct vdmabuf_acct *parent)
{
	struct vdmabuf_acct *acct = kzalloc(sizeof(*acct), GFP_KERNEL_ACCOUNT);

	if (!acct)
		return NULL;
	refcount_set(&acct->ref, 1);
	if (parent) {
		refcount_inc(&parent->ref);
		acct->parent = parent;
	}
	return acct;
}

static void vdmabuf_acct_put(struct vdmabuf_acct *acct)
{
	if (!refcount_dec_and_test(&acct->ref))
		return;
	if (acct->parent)
		vdmabuf_acct_put(acct->parent);
	kfree(acct);
}

/* Count @bytes (negative: uncount) in @acct and its parent. */
static void vdmabuf_acct_add(struct vdmabuf_acct *acct, s64 bytes)
{
	atomic64_add(bytes, &acct->alloc_bytes);
	if (acct->parent)
		atomic64_add(bytes, &acct->parent->alloc_bytes);
}

/**
 * struct vdmabuf_limits - the device's limits, from config space
 * @max_ranges: most ranges per EXPORT
 * @max_meta_len: most metadata bytes per EXPORT
 * @max_exports: most live exports
 * @max_rects: most damage rectangles per PRESENT (0 without the feature)
 * @max_export_size: largest export in bytes
 * @max_total_size: largest sum of live exports in bytes
 */
struct vdmabuf_limits {
	u32 max_ranges;
	u32 max_meta_len;
	u32 max_exports;
	u32 max_rects;
	u64 max_export_size;
	u64 max_total_size;
};

/**
 * struct vdmabuf_dev - one virtio-dmabuf device
 * @vdev: the virtio device
 * @misc: /dev/virtio-vdmabuf for the first device, /dev/virtio-vdmabufN
 *	for the next ones (N = @index)
 * @index: from vdmabuf_ida
 * @name: @misc's name
 * @ref: openers and the bound device each hold one
 * @state_sem: write: probe/remove/freeze/restore tear down or set up the
 *	virtqueues; read: held by ioctls for as long as they use the device
 * @dma_translated: a test mapping at probe did not give the device the
 *	page's guest-physical address: no EXPORT can work
 * @ready: the device is set up; protected by @state_sem
 * @features: negotiated features; written under @state_sem (write)
 * @cfg: the device's limits, clamped to the header's hard bounds; written
 *	under @state_sem (write)
 * @vq_lock: protects both virtqueues once set up, @vq_ready, @req_gen and
 *	the returned and abandoned flags of every request; a mutex, so that
 *	requests are added with GFP_KERNEL
 * @vq_ready: the virtqueues may be used
 * @req_gen: bumped whenever the device returns a request (ring space)
 * @req_vq: the requestq
 * @evt_vq: the eventq, used only by @evt_work (and by set-up/tear-down
 *	with the work cancelled)
 * @evt_bufs: the event buffers posted on @evt_vq
 * @nr_evt_bufs: entries in @evt_bufs
 * @req_wq: waiters for requestq space
 * @req_work: handles returned requests
 * @evt_work: handles events
 * @unexport_work: sends the UNEXPORTs queued on @unexport_list (delayed
 *	only to retry one the device refused)
 * @lock: protects @exports, @unexport_list, @live_exports, @live_bytes,
 *	@files and the owner, state and frame fields of every export
 * @exports: exports the device accepted and has not released, by UUID
 * @unexport_list: exports whose UNEXPORT still has to be sent
 * @live_exports: exports not yet released, and those being exported (the
 *	device's sysfs attribute, for the administrator)
 * @live_bytes: bytes of those (also in sysfs)
 * @nr_unexported: exports unexported but not yet released
 * @files: the open files (&vdmabuf_file.node)
 * @deferred: PRESENTs waiting for their buffers' write fences
 *	(&vdmabuf_deferred.node)
 * @deferred_wq: sends them, in order, once their fences have signalled
 * @acct: the ALLOC bytes of every opener's buffers (sysfs)
 * @gone: the device was removed, or stopped because it broke: the open
 *	files only read what is queued (set with a release under @lock,
 *	after the last event was queued; read without the lock)
 * @map_lock: protects @maps; held while a map is made or torn down;
 *	taken by EXPORT under @state_sem (read) and by @unmap_work, which
 *	vdmabuf_stop() flushes under @state_sem (write); never with @lock
 *	held
 * @maps: the device's maps (&vdmabuf_map.hnode), by dma-buf: at most one
 *	per dma-buf, live or waiting for its teardown
 * @map_ref_lock: protects every map's users and @dead_maps
 * @dead_maps: maps no export uses, to tear down (&vdmabuf_map.dead)
 * @unmap_work: tears them down
 * @out_lock: protects @outputs
 * @outputs: the device's outputs (VIRTIO_VDMABUF_F_OUTPUTS), as
 *	VDMABUF_IOCTL_OUTPUTS returns them; none without the feature
 * @config_work: reads the outputs again after a configuration change,
 *	or stops the device if it asked for a reset
 * @display: the auxiliary device a display driver binds to
 *	(VDMABUF_AUX_DISPLAY), if the device has outputs; set in probe,
 *	removed in remove, after the reset
 */
struct vdmabuf_dev {
	struct virtio_device *vdev;
	struct miscdevice misc;
	int index;
	char name[32];
	struct kref ref;

	struct rw_semaphore state_sem;
	bool dma_translated;
	bool ready;
	u64 features;
	struct vdmabuf_limits cfg;

	struct mutex vq_lock;		/* virtqueues, vq_ready, req_gen */
	bool vq_ready;
	unsigned long req_gen;
	struct virtqueue *req_vq;
	struct virtqueue *evt_vq;
	struct virtio_vdmabuf_event *evt_bufs;
	unsigned int nr_evt_bufs;
	wait_queue_head_t req_wq;
	struct work_struct req_work;
	struct work_struct evt_work;
	struct delayed_work unexport_work;

	struct mutex lock;		/* exports and their state */
	DECLARE_HASHTABLE(exports, VDMABUF_HASH_BITS);
	struct list_head unexport_list;
	u64 live_exports;
	u64 live_bytes;
	u64 nr_unexported;
	struct list_head files;
	struct list_head deferred;
	struct workqueue_struct *deferred_wq;
	struct vdmabuf_acct *acct;
	bool gone;

	struct mutex map_lock;		/* maps */
	DECLARE_HASHTABLE(maps, VDMABUF_HASH_BITS);
	spinlock_t map_ref_lock;	/* users of every map, dead_maps */
	struct list_head dead_maps;
	struct work_struct unmap_work;

	struct mutex out_lock;		/* outputs */
	struct vdmabuf_outputs outputs;
	struct work_struct config_work;

	struct auxiliary_device *display;
};

/**
 * struct vdmabuf_file - the state of one open /dev/virtio-vdmabuf
 * @dev: the device, referenced
 * @node: in dev->files; dev->lock
 * @acct: this opener's ALLOC bytes
 * @live_exports: this opener's exports not yet released; dev->lock
 * @live_bytes: their bytes; dev->lock
 * @exports: this opener's exports not yet released; protected by dev->lock
 * @ev_lock: protects @events and @nr_events
 * @events: struct vdmabuf_evt_node queued for read()
 * @nr_events: entries in @events
 * @ev_wq: readers and pollers
 * @read_lock: serialises readers, so records leave in order; never held
 *	while waiting for events
 * @outputs_seen: the generation of the outputs this opener last got from
 *	VDMABUF_IOCTL_OUTPUTS (at open, the one then); poll() reports
 *	EPOLLPRI while the device's differs.  Written by the ioctl, read by
 *	poll() without a lock
 * @client: the in-kernel client this is, NULL for a process's open file
 * @closed: vdmabuf_file_fini() has begun: an export the device accepts
 *	after that is not this opener's; dev->lock
 */
struct vdmabuf_file {
	struct vdmabuf_dev *dev;
	struct list_head node;
	struct vdmabuf_acct *acct;
	u64 live_exports;
	u64 live_bytes;
	struct list_head exports;
	spinlock_t ev_lock;		/* events, nr_events */
	struct list_head events;
	unsigned int nr_events;
	wait_queue_head_t ev_wq;
	struct mutex read_lock;		/* one reader at a time */
	u32 outputs_seen;
	struct vdmabuf_client *client;
	bool closed;
};

/**
 * struct vdmabuf_client - an in-kernel opener (<linux/vdmabuf_client.h>)
 * @vf: its state, as a process's open file has
 * @ops: its callbacks
 * @priv: the client's own pointer
 * @work: hands @vf's events and output changes to @ops, in order
 */
struct vdmabuf_client {
	struct vdmabuf_file vf;
	const struct vdmabuf_client_ops *ops;
	void *priv;
	struct work_struct work;
};

/**
 * struct vdmabuf_aux - the auxiliary device of a device with outputs
 * @adev: VDMABUF_AUX_DISPLAY, with the device's index as its id
 * @dev: the device, referenced until @adev is released
 */
struct vdmabuf_aux {
	struct auxiliary_device adev;
	struct vdmabuf_dev *dev;
};

/**
 * struct vdmabuf_evt_node - an event record waiting in an opener's queue
 * @node: in vdmabuf_file.events, or in vdmabuf_exp.frames while unused
 * @ev: the record
 */
struct vdmabuf_evt_node {
	struct list_head node;
	struct vdmabuf_event ev;
};

struct vdmabuf_req;
struct vdmabuf_deferred;

/**
 * struct vdmabuf_map - a dma-buf attached, pinned and mapped for the device
 * @hnode: in dev->maps; dev->map_lock
 * @dead: in dev->dead_maps once @users is 0; dev->map_ref_lock
 * @dev: the device, which outlives its maps (vdmabuf_stop() flushes
 *	unmap_work)
 * @dmabuf: the dma-buf, referenced
 * @attach: the pinned dynamic attachment to the virtio device's DMA device
 * @sgt: the attachment's mapping; set and cleared under the dma-buf's
 *	reservation lock (vdmabuf_move_notify() reads it there), read
 *	without a lock by the exports that use it
 * @users: the exports using it; dev->map_ref_lock
 *
 * One per dma-buf and device, however many exports of the buffer there
 * are, as DRM PRIME imports a dma-buf once per file
 * (drm_gem_prime_fd_to_handle()).  An exporter that maps with CPU syncs
 * (the system heap) cannot keep two mappings of a page coherent for
 * devices that may write it, and DMA-API debugging reports the second
 * ("cacheline tracking EEXIST").  That holds across devices too, which a
 * map per device cannot help: a heap buffer exported on two devices at
 * once is mapped twice, and so is one the display driver imported (its
 * PRIME import, drm_gem_prime_import_dev(), maps the buffer for this
 * device as well).  Made and torn down under dev->map_lock, so a new map
 * of a dma-buf never overlaps its old one's teardown.
 */
struct vdmabuf_map {
	struct hlist_node hnode;
	struct list_head dead;
	struct vdmabuf_dev *dev;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	unsigned int users;
};

/**
 * struct vdmabuf_exp - one buffer shared with the device
 * @hnode: in dev->exports once the device accepted it; dev->lock
 * @owner_node: in owner->exports; dev->lock
 * @unexport_node: in dev->unexport_list, else empty; dev->lock
 * @owner: the opener that exported it, NULL once it closed; dev->lock
 * @state: VDMABUF_STATE_*, 0 until the device accepted it; dev->lock
 * @frames: one preallocated FRAME_DONE record per PRESENT not answered
 *	yet; dev->lock
 * @frames_pending: entries in @frames; dev->lock
 * @released: the preallocated RELEASED record
 * @unexport_req: the preallocated UNEXPORT request, NULL once sent; dev->lock
 * @unexport_ok: the device answered the UNEXPORT OK; dev->lock
 * @released_early: a RELEASED came while the UNEXPORT was with the device,
 *	before its answer; it counts once the answer is OK; dev->lock
 * @deferred: the PRESENT waiting for the buffer's write fences, if any;
 *	dev->lock
 * @deferred_seq: its sequence number; dev->lock
 * @uuid: the buffer's ID
 * @size: bytes
 * @nr_ranges: ranges sent on EXPORT
 * @user: the exporting user, charged for @charged pages of locked memory
 *	(NULL: not charged, the caller had CAP_IPC_LOCK)
 * @charged: pages charged to @user
 * @dmabuf: the shared dma-buf, referenced
 * @map: its mapping for the device, shared with every other export of the
 *	same dma-buf; NULL until vdmabuf_exp_map()
 */
struct vdmabuf_exp {
	struct hlist_node hnode;
	struct list_head owner_node;
	struct list_head unexport_node;
	struct vdmabuf_file *owner;
	u32 state;
	struct list_head frames;
	u32 frames_pending;
	struct vdmabuf_evt_node *released;
	struct vdmabuf_req *unexport_req;
	bool unexport_ok;
	bool released_early;
	struct vdmabuf_deferred *deferred;
	u64 deferred_seq;
	u8 uuid[16];
	u64 size;
	u32 nr_ranges;
	struct user_struct *user;
	unsigned long charged;
	struct dma_buf *dmabuf;
	struct vdmabuf_map *map;
};

/**
 * struct vdmabuf_req - one request chain and its memory
 * @done: completed when the device returned the chain (or was reset)
 * @returned: the device returned the chain; dev->vq_lock
 * @abandoned: the waiter is gone; whoever sees the chain return finishes
 *	the request; dev->vq_lock
 * @err: nonzero when the device was reset before answering
 * @used_len: bytes the device wrote
 * @type: VIRTIO_VDMABUF_REQ_*
 * @deferred: a PRESENT sent once its buffer's write fences signalled:
 *	nobody waits for it, and a refusal drops the frame
 * @exp: EXPORT: the export being made (owned by the request if abandoned)
 * @ranges: EXPORT: the ranges (kvmalloc'ed)
 * @payload: metadata or damage rectangles (kmalloc'ed)
 * @out_sg: the device-readable part
 * @nr_out: entries in @out_sg
 * @in_sg: the device-writable part, @resp
 * @hdr: the request header
 * @resp: the response, in its own cache line
 */
struct vdmabuf_req {
	struct completion done;
	bool returned;
	bool abandoned;
	int err;
	unsigned int used_len;
	u32 type;
	bool deferred;
	struct vdmabuf_exp *exp;
	struct virtio_vdmabuf_range *ranges;
	void *payload;
	struct scatterlist *out_sg;
	unsigned int nr_out;
	struct scatterlist in_sg;
	union {
		struct virtio_vdmabuf_req_hdr hdr;
		struct virtio_vdmabuf_export_req exp;
		struct virtio_vdmabuf_present_req present;
	} hdr;
	struct virtio_vdmabuf_resp resp ____cacheline_aligned;
};

/* ---------------------------------------------------------------------- */
/* Exporter: VDMABUF_IOCTL_ALLOC buffers                                   */
/* ---------------------------------------------------------------------- */

#define VDMABUF_ORDER_2M	(21 - PAGE_SHIFT)
#define VDMABUF_ORDER_64K	(16 - PAGE_SHIFT)

static const unsigned int vdmabuf_orders[] = {
	VDMABUF_ORDER_2M, VDMABUF_ORDER_64K, 0
};

/**
 * struct vdmabuf_buf - a page-backed buffer made by VDMABUF_IOCTL_ALLOC
 * @size: bytes
 * @nr_pages: pages
 * @pages: every page, in buffer order
 * @orders: for the first page of each allocated chunk, its order
 * @lock: protects @attachments, @vaddr and @vmap_count
 * @attachments: struct vdmabuf_buf_attach of every attachment
 * @vaddr: kernel mapping while @vmap_count > 0
 * @vmap_count: vmap users
 * @acct: the allocating opener's account, referenced
 */
struct vdmabuf_buf {
	size_t size;
	pgoff_t nr_pages;
	struct page **pages;
	u8 *orders;
	struct mutex lock;		/* attachments, vaddr, vmap_count */
	struct list_head attachments;
	void *vaddr;
	unsigned int vmap_count;
	struct vdmabuf_acct *acct;
};

/**
 * struct vdmabuf_buf_attach - one attachment to a vdmabuf_buf
 * @node: in vdmabuf_buf.attachments
 * @dev: the attached device
 * @sgt: its mapping, NULL while not mapped
 * @dir: the direction it was mapped for, which its syncs must give
 */
struct vdmabuf_buf_attach {
	struct list_head node;
	struct device *dev;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

static void vdmabuf_buf_free_pages(struct vdmabuf_buf *buf, pgoff_t nr)
{
	pgoff_t i = 0;

	while (i < nr) {
		__free_pages(buf->pages[i], buf->orders[i]);
		i += 1UL << buf->orders[i];
	}
}

static int vdmabuf_buf_alloc_pages(struct vdmabuf_buf *buf)
{
	pgoff_t done = 0;
	unsigned int i;

	while (done < buf->nr_pages) {
		struct page *page = NULL;
		unsigned int order = 0;
		unsigned long j;

		if (fatal_signal_pending(current))
			goto err_free;

		for (i = 0; i < ARRAY_SIZE(vdmabuf_orders); i++) {
			gfp_t gfp = GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT;

			order = vdmabuf_orders[i];
			if ((1UL << order) > buf->nr_pages - done)
				continue;
			/*
			 * Compound, as the system heap's: an importer may take
			 * a reference on any page of the buffer.
			 */
			if (order)
				gfp |= __GFP_COMP | __GFP_NORETRY |
				       __GFP_NOWARN;
			page = alloc_pages(gfp, order);
			if (page)
				break;
		}
		if (!page)
			goto err_free;

		buf->orders[done] = order;
		for (j = 0; j < (1UL << order); j++)
			buf->pages[done + j] = page + j;
		done += 1UL << order;
		cond_resched();
	}
	return 0;

err_free:
	vdmabuf_buf_free_pages(buf, done);
	return fatal_signal_pending(current) ? -EINTR : -ENOMEM;
}

static int vdmabuf_buf_attach(struct dma_buf *dmabuf,
			      struct dma_buf_attachment *attach)
{
	struct vdmabuf_buf *buf = dmabuf->priv;
	struct vdmabuf_buf_attach *a;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	a->dev = attach->dev;
	attach->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void vdmabuf_buf_detach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct vdmabuf_buf *buf = dmabuf->priv;
	struct vdmabuf_buf_attach *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);
	kfree(a);
}

static struct sg_table *vdmabuf_buf_map(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
	struct vdmabuf_buf *buf = attach->dmabuf->priv;
	struct vdmabuf_buf_attach *a = attach->priv;
	unsigned int max_seg;
	struct sg_table *sgt;
	int ret;

	max_seg = dma_get_max_seg_size(attach->dev) & PAGE_MASK;
	if (!max_seg)
		max_seg = PAGE_SIZE;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages_segment(sgt, buf->pages, buf->nr_pages,
						0, buf->size, max_seg,
						GFP_KERNEL);
	if (ret)
		goto err_free_sgt;
	/*
	 * The same pages may be mapped for several devices at once (a buffer
	 * exported on two devices, or imported by another driver too).  The
	 * DMA API's syncs at map and unmap cannot keep such mappings
	 * coherent, and DMA-API debugging reports them as overlapping: map
	 * and unmap skip them, and begin_cpu_access and end_cpu_access sync
	 * every mapped attachment instead, as with drm_gem_map_dma_buf() and
	 * udmabuf.  What the CPU wrote before the first mapping (the pages'
	 * zeroing, writes through mmap) is still written back for the device
	 * here: a clean, harmless to the other mappings, where the unmap's
	 * invalidation would not be.
	 */
	ret = dma_map_sgtable(attach->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		goto err_free_table;
	dma_sync_sgtable_for_device(attach->dev, sgt, dir);

	mutex_lock(&buf->lock);
	a->sgt = sgt;
	a->dir = dir;
	mutex_unlock(&buf->lock);
	return sgt;

err_free_table:
	sg_free_table(sgt);
err_free_sgt:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void vdmabuf_buf_unmap(struct dma_buf_attachment *attach,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	struct vdmabuf_buf *buf = attach->dmabuf->priv;
	struct vdmabuf_buf_attach *a = attach->priv;

	mutex_lock(&buf->lock);
	a->sgt = NULL;
	mutex_unlock(&buf->lock);

	dma_unmap_sgtable(attach->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
}

static int vdmabuf_buf_begin_cpu(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	struct vdmabuf_buf *buf = dmabuf->priv;
	struct vdmabuf_buf_attach *a;

	mutex_lock(&buf->lock);
	if (buf->vaddr)
		invalidate_kernel_vmap_range(buf->vaddr, buf->size);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->sgt)
			dma_sync_sgtable_for_cpu(a->dev, a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	return 0;
}

static int vdmabuf_buf_end_cpu(struct dma_buf *dmabuf,
			       enum dma_data_direction dir)
{
	struct vdmabuf_buf *buf = dmabuf->priv;
	struct vdmabuf_buf_attach *a;

	mutex_lock(&buf->lock);
	if (buf->vaddr)
		flush_kernel_vmap_range(buf->vaddr, buf->size);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->sgt)
			dma_sync_sgtable_for_device(a->dev, a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	return 0;
}

static vm_fault_t vdmabuf_buf_fault(struct vm_fault *vmf)
{
	struct vdmabuf_buf *buf = vmf->vma->vm_private_data;

	if (vmf->pgoff >= buf->nr_pages)
		return VM_FAULT_SIGBUS;
	return vmf_insert_pfn(vmf->vma, vmf->address,
			      page_to_pfn(buf->pages[vmf->pgoff]));
}

static const struct vm_operations_struct vdmabuf_buf_vm_ops = {
	.fault = vdmabuf_buf_fault,
};

static int vdmabuf_buf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	vma->vm_ops = &vdmabuf_buf_vm_ops;
	vma->vm_private_data = dmabuf->priv;
	vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	return 0;
}

static int vdmabuf_buf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct vdmabuf_buf *buf = dmabuf->priv;
	int ret = 0;

	mutex_lock(&buf->lock);
	if (!buf->vmap_count) {
		buf->vaddr = vmap(buf->pages, buf->nr_pages, VM_MAP, PAGE_KERNEL);
		if (!buf->vaddr) {
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	buf->vmap_count++;
	iosys_map_set_vaddr(map, buf->vaddr);
out_unlock:
	mutex_unlock(&buf->lock);
	return ret;
}

static void vdmabuf_buf_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct vdmabuf_buf *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	if (!WARN_ON(!buf->vmap_count) && !--buf->vmap_count) {
		vunmap(buf->vaddr);
		buf->vaddr = NULL;
	}
	mutex_unlock(&buf->lock);
}

static void vdmabuf_buf_destroy(struct vdmabuf_buf *buf)
{
	vdmabuf_buf_free_pages(buf, buf->nr_pages);
	vdmabuf_acct_add(buf->acct, -(s64)buf->size);
	vdmabuf_acct_put(buf->acct);
	kvfree(buf->orders);
	kvfree(buf->pages);
	mutex_destroy(&buf->lock);
	kfree(buf);
}

static void vdmabuf_buf_release(struct dma_buf *dmabuf)
{
	vdmabuf_buf_destroy(dmabuf->priv);
}

static const struct dma_buf_ops vdmabuf_buf_ops = {
	.attach = vdmabuf_buf_attach,
	.detach = vdmabuf_buf_detach,
	.map_dma_buf = vdmabuf_buf_map,
	.unmap_dma_buf = vdmabuf_buf_unmap,
	.begin_cpu_access = vdmabuf_buf_begin_cpu,
	.end_cpu_access = vdmabuf_buf_end_cpu,
	.mmap = vdmabuf_buf_mmap,
	.vmap = vdmabuf_buf_vmap,
	.vunmap = vdmabuf_buf_vunmap,
	.release = vdmabuf_buf_release,
};

static long vdmabuf_ioctl_alloc(struct vdmabuf_file *vf, void __user *uarg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vdmabuf_alloc arg;
	struct vdmabuf_buf *buf;
	struct dma_buf *dmabuf;
	int fd, ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~VDMABUF_FD_CLOEXEC)
		return -EINVAL;
	/* SIZE_MAX: buf->size and a dma-buf's size are size_t (32-bit) */
	if (!arg.size || !PAGE_ALIGNED(arg.size) ||
	    arg.size > (u64)max_alloc_mb * SZ_1M || arg.size > SIZE_MAX)
		return -EINVAL;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	buf->size = arg.size;
	buf->nr_pages = arg.size >> PAGE_SHIFT;

	ret = -ENOMEM;
	buf->pages = kvmalloc_array(buf->nr_pages, sizeof(*buf->pages),
				    GFP_KERNEL_ACCOUNT);
	if (!buf->pages)
		goto err_free_buf;
	buf->orders = kvmalloc(buf->nr_pages, GFP_KERNEL_ACCOUNT);
	if (!buf->orders)
		goto err_free_page_array;
	ret = vdmabuf_buf_alloc_pages(buf);
	if (ret)
		goto err_free_orders;
	refcount_inc(&vf->acct->ref);
	buf->acct = vf->acct;
	vdmabuf_acct_add(buf->acct, buf->size);

	exp_info.ops = &vdmabuf_buf_ops;
	exp_info.size = buf->size;
	exp_info.flags = O_RDWR;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		/* release() was not called: undo everything here. */
		vdmabuf_buf_destroy(buf);
		return PTR_ERR(dmabuf);
	}

	fd = dma_buf_fd(dmabuf, arg.flags & VDMABUF_FD_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0) {
		ret = fd;
		goto err_put_dmabuf;
	}
	arg.fd = fd;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		/* The fd is installed; userspace can still close it. */
		return -EFAULT;
	}
	return 0;

err_put_dmabuf:
	dma_buf_put(dmabuf);	/* frees buf through release() */
	return ret;
err_free_orders:
	kvfree(buf->orders);
err_free_page_array:
	kvfree(buf->pages);
err_free_buf:
	mutex_destroy(&buf->lock);
	kfree(buf);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static int vdmabuf_status_errno(u32 status)
{
	switch (status) {
	case VIRTIO_VDMABUF_S_OK:
		return 0;
	case VIRTIO_VDMABUF_S_INVALID:
		return -EINVAL;
	case VIRTIO_VDMABUF_S_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIRTIO_VDMABUF_S_LIMIT:
		return -ENOSPC;
	case VIRTIO_VDMABUF_S_EXISTS:
		return -EEXIST;
	case VIRTIO_VDMABUF_S_NOENT:
		return -ENOENT;
	case VIRTIO_VDMABUF_S_FAULT:
		return -EFAULT;
	case VIRTIO_VDMABUF_S_NOMEM:
		return -ENOMEM;
	case VIRTIO_VDMABUF_S_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static void vdmabuf_req_free(struct vdmabuf_req *req)
{
	if (!req)
		return;
	kvfree(req->ranges);
	kfree(req->payload);
	kfree(req->out_sg);
	kfree(req);
}

/*
 * Allocate a request of @type for @uuid.  @ranges (kvmalloc'ed) and
 * @payload (kmalloc'ed) become the request's and are freed with it, also
 * on failure here.
 */
static struct vdmabuf_req *
vdmabuf_req_alloc(u32 type, const u8 *uuid,
		  struct virtio_vdmabuf_range *ranges, size_t ranges_len,
		  void *payload, size_t payload_len)
{
	struct vdmabuf_req *req;
	unsigned int n, i = 0;
	size_t hdr_len;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		goto err_free_args;
	req->ranges = ranges;
	req->payload = payload;
	init_completion(&req->done);
	req->type = type;
	req->hdr.hdr.type = cpu_to_le32(type);
	if (uuid)
		memcpy(req->hdr.hdr.uuid, uuid, sizeof(req->hdr.hdr.uuid));

	switch (type) {
	case VIRTIO_VDMABUF_REQ_EXPORT:
		hdr_len = sizeof(req->hdr.exp);
		break;
	case VIRTIO_VDMABUF_REQ_PRESENT:
		hdr_len = sizeof(req->hdr.present);
		break;
	default:
		hdr_len = sizeof(req->hdr.hdr);
		break;
	}

	n = 1 + !!payload_len;
	if (ranges_len)
		n += is_vmalloc_addr(ranges) ?
			DIV_ROUND_UP(offset_in_page(ranges) + ranges_len,
				     PAGE_SIZE) : 1;
	req->out_sg = kmalloc_array(n, sizeof(*req->out_sg), GFP_KERNEL);
	if (!req->out_sg)
		goto err_free_req;
	sg_init_table(req->out_sg, n);
	req->nr_out = n;

	sg_set_buf(&req->out_sg[i++], &req->hdr, hdr_len);
	if (ranges_len && is_vmalloc_addr(ranges)) {
		const u8 *p = (const u8 *)ranges;
		size_t left = ranges_len;

		while (left) {
			size_t chunk = min_t(size_t, left,
					     PAGE_SIZE - offset_in_page(p));

			sg_set_page(&req->out_sg[i++], vmalloc_to_page(p),
				    chunk, offset_in_page(p));
			p += chunk;
			left -= chunk;
		}
	} else if (ranges_len) {
		sg_set_buf(&req->out_sg[i++], ranges, ranges_len);
	}
	if (payload_len)
		sg_set_buf(&req->out_sg[i++], payload, payload_len);
	sg_init_one(&req->in_sg, &req->resp, sizeof(req->resp));
	return req;

err_free_req:
	vdmabuf_req_free(req);
	return NULL;
err_free_args:
	kvfree(ranges);
	kfree(payload);
	return NULL;
}

/*
 * Queue @req on the requestq.  With @wait, sleep (killable) while the ring
 * is full; else return -ENOSPC.  A chain longer than the queue, which the
 * virtio spec forbids with indirect descriptors too, gets -E2BIG: it
 * would never fit (vdmabuf_ranges_fit() keeps EXPORTs within it).
 */
static int vdmabuf_req_submit(struct vdmabuf_dev *dev, struct vdmabuf_req *req,
			      bool wait)
{
	struct scatterlist *sgs[2] = { req->out_sg, &req->in_sg };
	unsigned long gen = 0;
	bool notify = false;
	int err;

	for (;;) {
		mutex_lock(&dev->vq_lock);
		if (!dev->vq_ready) {
			err = -ENODEV;
		} else if (req->nr_out + 1 >
			   virtqueue_get_vring_size(dev->req_vq)) {
			err = -E2BIG;
		} else {
			err = virtqueue_add_sgs(dev->req_vq, sgs, 1, 1, req,
						GFP_KERNEL);
			if (!err)
				notify = virtqueue_kick_prepare(dev->req_vq);
			gen = dev->req_gen;
		}
		mutex_unlock(&dev->vq_lock);

		if (!err) {
			/*
			 * The vq stays until vdmabuf_stop() has cancelled
			 * unexport_work and taken state_sem for write (the
			 * ioctls hold it for read).
			 */
			if (notify)
				virtqueue_notify(dev->req_vq);
			return 0;
		}
		if (err != -ENOSPC || !wait)
			return err;
		err = wait_event_killable(dev->req_wq,
					  READ_ONCE(dev->req_gen) != gen ||
					  !READ_ONCE(dev->vq_ready));
		if (err)
			return err;
	}
}

/*
 * Wait for the device to return @req.  Returns 0 when it did, -EINTR when
 * the caller was killed first: the request is then abandoned and belongs to
 * the requestq work, the caller must not touch it again.
 */
static int vdmabuf_req_wait(struct vdmabuf_dev *dev, struct vdmabuf_req *req)
{
	if (!wait_for_completion_killable(&req->done))
		return 0;

	mutex_lock(&dev->vq_lock);
	if (!req->returned) {
		req->abandoned = true;
		mutex_unlock(&dev->vq_lock);
		return -EINTR;
	}
	mutex_unlock(&dev->vq_lock);
	/* Returned, completion on its way. */
	wait_for_completion(&req->done);
	return 0;
}

static int vdmabuf_req_result(struct vdmabuf_req *req)
{
	if (req->err)
		return req->err;
	if (req->used_len < sizeof(req->resp))
		return -EIO;
	return vdmabuf_status_errno(le32_to_cpu(req->resp.status));
}

static void vdmabuf_exp_drop_deferred(struct vdmabuf_dev *dev,
				      struct vdmabuf_exp *exp);

/*
 * Move @exp between live and unexported, counting the unexported ones.  A
 * frame still waiting for its fences is dropped on unexport: its
 * FRAME_DONE must come before the RELEASED that may follow at once.
 */
static void vdmabuf_exp_set_state(struct vdmabuf_dev *dev,
				  struct vdmabuf_exp *exp, u32 state)
{
	lockdep_assert_held(&dev->lock);
	if (exp->state == VDMABUF_STATE_UNEXPORTED)
		dev->nr_unexported--;
	exp->state = state;
	if (state == VDMABUF_STATE_UNEXPORTED) {
		dev->nr_unexported++;
		vdmabuf_exp_drop_deferred(dev, exp);
	}
}

/* Queue the UNEXPORT of @exp for unexport_work.  Caller holds dev->lock. */
static void vdmabuf_exp_queue_unexport(struct vdmabuf_dev *dev,
				       struct vdmabuf_exp *exp)
{
	lockdep_assert_held(&dev->lock);
	vdmabuf_exp_set_state(dev, exp, VDMABUF_STATE_UNEXPORTED);
	list_add_tail(&exp->unexport_node, &dev->unexport_list);
	/* Now, even while a refused UNEXPORT waits for its retry */
	mod_delayed_work(system_wq, &dev->unexport_work, 0);
}

/* ---------------------------------------------------------------------- */
/* Exports                                                                 */
/* ---------------------------------------------------------------------- */

static u32 vdmabuf_uuid_hash(const u8 *uuid)
{
	return jhash(uuid, 16, 0);
}

static struct vdmabuf_exp *vdmabuf_find(struct vdmabuf_dev *dev, const u8 *uuid)
{
	struct vdmabuf_exp *exp;

	lockdep_assert_held(&dev->lock);
	hash_for_each_possible(dev->exports, exp, hnode, vdmabuf_uuid_hash(uuid))
		if (!memcmp(exp->uuid, uuid, sizeof(exp->uuid)))
			return exp;
	return NULL;
}

/*
 * An exporter that can move its buffers (a TTM driver) keeps this one in
 * place while vdmabuf_map_new()'s pin holds, from before the mapping is
 * made until after it is gone: the dma-buf contract forbids moving a
 * pinned buffer.  It may move it while we pin it (amdgpu's pin migrates a
 * buffer from VRAM to GTT and notifies every dynamic attachment), before
 * any address is taken, and vdmabuf_exp_map() waits for that move's
 * fences; a notification then is no news.  One while the mapping exists
 * means the exporter moved a buffer the device is using.
 */
static void __maybe_unused
vdmabuf_move_notify(struct dma_buf_attachment *attach)
{
	struct vdmabuf_map *map = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	WARN_ONCE(map->sgt, "virtio_vdmabuf: %s moved a pinned buffer\n",
		  attach->dmabuf->exp_name);
}

static const struct dma_buf_attach_ops vdmabuf_importer_ops = {
	.allow_peer2peer = false,
	VDMABUF_COMPAT_MOVE_NOTIFY(vdmabuf_move_notify)
};

static struct vdmabuf_map *vdmabuf_map_find(struct vdmabuf_dev *dev,
					    struct dma_buf *dmabuf)
{
	struct vdmabuf_map *map;

	lockdep_assert_held(&dev->map_lock);
	hash_for_each_possible(dev->maps, map, hnode, (unsigned long)dmabuf)
		if (map->dmabuf == dmabuf)
			return map;
	return NULL;
}

/* Attach to, pin and map @dmabuf for the device, in a new map. */
static struct vdmabuf_map *vdmabuf_map_new(struct vdmabuf_dev *dev,
					   struct dma_buf *dmabuf)
{
	struct dma_buf_attachment *attach;
	struct vdmabuf_map *map;
	struct sg_table *sgt;
	int ret;

	lockdep_assert_held(&dev->map_lock);
	map = kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return ERR_PTR(-ENOMEM);
	attach = dma_buf_dynamic_attach(dmabuf, dev->vdev->dev.parent,
					&vdmabuf_importer_ops, map);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err_free;
	}
	ret = dma_resv_lock_interruptible(dmabuf->resv, NULL);
	if (ret)
		goto err_detach;
	ret = dma_buf_pin(attach);
	if (ret)
		goto err_unlock;
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_unpin;
	}
	map->attach = attach;
	map->sgt = sgt;
	dma_resv_unlock(dmabuf->resv);
	get_dma_buf(dmabuf);
	map->dmabuf = dmabuf;
	map->dev = dev;
	map->users = 1;
	return map;

err_unpin:
	dma_buf_unpin(attach);
err_unlock:
	dma_resv_unlock(dmabuf->resv);
err_detach:
	dma_buf_detach(dmabuf, attach);
err_free:
	kfree(map);
	return ERR_PTR(ret);
}

/* Take a user of @map, unless its last one is gone (it is dead_maps'). */
static bool vdmabuf_map_tryget(struct vdmabuf_map *map)
{
	struct vdmabuf_dev *dev = map->dev;
	bool live;

	spin_lock(&dev->map_ref_lock);
	live = map->users;
	if (live)
		map->users++;
	spin_unlock(&dev->map_ref_lock);
	return live;
}

/*
 * An export stops using @map; the last one queues its teardown, so that
 * the works that deliver events never wait for a reservation lock.
 */
static void vdmabuf_map_put(struct vdmabuf_map *map)
{
	struct vdmabuf_dev *dev = map->dev;
	bool last;

	spin_lock(&dev->map_ref_lock);
	WARN_ON(!map->users);
	last = !--map->users;
	if (last)
		list_add_tail(&map->dead, &dev->dead_maps);
	spin_unlock(&dev->map_ref_lock);
	if (last)
		queue_work(system_wq, &dev->unmap_work);
}

/* Unmap, unpin and detach @map, which no export uses, and free it. */
static void vdmabuf_map_free(struct vdmabuf_map *map)
{
	struct dma_buf *dmabuf = map->dmabuf;

	lockdep_assert_held(&map->dev->map_lock);
	hash_del(&map->hnode);
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_unmap_attachment(map->attach, map->sgt, DMA_BIDIRECTIONAL);
	map->sgt = NULL;
	dma_buf_unpin(map->attach);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, map->attach);
	dma_buf_put(dmabuf);
	kfree(map);
}

/* Tear down the maps no export uses.  May sleep. */
static void vdmabuf_map_reap(struct vdmabuf_dev *dev)
{
	struct vdmabuf_map *map, *tmp;
	LIST_HEAD(list);

	lockdep_assert_held(&dev->map_lock);
	spin_lock(&dev->map_ref_lock);
	list_splice_init(&dev->dead_maps, &list);
	spin_unlock(&dev->map_ref_lock);

	list_for_each_entry_safe(map, tmp, &list, dead)
		vdmabuf_map_free(map);
}

static void vdmabuf_unmap_work(struct work_struct *work)
{
	struct vdmabuf_dev *dev = container_of(work, struct vdmabuf_dev,
					       unmap_work);

	mutex_lock(&dev->map_lock);
	vdmabuf_map_reap(dev);
	mutex_unlock(&dev->map_lock);
}

static void vdmabuf_free_nodes(struct list_head *list)
{
	struct vdmabuf_evt_node *node, *tmp;

	list_for_each_entry_safe(node, tmp, list, node) {
		list_del(&node->node);
		kfree(node);
	}
}

/*
 * Charge @pages to @user's locked memory within the caller's
 * RLIMIT_MEMLOCK, as io_uring and iommufd (and the host driver) do: an
 * export pins its buffer until the device releases it, which the
 * exporting process does not control.
 */
static int vdmabuf_charge(struct user_struct *user, unsigned long pages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;

	cur = atomic_long_read(&user->locked_vm);
	do {
		new = cur + pages;
		if (new < cur || new > limit)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	return 0;
}

/*
 * Drop the mapping (torn down by unmap_work if this was its last user)
 * and the dma-buf reference; frees @exp.  May sleep; of our locks, takes
 * only map_ref_lock.
 */
static void vdmabuf_exp_destroy(struct vdmabuf_exp *exp)
{
	if (exp->map)
		vdmabuf_map_put(exp->map);
	if (exp->dmabuf)
		dma_buf_put(exp->dmabuf);
	if (exp->user) {
		atomic_long_sub(exp->charged, &exp->user->locked_vm);
		free_uid(exp->user);
	}
	vdmabuf_free_nodes(&exp->frames);
	kfree(exp->released);
	vdmabuf_req_free(exp->unexport_req);
	kfree(exp);
}

static void vdmabuf_deliver(struct vdmabuf_file *vf,
			    struct vdmabuf_evt_node *node)
{
	spin_lock(&vf->ev_lock);
	list_add_tail(&node->node, &vf->events);
	vf->nr_events++;
	spin_unlock(&vf->ev_lock);
	if (vf->client)
		queue_work(system_wq, &vf->client->work);
	else
		wake_up_interruptible_poll(&vf->ev_wq, EPOLLIN | EPOLLRDNORM);
}

/* The device accepted @exp: make it live.  Caller holds dev->lock. */
static void vdmabuf_exp_publish(struct vdmabuf_dev *dev,
				struct vdmabuf_exp *exp,
				struct vdmabuf_file *owner)
{
	lockdep_assert_held(&dev->lock);
	hash_add(dev->exports, &exp->hnode, vdmabuf_uuid_hash(exp->uuid));
	vdmabuf_exp_set_state(dev, exp, VDMABUF_STATE_EXPORTED);
	exp->owner = owner;
	if (owner) {
		list_add_tail(&exp->owner_node, &owner->exports);
		owner->live_exports++;
		owner->live_bytes += exp->size;
	}
}

/*
 * Count an export of @size bytes about to be sent in @dev->live_exports
 * and @dev->live_bytes, within what the device takes (the spec's EXPORT
 * rules): max_exports live ones, as many unexported but not yet
 * released, and max_total_size for both.  Checked before the buffer is
 * pinned, so that an export over them pins nothing.
 */
static int vdmabuf_exp_reserve(struct vdmabuf_dev *dev, u64 size)
{
	int ret = 0;

	mutex_lock(&dev->lock);
	if (dev->live_exports - dev->nr_unexported >= dev->cfg.max_exports ||
	    dev->nr_unexported >= dev->cfg.max_exports ||
	    dev->live_bytes + size > dev->cfg.max_total_size) {
		ret = -ENOSPC;
	} else {
		dev->live_exports++;
		dev->live_bytes += size;
	}
	mutex_unlock(&dev->lock);
	return ret;
}

/* An export counted by vdmabuf_exp_reserve() that was not made. */
static void vdmabuf_exp_unreserve(struct vdmabuf_dev *dev, u64 size)
{
	mutex_lock(&dev->lock);
	dev->live_exports--;
	dev->live_bytes -= size;
	mutex_unlock(&dev->lock);
}

/*
 * The device released @exp (or was reset): unlink it and tell its owner.
 * Caller holds dev->lock and destroys @exp after dropping it.
 */
static void vdmabuf_exp_unlink(struct vdmabuf_dev *dev,
			       struct vdmabuf_exp *exp)
{
	struct vdmabuf_evt_node *node = exp->released;

	lockdep_assert_held(&dev->lock);
	hash_del(&exp->hnode);
	list_del_init(&exp->unexport_node);
	if (exp->state == VDMABUF_STATE_UNEXPORTED)
		dev->nr_unexported--;
	dev->live_exports--;
	dev->live_bytes -= exp->size;
	if (exp->owner) {
		list_del(&exp->owner_node);
		exp->owner->live_exports--;
		exp->owner->live_bytes -= exp->size;
		node->ev.type = VDMABUF_EVENT_RELEASED;
		memcpy(node->ev.uuid, exp->uuid, sizeof(node->ev.uuid));
		exp->released = NULL;
		vdmabuf_deliver(exp->owner, node);
		exp->owner = NULL;
	}
}

/* Treat every export as released (device reset).  Caller holds state_sem. */
static void vdmabuf_drop_all(struct vdmabuf_dev *dev)
{
	struct vdmabuf_exp *exp;
	struct hlist_node *tmp;
	LIST_HEAD(dead);
	int bkt;

	mutex_lock(&dev->lock);
	hash_for_each_safe(dev->exports, bkt, tmp, exp, hnode) {
		vdmabuf_exp_unlink(dev, exp);
		list_add(&exp->unexport_node, &dead);
	}
	mutex_unlock(&dev->lock);

	while (!list_empty(&dead)) {
		exp = list_first_entry(&dead, struct vdmabuf_exp, unexport_node);
		list_del(&exp->unexport_node);
		vdmabuf_exp_destroy(exp);
	}
}

/*
 * Take the FRAME_DONE record of one of @exp's pending frames off its list
 * (they are all alike); NULL if none is pending.  Caller holds dev->lock.
 */
static struct vdmabuf_evt_node *vdmabuf_exp_take_frame(struct vdmabuf_dev *dev,
						       struct vdmabuf_exp *exp)
{
	struct vdmabuf_evt_node *node;

	lockdep_assert_held(&dev->lock);
	if (!exp->frames_pending)
		return NULL;
	node = list_first_entry(&exp->frames, struct vdmabuf_evt_node, node);
	list_del(&node->node);
	exp->frames_pending--;
	return node;
}

/*
 * Fill in @node as the FRAME_DONE of frame @seq of @exp and give it to the
 * owner, or free it if the owner is gone.  Caller holds dev->lock.
 */
static void vdmabuf_frame_done(struct vdmabuf_exp *exp,
			       struct vdmabuf_evt_node *node, u32 flags,
			       u64 seq)
{
	node->ev.type = VDMABUF_EVENT_FRAME_DONE;
	node->ev.flags = flags;
	memcpy(node->ev.uuid, exp->uuid, sizeof(node->ev.uuid));
	node->ev.seq = seq;
	if (exp->owner)
		vdmabuf_deliver(exp->owner, node);
	else
		kfree(node);
}

/* Take back the FRAME_DONE record of a PRESENT that failed. */
static void vdmabuf_present_undo(struct vdmabuf_dev *dev, const u8 *uuid)
{
	struct vdmabuf_evt_node *node = NULL;
	struct vdmabuf_exp *exp;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	if (exp)
		node = vdmabuf_exp_take_frame(dev, exp);
	mutex_unlock(&dev->lock);
	kfree(node);
}

/*
 * A frame of @exp with sequence number @seq will not be shown: its
 * FRAME_DONE, flagged dropped, goes to the owner now.  Caller holds
 * dev->lock.
 */
static void vdmabuf_frame_dropped(struct vdmabuf_dev *dev,
				  struct vdmabuf_exp *exp, u64 seq)
{
	struct vdmabuf_evt_node *node = vdmabuf_exp_take_frame(dev, exp);

	if (node)
		vdmabuf_frame_done(exp, node, VDMABUF_EVENT_F_DROPPED, seq);
}

/* The frame waiting for @exp's fences, if any, will not be sent. */
static void vdmabuf_exp_drop_deferred(struct vdmabuf_dev *dev,
				      struct vdmabuf_exp *exp)
{
	lockdep_assert_held(&dev->lock);
	if (!exp->deferred)
		return;
	exp->deferred = NULL;
	vdmabuf_frame_dropped(dev, exp, exp->deferred_seq);
}

/* The device refused a PRESENT of @uuid sent after its fences. */
static void vdmabuf_present_dropped(struct vdmabuf_dev *dev, const u8 *uuid,
				    u64 seq)
{
	struct vdmabuf_exp *exp;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	if (exp)
		vdmabuf_frame_dropped(dev, exp, seq);
	mutex_unlock(&dev->lock);
}

/* Make @req, returned by the device, ready to be submitted again. */
static void vdmabuf_req_reinit(struct vdmabuf_req *req)
{
	reinit_completion(&req->done);
	req->returned = false;
	req->abandoned = false;
	req->err = 0;
	req->used_len = 0;
	memset(&req->resp, 0, sizeof(req->resp));
}

/* Wait before sending again an UNEXPORT that the device refused. */
#define VDMABUF_UNEXPORT_RETRY	HZ

/*
 * The device answered @err to the UNEXPORT @req of @uuid, or was reset
 * first (@req->err).  OK: the export is released when its RELEASED comes,
 * or now if it came before this answer.  -ENOENT: the device does not know
 * the buffer, so nothing of it is left on the host: it is released here
 * (the opener reads RELEASED), and 0 is returned.  Any other refusal: the
 * export is live on the device, and a RELEASED that came first is a
 * device bug, ignored.  If the opener waits for the answer (@waited), the
 * export is live again, with @req as its UNEXPORT, and the opener can
 * retry; otherwise (the opener is gone, or UNEXPORT returned when the
 * request was queued) the request is sent again later, so that the export
 * does not stay pinned for nothing.  Frees @req if it is not kept.
 */
static int vdmabuf_unexport_answered(struct vdmabuf_dev *dev, const u8 *uuid,
				     struct vdmabuf_req *req, int err,
				     bool waited)
{
	struct vdmabuf_exp *exp;
	bool released;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	/* Reset meanwhile: nothing to undo. */
	if (req->err || !exp || exp->state != VDMABUF_STATE_UNEXPORTED ||
	    exp->unexport_req) {
		mutex_unlock(&dev->lock);
		vdmabuf_req_free(req);
		return err;
	}
	released = exp->released_early;
	exp->released_early = false;
	if (!err || err == -ENOENT) {
		exp->unexport_ok = true;
		if (released || err) {
			vdmabuf_exp_unlink(dev, exp);
			mutex_unlock(&dev->lock);
			vdmabuf_exp_destroy(exp);
		} else {
			mutex_unlock(&dev->lock);
		}
		vdmabuf_req_free(req);
		return 0;
	}
	if (released)
		dev_warn_once(&dev->vdev->dev,
			      "RELEASED for a live buffer %pUb\n", uuid);
	dev_warn_ratelimited(&dev->vdev->dev, "UNEXPORT of %pUb refused: %d\n",
			     uuid, err);
	vdmabuf_req_reinit(req);
	exp->unexport_req = req;
	if (waited && exp->owner) {
		vdmabuf_exp_set_state(dev, exp, VDMABUF_STATE_EXPORTED);
	} else {
		list_add_tail(&exp->unexport_node, &dev->unexport_list);
		queue_delayed_work(system_wq, &dev->unexport_work,
				   VDMABUF_UNEXPORT_RETRY);
	}
	mutex_unlock(&dev->lock);
	return err;
}

/* The device returned a request whose waiter is gone. */
static void vdmabuf_req_orphan(struct vdmabuf_dev *dev, struct vdmabuf_req *req)
{
	int err = vdmabuf_req_result(req);

	switch (req->type) {
	case VIRTIO_VDMABUF_REQ_EXPORT:
		if (err) {
			vdmabuf_exp_unreserve(dev, req->exp->size);
			vdmabuf_exp_destroy(req->exp);
			break;
		}
		/* Nobody knows the UUID: unexport it at once. */
		mutex_lock(&dev->lock);
		vdmabuf_exp_publish(dev, req->exp, NULL);
		vdmabuf_exp_queue_unexport(dev, req->exp);
		mutex_unlock(&dev->lock);
		break;
	case VIRTIO_VDMABUF_REQ_PRESENT:
		if (err && req->deferred)
			vdmabuf_present_dropped(dev, req->hdr.hdr.uuid,
						le64_to_cpu(req->hdr.present.seq));
		else if (err)
			vdmabuf_present_undo(dev, req->hdr.hdr.uuid);
		break;
	case VIRTIO_VDMABUF_REQ_UNEXPORT:
		vdmabuf_unexport_answered(dev, req->hdr.hdr.uuid, req, err,
					  false);
		return;
	default:
		break;
	}
	vdmabuf_req_free(req);
}

/* Finish a request the device returned or a reset took back. */
static void vdmabuf_req_finish(struct vdmabuf_dev *dev, struct vdmabuf_req *req,
			       bool abandoned)
{
	if (abandoned)
		vdmabuf_req_orphan(dev, req);
	else
		complete(&req->done);
}

static void vdmabuf_req_work(struct work_struct *work)
{
	struct vdmabuf_dev *dev = container_of(work, struct vdmabuf_dev,
					       req_work);
	struct vdmabuf_req *req;
	bool abandoned = false;
	unsigned int len, n;

	for (n = 0; n < VDMABUF_WORK_BUDGET; n++) {
		mutex_lock(&dev->vq_lock);
		req = dev->vq_ready ? virtqueue_get_buf(dev->req_vq, &len) : NULL;
		if (req) {
			req->returned = true;
			req->used_len = len;
			abandoned = req->abandoned;
			dev->req_gen++;
		}
		mutex_unlock(&dev->vq_lock);
		if (!req)
			break;
		wake_up(&dev->req_wq);
		vdmabuf_req_finish(dev, req, abandoned);
	}
	if (n == VDMABUF_WORK_BUDGET)
		schedule_work(&dev->req_work);

	/*
	 * Ring space was freed.  Not mod_delayed_work(): the device does
	 * not get to hurry a refused UNEXPORT's retry by answering.
	 */
	mutex_lock(&dev->lock);
	if (!list_empty(&dev->unexport_list))
		queue_delayed_work(system_wq, &dev->unexport_work, 0);
	mutex_unlock(&dev->lock);
}

static void vdmabuf_unexport_work(struct work_struct *work)
{
	struct vdmabuf_dev *dev = container_of(to_delayed_work(work),
					       struct vdmabuf_dev,
					       unexport_work);
	struct vdmabuf_exp *exp;
	struct vdmabuf_req *req;
	int err;

	mutex_lock(&dev->lock);
	while (!list_empty(&dev->unexport_list)) {
		exp = list_first_entry(&dev->unexport_list, struct vdmabuf_exp,
				       unexport_node);
		req = exp->unexport_req;
		if (req) {
			req->abandoned = true;	/* nobody waits for it */
			err = vdmabuf_req_submit(dev, req, false);
			if (err == -ENOSPC) {
				/* req_work reschedules us when space frees. */
				req->abandoned = false;
				break;
			}
			if (err) {
				/* The device is going away: reset drops all. */
				req->abandoned = false;
				break;
			}
			exp->unexport_req = NULL;
		}
		list_del_init(&exp->unexport_node);
	}
	mutex_unlock(&dev->lock);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

static void vdmabuf_handle_event(struct vdmabuf_dev *dev,
				 const struct virtio_vdmabuf_event *ev)
{
	u32 type = le32_to_cpu(ev->type);
	struct vdmabuf_evt_node *node;
	struct vdmabuf_exp *exp;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, ev->uuid);
	if (!exp) {
		mutex_unlock(&dev->lock);
		dev_warn_ratelimited(&dev->vdev->dev,
				     "event %u for an unknown buffer %pUb\n",
				     type, ev->uuid);
		return;
	}

	switch (type) {
	case VIRTIO_VDMABUF_EVT_RELEASED:
		/*
		 * Only what was unexported, and only once the device took
		 * the UNEXPORT: until then the export is live on the
		 * device, and its memory still the producer's and in use
		 * by the EXPORT and PRESENT paths.  Its UNEXPORT not sent
		 * yet, or refused: ignored.  Sent and not answered yet
		 * (the eventq can overtake the requestq): the answer
		 * decides (vdmabuf_unexport_answered()).
		 */
		if (exp->state != VDMABUF_STATE_UNEXPORTED ||
		    exp->unexport_req) {
			dev_warn_once(&dev->vdev->dev,
				      "RELEASED for a live buffer %pUb\n",
				      ev->uuid);
			break;
		}
		if (!exp->unexport_ok) {
			exp->released_early = true;
			break;
		}
		vdmabuf_exp_unlink(dev, exp);
		mutex_unlock(&dev->lock);
		vdmabuf_exp_destroy(exp);
		return;
	case VIRTIO_VDMABUF_EVT_FRAME_DONE:
		/*
		 * Only of a frame the device has: the one waiting for the
		 * buffer's fences (@deferred) is accounted but not sent.
		 */
		node = exp->frames_pending > !!exp->deferred ?
		       vdmabuf_exp_take_frame(dev, exp) : NULL;
		if (!node) {
			dev_warn_ratelimited(&dev->vdev->dev,
					     "FRAME_DONE without a frame for %pUb\n",
					     ev->uuid);
			break;
		}
		vdmabuf_frame_done(exp, node,
				   le32_to_cpu(ev->flags) &
				   VDMABUF_EVENT_F_REPLACED,
				   le64_to_cpu(ev->seq));
		break;
	default:
		dev_warn_ratelimited(&dev->vdev->dev, "unknown event %u\n",
				     type);
		break;
	}
	mutex_unlock(&dev->lock);
}

static void vdmabuf_evt_work(struct work_struct *work)
{
	struct vdmabuf_dev *dev = container_of(work, struct vdmabuf_dev,
					       evt_work);
	struct virtio_vdmabuf_event *ev;
	struct scatterlist sg;
	unsigned int len, n;

	/* vq_ready is checked at each use: a reset may come at any point. */
	for (n = 0; n < VDMABUF_WORK_BUDGET; n++) {
		mutex_lock(&dev->vq_lock);
		ev = dev->vq_ready ? virtqueue_get_buf(dev->evt_vq, &len) : NULL;
		mutex_unlock(&dev->vq_lock);
		if (!ev)
			break;
		if (len >= sizeof(*ev))
			vdmabuf_handle_event(dev, ev);
		else
			dev_warn_ratelimited(&dev->vdev->dev,
					     "short event (%u bytes)\n", len);
		memset(ev, 0, sizeof(*ev));
		sg_init_one(&sg, ev, sizeof(*ev));
		mutex_lock(&dev->vq_lock);
		/*
		 * A slot was just freed: this fails only on a queue the
		 * transport marked broken (a surprise removal), which a
		 * device can cause: no WARN.
		 */
		if (dev->vq_ready &&
		    virtqueue_add_inbuf(dev->evt_vq, &sg, 1, ev, GFP_KERNEL))
			dev_warn_ratelimited(&dev->vdev->dev,
					     "cannot give the eventq a buffer back\n");
		mutex_unlock(&dev->vq_lock);
	}
	mutex_lock(&dev->vq_lock);
	if (n && dev->vq_ready)
		virtqueue_kick(dev->evt_vq);
	mutex_unlock(&dev->vq_lock);
	if (n == VDMABUF_WORK_BUDGET)
		schedule_work(&dev->evt_work);
}

static void vdmabuf_req_done(struct virtqueue *vq)
{
	struct vdmabuf_dev *dev = vq->vdev->priv;

	schedule_work(&dev->req_work);
}

static void vdmabuf_evt_done(struct virtqueue *vq)
{
	struct vdmabuf_dev *dev = vq->vdev->priv;

	schedule_work(&dev->evt_work);
}

/* ---------------------------------------------------------------------- */
/* ioctls                                                                  */
/* ---------------------------------------------------------------------- */

static bool vdmabuf_events_full(struct vdmabuf_file *vf)
{
	return READ_ONCE(vf->nr_events) >= max_events;
}

/*
 * Is DMA for the device untranslated, i.e. DMA addresses guest-physical?
 * VIRTIO_F_ACCESS_PLATFORM was refused in vdmabuf_validate(); a guest's
 * IOMMU, bounce buffering (forced, or for a device that cannot address
 * all memory) or DMA ops of the platform's own (Xen grants) may still sit
 * in front of the device.
 */
static bool vdmabuf_dma_bounced(struct device *dma_dev)
{
	return device_iommu_mapped(dma_dev) ||
	       is_swiotlb_force_bounce(dma_dev) ||
	       dma_addressing_limited(dma_dev);
}

static bool vdmabuf_dma_is_physical(struct vdmabuf_dev *dev)
{
	return !dev->dma_translated &&
	       !vdmabuf_dma_bounced(dev->vdev->dev.parent);
}

/*
 * Does the DMA API give the device an address other than the
 * guest-physical one (an offset of the platform's, DMA ops of its own)?
 * Tried once, at probe, with a page of our own, unless the checks of
 * every EXPORT refuse already.  -ENOMEM, or 0 with dev->dma_translated
 * set.
 */
static int vdmabuf_dma_test(struct vdmabuf_dev *dev)
{
	struct device *dma_dev = dev->vdev->dev.parent;
	struct page *page;
	dma_addr_t addr;

	if (vdmabuf_dma_bounced(dma_dev))
		return 0;
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	addr = dma_map_page(dma_dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
	if (dma_mapping_error(dma_dev, addr)) {
		__free_page(page);
		return -ENOMEM;
	}
	dev->dma_translated = addr != page_to_phys(page);
	dma_unmap_page(dma_dev, addr, PAGE_SIZE, DMA_TO_DEVICE);
	__free_page(page);
	if (dev->dma_translated)
		dev_warn(&dev->vdev->dev,
			 "DMA addresses are not guest-physical: every EXPORT fails (EOPNOTSUPP)\n");
	return 0;
}

/*
 * Coalesce the DMA ranges of @sgt into a new array.  Returns the number of
 * ranges, -EINVAL when a range is not page aligned, -E2BIG when there are
 * more than @max.
 */
static int vdmabuf_build_ranges(struct sg_table *sgt, u32 max,
				struct virtio_vdmabuf_range **out, u64 *size)
{
	struct virtio_vdmabuf_range *ranges = NULL;
	dma_addr_t start = 0, end = 0;
	struct scatterlist *sg;
	unsigned int pass, i;
	u32 nr = 0;
	int ret;

	for (pass = 0; pass < 2; pass++) {
		*size = 0;
		nr = 0;
		for_each_sgtable_dma_sg(sgt, sg, i) {
			dma_addr_t addr = sg_dma_address(sg);
			unsigned int len = sg_dma_len(sg);

			if (!len)
				continue;
			ret = -EINVAL;
			if (!IS_ALIGNED(addr, VIRTIO_VDMABUF_PAGE_SIZE) ||
			    !IS_ALIGNED(len, VIRTIO_VDMABUF_PAGE_SIZE))
				goto err_free;
			*size += len;
			if (nr && addr == end) {
				end += len;
				continue;
			}
			if (nr && ranges) {
				ranges[nr - 1].addr = cpu_to_le64(start);
				ranges[nr - 1].len = cpu_to_le64(end - start);
			}
			ret = -E2BIG;
			if (nr == max)
				goto err_free;
			nr++;
			start = addr;
			end = addr + len;
		}
		ret = -EINVAL;
		if (!nr)
			goto err_free;
		if (ranges) {
			ranges[nr - 1].addr = cpu_to_le64(start);
			ranges[nr - 1].len = cpu_to_le64(end - start);
			break;
		}
		ranges = kvmalloc_array(nr, sizeof(*ranges), GFP_KERNEL);
		if (!ranges)
			return -ENOMEM;
	}
	*out = ranges;
	return nr;

err_free:
	kvfree(ranges);
	return ret;
}

/*
 * Give @exp the device's map of its dma-buf, made now if no other export
 * has one, then wait for the exporter's kernel work on the buffer (a TTM
 * exporter may still be moving it to where the mapping says it is), as
 * virtio-gpu's import does.  On failure @exp may hold the map already:
 * vdmabuf_exp_destroy() drops it.
 */
static int vdmabuf_exp_map(struct vdmabuf_dev *dev, struct vdmabuf_exp *exp)
{
	struct dma_buf *dmabuf = exp->dmabuf;
	struct vdmabuf_map *map;
	long wait;
	int ret;

	ret = mutex_lock_interruptible(&dev->map_lock);
	if (ret)
		return ret;
	map = vdmabuf_map_find(dev, dmabuf);
	if (map && !vdmabuf_map_tryget(map)) {
		/* Its last user is gone: tear it down before a new one */
		spin_lock(&dev->map_ref_lock);
		list_del(&map->dead);
		spin_unlock(&dev->map_ref_lock);
		vdmabuf_map_free(map);
		map = NULL;
	}
	if (!map) {
		map = vdmabuf_map_new(dev, dmabuf);
		if (IS_ERR(map)) {
			mutex_unlock(&dev->map_lock);
			return PTR_ERR(map);
		}
		hash_add(dev->maps, &map->hnode, (unsigned long)dmabuf);
	}
	mutex_unlock(&dev->map_lock);
	exp->map = map;

	/* The time left (a long), or -ERESTARTSYS; needs no lock */
	wait = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_KERNEL, true,
				     MAX_SCHEDULE_TIMEOUT);
	return wait < 0 ? wait : 0;
}

/*
 * A new export of @dmabuf (the export takes a reference of its own), its
 * size charged to the caller's locked memory if @charge; not attached yet
 * (vdmabuf_exp_map()).
 */
static struct vdmabuf_exp *vdmabuf_exp_new(struct dma_buf *dmabuf,
					   bool charge)
{
	struct vdmabuf_exp *exp;
	int ret = -ENOMEM;

	exp = kzalloc(sizeof(*exp), GFP_KERNEL_ACCOUNT);
	if (!exp)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&exp->frames);
	INIT_LIST_HEAD(&exp->unexport_node);
	INIT_LIST_HEAD(&exp->owner_node);
	exp->released = kzalloc(sizeof(*exp->released), GFP_KERNEL_ACCOUNT);
	if (!exp->released)
		goto err_destroy;
	/* Its UUID is filled in with the export's. */
	exp->unexport_req = vdmabuf_req_alloc(VIRTIO_VDMABUF_REQ_UNEXPORT, NULL,
					      NULL, 0, NULL, 0);
	if (!exp->unexport_req)
		goto err_destroy;

	get_dma_buf(dmabuf);
	exp->dmabuf = dmabuf;
	/* Before anything is pinned: a foreign dma-buf may be of any size. */
	if (charge && !capable(CAP_IPC_LOCK)) {
		exp->user = get_uid(current_user());
		ret = vdmabuf_charge(exp->user,
				     PAGE_ALIGN(exp->dmabuf->size) >> PAGE_SHIFT);
		if (ret)
			goto err_destroy;
		exp->charged = PAGE_ALIGN(exp->dmabuf->size) >> PAGE_SHIFT;
	}
	return exp;

err_destroy:
	vdmabuf_exp_destroy(exp);
	return ERR_PTR(ret);
}

/*
 * Send the EXPORT of @exp, whose ranges and @meta become the request's
 * (freed with it), and wait for the device's answer.  If the caller is
 * killed meanwhile, the request and @exp are left to the requestq work
 * (*@abandoned); otherwise @exp stays the caller's.
 */
static int vdmabuf_exp_send(struct vdmabuf_dev *dev, struct vdmabuf_exp *exp,
			    struct virtio_vdmabuf_range *ranges, void *meta,
			    u32 meta_len, bool *abandoned)
{
	struct vdmabuf_req *req;
	int ret;

	*abandoned = false;
	req = vdmabuf_req_alloc(VIRTIO_VDMABUF_REQ_EXPORT, exp->uuid, ranges,
				exp->nr_ranges * sizeof(*ranges), meta,
				meta_len);
	if (!req)
		return -ENOMEM;
	req->exp = exp;
	req->hdr.exp.size = cpu_to_le64(exp->size);
	req->hdr.exp.nr_ranges = cpu_to_le32(exp->nr_ranges);
	req->hdr.exp.meta_len = cpu_to_le32(meta_len);

	ret = vdmabuf_req_submit(dev, req, true);
	if (!ret) {
		ret = vdmabuf_req_wait(dev, req);
		if (ret) {
			*abandoned = true;
			return ret;
		}
		ret = vdmabuf_req_result(req);
	}
	vdmabuf_req_free(req);
	return ret;
}

/* What refuses an EXPORT before anything is attached or pinned. */
static int vdmabuf_export_check(struct vdmabuf_file *vf,
				const struct vdmabuf_export *arg)
{
	struct vdmabuf_dev *dev = vf->dev;

	lockdep_assert_held(&dev->state_sem);
	/* Unlocked: vdmabuf_export() checks @closed again under dev->lock */
	if (!dev->ready || READ_ONCE(vf->closed))
		return -ENODEV;
	if (arg->meta_len > dev->cfg.max_meta_len)
		return -E2BIG;
	if (vdmabuf_events_full(vf))
		return -ENOBUFS;
	if (!vdmabuf_dma_is_physical(dev))
		return -EOPNOTSUPP;
	return 0;
}

/*
 * EXPORT of @dmabuf (@arg->fd's, or a client's), with the metadata @meta
 * (freed here) already copied in: no user memory is touched under
 * state_sem, which remove() waits for.  Fills in @arg's results.
 */
static int vdmabuf_export(struct vdmabuf_file *vf, struct dma_buf *dmabuf,
			  struct vdmabuf_export *arg, void *meta)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct virtio_vdmabuf_range *ranges;
	struct vdmabuf_exp *exp;
	bool abandoned;
	int nr, ret;
	u64 size;

	ret = down_read_killable(&dev->state_sem);
	if (ret)
		goto out_free_meta;
	ret = vdmabuf_export_check(vf, arg);
	if (ret)
		goto out_unlock_state;
	/* A client's exports are the client's (DOC: in-kernel clients) */
	exp = vdmabuf_exp_new(dmabuf, !vf->client);
	if (IS_ERR(exp)) {
		ret = PTR_ERR(exp);
		goto out_unlock_state;
	}

	/* The device's limits before anything is pinned or moved. */
	ret = -ENOSPC;
	if (exp->dmabuf->size > dev->cfg.max_export_size)
		goto err_destroy_exp;
	ret = vdmabuf_exp_reserve(dev, exp->dmabuf->size);
	if (ret)
		goto err_destroy_exp;
	exp->size = exp->dmabuf->size;

	ret = vdmabuf_exp_map(dev, exp);
	if (ret)
		goto err_unreserve;
	nr = vdmabuf_build_ranges(exp->map->sgt, dev->cfg.max_ranges, &ranges,
				  &size);
	if (nr < 0) {
		ret = nr;
		goto err_unreserve;
	}
	ret = -EINVAL;
	if (size != exp->size)
		goto err_free_ranges;
	exp->nr_ranges = nr;
	/*
	 * A random version 4 UUID: the device answers EEXIST only for a
	 * collision, which 122 random bits make impossible in practice.
	 */
	generate_random_uuid(exp->uuid);
	memcpy(exp->unexport_req->hdr.hdr.uuid, exp->uuid, sizeof(exp->uuid));

	ret = vdmabuf_exp_send(dev, exp, ranges, meta, arg->meta_len,
			       &abandoned);
	meta = NULL;	/* the request's, freed with it */
	if (abandoned)
		goto out_unlock_state;
	if (ret)
		goto err_unreserve;

	mutex_lock(&dev->lock);
	if (vf->closed) {
		/* A client's callback, racing its close: nobody owns it */
		vdmabuf_exp_publish(dev, exp, NULL);
		vdmabuf_exp_queue_unexport(dev, exp);
		ret = -ENODEV;
	} else {
		vdmabuf_exp_publish(dev, exp, vf);
	}
	mutex_unlock(&dev->lock);
	if (ret)
		goto out_unlock_state;
	arg->nr_ranges = nr;
	arg->size = size;
	memcpy(arg->uuid, exp->uuid, sizeof(arg->uuid));
	goto out_unlock_state;

err_free_ranges:
	kvfree(ranges);
err_unreserve:
	vdmabuf_exp_unreserve(dev, exp->size);
err_destroy_exp:
	vdmabuf_exp_destroy(exp);
out_unlock_state:
	up_read(&dev->state_sem);
out_free_meta:
	kfree(meta);
	return ret;
}

/* Take back a new export whose UUID could not be given to its opener. */
static void vdmabuf_export_lost(struct vdmabuf_file *vf, const u8 *uuid)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_exp *exp;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	if (exp && exp->owner == vf && exp->state == VDMABUF_STATE_EXPORTED)
		vdmabuf_exp_queue_unexport(dev, exp);
	mutex_unlock(&dev->lock);
}

static long vdmabuf_ioctl_export(struct vdmabuf_file *vf, void __user *uarg)
{
	struct vdmabuf_export arg;
	struct dma_buf *dmabuf;
	void *meta = NULL;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags)
		return -EINVAL;
	if (arg.meta_len > VIRTIO_VDMABUF_MAX_META)
		return -E2BIG;
	if (arg.meta_len) {
		meta = memdup_user(u64_to_user_ptr(arg.meta_ptr), arg.meta_len);
		if (IS_ERR(meta))
			return PTR_ERR(meta);
	}

	dmabuf = dma_buf_get(arg.fd);
	if (IS_ERR(dmabuf)) {
		kfree(meta);
		return PTR_ERR(dmabuf);
	}
	ret = vdmabuf_export(vf, dmabuf, &arg, meta);
	dma_buf_put(dmabuf);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		vdmabuf_export_lost(vf, arg.uuid);
		return -EFAULT;
	}
	return 0;
}

/* UNEXPORT of @vf's live export @uuid */
static int vdmabuf_unexport(struct vdmabuf_file *vf, const u8 *uuid)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_req *req;
	struct vdmabuf_exp *exp;
	int ret;

	ret = down_read_killable(&dev->state_sem);
	if (ret)
		return ret;
	ret = -ENODEV;
	if (!dev->ready)
		goto out_unlock_state;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	if (!exp || exp->owner != vf || exp->state != VDMABUF_STATE_EXPORTED ||
	    !exp->unexport_req) {
		mutex_unlock(&dev->lock);
		ret = -ENOENT;
		goto out_unlock_state;
	}
	vdmabuf_exp_set_state(dev, exp, VDMABUF_STATE_UNEXPORTED);
	req = exp->unexport_req;
	/*
	 * Submit while holding the lock so a RELEASED cannot free exp
	 * before it knows the request is gone; do not wait for ring space
	 * here: when the ring is full, unexport_work sends it later.
	 */
	ret = vdmabuf_req_submit(dev, req, false);
	if (ret == -ENOSPC) {
		list_add_tail(&exp->unexport_node, &dev->unexport_list);
		mod_delayed_work(system_wq, &dev->unexport_work, 0);
		mutex_unlock(&dev->lock);
		ret = 0;
		goto out_unlock_state;
	}
	if (ret) {
		vdmabuf_exp_set_state(dev, exp, VDMABUF_STATE_EXPORTED);
		mutex_unlock(&dev->lock);
		goto out_unlock_state;
	}
	exp->unexport_req = NULL;
	mutex_unlock(&dev->lock);

	ret = vdmabuf_req_wait(dev, req);
	if (ret)
		goto out_unlock_state;	/* req abandoned */
	ret = vdmabuf_unexport_answered(dev, uuid, req,
					vdmabuf_req_result(req), true);
out_unlock_state:
	up_read(&dev->state_sem);
	return ret;
}

static long vdmabuf_ioctl_unexport(struct vdmabuf_file *vf, void __user *uarg)
{
	struct vdmabuf_unexport arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.padding)
		return -EINVAL;
	return vdmabuf_unexport(vf, arg.uuid);
}

/* ---------------------------------------------------------------------- */
/* PRESENT after the buffer's write fences                                 */
/* ---------------------------------------------------------------------- */

/**
 * struct vdmabuf_deferred - a PRESENT waiting for its buffer's write fences
 * @cb: on @fence
 * @work: sends @req once @fence has signalled (dev->deferred_wq)
 * @node: in dev->deferred; dev->lock
 * @dev: the device, referenced
 * @fence: the buffer's write fences when PRESENT was called, as one
 *	(dma_resv_get_singleton()), referenced
 * @req: the PRESENT, not submitted yet; NULL once sent
 *
 * The frame is accounted (a FRAME_DONE record on the export) before it
 * waits, so the producer reads one FRAME_DONE for it: the device's, or one
 * with VDMABUF_EVENT_F_DROPPED if it is never sent.  While it waits, the
 * export's @deferred points to it and other PRESENTs of it get -EBUSY, so
 * that frames reach the device in order.
 */
struct vdmabuf_deferred {
	struct dma_fence_cb cb;
	struct work_struct work;
	struct list_head node;
	struct vdmabuf_dev *dev;
	struct dma_fence *fence;
	struct vdmabuf_req *req;
};

static void vdmabuf_dev_free(struct kref *ref);

/*
 * The buffer's write fences, as one, if any has not signalled: a snapshot,
 * as KMS takes one at commit, so that later writes do not hold the frame.
 */
static int vdmabuf_write_fence(struct dma_buf *dmabuf,
			       struct dma_fence **fence)
{
	int ret;

	*fence = NULL;
	ret = dma_resv_lock_interruptible(dmabuf->resv, NULL);
	if (ret)
		return ret;
	ret = dma_resv_get_singleton(dmabuf->resv, DMA_RESV_USAGE_WRITE,
				     fence);
	dma_resv_unlock(dmabuf->resv);
	if (!ret && *fence && dma_fence_is_signaled(*fence)) {
		dma_fence_put(*fence);
		*fence = NULL;
	}
	return ret;
}

static void vdmabuf_deferred_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct vdmabuf_deferred *d = container_of(cb, struct vdmabuf_deferred,
						  cb);

	queue_work(d->dev->deferred_wq, &d->work);
}

/*
 * Send @d's PRESENT if it is still its export's waiting frame (an
 * UNEXPORT drops it, vdmabuf_exp_set_state()), the export live and the
 * device there; drop its frame otherwise.  Queued under dev->lock, as an
 * UNEXPORT is: the frame is either dropped before it is sent or on the
 * ring ahead of the UNEXPORT, never both (the device would answer it
 * NOENT, and its frame would be dropped twice).  A full ring is waited
 * for with the lock dropped.
 */
static void vdmabuf_deferred_send(struct vdmabuf_deferred *d)
{
	struct vdmabuf_dev *dev = d->dev;
	struct vdmabuf_req *req = d->req;
	struct vdmabuf_exp *exp;
	unsigned long gen;
	u8 uuid[16];
	int ret;

	memcpy(uuid, req->hdr.hdr.uuid, sizeof(uuid));
	down_read(&dev->state_sem);
	for (;;) {
		gen = READ_ONCE(dev->req_gen);
		mutex_lock(&dev->lock);
		exp = vdmabuf_find(dev, uuid);
		if (!exp || exp->deferred != d) {
			/* Dropped already, by an UNEXPORT or a reset */
			mutex_unlock(&dev->lock);
			break;
		}
		ret = -ENODEV;
		if (exp->state == VDMABUF_STATE_EXPORTED && dev->ready) {
			/* Nobody waits: vdmabuf_req_orphan() finishes it. */
			req->abandoned = true;
			ret = vdmabuf_req_submit(dev, req, false);
			if (ret)
				req->abandoned = false;
		}
		if (ret == -ENOSPC) {
			mutex_unlock(&dev->lock);
			/* Killable, as vdmabuf_req_submit()'s: no hung task */
			wait_event_killable(dev->req_wq,
					    READ_ONCE(dev->req_gen) != gen ||
					    !READ_ONCE(dev->vq_ready));
			continue;
		}
		if (ret) {
			vdmabuf_exp_drop_deferred(dev, exp);
		} else {
			d->req = NULL;
			exp->deferred = NULL;
		}
		mutex_unlock(&dev->lock);
		break;
	}
	up_read(&dev->state_sem);
}

static void vdmabuf_deferred_work(struct work_struct *work)
{
	struct vdmabuf_deferred *d = container_of(work, struct vdmabuf_deferred,
						  work);
	struct vdmabuf_dev *dev = d->dev;

	vdmabuf_deferred_send(d);
	mutex_lock(&dev->lock);
	list_del(&d->node);
	mutex_unlock(&dev->lock);
	vdmabuf_req_free(d->req);
	dma_fence_put(d->fence);
	kfree(d);
	kref_put(&dev->ref, vdmabuf_dev_free);
}

/*
 * Send the PRESENT @req of @uuid once @fence, the buffer's write fences,
 * has signalled, without making the caller wait.  @req and @fence become
 * the work's.  -EBUSY if another frame of the buffer waits already (a
 * concurrent PRESENT), -ENOMEM.
 */
static int vdmabuf_present_defer(struct vdmabuf_dev *dev, const u8 *uuid,
				 struct vdmabuf_req *req,
				 struct dma_fence *fence)
{
	struct vdmabuf_deferred *d;
	struct vdmabuf_exp *exp;

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return -ENOMEM;
	INIT_WORK(&d->work, vdmabuf_deferred_work);
	d->fence = fence;
	d->req = req;
	req->deferred = true;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	/* Unexported meanwhile: its frame gets no FRAME_DONE from the device */
	if (!exp || exp->state != VDMABUF_STATE_EXPORTED || exp->deferred) {
		mutex_unlock(&dev->lock);
		kfree(d);
		return exp && exp->deferred ? -EBUSY : -ENOENT;
	}
	exp->deferred = d;
	exp->deferred_seq = le64_to_cpu(req->hdr.present.seq);
	kref_get(&dev->ref);
	d->dev = dev;
	list_add_tail(&d->node, &dev->deferred);
	/* Signalled meanwhile: send it now. */
	if (dma_fence_add_callback(fence, &d->cb, vdmabuf_deferred_cb))
		queue_work(dev->deferred_wq, &d->work);
	mutex_unlock(&dev->lock);
	return 0;
}

/*
 * The device was removed (dev->gone): run at once every PRESENT still
 * waiting for its fence, which drops its frame, and wait for them.
 */
static void vdmabuf_deferred_cancel(struct vdmabuf_dev *dev)
{
	struct vdmabuf_deferred *d;

	mutex_lock(&dev->lock);
	list_for_each_entry(d, &dev->deferred, node)
		if (dma_fence_remove_callback(d->fence, &d->cb))
			queue_work(dev->deferred_wq, &d->work);
	mutex_unlock(&dev->lock);
	flush_workqueue(dev->deferred_wq);
}

/*
 * The damage rectangles of a PRESENT, copied in and converted to the
 * wire's little-endian in place (the layouts match); NULL for none.
 */
static struct virtio_vdmabuf_rect *
vdmabuf_present_rects(const struct vdmabuf_present *arg)
{
	struct virtio_vdmabuf_rect *rects;
	struct vdmabuf_rect *urects;
	unsigned int i;

	if (!arg->nr_rects)
		return NULL;
	/* nr_rects is at most VIRTIO_VDMABUF_MAX_RECTS: no overflow. */
	urects = memdup_user(u64_to_user_ptr(arg->rects_ptr),
			     arg->nr_rects * sizeof(*urects));
	if (IS_ERR(urects))
		return ERR_CAST(urects);
	rects = (struct virtio_vdmabuf_rect *)urects;
	for (i = 0; i < arg->nr_rects; i++) {
		struct vdmabuf_rect r = urects[i];

		rects[i].x = cpu_to_le32(r.x);
		rects[i].y = cpu_to_le32(r.y);
		rects[i].width = cpu_to_le32(r.width);
		rects[i].height = cpu_to_le32(r.height);
	}
	return rects;
}

/*
 * Account the frame of a PRESENT of @uuid by @vf before it is sent (its
 * FRAME_DONE may beat the response): @node is then the export's, and
 * *@dmabuf a reference to its buffer.  -EBUSY while an earlier frame of
 * the buffer waits for its write fences.
 */
static int vdmabuf_present_account(struct vdmabuf_file *vf, const u8 *uuid,
				   struct vdmabuf_evt_node *node,
				   struct dma_buf **dmabuf)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_exp *exp;
	int ret = 0;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, uuid);
	if (!exp || exp->owner != vf || exp->state != VDMABUF_STATE_EXPORTED) {
		ret = -ENOENT;
	} else if (exp->deferred) {
		ret = -EBUSY;
	} else {
		list_add_tail(&node->node, &exp->frames);
		exp->frames_pending++;
		get_dma_buf(exp->dmabuf);
		*dmabuf = exp->dmabuf;
	}
	mutex_unlock(&dev->lock);
	return ret;
}

/* PRESENT under state_sem, with the rectangles (freed here) copied in. */
static int vdmabuf_present(struct vdmabuf_file *vf,
			   const struct vdmabuf_present *arg,
			   struct virtio_vdmabuf_rect *rects)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_evt_node *node;
	struct dma_fence *fence;
	struct dma_buf *dmabuf;
	struct vdmabuf_req *req;
	int ret;

	ret = down_read_killable(&dev->state_sem);
	if (ret)
		goto out_free_rects;
	ret = -ENODEV;
	if (!dev->ready)
		goto out_unlock_state;
	ret = -EOPNOTSUPP;
	if (!(dev->features & BIT_ULL(VIRTIO_VDMABUF_F_PRESENT)))
		goto out_unlock_state;
	ret = -E2BIG;
	if (arg->nr_rects > dev->cfg.max_rects)
		goto out_unlock_state;
	ret = -ENOBUFS;
	if (vdmabuf_events_full(vf))
		goto out_unlock_state;

	ret = -ENOMEM;
	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		goto out_unlock_state;
	req = vdmabuf_req_alloc(VIRTIO_VDMABUF_REQ_PRESENT, arg->uuid, NULL, 0,
				rects, arg->nr_rects * sizeof(*rects));
	rects = NULL;	/* the request's, freed with it */
	if (!req)
		goto err_free_node;
	req->hdr.present.seq = cpu_to_le64(arg->seq);
	req->hdr.present.nr_rects = cpu_to_le32(arg->nr_rects);

	ret = vdmabuf_present_account(vf, arg->uuid, node, &dmabuf);
	if (ret)
		goto err_free_req;
	/* Implicit sync: the frame is complete once its writers are done. */
	ret = vdmabuf_write_fence(dmabuf, &fence);
	dma_buf_put(dmabuf);
	if (!ret && fence) {
		ret = vdmabuf_present_defer(dev, arg->uuid, req, fence);
		if (!ret)
			goto out_unlock_state;
		dma_fence_put(fence);
	}
	if (ret) {
		vdmabuf_present_undo(dev, arg->uuid);
		goto err_free_req_only;
	}
	ret = vdmabuf_req_submit(dev, req, true);
	if (!ret) {
		ret = vdmabuf_req_wait(dev, req);
		if (ret)
			goto out_unlock_state;	/* req abandoned */
		ret = vdmabuf_req_result(req);
	}
	if (ret)
		vdmabuf_present_undo(dev, arg->uuid);
	vdmabuf_req_free(req);
	goto out_unlock_state;

err_free_req_only:
	vdmabuf_req_free(req);
	goto out_unlock_state;
err_free_req:
	vdmabuf_req_free(req);
err_free_node:
	kfree(node);
out_unlock_state:
	up_read(&dev->state_sem);
out_free_rects:
	kfree(rects);
	return ret;
}

static long vdmabuf_ioctl_present(struct vdmabuf_file *vf, void __user *uarg)
{
	struct virtio_vdmabuf_rect *rects;
	struct vdmabuf_present arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags)
		return -EINVAL;
	if (arg.nr_rects > VIRTIO_VDMABUF_MAX_RECTS)
		return -E2BIG;
	rects = vdmabuf_present_rects(&arg);
	if (IS_ERR(rects))
		return PTR_ERR(rects);
	return vdmabuf_present(vf, &arg, rects);
}

static long vdmabuf_ioctl_query(struct vdmabuf_file *vf, void __user *uarg)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_query arg;
	struct vdmabuf_exp *exp;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;

	mutex_lock(&dev->lock);
	exp = vdmabuf_find(dev, arg.uuid);
	if (!exp || exp->owner != vf) {
		mutex_unlock(&dev->lock);
		return -ENOENT;
	}
	arg.state = exp->state;
	arg.nr_ranges = exp->nr_ranges;
	arg.size = exp->size;
	arg.frames_pending = exp->frames_pending;
	arg.padding = 0;
	mutex_unlock(&dev->lock);

	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static void vdmabuf_info(struct vdmabuf_file *vf, struct vdmabuf_info *info)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_info arg = {};

	down_read(&dev->state_sem);
	arg.features = dev->features;
	arg.max_ranges = dev->cfg.max_ranges;
	arg.max_meta_len = dev->cfg.max_meta_len;
	arg.max_exports = dev->cfg.max_exports;
	arg.max_rects = dev->cfg.max_rects;
	arg.max_export_size = dev->cfg.max_export_size;
	arg.max_total_size = dev->cfg.max_total_size;
	up_read(&dev->state_sem);

	mutex_lock(&dev->lock);
	arg.live_exports = vf->live_exports;
	arg.live_bytes = vf->live_bytes;
	mutex_unlock(&dev->lock);

	arg.alloc_bytes = atomic64_read(&vf->acct->alloc_bytes);
	arg.max_events = max_events;
	spin_lock(&vf->ev_lock);
	arg.queued_events = vf->nr_events;
	spin_unlock(&vf->ev_lock);
	*info = arg;
}

static long vdmabuf_ioctl_info(struct vdmabuf_file *vf, void __user *uarg)
{
	struct vdmabuf_info arg;

	vdmabuf_info(vf, &arg);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static void vdmabuf_outputs(struct vdmabuf_file *vf,
			    struct vdmabuf_outputs *outputs)
{
	struct vdmabuf_dev *dev = vf->dev;

	mutex_lock(&dev->out_lock);
	*outputs = dev->outputs;
	mutex_unlock(&dev->out_lock);
}

static long vdmabuf_ioctl_outputs(struct vdmabuf_file *vf, void __user *uarg)
{
	struct vdmabuf_outputs arg;

	vdmabuf_outputs(vf, &arg);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	WRITE_ONCE(vf->outputs_seen, arg.generation);
	return 0;
}

static long vdmabuf_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct vdmabuf_file *vf = file->private_data;
	void __user *uarg = (void __user *)arg;

	if (READ_ONCE(vf->dev->gone))
		return -ENODEV;
	switch (cmd) {
	case VDMABUF_IOCTL_ALLOC:
		return vdmabuf_ioctl_alloc(vf, uarg);
	case VDMABUF_IOCTL_EXPORT:
		return vdmabuf_ioctl_export(vf, uarg);
	case VDMABUF_IOCTL_UNEXPORT:
		return vdmabuf_ioctl_unexport(vf, uarg);
	case VDMABUF_IOCTL_PRESENT:
		return vdmabuf_ioctl_present(vf, uarg);
	case VDMABUF_IOCTL_QUERY:
		return vdmabuf_ioctl_query(vf, uarg);
	case VDMABUF_IOCTL_INFO:
		return vdmabuf_ioctl_info(vf, uarg);
	case VDMABUF_IOCTL_OUTPUTS:
		return vdmabuf_ioctl_outputs(vf, uarg);
	default:
		return -ENOTTY;
	}
}

/* ---------------------------------------------------------------------- */
/* File operations                                                         */
/* ---------------------------------------------------------------------- */

static void vdmabuf_dev_free(struct kref *ref)
{
	struct vdmabuf_dev *dev = container_of(ref, struct vdmabuf_dev, ref);

	cancel_delayed_work_sync(&dev->unexport_work);
	if (dev->acct)
		vdmabuf_acct_put(dev->acct);
	if (dev->deferred_wq)
		destroy_workqueue(dev->deferred_wq);
	flush_work(&dev->unmap_work);
	WARN_ON(!hash_empty(dev->maps));
	mutex_destroy(&dev->map_lock);
	mutex_destroy(&dev->lock);
	kfree(dev);
}

/* Set up a zeroed @vf as an opener of @dev, which its caller keeps alive. */
static int vdmabuf_file_init(struct vdmabuf_file *vf, struct vdmabuf_dev *dev)
{
	vf->acct = vdmabuf_acct_new(dev->acct);
	if (!vf->acct)
		return -ENOMEM;
	INIT_LIST_HEAD(&vf->exports);
	spin_lock_init(&vf->ev_lock);
	INIT_LIST_HEAD(&vf->events);
	init_waitqueue_head(&vf->ev_wq);
	mutex_init(&vf->read_lock);
	vf->outputs_seen = READ_ONCE(dev->outputs.generation);
	kref_get(&dev->ref);
	vf->dev = dev;
	mutex_lock(&dev->lock);
	list_add_tail(&vf->node, &dev->files);
	mutex_unlock(&dev->lock);
	return 0;
}

/*
 * Close @vf: no event reaches it any more.  Its events are freed; its
 * caller frees @vf.
 */
static void vdmabuf_file_fini(struct vdmabuf_file *vf)
{
	struct vdmabuf_dev *dev = vf->dev;
	struct vdmabuf_exp *exp, *tmp;

	/*
	 * Unexport what is still live; every export stays until the device
	 * releases it, without an owner to tell.
	 */
	mutex_lock(&dev->lock);
	WRITE_ONCE(vf->closed, true);
	list_del(&vf->node);
	list_for_each_entry_safe(exp, tmp, &vf->exports, owner_node) {
		list_del(&exp->owner_node);
		exp->owner = NULL;
		if (exp->state == VDMABUF_STATE_EXPORTED)
			vdmabuf_exp_queue_unexport(dev, exp);
	}
	mutex_unlock(&dev->lock);
	/* Unlinked: nothing queues it again */
	if (vf->client)
		cancel_work_sync(&vf->client->work);

	vdmabuf_free_nodes(&vf->events);
	mutex_destroy(&vf->read_lock);
	vdmabuf_acct_put(vf->acct);
	kref_put(&dev->ref, vdmabuf_dev_free);
}

static int vdmabuf_open(struct inode *inode, struct file *file)
{
	/* misc_open() holds misc_mtx: the device cannot go away here. */
	struct vdmabuf_dev *dev = container_of(file->private_data,
					       struct vdmabuf_dev, misc);
	struct vdmabuf_file *vf;
	int ret;

	vf = kzalloc(sizeof(*vf), GFP_KERNEL_ACCOUNT);
	if (!vf)
		return -ENOMEM;
	ret = vdmabuf_file_init(vf, dev);
	if (ret) {
		kfree(vf);
		return ret;
	}
	file->private_data = vf;
	return stream_open(inode, file);
}

static int vdmabuf_release(struct inode *inode, struct file *file)
{
	struct vdmabuf_file *vf = file->private_data;

	vdmabuf_file_fini(vf);
	kfree(vf);
	return 0;
}

static struct vdmabuf_evt_node *vdmabuf_pop_event(struct vdmabuf_file *vf)
{
	struct vdmabuf_evt_node *node;

	spin_lock(&vf->ev_lock);
	node = list_first_entry_or_null(&vf->events, struct vdmabuf_evt_node,
					node);
	if (node) {
		list_del(&node->node);
		vf->nr_events--;
	}
	spin_unlock(&vf->ev_lock);
	return node;
}

static bool vdmabuf_has_events(struct vdmabuf_file *vf)
{
	bool ret;

	spin_lock(&vf->ev_lock);
	ret = !list_empty(&vf->events);
	spin_unlock(&vf->ev_lock);
	return ret;
}

/*
 * Copy whole records to @buf while they fit: the bytes copied, 0 if none
 * is queued.  Under @vf->read_lock.  A record that cannot be copied goes
 * back first in the queue: events are never dropped.
 */
static ssize_t vdmabuf_copy_events(struct vdmabuf_file *vf, char __user *buf,
				   size_t count)
{
	struct vdmabuf_evt_node *node;
	ssize_t done = 0;

	lockdep_assert_held(&vf->read_lock);
	while (count - done >= sizeof(node->ev)) {
		node = vdmabuf_pop_event(vf);
		if (!node)
			break;
		if (copy_to_user(buf + done, &node->ev, sizeof(node->ev))) {
			spin_lock(&vf->ev_lock);
			list_add(&node->node, &vf->events);
			vf->nr_events++;
			spin_unlock(&vf->ev_lock);
			return done ? done : -EFAULT;
		}
		kfree(node);
		done += sizeof(node->ev);
	}
	return done;
}

/* The device was removed; the acquire orders every event queued before. */
static bool vdmabuf_gone(struct vdmabuf_dev *dev)
{
	/* Pairs with the smp_store_release() in vdmabuf_remove(). */
	return smp_load_acquire(&dev->gone);
}

/*
 * Whole records, in order.  Readers wait for events without @read_lock, so
 * a non-blocking reader never waits for another.  Once the device is
 * removed, what is queued is read first, then -ENODEV.
 */
static ssize_t vdmabuf_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct vdmabuf_file *vf = file->private_data;
	bool nonblock = file->f_flags & O_NONBLOCK;
	ssize_t ret;
	bool gone;

	if (count < sizeof(struct vdmabuf_event))
		return -EINVAL;

	for (;;) {
		gone = vdmabuf_gone(vf->dev);
		if (nonblock) {
			if (!mutex_trylock(&vf->read_lock))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&vf->read_lock)) {
			return -ERESTARTSYS;
		}
		ret = vdmabuf_copy_events(vf, buf, count);
		mutex_unlock(&vf->read_lock);
		if (ret)
			return ret;
		if (gone)
			return -ENODEV;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(vf->ev_wq,
					       vdmabuf_has_events(vf) ||
					       READ_ONCE(vf->dev->gone));
		if (ret)
			return ret;
	}
}

static __poll_t vdmabuf_poll(struct file *file, poll_table *wait)
{
	struct vdmabuf_file *vf = file->private_data;
	__poll_t mask = 0;
	bool gone;

	/*
	 * On the queue first: remove() wakes it after setting gone, and
	 * vdmabuf_read_outputs() after changing the generation.  gone
	 * before the events: once it is set, the last events are queued.
	 */
	poll_wait(file, &vf->ev_wq, wait);
	gone = vdmabuf_gone(vf->dev);
	if (READ_ONCE(vf->dev->outputs.generation) !=
	    READ_ONCE(vf->outputs_seen))
		mask |= EPOLLPRI;
	if (vdmabuf_has_events(vf))
		mask |= EPOLLIN | EPOLLRDNORM | (gone ? EPOLLHUP : 0);
	else if (gone)
		mask |= EPOLLHUP | EPOLLERR;
	return mask;
}

static const struct file_operations vdmabuf_fops = {
	.owner = THIS_MODULE,
	.open = vdmabuf_open,
	.release = vdmabuf_release,
	.read = vdmabuf_read,
	.poll = vdmabuf_poll,
	.unlocked_ioctl = vdmabuf_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* ---------------------------------------------------------------------- */
/* virtio driver                                                           */
/* ---------------------------------------------------------------------- */

/* ---------------------------------------------------------------------- */
/* In-kernel clients (<linux/vdmabuf_client.h>)                            */
/* ---------------------------------------------------------------------- */

/**
 * DOC: in-kernel clients
 *
 * A guest driver (the vdmabuf KMS driver) uses the device as a process
 * does, through a struct vdmabuf_client: an opener like an open file of
 * /dev/virtio-vdmabuf, with the same limits, accounting and rules, whose
 * events go to callbacks instead of read().  The driver adds an auxiliary
 * device, VDMABUF_AUX_DISPLAY, for each device with outputs; a display
 * driver binds to it and opens its client there.  At removal the device
 * is reset first (so that one that stopped answering cannot hold up the
 * display driver's unbind), then the auxiliary device removed: the
 * client's exports are released by the reset before its driver closes it.
 *
 * A client's exports are accounted to the client, as a process's are to
 * its open file (its live exports and bytes, within the device's
 * max_exports and max_total_size), but not to the RLIMIT_MEMLOCK of the
 * task that happens to call vdmabuf_client_export(): for a KMS driver
 * that is a compositor, which pins its scanout buffers through KMS as
 * through any display driver, without CAP_IPC_LOCK and within the
 * default 8 MiB limit that one 1080p buffer exceeds.  The device's limits
 * bound them, and a client bounds its own: the KMS driver keeps at most
 * four framebuffers per output exported (those it unexported stay pinned
 * until released, within the device's limits).
 */

/* A client's events and output changes, in order, out of every lock. */
static void vdmabuf_client_work(struct work_struct *work)
{
	struct vdmabuf_client *client = container_of(work,
						     struct vdmabuf_client,
						     work);
	struct vdmabuf_file *vf = &client->vf;
	struct vdmabuf_evt_node *node;
	unsigned int n;
	u32 gen;

	for (n = 0; n < VDMABUF_WORK_BUDGET; n++) {
		node = vdmabuf_pop_event(vf);
		if (!node)
			break;
		client->ops->event(client, &node->ev);
		kfree(node);
	}
	if (n == VDMABUF_WORK_BUDGET) {
		queue_work(system_wq, work);
		return;
	}
	gen = READ_ONCE(vf->dev->outputs.generation);
	if (gen != READ_ONCE(vf->outputs_seen)) {
		WRITE_ONCE(vf->outputs_seen, gen);
		if (client->ops->outputs_changed)
			client->ops->outputs_changed(client);
	}
}

/**
 * vdmabuf_client_open() - open the device of a display auxiliary device
 * @adev: the VDMABUF_AUX_DISPLAY device the caller's driver is bound to
 * @ops: the callbacks; @ops->event is required
 * @priv: the caller's, returned by vdmabuf_client_priv()
 *
 * The caller closes the client before its driver unbinds from @adev.
 *
 * Return: the client, or an ERR_PTR(): -ENODEV once the device is gone,
 * -ENOMEM.
 */
struct vdmabuf_client *vdmabuf_client_open(struct auxiliary_device *adev,
					   const struct vdmabuf_client_ops *ops,
					   void *priv)
{
	struct vdmabuf_dev *dev = container_of(adev, struct vdmabuf_aux,
					       adev)->dev;
	struct vdmabuf_client *client;
	int ret;

	if (READ_ONCE(dev->gone))
		return ERR_PTR(-ENODEV);
	client = kzalloc(sizeof(*client), GFP_KERNEL);
	if (!client)
		return ERR_PTR(-ENOMEM);
	client->ops = ops;
	client->priv = priv;
	INIT_WORK(&client->work, vdmabuf_client_work);
	client->vf.client = client;
	ret = vdmabuf_file_init(&client->vf, dev);
	if (ret) {
		kfree(client);
		return ERR_PTR(ret);
	}
	return client;
}
EXPORT_SYMBOL_GPL(vdmabuf_client_open);

/**
 * vdmabuf_client_close() - close a client
 * @client: from vdmabuf_client_open()
 *
 * Its live exports are unexported; each stays pinned until just after
 * the device releases it.  No callback runs once this returns.  Must not
 * be called from a callback.
 */
void vdmabuf_client_close(struct vdmabuf_client *client)
{
	vdmabuf_file_fini(&client->vf);
	kfree(client);
}
EXPORT_SYMBOL_GPL(vdmabuf_client_close);

/**
 * vdmabuf_client_priv() - the pointer given to vdmabuf_client_open()
 * @client: the client
 *
 * Return: @priv of vdmabuf_client_open().
 */
void *vdmabuf_client_priv(struct vdmabuf_client *client)
{
	return client->priv;
}
EXPORT_SYMBOL_GPL(vdmabuf_client_priv);

/**
 * vdmabuf_client_dma_device() - the device exports are mapped for
 * @client: the client
 *
 * A display driver imports foreign dma-bufs for it (the auxiliary device
 * does no DMA); their mapping names the pages the export will send.
 *
 * Return: the virtio device's DMA device, valid while @client is open.
 */
struct device *vdmabuf_client_dma_device(struct vdmabuf_client *client)
{
	return client->vf.dev->vdev->dev.parent;
}
EXPORT_SYMBOL_GPL(vdmabuf_client_dma_device);

/**
 * vdmabuf_client_info() - the device's limits and the client's counts
 * @client: the client
 * @info: filled in as VDMABUF_IOCTL_INFO fills in its argument
 */
void vdmabuf_client_info(struct vdmabuf_client *client,
			 struct vdmabuf_info *info)
{
	vdmabuf_info(&client->vf, info);
}
EXPORT_SYMBOL_GPL(vdmabuf_client_info);

/**
 * vdmabuf_client_outputs() - the device's outputs
 * @client: the client
 * @outputs: filled in as VDMABUF_IOCTL_OUTPUTS fills in its argument
 *
 * @client's next &vdmabuf_client_ops.outputs_changed is for a change
 * after this one.
 */
void vdmabuf_client_outputs(struct vdmabuf_client *client,
			    struct vdmabuf_outputs *outputs)
{
	vdmabuf_outputs(&client->vf, outputs);
	WRITE_ONCE(client->vf.outputs_seen, outputs->generation);
}
EXPORT_SYMBOL_GPL(vdmabuf_client_outputs);

/**
 * vdmabuf_client_export() - share a dma-buf with the host
 * @client: the client
 * @dmabuf: the buffer; the export takes a reference of its own, and keeps
 *	it, pinned, until the device releases the export
 * @meta: @meta_len bytes of metadata for the host (copied), or NULL
 * @meta_len: at most the device's max_meta_len
 * @uuid: set to the export's UUID
 *
 * As VDMABUF_IOCTL_EXPORT; sleeps until the device answers.  The pages
 * are not charged to the calling task's RLIMIT_MEMLOCK (DOC: in-kernel
 * clients).
 *
 * Return: 0, or the errors of VDMABUF_IOCTL_EXPORT (-ENOSPC, -E2BIG,
 * -ENOBUFS, -EOPNOTSUPP, ...); -ENODEV if the device is gone or @client
 * is being closed (a callback racing vdmabuf_client_close()), in which
 * case nothing stays exported.
 */
int vdmabuf_client_export(struct vdmabuf_client *client,
			  struct dma_buf *dmabuf, const void *meta,
			  u32 meta_len, u8 uuid[16])
{
	struct vdmabuf_export arg = { .meta_len = meta_len };
	void *copy = NULL;
	int ret;

	if (READ_ONCE(client->vf.dev->gone))
		return -ENODEV;
	if (meta_len > VIRTIO_VDMABUF_MAX_META)
		return -E2BIG;
	if (meta_len) {
		copy = kmemdup(meta, meta_len, GFP_KERNEL);
		if (!copy)
			return -ENOMEM;
	}
	ret = vdmabuf_export(&client->vf, dmabuf, &arg, copy);
	if (!ret)
		memcpy(uuid, arg.uuid, sizeof(arg.uuid));
	return ret;
}
EXPORT_SYMBOL_GPL(vdmabuf_client_export);

/**
 * vdmabuf_client_unexport() - stop sharing one of the client's exports
 * @client: the client
 * @uuid: the export
 *
 * As VDMABUF_IOCTL_UNEXPORT: its RELEASED event follows.
 *
 * Return: 0, -ENOENT if @uuid is not a live export of @client, -ENODEV.
 */
int vdmabuf_client_unexport(struct vdmabuf_client *client, const u8 uuid[16])
{
	if (READ_ONCE(client->vf.dev->gone))
		return -ENODEV;
	return vdmabuf_unexport(&client->vf, uuid);
}
EXPORT_SYMBOL_GPL(vdmabuf_client_unexport);

/**
 * vdmabuf_client_present() - a new frame in one of the client's exports
 * @client: the client
 * @uuid: the export
 * @seq: the frame's number, echoed in its FRAME_DONE
 * @rects: @nr_rects damaged rectangles, or NULL for the whole buffer
 * @nr_rects: at most the device's max_rects
 *
 * As VDMABUF_IOCTL_PRESENT: the frame is sent once the buffer's write
 * fences have signalled, and gets exactly one FRAME_DONE event if this
 * returns 0, unless the device is reset first (freeze, remove), which
 * counts as the RELEASED of the export.
 *
 * Return: 0, or the errors of VDMABUF_IOCTL_PRESENT (-ENOENT, -EBUSY,
 * -E2BIG, -ENOBUFS, -EOPNOTSUPP, ...).
 */
int vdmabuf_client_present(struct vdmabuf_client *client, const u8 uuid[16],
			   u64 seq, const struct vdmabuf_rect *rects,
			   u32 nr_rects)
{
	struct vdmabuf_present arg = { .seq = seq, .nr_rects = nr_rects };
	struct virtio_vdmabuf_rect *wire = NULL;
	u32 i;

	if (READ_ONCE(client->vf.dev->gone))
		return -ENODEV;
	if (nr_rects > VIRTIO_VDMABUF_MAX_RECTS)
		return -E2BIG;
	memcpy(arg.uuid, uuid, sizeof(arg.uuid));
	if (nr_rects) {
		wire = kmalloc_array(nr_rects, sizeof(*wire), GFP_KERNEL);
		if (!wire)
			return -ENOMEM;
		for (i = 0; i < nr_rects; i++) {
			wire[i].x = cpu_to_le32(rects[i].x);
			wire[i].y = cpu_to_le32(rects[i].y);
			wire[i].width = cpu_to_le32(rects[i].width);
			wire[i].height = cpu_to_le32(rects[i].height);
		}
	}
	return vdmabuf_present(&client->vf, &arg, wire);
}
EXPORT_SYMBOL_GPL(vdmabuf_client_present);

static void vdmabuf_aux_release(struct device *d)
{
	struct vdmabuf_aux *aux = container_of(d, struct vdmabuf_aux, adev.dev);

	kref_put(&aux->dev->ref, vdmabuf_dev_free);
	kfree(aux);
}

/* The display auxiliary device of a device with outputs */
static int vdmabuf_add_display(struct vdmabuf_dev *dev)
{
	struct vdmabuf_aux *aux;
	int ret;

	/* vdmabuf_validate() took OUTPUTS away from a device without PRESENT */
	if (!(dev->features & BIT_ULL(VIRTIO_VDMABUF_F_OUTPUTS)))
		return 0;
	aux = kzalloc(sizeof(*aux), GFP_KERNEL);
	if (!aux)
		return -ENOMEM;
	kref_get(&dev->ref);
	aux->dev = dev;
	aux->adev.name = VDMABUF_AUX_DISPLAY;
	aux->adev.id = dev->index;
	aux->adev.dev.parent = &dev->vdev->dev;
	aux->adev.dev.release = vdmabuf_aux_release;
	ret = auxiliary_device_init(&aux->adev);
	if (ret) {
		kref_put(&dev->ref, vdmabuf_dev_free);
		kfree(aux);
		return ret;
	}
	ret = auxiliary_device_add(&aux->adev);
	if (ret) {
		auxiliary_device_uninit(&aux->adev);
		return ret;
	}
	dev->display = &aux->adev;
	return 0;
}

static void vdmabuf_remove_display(struct vdmabuf_dev *dev)
{
	if (!dev->display)
		return;
	auxiliary_device_delete(dev->display);
	auxiliary_device_uninit(dev->display);
	dev->display = NULL;
}

static void vdmabuf_read_config(struct vdmabuf_dev *dev)
{
	struct virtio_device *vdev = dev->vdev;
	u32 v32;
	u64 v64;

	dev->features = vdev->features;

	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_ranges, &v32);
	dev->cfg.max_ranges = min_t(u32, v32, VIRTIO_VDMABUF_MAX_RANGES);
	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_meta_len, &v32);
	dev->cfg.max_meta_len = min_t(u32, v32, VIRTIO_VDMABUF_MAX_META);
	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_exports, &v32);
	dev->cfg.max_exports = v32;
	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_rects, &v32);
	dev->cfg.max_rects = min_t(u32, v32, VIRTIO_VDMABUF_MAX_RECTS);
	if (!virtio_has_feature(vdev, VIRTIO_VDMABUF_F_PRESENT))
		dev->cfg.max_rects = 0;
	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_export_size,
			&v64);
	dev->cfg.max_export_size = v64;
	virtio_cread_le(vdev, struct virtio_vdmabuf_config, max_total_size,
			&v64);
	dev->cfg.max_total_size = v64;
}

/*
 * The outputs of a device with a display (VIRTIO_VDMABUF_F_OUTPUTS), read
 * whole, a 32-bit field at a time as the transports require: an output
 * out of bounds is described as 0 x 0, and there are none if their number
 * is out of bounds.  The generation goes up when they differ from the
 * last ones read, and then every opener's pollers hear EPOLLPRI.  Sleeps;
 * takes dev->lock.
 */
/*
 * Makes @now (its generation aside) the outputs and, if they changed,
 * tells the openers (EPOLLPRI) and the display's client.
 */
static void vdmabuf_set_outputs(struct vdmabuf_dev *dev,
				struct vdmabuf_outputs *now)
{
	struct vdmabuf_file *vf;
	bool changed;

	mutex_lock(&dev->out_lock);
	now->generation = dev->outputs.generation;
	changed = memcmp(now, &dev->outputs, sizeof(*now));
	if (changed) {
		now->generation++;
		/* poll() reads the generation without the lock */
		WRITE_ONCE(dev->outputs.nr_outputs, now->nr_outputs);
		memcpy(dev->outputs.outputs, now->outputs, sizeof(now->outputs));
		WRITE_ONCE(dev->outputs.generation, now->generation);
	}
	mutex_unlock(&dev->out_lock);
	if (!changed)
		return;

	mutex_lock(&dev->lock);
	list_for_each_entry(vf, &dev->files, node) {
		if (vf->client)
			queue_work(system_wq, &vf->client->work);
		else
			wake_up_interruptible_poll(&vf->ev_wq, EPOLLPRI);
	}
	mutex_unlock(&dev->lock);
}

static void vdmabuf_read_outputs(struct vdmabuf_dev *dev)
{
	struct virtio_device *vdev = dev->vdev;
	struct virtio_vdmabuf_outputs outs = {};
	struct vdmabuf_outputs now = {};
	u32 i, n = 0;

	if (virtio_has_feature(vdev, VIRTIO_VDMABUF_F_OUTPUTS)) {
		__virtio_cread_many(vdev, VIRTIO_VDMABUF_OUTPUTS_OFFSET, &outs,
				    sizeof(outs) / sizeof(__le32),
				    sizeof(__le32));
		n = le32_to_cpu(outs.num_outputs);
		if (!n || n > VIRTIO_VDMABUF_MAX_OUTPUTS) {
			dev_warn_once(&vdev->dev, "%u outputs: ignored\n", n);
			n = 0;
		}
	}
	now.nr_outputs = n;
	for (i = 0; i < n; i++) {
		u32 w = le32_to_cpu(outs.outputs[i].width);
		u32 h = le32_to_cpu(outs.outputs[i].height);

		if (w && w <= VIRTIO_VDMABUF_IMAGE_MAX_DIM &&
		    h && h <= VIRTIO_VDMABUF_IMAGE_MAX_DIM) {
			now.outputs[i].width = w;
			now.outputs[i].height = h;
		}
	}
	vdmabuf_set_outputs(dev, &now);
}

static int vdmabuf_init_vqs(struct vdmabuf_dev *dev)
{
	struct virtqueue_info vqs_info[VIRTIO_VDMABUF_VQ_MAX] = {
		[VIRTIO_VDMABUF_VQ_REQ] = { "requestq", vdmabuf_req_done },
		[VIRTIO_VDMABUF_VQ_EVENT] = { "eventq", vdmabuf_evt_done },
	};
	struct virtqueue *vqs[VIRTIO_VDMABUF_VQ_MAX];
	int ret;

	ret = virtio_find_vqs(dev->vdev, VIRTIO_VDMABUF_VQ_MAX, vqs, vqs_info,
			      NULL);
	if (ret)
		return ret;
	dev->req_vq = vqs[VIRTIO_VDMABUF_VQ_REQ];
	dev->evt_vq = vqs[VIRTIO_VDMABUF_VQ_EVENT];

	dev->nr_evt_bufs = min_t(unsigned int, VDMABUF_EVT_BUFS,
				 virtqueue_get_vring_size(dev->evt_vq));
	dev->evt_bufs = kcalloc(dev->nr_evt_bufs, sizeof(*dev->evt_bufs),
				GFP_KERNEL);
	if (!dev->evt_bufs) {
		ret = -ENOMEM;
		goto err_del_vqs;
	}
	return 0;

err_del_vqs:
	dev->vdev->config->del_vqs(dev->vdev);
	return ret;
}

/* Post every event buffer; called with the device ready. */
static void vdmabuf_fill_events(struct vdmabuf_dev *dev)
{
	struct scatterlist sg;
	unsigned int i;

	for (i = 0; i < dev->nr_evt_bufs; i++) {
		sg_init_one(&sg, &dev->evt_bufs[i], sizeof(dev->evt_bufs[i]));
		if (virtqueue_add_inbuf(dev->evt_vq, &sg, 1, &dev->evt_bufs[i],
					GFP_KERNEL))
			break;
	}
	virtqueue_kick(dev->evt_vq);
}

/*
 * The most ranges an EXPORT chain can carry within the requestq: its
 * header, metadata and response take a descriptor each, and the ranges
 * one per page (vdmabuf_req_alloc()).
 */
static u32 vdmabuf_ranges_fit(struct virtqueue *vq)
{
	unsigned int size = virtqueue_get_vring_size(vq);

	if (size <= 3)
		return 0;
	return (size - 3) * (PAGE_SIZE / sizeof(struct virtio_vdmabuf_range));
}

static void vdmabuf_start(struct vdmabuf_dev *dev)
{
	virtio_device_ready(dev->vdev);
	vdmabuf_fill_events(dev);

	mutex_lock(&dev->vq_lock);
	dev->vq_ready = true;
	mutex_unlock(&dev->vq_lock);

	down_write(&dev->state_sem);
	dev->cfg.max_ranges = min(dev->cfg.max_ranges,
				  vdmabuf_ranges_fit(dev->req_vq));
	dev->ready = true;
	up_write(&dev->state_sem);
}

/*
 * Reset the device, take back every buffer, and treat every export as
 * released.  The waiters of pending requests get -ENODEV.
 */
static void vdmabuf_stop(struct vdmabuf_dev *dev)
{
	struct vdmabuf_req *req;

	/*
	 * Already stopped (a failed restore left no virtqueues, or the
	 * device broke): only a status set since needs a reset.
	 */
	if (!dev->evt_bufs) {
		if (dev->vdev->config->get_status(dev->vdev))
			virtio_reset_device(dev->vdev);
		return;
	}

	mutex_lock(&dev->vq_lock);
	dev->vq_ready = false;
	mutex_unlock(&dev->vq_lock);

	virtio_reset_device(dev->vdev);
	cancel_work_sync(&dev->req_work);
	cancel_work_sync(&dev->evt_work);
	cancel_delayed_work_sync(&dev->unexport_work);

	for (;;) {
		bool abandoned;

		mutex_lock(&dev->vq_lock);
		req = virtqueue_detach_unused_buf(dev->req_vq);
		if (req) {
			req->returned = true;
			req->err = -ENODEV;
			abandoned = req->abandoned;
		}
		mutex_unlock(&dev->vq_lock);
		if (!req)
			break;
		vdmabuf_req_finish(dev, req, abandoned);
	}
	while (virtqueue_detach_unused_buf(dev->evt_vq))
		;
	wake_up_all(&dev->req_wq);

	/* Wait for the ioctls still using the device, then tear down. */
	down_write(&dev->state_sem);
	dev->ready = false;
	vdmabuf_drop_all(dev);
	/* The maps' teardowns it queued, before the device goes */
	flush_work(&dev->unmap_work);
	WARN_ON(!hash_empty(dev->maps));
	dev->vdev->config->del_vqs(dev->vdev);
	kfree(dev->evt_bufs);
	dev->evt_bufs = NULL;
	up_write(&dev->state_sem);
}

/*
 * The device is gone for the open files (removed, or broken): each reads
 * its RELEASED events, then -ENODEV; every call fails with -ENODEV.
 */
static void vdmabuf_set_gone(struct vdmabuf_dev *dev)
{
	struct vdmabuf_file *vf;

	mutex_lock(&dev->lock);
	/* Pairs with vdmabuf_gone(): the RELEASED events, then -ENODEV. */
	smp_store_release(&dev->gone, true);
	list_for_each_entry(vf, &dev->files, node)
		wake_up_interruptible_poll(&vf->ev_wq, EPOLLHUP | EPOLLERR);
	mutex_unlock(&dev->lock);
	vdmabuf_deferred_cancel(dev);
}

/*
 * The device is stopped for good (it asked for a reset, or a restore
 * failed): its outputs are disconnected and the open files see it gone.
 */
static void vdmabuf_set_broken(struct vdmabuf_dev *dev)
{
	struct vdmabuf_outputs none = {};

	none.nr_outputs = READ_ONCE(dev->outputs.nr_outputs);
	vdmabuf_set_outputs(dev, &none);
	vdmabuf_set_gone(dev);
}

/*
 * A configuration change: new outputs, or the device marked itself
 * broken (DEVICE_NEEDS_RESET: on a vhost-user host, its daemon is gone).
 * A broken device answers nothing more, so it is stopped and gone for
 * the open files as at a removal: requests waiting for it and new calls
 * fail with -ENODEV, every export is released, and the outputs are
 * disconnected.  It stays so until the driver is bound again (restore
 * refuses it).  remove and freeze cancel this work before they stop the
 * device; a change that comes while it stops the device is ignored.
 */
static void vdmabuf_config_work(struct work_struct *work)
{
	struct vdmabuf_dev *dev = container_of(work, struct vdmabuf_dev,
					       config_work);
	struct virtio_device *vdev = dev->vdev;

	if (vdmabuf_gone(dev))
		return;
	if (!(vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		vdmabuf_read_outputs(dev);
		return;
	}
	dev_err(&vdev->dev,
		"the device needs a reset: stopped, its exports released, its calls failing with ENODEV\n");
	vdmabuf_stop(dev);
	vdmabuf_set_broken(dev);
}

/* Outputs or the device's status changed: read them from a worker */
static void vdmabuf_config_changed(struct virtio_device *vdev)
{
	struct vdmabuf_dev *dev = vdev->priv;

	schedule_work(&dev->config_work);
}

static int vdmabuf_validate(struct virtio_device *vdev)
{
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "needs VIRTIO_F_VERSION_1\n");
		return -ENODEV;
	}
	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	/*
	 * The device would read the ranges as addresses for the platform's
	 * DMA translation (an IOMMU, a confidential guest's shared memory),
	 * and shared buffers are named by guest-physical address: refuse it
	 * here rather than fail every EXPORT.
	 */
	/* The outputs show presented frames: no display without them */
	if (!virtio_has_feature(vdev, VIRTIO_VDMABUF_F_PRESENT))
		__virtio_clear_bit(vdev, VIRTIO_VDMABUF_F_OUTPUTS);
	if (virtio_has_feature(vdev, VIRTIO_F_ACCESS_PLATFORM)) {
		dev_err(&vdev->dev,
			"the device offers VIRTIO_F_ACCESS_PLATFORM: virtio-dmabuf shares buffers by guest-physical address and cannot work behind an IOMMU or in a confidential guest\n");
		return -ENODEV;
	}
	return 0;
}

static int vdmabuf_probe(struct virtio_device *vdev)
{
	struct vdmabuf_dev *dev;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->vdev = vdev;
	vdev->priv = dev;
	kref_init(&dev->ref);
	/* All of it before the first failure: vdmabuf_dev_free() uses it */
	init_rwsem(&dev->state_sem);
	mutex_init(&dev->vq_lock);
	init_waitqueue_head(&dev->req_wq);
	INIT_WORK(&dev->req_work, vdmabuf_req_work);
	INIT_WORK(&dev->evt_work, vdmabuf_evt_work);
	INIT_DELAYED_WORK(&dev->unexport_work, vdmabuf_unexport_work);
	mutex_init(&dev->lock);
	hash_init(dev->exports);
	mutex_init(&dev->map_lock);
	hash_init(dev->maps);
	spin_lock_init(&dev->map_ref_lock);
	INIT_LIST_HEAD(&dev->dead_maps);
	INIT_WORK(&dev->unmap_work, vdmabuf_unmap_work);
	INIT_LIST_HEAD(&dev->unexport_list);
	INIT_LIST_HEAD(&dev->files);
	INIT_LIST_HEAD(&dev->deferred);
	mutex_init(&dev->out_lock);
	INIT_WORK(&dev->config_work, vdmabuf_config_work);
	dev->acct = vdmabuf_acct_new(NULL);
	dev->deferred_wq = alloc_ordered_workqueue("vdmabuf-present", 0);
	if (!dev->acct || !dev->deferred_wq) {
		ret = -ENOMEM;
		goto err_free_dev;
	}

	/*
	 * The device takes guest-physical ranges of any length, so a
	 * buffer's mapping for it need not be cut into the PCI default's
	 * 64 KiB segments: exporters that keep to that (ours) would send
	 * needless ranges, and those that do not (the system heap's 1 MiB
	 * pages) break the device's DMA parameters.  As virtio-gpu does for
	 * the same parent device.
	 */
	if (vdev->dev.parent->dma_parms)
		dma_set_max_seg_size(vdev->dev.parent,
				     min_t(size_t, dma_max_mapping_size(vdev->dev.parent),
					   UINT_MAX));
	ret = vdmabuf_dma_test(dev);
	if (ret)
		goto err_free_dev;
	vdmabuf_read_config(dev);
	ret = vdmabuf_init_vqs(dev);
	if (ret)
		goto err_free_dev;
	vdmabuf_start(dev);
	/*
	 * After DRIVER_OK: a size the device changed before it sent no
	 * notification (virtio sends none before DRIVER_OK).  A change
	 * from now on reaches config_changed once probe has returned (the
	 * core holds it back until then).  The first read is no change.
	 */
	vdmabuf_read_outputs(dev);
	dev->outputs.generation = 0;

	ret = ida_alloc(&vdmabuf_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_stop;
	dev->index = ret;
	if (dev->index)
		snprintf(dev->name, sizeof(dev->name), "virtio-vdmabuf%d",
			 dev->index);
	else
		strscpy(dev->name, "virtio-vdmabuf", sizeof(dev->name));
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = &vdmabuf_fops;
	dev->misc.parent = &vdev->dev;
	/* The node last: nothing undone under an opener's feet */
	ret = vdmabuf_add_display(dev);
	if (ret)
		goto err_free_index;
	ret = misc_register(&dev->misc);
	if (ret)
		goto err_remove_display;

	dev_info(&vdev->dev,
		 "/dev/%s: requestq %u, ranges %u, metadata %u, exports %u, rects %u, export %llu MiB, total %llu MiB, outputs %u\n",
		 dev->name, virtqueue_get_vring_size(dev->req_vq),
		 dev->cfg.max_ranges, dev->cfg.max_meta_len,
		 dev->cfg.max_exports, dev->cfg.max_rects,
		 dev->cfg.max_export_size >> 20, dev->cfg.max_total_size >> 20,
		 dev->outputs.nr_outputs);
	return 0;

err_remove_display:
	vdmabuf_remove_display(dev);
err_free_index:
	ida_free(&vdmabuf_ida, dev->index);
err_stop:
	vdmabuf_stop(dev);
err_free_dev:
	vdev->priv = NULL;
	kref_put(&dev->ref, vdmabuf_dev_free);
	return ret;
}

static void vdmabuf_remove(struct virtio_device *vdev)
{
	struct vdmabuf_dev *dev = vdev->priv;

	/* The core no longer calls config_changed */
	cancel_work_sync(&dev->config_work);
	/*
	 * The reset first: it answers every request (-ENODEV), so that a
	 * device that stopped answering cannot hold up the display
	 * driver's unbind, whose commits may wait for a PRESENT's answer.
	 * The display driver is bound through a reset already at freeze.
	 */
	vdmabuf_stop(dev);
	vdmabuf_remove_display(dev);
	misc_deregister(&dev->misc);
	ida_free(&vdmabuf_ida, dev->index);

	vdmabuf_set_gone(dev);
	vdev->priv = NULL;
	kref_put(&dev->ref, vdmabuf_dev_free);
}

#ifdef CONFIG_PM_SLEEP
static int vdmabuf_freeze(struct virtio_device *vdev)
{
	struct vdmabuf_dev *dev = vdev->priv;

	cancel_work_sync(&dev->config_work);
	vdmabuf_stop(dev);
	return 0;
}

static int vdmabuf_restore(struct virtio_device *vdev)
{
	struct vdmabuf_dev *dev = vdev->priv;
	int ret;

	/* It broke: it stays stopped until the driver is bound again */
	if (vdmabuf_gone(dev))
		return -ENODEV;
	down_write(&dev->state_sem);
	vdmabuf_read_config(dev);
	up_write(&dev->state_sem);
	ret = vdmabuf_init_vqs(dev);
	if (ret) {
		vdmabuf_set_broken(dev);
		return ret;
	}
	vdmabuf_start(dev);
	/* After DRIVER_OK, as in probe */
	vdmabuf_read_outputs(dev);
	return 0;
}
#endif

/*
 * The device's totals over every opener, for the administrator (an opener
 * sees its own in VDMABUF_IOCTL_INFO).  The driver core removes these
 * before remove() runs.
 */
static ssize_t live_exports_show(struct device *d, struct device_attribute *attr,
				 char *buf)
{
	struct vdmabuf_dev *dev = dev_to_virtio(d)->priv;
	u64 v;

	mutex_lock(&dev->lock);
	v = dev->live_exports;
	mutex_unlock(&dev->lock);
	return sysfs_emit(buf, "%llu\n", v);
}
static DEVICE_ATTR_ADMIN_RO(live_exports);

static ssize_t live_bytes_show(struct device *d, struct device_attribute *attr,
			       char *buf)
{
	struct vdmabuf_dev *dev = dev_to_virtio(d)->priv;
	u64 v;

	mutex_lock(&dev->lock);
	v = dev->live_bytes;
	mutex_unlock(&dev->lock);
	return sysfs_emit(buf, "%llu\n", v);
}
static DEVICE_ATTR_ADMIN_RO(live_bytes);

static ssize_t alloc_bytes_show(struct device *d, struct device_attribute *attr,
				char *buf)
{
	struct vdmabuf_dev *dev = dev_to_virtio(d)->priv;

	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&dev->acct->alloc_bytes));
}
static DEVICE_ATTR_ADMIN_RO(alloc_bytes);

static struct attribute *vdmabuf_attrs[] = {
	&dev_attr_live_exports.attr,
	&dev_attr_live_bytes.attr,
	&dev_attr_alloc_bytes.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vdmabuf);

static const unsigned int vdmabuf_features[] = {
	VIRTIO_VDMABUF_F_PRESENT,
	VIRTIO_VDMABUF_F_OUTPUTS,
};

static const struct virtio_device_id vdmabuf_id_table[] = {
	{ VIRTIO_ID_DMABUF, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vdmabuf_id_table);

static struct virtio_driver vdmabuf_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.dev_groups = vdmabuf_groups,
	.feature_table = vdmabuf_features,
	.feature_table_size = ARRAY_SIZE(vdmabuf_features),
	.id_table = vdmabuf_id_table,
	.validate = vdmabuf_validate,
	.probe = vdmabuf_probe,
	.remove = vdmabuf_remove,
	.config_changed = vdmabuf_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = vdmabuf_freeze,
	.restore = vdmabuf_restore,
#endif
};

/* The character device passes the wire's event codes through unchanged. */
static_assert(VDMABUF_EVENT_RELEASED == VIRTIO_VDMABUF_EVT_RELEASED);
static_assert(VDMABUF_EVENT_FRAME_DONE == VIRTIO_VDMABUF_EVT_FRAME_DONE);
static_assert(VDMABUF_EVENT_F_REPLACED == VIRTIO_VDMABUF_EVT_F_REPLACED);
static_assert(VDMABUF_MAX_OUTPUTS == VIRTIO_VDMABUF_MAX_OUTPUTS);

static int __init vdmabuf_init(void)
{
	max_alloc_mb = clamp(max_alloc_mb, 1U, 65536U);
	max_events = clamp(max_events, 16U, 1U << 20);
	return register_virtio_driver(&vdmabuf_driver);
}
module_init(vdmabuf_init);

static void __exit vdmabuf_exit(void)
{
	unregister_virtio_driver(&vdmabuf_driver);
}
module_exit(vdmabuf_exit);

MODULE_IMPORT_NS("DMA_BUF");
MODULE_DESCRIPTION("virtio-dmabuf guest driver: share dma-bufs with the host");
MODULE_LICENSE("GPL");
