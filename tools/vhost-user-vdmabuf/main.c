// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-vdmabuf: a vhost-user back-end for the virtio dma-buf device,
 * for hosts without the vhost_vdmabuf module.  Guest RAM comes from the
 * front-end's memfds; every export becomes a host dma-buf through
 * /dev/udmabuf.
 *
 * One process per device, one front-end connection: the daemon exits when
 * the front-end goes.  libvhost-user (QEMU's subprojects/libvhost-user)
 * speaks the protocol; this file feeds its queues to the device model
 * (device.c) from a poll() loop.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "libvhost-user.h"
#include "vud.h"

/* Requests answered per round of the loop before the socket is looked at. */
#define VUD_WEIGHT	256
/* The vhost-user socket, and a kick or call fd per queue. */
#define VUD_MAX_WATCHES	(1 + 2 * VIRTIO_VDMABUF_VQ_MAX)
/* The configuration space, outputs included (fixed by the spec). */
#define VUD_CONFIG_SIZE	(VIRTIO_VDMABUF_OUTPUTS_OFFSET + \
			 sizeof(struct virtio_vdmabuf_outputs))

/* In docs/interop/vhost-user.rst, not in libvhost-user.h */
#define VUD_PROTOCOL_F_RESET_DEVICE	13
#define VUD_USER_RESET_DEVICE		34

#define VUD_FEATURES	((1ULL << VIRTIO_F_VERSION_1) | \
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			 (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
			 (1ULL << VIRTIO_VDMABUF_F_PRESENT))

struct vud_watch {
	int fd;
	int events;
	vu_watch_cb cb;
	void *data;
};

/**
 * struct vud_daemon - the daemon's one device
 * @vu: libvhost-user's state; callbacks get back here with container_of
 * @dev: the device model
 * @nr_watches: fds libvhost-user asked to be told about
 * @watches: those fds
 * @more_requests: the requestq still had requests after VUD_WEIGHT
 * @verbose: log every request's status
 */
struct vud_daemon {
	VuDev vu;
	struct vud_device dev;
	unsigned int nr_watches;
	struct vud_watch watches[VUD_MAX_WATCHES];
	bool more_requests;
	bool verbose;
};

#define vud_of(vdev) \
	((struct vud_daemon *)((char *)(vdev) - offsetof(struct vud_daemon, vu)))

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vhost-user-vdmabuf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

static size_t iov_size(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;

	while (n--)
		len += iov[n].iov_len;
	return len;
}

/* Write @len bytes of @src at the start of @iov, which holds at least that. */
static void iov_write(const struct iovec *iov, const void *src, size_t len)
{
	for (; len; iov++) {
		size_t n = iov->iov_len < len ? iov->iov_len : len;

		memcpy(iov->iov_base, src, n);
		src = (const char *)src + n;
		len -= n;
	}
}

/* Events for the driver into the eventq buffers it has posted. */
static void vud_deliver_events(struct vud_daemon *d)
{
	VuVirtq *vq = vu_get_queue(&d->vu, VIRTIO_VDMABUF_VQ_EVENT);
	const struct virtio_vdmabuf_event *ev;
	VuVirtqElement *elem;
	bool pushed = false;

	if (!vu_queue_started(&d->vu, vq) || !vu_queue_enabled(&d->vu, vq))
		return;
	while ((ev = vud_peek_event(&d->dev))) {
		elem = vu_queue_pop(&d->vu, vq, sizeof(*elem));
		if (!elem)
			break;
		pushed = true;
		/* Not device-writable only, or too small: return it unused. */
		if (elem->out_num || iov_size(elem->in_sg, elem->in_num) < sizeof(*ev)) {
			vu_queue_push(&d->vu, vq, elem, 0);
			free(elem);
			continue;
		}
		iov_write(elem->in_sg, ev, sizeof(*ev));
		vu_queue_push(&d->vu, vq, elem, sizeof(*ev));
		free(elem);
		vud_pop_event(&d->dev);
	}
	if (pushed)
		vu_queue_notify(&d->vu, vq);
}

static void vud_handle_requests(VuDev *vdev, int qidx)
{
	struct vud_daemon *d = vud_of(vdev);
	VuVirtq *vq = vu_get_queue(vdev, qidx);
	unsigned int n;

	d->more_requests = false;
	for (n = 0; n < VUD_WEIGHT; n++) {
		VuVirtqElement *elem = vu_queue_pop(vdev, vq, sizeof(*elem));
		struct virtio_vdmabuf_resp resp = {};
		unsigned int used = 0;

		if (!elem)
			break;
		if (iov_size(elem->in_sg, elem->in_num) < sizeof(resp)) {
			/* Nowhere to put a status: return it unanswered. */
			d->dev.stats.requests++;
			d->dev.stats.bad_requests++;
		} else {
			struct vud_req req = {
				.iov = elem->out_sg,
				.niov = elem->out_num,
				.len = iov_size(elem->out_sg, elem->out_num),
			};
			uint32_t status = vud_request(&d->dev, &req);

			resp.status = htole32(status);
			iov_write(elem->in_sg, &resp, sizeof(resp));
			used = sizeof(resp);
			if (d->verbose)
				fprintf(stderr, "vhost-user-vdmabuf: request of %zu bytes: status %u\n",
					req.len, status);
		}
		vu_queue_push(vdev, vq, elem, used);
		free(elem);
	}
	d->more_requests = n == VUD_WEIGHT;
	if (n)
		vu_queue_notify(vdev, vq);
	vud_deliver_events(d);
}

static void vud_handle_events(VuDev *vdev, int qidx)
{
	vud_deliver_events(vud_of(vdev));
}

static void vud_queue_set_started(VuDev *vdev, int qidx, bool started)
{
	static const vu_queue_handler_cb handlers[VIRTIO_VDMABUF_VQ_MAX] = {
		[VIRTIO_VDMABUF_VQ_REQ] = vud_handle_requests,
		[VIRTIO_VDMABUF_VQ_EVENT] = vud_handle_events,
	};

	if (qidx < 0 || qidx >= VIRTIO_VDMABUF_VQ_MAX)
		return;
	vu_set_queue_handler(vdev, vu_get_queue(vdev, qidx),
			     started ? handlers[qidx] : NULL);
	if (started && qidx == VIRTIO_VDMABUF_VQ_EVENT)
		vud_deliver_events(vud_of(vdev));
}

static uint64_t vud_get_features(VuDev *vdev)
{
	return VUD_FEATURES;
}

static void vud_set_features(VuDev *vdev, uint64_t features)
{
	vud_of(vdev)->dev.features = features & VUD_FEATURES;
}

static uint64_t vud_get_protocol_features(VuDev *vdev)
{
	return 1ULL << VUD_PROTOCOL_F_RESET_DEVICE;
}

static int vud_get_config_cb(VuDev *vdev, uint8_t *config, uint32_t len)
{
	vud_get_config(&vud_of(vdev)->dev, config, len);
	return 0;
}

/* The configuration space is read-only. */
static int vud_set_config_cb(VuDev *vdev, const uint8_t *data,
			     uint32_t offset, uint32_t size, uint32_t flags)
{
	return -1;
}

/* Keep a copy of a region's memfd: libvhost-user closes its own. */
static void vud_take_region(struct vud_daemon *d, VhostUserMemoryRegion r,
			    int fd)
{
	char why[256];
	int copy;

	if (vud_check_memfd(fd, why, sizeof(why)))
		die("%s", why);
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		die("dup of a guest RAM fd: %s", strerror(errno));
	if (vud_add_region(&d->dev, r.guest_phys_addr, r.memory_size, copy,
			   r.mmap_offset))
		die("guest RAM region 0x%llx+0x%llx is unaligned or overlaps another",
		    (unsigned long long)r.guest_phys_addr,
		    (unsigned long long)r.memory_size);
}

static void vud_log_reset(const struct vud_daemon *d, const char *what)
{
	fprintf(stderr, "vhost-user-vdmabuf: %s reset: %u live exports ended, %u held\n",
		what, d->dev.stats.live_exports, d->dev.stats.held_exports);
}

/*
 * Seen before libvhost-user handles each message: the memory table's fds
 * for the device model, and the device reset libvhost-user does not know.
 */
static int vud_process_msg(VuDev *vdev, VhostUserMsg *msg, int *do_reply)
{
	struct vud_daemon *d = vud_of(vdev);
	unsigned int i;

	switch (msg->request) {
	case VHOST_USER_SET_MEM_TABLE:
		if (msg->size < offsetof(VhostUserMemory, regions) ||
		    msg->payload.memory.nregions > VHOST_MEMORY_BASELINE_NREGIONS ||
		    msg->payload.memory.nregions > (unsigned int)msg->fd_num)
			die("malformed VHOST_USER_SET_MEM_TABLE");
		vud_remove_all_regions(&d->dev);
		for (i = 0; i < msg->payload.memory.nregions; i++)
			vud_take_region(d, msg->payload.memory.regions[i],
					msg->fds[i]);
		return 0;
	case VHOST_USER_ADD_MEM_REG:
		if (msg->fd_num != 1 || msg->size < sizeof(msg->payload.memreg))
			die("malformed VHOST_USER_ADD_MEM_REG");
		vud_take_region(d, msg->payload.memreg.region, msg->fds[0]);
		return 0;
	case VHOST_USER_REM_MEM_REG:
		if (msg->size >= sizeof(msg->payload.memreg))
			vud_remove_region(&d->dev,
					  msg->payload.memreg.region.guest_phys_addr,
					  msg->payload.memreg.region.memory_size);
		return 0;
	case VHOST_USER_RESET_OWNER:
		vud_log_reset(d, "owner");
		vud_reset(&d->dev);
		return 0;
	case VUD_USER_RESET_DEVICE:
		/*
		 * The front-end stopped the rings before (GET_VRING_BASE) and
		 * sets them up again after: disable them, as RESET_OWNER does.
		 */
		vud_log_reset(d, "device");
		vud_reset(&d->dev);
		for (i = 0; i < vdev->max_queues; i++)
			vdev->vq[i].enable = false;
		*do_reply = false;
		return 1;
	}
	return 0;
}

static void vud_panic(VuDev *vdev, const char *err)
{
	die("%s", err);
}

static void vud_set_watch(VuDev *vdev, int fd, int condition, vu_watch_cb cb,
			  void *data)
{
	struct vud_daemon *d = vud_of(vdev);
	unsigned int i;

	for (i = 0; i < d->nr_watches; i++)
		if (d->watches[i].fd == fd)
			break;
	if (i == d->nr_watches) {
		if (i == VUD_MAX_WATCHES)
			die("more than %d fds to watch", VUD_MAX_WATCHES);
		d->nr_watches++;
	}
	d->watches[i] = (struct vud_watch) {
		.fd = fd, .events = condition, .cb = cb, .data = data,
	};
}

static void vud_remove_watch(VuDev *vdev, int fd)
{
	struct vud_daemon *d = vud_of(vdev);
	unsigned int i;

	for (i = 0; i < d->nr_watches; i++)
		if (d->watches[i].fd == fd) {
			d->watches[i] = d->watches[--d->nr_watches];
			return;
		}
}

static const VuDevIface vud_iface = {
	.get_features = vud_get_features,
	.set_features = vud_set_features,
	.get_protocol_features = vud_get_protocol_features,
	.process_msg = vud_process_msg,
	.queue_set_started = vud_queue_set_started,
	.get_config = vud_get_config_cb,
	.set_config = vud_set_config_cb,
};

/* Serve the front-end on @sock until it goes. */
static void vud_run(struct vud_daemon *d, int sock)
{
	struct pollfd pfd[1 + VUD_MAX_WATCHES];
	unsigned int i, n;

	if (!vu_init(&d->vu, VIRTIO_VDMABUF_VQ_MAX, sock, vud_panic, NULL,
		     vud_set_watch, vud_remove_watch, &vud_iface))
		die("vu_init failed");
	for (;;) {
		pfd[0] = (struct pollfd) { .fd = sock, .events = POLLIN };
		n = d->nr_watches;
		for (i = 0; i < n; i++)
			pfd[1 + i] = (struct pollfd) {
				.fd = d->watches[i].fd,
				.events = d->watches[i].events,
			};
		if (poll(pfd, 1 + n, d->more_requests ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			if (!vu_dispatch(&d->vu))
				break;
			/* The watches may have changed: poll again. */
			continue;
		}
		for (i = 0; i < n && i < d->nr_watches; i++)
			if (pfd[1 + i].revents &&
			    d->watches[i].fd == pfd[1 + i].fd)
				d->watches[i].cb(&d->vu, pfd[1 + i].revents,
						 d->watches[i].data);
		if (d->more_requests)
			vud_handle_requests(&d->vu, VIRTIO_VDMABUF_VQ_REQ);
	}
	vu_deinit(&d->vu);
}

static int vud_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, conn;

	if (strlen(path) >= sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(fd, 1))
		die("%s: %s", path, strerror(errno));
	conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		die("accept on %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
	return conn;
}

static void usage(FILE *f)
{
	fputs("usage: vhost-user-vdmabuf (--socket-path=PATH | --fd=FD) [options]\n"
	      "  --socket-path=PATH     listen on PATH for the front-end (QEMU)\n"
	      "  --fd=FD                the front-end's socket, already connected\n"
	      "  --max-exports=N        most live exports (default 1024)\n"
	      "  --max-total-mb=N       most MiB exported and pinned (default 2048)\n"
	      "  --max-export-mb=N      largest export in MiB (default 512, at most\n"
	      "                         udmabuf's size_limit_mb)\n"
	      "  --max-ranges=N         most ranges per export (default 16384, at most\n"
	      "                         udmabuf's list_limit)\n"
	      "  --max-meta-len=N       most metadata bytes per export (default 1024)\n"
	      "  --max-rects=N          most damage rectangles per frame (default 16)\n"
	      "  -v, --verbose          log every request\n", f);
}

/* A limit option: a number within [lo, hi]. */
static uint64_t limit_arg(const char *name, const char *s, uint64_t lo,
			  uint64_t hi, const char *why_hi)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		die("--%s=%s: not between %llu and %llu%s", name, s,
		    (unsigned long long)lo, (unsigned long long)hi, why_hi);
	return v;
}

int main(int argc, char **argv)
{
	enum { O_FD = 256, O_EXPORTS, O_TOTAL, O_EXPORT_MB, O_RANGES, O_META,
	       O_RECTS };
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, O_FD },
		{ "max-exports", required_argument, NULL, O_EXPORTS },
		{ "max-total-mb", required_argument, NULL, O_TOTAL },
		{ "max-export-mb", required_argument, NULL, O_EXPORT_MB },
		{ "max-ranges", required_argument, NULL, O_RANGES },
		{ "max-meta-len", required_argument, NULL, O_META },
		{ "max-rects", required_argument, NULL, O_RECTS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct vud_daemon d;
	const char *path = NULL;
	struct vud_limits lim;
	uint64_t size_cap;
	char why[512];
	int c, fd = -1, udmabuf;

	if (sysconf(_SC_PAGESIZE) != VIRTIO_VDMABUF_PAGE_SIZE)
		die("the host's page size is not 4096 bytes: udmabuf cannot take the guest's 4 KiB ranges");
	udmabuf = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (udmabuf < 0)
		die("/dev/udmabuf: %s (modprobe udmabuf, and give this user access to it)",
		    strerror(errno));
	if (vud_limits_from_udmabuf(&lim, why, sizeof(why)))
		die("cannot read /sys/module/udmabuf/parameters: is udmabuf loaded?");
	size_cap = lim.max_export_size;

	while ((c = getopt_long(argc, argv, "s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case O_FD:
			fd = limit_arg("fd", optarg, 0, 1 << 30, "");
			break;
		case O_EXPORTS:
			lim.max_exports = limit_arg("max-exports", optarg, 1,
						    65536, "");
			break;
		case O_TOTAL:
			lim.max_total_size = limit_arg("max-total-mb", optarg,
						       1, 1 << 20, "") << 20;
			break;
		case O_EXPORT_MB:
			lim.max_export_size = limit_arg("max-export-mb", optarg,
							1, size_cap >> 20,
							" (udmabuf's size_limit_mb)") << 20;
			break;
		case O_RANGES:
			lim.max_ranges = limit_arg("max-ranges", optarg, 1,
						   lim.udmabuf_list_limit,
						   " (udmabuf's list_limit)");
			break;
		case O_META:
			lim.max_meta_len = limit_arg("max-meta-len", optarg, 0,
						     VIRTIO_VDMABUF_MAX_META, "");
			break;
		case O_RECTS:
			lim.max_rects = limit_arg("max-rects", optarg, 0,
						  VIRTIO_VDMABUF_MAX_RECTS, "");
			break;
		case 'v':
			d.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !path == (fd < 0)) {
		usage(stderr);
		return 2;
	}
	if (why[0])
		fprintf(stderr, "vhost-user-vdmabuf: %s\n", why);

	signal(SIGPIPE, SIG_IGN);
	vud_device_init(&d.dev, &lim, udmabuf);
	if (path)
		fd = vud_listen(path);
	vud_run(&d, fd);
	vud_device_fini(&d.dev);
	return 0;
}
