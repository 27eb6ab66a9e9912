# SPDX-License-Identifier: GPL-2.0
#
# The host's side of a guest on the vhost-user back-end (l2-init.sh with
# vdmabuf.backend=vhost-user), sourced by the two scripts that boot one:
# l1-run.sh, in L1 (the vhost-user stage), and guest-debug.sh, on this
# machine (the debug kernel's guest, one level of TCG).  They define
# ok, not_ok and check, and set:
#   VU_HOST	the name their own results begin with (l1, host)
#   L2D		the guest's directory: its QEMU's qmp.sock and qemu.pid,
#		its TAP as it comes (l2.tap), and the marks below
#   VM_OUT	where the daemons' logs are (vhost-user-vdmabuf0.log, 1)
#   VM_MODE, VU_TESTS as vmcheck.sh gives them
# and, for vhost_user_end, in their own scope: vpids (the two daemons'
# pids) and rc (QEMU's exit status).

qmp() {	# qmp COMMAND [NAME VALUE]...: one QMP command to L2's QEMU, its
	# arguments string-valued; fails on an error
	python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
for cmd, a in (("qmp_capabilities", {}), (sys.argv[2], args)):
    f.write(json.dumps({"execute": cmd, "arguments": a}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "error" in r:
            sys.exit("qmp %s: %s" % (cmd, r["error"]))
        if "return" in r:
            break
' "$L2D/qmp.sock" "$@"
}

# Polls FILE every 0.1 s, at most TRIES times, for a line that matches the
# extended regular expression ERE: 0 once one is there, 1 if none came.
wait_line() {	# TRIES ERE FILE
	local _
	for _ in $(seq "$1"); do
		grep -Eq "$2" "$3" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The guest's last words in check mode (l2-init.sh): it holds a live
# export and asks for a machine reset.  Reset it (QMP system_reset, the
# devices reset as at a reboot), wait for the first daemon to say that
# the reset ended a live export, and stop QEMU before the guest boots
# again (its init would run the tests again).
vhost_user_reset() {
	wait_line 24000 '^# vu-reset: ' "$L2D/l2.tap" || return
	qmp system_reset || return
	wait_line 600 '^vhost-user-vdmabuf: device reset: [1-9][0-9]* live exports ended' \
		"$VM_OUT/vhost-user-vdmabuf0.log" && : > "$L2D/reset-ended"
	kill "$(cat "$L2D/qemu.pid")"
}

# The guest asks for the second daemon to be killed (l2-init.sh's
# "vu-kill"), to check that its driver stops the broken device instead
# of waiting for it: killed when it asks (within 40 min), and then the
# machine reset above.  PID: the second daemon's.
vhost_user_kill_then_reset() {	# PID
	wait_line 24000 '^# vu-kill: daemon 1' "$L2D/l2.tap" || return
	kill -KILL "$1" && : > "$L2D/killed"
	vhost_user_reset
}

# What the fault-injection daemon $1 (the second device's) logged while
# guest_faults ran: the faults the guest asked for were injected, and no
# request chain was longer than the queue.
vhost_user_faults_log() {
	[[ " $VU_TESTS " = *" guest_faults "* ]] || return 0
	# released_for_a_live_export 1, the two released_with_a_refusal 3
	# each; unexport_refused_* 1 each and released_with_a_refusal* 3
	# each.
	check "$VU_HOST: vhost-user-vdmabuf-faults sent 7 RELEASEDs for live exports" \
		sh -c '[ "$(grep -c "fault injected: RELEASED of a live export" "$0")" -eq 7 ]' "$1"
	check "$VU_HOST: vhost-user-vdmabuf-faults refused 8 UNEXPORTs with NOMEM" \
		sh -c '[ "$(grep -c "fault injected: UNEXPORT answered NOMEM" "$0")" -eq 8 ]' "$1"
	check "$VU_HOST: vhost-user-vdmabuf-faults saw no request chain longer than its queue" \
		sh -c '! grep "descriptors on a queue of" "$0"' "$1"
}

# Once the guest's QEMU has gone: the guest ran to the end, what check
# mode's last stages did (the second daemon killed, the machine reset),
# and each daemon exits 0 when its front-end goes.
vhost_user_end() {	# GUEST-NAME GUEST-TAP GUEST-CONSOLE QEMU-LOG
	local d i last
	if grep -q '^# l2: done' "$2"; then
		ok "$1: guest ran to the end"
	else
		last=$(grep -a 'VDMABUF-STAGE' "$3" | tail -n1)
		not_ok "$1: guest did not finish (qemu exit $rc, last stage: ${last#*: })"
		tail -n 40 "$3"
	fi
	# The second daemon killed at the guest's word: QEMU says so, and
	# marks the device broken (l2-init.sh checks the guest's side).  The
	# machine reset ended the live export on the first daemon.
	if [ "$VM_MODE" = check ]; then
		check "$VU_HOST: a machine reset (system_reset) ended the guest's live export on the daemon" \
			[ -f "$L2D/reset-ended" ]
		check "$VU_HOST: vhost-user-vdmabuf 1 killed when the guest asked" [ -f "$L2D/killed" ]
		check "$VU_HOST: QEMU reported the killed daemon and marked its device broken" \
			grep -q 'the backend disconnected, the device stays broken' "$4"
		vhost_user_faults_log "$VM_OUT/vhost-user-vdmabuf1.log"
	fi
	# A daemon serves one front-end and exits when it goes.
	for d in 0 1; do
		[ -f "$L2D/killed" ] && [ "$d" = 1 ] && { wait "${vpids[d]}" 2>/dev/null; continue; }
		for i in $(seq 50); do
			kill -0 "${vpids[d]}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${vpids[d]}" 2>/dev/null; then
			kill -KILL "${vpids[d]}"
			not_ok "$VU_HOST: vhost-user-vdmabuf $d exits when QEMU has gone"
		else
			wait "${vpids[d]}"
			check "$VU_HOST: vhost-user-vdmabuf $d exits 0 when QEMU has gone" [ $? = 0 ]
		fi
		sed "s/^/# vhost-user-vdmabuf $d: /" "$VM_OUT/vhost-user-vdmabuf$d.log" | tail -n 20
	done
	# The guest's resets (probe, rmmod) reach the daemon as
	# VHOST_USER_RESET_DEVICE, which libvhost-user alone would refuse.
	check "$VU_HOST: QEMU passed the guest's device resets on to the daemon" \
		grep -q '^vhost-user-vdmabuf: device reset: ' "$VM_OUT/vhost-user-vdmabuf0.log"
}
