# SPDX-License-Identifier: GPL-2.0
#
# Sourced by l1-run.sh when L1 runs the debug kernel (VM_KERNEL=debug,
# scripts/testbed/debug-kernel.sh): its checkers' reports in L1's kernel
# log, and what kmemleak finds leaked, fail the run.
#
# kmemleak scans only when told (no background scans), and reports an
# object only from the second scan that finds it unreferenced with
# unchanged contents: two scans each time.  Before the tests, what boot
# leaked is reported (kmemleak-boot.txt) and then cleared, never to be
# reported again: only what leaks from there on counts.

KMEMLEAK=/sys/kernel/debug/kmemleak

kmemleak_scan() {	# OUT
	echo scan > "$KMEMLEAK" && echo scan > "$KMEMLEAK" &&
		cat "$KMEMLEAK" > "$1"
}

debug_baseline() {
	stage "l1: debug kernel: kmemleak baseline"
	mountpoint -q /sys/kernel/debug ||
		mount -t debugfs debugfs /sys/kernel/debug
	check "l1: debug kernel: kmemleak is on" [ -w "$KMEMLEAK" ]
	[ -w "$KMEMLEAK" ] || return
	kmemleak_scan "$VM_OUT/kmemleak-boot.txt"
	echo clear > "$KMEMLEAK"
	echo "# kmemleak: $(grep -c '^unreferenced object' "$VM_OUT/kmemleak-boot.txt") object(s) leaked by boot, cleared"
}

# The checkers' reports in a kernel log, one block each: the line that
# names it and what follows, to the end of its trace (KASAN's closing
# rule, "end trace" or the end of the stack dump; at most 150 lines: a
# lockdep splat takes about 115) or to the next report.  The WARN() that
# carries a DMA-API report is part of it.  Writes "CATEGORY COUNT" lines
# to COUNTS.
kernel_reports() {	# DMESG COUNTS
	awk -v counts="$2" '
	function category(l) {
		if (l ~ /KASAN/)
			return "KASAN"
		if (l ~ /UBSAN:/)
			return "UBSAN"
		if (l ~ /possible circular locking|inconsistent lock state|suspicious RCU usage|possible recursive locking|bad unlock balance|held lock freed|lock held when returning to user space|irq lock inversion|lock order detected/)
			return "lockdep"
		# DMA-API debugging prints a few lines of its own at boot.
		if (l ~ /DMA-API: / &&
		    l !~ /DMA-API: (preallocated [0-9]+ debug entries|debugging enabled by kernel config|dma_debug_entry pool grown|enable driver filter|switching off dma-debug driver filter)/)
			return "DMA-API"
		if (l ~ /BUG:|WARNING:|ODEBUG:|list_(add|del) corruption|Oops|general protection/)
			return "BUG/WARNING"
		return ""
	}
	{
		l = $0
		sub(/^\[ *[0-9]+\.[0-9]+\] /, "", l)
		c = category(l)
	}
	left > 0 && (c == "" || l ~ /^WARNING: CPU: [0-9]+ PID: [0-9]+ at /) {
		print
		if (cur == "KASAN" ? l ~ /^={20,}$/ : l ~ /---\[ end trace|<\/TASK>/)
			left = 0
		else
			left--
		next
	}
	c != "" {
		n[c]++
		printf "==== %s report %d, line %d of L1 kernel log ====\n", c, n[c], NR
		print
		cur = c
		left = 150
		next
	}
	{ left = 0 }
	END { for (c in n) print c, n[c] > counts }
	' "$1"
}

# After the tests and the module's unload.  The reports, kmemleak's first,
# go to kernel-reports.txt, which vmcheck.sh prints.
debug_checks() {
	local rep=$VM_OUT/kernel-reports.txt c k leaks
	stage "l1: debug kernel: kmemleak scan, kernel log"
	: > "$rep"
	if [ -w "$KMEMLEAK" ]; then
		kmemleak_scan "$VM_OUT/kmemleak.txt"
		leaks=$(grep -c '^unreferenced object' "$VM_OUT/kmemleak.txt")
		[ "$leaks" -gt 0 ] && {
			echo "==== kmemleak: $leaks object(s) leaked during the tests (all of them: kmemleak.txt) ===="
			head -n 200 "$VM_OUT/kmemleak.txt"
		} >> "$rep"
		check "l1: debug kernel: kmemleak found no leak after the tests ($leaks)" \
			[ "$leaks" = 0 ]
	fi
	# Our drivers' gcov data, for vmcheck.sh's coverage report; the
	# kernel keeps an unloaded module's (gcov_persist).
	mkdir -p "$VM_OUT/gcov"
	find /sys/kernel/debug/gcov -name '*vdmabuf*.gcda' \
		-exec cp {} "$VM_OUT/gcov/" \; 2>/dev/null
	check "l1: debug kernel: gcov data of vhost_vdmabuf" \
		[ -s "$VM_OUT/gcov/vdmabuf.gcda" ]
	dmesg > "$VM_OUT/l1-dmesg.log"
	: > "$VM_OUT/kernel-reports.count"
	kernel_reports "$VM_OUT/l1-dmesg.log" "$VM_OUT/kernel-reports.count" >> "$rep"
	for k in KASAN UBSAN lockdep DMA-API BUG/WARNING; do
		c=$(awk -v k="$k" '$1 == k { print $2 }' "$VM_OUT/kernel-reports.count")
		check "l1: debug kernel: no $k report in the kernel log (${c:-0})" \
			[ -z "$c" ]
	done
	[ -s "$rep" ] && head -n 120 "$rep"
}
