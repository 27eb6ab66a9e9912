#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test-bed set-up for vdmabuf on a Debian 12 amd64 machine.
#
# Installs the build tools with apt, then fetches through a *private* apt
# configuration kept in the cache (the machine's apt sources are never
# touched):
#   - Debian's 6.12 kernel for Debian 12 (bookworm-backports): image, headers,
#     kbuild and linux-source, unpacked into the cache, never installed as a
#     boot kernel;
#   - for the build matrix, Debian 12's own 6.1 and the newest kernel Debian
#     ships (Debian 13's backports, through a private Debian 13 apt
#     configuration of its own) with a Debian 13 build root for it (its
#     gcc-14; kernel-new below);
#   - meson 1.7 and pycotap, unpacked into the cache;
#   - Debian 13's QEMU 10.0.x source package, unpacked with dpkg-source.
# Then builds QEMU with every patch in qemu-patches/ applied in order.
#
# Everything lands under $VDMABUF_CACHE (default ~/.cache/vdmabuf); the QEMU
# build is keyed on the QEMU version, the configure flags and the hashes of
# the patches, so a second run (or a fresh clone) reuses it.
#
# Usage: setup.sh [all|host-packages|kernel|kernel-6.1|kernel-new|modetest|weston|kernel-source|qemu|env]
#   env prints shell assignments (KVER, KDIR, KSRC, QEMU, ...) for make;
#   kernel-source prints the path of the linux-source-6.12 .deb of the
#   same upload as the kernel (debug-kernel.sh builds a kernel from it).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VDMABUF_CACHE:-$HOME/.cache/vdmabuf}
APTDIR=$CACHE/apt
T0=$(date +%s)

say() { printf '[setup %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

HOST_PACKAGES=(
	build-essential bc bison flex kmod cpio xz-utils zstd gawk
	dpkg-dev fakeroot git pkg-config python3 python3-venv ninja-build
	sparse busybox-static qemu-system-data seabios
	libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
	libpng-dev libdrm-dev rsync groff-base jq dkms
	libelf-dev libssl-dev
)

host_packages() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "apt: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]}"
}

# Private apt configuration: bookworm and bookworm-security (Debian 12's
# own 6.1 kernel, for the build matrix), bookworm-backports (kernel 6.12
# built for Debian 12, meson 1.7, pycotap) and trixie sources (QEMU
# 10.0.x).
APT_OPTS=()
private_apt() {
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial"
	cat > "$APTDIR/sources.list" <<-SRC
	deb http://deb.debian.org/debian bookworm main
	deb http://deb.debian.org/debian-security bookworm-security main
	deb http://deb.debian.org/debian bookworm-backports main
	deb http://deb.debian.org/debian trixie main
	deb-src http://deb.debian.org/debian trixie main
	SRC
	APT_OPTS=(-o Dir::Etc::SourceList="$APTDIR/sources.list"
		  -o Dir::Etc::SourceParts=/dev/null
		  -o Dir::State::Lists="$APTDIR/lists"
		  -o Dir::Cache="$APTDIR/cache"
		  -o Dir::Cache::archives="$APTDIR/archives"
		  -o APT::Get::List-Cleanup=0
		  -o APT::Sandbox::User=root
		  -o Debug::NoLocking=1)
	if [ "${1:-}" = refresh ] ||
	   ! ls "$APTDIR"/lists/*trixie*Sources* >/dev/null 2>&1 ||
	   ! ls "$APTDIR"/lists/*_dists_bookworm-security_main_binary-amd64_Packages* >/dev/null 2>&1; then
		say "apt: updating the private lists (bookworm and its security updates, bookworm-backports, trixie)"
		apt-get "${APT_OPTS[@]}" update -qq >/dev/null || die "private apt-get update"
	fi
}

papt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# Download a binary package SPEC (NAME or NAME=VERSION) into DIR/debs with
# the apt options of the array named OPTS, and print its path; if the
# mirror has moved on, REFRESH (the lists' set-up function) refreshes the
# lists once.
apt_fetch_deb() {	# DIR OPTS REFRESH SPEC
	local dir=$1 refresh=$3 spec=$4 pkg=${4%%=*} ver= f
	local -n opts=$2
	[ "$spec" != "$pkg" ] && ver=${spec#*=}
	# apt-get download names files NAME_VERSION_ARCH.deb with ':' as %3a.
	f=("$dir/debs/${pkg}_${ver//:/%3a}"*.deb)
	if [ -e "${f[0]}" ]; then echo "${f[0]}"; return 0; fi
	mkdir -p "$dir/debs"
	( cd "$dir/debs" && apt-get "${opts[@]}" download -qq "$spec" >/dev/null 2>&1 ) || {
		"$refresh" refresh
		( cd "$dir/debs" && apt-get "${opts[@]}" download -qq "$spec" >/dev/null ) ||
			die "download $spec"
	}
	f=("$dir/debs/${pkg}_${ver//:/%3a}"*.deb)
	[ -e "${f[0]}" ] || die "download $spec: no .deb"
	echo "${f[0]}"
}

fetch_deb() { apt_fetch_deb "$APTDIR" APT_OPTS private_apt "$1"; }

# Fetch each package SPEC with FETCH (fetch_deb, tx_fetch_deb) and unpack it
# into ROOT.
unpack_debs() {	# FETCH ROOT SPEC...
	local fetch=$1 root=$2 deb
	shift 2
	for deb in "$@"; do
		deb=$("$fetch" "$deb") || exit 1
		dpkg-deb -x "$deb" "$root" || die "unpack $deb"
	done
}

# The newest Debian-12 6.12 kernel flavour "amd64" that has headers, image
# and source on the mirror; remembered in the cache so later runs agree.
kernel_version() {
	if [ -s "$CACHE/kernel/KVER" ]; then cat "$CACHE/kernel/KVER"; return; fi
	papt_cache pkgnames linux-headers-6.12. |
		sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' |
		sort -V | sed -n '$p'
}

# The headers' top Makefile includes the common headers by absolute path
# (/usr/src/...); point it into the cache.  Idempotent.
kernel_fixup() {
	sed -i "s|^include /usr/src/|include $1/root/usr/src/|" \
		"$1/root/usr/src/linux-headers-$2/Makefile"
}

# The uncompressed kernel, for both VMs: QEMU enters it through its PVH
# note with qboot as firmware (no BIOS POST, no self-decompression), which
# takes ~50 s off the nested L2 boot.  The bzImage payload is one zstd
# frame.
kernel_vmlinux() {	# DIR KVER
	local img=$1/root/boot/vmlinuz-$2 out=$1/vmlinux-$2 off
	[ -s "$out" ] && return 0
	# No match is no error here: the xz payload is looked for next.
	off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$img" | head -n1 | cut -d: -f1) || off=
	if [ -n "$off" ]; then
		# zstd complains about the bzImage's trailer after the frame.
		tail -c +$((off + 1)) "$img" | zstd -dcq > "$out.tmp" 2>/dev/null || :
	else
		# Debian's 6.1 compresses with xz: one stream, then the trailer.
		off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | head -n1 | cut -d: -f1) || off=
		[ -n "$off" ] || die "no zstd or xz payload in $img"
		tail -c +$((off + 1)) "$img" | xz -dcq --single-stream > "$out.tmp" 2>/dev/null || :
	fi
	[ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		die "decompressed payload of $img is not an ELF file"
	mv "$out.tmp" "$out"
}

kernel() {
	private_apt
	local kver abi d deb pkgver
	kver=$(kernel_version)
	[ -n "$kver" ] || die "no linux-headers-6.12.*+deb12-amd64 on the mirror"
	abi=${kver%-amd64}
	d=$CACHE/kernel
	if [ -f "$d/.done-$kver" ]; then
		kernel_fixup "$d" "$kver"
		kernel_vmlinux "$d" "$kver"
		return 0
	fi
	# linux-source-6.12 exists in several versions (bookworm-backports,
	# trixie): take the one built from the same upload as the headers.
	pkgver=$(papt_cache show "linux-headers-$kver" |
		 sed -n 's/^Version: //p' | sort -V | sed -n '$p')
	[ -n "$pkgver" ] || die "no version for linux-headers-$kver"
	say "kernel: fetching $kver ($pkgver: image, headers, kbuild, source)"
	rm -rf "$d"; mkdir -p "$d/root"
	for deb in "linux-image-$kver-unsigned" "linux-headers-$kver" \
		   "linux-headers-$abi-common" "linux-kbuild-${abi}" \
		   "linux-source-6.12=$pkgver"; do
		deb=$(fetch_deb "$deb")
		say "kernel: unpacking $(basename "$deb")"
		dpkg-deb -x "$deb" "$d/root"
	done
	# The image ships no modules.dep; make one so modprobe works in the VMs.
	depmod -b "$d/root" "$kver" || die "depmod"
	# Only the few files the modules and tests need from the full source:
	# the private vhost.h, the kselftest harness and checkpatch.
	say "kernel: extracting vhost.h, kselftest_harness.h and checkpatch from linux-source-6.12"
	mkdir -p "$d/src"
	tar -C "$d/src" --strip-components=1 -xf "$d"/root/usr/src/linux-source-6.12.tar.xz \
		--wildcards \
		'*/drivers/vhost/vhost.h' \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/scripts/checkpatch.pl' \
		'*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' \
		'*/scripts/kernel-doc' \
		'*/Documentation/userspace-api/ioctl/ioctl-number.rst' \
		'*/include/uapi/linux/vhost.h' \
		'*/include/uapi/linux/virtio_ids.h' ||
		die "extract from linux-source-6.12"
	rm -f "$d"/root/usr/src/linux-source-6.12.tar.xz
	echo "$kver" > "$d/KVER"
	kernel_fixup "$d" "$kver"
	kernel_vmlinux "$d" "$kver"
	touch "$d/.done-$kver"
	say "kernel: $kver ready"
}

# The build matrix's other kernel: Debian 12's own 6.1, its headers (and
# its source's private vhost.h, to check compat/vhost/6.1/ against) in
# $CACHE/kernel-6.1/{root,src}; the newest ABI the mirror has, remembered
# in KVER so that later runs agree.  The image and modules too, for
# VM_KERNEL=6.1 (an L1 VM on it, scripts/testbed/vmcheck.sh).
kernel_61() {
	private_apt
	local d=$CACHE/kernel-6.1 kver abi deb pkgver
	if [ -s "$d/KVER" ] && [ -f "$d/.done-$(cat "$d/KVER")" ] &&
	   [ -s "$d/vmlinux-$(cat "$d/KVER")" ]; then
		return 0
	fi
	kver=$(papt_cache pkgnames linux-headers-6.1.0- |
	       sed -n 's/^linux-headers-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' |
	       sort -V | sed -n '$p')
	[ -n "$kver" ] || die "no linux-headers-6.1.0-*-amd64 on the mirror"
	abi=${kver%-amd64}
	pkgver=$(papt_cache show "linux-headers-$kver" |
		 sed -n 's/^Version: //p' | sort -V | sed -n '$p')
	say "kernel 6.1: fetching the headers of $kver ($pkgver) and its vhost.h"
	rm -rf "$d"; mkdir -p "$d/root" "$d/src"
	unpack_debs fetch_deb "$d/root" "linux-headers-$kver" \
		"linux-headers-$abi-common" "linux-kbuild-6.1=$pkgver" \
		"linux-source-6.1=$pkgver" "linux-image-$kver-unsigned"
	tar -C "$d/src" --strip-components=1 -xf "$d"/root/usr/src/linux-source-6.1.tar.xz \
		--wildcards '*/drivers/vhost/vhost.h' 'linux-source-6.1/Makefile' ||
		die "extract from linux-source-6.1"
	rm -f "$d"/root/usr/src/linux-source-6.1.tar.xz
	kernel_fixup "$d" "$kver"
	depmod -b "$d/root" "$kver" || die "depmod 6.1"
	kernel_vmlinux "$d" "$kver"
	echo "$kver" > "$d/KVER"
	touch "$d/.done-$kver"
	say "kernel 6.1: $kver ready"
}

# The build matrix's newest kernel: the newest Debian ships, from Debian
# 13's backports (trixie-backports), built with Debian 13's compiler.  A
# private apt configuration of its own, $CACHE/apt-trixie (trixie and
# trixie-backports only: the one above keeps resolving as before), and a
# small Debian 13 build root in $CACHE/kernel-new/root, never booted and
# never installed: the compiler the kernel was configured with (gcc-14;
# this machine's gcc-12 rejects its flags, and a module is built with its
# kernel's compiler), make, binutils, pahole and the few tools kbuild runs,
# unpacked from their .debs, with the kernel's headers and kbuild at their
# own /usr/src paths.  matrix.sh builds in it with chroot.  The version:
# the newest linux-headers-*+deb13-amd64 of the newest series, remembered
# in $CACHE/kernel-new/KVER so that later runs agree.
TX_APTDIR=$CACHE/apt-trixie
TX_APT_OPTS=()
trixie_apt() {
	mkdir -p "$TX_APTDIR/lists/partial" "$TX_APTDIR/archives/partial"
	cat > "$TX_APTDIR/sources.list" <<-SRC
	deb http://deb.debian.org/debian trixie main
	deb http://deb.debian.org/debian trixie-backports main
	SRC
	# An empty dpkg status: apt resolves for the build root, not for
	# this machine.
	TX_APT_OPTS=(-o Dir::Etc::SourceList="$TX_APTDIR/sources.list"
		     -o Dir::Etc::SourceParts=/dev/null
		     -o Dir::State::Lists="$TX_APTDIR/lists"
		     -o Dir::State::status=/dev/null
		     -o Dir::State::extended_states=/dev/null
		     -o Dir::Cache="$TX_APTDIR/cache"
		     -o Dir::Cache::archives="$TX_APTDIR/archives"
		     -o APT::Architecture=amd64
		     -o APT::Architectures::=amd64
		     -o APT::Get::List-Cleanup=0
		     -o APT::Sandbox::User=root
		     -o Debug::NoLocking=1)
	if [ "${1:-}" = refresh ] ||
	   ! ls "$TX_APTDIR"/lists/*_dists_trixie-backports_main_binary-amd64_Packages* >/dev/null 2>&1 ||
	   ! ls "$TX_APTDIR"/lists/*_dists_trixie_main_binary-amd64_Packages* >/dev/null 2>&1; then
		say "apt: updating the private Debian 13 lists (trixie, trixie-backports)"
		apt-get "${TX_APT_OPTS[@]}" update -qq >/dev/null || die "private apt-get update (trixie)"
	fi
}

tx_apt_cache() { apt-cache "${TX_APT_OPTS[@]}" "$@"; }

# fetch_deb for Debian 13: one package, no dependencies.
tx_fetch_deb() { apt_fetch_deb "$TX_APTDIR" TX_APT_OPTS trixie_apt "$1"; }

# What kbuild runs to build a module: the compiler and binutils, make,
# pahole (module BTF), a shell and the usual tools; apt adds the libraries.
TX_ROOT_PKGS=(gcc-14 binutils make pahole libc6-dev libelf1t64 libssl3t64
	      zlib1g dash bash coreutils sed grep mawk findutils diffutils)

# Debian 13's toolchain into ROOT: the packages TX_ROOT_PKGS needs,
# resolved against an empty system, downloaded by apt at once (into
# $TX_APTDIR/archives, kept) and unpacked; what the maintainer scripts
# would have made (merged /usr, /bin/sh, awk) made by hand.
tx_build_root() {	# ROOT
	local root=$1 specs f n=0
	specs=$(apt-get "${TX_APT_OPTS[@]}" install -s -qq --no-install-recommends \
		"${TX_ROOT_PKGS[@]}" 2>/dev/null |
		sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p') ||
		die "resolve the Debian 13 build root"
	[ -n "$specs" ] || die "resolve the Debian 13 build root: no packages"
	say "kernel-new: fetching Debian 13's gcc-14 toolchain ($(wc -w <<< "$specs") packages)"
	apt-get "${TX_APT_OPTS[@]}" install -y -qq --download-only --no-install-recommends \
		"${TX_ROOT_PKGS[@]}" >/dev/null 2>&1 || {
		trixie_apt refresh
		apt-get "${TX_APT_OPTS[@]}" install -y -qq --download-only --no-install-recommends \
			"${TX_ROOT_PKGS[@]}" >/dev/null || die "download the Debian 13 build root"
	}
	mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/sbin"
	for f in bin lib lib64 sbin; do ln -sfn "usr/$f" "$root/$f"; done
	for f in $specs; do
		# apt names an archive NAME_VERSION_ARCH.deb, ':' as %3a
		f=("$TX_APTDIR/archives/${f%%=*}_$(sed 's/:/%3a/g' <<< "${f#*=}")_"*.deb)
		[ -e "${f[0]}" ] || die "no ${f[0]##*/} in $TX_APTDIR/archives"
		dpkg-deb -x "${f[0]}" "$root" || die "unpack ${f[0]}"
		n=$((n + 1))
	done
	[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
	[ -e "$root/usr/bin/awk" ] || ln -s mawk "$root/usr/bin/awk"
	mkdir -p "$root/dev" "$root/tmp" "$root/build"
	chmod 1777 "$root/tmp"
	[ -c "$root/dev/null" ] || { rm -f "$root/dev/null"; mknod -m 666 "$root/dev/null" c 1 3; } ||
		die "mknod $root/dev/null"
	chroot "$root" x86_64-linux-gnu-gcc-14 --version >/dev/null ||
		die "gcc-14 does not run in $root"
	say "kernel-new: $n packages unpacked in $root"
}

# The newest kernel itself, for VM_KERNEL=new (an L1 VM on it,
# scripts/testbed/vmcheck.sh): Debian packages 7.x's image as the kernel
# (linux-binary-*, signed: the payload is the same), its modules and its
# base files (config, System.map), unpacked in the build root too.
kernel_new_image() {	# DIR KVER PKGVER
	local d=$1 kver=$2 pkgver=$3 deb f
	[ -s "$d/vmlinux-$kver" ] && [ -f "$d/.image-$kver" ] && return 0
	say "kernel-new: fetching the image and modules of $kver"
	unpack_debs tx_fetch_deb "$d/root" "linux-binary-$kver=$pkgver" \
		"linux-modules-$kver=$pkgver" "linux-base-$kver=$pkgver"
	# 7.x ships them in the modules' directory; /boot as before 7.x
	# (and as kernel_vmlinux and vmcheck.sh expect) links there.
	for f in vmlinuz config System.map; do
		[ -e "$d/root/usr/lib/modules/$kver/$f" ] ||
			[ -e "$d/root/boot/$f-$kver" ] || die "no $f in the $kver packages"
		[ -e "$d/root/boot/$f-$kver" ] ||
			ln -s "../usr/lib/modules/$kver/$f" "$d/root/boot/$f-$kver"
	done
	depmod -b "$d/root" "$kver" || die "depmod $kver"
	kernel_vmlinux "$d" "$kver"
	touch "$d/.image-$kver"
}

# The newest version of linux-headers-KVER on the Debian 13 mirror.
tx_headers_version() {	# KVER
	local v
	v=$(tx_apt_cache show "linux-headers-$1" |
	    sed -n 's/^Version: //p' | sort -V | sed -n '$p')
	[ -n "$v" ] || die "no version for linux-headers-$1"
	echo "$v"
}

kernel_new() {
	trixie_apt
	local d=$CACHE/kernel-new kver abi series deb pkgver
	if [ -s "$d/KVER" ] && [ -f "$d/.done-$(cat "$d/KVER")" ]; then
		kver=$(cat "$d/KVER")
		[ -s "$d/vmlinux-$kver" ] && [ -f "$d/.image-$kver" ] && return 0
		pkgver=$(tx_headers_version "$kver") || exit 1
		kernel_new_image "$d" "$kver" "$pkgver"
		return 0
	fi
	kver=$(cat "$d/KVER" 2>/dev/null) || kver=
	if [ -z "$kver" ]; then
		# The newest series, then its newest release
		kver=$(tx_apt_cache pkgnames linux-headers- |
		       sed -n 's/^linux-headers-\([0-9]*\.[0-9]*\.[0-9]*+deb13-amd64\)$/\1/p' |
		       sort -V | sed -n '$p')
	fi
	[ -n "$kver" ] || die "no linux-headers-*+deb13-amd64 on the mirror"
	abi=${kver%-amd64}
	series=$(cut -d. -f1-2 <<< "$kver")
	pkgver=$(tx_headers_version "$kver") || exit 1
	say "kernel-new: Linux $kver ($pkgver) in a Debian 13 build root"
	rm -rf "$d"; mkdir -p "$d/root" "$d/src"
	tx_build_root "$d/root"
	say "kernel-new: fetching the headers, kbuild and linux-source-$series of $kver"
	unpack_debs tx_fetch_deb "$d/root" "linux-headers-$kver=$pkgver" \
		"linux-headers-$abi-common=$pkgver" "linux-kbuild-$abi=$pkgver"
	[ -x "$d/root/usr/bin/$(sed -n 's/^CC = .*(CROSS_COMPILE)//p' \
		"$d/root/usr/src/linux-headers-$kver/.kernelvariables")" ] ||
		say "kernel-new: warning: $kver's compiler is not in the build root"
	deb=$(tx_fetch_deb "linux-source-$series=$pkgver")
	say "kernel-new: extracting vhost.h from linux-source-$series"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xOf - "./usr/src/linux-source-$series.tar.xz" |
		tar -C "$d/src" --strip-components=1 -xJf - --wildcards \
			'*/drivers/vhost/vhost.h' "linux-source-$series/Makefile" ||
		die "extract from linux-source-$series"
	echo "$kver" > "$d/KVER"
	touch "$d/.done-$kver"
	kernel_new_image "$d" "$kver" "$pkgver"
	say "kernel-new: $kver ready"
}

# A Wayland compositor nobody here wrote, for the guest's KMS driver:
# Debian 12's weston 10 (DRM backend, pixman renderer, fullscreen shell,
# weston-simple-shm) and the libraries it needs beyond this machine's,
# bookworm's builds, unpacked in $CACHE/weston/root (1.9 MB of .debs).
WESTON_PKGS=(weston libweston-10-0 libinput10 libevdev2 libmtdev1 libwacom9
	     libgudev-1.0-0 libva2 libva-drm2 libwayland-server0
	     libwayland-client0 libxkbcommon0 libgbm1 libdbus-1-3)
weston() {
	private_apt
	local d=$CACHE/weston p v deb vers=
	for p in "${WESTON_PKGS[@]}"; do
		# Bookworm's (or its security update's): trixie's need a newer libc
		v=$(papt_cache madison "$p" | awk -F' [|] ' \
			'$3 ~ / bookworm(-security)?\// && !v { v = $2 } END { gsub(/ /, "", v); print v }')
		[ -n "$v" ] || die "no bookworm $p on the mirror"
		vers+="$p=$v "
	done
	if [ -x "$d/root/usr/bin/weston" ] && [ "$(cat "$d/VERSION" 2>/dev/null)" = "$vers" ]; then
		return 0
	fi
	say "weston: fetching ${#WESTON_PKGS[@]} packages (weston $(sed 's/.*weston=\([^ ]*\).*/\1/' <<< "$vers"))"
	rm -rf "$d"; mkdir -p "$d/root"
	for p in $vers; do
		deb=$(fetch_deb "$p")
		dpkg-deb -x "$deb" "$d/root" || die "unpack $deb"
	done
	[ -x "$d/root/usr/bin/weston" ] || die "weston has no /usr/bin/weston"
	echo "$vers" > "$d/VERSION"
}

# A KMS client nobody here wrote, for the guest: Debian 12's modetest
# (libdrm-tests) and the libdrm it was built with, run in L2 with this
# machine's libc (mkinitramfs.sh -e copies what it links).
modetest() {
	private_apt
	local d=$CACHE/modetest deb ver
	# Bookworm's: trixie's is built against a newer libc than ours
	ver=$(papt_cache madison libdrm-tests | awk -F' [|] ' '$3 ~ / bookworm\// && !v { v = $2 } END { print v }')
	[ -n "$ver" ] || die "no libdrm-tests on the mirror"
	if [ -x "$d/root/usr/bin/modetest" ] && [ "$(cat "$d/VERSION" 2>/dev/null)" = "$ver" ]; then
		return 0
	fi
	say "modetest: fetching libdrm-tests and libdrm2 $ver"
	rm -rf "$d"; mkdir -p "$d/root"
	for deb in "libdrm-tests=$ver" "libdrm2=$ver"; do
		deb=$(fetch_deb "$deb")
		dpkg-deb -x "$deb" "$d/root" || die "unpack $deb"
	done
	[ -x "$d/root/usr/bin/modetest" ] || die "libdrm-tests has no modetest"
	echo "$ver" > "$d/VERSION"
}

# The cached linux-source-6.12 .deb of the kernel's upload (kept in the
# cache after kernel() extracted its few files), fetched again if gone.
kernel_source_deb() {
	private_apt
	local kver pkgver
	kver=$(cat "$CACHE/kernel/KVER")
	pkgver=$(papt_cache show "linux-headers-$kver" |
		 sed -n 's/^Version: //p' | sort -V | sed -n '$p')
	[ -n "$pkgver" ] || die "no version for linux-headers-$kver"
	fetch_deb "linux-source-6.12=$pkgver"
}

pydeps() {
	private_apt
	local d=$CACHE/pydeps deb
	[ -f "$d/.done" ] && return 0
	rm -rf "$d"; mkdir -p "$d"
	say "qemu: fetching meson 1.7 and pycotap (bookworm-backports)"
	( cd "$APTDIR" && mkdir -p debs && cd debs &&
	  apt-get "${APT_OPTS[@]}" download -qq meson/bookworm-backports \
		python3-pycotap/bookworm-backports >/dev/null ) || die "download meson"
	for deb in "$APTDIR"/debs/meson_*.deb "$APTDIR"/debs/python3-pycotap_*.deb; do
		dpkg-deb -x "$deb" "$d"
	done
	touch "$d/.done"
}

QEMU_CONFIGURE=(
	--target-list=x86_64-softmmu
	--python=/usr/bin/python3
	--disable-install-blobs --disable-download
	--disable-docs --disable-werror --disable-debug-info
	--disable-gtk --disable-sdl --disable-opengl --disable-vnc
	--disable-spice --disable-curses --disable-xen
	--disable-tools --disable-guest-agent
	--enable-vhost-kernel
)

qemu_src() {
	private_apt
	local d=$CACHE/qemu-src
	if [ -f "$d/.done" ]; then cat "$d/.done"; return 0; fi
	say "qemu: fetching Debian 13's qemu source package"
	rm -rf "$d"; mkdir -p "$d"
	( cd "$d" && apt-get "${APT_OPTS[@]}" source --download-only -qq qemu/trixie >/dev/null ) ||
		die "apt-get source qemu"
	say "qemu: dpkg-source -x (applies Debian's own patches)"
	( cd "$d" && dpkg-source -x ./*.dsc src >/dev/null ) || die "dpkg-source -x qemu"
	[ -d "$d/src/debian/patches" ] || die "dpkg-source -x qemu: Debian patches missing"
	sed -n 's/^Version: //p' "$d"/*.dsc > "$d/version"
	rm -f "$d"/*.orig*.tar.* "$d"/*.debian.tar.*
	mv "$d/version" "$d/.done"
	cat "$d/.done"
}

qemu_key() {
	{
		cat "$CACHE/qemu-src/.done"
		printf '%s\n' "${QEMU_CONFIGURE[@]}"
		cat "$TOP"/qemu-patches/*.patch 2>/dev/null || true
	} | sha256sum | cut -c1-16
}

# The firmware QEMU run from its build tree needs for the qtest's q35
# (started without -L): Debian's SeaBIOS, linked into the tree's
# qemu-bundle, where QEMU looks when it runs from there.
qemu_firmware() {
	local fw=$1/qemu-bundle/usr/local/share/qemu f=bios-256k.bin
	mkdir -p "$fw" || die "mkdir $fw"
	[ -e "$fw/$f" ] || [ -L "$fw/$f" ] ||
		ln -s "/usr/share/seabios/$f" "$fw/$f" || die "link $fw/$f"
}

# One QEMU build tree, $CACHE/qemu/{src,build}.  When the patch series
# changes, the source is reset to the pristine tree with rsync --checksum
# (so only files that differ get a new mtime) and the series re-applied:
# ninja then rebuilds just what the patches touch.  The key file records
# what the tree was built from.
qemu() {
	host_packages
	pydeps
	qemu_src >/dev/null
	local key d n p
	key=$(qemu_key)
	d=$CACHE/qemu
	if [ -x "$d/build/qemu-system-x86_64" ] && [ "$(cat "$d/KEY" 2>/dev/null)" = "$key" ] &&
	   { [ -x "$d/build/tests/qtest/vhost-vdmabuf-test" ] ||
	     ! grep -qs tests/qtest/vhost-vdmabuf-test "$TOP"/qemu-patches/*.patch; }; then
		qemu_firmware "$d/build"
		return 0
	fi
	rm -f "$d/KEY"
	mkdir -p "$d/src"
	say "qemu: syncing the pristine source into the build tree"
	rsync -rlD --checksum --delete "$CACHE/qemu-src/src/" "$d/src/"
	n=0
	for p in "$TOP"/qemu-patches/*.patch; do
		[ -e "$p" ] || continue
		n=$((n + 1))
		say "qemu: applying $(basename "$p")"
		patch -d "$d/src" -p1 --quiet --forward --batch < "$p" > "$d/patch.log" 2>&1 || {
			cat "$d/patch.log" >&2
			die "qemu patch $(basename "$p") does not apply"
		}
	done
	export PYTHONPATH=$CACHE/pydeps/usr/lib/python3/dist-packages
	export PATH=$CACHE/pydeps/usr/bin:$PATH
	# Configure flags or QEMU version changed: start the build tree afresh.
	p=$( { cat "$CACHE/qemu-src/.done"; printf '%s\n' "${QEMU_CONFIGURE[@]}"; } | sha256sum | cut -c1-16)
	if [ "$(cat "$d/CONFKEY" 2>/dev/null)" != "$p" ]; then
		rm -rf "$d/build"
	fi
	if [ ! -f "$d/build/build.ninja" ]; then
		say "qemu: $n patch(es) applied; configuring"
		mkdir -p "$d/build"
		( cd "$d/build" && ../src/configure "${QEMU_CONFIGURE[@]}" ) > "$d/configure.log" 2>&1 || {
			tail -n 40 "$d/configure.log" >&2
			rm -rf "$d/build"
			die "qemu configure (full log: $d/configure.log)"
		}
		echo "$p" > "$d/CONFKEY"
	fi
	say "qemu: building with $n patch(es) (ninja, $(nproc) jobs; ~3-4 min cold on 2 cores, seconds warm)"
	# Then the series' own qtest (unit.sh and l1-run.sh run it), once
	# the first ninja run has regenerated build.ninja from the patched
	# meson.build files.
	( cd "$d/build" && ninja -j"$(nproc)" qemu-system-x86_64 &&
	  if grep -q '^build tests/qtest/vhost-vdmabuf-test:' build.ninja; then
		ninja -j"$(nproc)" tests/qtest/vhost-vdmabuf-test
	  fi ) > "$d/build.log" 2>&1 || {
		tail -n 60 "$d/build.log" >&2
		die "qemu build (full log: $d/build.log)"
	}
	qemu_firmware "$d/build"
	echo "$key" > "$d/KEY"
	say "qemu: built $d/build/qemu-system-x86_64"
}

env_out() {
	local kver
	kver=$(cat "$CACHE/kernel/KVER")
	echo "KVER=$kver"
	echo "KROOT=$CACHE/kernel/root"
	echo "VMLINUX=$CACHE/kernel/vmlinux-$kver"
	echo "KDIR=$CACHE/kernel/root/usr/src/linux-headers-$kver"
	echo "KSRC=$CACHE/kernel/src"
	echo "QEMU=$CACHE/qemu/build/qemu-system-x86_64"
	echo "QEMU_SRC=$CACHE/qemu/src"
	# The build matrix: each further kernel's headers and source files
	# (the newest kernel's headers inside its build root)
	local k kdirs='' ksrcs=''
	for k in kernel-6.1 kernel-new; do
		[ -s "$CACHE/$k/KVER" ] || continue
		kver=$(cat "$CACHE/$k/KVER")
		kdirs+=" $CACHE/$k/root/usr/src/linux-headers-$kver"
		ksrcs+=" $CACHE/$k/src"
	done
	[ -z "$kdirs" ] || printf 'MATRIX_KDIRS=%q\nMATRIX_KSRCS=%q\n' "${kdirs# }" "${ksrcs# }"
}

# One set-up at a time per cache (make check and a developer's make may race).
mkdir -p "$CACHE"
if [ "${1:-all}" != env ]; then
	exec 9>"$CACHE/.lock"
	flock 9
fi

case "${1:-all}" in
all)		host_packages; kernel; kernel_61; kernel_new; modetest; weston; qemu ;;
host-packages)	host_packages ;;
kernel)		host_packages; kernel ;;
kernel-6.1)	kernel_61 ;;
kernel-new)	kernel_new ;;
modetest)	modetest ;;
weston)		weston ;;
kernel-source)	host_packages; kernel >&2; kernel_source_deb ;;
qemu)		qemu ;;
env)		env_out ;;
*)		die "usage: $0 [all|host-packages|kernel|kernel-6.1|kernel-new|modetest|weston|kernel-source|qemu|env]" ;;
esac
