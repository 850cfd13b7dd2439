#!/usr/bin/env bash
# make rootfs ROOTFS=debian: a minimal Debian bookworm (debootstrap
# --variant=minbase) with strace, gdb, procps, iproute2, python3-drgn (drgn on
# /proc/kcore: docs/drgn.md), the lab's static
# test programs and an init hook (/sbin/klab-init, from
# rootfs/debian/klab-init), packed into an ext4 image with mkfs.ext4 -d.
#
# Two cached stages, each rebuilt only when its inputs change:
#   base   $KLAB_BUILD/rootfs/debian/root: debootstrap from the archive the
#          machine's apt already uses (read from its sources; override with
#          KLAB_DEBIAN_MIRROR=URL). Slow (minutes, ~200 MB), needs root.
#   image  $KLAB_BUILD/rootfs/debian.ext4: the base + our files, packed
#          without mounting anything. Seconds.
# The guest boots it as root=/dev/vda (QEMU, virtio-blk) or /dev/ubda (UML),
# on a throw-away overlay (scripts/run-vm.sh --rootfs debian): the image
# itself is never written.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

suite=bookworm
# debootstrap does not resolve virtual packages: gdb needs
# libsource-highlight4v5, which needs the virtual libboost-regex1.74.0-icu72
# that libboost-regex1.74.0 provides, so that one is named here.
include=strace,gdb,procps,iproute2,libboost-regex1.74.0,python3-drgn
dir=$KLAB_BUILD/rootfs/debian
root=$dir/root
image=$KLAB_DEBIAN_IMAGE
mkdir -p "$dir" "$KLAB_LOGS"

# The machine's own Debian archive: the first "deb" source serving $suite
# with the main component, one-line (sources.list, *.list) or deb822
# (*.sources) format.
apt_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) { for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } }
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: paragraphs separated by blank lines.
		awk -v s="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && (" " comps " ") ~ / main /) {
					split(uris, u, " "); print u[1]
				}
				types = uris = suites = comps = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
			END { flush() }' "$f"
	done
}

mirror=${KLAB_DEBIAN_MIRROR:-$(apt_mirror | head -n 1)}
[ -n "$mirror" ] || die "no Debian $suite archive with 'main' in /etc/apt/sources.list*: set KLAB_DEBIAN_MIRROR=URL"

base_stamp=$(printf '%s\n' "$suite" "$mirror" "$include" "$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null)" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$dir/base.stamp" 2>/dev/null)" != "$base_stamp" ] || [ ! -x "$root/bin/bash" ]; then
	command -v debootstrap >/dev/null || die "debootstrap missing (run: scripts/deps.sh)"
	# debootstrap chroots, creates device nodes and sets owners: as a user
	# it fails half-way with an obscure error, so say so first.
	[ "$(id -u)" = 0 ] ||
		die "debootstrap needs root (chroot, device nodes, file owners): run once 'sudo make rootfs ROOTFS=debian' (the result is cached in $dir)"
	stage rootfs "debootstrap --variant=minbase $suite from $mirror (a few minutes; log: $KLAB_LOGS/debootstrap.log)"
	start=$(date +%s)
	rm -rf "$root" "$dir/base.stamp"
	# The downloaded packages stay in $dir/cache: a rebuild (new inputs,
	# a failed attempt) does not fetch them again.
	mkdir -p "$dir/cache"
	if ! debootstrap --variant=minbase --include="$include" --cache-dir="$dir/cache" \
		"$suite" "$root" "$mirror" \
		>"$KLAB_LOGS/debootstrap.log" 2>&1; then
		tail -n 15 "$KLAB_LOGS/debootstrap.log" >&2
		if grep -qE 'Failed getting release file|Couldn.t download|Failure trying to run|unable to resolve|Could not resolve' \
			"$KLAB_LOGS/debootstrap.log"; then
			die "debootstrap could not fetch $suite from $mirror (the archive of the apt sources): is it reachable? (log: $KLAB_LOGS/debootstrap.log)"
		fi
		die "debootstrap failed (log: $KLAB_LOGS/debootstrap.log)"
	fi
	# Package lists are not needed in the image.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
	echo "$base_stamp" >"$dir/base.stamp"
	stage rootfs "debootstrap done in $(($(date +%s) - start))s: $(du -sm "$root" | cut -f1) MB"
fi

# Our files in the image, as "source destination mode" lines.
run_logged "$KLAB_LOGS/tests-build.log" make -C "$KLAB_ROOT/tests" -j"$(nproc_jobs)"
run_logged "$KLAB_LOGS/gdb-guest-build.log" make -C "$KLAB_ROOT/gdb/guest"
payload() {
	local f
	echo "$KLAB_ROOT/rootfs/debian/klab-init sbin/klab-init 0755"
	echo "/bin/busybox usr/local/bin/busybox 0755"
	echo "$KLAB_ROOT/tests/bin/klab-run-tests usr/local/bin/klab-run-tests 0755"
	for f in "$KLAB_ROOT"/rootfs/bin/* "$KLAB_ROOT"/bench/bin/* "$KLAB_ROOT"/gdb/bin/*; do
		[ -f "$f" ] && echo "$f usr/local/bin/$(basename "$f") 0755"
	done
	for f in "$KLAB_ROOT"/tests/bin/suites/*; do
		[ -f "$f" ] && echo "$f tests/suites/$(basename "$f") 0755"
	done
	return 0
}
want=$( (
	echo "$base_stamp"
	sha256sum <"$0"
	payload | while read -r src dst mode; do
		echo "$dst $mode $(sha256sum <"$src" | cut -d' ' -f1)"
	done
) | sha256sum | cut -d' ' -f1)
if [ -f "$image" ] && [ "$(cat "$image.stamp" 2>/dev/null)" = "$want" ]; then
	exit 0
fi

stage rootfs "Debian image: $(payload | wc -l) files of ours into $image"
start=$(date +%s)
rm -rf "$root/tests" "$root/usr/local/bin" "$root/usr/local/sbin"
mkdir -p "$root/tests/suites" "$root/usr/local/bin" "$root/usr/local/sbin"
payload | while read -r src dst mode; do
	install -m "$mode" "$src" "$root/$dst"
done
# No init system: poweroff, reboot and halt are busybox's, which signal
# PID 1 (klab-init) to do it.
for cmd in poweroff reboot halt; do
	printf '#!/bin/sh\nexec busybox %s "$@"\n' "$cmd" >"$root/usr/local/sbin/$cmd"
	chmod 0755 "$root/usr/local/sbin/$cmd"
done
echo kevent-lab-debian >"$root/etc/hostname"
# Room to work in: the files plus a quarter, at least 256 MB free.
used=$(du -sm "$root" | cut -f1)
size=$((used + used / 4 + 256))
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing (run: scripts/deps.sh)"
# mkfs.ext4 -d copies the tree into the new file system as it is created:
# no loop device, no mount, owners and modes as in the tree.
run_logged "$KLAB_LOGS/mkfs-debian.log" mkfs.ext4 -q -F -L klab-debian -d "$root" "$image.tmp" "${size}M"
mv "$image.tmp" "$image"
echo "$want" >"$image.stamp"
stage rootfs "Debian image done in $(($(date +%s) - start))s: $image (${size} MB)"
