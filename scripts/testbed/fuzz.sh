#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make fuzz: the host fuzzer (selftests/vdmabuf/fuzz_host.c) against the
# real vhost_vdmabuf, alone in the L1 host VM (vmcheck.sh VM_MODE=fuzz: L1
# only, none of the other tests), for FUZZ_REQUESTS requests (default 10
# million) from FUZZ_SEED (default: a new one, printed: the run is
# reproduced by passing it back).  FUZZ_TIME_LIMIT (seconds) bounds the
# fuzzing; by default it allows 400 requests a second, a fifth of what L1
# does under TCG, and the run stops early, and passes, if it runs out.  On
# Debian's kernel, or on the debug kernel with VM_KERNEL=debug, whose
# checkers' reports fail the run.  Results in build/vm-fuzz/ (VM_TAG
# changes the name); prints the fuzzer's summary and result.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1

export FUZZ_REQUESTS=${FUZZ_REQUESTS:-10000000}
export FUZZ_SEED=${FUZZ_SEED:-$(( $(date +%s%N) % 1000000007 ))}
export FUZZ_TIME_LIMIT=${FUZZ_TIME_LIMIT:-$(( FUZZ_REQUESTS / 400 + 300 ))}
# The fuzzer's own alarm is its time limit plus 180 s of shrinking and a
# margin; the VM runner's limits go beyond that, so that a hang is named
# by the innermost one.
export TEST_TIMEOUT=$(( FUZZ_TIME_LIMIT + 600 ))
export STAGE_LIMIT=$(( TEST_TIMEOUT + 300 ))
export L1_TIMEOUT=$(( STAGE_LIMIT + 600 ))
export VM_MODE=fuzz VM_TAG=${VM_TAG:-fuzz}
OUT=$TOP/build/vm-$VM_TAG

echo "make fuzz: seed $FUZZ_SEED, $FUZZ_REQUESTS requests, at most $FUZZ_TIME_LIMIT s (${VM_KERNEL:-debian} kernel)"
bash scripts/testbed/vmcheck.sh
rc=$?
echo "---- fuzz_host ($OUT/fuzz_host.tap) ----"
grep -v '^# progress' "$OUT/fuzz_host.tap" 2>/dev/null | tail -n 80
grep '^# progress' "$OUT/fuzz_host.tap" 2>/dev/null | tail -n 1
awk -f scripts/testbed/tap-summary.awk "$OUT"/*.tap | tee "$OUT/summary.txt"
[ $rc -eq 0 ] && grep -q '^# exit: fuzz_host 0' "$OUT/fuzz_host.tap" 2>/dev/null &&
	tail -n 1 "$OUT/summary.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'
