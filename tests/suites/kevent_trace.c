// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_trace - kevent's tracepoints (issue 17, docs/trace.md).
 *
 * Each test enables the "kevent" events in tracefs, runs one scenario of
 * make trace (a mode of kevent-demo, as scripts/trace.sh does) and checks
 * that the trace holds the expected events in order, with the expected
 * fields: the steps of an event's life from kevent_ctl() to the commit,
 * the WAKEUP_ONE decision and the thread it woke, the re-poll verdicts,
 * the ring's slots and laps, and every error return with its errno.
 */
#include "kevent_test.h"
#include "kt_trace.h"

static void trace_scenario(struct kt_trace *t, const char *scenario)
{
	int status;

	kt_trace_start();
	status = kt_trace_run(scenario);
	kt_trace_stop(t);
	if (status) {
		kt_fail_at(__FILE__, __LINE__, "kevent-demo %s exited %d",
			   scenario, status);
		kt_trace_log(t);
		kt_end_test();
	}
}

/* The thread woken at line @w is the one that dequeues at line @d. */
static void expect_woken_dequeues(const struct kt_trace *t, int w, int d)
{
	if (kt_trace_num(t, w, "pid") != t->line[d].pid) {
		kt_fail_at(__FILE__, __LINE__,
			   "line %d woke pid %lld, line %d dequeued in pid %d",
			   w, kt_trace_num(t, w, "pid"), d, (int)t->line[d].pid);
		kt_trace_log(t);
	}
}

/* A ONESHOT kevent of @type from its source to the ring (kevent-demo). */
static void source_to_ring(const char *scenario, const char *type,
			   const char *add_flags)
{
	struct kt_trace t;
	char re[96];
	int i, w, d;

	trace_scenario(&t, scenario);
	snprintf(re, sizeof(re), "^%s .*user=0xc0ffee .*req_flags=%s ret=0 ok",
		 type, add_flags);
	i = kt_trace_expect(&t, 0, "kevent_ctl_add", re);
	snprintf(re, sizeof(re), "^%s .*-> queued, wake all$", type);
	i = kt_trace_expect(&t, i + 1, "kevent_storage_ready", re);
	w = kt_trace_expect(&t, i + 1, "kevent_wake", "^woke pid=[0-9]+ comm=kevent-demo$");
	snprintf(re, sizeof(re), "^%s .* fired=1 poll=no -> deliver$", type);
	d = kt_trace_expect(&t, w + 1, "kevent_dequeue", re);
	expect_woken_dequeues(&t, w, d);
	i = kt_trace_expect(&t, d + 1, "kevent_copy_ring",
			    "ret_flags=DONE .*-> ring kidx=0 over=0 uidx=0$");
	i = kt_trace_expect(&t, i + 1, "kevent_finish", "-> ONESHOT, removed$");
	kt_trace_expect(&t, i + 1, "kevent_commit",
			"^new_idx=1 over=0 -> freed=1 uidx=1 kidx=1 kover=0$");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_error"), 0);
	kt_trace_free(&t);
}

TEST(timer_from_irq_to_ring)
{
	source_to_ring("timer", "TIMER", "ONESHOT");
}

TEST(pipe_poll_to_ring)
{
	source_to_ring("pipe", "POLL", "ONESHOT");
}

TEST(user_ready_to_ring)
{
	source_to_ring("user", "USER", "ONESHOT");
}

/*
 * Three threads asleep: the WAKEUP_ONE kevent wakes exactly one, the
 * plain one all three; each event is dequeued by a thread it woke; the
 * final kick wakes every thread.
 */
TEST(herd_wakeup_one_wakes_one)
{
	struct kt_trace t;
	int a, b, d, n, end, w;

	trace_scenario(&t, "herd");
	a = kt_trace_expect(&t, 0, "kevent_storage_ready",
			    "^POLL .*-> queued, wake one \\(WAKEUP_ONE\\)$");
	b = kt_trace_expect(&t, a + 1, "kevent_storage_ready",
			    "^POLL .*-> queued, wake all$");
	n = kt_trace_count(&t, a + 1, b, "kevent_wake");
	KT_EXPECT_EQ(n, 1);
	w = kt_trace_expect(&t, a + 1, "kevent_wake", "^woke pid=[0-9]+ comm=kevent-demo$");
	d = kt_trace_expect(&t, a + 1, "kevent_dequeue", "^POLL .*-> deliver$");
	KT_EXPECT(d < b);
	expect_woken_dequeues(&t, w, d);
	KT_EXPECT_EQ(kt_trace_count(&t, a + 1, b, "kevent_dequeue"), 1);
	end = kt_trace_find(&t, b + 1, "kevent_wake", "\\(kick\\)$");
	KT_ASSERT(end > b);
	KT_EXPECT_EQ(kt_trace_count(&t, b + 1, end, "kevent_wake"), 3);
	KT_EXPECT_EQ(kt_trace_count(&t, b + 1, end, "kevent_dequeue"), 1);
	KT_EXPECT_EQ(kt_trace_count(&t, end, -1, "kevent_wake"), 3);
	if (kt_failed())
		kt_trace_log(&t);
	kt_trace_free(&t);
}

/* 10 events through a 4-entry ring: slot i % 4, lap i / 4, commits. */
TEST(ring_wrap_increments_over)
{
	struct kt_trace t;
	char re[80];
	int i = 0, c;

	trace_scenario(&t, "ring-wrap");
	for (int e = 0; e < 10; e++) {
		snprintf(re, sizeof(re), "ret_data=\\{0x%x,1\\} -> ring kidx=%d over=%d uidx=%d$",
			 0x100 + e, e % 4, e / 4, e % 4);
		i = kt_trace_expect(&t, i, "kevent_copy_ring", re);
		snprintf(re, sizeof(re), "^new_idx=%d over=%d -> freed=1 uidx=%d kidx=%d kover=%d$",
			 (e + 1) % 4, (e + 1) / 4, (e + 1) % 4, (e + 1) % 4,
			 (e + 1) / 4);
		c = kt_trace_expect(&t, i + 1, "kevent_commit", re);
		KT_EXPECT_EQ(kt_trace_count(&t, i + 1, c, "kevent_copy_ring"), 0);
		i = c + 1;
	}
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_copy_ring"), 10);
	kt_trace_free(&t);
}

/* LAST_CHECK: the byte read before the dequeue: dropped; then delivered. */
TEST(last_check_verdicts)
{
	struct kt_trace t;
	int i;

	trace_scenario(&t, "last-check");
	i = kt_trace_expect(&t, 0, "kevent_ctl_add", "^POLL .*req_flags=LAST_CHECK ret=0 ok");
	i = kt_trace_expect(&t, i + 1, "kevent_storage_ready", "^POLL .*mask=0x1 fired=1 -> queued");
	i = kt_trace_expect(&t, i + 1, "kevent_dequeue_drop",
			    "mask=0x0 fired=1 poll=LAST_CHECK -> not ready, back to waiting$");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, i, "kevent_copy_buf"), 0);
	KT_EXPECT_EQ(kt_trace_count(&t, 0, i, "kevent_dequeue"), 0);
	i = kt_trace_expect(&t, i + 1, "kevent_storage_ready", "^POLL .*-> queued");
	i = kt_trace_expect(&t, i + 1, "kevent_dequeue",
			    "mask=0x1 fired=2 poll=LAST_CHECK -> still ready, deliver$");
	kt_trace_expect(&t, i + 1, "kevent_copy_buf", "ret_data=\\{0x1,2\\} -> buf\\[0\\]$");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_copy_buf"), 1);
	kt_trace_free(&t);
}

/* Level triggered: requeued to be polled after delivery, then dropped. */
TEST(level_repoll_verdicts)
{
	struct kt_trace t;
	int i;

	trace_scenario(&t, "level");
	i = kt_trace_expect(&t, 0, "kevent_dequeue", "^POLL .*poll=no -> deliver$");
	i = kt_trace_expect(&t, i + 1, "kevent_copy_buf", "-> buf\\[0\\]$");
	i = kt_trace_expect(&t, i + 1, "kevent_finish", "-> level, requeued to be polled$");
	kt_trace_expect(&t, i + 1, "kevent_dequeue_drop",
			"mask=0x0 fired=0 poll=recheck -> not ready, back to waiting$");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_dequeue"), 1);
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_copy_buf"), 1);
	kt_trace_free(&t);
}

/* Every failing call: one kevent_error line with the call and errno. */
TEST(error_returns)
{
	struct kt_trace t;
	int i;

	trace_scenario(&t, "error");
	i = kt_trace_expect(&t, 0, "kevent_error", "^kevent_ctl fd=[0-9]+ cmd=0x7 -> EINVAL \\(-22\\)$");
	i = kt_trace_expect(&t, i + 1, "kevent_error", "^kevent_ctl fd=-1 cmd=ADD -> EBADF \\(-9\\)$");
	i = kt_trace_expect(&t, i + 1, "kevent_error", "^kevent_get_events fd=[0-9]+ cmd=- -> E2BIG \\(-7\\)$");
	i = kt_trace_expect(&t, i + 1, "kevent_commit", "^new_idx=1 over=0 -> freed=0 ERANGE ");
	i = kt_trace_expect(&t, i + 1, "kevent_error", "^kevent_commit fd=[0-9]+ cmd=- -> ERANGE \\(-34\\)$");
	i = kt_trace_expect(&t, i + 1, "kevent_ctl_add", "^USER .*ret=0 ok");
	kt_trace_expect(&t, i + 1, "kevent_ctl_add", "^USER .*ret=-17 EEXIST");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, -1, "kevent_error"), 4);
	kt_trace_free(&t);
}

/* Disabled, the events record nothing. */
TEST(disabled_records_nothing)
{
	struct kt_trace t;

	kt_trace_start();
	kt_trace_stop(&t);
	kt_trace_free(&t);
	KT_EXPECT_EQ(kt_trace_run("user"), 0);
	kt_trace_stop(&t);
	KT_EXPECT_EQ(t.n, 0);
	kt_trace_free(&t);
}

/*
 * A POLL kevent added on a pipe that has data: without ALWAYS_QUEUE the
 * ADD completes at once (ret=1, the mask) and nothing is queued; with it,
 * the kevent is registered and queued by its ADD, then delivered.
 */
TEST(ready_at_add)
{
	struct ukevent uk, ev;
	struct kt_trace t;
	int q, p[2], i;

	q = KT_ASSERT_OK(kevent_init(NULL, 0, 0));
	KT_ASSERT_OK(pipe(p));
	KT_ASSERT_EQ(write(p[1], "x", 1), 1);
	kt_trace_start();
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ALWAYS_QUEUE);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kt_get_now(q, &ev, 1), 1);
	kt_trace_stop(&t);
	i = kt_trace_expect(&t, 0, "kevent_ctl_add",
			    "^POLL .*req_flags=0 ret=1 completed mask=0x1$");
	KT_EXPECT_EQ(kt_trace_count(&t, 0, i, "kevent_storage_ready_at_add"), 0);
	i = kt_trace_expect(&t, i + 1, "kevent_storage_ready_at_add",
			    "^POLL .*event=0x1 mask=0x1 fired=0 -> queued, wake all$");
	i = kt_trace_expect(&t, i + 1, "kevent_ctl_add",
			    "^POLL .*req_flags=ALWAYS_QUEUE ret=0 ok");
	i = kt_trace_expect(&t, i + 1, "kevent_dequeue", "^POLL .*mask=0x1 .*-> deliver$");
	kt_trace_expect(&t, i + 1, "kevent_copy_buf", "-> buf\\[0\\]$");
	kt_trace_free(&t);
	close(p[0]);
	close(p[1]);
	close(q);
}
