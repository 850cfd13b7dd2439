#!/usr/bin/env bash
# libevent on kevent (issue 16): fetch Debian's libevent source, lay our
# backend (libevent/kevent.c) and its build glue (libevent/patches/*.patch)
# on top, and build libevent's regression suite and benchmarks as static
# binaries for the guest. Nothing of libevent is kept in the repository.
#
#	scripts/libevent.sh fetch	the pinned source in build/libevent/src/
#	scripts/libevent.sh build	fetch, then build (only when an input
#					changed) into build/libevent/guest/
#
# The guest binaries (regress, bench, bench_cascade) are packed into the
# initramfs by scripts/rootfs.sh at /usr/libexec/libevent/, where the guest
# suite tests/suites/libevent.sh runs them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# The version Debian 12 ships (bookworm-security); a change here refetches.
LIBEVENT_PKG=libevent
LIBEVENT_VERSION=2.1.12-stable-8+deb12u1
LIBEVENT_TOPDIR=libevent-2.1.12-stable

top=$KLAB_BUILD/libevent
src=$top/src/$LIBEVENT_TOPDIR
guest=$top/guest
ours=$KLAB_ROOT/libevent

if [ "$(id -u)" -ne 0 ]; then
	SUDO=(sudo)
else
	SUDO=()
fi

# The tools this script uses, installed once (scripts/deps.sh installs the
# lab's own): dpkg-dev for apt-get source, the autotools because our patch
# edits Makefile.am (Debian's build regenerates it the same way).
deps() {
	local p missing=()
	for p in dpkg-dev autoconf automake libtool pkg-config; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	stage libevent "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive run_logged "$KLAB_LOGS/libevent-deps.log" \
		"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# apt-get source needs a deb-src entry. When apt has none, write one file
# of our own that mirrors the Debian archives apt already uses (the deb
# entries of the sources lists, Types: deb -> deb-src), so no host name is
# written here: it is read from the machine's configuration.
deb_src() {
	local f out=/etc/apt/sources.list.d/klab-deb-src.sources
	if grep -Eqs '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
		return 0
	fi
	stage libevent "adding deb-src entries ($out) for apt-get source"
	{
		echo "# Written by the kevent lab's scripts/libevent.sh: the deb-src twins"
		echo "# of the Debian archives of this machine's apt sources."
		# deb822 files: every stanza whose Types has "deb", as deb-src.
		for f in /etc/apt/sources.list.d/*.sources; do
			if [ ! -f "$f" ] || [ "$f" = "$out" ]; then continue; fi
			awk 'BEGIN { RS = ""; ORS = "\n\n" }
			     /(^|\n)Types:[^\n]*[[:space:]]deb([[:space:]]|\n|$)/ &&
			     /(^|\n)URIs:[^\n]*\/debian(-security)?\/?([[:space:]]|\n|$)/ {
				gsub(/(^|\n)#[^\n]*/, "")
				sub(/^\n/, "")
				sub(/Types:[^\n]*/, "Types: deb-src")
				print
			     }' "$f"
		done
		# One-line sources: "deb [opts] URI suite comp..." as a stanza.
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			awk '$1 == "deb" {
				i = 2
				opts = ""
				if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
				if ($i !~ /\/debian(-security)?\/?$/) next
				printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:", $i, $(i + 1)
				for (j = i + 2; j <= NF; j++) printf " %s", $j
				printf "\n"
				if (opts ~ /signed-by=/) { sub(/.*signed-by=/, "", opts); sub(/[] ].*/, "", opts); printf "Signed-By: %s\n", opts }
				printf "\n"
			}' "$f"
		done
	} | "${SUDO[@]}" tee "$out.tmp" >/dev/null
	grep -q '^Types: deb-src' "$out.tmp" || {
		"${SUDO[@]}" rm -f "$out.tmp"
		die "no Debian archive found in the apt sources to add a deb-src entry for"
	}
	"${SUDO[@]}" mv "$out.tmp" "$out"
	run_logged "$KLAB_LOGS/libevent-apt-update.log" "${SUDO[@]}" apt-get update -q
}

# The pristine source, unpacked with Debian's patches applied, once per
# version. Our files are laid on a copy of it (build()), so the pristine
# tree never changes.
fetch() {
	local dl=$top/src
	[ -f "$dl/.done-$LIBEVENT_VERSION" ] && return 0
	deps
	deb_src
	stage libevent "apt-get source $LIBEVENT_PKG=$LIBEVENT_VERSION"
	rm -rf "$dl"
	mkdir -p "$dl"
	if ! (cd "$dl" && run_logged "$KLAB_LOGS/libevent-source.log" \
		apt-get source -q "$LIBEVENT_PKG=$LIBEVENT_VERSION"); then
		# An apt that has the deb-src entry but an old list.
		run_logged "$KLAB_LOGS/libevent-apt-update.log" "${SUDO[@]}" apt-get update -q
		(cd "$dl" && run_logged "$KLAB_LOGS/libevent-source.log" \
			apt-get source -q "$LIBEVENT_PKG=$LIBEVENT_VERSION")
	fi
	[ -f "$src/event.c" ] || die "apt-get source did not unpack $src"
	touch "$dl/.done-$LIBEVENT_VERSION"
}

# The inputs of the build tree (copy + patches + autoreconf + configure),
# and of the binaries (the tree's inputs plus our backend and the headers
# it includes).
tree_key() {
	(
		echo "$LIBEVENT_VERSION"
		sha256sum <"$0"
		cat "$ours"/patches/*.patch
	) | sha256sum | cut -d' ' -f1
}
build_key() {
	(
		tree_key
		cat "$ours/kevent.c" "$ours/method.c" "$KLAB_ROOT/kernel/include/uapi/linux/kevent.h" \
			"$KLAB_ROOT/tests/lib/kevent_syscall.h"
	) | sha256sum | cut -d' ' -f1
}

build() {
	local tree=$top/tree key p b
	key=$(build_key)
	if [ -f "$guest/.stamp" ] && [ "$(cat "$guest/.stamp")" = "$key" ]; then
		return 0
	fi
	fetch
	deps
	if [ "$(cat "$tree/.key" 2>/dev/null || true)" != "$(tree_key)" ]; then
		stage libevent "preparing $LIBEVENT_TOPDIR with our backend (autoreconf, configure)"
		rm -rf "$tree"
		cp -a "$src" "$tree"
		cp "$ours/kevent.c" "$tree/kevent.c"
		for p in "$ours"/patches/*.patch; do
			run_logged "$KLAB_LOGS/libevent-patch.log" patch -d "$tree" -p1 -i "$p"
		done
		# No OpenSSL: libevent 2.1.12 predates OpenSSL 3, and with Debian 12's
		# OpenSSL 3 six of its TLS tests fail on every backend (its handling
		# of an unexpected EOF changed), which says nothing about kevent;
		# the issue's baseline (337 tests listed) is this build.
		# Static for the guest: libtool's -all-static is given to make
		# (configure's own link tests would not understand it). The
		# include path finds <linux/kevent.h> (configure's test for the
		# backend) and the lab's system call wrappers.
		(cd "$tree" && run_logged "$KLAB_LOGS/libevent-autoreconf.log" autoreconf -fi &&
			run_logged "$KLAB_LOGS/libevent-configure.log" ./configure -q \
				--disable-shared --enable-static --disable-samples --disable-openssl \
				--disable-dependency-tracking \
				CFLAGS="-O2 -g" \
				CPPFLAGS="-I$KLAB_ROOT/kernel/include/uapi -I$KLAB_ROOT/tests/lib")
		grep -q "^#define HAVE_KEVENT 1" "$tree/config.h" ||
			die "configure did not find <linux/kevent.h> (see $KLAB_LOGS/libevent-configure.log)"
		tree_key >"$tree/.key"
	fi
	sync_file "$ours/kevent.c" "$tree/kevent.c" || true
	stage libevent "building regress, bench, bench_cascade (static)"
	# The generated headers first: only "make all" orders them (BUILT_SOURCES).
	run_logged "$KLAB_LOGS/libevent-gen.log" make -C "$tree" \
		include/event2/event-config.h test/rpcgen-attempted
	run_logged "$KLAB_LOGS/libevent-build.log" make -C "$tree" -j"$(nproc_jobs)" \
		LDFLAGS=-all-static test/regress test/bench test/bench_cascade
	# Our small tool that prints the backend a default base gets.
	run_logged "$KLAB_LOGS/libevent-method.log" gcc -std=gnu11 -O2 -Wall -Wextra -Werror \
		-static -I"$tree/include" -o "$tree/klab-libevent-method" "$ours/method.c" \
		"$tree/.libs/libevent_core.a"
	mkdir -p "$guest"
	for p in test/regress test/bench test/bench_cascade klab-libevent-method; do
		b=$(basename "$p")
		strip -o "$guest/$b.tmp" "$tree/$p"
		if cmp -s "$guest/$b.tmp" "$guest/$b"; then
			rm -f "$guest/$b.tmp"
		else
			mv "$guest/$b.tmp" "$guest/$b"
		fi
	done
	echo "$key" >"$guest/.stamp"
}

case "${1:-build}" in
fetch) fetch ;;
build) build ;;
*) die "usage: $0 fetch|build" ;;
esac
