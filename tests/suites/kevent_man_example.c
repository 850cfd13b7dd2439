// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_man_example - the example programs of the man pages (docs/man/
 * examples/) run as they are printed: each one's main() is compiled in
 * under another name and must return 0. scripts/docs-check.sh keeps the
 * pages' copies identical to these files.
 */
#include "ktest.h"

#define main ring_example_main
#include "../../docs/man/examples/ring.c"
#undef main

/*
 * Run @fn with its standard output in a memory file, then log that output
 * as diagnostics: a bare line on stdout would not be KTAP. Returns what
 * @fn returned; @last gets the output's last line.
 */
static int run_captured(int (*fn)(void), char *last, size_t len)
{
	int mem = memfd_create("example-out", 0), saved = dup(STDOUT_FILENO);
	char buf[4096], *line, *save = NULL;
	ssize_t n;
	int rc;

	KT_ASSERT(mem >= 0 && saved >= 0);
	fflush(stdout);
	KT_ASSERT(dup2(mem, STDOUT_FILENO) == STDOUT_FILENO);
	rc = fn();
	fflush(stdout);
	KT_ASSERT(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
	n = pread(mem, buf, sizeof(buf) - 1, 0);
	KT_ASSERT(n >= 0);
	buf[n] = '\0';
	last[0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		kt_log("%s", line);
		snprintf(last, len, "%s", line);
	}
	close(mem);
	close(saved);
	return rc;
}

/* kevent(7), EXAMPLES: 18 events through an 8-entry ring, two wraps. */
TEST(ring_c_exits_0)
{
	char last[256];

	KT_EXPECT_EQ(run_captured(ring_example_main, last, sizeof(last)),
		     EXIT_SUCCESS);
	KT_EXPECT(!strcmp(last,
			  "18 events through a ring of 8 entries, ring_over 2"));
}
