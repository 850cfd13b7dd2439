#!/usr/bin/env bash
# make bench-server: the event-driven TCP server of issue 15
# (bench/kserver.c) on kevent and on epoll, under the same loopback load in
# one boot, then the accept herd (SOCKET WAKEUP_ONE against POLL on one
# listening socket). Prints requests/s, syscalls per request and wake-ups
# per connection; the output is kept in build/bench/kserver.txt.
#
# Environment (make variables):
#   SERVER_ARGS="..."  kserver options (default: 400 connections x 50
#                      requests, 20 idle connections, 4 acceptors x 50
#                      connections; kserver -h lists them)
#   BENCH_DOC=1        keep this run in docs/performance/kserver.txt and
#                      rewrite the generated section of
#                      docs/performance-server.md from it
#                      (scripts/kserver-report.awk; make test checks that
#                      the section is what the kept run gives)
# Exit status: kserver's (1 if a response was wrong or missing, or an idle
# connection was not closed), or the launcher's (124 timeout, 125 no
# status from the guest).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

scripts=$KLAB_ROOT/scripts
out=$KLAB_BUILD/bench
mkdir -p "$out"

"$scripts/deps.sh"
"$scripts/kernel.sh" build
stage bench "building bench/kserver (static)"
run_logged "$KLAB_LOGS/bench-build.log" make -C "$KLAB_ROOT/bench"
"$scripts/rootfs.sh"

args=()
if [ -n "${SERVER_ARGS:-}" ]; then
	read -r -a args <<<"$SERVER_ARGS"
fi
limit=${KLAB_GUEST_TIMEOUT:-900}
stage bench "kserver in one boot (console: $out/kserver-console.log)"
set +e
"$scripts/run-vm.sh" --timeout "$limit" --log "$out/kserver-console.log" \
	--exec "kserver $(quote "${args[@]}")" 2>&1 |
	grep --line-buffered -E '^(server|herd|kserver)' | tee "$out/kserver.txt"
rc=${PIPESTATUS[0]}
set -e
stage bench "results: $out/kserver.txt (exit $rc)"
awk -f "$scripts/kserver-report.awk" "$out/kserver.txt" >"$out/kserver.md"
if [ "${BENCH_DOC:-0}" = 1 ]; then
	[ "$rc" = 0 ] || die "not kept in the documents: kserver failed (exit $rc)"
	cp "$out/kserver.txt" "$KLAB_ROOT/docs/performance/kserver.txt"
	doc_replace_section "$KLAB_ROOT/docs/performance-server.md" \
		"$KSERVER_DOC_BEGIN" "$KSERVER_DOC_END" "$out/kserver.md"
	stage bench "rewrote the generated section of docs/performance-server.md"
fi
exit "$rc"
