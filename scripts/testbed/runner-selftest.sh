#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The VM runner's own test (TAP, build/results/runner.tap): a kernel that
# panics and a stage that hangs must each fail the run within the stage's
# limit, naming the stage and showing the console's tail, never hang.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
R=$TOP/build/results/runner.tap
mkdir -p "$(dirname "$R")"
n=0
echo "# runner.tap" > "$R"
ok()     { n=$((n + 1)); echo "ok $n - $*" >> "$R"; echo "ok - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*" >> "$R"; echo "not ok - $*"; }

# L1's boot gets its own, generous, limit (BOOT_LIMIT): on this 2-core
# machine beside make check's VM run it has taken over 60 s to reach its
# first stage, and the hang's run then failed in 'l1: boot', the injected
# hang never reached.  The time checked is from the stage the fault is
# injected into to the failure, both as the runner printed them.
try() {	# try TAG INJECT LIMIT EXPECT-REGEX
	local out rc t t_in t_fail
	out=$(VM_TAG=$1 VM_INJECT=$2 VM_STAGES=l1 STAGE_LIMIT=$3 BOOT_LIMIT=600 \
	      bash "$TOP/scripts/testbed/vmcheck.sh" 2>&1)
	rc=$?
	t_in=$(echo "$out" | sed -n "s/^\[vm *\([0-9]*\)s\] ${2#*:}\$/\1/p" | head -n 1)
	t_fail=$(echo "$out" | sed -n 's/^\[vm *\([0-9]*\)s\] FAILED: .*/\1/p' | head -n 1)
	t=$(( ${t_fail:-99999} - ${t_in:-0} ))
	echo "$out" | sed 's/^/    /'
	if [ $rc -ne 0 ]; then ok "$1: run fails (exit $rc)"; else not_ok "$1: run fails"; fi
	if echo "$out" | grep -Eq "FAILED: .*$4"; then
		ok "$1: failure names the stage ($4)"
	else
		not_ok "$1: failure names the stage ($4)"
	fi
	if echo "$out" | grep -q -- '---- last 40 lines of'; then
		ok "$1: failure shows the console log's tail"
	else
		not_ok "$1: failure shows the console log's tail"
	fi
	# The runner looks every 2 s.
	if [ -n "$t_in" ] && [ "$t" -le $(( $3 + 5 )) ]; then
		ok "$1: failed within the stage limit (${t}s after '${2#*:}' began, limit ${3}s)"
	else
		not_ok "$1: failed within the stage limit (${t_fail:-no failure}s - ${t_in:-stage never reached}s, limit ${3}s)"
	fi
}

try panic "panic:l1: test bed checks" 120 "stage 'l1: test bed checks'"
try hang "hang:l1: test bed checks" 60 "stage 'l1: test bed checks' ran past its limit"
echo "1..$n" >> "$R"
