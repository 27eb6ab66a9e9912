#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug kernel's judges, on made-up input (nothing here needs a VM):
# scripts/testbed/faults.sh's address ranges, in every shell that sources
# it (bash in L1, busybox sh in L2, and dash), from a kallsyms file; and
# l1-debug.sh's kernel_reports, which decides what in a kernel log is a
# report and what the fault injection explains.  TAP output.
#
# Environment: VDMABUF_TOP or TOP (the checkout; default: two levels up
# from here).

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOP=${VDMABUF_TOP:-${TOP:-$(cd "$here/../.." && pwd)}}
FAULTS=$TOP/scripts/testbed/faults.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shells="bash dash"
command -v busybox > /dev/null && shells="$shells busybox"
nshells=$(echo "$shells" | wc -w)
echo "TAP version 13"
echo "1..$((11 * nshells + 9))"
t=0
ok() {	# WHAT CONDITION...
	local what=$1
	shift
	t=$((t + 1))
	if "$@"; then
		echo "ok $t $what"
	else
		echo "not ok $t $what"
	fi
}

# ---- faults.sh ---------------------------------------------------------
cat > "$tmp/kallsyms" <<'EOF'
ffffffff81000000 T _stext
ffffffff813a4280 t __pfx_dump_open
ffffffff813a4290 t dump_open
ffffffff813adf10 T debug_dma_free_pages
ffffffff813adf10 t debug_dma_free_pages.cold
ffffffffc0200000 t vdmabuf_open	[vhost_vdmabuf]
ffffffffc0200400 d vdmabuf_data	[vhost_vdmabuf]
ffffffffc0201000 T vdmabuf_release	[vhost_vdmabuf]
ffffffffc0300000 t other_fn	[other]
0000000000000000 t hidden	[hidden]
EOF
# SHELL FUNCTION ARGS...: what it prints and its status, as "OUT rc N"
run() {
	local sh=$1
	shift
	[ "$sh" = busybox ] && sh="busybox sh"
	# shellcheck disable=SC2086,SC2016 # "busybox sh" is two words
	FAULT_KALLSYMS=$tmp/kallsyms $sh -c '. "$0"; "$@"; echo "rc $?"' "$FAULTS" "$@" |
		tr '\n' ' '
}
for sh in $shells; do
	out=$(run "$sh" faults_range vhost_vdmabuf 0x0000000000000100)
	ok "$sh: a module's text, its longest function past its last ($out)" \
		[ "$out" = "ffffffffc0200000 ffffffffc0201100 rc 0 " ]
	out=$(run "$sh" faults_text dump_open debug_dma_free_pages 0x0000000000000153)
	ok "$sh: an object's text in the kernel, from two names ($out)" \
		[ "$out" = "ffffffff813a4290 ffffffff813ae063 rc 0 " ]
	out=$(run "$sh" faults_text debug_dma_free_pages dump_open 0x10)
	ok "$sh: names out of order are refused ($out)" [ "${out##* rc }" = "1 " ]
	out=$(run "$sh" faults_range hidden 0x10)$(run "$sh" faults_text nosuch dump_open 0x10)
	ok "$sh: hidden addresses and a missing name are refused ($out)" \
		[ "$out" = "0000000000000000 0000000000000000 rc 1 ? ffffffff813a4290 rc 1 " ]
done

# faults_run on a made-up debugfs and kernel log: SHELL WHO MODULE FNMAX
# PERCENT CMD..., where CMD may be "inject N", which takes N failures off
# failslab's times and notes what the knobs were meanwhile.  What it
# printed, one line; the knobs and the kernel log stay in $tmp/SHELL.
# FAULTS_BROKEN=KNOB makes fail_page_alloc's KNOB one no write reaches.
run_faults() {
	local sh=$1 d=$tmp/debugfs-$1
	shift
	[ "$sh" = busybox ] && sh="busybox sh"
	rm -rf "$d"
	mkdir -p "$d/failslab" "$d/fail_page_alloc"
	[ -n "${FAULTS_BROKEN:-}" ] && mkdir "$d/fail_page_alloc/$FAULTS_BROKEN"
	# shellcheck disable=SC2086,SC2016 # "busybox sh" is two words
	FAULT_KALLSYMS=$tmp/kallsyms FAULT_DIR=$d FAULT_KMSG=$d/kmsg \
	DMA_TEXT="dump_open debug_dma_free_pages 0x153" $sh -c '
		. "$0"
		ok() { echo "ok - $*"; }
		not_ok() { echo "not ok - $*"; }
		check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
		inject() {
			cat "$FAULT_DIR/failslab/probability" "$FAULT_DIR/failslab/reject-start" \
				"$FAULT_DIR/fail_page_alloc/min-order" | tr "\n" " " > "$FAULT_DIR/during"
			echo $((FAULT_TIMES - $1)) > "$FAULT_DIR/failslab/times"
		}
		faults_run "$@"' "$FAULTS" "$@" 2>/dev/null | tr '\n' ' '
}
# The knobs faults_run must leave, of both attributes: the kernel's
# defaults, and whether the command ran.
knobs() {	# DIR
	local a
	for a in failslab fail_page_alloc; do
		(cd "$1/$a" && cat probability times require-start require-end \
			reject-start reject-end stacktrace-depth task-filter \
			ignore-gfp-wait interval space verbose) | tr '\n' ' '
	done
	(cd "$1/fail_page_alloc" && cat ignore-gfp-highmem min-order) | tr '\n' ' '
	[ -e "$1/during" ] && echo "ran"
}
d1="0 1 0 0xffffffffffffffff 0 0 32 N Y 1 0 2 "
defaults="$d1$d1""Y 1 "
mark="vdmabuf-testbed: fault injection"
head="# fault injection: 1% of the allocations with 0xffffffffc0200000..0xffffffffc0201100 on the stack"
setup="not ok - l2: debug kernel: fault injection set up"
back="ok - l2: debug kernel: fault injection off, its knobs at their defaults "
for sh in $shells; do
	d=$tmp/debugfs-$sh
	# What it printed | the knobs while the command ran | the knobs
	# after | the kernel log.
	out=$(run_faults "$sh" l1 vhost_vdmabuf 0x100 1 inject 5)
	out="$out|$(cat "$d/during")|$(knobs "$d")|$(tr '\n' ' ' < "$d/kmsg")"
	ok "$sh: faults_run: the command under faults, 5 injected, the knobs back ($out)" \
		[ "$out" = "$head ok - l1: debug kernel: the kernel failed allocations of the module (failslab 5 fail_page_alloc 0) ok - l1: debug kernel: fault injection off, its knobs at their defaults |1 0xffffffff813a4290 0 |${defaults}ran|$mark on $mark off " ]
	out=$(run_faults "$sh" l2 vhost_vdmabuf 0x100 1 inject 0)
	ok "$sh: faults_run: none injected is a failure ($out)" \
		[ "$out" = "$head not ok - l2: debug kernel: the kernel failed allocations of the module (failslab 0 fail_page_alloc 0) $back" ]
	out=$(run_faults "$sh" l2 hidden 0x10 1 inject 5)
	out="$out|$(knobs "$d")"
	ok "$sh: faults_run: a module not found is a failed set-up, the command not run ($out)" \
		[ "$out" = "$setup (text 0000000000000000 0000000000000000, longest 0x10, DMA-API debugging ?) $back|$defaults" ]
	for len in "" 0x 0xz1; do
		out=$(run_faults "$sh" l2 vhost_vdmabuf "$len" 1 inject 5)
		out="$out|$(knobs "$d")"
		ok "$sh: faults_run: FNMAX '$len' is a failed set-up, the command not run ($out)" \
			[ "$out" = "$setup (text ?, longest ?, DMA-API debugging ?) $back|$defaults" ]
	done
	out=$(FAULTS_BROKEN=verbose run_faults "$sh" l2 vhost_vdmabuf 0x100 1 inject 5)
	out="$out|$(knobs "$d" 2>/dev/null)|$(tr '\n' ' ' < "$d/kmsg")"
	ok "$sh: faults_run: a knob that cannot be set fails the set-up and the knobs' return, the rest put back ($out)" \
		[ "$out" = "$setup (text ffffffffc0200000 ffffffffc0201100, longest 0x100, DMA-API debugging ffffffff813a4290 ffffffff813ae063) not ok - l2: debug kernel: fault injection off, its knobs at their defaults |0 1 0 0xffffffffffffffff 0 0 32 N Y 1 0 2 0 1 0 0xffffffffffffffff 0 0 32 N Y 1 0 Y 1 |$mark off " ]
done

# ---- kernel_reports ----------------------------------------------------
# shellcheck disable=SC2317 # called by l1-debug.sh
stage() { :; }
# shellcheck disable=SC1091 # the checkout's
. "$TOP/scripts/testbed/l1-debug.sh"
# LOG: the counts kernel_reports writes, as "CATEGORY N" sorted, one line
counts() {
	: > "$1.count"
	kernel_reports "$1" "$1.count" > "$1.out"
	sort "$1.count" | tr '\n' ' '
}
judged() {	# WHAT LOG WANT: LOG's counts are WANT ("" for no report)
	local c
	c=$(counts "$2")
	ok "$1 ($c)" [ "$c" = "$3" ]
}
on='[ 9.0] vdmabuf-testbed: fault injection on'
off='[ 9.9] vdmabuf-testbed: fault injection off'
failure() {	# the report warn_alloc() makes, with LINES lines before its trace
	echo "[ 9.1] fuzz_host: page allocation failure: order:0, mode:0x40cc0(GFP_KERNEL|__GFP_COMP)"
	for i in $(seq 1 "$1"); do echo "[ 9.1] line $i"; done
	printf '[ 9.2] Call Trace:\n[ 9.2]  <TASK>\n[ 9.2]  dump_stack_lvl+0x5d/0x80\n[ 9.2]  </TASK>\n'
}
trace() {
	printf '[ 9.5] CPU: 0 PID: 1 Comm: sh\n[ 9.5] Call Trace:\n[ 9.5]  <TASK>\n[ 9.5]  foo+0x1/0x2\n[ 9.5]  </TASK>\n'
}

{ echo "$on"; failure 4; echo "$off"; } > "$tmp/excused"
judged "an allocation failure and its trace during fault injection: no report" "$tmp/excused" ""
{ echo "$on"; failure 10; echo "$off"; } > "$tmp/far"
judged "its trace 11 lines on (a split line, another CPU's) still excused" "$tmp/far" ""
{ echo "$on"; failure 13; echo "$off"; } > "$tmp/farther"
judged "a trace 14 lines on is a report" "$tmp/farther" "Call-Trace 1 "
{ echo "$on"; failure 2; trace; echo "$off"; } > "$tmp/second"
judged "a second trace after an excused one is a report" "$tmp/second" "Call-Trace 1 "
failure 2 > "$tmp/outside"
judged "an allocation failure outside fault injection is a report, its trace in it" "$tmp/outside" "alloc-failure 1 "
trace > "$tmp/stray"
judged "a stray Call Trace is a report" "$tmp/stray" "Call-Trace 1 "
{
	echo "[ 1.0] BUG: KASAN: slab-use-after-free in vdmabuf_release+0x1/0x2"
	echo "[ 1.0] Call Trace:"
	echo "[ 1.0]  <TASK>"
	echo "[ 1.0]  </TASK>"
	echo "[ 1.0] =================================================================="
} > "$tmp/kasan"
judged "KASAN's report, its trace part of it" "$tmp/kasan" "KASAN 1 "
{
	echo "[ 0.1] DMA-API: preallocated 65536 debug entries"
	echo "[ 0.1] DMA-API: debugging enabled by kernel config"
} > "$tmp/boot"
judged "DMA-API debugging's boot lines are none" "$tmp/boot" ""
{
	echo "[ 2.0] DMA-API: cacheline tracking ENOMEM, dma-debug disabled"
	echo "[ 2.1] WARNING: possible circular locking dependency detected"
	echo "[ 2.2] INFO: task kworker/0:1:12 blocked for more than 120 seconds."
} > "$tmp/three"
judged "DMA-API, lockdep and a hung task, one report each" "$tmp/three" "DMA-API 1 hung/stall 1 lockdep 1 "
