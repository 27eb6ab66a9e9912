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

try() {	# try TAG INJECT LIMIT EXPECT-REGEX
	local out t0 t rc
	t0=$(date +%s)
	out=$(VM_TAG=$1 VM_INJECT=$2 VM_STAGES=l1 STAGE_LIMIT=$3 \
	      bash "$TOP/scripts/testbed/vmcheck.sh" 2>&1)
	rc=$?
	t=$(( $(date +%s) - t0 ))
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
	if [ "$t" -le $(( $3 + 90 )) ]; then
		ok "$1: failed within the stage limit (${t}s, limit ${3}s + boot)"
	else
		not_ok "$1: failed within the stage limit (${t}s, limit ${3}s + boot)"
	fi
}

try panic "panic:l1: test bed checks" 120 "stage 'l1: test bed checks'"
# The limit covers every stage before the hang too: L1's boot took over
# 8 s on a loaded machine, and the run then failed in 'l1: boot'.
try hang "hang:l1: test bed checks" 60 "stage 'l1: test bed checks' ran past its limit"
echo "1..$n" >> "$R"
