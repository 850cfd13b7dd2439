#!/usr/bin/env bash
# lab/01-ring-consumer's host-side check: build consumer.c with the checker
# (static, the lab's warning flags) and run it in the guest. No kernel
# rebuild: the checker runs on whatever kernel the tree builds.
set -euo pipefail
root=${LAB_ROOT:?}
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
ex=$root/lab/${LAB_EX:?}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -Werror as for every program of the lab: a warning is a failure.
if ! gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -static -pthread \
	-I"$root/kernel/include/uapi" -I"$root/tests/lib" -I"$ex" \
	-o "$out/check" "$ex/check.c" "$ex/consumer.c"; then
	echo "FAIL consumer.c does not compile"
	exit 1
fi
echo "ok   consumer.c compiles with -Wall -Wextra -Werror"
# A seed of the day: nothing can be tuned to one fixed sequence.
guest_check "$out" "$out/check $(date +%j)"
