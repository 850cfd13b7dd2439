#!/usr/bin/env bash
# Talk to the QEMU monitor (QMP) of a lab guest on its unix socket
# (scripts/run-vm.sh --monitor; interactive guests have one in
# $KLAB_BUILD/vm/).
#
#   scripts/qmp.sh dump SOCKET FILE [FORMAT]
#       write the guest's memory to FILE (dump-guest-memory; FORMAT: elf,
#       the default, what drgn opens; or kdump-zlib, kdump-lzo,
#       kdump-snappy, which QEMU 7.2 writes in makedumpfile's flattened
#       format: drgn 0.0.22 does not open them, docs/drgn.md). QEMU stops
#       the guest while it writes (under a second for 256 MB here) and
#       lets it run on.
#   scripts/qmp.sh watch SOCKET FILE
#       (run-vm.sh --dump-on-panic) wait until the guest stops: if it reset
#       (panic=-1: a panic), dump its memory to FILE; then quit QEMU.
#   scripts/qmp.sh alive SOCKET
#       exit 0 if a QEMU answers on SOCKET.
#   scripts/qmp.sh cmd SOCKET JSON
#       run one QMP command, print QEMU's answer.
#
# Exit status: 0 done, 1 no QEMU on the socket or QEMU refused, 2 bad usage.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-2}"
}

# qmp_open SOCKET WAIT: connect (waiting up to WAIT tenths of a second for
# the socket to appear) and leave command mode on; QMP[0] reads QEMU's
# lines, QMP[1] writes to it.
qmp_open() {
	local i line
	for ((i = 0; i < $2; i++)); do
		[ -S "$1" ] && break
		sleep 0.1
	done
	[ -S "$1" ] || return 1
	coproc QMP { exec socat - "UNIX-CONNECT:$1" 2>/dev/null; }
	# the greeting
	IFS= read -r -t 10 line <&"${QMP[0]}" || return 1
	[[ $line == *'"QMP"'* ]] || return 1
	qmp_exec '{"execute": "qmp_capabilities"}'
}

# qmp_exec JSON [TIMEOUT]: send a command; its answer (the line with
# "return" or "error"; events before it are left out) in $answer; 1 on
# "error" or no answer. (Not in a $(...) subshell: the coprocess's file
# descriptors are this shell's.)
answer=""
qmp_exec() {
	local line
	answer="no answer to $1"
	printf '%s\n' "$1" >&"${QMP[1]}"
	while IFS= read -r -t "${2:-30}" line <&"${QMP[0]}"; do
		case "$line" in
		'{"return"'*) answer=$line; return 0 ;;
		'{"error"'*) answer=$line; return 1 ;;
		esac
	done
	return 1
}

# dump_cmd FILE FORMAT: the dump-guest-memory command. An ELF dump is
# written with paging=true: QEMU then also maps the kernel's virtual
# addresses, and drgn 0.0.22 needs them (it reads the top page table
# through swapper_pg_dir's virtual address; a physical-only dump fails with
# "recursive address translation"). QEMU writes kdump formats only without
# paging.
dump_cmd() {
	local paging=false
	[ "$2" = elf ] && paging=true
	printf '{"execute": "dump-guest-memory", "arguments": {"paging": %s, "protocol": "file:%s", "format": "%s"}}' "$paging" "$1" "$2"
}

cmd=${1:-}
case "$cmd" in
dump)
	[ $# -ge 3 ] || usage
	file=$(realpath -m "$3")
	format=${4:-elf}
	case "$format" in elf | kdump-zlib | kdump-lzo | kdump-snappy) ;; *) usage ;; esac
	qmp_open "$2" 1 || die "no QEMU monitor on $2"
	mkdir -p "$(dirname "$file")"
	rm -f "$file"
	# a guest of several GB under load: minutes at most
	qmp_exec "$(dump_cmd "$file" "$format")" 600 || die "dump-guest-memory: $answer"
	[ -s "$file" ] || die "dump-guest-memory wrote nothing to $file"
	;;
watch)
	[ $# -ge 3 ] || usage
	file=$(realpath -m "$3")
	# QEMU creates the socket as it starts
	qmp_open "$2" 300 || die "qmp.sh watch: no QEMU monitor on $2"
	while IFS= read -r line <&"${QMP[0]}"; do
		case "$line" in
		*'"event": "SHUTDOWN"'*) ;;
		*) continue ;;
		esac
		# -no-reboot turned the guest's reset into this shutdown
		if [[ $line == *'"reason": "guest-reset"'* ]]; then
			echo "klab: the guest reset (a panic: panic=-1); dumping its memory to $file" >&2
			if qmp_exec "$(dump_cmd "$file" elf)" 600; then
				echo "klab: memory dump written: $file ($(du -h "$file" | cut -f1)); open it: make drgn CORE=$file" >&2
			else
				echo "klab: dump-guest-memory failed: $answer" >&2
			fi
		fi
		qmp_exec '{"execute": "quit"}' 5 || true
		break
	done
	;;
alive)
	[ $# -ge 2 ] || usage
	qmp_open "$2" 1 && qmp_exec '{"execute": "query-status"}' 5
	;;
cmd)
	[ $# -ge 3 ] || usage
	qmp_open "$2" 1 || die "no QEMU monitor on $2"
	rc=0
	qmp_exec "$3" || rc=1
	printf '%s\n' "$answer"
	exit "$rc"
	;;
-h | --help) usage 0 ;;
*) usage ;;
esac
