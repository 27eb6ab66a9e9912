// SPDX-License-Identifier: GPL-2.0
/*
 * importer_demo: the host (L1) half of the vdmabuf demo.
 *
 * Gets an importer fd from QEMU's importer socket, imports every buffer
 * demo_producer exports in the guest, and for every PRESENTED frame checks
 * that the bytes it reads through its own mapping of the guest's pages are
 * exactly the picture demo_draw() makes for that frame number, then
 * answers FRAME_DONE.  Frames of other exports are acknowledged unchecked.
 *
 * usage: importer_demo --socket PATH [--png PATH] [--tap PATH]
 *	  [--buffers N] [--wait SEC] [--timeout SEC]
 *
 * Ends when N (default 3) demo buffers were imported and all of them were
 * unexported and closed again, on SIGTERM/SIGINT, or after --timeout.
 * Exit: 0 if at least one frame was seen and every frame matched, 1 if a
 * frame differed or none was seen or the end was reached with a failure,
 * 2 on bad usage or when no importer fd could be had.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>

#include <png.h>

#include "demo_pattern.h"
#include "importer_common.h"

#define MAX_BUFS	64
#define MAX_DIM		16384
#define MAX_BAD_SEQS	8

struct demo_buf {
	uint8_t uuid[16];
	int fd;			/* -1: slot free */
	void *map;
	uint64_t size;
	struct demo_meta meta;
};

struct demo {
	int imp;
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
	struct tap tap;
	int fatal;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static struct demo_buf *find_buf(struct demo *d, const uint8_t *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (d->bufs[i].fd >= 0 && !memcmp(d->bufs[i].uuid, uuid, 16))
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

/* Is this metadata a demo buffer's?  Then check it makes sense. */
static int parse_meta(const struct vhost_vdmabuf_event *ev,
		      const void *payload, struct demo_meta *m)
{
	if (ev->payload_len < sizeof(*m))
		return 0;
	memcpy(m, payload, sizeof(*m));
	m->magic = le32toh(m->magic);
	if (m->magic != DEMO_META_MAGIC)
		return 0;
	m->version = le32toh(m->version);
	m->width = le32toh(m->width);
	m->height = le32toh(m->height);
	m->stride = le32toh(m->stride);
	m->fourcc = le32toh(m->fourcc);
	m->modifier = le64toh(m->modifier);
	if (m->version != DEMO_META_VERSION || m->fourcc != DEMO_FOURCC_XRGB8888 ||
	    m->modifier != DEMO_MOD_LINEAR || !m->width || !m->height ||
	    m->width > MAX_DIM || m->height > MAX_DIM || m->stride % 4 ||
	    m->stride < m->width * 4 ||
	    (uint64_t)m->stride * m->height > ev->size)
		return -EINVAL;
	return 1;
}

static int on_exported(struct demo *d, const struct vhost_vdmabuf_event *ev,
		       const void *payload)
{
	struct demo_buf *b = NULL;
	struct demo_meta m;
	char us[37];
	uint64_t size = 0;
	int i, ret, fd;

	ret = parse_meta(ev, payload, &m);
	if (ret == 0)
		return 0;	/* not ours */
	uuid_str(ev->uuid, us);
	if (ret < 0) {
		fprintf(stderr, "importer_demo: %s: bad demo metadata\n", us);
		d->bad_exports++;
		return 0;
	}
	if (find_buf(d, ev->uuid)) {
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
	fd = importer_import(d->imp, ev->uuid, &size);
	if (fd < 0) {
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
	memcpy(b->uuid, ev->uuid, 16);
	b->fd = fd;
	b->size = size;
	b->meta = m;
	d->live++;
	d->imported++;
	d->bytes_per_frame = (uint64_t)m.stride * m.height;
	printf("importer_demo: imported %s: %u x %u stride %u XR24, %llu bytes\n",
	       us, m.width, m.height, m.stride, (unsigned long long)size);
	return 0;
}

/* Compare the buffer with demo_draw(seq); 0 if identical. */
static int check_frame(struct demo *d, struct demo_buf *b, uint64_t seq)
{
	const struct demo_meta *m = &b->meta;
	const uint8_t *p = b->map;
	uint32_t y, x;

	for (y = 0; y < m->height; y++) {
		const uint32_t *got = (const void *)(p + (size_t)y * m->stride);

		demo_draw_row(d->row, m->width, m->height, y, seq);
		if (!memcmp(got, d->row, (size_t)m->width * 4))
			continue;
		for (x = 0; x < m->width && got[x] == d->row[x]; x++)
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

static int on_presented(struct demo *d, const struct vhost_vdmabuf_event *ev,
			const void *payload)
{
	struct demo_buf *b = find_buf(d, ev->uuid);
	const struct demo_meta *m;
	uint32_t i, nr_rects;
	uint64_t t0;
	char us[37];
	int ok, ret;

	if (!b) {
		d->frames_foreign++;
		return importer_frame_done(d->imp, ev->uuid, ev->seq);
	}
	m = &b->meta;
	uuid_str(ev->uuid, us);
	d->frames_seen++;
	if (!d->first_seq || ev->seq < d->first_seq)
		d->first_seq = ev->seq;
	if (ev->seq > d->last_seq)
		d->last_seq = ev->seq;

	ok = 1;
	nr_rects = ev->payload_len / sizeof(struct virtio_vdmabuf_rect);
	if (ev->payload_len % sizeof(struct virtio_vdmabuf_rect))
		ok = 0;
	for (i = 0; ok && i < nr_rects; i++) {
		struct virtio_vdmabuf_rect r;

		memcpy(&r, (const char *)payload + i * sizeof(r), sizeof(r));
		if ((uint64_t)le32toh(r.x) + le32toh(r.width) > m->width ||
		    (uint64_t)le32toh(r.y) + le32toh(r.height) > m->height)
			ok = 0;
	}
	if (!ok)
		fprintf(stderr,
			"importer_demo: %s frame %llu: bad damage (%u bytes)\n",
			us, (unsigned long long)ev->seq, ev->payload_len);

	t0 = now_ns();
	ret = dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (ret) {
		fprintf(stderr, "importer_demo: %s: DMA_BUF_IOCTL_SYNC start: %s\n",
			us, strerror(-ret));
		ok = 0;
	} else {
		if (check_frame(d, b, ev->seq))
			ok = 0;
		if (d->keep_last && keep_frame(d, (size_t)m->stride * m->height)) {
			memcpy(d->last, b->map, (size_t)m->stride * m->height);
			d->last_w = m->width;
			d->last_h = m->height;
			d->last_stride = m->stride;
			d->last_frame_seq = ev->seq;
		}
		ret = dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		if (ret) {
			fprintf(stderr,
				"importer_demo: %s: DMA_BUF_IOCTL_SYNC end: %s\n",
				us, strerror(-ret));
			ok = 0;
		}
	}
	d->check_ns += now_ns() - t0;
	if (ok)
		d->frames_matched++;
	else if (d->nr_bad < MAX_BAD_SEQS)
		d->bad_seqs[d->nr_bad++] = ev->seq;
	return importer_frame_done(d->imp, ev->uuid, ev->seq);
}

static int on_event(void *ctx, const struct vhost_vdmabuf_event *ev,
		    const void *payload)
{
	struct demo *d = ctx;
	struct demo_buf *b;

	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		return on_exported(d, ev, payload);
	case VHOST_VDMABUF_EVENT_PRESENTED:
		return on_presented(d, ev, payload);
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		b = find_buf(d, ev->uuid);
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

static void usage(void)
{
	fprintf(stderr,
		"usage: importer_demo --socket PATH [--png PATH] [--tap PATH]\n"
		"                     [--buffers N] [--wait SEC] [--timeout SEC]\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *sock_path = NULL, *png_path = NULL, *tap_path = NULL;
	unsigned long wait_s = 300, timeout_s = 0;
	struct demo d = { .want_buffers = DEMO_BUFFERS };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t_start, deadline;
	sigset_t block, orig;
	void *evbuf;
	int c, i, ret, all_closed = 0, png_ok = -1;
	char line[160];

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
		default:
			usage();
		}
	}
	if (!sock_path || optind != argc)
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
	evbuf = aligned_alloc(8, EV_BUF_LEN);
	d.keep_last = !!png_path;
	if (!d.row || !evbuf) {
		fprintf(stderr, "importer_demo: out of memory\n");
		return 2;
	}

	d.imp = importer_connect(sock_path, wait_s * 1000);
	tap_result(&d.tap, d.imp >= 0, "importer_demo: got an importer fd from %s",
		   sock_path);
	if (d.imp < 0) {
		tap_close(&d.tap);
		return 2;
	}
	printf("importer_demo: connected to %s, waiting for demo buffers\n",
	       sock_path);

	t_start = now_ms();
	deadline = timeout_s ? t_start + timeout_s * 1000 : 0;
	while (!stop_signal) {
		struct pollfd pfd = { .fd = d.imp, .events = POLLIN };
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
		ret = importer_read_events(d.imp, evbuf, on_event, &d);
		if (ret < 0) {
			d.fatal = 1;
			break;
		}
		if (!ret && (pfd.revents & POLLHUP)) {
			fprintf(stderr, "importer_demo: importer fd hung up\n");
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
	close(d.imp);

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
	free(evbuf);

	if (d.fatal)
		return 1;
	return d.frames_seen && d.frames_matched == d.frames_seen &&
	       png_ok != 0 ? 0 : 1;
}
