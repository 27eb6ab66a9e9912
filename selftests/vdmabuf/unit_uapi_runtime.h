/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run-time checks of the vdmabuf UAPI, written in the common subset of C99
 * and C++11 and shared by unit_uapi.c and unit_uapi.cc.  Each check
 * builds or decodes real message bytes through the header's structs, so a
 * layout or byte-order mistake in a header (or in how a driver would use
 * it) shows up as a failed TAP line.
 *
 * The includer pulls in the three UAPI headers and unit_uapi_layout.h
 * first.
 */
#ifndef UNIT_UAPI_RUNTIME_H
#define UNIT_UAPI_RUNTIME_H

#include <stdio.h>
#include <string.h>

static int uapi_failed;
static int uapi_test_nr;

/* Print one TAP line; on failure also a diagnostic with the reason. */
static void uapi_result(int ok, const char *name, const char *why)
{
	uapi_test_nr++;
	printf("%sok %d %s\n", ok ? "" : "not ", uapi_test_nr, name);
	if (!ok) {
		printf("# %s: %s\n", name, why);
		uapi_failed++;
	}
}

/* Store and load little-endian values whatever the CPU's byte order. */
static __u16 uapi_le16(__u16 v)
{
	unsigned char b[2];
	__u16 r;

	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	memcpy(&r, b, sizeof(r));
	return r;
}

static __u32 uapi_le32(__u32 v)
{
	unsigned char b[4];
	__u32 r;

	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
	memcpy(&r, b, sizeof(r));
	return r;
}

static __u64 uapi_le64(__u64 v)
{
	unsigned char b[8];
	__u64 r;
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	memcpy(&r, b, sizeof(r));
	return r;
}

/* Each of uapi_le16/32/64() is its own inverse. */
#define uapi_from_le16(v)	uapi_le16(v)
#define uapi_from_le32(v)	uapi_le32(v)
#define uapi_from_le64(v)	uapi_le64(v)

static int uapi_bytes_equal(const unsigned char *a, const unsigned char *b,
			    size_t len, char *why, size_t why_len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (a[i] != b[i]) {
			snprintf(why, why_len,
				 "byte %u is 0x%02x, expected 0x%02x",
				 (unsigned int)i, a[i], b[i]);
			return 0;
		}
	}
	return 1;
}

static const __u8 uapi_uuid[16] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
	0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/*
 * An EXPORT of a 2 MiB + 4 KiB buffer in two ranges with 20 bytes of
 * metadata, as the driver puts it on the requestq: header, ranges,
 * metadata, one byte stream.
 */
static void uapi_test_export_bytes(void)
{
	static const unsigned char expect[40 + 2 * 16 + 20] = {
		/* hdr.type = 1, hdr.flags = 0 */
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* hdr.uuid */
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
		0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
		/* size = 0x201000 */
		0x00, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* nr_ranges = 2, meta_len = 20 */
		0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
		/* range 0: addr 0x1_2340_0000, len 0x200000 */
		0x00, 0x00, 0x40, 0x23, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* range 1: addr 0x7000, len 0x1000 */
		0x00, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* metadata: 20 bytes, passed through untouched */
		'w', 'i', 'd', 't', 'h', '=', '1', '9', '2', '0',
		'h', 'e', 'i', 'g', 'h', 't', '=', '1', '0', '8',
	};
	unsigned char buf[sizeof(expect)];
	struct virtio_vdmabuf_export_req req;
	struct virtio_vdmabuf_range r[2];
	char why[96] = "";
	size_t off = 0;
	int ok;

	memset(&req, 0, sizeof(req));
	req.hdr.type = uapi_le32(VIRTIO_VDMABUF_REQ_EXPORT);
	req.hdr.flags = 0;
	memcpy(req.hdr.uuid, uapi_uuid, sizeof(req.hdr.uuid));
	req.size = uapi_le64(0x201000);
	req.nr_ranges = uapi_le32(2);
	req.meta_len = uapi_le32(20);
	r[0].addr = uapi_le64(0x123400000ULL);
	r[0].len = uapi_le64(0x200000);
	r[1].addr = uapi_le64(0x7000);
	r[1].len = uapi_le64(0x1000);

	memcpy(buf + off, &req, sizeof(req));
	off += sizeof(req);
	memcpy(buf + off, r, sizeof(r));
	off += sizeof(r);
	memcpy(buf + off, "width=1920height=108", 20);
	off += 20;

	ok = off == sizeof(expect) &&
	     off == sizeof(req) + 2 * sizeof(struct virtio_vdmabuf_range) + 20 &&
	     uapi_bytes_equal(buf, expect, sizeof(expect), why, sizeof(why));
	uapi_result(ok, "export_request_wire_bytes",
		    why[0] ? why : "length mismatch");
}

/* A PRESENT with one damage rectangle and a 64-bit sequence number. */
static void uapi_test_present_bytes(void)
{
	static const unsigned char expect[40 + 16] = {
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
		0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
		/* seq = 0x0102030405060708 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		/* nr_rects = 1, padding = 0 */
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* x = 16, y = 32, width = 1920, height = 1080 */
		0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
		0x80, 0x07, 0x00, 0x00, 0x38, 0x04, 0x00, 0x00,
	};
	unsigned char buf[sizeof(expect)];
	struct virtio_vdmabuf_present_req req;
	struct virtio_vdmabuf_rect rect;
	char why[96] = "";

	memset(&req, 0, sizeof(req));
	req.hdr.type = uapi_le32(VIRTIO_VDMABUF_REQ_PRESENT);
	memcpy(req.hdr.uuid, uapi_uuid, sizeof(req.hdr.uuid));
	req.seq = uapi_le64(0x0102030405060708ULL);
	req.nr_rects = uapi_le32(1);
	rect.x = uapi_le32(16);
	rect.y = uapi_le32(32);
	rect.width = uapi_le32(1920);
	rect.height = uapi_le32(1080);
	memcpy(buf, &req, sizeof(req));
	memcpy(buf + sizeof(req), &rect, sizeof(rect));

	uapi_result(uapi_bytes_equal(buf, expect, sizeof(expect), why,
				     sizeof(why)),
		    "present_request_wire_bytes", why);
}

/* A response is 8 bytes: status, then zero padding. */
static void uapi_test_resp_bytes(void)
{
	static const unsigned char expect[8] = { 8, 0, 0, 0, 0, 0, 0, 0 };
	struct virtio_vdmabuf_resp resp;
	char why[96] = "";

	resp.status = uapi_le32(VIRTIO_VDMABUF_S_BUSY);
	resp.padding = 0;
	uapi_result(uapi_bytes_equal((const unsigned char *)&resp, expect,
				     sizeof(expect), why, sizeof(why)),
		    "response_wire_bytes", why);
}

/*
 * A FRAME_DONE event as the device writes it into an eventq buffer,
 * decoded through both the wire struct and the guest's read() record.
 */
static void uapi_test_event_decode(void)
{
	static const unsigned char wire[32] = {
		0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
		0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
		0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12,
	};
	struct virtio_vdmabuf_event ev;
	struct vdmabuf_event uev;
	const char *why = "";

	memcpy(&ev, wire, sizeof(ev));
	uev.type = uapi_from_le32(ev.type);
	uev.flags = uapi_from_le32(ev.flags);
	memcpy(uev.uuid, ev.uuid, sizeof(uev.uuid));
	uev.seq = uapi_from_le64(ev.seq);

	if (uev.type != VDMABUF_EVENT_FRAME_DONE)
		why = "type";
	else if (uev.flags != VDMABUF_EVENT_F_REPLACED)
		why = "flags";
	else if (memcmp(uev.uuid, uapi_uuid, sizeof(uev.uuid)))
		why = "uuid";
	else if (uev.seq != 0x123456789abcdef0ULL)
		why = "seq";
	uapi_result(!why[0], "event_wire_decode", why);
}

/*
 * Image metadata starts with its type, and the type's little-endian bytes
 * spell "VIMG", so a hex dump of any EXPORT's metadata shows what it is.
 */
static void uapi_test_image_type(void)
{
	__u32 type = uapi_le32(VIRTIO_VDMABUF_META_IMAGE);

	uapi_result(!memcmp(&type, "VIMG", 4), "image_type_bytes_are_VIMG",
		    "VIRTIO_VDMABUF_META_IMAGE in little-endian is not \"VIMG\"");
}

/*
 * The metadata of a bottom-up NV12 1920x1080 frame, Y-tiled with a
 * 2048-byte stride, for the second output, as a producer attaches it to
 * EXPORT: 136 bytes, little-endian, unused planes and colour zero.
 */
static void uapi_test_image_bytes(void)
{
	static const unsigned char expect[136] = {
		/* type "VIMG", version 1, len 136 */
		'V', 'I', 'M', 'G', 0x01, 0x00, 0x88, 0x00,
		/* width 1920, height 1080 */
		0x80, 0x07, 0x00, 0x00, 0x38, 0x04, 0x00, 0x00,
		/* fourcc NV12, flags BOTTOM_UP */
		'N', 'V', '1', '2', 0x01, 0x00, 0x00, 0x00,
		/* modifier 0x0100000000000002 (I915_FORMAT_MOD_Y_TILED) */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		/* output 1, nr_planes 2 */
		0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
		/* planes[0]: offset 0, stride 2048, padding */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* planes[1]: offset 2048 * 1088 = 0x220000, stride 2048 */
		0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* planes[2], planes[3] and color: zero */
	};
	struct virtio_vdmabuf_image img;
	char why[96] = "";
	int ok;

	memset(&img, 0, sizeof(img));
	img.type = uapi_le32(VIRTIO_VDMABUF_META_IMAGE);
	img.version = uapi_le16(VIRTIO_VDMABUF_IMAGE_VERSION);
	img.len = uapi_le16((__u16)sizeof(img));
	img.width = uapi_le32(1920);
	img.height = uapi_le32(1080);
	img.fourcc = uapi_le32(0x3231564e);	/* DRM_FORMAT_NV12 */
	img.flags = uapi_le32(VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP);
	img.modifier = uapi_le64(0x0100000000000002ULL);
	img.output = uapi_le32(1);
	img.nr_planes = uapi_le32(2);
	img.planes[0].offset = uapi_le64(0);
	img.planes[0].stride = uapi_le32(2048);
	img.planes[1].offset = uapi_le64(2048 * 1088);
	img.planes[1].stride = uapi_le32(2048);

	ok = sizeof(img) == sizeof(expect) &&
	     uapi_bytes_equal((const unsigned char *)&img, expect,
			      sizeof(expect), why, sizeof(why));
	if (ok && uapi_from_le16(img.len) != 136) {
		snprintf(why, sizeof(why), "len reads back as %u",
			 (unsigned int)uapi_from_le16(img.len));
		ok = 0;
	}
	uapi_result(ok, "image_metadata_wire_bytes",
		    why[0] ? why : "length mismatch");
}

/* The device's config space as the driver reads it. */
static void uapi_test_config_decode(void)
{
	static const unsigned char wire[32] = {
		0x00, 0x40, 0x00, 0x00,	/* max_ranges 16384 */
		0x00, 0x04, 0x00, 0x00,	/* max_meta_len 1024 */
		0x00, 0x04, 0x00, 0x00,	/* max_exports 1024 */
		0x10, 0x00, 0x00, 0x00,	/* max_rects 16 */
		0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,	/* 512 MiB */
		0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,	/* 2 GiB */
	};
	struct virtio_vdmabuf_config cfg;
	const char *why = "";

	memcpy(&cfg, wire, sizeof(cfg));
	if (uapi_from_le32(cfg.max_ranges) != 16384)
		why = "max_ranges";
	else if (uapi_from_le32(cfg.max_meta_len) != 1024)
		why = "max_meta_len";
	else if (uapi_from_le32(cfg.max_exports) != 1024)
		why = "max_exports";
	else if (uapi_from_le32(cfg.max_rects) != 16)
		why = "max_rects";
	else if (uapi_from_le64(cfg.max_export_size) != 512ULL << 20)
		why = "max_export_size";
	else if (uapi_from_le64(cfg.max_total_size) != 2048ULL << 20)
		why = "max_total_size";
	uapi_result(!why[0], "config_wire_decode", why);
}

/*
 * Walk an importer read() buffer holding EXPORTED (20 bytes of metadata,
 * so len 84 rounded up to 88), PRESENTED (2 rects) and UNEXPORTED, the way
 * a VMM must: by @len, never by sizeof.
 */
static void uapi_test_importer_records(void)
{
	/* The EXPORTED header; host byte order, so compared on LE CPUs only. */
	static const unsigned char exported_hdr[64] = {
		0x01, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
		0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
		0x00, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	char diag[96] = "";
	unsigned char buf[256];
	struct vhost_vdmabuf_event ev;
	struct vhost_vdmabuf_rect rect;
	size_t off = 0, end;
	const char *why = "";
	__u32 types[3];
	int n = 0;

	memset(buf, 0xa5, sizeof(buf));

	memset(&ev, 0, sizeof(ev));
	ev.type = VHOST_VDMABUF_EVENT_EXPORTED;
	ev.payload_len = 20;
	ev.len = (sizeof(ev) + ev.payload_len + 7) & ~7U;
	ev.size = 0x201000;
	memcpy(ev.uuid, uapi_uuid, sizeof(ev.uuid));
	memcpy(buf + off, &ev, sizeof(ev));
	memcpy(buf + off + sizeof(ev), "width=1920height=108", 20);
	off += ev.len;

	memset(&ev, 0, sizeof(ev));
	ev.type = VHOST_VDMABUF_EVENT_PRESENTED;
	ev.payload_len = 2 * sizeof(rect);
	ev.len = sizeof(ev) + ev.payload_len;
	ev.seq = 7;
	ev.frame = 3;
	ev.nr_frames = 1;
	ev.flags = VHOST_VDMABUF_EVENT_F_OWED;
	memcpy(ev.uuid, uapi_uuid, sizeof(ev.uuid));
	memcpy(buf + off, &ev, sizeof(ev));
	rect.x = 0;
	rect.y = 0;
	rect.width = 64;
	rect.height = 64;
	memcpy(buf + off + sizeof(ev), &rect, sizeof(rect));
	memcpy(buf + off + sizeof(ev) + sizeof(rect), &rect, sizeof(rect));
	off += ev.len;

	memset(&ev, 0, sizeof(ev));
	ev.type = VHOST_VDMABUF_EVENT_UNEXPORTED;
	ev.len = sizeof(ev);
	memcpy(ev.uuid, uapi_uuid, sizeof(ev.uuid));
	memcpy(buf + off, &ev, sizeof(ev));
	off += ev.len;
	end = off;

	if (end != 88 + 96 + 64)
		why = "stream length";
	else if (uapi_le32(1) == 1 &&
		 !uapi_bytes_equal(buf, exported_hdr, sizeof(exported_hdr),
				   diag, sizeof(diag)))
		why = diag;
	for (off = 0; !why[0] && off < end && n < 3; off += ev.len) {
		memcpy(&ev, buf + off, sizeof(ev));
		if (ev.len < sizeof(ev) || ev.len % 8 ||
		    ev.len > VHOST_VDMABUF_EVENT_MAX)
			why = "record len";
		else if (ev.payload_len > ev.len - sizeof(ev))
			why = "payload_len beyond record";
		else if (memcmp(ev.uuid, uapi_uuid, sizeof(ev.uuid)))
			why = "uuid";
		types[n++] = ev.type;
	}
	if (!why[0] && (off != end || n != 3))
		why = "walk did not end on the last record";
	if (!why[0] && (types[0] != VHOST_VDMABUF_EVENT_EXPORTED ||
			types[1] != VHOST_VDMABUF_EVENT_PRESENTED ||
			types[2] != VHOST_VDMABUF_EVENT_UNEXPORTED))
		why = "record order";
	uapi_result(!why[0], "importer_records_walk_by_len", why);
}

/* Any record the device can produce fits VHOST_VDMABUF_EVENT_MAX. */
static void uapi_test_event_max(void)
{
	size_t hdr = sizeof(struct vhost_vdmabuf_event);
	size_t exported = (hdr + VIRTIO_VDMABUF_MAX_META + 7) & ~(size_t)7;
	size_t presented = hdr + VIRTIO_VDMABUF_MAX_RECTS *
				 sizeof(struct vhost_vdmabuf_rect);
	const char *why = "";

	if (exported > VHOST_VDMABUF_EVENT_MAX)
		why = "largest EXPORTED record does not fit";
	else if (presented > VHOST_VDMABUF_EVENT_MAX)
		why = "largest PRESENTED record does not fit";
	uapi_result(!why[0], "event_max_holds_any_record", why);
}

struct uapi_ioctl {
	const char *name;
	unsigned long cmd;
};

static const struct uapi_ioctl uapi_guest_ioctls[] = {
	{ "VDMABUF_IOCTL_ALLOC", VDMABUF_IOCTL_ALLOC },
	{ "VDMABUF_IOCTL_EXPORT", VDMABUF_IOCTL_EXPORT },
	{ "VDMABUF_IOCTL_UNEXPORT", VDMABUF_IOCTL_UNEXPORT },
	{ "VDMABUF_IOCTL_PRESENT", VDMABUF_IOCTL_PRESENT },
	{ "VDMABUF_IOCTL_QUERY", VDMABUF_IOCTL_QUERY },
	{ "VDMABUF_IOCTL_INFO", VDMABUF_IOCTL_INFO },
};

static const struct uapi_ioctl uapi_host_ioctls[] = {
	{ "VHOST_VDMABUF_GET_CONFIG", VHOST_VDMABUF_GET_CONFIG },
	{ "VHOST_VDMABUF_SET_RUNNING", VHOST_VDMABUF_SET_RUNNING },
	{ "VHOST_VDMABUF_GET_IMPORTER", VHOST_VDMABUF_GET_IMPORTER },
	{ "VHOST_VDMABUF_GET_STATS", VHOST_VDMABUF_GET_STATS },
	{ "VHOST_VDMABUF_GET_LIMITS", VHOST_VDMABUF_GET_LIMITS },
	{ "VHOST_VDMABUF_SET_LIMITS", VHOST_VDMABUF_SET_LIMITS },
	{ "VHOST_VDMABUF_RESET_DEVICE", VHOST_VDMABUF_RESET_DEVICE },
	{ "VHOST_VDMABUF_IMPORT", VHOST_VDMABUF_IMPORT },
	{ "VHOST_VDMABUF_FRAME_DONE", VHOST_VDMABUF_FRAME_DONE },
	{ "VHOST_VDMABUF_QUERY", VHOST_VDMABUF_QUERY },
	{ "VHOST_VDMABUF_FRAMES", VHOST_VDMABUF_FRAMES },
};

#define UAPI_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* No two commands share a number, within or across the two families. */
static void uapi_test_ioctls_distinct(void)
{
	const struct uapi_ioctl *all[UAPI_ARRAY_SIZE(uapi_guest_ioctls) +
				     UAPI_ARRAY_SIZE(uapi_host_ioctls)];
	char why[160] = "";
	size_t i, j, n = 0;

	for (i = 0; i < UAPI_ARRAY_SIZE(uapi_guest_ioctls); i++)
		all[n++] = &uapi_guest_ioctls[i];
	for (i = 0; i < UAPI_ARRAY_SIZE(uapi_host_ioctls); i++)
		all[n++] = &uapi_host_ioctls[i];

	for (i = 0; i < n && !why[0]; i++) {
		for (j = i + 1; j < n && !why[0]; j++) {
			if (all[i]->cmd == all[j]->cmd ||
			    (_IOC_TYPE(all[i]->cmd) == _IOC_TYPE(all[j]->cmd) &&
			     _IOC_NR(all[i]->cmd) == _IOC_NR(all[j]->cmd)))
				snprintf(why, sizeof(why), "%s and %s collide",
					 all[i]->name, all[j]->name);
		}
	}
	uapi_result(!why[0], "ioctl_numbers_distinct", why);
}

/* Each family stays inside the sub-range it registers. */
static void uapi_test_ioctl_ranges(void)
{
	char why[160] = "";
	size_t i;

	for (i = 0; i < UAPI_ARRAY_SIZE(uapi_guest_ioctls) && !why[0]; i++) {
		unsigned long cmd = uapi_guest_ioctls[i].cmd;

		if (_IOC_TYPE(cmd) != 0xB9 || _IOC_NR(cmd) > 0x1f)
			snprintf(why, sizeof(why), "%s outside 0xB9 00-1F",
				 uapi_guest_ioctls[i].name);
	}
	for (i = 0; i < UAPI_ARRAY_SIZE(uapi_host_ioctls) && !why[0]; i++) {
		unsigned long cmd = uapi_host_ioctls[i].cmd;

		if (_IOC_TYPE(cmd) != 0xAF || _IOC_NR(cmd) < 0xd0 ||
		    _IOC_NR(cmd) > 0xdf)
			snprintf(why, sizeof(why), "%s outside 0xAF D0-DF",
				 uapi_host_ioctls[i].name);
	}
	uapi_result(!why[0], "ioctl_numbers_in_registered_ranges", why);
}

/*
 * Every VHOST_VIRTIO number in the newest uapi/linux/vhost.h known when
 * this was written (the highest: VHOST_SET/GET_FORK_FROM_OWNER, 0x84 and
 * 0x85), plus, when the includer pulled in <linux/vhost.h>
 * (C only: it does not compile as C++), every command it defines.
 */
static const unsigned int uapi_vhost_nrs[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x09,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
	0x30, 0x40, 0x41, 0x42, 0x43, 0x44, 0x60, 0x61,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
	0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82,
	0x84, 0x85,
};

#ifdef VHOST_SET_OWNER	/* the includer pulled in <linux/vhost.h> */
#define UAPI_HAVE_VHOST_H 1
static const struct uapi_ioctl uapi_vhost_cmds[] = {
	{ "VHOST_GET_FEATURES", VHOST_GET_FEATURES },
	{ "VHOST_SET_FEATURES", VHOST_SET_FEATURES },
	{ "VHOST_SET_OWNER", VHOST_SET_OWNER },
	{ "VHOST_RESET_OWNER", VHOST_RESET_OWNER },
	{ "VHOST_SET_MEM_TABLE", VHOST_SET_MEM_TABLE },
	{ "VHOST_SET_LOG_BASE", VHOST_SET_LOG_BASE },
	{ "VHOST_SET_LOG_FD", VHOST_SET_LOG_FD },
	{ "VHOST_SET_VRING_NUM", VHOST_SET_VRING_NUM },
	{ "VHOST_SET_VRING_ADDR", VHOST_SET_VRING_ADDR },
	{ "VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE },
	{ "VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE },
	{ "VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK },
	{ "VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL },
	{ "VHOST_SET_VRING_ERR", VHOST_SET_VRING_ERR },
	{ "VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND },
	{ "VHOST_VSOCK_SET_GUEST_CID", VHOST_VSOCK_SET_GUEST_CID },
	{ "VHOST_VSOCK_SET_RUNNING", VHOST_VSOCK_SET_RUNNING },
#ifdef VHOST_SET_BACKEND_FEATURES
	{ "VHOST_SET_BACKEND_FEATURES", VHOST_SET_BACKEND_FEATURES },
	{ "VHOST_GET_BACKEND_FEATURES", VHOST_GET_BACKEND_FEATURES },
#endif
#ifdef VHOST_VDPA_GET_DEVICE_ID
	{ "VHOST_VDPA_GET_DEVICE_ID", VHOST_VDPA_GET_DEVICE_ID },
	{ "VHOST_VDPA_GET_CONFIG", VHOST_VDPA_GET_CONFIG },
#endif
#ifdef VHOST_VDPA_GET_VQS_COUNT
	{ "VHOST_VDPA_GET_VQS_COUNT", VHOST_VDPA_GET_VQS_COUNT },
#endif
#ifdef VHOST_VDPA_GET_VRING_SIZE
	{ "VHOST_VDPA_GET_VRING_SIZE", VHOST_VDPA_GET_VRING_SIZE },
#endif
#ifdef VHOST_NEW_WORKER
	{ "VHOST_NEW_WORKER", VHOST_NEW_WORKER },
	{ "VHOST_GET_VRING_WORKER", VHOST_GET_VRING_WORKER },
#endif
#ifdef VHOST_SET_FORK_FROM_OWNER
	{ "VHOST_SET_FORK_FROM_OWNER", VHOST_SET_FORK_FROM_OWNER },
	{ "VHOST_GET_FORK_FROM_OWNER", VHOST_GET_FORK_FROM_OWNER },
#endif
};
#endif

static void uapi_test_host_clear_of_vhost(void)
{
	char why[160] = "";
	size_t i, j;

	for (i = 0; i < UAPI_ARRAY_SIZE(uapi_host_ioctls) && !why[0]; i++) {
		unsigned long cmd = uapi_host_ioctls[i].cmd;

		for (j = 0; j < UAPI_ARRAY_SIZE(uapi_vhost_nrs); j++) {
			if (_IOC_NR(cmd) == uapi_vhost_nrs[j]) {
				snprintf(why, sizeof(why),
					 "%s reuses VHOST_VIRTIO number 0x%02x",
					 uapi_host_ioctls[i].name,
					 uapi_vhost_nrs[j]);
				break;
			}
		}
#ifdef UAPI_HAVE_VHOST_H
		for (j = 0; j < UAPI_ARRAY_SIZE(uapi_vhost_cmds) && !why[0];
		     j++) {
			unsigned long v = uapi_vhost_cmds[j].cmd;

			if (_IOC_TYPE(v) != VHOST_VIRTIO)
				snprintf(why, sizeof(why),
					 "%s is not VHOST_VIRTIO",
					 uapi_vhost_cmds[j].name);
			else if (_IOC_NR(v) == _IOC_NR(cmd))
				snprintf(why, sizeof(why), "%s collides with %s",
					 uapi_host_ioctls[i].name,
					 uapi_vhost_cmds[j].name);
			else if (_IOC_NR(v) > UAPI_VHOST_CORE_LAST_NR)
				snprintf(why, sizeof(why),
					 "%s (0x%02x) is newer than this list",
					 uapi_vhost_cmds[j].name,
					 (unsigned int)_IOC_NR(v));
		}
#endif
	}
	uapi_result(!why[0], "host_ioctls_clear_of_vhost", why);
}

/*
 * The frame-size table of Documentation/virtio-dmabuf.rst, recomputed:
 * 32 bpp frames as 4 KiB pages, as a flat 8-byte PFN list, and as 2 MiB
 * ranges, and the EXPORT message each needs.  Also that the hard bound on
 * ranges admits even a fully fragmented 8K frame, while the default
 * max_ranges (16384) needs coalescing for it.
 */
static void uapi_test_size_table(void)
{
	static const struct {
		unsigned int w, h;
		unsigned long long pages, pfn_bytes, ranges_2m, msg_bytes;
	} t[] = {
		{ 1920, 1080, 2025, 16200, 4, 104 },
		{ 3840, 2160, 8100, 64800, 16, 296 },
		{ 7680, 4320, 32400, 259200, 64, 1064 },
	};
	char why[160] = "";
	size_t i;

	for (i = 0; i < UAPI_ARRAY_SIZE(t) && !why[0]; i++) {
		unsigned long long bytes = 4ULL * t[i].w * t[i].h;
		unsigned long long pages = (bytes + VIRTIO_VDMABUF_PAGE_SIZE - 1) /
					   VIRTIO_VDMABUF_PAGE_SIZE;
		unsigned long long r2m = (bytes + (2ULL << 20) - 1) >> 21;
		unsigned long long msg = sizeof(struct virtio_vdmabuf_export_req) +
			r2m * sizeof(struct virtio_vdmabuf_range);

		if (pages != t[i].pages || pages * 8 != t[i].pfn_bytes ||
		    r2m != t[i].ranges_2m || msg != t[i].msg_bytes)
			snprintf(why, sizeof(why), "%ux%u row is wrong",
				 t[i].w, t[i].h);
		else if (pages > VIRTIO_VDMABUF_MAX_RANGES)
			snprintf(why, sizeof(why),
				 "%ux%u fully fragmented exceeds the hard bound",
				 t[i].w, t[i].h);
	}
	if (!why[0] && t[2].pages <= 16384)
		snprintf(why, sizeof(why), "8K no longer needs coalescing");
	uapi_result(!why[0], "frame_size_table", why);
}

/*
 * The device computes an EXPORT's expected length in 64-bit arithmetic;
 * show that the largest values a guest can write cannot wrap it.
 */
static void uapi_test_length_no_overflow(void)
{
	__u64 nr = 0xffffffffULL, meta = 0xffffffffULL;
	__u64 len = sizeof(struct virtio_vdmabuf_export_req) +
		    nr * sizeof(struct virtio_vdmabuf_range) + meta;
	__u64 max_len = sizeof(struct virtio_vdmabuf_export_req) +
			(__u64)VIRTIO_VDMABUF_MAX_RANGES *
			sizeof(struct virtio_vdmabuf_range) +
			VIRTIO_VDMABUF_MAX_META;

	uapi_result(len > nr * sizeof(struct virtio_vdmabuf_range) &&
		    len == 0x1100000017ULL && max_len == 40 + 1048576 + 4096,
		    "export_length_arithmetic", "64-bit length wrapped");
}

#define UAPI_NR_TESTS	15

static int uapi_run_all(void)
{
	printf("TAP version 13\n1..%d\n", UAPI_NR_TESTS);
	uapi_test_export_bytes();
	uapi_test_present_bytes();
	uapi_test_resp_bytes();
	uapi_test_event_decode();
	uapi_test_config_decode();
	uapi_test_image_type();
	uapi_test_image_bytes();
	uapi_test_importer_records();
	uapi_test_event_max();
	uapi_test_ioctls_distinct();
	uapi_test_ioctl_ranges();
	uapi_test_host_clear_of_vhost();
	uapi_test_size_table();
	uapi_test_length_no_overflow();
	uapi_result(uapi_test_nr == UAPI_NR_TESTS - 1, "test_count",
		    "UAPI_NR_TESTS is out of date");
	printf("# %d failed\n", uapi_failed);
	return uapi_failed ? 1 : 0;
}

#endif /* UNIT_UAPI_RUNTIME_H */
