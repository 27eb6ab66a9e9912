/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host-side importer programs (importer_demo,
 * importer_e2e, importer_holder): get an importer fd from QEMU's
 * importer socket, read and validate importer event records, write TAP;
 * vdmabuf_util.h brings time, UUID formatting and dma-buf CPU access.
 */
#ifndef VDMABUF_IMPORTER_COMMON_H
#define VDMABUF_IMPORTER_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/dma-buf.h>
#include <linux/vhost_vdmabuf.h>

#include "vdmabuf_util.h"

#define EV_HDR_LEN	((uint32_t)sizeof(struct vhost_vdmabuf_event))
/* A read buffer that always holds the next record, and then some. */
#define EV_BUF_LEN	(16 * VHOST_VDMABUF_EVENT_MAX)

/*
 * Receive one fd passed with SCM_RIGHTS on a connected stream socket.
 * Returns the fd, or -errno (-ENODATA: the peer closed without one).
 */
static inline int recv_one_fd(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		char data[64];
		struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
		};
		struct cmsghdr *c;
		int fd = -1;
		ssize_t n;

		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			int nfds, i, fds[4];

			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
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
		if (fd >= 0)
			return fd;
		if (msg.msg_flags & MSG_CTRUNC)
			return -EMSGSIZE;
		if (n == 0)
			return -ENODATA;
	}
	return -EPROTO;
}

/**
 * importer_connect() - get an importer fd from QEMU's importer socket
 * @path: the socket (vhost-vdmabuf-pci,importer-socket=PATH)
 * @wait_ms: keep retrying this long while the socket is not there yet
 *
 * Return: a non-blocking, close-on-exec importer fd, or -errno with a
 * message on stderr.
 */
static inline int importer_connect(const char *path, uint64_t wait_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + wait_ms;
	int sock, fd, err, fl;

	size_t plen = strlen(path);

	if (plen >= sizeof(sa.sun_path)) {
		fprintf(stderr, "importer: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, plen + 1);
	for (;;) {
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sock < 0) {
			err = -errno;
			perror("importer: socket(AF_UNIX)");
			return err;
		}
		if (!connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		err = -errno;
		close(sock);
		if ((err != -ENOENT && err != -ECONNREFUSED &&
		     err != -EINTR) || now_ms() >= deadline) {
			fprintf(stderr, "importer: connect %s: %s\n", path,
				strerror(-err));
			return err;
		}
		usleep(200 * 1000);
	}
	fd = recv_one_fd(sock);
	close(sock);
	if (fd < 0) {
		fprintf(stderr, "importer: no importer fd from %s: %s\n", path,
			strerror(-fd));
		return fd;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		perror("importer: fcntl(O_NONBLOCK) on the importer fd");
		close(fd);
		return err;
	}
	return fd;
}

typedef int (*event_fn)(void *ctx, const struct vhost_vdmabuf_event *ev,
			const void *payload);

/**
 * importer_read_events() - read what is queued and hand out each record
 * @fd: non-blocking importer fd
 * @buf: scratch of EV_BUF_LEN bytes, 8-byte aligned
 * @fn: called once per record; a negative return stops and is returned
 * @ctx: for @fn
 *
 * Checks each record's length against the header's rules (a multiple of
 * 8, at least the header plus payload_len, inside what read() returned).
 *
 * Return: records handled (0 when none was queued), or -errno.
 */
static inline int importer_read_events(int fd, void *buf, event_fn fn,
				       void *ctx)
{
	int handled = 0;

	for (;;) {
		ssize_t n = read(fd, buf, EV_BUF_LEN);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return handled;
			fprintf(stderr, "importer: read(importer fd): %s\n",
				strerror(errno));
			return -errno;
		}
		if (n == 0)
			return handled;
		while (off < (size_t)n) {
			const struct vhost_vdmabuf_event *ev =
				(const void *)((char *)buf + off);
			size_t left = (size_t)n - off;
			int ret;

			if (left < EV_HDR_LEN || ev->len < EV_HDR_LEN ||
			    ev->len % 8 || ev->len > left ||
			    ev->payload_len > ev->len - EV_HDR_LEN) {
				fprintf(stderr,
					"importer: bad event record at %zu of %zd: type %u len %u payload_len %u\n",
					off, n, left >= 8 ? ev->type : 0,
					left >= 8 ? ev->len : 0,
					left >= EV_HDR_LEN ? ev->payload_len : 0);
				return -EPROTO;
			}
			ret = fn(ctx, ev, (const char *)ev + EV_HDR_LEN);
			if (ret < 0)
				return ret;
			handled++;
			off += ev->len;
		}
	}
}

/* Tell the device this importer is done with frame @seq of @uuid. */
static inline int importer_frame_done(int fd, const uint8_t *uuid,
				      uint64_t seq)
{
	struct vhost_vdmabuf_frame_done fd_arg = { .seq = seq };
	char us[37];

	memcpy(fd_arg.uuid, uuid, 16);
	for (;;) {
		if (!ioctl(fd, VHOST_VDMABUF_FRAME_DONE, &fd_arg))
			return 0;
		if (errno == EINTR)
			continue;
		/*
		 * Replaced or already completed (ESTALE), or the export is
		 * gone altogether (ENOENT: unexported and ended, which
		 * completes its frames): nothing is owed for the frame.
		 */
		if (errno == ESTALE || errno == ENOENT)
			return 0;
		fprintf(stderr,
			"importer: VHOST_VDMABUF_FRAME_DONE %s seq %llu: %s\n",
			uuid_str(uuid, us), (unsigned long long)seq,
			strerror(errno));
		return -errno;
	}
}

/* Import @uuid; returns the dma-buf fd or -errno; *size gets its size. */
static inline int importer_import(int fd, const uint8_t *uuid, uint64_t *size)
{
	struct vhost_vdmabuf_import imp = { 0 };
	char us[37];

	memcpy(imp.uuid, uuid, 16);
	while (ioctl(fd, VHOST_VDMABUF_IMPORT, &imp)) {
		if (errno == EINTR)
			continue;
		fprintf(stderr, "importer: VHOST_VDMABUF_IMPORT %s: %s\n",
			uuid_str(uuid, us), strerror(errno));
		return -errno;
	}
	if (size)
		*size = imp.size;
	return (int)imp.fd;
}

/* TAP output to a file (and nothing else). */
struct tap {
	FILE *f;
	int n;
	int failed;
};

static inline int tap_open(struct tap *t, const char *path)
{
	t->n = 0;
	t->failed = 0;
	t->f = NULL;
	if (!path)
		return 0;
	t->f = fopen(path, "w");
	if (!t->f) {
		fprintf(stderr, "importer: open TAP file %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	fprintf(t->f, "TAP version 13\n");
	fflush(t->f);
	return 0;
}

static inline void __attribute__((format(printf, 3, 4)))
tap_result(struct tap *t, int ok, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	if (!ok)
		t->failed++;
	if (!t->f)
		return;
	fprintf(t->f, "%sok %d - ", ok ? "" : "not ", t->n);
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
	fflush(t->f);
}

static inline void __attribute__((format(printf, 2, 3)))
tap_diag(struct tap *t, const char *fmt, ...)
{
	va_list ap;

	if (!t->f)
		return;
	fputs("# ", t->f);
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
	fflush(t->f);
}

static inline void tap_close(struct tap *t)
{
	if (!t->f)
		return;
	fprintf(t->f, "1..%d\n", t->n);
	fclose(t->f);
	t->f = NULL;
}

#endif /* VDMABUF_IMPORTER_COMMON_H */
