// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_get_events - the synchronous interface: min_nr/max_nr, argument
 * errors, faulting buffers that lose nothing, relative/absolute/zero/infinite
 * timeouts, and signals (EINTR, never restarted, nothing lost).
 */
#include "kevent_test.h"

#define NS_PER_MS 1000000LL

/* A queue with n USER kevents (ids 0..n-1, user = 1000 + id), all ready. */
static int queue_with_ready(int n)
{
	int fd = kt_queue();

	for (int i = 0; i < n; i++)
		kt_add_user(fd, i, 1000 + i, 0);
	for (int i = 0; i < n; i++)
		kt_ready_user(fd, i, 1000 + i, 0);
	return fd;
}

/* Every id in 0..n-1 exactly once across buf[0..got). */
static void expect_each_once(const struct ukevent *buf, int got, int n)
{
	int seen[64] = { 0 };

	KT_ASSERT(n <= 64);
	KT_EXPECT_EQ(got, n);
	for (int i = 0; i < got; i++) {
		__u64 id = buf[i].id.raw_u64;

		if (id >= (__u64)n || buf[i].user_u64 != 1000 + id) {
			kt_fail_at(__FILE__, __LINE__, "unexpected event id %llu user %llu",
				   (unsigned long long)id, (unsigned long long)buf[i].user_u64);
			continue;
		}
		seen[id]++;
	}
	for (int i = 0; i < n; i++)
		if (seen[i] != 1)
			kt_fail_at(__FILE__, __LINE__, "event %d seen %d times", i, seen[i]);
}

/* ---- min_nr / max_nr ------------------------------------------------- */

TEST(max_nr_limits_copy)
{
	int fd = queue_with_ready(5);
	struct __kernel_timespec ts = kevent_ts_ms(5000);
	struct ukevent buf[16];
	int a, b;

	memset(buf, 0xa5, sizeof(buf));
	a = kevent_get_events(fd, 1, 3, &ts, buf, 0);
	KT_EXPECT_EQ(a, 3);
	/* nothing written past max_nr */
	KT_EXPECT_EQ(buf[3].type, 0xa5a5a5a5);
	KT_ASSERT(a == 3);
	b = kevent_get_events(fd, 0, 10, &ts, buf + 3, 0);
	KT_EXPECT_EQ(b, 2);
	expect_each_once(buf, a + b, 5);
	KT_EXPECT_EQ(kevent_get_events(fd, 0, 10, &ts, buf, 0), 0);
}

/* FIFO: events come out in the order they became ready. */
TEST(fifo_order)
{
	int fd = kt_queue();
	struct ukevent buf[8];
	static const int order[] = { 3, 0, 5, 1, 4, 2 };

	for (int i = 0; i < 6; i++)
		kt_add_user(fd, i, 0, 0);
	for (int i = 0; i < 6; i++)
		kt_ready_user(fd, order[i], 0, 0);
	KT_ASSERT_EQ(kt_get_now(fd, buf, 8), 6);
	for (int i = 0; i < 6; i++) {
		KT_EXPECT_EQ(buf[i].id.raw_u64, order[i]);
		KT_EXPECT_EQ(buf[i].ret_flags, KEVENT_RET_DONE);
	}
}

TEST(min_nr_zero_never_blocks)
{
	int fd = kt_queue();
	struct ukevent buf[4];

	/* NULL timeout is "forever", but min_nr 0 does not wait at all */
	KT_EXPECT_EQ(kevent_get_events(fd, 0, 4, NULL, buf, 0), 0);
	kt_add_user(fd, 1, 0, 0);
	kt_ready_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 0, 4, NULL, buf, 0), 1);
	KT_EXPECT_EQ(kevent_get_events(fd, 0, 4, NULL, buf, 0), 0);
}

/* min_nr 2 with one ready: waits for a second one readied by another thread. */
struct delayed_ready {
	int fd;
	__u64 id;
	pid_t waiter;
};

static void *ready_when_blocked(void *arg)
{
	struct delayed_ready *d = arg;

	if (kt_wait_blocked(d->waiter, __NR_kevent_get_events, KT_SOON_MS))
		kt_ready_user(d->fd, d->id, 1000 + d->id, 0);
	else
		kt_fail_at(__FILE__, __LINE__, "main thread never blocked");
	return NULL;
}

TEST(min_nr_waits_for_enough)
{
	int fd = queue_with_ready(1);
	struct __kernel_timespec ts = kevent_ts(60, 0);
	struct delayed_ready d = { fd, 1, kt_gettid() };
	struct ukevent buf[4];
	pthread_t th;

	kt_add_user(fd, 1, 1001, 0);
	KT_ASSERT(!pthread_create(&th, NULL, ready_when_blocked, &d));
	KT_EXPECT_EQ(kevent_get_events(fd, 2, 4, &ts, buf, 0), 2);
	expect_each_once(buf, 2, 2);
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
}

/* On timeout with fewer than min_nr ready, the ready ones are returned. */
TEST(min_nr_timeout_returns_what_is_ready)
{
	int fd = queue_with_ready(1);
	struct __kernel_timespec ts = kevent_ts_ms(100);
	struct ukevent buf[4];
	long long t0 = kt_mono_ns();

	KT_EXPECT_EQ(kevent_get_events(fd, 3, 4, &ts, buf, 0), 1);
	KT_EXPECT(kt_mono_ns() - t0 >= 100 * NS_PER_MS);
	KT_EXPECT_EQ(buf[0].id.raw_u64, 0);
}

/* ---- argument errors ------------------------------------------------- */

TEST(bad_args)
{
	int fd = queue_with_ready(1), p[2];
	struct __kernel_timespec ts = kevent_ts(0, 0);
	struct ukevent *big = calloc(KEVENT_MAX_BATCH + 1, sizeof(*big));

	KT_ASSERT(big);
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_EXPECT_ERRNO(kevent_get_events(-1, 0, 1, &ts, big, 0), EBADF);
	KT_EXPECT_ERRNO(kevent_get_events(p[0], 0, 1, &ts, big, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 2, 1, &ts, big, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 5, 4, NULL, big, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, KEVENT_MAX_BATCH + 1, &ts, big, 0), E2BIG);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 0xffffffffu, &ts, big, 0), E2BIG);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 1, &ts, big, 2), EINVAL);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 1, &ts, big, 0x80000000u), EINVAL);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 1, &ts, big, KEVENT_FLAGS_ABSTIME | 4), EINVAL);
	/* none of these dequeued the ready event */
	KT_EXPECT_EQ(kevent_get_events(fd, 0, KEVENT_MAX_BATCH, &ts, big, 0), 1);
	free(big);
}

TEST(bad_timespec)
{
	int fd = queue_with_ready(1);
	struct ukevent buf[2];
	struct __kernel_timespec bad[] = {
		{ 0, 1000000000LL }, { 0, -1 }, { -1, 0 }, { 5, 0x7fffffffffffffffLL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 2, &bad[i], buf, 0), EINVAL);
		KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 2, &bad[i], buf, 0), EINVAL);
		KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 2, &bad[i], buf,
						  KEVENT_FLAGS_ABSTIME), EINVAL);
	}
	KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 1);
}

TEST(bad_timeout_pointer)
{
	int fd = queue_with_ready(1);
	struct ukevent buf[2];
	void *none = kt_bad_page(PROT_NONE);

	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 2, none, buf, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 2, none, buf, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 2, (void *)1, buf, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 2, (void *)0xffffffff81000000ull, buf, 0),
			EFAULT);
	/* nothing lost */
	KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 1);
}

/* An unwritable buffer: EFAULT, and the event is still there afterwards. */
TEST(bad_buffer_loses_nothing)
{
	int fd = queue_with_ready(3);
	struct __kernel_timespec ts = kevent_ts_ms(1000);
	struct ukevent buf[8];
	void *none = kt_bad_page(PROT_NONE);
	void *ro = kt_bad_page(PROT_READ);

	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 8, &ts, NULL, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 8, &ts, none, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 0, 8, &ts, ro, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_get_events(fd, 1, 8, &ts, (void *)0xffffffff81000000ull, 0),
			EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 3);
	/* all three still there, each once, and in their original order */
	KT_ASSERT_EQ(kevent_get_events(fd, 1, 8, &ts, buf, 0), 3);
	expect_each_once(buf, 3, 3);
	for (int i = 0; i < 3; i++)
		KT_EXPECT_EQ(buf[i].id.raw_u64, i);
	/* the one whose copy failed says so; the others are plain DONE */
	KT_EXPECT_EQ(buf[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	KT_EXPECT_EQ(buf[1].ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(buf[2].ret_flags, KEVENT_RET_DONE);
	/* and only once: the next delivery is clean */
	kt_ready_user(fd, 0, 1000, 0);
	KT_ASSERT_EQ(kevent_get_events(fd, 1, 8, &ts, buf, 0), 1);
	KT_EXPECT_EQ(buf[0].ret_flags, KEVENT_RET_DONE);
}

/* Only the first entry of the buffer is writable. */
TEST(partially_bad_buffer)
{
	int fd = queue_with_ready(3);
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ukevent *buf, all[8];
	int r, r2, got = 0;

	KT_ASSERT(p != MAP_FAILED);
	KT_ASSERT_OK(mprotect(p + 4096, 4096, PROT_NONE));
	buf = (struct ukevent *)(p + 4096 - sizeof(struct ukevent));
	errno = 0;
	r = kevent_get_events(fd, 0, 3, &(struct __kernel_timespec){ 0, 0 }, buf, 0);
	kt_log("get_events with one writable entry of three: %d (errno %d)", r, errno);
	KT_EXPECT(r == 1 || (r == -1 && errno == EFAULT));
	if (r == 1)
		all[got++] = buf[0];
	r2 = kt_get_now(fd, all + got, 8 - got);
	KT_EXPECT(r2 >= 0);
	got += r2 > 0 ? r2 : 0;
	/* each of the three exactly once, whichever way it was split */
	expect_each_once(all, got, 3);
}

/* ---- timeouts -------------------------------------------------------- */

TEST(relative_timeout)
{
	int fd = kt_queue();
	struct __kernel_timespec ts = kevent_ts_ms(300);
	struct ukevent buf[2];
	long long t0, dt;

	kt_add_user(fd, 1, 0, 0);
	t0 = kt_mono_ns();
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	dt = kt_mono_ns() - t0;
	kt_log("300 ms timeout took %lld ms", dt / NS_PER_MS);
	KT_EXPECT(dt >= 300 * NS_PER_MS);
	/* the timeout argument is not written back */
	KT_EXPECT_EQ(ts.tv_sec, 0);
	KT_EXPECT_EQ(ts.tv_nsec, 300 * NS_PER_MS);
}

TEST(zero_timeout)
{
	int fd = kt_queue();
	struct __kernel_timespec ts = kevent_ts(0, 0);
	struct ukevent buf[2];

	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 0);
	kt_add_user(fd, 1, 0, 0);
	kt_ready_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, 0), 1);
	KT_EXPECT_EQ(kevent_get_events(fd, 2, 2, &ts, buf, 0), 0);
}

static struct __kernel_timespec realtime_plus_ms(long long ms)
{
	long long t = kt_clock_ns(CLOCK_REALTIME) + ms * NS_PER_MS;

	return kevent_ts(t / 1000000000LL, t % 1000000000LL);
}

/* An absolute time in the past: returns at once (not after ~56 years). */
TEST(abstime_past)
{
	int fd = kt_queue();
	struct __kernel_timespec ts = realtime_plus_ms(-10000), zero = kevent_ts(0, 0);
	struct ukevent buf[2];

	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, KEVENT_FLAGS_ABSTIME), 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &zero, buf, KEVENT_FLAGS_ABSTIME), 0);
	kt_add_user(fd, 1, 0, 0);
	kt_ready_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, KEVENT_FLAGS_ABSTIME), 1);
}

/* An absolute CLOCK_REALTIME deadline in the future: not a moment early. */
TEST(abstime_future)
{
	int fd = kt_queue();
	struct __kernel_timespec ts = realtime_plus_ms(400);
	long long deadline = ts.tv_sec * 1000000000LL + ts.tv_nsec, now;
	struct ukevent buf[2];

	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, KEVENT_FLAGS_ABSTIME), 0);
	now = kt_clock_ns(CLOCK_REALTIME);
	kt_log("returned %lld ms after the deadline", (now - deadline) / NS_PER_MS);
	KT_EXPECT(now >= deadline);
}

/* An absolute deadline far ahead is not cut short by an event. */
TEST(abstime_event_before_deadline)
{
	int fd = kt_queue();
	struct __kernel_timespec ts = realtime_plus_ms(60000);
	struct delayed_ready d = { fd, 0, kt_gettid() };
	struct ukevent buf[2];
	pthread_t th;

	kt_add_user(fd, 0, 1000, 0);
	KT_ASSERT(!pthread_create(&th, NULL, ready_when_blocked, &d));
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, buf, KEVENT_FLAGS_ABSTIME), 1);
	KT_EXPECT(kt_clock_ns(CLOCK_REALTIME) < ts.tv_sec * 1000000000LL);
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
}

/* ---- signals --------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal++;
}

/* Even with SA_RESTART the call is not restarted: EINTR, as epoll_wait. */
static void install_handler(bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	KT_ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
}

static void check_eintr(bool infinite, bool restart)
{
	int fd = queue_with_ready(1);
	struct kt_waiter w;
	struct ukevent buf[4];

	install_handler(restart);
	kt_add_user(fd, 1, 1001, 0);
	kt_waiter_init(&w, fd, KT_WAIT_GET);
	w.min_nr = 2;		/* one is ready: not enough, so it sleeps */
	w.infinite = infinite;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT_EQ(pthread_kill(w.th, SIGUSR1), 0);
	if (!kt_waiter_join(&w, KT_SOON_MS)) {
		kt_fail_at(__FILE__, __LINE__, "waiter still blocked after a signal");
		kt_end_test();
	}
	KT_EXPECT_EQ(got_signal, 1);
	KT_EXPECT_EQ(w.ret, -1);
	KT_EXPECT_EQ(w.err, EINTR);
	/* nothing was dequeued: the ready event is still there, then the next */
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);
	KT_ASSERT_EQ(kt_get_now(fd, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].id.raw_u64, 0);
	kt_ready_user(fd, 1, 1001, 0);
	KT_ASSERT_EQ(kt_get_now(fd, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].id.raw_u64, 1);
}

TEST(signal_interrupts_infinite_wait)
{
	check_eintr(true, false);
}

TEST(signal_interrupts_timed_wait_sa_restart)
{
	check_eintr(false, true);
}

/* A signal that is ignored does not interrupt the wait. */
TEST(ignored_signal_does_not_interrupt)
{
	int fd = kt_queue();
	struct kt_waiter w;

	signal(SIGUSR2, SIG_IGN);
	kt_add_user(fd, 1, 0, 0);
	kt_waiter_init(&w, fd, KT_WAIT_GET);
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT_EQ(pthread_kill(w.th, SIGUSR2), 0);
	kt_msleep(100);
	KT_EXPECT(!kt_waiter_done(&w));
	kt_ready_user(fd, 1, 0, 0);
	KT_ASSERT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 1);
}
