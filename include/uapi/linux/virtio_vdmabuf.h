/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * virtio-dmabuf: share guest dma-bufs with the host, zero copy.
 *
 * The virtio wire protocol of device ID VIRTIO_ID_DMABUF (37): config
 * space, requests, responses and events, all little-endian; and the image
 * metadata that producers attach to EXPORT and host consumers read back,
 * which the device passes on unchanged.  The guest's character-device API
 * is linux/vdmabuf.h; the host's, linux/vhost_vdmabuf.h.
 *
 * The normative text is Documentation/virtio-dmabuf.rst.
 */
#ifndef _UAPI_LINUX_VIRTIO_VDMABUF_H
#define _UAPI_LINUX_VIRTIO_VDMABUF_H

#include <linux/types.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_types.h>

/* Virtqueues */
#define VIRTIO_VDMABUF_VQ_REQ		0	/* driver -> device requests */
#define VIRTIO_VDMABUF_VQ_EVENT		1	/* device -> driver events */
#define VIRTIO_VDMABUF_VQ_MAX		2

/* Feature bits */
/* PRESENT requests and FRAME_DONE events are supported. */
#define VIRTIO_VDMABUF_F_PRESENT	0
/*
 * The device shows images on outputs (a display): struct
 * virtio_vdmabuf_outputs follows struct virtio_vdmabuf_config.
 */
#define VIRTIO_VDMABUF_F_OUTPUTS	1

/* Granule of every address and length on the wire. */
#define VIRTIO_VDMABUF_PAGE_SIZE	4096

/* Hard upper bounds; a device advertises limits at or below these. */
#define VIRTIO_VDMABUF_MAX_RANGES	65536
#define VIRTIO_VDMABUF_MAX_META		4096
#define VIRTIO_VDMABUF_MAX_RECTS	64
#define VIRTIO_VDMABUF_MAX_OUTPUTS	16

/**
 * struct virtio_vdmabuf_config - device configuration space (read-only)
 * @max_ranges: most ranges one EXPORT may carry (1..VIRTIO_VDMABUF_MAX_RANGES)
 * @max_meta_len: most metadata bytes one EXPORT may carry
 *	(0..VIRTIO_VDMABUF_MAX_META)
 * @max_exports: most live exports the device holds for this driver
 * @max_rects: most damage rectangles one PRESENT may carry
 *	(0..VIRTIO_VDMABUF_MAX_RECTS; 0 without VIRTIO_VDMABUF_F_PRESENT)
 * @max_export_size: largest total size of one export, in bytes
 * @max_total_size: largest sum of the sizes of all live exports, in bytes
 *
 * The driver reads the limits once after feature negotiation and rejects
 * requests beyond them locally, so a producer fails early with a clear errno.
 * The device still checks every request against the same limits.
 */
struct virtio_vdmabuf_config {
	__le32 max_ranges;
	__le32 max_meta_len;
	__le32 max_exports;
	__le32 max_rects;
	__le64 max_export_size;
	__le64 max_total_size;
};

/**
 * struct virtio_vdmabuf_output - one output of the device (read-only)
 * @width: the preferred width in pixels (1..VIRTIO_VDMABUF_IMAGE_MAX_DIM)
 * @height: the preferred height in pixels (1..VIRTIO_VDMABUF_IMAGE_MAX_DIM)
 * @flags: zero (none defined yet)
 * @reserved: zero
 *
 * An image whose metadata names the output (struct virtio_vdmabuf_image
 * .output) is shown on it, at its own size; the preferred size is the
 * one that fills the output without scaling (a window's, a monitor's).
 */
struct virtio_vdmabuf_output {
	__le32 width;
	__le32 height;
	__le32 flags;
	__le32 reserved;
};

/**
 * struct virtio_vdmabuf_outputs - the display's configuration
 * @num_outputs: outputs of the device (1..VIRTIO_VDMABUF_MAX_OUTPUTS)
 * @reserved: zero
 * @outputs: the first @num_outputs entries describe the outputs; the
 *	others are zero
 *
 * At offset sizeof(struct virtio_vdmabuf_config) (32) in the
 * configuration space, with VIRTIO_VDMABUF_F_OUTPUTS.  @num_outputs does
 * not change while the device is live; an output's size and flags may,
 * and the device then sends a configuration change notification, on
 * which the driver reads them again.
 */
struct virtio_vdmabuf_outputs {
	__le32 num_outputs;
	__le32 reserved;
	struct virtio_vdmabuf_output outputs[VIRTIO_VDMABUF_MAX_OUTPUTS];
};

/* Fixed: a later field of struct virtio_vdmabuf_config would go after these */
#define VIRTIO_VDMABUF_OUTPUTS_OFFSET	32

/* Request types (struct virtio_vdmabuf_req_hdr.type) */
#define VIRTIO_VDMABUF_REQ_EXPORT	1
#define VIRTIO_VDMABUF_REQ_UNEXPORT	2
#define VIRTIO_VDMABUF_REQ_PRESENT	3	/* needs VIRTIO_VDMABUF_F_PRESENT */

/**
 * struct virtio_vdmabuf_req_hdr - first bytes of every request
 * @type: VIRTIO_VDMABUF_REQ_*
 * @flags: must be zero
 * @uuid: the buffer's 128-bit ID, a version 4 UUID made by the driver
 */
struct virtio_vdmabuf_req_hdr {
	__le32 type;
	__le32 flags;
	__u8 uuid[16];
};

/**
 * struct virtio_vdmabuf_range - one contiguous run of guest-physical memory
 * @addr: guest-physical address, a multiple of VIRTIO_VDMABUF_PAGE_SIZE
 * @len: length in bytes, a non-zero multiple of VIRTIO_VDMABUF_PAGE_SIZE
 */
struct virtio_vdmabuf_range {
	__le64 addr;
	__le64 len;
};

/**
 * struct virtio_vdmabuf_export_req - EXPORT: share a buffer under a UUID
 * @hdr: type VIRTIO_VDMABUF_REQ_EXPORT, the new buffer's UUID
 * @size: total size in bytes; equals the sum of the ranges' lengths
 * @nr_ranges: number of ranges that follow (1..config.max_ranges)
 * @meta_len: bytes of opaque metadata after the ranges (0..config.max_meta_len)
 *
 * Followed in the device-readable part of the chain by @nr_ranges
 * struct virtio_vdmabuf_range, in buffer order, then @meta_len bytes of
 * metadata (for instance width, height, stride, fourcc and modifier) that
 * the device hands to host importers unchanged.
 */
struct virtio_vdmabuf_export_req {
	struct virtio_vdmabuf_req_hdr hdr;
	__le64 size;
	__le32 nr_ranges;
	__le32 meta_len;
};

/**
 * struct virtio_vdmabuf_rect - a damaged rectangle, in pixels
 * @x: left edge
 * @y: top edge
 * @width: width
 * @height: height
 */
struct virtio_vdmabuf_rect {
	__le32 x;
	__le32 y;
	__le32 width;
	__le32 height;
};

/**
 * struct virtio_vdmabuf_present_req - PRESENT: a new frame in a buffer
 * @hdr: type VIRTIO_VDMABUF_REQ_PRESENT, the UUID of a live export
 * @seq: the frame's sequence number, chosen by the driver, echoed in
 *	FRAME_DONE
 * @nr_rects: damage rectangles that follow (0..config.max_rects; 0 means
 *	the whole buffer)
 * @padding: must be zero
 *
 * Followed by @nr_rects struct virtio_vdmabuf_rect.
 */
struct virtio_vdmabuf_present_req {
	struct virtio_vdmabuf_req_hdr hdr;
	__le64 seq;
	__le32 nr_rects;
	__le32 padding;
};

/* Status codes (struct virtio_vdmabuf_resp.status) */
#define VIRTIO_VDMABUF_S_OK		0
#define VIRTIO_VDMABUF_S_INVALID	1	/* malformed request */
#define VIRTIO_VDMABUF_S_UNSUPPORTED	2	/* unknown type, feature not negotiated */
#define VIRTIO_VDMABUF_S_LIMIT		3	/* over an advertised limit */
#define VIRTIO_VDMABUF_S_EXISTS		4	/* UUID already exported */
#define VIRTIO_VDMABUF_S_NOENT		5	/* no live export by that UUID */
#define VIRTIO_VDMABUF_S_FAULT		6	/* a range is not guest RAM */
#define VIRTIO_VDMABUF_S_NOMEM		7	/* host out of memory or memlock */
#define VIRTIO_VDMABUF_S_BUSY		8	/* retry after reading events */

/**
 * struct virtio_vdmabuf_resp - the device-writable tail of every request
 * @status: VIRTIO_VDMABUF_S_*
 * @padding: written as zero
 */
struct virtio_vdmabuf_resp {
	__le32 status;
	__le32 padding;
};

/* Event types (struct virtio_vdmabuf_event.type) */
#define VIRTIO_VDMABUF_EVT_RELEASED	1
#define VIRTIO_VDMABUF_EVT_FRAME_DONE	2

/* Event flags */
/* FRAME_DONE: a later PRESENT of the same buffer replaced this frame. */
#define VIRTIO_VDMABUF_EVT_F_REPLACED	(1U << 0)

/**
 * struct virtio_vdmabuf_event - one event, device to driver
 * @type: VIRTIO_VDMABUF_EVT_*
 * @flags: VIRTIO_VDMABUF_EVT_F_*
 * @uuid: the buffer the event is about
 * @seq: FRAME_DONE: the @seq of the PRESENT it completes; otherwise zero
 *
 * RELEASED: the device holds no reference to the buffer's memory any more;
 * the driver may reuse or free it.  FRAME_DONE: every host user is done
 * with the frame presented under @seq; the producer may draw into the
 * buffer again.
 */
struct virtio_vdmabuf_event {
	__le32 type;
	__le32 flags;
	__u8 uuid[16];
	__le64 seq;
};

/* ---------------------------------------------------------------------- */
/* Image metadata                                                         */
/* ---------------------------------------------------------------------- */

/*
 * The device does not read metadata.  A producer that shares an image (a
 * frame to show, record or stream) sends one struct virtio_vdmabuf_image
 * as the whole of the EXPORT's metadata, and every consumer reads it the
 * same way.  Metadata whose first four bytes are not
 * VIRTIO_VDMABUF_META_IMAGE is some other type and stays opaque.
 */
#define VIRTIO_VDMABUF_META_IMAGE	0x474d4956U	/* "VIMG" */
#define VIRTIO_VDMABUF_IMAGE_VERSION	1
#define VIRTIO_VDMABUF_IMAGE_MAX_PLANES	4
#define VIRTIO_VDMABUF_IMAGE_MAX_DIM	32768

/* struct virtio_vdmabuf_image.flags */
/* Rows are stored bottom to top (OpenGL); without it the first is the top. */
#define VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP	(1U << 0)

/**
 * struct virtio_vdmabuf_image_plane - where one plane of an image lies
 * @offset: bytes from the start of the buffer to the plane's first row
 * @stride: bytes from the start of one row to the start of the next
 * @padding: zero; a reader of version 1 rejects an image where it is not
 */
struct virtio_vdmabuf_image_plane {
	__le64 offset;
	__le32 stride;
	__le32 padding;
};

/**
 * struct virtio_vdmabuf_image_color - colour information (reserved)
 * @reserved: zero in version 1, which means sRGB (BT.709 primaries, the
 *	sRGB transfer function, SDR luminance)
 *
 * Room for primaries, transfer function and mastering luminance (HDR),
 * which a later version defines here without changing the layout.  What
 * it defines changes how the pixels must be shown, so a reader that does
 * not know it cannot ignore it: a reader of version 1 treats an image
 * whose colour words are not all zero as one it cannot show correctly.
 */
struct virtio_vdmabuf_image_color {
	__le32 reserved[8];
};

/**
 * struct virtio_vdmabuf_image - image metadata (type VIRTIO_VDMABUF_META_IMAGE)
 * @type: VIRTIO_VDMABUF_META_IMAGE
 * @version: VIRTIO_VDMABUF_IMAGE_VERSION
 * @len: bytes of this struct as its writer knew it (136 in version 1)
 * @width: pixels per row (1..VIRTIO_VDMABUF_IMAGE_MAX_DIM)
 * @height: rows (1..VIRTIO_VDMABUF_IMAGE_MAX_DIM)
 * @fourcc: pixel format, a DRM fourcc (<drm/drm_fourcc.h>)
 * @flags: VIRTIO_VDMABUF_IMAGE_F_*
 * @modifier: DRM format modifier; 0 (DRM_FORMAT_MOD_LINEAR) for linear
 *	rows.  DRM_FORMAT_MOD_INVALID is not allowed: the layout is explicit
 * @output: the display output the image is meant for, 0 for the first
 * @nr_planes: planes of the format (1..VIRTIO_VDMABUF_IMAGE_MAX_PLANES);
 *	every byte of the planes past @nr_planes is zero
 * @planes: offset and stride of each plane, in the buffer
 * @color: colour information, zero (sRGB) in version 1
 *
 * All fields are little-endian.  A reader accepts any @version of at least
 * 1 whose @len is at least 136 (version 1's size) and at most the
 * metadata's length.  Within the first 136 bytes, every field a reader
 * does not know must be zero for it to use the image: a reader of version
 * 1 treats non-zero @color as an image it cannot show correctly, and
 * non-zero plane @padding or any non-zero byte in the planes past
 * @nr_planes as malformed, as it does an unknown bit in @flags.  A later
 * version may append fields past the first 136 bytes, raising @version
 * and @len, for information older readers can do without, which they
 * ignore; what a reader must understand to show the image goes into
 * @color (or into rules of the new version's own).  A writer writes zero
 * in every field it does not use.  A consumer checks an image before it
 * uses one (the rules are in Documentation/virtio-dmabuf.rst, "Image
 * metadata") and treats one that fails as not displayable.
 */
struct virtio_vdmabuf_image {
	__le32 type;
	__le16 version;
	__le16 len;
	__le32 width;
	__le32 height;
	__le32 fourcc;
	__le32 flags;
	__le64 modifier;
	__le32 output;
	__le32 nr_planes;
	struct virtio_vdmabuf_image_plane planes[VIRTIO_VDMABUF_IMAGE_MAX_PLANES];
	struct virtio_vdmabuf_image_color color;
};

#endif /* _UAPI_LINUX_VIRTIO_VDMABUF_H */
