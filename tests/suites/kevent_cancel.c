// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_cancel - cancellation safety (Drepper's requirement): a thread
 * cancelled, or ended by a signal, while it sleeps in kevent_get_events()
 * or kevent_wait() takes no event with it. Events readied afterwards all
 * reach another thread; with the ring, even events the cancelled thread
 * copied before it died are found in the ring by the next reader.
 */
#include "kevent_test.h"

#define K 16

/* The signal handler that ends the thread it interrupts. */
static void exit_thread(int sig)
{
	(void)sig;
	pthread_exit((void *)(long)0x5eed);
}

static void install_exit_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = exit_thread;
	sigemptyset(&sa.sa_mask);
	KT_ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
}

enum how { BY_CANCEL, BY_SIGNAL };

/* Kill a blocked waiter and check it is gone the expected way. */
static void kill_waiter(struct kt_waiter *w, enum how how)
{
	void *ret = NULL;

	if (how == BY_CANCEL)
		KT_ASSERT_EQ(pthread_cancel(w->th), 0);
	else
		KT_ASSERT_EQ(pthread_kill(w->th, SIGUSR1), 0);
	if (!kt_join(w->th, &ret, KT_SOON_MS)) {
		kt_fail_at(__FILE__, __LINE__, "waiter did not die");
		kt_end_test();
	}
	KT_EXPECT(ret == (how == BY_CANCEL ? PTHREAD_CANCELED : (void *)(long)0x5eed));
	/* it never returned from the system call */
	KT_EXPECT(!kt_waiter_done(w));
}

/* A queue with K USER kevents (ids 0..K-1, user 1000 + id). */
static int queue_with_users(struct kevent_ring *ring, unsigned int size)
{
	int fd = (int)KT_ASSERT_OK(kevent_init(ring, size, 0));

	for (int i = 0; i < K; i++)
		kt_add_user(fd, i, 1000 + i, 0);
	return fd;
}

static void ready_all(int fd)
{
	struct ukevent arr[K];

	for (int i = 0; i < K; i++)
		arr[i] = ukevent_user(i, 1000 + i);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, K, arr), K);
}

static void check_each_once(const struct ukevent *ev, int n)
{
	int seen[K] = { 0 };

	KT_EXPECT_EQ(n, K);
	for (int i = 0; i < n; i++) {
		__u64 id = ev[i].id.raw_u64;

		if (id >= K || ev[i].user_u64 != 1000 + id) {
			kt_fail_at(__FILE__, __LINE__, "bad event id %llu",
				   (unsigned long long)id);
			continue;
		}
		seen[id]++;
	}
	for (int i = 0; i < K; i++)
		if (seen[i] != 1)
			kt_fail_at(__FILE__, __LINE__, "event %d seen %d times", i, seen[i]);
}

static void get_events_case(enum how how, bool infinite)
{
	int fd = queue_with_users(NULL, 0);
	struct kt_waiter w, other;

	if (how == BY_SIGNAL)
		install_exit_handler();
	kt_waiter_init(&w, fd, KT_WAIT_GET);
	w.async_cancel = true;
	w.infinite = infinite;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	kill_waiter(&w, how);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_WAITERS), 0);
	ready_all(fd);
	/* another thread, already waiting, receives every event */
	kt_waiter_init(&other, fd, KT_WAIT_GET);
	other.min_nr = K;
	other.max_nr = 64;
	other.ts = kevent_ts(30, 0);
	kt_waiter_start(&other);
	KT_ASSERT(kt_waiter_join(&other, KT_SOON_MS));
	KT_ASSERT(other.ret >= 0);
	check_each_once(other.buf, other.ret);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_DELIVERED), K);
}

TEST(cancel_in_get_events)
{
	get_events_case(BY_CANCEL, true);
}

TEST(cancel_in_timed_get_events)
{
	get_events_case(BY_CANCEL, false);
}

TEST(signal_exit_in_get_events)
{
	get_events_case(BY_SIGNAL, true);
}

/* Collect K events from the ring: read, commit, wait until all are in. */
static int ring_collect(int fd, struct kevent_ring *ring, unsigned int size,
			struct ukevent *out, int want)
{
	unsigned long long read = 0, written;
	int n = 0;

	for (;;) {
		written = (unsigned long long)kevent_ring_over(ring) * size +
			  kevent_ring_kidx(ring);
		for (; read < written && n < 4 * K; read++)
			out[n++] = ring->event[read % size];
		if (kevent_commit(fd, read % size, read / size) < 0) {
			kt_fail_at(__FILE__, __LINE__, "commit: %s", strerror(errno));
			return n;
		}
		if (n >= want)
			return n;
		struct __kernel_timespec ts = kevent_ts(30, 0);
		int r = kevent_wait(fd, size, read % size, &ts, 0);

		if (r <= 0) {
			kt_fail_at(__FILE__, __LINE__, "kevent_wait returned %d (errno %d) with %d of %d",
				   r, errno, n, want);
			return n;
		}
	}
}

static void wait_case(enum how how)
{
	const unsigned int size = 4;
	struct kevent_ring *ring = kevent_ring_alloc(size);
	int fd = queue_with_users(ring, size), n;
	struct ukevent got[4 * K];
	struct kt_waiter w;

	if (how == BY_SIGNAL)
		install_exit_handler();
	kt_waiter_init(&w, fd, KT_WAIT_RING);
	w.async_cancel = true;
	w.infinite = true;
	w.max_nr = size;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	kill_waiter(&w, how);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 0);
	ready_all(fd);
	n = ring_collect(fd, ring, size, got, K);
	check_each_once(got, n);
}

TEST(cancel_in_wait)
{
	wait_case(BY_CANCEL);
}

TEST(signal_exit_in_wait)
{
	wait_case(BY_SIGNAL);
}

/*
 * Cancel a thread that keeps calling kevent_wait() while events are being
 * readied: whatever it copied is in the ring, the rest is still queued; the
 * next reader finds each event exactly once. Repeated with new threads.
 */
struct ring_reader {
	int fd;
	struct kevent_ring *ring;
	pid_t tid;
};

static void *ring_reader_fn(void *arg)
{
	struct ring_reader *r = arg;

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	__atomic_store_n(&r->tid, kt_gettid(), __ATOMIC_RELEASE);
	for (;;) {
		struct __kernel_timespec ts = kevent_ts(60, 0);

		/* copies into the ring until it is full, then sleeps */
		kevent_wait(r->fd, 2, kevent_ring_kidx(r->ring), &ts, 0);
	}
	return NULL;
}

TEST_TIMEOUT(cancel_racing_ring_reader, 180)
{
	const unsigned int size = 8;
	struct kevent_ring *ring = kevent_ring_alloc(size);
	int fd = queue_with_users(ring, size);
	unsigned long long read = 0;
	int seen[K] = { 0 }, total = 0;
	struct ukevent arr[K];

	for (int round = 0; round < 20; round++) {
		struct ring_reader rr = { fd, ring, 0 };
		pthread_t th;
		unsigned long long written;

		/* ready a few, start a reader, ready more while it runs, cancel */
		for (int i = 0; i < K; i++)
			arr[i] = ukevent_user(i, 1000 + i);
		KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, K / 2, arr), K / 2);
		KT_ASSERT(!pthread_create(&th, NULL, ring_reader_fn, &rr));
		KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, K / 2, arr + K / 2), K / 2);
		if (round % 2)
			kt_msleep(round);
		KT_ASSERT_EQ(pthread_cancel(th), 0);
		KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));

		/* this thread takes over: everything of this round, once */
		memset(seen, 0, sizeof(seen));
		total = 0;
		for (;;) {
			written = (unsigned long long)kevent_ring_over(ring) * size +
				  kevent_ring_kidx(ring);
			for (; read < written; read++) {
				__u64 id = ring->event[read % size].id.raw_u64;

				KT_ASSERT(id < K);
				seen[id]++;
				total++;
			}
			KT_ASSERT(kevent_commit(fd, read % size, read / size) >= 0);
			if (total >= K)
				break;
			struct __kernel_timespec ts = kevent_ts(30, 0);
			int r = kevent_wait(fd, size, read % size, &ts, 0);

			if (r <= 0) {
				kt_fail_at(__FILE__, __LINE__,
					   "round %d: kevent_wait returned %d (errno %d) with %d of %d",
					   round, r, errno, total, K);
				kt_end_test();
			}
		}
		KT_EXPECT_EQ(total, K);
		for (int i = 0; i < K; i++)
			if (seen[i] != 1)
				kt_fail_at(__FILE__, __LINE__, "round %d: event %d seen %d times",
					   round, i, seen[i]);
		if (kt_failed())
			break;
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 0);
}

/* A cancelled thread does not leave a stale waiter behind. */
TEST(cancel_many_waiters)
{
	int fd = queue_with_users(NULL, 0);
	struct kt_waiter w[8];
	struct ukevent buf[K];
	struct __kernel_timespec ts = kevent_ts(10, 0);

	for (int i = 0; i < 8; i++) {
		kt_waiter_init(&w[i], fd, KT_WAIT_GET);
		w[i].async_cancel = true;
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_WAITERS), 8);
	for (int i = 0; i < 8; i++)
		kill_waiter(&w[i], BY_CANCEL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_WAITERS), 0);
	ready_all(fd);
	KT_EXPECT_EQ(kevent_get_events(fd, K, K, &ts, buf, 0), K);
	check_each_once(buf, K);
}

/* Cancelled while sleeping for space in a full ring: nothing lost either. */
TEST(cancel_in_wait_full_ring)
{
	const unsigned int size = 4;
	struct kevent_ring *ring = kevent_ring_alloc(size);
	int fd = queue_with_users(ring, size), n;
	struct __kernel_timespec ts = kevent_ts(5, 0);
	struct ukevent got[4 * K];
	struct kt_waiter w;

	ready_all(fd);
	/* fill the ring; the remaining K - size stay queued */
	KT_ASSERT_EQ(kevent_wait(fd, size, 0, &ts, 0), (int)size);
	kt_waiter_init(&w, fd, KT_WAIT_RING);
	w.async_cancel = true;
	w.infinite = true;
	w.max_nr = size;
	w.old_uidx = 0;		/* kidx wrapped to 0: current view */
	KT_ASSERT(kt_waiter_start_blocked(&w));
	kill_waiter(&w, BY_CANCEL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), K - size);
	n = ring_collect(fd, ring, size, got, K);
	check_each_once(got, n);
}
