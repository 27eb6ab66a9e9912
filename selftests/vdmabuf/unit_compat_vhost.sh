#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host module is built with its copy of the kernel's private
# drivers/vhost/vhost.h (compat/vhost/SERIES/, what DKMS and headers-only
# builds use), not with a kernel source.  TAP output.
#
# Environment: KSRC (the test bed's kernel source files, from
# linux-source-6.12; unit.sh exports it), VDMABUF_TOP or TOP (the
# checkout; default: two levels up from here).

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOP=${VDMABUF_TOP:-${TOP:-$(cd "$here/../.." && pwd)}}
KSRC=${KSRC:-$HOME/.cache/vdmabuf/kernel/src}

echo "TAP version 13"
echo "1..1"
kver=$(cat "$KSRC/../KVER" 2>/dev/null)
series=$(echo "$kver" | cut -d. -f1-2)
# The build of the host module read that copy (its .cmd file names the
# headers it included), not a kernel source elsewhere; that the copy is
# the kernel's own, scripts/testbed/matrix.sh checks.
cmd=$TOP/drivers/vhost/.vdmabuf.o.cmd
if grep -q "compat/vhost/$series/vhost.h" "$cmd" 2>/dev/null; then
	echo "ok 1 the host module was built with compat/vhost/$series/vhost.h"
else
	echo "# $cmd: $(grep -o '[^ ]*vhost/vhost\.h' "$cmd" 2>/dev/null | head -n 1)"
	echo "not ok 1 the host module was built with compat/vhost/$series/vhost.h"
fi
