// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the pixel conversion and PNG writing of `vdmabuf snapshot`
 * (tools/png.c, compiled in): every format it converts, top-down and
 * bottom-up, with a padded stride and a plane offset, is written into a
 * memfd with pixels encoded here from the DRM layouts (not from png.c's
 * table), converted, compared pixel-exact, written as a PNG, read back
 * with libpng and compared again; then the checks of size, stride,
 * offset overflow, dimensions, planes, format and modifier, the format
 * names, and PNG writing errors.  Files go to a mkdtemp() directory under
 * /tmp that the teardown removes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <png.h>

#include <vdmabuf/vdmabuf.h>

#include "vdmabuf-png.h"

/*
 * The harness's callbacks do not use all their parameters, and its
 * ASSERT_EQ(constant, unsigned) compares an int with an unsigned.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"

/*
 * W x H pixels (odd, and W != H: a transposition or flip shows), rows
 * of W * cpp + PAD bytes (no multiple of cpp), the plane at OFFSET (odd,
 * past the first page).
 */
#define W		37
#define H		11
#define PAD		27
#define OFFSET		4173
#define PAGE		4096

#define F_NV12		VT_FOURCC('N', 'V', '1', '2')
#define F_YUYV		VT_FOURCC('Y', 'U', 'Y', 'V')
/* I915_FORMAT_MOD_X_TILED */
#define MOD_X_TILED	0x0100000000000001ULL

/* Every format png.c converts: name, bytes per pixel, alpha. */
#define FORMATS(X) \
	X(XRGB8888, 4, 0) X(ARGB8888, 4, 1) \
	X(XBGR8888, 4, 0) X(ABGR8888, 4, 1) \
	X(RGBX8888, 4, 0) X(RGBA8888, 4, 1) \
	X(BGRX8888, 4, 0) X(BGRA8888, 4, 1) \
	X(RGB565, 2, 0) X(BGR565, 2, 0) \
	X(XRGB2101010, 4, 0) X(XBGR2101010, 4, 0) \
	X(ARGB2101010, 4, 1) X(ABGR2101010, 4, 1) \
	X(RGB888, 3, 0) X(BGR888, 3, 0) \
	X(XRGB16161616, 8, 0) X(ARGB16161616, 8, 1) \
	X(XBGR16161616, 8, 0) X(ABGR16161616, 8, 1)

struct fmt {
	uint32_t fourcc;
	const char *name;
	unsigned int cpp;
	int alpha;
};

#define FMT_ENTRY(n, c, a) { VT_##n, #n, c, a },
static const struct fmt fmts[] = { FORMATS(FMT_ENTRY) };

/* ---------------------------------------------------------------- */
/* The reference picture and its encoding                          */
/* ---------------------------------------------------------------- */

/*
 * One source pixel: 8-bit R, G, B, A (what the PNG must hold, for formats
 * of 8 bits or more), the bits below them in wider formats (to be
 * dropped), and the bits of an X component (to be ignored).
 */
struct px {
	uint8_t c[4];		/* R, G, B, A */
	uint8_t low[4];
	uint8_t x;
};

static uint8_t hash8(uint32_t x, uint32_t y, uint32_t k)
{
	uint32_t h = (x + 1) * 0x9e3779b1u ^ (y + 1) * 0x85ebca77u ^
		     (k + 1) * 0xc2b2ae3du;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	h *= 0x297a2d39u;
	h ^= h >> 15;
	return h >> 24;
}

/* Deterministic; the corners are all zeros and all ones. */
static void ref_px(uint32_t x, uint32_t y, struct px *p)
{
	int k;

	for (k = 0; k < 4; k++) {
		p->c[k] = hash8(x, y, k);
		p->low[k] = hash8(x, y, 4 + k);
	}
	p->x = hash8(x, y, 8);
	if (!x && !y)
		memset(p, 0, sizeof(*p));
	if (x == W - 1 && y == H - 1)
		memset(p, 0xff, sizeof(*p));
}

static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		p[i] = v >> (8 * i);
}

/* 5 or 6 bits to 8 by bit replication, 2 bits by multiplication. */
static uint8_t rep5(uint32_t v) { return v << 3 | v >> 2; }
static uint8_t rep6(uint32_t v) { return v << 2 | v >> 4; }

/*
 * Encode @s in @fourcc at @p, from the layouts of <drm/drm_fourcc.h>
 * (little-endian words, components named from the top bit down); @e gets
 * the 8-bit R, G, B, A conv_image() must make of it.
 */
static void encode(uint32_t fourcc, uint8_t *p, const struct px *s,
		   uint8_t e[4])
{
	const uint8_t r = s->c[0], g = s->c[1], b = s->c[2], a = s->c[3];
	uint64_t R, G, B, A, X;

	memcpy(e, s->c, 4);
	switch (fourcc) {
	/* 8-bit components: the bytes in memory, lowest address first. */
	case VT_XRGB8888: p[0] = b; p[1] = g; p[2] = r; p[3] = s->x; break;
	case VT_ARGB8888: p[0] = b; p[1] = g; p[2] = r; p[3] = a; break;
	case VT_XBGR8888: p[0] = r; p[1] = g; p[2] = b; p[3] = s->x; break;
	case VT_ABGR8888: p[0] = r; p[1] = g; p[2] = b; p[3] = a; break;
	case VT_RGBX8888: p[0] = s->x; p[1] = b; p[2] = g; p[3] = r; break;
	case VT_RGBA8888: p[0] = a; p[1] = b; p[2] = g; p[3] = r; break;
	case VT_BGRX8888: p[0] = s->x; p[1] = r; p[2] = g; p[3] = b; break;
	case VT_BGRA8888: p[0] = a; p[1] = r; p[2] = g; p[3] = b; break;
	case VT_RGB888: p[0] = b; p[1] = g; p[2] = r; break;
	case VT_BGR888: p[0] = r; p[1] = g; p[2] = b; break;

	/* [15:0] R:G:B 5:6:5, B:G:R 5:6:5: widened by replication. */
	case VT_RGB565:
	case VT_BGR565:
		R = r >> 3;
		G = g >> 2;
		B = b >> 3;
		put_le(p, fourcc == VT_RGB565 ? R << 11 | G << 5 | B :
						B << 11 | G << 5 | R, 2);
		e[0] = rep5(R);
		e[1] = rep6(G);
		e[2] = rep5(B);
		break;

	/* [31:0] x:R:G:B 2:10:10:10 and the like: the top 8 bits kept. */
	case VT_XRGB2101010:
	case VT_ARGB2101010:
	case VT_XBGR2101010:
	case VT_ABGR2101010:
		R = (uint64_t)r << 2 | (s->low[0] & 3);
		G = (uint64_t)g << 2 | (s->low[1] & 3);
		B = (uint64_t)b << 2 | (s->low[2] & 3);
		A = fourcc == VT_ARGB2101010 || fourcc == VT_ABGR2101010 ?
		    a >> 6 : (uint64_t)(s->x & 3);
		if (fourcc == VT_XRGB2101010 || fourcc == VT_ARGB2101010)
			put_le(p, A << 30 | R << 20 | G << 10 | B, 4);
		else
			put_le(p, A << 30 | B << 20 | G << 10 | R, 4);
		e[3] = A * 0x55;
		break;

	/* [63:0] x:R:G:B 16:16:16:16 and the like: the top 8 bits kept. */
	case VT_XRGB16161616:
	case VT_ARGB16161616:
	case VT_XBGR16161616:
	case VT_ABGR16161616:
		R = (uint64_t)r << 8 | s->low[0];
		G = (uint64_t)g << 8 | s->low[1];
		B = (uint64_t)b << 8 | s->low[2];
		A = (uint64_t)a << 8 | s->low[3];
		X = (uint64_t)s->x << 8 | s->low[3];
		if (fourcc == VT_XRGB16161616)
			put_le(p, X << 48 | R << 32 | G << 16 | B, 8);
		else if (fourcc == VT_ARGB16161616)
			put_le(p, A << 48 | R << 32 | G << 16 | B, 8);
		else if (fourcc == VT_XBGR16161616)
			put_le(p, X << 48 | B << 32 | G << 16 | R, 8);
		else
			put_le(p, A << 48 | B << 32 | G << 16 | R, 8);
		break;
	default:
		abort();
	}
}

/* The first difference of two W x H images of @ch channels, or -1. */
static long first_diff(const uint8_t *got, const uint8_t *want, int ch)
{
	size_t i;

	for (i = 0; i < (size_t)W * H * ch; i++)
		if (got[i] != want[i])
			return i;
	return -1;
}

#define ASSERT_SAME_PIXELS(got, want, ch) do { \
	long _d = first_diff(got, want, ch); \
	if (_d >= 0) \
		TH_LOG("pixel (%ld,%ld) channel %ld: got 0x%02x, want 0x%02x", \
		       _d / (ch) % W, _d / (ch) / W, _d % (ch), \
		       (got)[_d], (want)[_d]); \
	ASSERT_EQ(-1, _d); \
} while (0)

/* Removes @dir and what is in it, one level deep. */
static void remove_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	d = opendir(dir);
	if (!d)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0))
			unlinkat(dfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
	rmdir(dir);
}

/* Names in @dir but "." and "..", joined by spaces into @out. */
static int list_dir(const char *dir, char *out, size_t len)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	*out = 0;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%s",
			 n++ ? " " : "", de->d_name);
	}
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------- */
/* Every format, top-down and bottom-up                             */
/* ---------------------------------------------------------------- */

/*
 * Shared with the test's process (FIXTURE_TEARDOWN_PARENT), so that the
 * directory goes even when a test dies of a signal.
 */
FIXTURE(conv) {
	char dir[32];
	char path[64];
};

FIXTURE_VARIANT(conv) {
	struct fmt f;
	int bottom_up;
};

#define ADD_VARIANTS(n, c, a) \
	FIXTURE_VARIANT_ADD(conv, n) { \
		.f = { VT_##n, #n, c, a }, \
	}; \
	FIXTURE_VARIANT_ADD(conv, n##_bottom_up) { \
		.f = { VT_##n, #n, c, a }, \
		.bottom_up = 1, \
	};
FORMATS(ADD_VARIANTS)

FIXTURE_SETUP(conv)
{
	strcpy(self->dir, "/tmp/unit_tool_png.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/out.png", self->dir);
}

FIXTURE_TEARDOWN_PARENT(conv)
{
	remove_dir(self->dir);
}

/* Reads the PNG at @path, which must be W x H, 8-bit RGB(A). */
static void read_png(struct __test_metadata *_metadata, const char *path,
		     int ch, uint8_t *out)
{
	png_image im;

	memset(&im, 0, sizeof(im));
	im.version = PNG_IMAGE_VERSION;
	ASSERT_TRUE(png_image_begin_read_from_file(&im, path)) {
		TH_LOG("%s: %s", path, im.message);
	}
	EXPECT_EQ(W, im.width);
	EXPECT_EQ(H, im.height);
	/* the file's own format: 8 bits (no LINEAR), colour, alpha or not */
	EXPECT_EQ(ch == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB, im.format);
	if (im.width != W || im.height != H) {
		png_image_free(&im);
		ASSERT_TRUE(0);
	}
	im.format = ch == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
	ASSERT_TRUE(png_image_finish_read(&im, NULL, out, 0, NULL)) {
		TH_LOG("%s: %s", path, im.message);
	}
}

TEST_F(conv, pixels)
{
	const struct fmt *f = &variant->f;
	const uint32_t row = W * f->cpp, stride = row + PAD;
	/* The image ends on the buffer's last byte (no padding after its
	 * last row), and the buffer on a page followed by a guard page:
	 * a read past it faults. */
	const uint64_t size = OFFSET + (uint64_t)(H - 1) * stride + row;
	const size_t map_len = (size + PAGE - 1) / PAGE * PAGE;
	const int ch = f->alpha ? 4 : 3;
	struct vdmabuf_image img = {
		.width = W,
		.height = H,
		.fourcc = f->fourcc,
		.flags = variant->bottom_up ?
			 VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP : 0,
		.nr_planes = 1,
		.planes = { { .offset = OFFSET, .stride = stride } },
	};
	uint8_t want[W * H * 4], back[W * H * 4];
	struct rgb_image rgb = { 0 };
	char names[256], why[128];
	uint8_t *area, *buf;
	uint32_t x, y;
	int fd;

	fd = memfd_create("unit_tool_png", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, map_len));
	area = mmap(NULL, map_len + PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(area, mmap(area, map_len, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, fd, 0));
	memset(area, 0xa5, map_len);	/* offset and padding: junk */
	buf = area + (map_len - size);

	for (y = 0; y < H; y++) {
		/* visual row y is stored row y, or H - 1 - y bottom-up */
		uint32_t sy = variant->bottom_up ? H - 1 - y : y;

		for (x = 0; x < W; x++) {
			struct px s;
			uint8_t e[4];

			ref_px(x, y, &s);
			encode(f->fourcc, buf + OFFSET + (size_t)sy * stride +
				       (size_t)x * f->cpp, &s, e);
			memcpy(want + ((size_t)y * W + x) * ch, e, ch);
		}
	}
	ASSERT_EQ(0, mprotect(area, map_len, PROT_READ));

	ASSERT_EQ(0, conv_check(&img, size, why, sizeof(why))) {
		TH_LOG("%s", why);
	}
	ASSERT_EQ(0, conv_image(buf, size, &img, &rgb));
	ASSERT_EQ(W, rgb.width);
	ASSERT_EQ(H, rgb.height);
	ASSERT_EQ(ch, rgb.channels);
	ASSERT_SAME_PIXELS(rgb.data, want, ch);

	ASSERT_EQ(0, png_write_file(self->path, &rgb));
	/* the file, and no "out.png.tmp" beside it */
	ASSERT_EQ(1, list_dir(self->dir, names, sizeof(names)));
	ASSERT_STREQ("out.png", names);
	read_png(_metadata, self->path, ch, back);
	ASSERT_SAME_PIXELS(back, want, ch);

	free(rgb.data);
	munmap(area, map_len + PAGE);
	close(fd);
}

/* ---------------------------------------------------------------- */
/* What conv_check() and conv_image() refuse                        */
/* ---------------------------------------------------------------- */

/* In the loops below: on failure, say which case failed. */
#define CASE	{ TH_LOG("case: %s", at); }

/* A W x H image of @f with a padded stride, at OFFSET; its bytes. */
static uint64_t image_of(const struct fmt *f, struct vdmabuf_image *img)
{
	memset(img, 0, sizeof(*img));
	img->width = W;
	img->height = H;
	img->fourcc = f->fourcc;
	img->nr_planes = 1;
	img->planes[0].offset = OFFSET;
	img->planes[0].stride = W * f->cpp + PAD;
	return OFFSET + (uint64_t)(H - 1) * img->planes[0].stride +
	       W * f->cpp;
}

TEST(check_buffer_size)
{
	char at[64] = "";
	struct vdmabuf_image img;
	char why[128];
	uint64_t need;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(at, sizeof(at), "format %s", fmts[i].name);
		need = image_of(&fmts[i], &img);
		ASSERT_EQ(0, conv_check(&img, need, why, sizeof(why))) CASE;
		ASSERT_EQ(0, conv_check(&img, need + 1, why, sizeof(why))) CASE;
		why[0] = 0;
		ASSERT_EQ(-EINVAL, conv_check(&img, need - 1, why,
					      sizeof(why))) CASE;
		ASSERT_NE(NULL, strstr(why, "past the buffer")) CASE;
		ASSERT_EQ(-EINVAL, conv_check(&img, 0, why, sizeof(why))) CASE;
		/* no plane offset: that many bytes fewer */
		img.planes[0].offset = 0;
		ASSERT_EQ(0, conv_check(&img, need - OFFSET, why,
					sizeof(why))) CASE;
		ASSERT_EQ(-EINVAL, conv_check(&img, need - OFFSET - 1, why,
					      sizeof(why))) CASE;
		/* bottom-up reads the same bytes */
		img.flags = VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP;
		ASSERT_EQ(0, conv_check(&img, need - OFFSET, why,
					sizeof(why))) CASE;
		ASSERT_EQ(-EINVAL, conv_check(&img, need - OFFSET - 1, why,
					      sizeof(why))) CASE;
	}
}

TEST(check_stride)
{
	char at[64] = "";
	struct vdmabuf_image img;
	char why[128];
	uint64_t need;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(at, sizeof(at), "format %s", fmts[i].name);
		need = image_of(&fmts[i], &img);
		/* exactly a row: fine; a byte less: no */
		img.planes[0].stride = W * fmts[i].cpp;
		ASSERT_EQ(0, conv_check(&img, need, why, sizeof(why))) CASE;
		img.planes[0].stride = W * fmts[i].cpp - 1;
		why[0] = 0;
		ASSERT_EQ(-EINVAL, conv_check(&img, need, why,
					      sizeof(why))) CASE;
		ASSERT_NE(NULL, strstr(why, "stride")) CASE;
		img.planes[0].stride = 0;
		ASSERT_EQ(-EINVAL, conv_check(&img, need, why,
					      sizeof(why))) CASE;
	}
	/* one row: the stride still has to hold it */
	image_of(&fmts[0], &img);
	img.height = 1;
	img.planes[0].stride = W * 4 - 1;
	ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why, sizeof(why)));
}

TEST(check_offset_overflow)
{
	char at[64] = "";
	struct vdmabuf_image img;
	char why[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(at, sizeof(at), "format %s", fmts[i].name);
		image_of(&fmts[i], &img);
		/* offset + image would wrap past 2^64 */
		img.planes[0].offset = UINT64_MAX - 5;
		ASSERT_EQ(-EINVAL, conv_check(&img, UINT64_MAX, why,
					      sizeof(why))) CASE;
		ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why,
					      sizeof(why))) CASE;
		/* past the end; at the very end with an image after it */
		img.planes[0].offset = (1 << 20) + 1;
		ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why,
					      sizeof(why))) CASE;
		img.planes[0].offset = 1 << 20;
		ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why,
					      sizeof(why))) CASE;
	}
	/* the largest stride times the largest height would wrap 32 bits */
	image_of(&fmts[0], &img);
	img.height = VIRTIO_VDMABUF_IMAGE_MAX_DIM;
	img.planes[0].offset = 0;
	img.planes[0].stride = UINT32_MAX;
	ASSERT_EQ(-EINVAL, conv_check(&img, (uint64_t)UINT32_MAX * 2, why,
				      sizeof(why)));
	ASSERT_EQ(0, conv_check(&img, (uint64_t)(VIRTIO_VDMABUF_IMAGE_MAX_DIM -
						  1) * UINT32_MAX + W * 4,
				why, sizeof(why)));
	/* and an offset near 2^64 on top of it */
	img.planes[0].offset = UINT64_MAX - (uint64_t)UINT32_MAX * 3;
	ASSERT_EQ(-EINVAL, conv_check(&img, UINT64_MAX, why, sizeof(why)));
}

TEST(check_dimensions)
{
	struct vdmabuf_image img;
	char why[128];

	image_of(&fmts[0], &img);
	img.width = 0;
	why[0] = 0;
	ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "dimensions"));
	img.width = W;
	img.height = 0;
	ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why, sizeof(why)));

	/* the largest image: fits a buffer of its size */
	img.width = img.height = VIRTIO_VDMABUF_IMAGE_MAX_DIM;
	img.planes[0].offset = 0;
	img.planes[0].stride = VIRTIO_VDMABUF_IMAGE_MAX_DIM * 4;
	ASSERT_EQ(0, conv_check(&img, (uint64_t)VIRTIO_VDMABUF_IMAGE_MAX_DIM *
				VIRTIO_VDMABUF_IMAGE_MAX_DIM * 4, why,
				sizeof(why)));
	img.width = VIRTIO_VDMABUF_IMAGE_MAX_DIM + 1;
	ASSERT_EQ(-EINVAL, conv_check(&img, UINT64_MAX, why, sizeof(why)));
	img.width = VIRTIO_VDMABUF_IMAGE_MAX_DIM;
	img.height = VIRTIO_VDMABUF_IMAGE_MAX_DIM + 1;
	ASSERT_EQ(-EINVAL, conv_check(&img, UINT64_MAX, why, sizeof(why)));
	img.width = img.height = UINT32_MAX;
	ASSERT_EQ(-EINVAL, conv_check(&img, UINT64_MAX, why, sizeof(why)));
}

TEST(check_planes)
{
	struct vdmabuf_image img;
	char why[128];

	image_of(&fmts[0], &img);
	img.nr_planes = 0;
	why[0] = 0;
	ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "planes"));
	img.nr_planes = 2;
	img.planes[1] = img.planes[0];
	ASSERT_EQ(-EINVAL, conv_check(&img, 1 << 20, why, sizeof(why)));
}

TEST(check_format)
{
	char at[64] = "";
	static const uint32_t bad[] = {
		F_NV12, F_YUYV, 0,
		VT_FOURCC('A', 'R', '4', 'H'),	/* ARGB16161616F: float */
		VT_FOURCC('X', 'R', '1', '5'),	/* XRGB1555 */
	};
	struct vdmabuf_image img;
	char why[128];
	size_t i;

	image_of(&fmts[0], &img);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(at, sizeof(at), "fourcc 0x%08x", bad[i]);
		img.fourcc = bad[i];
		why[0] = 0;
		ASSERT_EQ(-ENOTSUP, conv_check(&img, 1 << 20, why,
					       sizeof(why))) CASE;
		ASSERT_NE(NULL, strstr(why, "not supported")) CASE;
	}
	img.fourcc = F_NV12;
	img.nr_planes = 2;
	conv_check(&img, 1 << 20, why, sizeof(why));
	ASSERT_STREQ("format NV12 is not supported", why);
	/* a short buffer for the reason: cut, terminated */
	memset(why, 'x', sizeof(why));
	ASSERT_EQ(-ENOTSUP, conv_check(&img, 1 << 20, why, 8));
	ASSERT_STREQ("format ", why);
}

TEST(check_modifier)
{
	char at[64] = "";
	static const uint64_t bad[] = {
		1, MOD_X_TILED,
		0x00ffffffffffffffULL,	/* DRM_FORMAT_MOD_INVALID */
		UINT64_MAX,
	};
	struct vdmabuf_image img;
	char why[128];
	uint64_t need;
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		need = image_of(&fmts[i], &img);
		for (j = 0; j < ARRAY_SIZE(bad); j++) {
			snprintf(at, sizeof(at), "format %s modifier 0x%016llx",
				 fmts[i].name, (unsigned long long)bad[j]);
			img.modifier = bad[j];
			ASSERT_EQ(-ENOTSUP, conv_check(&img, need, why,
						       sizeof(why))) CASE;
		}
	}
	img.modifier = MOD_X_TILED;
	conv_check(&img, need, why, sizeof(why));
	ASSERT_STREQ("modifier 0x0100000000000001 is not linear", why);
}

/* conv_image() applies the same checks, before reading or allocating. */
TEST(conv_image_rejects)
{
	static uint8_t buf[4096];
	struct vdmabuf_image img, good;
	struct rgb_image out;
	uint64_t need;

	need = image_of(&fmts[0], &good);
	ASSERT_GT(need, sizeof(buf));
	img = good;
	memset(&out, 0x5a, sizeof(out));
	ASSERT_EQ(-EINVAL, conv_image(buf, sizeof(buf), &img, &out));
	img.fourcc = F_NV12;
	ASSERT_EQ(-ENOTSUP, conv_image(buf, sizeof(buf), &img, &out));
	img = good;
	img.modifier = MOD_X_TILED;
	ASSERT_EQ(-ENOTSUP, conv_image(buf, need, &img, &out));
	img = good;
	img.planes[0].offset = UINT64_MAX - 5;
	ASSERT_EQ(-EINVAL, conv_image(buf, UINT64_MAX, &img, &out));
	img = good;
	img.planes[0].stride = W * 4 - 1;
	ASSERT_EQ(-EINVAL, conv_image(buf, need, &img, &out));
	img = good;
	img.height = 0;
	ASSERT_EQ(-EINVAL, conv_image(buf, need, &img, &out));
	/* nothing filled in */
	ASSERT_EQ(0x5a5a5a5a, out.width);
	ASSERT_EQ(0x5a5a5a5a, out.channels);
}

/* ---------------------------------------------------------------- */
/* Format names                                                     */
/* ---------------------------------------------------------------- */

TEST(format_names)
{
	char at[64] = "";
	uint32_t fourcc;
	char lower[32];
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(at, sizeof(at), "format %s", fmts[i].name);
		ASSERT_STREQ(fmts[i].name,
			     conv_format_name(fmts[i].fourcc)) CASE;
		fourcc = 0;
		ASSERT_EQ(0, conv_fourcc_parse(fmts[i].name, &fourcc)) CASE;
		ASSERT_EQ(fmts[i].fourcc, fourcc) CASE;
		for (j = 0; fmts[i].name[j]; j++)
			lower[j] = tolower((unsigned char)fmts[i].name[j]);
		lower[j] = 0;
		fourcc = 0;
		ASSERT_EQ(0, conv_fourcc_parse(lower, &fourcc)) CASE;
		ASSERT_EQ(fmts[i].fourcc, fourcc) CASE;
	}
	ASSERT_EQ(NULL, conv_format_name(F_NV12));
	ASSERT_EQ(NULL, conv_format_name(0));

	/* four characters are the code itself, known or not */
	ASSERT_EQ(0, conv_fourcc_parse("XR24", &fourcc));
	ASSERT_EQ(VT_XRGB8888, fourcc);
	ASSERT_EQ(0, conv_fourcc_parse("NV12", &fourcc));
	ASSERT_EQ(F_NV12, fourcc);
	ASSERT_EQ(0, conv_fourcc_parse("AB30", &fourcc));
	ASSERT_EQ(VT_ABGR2101010, fourcc);

	fourcc = 0x12345678;
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("XR2", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("XRGB888", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("XRGB88888", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("NV12X", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("XR\t4", &fourcc));
	ASSERT_EQ(-EINVAL, conv_fourcc_parse("\x01R24", &fourcc));
	ASSERT_EQ(0x12345678, fourcc);
}

/* ---------------------------------------------------------------- */
/* png_write_file()                                                 */
/* ---------------------------------------------------------------- */

FIXTURE(png) {
	char dir[32];
};

FIXTURE_SETUP(png)
{
	strcpy(self->dir, "/tmp/unit_tool_png.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN_PARENT(png)
{
	remove_dir(self->dir);
}

/* A file already there is replaced whole, RGBA by RGB. */
TEST_F(png, replace)
{
	uint8_t rgba[W * H * 4], rgb[W * H * 3], back[W * H * 4];
	struct rgb_image img = { W, H, 4, rgba };
	char path[64], names[256];
	uint32_t i;

	for (i = 0; i < sizeof(rgba); i++)
		rgba[i] = hash8(i, 1, 2);
	for (i = 0; i < sizeof(rgb); i++)
		rgb[i] = hash8(i, 3, 4);
	snprintf(path, sizeof(path), "%s/a.png", self->dir);
	ASSERT_EQ(0, png_write_file(path, &img));
	read_png(_metadata, path, 4, back);
	ASSERT_SAME_PIXELS(back, rgba, 4);

	img.channels = 3;
	img.data = rgb;
	ASSERT_EQ(0, png_write_file(path, &img));
	read_png(_metadata, path, 3, back);
	ASSERT_SAME_PIXELS(back, rgb, 3);
	ASSERT_EQ(1, list_dir(self->dir, names, sizeof(names)));
	ASSERT_STREQ("a.png", names);
}

/* png_write_file() with libpng's messages on stderr thrown away. */
static int quiet_png_write_file(const char *path, const struct rgb_image *img)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int saved = dup(STDERR_FILENO);
	int ret;

	if (null < 0 || saved < 0)
		abort();
	fflush(stderr);
	dup2(null, STDERR_FILENO);
	ret = png_write_file(path, img);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	return ret;
}

TEST_F(png, errors)
{
	uint8_t px[W * H * 3] = { 0 };
	struct rgb_image img = { W, H, 3, px };
	char path[96], names[256];

	/* no such directory */
	snprintf(path, sizeof(path), "%s/none/a.png", self->dir);
	ASSERT_EQ(-ENOENT, png_write_file(path, &img));

	/* a directory in the way: the rename fails, the .tmp file goes */
	snprintf(path, sizeof(path), "%s/sub", self->dir);
	ASSERT_EQ(0, mkdir(path, 0700));
	ASSERT_EQ(-EISDIR, png_write_file(path, &img));
	ASSERT_EQ(1, list_dir(self->dir, names, sizeof(names)));
	ASSERT_STREQ("sub", names);

	/* a directory where the .tmp file goes */
	snprintf(path, sizeof(path), "%s/b.png.tmp", self->dir);
	ASSERT_EQ(0, mkdir(path, 0700));
	snprintf(path, sizeof(path), "%s/b.png", self->dir);
	ASSERT_EQ(-EISDIR, png_write_file(path, &img));
	ASSERT_EQ(-1, access(path, F_OK));

	/* libpng refusing the image (zero width): -EIO, nothing left */
	img.width = 0;
	snprintf(path, sizeof(path), "%s/c.png", self->dir);
	ASSERT_EQ(-EIO, quiet_png_write_file(path, &img));
	ASSERT_EQ(2, list_dir(self->dir, names, sizeof(names)));
}

TEST_HARNESS_MAIN
