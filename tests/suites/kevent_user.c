// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_user - the USER storage: fired only by KEVENT_CTL_READY, ret_data
 * (mask given to READY, times readied since last delivery), ONESHOT removal,
 * persistence of non-ONESHOT kevents, coalescing of repeated READYs.
 */
#include "kevent_test.h"

static struct ukevent get_one(int fd)
{
	struct ukevent buf[4];
	int r = kt_get_now(fd, buf, 4);

	if (r != 1) {
		kt_fail_at(__FILE__, __LINE__, "expected exactly one event, got %d (errno %d)",
			   r, errno);
		kt_end_test();
	}
	return buf[0];
}

TEST(ret_data_and_user_data)
{
	int fd = kt_queue();
	struct ukevent ev;

	kt_add_user(fd, 0x0123456789abcdefull, 0xfedcba9876543210ull, 0);
	kt_ready_user(fd, 0x0123456789abcdefull, 0xfedcba9876543210ull, 0xa5a5);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.id.raw_u64, 0x0123456789abcdefull);
	KT_EXPECT_EQ(ev.type, KEVENT_USER);
	KT_EXPECT_EQ(ev.user_u64, 0xfedcba9876543210ull);
	KT_EXPECT_EQ(ev.ret_data[0], 0xa5a5);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(ev.req_flags, 0);
	KT_EXPECT_EQ(ev.event, 0);	/* as registered, not the READY mask */
}

/* The last READY's mask is the one reported. */
TEST(last_ready_mask_wins)
{
	int fd = kt_queue();
	struct ukevent ev;

	kt_add_user(fd, 1, 0, 0);
	kt_ready_user(fd, 1, 0, 0x1);
	kt_ready_user(fd, 1, 0, 0x2);
	kt_ready_user(fd, 1, 0, 0x30);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.ret_data[0], 0x30);
	KT_EXPECT_EQ(ev.ret_data[1], 3);
}

/* READY of a WAKEUP_ONE kevent counts as matched even when not marked. */
TEST(ready_counts_matches)
{
	int fd = kt_queue();
	struct ukevent arr[2];

	kt_add_user(fd, 1, 0, KEVENT_REQ_WAKEUP_ONE);
	arr[0] = ukevent_user(1, 0);
	arr[1] = ukevent_user(1, 0);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 2, arr), 2);
	KT_EXPECT_DONE(arr[0]);
	KT_EXPECT_DONE(arr[1]);
	KT_EXPECT_EQ(get_one(fd).ret_data[1], 2);
}

/* A pointer as user data round-trips. */
TEST(user_pointer)
{
	int fd = kt_queue();
	static int cookie;
	struct ukevent uk = ukevent_user(1, 0), ev;

	uk.ptr = &cookie;
	KT_ASSERT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	uk = ukevent_user(1, 0);
	uk.ptr = &cookie;
	KT_ASSERT_EQ(kt_ctl1(fd, KEVENT_CTL_READY, &uk), 1);
	ev = get_one(fd);
	KT_EXPECT(ev.ptr == &cookie);
}

/* Not ready until READY: ADD alone never completes a USER kevent. */
TEST(not_ready_before_ready)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(1, 0), buf[2];

	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 0);
	/* even with ALWAYS_QUEUE */
	uk = ukevent_user(2, 0);
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 0);
}

TEST(oneshot_removed_after_delivery)
{
	int fd = kt_queue();
	struct ukevent uk;

	kt_add_user(fd, 1, 10, KEVENT_REQ_ONESHOT);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	kt_ready_user(fd, 1, 10, 0);
	/* still registered while only ready */
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	(void)get_one(fd);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	uk = ukevent_user(1, 10);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_READY, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	uk = ukevent_user(1, 10);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	/* the key can be added again */
	kt_add_user(fd, 1, 10, KEVENT_REQ_ONESHOT);
}

/* Without ONESHOT the kevent stays, and fires once per READY/delivery. */
TEST(level_persists)
{
	int fd = kt_queue();
	struct ukevent buf[2], ev;

	kt_add_user(fd, 1, 10, 0);
	for (int i = 0; i < 20; i++) {
		kt_ready_user(fd, 1, 10, i);
		ev = get_one(fd);
		KT_EXPECT_EQ(ev.ret_data[0], (__u32)i);
		KT_EXPECT_EQ(ev.ret_data[1], 1);
		/* waits for the next READY, not re-delivered by itself */
		KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 0);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	/* ET behaves the same for USER */
	kt_add_user(fd, 2, 20, KEVENT_REQ_ET);
	kt_ready_user(fd, 2, 20, 0);
	(void)get_one(fd);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 2), 0);
	kt_ready_user(fd, 2, 20, 0);
	(void)get_one(fd);
}

/* Several READYs before delivery: one event, ret_data[1] counts them. */
TEST(readies_coalesce)
{
	int fd = kt_queue();
	struct ukevent buf[4], ev, batch[3];

	kt_add_user(fd, 1, 10, 0);
	for (int i = 0; i < 5; i++)
		kt_ready_user(fd, 1, 10, 7);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.ret_data[0], 7);
	KT_EXPECT_EQ(ev.ret_data[1], 5);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 4), 0);
	/* the count restarts after a delivery */
	kt_ready_user(fd, 1, 10, 7);
	kt_ready_user(fd, 1, 10, 7);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	/* three READY entries for it in one batch */
	for (int i = 0; i < 3; i++) {
		batch[i] = ukevent_user(1, 10);
		batch[i].event = 7;
	}
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 3, batch), 3);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.ret_data[1], 3);
}

/* ONESHOT readied many times: delivered once, then gone. */
TEST(oneshot_coalesce)
{
	int fd = kt_queue();
	struct ukevent buf[4], ev;

	kt_add_user(fd, 1, 10, KEVENT_REQ_ONESHOT);
	for (int i = 0; i < 3; i++)
		kt_ready_user(fd, 1, 10, 1);
	ev = get_one(fd);
	KT_EXPECT_EQ(ev.ret_data[1], 3);
	KT_EXPECT_EQ(kt_get_now(fd, buf, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* Many USER kevents readied: each delivered exactly once. */
TEST(many_kevents)
{
	enum { N = 3000 };
	int fd = kt_queue(), total = 0, r;
	static struct ukevent arr[N], buf[512];
	static int seen[N];

	for (int i = 0; i < N; i++)
		arr[i] = ukevent_user(i, i * 3ull);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, N, arr), 0);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, N, arr), N);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), N);
	while ((r = kt_get_now(fd, buf, 512)) > 0) {
		for (int i = 0; i < r; i++) {
			__u64 id = buf[i].id.raw_u64;

			KT_ASSERT(id < N);
			KT_EXPECT_EQ(buf[i].user_u64, id * 3);
			seen[id]++;
		}
		total += r;
	}
	KT_EXPECT_EQ(r, 0);
	KT_EXPECT_EQ(total, N);
	for (int i = 0; i < N; i++)
		if (seen[i] != 1)
			kt_fail_at(__FILE__, __LINE__, "id %d seen %d times", i, seen[i]);
}

/* READY from several threads at once on one kevent: nothing lost. */
struct hammer {
	int fd, n;
};

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < h->n; i++)
		kt_ready_user(h->fd, 1, 10, 1);
	return NULL;
}

TEST_TIMEOUT(concurrent_readies_counted, 120)
{
	enum { T = 4, N = 2000 };
	struct hammer h = { kt_queue(), N };
	long long total = 0, deadline = kt_mono_ns() + 90 * 1000000000LL;
	pthread_t th[T];
	struct ukevent buf[4];
	int r;

	kt_add_user(h.fd, 1, 10, 0);
	for (int i = 0; i < T; i++)
		KT_ASSERT(!pthread_create(&th[i], NULL, hammer_fn, &h));
	while (total < (long long)T * N && kt_mono_ns() < deadline) {
		/*
		 * A READY that lands while the event is being copied requeues
		 * it, so one call may return it more than once: each copy
		 * counts the READYs it stands for.
		 */
		r = kt_get_now(h.fd, buf, 4);
		KT_ASSERT(r >= 0);
		for (int i = 0; i < r; i++) {
			KT_EXPECT_EQ(buf[i].id.raw_u64, 1);
			KT_EXPECT(buf[i].ret_data[1] >= 1);
			total += buf[i].ret_data[1];
		}
		if (!r)
			sched_yield();
	}
	for (int i = 0; i < T; i++)
		KT_ASSERT(kt_join(th[i], NULL, KT_SOON_MS));
	r = kt_get_now(h.fd, buf, 4);
	for (int i = 0; i < r; i++)
		total += buf[i].ret_data[1];
	KT_EXPECT_EQ(total, (long long)T * N);
}

/*
 * Several producers READY distinct ONESHOT kevents while several consumers
 * take them with kevent_get_events(): every event exactly once.
 */
#define MP_N 8000
#define MP_PROD 2
#define MP_CONS 3

struct mpmc {
	int fd;
	int prod_idx;
	unsigned char seen[MP_N];
	int consumed;
	int bad;
};

static void *mp_producer(void *arg)
{
	struct mpmc *m = arg;
	int who = __atomic_fetch_add(&m->prod_idx, 1, __ATOMIC_RELAXED);
	struct ukevent batch[8];

	for (int i = who; i < MP_N;) {
		int n = 0;

		for (; n < 8 && i < MP_N; n++, i += MP_PROD)
			batch[n] = ukevent_user(i, i + 1ull);
		if (kevent_ctl(m->fd, KEVENT_CTL_READY, n, batch) != n) {
			kt_fail_at(__FILE__, __LINE__, "READY: %s", strerror(errno));
			kt_end_test();
		}
	}
	return NULL;
}

static void *mp_consumer(void *arg)
{
	struct mpmc *m = arg;
	struct __kernel_timespec ts = kevent_ts_ms(200);
	struct ukevent buf[8];

	while (__atomic_load_n(&m->consumed, __ATOMIC_ACQUIRE) < MP_N) {
		int r = kevent_get_events(m->fd, 1, 8, &ts, buf, 0);

		if (r < 0) {
			kt_fail_at(__FILE__, __LINE__, "get_events: %s", strerror(errno));
			kt_end_test();
		}
		for (int i = 0; i < r; i++) {
			__u64 id = buf[i].id.raw_u64;

			if (id >= MP_N || buf[i].user_u64 != id + 1 ||
			    __atomic_fetch_add(&m->seen[id], 1, __ATOMIC_RELAXED)) {
				__atomic_add_fetch(&m->bad, 1, __ATOMIC_RELAXED);
				continue;
			}
		}
		__atomic_add_fetch(&m->consumed, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_TIMEOUT(many_producers_many_consumers, 240)
{
	static struct mpmc m;
	static struct ukevent add[4096];
	pthread_t prod[MP_PROD], cons[MP_CONS];
	long long deadline;

	m.fd = kt_queue();
	for (int i = 0; i < MP_N; i += 4096) {
		int n = MP_N - i < 4096 ? MP_N - i : 4096;

		for (int j = 0; j < n; j++) {
			add[j] = ukevent_user(i + j, i + j + 1ull);
			add[j].req_flags = KEVENT_REQ_ONESHOT;
		}
		KT_ASSERT_EQ(kevent_ctl(m.fd, KEVENT_CTL_ADD, n, add), 0);
	}
	for (int i = 0; i < MP_CONS; i++)
		KT_ASSERT(!pthread_create(&cons[i], NULL, mp_consumer, &m));
	for (int i = 0; i < MP_PROD; i++)
		KT_ASSERT(!pthread_create(&prod[i], NULL, mp_producer, &m));
	for (int i = 0; i < MP_PROD; i++)
		KT_ASSERT(kt_join(prod[i], NULL, 120000));
	deadline = kt_mono_ns() + 120 * 1000000000LL;
	while (__atomic_load_n(&m.consumed, __ATOMIC_ACQUIRE) < MP_N && kt_mono_ns() < deadline)
		kt_msleep(10);
	for (int i = 0; i < MP_CONS; i++)
		KT_ASSERT(kt_join(cons[i], NULL, KT_SOON_MS));
	KT_EXPECT_EQ(m.consumed, MP_N);
	KT_EXPECT_EQ(m.bad, 0);
	KT_EXPECT_EQ(kevent_fdinfo(m.fd, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(m.fd, KFD_DELIVERED), MP_N);
}
