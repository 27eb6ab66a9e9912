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
# carries a DMA-API report is part of it.  While faults.sh injects
# failures (its "fault injection on" and "off" lines), an allocation
# failure's report (warn_alloc(): "vmalloc error:", "page allocation
# failure:") is expected, and so is the first Call Trace within 12 lines
# of it (the task's, tainted and hardware lines come between, or another
# CPU's line); outside, such a report is one (alloc-failure).  Any other
# Call Trace outside a report is one too (Call-Trace).  Writes "CATEGORY
# COUNT" lines to COUNTS.
kernel_reports() {	# DMESG COUNTS
	awk -v counts="$2" '
	function category(l) {
		if (l ~ /KASAN/)
			return "KASAN"
		if (l ~ /UBSAN:/)
			return "UBSAN"
		if (l ~ /possible circular locking|inconsistent lock state|suspicious RCU usage|possible recursive locking|bad unlock balance|held lock freed|lock held when returning to user space|irq lock inversion|lock order detected|trying to register non-static key/)
			return "lockdep"
		# DMA-API debugging prints a few lines of its own at boot.
		if (l ~ /DMA-API: / &&
		    l !~ /DMA-API: (preallocated [0-9]+ debug entries|debugging enabled by kernel config|dma_debug_entry pool grown|enable driver filter|switching off dma-debug driver filter)/)
			return "DMA-API"
		if (l ~ /BUG:|WARNING:|ODEBUG:|list_(add|del) corruption|Oops|general protection/)
			return "BUG/WARNING"
		if (l ~ /blocked for more than [0-9]+ seconds|detected (expedited )?stalls? on CPU|self-detected stall/)
			return "hung/stall"
		if (l ~ /vmalloc error:|page allocation failure:/)
			return injecting ? "" : "alloc-failure"
		if (l ~ /Call Trace:/)
			return "Call-Trace"
		return ""
	}
	{
		l = $0
		sub(/^\[ *[0-9]+\.[0-9]+\] /, "", l)
		if (l ~ /vdmabuf-testbed: fault injection on$/)
			injecting = 1
		if (l ~ /vdmabuf-testbed: fault injection off$/)
			injecting = 0
		c = category(l)
		if (injecting && l ~ /vmalloc error:|page allocation failure:/)
			excuse = NR + 12
		if (c == "Call-Trace" && left == 0 && NR <= excuse) {
			excuse = 0
			c = ""
		}
	}
	left > 0 && (c == "" || c == "Call-Trace" ||
		     l ~ /^WARNING: CPU: [0-9]+ PID: [0-9]+ at /) {
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

# The verdicts on one VM's kernel log and kmemleak report (none: "-"), as
# TAP results named "VM: debug kernel: ...", with the reports appended to
# REP.  Beside the log, dma-api-disabled holds what DMA-API debugging's
# "disabled" said at the end: it turns itself off for good when it runs
# out of memory, and checks nothing from then on.
debug_verdicts() {	# VM DMESG KMEMLEAK REP
	local c k leaks
	check "$1: debug kernel: DMA-API debugging still on at the end" \
		[ "$(cat "$(dirname "$2")/dma-api-disabled" 2>/dev/null)" = N ]
	if [ "$3" != - ]; then
		leaks=$(grep -c '^unreferenced object' "$3")
		[ "$leaks" -gt 0 ] && {
			echo "==== kmemleak ($1): $leaks object(s) leaked during the tests (all of them: $3) ===="
			head -n 200 "$3"
		} >> "$4"
		check "$1: debug kernel: kmemleak found no leak after the tests ($leaks)" \
			[ "$leaks" = 0 ]
	fi
	: > "$2.count"
	kernel_reports "$2" "$2.count" >> "$4"
	for k in KASAN UBSAN lockdep DMA-API BUG/WARNING hung/stall alloc-failure Call-Trace; do
		c=$(awk -v k="$k" '$1 == k { print $2 }' "$2.count")
		check "$1: debug kernel: no $k report in the kernel log (${c:-0})" \
			[ -z "$c" ]
	done
}

# After the tests and the module's unload.  The reports, kmemleak's first,
# go to kernel-reports.txt, which vmcheck.sh prints.
debug_checks() {
	local rep=$VM_OUT/kernel-reports.txt leaks=-
	stage "l1: debug kernel: kmemleak scan, kernel log"
	: > "$rep"
	if [ -w "$KMEMLEAK" ]; then
		# kmemleak turns itself off for good if it runs out of memory:
		# then the scan fails, and so does this.
		check "l1: debug kernel: kmemleak still scanning at the end" \
			kmemleak_scan "$VM_OUT/kmemleak.txt"
		leaks=$VM_OUT/kmemleak.txt
	fi
	cat /sys/kernel/debug/dma-api/disabled > "$VM_OUT/dma-api-disabled"
	# Our drivers' gcov data, for vmcheck.sh's coverage report; the
	# kernel keeps an unloaded module's (gcov_persist).
	mkdir -p "$VM_OUT/gcov"
	find /sys/kernel/debug/gcov -name '*vdmabuf*.gcda' \
		-exec cp {} "$VM_OUT/gcov/" \; 2>/dev/null
	check "l1: debug kernel: gcov data of vhost_vdmabuf" \
		[ -s "$VM_OUT/gcov/vdmabuf.gcda" ]
	dmesg > "$VM_OUT/l1-dmesg.log"
	debug_verdicts l1 "$VM_OUT/l1-dmesg.log" "$leaks" "$rep"
	[ -s "$rep" ] && head -n 120 "$rep"
}

# What an L2 on the debug kernel sent through its third serial port
# (l2-init.sh's debug_collect: a gzipped tar, in base64, of its kernel
# log, kmemleak's report and our drivers' gcov data): the same verdicts
# as L1's, named VM (l2, l2-vu), its reports in VM-kernel-reports.txt,
# which vmcheck.sh prints, its gcov data in gcov-VM/.
l2_debug_results() {	# VM FILE
	local dir=$VM_OUT/$1-debug rep=$VM_OUT/$1-kernel-reports.txt untar
	rm -rf "$dir" "$VM_OUT/gcov-$1"
	mkdir -p "$dir"
	: > "$rep"
	# A stream cut short (the guest stopped, or the port lost bytes)
	# ends the gzip early: tar fails.
	tr -d '\r' < "$2" | base64 -d 2> "$dir.err" | tar -xz -C "$dir" 2>> "$dir.err"
	untar=${PIPESTATUS[2]}
	check "$1: debug kernel: the guest sent its kernel log, kmemleak's report and gcov data, whole" \
		test "$untar" = 0 -a -s "$dir/dmesg.log" -a -f "$dir/kmemleak.txt"
	[ -s "$dir.err" ] && sed 's/^/# /' "$dir.err"
	[ -s "$dir/dmesg.log" ] || return
	debug_verdicts "$1" "$dir/dmesg.log" "$dir/kmemleak.txt" "$rep"
	mkdir -p "$VM_OUT/gcov-$1"
	cp "$dir"/*.gcda "$VM_OUT/gcov-$1/" 2>/dev/null
	check "$1: debug kernel: gcov data of virtio_vdmabuf" \
		[ -s "$VM_OUT/gcov-$1/virtio_vdmabuf.gcda" ]
	[ -s "$rep" ] && head -n 120 "$rep"
}

# Fault injection (faults.sh): failslab and fail_page_alloc fail
# FAULT_PERCENT (default 1) percent of the allocations made with
# vhost_vdmabuf's code on the stack, while the host fuzzer runs with
# --faults for FAULT_REQUESTS actions: a deviation from its model that an
# allocation failure explains starts it over on a fresh device, and
# closing everything must bring every pin back each time.  The kernel
# must have failed some (fault attributes' times), and the knobs go back
# to their defaults.  debug_checks finds what leaked or splatted; gcov
# shows which error paths were taken.
. "$TOP/scripts/testbed/faults.sh"

debug_faults() {
	stage "l1: debug kernel: fault injection in vhost_vdmabuf"
	faults_run l1 vhost_vdmabuf "$(faults_fn_max "$HOSTMOD")" "${FAULT_PERCENT:-1}" \
		run_host_prog fuzz_host_faults "$BUILD/selftests/fuzz_host" --faults \
		--seed 2 --requests "${FAULT_REQUESTS:-4000}" --time-limit 240 \
		--shrink-time 0
}
