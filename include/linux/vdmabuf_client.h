/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-dmabuf in-kernel clients: what /dev/virtio-vdmabuf offers a
 * process, offered to another guest driver (the vdmabuf KMS driver).
 */
#ifndef _LINUX_VDMABUF_CLIENT_H
#define _LINUX_VDMABUF_CLIENT_H

#include <linux/types.h>
#include <linux/vdmabuf.h>

struct auxiliary_device;
struct device;
struct dma_buf;
struct vdmabuf_client;

/*
 * The auxiliary device virtio_vdmabuf adds, with the device's index as its
 * id, for each device that shows presented frames on outputs (both
 * VIRTIO_VDMABUF_F_PRESENT and VIRTIO_VDMABUF_F_OUTPUTS negotiated).  A
 * display driver binds to it and opens a client on it.
 */
#define VDMABUF_AUX_DISPLAY	"display"	/* "virtio_vdmabuf.display" */

/**
 * struct vdmabuf_client_ops - what a client hears from the device
 * @event: a RELEASED or FRAME_DONE of one of the client's exports, as
 *	the character device's read() returns them (struct vdmabuf_event).
 *	Every export gets exactly one RELEASED, after all its FRAME_DONEs;
 *	every successful vdmabuf_client_present() gets exactly one
 *	FRAME_DONE, unless the device is reset first.  A device reset
 *	(freeze, remove, a device that asked for one) counts as RELEASED of
 *	every export: a frame in flight then gets no FRAME_DONE, or one
 *	flagged VDMABUF_EVENT_F_DROPPED before that RELEASED.
 * @outputs_changed: the device's outputs differ from those the client
 *	last read with vdmabuf_client_outputs(); may be NULL
 *
 * Called in order, one at a time, from a work item of the client's, with
 * no lock of the driver held: a callback may call any vdmabuf_client_*()
 * function but vdmabuf_client_close().  None is called once
 * vdmabuf_client_close() has returned.
 */
struct vdmabuf_client_ops {
	void (*event)(struct vdmabuf_client *client,
		      const struct vdmabuf_event *ev);
	void (*outputs_changed)(struct vdmabuf_client *client);
};

struct vdmabuf_client *vdmabuf_client_open(struct auxiliary_device *adev,
					   const struct vdmabuf_client_ops *ops,
					   void *priv);
void vdmabuf_client_close(struct vdmabuf_client *client);
void *vdmabuf_client_priv(struct vdmabuf_client *client);
struct device *vdmabuf_client_dma_device(struct vdmabuf_client *client);
void vdmabuf_client_info(struct vdmabuf_client *client,
			 struct vdmabuf_info *info);
void vdmabuf_client_outputs(struct vdmabuf_client *client,
			    struct vdmabuf_outputs *outputs);
int vdmabuf_client_export(struct vdmabuf_client *client,
			  struct dma_buf *dmabuf, const void *meta,
			  u32 meta_len, u8 uuid[16]);
int vdmabuf_client_unexport(struct vdmabuf_client *client, const u8 uuid[16]);
int vdmabuf_client_present(struct vdmabuf_client *client, const u8 uuid[16],
			   u64 seq, const struct vdmabuf_rect *rects,
			   u32 nr_rects);

#endif /* _LINUX_VDMABUF_CLIENT_H */
