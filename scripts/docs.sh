#!/usr/bin/env bash
# The teaching documents: man pages (docs/man/), the design guide and its
# diagrams (docs/design.md, docs/diagrams/), the code-review walkthroughs
# (docs/review/).
#
#   scripts/docs.sh check         the checks below, as KTAP (no guest, no
#                                 kernel build, about a second); run by
#                                 scripts/host-checks.sh, so by make test
#   scripts/docs.sh man [PAGE]    make man: show one page (mandoc and a pager
#                                 on a terminal, plain text otherwise)
#   scripts/docs.sh render        make docs: SVG of every diagram and HTML of
#                                 every man page, in $KLAB_BUILD/docs/
#   scripts/docs.sh update        copy docs/man/examples/* into the pages
#                                 that quote them (after editing an example)
#
# The checks:
#   host_man     every page lints clean (mandoc -Tlint); the ERRORS of each
#                system call page are exactly the errnos docs/errors.md gives
#                for that call (whose rows the kevent_errno suite verifies
#                against the kernel), and every section of docs/errors.md
#                about a call has a page; pages named in SEE ALSO exist; each
#                example program compiles with the tests' flags and the page
#                quotes it, and its recorded output, unchanged
#   host_review  every `file:function` that docs/review/, docs/design.md
#                and docs/gdb.md name still exists, and every GDB
#                walkthrough named as stopping at a function mentions it
#   host_design  every diagram renders (graphviz) and the guide shows each
#                one
# Each group also proves, on a planted fault, that its check can fail.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

man_dir=$KLAB_ROOT/docs/man

# ---- shared: KTAP results, one document per group -------------------------
# shellcheck source=scripts/ktap-lib.sh
. "$(dirname "$0")/ktap-lib.sh"
# check NAME CMD...: one result from a command that prints its complaints.
check() {
	local name=$1 out
	shift
	out=$("$@" 2>&1) || true
	if [ -z "$out" ]; then
		result 1 "$name"
	else
		local -a diags
		mapfile -t diags <<<"$out"
		result 0 "$name" "${diags[@]}"
	fi
}

# ---- man pages --------------------------------------------------------------

# Which sections of docs/errors.md each system call page documents: the
# "## " heading (an extended regular expression), then the heading of the
# per-entry errors that the page lists after its ".SS" in ERRORS.
declare -A page_section=(
	[kevent_init]='^kevent_init\('
	[kevent_ctl]='^kevent_ctl\(.*whole call'
	[kevent_get_events]='^kevent_get_events\('
	[kevent_wait]='^kevent_wait\('
	[kevent_commit]='^kevent_commit\('
)
declare -A page_entry_section=(
	[kevent_ctl]='^kevent_ctl: per entry'
)

# Every errno name the C library knows: a word of a result cell counts as
# an errno only if it is one.
known_errnos() {
	cat /usr/include/asm-generic/errno-base.h /usr/include/asm-generic/errno.h 2>/dev/null |
		sed -nE 's/^#define[[:space:]]+(E[A-Z0-9]+)[[:space:]].*/\1/p' | sort -u
}

# doc_errnos ERRORS_MD HEADING_RE: the errnos of the result column of every
# row (tested ones and notes) of the sections whose heading matches.
doc_errnos() {
	awk -v re="$2" '
		/^## / { on = (substr($0, 4) ~ re); next }
		on && /^\|/ {
			line = $0
			gsub(/\\\|/, "", line)
			n = split(line, cell, "|")
			if (n != 5 || cell[2] ~ /^[ -]*$/ || cell[2] ~ /row/)
				next
			res = cell[4]
			while (match(res, /E[A-Z0-9]+/)) {
				print substr(res, RSTART, RLENGTH)
				res = substr(res, RSTART + RLENGTH)
			}
		}' "$1" | sort -u | comm -12 - <(known_errnos)
}

# page_errnos PAGE_FILE PART: the ".TP / .B EXXX" items of ERRORS; PART main
# is the list before any ".SS", entry the one after it.
page_errnos() {
	awk -v want="$2" '
		/^\.SH / { in_err = ($0 ~ /^\.SH ERRORS/); part = "main"; next }
		in_err && /^\.SS / { part = "entry"; next }
		in_err && /^\.TP/ { tp = 1; next }
		in_err && tp { tp = 0; if (part == want && $1 == ".B" && $2 ~ /^E[A-Z0-9]+$/) print $2 }
	' "$1" | sort -u
}

# errors_match ERRORS_MD MAN_DIR: complain about every difference between
# the pages' ERRORS and docs/errors.md, and about call sections of
# docs/errors.md that no page documents.
errors_match() {
	local md=$1 dir=$2 page part re f sec
	for page in "${!page_section[@]}"; do
		f=$dir/$page.2
		[ -f "$f" ] || { echo "$page.2: missing"; continue; }
		for part in main entry; do
			if [ "$part" = main ]; then
				re=${page_section[$page]}
			else
				re=${page_entry_section[$page]:-}
			fi
			if [ -z "$re" ]; then
				page_errnos "$f" entry | sed "s|^|$page.2: per-entry ERRORS list |; s|$| but docs/errors.md has no per-entry section for it|"
				continue
			fi
			# comm: column 1 only in the page, column 2 only in errors.md
			comm -3 <(page_errnos "$f" "$part") <(doc_errnos "$md" "$re") |
				sed -E "s|^([^\t].*)|$page.2 ($part): \1 in ERRORS, but no row of errors.md /$re/ gives it|;
					s|^\t(.*)|$page.2 ($part): \1 given by a row of errors.md /$re/, missing from ERRORS|"
		done
	done
	# A section about a call that no page documents.
	sed -n 's/^## //p' "$md" | grep -E '^kevent_' | while read -r sec; do
		local covered=0
		for re in "${page_section[@]}" "${page_entry_section[@]}"; do
			if grep -qE -- "$re" <<<"$sec"; then
				covered=1
				break
			fi
		done
		[ "$covered" = 1 ] || echo "errors.md section '$sec' is documented by no man page"
	done
}

lint_page() {
	local out rc=0
	out=$(mandoc -Tlint "$1" 2>&1) || rc=$?
	[ -z "$out" ] || echo "${out//"$KLAB_ROOT"\//}"
	[ "$rc" = 0 ] || echo "mandoc -Tlint $(basename "$1"): exit status $rc"
}

# Pages named in SEE ALSO or the text, .BR kevent_x (N), must exist here.
see_also_exist() {
	local f ref
	for f in "$man_dir"/*.[27]; do
		grep -oE '^\.BR kevent[a-z_]* \([27]\)' "$f" | sed -E 's/^\.BR ([a-z_]+) \(([27])\)/\1.\2/' |
			sort -u | while read -r ref; do
			[ -f "$man_dir/$ref" ] || echo "$(basename "$f"): refers to $ref, not in docs/man/"
		done
	done
}

# roff_quote: a file as the text lines of an .EX block. Tabs are expanded
# (every 8 columns, as the source is written): roff's tab stops count from
# the page's indentation and would misalign the code.
roff_quote() {
	expand -t 8 "$1" | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
}

# quoted_block PAGE KIND FILE: the lines between ".\" begin KIND FILE" and
# ".\" end KIND".
quoted_block() {
	awk -v b=".\\\\\" begin $2 $3" -v e=".\\\\\" end $2" '
		$0 == e { on = 0 }
		on { print }
		$0 == b { on = 1; found = 1 }
		END { exit !found }' "$1"
}

# quotes_match PAGE: every quoted file is identical to its copy in the page.
quotes_match() {
	local page=$1 kind file
	grep -oE '^\.\\" begin (example|output) [^ ]+' "$page" | while read -r _ _ kind file; do
		if [ ! -f "$KLAB_ROOT/$file" ]; then
			echo "$(basename "$page"): quotes $file, which does not exist"
		elif ! diff -u --label "$file" --label "$(basename "$page") ($kind)" \
			<(roff_quote "$KLAB_ROOT/$file") <(quoted_block "$page" "$kind" "$file") >"$work/quote.diff"; then
			echo "$(basename "$page"): its copy of $file differs (scripts/docs.sh update copies it):"
			head -n 12 "$work/quote.diff"
		fi
	done
}

# The flags the test programs are built with (tests/Makefile).
tests_flags() {
	# shellcheck disable=SC2016 # make expands it
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory -C "$KLAB_ROOT/tests" \
		--eval 'klab-print-flags: ; @echo $(CFLAGS) $(LDFLAGS)' klab-print-flags
}

# make man with its output to a pipe: the page as plain text.
make_man_text() {
	local out
	if ! out=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u MAKEOVERRIDES \
		make -s --no-print-directory -C "$KLAB_ROOT" man PAGE=kevent_wait </dev/null 2>&1); then
		echo "make man PAGE=kevent_wait failed:"
		head -n 5 <<<"$out"
		return
	fi
	grep -q '^NAME' <<<"$out" || echo "make man PAGE=kevent_wait printed no NAME line: $(head -n 2 <<<"$out")"
	if grep -q $'\b' <<<"$out"; then
		echo "make man PAGE=kevent_wait: backspace overstrikes in plain text"
	fi
}

example_compiles() {
	local flags
	read -r -a flags < <(tests_flags)
	"${CC:-gcc}" "${flags[@]}" -o "$work/example" "$1" 2>&1 | head -n 20
}

# ---- file:function references -----------------------------------------------

# refs_missing DOC...: every `path:name` (path under the repository, name a
# C identifier, optional "()") must still be there: a function defined at
# the start of a line, a SYSCALL_DEFINEn(name, a struct or a macro for C
# files; for a GDB walkthrough, a command line (not a comment) naming it.
refs_missing() {
	local doc ref path name f
	for doc in "$@"; do
		# shellcheck disable=SC2016 # backquotes of Markdown code spans
		grep -oE '`[A-Za-z0-9_./-]+\.(c|h|gdb|py):(struct )?[A-Za-z_][A-Za-z0-9_]*(\(\))?`' "$doc" |
			tr -d '`' | sed 's/()$//' | sort -u | while IFS= read -r ref; do
			path=${ref%%:*}
			name=${ref#*:}
			f=$KLAB_ROOT/$path
			if [ ! -f "$f" ]; then
				echo "${doc#"$KLAB_ROOT"/}: $ref: no file $path"
				continue
			fi
			case "$name" in
			struct\ *)
				grep -qE "^struct ${name#struct } \{" "$f" ||
					echo "${doc#"$KLAB_ROOT"/}: $ref: $path defines no ${name}"
				;;
			*)
				case "$path" in
				*.gdb)
					grep -vE '^[[:space:]]*#' "$f" | grep -qw -- "$name" ||
						echo "${doc#"$KLAB_ROOT"/}: $ref: $path does not stop at $name"
					;;
				*)
					grep -qE "^([A-Za-z_].*[ *])?$name\([^;]*\$|^SYSCALL_DEFINE[0-6]\($name,|^#define $name\b|^(static )?(const )?struct [a-z_]+ $name( =|\[)" "$f" ||
						echo "${doc#"$KLAB_ROOT"/}: $ref: $path defines no $name"
					;;
				esac
				;;
			esac
		done
	done
}

# ---- diagrams ------------------------------------------------------------------

diagrams_render() {
	local d
	command -v dot >/dev/null || { echo "graphviz missing: run scripts/deps.sh"; return; }
	for d in "$KLAB_ROOT"/docs/diagrams/*.dot; do
		[ -f "$d" ] || continue
		dot -Tsvg "$d" -o "$work/$(basename "$d" .dot).svg" 2>&1 | sed "s|^|$(basename "$d"): |"
	done
}

diagrams_shown() {
	local d guide=$KLAB_ROOT/docs/design.md
	for d in "$KLAB_ROOT"/docs/diagrams/*.dot; do
		[ -f "$d" ] || continue
		grep -qF "diagrams/$(basename "$d")" "$guide" ||
			echo "docs/diagrams/$(basename "$d") is not shown by docs/design.md"
	done
}

# ---- commands --------------------------------------------------------------------

cmd_check() {
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	local f page

	begin host_man
	command -v mandoc >/dev/null || result 0 mandoc_installed "mandoc missing: run scripts/deps.sh"
	for f in "$man_dir"/*.[27]; do
		check "man_lint:$(basename "$f")" lint_page "$f"
	done
	check man_errors_match_errors_md errors_match "$KLAB_ROOT/docs/errors.md" "$man_dir"
	check man_see_also_pages_exist see_also_exist
	for f in "$man_dir"/examples/*.c; do
		check "man_example_compiles:$(basename "$f")" example_compiles "$f"
	done
	for page in "$man_dir"/*.7 "$man_dir"/*.2; do
		grep -q '^\.\\" begin ' "$page" || continue
		check "man_quotes_match:$(basename "$page")" quotes_match "$page"
	done
	check make_man_shows_a_page_as_text make_man_text
	# The check must catch an errno a page adds, and one it forgets.
	mkdir -p "$work/man"
	sed -e 's/^\.B EPERM$/.B EXDEV/' "$man_dir/kevent_wait.2" >"$work/man/kevent_wait.2"
	for page in "${!page_section[@]}"; do
		[ -f "$work/man/$page.2" ] || cp "$man_dir/$page.2" "$work/man/"
	done
	# ... and a quoted program that no longer matches its file.
	sed 's/ROUNDS \* NKEV/ROUNDS + NKEV/' "$man_dir/kevent.7" >"$work/man/kevent.7"
	if [ -n "$(quotes_match "$work/man/kevent.7")" ]; then
		result 1 man_check_catches_a_changed_example
	else
		result 0 man_check_catches_a_changed_example "a planted change in kevent.7's copy of ring.c went unnoticed"
	fi
	mapfile -t found < <(errors_match "$KLAB_ROOT/docs/errors.md" "$work/man")
	if [ "${#found[@]}" = 2 ]; then
		result 1 man_check_catches_a_wrong_errno
	else
		result 0 man_check_catches_a_wrong_errno "expected 2 complaints (EXDEV added, EPERM missing), got ${#found[@]}:" "${found[@]}"
	fi
	end

	begin host_review
	local -a docs=()
	for f in "$KLAB_ROOT"/docs/review/*.md "$KLAB_ROOT"/docs/design.md "$KLAB_ROOT"/docs/gdb.md; do
		[ -f "$f" ] && docs+=("$f")
	done
	for f in "${docs[@]}"; do
		check "refs_exist:${f#"$KLAB_ROOT"/}" refs_missing "$f"
	done
	# shellcheck disable=SC2016 # Markdown code spans
	printf '%s\n' '`kernel/kevent/core.c:kevent_storage_ready` `kernel/kevent/core.c:kevent_no_such_function`' \
		'`kernel/kevent/gone.c:kevent_init` `gdb/walk-herd.gdb:kevent_no_such_stop`' >"$work/planted.md"
	mapfile -t found < <(refs_missing "$work/planted.md")
	if [ "${#found[@]}" = 3 ]; then
		result 1 refs_check_catches_a_missing_function
	else
		result 0 refs_check_catches_a_missing_function "expected 3 complaints, got ${#found[@]}:" "${found[@]}"
	fi
	end

	begin host_design
	check diagrams_render diagrams_render
	check diagrams_shown_by_the_guide diagrams_shown
	printf 'digraph { a -> }\n' >"$work/broken.dot"
	if command -v dot >/dev/null && ! dot -Tsvg "$work/broken.dot" -o /dev/null 2>/dev/null; then
		result 1 diagram_check_catches_a_broken_diagram
	else
		result 0 diagram_check_catches_a_broken_diagram "dot accepted a broken graph, or is missing"
	fi
	end

	[ "$failed" = 0 ]
}

cmd_man() {
	local page=${1:-} f
	if [ -z "$page" ]; then
		echo "usage: make man PAGE=name; pages:" >&2
		(cd "$man_dir" && ls -- *.[27]) | sed 's/^/  /' >&2
		exit 2
	fi
	f=$(find "$man_dir" -maxdepth 1 \( -name "$page" -o -name "$page.[0-9]" \) | sort | head -n 1)
	[ -n "$f" ] || die "no man page $page in docs/man/ (make man without PAGE= lists them)"
	command -v mandoc >/dev/null || die "mandoc missing: run scripts/deps.sh (or make deps)"
	if [ -t 1 ]; then
		mandoc -a "$f"
	else
		# Plain text: no overstrike bold or underline.
		mandoc -Tutf8 "$f" | sed 's/.\x08//g'
	fi
}

cmd_render() {
	local out=$KLAB_BUILD/docs d f
	command -v dot >/dev/null || die "graphviz missing: run scripts/deps.sh (or make deps)"
	command -v mandoc >/dev/null || die "mandoc missing: run scripts/deps.sh (or make deps)"
	mkdir -p "$out/diagrams" "$out/man"
	for d in "$KLAB_ROOT"/docs/diagrams/*.dot; do
		dot -Tsvg "$d" -o "$out/diagrams/$(basename "$d" .dot).svg"
	done
	for f in "$man_dir"/*.[27]; do
		mandoc -Thtml -Oman=%N.%S.html "$f" >"$out/man/$(basename "$f").html"
	done
	stage docs "diagrams: $out/diagrams/*.svg, man pages: $out/man/*.html"
}

cmd_update() {
	local page kind file tmp
	for page in "$man_dir"/*.[27]; do
		{ grep -oE '^\.\\" begin (example|output) [^ ]+' "$page" || true; } | while read -r _ _ kind file; do
			[ -f "$KLAB_ROOT/$file" ] || die "$(basename "$page") quotes $file, which does not exist"
			tmp=$(mktemp)
			roff_quote "$KLAB_ROOT/$file" >"$tmp.src"
			awk -v b=".\\\\\" begin $kind $file" -v e=".\\\\\" end $kind" -v src="$tmp.src" '
				$0 == b { print; while ((getline l < src) > 0) print l; skip = 1; next }
				$0 == e { skip = 0 }
				!skip { print }' "$page" >"$tmp"
			if ! cmp -s "$tmp" "$page"; then
				cat "$tmp" >"$page"
				echo "$(basename "$page"): copied $file"
			fi
			rm -f "$tmp" "$tmp.src"
		done
	done
}

case "${1:-}" in
check) cmd_check ;;
man) shift; cmd_man "$@" ;;
render) cmd_render ;;
update) cmd_update ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
