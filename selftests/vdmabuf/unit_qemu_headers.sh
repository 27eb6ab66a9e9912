#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU copies of the UAPI headers cannot drift from include/uapi, TAP
# output:
#  - scripts/qemu-headers.sh writes exactly the three files QEMU's
#    scripts/update-linux-headers.sh makes of our headers;
#  - exactly one patch in qemu-patches/ touches them (the header import,
#    0002), it touches nothing else, and it only adds files;
#  - each file that patch adds is byte for byte the script's output.
#
# On a mismatch, regenerate the patch as scripts/qemu-headers.sh says.
#
# Runs from selftests/vdmabuf/ or from build/selftests/.  Environment:
# VDMABUF_TOP or TOP (the checkout; default: two levels up from here).

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOP=${VDMABUF_TOP:-${TOP:-$(cd "$here/../.." && pwd)}}
SCRIPT=$TOP/scripts/qemu-headers.sh
PATCHES=$TOP/qemu-patches

# What update-linux-headers.sh makes of include/uapi/linux/*vdmabuf*.h.
FILES=(
	include/standard-headers/linux/virtio_vdmabuf.h
	linux-headers/linux/vhost_vdmabuf.h
	linux-headers/linux/virtio_vdmabuf.h
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nr=0
failed=0

ok() { nr=$((nr + 1)); echo "ok $nr $1"; }
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
echo "1..$((3 + ${#FILES[@]}))"

if [ ! -x "$SCRIPT" ] || [ ! -d "$PATCHES" ]; then
	echo "Bail out! $SCRIPT or $PATCHES not found (set VDMABUF_TOP)"
	exit 1
fi

# The regular files under $1, relative to it, sorted, one a line.
files_under() {
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

same_list() {	# same_list WHAT DIR
	printf '%s\n' "${FILES[@]}" | LC_ALL=C sort >"$tmp/want"
	if ! files_under "$2" | cmp -s - "$tmp/want"; then
		echo "$1 has:"
		files_under "$2" | sed 's/^/  /'
		echo "expected:"
		sed 's/^/  /' "$tmp/want"
		return 1
	fi
}

# 1. The script runs and writes exactly the expected files.
gen() {
	mkdir -p "$tmp/gen"
	"$SCRIPT" "$tmp/gen" || { echo "$SCRIPT failed"; return 1; }
	same_list "the script's output" "$tmp/gen"
}
check "qemu_headers_sh_writes_the_qemu_files" gen

# 2. One patch imports the headers, and it touches no other file.
the_patch=
import_patch() {
	local p touched

	for p in "$PATCHES"/*.patch; do
		grep -qE '^diff --git a/(linux-headers|include/standard-headers)/[^ ]*vdmabuf' "$p" ||
			continue
		if [ -n "$the_patch" ]; then
			echo "both $(basename "$the_patch") and $(basename "$p") touch the imported headers"
			return 1
		fi
		the_patch=$p
	done
	[ -n "$the_patch" ] || { echo "no patch in $PATCHES imports the headers"; return 1; }
	touched=$(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "$the_patch" |
		  grep -vE '^(linux-headers|include/standard-headers)/')
	if [ -n "$touched" ]; then
		echo "$(basename "$the_patch") also touches:"
		echo "$touched"
		return 1
	fi
}
check "one_patch_imports_the_headers_alone" import_patch
[ -n "$the_patch" ] && echo "# the import patch: $(basename "$the_patch")"

# 3. That patch, applied to an empty tree, only adds the expected files
# (so every file it touches is new and its whole text is in the patch).
extract() {
	[ -n "$the_patch" ] || { echo "no import patch"; return 1; }
	mkdir -p "$tmp/patch"
	# patch(1), not git apply: under a git work tree (TMPDIR in one), git
	# apply would take the paths as relative to that tree's top.
	patch -s -p1 -N --batch --fuzz=0 -d "$tmp/patch" <"$the_patch" ||
		{ echo "$(basename "$the_patch") does not apply to an empty tree"; return 1; }
	same_list "$(basename "$the_patch")" "$tmp/patch"
}
check "import_patch_adds_the_qemu_files" extract

# 4-. Each file: the patch's copy is the script's output, byte for byte.
same_file() {
	local f=$1
	[ -f "$tmp/patch/$f" ] || { echo "not in the patch: $f"; return 1; }
	[ -f "$tmp/gen/$f" ] || { echo "not in the script's output: $f"; return 1; }
	if ! cmp -s "$tmp/gen/$f" "$tmp/patch/$f"; then
		echo "$f: the patch differs from scripts/qemu-headers.sh (- patch, + script):"
		diff -u "$tmp/patch/$f" "$tmp/gen/$f" | head -n 40
		return 1
	fi
}
for f in "${FILES[@]}"; do
	check "patch_matches_script $f" same_file "$f"
done

echo "# $failed failed"
[ "$failed" -eq 0 ]
