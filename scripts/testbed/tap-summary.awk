# SPDX-License-Identifier: GPL-2.0
#
# Count TAP results across files.  Lines between "# program: NAME" and
# "# exit: NAME RC" belong to one test program: its results that never came
# (plan larger than the results seen) count as failed, and so does a
# non-zero exit with no failed result; exit 4 (KSFT_SKIP) with no result is
# one skip.  Outside programs, every "ok"/"not ok" line counts once.

function flush_program(rc) {
	if (plan > seen) {
		failed += plan - seen
		failures[++nf] = prog ": " (plan - seen) " result(s) missing of " plan
	}
	if (rc == 4 && seen == 0) {
		skipped++
	} else if (rc != 0 && rc != 4 && pfail == 0) {
		failed++
		failures[++nf] = prog ": exited with status " rc
	}
	inprog = 0
}

{ sub(/\r$/, "") }

/^# program: / { prog = $3; inprog = 1; plan = 0; seen = 0; pfail = 0; next }
/^# exit: /    { if (inprog) flush_program($4 + 0); next }
inprog && /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }

/^(not )?ok( |$)/ {
	if (inprog) seen++
	if ($0 ~ /^not ok/) {
		failed++; pfail++
		failures[++nf] = FILENAME ": " $0
	} else if (toupper($0) ~ /# *SKIP/) {
		skipped++
	} else {
		passed++
	}
}

END {
	if (inprog) {
		failed++
		failures[++nf] = prog ": no exit status (killed or truncated)"
	}
	for (i = 1; i <= nf; i++)
		print "FAILED: " failures[i]
	# The last line is the count CI reads, alone: "N passed, N failed".
	if (skipped)
		print skipped " skipped (counted as neither)"
	print (passed + 0) " passed, " (failed + 0) " failed"
}
