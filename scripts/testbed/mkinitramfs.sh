#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a small initramfs: static busybox, an /init script, kernel modules
# with their dependencies (decompressed, loaded in order by /init from
# /lib/vdmabuf/modules.load), and extra files (ELF files, programs or
# modules, stripped of their debug info).
#
# Usage: mkinitramfs.sh OUT INIT KROOT KVER [-m MODULE]... [-f SRC:DST]...
#			  [-L LIBDIR] [-e SRC:DST]...
#
# -e adds a dynamically linked program with the shared libraries it links
# and the dynamic loader, each at its own path as ldd finds them on this
# machine, looking first in the -L directories given before it, whose
# libraries go to /lib/x86_64-linux-gnu.
#
# OUT ending in .gz is compressed; any other name gives a plain cpio
# archive, which the nested L2 guest unpacks ~15 s sooner.

set -euo pipefail

out=$1 init=$2 kroot=$3 kver=$4
shift 4
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,mnt,lib/vdmabuf/mod}
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$init" "$stage/init"
: > "$stage/lib/vdmabuf/modules.load"

add_module() {
	local line path name
	# --show-depends lists dependencies first, the module itself last.
	modprobe -d "$kroot" -S "$kver" --show-depends "$1" |
	while read -r line; do
		case "$line" in
		insmod\ *) path=${line#insmod }; path=${path%% *} ;;
		*) continue ;;
		esac
		name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}
		grep -qx "$name" "$stage/lib/vdmabuf/modules.load" && continue
		case "$path" in
		*.xz)  xz -dc "$path" > "$stage/lib/vdmabuf/mod/$name" ;;
		*.zst) zstd -qdc "$path" > "$stage/lib/vdmabuf/mod/$name" ;;
		*)     cp "$path" "$stage/lib/vdmabuf/mod/$name" ;;
		esac
		echo "$name" >> "$stage/lib/vdmabuf/modules.load"
	done
}

libpath=
add_program() {	# SRC:DST
	local src=${1%%:*} dst=${1#*:} lib
	mkdir -p "$stage/$(dirname "$dst")"
	cp "$src" "$stage/$dst"
	strip --strip-debug "$stage/$dst"
	# "name => /path (addr)" and the loader's "/path (addr)"
	for lib in $(LD_LIBRARY_PATH=$libpath ldd "$src" |
		     awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		dst=$lib
		# From a -L directory: where the loader looks (Debian amd64)
		case ":$libpath:" in
		*":$(dirname "$lib"):"*) dst=/lib/x86_64-linux-gnu/$(basename "$lib") ;;
		esac
		[ -e "$stage/$dst" ] && continue
		mkdir -p "$stage/$(dirname "$dst")"
		cp -L "$lib" "$stage/$dst"
	done
}

while [ $# -gt 0 ]; do
	case "$1" in
	-m) add_module "$2"; shift 2 ;;
	-L) libpath=${libpath:+$libpath:}$2; shift 2 ;;
	-e) add_program "$2"; shift 2 ;;
	-f) src=${2%%:*}; dst=${2#*:}
	    mkdir -p "$stage/$(dirname "$dst")"
	    cp -a "$src" "$stage/$dst"
	    # Programs and modules without their debug info: the build
	    # keeps it, the guest only has to unpack the image.
	    case "$(head -c 4 "$src" | od -An -c | tr -d ' ')" in
	    177ELF) strip --strip-debug "$stage/$dst" ;;
	    esac
	    shift 2 ;;
	*) echo "mkinitramfs: bad argument $1" >&2; exit 2 ;;
	esac
done

compress=cat
[ "${out%.gz}" != "$out" ] && compress="gzip -1"
( cd "$stage" && find . | cpio -o -H newc --quiet ) | $compress > "$out.tmp"
mv "$out.tmp" "$out"
