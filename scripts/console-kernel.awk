#!/usr/bin/awk -f
# The kernel's messages of a guest console log, for scripts/ktap-summary.awk:
# every line from a printk time stamp on, also where the message cut into a
# line the guest runner was still sending (the serial port interleaves both),
# each group preceded by "[0.000000] klab: suite NAME", NAME the last suite
# the console had begun ("# Subtest: NAME"). The summary reads the results
# from the runner's own line (run-vm.sh --out) and only the splats from here;
# the pseudo-messages keep each splat blamed on the suite it came during.

{
	sub(/\r$/, "")
}

/^ *# Subtest: / {
	s = $0
	sub(/^ *# Subtest: /, "", s)
	suite = s
	next
}

match($0, /\[ *[0-9]+\.[0-9]+\] /) {
	if (suite != said) {
		printf "[    0.000000] klab: suite %s\n", suite
		said = suite
	}
	print substr($0, RSTART)
}
