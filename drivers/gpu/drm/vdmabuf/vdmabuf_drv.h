/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdmabuf KMS driver: the outputs of a virtio-dmabuf device as CRTCs,
 * planes and connectors.
 */
#ifndef _VDMABUF_DRV_H
#define _VDMABUF_DRV_H

#include <linux/hrtimer.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vdmabuf_client.h>

#include <drm/drm_connector.h>
#include <drm/drm_crtc.h>
#include <drm/drm_device.h>
#include <drm/drm_encoder.h>
#include <drm/drm_framebuffer.h>
#include <drm/drm_plane.h>

struct drm_minor;
struct drm_pending_vblank_event;

/*
 * Framebuffers an output keeps exported, and so pinned, at once: a
 * compositor's swap chain is two to four buffers.  Exporting another
 * evicts the least recently presented.
 */
#define VDMABUF_DRM_EXPORTS_PER_OUTPUT	4

/**
 * struct vdmabuf_drm_stats - the frames of an output since probe
 * @frames: frames committed for the host (a PRESENT attempted)
 * @shown: of them, answered by the host's FRAME_DONE
 * @unanswered: of them, no longer waited for: the PRESENT failed, the
 *	export was released, the CRTC was disabled (also by a mode set), or
 *	a later frame replaced it; a late FRAME_DONE of one is ignored
 * @latency_sum_ns: commit of the frame to its FRAME_DONE, summed over
 *	@shown frames
 * @latency_max_ns: commit of the frame to its FRAME_DONE, the longest
 */
struct vdmabuf_drm_stats {
	u64 frames;
	u64 shown;
	u64 unanswered;
	u64 latency_sum_ns;
	u64 latency_max_ns;
};

/**
 * struct vdmabuf_drm_output - one output of the device
 * @index: the output's number in the device (struct virtio_vdmabuf_image's
 *	output field)
 * @plane: its primary plane
 * @crtc: its CRTC
 * @encoder: its (virtual) encoder
 * @connector: its connector, Virtual-(@index + 1)
 * @vblank_timer: vblank at the mode's rate while vblank is on; the host
 *	has no vblank of its own.  Stopped by its callback once @period is
 *	0, cancelled synchronously only when the device goes away.
 * @vblank_lock: protects @period and the timer's expiry as the vblank
 *	timestamp reads them
 * @period: @vblank_timer's period, 0 while vblank is off; @vblank_lock
 * @rects: room for the damage of one PRESENT (max_rects); used by the
 *	plane's atomic_update only
 * @pending: a frame was presented that its FRAME_DONE has not answered;
 *	drm->event_lock
 * @pending_since: when that frame was presented; drm->event_lock
 * @stats: the output's frames, for debugfs; drm->event_lock
 * @event: the flip of the pending frame, waiting for its FRAME_DONE, with
 *	a vblank reference held for it if @event_vblank; drm->event_lock
 * @event_vblank: drm_crtc_vblank_get() succeeded for @event, so that its
 *	timestamp and sequence are those of a running vblank counter;
 *	drm->event_lock
 * @event_uuid: the export the pending frame was presented in;
 *	drm->event_lock
 * @event_seq: the pending frame's sequence number; drm->event_lock
 */
struct vdmabuf_drm_output {
	unsigned int index;
	struct drm_plane plane;
	struct drm_crtc crtc;
	struct drm_encoder encoder;
	struct drm_connector connector;
	struct hrtimer vblank_timer;
	spinlock_t vblank_lock;		/* period */
	ktime_t period;
	struct vdmabuf_rect *rects;
	bool pending;
	ktime_t pending_since;
	struct vdmabuf_drm_stats stats;
	struct drm_pending_vblank_event *event;
	bool event_vblank;
	u8 event_uuid[16];
	u64 event_seq;
};

/**
 * struct vdmabuf_drm - one device's display
 * @drm: the DRM device
 * @client: the driver's client of the virtio-dmabuf device; usable
 *	inside drm_dev_enter() only (closed after drm_dev_unplug())
 * @dma_dev: the device exports are mapped for; foreign dma-bufs are
 *	imported for it
 * @max_rects: damage rectangles a PRESENT may carry
 * @seq: the last frame's sequence number
 * @exp_lock: protects @exports and the exports of every framebuffer
 * @exports: every &struct vdmabuf_drm_export not yet released, the least
 *	recently exported or presented first
 * @out_lock: protects @outputs
 * @outputs: the device's outputs as last read
 * @nr_outputs: entries in @out, fixed at probe
 * @out: the outputs (drmm_kcalloc())
 */
struct vdmabuf_drm {
	struct drm_device drm;
	struct vdmabuf_client *client;
	struct device *dma_dev;
	u32 max_rects;
	atomic64_t seq;

	struct mutex exp_lock;		/* exports */
	struct list_head exports;

	struct mutex out_lock;		/* outputs */
	struct vdmabuf_outputs outputs;

	unsigned int nr_outputs;
	struct vdmabuf_drm_output *out;
};

/**
 * struct vdmabuf_drm_export - a framebuffer shared with the host for one
 *	output
 * @node: in vdmabuf_drm.exports; exp_lock
 * @uuid: the export's UUID
 * @fb: the framebuffer, NULL once it was destroyed or the export evicted
 *	(and the export unexported); exp_lock
 * @output: the output the export's metadata names
 * @presented: a frame of it was presented: the host has its pixels, and a
 *	later frame may carry damage; exp_lock
 * @unexport_failed: its UNEXPORT failed (the device refused it, or the
 *	task was killed): still live, counted in its output's exports and
 *	unexported again by the next eviction; exp_lock
 *
 * Freed on its RELEASED, or when the client is closed.
 */
struct vdmabuf_drm_export {
	struct list_head node;
	u8 uuid[16];
	struct vdmabuf_drm_fb *fb;
	unsigned int output;
	bool presented;
	bool unexport_failed;
};

/**
 * struct vdmabuf_drm_fb - a framebuffer and its exports
 * @base: the framebuffer
 * @exports: its export for each output it was shown on, exported the
 *	first time, until evicted; exp_lock
 */
struct vdmabuf_drm_fb {
	struct drm_framebuffer base;
	struct vdmabuf_drm_export *exports[VDMABUF_MAX_OUTPUTS];
};

static inline struct vdmabuf_drm *to_vdmabuf_drm(struct drm_device *drm)
{
	return container_of(drm, struct vdmabuf_drm, drm);
}

static inline struct vdmabuf_drm_fb *to_vdmabuf_fb(struct drm_framebuffer *fb)
{
	return container_of(fb, struct vdmabuf_drm_fb, base);
}

int vdmabuf_drm_fb_export(struct vdmabuf_drm *vd, struct drm_framebuffer *fb,
			  unsigned int output, struct drm_framebuffer *shown);
int vdmabuf_drm_fb_exported(struct vdmabuf_drm *vd, struct drm_framebuffer *fb,
			    unsigned int output, u8 uuid[16], bool *first);
void vdmabuf_drm_fb_presented(struct vdmabuf_drm *vd, const u8 uuid[16],
			      bool presented);
void vdmabuf_drm_fb_forget(struct vdmabuf_drm *vd, const u8 uuid[16]);
void vdmabuf_drm_unexport(struct vdmabuf_drm *vd, const u8 uuid[16]);

int vdmabuf_drm_outputs_init(struct vdmabuf_drm *vd);
void vdmabuf_drm_frame_done(struct vdmabuf_drm *vd, const u8 uuid[16],
			    u64 seq);
void vdmabuf_drm_released(struct vdmabuf_drm *vd, const u8 uuid[16]);
void vdmabuf_drm_debugfs_init(struct drm_minor *minor);

#endif /* _VDMABUF_DRV_H */
