// SPDX-License-Identifier: GPL-2.0
/*
 * importer_display: QEMU's vhost-vdmabuf display, host (L1) side.
 *
 * Runs in the background while the guest runs e2e_display; built on
 * libvdmabuf.  QEMU (vhost-vdmabuf-pci with display=on) shows on output
 * N the newest frame the guest presented of a buffer whose image metadata
 * names output N.  This program takes an importer fd of its own from
 * QEMU's importer socket and joins the frames of every buffer, so that the
 * guest's FRAME_DONE waits for it.  For each PRESENTED of a buffer tagged
 * as a display case (display_proto.h) it asks QEMU, through QMP, for a
 * screendump of that output, compares it with the case's picture (or,
 * for a case QEMU cannot show, checks that it is the placeholder), and
 * only then answers FRAME_DONE.  After the guest unexported a buffer whose
 * picture was shown, the output must show the placeholder again.  Frames
 * of other buffers are answered at once; nothing is imported.
 *
 * It is also a client of QEMU's D-Bus display (QEMU runs with -display
 * dbus,p2p=on; the connection is handed to QEMU with QMP's getfd and
 * add_client, as libvirt does).  As a display listener of output
 * DISP_WATCHED, it gets what a window on that output would draw, and
 * checks each of those pictures there too: QEMU refreshes a console a
 * client watches, and answers its frames after the refresh.  For a case
 * with resize, it resizes the output's window, as a client does when its
 * window changes, before it answers the frame: the guest checks that it
 * heard of the new size.
 *
 * With --kms, it also watches the guest's KMS driver (vdmabuf_drm), whose
 * exports carry exactly one image and no tag, of the size of the output
 * it names (a mode at the host's preferred size; the demo's 1920x1080
 * images are not its): for each PRESENTED of one, it takes a screendump
 * of the output and writes its hash as a diagnostic line
 * ("kms-screendump: output N WxH fnv1a64 H", FNV-1a of the RGB bytes),
 * for l1-run.sh to find each frame e2e_kms printed among them; it imports
 * the buffer and checks that the screendump is its picture, pixel for
 * pixel (one result for each framebuffer's first frame, one for its
 * later ones); and it answers the frame only then, and no sooner than
 * --kms-hold milliseconds after it came, so the guest's flip waits for
 * it and flips paced by FRAME_DONE come no faster.  At the end, every
 * output must have shown a framebuffer of the driver.
 *
 * usage: importer_display --socket PATH --qmp PATH [--tap FILE]
 *			   [--device ID] [--cases N] [--dir DIR] [--wait SEC]
 *			   [--kms] [--kms-hold MS]
 *
 * Runs until every one of the first N cases has been checked (with
 * --kms, until the VM is gone), the VM is gone or SIGTERM or SIGINT
 * comes; then writes whether it saw all N cases and the TAP plan.  Exit: 0 if every check passed, 1 otherwise, 2
 * on bad usage or when no importer fd could be had.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include <vdmabuf/vdmabuf.h>

#include "display_proto.h"
#include "example_common.h"	/* time, TAP to a file, importer_drain() */
#include "qmp_client.h"

#define PROG		"importer_display"
#define MAX_BUFS	64
#define QMP_TIMEOUT_MS	60000	/* per command, and to connect */
#define ERR_LEN		512
/* Screendumps until a resize shows, RESIZE_STEP_MS apart */
#define RESIZE_TRIES	100
#define RESIZE_STEP_MS	100
/* --kms-hold's default: a frame of the KMS driver is answered no sooner */
#define KMS_HOLD_MS	60

/* struct disp.seen[]: the checks a case has had */
#define SEEN_PRESENTED	0x1
#define SEEN_UNEXPORTED	0x2
#define SEEN_DAMAGE	0x4

/**
 * struct dbuf - a buffer of a display case the guest exported
 * @uuid: the buffer
 * @c: its case, NULL when the slot is free
 */
struct dbuf {
	struct vdmabuf_uuid uuid;
	const struct disp_case *c;
};

/**
 * struct kbuf - a framebuffer of the guest's KMS driver, exported
 * @uuid: the buffer
 * @used: the slot holds a live export
 * @output: the output its image names
 * @img: its image
 * @fd: its import, -1 until its first frame
 * @map: the import, mapped read-only
 * @size: bytes at @map
 * @frames: its frames checked
 * @bad: of those after the first, the ones the screendump did not show
 * @err: why the first of those was not
 */
struct kbuf {
	struct vdmabuf_uuid uuid;
	int used;
	uint32_t output;
	struct vdmabuf_image img;
	int fd;
	const uint8_t *map;
	uint64_t size;
	uint32_t frames;
	uint32_t bad;
	char err[256];
};

/**
 * struct ppm - a P6 picture, 8 bits per component
 * @width: pixels per row
 * @height: rows
 * @data: the file, read whole
 * @px: the first pixel, R, G and B bytes row by row, in @data
 */
struct ppm {
	uint32_t width;
	uint32_t height;
	uint8_t *data;
	const uint8_t *px;
};

/**
 * struct listener - a D-Bus display listener: what a window would show
 * @thread: runs @loop, which answers QEMU's calls
 * @ctx: the main context of @thread
 * @loop: its main loop
 * @conn: the peer-to-peer connection QEMU calls us on; @thread's
 * @reg: our object's registration on @conn, 0 before
 * @sock: our end of it until @thread takes it
 * @shut: a duplicate of @sock, to cut the connection off from outside
 * @lock: protects what follows
 * @cond: signalled when the picture changes, or @conn is up or failed
 * @state: 0 while connecting, 1 up, -1 failed
 * @width: the picture's width (Scanout), 0 before the first
 * @height: its height
 * @px: its pixels, B, G, R, X, row after row, @width * 4 bytes per row
 * @calls: Scanout and Update calls taken
 * @bad_format: a pixman format other than x8r8g8b8 or a8r8g8b8 came
 */
struct listener {
	GThread *thread;
	GMainContext *ctx;
	GMainLoop *loop;
	GDBusConnection *conn;
	guint reg;
	int sock;
	int shut;
	GMutex lock;
	GCond cond;
	int state;
	uint32_t width;
	uint32_t height;
	uint8_t *px;
	uint64_t calls;
	uint32_t bad_format;
};

/**
 * struct disp - the program's state
 * @sock_path: QEMU's importer socket
 * @qmp_path: QEMU's QMP socket
 * @device: the vhost-vdmabuf-pci device's id
 * @dir: where the screendumps go
 * @want: how many cases must be checked
 * @imp: the importer
 * @bufs: the display cases' buffers now exported
 * @seen: SEEN_* per case, by id
 * @done: cases that had every check they get
 * @qmp: the QMP connection
 * @dbus: the connection to QEMU's D-Bus display, NULL until needed
 * @listener: the display listener on output DISP_WATCHED, once started
 * @out_w: each output's preferred size, so its placeholder's size
 * @out_h: likewise
 * @orig: the signal mask to wait with (SIGTERM and SIGINT let through)
 * @tap: the TAP output
 * @finished: stop: every case checked, or the VM is gone
 */
struct disp {
	const char *sock_path;
	const char *qmp_path;
	const char *device;
	const char *dir;
	unsigned int want;
	struct vdmabuf_importer *imp;
	struct dbuf bufs[MAX_BUFS];
	struct kbuf kbufs[MAX_BUFS];
	int kms;
	unsigned int kms_frames;
	unsigned int kms_hold_ms;
	unsigned int kms_shown[DISP_NR_OUTPUTS];
	struct vdmabuf_uuid kms_last[DISP_NR_OUTPUTS];
	unsigned int kms_switches, kms_bad_damage, kms_damaged;
	uint32_t seen[DISP_NR_CASES + 1];
	unsigned int done;
	struct qmp qmp;
	GDBusConnection *dbus;
	struct listener *listener;
	uint32_t out_w[DISP_NR_OUTPUTS];
	uint32_t out_h[DISP_NR_OUTPUTS];
	sigset_t orig;
	struct tap tap;
	int finished;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* QEMU writes a PPM screendump of output @head into @path. */
static int take_screendump(struct disp *d, uint32_t head, const char *path,
			   char *err, size_t err_len)
{
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, err_len, "remove the old %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	return qmp_screendump(&d->qmp, d->device, head, path, "ppm", err,
			      err_len);
}

/* ------------------------------------------------------------------ */
/* QEMU's D-Bus display                                                */
/* ------------------------------------------------------------------ */

#define DBUS_ROOT	"/org/qemu/Display1"
#define DBUS_TIMEOUT_MS	QMP_TIMEOUT_MS
#define DBUS_FDNAME	"importer-display-dbus"
/* The output whose console the listener watches */
#define DISP_WATCHED	0
/* pixman's x8r8g8b8 and a8r8g8b8: the bytes B, G, R, X/A */
#define PIXMAN_X8R8G8B8	0x20020888u
#define PIXMAN_A8R8G8B8	0x20028888u

/* @gerr as the reason in @err, freed; -EIO. */
static int dbus_error(GError *gerr, const char *what, char *err,
		      size_t err_len)
{
	snprintf(err, err_len, "D-Bus %s: %s", what,
		 gerr ? gerr->message : "no answer");
	g_clear_error(&gerr);
	return -EIO;
}

/*
 * A peer-to-peer connection to QEMU's D-Bus display: one end of a socket
 * pair goes to QEMU with getfd and add_client, GDBus speaks on the other.
 */
static int dbus_connect(struct disp *d, char *err, size_t err_len)
{
	GSocketConnection *sc;
	GError *gerr = NULL;
	GSocket *gs;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		return ret;
	}
	ret = qmp_command_fd(&d->qmp,
			     "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\""
			     DBUS_FDNAME "\"}}\n", sv[1], err, err_len);
	close(sv[1]);
	if (!ret)
		ret = qmp_command(&d->qmp,
				  "{\"execute\":\"add_client\",\"arguments\":{\"protocol\":\"@dbus-display\",\"fdname\":\""
				  DBUS_FDNAME "\"}}\n", err, err_len);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	gs = g_socket_new_from_fd(sv[0], &gerr);
	if (!gs) {
		close(sv[0]);
		return dbus_error(gerr, "socket", err, err_len);
	}
	sc = g_socket_connection_factory_create_connection(gs);
	g_object_unref(gs);
	d->dbus = g_dbus_connection_new_sync(G_IO_STREAM(sc), NULL,
					     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
					     NULL, NULL, &gerr);
	g_object_unref(sc);
	return d->dbus ? 0 : dbus_error(gerr, "connection", err, err_len);
}

/* Property @prop of interface @iface of object @path, or NULL. */
static GVariant *dbus_property(struct disp *d, const char *path,
			       const char *iface, const char *prop,
			       char *err, size_t err_len)
{
	GError *gerr = NULL;
	GVariant *r, *v;

	r = g_dbus_connection_call_sync(d->dbus, NULL, path,
					"org.freedesktop.DBus.Properties",
					"Get", g_variant_new("(ss)", iface, prop),
					G_VARIANT_TYPE("(v)"),
					G_DBUS_CALL_FLAGS_NONE, DBUS_TIMEOUT_MS,
					NULL, &gerr);
	if (!r) {
		dbus_error(gerr, prop, err, err_len);
		return NULL;
	}
	g_variant_get(r, "(v)", &v);
	g_variant_unref(r);
	return v;
}

/*
 * The object of the console that shows output @head of our device: the
 * one labelled "ID.HEAD", as QEMU labels the consoles of a device with
 * several heads.
 */
static int dbus_console(struct disp *d, uint32_t head, char *path,
			size_t size, char *err, size_t err_len)
{
	char *want = g_strdup_printf("%s.%u", d->device, head);
	GVariant *ids, *label;
	int ret = -ENOENT;
	gsize i, n;
	const guint32 *id;

	ids = dbus_property(d, DBUS_ROOT "/VM", "org.qemu.Display1.VM",
			    "ConsoleIDs", err, err_len);
	if (!ids) {
		g_free(want);
		return -EIO;
	}
	id = g_variant_get_fixed_array(ids, &n, sizeof(*id));
	snprintf(err, err_len, "no console is labelled %s", want);
	for (i = 0; i < n && ret == -ENOENT; i++) {
		snprintf(path, size, DBUS_ROOT "/Console_%u", id[i]);
		label = dbus_property(d, path, "org.qemu.Display1.Console",
				      "Label", err, err_len);
		if (!label) {
			ret = -EIO;
			break;
		}
		if (!strcmp(g_variant_get_string(label, NULL), want))
			ret = 0;
		g_variant_unref(label);
	}
	g_variant_unref(ids);
	g_free(want);
	return ret;
}

/*
 * The window of output @head now has @w x @h pixels, as a D-Bus display
 * client tells QEMU (SetUIInfo).
 */
static int resize_window(struct disp *d, uint32_t head, uint32_t w,
			 uint32_t h, char *err, size_t err_len)
{
	char path[64];
	GError *gerr = NULL;
	GVariant *r;
	int ret;

	if (!d->dbus) {
		ret = dbus_connect(d, err, err_len);
		if (ret)
			return ret;
	}
	ret = dbus_console(d, head, path, sizeof(path), err, err_len);
	if (ret)
		return ret;
	r = g_dbus_connection_call_sync(d->dbus, NULL, path,
					"org.qemu.Display1.Console",
					"SetUIInfo",
					g_variant_new("(qqiiuu)", 0, 0, 0, 0,
						      w, h),
					NULL, G_DBUS_CALL_FLAGS_NONE,
					DBUS_TIMEOUT_MS, NULL, &gerr);
	if (!r)
		return dbus_error(gerr, "SetUIInfo", err, err_len);
	g_variant_unref(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* A D-Bus display listener                                            */
/* ------------------------------------------------------------------ */

/* The calls QEMU makes on a listener without GL or shared memory */
static const char listener_xml[] =
	"<node>"
	" <interface name='org.qemu.Display1.Listener'>"
	"  <method name='Scanout'>"
	"   <arg type='u' name='width' direction='in'/>"
	"   <arg type='u' name='height' direction='in'/>"
	"   <arg type='u' name='stride' direction='in'/>"
	"   <arg type='u' name='pixman_format' direction='in'/>"
	"   <arg type='ay' name='data' direction='in'/>"
	"  </method>"
	"  <method name='Update'>"
	"   <arg type='i' name='x' direction='in'/>"
	"   <arg type='i' name='y' direction='in'/>"
	"   <arg type='i' name='width' direction='in'/>"
	"   <arg type='i' name='height' direction='in'/>"
	"   <arg type='u' name='stride' direction='in'/>"
	"   <arg type='u' name='pixman_format' direction='in'/>"
	"   <arg type='ay' name='data' direction='in'/>"
	"  </method>"
	"  <method name='Disable'/>"
	"  <method name='MouseSet'>"
	"   <arg type='i' name='x' direction='in'/>"
	"   <arg type='i' name='y' direction='in'/>"
	"   <arg type='i' name='on' direction='in'/>"
	"  </method>"
	"  <method name='CursorDefine'>"
	"   <arg type='i' name='width' direction='in'/>"
	"   <arg type='i' name='height' direction='in'/>"
	"   <arg type='i' name='hot_x' direction='in'/>"
	"   <arg type='i' name='hot_y' direction='in'/>"
	"   <arg type='ay' name='data' direction='in'/>"
	"  </method>"
	"  <property name='Interfaces' type='as' access='read'/>"
	" </interface>"
	"</node>";

/*
 * Copy @w x @h pixels of 4 bytes, @stride bytes apart in @data, to (@x,
 * @y) of the picture; with @x, @y 0 and the picture's size, a Scanout.
 * Under @l->lock.  False if they do not fit.
 */
static int listener_copy(struct listener *l, int32_t x, int32_t y,
			 int32_t w, int32_t h, uint32_t stride,
			 uint32_t format, GVariant *data)
{
	const uint8_t *src;
	gsize len;
	int32_t row;

	if (format != PIXMAN_X8R8G8B8 && format != PIXMAN_A8R8G8B8) {
		l->bad_format = format;
		return 0;
	}
	src = g_variant_get_fixed_array(data, &len, 1);
	if (x < 0 || y < 0 || w <= 0 || h <= 0 ||
	    (uint32_t)x + w > l->width || (uint32_t)y + h > l->height ||
	    stride < (uint32_t)w * 4 ||
	    len < (gsize)stride * (h - 1) + (gsize)w * 4)
		return 0;
	for (row = 0; row < h; row++)
		memcpy(l->px + ((size_t)(y + row) * l->width + x) * 4,
		       src + (size_t)row * stride, (size_t)w * 4);
	return 1;
}

static void listener_call(GDBusConnection *conn, const gchar *sender,
			  const gchar *path, const gchar *iface,
			  const gchar *method, GVariant *args,
			  GDBusMethodInvocation *inv, gpointer opaque)
{
	struct listener *l = opaque;
	uint32_t w, h, stride, format;
	int32_t x, y, sw, sh;
	GVariant *data;

	g_mutex_lock(&l->lock);
	if (!strcmp(method, "Scanout")) {
		g_variant_get(args, "(uuuu@ay)", &w, &h, &stride, &format,
			      &data);
		g_free(l->px);
		l->px = NULL;
		l->width = l->height = 0;
		if (w && h && w <= VIRTIO_VDMABUF_IMAGE_MAX_DIM &&
		    h <= VIRTIO_VDMABUF_IMAGE_MAX_DIM) {
			l->px = g_malloc0((size_t)w * h * 4);
			l->width = w;
			l->height = h;
			listener_copy(l, 0, 0, w, h, stride, format, data);
		}
		g_variant_unref(data);
		l->calls++;
	} else if (!strcmp(method, "Update")) {
		g_variant_get(args, "(iiiiuu@ay)", &x, &y, &sw, &sh, &stride,
			      &format, &data);
		if (l->px)
			listener_copy(l, x, y, sw, sh, stride, format, data);
		g_variant_unref(data);
		l->calls++;
	} else if (!strcmp(method, "Disable")) {
		g_free(l->px);
		l->px = NULL;
		l->width = l->height = 0;
		l->calls++;
	}
	g_cond_broadcast(&l->cond);
	g_mutex_unlock(&l->lock);
	g_dbus_method_invocation_return_value(inv, NULL);
}

static GVariant *listener_property(GDBusConnection *conn,
				   const gchar *sender, const gchar *path,
				   const gchar *iface, const gchar *prop,
				   GError **gerr, gpointer opaque)
{
	/* No shared memory, no GL: QEMU sends the pixels in its calls */
	return g_variant_new_strv(NULL, 0);
}

static const GDBusInterfaceVTable listener_vtable = {
	.method_call = listener_call,
	.get_property = listener_property,
};

/* Sets up our end of the listener connection; 1 when up, else -1. */
static int listener_connect(struct listener *l, GDBusNodeInfo *info)
{
	GSocketConnection *sc;
	GError *gerr = NULL;
	GSocket *gs;

	gs = g_socket_new_from_fd(l->sock, &gerr);
	if (!gs) {
		close(l->sock);
		goto fail;
	}
	sc = g_socket_connection_factory_create_connection(gs);
	g_object_unref(gs);
	/*
	 * QEMU calls us as soon as we are authenticated: hold its calls
	 * until the object they are for is registered.
	 */
	l->conn = g_dbus_connection_new_sync(G_IO_STREAM(sc), NULL,
					     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
					     G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
					     NULL, NULL, &gerr);
	g_object_unref(sc);
	if (!l->conn)
		goto fail;
	l->reg = g_dbus_connection_register_object(l->conn,
						   DBUS_ROOT "/Listener",
						   info->interfaces[0],
						   &listener_vtable, l, NULL,
						   &gerr);
	if (!l->reg)
		goto fail;
	g_dbus_connection_start_message_processing(l->conn);
	return 1;

fail:
	fprintf(stderr, PROG ": D-Bus listener: %s\n", gerr->message);
	g_clear_error(&gerr);
	return -1;
}

/*
 * Takes QEMU's calls on our end of the listener connection, until
 * listener_free() stops the loop; then closes the connection here, where
 * its last callbacks run.
 */
static gpointer listener_thread(gpointer opaque)
{
	struct listener *l = opaque;
	GDBusNodeInfo *info;
	int state;

	g_main_context_push_thread_default(l->ctx);
	info = g_dbus_node_info_new_for_xml(listener_xml, NULL);
	state = info ? listener_connect(l, info) : -1;
	g_mutex_lock(&l->lock);
	l->state = state;
	g_cond_broadcast(&l->cond);
	g_mutex_unlock(&l->lock);
	if (state > 0)
		g_main_loop_run(l->loop);
	if (l->reg)
		g_dbus_connection_unregister_object(l->conn, l->reg);
	if (l->conn) {
		g_dbus_connection_close_sync(l->conn, NULL, NULL);
		g_clear_object(&l->conn);
	}
	while (g_main_context_iteration(l->ctx, FALSE))
		;
	if (info)
		g_dbus_node_info_unref(info);
	g_main_context_pop_thread_default(l->ctx);
	return NULL;
}

static gboolean listener_quit(gpointer opaque)
{
	g_main_loop_quit(opaque);
	return G_SOURCE_REMOVE;
}

/*
 * Stop the thread (a QEMU that hangs in the middle of authenticating is
 * cut off through @shut), then free what is left.
 */
static void listener_free(struct listener *l)
{
	if (!l)
		return;
	shutdown(l->shut, SHUT_RDWR);
	g_main_context_invoke(l->ctx, listener_quit, l->loop);
	g_thread_join(l->thread);
	close(l->shut);
	g_main_loop_unref(l->loop);
	g_main_context_unref(l->ctx);
	g_mutex_clear(&l->lock);
	g_cond_clear(&l->cond);
	g_free(l->px);
	g_free(l);
}

/*
 * Register a display listener on the console of output @head, as a
 * client that shows it in a window does: its end of a socket pair goes
 * to QEMU with RegisterListener, and QEMU then calls it on the other.
 */
static int listener_start(struct disp *d, uint32_t head, char *err,
			  size_t err_len)
{
	gint64 end;
	struct listener *l;
	GUnixFDList *fds;
	GError *gerr = NULL;
	GVariant *r;
	char path[64];
	int sv[2], ret;

	if (!d->dbus) {
		ret = dbus_connect(d, err, err_len);
		if (ret)
			return ret;
	}
	ret = dbus_console(d, head, path, sizeof(path), err, err_len);
	if (ret)
		return ret;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		return ret;
	}
	l = g_new0(struct listener, 1);
	l->shut = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
	if (l->shut < 0) {
		ret = -errno;
		snprintf(err, err_len, "dup: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		g_free(l);
		return ret;
	}
	g_mutex_init(&l->lock);
	g_cond_init(&l->cond);
	l->ctx = g_main_context_new();
	l->loop = g_main_loop_new(l->ctx, FALSE);
	l->sock = sv[0];
	l->thread = g_thread_new("listener", listener_thread, l);

	/* QEMU answers, then sets up its end while we set up ours */
	fds = g_unix_fd_list_new_from_array(&sv[1], 1);
	r = g_dbus_connection_call_with_unix_fd_list_sync(d->dbus, NULL, path,
							  "org.qemu.Display1.Console",
							  "RegisterListener",
							  g_variant_new("(h)", 0),
							  NULL,
							  G_DBUS_CALL_FLAGS_NONE,
							  DBUS_TIMEOUT_MS, fds,
							  NULL, NULL, &gerr);
	g_object_unref(fds);
	if (!r) {
		ret = dbus_error(gerr, "RegisterListener", err, err_len);
		listener_free(l);
		return ret;
	}
	g_variant_unref(r);
	end = g_get_monotonic_time() + (gint64)DBUS_TIMEOUT_MS * 1000;
	g_mutex_lock(&l->lock);
	while (!l->state && g_cond_wait_until(&l->cond, &l->lock, end))
		;
	ret = l->state > 0 ? 0 : -EIO;
	g_mutex_unlock(&l->lock);
	if (ret) {
		snprintf(err, err_len, "the listener connection %s",
			 l->state ? "failed" : "timed out");
		listener_free(l);
		return ret;
	}
	d->listener = l;
	return 0;
}

/*
 * Does the listener show frame @seq of case @c within @ms?  1, or 0 with
 * what it shows in @err.
 */
static int listener_shows(struct listener *l, const struct disp_case *c,
			  uint64_t seq, int ms, char *err, size_t err_len)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	uint64_t bad = 0;
	uint8_t want[3];
	uint32_t x, y;

	g_mutex_lock(&l->lock);
	for (;;) {
		bad = l->width == c->width && l->height == c->height ? 0 : 1;
		for (y = 0; !bad && y < c->height; y++) {
			for (x = 0; x < c->width; x++) {
				const uint8_t *px = l->px +
					((size_t)y * c->width + x) * 4;

				disp_frame_pixel(c, seq, x, y, want);
				if (px[2] != want[0] || px[1] != want[1] ||
				    px[0] != want[2])
					bad++;
			}
		}
		if (!bad || !g_cond_wait_until(&l->cond, &l->lock, end))
			break;
	}
	if (bad)
		snprintf(err, err_len,
			 "after %llu calls the listener has %ux%u%s, %llu pixels off%s",
			 (unsigned long long)l->calls, l->width, l->height,
			 l->bad_format ? " (a format it cannot take came)" : "",
			 (unsigned long long)bad,
			 l->width == c->width && l->height == c->height ?
			 "" : " (the whole picture)");
	g_mutex_unlock(&l->lock);
	return !bad;
}

/*
 * Does the listener show a @w x @h picture, the placeholder's size,
 * within @ms?  1, or 0 with what it shows in @err.
 */
static int listener_sized(struct listener *l, uint32_t w, uint32_t h,
			  int ms, char *err, size_t err_len)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	int ok;

	g_mutex_lock(&l->lock);
	while (!(ok = l->width == w && l->height == h) &&
	       g_cond_wait_until(&l->cond, &l->lock, end))
		;
	if (!ok)
		snprintf(err, err_len, "after %llu calls the listener has %ux%u",
			 (unsigned long long)l->calls, l->width, l->height);
	g_mutex_unlock(&l->lock);
	return ok;
}

/* ------------------------------------------------------------------ */
/* PPM                                                                 */
/* ------------------------------------------------------------------ */

/* The next number of a PPM header at *@off, past blanks and comments. */
static int ppm_number(const uint8_t *p, size_t len, size_t *off,
		      uint32_t *val)
{
	uint64_t v = 0;
	size_t i = *off;

	for (;;) {
		while (i < len && isspace(p[i]))
			i++;
		if (i < len && p[i] == '#') {
			while (i < len && p[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	if (i >= len || p[i] < '0' || p[i] > '9')
		return -EINVAL;
	while (i < len && p[i] >= '0' && p[i] <= '9' && v <= UINT32_MAX)
		v = v * 10 + (p[i++] - '0');
	if (v > UINT32_MAX)
		return -EINVAL;
	*val = (uint32_t)v;
	*off = i;
	return 0;
}

static void ppm_free(struct ppm *p)
{
	free(p->data);
	p->data = NULL;
}

/* Read the P6 file @path with maxval 255 into @p. */
static int ppm_read(const char *path, struct ppm *p, char *err,
		    size_t err_len)
{
	size_t len = 0, cap = 0, off = 2;
	uint32_t maxval;
	uint8_t *buf = NULL, *nbuf;
	FILE *f;
	int ret;

	memset(p, 0, sizeof(*p));
	f = fopen(path, "rbe");
	if (!f) {
		ret = -errno;
		snprintf(err, err_len, "open %s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				ret = -ENOMEM;
				snprintf(err, err_len, "read %s: out of memory",
					 path);
				goto fail;
			}
			buf = nbuf;
		}
		len += fread(buf + len, 1, cap - len, f);
		if (ferror(f)) {
			ret = -EIO;
			snprintf(err, err_len, "read %s: I/O error", path);
			goto fail;
		}
		if (len < cap)
			break;
	}
	fclose(f);
	f = NULL;

	ret = -EINVAL;
	if (len < 2 || buf[0] != 'P' || buf[1] != '6' ||
	    ppm_number(buf, len, &off, &p->width) ||
	    ppm_number(buf, len, &off, &p->height) ||
	    ppm_number(buf, len, &off, &maxval) || off >= len) {
		snprintf(err, err_len, "%s is not a P6 PPM file", path);
		goto fail;
	}
	off++;	/* the single blank after maxval */
	if (maxval != 255 || !p->width || !p->height ||
	    p->width > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    p->height > VIRTIO_VDMABUF_IMAGE_MAX_DIM ||
	    len - off < (size_t)p->width * p->height * 3) {
		snprintf(err, err_len,
			 "%s: a %ux%u P6 with maxval %u in %zu bytes", path,
			 p->width, p->height, maxval, len);
		goto fail;
	}
	p->data = buf;
	p->px = buf + off;
	return 0;

fail:
	if (f)
		fclose(f);
	free(buf);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The checks                                                          */
/* ------------------------------------------------------------------ */

/*
 * Take a screendump of output @head into @path and read it: 0, or -errno
 * with the reason in @err.
 */
static int dump_output(struct disp *d, uint32_t head, const char *path,
		       struct ppm *p, char *err, size_t err_len)
{
	int ret;

	ret = take_screendump(d, head, path, err, err_len);
	if (ret)
		return ret;
	return ppm_read(path, p, err, err_len);
}

/*
 * Does @p show frame @seq of case @c?  1, or 0 with the differences in
 * @err.
 */
static int same_picture(const struct disp_case *c, uint64_t seq,
			const struct ppm *p, char *err, size_t err_len)
{
	uint32_t x, y, fx = 0, fy = 0;
	uint64_t bad = 0;
	uint8_t want[3], got[3] = { 0 }, first[3] = { 0 };

	if (p->width != c->width || p->height != c->height) {
		snprintf(err, err_len, "the screendump is %ux%u, not %ux%u",
			 p->width, p->height, c->width, c->height);
		return 0;
	}
	for (y = 0; y < c->height; y++) {
		for (x = 0; x < c->width; x++) {
			const uint8_t *px = p->px +
					    ((size_t)y * c->width + x) * 3;

			disp_frame_pixel(c, seq, x, y, want);
			if (!memcmp(px, want, 3))
				continue;
			if (!bad++) {
				fx = x;
				fy = y;
				memcpy(got, px, 3);
				memcpy(first, want, 3);
			}
		}
	}
	if (!bad)
		return 1;
	snprintf(err, err_len,
		 "%llu of %u pixels differ, the first at (%u, %u): %02x%02x%02x, expected %02x%02x%02x",
		 (unsigned long long)bad, c->width * c->height, fx, fy,
		 got[0], got[1], got[2], first[0], first[1], first[2]);
	return 0;
}

/*
 * Is @p the placeholder of output @head, which has the output's preferred
 * size?  1, or 0 with the reason in @err.
 */
static int is_placeholder(const struct disp *d, uint32_t head,
			  const struct ppm *p, char *err, size_t err_len)
{
	if (p->width == d->out_w[head] && p->height == d->out_h[head])
		return 1;
	snprintf(err, err_len, "the screendump is %ux%u, not the %ux%u placeholder",
		 p->width, p->height, d->out_w[head], d->out_h[head]);
	return 0;
}

static int dump_path(const struct disp *d, char *path, size_t size,
		     uint32_t id, const char *suffix)
{
	int n = snprintf(path, size, "%s/disp-%u%s.ppm", d->dir, id, suffix);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Mark check @what of case @c done; count the case when it is complete. */
static void case_seen(struct disp *d, const struct disp_case *c,
		      uint32_t what)
{
	uint32_t all = SEEN_PRESENTED;

	if (c->expect == DISP_EXPECT_PICTURE)
		all |= SEEN_UNEXPORTED;
	if (c->damage)
		all |= SEEN_DAMAGE;
	if ((d->seen[c->id] & all) == all)
		return;
	d->seen[c->id] |= what;
	if ((d->seen[c->id] & all) != all)
		return;
	d->done++;
	if (d->done >= d->want)
		d->finished = 1;
}

/*
 * Case @c asks for its output's window to be resized: QEMU takes it, and
 * the output's placeholder has the new size from then on.  For a case
 * that shows the placeholder, the placeholder on the output is drawn
 * again at that size: QEMU applies the size from a timer of its main
 * loop, which may run after the next QMP command, so look a few times.
 */
static void check_resize(struct disp *d, const struct disp_case *c)
{
	char err[ERR_LEN] = "", path[PATH_MAX];
	struct ppm p = { 0 };
	int ret, tries, ok = 0;

	ret = resize_window(d, c->output, DISP_RESIZE_W, DISP_RESIZE_H, err,
			    sizeof(err));
	if (!ret) {
		d->out_w[c->output] = DISP_RESIZE_W;
		d->out_h[c->output] = DISP_RESIZE_H;
	}
	tap_result(&d->tap, !ret,
		   "display case %u: output %u's window resized to %ux%u through QEMU's D-Bus display (SetUIInfo)%s%s",
		   c->id, c->output, DISP_RESIZE_W, DISP_RESIZE_H,
		   ret ? ": " : "", ret ? err : "");
	if (ret || c->expect != DISP_EXPECT_PLACEHOLDER)
		return;
	tries = 0;
	if (dump_path(d, path, sizeof(path), c->id, "-resized")) {
		snprintf(err, sizeof(err), "--dir is too long");
		tries = RESIZE_TRIES;
	}
	for (; !ok && tries < RESIZE_TRIES; tries++) {
		if (tries)
			usleep(RESIZE_STEP_MS * 1000);
		ppm_free(&p);
		if (!dump_output(d, c->output, path, &p, err, sizeof(err)))
			ok = is_placeholder(d, c->output, &p, err,
					    sizeof(err));
	}
	ppm_free(&p);
	tap_result(&d->tap, ok,
		   "display case %u: the placeholder on output %u is drawn again at %ux%u%s%s",
		   c->id, c->output, DISP_RESIZE_W, DISP_RESIZE_H,
		   ok ? "" : ": ", ok ? "" : err);
}

/*
 * The output of @b's case, screendumped while it shows frame @seq: the
 * first frame, or the damaged second one of a case with damage.
 */
static void check_presented(struct disp *d, const struct dbuf *b,
			    uint64_t seq)
{
	const struct disp_case *c = b->c;
	int damaged = c->damage && seq == DISP_DAMAGE_SEQ + c->id;
	char err[ERR_LEN] = "", path[PATH_MAX];
	struct ppm p = { 0 };
	int ok = 0;

	if (dump_path(d, path, sizeof(path), c->id,
		      damaged ? "-damaged" : "")) {
		snprintf(err, sizeof(err), "--dir is too long");
	} else if (!dump_output(d, c->output, path, &p, err, sizeof(err))) {
		if (c->expect == DISP_EXPECT_PICTURE)
			ok = same_picture(c, seq, &p, err, sizeof(err));
		else
			ok = is_placeholder(d, c->output, &p, err,
					    sizeof(err));
	}
	ppm_free(&p);
	if (damaged)
		tap_result(&d->tap, ok,
			   "display case %u (%s, output %u): redrawn whole, damaged %ux%u at (%u, %u): the new picture inside the damage only%s%s",
			   c->id, c->name, c->output, DISP_DAMAGE_W,
			   DISP_DAMAGE_H, DISP_DAMAGE_X, DISP_DAMAGE_Y,
			   ok ? "" : ": ", ok ? "" : err);
	else
		tap_result(&d->tap, ok, "display case %u (%s, output %u): %s%s%s",
			   c->id, c->name, c->output,
			   c->expect == DISP_EXPECT_PICTURE ?
			   "screendump equals the guest's picture" :
			   "screendump shows the placeholder",
			   ok ? "" : ": ", ok ? "" : err);
	if (!ok)
		tap_diag(&d->tap, "case %u: screendump %s", c->id, path);
	if (d->listener && c->output == DISP_WATCHED &&
	    c->expect == DISP_EXPECT_PICTURE) {
		ok = listener_shows(d->listener, c, seq, QMP_TIMEOUT_MS, err,
				    sizeof(err));
		tap_result(&d->tap, ok,
			   "display case %u (%s, output %u): a D-Bus display client shows %s%s%s",
			   c->id, c->name, c->output,
			   damaged ? "the damaged frame" : "the guest's picture",
			   ok ? "" : ": ", ok ? "" : err);
	}
	if (c->resize && !damaged)
		check_resize(d, c);
	if (damaged)
		case_seen(d, c, SEEN_DAMAGE);
	else
		case_seen(d, c, SEEN_PRESENTED);
}

/* The output of @b's case after the guest unexported @b. */
static void check_unexported(struct disp *d, const struct dbuf *b)
{
	const struct disp_case *c = b->c;
	char err[ERR_LEN] = "", path[PATH_MAX];
	struct ppm p = { 0 };
	int ok = 0;

	if (dump_path(d, path, sizeof(path), c->id, "-unexported"))
		snprintf(err, sizeof(err), "--dir is too long");
	else if (!dump_output(d, c->output, path, &p, err, sizeof(err)))
		ok = is_placeholder(d, c->output, &p, err, sizeof(err));
	ppm_free(&p);
	tap_result(&d->tap, ok,
		   "display case %u: output %u shows the placeholder once the guest unexported the buffer%s%s",
		   c->id, c->output, ok ? "" : ": ", ok ? "" : err);
	if (d->listener && c->output == DISP_WATCHED) {
		ok = listener_sized(d->listener, d->out_w[c->output],
				    d->out_h[c->output], QMP_TIMEOUT_MS, err,
				    sizeof(err));
		tap_result(&d->tap, ok,
			   "display case %u: a D-Bus display client shows output %u's %ux%u placeholder once the guest unexported the buffer%s%s",
			   c->id, c->output, d->out_w[c->output],
			   d->out_h[c->output], ok ? "" : ": ", ok ? "" : err);
	}
	case_seen(d, c, SEEN_UNEXPORTED);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static struct dbuf *find_buf(struct disp *d, const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (d->bufs[i].c &&
		    !memcmp(&d->bufs[i].uuid, uuid, sizeof(*uuid)))
			return &d->bufs[i];
	return NULL;
}

/* Answer FRAME_DONE for the PRESENTED @ev if this importer owes it. */
static void frame_done(struct disp *d, const struct vdmabuf_host_event *ev)
{
	char us[VDMABUF_UUID_STR_LEN];
	int ret;

	if (!(ev->flags & VHOST_VDMABUF_EVENT_F_OWED))
		return;
	ret = vdmabuf_importer_frame_done(d->imp, &ev->uuid, ev->frame);
	if (ret)
		fprintf(stderr, PROG ": FRAME_DONE %s frame %llu: %s\n",
			vdmabuf_uuid_format(&ev->uuid, us),
			(unsigned long long)ev->frame, strerror(-ret));
}

/*
 * Does the image of the export agree with case @c?  1, or 0 with the
 * difference in @err.
 */
static int meta_matches(const struct disp_case *c,
			const struct vdmabuf_host_event *ev, uint32_t expect,
			char *err, size_t err_len)
{
	struct vdmabuf_image img;
	char fcc[5];
	int ret;

	/* XR48 is not in the library's table: -ENOTSUP, still decoded */
	ret = vdmabuf_image_decode(ev->payload, ev->payload_len, ev->size,
				   &img);
	if (ret && ret != -ENOTSUP) {
		snprintf(err, err_len, "vdmabuf_image_decode: %s",
			 strerror(-ret));
		return 0;
	}
	if (img.fourcc != c->fourcc || img.width != c->width ||
	    img.height != c->height || img.output != c->output ||
	    img.flags != c->flags || img.modifier || expect != c->expect) {
		snprintf(err, err_len,
			 "the guest sent %s %ux%u for output %u, flags 0x%x, modifier 0x%llx, expect %u",
			 vdmabuf_fourcc_name(img.fourcc, fcc), img.width,
			 img.height, img.output, img.flags,
			 (unsigned long long)img.modifier, expect);
		return 0;
	}
	return 1;
}

static struct kbuf *find_kbuf(struct disp *d,
			      const struct vdmabuf_uuid *uuid)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (d->kbufs[i].used &&
		    !memcmp(&d->kbufs[i].uuid, uuid, sizeof(*uuid)))
			return &d->kbufs[i];
	return NULL;
}

/*
 * An export with an image and nothing after it, for an output of ours and
 * of that output's size: the KMS driver's (its planes show a framebuffer
 * of the mode's size, and its modes are the host's preferred size).  The
 * demo's 1920x1080 images and the vdmabuf command's are of other sizes;
 * the guest fuzzer's metadata is random, and need not decode at all.
 * The KMS driver's images are judged by their frames (kms_same_picture(),
 * and l1-run.sh's kms_compare()).
 */
static void kms_exported(struct disp *d, const struct vdmabuf_host_event *ev)
{
	char us[VDMABUF_UUID_STR_LEN], fcc[5];
	struct vdmabuf_image img;
	struct kbuf *k;
	int i, ret;

	if (ev->payload_len != DISP_IMAGE_LEN)
		return;
	ret = vdmabuf_image_decode(ev->payload, ev->payload_len, ev->size,
				   &img);
	vdmabuf_uuid_format(&ev->uuid, us);
	if (ret || img.output >= DISP_NR_OUTPUTS)
		return;
	if (img.width != d->out_w[img.output] ||
	    img.height != d->out_h[img.output])
		return;
	for (i = 0; i < MAX_BUFS; i++)
		if (!d->kbufs[i].used)
			break;
	if (i == MAX_BUFS) {
		tap_result(&d->tap, 0, "kms: too many buffers");
		return;
	}
	k = &d->kbufs[i];
	memset(k, 0, sizeof(*k));
	k->used = 1;
	k->uuid = ev->uuid;
	k->output = img.output;
	k->img = img;
	k->fd = -1;
	tap_diag(&d->tap, "kms: EXPORTED %s, %s %ux%u pitch %u for output %u",
		 us, vdmabuf_fourcc_name(img.fourcc, fcc), img.width,
		 img.height, img.planes[0].stride, img.output);
}

/*
 * Import @k's buffer and map it, once: 0, or -errno with the reason in
 * @err.  Kept until the guest unexports it (its frames are ours to
 * answer anyway: we joined all of them).
 */
static int kms_import(struct disp *d, struct kbuf *k, char *err,
		      size_t err_len)
{
	const struct vdmabuf_image *img = &k->img;
	uint32_t cpp = disp_rgb24_cpp(img->fourcc);
	uint64_t size = 0, end;
	char fcc[5];
	void *map;
	int fd, ret;

	if (k->fd >= 0)
		return 0;
	if (!cpp) {
		snprintf(err, err_len, "no conversion of %s to RGB",
			 vdmabuf_fourcc_name(img->fourcc, fcc));
		return -ENOTSUP;
	}
	fd = vdmabuf_importer_import(d->imp, &k->uuid, &size);
	if (fd < 0) {
		snprintf(err, err_len, "import: %s", strerror(-fd));
		return fd;
	}
	end = img->planes[0].offset +
	      (uint64_t)img->planes[0].stride * (img->height - 1) +
	      (uint64_t)img->width * cpp;
	if (img->planes[0].stride < (uint64_t)img->width * cpp || end > size) {
		snprintf(err, err_len,
			 "the image (offset %llu, pitch %u) does not fit the %llu-byte buffer",
			 (unsigned long long)img->planes[0].offset,
			 img->planes[0].stride, (unsigned long long)size);
		close(fd);
		vdmabuf_importer_return(d->imp, &k->uuid);
		return -EINVAL;
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		snprintf(err, err_len, "mmap of %llu bytes: %s",
			 (unsigned long long)size, strerror(errno));
		close(fd);
		vdmabuf_importer_return(d->imp, &k->uuid);
		return ret;
	}
	k->fd = fd;
	k->map = map;
	k->size = size;
	return 0;
}

/*
 * Unmaps and closes the buffer, and says so to the back-end: the
 * vhost-user daemon cannot see a dma-buf closed (a no-op on the module).
 */
static void kms_unimport(struct disp *d, struct kbuf *k)
{
	if (k->fd < 0)
		return;
	munmap((void *)k->map, k->size);
	close(k->fd);
	k->fd = -1;
	k->map = NULL;
	vdmabuf_importer_return(d->imp, &k->uuid);
}

/*
 * Is the screendump @p the picture in @k's buffer, pixel for pixel?  1,
 * or 0 with the difference in @err.
 */
static int kms_same_picture(struct disp *d, struct kbuf *k,
			    const struct ppm *p, char *err, size_t err_len)
{
	const struct vdmabuf_image *img = &k->img;
	uint32_t x, y, fx = 0, fy = 0;
	uint8_t *row = NULL, got[3] = { 0 }, want[3] = { 0 };
	uint64_t bad = 0;
	int ret;

	if (p->width != img->width || p->height != img->height) {
		snprintf(err, err_len, "the screendump is %ux%u, the image %ux%u",
			 p->width, p->height, img->width, img->height);
		return 0;
	}
	if (kms_import(d, k, err, err_len))
		return 0;
	row = malloc((size_t)img->width * 3);
	if (!row) {
		snprintf(err, err_len, "out of memory");
		return 0;
	}
	ret = vdmabuf_dmabuf_sync(k->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	for (y = 0; !ret && y < img->height; y++) {
		const uint8_t *shot = p->px + (size_t)y * img->width * 3;

		disp_rgb24_row(img->fourcc, k->map + img->planes[0].offset +
			       (uint64_t)y * img->planes[0].stride, img->width,
			       row);
		if (!memcmp(row, shot, (size_t)img->width * 3))
			continue;
		for (x = 0; x < img->width; x++) {
			if (!memcmp(row + 3 * x, shot + 3 * x, 3))
				continue;
			if (!bad++) {
				fx = x;
				fy = y;
				memcpy(got, shot + 3 * x, 3);
				memcpy(want, row + 3 * x, 3);
			}
		}
	}
	if (!ret)
		ret = vdmabuf_dmabuf_sync(k->fd, DMA_BUF_SYNC_END |
					  DMA_BUF_SYNC_READ);
	free(row);
	if (ret) {
		snprintf(err, err_len, "DMA_BUF_IOCTL_SYNC: %s",
			 strerror(-ret));
		return 0;
	}
	if (bad)
		snprintf(err, err_len,
			 "%llu of %u pixels differ, the first at (%u, %u): %02x%02x%02x, the buffer has %02x%02x%02x",
			 (unsigned long long)bad, img->width * img->height,
			 fx, fy, got[0], got[1], got[2], want[0], want[1],
			 want[2]);
	return !bad;
}

/*
 * A frame of the KMS driver: the output's screendump, hashed for
 * l1-run.sh and compared with the buffer as imported; answered (by the
 * caller) no sooner than --kms-hold after it came.
 */
static void kms_presented(struct disp *d, struct kbuf *k,
			  const struct vdmabuf_host_event *ev)
{
	char err[ERR_LEN] = "", path[PATH_MAX], fcc[5];
	uint64_t t0 = now_ms(), spent, h;
	struct ppm p = { 0 };
	int ok = 0;

	/*
	 * Damage is what changed in the buffer since its own last frame:
	 * the first frame of an export, or a frame of another buffer than
	 * the output's last, must be a full update (no rectangles).
	 */
	if (!k->frames ||
	    memcmp(&d->kms_last[k->output], &k->uuid, sizeof(k->uuid))) {
		d->kms_switches++;
		if (ev->nr_rects && !d->kms_bad_damage++)
			tap_diag(&d->tap, "kms: frame %llu of output %u shows another buffer with %u damage rectangles",
				 (unsigned long long)ev->seq, k->output,
				 ev->nr_rects);
	} else if (ev->nr_rects) {
		d->kms_damaged++;
	}
	d->kms_last[k->output] = k->uuid;

	snprintf(path, sizeof(path), "%s/kms-%u.ppm", d->dir, d->kms_frames);
	if (!dump_output(d, k->output, path, &p, err, sizeof(err))) {
		h = fnv1a64(p.px, (size_t)p.width * p.height * 3);
		tap_diag(&d->tap, "kms-screendump: output %u %ux%u fnv1a64 %016llx",
			 k->output, p.width, p.height, (unsigned long long)h);
		ok = kms_same_picture(d, k, &p, err, sizeof(err));
	}
	ppm_free(&p);
	unlink(path);
	d->kms_frames++;
	if (!k->frames++) {
		tap_result(&d->tap, ok,
			   "kms: output %u (%ux%u %s): QEMU's screendump is the guest's framebuffer, as imported%s%s",
			   k->output, k->img.width, k->img.height,
			   vdmabuf_fourcc_name(k->img.fourcc, fcc),
			   ok ? "" : ": ", ok ? "" : err);
		d->kms_shown[k->output]++;
	} else if (!ok && !k->bad++) {
		snprintf(k->err, sizeof(k->err), "frame %llu: %s",
			 (unsigned long long)ev->seq, err);
	}
	spent = now_ms() - t0;
	if (spent < d->kms_hold_ms)
		usleep((useconds_t)(d->kms_hold_ms - spent) * 1000);
}

/* The frames of @k after its first, as one result; the import closed. */
static void kms_done(struct disp *d, struct kbuf *k)
{
	char us[VDMABUF_UUID_STR_LEN];

	if (k->frames > 1)
		tap_result(&d->tap, !k->bad,
			   "kms: output %u: the %u later frames of framebuffer %s, each screendump its picture%s%s",
			   k->output, k->frames - 1,
			   vdmabuf_uuid_format(&k->uuid, us),
			   k->bad ? ": " : "", k->bad ? k->err : "");
	kms_unimport(d, k);
	k->used = 0;
}

static void on_exported(struct disp *d, const struct vdmabuf_host_event *ev)
{
	char err[ERR_LEN] = "", us[VDMABUF_UUID_STR_LEN];
	const struct disp_case *c;
	struct disp_tag tag;
	struct dbuf *b;
	int i;

	if (ev->payload_len < DISP_META_LEN) {
		if (d->kms)
			kms_exported(d, ev);
		return;
	}
	memcpy(&tag, (const uint8_t *)ev->payload + DISP_IMAGE_LEN,
	       sizeof(tag));
	if (le32toh(tag.magic) != DISP_TAG_MAGIC)
		return;
	vdmabuf_uuid_format(&ev->uuid, us);
	c = disp_case_find(le32toh(tag.case_id));
	if (!c) {
		tap_result(&d->tap, 0,
			   "display: export %s names case %u, not in the table",
			   us, le32toh(tag.case_id));
		return;
	}
	if (!meta_matches(c, ev, le32toh(tag.expect), err, sizeof(err)))
		tap_result(&d->tap, 0,
			   "display case %u: the export's metadata is the case's: %s",
			   c->id, err);
	b = find_buf(d, &ev->uuid);
	for (i = 0; i < MAX_BUFS && !b; i++)
		if (!d->bufs[i].c)
			b = &d->bufs[i];
	if (!b) {
		tap_result(&d->tap, 0, "display case %u: too many buffers",
			   c->id);
		return;
	}
	b->uuid = ev->uuid;
	b->c = c;
	tap_diag(&d->tap, "display case %u of %u: EXPORTED %s, %llu bytes",
		 c->id, le32toh(tag.nr_cases), us,
		 (unsigned long long)ev->size);
}

static void on_presented(struct disp *d, const struct vdmabuf_host_event *ev)
{
	struct dbuf *b = find_buf(d, &ev->uuid);
	struct kbuf *k = d->kms ? find_kbuf(d, &ev->uuid) : NULL;

	/* QEMU's own display shows it by now: a screendump reads events */
	if (b)
		check_presented(d, b, ev->seq);
	if (k)
		kms_presented(d, k, ev);
	frame_done(d, ev);
}

static void on_unexported(struct disp *d,
			  const struct vdmabuf_host_event *ev)
{
	struct dbuf *b = find_buf(d, &ev->uuid);
	struct kbuf *k = find_kbuf(d, &ev->uuid);

	if (k)
		kms_done(d, k);
	if (!b)
		return;
	if (b->c->expect == DISP_EXPECT_PICTURE) {
		if (d->seen[b->c->id] & SEEN_PRESENTED)
			check_unexported(d, b);
		else
			tap_diag(&d->tap, "display case %u: UNEXPORTED before it was presented",
				 b->c->id);
	}
	b->c = NULL;
}

/* For importer_drain(): @ctx is the struct disp. */
static int on_event(void *ctx, const struct vdmabuf_host_event *ev)
{
	struct disp *d = ctx;

	switch (ev->type) {
	case VHOST_VDMABUF_EVENT_EXPORTED:
		on_exported(d, ev);
		break;
	case VHOST_VDMABUF_EVENT_PRESENTED:
		on_presented(d, ev);
		break;
	case VHOST_VDMABUF_EVENT_UNEXPORTED:
		on_unexported(d, ev);
		break;
	default:
		tap_diag(&d->tap, "unknown event type %u", ev->type);
		break;
	}
	/* Stop at once when every case was checked, or on a signal */
	return (d->finished && !d->kms) || stop_signal;
}

/* Wait up to @wait_s for QEMU's socket, then join every buffer's frames. */
static int connect_importer(struct disp *d, unsigned long wait_s)
{
	int ret;

	ret = vdmabuf_importer_connect(d->sock_path, wait_s > INT_MAX / 1000 ?
				       INT_MAX : (int)wait_s * 1000, &d->imp);
	if (ret) {
		fprintf(stderr, PROG ": no importer fd from %s: %s\n",
			d->sock_path, strerror(-ret));
		return ret;
	}
	/* The guest's FRAME_DONE waits for our screendump */
	ret = vdmabuf_importer_frames(d->imp, NULL, VHOST_VDMABUF_FRAMES_JOIN);
	if (ret) {
		fprintf(stderr, PROG ": join all frames: %s\n", strerror(-ret));
		vdmabuf_importer_close(d->imp);
		d->imp = NULL;
	}
	return ret;
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --socket PATH --qmp PATH [--tap FILE] [--device ID]\n"
		"       [--cases N] [--dir DIR] [--wait SEC] [--kms] [--kms-hold MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "qmp", required_argument, NULL, 'q' },
		{ "tap", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'D' },
		{ "cases", required_argument, NULL, 'n' },
		{ "dir", required_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'w' },
		{ "kms", no_argument, NULL, 'k' },
		{ "kms-hold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	static struct disp d = {
		.device = "vd0", .dir = "/tmp", .want = DISP_NR_CASES,
		.out_w = { DISP_XRES, DISP_XRES },
		.out_h = { DISP_YRES, DISP_YRES },
		.kms_hold_ms = KMS_HOLD_MS,
	};
	const char *tap_path = NULL;
	unsigned long wait_s = 600, n;
	char err[ERR_LEN] = "";
	sigset_t block;
	char *end;
	int c, ret, i;

	while ((c = getopt_long(argc, argv, "s:q:t:D:n:d:w:kH:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			d.sock_path = optarg;
			break;
		case 'q':
			d.qmp_path = optarg;
			break;
		case 't':
			tap_path = optarg;
			break;
		case 'D':
			d.device = optarg;
			break;
		case 'n':
			n = strtoul(optarg, &end, 0);
			if (*end || !n || n > DISP_NR_CASES)
				bad_usage();
			d.want = (unsigned int)n;
			break;
		case 'd':
			d.dir = optarg;
			break;
		case 'H':
			n = strtoul(optarg, &end, 0);
			if (*end || n > 10000)
				bad_usage();
			d.kms_hold_ms = (unsigned int)n;
			break;
		case 'w':
			wait_s = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			d.kms = 1;
			break;
		default:
			bad_usage();
		}
	}
	if (!d.sock_path || !d.qmp_path || optind != argc)
		bad_usage();
	if (tap_open(&d.tap, tap_path ? tap_path : "/dev/stdout"))
		return 2;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &d.orig);
	signal(SIGPIPE, SIG_IGN);
	qmp_init(&d.qmp, d.qmp_path, QMP_TIMEOUT_MS, &d.orig, &stop_signal);

	ret = connect_importer(&d, wait_s);
	tap_result(&d.tap, !ret, "display: got an importer fd from %s",
		   d.sock_path);
	if (ret) {
		tap_close(&d.tap);
		return 2;
	}
	/* Before the guest shows anything: the listener sees every change */
	ret = listener_start(&d, DISP_WATCHED, err, sizeof(err));
	tap_result(&d.tap, !ret,
		   "display: a D-Bus display client watches output %u (RegisterListener)%s%s",
		   DISP_WATCHED, ret ? ": " : "", ret ? err : "");

	while (!stop_signal && (!d.finished || d.kms)) {
		struct pollfd pfd = {
			.fd = vdmabuf_importer_fd(d.imp), .events = POLLIN,
		};

		ret = ppoll(&pfd, 1, NULL, &d.orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			tap_result(&d.tap, 0, "display: waiting for events: %s",
				   strerror(errno));
			break;
		}
		if (pfd.revents & (POLLERR | POLLNVAL)) {
			tap_result(&d.tap, 0, "display: importer fd error (revents 0x%x)",
				   pfd.revents);
			break;
		}
		ret = importer_drain(d.imp, PROG, on_event, &d);
		if (ret == -ENODEV || (!ret && (pfd.revents & POLLHUP))) {
			tap_diag(&d.tap, "the VM is gone");
			break;
		}
		if (ret < 0) {
			tap_result(&d.tap, 0, "display: reading events: %s",
				   strerror(-ret));
			break;
		}
	}
	if (stop_signal)
		tap_diag(&d.tap, "stopped by signal %d", (int)stop_signal);

	/* Closing answers whatever frame is still owed */
	vdmabuf_importer_close(d.imp);
	listener_free(d.listener);
	if (d.dbus)
		g_object_unref(d.dbus);
	qmp_close(&d.qmp);
	tap_result(&d.tap, d.done >= d.want, "display: saw all %u display cases (%u checked)",
		   d.want, d.done);
	if (d.kms) {
		for (i = 0; i < MAX_BUFS; i++)
			if (d.kbufs[i].used)
				kms_done(&d, &d.kbufs[i]);
		tap_result(&d.tap, d.kms_shown[0] && d.kms_shown[1],
			   "kms: the guest's KMS driver showed framebuffers on both outputs (%u and %u), %u frames screendumped",
			   d.kms_shown[0], d.kms_shown[1], d.kms_frames);
		tap_result(&d.tap, d.kms_switches && !d.kms_bad_damage,
			   "kms: each of the %u frames that showed another buffer than the output's last was a full update (%u were not)",
			   d.kms_switches, d.kms_bad_damage);
		tap_result(&d.tap, d.kms_damaged > 0,
			   "kms: damage of a buffer shown again reached the host (%u frames with rectangles)",
			   d.kms_damaged);
	}
	ret = d.tap.failed ? 1 : 0;
	tap_close(&d.tap);
	return ret;
}
