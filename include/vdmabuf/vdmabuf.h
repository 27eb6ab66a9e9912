/* SPDX-License-Identifier: MIT */
/*
 * libvdmabuf: share dma-bufs from a KVM guest with its host, zero copy.
 *
 * Guest side (producers): open /dev/virtio-vdmabuf, allocate or bring any
 * dma-buf, export it with metadata (an image description, for frames),
 * present frames with damage, unexport, and read FRAME_DONE and RELEASED
 * events.  Host side (consumers): get an importer fd for a VM (from QEMU's
 * importer socket, or one passed in), read EXPORTED / PRESENTED /
 * UNEXPORTED events, import a buffer by UUID, say when a frame is done.
 *
 * Rules for every call:
 *  - the return value is 0 (or a count or fd where documented) on success
 *    and a negative errno on failure; nothing prints, exits or aborts;
 *  - file descriptors the library returns are close-on-exec and belong to
 *    the caller; handles (struct vdmabuf_dev, struct vdmabuf_importer) are
 *    opaque and freed with their close call;
 *  - threads: calls on different handles never interfere.  The calls that
 *    only issue an ioctl (alloc, export, unexport, present, query, info,
 *    import, frame_done, frames) may run on one handle from several threads at
 *    once.  The event calls (*_next_event) keep a read position in the
 *    handle: only one thread at a time may call them on a handle, and the
 *    event they return stays valid only until that thread's next call;
 *  - the *_fd() calls give the pollable file descriptor: POLLIN means an
 *    event is waiting; integrate it in any main loop and, when it fires,
 *    call *_next_event() with a timeout of 0 until it returns -EAGAIN (one
 *    read() can bring many events, and the fd does not fire again for the
 *    ones the library already holds).
 *
 * ABI: every symbol is in the LIBVDMABUF_0.1 version node and the soname
 * is libvdmabuf.so.0.  The kernel UAPI structs the library passes through
 * unchanged (struct vdmabuf_info, vdmabuf_query, vdmabuf_event and
 * vdmabuf_rect of <linux/vdmabuf.h>) are fixed by their ioctls: they never
 * change, and an extension is a new ioctl and a new library call.  The
 * library's own structs that callers allocate (struct vdmabuf_image,
 * vdmabuf_exported, vdmabuf_host_event, vdmabuf_buffer_info) end in
 * reserved space: within one soname they grow only into it, never in
 * size.  Callers set reserved fields to zero (or the whole struct, before
 * filling it); the library writes zeros there in what it fills.
 *
 * The kernel interfaces underneath are <linux/vdmabuf.h> (guest),
 * <linux/vhost_vdmabuf.h> (host) and <linux/virtio_vdmabuf.h> (the wire
 * protocol and image metadata), installed with this header.  Manual:
 * libvdmabuf(3).
 */
#ifndef VDMABUF_VDMABUF_H
#define VDMABUF_VDMABUF_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vdmabuf.h>
#include <linux/vhost_vdmabuf.h>
#include <linux/virtio_vdmabuf.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBVDMABUF_VERSION_MAJOR	0
#define LIBVDMABUF_VERSION_MINOR	1
#define LIBVDMABUF_VERSION_MICRO	0

/**
 * vdmabuf_version() - the library's version, "MAJOR.MINOR.MICRO"
 *
 * Return: a static string.
 */
const char *vdmabuf_version(void);

/* ------------------------------------------------------------------ */
/* UUIDs                                                               */
/* ------------------------------------------------------------------ */

/**
 * struct vdmabuf_uuid - a buffer's 128-bit ID, as the wire carries it
 * @b: the 16 bytes, in the order of the text form
 */
struct vdmabuf_uuid {
	uint8_t b[16];
};

/* Characters of a UUID's text form, with its terminating NUL. */
#define VDMABUF_UUID_STR_LEN	37

/**
 * vdmabuf_uuid_format() - text form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
 * @uuid: the UUID
 * @out: VDMABUF_UUID_STR_LEN bytes
 *
 * Return: @out.
 */
char *vdmabuf_uuid_format(const struct vdmabuf_uuid *uuid, char *out);

/**
 * vdmabuf_uuid_parse() - parse the text form (either case, hyphens as above)
 * @str: the text, nothing after it
 * @uuid: the result
 *
 * Return: 0, or -EINVAL if @str is not a UUID.
 */
int vdmabuf_uuid_parse(const char *str, struct vdmabuf_uuid *uuid);

/* ------------------------------------------------------------------ */
/* Pixel formats and image metadata                                    */
/* ------------------------------------------------------------------ */

/**
 * struct vdmabuf_format - what the library knows of a DRM fourcc
 * @fourcc: DRM_FORMAT_* code
 * @name: the four characters, NUL-terminated ("XR24")
 * @nr_planes: planes (1..VIRTIO_VDMABUF_IMAGE_MAX_PLANES)
 * @cpp: bytes per pixel of each plane (a block of one pixel)
 * @hsub: horizontal subsampling of planes after the first (1: none)
 * @vsub: vertical subsampling of planes after the first (1: none)
 * @depth: bits of colour per component (8, 10, 16), 0 for YUV formats
 * @has_alpha: the format carries alpha
 * @is_float: components are half floats
 * @is_yuv: a YUV format
 */
struct vdmabuf_format {
	uint32_t fourcc;
	char name[5];
	uint8_t nr_planes;
	uint8_t cpp[VIRTIO_VDMABUF_IMAGE_MAX_PLANES];
	uint8_t hsub;
	uint8_t vsub;
	uint8_t depth;
	uint8_t has_alpha;
	uint8_t is_float;
	uint8_t is_yuv;
};

/**
 * vdmabuf_format_lookup() - what the library knows of @fourcc
 * @fourcc: a DRM fourcc
 *
 * The table holds the common RGB formats (8-bit, RGB565, 2101010, FP16)
 * and NV12; see libvdmabuf(3).
 *
 * Return: a static entry, or NULL for a format the library does not know.
 */
const struct vdmabuf_format *vdmabuf_format_lookup(uint32_t fourcc);

/**
 * vdmabuf_fourcc_name() - the four characters of @fourcc, printable
 * @fourcc: any 32-bit code
 * @out: 5 bytes; a byte that is not printable ASCII becomes '?'
 *
 * Return: @out.
 */
char *vdmabuf_fourcc_name(uint32_t fourcc, char *out);

/**
 * struct vdmabuf_image_plane - one plane of a decoded image
 * @offset: bytes from the start of the buffer
 * @stride: bytes from one row to the next
 */
struct vdmabuf_image_plane {
	uint64_t offset;
	uint32_t stride;
};

/**
 * struct vdmabuf_image - image metadata in host byte order
 * @width: pixels per row
 * @height: rows
 * @fourcc: DRM fourcc
 * @flags: VIRTIO_VDMABUF_IMAGE_F_*
 * @modifier: DRM format modifier, 0 for linear
 * @output: the output the image is meant for
 * @nr_planes: planes in use
 * @planes: their offsets and strides
 * @version: the version of the metadata it was decoded from (decode only)
 * @color: the wire's colour words (struct virtio_vdmabuf_image_color) in
 *	host order; all zero means sRGB, the only colour version 1 defines.
 *	Filled by decode; zero for encode
 * @reserved: zero; set to zero by callers (vdmabuf_image_init() does)
 *
 * The wire form is struct virtio_vdmabuf_image (little-endian); encode and
 * decode convert.  Seven reserved words keep the struct free of padding at
 * its end.
 */
struct vdmabuf_image {
	uint32_t width;
	uint32_t height;
	uint32_t fourcc;
	uint32_t flags;
	uint64_t modifier;
	uint32_t output;
	uint32_t nr_planes;
	struct vdmabuf_image_plane planes[VIRTIO_VDMABUF_IMAGE_MAX_PLANES];
	uint32_t version;
	uint32_t color[8];
	uint32_t reserved[7];
};

/**
 * vdmabuf_image_init() - describe a linear image with tightly packed rows
 * @img: filled in
 * @width: pixels per row
 * @height: rows
 * @fourcc: a format vdmabuf_format_lookup() knows
 *
 * Planes follow each other; each stride is the row's bytes rounded up to
 * a multiple of 64.  Every other field of @img is zeroed: @img->output is
 * 0 (set it for another output), the colour sRGB.
 *
 * Return: the buffer size the image needs, rounded up to the page size
 * (sysconf(_SC_PAGESIZE), at least 4096 bytes: the guest driver's
 * vdmabuf_dev_alloc() needs a multiple of the guest's page size), or a
 * negative errno: -EINVAL for a NULL @img or a zero or too large
 * dimension, -ENOTSUP for a format the library does not know.
 */
int64_t vdmabuf_image_init(struct vdmabuf_image *img, uint32_t width,
			   uint32_t height, uint32_t fourcc);

/**
 * vdmabuf_image_validate() - check an image against a buffer
 * @img: the image
 * @buf_size: the buffer's size in bytes
 *
 * Checks the rules of Documentation/virtio-dmabuf.rst, "Image metadata":
 * dimensions in 1..VIRTIO_VDMABUF_IMAGE_MAX_DIM, no unknown flag, 1..4
 * planes, no DRM_FORMAT_MOD_INVALID, every plane inside the buffer; for a
 * linear image of a known format also that each stride holds a row and
 * that the last row of each plane ends inside the buffer.  A @buf_size of
 * 0 skips the checks against the buffer.
 *
 * Return: 0; -EINVAL if the image breaks a rule, or @img is NULL or a
 * reserved word is not zero; -ENOTSUP if it is well-formed but of a
 * format the library does not know, or not linear, so that its rows could
 * not be checked, or if it has a colour (@img->color not all zero) that
 * this version cannot show correctly.
 */
int vdmabuf_image_validate(const struct vdmabuf_image *img, uint64_t buf_size);

/**
 * vdmabuf_image_encode() - the wire form of an image, for EXPORT
 * @img: the image (@img->version is ignored)
 * @wire: filled in, version VIRTIO_VDMABUF_IMAGE_VERSION, with zero in
 *	every field @img does not use (plane padding, planes past
 *	@img->nr_planes, the colour words)
 *
 * An image of a format the library does not know, or not linear, is
 * encoded: the consumer decides whether it can use it.
 *
 * Return: 0, or -EINVAL if an argument is NULL, @img breaks a rule that
 * needs no buffer size, a reserved word is not zero, or @img->color is
 * not all zero (version 1 defines no colour but sRGB).
 */
int vdmabuf_image_encode(const struct vdmabuf_image *img,
			 struct virtio_vdmabuf_image *wire);

/**
 * vdmabuf_image_decode() - read image metadata from an export
 * @meta: the export's metadata
 * @meta_len: its length
 * @buf_size: the buffer's size, to validate against (0: do not check
 *	against a buffer; the other rules still apply)
 * @img: filled in on success and on -ENOTSUP, colour words included
 *
 * Reads the first 136 bytes (version 1's size); whatever a later version
 * appends past them is ignored.  Within them every field this version
 * does not know must be zero (Documentation/virtio-dmabuf.rst, "Image
 * metadata"): non-zero plane padding or a non-zero byte in a plane past
 * nr_planes is malformed, and a non-zero colour is an image this version
 * cannot show correctly.
 *
 * Return: 0; -ENOMSG if the metadata is not an image (another type);
 * -EINVAL if it claims to be one but is malformed (too short, a bad
 * length or version, an unknown flag, non-zero padding or unused plane,
 * or it fails vdmabuf_image_validate()), or @img is NULL; -ENOTSUP as
 * vdmabuf_image_validate(): well-formed, but of an unknown format or
 * modifier, or with a colour (@img->color) this version cannot show.
 * Never reads past @meta_len.
 */
int vdmabuf_image_decode(const void *meta, size_t meta_len, uint64_t buf_size,
			 struct vdmabuf_image *img);

/* ------------------------------------------------------------------ */
/* dma-buf helpers                                                     */
/* ------------------------------------------------------------------ */

/**
 * vdmabuf_dmabuf_sync() - DMA_BUF_IOCTL_SYNC, retried on EINTR and EAGAIN
 * @dmabuf_fd: a dma-buf
 * @flags: DMA_BUF_SYNC_{START,END} | DMA_BUF_SYNC_{READ,WRITE,RW}
 *
 * Bracket CPU access to a mapping with START and END.
 *
 * Return: 0, or a negative errno.
 */
int vdmabuf_dmabuf_sync(int dmabuf_fd, uint64_t flags);

/* ------------------------------------------------------------------ */
/* Guest: /dev/virtio-vdmabuf                                          */
/* ------------------------------------------------------------------ */

struct vdmabuf_dev;

/* The guest device's node. */
#define VDMABUF_DEV_PATH	"/dev/virtio-vdmabuf"

/**
 * vdmabuf_dev_open() - open the guest device
 * @path: the node, or NULL for VDMABUF_DEV_PATH
 * @devp: the new handle
 *
 * Each handle is an opener of its own: its exports and events are its
 * own, and closing it unexports what it still has exported.
 *
 * Return: 0, or a negative errno (-ENOENT: no such device node).
 */
int vdmabuf_dev_open(const char *path, struct vdmabuf_dev **devp);

/**
 * vdmabuf_dev_close() - close the handle (NULL is allowed)
 * @dev: the handle
 */
void vdmabuf_dev_close(struct vdmabuf_dev *dev);

/**
 * vdmabuf_dev_fd() - the pollable file descriptor of the handle
 * @dev: the handle
 *
 * Return: the fd; it stays the handle's, do not close it.
 */
int vdmabuf_dev_fd(const struct vdmabuf_dev *dev);

/**
 * vdmabuf_dev_info() - the device's limits and this opener's counters
 * @dev: the handle
 * @info: filled in (VDMABUF_IOCTL_INFO)
 *
 * Return: 0, or a negative errno.
 */
int vdmabuf_dev_info(struct vdmabuf_dev *dev, struct vdmabuf_info *info);

/**
 * vdmabuf_dev_outputs() - the outputs of the host's display
 * @dev: the handle
 * @outs: filled in (VDMABUF_IOCTL_OUTPUTS); nr_outputs is 0 when the
 *	host shows no images
 *
 * poll() on vdmabuf_dev_fd() reports POLLPRI while the outputs changed
 * since this handle last called it (a window of the host was resized):
 * call it again then.
 *
 * Return: 0, or a negative errno (-ENOTTY: a driver older than the
 * outputs).
 */
int vdmabuf_dev_outputs(struct vdmabuf_dev *dev,
			struct vdmabuf_outputs *outs);

/**
 * vdmabuf_dev_alloc() - allocate a page-backed dma-buf from the driver
 * @dev: the handle
 * @size: bytes, a non-zero multiple of the page size
 *
 * Return: the dma-buf fd (close-on-exec), or a negative errno.
 */
int vdmabuf_dev_alloc(struct vdmabuf_dev *dev, uint64_t size);

/**
 * struct vdmabuf_exported - what EXPORT made of a buffer
 * @uuid: the buffer's new ID
 * @size: its size in bytes
 * @nr_ranges: the coalesced ranges sent to the device
 * @reserved: written as zero by the library
 */
struct vdmabuf_exported {
	struct vdmabuf_uuid uuid;
	uint64_t size;
	uint32_t nr_ranges;
	uint32_t reserved[5];
};

/**
 * vdmabuf_dev_export() - share a dma-buf with the host
 * @dev: the handle
 * @dmabuf_fd: any dma-buf the driver can share
 * @meta: metadata for the host, or NULL
 * @meta_len: its length (at most the device's max_meta_len)
 * @out: the new UUID, size and range count; may be NULL
 *
 * Return: 0, or a negative errno (-ENOBUFS: read events first; see
 * VDMABUF_IOCTL_EXPORT in Documentation/userspace-api/vdmabuf.rst).
 */
int vdmabuf_dev_export(struct vdmabuf_dev *dev, int dmabuf_fd,
		       const void *meta, uint32_t meta_len,
		       struct vdmabuf_exported *out);

/**
 * vdmabuf_dev_export_image() - share a dma-buf with image metadata
 * @dev: the handle
 * @dmabuf_fd: the dma-buf
 * @img: the image it holds; checked against the buffer's size first
 * @out: as vdmabuf_dev_export()
 *
 * An image the library cannot check (an unknown format, not linear) is
 * exported: the consumer decides.
 *
 * Return: 0, or a negative errno (-EINVAL: @img does not fit the buffer
 * or breaks a rule of vdmabuf_image_encode(), or the dma-buf's size is 0).
 */
int vdmabuf_dev_export_image(struct vdmabuf_dev *dev, int dmabuf_fd,
			     const struct vdmabuf_image *img,
			     struct vdmabuf_exported *out);

/**
 * vdmabuf_dev_unexport() - stop sharing a buffer
 * @dev: the handle
 * @uuid: a buffer this handle exported
 *
 * The host may still hold it: RELEASED says when its memory is free.
 *
 * Return: 0, or a negative errno.
 */
int vdmabuf_dev_unexport(struct vdmabuf_dev *dev,
			 const struct vdmabuf_uuid *uuid);

/**
 * vdmabuf_dev_present() - a new frame is in a buffer
 * @dev: the handle
 * @uuid: a live export of this handle
 * @seq: the frame's sequence number, echoed by its FRAME_DONE
 * @rects: damage rectangles, or NULL
 * @nr_rects: their number (0: the whole buffer)
 *
 * Return: 0, or a negative errno.
 */
int vdmabuf_dev_present(struct vdmabuf_dev *dev,
			const struct vdmabuf_uuid *uuid, uint64_t seq,
			const struct vdmabuf_rect *rects, uint32_t nr_rects);

/**
 * vdmabuf_dev_query() - the state of one of this handle's buffers
 * @dev: the handle
 * @uuid: the buffer
 * @q: filled in (VDMABUF_IOCTL_QUERY)
 *
 * Return: 0, or a negative errno (-ENOENT: not this handle's, or released).
 */
int vdmabuf_dev_query(struct vdmabuf_dev *dev, const struct vdmabuf_uuid *uuid,
		      struct vdmabuf_query *q);

/**
 * vdmabuf_dev_next_event() - the next FRAME_DONE or RELEASED
 * @dev: the handle
 * @ev: filled in
 * @timeout_ms: how long to wait: 0 not at all, -1 for ever
 *
 * Return: 0; -EAGAIN if no event came within @timeout_ms; -ENODEV if the
 * device is gone (end of file); -EIO if the driver returned a partial
 * record; another negative errno on failure.
 */
int vdmabuf_dev_next_event(struct vdmabuf_dev *dev, struct vdmabuf_event *ev,
			   int timeout_ms);

/* ------------------------------------------------------------------ */
/* Host: importer fds                                                  */
/* ------------------------------------------------------------------ */

struct vdmabuf_importer;

/**
 * vdmabuf_importer_connect() - get an importer fd from a VM's endpoint
 * @socket_path: QEMU's importer socket
 *	(-device vhost-vdmabuf-pci,importer-socket=PATH)
 * @timeout_ms: keep trying this long while the socket does not exist yet
 *	or refuses connections (0: try once)
 * @impp: the new handle
 *
 * The protocol (Documentation/userspace-api/vdmabuf.rst, "Importer
 * endpoint"): connect to the Unix stream socket; the VMM sends one byte
 * with one importer fd attached (SCM_RIGHTS) and closes.
 *
 * Return: 0, or a negative errno: -EINVAL for a NULL @impp or a NULL or
 * empty @socket_path; -ENAMETOOLONG if the path does not fit a Unix
 * socket address; -ENOENT or -ECONNREFUSED: no VM there within
 * @timeout_ms; -EAGAIN if a signal interrupted the last attempt to
 * connect at the deadline; -ETIMEDOUT: the VMM accepted the connection
 * but sent nothing within the wait (@timeout_ms, and at least a few
 * seconds); -EPROTO: the peer sent no fd (or its message was truncated),
 * as QEMU does when it cannot get one, for example when the device
 * already has max_importers importers open; QEMU's log says why.
 */
int vdmabuf_importer_connect(const char *socket_path, int timeout_ms,
			     struct vdmabuf_importer **impp);

/**
 * vdmabuf_importer_from_fd() - wrap an importer fd obtained otherwise
 * @fd: an importer fd (VHOST_VDMABUF_GET_IMPORTER, or passed by a VMM);
 *	the handle takes it over and closes it on vdmabuf_importer_close()
 * @impp: the new handle
 *
 * Return: 0, or a negative errno (on failure @fd is not closed).
 */
int vdmabuf_importer_from_fd(int fd, struct vdmabuf_importer **impp);

/**
 * vdmabuf_importer_close() - close the handle (NULL is allowed)
 * @imp: the handle
 *
 * Closing counts as FRAME_DONE for every frame it has not answered.
 */
void vdmabuf_importer_close(struct vdmabuf_importer *imp);

/**
 * vdmabuf_importer_fd() - the pollable importer fd of the handle
 * @imp: the handle
 *
 * Return: the fd; it stays the handle's, do not close it.
 */
int vdmabuf_importer_fd(const struct vdmabuf_importer *imp);

/**
 * struct vdmabuf_host_event - one event read from an importer fd
 * @type: VHOST_VDMABUF_EVENT_{EXPORTED,PRESENTED,UNEXPORTED}
 * @flags: the record's flags
 * @uuid: the buffer
 * @size: EXPORTED: the buffer's size in bytes
 * @seq: PRESENTED: the guest's sequence number of the frame
 * @payload: EXPORTED: the metadata, as the guest sent it; PRESENTED: the
 *	damage as struct vhost_vdmabuf_rect[] (host byte order, maybe
 *	unaligned: use vdmabuf_event_damage()); valid until the next event
 *	call
 * @payload_len: bytes at @payload
 * @nr_rects: PRESENTED: damage rectangles (0: the whole buffer)
 * @frame: PRESENTED: the frame number to answer with
 *	vdmabuf_importer_frame_done()
 * @nr_frames: PRESENTED: frames this event stands for (more than 1 when
 *	newer frames replaced one not yet read; the damage is theirs together)
 * @reserved: written as zero by the library
 *
 * @flags has VHOST_VDMABUF_EVENT_F_OWED on a PRESENTED this importer must
 * answer: it imported the buffer, or joined its frames.
 */
struct vdmabuf_host_event {
	uint32_t type;
	uint32_t flags;
	struct vdmabuf_uuid uuid;
	uint64_t size;
	uint64_t seq;
	const void *payload;
	uint32_t payload_len;
	uint32_t nr_rects;
	uint64_t frame;
	uint32_t nr_frames;
	uint32_t reserved[5];
};

/**
 * vdmabuf_importer_next_event() - the next event of the VM
 * @imp: the handle
 * @ev: filled in
 * @timeout_ms: how long to wait: 0 not at all, -1 for ever
 *
 * A new importer first gets EXPORTED for every buffer the guest has
 * exported, then the events as they happen.  A PRESENTED with
 * VHOST_VDMABUF_EVENT_F_OWED in @ev->flags must be answered with
 * vdmabuf_importer_frame_done() (or by closing the handle): the guest
 * waits for it.  The others need no answer: an importer that imports
 * nothing and joins no frames only watches.
 *
 * Return: 0; -EAGAIN if none came within @timeout_ms; -EPROTO if the
 * kernel returned a malformed record (nothing is read past it); -ENODEV
 * if the VM is gone (end of file: the VMM closed the device and every
 * event has been read); another negative errno on failure.
 */
int vdmabuf_importer_next_event(struct vdmabuf_importer *imp,
				struct vdmabuf_host_event *ev, int timeout_ms);

/**
 * vdmabuf_event_damage() - one damage rectangle of a PRESENTED event
 * @ev: the event
 * @i: which, below @ev->nr_rects
 * @rect: filled in, in host byte order
 *
 * Return: 0, or -EINVAL if @ev is not PRESENTED or @i is out of range.
 */
int vdmabuf_event_damage(const struct vdmabuf_host_event *ev, uint32_t i,
			 struct vdmabuf_rect *rect);

/**
 * vdmabuf_record_next() - take one event record out of a read() buffer
 * @buf: what read() on an importer fd returned
 * @len: its length
 * @off: in: where the record starts; out: where the next one does
 * @ev: filled in; @ev->payload points into @buf
 *
 * The record walk vdmabuf_importer_next_event() uses, for programs that
 * read the fd themselves.  Checks each record against the rules of
 * struct vhost_vdmabuf_event: at least a header, @len a multiple of 8 and
 * inside @buf, the payload inside the record, the damage a whole number
 * of rectangles.
 *
 * Return: 1 if a record was taken, 0 at the end of @buf (*@off == @len),
 * -EPROTO for a malformed record (@off is not moved), -EINVAL for a NULL
 * @off or @ev, a NULL @buf with a non-zero @len, or *@off past @len.
 */
int vdmabuf_record_next(const void *buf, size_t len, size_t *off,
			struct vdmabuf_host_event *ev);

/**
 * vdmabuf_importer_import() - a dma-buf of a buffer the guest exported
 * @imp: the handle
 * @uuid: a live export
 * @size: its size; may be NULL
 *
 * Importing joins the buffer's frames: every later PRESENTED of it owes
 * an answer (see vdmabuf_importer_frames()).
 *
 * Return: the dma-buf fd (close-on-exec, read-write), or a negative errno
 * (-ENOENT: no live export by that UUID).
 */
int vdmabuf_importer_import(struct vdmabuf_importer *imp,
			    const struct vdmabuf_uuid *uuid, uint64_t *size);

/**
 * vdmabuf_importer_return() - this importer has let go of a buffer
 * @imp: the handle
 * @uuid: a buffer it imported
 *
 * Call it once every dma-buf of the buffer this program imported is
 * closed and unmapped.  The vhost-user back-end (vhost-user-vdmabuf)
 * cannot see that by itself: it releases an unexported buffer to the
 * guest once every importer that imported it has returned it or closed
 * its handle.  On the kernel back-end, which sees the last close, it does
 * nothing.
 *
 * Return: 0, or a negative errno (-ENOENT: this importer holds no such
 * buffer).
 */
int vdmabuf_importer_return(struct vdmabuf_importer *imp,
			    const struct vdmabuf_uuid *uuid);

/**
 * vdmabuf_importer_frame_done() - this importer is done with a frame
 * @imp: the handle
 * @uuid: the buffer
 * @frame: the frame number of its PRESENTED (@ev->frame, not @ev->seq)
 *
 * Return: 0, also when nothing was owed any more (a later PRESENT replaced
 * the frame, the buffer was unexported, or this importer does not take
 * part in its frames); a negative errno on failure.
 */
int vdmabuf_importer_frame_done(struct vdmabuf_importer *imp,
				const struct vdmabuf_uuid *uuid, uint64_t frame);

/**
 * vdmabuf_importer_frames() - take part in a buffer's frames, or stop
 * @imp: the handle
 * @uuid: a live export; NULL: every buffer, those exported later included
 * @op: VHOST_VDMABUF_FRAMES_JOIN: from its next frame on, every PRESENTED
 *	of the buffer owes an answer, as after an import (for an importer
 *	that shows the buffer without importing it itself; with a NULL
 *	@uuid, for one that must hold even the first frame of a buffer it
 *	imports on its EXPORTED: join right after connecting);
 *	VHOST_VDMABUF_FRAMES_LEAVE: no longer, and a frame owed now counts as
 *	answered (after an import only to take a copy, say)
 *
 * Return: 0, or a negative errno (-ENOENT: no live export by that UUID,
 * -EINVAL: an unknown @op).
 */
int vdmabuf_importer_frames(struct vdmabuf_importer *imp,
			    const struct vdmabuf_uuid *uuid, uint32_t op);

/**
 * struct vdmabuf_buffer_info - what an importer can learn of a buffer
 * @size: bytes
 * @last_seq: the guest's sequence number of the newest frame, 0 before
 *	the first
 * @nr_ranges: ranges the guest sent
 * @state: VHOST_VDMABUF_STATE_{LIVE,UNEXPORTED}
 * @meta_len: the metadata's length (copied when it fit)
 * @reserved0: written as zero by the library
 * @last_frame: the frame number of the newest frame, 0 before the first
 * @reserved: written as zero by the library
 */
struct vdmabuf_buffer_info {
	uint64_t size;
	uint64_t last_seq;
	uint32_t nr_ranges;
	uint32_t state;
	uint32_t meta_len;
	uint32_t reserved0;
	uint64_t last_frame;
	uint32_t reserved[2];
};

/**
 * vdmabuf_importer_query() - a buffer's state and metadata
 * @imp: the handle
 * @uuid: the buffer
 * @info: filled in
 * @meta: buffer for the metadata, or NULL
 * @meta_size: bytes at @meta
 *
 * Return: 0, or a negative errno (-ENOENT: no such buffer).
 */
int vdmabuf_importer_query(struct vdmabuf_importer *imp,
			   const struct vdmabuf_uuid *uuid,
			   struct vdmabuf_buffer_info *info,
			   void *meta, uint32_t meta_size);

#ifdef __cplusplus
}
#endif

#endif /* VDMABUF_VDMABUF_H */
