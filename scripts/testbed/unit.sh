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
exit 0
