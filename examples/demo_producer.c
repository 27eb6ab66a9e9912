// SPDX-License-Identifier: GPL-2.0
/*
 * demo_producer: the guest (L2) half of the vdmabuf demo.
 *
 * Built on libvdmabuf.  Allocates three 1920x1080 XRGB8888 buffers from
 * /dev/virtio-vdmabuf, exports each once with the library's image
 * metadata (vdmabuf_dev_export_image()), then draws N frames of
 * demo_draw() into whichever buffer the host is done with, presents each
 * and waits for its FRAME_DONE.  At the end it unexports everything and
 * waits for the RELEASED events.  importer_demo on the host checks every
 * frame byte for byte.
 *
 * usage: demo_producer [-n|--frames FRAMES] [-t FRAME_TIMEOUT_S]
 *	  [-d DEVICE]
 *
 * Output: TAP on stdout, then one "# stat value" line per statistic.
 * Exit: 0 if every PRESENT got its FRAME_DONE and every export its
 * RELEASED, 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>

#include <vdmabuf/vdmabuf.h>

#include "demo_pattern.h"
#include "example_common.h"

#define RELEASE_TIMEOUT_MS	60000
#define BUSY_RETRIES		100	/* EBUSY/ENOBUFS: read events, retry */
#define META_BYTES		sizeof(struct virtio_vdmabuf_image)
#define EXPORT_HDR_BYTES	40	/* struct virtio_vdmabuf_export_req */
#define RANGE_BYTES		16	/* struct virtio_vdmabuf_range */

struct pbuf {
	int fd;
	uint32_t *px;
	uint64_t size;
	struct vdmabuf_uuid uuid;
	uint32_t nr_ranges;
	int exported;
	int busy;		/* a frame is presented, no FRAME_DONE yet */
	uint64_t pending_seq;
	uint64_t t_present;
	int released;
};

struct producer {
	struct vdmabuf_dev *dev;
	struct pbuf b[DEMO_BUFFERS];
	uint64_t presented;
	uint64_t done;
	uint64_t replaced;
	uint64_t unexpected;
	uint64_t released;
	uint64_t lat_ns_sum;
	uint64_t lat_ns_max;
	uint64_t draw_ns_sum;
	int tap_n;
	int tap_failed;
};

static void __attribute__((format(printf, 3, 4)))
tap(struct producer *p, int ok, const char *fmt, ...)
{
	va_list ap;

	p->tap_n++;
	if (!ok)
		p->tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", p->tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static struct pbuf *find_buf(struct producer *p, const uint8_t *uuid)
{
	int i;

	for (i = 0; i < DEMO_BUFFERS; i++)
		if (p->b[i].exported && !memcmp(p->b[i].uuid.b, uuid, 16))
			return &p->b[i];
	return NULL;
}

static void handle_event(struct producer *p, const struct vdmabuf_event *ev)
{
	struct pbuf *b = find_buf(p, ev->uuid);
	struct vdmabuf_uuid u;
	char us[VDMABUF_UUID_STR_LEN];

	memcpy(u.b, ev->uuid, sizeof(u.b));
	vdmabuf_uuid_format(&u, us);
	if (!b) {
		fprintf(stderr, "demo_producer: event %u for unknown %s\n",
			ev->type, us);
		p->unexpected++;
		return;
	}
	switch (ev->type) {
	case VDMABUF_EVENT_FRAME_DONE:
		if (!b->busy || ev->seq != b->pending_seq) {
			fprintf(stderr,
				"demo_producer: FRAME_DONE %s seq %llu, pending %llu\n",
				us, (unsigned long long)ev->seq,
				b->busy ? (unsigned long long)b->pending_seq : 0ULL);
			p->unexpected++;
			return;
		}
		if (ev->flags & VDMABUF_EVENT_F_REPLACED)
			p->replaced++;
		{
			uint64_t lat = now_ns() - b->t_present;

			p->lat_ns_sum += lat;
			if (lat > p->lat_ns_max)
				p->lat_ns_max = lat;
		}
		b->busy = 0;
		p->done++;
		break;
	case VDMABUF_EVENT_RELEASED:
		if (b->released) {
			fprintf(stderr, "demo_producer: second RELEASED for %s\n",
				us);
			p->unexpected++;
			return;
		}
		if (b->busy) {
			fprintf(stderr,
				"demo_producer: RELEASED %s before FRAME_DONE of seq %llu\n",
				us, (unsigned long long)b->pending_seq);
			p->unexpected++;
		}
		b->released = 1;
		p->released++;
		break;
	default:
		fprintf(stderr, "demo_producer: unknown event type %u for %s\n",
			ev->type, us);
		p->unexpected++;
	}
}

/*
 * Wait up to @timeout_ms for events and handle all that are queued.
 * Return: events handled, or -errno on a read/poll error.
 */
static int pump_events(struct producer *p, int timeout_ms)
{
	struct vdmabuf_event ev;
	int ret, handled = 0;

	for (;;) {
		ret = vdmabuf_dev_next_event(p->dev, &ev,
					     handled ? 0 : timeout_ms);
		if (ret == -EAGAIN)
			return handled;
		if (ret) {
			fprintf(stderr, "demo_producer: reading events: %s\n",
				strerror(-ret));
			return ret;
		}
		handle_event(p, &ev);
		handled++;
	}
}

/*
 * After a call that may answer EBUSY/ENOBUFS until we read our events:
 * 1 when it should be tried again (the events were read), 0 when *@ret
 * is its result (a pump error replaces it).
 */
static int busy_retry(struct producer *p, int *ret, int *tries)
{
	int r;

	if ((*ret != -EBUSY && *ret != -ENOBUFS) || ++*tries >= BUSY_RETRIES)
		return 0;
	r = pump_events(p, 100);
	if (r < 0) {
		*ret = r;
		return 0;
	}
	return 1;
}

static int setup_buffer(struct producer *p, struct pbuf *b)
{
	uint64_t size = ((uint64_t)DEMO_STRIDE * DEMO_HEIGHT + 4095) & ~4095ULL;
	struct vdmabuf_exported ex;
	struct vdmabuf_image img;
	char us[VDMABUF_UUID_STR_LEN];
	int64_t need;
	int ret, tries = 0;

	need = vdmabuf_image_init(&img, DEMO_WIDTH, DEMO_HEIGHT,
				  DEMO_FOURCC_XRGB8888);
	if (need < 0) {
		fprintf(stderr, "demo_producer: vdmabuf_image_init: %s\n",
			strerror(-(int)need));
		return (int)need;
	}
	/* demo_draw() writes rows DEMO_STRIDE apart: say exactly that. */
	img.planes[0].stride = DEMO_STRIDE;

	ret = vdmabuf_dev_alloc(p->dev, size);
	if (ret < 0) {
		fprintf(stderr, "demo_producer: vdmabuf_dev_alloc %llu bytes: %s\n",
			(unsigned long long)size, strerror(-ret));
		return ret;
	}
	b->fd = ret;
	b->size = size;
	b->px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->px == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "demo_producer: mmap of the ALLOC buffer: %s\n",
			strerror(errno));
		b->px = NULL;
		return ret;
	}
	do {
		ret = vdmabuf_dev_export_image(p->dev, b->fd, &img, &ex);
	} while (busy_retry(p, &ret, &tries));
	if (ret) {
		fprintf(stderr, "demo_producer: vdmabuf_dev_export_image: %s\n",
			strerror(-ret));
		return ret;
	}
	if (ex.size != size) {
		fprintf(stderr, "demo_producer: EXPORT says size %llu, ALLOC %llu\n",
			(unsigned long long)ex.size, (unsigned long long)size);
		return -EPROTO;
	}
	b->uuid = ex.uuid;
	b->nr_ranges = ex.nr_ranges;
	b->exported = 1;
	printf("# exported %s: %llu bytes in %u range(s)\n",
	       vdmabuf_uuid_format(&b->uuid, us), (unsigned long long)size,
	       b->nr_ranges);
	return 0;
}

static int draw_frame(struct producer *p, struct pbuf *b, uint64_t seq)
{
	uint64_t t0 = now_ns();
	int ret;

	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	if (ret) {
		fprintf(stderr, "demo_producer: DMA_BUF_IOCTL_SYNC start: %s\n",
			strerror(-ret));
		return ret;
	}
	demo_draw(b->px, DEMO_WIDTH, DEMO_HEIGHT, DEMO_STRIDE, seq);
	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	if (ret) {
		fprintf(stderr, "demo_producer: DMA_BUF_IOCTL_SYNC end: %s\n",
			strerror(-ret));
		return ret;
	}
	p->draw_ns_sum += now_ns() - t0;
	return 0;
}

static int present(struct producer *p, struct pbuf *b, uint64_t seq)
{
	struct vdmabuf_rect damage = {
		.x = 0, .y = 0, .width = DEMO_WIDTH, .height = DEMO_HEIGHT,
	};
	int ret, tries = 0;

	b->busy = 1;
	b->pending_seq = seq;
	b->t_present = now_ns();
	do {
		ret = vdmabuf_dev_present(p->dev, &b->uuid, seq, &damage, 1);
	} while (busy_retry(p, &ret, &tries));
	if (ret) {
		fprintf(stderr, "demo_producer: vdmabuf_dev_present: %s\n",
			strerror(-ret));
		b->busy = 0;
		return ret;
	}
	p->presented++;
	return 0;
}

/* Wait until @pred holds or @timeout_ms passes; -ETIMEDOUT then. */
static int wait_until(struct producer *p, int (*pred)(struct producer *),
		      uint64_t timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ULL;
	int ret;

	while (!pred(p)) {
		uint64_t now = now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = pump_events(p, (int)((deadline - now) / 1000000 + 1));
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int any_free(struct producer *p)
{
	int i;

	for (i = 0; i < DEMO_BUFFERS; i++)
		if (!p->b[i].busy)
			return 1;
	return 0;
}

static int none_busy(struct producer *p)
{
	int i;

	for (i = 0; i < DEMO_BUFFERS; i++)
		if (p->b[i].busy)
			return 0;
	return 1;
}

static int all_released(struct producer *p)
{
	int i;

	for (i = 0; i < DEMO_BUFFERS; i++)
		if (p->b[i].exported && !p->b[i].released)
			return 0;
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: demo_producer [-n|--frames FRAMES] [-t FRAME_TIMEOUT_S]\n"
		"                     [-d DEVICE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *devpath = VDMABUF_DEV_PATH;
	struct producer p = { 0 };
	struct vdmabuf_info info;
	unsigned long frames = 120, frame_timeout_s = 30;
	uint64_t seq, t_start, t_frames, wire = 0;
	int c, i, ret, next = 0, nexported = 0, nunexported = 0, setup_ok = 1;
	char us[VDMABUF_UUID_STR_LEN];

	while ((c = getopt_long(argc, argv, "n:t:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			frames = strtoul(optarg, NULL, 0);
			break;
		case 't':
			frame_timeout_s = strtoul(optarg, NULL, 0);
			if (!frame_timeout_s)
				usage();
			break;
		case 'd':
			devpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !frames)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < DEMO_BUFFERS; i++)
		p.b[i].fd = -1;

	printf("TAP version 13\n");
	ret = vdmabuf_dev_open(devpath, &p.dev);
	if (ret) {
		fprintf(stderr, "demo_producer: open %s: %s\n", devpath,
			strerror(-ret));
		tap(&p, 0, "producer: open %s", devpath);
		printf("1..%d\n", p.tap_n);
		return 1;
	}
	ret = vdmabuf_dev_info(p.dev, &info);
	if (ret) {
		fprintf(stderr, "demo_producer: vdmabuf_dev_info: %s\n",
			strerror(-ret));
		setup_ok = 0;
	} else {
		printf("# device: features 0x%llx, max_ranges %u, ",
		       (unsigned long long)info.features, info.max_ranges);
		printf("max_meta_len %u, max_rects %u, max_export_size %llu\n",
		       info.max_meta_len, info.max_rects,
		       (unsigned long long)info.max_export_size);
		if (!(info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT))) {
			fprintf(stderr,
				"demo_producer: the device lacks VIRTIO_VDMABUF_F_PRESENT\n");
			setup_ok = 0;
		}
	}

	t_start = now_ns();
	for (i = 0; setup_ok && i < DEMO_BUFFERS; i++) {
		if (setup_buffer(&p, &p.b[i]))
			setup_ok = 0;
		else
			nexported++;
	}
	tap(&p, setup_ok,
	    "producer: %d of %d buffers of %ux%u XR24 (stride %u) allocated, mapped and exported",
	    nexported, DEMO_BUFFERS, DEMO_WIDTH, DEMO_HEIGHT, DEMO_STRIDE);

	t_frames = now_ns();
	for (seq = 1; setup_ok && seq <= frames; seq++) {
		struct pbuf *b = NULL;

		ret = wait_until(&p, any_free, frame_timeout_s * 1000);
		if (ret) {
			fprintf(stderr,
				"demo_producer: no buffer came back within %lu s before frame %llu: %s\n",
				frame_timeout_s, (unsigned long long)seq,
				strerror(-ret));
			break;
		}
		for (i = 0; i < DEMO_BUFFERS && !b; i++) {
			struct pbuf *cand = &p.b[(next + i) % DEMO_BUFFERS];

			if (!cand->busy) {
				b = cand;
				next = (next + i + 1) % DEMO_BUFFERS;
			}
		}
		if (draw_frame(&p, b, seq) || present(&p, b, seq))
			break;
		/* Read what is there without waiting. */
		if (pump_events(&p, 0) < 0)
			break;
	}
	ret = wait_until(&p, none_busy, frame_timeout_s * 1000);
	if (ret)
		fprintf(stderr, "demo_producer: waiting for the last FRAME_DONE: %s\n",
			strerror(-ret));
	t_frames = now_ns() - t_frames;
	tap(&p, setup_ok && p.presented == frames,
	    "producer: %llu of %lu frames drawn and presented",
	    (unsigned long long)p.presented, frames);
	tap(&p, p.presented && p.done == p.presented && !p.replaced,
	    "producer: every PRESENT got its FRAME_DONE (%llu of %llu, %llu replaced)",
	    (unsigned long long)p.done, (unsigned long long)p.presented,
	    (unsigned long long)p.replaced);

	for (i = 0; i < DEMO_BUFFERS; i++) {
		struct pbuf *b = &p.b[i];

		if (b->exported) {
			ret = vdmabuf_dev_unexport(p.dev, &b->uuid);
			if (ret)
				fprintf(stderr, "demo_producer: vdmabuf_dev_unexport %s: %s\n",
					vdmabuf_uuid_format(&b->uuid, us),
					strerror(-ret));
			else
				nunexported++;
			wire += EXPORT_HDR_BYTES + RANGE_BYTES * b->nr_ranges +
				META_BYTES;
		}
		if (b->px)
			munmap(b->px, b->size);
		if (b->fd >= 0)
			close(b->fd);
		b->px = NULL;
		b->fd = -1;
	}
	tap(&p, nexported && nunexported == nexported,
	    "producer: %d of %d exports unexported", nunexported, nexported);
	ret = wait_until(&p, all_released, RELEASE_TIMEOUT_MS);
	if (ret)
		fprintf(stderr, "demo_producer: waiting for RELEASED: %s\n",
			strerror(-ret));
	tap(&p, nexported && p.released == (uint64_t)nexported,
	    "producer: every export got RELEASED (%llu of %d, within %d s)",
	    (unsigned long long)p.released, nexported,
	    RELEASE_TIMEOUT_MS / 1000);
	tap(&p, !p.unexpected, "producer: no unexpected events (%llu)",
	    (unsigned long long)p.unexpected);
	printf("1..%d\n", p.tap_n);

	printf("# %-28s %s\n", "stat", "value");
	printf("# %-28s %llu\n", "frames", (unsigned long long)p.presented);
	printf("# %-28s %d\n", "buffers", nexported);
	printf("# %-28s %llu\n", "buffer bytes",
	       (unsigned long long)p.b[0].size);
	for (i = 0; i < DEMO_BUFFERS; i++)
		if (p.b[i].exported)
			printf("# %-28s %llu (%u ranges)\n", "wire bytes per export",
			       (unsigned long long)(EXPORT_HDR_BYTES +
						    RANGE_BYTES * p.b[i].nr_ranges +
						    META_BYTES),
			       p.b[i].nr_ranges);
	printf("# %-28s %llu\n", "wire bytes all exports",
	       (unsigned long long)wire);
	printf("# %-28s %.3f\n", "mean ms present->frame done",
	       p.done ? p.lat_ns_sum / 1e6 / p.done : 0.0);
	printf("# %-28s %.3f\n", "max ms present->frame done",
	       p.lat_ns_max / 1e6);
	printf("# %-28s %.3f\n", "mean ms draw",
	       p.presented ? p.draw_ns_sum / 1e6 / p.presented : 0.0);
	printf("# %-28s %.2f\n", "frames per second",
	       t_frames && p.presented ? p.presented * 1e9 / t_frames : 0.0);
	printf("# %-28s %.1f\n", "run time s", (now_ns() - t_start) / 1e9);
	vdmabuf_dev_close(p.dev);
	return p.tap_failed ? 1 : 0;
}
