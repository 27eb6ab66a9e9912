// SPDX-License-Identifier: GPL-2.0
/*
 * importer_demo: the host (L1) half of the vdmabuf demo.
 *
 * Built on libvdmabuf.  Gets an importer fd from QEMU's importer socket,
 * imports every buffer demo_producer exports in the guest (recognised by
 * its image metadata: 1920x1080 XR24, linear), and for every PRESENTED
 * frame checks that the bytes it reads through its own mapping of the
 * guest's pages are exactly the picture demo_draw() makes for that frame
 * number, then answers FRAME_DONE.  Every other export is left alone and
 * its frames are acknowledged unchecked.
 *
 * usage: importer_demo --socket PATH [--png PATH] [--tap PATH]
 *	  [--buffers N] [--wait SEC] [--timeout SEC]
 *	  [--qmp PATH --screendump FILE --screendump-seq N [--device ID]]
 *	  importer_demo --check-png FILE --seq N
 *
 * Ends when N (default 3) demo buffers were imported and all of them were
 * unexported and closed again, on SIGTERM/SIGINT, or after --timeout.
 * Exit: 0 if at least one frame was seen and every frame matched, 1 if a
 * frame differed or none was seen or the end was reached with a failure,
 * 2 on bad usage or when no importer fd could be had.
 *
 * With --screendump, when frame N is presented, and before answering it,
 * importer_demo asks QEMU (QMP socket --qmp) for a PNG screendump of the
 * display of device ID (default vd0, head 0), which shows that frame.
 *
 * --check-png compares a PNG (8-bit RGB or RGBA, as `vdmabuf snapshot`
 * writes) pixel by pixel with the demo's picture of frame N, prints
 * "check-png: FILE: frame N: WxH, M of W*H pixels differ" and exits 0 if
 * none does, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>
#include <png.h>

#include <vdmabuf/vdmabuf.h>

#include "demo_pattern.h"
#include "example_common.h"
#include "qmp_client.h"

#define MAX_BUFS	64
#define MAX_DIM		16384
#define MAX_BAD_SEQS	8

struct demo_buf {
	struct vdmabuf_uuid uuid;
	int fd;			/* -1: slot free */
	void *map;
	uint64_t size;
	/* The image, from the export's metadata. */
	uint32_t width, height, stride;
	uint64_t offset;
};

struct demo {
	struct vdmabuf_importer *imp;
	struct demo_buf bufs[MAX_BUFS];
	int live;
	int imported;
	int bad_exports;
	int want_buffers;
	uint64_t frames_seen;
	uint64_t frames_matched;
	uint64_t frames_foreign;
	uint64_t first_seq, last_seq;
	uint64_t bad_seqs[MAX_BAD_SEQS];
	int nr_bad;
	uint64_t bytes_per_frame;
	uint64_t check_ns;
	uint32_t *row;
	/* The newest frame, as read from the buffer, for --png. */
	int keep_last;
	uint8_t *last;
	size_t last_cap;
	uint32_t last_w, last_h, last_stride;
	uint64_t last_frame_seq;
	/* --screendump: QEMU's picture of frame dump_seq */
	const char *qmp_path;
	const char *dump_path;
	const char *dump_device;
	uint64_t dump_seq;
	struct tap tap;
	int fatal;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static struct demo_buf *find_buf(struct demo *d,
				 const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (d->bufs[i].fd >= 0 &&
		    !memcmp(&d->bufs[i].uuid, uuid, sizeof(*uuid)))
			return &d->bufs[i];
	return NULL;
}

static void drop_buf(struct demo *d, struct demo_buf *b)
{
	if (b->map)
		munmap(b->map, b->size);
	close(b->fd);
	b->map = NULL;
	b->fd = -1;
	d->live--;
}

/*
 * Is this export one of the demo's?  Its metadata must be an image that
 * fits the buffer, exactly DEMO_WIDTH x DEMO_HEIGHT XR24, linear, top row
 * first, with rows demo_draw_row() can be compared with; anything else
 * (other metadata, other images, malformed ones) is someone else's.
 */
static int is_demo_image(const struct vdmabuf_host_event *ev,
			 struct vdmabuf_image *img)
{
	if (vdmabuf_image_decode(ev->payload, ev->payload_len, ev->size, img))
		return 0;
	return img->width == DEMO_WIDTH && img->height == DEMO_HEIGHT &&
	       img->fourcc == DEMO_FOURCC_XRGB8888 &&
	       img->modifier == DEMO_MOD_LINEAR && img->nr_planes == 1 &&
	       !img->flags && !(img->planes[0].stride % 4) &&
	       !(img->planes[0].offset % 4);
}

/* Answer FRAME_DONE for the frame of @ev: 0 or -errno (with a message). */
static int frame_done(struct demo *d, const struct vdmabuf_host_event *ev)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	ret = vdmabuf_importer_frame_done(d->imp, &ev->uuid, ev->frame);
	if (ret)
		fprintf(stderr, "importer_demo: FRAME_DONE %s seq %llu: %s\n",
			vdmabuf_uuid_format(&ev->uuid, us),
			(unsigned long long)ev->seq, strerror(-ret));
	return ret;
}

static int on_exported(struct demo *d, const struct vdmabuf_host_event *ev)
{
	struct demo_buf *b = NULL;
	struct vdmabuf_image img;
	char us[VDMABUF_UUID_STR_LEN];
	uint64_t size = 0;
	int i, fd;

	if (!is_demo_image(ev, &img))
		return 0;	/* not ours */
	vdmabuf_uuid_format(&ev->uuid, us);
	if (find_buf(d, &ev->uuid)) {
		fprintf(stderr, "importer_demo: %s: EXPORTED twice\n", us);
		d->bad_exports++;
		return 0;
	}
	for (i = 0; i < MAX_BUFS && !b; i++)
		if (d->bufs[i].fd < 0)
			b = &d->bufs[i];
	if (!b) {
		fprintf(stderr, "importer_demo: %s: more than %d buffers\n",
			us, MAX_BUFS);
		d->bad_exports++;
		return 0;
	}
	fd = vdmabuf_importer_import(d->imp, &ev->uuid, &size);
	if (fd < 0) {
		fprintf(stderr, "importer_demo: %s: import: %s\n", us,
			strerror(-fd));
		d->bad_exports++;
		return 0;
	}
	if (size != ev->size) {
		fprintf(stderr,
			"importer_demo: %s: IMPORT size %llu, EXPORTED size %llu\n",
			us, (unsigned long long)size,
			(unsigned long long)ev->size);
		close(fd);
		d->bad_exports++;
		return 0;
	}
	b->map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (b->map == MAP_FAILED) {
		fprintf(stderr, "importer_demo: %s: mmap of %llu bytes: %s\n",
			us, (unsigned long long)size, strerror(errno));
		b->map = NULL;
		close(fd);
		d->bad_exports++;
		return 0;
	}
	b->uuid = ev->uuid;
	b->fd = fd;
	b->size = size;
	b->width = img.width;
	b->height = img.height;
	b->stride = img.planes[0].stride;
	b->offset = img.planes[0].offset;
	d->live++;
	d->imported++;
	d->bytes_per_frame = (uint64_t)b->stride * b->height;
	printf("importer_demo: imported %s: %u x %u stride %u XR24, %llu bytes\n",
	       us, b->width, b->height, b->stride, (unsigned long long)size);
	return 0;
}

/* Compare the buffer with demo_draw(seq); 0 if identical. */
static int check_frame(struct demo *d, struct demo_buf *b, uint64_t seq)
{
	const uint8_t *p = (const uint8_t *)b->map + b->offset;
	uint32_t y, x;

	for (y = 0; y < b->height; y++) {
		const uint32_t *got = (const void *)(p + (size_t)y * b->stride);

		demo_draw_row(d->row, b->width, b->height, y, seq);
		if (!memcmp(got, d->row, (size_t)b->width * 4))
			continue;
		for (x = 0; x < b->width && got[x] == d->row[x]; x++)
			;
		fprintf(stderr,
			"importer_demo: frame %llu differs at (%u, %u): got 0x%08x, expected 0x%08x\n",
			(unsigned long long)seq, x, y, got[x], d->row[x]);
		return -1;
	}
	return 0;
}

/* Room for a copy of the newest frame; false (and a message) if none. */
static int keep_frame(struct demo *d, size_t bytes)
{
	uint8_t *p;

	if (bytes <= d->last_cap)
		return 1;
	p = realloc(d->last, bytes);
	if (!p) {
		fprintf(stderr, "importer_demo: no memory to keep a %zu byte frame\n",
			bytes);
		return 0;
	}
	d->last = p;
	d->last_cap = bytes;
	return 1;
}

/*
 * QEMU's screendump of the frame its display shows now, the one being
 * checked (it is not answered yet).  A minute at most, SIGTERM held.
 */
static void screendump(struct demo *d, uint64_t seq)
{
	static struct qmp q;
	char err[512];
	int ret;

	qmp_init(&q, d->qmp_path, 60000, NULL, NULL);
	ret = qmp_screendump(&q, d->dump_device, 0, d->dump_path, "png", err,
			     sizeof(err));
	qmp_close(&q);
	if (ret)
		fprintf(stderr, "importer_demo: screendump: %s\n", err);
	tap_result(&d->tap, !ret,
		   "importer_demo: QEMU's screendump of %s while it shows frame %llu: %s",
		   d->dump_device, (unsigned long long)seq, d->dump_path);
}

static int on_presented(struct demo *d, const struct vdmabuf_host_event *ev)
{
	struct demo_buf *b = find_buf(d, &ev->uuid);
	size_t bytes;
	uint64_t t0;
	uint32_t i;
	char us[VDMABUF_UUID_STR_LEN];
	int ok, ret;

	if (!b) {
		d->frames_foreign++;
		return frame_done(d, ev);
	}
	vdmabuf_uuid_format(&ev->uuid, us);
	d->frames_seen++;
	if (!d->first_seq || ev->seq < d->first_seq)
		d->first_seq = ev->seq;
	if (ev->seq > d->last_seq)
		d->last_seq = ev->seq;

	ok = 1;
	for (i = 0; ok && i < ev->nr_rects; i++) {
		struct vdmabuf_rect r;

		if (vdmabuf_event_damage(ev, i, &r) ||
		    (uint64_t)r.x + r.width > b->width ||
		    (uint64_t)r.y + r.height > b->height)
			ok = 0;
	}
	if (!ok)
		fprintf(stderr,
			"importer_demo: %s frame %llu: bad damage (%u bytes)\n",
			us, (unsigned long long)ev->seq, ev->payload_len);

	t0 = now_ns();
	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (ret) {
		fprintf(stderr, "importer_demo: %s: DMA_BUF_IOCTL_SYNC start: %s\n",
			us, strerror(-ret));
		ok = 0;
	} else {
		if (check_frame(d, b, ev->seq))
			ok = 0;
		bytes = (size_t)b->stride * b->height;
		if (d->keep_last && keep_frame(d, bytes)) {
			memcpy(d->last, (const uint8_t *)b->map + b->offset,
			       bytes);
			d->last_w = b->width;
			d->last_h = b->height;
			d->last_stride = b->stride;
			d->last_frame_seq = ev->seq;
		}
		ret = vdmabuf_dmabuf_sync(b->fd,
					  DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		if (ret) {
			fprintf(stderr,
				"importer_demo: %s: DMA_BUF_IOCTL_SYNC end: %s\n",
				us, strerror(-ret));
			ok = 0;
		}
	}
	d->check_ns += now_ns() - t0;
	if (d->dump_path && ev->seq == d->dump_seq)
		screendump(d, ev->seq);
	if (ok)
		d->frames_matched++;
	else if (d->nr_bad < MAX_BAD_SEQS)
		d->bad_seqs[d->nr_bad++] = ev->seq;
	return frame_done(d, ev);
}

/* For importer_drain(): @ctx is the struct demo. */
static int on_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct demo *d = ctx;
	struct demo_buf *b;

	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		return on_exported(d, ev);
	case VHOST_VDMABUF_EVENT_PRESENTED:
		return on_presented(d, ev);
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		b = find_buf(d, &ev->uuid);
		if (b)
			drop_buf(d, b);
		return 0;
	default:
		fprintf(stderr, "importer_demo: unknown event type %u\n",
			ev->type);
		return 0;
	}
}

static int write_png(struct demo *d, const char *path)
{
	png_structp png = NULL;
	png_infop info = NULL;
	uint8_t *rgb = NULL;
	FILE *f;
	uint32_t x, y;
	volatile int ret = -1;

	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "importer_demo: open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	rgb = malloc((size_t)d->last_w * 3);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (png)
		info = png_create_info_struct(png);
	if (!rgb || !png || !info) {
		fprintf(stderr, "importer_demo: out of memory for PNG\n");
		goto out;
	}
	if (setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "importer_demo: libpng failed writing %s\n",
			path);
		goto out;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, d->last_w, d->last_h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 1);
	png_write_info(png, info);
	for (y = 0; y < d->last_h; y++) {
		const uint32_t *src = (const void *)(d->last +
						     (size_t)y * d->last_stride);

		for (x = 0; x < d->last_w; x++) {
			rgb[3 * x] = src[x] >> 16;
			rgb[3 * x + 1] = src[x] >> 8;
			rgb[3 * x + 2] = src[x];
		}
		png_write_row(png, rgb);
	}
	png_write_end(png, NULL);
	ret = 0;
out:
	png_destroy_write_struct(&png, &info);
	free(rgb);
	if (fclose(f) && !ret) {
		fprintf(stderr, "importer_demo: close %s: %s\n", path,
			strerror(errno));
		ret = -1;
	}
	return ret;
}

/*
 * Decode the PNG @path, 8-bit RGB or RGBA, into *@data: *@h rows of *@w
 * pixels of *@ch bytes, packed, top row first.  0, or -1 with a message.
 */
static int read_png(const char *path, uint32_t *w, uint32_t *h,
		    uint32_t *ch, uint8_t **data)
{
	png_structp png = NULL;
	png_infop info = NULL;
	uint8_t *volatile pixels = NULL;
	png_bytep * volatile rows = NULL;
	volatile int ret = -1;
	png_uint_32 pw, ph, y;
	int depth, ctype, nch;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "importer_demo: open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (png)
		info = png_create_info_struct(png);
	if (!png || !info) {
		fprintf(stderr, "importer_demo: out of memory for PNG\n");
		goto out;
	}
	if (setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "importer_demo: libpng failed reading %s\n",
			path);
		goto out;
	}
	png_init_io(png, f);
	png_read_info(png, info);
	png_get_IHDR(png, info, &pw, &ph, &depth, &ctype, NULL, NULL, NULL);
	if (depth != 8 ||
	    (ctype != PNG_COLOR_TYPE_RGB && ctype != PNG_COLOR_TYPE_RGBA)) {
		fprintf(stderr,
			"importer_demo: %s: bit depth %d, colour type %d: not 8-bit RGB or RGBA\n",
			path, depth, ctype);
		goto out;
	}
	if (!pw || !ph || pw > MAX_DIM || ph > MAX_DIM) {
		fprintf(stderr, "importer_demo: %s: %ux%u pixels\n", path,
			(unsigned int)pw, (unsigned int)ph);
		goto out;
	}
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	nch = ctype == PNG_COLOR_TYPE_RGBA ? 4 : 3;
	pixels = malloc((size_t)pw * nch * ph);
	rows = malloc(ph * sizeof(*rows));
	if (!pixels || !rows) {
		fprintf(stderr, "importer_demo: out of memory for %ux%u pixels\n",
			(unsigned int)pw, (unsigned int)ph);
		goto out;
	}
	for (y = 0; y < ph; y++)
		rows[y] = pixels + (size_t)y * pw * nch;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	*w = pw;
	*h = ph;
	*ch = nch;
	*data = pixels;
	pixels = NULL;
	ret = 0;
out:
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	free(pixels);
	fclose(f);
	return ret;
}

/*
 * --check-png: compare every pixel of the PNG @path with demo_draw_row()'s
 * picture of frame @seq.  The PNG's alpha, if any, is not compared: the
 * demo's X byte carries none.  Exit status: 0 if every pixel matches.
 */
static int check_png(const char *path, uint64_t seq)
{
	uint32_t w, h, ch, x, y, rows;
	uint64_t differ = 0;
	uint32_t *want;
	uint8_t *data;

	if (read_png(path, &w, &h, &ch, &data))
		return 1;
	rows = h;
	want = malloc((size_t)w * sizeof(*want));
	if (!want) {
		fprintf(stderr, "importer_demo: out of memory\n");
		free(data);
		return 1;
	}
	if (w != DEMO_WIDTH || h != DEMO_HEIGHT) {
		/* Not a frame of the demo: no pixel is the demo's. */
		fprintf(stderr, "importer_demo: %s is %ux%u, the demo's frames %ux%u\n",
			path, w, h, DEMO_WIDTH, DEMO_HEIGHT);
		differ = (uint64_t)w * h;
		rows = 0;
	}
	for (y = 0; y < rows; y++) {
		const uint8_t *p = data + (size_t)y * w * ch;

		demo_draw_row(want, w, h, y, seq);
		for (x = 0; x < w; x++, p += ch) {
			uint32_t got = (uint32_t)p[0] << 16 |
				       (uint32_t)p[1] << 8 | p[2];

			if (got == (want[x] & 0xffffff))
				continue;
			if (!differ)
				fprintf(stderr,
					"importer_demo: %s: first differing pixel (%u, %u): got 0x%06x, expected 0x%06x\n",
					path, x, y, got, want[x] & 0xffffff);
			differ++;
		}
	}
	printf("check-png: %s: frame %llu: %ux%u, %llu of %llu pixels differ\n",
	       path, (unsigned long long)seq, w, h, (unsigned long long)differ,
	       (unsigned long long)w * h);
	free(want);
	free(data);
	return differ ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: importer_demo --socket PATH [--png PATH] [--tap PATH]\n"
		"                     [--buffers N] [--wait SEC] [--timeout SEC]\n"
		"                     [--qmp PATH --screendump FILE --screendump-seq N\n"
		"                      [--device ID]]\n"
		"       importer_demo --check-png FILE --seq N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "png", required_argument, NULL, 'p' },
		{ "tap", required_argument, NULL, 't' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "check-png", required_argument, NULL, 'c' },
		{ "seq", required_argument, NULL, 'S' },
		{ "qmp", required_argument, NULL, 'q' },
		{ "screendump", required_argument, NULL, 'D' },
		{ "screendump-seq", required_argument, NULL, 'N' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *sock_path = NULL, *png_path = NULL, *tap_path = NULL;
	const char *check_path = NULL, *seq_arg = NULL;
	unsigned long wait_s = 300, timeout_s = 0;
	struct demo d = { .want_buffers = DEMO_BUFFERS, .dump_device = "vd0" };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t_start, deadline;
	sigset_t block, orig;
	int c, i, ret, all_closed = 0, png_ok = -1;
	char line[160], *end;

	while ((c = getopt_long(argc, argv, "s:p:t:b:w:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'p':
			png_path = optarg;
			break;
		case 't':
			tap_path = optarg;
			break;
		case 'b':
			d.want_buffers = atoi(optarg);
			if (d.want_buffers < 1 || d.want_buffers > MAX_BUFS)
				usage();
			break;
		case 'w':
			wait_s = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			timeout_s = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			check_path = optarg;
			break;
		case 'S':
			seq_arg = optarg;
			break;
		case 'q':
			d.qmp_path = optarg;
			break;
		case 'D':
			d.dump_path = optarg;
			break;
		case 'N':
			d.dump_seq = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			d.dump_device = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (check_path || seq_arg) {
		unsigned long long seq;

		if (!check_path || !seq_arg || sock_path)
			usage();
		errno = 0;
		seq = strtoull(seq_arg, &end, 0);
		if (errno || end == seq_arg || *end)
			usage();
		return check_png(check_path, seq);
	}
	if (!sock_path || !d.dump_path != !d.qmp_path ||
	    !d.dump_path != !d.dump_seq)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < MAX_BUFS; i++)
		d.bufs[i].fd = -1;
	if (tap_open(&d.tap, tap_path))
		return 2;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &orig);

	d.row = malloc(MAX_DIM * 4);
	d.keep_last = !!png_path;
	if (!d.row) {
		fprintf(stderr, "importer_demo: out of memory\n");
		return 2;
	}

	/* Wait up to --wait for QEMU to create the socket. */
	ret = vdmabuf_importer_connect(sock_path, wait_s > INT_MAX / 1000 ?
				       INT_MAX : (int)wait_s * 1000, &d.imp);
	if (ret)
		fprintf(stderr, "importer_demo: no importer fd from %s: %s\n",
			sock_path, strerror(-ret));
	/*
	 * Every frame waits for us, the first of each buffer included: the
	 * producer must not draw into a frame while we check it.
	 */
	if (!ret) {
		ret = vdmabuf_importer_frames(d.imp, NULL,
					      VHOST_VDMABUF_FRAMES_JOIN);
		if (ret)
			fprintf(stderr, "importer_demo: join all frames: %s\n",
				strerror(-ret));
	}
	tap_result(&d.tap, !ret, "importer_demo: got an importer fd from %s",
		   sock_path);
	if (ret) {
		tap_close(&d.tap);
		return 2;
	}
	printf("importer_demo: connected to %s, waiting for demo buffers\n",
	       sock_path);

	t_start = now_ms();
	deadline = timeout_s ? t_start + timeout_s * 1000 : 0;
	while (!stop_signal) {
		struct pollfd pfd = {
			.fd = vdmabuf_importer_fd(d.imp), .events = POLLIN,
		};
		struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };

		if (d.imported >= d.want_buffers && !d.live) {
			all_closed = 1;
			break;
		}
		if (deadline && now_ms() >= deadline) {
			fprintf(stderr, "importer_demo: --timeout %lu s reached\n",
				timeout_s);
			break;
		}
		ret = ppoll(&pfd, 1, &ts, &orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror("importer_demo: ppoll");
			d.fatal = 1;
			break;
		}
		if (!ret)
			continue;
		if (pfd.revents & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "importer_demo: importer fd error (revents 0x%x)\n",
				pfd.revents);
			d.fatal = 1;
			break;
		}
		ret = importer_drain(d.imp, "importer_demo", on_event, &d);
		if (ret == -ENODEV || (!ret && (pfd.revents & POLLHUP))) {
			fprintf(stderr, "importer_demo: importer fd hung up\n");
			break;
		}
		if (ret) {
			d.fatal = 1;
			break;
		}
	}
	if (stop_signal)
		printf("importer_demo: stopping on signal %d\n", (int)stop_signal);

	tap_result(&d.tap, d.imported >= 1 && !d.bad_exports,
		   "importer_demo: imported %d demo buffer(s) of %llu bytes per frame, %d bad export(s)",
		   d.imported, (unsigned long long)d.bytes_per_frame,
		   d.bad_exports);
	if (d.frames_seen && d.frames_matched == d.frames_seen) {
		tap_result(&d.tap, 1,
			   "host saw exactly the guest's pixels for frame %llu..%llu (%llu frames)",
			   (unsigned long long)d.first_seq,
			   (unsigned long long)d.last_seq,
			   (unsigned long long)d.frames_seen);
	} else {
		int n = 0;

		line[0] = '\0';
		for (i = 0; i < d.nr_bad; i++)
			n += snprintf(line + n, sizeof(line) - n, " %llu",
				      (unsigned long long)d.bad_seqs[i]);
		tap_result(&d.tap, 0,
			   "host saw exactly the guest's pixels in %llu of %llu frames (first differing:%s)",
			   (unsigned long long)d.frames_matched,
			   (unsigned long long)d.frames_seen,
			   d.nr_bad ? line : " none");
	}
	tap_result(&d.tap, all_closed,
		   "importer_demo: every imported buffer was unexported and closed (%d still open)",
		   d.live);
	if (png_path) {
		if (d.last_frame_seq)
			png_ok = write_png(&d, png_path) == 0;
		else
			png_ok = 0;
		tap_result(&d.tap, png_ok, "importer_demo: wrote frame %llu as %s",
			   (unsigned long long)d.last_frame_seq, png_path);
	}

	for (i = 0; i < MAX_BUFS; i++)
		if (d.bufs[i].fd >= 0)
			drop_buf(&d, &d.bufs[i]);
	vdmabuf_importer_close(d.imp);

	printf("importer_demo: %-22s %s\n", "stat", "value");
	printf("importer_demo: %-22s %llu\n", "frames seen",
	       (unsigned long long)d.frames_seen);
	printf("importer_demo: %-22s %llu\n", "frames matching",
	       (unsigned long long)d.frames_matched);
	printf("importer_demo: %-22s %llu\n", "other frames acked",
	       (unsigned long long)d.frames_foreign);
	printf("importer_demo: %-22s %d\n", "buffers", d.imported);
	printf("importer_demo: %-22s %llu\n", "bytes per frame",
	       (unsigned long long)d.bytes_per_frame);
	printf("importer_demo: %-22s %.2f\n", "mean check ms/frame",
	       d.frames_seen ? d.check_ns / 1e6 / d.frames_seen : 0.0);
	printf("importer_demo: %-22s %.1f\n", "run time s",
	       (now_ms() - t_start) / 1000.0);
	tap_close(&d.tap);
	free(d.last);
	free(d.row);

	if (d.fatal)
		return 1;
	return d.frames_seen && d.frames_matched == d.frames_seen &&
	       png_ok != 0 ? 0 : 1;
}
