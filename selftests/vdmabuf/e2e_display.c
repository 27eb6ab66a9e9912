// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_display: QEMU's vhost-vdmabuf display, guest (L2) side.
 *
 * Needs QEMU's vhost-vdmabuf-pci with display=on,outputs=2 and
 * importer_display running on the host (L1) on the device's importer
 * socket, with QMP of the same QEMU.  For each case of disp_cases[]
 * (display_proto.h), in order: allocate a buffer from the driver, draw the
 * case's picture in its format, export it with the image metadata and a
 * struct disp_tag after it, PRESENT one frame of the whole buffer and
 * wait for its FRAME_DONE: the host answers only after it compared a
 * screendump of the output with the picture, so that FRAME_DONE is the
 * guest's proof that the host looked.  Then unexport and free the buffer
 * (after the next case if that one is on the same output) and wait for
 * RELEASED: QEMU and every importer let go of it.
 *
 * First, the outputs the driver read from the device's configuration
 * space (VDMABUF_IOCTL_OUTPUTS): QEMU's, and none on a device without
 * a display (/dev/virtio-vdmabuf1 in the test bed).
 *
 * A case with resize makes the host resize its output's window before it
 * answers the frame: then poll() reports EPOLLPRI, VDMABUF_IOCTL_OUTPUTS
 * returns the new size with a new generation, and EPOLLPRI stays until
 * each opener asked.
 *
 * Output: kselftest TAP on stdout, two results per case.  Exit: 0 if
 * every result passed, 1 otherwise, 4 (skip) without the device.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>

#include <vdmabuf/vdmabuf.h>

#include "kselftest.h"
#include "display_proto.h"
#include "example_common.h"	/* now_ms() */

#define DEV_PATH	"/dev/virtio-vdmabuf"
#define EVT_TIMEOUT_MS	120000	/* nested TCG, and a screendump per frame */
#define BUSY_TRIES	50
/* A resize reaches the guest: QMP, D-Bus, a config interrupt, a worker */
#define RESIZE_TIMEOUT_MS	60000

/**
 * struct dbuf - the buffer of one case
 * @fd: the dma-buf, -1 when none
 * @map: its mapping, or NULL
 * @size: its size in bytes
 * @img: the image it holds
 * @uuid: the export's UUID
 * @exported: the export is live
 * @shared: EXPORT succeeded (@uuid is valid)
 */
struct dbuf {
	int fd;
	uint8_t *map;
	uint64_t size;
	struct vdmabuf_image img;
	struct vdmabuf_uuid uuid;
	int exported;
	int shared;
};

static const char *evt_name(uint32_t type)
{
	switch (type) {
	case VDMABUF_EVENT_RELEASED:
		return "RELEASED";
	case VDMABUF_EVENT_FRAME_DONE:
		return "FRAME_DONE";
	default:
		return "unknown";
	}
}

/* Take whatever events are queued within @ms, naming each. */
static void skip_events(struct vdmabuf_dev *dev, int ms)
{
	char us[VDMABUF_UUID_STR_LEN];
	struct vdmabuf_event ev;
	struct vdmabuf_uuid u;

	while (!vdmabuf_dev_next_event(dev, &ev, ms)) {
		memcpy(u.b, ev.uuid, sizeof(u.b));
		ksft_print_msg("ignoring %s of %s seq %llu\n",
			       evt_name(ev.type), vdmabuf_uuid_format(&u, us),
			       (unsigned long long)ev.seq);
		ms = 0;
	}
}

/*
 * Wait up to EVT_TIMEOUT_MS for the event @type of @uuid (and @seq, for
 * FRAME_DONE), passing over others; its flags go to *@flags.  0,
 * -ETIMEDOUT or -errno.
 */
static int wait_event(struct vdmabuf_dev *dev, uint32_t type,
		      const struct vdmabuf_uuid *uuid, uint64_t seq,
		      uint32_t *flags)
{
	uint64_t deadline = now_ms() + EVT_TIMEOUT_MS;
	char us[VDMABUF_UUID_STR_LEN];
	struct vdmabuf_event ev;
	struct vdmabuf_uuid u;
	uint64_t now;
	int ret;

	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = vdmabuf_dev_next_event(dev, &ev, (int)(deadline - now));
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		memcpy(u.b, ev.uuid, sizeof(u.b));
		if (ev.type == type && !memcmp(u.b, uuid->b, sizeof(u.b)) &&
		    (type != VDMABUF_EVENT_FRAME_DONE || ev.seq == seq)) {
			*flags = ev.flags;
			return 0;
		}
		ksft_print_msg("ignoring %s of %s seq %llu\n",
			       evt_name(ev.type), vdmabuf_uuid_format(&u, us),
			       (unsigned long long)ev.seq);
	}
}

/*
 * The image of case @c and the buffer size it needs: a format the library
 * lays out (NV12) as vdmabuf_image_init() does, the others with rows of
 * exactly width * cpp bytes (XR48 is not in the library's table).
 */
static int case_image(const struct disp_case *c, struct vdmabuf_image *img,
		      uint64_t *size)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t granule = page > 4096 ? (uint64_t)page : 4096;
	int64_t ret;

	if (!c->cpp) {
		ret = vdmabuf_image_init(img, c->width, c->height, c->fourcc);
		if (ret < 0)
			return (int)ret;
		*size = (uint64_t)ret;
	} else {
		memset(img, 0, sizeof(*img));
		img->width = c->width;
		img->height = c->height;
		img->fourcc = c->fourcc;
		img->modifier = 0;	/* DRM_FORMAT_MOD_LINEAR */
		img->nr_planes = 1;
		img->planes[0].offset = 0;
		img->planes[0].stride = c->width * c->cpp;
		*size = (uint64_t)img->planes[0].stride * c->height;
		*size = (*size + granule - 1) / granule * granule;
	}
	img->output = c->output;
	img->flags = c->flags;
	return 0;
}

/* Draw picture @pic in the format of case @c into the mapped buffer @b. */
static int draw(const struct disp_case *c, struct dbuf *b, uint32_t pic)
{
	const struct vdmabuf_image_plane *pl = &b->img.planes[0];
	uint32_t x, y, row;
	uint8_t rgb[3];
	int ret;

	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START |
				  DMA_BUF_SYNC_WRITE);
	if (ret)
		return ret;
	if (!c->cpp) {
		/* QEMU does not show it: any content does */
		memset(b->map, 0x80, b->size);
	} else {
		for (y = 0; y < c->height; y++) {
			uint8_t *p;

			row = c->flags & VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP ?
			      c->height - 1 - y : y;
			p = b->map + pl->offset + (uint64_t)row * pl->stride;
			for (x = 0; x < c->width; x++) {
				disp_pixel(pic, x, y, rgb);
				disp_store(c->fourcc, p + x * c->cpp, rgb);
			}
		}
	}
	return vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END |
				   DMA_BUF_SYNC_WRITE);
}

/* The metadata of case @c: the encoded image, then the tag. */
static int build_meta(const struct disp_case *c, const struct dbuf *b,
		      uint8_t meta[DISP_META_LEN])
{
	struct virtio_vdmabuf_image wire;
	struct disp_tag tag;
	int ret;

	ret = vdmabuf_image_encode(&b->img, &wire);
	if (ret)
		return ret;
	tag.magic = htole32(DISP_TAG_MAGIC);
	tag.case_id = htole32(c->id);
	tag.nr_cases = htole32(DISP_NR_CASES);
	tag.expect = htole32(c->expect);
	memcpy(meta, &wire, sizeof(wire));
	memcpy(meta + sizeof(wire), &tag, sizeof(tag));
	return 0;
}

/* EXPORT, retrying while the device or our event queue says busy. */
static int export(struct vdmabuf_dev *dev, struct dbuf *b, const void *meta,
		  uint32_t meta_len)
{
	struct vdmabuf_exported ex;
	int tries, ret = -EBUSY;

	for (tries = 0; tries < BUSY_TRIES; tries++) {
		ret = vdmabuf_dev_export(dev, b->fd, meta, meta_len, &ex);
		if (!ret) {
			b->uuid = ex.uuid;
			b->exported = 1;
			b->shared = 1;
			return ex.size == b->size ? 0 : -EPROTO;
		}
		if (ret != -EBUSY && ret != -ENOBUFS)
			return ret;
		skip_events(dev, 100);
	}
	return ret;
}

static int present(struct vdmabuf_dev *dev, struct dbuf *b, uint64_t seq,
		   const struct vdmabuf_rect *rect)
{
	int tries, ret = -EBUSY;

	for (tries = 0; tries < BUSY_TRIES; tries++) {
		ret = vdmabuf_dev_present(dev, &b->uuid, seq, rect, !!rect);
		if (ret != -EBUSY && ret != -ENOBUFS)
			return ret;
		skip_events(dev, 100);
	}
	return ret;
}

/*
 * The second frame of a case with damage: the whole buffer redrawn, a
 * rectangle of it named as damaged.  One TAP result.
 */
static void damage_frame(struct vdmabuf_dev *dev, const struct disp_case *c,
			 struct dbuf *b)
{
	const struct vdmabuf_rect rect = {
		.x = DISP_DAMAGE_X, .y = DISP_DAMAGE_Y,
		.width = DISP_DAMAGE_W, .height = DISP_DAMAGE_H,
	};
	uint64_t seq = DISP_DAMAGE_SEQ + c->id;
	uint32_t flags = 0;
	int ret;

	ret = draw(c, b, c->id + DISP_DAMAGE_PICTURE);
	if (!ret)
		ret = present(dev, b, seq, &rect);
	if (!ret)
		ret = wait_event(dev, VDMABUF_EVENT_FRAME_DONE, &b->uuid, seq,
				 &flags);
	if (ret)
		ksft_print_msg("case %u: the damaged frame: %s\n", c->id,
			       strerror(-ret));
	ksft_test_result(!ret && !(flags & VDMABUF_EVENT_F_DROPPED),
			 "display case %u: FRAME_DONE of a frame redrawn whole, damaged %ux%u at (%u, %u)\n",
			 c->id, DISP_DAMAGE_W, DISP_DAMAGE_H, DISP_DAMAGE_X,
			 DISP_DAMAGE_Y);
}

/* Case @c shown from the buffer @b, and its FRAME_DONE: one TAP result. */
static void show_case(struct vdmabuf_dev *dev, const struct disp_case *c,
		      struct dbuf *bp)
{
	struct dbuf b = { .fd = -1 };
	uint8_t meta[DISP_META_LEN];
	const char *step;
	uint32_t flags = 0;
	int ret;

	step = "image layout";
	ret = case_image(c, &b.img, &b.size);
	if (ret)
		goto fail;
	step = "vdmabuf_dev_alloc";
	ret = vdmabuf_dev_alloc(dev, b.size);
	if (ret < 0)
		goto fail;
	b.fd = ret;
	step = "mmap";
	b.map = mmap(NULL, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd,
		     0);
	if (b.map == MAP_FAILED) {
		ret = -errno;
		b.map = NULL;
		goto fail;
	}
	step = "drawing (DMA_BUF_IOCTL_SYNC)";
	ret = draw(c, &b, c->id);
	if (ret)
		goto fail;
	step = "vdmabuf_image_encode";
	ret = build_meta(c, &b, meta);
	if (ret)
		goto fail;
	step = "EXPORT";
	ret = export(dev, &b, meta, sizeof(meta));
	if (ret)
		goto fail;
	step = "PRESENT";
	ret = present(dev, &b, c->id, NULL);
	if (ret)
		goto fail;
	step = "waiting for FRAME_DONE";
	ret = wait_event(dev, VDMABUF_EVENT_FRAME_DONE, &b.uuid, c->id,
			 &flags);
	if (ret)
		goto fail;
	if (flags & VDMABUF_EVENT_F_DROPPED)
		ksft_print_msg("case %u: the frame was dropped, never shown\n",
			       c->id);
	ksft_test_result(!(flags & VDMABUF_EVENT_F_DROPPED),
			 "display case %u (%s on output %u): FRAME_DONE\n",
			 c->id, c->name, c->output);
	*bp = b;
	if (c->damage)
		damage_frame(dev, c, bp);
	return;

fail:
	ksft_print_msg("case %u: %s: %s\n", c->id, step, strerror(-ret));
	ksft_test_result_fail("display case %u (%s on output %u): FRAME_DONE\n",
			      c->id, c->name, c->output);
	*bp = b;
}

/* Case @c's buffer @b unexported and freed, and RELEASED: one TAP result. */
static void release_case(struct vdmabuf_dev *dev, const struct disp_case *c,
			 struct dbuf *bp)
{
	struct dbuf b = *bp;
	uint32_t flags;
	int ret;

	if (b.exported) {
		ret = vdmabuf_dev_unexport(dev, &b.uuid);
		if (ret)
			ksft_print_msg("case %u: UNEXPORT: %s\n", c->id,
				       strerror(-ret));
		else
			b.exported = 0;
	}
	/* The export holds the buffer: ours can go now */
	if (b.map)
		munmap(b.map, b.size);
	if (b.fd >= 0)
		close(b.fd);
	if (!b.shared || b.exported) {
		ksft_test_result_fail("display case %u: RELEASED after UNEXPORT\n",
				      c->id);
		return;
	}
	ret = wait_event(dev, VDMABUF_EVENT_RELEASED, &b.uuid, 0, &flags);
	if (ret)
		ksft_print_msg("case %u: waiting for RELEASED: %s\n", c->id,
			       strerror(-ret));
	ksft_test_result(!ret, "display case %u: RELEASED after UNEXPORT\n",
			 c->id);
}

/*
 * The outputs of the device @path: @nr of DISP_XRES x DISP_YRES, with
 * VIRTIO_VDMABUF_F_OUTPUTS, or none without it.
 */
static void check_outputs(const char *path, uint32_t nr)
{
	struct vdmabuf_outputs outs;
	struct vdmabuf_info info;
	int fd, ok;
	uint32_t i;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ksft_test_result_skip("%s: %u outputs: %s\n", path, nr,
				      strerror(errno));
		return;
	}
	if (ioctl(fd, VDMABUF_IOCTL_INFO, &info) ||
	    ioctl(fd, VDMABUF_IOCTL_OUTPUTS, &outs)) {
		ksft_print_msg("%s: %s\n", path, strerror(errno));
		ok = 0;
	} else {
		ok = !!(info.features & (1ULL << VIRTIO_VDMABUF_F_OUTPUTS)) ==
		     !!nr && outs.nr_outputs == nr;
		for (i = 0; i < VDMABUF_MAX_OUTPUTS; i++) {
			uint32_t w = i < nr ? DISP_XRES : 0;
			uint32_t h = i < nr ? DISP_YRES : 0;

			if (outs.outputs[i].width != w ||
			    outs.outputs[i].height != h)
				ok = 0;
		}
		ksft_print_msg("%s: features 0x%llx, %u outputs, the first %ux%u, generation %u\n",
			       path, (unsigned long long)info.features,
			       outs.nr_outputs, outs.outputs[0].width,
			       outs.outputs[0].height, outs.generation);
	}
	close(fd);
	if (nr)
		ksft_test_result(ok, "%s: %u outputs of %ux%u (VDMABUF_IOCTL_OUTPUTS)\n",
				 path, nr, DISP_XRES, DISP_YRES);
	else
		ksft_test_result(ok, "%s: no outputs, no display (VDMABUF_IOCTL_OUTPUTS)\n",
				 path);
}

/* Does @fd poll EPOLLPRI within @ms?  1, 0, or -errno. */
static int pri_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	int ret;

	ret = poll(&pfd, 1, ms);
	if (ret < 0)
		return -errno;
	return ret && (pfd.revents & POLLPRI);
}

/*
 * Case @c made the host resize output @c->output's window to
 * DISP_RESIZE_W x DISP_RESIZE_H (display_proto.h).  @dev's handle and
 * @other, opened before, had outputs of generation @gen0; @ep, an
 * edge-triggered epoll set up before the case was presented, has @dev's
 * fd for EPOLLPRI, so only the driver's wakeup on the change can report
 * it.  Then both poll EPOLLPRI; OUTPUTS returns the new size, the other
 * output's unchanged, and a later generation, and clears EPOLLPRI for
 * @dev's handle only; an opener that comes after the change has none.
 * Two TAP results.
 */
static void check_resize(struct vdmabuf_dev *dev, int other, int ep,
			 const struct disp_case *c, uint32_t gen0)
{
	struct vdmabuf_outputs outs;
	int fd = vdmabuf_dev_fd(dev), later, ret, ok;
	struct epoll_event ev = { 0 };
	uint32_t i;

	ret = epoll_wait(ep, &ev, 1, RESIZE_TIMEOUT_MS);
	if (ret < 0)
		ksft_print_msg("epoll_wait: %s\n", strerror(errno));
	ksft_test_result(ret == 1 && (ev.events & EPOLLPRI),
			 "display case %u: output %u resized by the host: EPOLLPRI woke an edge-triggered epoll\n",
			 c->id, c->output);

	ret = vdmabuf_dev_outputs(dev, &outs);
	if (ret) {
		ksft_print_msg("VDMABUF_IOCTL_OUTPUTS: %s\n", strerror(-ret));
		ksft_test_result_fail("display case %u: VDMABUF_IOCTL_OUTPUTS has the new size\n",
				      c->id);
		return;
	}
	ksft_print_msg("outputs: %ux%u and %ux%u, generation %u (was %u)\n",
		       outs.outputs[0].width, outs.outputs[0].height,
		       outs.outputs[1].width, outs.outputs[1].height,
		       outs.generation, gen0);
	ok = outs.nr_outputs == DISP_NR_OUTPUTS && outs.generation != gen0;
	for (i = 0; i < DISP_NR_OUTPUTS; i++) {
		uint32_t w = i == c->output ? DISP_RESIZE_W : DISP_XRES;
		uint32_t h = i == c->output ? DISP_RESIZE_H : DISP_YRES;

		if (outs.outputs[i].width != w || outs.outputs[i].height != h)
			ok = 0;
	}
	if (pri_within(fd, 0) != 0) {
		ksft_print_msg("EPOLLPRI after OUTPUTS\n");
		ok = 0;
	}
	if (pri_within(other, 0) != 1) {
		ksft_print_msg("no EPOLLPRI on an opener that did not ask\n");
		ok = 0;
	}
	later = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (later < 0 || pri_within(later, 0) != 0) {
		ksft_print_msg("an opener after the change: %s\n",
			       later < 0 ? strerror(errno) : "EPOLLPRI");
		ok = 0;
	}
	if (later >= 0)
		close(later);
	ksft_test_result(ok, "display case %u: VDMABUF_IOCTL_OUTPUTS has output %u at %ux%u, a new generation; EPOLLPRI until each opener asked\n",
			 c->id, c->output, DISP_RESIZE_W, DISP_RESIZE_H);
}

/*
 * Before a case that makes the host resize: the outputs now (@outs), and
 * an edge-triggered epoll on @dev's fd for EPOLLPRI, registered after
 * OUTPUTS cleared EPOLLPRI and checked to have nothing ready, so that
 * only a wakeup from now on can report it.  Exits on failure.
 */
static int resize_setup(struct vdmabuf_dev *dev,
			struct vdmabuf_outputs *outs)
{
	struct epoll_event ev = { .events = EPOLLPRI | EPOLLET };
	int ep, ret;

	ret = vdmabuf_dev_outputs(dev, outs);
	if (ret)
		ksft_exit_fail_msg("VDMABUF_IOCTL_OUTPUTS: %s\n",
				   strerror(-ret));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, vdmabuf_dev_fd(dev), &ev))
		ksft_exit_fail_msg("epoll: %s\n", strerror(errno));
	if (epoll_wait(ep, &ev, 1, 0) != 0)
		ksft_exit_fail_msg("EPOLLPRI before the host resized\n");
	return ep;
}

int main(void)
{
	struct dbuf bufs[DISP_NR_CASES];
	struct vdmabuf_outputs outs;
	struct vdmabuf_info info;
	struct vdmabuf_dev *dev;
	int ret, held = -1, other, ep = -1;
	size_t i, nr_more = 0;

	ksft_print_header();
	ret = vdmabuf_dev_open(DEV_PATH, &dev);
	if (ret)
		ksft_exit_skip("%s: %s (virtio_vdmabuf not loaded or no device)\n",
			       DEV_PATH, strerror(-ret));
	ret = vdmabuf_dev_info(dev, &info);
	if (ret)
		ksft_exit_fail_msg("VDMABUF_IOCTL_INFO: %s\n", strerror(-ret));
	if (!(info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		ksft_exit_skip("the device does not offer VIRTIO_VDMABUF_F_PRESENT\n");
	if (info.max_meta_len < DISP_META_LEN)
		ksft_exit_skip("the device's max_meta_len %u is below %zu bytes\n",
			       info.max_meta_len, DISP_META_LEN);

	/*
	 * A buffer stays exported until the next case on the same output
	 * was shown, so that the next picture, or the placeholder of an
	 * image QEMU cannot show, replaces it rather than the placeholder
	 * of its unexport.
	 */
	for (i = 0; i < DISP_NR_CASES; i++)
		nr_more += !!disp_cases[i].damage + 2 * !!disp_cases[i].resize;
	ksft_set_plan(2 + 2 * DISP_NR_CASES + nr_more);
	check_outputs(DEV_PATH, DISP_NR_OUTPUTS);
	check_outputs(DEV_PATH "1", 0);
	/* An opener that never asks for the outputs: EPOLLPRI stays */
	other = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (other < 0)
		ksft_exit_fail_msg("%s: %s\n", DEV_PATH, strerror(errno));
	for (i = 0; i < DISP_NR_CASES; i++) {
		const struct disp_case *c = &disp_cases[i];

		if (c->resize)
			ep = resize_setup(dev, &outs);
		show_case(dev, c, &bufs[i]);
		if (c->resize) {
			check_resize(dev, other, ep, c, outs.generation);
			close(ep);
		}
		if (held >= 0) {
			release_case(dev, &disp_cases[held], &bufs[held]);
			held = -1;
		}
		if (i + 1 < DISP_NR_CASES && disp_cases[i + 1].output == c->output)
			held = (int)i;
		else
			release_case(dev, c, &bufs[i]);
	}
	close(other);
	vdmabuf_dev_close(dev);
	ksft_finished();
}
