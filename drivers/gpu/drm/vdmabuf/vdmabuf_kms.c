// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf KMS driver: outputs, flips and their completion.
 */

#include <linux/math64.h>
#include <linux/seq_file.h>
#include <linux/virtio_vdmabuf.h>

#include <drm/drm_atomic.h>
#include <drm/drm_atomic_helper.h>
#include <drm/drm_damage_helper.h>
#include <drm/drm_debugfs.h>
#include <drm/drm_drv.h>
#include <drm/drm_edid.h>
#include <drm/drm_file.h>
#include <drm/drm_fourcc.h>
#include <drm/drm_gem_atomic_helper.h>
#include <drm/drm_gem_framebuffer_helper.h>
#include <drm/drm_managed.h>
#include <drm/drm_modeset_helper_vtables.h>
#include <drm/drm_print.h>
#include <drm/drm_probe_helper.h>
#include <drm/drm_vblank.h>

#include "vdmabuf_drv.h"

/**
 * DOC: flips
 *
 * Each commit that shows a framebuffer on an active output sends one
 * PRESENT of the framebuffer's export for that output from the plane's
 * atomic_update; the export was made by prepare_fb, the commit tail never
 * exports.  The PRESENT carries the plane's damage only when the plane
 * shows the same framebuffer as before and the host already has a frame
 * of it: damage is what changed in that buffer (the device merges it per
 * export), not what changed on the screen, so a flip to another buffer
 * is a full update.  Planes of inactive CRTCs present nothing.
 *
 * The CRTC's event (a page flip's, or the one the atomic helpers make for
 * a blocking commit) is kept, with a vblank reference, until the host's
 * FRAME_DONE for that frame comes: the flip completes at the first vblank
 * after the host has shown the frame, or has finished with it, so a
 * compositor paces itself to what the host actually displays.  The
 * export's RELEASED, a PRESENT that fails, or turning the output off
 * completes it at once.
 *
 * The host has no vblank: a timer at the mode's refresh rate is the
 * vblank counter, and its ticks the timestamps of DRM_IOCTL_WAIT_VBLANK
 * and of the flip events.  Each output keeps at most
 * VDMABUF_DRM_EXPORTS_PER_OUTPUT framebuffers exported.
 */

/* The largest mode the connectors list; the host takes images up to 32768 */
#define VDMABUF_DRM_MAX_DIM	8192
/* An output whose host gave no size */
#define VDMABUF_DRM_XRES	1024
#define VDMABUF_DRM_YRES	768

static const u32 vdmabuf_drm_formats[] = {
	DRM_FORMAT_XRGB8888,
	DRM_FORMAT_ARGB8888,
	DRM_FORMAT_XBGR8888,
	DRM_FORMAT_ABGR8888,
	DRM_FORMAT_RGB565,
	DRM_FORMAT_XRGB2101010,
};

/* The device describes no tiling: linear only */
static const u64 vdmabuf_drm_modifiers[] = {
	DRM_FORMAT_MOD_LINEAR,
	DRM_FORMAT_MOD_INVALID,
};

static struct vdmabuf_drm_output *plane_to_output(struct drm_plane *plane)
{
	return container_of(plane, struct vdmabuf_drm_output, plane);
}

static struct vdmabuf_drm_output *crtc_to_output(struct drm_crtc *crtc)
{
	return container_of(crtc, struct vdmabuf_drm_output, crtc);
}

static struct vdmabuf_drm_output *
connector_to_output(struct drm_connector *connector)
{
	return container_of(connector, struct vdmabuf_drm_output, connector);
}

/* ---------------------------------------------------------------------- */
/* Flip completion                                                         */
/* ---------------------------------------------------------------------- */

/* Send @out's pending flip event.  Caller holds drm->event_lock. */
static void vdmabuf_drm_send_event(struct vdmabuf_drm_output *out)
{
	lockdep_assert_held(&out->crtc.dev->event_lock);
	drm_crtc_send_vblank_event(&out->crtc, out->event);
	out->event = NULL;
	if (out->event_vblank)
		drm_crtc_vblank_put(&out->crtc);
	out->event_vblank = false;
}

/* Count @out's pending frame as answered (@shown) or not.  drm->event_lock */
static void vdmabuf_drm_account(struct vdmabuf_drm_output *out, bool shown)
{
	struct vdmabuf_drm_stats *st = &out->stats;
	u64 ns;

	lockdep_assert_held(&out->crtc.dev->event_lock);
	out->pending = false;
	if (!shown) {
		st->unanswered++;
		return;
	}
	ns = ktime_to_ns(ktime_sub(ktime_get(), out->pending_since));
	st->shown++;
	st->latency_sum_ns += ns;
	st->latency_max_ns = max(st->latency_max_ns, ns);
}

/*
 * Complete @out's pending frame if it is the frame @seq of @uuid (NULL:
 * any export; @seq NULL: any frame).  Shown (@shown, the host's
 * FRAME_DONE), its flip completes at the next vblank, which the event's
 * vblank reference keeps coming: its timestamp and sequence are then
 * later than the previous flip's, as for a display's flip.  Otherwise it
 * completes now.  Takes drm->event_lock.
 */
static void vdmabuf_drm_complete(struct vdmabuf_drm_output *out,
				 const u8 *uuid, const u64 *seq, bool shown)
{
	struct drm_device *drm = out->crtc.dev;
	unsigned long flags;

	spin_lock_irqsave(&drm->event_lock, flags);
	if (!out->pending ||
	    (uuid && memcmp(out->event_uuid, uuid, sizeof(out->event_uuid))) ||
	    (seq && out->event_seq != *seq))
		goto out_unlock;
	vdmabuf_drm_account(out, shown);
	if (!out->event)
		goto out_unlock;
	if (shown && out->event_vblank) {
		/* The vblank reference is the armed event's now */
		drm_crtc_arm_vblank_event(&out->crtc, out->event);
		out->event = NULL;
		out->event_vblank = false;
	} else {
		vdmabuf_drm_send_event(out);
	}
out_unlock:
	spin_unlock_irqrestore(&drm->event_lock, flags);
}

/**
 * vdmabuf_drm_frame_done() - the host's FRAME_DONE of a frame
 * @vd: the display
 * @uuid: the export presented
 * @seq: the frame's sequence number
 */
void vdmabuf_drm_frame_done(struct vdmabuf_drm *vd, const u8 uuid[16],
			    u64 seq)
{
	unsigned int i;

	for (i = 0; i < vd->nr_outputs; i++)
		vdmabuf_drm_complete(&vd->out[i], uuid, &seq, true);
}

/**
 * vdmabuf_drm_released() - no frame of an export will be answered any more
 * @vd: the display
 * @uuid: the export released, or NULL for every export (the client was
 *	closed)
 */
void vdmabuf_drm_released(struct vdmabuf_drm *vd, const u8 uuid[16])
{
	unsigned int i;

	for (i = 0; i < vd->nr_outputs; i++)
		vdmabuf_drm_complete(&vd->out[i], uuid, NULL, false);
}

/*
 * debugfs "vdmabuf_frames": a line for each output, its frames, how many
 * the host answered, and the time from PRESENT to FRAME_DONE.
 */
static int vdmabuf_drm_frames_show(struct seq_file *m, void *data)
{
	struct drm_info_node *node = m->private;
	struct vdmabuf_drm *vd = to_vdmabuf_drm(node->minor->dev);
	struct vdmabuf_drm_stats st;
	unsigned int i;
	bool pending;

	for (i = 0; i < vd->nr_outputs; i++) {
		spin_lock_irq(&vd->drm.event_lock);
		st = vd->out[i].stats;
		pending = vd->out[i].pending;
		spin_unlock_irq(&vd->drm.event_lock);
		seq_printf(m, "output %u: frames %llu shown %llu unanswered %llu pending %u latency_us mean %llu max %llu\n",
			   i, st.frames, st.shown, st.unanswered, pending,
			   st.shown ? div_u64(div64_u64(st.latency_sum_ns,
							st.shown),
					      NSEC_PER_USEC) : 0,
			   div_u64(st.latency_max_ns, NSEC_PER_USEC));
	}
	return 0;
}

static const struct drm_info_list vdmabuf_drm_debugfs_list[] = {
	{ "vdmabuf_frames", vdmabuf_drm_frames_show },
};

/**
 * vdmabuf_drm_debugfs_init() - the driver's debugfs files
 * @minor: the DRM minor whose directory gets them
 */
void vdmabuf_drm_debugfs_init(struct drm_minor *minor)
{
	drm_debugfs_create_files(vdmabuf_drm_debugfs_list,
				 ARRAY_SIZE(vdmabuf_drm_debugfs_list),
				 minor->debugfs_root, minor);
}

/* ---------------------------------------------------------------------- */
/* Primary plane                                                           */
/* ---------------------------------------------------------------------- */

static int vdmabuf_plane_atomic_check(struct drm_plane *plane,
				      struct drm_atomic_state *state)
{
	struct drm_plane_state *new_state =
		drm_atomic_get_new_plane_state(state, plane);
	struct drm_crtc_state *crtc_state = NULL;
	struct drm_framebuffer *fb = new_state->fb;
	int ret;

	if (new_state->crtc)
		crtc_state = drm_atomic_get_new_crtc_state(state,
							   new_state->crtc);
	ret = drm_atomic_helper_check_plane_state(new_state, crtc_state,
						  DRM_PLANE_NO_SCALING,
						  DRM_PLANE_NO_SCALING,
						  false, false);
	if (ret || !new_state->visible)
		return ret;
	/*
	 * The host shows the export, the whole framebuffer, as the output:
	 * the plane must be exactly the framebuffer and exactly the mode,
	 * before clipping (a plane clipped to the mode passes the helper's
	 * check).
	 */
	if (new_state->src_x || new_state->src_y ||
	    new_state->src_w != fb->width << 16 ||
	    new_state->src_h != fb->height << 16 ||
	    new_state->crtc_x || new_state->crtc_y ||
	    new_state->crtc_w != crtc_state->mode.hdisplay ||
	    new_state->crtc_h != crtc_state->mode.vdisplay) {
		drm_dbg_kms(plane->dev,
			    "[PLANE:%d] is not the whole framebuffer on the whole mode: the host shows all of it\n",
			    plane->base.id);
		return -EINVAL;
	}
	return 0;
}

/*
 * Implicit fencing as usual, then the framebuffer's export for this
 * output, made the first time it is shown on an active output: in the
 * committing task, where a failure fails the commit.  The pinned pages
 * are the display's (DOC: in-kernel clients of virtio_vdmabuf), bounded
 * by VDMABUF_DRM_EXPORTS_PER_OUTPUT.
 */
static int vdmabuf_plane_prepare_fb(struct drm_plane *plane,
				    struct drm_plane_state *new_state)
{
	struct vdmabuf_drm *vd = to_vdmabuf_drm(plane->dev);
	struct drm_crtc_state *crtc_state = NULL;
	int ret, idx;

	if (!new_state->fb)
		return 0;
	ret = drm_gem_plane_helper_prepare_fb(plane, new_state);
	if (ret)
		return ret;
	if (new_state->crtc)
		crtc_state = drm_atomic_get_new_crtc_state(new_state->state,
							   new_state->crtc);
	/* An inactive output presents nothing (DRM_PLANE_COMMIT_ACTIVE_ONLY) */
	if (!crtc_state || !crtc_state->active)
		return 0;
	if (!drm_dev_enter(plane->dev, &idx))
		return -ENODEV;
	ret = vdmabuf_drm_fb_export(vd, new_state->fb,
				    plane_to_output(plane)->index,
				    plane->state->fb);
	drm_dev_exit(idx);
	return ret;
}

static void vdmabuf_rect_from(struct vdmabuf_rect *r,
			      const struct drm_rect *clip)
{
	r->x = clip->x1;
	r->y = clip->y1;
	r->width = drm_rect_width(clip);
	r->height = drm_rect_height(clip);
}

/*
 * The damage as rectangles of the framebuffer (which is the image the
 * host has), at most @max of them: one around all of it if there are
 * more.  0 (the whole buffer) for a full update, and whenever the plane
 * shows another framebuffer than before: the plane's damage is relative
 * to the screen, PRESENT's to the buffer presented.
 */
static u32 vdmabuf_plane_damage(struct drm_plane_state *old_state,
				struct drm_plane_state *new_state,
				struct vdmabuf_rect *rects, u32 max)
{
	struct drm_atomic_helper_damage_iter iter;
	struct drm_framebuffer *fb = new_state->fb;
	struct drm_rect clip;
	u32 n = 0;

	if (!max || old_state->fb != fb)
		return 0;
	drm_atomic_helper_damage_iter_init(&iter, old_state, new_state);
	drm_atomic_for_each_plane_damage(&iter, &clip) {
		if (n == max) {
			if (!drm_atomic_helper_damage_merged(old_state,
							     new_state, &clip))
				return 0;
			vdmabuf_rect_from(&rects[0], &clip);
			return 1;
		}
		vdmabuf_rect_from(&rects[n++], &clip);
	}
	if (n == 1 && rects[0].width == fb->width &&
	    rects[0].height == fb->height)
		return 0;
	return n;
}

/* Show the new framebuffer: one PRESENT, which the CRTC's event waits for */
static void vdmabuf_plane_atomic_update(struct drm_plane *plane,
					struct drm_atomic_state *state)
{
	struct drm_plane_state *old_state =
		drm_atomic_get_old_plane_state(state, plane);
	struct drm_plane_state *new_state =
		drm_atomic_get_new_plane_state(state, plane);
	struct vdmabuf_drm_output *out = plane_to_output(plane);
	struct vdmabuf_drm *vd = to_vdmabuf_drm(plane->dev);
	struct drm_device *drm = plane->dev;
	struct drm_crtc_state *crtc_state;
	bool first, vblank;
	u8 uuid[16];
	int ret, idx;
	u32 nr = 0;
	u64 seq;

	if (!new_state->visible || !new_state->fb)
		return;
	if (!drm_dev_enter(drm, &idx))
		return;
	/*
	 * Exported by prepare_fb; gone only if the device was reset since,
	 * or (after a commit timed out) evicted.  Then nothing is shown (the
	 * CRTC's atomic_flush completes the event) until a commit exports
	 * the framebuffer again.
	 */
	ret = vdmabuf_drm_fb_exported(vd, new_state->fb, out->index, uuid,
				      &first);
	if (ret)
		goto out_exit;
	if (!first)
		nr = vdmabuf_plane_damage(old_state, new_state, out->rects,
					  vd->max_rects);
	seq = atomic64_inc_return(&vd->seq);

	/* Pending before it is sent: its FRAME_DONE may come at once */
	crtc_state = drm_atomic_get_new_crtc_state(state, new_state->crtc);
	vblank = crtc_state->event && !drm_crtc_vblank_get(&out->crtc);
	spin_lock_irq(&drm->event_lock);
	if (out->pending) {	/* a frame the host never answered */
		vdmabuf_drm_account(out, false);
		if (out->event)
			vdmabuf_drm_send_event(out);
	}
	out->pending = true;
	out->pending_since = ktime_get();
	out->stats.frames++;
	out->event = crtc_state->event;
	out->event_vblank = vblank;
	crtc_state->event = NULL;
	memcpy(out->event_uuid, uuid, sizeof(uuid));
	out->event_seq = seq;
	spin_unlock_irq(&drm->event_lock);

	ret = vdmabuf_client_present(vd->client, uuid, seq, out->rects, nr);
	if (!ret) {
		vdmabuf_drm_fb_presented(vd, uuid, true);
	} else {
		drm_dbg_kms(drm, "[PLANE:%d] PRESENT failed: %d\n",
			    plane->base.id, ret);
		/* Released meanwhile: exported again at the next commit */
		if (ret == -ENOENT)
			vdmabuf_drm_fb_forget(vd, uuid);
		else
			vdmabuf_drm_fb_presented(vd, uuid, false);
		vdmabuf_drm_complete(out, uuid, &seq, false);
	}
out_exit:
	drm_dev_exit(idx);
}

static const struct drm_plane_helper_funcs vdmabuf_plane_helper_funcs = {
	.prepare_fb = vdmabuf_plane_prepare_fb,
	.atomic_check = vdmabuf_plane_atomic_check,
	.atomic_update = vdmabuf_plane_atomic_update,
};

static bool vdmabuf_plane_format_mod_supported(struct drm_plane *plane,
					       u32 format, u64 modifier)
{
	return modifier == DRM_FORMAT_MOD_LINEAR;
}

static const struct drm_plane_funcs vdmabuf_plane_funcs = {
	.update_plane = drm_atomic_helper_update_plane,
	.disable_plane = drm_atomic_helper_disable_plane,
	.destroy = drm_plane_cleanup,
	.reset = drm_atomic_helper_plane_reset,
	.atomic_duplicate_state = drm_atomic_helper_plane_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_plane_destroy_state,
	.format_mod_supported = vdmabuf_plane_format_mod_supported,
};

/* ---------------------------------------------------------------------- */
/* CRTC                                                                    */
/* ---------------------------------------------------------------------- */

/*
 * A vblank.  The timer is moved on first, so that its expiry less one
 * period is the time of this vblank (vdmabuf_crtc_vblank_timestamp()).
 * It stops itself once vblank is off: disable_vblank runs under the
 * vblank core's locks, which drm_crtc_handle_vblank() takes, so it must
 * not wait for this callback.
 */
static enum hrtimer_restart vdmabuf_vblank_timer(struct hrtimer *timer)
{
	struct vdmabuf_drm_output *out =
		container_of(timer, struct vdmabuf_drm_output, vblank_timer);
	unsigned long flags;
	bool on;

	spin_lock_irqsave(&out->vblank_lock, flags);
	on = out->period;
	if (on)
		hrtimer_forward_now(timer, out->period);
	spin_unlock_irqrestore(&out->vblank_lock, flags);
	if (!on || !drm_crtc_handle_vblank(&out->crtc))
		return HRTIMER_NORESTART;
	return HRTIMER_RESTART;
}

/* The time of the last vblank: the last expiry of the timer */
static bool vdmabuf_crtc_vblank_timestamp(struct drm_crtc *crtc,
					  int *max_error, ktime_t *time,
					  bool in_vblank_irq)
{
	struct vdmabuf_drm_output *out = crtc_to_output(crtc);
	unsigned long flags;

	spin_lock_irqsave(&out->vblank_lock, flags);
	if (out->period)
		*time = ktime_sub(hrtimer_get_expires(&out->vblank_timer),
				  out->period);
	else
		*time = ktime_get();
	spin_unlock_irqrestore(&out->vblank_lock, flags);
	return true;
}

static int vdmabuf_crtc_enable_vblank(struct drm_crtc *crtc)
{
	struct vdmabuf_drm_output *out = crtc_to_output(crtc);
	struct drm_vblank_crtc *vblank = drm_crtc_vblank_crtc(crtc);
	unsigned long flags;
	ktime_t period;

	drm_calc_timestamping_constants(crtc, &crtc->mode);
	period = ns_to_ktime(vblank->framedur_ns ?: NSEC_PER_SEC / 60);
	spin_lock_irqsave(&out->vblank_lock, flags);
	out->period = period;
	hrtimer_start(&out->vblank_timer, period, HRTIMER_MODE_REL);
	spin_unlock_irqrestore(&out->vblank_lock, flags);
	return 0;
}

/* The timer sees @period 0 and stops; a callback running now may finish */
static void vdmabuf_crtc_disable_vblank(struct drm_crtc *crtc)
{
	struct vdmabuf_drm_output *out = crtc_to_output(crtc);
	unsigned long flags;

	spin_lock_irqsave(&out->vblank_lock, flags);
	out->period = 0;
	hrtimer_try_to_cancel(&out->vblank_timer);
	spin_unlock_irqrestore(&out->vblank_lock, flags);
}

static const struct drm_crtc_funcs vdmabuf_crtc_funcs = {
	.set_config = drm_atomic_helper_set_config,
	.page_flip = drm_atomic_helper_page_flip,
	.destroy = drm_crtc_cleanup,
	.reset = drm_atomic_helper_crtc_reset,
	.atomic_duplicate_state = drm_atomic_helper_crtc_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_crtc_destroy_state,
	.enable_vblank = vdmabuf_crtc_enable_vblank,
	.disable_vblank = vdmabuf_crtc_disable_vblank,
	.get_vblank_timestamp = vdmabuf_crtc_vblank_timestamp,
};

static int vdmabuf_crtc_atomic_check(struct drm_crtc *crtc,
				     struct drm_atomic_state *state)
{
	struct drm_crtc_state *crtc_state =
		drm_atomic_get_new_crtc_state(state, crtc);

	/* An enabled CRTC shows its primary plane; a disabled one nothing */
	if (!crtc_state->enable)
		return 0;
	return drm_atomic_helper_check_crtc_primary_plane(crtc_state);
}

static void vdmabuf_crtc_atomic_enable(struct drm_crtc *crtc,
				       struct drm_atomic_state *state)
{
	drm_crtc_vblank_on(crtc);
}

/* The commit's event, if nothing presented took it: completes at once */
static void vdmabuf_crtc_send_event(struct drm_crtc *crtc,
				    struct drm_atomic_state *state)
{
	struct drm_crtc_state *crtc_state =
		drm_atomic_get_new_crtc_state(state, crtc);

	if (!crtc_state->event)
		return;
	spin_lock_irq(&crtc->dev->event_lock);
	drm_crtc_send_vblank_event(crtc, crtc_state->event);
	spin_unlock_irq(&crtc->dev->event_lock);
	crtc_state->event = NULL;
}

/*
 * The planes of an inactive CRTC are not committed
 * (DRM_PLANE_COMMIT_ACTIVE_ONLY): the event of the commit that turns it
 * off completes here.  A mode set that keeps it active goes on to
 * atomic_enable and the plane, whose PRESENT takes the event.
 */
static void vdmabuf_crtc_atomic_disable(struct drm_crtc *crtc,
					struct drm_atomic_state *state)
{
	struct drm_crtc_state *crtc_state =
		drm_atomic_get_new_crtc_state(state, crtc);

	/* A frame the host never answered: before its vblank goes */
	vdmabuf_drm_complete(crtc_to_output(crtc), NULL, NULL, false);
	drm_crtc_vblank_off(crtc);
	if (!crtc_state->active)
		vdmabuf_crtc_send_event(crtc, state);
}

/* A commit that presented nothing on this output completes at once */
static void vdmabuf_crtc_atomic_flush(struct drm_crtc *crtc,
				      struct drm_atomic_state *state)
{
	vdmabuf_crtc_send_event(crtc, state);
}

static const struct drm_crtc_helper_funcs vdmabuf_crtc_helper_funcs = {
	.atomic_check = vdmabuf_crtc_atomic_check,
	.atomic_enable = vdmabuf_crtc_atomic_enable,
	.atomic_disable = vdmabuf_crtc_atomic_disable,
	.atomic_flush = vdmabuf_crtc_atomic_flush,
};

/* ---------------------------------------------------------------------- */
/* Connector                                                               */
/* ---------------------------------------------------------------------- */

/* The output's size as the host last gave it; 0 x 0 for none */
static void vdmabuf_output_size(struct vdmabuf_drm_output *out, u32 *w,
				u32 *h)
{
	struct vdmabuf_drm *vd = to_vdmabuf_drm(out->crtc.dev);

	mutex_lock(&vd->out_lock);
	*w = 0;
	*h = 0;
	if (out->index < vd->outputs.nr_outputs) {
		*w = vd->outputs.outputs[out->index].width;
		*h = vd->outputs.outputs[out->index].height;
	}
	mutex_unlock(&vd->out_lock);
}

/* The usual modes, and the host's size as the preferred one */
static int vdmabuf_connector_get_modes(struct drm_connector *connector)
{
	struct vdmabuf_drm_output *out = connector_to_output(connector);
	struct drm_display_mode *mode;
	int count;
	u32 w, h;

	count = drm_add_modes_noedid(connector, VDMABUF_DRM_MAX_DIM,
				     VDMABUF_DRM_MAX_DIM);
	vdmabuf_output_size(out, &w, &h);
	if (!w || !h || w > VDMABUF_DRM_MAX_DIM || h > VDMABUF_DRM_MAX_DIM) {
		drm_set_preferred_mode(connector, VDMABUF_DRM_XRES,
				       VDMABUF_DRM_YRES);
		return count;
	}
	/* Reduced blanking: the sync starts 48 pixels past the active area */
	mode = drm_cvt_mode(connector->dev, w, h, 60, true, false, false);
	if (!mode)
		return count;
	/* CVT rounds the width down to 8 pixels; the host's is exact */
	if (mode->hdisplay != w) {
		mode->hdisplay = w;
		drm_mode_set_name(mode);
	}
	mode->type = DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED;
	drm_mode_probed_add(connector, mode);
	return count + 1;
}

static int vdmabuf_connector_detect(struct drm_connector *connector,
				    struct drm_modeset_acquire_ctx *ctx,
				    bool force)
{
	struct vdmabuf_drm_output *out = connector_to_output(connector);
	u32 w, h;

	vdmabuf_output_size(out, &w, &h);
	return w && h ? connector_status_connected :
			connector_status_disconnected;
}

static const struct drm_connector_helper_funcs vdmabuf_connector_helper_funcs = {
	.get_modes = vdmabuf_connector_get_modes,
	.detect_ctx = vdmabuf_connector_detect,
};

static const struct drm_connector_funcs vdmabuf_connector_funcs = {
	.fill_modes = drm_helper_probe_single_connector_modes,
	.destroy = drm_connector_cleanup,
	.reset = drm_atomic_helper_connector_reset,
	.atomic_duplicate_state = drm_atomic_helper_connector_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_connector_destroy_state,
};

static const struct drm_encoder_funcs vdmabuf_encoder_funcs = {
	.destroy = drm_encoder_cleanup,
};

/* ---------------------------------------------------------------------- */
/* Mode configuration                                                      */
/* ---------------------------------------------------------------------- */

/*
 * The helpers' commit tail, but the flips are waited for, not the vblanks:
 * they complete on the host's FRAME_DONE.
 */
static void vdmabuf_drm_commit_tail(struct drm_atomic_state *old_state)
{
	struct drm_device *drm = old_state->dev;

	drm_atomic_helper_commit_modeset_disables(drm, old_state);
	drm_atomic_helper_commit_modeset_enables(drm, old_state);
	drm_atomic_helper_commit_planes(drm, old_state,
					DRM_PLANE_COMMIT_ACTIVE_ONLY);
	drm_atomic_helper_fake_vblank(old_state);
	drm_atomic_helper_commit_hw_done(old_state);
	drm_atomic_helper_wait_for_flip_done(drm, old_state);
	drm_atomic_helper_cleanup_planes(drm, old_state);
}

static const struct drm_mode_config_helper_funcs vdmabuf_mode_config_helpers = {
	.atomic_commit_tail = vdmabuf_drm_commit_tail,
};

static struct drm_framebuffer *
vdmabuf_drm_fb_create(struct drm_device *drm, struct drm_file *file,
		      VDMABUF_COMPAT_FB_INFO(info)
		      const struct drm_mode_fb_cmd2 *mode_cmd);

static const struct drm_mode_config_funcs vdmabuf_mode_config_funcs = {
	.fb_create = vdmabuf_drm_fb_create,
	.atomic_check = drm_atomic_helper_check,
	.atomic_commit = drm_atomic_helper_commit,
};

static void vdmabuf_drm_fb_destroy(struct drm_framebuffer *fb);

static const struct drm_framebuffer_funcs vdmabuf_fb_funcs = {
	.destroy = vdmabuf_drm_fb_destroy,
	.create_handle = drm_gem_fb_create_handle,
	.dirty = drm_atomic_helper_dirtyfb,
};

/* A framebuffer of one GEM object per plane, with room for its exports */
static struct drm_framebuffer *
vdmabuf_drm_fb_create(struct drm_device *drm, struct drm_file *file,
		      VDMABUF_COMPAT_FB_INFO(info)
		      const struct drm_mode_fb_cmd2 *mode_cmd)
{
	struct vdmabuf_drm_fb *vfb;
	int ret;

	vfb = kzalloc(sizeof(*vfb), GFP_KERNEL);
	if (!vfb)
		return ERR_PTR(-ENOMEM);
	ret = drm_gem_fb_init_with_funcs(drm, &vfb->base, file, info, mode_cmd,
					 &vdmabuf_fb_funcs);
	if (ret) {
		kfree(vfb);
		return ERR_PTR(ret);
	}
	return &vfb->base;
}

/*
 * Unexport the framebuffer's exports (each stays pinned until its
 * RELEASED), then free it.
 */
static void vdmabuf_drm_fb_destroy(struct drm_framebuffer *fb)
{
	struct vdmabuf_drm *vd = to_vdmabuf_drm(fb->dev);
	struct vdmabuf_drm_fb *vfb = to_vdmabuf_fb(fb);
	u8 uuids[VDMABUF_MAX_OUTPUTS][16];
	unsigned int i, n = 0;
	int idx;

	mutex_lock(&vd->exp_lock);
	for (i = 0; i < ARRAY_SIZE(vfb->exports); i++) {
		if (!vfb->exports[i])
			continue;
		vfb->exports[i]->fb = NULL;
		memcpy(uuids[n++], vfb->exports[i]->uuid, sizeof(uuids[0]));
		vfb->exports[i] = NULL;
	}
	mutex_unlock(&vd->exp_lock);
	/* After unplug, closing the client unexported them */
	if (n && drm_dev_enter(fb->dev, &idx)) {
		for (i = 0; i < n; i++)
			vdmabuf_drm_unexport(vd, uuids[i]);
		drm_dev_exit(idx);
	}
	drm_gem_fb_destroy(fb);
}

/* The output's memory goes: its timer must not run any more */
static void vdmabuf_drm_output_fini(struct drm_device *drm, void *data)
{
	struct vdmabuf_drm_output *out = data;

	hrtimer_cancel(&out->vblank_timer);
}

static int vdmabuf_drm_output_init(struct vdmabuf_drm *vd,
				   struct vdmabuf_drm_output *out)
{
	struct drm_device *drm = &vd->drm;
	int ret;

	spin_lock_init(&out->vblank_lock);
	hrtimer_setup(&out->vblank_timer, vdmabuf_vblank_timer, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);
	ret = drmm_add_action_or_reset(drm, vdmabuf_drm_output_fini, out);
	if (ret)
		return ret;
	if (vd->max_rects) {
		out->rects = drmm_kcalloc(drm, vd->max_rects,
					  sizeof(*out->rects), GFP_KERNEL);
		if (!out->rects)
			return -ENOMEM;
	}

	ret = drm_universal_plane_init(drm, &out->plane, 0,
				       &vdmabuf_plane_funcs,
				       vdmabuf_drm_formats,
				       ARRAY_SIZE(vdmabuf_drm_formats),
				       vdmabuf_drm_modifiers,
				       DRM_PLANE_TYPE_PRIMARY, NULL);
	if (ret)
		return ret;
	drm_plane_helper_add(&out->plane, &vdmabuf_plane_helper_funcs);
	drm_plane_enable_fb_damage_clips(&out->plane);

	ret = drm_crtc_init_with_planes(drm, &out->crtc, &out->plane, NULL,
					&vdmabuf_crtc_funcs, NULL);
	if (ret)
		return ret;
	drm_crtc_helper_add(&out->crtc, &vdmabuf_crtc_helper_funcs);

	ret = drm_encoder_init(drm, &out->encoder, &vdmabuf_encoder_funcs,
			       DRM_MODE_ENCODER_VIRTUAL, NULL);
	if (ret)
		return ret;
	out->encoder.possible_crtcs = drm_crtc_mask(&out->crtc);

	ret = drm_connector_init(drm, &out->connector,
				 &vdmabuf_connector_funcs,
				 DRM_MODE_CONNECTOR_VIRTUAL);
	if (ret)
		return ret;
	drm_connector_helper_add(&out->connector,
				 &vdmabuf_connector_helper_funcs);
	/* The host says when an output changes: no polling */
	out->connector.polled = 0;
	return drm_connector_attach_encoder(&out->connector, &out->encoder);
}

/**
 * vdmabuf_drm_outputs_init() - mode configuration, and one CRTC, primary
 *	plane, encoder and connector for each output
 * @vd: the display, with @nr_outputs, @max_rects and @outputs set
 *
 * Return: 0 or a negative errno.
 */
int vdmabuf_drm_outputs_init(struct vdmabuf_drm *vd)
{
	struct drm_device *drm = &vd->drm;
	unsigned int i;
	int ret;

	ret = drmm_mode_config_init(drm);
	if (ret)
		return ret;
	drm->mode_config.min_width = 1;
	drm->mode_config.min_height = 1;
	drm->mode_config.max_width = VDMABUF_DRM_MAX_DIM;
	drm->mode_config.max_height = VDMABUF_DRM_MAX_DIM;
	drm->mode_config.preferred_depth = 24;
	drm->mode_config.funcs = &vdmabuf_mode_config_funcs;
	drm->mode_config.helper_private = &vdmabuf_mode_config_helpers;

	vd->out = drmm_kcalloc(drm, vd->nr_outputs, sizeof(*vd->out),
			       GFP_KERNEL);
	if (!vd->out)
		return -ENOMEM;
	for (i = 0; i < vd->nr_outputs; i++) {
		vd->out[i].index = i;
		ret = vdmabuf_drm_output_init(vd, &vd->out[i]);
		if (ret)
			return ret;
	}
	ret = drm_vblank_init(drm, vd->nr_outputs);
	if (ret)
		return ret;
	drm_mode_config_reset(drm);
	return 0;
}
