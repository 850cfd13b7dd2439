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
	cfg.registration = p == PART_REG;
	cfg.herd = p == PART_HERD;
	cfg.timer = p == PART_TIMER;
	run_all();
	names = part_apis(p, &n);
	for (i = 0; i < n; i++) {
		const struct check *c = &checks[p][i];

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

TEST_TIMEOUT(timers_exactly_once, 60)
{
	quick_part(PART_TIMER);
}
