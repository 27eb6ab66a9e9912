#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the L1 host VM (TCG; this machine's / over 9p, read-only; tmpfs for
# writes), which loads the host module, runs the host tests and boots the
# L2 guest VM with the patched QEMU.  Results are TAP files in build/vm/,
# full console logs in build/logs/.  Prints one line per stage with the
# elapsed time; a stage that runs past its limit is killed and named, with
# the tail of its console log.
#
# Environment: VM_STAGES=l1 (stop after the host tests) or vu (only the
# L2 run on the vhost-user back-end, its programs VU_TESTS, default
# "demo_producer guest_vdmabuf guest_faults e2e_vdmabuf e2e_display
# e2e_kms"), VM_MODE=demo (run the demo instead of the tests), bench
# (the benchmark) or swiotlb (L1
# and L2 booted with swiotlb=force: L1 runs the one host test that needs
# bouncing, L2 the one guest test that does), STAGE_LIMIT
# (seconds without a new stage, default 900), BOOT_LIMIT (seconds for L1's
# boot, its first stage, default STAGE_LIMIT), L1_TIMEOUT (default 3600),
# L2_TIMEOUT (default 2400), TEST_TIMEOUT (per program, default 600),
# each three times that on the debug kernel;
# VM_TAG=NAME keeps results and logs apart (build/vm-NAME, build/logs/NAME);
# VM_MODE=demo-weston: weston in the guest on the KMS driver, QEMU's
# display showing it (make demo-weston).  VM_MODE=fuzz (make fuzz,
# scripts/testbed/fuzz.sh): L1 only, and in it only the host fuzzer,
# FUZZ_REQUESTS requests from FUZZ_SEED within FUZZ_TIME_LIMIT seconds,
# with FUZZ_ARGS.
# VM_TESTS="e2e_display e2e_kms" (a developer's quick run) runs only those
# guest programs (and the KMS driver's modetest and weston stages), and
# none of L1's own tests (VM_TESTS=fuzz_guest: the guest fuzzer, from
# FUZZ_SEED for FUZZ_REQUESTS requests within FUZZ_TIME_LIMIT seconds,
# each by default check mode's fixed-seed portion; TEST_TIMEOUT bounds
# it); WESTON_SCOPES=log,drm-backend adds weston's debug scopes to its
# log, of which l2.tap gets WESTON_LOG_LINES (default 60);
# VM_INJECT=panic:STAGE or hang:STAGE makes L1 panic or hang when it enters
# STAGE (the runner's own test); VM_L1_APPEND adds to L1's kernel command
# line.  VM_KERNEL=debug boots L1 on the debug kernel (debug-kernel.sh
# builds it, ~40 min cold, seconds warm) with our modules built in its
# tree: after the tests L1 has kmemleak scan and searches its kernel log
# for the checkers' reports (KASAN, UBSAN, lockdep, DMA-API, ...); any
# report fails the run and is printed.  VM_KERNEL=6.1 boots L1 alone on
# Debian 12's own 6.1 (setup.sh kernel-6.1) with the host module that
# scripts/testbed/matrix.sh built for it; with VM_MODE=smoke, L1 and an
# L2 on it, which runs the guest module's smoke test (l2-init.sh).
# VM_KERNEL=new, or the newest kernel's series (VM_KERNEL=7.3), does the
# same on the newest kernel Debian ships (setup.sh kernel-new).
# Default VM_KERNEL=debian,
# Debian's 6.12 with the modules of make modules.  L1's kernel log is saved as
# l1-dmesg.log beside its console log.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
VM_OUT=$BUILD/vm${VM_TAG:+-$VM_TAG}
LOGS=$BUILD/logs${VM_TAG:+/$VM_TAG}
eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
VM_STAGES=${VM_STAGES:-all}
VM_MODE=${VM_MODE:-check}
[ "$VM_MODE" = fuzz ] && VM_STAGES=l1
if [ "$VM_MODE" = swiotlb ]; then
	VM_L1_APPEND="swiotlb=force${VM_L1_APPEND:+ $VM_L1_APPEND}"
fi
VM_KERNEL=${VM_KERNEL:-debian}
# The debug kernel runs about five times slower (KASAN, lockdep,
# kmemleak), in nested TCG more: three times the limits.
slow=1
[ "$VM_KERNEL" = debug ] && slow=3
STAGE_LIMIT=${STAGE_LIMIT:-$((900 * slow))}
BOOT_LIMIT=${BOOT_LIMIT:-$STAGE_LIMIT}
L1_TIMEOUT=${L1_TIMEOUT:-$((3600 * slow))}
L2_TIMEOUT=${L2_TIMEOUT:-$((2400 * slow))}
TEST_TIMEOUT=${TEST_TIMEOUT:-$((600 * slow))}
T0=$(date +%s)

say() { printf '[vm %5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

HOSTMOD=$TOP/drivers/vhost/vhost_vdmabuf.ko
GUESTMOD=$TOP/drivers/virtio/virtio_vdmabuf.ko
KMSMOD=$TOP/drivers/gpu/drm/vdmabuf/vdmabuf_drm.ko
MOVERMOD=$BUILD/selftests/dmabuf_mover.ko
# A kernel of the matrix beside Debian's 6.12 (scripts/testbed/setup.sh
# kernel-6.1 or kernel-new: its cache directory DIR), with the modules
# scripts/testbed/matrix.sh built for it: L1 only, or with VM_MODE=smoke
# an L2 on it too, for the guest module's smoke test.
matrix_kernel() {	# DIR WHAT
	local dir=${VDMABUF_CACHE:-$HOME/.cache/vdmabuf}/$1
	KVER=$(cat "$dir/KVER" 2>/dev/null) ||
		{ echo "vmcheck.sh: no $2 (setup.sh $1)" >&2; exit 2; }
	KROOT=$dir/root
	VMLINUX=$dir/vmlinux-$KVER
	[ -s "$VMLINUX" ] ||
		{ echo "vmcheck.sh: no $VMLINUX (setup.sh $1)" >&2; exit 2; }
	HOSTMOD=$BUILD/matrix/$KVER/drivers/vhost/vhost_vdmabuf.ko
	GUESTMOD=$BUILD/matrix/$KVER/drivers/virtio/virtio_vdmabuf.ko
	[ "$VM_MODE" = smoke ] || VM_STAGES=l1
	say "Linux $KVER, $2: L1 boots it with the matrix's modules"
}

case "$VM_KERNEL" in
debian)	;;
debug)
	say "debug kernel: scripts/testbed/debug-kernel.sh (cached: seconds)"
	bash "$TOP/scripts/testbed/debug-kernel.sh" || exit 1
	. "$BUILD/debug-kernel/env"
	KVER=$DEBUG_KVER KROOT=$DEBUG_KROOT VMLINUX=$DEBUG_VMLINUX
	HOSTMOD=$DEBUG_HOSTMOD GUESTMOD=$DEBUG_GUESTMOD
	KMSMOD=$DEBUG_KMSMOD MOVERMOD=$DEBUG_MOVERMOD GCNO=$DEBUG_GCNO
	DMA_TEXT=$DEBUG_DMA_TEXT
	say "debug kernel: L1 boots $KVER, our modules built in its tree" ;;
6.1)
	matrix_kernel kernel-6.1 "Debian 12's own 6.1" ;;
new|[0-9]*.[0-9]*)
	matrix_kernel kernel-new "the newest kernel Debian ships"
	# By its series too
	if [ "$VM_KERNEL" != new ] && [ "$(cut -d. -f1-2 <<< "$KVER")" != "$VM_KERNEL" ]; then
		echo "vmcheck.sh: the newest kernel is $KVER, not Linux $VM_KERNEL (setup.sh kernel-new)" >&2
		exit 2
	fi ;;
*)	echo "vmcheck.sh: VM_KERNEL is debian, debug, 6.1, new or the newest kernel's series, not '$VM_KERNEL'" >&2
	exit 2 ;;
esac
# The kernels check mode runs every test on: Debian's and the debug one.
FULL_KERNEL=0
case "$VM_KERNEL" in debian|debug) FULL_KERNEL=1 ;; esac

rm -rf "$VM_OUT"
mkdir -p "$VM_OUT" "$LOGS"
rm -f "$LOGS"/l1-console.log "$LOGS"/l2-console.log "$LOGS"/l2-vu-console.log \
	"$LOGS"/l1-dmesg.log

expect_device=0
[ -n "$(ls "$TOP"/qemu-patches/*.patch 2>/dev/null)" ] && expect_device=1
# The KMS driver's tests run in check mode on Debian's kernel whenever the
# tree has the driver, and fail if its module was not built.
# KMS_HOLD_MS: importer_display answers each of its frames no sooner,
# which bounds the page flip rate L2 checks.
expect_kms=0
[ "$expect_device" = 1 ] && [ "$VM_MODE" = check ] && [ "$FULL_KERNEL" = 1 ] &&
	[ -d "$TOP/drivers/gpu/drm/vdmabuf" ] && expect_kms=1
KMS_HOLD_MS=60

VM_INJECT=${VM_INJECT:-}
VDMABUF_CACHE=${VDMABUF_CACHE:-$HOME/.cache/vdmabuf}
CACHE=$VDMABUF_CACHE
VM_TESTS=${VM_TESTS:-} WESTON_SCOPES=${WESTON_SCOPES:-} WESTON_LOG_LINES=${WESTON_LOG_LINES:-60}
# The debug kernel's fault injection in L2 (l2-init.sh) needs the guest
# module's longest function, which nm finds here; in both VMs, where
# DMA-API debugging's text is (faults.sh).
GUEST_FN_MAX= FAULT_PERCENT=${FAULT_PERCENT:-} FAULT_REQUESTS=${FAULT_REQUESTS:-}
DMA_TEXT=${DMA_TEXT:-}
if [ "$VM_KERNEL" = debug ] && [ -f "$GUESTMOD" ]; then
	. "$TOP/scripts/testbed/faults.sh"
	GUEST_FN_MAX=$(faults_fn_max "$GUESTMOD")
fi
# The host fuzzer's run (empty: l1-run.sh's defaults)
FUZZ_SEED=${FUZZ_SEED:-} FUZZ_REQUESTS=${FUZZ_REQUESTS:-} FUZZ_TIME_LIMIT=${FUZZ_TIME_LIMIT:-}
FUZZ_ARGS=${FUZZ_ARGS:-}
# The guest programs the L2 run on the vhost-user back-end runs
VU_TESTS=${VU_TESTS:-demo_producer guest_vdmabuf guest_faults e2e_vdmabuf e2e_display e2e_kms}
for v in TOP BUILD VM_OUT CACHE KVER KROOT VMLINUX QEMU VM_STAGES VM_MODE VM_INJECT VM_TESTS \
	 VM_KERNEL HOSTMOD KMSMOD L2_TIMEOUT TEST_TIMEOUT expect_device expect_kms \
	 KMS_HOLD_MS WESTON_SCOPES WESTON_LOG_LINES FUZZ_SEED FUZZ_REQUESTS \
	 FUZZ_TIME_LIMIT FUZZ_ARGS VU_TESTS GUEST_FN_MAX FAULT_PERCENT FAULT_REQUESTS \
	 DMA_TEXT; do
	w=${v/expect_device/EXPECT_DEVICE}
	printf '%s=%q\n' "${w/expect_kms/EXPECT_KMS}" "${!v}"
done > "$VM_OUT/env"

say "building the initramfs images"
bash "$TOP/scripts/testbed/mkinitramfs.sh" "$VM_OUT/l1.cpio.gz" \
	"$TOP/scripts/testbed/l1-init.sh" "$KROOT" "$KVER" \
	-m virtio_pci -m 9p -m 9pnet_virtio -f "$VM_OUT/env:lib/vdmabuf/env" || exit 1
# The L2 image only when L2 runs.  Uncompressed: nothing for the nested
# guest to inflate.
if [ "$VM_STAGES" != l1 ]; then
	l2files=(-f "$VM_OUT/env:lib/vdmabuf/env")
	[ -f "$GUESTMOD" ] &&
		l2files+=(-f "$GUESTMOD:lib/vdmabuf/virtio_vdmabuf.ko")
	# Its fault injection, on the debug kernel (l2-init.sh).
	[ "$VM_KERNEL" = debug ] &&
		l2files+=(-f "$TOP/scripts/testbed/faults.sh:lib/vdmabuf/faults.sh")
	# The KMS driver, in check mode and the compositor demo on Debian's
	# kernel, with the DRM helpers it needs (e2e_kms, modetest and weston
	# drive it).
	kms_mode=0
	case $VM_MODE in check|demo-weston) [ "$FULL_KERNEL" = 1 ] && kms_mode=1 ;; esac
	[ $kms_mode = 1 ] && [ -f "$KMSMOD" ] &&
		l2files+=(-m drm_kms_helper -m drm_shmem_helper
			  -f "$KMSMOD:lib/vdmabuf/vdmabuf_drm.ko")
	mt=$CACHE/modetest/root
	[ "$VM_MODE" = check ] && [ "$FULL_KERNEL" = 1 ] && [ -x "$mt/usr/bin/modetest" ] &&
		l2files+=(-L "$mt/usr/lib/x86_64-linux-gnu" -e "$mt/usr/bin/modetest:tests/modetest")
	# And weston (setup.sh weston): its libraries from the -L directories
	# (libexec_weston.so.0 too, which its RUNPATH would find in .../weston),
	# its backend and shell at the paths compiled into it.
	wt=$CACHE/weston/root wl=$CACHE/weston/root/usr/lib/x86_64-linux-gnu
	[ $kms_mode = 1 ] && [ -x "$wt/usr/bin/weston" ] &&
		l2files+=(-L "$wl" -L "$wl/weston"
			  -e "$wt/usr/bin/weston:tests/weston"
			  -e "$wt/usr/bin/weston-simple-shm:tests/weston-simple-shm"
			  -e "$wl/libweston-10/drm-backend.so:${wl#"$wt/"}/libweston-10/drm-backend.so"
			  -e "$wl/weston/fullscreen-shell.so:${wl#"$wt/"}/weston/fullscreen-shell.so")
	# Only the programs this mode runs: every byte of the image is
	# unpacked by the nested guest.
	case "$VM_MODE" in
	demo)  progs=("$BUILD"/examples/demo_producer) ;;
	demo-weston) progs=("$BUILD"/selftests/e2e_kms) ;;
	bench) progs=("$BUILD"/examples/bench_guest) ;;
	swiotlb|smoke) progs=("$BUILD"/selftests/guest_vdmabuf) ;;
	*)     progs=("$BUILD"/selftests/{guest,e2e,life}_* "$BUILD"/selftests/fuzz_guest
		"$BUILD"/examples/demo_producer) ;;
	esac
	for t in "${progs[@]}"; do
		[ -x "$t" ] && l2files+=(-f "$t:tests/$(basename "$t")")
	done
	# The guest tests' moving exporter, built for Debian's kernel and
	# the debug one, and the kernel's dma-buf options the tests count
	# pins by.
	[ "$VM_MODE" = check ] && [ "$FULL_KERNEL" = 1 ] && [ -f "$MOVERMOD" ] &&
		l2files+=(-f "$MOVERMOD:lib/vdmabuf/dmabuf_mover.ko")
	grep -E 'CONFIG_DMABUF_' "$KROOT/boot/config-$KVER" > "$VM_OUT/kconfig" 2>/dev/null &&
		l2files+=(-f "$VM_OUT/kconfig:lib/vdmabuf/kconfig")
	# The vdmabuf command, built static for the guest.
	[ "$VM_MODE" = check ] && [ -x "$BUILD/tools/vdmabuf-static" ] &&
		l2files+=(-f "$BUILD/tools/vdmabuf-static:tests/vdmabuf")
	# make bench: the guest's vsock transport, for the copy alternative.
	[ "$VM_MODE" = bench ] && l2files+=(-m vmw_vsock_virtio_transport)
	bash "$TOP/scripts/testbed/mkinitramfs.sh" "$VM_OUT/l2.cpio" \
		"$TOP/scripts/testbed/l2-init.sh" "$KROOT" "$KVER" \
		-m virtio_pci -m vgem -m pvpanic-pci "${l2files[@]}" || exit 1
fi

# The DKMS build for L1's DKMS tests, natively, while L1 boots and runs
# its first tests (check mode's host tests, Debian's kernel).  Only such a
# run touches build/dkms: make fuzz's, beside it in this tree, once
# removed it under the build.
if [ "$VM_MODE" = check ] && [ -z "$VM_TESTS" ] && [ "$VM_KERNEL" = debian ]; then
	rm -rf "$BUILD/dkms"
	bash "$TOP/scripts/testbed/dkms-build.sh" "$VM_OUT/dkms.tap" \
		> "$LOGS/dkms-build.log" 2>&1 &
fi

# L1 runs on the QEMU the set-up built, as L2 does (firmware from Debian's
# qemu-system-data): side by side, the nested guest's boot and stress ran
# about 10% faster in an L1 on QEMU 10.0 than on Debian 12's 7.2.
# watchdog_thresh=60 and RCU's stall timeout, as for L2 (l1-run.sh):
# soft lockups and stalls are reported after 120 s of a vCPU that a
# loaded host may starve for 20.
l1_append="console=ttyS0 panic=-1 quiet loglevel=4 watchdog_thresh=60"
l1_append+=" rcupdate.rcu_cpu_stall_timeout=120"
# The debug kernel's checkers write a lot: a log buffer that keeps all of
# it for the search at the end.
[ "$VM_KERNEL" = debug ] && l1_append+=" log_buf_len=16M"
say "booting L1 (TCG, 2 vCPUs, 6 GiB)"
"$QEMU" -accel tcg -cpu max -m 6G -smp 2 \
	-L /usr/share/seabios -L /usr/share/qemu \
	-nic none -display none -no-reboot \
	-bios qboot.rom -kernel "$VMLINUX" -initrd "$VM_OUT/l1.cpio.gz" \
	-append "$l1_append${VM_L1_APPEND:+ $VM_L1_APPEND}" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$TOP,mount_tag=top,security_model=none,multidevs=remap" \
	-virtfs "local,path=$VDMABUF_CACHE,mount_tag=cache,security_model=none,readonly=on,multidevs=remap" \
	-serial "file:$LOGS/l1-console.log" &
qpid=$!

stage="l1: boot" stage_t=$(date +%s) reason=
declare -A seen=([l1]=0 [l2]=0 [vu]=0)
# L1 writes its stages to a file of their own (see stage() in l1-run.sh);
# each L2's come from its console, which L1 copies over 9p as it grows,
# never half written (follow_l2, follow_console): the main L2's, then the
# vhost-user one's.
declare -A consoles=([l1]="$VM_OUT/l1-stages" [l2]="$VM_OUT/l2-console.log"
		     [vu]="$VM_OUT/l2-vu-console.log")
while kill -0 "$qpid" 2>/dev/null; do
	sleep 2
	now=$(date +%s)
	# New stage markers, live over 9p.  L1's last: its stage after an
	# L2 ends is the newer when both come in one poll.
	for vm in l2 vu l1; do
		# Whole lines only: the guest may be half-way through one.
		mapfile -t marks < <(gawk 'RT == "\n"' 2>/dev/null < "${consoles[$vm]}" |
				     tr -d '\r' | grep -a '^VDMABUF-STAGE: ' |
				     sed 's/^VDMABUF-STAGE: //')
		while [ "${seen[$vm]}" -lt "${#marks[@]}" ]; do
			stage=${marks[${seen[$vm]}]}; stage_t=$now
			# The same l2-init.sh: its stages named for their L2.
			[ $vm = vu ] && stage=l2@vhost-user${stage#l2}
			seen[$vm]=$((seen[$vm] + 1))
			say "$stage"
		done
	done
	limit=$STAGE_LIMIT
	[ "$stage" = "l1: boot" ] && limit=$BOOT_LIMIT
	if [ $((now - stage_t)) -gt "$limit" ]; then
		reason="stage '$stage' ran past its limit of ${limit}s"
	elif [ $((now - T0)) -gt "$L1_TIMEOUT" ]; then
		reason="the VM run ran past its limit of ${L1_TIMEOUT}s (stage '$stage')"
	fi
	if [ -n "$reason" ]; then
		kill -9 "$qpid" 2>/dev/null
		break
	fi
done
wait "$qpid" 2>/dev/null
cp -f "$VM_OUT/l2-console.log" "$LOGS/l2-console.log" 2>/dev/null
cp -f "$VM_OUT/l2-vu-console.log" "$LOGS/l2-vu-console.log" 2>/dev/null
cp -f "$VM_OUT/l1-dmesg.log" "$LOGS/l1-dmesg.log" 2>/dev/null

fatal=$(tr -d '\r' < "$LOGS/l1-console.log" | grep -a '^VDMABUF-FATAL' | head -n1)
if [ -z "$reason" ] && ! grep -q '^# l1: done' "$VM_OUT/l1.tap" 2>/dev/null; then
	reason="L1 stopped during stage '$stage'${fatal:+ ($fatal)}"
fi
# The test bed's own scripts in L1 must not have failed silently (a broken
# sleep once made L1 spin and still pass).  bash's report of the L2 QEMU
# killed on purpose is no error.
shellerr=$(tr -d '\r' < "$LOGS/l1-console.log" |
	   grep -a -E 'l1-(run|init|debug)\.sh: line [0-9]+: ' | grep -v ' Killed ' | head -n1)
if [ -z "$reason" ] && [ -n "$shellerr" ]; then
	reason="a test-bed script in L1 failed: ${shellerr#*/scripts/testbed/}"
fi
if [ -n "$reason" ]; then
	say "FAILED: $reason"
	# The console of the stage's VM; L1's too, which may have died.
	log=$LOGS/l1-console.log
	case "$stage" in
	l2@vhost-user:*) log=$LOGS/l2-vu-console.log ;;
	l2:*) log=$LOGS/l2-console.log ;;
	esac
	echo "---- last 40 lines of $log ----"
	tail -n 40 "$log" | tr -d '\r'
	if [ "$log" != "$LOGS/l1-console.log" ]; then
		echo "---- last 20 lines of $LOGS/l1-console.log ----"
		tail -n 20 "$LOGS/l1-console.log" | tr -d '\r'
	fi
	echo "---- full logs: $LOGS ----"
	{
		echo "# vm.tap"
		echo "not ok 1 - vm: $reason"
		echo "1..1"
	} > "$VM_OUT/vm.tap"
	exit 1
fi
say "VM run complete"

# The debug kernel: its results, and what its checkers reported in L1
# (l1-run.sh's debug_checks) and in each L2 (l2_debug_results), which
# fails the run.
# coverage() (coverage.sh): a driver's line and branch coverage.
. "$TOP/scripts/testbed/coverage.sh"

if [ "$VM_KERNEL" = debug ]; then
	awk -f "$TOP/scripts/testbed/tap-summary.awk" "$VM_OUT"/*.tap
	failed=0
	for r in "$VM_OUT"/kernel-reports.txt "$VM_OUT"/l2*-kernel-reports.txt; do
		[ -s "$r" ] || continue
		say "FAILED: the debug kernel's checkers reported ($(basename "$r"); kernel logs: $LOGS/l1-dmesg.log, $VM_OUT/l2*-debug/dmesg.log)"
		cat "$r"
		failed=1
	done
	[ $failed = 1 ] && exit 1
	if ! grep -q '^ok .* - l1: debug kernel: ' "$VM_OUT/l1.tap"; then
		say "FAILED: L1 did not run the debug kernel's checks"
		exit 1
	fi
	say "debug kernel: no report from KASAN, UBSAN, lockdep, DMA-API, kmemleak, ... in L1 and in every L2 it ran"
	coverage "$VM_OUT/coverage/vhost" drivers/vhost/vdmabuf.c "$VM_OUT/gcov"
	for c in drivers/virtio/virtio_vdmabuf.c drivers/gpu/drm/vdmabuf/vdmabuf_drv.c \
		 drivers/gpu/drm/vdmabuf/vdmabuf_kms.c; do
		coverage "$VM_OUT/coverage/$(basename "${c%.c}")" "$c" \
			"$VM_OUT/gcov-l2" "$VM_OUT/gcov-l2-vu"
	done
fi
