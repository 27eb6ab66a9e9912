#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install, as a user or a packager runs it, checked as TAP
# (build/results/install.tap): everything lands under DESTDIR; a program
# outside the tree builds with pkg-config alone and runs on the installed
# library; the ABI is exactly the header's functions, versioned; every
# function has a man page and every page formats without a warning;
# make uninstall takes it all away again.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
R=$TOP/build/results/install.tap
LOG=$TOP/build/logs/install.log
D=$TOP/build/install-test
mkdir -p "$(dirname "$R")" "$(dirname "$LOG")"
rm -rf "$D"
mkdir -p "$D"
n=0
echo "# install.tap" > "$R"
: > "$LOG"
res() {	# res STATUS NAME
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - install: $2" >> "$R"
	else
		echo "not ok $n - install: $2" >> "$R"
		tail -n 20 "$LOG" | sed 's/^/#   /' >> "$R"
	fi
}
check() { local name=$1; shift; "$@" >> "$LOG" 2>&1; res $? "$name"; }

ROOT=$D/root
check "make install DESTDIR=... PREFIX=/usr" \
	make -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=/usr

files=(usr/lib/libvdmabuf.so.0.1.0 usr/lib/libvdmabuf.so.0
       usr/lib/libvdmabuf.so usr/lib/libvdmabuf.a
       usr/include/vdmabuf/vdmabuf.h
       usr/include/vdmabuf/uapi/linux/vdmabuf.h
       usr/include/vdmabuf/uapi/linux/vhost_vdmabuf.h
       usr/include/vdmabuf/uapi/linux/virtio_vdmabuf.h
       usr/lib/pkgconfig/vdmabuf.pc usr/bin/vdmabuf
       usr/share/man/man1/vdmabuf.1 usr/share/man/man3/libvdmabuf.3)
missing=()
for f in "${files[@]}"; do [ -e "$ROOT/$f" ] || missing+=("$f"); done
echo "missing: ${missing[*]}" >> "$LOG"
res ${#missing[@]} "installs the library, headers, pkg-config file, command and man pages"

# A program outside the tree, as its author would build it.
export PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$ROOT/usr/lib/pkgconfig
cat > "$D/app.c" <<'APP'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <vdmabuf/vdmabuf.h>

int main(void)
{
	struct virtio_vdmabuf_image wire;
	struct vdmabuf_image img, back;
	struct vdmabuf_uuid u;
	struct vdmabuf_dev *dev;
	char s[VDMABUF_UUID_STR_LEN];
	int64_t size;

	size = vdmabuf_image_init(&img, 640, 480, 0x34325258 /* XR24 */);
	if (size != 640 * 4 * 480 || vdmabuf_image_encode(&img, &wire) ||
	    vdmabuf_image_decode(&wire, sizeof(wire), size, &back) ||
	    back.width != 640 || back.planes[0].stride != 2560)
		return 1;
	if (vdmabuf_uuid_parse("0123abcd-0000-4000-8000-00000000ffff", &u) ||
	    strcmp(vdmabuf_uuid_format(&u, s),
		   "0123abcd-0000-4000-8000-00000000ffff"))
		return 1;
	if (vdmabuf_dev_open("/nonexistent/virtio-vdmabuf", &dev) != -ENOENT)
		return 1;
	printf("%s\n", vdmabuf_version());
	return 0;
}
APP
check "pkg-config --cflags --libs vdmabuf builds a program outside the tree" \
	bash -c 'cc -Wall -Werror -o "$1/app" "$1/app.c" $(pkg-config --cflags --libs vdmabuf)' _ "$D"
check "the header compiles as C++" \
	bash -c 'echo "#include <vdmabuf/vdmabuf.h>" | c++ -x c++ -fsyntax-only -Wall -Werror $(pkg-config --cflags vdmabuf) -' 
want=$(sed -n 's/^#define LIBVDMABUF_VERSION_\(MAJOR\|MINOR\|MICRO\)[[:space:]]*//p' \
	"$ROOT/usr/include/vdmabuf/vdmabuf.h" | paste -sd.)
check "the program runs on the installed library (version $want)" \
	bash -c '[ "$(LD_LIBRARY_PATH="$1/usr/lib" "$2/app")" = "$3" ]' _ "$ROOT" "$D" "$want"
check "the installed vdmabuf command runs (--version)" \
	env LD_LIBRARY_PATH="$ROOT/usr/lib" "$ROOT/usr/bin/vdmabuf" --version
check "soname libvdmabuf.so.0" \
	bash -c 'readelf -d "$1" | grep -q "SONAME.*\[libvdmabuf.so.0\]"' _ "$ROOT/usr/lib/libvdmabuf.so.0.1.0"

# The ABI: the functions the header declares, each at LIBVDMABUF_0.1, and
# nothing else.
grep -oE '^[a-z_0-9 *]+[ *](vdmabuf_[a-z_0-9]+)\(' "$ROOT/usr/include/vdmabuf/vdmabuf.h" |
	sed -E 's/.*[ *](vdmabuf_[a-z_0-9]+)\($/\1/' | sort -u > "$D/declared"
nm -D --defined-only "$ROOT/usr/lib/libvdmabuf.so.0.1.0" |
	awk '$2 == "T" { print $3 }' | sort -u > "$D/exported"
check "every exported symbol is a declared function at LIBVDMABUF_0.1" \
	bash -c '! grep -v "@@LIBVDMABUF_0.1$" "$1/exported" &&
		 diff <(sed "s/@@.*//" "$1/exported") "$1/declared"' _ "$D"
check "every declared function has a man page" \
	bash -c 'for f in $(cat "$1/declared"); do
			[ -e "$2/usr/share/man/man3/$f.3" ] || { echo "no page: $f"; exit 1; }
		 done' _ "$D" "$ROOT"
check "every man page formats without a warning" \
	bash -c 'cd "$1/usr/share/man" || exit 1
		 for p in man1/*.1 man3/*.3; do
			out=$(groff -man -Tutf8 -ww -z "$p" 2>&1) || exit 1
			[ -z "$out" ] || { echo "$p: $out"; exit 1; }
		 done' _ "$ROOT"

check "make uninstall leaves nothing behind" \
	bash -c 'make -s -C "$1" uninstall DESTDIR="$2" PREFIX=/usr &&
		 [ -z "$(find "$2" -type f -o -type l)" ]' _ "$TOP" "$ROOT"
echo "1..$n" >> "$R"
grep -E '^(not )?ok ' "$R"
! grep -q '^not ok' "$R"
