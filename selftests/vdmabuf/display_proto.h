/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdmabuf display tests: what the guest test (e2e_display, in L2) and the
 * host checker (importer_display, in L1) agree on.
 *
 * QEMU's vhost-vdmabuf-pci with display=on shows on graphic console N the
 * newest frame the guest presented of a buffer whose metadata is a struct
 * virtio_vdmabuf_image naming output N.  The guest exports one buffer per
 * case of disp_cases[], in order, each holding the picture disp_pixel()
 * draws, stored by disp_store() in the case's format.  Its metadata is
 * the image (136 bytes, version 1) followed by a struct disp_tag: QEMU
 * reads only the image (a reader ignores metadata past the image's len),
 * importer_display finds its cases by the tag.  On each PRESENTED of such
 * a buffer the host takes a screendump of that output through QMP and
 * compares it with the picture (or, for a case QEMU cannot show, checks
 * that it is the DISP_XRES x DISP_YRES placeholder); after the guest
 * unexported the buffer, that the output shows the placeholder again.
 *
 * Everything here is a pure function of its arguments.  All multi-byte
 * fields on the wire are little-endian.
 */
#ifndef VDMABUF_DISPLAY_PROTO_H
#define VDMABUF_DISPLAY_PROTO_H

#include <assert.h>
#include <stdint.h>

#include <linux/virtio_vdmabuf.h>

#include "demo_pattern.h"	/* DEMO_FOURCC */

#define DISP_TAG_MAGIC		DEMO_FOURCC('D', 'I', 'S', 'P')

/* struct disp_tag.expect */
#define DISP_EXPECT_PICTURE	0	/* the screendump equals the picture */
#define DISP_EXPECT_PLACEHOLDER	1	/* QEMU cannot show it: placeholder */

/* QEMU's outputs: outputs, xres and yres of the device */
#define DISP_NR_OUTPUTS		2
#define DISP_XRES		320
#define DISP_YRES		200

/* The image metadata's version 1 size; the tag follows it */
#define DISP_IMAGE_LEN		136
#define DISP_META_LEN		(DISP_IMAGE_LEN + sizeof(struct disp_tag))

/* Values of the X and A bytes (or 16-bit words: twice the byte) */
#define DISP_X_BYTE		0xff
#define DISP_A_BYTE		0x80

/* The DRM fourccs the cases use (<drm/drm_fourcc.h>) */
#define DISP_FMT_XRGB8888	DEMO_FOURCC('X', 'R', '2', '4')
#define DISP_FMT_ARGB8888	DEMO_FOURCC('A', 'R', '2', '4')
#define DISP_FMT_XBGR8888	DEMO_FOURCC('X', 'B', '2', '4')
#define DISP_FMT_ABGR8888	DEMO_FOURCC('A', 'B', '2', '4')
#define DISP_FMT_RGB888		DEMO_FOURCC('R', 'G', '2', '4')
#define DISP_FMT_BGR888		DEMO_FOURCC('B', 'G', '2', '4')
#define DISP_FMT_XRGB16161616	DEMO_FOURCC('X', 'R', '4', '8')
#define DISP_FMT_NV12		DEMO_FOURCC('N', 'V', '1', '2')
/* and the other formats of the guest's KMS driver, and their kin */
#define DISP_FMT_RGB565		DEMO_FOURCC('R', 'G', '1', '6')
#define DISP_FMT_XRGB2101010	DEMO_FOURCC('X', 'R', '3', '0')
#define DISP_FMT_ARGB2101010	DEMO_FOURCC('A', 'R', '3', '0')
#define DISP_FMT_XBGR2101010	DEMO_FOURCC('X', 'B', '3', '0')
#define DISP_FMT_ABGR2101010	DEMO_FOURCC('A', 'B', '3', '0')

/*
 * The low 2 bits of a 10-bit component disp_store() writes: not a copy of
 * its top bits, so a display that rounds 10 bits to 8 instead of keeping
 * the top 8 shows a difference (0xff becomes 0x3fd, which rounds to 0xfe).
 */
#define DISP_LOW2		1
#define DISP_X2			3	/* the X and A of 2101010 formats */
#define DISP_A2			2

/**
 * struct disp_tag - what follows the image in a display case's metadata
 * @magic: DISP_TAG_MAGIC; exports without it are not display cases
 * @case_id: the case, struct disp_case.id
 * @nr_cases: how many cases the guest runs
 * @expect: DISP_EXPECT_*
 */
struct disp_tag {
	uint32_t magic;
	uint32_t case_id;
	uint32_t nr_cases;
	uint32_t expect;
};

static_assert(sizeof(struct virtio_vdmabuf_image) == DISP_IMAGE_LEN,
	      "the image metadata of version 1 is 136 bytes");
static_assert(sizeof(struct disp_tag) == 16, "disp_tag layout");

/**
 * struct disp_case - one picture the guest shows and the host checks
 * @id: the case's number, from 1, in the order the guest runs them
 * @fourcc: DRM fourcc of the image
 * @name: the fourcc's four characters
 * @width: pixels per row
 * @height: rows
 * @cpp: bytes per pixel of the single plane, the stride being @width *
 *	@cpp; 0 for a format laid out by vdmabuf_image_init() (NV12)
 * @output: the output (console) the image names
 * @flags: VIRTIO_VDMABUF_IMAGE_F_*
 * @expect: DISP_EXPECT_*
 * @damage: a second frame follows (see DISP_DAMAGE_SEQ)
 * @resize: the host then resizes the output's window (see DISP_RESIZE_W)
 */
struct disp_case {
	uint32_t id;
	uint32_t fourcc;
	char name[5];
	uint32_t width;
	uint32_t height;
	uint32_t cpp;
	uint32_t output;
	uint32_t flags;
	uint32_t expect;
	uint32_t damage;
	uint32_t resize;
};

static const struct disp_case disp_cases[] = {
	{ 1, DISP_FMT_XRGB8888, "XR24", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 2, DISP_FMT_ARGB8888, "AR24", 64, 48, 4, 1, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 3, DISP_FMT_XBGR8888, "XB24", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 4, DISP_FMT_ABGR8888, "AB24", 64, 48, 4, 1, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 5, DISP_FMT_RGB888, "RG24", 64, 48, 3, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 6, DISP_FMT_BGR888, "BG24", 64, 48, 3, 1, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 7, DISP_FMT_XRGB16161616, "XR48", 64, 48, 8, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 8, DISP_FMT_XRGB8888, "XR24", 64, 48, 4, 1,
	  VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP, DISP_EXPECT_PICTURE, 0, 0 },
	/*
	 * After case 8, still exported: the placeholder replaces a picture.
	 * Then the host resizes output 1's window, and the guest hears it.
	 */
	{ 9, DISP_FMT_NV12, "NV12", 64, 48, 0, 1, 0,
	  DISP_EXPECT_PLACEHOLDER, 0, 1 },
	/* Converted, so only the damage of its second frame changes */
	{ 10, DISP_FMT_XBGR8888, "XB24", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 1, 0 },
	/* After the resize: its own size, then the resized placeholder */
	{ 11, DISP_FMT_XRGB8888, "XR24", 64, 48, 4, 1, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	/* Zero copy on output 0 too, which a D-Bus client watches */
	{ 12, DISP_FMT_ARGB8888, "AR24", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	/*
	 * Packed formats: an odd width (a stride of 126), bottom-up.  Like
	 * the others, each on the other output than the case before it,
	 * whose placeholder check it would otherwise race.
	 */
	{ 13, DISP_FMT_RGB565, "RG16", 63, 48, 2, 1,
	  VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP, DISP_EXPECT_PICTURE, 0, 0 },
	{ 14, DISP_FMT_XBGR2101010, "XB30", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 15, DISP_FMT_ABGR2101010, "AB30", 64, 48, 4, 1, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
	{ 16, DISP_FMT_ARGB2101010, "AR30", 64, 48, 4, 0, 0,
	  DISP_EXPECT_PICTURE, 0, 0 },
};

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define DISP_NR_CASES	ARRAY_SIZE(disp_cases)

/* The case numbered @id, or NULL. */
static inline const struct disp_case *disp_case_find(uint32_t id)
{
	if (!id || id > DISP_NR_CASES || disp_cases[id - 1].id != id)
		return NULL;
	return &disp_cases[id - 1];
}

/**
 * disp_pixel() - the colour of pixel (@x, @y) of case @case_id's picture
 * @case_id: the case
 * @x: column, 0 on the left
 * @y: row, 0 at the top
 * @rgb: red, green and blue, 8 bits each
 *
 * Red follows x, green y and blue both, each with another offset per
 * case, so that a swap of channels, a flip either way or another case's
 * picture all show as a difference.
 */
static inline void disp_pixel(uint32_t case_id, uint32_t x, uint32_t y,
			      uint8_t rgb[3])
{
	rgb[0] = (uint8_t)((x * 4 + case_id * 16) & 0xff);
	rgb[1] = (uint8_t)((y * 5 + case_id * 8) & 0xff);
	rgb[2] = (uint8_t)((x + y * 3 + case_id * 40) & 0xff);
}

/*
 * A case with @damage presents a second frame, sequence number
 * DISP_DAMAGE_SEQ + id: the guest redraws the whole buffer with the
 * picture of case id + DISP_DAMAGE_PICTURE but names only the rectangle
 * below as damaged.  A display that updates what the damage names and
 * nothing else shows the new picture inside it and the first frame's
 * outside, which QEMU does for an image it converts (the zero-copy path
 * shows the buffer as it is).
 */
#define DISP_DAMAGE_SEQ		1000
#define DISP_DAMAGE_PICTURE	100
#define DISP_DAMAGE_X		16
#define DISP_DAMAGE_Y		8
#define DISP_DAMAGE_W		32
#define DISP_DAMAGE_H		24

/*
 * A case with @resize: once the host has checked its picture, and before
 * it answers the frame, it resizes the window of the case's output to
 * DISP_RESIZE_W x DISP_RESIZE_H, as a client of QEMU's D-Bus display
 * does (org.qemu.Display1.Console.SetUIInfo).  QEMU makes that the
 * output's preferred size, and draws the placeholder the output shows
 * again at that size; the guest's driver hears of it through a
 * configuration change: VDMABUF_IOCTL_OUTPUTS returns the new size, and
 * poll() reports EPOLLPRI until it did.  The output keeps that size, and
 * its later placeholders have it.
 */
#define DISP_RESIZE_W		400
#define DISP_RESIZE_H		300

/* A 16-bit component @v * 257 (high byte @v), little-endian, at @p. */
static inline void disp_store16(uint8_t *p, uint8_t v)
{
	p[0] = v;
	p[1] = v;
}

/**
 * disp_store() - write one pixel in the byte order of a format
 * @fourcc: one of the DISP_FMT_* of the cases but NV12
 * @p: the pixel's first byte
 * @rgb: red, green and blue
 *
 * DRM formats are little-endian words: XR24 and AR24 are the bytes B, G,
 * R, X/A; XB24 and AB24 R, G, B, X/A; RG24 B, G, R; BG24 R, G, B; XR48
 * the 16-bit words B, G, R, X.  X is DISP_X_BYTE, A DISP_A_BYTE.  RG16
 * keeps the top 5, 6 and 5 bits; the 2101010 formats each component
 * shifted up 2 with DISP_LOW2 below, X DISP_X2 and A DISP_A2.  Another
 * format writes nothing.
 */
static inline void disp_store(uint32_t fourcc, uint8_t *p,
			      const uint8_t rgb[3])
{
	uint32_t v, r, g, b;

	switch (fourcc) {
	case DISP_FMT_XRGB8888:
	case DISP_FMT_ARGB8888:
		p[0] = rgb[2];
		p[1] = rgb[1];
		p[2] = rgb[0];
		p[3] = fourcc == DISP_FMT_ARGB8888 ? DISP_A_BYTE : DISP_X_BYTE;
		break;
	case DISP_FMT_XBGR8888:
	case DISP_FMT_ABGR8888:
		p[0] = rgb[0];
		p[1] = rgb[1];
		p[2] = rgb[2];
		p[3] = fourcc == DISP_FMT_ABGR8888 ? DISP_A_BYTE : DISP_X_BYTE;
		break;
	case DISP_FMT_RGB888:
		p[0] = rgb[2];
		p[1] = rgb[1];
		p[2] = rgb[0];
		break;
	case DISP_FMT_BGR888:
		p[0] = rgb[0];
		p[1] = rgb[1];
		p[2] = rgb[2];
		break;
	case DISP_FMT_XRGB16161616:
		disp_store16(p, rgb[2]);
		disp_store16(p + 2, rgb[1]);
		disp_store16(p + 4, rgb[0]);
		disp_store16(p + 6, DISP_X_BYTE);
		break;
	case DISP_FMT_RGB565:
		v = (uint32_t)(rgb[0] >> 3) << 11 | (uint32_t)(rgb[1] >> 2) << 5 |
		    rgb[2] >> 3;
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
		break;
	case DISP_FMT_XRGB2101010:
	case DISP_FMT_ARGB2101010:
	case DISP_FMT_XBGR2101010:
	case DISP_FMT_ABGR2101010:
		r = (uint32_t)rgb[0] << 2 | DISP_LOW2;
		g = (uint32_t)rgb[1] << 2 | DISP_LOW2;
		b = (uint32_t)rgb[2] << 2 | DISP_LOW2;
		v = (fourcc == DISP_FMT_ARGB2101010 ||
		     fourcc == DISP_FMT_ABGR2101010 ? DISP_A2 : DISP_X2) << 30 |
		    g << 10;
		if (fourcc == DISP_FMT_XBGR2101010 ||
		    fourcc == DISP_FMT_ABGR2101010)
			v |= b << 20 | r;
		else
			v |= r << 20 | b;
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)(v >> 16);
		p[3] = (uint8_t)(v >> 24);
		break;
	default:
		break;
	}
}

/* Bytes per pixel of a format disp_rgb24_row() converts, 0 for another. */
static inline uint32_t disp_rgb24_cpp(uint32_t fourcc)
{
	switch (fourcc) {
	case DISP_FMT_XRGB8888:
	case DISP_FMT_ARGB8888:
	case DISP_FMT_XBGR8888:
	case DISP_FMT_ABGR8888:
	case DISP_FMT_XRGB2101010:
	case DISP_FMT_ARGB2101010:
	case DISP_FMT_XBGR2101010:
	case DISP_FMT_ABGR2101010:
		return 4;
	case DISP_FMT_RGB888:
	case DISP_FMT_BGR888:
		return 3;
	case DISP_FMT_RGB565:
		return 2;
	default:
		return 0;
	}
}

/**
 * disp_rgb24_row() - pixels as packed R, G, B bytes, as a PPM holds them
 * @fourcc: a format disp_rgb24_cpp() knows (another writes nothing)
 * @src: the first pixel, little-endian words as DRM formats are
 * @n: pixels
 * @dst: 3 * @n bytes
 *
 * X and A are dropped (QEMU shows ARGB8888 with alpha ignored).  RGB565's
 * components are widened by repeating their top bits, the 2101010
 * formats' keep their top 8 bits, as QEMU converts them to 8 bits per
 * component.
 */
static inline void disp_rgb24_row(uint32_t fourcc, const uint8_t *src,
				  uint32_t n, uint8_t *dst)
{
	uint32_t i, v, r, g, b;

	for (i = 0; i < n; i++, dst += 3) {
		switch (fourcc) {
		case DISP_FMT_XRGB8888:
		case DISP_FMT_ARGB8888:
		case DISP_FMT_RGB888:
			dst[0] = src[2];
			dst[1] = src[1];
			dst[2] = src[0];
			break;
		case DISP_FMT_XBGR8888:
		case DISP_FMT_ABGR8888:
		case DISP_FMT_BGR888:
			dst[0] = src[0];
			dst[1] = src[1];
			dst[2] = src[2];
			break;
		case DISP_FMT_RGB565:
			v = src[0] | (uint32_t)src[1] << 8;
			r = v >> 11;
			g = (v >> 5) & 0x3f;
			b = v & 0x1f;
			dst[0] = (uint8_t)(r << 3 | r >> 2);
			dst[1] = (uint8_t)(g << 2 | g >> 4);
			dst[2] = (uint8_t)(b << 3 | b >> 2);
			break;
		case DISP_FMT_XRGB2101010:
		case DISP_FMT_ARGB2101010:
			v = src[0] | (uint32_t)src[1] << 8 |
			    (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
			dst[0] = (uint8_t)(v >> 22);
			dst[1] = (uint8_t)(v >> 12);
			dst[2] = (uint8_t)(v >> 2);
			break;
		case DISP_FMT_XBGR2101010:
		case DISP_FMT_ABGR2101010:
			v = src[0] | (uint32_t)src[1] << 8 |
			    (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
			dst[0] = (uint8_t)(v >> 2);
			dst[1] = (uint8_t)(v >> 12);
			dst[2] = (uint8_t)(v >> 22);
			break;
		default:
			return;
		}
		src += disp_rgb24_cpp(fourcc);
	}
}

/*
 * Pixel (@x, @y) that a display shows for frame @seq of case @c: the
 * picture's, stored in the case's format and converted back to 8 bits
 * per component where disp_rgb24_row() knows the format (the packed
 * formats lose bits), as it is otherwise.
 */
static inline void disp_frame_pixel(const struct disp_case *c, uint64_t seq,
				    uint32_t x, uint32_t y, uint8_t rgb[3])
{
	uint32_t id = c->id;
	uint8_t px[8];

	if (seq == DISP_DAMAGE_SEQ + c->id &&
	    x >= DISP_DAMAGE_X && x < DISP_DAMAGE_X + DISP_DAMAGE_W &&
	    y >= DISP_DAMAGE_Y && y < DISP_DAMAGE_Y + DISP_DAMAGE_H)
		id += DISP_DAMAGE_PICTURE;
	disp_pixel(id, x, y, rgb);
	if (disp_rgb24_cpp(c->fourcc)) {
		disp_store(c->fourcc, px, rgb);
		disp_rgb24_row(c->fourcc, px, 1, rgb);
	}
}

#endif /* VDMABUF_DISPLAY_PROTO_H */
