#!/usr/bin/env bash
# lab/07-trace-stale's host-side check: build the workload, run the
# student's trace.sh around it in the guest with a fresh seed, and compare
# what it printed with the kevents the workload made stale.
set -euo pipefail
root=${LAB_ROOT:?}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
ex=$root/lab/${LAB_EX:?}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static \
	-I"$root/kernel/include/uapi" -I"$root/tests/lib" -o "$out/workload" "$ex/workload.c"
cp "$ex/trace.sh" "$out/trace.sh"
seed=$(( $(date +%s) % 100000 ))
# In the guest: the truth goes to /tmp (not the script's business), the
# script's output is compared as a set.
guest="cd /tmp && sh $out/trace.sh $out/workload $seed /tmp/truth >/tmp/got 2>/tmp/err; rc=\$?;
sort -u /tmp/got >/tmp/got.s; sort -u /tmp/truth >/tmp/truth.s;
echo \"# seed $seed: \$(wc -l </tmp/truth.s) stale kevents, trace.sh printed \$(wc -l </tmp/got) line(s), exit \$rc\";
sed 's/^/# trace.sh: /' /tmp/err | head -n 5;
if [ \$rc = 0 ] && [ -s /tmp/truth.s ] && cmp -s /tmp/got.s /tmp/truth.s; then echo 'ok   trace.sh prints exactly the stale kevents'; exit 0; fi;
echo 'FAIL trace.sh does not print exactly the stale kevents'; diff /tmp/truth.s /tmp/got.s | head -n 8 | sed 's/^/# /'; exit 1"
guest_check "$out" "$guest"
