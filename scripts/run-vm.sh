#!/usr/bin/env bash
# The one launcher of the lab: QEMU, or User-Mode Linux (--backend uml).
# Every make target boots through it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
Usage: scripts/run-vm.sh [OPTIONS]

Boot the lab kernel with the lab initramfs under QEMU, serial console on
this terminal. Without --exec you get a busybox shell: leave with 'poweroff'
or Ctrl-a x.

With --backend uml the kernel is User-Mode Linux: the UML build's 'linux'
binary runs as a process of this machine (no emulator, uniprocessor), its
console on this terminal; leave the shell with 'poweroff' (Ctrl-C goes to
the guest; from another terminal, 'kill PID' of the launcher's process).

  --backend qemu|uml boot under QEMU (default) or as User-Mode Linux
                     (default: \$BACKEND, else qemu)
  --kernel FILE      kernel image (default: $KLAB_BZIMAGE;
                     UML: $KLAB_UML_LINUX)
  --initrd FILE      initramfs (default: $KLAB_INITRD)
  --rootfs busybox|debian
                     the busybox initramfs (default: \$ROOTFS, else busybox)
                     or the Debian image $KLAB_DEBIAN_IMAGE
                     (make rootfs ROOTFS=debian) as the root disk:
                     virtio-blk under QEMU, ubd under UML, booted on a
                     throw-away overlay (the image is never written)
  --append ARGS      extra kernel command line
  --cpus N           virtual CPUs (default: 2; UML: 1, the only choice)
  --mem SIZE         guest memory (default: 1G)
  --exec 'CMD'       run CMD with sh in the guest, print its output, power
                     off and exit with CMD's exit status (non-zero if the
                     guest panicked or never reported a status)
  --timeout S        kill the guest after S seconds and fail (default: none
                     interactively, 600 with --exec)
  --share DIR        mount host directory DIR at the same path in the guest
                     (virtio-9p; UML: hostfs); may be repeated
  --gdb              start QEMU's gdb stub on 127.0.0.1 and halt the CPU
                     until a debugger continues it; QEMU only (under UML,
                     GDB runs the linux process itself: make gdb BACKEND=uml)
  --gdb-run          start the gdb stub but let the guest run; a debugger
                     can attach later (make gdb-attach); QEMU only
  --gdb-port PORT    port of the gdb stub (default: the first free from 1234)
  --gdb-port-file F  write "PORT PID" to F once the port is chosen (PID:
                     this launcher, QEMU itself when interactive)
  --console pty      put the console on a new pseudo-terminal instead of
                     this terminal (QEMU prints its path; connect with
                     'busybox microcom PATH'); no monitor. Interactive only.
                     UML prints the path ("Virtual console 0 assigned
                     device") with the kernel messages on stderr
  --log FILE         also write the console to FILE
  --out FILE         with --exec: CMD's output, and only it, also in FILE,
                     through a line of its own (QEMU: the second serial
                     port; UML: serial line 0) where no kernel message can
                     cut into a line as it can on the console; CMD's exit
                     status is then read from FILE
  --monitor PATH|none
                     QEMU's monitor (QMP) on the unix socket PATH, for
                     scripts/qmp.sh (make drgn dumps the guest's memory
                     through it); default: none with --exec, else
                     $KLAB_BUILD/vm/qmp-PID.sock (PID: this launcher)
  --dump-on-panic FILE
                     when the guest panics (panic=-1: it resets), keep
                     its memory, write it to FILE as an ELF core
                     (dump-guest-memory) and quit; a poweroff still ends
                     QEMU. QEMU only (docs/drgn.md: make drgn CORE=FILE)
  --accel kvm|tcg    force an accelerator (default: KVM when /dev/kvm is
                     usable, TCG otherwise); QEMU only
  --dry-run          print the QEMU (or UML) command line (shell-quoted, with the
                     timeout wrapper if any) and exit 0 without booting;
                     nothing needs to be built, no file is written
                     (make vm-cmd)
  -h, --help         this text

Environment: DEBUG=1 boots the debug kernel variant (QEMU only); BACKEND=uml
is --backend uml.
Exit status: with --exec, CMD's; 124 guest timed out, 125 no status from
the guest; 2 bad usage; 1 other errors.
EOF
}

# usage_error MESSAGE: a bad command line; exit 2.
usage_error() {
	printf 'run-vm.sh: %s (see scripts/run-vm.sh --help)\n' "$*" >&2
	exit 2
}

backend=$KLAB_BACKEND
kernel=""
initrd=$KLAB_INITRD
rootfs=$KLAB_ROOTFS
append=""
cpus=""
mem=1G
exec_cmd=""
have_exec=0
timeout_s=""
shares=()
gdb=0
gdb_halt=1
gdb_port=""
gdb_port_file=""
console=stdio
log=""
out=""
accel=""
dry_run=0
monitor=""
dump_on_panic=""

while [ $# -gt 0 ]; do
	case "$1" in
	--backend | --rootfs | --kernel | --initrd | --append | --cpus | --mem | --exec | --timeout | --share | \
		--gdb-port | --gdb-port-file | --console | --log | --out | --accel | --monitor | --dump-on-panic)
		[ $# -ge 2 ] || usage_error "$1 needs an argument"
		;;
	esac
	case "$1" in
	--backend) backend=$2; shift ;;
	--rootfs) rootfs=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--append) append=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--mem) mem=$2; shift ;;
	--exec) exec_cmd=$2; have_exec=1; shift ;;
	--timeout) timeout_s=$2; shift ;;
	--share)
		[ -d "$2" ] || usage_error "--share: no directory $2"
		shares+=("$(cd "$2" && pwd)")
		shift
		;;
	--gdb) gdb=1 ;;
	--gdb-run) gdb=1; gdb_halt=0 ;;
	--gdb-port) gdb_port=$2; gdb=1; shift ;;
	--gdb-port-file) gdb_port_file=$2; shift ;;
	--console) console=$2; shift ;;
	--log) log=$2; shift ;;
	--out) out=$2; shift ;;
	--accel) accel=$2; shift ;;
	--monitor) monitor=$2; shift ;;
	--dump-on-panic) dump_on_panic=$2; shift ;;
	--dry-run) dry_run=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown option: $1" ;;
	esac
	shift
done

case "$backend" in
qemu) ;;
uml)
	# The UML kernel is its own build (obj-uml): --backend uml names it
	# even when BACKEND is not set in the environment.
	if [ "$KLAB_BACKEND" != uml ]; then
		[ "${DEBUG:-0}" = 1 ] && usage_error "DEBUG=1 is a QEMU kernel; the UML backend has no debug variant"
		KLAB_OBJ=$KLAB_BUILD/obj-uml
		KLAB_UML_LINUX=$KLAB_OBJ/linux
		KLAB_VARIANT=uml
	fi
	;;
*) usage_error "--backend takes qemu or uml" ;;
esac
case "$rootfs" in
busybox | debian) ;;
*) usage_error "--rootfs takes busybox or debian" ;;
esac
if [ -z "$kernel" ]; then
	if [ "$backend" = uml ]; then kernel=$KLAB_UML_LINUX; else kernel=$KLAB_BZIMAGE; fi
	# kernel/configs/debug.config leaves out the block layer.
	[ "$rootfs" = debian ] && [ "$KLAB_VARIANT" = debug ] &&
		usage_error "--rootfs debian needs the lab kernel: the debug kernel has no block devices (drop DEBUG=1)"
fi
case "$cpus" in
'') if [ "$backend" = uml ]; then cpus=1; else cpus=2; fi ;;
*[!0-9]* | 0) usage_error "--cpus takes a number of CPUs" ;;
esac
if [ "$backend" = uml ]; then
	# UML in Linux 6.12 has no SMP (it came in 6.15).
	[ "$cpus" = 1 ] || usage_error "--cpus $cpus: User-Mode Linux 6.12 is uniprocessor"
	[ -z "$accel" ] || usage_error "--accel is for QEMU; User-Mode Linux runs as a host process"
	# No stub: gdbserver would listen on every interface whatever host
	# it is given; GDB runs the linux process itself (scripts/gdb.sh).
	[ "$gdb" = 1 ] &&
		usage_error "--gdb, --gdb-run and --gdb-port are QEMU's; under UML GDB runs the linux process: make gdb BACKEND=uml"
	[ -z "$monitor$dump_on_panic" ] ||
		usage_error "--monitor and --dump-on-panic are QEMU's (User-Mode Linux has no monitor)"
fi
[ -z "$out" ] || [ "$have_exec" = 1 ] || usage_error "--out is the output of --exec: give --exec too"
case "$console" in
stdio) ;;
pty) [ "$have_exec" = 0 ] || usage_error "--console pty is for interactive use, not with --exec" ;;
*) usage_error "--console takes stdio or pty" ;;
esac
case "$accel" in
'' | kvm | tcg) ;;
*) usage_error "--accel takes kvm or tcg" ;;
esac
case "$gdb_port" in
'') ;;
*[!0-9]*) usage_error "--gdb-port takes a port number" ;;
esac
if [ -n "$timeout_s" ]; then
	case "$timeout_s" in *[!0-9]*) usage_error "--timeout takes seconds" ;; esac
elif [ "$have_exec" = 1 ]; then
	timeout_s=600
fi
if [ "$dry_run" = 0 ]; then
	if [ "$backend" = uml ]; then
		[ -x "$kernel" ] || die "no UML kernel at $kernel (run: make kernel BACKEND=uml)"
	else
		[ -f "$kernel" ] || die "no kernel at $kernel (run: make kernel)"
		command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (run: scripts/deps.sh)"
	fi
	if [ "$rootfs" = debian ]; then
		[ -f "$KLAB_DEBIAN_IMAGE" ] || die "no Debian image at $KLAB_DEBIAN_IMAGE (run: make rootfs ROOTFS=debian)"
	else
		[ -f "$initrd" ] || die "no initramfs at $initrd (run: make rootfs)"
	fi
fi

# Files of this launch removed when it ends (the --exec output, UML's
# copy-on-write overlay of the Debian image).
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

# run_exec CMD...: run the guest of --exec without terminal input, its
# console on stdout (and --log); exit with the status the guest reported as
# its last word "klab-exit: N", 124 when it timed out, 125 without a status.
exec_out=""
run_exec() {
	local rc status
	exec_out=$(mktemp)
	cleanup+=("$exec_out")
	set +e
	# UML's serial line 0 writes --out's file through descriptor 3.
	local fd3=/dev/null
	[ -n "$out" ] && [ "$backend" = uml ] && fd3=$out
	"$@" </dev/null 2>&1 3>"$fd3" | tee "$exec_out" | stdbuf -oL tr -d '\r'
	rc=${PIPESTATUS[0]}
	# the watcher ends when QEMU does (after its dump, if any)
	[ -n "$watch_pid" ] && wait "$watch_pid"
	set -e
	[ -n "$log" ] && tr -d '\r' <"$exec_out" >"$log"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "klab: guest timed out after ${timeout_s}s and was killed" >&2
		exit 124
	fi
	local said=$exec_out
	if [ -n "$out" ] && [ -f "$out" ]; then
		# The guest's own line: no kernel message can have cut the status.
		tr -d '\r' <"$out" >"$out.tmp" && mv "$out.tmp" "$out"
		said=$out
	fi
	status=$(tr -d '\r' <"$said" | sed -n 's/^klab-exit: \([0-9]*\)$/\1/p' | tail -n 1)
	if [ -z "$status" ]; then
		if grep -q 'Kernel panic' "$exec_out"; then
			echo "klab: the guest kernel panicked" >&2
		else
			echo "klab: the guest ended without reporting a status ($backend exit $rc)" >&2
		fi
		exit 125
	fi
	exit "$status"
}

# start_watch: with --dump-on-panic, scripts/qmp.sh watch on the monitor,
# in the background: it dumps the guest's memory if it reset (panicked),
# and quits QEMU once the guest stopped either way.
watch_pid=""
start_watch() {
	[ -n "$dump_on_panic" ] || return 0
	rm -f "$dump_on_panic"
	"$KLAB_ROOT/scripts/qmp.sh" watch "$monitor" "$dump_on_panic" </dev/null &
	watch_pid=$!
}

# Is a TCP port taken (bound, listening or connected, IPv4 or IPv6)? Read
# from /proc/net/tcp*, never by connecting: a connection to the gdb stub of a
# running guest would stop that guest.
port_in_use() {
	grep -qs -- "$(printf ':%04X ' "$1")" /proc/net/tcp /proc/net/tcp6
}

# pick_gdb_port: the first free port from 1234 unless --gdb-port chose one;
# written to --gdb-port-file as "PORT PID".
pick_gdb_port() {
	if [ -z "$gdb_port" ]; then
		gdb_port=1234
		while port_in_use "$gdb_port"; do
			gdb_port=$((gdb_port + 1))
		done
	fi
	if [ -n "$gdb_port_file" ] && [ "$dry_run" = 0 ]; then
		mkdir -p "$(dirname "$gdb_port_file")"
		echo "$gdb_port $$" >"$gdb_port_file"
	fi
}

# klab_share=<base64 of "tag path" lines> for rootfs/init; tag "hostfs"
# mounts the path through UML's hostfs, klabN a virtio-9p tag of QEMU.
share_arg() { # share_arg LINES
	[ -n "$1" ] && printf ' klab_share=%s' "$(printf '%s' "$1" | base64 -w0)"
	return 0
}
# The command travels base64-encoded on the kernel command line, so any
# quoting survives; rootfs/init decodes it.
exec_arg() {
	[ "$have_exec" = 1 ] && printf ' klab_exec=%s' "$(printf '%s' "$exec_cmd" | base64 -w0)"
	[ -n "$out" ] && printf ' klab_out=%s' "$1"
	return 0
}

if [ "$backend" = uml ]; then
	# User-Mode Linux: the kernel is the host process "linux", its command
	# line is its arguments. con0 (tty0, /dev/console) is this terminal or
	# a new pty; every other console and serial line would open a pty or an
	# xterm of its own by default: none. mem= is backed by a sparse file in
	# TMPDIR (or /dev/shm). A panic makes UML abort (it never reboots), so
	# no panic= is needed.
	cmdline="mem=$mem"
	if [ "$rootfs" = debian ]; then
		# ubd0 is a copy-on-write overlay on the image: the guest's
		# writes go to a file of ours, removed when it ends.
		cow=${TMPDIR:-/tmp}/klab-uml-$$.cow
		[ "$dry_run" = 1 ] || cleanup+=("$cow")
		cmdline+=" ubd0=$cow,$KLAB_DEBIAN_IMAGE root=/dev/ubda rw init=/sbin/klab-init"
	else
		cmdline+=" initrd=$initrd"
	fi
	cmdline+=" con=null ssl=null"
	if [ "$console" = pty ]; then
		# UML names the pty at KERN_INFO; stderr=1 copies the kernel's
		# messages to our stderr, where gdb.sh finds it.
		cmdline+=" con0=pty stderr=1 loglevel=7"
	elif [ "$have_exec" = 1 ]; then
		# No input channel: at end of input (/dev/null) UML would hang
		# up the console, and the guest's output would be lost.
		cmdline+=" con0=null,fd:1 loglevel=5"
	else
		cmdline+=" con0=fd:0,fd:1 loglevel=5"
	fi
	[ -n "$append" ] && cmdline+=" $append"
	share_list=""
	for dir in "${shares[@]}"; do
		share_list+="hostfs $dir"$'\n'
	done
	cmdline+=$(share_arg "$share_list")
	# --out: serial line 0 writes to descriptor 3, which run_exec opens
	# on the file.
	[ -n "$out" ] && cmdline+=" ssl0=null,fd:3"
	cmdline+=$(exec_arg /dev/ttyS0)
	[ "${#cmdline}" -lt 2000 ] || usage_error "kernel command line too long (${#cmdline} bytes): shorten --exec"
	read -ra words <<<"$cmdline"
	vm=("$kernel" "${words[@]}")
	if [ "$dry_run" = 0 ]; then
		echo "klab: booting $(basename "$kernel") as User-Mode Linux (1 CPU, $mem)" >&2
		# A panicking UML aborts: no core file of guest-sized memory.
		ulimit -c 0
	fi
	if [ "$have_exec" = 1 ]; then
		vm=(timeout -k 5 "$timeout_s" "${vm[@]}")
		if [ "$dry_run" = 1 ]; then
			quote "${vm[@]}"
			exit 0
		fi
		run_exec "${vm[@]}"
	fi
	if [ -n "$timeout_s" ]; then
		vm=(timeout --foreground "$timeout_s" "${vm[@]}")
	fi
	if [ "$dry_run" = 1 ]; then
		quote "${vm[@]}"
		exit 0
	fi
	# UML puts this terminal in raw mode (Ctrl-C goes to the guest) and
	# restores it when it ends normally; restore it also when it is killed.
	if [ -t 0 ]; then
		saved_tty=$(stty -g)
		trap 'stty "$saved_tty"; rm -rf "${cleanup[@]}"' EXIT
	fi
	set +e
	if [ -n "$log" ] && [ "$console" = pty ]; then
		# The console is the pty: here only the kernel's messages
		# (stderr=1), kept on stderr.
		"${vm[@]}" 2>&1 | tee "$log" >&2
		rc=${PIPESTATUS[0]}
	elif [ -n "$log" ]; then
		"${vm[@]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		"${vm[@]}"
		rc=$?
	fi
	set -e
	exit "$rc"
fi

if [ -z "$accel" ]; then
	if kvm_usable; then
		accel=kvm
	else
		accel=tcg
	fi
fi
case "$accel" in
kvm) accel_args=(-accel kvm -cpu host) ;;
*) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
esac

# no_timer_check: under TCG on a busy host the IO-APIC timer check at boot
# can miss its ticks and panic ("IO-APIC + timer doesn't work!").
cmdline="console=ttyS0 nokaslr panic=-1 loglevel=5 no_timer_check"
# The debug kernel under TCG can spend tens of seconds in one stretch of
# KASAN/kmemleak/lockdep bookkeeping at boot: without a longer threshold the
# soft-lockup watchdog reports emulation slowness as a kernel bug.
[ "$KLAB_VARIANT" = debug ] && [ "$accel" = tcg ] && cmdline+=" watchdog_thresh=60"
# -cpu max gives the guest 5-level paging (LA57), and KASAN decides whether
# an address has shadow from pgtable_l5_enabled(): an interrupt taken while
# arch_cpu_finalize_init() patches the alternatives behind that check was
# reported once as a "wild-memory-access" on an irq_desc lock at 1.5 s,
# before any test ran. The debug kernel boots with 4-level paging, the
# layout of most machines, where that check is a constant.
[ "$KLAB_VARIANT" = debug ] && cmdline+=" no5lvl"
cmdline+=" $append"
qemu=(qemu-system-x86_64 -machine pc "${accel_args[@]}" -smp "$cpus" -m "$mem"
	-kernel "$kernel")
if [ "$rootfs" = debian ]; then
	# snapshot=on: the guest's writes go to a temporary overlay.
	qemu+=(-drive "file=$KLAB_DEBIAN_IMAGE,format=raw,if=virtio,snapshot=on")
	cmdline+=" root=/dev/vda rw init=/sbin/klab-init"
else
	qemu+=(-initrd "$initrd")
fi
qemu+=(-display none -no-reboot -device virtio-rng-pci)
# The guest's fw_cfg driver (CONFIG_FW_CFG_SYSFS) hands this device the
# kernel's VMCOREINFO note, and QEMU writes it into every memory dump
# (dump-guest-memory): drgn needs it to open a kernel core (docs/drgn.md).
qemu+=(-device vmcoreinfo)

# The monitor, QMP on a unix socket (scripts/qmp.sh): interactive guests
# have one by default, for make drgn to find.
if [ -z "$monitor" ] && [ "$have_exec" = 0 ]; then
	monitor=$KLAB_BUILD/vm/qmp-$$.sock
fi
[ "$monitor" = none ] && monitor=""
if [ -n "$dump_on_panic" ]; then
	dump_on_panic=$(realpath -m "$dump_on_panic")
	if [ -z "$monitor" ]; then
		monitor=${TMPDIR:-/tmp}/klab-qmp-$$.sock
		[ "$dry_run" = 1 ] || cleanup+=("$monitor")
	fi
	# panic=-1 resets the guest as soon as it panics; -no-reboot turns
	# that reset into a shutdown, and shutdown=pause keeps the stopped
	# guest and its memory until scripts/qmp.sh watch has dumped it. It
	# quits QEMU after every shutdown, so a poweroff still ends the run.
	qemu+=(-action shutdown=pause)
fi
if [ -n "$monitor" ]; then
	[ "$dry_run" = 1 ] || mkdir -p "$(dirname "$monitor")"
	qemu+=(-qmp "unix:$monitor,server=on,wait=off")
fi

tag=0
share_list=""
for dir in "${shares[@]}"; do
	qemu+=(-virtfs "local,path=$dir,mount_tag=klab$tag,security_model=none,id=klab$tag")
	share_list+="klab$tag $dir"$'\n'
	tag=$((tag + 1))
done
cmdline+=$(share_arg "$share_list")
cmdline+=$(exec_arg /dev/ttyS1)
[ "${#cmdline}" -lt 2000 ] || usage_error "kernel command line too long (${#cmdline} bytes): shorten --exec"

if [ "$gdb" = 1 ]; then
	pick_gdb_port
	qemu+=(-gdb "tcp:127.0.0.1:$gdb_port")
	if [ "$gdb_halt" = 1 ]; then
		qemu+=(-S)
		[ "$dry_run" = 1 ] ||
			echo "klab: gdb stub on 127.0.0.1:$gdb_port, CPU halted until the debugger continues" >&2
	else
		[ "$dry_run" = 1 ] ||
			echo "klab: gdb stub on 127.0.0.1:$gdb_port (attach: make gdb-attach)" >&2
	fi
fi
qemu+=(-append "$cmdline")

[ "$dry_run" = 1 ] || echo "klab: booting $(basename "$kernel") under ${accel^^} ($cpus vCPUs, $mem)" >&2

if [ "$have_exec" = 0 ]; then
	# Interactive: QEMU owns the terminal, console and monitor multiplexed
	# on it; Ctrl-a x quits, Ctrl-a c toggles the monitor, Ctrl-C goes to
	# the guest.
	if [ "$console" = pty ]; then
		qemu+=(-chardev "pty,id=con${log:+,logfile=$log}"
			-serial chardev:con -monitor none)
	else
		con="stdio,mux=on,id=con,signal=off${log:+,logfile=$log}"
		qemu+=(-chardev "$con"
			-serial chardev:con -mon "chardev=con,mode=readline")
	fi
	if [ -n "$timeout_s" ]; then
		qemu=(timeout --foreground "$timeout_s" "${qemu[@]}")
	fi
	if [ "$dry_run" = 1 ]; then
		quote "${qemu[@]}"
		exit 0
	fi
	[ -n "$monitor" ] && echo "klab: monitor (QMP) on $monitor" >&2
	start_watch
	exec "${qemu[@]}"
fi

# --exec: no terminal input; the console goes to stdout (and --log), and the
# guest's last word "klab-exit: N" becomes our exit status.
qemu+=(-chardev "stdio,id=con,signal=off" -serial chardev:con -monitor none)
# --out: the second serial port (ttyS1) writes to the file.
[ -n "$out" ] && qemu+=(-chardev "file,id=out,path=$(realpath -m "$out")" -serial chardev:out)
qemu=(timeout -k 5 "$timeout_s" "${qemu[@]}")
if [ "$dry_run" = 1 ]; then
	quote "${qemu[@]}"
	exit 0
fi
start_watch
run_exec "${qemu[@]}"
