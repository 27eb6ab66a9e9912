# SPDX-License-Identifier: GPL-2.0
#
# Sourced by vmcheck.sh and guest-debug.sh, which set VMLINUX (the debug
# kernel's, at the top of the tree it was built in) and GCNO (its gcov
# notes of our drivers, debug-kernel.sh's) and define say.
#
# Line and branch coverage of a driver from a run's gcov data (DIR/*.gcda,
# one directory or several, summed with gcov-tool), printed, with the
# lines no test ran in DIR/<file>.gcov ('#####').  gcov finds the sources
# by the tree-relative names the kernel compiled them with: our drivers'
# as debug-kernel.sh kept them with their notes files (GCNO), the
# kernel's headers in the tree it was built in (vmlinux is at its top).
coverage() {	# OUT SRC.c GCDA-DIR...
	local out=$1 c=$2 src o d
	src=$(dirname "$VMLINUX")
	shift 2
	rm -rf "$out"
	mkdir -p "$out"
	o=$(basename "${c%.c}")
	for d in "$@"; do
		[ -s "$d/$o.gcda" ] || continue
		if [ -s "$out/$o.gcda" ]; then
			gcov-tool merge -o "$out/merged" "$out" "$d" > "$out/merge.log" 2>&1 &&
				mv "$out/merged/$o.gcda" "$out/$o.gcda" ||
				say "WARNING: gcov-tool merge failed; $d/$o.gcda is left out ($out/merge.log)"
			rm -rf "$out/merged"
		else
			cp "$d/$o.gcda" "$out/"
		fi
	done
	[ -s "$out/$o.gcda" ] || return 0
	cp "$GCNO/${c%.c}.gcno" "$out/"
	ln -sfn "$GCNO/drivers" "$out/drivers"
	ln -sfn "$GCNO/vdmabuf-compat" "$out/vdmabuf-compat"
	for d in include arch; do
		ln -sfn "$src/$d" "$out/$d"
	done
	( cd "$out" && gcov -b -o . "$c" ) > "$out/coverage.txt" 2>&1
	sed -n "/$(basename "$c" | sed 's/\./\\./')'/,/^\$/p" "$out/coverage.txt" |
		sed 's/^/    /'
	say "debug kernel: $(grep -c '#####' "$out/$(basename "$c").gcov" 2>/dev/null) lines of $c not run (build/${out##*/build/}/$(basename "$c").gcov)"
}
