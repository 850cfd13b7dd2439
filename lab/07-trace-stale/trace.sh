#!/bin/sh
# lab/07-trace-stale: run a command and print, one per line in hex
# (0x7003), the user data of every kevent that a dequeue found no longer
# ready and dropped ("stale"), as the kernel saw it. Runs in the guest
# (busybox sh), as root:
#
#   sh trace.sh ./workload 42
#
# Only tracefs: no GDB, no kernel rebuild. See README.md.
set -eu

T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T"

# LAB(07) begin: a kprobe event on the function that drops a stale kevent
# kevent_dequeue_ready() hands a stale kevent to kevent_drop_inflight(k);
# on x86_64 its first argument is in %di. The user data is
# k->event.user_u64, at offset 88 of struct kevent (found with
#   gdb -batch -ex 'ptype /o struct kevent' build/obj-lab/vmlinux).
echo 'p:lab/stale kevent_drop_inflight user=+88(%di):x64' >>"$T/kprobe_events"
: >"$T/trace"
echo 1 >"$T/events/lab/stale/enable"
status=0
"$@" >/dev/null || status=$?
echo 0 >"$T/events/lab/stale/enable"
sed -n 's/.* user=\(0x[0-9a-f]*\).*/\1/p' "$T/trace"
echo '-:lab/stale' >>"$T/kprobe_events"
exit "$status"
# LAB(07) end
# shellcheck disable=SC2317 # reached in the starting point only
{
	echo "trace.sh: not written yet" >&2
	exit 1
}
