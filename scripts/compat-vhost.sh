#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host module includes the kernel's private drivers/vhost/vhost.h,
# which no linux-headers package ships.  Out of tree it takes the copy
# for its kernel series from compat/vhost/VERSION.PATCHLEVEL/ (see
# drivers/vhost/Kbuild), so that DKMS and headers-only builds work.  The
# copies are the kernel's files, unchanged (GPL-2.0, as the kernel).  The
# module embeds vhost's structures, so a copy is right only for releases
# whose vhost.h has the same layout: each copy's VERIFIED file lists them,
# a release and the SHA-256 of that release's vhost.h per line, and the
# build warns for a release not listed.  The copy is the newest release's
# file; an older release is listed once its file was compared with it
# (a declaration more or less is no change of layout).
#
#   compat-vhost.sh update KSRC RELEASE   make KSRC/drivers/vhost/vhost.h
#                                         (kernel RELEASE, e.g. 6.12.95)
#                                         the copy of its series, and list
#                                         RELEASE
#   compat-vhost.sh verify KSRC RELEASE   list RELEASE for the copy as it
#                                         is, after its vhost.h was read
#                                         against the copy
#   compat-vhost.sh check KSRC RELEASE    fail unless VERIFIED lists
#                                         RELEASE with KSRC's vhost.h
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

sum=$(sha256sum "$src" | cut -d' ' -f1)
list() {	# write RELEASE's line, replacing an older one
	{ grep -v "^$release " "$dir/VERIFIED" 2>/dev/null || :
	  echo "$release $sum"; } | sort -V > "$dir/VERIFIED.tmp"
	mv "$dir/VERIFIED.tmp" "$dir/VERIFIED"
}

case $cmd in
update)
	mkdir -p "$dir"
	cp "$src" "$dir/vhost.h"
	list
	echo "$dir/vhost.h: from $src; VERIFIED: $(cut -d' ' -f1 "$dir/VERIFIED" | tr '\n' ' ')"
	;;
verify)
	[ -f "$dir/vhost.h" ] || { echo "$0: no copy for Linux $series" >&2; exit 1; }
	diff -u "$dir/vhost.h" "$src" || :
	list
	echo "$dir/VERIFIED: $release listed (read the diff above: a change of layout needs update)"
	;;
check)
	if [ ! -f "$dir/vhost.h" ]; then
		echo "$0: no copy for Linux $series: run $0 update $ksrc $release" >&2
		exit 1
	fi
	if ! grep -qx "$release $sum" "$dir/VERIFIED" 2>/dev/null; then
		echo "$0: VERIFIED does not list Linux $release with its vhost.h; against the copy:" >&2
		diff -u "$dir/vhost.h" "$src" | head -n 40 >&2
		echo "$0: if the layout is the same, run $0 verify $ksrc $release; if not, the module needs that release's copy" >&2
		exit 1
	fi
	echo "$dir/vhost.h: VERIFIED lists Linux $release with this vhost.h"
	;;
*)
	usage
	;;
esac
