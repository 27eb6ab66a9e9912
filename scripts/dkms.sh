#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Both modules under DKMS (dkms.conf), so that they are rebuilt for later
# kernels of the series compat/vhost/ has:
#
#   dkms.sh install     copy the module sources to /usr/src/NAME-VERSION,
#                       then dkms add, build and install them for the
#                       running kernel (KERNELRELEASE=... for another)
#   dkms.sh uninstall   dkms remove every kernel's build, and the sources
#
# As root, with dkms installed (Debian: apt install dkms) and the headers
# of the kernel.  "make dkms-install" and "make dkms-uninstall" run it.
# DKMS_OPTS: more dkms options for every dkms command, for a staged
# install (the test bed's: --installtree, --kernelsourcedir, --no-depmod).

set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "dkms.sh: $*" >&2; exit 1; }

conf=$TOP/dkms.conf
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"$/\1/p' "$conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$conf")
[ -n "$name" ] && [ -n "$ver" ] || die "no PACKAGE_NAME or PACKAGE_VERSION in $conf"
src=/usr/src/$name-$ver
kver=${KERNELRELEASE:-$(uname -r)}
read -r -a opts <<< "${DKMS_OPTS:-}"

command -v dkms >/dev/null || die "dkms is not installed (Debian: apt install dkms)"
[ "$(id -u)" -eq 0 ] || die "run it as root"

# What dkms.conf's make needs: the Kbuild files, the sources, the UAPI
# headers, the compat headers (vhost.h per kernel series among them).
copy_sources() {
	rm -rf "$src"
	mkdir -p "$src"
	(cd "$TOP" &&
	 find Kbuild dkms.conf LICENSE compat drivers include/uapi include/linux -type f \
		\( -name '*.[ch]' ! -name '*.mod.c' -o -name Kbuild \
		   -o -name Kconfig -o -name dkms.conf -o -name LICENSE \
		   -o -name VERIFIED \) \
		-print0 | xargs -0 cp --parents -t "$src")
}

remove() {
	if [ -n "$(dkms status -m "$name" -v "$ver" "${opts[@]}")" ]; then
		dkms remove -m "$name" -v "$ver" --all "${opts[@]}"
	fi
}

case ${1:-} in
install)
	remove
	copy_sources
	dkms add -m "$name" -v "$ver" "${opts[@]}"
	if ! dkms build -m "$name" -v "$ver" -k "$kver" "${opts[@]}"; then
		# Its end here: the tree may be a tmpfs that goes (make check)
		log=/var/lib/dkms/$name/$ver/build/make.log
		[ -f "$log" ] && tail -n 20 "$log" >&2
		die "dkms build failed: see $log"
	fi
	dkms install -m "$name" -v "$ver" -k "$kver" "${opts[@]}"
	;;
uninstall)
	remove
	rm -rf "$src"
	;;
*)
	echo "usage: $0 install|uninstall" >&2
	exit 2
	;;
esac
