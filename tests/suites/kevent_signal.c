// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_signal - the SIGNAL storage: a signal sent to the process becomes
 * an event (sender pid, count since last delivery); blocked, handled and
 * ignored signals; process-wide and thread-directed signals; NOMASK takes
 * the signal from the process; request flags; bad input with its exact
 * errno; teardown (process exit, queue close) while signals fly.
 */
#include "kevent_test.h"

static struct ukevent ukevent_signal(int sig, bool nomask, __u32 req_flags)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw_u64 = (__u64)sig | (nomask ? KEVENT_SIGNAL_NOMASK : 0);
	uk.type = KEVENT_SIGNAL;
	uk.event = KEVENT_SIGNAL_DELIVERY;
	uk.req_flags = req_flags;
	uk.user_u64 = 0x5157;
	return uk;
}

static void add_signal(int fd, int sig, bool nomask, __u32 req_flags)
{
	struct ukevent uk = ukevent_signal(sig, nomask, req_flags);

	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 0, "ADD signal");
}

static void block(int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	KT_ASSERT_OK(sigprocmask(SIG_BLOCK, &s, NULL));
}

static bool is_pending(int sig)
{
	sigset_t s;

	sigpending(&s);
	return sigismember(&s, sig);
}

static volatile sig_atomic_t handled;

static void handler(int sig)
{
	(void)sig;
	handled++;
}

static void set_action(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	KT_ASSERT_OK(sigaction(sig, &sa, NULL));
}

/* Exactly n events now (non-blocking), the first copied to *ev. */
static void expect_events(int fd, int n, struct ukevent *ev)
{
	struct ukevent buf[8];
	int r = kt_get_now(fd, buf, 8);

	KT_EXPECT_EQ(r, n);
	if (r > 0 && ev)
		*ev = buf[0];
}

TEST(abi_values)
{
	KT_EXPECT_EQ(KEVENT_SIGNAL, 7);
	KT_EXPECT_EQ(KEVENT_SIGNAL_DELIVERY, 0x1);
	KT_EXPECT_EQ(KEVENT_SIGNAL_NOMASK, 1ULL << 63);
}

/* Every bad input gives BROKEN EINVAL and registers nothing. */
TEST(bad_input)
{
	int fd = kt_queue();
	static const int nomask_refused[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };
	struct ukevent uk;

	uk = ukevent_signal(SIGUSR1, false, 0);
	uk.event = 0;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "event 0");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_signal(SIGUSR1, false, 0);
	uk.event = 2;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "event 2");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_signal(SIGUSR1, false, 0x20);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "req_flags 0x20");
	KT_EXPECT_BROKEN(uk, EINVAL);
	for (int nomask = 0; nomask < 2; nomask++) {
		static const __u64 bad[] = { 0, 65, 1000, 1ULL << 32 | SIGUSR1,
					     1ULL << 62 | SIGUSR1 };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uk = ukevent_signal(0, nomask, 0);
			uk.id.raw_u64 |= bad[i];
			kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "bad signal number");
			KT_EXPECT_BROKEN(uk, EINVAL);
		}
		uk = ukevent_signal(SIGKILL, nomask, 0);
		kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "SIGKILL");
		KT_EXPECT_BROKEN(uk, EINVAL);
		uk = ukevent_signal(SIGSTOP, nomask, 0);
		kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "SIGSTOP");
		KT_EXPECT_BROKEN(uk, EINVAL);
	}
	for (size_t i = 0; i < sizeof(nomask_refused) / sizeof(nomask_refused[0]); i++) {
		uk = ukevent_signal(nomask_refused[i], true, 0);
		kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "NOMASK fault signal");
		KT_EXPECT_BROKEN(uk, EINVAL);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	/* without NOMASK a fault signal may be watched; 64 is valid */
	add_signal(fd, SIGSEGV, false, 0);
	add_signal(fd, 64, true, 0);
	add_signal(fd, 1, true, 0);
	/* the NOMASK bit is part of the key */
	add_signal(fd, 64, false, 0);
	uk = ukevent_signal(64, true, 0);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "duplicate");
	KT_EXPECT_BROKEN(uk, EEXIST);
	/* MODIFY with a bad event */
	uk = ukevent_signal(SIGSEGV, false, 0);
	uk.event = 0;
	kt_ctl1_must(fd, KEVENT_CTL_MODIFY, &uk, 0, "MODIFY event 0");
	KT_EXPECT_BROKEN(uk, EINVAL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 4);
}

/* A blocked signal: seen, with sender and count, and still pending. */
TEST(blocked_seen_and_pending)
{
	int fd = kt_queue();
	struct ukevent ev;

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, false, 0);
	expect_events(fd, 0, NULL);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.type, KEVENT_SIGNAL);
	KT_EXPECT_EQ(ev.id.raw_u64, SIGUSR1);
	KT_EXPECT_EQ(ev.event, KEVENT_SIGNAL_DELIVERY);
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(ev.ret_data[0], getpid());
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.user_u64, 0x5157);
	KT_EXPECT(is_pending(SIGUSR1));
	/* not level triggered: nothing more until the next signal */
	expect_events(fd, 0, NULL);
}

/* Every signal sent is counted, also those the pending set merges. */
TEST(count_since_last_delivery)
{
	int fd = kt_queue();
	struct ukevent ev;

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, false, 0);
	for (int i = 0; i < 5; i++)
		KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 5);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_MARKED), 2);
}

/* NOMASK: the signal is taken; a deadly default action does not run. */
TEST(nomask_takes_signal)
{
	int fd = kt_queue();
	struct ukevent ev;

	/* SIGTERM's default action would end this test's process */
	add_signal(fd, SIGTERM, true, 0);
	KT_ASSERT_OK(kill(getpid(), SIGTERM));
	KT_ASSERT_OK(raise(SIGTERM));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.id.raw_u64, SIGTERM | KEVENT_SIGNAL_NOMASK);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	KT_EXPECT_EQ(ev.ret_data[0], getpid());
	/* a handler is not called, a blocked one is not left pending */
	set_action(SIGUSR2, handler);
	add_signal(fd, SIGUSR2, true, 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR2));
	block(SIGUSR2);
	KT_ASSERT_OK(kill(getpid(), SIGUSR2));
	KT_EXPECT_EQ(handled, 0);
	KT_EXPECT(!is_pending(SIGUSR2));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
}

/* Without NOMASK the handler runs too. */
TEST(handler_runs_without_nomask)
{
	int fd = kt_queue();
	struct ukevent ev;

	handled = 0;
	set_action(SIGUSR1, handler);
	add_signal(fd, SIGUSR1, false, 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	KT_EXPECT_EQ(handled, 1);
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
}

/*
 * An ignored signal (SIG_IGN, or ignored by default) is discarded by the
 * kernel before any kevent sees it, unless it is blocked.
 */
TEST(ignored_not_seen_unless_blocked)
{
	int fd = kt_queue();
	struct ukevent ev;

	set_action(SIGUSR2, SIG_IGN);
	add_signal(fd, SIGUSR2, false, 0);
	add_signal(fd, SIGURG, true, 0);
	add_signal(fd, SIGCHLD, false, 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR2));
	KT_ASSERT_OK(kill(getpid(), SIGURG));
	KT_ASSERT_OK(kill(getpid(), SIGCHLD));
	expect_events(fd, 0, NULL);
	block(SIGUSR2);
	block(SIGURG);
	KT_ASSERT_OK(kill(getpid(), SIGUSR2));
	KT_ASSERT_OK(kill(getpid(), SIGURG));
	expect_events(fd, 2, NULL);
	KT_EXPECT(is_pending(SIGUSR2));
	KT_EXPECT(!is_pending(SIGURG));		/* taken by NOMASK */
	(void)ev;
}

static pid_t main_tid;
static int thread_fd;

static void *other_thread(void *arg)
{
	(void)arg;
	/* a signal directed at this thread, and one at the process */
	syscall(SYS_tgkill, getpid(), kt_gettid(), SIGUSR1);
	syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
	return NULL;
}

/* Signals to any thread of the process, and to the process, are seen. */
TEST(thread_directed_and_process_wide)
{
	int fd = kt_queue();
	pthread_t th;
	struct ukevent ev;
	union sigval v = { .sival_int = 7 };

	block(SIGUSR1);
	main_tid = kt_gettid();
	thread_fd = fd;
	add_signal(fd, SIGUSR1, true, 0);
	KT_ASSERT_EQ(pthread_create(&th, NULL, other_thread, NULL), 0);
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
	KT_ASSERT_OK(sigqueue(getpid(), SIGUSR1, v));
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 3);
	KT_EXPECT_EQ(ev.ret_data[0], getpid());
}

/* The sender's pid; a signal the kernel sends has none. */
TEST(sender_pid)
{
	int fd = kt_queue();
	struct ukevent ev;
	pid_t child, me = getpid();

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, false, 0);
	child = fork();
	KT_ASSERT(child >= 0);
	if (child == 0) {
		kill(me, SIGUSR1);
		_exit(0);
	}
	KT_ASSERT_EQ(waitpid(child, NULL, 0), child);
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[0], child);
	/* SIGCHLD of the exit: sent by the child (SIL_CHLD) */
	block(SIGCHLD);
	add_signal(fd, SIGCHLD, false, 0);
	child = fork();
	KT_ASSERT(child >= 0);
	if (child == 0)
		_exit(0);
	KT_ASSERT_EQ(waitpid(child, NULL, 0), child);
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.id.raw_u64, SIGCHLD);
	KT_EXPECT_EQ(ev.ret_data[0], child);
}

/* READY counts as one signal without a sender. */
TEST(ready_counts_as_signal)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_signal(SIGUSR1, false, 0), ev;

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, false, 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	kt_ctl1_must(fd, KEVENT_CTL_READY, &uk, 1, "READY");
	expect_events(fd, 1, &ev);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	KT_EXPECT_EQ(ev.ret_data[0], 0);
}

/* ONESHOT: removed once delivered; the signal then reaches the process. */
TEST(oneshot_nomask_then_delivered)
{
	int fd = kt_queue();

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, true, KEVENT_REQ_ONESHOT);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	KT_EXPECT(!is_pending(SIGUSR1));
	expect_events(fd, 1, NULL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	KT_EXPECT(is_pending(SIGUSR1));
	expect_events(fd, 0, NULL);
}

/* ET, LAST_CHECK, ALWAYS_QUEUE, WAKEUP_ONE: a fired signal is ready. */
TEST(flags)
{
	static const __u32 flags[] = { KEVENT_REQ_ET, KEVENT_REQ_LAST_CHECK,
				       KEVENT_REQ_ALWAYS_QUEUE, KEVENT_REQ_WAKEUP_ONE,
				       KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK };
	struct ukevent ev;

	block(SIGUSR1);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int fd = kt_queue();

		add_signal(fd, SIGUSR1, true, flags[i]);
		expect_events(fd, 0, NULL);
		KT_ASSERT_OK(kill(getpid(), SIGUSR1));
		expect_events(fd, 1, &ev);
		KT_EXPECT_EQ(ev.req_flags, flags[i]);
		KT_EXPECT_EQ(ev.ret_data[1], 1);
		expect_events(fd, 0, NULL);
		close(fd);
	}
}

/* Plain and NOMASK kevents, in two queues: each sees the signal once. */
TEST(several_kevents_one_signal)
{
	int a = kt_queue(), b = kt_queue();

	block(SIGUSR1);
	add_signal(a, SIGUSR1, false, 0);
	add_signal(a, SIGUSR1, true, 0);
	add_signal(b, SIGUSR1, false, 0);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	expect_events(a, 2, NULL);
	expect_events(b, 1, NULL);
	KT_EXPECT(!is_pending(SIGUSR1));
}

/* A blocked waiter is woken by a signal it watches (NOMASK: no EINTR). */
TEST(wakes_waiter)
{
	int fd = kt_queue();
	struct kt_waiter w;

	add_signal(fd, SIGUSR1, true, 0);
	kt_waiter_init(&w, fd, KT_WAIT_GET);
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	KT_ASSERT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 1);
}

#define HERD 4

/*
 * Pre-fork style: HERD threads, each asleep on a queue of its own with a
 * WAKEUP_ONE kevent for the same signal. One signal wakes one of them, in
 * total across the queues (fdinfo wakeups), and it alone has the event;
 * without WAKEUP_ONE every queue is woken.
 */
static void herd_queues(__u32 flags, long long want_woken)
{
	struct kt_waiter w[HERD];
	int q[HERD], i, first;
	long long wakeups = 0, woken = 0;

	block(SIGUSR1);
	for (i = 0; i < HERD; i++) {
		q[i] = kt_queue();
		add_signal(q[i], SIGUSR1, true, flags);
		kt_waiter_init(&w[i], q[i], KT_WAIT_GET);
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	}
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	first = kt_waiter_first_done(w, HERD, KT_SOON_MS);
	KT_ASSERT(first >= 0);
	KT_EXPECT_EQ(w[first].ret, 1);
	/* a wrong extra wake-up would come at once; give it time to show */
	kt_msleep(50);
	for (i = 0; i < HERD; i++) {
		wakeups += kevent_fdinfo(q[i], KFD_WAKEUPS);
		woken += kt_waiter_done(&w[i]);
	}
	KT_EXPECT_EQ(wakeups, want_woken);
	KT_EXPECT_EQ(woken, want_woken);
	for (i = 0; i < HERD; i++) {
		kt_release_waiters(q[i], &w[i], 1);
		close(q[i]);
	}
	KT_EXPECT(!is_pending(SIGUSR1));
}

TEST(wakeup_one_queues)
{
	herd_queues(KEVENT_REQ_WAKEUP_ONE, 1);
}

TEST(without_wakeup_one_every_queue_wakes)
{
	herd_queues(0, HERD);
}

/* A forked child's signals are its own: the parent's kevent sees none. */
TEST(child_signals_not_seen)
{
	int fd = kt_queue();
	pid_t child;
	int st;

	block(SIGUSR1);
	add_signal(fd, SIGUSR1, false, 0);
	child = fork();
	KT_ASSERT(child >= 0);
	if (child == 0) {
		raise(SIGUSR1);
		_exit(0);
	}
	KT_ASSERT_EQ(waitpid(child, &st, 0), child);
	expect_events(fd, 0, NULL);
}

/*
 * Teardown: a child registers kevents on its own signals in the inherited
 * queue and exits. The kevents outlive the child's signal_struct; they
 * stay registered, silent, and are removed and freed normally (the debug
 * kernel's KASAN checks the memory).
 */
TEST(kevents_outlive_process)
{
	int fd = kt_queue();
	struct ukevent uk, ev;
	pid_t child;
	int st;

	child = fork();
	KT_ASSERT(child >= 0);
	if (child == 0) {
		sigset_t s;
		struct ukevent c = ukevent_signal(SIGUSR1, false, 0);

		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		sigprocmask(SIG_BLOCK, &s, NULL);
		if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &c) != 0)
			_exit(1);
		c = ukevent_signal(SIGUSR2, true, 0);
		if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &c) != 0)
			_exit(1);
		raise(SIGUSR1);
		raise(SIGUSR2);
		_exit(0);
	}
	KT_ASSERT_EQ(waitpid(child, &st, 0), child);
	KT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect_events(fd, 2, &ev);
	KT_EXPECT_EQ(ev.ret_data[0], child);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 2);
	/* a new process (maybe at the same address) does not reach them */
	for (int i = 0; i < 5; i++) {
		child = fork();
		KT_ASSERT(child >= 0);
		if (child == 0) {
			signal(SIGUSR1, SIG_IGN);
			raise(SIGUSR1);
			_exit(0);
		}
		KT_ASSERT_EQ(waitpid(child, &st, 0), child);
	}
	expect_events(fd, 0, NULL);
	uk = ukevent_signal(SIGUSR1, false, 0);
	kt_ctl1_must(fd, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	close(fd);	/* the last kevent goes with the queue */
}

static volatile bool stop_sending;

static void *sender(void *arg)
{
	(void)arg;
	while (!stop_sending)
		kill(getpid(), SIGUSR1);
	return NULL;
}

/* Teardown: queues closed and kevents removed while signals fly. */
TEST_TIMEOUT(close_while_signalled, 120)
{
	pthread_t th;
	long long end = kt_mono_ns() + 2000000000LL;
	int rounds = 0;

	block(SIGUSR1);
	stop_sending = false;
	KT_ASSERT_EQ(pthread_create(&th, NULL, sender, NULL), 0);
	while (kt_mono_ns() < end) {
		int fd = kt_queue();
		struct ukevent uk = ukevent_signal(SIGUSR1, true, 0), buf[4];

		add_signal(fd, SIGUSR1, true, rounds & 1 ? KEVENT_REQ_ONESHOT : 0);
		add_signal(fd, SIGUSR1, false, 0);
		kt_get_now(fd, buf, 4);
		if (rounds & 2)
			kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk);
		close(fd);
		rounds++;
	}
	stop_sending = true;
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
	kt_log("%d queues closed under signals", rounds);
	KT_EXPECT(rounds > 10);
}
