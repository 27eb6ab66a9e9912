// SPDX-License-Identifier: GPL-2.0
/*
 * vdmabuf UAPI header test, C++ (built as unit_uapi_cxx).
 *
 * <linux/vhost_vdmabuf.h> comes first, alone, so that a missing include
 * in it breaks this build, and all three headers must be valid C++11
 * (host importers such as compositors and media pipelines, and guest
 * producers, are often C++).  The same compile-time and run-time checks
 * as unit_uapi.c, except the comparison with <linux/vhost.h>'s own
 * commands: that header pulls in <linux/virtio_ring.h>, which is not
 * valid C++.
 *
 * Build: c++ -std=c++11 -Wall -Wextra -Werror -pedantic -I<top>/include/uapi
 */
#include <linux/vhost_vdmabuf.h>
#include <linux/vdmabuf.h>
#include <linux/virtio_vdmabuf.h>
#include <linux/virtio_ids.h>

#include "unit_uapi_layout.h"
#include "unit_uapi_runtime.h"

int main()
{
	return uapi_run_all();
}
