#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host module includes the kernel's private drivers/vhost/vhost.h,
# which no linux-headers package ships.  Out of tree it takes the copy
# for its kernel series from compat/vhost/VERSION.PATCHLEVEL/ (see
# drivers/vhost/Kbuild), so that DKMS and headers-only builds work.  The
# copies are the kernel's files, unchanged (GPL-2.0, as the kernel).  The
# module embeds vhost's structures, so a copy is right only for releases
# whose vhost.h is the same: each copy's VERIFIED file lists the releases
# it was checked against, and the build warns for any other.
#
#   compat-vhost.sh update KSRC RELEASE   copy KSRC/drivers/vhost/vhost.h
#                                         to the series of RELEASE (e.g.
#                                         6.12.95), and list RELEASE in
#                                         VERIFIED
#   compat-vhost.sh check KSRC RELEASE    fail unless that copy is KSRC's
#                                         file and VERIFIED lists RELEASE
#
# KSRC: the source of kernel RELEASE (the test bed's hold only the few
# files it extracts).  scripts/testbed/matrix.sh runs "check" for every
# kernel of the test bed.

set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	echo "usage: $0 update|check KSRC RELEASE" >&2
	exit 2
}

[ $# -eq 3 ] || usage
cmd=$1
ksrc=$2
release=$3
src=$ksrc/drivers/vhost/vhost.h
[ -f "$src" ] || { echo "$0: no $src" >&2; exit 1; }
[[ "$release" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	{ echo "$0: '$release' is not a kernel release like 6.12.95" >&2; exit 1; }
series=${release%.*}
dir=$TOP/compat/vhost/$series

case $cmd in
update)
	mkdir -p "$dir"
	cp "$src" "$dir/vhost.h"
	{ cat "$dir/VERIFIED" 2>/dev/null || true; echo "$release"; } | sort -u -V > "$dir/VERIFIED.tmp"
	mv "$dir/VERIFIED.tmp" "$dir/VERIFIED"
	echo "$dir/vhost.h: from $src, verified for $(tr '\n' ' ' < "$dir/VERIFIED")"
	;;
check)
	if [ ! -f "$dir/vhost.h" ]; then
		echo "$0: no copy for Linux $series: run $0 update $ksrc $release" >&2
		exit 1
	fi
	if ! cmp -s "$src" "$dir/vhost.h"; then
		echo "$0: $dir/vhost.h differs from $src:" >&2
		diff -u "$dir/vhost.h" "$src" | head -n 40 >&2
		echo "$0: Linux $release changed it: the module needs a copy per layout" >&2
		exit 1
	fi
	if ! grep -qx "$release" "$dir/VERIFIED" 2>/dev/null; then
		echo "$0: $dir/vhost.h is Linux $release's, but VERIFIED does not list it: run $0 update $ksrc $release" >&2
		exit 1
	fi
	echo "$dir/vhost.h: the same as $src, and verified for $release"
	;;
*)
	usage
	;;
esac
