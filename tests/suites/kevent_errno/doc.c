// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_errno - the table of docs/errors.md, one test per row. This file:
 * the table and its outcomes; checks.c: the inputs of each row.
 *
 * The rows are compiled in (tests/errors-rows.awk generates errors_rows.h
 * from the document at build time), so the document, not this file, says
 * what each input must give: a check (checks.c) feeds a row's inputs to the
 * kernel and compares the outcome with the row's result column, parsed as
 * docs/errors.md describes (an errno, "BROKEN <errno>", "success" or a
 * number, one per ";"-separated input). Hence:
 *   - a row without a check here fails (a new row needs its inputs written);
 *   - a check without a row fails (a row was removed or renamed);
 *   - a result that does not match the kernel fails, naming the doc's line;
 *   - a row whose result lists more outcomes than its check tests fails;
 *   - a row that names a test of another suite (`kevent_caps ring_size_cap`)
 *     passes if that suite has that test (it runs there, with the privileges
 *     and sysctls it needs).
 * Each row runs in its own process with fresh queues and memory (struct env).
 */
#include "kevent_errno.h"

#include <libgen.h>

struct doc_row {
	const char *id, *section, *input, *result;
	int line;
};

static const struct doc_row doc_rows[] = {
#include "errors_rows.h"
};

#define NROWS ((int)(sizeof(doc_rows) / sizeof(doc_rows[0])))

/* ---- outcomes of a row ------------------------------------------------- */

enum okind { O_ERRNO, O_BROKEN, O_SUCCESS, O_VALUE };

struct outcome {
	enum okind kind;
	long v;
	const char *text;	/* as written, for messages */
};

#define MAX_OUTCOMES 4

static struct {
	const struct doc_row *row;
	struct outcome o[MAX_OUTCOMES];
	char text[MAX_OUTCOMES][32];
	int n, used;
} cur;

static const struct {
	const char *name;
	int e;
} errnos[] = {
#define E(x) { #x, x }
	E(EPERM), E(ENOENT), E(EINTR), E(E2BIG), E(EBADF), E(ENOMEM), E(EACCES),
	E(EFAULT), E(EEXIST), E(ENFILE), E(EMFILE), E(ENOSPC), E(ERANGE), E(ELOOP),
	E(EINVAL), E(EAGAIN),
#undef E
};

/* Length of the word (letters, digits) at s. */
static size_t word(const char *s)
{
	size_t n = 0;

	while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
	       (s[n] >= '0' && s[n] <= '9'))
		n++;
	return n;
}

static bool errno_named(const char *s, size_t n, int *e)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strlen(errnos[i].name) == n && !strncmp(errnos[i].name, s, n)) {
			*e = errnos[i].e;
			return true;
		}
	return false;
}

/* One outcome at the start of s; false if s starts with explanation. */
static bool parse_outcome(const char *s, struct outcome *o)
{
	size_t n;
	int e;

	while (*s == ' ')
		s++;
	n = word(s);
	if (n == 6 && !strncmp(s, "BROKEN", 6) && s[6] == ' ') {
		s += 7;
		n = word(s);
		if (!errno_named(s, n, &e))
			return false;
		*o = (struct outcome){ O_BROKEN, e, NULL };
	} else if (errno_named(s, n, &e)) {
		*o = (struct outcome){ O_ERRNO, e, NULL };
	} else if (n == 7 && !strncmp(s, "success", 7)) {
		*o = (struct outcome){ O_SUCCESS, 0, NULL };
	} else if (n && strspn(s, "0123456789") == n) {
		*o = (struct outcome){ O_VALUE, strtol(s, NULL, 10), NULL };
	} else {
		return false;
	}
	return true;
}

/* The outcomes of a result: one per ";"-separated part, up to the prose. */
static int parse_result(const char *res)
{
	const char *part = res;
	int n = 0;

	while (n < MAX_OUTCOMES && parse_outcome(part, &cur.o[n])) {
		size_t len = strcspn(part, ";");

		snprintf(cur.text[n], sizeof(cur.text[n]), "%.*s", (int)len, part);
		cur.o[n].text = cur.text[n];
		n++;
		if (!part[len])
			break;
		part += len + 1;
	}
	return n;
}

/* Outcome k of the current row, or NULL (reported) if it has none. */
static const struct outcome *outcome(int k, const char *file, int line)
{
	if (k >= cur.n) {
		kt_fail_at(file, line,
			   "row %s: result \"%s\" (docs/errors.md:%d) gives %d outcome(s), this input is number %d",
			   cur.row->id, cur.row->result, cur.row->line, cur.n, k + 1);
		return NULL;
	}
	if (cur.used < k + 1)
		cur.used = k + 1;
	return &cur.o[k];
}

/* A whole call: its return and errno against outcome k of the row. */
long expect_call(int k, const char *call, const char *file, int line, long r, int err)
{
	const struct outcome *o = outcome(k, file, line);
	bool ok;

	if (!o)
		return r;
	switch (o->kind) {
	case O_ERRNO:
		ok = r == -1 && err == o->v;
		break;
	case O_SUCCESS:
		ok = r >= 0;
		break;
	case O_VALUE:
		ok = r == o->v;
		break;
	default:
		ok = false;	/* BROKEN is a per-entry result */
	}
	if (!ok)
		kt_fail_at(file, line,
			   "row %s: %s returned %ld errno %d (%s); docs/errors.md:%d says %s",
			   cur.row->id, call, r, r < 0 ? err : 0, r < 0 ? strerror(err) : "-",
			   cur.row->line, o->text);
	return r;
}

static const char *const cmd_name[] = { "ADD", "REMOVE", "MODIFY", "READY" };

/* One entry: BROKEN with the errno of outcome k; the call itself succeeds. */
void expect_entry(int k, const char *file, int line, int fd, unsigned int cmd,
		  struct ukevent uk)
{
	const struct outcome *o = outcome(k, file, line);
	int r = kevent_ctl(fd, cmd, 1, &uk);

	if (!o)
		return;
	if (o->kind != O_BROKEN) {
		kt_fail_at(file, line, "row %s: per-entry input, but docs/errors.md:%d says %s",
			   cur.row->id, cur.row->line, o->text);
		return;
	}
	if (r != (cmd == KEVENT_CTL_ADD ? 1 : 0) ||
	    uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) || uk.ret_data[0] != (__u32)o->v)
		kt_fail_at(file, line,
			   "row %s: %s type %u id %#llx event %#x flags %#x: ret %d errno %d, ret_flags %#x ret_data[0] %u (%s); docs/errors.md:%d says %s",
			   cur.row->id, cmd_name[cmd], uk.type, (unsigned long long)uk.id.raw_u64,
			   uk.event, uk.req_flags, r, errno, uk.ret_flags, uk.ret_data[0],
			   strerror((int)uk.ret_data[0]), cur.row->line, o->text);
}

/* ---- one test per row ---------------------------------------------------------- */

static const struct check *find_check(const char *id)
{
	for (size_t i = 0; i < errno_nchecks; i++)
		if (!strcmp(errno_checks[i].id, id))
			return &errno_checks[i];
	return NULL;
}

/*
 * A row checked by a test of another suite names it in backquotes,
 * `suite test` (lower-case words). Returns true and the names if it does.
 */
static bool delegated(const char *res, char *suite, size_t slen, char *test, size_t tlen)
{
	for (const char *s = strchr(res, '`'); s; s = strchr(s, '`')) {
		const char *a = s + 1, *sp, *end = strchr(a, '`');

		if (!end)
			break;
		sp = a + strspn(a, "abcdefghijklmnopqrstuvwxyz_");
		if (sp > a && *sp == ' ' && sp + 1 + strspn(sp + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") == end &&
		    end > sp + 1) {
			snprintf(suite, slen, "%.*s", (int)(sp - a), a);
			snprintf(test, tlen, "%.*s", (int)(end - sp - 1), sp + 1);
			return true;
		}
		s = end + 1;
	}
	return false;
}

/* The other suite (next to this binary) must list the test. */
static void check_delegated(const struct doc_row *row, const char *suite, const char *test)
{
	char self[512], cmd[700], line[256];
	bool found = false;
	ssize_t n;
	FILE *f;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	KT_ASSERT(n > 0);
	self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s/%s' --list", dirname(self), suite);
	f = popen(cmd, "r");
	KT_ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(strtok(line, "\n") ?: "", test))
			found = true;
	pclose(f);
	if (!found)
		kt_fail_at(__FILE__, __LINE__,
			   "row %s (docs/errors.md:%d) is checked by `%s %s`, but %s has no such test",
			   row->id, row->line, suite, test, suite);
	else
		kt_log("row %s: checked by %s %s", row->id, suite, test);
}

/* How many of the first n rows of the document are row id. */
static int rows_named(const char *id, int n)
{
	int count = 0;

	for (int i = 0; i < n; i++)
		count += !strcmp(doc_rows[i].id, id);
	return count;
}

static void run_row(void)
{
	const char *id = kt_current();
	const struct check *c = find_check(id);
	const struct doc_row *row = NULL;
	char suite[64], test[64];
	struct env e;
	int copies = 0;

	for (int i = 0; i < NROWS && !row; i++)
		if (!strcmp(doc_rows[i].id, id))
			row = &doc_rows[i];
	copies = rows_named(id, NROWS);
	if (!row) {
		kt_fail_at(__FILE__, __LINE__,
			   "checks.c checks row %s, which docs/errors.md does not have", id);
		return;
	}
	if (copies > 1)
		kt_fail_at(__FILE__, __LINE__, "docs/errors.md has %d rows %s", copies, id);
	kt_log("docs/errors.md:%d (%s) %s | %s | %s", row->line, row->section, row->id, row->input,
	       row->result);
	if (delegated(row->result, suite, sizeof(suite), test, sizeof(test))) {
		check_delegated(row, suite, test);
		return;
	}
	if (!c) {
		kt_fail_at(__FILE__, __LINE__,
			   "row %s (docs/errors.md:%d) has no check in tests/suites/kevent_errno/checks.c",
			   id, row->line);
		return;
	}
	memset(&cur, 0, sizeof(cur));
	cur.row = row;
	cur.n = parse_result(row->result);
	if (!cur.n) {
		kt_fail_at(__FILE__, __LINE__,
			   "row %s (docs/errors.md:%d): result \"%s\" does not start with an outcome",
			   id, row->line, row->result);
		return;
	}
	env_open(&e);
	c->fn(&e);
	if (cur.used < cur.n)
		kt_fail_at(__FILE__, __LINE__,
			   "row %s: docs/errors.md:%d gives %d outcomes, the check tested %d",
			   id, row->line, cur.n, cur.used);
}

/* Every row is a test, and so is every check (a check without a row fails). */
__attribute__((constructor)) static void register_rows(void)
{
	for (int i = 0; i < NROWS; i++)
		if (!rows_named(doc_rows[i].id, i))
			kt_register(doc_rows[i].id, run_row, 60);
	for (size_t i = 0; i < errno_nchecks; i++)
		if (!rows_named(errno_checks[i].id, NROWS))
			kt_register(errno_checks[i].id, run_row, 60);
}
