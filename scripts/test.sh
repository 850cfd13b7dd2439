#!/usr/bin/env bash
# make test: install what is missing, build the kernel and the initramfs,
# check the launcher from the host, boot the guest and run every suite in it,
# then print each failure and the closing line "N passed, N failed".
#
# Environment:
#   T="suite ..."   run only these guest suites ("kunit" = the KUnit results)
#   SKIP_SUITES="suite ..."  leave these guest suites out (commas or spaces);
#                   each is reported "ok N suite # SKIP left out of this run"
#   HOST=0          skip the host-side checks (make variables, run-vm.sh,
#                   documents, GDB, drgn)
#   V=1             show the guest console while it runs (ours only: the
#                   kernel build never sees it, see scripts/kernel.sh)
#   DEBUG=1         use the debug kernel variant
#   FAILFAST=1      end at the first failed test (the suites after it are
#                   reported not run): to prove quickly that something fails
#   KLAB_APPEND=ARGS  extra kernel command line (scripts/lab.sh: an
#                   exercise's lab.conf "append")
#   KLAB_GUEST_TIMEOUT=S  end the guest after S seconds (default 1800,
#                   3600 for the debug kernel)
#   BACKEND=uml     build and boot the User-Mode Linux kernel instead of
#                   QEMU's (the same suites; those needing 2 CPUs skip)
#   ROOTFS=debian   boot the Debian image instead of the busybox initramfs
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

scripts=$KLAB_ROOT/scripts
# Each run writes into a private directory, so that two make test at once
# (two variants, or two developers on one build directory) never read each
# other's files; the logs are published to build/results/ at the end.
published=$KLAB_BUILD/results
mkdir -p "$published"
results=$(mktemp -d "$published/run.XXXXXX")
publish() {
	local f
	for f in "$results"/*; do
		[ -e "$f" ] && mv -f "$f" "$published/"
	done
	rmdir "$results" 2>/dev/null || true
}
trap publish EXIT
console=$results/console-$KLAB_VARIANT.log
# The guest runner's output alone (run-vm.sh --out): the KTAP is read from
# here, the kernel's messages (splats) from the console.
ktap=$results/ktap-$KLAB_VARIANT.log
checks_ktap=$results/checks-$KLAB_VARIANT.ktap
host_ktap=$results/host-$KLAB_VARIANT.ktap
gdb_ktap=$results/gdb-$KLAB_VARIANT.ktap
drgn_ktap=$results/drgn-$KLAB_VARIANT.ktap

stage deps "checking packages"
"$scripts/deps.sh"
"$scripts/kernel.sh" build
# libevent's regress for the libevent_* suites (docs/libevent.md): built
# only when an input changed (about a minute cold, nothing warm), and only
# when those suites are selected.
case " ${T:-libevent} " in
*" libevent"*) "$scripts/libevent.sh" build ;;
esac
if [ "$KLAB_ROOTFS" = debian ]; then
	stage rootfs "Debian image with the test programs"
else
	stage rootfs "initramfs with the test programs"
fi
"$scripts/rootfs.sh"

if [ "$KLAB_BACKEND" = uml ]; then
	accel=uml
else
	accel=tcg
	kvm_usable && accel=kvm
fi

: >"$checks_ktap"
: >"$host_ktap"
if [ "${HOST:-1}" != 0 ]; then
	# No guest, a second or two: make variables, run-vm.sh --dry-run,
	# links of the documents.
	stage checks "make variables, run-vm.sh options, document links"
	"$scripts/host-checks.sh" >"$checks_ktap" || true
	if ! grep -q '^KTAP version 1' "$checks_ktap"; then
		printf 'KTAP version 1\n1..1\n# scripts/host-checks.sh printed no results\nnot ok 1 host_checks.ran\n' >"$checks_ktap"
	fi
	stage host "checking run-vm.sh (${accel^^})"
	"$scripts/host-tests.sh" >"$host_ktap" || true
fi
# run_tool_checks NAME KTAP: scripts/NAME-tests.sh, its transcripts in
# $results/NAME-<variant> and then published to build/results/; its KTAP
# into KTAP ("not ok host_NAME.ran" if the script printed none).
run_tool_checks() {
	local name=$1 ktap=$2 dir=$1-$KLAB_VARIANT
	"$scripts/$name-tests.sh" "$results/$dir" |
		sed "s|$results/$name-|$published/$name-|g" >"$ktap" || true
	if ! grep -q '^KTAP version 1' "$ktap"; then
		printf 'KTAP version 1\n1..1\n# scripts/%s-tests.sh printed no results\nnot ok 1 host_%s.ran\n' \
			"$name" "$name" >"$ktap"
	fi
	if [ -d "$results/$dir" ]; then
		rm -rf "${published:?}/$dir"
		mv "$results/$dir" "$published/"
	fi
}

: >"$gdb_ktap"
if [ "${HOST:-1}" != 0 ] && [ "$KLAB_VARIANT" = debug ]; then
	# kernel/configs/debug.config builds without DWARF: GDB is the lab
	# kernel's (make test runs the walkthroughs there).
	printf 'KTAP version 1\n1..1\nok 1 host_gdb.walkthroughs # SKIP the debug kernel has no debug info; GDB runs on the lab kernel\n' >"$gdb_ktap"
elif [ "${HOST:-1}" != 0 ]; then
	# GDB walkthroughs in gdb -batch against guests under the gdb stub;
	# their transcripts go to build/results/gdb-<variant>/.
	stage gdb "GDB walkthroughs (transcripts: $published/gdb-$KLAB_VARIANT/)"
	run_tool_checks gdb "$gdb_ktap"
fi

: >"$drgn_ktap"
if [ "${HOST:-1}" != 0 ] && { [ "$KLAB_VARIANT" != lab ] || [ "$KLAB_ROOTFS" != busybox ]; }; then
	# Dumps are QEMU's (UML has no monitor) and drgn needs DWARF (the
	# debug kernel has none); the checks boot the busybox guest.
	printf 'KTAP version 1\n1..1\nok 1 host_drgn.dumps # SKIP make drgn is checked on the lab kernel with the busybox guest\n' >"$drgn_ktap"
elif [ "${HOST:-1}" != 0 ]; then
	stage drgn "memory dumps with drgn (transcripts: $published/drgn-$KLAB_VARIANT/)"
	run_tool_checks drgn "$drgn_ktap"
fi

# Debug kernels are several times slower: give them more time.
# KLAB_GUEST_TIMEOUT overrides both (scripts/lab.sh: a planted bug that
# hangs the guest must not cost half an hour).
limit=1800
[ "$KLAB_VARIANT" = debug ] && limit=3600
limit=${KLAB_GUEST_TIMEOUT:-$limit}
: >"$ktap"
stage boot "guest suites under ${accel^^} (console: $published/$(basename "$console"))"
start=$(date +%s)
set +e
# kmemleak (debug kernel only; a no-op otherwise) forgets boot-time objects
# before the suites and reports what they leaked after them.
# FAILFAST=1: the runner ends at the first failed test (klab-run-tests -f).
ff=""
[ "${FAILFAST:-0}" = 1 ] && ff="-f "
for skip in ${SKIP_SUITES:+${SKIP_SUITES//,/ }}; do
	ff+="-x $skip "
done
# The guest's monitor, for make drgn in another terminal: it dumps the
# newest running guest it finds there, this one while it tests (QEMU
# stops it for the second the dump takes). QEMU removes the socket as it
# ends. (QEMU only: User-Mode Linux has no monitor.)
monitor=()
[ "$KLAB_BACKEND" = qemu ] && monitor=(--monitor "$KLAB_BUILD/vm/qmp-test-$$.sock")
guest_cmd="klab-kmemleak clear; klab-run-tests $ff${T:-}; rc=\$?; klab-kmemleak check || rc=1; exit \$rc"
if [ "${V:-0}" = 1 ]; then
	"$scripts/run-vm.sh" --timeout "$limit" --log "$console" --out "$ktap" "${monitor[@]}" \
		${KLAB_APPEND:+--append "$KLAB_APPEND"} --exec "$guest_cmd"
else
	"$scripts/run-vm.sh" --timeout "$limit" --log "$console" --out "$ktap" "${monitor[@]}" \
		${KLAB_APPEND:+--append "$KLAB_APPEND"} --exec "$guest_cmd" \
		>/dev/null 2>"$results/run-vm.err"
fi
rc=$?
set -e
stage tests "guest finished in $(($(date +%s) - start))s (exit $rc)"

# The summary recounts every result from the console and adds kernel splats;
# a guest that timed out, panicked or whose runner failed without a failing
# result is one more failure, so none of these can read as a pass.
extra=""
case "$rc" in
0 | 1) ;;
124) extra="guest timed out after ${limit}s (console: $published/$(basename "$console"))" ;;
125) extra="guest ended without reporting a status: panic? (console: $published/$(basename "$console"))" ;;
*) extra="guest runner exited $rc (console: $published/$(basename "$console"))" ;;
esac
# The guest's KTAP must also satisfy the kernel's own parser.
kunit_py=$KLAB_SRC/tools/testing/kunit/kunit.py
parse_ktap=$results/kunit-parse-$KLAB_VARIANT.ktap
{
	echo "KTAP version 1"
	echo "1..1"
	if python3 "$kunit_py" parse "$ktap" >"$results/kunit-parse-$KLAB_VARIANT.log" 2>&1 ||
		grep -q 'Testing complete' "$results/kunit-parse-$KLAB_VARIANT.log"; then
		if grep -qE 'ERROR|CRASHED|could not parse' "$results/kunit-parse-$KLAB_VARIANT.log"; then
			grep -E 'ERROR|CRASHED|could not parse' "$results/kunit-parse-$KLAB_VARIANT.log" | head -n 5 | sed 's/^/# /'
			echo "not ok 1 host_ktap.guest_ktap_parses_with_kunit_py"
		else
			echo "ok 1 host_ktap.guest_ktap_parses_with_kunit_py"
		fi
	else
		tail -n 5 "$results/kunit-parse-$KLAB_VARIANT.log" | sed 's/^/# /'
		echo "not ok 1 host_ktap.guest_ktap_parses_with_kunit_py"
	fi
} >"$parse_ktap"

# The results are the runner's own line's; the console gives the kernel's
# messages (splats), each after the suite it came during.
ktap_summary "$extra" "$rc" "$console" "$checks_ktap" "$host_ktap" "$gdb_ktap" "$drgn_ktap" \
	"$parse_ktap" "$ktap"
