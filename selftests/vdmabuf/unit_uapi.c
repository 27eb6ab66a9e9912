// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf UAPI header test, C.
 *
 * <linux/virtio_vdmabuf.h> comes first, alone, so that a missing include
 * in it breaks this build; unit_uapi.cc does the same for
 * <linux/vhost_vdmabuf.h> in C++, and unit_uapi_types.sh compiles each of
 * the three headers, <linux/vdmabuf.h> too, alone as C and C++.  The
 * layout is checked at compile time (unit_uapi_layout.h), the byte-level
 * encoding at run time (unit_uapi_runtime.h), with TAP output.
 *
 * Build: cc -std=c99 -Wall -Wextra -Werror -pedantic -I<top>/include/uapi
 */
#include <linux/virtio_vdmabuf.h>
#include <linux/vdmabuf.h>
#include <linux/vhost_vdmabuf.h>
/* VIRTIO_ID_DMABUF: the virtio device ID is not ours to define. */
#include <linux/virtio_ids.h>
/* After ours: its VHOST_VIRTIO must be an identical redefinition. */
#include <linux/vhost.h>

#include "unit_uapi_layout.h"
#include "unit_uapi_runtime.h"

int main(void)
{
	return uapi_run_all();
}
