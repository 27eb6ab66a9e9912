# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Fault injection into one module's allocations, on the debug kernel:
# sourced by l1-debug.sh (L1, bash: vhost_vdmabuf) and l2-init.sh (L2,
# busybox sh: virtio_vdmabuf), and by vmcheck.sh and guest-debug.sh (this
# machine: faults_fn_max for L2, which has no nm), so POSIX sh, and every
# name it sets starts with fault_ (the two that call faults_run keep
# their TAP counter in n).  failslab and fail_page_alloc fail a
# percentage of the allocations made with the module's code on the stack
# (require-start..require-end, searched stacktrace-depth frames deep),
# sleeping ones and order-0 pages included, but none made by DMA-API
# debugging (reject-start..reject-end: kernel/dma/debug.c's text), which
# the module's DMA mappings call and which turns itself off, for good,
# when one of its allocations fails.
# The knobs: Documentation/fault-injection/fault-injection.rst.

FAULT_ATTRS="failslab fail_page_alloc"
FAULT_DIR=${FAULT_DIR:-/sys/kernel/debug}
# times: how many failures may still be injected, one less after each.
# Started at this, what it lost is how many were.
FAULT_TIMES=1000000000
# What the kernel log says around the injection (l1-debug.sh's
# kernel_reports excuses the allocation failures' reports between them).
FAULT_MARK="vdmabuf-testbed: fault injection"
FAULT_KMSG=${FAULT_KMSG:-/dev/kmsg}
# The kernel's symbols.  (Other files for debugfs, the kernel log and the
# symbols: unit_testbed.sh.)
FAULT_KALLSYMS=${FAULT_KALLSYMS:-/proc/kallsyms}

# "START END" in hex without 0x, from the addresses "LO HI" (of kallsyms)
# and SIZE, the size of what starts at HI.  x86-64 has the kernel and its
# modules in the top 2 GiB, where the upper 32 bits are ones; what is not
# there, or not in order, is printed with a status of 1.
faults_span() {	# "LO HI" SIZE
	fault_lo=${1% *}
	fault_hi=${1#* }
	case "$fault_lo$fault_hi" in
	ffffffff????????ffffffff????????) ;;
	*) echo "${fault_lo:-?} ${fault_hi:-?}"; return 1 ;;
	esac
	[ $((0x${fault_lo#ffffffff})) -le $((0x${fault_hi#ffffffff})) ] ||
		{ echo "$fault_lo $fault_hi"; return 1; }
	printf '%s ffffffff%08x\n' "$fault_lo" $((0x${fault_hi#ffffffff} + $2))
}

# The size of the longest function of MODULE.ko (nm -S), in hex as
# faults_run's FNMAX takes it, or nothing if nm finds none.
faults_fn_max() {	# MODULE.ko
	nm -S "$1" | awk '$3 ~ /^[tT]$/ { print "0x" $2 }' | sort | tail -n1
}

# The text of MODULE, from one read of kallsyms: its lowest
# function's address to its highest plus FNMAX, the size of its longest
# function (nm -S).
faults_range() {	# MODULE FNMAX
	faults_span "$(awk -v m="[$1]" '$4 == m && $2 ~ /^[tT]$/ {
		a = $1 ""
		if (lo == "" || a < lo)
			lo = a
		if (a > hi)
			hi = a
	} END { print lo, hi }' "$FAULT_KALLSYMS")" "$2"
}

# The kernel's text from function FIRST to the end of function LAST, SIZE
# bytes long (the first and last of an object's .text, debug-kernel.sh's
# DEBUG_DMA_TEXT).
faults_text() {	# FIRST LAST SIZE
	faults_span "$(awk -v f="$1" -v l="$2" '$2 ~ /^[tT]$/ && NF == 3 {
		if ($3 == f)
			lo = $1
		if ($3 == l)
			hi = $1
	} END { print lo, hi }' "$FAULT_KALLSYMS")" "$3"
}

# Fail PERCENT of the allocations with START..END on the stack and none
# with RSTART..REND on it.
faults_on() {	# PERCENT START END RSTART REND
	for fault_a in $FAULT_ATTRS; do
		fault_d=$FAULT_DIR/$fault_a
		echo 0 > "$fault_d/probability" &&
			echo "0x$2" > "$fault_d/require-start" &&
			echo "0x$3" > "$fault_d/require-end" &&
			echo "0x$4" > "$fault_d/reject-start" &&
			echo "0x$5" > "$fault_d/reject-end" &&
			echo 32 > "$fault_d/stacktrace-depth" &&
			echo N > "$fault_d/task-filter" &&
			echo N > "$fault_d/ignore-gfp-wait" &&
			echo 1 > "$fault_d/interval" &&
			echo $FAULT_TIMES > "$fault_d/times" &&
			echo 0 > "$fault_d/space" &&
			echo 0 > "$fault_d/verbose" || return 1
	done
	echo N > "$FAULT_DIR/fail_page_alloc/ignore-gfp-highmem" &&
		echo 0 > "$FAULT_DIR/fail_page_alloc/min-order" || return 1
	echo "$FAULT_MARK on" >> "$FAULT_KMSG"
	for fault_a in $FAULT_ATTRS; do
		echo "$1" > "$FAULT_DIR/$fault_a/probability" || return 1
	done
}

# How many failures each attribute injected since faults_on, as
# "failslab N fail_page_alloc M".
faults_count() {
	fault_c=
	for fault_a in $FAULT_ATTRS; do
		fault_t=$(cat "$FAULT_DIR/$fault_a/times") || return 1
		fault_c="$fault_c${fault_c:+ }$fault_a $((FAULT_TIMES - fault_t))"
	done
	echo "$fault_c"
}

# No more failures, and every knob back to the kernel's default
# (FAULT_ATTR_INITIALIZER, mm/failslab.c, mm/fail_page_alloc.c): every
# one tried, the status 1 if any write failed.  The kernel log's mark
# first, whatever follows: an 'on' with no 'off' after it would excuse
# every later allocation failure (kernel_reports).
faults_off() {
	echo "$FAULT_MARK off" >> "$FAULT_KMSG"
	fault_rc=0
	for fault_a in $FAULT_ATTRS; do
		echo 0 > "$FAULT_DIR/$fault_a/probability" || fault_rc=1
	done
	for fault_a in $FAULT_ATTRS; do
		fault_d=$FAULT_DIR/$fault_a
		for fault_kv in require-start=0 require-end=0xffffffffffffffff \
				reject-start=0 reject-end=0 stacktrace-depth=32 \
				task-filter=N ignore-gfp-wait=Y interval=1 times=1 \
				space=0 verbose=2; do
			echo "${fault_kv#*=}" > "$fault_d/${fault_kv%%=*}" || fault_rc=1
		done
	done
	echo Y > "$FAULT_DIR/fail_page_alloc/ignore-gfp-highmem" || fault_rc=1
	echo 1 > "$FAULT_DIR/fail_page_alloc/min-order" || fault_rc=1
	return $fault_rc
}

# Runs CMD... while PERCENT of the allocations with MODULE's text on the
# stack fail (FNMAX, its longest function: faults_range), none of DMA-API
# debugging's (DMA_TEXT, "FIRST LAST SIZE": faults_text).  Then, as the
# caller's TAP results (its check and not_ok) named for WHO: the set-up
# worked, the kernel failed some allocations, and every knob is back.
faults_run() {	# WHO MODULE FNMAX PERCENT CMD...
	fault_who=$1 fault_mod=$2 fault_len=$3 fault_pct=$4
	shift 4
	fault_range='' fault_dma=''
	# A hex number, or none (nm found no function)
	case "$fault_len" in
	0x | 0x*[!0-9a-fA-F]*) fault_len='' ;;
	0x*) ;;
	*) fault_len='' ;;
	esac
	# shellcheck disable=SC2086 # two words each, DMA_TEXT three
	if [ -z "$fault_len" ] ||
	   ! fault_range=$(faults_range "$fault_mod" "$fault_len") ||
	   ! fault_dma=$(faults_text $DMA_TEXT) ||
	   ! faults_on "$fault_pct" $fault_range $fault_dma; then
		not_ok "$fault_who: debug kernel: fault injection set up (text ${fault_range:-?}, longest ${fault_len:-?}, DMA-API debugging ${fault_dma:-?})"
		check "$fault_who: debug kernel: fault injection off, its knobs at their defaults" \
			faults_off
		return
	fi
	echo "# fault injection: $fault_pct% of the allocations with 0x${fault_range% *}..0x${fault_range#* } on the stack"
	"$@"
	fault_n=$(faults_count)
	# shellcheck disable=SC2086,SC2016 # "failslab N fail_page_alloc M"
	check "$fault_who: debug kernel: the kernel failed allocations of the module (${fault_n:-?})" \
		sh -c '[ $(($2 + $4)) -gt 0 ]' - $fault_n
	check "$fault_who: debug kernel: fault injection off, its knobs at their defaults" \
		faults_off
}
