#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel matrix, build half: both modules built out of tree with
# -Werror against the headers of every kernel the test bed has (Debian's
# 6.12, the one the VMs run, and Debian 12's own 6.1; setup.sh fetches
# them), each from a copy of the sources under build/matrix/KVER/, and the
# host module's copy of that kernel's private vhost.h checked against the
# kernel's source.  TAP in build/results/matrix.tap, a line per kernel per
# module; the logs beside the copies.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
R=$TOP/build/results/matrix.tap
mkdir -p "$TOP/build/results"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*" >> "$R"; echo "ok - $*"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*" >> "$R"
	echo "not ok - $*"
}
echo "# matrix.tap" > "$R"

read -r -a kdirs <<< "$KDIR ${MATRIX_KDIRS:-}"
read -r -a ksrcs <<< "$KSRC ${MATRIX_KSRCS:-}"
# Two kernels, or the set-up did not fetch 6.1: that is a failure too.
if [ ${#kdirs[@]} -ne 2 ] || [ ${#ksrcs[@]} -ne 2 ]; then
	not_ok "matrix: the set-up has the headers of Linux 6.12 and 6.1 (setup.sh kernel-6.1)"
fi
btf=
command -v pahole > /dev/null || btf=CONFIG_DEBUG_INFO_BTF_MODULES=
for i in "${!kdirs[@]}"; do
	kdir=${kdirs[i]}
	ksrc=${ksrcs[i]}
	kver=${kdir##*/linux-headers-}
	release=$(make -s -C "$kdir" kernelversion 2> /dev/null)
	series=$(echo "$release" | cut -d. -f1-2)
	tree=$TOP/build/matrix/$kver
	log=$tree.log
	rm -rf "$tree"
	mkdir -p "$tree"
	(cd "$TOP" && git ls-files -co --exclude-standard Kbuild compat drivers include |
	 xargs cp --parents -t "$tree")
	make -C "$kdir" M="$tree" KCFLAGS=-Werror $btf modules > "$log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || tail -n 30 "$log" | sed 's/^/# /' | tee -a "$R"
	for m in drivers/virtio/virtio_vdmabuf drivers/vhost/vhost_vdmabuf \
		 drivers/gpu/drm/vdmabuf/vdmabuf_drm; do
		what="matrix: Linux $kver ($release): ${m##*/}.ko builds with -Werror"
		if [ $rc -eq 0 ] && [ -f "$tree/$m.ko" ]; then
			ok "$what"
		else
			not_ok "$what (log: $log)"
		fi
	done
	# The build must not have warned that the copy is unverified
	what="matrix: Linux $kver: compat/vhost/$series/VERIFIED lists $release with its vhost.h"
	if out=$(bash "$TOP/scripts/compat-vhost.sh" check "$ksrc" "$release" 2>&1) &&
	   ! grep -q 'vhost_vdmabuf: .*vhost\.h' "$log"; then
		ok "$what"
	else
		{ echo "$out"; grep 'vhost_vdmabuf: .*vhost\.h' "$log"; } | sed 's/^/# /' | tee -a "$R"
		not_ok "$what"
	fi
done
echo "1..$n" >> "$R"
[ $failed -eq 0 ]
