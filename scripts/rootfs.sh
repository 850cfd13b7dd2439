#!/usr/bin/env bash
# Build the lab's initramfs: Debian's static busybox, rootfs/init, and the
# statically linked test programs. Rebuilt only when one of its inputs changed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# ROOTFS=debian: the Debian image instead (scripts/rootfs-debian.sh).
if [ "$KLAB_ROOTFS" = debian ]; then
	exec "$KLAB_ROOT/scripts/rootfs-debian.sh"
fi

busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox not found (run scripts/deps.sh)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (install busybox-static)"
fi

out=$KLAB_INITRD
mkdir -p "$(dirname "$out")" "$KLAB_LOGS"

run_logged "$KLAB_LOGS/tests-build.log" make -C "$KLAB_ROOT/tests" -j"$(nproc_jobs)"
# The guest programs of the GDB walkthroughs (kevent-demo).
run_logged "$KLAB_LOGS/gdb-guest-build.log" make -C "$KLAB_ROOT/gdb/guest"

# Everything that ends up in the image, as "source destination" pairs.
inputs() {
	echo "$busybox bin/busybox"
	echo "$KLAB_ROOT/rootfs/init init"
	echo "$KLAB_ROOT/rootfs/etc/passwd etc/passwd"
	echo "$KLAB_ROOT/rootfs/etc/group etc/group"
	# libevent's DNS tests read them (docs/libevent.md).
	echo "$KLAB_ROOT/rootfs/etc/hosts etc/hosts"
	echo "$KLAB_ROOT/rootfs/etc/resolv.conf etc/resolv.conf"
	echo "$KLAB_ROOT/tests/bin/klab-run-tests bin/klab-run-tests"
	local f
	for f in "$KLAB_ROOT"/rootfs/bin/*; do
		[ -f "$f" ] && echo "$f bin/$(basename "$f")"
	done
	# Only suites that still have a source: a binary left in tests/bin by
	# an earlier build of a suite since removed (or not yet written, as in
	# a lab exercise's start) must not run.
	for f in "$KLAB_ROOT"/tests/bin/suites/*; do
		[ -f "$f" ] || continue
		[ -f "$KLAB_ROOT/tests/suites/$(basename "$f").c" ] ||
			[ -f "$KLAB_ROOT/tests/suites/$(basename "$f").sh" ] ||
			[ -d "$KLAB_ROOT/tests/suites/$(basename "$f")" ] || continue
		echo "$f tests/suites/$(basename "$f")"
	done
	for f in "$KLAB_ROOT"/bench/bin/* "$KLAB_ROOT"/gdb/bin/*; do
		[ -f "$f" ] && echo "$f bin/$(basename "$f")"
	done
	# libevent's regress, bench and bench_cascade with our backend, when
	# scripts/libevent.sh built them (make test and make bench-libevent
	# do; the libevent_* suites skip without them).
	for f in "$KLAB_BUILD"/libevent/guest/*; do
		[ -f "$f" ] && echo "$f usr/libexec/libevent/$(basename "$f")"
	done
	return 0
}

# The stamp covers this script too: a change in how the image is packed
# repacks it.
want=$( (
	sha256sum <"$0"
	inputs | while read -r src dst; do
		echo "$dst $(sha256sum <"$src" | cut -d' ' -f1)"
	done
) | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then
	exit 0
fi

stage rootfs "packing $(inputs | wc -l) files into $out"
# gen_init_cpio (from the kernel tree) writes device nodes and owners without
# needing root: /dev/console must exist before init runs, or init has no
# stdin/stdout.
gen=$KLAB_BUILD/rootfs/gen_init_cpio
if [ ! -x "$gen" ] || [ "$KLAB_SRC/usr/gen_init_cpio.c" -nt "$gen" ]; then
	[ -f "$KLAB_SRC/usr/gen_init_cpio.c" ] || "$KLAB_ROOT/scripts/kernel.sh" prepare
	gcc -O2 -o "$gen" "$KLAB_SRC/usr/gen_init_cpio.c"
fi
spec=$KLAB_BUILD/rootfs/initramfs.list
{
	for d in bin sbin dev proc sys root etc tests tests/suites usr usr/bin usr/sbin usr/libexec usr/libexec/libevent; do
		echo "dir /$d 0755 0 0"
	done
	echo "dir /tmp 1777 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	# init is a busybox sh script: sh must exist before busybox --install.
	echo "slink /bin/sh busybox 0777 0 0"
	inputs | while read -r src dst; do
		case "$dst" in
		etc/*) mode=0644 ;;
		*) mode=0755 ;;
		esac
		echo "file /$dst $src $mode 0 0"
	done
} >"$spec"
"$gen" "$spec" | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
echo "$want" >"$out.stamp"
