// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf: look at what a KVM guest shares through virtio-dmabuf.
 *
 * Host side, with QEMU's importer socket:
 *   vdmabuf list SOCKET          every buffer the guest shares
 *   vdmabuf watch SOCKET         events as they happen, with frame rates
 *   vdmabuf snapshot SOCKET ...  the next frame of a buffer as a PNG
 * Guest side, with /dev/virtio-vdmabuf:
 *   vdmabuf info                 the device's features, limits, counters
 *   vdmabuf export ...           export a file or a dma-heap buffer,
 *                                present frames, unexport: a quick test
 *
 * Built on libvdmabuf; the manual is vdmabuf(1).  Exit codes: 0 done,
 * 1 error, 2 usage, 3 timeout, 4 buffer not displayable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include <vdmabuf/vdmabuf.h>

#include "vdmabuf-png.h"

#define EX_OK		0
#define EX_ERROR	1
#define EX_USAGE	2
#define EX_TIMEOUT	3
#define EX_NODISPLAY	4

#define TOOL_VERSION_STR(a, b, c)	(#a "." #b "." #c)
#define TOOL_VERSION_XSTR(a, b, c)	TOOL_VERSION_STR(a, b, c)
#define TOOL_VERSION	TOOL_VERSION_XSTR(LIBVDMABUF_VERSION_MAJOR, \
					  LIBVDMABUF_VERSION_MINOR, \
					  LIBVDMABUF_VERSION_MICRO)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))

#define DRM_MOD_INVALID		0x00ffffffffffffffULL
#define MIB			(1024.0 * 1024.0)
#define NSEC_PER_SEC		1000000000LL
#define NSEC_PER_MSEC		1000000LL
/*
 * list: how long to wait for more after the newest EXPORTED or UNEXPORTED,
 * and the bound of the whole reading, however fast frames come.
 */
#define LIST_SETTLE_MS		20
#define LIST_MAX_MS		1000
/* watch: frames remembered per buffer for its frame rate. */
#define FPS_RING		1024
/* snapshot: frames replaced during their copy before giving up. */
#define SNAP_RETRIES		5
/* snap_take(): a newer frame came during the copy; take that one. */
#define SNAP_AGAIN		(-2)

/* The subcommand, for messages; and the signal that asks us to stop. */
static const char *cmd_name = "";
static volatile sig_atomic_t stop_signal;

/* ------------------------------------------------------------------ */
/* Messages, numbers, time                                             */
/* ------------------------------------------------------------------ */

/* "vdmabuf: SUB: WHAT: strerror(err)" */
static void __printf(2, 3)
error_msg(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vdmabuf: %s%s", cmd_name, *cmd_name ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', stderr);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT32_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/* A timeout in milliseconds that fits an int. */
static int parse_ms(const char *s, int *ms)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > INT32_MAX)
		return -EINVAL;
	*ms = (int)x;
	return 0;
}

/* Non-negative seconds, fractions allowed. */
static int parse_seconds(const char *s, double *sec)
{
	char *end;

	errno = 0;
	*sec = strtod(s, &end);
	if (errno || *end || end == s || !(*sec >= 0) || *sec > 1e9)
		return -EINVAL;
	return 0;
}

/* Bytes, with an optional K, M or G (binary) suffix. */
static int parse_size(const char *s, uint64_t *v)
{
	uint64_t mul = 1, x;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		mul = 1ULL << 10;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	if (x > UINT64_MAX / mul)
		return -ERANGE;
	*v = x * mul;
	return 0;
}

/* Does @v bytes fit a size_t (mmap's length, on a 32-bit host)? */
static int fits_size_t(uint64_t v)
{
	return v == (uint64_t)(size_t)v;
}

/* "4 KiB", "7.9 MiB", "1.50 GiB" */
static const char *fmt_size(uint64_t bytes, char *out, size_t len)
{
	if (bytes < (1ULL << 20) && !(bytes % 1024))
		snprintf(out, len, "%" PRIu64 " KiB", bytes >> 10);
	else if (bytes < (1ULL << 20))
		snprintf(out, len, "%" PRIu64 " B", bytes);
	else if (bytes < (1ULL << 30))
		snprintf(out, len, "%.1f MiB", bytes / MIB);
	else
		snprintf(out, len, "%.2f GiB", bytes / (MIB * 1024));
	return out;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                         */
/* ------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A 64-bit number: a JSON number up to 2^53, a "0x..." string above. */
static void json_u64(FILE *f, uint64_t v)
{
	if (v <= (1ULL << 53))
		fprintf(f, "%" PRIu64, v);
	else
		fprintf(f, "\"0x%016" PRIx64 "\"", v);
}

static void json_uuid(FILE *f, const struct vdmabuf_uuid *uuid)
{
	char us[VDMABUF_UUID_STR_LEN];

	json_str(f, vdmabuf_uuid_format(uuid, us));
}

/* ------------------------------------------------------------------ */
/* Metadata: what an export's metadata says, for people and scripts    */
/* ------------------------------------------------------------------ */

enum meta_kind {
	META_NONE,		/* no metadata */
	META_IMAGE,		/* a valid image */
	META_UNCHECKED,		/* an image whose rows could not be checked */
	META_INVALID,		/* claims to be an image and breaks a rule */
	META_OPAQUE,		/* metadata of another type */
};

struct meta_desc {
	enum meta_kind kind;
	uint32_t len;
	struct vdmabuf_image img;	/* META_IMAGE, META_UNCHECKED */
	char reason[128];		/* META_INVALID, META_UNCHECKED */
};

/* Why image metadata that libvdmabuf rejected breaks the rules. */
static void image_reason(const void *meta, uint32_t len, uint64_t size,
			 char *out, size_t out_len)
{
	const struct vdmabuf_format *fmt;
	struct virtio_vdmabuf_image w;
	uint32_t width, height, flags, nr, p;
	uint64_t modifier;
	char name[5];

	if (len < sizeof(w)) {
		snprintf(out, out_len, "%u bytes, less than %zu", len,
			 sizeof(w));
		return;
	}
	memcpy(&w, meta, sizeof(w));
	if (le16toh(w.version) < 1) {
		snprintf(out, out_len, "version 0");
		return;
	}
	if (le16toh(w.len) < sizeof(w) || le16toh(w.len) > len) {
		snprintf(out, out_len, "len %u in %u bytes of metadata",
			 le16toh(w.len), len);
		return;
	}
	width = le32toh(w.width);
	height = le32toh(w.height);
	flags = le32toh(w.flags);
	nr = le32toh(w.nr_planes);
	modifier = le64toh(w.modifier);
	fmt = vdmabuf_format_lookup(le32toh(w.fourcc));
	if (!width || !height || width > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    height > VIRTIO_VDMABUF_IMAGE_MAX_DIM) {
		snprintf(out, out_len, "size %ux%u", width, height);
		return;
	}
	if (flags & ~VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP) {
		snprintf(out, out_len, "unknown flags 0x%x", flags);
		return;
	}
	if (!nr || nr > VIRTIO_VDMABUF_IMAGE_MAX_PLANES ||
	    (fmt && nr != fmt->nr_planes)) {
		snprintf(out, out_len, "%u planes for %s", nr,
			 vdmabuf_fourcc_name(le32toh(w.fourcc), name));
		return;
	}
	if (modifier == DRM_MOD_INVALID) {
		snprintf(out, out_len, "modifier DRM_FORMAT_MOD_INVALID");
		return;
	}
	for (p = 0; p < nr; p++) {
		uint64_t off = le64toh(w.planes[p].offset);
		uint32_t stride = le32toh(w.planes[p].stride);
		uint32_t pw = width, ph = height;
		uint64_t row, end;

		if (!stride) {
			snprintf(out, out_len, "plane %u: stride 0", p);
			return;
		}
		if (off >= size) {
			snprintf(out, out_len,
				 "plane %u: offset %" PRIu64 " past the buffer",
				 p, off);
			return;
		}
		if (!fmt || modifier)
			continue;
		if (p) {
			pw = (width + fmt->hsub - 1) / fmt->hsub;
			ph = (height + fmt->vsub - 1) / fmt->vsub;
		}
		row = (uint64_t)pw * fmt->cpp[p];
		if (stride < row) {
			snprintf(out, out_len,
				 "plane %u: stride %u less than a row (%" PRIu64 ")",
				 p, stride, row);
			return;
		}
		end = (uint64_t)stride * (ph - 1) + row;
		if (end > size - off) {
			snprintf(out, out_len,
				 "plane %u: ends past the buffer", p);
			return;
		}
	}
	snprintf(out, out_len, "malformed");
}

/* Colour information (a later version's, HDR): not sRGB, not ours to show. */
static int image_has_color(const struct vdmabuf_image *img)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(img->color); i++)
		if (img->color[i])
			return 1;
	return 0;
}

static void meta_describe(const void *meta, uint32_t len, uint64_t size,
			  struct meta_desc *d)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->len = len;
	if (!len) {
		d->kind = META_NONE;
		return;
	}
	ret = vdmabuf_image_decode(meta, len, size, &d->img);
	switch (ret) {
	case 0:
		d->kind = META_IMAGE;
		break;
	case -ENOMSG:
		d->kind = META_OPAQUE;
		break;
	case -ENOTSUP:
		d->kind = META_UNCHECKED;
		snprintf(d->reason, sizeof(d->reason), "%s",
			 image_has_color(&d->img) ?
			 "colour information this version cannot show" :
			 d->img.modifier ? "rows not checked: not linear" :
			 "rows not checked: format unknown");
		break;
	default:
		d->kind = META_INVALID;
		image_reason(meta, len, size, d->reason, sizeof(d->reason));
		break;
	}
}

/* "1920x1080 XR24 linear out 0" */
static void image_summary(const struct vdmabuf_image *img, char *out,
			  size_t len)
{
	char name[5], mod[24];
	int n;

	if (img->modifier)
		snprintf(mod, sizeof(mod), "0x%016" PRIx64, img->modifier);
	else
		snprintf(mod, sizeof(mod), "linear");
	n = snprintf(out, len, "%ux%u %s %s out %u", img->width, img->height,
		     vdmabuf_fourcc_name(img->fourcc, name), mod, img->output);
	if (n > 0 && (size_t)n < len &&
	    (img->flags & VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP))
		n += snprintf(out + n, len - n, " bottom-up");
	if (n > 0 && (size_t)n < len && img->nr_planes > 1)
		snprintf(out + n, len - n, " %u planes", img->nr_planes);
}

static void meta_print(FILE *f, const struct meta_desc *d)
{
	char s[160];

	switch (d->kind) {
	case META_NONE:
		fputs("-", f);
		break;
	case META_IMAGE:
		image_summary(&d->img, s, sizeof(s));
		fputs(s, f);
		break;
	case META_UNCHECKED:
		image_summary(&d->img, s, sizeof(s));
		fprintf(f, "%s (%s)", s, d->reason);
		break;
	case META_INVALID:
		fprintf(f, "invalid image: %s", d->reason);
		break;
	case META_OPAQUE:
		fprintf(f, "opaque %u bytes", d->len);
		break;
	}
}

/* The members "meta_len", "image" and maybe "image_error" of an object. */
static void meta_print_json(FILE *f, const struct meta_desc *d)
{
	const struct vdmabuf_image *img = &d->img;
	char name[5];
	uint32_t p;

	fprintf(f, "\"meta_len\":%u,\"image\":", d->len);
	if (d->kind != META_IMAGE && d->kind != META_UNCHECKED) {
		fputs("null", f);
		if (d->kind == META_INVALID) {
			fputs(",\"image_error\":", f);
			json_str(f, d->reason);
		}
		return;
	}
	fprintf(f, "{\"width\":%u,\"height\":%u,\"fourcc\":", img->width,
		img->height);
	json_str(f, vdmabuf_fourcc_name(img->fourcc, name));
	fputs(",\"modifier\":", f);
	json_u64(f, img->modifier);
	fprintf(f, ",\"flags\":%u,\"output\":%u,\"planes\":[", img->flags,
		img->output);
	for (p = 0; p < img->nr_planes && p < VIRTIO_VDMABUF_IMAGE_MAX_PLANES;
	     p++) {
		fprintf(f, "%s{\"offset\":", p ? "," : "");
		json_u64(f, img->planes[p].offset);
		fprintf(f, ",\"stride\":%u}", img->planes[p].stride);
	}
	fputs("]}", f);
	if (d->kind == META_UNCHECKED) {
		fputs(",\"image_unchecked\":", f);
		json_str(f, d->reason);
	}
}

/* ------------------------------------------------------------------ */
/* Signals and waiting                                                 */
/* ------------------------------------------------------------------ */

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/*
 * SIGINT and SIGTERM set stop_signal.  They stay blocked except while
 * wait_fd() sleeps in ppoll(), so that none is lost between a check of
 * stop_signal and the sleep.  @waitmask is the mask to sleep with.
 */
static void stop_signals_setup(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
}

/*
 * Wait until @fd is readable or @deadline (CLOCK_MONOTONIC ns, -1: none).
 * Return: 1 readable (or hung up), 0 deadline, -EINTR a stop signal.
 */
static int wait_fd(int fd, int64_t deadline, const sigset_t *waitmask)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL, zero = { 0 };
	sigset_t stop;
	int n;

	/*
	 * ppoll() that finds @fd ready returns without delivering a pending
	 * signal: take it here, or a busy fd would keep it pending.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	n = sigtimedwait(&stop, NULL, &zero);
	if (n > 0)
		stop_signal = n;
	if (stop_signal)
		return -EINTR;
	if (deadline >= 0) {
		int64_t left = deadline - now_ns();

		/* Also when @fd stays readable but yields nothing. */
		if (left <= 0)
			return 0;
		ts.tv_sec = left / NSEC_PER_SEC;
		ts.tv_nsec = left % NSEC_PER_SEC;
		tsp = &ts;
	}
	n = ppoll(&p, 1, tsp, waitmask);
	if (n < 0)
		return errno == EINTR ? -EINTR : -errno;
	return n > 0;
}

/* ------------------------------------------------------------------ */
/* Host: the buffers an importer has heard of                          */
/* ------------------------------------------------------------------ */

struct hbuf {
	struct vdmabuf_uuid uuid;
	uint64_t size;
	uint8_t *meta;
	uint32_t meta_len;
	uint64_t last_seq;
	int unexported;
	/* watch: the times of the newest frames, a ring */
	int64_t *times;
	unsigned int nr_times, head;
	/* snapshot */
	struct meta_desc desc;
	int displayable;
	char why[160];
	int fd;
	void *map;
	uint64_t map_size;
};

struct htable {
	struct hbuf **v;
	size_t nr, cap;
};

static struct hbuf *hbuf_find(struct htable *t, const struct vdmabuf_uuid *u)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		if (!memcmp(t->v[i]->uuid.b, u->b, sizeof(u->b)))
			return t->v[i];
	return NULL;
}

/* The entry of @u, new if need be; NULL when out of memory. */
static struct hbuf *hbuf_get(struct htable *t, const struct vdmabuf_uuid *u)
{
	struct hbuf *b = hbuf_find(t, u);

	if (b)
		return b;
	if (t->nr == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct hbuf **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->uuid = *u;
	b->fd = -1;
	t->v[t->nr++] = b;
	return b;
}

/* Remember what EXPORTED said; -ENOMEM. */
static int hbuf_exported(struct hbuf *b, const struct vdmabuf_host_event *ev)
{
	uint8_t *m = NULL;

	if (ev->payload_len) {
		m = malloc(ev->payload_len);
		if (!m)
			return -ENOMEM;
		memcpy(m, ev->payload, ev->payload_len);
	}
	free(b->meta);
	b->meta = m;
	b->meta_len = ev->payload_len;
	b->size = ev->size;
	b->unexported = 0;
	return 0;
}

static void hbuf_free(struct hbuf *b)
{
	if (b->map)
		munmap(b->map, b->map_size);
	if (b->fd >= 0)
		close(b->fd);
	free(b->meta);
	free(b->times);
	free(b);
}

static void hbuf_remove(struct htable *t, struct hbuf *b)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		if (t->v[i] == b) {
			memmove(&t->v[i], &t->v[i + 1],
				(t->nr - i - 1) * sizeof(t->v[0]));
			t->nr--;
			break;
		}
	}
	hbuf_free(b);
}

static void htable_free(struct htable *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		hbuf_free(t->v[i]);
	free(t->v);
}

static const char *event_name(uint32_t type)
{
	switch (type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		return "EXPORTED";
	case VHOST_VDMABUF_EVENT_PRESENTED:
		return "PRESENTED";
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		return "UNEXPORTED";
	default:
		return NULL;
	}
}

static int host_connect(const char *path, int wait_ms,
			struct vdmabuf_importer **imp)
{
	int ret = vdmabuf_importer_connect(path, wait_ms, imp);

	if (!ret)
		return 0;
	error_msg(ret, "connect %s", path);
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		fprintf(stderr,
			"vdmabuf: %s: no VM there (QEMU: -device vhost-vdmabuf-pci,importer-socket=%s; --wait MS to wait for it)\n",
			cmd_name, path);
	return ret;
}

/*
 * Answer a PRESENTED if it is owed (only buffers we imported or joined
 * owe: watching owes nothing); a message on failure.
 */
static int frame_done(struct vdmabuf_importer *imp,
		      const struct vdmabuf_host_event *ev)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	if (!(ev->flags & VHOST_VDMABUF_EVENT_F_OWED))
		return 0;
	ret = vdmabuf_importer_frame_done(imp, &ev->uuid, ev->frame);
	if (ret)
		error_msg(ret, "frame done %s frame %" PRIu64,
			  vdmabuf_uuid_format(&ev->uuid, us), ev->frame);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Usage                                                               */
/* ------------------------------------------------------------------ */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const char usage_main[] =
	"usage: vdmabuf [--help | --version] COMMAND [ARGS]\n"
	"\n"
	"Host (SOCKET: QEMU's -device vhost-vdmabuf-pci,importer-socket=PATH):\n"
	"  list SOCKET                 every buffer the guest shares\n"
	"  watch SOCKET                events as they happen, with frame rates\n"
	"  snapshot SOCKET [UUID | --head N] -o FILE.png\n"
	"                              the next frame of a buffer as a PNG\n"
	"Guest (/dev/virtio-vdmabuf):\n"
	"  info                        the device's features, limits, counters\n"
	"  export FILE | --heap NAME --size BYTES\n"
	"                              export, present frames, unexport\n"
	"  help [COMMAND]              this text, or a command's\n"
	"\n"
	"vdmabuf COMMAND --help lists a command's options.\n"
	"Exit status: 0 done, 1 error, 2 usage, 3 timeout, 4 not displayable.\n";

static const char usage_list[] =
	"usage: vdmabuf list SOCKET [--wait MS] [--json]\n"
	"\n"
	"Every buffer the guest shares: UUID, size, ranges, state, newest frame,\n"
	"metadata.  Reads the events waiting (a second at most, however fast the\n"
	"guest presents).  Imports nothing, so the guest never waits for it.\n"
	"\n"
	"  -w, --wait MS   wait this long for the socket to appear (default 0)\n"
	"  -j, --json      a JSON array of objects\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 done, 1 error, 2 usage.\n";

static const char usage_watch[] =
	"usage: vdmabuf watch SOCKET [--count N] [--duration S] [--wait MS] [--json]\n"
	"\n"
	"Events as they happen, one line each.  Imports nothing, so the guest\n"
	"never waits for it: watching never slows the guest.  A frame line shows\n"
	"the newest of the frames presented since the last one read.  Ends after\n"
	"N events, S seconds, SIGINT or SIGTERM, or when the device goes away.\n"
	"\n"
	"  -c, --count N      stop after N events\n"
	"  -d, --duration S   stop after S seconds (fractions allowed)\n"
	"  -w, --wait MS      wait this long for the socket to appear (default 0)\n"
	"  -j, --json         one JSON object per line\n"
	"  -h, --help         this text\n"
	"\n"
	"Exit status: 0 done, 1 error, 2 usage.\n";

static const char usage_snapshot[] =
	"usage: vdmabuf snapshot SOCKET [UUID | --head N] -o FILE.png [--timeout MS] [--wait MS] [--json]\n"
	"\n"
	"Waits for the next frame of UUID (without UUID: of any buffer with image\n"
	"metadata; with --head, of one shown on that output of the host's\n"
	"display), converts it to 8-bit RGB or RGBA, writes a PNG, then answers\n"
	"the frame.  For a producer that draws only after FRAME_DONE (as the\n"
	"protocol asks), the picture is exactly that frame; a frame replaced\n"
	"during the copy is taken again (5 times at most, then exit 1).\n"
	"\n"
	"  -o, --output FILE  the PNG to write (through FILE.tmp)\n"
	"      --head N       only a frame whose metadata names output N (0-15,\n"
	"                     QEMU's screendump head=N); not with UUID\n"
	"  -t, --timeout MS   wait this long for a frame (default 10000)\n"
	"  -w, --wait MS      wait this long for the socket to appear (default 0)\n"
	"  -j, --json         a JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"Exit status: 0 done, 1 error, 2 usage, 3 no frame in time, 4 the buffer\n"
	"is not displayable (no image metadata, or a format or modifier that\n"
	"cannot be converted; without UUID: none of those shared is).\n";

static const char usage_info[] =
	"usage: vdmabuf info [--device PATH] [--json]\n"
	"\n"
	"The guest device's negotiated features, limits and counters.\n"
	"\n"
	"  -D, --device PATH  the device node (default " VDMABUF_DEV_PATH ")\n"
	"  -j, --json         a JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"Exit status: 0 done, 1 error, 2 usage.\n";

static const char usage_export[] =
	"usage: vdmabuf export (FILE | --heap NAME --size BYTES) [--image WxH:FOURCC]\n"
	"                      [--present N] [--hold S] [--timeout MS]\n"
	"                      [--device PATH] [--json]\n"
	"\n"
	"Exports a buffer holding FILE (allocated by the driver) or a dma-heap\n"
	"buffer, presents N frames waiting for each FRAME_DONE, holds it S\n"
	"seconds, unexports it and waits for RELEASED.  Prints the UUID first.\n"
	"\n"
	"  -H, --heap NAME       allocate from /dev/dma_heap/NAME (e.g. system)\n"
	"  -s, --size BYTES      buffer size; K, M, G suffixes (binary)\n"
	"  -i, --image WxH:FOURCC  attach image metadata, e.g. 1920x1080:XR24\n"
	"                        (a DRM name such as XRGB8888 works too)\n"
	"  -p, --present N       present frames 1..N (default 0)\n"
	"  -l, --hold S          keep it exported S seconds (default 0)\n"
	"  -t, --timeout MS      wait this long for each FRAME_DONE and for\n"
	"                        RELEASED (default 5000)\n"
	"  -D, --device PATH     the device node (default " VDMABUF_DEV_PATH ")\n"
	"  -j, --json            JSON Lines: one object per step\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 done, 1 error, 2 usage, 3 timeout.\n";

/* Print @text to stdout (asked for) or stderr (a mistake) and say so. */
static int usage(const char *text, int to_stdout)
{
	fputs(text, to_stdout ? stdout : stderr);
	return to_stdout ? EX_OK : EX_USAGE;
}

/* The message of a bad option or argument, then the usage. */
static int __printf(2, 3)
usage_error(const char *text, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vdmabuf: %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return usage(text, 0);
}

/* ------------------------------------------------------------------ */
/* list                                                                */
/* ------------------------------------------------------------------ */

struct list_row {
	struct hbuf *b;
	int queried;		/* info below is from QUERY */
	struct vdmabuf_buffer_info info;
	struct meta_desc desc;
};

static const char *state_name(const struct list_row *r)
{
	if (!r->queried)	/* what the events said */
		return r->b->unexported ? "unexported" : "live";
	switch (r->info.state) {
	case VHOST_VDMABUF_STATE_LIVE:
		return "live";
	case VHOST_VDMABUF_STATE_UNEXPORTED:
		return "unexported";
	default:
		return "?";
	}
}

static void list_print(const struct list_row *rows, size_t nr, int json)
{
	char us[VDMABUF_UUID_STR_LEN], sz[32], rng[16], seq[24];
	int w_size = 4, w_state = 5, w_seq = 5;
	size_t i;

	if (json) {
		fputs("[", stdout);
		for (i = 0; i < nr; i++) {
			const struct list_row *r = &rows[i];

			fputs(i ? ",\n {" : "\n {", stdout);
			fputs("\"uuid\":", stdout);
			json_uuid(stdout, &r->b->uuid);
			fputs(",\"size\":", stdout);
			json_u64(stdout, r->queried ? r->info.size : r->b->size);
			if (r->queried)
				printf(",\"nr_ranges\":%u", r->info.nr_ranges);
			else
				fputs(",\"nr_ranges\":null", stdout);
			printf(",\"state\":\"%s\",\"last_seq\":", state_name(r));
			json_u64(stdout, r->queried ? r->info.last_seq :
						      r->b->last_seq);
			fputs(",", stdout);
			meta_print_json(stdout, &r->desc);
			if (!r->queried)
				fputs(",\"queried\":false", stdout);
			fputs("}", stdout);
		}
		fputs(nr ? "\n]\n" : "]\n", stdout);
		return;
	}
	if (!nr) {
		printf("no buffers shared\n");
		return;
	}
	/* Columns as wide as their widest cell. */
	for (i = 0; i < nr; i++) {
		const struct list_row *r = &rows[i];
		int n;

		n = strlen(fmt_size(r->queried ? r->info.size : r->b->size,
				    sz, sizeof(sz)));
		w_size = n > w_size ? n : w_size;
		n = strlen(state_name(r));
		w_state = n > w_state ? n : w_state;
		n = snprintf(seq, sizeof(seq), "%" PRIu64,
			     r->queried ? r->info.last_seq : r->b->last_seq);
		w_seq = n > w_seq ? n : w_seq;
	}
	printf("%-36s  %*s  %6s  %-*s  %*s  %s\n", "UUID", w_size, "SIZE",
	       "RANGES", w_state, "STATE", w_seq, "FRAME", "METADATA");
	for (i = 0; i < nr; i++) {
		const struct list_row *r = &rows[i];

		if (r->queried)
			snprintf(rng, sizeof(rng), "%u", r->info.nr_ranges);
		else
			snprintf(rng, sizeof(rng), "?");
		snprintf(seq, sizeof(seq), "%" PRIu64,
			 r->queried ? r->info.last_seq : r->b->last_seq);
		printf("%-36s  %*s  %6s  %-*s  %*s  ",
		       vdmabuf_uuid_format(&r->b->uuid, us), w_size,
		       fmt_size(r->queried ? r->info.size : r->b->size, sz,
				sizeof(sz)),
		       rng, w_state, state_name(r), w_seq, seq);
		meta_print(stdout, &r->desc);
		putchar('\n');
	}
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static uint8_t meta[VIRTIO_VDMABUF_MAX_META];
	unsigned int query_errors = 0;
	struct vdmabuf_importer *imp = NULL;
	struct vdmabuf_host_event ev;
	struct htable t = { 0 };
	struct list_row *rows = NULL;
	int json = 0, wait_ms = 0, rc = EX_OK, c, ret;
	char us[VDMABUF_UUID_STR_LEN];
	int64_t start, end, settle;
	const char *path;
	struct hbuf *b;
	size_t i, nr = 0;

	while ((c = getopt_long(argc, argv, "w:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (parse_ms(optarg, &wait_ms))
				return usage_error(usage_list,
						   "bad --wait '%s'", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return usage(usage_list, 1);
		default:
			return usage(usage_list, 0);
		}
	}
	if (optind != argc - 1)
		return usage_error(usage_list, "one SOCKET expected");
	path = argv[optind];

	if (host_connect(path, wait_ms, &imp))
		return EX_ERROR;

	/*
	 * A new importer gets one EXPORTED per live export first, queued
	 * when it is created.  Read until none is waiting and no EXPORTED or
	 * UNEXPORTED came for LIST_SETTLE_MS; frames (owed only by
	 * importers that import, never by us) do not extend that, and
	 * LIST_MAX_MS bounds it all: a guest presenting faster than we read
	 * must not keep us here.
	 */
	start = now_ns();
	end = start + LIST_MAX_MS * NSEC_PER_MSEC;
	settle = start + LIST_SETTLE_MS * NSEC_PER_MSEC;
	for (;;) {
		int64_t now = now_ns(), until = settle < end ? settle : end;
		int timeout = 0;

		if (now >= end)
			break;
		if (until > now)
			timeout = (until - now + NSEC_PER_MSEC - 1) /
				  NSEC_PER_MSEC;
		ret = vdmabuf_importer_next_event(imp, &ev, timeout);
		if (ret == -EAGAIN) {
			if (now_ns() >= settle)
				break;
			continue;
		}
		if (ret == -ENODEV) {
			fprintf(stderr, "vdmabuf: list: the device went away\n");
			break;
		}
		if (ret) {
			error_msg(ret, "read events");
			rc = EX_ERROR;
			break;
		}
		if (ev.type == VHOST_VDMABUF_EVENT_EXPORTED ||
		    ev.type == VHOST_VDMABUF_EVENT_UNEXPORTED)
			settle = now_ns() + LIST_SETTLE_MS * NSEC_PER_MSEC;
		b = hbuf_get(&t, &ev.uuid);
		if (!b) {
			error_msg(-ENOMEM, "buffer table");
			rc = EX_ERROR;
			break;
		}
		switch (ev.type) {
		case VHOST_VDMABUF_EVENT_EXPORTED:
			if (hbuf_exported(b, &ev)) {
				error_msg(-ENOMEM, "metadata");
				rc = EX_ERROR;
			}
			break;
		case VHOST_VDMABUF_EVENT_PRESENTED:
			/* We import nothing: no frame is owed. */
			b->last_seq = ev.seq;
			break;
		case VHOST_VDMABUF_EVENT_UNEXPORTED:
			b->unexported = 1;
			break;
		default:
			break;
		}
	}

	rows = calloc(t.nr ? t.nr : 1, sizeof(*rows));
	if (!rows) {
		error_msg(-ENOMEM, "list");
		rc = EX_ERROR;
		goto out;
	}
	for (i = 0; i < t.nr; i++) {
		struct list_row *r = &rows[nr];
		const void *m;
		uint32_t mlen;

		r->b = t.v[i];
		ret = vdmabuf_importer_query(imp, &r->b->uuid, &r->info, meta,
					     sizeof(meta));
		if (ret == -ENOENT)
			continue;	/* released since its events */
		if (ret && !query_errors++)
			error_msg(ret, "query %s",
				  vdmabuf_uuid_format(&r->b->uuid, us));
		r->queried = !ret;
		if (r->queried && r->info.meta_len <= sizeof(meta)) {
			m = meta;
			mlen = r->info.meta_len;
		} else {
			m = r->b->meta;
			mlen = r->b->meta_len;
		}
		meta_describe(m, mlen, r->queried ? r->info.size : r->b->size,
			      &r->desc);
		nr++;
	}
	if (query_errors)
		fprintf(stderr,
			"vdmabuf: list: %u of %zu buffers could not be queried: showing what their events said\n",
			query_errors, nr);
	if (query_errors)
		rc = EX_ERROR;
	list_print(rows, nr, json);
	if (fflush(stdout)) {
		error_msg(errno, "stdout");
		rc = EX_ERROR;
	}
out:
	free(rows);
	htable_free(&t);
	vdmabuf_importer_close(imp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* watch                                                               */
/* ------------------------------------------------------------------ */

/*
 * Frames of @b in the second up to @now, counting @frames that came now
 * (one event can stand for several).
 */
static unsigned int watch_fps(struct hbuf *b, int64_t now, uint32_t frames)
{
	unsigned int i, n = 0;

	if (!b->times) {
		b->times = calloc(FPS_RING, sizeof(*b->times));
		if (!b->times)
			return 0;
	}
	if (frames > FPS_RING)
		frames = FPS_RING;
	for (i = 0; i < frames || !i; i++) {
		b->times[b->head] = now;
		b->head = (b->head + 1) % FPS_RING;
		if (b->nr_times < FPS_RING)
			b->nr_times++;
	}
	for (i = 0; i < b->nr_times; i++)
		if (now - b->times[i] < NSEC_PER_SEC)
			n++;
	return n;
}

static void watch_print(const struct vdmabuf_host_event *ev, struct hbuf *b,
			double t, unsigned int fps, int json)
{
	const char *name = event_name(ev->type);
	char us[VDMABUF_UUID_STR_LEN], sz[32], tn[16];
	struct vdmabuf_rect r;
	struct meta_desc d;
	uint32_t i;

	if (!name) {
		snprintf(tn, sizeof(tn), "TYPE_%u", ev->type);
		name = tn;
	}
	if (ev->type == VHOST_VDMABUF_EVENT_EXPORTED)
		meta_describe(b->meta, b->meta_len, b->size, &d);
	vdmabuf_uuid_format(&ev->uuid, us);

	if (json) {
		printf("{\"time\":%.3f,\"type\":", t);
		json_str(stdout, name);
		printf(",\"uuid\":\"%s\"", us);
		if (ev->type == VHOST_VDMABUF_EVENT_EXPORTED) {
			fputs(",\"size\":", stdout);
			json_u64(stdout, ev->size);
			fputs(",", stdout);
			meta_print_json(stdout, &d);
		} else if (ev->type == VHOST_VDMABUF_EVENT_PRESENTED) {
			fputs(",\"seq\":", stdout);
			json_u64(stdout, ev->seq);
			fputs(",\"damage\":[", stdout);
			for (i = 0; i < ev->nr_rects; i++) {
				if (vdmabuf_event_damage(ev, i, &r))
					break;
				printf("%s{\"x\":%u,\"y\":%u,\"width\":%u,\"height\":%u}",
				       i ? "," : "", r.x, r.y, r.width,
				       r.height);
			}
			printf("],\"fps\":%u", fps);
		}
		fputs("}\n", stdout);
		return;
	}

	printf("%9.3f  %-10s  %s", t, name, us);
	if (ev->type == VHOST_VDMABUF_EVENT_EXPORTED) {
		printf("  %s  ", fmt_size(ev->size, sz, sizeof(sz)));
		meta_print(stdout, &d);
	} else if (ev->type == VHOST_VDMABUF_EVENT_PRESENTED) {
		printf("  seq %" PRIu64, ev->seq);
		if (!ev->nr_rects)
			printf("  full");
		else if (!vdmabuf_event_damage(ev, 0, &r))
			printf("  %u rect%s first %u,%u %ux%u", ev->nr_rects,
			       ev->nr_rects == 1 ? "" : "s", r.x, r.y,
			       r.width, r.height);
		printf("  %u fps", fps);
	}
	putchar('\n');
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct vdmabuf_importer *imp = NULL;
	struct vdmabuf_host_event ev;
	struct htable t = { 0 };
	uint64_t count = 0, seen = 0;
	double duration = -1;
	int json = 0, wait_ms = 0, rc = EX_OK, done = 0, c, ret;
	int64_t start, deadline = -1;
	sigset_t waitmask;
	const char *path;

	while ((c = getopt_long(argc, argv, "c:d:w:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_u64(optarg, &count) || !count)
				return usage_error(usage_watch,
						   "bad --count '%s'", optarg);
			break;
		case 'd':
			if (parse_seconds(optarg, &duration))
				return usage_error(usage_watch,
						   "bad --duration '%s'",
						   optarg);
			break;
		case 'w':
			if (parse_ms(optarg, &wait_ms))
				return usage_error(usage_watch,
						   "bad --wait '%s'", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return usage(usage_watch, 1);
		default:
			return usage(usage_watch, 0);
		}
	}
	if (optind != argc - 1)
		return usage_error(usage_watch, "one SOCKET expected");
	path = argv[optind];

	stop_signals_setup(&waitmask);
	if (host_connect(path, wait_ms, &imp))
		return EX_ERROR;
	start = now_ns();
	if (duration >= 0)
		deadline = start + (int64_t)llround(duration * NSEC_PER_SEC);

	while (!done) {
		ret = wait_fd(vdmabuf_importer_fd(imp), deadline, &waitmask);
		if (ret == -EINTR || ret == 0)
			break;		/* a signal, or --duration is over */
		if (ret < 0) {
			error_msg(ret, "poll");
			rc = EX_ERROR;
			break;
		}
		/* Everything waiting, also what the library has buffered. */
		while (!done) {
			int64_t now;
			unsigned int fps = 0;
			struct hbuf *b;

			ret = vdmabuf_importer_next_event(imp, &ev, 0);
			if (ret == -EAGAIN)
				break;
			if (ret == -ENODEV) {
				fflush(stdout);
				fprintf(stderr,
					"vdmabuf: watch: the device went away\n");
				done = 1;
				break;
			}
			if (ret) {
				error_msg(ret, "read events");
				rc = EX_ERROR;
				done = 1;
				break;
			}
			now = now_ns();
			b = hbuf_get(&t, &ev.uuid);
			if (!b) {
				error_msg(-ENOMEM, "buffer table");
				rc = EX_ERROR;
				done = 1;
				break;
			}
			if (ev.type == VHOST_VDMABUF_EVENT_EXPORTED &&
			    hbuf_exported(b, &ev)) {
				error_msg(-ENOMEM, "metadata");
				rc = EX_ERROR;
				done = 1;
				break;
			}
			if (ev.type == VHOST_VDMABUF_EVENT_PRESENTED)
				fps = watch_fps(b, now, ev.nr_frames);
			watch_print(&ev, b, (now - start) / 1e9, fps, json);
			if (fflush(stdout)) {
				error_msg(errno, "stdout");
				rc = EX_ERROR;
				done = 1;
			}
			/* Watching imports nothing: no frame is owed. */
			if (ev.type == VHOST_VDMABUF_EVENT_UNEXPORTED)
				hbuf_remove(&t, b);
			if (count && ++seen >= count)
				done = 1;
		}
	}
	htable_free(&t);
	vdmabuf_importer_close(imp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* snapshot                                                            */
/* ------------------------------------------------------------------ */

/* Can a frame of @b be taken?  Sets b->displayable or b->why. */
static void snap_classify(struct hbuf *b)
{
	struct meta_desc *d = &b->desc;
	char why[128];

	meta_describe(b->meta, b->meta_len, b->size, d);
	b->displayable = 0;
	switch (d->kind) {
	case META_NONE:
		snprintf(b->why, sizeof(b->why), "no metadata, not an image");
		return;
	case META_OPAQUE:
		snprintf(b->why, sizeof(b->why),
			 "opaque metadata (%u bytes), not an image", d->len);
		return;
	case META_INVALID:
		snprintf(b->why, sizeof(b->why), "invalid image: %s",
			 d->reason);
		return;
	case META_IMAGE:
	case META_UNCHECKED:
		break;
	}
	if (image_has_color(&d->img)) {
		snprintf(b->why, sizeof(b->why), "%s", d->reason);
		return;
	}
	if (conv_check(&d->img, b->size, why, sizeof(why))) {
		snprintf(b->why, sizeof(b->why), "%s", why);
		return;
	}
	b->displayable = 1;
}

/*
 * Take frame @ev of @b: import and map once, copy the picture out under a
 * read bracket, write the PNG, and only then answer the frame.
 *
 * A producer that presents again before FRAME_DONE gets the older frame
 * completed at once (REPLACED) and may draw while we copy.  So after the
 * copy, ask whether @ev is still the newest frame; if not, drop the copy
 * and return SNAP_AGAIN: the caller takes the next one.
 */
static int snap_take(struct vdmabuf_importer *imp, struct hbuf *b,
		     const struct vdmabuf_host_event *ev, const char *file,
		     int json)
{
	char us[VDMABUF_UUID_STR_LEN], name[5], why[128];
	struct rgb_image rgb = { 0 };
	const struct vdmabuf_image *img = &b->desc.img;
	struct vdmabuf_buffer_info info;
	uint64_t size = 0;
	int ret, end, rc = EX_ERROR;

	vdmabuf_uuid_format(&b->uuid, us);
	if (b->fd < 0) {
		ret = vdmabuf_importer_import(imp, &b->uuid, &size);
		if (ret < 0) {
			error_msg(ret, "import %s", us);
			goto done;
		}
		b->fd = ret;
		if (size != b->size) {
			error_msg(0, "%s: imported %" PRIu64
				  " bytes, EXPORTED said %" PRIu64, us, size,
				  b->size);
			goto done;
		}
		if (!fits_size_t(size)) {
			error_msg(-EOVERFLOW, "%s: %" PRIu64 " bytes cannot be mapped",
				  us, size);
			goto done;
		}
		b->map = mmap(NULL, size, PROT_READ, MAP_SHARED, b->fd, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			error_msg(errno, "mmap %s (%" PRIu64 " bytes)", us,
				  size);
			goto done;
		}
		b->map_size = size;
	}
	if (conv_check(img, b->map_size, why, sizeof(why))) {
		error_msg(0, "%s: %s", us, why);
		rc = EX_NODISPLAY;
		goto done;
	}

	ret = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (ret) {
		error_msg(ret, "%s: DMA_BUF_IOCTL_SYNC start", us);
		goto done;
	}
	ret = conv_image(b->map, b->map_size, img, &rgb);
	end = vdmabuf_dmabuf_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	if (end)
		error_msg(end, "%s: DMA_BUF_IOCTL_SYNC end", us);
	if (ret) {
		error_msg(ret, "%s: convert", us);
		goto done;
	}
	ret = vdmabuf_importer_query(imp, &b->uuid, &info, NULL, 0);
	if (ret) {
		error_msg(ret, "query %s after the copy", us);
		goto done;
	}
	if (info.last_frame != ev->frame) {
		error_msg(0, "%s: seq %" PRIu64 " replaced by seq %" PRIu64 " during the copy",
			  us, ev->seq, info.last_seq);
		rc = SNAP_AGAIN;
		goto done;
	}
	ret = png_write_file(file, &rgb);
	if (ret) {
		error_msg(ret, "write %s", file);
		goto done;
	}
	rc = EX_OK;
done:
	free(rgb.data);
	if (frame_done(imp, ev) && (rc == EX_OK || rc == SNAP_AGAIN))
		rc = EX_ERROR;
	if (rc != EX_OK)
		return rc;
	vdmabuf_fourcc_name(img->fourcc, name);
	if (json) {
		printf("{\"uuid\":\"%s\",\"seq\":", us);
		json_u64(stdout, ev->seq);
		printf(",\"width\":%u,\"height\":%u,\"fourcc\":", img->width,
		       img->height);
		json_str(stdout, name);
		printf(",\"output\":%u,\"file\":", img->output);
		json_str(stdout, file);
		fputs("}\n", stdout);
	} else {
		printf("%s seq %" PRIu64 " %ux%u %s out %u -> %s\n", us,
		       ev->seq, img->width, img->height, name, img->output,
		       file);
	}
	if (fflush(stdout)) {
		error_msg(errno, "stdout");
		return EX_ERROR;
	}
	return EX_OK;
}

/**
 * struct snap_target - which frame a snapshot takes
 * @uuid: only this buffer's, or NULL
 * @head: only one whose image metadata names this output, or -1
 */
struct snap_target {
	const struct vdmabuf_uuid *uuid;
	int head;
};

/* May the snapshot take @b (NULL: unknown), given the @target asked for? */
static int snap_wanted(const struct hbuf *b, const struct snap_target *target)
{
	return b && b->displayable &&
	       (!target->uuid ||
		!memcmp(target->uuid, &b->uuid, sizeof(*target->uuid))) &&
	       (target->head < 0 || b->desc.img.output == (uint32_t)target->head);
}

/* No frame came: say why, and which exit status that is. */
static int snap_timeout(struct htable *t, const struct snap_target *target,
			int timeout_ms)
{
	char us[VDMABUF_UUID_STR_LEN];
	int images = 0;
	size_t i;

	if (target->uuid) {
		vdmabuf_uuid_format(target->uuid, us);
		error_msg(0, "no frame of %s within %d ms%s", us, timeout_ms,
			  hbuf_find(t, target->uuid) ? "" : " (no such export)");
		return EX_TIMEOUT;
	}
	for (i = 0; i < t->nr; i++) {
		if (t->v[i]->displayable)
			break;
		if (t->v[i]->desc.kind != META_NONE &&
		    t->v[i]->desc.kind != META_OPAQUE)
			images++;
	}
	/* Displayable buffers, none of them on the output asked for */
	if (target->head >= 0 && i < t->nr) {
		for (i = 0; i < t->nr; i++)
			if (snap_wanted(t->v[i], target))
				break;
		error_msg(0, "no frame on output %d within %d ms%s",
			  target->head, timeout_ms,
			  i < t->nr ? "" : " (no displayable buffer names it)");
		return EX_TIMEOUT;
	}
	/* Buffers, none of them displayable: waiting longer cannot help. */
	if (t->nr && i == t->nr) {
		if (images)
			error_msg(0, "no displayable buffer:");
		else
			error_msg(0, "no buffer with image metadata:");
		for (i = 0; i < t->nr; i++)
			fprintf(stderr, "  %s: %s\n",
				vdmabuf_uuid_format(&t->v[i]->uuid, us),
				t->v[i]->why);
		return EX_NODISPLAY;
	}
	if (!t->nr) {
		error_msg(0, "no buffer shared, no frame within %d ms",
			  timeout_ms);
		return EX_TIMEOUT;
	}
	error_msg(0, "no frame of an image buffer within %d ms", timeout_ms);
	return EX_TIMEOUT;
}

/* Take part in @b's frames: nonzero (with a message) on failure. */
static int snap_join(struct vdmabuf_importer *imp, const struct hbuf *b)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	ret = vdmabuf_importer_frames(imp, &b->uuid, VHOST_VDMABUF_FRAMES_JOIN);
	/* Gone already: its UNEXPORTED follows. */
	if (!ret || ret == -ENOENT)
		return 0;
	error_msg(ret, "join the frames of %s",
		  vdmabuf_uuid_format(&b->uuid, us));
	return ret;
}

static int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "head", required_argument, NULL, 'O' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct vdmabuf_importer *imp = NULL;
	struct vdmabuf_uuid target_uuid;
	struct snap_target target = { .head = -1 };
	struct vdmabuf_host_event ev;
	uint32_t head;
	struct htable t = { 0 };
	int json = 0, wait_ms = 0, timeout_ms = 10000, rc = -1, c, ret;
	int replaced = 0;
	char us[VDMABUF_UUID_STR_LEN];
	const char *path, *file = NULL;
	int64_t deadline;
	sigset_t waitmask;
	struct hbuf *b;

	while ((c = getopt_long(argc, argv, "o:t:w:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			file = optarg;
			break;
		case 'O':	/* --head: no short form (-H is export's --heap) */
			if (parse_u32(optarg, &head) ||
			    head >= VDMABUF_MAX_OUTPUTS)
				return usage_error(usage_snapshot,
						   "bad --head '%s'", optarg);
			target.head = head;
			break;
		case 't':
			if (parse_ms(optarg, &timeout_ms))
				return usage_error(usage_snapshot,
						   "bad --timeout '%s'",
						   optarg);
			break;
		case 'w':
			if (parse_ms(optarg, &wait_ms))
				return usage_error(usage_snapshot,
						   "bad --wait '%s'", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return usage(usage_snapshot, 1);
		default:
			return usage(usage_snapshot, 0);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return usage_error(usage_snapshot, "SOCKET [UUID] expected");
	path = argv[optind];
	if (argc - optind == 2) {
		if (vdmabuf_uuid_parse(argv[optind + 1], &target_uuid))
			return usage_error(usage_snapshot, "bad UUID '%s'",
					   argv[optind + 1]);
		target.uuid = &target_uuid;
	}
	if (target.uuid && target.head >= 0)
		return usage_error(usage_snapshot,
				   "UUID or --head, not both (a buffer's metadata names its output)");
	if (!file)
		return usage_error(usage_snapshot, "-o FILE.png is required");
#ifdef VDMABUF_NO_PNG
	error_msg(0, "built without PNG support");
	return EX_ERROR;
#endif

	stop_signals_setup(&waitmask);
	if (host_connect(path, wait_ms, &imp))
		return EX_ERROR;
	deadline = now_ns() + (int64_t)timeout_ms * NSEC_PER_MSEC;

	while (rc < 0) {
		ret = wait_fd(vdmabuf_importer_fd(imp), deadline, &waitmask);
		if (ret == -EINTR) {
			error_msg(0, "interrupted");
			rc = EX_ERROR;
			break;
		}
		if (ret == 0) {
			rc = snap_timeout(&t, &target, timeout_ms);
			break;
		}
		if (ret < 0) {
			error_msg(ret, "poll");
			rc = EX_ERROR;
			break;
		}
		while (rc < 0) {
			ret = vdmabuf_importer_next_event(imp, &ev, 0);
			if (ret == -EAGAIN)
				break;
			if (ret == -ENODEV) {
				error_msg(0, "the device went away");
				rc = EX_ERROR;
				break;
			}
			if (ret) {
				error_msg(ret, "read events");
				rc = EX_ERROR;
				break;
			}
			vdmabuf_uuid_format(&ev.uuid, us);
			b = hbuf_find(&t, &ev.uuid);
			switch (ev.type) {
			case VHOST_VDMABUF_EVENT_EXPORTED:
				b = hbuf_get(&t, &ev.uuid);
				if (!b || hbuf_exported(b, &ev)) {
					error_msg(-ENOMEM, "buffer table");
					rc = EX_ERROR;
					break;
				}
				snap_classify(b);
				if (target.uuid &&
				    !memcmp(target.uuid, &ev.uuid,
					    sizeof(ev.uuid)) &&
				    !b->displayable) {
					error_msg(0, "%s: not displayable: %s",
						  us, b->why);
					rc = EX_NODISPLAY;
				}
				/*
				 * Take part in a candidate's frames, so that
				 * its producer waits while we copy.
				 */
				if (rc < 0 && snap_wanted(b, &target) &&
				    snap_join(imp, b))
					rc = EX_ERROR;
				break;
			case VHOST_VDMABUF_EVENT_PRESENTED:
				/*
				 * A frame presented before we joined is not
				 * held for us: take the next one.
				 */
				if (snap_wanted(b, &target) &&
				    (ev.flags & VHOST_VDMABUF_EVENT_F_OWED)) {
					rc = snap_take(imp, b, &ev, file, json);
					if (rc == SNAP_AGAIN &&
					    ++replaced >= SNAP_RETRIES) {
						error_msg(0,
							  "%d frames in a row replaced during the copy: the producer presents again before FRAME_DONE",
							  replaced);
						rc = EX_ERROR;
					}
					break;
				}
				if (frame_done(imp, &ev))
					rc = EX_ERROR;
				break;
			case VHOST_VDMABUF_EVENT_UNEXPORTED:
				if (!b)
					break;
				if (target.uuid &&
				    !memcmp(target.uuid, &ev.uuid,
					    sizeof(ev.uuid))) {
					error_msg(0, "%s: unexported before a frame came",
						  us);
					rc = EX_ERROR;
				}
				hbuf_remove(&t, b);
				break;
			default:
				break;
			}
		}
	}
	htable_free(&t);
	vdmabuf_importer_close(imp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* info (guest)                                                        */
/* ------------------------------------------------------------------ */

static const struct {
	unsigned int bit;
	const char *name;
} feature_names[] = {
	{ VIRTIO_VDMABUF_F_PRESENT, "PRESENT" },
	{ VIRTIO_VDMABUF_F_OUTPUTS, "OUTPUTS" },
	{ 28, "INDIRECT_DESC" },
	{ 29, "EVENT_IDX" },
	{ 32, "VERSION_1" },
	{ 33, "ACCESS_PLATFORM" },
	{ 34, "RING_PACKED" },
	{ 35, "IN_ORDER" },
	{ 36, "ORDER_PLATFORM" },
	{ 37, "SR_IOV" },
	{ 38, "NOTIFICATION_DATA" },
	{ 40, "RING_RESET" },
};

#define NR_FEATURE_NAMES	ARRAY_SIZE(feature_names)

static const char *feature_name(unsigned int bit)
{
	size_t i;

	for (i = 0; i < NR_FEATURE_NAMES; i++)
		if (feature_names[i].bit == bit)
			return feature_names[i].name;
	return NULL;
}

/*
 * The device's totals over every opener: sysfs attributes of the device
 * behind @devpath, readable by root only (INFO gives the caller's own,
 * which are nothing for a fresh open).  0, or -errno.
 */
struct dev_totals {
	uint64_t live_exports, live_bytes, alloc_bytes;
};

static int read_dev_total(const char *dir, const char *name, uint64_t *v)
{
	char path[160], text[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	text[n] = 0;
	*v = strtoull(text, NULL, 10);
	return 0;
}

static int dev_totals_read(const char *devpath, struct dev_totals *t)
{
	char dir[96];
	struct stat st;
	int ret;

	if (stat(devpath, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENODEV;
	snprintf(dir, sizeof(dir), "/sys/dev/char/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	ret = read_dev_total(dir, "live_exports", &t->live_exports);
	if (!ret)
		ret = read_dev_total(dir, "live_bytes", &t->live_bytes);
	if (!ret)
		ret = read_dev_total(dir, "alloc_bytes", &t->alloc_bytes);
	return ret;
}

static void info_print(const struct vdmabuf_info *in,
		       const struct vdmabuf_outputs *outs,
		       const struct dev_totals *t, int json)
{
	uint32_t i;
	char s1[32], s2[32];
	unsigned int bit;
	int first = 1;

	if (json) {
		printf("{\"features\":");
		json_u64(stdout, in->features);
		printf(",\"features_hex\":\"0x%016" PRIx64 "\",\"feature_names\":[",
		       (uint64_t)in->features);
		for (bit = 0; bit < 64; bit++) {
			const char *n = feature_name(bit);
			char tmp[16];

			if (!(in->features & (1ULL << bit)))
				continue;
			if (!n) {
				snprintf(tmp, sizeof(tmp), "BIT_%u", bit);
				n = tmp;
			}
			printf("%s\"%s\"", first ? "" : ",", n);
			first = 0;
		}
		printf("],\"max_ranges\":%u,\"max_meta_len\":%u,",
		       in->max_ranges, in->max_meta_len);
		printf("\"max_exports\":%u,\"max_rects\":%u",
		       in->max_exports, in->max_rects);
		fputs(",\"max_export_size\":", stdout);
		json_u64(stdout, in->max_export_size);
		fputs(",\"max_total_size\":", stdout);
		json_u64(stdout, in->max_total_size);
		if (t) {
			fputs(",\"live_exports\":", stdout);
			json_u64(stdout, t->live_exports);
			fputs(",\"live_bytes\":", stdout);
			json_u64(stdout, t->live_bytes);
			fputs(",\"alloc_bytes\":", stdout);
			json_u64(stdout, t->alloc_bytes);
		} else {
			fputs(",\"live_exports\":null,\"live_bytes\":null,\"alloc_bytes\":null",
			      stdout);
		}
		printf(",\"max_events\":%u,\"outputs\":[", in->max_events);
		for (i = 0; i < outs->nr_outputs; i++)
			printf("%s{\"width\":%u,\"height\":%u}", i ? "," : "",
			       outs->outputs[i].width, outs->outputs[i].height);
		printf("]}\n");
		return;
	}
	printf("features         0x%016" PRIx64, (uint64_t)in->features);
	for (bit = 0; bit < 64; bit++) {
		const char *n = feature_name(bit);

		if (!(in->features & (1ULL << bit)))
			continue;
		if (n)
			printf("%s%s", first ? "  " : " ", n);
		else
			printf("%sbit%u", first ? "  " : " ", bit);
		first = 0;
	}
	if (!(in->features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		printf("%s(no PRESENT: frames cannot be presented)",
		       first ? "  " : " ");
	putchar('\n');
	printf("limits\n");
	printf("  max_ranges       %u per export\n", in->max_ranges);
	printf("  max_meta_len     %u bytes\n", in->max_meta_len);
	printf("  max_exports      %u\n", in->max_exports);
	printf("  max_rects        %u per frame\n", in->max_rects);
	printf("  max_export_size  %s (%" PRIu64 " bytes)\n",
	       fmt_size(in->max_export_size, s1, sizeof(s1)),
	       (uint64_t)in->max_export_size);
	printf("  max_total_size   %s (%" PRIu64 " bytes)\n",
	       fmt_size(in->max_total_size, s2, sizeof(s2)),
	       (uint64_t)in->max_total_size);
	printf("  max_events       %u per opener\n", in->max_events);
	if (outs->nr_outputs)
		printf("outputs (the host's display, preferred sizes)\n");
	for (i = 0; i < outs->nr_outputs; i++) {
		if (outs->outputs[i].width)
			printf("  %-16u %ux%u\n", i, outs->outputs[i].width,
			       outs->outputs[i].height);
		else
			printf("  %-16u (described out of bounds)\n", i);
	}
	if (!t) {
		printf("counters         (the device's totals are for root)\n");
		return;
	}
	printf("counters (every opener)\n");
	printf("  live_exports     %" PRIu64 "\n", t->live_exports);
	printf("  live_bytes       %s\n",
	       fmt_size(t->live_bytes, s1, sizeof(s1)));
	printf("  alloc_bytes      %s\n",
	       fmt_size(t->alloc_bytes, s2, sizeof(s2)));
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *devpath = VDMABUF_DEV_PATH;
	struct vdmabuf_outputs outs;
	struct vdmabuf_dev *dev;
	struct vdmabuf_info in;
	struct dev_totals t;
	int json = 0, c, ret;

	while ((c = getopt_long(argc, argv, "D:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			devpath = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return usage(usage_info, 1);
		default:
			return usage(usage_info, 0);
		}
	}
	if (optind != argc)
		return usage_error(usage_info, "unexpected '%s'", argv[optind]);

	ret = vdmabuf_dev_open(devpath, &dev);
	if (ret) {
		error_msg(ret, "open %s", devpath);
		return EX_ERROR;
	}
	ret = vdmabuf_dev_info(dev, &in);
	/* A driver before VDMABUF_IOCTL_OUTPUTS: no display, as far as known */
	if (vdmabuf_dev_outputs(dev, &outs))
		memset(&outs, 0, sizeof(outs));
	vdmabuf_dev_close(dev);
	if (ret) {
		error_msg(ret, "VDMABUF_IOCTL_INFO");
		return EX_ERROR;
	}
	info_print(&in, &outs, dev_totals_read(devpath, &t) ? NULL : &t, json);
	if (fflush(stdout)) {
		error_msg(errno, "stdout");
		return EX_ERROR;
	}
	return EX_OK;
}

/* ------------------------------------------------------------------ */
/* export (guest)                                                      */
/* ------------------------------------------------------------------ */

struct export_opts {
	const char *file;
	const char *heap;
	uint64_t size;
	int has_image;
	struct vdmabuf_image img;
	uint64_t img_size;
	uint64_t present;
	double hold;
	int timeout_ms;
	const char *devpath;
	int json;
};

/* "WxH:FOURCC" */
static int parse_image(const char *s, struct export_opts *o)
{
	uint32_t w, h, fourcc;
	char buf[64], *x, *colon;
	int64_t size;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	x = strchr(buf, 'x');
	colon = strchr(buf, ':');
	if (!x || !colon || colon < x)
		return -EINVAL;
	*x = *colon = '\0';
	if (parse_u32(buf, &w) || parse_u32(x + 1, &h) ||
	    conv_fourcc_parse(colon + 1, &fourcc))
		return -EINVAL;
	size = vdmabuf_image_init(&o->img, w, h, fourcc);
	if (size < 0)
		return (int)size;
	o->img_size = size;
	o->has_image = 1;
	return 0;
}

/* A dma-buf of @size bytes from /dev/dma_heap/@name; fd or -errno. */
static int heap_alloc(const char *name, uint64_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	char path[256];
	int hfd, ret;

	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	hfd = open(path, O_RDONLY | O_CLOEXEC);
	if (hfd < 0) {
		ret = -errno;
		error_msg(ret, "open %s", path);
		return ret;
	}
	if (ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, &d) < 0) {
		ret = -errno;
		error_msg(ret, "DMA_HEAP_IOCTL_ALLOC %" PRIu64 " bytes from %s",
			  size, path);
		close(hfd);
		return ret;
	}
	close(hfd);
	return d.fd;
}

/* Copy @in (@len bytes) into the dma-buf @fd, under a write bracket. */
static int fill_from_file(int fd, uint64_t size, int in, uint64_t len,
			  const char *file)
{
	uint8_t *map;
	uint64_t done = 0;
	int ret, end;

	if (!fits_size_t(size)) {
		ret = -EOVERFLOW;
		error_msg(ret, "%" PRIu64 " bytes cannot be mapped", size);
		return ret;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		error_msg(ret, "mmap the buffer (%" PRIu64 " bytes)", size);
		return ret;
	}
	ret = vdmabuf_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	if (ret) {
		error_msg(ret, "DMA_BUF_IOCTL_SYNC start");
		goto out;
	}
	while (done < len) {
		ssize_t n = read(in, map + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			error_msg(ret, "read %s", file);
			break;
		}
		done += n;
	}
	end = vdmabuf_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	if (end) {
		error_msg(end, "DMA_BUF_IOCTL_SYNC end");
		if (!ret)
			ret = end;
	}
out:
	munmap(map, size);
	return ret;
}

/*
 * The next event about @uuid of @type (and @seq for FRAME_DONE) before
 * @deadline.  Return: 0, -ETIMEDOUT, -EINTR, or another -errno.
 */
static int export_wait(struct vdmabuf_dev *dev,
		       const struct vdmabuf_uuid *uuid, uint32_t type,
		       uint64_t seq, int64_t deadline, const sigset_t *waitmask,
		       struct vdmabuf_event *out)
{
	int ret;

	for (;;) {
		ret = vdmabuf_dev_next_event(dev, out, 0);
		if (!ret) {
			if (out->type == type &&
			    !memcmp(out->uuid, uuid->b, sizeof(out->uuid)) &&
			    (type != VDMABUF_EVENT_FRAME_DONE || out->seq == seq))
				return 0;
			continue;
		}
		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(vdmabuf_dev_fd(dev), deadline, waitmask);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0)
			return ret;
	}
}

static void export_step(const struct export_opts *o, const char *what,
			uint64_t seq, double ms, int replaced)
{
	if (o->json) {
		printf("{\"event\":\"%s\"", what);
		if (seq) {
			fputs(",\"seq\":", stdout);
			json_u64(stdout, seq);
			printf(",\"replaced\":%s", replaced ? "true" : "false");
		}
		printf(",\"ms\":%.3f}\n", ms);
	} else if (seq) {
		printf("frame %" PRIu64 " done in %.3f ms%s\n", seq, ms,
		       replaced ? " (replaced)" : "");
	} else {
		printf("%s in %.3f ms\n", what, ms);
	}
	fflush(stdout);
}

static int export_run(const struct export_opts *o, struct vdmabuf_dev *dev,
		      int fd)
{
	char us[VDMABUF_UUID_STR_LEN], sz[32], desc[160];
	struct vdmabuf_exported ex;
	struct vdmabuf_event ev;
	sigset_t waitmask;
	int64_t t0, deadline;
	uint64_t seq;
	int ret, wret = 0, rc = EX_OK;

	stop_signals_setup(&waitmask);
	if (o->has_image)
		ret = vdmabuf_dev_export_image(dev, fd, &o->img, &ex);
	else
		ret = vdmabuf_dev_export(dev, fd, NULL, 0, &ex);
	if (ret) {
		error_msg(ret, "VDMABUF_IOCTL_EXPORT");
		return EX_ERROR;
	}
	vdmabuf_uuid_format(&ex.uuid, us);
	if (o->json) {
		printf("{\"event\":\"exported\",\"uuid\":\"%s\",\"size\":", us);
		json_u64(stdout, ex.size);
		printf(",\"nr_ranges\":%u}\n", ex.nr_ranges);
	} else {
		if (o->has_image)
			image_summary(&o->img, desc, sizeof(desc));
		else
			snprintf(desc, sizeof(desc), "-");
		printf("%s  %s  %u range%s  %s\n", us,
		       fmt_size(ex.size, sz, sizeof(sz)), ex.nr_ranges,
		       ex.nr_ranges == 1 ? "" : "s", desc);
	}
	fflush(stdout);

	for (seq = 1; seq <= o->present && rc == EX_OK; seq++) {
		if (stop_signal) {
			error_msg(0, "interrupted before frame %" PRIu64, seq);
			rc = EX_ERROR;
			break;
		}
		t0 = now_ns();
		deadline = t0 + (int64_t)o->timeout_ms * NSEC_PER_MSEC;
		wret = 0;
		for (;;) {
			int64_t retry;

			ret = vdmabuf_dev_present(dev, &ex.uuid, seq, NULL, 0);
			if (ret != -EBUSY && ret != -ENOBUFS)
				break;
			/*
			 * Back-pressure: read events, retry a little later
			 * or when one comes; a stop signal ends the wait.
			 */
			while (!vdmabuf_dev_next_event(dev, &ev, 0))
				;
			retry = now_ns();
			if (retry > deadline)
				break;
			retry += 10 * NSEC_PER_MSEC;
			wret = wait_fd(vdmabuf_dev_fd(dev),
				       retry < deadline ? retry : deadline,
				       &waitmask);
			if (wret < 0)
				break;
		}
		if (ret && wret == -EINTR) {
			error_msg(0, "interrupted waiting to present frame %" PRIu64,
				  seq);
			rc = EX_ERROR;
			break;
		}
		if (ret && wret < 0) {
			error_msg(wret, "poll");
			rc = EX_ERROR;
			break;
		}
		if (ret) {
			error_msg(ret, "present %s seq %" PRIu64, us, seq);
			rc = ret == -EBUSY || ret == -ENOBUFS ? EX_TIMEOUT :
								EX_ERROR;
			break;
		}
		ret = export_wait(dev, &ex.uuid, VDMABUF_EVENT_FRAME_DONE, seq,
				  deadline, &waitmask, &ev);
		if (ret == -ETIMEDOUT) {
			error_msg(0,
				  "frame %" PRIu64 ": no FRAME_DONE in %d ms",
				  seq, o->timeout_ms);
			rc = EX_TIMEOUT;
			break;
		}
		if (ret == -EINTR) {
			error_msg(0, "interrupted waiting for frame %" PRIu64,
				  seq);
			rc = EX_ERROR;
			break;
		}
		if (ret) {
			error_msg(ret, "read events");
			rc = EX_ERROR;
			break;
		}
		export_step(o, "frame_done", seq, (now_ns() - t0) / 1e6,
			    ev.flags & VDMABUF_EVENT_F_REPLACED);
	}

	if (rc == EX_OK && !stop_signal && o->hold > 0) {
		int64_t end = now_ns() + (int64_t)llround(o->hold * NSEC_PER_SEC);
		sigset_t none;

		/* Sleep until the end or a signal; no fd to watch. */
		while (!stop_signal && now_ns() < end) {
			int64_t left = end - now_ns();
			struct timespec ts = {
				.tv_sec = left / NSEC_PER_SEC,
				.tv_nsec = left % NSEC_PER_SEC,
			};

			none = waitmask;
			ppoll(NULL, 0, &ts, &none);
		}
	}

	t0 = now_ns();
	ret = vdmabuf_dev_unexport(dev, &ex.uuid);
	if (ret) {
		error_msg(ret, "unexport %s", us);
		return EX_ERROR;
	}
	/* Waiting for RELEASED is not cut short by a signal: it is cleanup. */
	stop_signal = 0;
	deadline = t0 + (int64_t)o->timeout_ms * NSEC_PER_MSEC;
	ret = export_wait(dev, &ex.uuid, VDMABUF_EVENT_RELEASED, 0, deadline,
			  &waitmask, &ev);
	if (ret == -ETIMEDOUT) {
		error_msg(0, "%s: no RELEASED within %d ms (the host still holds it?)",
			  us, o->timeout_ms);
		return EX_TIMEOUT;
	}
	if (ret == -EINTR) {
		error_msg(0, "interrupted waiting for RELEASED");
		return EX_ERROR;
	}
	if (ret) {
		error_msg(ret, "read events");
		return EX_ERROR;
	}
	export_step(o, "released", 0, (now_ns() - t0) / 1e6, 0);
	return rc;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "heap", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },
		{ "image", required_argument, NULL, 'i' },
		{ "present", required_argument, NULL, 'p' },
		{ "hold", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct export_opts o = {
		.timeout_ms = 5000,
		.devpath = VDMABUF_DEV_PATH,
	};
	struct vdmabuf_dev *dev = NULL;
	uint64_t file_len = 0, size;
	int in = -1, fd = -1, rc = EX_ERROR, c, ret;
	struct stat st;

	while ((c = getopt_long(argc, argv, "H:s:i:p:l:t:D:jh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'H':
			o.heap = optarg;
			break;
		case 's':
			if (parse_size(optarg, &o.size) || !o.size)
				return usage_error(usage_export,
						   "bad --size '%s'", optarg);
			break;
		case 'i':
			ret = parse_image(optarg, &o);
			if (ret == -ENOTSUP)
				return usage_error(usage_export,
						   "--image '%s': a format libvdmabuf does not know",
						   optarg);
			if (ret)
				return usage_error(usage_export,
						   "bad --image '%s' (WxH:FOURCC, e.g. 1920x1080:XR24)",
						   optarg);
			break;
		case 'p':
			if (parse_u64(optarg, &o.present))
				return usage_error(usage_export,
						   "bad --present '%s'",
						   optarg);
			break;
		case 'l':
			if (parse_seconds(optarg, &o.hold))
				return usage_error(usage_export,
						   "bad --hold '%s'", optarg);
			break;
		case 't':
			if (parse_ms(optarg, &o.timeout_ms))
				return usage_error(usage_export,
						   "bad --timeout '%s'",
						   optarg);
			break;
		case 'D':
			o.devpath = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			return usage(usage_export, 1);
		default:
			return usage(usage_export, 0);
		}
	}
	if (optind < argc)
		o.file = argv[optind++];
	if (optind != argc)
		return usage_error(usage_export, "unexpected '%s'",
				   argv[optind]);
	if (!!o.file == !!o.heap)
		return usage_error(usage_export,
				   "give either FILE or --heap NAME");

	if (o.file) {
		in = open(o.file, O_RDONLY | O_CLOEXEC);
		if (in < 0 || fstat(in, &st)) {
			error_msg(errno, "open %s", o.file);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			error_msg(0, "%s: not a regular file", o.file);
			goto out;
		}
		file_len = st.st_size;
	}
	/* The file, --size or the image, whichever is largest, in pages. */
	size = o.size;
	if (file_len > size)
		size = file_len;
	if (o.heap && o.has_image && !o.size)
		size = o.img_size;
	if (o.heap && !size) {
		close(in);
		return usage_error(usage_export, "--heap needs --size");
	}
	if (o.file && o.img_size > size)
		size = o.img_size;
	if (!size)
		size = 4096;
	if (size > UINT64_MAX - 4095) {
		close(in);
		return usage_error(usage_export, "size too large");
	}
	size = (size + 4095) & ~4095ULL;
	if (o.has_image && o.img_size > size) {
		close(in);
		return usage_error(usage_export,
				   "--size %" PRIu64 " is below the image's %" PRIu64 " bytes",
				   size, o.img_size);
	}

	ret = vdmabuf_dev_open(o.devpath, &dev);
	if (ret) {
		error_msg(ret, "open %s", o.devpath);
		goto out;
	}
	if (o.heap) {
		fd = heap_alloc(o.heap, size);
		if (fd < 0)
			goto out;
	} else {
		fd = vdmabuf_dev_alloc(dev, size);
		if (fd < 0) {
			error_msg(fd, "VDMABUF_IOCTL_ALLOC %" PRIu64 " bytes",
				  size);
			goto out;
		}
		if (file_len && fill_from_file(fd, size, in, file_len, o.file))
			goto out;
	}
	rc = export_run(&o, dev, fd);
out:
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	vdmabuf_dev_close(dev);
	return rc;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "list", cmd_list, usage_list },
	{ "watch", cmd_watch, usage_watch },
	{ "snapshot", cmd_snapshot, usage_snapshot },
	{ "info", cmd_info, usage_info },
	{ "export", cmd_export, usage_export },
	{ "help", cmd_help, usage_main },
};

#define NR_COMMANDS	ARRAY_SIZE(commands)

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(usage_main, 1);
	c = command_find(argv[1]);
	if (!c || argc > 2)
		return usage_error(usage_main, "no command '%s'", argv[1]);
	return usage(c->usage, 1);
}

static void version(void)
{
	printf("vdmabuf %s (libvdmabuf %s)\n", TOOL_VERSION, vdmabuf_version());
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return usage(usage_main, 0);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(usage_main, 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		version();
		return EX_OK;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "vdmabuf: unknown option '%s'\n", argv[1]);
		return usage(usage_main, 0);
	}
	c = command_find(argv[1]);
	if (!c) {
		fprintf(stderr, "vdmabuf: no command '%s'\n", argv[1]);
		return usage(usage_main, 0);
	}
	cmd_name = c->name;
	return c->run(argc - 1, argv + 1);
}
