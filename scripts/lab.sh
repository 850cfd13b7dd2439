#!/usr/bin/env bash
# The exercises of lab/ (lab/README.md): start, check, reset, list, grade,
# and prove in CI that every exercise is valid.
#
#   scripts/lab.sh list               the exercises and their status
#   scripts/lab.sh start EX           the starting point of EX on branch lab-EX
#   scripts/lab.sh check EX|all       build, boot, run EX's checks (all: a
#                                     grade table of every lab-EX branch)
#   scripts/lab.sh reset              back to the branch lab-start left
#   scripts/lab.sh gen EX DIR         write EX's starting point into DIR, a
#                                     copy of the reference (no git needed)
#   scripts/lab.sh validate [EX...]   for each EX: its start FAILS its
#                                     checker, the reference PASSES it
#
# EX is an exercise directory name (03-wakeup-one) or its number (03).
#
# Starting points are generated, never stored: the reference (this tree)
# marks what an exercise removes with
#     /* LAB(NN) begin: what to write */ ... /* LAB(NN) end */
# (or "# LAB(NN) begin: ..." in Python and shell files), which the start
# replaces by one "TODO(NN): what to write" comment, and a planted bug is a
# small patch lab/EX/start.patch. Both are re-applied by every validate, so
# a start that no longer applies, builds or fails is a CI failure, and no
# exercise's start touches another's code.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

labdir=$KLAB_ROOT/lab
# The scripts of a scratch copy (validate, check all) must build in this
# checkout's build directory, not in a cold one of their own.
export KLAB_BUILD

# Per-checkout state (status, hint level, where lab-start came from) lives
# in the git directory, so no branch switch ever carries or loses it.
state_dir() {
	local d
	if [ -n "${LAB_STATE:-}" ]; then
		d=$LAB_STATE
	elif d=$(git -C "$KLAB_ROOT" rev-parse --absolute-git-dir 2>/dev/null); then
		d=$d/klab
	else
		d=$KLAB_BUILD/lab-state
	fi
	mkdir -p "$d"
	echo "$d"
}

exercises() {
	local d
	for d in "$labdir"/[0-9][0-9]-*/; do
		[ -f "$d/lab.conf" ] && basename "$d"
	done
}

# resolve EX: the directory name of an exercise given by name or number.
resolve() {
	local want=$1 ex
	[ -n "$want" ] || die "which exercise? EX=name (make lab-list shows them)"
	for ex in $(exercises); do
		if [ "$ex" = "$want" ] || [ "${ex%%-*}" = "$want" ] || [ "${ex#*-}" = "$want" ]; then
			echo "$ex"
			return 0
		fi
	done
	die "no exercise '$want' in lab/ (make lab-list shows them)"
}

# conf EX KEY [DIR]: a value of lab/EX/lab.conf ("key = value" lines).
conf() {
	local root=${3:-$KLAB_ROOT}
	sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "$root/lab/$1/lab.conf" | head -n 1
}

num() {
	echo "${1%%-*}"
}

# The branch of an exercise: lab-03-wakeup-one. A flat name, because a
# branch named "lab" would make every lab/<name> impossible to create.
branch_of() {
	echo "lab-$1"
}

# hints EX: the hints of lab/EX/README.md, one per line (the numbered items
# of its "## Hints" section, each joined into one line).
hints() {
	awk '
		/^## / { on = ($0 ~ /^## Hints/); next }
		!on { next }
		/^[0-9]+\. / { if (h != "") print h; h = $0; next }
		/^[[:space:]]*$/ { next }
		h != "" { sub(/^[[:space:]]+/, ""); h = h " " $0 }
		END { if (h != "") print h }
	' "$labdir/$1/README.md"
}

# ---------------------------------------------------------------------------
# Starting points

# cut_markers NN FILE: replace each LAB(NN) region of FILE by a TODO line.
cut_markers() {
	local n=$1 f=$2 tmp
	tmp=$(mktemp)
	if ! awk -v n="$n" -v file="$f" '
		function text(s) {
			sub(/^.*LAB\([0-9]+\) begin:?[[:space:]]*/, "", s)
			sub(/[[:space:]]*\*\/[[:space:]]*$/, "", s)
			return s == "" ? "" : ": " s
		}
		$0 ~ "LAB\\(" n "\\) begin" {
			if (inside) { print file ": nested LAB(" n ") begin at line " NR > "/dev/stderr"; bad = 1 }
			inside = 1
			indent = $0
			sub(/[^[:space:]].*$/, "", indent)
			if ($0 ~ /^[[:space:]]*#/)
				print indent "# TODO(" n ")" text($0)
			else
				print indent "/* TODO(" n ")" text($0) " */"
			next
		}
		$0 ~ "LAB\\(" n "\\) end" {
			if (!inside) { print file ": LAB(" n ") end without begin at line " NR > "/dev/stderr"; bad = 1 }
			inside = 0
			next
		}
		!inside { print }
		END {
			if (inside) { print file ": LAB(" n ") begin without end" > "/dev/stderr"; bad = 1 }
			exit bad
		}
	' "$f" >"$tmp"; then
		rm -f "$tmp"
		return 1
	fi
	cat "$tmp" >"$f"
	rm -f "$tmp"
}

# gen EX DIR: turn DIR, a copy of the reference, into EX's starting point.
gen() {
	local ex=$1 dir=$2 n f rm
	n=$(num "$ex")
	[ -d "$dir/lab/$ex" ] || die "$dir has no lab/$ex"
	while read -r f; do
		[ -n "$f" ] || continue
		cut_markers "$n" "$f" || die "bad LAB($n) markers in $f"
	done < <(grep -rlE "LAB\($n\) begin" "$dir/kernel" "$dir/tests" "$dir/gdb" "$dir/lab/$ex" \
		--exclude-dir=bin --exclude=README.md 2>/dev/null || true)
	# Files the student writes (an ANSWER) go: the reference has the
	# teacher's.
	for rm in $(conf "$ex" remove "$dir"); do
		rm -f "${dir:?}/$rm"
	done
	if [ -f "$dir/lab/$ex/start.patch" ]; then
		patch -d "$dir" -p1 -s -N --no-backup-if-mismatch <"$dir/lab/$ex/start.patch" ||
			die "lab/$ex/start.patch does not apply to the reference any more"
	fi
}

git_clean() {
	[ -z "$(git -C "$KLAB_ROOT" status --porcelain --untracked-files=no)" ]
}

need_git() {
	git -C "$KLAB_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
		die "$KLAB_ROOT is not a git checkout: lab-start and lab-reset need one"
}

current_branch() {
	git -C "$KLAB_ROOT" symbolic-ref --quiet --short HEAD || git -C "$KLAB_ROOT" rev-parse HEAD
}

cmd_start() {
	local ex st branch origin base
	ex=$(resolve "${1:-}")
	need_git
	st=$(state_dir)
	if ! git_clean; then
		git -C "$KLAB_ROOT" status --short --untracked-files=no >&2
		die "uncommitted changes (above): commit or stash them first, lab-start never overwrites work"
	fi
	branch=$(branch_of "$ex")
	origin=$(current_branch)
	# The place to return to is where the student was before any exercise;
	# starting a second exercise from a lab/ branch keeps the first origin.
	case "$origin" in
	lab-[0-9][0-9]-*) base=$(cat "$st/origin" 2>/dev/null || echo HEAD) ;;
	*) base=$origin; echo "$origin" >"$st/origin" ;;
	esac
	if git -C "$KLAB_ROOT" rev-parse --verify --quiet "refs/heads/$branch" >/dev/null; then
		git -C "$KLAB_ROOT" switch --quiet "$branch"
		echo "lab: resumed $ex on its branch $branch (your earlier work is there)"
		echo "lab: start afresh: make lab-reset; git branch -D $branch; make lab-start EX=$ex"
		return 0
	fi
	git -C "$KLAB_ROOT" switch --quiet -c "$branch" "$base"
	gen "$ex" "$KLAB_ROOT"
	git -C "$KLAB_ROOT" add -A -- kernel tests gdb lab
	git -C "$KLAB_ROOT" -c user.name="${GIT_AUTHOR_NAME:-kevent lab}" \
		-c user.email="${GIT_AUTHOR_EMAIL:-lab@kevent.invalid}" \
		commit --quiet --no-verify -m "lab $ex: starting point"
	rm -f "$st/hints-$ex" "$st/status-$ex"
	echo "lab: $ex started on branch $branch (from $base)"
	echo "lab: read lab/$ex/README.md; check your work with: make lab-check EX=$ex"
	echo "lab: what the start removed: git diff $base -- kernel tests gdb lab/$ex"
}

cmd_reset() {
	local st origin
	need_git
	st=$(state_dir)
	origin=$(cat "$st/origin" 2>/dev/null || true)
	[ -n "$origin" ] || die "no lab-start to return from"
	if ! git_clean; then
		git -C "$KLAB_ROOT" status --short --untracked-files=no >&2
		die "uncommitted changes (above): commit them on $(current_branch) first (git commit -a), lab-reset never drops work"
	fi
	git -C "$KLAB_ROOT" switch --quiet "$origin" 2>/dev/null ||
		git -C "$KLAB_ROOT" switch --quiet --detach "$origin"
	rm -f "$st/origin"
	echo "lab: back on $origin; your exercise branches stay: git branch --list 'lab-[0-9]*'"
}

# ---------------------------------------------------------------------------
# Checking

# Each check prints one line "ok|FAIL  what" and returns 0 or 1.
report() {
	if [ "$1" = 0 ]; then
		printf '  ok    %s\n' "$2"
	else
		printf '  FAIL  %s\n' "$2"
	fi
	return "$1"
}

# check_answer EX ROOT: lab/EX/ANSWER names what the conf's answer= lists
# ("key=value ..."), one "key: value" line each, case-insensitive.
check_answer() {
	local ex=$1 root=$2 want kv key val got file=$2/lab/$1/ANSWER rc=0
	want=$(conf "$ex" answer "$root")
	[ -n "$want" ] || return 0
	if [ ! -f "$file" ]; then
		report 1 "lab/$ex/ANSWER is missing (see the README's 'Graded by')"
		return 1
	fi
	for kv in $want; do
		key=${kv%%=*}
		val=${kv#*=}
		got=$(sed -n "s/^[[:space:]]*${key}[[:space:]]*:[[:space:]]*//Ip" "$file" | head -n 1 |
			sed 's/[[:space:]]*$//; s/()$//')
		if [ "${got,,}" = "${val,,}" ]; then
			report 0 "ANSWER $key"
		else
			report 1 "ANSWER $key: '${got:-nothing}' is not it" || true
			rc=1
		fi
	done
	return "$rc"
}

# check_suites EX ROOT LOG: the guest suites of the exercise, on the kernel
# built from ROOT (make test T="..." HOST=0, DEBUG=1 for debug exercises).
check_suites() {
	local ex=$1 root=$2 log=$3 suites debug line p f timeout rc=0
	suites=$(conf "$ex" suites "$root")
	[ -n "$suites" ] || return 0
	debug=0
	[ "$(conf "$ex" needs "$root")" = debug ] && debug=1
	# The guest's runner skips a suite it does not have: a suite the
	# student has to write (08) must exist, or nothing would check it.
	local name missing="" present=""
	for name in $suites; do
		if [ "$name" = kunit ] || [ -f "$root/tests/suites/$name.c" ] ||
			[ -d "$root/tests/suites/$name" ]; then
			present="$present $name"
		else
			missing="$missing $name"
		fi
	done
	if [ -n "$missing" ]; then
		report 1 "guest suites:$missing missing (write tests/suites/<name>.c)" || true
		rc=1
	fi
	suites=${present# }
	[ -n "$suites" ] || return 1
	if [ -n "${LAB_SUITES_FROM:-}" ]; then
		suites_from_run "$suites" "$LAB_SUITES_FROM" "$debug" || rc=1
		return "$rc"
	fi
	# lab.conf's timeout (seconds) bounds a guest that a planted bug hangs.
	timeout=$(conf "$ex" timeout "$root")
	timeout=${LAB_START_TIMEOUT:-${timeout:-600}}
	DEBUG=$debug T="$suites" HOST=0 KLAB_GUEST_TIMEOUT=$timeout FAILFAST=${LAB_FAILFAST:-0} \
		KLAB_APPEND=$(conf "$ex" append "$root") \
		"$root/scripts/test.sh" >"$log" 2>&1 || rc=1
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	if [ -z "$line" ]; then
		tail -n 15 "$log" | sed 's/^/        /'
		report 1 "guest suites $suites: no result (build or boot failed, log: $log)" || true
		return 1
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	if [ "$rc" = 0 ] && [ "$f" = 0 ] && [ "$p" -gt 0 ]; then
		[ "$debug" = 1 ] && suites="$suites (debug kernel)"
		report 0 "guest suites $suites: $line"
		return 0
	fi
	# The summary's failure lines, indented: what to look at first.
	sed -n '/^FAIL\|^not ok\|^  *#\|^- /p' "$log" | head -n 20 | sed 's/^/        /'
	report 1 "guest suites $suites: $line (log: $log)" || true
	return 1
}

# suites_from_run "SUITES" RUN DEBUG: the verdict of SUITES read from a run
# of several exercises' suites at once (RUN.log: test.sh's output, RUN.ktap:
# the guest runner's own output, run-vm.sh --out, where no kernel message
# cuts a line as on the console): each suite's own result must be "ok", and
# the run must have had no kernel splat, time-out or lost result (which no
# suite owns).
suites_from_run() {
	local suites=$1 run=$2 debug=$3 name bad="" re
	for name in $suites; do
		re="^ok [0-9]+ $name\$"
		[ "$name" = kunit ] && re="^ok [0-9]+ kevent_kunit_"
		if ! grep -qE "$re" "$run.ktap" ||
			{ [ "$name" = kunit ] && grep -qE '^not ok [0-9]+ kevent_kunit_' "$run.ktap"; }; then
			bad="$bad $name"
		fi
	done
	if grep -E '^FAIL (kernel:|guest|no test result|.*results missing)' "$run.log" >"$run.general"; then
		sed 's/^/        /' "$run.general" | head -n 5
		bad="$bad (the run)"
	fi
	[ "$debug" = 1 ] && suites="$suites (debug kernel)"
	if [ -z "$bad" ]; then
		report 0 "guest suites $suites: all ok in the shared run"
		return 0
	fi
	# What failed inside each bad suite, with its diagnostics: a failure in
	# CI must be readable from its output alone.
	for name in $bad; do
		case $name in kunit) name=kevent_kunit_ ;; "(the"* | "run)") continue ;; esac
		awk -v suite="$name" '
			/^ *# Subtest: / { sub(/^ *# Subtest: /, ""); cur = $0; next }
			index(cur, suite) == 1 && /^ *(not ok |# )/ { print "        " cur ": " $0 }
			/^(ok|not ok) [0-9]+ / { cur = "" }' "$run.ktap" | head -n 20
	done
	report 1 "guest suites $suites: not ok:$bad (log: $run.log)" || true
	return 1
}

# check_script EX ROOT LOG: lab/EX/check.sh, a host-side check (it may boot
# the guest through scripts/run-vm.sh). It gets the tree and the build
# directory in LAB_ROOT and KLAB_BUILD.
check_script() {
	local ex=$1 root=$2 log=$3 rc=0
	[ -f "$root/lab/$ex/check.sh" ] || return 0
	LAB_ROOT=$root LAB_EX=$ex bash "$root/lab/$ex/check.sh" >"$log" 2>&1 || rc=$?
	grep -E '^ *(ok|FAIL|#) ' "$log" | sed 's/^ */  /' || true
	if [ "$rc" != 0 ]; then
		tail -n 5 "$log" | grep -vE '^ *(ok|FAIL|#) ' | sed 's/^/        /' || true
	fi
	report "$rc" "lab/$ex/check.sh (log: $log)" || true
	return "$rc"
}

# check_tree EX ROOT: build what ROOT needs and run every check of EX.
check_tree() {
	local ex=$1 root=$2 logs rc=0 debug=0
	logs=$KLAB_BUILD/results/lab
	mkdir -p "$logs"
	[ "$(conf "$ex" needs "$root")" = debug ] && debug=1
	if [ -z "${LAB_SKIP_ANSWER:-}" ]; then
		check_answer "$ex" "$root" || rc=1
	fi
	# The kernel and the initramfs of this tree: incremental, a no-op for
	# an exercise that changed neither (and skipped when the caller built
	# them already: validate's reference).
	if [ -n "${LAB_PREBUILT:-}" ]; then
		:
	elif ! DEBUG=$debug "$root/scripts/kernel.sh" build >"$logs/$ex-build.log" 2>&1; then
		grep -E 'error:|Error ' "$logs/$ex-build.log" | head -n 10 | sed 's/^/        /'
		report 1 "kernel build (log: $logs/$ex-build.log)" || true
		return 1
	fi
	if [ -z "${LAB_PREBUILT:-}" ] && ! "$root/scripts/rootfs.sh" >"$logs/$ex-rootfs.log" 2>&1; then
		grep -E 'error' "$logs/$ex-rootfs.log" | head -n 10 | sed 's/^/        /'
		report 1 "test programs and initramfs (log: $logs/$ex-rootfs.log)" || true
		return 1
	fi
	check_script "$ex" "$root" "$logs/$ex-check.log" || rc=1
	check_suites "$ex" "$root" "$logs/$ex-suites.log" || rc=1
	return "$rc"
}

# print_hint EX: the next hint, one stronger per failed check.
print_hint() {
	local ex=$1 st level total h
	st=$(state_dir)
	level=$(($(cat "$st/hints-$ex" 2>/dev/null || echo 0) + 1))
	total=$(hints "$ex" | wc -l)
	[ "$total" -gt 0 ] || return 0
	[ "$level" -le "$total" ] || level=$total
	echo "$level" >"$st/hints-$ex"
	h=$(hints "$ex" | sed -n "${level}p")
	printf '\nhint %d of %d: %s\n' "$level" "$total" "${h#*. }" | fold -s -w 78
}

check_one() {
	local ex=$1 st rc=0 branch
	st=$(state_dir)
	branch=$(current_branch 2>/dev/null || true)
	echo "lab-check $ex: $(conf "$ex" title)"
	if [ "$branch" != "$(branch_of "$ex")" ] && [ -z "${LAB_QUIET_BRANCH:-}" ]; then
		echo "  (note: checking this checkout on '$branch', not the exercise branch $(branch_of "$ex"))"
	fi
	check_tree "$ex" "$KLAB_ROOT" || rc=1
	if [ "$rc" = 0 ]; then
		echo "pass $(date +%s) $(git -C "$KLAB_ROOT" rev-parse --short HEAD 2>/dev/null || echo -)" >"$st/status-$ex"
		echo "lab-check $ex: PASS"
	else
		echo "fail $(date +%s) $(git -C "$KLAB_ROOT" rev-parse --short HEAD 2>/dev/null || echo -)" >"$st/status-$ex"
		echo "lab-check $ex: FAIL"
		print_hint "$ex"
	fi
	return "$rc"
}

# check all: grade every exercise from its branch lab-EX, each in a scratch
# copy (git archive), so the checkout is never switched; an exercise never
# started scores 0.
check_all() {
	local ex scratch pts total=0 got=0 res commit rc
	need_git
	scratch=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: the directory of this call
	trap "rm -rf '$scratch'" EXIT
	local table=$scratch/table
	: >"$table"
	for ex in $(exercises); do
		pts=$(conf "$ex" points)
		pts=${pts:-10}
		total=$((total + pts))
		if ! commit=$(git -C "$KLAB_ROOT" rev-parse --verify --quiet "refs/heads/$(branch_of "$ex")"); then
			printf '%-22s %-10s %-9s %3s/%-3s\n' "$ex" "-" "not started" 0 "$pts" >>"$table"
			continue
		fi
		rm -rf "$scratch/tree"
		mkdir -p "$scratch/tree"
		git -C "$KLAB_ROOT" archive "$commit" | tar -x -C "$scratch/tree"
		echo "== $ex (branch $(branch_of "$ex"), ${commit:0:10})"
		rc=0
		LAB_QUIET_BRANCH=1 check_tree "$ex" "$scratch/tree" || rc=1
		if [ "$rc" = 0 ]; then
			res=pass
			got=$((got + pts))
		else
			res=FAIL
		fi
		printf '%-22s %-10s %-9s %3s/%-3s\n' "$ex" "${commit:0:10}" "$res" \
			"$([ "$res" = pass ] && echo "$pts" || echo 0)" "$pts" >>"$table"
	done
	echo
	printf '%-22s %-10s %-9s %s\n' exercise commit result points
	cat "$table"
	printf '%-22s %-10s %-9s %3s/%-3s\n' total "" "" "$got" "$total"
	echo "grade: $got/$total ($(git -C "$KLAB_ROOT" config user.name 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ))"
}

cmd_check() {
	local want=${1:-}
	if [ "$want" = all ]; then
		check_all
		return
	fi
	check_one "$(resolve "$want")"
}

cmd_list() {
	local ex st status s branch cur
	st=$(state_dir)
	cur=$(current_branch 2>/dev/null || true)
	printf '   %-22s %-6s %-7s %-12s %s\n' exercise needs time status title
	for ex in $(exercises); do
		status="-"
		if git -C "$KLAB_ROOT" rev-parse --verify --quiet "refs/heads/$(branch_of "$ex")" >/dev/null 2>&1; then
			status=started
		fi
		if [ -f "$st/status-$ex" ]; then
			read -r s _ <"$st/status-$ex"
			status=$s
		fi
		branch=" "
		[ "$cur" = "$(branch_of "$ex")" ] && branch="*"
		printf ' %s %-22s %-6s %-7s %-12s %s\n' "$branch" "$ex" "$(conf "$ex" needs)" \
			"$(conf "$ex" time)" "$status" "$(conf "$ex" title)"
	done
	echo
	echo "start one: make lab-start EX=<name or number>   (* = the branch you are on)"
}

# ---------------------------------------------------------------------------
# Validation (CI)

# sync_tree SRC DST: make DST's files those of SRC (content compared, so an
# unchanged file keeps its time stamp and nothing is rebuilt for it); the
# build outputs in DST (tests/bin, gdb/bin, bench/bin) stay.
sync_tree() {
	local src=$1 dst=$2 f
	(cd "$src" && find . -type f) | while read -r f; do
		sync_file "$src/$f" "$dst/$f" || true
	done
	(cd "$dst" && find . -path ./tests/bin -prune -o -path ./gdb/bin -prune -o \
		-path ./bench/bin -prune -o -type f -print) | while read -r f; do
		[ -e "$src/$f" ] || rm -f "$dst/$f"
	done
}

cmd_validate() {
	local scratch ref work ex commit t0 t1 n=0 bad=0 rc debug_ex
	local -a list=()
	if [ $# -gt 0 ]; then
		for ex in "$@"; do list+=("$(resolve "$ex")"); done
	else
		mapfile -t list < <(exercises)
	fi
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/klab-validate.XXXXXX")
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$scratch'" EXIT
	ref=$scratch/reference
	work=$scratch/tree
	mkdir -p "$ref" "$work"
	# The reference is the checkout as it is, uncommitted changes included
	# (git stash create records them without touching anything).
	if git -C "$KLAB_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		commit=$(git -C "$KLAB_ROOT" stash create 2>/dev/null || true)
		commit=${commit:-HEAD}
		git -C "$KLAB_ROOT" archive "$commit" | tar -x -C "$ref"
	else
		(cd "$KLAB_ROOT" && tar --exclude=./build --exclude='*/bin' -cf - .) | tar -x -C "$ref"
	fi
	export LAB_STATE=$scratch/state
	local results=$scratch/results
	: >"$results"
	t0=$(date +%s)
	# Every starting point, checked or not below, must still generate: its
	# markers balanced, its patch applying (a second or two for all).
	for ex in $(exercises); do
		sync_tree "$ref" "$work"
		if (gen "$ex" "$work") >"$scratch/gen.log" 2>&1; then
			echo "ok $((++n)) lab_validate.${ex//-/_}_start_generates" >>"$results"
		else
			sed 's/^/# /' "$scratch/gen.log" >>"$results"
			echo "not ok $((++n)) lab_validate.${ex//-/_}_start_generates" >>"$results"
			bad=$((bad + 1))
		fi
	done
	stage validate "${#list[@]} exercise(s), scratch copy $work, build directory $KLAB_BUILD"
	for ex in "${list[@]}"; do
		sync_tree "$ref" "$work"
		gen "$ex" "$work"
		# The answer a debugging exercise expects must be what its patch
		# plants: the patch names the function (in a hunk header or a
		# line it adds) and the call.
		local want kv
		want=$(conf "$ex" answer "$ref")
		for kv in $want; do
			if [ -f "$ref/lab/$ex/start.patch" ] && ! grep -qF -- "${kv#*=}" "$ref/lab/$ex/start.patch"; then
				echo "  FAIL  lab/$ex/lab.conf answer $kv does not appear in start.patch"
				bad=$((bad + 1))
			fi
		done
		t1=$(date +%s)
		debug_ex=0
		[ "$(conf "$ex" needs "$ref")" = debug ] && debug_ex=1
		stage validate "$ex: starting point (must FAIL)"
		# Without the answer check: a missing ANSWER fails trivially, the
		# tests themselves must see the planted bug or the missing code.
		rc=0
		# A start only has to fail: tests waiting for events that never
		# come (05) need not run their whole time limits. A start that
		# would pass takes as long as the reference, well under this.
		# FAILFAST: the first failed test is the proof; the rest would
		# only wait out their time limits.
		if LAB_SKIP_ANSWER=1 LAB_FAILFAST=1 LAB_START_TIMEOUT=$((debug_ex ? 900 : 180)) \
			check_tree "$ex" "$work" | sed 's/^/    /'; then
			rc=0
		else
			rc=1
		fi
		if [ "$rc" = 0 ]; then
			echo "not ok $((++n)) lab_validate.${ex//-/_}_start_fails  # the starting point passes its checker" >>"$results"
			bad=$((bad + 1))
		else
			echo "ok $((++n)) lab_validate.${ex//-/_}_start_fails  # $(($(date +%s) - t1))s" >>"$results"
		fi
	done
	# The reference last, so the build directory ends as the reference. It
	# is built once per kernel variant, and one boot per variant runs the
	# suites of all its exercises (a suite two exercises name runs once);
	# each exercise's verdict is then read from that run, with its answer
	# and its check.sh as usual.
	sync_tree "$ref" "$work"
	local variant vname union appends tmax tx name a
	for variant in 0 1; do
		union=""
		appends=""
		tmax=600
		local any=0
		for ex in "${list[@]}"; do
			debug_ex=0
			[ "$(conf "$ex" needs "$ref")" = debug ] && debug_ex=1
			[ "$debug_ex" = "$variant" ] || continue
			any=1
			for name in $(conf "$ex" suites "$ref"); do
				case " $union " in *" $name "*) ;; *) union="$union $name" ;; esac
			done
			a=$(conf "$ex" append "$ref")
			for name in $a; do
				case " $appends " in *" $name "*) ;; *) appends="$appends $name" ;; esac
			done
			tx=$(conf "$ex" timeout "$ref")
			[ "${tx:-0}" -le "$tmax" ] || tmax=$tx
		done
		# The lab kernel is always built: check.sh scripts boot it.
		[ "$any" = 1 ] || [ "$variant" = 0 ] || continue
		vname=lab
		[ "$variant" = 1 ] && vname=debug
		t1=$(date +%s)
		stage validate "reference: the $vname kernel and the suites of its exercises:${union:- none}"
		if ! DEBUG=$variant "$work/scripts/kernel.sh" build >"$scratch/ref-$vname-build.log" 2>&1 ||
			! "$work/scripts/rootfs.sh" >"$scratch/ref-$vname-rootfs.log" 2>&1; then
			tail -n 15 "$scratch/ref-$vname-build.log" "$scratch/ref-$vname-rootfs.log" | sed 's/^/    /'
			echo "not ok $((++n)) lab_validate.reference_${vname}_builds" >>"$results"
			bad=$((bad + 1))
			continue
		fi
		: >"$scratch/ref-$vname.console"
		: >"$scratch/ref-$vname.ktap"
		if [ -n "$union" ]; then
			DEBUG=$variant T="${union# }" HOST=0 KLAB_GUEST_TIMEOUT=$tmax \
				KLAB_APPEND="${appends# }" "$work/scripts/test.sh" >"$scratch/ref-$vname.log" 2>&1 || true
			cp "$KLAB_BUILD/results/console-$vname.log" "$scratch/ref-$vname.console"
			cp "$KLAB_BUILD/results/ktap-$vname.log" "$scratch/ref-$vname.ktap"
			grep -E '^[0-9]+ passed, [0-9]+ failed' "$scratch/ref-$vname.log" | tail -n 1 | sed 's/^/    /' || true
		fi
		echo "ok $((++n)) lab_validate.reference_${vname}_runs  # $(($(date +%s) - t1))s" >>"$results"
	done
	for ex in "${list[@]}"; do
		t1=$(date +%s)
		vname=lab
		[ "$(conf "$ex" needs "$ref")" = debug ] && vname=debug
		stage validate "$ex: reference (must PASS)"
		if LAB_PREBUILT=1 LAB_SUITES_FROM=$scratch/ref-$vname check_tree "$ex" "$work" | sed 's/^/    /'; then
			rc=0
		else
			rc=1
		fi
		if [ "$rc" = 0 ]; then
			echo "ok $((++n)) lab_validate.${ex//-/_}_reference_passes  # $(($(date +%s) - t1))s" >>"$results"
		else
			echo "not ok $((++n)) lab_validate.${ex//-/_}_reference_passes" >>"$results"
			bad=$((bad + 1))
		fi
	done
	echo
	echo "KTAP version 1"
	echo "1..$n"
	cat "$results"
	stage validate "done in $(($(date +%s) - t0))s"
	echo "$((n - $(grep -c '^not ok' "$results" || true))) passed, $(grep -c '^not ok' "$results" || true) failed"
	[ "$bad" = 0 ]
}

case "${1:-}" in
list) cmd_list ;;
start) shift; cmd_start "${1:-}" ;;
check) shift; cmd_check "${1:-}" ;;
reset) cmd_reset ;;
gen) shift; gen "$(resolve "${1:-}")" "${2:?usage: lab.sh gen EX DIR}" ;;
validate) shift; cmd_validate "$@" ;;
*) die "usage: $0 list | start EX | check EX|all | reset | gen EX DIR | validate [EX...]" ;;
esac
