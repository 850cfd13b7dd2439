// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_posix_timer - the POSIX_TIMER storage: the expiries of a
 * timer_create() timer become events (ADD with id.raw[0] = the timer id)
 * instead of its signal; expiry and overrun counts; one kevent per timer;
 * bad input with its exact errno; teardown (timer deleted, process exit,
 * queue closed) while the timer fires. Also the refused types NAIO and AIO.
 */
#include "kevent_test.h"

#define MS 1000000LL

/* The kernel's timer id (raw system calls: no libc timer_t mapping). */
static int timer_new(clockid_t clock, int sig)
{
	struct sigevent sev;
	int id = -1;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = sig;
	KT_ASSERT_OK(syscall(SYS_timer_create, clock, &sev, &id));
	return id;
}

static void timer_arm(int id, long long first_ns, long long period_ns)
{
	struct itimerspec its = {
		.it_value = { first_ns / 1000000000LL, first_ns % 1000000000LL },
		.it_interval = { period_ns / 1000000000LL, period_ns % 1000000000LL },
	};

	KT_ASSERT_OK(syscall(SYS_timer_settime, id, 0, &its, NULL));
}

static struct ukevent ukevent_ptimer(int id, __u32 req_flags)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw[0] = (__u32)id;
	uk.type = KEVENT_POSIX_TIMER;
	uk.event = KEVENT_POSIX_TIMER_FIRED;
	uk.req_flags = req_flags;
	uk.user_u64 = 0x7173;
	return uk;
}

static void add_ptimer(int fd, int id, __u32 req_flags)
{
	struct ukevent uk = ukevent_ptimer(id, req_flags);

	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 0, "ADD posix timer");
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

TEST(abi_values)
{
	KT_EXPECT_EQ(KEVENT_POSIX_TIMER, 8);
	KT_EXPECT_EQ(KEVENT_POSIX_TIMER_FIRED, 0x1);
	KT_EXPECT_EQ(KEVENT_NAIO, 4);
	KT_EXPECT_EQ(KEVENT_AIO, 5);
}

/* NAIO and AIO stay refused: BROKEN EINVAL, as any type not built. */
TEST(naio_aio_refused)
{
	int fd = kt_queue();
	struct ukevent uk;

	for (__u32 t = KEVENT_NAIO; t <= KEVENT_AIO; t++) {
		uk = ukevent_user(1, 0);
		uk.type = t;
		kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "ADD NAIO/AIO");
		KT_EXPECT_BROKEN(uk, EINVAL);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* One expiry: an event, not the signal (SIGUSR1 would end the process). */
TEST(oneshot_expiry_is_event)
{
	int fd = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	struct ukevent ev;
	long long t0 = kt_mono_ns();

	add_ptimer(fd, id, 0);
	timer_arm(id, 100 * MS, 0);
	ev = kt_wait_one(fd);
	KT_EXPECT(kt_mono_ns() - t0 >= 100 * MS);
	KT_EXPECT_EQ(ev.type, KEVENT_POSIX_TIMER);
	KT_EXPECT_EQ(ev.id.raw[0], id);
	KT_EXPECT_EQ(ev.id.raw[1], 0);
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(ev.ret_data[0], 0);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.user_u64, 0x7173);
	kt_msleep(100);
	KT_EXPECT_EQ(kt_get_now(fd, &ev, 1), 0);
	KT_EXPECT(!is_pending(SIGUSR1));
}

/*
 * A periodic timer: expiries plus overruns add up to the periods elapsed
 * (a 1 ms period is below the tick: the kernel re-arms it a tick later
 * and counts the periods it skipped as overruns).
 */
TEST(periodic_counts)
{
	static const long long periods[] = { 20 * MS, 1 * MS };

	for (size_t i = 0; i < 2; i++) {
		int fd = kt_queue();
		int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
		struct ukevent ev;
		long long t0, el, n;
		long long total = 0;

		add_ptimer(fd, id, 0);
		t0 = kt_mono_ns();
		timer_arm(id, periods[i], periods[i]);
		kt_msleep(400);
		ev = kt_wait_one(fd);
		el = kt_mono_ns() - t0;
		total = (long long)ev.ret_data[0] + ev.ret_data[1];
		n = el / periods[i];
		kt_log("period %lld ms: %u expiries + %u overruns in %lld ms",
		       periods[i] / MS, ev.ret_data[1], ev.ret_data[0], el / MS);
		KT_EXPECT(ev.ret_data[1] >= 1);
		/* overruns are learnt one expiry late, and a tick ahead */
		KT_EXPECT(total <= n + 1 + 10 * MS / periods[i]);
		KT_EXPECT(total >= n / 2);
		if (periods[i] < MS * 2)
			KT_EXPECT(ev.ret_data[0] > 0);
		syscall(SYS_timer_delete, id);
		close(fd);
	}
}

/* Bad input, each with its errno. */
TEST(bad_input)
{
	int fd = kt_queue(), other = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	struct ukevent uk;

	uk = ukevent_ptimer(id, 0);
	uk.event = 0;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "event 0");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_ptimer(id, 0);
	uk.event = 2;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "event 2");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_ptimer(id, 0);
	uk.id.raw[1] = 1;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "raw[1]");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_ptimer(0, 0);
	uk.id.raw[0] = 0x80000000u;
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "negative id");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_ptimer(id + 1000, 0);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "no such timer");
	KT_EXPECT_BROKEN(uk, EINVAL);
	uk = ukevent_ptimer(id, 0x20);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "req_flags");
	KT_EXPECT_BROKEN(uk, EINVAL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);

	add_ptimer(fd, id, 0);
	uk = ukevent_ptimer(id, 0);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "same key");
	KT_EXPECT_BROKEN(uk, EEXIST);
	uk = ukevent_ptimer(id, 0);
	kt_ctl1_must(other, KEVENT_CTL_ADD, &uk, 1, "second kevent");
	KT_EXPECT_BROKEN(uk, EBUSY);
	uk = ukevent_ptimer(id, 0);
	uk.event = 0;
	kt_ctl1_must(fd, KEVENT_CTL_MODIFY, &uk, 0, "MODIFY event 0");
	KT_EXPECT_BROKEN(uk, EINVAL);
	/* once removed, another kevent may watch the timer */
	uk = ukevent_ptimer(id, 0);
	kt_ctl1_must(fd, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	add_ptimer(other, id, 0);
}

/* A timer of another process is not found: EINVAL. */
TEST(timer_of_other_process)
{
	int fd = kt_queue();
	int p[2], id = -1, st;
	pid_t child;
	struct ukevent uk;

	KT_ASSERT_OK(pipe(p));
	child = fork();
	KT_ASSERT(child >= 0);
	if (child == 0) {
		struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
		int cid = -1;

		syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &cid);
		if (write(p[1], &cid, sizeof(cid)) != sizeof(cid))
			_exit(1);
		pause();
		_exit(0);
	}
	KT_ASSERT_EQ(read(p[0], &id, sizeof(id)), sizeof(id));
	KT_ASSERT(id >= 0);
	uk = ukevent_ptimer(id, 0);
	kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "other process's timer");
	KT_EXPECT_BROKEN(uk, EINVAL);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
}

/* Removing the kevent gives the timer its signal back. */
TEST(remove_restores_signal)
{
	int fd = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	struct ukevent uk = ukevent_ptimer(id, 0);

	block(SIGUSR1);
	add_ptimer(fd, id, 0);
	timer_arm(id, 20 * MS, 0);
	kt_wait_one(fd);
	KT_EXPECT(!is_pending(SIGUSR1));
	kt_ctl1_must(fd, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	timer_arm(id, 20 * MS, 0);
	kt_msleep(200);
	KT_EXPECT(is_pending(SIGUSR1));
}

/* ONESHOT: removed after its first delivery. */
TEST(oneshot_flag)
{
	int fd = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);

	block(SIGUSR1);
	add_ptimer(fd, id, KEVENT_REQ_ONESHOT);
	timer_arm(id, 20 * MS, 20 * MS);
	kt_wait_one(fd);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	kt_msleep(100);
	KT_EXPECT(is_pending(SIGUSR1));
}

/* ET, LAST_CHECK, WAKEUP_ONE, ALWAYS_QUEUE: every expiry is delivered. */
TEST(flags)
{
	static const __u32 flags[] = { KEVENT_REQ_ET, KEVENT_REQ_LAST_CHECK,
				       KEVENT_REQ_WAKEUP_ONE, KEVENT_REQ_ALWAYS_QUEUE };
	struct ukevent ev;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int fd = kt_queue();
		int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);

		add_ptimer(fd, id, flags[i]);
		KT_EXPECT_EQ(kt_get_now(fd, &ev, 1), 0);
		timer_arm(id, 20 * MS, 0);
		ev = kt_wait_one(fd);
		KT_EXPECT_EQ(ev.req_flags, flags[i]);
		KT_EXPECT_EQ(ev.ret_data[1], 1);
		KT_EXPECT_EQ(kt_get_now(fd, &ev, 1), 0);
		syscall(SYS_timer_delete, id);
		close(fd);
	}
}

/* READY counts as one expiry. */
TEST(ready_counts_as_expiry)
{
	int fd = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	struct ukevent uk = ukevent_ptimer(id, 0), ev;

	add_ptimer(fd, id, 0);
	kt_ctl1_must(fd, KEVENT_CTL_READY, &uk, 1, "READY");
	ev = kt_wait_one(fd);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.ret_data[0], 0);
}

/* Other clocks: CLOCK_REALTIME, CLOCK_BOOTTIME, the process CPU clock. */
TEST(other_clocks)
{
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_BOOTTIME,
					    CLOCK_PROCESS_CPUTIME_ID };

	for (size_t i = 0; i < 3; i++) {
		int fd = kt_queue();
		int id = timer_new(clocks[i], SIGUSR1);
		struct ukevent ev;
		int r = 0;

		add_ptimer(fd, id, 0);
		timer_arm(id, 20 * MS, 0);
		/* spin: the CPU clock only advances while running */
		for (long long end = kt_mono_ns() + 20000 * MS; r == 0 && kt_mono_ns() < end;)
			r = kt_get_now(fd, &ev, 1);
		KT_EXPECT_EQ(r, 1);
		KT_EXPECT_EQ(ev.ret_data[1], 1);
		syscall(SYS_timer_delete, id);
		close(fd);
	}
}

/*
 * Teardown: the timer deleted while its kevent is registered and the timer
 * firing. The kevent stays, silent; its key stays taken until REMOVE.
 */
TEST(timer_deleted_under_kevent)
{
	int fd = kt_queue();
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1), id2;
	struct ukevent uk, buf[4];

	add_ptimer(fd, id, 0);
	timer_arm(id, 1 * MS, 1 * MS);
	kt_msleep(50);
	KT_ASSERT_OK(syscall(SYS_timer_delete, id));
	kt_get_now(fd, buf, 4);
	kt_msleep(50);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	/* the id is reused by the next timer: the key is still taken */
	id2 = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	if (id2 == id) {
		uk = ukevent_ptimer(id2, 0);
		kt_ctl1_must(fd, KEVENT_CTL_ADD, &uk, 1, "reused id");
		KT_EXPECT_BROKEN(uk, EEXIST);
	}
	uk = ukevent_ptimer(id, 0);
	kt_ctl1_must(fd, KEVENT_CTL_REMOVE, &uk, 1, "REMOVE");
	add_ptimer(fd, id2, 0);
	timer_arm(id2, 20 * MS, 0);
	kt_wait_one(fd);
}

/*
 * Teardown: a child adds a kevent for its fast periodic timer to the
 * inherited queue and exits with the timer running (exit deletes it).
 */
TEST(process_exit_under_kevent)
{
	int fd = kt_queue();
	struct ukevent buf[4];
	pid_t child;
	int st;

	for (int i = 0; i < 10; i++) {
		child = fork();
		KT_ASSERT(child >= 0);
		if (child == 0) {
			struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
						.sigev_signo = SIGUSR1 };
			struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
			struct ukevent c;
			int cid = -1;

			/* a new process numbers its timers from 0: take id i */
			while (cid < i)
				if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &cid))
					_exit(1);
			c = ukevent_ptimer(cid, 0);
			c.user_u64 = (__u64)i;
			if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &c) != 0)
				_exit(2 + (int)c.ret_data[0]);
			syscall(SYS_timer_settime, cid, 0, &its, NULL);
			kt_msleep(10);
			_exit(0);
		}
		KT_ASSERT_EQ(waitpid(child, &st, 0), child);
		KT_ASSERT_EQ(st, 0);
	}
	while (kt_get_now(fd, buf, 4) > 0)
		;
	kt_msleep(20);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 10);
	close(fd);
}

/* Teardown: queues closed while their timers fire every millisecond. */
TEST_TIMEOUT(close_while_firing, 120)
{
	int id = timer_new(CLOCK_MONOTONIC, SIGUSR1);
	long long end = kt_mono_ns() + 2000000000LL;
	int rounds = 0;

	block(SIGUSR1);	/* between two queues nobody takes the expiries */
	timer_arm(id, 1 * MS, 1 * MS);
	while (kt_mono_ns() < end) {
		int fd = kt_queue();
		struct ukevent buf[4];

		add_ptimer(fd, id, rounds & 1 ? KEVENT_REQ_ONESHOT : 0);
		kt_msleep(1);
		kt_get_now(fd, buf, 4);
		close(fd);
		rounds++;
	}
	/* no kevent any more: the timer's SIGUSR1 is pending */
	kt_msleep(20);
	KT_EXPECT(is_pending(SIGUSR1));
	kt_log("%d queues closed under a 1 ms timer", rounds);
	KT_EXPECT(rounds > 10);
}
