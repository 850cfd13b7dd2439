// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_timer - the TIMER storage: it fires, never early (CLOCK_MONOTONIC,
 * first expiry one period after ADD), periodic vs ONESHOT, ret_data (expiry
 * time in ms, number of expiries since last delivery), bad periods and masks.
 */
#include "kevent_test.h"

#define MS 1000000LL

/* A one-shot timer fires once, one period after ADD at the earliest. */
TEST(oneshot_fires_not_early)
{
	int fd = kt_queue();
	long long t0, t1;
	struct ukevent ev, buf[2];
	struct __kernel_timespec ts = kevent_ts_ms(500);
	__s32 exp_off;

	t0 = kt_mono_ns();
	kt_add_timer(fd, 0, 200 * MS, KEVENT_REQ_ONESHOT, 0x77);
	ev = kt_wait_one(fd);
	t1 = kt_mono_ns();
	kt_log("200 ms timer delivered after %lld ms", (t1 - t0) / MS);
	KT_EXPECT(t1 - t0 >= 200 * MS);
	KT_EXPECT_EQ(ev.type, KEVENT_TIMER);
	KT_EXPECT_EQ(ev.id.raw[0], 0);
	KT_EXPECT_EQ(ev.id.raw[1], 200 * MS);
	KT_EXPECT_EQ(ev.user_u64, 0x77);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	/* ret_data[0]: CLOCK_MONOTONIC ms (low 32 bits) of the expiry */
	exp_off = (__s32)(ev.ret_data[0] - (__u32)(t0 / MS));
	kt_log("expiry at t0 + %d ms", exp_off);
	KT_EXPECT(exp_off >= 200);
	KT_EXPECT(exp_off <= (t1 - t0) / MS + 1);
	/* never again, and gone */
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	buf[0] = ukevent_timer(0, 200 * MS, 0);
	buf[0].user_u64 = 0x77;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &buf[0]), 0);
	KT_EXPECT_BROKEN(buf[0], ENOENT);
}

/* Seconds and nanoseconds add up: 1 s + 100 ms. */
TEST(seconds_part)
{
	int fd = kt_queue();
	long long t0 = kt_mono_ns(), dt;

	kt_add_timer(fd, 1, 100 * MS, KEVENT_REQ_ONESHOT, 0);
	(void)kt_wait_one(fd);
	dt = kt_mono_ns() - t0;
	kt_log("1.1 s timer delivered after %lld ms", dt / MS);
	KT_EXPECT(dt >= 1100 * MS);
}

/* A periodic timer keeps firing; the k-th expiry is never before t0 + k*P. */
TEST(periodic_not_early)
{
	const long long P = 50 * MS;
	int fd = kt_queue();
	long long t0 = kt_mono_ns(), count = 0, now;
	struct ukevent ev;

	kt_add_timer(fd, 0, P, 0, 1);
	for (int i = 0; i < 8; i++) {
		ev = kt_wait_one(fd);
		now = kt_mono_ns();
		KT_EXPECT(ev.ret_data[1] >= 1);
		count += ev.ret_data[1];
		if (now - t0 < count * P)
			kt_fail_at(__FILE__, __LINE__,
				   "%lld expiries reported after only %lld ms (period 50 ms)",
				   count, (now - t0) / MS);
	}
	kt_log("8 deliveries, %lld expiries in %lld ms", count, (kt_mono_ns() - t0) / MS);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
}

/* Expiries while the event waits undelivered are counted in ret_data[1]. */
TEST(expiry_count)
{
	const long long P = 20 * MS;
	int fd = kt_queue();
	long long t0 = kt_mono_ns(), t1;
	struct ukevent ev;

	kt_add_timer(fd, 0, P, 0, 0);
	/* many short sleeps rather than one: the timer gets many chances */
	for (int i = 0; i < 20 || kt_mono_ns() - t0 < 20 * P; i++)
		kt_msleep(20);
	ev = kt_wait_one(fd);
	t1 = kt_mono_ns();
	kt_log("ret_data[1] = %u after %lld ms (period 20 ms)", ev.ret_data[1], (t1 - t0) / MS);
	KT_EXPECT(ev.ret_data[1] >= 2);
	KT_EXPECT(ev.ret_data[1] <= (t1 - t0) / P);
	/* and the count restarts after a delivery */
	ev = kt_wait_one(fd);
	KT_EXPECT(ev.ret_data[1] >= 1);
	KT_EXPECT(ev.ret_data[1] <= (kt_mono_ns() - t1) / P + 1);
}

/* Timers are delivered in expiry order. */
TEST(expiry_order)
{
	int fd = kt_queue();
	struct ukevent ev;

	kt_add_timer(fd, 0, 450 * MS, KEVENT_REQ_ONESHOT, 3);
	kt_add_timer(fd, 0, 150 * MS, KEVENT_REQ_ONESHOT, 1);
	kt_add_timer(fd, 0, 300 * MS, KEVENT_REQ_ONESHOT, 2);
	for (__u64 i = 1; i <= 3; i++) {
		ev = kt_wait_one(fd);
		KT_EXPECT_EQ(ev.user_u64, i);
	}
}

/* REMOVE stops a periodic timer; nothing is delivered afterwards. */
TEST(remove_stops)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_timer(0, 10 * MS, 0), buf[2];
	struct __kernel_timespec ts = kevent_ts_ms(300);

	kt_add_timer(fd, 0, 10 * MS, 0, 0);
	(void)kt_wait_one(fd);
	kt_msleep(50);	/* let it become ready again */
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 0);
}

/* MODIFY to ONESHOT: the periodic timer stops after its next delivery. */
TEST(modify_to_oneshot)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_timer(0, 20 * MS, KEVENT_REQ_ONESHOT), buf[2];
	struct __kernel_timespec ts = kevent_ts_ms(300);

	kt_add_timer(fd, 0, 20 * MS, 0, 0);
	(void)kt_wait_one(fd);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_MODIFY, &uk), 1);
	KT_EXPECT_DONE(uk);
	(void)kt_wait_one(fd);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* Closing a queue with fast periodic timers, many times: no leak, no crash. */
TEST(close_with_running_timers)
{
	for (int round = 0; round < 30; round++) {
		int fd = kt_queue();

		for (int i = 1; i <= 8; i++)
			kt_add_timer(fd, 0, i * 1 * MS, 0, 0);
		kt_msleep(5);
		KT_EXPECT_EQ(close(fd), 0);
	}
}

/* A long timer does not fire early nor block REMOVE. */
TEST(long_timer)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_timer(3600, 0, 0), buf[2];
	struct __kernel_timespec ts = kevent_ts_ms(200);

	kt_add_timer(fd, 3600, 0, 0, 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
}

static void expect_add_einval(int fd, struct ukevent uk, const char *what)
{
	int r = kt_ctl1(fd, KEVENT_CTL_ADD, &uk);

	if (r != 1 || uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) ||
	    uk.ret_data[0] != EINVAL)
		kt_fail_at(__FILE__, __LINE__,
			   "%s: ADD returned %d, ret_flags %#x ret_data[0] %u; expected 1, DONE|BROKEN, EINVAL",
			   what, r, uk.ret_flags, uk.ret_data[0]);
}

TEST(bad_period)
{
	int fd = kt_queue();

	expect_add_einval(fd, ukevent_timer(0, 1000000000u, 0), "nsec == 1e9");
	expect_add_einval(fd, ukevent_timer(1, 1000000000u, 0), "1 s + nsec == 1e9");
	expect_add_einval(fd, ukevent_timer(0, 0xffffffffu, 0), "nsec == 2^32-1");
	expect_add_einval(fd, ukevent_timer(0, 0, 0), "zero period");
	expect_add_einval(fd, ukevent_timer(0, 0, KEVENT_REQ_ONESHOT), "zero period oneshot");
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	/* the largest valid nanosecond part is fine */
	kt_add_timer(fd, 0, 999999999u, 0, 0);
}

TEST(bad_event_mask)
{
	int fd = kt_queue();
	static const __u32 bad[] = { 0, 2, 3, 0x80000000u, 0xffffffffu };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ukevent uk = ukevent_timer(1, 0, 0);
		char what[32];

		uk.event = bad[i];
		snprintf(what, sizeof(what), "event %#x", bad[i]);
		expect_add_einval(fd, uk, what);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* Timer events reach the ring through kevent_wait() as well. */
TEST(timer_into_ring)
{
	struct kevent_ring *ring = kevent_ring_alloc(4);
	int fd = KT_ASSERT_OK(kevent_init(ring, 4, 0));
	struct __kernel_timespec ts = kevent_ts(30, 0);

	kt_add_timer(fd, 0, 30 * MS, KEVENT_REQ_ONESHOT, 0x99);
	KT_ASSERT_EQ(kevent_wait(fd, 4, 0, &ts, 0), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);
	KT_EXPECT_EQ(ring->event[0].type, KEVENT_TIMER);
	KT_EXPECT_EQ(ring->event[0].user_u64, 0x99);
	KT_EXPECT_EQ(ring->event[0].ret_data[1], 1);
}

/* An expired, undelivered ONESHOT timer made periodic by MODIFY keeps firing. */
TEST(modify_oneshot_to_periodic)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_timer(0, 30 * MS, 0);
	long long deadline = kt_mono_ns() + KT_SOON_MS * MS;

	kt_add_timer(fd, 0, 30 * MS, KEVENT_REQ_ONESHOT, 0);
	/* wait until it expired (ready), without dequeuing it */
	while (kevent_fdinfo(fd, KFD_READY) != 1 && kt_mono_ns() < deadline)
		kt_msleep(5);
	KT_ASSERT_EQ(kevent_fdinfo(fd, KFD_READY), 1);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_MODIFY, &uk), 1);
	KT_EXPECT_DONE(uk);
	for (int i = 0; i < 3; i++)
		(void)kt_wait_one(fd);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
}
