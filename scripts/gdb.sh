#!/usr/bin/env bash
# GDB sessions on the lab kernel (docs/gdb.md).
#
#   scripts/gdb.sh start            make gdb: boot halted, open GDB on vmlinux
#   scripts/gdb.sh console          make gdb-console: type into that guest
#   scripts/gdb.sh vm [ARGS]        make vm GDB=1: make vm with a gdb stub
#   scripts/gdb.sh attach           make gdb-attach: GDB on that running vm
#   scripts/gdb.sh walk NAME [OPTS] make gdb-walk WALK=NAME: a walkthrough in
#                                   gdb -batch against a fresh guest
#
# The stub always listens on 127.0.0.1 only (scripts/run-vm.sh). GDB gets
# vmlinux, the kernel's own helpers (build/obj-*/vmlinux-gdb.py: lx-ps,
# lx-dmesg, lx-symbols, ...) and ours (gdb/kevent-gdb.py: the package
# gdb/kevent/, built on the kernel's).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/gdb-lib.sh
. "$(dirname "$0")/gdb-lib.sh"

run_vm=$KLAB_ROOT/scripts/run-vm.sh
state=$KLAB_BUILD/gdb
mkdir -p "$state"

usage() {
	cat <<EOF
Usage: scripts/gdb.sh start | console
       scripts/gdb.sh vm [--port-file F] [RUN-VM ARGS]
       scripts/gdb.sh attach [--port-file F] [GDB ARGS]
       scripts/gdb.sh walk NAME [--source timer|pipe|user] [--then 'CMD']
                               [--out DIR] [--timeout S]

  start    boot the lab kernel halted under QEMU's gdb stub and open GDB;
           the guest console goes to $state/console.log and to a
           pseudo-terminal that 'make gdb-console' connects to
  console  connect this terminal to the console of 'make gdb' (Ctrl-x leaves)
  vm       'make vm' with a gdb stub the guest does not wait for; its port
           goes to F (default $state/vm.port)
  attach   open GDB on the guest of a running 'make vm GDB=1' (the port
           from F); GDB ARGS are added to GDB's command line
  walk     run gdb/walk-NAME.gdb in gdb -batch against a new guest that
           runs the matching kevent-demo, then CMD (--then); transcript in
           DIR (default $state/walk-NAME): gdb.log, console.log

Walkthroughs: $(cd "$KLAB_ROOT/gdb" && find . -maxdepth 1 -name 'walk-*.gdb' | sed 's|^\./walk-||; s|\.gdb$||' | sort | tr '\n' ' ')
EOF
}

need_built() {
	[ -f "$KLAB_VMLINUX" ] || die "no $KLAB_VMLINUX (run: make kernel)"
	# kernel/configs/debug.config builds without DWARF.
	[ "$KLAB_VARIANT" != debug ] ||
		die "the debug kernel has no debug info for GDB (kernel/configs/debug.config): debug on the lab kernel (drop DEBUG=1)"
	[ -f "$KLAB_OBJ/vmlinux-gdb.py" ] || die "no $KLAB_OBJ/vmlinux-gdb.py (CONFIG_GDB_SCRIPTS; run: make kernel)"
	[ -f "$KLAB_INITRD" ] || die "no $KLAB_INITRD (run: make rootfs)"
	command -v gdb >/dev/null || die "gdb missing (run: scripts/deps.sh)"
}

# start, under User-Mode Linux: GDB runs linux itself; its console is a
# pty (make gdb-console), the kernel's messages go to the console log.
cmd_start_uml() {
	need_built
	local log=$state/console.log
	local -a args
	: >"$log"
	echo "$log" >"$state/console.err"
	echo "0 $$" >"$state/session.port"
	mapfile -d '' args < <(gdb_args)
	mapfile -d '' -O "${#args[@]}" args < <(UML_REDIR=">>$log 2>&1" uml_gdb_args --console pty)
	cat <<EOF

kevent lab GDB session: User-Mode Linux, GDB runs $(basename "$KLAB_UML_LINUX") as its own process
  guest console    tail -f $log
  type in guest    make gdb-console BACKEND=uml   (after 'run'; Ctrl-x leaves)

In GDB:  break kevent_storage_ready       then 'run', and in the guest: kevent-demo user
         run                              boot the guest (Ctrl-C stops it again)
         kevent-help                      the kevent helpers
         quit                             ends GDB and the guest
EOF
	set +e
	gdb "${args[@]}"
	set -e
	rm -f "$state/console.err" "$state/session.port"
}

cmd_start() {
	[ "$KLAB_BACKEND" = uml ] && { cmd_start_uml; return; }
	need_built
	local log=$state/console.log err=$state/qemu.err portfile=$state/session.port pty="" port i
	rm -f "$state/console.pty"
	: >"$log"
	trap stop_stub EXIT
	if ! start_stub "$err" "$err" "$portfile" --gdb --console pty --log "$log"; then
		cat "$err" >&2
		die "the guest did not start (see above)"
	fi
	port=$stub_port
	# QEMU opens the console's pty before the guest starts; UML opens it
	# while it boots, after GDB's first continue (make gdb-console finds
	# it then).
	if [ "$KLAB_BACKEND" = qemu ]; then
		for ((i = 0; i < 100; i++)); do
			pty=$(console_pty "$err")
			[ -n "$pty" ] && break
			sleep 0.1
		done
		[ -n "$pty" ] && echo "$pty" >"$state/console.pty"
	fi
	cat <<EOF

kevent lab GDB session: $(grep -m1 '^klab: booting' "$err" | sed 's/^klab: //')
  gdb stub         127.0.0.1:$port (guest halted at its first instruction)
  guest console    tail -f $log
  type in guest    make gdb-console   (in a second terminal; Ctrl-x leaves)

In GDB:  continue                         boot the guest (Ctrl-C stops it again)
         kevent-help                      the kevent helpers and walkthroughs
         source gdb/walk-storage-ready.gdb  then in the guest: kevent-demo timer
         quit                             ends GDB and the guest
EOF
	local -a args
	mapfile -d '' args < <(gdb_args)
	set +e
	gdb "${args[@]}" -ex "target remote 127.0.0.1:$port"
	set -e
	rm -f "$state/console.pty" "$portfile"
}

# console_pty ERR: the console's pseudo-terminal, from the launcher's
# messages: QEMU's "char device redirected to /dev/pts/N", UML's "Virtual
# console 0 assigned device '/dev/pts/N'".
console_pty() {
	sed -n -e 's|.*redirected to \(/dev/pts/[0-9]*\).*|\1|p' \
		-e "s|.*Virtual console 0 assigned device '\\(/dev/pts/[0-9]*\\)'.*|\\1|p" "$1" |
		head -n 1
}

cmd_console() {
	local pty port pid
	pty=$(cat "$state/console.pty" 2>/dev/null || true)
	if [ -z "$pty" ] && [ -s "$state/console.err" ]; then
		pty=$(console_pty "$(cat "$state/console.err")")
		[ -n "$pty" ] || die "the guest has not opened its console yet: 'run' in GDB first"
	fi
	read -r port pid 2>/dev/null <"$state/session.port" || true
	# A stale path could name another terminal's pty: the session's QEMU
	# must still be running.
	if [ -z "$pty" ] || [ ! -e "$pty" ] || [ -z "${pid:-}" ] || ! kill -0 "$pid" 2>/dev/null; then
		die "no 'make gdb' session running (start one with: make gdb)"
	fi
	echo "klab: console of the 'make gdb' guest on $pty; leave with Ctrl-x" >&2
	exec busybox microcom -s 115200 "$pty"
}

cmd_vm() {
	local portfile=$state/vm.port
	if [ "${1:-}" = --port-file ]; then
		portfile=$2
		shift 2
	fi
	exec "$run_vm" --gdb-run --gdb-port-file "$portfile" "$@"
}

# attach [--port-file F] [GDB ARGS]: GDB on the guest of 'make vm GDB=1'.
# Quitting GDB detaches (QEMU reports the target as attached), so the guest
# runs on.
cmd_attach() {
	local portfile=$state/vm.port port pid
	if [ "${1:-}" = --port-file ]; then
		portfile=$2
		shift 2
	fi
	need_built
	[ -s "$portfile" ] || die "no 'make vm GDB=1' found ($portfile missing): start one first"
	read -r port pid <"$portfile"
	if ! kill -0 "$pid" 2>/dev/null || ! stub_listening "$port" "$pid"; then
		die "the 'make vm GDB=1' of $portfile (pid $pid, port $port) is not running"
	fi
	# make gdb-attach builds nothing; the port file dates the guest's boot.
	if [ "$KLAB_VMLINUX" -nt "$portfile" ]; then
		echo "kevent lab: warning: $KLAB_VMLINUX was built after this guest booted;" \
			"GDB's symbols may not match the running kernel (restart make vm GDB=1)" >&2
	fi
	cat >&2 <<EOF
kevent lab: attaching to the running guest on 127.0.0.1:$port. Attaching
stops it: 'continue' lets it run (Ctrl-C stops it again); 'quit' detaches
and leaves it running. kevent-help lists the helpers.
EOF
	local -a args
	mapfile -d '' args < <(gdb_args)
	exec gdb "${args[@]}" -ex "target remote 127.0.0.1:$port" "$@"
}

# walk NAME: one walkthrough in gdb -batch against a fresh guest.
cmd_walk() {
	local name="" source=timer then="" out="" limit=300
	while [ $# -gt 0 ]; do
		case "$1" in
		--source) source=$2; shift ;;
		--then) then=$2; shift ;;
		--out) out=$2; shift ;;
		--timeout) limit=$2; shift ;;
		-*) usage >&2; die "unknown option: $1" ;;
		*) name=$1 ;;
		esac
		shift
	done
	[ -n "$name" ] || { usage >&2; die "walk: which walkthrough?"; }
	local script=$KLAB_ROOT/gdb/walk-$name.gdb demo
	[ -f "$script" ] || die "no walkthrough $script"
	case "$name" in
	storage-ready) demo="kevent-demo $source" ;;
	herd) demo="kevent-demo herd" ;;
	ring-wrap) demo="kevent-demo ring" ;;
	*) demo=$(sed -n 's/^# guest: //p' "$script" | head -n 1) ;;
	esac
	[ -n "$demo" ] || die "$script names no guest program ('# guest: CMD' line)"
	need_built
	out=${out:-$state/walk-$name}
	mkdir -p "$out"
	local port rc grc
	local -a args
	mapfile -d '' args < <(gdb_args)
	trap stop_stub EXIT
	# The demo's own output (its pid, its result lines) on a line of its
	# own (run-vm.sh --out): the guest stopped at a breakpoint comes back
	# to an overdue hrtimer, and the kernel's warning about it lands on the
	# console in the middle of whatever line was going out.
	if ! start_stub "$out/console.log" "$out/qemu.err" "$out/port" --gdb \
		--timeout "$limit" --out "$out/out.log" --exec "$demo${then:+ && $then}"; then
		cat "$out/qemu.err" "$out/console.log" >&2
		die "the guest did not start"
	fi
	port=$stub_port
	stage gdb "walk-$name: guest runs '$demo${then:+ && $then}', stub on 127.0.0.1:$port"
	local -a cmd=(timeout -k 5 "$limit" gdb -batch "${args[@]}"
		-ex "target remote 127.0.0.1:$port"
		-ex "set \$walk_source = \"$source\""
		-x "$script" -ex "detach")
	set +e
	if [ -t 1 ]; then
		# make gdb-walk on a terminal: show the transcript as it comes
		"${cmd[@]}" 2>&1 | tee "$out/gdb.log"
		grc=${PIPESTATUS[0]}
	else
		"${cmd[@]}" >"$out/gdb.log" 2>&1
		grc=$?
	fi
	wait "$stub_pid"
	rc=$?
	set -e
	echo "$grc $rc" >"$out/status"
	stage gdb "walk-$name: gdb exit $grc, guest exit $rc (transcript: $out/gdb.log, console: $out/console.log)"
	[ "$grc" = 0 ] && [ "$rc" = 0 ]
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
console) shift; cmd_console "$@" ;;
vm) shift; cmd_vm "$@" ;;
attach) shift; cmd_attach "$@" ;;
walk) shift; cmd_walk "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
