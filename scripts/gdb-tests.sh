#!/usr/bin/env bash
# Host-side checks of the GDB tooling (docs/gdb.md), printed as KTAP.
#
# Each walkthrough of gdb/ runs in gdb -batch against a fresh guest halted
# under QEMU's gdb stub (scripts/gdb.sh walk); the guest runs the matching
# kevent-demo, then a guest suite. The checks read GDB's transcript: where it
# stopped and with which callers, what the helper commands printed for the
# event the guest created (compared with what the guest program itself
# printed), and that the guest then ran on and passed. Nothing waits for a
# fixed time: GDB stops on breakpoints and watchpoints, the launcher's
# --timeout only bounds a hung run.
#
# Usage: scripts/gdb-tests.sh [DIR]   (make test runs it; HOST=0 skips it)
# Transcripts: DIR/<walk>/{gdb.log,console.log,out.log} (out.log: the guest
# program's own output, run-vm.sh --out), DIR defaulting to
# $KLAB_BUILD/results/gdb-<variant>.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/gdb-lib.sh
. "$(dirname "$0")/gdb-lib.sh"

gdb_sh=$KLAB_ROOT/scripts/gdb.sh
trap stop_stub EXIT
out=${1:-$KLAB_BUILD/results/gdb-$KLAB_VARIANT}
rm -rf "$out"
mkdir -p "$out"
limit=600
[ "$KLAB_VARIANT" = debug ] && limit=1800

n=0
failed=0
diags=()

# A check: "pass NAME" / "fail NAME" after collecting diagnostics with note.
note() {
	diags+=("$*")
}
result() {
	local name=$1 d
	n=$((n + 1))
	if [ "${#diags[@]}" = 0 ]; then
		echo "ok $n $name"
	else
		for d in "${diags[@]}"; do
			printf '# %s\n' "$d"
		done
		echo "not ok $n $name"
		failed=$((failed + 1))
	fi
	diags=()
}

# section FILE MARKER: the lines after the first line starting with MARKER,
# up to the next walkthrough marker line.
section() {
	[ -f "$1" ] || return 0
	awk -v m="$2" '
		on && /^([AB]\. )?=== / { exit }
		index($0, m) == 1 { on = 1; next }
		on' "$1"
}

# expect TEXT ERE WHAT: note a failure unless TEXT has a line matching ERE.
expect() {
	if ! grep -qE -- "$2" <<<"$1"; then
		note "$3: no line matching /$2/"
	fi
}

# no_errors GDBLOG WALK: GDB and the helpers reported no error and the
# walkthrough reached its end.
no_errors() {
	local bad
	[ -f "$1" ] || { note "no GDB transcript $1 (see ${1%/*}.log)"; return 0; }
	bad=$(grep -nE 'Python Exception|Error occurred|Error in sourced command file|condition .* failed here|cannot decode|has no field|not found in the debug info|warning: ready_num' "$1" | head -n 5 || true)
	[ -z "$bad" ] || note "errors in $1: $bad"
	grep -qs "=== walk-$2: done" "$1" || note "walk-$2 did not reach its end (see $1)"
}

# guest_ok DIR DEMO SUITE: the guest finished the demo and its suite.
guest_ok() {
	local dir=$1 demo=$2 suite=$3 status
	status=$(cat "$dir/status" 2>/dev/null || echo "? ?")
	[ "${status#* }" = 0 ] || note "guest exit status ${status#* } (console: $dir/console.log)"
	grep -qs "^kevent-demo $demo: done" "$dir/out.log" ||
		note "kevent-demo $demo did not finish: $(grep -s -m1 'FAIL' "$dir/out.log" || echo 'no result line')"
	if [ -n "$suite" ]; then
		grep -qsE "^ok [0-9]+ $suite\$" "$dir/out.log" ||
			note "guest suite $suite did not pass: $(grep -sE "^(not )?ok [0-9]+ $suite" "$dir/out.log" || echo 'no result')"
	fi
}

# walk NAME SOURCE SUITE: run one walkthrough into $out/NAME-SOURCE. SUITE
# is a fast guest suite that does not measure timing (kevent_herd and
# kevent_timer do, and the main guest run of make test has them anyway): it
# shows the guest is sound after the session without making this test flaky.
walk() {
	local dir=$out/$1${2:+-$2}
	"$gdb_sh" walk "$1" ${2:+--source "$2"} --timeout "$limit" --out "$dir" \
		${3:+--then "klab-run-tests $3"} >"$dir.log" 2>&1 || true
	echo "$dir"
}

echo "KTAP version 1"
if [ "$KLAB_BACKEND" = uml ]; then
	# the helpers, the (skipped) stub check and uml_result's
	echo "1..$((2 + $(grep -cE '^[[:space:]]*uml_result ' "$0")))"
else
	echo "1..$(grep -cE '^[[:space:]]*result ' "$0")"
fi
echo "# Subtest: host_gdb"

# ---- GDB loads everything, every command documents itself ----------------
helpers=$out/helpers.log
# the commands are the classes whose docstring starts 'What: kevent-NAME'
mapfile -t kcmds < <(cat "$KLAB_ROOT"/gdb/kevent/*.py | grep -oE '^    """[^:]*: (kevent-[a-z-]+)' | sed 's/.*: //' | sort -u)
mapfile -d '' args < <(gdb_args)
args+=(-ex "kevent-help")
for c in "${kcmds[@]}" lx-ps lx-dmesg lx-symbols; do
	args+=(-ex "echo @@help $c\\n" -ex "help $c")
done
set +e
timeout -k 5 120 gdb -batch "${args[@]}" >"$helpers" 2>&1
set -e
[ "${#kcmds[@]}" -ge 8 ] || note "only ${#kcmds[@]} kevent commands found in gdb/kevent/"
for c in "${kcmds[@]}" lx-ps lx-dmesg lx-symbols; do
	text=$(awk -v c="@@help $c" 'on && /^@@help /{exit} $0 == c {on = 1; next} on' "$helpers")
	if [ -z "$text" ] || grep -q 'Undefined command' <<<"$text"; then
		note "help $c: $(head -n 1 <<<"$text")"
	fi
done
for w in storage-ready herd ring-wrap; do
	grep -q "walk-$w.gdb" "$helpers" || note "kevent-help does not list walk-$w.gdb"
done
grep -qE 'Python Exception|Error' "$helpers" && note "$(grep -m1 -E 'Python Exception|Error' "$helpers")"
result helpers_load_and_have_help

# ---- finding a function: docs/gdb.md's transcript, from vmlinux alone -----
# No guest: the symbol table and the sources answer. Each command is
# echoed with a "(gdb) " prompt, as the page shows it.
dir=$out/find-function
mkdir -p "$dir"
mapfile -d '' args < <(gdb_args)
for c in "info functions ^kevent_storage_" "list kevent_storage_ready" "info line kevent_storage_ready"; do
	args+=(-ex "echo (gdb) $c\\n" -ex "$c")
done
set +e
timeout -k 5 120 gdb -batch "${args[@]}" >"$dir/gdb.log" 2>&1
set -e
s=$(cat "$dir/gdb.log")
expect "$s" '^[0-9]+:[[:space:]]+int kevent_storage_ready\(' "info functions lists kevent_storage_ready"
expect "$s" '^[0-9]+[[:space:]]+int kevent_storage_ready\(struct kevent_storage \*st,' "list shows its definition"
expect "$s" '^Line [0-9]+ of ".*kevent/core\.c" starts at address' "info line finds its code"
grep -qE 'Python Exception|Error|No symbol' <<<"$s" && note "$(grep -m1 -E 'Python Exception|Error|No symbol' <<<"$s")"
result find_function_offline

# ---- User-Mode Linux: GDB runs the linux process --------------------------
# The walkthroughs below are written for QEMU's stub (per-CPU current,
# syscall_exit_to_user_mode); under UML the check is the one a user relies
# on: a USER kevent readied from the guest stops GDB in
# kevent_storage_notify(), called by kevent_storage_ready() from
# kevent_ctl(KEVENT_CTL_READY), the helpers show its storage and queue, and
# the guest then runs on to its end.
uml_result() { result "$@"; }
if [ "$KLAB_BACKEND" = uml ]; then
	dir=$out/uml-storage-ready
	mkdir -p "$dir"
	ucmd=$dir/cmds.gdb
	cat >"$ucmd" <<'GDB'
break kevent_storage_notify if $_caller_is("kevent_storage_ready") && $_caller_is("kevent_queue_ready", 2) && $kevent_with_user(st, 0xc0ffee)
run
echo \n=== 1. the source fired: who called kevent_storage_notify()\n
bt 12
echo \n=== 1. the storage and its kevents\n
kevent-storage st
echo \n=== 1. the queues of the demo process\n
kevent-queues
delete
echo \n=== uml: done\n
continue
GDB
	mapfile -d '' uargs < <(gdb_args)
	mapfile -d '' -O "${#uargs[@]}" uargs < <(UML_REDIR=">$dir/console.log 2>&1" \
		uml_gdb_args --exec "kevent-demo user")
	set +e
	timeout -k 5 "$limit" gdb -batch "${uargs[@]}" -x "$ucmd" >"$dir/gdb.log" 2>&1
	set -e
	g=$dir/gdb.log
	s=$(section "$g" "=== 1. the source fired")
	expect "$s" '^#0 +kevent_storage_notify \(' "backtrace"
	expect "$s" '^#1 +0x[0-9a-f]+ in kevent_storage_ready \(' "backtrace"
	expect "$s" '^#2 +0x[0-9a-f]+ in kevent_queue_ready \(' "backtrace"
	expect "$s" 'sys_kevent_ctl' "backtrace"
	s=$(section "$g" "=== 1. the storage and its kevents")
	expect "$s" '^storage 0x[0-9a-f]+ ' "kevent-storage"
	s=$(section "$g" "=== 1. the queues of the demo process")
	expect "$s" 'kevent-demo' "kevent-queues"
	grep -qs '=== uml: done' "$g" || note "GDB did not reach the end of $ucmd (see $g)"
	grep -qsE 'Python Exception|Error occurred' "$g" && note "$(grep -m1 -E 'Python Exception|Error occurred' "$g")"
	grep -qs '^kevent-demo user: done' "$dir/console.log" || note "kevent-demo user did not finish (console: $dir/console.log)"
	grep -qs '^klab-exit: 0' "$dir/console.log" || note "the guest did not exit 0 (console: $dir/console.log)"
	n=$((n + 1))
	echo "ok $n stub_listens_on_127_0_0_1_only # SKIP no stub under UML: GDB runs the linux process itself"
	uml_result uml_stops_in_kevent_storage_ready_with_helpers
	[ "$failed" = 0 ]
	exit
fi

# ---- the stub listens on 127.0.0.1 only -----------------------------------
if start_stub "$out/stub.log" "$out/stub.log" "$out/stub.port" --gdb --timeout 60 --exec true; then
	# every listening socket on the stub's port, IPv4 and IPv6
	listeners=$(awk -v p=":$(printf %04X "$stub_port")" \
		'$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' \
		/proc/net/tcp /proc/net/tcp6 | sort -u)
	[ "$listeners" = "0100007F:$(printf %04X "$stub_port")" ] ||
		note "stub on port $stub_port listens on: ${listeners:-nothing}"
else
	note "the stub did not start: $(tail -n 2 "$out/stub.log")"
fi
stop_stub
result stub_listens_on_127_0_0_1_only


# ---- walk-storage-ready, timer source ---------------------------------------
dir=$(walk storage-ready timer kevent_user)
g=$dir/gdb.log
c=$dir/out.log
pid=$(sed -n 's/^kevent-demo timer: pid \([0-9]*\),.*/\1/p' "$c" | head -n 1)
tid=$(sed -n 's/^kevent-demo timer: thread \([0-9]*\) asleep.*/\1/p' "$c" | head -n 1)
ring0=$(sed -n 's/^kevent-demo: ring\[0\] = .*ret_data={\([0-9]*\), \([0-9]*\)}.*/\1, \2/p' "$c" | head -n 1)
if [ -z "$pid" ] || [ -z "$tid" ] || [ -z "$ring0" ]; then
	note "the guest did not report its pid/tid/ring (console: $c)"
fi

s=$(section "$g" "=== 1. the source fired")
expect "$s" '^#0 +kevent_storage_notify \(' "backtrace"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_storage_ready \(.*<kevent_timer_expiring>' "backtrace"
expect "$s" '^#2 +0x[0-9a-f]+ in kevent_timer_fn \(' "backtrace"
expect "$s" ' in (__run_hrtimer|__hrtimer_run_queues) ' "backtrace"
expect "$s" ' in hrtimer_interrupt ' "backtrace"
result storage_ready.stops_in_kevent_storage_notify_from_the_timer

s=$(section "$g" "=== 1. the storage and its kevents")
expect "$s" '^storage 0x[0-9a-f]+ origin=kevent 0x[0-9a-f]+ \(its own storage\): 1 kevent' "kevent-storage"
expect "$s" 'kevent 0x[0-9a-f]+ waiting fired=0 .*TIMER .*req=ONESHOT .*user=0xc0ffee' "kevent-storage"
s=$(section "$g" "=== 1. the queues of the demo process")
expect "$s" "^pid ${pid:-X} \\(kevent-demo\\) fd [0-9]+: queue 0x[0-9a-f]+ registered=1 ready=0 waiters=1 ring=4 entries kidx=0 over=0" "kevent-queues"
expect "$s" '^    stat: added=1 removed=0 marked_ready=0 delivered=0 wakeups=0 rechecked=0 stale=0$' "kevent-queues"
expect "$s" '^    kevent 0x[0-9a-f]+ waiting .*TIMER id=0x1312d0000000000 .*user=0xc0ffee' "kevent-queues"
s=$(section "$g" "=== 1. who sleeps on the queue")
expect "$s" "exclusive func=kevent_wake_function tid ${tid:-X} \\(kevent-demo\\) state S, wants 1 event and a ring slot; wake function now: refuse \\(ready_num=0 < min_nr=1\\)" "kevent-waiters"
result storage_ready.helpers_show_the_queue_storage_and_waiter

s=$(section "$g" "=== 2. marked ready")
expect "$s" '^#0 +__wake_up \(' "backtrace"
expect "$s" 'kevent_storage_notify' "backtrace"
expect "$s" 'ready list: 1 kevent\(s\), ready_num=1' "kevent-ready"
expect "$s" '^  #0 kevent 0x[0-9a-f]+ ready fired=1 flags=READY .*TIMER .*user=0xc0ffee' "kevent-ready"
expect "$s" 'state = ready, flags = READY, fired = 1' "print *\$k"
result storage_ready.ready_list_holds_the_timer_kevent

# A TIMER fires once, is not re-armed while its expiry waits, and its count
# is computed when it is dequeued: nothing in ret_data until the snapshot,
# which is what the guest then reads from its ring.
s=$(section "$g" "=== 1. the storage and its kevents")
expect "$s" '^    timer 0x[0-9a-f]+: armed=0 period=20000000ns readies=0$' "kevent-storage"
s=$(section "$g" "=== 2. marked ready")
expect "$s" '^  #0 kevent .* TIMER .* ret=0 ret_data=\{0, 0\} user=0xc0ffee' "kevent-ready"
s=$(section "$g" "=== 4. dequeued")
expect "$s" "^\\\$[0-9]+ = \\{type = KEVENT_TIMER, .*ret_flags = KEVENT_RET_DONE, ret_data = \\{${ring0:-X}\\}, user = 0xc0ffee\\}" "print uk (guest saw ret_data={$ring0})"
result storage_ready.timer_fires_once_and_is_counted_at_dequeue

s=$(section "$g" "=== 3. wake-up")
expect "$s" "^    -> entry 0x[0-9a-f]+ exclusive func=kevent_wake_function tid ${tid:-X} \\(kevent-demo\\) state S, wants 1 event and a ring slot; wake function now: wake" "kevent-waiters"
expect "$s" '^\$[0-9]+ = \{ops = 0x[0-9a-f]+ <kevent_ring_sink_ops>, q = 0x[0-9a-f]+, min_nr = 1, need_space = true, kick = 0\}' "print *sink"
result storage_ready.wakes_the_thread_asleep_in_kevent_wait

s=$(section "$g" "=== 4. the woken thread")
expect "$s" '^#0 +kevent_dequeue_ready \(' "backtrace"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_deliver \(' "backtrace"
expect "$s" '^#2 +0x[0-9a-f]+ in kevent_wait_deliver \(' "backtrace"
expect "$s" 'sys_kevent_wait' "backtrace"
expect "$s" '^kevent-finish: kevent_dequeue_ready returned to kevent_deliver$' "kevent-finish"
s=$(section "$g" "=== 4. dequeued")
expect "$s" 'ready list: 0 kevent\(s\), ready_num=0' "kevent-ready"
expect "$s" 'state = inflight, flags = INFLIGHT' "print *\$k"
result storage_ready.dequeued_by_kevent_deliver_in_kevent_wait

# (the watchpoint's report precedes the heading of step 5)
s=$(section "$g" "=== 4. dequeued")
expect "$s" '^kevent-watch: [$]q->rs.kidx changed 0 -> 1 in kevent_ring_release$' "kevent-watch"
s=$(section "$g" "=== 5. copied")
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_deliver \(' "backtrace"
expect "$s" "kidx = 1, kover = 0, uidx = 0, uover = 0, used = 1" "print \$q->rs"
expect "$s" "^  user \\(pid ${pid:-X} kevent-demo\\): ring_kidx=1 ring_over=0" "kevent-ring"
expect "$s" "^  \\[0\\] used <-uidx +TIMER id=0x1312d0000000000 event=TIMER_FIRED req=ONESHOT ret=DONE ret_data=\\{${ring0:-X}\\} user=0xc0ffee" "kevent-ring (guest saw ret_data={$ring0})"
s=$(section "$g" "=== 6. the thread returns")
expect "$s" "^pid ${pid:-X} \\(kevent-demo\\) fd [0-9]+: queue .* registered=0 ready=0 .*kidx=1" "kevent-queues"
expect "$s" '^    stat: added=1 removed=1 marked_ready=1 delivered=1 wakeups=1 rechecked=0 stale=0$' "kevent-queues"
result storage_ready.ring_holds_the_event_the_guest_read

guest_ok "$dir" timer kevent_user
result storage_ready.guest_ran_on_and_passed_kevent_user
no_errors "$g" storage-ready
result storage_ready.no_helper_error

# ---- walk-storage-ready, pipe and KEVENT_CTL_READY sources -----------------
dir=$(walk storage-ready pipe "")
g=$dir/gdb.log
s=$(section "$g" "=== 1. the source fired")
expect "$s" '^#0 +kevent_storage_notify \(' "backtrace"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_poll_wake \(' "backtrace"
expect "$s" ' in pipe_write \(' "backtrace"
s=$(section "$g" "=== 1. the storage and its kevents")
expect "$s" '^storage 0x[0-9a-f]+ origin=file 0x[0-9a-f]+: 1 kevent' "kevent-storage"
expect "$s" '^    file 0x[0-9a-f]+ f_op=pipefifo_fops, shared hooks$' "kevent-storage"
expect "$s" '^      -> entry 0x[0-9a-f]+ shared +func=kevent_poll_wake kevent 0x[0-9a-f]+ of queue 0x' "kevent-storage"
ring0=$(sed -n 's/^kevent-demo: ring\[0\] = .*ret_data={\([0-9]*\), \([0-9]*\)}.*/\1, \2/p' "$dir/out.log" | head -n 1)
s=$(section "$g" "=== 5. copied")
expect "$s" "^  \\[0\\] used <-uidx +POLL id=0x[0-9a-f]+ event=POLLIN req=ONESHOT ret=DONE ret_data=\\{${ring0:-X}\\} user=0xc0ffee" "kevent-ring"
guest_ok "$dir" pipe ""
no_errors "$g" storage-ready
result storage_ready_pipe.from_pipe_write_to_the_ring

dir=$(walk storage-ready user "")
g=$dir/gdb.log
s=$(section "$g" "=== 1. the source fired")
expect "$s" '^#0 +kevent_storage_notify \(' "backtrace"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_storage_ready \(' "backtrace"
expect "$s" '^#2 +0x[0-9a-f]+ in kevent_queue_ready \(' "backtrace"
expect "$s" 'sys_kevent_ctl' "backtrace"
s=$(section "$g" "=== 5. copied")
expect "$s" '^  \[0\] used <-uidx +USER id=0x7 .*ret=DONE ret_data=\{5, 1\} user=0xc0ffee' "kevent-ring"
guest_ok "$dir" user ""
no_errors "$g" storage-ready
result storage_ready_user.from_kevent_ctl_ready_to_the_ring

# ---- walk-herd -------------------------------------------------------------
dir=$(walk herd "" kevent_ctl)
g=$dir/gdb.log
c=$dir/out.log
fda=$(sed -n 's/^kevent-demo herd: .*pipe A fd \([0-9]*\) .*/\1/p' "$c" | head -n 1)
tid_a=$(sed -n "s/^kevent-demo herd: thread [0-9] (tid \\([0-9]*\\)) got event .*id=0x${fda:-X}\$/\\1/p" "$c" | head -n 1)
s=$(section "$g" "A. === a write to pipe A")
expect "$s" '^#0 +kevent_storage_notify \(' "backtrace"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_poll_wake \(' "backtrace"
expect "$s" ' in __wake_up_common \(.*nr_exclusive=(nr_exclusive@entry=)?1,' "backtrace"
expect "$s" ' in pipe_write \(' "backtrace"
result herd.stops_in_kevent_storage_notify_from_a_pipe_write

s=$(section "$g" "A. === the kevent on pipe A")
expect "$s" '^    file 0x[0-9a-f]+ f_op=pipefifo_fops, exclusive \(WAKEUP_ONE\) hooks$' "kevent-storage"
expect "$s" '^      -> entry 0x[0-9a-f]+ exclusive func=kevent_poll_wake kevent 0x[0-9a-f]+ of queue 0x' "kevent-storage"
s=$(section "$g" "A. === finish kevent_storage_notify")
expect "$s" '^kevent-finish: kevent_storage_notify returned to kevent_poll_wake$' "kevent-finish"
s=$(section "$g" "A. === kevent_poll_wake() learns")
expect "$s" '^\$[0-9]+ = true$' "print woke"
expect "$s" '^kevent-finish: kevent_poll_wake returned to __wake_up_common$' "kevent-finish"
expect "$s" '^kevent-finish: return value [$]kevent_ret = \(int\) 1$' "kevent-finish"
result herd.wakeup_one_hook_is_exclusive_and_reports_the_wakeup

s=$(section "$g" "A. === three threads sleep")
[ "$(grep -cE 'exclusive func=kevent_wake_function tid [0-9]+ \(kevent-demo\) state S, wants 1 event; wake function now: refuse' <<<"$s")" = 3 ] ||
	note "kevent-waiters did not list 3 sleeping threads: $s"
s=$(section "$g" "A. === finish kevent_storage_notify")
expect "$s" '__wake_up\(&q->wq, nr_exclusive=1\)' "kevent-trace-wakeups"
s=$(section "$g" "A. === kevent_poll_wake() learns")
expect "$s" "^kevent-trace: 1 thread\\(s\\) woken: tid ${tid_a:-X}\$" "kevent-trace-wakeups (the guest says tid $tid_a got the event)"
s=$(section "$g" "A. === woken threads (WAKEUP_ONE)")
expect "$s" '^\$[0-9]+ = 1$' "\$kevent_woken"
expect "$s" 'ready list: 1 kevent\(s\), ready_num=1' "kevent-ready"
expect "$s" 'ready fired=1 flags=READY st=0x[0-9a-f]+: POLL .*req=WAKEUP_ONE\|ET' "kevent-ready"
result herd.wakeup_one_wakes_exactly_one_waiter

s=$(section "$g" "B. === a write to pipe B")
expect "$s" 'req_flags = KEVENT_REQ_ET,' "print *\$k"
expect "$s" '^    file 0x[0-9a-f]+ f_op=pipefifo_fops, shared hooks$' "kevent-storage"
s=$(section "$g" "B. === woken threads")
expect "$s" '^\$[0-9]+ = 3$' "\$kevent_woken"
grep -q 'nr_exclusive=0): wake ALL' "$g" || note "no __wake_up(nr_exclusive=0) traced for pipe B"
grep -qE '^kevent-trace: 3 thread\(s\) woken' "$g" || note "pipe B did not wake 3 threads"
result herd.without_wakeup_one_all_waiters_wake

guest_ok "$dir" herd kevent_ctl
no_errors "$g" herd
result herd.guest_ran_on_and_passed_kevent_ctl

# ---- walk-ring-wrap -----------------------------------------------------------
dir=$(walk ring-wrap "" kevent_ring)
g=$dir/gdb.log
c=$dir/out.log
pid=$(sed -n 's/^kevent-demo ring: pid \([0-9]*\),.*/\1/p' "$c" | head -n 1)
s=$(section "$g" "=== the demo's queue")
expect "$s" "^pid ${pid:-X} \\(kevent-demo\\) fd [0-9]+: queue .* registered=1 ready=0 waiters=0 ring=4 entries kidx=0 over=0" "kevent-queues"
expect "$s" 'USER id=0x1 .*user=0xc0ffee' "kevent-queues"
expect "$s" '^  \[0\] free <-uidx,kidx' "kevent-ring"
result ring_wrap.starts_with_an_empty_ring

s=$(section "$g" "=== first wrap")
expect "$s" "kevent-watch: [\$]q->rs.kover changed 0 -> 1 in kevent_ring_release" "kevent-watch"
expect "$s" '^#1 +0x[0-9a-f]+ in kevent_deliver \(' "backtrace"
expect "$s" 'size = 4, kidx = 0, kover = 1' "print \$q->rs"
expect "$s" "^  user \\(pid ${pid:-X} kevent-demo\\): ring_kidx=0 ring_over=1" "kevent-ring"
expect "$s" '^  \[3\] used <-uidx +USER id=0x1 .*ret=DONE ret_data=\{259, 1\} user=0xc0ffee' "kevent-ring"
result ring_wrap.stops_when_ring_over_becomes_1

s=$(section "$g" "=== second wrap")
expect "$s" "kevent-watch: [\$]q->rs.kover changed 1 -> 2" "kevent-watch"
expect "$s" "^  user \\(pid ${pid:-X} kevent-demo\\): ring_kidx=0 ring_over=2" "kevent-ring"
expect "$s" '^  \[3\] used <-uidx +USER id=0x1 .*ret_data=\{263, 1\}' "kevent-ring"
result ring_wrap.stops_when_ring_over_becomes_2

guest_ok "$dir" ring kevent_ring
no_errors "$g" ring-wrap
result ring_wrap.guest_ran_on_and_passed_kevent_ring

# ---- docs/gdb.md shows what these runs printed --------------------------------
# Its transcripts are cut from such a run (make gdb-docs); a walkthrough,
# helper or kernel change that alters them must rewrite them. They show the
# lab kernel: the debug kernel inlines and instruments differently.
if [ "$KLAB_VARIANT" != lab ]; then
	n=$((n + 1))
	echo "ok $n docs_transcripts_match_the_run # SKIP docs/gdb.md shows the lab kernel"
else
	if ! docs=$("$KLAB_ROOT/scripts/gdb-docs.sh" --check "$out" 2>&1); then
		while IFS= read -r d; do
			note "$d"
		done <<<"$docs"
		note "rewrite them from this run: scripts/gdb-docs.sh $out (or make gdb-docs)"
	fi
	result docs_transcripts_match_the_run
fi

# ---- make gdb-attach on a running make vm GDB=1 ---------------------------
# The guest announces itself, then waits for a file the host creates only
# after GDB detached: it can only finish if detaching let it run on.
att=$out/attach
mkdir -p "$att"
rm -f "$att/go"
rc=none
if start_stub "$att/console.log" "$att/console.log" "$att/vm.port" --gdb-run \
	--share "$att" --timeout "$limit" \
	--exec "echo attach-now; while [ ! -e $att/go ]; do sleep 0.1; done; echo alive-after-detach"; then
	for ((i = 0; i < 3000; i++)); do
		grep -qs '^attach-now' "$att/console.log" && break
		kill -0 "$stub_pid" 2>/dev/null || break
		sleep 0.1
	done
	set +e
	timeout -k 5 120 "$gdb_sh" attach --port-file "$att/vm.port" -batch \
		-ex "kevent-queues -b" -ex "lx-ps" >"$att/gdb.log" 2>&1
	touch "$att/go"
	wait "$stub_pid"
	rc=$?
	set -e
fi
grep -qsE '^ *0x[0-9a-f]+ +1 +init$' "$att/gdb.log" || note "lx-ps did not list init: $(tail -n 3 "$att/gdb.log" 2>/dev/null)"
grep -qs '^no kevent queue open' "$att/gdb.log" || note "kevent-queues did not report the (empty) set of queues"
grep -qs '^alive-after-detach' "$att/console.log" || note "the guest did not run on after GDB quit"
[ "$rc" = 0 ] || note "guest exit status $rc"
grep -qsE 'Python Exception|Error' "$att/gdb.log" && note "$(grep -m1 -E 'Python Exception|Error' "$att/gdb.log")"
result attach_to_running_vm_and_detach_on_quit

[ "$failed" = 0 ]
