// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_bench - the quick configuration of the benchmark (make bench
 * QUICK=1) as a guest suite of make test: every API of every part must
 * deliver each event exactly once (nothing lost, duplicated or reported
 * with nothing to read). The timings are printed as diagnostics and never
 * asserted: make test checks the harness and the counters, make bench
 * measures.
 *
 * The benchmark itself is bench/kbench.c, compiled in here with
 * KBENCH_SUITE defined (no main(): the ktest harness runs the tests).
 */
#define KBENCH_SUITE 1
#include "../../../bench/kbench.c"

/* Run one part of the quick configuration; report and check its counters. */
static void quick_part(enum part p)
{
	const char *const *names;
	unsigned int i, n;

	config_quick(&cfg);
	cfg.quiet = true;
	cfg.readiness = p == PART_READY;
	cfg.writer = p == PART_WRITER;
	cfg.registration = p == PART_REG;
	cfg.herd = p == PART_HERD;
	cfg.timer = p == PART_TIMER;
	/*
	 * 100 timers, not 1,000: the part creates them six times over
	 * (kevent and timerfd, delivered and undelivered), which took more
	 * than a minute on the debug kernel; the counters are what is
	 * checked here, make bench measures with 1,000.
	 */
	cfg.timers = 100;
	run_all();
	names = part_apis(p, &n);
	for (i = 0; i < n; i++) {
		const struct check *c = &checks[p][i];

		if (!slot_on(p, i))
			continue;
		kt_log("%s %s: %llu events, %llu lost, %llu dup, %llu empty", part_name[p],
		       names[i], c->events, c->lost, c->dup, c->empty);
		KT_EXPECT(c->events > 0);
		KT_EXPECT(check_bad(c) == 0);
	}
}

TEST_TIMEOUT(readiness_exactly_once, 180)
{
	quick_part(PART_READY);
}

TEST_TIMEOUT(writer_exactly_once, 60)
{
	quick_part(PART_WRITER);
}

TEST_TIMEOUT(registration_exactly_once, 60)
{
	quick_part(PART_REG);
}

TEST_TIMEOUT(herd_exactly_once, 120)
{
	/* The herd waits for its threads to sleep in the wait call, seen
	 * in /proc/PID/syscall, which User-Mode Linux does not have. */
	if (kt_uml())
		kt_skip("no /proc/PID/syscall under User-Mode Linux");
	kt_need_cpus(2);
	quick_part(PART_HERD);
}

TEST_TIMEOUT(timers_exactly_once, 120)
{
	quick_part(PART_TIMER);
}

/*
 * The final drain of the timers part must end even when the timers expire
 * faster than one pass of it reads them: 100 periodic timers of 20 us are
 * ready again before a pass over all of them is done (under TCG or UML a
 * pass takes milliseconds). A drain that waits for a pass with nothing
 * ready never ends; under a slow User-Mode Linux the undelivered-timer
 * window of timers_exactly_once ran into its time limit that way. The
 * counts it takes must still match the clock.
 */
TEST_TIMEOUT(timer_drain_ends_when_timers_outpace_it, 120)
{
	unsigned int api;

	for (api = 0; api < 2; api++) {
		struct check c = { 0 };
		unsigned long long calls = 0, expiries;
		struct timer_set s;

		timers_arm(&s, api, 100, 20000);
		sleep_until(timers_last_armed(&s) + 20000000LL);
		expiries = timers_consume(&s, 0, &c, &calls);
		timers_close(&s);
		kt_log("%s: %llu expiries in %llu calls, %llu lost, %llu dup, %llu empty",
		       timer_api[api], expiries, calls, c.lost, c.dup, c.empty);
		KT_EXPECT(expiries > 0);
		KT_EXPECT_EQ(c.lost, 0);
		KT_EXPECT_EQ(c.dup, 0);
	}
}

/*
 * The counters themselves: one fd made readable that no round asked for
 * must be counted as exactly one dup for every API, whether the API
 * reports it during the round or in the final check. A harness whose
 * counters saw nothing would pass every run above.
 */
TEST_TIMEOUT(counters_catch_a_planted_event, 60)
{
	unsigned int i;

	config_quick(&cfg);
	cfg.quiet = true;
	cfg.registration = cfg.herd = cfg.timer = cfg.writer = false;
	cfg.src_mask = 1u << SRC_EVENTFD;
	cfg.n[0] = 10;
	cfg.nn = 1;
	cfg.a[0] = 1;
	cfg.na = 1;
	cfg.min_rounds = cfg.max_rounds = 1;
	cfg.inject = true;
	run_all();
	for (i = 0; i < NAPI; i++) {
		const struct check *c = &checks[PART_READY][i];

		kt_log("%s: %llu events, %llu lost, %llu dup, %llu empty", api_name[i],
		       c->events, c->lost, c->dup, c->empty);
		KT_EXPECT_EQ(c->events, 1);
		KT_EXPECT_EQ(c->dup, 1);
		KT_EXPECT_EQ(c->lost, 0);
		KT_EXPECT_EQ(c->empty, 0);
	}
}
