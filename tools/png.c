// SPDX-License-Identifier: GPL-2.0
/*
 * Image conversion and PNG writing for `vdmabuf snapshot`.
 *
 * Every format converted here is one plane of packed little-endian pixels
 * (the DRM convention: "XRGB8888" is a 32-bit word x:R:G:B from the top
 * bit down, so the bytes in memory are B, G, R, X).  One table says where
 * each component lies in the word; one loop reads any of them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef VDMABUF_NO_PNG
#include <png.h>
#include <setjmp.h>
#endif

#include "vdmabuf-png.h"

enum { C_R, C_G, C_B, C_A, C_NR };

struct conv_fmt {
	uint32_t fourcc;
	const char *name;
	uint8_t cpp;			/* bytes per pixel */
	uint8_t shift[C_NR];		/* lowest bit of R, G, B, A in the word */
	uint8_t bits[C_NR];		/* their widths; A 0: no alpha */
};

static const struct conv_fmt conv_fmts[] = {
	{ VT_XRGB8888, "XRGB8888", 4, { 16, 8, 0, 0 }, { 8, 8, 8, 0 } },
	{ VT_ARGB8888, "ARGB8888", 4, { 16, 8, 0, 24 }, { 8, 8, 8, 8 } },
	{ VT_XBGR8888, "XBGR8888", 4, { 0, 8, 16, 0 }, { 8, 8, 8, 0 } },
	{ VT_ABGR8888, "ABGR8888", 4, { 0, 8, 16, 24 }, { 8, 8, 8, 8 } },
	{ VT_RGBX8888, "RGBX8888", 4, { 24, 16, 8, 0 }, { 8, 8, 8, 0 } },
	{ VT_RGBA8888, "RGBA8888", 4, { 24, 16, 8, 0 }, { 8, 8, 8, 8 } },
	{ VT_BGRX8888, "BGRX8888", 4, { 8, 16, 24, 0 }, { 8, 8, 8, 0 } },
	{ VT_BGRA8888, "BGRA8888", 4, { 8, 16, 24, 0 }, { 8, 8, 8, 8 } },
	{ VT_RGB565, "RGB565", 2, { 11, 5, 0, 0 }, { 5, 6, 5, 0 } },
	{ VT_BGR565, "BGR565", 2, { 0, 5, 11, 0 }, { 5, 6, 5, 0 } },
	{ VT_XRGB2101010, "XRGB2101010", 4, { 20, 10, 0, 0 }, { 10, 10, 10, 0 } },
	{ VT_XBGR2101010, "XBGR2101010", 4, { 0, 10, 20, 0 }, { 10, 10, 10, 0 } },
	{ VT_ARGB2101010, "ARGB2101010", 4, { 20, 10, 0, 30 }, { 10, 10, 10, 2 } },
	{ VT_ABGR2101010, "ABGR2101010", 4, { 0, 10, 20, 30 }, { 10, 10, 10, 2 } },
	{ VT_RGB888, "RGB888", 3, { 16, 8, 0, 0 }, { 8, 8, 8, 0 } },
	{ VT_BGR888, "BGR888", 3, { 0, 8, 16, 0 }, { 8, 8, 8, 0 } },
	{ VT_XRGB16161616, "XRGB16161616", 8, { 32, 16, 0, 0 }, { 16, 16, 16, 0 } },
	{ VT_ARGB16161616, "ARGB16161616", 8, { 32, 16, 0, 48 }, { 16, 16, 16, 16 } },
	{ VT_XBGR16161616, "XBGR16161616", 8, { 0, 16, 32, 0 }, { 16, 16, 16, 0 } },
	{ VT_ABGR16161616, "ABGR16161616", 8, { 0, 16, 32, 48 }, { 16, 16, 16, 16 } },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NR_CONV_FMTS	ARRAY_SIZE(conv_fmts)

static const struct conv_fmt *conv_fmt_find(uint32_t fourcc)
{
	size_t i;

	for (i = 0; i < NR_CONV_FMTS; i++)
		if (conv_fmts[i].fourcc == fourcc)
			return &conv_fmts[i];
	return NULL;
}

const char *conv_format_name(uint32_t fourcc)
{
	const struct conv_fmt *f = conv_fmt_find(fourcc);

	return f ? f->name : NULL;
}

int conv_fourcc_parse(const char *s, uint32_t *fourcc)
{
	size_t i;

	if (strlen(s) == 4) {
		for (i = 0; i < 4; i++)
			if (!isprint((unsigned char)s[i]))
				return -EINVAL;
		*fourcc = VT_FOURCC(s[0], s[1], s[2], s[3]);
		return 0;
	}
	for (i = 0; i < NR_CONV_FMTS; i++) {
		if (!strcasecmp(s, conv_fmts[i].name)) {
			*fourcc = conv_fmts[i].fourcc;
			return 0;
		}
	}
	return -EINVAL;
}

int conv_check(const struct vdmabuf_image *img, uint64_t buf_size,
	       char *why, size_t why_len)
{
	const struct conv_fmt *f = conv_fmt_find(img->fourcc);
	uint64_t row, last;
	char name[5];

	if (!f) {
		snprintf(why, why_len, "format %s is not supported",
			 vdmabuf_fourcc_name(img->fourcc, name));
		return -ENOTSUP;
	}
	if (img->modifier) {
		snprintf(why, why_len, "modifier 0x%016" PRIx64 " is not linear",
			 img->modifier);
		return -ENOTSUP;
	}
	if (!img->width || !img->height ||
	    img->width > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    img->height > VIRTIO_VDMABUF_IMAGE_MAX_DIM) {
		snprintf(why, why_len, "bad dimensions %ux%u", img->width,
			 img->height);
		return -EINVAL;
	}
	if (img->nr_planes != 1) {
		snprintf(why, why_len, "%u planes for a format of one",
			 img->nr_planes);
		return -EINVAL;
	}
	row = (uint64_t)img->width * f->cpp;
	if (img->planes[0].stride < row) {
		snprintf(why, why_len, "stride %u holds no row of %" PRIu64
			 " bytes", img->planes[0].stride, row);
		return -EINVAL;
	}
	/* offset < 2^64, (height - 1) * stride < 2^47: check in two steps. */
	last = (uint64_t)(img->height - 1) * img->planes[0].stride + row;
	if (img->planes[0].offset > buf_size ||
	    last > buf_size - img->planes[0].offset) {
		snprintf(why, why_len,
			 "image ends past the buffer (%" PRIu64 " bytes)",
			 buf_size);
		return -EINVAL;
	}
	return 0;
}

/* A component of @bits bits as 8 bits: the top bits, or replicated. */
static inline uint8_t to8(uint32_t v, unsigned int bits)
{
	int shift;
	uint32_t out;

	if (bits >= 8)
		return v >> (bits - 8);
	out = 0;
	for (shift = 8 - bits; shift > -(int)bits; shift -= bits)
		out |= shift >= 0 ? v << shift : v >> -shift;
	return out;
}

int conv_image(const void *buf, uint64_t buf_size,
	       const struct vdmabuf_image *img, struct rgb_image *out)
{
	const struct conv_fmt *f = conv_fmt_find(img->fourcc);
	uint32_t x, y, ch, mask[C_NR];
	char why[128];
	uint8_t *dst;
	size_t bytes;
	int ret, c;

	ret = conv_check(img, buf_size, why, sizeof(why));
	if (ret)
		return ret;
	ch = f->bits[C_A] ? 4 : 3;
	/* Up to 32768 x 32768 x 4 bytes: more than a 32-bit size_t holds. */
	if (__builtin_mul_overflow((size_t)img->width, (size_t)ch, &bytes) ||
	    __builtin_mul_overflow(bytes, (size_t)img->height, &bytes))
		return -EOVERFLOW;
	dst = malloc(bytes);
	if (!dst)
		return -ENOMEM;
	for (c = 0; c < C_NR; c++)
		mask[c] = f->bits[c] ? (1U << f->bits[c]) - 1 : 0;

	for (y = 0; y < img->height; y++) {
		uint32_t sy = img->flags & VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP ?
			      img->height - 1 - y : y;
		const uint8_t *src = (const uint8_t *)buf +
				     img->planes[0].offset +
				     (uint64_t)sy * img->planes[0].stride;
		uint8_t *d = dst + (size_t)y * img->width * ch;

		for (x = 0; x < img->width; x++, src += f->cpp) {
			uint64_t px = 0;
			int b;

			for (b = f->cpp - 1; b >= 0; b--)
				px = px << 8 | src[b];
			for (c = 0; c < (int)ch; c++)
				*d++ = to8((px >> f->shift[c]) & mask[c],
					   f->bits[c]);
		}
	}
	out->width = img->width;
	out->height = img->height;
	out->channels = ch;
	out->data = dst;
	return 0;
}

#ifdef VDMABUF_NO_PNG

int png_write_file(const char *path, const struct rgb_image *img)
{
	(void)path;
	(void)img;
	return -ENOTSUP;
}

#else

/* libpng longjmp()s here on failure; the locals it touches are volatile. */
static int png_write_stream(FILE *f, const struct rgb_image *img)
{
	png_structp png;
	png_infop info = NULL;
	uint32_t y;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, img->width, img->height, 8,
		     img->channels == 4 ? PNG_COLOR_TYPE_RGBA :
					  PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	/* Fast: the guest waits for the frame until the file is written. */
	png_set_compression_level(png, 1);
	png_write_info(png, info);
	for (y = 0; y < img->height; y++)
		png_write_row(png, img->data +
				   (size_t)y * img->width * img->channels);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int png_write_file(const char *path, const struct rgb_image *img)
{
	size_t len = strlen(path) + sizeof(".tmp");
	char *tmp;
	FILE *f;
	int fd, ret;

	tmp = malloc(len);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, len, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	ret = png_write_stream(f, img);
	if (fflush(f) && !ret)
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	free(tmp);
	return ret;
}

#endif /* VDMABUF_NO_PNG */
