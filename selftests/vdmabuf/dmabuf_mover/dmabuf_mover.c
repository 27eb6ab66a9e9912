// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf_mover: a dma-buf exporter whose buffers move, standing in for a
 * TTM driver in the vdmabuf guest tests (see dmabuf_mover.h).  A TCG
 * guest has no GPU whose driver moves buffers; this module does what such
 * a driver does to its importers, through the same dma-buf calls.  It
 * also maps others' buffers into the kernel, as a CPU-drawing importer
 * (fbdev emulation, a cursor plane) does.
 */
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/iosys-map.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "dmabuf_mover.h"

/**
 * struct mover_buf - one buffer
 * @dmabuf: its dma-buf
 * @pages: its pages
 * @nr_pages: entries in @pages
 * @flags: DMABUF_MOVER_F_*
 * @context: the fence context of its moves
 * @seqno: the last move fence's number; the reservation lock
 * @pins: pins held; written under the reservation lock
 * @moves: moves so far; written under the reservation lock
 * @fence: the last move's fence, referenced, if any; written under the
 *	reservation lock and @lock, read under either: SIGNAL and QUERY take
 *	only @lock, as a GPU's copy engine signals without the reservation
 *	lock, which an importer waiting for the fence may hold
 * @lock: see @fence
 */
struct mover_buf {
	struct dma_buf *dmabuf;
	struct page **pages;
	unsigned long nr_pages;
	u32 flags;
	u64 context;
	u64 seqno;
	u32 pins;
	u32 moves;
	struct dma_fence *fence;
	spinlock_t lock;	/* see above */
};

/**
 * struct mover_fence - a move's fence, which may outlive its buffer
 * @base: the fence
 * @lock: @base's lock
 * @timer: signals @base MOVER_FENCE_TIMEOUT after the move, if the test
 *	did not: no fence waits forever (as vgem's fences)
 */
struct mover_fence {
	struct dma_fence base;
	spinlock_t lock;	/* see above */
	struct timer_list timer;
};

#define MOVER_FENCE_TIMEOUT	(10 * HZ)

static const char *mover_fence_name(struct dma_fence *fence)
{
	return "dmabuf_mover";
}

static void mover_fence_release(struct dma_fence *fence)
{
	struct mover_fence *mf = container_of(fence, struct mover_fence, base);

	timer_delete_sync(&mf->timer);
	dma_fence_free(fence);
}

static const struct dma_fence_ops mover_fence_ops = {
	.get_driver_name = mover_fence_name,
	.get_timeline_name = mover_fence_name,
	.release = mover_fence_release,
};

static void mover_fence_timeout(struct timer_list *t)
{
	struct mover_fence *mf = from_timer(mf, t, timer);

	dma_fence_signal(&mf->base);
}

static struct dma_fence *mover_fence_new(struct mover_buf *buf)
{
	struct mover_fence *mf;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL);
	if (!mf)
		return NULL;
	spin_lock_init(&mf->lock);
	dma_fence_init(&mf->base, &mover_fence_ops, &mf->lock, buf->context,
		       ++buf->seqno);
	timer_setup(&mf->timer, mover_fence_timeout, TIMER_IRQSAFE);
	mod_timer(&mf->timer, jiffies + MOVER_FENCE_TIMEOUT);
	return &mf->base;
}

/* Move @buf: tell its importers, then leave the copy's fence if asked. */
static int mover_move(struct mover_buf *buf)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	struct dma_fence *fence = NULL;
	int ret;

	dma_resv_assert_held(resv);
	if (buf->flags & DMABUF_MOVER_F_FENCE) {
		if (buf->fence && !dma_fence_is_signaled(buf->fence))
			return -EBUSY;
		ret = dma_resv_reserve_fences(resv, 1);
		if (ret)
			return ret;
		fence = mover_fence_new(buf);
		if (!fence)
			return -ENOMEM;
	}
	dma_buf_move_notify(buf->dmabuf);
	WRITE_ONCE(buf->moves, buf->moves + 1);
	if (fence) {
		dma_resv_add_fence(resv, fence, DMA_RESV_USAGE_KERNEL);
		spin_lock(&buf->lock);
		swap(buf->fence, fence);
		spin_unlock(&buf->lock);
		dma_fence_put(fence);
	}
	return 0;
}

/*
 * Like amdgpu's pin, this returns with the move it started still under
 * way (its fence in the reservation object), though the rules for @pin
 * in dma-buf.h ask an exporter to wait for it: an importer must wait for
 * the kernel fences anyway, which is what the tests check.
 */
static int mover_pin(struct dma_buf_attachment *attach)
{
	struct mover_buf *buf = attach->dmabuf->priv;
	int ret;

	if (!buf->pins && (buf->flags & DMABUF_MOVER_F_MIGRATE_ON_PIN)) {
		ret = mover_move(buf);
		if (ret)
			return ret;
	}
	WRITE_ONCE(buf->pins, buf->pins + 1);
	return 0;
}

static void mover_unpin(struct dma_buf_attachment *attach)
{
	struct mover_buf *buf = attach->dmabuf->priv;

	if (!WARN_ON_ONCE(!buf->pins))
		WRITE_ONCE(buf->pins, buf->pins - 1);
}

static struct sg_table *mover_map(struct dma_buf_attachment *attach,
				  enum dma_data_direction dir)
{
	struct mover_buf *buf = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, buf->pages, buf->nr_pages, 0,
					buf->nr_pages << PAGE_SHIFT,
					GFP_KERNEL);
	if (ret)
		goto err_free;
	/*
	 * As amdgpu_dma_buf_map() and xe_dma_buf_map(): no CPU syncs at
	 * map, which could not keep mappings of one page for several devices
	 * coherent (DMA-API debugging reports them as overlapping); their
	 * unmap syncs, and so does mover_unmap().
	 */
	ret = dma_map_sgtable(attach->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		goto err_free_table;
	return sgt;

err_free_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void mover_unmap(struct dma_buf_attachment *attach,
			struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void mover_free_pages(struct mover_buf *buf)
{
	unsigned long i;

	for (i = 0; i < buf->nr_pages && buf->pages[i]; i++)
		__free_page(buf->pages[i]);
	kvfree(buf->pages);
}

static void mover_release(struct dma_buf *dmabuf)
{
	struct mover_buf *buf = dmabuf->priv;

	dma_fence_put(buf->fence);
	mover_free_pages(buf);
	kfree(buf);
}

static const struct dma_buf_ops mover_ops = {
	.pin = mover_pin,
	.unpin = mover_unpin,
	.map_dma_buf = mover_map,
	.unmap_dma_buf = mover_unmap,
	.release = mover_release,
};

static int mover_ioctl_create(struct dmabuf_mover_create __user *argp)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct dmabuf_mover_create c;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;
	unsigned long i;
	int fd, ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~DMABUF_MOVER_F_ALL) || !c.size ||
	    c.size > DMABUF_MOVER_MAX_SIZE || !PAGE_ALIGNED(c.size))
		return -EINVAL;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	buf->nr_pages = c.size >> PAGE_SHIFT;
	buf->flags = c.flags;
	buf->context = dma_fence_context_alloc(1);
	spin_lock_init(&buf->lock);
	ret = -ENOMEM;
	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages)
		goto err_free_buf;
	for (i = 0; i < buf->nr_pages; i++) {
		buf->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!buf->pages[i])
			goto err_free_pages;
	}

	exp_info.ops = &mover_ops;
	exp_info.size = c.size;
	exp_info.flags = O_RDWR;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_free_pages;
	}
	buf->dmabuf = dmabuf;

	/* From here on mover_release() frees @buf. */
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	c.fd = fd;
	/* On a fault the fd stays, as with DRM_IOCTL_PRIME_HANDLE_TO_FD. */
	return copy_to_user(argp, &c, sizeof(c)) ? -EFAULT : 0;

err_free_pages:
	mover_free_pages(buf);
err_free_buf:
	kfree(buf);
	return ret;
}

/* @buf's last move fence, referenced, or NULL; no reservation lock. */
static struct dma_fence *mover_last_fence(struct mover_buf *buf)
{
	struct dma_fence *fence;

	spin_lock(&buf->lock);
	fence = dma_fence_get(buf->fence);
	spin_unlock(&buf->lock);
	return fence;
}

static int mover_ioctl_op(unsigned int cmd, struct dmabuf_mover_op __user *argp)
{
	struct dmabuf_mover_op op;
	struct dma_fence *fence;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;
	int ret = 0;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if (op.padding || op.padding2)
		return -EINVAL;
	dmabuf = dma_buf_get(op.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	if (dmabuf->ops != &mover_ops) {
		ret = -EINVAL;
		goto out_put;
	}
	buf = dmabuf->priv;

	if (cmd == DMABUF_MOVER_IOC_MOVE) {
		ret = dma_resv_lock_interruptible(dmabuf->resv, NULL);
		if (ret)
			goto out_put;
		ret = buf->pins ? -EBUSY : mover_move(buf);
		dma_resv_unlock(dmabuf->resv);
	}
	fence = mover_last_fence(buf);
	if (cmd == DMABUF_MOVER_IOC_SIGNAL &&
	    (!fence || dma_fence_signal(fence)))
		ret = -ENOENT;
	op.pending = fence && !dma_fence_is_signaled(fence);
	dma_fence_put(fence);
	op.pins = READ_ONCE(buf->pins);
	op.moves = READ_ONCE(buf->moves);

	if (!ret && copy_to_user(argp, &op, sizeof(op)))
		ret = -EFAULT;
out_put:
	dma_buf_put(dmabuf);
	return ret;
}

/* Swap bytes of any dma-buf through a kernel mapping (dmabuf_mover.h). */
static int mover_ioctl_vmap(struct dmabuf_mover_vmap __user *argp)
{
	struct dmabuf_mover_vmap v;
	struct dma_buf *dmabuf;
	struct iosys_map map;
	void *old, *new;
	int ret;

	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	if (!v.len || v.len > DMABUF_MOVER_VMAP_MAX)
		return -EINVAL;
	dmabuf = dma_buf_get(v.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	/* It writes: not into a buffer its exporter made read-only */
	ret = -EBADF;
	if (!(dmabuf->file->f_mode & FMODE_WRITE))
		goto out_put;
	ret = -EINVAL;
	if (v.offset > dmabuf->size || v.len > dmabuf->size - v.offset)
		goto out_put;
	ret = -ENOMEM;
	old = kmalloc(2 * v.len, GFP_KERNEL);
	if (!old)
		goto out_put;
	new = old + v.len;
	ret = -EFAULT;
	if (copy_from_user(new, u64_to_user_ptr(v.ptr), v.len))
		goto out_free;

	ret = dma_buf_vmap_unlocked(dmabuf, &map);
	if (ret)
		goto out_free;
	ret = dma_buf_begin_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
	if (ret)
		goto out_vunmap;
	iosys_map_memcpy_from(old, &map, v.offset, v.len);
	iosys_map_memcpy_to(&map, v.offset, new, v.len);
	ret = dma_buf_end_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
	if (!ret && copy_to_user(u64_to_user_ptr(v.ptr), old, v.len))
		ret = -EFAULT;
out_vunmap:
	dma_buf_vunmap_unlocked(dmabuf, &map);
out_free:
	kfree(old);
out_put:
	dma_buf_put(dmabuf);
	return ret;
}

static long mover_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case DMABUF_MOVER_IOC_CREATE:
		return mover_ioctl_create(argp);
	case DMABUF_MOVER_IOC_MOVE:
	case DMABUF_MOVER_IOC_SIGNAL:
	case DMABUF_MOVER_IOC_QUERY:
		return mover_ioctl_op(cmd, argp);
	case DMABUF_MOVER_IOC_VMAP:
		return mover_ioctl_vmap(argp);
	}
	return -ENOTTY;
}

static const struct file_operations mover_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = mover_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice mover_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabuf_mover",
	.fops = &mover_fops,
	.mode = 0600,
};

/*
 * No module_exit: a fence may outlive its buffer and the device's files
 * (a sync_file of it, say), and its ops live in this module, so the
 * module stays once loaded.
 */
static int __init mover_init(void)
{
	return misc_register(&mover_misc);
}
module_init(mover_init);

MODULE_DESCRIPTION("A dma-buf exporter whose buffers move, for the vdmabuf tests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
