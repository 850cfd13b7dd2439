#!/usr/bin/env bash
# Host-side checks of the launcher, printed as KTAP: each one boots the lab
# kernel through scripts/run-vm.sh and checks what a user relies on; then
# make trace's checks (host_trace, scripts/trace.sh --check).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

run_vm=$KLAB_ROOT/scripts/run-vm.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
failed=0

# check NAME EXPECTED_RC [GREP_PATTERN] -- run-vm.sh ARGS...
check() {
	local name=$1 want_rc=$2 pattern=$3 rc
	shift 4
	n=$((n + 1))
	set +e
	"$run_vm" "$@" >"$work/out" 2>&1
	rc=$?
	set -e
	local ok=1
	if [ "$want_rc" = nonzero ]; then
		[ "$rc" != 0 ] || ok=0
	elif [ "$rc" != "$want_rc" ]; then
		ok=0
	fi
	if [ -n "$pattern" ] && ! tr -d '\r' <"$work/out" | grep -qE "$pattern"; then
		ok=0
		echo "# output does not match /$pattern/"
	fi
	if [ "$ok" = 1 ]; then
		echo "ok $n $name"
	else
		echo "# run-vm.sh $* exited $rc, expected $want_rc; last lines:"
		tail -n 5 "$work/out" | tr -d '\r' | sed 's/^/#   /'
		echo "not ok $n $name"
		failed=$((failed + 1))
	fi
}

# A static program built on the host, run from a --share directory.
cat >"$work/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { puts("hello from the host share"); return 3; }
EOF
gcc -static -O2 -o "$work/hello" "$work/hello.c"

echo "KTAP version 1"
echo "1..6"
echo "# Subtest: host_run_vm"
check exec_true_exits_0 0 "" -- --exec true --timeout 120
check exec_false_exits_nonzero nonzero "" -- --exec false --timeout 120
check exec_status_is_passed_through 7 "" -- --exec 'exit 7' --timeout 120
check exec_uname_is_6_12 0 '^6\.12\.[0-9]+' -- --exec 'uname -r' --timeout 120
check share_runs_host_binary 3 'hello from the host share' -- \
	--share "$work" --exec "$work/hello" --timeout 120
check hung_guest_times_out 124 'timed out' -- --exec "sleep 100000" --timeout 15

# make trace: the timelines of docs/trace.md against a run, and every
# disabled tracepoint an inline test (scripts/trace.sh --check, one boot).
# The page shows the lab kernel under QEMU: UML and the debug kernel
# differ in interrupt contexts and inlining.
if [ "$KLAB_BACKEND" = qemu ] && [ "$KLAB_VARIANT" = lab ]; then
	"$KLAB_ROOT/scripts/trace.sh" --check || failed=$((failed + 1))
fi
[ "$failed" = 0 ]
