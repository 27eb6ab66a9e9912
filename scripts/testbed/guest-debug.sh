#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest side on the debug kernel, in one level of TCG: the debug
# kernel (debug-kernel.sh) booted on this machine by the patched QEMU,
# with the L2 image (l2-init.sh, as the vhost-user stage's guest), its two
# devices served by vhost-user-vdmabuf --no-dmabuf, one daemon each (the
# second the fault-injection build).  Nested in an L1, as make
# check-debug boots it, the debug kernel needs about 40 min to reach init
# (README, "The debug kernel"); here, seconds.
#
# This machine has no udmabuf, so the daemons make no host dma-bufs and
# serve no importer: what runs is what needs no host program, the guest
# driver's own tests (guest_vdmabuf, guest_faults), the guest fuzzer's
# fixed-seed portion, fault injection into virtio_vdmabuf under the
# fuzzer, a daemon killed under the guest and a machine reset with a live
# export.  Each program's results are named @guest-debug.  Then the
# verdicts of l1-debug.sh's l2_debug_results on what the guest sent (its
# kernel log, kmemleak's report, gcov data): any KASAN, UBSAN, lockdep,
# DMA-API or other report, or a leak, fails the run.  Prints
# virtio_vdmabuf's coverage.
#
# Results: build/vm-guest-debug/*.tap (host.tap: this script's; l2.tap:
# the guest's), logs in build/logs/guest-debug/.  Prints a line per
# stage; a stage that runs past STAGE_LIMIT (default 1800 s) or a run
# past GUEST_TIMEOUT (default 3600 s) is stopped and named, with the tail
# of the console.  Exit status 0 when every result passed.
#
# Environment: VU_TESTS (default "guest_vdmabuf guest_faults
# fuzz_guest"), FAULT_PERCENT and FAULT_REQUESTS (l2-init.sh's), VM_TAG
# (default guest-debug).

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
VM_TAG=${VM_TAG:-guest-debug}
VM_OUT=$BUILD/vm-$VM_TAG
LOGS=$BUILD/logs/$VM_TAG
L2D=$VM_OUT/run
STAGE_LIMIT=${STAGE_LIMIT:-1800}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-3600}
VM_MODE=check
VU_TESTS=${VU_TESTS:-guest_vdmabuf guest_faults fuzz_guest}
T0=$(date +%s)

say() { printf '[guest-debug %5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

rm -rf "$VM_OUT" "$LOGS"
mkdir -p "$VM_OUT" "$LOGS" "$L2D"
R=$VM_OUT/host.tap
n=0
echo "# host.tap" > "$R"
ok()     { n=$((n + 1)); echo "ok $n - $*" >> "$R"; echo "ok - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*" >> "$R"; echo "not ok - $*"; }
check()  { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# The vhost-user guest's host side, the debug kernel's verdicts, coverage
VU_HOST=host
. "$TOP/scripts/testbed/vu-host.sh"
. "$TOP/scripts/testbed/l1-debug.sh"
. "$TOP/scripts/testbed/coverage.sh"
finish() {	# STATUS: the plan line, and exit
	echo "1..$n" >> "$R"
	exit "$1"
}

eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
say "the debug kernel (debug-kernel.sh; cached: seconds)"
bash "$TOP/scripts/testbed/debug-kernel.sh" > "$LOGS/debug-kernel.log" 2>&1
check "host: the debug kernel is built (debug-kernel.sh)" [ $? = 0 ]
[ -s "$BUILD/debug-kernel/env" ] || finish 1
. "$BUILD/debug-kernel/env"
KVER=$DEBUG_KVER KROOT=$DEBUG_KROOT VMLINUX=$DEBUG_VMLINUX GCNO=$DEBUG_GCNO

vu=$BUILD/vhost-user/vhost-user-vdmabuf
check "host: vhost-user-vdmabuf and its fault-injection build (make vhost-user)" \
	sh -c 'test -x "$0" && test -x "$0-faults"' "$vu"
check "host: QEMU has vhost-user-vdmabuf-pci (make qemu)" \
	sh -c '"$0" -device help 2>/dev/null | grep -q "\"vhost-user-vdmabuf-pci\""' "$QEMU"
grep -q '^not ok' "$R" && finish 1

# The guest's image: l2-init.sh's environment, the debug kernel's
# modules, the guest-only programs, and what their stages use.
say "building the guest's image"
GUEST_FN_MAX=$(faults_fn_max "$DEBUG_GUESTMOD")
VM_KERNEL=debug VM_TESTS= EXPECT_DEVICE=1 EXPECT_KMS=0 GUEST_ONLY=1
TEST_TIMEOUT=${TEST_TIMEOUT:-1800} DMA_TEXT=$DEBUG_DMA_TEXT
FAULT_PERCENT=${FAULT_PERCENT:-} FAULT_REQUESTS=${FAULT_REQUESTS:-}
for v in KVER VM_MODE VM_KERNEL VM_TESTS VU_TESTS EXPECT_DEVICE EXPECT_KMS GUEST_ONLY \
	 TEST_TIMEOUT GUEST_FN_MAX FAULT_PERCENT FAULT_REQUESTS DMA_TEXT; do
	printf '%s=%q\n' "$v" "${!v}"
done > "$VM_OUT/env"
files=(-f "$VM_OUT/env:lib/vdmabuf/env"
       -f "$DEBUG_GUESTMOD:lib/vdmabuf/virtio_vdmabuf.ko"
       -f "$DEBUG_MOVERMOD:lib/vdmabuf/dmabuf_mover.ko"
       -f "$TOP/scripts/testbed/faults.sh:lib/vdmabuf/faults.sh")
grep -E 'CONFIG_DMABUF_' "$KROOT/boot/config-$KVER" > "$VM_OUT/kconfig" &&
	files+=(-f "$VM_OUT/kconfig:lib/vdmabuf/kconfig")
for t in $VU_TESTS; do
	files+=(-f "$BUILD/selftests/$t:tests/$t")
done
# The vdmabuf command: the last stages' exports.
files+=(-f "$BUILD/tools/vdmabuf-static:tests/vdmabuf")
bash "$TOP/scripts/testbed/mkinitramfs.sh" "$VM_OUT/guest.cpio" \
	"$TOP/scripts/testbed/l2-init.sh" "$KROOT" "$KVER" \
	-m virtio_pci -m vgem -m pvpanic-pci "${files[@]}" > "$LOGS/mkinitramfs.log" 2>&1
check "host: the guest's image is built" [ $? = 0 ]
grep -q '^not ok' "$R" && finish 1

# The daemons, the second the fault-injection build (guest_faults), and
# then QEMU: whatever of them is left when this script ends is stopped.
vpids=()
qemu_pid() { cat "$L2D/qemu.pid" 2>/dev/null; }
trap 'kill "${vpids[@]}" $(qemu_pid) 2>/dev/null' EXIT
for d in 0 1; do
	bin=$vu
	[ "$d" = 1 ] && bin=$vu-faults
	"$bin" --no-dmabuf --socket-path="$L2D/vu$d.sock" \
		> "$VM_OUT/vhost-user-vdmabuf$d.log" 2>&1 &
	vpids+=($!)
done
for _ in $(seq 100); do
	[ -S "$L2D/vu0.sock" ] && [ -S "$L2D/vu1.sock" ] && break
	sleep 0.1
done
listening() { [ -S "$1" ] && kill -0 "$2" 2>/dev/null; }	# SOCKET PID
for d in 0 1; do
	check "host: vhost-user-vdmabuf $d --no-dmabuf listens" \
		listening "$L2D/vu$d.sock" "${vpids[d]}"
done
if grep -q '^not ok' "$R"; then
	tail -n 5 "$VM_OUT"/vhost-user-vdmabuf?.log
	finish 1
fi

# As l1-run.sh boots the debug kernel's L2, but with this machine's TSC,
# which it calibrates in one level of TCG.  No -no-reboot: the last
# stage resets the machine (vhost_user_reset); a panic ends QEMU
# (pvpanic), never a reboot that would run the tests again.
append="console=ttyS0 panic=-1 oops=panic loglevel=7 log_buf_len=16M cryptomgr.notests"
append+=" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120 vdmabuf.backend=vhost-user"
say "booting the debug kernel's guest (TCG, 1 GiB; devices: two vhost-user-vdmabuf --no-dmabuf)"
timeout -k 10 "$GUEST_TIMEOUT" "$QEMU" -accel tcg -m 1G -smp 1 \
	-object memory-backend-memfd,id=ram,size=1G,share=on \
	-machine memory-backend=ram \
	-L /usr/share/seabios -L /usr/share/qemu -nic none -display none \
	-bios qboot.rom -kernel "$VMLINUX" -initrd "$VM_OUT/guest.cpio" \
	-append "$append" -pidfile "$L2D/qemu.pid" \
	-serial "file:$L2D/l2-console.log" -serial "file:$L2D/l2.tap" \
	-serial "file:$L2D/l2-debug.b64" \
	-qmp "unix:$L2D/qmp.sock,server=on,wait=off" \
	-device pvpanic-pci -action panic=exit-failure \
	-chardev "socket,id=vu0,path=$L2D/vu0.sock" \
	-device vhost-user-vdmabuf-pci,chardev=vu0 \
	-chardev "socket,id=vu1,path=$L2D/vu1.sock" \
	-device vhost-user-vdmabuf-pci,chardev=vu1 \
	2> "$VM_OUT/qemu.log" &
qpid=$!
vhost_user_kill_then_reset "${vpids[1]}" &
kill_pid=$!

# The guest's stages from its console, each timed.
stage="boot" stage_t=$(date +%s) seen=0 reason=
while kill -0 "$qpid" 2>/dev/null; do
	sleep 2
	now=$(date +%s)
	mapfile -t marks < <(gawk 'RT == "\n"' < "$L2D/l2-console.log" 2>/dev/null |
			     tr -d '\r' | grep -a '^VDMABUF-STAGE: ' |
			     sed 's/^VDMABUF-STAGE: //')
	while [ "$seen" -lt "${#marks[@]}" ]; do
		stage=${marks[$seen]} stage_t=$now
		seen=$((seen + 1))
		say "$stage"
	done
	if [ $((now - stage_t)) -gt "$STAGE_LIMIT" ]; then
		reason="stage '$stage' ran past its limit of ${STAGE_LIMIT}s"
		# QEMU itself, not timeout: the daemons see it go.
		kill -9 "$(qemu_pid)"
		break
	fi
done
wait "$qpid"
rc=$?
# Gone: its pid is no longer QEMU's to kill.
rm -f "$L2D/qemu.pid"
[ -z "$reason" ] && [ $rc = 124 ] &&
	reason="the guest ran past its limit of ${GUEST_TIMEOUT}s (stage '$stage')"
kill "$kill_pid" 2>/dev/null
wait "$kill_pid" 2>/dev/null
tr -d '\r' < "$L2D/l2-console.log" > "$LOGS/guest-console.log"
tr -d '\r' < "$L2D/l2.tap" > "$VM_OUT/l2.tap"
if [ -n "$reason" ]; then
	not_ok "host: $reason"
	echo "---- last 40 lines of $LOGS/guest-console.log ----"
	tail -n 40 "$LOGS/guest-console.log"
fi
sed 's/^/# qemu: /' "$VM_OUT/qemu.log" | tail -n 20
vhost_user_end l2@guest-debug "$VM_OUT/l2.tap" "$LOGS/guest-console.log" "$VM_OUT/qemu.log"
vpids=()
check "host: the daemons made no host dma-buf (--no-dmabuf)" \
	grep -q -- '--no-dmabuf' "$VM_OUT/vhost-user-vdmabuf0.log"

say "the debug kernel's verdicts on the guest's kernel log, kmemleak's report and gcov data"
l2_debug_results guest "$L2D/l2-debug.b64"
coverage "$VM_OUT/coverage/virtio_vdmabuf" drivers/virtio/virtio_vdmabuf.c "$VM_OUT/gcov-guest"

echo "1..$n" >> "$R"
awk -f "$TOP/scripts/testbed/tap-summary.awk" "$VM_OUT"/*.tap | tee "$VM_OUT/summary.txt"
if [ -s "$VM_OUT/guest-kernel-reports.txt" ]; then
	say "FAILED: the debug kernel's checkers reported ($VM_OUT/guest-kernel-reports.txt, the kernel log: $VM_OUT/guest-debug/dmesg.log)"
	exit 1
fi
tail -n 1 "$VM_OUT/summary.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'
