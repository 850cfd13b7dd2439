# shellcheck shell=bash
# Starting a guest under QEMU's gdb stub (User-Mode Linux: GDB runs the
# linux process itself, uml_gdb_args) and the GDB command line, for
# scripts/gdb.sh and scripts/gdb-tests.sh. Sourced after lib.sh, never run.
#
# The launcher (scripts/run-vm.sh) picks the first port that /proc shows
# free, but another launcher can take the same port before QEMU binds it.
# So a stub counts as up only when a socket of *our* QEMU listens on the
# port (never by connecting: a connection to a gdb stub stops its guest),
# and a launch that lost the race is retried.

# gdb_args: the GDB command line of every session, NUL-separated (read it
# with mapfile -d ''): no ~/.gdbinit, vmlinux, the kernel's helpers (sourced
# here rather than auto-loaded, which would need the user's auto-load
# safe-path), then ours, which import the kernel's.
gdb_args() {
	printf '%s\0' -q -nx \
		-iex "set pagination off" -iex "set confirm off" \
		-iex "set auto-load python-scripts off"
	if [ "$KLAB_BACKEND" = uml ]; then
		# User-Mode Linux is a host process that lives on signals: its
		# own page faults (SIGSEGV), timer (SIGALRM), I/O (SIGIO),
		# IPIs of its helper threads (SIGUSR1), its ptraced user-space
		# processes (SIGCHLD). GDB must pass them on silently, or every
		# tick stops the session.
		# (one command: GDB prints its table once)
		printf '%s\0' -iex "handle SIGSEGV SIGUSR1 SIGIO SIGALRM SIGVTALRM SIGWINCH SIGCHLD SIGPIPE nostop noprint pass"
		# UML starts a host process per guest address space: GDB
		# detaches from each, silently.
		printf '%s\0' -iex "set print inferior-events off"
	fi
	printf '%s\0' -ex "file $KLAB_VMLINUX" \
		-ex "source $KLAB_OBJ/vmlinux-gdb.py" \
		-ex "source $KLAB_ROOT/gdb/kevent-gdb.py"
}

# stub_listening PORT PID: does process PID, or a process of the session or
# process group PID leads, listen on 127.0.0.1:PORT?
stub_listening() {
	local port=$1 lead=$2 inode pid
	inode=$(awk -v a="$(printf '0100007F:%04X' "$port")" \
		'$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp 2>/dev/null)
	[ -n "$inode" ] || return 1
	for pid in $(ps -e -o pid=,sid=,pgid= | awk -v l="$lead" '$1 == l || $2 == l || $3 == l { print $1 }'); do
		if find "/proc/$pid/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
			return 0
		fi
	done
	return 1
}

# start_stub OUT ERR PORTFILE RUN-VM-ARGS...: start run-vm.sh --gdb... in a
# session of its own (Ctrl-C in GDB must not reach QEMU; the whole group can
# be ended at once) with stdout to OUT and stderr to ERR (both to OUT if
# they are the same file), and wait until its
# stub listens. Sets stub_pid (the session) and stub_port. Up to 3 tries
# when the port was taken meanwhile; fails if the guest does not start.
stub_pid=""
stub_port=""
start_stub() {
	local out=$1 err=$2 portfile=$3 tries i
	shift 3
	for ((tries = 0; tries < 3; tries++)); do
		rm -f "$portfile"
		if [ "$out" = "$err" ]; then
			setsid "$KLAB_ROOT/scripts/run-vm.sh" --gdb-port-file "$portfile" "$@" \
				</dev/null >"$out" 2>&1 &
		else
			setsid "$KLAB_ROOT/scripts/run-vm.sh" --gdb-port-file "$portfile" "$@" \
				</dev/null >"$out" 2>"$err" &
		fi
		stub_pid=$!
		stub_port=""
		for ((i = 0; i < 1200; i++)); do
			kill -0 "$stub_pid" 2>/dev/null || break
			if [ -z "$stub_port" ] && [ -s "$portfile" ]; then
				stub_port=$(cut -d' ' -f1 "$portfile")
			fi
			if [ -n "$stub_port" ] && stub_listening "$stub_port" "$stub_pid"; then
				return 0
			fi
			sleep 0.1
		done
		stop_stub
		if ! grep -qs 'Address already in use' "$out" "$err"; then
			return 1
		fi
	done
	return 1
}

# stop_stub: end the session of start_stub, if it still runs.
stop_stub() {
	local i
	if [ -n "$stub_pid" ] && kill -0 "$stub_pid" 2>/dev/null; then
		kill -TERM -- "-$stub_pid" 2>/dev/null || true
		for ((i = 0; i < 25; i++)); do
			kill -0 "$stub_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$stub_pid" 2>/dev/null || true
	fi
	wait "$stub_pid" 2>/dev/null || true
}

# uml_gdb_args RUN-VM-ARGS...: the GDB command line (after gdb_args) that
# runs the User-Mode Linux guest of run-vm.sh --backend uml RUN-VM-ARGS as
# GDB's own inferior, NUL-separated: plain process debugging, no stub (the
# only stub for a process, gdbserver, listens on every interface). The
# guest's command line is the launcher's own (--dry-run), without its
# timeout wrapper; its output goes where UML_REDIR says (shell
# redirections, e.g. ">log 2>&1").
uml_gdb_args() {
	local -a vm
	local line
	line=$("$KLAB_ROOT/scripts/run-vm.sh" --backend uml --dry-run "$@") || return 1
	eval "vm=($line)"
	[ "${vm[0]}" = timeout ] && vm=("${vm[@]:4}")
	# GDB's "file" is vmlinux, the same executable as linux (a hard link).
	printf '%s\0' -ex "set args $(quote "${vm[@]:1}") ${UML_REDIR:-}"
}
