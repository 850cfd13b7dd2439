// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_ring - the user-space ring: kevent_wait() copies ready events into
 * it, kevent_commit() frees consumed slots. A producer/consumer run over
 * thousands of wraps checks every event arrives exactly once; the rest
 * checks commit errors (ERANGE/EINVAL), stale old_uidx, a full ring that
 * loses nothing, kevent_wait() argument errors, and an unmapped ring.
 */
#include "kevent_test.h"

#define MS 1000000LL

struct ringq {
	int fd;
	unsigned int size;
	struct kevent_ring *ring;
	/* the consumer's view: absolute positions (lap * size + idx) */
	unsigned long long read, committed;
};

static void ringq_open(struct ringq *q, unsigned int size)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->ring = kevent_ring_alloc(size);
	KT_ASSERT(q->ring);
	q->fd = (int)KT_ASSERT_OK(kevent_init(q->ring, size, 0));
}

/* Absolute position the kernel says it has written. */
static unsigned long long ring_written(const struct ringq *q)
{
	return (unsigned long long)kevent_ring_over(q->ring) * q->size + kevent_ring_kidx(q->ring);
}

static unsigned int idx_of(const struct ringq *q, unsigned long long pos)
{
	return (unsigned int)(pos % q->size);
}

static unsigned int lap_of(const struct ringq *q, unsigned long long pos)
{
	return (unsigned int)(pos / q->size);
}

/* kevent_wait for the consumer's current view; returns the call's result. */
static int ring_wait(struct ringq *q, unsigned int num, long long timeout_ms)
{
	struct __kernel_timespec ts = kevent_ts_ms(timeout_ms);

	return kevent_wait(q->fd, num, idx_of(q, q->read), &ts, 0);
}

/* Commit everything read so far; returns what kevent_commit returned. */
static int ring_commit_all(struct ringq *q)
{
	int r = kevent_commit(q->fd, idx_of(q, q->read), lap_of(q, q->read));

	if (r >= 0)
		q->committed = q->read;
	return r;
}

static void ready_users(int fd, unsigned int from, unsigned int n)
{
	for (unsigned int i = from; i < from + n; i++)
		kt_ready_user(fd, i, 1000 + i, 0);
}

static void add_users(int fd, unsigned int from, unsigned int n, __u32 flags)
{
	for (unsigned int i = from; i < from + n; i++)
		kt_add_user(fd, i, 1000 + i, flags);
}

/* ---- producer / consumer --------------------------------------------- */

#define PC_N	10000u
#define PC_SIZE	8u

struct producer {
	int fd;
	int done;
};

static void *producer_fn(void *arg)
{
	struct producer *p = arg;
	struct ukevent batch[16];
	unsigned int i = 0, seed = 12345;

	while (i < PC_N) {
		unsigned int n = 1 + (seed = seed * 1103515245u + 12345u) % 16;

		if (n > PC_N - i)
			n = PC_N - i;
		for (unsigned int j = 0; j < n; j++) {
			batch[j] = ukevent_user(i + j, (i + j) * 7ull + 3);
			batch[j].event = i + j;
		}
		int r = kevent_ctl(p->fd, KEVENT_CTL_READY, n, batch);

		if (r != (int)n) {
			kt_fail_at(__FILE__, __LINE__, "READY of %u at %u returned %d (errno %d)",
				   n, i, r, errno);
			kt_end_test();
		}
		i += n;
		if (seed % 4 == 0)
			sched_yield();
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_TIMEOUT(producer_consumer, 400)
{
	static struct ukevent add[4096];
	static unsigned char seen[PC_N];
	struct ringq q;
	struct producer prod;
	pthread_t th;
	unsigned long long idle_since = 0;
	unsigned int got = 0, dup = 0, bad = 0, calls = 0;

	ringq_open(&q, PC_SIZE);
	for (unsigned int i = 0; i < PC_N; i += 4096) {
		unsigned int n = PC_N - i < 4096 ? PC_N - i : 4096;

		for (unsigned int j = 0; j < n; j++) {
			add[j] = ukevent_user(i + j, (i + j) * 7ull + 3);
			add[j].req_flags = KEVENT_REQ_ONESHOT;
		}
		KT_ASSERT_EQ(kevent_ctl(q.fd, KEVENT_CTL_ADD, n, add), 0);
	}
	prod.fd = q.fd;
	prod.done = 0;
	KT_ASSERT(!pthread_create(&th, NULL, producer_fn, &prod));

	idle_since = kt_mono_ns();
	while (got < PC_N) {
		int r = ring_wait(&q, PC_SIZE, 10000);
		unsigned long long written;

		calls++;
		if (r < 0) {
			kt_fail_at(__FILE__, __LINE__, "kevent_wait: %s", strerror(errno));
			kt_end_test();
		}
		written = ring_written(&q);
		if (written - q.read != (unsigned long long)r) {
			kt_fail_at(__FILE__, __LINE__,
				   "kevent_wait returned %d but the ring advanced by %llu (kidx %u over %u)",
				   r, written - q.read, kevent_ring_kidx(q.ring),
				   kevent_ring_over(q.ring));
			kt_end_test();
		}
		if (r == 0) {
			if (kt_mono_ns() - idle_since > KT_SOON_MS * MS) {
				kt_fail_at(__FILE__, __LINE__, "no event for %d ms after %u of %u",
					   KT_SOON_MS, got, PC_N);
				kt_end_test();
			}
			continue;
		}
		idle_since = kt_mono_ns();
		for (; q.read < written; q.read++) {
			const struct ukevent *ev = &q.ring->event[idx_of(&q, q.read)];
			__u64 id = ev->id.raw_u64;

			if (ev->type != KEVENT_USER || id >= PC_N || ev->user_u64 != id * 7 + 3 ||
			    ev->ret_data[0] != id) {
				if (bad++ < 5)
					kt_fail_at(__FILE__, __LINE__,
						   "slot %u: type %u id %llu user %llu ret_data %u",
						   idx_of(&q, q.read), ev->type,
						   (unsigned long long)id,
						   (unsigned long long)ev->user_u64, ev->ret_data[0]);
				continue;
			}
			if (seen[id]++)
				dup++;
			got++;
		}
		r = ring_commit_all(&q);
		if (r < 0) {
			kt_fail_at(__FILE__, __LINE__, "commit(%u, %u): %s", idx_of(&q, q.read),
				   lap_of(&q, q.read), strerror(errno));
			kt_end_test();
		}
		if (bad)
			break;
	}
	KT_ASSERT(kt_join(th, NULL, KT_SOON_MS));
	kt_log("%u events in %u kevent_wait calls, %u wraps", got, calls, lap_of(&q, q.read));
	KT_EXPECT_EQ(bad, 0);
	KT_EXPECT_EQ(dup, 0);
	KT_EXPECT_EQ(got, PC_N);
	KT_EXPECT(lap_of(&q, q.read) >= 1000);
	for (unsigned int i = 0; i < PC_N; i++)
		if (seen[i] != 1) {
			kt_fail_at(__FILE__, __LINE__, "event %u seen %u times", i, seen[i]);
			break;
		}
	/* ONESHOT: all gone; nothing more arrives */
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(ring_wait(&q, PC_SIZE, 50), 0);
}

/* ---- commit ---------------------------------------------------------- */

TEST(commit_counts)
{
	struct ringq q;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 5, 0);
	ready_users(q.fd, 0, 5);
	KT_ASSERT_EQ(ring_wait(&q, 3, 5000), 3);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 3);
	KT_EXPECT_EQ(kevent_ring_over(q.ring), 0);
	/* commit part, then the rest, then nothing */
	KT_EXPECT_EQ(kevent_commit(q.fd, 2, 0), 2);
	KT_EXPECT_EQ(kevent_commit(q.fd, 3, 0), 1);
	KT_EXPECT_EQ(kevent_commit(q.fd, 3, 0), 0);
	/* the slots are filled in order */
	for (unsigned int i = 0; i < 3; i++)
		KT_EXPECT_EQ(q.ring->event[i].id.raw_u64, i);
	q.read = 3;
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 2);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 5);
	KT_EXPECT_EQ(q.ring->event[3].id.raw_u64, 3);
	KT_EXPECT_EQ(q.ring->event[4].id.raw_u64, 4);
}

TEST(commit_errors)
{
	struct ringq q;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 11, 0);
	ready_users(q.fd, 0, 8);
	/* a whole lap: kidx back to 0, ring_over 1 */
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 8);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
	KT_EXPECT_EQ(kevent_ring_over(q.ring), 1);
	/* index out of the ring */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 8, 1), EINVAL);
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 9, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 0xffffffffu, 1), EINVAL);
	/* ahead of what was written */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 1, 1), ERANGE);
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 0, 2), ERANGE);
	/* part of the lap, using the lap of new_idx (ring_over - 1) */
	KT_EXPECT_EQ(kevent_commit(q.fd, 5, 0), 5);
	/* behind the last commit */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 4, 0), ERANGE);
	/* the rest of the lap */
	KT_EXPECT_EQ(kevent_commit(q.fd, 0, 1), 3);
	/* three more: written position 11 */
	ready_users(q.fd, 8, 3);
	q.read = 8;
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 3);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 3);
	KT_EXPECT_EQ(kevent_ring_over(q.ring), 1);
	/* a stale over: (lap 0, 3) is behind the commit at 8 */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 3, 0), ERANGE);
	/* a lap too far */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 3, 2), ERANGE);
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 2, 5), ERANGE);
	/* ahead inside the lap */
	KT_EXPECT_ERRNO(kevent_commit(q.fd, 4, 1), ERANGE);
	KT_EXPECT_EQ(kevent_commit(q.fd, 3, 1), 3);
	/* the refused commits freed nothing: used slots match */
	KT_EXPECT_EQ(kevent_commit(q.fd, 3, 1), 0);
}

TEST(commit_bad_fd)
{
	int p[2], fd = kt_queue();

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_EXPECT_ERRNO(kevent_commit(-1, 0, 0), EBADF);
	KT_EXPECT_ERRNO(kevent_commit(p[0], 0, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_commit(fd, 0, 0), EINVAL);	/* no ring */
}

/* ---- kevent_wait ----------------------------------------------------- */

/* old_uidx != kidx: the caller is behind; return 0 at once, copy nothing. */
TEST(wait_stale_old_uidx)
{
	struct ringq q;
	struct __kernel_timespec ts = kevent_ts(60, 0);
	long long t0;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 2, 0);
	ready_users(q.fd, 0, 1);
	KT_EXPECT_EQ(kevent_wait(q.fd, 8, 5, &ts, 0), 0);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 1);
	KT_ASSERT_EQ(kevent_wait(q.fd, 8, 0, &ts, 0), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 1);
	/* nothing ready and a stale index: still at once, not after 60 s */
	t0 = kt_mono_ns();
	KT_EXPECT_EQ(kevent_wait(q.fd, 8, 0, &ts, 0), 0);
	KT_EXPECT_EQ(kevent_wait(q.fd, 8, 7, NULL, 0), 0);
	KT_EXPECT(kt_mono_ns() - t0 < 30000 * MS);
	/* with the fresh index it copies the next one */
	ready_users(q.fd, 1, 1);
	KT_EXPECT_EQ(kevent_wait(q.fd, 8, 1, &ts, 0), 1);
	KT_EXPECT_EQ(q.ring->event[1].id.raw_u64, 1);
}

/* A full ring is never overwritten: events wait in the kernel. */
TEST(full_ring_loses_nothing)
{
	struct ringq q;
	struct ukevent snap[8];
	int seen[20] = { 0 }, total = 0;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 20, 0);
	ready_users(q.fd, 0, 20);
	KT_ASSERT_EQ(ring_wait(&q, 20, 5000), 8);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
	KT_EXPECT_EQ(kevent_ring_over(q.ring), 1);
	memcpy(snap, q.ring->event, sizeof(snap));
	/*
	 * The reader has seen all 8 (its index is kidx, 0 again) but committed
	 * none: the ring is full, a wait times out and writes nothing.
	 */
	KT_EXPECT_EQ(ring_wait(&q, 20, 200), 0);
	KT_EXPECT(!memcmp(snap, q.ring->event, sizeof(snap)));
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
	KT_EXPECT_EQ(kevent_ring_over(q.ring), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 12);
	/* consume lap by lap */
	q.read = 0;
	for (;;) {
		unsigned long long written = ring_written(&q);

		for (; q.read < written; q.read++) {
			__u64 id = q.ring->event[idx_of(&q, q.read)].id.raw_u64;

			KT_ASSERT(id < 20);
			seen[id]++;
			total++;
		}
		KT_ASSERT(ring_commit_all(&q) >= 0);
		if (total >= 20)
			break;
		KT_ASSERT(ring_wait(&q, 20, 5000) > 0);
	}
	KT_EXPECT_EQ(total, 20);
	for (int i = 0; i < 20; i++)
		KT_EXPECT_EQ(seen[i], 1);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 0);
}

/* A waiter sleeping on a full ring is woken by a commit. */
TEST(commit_wakes_waiter)
{
	struct ringq q;
	struct kt_waiter w;

	ringq_open(&q, 4);
	add_users(q.fd, 0, 6, 0);
	ready_users(q.fd, 0, 6);
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 4);
	kt_waiter_init(&w, q.fd, KT_WAIT_RING);
	w.max_nr = 8;
	w.old_uidx = 0;		/* kidx wrapped to 0 */
	KT_ASSERT(kt_waiter_start_blocked(&w));
	q.read = 4;
	KT_EXPECT_EQ(ring_commit_all(&q), 4);
	KT_ASSERT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 2);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 2);
	KT_EXPECT_EQ(q.ring->event[0].id.raw_u64, 4);
	KT_EXPECT_EQ(q.ring->event[1].id.raw_u64, 5);
}

/* A waiter on an empty ring is woken by READY. */
TEST(ready_wakes_ring_waiter)
{
	struct ringq q;
	struct kt_waiter w;

	ringq_open(&q, 4);
	add_users(q.fd, 0, 1, 0);
	kt_waiter_init(&w, q.fd, KT_WAIT_RING);
	w.max_nr = 4;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	ready_users(q.fd, 0, 1);
	KT_ASSERT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 1);
	KT_EXPECT_EQ(q.ring->event[0].user_u64, 1000);
}

TEST(wait_args)
{
	struct ringq q;
	int p[2], noring = kt_queue();
	struct __kernel_timespec ts = kevent_ts(0, 0), bad = kevent_ts(0, 1000000000LL);
	void *none = kt_bad_page(PROT_NONE);

	ringq_open(&q, 8);
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	add_users(q.fd, 0, 1, 0);
	ready_users(q.fd, 0, 1);
	KT_EXPECT_ERRNO(kevent_wait(-1, 1, 0, &ts, 0), EBADF);
	KT_EXPECT_ERRNO(kevent_wait(p[0], 1, 0, &ts, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(noring, 1, 0, &ts, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 0, 0, &ts, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, KEVENT_MAX_BATCH + 1, 0, &ts, 0), E2BIG);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 0xffffffffu, 0, &ts, 0), E2BIG);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 1, 0, &ts, 2), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 1, 0, &ts, 0x80000000u), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 1, 0, &bad, 0), EINVAL);
	bad = kevent_ts(-1, 0);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 1, 0, &bad, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_wait(q.fd, 1, 0, none, 0), EFAULT);
	/* none of them copied anything */
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 1);
	KT_EXPECT_EQ(kevent_wait(q.fd, KEVENT_MAX_BATCH, 0, &ts, 0), 1);
}

TEST(wait_timeouts)
{
	struct ringq q;
	struct __kernel_timespec ts;
	long long t0, now, deadline;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 1, 0);
	t0 = kt_mono_ns();
	ts = kevent_ts_ms(250);
	KT_EXPECT_EQ(kevent_wait(q.fd, 1, 0, &ts, 0), 0);
	KT_EXPECT(kt_mono_ns() - t0 >= 250 * MS);
	/* absolute, future */
	deadline = kt_clock_ns(CLOCK_REALTIME) + 250 * MS;
	ts = kevent_ts(deadline / 1000000000LL, deadline % 1000000000LL);
	KT_EXPECT_EQ(kevent_wait(q.fd, 1, 0, &ts, KEVENT_FLAGS_ABSTIME), 0);
	now = kt_clock_ns(CLOCK_REALTIME);
	KT_EXPECT(now >= deadline);
	/* absolute, past: at once */
	ts = kevent_ts(1, 0);
	KT_EXPECT_EQ(kevent_wait(q.fd, 1, 0, &ts, KEVENT_FLAGS_ABSTIME), 0);
	ts = kevent_ts(0, 0);
	KT_EXPECT_EQ(kevent_wait(q.fd, 1, 0, &ts, 0), 0);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 0);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal++;
}

TEST(wait_eintr)
{
	struct ringq q;
	struct kt_waiter w;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	KT_ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	ringq_open(&q, 4);
	add_users(q.fd, 0, 1, 0);
	kt_waiter_init(&w, q.fd, KT_WAIT_RING);
	w.infinite = true;
	KT_ASSERT(kt_waiter_start_blocked(&w));
	KT_ASSERT_EQ(pthread_kill(w.th, SIGUSR1), 0);
	KT_ASSERT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, -1);
	KT_EXPECT_EQ(w.err, EINTR);
	KT_EXPECT_EQ(got_signal, 1);
	ready_users(q.fd, 0, 1);
	KT_EXPECT_EQ(ring_wait(&q, 4, 5000), 1);
}

/* ---- a ring that faults ---------------------------------------------- */

/* Unmapped after init: EFAULT, the event stays queued, and a new mapping
 * at the same place receives it. */
TEST(unmapped_ring_efault)
{
	struct ringq q;
	struct ukevent buf[4];
	size_t len = kevent_ring_bytes(8);
	void *again;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 2, 0);
	ready_users(q.fd, 0, 1);
	KT_ASSERT_OK(munmap(q.ring, len));
	KT_EXPECT_ERRNO(ring_wait(&q, 8, 1000), EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 1);
	again = mmap(q.ring, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	KT_ASSERT(again == (void *)q.ring);
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), 1);
	KT_EXPECT_EQ(q.ring->event[0].id.raw_u64, 0);
	KT_EXPECT_EQ(q.ring->event[0].user_u64, 1000);
	q.read = 1;
	/* and get_events still works on the queue */
	KT_ASSERT_OK(munmap(q.ring, len));
	ready_users(q.fd, 1, 1);
	KT_EXPECT_ERRNO(ring_wait(&q, 8, 1000), EFAULT);
	KT_ASSERT_EQ(kt_get_now(q.fd, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].id.raw_u64, 1);
}

/* Made read-only after init: EFAULT and nothing lost. */
TEST(readonly_ring_efault)
{
	struct ringq q;

	ringq_open(&q, 8);
	add_users(q.fd, 0, 3, 0);
	ready_users(q.fd, 0, 3);
	KT_ASSERT_OK(mprotect(q.ring, kevent_ring_bytes(8), PROT_READ));
	KT_EXPECT_ERRNO(ring_wait(&q, 8, 1000), EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 3);
	KT_ASSERT_OK(mprotect(q.ring, kevent_ring_bytes(8), PROT_READ | PROT_WRITE));
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 3);
	for (unsigned int i = 0; i < 3; i++)
		KT_EXPECT_EQ(q.ring->event[i].id.raw_u64, i);
}

/*
 * Entries writable, header not: the entries of a call are written but
 * cannot be published, so the call fails with EFAULT, the header and the
 * kernel's kidx stay where they were, and every event is delivered later,
 * in its order, into the same slots. The ring spans two pages and the
 * first 120 entries are consumed first, so the next ones land on the
 * second page while the first (with the header) is made read-only.
 */
TEST(unpublishable_entries_requeued_in_order)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int size = 2 * (unsigned int)page / sizeof(struct ukevent);
	unsigned int first = (unsigned int)page / sizeof(struct ukevent) + 20;
	struct ringq q;

	ringq_open(&q, size);
	add_users(q.fd, 0, first + 3, 0);
	ready_users(q.fd, 0, first);
	KT_ASSERT_EQ(ring_wait(&q, first, 5000), (int)first);
	q.read = first;
	KT_ASSERT_EQ(ring_commit_all(&q), (int)first);
	KT_ASSERT((char *)&q.ring->event[first] >= (char *)q.ring + page);
	ready_users(q.fd, first, 3);
	KT_ASSERT_OK(mprotect(q.ring, (size_t)page, PROT_READ));
	KT_EXPECT_ERRNO(ring_wait(&q, 8, 1000), EFAULT);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), first);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, "ring_kidx"), first);
	KT_EXPECT_EQ(kevent_fdinfo(q.fd, KFD_READY), 3);
	KT_ASSERT_OK(mprotect(q.ring, (size_t)page, PROT_READ | PROT_WRITE));
	KT_ASSERT_EQ(ring_wait(&q, 8, 5000), 3);
	KT_EXPECT_EQ(kevent_ring_kidx(q.ring), first + 3);
	for (unsigned int i = 0; i < 3; i++) {
		KT_EXPECT_EQ(q.ring->event[first + i].id.raw_u64, first + i);
		KT_EXPECT(q.ring->event[first + i].ret_flags & KEVENT_RET_COPY_FAILED);
	}
}

/*
 * The ring can be shared memory read by another process; only the creator's
 * address space fills it (a child's kevent_wait() is EPERM, docs/abi.md).
 */
TEST(ring_shared_with_child)
{
	struct kevent_ring *ring = mmap(NULL, kevent_ring_bytes(4), PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct __kernel_timespec ts = kevent_ts(0, 0);
	int fd, status, go[2];
	pid_t pid;
	char c;

	KT_ASSERT(ring != MAP_FAILED);
	KT_ASSERT_OK(pipe(go));
	fd = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	kt_add_user(fd, 0, 1000, 0);
	kt_ready_user(fd, 0, 1000, 0);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		/* the child may not fill the ring, but reads what the parent wrote */
		if (kevent_wait(fd, 4, 0, &ts, 0) != -1 || errno != EPERM)
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(kevent_ring_kidx(ring) == 1 && ring->event[0].user_u64 == 1000 ? 0 : 3);
	}
	KT_EXPECT_EQ(kevent_wait(fd, 4, 0, &ts, 0), 1);
	KT_ASSERT(write(go[1], "g", 1) == 1);
	KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	KT_EXPECT(WIFEXITED(status));
	KT_EXPECT_EQ(WEXITSTATUS(status), 0);
}
