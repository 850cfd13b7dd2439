#!/usr/bin/env bash
# The one QEMU launcher of the lab. Every make target boots through it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
Usage: scripts/run-vm.sh [OPTIONS]

Boot the lab kernel with the lab initramfs under QEMU, serial console on
this terminal. Without --exec you get a busybox shell: leave with 'poweroff'
or Ctrl-a x.

  --kernel FILE      kernel image (default: $KLAB_BZIMAGE)
  --initrd FILE      initramfs (default: $KLAB_INITRD)
  --append ARGS      extra kernel command line
  --cpus N           virtual CPUs (default: 2)
  --mem SIZE         guest memory (default: 1G)
  --exec 'CMD'       run CMD with sh in the guest, print its output, power
                     off and exit with CMD's exit status (non-zero if the
                     guest panicked or never reported a status)
  --timeout S        kill the guest after S seconds and fail (default: none
                     interactively, 600 with --exec)
  --share DIR        mount host directory DIR at the same path in the guest
                     (virtio-9p); may be repeated
  --gdb              start QEMU's gdb stub on 127.0.0.1 and halt the CPU
                     until a debugger continues it
  --gdb-run          start the gdb stub but let the guest run; a debugger
                     can attach later (make gdb-attach)
  --gdb-port PORT    port of the gdb stub (default: the first free from 1234)
  --gdb-port-file F  write "PORT PID" to F once the port is chosen (PID:
                     this launcher, QEMU itself when interactive)
  --console pty      put the console on a new pseudo-terminal instead of
                     this terminal (QEMU prints its path; connect with
                     'busybox microcom PATH'); no monitor. Interactive only
  --log FILE         also write the console to FILE
  --accel kvm|tcg    force an accelerator (default: KVM when /dev/kvm is
                     usable, TCG otherwise)
  -h, --help         this text

Environment: DEBUG=1 boots the debug kernel variant.
EOF
}

kernel=$KLAB_BZIMAGE
initrd=$KLAB_INITRD
append=""
cpus=2
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
accel=""

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--append) append=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--mem) mem=$2; shift ;;
	--exec) exec_cmd=$2; have_exec=1; shift ;;
	--timeout) timeout_s=$2; shift ;;
	--share) shares+=("$(cd "$2" && pwd)"); shift ;;
	--gdb) gdb=1 ;;
	--gdb-run) gdb=1; gdb_halt=0 ;;
	--gdb-port) gdb_port=$2; gdb=1; shift ;;
	--gdb-port-file) gdb_port_file=$2; shift ;;
	--console) console=$2; shift ;;
	--log) log=$2; shift ;;
	--accel) accel=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
	shift
done

[ -f "$kernel" ] || die "no kernel at $kernel (run: make kernel)"
[ -f "$initrd" ] || die "no initramfs at $initrd (run: make rootfs)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (run: scripts/deps.sh)"
case "$cpus" in '' | *[!0-9]*) die "--cpus takes a number" ;; esac
case "$console" in
stdio) ;;
pty) [ "$have_exec" = 0 ] || die "--console pty is for interactive use, not with --exec" ;;
*) die "--console takes stdio or pty" ;;
esac
if [ -n "$timeout_s" ]; then
	case "$timeout_s" in *[!0-9]*) die "--timeout takes seconds" ;; esac
elif [ "$have_exec" = 1 ]; then
	timeout_s=600
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
tcg) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
*) die "--accel takes kvm or tcg" ;;
esac

cmdline="console=ttyS0 nokaslr panic=-1 loglevel=5"
# The debug kernel under TCG can spend tens of seconds in one stretch of
# KASAN/kmemleak/lockdep bookkeeping at boot: without a longer threshold the
# soft-lockup watchdog reports emulation slowness as a kernel bug.
[ "$KLAB_VARIANT" = debug ] && [ "$accel" = tcg ] && cmdline+=" watchdog_thresh=60"
cmdline+=" $append"
qemu=(qemu-system-x86_64 -machine pc "${accel_args[@]}" -smp "$cpus" -m "$mem"
	-kernel "$kernel" -initrd "$initrd" -display none -no-reboot
	-device virtio-rng-pci)

tag=0
share_list=""
for dir in "${shares[@]}"; do
	qemu+=(-virtfs "local,path=$dir,mount_tag=klab$tag,security_model=none,id=klab$tag")
	share_list+="klab$tag $dir"$'\n'
	tag=$((tag + 1))
done
[ -n "$share_list" ] && cmdline+=" klab_share=$(printf '%s' "$share_list" | base64 -w0)"
# The command travels base64-encoded on the kernel command line, so any
# quoting survives; rootfs/init decodes it.
if [ "$have_exec" = 1 ]; then
	cmdline+=" klab_exec=$(printf '%s' "$exec_cmd" | base64 -w0)"
fi
[ "${#cmdline}" -lt 2000 ] || die "kernel command line too long (${#cmdline} bytes): shorten --exec"

# Is a TCP port taken (bound, listening or connected, IPv4 or IPv6)? Read
# from /proc/net/tcp*, never by connecting: a connection to the gdb stub of a
# running guest would stop that guest.
port_in_use() {
	grep -qs -- "$(printf ':%04X ' "$1")" /proc/net/tcp /proc/net/tcp6
}

if [ "$gdb" = 1 ]; then
	if [ -z "$gdb_port" ]; then
		gdb_port=1234
		while port_in_use "$gdb_port"; do
			gdb_port=$((gdb_port + 1))
		done
	fi
	case "$gdb_port" in '' | *[!0-9]*) die "--gdb-port takes a number" ;; esac
	qemu+=(-gdb "tcp:127.0.0.1:$gdb_port")
	if [ "$gdb_halt" = 1 ]; then
		qemu+=(-S)
		echo "klab: gdb stub on 127.0.0.1:$gdb_port, CPU halted until the debugger continues" >&2
	else
		echo "klab: gdb stub on 127.0.0.1:$gdb_port (attach: make gdb-attach)" >&2
	fi
	if [ -n "$gdb_port_file" ]; then
		mkdir -p "$(dirname "$gdb_port_file")"
		echo "$gdb_port $$" >"$gdb_port_file"
	fi
fi
qemu+=(-append "$cmdline")

echo "klab: booting $(basename "$kernel") under ${accel^^} ($cpus vCPUs, $mem)" >&2

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
		exec timeout --foreground "$timeout_s" "${qemu[@]}"
	fi
	exec "${qemu[@]}"
fi

# --exec: no terminal input; the console goes to stdout (and --log), and the
# guest's last word "klab-exit: N" becomes our exit status.
qemu+=(-chardev "stdio,id=con,signal=off" -serial chardev:con -monitor none)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tee "$out" | stdbuf -oL tr -d '\r'
rc=${PIPESTATUS[0]}
set -e
[ -n "$log" ] && tr -d '\r' <"$out" >"$log"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "klab: guest timed out after ${timeout_s}s and was killed" >&2
	exit 124
fi
status=$(tr -d '\r' <"$out" | sed -n 's/^klab-exit: \([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$status" ]; then
	if grep -q 'Kernel panic' "$out"; then
		echo "klab: the guest kernel panicked" >&2
	else
		echo "klab: the guest ended without reporting a status (qemu exit $rc)" >&2
	fi
	exit 125
fi
exit "$status"
