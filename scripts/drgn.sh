#!/usr/bin/env bash
# make drgn: open a memory dump of the lab guest in drgn with the matching
# vmlinux and the kevent views of gdb/kevent-drgn.py (docs/drgn.md).
#
#   scripts/drgn.sh [--core FILE | --demo] [--dump FILE] [VIEW ...]
#   scripts/drgn.sh --live [VIEW ...]     (make drgn LIVE=1 ROOTFS=debian)
#
# Which dump:
#   --core FILE (make drgn CORE=FILE)   that one: a dump of run-vm.sh
#               --dump-on-panic or of an earlier make drgn
#   otherwise   a dump of the newest running guest of make vm or make test
#               (their monitor sockets are in $KLAB_BUILD/vm/), written to
#               $KLAB_BUILD/drgn/vmcore.elf
#               (QEMU stops the guest for the time of the write, under a
#               second for 1 GB here, then lets it run on); with no guest
#               running, one is booted that holds a queue in a known state
#               (kevent-demo hold), dumped, and let go (the kernel and
#               the initramfs are built first if they need to be: the
#               other cases build nothing, a rebuilt vmlinux would not
#               match the guest; the dump's build ID is checked).
#   --demo      the demo guest even if a make vm runs
#   --dump FILE write the dump there (the demo's console: FILE.console)
#   --live      no dump: boot the Debian image (ROOTFS=debian), whose
#               python3-drgn reads the running kernel through /proc/kcore,
#               with this tree shared at its path (vmlinux, helpers, kernel
#               tree); kevent-demo hold holds its queue while drgn prints
#               VIEW (default: all)
# VIEW (make drgn VIEW="queues -- ready 102:3"): print the views and exit,
# as gdb/kevent-drgn.py describes; without one, drgn's interactive prompt
# with the views as functions.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

core=""
dump=""
demo=0
live=0
while [ $# -gt 0 ]; do
	case "$1" in
	--core | --dump)
		[ $# -ge 2 ] || die "$1 needs a file"
		if [ "$1" = --core ]; then core=$2; else dump=$2; fi
		shift 2
		;;
	--demo) demo=1; shift ;;
	--live) live=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done

[ "$KLAB_BACKEND" = qemu ] || die "make drgn opens dumps of QEMU guests (BACKEND=uml has no monitor)"
[ "$KLAB_VARIANT" = lab ] || die "make drgn needs the lab kernel's debug information (the debug kernel is built without DWARF): drop DEBUG=1"
command -v drgn >/dev/null || die "drgn missing (run: scripts/deps.sh)"
dumps=$KLAB_BUILD/drgn
[ -z "$core" ] || [ "$demo$dump" = 0 ] || die "--core opens a dump; --demo and --dump take one"
qmp=$KLAB_ROOT/scripts/qmp.sh

# running_monitor: the newest monitor socket of a running guest in
# $KLAB_BUILD/vm/ (those of guests that ended stay behind: skipped).
running_monitor() {
	local s
	# newest first
	while IFS= read -r s; do
		[ -S "$s" ] || continue
		if "$qmp" alive "$s"; then
			echo "$s"
			return 0
		fi
	done < <(find "$KLAB_BUILD/vm" -maxdepth 1 -name 'qmp-*.sock' -printf '%T@ %p\n' 2>/dev/null | sort -rn | cut -d' ' -f2-)
	return 1
}

# dump_demo CORE: boot a guest whose kevent-demo holds a known queue state,
# dump it, let the demo finish (its console in CORE.console).
dump_demo() {
	local work mon pid
	"$KLAB_ROOT/scripts/kernel.sh" build
	"$KLAB_ROOT/scripts/rootfs.sh"
	work=$(mktemp -d)
	mon=$work/qmp.sock
	stage drgn "no running guest (make vm): booting one with a demo queue (kevent-demo hold)"
	"$KLAB_ROOT/scripts/run-vm.sh" --mem 128M --monitor "$mon" --share "$work" --timeout 300 \
		--exec "kevent-demo hold $work/go" >"$work/console.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 3000; i++)); do
		grep -qs '^kevent-demo hold: pid' "$work/console.log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -qs '^kevent-demo hold: pid' "$work/console.log"; then
		tail -n 5 "$work/console.log" >&2
		die "the demo guest did not start"
	fi
	grep '^kevent-demo hold: pid' "$work/console.log" >&2
	"$qmp" dump "$mon" "$1"
	touch "$work/go"
	wait "$pid" || true
	cp "$work/console.log" "$1.console"
	rm -rf "$work"
}

# live VIEW...: drgn inside the Debian guest, on its own /proc/kcore.
live() {
	local views=("$@") shares=(--share "$KLAB_ROOT") cmd
	[ "${#views[@]}" -gt 0 ] || views=(all)
	[ "$KLAB_ROOTFS" = debian ] ||
		die "drgn runs live in the Debian guest (the busybox one has no Python): make drgn LIVE=1 ROOTFS=debian"
	"$KLAB_ROOT/scripts/kernel.sh" build
	"$KLAB_ROOT/scripts/rootfs.sh"
	case "$KLAB_BUILD/" in "$KLAB_ROOT"/*) ;; *) shares+=(--share "$KLAB_BUILD") ;; esac
	cmd="kevent-demo hold /tmp/go >/tmp/demo.log 2>&1 & demo=\$!"
	cmd+="; while ! grep -q '^kevent-demo hold: pid' /tmp/demo.log; do sleep 0.1; done; cat /tmp/demo.log"
	cmd+="; drgn -q -s $(quote "$KLAB_VMLINUX") $(quote "$KLAB_ROOT/gdb/kevent-drgn.py") --src $(quote "$KLAB_SRC") $(quote "${views[@]}"); rc=\$?"
	cmd+="; touch /tmp/go; wait \$demo || rc=1; cat /tmp/demo.log | tail -n 2; exit \$rc"
	stage drgn "booting the Debian image: drgn on /proc/kcore beside kevent-demo hold"
	exec "$KLAB_ROOT/scripts/run-vm.sh" --rootfs debian "${shares[@]}" --timeout 600 --exec "$cmd"
}
if [ "$live" = 1 ]; then
	if [ -n "$core$dump" ] || [ "$demo" = 1 ]; then
		die "--live reads the running kernel: no --core, --dump or --demo"
	fi
	live "$@"
fi

if [ -z "$core" ]; then
	core=${dump:-$dumps/vmcore.elf}
	mkdir -p "$(dirname "$core")"
	if [ "$demo" = 0 ] && mon=$(running_monitor); then
		stage drgn "dumping the running guest (monitor $mon)"
		"$qmp" dump "$mon" "$core"
	else
		dump_demo "$core"
	fi
	stage drgn "$core ($(du -h "$core" | cut -f1))"
fi
[ -f "$core" ] || die "no dump $core"
[ -f "$KLAB_VMLINUX" ] || die "no $KLAB_VMLINUX (run: make kernel)"

# The dump's VMCOREINFO names the kernel's build ID: a vmlinux of another
# build would make drgn read garbage.
want=$(head -c 1048576 "$core" | tr -c '[:print:]\n' '\n' | sed -n 's/^BUILD-ID=\([0-9a-f]*\)$/\1/p' | head -n 1)
have=$(readelf -n "$KLAB_VMLINUX" | sed -n 's/^ *Build ID: \([0-9a-f]*\)$/\1/p' | head -n 1)
if [ -z "$want" ]; then
	die "$core has no VMCOREINFO build ID: not a dump of the lab kernel (QEMU needs -device vmcoreinfo, run-vm.sh adds it)"
elif [ "$want" != "$have" ]; then
	die "$core is a dump of kernel build $want, $KLAB_VMLINUX is $have: rebuild the kernel the dump was taken from"
fi

exec drgn -q -c "$core" -s "$KLAB_VMLINUX" "$KLAB_ROOT/gdb/kevent-drgn.py" \
	--src "$KLAB_SRC" --core "$core" "$@"
