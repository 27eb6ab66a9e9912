// SPDX-License-Identifier: GPL-2.0
/*
 * guest_faults: the guest driver against a device that misbehaves on
 * purpose.  Runs in the L2 guest of the vhost-user stage, whose second
 * device (/dev/virtio-vdmabuf1, or VDMABUF_FAULTS_DEVICE) is served by
 * vhost-user-vdmabuf-faults (tools/vhost-user-vdmabuf/device.c,
 * VUD_FAULTS): an export asks it for a fault through its metadata,
 * "vud-fault:NAME".
 *
 * Most tests are the failing test of a defect the driver once had: a
 * RELEASED for a live export freed it (issue 15, item 8), also when it
 * came after the UNEXPORT's refusal or before it; a refused UNEXPORT left
 * the export pinned and unreachable (item 7); a FRAME_DONE while the
 * export's one frame waited in the guest for its fences completed that
 * frame (frame_done_while_a_frame_waits).  bogus_events_ignored checks
 * the other events the spec's driver requirements say to ignore, and
 * present_refused a device out of memory for a frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <drm.h>		/* libdrm-dev's copy of the DRM UAPI */
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#include "guest_common.h"
#include "vgem_fence.h"

#include "kselftest_harness.h"

#define FAULTS_DEVICE	"/dev/virtio-vdmabuf1"
/* No event is owed: how long to wait to be sure none comes. */
#define QUIET_MS	3000

static const char *faults_device(void)
{
	const char *p = getenv("VDMABUF_FAULTS_DEVICE");

	return p ? p : FAULTS_DEVICE;
}

static long long dev_total(const char *name)
{
	return vd_dev_total(faults_device(), name);
}

static int wait_total(const char *name, long long want, int seconds)
{
	return vd_wait_total(faults_device(), name, want, seconds);
}

/* Export @buf asking the device for the fault @name. */
static int export_fault(int dev, int buf, const char *name,
			struct vdmabuf_export *e)
{
	static char meta[64];

	memset(e, 0, sizeof(*e));
	snprintf(meta, sizeof(meta), "vud-fault:%s", name);
	e->fd = buf;
	e->meta_len = strlen(meta);
	e->meta_ptr = (uintptr_t)meta;
	return ioctl(dev, VDMABUF_IOCTL_EXPORT, e) ? -errno : 0;
}

FIXTURE(faulty)
{
	int fd;
	int buf;
	struct vdmabuf_info info;
};

FIXTURE_SETUP(faulty)
{
	self->fd = open(faults_device(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", faults_device(),
				      strerror(errno));
	ASSERT_EQ(0, vd_info(self->fd, &self->info));
	self->buf = vd_alloc(self->fd, 65536, 0);
	ASSERT_LE(0, self->buf);
}

FIXTURE_TEARDOWN(faulty)
{
	close(self->buf);
	close(self->fd);
}

/*
 * Item 8: the device sends RELEASED for an export that is still live,
 * right after the FRAME_DONE of its first PRESENT (when the export is
 * certainly known to the driver).  The driver must ignore it (and say so
 * in the kernel log, which l2-init.sh checks): the FRAME_DONE reaches the
 * opener and no RELEASED does, the export stays EXPORTED, and its real
 * RELEASED after UNEXPORT is the only one.
 */
TEST_F_TIMEOUT(faulty, released_for_a_live_export, 60)
{
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	ASSERT_EQ(0, export_fault(self->fd, self->buf, "released-live", &e));
	memcpy(pr.uuid, e.uuid, 16);
	pr.seq = 7;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	ASSERT_EQ(0, next_event(self->fd, &ev, VD_EVT_TIMEOUT_MS));
	EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, ev.type);
	EXPECT_EQ(0, memcmp(ev.uuid, e.uuid, 16));
	EXPECT_EQ(7, ev.seq);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, QUIET_MS))
		TH_LOG("event %u for a live export", ev.type);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(VDMABUF_STATE_EXPORTED, q.state);

	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("a second event %u", ev.type);
}

/*
 * Events the driver must ignore (Documentation/virtio-dmabuf.rst, "Driver
 * requirements"): right after the FRAME_DONE of the export's first
 * PRESENT, the device sends a RELEASED of a UUID no export has, an event
 * of a type the spec does not define, and a FRAME_DONE of the export with
 * no frame pending.  None reaches the opener, the export stays EXPORTED
 * with no frame pending, its next frame completes as usual, and its
 * RELEASED after UNEXPORT is the only one.
 */
TEST_F_TIMEOUT(faulty, bogus_events_ignored, 60)
{
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	ASSERT_EQ(0, export_fault(self->fd, self->buf, "bogus-events", &e));
	memcpy(pr.uuid, e.uuid, 16);
	pr.seq = 7;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	ASSERT_EQ(0, next_event(self->fd, &ev, VD_EVT_TIMEOUT_MS));
	EXPECT_EQ(VDMABUF_EVENT_FRAME_DONE, ev.type);
	EXPECT_EQ(7, ev.seq);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, QUIET_MS))
		TH_LOG("event %u (seq %llu) passed on", ev.type,
		       (unsigned long long)ev.seq);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(VDMABUF_STATE_EXPORTED, q.state);
	EXPECT_EQ(0, q.frames_pending);

	pr.seq = 8;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	EXPECT_FRAME_DONE(self->fd, 8, 0);
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("a second event %u", ev.type);
}

/*
 * A FRAME_DONE of an export whose one frame waits in the guest for its
 * buffer's write fence, unsent: the device has no frame of it.  A second
 * export asks the device for that FRAME_DONE ("frame-done-of:UUID").  The
 * driver must ignore it: no event reaches the opener and the frame stays
 * pending; once the fence signals, the frame is sent and the device's
 * FRAME_DONE of it is the only one.  The driver took such a FRAME_DONE
 * for the waiting frame's, and told the producer its frame was done
 * before it had even been sent.
 */
TEST_F_TIMEOUT(faulty, frame_done_while_a_frame_waits, 60)
{
	struct vdmabuf_export e, e2;
	struct vdmabuf_present pr = {};
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	__u32 handle, fence = 0;
	char name[64];
	int card, buf, r, i, n;
	double t0;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	card = vgem_open();
	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf = vgem_dmabuf(card, 64, 64, &handle);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vd_export(self->fd, buf, &e));
	memcpy(pr.uuid, e.uuid, 16);
	t0 = now_s();
	ASSERT_EQ(0, vgem_write_fence(card, handle, &fence));
	pr.seq = 5;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);

	n = snprintf(name, sizeof(name), "frame-done-of:");
	for (i = 0; i < 16; i++)
		n += snprintf(name + n, sizeof(name) - n, "%02x", e.uuid[i]);
	ASSERT_EQ(0, export_fault(self->fd, self->buf, name, &e2));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, QUIET_MS))
		TH_LOG("event %u (seq %llu, flags %#x) while the frame waits",
		       ev.type, (unsigned long long)ev.seq, ev.flags);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(1, q.frames_pending);

	r = vgem_signal(card, fence);
	if (r == -ETIMEDOUT && now_s() - t0 >= VGEM_FENCE_LIFE_S)
		SKIP_UNLESS_FAILED(return, "vgem's fence signalled by itself after %.1f s",
				   now_s() - t0);
	ASSERT_EQ(0, r);
	EXPECT_FRAME_DONE(self->fd, 5, 0);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("a second event %u", ev.type);
	EXPECT_EQ(0, vd_unexport(self->fd, e2.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e2.uuid));
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	close(buf);
	close(card);
}

/*
 * The device refuses PRESENTs (NOMEM, the export's first two): the driver
 * takes each frame back.  A PRESENT its caller waits for fails with
 * ENOMEM and leaves no frame pending and no event; one sent once its
 * buffer's write fence signalled, which its caller did not wait for, ends
 * in a FRAME_DONE flagged dropped.  The next PRESENT is shown.
 */
TEST_F_TIMEOUT(faulty, present_refused, 60)
{
	struct vdmabuf_present pr = {};
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	__u32 handle, fence = 0;
	int card, buf, r;
	double t0;

	if (!(self->info.features & (1ULL << VIRTIO_VDMABUF_F_PRESENT)))
		SKIP(return, "device lacks VIRTIO_VDMABUF_F_PRESENT");
	card = vgem_open();
	if (card < 0)
		SKIP(return, "vgem is not loaded");
	buf = vgem_dmabuf(card, 64, 64, &handle);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, export_fault(self->fd, buf, "present-nomem", &e));
	memcpy(pr.uuid, e.uuid, 16);

	pr.seq = 1;
	EXPECT_EQ(-ENOMEM, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(0, q.frames_pending);
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 300))
		TH_LOG("event %u after a refused PRESENT", ev.type);

	t0 = now_s();
	ASSERT_EQ(0, vgem_write_fence(card, handle, &fence));
	pr.seq = 2;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	r = vgem_signal(card, fence);
	if (r == -ETIMEDOUT && now_s() - t0 >= VGEM_FENCE_LIFE_S)
		SKIP_UNLESS_FAILED(return, "vgem's fence signalled by itself after %.1f s",
				   now_s() - t0);
	ASSERT_EQ(0, r);
	EXPECT_FRAME_DONE(self->fd, 2, VDMABUF_EVENT_F_DROPPED);
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(0, q.frames_pending);

	pr.seq = 3;
	ASSERT_EQ(0, ioctl(self->fd, VDMABUF_IOCTL_PRESENT, &pr) ? -errno : 0);
	EXPECT_FRAME_DONE(self->fd, 3, 0);
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	close(buf);
	close(card);
}

/*
 * Item 7, the opener waiting: the device refuses the first UNEXPORT
 * (NOMEM).  The caller gets -ENOMEM, the export is EXPORTED again, and
 * the retry unexports it.
 */
TEST_F_TIMEOUT(faulty, unexport_refused_then_retried, 60)
{
	struct vdmabuf_export e;
	struct vdmabuf_query q;

	ASSERT_EQ(0, export_fault(self->fd, self->buf, "unexport-nomem", &e));
	EXPECT_EQ(-ENOMEM, vd_unexport(self->fd, e.uuid));
	ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q));
	EXPECT_EQ(VDMABUF_STATE_EXPORTED, q.state);
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
}

/*
 * Item 7, nobody waiting: the opener closes with a live export, so the
 * driver sends the UNEXPORT itself; the device refuses it once.  The
 * driver must send it again (after a second): the export is released,
 * and the device's total of live exports comes back.
 */
TEST_F_TIMEOUT(faulty, unexport_refused_after_close, 60)
{
	long long live0 = dev_total("live_exports");
	struct vdmabuf_export e;
	int other;

	ASSERT_LE(0, live0);
	other = open(faults_device(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, export_fault(other, self->buf, "unexport-nomem", &e));
	EXPECT_EQ(live0 + 1, dev_total("live_exports"));
	close(other);
	EXPECT_EQ(0, wait_total("live_exports", live0, 30))
		TH_LOG("live_exports %lld, was %lld", dev_total("live_exports"),
		       live0);
}

/*
 * Item 8, with the UNEXPORT refused: the device answers the opener's
 * UNEXPORT NOMEM three times, each time with a RELEASED, which may reach
 * the driver before the answer or after it.  The export is live on the
 * device all along: each UNEXPORT fails with ENOMEM and leaves it
 * EXPORTED, none of those RELEASEDs reaches the opener, and the fourth
 * UNEXPORT releases it once.
 */
TEST_F_TIMEOUT(faulty, released_with_a_refusal, 60)
{
	struct vdmabuf_export e;
	struct vdmabuf_event ev;
	struct vdmabuf_query q;
	int i;

	ASSERT_EQ(0, export_fault(self->fd, self->buf, "released-refused", &e));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-ENOMEM, vd_unexport(self->fd, e.uuid))
			TH_LOG("UNEXPORT %d", i + 1);
		ASSERT_EQ(0, vd_query(self->fd, e.uuid, &q))
			TH_LOG("the export is gone after UNEXPORT %d", i + 1);
		EXPECT_EQ(VDMABUF_STATE_EXPORTED, q.state);
	}
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("event %u for a live export", ev.type);
	EXPECT_EQ(0, vd_unexport(self->fd, e.uuid));
	EXPECT_EQ(0, wait_released(self->fd, e.uuid));
	EXPECT_EQ(-ETIMEDOUT, next_event(self->fd, &ev, 500))
		TH_LOG("a second event %u", ev.type);
}

/*
 * Item 8, nobody waiting: the opener closes with a live export, and the
 * device answers the driver's own UNEXPORT NOMEM three times, each time
 * with a RELEASED.  The driver must ignore them and send the UNEXPORT
 * again (a second after each refusal) until the device takes it: the
 * export is released no sooner than the third retry, and the device's
 * total of live exports comes back.  A driver that believed the first
 * RELEASED dropped the export at once, while the device still had it.
 */
TEST_F_TIMEOUT(faulty, released_with_a_refusal_after_close, 60)
{
	long long live0 = dev_total("live_exports");
	struct vdmabuf_export e;
	double t0;
	int other;

	ASSERT_LE(0, live0);
	other = open(faults_device(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, export_fault(other, self->buf, "released-refused", &e));
	EXPECT_EQ(live0 + 1, dev_total("live_exports"));
	t0 = now_s();
	close(other);
	EXPECT_EQ(0, wait_total("live_exports", live0, 30))
		TH_LOG("live_exports %lld, was %lld", dev_total("live_exports"),
		       live0);
	EXPECT_LE(2.5, now_s() - t0)
		TH_LOG("released %.2f s after the close, before the third retry",
		       now_s() - t0);
}

TEST_HARNESS_MAIN
