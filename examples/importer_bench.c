// SPDX-License-Identifier: GPL-2.0
/*
 * importer_bench: the host (L1) half of the vdmabuf benchmark.
 *
 * Built on libvdmabuf.  Runs in the background while bench_guest runs in the guest (see
 * bench_proto.h for what they tell each other) and measures the host's
 * side of each step:
 *
 *  - zero copy, first use (exports whose metadata says BENCH_R_ZC; cycle
 *    0, the guest's warm-up, is checked but not timed): on EXPORTED it
 *    imports the buffer by UUID and mmaps it (each timed); on PRESENTED it
 *    reads the first 8 bytes of every 4 KiB page through that mapping
 *    between DMA_BUF_SYNC_START and _END (timed: "touch"; the first access
 *    to each page also faults it into this process) and checks each
 *    against the guest's stamp, then answers FRAME_DONE; on UNEXPORTED it
 *    unmaps and closes (timed), which lets RELEASED go to the guest.  Host
 *    memory per export: the VMM's VmPin in /proc/PID/status right after
 *    the import, minus its value before any export (the driver counts
 *    pinned pages in the VMM's pinned_vm; the VMM is the process that
 *    names our socket and holds /dev/vhost-vdmabuf open);
 *  - steady state (BENCH_R_STEADY): imported once on EXPORTED, every
 *    PRESENTED answered with FRAME_DONE at once, untouched;
 *  - vsock port BENCH_VSOCK_PORT: a BENCH_K_PING connection (the floor,
 *    open during the steady state) gets every byte echoed from the main
 *    loop, next to the importer fd; a BENCH_K_COPY connection is served
 *    to its end: each frame is read in full into a frame-sized buffer
 *    (timed from its header to its last byte) and answered with one
 *    byte, after checking every word for a BENCH_F_VERIFY frame, at once
 *    for the others (a BENCH_F_LAST frame is checked after the answer);
 *  - FRAME_DONE pacing (bench_guest's image exports, on both devices):
 *    every PRESENTED of a buffer that is not a benchmark export is
 *    answered with FRAME_DONE at once, on the device of --socket and on
 *    that of --display-socket, whose frames QEMU's display answers too.
 *
 * usage: importer_bench --socket PATH [--display-socket PATH] [--tap PATH]
 *	  [--wait SEC] [--progress FILE]
 *
 * --progress FILE gets a "VDMABUF-STAGE: l2: bench ..." line whenever the
 * guest starts a new part (the test bed passes L1's console).  Runs until
 * SIGTERM or SIGINT, then prints every number as "bench host.KEY VALUE",
 * every timing as "bench host.KEY N MEDIAN MIN MAX MEAN" (ms), and writes
 * its TAP plan.  Nothing about time is asserted.
 * Exit: 0 if every part was seen for every size and everything arrived
 * intact, 1 otherwise, 2 on bad usage or when no importer fd could be had.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/dma-buf.h>
#include <linux/vm_sockets.h>

#include <vdmabuf/vdmabuf.h>

#include "bench_proto.h"
#include "example_common.h"

#define MAX_BUFS		16
#define MAX_ZC			256	/* zero-copy cycles kept per size */
#define MAX_COPY		256	/* copied frames kept per size */
#define VSOCK_BUF_BYTES		(4ULL << 20)
#define VSOCK_TIMEOUT_S		300
#define HOST_PREFIX		"bench host."

struct hbuf {
	struct vdmabuf_uuid uuid;
	int fd;			/* -1: slot free */
	const uint64_t *map;
	uint64_t size;
	struct bench_meta meta;	/* host byte order */
};

/* What the host saw of one frame size. */
struct hsize {
	struct bench_samples import, mmap, touch, close, recv;
	unsigned int zc_imported;
	unsigned int zc_touched;
	uint64_t pages_checked;
	uint64_t pages_bad;
	unsigned int bad_exports;
	int64_t vmpin_min, vmpin_max;	/* bytes */
	unsigned int steady_imported;
	uint64_t steady_acked;
	unsigned int copy_conns;
	uint64_t copy_frames;
	uint64_t copy_bytes;
	unsigned int copy_verified;
	unsigned int copy_bad;
	uint64_t copy_buffer;
	int announced_zc, announced_steady;
};

struct hbench {
	const char *sock_path;
	struct vdmabuf_importer *imp;
	/* The device with QEMU's display (--display-socket), or NULL */
	const char *disp_path;
	struct vdmabuf_importer *disp;
	uint64_t disp_frames;	/* answered there */
	int announced_pacing;
	int lsn;
	FILE *progress;
	pid_t vmm;
	int64_t vmpin_base;	/* bytes, -1: unknown */
	struct hbuf bufs[MAX_BUFS];
	struct hsize sz[BENCH_NR_SIZES];
	int ping;		/* the open BENCH_K_PING connection, or -1 */
	uint64_t pings;
	unsigned int ping_conns;
	unsigned int bad_conns;
	uint64_t frames_other;
	struct tap tap;
	int fatal;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void __attribute__((format(printf, 2, 3)))
progress(struct hbench *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("importer_bench: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (!h->progress)
		return;
	va_start(ap, fmt);
	fputs("VDMABUF-STAGE: l2: bench ", h->progress);
	vfprintf(h->progress, fmt, ap);
	fputc('\n', h->progress);
	fflush(h->progress);
	va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* The VMM's locked memory                                                */
/* ---------------------------------------------------------------------- */

/* Does @pid hold /dev/vhost-vdmabuf open? */
static int holds_vhost(int pid)
{
	char path[64], link[64];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, "/dev/vhost-vdmabuf");
	}
	closedir(d);
	return found;
}

/*
 * The VMM: the process whose command line names our importer socket and
 * which holds the vhost device open (not, say, a timeout(1) wrapping it).
 */
static pid_t find_vmm(const char *sock_path)
{
	char want[256], path[64], cmd[8192];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(want, sizeof(want), "importer-socket=%s", sock_path);
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		int pid = atoi(de->d_name);
		size_t n, i;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		cmd[n] = '\0';
		for (i = 0; i < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		if (strstr(cmd, want) && holds_vhost(pid))
			found = pid;
	}
	closedir(d);
	return found;
}

/* VmPin of @pid in bytes, or -1. */
static int64_t vmpin_bytes(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* ---------------------------------------------------------------------- */
/* Importer events                                                        */
/* ---------------------------------------------------------------------- */

static struct hbuf *find_buf(struct hbench *h,
			     const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (h->bufs[i].fd >= 0 &&
		    !memcmp(&h->bufs[i].uuid, uuid, sizeof(*uuid)))
			return &h->bufs[i];
	return NULL;
}

/* Answer FRAME_DONE for the frame of @ev: 0 or -errno (with a message). */
static int frame_done(struct vdmabuf_importer *imp,
		      const struct vdmabuf_host_event *ev)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	ret = vdmabuf_importer_frame_done(imp, &ev->uuid, ev->frame);
	if (ret)
		fprintf(stderr, "importer_bench: FRAME_DONE %s seq %llu: %s\n",
			vdmabuf_uuid_format(&ev->uuid, us),
			(unsigned long long)ev->seq, strerror(-ret));
	return ret;
}

/* 1: a benchmark export, *@m filled in; 0: someone else's; -1: bad. */
static int parse_meta(const struct vdmabuf_host_event *ev,
		      struct bench_meta *m)
{
	if (ev->payload_len < sizeof(*m))
		return 0;
	memcpy(m, ev->payload, sizeof(*m));
	if (le32toh(m->magic) != BENCH_META_MAGIC)
		return 0;
	m->magic = le32toh(m->magic);
	m->role = le32toh(m->role);
	m->size_idx = le32toh(m->size_idx);
	m->iter = le32toh(m->iter);
	m->width = le32toh(m->width);
	m->height = le32toh(m->height);
	m->stride = le32toh(m->stride);
	m->fourcc = le32toh(m->fourcc);
	m->seed = le64toh(m->seed);
	if ((m->role != BENCH_R_ZC && m->role != BENCH_R_STEADY) ||
	    m->size_idx >= BENCH_NR_SIZES ||
	    m->width != bench_sizes[m->size_idx].width ||
	    m->height != bench_sizes[m->size_idx].height ||
	    ev->size != bench_bytes(m->size_idx))
		return -1;
	return 1;
}

static int on_exported(struct hbench *h, const struct vdmabuf_host_event *ev)
{
	struct hbuf *b = NULL;
	struct hsize *z;
	struct bench_meta m;
	uint64_t size = 0, t0, t1;
	char us[VDMABUF_UUID_STR_LEN];
	int i, ret, fd;
	void *map;

	ret = parse_meta(ev, &m);
	if (!ret)
		return 0;
	vdmabuf_uuid_format(&ev->uuid, us);
	if (ret < 0) {
		fprintf(stderr, "importer_bench: %s: bad benchmark metadata\n",
			us);
		h->sz[0].bad_exports++;
		return 0;
	}
	z = &h->sz[m.size_idx];
	if (m.role == BENCH_R_ZC && !z->announced_zc) {
		z->announced_zc = 1;
		progress(h, "%s: zero copy, first use (export, import, touch, release)",
			 bench_sizes[m.size_idx].name);
	} else if (m.role == BENCH_R_STEADY && !z->announced_steady) {
		z->announced_steady = 1;
		progress(h,
			 "%s: steady state (PRESENT until FRAME_DONE) and the floor (1-byte vsock round trip), interleaved",
			 bench_sizes[m.size_idx].name);
	}
	for (i = 0; i < MAX_BUFS && !b; i++)
		if (h->bufs[i].fd < 0)
			b = &h->bufs[i];
	if (!b || find_buf(h, &ev->uuid)) {
		fprintf(stderr, "importer_bench: %s: %s\n", us,
			b ? "EXPORTED twice" : "too many buffers");
		z->bad_exports++;
		return 0;
	}

	t0 = now_ns();
	fd = vdmabuf_importer_import(h->imp, &ev->uuid, &size);
	t1 = now_ns();
	if (fd < 0 || size != ev->size) {
		if (fd < 0) {
			fprintf(stderr, "importer_bench: %s: import: %s\n",
				us, strerror(-fd));
		} else {
			fprintf(stderr, "importer_bench: %s: IMPORT size %llu, EXPORTED %llu\n",
				us, (unsigned long long)size,
				(unsigned long long)ev->size);
			close(fd);
		}
		z->bad_exports++;
		return 0;
	}
	b->uuid = ev->uuid;
	b->fd = fd;
	b->size = size;
	b->meta = m;
	b->map = NULL;
	if (m.role == BENCH_R_STEADY) {
		z->steady_imported++;
		return 0;
	}

	/* Cycle 0 is the guest's untimed warm-up: checked, not timed. */
	if (m.iter)
		bench_samples_add(&z->import, t1 - t0);
	if (h->vmpin_base >= 0) {
		int64_t d = vmpin_bytes(h->vmm) - h->vmpin_base;

		if (!z->zc_imported || d < z->vmpin_min)
			z->vmpin_min = d;
		if (!z->zc_imported || d > z->vmpin_max)
			z->vmpin_max = d;
	}
	z->zc_imported++;
	t0 = now_ns();
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	t1 = now_ns();
	if (map == MAP_FAILED) {
		fprintf(stderr, "importer_bench: %s: mmap %llu bytes: %s\n",
			us, (unsigned long long)size, strerror(errno));
		z->bad_exports++;
		return 0;
	}
	b->map = map;
	if (m.iter)
		bench_samples_add(&z->mmap, t1 - t0);
	return 0;
}

static int on_presented(struct hbench *h, const struct vdmabuf_host_event *ev)
{
	struct hbuf *b = find_buf(h, &ev->uuid);
	struct hsize *z;
	uint64_t t0, p, pages, bad = 0;
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	if (!b) {
		/* bench_guest's pacing frames: answered at once */
		if (!h->announced_pacing) {
			h->announced_pacing = 1;
			progress(h, "FRAME_DONE pacing, without and with QEMU's display");
		}
		h->frames_other++;
		return frame_done(h->imp, ev);
	}
	z = &h->sz[b->meta.size_idx];
	if (b->meta.role == BENCH_R_STEADY) {
		ret = frame_done(h->imp, ev);
		if (!ret)
			z->steady_acked++;
		return ret;
	}
	if (!b->map)
		return frame_done(h->imp, ev);

	pages = b->size / BENCH_PAGE;
	t0 = now_ns();
	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (!ret) {
		for (p = 0; p < pages; p++) {
			uint64_t w = p * (BENCH_PAGE / 8);

			if (le64toh(b->map[w]) != bench_word(b->meta.seed, w))
				bad++;
		}
		ret = vdmabuf_dmabuf_sync(b->fd,
					  DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	}
	if (b->meta.iter)
		bench_samples_add(&z->touch, now_ns() - t0);
	if (ret) {
		fprintf(stderr, "importer_bench: %s: DMA_BUF_IOCTL_SYNC: %s\n",
			vdmabuf_uuid_format(&ev->uuid, us), strerror(-ret));
		z->bad_exports++;
	} else {
		z->zc_touched++;
		z->pages_checked += pages;
		z->pages_bad += bad;
		if (bad)
			fprintf(stderr, "importer_bench: %s: %llu of %llu page stamps wrong\n",
				vdmabuf_uuid_format(&ev->uuid, us),
				(unsigned long long)bad,
				(unsigned long long)pages);
	}
	return frame_done(h->imp, ev);
}

static void drop_buf(struct hbench *h, struct hbuf *b, int timed)
{
	uint64_t t0 = now_ns();

	if (b->map)
		munmap((void *)b->map, b->size);
	close(b->fd);
	if (timed && b->meta.role == BENCH_R_ZC && b->meta.iter)
		bench_samples_add(&h->sz[b->meta.size_idx].close,
				  now_ns() - t0);
	b->map = NULL;
	b->fd = -1;
}

/* For importer_drain(): @ctx is the struct hbench. */
static int on_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct hbench *h = ctx;
	struct hbuf *b;

	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		return on_exported(h, ev);
	case VHOST_VDMABUF_EVENT_PRESENTED:
		return on_presented(h, ev);
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		b = find_buf(h, &ev->uuid);
		if (b)
			drop_buf(h, b, 1);
		return 0;
	default:
		fprintf(stderr, "importer_bench: unknown event type %u\n",
			ev->type);
		return 0;
	}
}

/*
 * For importer_drain() on the device with QEMU's display: every frame is
 * answered at once, nothing imported.  @ctx is the struct hbench.
 */
static int on_display_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct hbench *h = ctx;
	int ret;

	if (ev->type != VHOST_VDMABUF_EVENT_PRESENTED)
		return 0;
	ret = frame_done(h->disp, ev);
	if (!ret)
		h->disp_frames++;
	return ret;
}

/* ---------------------------------------------------------------------- */
/* vsock                                                                  */
/* ---------------------------------------------------------------------- */

static void vsock_bufsize(int fd)
{
	uint64_t sz = VSOCK_BUF_BYTES;

	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &sz, sizeof(sz));
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &sz, sizeof(sz));
}

static int vsock_listen(void)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = BENCH_VSOCK_PORT,
	};
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		perror("importer_bench: socket(AF_VSOCK) (is vhost_vsock loaded?)");
		return err;
	}
	vsock_bufsize(fd);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
		err = -errno;
		fprintf(stderr, "importer_bench: vsock port %u: %s\n",
			BENCH_VSOCK_PORT, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

static int read_all(int fd, void *p, size_t len)
{
	char *c = p;

	while (len) {
		ssize_t n = read(fd, c, len);

		if (n < 0) {
			if (errno == EINTR && !stop_signal)
				continue;
			return -errno;
		}
		if (!n)
			return -ECONNRESET;
		c += n;
		len -= n;
	}
	return 0;
}

static int write_byte(int fd, unsigned char c)
{
	for (;;) {
		ssize_t n = write(fd, &c, 1);

		if (n == 1)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Echo what the ping connection has; close it at its end. */
static void serve_ping(struct hbench *h)
{
	unsigned char c[64];
	ssize_t n, i;

	n = read(h->ping, c, sizeof(c));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	for (i = 0; i < n; i++)
		if (write_byte(h->ping, c[i]))
			break;
	if (n > 0 && i == n) {
		h->pings += n;
		return;
	}
	close(h->ping);
	h->ping = -1;
}

/* Every word of a copied frame as bench_word() says?  Words wrong. */
static uint64_t check_frame(const uint64_t *p, uint64_t bytes, uint64_t seed)
{
	uint64_t w, bad = 0;

	for (w = 0; w < bytes / 8; w++)
		if (le64toh(p[w]) != bench_word(seed, w))
			bad++;
	return bad;
}

static void serve_copy(struct hbench *h, int fd, const struct bench_hello *hi)
{
	unsigned int si = le32toh(hi->size_idx);
	uint64_t bytes = le64toh(hi->bytes), seed = le64toh(hi->seed);
	struct hsize *z;
	uint64_t *buf;

	if (si >= BENCH_NR_SIZES || bytes != bench_bytes(si)) {
		fprintf(stderr, "importer_bench: copy hello: size %u, %llu bytes\n",
			si, (unsigned long long)bytes);
		h->bad_conns++;
		return;
	}
	z = &h->sz[si];
	z->copy_conns++;
	progress(h, "%s: copy over vsock (%llu bytes a frame)",
		 bench_sizes[si].name, (unsigned long long)bytes);
	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("importer_bench: frame buffer");
		z->copy_bad++;
		return;
	}
	z->copy_buffer = bytes;
	for (;;) {
		struct bench_frame f;
		uint64_t t0, bad = 0;
		uint32_t flags;
		int ret;

		ret = read_all(fd, &f, sizeof(f));
		if (ret)
			break;	/* the guest is done */
		t0 = now_ns();
		flags = le32toh(f.flags);
		if (le32toh(f.magic) != BENCH_FRAME_MAGIC) {
			fprintf(stderr, "importer_bench: %s: bad frame header\n",
				bench_sizes[si].name);
			z->copy_bad++;
			break;
		}
		ret = read_all(fd, buf, bytes);
		if (ret) {
			fprintf(stderr, "importer_bench: %s frame %llu: %s\n",
				bench_sizes[si].name,
				(unsigned long long)le64toh(f.seq),
				strerror(-ret));
			z->copy_bad++;
			break;
		}
		if (!(flags & BENCH_F_VERIFY))
			bench_samples_add(&z->recv, now_ns() - t0);
		z->copy_frames++;
		z->copy_bytes += bytes;
		if (flags & BENCH_F_VERIFY)
			bad = check_frame(buf, bytes, seed);
		if (write_byte(fd, bad ? BENCH_ACK_BAD : BENCH_ACK_OK))
			break;
		if (flags & BENCH_F_LAST)
			bad = check_frame(buf, bytes, seed);
		if (flags & (BENCH_F_VERIFY | BENCH_F_LAST)) {
			if (bad) {
				fprintf(stderr, "importer_bench: %s frame %llu: %llu words wrong\n",
					bench_sizes[si].name,
					(unsigned long long)le64toh(f.seq),
					(unsigned long long)bad);
				z->copy_bad++;
			} else {
				z->copy_verified++;
			}
		}
	}
	munmap(buf, bytes);
}

static void serve_conn(struct hbench *h)
{
	struct timeval tv = { .tv_sec = VSOCK_TIMEOUT_S };
	struct bench_hello hi;
	int fd;

	fd = accept4(h->lsn, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			perror("importer_bench: accept");
		return;
	}
	vsock_bufsize(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_all(fd, &hi, sizeof(hi)) ||
	    le32toh(hi.magic) != BENCH_HELLO_MAGIC) {
		fprintf(stderr, "importer_bench: a vsock connection without hello\n");
		h->bad_conns++;
	} else if (le32toh(hi.kind) == BENCH_K_PING) {
		/* Served from the main loop, next to the importer fd. */
		if (h->ping >= 0)
			close(h->ping);
		h->ping = fd;
		h->ping_conns++;
		return;
	} else if (le32toh(hi.kind) == BENCH_K_COPY) {
		serve_copy(h, fd, &hi);
	} else {
		fprintf(stderr, "importer_bench: vsock hello of kind %u\n",
			le32toh(hi.kind));
		h->bad_conns++;
	}
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* Results                                                                */
/* ---------------------------------------------------------------------- */

static int report(struct hbench *h)
{
	int all = h->pings > 0 && !h->bad_conns, i;
	char key[64];

	tap_result(&h->tap, h->pings > 0,
		   "importer_bench: echoed %llu one-byte vsock round trips",
		   (unsigned long long)h->pings);
	tap_result(&h->tap, !h->bad_conns,
		   "importer_bench: every vsock connection was well-formed (%u bad)",
		   h->bad_conns);
	printf("%spings %llu\n", HOST_PREFIX, (unsigned long long)h->pings);
	printf("%svmm_pid %d\n", HOST_PREFIX, (int)h->vmm);
	printf("%svmpin_base_bytes %lld\n", HOST_PREFIX,
	       (long long)h->vmpin_base);
	printf("%sother_frames_acked %llu\n", HOST_PREFIX,
	       (unsigned long long)h->frames_other);
	if (h->disp_path) {
		tap_result(&h->tap, h->disp_frames > 0,
			   "importer_bench: %llu frames answered on the device with QEMU's display",
			   (unsigned long long)h->disp_frames);
		all &= h->disp_frames > 0;
		printf("%spacing.no_display.frames_acked %llu\n", HOST_PREFIX,
		       (unsigned long long)h->frames_other);
		printf("%spacing.display.frames_acked %llu\n", HOST_PREFIX,
		       (unsigned long long)h->disp_frames);
	}
	for (i = 0; i < BENCH_NR_SIZES; i++) {
		struct hsize *z = &h->sz[i];
		const char *name = bench_sizes[i].name;
		int ok;

		ok = z->zc_imported && z->zc_touched == z->zc_imported &&
		     z->pages_checked && !z->pages_bad && !z->bad_exports;
		all &= ok;
		tap_result(&h->tap, ok,
			   "importer_bench: %s: %u zero-copy imports of the right size, %llu page stamps read, %llu wrong",
			   name, z->zc_imported,
			   (unsigned long long)z->pages_checked,
			   (unsigned long long)z->pages_bad);
		ok = z->steady_imported && z->steady_acked;
		all &= ok;
		tap_result(&h->tap, ok,
			   "importer_bench: %s: steady-state buffer imported, %llu frames acked at once",
			   name, (unsigned long long)z->steady_acked);
		ok = z->copy_conns && z->copy_verified >= 2 && !z->copy_bad;
		all &= ok;
		tap_result(&h->tap, ok,
			   "importer_bench: %s: %llu frames copied over vsock, first and last intact (%u checked, %u bad)",
			   name, (unsigned long long)z->copy_frames,
			   z->copy_verified, z->copy_bad);

		snprintf(key, sizeof(key), "zc.%s.import_ms", name);
		bench_samples_report(&z->import, HOST_PREFIX, key);
		snprintf(key, sizeof(key), "zc.%s.mmap_ms", name);
		bench_samples_report(&z->mmap, HOST_PREFIX, key);
		snprintf(key, sizeof(key), "zc.%s.touch_ms", name);
		bench_samples_report(&z->touch, HOST_PREFIX, key);
		snprintf(key, sizeof(key), "zc.%s.close_ms", name);
		bench_samples_report(&z->close, HOST_PREFIX, key);
		printf("%szc.%s.pages_checked %llu\n", HOST_PREFIX, name,
		       (unsigned long long)z->pages_checked);
		if (h->vmpin_base >= 0 && z->zc_imported) {
			printf("%szc.%s.vmpin_delta_bytes.min %lld\n",
			       HOST_PREFIX, name, (long long)z->vmpin_min);
			printf("%szc.%s.vmpin_delta_bytes.max %lld\n",
			       HOST_PREFIX, name, (long long)z->vmpin_max);
		}
		printf("%ssteady.%s.frames_acked %llu\n", HOST_PREFIX, name,
		       (unsigned long long)z->steady_acked);
		snprintf(key, sizeof(key), "copy.%s.recv_ms", name);
		bench_samples_report(&z->recv, HOST_PREFIX, key);
		printf("%scopy.%s.frames %llu\n", HOST_PREFIX, name,
		       (unsigned long long)z->copy_frames);
		printf("%scopy.%s.buffer_bytes %llu\n", HOST_PREFIX, name,
		       (unsigned long long)z->copy_buffer);
	}
	return all;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: importer_bench --socket PATH [--display-socket PATH]\n"
		"                      [--tap PATH] [--wait SEC] [--progress FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "display-socket", required_argument, NULL, 'd' },
		{ "tap", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "progress", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *tap_path = NULL, *progress_path = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct hbench h = { .vmpin_base = -1, .ping = -1 };
	unsigned long wait_s = 300;
	sigset_t block, orig;
	int c, i, ret, all;

	while ((c = getopt_long(argc, argv, "s:d:t:w:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			h.sock_path = optarg;
			break;
		case 'd':
			h.disp_path = optarg;
			break;
		case 't':
			tap_path = optarg;
			break;
		case 'w':
			wait_s = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			progress_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (!h.sock_path || optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < MAX_BUFS; i++)
		h.bufs[i].fd = -1;
	for (i = 0; i < BENCH_NR_SIZES; i++) {
		struct hsize *z = &h.sz[i];

		if (bench_samples_init(&z->import, MAX_ZC) ||
		    bench_samples_init(&z->mmap, MAX_ZC) ||
		    bench_samples_init(&z->touch, MAX_ZC) ||
		    bench_samples_init(&z->close, MAX_ZC) ||
		    bench_samples_init(&z->recv, MAX_COPY)) {
			fprintf(stderr, "importer_bench: out of memory\n");
			return 2;
		}
	}
	if (tap_open(&h.tap, tap_path))
		return 2;
	if (progress_path) {
		h.progress = fopen(progress_path, "a");
		if (!h.progress)
			fprintf(stderr, "importer_bench: %s: %s\n",
				progress_path, strerror(errno));
	}

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &orig);

	h.lsn = vsock_listen();
	tap_result(&h.tap, h.lsn >= 0,
		   "importer_bench: listening on vsock port %u", BENCH_VSOCK_PORT);
	/* Wait up to --wait for QEMU to create the socket. */
	ret = vdmabuf_importer_connect(h.sock_path, wait_s > INT_MAX / 1000 ?
				       INT_MAX : (int)wait_s * 1000, &h.imp);
	if (ret)
		fprintf(stderr, "importer_bench: no importer fd from %s: %s\n",
			h.sock_path, strerror(-ret));
	/* Every frame waits for us, the first of each buffer included. */
	if (!ret) {
		ret = vdmabuf_importer_frames(h.imp, NULL,
					      VHOST_VDMABUF_FRAMES_JOIN);
		if (ret)
			fprintf(stderr, "importer_bench: join all frames: %s\n",
				strerror(-ret));
	}
	tap_result(&h.tap, !ret,
		   "importer_bench: got an importer fd from %s", h.sock_path);
	/* The same QEMU made both sockets: this one exists by now. */
	if (!ret && h.disp_path) {
		ret = vdmabuf_importer_connect(h.disp_path, 10000, &h.disp);
		if (!ret)
			ret = vdmabuf_importer_frames(h.disp, NULL,
						      VHOST_VDMABUF_FRAMES_JOIN);
		if (ret)
			fprintf(stderr, "importer_bench: %s: %s\n",
				h.disp_path, strerror(-ret));
		tap_result(&h.tap, !ret,
			   "importer_bench: got an importer fd from %s, joined all frames",
			   h.disp_path);
	}
	if (ret || h.lsn < 0) {
		tap_close(&h.tap);
		return 2;
	}
	h.vmm = find_vmm(h.sock_path);
	h.vmpin_base = vmpin_bytes(h.vmm);
	printf("importer_bench: connected to %s; VMM pid %d, VmPin %lld bytes; vsock port %u\n",
	       h.sock_path, (int)h.vmm, (long long)h.vmpin_base,
	       BENCH_VSOCK_PORT);

	while (!stop_signal) {
		/* poll() skips an fd of -1: no ping, no display device. */
		struct pollfd pfd[4] = {
			{ .fd = vdmabuf_importer_fd(h.imp), .events = POLLIN },
			{ .fd = h.lsn, .events = POLLIN },
			{ .fd = h.ping, .events = POLLIN },
			{ .fd = h.disp ? vdmabuf_importer_fd(h.disp) : -1,
			  .events = POLLIN },
		};
		struct timespec ts = { .tv_sec = 1 };

		ret = ppoll(pfd, 4, &ts, &orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror("importer_bench: ppoll");
			h.fatal = 1;
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "importer_bench: importer fd error (revents 0x%x)\n",
				pfd[0].revents);
			h.fatal = 1;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ret = importer_drain(h.imp, "importer_bench", on_event, &h);
			if (ret == -ENODEV ||
			    (!ret && (pfd[0].revents & POLLHUP))) {
				fprintf(stderr, "importer_bench: importer fd hung up\n");
				break;
			}
			if (ret) {
				h.fatal = 1;
				break;
			}
		}
		if (pfd[3].revents & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "importer_bench: %s: importer fd error (revents 0x%x)\n",
				h.disp_path, pfd[3].revents);
			h.fatal = 1;
			break;
		}
		if (pfd[3].revents & (POLLIN | POLLHUP)) {
			ret = importer_drain(h.disp, "importer_bench",
					     on_display_event, &h);
			if (ret == -ENODEV ||
			    (!ret && (pfd[3].revents & POLLHUP))) {
				fprintf(stderr, "importer_bench: %s hung up\n",
					h.disp_path);
				break;
			}
			if (ret) {
				h.fatal = 1;
				break;
			}
		}
		if (h.ping >= 0 && pfd[2].revents)
			serve_ping(&h);
		if (pfd[1].revents & POLLIN) {
			/* Signals may interrupt the blocking transfer. */
			sigprocmask(SIG_SETMASK, &orig, NULL);
			serve_conn(&h);
			sigprocmask(SIG_BLOCK, &block, NULL);
		}
	}
	if (stop_signal)
		printf("importer_bench: stopping on signal %d\n", (int)stop_signal);

	all = report(&h);
	ret = 0;
	for (i = 0; i < MAX_BUFS; i++)
		if (h.bufs[i].fd >= 0) {
			drop_buf(&h, &h.bufs[i], 0);
			ret++;
		}
	tap_result(&h.tap, !ret,
		   "importer_bench: every import was unexported and closed (%d still open)",
		   ret);
	for (i = 0; i < BENCH_NR_SIZES; i++) {
		bench_samples_free(&h.sz[i].import);
		bench_samples_free(&h.sz[i].mmap);
		bench_samples_free(&h.sz[i].touch);
		bench_samples_free(&h.sz[i].close);
		bench_samples_free(&h.sz[i].recv);
	}
	if (h.ping >= 0)
		close(h.ping);
	vdmabuf_importer_close(h.imp);
	vdmabuf_importer_close(h.disp);
	close(h.lsn);
	if (h.progress)
		fclose(h.progress);
	tap_close(&h.tap);
	return !h.fatal && all && !ret ? 0 : 1;
}
