#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, last step: turn the numbers bench_guest (L2, "# bench KEY
# VALUE" lines in its TAP) and importer_bench (L1, "bench host.KEY VALUE"
# lines in its log) printed during one run into a table on stdout and a
# JSON file, computing the ratios side by side.  A timing comes as "KEY N
# MEDIAN MIN MAX MEAN" and becomes KEY.n, KEY.median and so on.  Asserts
# nothing: a number that is missing shows as "-" in the table and is
# absent from the JSON.
#
# Usage: bench-report.sh GUEST_TAP HOST_LOG OUT.json LABEL [KEY=VALUE]...
# (each KEY=VALUE goes into the JSON as run.KEY)

set -uo pipefail
guest=$1 host=$2 out=$3 label=$4
shift 4

mkdir -p "$(dirname "$out")"
{
	tr -d '\r' < "$guest" |
		sed -n '/^# program: bench_guest/,/^# exit: bench_guest/p' |
		sed -n 's/^# bench \([^ ]*\) \(.*\)$/guest.\1 \2/p'
	sed -n 's/^bench host\.\([^ ]*\) \(.*\)$/host.\1 \2/p' "$host"
	for kv in "$@"; do
		echo "run.${kv%%=*} ${kv#*=}"
	done
} | gawk -v out="$out" -v label="$label" -v date="$(date -u +%FT%TZ)" '
# "KEY N MEDIAN MIN MAX MEAN" (a timing) or "KEY VALUE"
$1 !~ /^run\./ && NF == 6 {
	val[$1 ".n"] = $2; val[$1 ".median"] = $3; val[$1 ".min"] = $4
	val[$1 ".max"] = $5; val[$1 ".mean"] = $6
	next
}
$1 !~ /^run\./ && NF == 2 && $2 == "0" && $1 ~ /_ms$/ { val[$1 ".n"] = 0; next }
{ val[$1] = substr($0, length($1) + 2) }

function has(k) { return (k in val) && val[k] != "" }
function num(k) { return has(k) ? val[k] + 0 : 0 }
function ms(k) { return has(k) ? sprintf("%.3f", val[k]) : "-" }
# "median (min)" of a timing
function mm(k) {
	if (!has(k ".median"))
		return "-"
	return sprintf("%s (%s)", ms(k ".median"), ms(k ".min"))
}
function bytes(b) {
	if (b == "")
		return "-"
	if (b >= 1048576)
		return sprintf("%.1f MiB", b / 1048576)
	if (b >= 1024)
		return sprintf("%.1f KiB", b / 1024)
	return sprintf("%d B", b)
}
function ratio(a, b) {
	return (has(a) && has(b) && num(b) > 0) ? sprintf("%.1f", num(a) / num(b)) : ""
}
# Two decimals: the pacing ratios are near 1
function ratio2(a, b) {
	return (has(a) && has(b) && num(b) > 0) ? sprintf("%.2f", num(a) / num(b)) : ""
}
function set(k, v) { if (v != "") val[k] = v }
function row(title, c1, c2, c3,   line) {
	line = sprintf("%-44s %-20s %-20s %s", title, c1, c2, c3)
	sub(/ +$/, "", line)
	print line
}
function rowk(title, fmt, k1, k2,   c, i) {
	for (i = 1; i <= 3; i++)
		c[i] = fmtv(fmt, sprintf(k1 "%s" k2, S[i]))
	row(title, c[1], c[2], c[3])
}
# "RUNS x FRAMES" of a pacing device
function pair(p) {
	return has(p "runs") ? val[p "runs"] " x " val[p "frames_per_run"] : "-"
}
function fmtv(fmt, k) {
	if (fmt == "mm")
		return mm(k)
	if (!has(k))
		return "-"
	if (fmt == "bytes")
		return bytes(val[k])
	if (fmt == "x")
		return val[k] "x"
	return val[k]
}

# JSON: dotted keys become nested objects.
function json_value(v) {
	if (v ~ /^-?[0-9]+(\.[0-9]+)?$/)
		return v
	gsub(/\\/, "\\\\", v)
	gsub(/"/, "\\\"", v)
	return "\"" v "\""
}
function write_json(   n, keys, i, j, p, np, prev, nprev, common, ind) {
	n = asorti(val, keys)
	nprev = 0
	printf "{" > out
	for (i = 1; i <= n; i++) {
		np = split(keys[i], p, ".")
		common = 0
		while (common < nprev && common < np - 1 && prev[common + 1] == p[common + 1])
			common++
		for (j = nprev; j > common; j--)
			printf "\n%*s}", 2 * j, "" > out
		if (i > 1)
			printf "," > out
		for (j = common + 1; j < np; j++)
			printf "\n%*s\"%s\": {", 2 * j, "", p[j] > out
		printf "\n%*s\"%s\": %s", 2 * np, "", p[np], json_value(val[keys[i]]) > out
		# the open objects are p[1..np-1]
		for (j = 1; j < np; j++)
			prev[j] = p[j]
		nprev = np - 1
	}
	for (j = nprev; j > 0; j--)
		printf "\n%*s}", 2 * j, "" > out
	printf "\n}\n" > out
	close(out)
}

END {
	S[1] = "1080p"; S[2] = "4k"; S[3] = "8k"
	val["run.label"] = label
	val["run.date"] = date
	for (i = 1; i <= 3; i++) {
		s = S[i]
		copy = "guest.copy." s ".frame_ms.median"
		set("ratio." s ".copy_vs_zero_copy_first_use",
		    ratio(copy, "guest.zc." s ".cycle_ms.median"))
		set("ratio." s ".copy_vs_steady_state",
		    ratio(copy, "guest.steady." s ".present_to_frame_done_ms.median"))
		set("ratio." s ".steady_state_vs_floor",
		    ratio("guest.steady." s ".present_to_frame_done_ms.median",
			  "guest.floor." s ".vsock_rtt_ms.median"))
		set("ratio." s ".flat_pfn_vs_export_wire",
		    ratio("guest.size." s ".flat_pfn_bytes", "guest.zc." s ".wire_bytes.max"))
		if (has(copy) && num(copy) > 0)
			val["derived." s ".copy_mb_per_s"] = sprintf("%.1f",
				num("guest.size." s ".bytes") / num(copy) / 1000)
		if (has("guest.size." s ".pages"))
			val["derived." s ".host_page_array_bytes"] = \
				num("guest.size." s ".pages") * 8
		if (has("guest.zc." s ".nr_ranges.min"))
			val["derived." s ".ranges"] = val["guest.zc." s ".nr_ranges.min"] \
				(val["guest.zc." s ".nr_ranges.max"] != val["guest.zc." s ".nr_ranges.min"] ?
				 "-" val["guest.zc." s ".nr_ranges.max"] : "")
	}

	# FRAME_DONE pacing: the device with the QEMU display against the one
	# without, frame by frame (bench_guest -p).
	P1 = "guest.pacing.no_display."; P2 = "guest.pacing.display."
	t = "present_to_frame_done_ms"
	set("ratio.pacing.display_vs_no_display.median",
	    ratio2(P2 t ".median", P1 t ".median"))
	set("ratio.pacing.display_vs_no_display.mean",
	    ratio2(P2 t ".mean", P1 t ".mean"))
	set("ratio.pacing.display_vs_no_display.p95",
	    ratio2(P2 "present_to_frame_done_p95_ms", P1 "present_to_frame_done_p95_ms"))
	set("ratio.pacing.display_vs_no_display.frames_per_s",
	    ratio2(P2 "frames_per_s", P1 "frames_per_s"))

	print label
	print "Times in ms: median (min). Ratios use medians. Compare within this run only."
	print ""
	row("", S[1], S[2], S[3])
	rowk("frame size", "bytes", "guest.size.", ".bytes")
	print "zero copy, first use of a buffer"
	rowk("  cycles", "", "guest.zc.", ".cycle_ms.n")
	rowk("  ALLOC in the guest (not in the cycle)", "mm", "guest.zc.", ".alloc_ms")
	rowk("  EXPORT ioctl (host translates, pins)", "mm", "guest.zc.", ".export_ms")
	rowk("  EXPORT start -> FRAME_DONE", "mm", "guest.zc.", ".export_to_frame_done_ms")
	rowk("  UNEXPORT start -> RELEASED", "mm", "guest.zc.", ".unexport_to_released_ms")
	rowk("  whole cycle EXPORT -> RELEASED", "mm", "guest.zc.", ".cycle_ms")
	rowk("  host: IMPORT ioctl", "mm", "host.zc.", ".import_ms")
	rowk("  host: mmap", "mm", "host.zc.", ".mmap_ms")
	rowk("  host: read 8 bytes of every page", "mm", "host.zc.", ".touch_ms")
	rowk("  host: munmap + close", "mm", "host.zc.", ".close_ms")
	print "steady state, buffer exported once"
	rowk("  frames", "", "guest.steady.", ".present_to_frame_done_ms.n")
	rowk("  PRESENT -> FRAME_DONE", "mm", "guest.steady.", ".present_to_frame_done_ms")
	rowk("  PRESENT ioctl alone", "mm", "guest.steady.", ".present_ioctl_ms")
	print "floor: one-byte round trip over virtio-vsock, next to each PRESENT"
	rowk("  round trips", "", "guest.floor.", ".vsock_rtt_ms.n")
	rowk("  byte sent -> echo back from host process", "mm", "guest.floor.", ".vsock_rtt_ms")
	print "copy: the same bytes over virtio-vsock"
	rowk("  frames", "", "guest.copy.", ".frame_ms.n")
	rowk("  frame sent -> host has it all, acked", "mm", "guest.copy.", ".frame_ms")
	rowk("  MB/s", "", "derived.", ".copy_mb_per_s")
	rowk("  host: first byte -> last byte", "mm", "host.copy.", ".recv_ms")
	print "ratios"
	rowk("  copy / zero-copy first use", "x", "ratio.", ".copy_vs_zero_copy_first_use")
	rowk("  copy / zero-copy steady state", "x", "ratio.", ".copy_vs_steady_state")
	rowk("  steady state / floor", "x", "ratio.", ".steady_state_vs_floor")
	print "wire bytes per EXPORT"
	rowk("  ranges", "", "derived.", ".ranges")
	rowk("  EXPORT message (most ranges)", "", "guest.zc.", ".wire_bytes.max")
	rowk("  flat PFN list, 8 bytes a page", "", "guest.size.", ".flat_pfn_bytes")
	rowk("  flat PFN list / EXPORT", "x", "ratio.", ".flat_pfn_vs_export_wire")
	print "host memory per export"
	rowk("  pinned guest RAM (VMM VmPin delta)", "bytes", "host.zc.", ".vmpin_delta_bytes.max")
	rowk("  new: page array, 8 B a page (computed)", "bytes", "derived.", ".host_page_array_bytes")
	rowk("  copy instead: host frame buffer", "bytes", "host.copy.", ".buffer_bytes")
	print ""
	R = "ratio.pacing.display_vs_no_display."
	row("FRAME_DONE pacing, 1080p XR24, one frame", "no display", "display=on", "display / no display")
	row("in flight, runs alternating A B B A", "", "", "")
	row("  runs x frames", pair(P1), pair(P2), "")
	row("  frames timed", fmtv("", P1 t ".n"), fmtv("", P2 t ".n"), "")
	row("  PRESENT -> FRAME_DONE median (min)", mm(P1 t), mm(P2 t), fmtv("x", R "median"))
	row("  PRESENT -> FRAME_DONE mean", ms(P1 t ".mean"), ms(P2 t ".mean"), fmtv("x", R "mean"))
	row("  PRESENT -> FRAME_DONE p95", ms(P1 "present_to_frame_done_p95_ms"),
	    ms(P2 "present_to_frame_done_p95_ms"), fmtv("x", R "p95"))
	row("  frames/s", fmtv("", P1 "frames_per_s"), fmtv("", P2 "frames_per_s"),
	    fmtv("x", R "frames_per_s"))
	row("  host: frames importer_bench answered", fmtv("", "host.pacing.no_display.frames_acked"),
	    fmtv("", "host.pacing.display.frames_acked"), "")
	write_json()
}'
