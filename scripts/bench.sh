#!/usr/bin/env bash
# make bench: build the lab kernel, the benchmark program bench/kbench.c and
# the initramfs, boot once, run kbench in the guest (progress on this
# terminal), then turn its JSON into a table and plots with the host program
# bench/kbench-report.c (built here with the host gcc; gnuplot draws).
# Results in build/bench/: results.json (raw, per repetition), table.txt,
# summary.json, plot-<source>.svg, console.log (and the kbench-report
# binary).
#
# Environment (make variables):
#   QUICK=1         correctness smoke test (under a minute): small grid, one
#                   repetition; same exactly-once checks
#   BENCH_REPS=N    repetitions (default 3; QUICK 1)
#   BENCH_N=10,100  watched fds per measurement (default 10,100,1000,10000)
#   BENCH_A=1,10    active fds per round (default 1,10,100)
#   BENCH_SRC=pipe,eventfd,unix,tcp   sources of the readiness part
#   BENCH_API=poll,epoll-lt,...       APIs of the readiness part
#   BENCH_PARTS=readiness,writer,registration,herd,timers
#   BENCH_ARGS="..."  more kbench options (kbench -h)
#   BENCH_DOC=1     also rewrite the generated part of docs/performance.md
#                   (and docs/performance/: summary.json, the plots) from this
#                   run
#   BENCH_FROM=FILE no boot: only the report, from a kbench results.json or a
#                   summary.json (make bench BENCH_FROM=docs/performance/summary.json
#                   BENCH_DOC=1 regenerates the document from its kept run)
# Exit status: kbench's (1 if any event was lost, duplicated or empty; the
# report fails the run on such counts too), or the launcher's (124 timeout,
# 125 no status from the guest).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

scripts=$KLAB_ROOT/scripts
out=$KLAB_BUILD/bench
mkdir -p "$out"

# The report program is host C (C11, warning-free), rebuilt every run: it
# takes well under a second, and a broken one must fail before the boot.
report_bin=$out/kbench-report
stage bench "building bench/kbench-report (host)"
run_logged "$KLAB_LOGS/bench-report-build.log" "${HOSTCC:-gcc}" -std=c11 -O2 -Wall -Wextra -Werror \
	-o "$report_bin" "$KLAB_ROOT/bench/kbench-report.c" -lm

# report FILE: table.txt, summary.json, the plots (and the document) from
# FILE; its status is 0, 1 when the exactly-once counts are not all zero, 2
# when it could not report.
report() {
	local cmd=("$report_bin" "$1" --out "$out")
	[ "${BENCH_DOC:-0}" = 1 ] && cmd+=(--doc "$KLAB_ROOT/docs/performance.md")
	"${cmd[@]}"
}

if [ -n "${BENCH_FROM:-}" ]; then
	[ -s "$BENCH_FROM" ] || die "BENCH_FROM=$BENCH_FROM: no such file"
	# summary.json is rewritten, not removed: it may be the input
	rm -f "$out/table.txt" "$out"/plot-*.svg
	report "$BENCH_FROM"
	stage bench "table: $out/table.txt, plots: $out/plot-*.svg (from $BENCH_FROM)"
	exit 0
fi

stage deps "checking packages"
"$scripts/deps.sh"
"$scripts/kernel.sh" build
stage bench "building bench/kbench (static)"
run_logged "$KLAB_LOGS/bench-build.log" make -C "$KLAB_ROOT/bench"
stage rootfs "initramfs with the test programs and kbench"
"$scripts/rootfs.sh"

accel=tcg
kvm_usable && accel=kvm

args=(-A "$accel" -o "$out/results.json")
[ "${QUICK:-0}" = 1 ] && args+=(-q)
[ -n "${BENCH_REPS:-}" ] && args+=(-r "$BENCH_REPS")
[ -n "${BENCH_N:-}" ] && args+=(-n "$BENCH_N")
[ -n "${BENCH_A:-}" ] && args+=(-a "$BENCH_A")
[ -n "${BENCH_SRC:-}" ] && args+=(-s "$BENCH_SRC")
[ -n "${BENCH_API:-}" ] && args+=(-i "$BENCH_API")
[ -n "${BENCH_PARTS:-}" ] && args+=(-p "$BENCH_PARTS")
if [ -n "${BENCH_ARGS:-}" ]; then
	read -r -a extra <<<"$BENCH_ARGS"
	args+=("${extra[@]}")
fi

rm -f "$out/results.json" "$out/table.txt" "$out/summary.json" "$out"/plot-*.svg
limit=${KLAB_GUEST_TIMEOUT:-1500}
stage bench "kbench under ${accel^^} in one boot (console: $out/console.log)"
start=$(date +%s)
set +e
# kbench prints its progress on stderr: the console, on this terminal.
"$scripts/run-vm.sh" --timeout "$limit" --share "$out" --log "$out/console.log" \
	--exec "kbench $(quote "${args[@]}")" 2>&1 |
	grep --line-buffered -E '^kbench|^part|^(readiness|writer|registration|herd|timers) '
rc=${PIPESTATUS[0]}
set -e
stage bench "guest finished in $(($(date +%s) - start))s (exit $rc)"

if [ ! -s "$out/results.json" ]; then
	die "no results from the guest (exit $rc; console: $out/console.log)"
fi
set +e
report "$out/results.json"
report_rc=$?
set -e
case "$report_rc" in
0) ;;
1) [ "$rc" != 0 ] || rc=1 ;;
*) die "bench/kbench-report could not read $out/results.json (exit $report_rc)" ;;
esac
stage bench "table: $out/table.txt, plots: $out/plot-*.svg, raw: $out/results.json"
case "$rc" in
0) ;;
1) echo "bench: FAILED: kbench counted events lost, duplicated or empty (see above)" >&2 ;;
*) echo "bench: FAILED: the guest exited $rc (console: $out/console.log)" >&2 ;;
esac
exit "$rc"
