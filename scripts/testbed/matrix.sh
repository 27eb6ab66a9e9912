#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel matrix, build half: the modules built out of tree with
# -Werror against the headers of every kernel the test bed has (Debian's
# 6.12, the one the VMs run, Debian 12's own 6.1, and the newest kernel
# Debian ships, from Debian 13's backports; setup.sh fetches them), each
# from a copy of the sources under build/matrix/KVER/, and the host
# module's copy of that kernel's private vhost.h checked against the
# kernel's source.  The newest kernel's headers live in a Debian 13 build
# root with the compiler it was built with (setup.sh kernel-new): its
# modules are built in there with chroot, from a copy under the root's
# /build, and the result copied back.  TAP in build/results/matrix.tap, a
# line per kernel per module; the logs beside the copies.

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
# Three kernels, or the set-up did not fetch 6.1 or the newest: that is a
# failure too.
if [ ${#kdirs[@]} -ne 3 ] || [ ${#ksrcs[@]} -ne 3 ]; then
	not_ok "matrix: the set-up has the headers of Linux 6.12, 6.1 and Debian's newest (setup.sh kernel-6.1, kernel-new)"
fi
btf=
command -v pahole > /dev/null || btf=CONFIG_DEBUG_INFO_BTF_MODULES=
# A command in the build root $root, if any: chroot, a clean environment,
# and /proc (objtool reads it) mounted in a mount namespace of its own,
# gone with the command.
in_root() {
	[ -n "$root" ] || { "$@"; return; }
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" \
		env -i PATH=/usr/bin:/usr/sbin HOME=/build LC_ALL=C.UTF-8 \
		DEB_BUILD_ARCH=amd64 "$@"
}
for i in "${!kdirs[@]}"; do
	kdir=${kdirs[i]}
	ksrc=${ksrcs[i]}
	kver=${kdir##*/linux-headers-}
	# Headers inside a build root of their own (it has its make): built
	# there, with chroot, at the headers' own path.
	root=${kdir%/usr/src/linux-headers-*}
	[ -x "$root/usr/bin/make" ] || root=
	hdir=${kdir#"$root"}
	release=$(in_root make -s -C "$hdir" kernelversion 2> /dev/null)
	series=$(echo "$release" | cut -d. -f1-2)
	tree=$TOP/build/matrix/$kver
	log=$tree.log
	rm -rf "$tree"
	mkdir -p "$tree"
	(cd "$TOP" && git ls-files -co --exclude-standard Kbuild compat drivers include |
	 xargs cp --parents -t "$tree")
	if [ -n "$root" ]; then
		rm -rf "$root/build/$kver"
		cp -a "$tree" "$root/build/$kver"
		kbtf=
		in_root sh -c 'command -v pahole' > /dev/null ||
			kbtf=CONFIG_DEBUG_INFO_BTF_MODULES=
		in_root make -C "$hdir" M="/build/$kver" KCFLAGS=-Werror $kbtf \
			modules > "$log" 2>&1
		rc=$?
		# The result where the other kernels' is (vmcheck.sh takes the
		# modules from there); the log names the root's copy.
		rm -rf "$tree" && cp -a "$root/build/$kver" "$tree" && rm -rf "$root/build/$kver"
	else
		make -C "$kdir" M="$tree" KCFLAGS=-Werror $btf modules > "$log" 2>&1
		rc=$?
	fi
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
