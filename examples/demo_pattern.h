/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdmabuf demo: the test picture and the hash both ends agree on.
 *
 * demo_producer (guest) draws frame @seq with demo_draw(); importer_demo
 * (host) redraws the same frame row by row with demo_draw_row() and
 * compares it byte for byte with what it reads through its own mapping
 * of the guest's pages (or, with --check-png, with a PNG of the frame).
 * Everything here is a pure function of its arguments: no globals, no
 * floating point, no libc state.
 *
 * The buffers carry the library's image metadata (struct
 * virtio_vdmabuf_image): DEMO_WIDTH x DEMO_HEIGHT XR24, linear, stride
 * DEMO_STRIDE.  The host recognises the demo's buffers by exactly that.
 *
 * The picture: eight colour bars that scroll sideways, a grey ramp at the
 * bottom, a square that bounces around the frame and the frame number in
 * big blocky digits in the top left corner.
 */
#ifndef VDMABUF_DEMO_PATTERN_H
#define VDMABUF_DEMO_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define DEMO_WIDTH	1920
#define DEMO_HEIGHT	1080
#define DEMO_CPP	4			/* XRGB8888 */
#define DEMO_STRIDE	(DEMO_WIDTH * DEMO_CPP)	/* 7680 */
#define DEMO_BUFFERS	3

#define DEMO_FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | \
	 ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define DEMO_FOURCC_XRGB8888	DEMO_FOURCC('X', 'R', '2', '4')
#define DEMO_MOD_LINEAR		0ULL

/* 64-bit FNV-1a */
#define FNV1A64_INIT	0xcbf29ce484222325ULL
#define FNV1A64_PRIME	0x00000100000001b3ULL

static inline uint64_t fnv1a64_update(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV1A64_PRIME;
	}
	return h;
}

static inline uint64_t fnv1a64(const void *data, size_t len)
{
	return fnv1a64_update(FNV1A64_INIT, data, len);
}

/* Digits 0-9 in a 3x5 grid, one row per 3 bits, MSB = left column. */
static const uint16_t demo_font[10] = {
	0x7b6f, /* 0: 111 101 101 101 111 */
	0x2c97, /* 1: 010 110 010 010 111 */
	0x73e7, /* 2: 111 001 111 100 111 */
	0x73cf, /* 3: 111 001 111 001 111 */
	0x5bc9, /* 4: 101 101 111 001 001 */
	0x79cf, /* 5: 111 100 111 001 111 */
	0x79ef, /* 6: 111 100 111 101 111 */
	0x7249, /* 7: 111 001 001 001 001 */
	0x7bef, /* 8: 111 101 111 101 111 */
	0x7bcf, /* 9: 111 101 111 001 111 */
};

#define DEMO_DIGITS	8	/* frame numbers up to 99999999 */
#define DEMO_BLOCK	24	/* pixels per font cell */
#define DEMO_DIGIT_W	(4 * DEMO_BLOCK)	/* 3 cells + 1 cell gap */
#define DEMO_TEXT_X	48
#define DEMO_TEXT_Y	48
#define DEMO_TEXT_PAD	DEMO_BLOCK
#define DEMO_SQUARE	160

static const uint32_t demo_bars[8] = {
	0xc0c0c0, 0xc0c000, 0x00c0c0, 0x00c000,
	0xc000c0, 0xc00000, 0x0000c0, 0x101010,
};

/* Position on a triangle wave 0..range..0 with the given period walk. */
static inline uint32_t demo_bounce(uint64_t t, uint32_t range)
{
	uint64_t p;

	if (!range)
		return 0;
	p = t % (2ULL * range);
	return p < range ? (uint32_t)p : (uint32_t)(2ULL * range - p);
}

/**
 * demo_draw_row() - draw row @y of frame @seq
 * @row: @w pixels of XRGB8888 (the X byte is written as zero)
 * @w: frame width in pixels
 * @h: frame height in pixels
 * @y: the row, 0 <= y < h
 * @seq: the frame's sequence number
 */
static inline void demo_draw_row(uint32_t *row, uint32_t w, uint32_t h,
				 uint32_t y, uint64_t seq)
{
	uint32_t sq = DEMO_SQUARE < w && DEMO_SQUARE < h ? DEMO_SQUARE : 0;
	uint32_t sx = demo_bounce(seq * 12, w - sq);
	uint32_t sy = demo_bounce(seq * 7, h - sq);
	uint32_t scroll = (uint32_t)((seq * 4) % (w ? w : 1));
	uint32_t bar_w = w / 8 ? w / 8 : 1;
	uint32_t ramp_y = h - h / 8;
	uint32_t text_h = 5 * DEMO_BLOCK;
	uint32_t x;

	/* Background: scrolling colour bars above a grey ramp. */
	for (x = 0; x < w; x++) {
		if (y >= ramp_y) {
			uint32_t g = (uint32_t)(((uint64_t)x * 255) /
						(w > 1 ? w - 1 : 1));

			row[x] = g << 16 | g << 8 | g;
		} else {
			uint32_t b = ((x + scroll) % w) / bar_w;

			row[x] = demo_bars[b < 8 ? b : 7];
		}
	}

	/* The bouncing square, its colour changing with the frame. */
	if (sq && y >= sy && y < sy + sq) {
		uint32_t c = 0x808080 ^ (uint32_t)((seq * 0x2f1d37) & 0xffffff);

		for (x = sx; x < sx + sq; x++)
			row[x] = (y - sy < 8 || sy + sq - y <= 8 ||
				  x - sx < 8 || sx + sq - x <= 8) ? 0xffffff : c;
	}

	/* The frame number on a black box, DEMO_DIGITS digits, zero-padded. */
	if (y >= DEMO_TEXT_Y - DEMO_TEXT_PAD &&
	    y < DEMO_TEXT_Y + text_h + DEMO_TEXT_PAD) {
		uint32_t x0 = DEMO_TEXT_X - DEMO_TEXT_PAD;
		uint32_t x1 = DEMO_TEXT_X + DEMO_DIGITS * DEMO_DIGIT_W;
		uint64_t n = seq;
		int d;

		if (x1 > w)
			x1 = w;
		for (x = x0; x < x1; x++)
			row[x] = 0;
		if (y < DEMO_TEXT_Y || y >= DEMO_TEXT_Y + text_h)
			return;
		for (d = DEMO_DIGITS - 1; d >= 0; d--) {
			uint32_t glyph = demo_font[n % 10];
			uint32_t cy = (y - DEMO_TEXT_Y) / DEMO_BLOCK;
			uint32_t bits = (glyph >> (3 * (4 - cy))) & 7;
			uint32_t dx = DEMO_TEXT_X + (uint32_t)d * DEMO_DIGIT_W;
			uint32_t cx;

			n /= 10;
			for (cx = 0; cx < 3; cx++) {
				uint32_t px;

				if (!(bits & (4 >> cx)))
					continue;
				for (px = 0; px < DEMO_BLOCK; px++)
					if (dx + cx * DEMO_BLOCK + px < w)
						row[dx + cx * DEMO_BLOCK + px] =
							0xffff00;
			}
		}
	}
}

/**
 * demo_draw() - draw frame @seq into a whole buffer
 * @px: first pixel of the buffer
 * @w: width in pixels
 * @h: height in rows
 * @stride: bytes per row, at least @w * 4 and a multiple of 4
 * @seq: the frame's sequence number
 *
 * Bytes between @w * 4 and @stride in each row are left alone.
 */
static inline void demo_draw(uint32_t *px, uint32_t w, uint32_t h,
			     uint32_t stride, uint64_t seq)
{
	uint32_t y;

	for (y = 0; y < h; y++)
		demo_draw_row(px + (size_t)y * (stride / 4), w, h, y, seq);
}

#endif /* VDMABUF_DEMO_PATTERN_H */
