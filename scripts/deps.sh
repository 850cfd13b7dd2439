#!/usr/bin/env bash
# Install the Debian packages the lab needs, only those that are missing.
# Idempotent and silent when everything is present.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

packages=(
	"$KLAB_KERNEL_PKG" qemu-system-x86 busybox-static gdb ccache
	build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils
	python3 sparse kmod
	mandoc graphviz
	debootstrap e2fsprogs
	gnuplot-nox
	python3-drgn socat
)
# mandoc: make man and the man page checks (mandoc -Tlint); graphviz: make
# docs renders docs/diagrams/*.dot. debootstrap and e2fsprogs: make rootfs
# ROOTFS=debian (mkfs.ext4 -d packs the image). gnuplot-nox: make bench
# renders its plots (SVG, no X). python3-drgn: make drgn (docs/drgn.md)
# opens the guest's memory dumps; socat talks to QEMU's monitor socket
# (run-vm.sh --monitor, --dump-on-panic). io_uring needs no package:
# bench/kbench.c uses its raw system calls and the libc headers'
# <linux/io_uring.h>.
# gdb-multiarch is not needed: host and guest are both x86_64.

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		die "missing packages (${missing[*]}): run as root or install sudo"
	fi
else
	SUDO=()
fi

stage deps "installing ${missing[*]}"
mkdir -p "$KLAB_LOGS"
log=$KLAB_LOGS/deps.log
export DEBIAN_FRONTEND=noninteractive
run_logged "$log" "${SUDO[@]}" apt-get update -q
run_logged "$log.install" "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
