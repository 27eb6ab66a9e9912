// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvdmabuf that need no device: UUIDs, the format table,
 * image metadata, the importer record walk (valid and hostile records),
 * importer handles over a pipe, and the importer socket protocol against
 * an in-test server.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <vdmabuf/vdmabuf.h>

/*
 * The harness's callbacks do not use all their parameters, and its
 * ASSERT_EQ(constant, unsigned) compares an int with an unsigned.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"

#define fourcc_code(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | \
				 ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define F_XRGB8888	fourcc_code('X', 'R', '2', '4')
#define F_ARGB8888	fourcc_code('A', 'R', '2', '4')
#define F_RGB888	fourcc_code('R', 'G', '2', '4')
#define F_RGB565	fourcc_code('R', 'G', '1', '6')
#define F_ABGR2101010	fourcc_code('A', 'B', '3', '0')
#define F_ARGB16161616F	fourcc_code('A', 'R', '4', 'H')
#define F_NV12		fourcc_code('N', 'V', '1', '2')
#define F_YUYV		fourcc_code('Y', 'U', 'Y', 'V')	/* not in the table */
#define MOD_INVALID	0x00ffffffffffffffULL
#define MOD_X_TILED	0x0100000000000001ULL	/* I915_FORMAT_MOD_X_TILED */

#define HDR		((uint32_t)sizeof(struct vhost_vdmabuf_event))
#define RECT		((uint32_t)sizeof(struct vhost_vdmabuf_rect))

static const struct vdmabuf_uuid U1 = { {
	0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
	0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07 } };
static const struct vdmabuf_uuid U2 = { { [0] = 0xaa, [15] = 0x55 } };

/* @v rounded up to the size granule of vdmabuf_image_init(). */
static int64_t pg(int64_t v)
{
	int64_t page = sysconf(_SC_PAGESIZE);

	if (page < 4096)
		page = 4096;
	return (v + page - 1) / page * page;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- */
/* Version, UUIDs, formats                                          */
/* ---------------------------------------------------------------- */

TEST(version)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", LIBVDMABUF_VERSION_MAJOR,
		 LIBVDMABUF_VERSION_MINOR, LIBVDMABUF_VERSION_MICRO);
	ASSERT_STREQ(want, vdmabuf_version());
}

TEST(uuid_round_trip)
{
	struct vdmabuf_uuid u, back;
	char s[VDMABUF_UUID_STR_LEN];
	int i, n;

	ASSERT_TRUE(vdmabuf_uuid_format(&U1, s) == s);
	ASSERT_STREQ("12345678-9abc-4def-8001-020304050607", s);
	ASSERT_EQ(0, vdmabuf_uuid_parse(s, &back));
	ASSERT_EQ(0, memcmp(&U1, &back, sizeof(back)));

	ASSERT_EQ(0, vdmabuf_uuid_parse("12345678-9ABC-4DeF-8001-020304050607",
					&back));
	ASSERT_EQ(0, memcmp(&U1, &back, sizeof(back)));

	srand(1);
	for (n = 0; n < 100; n++) {
		for (i = 0; i < 16; i++)
			u.b[i] = (uint8_t)rand();
		vdmabuf_uuid_format(&u, s);
		ASSERT_EQ(36, strlen(s));
		ASSERT_EQ(0, vdmabuf_uuid_parse(s, &back));
		ASSERT_EQ(0, memcmp(&u, &back, sizeof(u)));
	}
}

TEST(uuid_rejects)
{
	static const char *const bad[] = {
		"",
		"12345678-9abc-4def-8001-02030405060",		/* short */
		"12345678-9abc-4def-8001-0203040506070",	/* long */
		"12345678-9abc-4def-8001-020304050607 ",	/* trailing */
		" 12345678-9abc-4def-8001-020304050607",	/* leading */
		"123456789abc4def8001020304050607",		/* no hyphens */
		"12345678-9abc-4def-80010-20304050607",		/* hyphen moved */
		"1234567-89abc-4def-8001-020304050607",
		"12345678_9abc-4def-8001-020304050607",
		"1234567g-9abc-4def-8001-020304050607",		/* not hex */
		"12345678-9abc-4def-8001-02030405060x",
		"{12345678-9abc-4def-8001-020304050607}",
	};
	struct vdmabuf_uuid u = U2, keep = U2;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		TH_LOG("case \"%s\"", bad[i]);
		ASSERT_EQ(-EINVAL, vdmabuf_uuid_parse(bad[i], &u));
		/* untouched on failure */
		ASSERT_EQ(0, memcmp(&u, &keep, sizeof(u)));
	}
	ASSERT_EQ(-EINVAL, vdmabuf_uuid_parse(NULL, &u));
}

TEST(fourcc_name)
{
	char n[5];

	ASSERT_STREQ("XR24", vdmabuf_fourcc_name(F_XRGB8888, n));
	ASSERT_STREQ("NV12", vdmabuf_fourcc_name(F_NV12, n));
	ASSERT_STREQ("?A ~", vdmabuf_fourcc_name(fourcc_code(0x01, 'A', ' ',
							      '~'), n));
	ASSERT_STREQ("????", vdmabuf_fourcc_name(0x7f80ff00, n));
}

TEST(format_table)
{
	static const uint32_t known[] = {
		fourcc_code('X', 'R', '2', '4'), fourcc_code('A', 'R', '2', '4'),
		fourcc_code('X', 'B', '2', '4'), fourcc_code('A', 'B', '2', '4'),
		fourcc_code('R', 'X', '2', '4'), fourcc_code('R', 'A', '2', '4'),
		fourcc_code('B', 'X', '2', '4'), fourcc_code('B', 'A', '2', '4'),
		fourcc_code('R', 'G', '2', '4'), fourcc_code('B', 'G', '2', '4'),
		fourcc_code('R', 'G', '1', '6'), fourcc_code('B', 'G', '1', '6'),
		fourcc_code('X', 'R', '3', '0'), fourcc_code('A', 'R', '3', '0'),
		fourcc_code('X', 'B', '3', '0'), fourcc_code('A', 'B', '3', '0'),
		fourcc_code('X', 'B', '4', 'H'), fourcc_code('A', 'B', '4', 'H'),
		fourcc_code('X', 'R', '4', 'H'), fourcc_code('A', 'R', '4', 'H'),
		fourcc_code('N', 'V', '1', '2'),
	};
	const struct vdmabuf_format *f;
	char n[5];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(known); i++) {
		f = vdmabuf_format_lookup(known[i]);
		ASSERT_NE(NULL, f);
		ASSERT_EQ(known[i], f->fourcc);
		ASSERT_STREQ(vdmabuf_fourcc_name(known[i], n), f->name);
		ASSERT_GE(f->nr_planes, 1);
		ASSERT_LE(f->nr_planes, VIRTIO_VDMABUF_IMAGE_MAX_PLANES);
		ASSERT_NE(0, f->cpp[0]);
	}
	f = vdmabuf_format_lookup(F_NV12);
	ASSERT_EQ(2, f->nr_planes);
	ASSERT_EQ(1, f->cpp[0]);
	ASSERT_EQ(2, f->cpp[1]);
	ASSERT_EQ(2, f->hsub);
	ASSERT_EQ(2, f->vsub);
	ASSERT_EQ(1, f->is_yuv);
	f = vdmabuf_format_lookup(F_ARGB16161616F);
	ASSERT_EQ(8, f->cpp[0]);
	ASSERT_EQ(1, f->is_float);
	ASSERT_EQ(1, f->has_alpha);
	ASSERT_EQ(16, f->depth);
	f = vdmabuf_format_lookup(F_RGB888);
	ASSERT_EQ(3, f->cpp[0]);
	ASSERT_EQ(NULL, vdmabuf_format_lookup(F_YUYV));
	ASSERT_EQ(NULL, vdmabuf_format_lookup(0));
}

/* ---------------------------------------------------------------- */
/* Image metadata                                                   */
/* ---------------------------------------------------------------- */

TEST(image_init)
{
	struct vdmabuf_image img;

	/* XRGB8888 1920x1080: 7680-byte rows, exactly 2025 4K pages */
	ASSERT_EQ(pg(8294400), vdmabuf_image_init(&img, 1920, 1080,
						  F_XRGB8888));
	ASSERT_EQ(1920, img.width);
	ASSERT_EQ(1080, img.height);
	ASSERT_EQ(F_XRGB8888, img.fourcc);
	ASSERT_EQ(0, img.modifier);
	ASSERT_EQ(0, img.flags);
	ASSERT_EQ(0, img.output);
	ASSERT_EQ(1, img.nr_planes);
	ASSERT_EQ(0, img.planes[0].offset);
	ASSERT_EQ(7680, img.planes[0].stride);
	ASSERT_EQ(0, img.planes[1].stride);
	ASSERT_EQ(0, vdmabuf_image_validate(&img, 8294400));

	/* RGB888 100x10: 300 bytes round up to 320 */
	ASSERT_EQ(pg(4096), vdmabuf_image_init(&img, 100, 10, F_RGB888));
	ASSERT_EQ(320, img.planes[0].stride);

	/* RGB565 1x1 */
	ASSERT_EQ(pg(4096), vdmabuf_image_init(&img, 1, 1, F_RGB565));
	ASSERT_EQ(64, img.planes[0].stride);

	/* ABGR2101010 1000x3: 4000 -> 4032, 12096 bytes */
	ASSERT_EQ(pg(12288), vdmabuf_image_init(&img, 1000, 3,
						F_ABGR2101010));
	ASSERT_EQ(4032, img.planes[0].stride);

	/* NV12 1920x1080: Y then half-size interleaved UV */
	ASSERT_EQ(pg(3110400), vdmabuf_image_init(&img, 1920, 1080, F_NV12));
	ASSERT_EQ(2, img.nr_planes);
	ASSERT_EQ(0, img.planes[0].offset);
	ASSERT_EQ(1920, img.planes[0].stride);
	ASSERT_EQ(2073600, img.planes[1].offset);
	ASSERT_EQ(1920, img.planes[1].stride);
	ASSERT_EQ(0, vdmabuf_image_validate(&img, 3110400));
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, 3110399));

	/* NV12 33x17: odd sizes round the chroma plane up */
	ASSERT_EQ(pg(4096), vdmabuf_image_init(&img, 33, 17, F_NV12));
	ASSERT_EQ(64, img.planes[0].stride);
	ASSERT_EQ(17 * 64, img.planes[1].offset);
	ASSERT_EQ(64, img.planes[1].stride);
	ASSERT_EQ(0, vdmabuf_image_validate(&img, 17 * 64 + 8 * 64 + 34));
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, 17 * 64 + 8 * 64 + 33));

	/* The largest: 32768x32768 FP16, 8 GiB */
	ASSERT_EQ(8ULL << 30, vdmabuf_image_init(&img, 32768, 32768,
						 F_ARGB16161616F));
	ASSERT_EQ(262144, img.planes[0].stride);
	ASSERT_EQ(0, vdmabuf_image_validate(&img, 8ULL << 30));

	ASSERT_EQ(-EINVAL, vdmabuf_image_init(&img, 0, 10, F_XRGB8888));
	ASSERT_EQ(-EINVAL, vdmabuf_image_init(&img, 10, 0, F_XRGB8888));
	ASSERT_EQ(-EINVAL, vdmabuf_image_init(&img, 32769, 10, F_XRGB8888));
	ASSERT_EQ(-EINVAL, vdmabuf_image_init(&img, 10, 32769, F_XRGB8888));
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_init(&img, 10, 10, F_YUYV));
	ASSERT_EQ(-EINVAL, vdmabuf_image_init(NULL, 10, 10, F_XRGB8888));
}

/* The size is a multiple of the page size, which ALLOC requires. */
TEST(image_init_page_size)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t gran = page > 4096 ? (uint64_t)page : 4096;
	struct vdmabuf_image img;
	int64_t size;
	int i;

	ASSERT_GT(page, 0);
	ASSERT_EQ((int64_t)gran, vdmabuf_image_init(&img, 1, 1, F_XRGB8888));
	/* 4097 pixels: 16388 bytes, a 16448-byte row */
	size = vdmabuf_image_init(&img, 4097, 1, F_XRGB8888);
	ASSERT_GT(size, 0);
	ASSERT_EQ(0, (uint64_t)size % gran);
	ASSERT_EQ((int64_t)((16448 + gran - 1) / gran * gran), size);
	for (i = 1; i < 200; i += 37) {
		size = vdmabuf_image_init(&img, 17 * i, 3 * i, F_NV12);
		ASSERT_GT(size, 0);
		ASSERT_EQ(0, (uint64_t)size % gran);
		ASSERT_LT((uint64_t)size - gran,
			  img.planes[1].offset +
			  (uint64_t)img.planes[1].stride * ((3 * i + 1) / 2));
	}
	/* every other field is zero: sRGB, nothing reserved */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, img.color[i]);
	for (i = 0; i < (int)(sizeof(img.reserved) / 4); i++)
		ASSERT_EQ(0, img.reserved[i]);
}

/* A valid encoded image for the decode tests: 100x10 XRGB8888, stride 512 */
static void base_wire(struct virtio_vdmabuf_image *w)
{
	struct vdmabuf_image img;

	vdmabuf_image_init(&img, 100, 10, F_XRGB8888);
	img.planes[0].stride = 512;
	img.output = 3;
	img.flags = VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP;
	vdmabuf_image_encode(&img, w);
}

/* 512 * 9 + 400: where the last row of base_wire() ends */
#define BASE_END	5008

TEST(image_encode_decode)
{
	struct vdmabuf_image img, out;
	struct virtio_vdmabuf_image w;
	unsigned char raw[sizeof(w) + 1];
	int64_t size;
	int i;

	size = vdmabuf_image_init(&img, 1280, 720, F_NV12);
	ASSERT_GT(size, 0);
	img.output = 2;
	img.flags = VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP;
	img.version = 77;	/* ignored */
	memset(&w, 0xa5, sizeof(w));
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
	ASSERT_EQ(136, sizeof(w));

	/* The wire bytes are little-endian: "VIMG", version 1, len 136 */
	memcpy(raw, &w, sizeof(w));
	ASSERT_EQ(0, memcmp(raw, "VIMG", 4));
	ASSERT_EQ(1, raw[4]);
	ASSERT_EQ(0, raw[5]);
	ASSERT_EQ(136, raw[6]);
	ASSERT_EQ(0, raw[7]);
	ASSERT_EQ(1280 & 0xff, raw[8]);
	ASSERT_EQ(1280 >> 8, raw[9]);
	ASSERT_EQ(2, le32toh(w.nr_planes));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, w.planes[i].padding);
	for (i = 2; i < 4; i++) {
		ASSERT_EQ(0, w.planes[i].offset);
		ASSERT_EQ(0, w.planes[i].stride);
		ASSERT_EQ(0, w.planes[i].padding);
	}
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, w.color.reserved[i]);

	memset(&out, 0xff, sizeof(out));
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), (uint64_t)size,
					  &out));
	img.version = 1;
	ASSERT_EQ(0, memcmp(&img, &out, sizeof(img)));

	/* unaligned metadata */
	memcpy(raw + 1, &w, sizeof(w));
	memset(&out, 0, sizeof(out));
	ASSERT_EQ(0, vdmabuf_image_decode(raw + 1, sizeof(w), 0, &out));
	ASSERT_EQ(0, memcmp(&img, &out, sizeof(img)));

	/* encode checks what needs no buffer, and nothing else */
	img.width = 0;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));
	vdmabuf_image_init(&img, 64, 64, F_XRGB8888);
	img.fourcc = F_YUYV;
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
	img.fourcc = F_XRGB8888;
	img.modifier = MOD_X_TILED;
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
	img.modifier = MOD_INVALID;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));
	img.modifier = 0;
	img.planes[0].stride = 4;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));

	/* version 1 defines no colour: encode refuses one */
	vdmabuf_image_init(&img, 64, 64, F_XRGB8888);
	img.color[7] = 1;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_validate(&img, 0));
	/* reserved words must be zero */
	vdmabuf_image_init(&img, 64, 64, F_XRGB8888);
	img.reserved[0] = 1;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, 0));
	img.reserved[0] = 0;
	img.reserved[6] = 0x80000000U;
	ASSERT_EQ(-EINVAL, vdmabuf_image_encode(&img, &w));
	img.reserved[6] = 0;
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
}

/* Within version 1's bytes, what a reader does not know must be zero. */
TEST(image_decode_unknown_fields)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;
	int i, p;

	/* a colour (an HDR image, say): not showable, but still decoded */
	base_wire(&w);
	for (i = 0; i < 8; i++)
		w.color.reserved[i] = htole32(0x01020300U + i);
	memset(&out, 0, sizeof(out));
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(100, out.width);
	ASSERT_EQ(512, out.planes[0].stride);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0x01020300U + i, out.color[i]);
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_validate(&out, 8192));
	/* one word is enough, and is in host order */
	base_wire(&w);
	w.color.reserved[3] = htole32(2);
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(2, out.color[3]);
	ASSERT_EQ(0, out.color[0]);
	/* ... and a malformed image with a colour is malformed */
	w.planes[0].stride = htole32(399);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	base_wire(&w);
	w.color.reserved[0] = htole32(1);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 100, &out));
	/* a colour with an unknown format: -ENOTSUP too */
	w.fourcc = htole32(F_YUYV);
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(1, out.color[0]);

	/* the padding of a plane in use */
	base_wire(&w);
	w.planes[0].padding = htole32(1);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));

	/* any non-zero byte of a plane past nr_planes */
	for (p = 1; p < 4; p++) {
		unsigned char *b;
		size_t k;

		for (k = 0; k < sizeof(w.planes[p]); k++) {
			base_wire(&w);
			b = (unsigned char *)&w.planes[p];
			b[k] = 0x80;
			ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w),
								8192, &out));
		}
	}
	/* the same bytes in use, for a two-plane format: fine */
	{
		struct vdmabuf_image img;
		int64_t size = vdmabuf_image_init(&img, 64, 64, F_NV12);

		ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
		ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), size, &out));
		w.planes[1].padding = htole32(1);
		ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), size,
							&out));
		w.planes[1].padding = 0;
		w.planes[2].stride = htole32(64);
		ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), size,
							&out));
	}

	/* past the first 136 bytes, a newer version's fields are ignored */
	{
		unsigned char big[sizeof(w) + 8];

		base_wire(&w);
		w.version = htole16(2);
		w.len = htole16(sizeof(big));
		memcpy(big, &w, sizeof(w));
		memset(big + sizeof(w), 0xff, 8);
		ASSERT_EQ(0, vdmabuf_image_decode(big, sizeof(big), 8192,
						  &out));
		ASSERT_EQ(2, out.version);
	}
}

TEST(image_decode_not_image)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;
	char other[64] = "PNG? something else entirely";

	base_wire(&w);
	ASSERT_EQ(-ENOMSG, vdmabuf_image_decode(other, sizeof(other), 0, &out));
	ASSERT_EQ(-ENOMSG, vdmabuf_image_decode(NULL, 0, 0, &out));
	ASSERT_EQ(-ENOMSG, vdmabuf_image_decode(&w, 3, 0, &out));
	/* the magic is little-endian: its byte-swapped form is no image */
	w.type = htobe32(VIRTIO_VDMABUF_META_IMAGE);
	ASSERT_EQ(-ENOMSG, vdmabuf_image_decode(&w, sizeof(w), 0, &out));
}

TEST(image_decode_header)
{
	unsigned char big[sizeof(struct virtio_vdmabuf_image) + 64];
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;

	base_wire(&w);
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(1, out.version);
	ASSERT_EQ(3, out.output);
	ASSERT_EQ(VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP, out.flags);

	/* short: the magic, then too little */
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, 4, 0, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w) - 1, 0, &out));

	/* version 0 */
	w.version = htole16(0);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));

	/* len below what version 1 defines */
	base_wire(&w);
	w.len = htole16(128);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));

	/* len past the metadata */
	w.len = htole16(144);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));

	/* a newer version with fields appended: read what we know */
	w.version = htole16(2);
	memset(big, 0x5a, sizeof(big));
	memcpy(big, &w, sizeof(w));
	ASSERT_EQ(0, vdmabuf_image_decode(big, 144, 8192, &out));
	ASSERT_EQ(2, out.version);
	ASSERT_EQ(100, out.width);
	ASSERT_EQ(0, vdmabuf_image_decode(big, sizeof(big), 8192, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(big, 143, 8192, &out));
}

TEST(image_decode_fields)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;

	/* unknown flag */
	base_wire(&w);
	w.flags = htole32(1U << 1);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* dimensions */
	base_wire(&w);
	w.width = 0;
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));
	base_wire(&w);
	w.height = htole32(32769);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));

	/* 0 or 5 planes */
	base_wire(&w);
	w.nr_planes = 0;
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	w.nr_planes = htole32(5);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	w.nr_planes = htole32(0x80000001);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* the format's plane count */
	base_wire(&w);
	w.nr_planes = htole32(2);
	w.planes[1].stride = htole32(512);
	w.planes[1].offset = htole64(4096);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	base_wire(&w);
	w.fourcc = htole32(F_NV12);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* DRM_FORMAT_MOD_INVALID */
	base_wire(&w);
	w.modifier = htole64(MOD_INVALID);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* stride 0 */
	base_wire(&w);
	w.planes[0].stride = 0;
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* stride below the row's bytes (100 * 4) */
	base_wire(&w);
	w.planes[0].stride = htole32(399);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 0, &out));
	w.planes[0].stride = htole32(400);
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), 4000, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 3999, &out));
}

TEST(image_decode_buffer)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;

	/* the last row ends exactly at the end, or one byte past it */
	base_wire(&w);
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), BASE_END, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), BASE_END - 1,
						&out));
	/* moved by an offset */
	w.planes[0].offset = htole64(100);
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), BASE_END + 100,
					  &out));
	ASSERT_EQ(100, out.planes[0].offset);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), BASE_END + 99,
						&out));

	/* a plane that starts past the buffer */
	w.planes[0].offset = htole64(8192);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));

	/* buffer size 0: no buffer checks */
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), 0, &out));
	ASSERT_EQ(8192, out.planes[0].offset);
}

TEST(image_overflow_edge)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image img, out;
	uint64_t size = 8ULL << 30;

	ASSERT_EQ((int64_t)size, vdmabuf_image_init(&img, 32768, 32768,
						    F_ARGB16161616F));
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), size, &out));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), size - 1, &out));

	/* the largest stride: 0xffffffff * 32767 + 262144 still fits */
	img.planes[0].stride = 0xffffffffU;
	ASSERT_EQ(0, vdmabuf_image_validate(&img, UINT64_MAX));
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, size));

	/* an offset near the top: the end wraps past 2^64 */
	img.planes[0].offset = UINT64_MAX - 4096;
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, UINT64_MAX));
	img.planes[0].stride = 262144;
	img.planes[0].offset = UINT64_MAX - 262144;
	ASSERT_EQ(-EINVAL, vdmabuf_image_validate(&img, UINT64_MAX));
	ASSERT_EQ(0, vdmabuf_image_encode(&img, &w));
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), UINT64_MAX,
						&out));
	/* without a buffer size, only the structure counts */
	ASSERT_EQ(0, vdmabuf_image_decode(&w, sizeof(w), 0, &out));
}

TEST(image_not_checkable)
{
	struct virtio_vdmabuf_image w;
	struct vdmabuf_image out;

	/* unknown fourcc: well-formed, not checkable, still decoded */
	base_wire(&w);
	w.fourcc = htole32(F_YUYV);
	memset(&out, 0, sizeof(out));
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(F_YUYV, out.fourcc);
	ASSERT_EQ(100, out.width);
	/* ... but the generic rules still apply first */
	w.planes[0].offset = htole64(8192);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	w.planes[0].offset = 0;
	w.nr_planes = htole32(3);	/* any count for an unknown format */
	w.planes[1].stride = htole32(64);
	w.planes[2].stride = htole32(64);
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(3, out.nr_planes);

	/* a non-linear modifier */
	base_wire(&w);
	w.modifier = htole64(MOD_X_TILED);
	w.planes[0].stride = htole32(4);	/* no row check for tiles */
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
	ASSERT_EQ(MOD_X_TILED, out.modifier);
	ASSERT_EQ(-ENOTSUP, vdmabuf_image_validate(&out, 8192));
	w.flags = htole32(1U << 5);
	ASSERT_EQ(-EINVAL, vdmabuf_image_decode(&w, sizeof(w), 8192, &out));
}

/* ---------------------------------------------------------------- */
/* Importer event records                                           */
/* ---------------------------------------------------------------- */

/*
 * Append a record at @off of @buf: @len 0 computes it (header + payload
 * rounded up to 8).  Returns where the next record starts.
 */
static size_t put_rec(void *buf, size_t off, uint32_t type, uint32_t len,
		      const struct vdmabuf_uuid *uuid, uint64_t size,
		      uint64_t seq, uint32_t payload_len, const void *payload)
{
	struct vhost_vdmabuf_event h = {
		.type = type, .size = size, .seq = seq,
		.payload_len = payload_len,
	};
	char *p = (char *)buf + off;

	if (!len)
		len = (HDR + payload_len + 7) & ~7U;
	h.len = len;
	if (type == VHOST_VDMABUF_EVENT_PRESENTED) {
		/* The device's frame number; this one stands for 2 frames. */
		h.frame = 1000 + seq;
		h.nr_frames = 2;
		h.flags = VHOST_VDMABUF_EVENT_F_OWED;
	}
	memcpy(h.uuid, uuid->b, 16);
	memcpy(p, &h, sizeof(h));
	if (payload)
		memcpy(p + HDR, payload, payload_len);
	return off + len;
}

/* Damage as the device writes it: host byte order. */
static void host_rects(struct vhost_vdmabuf_rect *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		r[i].x = 10 * i + 1;
		r[i].y = 10 * i + 2;
		r[i].width = 10 * i + 3;
		r[i].height = 0x01020304 + i;
	}
}

/* The three-record buffer the walk tests use; returns its length. */
static size_t three_records(void *buf)
{
	static const char meta[] = "metadata!";	/* 10 bytes: padded */
	struct vhost_vdmabuf_rect r[3];
	size_t off;

	host_rects(r, 3);
	off = put_rec(buf, 0, VHOST_VDMABUF_EVENT_EXPORTED, 0, &U1, 1 << 20,
		      0, sizeof(meta), meta);
	off = put_rec(buf, off, VHOST_VDMABUF_EVENT_PRESENTED, 0, &U1, 0, 42,
		      sizeof(r), r);
	off = put_rec(buf, off, VHOST_VDMABUF_EVENT_UNEXPORTED, 0, &U2, 0, 0,
		      0, NULL);
	return off;
}

TEST(record_walk)
{
	uint64_t store[1024] = { 0 };
	unsigned char *buf = (unsigned char *)store;
	struct vdmabuf_host_event ev;
	struct vdmabuf_rect rect;
	size_t len, off = 0;
	int shift;

	len = three_records(buf);
	ASSERT_EQ(HDR + 16 + HDR + 48 + HDR, len);

	memset(&ev, 0xff, sizeof(ev));
	ASSERT_EQ(1, vdmabuf_record_next(buf, len, &off, &ev));
	ASSERT_EQ(HDR + 16, off);
	for (shift = 0; shift < 5; shift++)
		ASSERT_EQ(0, ev.reserved[shift]);
	ASSERT_EQ(0, ev.frame);
	ASSERT_EQ(0, ev.nr_frames);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, ev.type);
	ASSERT_EQ(0, memcmp(&ev.uuid, &U1, 16));
	ASSERT_EQ(1 << 20, ev.size);
	ASSERT_EQ(10, ev.payload_len);
	ASSERT_EQ(0, ev.nr_rects);
	ASSERT_EQ(buf + HDR, ev.payload);
	ASSERT_STREQ("metadata!", (const char *)ev.payload);
	ASSERT_EQ(-EINVAL, vdmabuf_event_damage(&ev, 0, &rect));

	ASSERT_EQ(1, vdmabuf_record_next(buf, len, &off, &ev));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED, ev.type);
	ASSERT_EQ(42, ev.seq);
	ASSERT_EQ(1042, ev.frame);
	ASSERT_EQ(2, ev.nr_frames);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_F_OWED, ev.flags);
	ASSERT_EQ(3, ev.nr_rects);
	ASSERT_EQ(48, ev.payload_len);

	ASSERT_EQ(1, vdmabuf_record_next(buf, len, &off, &ev));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, ev.type);
	ASSERT_EQ(0, memcmp(&ev.uuid, &U2, 16));
	ASSERT_EQ(0, ev.payload_len);
	ASSERT_EQ(len, off);

	ASSERT_EQ(0, vdmabuf_record_next(buf, len, &off, &ev));
	ASSERT_EQ(len, off);
	off = 0;
	ASSERT_EQ(0, vdmabuf_record_next(buf, 0, &off, &ev));
	off = len + 8;
	ASSERT_EQ(-EINVAL, vdmabuf_record_next(buf, len, &off, &ev));
	off = 0;
	ASSERT_EQ(-EINVAL, vdmabuf_record_next(NULL, len, &off, &ev));
	ASSERT_EQ(-EINVAL, vdmabuf_record_next(buf, len, NULL, &ev));
	ASSERT_EQ(-EINVAL, vdmabuf_record_next(buf, len, &off, NULL));

	/* any alignment of the buffer */
	for (shift = 1; shift < 8; shift++) {
		int n = 0;

		memmove(buf + shift, buf + shift - 1, len);
		off = 0;
		while (vdmabuf_record_next(buf + shift, len, &off, &ev) == 1)
			n++;
		ASSERT_EQ(3, n);
		ASSERT_EQ(len, off);
		ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, ev.type);
	}
}

TEST(record_max_size)
{
	static uint64_t store[2 * VHOST_VDMABUF_EVENT_MAX / 8] = { 0 };
	unsigned char *buf = (unsigned char *)store;
	unsigned char meta[VIRTIO_VDMABUF_MAX_META];
	struct vdmabuf_host_event ev;
	size_t off = 0, len;

	memset(meta, 0x3c, sizeof(meta));
	len = put_rec(buf, 0, VHOST_VDMABUF_EVENT_EXPORTED, 0, &U1, 4096, 0,
		      sizeof(meta), meta);
	ASSERT_EQ(VHOST_VDMABUF_EVENT_MAX, len);
	ASSERT_EQ(1, vdmabuf_record_next(buf, len, &off, &ev));
	ASSERT_EQ(len, off);
	ASSERT_EQ(VIRTIO_VDMABUF_MAX_META, ev.payload_len);
	ASSERT_EQ(0, memcmp(ev.payload, meta, sizeof(meta)));

	/* one that claims more than the largest record there is */
	put_rec(buf, 0, VHOST_VDMABUF_EVENT_EXPORTED,
		VHOST_VDMABUF_EVENT_MAX + 8, &U1, 4096, 0, sizeof(meta), meta);
	off = 0;
	ASSERT_EQ(-EPROTO, vdmabuf_record_next(buf, sizeof(store), &off, &ev));
	ASSERT_EQ(0, off);
}

/*
 * Each hostile record, as the first record and after a good one: -EPROTO,
 * and the position stays at the bad record.
 */
struct hostile {
	const char *name;
	uint32_t type;
	uint32_t len;		/* the header's len */
	uint32_t payload_len;
	size_t avail;		/* bytes of the record in the buffer */
};

static const struct hostile hostile[] = {
	{ "truncated header", 3, HDR, 0, HDR - 8 },
	{ "one byte", 3, HDR, 0, 1 },
	{ "len 0", 3, 0, 0, HDR },
	{ "len below header", 3, HDR - 8, 0, HDR },
	{ "len not a multiple of 8", 1, HDR + 4, 4, HDR + 8 },
	{ "len past the end", 1, HDR + 64, 8, HDR + 56 },
	{ "len far past the end", 1, 0xfffffff8, 8, HDR + 64 },
	{ "payload past the record", 1, HDR + 16, 17, HDR + 32 },
	{ "payload far past the record", 1, HDR + 16, 0xffffffff, HDR + 32 },
	{ "damage not whole rects", 2, HDR + 24, 20, HDR + 24 },
	{ "damage of one byte", 2, HDR + 8, 1, HDR + 8 },
};

TEST(record_hostile)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hostile); i++) {
		const struct hostile *h = &hostile[i];
		struct vhost_vdmabuf_event e = {
			.type = h->type, .len = h->len,
			.payload_len = h->payload_len,
		};
		struct vdmabuf_host_event ev;
		size_t first, off, len;
		uint64_t scratch[64];
		unsigned char *buf;

		TH_LOG("case: %s", h->name);
		first = three_records(scratch);
		/* exactly the bytes the case has: ASan sees any overread */
		len = first + h->avail;
		buf = malloc(len);
		ASSERT_NE(NULL, buf);
		ASSERT_EQ(first, three_records(buf));
		memset(buf + first, 0, h->avail);
		memcpy(buf + first, &e, h->avail < HDR ? h->avail : HDR);

		off = 0;
		while (off < first)
			ASSERT_EQ(1, vdmabuf_record_next(buf, len, &off, &ev));
		ASSERT_EQ(first, off);
		ASSERT_EQ(-EPROTO, vdmabuf_record_next(buf, len, &off, &ev));
		ASSERT_EQ(first, off);
		/* alone at the start of a buffer */
		off = 0;
		ASSERT_EQ(-EPROTO, vdmabuf_record_next(buf + first, h->avail,
						       &off, &ev));
		ASSERT_EQ(0, off);
		free(buf);
	}
}

TEST(event_damage)
{
	uint64_t store[64] = { 0 };
	struct vhost_vdmabuf_rect r[4];
	struct vdmabuf_host_event ev;
	struct vdmabuf_rect rect;
	size_t off = 0, len;
	uint32_t i;

	host_rects(r, 4);
	len = put_rec(store, 0, VHOST_VDMABUF_EVENT_PRESENTED, 0, &U1, 0, 7,
		      sizeof(r), r);
	ASSERT_EQ(1, vdmabuf_record_next(store, len, &off, &ev));
	ASSERT_EQ(4, ev.nr_rects);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, vdmabuf_event_damage(&ev, i, &rect));
		ASSERT_EQ(10 * i + 1, rect.x);
		ASSERT_EQ(10 * i + 2, rect.y);
		ASSERT_EQ(10 * i + 3, rect.width);
		ASSERT_EQ(0x01020304 + i, rect.height);
	}
	ASSERT_EQ(-EINVAL, vdmabuf_event_damage(&ev, 4, &rect));
	ASSERT_EQ(-EINVAL, vdmabuf_event_damage(&ev, UINT32_MAX, &rect));

	/* no damage: the whole buffer */
	len = put_rec(store, 0, VHOST_VDMABUF_EVENT_PRESENTED, 0, &U1, 0, 8,
		      0, NULL);
	off = 0;
	ASSERT_EQ(1, vdmabuf_record_next(store, len, &off, &ev));
	ASSERT_EQ(0, ev.nr_rects);
	ASSERT_EQ(-EINVAL, vdmabuf_event_damage(&ev, 0, &rect));

	/* an unaligned payload */
	len = put_rec((char *)store + 4, 0, VHOST_VDMABUF_EVENT_PRESENTED, 0,
		      &U1, 0, 9, sizeof(r), r);
	off = 0;
	ASSERT_EQ(1, vdmabuf_record_next((char *)store + 4, len, &off, &ev));
	ASSERT_EQ(0, vdmabuf_event_damage(&ev, 3, &rect));
	ASSERT_EQ(0x01020307, rect.height);
}

/* ---------------------------------------------------------------- */
/* Importer handles over a pipe                                     */
/* ---------------------------------------------------------------- */

TEST(importer_pipe)
{
	uint64_t store[256] = { 0 };
	struct vdmabuf_importer *imp = (void *)1;
	struct vdmabuf_host_event ev;
	int p[2], fl, i;
	size_t len;
	int64_t t0;

	ASSERT_EQ(-EBADF, vdmabuf_importer_from_fd(-1, &imp));
	ASSERT_EQ(NULL, imp);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, vdmabuf_importer_from_fd(p[0], &imp));
	ASSERT_EQ(p[0], vdmabuf_importer_fd(imp));
	fl = fcntl(p[0], F_GETFL);
	ASSERT_TRUE(fl & O_NONBLOCK);

	/* nothing yet */
	ASSERT_EQ(-EAGAIN, vdmabuf_importer_next_event(imp, &ev, 0));
	t0 = now_ms();
	ASSERT_EQ(-EAGAIN, vdmabuf_importer_next_event(imp, &ev, 100));
	ASSERT_GE(now_ms() - t0, 95);

	/* three records in one read */
	len = three_records(store);
	ASSERT_EQ(len, write(p[1], store, len));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, ev.type);
	ASSERT_STREQ("metadata!", (const char *)ev.payload);
	/* more arrives while the first read is half handed out */
	ASSERT_EQ(len, write(p[1], store, len));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_PRESENTED, ev.type);
	ASSERT_EQ(42, ev.seq);
	ASSERT_EQ(3, ev.nr_rects);
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 0));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, ev.type);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, -1));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, ev.type);
	ASSERT_EQ(-EAGAIN, vdmabuf_importer_next_event(imp, &ev, 0));

	/* a malformed record: -EPROTO, and the next read starts afresh */
	len = put_rec(store, 0, VHOST_VDMABUF_EVENT_EXPORTED, HDR + 4, &U1,
		      0, 0, 0, NULL);
	len = put_rec(store, len, VHOST_VDMABUF_EVENT_EXPORTED, 0, &U1, 0, 0,
		      0, NULL);
	ASSERT_EQ(len, write(p[1], store, len));
	ASSERT_EQ(-EPROTO, vdmabuf_importer_next_event(imp, &ev, 0));
	len = put_rec(store, 0, VHOST_VDMABUF_EVENT_UNEXPORTED, 0, &U2, 0, 0,
		      0, NULL);
	ASSERT_EQ(len, write(p[1], store, len));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_UNEXPORTED, ev.type);
	ASSERT_EQ(0, memcmp(&ev.uuid, &U2, 16));

	/* end of file: the device is gone, also after queued records */
	ASSERT_EQ(len, write(p[1], store, len));
	close(p[1]);
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, -1));
	ASSERT_EQ(-ENODEV, vdmabuf_importer_next_event(imp, &ev, -1));
	ASSERT_EQ(-ENODEV, vdmabuf_importer_next_event(imp, &ev, 0));

	/* the handle owns the fd */
	vdmabuf_importer_close(imp);
	ASSERT_EQ(-1, fcntl(p[0], F_GETFD));
	ASSERT_EQ(EBADF, errno);
	vdmabuf_importer_close(NULL);
}

/* A writer thread: the importer waits in poll() until records come. */
struct delayed_write {
	int fd;
	int ms;
	size_t len;
	const void *buf;
};

static void *delayed_writer(void *arg)
{
	struct delayed_write *d = arg;

	usleep(d->ms * 1000);
	if (write(d->fd, d->buf, d->len) != (ssize_t)d->len)
		return (void *)1;
	return NULL;
}

TEST(importer_waits)
{
	uint64_t store[64] = { 0 };
	struct delayed_write d;
	struct vdmabuf_importer *imp;
	struct vdmabuf_host_event ev;
	pthread_t th;
	int p[2];
	int64_t t0;
	void *ret;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, vdmabuf_importer_from_fd(p[0], &imp));
	d.fd = p[1];
	d.ms = 150;
	d.buf = store;
	d.len = put_rec(store, 0, VHOST_VDMABUF_EVENT_PRESENTED, 0, &U1, 0, 5,
			0, NULL);
	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, delayed_writer, &d));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 5000));
	ASSERT_GE(now_ms() - t0, 100);
	ASSERT_EQ(5, ev.seq);
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);

	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, delayed_writer, &d));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, -1));
	ASSERT_GE(now_ms() - t0, 100);
	ASSERT_EQ(0, pthread_join(th, &ret));
	vdmabuf_importer_close(imp);
	close(p[1]);
}

/* ---------------------------------------------------------------- */
/* Devices and sockets that are not there                           */
/* ---------------------------------------------------------------- */

TEST(dev_open_missing)
{
	struct vdmabuf_dev *dev = (void *)1;

	ASSERT_EQ(-ENOENT, vdmabuf_dev_open("/nonexistent/virtio-vdmabuf",
					    &dev));
	ASSERT_EQ(NULL, dev);
	vdmabuf_dev_close(NULL);
}

TEST(dev_on_other_file)
{
	struct vdmabuf_dev *dev;
	struct vdmabuf_event ev;
	struct vdmabuf_info info;

	/* a file that is no device: every ioctl fails, nothing crashes */
	ASSERT_EQ(0, vdmabuf_dev_open("/dev/null", &dev));
	ASSERT_GE(vdmabuf_dev_fd(dev), 0);
	ASSERT_TRUE(fcntl(vdmabuf_dev_fd(dev), F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(-ENOTTY, vdmabuf_dev_info(dev, &info));
	ASSERT_EQ(-ENOTTY, vdmabuf_dev_alloc(dev, 4096));
	ASSERT_EQ(-ENOTTY, vdmabuf_dev_unexport(dev, &U1));
	ASSERT_EQ(-ENOTTY, vdmabuf_dev_present(dev, &U1, 1, NULL, 0));
	ASSERT_EQ(-EINVAL, vdmabuf_dev_present(dev, &U1, 1, NULL, 1));
	ASSERT_EQ(-EINVAL, vdmabuf_dev_export(dev, 0, NULL, 4, NULL));
	/* /dev/null reads end of file */
	ASSERT_EQ(-ENODEV, vdmabuf_dev_next_event(dev, &ev, 0));
	vdmabuf_dev_close(dev);
}

/* A socket path in a fresh directory; @dir gets the directory. */
static void sock_path(char *dir, char *path, size_t size)
{
	strcpy(dir, "/tmp/unit_lib.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, size, "%s/importer.sock", dir);
}

static void sock_cleanup(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

TEST(connect_missing)
{
	struct vdmabuf_importer *imp = (void *)1;
	char dir[64], path[128], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t t0;
	int s;

	sock_path(dir, path, sizeof(path));
	ASSERT_EQ(-ENOENT, vdmabuf_importer_connect(path, 0, &imp));
	ASSERT_EQ(NULL, imp);
	t0 = now_ms();
	ASSERT_EQ(-ENOENT, vdmabuf_importer_connect(path, 300, &imp));
	ASSERT_GE(now_ms() - t0, 290);

	/* a socket nobody listens on any more */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(s, 0);
	strcpy(sa.sun_path, path);
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	close(s);
	ASSERT_EQ(-ECONNREFUSED, vdmabuf_importer_connect(path, 0, &imp));

	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	ASSERT_EQ(-ENAMETOOLONG, vdmabuf_importer_connect(longp, 0, &imp));
	ASSERT_EQ(-EINVAL, vdmabuf_importer_connect("", 0, &imp));
	sock_cleanup(dir, path);
}

/* What the in-test VMM does with each connection. */
enum server_mode {
	SEND_FD,	/* one zero byte with an fd: the protocol */
	SEND_BYTE,	/* one byte, no fd */
	SEND_NOTHING,	/* close at once */
	SEND_TWO_FDS,	/* one byte with two fds */
};

struct server {
	char path[128];
	enum server_mode mode;
	int delay_ms;		/* before listening */
	int fds[2];		/* what SEND_FD sends */
	int ret;
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char zero = 0;
	struct iovec iov = { .iov_base = &zero, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int ls, cs, nfds;

	s->ret = -1;
	if (s->delay_ms)
		usleep(s->delay_ms * 1000);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, s->path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 1))
		return NULL;
	cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	if (cs < 0)
		return NULL;
	switch (s->mode) {
	case SEND_FD:
	case SEND_TWO_FDS:
		nfds = s->mode == SEND_FD ? 1 : 2;
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), s->fds, nfds * sizeof(int));
		/* fallthrough */
	case SEND_BYTE:
		if (sendmsg(cs, &msg, MSG_NOSIGNAL) != 1) {
			close(cs);
			return NULL;
		}
		break;
	case SEND_NOTHING:
		break;
	}
	close(cs);
	s->ret = 0;
	return NULL;
}

/* Connect to a server in @mode; the result, with *@impp. */
static int connect_to(struct server *s, enum server_mode mode, int delay_ms,
		      int timeout_ms, struct vdmabuf_importer **impp)
{
	char dir[64];
	pthread_t th;
	int ret;

	sock_path(dir, s->path, sizeof(s->path));
	s->mode = mode;
	s->delay_ms = delay_ms;
	if (pthread_create(&th, NULL, server_main, s))
		return -EAGAIN;
	if (!delay_ms)
		while (access(s->path, F_OK))	/* listening soon */
			usleep(1000);
	ret = vdmabuf_importer_connect(s->path, timeout_ms, impp);
	pthread_join(th, NULL);
	sock_cleanup(dir, s->path);
	return ret;
}

TEST(connect_gets_fd)
{
	uint64_t store[64] = { 0 };
	struct vdmabuf_importer *imp;
	struct vdmabuf_host_event ev;
	struct server s;
	int p[2], fd;
	size_t len;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	s.fds[0] = p[0];
	ASSERT_EQ(0, connect_to(&s, SEND_FD, 0, 0, &imp));
	ASSERT_EQ(0, s.ret);
	close(p[0]);	/* the server's copy: the handle has its own */

	fd = vdmabuf_importer_fd(imp);
	ASSERT_GE(fd, 0);
	ASSERT_NE(p[0], fd);
	ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);

	/* the fd works: records written into the pipe come out */
	ASSERT_EQ(-EAGAIN, vdmabuf_importer_next_event(imp, &ev, 0));
	len = put_rec(store, 0, VHOST_VDMABUF_EVENT_EXPORTED, 0, &U2, 8192, 0,
		      0, NULL);
	ASSERT_EQ(len, write(p[1], store, len));
	ASSERT_EQ(0, vdmabuf_importer_next_event(imp, &ev, 1000));
	ASSERT_EQ(VHOST_VDMABUF_EVENT_EXPORTED, ev.type);
	ASSERT_EQ(8192, ev.size);
	close(p[1]);
	ASSERT_EQ(-ENODEV, vdmabuf_importer_next_event(imp, &ev, 1000));
	vdmabuf_importer_close(imp);
}

TEST(connect_waits_for_vm)
{
	struct vdmabuf_importer *imp;
	struct server s;
	int p[2];

	/* the VM's socket appears 300 ms late */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	s.fds[0] = p[1];
	ASSERT_EQ(0, connect_to(&s, SEND_FD, 300, 5000, &imp));
	ASSERT_EQ(0, s.ret);
	close(p[1]);
	vdmabuf_importer_close(imp);
	close(p[0]);
}

TEST(connect_extra_fds)
{
	struct vdmabuf_importer *imp;
	struct server s;
	int p[2];

	/* two fds: the first is the importer, the other is closed */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	s.fds[0] = p[0];
	s.fds[1] = p[1];
	ASSERT_EQ(0, connect_to(&s, SEND_TWO_FDS, 0, 0, &imp));
	ASSERT_EQ(0, s.ret);
	vdmabuf_importer_close(imp);
	close(p[0]);
	close(p[1]);
}

TEST(connect_no_fd)
{
	struct vdmabuf_importer *imp = (void *)1;
	struct server s;

	ASSERT_EQ(-EPROTO, connect_to(&s, SEND_BYTE, 0, 0, &imp));
	ASSERT_EQ(0, s.ret);
	ASSERT_EQ(NULL, imp);
	ASSERT_EQ(-EPROTO, connect_to(&s, SEND_NOTHING, 0, 0, &imp));
	ASSERT_EQ(0, s.ret);
	ASSERT_EQ(NULL, imp);
}

TEST_HARNESS_MAIN
