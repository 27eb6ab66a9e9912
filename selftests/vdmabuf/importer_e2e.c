// SPDX-License-Identifier: GPL-2.0
/*
 * importer_e2e: the host (L1) half of the vdmabuf end-to-end tests.
 *
 * Runs in the background while the guest runs e2e_vdmabuf; built on
 * libvdmabuf.  It imports every export whose metadata is a struct
 * e2e_meta (see e2e_proto.h: opaque metadata of the tests' own type),
 * and for each PRESENTED frame hashes the buffer through its own mapping,
 * compares with the hash the guest put in the metadata for that frame,
 * writes a struct e2e_verdict into the buffer's last 64 bytes and then
 * answers FRAME_DONE.  Frames of other exports are acknowledged at once
 * and those exports are never imported, so other guest tests see an
 * importer that is quick and holds nothing.
 *
 * usage: importer_e2e --socket PATH [--tap PATH] [--wait SEC]
 *
 * Runs until SIGTERM or SIGINT, then closes everything and writes its TAP
 * plan.  Exit: 0 if every check passed and at least one e2e frame was
 * verified, 1 otherwise, 2 on bad usage or when no importer fd could be
 * had.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <linux/dma-buf.h>

#include <vdmabuf/vdmabuf.h>

#include "e2e_proto.h"
#include "example_common.h"	/* time, TAP to a file */
#include "vdmabuf_util.h"

#define MAX_BUFS		64
#define CHILD_SETUP_MS		30000	/* second importer must be ready */
#define CHILD_SEE_MS		15000	/* ... and see frame 2 */
#define CHILD_LIFETIME_S	120	/* it exits by itself after this */

struct ebuf {
	struct vdmabuf_uuid uuid;
	int fd;			/* -1: slot free */
	uint8_t *map;
	uint64_t size;
	struct e2e_meta meta;	/* host byte order */
	uint64_t frames;	/* frames verified */
	uint64_t close_at;	/* E2E_F_HOLD: close at this time (ms) */
};

/* The E2E_F_KILL test's second importer; one at a time. */
struct killer {
	pid_t pid;		/* 0: none */
	int pipe;		/* child -> parent: 'R'eady, 'S'aw frame 2 */
	struct vdmabuf_uuid uuid;
	int ready;
	int failed;
	uint64_t deadline;	/* CHILD_SETUP_MS after fork */
	/* Frame 1 waits for the child before its FRAME_DONE. */
	int ack_pending;
	uint64_t ack_seq;
	uint64_t ack_frame;
	uint64_t kill_at;	/* 0: not scheduled */
	uint32_t kill_ms;
	uint64_t saw_seq;
};

struct e2e {
	const char *sock_path;
	struct vdmabuf_importer *imp;
	struct ebuf bufs[MAX_BUFS];
	struct killer k;
	uint64_t frames_verified;
	uint64_t frames_failed;
	uint64_t frames_other;
	struct tap tap;
	int fatal;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static const char *test_name(uint32_t id)
{
	switch (id) {
	case E2E_T_PIXELS:
		return "pixels";
	case E2E_T_REWRITE:
		return "rewrite";
	case E2E_T_EVERY:
		return "every-present";
	case E2E_T_RELEASE:
		return "release";
	case E2E_T_KILL:
		return "kill";
	default:
		return "unknown";
	}
}

static int same_uuid(const struct vdmabuf_uuid *a,
		     const struct vdmabuf_uuid *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static struct ebuf *find_buf(struct e2e *e, const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (e->bufs[i].fd >= 0 && same_uuid(&e->bufs[i].uuid, uuid))
			return &e->bufs[i];
	return NULL;
}

/* Answer FRAME_DONE for @frame of @uuid: 0 or -errno (with a message). */
static int frame_done(struct vdmabuf_importer *imp,
		      const struct vdmabuf_uuid *uuid, uint64_t frame)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	ret = vdmabuf_importer_frame_done(imp, uuid, frame);
	if (ret)
		fprintf(stderr, "importer_e2e: FRAME_DONE %s frame %llu: %s\n",
			vdmabuf_uuid_format(uuid, us),
			(unsigned long long)frame, strerror(-ret));
	return ret;
}

/* Wait up to @wait_s for QEMU's socket; a message if no fd came. */
static int connect_importer(const char *who, const char *path,
			    unsigned long wait_s,
			    struct vdmabuf_importer **imp)
{
	int ret;

	ret = vdmabuf_importer_connect(path, wait_s > INT_MAX / 1000 ?
				       INT_MAX : (int)wait_s * 1000, imp);
	if (ret) {
		fprintf(stderr, "%s: no importer fd from %s: %s\n", who, path,
			strerror(-ret));
		return ret;
	}
	/*
	 * Hold every frame, also one presented before our import of its
	 * buffer: the guest reads our verdict after FRAME_DONE.
	 */
	ret = vdmabuf_importer_frames(*imp, NULL, VHOST_VDMABUF_FRAMES_JOIN);
	if (ret) {
		fprintf(stderr, "%s: join all frames: %s\n", who,
			strerror(-ret));
		vdmabuf_importer_close(*imp);
		*imp = NULL;
	}
	return ret;
}

/* Let go of a buffer: unmapped, closed, and returned (vhost-user). */
static void drop_buf(struct vdmabuf_importer *imp, struct ebuf *b)
{
	if (b->map)
		munmap(b->map, b->size);
	close(b->fd);
	vdmabuf_importer_return(imp, &b->uuid);
	b->map = NULL;
	b->fd = -1;
	b->close_at = 0;
}

/*
 * 1: an e2e export, *m filled; 0: not ours (other metadata, e.g. the
 * demo's image running next to the tests); -EINVAL: ours but bad.
 */
static int parse_meta(const struct vdmabuf_host_event *ev,
		      struct e2e_meta *m)
{
	uint32_t i;

	if (ev->payload_len < sizeof(*m))
		return 0;
	memcpy(m, ev->payload, sizeof(*m));
	if (le32toh(m->magic) != E2E_META_MAGIC)
		return 0;
	m->magic = E2E_META_MAGIC;
	m->test_id = le32toh(m->test_id);
	m->flags = le32toh(m->flags);
	m->nr_frames = le32toh(m->nr_frames);
	m->size = le64toh(m->size);
	m->hold_ms = le32toh(m->hold_ms);
	m->kill_ms = le32toh(m->kill_ms);
	if (m->nr_frames > E2E_MAX_FRAMES)
		return -EINVAL;
	for (i = 0; i < m->nr_frames; i++) {
		m->frames[i].seq = le64toh(m->frames[i].seq);
		m->frames[i].hash = le64toh(m->frames[i].hash);
	}
	if (m->size != ev->size || m->size <= E2E_VERDICT_SIZE ||
	    m->hold_ms > 60000 || m->kill_ms > 60000 ||
	    (m->flags & ~(E2E_F_HOLD | E2E_F_KILL)))
		return -EINVAL;
	return 1;
}

static void write_all(int fd, char c)
{
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/*
 * The second importer of the E2E_F_KILL test: its own importer fd from
 * the socket, imports and maps the buffer, acknowledges frame 1 and
 * nothing after it, marks each frame it sees in the verdict area.  Every
 * frame of every other export it acknowledges at once.
 */
static void __attribute__((noreturn))
child_main(struct e2e *e, const struct vdmabuf_uuid *uuid, int wfd)
{
	uint64_t end = now_ms() + CHILD_LIFETIME_S * 1000ULL;
	struct vdmabuf_importer *imp;
	struct e2e_verdict *v = NULL;
	uint64_t size = 0;
	int fd = -1, i;
	void *map = NULL;

	/* Drop what was inherited, so only this test's buffer is held. */
	for (i = 0; i < MAX_BUFS; i++) {
		if (e->bufs[i].fd < 0)
			continue;
		if (e->bufs[i].map)
			munmap(e->bufs[i].map, e->bufs[i].size);
		close(e->bufs[i].fd);
	}
	vdmabuf_importer_close(e->imp);
	if (e->tap.f)
		fclose(e->tap.f);	/* unflushed: nothing, tap_* flushes */

	if (connect_importer("importer_e2e: child", e->sock_path, 10, &imp))
		goto fail;
	while (now_ms() < end) {
		struct pollfd pfd = {
			.fd = vdmabuf_importer_fd(imp), .events = POLLIN,
		};
		struct vdmabuf_host_event ev;
		int ret;

		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			goto fail;
		for (;;) {
			ret = vdmabuf_importer_next_event(imp, &ev, 0);
			if (ret)
				break;
			if (!same_uuid(&ev.uuid, uuid)) {
				if (ev.type == VHOST_VDMABUF_EVENT_PRESENTED)
					frame_done(imp, &ev.uuid, ev.frame);
				continue;
			}
			if (ev.type == VHOST_VDMABUF_EVENT_EXPORTED && fd < 0) {
				fd = vdmabuf_importer_import(imp, uuid, &size);
				if (fd < 0 || size <= E2E_VERDICT_SIZE)
					goto fail;
				map = mmap(NULL, size, PROT_READ | PROT_WRITE,
					   MAP_SHARED, fd, 0);
				if (map == MAP_FAILED) {
					perror("importer_e2e: child: mmap");
					goto fail;
				}
				v = (void *)((char *)map + size -
					     E2E_VERDICT_SIZE);
				write_all(wfd, 'R');
			} else if (ev.type == VHOST_VDMABUF_EVENT_PRESENTED) {
				if (v && !vdmabuf_dmabuf_sync(fd,
						DMA_BUF_SYNC_START |
						DMA_BUF_SYNC_WRITE)) {
					v->child_pid = htole32(getpid());
					v->child_seq = htole64(ev.seq);
					v->child_magic = htole32(E2E_CHILD_MAGIC);
					vdmabuf_dmabuf_sync(fd, DMA_BUF_SYNC_END |
							    DMA_BUF_SYNC_WRITE);
				}
				/* Frame 1 is the handshake; the rest we keep. */
				if (ev.seq < 2)
					frame_done(imp, uuid, ev.frame);
				else
					write_all(wfd, 'S');
			}
		}
		if (ret != -EAGAIN) {
			fprintf(stderr, "importer_e2e: child: reading events: %s\n",
				strerror(-ret));
			goto fail;
		}
	}
	_exit(0);
fail:
	write_all(wfd, 'F');
	_exit(1);
}

static void start_child(struct e2e *e, struct ebuf *b)
{
	struct killer *k = &e->k;
	int p[2];
	pid_t pid;

	if (k->pid) {
		tap_result(&e->tap, 0, "host: a second E2E_F_KILL test while one runs");
		return;
	}
	memset(k, 0, sizeof(*k));
	k->uuid = b->uuid;
	k->kill_ms = b->meta.kill_ms;
	k->pipe = -1;
	if (pipe2(p, O_CLOEXEC)) {
		perror("importer_e2e: pipe2");
		k->failed = 1;
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("importer_e2e: fork");
		close(p[0]);
		close(p[1]);
		k->failed = 1;
		return;
	}
	if (!pid) {
		close(p[0]);
		child_main(e, &b->uuid, p[1]);
	}
	close(p[1]);
	k->pid = pid;
	k->pipe = p[0];
	k->deadline = now_ms() + CHILD_SETUP_MS;
}

static void reap_child(struct e2e *e)
{
	struct killer *k = &e->k;
	int status;

	if (!k->pid)
		return;
	kill(k->pid, SIGKILL);
	while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (k->pipe >= 0)
		close(k->pipe);
	k->pid = 0;
	k->pipe = -1;
}

/* Hash the frame, write the verdict; returns E2E_R_*. */
static uint32_t verify_frame(struct ebuf *b, uint64_t seq,
			     uint32_t vflags, uint64_t *seen, uint64_t *want)
{
	struct e2e_verdict *v = (void *)(b->map + b->size - E2E_VERDICT_SIZE);
	const struct e2e_meta *m = &b->meta;
	uint32_t i, result = E2E_R_NOFRAME;
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	*seen = 0;
	*want = 0;
	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	if (ret) {
		fprintf(stderr, "importer_e2e: %s: DMA_BUF_IOCTL_SYNC start: %s\n",
			vdmabuf_uuid_format(&b->uuid, us), strerror(-ret));
		return E2E_R_HASH;
	}
	*seen = fnv1a64(b->map, b->size - E2E_VERDICT_SIZE);
	for (i = 0; i < m->nr_frames; i++) {
		if (m->frames[i].seq == seq || !m->frames[i].seq) {
			*want = m->frames[i].hash;
			result = *want == *seen ? E2E_R_PASS : E2E_R_HASH;
			break;
		}
	}
	if (result == E2E_R_PASS)
		b->frames++;
	/* Field by field: the second importer owns the child_* fields. */
	v->result = htole32(result);
	v->test_id = htole32(m->test_id);
	v->flags = htole32(vflags);
	v->seq = htole64(seq);
	v->hash_seen = htole64(*seen);
	v->hash_expected = htole64(*want);
	v->frames = htole64(b->frames);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	v->magic = htole32(E2E_VERDICT_MAGIC);
	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	if (ret) {
		fprintf(stderr, "importer_e2e: %s: DMA_BUF_IOCTL_SYNC end: %s\n",
			vdmabuf_uuid_format(&b->uuid, us), strerror(-ret));
		return E2E_R_HASH;
	}
	return result;
}

static void report_frame(struct e2e *e, struct ebuf *b, uint64_t seq,
			 uint32_t result, uint64_t seen, uint64_t want)
{
	const char *name = test_name(b->meta.test_id);

	if (result == E2E_R_PASS) {
		e->frames_verified++;
		tap_result(&e->tap, 1,
			   "host: test %s frame %llu: the host read exactly the guest's bytes (fnv1a %016llx)",
			   name, (unsigned long long)seq,
			   (unsigned long long)seen);
	} else if (result == E2E_R_NOFRAME) {
		e->frames_failed++;
		tap_result(&e->tap, 0,
			   "host: test %s frame %llu: no expected hash in the metadata",
			   name, (unsigned long long)seq);
	} else {
		e->frames_failed++;
		tap_result(&e->tap, 0,
			   "host: test %s frame %llu: host read fnv1a %016llx, guest wrote %016llx",
			   name, (unsigned long long)seq,
			   (unsigned long long)seen, (unsigned long long)want);
	}
}

/* Write the verdict for frame 1 of the kill test and acknowledge it. */
static int finish_kill_handshake(struct e2e *e)
{
	struct killer *k = &e->k;
	struct ebuf *b = find_buf(e, &k->uuid);
	uint64_t seen, want;
	uint32_t result;

	k->ack_pending = 0;
	if (b) {
		result = verify_frame(b, k->ack_seq,
				      k->ready ? E2E_VF_CHILD_READY : 0,
				      &seen, &want);
		if (!k->ready && result == E2E_R_PASS) {
			/* Tell the guest: this frame is fine, the setup is not. */
			struct e2e_verdict *v = (void *)(b->map + b->size -
							 E2E_VERDICT_SIZE);

			vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START |
					    DMA_BUF_SYNC_WRITE);
			v->result = htole32(E2E_R_CHILD);
			vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END |
					    DMA_BUF_SYNC_WRITE);
		}
		report_frame(e, b, k->ack_seq, result, seen, want);
	}
	tap_result(&e->tap, k->ready,
		   "host: test kill: a second importer (pid %d) got its own importer fd, imported and mapped the buffer",
		   (int)k->pid);
	return frame_done(e->imp, &k->uuid, k->ack_frame);
}

static int on_exported(struct e2e *e, const struct vdmabuf_host_event *ev)
{
	struct ebuf *b = NULL;
	struct e2e_meta m;
	uint64_t size = 0;
	char us[VDMABUF_UUID_STR_LEN];
	int i, ret, fd;

	ret = parse_meta(ev, &m);
	if (!ret)
		return 0;
	vdmabuf_uuid_format(&ev->uuid, us);
	if (ret < 0) {
		tap_result(&e->tap, 0, "host: export %s has bad e2e metadata",
			   us);
		return 0;
	}
	for (i = 0; i < MAX_BUFS && !b; i++)
		if (e->bufs[i].fd < 0)
			b = &e->bufs[i];
	if (find_buf(e, &ev->uuid) || !b) {
		tap_result(&e->tap, 0, "host: export %s: %s", us,
			   b ? "EXPORTED twice" : "too many buffers");
		return 0;
	}
	fd = vdmabuf_importer_import(e->imp, &ev->uuid, &size);
	if (fd < 0)
		fprintf(stderr, "importer_e2e: import %s: %s\n", us,
			strerror(-fd));
	if (fd < 0 || size != ev->size) {
		tap_result(&e->tap, 0,
			   "host: test %s: import %s (%llu bytes, import said %llu)",
			   test_name(m.test_id), us,
			   (unsigned long long)ev->size, (unsigned long long)size);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	b->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->map == MAP_FAILED) {
		tap_result(&e->tap, 0,
			   "host: test %s: mmap %llu bytes of %s read-write: %s",
			   test_name(m.test_id), (unsigned long long)size, us,
			   strerror(errno));
		b->map = NULL;
		close(fd);
		return 0;
	}
	b->uuid = ev->uuid;
	b->fd = fd;
	b->size = size;
	b->meta = m;
	b->frames = 0;
	b->close_at = 0;
	tap_diag(&e->tap, "test %s: imported %s, %llu bytes, %u expected frame(s)",
		 test_name(m.test_id), us, (unsigned long long)size,
		 m.nr_frames);
	if (m.flags & E2E_F_KILL)
		start_child(e, b);
	return 0;
}

static int on_presented(struct e2e *e, const struct vdmabuf_host_event *ev)
{
	struct ebuf *b = find_buf(e, &ev->uuid);
	struct killer *k = &e->k;
	uint64_t seen, want;
	uint32_t result;

	if (!b || b->close_at) {
		e->frames_other++;
		return frame_done(e->imp, &ev->uuid, ev->frame);
	}
	if ((b->meta.flags & E2E_F_KILL) && same_uuid(&k->uuid, &b->uuid)) {
		if (ev->seq < 2) {
			/* The handshake: acknowledged once the child is ready. */
			k->ack_pending = 1;
			k->ack_seq = ev->seq;
			k->ack_frame = ev->frame;
			if (k->ready || k->failed || !k->pid)
				return finish_kill_handshake(e);
			return 0;
		}
		if (!k->kill_at && k->pid)
			k->kill_at = now_ms() + CHILD_SEE_MS + k->kill_ms;
	}
	result = verify_frame(b, ev->seq, 0, &seen, &want);
	report_frame(e, b, ev->seq, result, seen, want);
	return frame_done(e->imp, &ev->uuid, ev->frame);
}

/* For importer_drain(): @ctx is the struct e2e. */
static int on_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct e2e *e = ctx;
	struct ebuf *b;

	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		return on_exported(e, ev);
	case VHOST_VDMABUF_EVENT_PRESENTED:
		return on_presented(e, ev);
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		b = find_buf(e, &ev->uuid);
		if (!b || b->close_at)
			return 0;
		if (e->k.pid && same_uuid(&e->k.uuid, &ev->uuid)) {
			if (e->k.ack_pending)
				finish_kill_handshake(e);
			/* Gone before frame 2: the guest test failed early. */
			if (!e->k.kill_at) {
				tap_diag(&e->tap, "test kill: UNEXPORTED before frame 2, stopping the second importer");
				reap_child(e);
			}
		}
		if (b->meta.flags & E2E_F_HOLD) {
			b->close_at = now_ms() + b->meta.hold_ms;
			tap_diag(&e->tap, "test %s: UNEXPORTED, holding the import for %u ms",
				 test_name(b->meta.test_id), b->meta.hold_ms);
		} else {
			drop_buf(e->imp, b);
		}
		return 0;
	default:
		tap_diag(&e->tap, "unknown event type %u", ev->type);
		return 0;
	}
}

/* Messages from the second importer, and its end. */
static void on_child_pipe(struct e2e *e)
{
	struct killer *k = &e->k;
	char c;
	ssize_t n;

	n = read(k->pipe, &c, 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0 || c == 'F') {
		if (!k->kill_at || now_ms() < k->kill_at) {
			tap_result(&e->tap, 0,
				   "host: test kill: the second importer failed or died early (see stderr)");
			k->failed = 1;
		}
		reap_child(e);
		if (k->ack_pending)
			finish_kill_handshake(e);
		return;
	}
	if (c == 'R') {
		k->ready = 1;
		if (k->ack_pending)
			finish_kill_handshake(e);
	} else if (c == 'S' && !k->saw_seq) {
		k->saw_seq = 2;
		k->kill_at = now_ms() + k->kill_ms;
	}
}

static void run_timers(struct e2e *e)
{
	struct killer *k = &e->k;
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < MAX_BUFS; i++) {
		struct ebuf *b = &e->bufs[i];

		if (b->fd >= 0 && b->close_at && now >= b->close_at) {
			tap_diag(&e->tap, "test %s: closed the held import",
				 test_name(b->meta.test_id));
			drop_buf(e->imp, b);
		}
	}
	if (k->pid && k->ack_pending && !k->ready && now >= k->deadline) {
		tap_diag(&e->tap, "test kill: second importer not ready in %d ms",
			 CHILD_SETUP_MS);
		k->failed = 1;
		finish_kill_handshake(e);
		reap_child(e);
	}
	if (k->pid && k->kill_at && now >= k->kill_at) {
		pid_t pid = k->pid;

		reap_child(e);
		tap_result(&e->tap, k->saw_seq != 0,
			   "host: test kill: SIGKILLed the second importer (pid %d) %s",
			   (int)pid, k->saw_seq ?
			   "while it held frame 2 without FRAME_DONE" :
			   "but it never saw frame 2");
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: importer_e2e --socket PATH [--tap PATH] [--wait SEC]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "tap", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	const char *tap_path = NULL;
	unsigned long wait_s = 300;
	struct e2e e = { .k.pipe = -1 };
	sigset_t block, orig;
	int c, i, ret;

	while ((c = getopt_long(argc, argv, "s:t:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			e.sock_path = optarg;
			break;
		case 't':
			tap_path = optarg;
			break;
		case 'w':
			wait_s = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!e.sock_path || optind != argc)
		usage();
	for (i = 0; i < MAX_BUFS; i++)
		e.bufs[i].fd = -1;
	if (tap_open(&e.tap, tap_path ? tap_path : "/dev/stdout"))
		return 2;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &orig);
	signal(SIGPIPE, SIG_IGN);

	ret = connect_importer("importer_e2e", e.sock_path, wait_s, &e.imp);
	tap_result(&e.tap, !ret, "host: got an importer fd from %s",
		   e.sock_path);
	if (ret) {
		tap_close(&e.tap);
		return 2;
	}

	while (!stop_signal && !e.fatal) {
		struct pollfd pfd[2] = {
			{ .fd = vdmabuf_importer_fd(e.imp), .events = POLLIN },
			{ .fd = e.k.pid ? e.k.pipe : -1, .events = POLLIN },
		};
		struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };

		ret = ppoll(pfd, 2, &ts, &orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror("importer_e2e: ppoll");
			e.fatal = 1;
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "importer_e2e: importer fd error (revents 0x%x)\n",
				pfd[0].revents);
			e.fatal = 1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ret = importer_drain(e.imp, "importer_e2e", on_event, &e);
			if (ret == -ENODEV ||
			    (!ret && (pfd[0].revents & POLLHUP)))
				break;	/* nothing will come any more */
			if (ret)
				e.fatal = 1;
		}
		if (pfd[1].revents)
			on_child_pipe(&e);
		run_timers(&e);
	}
	if (e.fatal)
		tap_result(&e.tap, 0, "host: the importer fd kept working (see stderr)");

	if (e.k.pid) {
		if (e.k.ack_pending)
			finish_kill_handshake(&e);
		reap_child(&e);
	}
	for (i = 0; i < MAX_BUFS; i++)
		if (e.bufs[i].fd >= 0)
			drop_buf(e.imp, &e.bufs[i]);
	vdmabuf_importer_close(e.imp);
	tap_result(&e.tap, e.frames_verified > 0 && !e.frames_failed,
		   "host: verified %llu e2e frame(s), %llu failed, acknowledged %llu other frame(s)",
		   (unsigned long long)e.frames_verified,
		   (unsigned long long)e.frames_failed,
		   (unsigned long long)e.frames_other);
	ret = e.tap.failed ? 1 : 0;
	tap_close(&e.tap);
	return ret;
}
