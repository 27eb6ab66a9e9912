#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make dkms-install and make dkms-uninstall (scripts/dkms.sh) as a user
# runs them, as root, for the test bed's Debian 6.12 kernel, on this
# machine: in a mount namespace of their own whose /usr/src and
# /var/lib/dkms are empty tmpfs, so that nothing of the machine's DKMS
# state is touched.  The modules are installed into build/dkms/root
# (DKMS's --installtree); a copy of what was installed stays in
# build/dkms/installed for L1, which loads the DKMS-built host module and
# runs host tests on it (l1-run.sh's dkms_tests).  Then make
# dkms-uninstall must remove them.
#
# Built natively here, not under L1's TCG, where the same build took
# 181 s of a make check; vmcheck.sh runs it while L1 boots.  Usage:
# dkms-build.sh TAP-FILE; the dkms log is build/logs/dkms.log.
# build/dkms/rc (0 or not) is written last: L1 waits for it.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
OUT=$TOP/build/dkms
TAP=${1:?usage: dkms-build.sh TAP-FILE}
LOG=$TOP/build/logs/dkms.log
rm -rf "$OUT"
mkdir -p "$OUT" "$(dirname "$TAP")" "$(dirname "$LOG")"
: > "$LOG"

n=0 failed=0
res() {	# RC NAME
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
		tail -n 30 "$LOG" | sed 's/^/# /'
	fi
}

root=$OUT/root
mods=$root/lib/modules/$KVER
kdir=$KROOT/usr/src/linux-headers-$KVER
mkdir -p "$mods"
{
	echo "# program: dkms"
	if ! command -v dkms > /dev/null; then
		res 1 "dkms: dkms is installed (the set-up installs it)"
	else
		export DKMS_OPTS="--installtree=$root/lib/modules --kernelsourcedir=$kdir --no-depmod"
		unshare -m bash -c '
			mount -t tmpfs -o mode=0755 tmpfs /usr/src &&
			mount -t tmpfs -o mode=0755 tmpfs /var/lib/dkms || exit 3
			KERNELRELEASE=$1 make -s -C "$2" dkms-install >> "$3" 2>&1 || exit 1
			cp -a "$4" "$5" || exit 1
			make -s -C "$2" dkms-uninstall >> "$3" 2>&1 || exit 2
			ls "$4"/lib/modules/"$1"/updates/dkms/*vdmabuf.ko* > /dev/null 2>&1 && exit 2
			[ ! -e /usr/src/vdmabuf-0.1.0 ] || exit 2
			exit 0' _ "$KVER" "$TOP" "$LOG" "$root" "$OUT/installed"
		rc=$?
		[ $rc = 3 ] && echo "# no mount namespace with tmpfs on /usr/src and /var/lib/dkms"
		res $(( rc == 1 || rc == 3 )) "dkms: make dkms-install builds and installs the three modules for $KVER, here"
		inst=$OUT/installed/lib/modules/$KVER/updates/dkms
		res "$(ls "$inst"/vhost_vdmabuf.ko* "$inst"/virtio_vdmabuf.ko* \
			  "$inst"/vdmabuf_drm.ko* > /dev/null 2>&1; echo $?)" \
			"dkms: vhost_vdmabuf, virtio_vdmabuf and vdmabuf_drm are in updates/dkms"
		res $(( rc != 0 )) "dkms: make dkms-uninstall removes them, and their sources"
	fi
	echo "1..$n"
	echo "# exit: dkms $failed"
} > "$TAP"
cat "$TAP"
echo "$failed" > "$OUT/rc"
exit "$failed"
