/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_trace - kevent's tracepoints from a test (docs/trace.md): enable the
 * events of the "kevent" system in tracefs, run a scenario, read back what
 * was recorded and look for an ordered sequence of events.
 *
 *	struct kt_trace t;
 *	kt_trace_start();			   cleared, kevent events on
 *	kt_trace_run("timer");			   kevent-demo timer, its status
 *	kt_trace_stop(&t);			   events off, lines read
 *	i = kt_trace_expect(&t, 0, "kevent_dequeue", "poll=no -> deliver");
 *	kt_trace_free(&t);
 *
 * A line is ftrace's: "TASK-PID [CPU] FLAGS TIME: EVENT: FIELDS".
 */
#ifndef KLAB_KT_TRACE_H
#define KLAB_KT_TRACE_H

#include <sys/types.h>

struct kt_trace_line {
	char *raw;		/* the whole line */
	char *event;		/* "kevent_dequeue" */
	char *fields;		/* what the event printed */
	pid_t pid;		/* the task it ran in */
};

struct kt_trace {
	struct kt_trace_line *line;
	int n;
};

/* Clear the trace buffer and enable the kevent events; skips the test if
 * the kernel has no tracefs or no kevent events. */
void kt_trace_start(void);
/* Disable the events and read what was recorded into @t. */
void kt_trace_stop(struct kt_trace *t);
void kt_trace_free(struct kt_trace *t);
/* Run kevent-demo @scenario (its output to /dev/null); its exit status. */
int kt_trace_run(const char *scenario);
/*
 * The first line at or after @from whose event is @event and whose fields
 * match the extended regular expression @ere (NULL: any), or -1.
 */
int kt_trace_find(const struct kt_trace *t, int from, const char *event,
		  const char *ere);
/* kt_trace_find() that fails the test (and logs the trace) if none. */
int kt_trace_expect(const struct kt_trace *t, int from, const char *event,
		    const char *ere);
/* Lines of @event in [@from, @to) (@to -1: to the end). */
int kt_trace_count(const struct kt_trace *t, int from, int to,
		   const char *event);
/* The number after "@key=" in line @i's fields, -1 if none. */
long long kt_trace_num(const struct kt_trace *t, int i, const char *key);
/* Log every line (a failing test's diagnostics). */
void kt_trace_log(const struct kt_trace *t);

#endif /* KLAB_KT_TRACE_H */
