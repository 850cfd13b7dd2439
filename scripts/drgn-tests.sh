#!/usr/bin/env bash
# Host-side checks of make drgn (docs/drgn.md), printed as KTAP.
#
# A guest runs kevent-demo hold, which builds a queue in a known state and
# holds it; make drgn's own path (scripts/drgn.sh --demo) dumps the guest's
# memory through QEMU's monitor in the middle of that, and lets the demo
# finish: it then reads the ready events and prints their order. The checks
# read what drgn's views print on the dump (counts, kevents in key order,
# the ready list in the order the guest then received it, ring indexes
# and entries), that GDB's commands print the same lines on the same dump
# (one walk, gdb/kwalk/), and that a guest that panics under run-vm.sh
# --dump-on-panic leaves a dump drgn shows the panic in, while a poweroff
# still ends the run with no dump.
#
# Usage: scripts/drgn-tests.sh [DIR]   (make test runs it; HOST=0 skips it)
#        scripts/drgn-tests.sh --recheck   (make check)
# Dumps and transcripts: DIR/hold/, DIR/panic/ (DIR defaults to
# $KLAB_BUILD/results/drgn-<variant>); the two dumps (guests of 128 MB:
# about 140 MB each) stay there, for --recheck: without a guest, it runs
# the views again on them with the helpers of the tree as they are now and
# checks docs/drgn.md against that (skipped when there are no dumps of
# the kernel vmlinux is now).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/gdb-lib.sh
. "$(dirname "$0")/gdb-lib.sh"

drgn_sh=$KLAB_ROOT/scripts/drgn.sh

# The views, one drgn run each as a user types them; their output goes to
# the transcript drgn.log under a '=== make drgn ...' heading.
# view LOG HEADING-ARGS VIEW...
view() {
	local log=$1 heading="=== make drgn $2"
	shift 2
	{
		echo "$heading"
		"$drgn_sh" --core "$core" "$@" 2>&1 || echo "(exit $?)"
	} >>"$log"
}

# hold_views CORE PID:FD DIR: DIR/drgn.log, DIR/boot.log and the views of
# the dump of kevent-demo hold (DIR/k3: kevent 3 and its storage).
hold_views() {
	local core=$1 q=$2 dir=$3 k3 a="CORE=build/drgn/vmcore.elf"
	local log=$dir/drgn.log
	cp "$dir/boot.log" "$log"
	view "$log" "$a VIEW=\"queues\"" queues
	k3=$(sed -n 's/^    kevent \(0x[0-9a-f]*\) .* st=\(0x[0-9a-f]*\): USER id=0x3 .*/\1 \2/p' "$log" | head -n 1)
	echo "$k3" >"$dir/k3"
	view "$log" "$a VIEW=\"ready $q\"" ready "$q"
	view "$log" "$a VIEW=\"ring $q\"" ring "$q"
	view "$log" "$a VIEW=\"storage ${k3#* }\"" storage "${k3#* }"
	view "$log" "$a VIEW=\"show ${k3% *}\"" show "${k3% *}"
	view "$log" "$a VIEW=\"waiters $q\"" waiters "$q"
}

# panic_views CORE DIR: DIR/drgn.log from DIR/boot.log and the panic view.
panic_views() {
	local core=$1 log=$2/drgn.log
	cp "$2/boot.log" "$log"
	view "$log" 'CORE=build/drgn/panic.elf VIEW="panic"' panic
}

# same_build CORE: is CORE a dump of the kernel vmlinux is now?
same_build() {
	local want
	want=$(head -c 1048576 "$1" 2>/dev/null | tr -c '[:print:]\n' '\n' | sed -n 's/^BUILD-ID=\([0-9a-f]*\)$/\1/p' | head -n 1)
	[ -n "$want" ] && readelf -n "$KLAB_VMLINUX" 2>/dev/null | grep -q "Build ID: $want\$"
}

if [ "${1:-}" = --recheck ]; then
	out=$KLAB_BUILD/results/drgn-$KLAB_VARIANT
	echo "KTAP version 1"
	echo "1..1"
	echo "# Subtest: host_drgn_docs"
	if ! same_build "$out/hold/vmcore.elf" 2>/dev/null || ! same_build "$out/panic/vmcore.elf"; then
		echo "ok 1 docs_transcripts_match_the_helpers # SKIP no dumps of this kernel in $out (make test or make drgn-docs takes them)"
		exit 0
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/hold" "$tmp/panic"
	cp "$out/hold/boot.log" "$tmp/hold/"
	cp "$out/panic/boot.log" "$tmp/panic/"
	hold_views "$out/hold/vmcore.elf" "$(cat "$out/hold/queue")" "$tmp/hold"
	panic_views "$out/panic/vmcore.elf" "$tmp/panic"
	if docs=$("$KLAB_ROOT/scripts/gdb-docs.sh" --drgn --check "$tmp" 2>&1); then
		echo "ok 1 docs_transcripts_match_the_helpers"
	else
		while IFS= read -r l; do echo "# $l"; done <<<"$docs"
		echo "# the helpers print something else now: rewrite the page with make drgn-docs"
		echo "not ok 1 docs_transcripts_match_the_helpers"
		exit 1
	fi
	exit 0
fi

out=${1:-$KLAB_BUILD/results/drgn-$KLAB_VARIANT}
rm -rf "$out"
mkdir -p "$out/hold" "$out/panic"

n=0
failed=0
diags=()
note() { diags+=("$*"); }
result() {
	local d
	n=$((n + 1))
	if [ "${#diags[@]}" = 0 ]; then
		echo "ok $n $1"
	else
		for d in "${diags[@]}"; do
			printf '# %s\n' "$d"
		done
		echo "not ok $n $1"
		failed=$((failed + 1))
	fi
	diags=()
}
# expect TEXT ERE WHAT: note a failure unless TEXT has a line matching ERE.
expect() {
	grep -qE -- "$2" <<<"$1" || note "$3: no line matching /$2/"
}
# section FILE HEADING: the lines after the line HEADING, up to the next
# '=== ' heading.
section() {
	awk -v h="$1" 'on && /^=== /{exit} $0 == h {on = 1; next} on' "$2"
}

echo "KTAP version 1"
# (the live check counts whether it runs or is skipped)
echo "1..$(grep -cE '^[[:space:]]*result ' "$0")"
echo "# Subtest: host_drgn"

# ---- what this drgn is --------------------------------------------------------
info=$(/usr/bin/python3 -c 'import drgn, _drgn; print(drgn.__version__, _drgn._with_libkdumpfile)' 2>&1) ||
	note "drgn does not import: $info"
echo "# drgn ${info% *}, libkdumpfile: ${info#* }"
result drgn_imports

# ---- a dump of a guest in the middle of kevent-demo hold ---------------------
h=$out/hold
core=$h/vmcore.elf
log=$h/drgn.log
set +e
"$drgn_sh" --demo --dump "$core" queues -b >"$h/make-drgn.log" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || note "scripts/drgn.sh --demo exited $rc: $(tail -n 3 "$h/make-drgn.log")"
c=$core.console
hold=$(grep -s -m1 '^kevent-demo hold: pid' "$c" || true)
pid=$(sed -n 's/^kevent-demo hold: pid \([0-9]*\), queue fd \([0-9]*\), .*/\1/p' <<<"$hold")
fd=$(sed -n 's/^kevent-demo hold: pid \([0-9]*\), queue fd \([0-9]*\), .*/\2/p' <<<"$hold")
kidx=$(sed -n 's/.*: ring_kidx=\([0-9]*\) ring_over=\([0-9]*\),.*/\1 \2/p' <<<"$hold")
got=$(sed -n 's/^kevent-demo hold: got ids \(.*\)$/\1/p' "$c" 2>/dev/null || true)
if [ -z "$pid" ] || [ -z "$fd" ] || [ -z "$kidx" ]; then
	note "the guest did not report its queue (console: $c)"
fi
[ "$got" = "3 1 4" ] || note "after the dump the guest got ids '$got', expected '3 1 4'"
grep -qs '^kevent-demo hold: done' "$c" || note "kevent-demo hold did not finish: $(grep -s -m1 FAIL "$c" || echo 'no result line')"
grep -qs '^klab-exit: 0' "$c" || note "the guest did not exit 0 (console: $c)"
[ -s "$core" ] || note "no dump $core"
result dump_taken_mid_test_and_the_guest_ran_on

q=${pid:-0}:${fd:-0}
echo "$q" >"$h/queue"
{
	echo "=== make drgn"
	grep -v '^\[' "$h/make-drgn.log" | sed "s#$core#build/drgn/vmcore.elf#g; s#/tmp/tmp\.[A-Za-z0-9]*/go#/tmp/tmp.XXXXXXXXXX/go#"
} >"$h/boot.log"
hold_views "$core" "$q" "$h"
k3=$(cat "$h/k3")
core_arg="CORE=build/drgn/vmcore.elf"

s=$(section "=== make drgn $core_arg VIEW=\"queues\"" "$log")
expect "$s" "^pid ${pid:-X} \\(kevent-demo\\) fd ${fd:-X}: queue 0x[0-9a-f]+ registered=5 ready=3 waiters=0 ring=4 entries kidx=2 over=0 uidx=1 free=3\$" "queues"
expect "$s" '^    stat: added=5 removed=0 marked_ready=5 delivered=2 wakeups=0 rechecked=0 stale=0$' "queues"
ids=$(sed -n 's/^    kevent 0x[0-9a-f]* \([a-z]*\) .*: USER id=0x\([0-9a-f]*\) .*user=0xc0ffee$/\2:\1/p' <<<"$s" | tr '\n' ' ')
[ "$ids" = "1:ready 2:waiting 3:ready 4:ready 5:waiting " ] ||
	note "queues: kevents in key order with their state: '$ids', expected ids 1..5, 1 3 4 ready"
result drgn_queues_show_the_kevents_in_key_order

s=$(section "=== make drgn $core_arg VIEW=\"ready $q\"" "$log")
expect "$s" '^queue 0x[0-9a-f]+ ready list: 3 kevent\(s\), ready_num=3$' "ready"
order=$(sed -n 's/^  #[0-9] kevent 0x[0-9a-f]* ready fired=1 flags=READY .*: USER id=0x\([0-9a-f]*\) .* ret_data={\([0-9]*\), 0} .*/\1:\2/p' <<<"$s" | tr '\n' ' ')
# the demo readied 3, 1, 4 with event 0x200 + id (ret_data[0] until delivered)
[ "$order" = "3:515 1:513 4:516 " ] || note "ready: order '$order', expected 3 1 4 with their events"
want=$(for i in $got; do printf '%s ' "$i"; done)
# shellcheck disable=SC2001 # (a regular expression)
[ "$(sed 's/:[0-9]*//g' <<<"$order")" = "$want" ] || note "ready: the list '$order' is not the order the guest received: '$got'"
result drgn_ready_list_is_the_order_the_guest_received

s=$(section "=== make drgn $core_arg VIEW=\"ring $q\"" "$log")
expect "$s" '^  kernel: kidx=2 kover=0 uidx=1 uover=0 used=1 free=3 ring_free=3$' "ring"
expect "$s" "^  user \\(pid ${pid:-X} kevent-demo\\): ring_kidx=${kidx% *} ring_over=${kidx#* }\$" "ring (the guest printed ring_kidx/ring_over $kidx)"
expect "$s" '^  \[0\] free +USER id=0x5 event=0x0 req=0 ret=DONE ret_data=\{261, 1\} user=0xc0ffee$' "ring"
expect "$s" '^  \[1\] used <-uidx +USER id=0x2 event=0x0 req=0 ret=DONE ret_data=\{258, 1\} user=0xc0ffee$' "ring"
expect "$s" '^  \[2\] free <-kidx +\(zero\)$' "ring"
result drgn_ring_indexes_and_entries

s=$(section "=== make drgn $core_arg VIEW=\"storage ${k3#* }\"" "$log")
expect "$s" "^storage ${k3#* } origin=.*: 1 kevent\\(s\\)\$" "storage"
expect "$s" "^  queue 0x[0-9a-f]+ kevent ${k3% *} ready .*USER id=0x3 " "storage"
s=$(section "=== make drgn $core_arg VIEW=\"show ${k3% *}\"" "$log")
expect "$s" "^kevent ${k3% *} = \\{state = ready, flags = READY, fired = 1, " "show"
expect "$s" '^  on the ready list: yes; on its storage list: yes$' "show"
s=$(section "=== make drgn $core_arg VIEW=\"waiters $q\"" "$log")
expect "$s" '^queue 0x[0-9a-f]+: waiters=0 wakeups=0 ready_num=3 ring_free=3$' "waiters"
expect "$s" '^  wq: 0 entries$' "waiters"
if grep -qE 'Traceback|kevent-drgn:|\(exit [0-9]+\)' "$log"; then
	note "errors in $log: $(grep -m1 -E 'Traceback|kevent-drgn:|\(exit [0-9]+\)' "$log")"
fi
result drgn_storage_show_waiters

# ---- GDB on the same dump prints the same lines (one walk: gdb/kwalk/) ------
# dump-guest-memory with paging=true maps the kernel's virtual addresses in
# the ELF core, so GDB reads it as it reads the stub.
mapfile -d '' args < <(gdb_args)
args+=(-ex "core-file $core")
gviews=("kevent-queues" "kevent-ready $q" "kevent-ring $q" "kevent-storage ${k3#* }" "kevent-waiters $q")
dviews=("queues" "ready $q" "ring $q" "storage ${k3#* }" "waiters $q")
for v in "${gviews[@]}"; do
	args+=(-ex "echo === $v\\n" -ex "$v")
done
set +e
timeout -k 5 120 gdb -batch "${args[@]}" >"$h/gdb.log" 2>&1
set -e
for i in "${!gviews[@]}"; do
	g=$(section "=== ${gviews[$i]}" "$h/gdb.log")
	d=$(section "=== make drgn $core_arg VIEW=\"${dviews[$i]}\"" "$log")
	if [ -z "$g" ] || [ "$g" != "$d" ]; then
		note "GDB's ${gviews[$i]} and drgn's ${dviews[$i]} differ (< gdb, > drgn):"
		while IFS= read -r l; do note "  $l"; done < <(diff <(echo "$g") <(echo "$d") | grep '^[<>]' | head -n 4)
	fi
done
result gdb_and_drgn_print_the_same_views_of_one_dump

# ---- make drgn checks the dump belongs to this vmlinux ------------------------
printf 'not a dump\n' >"$h/not-a-dump"
set +e
msg=$("$drgn_sh" --core "$h/not-a-dump" queues 2>&1)
rc=$?
set -e
if [ "$rc" != 1 ] || ! grep -q 'no VMCOREINFO build ID' <<<"$msg"; then
	note "a file without VMCOREINFO: exit $rc: $msg"
fi
fake=$h/other-build.elf
# the dump's notes with another build ID: what a dump of another kernel has
head -c 1048576 "$core" | sed 's/BUILD-ID=[0-9a-f]\{8\}/BUILD-ID=00000000/' >"$fake"
set +e
msg=$("$drgn_sh" --core "$fake" queues 2>&1)
rc=$?
set -e
if [ "$rc" != 1 ] || ! grep -q 'is a dump of kernel build 00000000' <<<"$msg"; then
	note "a dump of another build: exit $rc: $msg"
fi
rm -f "$fake"
result make_drgn_refuses_a_dump_of_another_kernel


# ---- --dump-on-panic -----------------------------------------------------------
p=$out/panic
pcore=$p/vmcore.elf
set +e
"$KLAB_ROOT/scripts/run-vm.sh" --mem 128M --timeout 120 --dump-on-panic "$pcore" \
	--exec 'echo c > /proc/sysrq-trigger' >"$p/console.log" 2>&1
rc=$?
set -e
[ "$rc" = 125 ] || note "run-vm.sh exited $rc, expected 125 (a panic)"
grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$p/console.log" || note "no panic on the console ($p/console.log)"
grep -q "^klab: memory dump written: $pcore " "$p/console.log" || note "no 'memory dump written' ($p/console.log)"
[ -s "$pcore" ] || note "no dump $pcore"
{
	echo "=== run-vm.sh --dump-on-panic build/drgn/panic.elf --exec 'echo c > /proc/sysrq-trigger'"
	grep '^klab: ' "$p/console.log" | grep -v '^klab: booting' | sed "s#$pcore#build/drgn/panic.elf#g; s# ([0-9.]*[KMG])# (SIZE)#"
} >"$p/boot.log"
panic_views "$pcore" "$p"
s=$(section '=== make drgn CORE=build/drgn/panic.elf VIEW="panic"' "$p/drgn.log")
expect "$s" '^\[ *[0-9.]+\] Kernel panic - not syncing: sysrq triggered crash$' "panic"
expect "$s" '^panic on CPU [0-9]+, task pid [0-9]+ \(sh\)$' "panic"
expect "$s" '^  #[0-9]+ +panic$' "panic (stack)"
expect "$s" '^  #[0-9]+ +sysrq_handle_crash$' "panic (stack)"
expect "$s" '^  #[0-9]+ +write_sysrq_trigger$' "panic (stack)"
result dump_on_panic_leaves_a_dump_drgn_shows_the_panic_in

set +e
"$KLAB_ROOT/scripts/run-vm.sh" --mem 128M --timeout 120 --dump-on-panic "$p/none.elf" \
	--exec 'exit 3' >"$p/poweroff.log" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || note "run-vm.sh --dump-on-panic --exec 'exit 3' exited $rc (console: $p/poweroff.log)"
[ ! -e "$p/none.elf" ] || note "a dump was written without a panic"
result dump_on_panic_a_poweroff_still_ends_the_run

# ---- live, on /proc/kcore in the Debian guest ----------------------------------
# Only where the Debian image was built (make rootfs ROOTFS=debian: a
# debootstrap of minutes, not part of make test).
if [ ! -f "$KLAB_DEBIAN_IMAGE" ]; then
	n=$((n + 1))
	echo "ok $n drgn_live_on_proc_kcore_in_the_debian_guest # SKIP no Debian image (make rootfs ROOTFS=debian)"
else
	l=$out/live
	mkdir -p "$l"
	set +e
	ROOTFS=debian "$drgn_sh" --live all >"$l/console.log" 2>&1
	rc=$?
	set -e
	s=$(tr -d '\r' <"$l/console.log")
	lpid=$(sed -n 's/^kevent-demo hold: pid \([0-9]*\), queue fd \([0-9]*\), .*/\1/p' <<<"$s" | head -n 1)
	[ "$rc" = 0 ] || note "make drgn LIVE=1 exited $rc (console: $l/console.log)"
	expect "$s" "^pid ${lpid:-X} \\(kevent-demo\\) fd [0-9]+: queue 0x[0-9a-f]+ registered=5 ready=3 waiters=0 ring=4 entries kidx=2 over=0 uidx=1 free=3\$" "queues on /proc/kcore"
	order=$(sed -n 's/^  #[0-9] kevent 0x[0-9a-f]* ready .*: USER id=0x\([0-9a-f]*\) .*/\1/p' <<<"$s" | tr '\n' ' ')
	[ "$order" = "3 1 4 " ] || note "ready list on /proc/kcore: '$order', expected 3 1 4"
	expect "$s" '^  \[1\] used <-uidx +USER id=0x2 ' "ring on /proc/kcore"
	expect "$s" '^kevent-demo hold: got ids 3 1 4$' "the demo"
	result drgn_live_on_proc_kcore_in_the_debian_guest
fi

# ---- docs/drgn.md shows what these runs printed ------------------------------
if ! docs=$("$KLAB_ROOT/scripts/gdb-docs.sh" --drgn --check "$out" 2>&1); then
	while IFS= read -r d; do
		note "$d"
	done <<<"$docs"
	note "rewrite them from this run: scripts/gdb-docs.sh --drgn $out (or make drgn-docs)"
fi
result docs_transcripts_match_the_run

[ "$failed" = 0 ]
