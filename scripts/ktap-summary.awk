#!/usr/bin/awk -f
# Summarise lab console logs: count the leaf results of every KTAP document
# (guest suites, KUnit suites, host checks), print each failure with its
# diagnostics, treat kernel splats and missing results as failures, and end
# with the plain line "N passed, N failed, N skipped".
#
# Exit status: 0 when nothing failed and at least one test ran, 1 otherwise.
#
# A result line is a leaf (a real test) unless KTAP lines deeper than it
# appeared since the previous result at its depth (then it is a suite's
# verdict, already counted through its children).

function depth(line,    n) {
	n = match(line, /[^ ]/) - 1
	return int(n / 4)
}

function fail(msg) {
	failed++
	failures[failed] = msg
}

function reset_doc() {
	for (d in deeper) delete deeper[d]
	for (d in diag) delete diag[d]
	for (d in subtest) delete subtest[d]
	for (d in results) delete results[d]
	for (d in plan) delete plan[d]
}

function check_plan(doc_name) {
	if (in_doc && (0 in plan) && results[0] < plan[0])
		fail(sprintf("%s: %d of %d top-level results missing (guest died or timed out?)",
			     doc_name, plan[0] - results[0], plan[0]))
}

BEGIN {
	passed = failed = skipped = 0
	in_doc = 0
	marker = "(boot)"
	splat_re = "(BUG:|WARNING:|Oops|Kernel panic|KASAN:|UBSAN:|kmemleak:|" \
		   "possible circular locking|possible recursive locking|" \
		   "inconsistent lock state|INFO: task .* blocked|rcu.*stall|" \
		   "general protection fault|Unable to handle kernel|" \
		   "unreferenced object|ODEBUG:|list_(add|del) corruption)"
	if (extra != "")
		fail(extra)
}

{
	sub(/\r$/, "")
	line = $0
}

# Kernel messages (printk time stamp): test markers and splats.
line ~ /^\[ *[0-9]+\.[0-9]+\] / {
	msg = line
	sub(/^\[ *[0-9]+\.[0-9]+\] /, "", msg)
	if (msg ~ /^klab: (test|suite) /) {
		marker = msg
		sub(/^klab: (test|suite) /, "", marker)
		next
	}
	if (msg ~ splat_re && msg !~ /^klab: /) {
		fail(sprintf("kernel: %s (during %s)", msg, marker))
		trace_left = 25
		trace_idx = failed
		next
	}
	if (trace_left > 0) {
		failures[trace_idx] = failures[trace_idx] "\n      " msg
		trace_left--
	}
	next
}

/^KTAP version 1$/ {
	check_plan(doc_name)
	reset_doc()
	in_doc = 1
	doc_name = "document " ++ndocs
	next
}

!in_doc { next }

/^ *KTAP version/ { next }

/^ *1\.\.[0-9]+/ {
	d = depth(line)
	s = line
	sub(/^ *1\.\./, "", s)
	plan[d] = s + 0
	for (k = 0; k < d; k++)
		deeper[k] = 1
	next
}

/^ *# Subtest: / {
	d = depth(line)
	s = line
	sub(/^ *# Subtest: /, "", s)
	subtest[d] = s
	# A kernel splat from here on is blamed on this suite: the console
	# carries KTAP, not the kernel log's per-test markers (a printk on the
	# console would cut the KTAP lines the serial port is sending).
	marker = s " (before its first result)"
	if (d == 1 && doc_name ~ /^document /)
		doc_name = "guest"
	next
}

/^ *#/ {
	d = depth(line)
	s = line
	sub(/^ *# ?/, "", s)
	diag[d] = diag[d] "\n      " s
	next
}

/^ *(not )?ok [0-9]+/ {
	d = depth(line)
	results[d]++
	for (k = 0; k < d; k++)
		deeper[k] = 1
	ok = (line !~ /^ *not ok/)
	name = line
	sub(/^ *(not )?ok [0-9]+ *(- )?/, "", name)
	skip = (name ~ /# *[Ss][Kk][Ii][Pp]/)
	sub(/ *#.*$/, "", name)
	full = (d in subtest) ? subtest[d] "." name : name
	if (d in subtest)
		marker = subtest[d] " (after " name ")"
	if (deeper[d]) {
		# A suite's own verdict: its tests were counted one by one, but a
		# suite that failed with no failing test (crash, timeout) counts.
		if (!ok && !child_failed[d + 1])
			fail(full ": suite failed" diag[d + 1] diag[d])
		# A result line lost (cut on the console, or never printed)
		# must not pass as a suite with one test fewer.
		if ((d + 1) in plan && results[d + 1] < plan[d + 1])
			fail(sprintf("%s: %d of %d results missing", full,
				     plan[d + 1] - results[d + 1], plan[d + 1]))
		child_failed[d + 1] = 0
		delete deeper[d]
		delete plan[d + 1]
		results[d + 1] = 0
		diag[d] = ""
		diag[d + 1] = ""
		if (!ok)
			child_failed[d] = 1
		next
	}
	if (skip)
		skipped++
	else if (ok)
		passed++
	else {
		# Concatenation, not sprintf(): mawk's sprintf() has an 8 KiB
		# buffer, and a failing test's diagnostics can be longer.
		fail(full diag[d])
		child_failed[d] = 1
	}
	diag[d] = ""
	next
}

END {
	check_plan(doc_name)
	# The runner exits 1 only when a suite failed; that failure must show.
	if (runner_rc == 1 && failed == 0)
		fail("guest runner reported a failure that no result shows")
	for (i = 1; i <= failed; i++)
		printf("FAIL %s\n", failures[i])
	if (passed + failed == 0)
		printf("FAIL no test result found\n")
	printf("%d passed, %d failed", passed, failed + (passed + failed == 0))
	if (skipped)
		printf(", %d skipped", skipped)
	printf("\n")
	exit (failed || passed == 0) ? 1 : 0
}
