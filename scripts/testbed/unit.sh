#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the unit_* programs (built by make selftests) on this machine; each
# one's TAP lands in build/results/.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$TOP/scripts/testbed/setup.sh" env)"
export KSRC TOP
mkdir -p "$TOP/build/results"
for t in "$TOP"/build/selftests/unit_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	{
		echo "# program: $name"
		timeout -k 5 300 "$t" 2>&1
		echo "# exit: $name $?"
	} > "$TOP/build/results/$name.tap"
	grep -E '^(not )?ok ' "$TOP/build/results/$name.tap"
done

# QEMU's own test of the device (tests/qtest/vhost-vdmabuf-test, from
# qemu-patches/), here without /dev/vhost-vdmabuf: the case that needs
# the module skips, and l1-run.sh runs it again where the module is.
qt=$(dirname "$QEMU")/tests/qtest/vhost-vdmabuf-test
r=$TOP/build/results/qtest-vhost-vdmabuf.tap
if grep -qs 'tests/qtest/vhost-vdmabuf-test' "$TOP"/qemu-patches/*.patch; then
	{
		echo "# program: qtest-vhost-vdmabuf"
		if [ -x "$qt" ]; then
			QTEST_QEMU_BINARY=$QEMU timeout -k 5 300 "$qt" --tap > "$r.out" 2>&1
			rc=$?
			cat "$r.out"
			# No case registered (a QEMU without the device): fail.
			grep -q '^1\.\.[1-9]' "$r.out" || echo "not ok 1 - the qtest ran a case"
			rm -f "$r.out"
			echo "# exit: qtest-vhost-vdmabuf $rc"
		else
			echo "not ok 1 - $qt was built (make qemu)"
			echo "# exit: qtest-vhost-vdmabuf 1"
		fi
	} > "$r"
	grep -E '^(not )?ok ' "$r"
fi
exit 0
