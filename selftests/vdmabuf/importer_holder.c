// SPDX-License-Identifier: GPL-2.0
/*
 * importer_holder: hold imported guest buffers across the death of the VM.
 *
 * Runs in the host (L1); built on libvdmabuf.  Gets an importer fd from
 * QEMU's importer socket, imports and maps (read-only) every buffer the
 * guest exports with E2E_HOLD_MAGIC metadata (life_guest's) and keeps it,
 * also after UNEXPORTED; every other export (the demo's, say) it leaves
 * alone.  It acknowledges every frame of every export at once, so
 * FRAME_DONE of a PRESENT after an export tells the guest that the holder
 * has imported it.  On SIGUSR1 (the runner sends it after killing QEMU)
 * it reads every page of every mapping and queries each buffer.  A buffer
 * the guest's reset took away (its DMA_BUF_IOCTL_SYNC fails with ENODEV)
 * is revoked: its first page must fault with SIGBUS, so that nothing the
 * guest wrote after the reset can be read.  Any other must not fault: the
 * VM's death is no reset, and the pages stay pinned while a host dma-buf
 * exists.  Then it closes everything, checks that every page pin taken in
 * the host has been released again, and writes TAP.
 *
 * usage: importer_holder --socket PATH [--tap PATH] [--gone PATH]
 *	  [--min N] [--wait SEC] [--timeout SEC] [--expect-gone]
 *	  [--expect-revoked N]
 *
 *  --min N		hold at least N buffers (default 1)
 *  --gone PATH		create PATH once N buffers are held and every one of
 *			them was reported UNEXPORTED
 *  --expect-gone	also require that every held buffer was reported
 *			UNEXPORTED by the time of SIGUSR1 (QEMU is gone)
 *  --timeout SEC	give up waiting for SIGUSR1 (default 600)
 *  --expect-revoked N	require that exactly N held buffers were revoked
 *			by guest resets (DMA_BUF_IOCTL_SYNC fails with
 *			ENODEV), so that a revoke that never happens fails
 *
 * The pin check reads nr_foll_pin_acquired/released in /proc/vmstat, so it
 * must run when no other host user of the device is left (the runner stops
 * the other importers first).
 *
 * TAP goes to --tap or stdout.  Exit: 0 if every check passed, 1 if one
 * failed (or no SIGUSR1 came), 2 on bad usage or no importer fd.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>

#include <vdmabuf/vdmabuf.h>

#include "e2e_proto.h"
#include "example_common.h"	/* time, TAP to a file */
#include "vdmabuf_util.h"

#define MAX_BUFS	256

struct hbuf {
	struct vdmabuf_uuid uuid;
	int fd;
	void *map;
	uint64_t size;
	int unexported;
};

struct holder {
	struct vdmabuf_importer *imp;
	struct hbuf bufs[MAX_BUFS];
	int nr;
	int nr_gone;
	int import_failed;
	uint64_t frames;
};

static volatile sig_atomic_t got_usr1, got_term;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = sig;
}

static void on_fault(int sig)
{
	if (fault_armed)
		siglongjmp(fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static struct hbuf *find_buf(struct holder *h,
			     const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < h->nr; i++)
		if (!memcmp(&h->bufs[i].uuid, uuid, sizeof(*uuid)))
			return &h->bufs[i];
	return NULL;
}

/* life_guest's metadata (e2e_proto.h): E2E_HOLD_MAGIC and its pid. */
static int is_hold_meta(const struct vdmabuf_host_event *ev)
{
	uint32_t magic;

	if (ev->payload_len != 8)
		return 0;
	memcpy(&magic, ev->payload, sizeof(magic));
	return le32toh(magic) == E2E_HOLD_MAGIC;
}

/* For importer_drain(): @ctx is the struct holder. */
static int on_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct holder *h = ctx;
	struct hbuf *b;
	char us[VDMABUF_UUID_STR_LEN];
	uint64_t size = 0;
	int fd, ret;

	vdmabuf_uuid_format(&ev->uuid, us);
	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		/* Only life_guest's buffers; every other export is not ours. */
		if (!is_hold_meta(ev))
			return 0;
		if (find_buf(h, &ev->uuid) || h->nr >= MAX_BUFS) {
			h->import_failed++;
			return 0;
		}
		fd = vdmabuf_importer_import(h->imp, &ev->uuid, &size);
		if (fd < 0) {
			fprintf(stderr, "importer_holder: import %s: %s\n",
				us, strerror(-fd));
			h->import_failed++;
			return 0;
		}
		b = &h->bufs[h->nr];
		b->map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (b->map == MAP_FAILED) {
			fprintf(stderr, "importer_holder: mmap %s: %s\n",
				us, strerror(errno));
			close(fd);
			h->import_failed++;
			return 0;
		}
		b->uuid = ev->uuid;
		b->fd = fd;
		b->size = size;
		b->unexported = 0;
		h->nr++;
		fprintf(stderr, "importer_holder: holding %s, %llu bytes\n",
			us, (unsigned long long)size);
		return 0;
	case VHOST_VDMABUF_EVENT_PRESENTED:
		h->frames++;
		ret = vdmabuf_importer_frame_done(h->imp, &ev->uuid, ev->frame);
		if (ret)
			fprintf(stderr, "importer_holder: FRAME_DONE %s seq %llu: %s\n",
				us, (unsigned long long)ev->seq,
				strerror(-ret));
		return ret;
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		b = find_buf(h, &ev->uuid);
		if (b && !b->unexported) {
			b->unexported = 1;
			h->nr_gone++;
			fprintf(stderr, "importer_holder: %s UNEXPORTED, still held\n",
				us);
		}
		return 0;
	default:
		return 0;
	}
}

/* Read one byte of every page; the signal number if one faults, else 0. */
static int touch_pages(const struct hbuf *b, uint64_t *sum, uint64_t *at)
{
	volatile const uint8_t *p = b->map;
	uint64_t off;
	int sig;

	*at = 0;
	sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		fault_armed = 0;
		return sig;
	}
	fault_armed = 1;
	for (off = 0; off < b->size; off += 4096) {
		*at = off;
		*sum += p[off];
	}
	*sum += p[b->size - 1];
	fault_armed = 0;
	return 0;
}

/* Create @path (a flag file for the runner); returns 1. */
static int create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		fprintf(stderr, "importer_holder: create %s: %s\n", path,
			strerror(errno));
	else
		close(fd);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: importer_holder --socket PATH [--tap PATH] [--gone PATH]\n"
		"                       [--min N] [--wait SEC] [--timeout SEC] [--expect-gone]\n"
		"                       [--expect-revoked N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "tap", required_argument, NULL, 't' },
		{ "gone", required_argument, NULL, 'G' },
		{ "min", required_argument, NULL, 'm' },
		{ "wait", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "expect-gone", no_argument, NULL, 'g' },
		{ "expect-revoked", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *sock_path = NULL, *tap_path = "/dev/stdout";
	const char *gone_path = NULL;
	unsigned long wait_s = 300, timeout_s = 600;
	int min_bufs = 1, expect_gone = 0, gone = 0, hup = 0, revoked = 0;
	int expect_revoked = -1;
	int c, i, ret;
	struct sigaction sa = { .sa_handler = on_signal };
	struct sigaction fa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	struct holder h = { 0 };
	uint64_t deadline, held_pages;
	long long acq, rel;
	bool settled;
	sigset_t block, orig;
	struct tap tap;

	while ((c = getopt_long(argc, argv, "s:t:G:m:w:T:gr:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 't':
			tap_path = optarg;
			break;
		case 'G':
			gone_path = optarg;
			break;
		case 'm':
			min_bufs = atoi(optarg);
			if (min_bufs < 0 || min_bufs > MAX_BUFS)
				usage();
			break;
		case 'w':
			wait_s = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			timeout_s = strtoul(optarg, NULL, 0);
			break;
		case 'g':
			expect_gone = 1;
			break;
		case 'r':
			expect_revoked = atoi(optarg);
			if (expect_revoked < 0 || expect_revoked > MAX_BUFS)
				usage();
			break;
		default:
			usage();
		}
	}
	if (!sock_path || optind != argc)
		usage();
	if (tap_open(&tap, tap_path))
		return 2;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGBUS, &fa, NULL);
	sigaction(SIGSEGV, &fa, NULL);
	sigprocmask(SIG_BLOCK, &block, &orig);

	/* Wait up to --wait for QEMU to create the socket. */
	ret = vdmabuf_importer_connect(sock_path, wait_s > INT_MAX / 1000 ?
				       INT_MAX : (int)wait_s * 1000, &h.imp);
	if (ret)
		fprintf(stderr, "importer_holder: no importer fd from %s: %s\n",
			sock_path, strerror(-ret));
	/*
	 * Hold every frame, also one presented before the import of its
	 * buffer: its FRAME_DONE tells the guest we imported.
	 */
	if (!ret) {
		ret = vdmabuf_importer_frames(h.imp, NULL,
					      VHOST_VDMABUF_FRAMES_JOIN);
		if (ret)
			fprintf(stderr, "importer_holder: join all frames: %s\n",
				strerror(-ret));
	}
	tap_result(&tap, !ret, "holder: got an importer fd from %s",
		   sock_path);
	if (ret) {
		tap_close(&tap);
		return 2;
	}

	deadline = now_ms() + timeout_s * 1000;
	while (!got_usr1 && !got_term && now_ms() < deadline) {
		struct pollfd pfd = {
			.fd = hup ? -1 : vdmabuf_importer_fd(h.imp),
			.events = POLLIN,
		};
		struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };

		ret = ppoll(&pfd, 1, &ts, &orig);
		if (ret < 0 && errno != EINTR) {
			perror("importer_holder: ppoll");
			break;
		}
		if (ret > 0) {
			ret = importer_drain(h.imp, "importer_holder", on_event, &h);
			if (ret == -ENODEV ||
			    (!ret && (pfd.revents & POLLHUP)))
				hup = 1;	/* keep holding, stop polling */
			else if (ret)
				break;
		}
		if (!gone && gone_path && h.nr >= min_bufs && h.nr_gone == h.nr)
			gone = create_file(gone_path);
	}
	/* Whatever QEMU's death queued (UNEXPORTED) before we look. */
	importer_drain(h.imp, "importer_holder", on_event, &h);

	tap_result(&tap, got_usr1, "holder: got SIGUSR1 (within %lu s)",
		   timeout_s);
	tap_result(&tap, h.nr >= min_bufs && !h.import_failed,
		   "holder: imported and mapped %d buffer(s) (at least %d), %d failed",
		   h.nr, min_bufs, h.import_failed);
	tap_diag(&tap, "acknowledged %llu frame(s) while holding",
		 (unsigned long long)h.frames);

	for (i = 0; i < h.nr; i++) {
		struct hbuf *b = &h.bufs[i];
		struct vdmabuf_buffer_info q;
		uint64_t sum = 0, at;
		char us[VDMABUF_UUID_STR_LEN];
		int sig;

		vdmabuf_uuid_format(&b->uuid, us);
		ret = vdmabuf_dmabuf_sync(b->fd,
					  DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		sig = touch_pages(b, &sum, &at);
		if (ret == -ENODEV) {
			tap_result(&tap, sig == SIGBUS && !at,
				   "holder: %s: revoked by a guest reset, the first page faults with SIGBUS",
				   us);
			if (sig != SIGBUS || at)
				tap_diag(&tap, "signal %d at offset %llu", sig,
					 (unsigned long long)at);
			revoked++;
		} else {
			if (!ret)
				ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END |
							  DMA_BUF_SYNC_READ);
			tap_result(&tap, !sig,
				   "holder: %s: read every page of %llu bytes%s",
				   us, (unsigned long long)b->size,
				   sig ? (sig == SIGBUS ? " (SIGBUS)" : " (SIGSEGV)") : "");
			if (sig)
				tap_diag(&tap, "fault at offset %llu",
					 (unsigned long long)at);
			if (ret)
				tap_diag(&tap, "%s: DMA_BUF_IOCTL_SYNC: %s", us,
					 strerror(-ret));
		}
		ret = vdmabuf_importer_query(h.imp, &b->uuid, &q, NULL, 0);
		if (ret)
			tap_diag(&tap, "%s: VHOST_VDMABUF_QUERY: %s", us,
				 strerror(-ret));
		else
			tap_diag(&tap, "%s: state %u, %u range(s), last seq %llu",
				 us, q.state, q.nr_ranges,
				 (unsigned long long)q.last_seq);
		if (expect_gone)
			tap_result(&tap, b->unexported,
				   "holder: %s was reported UNEXPORTED after the VM went away",
				   us);
	}

	if (expect_revoked >= 0)
		tap_result(&tap, revoked == expect_revoked,
			   "holder: %d of %d held buffer(s) revoked by guest resets (expected %d)",
			   revoked, h.nr, expect_revoked);
	else
		tap_diag(&tap, "%d of %d held buffer(s) revoked by guest resets",
			 revoked, h.nr);
	read_foll_pins(&acq, &rel);
	for (i = 0, held_pages = 0; i < h.nr; i++)
		held_pages += h.bufs[i].size / 4096;
	tap_result(&tap, acq - rel >= (long long)held_pages,
		   "holder: before close the %llu held pages are still pinned (nr_foll_pin_acquired %lld, released %lld)",
		   (unsigned long long)held_pages, acq, rel);
	for (i = 0; i < h.nr; i++) {
		munmap(h.bufs[i].map, h.bufs[i].size);
		close(h.bufs[i].fd);
	}
	vdmabuf_importer_close(h.imp);
	/*
	 * Other kernel users may hold a pin for a moment: allow 5 s.  (Read
	 * before the call: its arguments may be evaluated in any order.)
	 */
	settled = foll_pins_settle(&acq, &rel, 0, 5000);
	tap_result(&tap, settled,
		   "holder: after close every page pin in the host is released (nr_foll_pin_acquired %lld, released %lld)",
		   acq, rel);
	ret = tap.failed ? 1 : 0;
	tap_close(&tap);
	return ret;
}
