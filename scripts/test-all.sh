#!/usr/bin/env bash
# make test-all: every combination the lab supports, one after the other,
# then one line counting them all. .ci/run runs a subset of it (see README,
# "What CI runs").
#
#   scripts/test-all.sh [--ci] [RUN...]
#
#   lab          make test                       QEMU, busybox, host checks
#   debug        make test DEBUG=1 HOST=0        KASAN, lockdep, kmemleak, ...
#   uml          make test BACKEND=uml           User-Mode Linux, busybox
#   debian       make test ROOTFS=debian HOST=0  QEMU, the Debian image
#   uml-debian   make test BACKEND=uml ROOTFS=debian HOST=0
#   lab-validate make lab-validate               every exercise of lab/: its
#                                                start fails, the reference
#                                                passes (09 on DEBUG=1)
#
# Without RUN: all of them. Exit status non-zero if any run failed or
# printed no summary.
#
# --ci: CI's cut (.ci/run), to stay under its time budget on 2 cores: the
# uml and debug runs leave out the libevent suites (SKIP_SUITES; each is
# reported as a skip), which the lab run has. They are the slowest suites
# there (libevent's regress, a process per test: about 40 s each under
# UML, 90 s on the debug kernel) and drive kevent through the same system
# calls as on the lab kernel.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

all=(lab debug uml debian uml-debian lab-validate)

ci=0
if [ "${1:-}" = --ci ]; then
	ci=1
	shift
fi
[ $# -gt 0 ] || set -- "${all[@]}"

run_env() { # run_env RUN: the make target and variables of RUN
	local skip=""
	if [ "$ci" = 1 ]; then
		case "$1" in
		debug) skip=" SKIP_SUITES=libevent_kevent" ;;
		uml) skip=" SKIP_SUITES=libevent_epoll,libevent_kevent" ;;
		esac
	fi
	case "$1" in
	lab) echo "test" ;;
	debug) echo "test DEBUG=1 HOST=0$skip" ;;
	uml) echo "test BACKEND=uml$skip" ;;
	debian) echo "test ROOTFS=debian HOST=0" ;;
	uml-debian) echo "test BACKEND=uml ROOTFS=debian HOST=0" ;;
	lab-validate) echo "lab-validate" ;;
	*) return 1 ;;
	esac
}
for r in "$@"; do
	run_env "$r" >/dev/null || die "unknown run '$r' (runs: ${all[*]})"
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
times=()
for r in "$@"; do
	read -ra vars <<<"$(run_env "$r")"
	echo
	echo "test-all: $r: make ${vars[*]}"
	start=$(date +%s)
	# A fresh top-level make: none of our caller's make variables (T=, a
	# jobserver) take part, only this run's.
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u MAKEOVERRIDES \
		-u DEBUG -u HOST -u BACKEND -u ROOTFS -u T -u SKIP_SUITES \
		make --no-print-directory -C "$KLAB_ROOT" "${vars[@]}" 2>&1 | tee "$logs/$r.log" || status=1
	times+=("$r $(($(date +%s) - start))")
done

echo
passed=0
failed=0
for t in "${times[@]}"; do
	read -r r secs <<<"$t"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/$r.log" | tail -n 1 || true)
	if [ -z "$line" ]; then
		echo "test-all: $r: no summary (build or boot failed) after ${secs}s"
		failed=$((failed + 1))
		status=1
		continue
	fi
	echo "test-all: $r: $line (${secs}s)"
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
exit "$status"
