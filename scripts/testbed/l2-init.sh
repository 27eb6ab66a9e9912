#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the L2 guest VM's initramfs (everything is inside it): load the
# modules, run the guest and end-to-end test programs, write TAP to ttyS1
# (a file in L1), power off.  In check mode the last tests are the
# lifecycle ones: module reload and freeze/restore with exports the host
# holds, and finally a reboot with live exports, during which L1 kills
# QEMU (see l1-run.sh).

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
export PATH=/bin:/tests HOME=/tmp
# guest_vdmabuf's suspend_ends_exports suspends this machine: let it.
export VDMABUF_TEST_SUSPEND=1

R=/dev/ttyS1
n=0
ok()     { n=$((n + 1)); echo "ok $n - $*" > $R; echo "ok - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*" > $R; echo "not ok - $*"; }
check()  { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
stage()  { echo "VDMABUF-STAGE: $*"; }

. /lib/vdmabuf/env
# The guest tests again on the vhost-user back-end (l1-run.sh's
# vhost_user_l2): no KMS driver, no lifecycle stages; each program's
# name says the back-end.
BACKEND=vhost
grep -qw vdmabuf.backend=vhost-user /proc/cmdline && BACKEND=vhost-user
SUFFIX=
# Two devices there, each its own daemon (guest_vdmabuf's second_device).
[ $BACKEND = vhost-user ] && SUFFIX=@vhost-user && export VDMABUF_DEVICES=2
# guest-debug.sh: the debug kernel booted on the machine itself, its
# daemons making no host dma-bufs (--no-dmabuf): the guest-only programs
# of VU_TESTS, then fault injection, named @guest-debug.
GUEST_ONLY=${GUEST_ONLY:-0}
[ "$GUEST_ONLY" = 1 ] && SUFFIX=@guest-debug
stage "l2: reached init"
echo "# l2.tap" > $R
ok "l2: booted the guest kernel under the patched QEMU to init (back-end: $BACKEND)"

# The debug kernel (VM_KERNEL=debug): kmemleak scans only when told, and
# reports an object from the second scan that finds it unreferenced; what
# boot leaked is cleared, never to be reported.  debug_collect sends, at
# the end, the kernel log, kmemleak's report and our drivers' gcov data to
# L1 through the third serial port (l1-run.sh), where they are judged.
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ "$VM_KERNEL" = debug ]; then
	stage "l2: debug kernel: kmemleak baseline"
	check "l2: debug kernel: kmemleak is on" [ -w $KMEMLEAK ]
	echo scan > $KMEMLEAK; echo scan > $KMEMLEAK
	echo "# kmemleak: $(grep -c '^unreferenced object' $KMEMLEAK) object(s) leaked by boot, cleared" > $R
	echo clear > $KMEMLEAK
	# DMA-API debugging reports only its first error, of any driver:
	# here every error of the devices our drivers map for (virtio-pci),
	# and no other's.  The guest tests also import the system heap's and
	# udmabuf's buffers into vgem, whose mappings (the exporter's) break
	# vgem's 64 KiB segments: not our drivers' to answer for.
	echo virtio-pci > /sys/kernel/debug/dma-api/driver_filter
	echo 1 > /sys/kernel/debug/dma-api/all_errors
	check "l2: debug kernel: DMA-API debugging reports every error of virtio-pci's devices" \
		sh -c '[ "$(cat /sys/kernel/debug/dma-api/driver_filter)" = virtio-pci ] &&
		       [ "$(cat /sys/kernel/debug/dma-api/all_errors)" = 1 ]'
fi
debug_collect() {
	[ "$VM_KERNEL" = debug ] || return 0
	stage "l2: debug kernel: kmemleak scan, kernel log, gcov data to L1"
	mkdir -p /tmp/dbg
	# No kmemleak.txt if kmemleak turned itself off (out of memory):
	# L1's check of what came fails then.
	echo scan > $KMEMLEAK && echo scan > $KMEMLEAK &&
		cat $KMEMLEAK > /tmp/dbg/kmemleak.txt
	cat /sys/kernel/debug/dma-api/disabled > /tmp/dbg/dma-api-disabled
	echo "# DMA-API debugging: $(cat /sys/kernel/debug/dma-api/error_count) error(s) of any driver counted, those of $(cat /sys/kernel/debug/dma-api/driver_filter) reported" > $R
	find /sys/kernel/debug/gcov -name '*vdmabuf*.gcda' -exec cp {} /tmp/dbg/ \;
	dmesg > /tmp/dbg/dmesg.log
	tar -cz -C /tmp/dbg . | base64 > /dev/ttyS2
	echo "# debug kernel: $(wc -c < /tmp/dbg/dmesg.log) bytes of kernel log, $(grep -c '^unreferenced object' /tmp/dbg/kmemleak.txt) leak(s), $(ls /tmp/dbg/*.gcda 2>/dev/null | wc -l) gcov file(s) sent" > $R
}

stage "l2: loading modules"
for m in $(cat /lib/vdmabuf/modules.load); do
	check "l2: insmod $m" insmod "/lib/vdmabuf/mod/$m"
done

devs=$(grep -l '^0x0025$' /sys/bus/virtio/devices/*/device 2>/dev/null)
if [ "$EXPECT_DEVICE" = 1 ]; then
	check "l2: a virtio device with ID 37 (dma-buf) is present" [ -n "$devs" ]
fi
# The guest tests' exporter whose buffers move (selftests/vdmabuf/dmabuf_mover).
[ -f /lib/vdmabuf/dmabuf_mover.ko ] &&
	check "l2: insmod dmabuf_mover.ko" insmod /lib/vdmabuf/dmabuf_mover.ko
if [ -f /lib/vdmabuf/virtio_vdmabuf.ko ]; then
	check "l2: insmod virtio_vdmabuf.ko" insmod /lib/vdmabuf/virtio_vdmabuf.ko
	if [ "$EXPECT_DEVICE" = 1 ]; then
		for d in $devs; do
			d=${d%/device}
			check "l2: virtio_vdmabuf bound to $(basename "$d")" \
				[ "$(basename "$(readlink "$d/driver")")" = virtio_vdmabuf ]
		done
		check "l2: /dev/virtio-vdmabuf exists" [ -c /dev/virtio-vdmabuf ]
		# What each device offers, as the driver took it
		dmesg | grep -a ': /dev/virtio-vdmabuf[0-9]*: ' | sed 's/^/# /'
	fi
fi
# The KMS driver (check mode): bound to the first device's display before
# e2e_display resizes an output, which e2e_kms checks was a hotplug.
# On the vhost-user back-end when VU_TESTS has e2e_kms.
KMS=/lib/vdmabuf/vdmabuf_drm.ko
if [ $BACKEND = vhost-user ]; then
	EXPECT_KMS=0
	case " $VU_TESTS " in *" e2e_kms "*) ;; *) KMS=/none ;; esac
fi
if [ -f $KMS ]; then
	check "l2: insmod vdmabuf_drm.ko" insmod $KMS
	check "l2: vdmabuf_drm bound to the display of the first device" \
		[ -e /sys/bus/auxiliary/drivers/vdmabuf_drm/virtio_vdmabuf.display.0 ]
	# The third device's display takes 64 bytes of metadata (l1-run.sh,
	# check mode), less than an image: the driver refuses it.
	[ "$VM_MODE" = check ] && [ $BACKEND = vhost ] &&
	check "l2: vdmabuf_drm refused the third device's display (max_meta_len 64)" \
		sh -c '[ -e /sys/bus/auxiliary/devices/virtio_vdmabuf.display.2 ] &&
		       [ ! -e /sys/bus/auxiliary/drivers/vdmabuf_drm/virtio_vdmabuf.display.2 ] &&
		       dmesg | grep -q "takes 64 bytes of metadata"'
	/tests/e2e_kms --watch-uevents /tmp/kms-uevents &
	uevents_pid=$!
elif [ "${EXPECT_KMS:-0}" = 1 ]; then
	not_ok "l2: vdmabuf_drm.ko is in the image (make builds drivers/gpu/drm/vdmabuf/vdmabuf_drm.ko)"
fi

run_prog() {	# NAME CMD...: one program's TAP, framed for tap-summary.awk
	name=$1
	shift
	stage "l2: $name"
	echo "# program: $name" > $R
	timeout "$TEST_TIMEOUT" "$@" > /tmp/out.tap 2>&1
	rc=$?
	cat /tmp/out.tap
	cat /tmp/out.tap > $R
	echo "# exit: $name $rc" > $R
}
# On the debug kernel the fault injection makes vmalloc print a Call
# Trace with each failure it reports ("vmalloc error:"); L1 classifies
# every report of the log debug_collect sends.
KPAT='BUG:|WARNING:|Oops|Call Trace|general protection'
[ "$VM_KERNEL" = debug ] && KPAT='BUG:|WARNING:|Oops|general protection'
kernel_log_clean() {
	if dmesg | grep -E -q "$KPAT"; then
		dmesg | grep -E -A20 "$KPAT" | head -60
		not_ok "l2: kernel log has no BUG, WARNING or Oops"
	else
		ok "l2: kernel log has no BUG, WARNING or Oops"
	fi
}
MOD=/lib/vdmabuf/virtio_vdmabuf.ko

# After guest_faults: the driver said what the misbehaving device did.
# What the kernel logged since guest_faults started (its mark).
FAULTS_MARK="vdmabuf-test: guest_faults starts"
faults_dmesg() { dmesg | sed -n "/$FAULTS_MARK/,\$p"; }
faults_logged() { [ "$(faults_dmesg | grep -c "$2")" -ge "$1" ]; }	# TIMES PATTERN
faults_log() {
	check "l2: the driver logged the refused UNEXPORT (NOMEM)" \
		faults_logged 1 'UNEXPORT of .* refused: -12'
	check "l2: the driver logged the RELEASED for a live export it ignored" \
		faults_logged 1 'RELEASED for a live buffer'
	# guest_faults' bogus_events_ignored and frame_done_while_a_frame_waits:
	# the device sent what the driver ignored
	check "l2: the driver logged the event of an unknown UUID it ignored" \
		faults_logged 1 'event 1 for an unknown buffer'
	check "l2: the driver logged the event of an unknown type it ignored" \
		faults_logged 1 'unknown event 127'
	check "l2: the driver logged the two FRAME_DONEs of no frame it ignored" \
		faults_logged 2 'FRAME_DONE without a frame'
}

# guest_faults needs the fault-injection device of the vhost-user stage.
tests=$(ls /tests/guest_* /tests/e2e_* | grep -v '/guest_faults$')
# VM_TESTS (vmcheck.sh): only those programs, and none of check mode's
# other stages but the KMS driver's (modetest, unloading).
FULL=0
[ "$VM_MODE" = check ] && [ -z "$VM_TESTS" ] && [ $BACKEND = vhost ] && FULL=1
[ -n "$VM_TESTS" ] && tests=$(for t in $VM_TESTS; do echo "/tests/$t"; done)
[ $BACKEND = vhost-user ] && tests=$(for t in $VU_TESTS; do echo "/tests/$t"; done)
[ "$VM_MODE" = demo ] && tests=/tests/demo_producer
[ "$VM_MODE" = demo-weston ] && tests=
# bench: the second device has QEMU's display (l1-bench.sh).
args=
[ "$VM_MODE" = bench ] && tests=/tests/bench_guest args="-p /dev/virtio-vdmabuf1"
# Booted with swiotlb=force (l1-run.sh): the one guest test that needs it.
if [ "$VM_MODE" = swiotlb ]; then
	tests=
	check "l2: booted with swiotlb=force" grep -qw swiotlb=force /proc/cmdline
	run_prog guest_vdmabuf_swiotlb /tests/guest_vdmabuf \
		-t export_refused_when_bounced
fi
# The guest module on another kernel of the matrix (VM_MODE=smoke,
# check.sh): it loads, exports (its own ALLOC buffers and vgem's), presents
# and gets FRAME_DONE then RELEASED, and lets go when its opener closes.
if [ "$VM_MODE" = smoke ]; then
	tests=
	check "l2: the guest runs Linux $KVER" [ "$(uname -r)" = "$KVER" ]
	run_prog "guest_vdmabuf@$KVER" /tests/guest_vdmabuf -t info -t export \
		-t export_vgem -t present_frame_done -t close_with_live_exports
fi
# guest_vdmabuf's stress_cycles: 30 s (about 3400 cycles here, each
# queue overflow reached at least once), not up to 10000 cycles in 88 s:
# make check's time.  Unset, as a developer runs it, it does them all.
export VDMABUF_STRESS_SECONDS=30
# The guest fuzzer (selftests/vdmabuf/fuzz_guest.c), after the guest and
# end-to-end tests in check mode, on either kernel: a fixed-seed portion,
# FUZZ_GUEST_REQUESTS requests, 20 to 45 s on Debian's kernel after the
# other tests (33 to 73 a second, as loaded as the machine is), about
# twice that as the first program after boot.
# VM_TESTS=fuzz_guest runs it from FUZZ_SEED for FUZZ_REQUESTS requests
# within FUZZ_TIME_LIMIT seconds (vmcheck.sh passes them on), check mode's
# portion by default.
FUZZ_GUEST_REQUESTS=1500
[ "$FULL" = 1 ] && tests="$tests /tests/fuzz_guest"
fuzz_guest_args="--seed 1 --requests $FUZZ_GUEST_REQUESTS --time-limit 240"
[ "$FULL" = 1 ] ||
	fuzz_guest_args="--seed ${FUZZ_SEED:-1} --requests ${FUZZ_REQUESTS:-$FUZZ_GUEST_REQUESTS} --time-limit ${FUZZ_TIME_LIMIT:-240}"
# The demo among the vhost-user stage's programs: 30 frames, not 120
# (l1-run.sh screendumps the 30th).
for t in $tests; do
	[ -x "$t" ] || continue
	a=$args
	[ $BACKEND = vhost-user ] && [ "$VM_MODE" = check ] &&
		[ "${t##*/}" = demo_producer ] && a="-n 30"
	[ "${t##*/}" = fuzz_guest ] && a=$fuzz_guest_args
	[ "${t##*/}" = guest_faults ] && echo "$FAULTS_MARK" > /dev/kmsg
	run_prog "$(basename "$t")$SUFFIX" "$t" $a
	[ "${t##*/}" = guest_faults ] && faults_log
done

# The debug kernel, check mode (faults.sh): failslab and fail_page_alloc
# fail FAULT_PERCENT (1) percent of the allocations made with
# virtio_vdmabuf's code on the stack (its text, from kallsyms, plus its
# longest function, GUEST_FN_MAX from vmcheck.sh), sleeping ones and
# order-0 pages included, while the guest fuzzer runs with --faults: a
# call may then fail where the model says it succeeds, and what must hold
# is that every call returns and that everything closed brings the
# driver's counters back.  The kernel must have failed some, and the
# knobs go back to their defaults.  debug_collect's kernel log and
# kmemleak report say the rest.
guest_fault_injection() {
	stage "l2: debug kernel: fault injection in virtio_vdmabuf"
	. /lib/vdmabuf/faults.sh
	faults_run l2 virtio_vdmabuf "$GUEST_FN_MAX" "${FAULT_PERCENT:-1}" \
		run_prog "fuzz_guest_faults$SUFFIX" fuzz_guest --faults --seed 2 \
		--requests "${FAULT_REQUESTS:-3000}" --time-limit 240
}
# Also with VM_TESTS=fuzz_guest, and in guest-debug.sh's guest: the
# fuzzer, and then again under faults.
[ "$VM_KERNEL" = debug ] && [ -x /tests/fuzz_guest ] &&
	{ [ $BACKEND = vhost ] || [ "$GUEST_ONLY" = 1 ]; } &&
	{ [ "$FULL" = 1 ] || [ "$VM_TESTS" = fuzz_guest ] || [ "$GUEST_ONLY" = 1 ]; } &&
	guest_fault_injection

# Check mode: the demo, while L1 points the vdmabuf command at its buffers
# (l1-run.sh's tool_tests), then the command's guest side.
if [ "$FULL" = 1 ] && [ -c /dev/virtio-vdmabuf ]; then
	[ -x /tests/demo_producer ] && run_prog demo_producer demo_producer -n 120
	if [ -x /tests/vdmabuf ]; then
		stage "l2: the vdmabuf command"
		check "l2: vdmabuf info" sh -c 'vdmabuf info && vdmabuf info --json | grep -q max_ranges'
		# L1 gave the device max-exports=1000 (l1-run.sh): QEMU set it
		# in the host before the guest read the configuration space.
		check "l2: the guest sees the limit QEMU's property set (max_exports 1000)" \
			sh -c 'vdmabuf info --json | grep -q "\"max_exports\":1000,"'
		# And QEMU's display: two outputs of 320x200 (l1-run.sh),
		# the second resized to 400x300 by e2e_display's last case.
		check "l2: vdmabuf info lists the host display's outputs, 320x200 and 400x300" \
			sh -c 'vdmabuf info --json | grep -q "\"outputs\":\[{\"width\":320,\"height\":200},{\"width\":400,\"height\":300}\]" &&
			       vdmabuf info | grep -q "^  1  *400x300"'
		check "l2: vdmabuf export of a system-heap buffer as a 256x256 XR24 image, 3 frames" \
			vdmabuf export --heap system --size 262144 --image 256x256:XR24 --present 3
		check "l2: vdmabuf export of a file, 2 frames" \
			vdmabuf export /lib/vdmabuf/env --present 2
	fi
fi

# modetest (Debian's libdrm-tests) sets each output's preferred mode with
# its test pattern and waits for a key; meanwhile e2e_kms reads the
# framebuffer back, a frame for l1-run.sh to find among the host's
# screendumps.  Then page flips (-v) until it has printed a rate, which
# must be at most 1000 / KMS_HOLD_MS a second: importer_display answers
# each frame's FRAME_DONE no sooner than KMS_HOLD_MS after it came, and
# FRAME_DONE paces the flips.
modetest_start() {	# ARGS... > OUT: modetest in the background, pid in $mt,
			# its stdin the FIFO /tmp/mt.in, once it holds the card
	out=$1
	shift
	rm -f /tmp/mt.in; mkfifo /tmp/mt.in
	modetest -M vdmabuf "$@" < /tmp/mt.in > "$out" 2>&1 &
	mt=$!
	# Opening the FIFO's other end lets modetest's open of it return
	exec 3> /tmp/mt.in
	# modetest sets modes as the card's master, its first opener: none
	# of ours may open the card before it does.
	card=$(echo /sys/bus/auxiliary/devices/virtio_vdmabuf.display.0/drm/card*)
	card=/dev/dri/${card##*/}
	for _ in $(seq 300); do
		for f in /proc/$mt/fd/*; do
			[ "$(readlink "$f")" = "$card" ] && return
		done
		kill -0 $mt 2>/dev/null || return
		sleep 0.2
	done
}
# e2e_kms reads OUTPUT's framebuffer back into FILE: tried every 0.5 s,
# TRIES times at most, and only while PID (if given) lives.
readback() {	# OUTPUT TRIES FILE [PID]
	local i
	for i in $(seq "$2"); do
		e2e_kms --readback "$1" > "$3" 2>&1 && return 0
		[ -n "$4" ] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.5
	done
	return 1
}
modetest_output() {	# OUTPUT CONNECTOR MODE
	modetest_start /tmp/mt.out -s "$2:$3"
	fb=
	readback "$1" 300 /tmp/mt.frame $mt && fb=1
	cat /tmp/mt.frame > $R
	check "l2: modetest -s $2:$3 sets output $1's mode; e2e_kms reads its framebuffer back" \
		[ -n "$fb" ]
	echo > /tmp/mt.in
	exec 3>&-
	wait $mt
	check "l2: modetest -s $2:$3 exits 0, having set the mode" \
		sh -c '[ "$0" = 0 ] && ! grep -q "failed to set mode" "$1"' $? /tmp/mt.out
	sed 's/^/# modetest: /' /tmp/mt.out | head -n 20 > $R
}
if [ "${EXPECT_KMS:-0}" = 1 ] && { [ ! -x /tests/modetest ] || [ ! -x /tests/e2e_kms ]; }; then
	not_ok "l2: modetest (setup.sh modetest) and e2e_kms are in the image"
fi
if [ -f $KMS ] && [ -x /tests/modetest ] && [ -x /tests/e2e_kms ]; then
	stage "l2: modetest"
	modetest -M vdmabuf -c > /tmp/mt.c 2>&1
	conns=$(awk '/^Connectors:/ { on = 1; next } /^CRTCs:/ { on = 0 }
		     on && $3 == "connected" { print $1 }' /tmp/mt.c)
	set -- $conns
	check "l2: modetest -c lists two connected connectors of vdmabuf ($conns)" [ $# = 2 ]
	[ -n "$1" ] && modetest_output 0 "$1" 320x200
	[ -n "$2" ] && modetest_output 1 "$2" 400x300
	if [ -n "$1" ]; then
		modetest_start /tmp/mt.v -s "$1:320x200" -v
		for _ in $(seq 600); do
			grep -q 'freq:' /tmp/mt.v && break
			kill -0 $mt 2>/dev/null || break
			sleep 0.5
		done
		echo > /tmp/mt.in
		exec 3>&-
		for _ in $(seq 60); do kill -0 $mt 2>/dev/null || break; sleep 0.5; done
		kill -9 $mt 2>/dev/null
		wait $mt 2>/dev/null
		grep 'freq:' /tmp/mt.v | head -n 3 | sed 's/^/# modetest -v: /' > $R
		check "l2: modetest -v page-flips on output 0 and reports a rate" \
			grep -q 'freq:' /tmp/mt.v
		freq=$(sed -n 's/^freq: \([0-9.]*\)Hz$/\1/p' /tmp/mt.v | head -n 1)
		check "l2: modetest -v flips ${freq:-no} times a second, at most 1000 / KMS_HOLD_MS ($KMS_HOLD_MS ms): FRAME_DONE paces them" \
			awk -v f="${freq:-0}" -v h="${KMS_HOLD_MS:-0}" 'BEGIN { exit !(f > 0 && h > 0 && f <= 1000 / h) }'
	fi
fi

# Weston (Debian 12's, setup.sh weston) on the card: DRM backend, pixman
# renderer, fullscreen shell, weston-simple-shm animating in it.  Then the
# client stopped, a still frame read back on each output for l1-run.sh to
# find among the host's screendumps (kms_compare), and weston terminated.
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
cpu_ms() {	# PID: its user and system time (USER_HZ 100)
	awk '{ sub(/.*\) /, ""); print ($12 + $13) * 10 }' /proc/$1/stat
}
frames0() {	# FILE: output 0's "FRAMES UNANSWERED" in vdmabuf_frames
	sed -n 's/^output 0: frames \([0-9]*\) shown [0-9]* unanswered \([0-9]*\) .*/\1 \2/p' "$1"
}
weston_stage() {
	wcard=$(echo /sys/bus/auxiliary/devices/virtio_vdmabuf.display.0/drm/card*)
	wcard=${wcard##*/}
	# No logind: root gets libweston's direct launcher, which wants a VT
	# (init's stdin is /dev/console, not one).  No keyboard here (no
	# udevd, libinput sees no device), so xkbcommon builds no keymap and
	# only needs its directory to exist.
	mkdir -p /tmp/xdg && chmod 0700 /tmp/xdg
	rm -f /tmp/weston.hashes
	XDG_RUNTIME_DIR=/tmp/xdg XKB_CONFIG_ROOT=/tmp \
		weston --no-config --backend=drm-backend.so --drm-device="$wcard" \
		--tty=2 --continue-without-input --use-pixman \
		--shell=fullscreen-shell.so --idle-time=0 --socket=wayland-0 \
		--log=/tmp/weston.log ${WESTON_SCOPES:+--logger-scopes=$WESTON_SCOPES} &
	wpid=$! wt0=$(uptime_ms)
	# The socket appears once the backend has its card and outputs.
	for _ in $(seq 600); do
		[ -S /tmp/xdg/wayland-0 ] && break
		kill -0 $wpid 2>/dev/null || break
		sleep 0.5
	done
	echo "# weston: its socket after $(($(uptime_ms) - wt0)) ms" > $R
	check "l2: weston (DRM backend, pixman, fullscreen shell) runs on $wcard" \
		[ -S /tmp/xdg/wayland-0 ]
	# The driver's count of output 0's frames (debugfs), around the
	# client's animation.
	frames=/sys/kernel/debug/dri/${wcard#card}/vdmabuf_frames
	set -- $(frames0 $frames)
	f0=$1 u0=$2 t0=$(uptime_ms)
	XDG_RUNTIME_DIR=/tmp/xdg WAYLAND_DISPLAY=wayland-0 \
		weston-simple-shm > /tmp/simple-shm.log 2>&1 &
	cpid=$!
	# The demo (make demo-weston): L1 snapshots a frame meanwhile, once
	# output 0 shows the client (weston's first frames are its black
	# background, and a snapshot takes the next frame).
	secs=10
	if [ "$VM_MODE" = demo-weston ]; then
		secs=30
		set --
		for _ in $(seq 60); do
			[ -n "$f0" ] || break
			set -- $(frames0 $frames)
			[ "${1:-0}" -ge $((f0 + 3)) ] && break
			sleep 0.5
		done
		echo "# demo-weston: output 0 at frame ${1:-unknown}, the client started at ${f0:-unknown}" > $R
		echo "# demo-weston: animating" > $R
	fi
	sleep $secs
	check "l2: weston-simple-shm still runs under weston after $secs s" kill -0 $cpid
	grep . $frames | sed 's/^/# vdmabuf_frames: /' > $R
	set -- $(frames0 $frames)
	f1=$1 u1=$2 t1=$(uptime_ms)
	# The one vCPU: what weston and its client took of it
	echo "# weston: CPU time since they started: weston $(cpu_ms $wpid) ms, weston-simple-shm $(cpu_ms $cpid) ms" > $R
	nf=$((${f1:-0} - ${f0:-0})) ms=$((t1 - t0))
	echo "# weston: $nf frames on output 0 in $ms ms of weston-simple-shm" > $R
	check "l2: vdmabuf_frames (debugfs) counts weston's frames on output 0: $nf in $ms ms" \
		[ -n "$f0" -a -n "$f1" -a "$nf" -gt 0 ]
	check "l2: the host answered every frame weston presented ($((${u1:-0} - ${u0:-0})) unanswered)" \
		[ -n "$u0" -a "$u0" = "$u1" ]
	# importer_display answers a frame no sooner than KMS_HOLD_MS after
	# it came: one more frame than the window holds of those, at most.
	# (The demo's frames are QEMU's display's to answer, at once.)
	hold=${KMS_HOLD_MS:-0}
	[ "$VM_MODE" = check ] &&
	check "l2: weston flips on FRAME_DONE: $nf frames in $ms ms, at most one per KMS_HOLD_MS ($hold ms)" \
		awk -v n="$nf" -v ms="$ms" -v h="$hold" 'BEGIN { exit !(h > 0 && n <= ms / h + 1) }'
	# Still frames: once the client stops, weston has nothing to repaint.
	# Two of output 0, a second of the client's animation apart, and one
	# of output 1 (weston's background).
	for o in 0 0 1; do
		kill -STOP $cpid
		sleep 2
		fb=
		readback $o 20 /tmp/weston.frame && fb=1
		cat /tmp/weston.frame > $R
		check "l2: e2e_kms reads back weston's framebuffer on output $o" [ -n "$fb" ]
		[ -n "$fb" ] && echo "$o $(sed -n 's/.*fnv1a64 //p' /tmp/weston.frame)" >> /tmp/weston.hashes
		kill -CONT $cpid
		sleep 1
	done
	set -- $(sed -n 's/^0 //p' /tmp/weston.hashes 2>/dev/null)
	check "l2: weston's output 0 changed as weston-simple-shm animated (${1:-none}, ${2:-none})" \
		[ -n "$2" -a "$1" != "$2" ]
	# The demo: a still frame for L1 to screendump from QEMU's display,
	# read back first; its hash on the marker, for check.sh to compare.
	if [ "$VM_MODE" = demo-weston ]; then
		kill -STOP $cpid
		sleep 2
		readback 0 20 /tmp/weston.frame
		check "l2: e2e_kms reads back weston's still frame for the demo" [ $? = 0 ]
		cat /tmp/weston.frame > $R
		echo "# demo-weston: still $(sed -n 's/.*fnv1a64 //p' /tmp/weston.frame)" > $R
		sleep 30
		kill -CONT $cpid
	fi
	kill $cpid
	wait $cpid
	# Weston's teardown waits for its last flips: bounded, as modetest's
	kill $wpid
	for _ in $(seq 120); do kill -0 $wpid 2>/dev/null || break; sleep 0.5; done
	kill -9 $wpid 2>/dev/null
	wait $wpid
	check "l2: weston exits 0 on SIGTERM" [ $? = 0 ]
	# Its log without the continuation lines (mode lists, scene graphs)
	{ grep -v '^[[:space:]]\|^$' /tmp/weston.log | sed 's/^/# weston: /' | head -n ${WESTON_LOG_LINES:-60}
	  sed 's/^/# simple-shm: /' /tmp/simple-shm.log | head -n 10; } > $R
}
if [ "${EXPECT_KMS:-0}" = 1 ] && [ "$FULL" = 1 ] &&
   { [ ! -x /tests/weston ] || [ ! -x /tests/weston-simple-shm ]; }; then
	not_ok "l2: weston (setup.sh weston) is in the image"
fi
if [ -f $KMS ] && [ -x /tests/weston ] && [ -x /tests/weston-simple-shm ] &&
   [ -x /tests/e2e_kms ]; then
	stage "l2: weston"
	weston_stage
fi

# The KMS driver goes before the lifecycle tests reload virtio_vdmabuf:
# with every framebuffer gone, the host has released every export.
if [ -f $KMS ]; then
	stage "l2: unloading vdmabuf_drm"
	kill "$uevents_pid" 2>/dev/null
	check "l2: rmmod vdmabuf_drm" rmmod vdmabuf_drm
	for _ in $(seq 100); do
		[ "$(cat /sys/bus/auxiliary/devices/virtio_vdmabuf.display.0/../live_exports)" = 0 ] && break
		sleep 0.3
	done
	check "l2: after vdmabuf_drm, the first device has no live export" \
		[ "$(cat /sys/bus/auxiliary/devices/virtio_vdmabuf.display.0/../live_exports)" = 0 ]
	kernel_log_clean
fi

# Lifecycle with exports the host's importer_holder keeps imported.
if [ "$FULL" = 1 ] && [ -x /tests/life_guest ] && [ -c /dev/virtio-vdmabuf ]; then
	stage "l2: lifecycle: module reload with live exports"
	run_prog life_hold_close life_guest hold --close udmabuf
	check "l2: rmmod virtio_vdmabuf while the host holds an export" \
		rmmod virtio_vdmabuf
	check "l2: insmod virtio_vdmabuf.ko again" insmod $MOD
	run_prog life_after_reload life_guest roundtrip
	run_prog life_freeze life_guest freeze
	kernel_log_clean

	stage "l2: lifecycle: reboot with live exports"
	life_guest hold --stay /tmp/held own udmabuf > /tmp/held.tap 2>&1 &
	for _ in $(seq 600); do
		[ -f /tmp/held ] && break
		kill -0 $! 2>/dev/null || break
		sleep 0.5
	done
	{ echo "# program: life_hold_stay"; cat /tmp/held.tap; } > $R
	if [ -f /tmp/held ]; then
		echo "# exit: life_hold_stay 0" > $R
	else
		echo "# exit: life_hold_stay 1" > $R
	fi
	debug_collect
	echo "1..$n" > $R
	echo "# l2: done" > $R
	# L1 sees the reset take the exports away, then kills QEMU while
	# the holder still has them imported.
	stage "l2: rebooting with live exports"
	sync
	reboot -f
	sleep 600
fi

# vhost-user, check mode: the module unloaded and loaded again, both
# devices idle (the lifecycle stage does it with exports held, where a
# host program imports them): every device is removed, then probed again.
if [ $BACKEND = vhost-user ] && [ "$VM_MODE" = check ] && [ -f $MOD ]; then
	stage "l2: module reload"
	dev_nodes() { ls /dev/virtio-vdmabuf* 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
	nodes=$(dev_nodes)
	check "l2: devices to reload (${nodes:-none})" [ -n "$nodes" ]
	# The host may still be releasing the last test's exports.
	none_live() {
		for f in /sys/class/misc/virtio-vdmabuf*/device/live_exports; do
			[ "$(cat "$f")" = 0 ] || return 1
		done
	}
	for _ in $(seq 100); do none_live && break; sleep 0.3; done
	check "l2: no export live before the reload" none_live
	check "l2: rmmod virtio_vdmabuf" rmmod virtio_vdmabuf
	check "l2: insmod virtio_vdmabuf.ko again" insmod $MOD
	for _ in $(seq 100); do
		[ "$(dev_nodes)" = "$nodes" ] && break
		sleep 0.1
	done
	check "l2: every device is back after the reload ($nodes)" \
		[ "$(dev_nodes)" = "$nodes" ]
	kernel_log_clean
fi

# vhost-user, check mode: the second device's daemon killed (L1 kills it
# when it reads the line below).  QEMU marks the device broken
# (DEVICE_NEEDS_RESET) and the driver must stop it: an export fails at
# once with ENODEV, where it used to wait for a daemon that was gone.
if [ $BACKEND = vhost-user ] && [ "$VM_MODE" = check ] && [ -c /dev/virtio-vdmabuf1 ]; then
	stage "l2: the second device's daemon killed"
	echo "# vu-kill: daemon 1" > $R
	for _ in $(seq 240); do
		dmesg | grep -q 'the device needs a reset' && break
		sleep 0.5
	done
	check "l2: the driver stopped the device whose daemon was killed (DEVICE_NEEDS_RESET)" \
		sh -c "dmesg | grep -q 'the device needs a reset: stopped'"
	# SIGKILL: the command catches SIGTERM, and the driver's waits
	# are killable only.
	out=$(timeout -s KILL 60 vdmabuf export --heap system --size 4096 \
	      --device /dev/virtio-vdmabuf1 2>&1)
	rc=$?
	check "l2: an export on that device fails at once with ENODEV (exit $rc: $(echo "$out" | tail -n 1))" \
		sh -c '[ "$0" = 1 ] && echo "$1" | grep -q "No such device"' "$rc" "$out"
fi

# vhost-user, check mode, last: a machine reset with a live export.  L1
# resets the machine (QMP system_reset) once the guest holds one, checks
# that the daemon ended it, and stops QEMU before this init runs again.
if [ $BACKEND = vhost-user ] && [ "$VM_MODE" = check ] && [ -c /dev/virtio-vdmabuf ]; then
	stage "l2: a machine reset with a live export"
	# Before the export, which is held for 600 s only.
	debug_collect
	vdmabuf export --heap system --size 65536 --hold 600 > /tmp/held.out 2>&1 &
	for _ in $(seq 120); do
		[ -s /tmp/held.out ] && break
		sleep 0.5
	done
	check "l2: a buffer exported and held for the machine reset" [ -s /tmp/held.out ]
	kernel_log_clean
	echo "1..$n" > $R
	echo "# l2: done" > $R
	echo "# vu-reset: $(head -n 1 /tmp/held.out)" > $R
	sleep 600
fi

if [ -f $MOD ]; then
	stage "l2: unloading"
	check "l2: rmmod virtio_vdmabuf" rmmod virtio_vdmabuf
fi
kernel_log_clean
debug_collect
echo "1..$n" > $R
echo "# l2: done" > $R
stage "l2: done"
sync
echo o > /proc/sysrq-trigger
sleep 10
