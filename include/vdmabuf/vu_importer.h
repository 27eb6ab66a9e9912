/* SPDX-License-Identifier: MIT */
/*
 * The importer socket of the vhost-user back-end (vhost-user-vdmabuf
 * --importer-socket): what the kernel back-end's importer fd does, over a
 * SOCK_SEQPACKET connection.  Spoken by libvdmabuf and the daemon; a
 * program uses the library, whose vdmabuf_importer_*() calls work on
 * either back-end.
 *
 * A client connects to the importer socket (SOCK_STREAM, as QEMU's
 * importer-socket) and receives one byte with one descriptor
 * (SCM_RIGHTS): its end of a SOCK_SEQPACKET socket pair, the importer.
 *
 * Events: every message the daemon sends on the importer is one record,
 * struct vhost_vdmabuf_event and its payload, exactly as read() from the
 * kernel back-end's importer fd returns it.  End of file: the VMM is gone
 * (or the daemon); records are never lost before it.
 *
 * Requests: the importer fd's ioctls as messages.  A request is
 * struct vdmabuf_vu_req, then the ioctl's argument (@len bytes, its
 * _IOC_SIZE), sent with one descriptor: the client's end of a new
 * SOCK_SEQPACKET socket pair, on which the daemon answers once with
 * struct vdmabuf_vu_reply, then the argument as the ioctl leaves it,
 * then (VHOST_VDMABUF_QUERY) the metadata; VHOST_VDMABUF_IMPORT's answer
 * carries the dma-buf (SCM_RIGHTS).  Replies never mix with events.
 *
 * Every field is in the host's byte order: both ends are on one host.
 */
#ifndef VDMABUF_VU_IMPORTER_H
#define VDMABUF_VU_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vhost_vdmabuf.h>

/**
 * struct vdmabuf_vu_req - a request on the importer
 * @cmd: VHOST_VDMABUF_IMPORT, _FRAME_DONE, _FRAMES, _QUERY or
 *	VDMABUF_VU_RETURN
 * @len: bytes of argument after this header: the command's _IOC_SIZE
 */
struct vdmabuf_vu_req {
	__u32 cmd;
	__u32 len;
};

/**
 * struct vdmabuf_vu_reply - the answer on the request's reply socket
 * @error: 0, or the errno the ioctl would have failed with
 * @len: bytes of argument after this header (0 on error)
 */
struct vdmabuf_vu_reply {
	__u32 error;
	__u32 len;
};

/**
 * struct vdmabuf_vu_return - VDMABUF_VU_RETURN argument
 * @uuid: a buffer this importer imported
 * @flags: zero
 * @padding: zero
 *
 * The importer has closed every dma-buf of the buffer and unmapped it.
 * udmabuf, which makes this back-end's dma-bufs, does not tell the
 * daemon when their last user is gone: the daemon releases an unexported
 * buffer to the guest once every importer that imported it has returned
 * it or closed its importer.  The kernel back-end needs no such message.
 */
struct vdmabuf_vu_return {
	__u8 uuid[16];
	__u32 flags;
	__u32 padding;
};

/* Socket only: 0xdf of this driver's VHOST_VIRTIO range is never an ioctl. */
#define VDMABUF_VU_RETURN \
	_IOW(VHOST_VIRTIO, 0xdf, struct vdmabuf_vu_return)

/* The largest request or reply: a query's metadata after the argument. */
#define VDMABUF_VU_MSG_MAX \
	(sizeof(struct vdmabuf_vu_reply) + sizeof(struct vhost_vdmabuf_query) + \
	 VIRTIO_VDMABUF_MAX_META)

#endif /* VDMABUF_VU_IMPORTER_H */
