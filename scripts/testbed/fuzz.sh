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
#
# FUZZ_VMS=N (default 1) shares the requests out among N L1 VMs that run
# side by side, with seeds FUZZ_SEED to FUZZ_SEED+N-1, each its own kernel
# (the fuzzer checks machine-wide counters: two in one VM would see each
# other's pins).  One VM keeps about one core busy (the fuzzer and the
# vhost worker take turns), so on this 2-core machine FUZZ_VMS=2 takes
# about half the time.  Results in build/vm-fuzz-1/ ... build/vm-fuzz-N/,
# the requests, their rate and the pass and fail counts summed.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1

export FUZZ_REQUESTS=${FUZZ_REQUESTS:-10000000}
export FUZZ_SEED=${FUZZ_SEED:-$(( $(date +%s%N) % 1000000007 ))}
FUZZ_VMS=${FUZZ_VMS:-1}
case "$FUZZ_VMS" in [1-9]) ;; *) echo "fuzz.sh: FUZZ_VMS is 1 to 9" >&2; exit 2 ;; esac
PER=$(( (FUZZ_REQUESTS + FUZZ_VMS - 1) / FUZZ_VMS ))
export FUZZ_TIME_LIMIT=${FUZZ_TIME_LIMIT:-$(( PER / 400 + 300 ))}
# The fuzzer's own alarm is its time limit plus 180 s of shrinking and a
# margin; the VM runner's limits go beyond that, so that a hang is named
# by the innermost one.
export TEST_TIMEOUT=$(( FUZZ_TIME_LIMIT + 600 ))
export STAGE_LIMIT=$(( TEST_TIMEOUT + 300 ))
export L1_TIMEOUT=$(( STAGE_LIMIT + 600 ))
export VM_MODE=fuzz
TAG=${VM_TAG:-fuzz}

# The last line the fuzzer wrote of its result or progress, of run TAG.
last_line() {	# TAG
	grep -a '^ok 1 - fuzz_host\|^not ok 1 - fuzz_host\|^# progress' \
		"$TOP/build/vm-$1/fuzz_host.tap" 2>/dev/null | tail -n 1
}

echo "make fuzz: seed $FUZZ_SEED, $FUZZ_REQUESTS requests, at most $FUZZ_TIME_LIMIT s (${VM_KERNEL:-debian} kernel)"
T0=$(date +%s)
if [ "$FUZZ_VMS" = 1 ]; then
	tags=("$TAG")
	VM_TAG=$TAG bash scripts/testbed/vmcheck.sh
	rc=$?
else
	echo "make fuzz: $FUZZ_VMS VMs side by side, $PER requests each, seeds $FUZZ_SEED to $((FUZZ_SEED + FUZZ_VMS - 1))"
	tags=() pids=()
	mkdir -p "$TOP/build/logs"
	for i in $(seq 1 "$FUZZ_VMS"); do
		tags+=("$TAG-$i")
		VM_TAG=$TAG-$i FUZZ_SEED=$((FUZZ_SEED + i - 1)) FUZZ_REQUESTS=$PER \
			bash scripts/testbed/vmcheck.sh > "$TOP/build/logs/$TAG-$i.log" 2>&1 &
		pids+=($!)
	done
	# A line a minute: each VM's last progress.
	tick=0
	while sleep 5; do
		running=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
		[ $running = 1 ] || break
		tick=$((tick + 1))
		[ $((tick % 12)) = 0 ] || continue
		for t in "${tags[@]}"; do
			printf '[fuzz %5ss] %s: %s\n' $(( $(date +%s) - T0 )) "$t" "$(last_line "$t")"
		done
	done
	rc=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || {
			rc=1
			echo "---- ${tags[$i]}: the VM run failed; its log's tail (build/logs/${tags[$i]}.log) ----"
			tail -n 30 "$TOP/build/logs/${tags[$i]}.log"
		}
	done
fi
taps=()
for t in "${tags[@]}"; do
	out=$TOP/build/vm-$t
	echo "---- fuzz_host ($out/fuzz_host.tap) ----"
	grep -v '^# progress' "$out/fuzz_host.tap" 2>/dev/null | tail -n 80
	grep '^# progress' "$out/fuzz_host.tap" 2>/dev/null | tail -n 1
	taps+=("$out"/*.tap)
done
# All the VMs' requests: the result line, passed or failed, says "N
# requests".
secs=$(( $(date +%s) - T0 ))
total=$(cat "${taps[@]}" 2>/dev/null |
	sed -n 's/^\(not \)\{0,1\}ok 1 - fuzz_host: .*, \([0-9]*\) requests,.*/\2/p' |
	awk '{ n += $1 } END { print n + 0 }')
echo "make fuzz: $total requests in $FUZZ_VMS VM(s), $secs s in all ($(( total / (secs + 1) )) a second, boot included)"
mkdir -p "$TOP/build/vm-$TAG"
awk -f scripts/testbed/tap-summary.awk "${taps[@]}" | tee "$TOP/build/vm-$TAG/summary.txt"
[ $rc -eq 0 ] || exit 1
for t in "${tags[@]}"; do
	grep -q '^# exit: fuzz_host 0' "$TOP/build/vm-$t/fuzz_host.tap" 2>/dev/null || exit 1
done
tail -n 1 "$TOP/build/vm-$TAG/summary.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'
