// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_kms: the vdmabuf KMS driver (vdmabuf_drm), guest (L2) side.
 *
 * Needs QEMU's vhost-vdmabuf-pci with display=on,outputs=2 and
 * importer_display on the host (L1), which screendumps each frame the KMS
 * driver presents and answers its FRAME_DONE only then; and e2e_display
 * run before, whose last case made the host resize output 1 to 400x300.
 *
 * With raw KMS ioctls, as a compositor makes them:
 * - the connectors: one per output, connected, the host's sizes as their
 *   preferred modes, and the hotplug event the resize sent (seen by this
 *   program's --watch-uevents, started before e2e_display);
 * - page flips between two dumb buffers on output 0: each completes (its
 *   event comes), at the pace of the host's FRAME_DONE;
 * - a buffer of another device (vgem, standing in for a GPU without
 *   outputs) imported with PRIME and shown on output 1, then drawn into
 *   through vgem's own mapping and flushed with DIRTYFB: the host shows
 *   the new pixels, so it reads vgem's pages;
 * - unbinding the driver with a mode set, then binding it again: the host
 *   gets every export back, and the new device shows frames.
 *
 * Every frame shown is printed as a line for the host's check
 * ("# kms-frame: output N WxH fnv1a64 H", the hash of its RGB pixels as a
 * PPM screendump has them): l1-run.sh finds each among importer_display's
 * screendumps of that output.
 *
 * --readback N prints the frame another client (modetest) shows on output
 * N, the same way.
 *
 * Output: kselftest TAP.  Exit: 0 if every result passed, 1 otherwise, 4
 * (skip) without a vdmabuf DRM device.
 */
#include <assert.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/netlink.h>
#include <drm.h>		/* libdrm-dev's copy of the DRM UAPI */
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "kselftest.h"
#include "vgem_fence.h"
#include "demo_pattern.h"	/* fnv1a64 */
#include "display_proto.h"	/* disp_rgb24_row() */
#include "example_common.h"	/* now_ms() */

#define NR_OUTPUTS	2
#define NR_FLIPS	10
#define MAX_FB_WIDTH	8192	/* the driver's mode_config.max_width */
#define EVENT_MS	60000	/* nested TCG: a host screendump takes seconds */
#define AUX_DEV		"virtio_vdmabuf.display.0"
#define AUX_DRV		"/sys/bus/auxiliary/drivers/vdmabuf_drm"

struct kms {
	int fd;
	uint32_t conn[NR_OUTPUTS];
	uint32_t crtc[NR_OUTPUTS];
	uint32_t plane[NR_OUTPUTS];
	struct drm_mode_modeinfo mode[NR_OUTPUTS];	/* preferred */
	char ev[1024];		/* events read, not yet taken: */
	size_t ev_off, ev_len;	/* from ev_off to ev_len */
};

struct fb {
	int dev_fd;		/* the device the buffer is from */
	uint32_t handle;	/* in dev_fd */
	uint32_t kms_handle;	/* in the KMS device */
	uint32_t fb_id;
	uint32_t width, height, pitch;
	uint32_t format;	/* DRM_FORMAT_XRGB8888, RGB565 or XRGB2101010 */
	uint64_t size;
	uint32_t *map;
};

static int drm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r && (errno == EINTR || errno == EAGAIN));
	return r ? -errno : 0;
}

/* The DRM driver's name of @fd, into @name */
static int driver_name(int fd, char *name, size_t len)
{
	struct drm_version v = { .name = name, .name_len = len - 1 };

	memset(name, 0, len);
	return drm_ioctl(fd, DRM_IOCTL_VERSION, &v);
}

/* The first /dev/dri/cardN whose driver is @drv: its fd, or -ENOENT */
static int open_card(const char *drv)
{
	char path[64], name[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!driver_name(fd, name, sizeof(name)) && !strcmp(name, drv))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* The ID of property @name of object @obj, 0 if none */
static uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char *name)
{
	struct drm_mode_obj_get_properties op = { .obj_id = obj,
						  .obj_type = type };
	uint32_t ids[64], id = 0;
	uint64_t vals[64];
	uint32_t i;

	if (drm_ioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op) ||
	    op.count_props > 64)
		return 0;
	op.props_ptr = (uintptr_t)ids;
	op.prop_values_ptr = (uintptr_t)vals;
	if (drm_ioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op))
		return 0;
	for (i = 0; i < op.count_props && !id; i++) {
		struct drm_mode_get_property p = { .prop_id = ids[i] };

		if (!drm_ioctl(fd, DRM_IOCTL_MODE_GETPROPERTY, &p) &&
		    !strcmp(p.name, name))
			id = ids[i];
	}
	return id;
}

/*
 * Connector @i's modes: its status, and its preferred mode into *@pref
 * (0 if none).  Returns the number of modes, or -errno.
 */
static int connector_modes(int fd, uint32_t conn, uint32_t *status,
			   struct drm_mode_modeinfo *pref)
{
	struct drm_mode_get_connector c = { .connector_id = conn };
	struct drm_mode_modeinfo *modes;
	uint32_t i;
	int r;

	r = drm_ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c);
	if (r)
		return r;
	modes = calloc(c.count_modes + 1, sizeof(*modes));
	if (!modes)
		return -ENOMEM;
	c.modes_ptr = (uintptr_t)modes;
	c.count_props = 0;
	c.count_encoders = 0;
	r = drm_ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c);
	memset(pref, 0, sizeof(*pref));
	for (i = 0; !r && i < c.count_modes; i++)
		if (modes[i].type & DRM_MODE_TYPE_PREFERRED) {
			*pref = modes[i];
			break;
		}
	*status = c.connection;
	free(modes);
	return r ? r : (int)c.count_modes;
}

/* The KMS device's outputs: connectors, CRTCs, primary planes, modes */
static int kms_open(struct kms *k)
{
	struct drm_mode_card_res res = {};
	struct drm_mode_get_plane_res pres = {};
	uint32_t conns[NR_OUTPUTS], crtcs[NR_OUTPUTS], planes[16], status;
	struct drm_set_client_cap cap = { DRM_CLIENT_CAP_ATOMIC, 1 };
	uint32_t i, j;
	int r;

	k->ev_off = 0;
	k->ev_len = 0;
	k->fd = open_card("vdmabuf");
	if (k->fd < 0)
		return k->fd;
	r = drm_ioctl(k->fd, DRM_IOCTL_SET_CLIENT_CAP, &cap);
	if (r)
		return r;
	if (drm_ioctl(k->fd, DRM_IOCTL_MODE_GETRESOURCES, &res) ||
	    res.count_connectors != NR_OUTPUTS || res.count_crtcs != NR_OUTPUTS)
		return -EINVAL;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.count_fbs = 0;
	res.count_encoders = 0;
	if (drm_ioctl(k->fd, DRM_IOCTL_MODE_GETRESOURCES, &res))
		return -EINVAL;
	if (drm_ioctl(k->fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pres) ||
	    pres.count_planes > 16)
		return -EINVAL;
	pres.plane_id_ptr = (uintptr_t)planes;
	if (drm_ioctl(k->fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pres))
		return -EINVAL;
	for (i = 0; i < NR_OUTPUTS; i++) {
		k->conn[i] = conns[i];
		k->crtc[i] = crtcs[i];
		k->plane[i] = 0;
		for (j = 0; j < pres.count_planes; j++) {
			struct drm_mode_get_plane p = { .plane_id = planes[j] };

			if (!drm_ioctl(k->fd, DRM_IOCTL_MODE_GETPLANE, &p) &&
			    p.possible_crtcs == 1U << i)
				k->plane[i] = planes[j];
		}
		r = connector_modes(k->fd, k->conn[i], &status, &k->mode[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One of the frames' pictures: a gradient and a number, @seed apart */
static uint32_t pixel(uint32_t x, uint32_t y, uint32_t seed)
{
	return (((x * 3 + seed * 40) & 0xff) << 16) |
	       (((y * 5 + seed * 70) & 0xff) << 8) | ((x ^ y ^ seed) & 0xff);
}

/* Bits per pixel of the formats a framebuffer here has */
static uint32_t format_bpp(uint32_t format)
{
	return format == DRM_FORMAT_RGB565 ? 16 : 32;
}

/*
 * Pixel @x, @y of @b set to @xrgb (8 bits per component), packed in a
 * little-endian word as DRM formats are.
 */
static void put_pixel(struct fb *b, uint32_t x, uint32_t y, uint32_t xrgb)
{
	uint8_t *row = (uint8_t *)b->map + (size_t)y * b->pitch;
	uint32_t r = xrgb >> 16 & 0xff, g = xrgb >> 8 & 0xff, bl = xrgb & 0xff;
	uint16_t v16;
	uint32_t v;

	switch (b->format) {
	case DRM_FORMAT_RGB565:
		v16 = htole16((r >> 3) << 11 | (g >> 2) << 5 | bl >> 3);
		memcpy(row + 2 * x, &v16, 2);
		return;
	case DRM_FORMAT_XRGB2101010:	/* 8 to 10 bits: the top bits again */
		v = (r << 2 | r >> 6) << 20 | (g << 2 | g >> 6) << 10 |
		    (bl << 2 | bl >> 6);
		break;
	default:
		v = xrgb;
	}
	v = htole32(v);
	memcpy(row + 4 * x, &v, 4);
}

static void draw(struct fb *b, uint32_t seed)
{
	uint32_t x, y;

	for (y = 0; y < b->height; y++)
		for (x = 0; x < b->width; x++)
			put_pixel(b, x, y, pixel(x, y, seed));
}

/*
 * The frame's RGB bytes as a PPM screendump of the host's display has
 * them (disp_rgb24_row(): 5 and 6 bits widened, 10 bits cut to 8), hashed.
 */
static uint64_t frame_hash(const struct fb *b)
{
	static uint8_t rgb[3 * MAX_FB_WIDTH];
	uint64_t h = FNV1A64_INIT;
	uint32_t y;

	assert(b->width <= MAX_FB_WIDTH);
	for (y = 0; y < b->height; y++) {
		disp_rgb24_row(b->format, (const uint8_t *)b->map +
			       (size_t)y * b->pitch, b->width, rgb);
		h = fnv1a64_update(h, rgb, 3 * b->width);
	}
	return h;
}

static void print_frame(unsigned int output, const struct fb *b)
{
	ksft_print_msg("kms-frame: output %u %ux%u fnv1a64 %016" PRIx64 "\n",
		       output, b->width, b->height, frame_hash(b));
}

/*
 * A dumb buffer of @w x @h in @format on @dev_fd, mapped, and a
 * framebuffer of it on the KMS device (imported with PRIME if @dev_fd is
 * another device).
 */
static int fb_create_format(struct kms *k, int dev_fd, uint32_t w,
			    uint32_t h, uint32_t format, struct fb *b)
{
	struct drm_mode_create_dumb cd = { .width = w, .height = h,
					   .bpp = format_bpp(format) };
	struct drm_mode_map_dumb md = {};
	struct drm_mode_fb_cmd2 f = {};
	int r;

	memset(b, 0, sizeof(*b));
	b->dev_fd = dev_fd;
	r = drm_ioctl(dev_fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd);
	if (r)
		return r;
	b->handle = cd.handle;
	b->width = w;
	b->height = h;
	b->format = format;
	b->pitch = cd.pitch;
	b->size = cd.size;
	md.handle = cd.handle;
	r = drm_ioctl(dev_fd, DRM_IOCTL_MODE_MAP_DUMB, &md);
	if (r)
		return r;
	b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      dev_fd, md.offset);
	if (b->map == MAP_FAILED)
		return -errno;
	b->kms_handle = b->handle;
	if (dev_fd != k->fd) {
		struct drm_prime_handle ex = { .handle = b->handle,
					       .flags = DRM_CLOEXEC | DRM_RDWR };
		struct drm_prime_handle im = {};

		r = drm_ioctl(dev_fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ex);
		if (r)
			return r;
		im.fd = ex.fd;
		r = drm_ioctl(k->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &im);
		close(ex.fd);
		if (r)
			return r;
		b->kms_handle = im.handle;
	}
	f.width = w;
	f.height = h;
	f.pixel_format = format;
	f.handles[0] = b->kms_handle;
	f.pitches[0] = b->pitch;
	r = drm_ioctl(k->fd, DRM_IOCTL_MODE_ADDFB2, &f);
	if (r)
		return r;
	b->fb_id = f.fb_id;
	return 0;
}

/* An XRGB8888 framebuffer, as fb_create_format() */
static int fb_create(struct kms *k, int dev_fd, uint32_t w, uint32_t h,
		     struct fb *b)
{
	return fb_create_format(k, dev_fd, w, h, DRM_FORMAT_XRGB8888, b);
}

static void fb_destroy(struct kms *k, struct fb *b)
{
	struct drm_mode_destroy_dumb dd = { .handle = b->handle };

	if (b->fb_id)
		drm_ioctl(k->fd, DRM_IOCTL_MODE_RMFB, &b->fb_id);
	if (b->kms_handle && b->dev_fd != k->fd) {
		struct drm_gem_close gc = { .handle = b->kms_handle };

		drm_ioctl(k->fd, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	if (b->map && b->map != MAP_FAILED)
		munmap(b->map, b->size);
	if (b->handle)
		drm_ioctl(b->dev_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &dd);
	memset(b, 0, sizeof(*b));
}

#define MAX_PROPS 16
struct commit {
	uint32_t objs[3], counts[3], props[MAX_PROPS];
	uint64_t values[MAX_PROPS];
	uint32_t nr_objs, nr_props;
};

static void add_prop(struct kms *k, struct commit *c, uint32_t obj,
		     uint32_t type, const char *name, uint64_t value)
{
	if (!c->nr_objs || c->objs[c->nr_objs - 1] != obj) {
		c->objs[c->nr_objs] = obj;
		c->counts[c->nr_objs++] = 0;
	}
	c->counts[c->nr_objs - 1]++;
	c->props[c->nr_props] = prop_id(k->fd, obj, type, name);
	c->values[c->nr_props++] = value;
}

/* DRM_IOCTL_MODE_ATOMIC of the properties in @c: 0 or -errno */
static int atomic_commit(struct kms *k, const struct commit *c,
			 uint32_t flags, uint64_t user_data)
{
	struct drm_mode_atomic a = {
		.flags = flags,
		.count_objs = c->nr_objs,
		.objs_ptr = (uintptr_t)c->objs,
		.count_props_ptr = (uintptr_t)c->counts,
		.props_ptr = (uintptr_t)c->props,
		.prop_values_ptr = (uintptr_t)c->values,
		.user_data = user_data,
	};

	return drm_ioctl(k->fd, DRM_IOCTL_MODE_ATOMIC, &a);
}

/* How show() commits */
#define SHOW_FLIP	0	/* a nonblocking page flip */
#define SHOW_MODESET	1	/* a blocking mode set to the preferred mode */
#define SHOW_BLOCKING	2	/* a blocking page flip */

/*
 * Show @b on @output with an atomic commit, as @how says, with the plane
 * at the framebuffer's size, at 0,0, and with @damage (FB_DAMAGE_CLIPS)
 * unless NULL.  Asks for a flip event, with @user_data.  0 or -errno.
 */
static int show(struct kms *k, unsigned int output, struct fb *b,
		unsigned int how, uint64_t user_data,
		const struct drm_mode_rect *damage)
{
	struct drm_mode_create_blob dblob = {
		.data = (uintptr_t)damage,
		.length = sizeof(*damage),
	};
	struct commit c = {};
	uint32_t plane = k->plane[output];
	int r;

	if (how == SHOW_MODESET) {
		struct drm_mode_create_blob blob = {
			.data = (uintptr_t)&k->mode[output],
			.length = sizeof(k->mode[output]),
		};

		r = drm_ioctl(k->fd, DRM_IOCTL_MODE_CREATEPROPBLOB, &blob);
		if (r)
			return r;
		add_prop(k, &c, k->conn[output], DRM_MODE_OBJECT_CONNECTOR,
			 "CRTC_ID", k->crtc[output]);
		add_prop(k, &c, k->crtc[output], DRM_MODE_OBJECT_CRTC,
			 "MODE_ID", blob.blob_id);
		add_prop(k, &c, k->crtc[output], DRM_MODE_OBJECT_CRTC,
			 "ACTIVE", 1);
	}
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "FB_ID", b->fb_id);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_ID",
		 k->crtc[output]);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_X", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_Y", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_W",
		 (uint64_t)b->width << 16);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_H",
		 (uint64_t)b->height << 16);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_X", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_Y", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_W", b->width);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_H", b->height);
	if (damage) {
		r = drm_ioctl(k->fd, DRM_IOCTL_MODE_CREATEPROPBLOB, &dblob);
		if (r)
			return r;
		add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE,
			 "FB_DAMAGE_CLIPS", dblob.blob_id);
	}
	r = atomic_commit(k, &c, DRM_MODE_PAGE_FLIP_EVENT |
			  (how == SHOW_MODESET ? DRM_MODE_ATOMIC_ALLOW_MODESET :
			   how == SHOW_FLIP ? DRM_MODE_ATOMIC_NONBLOCK : 0),
			  user_data);
	if (damage)	/* the commit's state holds it */
		drm_ioctl(k->fd, DRM_IOCTL_MODE_DESTROYPROPBLOB,
			  &dblob.blob_id);
	return r;
}

/* Turn @output off (no plane, CRTC inactive), blocking */
static int output_off(struct kms *k, unsigned int output)
{
	struct commit c = {};

	add_prop(k, &c, k->conn[output], DRM_MODE_OBJECT_CONNECTOR,
		 "CRTC_ID", 0);
	add_prop(k, &c, k->crtc[output], DRM_MODE_OBJECT_CRTC, "MODE_ID", 0);
	add_prop(k, &c, k->crtc[output], DRM_MODE_OBJECT_CRTC, "ACTIVE", 0);
	add_prop(k, &c, k->plane[output], DRM_MODE_OBJECT_PLANE, "FB_ID", 0);
	add_prop(k, &c, k->plane[output], DRM_MODE_OBJECT_PLANE, "CRTC_ID", 0);
	return atomic_commit(k, &c, DRM_MODE_ATOMIC_ALLOW_MODESET, 0);
}

/*
 * The next flip-complete event within EVENT_MS, into *@out: 0,
 * -ETIMEDOUT, -errno
 */
static int wait_flip(struct kms *k, struct drm_event_vblank *out)
{
	struct pollfd p = { .fd = k->fd, .events = POLLIN };
	ssize_t n;
	int r;

	for (;;) {
		/* One read may return several events: take them in turn */
		while (k->ev_off + sizeof(struct drm_event) <= k->ev_len) {
			struct drm_event_vblank *ev = (void *)(k->ev + k->ev_off);

			if (ev->base.length < sizeof(struct drm_event))
				return -EPROTO;
			k->ev_off += ev->base.length;
			if (ev->base.type == DRM_EVENT_FLIP_COMPLETE) {
				memcpy(out, ev, sizeof(*out));
				return 0;
			}
		}
		r = poll(&p, 1, EVENT_MS);
		if (r < 0)
			return -errno;
		if (!r)
			return -ETIMEDOUT;
		n = read(k->fd, k->ev, sizeof(k->ev));
		if (n < 0)
			return -errno;
		k->ev_off = 0;
		k->ev_len = n;
	}
}

/*
 * A new framebuffer of @output's mode on @dev_fd with picture @seed, set
 * on @output with a mode set whose flip event has come: 0 or -errno.
 */
static int show_new(struct kms *k, int dev_fd, unsigned int output,
		    uint32_t seed, struct fb *b)
{
	struct drm_event_vblank ev;
	int r;

	r = fb_create(k, dev_fd, k->mode[output].hdisplay,
		      k->mode[output].vdisplay, b);
	if (r)
		return r;
	draw(b, seed);
	r = show(k, output, b, SHOW_MODESET, seed, NULL);
	return r ? r : wait_flip(k, &ev);
}

/* ---------------------------------------------------------------------- */

static void test_connectors(struct kms *k)
{
	static const uint32_t want[NR_OUTPUTS][2] = { { 320, 200 },
						      { 400, 300 } };
	unsigned int i;

	for (i = 0; i < NR_OUTPUTS; i++) {
		struct drm_mode_modeinfo pref;
		uint32_t status;
		int n = connector_modes(k->fd, k->conn[i], &status, &pref);

		ksft_test_result(n > 1 && status == 1 && k->plane[i] &&
				 pref.hdisplay == want[i][0] &&
				 pref.vdisplay == want[i][1],
				 "output %u: connected, %d modes, preferred %ux%u (the host's %ux%u), a primary plane\n",
				 i, n, pref.hdisplay, pref.vdisplay,
				 want[i][0], want[i][1]);
	}
}

/* The uevents --watch-uevents saw: a DRM hotplug, after the resize */
static void test_hotplug(const char *file)
{
	char line[512];
	bool seen = false;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "SUBSYSTEM=drm") && strstr(line, "HOTPLUG=1"))
			seen = true;
	if (f)
		fclose(f);
	ksft_test_result(seen,
			 "the host's resize of output 1 was a DRM hotplug uevent (%s)\n",
			 file);
}

/*
 * Mode set, then NR_FLIPS page flips between two dumb buffers on output
 * 0; each flip's event comes once the host answered its frame, with a
 * vblank timestamp and sequence later than the previous flip's.  Each
 * flip carries a damage clip, as a compositor's do: the host must get a
 * full update all the same, the buffer being another than the last
 * (importer_display checks).
 */
static void test_flips(struct kms *k)
{
	static const struct drm_mode_rect clip = { 0, 0, 16, 16 };
	uint64_t t0, t, sum = 0, worst = 0, us, last_us = 0;
	struct drm_event_vblank ev;
	unsigned int i, done = 0, bad_time = 0;
	uint32_t last_seq = 0;
	struct fb b[2];
	int r;

	r = fb_create(k, k->fd, k->mode[0].hdisplay, k->mode[0].vdisplay,
		      &b[0]);
	if (!r)
		r = fb_create(k, k->fd, k->mode[0].hdisplay,
			      k->mode[0].vdisplay, &b[1]);
	if (r) {
		ksft_test_result_fail("dumb framebuffers: %s\n", strerror(-r));
		ksft_test_result_skip("page flips (no framebuffers)\n");
		ksft_test_result_skip("output off (no framebuffers)\n");
		return;
	}
	draw(&b[0], 0);
	draw(&b[1], 1);
	t0 = now_ms();
	r = show(k, 0, &b[0], SHOW_MODESET, 1, NULL);
	if (!r)
		r = wait_flip(k, &ev);
	ksft_test_result(!r, "output 0: mode set %ux%u with a dumb buffer, its event came (%" PRIu64 " ms)\n",
			 k->mode[0].hdisplay, k->mode[0].vdisplay,
			 now_ms() - t0);
	if (!r)
		print_frame(0, &b[0]);

	t0 = now_ms();
	for (i = 0; !r && i < NR_FLIPS; i++) {
		struct fb *next = &b[(i + 1) % 2];

		t = now_ms();
		r = show(k, 0, next, SHOW_FLIP, 100 + i, &clip);
		if (!r)
			r = wait_flip(k, &ev);
		if (!r && ev.user_data != 100 + i)
			r = -EPROTO;
		if (r)
			break;
		us = ev.tv_sec * 1000000ULL + ev.tv_usec;
		if (!us || us <= last_us || ev.sequence <= last_seq) {
			if (!bad_time++)
				ksft_print_msg("flip %u: event at %" PRIu64 " us, sequence %u; the previous at %" PRIu64 " us, %u\n",
					       i, us, ev.sequence, last_us,
					       last_seq);
		}
		last_us = us;
		last_seq = ev.sequence;
		t = now_ms() - t;
		sum += t;
		worst = t > worst ? t : worst;
		print_frame(0, next);
		done++;
	}
	t = now_ms() - t0;
	ksft_test_result(done == NR_FLIPS,
			 "output 0: %u of %u page flips completed (%s)\n",
			 done, NR_FLIPS, r ? strerror(-r) : "each event in order");
	ksft_test_result(done == NR_FLIPS && !bad_time,
			 "output 0: each flip event has a vblank timestamp and sequence after the previous one's (%u did not)\n",
			 bad_time);
	if (done)
		ksft_print_msg("kms-flips: %u flips in %" PRIu64 " ms: %.2f flips/s, commit to flip event %" PRIu64 " ms mean, %" PRIu64 " ms worst\n",
			       done, t, t ? done * 1000.0 / t : 0.0,
			       sum / done, worst);
	r = output_off(k, 0);
	ksft_test_result(!r, "output 0: turned off, no plane and the CRTC inactive (%s)\n",
			 r ? strerror(-r) : "ok");
	fb_destroy(k, &b[0]);
	fb_destroy(k, &b[1]);
}

/*
 * Framebuffers of 16 bits a pixel (RGB565) and 10 bits a component
 * (XRGB2101010) shown on output 0: each frame is printed as the host's
 * display must show it, 8 bits a component, for l1-run.sh to find among
 * QEMU's screendumps.
 */
static void test_formats(struct kms *k)
{
	static const struct {
		uint32_t format;
		const char *name;
	} fmts[] = {
		{ DRM_FORMAT_RGB565, "RGB565" },
		{ DRM_FORMAT_XRGB2101010, "XRGB2101010" },
	};
	struct drm_event_vblank ev;
	unsigned int i;
	struct fb b;
	int r;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		r = fb_create_format(k, k->fd, k->mode[0].hdisplay,
				     k->mode[0].vdisplay, fmts[i].format, &b);
		if (!r) {
			draw(&b, 20 + i);
			r = show(k, 0, &b, SHOW_MODESET, 20 + i, NULL);
			if (!r)
				r = wait_flip(k, &ev);
			if (!r)
				print_frame(0, &b);
		}
		fb_destroy(k, &b);	/* (removing it turns the plane off) */
		ksft_test_result(!r, "output 0: an %s framebuffer shown, its flip complete (%s)\n",
				 fmts[i].name, r ? strerror(-r) : "ok");
	}
	r = output_off(k, 0);
	if (r)
		ksft_print_msg("output 0 off: %s\n", strerror(-r));
}

/*
 * A vgem buffer, imported with PRIME, shown on output 1; then drawn into
 * through vgem's mapping and flushed with DIRTYFB on the same
 * framebuffer: the host's screendump must show the new pixels (checked
 * by l1-run.sh from the printed frames), so the host reads vgem's pages.
 */
static void test_vgem(struct kms *k)
{
	struct drm_clip_rect clip;
	struct drm_mode_fb_dirty_cmd dirty = {};
	struct fb b;
	int vgem, r;

	vgem = open_card("vgem");
	if (vgem < 0) {
		ksft_test_result_fail("no vgem device: %s\n", strerror(-vgem));
		ksft_test_result_skip("vgem: DIRTYFB (no vgem)\n");
		return;
	}
	r = show_new(k, vgem, 1, 2, &b);
	ksft_test_result(!r, "output 1: a vgem buffer imported with PRIME is shown (%s)\n",
			 r ? strerror(-r) : "flip event came");
	if (r) {
		ksft_test_result_skip("vgem: DIRTYFB (not shown)\n");
		goto out;
	}
	print_frame(1, &b);

	/*
	 * New pixels through vgem's own mapping, then the damage: the top
	 * half, which reaches the host as it is (the framebuffer is the one
	 * shown, and the host has its frame).
	 */
	draw(&b, 3);
	clip.x1 = 0;
	clip.y1 = 0;
	clip.x2 = b.width;
	clip.y2 = b.height / 2;
	dirty.fb_id = b.fb_id;
	dirty.num_clips = 1;
	dirty.clips_ptr = (uintptr_t)&clip;
	r = drm_ioctl(k->fd, DRM_IOCTL_MODE_DIRTYFB, &dirty);
	ksft_test_result(!r, "output 1: DIRTYFB after drawing through vgem's mapping (%s)\n",
			 r ? strerror(-r) : "ok");
	if (!r)
		print_frame(1, &b);
	output_off(k, 1);
out:
	fb_destroy(k, &b);
	close(vgem);
}

/* The virtio device's exports not yet released (sysfs, admin) */
static long live_exports(void)
{
	char path[128], buf[32];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/auxiliary/devices/%s/../live_exports",
		 AUX_DEV);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* Live exports drop to @want within @ms: the value last read */
static long wait_exports(long want, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	long v;

	while ((v = live_exports()) != want && now_ms() < end)
		usleep(100 * 1000);
	return v;
}

/*
 * An unprivileged compositor: a child that is nobody, without
 * CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0, on the card's master file,
 * sets a mode with a new dumb buffer.  Scanout pins are the display's, not
 * the compositor's locked memory: the commit must not fail ENOMEM.
 */
static void test_unprivileged(struct kms *k)
{
	struct rlimit none = { 0, 0 };
	struct fb b;
	int st, r;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		r = setrlimit(RLIMIT_MEMLOCK, &none) || setgroups(0, NULL) ||
		    setgid(65534) || setuid(65534) ? -errno : 0;
		if (!r)
			r = show_new(k, k->fd, 0, 6, &b);
		if (!r)
			print_frame(0, &b);
		else
			ksft_print_msg("unprivileged: %s\n", strerror(-r));
		output_off(k, 0);
		fb_destroy(k, &b);
		fflush(stdout);
		_exit(r ? 1 : 0);
	}
	r = pid < 0 || waitpid(pid, &st, 0) != pid ||
	    !WIFEXITED(st) || WEXITSTATUS(st);
	ksft_test_result(!r,
			 "output 0: a compositor without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0 sets a mode with a new buffer\n");
}

/*
 * A plane larger than the mode, clipped to it (CRTC_X -8): the helpers'
 * clipping makes it cover the CRTC, but the host would show the whole
 * framebuffer.  TEST_ONLY must refuse it.
 */
static void test_clipped(struct kms *k)
{
	struct drm_mode_create_blob blob = {
		.data = (uintptr_t)&k->mode[0],
		.length = sizeof(k->mode[0]),
	};
	uint32_t w = k->mode[0].hdisplay, h = k->mode[0].vdisplay;
	uint32_t plane = k->plane[0];
	struct commit c = {};
	struct fb b;
	int r;

	r = fb_create(k, k->fd, w + 16, h, &b);
	if (!r)
		r = drm_ioctl(k->fd, DRM_IOCTL_MODE_CREATEPROPBLOB, &blob);
	if (r) {
		ksft_test_result_fail("clipped plane: set-up: %s\n", strerror(-r));
		fb_destroy(k, &b);
		return;
	}
	add_prop(k, &c, k->conn[0], DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID",
		 k->crtc[0]);
	add_prop(k, &c, k->crtc[0], DRM_MODE_OBJECT_CRTC, "MODE_ID",
		 blob.blob_id);
	add_prop(k, &c, k->crtc[0], DRM_MODE_OBJECT_CRTC, "ACTIVE", 1);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "FB_ID", b.fb_id);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_ID", k->crtc[0]);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_X", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_Y", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_W",
		 (uint64_t)(w + 16) << 16);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "SRC_H",
		 (uint64_t)h << 16);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_X",
		 (uint64_t)(int64_t)-8);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_Y", 0);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_W", w + 16);
	add_prop(k, &c, plane, DRM_MODE_OBJECT_PLANE, "CRTC_H", h);
	r = atomic_commit(k, &c, DRM_MODE_ATOMIC_TEST_ONLY |
			  DRM_MODE_ATOMIC_ALLOW_MODESET, 0);
	ksft_test_result(r == -EINVAL,
			 "output 0: a %ux%u plane at -8,0 clipped to the %ux%u mode is refused (%s)\n",
			 w + 16, h, w, h, r ? strerror(-r) : "accepted");
	drm_ioctl(k->fd, DRM_IOCTL_MODE_DESTROYPROPBLOB, &blob.blob_id);
	fb_destroy(k, &b);
}

/*
 * An output turned off (ACTIVE 0) with its mode and plane kept, then a new
 * framebuffer on its plane: nothing reaches the host.  Printed as
 * "kms-hidden", which l1-run.sh must not find among the host's
 * screendumps; the host screendumps a frame in about 0.1 s here, and the
 * next frame comes INACTIVE_MS later.  Then on again with a third buffer.
 */
/*
 * A compositor that cycles through more framebuffers than a swap chain:
 * six, each shown once on output 0.  The output keeps four exported (the
 * driver's VDMABUF_DRM_EXPORTS_PER_OUTPUT): the host releases the two
 * least recently shown, and the first, evicted, is exported anew and
 * shown when it comes back.
 */
#define EVICT_FBS	6
#define EVICT_KEPT	4
static void test_evict(struct kms *k)
{
	struct drm_event_vblank ev;
	struct fb b[EVICT_FBS];
	long base, live = -1;
	unsigned int i;
	int r = 0;

	memset(b, 0, sizeof(b));
	base = wait_exports(0, 60000);
	for (i = 0; !r && i < EVICT_FBS; i++) {
		r = fb_create(k, k->fd, k->mode[0].hdisplay,
			      k->mode[0].vdisplay, &b[i]);
		if (r)
			break;
		draw(&b[i], 40 + i);
		r = show(k, 0, &b[i], i ? SHOW_BLOCKING : SHOW_MODESET,
			 40 + i, NULL);
		if (!r)
			r = wait_flip(k, &ev);
	}
	if (!r)
		live = wait_exports(base + EVICT_KEPT, 60000);
	ksft_test_result(!r && live == base + EVICT_KEPT,
			 "output 0: %u framebuffers shown in turn, %d stay exported (%ld live, %ld before; %s)\n",
			 EVICT_FBS, EVICT_KEPT, live, base,
			 r ? strerror(-r) : "ok");
	if (!r)
		r = show(k, 0, &b[0], SHOW_BLOCKING, 50, NULL);
	if (!r)
		r = wait_flip(k, &ev);
	ksft_test_result(!r, "output 0: the first, evicted, is shown again (%s)\n",
			 r ? strerror(-r) : "flip event came");
	if (!r)
		print_frame(0, &b[0]);
	output_off(k, 0);
	for (i = 0; i < EVICT_FBS; i++)
		fb_destroy(k, &b[i]);
}

#define INACTIVE_MS	2000
static void test_inactive(struct kms *k)
{
	struct commit off = {}, flip = {};
	struct fb a, b, c;
	int r;

	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	r = show_new(k, k->fd, 0, 7, &a);
	if (!r)
		print_frame(0, &a);
	if (!r)
		r = fb_create(k, k->fd, a.width, a.height, &b);
	if (!r) {
		draw(&b, 9);
		add_prop(k, &off, k->crtc[0], DRM_MODE_OBJECT_CRTC, "ACTIVE", 0);
		r = atomic_commit(k, &off, DRM_MODE_ATOMIC_ALLOW_MODESET, 0);
	}
	if (!r) {
		add_prop(k, &flip, k->plane[0], DRM_MODE_OBJECT_PLANE, "FB_ID",
			 b.fb_id);
		r = atomic_commit(k, &flip, 0, 0);
	}
	if (!r)
		ksft_print_msg("kms-hidden: output 0 %ux%u fnv1a64 %016" PRIx64 "\n",
			       b.width, b.height, frame_hash(&b));
	ksft_test_result(!r,
			 "output 0: turned off with ACTIVE 0, a new framebuffer set on its plane (%s)\n",
			 r ? strerror(-r) : "the host must not show it");
	if (!r) {
		usleep(INACTIVE_MS * 1000);
		r = show_new(k, k->fd, 0, 10, &c);
	}
	ksft_test_result(!r, "output 0: on again with another framebuffer, shown (%s)\n",
			 r ? strerror(-r) : "flip event came");
	if (!r)
		print_frame(0, &c);
	output_off(k, 0);
	fb_destroy(k, &a);
	fb_destroy(k, &b);
	fb_destroy(k, &c);
}

/* Suspend to idle with pm_test=devices: the device is reset (restore) */
static int freeze(void)
{
	int r = sysfs_write("/sys/module/suspend/parameters/pm_test_delay", "0");

	if (!r)
		r = sysfs_write("/sys/power/pm_test", "devices");
	if (!r)
		r = sysfs_write("/sys/power/state", "freeze");
	sysfs_write("/sys/power/pm_test", "none");
	return r;
}

/*
 * A device reset while a flip waits for a GPU: a vgem buffer shown on
 * output 1 gets an unsignalled write fence, a page flip of it waits for
 * that fence in its commit tail, and the device is reset (freeze), which
 * releases every export.  Then the fence signals and, at once, a blocking
 * commit shows the buffer again: its prepare_fb exports the buffer anew
 * while the first flip's commit tail runs.  Both flips complete, the
 * buffer is shown, and once it is destroyed no export is left: one export
 * was made, not two.
 */
#define RESET_TRIES	3
static void test_reset(struct kms *k)
{
	struct drm_vgem_fence_attach fa = { .flags = VGEM_FENCE_WRITE };
	struct drm_vgem_fence_signal fs = {};
	struct drm_event_vblank ev;
	int vgem, r, r2 = -1;
	unsigned int i;
	struct fb b;
	uint64_t t0;
	long left;

	memset(&b, 0, sizeof(b));
	vgem = open_card("vgem");
	r = vgem < 0 ? vgem : show_new(k, vgem, 1, 8, &b);
	if (!r)
		print_frame(1, &b);
	/*
	 * vgem signals a fence by itself 10 s on; a freeze under nested TCG
	 * takes 5 to 10 s.  If vgem was first, nothing was tested: that
	 * flip completes by itself, and the sequence starts again.
	 */
	for (i = 0; !r && i < RESET_TRIES; i++) {
		fa.handle = b.handle;
		r = drm_ioctl(vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa);
		t0 = now_ms();
		if (!r)
			r = show(k, 1, &b, SHOW_FLIP, 30, NULL);
		if (!r)
			r = freeze();
		fs.fence = fa.out_fence;
		if (!r)
			r = drm_ioctl(vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs);
		ksft_print_msg("reset: the flip and the freeze took %" PRIu64 " ms (%s)\n",
			       now_ms() - t0, r == -ETIMEDOUT ?
			       "vgem signalled the fence first" : "in time");
		if (r != -ETIMEDOUT)
			break;
		r = wait_flip(k, &ev);
	}
	if (!r && i == RESET_TRIES)
		r = -ETIMEDOUT;
	if (!r)
		r2 = show(k, 1, &b, SHOW_BLOCKING, 31, NULL);
	ksft_test_result(!r && !r2,
			 "output 1: a flip waiting for a fence, a device reset, the fence signalled and the buffer shown again (%s)\n",
			 strerror(r ? -r : r2 < 0 ? -r2 : 0));
	if (!r && !r2) {
		r = wait_flip(k, &ev);
		if (!r && ev.user_data == 30)
			r = wait_flip(k, &ev);
		if (!r && ev.user_data != 31)
			r = -EPROTO;
		if (!r)
			print_frame(1, &b);
	}
	ksft_test_result(!r, "output 1: both flips completed, the second after the first (%s)\n",
			 r ? strerror(-r) : "ok");
	output_off(k, 1);
	fb_destroy(k, &b);
	if (vgem >= 0)
		close(vgem);
	left = wait_exports(0, 60000);
	ksft_test_result(left == 0,
			 "output 1: after the reset, the buffer was exported once: none is left once it is destroyed (%ld live)\n",
			 left);
}

/*
 * Unbind with a mode set and the device open: the card goes, the host
 * gets its exports back; bind again: a new card shows frames.
 */
static void test_unbind(struct kms *k)
{
	struct drm_mode_card_res res = {};
	struct fb b;
	int r;

	r = show_new(k, k->fd, 0, 4, &b);
	if (!r)
		print_frame(0, &b);
	r = r ? r : sysfs_write(AUX_DRV "/unbind", AUX_DEV);
	ksft_test_result(!r && drm_ioctl(k->fd, DRM_IOCTL_MODE_GETRESOURCES,
					 &res) == -ENODEV,
			 "unbind with a mode set: the open device answers ENODEV (%s)\n",
			 r ? strerror(-r) : "unbound");
	munmap(b.map, b.size);
	close(k->fd);
	/* No other program exports meanwhile */
	ksft_test_result(wait_exports(0, 60000) == 0,
			 "unbind: the host released every export of the framebuffers (%ld live)\n",
			 live_exports());
	r = sysfs_write(AUX_DRV "/bind", AUX_DEV);
	if (!r)
		r = kms_open(k);
	if (!r)
		r = show_new(k, k->fd, 0, 5, &b);
	ksft_test_result(!r, "bind again: the new device shows a frame (%s)\n",
			 r ? strerror(-r) : "flip event came");
	if (!r) {
		print_frame(0, &b);
		output_off(k, 0);
		fb_destroy(k, &b);
	}
}

/*
 * --readback N: the framebuffer on output N's plane (another client's,
 * modetest's), read through GETFB2 and a dumb mapping of its handle, and
 * printed as a frame.  0, or 1 if there is none.
 */
static int readback(unsigned int output)
{
	struct drm_mode_get_plane gp = {};
	struct drm_mode_fb_cmd2 f = {};
	struct drm_mode_map_dumb md = {};
	struct kms k;
	struct fb b = {};
	int r;

	r = kms_open(&k);
	if (!r && output >= NR_OUTPUTS)
		r = -EINVAL;
	if (!r) {
		gp.plane_id = k.plane[output];
		r = drm_ioctl(k.fd, DRM_IOCTL_MODE_GETPLANE, &gp);
	}
	if (!r && !gp.fb_id)
		r = -ENOENT;
	if (!r) {
		f.fb_id = gp.fb_id;
		r = drm_ioctl(k.fd, DRM_IOCTL_MODE_GETFB2, &f);
	}
	if (!r && ((f.pixel_format != DRM_FORMAT_XRGB8888 &&
		    f.pixel_format != DRM_FORMAT_RGB565 &&
		    f.pixel_format != DRM_FORMAT_XRGB2101010) || !f.handles[0]))
		r = -EOPNOTSUPP;
	if (!r && f.width > MAX_FB_WIDTH)
		r = -E2BIG;
	if (!r) {
		md.handle = f.handles[0];
		r = drm_ioctl(k.fd, DRM_IOCTL_MODE_MAP_DUMB, &md);
	}
	if (!r) {
		b.width = f.width;
		b.height = f.height;
		b.format = f.pixel_format;
		b.pitch = f.pitches[0];
		b.size = (uint64_t)f.pitches[0] * f.height + f.offsets[0];
		b.map = mmap(NULL, b.size, PROT_READ, MAP_SHARED, k.fd,
			     md.offset);
		if (b.map == MAP_FAILED)
			r = -errno;
	}
	if (r) {
		fprintf(stderr, "readback of output %u: %s\n", output,
			strerror(-r));
		return 1;
	}
	b.map = (uint32_t *)((uint8_t *)b.map + f.offsets[0]);
	print_frame(output, &b);
	return 0;
}

/*
 * --watch-uevents FILE: write each kernel uevent to FILE, a line each
 * (its fields space-separated), until killed.
 */
static int watch_uevents(const char *file)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	char buf[4096];
	ssize_t n, i;
	FILE *f;
	int s;

	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		   NETLINK_KOBJECT_UEVENT);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("uevent socket");
		return 1;
	}
	f = fopen(file, "w");
	if (!f) {
		perror(file);
		return 1;
	}
	while ((n = recv(s, buf, sizeof(buf) - 1, 0)) > 0) {
		for (i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = 0;
		fprintf(f, "%s\n", buf);
		fflush(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *uevents = "/tmp/kms-uevents";
	struct kms k;
	int r;

	if (argc == 3 && !strcmp(argv[1], "--watch-uevents"))
		return watch_uevents(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--readback"))
		return readback(strtoul(argv[2], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "--uevents"))
		uevents = argv[2];

	ksft_print_header();
	r = kms_open(&k);
	if (r == -ENOENT)
		ksft_exit_skip("no DRM device of driver vdmabuf (vdmabuf_drm not loaded)\n");
	if (r)
		ksft_exit_fail_msg("the vdmabuf DRM device: %s\n", strerror(-r));
	ksft_set_plan(NR_OUTPUTS + 1 + 4 + 2 + 2 + 1 + 1 + 2 + 2 + 3 + 3);
	test_connectors(&k);
	test_hotplug(uevents);
	test_flips(&k);
	test_formats(&k);
	test_vgem(&k);
	test_unprivileged(&k);
	test_clipped(&k);
	test_evict(&k);
	test_inactive(&k);
	test_reset(&k);
	test_unbind(&k);
	close(k.fd);
	ksft_finished();
}
