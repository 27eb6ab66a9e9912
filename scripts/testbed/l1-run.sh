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
# A message on one line, for a test's name (QEMU's hints add lines).
oneline() { tr '\n' ' ' <<< "$1" | sed 's/ *$//'; }
# QMP, and the host's side of the vhost-user stage's guest (vu-host.sh)
VU_HOST=l1
. "$TOP/scripts/testbed/vu-host.sh"
# The runner reads the stages from a file over 9p, written before the
# stage begins; the console's copy is only for the log, since a kernel
# message or a panic can land in the middle of it.
stage()  {
	echo "VDMABUF-STAGE: $*"
	echo "VDMABUF-STAGE: $*" >> "$VM_OUT/l1-stages"
	case "$VM_INJECT" in
	# A second for the console's copy to leave the tty, so the log
	# shows it before the kernel's panic messages.
	"panic:$*") sleep 1; echo c > /proc/sysrq-trigger ;;
	"hang:$*") sleep infinity ;;
	esac
}
finish() {
	echo "1..$n" >> "$R"
	echo "# l1: done" >> "$R"
	stage "l1: done"
	sync
	# Wait for the power-off without running anything from the root:
	# it is 9p, and going away (6.12.118 failed to exec sleep here).
	mkfifo /tmp/l1-finish
	exec 3<> /tmp/l1-finish
	echo o > /proc/sysrq-trigger
	read -r -t 10 -u 3 || :
}

stage "l1: test bed checks"
ok "l1: booted Linux $KVER to init with this machine's root over 9p"
check "l1: root file system is read-only" \
	bash -c '! touch /usr/.vdmabuf-write-test 2>/dev/null'
check "l1: /tmp is a writable tmpfs" \
	bash -c 'touch /tmp/x && [ "$(stat -f -c %T /tmp)" = tmpfs ]'
check "l1: kernel is $KVER" [ "$(uname -r)" = "$KVER" ]

# The debug kernel: kmemleak's baseline before anything of ours loads.
if [ "${VM_KERNEL:-debian}" = debug ]; then
	. "$TOP/scripts/testbed/l1-debug.sh"
	debug_baseline
fi

# VM_TESTS (vmcheck.sh): a developer's run of some guest programs only;
# L1's own tests are left out.
HOST_TESTS=0
[ "$VM_MODE" = check ] && [ -z "${VM_TESTS:-}" ] && [ "$VM_STAGES" != vu ] && HOST_TESTS=1

modprobe_k() { modprobe -d "$KROOT" "$@"; }
check "l1: modprobe vhost" modprobe_k vhost
check "l1: modprobe vgem" modprobe_k vgem
# The vhost-user back-end's host dma-bufs (host_vu_device, the L2 run on
# it): udmabuf is built in on Debian's 6.12, a module elsewhere, and not
# in Debian 12's own 6.1 at all (CONFIG_UDMABUF unset): there the
# vhost-user back-end cannot run, as the README says, and its tests skip.
if grep -q '^# CONFIG_UDMABUF is not set' "$KROOT/boot/config-$KVER" 2>/dev/null; then
	ok "l1: /dev/udmabuf exists # SKIP Linux $KVER is built without udmabuf"
else
	check "l1: /dev/udmabuf exists" sh -c '[ -c /dev/udmabuf ] || modprobe -d "$0" udmabuf' "$KROOT"
fi
# make modules' out-of-tree module, or the debug kernel's in-tree one.
HOSTMOD=${HOSTMOD:-$TOP/drivers/vhost/vhost_vdmabuf.ko}
if [ -f "$HOSTMOD" ]; then
	check "l1: insmod vhost_vdmabuf.ko" insmod "$HOSTMOD"
	check "l1: /dev/vhost-vdmabuf exists" [ -c /dev/vhost-vdmabuf ]
fi

# Host-side importers for the L2 run: started once QEMU's importer socket
# exists, stopped with SIGTERM after L2 is gone; their TAP is wrapped as a
# program of its own.
SOCK=/run/vdmabuf-l2.sock
declare -A imp_pid=()
# A host program: the examples (demo, bench) or a test program.
prog() {	# NAME[@BACKEND]
	if [ -x "$BUILD/examples/${1%@*}" ]; then
		echo "$BUILD/examples/${1%@*}"
	else
		echo "$BUILD/selftests/${1%@*}"
	fi
}
# Each frame the guest's KMS tests showed ("# kms-frame: output N WxH
# fnv1a64 H" in l2.tap, e2e_kms's and modetest's read back) must be among
# importer_display's screendumps of that output ("# kms-screendump: ...").
kms_compare() {	# [L2-TAP IMPORTER_DISPLAY-NAME]: l2.tap and importer_display
	local tap=${1:-$VM_OUT/l2.tap} name=${2:-importer_display}
	local frames dumps hidden f n=0 miss=0
	# The guest's serial port ends its lines with CR LF
	frames=$(tr -d '\r' < "$tap" | grep -a -o 'kms-frame: output .*' | sort -u)
	dumps=$(cat "$VM_OUT/$name".* | tr -d '\r' |
		grep -a -o 'kms-screendump: output .*' | sort -u)
	[ "${EXPECT_KMS:-0}" = 1 ] || return
	if [ ! -f "$KMSMOD" ]; then
		not_ok "l1: the KMS driver's module was built ($KMSMOD)"
		return
	fi
	while read -r f; do
		[ -n "$f" ] || continue
		n=$((n + 1))
		grep -q -F -x "kms-screendump: ${f#kms-frame: }" <<< "$dumps" || {
			miss=$((miss + 1)); echo "# no screendump of $f"; }
	done <<< "$frames"
	if [ "$n" -gt 0 ] && [ "$miss" -eq 0 ]; then
		ok "l1: every one of the $n frames the guest's KMS clients showed is a QEMU screendump of its output"
	else
		not_ok "l1: every frame the guest's KMS clients showed is a QEMU screendump of its output ($miss of $n missing)"
	fi
	# A framebuffer set on the plane of an output turned off (ACTIVE 0,
	# e2e_kms's "kms-hidden") must never have reached QEMU's display.
	hidden=$(tr -d '\r' < "$tap" | grep -a -o 'kms-hidden: output .*' | sort -u)
	n=0 miss=0
	while read -r f; do
		[ -n "$f" ] || continue
		n=$((n + 1))
		grep -q -F -x "kms-screendump: ${f#kms-hidden: }" <<< "$dumps" &&
			{ miss=$((miss + 1)); echo "# screendumped: $f"; }
	done <<< "$hidden"
	if [ "$n" -gt 0 ] && [ "$miss" -eq 0 ]; then
		ok "l1: none of the $n frames set on an inactive output reached QEMU's display"
	else
		not_ok "l1: the frames set on an inactive output did not reach QEMU's display ($miss of $n did; e2e_kms printed $n)"
	fi
}
start_importer() {	# NAME ARGS...
	local name=$1; shift
	(
		for _ in $(seq 600); do [ -S "$SOCK" ] && break; sleep 0.5; done
		exec "$(prog "$name")" --socket "$SOCK" \
			--tap "$VM_OUT/$name.raw" "$@" > "$VM_OUT/$name.log" 2>&1
	) &
	imp_pid[$name]=$!
}
# Stop one host-side program: SIGNAL, then SIGKILL after TRIES half
# seconds; its TAP (EXTRA files first) is wrapped as a program of its own.
stop_prog() {	# NAME PID SIGNAL TRIES [EXTRA...]
	local name=$1 pid=$2 sig=$3 tries=$4 rc
	shift 4
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq "$tries"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	{
		echo "# program: $name"
		cat "$@" "$VM_OUT/$name.raw" 2>/dev/null
		echo "# exit: $name $rc"
	} > "$VM_OUT/$name.tap"
	echo "# $name (exit $rc):"; tail -n 30 "$VM_OUT/$name.log"
}
stop_importers() {
	local name
	for name in "${!imp_pid[@]}"; do
		stop_prog "$name" "${imp_pid[$name]}" TERM 40
	done
}

# importer_holder (check mode): keeps life_guest's exports imported across
# module reload, freeze/restore and the guest's final reboot; once the
# reboot's reset has taken all of them away (--gone), QEMU is killed with
# the imports still held, then the holder checks that every buffer a
# guest reset revoked faults (SIGBUS) and any other reads, closes, and
# checks that no page stays pinned.  All 4 buffers that l2-init.sh's
# lifecycle stage hands to the holder are taken away by a guest reset
# (the udmabuf one unexported by "hold --close" by the module reload, the
# one of "freeze" by the freeze, the two of "hold --stay" by the reboot),
# so all 4 must be revoked.
holder_pid=
start_holder() {
	rm -f "$VM_OUT/holder.gone" "$VM_OUT/l2-qemu.killed"
	start_importer importer_holder --min 4 --expect-gone \
		--expect-revoked 4 \
		--gone "$VM_OUT/holder.gone" --timeout "$L2_TIMEOUT"
	# Not one of the importers stop_importers ends: stop_holder does,
	# with SIGUSR1, after QEMU is gone.
	holder_pid=${imp_pid[importer_holder]}
	unset 'imp_pid[importer_holder]'
}
# Runs while L2's QEMU does, once a second, and forks only when something
# changed (under TCG a fork and exec costs L1 more than anything else here,
# and L1's second vCPU also serves L2's device):
# - copies L2's serial logs from L1's tmpfs to $VM_OUT when they changed
#   (newer than a stamp on the same tmpfs, touched before each copy: the
#   9p side's times come from another clock);
# - with the holder, kills QEMU (SIGKILL, no clean-up of its own) once the
#   holder saw every held export go, or 180 s after the guest said it was
#   done if that never happens.
# The vdmabuf command (check mode), against the demo's buffers while the
# guest's demo_producer presents them: list, watch, snapshot, and the
# snapshot compared pixel for pixel with the picture of its frame.
# follow_l2 starts it when the guest starts the demo.  TAP in
# $VM_OUT/vdmabuf_tool.tap.
tool_pid=
# make demo-weston: when weston animates in the guest, a frame as a host
# program imports it (vdmabuf snapshot, through QEMU's importer socket);
# when it is still, QEMU's screendump of its display (PPM for check.sh's
# comparison with the guest's read-back, PNG to look at).
demo_weston_snap=
demo_weston_dumped=
demo_weston() {
	local d=$BUILD/demo
	if [ -z "$demo_weston_snap" ] &&
	   grep -q '^# demo-weston: animating' "$VM_OUT/l2.tap"; then
		LD_LIBRARY_PATH="$BUILD/lib" \
			"$BUILD/tools/vdmabuf" snapshot "$SOCK" --head 0 \
			-o "$d/weston-frame.png" --timeout 120000 \
			> "$VM_OUT/demo-weston-snapshot.log" 2>&1 &
		demo_weston_snap=$!
	fi
	if [ -z "$demo_weston_dumped" ] &&
	   grep -q '^# demo-weston: still' "$VM_OUT/l2.tap"; then
		demo_weston_dumped=1
		for f in ppm png; do
			qmp screendump filename "$d/weston-screendump.$f" \
				device vd0 format "$f" ||
				echo "# screendump $f failed"
		done > "$VM_OUT/demo-weston-screendump.log" 2>&1
	fi
}
tool_tests() {
	local raw=$VM_OUT/vdmabuf_tool.raw log=$VM_OUT/vdmabuf_tool.log
	local vdmabuf=$BUILD/tools/vdmabuf n=0 i u= uuids= seq rc lrc=
	tres() {	# tres STATUS NAME
		n=$((n + 1))
		if [ "$1" = 0 ]; then echo "ok $n - vdmabuf $2"
		else echo "not ok $n - vdmabuf $2"; fi >> "$raw"
	}
	export LD_LIBRARY_PATH=$BUILD/lib
	: > "$raw"
	for i in $(seq 60); do
		timeout 60 "$vdmabuf" list "$SOCK" > "$VM_OUT/vdmabuf-list.txt" 2>> "$log"
		lrc=$?
		uuids=$(grep '1920x1080 XR24' "$VM_OUT/vdmabuf-list.txt" | awk '{ print $1 }')
		[ "$(echo "$uuids" | grep -c .)" -ge 3 ] && break
		sleep 1
	done
	cat "$VM_OUT/vdmabuf-list.txt" >> "$log"
	tres "$( [ $lrc = 0 ] && [ "$(echo "$uuids" | grep -c .)" -ge 3 ]; echo $?)" \
		"list: exit 0 (got $lrc), the demo's three 1920x1080 XR24 buffers, with their metadata decoded"
	# The demo's buffers name output 0 in their image metadata; nothing
	# else presents while it runs (the e2e tests ran before it, modetest
	# and weston run after it).
	rm -f "$VM_OUT/head0.png"
	timeout 60 "$vdmabuf" snapshot "$SOCK" --head 0 -o "$VM_OUT/head0.png" \
		--json --timeout 45000 > "$VM_OUT/vdmabuf-snapshot-head0.json" 2>> "$log"
	rc=$?
	cat "$VM_OUT/vdmabuf-snapshot-head0.json" >> "$log"
	jq -e '.output == 0' "$VM_OUT/vdmabuf-snapshot-head0.json" >> "$log" 2>&1 || rc=1
	tres "$( [ $rc = 0 ] && [ -s "$VM_OUT/head0.png" ]; echo $?)" \
		"snapshot --head 0: a frame of output 0, its output in the JSON"
	timeout 60 "$vdmabuf" snapshot "$SOCK" --head 1 -o "$VM_OUT/head1.png" \
		--timeout 3000 >> "$log" 2>&1
	rc=$?
	tres "$( [ $rc = 3 ] && [ ! -e "$VM_OUT/head1.png" ] &&
		 tail -n 1 "$log" | grep -q 'no frame on output 1'; echo $?)" \
		"snapshot --head 1 when every buffer names output 0: exit 3 (got $rc), no file"
	timeout 60 "$vdmabuf" snapshot "$SOCK" "${uuids%%[[:space:]]*}" --head 0 \
		-o "$VM_OUT/both.png" >> "$log" 2>&1
	rc=$?
	tres "$( [ $rc = 2 ] && [ ! -e "$VM_OUT/both.png" ]; echo $?)" \
		"snapshot with a UUID and --head: a usage error, exit 2 (got $rc)"
	# A pause is not a reset (QMP stop, cont with the demo's buffers
	# exported and importer_demo holding them): the buffers stay live
	# while the VM is stopped, and the frames go on after cont.
	rc=1
	if qmp stop >> "$log" 2>&1; then
		sleep 2
		timeout 60 "$vdmabuf" list "$SOCK" > "$VM_OUT/vdmabuf-list-stopped.txt" 2>> "$log"
		lrc=$?
		qmp cont >> "$log" 2>&1 || lrc=1
		timeout 120 "$vdmabuf" watch "$SOCK" --count 9 --json \
			> "$VM_OUT/vdmabuf-watch-cont.jsonl" 2>> "$log"
		[ $? = 0 ] && [ $lrc = 0 ] && rc=0
		for i in $uuids; do
			grep -q "^$i .* live " "$VM_OUT/vdmabuf-list-stopped.txt" || rc=1
		done
		watch=$VM_OUT/vdmabuf-watch-cont.jsonl
		[ "$(grep -c '"type":"PRESENTED"' "$watch")" -ge 3 ] || rc=1
		cat "$VM_OUT/vdmabuf-list-stopped.txt" "$watch" >> "$log"
	fi
	what="list while the VM is stopped (QMP stop): the demo's buffers still live;"
	tres $rc "$what after cont, frames go on"
	u=$(echo "$uuids" | head -n 1)
	timeout 60 "$vdmabuf" list "$SOCK" --json > "$VM_OUT/vdmabuf-list.json" 2>> "$log"
	lrc=$?
	jq -e '[.[] | select(.image.width == 1920 and .image.height == 1080)] | length >= 3' \
		"$VM_OUT/vdmabuf-list.json" >> "$log" 2>&1
	rc=$?
	tres "$( [ $lrc = 0 ] && [ $rc = 0 ]; echo $?)" \
		"list --json: exit 0 (got $lrc), valid JSON, the three images in it"
	timeout 120 "$vdmabuf" watch "$SOCK" --count 12 --json > "$VM_OUT/vdmabuf-watch.jsonl" 2>> "$log"
	rc=$?
	# Each line a JSON object; twelve of them, the demo's frames among them.
	jq -e -s 'length == 12 and ([.[] | select(.type == "PRESENTED")] | length >= 6)' \
		"$VM_OUT/vdmabuf-watch.jsonl" >> "$log" 2>&1 || rc=1
	tres $rc \
		"watch --count 12 --json: twelve events, one JSON object a line, the demo's frames among them"
	rm -f "$VM_OUT/snapshot.png"
	# The demo presents each of its three buffers every third frame: 10 s
	# apart when a loaded machine draws a frame in 3.2 s, which is the
	# command's default timeout.
	timeout 60 "$vdmabuf" snapshot "$SOCK" "$u" -o "$VM_OUT/snapshot.png" --json \
		--timeout 45000 > "$VM_OUT/vdmabuf-snapshot.json" 2>> "$log"
	rc=$?
	cat "$VM_OUT/vdmabuf-snapshot.json" >> "$log"
	seq=$(grep -o '"seq": *[0-9]*' "$VM_OUT/vdmabuf-snapshot.json" | grep -o '[0-9]*$')
	tres "$( [ $rc = 0 ] && [ -n "$seq" ] && [ -s "$VM_OUT/snapshot.png" ]; echo $?)" \
		"snapshot $u: frame ${seq:-?} written as a PNG"
	"$(prog importer_demo)" --check-png "$VM_OUT/snapshot.png" --seq "${seq:-0}" >> "$log" 2>&1
	tres $? "snapshot is pixel-exact: the demo's picture of frame ${seq:-?}"
	timeout 60 "$vdmabuf" snapshot "$SOCK" 00000000-0000-4000-8000-000000000001 \
		-o "$VM_OUT/none.png" --timeout 2000 >> "$log" 2>&1
	rc=$?
	tres "$( [ $rc = 3 ] && [ ! -e "$VM_OUT/none.png" ]; echo $?)" \
		"snapshot of a UUID nobody exported: exit 3 (timeout, got $rc), no file"
	timeout 60 "$vdmabuf" list /run/no-such-vdmabuf.sock >> "$log" 2>&1
	rc=$?
	tres "$( [ $rc = 1 ]; echo $?)" "list of a socket that does not exist: exit 1 (got $rc)"
	{
		echo "# program: vdmabuf_tool"
		cat "$raw"
		echo "1..$n"
		echo "# exit: vdmabuf_tool 0"
	} > "$VM_OUT/vdmabuf_tool.tap"
}
# The guest started demo_producer: importer_demo checks its frames, the
# vdmabuf command looks at its buffers.  A new importer reads EXPORTED for
# every live export first, so joining late misses nothing it checks.
start_demo_tests() {
	[ -n "$tool_pid" ] && return
	[ -x "$BUILD/examples/importer_demo" ] &&
		start_importer importer_demo --png "$VM_OUT/check-last-frame.png"
	tool_tests &
	tool_pid=$!
}
stop_tool_tests() {
	[ "$VM_MODE" = check ] || return 0
	if [ -z "$tool_pid" ]; then
		not_ok "l1: the vdmabuf command tests started (the guest never ran demo_producer)"
		return
	fi
	for _ in $(seq 120); do kill -0 "$tool_pid" 2>/dev/null || break; sleep 0.5; done
	kill -KILL "$tool_pid" 2>/dev/null
	wait "$tool_pid"
	[ -f "$VM_OUT/vdmabuf_tool.tap" ] ||
		not_ok "l1: the vdmabuf command tests finished"
}
# A second's sleep without a fork: read -t on a FIFO nobody writes, opened
# by nap_open into $nap (sleep(1) when that fails).  (Not <(:): L1 has no
# /dev/fd.)
nap_open() {
	rm -f "$L2D/nap"
	mkfifo "$L2D/nap" && exec {nap}<> "$L2D/nap" || nap=
}
nap_1s() {
	if [ -n "$nap" ]; then read -r -t 1 -u "$nap"; else sleep 1; fi
}
nap_close() {
	[ -n "$nap" ] && exec {nap}<&-
}
follow_l2() {
	local nap deadline= killed= qemu f
	nap_open
	while kill -0 "$qpid" 2>/dev/null; do
		for f in l2-console.log l2.tap; do
			[ "$L2D/$f" -nt "$L2D/$f.copied" ] || continue
			: > "$L2D/$f.copied"
			copy_whole "$L2D/$f" "$VM_OUT/$f"
			[ $f = l2.tap ] && [ -z "$deadline" ] &&
				grep -q '^# l2: done' "$VM_OUT/l2.tap" &&
				deadline=$((SECONDS + 180))
			[ $f = l2.tap ] && [ "$VM_MODE" = demo-weston ] && demo_weston
			[ $f = l2.tap ] && [ "$VM_MODE" = check ] &&
				[ -z "$tool_pid" ] &&
				grep -q '^# program: demo_producer' "$VM_OUT/l2.tap" &&
				start_demo_tests
		done
		if [ -n "$holder_pid" ] && [ -z "$killed" ] &&
		   { [ -f "$VM_OUT/holder.gone" ] ||
		     { [ -n "$deadline" ] && [ "$SECONDS" -gt "$deadline" ]; }; }; then
			qemu=$(cat "$VM_OUT/l2-qemu.pid" 2>/dev/null)
			echo "# QEMU VmPin before SIGKILL: $(grep VmPin "/proc/$qemu/status")" \
				>> "$VM_OUT/l2-qemu.kill"
			[ -f "$VM_OUT/holder.gone" ] && touch "$VM_OUT/l2-qemu.killed"
			kill -KILL "$qemu"
			killed=1
		fi
		nap_1s
	done
	nap_close
	for f in l2-console.log l2.tap; do
		copy_whole "$L2D/$f" "$VM_OUT/$f"
	done
}
# FILE as COPY, which a reader (vmcheck, over 9p) never sees half
# written: a new file renamed over the old.
copy_whole() {	# FILE COPY
	cp -f "$1" "$2.part" && mv -f "$2.part" "$2"
}
# FILE copied to COPY as it changes, until $qpid ends: vmcheck reads an
# L2's stages from its console in $VM_OUT, and times each one.  Changed
# since the last copy by the stamp FILE.copied, on FILE's filesystem and
# clock (COPY's, over 9p, are the host's).
follow_console() {	# FILE COPY
	local nap
	nap_open
	: > "$1.copied"
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$1" -nt "$1.copied" ]; then
			: > "$1.copied"
			copy_whole "$1" "$2"
		fi
		nap_1s
	done
	nap_close
	copy_whole "$1" "$2"
}
stop_holder() {
	stop_prog importer_holder "$holder_pid" USR1 120 "$VM_OUT/l2-qemu.kill"
}

run_host_prog() {	# NAME PROGRAM ARGS...: one program's TAP, framed
	local name=$1
	shift
	stage "l1: $name"
	{
		echo "# program: $name"
		timeout -k 5 "$TEST_TIMEOUT" "$@" 2>&1
		echo "# exit: $name $?"
	} > "$VM_OUT/$name.tap"
	grep -E '^(not )?ok |^# (exit|FAIL)' "$VM_OUT/$name.tap" | tail -n 40
}
# host_vdmabuf again (about 15 s here) with the kernel's unbound workers
# starved: confined to CPU 1 under a busy loop at nice -20, the tests on
# CPU 0.  Work that a system call leaves to a worker runs late, as on a
# loaded machine: netfs unpins the pages of a write to 9p (where the
# tests' output goes) from one, so a test comparing the machine's pin
# counters across its run sees a release it did not cause.  On 6.12 and
# the newest kernel only: 6.1's 9p is not netfs, and its vhost worker, a
# kthread, could land on the busy CPU; nor on the debug kernel, where the
# run would take minutes.  The busy loop ends by itself at the tests'
# time limit, should this script be stopped in between.
starved_host_tests() {
	local wq=/sys/devices/virtual/workqueue/cpumask mask hog

	[ -x "$BUILD/selftests/host_vdmabuf" ] && [ -c /dev/vhost-vdmabuf ] || return 0
	mask=$(cat "$wq")
	if [ -z "$mask" ] || [ "$(nproc)" -lt 2 ] || ! echo 2 > "$wq"; then
		not_ok "l1: the unbound workers confined to CPU 1 (2 CPUs, $wq)"
		return 0
	fi
	timeout "$((TEST_TIMEOUT + 30))" taskset -c 1 nice -n -20 \
		sh -c 'while :; do :; done' &
	hog=$!
	sleep 1
	if ! kill -0 "$hog" 2> /dev/null; then
		not_ok "l1: a busy loop at nice -20 on CPU 1"
		echo "$mask" > "$wq"
		return 0
	fi
	ok "l1: a busy loop at nice -20 on CPU 1"
	run_host_prog host_vdmabuf_starved taskset -c 0 \
		"$BUILD/selftests/host_vdmabuf" -F limits -T cpu_access_sees_guest_writes
	kill "$hog"
	wait "$hog" 2> /dev/null
	check "l1: the unbound workers' CPU mask restored" sh -c 'echo "$1" > "$0"' "$wq" "$mask"
}
# The host tests at the module's defaults, then host_vdmabuf's "limits"
# fixture with the module reloaded with small per-device caps, which the
# defaults would take gigabytes and thousands of events to reach.
# host.cpu_access_sees_guest_writes can fail only when streaming DMA
# mappings bounce: it runs alone in an L1 booted with swiotlb=force
# (VM_MODE=swiotlb), and never here, where it could only skip.
if [ "$VM_MODE" = swiotlb ] && [ -x "$BUILD/selftests/host_vdmabuf" ]; then
	check "l1: booted with swiotlb=force" grep -qw swiotlb=force /proc/cmdline
	run_host_prog host_vdmabuf_swiotlb "$BUILD/selftests/host_vdmabuf" \
		-t cpu_access_sees_guest_writes
fi
if [ "$HOST_TESTS" = 1 ]; then
	for t in "$BUILD"/selftests/host_*; do
		[ -x "$t" ] && run_host_prog "$(basename "$t")" "$t" -F limits \
			-T cpu_access_sees_guest_writes
	done
	if [ -c /dev/vhost-vdmabuf ] && [ -x "$BUILD/selftests/host_vdmabuf" ]; then
		check "l1: reload vhost_vdmabuf with max_total_mb=4 max_guest_events=16 max_exports=8" \
			sh -c 'rmmod vhost_vdmabuf && insmod "$0" max_total_mb=4 max_guest_events=16 max_exports=8' "$HOSTMOD"
		run_host_prog host_vdmabuf_limits "$BUILD/selftests/host_vdmabuf" -f limits
		# The pin cap's ceiling keeps a page's pin count in range.
		check "l1: max_total_mb=1048576 is clamped to 4096" \
			sh -c 'rmmod vhost_vdmabuf && insmod "$0" max_total_mb=1048576 &&
			       [ "$(cat "$1"max_total_mb)" = 4096 ]' \
			"$HOSTMOD" /sys/module/vhost_vdmabuf/parameters/
		check "l1: reload vhost_vdmabuf with its defaults" \
			sh -c 'rmmod vhost_vdmabuf && insmod "$0"' "$HOSTMOD"
	fi
	case ${VM_KERNEL:-debian} in debian|new|7.*) starved_host_tests ;; esac
	# The host fuzzer (selftests/vdmabuf/fuzz_host.c), a fixed-seed
	# portion at the module's defaults: about 25 s here.  make fuzz
	# runs it alone for as long as asked (below).
	run_host_prog fuzz_host "$BUILD/selftests/fuzz_host" --seed 1 \
		--requests 35000 --time-limit 120
	# On the debug kernel: the fuzzer again, with allocations failing.
	[ "${VM_KERNEL:-debian}" = debug ] && debug_faults
fi
# make fuzz (VM_MODE=fuzz, scripts/testbed/fuzz.sh): the host fuzzer
# alone, with a progress line a minute in its TAP; FUZZ_ARGS adds options
# (--memlock-kb N: an unprivileged VMM, its pins charged).
if [ "$VM_MODE" = fuzz ]; then
	# shellcheck disable=SC2086
	run_host_prog fuzz_host "$BUILD/selftests/fuzz_host" \
		--seed "${FUZZ_SEED:-1}" --requests "${FUZZ_REQUESTS:-10000000}" \
		--time-limit "${FUZZ_TIME_LIMIT:-3600}" --progress 60 ${FUZZ_ARGS:-}
fi

# A QEMU that never runs a guest (-S): for what realize and QMP decide.
qemu_stopped() {	# SECONDS QEMU-ARGS...
	local t=$1
	shift
	timeout "$t" "$QEMU" -S -display none -nic none \
		-L /usr/share/seabios -L /usr/share/qemu "$@"
}

# The QEMU device's limit properties reach the kernel (SET_LIMITS before
# the configuration space is read): one within the module's ceiling
# realizes, one above it fails realize with the reason.
if [ "$HOST_TESTS" = 1 ] && [ -c /dev/vhost-vdmabuf ] && [ -x "$QEMU" ] &&
   "$QEMU" -device help 2>/dev/null | grep -q '"vhost-vdmabuf-pci"'; then
	qemu_limits() {
		printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
			qemu_stopped 120 -machine q35 -qmp stdio \
			-device "vhost-vdmabuf-pci,$1" 2>&1
	}
	if ! "$QEMU" -device vhost-vdmabuf-pci,help 2>/dev/null |
	     grep -q max-exports; then
		ok "l1: QEMU's vhost-vdmabuf limit properties # SKIP $QEMU predates qemu-patches/0007 (make qemu)"
	else
		check "l1: QEMU realizes vhost-vdmabuf-pci,max-exports=8,max-total-mb=64" \
			qemu_limits max-exports=8,max-total-mb=64
		out=$(qemu_limits max-exports=4294967295)
		what="l1: QEMU refuses max-exports above the module's ($(oneline "${out##*: }"))"
		if [[ "$out" == *"module parameter"* ]]; then
			ok "$what"
		else
			not_ok "$what"
		fi
	fi
fi

# QEMU's own test of the device, where the module is: its case that
# realizes the device runs here (unit.sh ran the others without it).
qt=$(dirname "$QEMU")/tests/qtest/vhost-vdmabuf-test
if [ "$HOST_TESTS" = 1 ] && [ -c /dev/vhost-vdmabuf ] && [ -x "$qt" ]; then
	run_host_prog qtest-vhost-vdmabuf env QTEST_QEMU_BINARY="$QEMU" "$qt" --tap
elif [ "$HOST_TESTS" = 1 ] &&
     grep -qs tests/qtest/vhost-vdmabuf-test "$TOP"/qemu-patches/*.patch; then
	not_ok "l1: $qt was built and /dev/vhost-vdmabuf exists (make qemu)"
fi

# The importer socket hands importer fds to root, QEMU's own user and
# importer-uid only, whatever the socket file's mode; it replaces only a
# stale socket.  The other user here is uid 4242.
importer_try() {	# SOCKET [setpriv args]: 0 an fd, 1 a clean EOF, 2 else
	local sock=$1
	shift
	"$@" /usr/bin/python3 -c '
import socket, sys
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    msg, fds, flags, addr = socket.recv_fds(s, 1, 1)
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(2)
sys.exit(0 if len(fds) == 1 else 1 if msg == b"" else 2)' "$sock"
}
importer_gets_fd() { importer_try "$@"; }
importer_no_fd() { importer_try "$@"; [ $? -eq 1 ]; }
importer_qemu() {	# SOCKET PROPS [keep]: QEMU with the socket, pid in $qpid
	local old=none
	if [ "${3:-}" = keep ]; then
		old=$(stat -c %i "$1")
	else
		rm -f "$1"
	fi
	timeout 120 "$QEMU" -S -display none -nic none -machine q35 \
		-L /usr/share/seabios -L /usr/share/qemu \
		-device "vhost-vdmabuf-pci,importer-socket=$1$2" \
		> /tmp/importer-qemu.log 2>&1 < /dev/null &
	qpid=$!
	# Until QEMU's own socket is there (a new inode where one was kept).
	for _ in $(seq 100); do
		[ -S "$1" ] && [ "$(stat -c %i "$1")" != "$old" ] && break
		sleep 0.2
	done
	chmod 0777 "$1"
}
importer_refused() {	# PROPS: QEMU fails to realize; its message
	qemu_stopped 60 -machine q35 -device "vhost-vdmabuf-pci,$1" 2>&1 < /dev/null
}
# importer-chardev (qemu-patches/0010): the same protocol on a socket
# chardev, for a management layer that sets up the socket, or hands QEMU
# connected clients with add_client (libvirt's way: getfd with one end of
# a socketpair, add_client, the importer fd arrives on the other end).
importer_add_client() {	# QMP-SOCKET CHARDEV-ID: 0 if the pair got an fd
	/usr/bin/python3 -c '
import json, socket, sys
q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
q.settimeout(60)
for _ in range(100):
    try:
        q.connect(sys.argv[1])
        break
    except OSError:
        import time; time.sleep(0.2)
f = q.makefile("r")
def cmd(c, fds=None):
    data = json.dumps(c).encode() + b"\n"
    if fds:
        socket.send_fds(q, [data], fds)
    else:
        q.sendall(data)
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())
cmd({"execute": "qmp_capabilities"})
mine, theirs = socket.socketpair()
r = cmd({"execute": "getfd", "arguments": {"fdname": "imp0"}}, [theirs.fileno()])
theirs.close()
r = r if "error" in r else cmd({"execute": "add_client", "arguments": {"protocol": sys.argv[2], "fdname": "imp0"}})
if "error" in r:
    print(r, file=sys.stderr)
    sys.exit(2)
mine.settimeout(60)
msg, fds, flags, addr = socket.recv_fds(mine, 1, 1)
sys.exit(0 if len(fds) == 1 else 1)' "$@"
}
# DKMS as a user runs it (make dkms-install: scripts/dkms.sh), for this
# kernel: scripts/testbed/dkms-build.sh built and installed the modules on
# the machine (natively: 181 s here under TCG), into build/dkms/installed,
# and checked make dkms-uninstall; check.sh runs it while L1 boots.  Here
# the DKMS host module must be the one modprobe loads from a copy of that
# tree, with this kernel's modules bound in, and pass host tests.
dkms_tests() {
	local root=/tmp/dkms-root i
	local mods=$root/lib/modules/$KVER inst=$BUILD/dkms/installed/lib/modules/$KVER
	stage "l1: DKMS"
	for i in $(seq 600); do
		[ -f "$BUILD/dkms/rc" ] && break
		sleep 1
	done
	if [ "$(cat "$BUILD/dkms/rc" 2>/dev/null)" != 0 ] || [ ! -d "$inst/updates/dkms" ]; then
		not_ok "l1: DKMS: dkms-build.sh installed the modules for $KVER (build/results/dkms.tap)"
		return
	fi
	mkdir -p "$mods/kernel"
	cp -a "$inst/updates" "$mods/"
	mount --bind "$KROOT/lib/modules/$KVER/kernel" "$mods/kernel"
	cp "$KROOT/lib/modules/$KVER"/modules.order "$KROOT/lib/modules/$KVER"/modules.builtin* "$mods/"
	check "l1: DKMS: depmod and modinfo find the three modules in updates/dkms" \
		sh -c 'depmod -b "$1" "$2" &&
		       modinfo -b "$1" -k "$2" -n vhost_vdmabuf | grep -q "/updates/dkms/vhost_vdmabuf.ko" &&
		       modinfo -b "$1" -k "$2" -n virtio_vdmabuf | grep -q "/updates/dkms/virtio_vdmabuf.ko" &&
		       modinfo -b "$1" -k "$2" -n vdmabuf_drm | grep -q "/updates/dkms/vdmabuf_drm.ko"' \
		_ "$root" "$KVER"
	# --first-time: not the module of make, should it still be loaded
	check "l1: DKMS: modprobe vhost_vdmabuf" \
		modprobe --first-time -d "$root" vhost_vdmabuf
	if [ -x "$BUILD/selftests/host_vdmabuf" ]; then
		run_host_prog host_vdmabuf_dkms "$BUILD/selftests/host_vdmabuf" \
			-r host.export_import_mmap -r host.present_frame_done
	else
		not_ok "l1: DKMS: host_vdmabuf was built (make selftests)"
	fi
	check "l1: DKMS: rmmod vhost_vdmabuf" rmmod vhost_vdmabuf
	umount "$mods/kernel"
}
importer_chardev_tests() {
	local sock=/tmp/importer-chr.sock qmp=/tmp/importer-chr-qmp.sock
	if ! "$QEMU" -device vhost-vdmabuf-pci,help 2>/dev/null |
	     grep -q importer-chardev; then
		not_ok "l1: QEMU's vhost-vdmabuf-pci has importer-chardev (make qemu)"
		return
	fi
	rm -f $sock $qmp
	timeout 120 "$QEMU" -S -display none -nic none -machine q35 \
		-L /usr/share/seabios -L /usr/share/qemu \
		-qmp unix:$qmp,server=on,wait=off \
		-chardev socket,id=vdmabuf-imp,path=$sock,server=on,wait=off \
		-device vhost-vdmabuf-pci,importer-chardev=vdmabuf-imp \
		> /tmp/importer-chr-qemu.log 2>&1 < /dev/null &
	qpid=$!
	for _ in $(seq 100); do [ -S $sock ] && [ -S $qmp ] && break; sleep 0.2; done
	check "l1: importer-chardev gives a client on its socket an importer fd" \
		importer_gets_fd $sock
	check "l1: importer-chardev serves the next client too" \
		importer_gets_fd $sock
	check "l1: importer-chardev serves a client handed over with getfd and add_client" \
		importer_add_client $qmp vdmabuf-imp
	kill "$qpid"; wait "$qpid" 2>/dev/null
	out=$(qemu_stopped 60 -machine q35 \
	      -chardev socket,id=imp,path=$sock,server=on,wait=off \
	      -device vhost-vdmabuf-pci,importer-chardev=imp,importer-socket=/tmp/x.sock \
	      2>&1 < /dev/null)
	what="l1: QEMU refuses importer-chardev with importer-socket ($(oneline "${out##*: }"))"
	if [[ "$out" == *"exclude each other"* ]]; then
		ok "$what"
	else
		not_ok "$what"
	fi
	# A chardev that dials out would hand importers to whatever listens.
	out=$(qemu_stopped 60 -machine q35 \
	      -chardev socket,id=imp,path=$sock,server=off,reconnect-ms=1000 \
	      -device vhost-vdmabuf-pci,importer-chardev=imp 2>&1 < /dev/null)
	what="l1: QEMU refuses an importer-chardev with server=off ($(oneline "${out##*: }"))"
	if [[ "$out" == *"server=on"* ]]; then
		ok "$what"
	else
		not_ok "$what"
	fi
}
if [ "$HOST_TESTS" = 1 ] && [ -c /dev/vhost-vdmabuf ] && [ -x "$QEMU" ] &&
   "$QEMU" -device vhost-vdmabuf-pci,help 2>/dev/null | grep -q importer-uid; then
	other=(setpriv --reuid=4242 --regid=4242 --clear-groups)
	sock=/tmp/importer-test.sock
	importer_qemu $sock ""
	check "l1: the importer socket gives root an importer fd" \
		importer_gets_fd $sock
	check "l1: the importer socket (mode 0777) gives uid 4242 none" \
		importer_no_fd $sock "${other[@]}"
	check "l1: QEMU warned that it refused uid 4242" \
		grep -q 'refused an importer to uid 4242' /tmp/importer-qemu.log
	out=$(importer_refused importer-socket=$sock)
	what="l1: QEMU does not take over a socket in use ($(oneline "${out##*: }"))"
	if [[ "$out" == *"is in use"* ]] && importer_gets_fd $sock; then
		ok "$what"
	else
		not_ok "$what"
	fi
	kill "$qpid"; wait "$qpid" 2>/dev/null
	importer_qemu $sock ",importer-uid=4242"
	check "l1: with importer-uid=4242, uid 4242 gets an importer fd" \
		importer_gets_fd $sock "${other[@]}"
	kill -9 "$qpid"; wait "$qpid" 2>/dev/null
	pkill -9 -f "importer-socket=$sock"
	# A socket nobody listens on (QEMU was killed): replaced.
	check "l1: a killed QEMU left its importer socket behind" [ -S $sock ]
	importer_qemu $sock "" keep
	check "l1: QEMU replaces a stale importer socket" importer_gets_fd $sock
	kill "$qpid"; wait "$qpid" 2>/dev/null
	echo keep > /tmp/importer-test.file
	out=$(importer_refused importer-socket=/tmp/importer-test.file)
	qrc=$?
	what="l1: QEMU does not replace a file that is not a socket ($(oneline "${out##*: }"))"
	if [ $qrc -eq 1 ] && [ "$(cat /tmp/importer-test.file)" = keep ]; then
		ok "$what"
	else
		not_ok "$what"
	fi
	rm -f /tmp/importer-test.file
	out=$(importer_refused importer-uid=4242)
	what="l1: QEMU refuses importer-uid without importer-socket"
	if [[ "$out" == *"importer-uid needs importer-socket"* ]]; then
		ok "$what"
	else
		not_ok "$what"
	fi
	importer_chardev_tests
fi

# The device has no legacy interface: on virtio-mmio, whose transports
# are legacy-only unless told otherwise, realize fails and says how to get
# a modern one.  And it cannot migrate: pinned pages stay on this host.
if [ "$HOST_TESTS" = 1 ] && [ -c /dev/vhost-vdmabuf ] && [ -x "$QEMU" ] &&
   "$QEMU" -device help 2>/dev/null | grep -q '"vhost-vdmabuf-device"'; then
	qemu_qmp() {	# QMP-COMMANDS QEMU-ARGS...: QEMU's output, its status
		local cmds=$1
		shift
		printf '{"execute":"qmp_capabilities"}\n%s{"execute":"quit"}\n' "$cmds" |
			qemu_stopped 120 -qmp stdio "$@" 2>&1
	}
	out=$(qemu_qmp '' -machine microvm -device vhost-vdmabuf-device)
	qrc=$?
	what="l1: QEMU refuses vhost-vdmabuf-device on a legacy virtio-mmio transport"
	what+=" ($(oneline "${out##*: }"))"
	if [ $qrc -ne 0 ] && [ $qrc -ne 124 ] &&
	   [[ "$out" == *VIRTIO_F_VERSION_1* && "$out" == *force-legacy=false* ]]; then
		ok "$what"
	else
		not_ok "$what"
	fi
	check "l1: QEMU realizes vhost-vdmabuf-device on a modern virtio-mmio transport" \
		qemu_qmp '' -machine microvm -global virtio-mmio.force-legacy=false \
		-device vhost-vdmabuf-device
	out=$(qemu_qmp '{"execute":"migrate","arguments":{"uri":"exec:cat >/dev/null"}}
' -machine q35 -device vhost-vdmabuf-pci)
	what="l1: QEMU does not migrate a VM with vhost-vdmabuf-pci"
	if [[ "$out" == *'"error"'* ]]; then
		ok "$what ($(grep -o '"desc": "[^"]*"' <<< "$out" | head -n 1))"
	else
		not_ok "$what: $out"
	fi
	out=$(qemu_stopped 60 -machine q35 -only-migratable \
	      -device vhost-vdmabuf-pci 2>&1 < /dev/null)
	qrc=$?
	what="l1: QEMU -only-migratable refuses vhost-vdmabuf-pci ($(oneline "${out##*: }"))"
	if [ $qrc -eq 1 ]; then
		ok "$what"
	else
		not_ok "$what"
	fi
	# display=on: a graphic console per output, named by the PCI
	# device's id for screendump, that shows a placeholder of the
	# output's size until the guest presents an image for it.
	if "$QEMU" -device vhost-vdmabuf-pci,help 2>/dev/null | grep -q 'outputs='; then
		rm -f /tmp/display-head*.ppm
		dump='{"execute":"screendump","arguments":{"device":"vd0","head":%d,"filename":"/tmp/display-head%d.ppm","format":"ppm"}}\n'
		# shellcheck disable=SC2059
		out=$(qemu_qmp "$(printf "$dump$dump" 1 1 2 2)" -machine q35 \
		      -device vhost-vdmabuf-pci,id=vd0,display=on,outputs=2,xres=320,yres=200)
		check "l1: display=on,outputs=2: screendump of head 1 is the 320x200 placeholder" \
			[ "$(head -c 15 /tmp/display-head1.ppm | tr '\n' ' ')" = "P6 320 200 255 " ]
		check "l1: display=on,outputs=2 has no head 2" \
			grep -q 'head 2) is not bound' <<< "$out"
		out=$(qemu_stopped 60 -machine q35 \
		      -device vhost-vdmabuf-pci,display=on,outputs=17 2>&1 < /dev/null)
		qrc=$?
		what="l1: QEMU refuses display=on,outputs=17 ($(oneline "${out##*: }"))"
		if [ $qrc -eq 1 ] && [[ "$out" == *"between 1 and 16"* ]]; then
			ok "$what"
		else
			not_ok "$what"
		fi
	else
		not_ok "l1: QEMU's vhost-vdmabuf-pci has display= and outputs= (make qemu)"
	fi
fi

# Both L2 runs' kernel command line (see the main run's comments).
l2_append="console=ttyS0 panic=-1 oops=panic quiet loglevel=4"
l2_append+=" cryptomgr.notests watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120"
# The debug kernel in L2 too: room for KASAN's shadow, a log buffer that
# keeps everything, and a third serial port that brings its kernel log,
# kmemleak's report and gcov's data here (l2-init.sh's debug_collect,
# l1-debug.sh's l2_debug_results).
# Its boot is not quiet there: in nested TCG it takes many minutes, and
# the console shows how far it got.  It could not calibrate the TSC
# against the PIT in nested TCG (2026-12-07: "Unable to calibrate against
# PIT", no TSC, every clock read an emulated HPET's MMIO: not at init
# after 25 min).  The TSC L2 reads is this machine's, as L1's is: L1's
# frequency, given as tsc_early_khz, skips the calibration, and
# tsc=reliable the watchdog that would compare it with the HPET.
L2_MEM=768M
if [ "${VM_KERNEL:-debian}" = debug ]; then
	L2_MEM=1G
	l2_append="${l2_append/ quiet loglevel=4/ loglevel=7} log_buf_len=16M"
	# "Detected ... MHz TSC" when the TSC's frequency is not the CPU's,
	# "Detected ... MHz processor" for both otherwise.
	tsc_khz=$(dmesg | sed -n -e 's/.*tsc: Detected \([0-9]*\)\.\([0-9]\{3\}\) MHz TSC$/1 \1\2/p' \
		-e 's/.*tsc: Detected \([0-9]*\)\.\([0-9]\{3\}\) MHz processor$/2 \1\2/p' |
		sort | head -n1 | cut -d' ' -f2)
	if [ -n "$tsc_khz" ]; then
		l2_append+=" tsc_early_khz=$tsc_khz tsc=reliable"
	else
		echo "# L1 did not say its TSC's frequency: L2 calibrates its own (slow)"
	fi
fi
l2_debug_port() {	# FILE: QEMU's arguments for it, on the debug kernel
	[ "${VM_KERNEL:-debian}" = debug ] || return 0
	: > "$1"
	echo "-serial file:$1"
}
if [ "$VM_STAGES" != l1 ] && [ "$VM_STAGES" != vu ]; then
	stage "l2: booting the guest (nested TCG, ~1.5-2 min)"
	check "l1: patched QEMU runs (-version)" "$QEMU" -version
	dev=()
	if "$QEMU" -device help 2>/dev/null | grep -q '"vhost-vdmabuf-pci"'; then
		ok "l1: QEMU lists the vhost-vdmabuf-pci device"
		if [ -c /dev/vhost-vdmabuf ]; then
			dev=(-device "vhost-vdmabuf-pci,importer-socket=/run/vdmabuf-l2.sock")
			# A limit property the guest must see (l2-init.sh's
			# "vdmabuf info" check): 1000 exports, not the
			# module's 1024.
			[ "$VM_MODE" = check ] && dev[1]+=,max-exports=1000
			# QEMU's display (qemu-patches/0010): two outputs
			# in check mode, for importer_display's screendumps;
			# one in the demo, for its screendump of the last
			# frame.
			case $VM_MODE in
			check) dev[1]+=,id=vd0,display=on,outputs=2,xres=320,yres=200 ;;
			demo) dev[1]+=,id=vd0,display=on,xres=1920,yres=1080 ;;
			demo-weston) dev[1]+=,id=vd0,display=on,outputs=2,xres=640,yres=480 ;;
			esac
			# A second device, without an importer: the guest
			# driver takes every device it finds, and names the
			# second one's node /dev/virtio-vdmabuf1
			# (guest_vdmabuf's second_device).  After the first
			# on the command line, so that it probes second and
			# /dev/virtio-vdmabuf stays the importer's device.
			# A third, with a display that takes too little
			# metadata for an image: the KMS driver must refuse
			# it (l2-init.sh).
			[ "$VM_MODE" = check ] &&
				dev+=(-device vhost-vdmabuf-pci
				      -device vhost-vdmabuf-pci,display=on,max-meta-len=64)
			# The device names guest-physical memory only: the
			# backend never offers VIRTIO_F_ACCESS_PLATFORM, so
			# QEMU must refuse to put an IOMMU in its way.
			out=$(qemu_stopped 60 -machine q35 \
			      -device vhost-vdmabuf-pci,iommu_platform=on 2>&1 < /dev/null)
			qrc=$?
			what="l1: QEMU refuses vhost-vdmabuf-pci,iommu_platform=on ($(oneline "${out##*: }"))"
			if [ $qrc -ne 0 ] && [[ "$out" == *iommu_platform* ]]; then
				ok "$what"
			else
				not_ok "$what"
			fi
			# The backend pins guest RAM once: QEMU must not
			# discard it behind the backend's back, so the device
			# and virtio-mem (which needs discarding) exclude each
			# other, as VFIO and virtio-mem do.
			out=$(qemu_stopped 60 -machine q35 -m 256M,maxmem=1G \
			      -object memory-backend-ram,id=vmem0,size=128M \
			      -device virtio-mem-pci,memdev=vmem0 \
			      -device vhost-vdmabuf-pci 2>&1 < /dev/null)
			qrc=$?
			what="l1: QEMU refuses vhost-vdmabuf-pci beside virtio-mem-pci"
			what+=" ($(oneline "${out##*: }"))"
			if [ $qrc -ne 0 ] && [ $qrc -ne 124 ] &&
			   [[ "$out" == *"RAM discarding"* ]]; then
				ok "$what"
			else
				not_ok "$what"
			fi
		fi
	fi
	# L2's serial ports go to L1's tmpfs: QEMU writes them a byte at a
	# time, which over 9p crawls (50-100 bytes/s measured under load).
	# follow_l2 brings them to $VM_OUT, where the runner outside follows
	# the stage markers.
	L2D=/tmp/vdmabuf-l2
	mkdir -p "$L2D"
	rm -f "$L2D"/*.copied
	: > "$L2D/l2.tap"
	: > "$L2D/l2-console.log"
	: > "$VM_OUT/l2.tap"
	if [ ${#dev[@]} -gt 0 ]; then
		if [ "$VM_MODE" = demo ]; then
			mkdir -p "$BUILD/demo"
			# The picture of the last frame twice: as the importer
			# read it, and as QEMU's display showed it.
			rm -f "$BUILD/demo/qemu-screendump.png"
			[ -x "$BUILD/examples/importer_demo" ] &&
				start_importer importer_demo --png "$BUILD/demo/last-frame.png" \
				--qmp "$L2D/qmp-display.sock" --screendump-seq 120 \
				--screendump "$BUILD/demo/qemu-screendump.png"
		elif [ "$VM_MODE" = demo-weston ]; then
			# QEMU's display answers weston's frames
			mkdir -p "$BUILD/demo"
			rm -f "$BUILD"/demo/weston-*
		elif [ "$VM_MODE" = bench ]; then
			. "$TOP/scripts/testbed/l1-bench.sh"
		elif [ "$VM_MODE" = swiotlb ] || [ "$VM_MODE" = smoke ]; then
			:	# a few guest tests, no importer
		else
			[ -x "$BUILD/selftests/importer_e2e" ] && start_importer importer_e2e
			# e2e_display's pictures against QEMU's screendumps,
			# and the KMS driver's frames (kms_compare), each
			# held KMS_HOLD_MS (L2 checks the flip rate).
			kms=()
			[ "${EXPECT_KMS:-0}" = 1 ] &&
				kms=(--kms --kms-hold "$KMS_HOLD_MS")
			[ -x "$BUILD/selftests/importer_display" ] &&
				start_importer importer_display --device vd0 \
				--qmp "$L2D/qmp-display.sock" --dir "$L2D" "${kms[@]}"
			[ "$HOST_TESTS" = 1 ] && [ -x "$BUILD/selftests/importer_holder" ] &&
				start_holder
			# The demo runs in the guest too, for the vdmabuf
			# command's tests: importer_demo joins when it starts
			# (follow_l2), not to answer every event of the guest
			# tests before it.
		fi
	fi
	# With the holder, the guest ends by rebooting with live exports: a
	# reset, which must not end QEMU (a panic still does, via pvpanic).
	if [ -n "$holder_pid" ]; then
		l2_end=(-device pvpanic-pci -action panic=exit-failure)
	else
		l2_end=(-no-reboot)
	fi
	# No window; in check mode QEMU's D-Bus display, through which
	# importer_display resizes an output's window as a client would
	# (a peer-to-peer connection it hands over with add_client).
	l2_display=(-display none)
	[ "$VM_MODE" = check ] && l2_display=(-display dbus,p2p=on)
	# qboot and the uncompressed kernel's PVH entry: no BIOS POST and no
	# decompression under nested TCG (133 s to init instead of 183 s).
	# 768 MiB: the largest test buffer is 256 MiB.  The crypto API's
	# boot self-tests of the kernel's built-in algorithms took 3 s of
	# nested TCG (crypto_algapi_init, initcall_debug); none of them is
	# what these tests test.  watchdog_thresh=60: the soft-lockup
	# detector fires after twice that; at the default 10 it fired at
	# 21 s during L2's boot (swapper, before init) in a make check on
	# a loaded machine, where the nested vCPU gets little host time.
	# A driver that loops for good still trips it, and the stage limit.
	# RCU's CPU stall warning (21 s, with a Call Trace) likewise: 120 s.
	# The guest's DMA bounced: its driver must refuse to export.
	[ "$VM_MODE" = swiotlb ] && l2_append+=" swiotlb=force"
	rm -f "$VM_OUT/l2-qemu.pid"
	# shellcheck disable=SC2046 # the port's two words
	timeout -k 10 "$L2_TIMEOUT" "$QEMU" -accel tcg -m "$L2_MEM" -smp 1 \
		-L /usr/share/seabios -L /usr/share/qemu -nic none \
		-bios qboot.rom -kernel "$VMLINUX" -initrd "$VM_OUT/l2.cpio" \
		-append "$l2_append" \
		"${l2_display[@]}" "${l2_end[@]}" -pidfile "$VM_OUT/l2-qemu.pid" \
		-serial "file:$L2D/l2-console.log" \
		-serial "file:$L2D/l2.tap" \
		$(l2_debug_port "$L2D/l2-debug.b64") \
		-qmp "unix:$L2D/qmp.sock,server=on,wait=off" \
		-qmp "unix:$L2D/qmp-display.sock,server=on,wait=off" \
		"${dev[@]}" &
	qpid=$!
	follow_l2
	wait "$qpid"
	rc=$?
	[ "${VM_KERNEL:-debian}" = debug ] && l2_debug_results l2 "$L2D/l2-debug.b64"
	stop_tool_tests
	stop_importers
	[ -n "$demo_weston_snap" ] && { wait "$demo_weston_snap"
		echo "# vdmabuf snapshot: exit $?" >> "$VM_OUT/demo-weston-snapshot.log"; }
	[ -n "$holder_pid" ] && stop_holder
	[ "$VM_MODE" = check ] && kms_compare
	if [ -n "$holder_pid" ] && grep -q '^# l2: done' "$VM_OUT/l2.tap"; then
		check "l2: guest ran to the end, rebooted, QEMU killed with imports held" \
			[ -f "$VM_OUT/l2-qemu.killed" ]
	elif grep -q '^# l2: done' "$VM_OUT/l2.tap"; then
		ok "l2: guest ran to the end and powered off"
	else
		last=$(grep -a 'VDMABUF-STAGE' "$VM_OUT/l2-console.log" | tail -n1)
		not_ok "l2: guest did not finish (qemu exit $rc, last stage: ${last#*: })"
		tail -n 40 "$VM_OUT/l2-console.log"
	fi
fi

# What QEMU refuses of vhost-user-vdmabuf-pci, before any guest (in
# vhost_user_l2's $L2D, with its daemon $vu), and what the daemon refuses
# of its options.
vhost_user_refusals() {
	local d i
	# What QEMU refuses, before any guest: no back-end, and an IOMMU in
	# the way of a device that names guest-physical memory (with a
	# daemon to talk to, which exits when QEMU does).
	vu_refused() {	# NAME PATTERN QEMU-ARGS...: QEMU exits 1 saying PATTERN
		local what=$1 pat=$2 out qrc
		shift 2
		out=$(qemu_stopped 60 -machine q35 "$@" 2>&1 < /dev/null)
		qrc=$?
		what+=" ($(oneline "${out##*: }"))"
		if [ $qrc -eq 1 ] && [[ "$out" == *"$pat"* ]]; then
			ok "$what"
		else
			not_ok "$what"
		fi
	}
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci without a chardev" \
		"missing chardev" -device vhost-user-vdmabuf-pci
	"$vu" --socket-path="$L2D/refuse.sock" > "$VM_OUT/vhost-user-vdmabuf-refuse.log" 2>&1 &
	d=$!
	for i in $(seq 100); do [ -S "$L2D/refuse.sock" ] && break; sleep 0.1; done
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci,iommu_platform=on" \
		iommu_platform -chardev "socket,id=c,path=$L2D/refuse.sock" \
		-device vhost-user-vdmabuf-pci,chardev=c,iommu_platform=on
	for i in $(seq 50); do kill -0 "$d" 2>/dev/null || break; sleep 0.1; done
	kill "$d" 2>/dev/null
	wait "$d" 2>/dev/null
	# QEMU's display takes its importer from the daemon's importer
	# socket: without one, display=on says what to add.
	rm -f "$L2D/refuse.sock"
	"$vu" --socket-path="$L2D/refuse.sock" >> "$VM_OUT/vhost-user-vdmabuf-refuse.log" 2>&1 &
	d=$!
	for i in $(seq 100); do [ -S "$L2D/refuse.sock" ] && break; sleep 0.1; done
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci,display=on without display-importer" \
		"needs display-importer" -chardev "socket,id=c,path=$L2D/refuse.sock" \
		-device vhost-user-vdmabuf-pci,chardev=c,display=on
	for i in $(seq 50); do kill -0 "$d" 2>/dev/null || break; sleep 0.1; done
	kill "$d" 2>/dev/null
	wait "$d" 2>/dev/null
	# Guest RAM the daemon could not make udmabufs of: QEMU names the
	# memory backend and what is wrong before it talks to any daemon
	# (a chardev QEMU listens on itself stands in for one).
	local nod=(-chardev "socket,id=c,path=$L2D/nodaemon.sock,server=on,wait=off"
		   -device vhost-user-vdmabuf-pci,chardev=c)
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci with guest RAM of no file" \
		"has no file descriptor" "${nod[@]}"
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci with a memfd of share=off" \
		"(share=off)" -m 128M -machine memory-backend=m \
		-object memory-backend-memfd,id=m,size=128M,share=off "${nod[@]}"
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci with a memfd of seal=off" \
		"not sealed against shrinking" -m 128M -machine memory-backend=m \
		-object memory-backend-memfd,id=m,size=128M,share=on,seal=off "${nod[@]}"
	vu_refused "l1: QEMU refuses vhost-user-vdmabuf-pci with a shared tmpfs file (no seals can be added)" \
		"not sealed against shrinking" -m 128M -machine memory-backend=m \
		-object memory-backend-file,id=m,size=128M,share=on,mem-path="$L2D/vu-ram" "${nod[@]}"
	rm -f "$L2D/vu-ram"
	# What the daemon refuses of its options, and the bound it names:
	# udmabuf's parameter only where that is the bound (root may set
	# size_limit_mb either side of the daemon's default, 512 MiB, and
	# list_limit past the spec's 65536).  Both put back as vhost_user_l2
	# set them, each write checked.
	vu_opt_refused() {	# NAME PATTERN DAEMON-ARGS...: it exits 1 saying PATTERN
		local what=$1 pat=$2 out drc
		shift 2
		out=$(timeout 10 "$vu" --fd=0 "$@" 2>&1 < /dev/null)
		drc=$?
		what+=" ($(oneline "${out#vhost-user-vdmabuf: }"))"
		if [ $drc -eq 1 ] && [[ "$out" == *"$pat"* ]]; then
			ok "$what"
		else
			not_ok "$what"
		fi
	}
	local p=/sys/module/udmabuf/parameters was_mb was_list
	set_param() {	# NAME VALUE: a udmabuf parameter, checked
		check "l1: udmabuf's $1 set to $2" sh -c 'echo "$2" > "$0/$1"' "$p" "$1" "$2"
	}
	was_mb=$(cat "$p/size_limit_mb") was_list=$(cat "$p/list_limit")
	check "l1: udmabuf's size_limit_mb and list_limit read ($was_mb, $was_list)" \
		sh -c '[ -n "$0" ] && [ -n "$1" ]' "$was_mb" "$was_list"
	set_param size_limit_mb 64
	vu_opt_refused "l1: vhost-user-vdmabuf refuses --max-export-mb past udmabuf's size_limit_mb of 64" \
		"not between 1 and 64 (udmabuf's size_limit_mb)" --max-export-mb=65
	set_param size_limit_mb 1024
	vu_opt_refused "l1: vhost-user-vdmabuf refuses --max-export-mb past its default, 512, under udmabuf's 1024" \
		"not between 1 and 512 (the default is the most)" --max-export-mb=600
	vu_opt_refused "l1: vhost-user-vdmabuf refuses --max-ranges past udmabuf's list_limit of $was_list" \
		"not between 1 and $was_list (udmabuf's list_limit)" --max-ranges=$((was_list + 1))
	set_param list_limit 100000
	vu_opt_refused "l1: vhost-user-vdmabuf refuses --max-ranges past the spec's 65536, under udmabuf's list_limit of 100000" \
		"not between 1 and 65536 (the spec's most)" --max-ranges=65537
	set_param size_limit_mb "$was_mb"
	set_param list_limit "$was_list"
	vu_opt_refused "l1: vhost-user-vdmabuf refuses --max-exports=0" \
		"not between 1 and 65536" --max-exports=0
	vu_opt_refused "l1: vhost-user-vdmabuf refuses an importer socket with --no-dmabuf" \
		"serves no importer" --no-dmabuf --importer-socket="$L2D/none.sock"
}

# The check mode's host side of the vhost-user stage: importer_e2e and
# importer_display on the first daemon's importer socket ($SOCK), and a
# pause in the middle of e2e_vdmabuf (pause_pid).
vhost_user_importers() {
	[ -x "$BUILD/selftests/importer_e2e" ] && start_importer importer_e2e@vhost-user
	# With e2e_kms, importer_display holds the KMS driver's frames too
	local kms=()
	[[ " $VU_TESTS " = *" e2e_kms "* ]] && kms=(--kms --kms-hold "$KMS_HOLD_MS")
	case " $VU_TESTS " in *" e2e_display "*)
		[ -x "$BUILD/selftests/importer_display" ] &&
			start_importer importer_display@vhost-user --device vd0 \
			--qmp "$L2D/qmp-display.sock" --dir "$L2D" "${kms[@]}" ;;
	esac
	# Pausing is not a reset: QEMU's stop and cont (the rings stopped
	# and started again, the memory table sent again) while e2e_vdmabuf
	# runs, with its exports live and imported, must lose nothing.  In
	# its udmabuf round trips, which time nothing: the guest's clock
	# stops with it, and a test that measures how long the host held a
	# buffer (released_after_importer_closes) would see the pause
	# shorten the hold (564 ms of 1500 seen, when the pause came 5 s
	# after the program started).
	rm -f "$L2D/paused"
	(
		wait_line 12000 '^#  RUN  *e2e\.udmabuf\.pixels_roundtrip' "$L2D/l2.tap"
		qmp stop && sleep 2 && qmp cont && : > "$L2D/paused"
	) &
	pause_pid=$!
}

# The guest tests again, on the vhost-user back-end (issue 19): the
# daemon on udmabuf, guest RAM a shared memfd, the same guest driver and
# the same test programs (VU_TESTS), each result named @vhost-user.
# udmabuf's own caps (64 MiB, 1024 pieces) are below the kernel back-end's
# defaults, which the guest tests assume: raised as the README tells a
# user to.  VM_STAGES=vu runs this stage alone; with VM_MODE=demo, the
# demo instead (make demo-vhost-user).
vhost_user_l2() {
	local vu=$BUILD/vhost-user/vhost-user-vdmabuf
	local vpids=() dev=() qpid rc i d p=/sys/module/udmabuf/parameters pause_pid=
	local disp=outputs=2,xres=320,yres=200 demo= seq=120 kill_pid=
	# check mode ends with a machine reset (vhost_user_reset)
	local reboot=(-no-reboot)
	[ "$VM_MODE" = check ] && reboot=()
	[ "$VM_MODE" = demo ] && disp=xres=1920,yres=1080 demo=$BUILD/demo
	# check mode: 30 frames (l2-init.sh)
	[ "$VM_MODE" = check ] && [[ " $VU_TESTS " = *" demo_producer "* ]] &&
		demo=$VM_OUT/demo@vhost-user seq=30
	stage "l2@vhost-user: booting the guest"
	if [ ! -x "$vu" ] || ! "$QEMU" -device help 2>/dev/null | grep -q '"vhost-user-vdmabuf-pci"'; then
		not_ok "l1: vhost-user-vdmabuf (make vhost-user) and QEMU's vhost-user-vdmabuf-pci (make qemu) are built"
		return
	fi
	check "l1: udmabuf's list_limit 16384 and size_limit_mb 512 for the vhost-user back-end" \
		sh -c 'echo 16384 > "$0/list_limit" && echo 512 > "$0/size_limit_mb"' "$p"
	L2D=/tmp/vdmabuf-l2-vu
	mkdir -p "$L2D"
	[ "$VM_MODE" = check ] && vhost_user_refusals
	# Two devices, a daemon each: the guest tells them apart
	# (guest_vdmabuf's second_device).  In check mode the second is
	# the fault-injection build, which misbehaves when guest_faults
	# asks.
	# The first device serves importers: importer_e2e answers
	# e2e_vdmabuf's buffers, as it does on the kernel back-end, and
	# QEMU's display (two outputs, as on the kernel back-end; one of
	# 1920x1080 for the demo) takes an importer of its own, which
	# importer_display checks through screendumps and QEMU's D-Bus
	# display while e2e_display runs.
	local SOCK=$L2D/vu0-importers.sock imp=(--importer-socket="$L2D/vu0-importers.sock")
	local bin=("$vu" "$vu")
	if [ "$VM_MODE" = check ] && [[ " $VU_TESTS " = *" guest_faults "* ]]; then
		# Never the plain daemon in its place: guest_faults would
		# test nothing.
		if [ -x "$vu-faults" ]; then
			bin[1]=$vu-faults
		else
			not_ok "l1: vhost-user-vdmabuf-faults (make vhost-user) is built"
		fi
	fi
	for d in 0 1; do
		rm -f "$L2D/vu$d.sock"
		"${bin[d]}" --socket-path="$L2D/vu$d.sock" "${imp[@]}" \
			> "$VM_OUT/vhost-user-vdmabuf$d.log" 2>&1 &
		imp=()
		vpids+=($!)
	done
	for i in $(seq 100); do
		[ -S "$L2D/vu0.sock" ] && [ -S "$L2D/vu1.sock" ] && [ -S "$SOCK" ] && break
		sleep 0.1
	done
	dev=(-chardev "socket,id=vu0,path=$L2D/vu0.sock"
	     -device "vhost-user-vdmabuf-pci,id=vd0,chardev=vu0,display=on,$disp,display-importer=$SOCK"
	     -chardev "socket,id=vu1,path=$L2D/vu1.sock"
	     -device "vhost-user-vdmabuf-pci,chardev=vu1")
	# The demo: importer_demo checks every frame demo_producer draws
	# (first of VU_TESTS: importer_demo joins every buffer's frames, and
	# ends once the demo's three buffers are gone), and QEMU's display is
	# screendumped at the last one ($seq), through a QMP socket of its
	# own (importer_display keeps one).
	[ -n "$demo" ] && mkdir -p "$demo" &&
		rm -f "$demo/last-frame.png" "$demo/qemu-screendump.png" &&
		[ -x "$BUILD/examples/importer_demo" ] &&
		start_importer importer_demo@vhost-user --png "$demo/last-frame.png" \
		--qmp "$L2D/qmp-demo.sock" --device vd0 --screendump-seq "$seq" \
		--screendump "$demo/qemu-screendump.png"
	if [ "$VM_MODE" = check ]; then
		vhost_user_importers
		# The guest's last test: it asks for the second daemon to be
		# killed (l2-init.sh), and checks that its driver stops the
		# broken device instead of waiting for it.
		rm -f "$L2D/killed"
		vhost_user_kill_then_reset "${vpids[1]}" &
		kill_pid=$!
	fi
	# shellcheck disable=SC2046 # the port's two words
	timeout -k 10 "$L2_TIMEOUT" "$QEMU" -accel tcg -m "$L2_MEM" -smp 1 \
		-object "memory-backend-memfd,id=ram,size=$L2_MEM,share=on" \
		-machine memory-backend=ram \
		-L /usr/share/seabios -L /usr/share/qemu -nic none \
		-bios qboot.rom -kernel "$VMLINUX" -initrd "$VM_OUT/l2.cpio" \
		-append "$l2_append vdmabuf.backend=vhost-user" \
		-display dbus,p2p=on "${reboot[@]}" -pidfile "$L2D/qemu.pid" \
		-serial "file:$L2D/l2-console.log" -serial "file:$L2D/l2.tap" \
		$(l2_debug_port "$L2D/l2-debug.b64") \
		-qmp "unix:$L2D/qmp.sock,server=on,wait=off" \
		-qmp "unix:$L2D/qmp-display.sock,server=on,wait=off" \
		-qmp "unix:$L2D/qmp-demo.sock,server=on,wait=off" \
		"${dev[@]}" 2> "$VM_OUT/l2-vu-qemu.log" &
	qpid=$!
	follow_console "$L2D/l2-console.log" "$VM_OUT/l2-vu-console.log"
	wait "$qpid"
	rc=$?
	[ "${VM_KERNEL:-debian}" = debug ] && l2_debug_results l2-vu "$L2D/l2-debug.b64"
	[ -n "$pause_pid" ] && { kill "$pause_pid" 2>/dev/null; wait "$pause_pid" 2>/dev/null; }
	[ -n "$kill_pid" ] && { kill "$kill_pid" 2>/dev/null; wait "$kill_pid" 2>/dev/null; }
	sed 's/^/# qemu: /' "$VM_OUT/l2-vu-qemu.log" | tail -n 20
	cp -f "$L2D/l2.tap" "$VM_OUT/l2-vu.tap"
	[ "$VM_MODE" = check ] && [[ " $VU_TESTS " = *" e2e_kms "* ]] &&
		kms_compare "$VM_OUT/l2-vu.tap" importer_display@vhost-user
	[ "$VM_MODE" = check ] && case " $VU_TESTS " in *" e2e_vdmabuf "*)
		check "l1: QEMU stopped and went on (stop, cont) while e2e_vdmabuf@vhost-user ran" \
			[ -f "$L2D/paused" ] ;;
	esac
	for i in importer_e2e importer_display importer_demo; do
		[ -n "${imp_pid[$i@vhost-user]:-}" ] &&
			stop_prog "$i@vhost-user" "${imp_pid[$i@vhost-user]}" TERM 40
	done
	# The demo's last frame as importer_demo read it and as QEMU's
	# display showed it, each the demo's picture of that frame.
	if [ "$VM_MODE" = check ] && [ -n "$demo" ]; then
		for i in last-frame qemu-screendump; do
			check "l1: the demo's frame $seq on the vhost-user back-end, $i.png, is the demo's picture" \
				"$(prog importer_demo)" --check-png "$demo/$i.png" --seq "$seq"
		done
	fi
	vhost_user_end l2@vhost-user "$VM_OUT/l2-vu.tap" "$VM_OUT/l2-vu-console.log" \
		"$VM_OUT/l2-vu-qemu.log"
}
if [ "$VM_STAGES" = vu ] || { [ "$VM_STAGES" = all ] && [ "$HOST_TESTS" = 1 ]; }; then
	vhost_user_l2
fi

stage "l1: unloading"
if [ -f "$HOSTMOD" ]; then
	check "l1: rmmod vhost_vdmabuf" rmmod vhost_vdmabuf
fi
[ "$HOST_TESTS" = 1 ] && [ "${VM_KERNEL:-debian}" = debian ] && dkms_tests
# L1's kernel log, for build/logs/ (vmcheck.sh copies it there).
if [ "${VM_KERNEL:-debian}" = debug ]; then
	debug_checks
else
	dmesg > "$VM_OUT/l1-dmesg.log"
fi
# On the debug kernel the fault injection makes vmalloc print a Call
# Trace with each failure it reports ("vmalloc error:"); debug_checks
# classifies every report there.
kpat='BUG:|WARNING:|Oops|Call Trace|general protection'
[ "${VM_KERNEL:-debian}" = debug ] && kpat='BUG:|WARNING:|Oops|general protection'
if dmesg | grep -E -q "$kpat"; then
	dmesg | grep -E -A20 "$kpat" | head -60
	not_ok "l1: kernel log has no BUG, WARNING or Oops"
else
	ok "l1: kernel log has no BUG, WARNING or Oops"
fi
finish
