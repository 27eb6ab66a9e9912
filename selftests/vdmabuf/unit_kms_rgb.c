// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of how importer_display reads the guest's KMS framebuffers
 * to compare them with QEMU's screendumps: display_proto.h's
 * disp_rgb24_row() turns every format of the KMS driver (and the 24-bit
 * ones) into R, G, B bytes as a PPM screendump holds them, checked here
 * against pixels encoded from the DRM layouts, in a window of a buffer
 * with a padded pitch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "display_proto.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"

/* Pixel (x, y) of the test picture, 8 bits per component. */
static void picture(uint32_t x, uint32_t y, uint8_t rgb[3])
{
	rgb[0] = (uint8_t)(x * 37 + y * 3);
	rgb[1] = (uint8_t)(x * 11 + y * 29 + 5);
	rgb[2] = (uint8_t)(x * 5 + y * 17 + 200);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * Encode @rgb in @fourcc's DRM layout at @p; what a display shows of it
 * in @show (8 bits per component after the format's own precision).
 */
static uint32_t encode(uint32_t fourcc, const uint8_t rgb[3], uint8_t *p,
		       uint8_t show[3])
{
	uint32_t r, g, b;

	memcpy(show, rgb, 3);
	switch (fourcc) {
	case DISP_FMT_XRGB8888:		/* B, G, R, X */
	case DISP_FMT_ARGB8888:
		le32(p, 0x5a000000u | rgb[0] << 16 | rgb[1] << 8 | rgb[2]);
		return 4;
	case DISP_FMT_XBGR8888:		/* R, G, B, X */
	case DISP_FMT_ABGR8888:
		le32(p, 0xa5000000u | rgb[2] << 16 | rgb[1] << 8 | rgb[0]);
		return 4;
	case DISP_FMT_RGB888:		/* B, G, R */
		p[0] = rgb[2];
		p[1] = rgb[1];
		p[2] = rgb[0];
		return 3;
	case DISP_FMT_BGR888:		/* R, G, B */
		memcpy(p, rgb, 3);
		return 3;
	case DISP_FMT_RGB565:
		r = rgb[0] >> 3;
		g = rgb[1] >> 2;
		b = rgb[2] >> 3;
		p[0] = (uint8_t)(g << 5 | b);
		p[1] = (uint8_t)(r << 3 | g >> 3);
		show[0] = (uint8_t)(r << 3 | r >> 2);
		show[1] = (uint8_t)(g << 2 | g >> 4);
		show[2] = (uint8_t)(b << 3 | b >> 2);
		return 2;
	case DISP_FMT_XRGB2101010:	/* 10 bits: the 8 and their top 2 */
		r = (uint32_t)rgb[0] << 2 | rgb[0] >> 6;
		g = (uint32_t)rgb[1] << 2 | rgb[1] >> 6;
		b = (uint32_t)rgb[2] << 2 | rgb[2] >> 6;
		le32(p, 3u << 30 | r << 20 | g << 10 | b);
		return 4;
	case DISP_FMT_ARGB2101010:	/* 10 bits: the 8 and 2 low ones */
		r = (uint32_t)rgb[0] << 2 | 1;
		g = (uint32_t)rgb[1] << 2 | 2;
		b = (uint32_t)rgb[2] << 2 | 3;
		le32(p, 1u << 30 | r << 20 | g << 10 | b);
		return 4;
	case DISP_FMT_XBGR2101010:	/* X, B, G, R from the top */
	case DISP_FMT_ABGR2101010:
		r = (uint32_t)rgb[0] << 2 | 2;
		g = (uint32_t)rgb[1] << 2 | 3;
		b = (uint32_t)rgb[2] << 2 | 1;
		le32(p, (fourcc == DISP_FMT_ABGR2101010 ? 0u : 3u) << 30 |
		     b << 20 | g << 10 | r);
		return 4;
	}
	return 0;
}

#define CW	23	/* the buffer's width and height */
#define CH	13
#define PITCH	(CW * 4 + 9)
#define VX	3	/* the window a mode shows */
#define VY	2
#define VW	17
#define VH	9

TEST(rgb24_every_format)
{
	static const uint32_t formats[] = {
		DISP_FMT_XRGB8888, DISP_FMT_ARGB8888, DISP_FMT_XBGR8888,
		DISP_FMT_ABGR8888, DISP_FMT_RGB888, DISP_FMT_BGR888,
		DISP_FMT_RGB565, DISP_FMT_XRGB2101010, DISP_FMT_ARGB2101010,
		DISP_FMT_XBGR2101010, DISP_FMT_ABGR2101010,
	};
	static uint8_t fb[PITCH * CH + 7], want[VW * VH * 3];
	uint8_t rgb[3], show[3], row[VW * 3];
	uint32_t f, x, y, cpp = 0;
	unsigned int i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		f = formats[i];
		memset(fb, 0xee, sizeof(fb));
		for (y = 0; y < CH; y++)
			for (x = 0; x < CW; x++) {
				picture(x, y, rgb);
				cpp = encode(f, rgb, fb + 7 + y * PITCH +
					     x * disp_rgb24_cpp(f), show);
				if (x >= VX && x < VX + VW &&
				    y >= VY && y < VY + VH)
					memcpy(want + ((y - VY) * VW +
						       x - VX) * 3, show, 3);
			}
		ASSERT_EQ(cpp, disp_rgb24_cpp(f));
		/* Each row of the window converted whole */
		for (y = 0; y < VH; y++) {
			disp_rgb24_row(f, fb + 7 + (VY + y) * PITCH + VX * cpp,
				       VW, row);
			EXPECT_EQ(0, memcmp(row, want + y * VW * 3, VW * 3)) {
				TH_LOG("format %.4s: row %u differs",
				       (char *)&f, VY + y);
			}
		}
	}
}

/* RGB565's extremes widen to 0 and 255; an unknown format writes nothing. */
TEST(rgb24_extremes_and_unknown)
{
	uint8_t white[2] = { 0xff, 0xff }, black[2] = { 0, 0 };
	uint8_t out[3] = { 1, 2, 3 };

	disp_rgb24_row(DISP_FMT_RGB565, white, 1, out);
	EXPECT_EQ(0xff, out[0]);
	EXPECT_EQ(0xff, out[1]);
	EXPECT_EQ(0xff, out[2]);
	disp_rgb24_row(DISP_FMT_RGB565, black, 1, out);
	EXPECT_EQ(0, out[0] | out[1] | out[2]);
	EXPECT_EQ(0, disp_rgb24_cpp(DISP_FMT_NV12));
	out[0] = 7;
	disp_rgb24_row(DISP_FMT_NV12, white, 1, out);
	EXPECT_EQ(7, out[0]);
}

TEST_HARNESS_MAIN
