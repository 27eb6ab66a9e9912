// SPDX-License-Identifier: MIT
/*
 * libvdmabuf: the pixel format table and image metadata.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* DRM fourccs, as <drm/drm_fourcc.h> defines them (no libdrm needed). */
#define fourcc_code(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | \
				 ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

#define DRM_FORMAT_RGB565		fourcc_code('R', 'G', '1', '6')
#define DRM_FORMAT_BGR565		fourcc_code('B', 'G', '1', '6')
#define DRM_FORMAT_RGB888		fourcc_code('R', 'G', '2', '4')
#define DRM_FORMAT_BGR888		fourcc_code('B', 'G', '2', '4')
#define DRM_FORMAT_XRGB8888		fourcc_code('X', 'R', '2', '4')
#define DRM_FORMAT_XBGR8888		fourcc_code('X', 'B', '2', '4')
#define DRM_FORMAT_RGBX8888		fourcc_code('R', 'X', '2', '4')
#define DRM_FORMAT_BGRX8888		fourcc_code('B', 'X', '2', '4')
#define DRM_FORMAT_ARGB8888		fourcc_code('A', 'R', '2', '4')
#define DRM_FORMAT_ABGR8888		fourcc_code('A', 'B', '2', '4')
#define DRM_FORMAT_RGBA8888		fourcc_code('R', 'A', '2', '4')
#define DRM_FORMAT_BGRA8888		fourcc_code('B', 'A', '2', '4')
#define DRM_FORMAT_XRGB2101010		fourcc_code('X', 'R', '3', '0')
#define DRM_FORMAT_XBGR2101010		fourcc_code('X', 'B', '3', '0')
#define DRM_FORMAT_ARGB2101010		fourcc_code('A', 'R', '3', '0')
#define DRM_FORMAT_ABGR2101010		fourcc_code('A', 'B', '3', '0')
#define DRM_FORMAT_XRGB16161616F	fourcc_code('X', 'R', '4', 'H')
#define DRM_FORMAT_XBGR16161616F	fourcc_code('X', 'B', '4', 'H')
#define DRM_FORMAT_ARGB16161616F	fourcc_code('A', 'R', '4', 'H')
#define DRM_FORMAT_ABGR16161616F	fourcc_code('A', 'B', '4', 'H')
#define DRM_FORMAT_NV12			fourcc_code('N', 'V', '1', '2')

#define DRM_FORMAT_MOD_LINEAR		0ULL
#define DRM_FORMAT_MOD_INVALID		0x00ffffffffffffffULL

#define RGB(code, nm, bpp, dep, alpha, flt) {				\
	.fourcc = (code), .name = nm, .nr_planes = 1, .cpp = { bpp },	\
	.hsub = 1, .vsub = 1, .depth = (dep), .has_alpha = (alpha),	\
	.is_float = (flt),						\
}

static const struct vdmabuf_format formats[] = {
	RGB(DRM_FORMAT_XRGB8888, "XR24", 4, 8, 0, 0),
	RGB(DRM_FORMAT_ARGB8888, "AR24", 4, 8, 1, 0),
	RGB(DRM_FORMAT_XBGR8888, "XB24", 4, 8, 0, 0),
	RGB(DRM_FORMAT_ABGR8888, "AB24", 4, 8, 1, 0),
	RGB(DRM_FORMAT_RGBX8888, "RX24", 4, 8, 0, 0),
	RGB(DRM_FORMAT_RGBA8888, "RA24", 4, 8, 1, 0),
	RGB(DRM_FORMAT_BGRX8888, "BX24", 4, 8, 0, 0),
	RGB(DRM_FORMAT_BGRA8888, "BA24", 4, 8, 1, 0),
	RGB(DRM_FORMAT_RGB888, "RG24", 3, 8, 0, 0),
	RGB(DRM_FORMAT_BGR888, "BG24", 3, 8, 0, 0),
	/* 5 bits for red and blue, 6 for green */
	RGB(DRM_FORMAT_RGB565, "RG16", 2, 5, 0, 0),
	RGB(DRM_FORMAT_BGR565, "BG16", 2, 5, 0, 0),
	RGB(DRM_FORMAT_XRGB2101010, "XR30", 4, 10, 0, 0),
	RGB(DRM_FORMAT_ARGB2101010, "AR30", 4, 10, 1, 0),
	RGB(DRM_FORMAT_XBGR2101010, "XB30", 4, 10, 0, 0),
	RGB(DRM_FORMAT_ABGR2101010, "AB30", 4, 10, 1, 0),
	RGB(DRM_FORMAT_XBGR16161616F, "XB4H", 8, 16, 0, 1),
	RGB(DRM_FORMAT_ABGR16161616F, "AB4H", 8, 16, 1, 1),
	RGB(DRM_FORMAT_XRGB16161616F, "XR4H", 8, 16, 0, 1),
	RGB(DRM_FORMAT_ARGB16161616F, "AR4H", 8, 16, 1, 1),
	{
		.fourcc = DRM_FORMAT_NV12, .name = "NV12", .nr_planes = 2,
		.cpp = { 1, 2 }, .hsub = 2, .vsub = 2, .depth = 0,
		.is_yuv = 1,
	},
};

#define IMG_WIRE_LEN	((uint32_t)sizeof(struct virtio_vdmabuf_image))

VDMABUF_EXPORT const struct vdmabuf_format *vdmabuf_format_lookup(uint32_t fourcc)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(formats); i++)
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	return NULL;
}

VDMABUF_EXPORT char *vdmabuf_fourcc_name(uint32_t fourcc, char *out)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = (fourcc >> (8 * i)) & 0xff;

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[4] = '\0';
	return out;
}

/* Pixels per row and rows of plane @p of @fmt. */
static void plane_dims(const struct vdmabuf_format *fmt, uint32_t p,
		       uint32_t width, uint32_t height, uint32_t *w,
		       uint32_t *h)
{
	*w = width;
	*h = height;
	if (p > 0) {
		*w = (width + fmt->hsub - 1) / fmt->hsub;
		*h = (height + fmt->vsub - 1) / fmt->vsub;
	}
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

/*
 * The granule of a buffer size: the page size, which the guest driver's
 * ALLOC requires (16K or 64K on some arm64 guests), and at least the wire's.
 */
static uint64_t size_granule(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > VIRTIO_VDMABUF_PAGE_SIZE ? (uint64_t)page :
						 VIRTIO_VDMABUF_PAGE_SIZE;
}

/* Whether any of @n words at @w is not zero. */
static int any_set(const uint32_t *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i])
			return 1;
	return 0;
}

VDMABUF_EXPORT int64_t vdmabuf_image_init(struct vdmabuf_image *img,
					  uint32_t width, uint32_t height,
					  uint32_t fourcc)
{
	const struct vdmabuf_format *fmt;
	uint64_t off = 0;
	uint32_t p;

	if (!img)
		return -EINVAL;
	if (!width || !height || width > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    height > VIRTIO_VDMABUF_IMAGE_MAX_DIM)
		return -EINVAL;
	fmt = vdmabuf_format_lookup(fourcc);
	if (!fmt)
		return -ENOTSUP;

	memset(img, 0, sizeof(*img));
	img->width = width;
	img->height = height;
	img->fourcc = fourcc;
	img->modifier = DRM_FORMAT_MOD_LINEAR;
	img->nr_planes = fmt->nr_planes;
	for (p = 0; p < fmt->nr_planes; p++) {
		uint32_t w, h;
		uint64_t stride;

		plane_dims(fmt, p, width, height, &w, &h);
		/* At most 32768 * 8 rounded up: fits easily in 32 bits. */
		stride = round_up((uint64_t)w * fmt->cpp[p], 64);
		off = round_up(off, 64);
		img->planes[p].offset = off;
		img->planes[p].stride = (uint32_t)stride;
		off += stride * h;
	}
	return (int64_t)round_up(off, size_granule());
}

/* The checks that need no format knowledge; 0 or -EINVAL. */
static int check_generic(const struct vdmabuf_image *img,
			 const struct vdmabuf_format *fmt, uint64_t buf_size)
{
	uint32_t p;

	if (!img->width || img->width > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    !img->height || img->height > VIRTIO_VDMABUF_IMAGE_MAX_DIM)
		return -EINVAL;
	if (img->flags & ~VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP)
		return -EINVAL;
	if (!img->nr_planes ||
	    img->nr_planes > VIRTIO_VDMABUF_IMAGE_MAX_PLANES)
		return -EINVAL;
	if (fmt && img->nr_planes != fmt->nr_planes)
		return -EINVAL;
	if (img->modifier == DRM_FORMAT_MOD_INVALID)
		return -EINVAL;
	for (p = 0; p < img->nr_planes; p++) {
		if (!img->planes[p].stride)
			return -EINVAL;
		if (buf_size && img->planes[p].offset >= buf_size)
			return -EINVAL;
	}
	return 0;
}

/* Rows of a linear image of a known format; 0 or -EINVAL. */
static int check_linear(const struct vdmabuf_image *img,
			const struct vdmabuf_format *fmt, uint64_t buf_size)
{
	uint32_t p;

	for (p = 0; p < img->nr_planes; p++) {
		const struct vdmabuf_image_plane *pl = &img->planes[p];
		uint64_t row, end;
		uint32_t w, h;

		plane_dims(fmt, p, img->width, img->height, &w, &h);
		row = (uint64_t)w * fmt->cpp[p];
		if (pl->stride < row)
			return -EINVAL;
		if (!buf_size)
			continue;
		if (__builtin_mul_overflow((uint64_t)pl->stride,
					   (uint64_t)(h - 1), &end) ||
		    __builtin_add_overflow(end, pl->offset, &end) ||
		    __builtin_add_overflow(end, row, &end) ||
		    end > buf_size)
			return -EINVAL;
	}
	return 0;
}

VDMABUF_EXPORT int vdmabuf_image_validate(const struct vdmabuf_image *img,
					  uint64_t buf_size)
{
	const struct vdmabuf_format *fmt;
	int ret;

	if (!img)
		return -EINVAL;
	if (any_set(img->reserved, ARRAY_SIZE(img->reserved)))
		return -EINVAL;
	fmt = vdmabuf_format_lookup(img->fourcc);
	ret = check_generic(img, fmt, buf_size);
	if (ret)
		return ret;
	if (!fmt || img->modifier != DRM_FORMAT_MOD_LINEAR)
		return -ENOTSUP;
	ret = check_linear(img, fmt, buf_size);
	if (ret)
		return ret;
	/* Version 1 defines no colour but sRGB: showing it would be wrong. */
	if (any_set(img->color, ARRAY_SIZE(img->color)))
		return -ENOTSUP;
	return 0;
}

VDMABUF_EXPORT int vdmabuf_image_encode(const struct vdmabuf_image *img,
					struct virtio_vdmabuf_image *wire)
{
	uint32_t p;
	int ret;

	if (!img || !wire)
		return -EINVAL;
	/* Version 1 defines no colour words: a producer cannot set one yet. */
	if (any_set(img->color, ARRAY_SIZE(img->color)))
		return -EINVAL;
	ret = vdmabuf_image_validate(img, 0);
	if (ret && ret != -ENOTSUP)
		return ret;

	memset(wire, 0, sizeof(*wire));
	wire->type = htole32(VIRTIO_VDMABUF_META_IMAGE);
	wire->version = htole16(VIRTIO_VDMABUF_IMAGE_VERSION);
	wire->len = htole16((uint16_t)IMG_WIRE_LEN);
	wire->width = htole32(img->width);
	wire->height = htole32(img->height);
	wire->fourcc = htole32(img->fourcc);
	wire->flags = htole32(img->flags);
	wire->modifier = htole64(img->modifier);
	wire->output = htole32(img->output);
	wire->nr_planes = htole32(img->nr_planes);
	for (p = 0; p < img->nr_planes; p++) {
		wire->planes[p].offset = htole64(img->planes[p].offset);
		wire->planes[p].stride = htole32(img->planes[p].stride);
	}
	return 0;
}

VDMABUF_EXPORT int vdmabuf_image_decode(const void *meta, size_t meta_len,
					uint64_t buf_size,
					struct vdmabuf_image *img)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;
	uint32_t magic, p;
	uint16_t len;
	int ret;

	if (!img || (!meta && meta_len))
		return -EINVAL;
	if (meta_len < sizeof(magic))
		return -ENOMSG;
	memcpy(&magic, meta, sizeof(magic));
	if (le32toh(magic) != VIRTIO_VDMABUF_META_IMAGE)
		return -ENOMSG;
	if (meta_len < IMG_WIRE_LEN)
		return -EINVAL;
	/* The metadata need not be aligned: copy the part this version knows. */
	memcpy(&w, meta, IMG_WIRE_LEN);
	len = le16toh(w.len);
	if (le16toh(w.version) < 1 || len < IMG_WIRE_LEN || len > meta_len)
		return -EINVAL;

	memset(&out, 0, sizeof(out));
	out.width = le32toh(w.width);
	out.height = le32toh(w.height);
	out.fourcc = le32toh(w.fourcc);
	out.flags = le32toh(w.flags);
	out.modifier = le64toh(w.modifier);
	out.output = le32toh(w.output);
	out.nr_planes = le32toh(w.nr_planes);
	out.version = le16toh(w.version);
	if (!out.nr_planes || out.nr_planes > VIRTIO_VDMABUF_IMAGE_MAX_PLANES)
		return -EINVAL;
	/*
	 * Within version 1's bytes, every field this reader does not know
	 * must be zero: plane padding and the planes past nr_planes are
	 * malformed otherwise, so that a later version can give them a
	 * meaning.  A colour is checked by vdmabuf_image_validate().
	 */
	for (p = 0; p < VIRTIO_VDMABUF_IMAGE_MAX_PLANES; p++) {
		const struct virtio_vdmabuf_image_plane *wp = &w.planes[p];

		if (wp->padding)
			return -EINVAL;
		if (p < out.nr_planes) {
			out.planes[p].offset = le64toh(wp->offset);
			out.planes[p].stride = le32toh(wp->stride);
		} else if (wp->offset || wp->stride) {
			return -EINVAL;
		}
	}
	for (p = 0; p < ARRAY_SIZE(out.color); p++)
		out.color[p] = le32toh(w.color.reserved[p]);

	ret = vdmabuf_image_validate(&out, buf_size);
	/*
	 * Well-formed but not checkable, or of a colour this version cannot
	 * show: the caller may still look at it.
	 */
	if (!ret || ret == -ENOTSUP)
		*img = out;
	return ret;
}
