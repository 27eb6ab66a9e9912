// SPDX-License-Identifier: GPL-2.0
/*
 * life_guest: the guest half of the lifecycle tests (module reload,
 * freeze/restore and reboot with live exports), on libvdmabuf.  Runs in
 * the L2 guest, driven step by step by its /init; the host half is importer_holder in
 * L1, which imports every export whose metadata starts with
 * E2E_HOLD_MAGIC, keeps it, and acknowledges every frame.
 *
 * usage: life_guest hold [--close | --stay READY] KIND...
 *	  life_guest freeze
 *	  life_guest roundtrip
 *
 *  hold	export one 1 MiB buffer per KIND ("own": vdmabuf_dev_alloc(),
 *		"udmabuf": a memfd through /dev/udmabuf) tagged for the
 *		holder, then PRESENT each once and wait for FRAME_DONE: the
 *		holder answers frames in event order, so by then it has
 *		imported the buffer.  --close: exit, closing every fd (the
 *		exports become UNEXPORTED but stay held by the host);
 *		--stay: create READY and sleep until killed (the exports stay
 *		live, e.g. across a reboot).
 *  freeze	hold an own buffer, then suspend to idle with pm_test=devices
 *		and pm_test_delay=0 (the driver's freeze and restore run);
 *		the device reset must count as RELEASED of the export, the
 *		counters must be back to zero, and the device must work
 *		afterwards.
 *  roundtrip	ALLOC, EXPORT, PRESENT -> FRAME_DONE, UNEXPORT -> RELEASED.
 *
 * Output: TAP lines (no plan; the caller counts them).  Exit 0 if every
 * line was "ok".
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/dma-buf.h>

#include <vdmabuf/vdmabuf.h>

#include "e2e_proto.h"
#include "guest_common.h"	/* udmabuf_dmabuf() */

#define DEV_PATH	"/dev/virtio-vdmabuf"
#define BUF_SIZE	(1U << 20)
#define EVT_TIMEOUT_MS	60000	/* nested TCG */
#define MAX_HOLD	8

static int failed;

static void __attribute__((format(printf, 2, 3)))
result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok - life: ", ok ? "" : "not ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		failed = 1;
}

static struct vdmabuf_dev *open_dev(void)
{
	struct vdmabuf_dev *dev;
	int r = vdmabuf_dev_open(DEV_PATH, &dev);

	result(!r, "open %s%s%s", DEV_PATH, r ? ": " : "",
	       r ? strerror(-r) : "");
	return dev;
}

static int own_dmabuf(struct vdmabuf_dev *dev)
{
	return vdmabuf_dev_alloc(dev, BUF_SIZE);
}

/* Fill @buf with a byte pattern the holder can recognise in a dump. */
static int fill(int buf, uint8_t seed)
{
	uint8_t *p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			  buf, 0);
	uint32_t i;

	if (p == MAP_FAILED)
		return -errno;
	vdmabuf_dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	for (i = 0; i < BUF_SIZE; i++)
		p[i] = (uint8_t)(seed + i / 4096);
	vdmabuf_dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	munmap(p, BUF_SIZE);
	return 0;
}

static int export(struct vdmabuf_dev *dev, int buf, int hold,
		  struct vdmabuf_exported *e)
{
	uint32_t meta[2] = { htole32(E2E_HOLD_MAGIC), htole32(getpid()) };

	if (hold)
		return vdmabuf_dev_export(dev, buf, meta, sizeof(meta), e);
	return vdmabuf_dev_export(dev, buf, NULL, 0, e);
}

/* Wait for the event @type for @uuid (and @seq for FRAME_DONE). */
static int wait_event(struct vdmabuf_dev *dev, uint32_t type,
		      const struct vdmabuf_uuid *uuid, uint64_t seq)
{
	struct vdmabuf_event ev;
	int r = vdmabuf_dev_next_event(dev, &ev, EVT_TIMEOUT_MS);

	if (r)
		return r == -EAGAIN ? -ETIMEDOUT : r;
	if (ev.type != type || memcmp(ev.uuid, uuid->b, sizeof(uuid->b)) ||
	    (type == VDMABUF_EVENT_FRAME_DONE && ev.seq != seq))
		return -EPROTO;
	return 0;
}

/* Events that are there without waiting (each on stderr). */
static unsigned int stray_events(struct vdmabuf_dev *dev)
{
	struct vdmabuf_event ev;
	struct vdmabuf_uuid u;
	char us[VDMABUF_UUID_STR_LEN];
	unsigned int n = 0;

	while (!vdmabuf_dev_next_event(dev, &ev, 0)) {
		memcpy(u.b, ev.uuid, sizeof(u.b));
		fprintf(stderr, "life_guest: unexpected event %u for %s seq %llu\n",
			ev.type, vdmabuf_uuid_format(&u, us),
			(unsigned long long)ev.seq);
		n++;
	}
	return n;
}

static int present(struct vdmabuf_dev *dev, const struct vdmabuf_uuid *uuid,
		   uint64_t seq)
{
	int r = vdmabuf_dev_present(dev, uuid, seq, NULL, 0);

	return r ? r : wait_event(dev, VDMABUF_EVENT_FRAME_DONE, uuid, seq);
}

/* Export @buf tagged for the holder and wait until the holder has it. */
static int hold_one(struct vdmabuf_dev *dev, int buf, const char *kind,
		    struct vdmabuf_uuid *uuid)
{
	struct vdmabuf_exported e;
	char us[VDMABUF_UUID_STR_LEN];
	int r;

	r = fill(buf, (uint8_t)getpid());
	if (!r)
		r = export(dev, buf, 1, &e);
	result(!r, "hold: EXPORT of a 1 MiB %s buffer tagged for the holder%s%s",
	       kind, r ? ": " : "", r ? strerror(-r) : "");
	if (r)
		return r;
	*uuid = e.uuid;
	r = present(dev, &e.uuid, 1);
	result(!r, "hold: %s: PRESENT -> FRAME_DONE, the host holds it%s%s",
	       vdmabuf_uuid_format(&e.uuid, us), r ? ": " : "",
	       r ? strerror(-r) : "");
	return r;
}

static int make_buf(struct vdmabuf_dev *dev, const char *kind)
{
	int buf;

	if (!strcmp(kind, "own"))
		buf = own_dmabuf(dev);
	else if (!strcmp(kind, "udmabuf"))
		buf = udmabuf_dmabuf(BUF_SIZE);
	else
		return -EINVAL;
	if (buf < 0)
		result(0, "hold: create a %s buffer: %s", kind, strerror(-buf));
	return buf;
}

static int cmd_hold(int argc, char **argv)
{
	const char *ready = NULL;
	struct vdmabuf_uuid uuid;
	struct vdmabuf_dev *dev;
	int buf, i = 0, close_all = 0;

	if (argc > 0 && !strcmp(argv[0], "--close")) {
		close_all = 1;
		i = 1;
	} else if (argc > 1 && !strcmp(argv[0], "--stay")) {
		ready = argv[1];
		i = 2;
	}
	if (i == argc || argc - i > MAX_HOLD || (!close_all && !ready))
		return 2;
	dev = open_dev();
	if (!dev)
		return 1;
	for (; i < argc; i++) {
		buf = make_buf(dev, argv[i]);
		if (buf < 0 || hold_one(dev, buf, argv[i], &uuid))
			return 1;
		/* The export keeps its own reference on the dma-buf. */
		close(buf);
	}
	if (close_all) {
		vdmabuf_dev_close(dev);
		return failed;
	}
	i = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	result(i >= 0, "hold: created %s; staying with live exports", ready);
	if (i < 0)
		return 1;
	close(i);
	for (;;)
		pause();
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int roundtrip(struct vdmabuf_dev *dev, const char *when)
{
	struct vdmabuf_exported e;
	int buf, r;

	buf = own_dmabuf(dev);
	r = buf < 0 ? buf : export(dev, buf, 0, &e);
	if (!r)
		r = present(dev, &e.uuid, 7);
	if (!r)
		r = vdmabuf_dev_unexport(dev, &e.uuid);
	if (!r)
		r = wait_event(dev, VDMABUF_EVENT_RELEASED, &e.uuid, 0);
	result(!r, "%s: ALLOC, EXPORT, PRESENT -> FRAME_DONE, UNEXPORT -> RELEASED%s%s",
	       when, r ? ": " : "", r ? strerror(-r) : "");
	if (buf >= 0)
		close(buf);
	return r;
}

static int cmd_freeze(void)
{
	struct vdmabuf_info before = { 0 }, after = { 0 };
	struct vdmabuf_uuid uuid;
	struct vdmabuf_dev *dev;
	unsigned int stray;
	int buf, r;

	dev = open_dev();
	if (!dev)
		return 1;
	if (vdmabuf_dev_info(dev, &before))
		return 1;
	buf = make_buf(dev, "own");
	if (buf < 0 || hold_one(dev, buf, "own", &uuid))
		return 1;

	/*
	 * pm_test holds the frozen devices for pm_test_delay seconds (5 by
	 * default) in mdelay(); under TCG on a loaded machine that busy wait
	 * ran 22 s of wall time and tripped the soft-lockup watchdog.  The
	 * driver's freeze and restore are what is tested, not the wait.
	 */
	write_str("/sys/module/suspend/parameters/pm_test_delay", "0");
	r = write_str("/sys/power/pm_test", "devices");
	if (!r)
		r = write_str("/sys/power/state", "freeze");
	result(!r, "freeze: suspend to idle with pm_test=devices (driver freeze, then restore)%s%s",
	       r ? ": " : "", r ? strerror(-r) : "");
	write_str("/sys/power/pm_test", "none");
	if (r)
		return 1;

	r = wait_event(dev, VDMABUF_EVENT_RELEASED, &uuid, 0);
	result(!r, "freeze: the reset counted as RELEASED of the live export%s%s",
	       r ? ": " : "", r ? strerror(-r) : "");
	r = vdmabuf_dev_info(dev, &after);
	/*
	 * The library reads events in batches: one that came with RELEASED
	 * is in the handle, not queued in the driver.  None may be there
	 * either (stray_events() names each on stderr).
	 */
	stray = stray_events(dev);
	result(!r && after.live_exports == before.live_exports &&
	       after.live_bytes == before.live_bytes &&
	       after.queued_events == 0 && !stray,
	       "freeze: live exports %llu -> %llu, live bytes %llu -> %llu, queued events %u",
	       (unsigned long long)before.live_exports,
	       (unsigned long long)after.live_exports,
	       (unsigned long long)before.live_bytes,
	       (unsigned long long)after.live_bytes, after.queued_events);
	/* The buffer itself is still ours and can be exported again. */
	r = roundtrip(dev, "after restore");
	close(buf);
	vdmabuf_dev_close(dev);
	return failed;
}

static int cmd_roundtrip(void)
{
	struct vdmabuf_dev *dev = open_dev();

	if (!dev)
		return 1;
	roundtrip(dev, "roundtrip");
	vdmabuf_dev_close(dev);
	return failed;
}

int main(int argc, char **argv)
{
	int r = 2;

	if (argc >= 2 && !strcmp(argv[1], "hold"))
		r = cmd_hold(argc - 2, argv + 2);
	else if (argc == 2 && !strcmp(argv[1], "freeze"))
		r = cmd_freeze();
	else if (argc == 2 && !strcmp(argv[1], "roundtrip"))
		r = cmd_roundtrip();
	if (r == 2)
		fprintf(stderr,
			"usage: life_guest hold [--close | --stay READY] KIND...\n"
			"       life_guest freeze | roundtrip\n");
	return r;
}
