# SPDX-License-Identifier: GPL-2.0
# docs/errors.md -> the C initialisers of its table rows, for kevent_errno:
#
#	{ "I1", "kevent_init(ring, ring_size, flags)", "<input>", "<result>", 27 },
#
# A row is a table line whose first cell is an id (a capital letter and a
# number); its section is the last "## " heading, its number the line in
# docs/errors.md. Markdown's "\|" inside a cell is a "|". A row with an id
# but not three cells stops the build: the table is the suite's input.

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

function cstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return "\"" s "\""
}

BEGIN {
	print "/* Generated from docs/errors.md by tests/errors-rows.awk. Do not edit. */"
}

/^## / {
	section = trim(substr($0, 4))
}

/^\|/ {
	line = $0
	gsub(/\\\|/, "\001", line)
	n = split(line, cell, "|")
	id = trim(cell[2])
	if (id !~ /^[A-Z][0-9]+$/)
		next
	if (n != 5) {
		printf "%s:%d: row %s has %d cells, expected 3\n", FILENAME, NR, id, n - 2 > "/dev/stderr"
		bad = 1
		next
	}
	input = trim(cell[3])
	result = trim(cell[4])
	gsub(/\001/, "|", input)
	gsub(/\001/, "|", result)
	printf "\t{ %s, %s, %s, %s, %d },\n", cstr(id), cstr(section), cstr(input), cstr(result), NR
}

END {
	exit bad
}
