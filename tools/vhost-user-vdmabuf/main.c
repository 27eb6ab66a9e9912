// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-vdmabuf: a vhost-user back-end for the virtio dma-buf device,
 * for hosts without the vhost_vdmabuf module.  Guest RAM comes from the
 * front-end's memfds; every export becomes a host dma-buf through
 * /dev/udmabuf.  With --no-dmabuf, on a host without udmabuf, exports are
 * checked and held but none becomes a dma-buf: a device for testing the
 * guest alone, with no importers.
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
#include "vdmabuf/vu_importer.h"
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

/* Importer connections: at most the hard cap of the kernel back-end. */
#define VUD_MAX_CONNS	256

/**
 * struct vud_conn - an importer's connection
 * @fd: the daemon's end of the importer's socket pair (non-blocking)
 * @imp: the device model's importer
 * @dead: a send failed for good: closed at the next turn of the loop
 */
struct vud_conn {
	int fd;
	struct vud_importer *imp;
	bool dead;
};

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
 * @listen_fd: the importer socket, -1 without --importer-socket
 * @importer_uid: the user besides root and the daemon's own that gets
 *	importers, -1 if none
 * @peer_warned: a refused client was logged
 * @noted_long_chain: a chain longer than its queue was logged
 * @nr_conns: importers connected
 * @conns: their connections
 */
struct vud_daemon {
	VuDev vu;
	struct vud_device dev;
	unsigned int nr_watches;
	struct vud_watch watches[VUD_MAX_WATCHES];
	bool more_requests;
	bool verbose;
	int listen_fd;
	long long importer_uid;
	bool peer_warned;
	bool noted_long_chain;
	unsigned int nr_conns;
	struct vud_conn conns[VUD_MAX_CONNS];
};

#define vud_of(vdev) \
	((struct vud_daemon *)((char *)(vdev) - offsetof(struct vud_daemon, vu)))

static void vnote(const char *fmt, va_list ap)
{
	fputs("vhost-user-vdmabuf: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
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

/*
 * A ring that can be used and signalled.  libvhost-user starts a ring at
 * VHOST_USER_SET_VRING_KICK (and kicks it then itself) while its call fd,
 * closed when the front-end stopped the ring, comes with the next
 * message: until then a notification would write to fd -1, and
 * libvhost-user panics on that.  vud_run() looks at the rings again
 * after every message.
 */
static bool vud_ring_ready(VuDev *vdev, VuVirtq *vq)
{
	return vu_queue_started(vdev, vq) && vu_queue_enabled(vdev, vq) &&
	       vq->call_fd >= 0;
}

/* Events for the driver into the eventq buffers it has posted. */
static void vud_deliver_events(struct vud_daemon *d)
{
	VuVirtq *vq = vu_get_queue(&d->vu, VIRTIO_VDMABUF_VQ_EVENT);
	const struct virtio_vdmabuf_event *ev;
	VuVirtqElement *elem;
	bool pushed = false;

	if (!vud_ring_ready(&d->vu, vq))
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

static void vud_flush_importers(struct vud_daemon *d);

/*
 * The number of descriptors in @elem's indirect table, 0 for a chain of
 * the ring's own descriptors: libvhost-user bounds those by the queue size
 * itself, and an element's iovecs are no count of descriptors (one is
 * split where it crosses a memory region).  Read again from the ring: a
 * guest that changes it meanwhile changes only which answer it gets.
 */
static unsigned int vud_indirect_len(const VuVirtq *vq,
				     const VuVirtqElement *elem)
{
	const struct vring_desc *head = &vq->vring.desc[elem->index];

	if (!(le16toh(head->flags) & VRING_DESC_F_INDIRECT))
		return 0;
	return le32toh(head->len) / sizeof(*head);
}

static void vud_handle_requests(VuDev *vdev, int qidx)
{
	struct vud_daemon *d = vud_of(vdev);
	VuVirtq *vq = vu_get_queue(vdev, qidx);
	unsigned int n;

	d->more_requests = false;
	/* A stopped ring is the front-end's again, a reset one gone. */
	if (!vud_ring_ready(vdev, vq))
		return;
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
		} else if (vud_indirect_len(vq, elem) > vq->vring.num) {
			/*
			 * "The driver MUST NOT create a descriptor chain
			 * longer than the Queue Size of the device", indirect
			 * descriptors included (virtio 1.2, "Indirect
			 * Descriptors").  Noted once: a guest could flood.
			 */
			d->dev.stats.requests++;
			d->dev.stats.bad_requests++;
			resp.status = htole32(VIRTIO_VDMABUF_S_INVALID);
			iov_write(elem->in_sg, &resp, sizeof(resp));
			used = sizeof(resp);
			if (!d->noted_long_chain)
				note("a request of %u descriptors on a queue of %u: INVALID",
				     vud_indirect_len(vq, elem), vq->vring.num);
			d->noted_long_chain = true;
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
				note("request of %zu bytes: status %u", req.len,
				     status);
		}
		vu_queue_push(vdev, vq, elem, used);
		free(elem);
	}
	d->more_requests = n == VUD_WEIGHT;
	if (n)
		vu_queue_notify(vdev, vq);
	vud_deliver_events(d);
	vud_flush_importers(d);
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
	if (!started && qidx == VIRTIO_VDMABUF_VQ_REQ)
		vud_of(vdev)->more_requests = false;
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

/* @config is libvhost-user's, VHOST_USER_MAX_CONFIG_SIZE bytes. */
static int vud_get_config_cb(VuDev *vdev, uint8_t *config, uint32_t len)
{
	if (len > VHOST_USER_MAX_CONFIG_SIZE)
		len = VHOST_USER_MAX_CONFIG_SIZE;
	vud_get_config(&vud_of(vdev)->dev, config, len);
	return 0;
}

/*
 * The configuration space is read-only: a write (which a front-end may
 * pass on from the guest) changes nothing.  Not an error, which
 * libvhost-user would make a panic.
 */
static int vud_set_config_cb(VuDev *vdev, const uint8_t *data,
			     uint32_t offset, uint32_t size, uint32_t flags)
{
	return 0;
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
		d->more_requests = false;
		return 0;
	case VUD_USER_RESET_DEVICE:
		/*
		 * The front-end stopped the rings before (GET_VRING_BASE) and
		 * sets them up again after: disable them, as RESET_OWNER does.
		 */
		vud_log_reset(d, "device");
		vud_reset(&d->dev);
		d->more_requests = false;
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

/* ---------------------------------------------------------------------- */
/* Importers: the importer socket (include/vdmabuf/vu_importer.h)          */
/* ---------------------------------------------------------------------- */

/* Hand each importer what its queue holds, as far as its socket takes it. */
static void vud_flush_importers(struct vud_daemon *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_conns; i++) {
		struct vud_conn *c = &d->conns[i];
		const struct vud_irec *rec;

		while ((rec = vud_importer_peek(c->imp))) {
			if (send(c->fd, &rec->hdr, rec->hdr.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				if (errno != EAGAIN && errno != EINTR)
					c->dead = true;
				break;
			}
			vud_importer_pop(c->imp);
		}
	}
}

static void vud_conn_close(struct vud_daemon *d, unsigned int i)
{
	vud_importer_free(&d->dev, d->conns[i].imp);
	close(d->conns[i].fd);
	d->conns[i] = d->conns[--d->nr_conns];
}

/* Root, the daemon's own user and --importer-uid get an importer. */
static bool vud_peer_ok(struct vud_daemon *d, int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	if (!cred.uid || cred.uid == geteuid() ||
	    (d->importer_uid >= 0 && cred.uid == (uid_t)d->importer_uid))
		return true;
	if (!d->peer_warned)
		note("refused an importer of uid %u (pid %d): see --importer-uid",
		     cred.uid, cred.pid);
	d->peer_warned = true;
	return false;
}

static int vud_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* A client on the importer socket: its importer, or nothing. */
static void vud_accept(struct vud_daemon *d)
{
	int sock = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct vud_importer *imp;
	int sv[2];

	if (sock < 0)
		return;
	if (!vud_peer_ok(d, sock) || d->nr_conns == VUD_MAX_CONNS ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		close(sock);
		return;
	}
	if (vud_importer_new(&d->dev, NULL, &imp)) {
		/* max_importers reached: the client gets no descriptor. */
		close(sv[0]);
		close(sv[1]);
		close(sock);
		return;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	d->conns[d->nr_conns++] = (struct vud_conn) { .fd = sv[0], .imp = imp };
	vud_send_fd(sock, "v", 1, sv[1]);
	close(sv[1]);
	close(sock);
	vud_flush_importers(d);
}

/* One request of an importer, answered on the reply socket it came with. */
static void vud_conn_request(struct vud_daemon *d, struct vud_conn *c,
			     const uint8_t *msg, size_t n, int reply_fd)
{
	struct vdmabuf_vu_req req;
	union {
		struct vhost_vdmabuf_import import;
		struct vhost_vdmabuf_frame_done done;
		struct vhost_vdmabuf_frames frames;
		struct vhost_vdmabuf_query query;
		struct vdmabuf_vu_return ret;
	} arg = {};
	uint8_t out[VDMABUF_VU_MSG_MAX];
	struct vdmabuf_vu_reply *rep = (void *)out;
	const uint8_t *meta = NULL;
	size_t out_len = sizeof(*rep);
	int err, fd = -1;

	memcpy(&req, msg, sizeof(req));
	memset(rep, 0, sizeof(*rep));
	if (req.len != n - sizeof(req) || req.len != _IOC_SIZE(req.cmd) ||
	    req.len > sizeof(arg)) {
		err = -EINVAL;
		goto reply;
	}
	memcpy(&arg, msg + sizeof(req), req.len);
	switch (req.cmd) {
	case VHOST_VDMABUF_IMPORT:
		err = vud_import(&d->dev, c->imp, &arg.import);
		if (!err) {
			fd = arg.import.fd;
			arg.import.fd = 0;
		}
		break;
	case VHOST_VDMABUF_FRAME_DONE:
		err = vud_frame_done(&d->dev, c->imp, &arg.done);
		break;
	case VHOST_VDMABUF_FRAMES:
		err = vud_frames(&d->dev, c->imp, &arg.frames);
		break;
	case VHOST_VDMABUF_QUERY:
		err = vud_query(&d->dev, &arg.query, &meta);
		break;
	case VDMABUF_VU_RETURN:
		err = arg.ret.flags || arg.ret.padding ? -EINVAL :
		      vud_return(&d->dev, c->imp, arg.ret.uuid);
		break;
	default:
		err = -ENOTTY;
	}
	if (!err) {
		rep->len = req.len;

		memcpy(out + out_len, &arg, req.len);
		out_len += req.len;
		if (meta && arg.query.meta_len <= arg.query.meta_size) {
			memcpy(out + out_len, meta, arg.query.meta_len);
			out_len += arg.query.meta_len;
		}
	}
reply:
	rep->error = -err;
	/* An import whose dma-buf never left holds nothing. */
	if (vud_send_fd(reply_fd, out, out_len, fd) && fd >= 0)
		vud_unimport(&d->dev, c->imp, arg.import.uuid);
}

/* Messages from an importer; false once it is gone. */
static bool vud_conn_input(struct vud_daemon *d, struct vud_conn *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	uint8_t msg[sizeof(struct vdmabuf_vu_req) + 256];
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	unsigned int budget;

	/* Bounded: other importers and the guest get their turn. */
	for (budget = 0; budget < VUD_WEIGHT; budget++) {
		struct cmsghdr *cm;
		int fds[4], nfds = 0, i;
		ssize_t n;

		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS) {
				nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				nfds = nfds > 4 ? 4 : nfds;
				memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
			}
		/* No reply socket, a cut message: a broken client. */
		if (nfds != 1 || (size_t)n < sizeof(struct vdmabuf_vu_req) ||
		    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			return false;
		}
		vud_conn_request(d, c, msg, n, fds[0]);
		close(fds[0]);
	}
	return true;
}

/*
 * The front-end is gone: end every export as a reset does, and give the
 * importers a moment to read what is queued for them before the daemon
 * exits and they read end of file.
 */
static void vud_drain_importers(struct vud_daemon *d)
{
	unsigned int i, tries;

	vud_reset(&d->dev);
	for (tries = 0; tries < 20; tries++) {
		bool left = false;

		vud_flush_importers(d);
		for (i = 0; i < d->nr_conns; i++)
			left |= !d->conns[i].dead &&
				vud_importer_peek(d->conns[i].imp);
		if (!left)
			break;
		poll(NULL, 0, 100);
	}
	while (d->nr_conns)
		vud_conn_close(d, 0);
}

static int vud_listen_importers(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		die("importer socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 16))
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* Serve the front-end on @sock, and the importers, until the front-end goes. */
static void vud_run(struct vud_daemon *d, int sock)
{
	struct pollfd pfd[2 + VUD_MAX_CONNS + VUD_MAX_WATCHES];
	unsigned int i, nc, nw;

	if (!vu_init(&d->vu, VIRTIO_VDMABUF_VQ_MAX, sock, vud_panic, NULL,
		     vud_set_watch, vud_remove_watch, &vud_iface))
		die("vu_init failed");
	for (;;) {
		pfd[0] = (struct pollfd) { .fd = sock, .events = POLLIN };
		pfd[1] = (struct pollfd) { .fd = d->listen_fd, .events = POLLIN };
		nc = d->nr_conns;
		for (i = 0; i < nc; i++)
			pfd[2 + i] = (struct pollfd) {
				.fd = d->conns[i].fd,
				.events = POLLIN |
					  (vud_importer_peek(d->conns[i].imp) ?
					   POLLOUT : 0),
			};
		nw = d->nr_watches;
		for (i = 0; i < nw; i++)
			pfd[2 + nc + i] = (struct pollfd) {
				.fd = d->watches[i].fd,
				.events = d->watches[i].events,
			};
		if (poll(pfd, 2 + nc + nw, d->more_requests ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			if (!vu_dispatch(&d->vu))
				break;
			/*
			 * A ring may have become ready (its call fd came):
			 * what waited for it goes now.  The watches may have
			 * changed: poll again.
			 */
			vud_handle_requests(&d->vu, VIRTIO_VDMABUF_VQ_REQ);
			vud_deliver_events(d);
			continue;
		}
		for (i = 0; i < nw && i < d->nr_watches; i++)
			if (pfd[2 + nc + i].revents &&
			    d->watches[i].fd == pfd[2 + nc + i].fd)
				d->watches[i].cb(&d->vu, pfd[2 + nc + i].revents,
						 d->watches[i].data);
		if (d->more_requests)
			vud_handle_requests(&d->vu, VIRTIO_VDMABUF_VQ_REQ);
		/* Importers: nothing above closed or moved a connection. */
		for (i = 0; i < nc; i++)
			if ((pfd[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !vud_conn_input(d, &d->conns[i]))
				d->conns[i].dead = true;
		if (pfd[1].revents)
			vud_accept(d);
		for (i = d->nr_conns; i-- > 0;)
			if (d->conns[i].dead)
				vud_conn_close(d, i);
		vud_deliver_events(d);
		vud_flush_importers(d);
	}
	vud_drain_importers(d);
	vu_deinit(&d->vu);
}

static int vud_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, conn;

	if (strlen(path) >= sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
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
	      "  --max-export-mb=N      largest export in MiB (default and most 512,\n"
	      "                         at most udmabuf's size_limit_mb)\n"
	      "  --max-ranges=N         most ranges per export (default 16384, at most\n"
	      "                         udmabuf's list_limit and 65536)\n"
	      "  --max-meta-len=N       most metadata bytes per export (default 1024)\n"
	      "  --max-rects=N          most damage rectangles per frame (default 16)\n"
	      "  --importer-socket=PATH host programs get importers here\n"
	      "  --importer-uid=UID     besides root and this daemon's user, UID's\n"
	      "                         programs get importers\n"
	      "  --max-importers=N      most importers at once (default 64)\n"
	      "  --no-dmabuf            without /dev/udmabuf: exports are checked and\n"
	      "                         held, but no host dma-buf is made (to test the\n"
	      "                         guest alone; no --importer-socket)\n"
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

/* /dev/udmabuf, with @lim lowered to what udmabuf allows. */
static int vud_open_udmabuf(struct vud_limits *lim, char *why, size_t why_len)
{
	int fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("/dev/udmabuf: %s (modprobe udmabuf and give this user access, or --no-dmabuf)",
		    strerror(errno));
	if (vud_limits_from_udmabuf(lim, why, why_len))
		die("cannot read /sys/module/udmabuf/parameters: is udmabuf loaded?");
	return fd;
}

int main(int argc, char **argv)
{
	enum { O_FD = 256, O_EXPORTS, O_TOTAL, O_EXPORT_MB, O_RANGES, O_META,
	       O_RECTS, O_IMPORTER_SOCKET, O_IMPORTER_UID, O_IMPORTERS,
	       O_NO_DMABUF };
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, O_FD },
		{ "max-exports", required_argument, NULL, O_EXPORTS },
		{ "max-total-mb", required_argument, NULL, O_TOTAL },
		{ "max-export-mb", required_argument, NULL, O_EXPORT_MB },
		{ "max-ranges", required_argument, NULL, O_RANGES },
		{ "max-meta-len", required_argument, NULL, O_META },
		{ "max-rects", required_argument, NULL, O_RECTS },
		{ "importer-socket", required_argument, NULL, O_IMPORTER_SOCKET },
		{ "importer-uid", required_argument, NULL, O_IMPORTER_UID },
		{ "max-importers", required_argument, NULL, O_IMPORTERS },
		{ "no-dmabuf", no_argument, NULL, O_NO_DMABUF },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct vud_daemon d;
	const char *path = NULL, *importer_path = NULL;
	const char *export_mb = NULL, *ranges = NULL;
	struct vud_limits lim, def;
	bool have_path, have_fd, no_dmabuf = false, importer_opts = false;
	char why[512] = "";
	int c, fd = -1, udmabuf = -1;

	d.listen_fd = -1;
	d.importer_uid = -1;
	if (sysconf(_SC_PAGESIZE) != VIRTIO_VDMABUF_PAGE_SIZE)
		die("the page size is not 4096: udmabuf cannot take 4 KiB ranges");
	vud_limits_default(&def);
	lim = def;

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
			export_mb = optarg;
			break;
		case O_RANGES:
			ranges = optarg;
			break;
		case O_META:
			lim.max_meta_len = limit_arg("max-meta-len", optarg, 0,
						     VIRTIO_VDMABUF_MAX_META, "");
			break;
		case O_RECTS:
			lim.max_rects = limit_arg("max-rects", optarg, 0,
						  VIRTIO_VDMABUF_MAX_RECTS, "");
			break;
		case O_IMPORTER_SOCKET:
			importer_path = optarg;
			importer_opts = true;
			break;
		case O_IMPORTER_UID:
			d.importer_uid = limit_arg("importer-uid", optarg, 0,
						   0xfffffffe, "");
			importer_opts = true;
			break;
		case O_IMPORTERS:
			lim.max_importers = limit_arg("max-importers", optarg,
						      1, VUD_MAX_CONNS, "");
			importer_opts = true;
			break;
		case O_NO_DMABUF:
			no_dmabuf = true;
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
	/* The front-end's socket: a path to listen on, or a connected fd. */
	have_path = path;
	have_fd = fd >= 0;
	if (optind != argc || have_path == have_fd) {
		usage(stderr);
		return 2;
	}
	if (no_dmabuf && importer_opts)
		die("--no-dmabuf serves no importer (no dma-buf to hand): drop %s",
		    "--importer-socket, --importer-uid and --max-importers");
	if (!no_dmabuf)
		udmabuf = vud_open_udmabuf(&lim, why, sizeof(why));
	/*
	 * Bounded by udmabuf's limits where there is udmabuf, so taken once
	 * they are known; a refusal names udmabuf's parameter only where it
	 * is the bound.  The export size is never raised past its default,
	 * the ranges never past the spec's most.
	 */
	if (export_mb)
		lim.max_export_size = limit_arg("max-export-mb", export_mb, 1,
						lim.max_export_size >> 20,
						lim.max_export_size < def.max_export_size ?
						" (udmabuf's size_limit_mb)" :
						" (the default is the most)") << 20;
	if (ranges)
		lim.max_ranges = limit_arg("max-ranges", ranges, 1,
					   no_dmabuf ? VIRTIO_VDMABUF_MAX_RANGES :
					   lim.udmabuf_list_limit,
					   !no_dmabuf &&
					   lim.udmabuf_list_limit < VIRTIO_VDMABUF_MAX_RANGES ?
					   " (udmabuf's list_limit)" :
					   " (the spec's most)");
	/*
	 * The spec's promise to importers that read slowly: a queue limit
	 * at least four times the export limit.
	 */
	if (lim.max_importer_events < 4 * lim.max_exports)
		lim.max_importer_events = 4 * lim.max_exports;
	if (why[0])
		fprintf(stderr, "vhost-user-vdmabuf: %s\n", why);

	signal(SIGPIPE, SIG_IGN);
#ifdef VUD_FAULTS
	note("a build that injects faults when the guest asks: for tests only");
#endif
	if (no_dmabuf)
		note("--no-dmabuf: exports checked and held, no dma-buf made, no importer served");
	vud_device_init(&d.dev, &lim, udmabuf);
	if (importer_path)
		d.listen_fd = vud_listen_importers(importer_path);
	if (path)
		fd = vud_listen(path);
	vud_run(&d, fd);
	vud_device_fini(&d.dev);
	return 0;
}
