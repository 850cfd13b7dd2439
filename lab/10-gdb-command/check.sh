#!/usr/bin/env bash
# lab/10-gdb-command's host-side check: a guest under QEMU's gdb stub runs
# 'kevent-demo ring'; check.gdb stops in the demo's queue twice and
# compares the student's kevent-stats with the structure.
set -euo pipefail
root=${LAB_ROOT:?}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
# shellcheck source=scripts/gdb-lib.sh
. "$root/scripts/gdb-lib.sh"
out=$(mktemp -d)
trap 'stop_stub; rm -rf "$out"' EXIT
if ! start_stub "$out/console.log" "$out/qemu.err" "$out/port" --gdb \
	--timeout 300 --exec "kevent-demo ring"; then
	cat "$out/qemu.err" >&2
	die "the guest did not start"
fi
mapfile -d '' args < <(gdb_args)
rc=0
(cd "$root" && timeout -k 5 300 gdb -batch "${args[@]}" \
	-ex "target remote 127.0.0.1:$stub_port" \
	-x lab/10-gdb-command/check.gdb -ex detach) >"$out/gdb.log" 2>&1 || rc=1
sed -n '/^\(ok\|FAIL\|#\) /p' "$out/gdb.log"
grep -E 'Error|error:|Traceback' "$out/gdb.log" | head -n 5 | sed 's/^/# gdb: /' || true
wait "$stub_pid" || true
# gdb -batch exits 0 when a later command (detach) succeeds after a failed
# one: the verdict is check.py's last line, and every check must have run.
if ! grep -qx '# 0 failure(s)' "$out/gdb.log" || [ "$(grep -c '^ok ' "$out/gdb.log")" -ne 3 ]; then
	rc=1
fi
exit "$rc"
