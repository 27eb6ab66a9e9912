#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test bed's debug kernel: Linux 6.12 from the same linux-source-6.12
# .deb as the test bed's Debian kernel, configured x86_64_defconfig +
# kvm_guest.config + scripts/testbed/debug.config (KASAN, lockdep, UBSAN,
# kmemleak, DMA-API debug, fault injection, gcov of our drivers, ...),
# with our two drivers copied into the tree and hooked into its Kconfig
# and Makefiles, so they build in the tree as modules.  VM_KERNEL=debug
# (vmcheck.sh) boots L1 on it.
#
# The kernel is cached in $VDMABUF_CACHE/kernel-debug/KEY/, KEY a hash of
# the source package's version, debug.config, the compiler's version and
# the functions of this script that unpack, configure and build it (not
# those that handle our
# modules, which every run rebuilds when they changed): a cold
# build takes ~40 min or more on 2 cores (niced, make -j2), a warm run
# seconds.  Each run copies this checkout's drivers into the cached tree,
# rebuilds them there when they changed, and leaves them with an env file
# for vmcheck.sh in build/debug-kernel/.  The log of the run is
# build/logs/debug-kernel.log.
#
# Usage: debug-kernel.sh
# Environment: DEBUG_KERNEL_JOBS (make -j, default 2).

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
SELF=$TOP/scripts/testbed/debug-kernel.sh
FRAGMENT=$TOP/scripts/testbed/debug.config
CACHE=${VDMABUF_CACHE:-$HOME/.cache/vdmabuf}
OUT=$TOP/build/debug-kernel
LOG=$TOP/build/logs/debug-kernel.log
JOBS=${DEBUG_KERNEL_JOBS:-2}
T0=$(date +%s)

say() { printf '[debug-kernel %5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { say "FAILED: $*"; exit 1; }
mins() { printf '%d min %d s' $(($1 / 60)) $(($1 % 60)); }

# Everything here, make included, at the lowest priority: the machine's
# two cores also run VM tests.
renice -n 19 -p $$ > /dev/null

mkdir -p "$OUT" "$(dirname "$LOG")" "$CACHE/kernel-debug"

# One run at a time per cache: the tree is shared by every checkout.  A
# cold build took 58 min here beside the VM tests; who waits longer than
# DEBUG_KERNEL_LOCK_WAIT (default 75 min) for the lock gives up.
exec 9> "$CACHE/kernel-debug/.lock"
if ! flock -n 9; then
	say "waiting for another debug-kernel.sh (at most ${DEBUG_KERNEL_LOCK_WAIT:-4500} s)"
	flock -w "${DEBUG_KERNEL_LOCK_WAIT:-4500}" 9 ||
		die "another debug-kernel.sh held $CACHE/kernel-debug/.lock for ${DEBUG_KERNEL_LOCK_WAIT:-4500} s"
fi
: > "$LOG"

DEB=$(bash "$TOP/scripts/testbed/setup.sh" kernel-source 2>> "$LOG") ||
	die "no linux-source-6.12 .deb (log: $LOG)"
PKGVER=$(dpkg-deb -f "$DEB" Version) || die "dpkg-deb -f $DEB"
# cp, but only when the contents differ: unchanged files keep their
# mtime, so make rebuilds only what changed.
put() {	# SRC DST
	cmp -s "$1" "$2" && return 0
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2"
}

unpack() {
	[ -f "$S/.unpacked" ] && return 0
	say "unpacking $(basename "$DEB") into $S"
	rm -rf "$D"
	mkdir -p "$S"
	dpkg-deb --fsys-tarfile "$DEB" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz |
		tar -xJ --strip-components=1 -C "$S" || die "unpack $DEB"
	# The pristine files the hook rewrites.
	for f in drivers/vhost/Kconfig drivers/vhost/Makefile \
		 drivers/virtio/Kconfig drivers/virtio/Makefile; do
		cp "$S/$f" "$S/$f.vdmabuf-orig" || die "no $f in the source"
	done
	touch "$S/.unpacked"
}

# The project's Kconfig entry for one symbol.
kconfig_entry() {	# SYMBOL
	awk -v sym="$1" '/^config /{ on = ($2 == sym) } on' "$TOP/Kconfig"
}

# The tree's Kconfig with our entry inside its menu, before the last endif
# (VHOST_MENU, VIRTIO_MENU), where the project's Kconfig says it goes.
hook_kconfig() {	# DIR SYMBOL
	local orig=$S/$1/Kconfig.vdmabuf-orig n
	n=$(grep -n '^endif' "$orig" | tail -n1 | cut -d: -f1)
	[ -n "$n" ] || die "no endif in $1/Kconfig"
	[ -n "$(kconfig_entry "$2")" ] || die "no entry for $2 in Kconfig"
	{
		head -n $((n - 1)) "$orig"
		kconfig_entry "$2"
		tail -n +"$n" "$orig"
	} > "$D/hook.tmp"
	put "$D/hook.tmp" "$S/$1/Kconfig"
}

# The tree's Makefile with the project's per-directory Kbuild appended.
# Linux 6.12 still wants MODULE_IMPORT_NS(DMA_BUF) without quotes: the
# compat header the out-of-tree build force-includes does the same here.
hook_makefile() {	# DIR OBJECT
	{
		cat "$S/$1/Makefile.vdmabuf-orig"
		echo
		echo "# vdmabuf: the project's $1/Kbuild (scripts/testbed/debug-kernel.sh)"
		grep -v '^# SPDX' "$TOP/$1/Kbuild"
		echo "CFLAGS_$2 += -include \$(srctree)/vdmabuf-compat/compat.h"
	} > "$D/hook.tmp"
	put "$D/hook.tmp" "$S/$1/Makefile"
}

# Our drivers, UAPI headers, Kconfig entries and Kbuild into the tree.
hook() {
	local h
	put "$TOP/drivers/vhost/vdmabuf.c" "$S/drivers/vhost/vdmabuf.c"
	put "$TOP/drivers/virtio/virtio_vdmabuf.c" "$S/drivers/virtio/virtio_vdmabuf.c"
	for h in "$TOP"/include/uapi/linux/*.h; do
		put "$h" "$S/include/uapi/linux/$(basename "$h")"
	done
	put "$TOP/compat/compat.h" "$S/vdmabuf-compat/compat.h"
	hook_kconfig drivers/vhost VHOST_VDMABUF
	hook_kconfig drivers/virtio VIRTIO_VDMABUF
	hook_makefile drivers/vhost vdmabuf.o
	hook_makefile drivers/virtio virtio_vdmabuf.o
	hook_drm
	rm -f "$D/hook.tmp"
}

# The KMS driver: a directory of its own, its in-kernel client API, and a
# line in drm's Makefile.  A tree unpacked before the driver existed has
# no pristine copy of drm's Kconfig and Makefile yet: they are still
# pristine, take one now.
hook_drm() {
	local f
	for f in drivers/gpu/drm/Kconfig drivers/gpu/drm/Makefile; do
		[ -f "$S/$f.vdmabuf-orig" ] || cp "$S/$f" "$S/$f.vdmabuf-orig"
	done
	for f in "$TOP"/drivers/gpu/drm/vdmabuf/*.[ch]; do
		# Not the out-of-tree build's generated modinfo: the tree's
		# own says intree.
		case $f in *.mod.c) continue ;; esac
		put "$f" "$S/drivers/gpu/drm/vdmabuf/$(basename "$f")"
	done
	# One copied there before this check existed: modpost writes the
	# tree's own again once an object is newer than its last run.
	f=$S/drivers/gpu/drm/vdmabuf/vdmabuf_drm
	if [ -f "$f.o" ] && ! grep -qs 'MODULE_INFO(intree' "$f.mod.c"; then
		rm -f "$f.mod.c" "$f.mod.o" "$f.ko"
		touch "$f.o"
	fi
	{
		cat "$TOP/drivers/gpu/drm/vdmabuf/Kbuild"
		echo "ccflags-y += -include \$(srctree)/vdmabuf-compat/compat.h"
	} > "$D/hook.tmp"
	put "$D/hook.tmp" "$S/drivers/gpu/drm/vdmabuf/Kbuild"
	put "$TOP/include/linux/vdmabuf_client.h" "$S/include/linux/vdmabuf_client.h"
	hook_kconfig drivers/gpu/drm DRM_VDMABUF
	{
		cat "$S/drivers/gpu/drm/Makefile.vdmabuf-orig"
		echo
		echo "# vdmabuf: the KMS driver (scripts/testbed/debug-kernel.sh)"
		echo "obj-\$(CONFIG_DRM_VDMABUF) += vdmabuf/"
	} > "$D/hook.tmp"
	put "$D/hook.tmp" "$S/drivers/gpu/drm/Makefile"
}

kmake() { nice -n 19 make -C "$S" -j"$JOBS" "$@" >> "$LOG" 2>&1; }

# Every line of debug.config must have survived the merge.
verify_config() {
	local line sym bad=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF -- "$line" "$S/.config" && continue ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			grep -q "^$sym=" "$S/.config" || continue ;;
		*)	continue ;;
		esac
		sym=${line#\# }; sym=${sym%%[= ]*}
		bad+=("$line (.config: $(grep -E "^(# )?$sym[= ]" "$S/.config" || echo absent))")
	done < "$FRAGMENT"
	[ ${#bad[@]} -eq 0 ] && return 0
	printf '    dropped: %s\n' "${bad[@]}"
	die "${#bad[@]} option(s) of debug.config not in the merged .config ($S/.config)"
}

configure() {
	local kvm
	for kvm in arch/x86/configs/kvm_guest.config kernel/configs/kvm_guest.config; do
		[ -f "$S/$kvm" ] && break
	done
	[ -f "$S/$kvm" ] || die "no kvm_guest.config in the source"
	say "configuring: x86_64_defconfig + $kvm + debug.config"
	kmake x86_64_defconfig || die "make x86_64_defconfig (log: $LOG)"
	( cd "$S" && scripts/kconfig/merge_config.sh -m .config "$kvm" "$FRAGMENT" ) \
		>> "$LOG" 2>&1 || die "merge_config.sh (log: $LOG)"
	kmake olddefconfig || die "make olddefconfig (log: $LOG)"
	verify_config
	say "configured: all $(grep -c -E '^(CONFIG_|# CONFIG_.* is not set)' "$FRAGMENT") options of debug.config in .config"
}

# make in the background, a line a minute: .o files so far (of about as
# many as the last full build made) and what it compiles.
build_kernel() {
	local pid t=$SECONDS rc n total
	total=$(cat "$CACHE/kernel-debug/objects" 2>/dev/null)
	say "building vmlinux and modules (nice -n 19 make -j$JOBS; ~40 min or more cold on 2 cores)"
	kmake vmlinux modules &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		[ $((SECONDS - t)) -lt 60 ] && continue
		t=$SECONDS
		n=$(find "$S" -name '*.o' | wc -l)
		say "building: $n .o files${total:+ of about $total}; $(grep -E '^  (CC|LD|AR)' "$LOG" | tail -n1 | sed 's/^ *//')"
	done
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "---- last 60 lines of $LOG ----"
		tail -n 60 "$LOG"
		die "kernel build (exit $rc; full log: $LOG)"
	fi
	find "$S" -name '*.o' | wc -l > "$CACHE/kernel-debug/objects"
}

# The guest tests' moving exporter (selftests/vdmabuf/dmabuf_mover), a
# test module: built against the tree, out of it, as against Debian's
# kernel, in a copy that keeps its Kbuild's relative compat.h path.
build_mover() {
	local m=$S/vdmabuf-test/selftests/vdmabuf/dmabuf_mover f
	for f in "$TOP"/selftests/vdmabuf/dmabuf_mover/{Kbuild,*.[ch]}; do
		case $f in *.mod.c) continue ;; esac
		put "$f" "$m/$(basename "$f")"
	done
	put "$TOP/compat/compat.h" "$S/vdmabuf-test/compat/compat.h"
	kmake M="$m" modules || {
		tail -n 60 "$LOG"
		die "dmabuf_mover against the debug kernel (full log: $LOG)"
	}
	cp "$m/dmabuf_mover.ko" "$OUT/"
}

# Our drivers must build clean in the tree.
check_warnings() {
	local w
	w=$(grep -E '(drivers/vhost/vdmabuf|drivers/virtio/virtio_vdmabuf|drivers/gpu/drm/vdmabuf/[a-z_]+|dmabuf_mover/dmabuf_mover)\.c:[0-9]+:[0-9]+: (warning|error)|modpost: .*((vhost|virtio)_vdmabuf|vdmabuf_drm|dmabuf_mover)' "$LOG")
	[ -z "$w" ] && return 0
	echo "$w"
	die "warnings in our drivers' in-tree build (log: $LOG)"
}

modules_install() {
	rm -rf "$D/root"
	kmake INSTALL_MOD_PATH="$D/root" modules_install ||
		die "make modules_install (log: $LOG)"
}

# DMA-API debugging's text (kernel/dma/debug.c), for the fault injection
# to leave alone (faults.sh): "FIRST LAST SIZE", its first and last
# function and the last one's size, in hex.
dma_debug_text() {
	objdump -t "$S/kernel/dma/debug.o" |
		awk '$4 == ".text" && $3 == "F" { print $1, $NF, $5 }' | sort |
		awk 'NR == 1 { f = $2 } { l = $2; z = $3 } END { if (f != "") print f, l, "0x" z }'
}

# This checkout's two modules, built in the tree, and what vmcheck.sh
# needs to boot the kernel.
export_modules() {
	local krel m dma
	krel=$(cat "$D/KRELEASE")
	dma=$(dma_debug_text)
	# shellcheck disable=SC2086 # three words
	[ "$(echo $dma | wc -w)" = 3 ] ||
		die "no first and last function in kernel/dma/debug.o's .text ('$dma')"
	for m in drivers/vhost/vhost_vdmabuf.ko drivers/virtio/virtio_vdmabuf.ko \
		 drivers/gpu/drm/vdmabuf/vdmabuf_drm.ko; do
		[ "$(/sbin/modinfo -F intree "$S/$m" 2>/dev/null)" = Y ] ||
			die "$m is not an in-tree module (modinfo intree)"
		[ "$(/sbin/modinfo -F vermagic "$S/$m" | cut -d' ' -f1)" = "$krel" ] ||
			die "$m is not built for $krel"
		cp "$S/$m" "$OUT/"
	done
	# Where vmcheck.sh reads the kernel's dma-buf options, as Debian's.
	mkdir -p "$D/root/boot"
	cp "$S/.config" "$D/root/boot/config-$krel"
	cat > "$OUT/env" <<-ENV
	DEBUG_KVER=$krel
	DEBUG_KROOT=$D/root
	DEBUG_VMLINUX=$S/vmlinux
	DEBUG_HOSTMOD=$OUT/vhost_vdmabuf.ko
	DEBUG_GUESTMOD=$OUT/virtio_vdmabuf.ko
	DEBUG_KMSMOD=$OUT/vdmabuf_drm.ko
	DEBUG_MOVERMOD=$OUT/dmabuf_mover.ko
	DEBUG_GCNO=$OUT/gcno
	DEBUG_DMA_TEXT="$dma"
	ENV
	# What gcov needs of this build to read the runs' data (the notes
	# file, the source and its directory's headers, such as vhost.h, at
	# their paths in the tree), kept here: the tree is shared, and
	# another checkout may build in it later.
	rm -rf "$OUT/gcno"
	for m in drivers/vhost/vdmabuf drivers/virtio/virtio_vdmabuf \
		 drivers/gpu/drm/vdmabuf/vdmabuf_drv drivers/gpu/drm/vdmabuf/vdmabuf_kms; do
		mkdir -p "$OUT/gcno/$(dirname "$m")"
		cp "$S/$m.gcno" "$S/$m.c" "$OUT/gcno/$(dirname "$m")/" ||
			die "$m.gcno: our drivers are built with gcov (debug.config, Kbuild)"
		find "$S/$(dirname "$m")" -maxdepth 1 -name '*.h' \
			-exec cp {} "$OUT/gcno/$(dirname "$m")/" \;
	done
	mkdir -p "$OUT/gcno/vdmabuf-compat"
	cp "$S/vdmabuf-compat/compat.h" "$OUT/gcno/vdmabuf-compat/"
}

# What the modules are built from, to skip make when nothing changed:
# their sources and this script's functions that build them.
inputs_key() {
	{
		echo "$KEY"
		sed -n '/^\(put\|kconfig_entry\|hook[a-z_]*\|build_mover\|check_warnings\|export_modules\|dma_debug_text\)() {/,/^}/p' "$SELF"
		grep '^kmake()' "$SELF"
		cat "$TOP"/drivers/vhost/vdmabuf.c "$TOP"/drivers/virtio/virtio_vdmabuf.c \
		    "$TOP"/drivers/*/Kbuild "$TOP"/Kconfig "$TOP"/compat/compat.h \
		    "$TOP"/include/uapi/linux/*.h "$TOP"/include/linux/vdmabuf_client.h \
		    "$TOP"/drivers/gpu/drm/vdmabuf/{Kbuild,*.[ch]} \
		    "$TOP"/selftests/vdmabuf/dmabuf_mover/{Kbuild,dmabuf_mover.[ch]}
	} | sha256sum | cut -c1-16
}

# The cache key: what decides the kernel the tree builds, the compiler
# included (our modules must be built by vmlinux's).
CC_TEXT=$(gcc --version | head -n1)
key_of() {	# [COMPILER]
	{ echo "$PKGVER"; cat "$FRAGMENT"
	  sed -n '/^\(unpack\|configure\|verify_config\|build_kernel\)() {/,/^}/p' "$SELF"
	  [ -z "${1:-}" ] || echo "$1"
	} | sha256sum | cut -c1-16
}
KEY=$(key_of "$CC_TEXT")
D=$CACHE/kernel-debug/$KEY
S=$D/src

# A cache made before the key had the compiler in it (2026-12-07) is
# taken, linked under the new key, when its .config names this compiler.
old=$CACHE/kernel-debug/$(key_of)
if [ ! -e "$D" ] && [ -f "$old/.done" ] &&
   grep -qxF "CONFIG_CC_VERSION_TEXT=\"$CC_TEXT\"" "$old/src/.config"; then
	ln -s "$(basename "$old")" "$D"
	say "the cache $(basename "$old"), built by $CC_TEXT, is now $KEY"
fi

if [ -f "$D/.done" ]; then
	if [ "$(cat "$OUT/.inputs" 2>/dev/null)" = "$(inputs_key)" ] &&
	   [ -f "$OUT/env" ] && [ -d "$OUT/gcno" ]; then
		say "$(cat "$D/KRELEASE") ($KEY): cached, modules up to date"
		exit 0
	fi
	say "$(cat "$D/KRELEASE") ($KEY): cached; rebuilding our modules in its tree"
	hook
	kmake modules || {
		tail -n 60 "$LOG"
		die "modules (full log: $LOG)"
	}
	check_warnings
	build_mover
	export_modules
	inputs_key > "$OUT/.inputs"
	say "modules ready in $OUT"
	exit 0
fi

say "no cached build for $PKGVER + debug.config + this script ($KEY): building"
rm -f "$OUT/.inputs" "$OUT/env"
unpack
hook
configure
t=$SECONDS
build_kernel
check_warnings
make -s -C "$S" kernelrelease > "$D/KRELEASE" 2>> "$LOG" || die "make kernelrelease"
modules_install
build_mover
export_modules
echo $((SECONDS - t)) > "$D/BUILD_SECONDS"
cp "$LOG" "$D/build.log"
touch "$D/.done"
inputs_key > "$OUT/.inputs"
say "built $(cat "$D/KRELEASE") in $(mins $((SECONDS - t))) (make only; whole run $(mins $(($(date +%s) - T0)))): $S/vmlinux, modules in $D/root"
