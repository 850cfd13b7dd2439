// SPDX-License-Identifier: GPL-2.0
/*
 * kt_trace - kevent's tracepoints from a test: see kt_trace.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt_trace.h"
#include "ktest.h"

#define TRACEFS "/sys/kernel/tracing"

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void must_write(const char *file, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	if (write_file(path, s))
		kt_fail_at(__FILE__, __LINE__, "cannot write '%s' to %s: %s",
			   s, path, strerror(errno));
}

void kt_trace_start(void)
{
	struct stat st;

	if (stat(TRACEFS "/events", &st) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL))
		kt_skip("no tracefs at " TRACEFS);
	if (stat(TRACEFS "/events/kevent", &st))
		kt_skip("the kernel has no kevent tracepoints");
	must_write("tracing_on", "0");
	must_write("events/enable", "0");
	must_write("trace", "");
	must_write("events/kevent/enable", "1");
	must_write("tracing_on", "1");
	if (kt_failed())
		kt_end_test();
}

/* Split one ftrace line into its parts; 0 if it is not an event line. */
static int parse(struct kt_trace_line *l)
{
	char *p = strstr(l->raw, ": kevent_"), *q, *b;

	if (!p)
		return 0;
	l->event = p + 2;
	q = strstr(l->event, ": ");
	if (!q)
		return 0;
	*q = 0;
	l->fields = q + 2;
	/* "TASK-PID [CPU]": the pid ends before the " [" of the CPU */
	b = strstr(l->raw, " [");
	if (!b || b > p)
		return 0;
	while (b > l->raw && b[-1] == ' ')
		b--;
	q = b;
	while (q > l->raw && q[-1] != '-')
		q--;
	l->pid = (pid_t)strtol(q, NULL, 10);
	return 1;
}

void kt_trace_stop(struct kt_trace *t)
{
	char buf[1024];
	FILE *f;

	must_write("tracing_on", "0");
	must_write("events/kevent/enable", "0");
	t->line = NULL;
	t->n = 0;
	f = fopen(TRACEFS "/trace", "r");
	if (!f) {
		kt_fail_at(__FILE__, __LINE__, "open " TRACEFS "/trace: %s",
			   strerror(errno));
		return;
	}
	while (fgets(buf, sizeof(buf), f)) {
		struct kt_trace_line l = { .raw = strdup(buf) };

		if (buf[0] == '#' || !l.raw)
			goto skip;
		l.raw[strcspn(l.raw, "\n")] = 0;
		if (!parse(&l))
			goto skip;
		t->line = realloc(t->line, (t->n + 1) * sizeof(*t->line));
		if (!t->line)
			abort();
		t->line[t->n++] = l;
		continue;
skip:
		free(l.raw);
	}
	fclose(f);
}

void kt_trace_free(struct kt_trace *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->line[i].raw);
	free(t->line);
	t->line = NULL;
	t->n = 0;
}

int kt_trace_run(const char *scenario)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execlp("kevent-demo", "kevent-demo", scenario, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int kt_trace_find(const struct kt_trace *t, int from, const char *event,
		  const char *ere)
{
	regex_t re;
	int i, found = -1;

	if (ere && regcomp(&re, ere, REG_EXTENDED | REG_NOSUB)) {
		kt_fail_at(__FILE__, __LINE__, "bad regular expression /%s/", ere);
		return -1;
	}
	for (i = from < 0 ? 0 : from; i < t->n; i++) {
		if (strcmp(t->line[i].event, event))
			continue;
		if (ere && regexec(&re, t->line[i].fields, 0, NULL, 0))
			continue;
		found = i;
		break;
	}
	if (ere)
		regfree(&re);
	return found;
}

void kt_trace_log(const struct kt_trace *t)
{
	kt_log("the trace (%d kevent lines):", t->n);
	for (int i = 0; i < t->n; i++)
		kt_log("%3d pid %d %s: %s", i, (int)t->line[i].pid,
		       t->line[i].event, t->line[i].fields);
}

int kt_trace_expect(const struct kt_trace *t, int from, const char *event,
		    const char *ere)
{
	int i = kt_trace_find(t, from, event, ere);

	if (i < 0) {
		kt_fail_at(__FILE__, __LINE__,
			   "no %s line matching /%s/ at or after line %d",
			   event, ere ? ere : "", from);
		kt_trace_log(t);
		kt_end_test();
	}
	return i;
}

int kt_trace_count(const struct kt_trace *t, int from, int to,
		   const char *event)
{
	int n = 0;

	if (to < 0 || to > t->n)
		to = t->n;
	for (int i = from < 0 ? 0 : from; i < to; i++)
		n += !strcmp(t->line[i].event, event);
	return n;
}

long long kt_trace_num(const struct kt_trace *t, int i, const char *key)
{
	char pat[40];
	const char *p;

	if (i < 0 || i >= t->n)
		return -1;
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(t->line[i].fields, pat);
	if (!p && !strncmp(t->line[i].fields, pat + 1, strlen(pat + 1)))
		p = t->line[i].fields - 1;
	if (!p)
		return -1;
	return strtoll(p + strlen(pat), NULL, 0);
}
