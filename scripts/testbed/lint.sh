#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lint as TAP (build/results/lint.tap): checkpatch.pl --strict from the
# matching kernel source on every file under drivers/, include/uapi/ and
# selftests/vdmabuf/dmabuf_mover/,
# and (less the kernel-only rules) on lib/, tools/, include/vdmabuf/ and
# examples/ (not
# compat/: it exists to hold the version checks checkpatch warns about, and
# never goes upstream),
# sparse (make C=2) on both modules, and QEMU's checkpatch.pl on every patch
# in qemu-patches/.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
R=$TOP/build/results/lint.tap
mkdir -p "$(dirname "$R")" "$TOP/build/logs"
n=0
echo "# lint.tap" > "$R"
res() {	# res STATUS NAME LOG
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2" >> "$R"
	else
		echo "not ok $n - $2" >> "$R"
		sed 's/^/#   /' "$3" | head -n 30 >> "$R"
		sed 's/^/    /' "$3" | head -n 30
	fi
	echo "$( [ "$1" = 0 ] && echo ok || echo 'not ok') - $2"
}
log=$TOP/build/logs/lint.log

cd "$TOP"
for f in $(git ls-files -co --exclude-standard drivers include/uapi include/linux |
	   grep -E '\.(c|h)$'); do
	perl "$KSRC/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
		-f "$f" > "$log" 2>&1
	res $? "checkpatch --strict $f" "$log"
done
# The guest tests' moving exporter, a module like the drivers; its header
# is shared with the test programs, so no BIT().
for f in $(git ls-files -co --exclude-standard selftests/vdmabuf/dmabuf_mover |
	   grep -E '\.(c|h)$'); do
	perl "$KSRC/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,BIT_MACRO \
		-f "$f" > "$log" 2>&1
	res $? "checkpatch --strict $f" "$log"
done
# Userspace (the library, its header, the command, the examples) in the
# same style, less the rules that only make sense in the kernel: stdint
# types, not u32; no __aligned/__printf/BIT() macros; C99's PRIu64 is not
# CamelCase; volatile sig_atomic_t is how a signal handler talks; "usage"
# in a usage() message is not an embedded function name.
for f in $(git ls-files -co --exclude-standard lib tools include/vdmabuf examples |
	   grep -E '\.(c|h)$'); do
	perl "$KSRC/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,PREFER_KERNEL_TYPES,PREFER_DEFINED_ATTRIBUTE_MACRO,CAMELCASE,VOLATILE,EMBEDDED_FUNCTION_NAME,BIT_MACRO \
		-f "$f" > "$log" 2>&1
	res $? "checkpatch --strict (userspace) $f" "$log"
done

# sparse (make C=2 checks every source, rebuilt or not) on a copy of the
# sources in build/lint/: the modules the VMs load, built by "make", stay
# untouched, so lint can run while the VM tests do.
if ls drivers/*/*.c >/dev/null 2>&1; then
	tree=$TOP/build/lint/src
	rm -rf "$tree"
	mkdir -p "$tree"
	git ls-files -co --exclude-standard Kbuild compat drivers include |
		xargs cp --parents -t "$tree"
	btf=; command -v pahole >/dev/null || btf=CONFIG_DEBUG_INFO_BTF_MODULES=
	make -s -C "$KDIR" M="$tree" $btf C=2 modules > "$log" 2>&1
	rc=$?
	# Sparse reports as "file:line:col: warning|error:"; the kernel's own
	# headers are not ours to fix, so only our files count.
	if [ $rc -eq 0 ] && sed "s|^$tree/||" "$log" |
	   grep -E "^(drivers|include|compat)/.*: (warning|error):" > "$log.ours"; then
		rc=1; cp "$log.ours" "$log"
	fi
	res $rc "sparse (make C=2) on drivers/" "$log"
fi

if ls qemu-patches/*.patch >/dev/null 2>&1; then
	for p in qemu-patches/*.patch; do
		( cd "$QEMU_SRC" && perl scripts/checkpatch.pl --no-signoff "$TOP/$p" ) > "$log" 2>&1
		rc=$?
		res $rc "qemu checkpatch $(basename "$p")" "$log"
	done
fi
echo "1..$n" >> "$R"
