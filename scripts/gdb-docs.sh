#!/usr/bin/env bash
# The transcripts of docs/gdb.md, cut from a real run of the walkthroughs so
# that the page cannot drift from what GDB prints.
#
#   scripts/gdb-docs.sh [DIR]          rewrite the transcripts from DIR
#   scripts/gdb-docs.sh --run [DIR]    run scripts/gdb-tests.sh into DIR first
#                                      (make gdb-docs)
#   scripts/gdb-docs.sh --check [DIR]  say where the page and the run differ,
#                                      exit 1 if they do (scripts/gdb-tests.sh)
#   scripts/gdb-docs.sh --drgn ...     the same for docs/drgn.md, from the
#                                      runs of scripts/drgn-tests.sh (DIR
#                                      default $KLAB_BUILD/results/drgn-<variant>,
#                                      FILE default drgn.log; make drgn-docs)
#
# DIR holds the transcripts scripts/gdb-tests.sh writes, default
# $KLAB_BUILD/results/gdb-<variant>. In docs/gdb.md each transcript is a
# fenced block between two comment lines:
#
#   <!-- transcript WALK[/FILE] | from ERE [ | to ERE] [ | skip ERE] -->
#   ```
#   ...
#   ```
#   <!-- end transcript -->
#
# It holds the lines of DIR/WALK/FILE (default gdb.log) from the first line
# matching the from-ERE up to, not including, the next line matching the
# to-ERE (default: the next '=== ' heading of the walkthrough); runs of lines
# matching the skip-ERE become one '...' line. Paths into the kernel tree are
# shortened to '.../'. The check compares page and run after replacing, on
# both sides, what changes from run to run: addresses, pids and tids, CPU
# and GDB thread numbers, the clock reading and saved interrupt flags in
# the hrtimer frames, the expiry times of timer events, the time stamps of
# kernel log lines, the PID:FD of a queue in a make drgn command and the
# frame numbers of drgn's stack traces (how many frames the stopped CPU's
# innermost functions take varies).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

tool=gdb
if [ "${1:-}" = --drgn ]; then
	tool=drgn
	shift
fi
doc=$KLAB_ROOT/docs/$tool.md
docname=docs/$tool.md
mode=rewrite
case "${1:-}" in
--check | --run) mode=${1#--}; shift ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
-*) die "unknown option: $1 (see --help)" ;;
esac
dir=${1:-$KLAB_BUILD/results/$tool-$KLAB_VARIANT}

if [ "$mode" = run ]; then
	# its failures are reported and expected (the check of these very
	# transcripts fails until they are rewritten): go on regardless
	"$KLAB_ROOT/scripts/$tool-tests.sh" "$dir" | grep -E '^(not ok|# )' || true
	mode=rewrite
fi

# excerpt FILE FROM TO SKIP: the transcript lines a marker asks for.
excerpt() {
	awk -v from="$2" -v to="$3" -v skip="$4" -v tree="$KLAB_SRC/" '
		# which CPU a stop lands on varies, and with it this line
		/^\[Switching to Thread / { next }
		!on && $0 ~ from { on = 1; print_line(); next }
		!on { next }
		to != "" && $0 ~ to { exit }
		to == "" && /^([AB]\. )?=== / { exit }
		skip != "" && $0 ~ skip { if (!skipped) print "..."; skipped = 1; next }
		{ print_line() }
		function print_line(   i) {
			skipped = 0
			while ((i = index($0, tree)) > 0)
				$0 = substr($0, 1, i - 1) ".../" substr($0, i + length(tree))
			print
		}' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# normalise: what differs between two runs of the same walkthrough, replaced.
normalise() {
	sed -E \
		-e 's/0x[0-9a-f]{8,}/0xADDR/g' \
		-e 's/\b(pid|tid|thread) [0-9]+(, [0-9]+)*/\1 N/g' \
		-e 's/on CPU [0-9]+/on CPU N/g' \
		-e 's/Thread [0-9.]+/Thread N/g' \
		-e '/hrtimer/s/\b(now|flags)=(\1@entry=)?[0-9]+/\1=N/g' \
		-e '/TIMER/s/ret_data( = |=)\{[0-9]+/ret_data\1{N/g' \
		-e 's/^\[ *[0-9]+\.[0-9]+\]/[T]/' \
		-e '/^=== make drgn/s/[0-9]+:[0-9]+/PID:FD/g' \
		-e 's/^  #[0-9]+ +([A-Za-z_][A-Za-z0-9_.]*( \+ [0-9]+)?)$/  #N \1/'
}

[ -f "$doc" ] || die "no $doc"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp".*' EXIT
differ=0
n=0
in_block=0
spec=""
marker='^<!-- transcript (.*) -->$'
while IFS= read -r line; do
	if [ "$in_block" = 0 ]; then
		printf '%s\n' "$line" >>"$tmp"
		if [[ "$line" =~ $marker ]]; then
			spec=${BASH_REMATCH[1]}
			in_block=1
			: >"$tmp.old"
		fi
		continue
	fi
	if [ "$line" != "<!-- end transcript -->" ]; then
		printf '%s\n' "$line" >>"$tmp.old"
		continue
	fi
	in_block=0
	n=$((n + 1))
	# the spec: WALK[/FILE] | from ERE | to ERE | skip ERE
	from="" to="" skip=""
	# (split at ' | ': a lone '|' is an ERE's alternation)
	IFS=$'\x1f' read -r -a parts <<<"${spec// | /$'\x1f'}"
	src=$(echo "${parts[0]}" | sed 's/^ *//; s/ *$//')
	for p in "${parts[@]:1}"; do
		p=$(echo "$p" | sed 's/^ *//; s/ *$//')
		case "$p" in
		from\ *) from=${p#from } ;;
		to\ *) to=${p#to } ;;
		skip\ *) skip=${p#skip } ;;
		*) die "$docname transcript '$spec': what is '$p'?" ;;
		esac
	done
	[ -n "$from" ] || die "$docname transcript '$spec' has no 'from'"
	file=$dir/$src
	[[ "$src" == */* ]] || file=$dir/$src/$tool.log
	if [ ! -s "$file" ]; then
		[ "$mode" = check ] || die "no transcript $file (run: make $tool-docs)"
		echo "transcript $n ($src): no $file"
		differ=1
		cat "$tmp.old" >>"$tmp"
	else
		excerpt "$file" "$from" "$to" "$skip" >"$tmp.new"
		if [ ! -s "$tmp.new" ]; then
			[ "$mode" = check ] || die "transcript '$spec': no line of $file matches /$from/"
			echo "transcript $n ($src): no line matches /$from/"
			differ=1
		fi
		if [ "$mode" = check ]; then
			sed '1d; $d' "$tmp.old" | normalise >"$tmp.a"
			normalise <"$tmp.new" >"$tmp.b"
			if ! cmp -s "$tmp.a" "$tmp.b"; then
				echo "transcript $n ($src, from /$from/) differs from the run (< $docname, > $file):"
				diff "$tmp.a" "$tmp.b" | grep '^[<>]' | head -n 6 || true
				differ=1
			fi
			cat "$tmp.old" >>"$tmp"
		else
			{ echo '```'; cat "$tmp.new"; echo '```'; } >>"$tmp"
		fi
	fi
	echo "<!-- end transcript -->" >>"$tmp"
done <"$doc"
[ "$in_block" = 0 ] || die "$docname: transcript '$spec' has no '<!-- end transcript -->'"
[ "$n" -gt 0 ] || die "$docname has no transcript markers"

if [ "$mode" = check ]; then
	[ "$differ" = 0 ] && echo "$n transcripts of $docname match the run in $dir"
	exit "$differ"
fi
if cmp -s "$tmp" "$doc"; then
	stage docs "$docname: $n transcripts, unchanged"
else
	cp "$tmp" "$doc"
	stage docs "$docname: $n transcripts rewritten from $dir"
fi
