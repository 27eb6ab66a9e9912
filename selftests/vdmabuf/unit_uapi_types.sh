#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of the three vdmabuf UAPI headers, TAP output:
# <linux/virtio_vdmabuf.h> (the wire protocol and image metadata),
# <linux/vdmabuf.h> (the guest's /dev/virtio-vdmabuf) and
# <linux/vhost_vdmabuf.h> (the host's /dev/vhost-vdmabuf and importer fd):
#  - struct members use fixed-width types only (no int, long, unsigned,
#    enum, char, short, bool, size_t, pointer), wire and image structs
#    only __le* and __u8, ioctl structs only __u*;
#  - each header holds one interface: its own structs and macros only,
#    and no ioctls in the wire header, which the guest header does not
#    include either;
#  - every struct has a kernel-doc comment and scripts/kernel-doc -Wall
#    has nothing to say about any of the headers;
#  - no // comments; each header compiles alone as C90, C99 and C++11;
#    the layout assertions of unit_uapi_layout.h hold for i386 (-m32) too;
#  - the host ioctl numbers collide with no VHOST_VIRTIO number in the
#    newest vhost.h we have, and 0xB9 is not taken in ioctl-number.rst.
#
# Runs from selftests/vdmabuf/ or from build/selftests/.  Environment:
# VDMABUF_TOP or TOP (the checkout; default: two levels up from here),
# KSRC (default ~/.cache/vdmabuf/kernel/src; holds scripts/kernel-doc,
# include/uapi/linux/vhost.h and the ioctl-number table), CC, CXX.

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOP=${VDMABUF_TOP:-${TOP:-$(cd "$here/../.." && pwd)}}
KSRC=${KSRC:-$HOME/.cache/vdmabuf/kernel/src}
CC=${CC:-gcc}
CXX=${CXX:-g++}
UAPI=$TOP/include/uapi
VIRTIO_H=$UAPI/linux/virtio_vdmabuf.h
GUEST_H=$UAPI/linux/vdmabuf.h
VHOST_H=$UAPI/linux/vhost_vdmabuf.h
HEADERS=("$VIRTIO_H" "$GUEST_H" "$VHOST_H")
LAYOUT_H=$TOP/selftests/vdmabuf/unit_uapi_layout.h

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nr=0
failed=0

ok() { nr=$((nr + 1)); echo "ok $nr $1"; }
skip() { nr=$((nr + 1)); echo "ok $nr $1 # SKIP $2"; }
not_ok() {
	nr=$((nr + 1))
	failed=$((failed + 1))
	echo "not ok $nr $1"
	sed 's/^/# /' "$2"
}
# check NAME CMD...: ok if CMD succeeds, else not ok with CMD's output.
check() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		ok "$name"
	else
		not_ok "$name" "$tmp/out"
	fi
}

echo "TAP version 13"
echo "1..18"

for h in "${HEADERS[@]}"; do
	if [ ! -r "$h" ]; then
		echo "Bail out! $h not found (set VDMABUF_TOP)"
		exit 1
	fi
done

# Print "file:line: struct NAME: MEMBER" for every struct member line.
members() {
	awk '
	/^struct [a-z0-9_]+ \{$/ { s = $2; next }
	s != "" && /^\};$/ { s = ""; next }
	s != "" && NF { sub(/^[ \t]+/, ""); print FILENAME ":" FNR ": struct " s ": " $0 }
	' "$@"
}

members "${HEADERS[@]}" >"$tmp/members"

# 1. No type whose size or signedness depends on the ABI, no pointer.
abi_types='\b(int|long|unsigned|signed|enum|char|short|size_t|ssize_t|bool|_Bool)\b'
abi_types+='|\b(float|double|uintptr_t)\b|\*'
forbidden_types() {
	[ -s "$tmp/members" ] || { echo "no struct members found"; return 1; }
	if sed 's/^[^ ]* struct [a-z0-9_]*: //' "$tmp/members" |
	   grep -qE "$abi_types"; then
		echo "forbidden type or pointer in a UAPI struct member:"
		grep -E ": struct [a-z0-9_]+: .*($abi_types)" "$tmp/members"
		return 1
	fi
}
check "no_abi_dependent_types_or_pointers" forbidden_types

# 2. Whitelist: wire and image structs little-endian, ioctl structs
# native __u*.  An array's length is a number or a macro.
member_types() {
	local rc=0
	local wire='^(__le16|__le32|__le64|__u8|struct virtio_vdmabuf_[a-z_]+) [a-z_]+(\[([0-9]+|[A-Z][A-Z0-9_]*)\])?;$'
	local ioctl='^(__u8|__u16|__u32|__u64|struct (virtio_)?vdmabuf_[a-z_]+) [a-z_]+(\[([0-9]+|[A-Z][A-Z0-9_]*)\])?;$'
	while IFS= read -r line; do
		local s=${line#*: struct }
		local name=${s%%:*}
		local m=${s#*: }
		case $name in
		virtio_vdmabuf_*)
			[[ $m =~ $wire ]] || { echo "wire struct, not __le/__u8: $line"; rc=1; } ;;
		vdmabuf_*|vhost_vdmabuf_*)
			[[ $m =~ $ioctl ]] || { echo "ioctl struct, not __u*: $line"; rc=1; } ;;
		*)
			echo "struct outside the vdmabuf namespaces: $line"; rc=1 ;;
		esac
	done <"$tmp/members"
	return $rc
}
check "wire_structs_le_ioctl_structs_native" member_types

# 3. One interface per header: the wire header has the virtio_vdmabuf_
# structs and VIRTIO_VDMABUF_ macros and no ioctl; the guest header the
# vdmabuf_ and VDMABUF_ ones, without the wire header (its event numbers
# are literals); the host header the vhost_vdmabuf_ and VHOST_VDMABUF_
# ones.
one_interface() {	# one_interface HEADER STRUCT_PREFIX MACRO_RE
	local h=$1 sp=$2 mre=$3 rc=0 bad guard

	guard=_UAPI_LINUX_$(basename "$h" .h | tr '[:lower:]' '[:upper:]')_H
	bad=$(sed -n 's/^struct \([a-z0-9_]*\) {$/\1/p' "$h" | grep -v "^$sp")
	[ -z "$bad" ] || { echo "$h: structs not $sp*: $bad"; rc=1; }
	bad=$(sed -n 's/^#define[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$h" |
	      grep -vxE "$guard|$mre")
	[ -z "$bad" ] || { echo "$h: macros outside its namespace: $bad"; rc=1; }
	return $rc
}
interfaces() {
	local rc=0
	one_interface "$VIRTIO_H" virtio_vdmabuf_ 'VIRTIO_VDMABUF_[A-Z0-9_]+' || rc=1
	one_interface "$GUEST_H" vdmabuf_ 'VDMABUF_[A-Z0-9_]+' || rc=1
	one_interface "$VHOST_H" vhost_vdmabuf_ 'VHOST_VDMABUF_[A-Z0-9_]+|VHOST_VIRTIO' || rc=1
	if grep -nE '_IO(R|W|WR)?\(|<linux/ioctl\.h>' "$VIRTIO_H"; then
		echo "$VIRTIO_H: the wire protocol has no ioctls"; rc=1
	fi
	if grep -nE '^#include <linux/virtio' "$GUEST_H"; then
		echo "$GUEST_H: the guest API does not include the wire protocol"; rc=1
	fi
	return $rc
}
check "each_header_one_interface" interfaces

# 4. Every struct is documented with a kernel-doc block of its own name.
struct_docs() {
	local rc=0 h s
	for h in "${HEADERS[@]}"; do
		while read -r s; do
			grep -q "^ \* struct $s - " "$h" ||
				{ echo "$h: struct $s has no kernel-doc"; rc=1; }
		done < <(sed -n 's/^struct \([a-z0-9_]*\) {$/\1/p' "$h")
	done
	return $rc
}
check "every_struct_has_kernel_doc" struct_docs

# 5. scripts/kernel-doc -none -Wall: silent on all three headers.
kdoc() {
	local out
	out=$(perl "$KSRC/scripts/kernel-doc" -none -Wall "${HEADERS[@]}" 2>&1) ||
		{ echo "$out"; echo "kernel-doc failed"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}
if [ -r "$KSRC/scripts/kernel-doc" ]; then
	check "kernel_doc_no_warnings" kdoc
else
	skip "kernel_doc_no_warnings" "no $KSRC/scripts/kernel-doc"
fi

# 6. UAPI headers are C90: no // comments (gcc -std=c90 only notices one
# when a macro holding it is expanded).
no_cxx_comments() {
	! grep -nE '(^|[^:])//' "${HEADERS[@]}"
}
check "no_cxx_comments" no_cxx_comments

# 7-15. Each header alone, first in its translation unit.
alone() {
	local lang=$1 std=$2 hdr=$3
	local src=$tmp/alone.$lang compiler=$CC

	[ "$lang" = c++ ] && compiler=$CXX
	printf '#include <linux/%s>\n' "$hdr" >"$src"
	$compiler -x "$lang" -std="$std" -Wall -Wextra -Werror -pedantic \
		-fsyntax-only -I"$UAPI" "$src"
}
for h in virtio_vdmabuf vdmabuf vhost_vdmabuf; do
	check "${h}_h_alone_c90" alone c c90 "$h.h"
	check "${h}_h_alone_c99" alone c c99 "$h.h"
	if command -v "$CXX" >/dev/null; then
		check "${h}_h_alone_cxx11" alone c++ c++11 "$h.h"
	else
		skip "${h}_h_alone_cxx11" "no $CXX"
	fi
done

# 16. The same layout for 32-bit userspace: the layout assertions compiled
# freestanding for i386 (only the asm/ headers are borrowed from the
# native multiarch directory; they are the same for x86 and x86_64).
m32() {
	printf '#include <linux/%s>\n' virtio_vdmabuf.h vdmabuf.h \
		vhost_vdmabuf.h virtio_ids.h >"$tmp/m32.c"
	printf '#include "%s"\n' "$LAYOUT_H" >>"$tmp/m32.c"
	$CC -m32 -ffreestanding -std=c11 -Wall -Wextra -Werror -pedantic \
		-fsyntax-only -I"$UAPI" -idirafter "$multiarch" "$tmp/m32.c"
}
multiarch=/usr/include/$($CC -print-multiarch 2>/dev/null)
if [ ! -r "$LAYOUT_H" ]; then
	skip "layout_same_on_i386" "no $LAYOUT_H"
elif ! echo 'int x;' | $CC -m32 -ffreestanding -fsyntax-only -x c - 2>/dev/null ||
     [ ! -d "$multiarch/asm" ]; then
	skip "layout_same_on_i386" "$CC cannot target -m32 here"
else
	check "layout_same_on_i386" m32
fi

# 17. Host numbers are clear of every VHOST_VIRTIO number upstream uses.
vhost_clear() {
	local ours theirs n
	ours=$(grep -oE '_IO[RW]*\(VHOST_VIRTIO, 0x[0-9a-fA-F]+' "$VHOST_H" |
	       grep -oE '0x[0-9a-fA-F]+$' | tr 'A-F' 'a-f' | sort -u)
	theirs=$(grep -hoE '_IO[RW]*\(VHOST_VIRTIO, *0x[0-9a-fA-F]+' "$@" |
		 grep -oE '0x[0-9a-fA-F]+$' | tr 'A-F' 'a-f' | sort -u)
	[ -n "$ours" ] || { echo "no host ioctls found in $VHOST_H"; return 1; }
	[ -n "$theirs" ] || { echo "no VHOST_VIRTIO ioctls found in $*"; return 1; }
	for n in $ours; do
		if echo "$theirs" | grep -qx "$(printf '0x%02x' $((n)))"; then
			echo "host ioctl number $n is used by vhost.h"
			return 1
		fi
		if [ $((n)) -lt $((0xd0)) ] || [ $((n)) -gt $((0xdf)) ]; then
			echo "host ioctl number $n outside the registered D0-DF"
			return 1
		fi
	done
	echo "ours: $(echo "$ours" | tr '\n' ' ')vhost.h uses $(echo "$theirs" | wc -l) numbers"
}
vhost_headers=()
for f in "$KSRC/include/uapi/linux/vhost.h" /usr/include/linux/vhost.h; do
	[ -r "$f" ] && vhost_headers+=("$f")
done
if [ ${#vhost_headers[@]} -gt 0 ]; then
	check "host_ioctls_clear_of_vhost_h" vhost_clear "${vhost_headers[@]}"
else
	skip "host_ioctls_clear_of_vhost_h" "no vhost.h found"
fi

# 18. Magic 0xB9 free in the kernel's ioctl-number table, and no row for
# 0xAF that overlaps D0-DF.
ioctl_table() {
	local table=$1
	if grep -qE '^0xB9 ' "$table"; then
		echo "0xB9 is registered already:"
		grep -E '^0xB9 ' "$table"
		return 1
	fi
	# Rows "0xAF  lo-hi  file": a range that overlaps D0-DF and is not
	# vhost's own is a collision.
	awk 'function hex(s,  i, v) {
		v = 0
		for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
		return v
	}
	$1 == "0xAF" {
		lo = 0; hi = 255
		if ($2 != "all") {
			n = split($2, r, "-")
			lo = hex(r[1]); hi = (n > 1) ? hex(r[2]) : lo
		}
		if (lo <= 0xdf && hi >= 0xd0 && $3 !~ /vhost/) {
			print "0xAF row overlaps D0-DF: " $0; bad = 1
		}
	} END { exit bad }' "$table"
}
table=$KSRC/Documentation/userspace-api/ioctl/ioctl-number.rst
if [ -r "$table" ]; then
	check "ioctl_magic_unregistered_upstream" ioctl_table "$table"
else
	skip "ioctl_magic_unregistered_upstream" "no $table"
fi

echo "# $failed failed"
[ "$failed" -eq 0 ]
