/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal QMP client for the host programs that ask QEMU for a
 * screendump of its vhost-vdmabuf display (importer_demo, and
 * importer_display of the selftests).
 *
 * QMP sends one JSON object per line: a greeting, then for each command
 * its answer ("return" or "error"), with asynchronous events ("event")
 * in between, which are passed over.  No JSON parser: the answers looked
 * for are recognised by their keys, and an error's line is passed on as
 * it came.  Every wait is bounded by the timeout, so a QEMU that hangs
 * fails the caller instead of hanging it, and a stop signal the caller
 * lets through (@mask, @stop) ends it at once.
 */
#ifndef VDMABUF_QMP_CLIENT_H
#define VDMABUF_QMP_CLIENT_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define QMP_BUF		65536

/**
 * struct qmp - a QMP connection
 * @fd: the socket, -1 when not connected
 * @len: bytes in @buf
 * @skip: discard what comes up to the next newline (an overlong line)
 * @path: QEMU's QMP socket
 * @timeout_ms: how long connecting, and each command, may take
 * @mask: the signal mask to wait with (ppoll), NULL for the current one
 * @stop: when it becomes non-zero (a signal handler sets it), every wait
 *	ends with -EINTR; may be NULL
 * @buf: what was read and not yet taken as a line
 */
struct qmp {
	int fd;
	size_t len;
	int skip;
	const char *path;
	int timeout_ms;
	const sigset_t *mask;
	volatile sig_atomic_t *stop;
	char buf[QMP_BUF];
};

static inline uint64_t qmp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets up @q, not connected; qmp_command() connects on first use. */
static inline void qmp_init(struct qmp *q, const char *path, int timeout_ms,
			    const sigset_t *mask, volatile sig_atomic_t *stop)
{
	q->fd = -1;
	q->len = 0;
	q->skip = 0;
	q->path = path;
	q->timeout_ms = timeout_ms;
	q->mask = mask;
	q->stop = stop;
}

static inline void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->len = 0;
	q->skip = 0;
}

/*
 * Waits until @q's socket has @events or @deadline (ms) passes: 0,
 * -ETIMEDOUT, -EINTR (stopped) or -errno.
 */
static inline int qmp_wait(struct qmp *q, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = q->fd, .events = events };
	struct timespec ts;
	uint64_t now;
	int ret;

	for (;;) {
		if (q->stop && *q->stop)
			return -EINTR;
		now = qmp_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		ts.tv_sec = (deadline - now) / 1000;
		ts.tv_nsec = (long)((deadline - now) % 1000) * 1000000L;
		ret = ppoll(&p, 1, &ts, q->mask);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret > 0)
			return 0;
	}
}

/* The @n bytes at @s as a string in @out, cut to @size - 1 bytes. */
static inline void qmp_copy_cut(char *out, size_t size, const char *s,
				size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * The next line QMP sent, without its newline, into @line (cut to
 * @size): 0, -ECONNRESET at end of file, -ETIMEDOUT, -EINTR or -errno.
 */
static inline int qmp_line(struct qmp *q, char *line, size_t size,
			   uint64_t deadline)
{
	char *nl;
	size_t n;
	ssize_t r;
	int ret;

	for (;;) {
		nl = memchr(q->buf, '\n', q->len);
		if (q->skip) {
			/* The rest of an overlong line */
			if (!nl) {
				q->len = 0;
			} else {
				q->skip = 0;
				n = nl - q->buf + 1;
				memmove(q->buf, q->buf + n, q->len - n);
				q->len -= n;
				continue;
			}
		} else if (nl) {
			n = nl - q->buf;
			qmp_copy_cut(line, size, q->buf, n);
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			return 0;
		} else if (q->len == sizeof(q->buf)) {
			qmp_copy_cut(line, size, q->buf, q->len);
			q->len = 0;
			q->skip = 1;
			return 0;
		}
		ret = qmp_wait(q, POLLIN, deadline);
		if (ret)
			return ret;
		r = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return -ECONNRESET;
		q->len += r;
	}
}

/*
 * Send @cmd; with @fd >= 0, pass @fd along with its first byte
 * (SCM_RIGHTS), as QMP's getfd and add-fd take descriptors.
 */
static inline int qmp_send(struct qmp *q, const char *cmd, int fd,
			   uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t off = 0, len = strlen(cmd);
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t r;
	int ret;

	while (off < len) {
		ret = qmp_wait(q, POLLOUT, deadline);
		if (ret)
			return ret;
		iov.iov_base = (char *)cmd + off;
		iov.iov_len = len - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (fd >= 0) {
			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		r = sendmsg(q->fd, &msg, MSG_NOSIGNAL);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		off += r;
		/* The descriptor went with the bytes just sent */
		fd = -1;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
	return 0;
}

static inline int qmp_connect(struct qmp *q, char *err, size_t err_len);

/**
 * qmp_command_fd() - send one command with a descriptor, read its answer
 * @q: the connection, connected first if it is not
 * @cmd: a JSON object and a newline
 * @fd: a descriptor QEMU gets with the command (getfd), or -1 for none;
 *	it stays the caller's
 * @err: out: why it failed
 * @err_len: bytes at @err
 *
 * Passes over events.
 *
 * Return: 0 on "return"; -EREMOTEIO on "error", its line in @err; another
 * negative errno (and the connection closed) if QMP failed.
 */
static inline int qmp_command_fd(struct qmp *q, const char *cmd, int fd,
				 char *err, size_t err_len)
{
	uint64_t deadline;
	char line[1024];
	size_t n;
	int ret;

	if (q->fd < 0) {
		ret = qmp_connect(q, err, err_len);
		if (ret)
			return ret;
	}
	deadline = qmp_now_ms() + q->timeout_ms;
	ret = qmp_send(q, cmd, fd, deadline);
	while (!ret) {
		ret = qmp_line(q, line, sizeof(line), deadline);
		if (ret)
			break;
		if (strstr(line, "\"event\""))
			continue;
		if (strstr(line, "\"return\""))
			return 0;
		if (strstr(line, "\"error\"")) {
			snprintf(err, err_len, "QMP answered ");
			n = strlen(err);
			qmp_copy_cut(err + n, err_len - n, line, strlen(line));
			return -EREMOTEIO;
		}
	}
	snprintf(err, err_len, "QMP %s: %s", q->path, strerror(-ret));
	qmp_close(q);
	return ret;
}

/* qmp_command_fd() without a descriptor. */
static inline int qmp_command(struct qmp *q, const char *cmd, char *err,
			      size_t err_len)
{
	return qmp_command_fd(q, cmd, -1, err, err_len);
}

/**
 * qmp_connect() - connect and leave the capabilities negotiation mode
 * @q: the connection
 * @err: out: why it failed
 * @err_len: bytes at @err
 *
 * Retries for the timeout while the socket is not there yet (QEMU is
 * starting).
 *
 * Return: 0, or a negative errno with @err set.
 */
static inline int qmp_connect(struct qmp *q, char *err, size_t err_len)
{
	uint64_t deadline = qmp_now_ms() + q->timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[1024];
	int ret;

	if (strlen(q->path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "QMP socket path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, q->path, strlen(q->path) + 1);
	for (;;) {
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd < 0) {
			ret = -errno;
			goto fail;
		}
		if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		ret = -errno;
		qmp_close(q);
		if ((ret != -ENOENT && ret != -ECONNREFUSED &&
		     ret != -EAGAIN) || qmp_now_ms() >= deadline ||
		    (q->stop && *q->stop))
			goto fail;
		usleep(200 * 1000);
	}
	/* The greeting, {"QMP": {...}} */
	do {
		ret = qmp_line(q, line, sizeof(line), deadline);
		if (ret)
			goto fail;
	} while (!strstr(line, "\"QMP\""));
	return qmp_command(q, "{\"execute\": \"qmp_capabilities\"}\n", err,
			   err_len);

fail:
	snprintf(err, err_len, "QMP %s: %s", q->path, strerror(-ret));
	qmp_close(q);
	return ret;
}

/* @s as the inside of a JSON string, into @out (cut to @size). */
static inline void qmp_json_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 7 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += snprintf(out + o, size - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

/**
 * qmp_screendump() - QEMU writes a picture of a console to a file
 * @q: the connection
 * @device: the display device's id
 * @head: its output
 * @path: the file, which QEMU (not the caller) writes
 * @format: "ppm" or "png"
 * @err: out: why it failed
 * @err_len: bytes at @err
 *
 * Return: as qmp_command().
 */
static inline int qmp_screendump(struct qmp *q, const char *device,
				 uint32_t head, const char *path,
				 const char *format, char *err, size_t err_len)
{
	char dev[256], file[2 * PATH_MAX], cmd[2 * PATH_MAX + 512];

	qmp_json_escape(device, dev, sizeof(dev));
	qmp_json_escape(path, file, sizeof(file));
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\": \"screendump\", \"arguments\": {\"device\": \"%s\", \"head\": %u, \"filename\": \"%s\", \"format\": \"%s\"}}\n",
		 dev, head, file, format);
	return qmp_command(q, cmd, err, err_len);
}

#endif /* VDMABUF_QMP_CLIENT_H */
