// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_timer_count - the expiry count of periodic TIMER kevents.
 *
 * - ret_data[1] (expiries since the last delivery) saturates at U32_MAX:
 *   neither more expiries nor a KEVENT_CTL_READY (one more expiry) wrap it.
 * - A periodic timer whose expiry waits undelivered is not re-armed (the
 *   fdinfo line of a TIMER kevent ends with " armed=0|1"); the count is
 *   computed from the time elapsed when the event is delivered, and is
 *   exact: the whole periods elapsed since ADD, within the clock readings
 *   taken around the ADD and the delivery.
 * - The fdinfo line is one snapshot: a registered periodic timer is never
 *   shown "waiting" and unarmed, even while its hrtimer fires.
 */
#include <limits.h>

#include "kevent_test.h"

#define MS 1000000LL

/*
 * The state and armed fields of the (only) TIMER kevent line in the
 * fdinfo of q. armed is -1 when the line has no "armed=" field. Returns
 * false if there is no TIMER kevent line.
 */
static bool timer_line(int q, char *state, size_t len, int *armed)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", q);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s, *a;

		if (strncmp(line, "kevent:", 7) || !strstr(line, "type=2 "))
			continue;
		found = true;
		line[strcspn(line, "\n")] = '\0';
		s = strstr(line, " state=");
		snprintf(state, len, "%.*s", s ? (int)strcspn(s + 7, " ") : 0, s ? s + 7 : "");
		a = strstr(line, " armed=");
		*armed = a ? atoi(a + 7) : -1;
		if (!a)
			kt_log("no armed= field: \"%s\"", line);
	}
	fclose(f);
	return found;
}

/*
 * A 1 ns periodic timer left undelivered for more than 2^32 ns, then one
 * READY: the count stays at U32_MAX.
 */
TEST_TIMEOUT(timer_count_saturates, 20)
{
	int q = kt_queue();
	struct ukevent uk, ev;
	long long t0 = kt_mono_ns();

	kt_add_timer(q, 0, 1, 0, 0x8);
	/* 2^32 ns is 4.295 s; leave a margin for a slow clock read */
	while (kt_mono_ns() - t0 < 4600 * MS)
		kt_msleep(100);
	uk = ukevent_timer(0, 1, 0);
	uk.user_u64 = 0x8;
	KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_READY, &uk), 1);
	ev = kt_wait_one_ms(q, 5000);
	kt_log("ret_data[1] = %#x after %lld ms of 1 ns periods and one READY",
	       ev.ret_data[1], (kt_mono_ns() - t0) / MS);
	KT_EXPECT_EQ(ev.user_u64, 0x8);
	KT_EXPECT_EQ(ev.ret_data[1], 0xffffffffu);
}

/*
 * A 1 us periodic timer, ready and undelivered, is not armed (seen twice,
 * 100 ms apart); after a delivery it is armed again or already ready again.
 */
TEST(timer_undelivered_not_rearmed)
{
	int q = kt_queue(), armed;
	long long deadline = kt_mono_ns() + KT_SOON_MS * MS;
	char state[32];

	kt_add_timer(q, 0, 1000, 0, 0x9);
	while (kevent_fdinfo(q, KFD_READY) != 1 && kt_mono_ns() < deadline)
		kt_msleep(1);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	for (int i = 0; i < 2; i++) {
		if (i)
			kt_msleep(100);
		KT_ASSERT(timer_line(q, state, sizeof(state), &armed));
		kt_log("undelivered, check %d: state=%s armed=%d", i, state, armed);
		KT_EXPECT(!strcmp(state, "ready"));
		KT_EXPECT_EQ(armed, 0);
	}
	(void)kt_wait_one_ms(q, 5000);
	KT_ASSERT(timer_line(q, state, sizeof(state), &armed));
	kt_log("after a delivery: state=%s armed=%d", state, armed);
	KT_EXPECT(armed == 1 || (!strcmp(state, "ready") && armed == 0));
}

/*
 * A registered periodic timer is always ready, in flight or armed: a line
 * "state=waiting armed=0" would be a timer that never fires again. The
 * line must be one snapshot even while the hrtimer fires: a 1 us timer is
 * delivered over and over while this thread and a second one read the
 * fdinfo line after each delivery and all along.
 */
struct line_reader {
	int q;
	bool stop;
	int reads, bad;
};

static bool line_consistent(int q, int *reads)
{
	char state[32];
	int armed;

	if (!timer_line(q, state, sizeof(state), &armed))
		return false;
	++*reads;
	if (strcmp(state, "waiting") || armed == 1)
		return true;
	kt_log("state=%s armed=%d", state, armed);
	return false;
}

static void *read_lines(void *arg)
{
	struct line_reader *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
		if (!line_consistent(r->q, &r->reads))
			r->bad++;
	return NULL;
}

#define CONSISTENT_DELIVERIES 400

TEST(timer_line_consistent)
{
	struct line_reader r = { .q = kt_queue() };
	int reads = 0, bad = 0;
	pthread_t th;

	kt_add_timer(r.q, 0, 1000, 0, 0xb);
	KT_ASSERT_EQ(pthread_create(&th, NULL, read_lines, &r), 0);
	for (int i = 0; i < CONSISTENT_DELIVERIES; i++) {
		(void)kt_wait_one_ms(r.q, 5000);
		if (!line_consistent(r.q, &reads))
			bad++;
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
	kt_log("%d deliveries: %d of %d lines read after a delivery and %d of %d read alongside were neither ready, in flight nor armed",
	       CONSISTENT_DELIVERIES, bad, reads, r.bad, r.reads);
	KT_EXPECT_EQ(bad, 0);
	KT_EXPECT_EQ(r.bad, 0);
}

/* floor(a / b) and ceil(a / b) for a >= 0, b > 0. */
static long long div_floor(long long a, long long b)
{
	return a < 0 ? 0 : a / b;
}

static long long div_ceil(long long a, long long b)
{
	return a < 0 ? 0 : (a + b - 1) / b;
}

/*
 * The expiries delivered so far are the whole periods elapsed since ADD.
 * The kernel's ADD time lies in [before_add, after_add] and each delivery
 * time in [before_get, after_get], so the running total must lie in
 * [floor((before_get - after_add) / P), ceil((after_get - before_add) / P)].
 *
 * The bounds are only as tight as those windows. An ADD that took long
 * (first use of the slabs, an interrupt) is retried, so that the window
 * is not much wider than a plain system call: a count computed at an
 * earlier moment than the delivery (a stale count) then falls below the
 * lower bound. Many deliveries give a stale count many chances to show.
 */
#define EXACT_P		1000LL		/* 1 us */
#define EXACT_ADD_NS	60000LL		/* retry an ADD slower than this */
#define EXACT_DELIVERIES 200

TEST(timer_count_exact_at_delivery)
{
	int q = kt_queue(), bad = 0, tries = 0;
	long long before_add, after_add, total = 0, min_margin = LLONG_MAX;
	struct ukevent rm;

	do {
		if (tries++) {
			rm = ukevent_timer(0, (__u32)EXACT_P, 0);
			rm.user_u64 = 0xa;
			KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &rm), 1);
		}
		before_add = kt_mono_ns();
		kt_add_timer(q, 0, (__u32)EXACT_P, 0, 0xa);
		after_add = kt_mono_ns();
	} while (after_add - before_add > EXACT_ADD_NS && tries < 50);
	kt_log("ADD window %lld ns after %d tries", after_add - before_add, tries);
	for (int i = 0; i < EXACT_DELIVERIES; i++) {
		long long before_get, after_get, lo, hi;
		struct ukevent ev;

		kt_msleep(2);
		before_get = kt_mono_ns();
		ev = kt_wait_one_ms(q, 5000);
		after_get = kt_mono_ns();
		total += ev.ret_data[1];
		lo = div_floor(before_get - after_add, EXACT_P);
		hi = div_ceil(after_get - before_add, EXACT_P);
		if (total - lo < min_margin)
			min_margin = total - lo;
		if ((total < lo || total > hi) && bad++ < 5)
			kt_fail_at(__FILE__, __LINE__,
				   "delivery %d: %lld expiries in all (+%u), expected %lld..%lld",
				   i, total, ev.ret_data[1], lo, hi);
	}
	kt_log("%d deliveries, %lld expiries, %d out of bounds, smallest margin above the minimum %lld",
	       EXACT_DELIVERIES, total, bad, min_margin);
	KT_EXPECT_EQ(bad, 0);
}
