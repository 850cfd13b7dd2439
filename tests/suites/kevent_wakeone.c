// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_wakeone - a KEVENT_REQ_WAKEUP_ONE wake-up is never lost.
 *
 * The one exclusive wake-up must reach a thread that can take the event:
 *
 * - a waiter that cannot consume (kevent_get_events() with min_nr larger
 *   than what is ready) refuses it, so it passes to the next sleeper;
 * - several queues watching one file with WAKEUP_ONE kevents are tried in
 *   turn, as epoll's EPOLLEXCLUSIVE does: a queue whose kevent becomes
 *   ready but that has nobody asleep able to take it (a busy worker, a
 *   stopped process) does not end the search;
 * - a level-triggered WAKEUP_ONE kevent wakes one sleeper per write: the
 *   re-arm after a delivery must not wake a second thread for readiness
 *   the first one is about to consume.
 *
 * "Must wake" checks are bounded by WAKE_MS; sleepers are seen asleep in
 * their system call (kt_wait_blocked) before anything is fired.
 */
#include "kevent_test.h"

/* A thread that can take the event must have it well within this. */
#define WAKE_MS 2000

static void make_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
}

/* A waiter in kevent_get_events(min_nr, max_nr) with a bounded timeout. */
static void start_getter(struct kt_waiter *w, int q, unsigned int min_nr, unsigned int max_nr)
{
	kt_waiter_init(w, q, KT_WAIT_GET);
	w->min_nr = min_nr;
	w->max_nr = max_nr;
	w->ts = kevent_ts(20, 0);
	if (!kt_waiter_start_blocked(w)) {
		kt_fail_at(__FILE__, __LINE__, "waiter (min %u) never slept in kevent_get_events: ret %d errno %d",
			   min_nr, w->ret, w->err);
		kt_end_test();
	}
}

/* Make the waiters of q return (READY with num 0) and join them. */
static void release_waiters(int q, struct kt_waiter **w, int n)
{
	KT_EXPECT_EQ(kevent_ctl(q, KEVENT_CTL_READY, 0, NULL), 0);
	for (int i = 0; i < n; i++)
		if (!kt_waiter_join(w[i], KT_SOON_MS))
			kt_fail_at(__FILE__, __LINE__, "waiter %d did not leave after READY 0", i);
}

/*
 * W2 sleeps first, in kevent_get_events(min_nr 2): one ready event is not
 * enough for it. W1 sleeps after it with min_nr 1. One WAKEUP_ONE event:
 * the wake-up must go to W1, which can take it; W2 stays asleep.
 */
TEST(wakeup_one_skips_min_nr_waiter)
{
	int q = kt_queue();
	struct kt_waiter w1, w2;
	long long t0, dt;

	kt_add_user(q, 1, 0xabc, KEVENT_REQ_WAKEUP_ONE);
	start_getter(&w2, q, 2, 2);
	start_getter(&w1, q, 1, 1);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_WAITERS), 2);

	t0 = kt_mono_ns();
	kt_ready_user(q, 1, 0xabc, 0x5);
	if (!kt_waiter_join(&w1, WAKE_MS)) {
		kt_fail_at(__FILE__, __LINE__,
			   "min_nr 1 waiter still asleep %d ms after a WAKEUP_ONE READY: wake-up swallowed by the min_nr 2 waiter (fdinfo ready %lld wakeups %lld)",
			   WAKE_MS, kevent_fdinfo(q, KFD_READY), kevent_fdinfo(q, KFD_WAKEUPS));
		struct kt_waiter *all[] = { &w1, &w2 };

		release_waiters(q, all, 2);
		kt_end_test();
	}
	dt = (kt_mono_ns() - t0) / 1000000;
	kt_log("min_nr 1 waiter returned after %lld ms", dt);
	KT_EXPECT_EQ(w1.ret, 1);
	KT_EXPECT_EQ(w1.buf[0].user_u64, 0xabc);
	KT_EXPECT_EQ(w1.buf[0].ret_data[0], 0x5);
	/* the min_nr 2 waiter has not got what it waits for: still asleep */
	KT_EXPECT(!kt_waiter_done(&w2));
	KT_EXPECT(kt_wait_blocked(w2.tid, __NR_kevent_get_events, KT_SOON_MS));
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);

	struct kt_waiter *rest[] = { &w2 };

	release_waiters(q, rest, 1);
	KT_EXPECT_EQ(w2.ret, 0);
}

/*
 * Pre-fork workers: queues Q1 and Q2 each watch one pipe with a WAKEUP_ONE
 * POLL kevent, Q1's added first. Nobody waits on Q1 (its worker is busy);
 * a thread sleeps on Q2. A write must wake the Q2 thread.
 */
TEST(wakeup_one_busy_queue_does_not_starve)
{
	int q1 = kt_queue(), q2 = kt_queue(), p[2];
	struct kt_waiter w;
	struct ukevent buf[4];

	make_pipe(p);
	kt_add_poll(q1, p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE, 0x1);
	kt_add_poll(q2, p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE, 0x2);
	start_getter(&w, q2, 1, 4);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	if (!kt_waiter_join(&w, WAKE_MS)) {
		kt_fail_at(__FILE__, __LINE__,
			   "Q2's sleeper not woken %d ms after the write; Q1 ready %lld, Q2 ready %lld: the busy queue took the only wake-up",
			   WAKE_MS, kevent_fdinfo(q1, KFD_READY), kevent_fdinfo(q2, KFD_READY));
		struct kt_waiter *all[] = { &w };

		release_waiters(q2, all, 1);
		kt_end_test();
	}
	KT_EXPECT_EQ(w.ret, 1);
	KT_EXPECT_EQ(w.buf[0].user_u64, 0x2);
	KT_EXPECT(w.buf[0].ret_data[0] & POLLIN);
	/* the busy worker finds the file readable when it comes back */
	KT_EXPECT_EQ(kt_get_now(q1, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x1);
}

/* ---- a worker in another process ------------------------------------- */

static bool proc_in_syscall(pid_t pid, long nr)
{
	long long before;

	if (nr < 0 || kt_thread_syscall(pid) == nr)
		return true;
	if (!kt_uml())
		return false;
	before = kt_thread_nvcsw(pid);
	kt_msleep(20);
	return before >= 0 && kt_thread_nvcsw(pid) == before;
}

/* Bounded wait until process pid is in state `state` (and syscall nr if >= 0). */
static bool proc_wait_state(pid_t pid, char state, long nr, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL;

	while (kt_mono_ns() < deadline) {
		if (kt_thread_state(pid) == state && proc_in_syscall(pid, nr)) {
			kt_msleep(2);
			if (kt_thread_state(pid) == state && proc_in_syscall(pid, nr))
				return true;
		}
		kt_msleep(1);
	}
	return false;
}

/*
 * A worker process sleeps on its own queue Q1 (WAKEUP_ONE POLL kevent on
 * an inherited pipe, added first), then is stopped: it cannot take
 * anything. The parent's thread sleeping on Q2 must get the write.
 */
TEST(wakeup_one_exited_worker)
{
	int q2, p[2], sync[2], status;
	struct kt_waiter w;
	pid_t pid;
	char c;

	make_pipe(p);
	KT_ASSERT_OK(pipe2(sync, O_CLOEXEC));
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		struct __kernel_timespec ts = kevent_ts(60, 0);
		struct ukevent uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE);
		int q1 = kevent_init(NULL, 0, 0);

		uk.user_u64 = 0x1;
		if (q1 < 0 || kevent_ctl(q1, KEVENT_CTL_ADD, 1, &uk) != 0)
			_exit(2);
		if (write(sync[1], "a", 1) != 1)
			_exit(3);
		/* sleeps here until stopped, then killed */
		kevent_get_events(q1, 1, 1, &ts, &uk, 0);
		_exit(4);
	}
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1) {
		waitpid(pid, &status, 0);
		kt_fail_at(__FILE__, __LINE__, "worker failed to set up: status %#x", status);
		kt_end_test();
	}
	if (!proc_wait_state(pid, 'S', __NR_kevent_get_events, KT_SOON_MS)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		kt_fail_at(__FILE__, __LINE__, "worker never slept in kevent_get_events");
		kt_end_test();
	}
	KT_ASSERT_OK(kill(pid, SIGSTOP));
	KT_ASSERT(proc_wait_state(pid, 'T', -1, KT_SOON_MS));

	q2 = kt_queue();
	kt_add_poll(q2, p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE, 0x2);
	start_getter(&w, q2, 1, 4);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	bool woken = kt_waiter_join(&w, WAKE_MS);

	kill(pid, SIGKILL);
	KT_EXPECT_EQ(waitpid(pid, &status, 0), pid);
	KT_EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (!woken) {
		kt_fail_at(__FILE__, __LINE__,
			   "parent's Q2 sleeper not woken %d ms after the write: the stopped worker's queue took the only wake-up",
			   WAKE_MS);
		/* the worker is gone now: does the wake-up come late? */
		if (kt_waiter_join(&w, WAKE_MS))
			kt_log("Q2 woken only after the worker was killed (ret %d)", w.ret);
		else {
			struct kt_waiter *all[] = { &w };

			kt_log("Q2 not woken after the worker was killed either");
			release_waiters(q2, all, 1);
		}
		kt_end_test();
	}
	KT_EXPECT_EQ(w.ret, 1);
	KT_EXPECT_EQ(w.buf[0].user_u64, 0x2);
	KT_EXPECT(w.buf[0].ret_data[0] & POLLIN);
}

/* ---- level-triggered WAKEUP_ONE: one wake-up per write ----------------- */

#define LW_T		4
#define LW_WRITES	20

struct lw {
	int q, rfd;
	int stop;
	int got;		/* events taken */
	int bytes;		/* bytes read after an event */
	int empty;		/* events after which the read found nothing */
	struct lw_thread {
		struct lw *lw;
		pthread_t th;
		pid_t tid;
	} t[LW_T];
};

/* Take one event at a time and read the byte it announces. */
static void *lw_fn(void *arg)
{
	struct lw_thread *t = arg;
	struct lw *lw = t->lw;
	struct __kernel_timespec ts = kevent_ts(60, 0);
	struct ukevent ev;
	char c;

	__atomic_store_n(&t->tid, kt_gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&lw->stop, __ATOMIC_ACQUIRE)) {
		if (kevent_get_events(lw->q, 1, 1, &ts, &ev, 0) != 1)
			continue;
		__atomic_add_fetch(&lw->got, 1, __ATOMIC_RELEASE);
		if (read(lw->rfd, &c, 1) == 1)
			__atomic_add_fetch(&lw->bytes, 1, __ATOMIC_RELEASE);
		else
			__atomic_add_fetch(&lw->empty, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Every thread asleep in kevent_get_events, and the kernel agrees. */
static void lw_all_asleep(struct lw *lw)
{
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

	pid_t tids[LW_T];
	int bad;

	for (int i = 0; i < LW_T; i++) {
		while (!__atomic_load_n(&lw->t[i].tid, __ATOMIC_ACQUIRE))
			kt_msleep(1);
		tids[i] = lw->t[i].tid;
	}
	bad = kt_wait_all_blocked(tids, LW_T, __NR_kevent_get_events, KT_SOON_MS);
	if (bad >= 0) {
		kt_fail_at(__FILE__, __LINE__, "thread %d not asleep (state %c)", bad,
			   kt_thread_state(tids[bad]));
		kt_end_test();
	}
	while (kevent_fdinfo(lw->q, KFD_WAITERS) != LW_T) {
		if (kt_mono_ns() > deadline) {
			kt_fail_at(__FILE__, __LINE__, "fdinfo waiters %lld, expected %d",
				   kevent_fdinfo(lw->q, KFD_WAITERS), LW_T);
			kt_end_test();
		}
		kt_msleep(1);
	}
}

/*
 * One queue, a level (no ET) WAKEUP_ONE POLL kevent on a pipe, LW_T
 * threads asleep. Each write of one byte is taken and read by one thread;
 * only then (all threads asleep again) comes the next write. fdinfo
 * "wakeups" must grow by exactly one per write.
 */
TEST_TIMEOUT(wakeup_one_level_wakes_one, 120)
{
	static struct lw lw;
	int p[2], bad = 0;
	long long w0, w1, total = 0;

	make_pipe(p);
	lw.q = kt_queue();
	lw.rfd = p[0];
	kt_add_poll(lw.q, p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE, 0x1);
	for (int i = 0; i < LW_T; i++) {
		lw.t[i].lw = &lw;
		KT_ASSERT(!pthread_create(&lw.t[i].th, NULL, lw_fn, &lw.t[i]));
	}
	for (int n = 0; n < LW_WRITES; n++) {
		int bytes0 = __atomic_load_n(&lw.bytes, __ATOMIC_ACQUIRE);
		long long deadline;

		lw_all_asleep(&lw);
		w0 = kevent_fdinfo(lw.q, KFD_WAKEUPS);
		KT_ASSERT(write(p[1], "x", 1) == 1);
		/* the byte is read by the thread that took the event... */
		deadline = kt_mono_ns() + WAKE_MS * 1000000LL;
		while (__atomic_load_n(&lw.bytes, __ATOMIC_ACQUIRE) == bytes0) {
			if (kt_mono_ns() > deadline) {
				kt_fail_at(__FILE__, __LINE__, "write %d: no thread took the event in %d ms",
					   n, WAKE_MS);
				kt_end_test();
			}
			kt_msleep(1);
		}
		/* ...and everyone is asleep again (re-checked after a pause) */
		lw_all_asleep(&lw);
		kt_msleep(10);
		lw_all_asleep(&lw);
		w1 = kevent_fdinfo(lw.q, KFD_WAKEUPS);
		total += w1 - w0;
		if (w1 - w0 != 1 && bad++ < 5)
			kt_fail_at(__FILE__, __LINE__, "write %d: wakeups +%lld, expected +1", n, w1 - w0);
	}
	kt_log("%d writes: %lld wake-ups, %d events, %d bytes read, %d events with nothing to read",
	       LW_WRITES, total, lw.got, lw.bytes, lw.empty);
	KT_EXPECT_EQ(total, LW_WRITES);
	KT_EXPECT_EQ(lw.bytes, LW_WRITES);
	__atomic_store_n(&lw.stop, 1, __ATOMIC_RELEASE);
	KT_EXPECT_EQ(kevent_ctl(lw.q, KEVENT_CTL_READY, 0, NULL), 0);
	for (int i = 0; i < LW_T; i++)
		KT_EXPECT(kt_join(lw.t[i].th, NULL, KT_SOON_MS));
}
