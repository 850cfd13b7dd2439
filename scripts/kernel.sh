#!/usr/bin/env bash
# Prepare, configure and build the lab kernel.
#
#   scripts/kernel.sh prepare   extract the Debian tarball, lay kernel/ on top
#   scripts/kernel.sh config    merge the fragments onto tinyconfig
#   scripts/kernel.sh build     prepare + config + incremental ccache build
#   scripts/kernel.sh check     checkpatch --strict, W=1 and sparse on our files
#   scripts/kernel.sh make-cmd  print the kernel make command of a build
#                               (its clean environment included), run nothing
#   scripts/kernel.sh make ARGS run the kernel's make with ARGS on the lab
#                               tree and objects (menuconfig, kevent/core.i)
#
# The tree is extracted once into $KLAB_BUILD/src and built out of tree in
# $KLAB_BUILD/obj-<variant>. Our files are copied only when their content
# changed, so an edit to one file rebuilds only what depends on it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

overlay_manifest=$KLAB_SRC/.klab-overlay
applied_dir=$KLAB_SRC/.klab-applied

extract() {
	[ -f "$KLAB_KERNEL_TARBALL" ] || die "$KLAB_KERNEL_TARBALL not found (run scripts/deps.sh)"
	local want have
	want=$(stat -c '%s %Y' "$KLAB_KERNEL_TARBALL")
	have=$(cat "$KLAB_SRC/.klab-tarball" 2>/dev/null || true)
	[ "$want" = "$have" ] && return 0
	stage prepare "extracting $(basename "$KLAB_KERNEL_TARBALL") into $KLAB_BUILD/src"
	rm -rf "$KLAB_SRC"
	mkdir -p "$KLAB_BUILD/src"
	tar -C "$KLAB_BUILD/src" -xf "$KLAB_KERNEL_TARBALL"
	[ -f "$KLAB_SRC/Makefile" ] || die "tarball did not unpack to $KLAB_SRC"
	echo "$want" >"$KLAB_SRC/.klab-tarball"
	# A new tree invalidates every object built from the old one.
	rm -rf "$KLAB_BUILD"/obj-*
}

# Copy kernel/kevent and kernel/include into the tree; remove files we laid
# down earlier that no longer exist in the repo.
overlay() {
	local new_manifest rel changed=0
	new_manifest=$(mktemp)
	(cd "$KLAB_ROOT/kernel" && find kevent include -type f | LC_ALL=C sort) >"$new_manifest"
	while read -r rel; do
		if sync_file "$KLAB_ROOT/kernel/$rel" "$KLAB_SRC/$rel"; then
			changed=$((changed + 1))
		fi
	done <"$new_manifest"
	if [ -f "$overlay_manifest" ]; then
		comm -23 "$overlay_manifest" "$new_manifest" | while read -r rel; do
			rm -f "$KLAB_SRC/$rel"
		done
	fi
	mv "$new_manifest" "$overlay_manifest"
	[ "$changed" -eq 0 ] || stage prepare "$changed file(s) of ours updated in the tree"
}

# Apply kernel/patches/*.patch once each; a patch whose content changed is
# reverted (from the copy kept at apply time) and applied again.
patches() {
	local p name
	mkdir -p "$applied_dir"
	for p in "$applied_dir"/*.patch; do
		[ -e "$p" ] || continue
		name=$(basename "$p")
		if ! cmp -s "$p" "$KLAB_ROOT/kernel/patches/$name" 2>/dev/null; then
			stage prepare "reverting changed patch $name"
			patch -d "$KLAB_SRC" -p1 -R -s <"$p" || die "cannot revert $name"
			rm -f "$p"
		fi
	done
	for p in "$KLAB_ROOT"/kernel/patches/*.patch; do
		[ -e "$p" ] || continue
		name=$(basename "$p")
		[ -f "$applied_dir/$name" ] && continue
		stage prepare "applying $name"
		patch -d "$KLAB_SRC" -p1 -N -s <"$p" || die "$name does not apply"
		cp "$p" "$applied_dir/$name"
	done
}

prepare() {
	extract
	overlay
	patches
}

locked_prepare() {
	mkdir -p "$KLAB_BUILD"
	(
		flock 8
		prepare
	) 8>"$KLAB_BUILD/.src.lock"
}

fragments() {
	if [ "$KLAB_BACKEND" = uml ]; then
		echo "$KLAB_ROOT/kernel/configs/uml.config"
	else
		echo "$KLAB_ROOT/kernel/configs/lab.config"
	fi
	echo "$KLAB_ROOT/kernel/configs/kevent.config"
	if [ "$KLAB_VARIANT" = debug ]; then
		echo "$KLAB_ROOT/kernel/configs/debug.config"
	fi
}

# kmake_cmd ARGS...: set kcmd to the command that runs the kernel's make with
# ARGS. It runs with a clean environment (env -i, then PATH, HOME, TMPDIR,
# the locale and ccache's CCACHE_* settings): make hands the variables of our
# own command line (make test V=1, any W=, C=, O=, M=) down to every child
# through MAKEFLAGS and the environment, and in the kernel's make they mean
# something else (W=1: extra warnings, -Werror, everything rebuilt). Nothing
# set for our Makefile, and no ARCH, CROSS_COMPILE, KBUILD_* or KCFLAGS of
# the user's environment, can change the kernel build.
kmake_cmd() {
	local v
	kcmd=(env -i)
	for v in PATH HOME TMPDIR LANG LC_ALL $(compgen -e | grep '^CCACHE_' || true); do
		if [ -n "${!v+x}" ]; then
			kcmd+=("$v=${!v}")
		fi
	done
	kcmd+=(make -C "$KLAB_SRC" O="$KLAB_OBJ")
	# UML: the same tree as ARCH=um; its x86_64 subarchitecture takes the
	# system call table from arch/x86's syscall_64.tbl (arch/um's
	# archheaders), so the glue of kernel/patches serves both backends.
	[ "$KLAB_BACKEND" = uml ] && kcmd+=(ARCH=um SUBARCH=x86_64)
	kcmd+=(CC="ccache gcc" HOSTCC="ccache gcc" -j"$(nproc_jobs)" "$@")
}

# The targets of a build: the boot image and the kernel's GDB scripts.
build_targets() {
	if [ "$KLAB_BACKEND" = uml ]; then
		echo linux scripts_gdb
	else
		echo bzImage scripts_gdb
	fi
}

kmake() {
	local -a kcmd
	kmake_cmd "$@"
	"${kcmd[@]}"
}

# Give the compiler cache a size limit once, unless its owner chose one.
ccache_limit() {
	mkdir -p "$CCACHE_DIR"
	if ! grep -qs '^ *max_size *=' "$CCACHE_DIR/ccache.conf"; then
		ccache --max-size "$KLAB_CCACHE_MAX_SIZE" >/dev/null
	fi
}

config() {
	local stamp want frag line sym
	stamp=$KLAB_OBJ/.klab-config
	# Kconfig files of ours take part: a new option must reach .config.
	want=$( (fragments | xargs cat; cat "$KLAB_SRC/kevent/Kconfig" 2>/dev/null) | sha256sum | cut -d' ' -f1)
	if [ -f "$KLAB_OBJ/.config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	stage config "tinyconfig + $(fragments | xargs -n1 basename | tr '\n' ' ')"
	mkdir -p "$KLAB_OBJ"
	local log=$KLAB_LOGS/config-$KLAB_VARIANT.log
	run_logged "$log" kmake tinyconfig
	# shellcheck disable=SC2046
	run_logged "$log.merge" "$KLAB_SRC/scripts/kconfig/merge_config.sh" -m \
		-O "$KLAB_OBJ" "$KLAB_OBJ/.config" $(fragments)
	run_logged "$log.olddefconfig" kmake olddefconfig
	# Every option a fragment asks for must have survived the merge: a
	# silently dropped option is a lab that does not test what it says. A
	# later fragment overrides an earlier one (debug.config turns off what
	# only the lab kernel needs), so each option is checked at its last
	# value.
	local -A wanted=()
	local -a order=()
	for frag in $(fragments); do
		while read -r line; do
			sym=${line%%=*}
			[ -n "${wanted[$sym]+set}" ] || order+=("$sym")
			wanted[$sym]="$line	$(basename "$frag")"
		done < <(grep '^CONFIG_' "$frag")
	done
	for sym in "${order[@]}"; do
		line=${wanted[$sym]%%	*}
		frag=${wanted[$sym]#*	}
		if [ "${line#*=}" = n ]; then
			# Off: "is not set", or absent when its menu is off too.
			! grep -qE "^$sym=[ym]$" "$KLAB_OBJ/.config" ||
				die "$frag: $line did not stick (see $log.merge)"
		elif ! grep -qx "$line" "$KLAB_OBJ/.config"; then
			die "$frag: $line did not stick (see $log.merge)"
		fi
	done
	echo "$want" >"$stamp"
}

build() {
	mkdir -p "$KLAB_BUILD" "$KLAB_LOGS"
	# One build at a time per variant (several make targets or developers
	# may ask at once); the shared source tree is only locked while it is
	# being updated, so the lab and debug variants can build side by side.
	exec 9>"$KLAB_BUILD/.obj-$KLAB_VARIANT.lock"
	flock 9
	stage prepare "$KLAB_SRC"
	locked_prepare
	ccache_limit
	config
	local log=$KLAB_LOGS/build-$KLAB_VARIANT.log start
	start=$(date +%s)
	stage build "$KLAB_VARIANT kernel (log: $log)"
	# shellcheck disable=SC2046 # two target words
	run_logged "$log" kmake $(build_targets)
	stage build "done in $(($(date +%s) - start))s: $KLAB_KERNEL_IMAGE"
}

check() {
	mkdir -p "$KLAB_BUILD" "$KLAB_LOGS"
	exec 9>"$KLAB_BUILD/.obj-$KLAB_VARIANT.lock"
	flock 9
	locked_prepare
	config
	local f rc=0 log=$KLAB_LOGS/check.log
	: >"$log"
	stage check "checkpatch --strict"
	for f in $(cd "$KLAB_ROOT/kernel" && find kevent include -name '*.[ch]' | LC_ALL=C sort); do
		if ! perl "$KLAB_SRC/scripts/checkpatch.pl" --no-tree --strict --terse \
			--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "$KLAB_ROOT/kernel/$f"; then
			rc=1
		fi
	done
	stage check "W=1 C=2 (sparse) on kevent/"
	# C=2 runs sparse on every file of the directory, even up to date ones.
	if ! kmake W=1 C=2 kevent/ >"$log" 2>&1; then
		tail -n 40 "$log"
		rc=1
	fi
	if grep -E 'warning:|error:' "$log" | grep -E '(^|/)kevent/'; then
		rc=1
	fi
	[ "$rc" -eq 0 ] && stage check "clean"
	return "$rc"
}

# make-cmd [ARGS]: print, without running it, the kernel make command of a
# build (default ARGS: the targets of 'build').
make_cmd() {
	local -a kcmd
	# shellcheck disable=SC2046 # two target words
	[ $# -gt 0 ] || set -- $(build_targets)
	kmake_cmd "$@"
	quote "${kcmd[@]}"
}

# make ARGS: the kernel's make on the lab tree, as a build runs it.
make_args() {
	[ $# -gt 0 ] || die "usage: $0 make TARGET... (e.g. menuconfig, kevent/core.i)"
	mkdir -p "$KLAB_BUILD"
	exec 9>"$KLAB_BUILD/.obj-$KLAB_VARIANT.lock"
	flock 9
	kmake "$@"
}

case "${1:-build}" in
prepare) locked_prepare ;;
config) locked_prepare && config ;;
build) build ;;
check) check ;;
make-cmd) shift; make_cmd "$@" ;;
make) shift; make_args "$@" ;;
*) die "usage: $0 prepare|config|build|check|make-cmd [TARGETS]|make TARGETS" ;;
esac
