# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the scripts that source this file
# Common settings and helpers of the lab scripts. Sourced, never run.
#
# Everything that pins the kernel lives here: the Debian package that ships the
# source, the tarball it installs and the directory the tarball unpacks to.

KLAB_KERNEL_PKG=linux-source-6.12
KLAB_KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
KLAB_KERNEL_TOPDIR=linux-source-6.12

KLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# One extracted tree and one ccache can serve several clones: point
# KLAB_BUILD at a shared directory.
KLAB_BUILD=${KLAB_BUILD:-$KLAB_ROOT/build}
KLAB_SRC=$KLAB_BUILD/src/$KLAB_KERNEL_TOPDIR
# BACKEND=qemu (default) boots the x86_64 kernel under QEMU; BACKEND=uml
# builds the same tree as User-Mode Linux (ARCH=um), a kernel that runs as a
# process of the host.
KLAB_BACKEND=${BACKEND:-qemu}
case "$KLAB_BACKEND" in
qemu | uml) ;;
*)
	printf 'error: BACKEND=%s: the backends are qemu and uml\n' "$KLAB_BACKEND" >&2
	exit 2
	;;
esac
# DEBUG=1 selects the debug kernel variant (KASAN, lockdep, ...), built in
# its own output directory so switching variants never forces a full rebuild.
# The UML kernel is a variant of its own, next to them.
if [ "$KLAB_BACKEND" = uml ]; then
	if [ "${DEBUG:-0}" = 1 ]; then
		printf 'error: DEBUG=1 is a QEMU kernel; the UML backend has no debug variant (drop BACKEND=uml or DEBUG=1)\n' >&2
		exit 2
	fi
	KLAB_VARIANT=uml
elif [ "${DEBUG:-0}" = 1 ]; then
	KLAB_VARIANT=debug
else
	KLAB_VARIANT=lab
fi
KLAB_OBJ=$KLAB_BUILD/obj-$KLAB_VARIANT
KLAB_LOGS=$KLAB_BUILD/logs
KLAB_VMLINUX=$KLAB_OBJ/vmlinux
KLAB_BZIMAGE=$KLAB_OBJ/arch/x86/boot/bzImage
# The UML kernel is an ordinary host executable (a copy of vmlinux).
KLAB_UML_LINUX=$KLAB_OBJ/linux
if [ "$KLAB_BACKEND" = uml ]; then
	KLAB_KERNEL_IMAGE=$KLAB_UML_LINUX
else
	KLAB_KERNEL_IMAGE=$KLAB_BZIMAGE
fi
KLAB_INITRD=$KLAB_BUILD/rootfs/initramfs.cpio.gz
# ROOTFS=debian boots a debootstrap Debian image (scripts/rootfs-debian.sh)
# instead of the busybox initramfs.
KLAB_ROOTFS=${ROOTFS:-busybox}
case "$KLAB_ROOTFS" in
busybox | debian) ;;
*)
	printf 'error: ROOTFS=%s: the root file systems are busybox and debian\n' "$KLAB_ROOTFS" >&2
	exit 2
	;;
esac
# The debug kernel has no block layer (kernel/configs/debug.config keeps
# its cold build short), so it cannot mount the Debian image's disk.
if [ "$KLAB_ROOTFS" = debian ] && [ "$KLAB_VARIANT" = debug ]; then
	printf 'error: ROOTFS=debian runs on the lab kernel (or BACKEND=uml): the debug kernel has no block devices (drop DEBUG=1)\n' >&2
	exit 2
fi
KLAB_DEBIAN_IMAGE=$KLAB_BUILD/rootfs/debian.ext4
# The compiler cache belongs to the user, not to a clone: it survives
# make distclean and a fresh clone, and serves every clone that builds in the
# same directory (KLAB_BUILD). CCACHE_DIR overrides it. Its size limit is
# set once, when the cache has none (scripts/kernel.sh).
if [ -z "${CCACHE_DIR:-}" ]; then
	if [ -n "${XDG_CACHE_HOME:-}" ] || [ -n "${HOME:-}" ]; then
		CCACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/kevent-lab/ccache
	else
		CCACHE_DIR=$KLAB_BUILD/ccache
	fi
fi
export CCACHE_DIR
KLAB_CCACHE_MAX_SIZE=5G

klab_t0=${klab_t0:-$(date +%s)}
export klab_t0

# stage NAME MESSAGE: one progress line per stage, with the time since the
# first stage of this make invocation.
stage() {
	local now
	now=$(date +%s)
	printf '[%4ds] %-8s %s\n' "$((now - klab_t0))" "$1" "$2"
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# quote WORDS...: the words as one line that a shell reads back as the same
# words (single quotes only where needed).
quote() {
	local w sep=""
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
			printf '%s%s' "$sep" "$w"
		else
			printf "%s'%s'" "$sep" "${w//\'/\'\\\'\'}"
		fi
		sep=" "
	done
	printf '\n'
}

# ktap_summary EXTRA RUNNER_RC CONSOLE KTAP...: the summary of a test run
# (scripts/ktap-summary.awk): the results of the KTAP files, the guest
# runner's own output among them (run-vm.sh --out), and the kernel's
# messages of the guest CONSOLE (scripts/console-kernel.awk), splats blamed
# on the suite they came during. EXTRA: one more failure to report (the
# guest timed out, ...), or empty. Exit status 0 only when all passed.
ktap_summary() {
	local extra=$1 runner_rc=$2 console=$3
	shift 3
	awk -f "$KLAB_ROOT/scripts/console-kernel.awk" "$console" |
		cat "$@" - | awk -v extra="$extra" -v runner_rc="$runner_rc" \
		-f "$KLAB_ROOT/scripts/ktap-summary.awk"
}

# guest_check DIR CMD: the guest half of a lab exercise's check.sh: run CMD
# in a guest that shares DIR (5 minutes at most), print its "ok", "FAIL" and
# "#" lines from its own line (run-vm.sh --out, where no kernel message cuts
# one as on the console), and say why when the guest gave no verdict.
# Returns CMD's exit status (124: timed out, 125: no status).
guest_check() {
	local dir=$1 cmd=$2 rc=0
	"$KLAB_ROOT/scripts/run-vm.sh" --timeout 300 --share "$dir" --out "$dir/guest.out" \
		--exec "$cmd" >"$dir/console.log" 2>&1 || rc=$?
	sed -n '/^\(ok\|FAIL\|#\) /p' "$dir/guest.out" 2>/dev/null || true
	[ "$rc" != 124 ] || echo "FAIL the guest timed out"
	[ "$rc" != 125 ] || { echo "FAIL the guest ended without a status:"; tail -n 5 "$dir/console.log"; }
	return "$rc"
}

# run_logged LOG CMD...: run CMD with its output in LOG; on failure show the
# end of the log and the log's path.
run_logged() {
	local log=$1
	shift
	mkdir -p "$(dirname "$log")"
	if ! "$@" >"$log" 2>&1; then
		echo "---- last lines of $log ----" >&2
		tail -n 40 "$log" >&2
		die "'$*' failed (full log: $log)"
	fi
}

# sync_file SRC DST: copy only when the content differs, so make sees a new
# timestamp only on files that really changed.
sync_file() {
	if ! cmp -s "$1" "$2"; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
		return 0
	fi
	return 1
}

nproc_jobs() {
	nproc 2>/dev/null || echo 2
}

# KVM needs an openable /dev/kvm *and* hardware virtualisation visible to this
# machine: some sandboxes have the device node but no vmx/svm, and a KVM guest
# there never runs a single instruction.
kvm_usable() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo
}

# Generated sections of a document: the lines between a "begin" and an
# "end" marker line (HTML comments) are a program's output, never edited.
# doc_section DOC BEGIN END: print the lines between the markers.
doc_section() {
	awk -v begin="$2" -v end="$3" '
		$0 == end { inside = 0 }
		inside
		$0 == begin { inside = 1 }' "$1"
}
# doc_replace_section DOC BEGIN END FILE: put FILE's lines between them.
doc_replace_section() {
	local doc=$1 begin=$2 end=$3 gen=$4
	grep -qxF "$begin" "$doc" || die "$doc has no line: $begin"
	grep -qxF "$end" "$doc" || die "$doc has no line: $end"
	awk -v begin="$begin" -v end="$end" -v gen="$gen" '
		$0 == begin { print; while ((getline l < gen) > 0) print l; skip = 1; next }
		$0 == end { skip = 0 }
		!skip' "$doc" >"$doc.tmp"
	mv "$doc.tmp" "$doc"
}
# docs/performance-server.md's generated section (scripts/bench-server.sh
# writes it, scripts/host-checks.sh checks it against the kept run).
KSERVER_DOC_BEGIN='<!-- bench-server: begin (generated by scripts/kserver-report.awk from docs/performance/kserver.txt; do not edit) -->'
KSERVER_DOC_END='<!-- bench-server: end -->'
