/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image conversion and PNG writing for `vdmabuf snapshot` (tools/png.c):
 * a linear image of a common RGB format, read from a mapping of its
 * buffer, becomes packed 8-bit RGB or RGBA rows, top row first, and those
 * become a PNG file.  Kept apart from the command so that it can be
 * tested on a plain memory buffer.
 */
#ifndef VDMABUF_TOOLS_PNG_H
#define VDMABUF_TOOLS_PNG_H

#include <stddef.h>
#include <stdint.h>

#include <vdmabuf/vdmabuf.h>

/* DRM fourccs (<drm/drm_fourcc.h>), so that no libdrm header is needed. */
#define VT_FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | \
	 ((uint32_t)(d) << 24))

#define VT_XRGB8888	VT_FOURCC('X', 'R', '2', '4')
#define VT_ARGB8888	VT_FOURCC('A', 'R', '2', '4')
#define VT_XBGR8888	VT_FOURCC('X', 'B', '2', '4')
#define VT_ABGR8888	VT_FOURCC('A', 'B', '2', '4')
#define VT_RGBX8888	VT_FOURCC('R', 'X', '2', '4')
#define VT_RGBA8888	VT_FOURCC('R', 'A', '2', '4')
#define VT_BGRX8888	VT_FOURCC('B', 'X', '2', '4')
#define VT_BGRA8888	VT_FOURCC('B', 'A', '2', '4')
#define VT_RGB565	VT_FOURCC('R', 'G', '1', '6')
#define VT_BGR565	VT_FOURCC('B', 'G', '1', '6')
#define VT_XRGB2101010	VT_FOURCC('X', 'R', '3', '0')
#define VT_XBGR2101010	VT_FOURCC('X', 'B', '3', '0')
#define VT_ARGB2101010	VT_FOURCC('A', 'R', '3', '0')
#define VT_ABGR2101010	VT_FOURCC('A', 'B', '3', '0')
#define VT_RGB888	VT_FOURCC('R', 'G', '2', '4')
#define VT_BGR888	VT_FOURCC('B', 'G', '2', '4')
#define VT_XRGB16161616	VT_FOURCC('X', 'R', '4', '8')
#define VT_ARGB16161616	VT_FOURCC('A', 'R', '4', '8')
#define VT_XBGR16161616	VT_FOURCC('X', 'B', '4', '8')
#define VT_ABGR16161616	VT_FOURCC('A', 'B', '4', '8')

/**
 * struct rgb_image - packed 8-bit pixels, top row first
 * @width: pixels per row
 * @height: rows
 * @channels: 3 (RGB) or 4 (RGBA)
 * @data: @width * @channels * @height bytes, malloc()ed
 */
struct rgb_image {
	uint32_t width;
	uint32_t height;
	uint32_t channels;
	uint8_t *data;
};

/**
 * conv_format_name() - the DRM name of a format conv_image() converts
 * @fourcc: a DRM fourcc
 *
 * Return: "XRGB8888" and so on, or NULL if conv_image() cannot convert it.
 */
const char *conv_format_name(uint32_t fourcc);

/**
 * conv_fourcc_parse() - a fourcc from its code ("XR24") or DRM name
 * @s: the text
 * @fourcc: the result
 *
 * Four characters are taken as the code itself; the DRM names of the
 * formats conv_image() converts ("XRGB8888", either case) are known too.
 *
 * Return: 0, or -EINVAL.
 */
int conv_fourcc_parse(const char *s, uint32_t *fourcc);

/**
 * conv_check() - can conv_image() convert this image from this buffer?
 * @img: the decoded image
 * @buf_size: bytes of the mapping
 * @why: on failure, a reason ("format NV12 is not supported")
 * @why_len: bytes at @why
 *
 * Return: 0; -ENOTSUP for a format or modifier it does not convert;
 * -EINVAL for an image that does not fit the buffer.
 */
int conv_check(const struct vdmabuf_image *img, uint64_t buf_size,
	       char *why, size_t why_len);

/**
 * conv_image() - convert an image to 8-bit RGB(A)
 * @buf: the mapping of the buffer
 * @buf_size: its bytes
 * @img: the image; conv_check() is applied first
 * @out: filled in; free @out->data with free()
 *
 * Formats with alpha give RGBA, others RGB; components wider than 8 bits
 * keep their top 8 bits, narrower ones are widened by bit replication.
 * VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP images are flipped.
 *
 * Return: 0, or a negative errno (as conv_check(), -ENOMEM).
 */
int conv_image(const void *buf, uint64_t buf_size,
	       const struct vdmabuf_image *img, struct rgb_image *out);

/**
 * png_write_file() - write an image as a PNG
 * @path: the file; written to "@path.tmp" first, then renamed
 * @img: the pixels
 *
 * Return: 0; -ENOTSUP when built without libpng (VDMABUF_NO_PNG); -EIO
 * if libpng failed; another negative errno from the file system.
 */
int png_write_file(const char *path, const struct rgb_image *img);

#endif /* VDMABUF_TOOLS_PNG_H */
