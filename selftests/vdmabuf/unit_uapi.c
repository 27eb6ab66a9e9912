// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf UAPI header test, C.
 *
 * <linux/virtio_vdmabuf.h> comes first, alone, so that a missing include
 * in it breaks this build; unit_uapi.cc does the same for
 * <linux/vhost_vdmabuf.h> in C++.  The layout is checked at compile time
 * (unit_uapi_layout.h), the byte-level encoding at run time
 * (unit_uapi_runtime.h), with TAP output.
 *
 * Build: cc -std=c99 -Wall -Wextra -Werror -pedantic -I<top>/include/uapi
 */
#include <linux/virtio_vdmabuf.h>
#include <linux/vhost_vdmabuf.h>
/* After ours: its VHOST_VIRTIO must be an identical redefinition. */
#include <linux/vhost.h>

#include "unit_uapi_layout.h"
#include "unit_uapi_runtime.h"

int main(void)
{
	return uapi_run_all();
}
