#!/bin/sh -e
# SPDX-License-Identifier: GPL-2.0
#
# qemu-headers.sh OUTDIR: write QEMU's copies of the vdmabuf UAPI headers
# under OUTDIR, byte for byte what QEMU's scripts/update-linux-headers.sh
# (with qemu-patches/0001 applied) makes from a kernel tree that holds
# include/uapi/linux/{virtio_vdmabuf,vhost_vdmabuf}.h:
#
#   include/standard-headers/linux/virtio_vdmabuf.h
#	the wire protocol and image metadata, through headers_install, then
#	cp_portable() (the "*virtio*.h" glob);
#   linux-headers/linux/vhost_vdmabuf.h
#	the host ioctls, through headers_install, copied as is;
#   linux-headers/linux/virtio_vdmabuf.h
#	a one-line wrapper that includes the standard-headers copy.
#
# The guest's <linux/vdmabuf.h> matches none of that script's lists, so
# QEMU gets no copy of it.  Nothing else under OUTDIR is touched.
#
# The transformations are copied from the kernel's scripts/headers_install.sh
# (6.12; unifdef -U__KERNEL__ is a no-op for headers that never mention
# __KERNEL__, so unifdef is needed only if one does) and from cp_portable()
# of QEMU 10.0's scripts/update-linux-headers.sh; keep them in step with
# those when either changes.
#
# qemu-patches/0002 is this script's output, committed on top of 0001 in a
# QEMU tree and written out with git format-patch;
# selftests/vdmabuf/unit_qemu_headers.sh fails when the two differ.  To
# regenerate it after a UAPI change, keeping its author, date and message,
# run this from the top of the tree (QEMU_SRC: a pristine QEMU 10.0 source),
# then update the message if it describes what changed:
#
#   q=$(mktemp -d) && mkdir "$q/scripts" && git -C "$q" init -q &&
#   cp "$QEMU_SRC/scripts/update-linux-headers.sh" "$q/scripts/" &&
#   git -C "$q" add -A && git -C "$q" commit -qm base &&
#   git -C "$q" am -q "$PWD"/qemu-patches/000[12]-*.patch &&
#   scripts/qemu-headers.sh "$q" && git -C "$q" add -A &&
#   git -C "$q" commit -q --amend --no-edit &&
#   p=$(echo qemu-patches/0002-*.patch) && n=$(ls qemu-patches/*.patch | wc -l) &&
#   git -C "$q" format-patch -1 --stdout --abbrev=8 |
#	sed "4s|^Subject: \[PATCH\]|Subject: [PATCH 2/$n]|" > "$p.new" &&
#   mv "$p.new" "$p" && rm -rf "$q"

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
uapi=$top/include/uapi/linux
output=$1

if [ -z "$output" ] || [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 1
fi

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
hdrdir="$tmpdir/headers"
mkdir -p "$hdrdir/include/linux"

# headers_install INFILE OUTFILE: the kernel's scripts/headers_install.sh.
headers_install() {
	INFILE=$1
	OUTFILE=$2
	TMPFILE=$OUTFILE.tmp

	# SPDX-License-Identifier with GPL variants must have "WITH Linux-syscall-note"
	if [ -n "$(sed -n -e "/SPDX-License-Identifier:.*GPL-/{/WITH Linux-syscall-note/!p}" "$INFILE")" ]; then
		echo "error: $INFILE: missing \"WITH Linux-syscall-note\" for SPDX-License-Identifier" >&2
		exit 1
	fi

	sed -E -e '
		s/([[:space:](])(__user|__force|__iomem)[[:space:]]/\1/g
		s/__attribute_const__([[:space:]]|$)/\1/g
		s@^#include <linux/compiler(|_types).h>@@
		s/(^|[^a-zA-Z0-9])__packed([^a-zA-Z0-9_]|$)/\1__attribute__((packed))\2/g
		s/(^|[[:space:](])(inline|asm|volatile)([[:space:](]|$)/\1__\2__\3/g
		s@#(ifndef|define|endif[[:space:]]*/[*])[[:space:]]*_UAPI@#\1 @
	' "$INFILE" > "$TMPFILE"

	if command -v unifdef > /dev/null; then
		rc=0
		unifdef -U__KERNEL__ -D__EXPORTED_HEADERS__ "$TMPFILE" > "$OUTFILE" || rc=$?
		[ $rc -gt 1 ] && exit 1
	elif grep -qE '__KERNEL__|__EXPORTED_HEADERS__' "$TMPFILE"; then
		echo "error: $INFILE: mentions __KERNEL__, and there is no unifdef" >&2
		exit 1
	else
		cp "$TMPFILE" "$OUTFILE"
	fi

	# Remove /* ... */ style comments, and find CONFIG_ references in code
	configs=$(sed -e '
:comment
	s:/\*[^*][^*]*:/*:
	s:/\*\*\**\([^/]\):/*\1:
	t comment
	s:/\*\*/: :
	t comment
	/\/\*/! b check
	N
	b comment
:print
	P
	D
:check
	s:^\(CONFIG_[[:alnum:]_]*\):\1\n:
	t print
	s:^[[:alnum:]_][[:alnum:]_]*::
	s:^[^[:alnum:]_][^[:alnum:]_]*::
	t check
	d
	' "$OUTFILE")
	if [ -n "$configs" ]; then
		echo "error: $INFILE: leak $configs to user-space" >&2
		exit 1
	fi
	rm -f "$TMPFILE"
}

# cp_portable FILE DIR: QEMU's scripts/update-linux-headers.sh, with $arch
# empty as it is for include/standard-headers/linux/.
cp_portable() {
    f=$1
    to=$2
    if
        grep '#include' "$f" | grep -v -e 'linux/virtio' \
                                     -e 'linux/types' \
                                     -e 'linux/ioctl' \
                                     -e 'stdint' \
                                     -e 'linux/if_ether' \
                                     -e 'input-event-codes' \
                                     -e 'sys/' \
                                     -e 'drm.h' \
                                     -e 'limits' \
                                     -e 'linux/const' \
                                     -e 'linux/kernel' \
                                     -e 'linux/sysinfo' \
                                     -e 'asm/setup_data.h' \
                                     -e 'asm/kvm_para.h' \
                                     > /dev/null
    then
        echo "Unexpected #include in input file $f".
        exit 2
    fi

    header=$(basename "$f");

    if test -z "$arch"; then
        # Let users of include/standard-headers/linux/ headers pick the
        # asm-* header that they care about
        arch_cmd='/<asm\/\([^>]*\)>/d'
    else
        arch_cmd='s/<asm\/\([^>]*\)>/"standard-headers\/asm-'$arch'\/\1"/'
    fi

    sed -e 's/__aligned_u64/__u64 __attribute__((aligned(8)))/g' \
        -e 's/__u\([0-9][0-9]*\)/uint\1_t/g' \
        -e 's/u\([0-9][0-9]*\)/uint\1_t/g' \
        -e 's/__s\([0-9][0-9]*\)/int\1_t/g' \
        -e 's/__le\([0-9][0-9]*\)/uint\1_t/g' \
        -e 's/__be\([0-9][0-9]*\)/uint\1_t/g' \
        -e 's/"\(input-event-codes\.h\)"/"standard-headers\/linux\/\1"/' \
        -e 's/<linux\/\([^>]*\)>/"standard-headers\/linux\/\1"/' \
        -e "$arch_cmd" \
        -e 's/__bitwise//' \
        -e 's/__attribute__((packed))/QEMU_PACKED/' \
        -e 's/__inline__/inline/' \
        -e 's/__BITS_PER_LONG/HOST_LONG_BITS/' \
        -e '/\"drm.h\"/d' \
        -e '/sys\/ioctl.h/d' \
        -e '/linux\/ioctl.h/d' \
        -e 's/SW_MAX/SW_MAX_/' \
        -e 's/atomic_t/int/' \
        -e 's/__kernel_long_t/long/' \
        -e 's/__kernel_ulong_t/unsigned long/' \
        -e 's/struct ethhdr/struct eth_header/' \
        -e '/\#define _LINUX_ETHTOOL_H/a \\n\#include "net/eth.h"' \
        "$f" > "$to/$header";
}

for h in virtio_vdmabuf.h vhost_vdmabuf.h; do
	headers_install "$uapi/$h" "$hdrdir/include/linux/$h"
done

mkdir -p "$output/linux-headers/linux" "$output/include/standard-headers/linux"

# The linux-headers/linux/ loop, for the header 0001 adds to its list.
cp "$hdrdir/include/linux/vhost_vdmabuf.h" "$output/linux-headers/linux"

# The wrapper 0001 adds next to virtio_config.h's and vhost_types.h's.
cat <<EOF >"$output/linux-headers/linux/virtio_vdmabuf.h"
#include "standard-headers/linux/virtio_vdmabuf.h"
EOF

# The include/standard-headers/linux/ loop: "*virtio*.h" of ours.
arch=
for i in "$hdrdir"/include/linux/*virtio*.h; do
    cp_portable "$i" "$output/include/standard-headers/linux"
done
