/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compile-time checks of the vdmabuf UAPI: the size of every wire,
 * image metadata and ioctl struct, the offset and width of every field,
 * 8-byte alignment of every 64-bit field, and the type, number, direction
 * and size of every ioctl.  Shared by unit_uapi.c (C) and unit_uapi.cc
 * (C++); the includer pulls in the three UAPI headers
 * (<linux/virtio_vdmabuf.h>, <linux/vdmabuf.h>, <linux/vhost_vdmabuf.h>)
 * and <linux/virtio_ids.h> first.  Needs only <stddef.h>, so
 * unit_uapi_types.sh can also compile it freestanding with -m32 to prove
 * the layout is the same for 32-bit userspace.
 *
 * The expected numbers are written out literally on purpose: a change to
 * any of the headers that moves a field breaks the build here, and whoever
 * made it has to decide whether the ABI break is intended.
 */
#ifndef UNIT_UAPI_LAYOUT_H
#define UNIT_UAPI_LAYOUT_H

#include <stddef.h>

#ifndef _UAPI_LINUX_VIRTIO_VDMABUF_H
#error "include <linux/virtio_vdmabuf.h> before unit_uapi_layout.h"
#endif
#ifndef _UAPI_LINUX_VDMABUF_H
#error "include <linux/vdmabuf.h> before unit_uapi_layout.h"
#endif
#ifndef _UAPI_LINUX_VHOST_VDMABUF_H
#error "include <linux/vhost_vdmabuf.h> before unit_uapi_layout.h"
#endif
#ifndef VIRTIO_ID_DMABUF
#error "include <linux/virtio_ids.h> before unit_uapi_layout.h"
#endif

#if defined(__cplusplus)
#define UAPI_ASSERT(expr, msg)	static_assert(expr, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define UAPI_ASSERT(expr, msg)	_Static_assert(expr, msg)
#else
/* C99: gcc and clang accept C11 static assertions as an extension. */
#define UAPI_ASSERT(expr, msg)	__extension__ _Static_assert(expr, msg)
#endif

#define UAPI_FIELD_SIZE(type, field)	sizeof(((struct type *)0)->field)

/* Struct size; every struct is a multiple of 8, so i386 lays it out alike. */
#define UAPI_SIZE(type, size)						\
	UAPI_ASSERT(sizeof(struct type) == (size),			\
		    "sizeof(struct " #type ") != " #size);		\
	UAPI_ASSERT(sizeof(struct type) % 8 == 0,			\
		    "struct " #type " is not a multiple of 8 bytes")

/* A field: offset and width.  64-bit fields must sit at a multiple of 8. */
#define UAPI_FIELD(type, field, off, width)				\
	UAPI_ASSERT(offsetof(struct type, field) == (off),		\
		    "offsetof(" #type ", " #field ") != " #off);	\
	UAPI_ASSERT(UAPI_FIELD_SIZE(type, field) == (width),		\
		    "sizeof(" #type "." #field ") != " #width);		\
	UAPI_ASSERT((width) != 8 || (off) % 8 == 0,			\
		    #type "." #field ": 64-bit field not 8-aligned")

/* The last field ends exactly at the end of the struct: no tail padding. */
#define UAPI_END(type, off, width)					\
	UAPI_ASSERT(sizeof(struct type) == (off) + (width),		\
		    "struct " #type " has tail padding")

/* ioctl: magic, number, direction and argument size. */
#define UAPI_IOCTL(cmd, magic, nr, dir, type)				\
	UAPI_ASSERT(_IOC_TYPE(cmd) == (magic), #cmd ": wrong magic");	\
	UAPI_ASSERT(_IOC_NR(cmd) == (nr), #cmd ": wrong number");	\
	UAPI_ASSERT(_IOC_DIR(cmd) == (dir), #cmd ": wrong direction");	\
	UAPI_ASSERT(_IOC_SIZE(cmd) == sizeof(type), #cmd ": wrong size")

#define UAPI_RW	(_IOC_READ | _IOC_WRITE)

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

UAPI_ASSERT(VIRTIO_ID_DMABUF == 37, "virtio device ID");
UAPI_ASSERT(VIRTIO_VDMABUF_VQ_REQ == 0, "requestq index");
UAPI_ASSERT(VIRTIO_VDMABUF_VQ_EVENT == 1, "eventq index");
UAPI_ASSERT(VIRTIO_VDMABUF_VQ_MAX == 2, "number of virtqueues");
UAPI_ASSERT(VIRTIO_VDMABUF_F_PRESENT == 0, "feature bit");
UAPI_ASSERT(VIRTIO_VDMABUF_PAGE_SIZE == 4096, "wire granule");
UAPI_ASSERT(VIRTIO_VDMABUF_MAX_RANGES == 65536, "hard bound");
UAPI_ASSERT(VIRTIO_VDMABUF_MAX_META == 4096, "hard bound");
UAPI_ASSERT(VIRTIO_VDMABUF_MAX_META % 8 == 0, "metadata bound rounds to 8");
UAPI_ASSERT(VIRTIO_VDMABUF_MAX_RECTS == 64, "hard bound");
UAPI_ASSERT(VIRTIO_VDMABUF_REQ_EXPORT == 1 && VIRTIO_VDMABUF_REQ_UNEXPORT == 2 &&
	    VIRTIO_VDMABUF_REQ_PRESENT == 3, "request types");
UAPI_ASSERT(VIRTIO_VDMABUF_S_OK == 0 && VIRTIO_VDMABUF_S_INVALID == 1 &&
	    VIRTIO_VDMABUF_S_UNSUPPORTED == 2 && VIRTIO_VDMABUF_S_LIMIT == 3 &&
	    VIRTIO_VDMABUF_S_EXISTS == 4 && VIRTIO_VDMABUF_S_NOENT == 5 &&
	    VIRTIO_VDMABUF_S_FAULT == 6 && VIRTIO_VDMABUF_S_NOMEM == 7 &&
	    VIRTIO_VDMABUF_S_BUSY == 8, "status codes");
UAPI_ASSERT(VIRTIO_VDMABUF_EVT_RELEASED == 1 &&
	    VIRTIO_VDMABUF_EVT_FRAME_DONE == 2, "event types");
UAPI_ASSERT(VIRTIO_VDMABUF_EVT_F_REPLACED == 1, "event flags");
UAPI_ASSERT(VIRTIO_VDMABUF_META_IMAGE == 0x474d4956, "image metadata type");
UAPI_ASSERT(VIRTIO_VDMABUF_IMAGE_VERSION == 1, "image metadata version");
UAPI_ASSERT(VIRTIO_VDMABUF_IMAGE_MAX_PLANES == 4, "planes per image");
UAPI_ASSERT(VIRTIO_VDMABUF_IMAGE_MAX_DIM == 32768, "largest width, height");
UAPI_ASSERT(VIRTIO_VDMABUF_IMAGE_F_BOTTOM_UP == 1, "image flags");
UAPI_ASSERT(VDMABUF_EVENT_RELEASED == VIRTIO_VDMABUF_EVT_RELEASED &&
	    VDMABUF_EVENT_FRAME_DONE == VIRTIO_VDMABUF_EVT_FRAME_DONE &&
	    VDMABUF_EVENT_F_REPLACED == VIRTIO_VDMABUF_EVT_F_REPLACED,
	    "guest events mirror the wire");
UAPI_ASSERT(VDMABUF_FD_CLOEXEC == 1, "guest fd flag");
UAPI_ASSERT(VDMABUF_STATE_EXPORTED == 1 && VDMABUF_STATE_UNEXPORTED == 2,
	    "guest query states");
UAPI_ASSERT(VHOST_VDMABUF_FD_KEEP_ON_EXEC == 1, "host fd flag");
UAPI_ASSERT(VHOST_VDMABUF_STATE_LIVE == 1 &&
	    VHOST_VDMABUF_STATE_UNEXPORTED == 2, "host query states");
UAPI_ASSERT(VHOST_VDMABUF_EVENT_EXPORTED == 1 &&
	    VHOST_VDMABUF_EVENT_PRESENTED == 2 &&
	    VHOST_VDMABUF_EVENT_UNEXPORTED == 3, "importer event types");
UAPI_ASSERT(VHOST_VDMABUF_EVENT_F_OWED == 1, "importer event flags");
UAPI_ASSERT(VHOST_VDMABUF_FRAMES_JOIN == 1 &&
	    VHOST_VDMABUF_FRAMES_LEAVE == 2 &&
	    VHOST_VDMABUF_FRAMES_F_ALL == 1, "frames ops and flags");

/* One read() buffer of VHOST_VDMABUF_EVENT_MAX holds any record. */
UAPI_ASSERT(VHOST_VDMABUF_EVENT_MAX == 64 + 4096, "importer record bound");
UAPI_ASSERT(VHOST_VDMABUF_EVENT_MAX % 8 == 0, "record bound is 8-aligned");
UAPI_ASSERT(VHOST_VDMABUF_EVENT_MAX >= sizeof(struct vhost_vdmabuf_event) +
	    VIRTIO_VDMABUF_MAX_RECTS * sizeof(struct vhost_vdmabuf_rect),
	    "a PRESENTED record with the most rects fits");

/* The eventq buffer is exactly one event. */
UAPI_ASSERT(sizeof(struct virtio_vdmabuf_event) == 32, "eventq buffer size");

/* Image metadata fits within the hard bound on metadata. */
UAPI_ASSERT(sizeof(struct virtio_vdmabuf_image) <= VIRTIO_VDMABUF_MAX_META,
	    "image metadata fits the metadata bound");

/* ------------------------------------------------------------------ */
/* Wire protocol (little-endian)                                       */
/* ------------------------------------------------------------------ */

UAPI_SIZE(virtio_vdmabuf_config, 32);
UAPI_FIELD(virtio_vdmabuf_config, max_ranges, 0, 4);
UAPI_FIELD(virtio_vdmabuf_config, max_meta_len, 4, 4);
UAPI_FIELD(virtio_vdmabuf_config, max_exports, 8, 4);
UAPI_FIELD(virtio_vdmabuf_config, max_rects, 12, 4);
UAPI_FIELD(virtio_vdmabuf_config, max_export_size, 16, 8);
UAPI_FIELD(virtio_vdmabuf_config, max_total_size, 24, 8);
UAPI_END(virtio_vdmabuf_config, 24, 8);

UAPI_SIZE(virtio_vdmabuf_output, 16);
UAPI_FIELD(virtio_vdmabuf_output, width, 0, 4);
UAPI_FIELD(virtio_vdmabuf_output, height, 4, 4);
UAPI_FIELD(virtio_vdmabuf_output, flags, 8, 4);
UAPI_FIELD(virtio_vdmabuf_output, reserved, 12, 4);
UAPI_END(virtio_vdmabuf_output, 12, 4);

UAPI_SIZE(virtio_vdmabuf_outputs, 264);
UAPI_FIELD(virtio_vdmabuf_outputs, num_outputs, 0, 4);
UAPI_FIELD(virtio_vdmabuf_outputs, reserved, 4, 4);
UAPI_FIELD(virtio_vdmabuf_outputs, outputs, 8, 256);
UAPI_END(virtio_vdmabuf_outputs, 8, 256);
UAPI_ASSERT(VIRTIO_VDMABUF_OUTPUTS_OFFSET == 32,
	    "the outputs follow the 32 bytes of struct virtio_vdmabuf_config");

UAPI_SIZE(virtio_vdmabuf_req_hdr, 24);
UAPI_FIELD(virtio_vdmabuf_req_hdr, type, 0, 4);
UAPI_FIELD(virtio_vdmabuf_req_hdr, flags, 4, 4);
UAPI_FIELD(virtio_vdmabuf_req_hdr, uuid, 8, 16);
UAPI_END(virtio_vdmabuf_req_hdr, 8, 16);

UAPI_SIZE(virtio_vdmabuf_range, 16);
UAPI_FIELD(virtio_vdmabuf_range, addr, 0, 8);
UAPI_FIELD(virtio_vdmabuf_range, len, 8, 8);
UAPI_END(virtio_vdmabuf_range, 8, 8);

UAPI_SIZE(virtio_vdmabuf_export_req, 40);
UAPI_FIELD(virtio_vdmabuf_export_req, hdr, 0, 24);
UAPI_FIELD(virtio_vdmabuf_export_req, size, 24, 8);
UAPI_FIELD(virtio_vdmabuf_export_req, nr_ranges, 32, 4);
UAPI_FIELD(virtio_vdmabuf_export_req, meta_len, 36, 4);
UAPI_END(virtio_vdmabuf_export_req, 36, 4);

UAPI_SIZE(virtio_vdmabuf_rect, 16);
UAPI_FIELD(virtio_vdmabuf_rect, x, 0, 4);
UAPI_FIELD(virtio_vdmabuf_rect, y, 4, 4);
UAPI_FIELD(virtio_vdmabuf_rect, width, 8, 4);
UAPI_FIELD(virtio_vdmabuf_rect, height, 12, 4);
UAPI_END(virtio_vdmabuf_rect, 12, 4);

UAPI_SIZE(virtio_vdmabuf_present_req, 40);
UAPI_FIELD(virtio_vdmabuf_present_req, hdr, 0, 24);
UAPI_FIELD(virtio_vdmabuf_present_req, seq, 24, 8);
UAPI_FIELD(virtio_vdmabuf_present_req, nr_rects, 32, 4);
UAPI_FIELD(virtio_vdmabuf_present_req, padding, 36, 4);
UAPI_END(virtio_vdmabuf_present_req, 36, 4);

UAPI_SIZE(virtio_vdmabuf_resp, 8);
UAPI_FIELD(virtio_vdmabuf_resp, status, 0, 4);
UAPI_FIELD(virtio_vdmabuf_resp, padding, 4, 4);
UAPI_END(virtio_vdmabuf_resp, 4, 4);

UAPI_SIZE(virtio_vdmabuf_event, 32);
UAPI_FIELD(virtio_vdmabuf_event, type, 0, 4);
UAPI_FIELD(virtio_vdmabuf_event, flags, 4, 4);
UAPI_FIELD(virtio_vdmabuf_event, uuid, 8, 16);
UAPI_FIELD(virtio_vdmabuf_event, seq, 24, 8);
UAPI_END(virtio_vdmabuf_event, 24, 8);

/* ------------------------------------------------------------------ */
/* Image metadata (little-endian)                                      */
/* ------------------------------------------------------------------ */

UAPI_SIZE(virtio_vdmabuf_image_plane, 16);
UAPI_FIELD(virtio_vdmabuf_image_plane, offset, 0, 8);
UAPI_FIELD(virtio_vdmabuf_image_plane, stride, 8, 4);
UAPI_FIELD(virtio_vdmabuf_image_plane, padding, 12, 4);
UAPI_END(virtio_vdmabuf_image_plane, 12, 4);

UAPI_SIZE(virtio_vdmabuf_image_color, 32);
UAPI_FIELD(virtio_vdmabuf_image_color, reserved, 0, 32);
UAPI_END(virtio_vdmabuf_image_color, 0, 32);

UAPI_SIZE(virtio_vdmabuf_image, 136);
UAPI_FIELD(virtio_vdmabuf_image, type, 0, 4);
UAPI_FIELD(virtio_vdmabuf_image, version, 4, 2);
UAPI_FIELD(virtio_vdmabuf_image, len, 6, 2);
UAPI_FIELD(virtio_vdmabuf_image, width, 8, 4);
UAPI_FIELD(virtio_vdmabuf_image, height, 12, 4);
UAPI_FIELD(virtio_vdmabuf_image, fourcc, 16, 4);
UAPI_FIELD(virtio_vdmabuf_image, flags, 20, 4);
UAPI_FIELD(virtio_vdmabuf_image, modifier, 24, 8);
UAPI_FIELD(virtio_vdmabuf_image, output, 32, 4);
UAPI_FIELD(virtio_vdmabuf_image, nr_planes, 36, 4);
UAPI_FIELD(virtio_vdmabuf_image, planes, 40, 64);
UAPI_FIELD(virtio_vdmabuf_image, planes[0], 40, 16);
UAPI_FIELD(virtio_vdmabuf_image, planes[1], 56, 16);
UAPI_FIELD(virtio_vdmabuf_image, planes[2], 72, 16);
UAPI_FIELD(virtio_vdmabuf_image, planes[3], 88, 16);
UAPI_FIELD(virtio_vdmabuf_image, planes[3].offset, 88, 8);
UAPI_FIELD(virtio_vdmabuf_image, color, 104, 32);
UAPI_END(virtio_vdmabuf_image, 104, 32);

/* ------------------------------------------------------------------ */
/* Guest UAPI: /dev/virtio-vdmabuf (<linux/vdmabuf.h>)                 */
/* ------------------------------------------------------------------ */

UAPI_SIZE(vdmabuf_alloc, 16);
UAPI_FIELD(vdmabuf_alloc, size, 0, 8);
UAPI_FIELD(vdmabuf_alloc, flags, 8, 4);
UAPI_FIELD(vdmabuf_alloc, fd, 12, 4);
UAPI_END(vdmabuf_alloc, 12, 4);

UAPI_SIZE(vdmabuf_export, 48);
UAPI_FIELD(vdmabuf_export, fd, 0, 4);
UAPI_FIELD(vdmabuf_export, flags, 4, 4);
UAPI_FIELD(vdmabuf_export, meta_len, 8, 4);
UAPI_FIELD(vdmabuf_export, nr_ranges, 12, 4);
UAPI_FIELD(vdmabuf_export, meta_ptr, 16, 8);
UAPI_FIELD(vdmabuf_export, size, 24, 8);
UAPI_FIELD(vdmabuf_export, uuid, 32, 16);
UAPI_END(vdmabuf_export, 32, 16);

UAPI_SIZE(vdmabuf_unexport, 24);
UAPI_FIELD(vdmabuf_unexport, uuid, 0, 16);
UAPI_FIELD(vdmabuf_unexport, flags, 16, 4);
UAPI_FIELD(vdmabuf_unexport, padding, 20, 4);
UAPI_END(vdmabuf_unexport, 20, 4);

UAPI_SIZE(vdmabuf_rect, 16);
UAPI_FIELD(vdmabuf_rect, x, 0, 4);
UAPI_FIELD(vdmabuf_rect, y, 4, 4);
UAPI_FIELD(vdmabuf_rect, width, 8, 4);
UAPI_FIELD(vdmabuf_rect, height, 12, 4);
UAPI_END(vdmabuf_rect, 12, 4);

UAPI_SIZE(vdmabuf_present, 40);
UAPI_FIELD(vdmabuf_present, uuid, 0, 16);
UAPI_FIELD(vdmabuf_present, seq, 16, 8);
UAPI_FIELD(vdmabuf_present, nr_rects, 24, 4);
UAPI_FIELD(vdmabuf_present, flags, 28, 4);
UAPI_FIELD(vdmabuf_present, rects_ptr, 32, 8);
UAPI_END(vdmabuf_present, 32, 8);

UAPI_SIZE(vdmabuf_query, 40);
UAPI_FIELD(vdmabuf_query, uuid, 0, 16);
UAPI_FIELD(vdmabuf_query, state, 16, 4);
UAPI_FIELD(vdmabuf_query, nr_ranges, 20, 4);
UAPI_FIELD(vdmabuf_query, size, 24, 8);
UAPI_FIELD(vdmabuf_query, frames_pending, 32, 4);
UAPI_FIELD(vdmabuf_query, padding, 36, 4);
UAPI_END(vdmabuf_query, 36, 4);

UAPI_SIZE(vdmabuf_info, 72);
UAPI_FIELD(vdmabuf_info, features, 0, 8);
UAPI_FIELD(vdmabuf_info, max_ranges, 8, 4);
UAPI_FIELD(vdmabuf_info, max_meta_len, 12, 4);
UAPI_FIELD(vdmabuf_info, max_exports, 16, 4);
UAPI_FIELD(vdmabuf_info, max_rects, 20, 4);
UAPI_FIELD(vdmabuf_info, max_export_size, 24, 8);
UAPI_FIELD(vdmabuf_info, max_total_size, 32, 8);
UAPI_FIELD(vdmabuf_info, live_exports, 40, 8);
UAPI_FIELD(vdmabuf_info, live_bytes, 48, 8);
UAPI_FIELD(vdmabuf_info, alloc_bytes, 56, 8);
UAPI_FIELD(vdmabuf_info, max_events, 64, 4);
UAPI_FIELD(vdmabuf_info, queued_events, 68, 4);
UAPI_END(vdmabuf_info, 68, 4);

UAPI_SIZE(vdmabuf_output, 8);
UAPI_FIELD(vdmabuf_output, width, 0, 4);
UAPI_FIELD(vdmabuf_output, height, 4, 4);
UAPI_END(vdmabuf_output, 4, 4);

UAPI_SIZE(vdmabuf_outputs, 136);
UAPI_FIELD(vdmabuf_outputs, nr_outputs, 0, 4);
UAPI_FIELD(vdmabuf_outputs, generation, 4, 4);
UAPI_FIELD(vdmabuf_outputs, outputs, 8, 128);
UAPI_END(vdmabuf_outputs, 8, 128);
UAPI_ASSERT(VDMABUF_MAX_OUTPUTS == VIRTIO_VDMABUF_MAX_OUTPUTS,
	    "the guest lists as many outputs as the wire has");

UAPI_SIZE(vdmabuf_event, 32);
UAPI_FIELD(vdmabuf_event, type, 0, 4);
UAPI_FIELD(vdmabuf_event, flags, 4, 4);
UAPI_FIELD(vdmabuf_event, uuid, 8, 16);
UAPI_FIELD(vdmabuf_event, seq, 24, 8);
UAPI_END(vdmabuf_event, 24, 8);

/* The guest's event record and rect mirror the wire's field for field. */
UAPI_ASSERT(sizeof(struct vdmabuf_event) == sizeof(struct virtio_vdmabuf_event),
	    "guest event mirrors the wire event");
UAPI_ASSERT(sizeof(struct vdmabuf_rect) == sizeof(struct virtio_vdmabuf_rect),
	    "guest rect mirrors the wire rect");

/* ------------------------------------------------------------------ */
/* Host UAPI: /dev/vhost-vdmabuf and the importer fd                    */
/* ------------------------------------------------------------------ */

UAPI_SIZE(vhost_vdmabuf_importer, 8);
UAPI_FIELD(vhost_vdmabuf_importer, flags, 0, 4);
UAPI_FIELD(vhost_vdmabuf_importer, fd, 4, 4);
UAPI_END(vhost_vdmabuf_importer, 4, 4);

UAPI_SIZE(vhost_vdmabuf_stats, 80);
UAPI_FIELD(vhost_vdmabuf_stats, live_exports, 0, 8);
UAPI_FIELD(vhost_vdmabuf_stats, held_exports, 8, 8);
UAPI_FIELD(vhost_vdmabuf_stats, pinned_pages, 16, 8);
UAPI_FIELD(vhost_vdmabuf_stats, charged_pages, 24, 8);
UAPI_FIELD(vhost_vdmabuf_stats, host_dmabufs, 32, 8);
UAPI_FIELD(vhost_vdmabuf_stats, importers, 40, 8);
UAPI_FIELD(vhost_vdmabuf_stats, guest_events, 48, 8);
UAPI_FIELD(vhost_vdmabuf_stats, requests, 56, 8);
UAPI_FIELD(vhost_vdmabuf_stats, bad_requests, 64, 8);
UAPI_FIELD(vhost_vdmabuf_stats, pinned_attachments, 72, 8);
UAPI_END(vhost_vdmabuf_stats, 72, 8);

UAPI_SIZE(vhost_vdmabuf_limits, 40);
UAPI_FIELD(vhost_vdmabuf_limits, flags, 0, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_ranges, 4, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_meta_len, 8, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_exports, 12, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_rects, 16, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_export_mb, 20, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_total_mb, 24, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_importer_events, 28, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_guest_events, 32, 4);
UAPI_FIELD(vhost_vdmabuf_limits, max_importers, 36, 4);
UAPI_END(vhost_vdmabuf_limits, 36, 4);

UAPI_SIZE(vhost_vdmabuf_import, 32);
UAPI_FIELD(vhost_vdmabuf_import, uuid, 0, 16);
UAPI_FIELD(vhost_vdmabuf_import, flags, 16, 4);
UAPI_FIELD(vhost_vdmabuf_import, fd, 20, 4);
UAPI_FIELD(vhost_vdmabuf_import, size, 24, 8);
UAPI_END(vhost_vdmabuf_import, 24, 8);

UAPI_SIZE(vhost_vdmabuf_frame_done, 32);
UAPI_FIELD(vhost_vdmabuf_frame_done, uuid, 0, 16);
UAPI_FIELD(vhost_vdmabuf_frame_done, frame, 16, 8);
UAPI_FIELD(vhost_vdmabuf_frame_done, flags, 24, 4);
UAPI_FIELD(vhost_vdmabuf_frame_done, padding, 28, 4);
UAPI_END(vhost_vdmabuf_frame_done, 28, 4);

UAPI_SIZE(vhost_vdmabuf_frames, 24);
UAPI_FIELD(vhost_vdmabuf_frames, uuid, 0, 16);
UAPI_FIELD(vhost_vdmabuf_frames, op, 16, 4);
UAPI_FIELD(vhost_vdmabuf_frames, flags, 20, 4);
UAPI_END(vhost_vdmabuf_frames, 20, 4);

UAPI_SIZE(vhost_vdmabuf_query, 72);
UAPI_FIELD(vhost_vdmabuf_query, uuid, 0, 16);
UAPI_FIELD(vhost_vdmabuf_query, meta_ptr, 16, 8);
UAPI_FIELD(vhost_vdmabuf_query, meta_size, 24, 4);
UAPI_FIELD(vhost_vdmabuf_query, meta_len, 28, 4);
UAPI_FIELD(vhost_vdmabuf_query, size, 32, 8);
UAPI_FIELD(vhost_vdmabuf_query, nr_ranges, 40, 4);
UAPI_FIELD(vhost_vdmabuf_query, state, 44, 4);
UAPI_FIELD(vhost_vdmabuf_query, last_seq, 48, 8);
UAPI_FIELD(vhost_vdmabuf_query, last_frame, 56, 8);
UAPI_FIELD(vhost_vdmabuf_query, flags, 64, 4);
UAPI_FIELD(vhost_vdmabuf_query, padding, 68, 4);
UAPI_END(vhost_vdmabuf_query, 68, 4);

UAPI_SIZE(vhost_vdmabuf_rect, 16);
UAPI_FIELD(vhost_vdmabuf_rect, x, 0, 4);
UAPI_FIELD(vhost_vdmabuf_rect, y, 4, 4);
UAPI_FIELD(vhost_vdmabuf_rect, width, 8, 4);
UAPI_FIELD(vhost_vdmabuf_rect, height, 12, 4);
UAPI_END(vhost_vdmabuf_rect, 12, 4);

UAPI_SIZE(vhost_vdmabuf_event, 64);
UAPI_FIELD(vhost_vdmabuf_event, type, 0, 4);
UAPI_FIELD(vhost_vdmabuf_event, len, 4, 4);
UAPI_FIELD(vhost_vdmabuf_event, uuid, 8, 16);
UAPI_FIELD(vhost_vdmabuf_event, size, 24, 8);
UAPI_FIELD(vhost_vdmabuf_event, seq, 32, 8);
UAPI_FIELD(vhost_vdmabuf_event, payload_len, 40, 4);
UAPI_FIELD(vhost_vdmabuf_event, flags, 44, 4);
UAPI_FIELD(vhost_vdmabuf_event, frame, 48, 8);
UAPI_FIELD(vhost_vdmabuf_event, nr_frames, 56, 4);
UAPI_FIELD(vhost_vdmabuf_event, padding, 60, 4);
UAPI_END(vhost_vdmabuf_event, 60, 4);

/* ------------------------------------------------------------------ */
/* ioctl numbers                                                        */
/* ------------------------------------------------------------------ */

UAPI_ASSERT(VDMABUF_IOCTL_BASE == 0xB9, "guest ioctl magic");
UAPI_ASSERT(VHOST_VIRTIO == 0xAF, "vhost ioctl magic");

/* Guest: magic 0xB9, numbers 0x00-0x1f. */
UAPI_IOCTL(VDMABUF_IOCTL_ALLOC, 0xB9, 0x00, UAPI_RW, struct vdmabuf_alloc);
UAPI_IOCTL(VDMABUF_IOCTL_EXPORT, 0xB9, 0x01, UAPI_RW, struct vdmabuf_export);
UAPI_IOCTL(VDMABUF_IOCTL_UNEXPORT, 0xB9, 0x02, _IOC_WRITE,
	   struct vdmabuf_unexport);
UAPI_IOCTL(VDMABUF_IOCTL_PRESENT, 0xB9, 0x03, _IOC_WRITE,
	   struct vdmabuf_present);
UAPI_IOCTL(VDMABUF_IOCTL_QUERY, 0xB9, 0x04, UAPI_RW, struct vdmabuf_query);
UAPI_IOCTL(VDMABUF_IOCTL_INFO, 0xB9, 0x05, _IOC_READ, struct vdmabuf_info);
UAPI_IOCTL(VDMABUF_IOCTL_OUTPUTS, 0xB9, 0x06, _IOC_READ, struct vdmabuf_outputs);

/* Host: VHOST_VIRTIO, numbers 0xd0-0xdf, clear of every VHOST_* (<= 0x85). */
UAPI_IOCTL(VHOST_VDMABUF_GET_CONFIG, 0xAF, 0xd0, _IOC_READ,
	   struct virtio_vdmabuf_config);
UAPI_IOCTL(VHOST_VDMABUF_SET_RUNNING, 0xAF, 0xd1, _IOC_WRITE, __u32);
UAPI_IOCTL(VHOST_VDMABUF_GET_IMPORTER, 0xAF, 0xd2, UAPI_RW,
	   struct vhost_vdmabuf_importer);
UAPI_IOCTL(VHOST_VDMABUF_GET_STATS, 0xAF, 0xd3, _IOC_READ,
	   struct vhost_vdmabuf_stats);
UAPI_IOCTL(VHOST_VDMABUF_GET_LIMITS, 0xAF, 0xd4, _IOC_READ,
	   struct vhost_vdmabuf_limits);
UAPI_IOCTL(VHOST_VDMABUF_SET_LIMITS, 0xAF, 0xd5, _IOC_WRITE,
	   struct vhost_vdmabuf_limits);
UAPI_ASSERT(_IOC_TYPE(VHOST_VDMABUF_RESET_DEVICE) == 0xAF &&
	    _IOC_NR(VHOST_VDMABUF_RESET_DEVICE) == 0xd6 &&
	    _IOC_DIR(VHOST_VDMABUF_RESET_DEVICE) == _IOC_NONE &&
	    _IOC_SIZE(VHOST_VDMABUF_RESET_DEVICE) == 0,
	    "VHOST_VDMABUF_RESET_DEVICE: wrong number");
UAPI_IOCTL(VHOST_VDMABUF_IMPORT, 0xAF, 0xd8, UAPI_RW,
	   struct vhost_vdmabuf_import);
UAPI_IOCTL(VHOST_VDMABUF_FRAME_DONE, 0xAF, 0xd9, _IOC_WRITE,
	   struct vhost_vdmabuf_frame_done);
UAPI_IOCTL(VHOST_VDMABUF_QUERY, 0xAF, 0xda, UAPI_RW,
	   struct vhost_vdmabuf_query);
UAPI_IOCTL(VHOST_VDMABUF_FRAMES, 0xAF, 0xdb, _IOC_WRITE,
	   struct vhost_vdmabuf_frames);

/* The highest VHOST_VIRTIO number in the newest vhost.h known to us. */
#define UAPI_VHOST_CORE_LAST_NR	0x85
UAPI_ASSERT(_IOC_NR(VHOST_VDMABUF_GET_CONFIG) > UAPI_VHOST_CORE_LAST_NR &&
	    _IOC_NR(VHOST_VDMABUF_IMPORT) > UAPI_VHOST_CORE_LAST_NR,
	    "host numbers above every VHOST_* number");

#endif /* UNIT_UAPI_LAYOUT_H */
