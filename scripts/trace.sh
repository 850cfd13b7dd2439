#!/usr/bin/env bash
# make trace: boot the lab kernel once, run kevent scenarios in it with
# kevent's tracepoints enabled (rootfs/bin/klab-trace, tracefs), and print
# each scenario's timeline on the host (docs/trace.md explains one).
#
#   scripts/trace.sh [--raw] SCENARIO...  print the timelines (make trace S=...)
#   scripts/trace.sh --list               the scenarios
#   scripts/trace.sh --docs               rewrite docs/trace.md's timelines
#                                         from a run (make trace-docs)
#   scripts/trace.sh --check              run the scenarios of docs/trace.md
#                                         and compare (KTAP; make test), and
#                                         check that no disabled tracepoint
#                                         is an out-of-line call
#
# A scenario is a mode of kevent-demo (gdb/guest/kevent-demo.c); to add
# one, add the mode there and its name to the list below. A timeline line:
#
#   TIME_US CPU CTX TASK-PID EVENT FIELDS
#
# TIME_US counts microseconds from the scenario's first event, CTX is
# task, irq or softirq (from ftrace's flags column), FIELDS are the
# event's own (include/trace/events/kevent.h). --raw prints ftrace's
# lines as tracefs gives them. Outputs: $KLAB_BUILD/results/trace/
# (console.log, SCENARIO.raw, SCENARIO.txt).
#
# In docs/trace.md a timeline is a fenced block between
#   <!-- timeline SCENARIO [unordered] -->   and   <!-- end timeline -->
# The check compares page and run after replacing what changes from run
# to run (times, CPUs, pids, the task an interrupt landed on, a timer's
# expiry data); "unordered" compares the lines as sets (threads of the
# herd race to print).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

scenarios="timer pipe user herd ring-wrap last-check level error"
doc=$KLAB_ROOT/docs/trace.md
out=$KLAB_BUILD/results/trace

# timeline: ftrace lines on stdin, the timeline on stdout.
timeline() {
	awk '
	{
		for (i = 2; i <= NF && $i !~ /^\[[0-9]+\]$/; i++)
			;
		if (i + 3 > NF || $(i + 3) !~ /^kevent_[a-z_]+:$/)
			next
		task = $1
		for (j = 2; j < i; j++)
			task = task " " $j
		cpu = substr($i, 2, length($i) - 2) + 0
		t = substr($(i + 2), 1, length($(i + 2)) - 1) * 1000000
		ev = substr($(i + 3), 1, length($(i + 3)) - 1)
		fields = substr($0, index($0, " " ev ": ") + length(ev) + 3)
		if (!n++)
			t0 = t
		c = substr($(i + 1), 3, 1)
		ctx = c == "h" || c == "H" ? "irq" : c == "s" ? "softirq" : "task"
		printf "%8d  %d  %-7s %-18s %-22s %s\n", t - t0 + 0.5, cpu, ctx,
			task, ev, fields
	}'
}

# normalise: what differs between two runs of one scenario, replaced.
normalise() {
	sed -E \
		-e 's/^ *[0-9]+  [0-9]+  /T  C  /' \
		-e 's/^(T  C  (irq|softirq) +)[^ ]+/\1*/' \
		-e 's/-[0-9]+( +kevent_)/-N\1/' \
		-e 's/pid=[0-9]+/pid=N/g' \
		-e '/ TIMER /s/mask=0x[0-9a-f]+/mask=X/; / TIMER /s/ret_data=\{0x[0-9a-f]+/ret_data={X/' \
		-e 's/ +/ /g'
}

# run SCENARIO...: one boot; OUT/SCENARIO.raw and .txt for each.
run() {
	local s status=0
	mkdir -p "$out"
	stage trace "booting the lab kernel: klab-trace $* (console: $out/console.log)"
	# The timelines come from klab-trace's own line (--out), where no
	# kernel message can cut one as on the console.
	"$KLAB_ROOT/scripts/run-vm.sh" --timeout 300 --log "$out/console.log" --out "$out/out.log" \
		--exec "klab-trace $*" >/dev/null 2>&1 || status=$?
	for s in "$@"; do
		awk -v s="$s" '$0 == "klab-trace: begin " s { on = 1; next }
			on && index($0, "klab-trace: end " s " ") == 1 { exit }
			on' "$out/out.log" >"$out/$s.raw"
		timeline <"$out/$s.raw" >"$out/$s.txt"
		if ! grep -q "^klab-trace: end $s status 0$" "$out/out.log"; then
			echo "trace: scenario $s did not end well (exit $status): see $out/console.log" >&2
			status=1
		fi
	done
	return "$status"
}

known() {
	case " $scenarios " in
	*" $1 "*) ;;
	*) die "unknown scenario '$1': the scenarios are $scenarios" ;;
	esac
}

# The scenarios docs/trace.md shows, with their options.
doc_specs() {
	sed -nE 's/^<!-- timeline (.*) -->$/\1/p' "$doc"
}

# rewrite_doc: docs/trace.md with each timeline block from $out.
rewrite_doc() {
	local tmp line s
	tmp=$(mktemp)
	local in_block=0
	while IFS= read -r line; do
		if [ "$in_block" = 1 ]; then
			# the block and its end marker are written already
			[ "$line" = "<!-- end timeline -->" ] && in_block=0
			continue
		fi
		printf '%s\n' "$line" >>"$tmp"
		if [[ "$line" =~ ^'<!-- timeline '([a-z-]+)(' '.*)?' -->'$ ]]; then
			s=${BASH_REMATCH[1]}
			{ echo '```'; cat "$out/$s.txt"; echo '```'; echo '<!-- end timeline -->'; } >>"$tmp"
			in_block=1
		fi
	done <"$doc"
	if cmp -s "$tmp" "$doc"; then
		stage docs "docs/trace.md: unchanged"
	else
		cp "$tmp" "$doc"
		stage docs "docs/trace.md: timelines rewritten from $out"
	fi
	rm -f "$tmp"
}

# check_doc: one KTAP result per timeline of docs/trace.md.
check_doc() {
	local s opt n failed=0 a b
	a=$(mktemp)
	b=$(mktemp)
	echo "KTAP version 1"
	echo "1..$(($(doc_specs | wc -l) + 1))"
	echo "# Subtest: host_trace"
	# A disabled tracepoint must stay an inline test of its key in the
	# delivery path (docs/trace.md): no call to an out-of-line trace_*
	# function, which -Os makes of one called from two places. Only
	# kevent_error, called after a failed call, may be one.
	local o calls=""
	n=1
	for o in core deliver ring syscalls; do
		calls+=$(objdump -d "$KLAB_OBJ/kevent/$o.o" 2>&1 |
			grep -E 'call .*<trace_kevent_|objdump:' | grep -v '<trace_kevent_error' |
			sed "s|^|$o.o: |" || true)
	done
	if [ -z "$calls" ]; then
		echo "ok 1 disabled_tracepoints_inline_in_kevent_objects"
	else
		echo "# out-of-line tracepoint calls in $KLAB_OBJ/kevent:"
		head -n 5 <<<"$calls" | sed 's/^/#   /'
		echo "not ok 1 disabled_tracepoints_inline_in_kevent_objects"
		failed=1
	fi
	while read -r s opt; do
		n=$((n + 1))
		awk -v s="$s" '
			/^<!-- timeline / { on = ($3 == s); next }
			on && /^<!-- end timeline -->$/ { exit }
			on && !/^```$/' "$doc" | normalise >"$a"
		normalise <"$out/$s.txt" >"$b"
		if [ "$opt" = unordered ]; then
			sort -o "$a" "$a"
			sort -o "$b" "$b"
		fi
		if [ -s "$b" ] && cmp -s "$a" "$b"; then
			echo "ok $n make_trace_${s//-/_}_matches_docs_trace_md"
		else
			echo "# make trace S=$s differs from docs/trace.md (< page, > run; $out/$s.txt):"
			diff "$a" "$b" | grep '^[<>]' | head -n 8 | sed 's/^/#   /' || true
			echo "not ok $n make_trace_${s//-/_}_matches_docs_trace_md"
			failed=$((failed + 1))
		fi
	done < <(doc_specs)
	rm -f "$a" "$b"
	[ "$failed" = 0 ]
}

raw=0
case "${1:-}" in
--list) echo "$scenarios"; exit 0 ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
--docs)
	# shellcheck disable=SC2046 # one word per scenario
	run $(doc_specs | cut -d' ' -f1) || die "a scenario failed: docs/trace.md left alone"
	rewrite_doc
	exit 0
	;;
--check)
	# shellcheck disable=SC2046
	run $(doc_specs | cut -d' ' -f1) >/dev/null 2>&1 || true
	check_doc
	exit
	;;
--raw) raw=1; shift ;;
-*) die "unknown option: $1 (see --help)" ;;
esac
[ $# -ge 1 ] || set -- timer
for s in "$@"; do
	known "$s"
done
status=0
run "$@" || status=$?
for s in "$@"; do
	echo "=== make trace S=$s (kevent-demo $s; raw: $out/$s.raw)"
	if [ "$raw" = 1 ]; then
		cat "$out/$s.raw"
	else
		printf '%8s  %s  %-7s %-18s %-22s %s\n' TIME_US C CTX TASK-PID EVENT FIELDS
		cat "$out/$s.txt"
	fi
done
exit "$status"
