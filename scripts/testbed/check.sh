#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: set up the test bed (first run: ~9 min; then ~4 min on 2
# cores), build the modules and test programs, then the VM tests (L1 host
# VM, L2 guest VM inside it) in the background while lint, the unit tests
# and the runner's own test run on this machine.  Ends with one line
# "N passed, N failed" (skips, if any, on the line before) and a non-zero
# exit on any failure.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
MODE=${1:-check}
# make demo and make bench keep their set-up result apart (with VM_TAG,
# apart per run too): they may run while a make check does.
RES=$TOP/build/results
[ "$MODE" = check ] || RES=$TOP/build/results-$MODE${VM_TAG:+-$VM_TAG}
LOGS=$TOP/build/logs
T0=$(date +%s)

say() { printf '[check %5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

rm -rf "$RES"
mkdir -p "$RES" "$LOGS"
n=0 vm_ran=0 swiotlb_ran=0 kern_ran=0 debug_ran=0 guest_debug_ran=0
# What the swiotlb run (VM_MODE=swiotlb) leaves: its one host test's TAP,
# and L2's, with its one guest test.
swiotlb_tap=$TOP/build/vm-swiotlb/host_vdmabuf_swiotlb.tap
swiotlb_l2_tap=$TOP/build/vm-swiotlb/l2.tap
CACHE_DIR=${VDMABUF_CACHE:-$HOME/.cache/vdmabuf}
echo "# check.tap" > "$RES/check.tap"
result() {	# result RC NAME LOG
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2" >> "$RES/check.tap"
		say "ok - $2"
	else
		echo "not ok $n - $2" >> "$RES/check.tap"
		say "not ok - $2 (log: $3)"
		tail -n 30 "$3" | sed 's/^/    /'
	fi
}
summary() {
	echo "1..$n" >> "$RES/check.tap"
	local files=("$RES"/*.tap)
	# Only this run's VM results: a run that failed before a VM started
	# must not count an older run's.
	[ "$vm_ran" = 1 ] && [ -d "$TOP/build/vm" ] && files+=("$TOP"/build/vm/*.tap)
	[ "$swiotlb_ran" = 1 ] && [ -f "$swiotlb_tap" ] && files+=("$swiotlb_tap")
	[ "$swiotlb_ran" = 1 ] && [ -f "$swiotlb_l2_tap" ] &&
		files+=("$swiotlb_l2_tap")
	local d
	for d in k61 knew k61-l2 knew-l2; do
		[ "$kern_ran" = 1 ] && [ -d "$TOP/build/vm-$d" ] &&
			files+=("$TOP/build/vm-$d"/*.tap)
	done
	[ "$debug_ran" = 1 ] && [ -d "$TOP/build/vm-debug" ] &&
		files+=("$TOP"/build/vm-debug/*.tap)
	[ "$guest_debug_ran" = 1 ] && [ -d "$TOP/build/vm-guest-debug" ] &&
		files+=("$TOP"/build/vm-guest-debug/*.tap)
	say "results in $RES and build/vm; logs in $LOGS"
	awk -f "$TOP/scripts/testbed/tap-summary.awk" "${files[@]}" > "$RES/summary.txt"
	cat "$RES/summary.txt"
	# Only the count line: a failure's own text may say ", 0 failed".
	tail -n 1 "$RES/summary.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'
}

say "stage: set-up (apt, Debian 6.12 kernel, QEMU 10.0 with qemu-patches/)"
bash scripts/testbed/setup.sh all > "$LOGS/setup.log" 2>&1
rc=$?
grep '^\[setup' "$LOGS/setup.log" | sed 's/^/    /'
result $rc "set-up: tools, kernel and patched QEMU" "$LOGS/setup.log"
if [ $rc -ne 0 ]; then
	summary
	exit 1
fi

if [ "$MODE" = demo ]; then
	say "stage: build"
	make -s -j"$(nproc)" modules userspace > "$LOGS/build.log" 2>&1 || {
		tail -n 40 "$LOGS/build.log"; exit 1; }
	# VDMABUF_BACKEND=vhost-user (make demo-vhost-user): the host side
	# is the vhost-user-vdmabuf daemon, not the module.
	sfx= l2tap=build/vm/l2.tap stages=all
	[ "${VDMABUF_BACKEND:-}" = vhost-user ] &&
		sfx=@vhost-user l2tap=build/vm/l2-vu.tap stages=vu
	say "stage: demo (L1 host VM runs the importer, L2 guest the producer; back-end: ${VDMABUF_BACKEND:-vhost})"
	VM_MODE=demo VM_STAGES=$stages bash scripts/testbed/vmcheck.sh
	rc=$?
	echo "---- guest producer (L2) ----"
	sed -n "/^# program: demo_producer/,/^# exit:/p" "$l2tap" | tr -d '\r'
	echo "---- host importer (L1) ----"
	cat "build/vm/importer_demo$sfx.log" 2>/dev/null
	# QEMU's display showed the last frame (120, demo_producer's
	# default) as the importer read it: both pictures are compared
	# with the demo's picture of that frame.
	same=yes
	for png in build/demo/last-frame.png build/demo/qemu-screendump.png; do
		build/examples/importer_demo --check-png "$png" --seq 120 || same=no
	done
	say "demo: QEMU's screendump of the last frame is identical to the importer's: $same"
	if [ $rc -eq 0 ] && grep -q "^# exit: demo_producer$sfx 0" "$l2tap" &&
	   grep -q "^# exit: importer_demo$sfx 0" "build/vm/importer_demo$sfx.tap" &&
	   [ "$same" = yes ]; then
		say "demo: done; the last frame the host imported: build/demo/last-frame.png, as QEMU showed it: build/demo/qemu-screendump.png"
		exit 0
	fi
	say "demo: FAILED (logs: $LOGS, build/vm)"
	exit 1
fi
if [ "$MODE" = demo-weston ]; then
	say "stage: build"
	make -s -j"$(nproc)" modules userspace > "$LOGS/build.log" 2>&1 || {
		tail -n 40 "$LOGS/build.log"; exit 1; }
	say "stage: demo-weston (weston in the L2 guest on vdmabuf_drm, QEMU's display in L1 shows it)"
	VM_MODE=demo-weston bash scripts/testbed/vmcheck.sh
	rc=$?
	l2=$(tr -d '\r' < build/vm/l2.tap)
	echo "---- the guest (L2) ----"
	grep -a '^ok\|^not ok\|^# weston: [^\[]\|^# vdmabuf_frames' <<< "$l2" | grep -v '^ok.*insmod'
	# The frame weston showed when L1 took QEMU's screendump: the
	# guest read it back (a hash of its RGB pixels) just before.
	want=$(awk '/^# demo-weston: still/ { print $4; exit }' <<< "$l2")
	got=$(python3 - build/demo/weston-screendump.ppm <<-'PY' 2>/dev/null
	import re, sys
	d = open(sys.argv[1], "rb").read()
	# P6, width, height, maxval, one whitespace, then RGB
	m = re.match(rb"P6\s+\d+\s+\d+\s+\d+\s", d)
	h = 0xcbf29ce484222325
	for b in d[m.end():]:
	    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
	print("%016x" % h)
	PY
	)
	same=no
	[ -n "$want" ] && [ "$got" = "$want" ] && same=yes
	say "demo-weston: QEMU's screendump of weston's still frame is the framebuffer the guest read back: $same (${got:-none}, the guest's ${want:-none})"
	cat build/vm/demo-weston-snapshot.log 2>/dev/null | sed 's/^/    /'
	if [ $rc -eq 0 ] && [ "$same" = yes ] && ! grep -q '^not ok' <<< "$l2" &&
	   [ -s build/demo/weston-screendump.png ] && [ -s build/demo/weston-frame.png ]; then
		say "demo-weston: done; weston's output as QEMU's display showed it: build/demo/weston-screendump.png; a frame as a host program imported it (vdmabuf snapshot): build/demo/weston-frame.png"
		exit 0
	fi
	say "demo-weston: FAILED (logs: $LOGS, build/vm)"
	exit 1
fi
if [ "$MODE" = debug ]; then
	# make check-debug: every VM test, L1 and both L2s, on the debug
	# kernel, with fault injection into both modules (l1-debug.sh,
	# l2-init.sh); any checker's report fails it.  Results in
	# build/vm-debug-all/, the drivers' coverage in its coverage/.
	say "stage: build, and the debug kernel (cached: seconds; cold: about 25 min)"
	make -s -j"$(nproc)" modules userspace > "$LOGS/debug-all-build.log" 2>&1
	result $? "build: the modules and the test programs" "$LOGS/debug-all-build.log"
	bash scripts/testbed/debug-kernel.sh > "$LOGS/debug-kernel-run.log" 2>&1
	result $? "debug kernel: built (or cached)" "$LOGS/debug-kernel-run.log"
	say "stage: every VM test on the debug kernel (L1 and L2 on it)"
	VM_TAG=debug-all VM_KERNEL=debug bash scripts/testbed/vmcheck.sh
	result $? "vm: every VM test on the debug kernel, no checker's report" "$LOGS/debug-all/l1-console.log"
	echo "1..$n" >> "$RES/check.tap"
	awk -f "$TOP/scripts/testbed/tap-summary.awk" "$RES/check.tap" \
		"$TOP"/build/vm-debug-all/*.tap | tee "$RES/summary.txt"
	tail -n 1 "$RES/summary.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'
	exit
fi
if [ "$MODE" = bench ]; then
	# One run, both VMs: bench_guest in L2, importer_bench in L1 (see
	# Documentation/benchmark.rst).  Fails only when something did not
	# work, never because of a time.
	VM_OUT=$TOP/build/vm${VM_TAG:+-$VM_TAG}
	BLOGS=$LOGS${VM_TAG:+/$VM_TAG}
	OUT=$TOP/build/bench
	mkdir -p "$BLOGS" "$OUT"
	say "stage: build"
	make -s -j"$(nproc)" modules userspace > "$BLOGS/bench-build.log" 2>&1 || {
		tail -n 40 "$BLOGS/bench-build.log"; exit 1; }
	say "stage: bench (L1 host VM: importer_bench, vsock listener; L2 guest: bench_guest)"
	VM_MODE=bench bash scripts/testbed/vmcheck.sh
	rc=$?
	echo "---- guest (L2): bench_guest ----"
	tr -d '\r' < "$VM_OUT/l2.tap" 2>/dev/null |
		sed -n '/^# program: bench_guest/,/^# exit:/p' | grep -v '^# bench '
	echo "---- host (L1): importer_bench ----"
	grep -v '^bench host\.' "$VM_OUT/importer_bench.log" 2>/dev/null
	grep -E '^(not )?ok ' "$VM_OUT/importer_bench.tap" 2>/dev/null
	say "bench: results"
	bash scripts/testbed/bench-report.sh "$VM_OUT/l2.tap" \
		"$VM_OUT/importer_bench.log" "$OUT/bench.json" \
		"NESTED TCG numbers: guest (L2) under TCG inside a host VM (L1) under TCG, not KVM" \
		"cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)" \
		"cores=$(nproc)" "seconds=$(( $(date +%s) - T0 ))" \
		"tag=${VM_TAG:-}" | tee "$OUT/bench.txt"
	if [ $rc -eq 0 ] &&
	   grep -q '^# exit: bench_guest 0' "$VM_OUT/l2.tap" 2>/dev/null &&
	   grep -q '^# exit: importer_bench 0' "$VM_OUT/importer_bench.tap" 2>/dev/null; then
		say "bench: done; table in build/bench/bench.txt, JSON in build/bench/bench.json"
		exit 0
	fi
	say "bench: FAILED (logs: $BLOGS, $VM_OUT)"
	exit 1
fi

rm -rf build/vm build/vm-swiotlb build/vm-k61 build/vm-knew build/vm-k61-l2 build/vm-knew-l2 \
	build/vm-debug build/vm-guest-debug
say "stage: build"
make -s modules > "$LOGS/modules.log" 2>&1
result $? "build: the modules (make)" "$LOGS/modules.log"
make -s -j"$(nproc)" userspace > "$LOGS/userspace.log" 2>&1
result $? "build: libvdmabuf, vdmabuf, examples and test programs (make userspace)" "$LOGS/userspace.log"
say "stage: kernel matrix (the modules with -Werror against Linux 6.12, 6.1 and Debian's newest)"
bash scripts/testbed/matrix.sh > "$LOGS/matrix.log" 2>&1
result $? "matrix: ran" "$LOGS/matrix.log"

# The debug kernel (scripts/testbed/debug-kernel.sh), for the last VM run:
# cached, seconds; cold, 28 to 58 min at nice 19 beside everything else.
# At most DEBUG_KERNEL_LIMIT seconds (default 80 min), lock wait
# included: timeout ends the whole process group, make and all.
say "stage: the debug kernel (KASAN, lockdep, kmemleak, ...), in the background"
timeout -k 30 "${DEBUG_KERNEL_LIMIT:-4800}" bash scripts/testbed/debug-kernel.sh < /dev/null \
	> "$LOGS/debug-kernel-run.log" 2>&1 &
dk_pid=$!

# The VM run starts now and goes on in the background (its "[vm ...]"
# lines interleave): the nested guest keeps about one core busy; lint
# (sparse on its own copy of the sources), the unit tests and the
# runner's own test use the other.
say "stage: VM tests (L1 host VM, then L2 guest VM inside it), in the background"
bash scripts/testbed/vmcheck.sh &
vm_pid=$! vm_ran=1

say "stage: lint"
bash scripts/testbed/lint.sh > "$LOGS/lint-summary.log" 2>&1
result $? "lint: ran" "$LOGS/lint-summary.log"

say "stage: unit tests"
bash scripts/testbed/unit.sh > "$LOGS/unit.log" 2>&1
result $? "unit: ran" "$LOGS/unit.log"

say "stage: make install into a DESTDIR, a program built with pkg-config"
bash scripts/testbed/install-test.sh > "$LOGS/install-test.log" 2>&1
result $? "install: ran" "$LOGS/install-test.log"

say "stage: the VM runner's own test (a panic and a hang must fail fast)"
bash scripts/testbed/runner-selftest.sh > "$LOGS/runner-selftest.log" 2>&1
result $? "runner self-test: ran" "$LOGS/runner-selftest.log"
# Its checks are counted from runner.tap; what the runs printed is only in
# the log, so a failed check shows it here.
if grep -q '^not ok' "$RES/runner.tap" 2>/dev/null; then
	tail -n 60 "$LOGS/runner-selftest.log" | sed 's/^/    /'
fi

say "stage: waiting for the VM tests"
wait "$vm_pid"
result $? "vm: L1 and L2 ran to the end" "$LOGS/l1-console.log"

# After the main run: a third emulated VM beside L1 and the nested L2
# would slow both on two cores.
say "stage: the tests that need swiotlb=force (an L1 and L2 of their own)"
swiotlb_ran=1
VM_TAG=swiotlb VM_MODE=swiotlb bash scripts/testbed/vmcheck.sh > "$LOGS/swiotlb.log" 2>&1
rc=$?
# They must have run, not skipped: a skip would count as no failure.
# (L2's TAP comes over a serial port: its lines end in CR LF.)
guest=export_refused_when_bounced
if [ $rc -eq 0 ] && { ! grep -q '^ok ' "$swiotlb_tap" ||
		      grep -qi '# *SKIP' "$swiotlb_tap" ||
		      ! grep -q "^ok [0-9]* dev\.$guest[[:space:]]*\$" "$swiotlb_l2_tap"; }; then
	rc=1
fi
result $rc "vm: host and guest tests under swiotlb=force ran, not skipped" "$LOGS/swiotlb.log"

# The host module on the matrix's other kernels (issue 18): Debian 12's
# own 6.1 and the newest Debian ships (setup.sh kernel-new).  L1 boots
# each with the matrix's modules and runs the host tests (about 70 s
# each).  On 6.1 the udmabuf tests skip: that kernel has no udmabuf.
kern_ran=1
for k in 6.1 new; do
	tag=k${k//./}
	say "stage: the host tests on Linux $(cat "$CACHE_DIR/kernel-$k/KVER" 2>/dev/null || echo "$k") (an L1 of its own)"
	VM_TAG=$tag VM_KERNEL=$k VM_STAGES=l1 bash scripts/testbed/vmcheck.sh > "$LOGS/$tag.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] && ! grep -q '^ok [0-9]* memcg\.charged[[:space:]]*$' \
		"$TOP/build/vm-$tag/host_vdmabuf.tap" && rc=1
	result $rc "vm: the host tests on Linux $k ran, memcg.charged among them" "$LOGS/$tag.log"
	# And the guest module there: an L2 on that kernel runs the smoke
	# test (l2-init.sh, VM_MODE=smoke), which must have run to its end,
	# every test of it (a skip would count as no failure).
	VM_TAG=$tag-l2 VM_KERNEL=$k VM_MODE=smoke bash scripts/testbed/vmcheck.sh \
		> "$LOGS/$tag-l2.log" 2>&1
	rc=$?
	l2tap=$TOP/build/vm-$tag-l2/l2.tap
	if [ $rc -eq 0 ] && { ! tr -d '\r' < "$l2tap" | grep -q '^# exit: guest_vdmabuf@.* 0$' ||
			      grep -qi '# *SKIP' "$l2tap"; }; then
		rc=1
	fi
	result $rc "vm: the guest smoke test on Linux $k ran, nothing skipped" "$LOGS/$tag-l2.log"
done

# The host side again on the debug kernel (issue 13): L1 boots it, with
# our drivers built in its tree, and runs every host test, the host
# fuzzer's fixed-seed portion and the fault injection into the host
# module under the fuzzer.  A KASAN, UBSAN, lockdep, DMA-API or other
# kernel report, or a kmemleak leak, fails it; it prints the host
# driver's coverage: 9.5 min on an idle machine, 18 min beside another
# VM run, against 1.5 min on Debian's kernel.  Then the guest side on
# it, not nested (guest-debug.sh, make check-guest-debug): the debug
# kernel booted on this machine, its devices served by vhost-user-vdmabuf
# --no-dmabuf, runs the guest tests, the guest fuzzer's portion and the
# fault injection into the guest module (2 min 10 s idle).  What needs a
# host importer runs on the debug kernel only in make check-debug, an L2
# nested in the debug L1, which nested TCG makes impractical here
# (README, "The debug kernel").
say "stage: waiting for the debug kernel"
wait "$dk_pid"
rc=$?
# timeout's status: 124, or 137 when it had to kill (as for any SIGKILL).
case $rc in 124|137) echo "debug-kernel.sh: stopped (DEBUG_KERNEL_LIMIT=${DEBUG_KERNEL_LIMIT:-4800} s, or killed)" >> "$LOGS/debug-kernel-run.log" ;; esac
grep '^\[debug-kernel\|^debug-kernel.sh: stopped' "$LOGS/debug-kernel-run.log" | tail -n 3 | sed 's/^/    /'
result $rc "debug kernel: built (or cached)" "$LOGS/debug-kernel-run.log"
if [ $rc -eq 0 ]; then
	say "stage: the host tests, the host fuzzer and fault injection on the debug kernel (an L1 of its own)"
	debug_ran=1
	VM_TAG=debug VM_KERNEL=debug VM_STAGES=l1 bash scripts/testbed/vmcheck.sh \
		> "$LOGS/debug.log" 2>&1
	rc=$?
	grep -a 'debug kernel: \|^    \(Lines\|Branches\|Taken\|Calls\|File\)' "$LOGS/debug.log" | sed 's/^/    /'
	result $rc "vm: the host tests on the debug kernel, no checker's report" "$LOGS/debug.log"
	say "stage: the guest tests, the guest fuzzer and fault injection on the debug kernel (not nested)"
	guest_debug_ran=1
	bash scripts/testbed/guest-debug.sh > "$LOGS/guest-debug.log" 2>&1
	rc=$?
	grep -a '^\[guest-debug\|^    \(Lines\|Branches\|Taken\|Calls\|File\)' "$LOGS/guest-debug.log" |
		tail -n 12 | sed 's/^/    /'
	result $rc "vm: the guest tests on the debug kernel, no checker's report" "$LOGS/guest-debug.log"
fi

summary
