// SPDX-License-Identifier: MIT
/*
 * libvdmabuf: host importer fds and their event records.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "internal.h"
#include "vdmabuf/vu_importer.h"

/* A read buffer that always holds the next record, and then some. */
#define IMP_BUF_LEN	(16 * VHOST_VDMABUF_EVENT_MAX)

/* How long connect waits for the VMM's byte at least, in ms. */
#define IMP_RECV_MIN_MS	5000

/* Pause between connection attempts, in ms. */
#define IMP_RETRY_MS	100

/*
 * @fd is the kernel back-end's importer fd, or (@sock) the importer
 * socket of the vhost-user back-end's daemon, which reads alike.
 */
struct vdmabuf_importer {
	int fd;
	bool sock;
	/* What the last read() returned, and where the next record starts. */
	size_t len;
	size_t off;
	unsigned char buf[IMP_BUF_LEN] __attribute__((aligned(8)));
};

/* A SOCK_SEQPACKET socket: the vhost-user back-end's importer. */
static bool vdb_is_seqpacket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return !getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) &&
	       type == SOCK_SEQPACKET;
}

VDMABUF_EXPORT int vdmabuf_importer_from_fd(int fd,
					    struct vdmabuf_importer **impp)
{
	struct vdmabuf_importer *imp;
	int ret;

	if (!impp)
		return -EINVAL;
	*impp = NULL;
	if (fd < 0)
		return -EBADF;
	ret = vdb_set_nonblock(fd);
	if (ret)
		return ret;
	imp = malloc(sizeof(*imp));
	if (!imp)
		return -ENOMEM;
	imp->fd = fd;
	imp->sock = vdb_is_seqpacket(fd);
	imp->len = 0;
	imp->off = 0;
	*impp = imp;
	return 0;
}

/*
 * The one fd the peer of @sock sends with its byte: the fd, -EPROTO if
 * it sent none, -EAGAIN if nothing came by @deadline, or -errno.
 */
static int recv_one_fd(int sock, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	char data[16];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd = -1;
	ssize_t n;

	for (;;) {
		int ret = vdb_wait_fd(sock, POLLIN, deadline);

		if (ret)
			return ret;
		msg.msg_controllen = sizeof(u.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		int fds[4];
		size_t nfds, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfds > 4)
			nfds = 4;
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
		for (i = 0; i < nfds; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]);	/* only one expected */
		}
	}
	if (fd >= 0 && (msg.msg_flags & MSG_CTRUNC)) {
		close(fd);
		fd = -1;
	}
	return fd >= 0 ? fd : -EPROTO;
}

VDMABUF_EXPORT int vdmabuf_importer_connect(const char *socket_path,
					    int timeout_ms,
					    struct vdmabuf_importer **impp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline;
	size_t plen;
	int sock, fd, ret;

	if (!impp)
		return -EINVAL;
	*impp = NULL;
	if (!socket_path || !*socket_path)
		return -EINVAL;
	plen = strlen(socket_path);
	if (plen >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, plen + 1);

	deadline = vdb_deadline(timeout_ms);
	for (;;) {
		int left;

		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sock < 0)
			return -errno;
		if (!connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		ret = -errno;
		close(sock);
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -EINTR)
			return ret;
		left = vdb_remaining(deadline);
		if (left == 0)
			return ret == -EINTR ? -EAGAIN : ret;
		if (left < 0 || left > IMP_RETRY_MS)
			left = IMP_RETRY_MS;
		poll(NULL, 0, left);
	}

	/* The VMM answers at once; give a slow one a few seconds anyway. */
	if (deadline != VDB_FOREVER && vdb_remaining(deadline) < IMP_RECV_MIN_MS)
		deadline = vdb_deadline(IMP_RECV_MIN_MS);
	fd = recv_one_fd(sock, deadline);
	close(sock);
	if (fd == -EAGAIN)
		return -ETIMEDOUT;
	if (fd < 0)
		return fd;
	ret = vdmabuf_importer_from_fd(fd, impp);
	if (ret)
		close(fd);
	return ret;
}

VDMABUF_EXPORT void vdmabuf_importer_close(struct vdmabuf_importer *imp)
{
	if (!imp)
		return;
	close(imp->fd);
	free(imp);
}

VDMABUF_EXPORT int vdmabuf_importer_fd(const struct vdmabuf_importer *imp)
{
	return imp ? imp->fd : -EINVAL;
}

VDMABUF_EXPORT int vdmabuf_record_next(const void *buf, size_t len,
				       size_t *off,
				       struct vdmabuf_host_event *ev)
{
	const unsigned char *rec;
	struct vhost_vdmabuf_event h;
	size_t left;

	if (!off || !ev || (!buf && len))
		return -EINVAL;
	if (*off >= len)
		return *off == len ? 0 : -EINVAL;
	left = len - *off;
	if (left < VDB_EV_HDR_LEN)
		return -EPROTO;
	rec = (const unsigned char *)buf + *off;
	/* The buffer need not be aligned. */
	memcpy(&h, rec, sizeof(h));
	if (h.len < VDB_EV_HDR_LEN || h.len % 8 || h.len > left ||
	    h.len > VHOST_VDMABUF_EVENT_MAX)
		return -EPROTO;
	if (h.payload_len > h.len - VDB_EV_HDR_LEN)
		return -EPROTO;
	if (h.type == VHOST_VDMABUF_EVENT_PRESENTED &&
	    h.payload_len % sizeof(struct vhost_vdmabuf_rect))
		return -EPROTO;

	memset(ev, 0, sizeof(*ev));
	ev->type = h.type;
	ev->flags = h.flags;
	memcpy(ev->uuid.b, h.uuid, sizeof(ev->uuid.b));
	ev->size = h.size;
	ev->seq = h.seq;
	ev->payload = rec + VDB_EV_HDR_LEN;
	ev->payload_len = h.payload_len;
	if (h.type == VHOST_VDMABUF_EVENT_PRESENTED) {
		ev->nr_rects = h.payload_len /
			       (uint32_t)sizeof(struct vhost_vdmabuf_rect);
		ev->frame = h.frame;
		ev->nr_frames = h.nr_frames;
	}
	*off += h.len;
	return 1;
}

VDMABUF_EXPORT int vdmabuf_event_damage(const struct vdmabuf_host_event *ev,
					uint32_t i, struct vdmabuf_rect *rect)
{
	struct vhost_vdmabuf_rect r;

	if (!ev || !rect || ev->type != VHOST_VDMABUF_EVENT_PRESENTED ||
	    i >= ev->nr_rects || !ev->payload ||
	    (uint64_t)(i + 1) * sizeof(r) > ev->payload_len)
		return -EINVAL;
	/* Host byte order already; the payload need not be aligned. */
	memcpy(&r, (const unsigned char *)ev->payload + (size_t)i * sizeof(r),
	       sizeof(r));
	rect->x = r.x;
	rect->y = r.y;
	rect->width = r.width;
	rect->height = r.height;
	return 0;
}

VDMABUF_EXPORT int vdmabuf_importer_next_event(struct vdmabuf_importer *imp,
					       struct vdmabuf_host_event *ev,
					       int timeout_ms)
{
	int64_t deadline;

	if (!imp || !ev)
		return -EINVAL;
	deadline = vdb_deadline(timeout_ms);
	for (;;) {
		ssize_t n;
		int ret;

		if (imp->off < imp->len) {
			ret = vdmabuf_record_next(imp->buf, imp->len,
						  &imp->off, ev);
			if (ret == 1)
				return 0;
			if (ret < 0) {
				/*
				 * Hand out nothing past a malformed record;
				 * the next read() starts at a record again.
				 */
				imp->len = 0;
				imp->off = 0;
				return ret;
			}
		}
		imp->len = 0;
		imp->off = 0;
		n = read(imp->fd, imp->buf, sizeof(imp->buf));
		if (n > 0) {
			imp->len = (size_t)n;
			continue;
		}
		if (n == 0)
			return -ENODEV;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = vdb_wait_fd(imp->fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
}

/* How long the vhost-user back-end's daemon may take to answer, in ms. */
#define IMP_REPLY_MS	10000

/*
 * One ioctl of the importer fd, as a message to the vhost-user back-end's
 * daemon (vdmabuf/vu_importer.h): the request with a reply socket, then
 * the answer on it.  VHOST_VDMABUF_IMPORT's dma-buf comes back in
 * @arg->fd; VHOST_VDMABUF_QUERY's metadata is copied to its meta_ptr.
 */
static int imp_sock_call(struct vdmabuf_importer *imp, uint32_t cmd, void *arg)
{
	uint32_t size = _IOC_SIZE(cmd);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	unsigned char msg[VDMABUF_VU_MSG_MAX] __attribute__((aligned(8)));
	struct vdmabuf_vu_req req = { .cmd = cmd, .len = size };
	struct vdmabuf_vu_reply rep;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(req) + size };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	int64_t deadline = vdb_deadline(IMP_REPLY_MS);
	struct cmsghdr *c;
	int sv[2], fd = -1, ret;
	bool has_fd, import;
	ssize_t n;

	if (sizeof(req) + size > sizeof(msg))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	memcpy(msg, &req, sizeof(req));
	memcpy(msg + sizeof(req), arg, size);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
	while (sendmsg(imp->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		ret = errno == EAGAIN ? vdb_wait_fd(imp->fd, POLLOUT, deadline) :
		      errno == EINTR ? 0 : errno == EPIPE ? -ENODEV : -errno;
		if (ret) {
			close(sv[0]);
			close(sv[1]);
			return ret == -EAGAIN ? -ETIMEDOUT : ret;
		}
	}
	close(sv[1]);

	iov.iov_len = sizeof(msg);
	for (;;) {
		ret = vdb_wait_fd(sv[0], POLLIN, deadline);
		if (ret)
			break;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	close(sv[0]);
	if (ret)
		return ret == -EAGAIN ? -ETIMEDOUT : ret;
	if (n < 0)
		return -errno;
	/* One fd at most is ours; close any other the daemon sent. */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t i, nfds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f);
		}
	}
	/* The daemon went without answering: its VMM is gone. */
	ret = -ENODEV;
	if (n == 0)
		goto out;
	ret = -EPROTO;
	if ((size_t)n < sizeof(rep) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		goto out;
	memcpy(&rep, msg, sizeof(rep));
	if (rep.error) {
		ret = -(int)rep.error;
		goto out;
	}
	/* A dma-buf with an import's answer, and only there. */
	has_fd = fd >= 0;
	import = cmd == VHOST_VDMABUF_IMPORT;
	if (rep.len != size || (size_t)n < sizeof(rep) + size ||
	    has_fd != import)
		goto out;
	if (cmd == VHOST_VDMABUF_QUERY) {
		/* Where the metadata goes is the caller's to say, not the daemon's. */
		struct vhost_vdmabuf_query *q = arg;
		uint64_t meta_ptr = q->meta_ptr;
		uint32_t meta_size = q->meta_size;

		memcpy(arg, msg + sizeof(rep), size);
		q->meta_ptr = meta_ptr;
		q->meta_size = meta_size;
	} else {
		memcpy(arg, msg + sizeof(rep), size);
	}
	if (cmd == VHOST_VDMABUF_IMPORT) {
		((struct vhost_vdmabuf_import *)arg)->fd = fd;
		return 0;
	}
	if (cmd == VHOST_VDMABUF_QUERY) {
		struct vhost_vdmabuf_query *q = arg;

		if ((size_t)n - sizeof(rep) - size == q->meta_len &&
		    q->meta_len && q->meta_len <= q->meta_size)
			memcpy((void *)(uintptr_t)q->meta_ptr,
			       msg + sizeof(rep) + size, q->meta_len);
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* An ioctl of the importer fd, on either back-end. */
static int imp_call(struct vdmabuf_importer *imp, uint32_t cmd, void *arg)
{
	return imp->sock ? imp_sock_call(imp, cmd, arg) :
	       vdb_ioctl(imp->fd, cmd, arg);
}

VDMABUF_EXPORT int vdmabuf_importer_import(struct vdmabuf_importer *imp,
					   const struct vdmabuf_uuid *uuid,
					   uint64_t *size)
{
	struct vhost_vdmabuf_import arg = { 0 };
	int ret;

	if (!imp || !uuid)
		return -EINVAL;
	memcpy(arg.uuid, uuid->b, sizeof(arg.uuid));
	ret = imp_call(imp, VHOST_VDMABUF_IMPORT, &arg);
	if (ret < 0)
		return ret;
	if (size)
		*size = arg.size;
	return (int)arg.fd;
}

VDMABUF_EXPORT int vdmabuf_importer_frame_done(struct vdmabuf_importer *imp,
					       const struct vdmabuf_uuid *uuid,
					       uint64_t frame)
{
	struct vhost_vdmabuf_frame_done arg = { .frame = frame };
	int ret;

	if (!imp || !uuid)
		return -EINVAL;
	memcpy(arg.uuid, uuid->b, sizeof(arg.uuid));
	ret = imp_call(imp, VHOST_VDMABUF_FRAME_DONE, &arg);
	/*
	 * Replaced or already completed (ESTALE), or the export is gone
	 * (ENOENT, which completes its frames): nothing is owed.
	 */
	if (ret == -ESTALE || ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : 0;
}

VDMABUF_EXPORT int vdmabuf_importer_frames(struct vdmabuf_importer *imp,
					   const struct vdmabuf_uuid *uuid,
					   uint32_t op)
{
	struct vhost_vdmabuf_frames arg = { .op = op };

	if (!imp)
		return -EINVAL;
	if (uuid)
		memcpy(arg.uuid, uuid->b, sizeof(arg.uuid));
	else
		arg.flags = VHOST_VDMABUF_FRAMES_F_ALL;
	return imp_call(imp, VHOST_VDMABUF_FRAMES, &arg);
}

VDMABUF_EXPORT int vdmabuf_importer_query(struct vdmabuf_importer *imp,
					  const struct vdmabuf_uuid *uuid,
					  struct vdmabuf_buffer_info *info,
					  void *meta, uint32_t meta_size)
{
	struct vhost_vdmabuf_query q = { 0 };
	int ret;

	if (!imp || !uuid || !info)
		return -EINVAL;
	memcpy(q.uuid, uuid->b, sizeof(q.uuid));
	if (meta && meta_size) {
		q.meta_ptr = (uint64_t)(uintptr_t)meta;
		q.meta_size = meta_size;
	}
	ret = imp_call(imp, VHOST_VDMABUF_QUERY, &q);
	if (ret < 0)
		return ret;
	memset(info, 0, sizeof(*info));
	info->size = q.size;
	info->last_seq = q.last_seq;
	info->last_frame = q.last_frame;
	info->nr_ranges = q.nr_ranges;
	info->state = q.state;
	info->meta_len = q.meta_len;
	return 0;
}

VDMABUF_EXPORT int vdmabuf_importer_return(struct vdmabuf_importer *imp,
					   const struct vdmabuf_uuid *uuid)
{
	struct vdmabuf_vu_return arg = { 0 };

	if (!imp || !uuid)
		return -EINVAL;
	/* The kernel back-end sees the last close of its dma-bufs itself. */
	if (!imp->sock)
		return 0;
	memcpy(arg.uuid, uuid->b, sizeof(arg.uuid));
	return imp_call(imp, VDMABUF_VU_RETURN, &arg);
}
