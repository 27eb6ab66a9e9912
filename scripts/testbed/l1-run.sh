#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the L1 host VM, in this machine's root (9p, read-only) with
# tmpfs for writes: checks the test bed, loads the host modules, runs the
# host test programs, then boots the L2 guest with the patched QEMU and
# collects its results.  Every result is TAP in $VM_OUT; the stage markers
# on the console let the runner outside report progress and name a stage
# that hangs or dies.

. /run/vdmabuf.env
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
cd "$TOP" || exit 1

R=$VM_OUT/l1.tap
n=0
echo "# l1.tap" > "$R"
ok()     { n=$((n + 1)); echo "ok $n - $*" >> "$R"; echo "ok - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*" >> "$R"; echo "not ok - $*"; }
check()  { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
stage()  {
	echo "VDMABUF-STAGE: $*"
	case "$VM_INJECT" in
	"panic:$*") echo c > /proc/sysrq-trigger ;;
	"hang:$*") sleep infinity ;;
	esac
}
finish() {
	echo "1..$n" >> "$R"
	echo "# l1: done" >> "$R"
	stage "l1: done"
	sync
	echo o > /proc/sysrq-trigger
	sleep 10
}

stage "l1: test bed checks"
ok "l1: booted the 6.12 kernel to init with this machine's root over 9p"
check "l1: root file system is read-only" \
	bash -c '! touch /usr/.vdmabuf-write-test 2>/dev/null'
check "l1: /tmp is a writable tmpfs" \
	bash -c 'touch /tmp/x && [ "$(stat -f -c %T /tmp)" = tmpfs ]'
check "l1: kernel is $KVER" [ "$(uname -r)" = "$KVER" ]

modprobe_k() { modprobe -d "$KROOT" "$@"; }
check "l1: modprobe vhost" modprobe_k vhost
check "l1: modprobe vgem" modprobe_k vgem
HOSTMOD=$TOP/drivers/vhost/vhost_vdmabuf.ko
if [ -f "$HOSTMOD" ]; then
	check "l1: insmod vhost_vdmabuf.ko" insmod "$HOSTMOD"
	check "l1: /dev/vhost-vdmabuf exists" [ -c /dev/vhost-vdmabuf ]
fi

# Host-side importers for the L2 run: started once QEMU's importer socket
# exists, stopped with SIGTERM after L2 is gone; their TAP is wrapped as a
# program of its own.
SOCK=/run/vdmabuf-l2.sock
declare -A imp_pid=()
start_importer() {	# NAME ARGS...
	local name=$1; shift
	(
		for _ in $(seq 600); do [ -S "$SOCK" ] && break; sleep 0.5; done
		exec "$BUILD/selftests/$name" --socket "$SOCK" \
			--tap "$VM_OUT/$name.raw" "$@" > "$VM_OUT/$name.log" 2>&1
	) &
	imp_pid[$name]=$!
}
stop_importers() {
	local name rc
	for name in "${!imp_pid[@]}"; do
		kill -TERM "${imp_pid[$name]}" 2>/dev/null
		for _ in $(seq 40); do
			kill -0 "${imp_pid[$name]}" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "${imp_pid[$name]}" 2>/dev/null
		wait "${imp_pid[$name]}"
		rc=$?
		{
			echo "# program: $name"
			cat "$VM_OUT/$name.raw" 2>/dev/null
			echo "# exit: $name $rc"
		} > "$VM_OUT/$name.tap"
		echo "# $name (exit $rc):"; tail -n 30 "$VM_OUT/$name.log"
	done
}

[ "$VM_MODE" = demo ] || for t in "$BUILD"/selftests/host_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	stage "l1: $name"
	{
		echo "# program: $name"
		timeout -k 5 "$TEST_TIMEOUT" "$t" 2>&1
		echo "# exit: $name $?"
	} > "$VM_OUT/$name.tap"
	grep -E '^(not )?ok |^# (exit|FAIL)' "$VM_OUT/$name.tap" | tail -n 40
done

if [ "$VM_STAGES" != l1 ]; then
	stage "l2: booting the guest (nested TCG, ~2-3 min)"
	check "l1: patched QEMU runs (-version)" "$QEMU" -version
	dev=()
	if "$QEMU" -device help 2>/dev/null | grep -q '"vhost-vdmabuf-pci"'; then
		ok "l1: QEMU lists the vhost-vdmabuf-pci device"
		if [ -c /dev/vhost-vdmabuf ]; then
			dev=(-device "vhost-vdmabuf-pci,importer-socket=/run/vdmabuf-l2.sock")
		fi
	fi
	: > "$VM_OUT/l2.tap"
	if [ ${#dev[@]} -gt 0 ]; then
		if [ "$VM_MODE" = demo ]; then
			mkdir -p "$BUILD/demo"
			[ -x "$BUILD/selftests/importer_demo" ] &&
				start_importer importer_demo --png "$BUILD/demo/last-frame.png"
		else
			[ -x "$BUILD/selftests/importer_e2e" ] && start_importer importer_e2e
		fi
	fi
	# qboot and the uncompressed kernel's PVH entry: no BIOS POST and no
	# decompression under nested TCG (133 s to init instead of 183 s).
	timeout -k 10 "$L2_TIMEOUT" "$QEMU" -accel tcg -m 1536M -smp 1 \
		-L /usr/share/seabios -L /usr/share/qemu -nic none \
		-bios qboot.rom -kernel "$VMLINUX" -initrd "$VM_OUT/l2.cpio.gz" \
		-append "console=ttyS0 panic=-1 oops=panic quiet loglevel=4" \
		-display none -no-reboot \
		-serial "file:$VM_OUT/l2-console.log" \
		-serial "file:$VM_OUT/l2.tap" \
		"${dev[@]}"
	rc=$?
	stop_importers
	if grep -q '^# l2: done' "$VM_OUT/l2.tap"; then
		ok "l2: guest ran to the end and powered off"
	else
		last=$(grep -a 'VDMABUF-STAGE' "$VM_OUT/l2-console.log" | tail -n1)
		not_ok "l2: guest did not finish (qemu exit $rc, last stage: ${last#*: })"
		tail -n 40 "$VM_OUT/l2-console.log"
	fi
fi

stage "l1: unloading"
if [ -f "$HOSTMOD" ]; then
	check "l1: rmmod vhost_vdmabuf" rmmod vhost_vdmabuf
fi
if dmesg | grep -E -q 'BUG:|WARNING:|Oops|Call Trace|general protection'; then
	dmesg | grep -E -A20 'BUG:|WARNING:|Oops|Call Trace' | head -60
	not_ok "l1: kernel log has no BUG, WARNING or Oops"
else
	ok "l1: kernel log has no BUG, WARNING or Oops"
fi
finish
