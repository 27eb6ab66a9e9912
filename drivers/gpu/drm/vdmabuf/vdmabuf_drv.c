// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf KMS driver: the outputs of a virtio-dmabuf device's host display
 * as a DRM device, so that unmodified compositors scan out through it.
 */

#include <linux/auxiliary_bus.h>
#include <linux/dma-buf.h>
#include <linux/module.h>
#include <linux/virtio_vdmabuf.h>

#include <drm/drm_atomic_helper.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_framebuffer_helper.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/drm_prime.h>
#include <drm/drm_probe_helper.h>

#include "vdmabuf_drv.h"

/**
 * DOC: vdmabuf KMS driver
 *
 * The driver binds to the display auxiliary device virtio_vdmabuf adds
 * for a device with outputs, and is a client of that device
 * (<linux/vdmabuf_client.h>).  Each output of the device is a connector,
 * an encoder, a CRTC and a primary plane; the connector's preferred mode
 * is the output's size on the host, and a change of it is a hotplug.
 *
 * Framebuffers are made of dumb buffers (shmem GEM objects) or of
 * dma-bufs imported from other devices (PRIME: a GPU that renders without
 * outputs of its own).  The first time a framebuffer is shown on an
 * output, it is exported to the host with image metadata naming that
 * output: a dma-buf of the GEM object, or the imported dma-buf itself, so
 * the host maps the very pages the renderer wrote.  The export lasts until
 * the framebuffer is destroyed or its output evicts it
 * (VDMABUF_DRM_EXPORTS_PER_OUTPUT); then it is unexported, and its pages
 * stay pinned until the host has released them.
 */

#define DRIVER_NAME	"vdmabuf"
#define DRIVER_DESC	"virtio-dmabuf host display"

/* ---------------------------------------------------------------------- */
/* Exports of framebuffers                                                 */
/* ---------------------------------------------------------------------- */

/* @fb as image metadata for @output (the wire's struct, little-endian) */
static void vdmabuf_drm_image(struct drm_framebuffer *fb, unsigned int output,
			      struct virtio_vdmabuf_image *img)
{
	unsigned int i;

	memset(img, 0, sizeof(*img));
	img->type = cpu_to_le32(VIRTIO_VDMABUF_META_IMAGE);
	img->version = cpu_to_le16(VIRTIO_VDMABUF_IMAGE_VERSION);
	img->len = cpu_to_le16(sizeof(*img));
	img->width = cpu_to_le32(fb->width);
	img->height = cpu_to_le32(fb->height);
	img->fourcc = cpu_to_le32(fb->format->format);
	img->modifier = cpu_to_le64(fb->modifier);
	img->output = cpu_to_le32(output);
	img->nr_planes = cpu_to_le32(fb->format->num_planes);
	for (i = 0; i < fb->format->num_planes; i++) {
		img->planes[i].offset = cpu_to_le64(fb->offsets[i]);
		img->planes[i].stride = cpu_to_le32(fb->pitches[i]);
	}
}

/*
 * The dma-buf of @fb's one GEM object: the one it was imported from, or a
 * new one (which holds a reference to the object until released).
 */
static struct dma_buf *vdmabuf_drm_fb_dmabuf(struct drm_framebuffer *fb)
{
	struct drm_gem_object *obj = drm_gem_fb_get_obj(fb, 0);

	if (obj->import_attach) {
		get_dma_buf(obj->import_attach->dmabuf);
		return obj->import_attach->dmabuf;
	}
	return drm_gem_prime_export(obj, O_RDWR);
}

/**
 * vdmabuf_drm_unexport() - unexport a framebuffer's former export
 * @vd: the display
 * @uuid: the export, detached from its framebuffer
 *
 * If that fails, but for the export being gone already, it stays live: it
 * is marked, so that it still counts in its output's exports and the next
 * eviction tries again.
 */
void vdmabuf_drm_unexport(struct vdmabuf_drm *vd, const u8 uuid[16])
{
	struct vdmabuf_drm_export *exp;
	int ret;

	ret = vdmabuf_client_unexport(vd->client, uuid);
	if (!ret || ret == -ENOENT)
		return;
	drm_dbg_kms(&vd->drm, "UNEXPORT %pUb failed: %d\n", uuid, ret);
	mutex_lock(&vd->exp_lock);
	list_for_each_entry(exp, &vd->exports, node) {
		if (!memcmp(exp->uuid, uuid, sizeof(exp->uuid))) {
			exp->unexport_failed = true;
			break;
		}
	}
	mutex_unlock(&vd->exp_lock);
}

/*
 * Make room for one more export on @output: if it has
 * VDMABUF_DRM_EXPORTS_PER_OUTPUT live exports, detach the oldest one whose
 * UNEXPORT failed, or else the least recently presented one but @shown's,
 * and copy its UUID to @uuid, to be unexported out of the lock.  @shown
 * is the framebuffer the plane shows or is about to: the commits before
 * the one it belongs to are done (the helpers' stall checks), unless one
 * timed out, and then its atomic_update finds no export and presents
 * nothing.  Caller holds exp_lock.
 *
 * Return: true if an export was evicted.
 */
static bool vdmabuf_drm_evict(struct vdmabuf_drm *vd, unsigned int output,
			      struct drm_framebuffer *shown, u8 uuid[16])
{
	struct vdmabuf_drm_export *exp, *failed = NULL, *victim = NULL;
	unsigned int n = 0;

	lockdep_assert_held(&vd->exp_lock);
	list_for_each_entry(exp, &vd->exports, node) {
		if (exp->output != output ||
		    (!exp->fb && !exp->unexport_failed))
			continue;
		n++;
		if (exp->unexport_failed)
			failed = failed ?: exp;
		else if (!victim && &exp->fb->base != shown)
			victim = exp;
	}
	victim = failed ?: victim;
	if (n < VDMABUF_DRM_EXPORTS_PER_OUTPUT || !victim)
		return false;
	/* Freed on its RELEASED, as a destroyed framebuffer's are */
	if (victim->fb)
		victim->fb->exports[output] = NULL;
	victim->fb = NULL;
	victim->unexport_failed = false;
	memcpy(uuid, victim->uuid, sizeof(victim->uuid));
	return true;
}

/**
 * vdmabuf_drm_fb_export() - export a framebuffer for an output
 * @vd: the display
 * @fb: the framebuffer
 * @output: the output's index
 * @shown: the framebuffer the output's plane shows now, if any
 *
 * Exports @fb the first time; it stays exported until @fb is destroyed,
 * the device releases it, or it is evicted: an output keeps at most
 * VDMABUF_DRM_EXPORTS_PER_OUTPUT framebuffers exported (pinned), and
 * exporting another unexports the least recently presented one but
 * @shown.  Called from the plane's prepare_fb, inside drm_dev_enter(): in
 * the committing task, which may sleep and fail, never from the commit
 * tail.
 *
 * Return: 0, or the errors of vdmabuf_client_export().
 */
int vdmabuf_drm_fb_export(struct vdmabuf_drm *vd, struct drm_framebuffer *fb,
			  unsigned int output, struct drm_framebuffer *shown)
{
	struct vdmabuf_drm_fb *vfb = to_vdmabuf_fb(fb);
	struct vdmabuf_drm_export *exp, *old;
	struct virtio_vdmabuf_image img;
	struct dma_buf *dmabuf;
	bool evicted = false;
	u8 uuid[16];
	int ret;

	mutex_lock(&vd->exp_lock);
	exp = vfb->exports[output];
	if (!exp)
		evicted = vdmabuf_drm_evict(vd, output, shown, uuid);
	mutex_unlock(&vd->exp_lock);
	if (exp)
		return 0;
	if (evicted)
		vdmabuf_drm_unexport(vd, uuid);

	exp = kzalloc(sizeof(*exp), GFP_KERNEL);
	if (!exp)
		return -ENOMEM;
	dmabuf = vdmabuf_drm_fb_dmabuf(fb);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_free;
	}
	vdmabuf_drm_image(fb, output, &img);
	ret = vdmabuf_client_export(vd->client, dmabuf, &img, sizeof(img),
				    exp->uuid);
	/* The export holds its own reference while the host has it */
	dma_buf_put(dmabuf);
	if (ret)
		goto err_free;
	exp->output = output;
	/*
	 * The plane's lock serialises the prepare_fb of the commits that
	 * show @fb on @output, but the slot is checked again all the same:
	 * a second export would be an orphan, its fb pointer left dangling.
	 */
	mutex_lock(&vd->exp_lock);
	old = vfb->exports[output];
	if (!old) {
		exp->fb = vfb;
		list_add_tail(&exp->node, &vd->exports);
		vfb->exports[output] = exp;
	}
	mutex_unlock(&vd->exp_lock);
	if (old) {
		/* Unknown to the display: the device still releases it */
		vdmabuf_client_unexport(vd->client, exp->uuid);
		kfree(exp);
	}
	return 0;

err_free:
	kfree(exp);
	return ret;
}

/**
 * vdmabuf_drm_fb_exported() - the export prepare_fb made for a commit
 * @vd: the display
 * @fb: the framebuffer
 * @output: the output's index
 * @uuid: set to the export's UUID
 * @first: set if no frame of the export was presented yet: the host
 *	has none of its pixels
 *
 * Return: 0, or -ENOENT if the device released the export since (a
 * reset): the next commit that shows @fb exports it again.
 */
int vdmabuf_drm_fb_exported(struct vdmabuf_drm *vd, struct drm_framebuffer *fb,
			    unsigned int output, u8 uuid[16], bool *first)
{
	struct vdmabuf_drm_export *exp;

	mutex_lock(&vd->exp_lock);
	exp = to_vdmabuf_fb(fb)->exports[output];
	if (exp) {
		memcpy(uuid, exp->uuid, sizeof(exp->uuid));
		*first = !exp->presented;
	}
	mutex_unlock(&vd->exp_lock);
	return exp ? 0 : -ENOENT;
}

/**
 * vdmabuf_drm_fb_presented() - the PRESENT of a frame of an export
 * @vd: the display
 * @uuid: the export
 * @presented: the device took it: the host has the frame's pixels, a later
 *	frame may carry damage, and the export becomes the last its output
 *	evicts.  Refused: the host may lack pixels, the next frame is a full
 *	update.
 */
void vdmabuf_drm_fb_presented(struct vdmabuf_drm *vd, const u8 uuid[16],
			      bool presented)
{
	struct vdmabuf_drm_export *exp;

	mutex_lock(&vd->exp_lock);
	list_for_each_entry(exp, &vd->exports, node) {
		if (!memcmp(exp->uuid, uuid, sizeof(exp->uuid))) {
			exp->presented = presented;
			if (presented)
				list_move_tail(&exp->node, &vd->exports);
			break;
		}
	}
	mutex_unlock(&vd->exp_lock);
}

/* Forget @exp, and its framebuffer's pointer to it.  Caller holds exp_lock. */
static void vdmabuf_drm_export_free(struct vdmabuf_drm_export *exp)
{
	if (exp->fb)
		exp->fb->exports[exp->output] = NULL;
	list_del(&exp->node);
	kfree(exp);
}

/**
 * vdmabuf_drm_fb_forget() - an export is gone
 * @vd: the display
 * @uuid: the export, released by the device (or unknown to it)
 *
 * Its framebuffer, if still there, is exported again the next time it is
 * shown.
 */
void vdmabuf_drm_fb_forget(struct vdmabuf_drm *vd, const u8 uuid[16])
{
	struct vdmabuf_drm_export *exp;

	mutex_lock(&vd->exp_lock);
	list_for_each_entry(exp, &vd->exports, node) {
		if (!memcmp(exp->uuid, uuid, sizeof(exp->uuid))) {
			vdmabuf_drm_export_free(exp);
			break;
		}
	}
	mutex_unlock(&vd->exp_lock);
}

/* The client is closed: no export is known any more */
static void vdmabuf_drm_forget_all(struct vdmabuf_drm *vd)
{
	struct vdmabuf_drm_export *exp, *tmp;

	mutex_lock(&vd->exp_lock);
	list_for_each_entry_safe(exp, tmp, &vd->exports, node)
		vdmabuf_drm_export_free(exp);
	mutex_unlock(&vd->exp_lock);
}

/* ---------------------------------------------------------------------- */
/* The device's events                                                     */
/* ---------------------------------------------------------------------- */

static void vdmabuf_drm_event(struct vdmabuf_client *client,
			      const struct vdmabuf_event *ev)
{
	struct vdmabuf_drm *vd = vdmabuf_client_priv(client);

	switch (ev->type) {
	case VDMABUF_EVENT_FRAME_DONE:
		vdmabuf_drm_frame_done(vd, ev->uuid, ev->seq);
		break;
	case VDMABUF_EVENT_RELEASED:
		vdmabuf_drm_released(vd, ev->uuid);
		vdmabuf_drm_fb_forget(vd, ev->uuid);
		break;
	}
}

/* A hotplug: the connectors' status and modes follow vd->outputs */
static void vdmabuf_drm_outputs_changed(struct vdmabuf_client *client)
{
	struct vdmabuf_drm *vd = vdmabuf_client_priv(client);

	mutex_lock(&vd->out_lock);
	vdmabuf_client_outputs(client, &vd->outputs);
	mutex_unlock(&vd->out_lock);
	/* Before registration, the first probe of the connectors sees it */
	if (READ_ONCE(vd->drm.registered))
		drm_kms_helper_hotplug_event(&vd->drm);
}

static const struct vdmabuf_client_ops vdmabuf_drm_client_ops = {
	.event = vdmabuf_drm_event,
	.outputs_changed = vdmabuf_drm_outputs_changed,
};

/* ---------------------------------------------------------------------- */
/* DRM driver                                                              */
/* ---------------------------------------------------------------------- */

/*
 * A foreign dma-buf is attached to and mapped for the device the exports
 * are mapped for: the auxiliary device does no DMA.
 */
static struct drm_gem_object *
vdmabuf_drm_gem_prime_import(struct drm_device *drm, struct dma_buf *dmabuf)
{
	return drm_gem_prime_import_dev(drm, dmabuf,
					to_vdmabuf_drm(drm)->dma_dev);
}

DEFINE_DRM_GEM_FOPS(vdmabuf_drm_fops);

static const struct drm_driver vdmabuf_drm_driver = {
	.driver_features = DRIVER_MODESET | DRIVER_GEM | DRIVER_ATOMIC,
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	VDMABUF_COMPAT_DRM_DATE("20261205")
	.major = 1,
	.minor = 0,
	.fops = &vdmabuf_drm_fops,
	DRM_GEM_SHMEM_DRIVER_OPS,
	.gem_prime_import = vdmabuf_drm_gem_prime_import,
	.debugfs_init = vdmabuf_drm_debugfs_init,
};

static int vdmabuf_drm_probe(struct auxiliary_device *adev,
			     const struct auxiliary_device_id *id)
{
	struct vdmabuf_info info;
	struct vdmabuf_drm *vd;
	int ret;

	vd = devm_drm_dev_alloc(&adev->dev, &vdmabuf_drm_driver,
				struct vdmabuf_drm, drm);
	if (IS_ERR(vd))
		return PTR_ERR(vd);
	INIT_LIST_HEAD(&vd->exports);
	ret = drmm_mutex_init(&vd->drm, &vd->exp_lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&vd->drm, &vd->out_lock);
	if (ret)
		return ret;

	vd->client = vdmabuf_client_open(adev, &vdmabuf_drm_client_ops, vd);
	if (IS_ERR(vd->client))
		return PTR_ERR(vd->client);
	vd->dma_dev = vdmabuf_client_dma_device(vd->client);
	vdmabuf_client_info(vd->client, &info);
	vd->max_rects = info.max_rects;
	/* Every export carries its image: a device that cannot take one */
	ret = -ENODEV;
	if (info.max_meta_len < sizeof(struct virtio_vdmabuf_image)) {
		drm_err(&vd->drm, "the device takes %u bytes of metadata, an image is %zu: not a display\n",
			info.max_meta_len, sizeof(struct virtio_vdmabuf_image));
		goto err_close;
	}
	mutex_lock(&vd->out_lock);
	vdmabuf_client_outputs(vd->client, &vd->outputs);
	vd->nr_outputs = vd->outputs.nr_outputs;
	mutex_unlock(&vd->out_lock);
	if (!vd->nr_outputs)
		goto err_close;

	ret = vdmabuf_drm_outputs_init(vd);
	if (ret)
		goto err_close;
	auxiliary_set_drvdata(adev, vd);
	ret = drm_dev_register(&vd->drm, 0);
	if (ret)
		goto err_close;
	drm_info(&vd->drm, "%u outputs\n", vd->nr_outputs);
	return 0;

err_close:
	vdmabuf_client_close(vd->client);
	vdmabuf_drm_forget_all(vd);
	return ret;
}

/*
 * Unplug first: from then on nothing uses the client (drm_dev_enter()
 * fails), so it can be closed.  At the virtio device's removal the device
 * was reset before this runs, which released every framebuffer's export
 * and answered every request; otherwise closing unexports them.  The
 * flips still waiting are completed.
 */
static void vdmabuf_drm_remove(struct auxiliary_device *adev)
{
	struct vdmabuf_drm *vd = auxiliary_get_drvdata(adev);

	drm_dev_unplug(&vd->drm);
	drm_atomic_helper_shutdown(&vd->drm);
	vdmabuf_client_close(vd->client);
	vdmabuf_drm_released(vd, NULL);
	vdmabuf_drm_forget_all(vd);
}

static void vdmabuf_drm_shutdown(struct auxiliary_device *adev)
{
	struct vdmabuf_drm *vd = auxiliary_get_drvdata(adev);

	drm_atomic_helper_shutdown(&vd->drm);
}

static const struct auxiliary_device_id vdmabuf_drm_id_table[] = {
	{ .name = "virtio_vdmabuf." VDMABUF_AUX_DISPLAY },
	{}
};
MODULE_DEVICE_TABLE(auxiliary, vdmabuf_drm_id_table);

static struct auxiliary_driver vdmabuf_drm_aux_driver = {
	.probe = vdmabuf_drm_probe,
	.remove = vdmabuf_drm_remove,
	.shutdown = vdmabuf_drm_shutdown,
	.id_table = vdmabuf_drm_id_table,
};
module_auxiliary_driver(vdmabuf_drm_aux_driver);

MODULE_IMPORT_NS("DMA_BUF");
MODULE_DESCRIPTION("vdmabuf KMS driver: the host display of a virtio-dmabuf device");
MODULE_LICENSE("GPL");
