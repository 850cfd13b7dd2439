// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_herd - thundering herd avoidance (KEVENT_REQ_WAKEUP_ONE).
 *
 * T threads sleep in kevent_get_events(min 1) on one queue. Readying a
 * WAKEUP_ONE kevent must wake exactly one of them: one thread returns with
 * the event, the fdinfo wake-up counter grows by one, and no other thread
 * even ran (its voluntary context switch count is unchanged). Without the
 * flag every sleeper is woken (the counter grows by more than one) while
 * still only one thread gets the event.
 *
 * Also: within one storage, while one WAKEUP_ONE kevent is ready the others
 * are not marked.
 */
#include "kevent_test.h"

#define T 8
#define ROUNDS 50

struct herd;

struct herd_thread {
	struct herd *h;
	pthread_t th;
	pid_t tid;
	int returns;		/* times kevent_get_events() returned */
	int events;		/* events it got */
	int last_ret, last_err;
	struct ukevent last;
};

struct herd {
	int fd;
	int stop;
	struct kevent_ring *ring;	/* threads use kevent_wait() if set */
	struct herd_thread t[T];
};

static long herd_nr(const struct herd *h)
{
	return h->ring ? __NR_kevent_wait : __NR_kevent_get_events;
}

static void *herd_fn(void *arg)
{
	struct herd_thread *t = arg;
	struct __kernel_timespec ts = kevent_ts(600, 0);
	struct ukevent ev;

	__atomic_store_n(&t->tid, kt_gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&t->h->stop, __ATOMIC_ACQUIRE)) {
		int r;

		if (t->h->ring)
			r = kevent_wait(t->h->fd, 1, kevent_ring_kidx(t->h->ring), &ts, 0);
		else
			r = kevent_get_events(t->h->fd, 1, 1, &ts, &ev, 0);
		t->last_err = r < 0 ? errno : 0;
		t->last_ret = r;
		if (r > 0) {
			if (!t->h->ring)
				t->last = ev;
			__atomic_add_fetch(&t->events, r, __ATOMIC_RELEASE);
		}
		__atomic_add_fetch(&t->returns, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int total_returns(struct herd *h)
{
	int n = 0;

	for (int i = 0; i < T; i++)
		n += __atomic_load_n(&h->t[i].returns, __ATOMIC_ACQUIRE);
	return n;
}

/* All T threads asleep in kevent_get_events (and counted as waiters). */
static void wait_all_blocked(struct herd *h)
{
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	long long waiters;
	pid_t tids[T];
	int bad;

	for (int i = 0; i < T; i++) {
		while (!__atomic_load_n(&h->t[i].tid, __ATOMIC_ACQUIRE))
			kt_msleep(1);
		tids[i] = h->t[i].tid;
	}
	bad = kt_wait_all_blocked(tids, T, herd_nr(h), KT_SOON_MS);
	if (bad >= 0) {
		kt_fail_at(__FILE__, __LINE__, "thread %d not asleep (state %c, syscall %ld)",
			   bad, kt_thread_state(tids[bad]), kt_thread_syscall(tids[bad]));
		kt_end_test();
	}
	/* if the kernel shows its waiter count, it must agree */
	while ((waiters = kevent_fdinfo(h->fd, KFD_WAITERS)) >= 0 && waiters != T) {
		if (kt_mono_ns() > deadline) {
			kt_fail_at(__FILE__, __LINE__, "fdinfo waiters %lld, expected %d", waiters, T);
			kt_end_test();
		}
		kt_msleep(1);
	}
}

static void herd_start(struct herd *h, int fd, struct kevent_ring *ring)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->ring = ring;
	for (int i = 0; i < T; i++) {
		h->t[i].h = h;
		KT_ASSERT(!pthread_create(&h->t[i].th, NULL, herd_fn, &h->t[i]));
	}
	wait_all_blocked(h);
}

static void herd_stop(struct herd *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	KT_EXPECT_EQ(kevent_ctl(h->fd, KEVENT_CTL_READY, 0, NULL), 0);
	for (int i = 0; i < T; i++)
		if (!kt_join(h->t[i].th, NULL, KT_SOON_MS))
			kt_fail_at(__FILE__, __LINE__, "thread %d did not leave after READY 0", i);
}

/* Wait until the threads have returned `want` times in total. */
static bool wait_returns(struct herd *h, int want)
{
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

	while (total_returns(h) < want) {
		if (kt_mono_ns() > deadline)
			return false;
		kt_msleep(1);
	}
	return true;
}

struct round_result {
	long long wakeups;	/* fdinfo wakeups delta */
	int ran;		/* threads whose voluntary switch count moved */
	int returned;		/* returns of kevent_get_events */
	int got;		/* events received */
};

typedef void (*fire_fn)(struct herd *h, void *arg);

struct ready_arg {
	struct ukevent *uk;
	int n;
};

static void fire_ready(struct herd *h, void *arg)
{
	struct ready_arg *a = arg;

	KT_ASSERT_EQ(kevent_ctl(h->fd, KEVENT_CTL_READY, a->n, a->uk), a->n);
}

static struct round_result herd_round_fn(struct herd *h, fire_fn fire, void *arg, int expect);

/*
 * One round: all threads asleep, ready the given entries, wait for `expect`
 * returns, wait for every thread to be asleep again, and measure.
 */
static struct round_result herd_round(struct herd *h, struct ukevent *uk, int n, int expect)
{
	struct ready_arg a = { uk, n };

	return herd_round_fn(h, fire_ready, &a, expect);
}

static struct round_result herd_round_fn(struct herd *h, fire_fn fire, void *arg, int expect)
{
	long long nvcsw[T], w0, w1;
	int r0 = total_returns(h), e0 = 0, e1 = 0;
	struct round_result res = { 0 };

	wait_all_blocked(h);
	for (int i = 0; i < T; i++) {
		nvcsw[i] = kt_thread_nvcsw(h->t[i].tid);
		e0 += __atomic_load_n(&h->t[i].events, __ATOMIC_ACQUIRE);
	}
	w0 = kevent_fdinfo(h->fd, KFD_WAKEUPS);
	fire(h, arg);
	if (!wait_returns(h, r0 + expect)) {
		kt_fail_at(__FILE__, __LINE__, "only %d of %d threads returned",
			   total_returns(h) - r0, expect);
		kt_end_test();
	}
	wait_all_blocked(h);
	/* a woken thread is 'R' until it sleeps again; re-check after a pause */
	kt_msleep(5);
	wait_all_blocked(h);
	w1 = kevent_fdinfo(h->fd, KFD_WAKEUPS);
	for (int i = 0; i < T; i++) {
		res.ran += kt_thread_nvcsw(h->t[i].tid) != nvcsw[i];
		e1 += __atomic_load_n(&h->t[i].events, __ATOMIC_ACQUIRE);
	}
	res.wakeups = w1 - w0;
	res.returned = total_returns(h) - r0;
	res.got = e1 - e0;
	return res;
}

TEST_TIMEOUT(wakeup_one_wakes_one, 300)
{
	struct herd h;
	int fd = kt_queue(), bad = 0;
	struct ukevent uk;

	KT_ASSERT(kevent_fdinfo(fd, KFD_WAKEUPS) >= 0);
	kt_add_user(fd, 1, 0x1234, KEVENT_REQ_WAKEUP_ONE);
	herd_start(&h, fd, NULL);
	for (int round = 0; round < ROUNDS && bad < 3; round++) {
		struct round_result res;

		uk = ukevent_user(1, 0x1234);
		uk.event = round;
		res = herd_round(&h, &uk, 1, 1);
		if (res.returned != 1 || res.got != 1 || res.wakeups != 1 || res.ran != 1) {
			kt_fail_at(__FILE__, __LINE__,
				   "round %d: %d returned, %d events, wakeups +%lld, %d threads ran; expected 1 each",
				   round, res.returned, res.got, res.wakeups, res.ran);
			bad++;
		}
	}
	/* every delivered event was the right one */
	for (int i = 0; i < T; i++)
		if (h.t[i].events) {
			KT_EXPECT_EQ(h.t[i].last.user_u64, 0x1234);
			KT_EXPECT_EQ(h.t[i].last_ret, 1);
		}
	int users = 0;

	for (int i = 0; i < T; i++)
		users += h.t[i].events > 0;
	kt_log("%d rounds served by %d different threads", ROUNDS, users);
	herd_stop(&h);
}

/* Two WAKEUP_ONE kevents (two storages) readied at once: two threads. */
TEST_TIMEOUT(wakeup_one_two_events, 120)
{
	struct herd h;
	int fd = kt_queue();
	struct ukevent uk[2];
	struct round_result res;

	kt_add_user(fd, 1, 1, KEVENT_REQ_WAKEUP_ONE);
	kt_add_user(fd, 2, 2, KEVENT_REQ_WAKEUP_ONE);
	herd_start(&h, fd, NULL);
	for (int round = 0; round < 10; round++) {
		uk[0] = ukevent_user(1, 1);
		uk[1] = ukevent_user(2, 2);
		res = herd_round(&h, uk, 2, 2);
		KT_EXPECT_EQ(res.returned, 2);
		KT_EXPECT_EQ(res.got, 2);
		KT_EXPECT_EQ(res.wakeups, 2);
		KT_EXPECT_EQ(res.ran, 2);
	}
	herd_stop(&h);
}

/* Without the flag, all sleepers wake; still one gets the event. */
TEST_TIMEOUT(without_flag_wakes_all, 240)
{
	struct herd h;
	int fd = kt_queue();
	struct ukevent uk;

	kt_add_user(fd, 1, 0x5678, 0);
	herd_start(&h, fd, NULL);
	for (int round = 0; round < 10; round++) {
		struct round_result res;

		uk = ukevent_user(1, 0x5678);
		res = herd_round(&h, &uk, 1, 1);
		kt_log("round %d: %d threads blocked, wakeups +%lld, %d threads ran, %d returned",
		       round, T, res.wakeups, res.ran, res.returned);
		KT_EXPECT_EQ(res.returned, 1);
		KT_EXPECT_EQ(res.got, 1);
		KT_EXPECT(res.wakeups > 1);
		KT_EXPECT(res.ran > 1);
	}
	herd_stop(&h);
}

/*
 * One file through two fds, both WAKEUP_ONE, as EPOLLEXCLUSIVE: with nobody
 * asleep on the queue both are marked (a queue without a sleeper does not
 * stop the search); with a thread asleep, the first one wakes it and the
 * other is left alone.
 */
TEST(wakeup_one_per_storage)
{
	int q = kt_queue(), p[2], d;
	struct ukevent uk[2], buf[4];
	struct kt_waiter w;
	long marked;
	char drain[16];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	d = dup(p[0]);
	KT_ASSERT(d >= 0);
	uk[0] = ukevent_poll(p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	uk[1] = ukevent_poll(d, POLLIN, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	KT_ASSERT_EQ(kevent_ctl(q, KEVENT_CTL_ADD, 2, uk), 0);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 2);
	KT_EXPECT_EQ(kt_get_now(q, buf, 4), 2);
	while (read(p[0], drain, sizeof(drain)) > 0)
		;

	/* a sleeper: one kevent marked, one thread woken */
	marked = kevent_fdinfo(q, KFD_MARKED);
	kt_waiter_init(&w, q, KT_WAIT_GET);
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT(write(p[1], "y", 1) == 1);
	KT_ASSERT(kt_waiter_join(&w, 2000));
	KT_EXPECT_EQ(w.ret, 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_MARKED), marked + 1);
	KT_EXPECT_EQ(kt_get_now(q, buf, 4), 0);

	/* without the flag both are marked (empty pipe: nothing ready at ADD) */
	int q2 = kt_queue();

	while (read(p[0], drain, sizeof(drain)) > 0)
		;

	uk[0] = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ET);
	uk[1] = ukevent_poll(d, POLLIN, KEVENT_REQ_ET);
	KT_ASSERT_EQ(kevent_ctl(q2, KEVENT_CTL_ADD, 2, uk), 0);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	KT_EXPECT_EQ(kt_get_now(q2, buf, 4), 2);
}

/* USER kevents each own a storage: two WAKEUP_ONE ones are both marked. */
TEST(wakeup_one_user_storages_independent)
{
	int q = kt_queue();
	struct ukevent buf[4];

	kt_add_user(q, 1, 0, KEVENT_REQ_WAKEUP_ONE);
	kt_add_user(q, 2, 0, KEVENT_REQ_WAKEUP_ONE);
	kt_ready_user(q, 1, 0, 0);
	kt_ready_user(q, 2, 0, 0);
	KT_EXPECT_EQ(kt_get_now(q, buf, 4), 2);
}

/* A pipe watched with WAKEUP_ONE | ET: each write wakes one thread. */
static void fire_write(struct herd *h, void *arg)
{
	int *p = arg;
	char buf[64];

	(void)h;
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	KT_ASSERT(write(p[1], "x", 1) == 1);
}

TEST_TIMEOUT(wakeup_one_poll, 240)
{
	struct herd h;
	int fd = kt_queue(), p[2];
	struct ukevent uk;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	KT_ASSERT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	herd_start(&h, fd, NULL);
	for (int round = 0; round < 20; round++) {
		struct round_result res = herd_round_fn(&h, fire_write, p, 1);

		if (res.returned != 1 || res.got != 1 || res.wakeups != 1 || res.ran != 1) {
			kt_fail_at(__FILE__, __LINE__,
				   "round %d: %d returned, %d events, wakeups +%lld, %d threads ran; expected 1 each",
				   round, res.returned, res.got, res.wakeups, res.ran);
			break;
		}
	}
	herd_stop(&h);
}

/* Threads sleeping in kevent_wait() on a ring: one woken per event too. */
static void fire_ready_and_commit(struct herd *h, void *arg)
{
	struct ukevent uk = ukevent_user(1, 0x99);
	unsigned int *size = arg;
	unsigned int kidx = kevent_ring_kidx(h->ring), over = kevent_ring_over(h->ring);

	/* free the slots the previous rounds used */
	KT_ASSERT(kevent_commit(h->fd, kidx, over) >= 0);
	(void)size;
	KT_ASSERT_EQ(kt_ctl1(h->fd, KEVENT_CTL_READY, &uk), 1);
}

TEST_TIMEOUT(wakeup_one_ring, 240)
{
	unsigned int size = 16;
	struct kevent_ring *ring = kevent_ring_alloc(size);
	int fd = (int)KT_ASSERT_OK(kevent_init(ring, size, 0));
	unsigned int before;
	struct herd h;

	kt_add_user(fd, 1, 0x99, KEVENT_REQ_WAKEUP_ONE);
	herd_start(&h, fd, ring);
	for (int round = 0; round < 20; round++) {
		struct round_result res;

		before = kevent_ring_kidx(ring);
		res = herd_round_fn(&h, fire_ready_and_commit, &size, 1);
		if (res.returned != 1 || res.got != 1 || res.wakeups != 1 || res.ran != 1) {
			kt_fail_at(__FILE__, __LINE__,
				   "round %d: %d returned, %d events, wakeups +%lld, %d threads ran; expected 1 each",
				   round, res.returned, res.got, res.wakeups, res.ran);
			break;
		}
		KT_EXPECT_EQ(ring->event[before].user_u64, 0x99);
		KT_EXPECT_EQ(kevent_ring_kidx(ring), (before + 1) % size);
	}
	herd_stop(&h);
}

/*
 * A kevent_wait() caller whose ring is full cannot take an event: a
 * WAKEUP_ONE wake-up must go to a thread that can (here one sleeping in
 * kevent_get_events()), not be absorbed by the ring waiter.
 */
TEST_TIMEOUT(wakeup_one_skips_full_ring_waiter, 120)
{
	struct kevent_ring *ring = kevent_ring_alloc(2);
	int fd = (int)KT_ASSERT_OK(kevent_init(ring, 2, 0));
	struct __kernel_timespec ts = kevent_ts(5, 0);
	struct kt_waiter rw, gw;

	kt_add_user(fd, 10, 0, 0);
	kt_add_user(fd, 11, 0, 0);
	kt_add_user(fd, 1, 0x1, KEVENT_REQ_WAKEUP_ONE);
	kt_ready_user(fd, 10, 0, 0);
	kt_ready_user(fd, 11, 0, 0);
	KT_ASSERT_EQ(kevent_wait(fd, 2, 0, &ts, 0), 2);	/* ring full */

	kt_waiter_init(&rw, fd, KT_WAIT_RING);
	rw.old_uidx = 0;
	KT_ASSERT(kt_waiter_start_blocked(&rw));	/* sleeps for space */
	kt_waiter_init(&gw, fd, KT_WAIT_GET);
	KT_ASSERT(kt_waiter_start_blocked(&gw));
	kt_ready_user(fd, 1, 0x1, 0);
	if (!kt_waiter_join(&gw, KT_SOON_MS)) {
		kt_fail_at(__FILE__, __LINE__, "get_events waiter not woken: wake-up lost");
		kt_end_test();
	}
	KT_EXPECT_EQ(gw.ret, 1);
	KT_EXPECT_EQ(gw.buf[0].user_u64, 0x1);
	KT_EXPECT(!kt_waiter_done(&rw));
	/* room again: the ring waiter gets the next one */
	KT_EXPECT_EQ(kevent_commit(fd, 0, 1), 2);
	kt_ready_user(fd, 1, 0x1, 0);
	KT_ASSERT(kt_waiter_join(&rw, KT_SOON_MS));
	KT_EXPECT_EQ(rw.ret, 1);
	KT_EXPECT_EQ(ring->event[0].user_u64, 0x1);
}

/*
 * Pollers of the queue fd are woken by WAKEUP_ONE kevents too, even when
 * the one exclusive wake-up goes to a thread in kevent_get_events(). A
 * poller may find the event already taken and go back to sleep, so "woken"
 * is: poll() returned, or the poller went to sleep once more.
 */
struct poller {
	int fd;
	pid_t tid;
	int ret;
	int done;
	short revents;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	__atomic_store_n(&p->tid, kt_gettid(), __ATOMIC_RELEASE);
	p->ret = (int)syscall(SYS_poll, &pfd, 1, 120000);
	p->revents = pfd.revents;
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_TIMEOUT(wakeup_one_also_wakes_pollers, 120)
{
	int fd = kt_queue();
	struct poller pl[2] = { { .fd = fd }, { .fd = fd } };
	long long nvcsw[2], deadline;
	pthread_t th[2];
	struct kt_waiter gw;

	kt_add_user(fd, 1, 0, KEVENT_REQ_WAKEUP_ONE);
	for (int i = 0; i < 2; i++) {
		KT_ASSERT(!pthread_create(&th[i], NULL, poller_fn, &pl[i]));
		while (!__atomic_load_n(&pl[i].tid, __ATOMIC_ACQUIRE))
			kt_msleep(1);
		KT_ASSERT(kt_wait_blocked(pl[i].tid, SYS_poll, KT_SOON_MS));
	}
	kt_waiter_init(&gw, fd, KT_WAIT_GET);
	KT_ASSERT(kt_waiter_start_blocked(&gw));
	for (int i = 0; i < 2; i++)
		nvcsw[i] = kt_thread_nvcsw(pl[i].tid);
	kt_ready_user(fd, 1, 0, 0);
	KT_ASSERT(kt_waiter_join(&gw, KT_SOON_MS));
	KT_EXPECT_EQ(gw.ret, 1);
	deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	for (int i = 0; i < 2; i++) {
		bool woken = false;

		while (!woken && kt_mono_ns() < deadline) {
			woken = __atomic_load_n(&pl[i].done, __ATOMIC_ACQUIRE) ||
				(kt_thread_nvcsw(pl[i].tid) != nvcsw[i] &&
				 kt_thread_blocked_in(pl[i].tid, SYS_poll));
			if (!woken)
				kt_msleep(1);
		}
		kt_log("poller %d: %s", i, pl[i].done ? "returned" : woken ? "woken, slept again" : "never woken");
		if (!woken)
			kt_fail_at(__FILE__, __LINE__, "poller %d not woken", i);
	}
}
