# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Fault injection into one module's allocations, on the debug kernel:
# sourced by l1-debug.sh (L1, bash: vhost_vdmabuf) and l2-init.sh (L2,
# busybox sh: virtio_vdmabuf), so POSIX sh.  failslab and
# fail_page_alloc fail a percentage of the allocations made with the
# module's code on the stack (require-start..require-end, searched
# stacktrace-depth frames deep), sleeping ones and order-0 pages
# included.  The knobs: Documentation/fault-injection/fault-injection.rst.

FAULT_ATTRS="failslab fail_page_alloc"
FAULT_DIR=/sys/kernel/debug
# times: how many failures may still be injected, one less after each.
# Started at this, what it lost is how many were.
FAULT_TIMES=1000000000

# The text of MODULE, as "START END" in hex without 0x, from one read of
# /proc/kallsyms: its lowest function's address, and its highest plus
# FNMAX, the size of its longest function (nm -S).  x86-64 loads modules
# in the top 2 GiB, where the upper 32 bits are ones; what is not there
# is printed with a status of 1.
faults_range() {	# MODULE FNMAX
	fr=$(awk -v m="[$1]" '$4 == m && $2 ~ /^[tT]$/ {
		a = $1 ""
		if (lo == "" || a < lo)
			lo = a
		if (a > hi)
			hi = a
	} END { print lo, hi }' /proc/kallsyms)
	fr_lo=${fr% *}
	fr_hi=${fr#* }
	case "$fr_lo$fr_hi" in
	ffffffff????????ffffffff????????) ;;
	*) echo "${fr_lo:-?} ${fr_hi:-?}"; return 1 ;;
	esac
	printf '%s ffffffff%08x\n' "$fr_lo" $((0x${fr_hi#ffffffff} + $2))
}

# Fail PERCENT of the allocations with START..END on the stack.
faults_on() {	# PERCENT START END
	for fa in $FAULT_ATTRS; do
		fd=$FAULT_DIR/$fa
		echo 0 > "$fd/probability" &&
			echo "0x$2" > "$fd/require-start" &&
			echo "0x$3" > "$fd/require-end" &&
			echo 32 > "$fd/stacktrace-depth" &&
			echo N > "$fd/task-filter" &&
			echo N > "$fd/ignore-gfp-wait" &&
			echo 1 > "$fd/interval" &&
			echo $FAULT_TIMES > "$fd/times" &&
			echo 0 > "$fd/space" &&
			echo 0 > "$fd/verbose" || return 1
	done
	echo N > $FAULT_DIR/fail_page_alloc/ignore-gfp-highmem &&
		echo 0 > $FAULT_DIR/fail_page_alloc/min-order || return 1
	for fa in $FAULT_ATTRS; do
		echo "$1" > "$FAULT_DIR/$fa/probability" || return 1
	done
}

# How many failures each attribute injected since faults_on, as
# "failslab N fail_page_alloc M".
faults_count() {
	fc=
	for fa in $FAULT_ATTRS; do
		ft=$(cat "$FAULT_DIR/$fa/times") || return 1
		fc="$fc${fc:+ }$fa $((FAULT_TIMES - ft))"
	done
	echo "$fc"
}

# No more failures, and every knob back to the kernel's default
# (FAULT_ATTR_INITIALIZER, mm/failslab.c, mm/fail_page_alloc.c).
faults_off() {
	for fa in $FAULT_ATTRS; do
		fd=$FAULT_DIR/$fa
		echo 0 > "$fd/probability" &&
			echo 0 > "$fd/require-start" &&
			echo 0xffffffffffffffff > "$fd/require-end" &&
			echo 32 > "$fd/stacktrace-depth" &&
			echo N > "$fd/task-filter" &&
			echo Y > "$fd/ignore-gfp-wait" &&
			echo 1 > "$fd/interval" &&
			echo 1 > "$fd/times" &&
			echo 0 > "$fd/space" &&
			echo 2 > "$fd/verbose" || return 1
	done
	echo Y > $FAULT_DIR/fail_page_alloc/ignore-gfp-highmem &&
		echo 1 > $FAULT_DIR/fail_page_alloc/min-order
}
