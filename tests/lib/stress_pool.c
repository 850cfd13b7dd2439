// SPDX-License-Identifier: GPL-2.0
/*
 * stress_pool.c - the consumer pool of the stress suites; see stress_pool.h.
 */
#include "stress_pool.h"

#define SENTINEL	0xdeadbeefu
#define ROOM_LIMIT	1024

long kst_fail_logged;

long long elapsed_ms(long long t0)
{
	return (kt_mono_ns() - t0) / MS;
}

long probe_room(void)
{
	long room = kst_probe_room(ROOM_LIMIT);

	if (room == -2)
		kt_log("not root: per-user room not checked");
	return room;
}

void check_room(long before)
{
	long after;

	if (before < 0)
		return;
	after = kst_probe_room(ROOM_LIMIT);
	kt_log("per-user room under max_user_kevents=%d: %ld before, %ld after",
	       ROOM_LIMIT, before, after);
	KT_EXPECT_EQ(after, before);
}

static void pool_record(struct pool *p, int qi, const struct ukevent *e)
{
	__atomic_add_fetch(&p->q[qi].seen, 1, __ATOMIC_RELAXED);
	p->rec(p, qi, e);
}

/*
 * Absolute position the kernel has written: ring_over * size + ring_kidx,
 * read as one 8-byte word (the kernel publishes both in one store). A
 * position outside [committed, committed + size] is impossible: re-read a
 * few times (a torn read), then report the kernel overwrote the ring.
 */
static unsigned long long ring_written(struct ringstate *rs)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t h = __atomic_load_n((uint64_t *)rs->ring, __ATOMIC_ACQUIRE);
		unsigned int kidx = (uint32_t)h, over = (uint32_t)(h >> 32);
		unsigned long long w = (unsigned long long)over * rs->size + kidx;

		if (kidx < rs->size && w >= rs->committed && w <= rs->committed + rs->size)
			return w;
		sched_yield();
	}
	SFAIL("ring header kidx %u over %u outside [committed %llu, +%u]",
	      kevent_ring_kidx(rs->ring), kevent_ring_over(rs->ring), rs->committed, rs->size);
	return rs->committed;
}

/* Record what the kernel wrote since we last looked, and commit it. mu held. */
static void ring_process(struct pool *p, int qi)
{
	struct ringstate *rs = &p->q[qi].rs;
	unsigned long long w = ring_written(rs);
	long want;
	int r;

	for (; rs->read < w; rs->read++) {
		struct ukevent e;

		memcpy(&e, &rs->ring->event[rs->read % rs->size], sizeof(e));
		pool_record(p, qi, &e);
	}
	if (rs->read == rs->committed)
		return;
	want = (long)(rs->read - rs->committed);
	r = kevent_commit(p->q[qi].fd, (unsigned int)(rs->read % rs->size),
			  (unsigned int)(rs->read / rs->size));
	if (r != want)
		SFAIL("kevent_commit(idx %llu, over %llu) = %d (errno %d), expected %ld",
		      rs->read % rs->size, rs->read / rs->size, r, errno, want);
	rs->committed = rs->read;
}

/* Entries the kernel wrote to a get_events buffer: those not the sentinel. */
static int harvest(struct consumer *c)
{
	int n = 0;

	for (unsigned int i = 0; i < c->max; i++) {
		if (c->buf[i].type == SENTINEL)
			continue;
		if (i != (unsigned int)n)
			SFAIL("get_events wrote entry %u after a hole", i);
		pool_record(c->p, c->qi, &c->buf[i]);
		c->buf[i].type = SENTINEL;
		n++;
	}
	return n;
}

static void harvest_cleanup(void *arg)
{
	struct consumer *c = arg;
	int n = harvest(c);

	__atomic_add_fetch(&c->p->cancelled_in_get, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->p->rescued, n, __ATOMIC_RELAXED);
}

/*
 * The window in which a consumer can be cancelled: around its system call
 * alone, with asynchronous cancellation. Entering it acts on a cancellation
 * requested while the thread was outside (glibc sends no signal then: the
 * request waits for a cancellation point). Leaving it, the type goes back
 * to deferred before the state is disabled, so that a SIGCANCEL delivered
 * late can never act while the thread holds a lock.
 */
static inline void window_open(void)
{
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	pthread_testcancel();
}

static inline void window_close(void)
{
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
}

/*
 * The get_events consumer's window. A cancellation runs harvest_cleanup(),
 * which records what the kernel wrote.
 */
static __attribute__((noinline)) int get_cancellable(struct consumer *c, unsigned int min,
						     const struct __kernel_timespec *ts, int *err)
{
	volatile int r;

	pthread_cleanup_push(harvest_cleanup, c);
	window_open();
	r = kevent_get_events(c->p->q[c->qi].fd, min, c->max, ts, c->buf, 0);
	*err = errno;
	window_close();
	pthread_cleanup_pop(0);
	return r;
}

static void get_round(struct consumer *c)
{
	unsigned int max = 1 + kst_below(&c->rng, 8);
	unsigned int min = kst_chance(&c->rng, 10) ? 0 : 1 + kst_below(&c->rng, 2);
	struct __kernel_timespec ts = kevent_ts_ms(10 + kst_below(&c->rng, 60));
	int r, e = 0, n;

	if (min > max)
		min = max;
	for (unsigned int i = 0; i < max; i++)
		c->buf[i].type = SENTINEL;
	c->max = max;
	r = get_cancellable(c, min, &ts, &e);
	n = harvest(c);
	if (r < 0 && e != EINTR)
		SFAIL("kevent_get_events(min %u, max %u): %s", min, max, strerror(e));
	else if (r >= 0 && r != n)
		SFAIL("kevent_get_events returned %d but wrote %d entries", r, n);
	else if (r < 0 && n)
		SFAIL("kevent_get_events failed with EINTR but wrote %d entries", n);
}

static void ring_round(struct consumer *c)
{
	struct pq *q = &c->p->q[c->qi];
	unsigned int num = 1 + kst_below(&c->rng, 4), idx;
	struct __kernel_timespec ts = kevent_ts_ms(10 + kst_below(&c->rng, 60));
	int r, e;

	pthread_mutex_lock(&q->rs.mu);
	ring_process(c->p, c->qi);
	idx = (unsigned int)(q->rs.read % q->rs.size);
	pthread_mutex_unlock(&q->rs.mu);
	window_open();
	r = kevent_wait(q->fd, num, idx, &ts, 0);
	e = errno;
	window_close();
	if (r < 0 && e != EINTR)
		SFAIL("kevent_wait(num %u, old_uidx %u): %s", num, idx, strerror(e));
}

static void *consumer_fn(void *arg)
{
	struct consumer *c = arg;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	__atomic_store_n(&c->tid, kt_gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&c->p->stop, __ATOMIC_ACQUIRE)) {
		if (c->kind == C_RING)
			ring_round(c);
		else
			get_round(c);
		__atomic_add_fetch(&c->p->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void consumer_start(struct consumer *c)
{
	int e;

	c->tid = 0;
	e = pthread_create(&c->th, NULL, consumer_fn, c);

	if (e) {
		kt_fail_at(__FILE__, __LINE__, "pthread_create: %s", strerror(e));
		kt_end_test();
	}
	c->running = true;
}

/* Add a consumer of kind on queue qi. */
void pool_add_consumer(struct pool *p, int qi, int kind, uint64_t seed)
{
	struct consumer *c = &p->c[p->ncons];

	KT_ASSERT(p->ncons < MAX_CONS);
	memset(c, 0, sizeof(*c));
	c->p = p;
	c->qi = qi;
	c->kind = kind;
	c->idx = p->ncons++;
	kst_rng_seed(&c->rng, seed * 131 + (uint64_t)c->idx);
	consumer_start(c);
}

/* Queue qi: a ring of ring_size entries (0: none) or /dev/kevent. */
void pool_open_queue(struct pool *p, int qi, unsigned int ring_size, bool dev)
{
	struct pq *q = &p->q[qi];

	memset(q, 0, sizeof(*q));
	if (dev) {
		q->fd = open("/dev/kevent", O_RDWR | O_CLOEXEC);
	} else if (ring_size) {
		q->rs.ring = kevent_ring_alloc(ring_size);
		KT_ASSERT(q->rs.ring);
		q->rs.size = ring_size;
		q->has_ring = true;
		q->fd = kevent_init(q->rs.ring, ring_size, 0);
	} else {
		q->fd = kevent_init(NULL, 0, 0);
	}
	if (q->fd < 0) {
		kt_fail_at(__FILE__, __LINE__, "queue %d: %s", qi, strerror(errno));
		kt_end_test();
	}
	pthread_mutex_init(&q->rs.mu, NULL);
	if (qi >= p->nq)
		p->nq = qi + 1;
}

/* Where a thread that does not end is: state, system call, wait channel. */
static void dump_thread(const char *what, pid_t tid)
{
	char wchan[64] = "?", sc[128] = "?";

	kt_read_task_file(tid, "wchan", wchan, sizeof(wchan));
	kt_read_task_file(tid, "syscall", sc, sizeof(sc));
	sc[strcspn(sc, "\n")] = '\0';
	kt_log("%s: tid %d state %c wchan %s syscall %s (kevent_wait %d, kevent_get_events %d, kevent_commit %d)",
	       what, (int)tid, kt_thread_state(tid), wchan, sc, __NR_kevent_wait,
	       __NR_kevent_get_events, __NR_kevent_commit);
}

static void pool_dump(struct pool *p)
{
	struct kst_fdinfo fi;

	for (int i = 0; i < p->ncons; i++)
		if (p->c[i].running)
			dump_thread(p->c[i].kind == C_RING ? "ring consumer" : "get consumer",
				    p->c[i].tid);
	for (int qi = 0; qi < p->nq; qi++)
		if (!kst_fdinfo_read(p->q[qi].fd, &fi, NULL, 0))
			kt_log("queue %d: registered %lld ready %lld waiters %lld ring kidx %lld uidx %lld free %lld; consumers read %llu committed %llu",
			       qi, fi.registered, fi.ready, fi.waiters, fi.ring_kidx, fi.ring_uidx,
			       fi.ring_free, p->q[qi].rs.read, p->q[qi].rs.committed);
}

/* Cancel consumer i (wherever it is) and start a fresh one in its place. */
void pool_cancel_one(struct pool *p, int i)
{
	struct consumer *c = &p->c[i];
	void *ret = NULL;

	if (!c->running)
		return;
	pthread_cancel(c->th);
	if (!kt_join(c->th, &ret, KT_SOON_MS)) {
		kt_fail_at(__FILE__, __LINE__, "cancelled consumer %d did not end", i);
		pool_dump(p);
		kt_msleep(2000);
		kt_log("2 s later:");
		pool_dump(p);
		kt_end_test();
	}
	if (ret == PTHREAD_CANCELED)
		p->cancels++;
	c->running = false;
	consumer_start(c);
}

/* Stop all consumers: flag, wake them with READY num == 0, join. */
void pool_stop(struct pool *p)
{
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	for (int qi = 0; qi < p->nq; qi++)
		if (kevent_ctl(p->q[qi].fd, KEVENT_CTL_READY, 0, NULL))
			SFAIL("READY with num 0: %s", strerror(errno));
	for (int i = 0; i < p->ncons; i++) {
		if (!p->c[i].running)
			continue;
		if (!kt_join(p->c[i].th, NULL, KT_SOON_MS)) {
			kt_fail_at(__FILE__, __LINE__, "consumer %d did not stop", i);
			pool_dump(p);
			kt_end_test();
		}
		p->c[i].running = false;
	}
}

/* With every consumer stopped: take whatever is still ready or in a ring. */
void pool_final_drain(struct pool *p)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct ukevent buf[64];
	int r;

	for (int qi = 0; qi < p->nq; qi++) {
		struct pq *q = &p->q[qi];

		if (q->has_ring) {
			pthread_mutex_lock(&q->rs.mu);
			ring_process(p, qi);
			for (int guard = 0; guard < 100000; guard++) {
				r = kevent_wait(q->fd, q->rs.size,
						(unsigned int)(q->rs.read % q->rs.size), &zero, 0);
				if (r < 0)
					SFAIL("final kevent_wait: %s", strerror(errno));
				if (r <= 0)
					break;
				ring_process(p, qi);
			}
			pthread_mutex_unlock(&q->rs.mu);
		}
		for (int guard = 0; guard < 100000; guard++) {
			r = kevent_get_events(q->fd, 0, 64, &zero, buf, 0);
			if (r < 0)
				SFAIL("final kevent_get_events: %s", strerror(errno));
			if (r <= 0)
				break;
			for (int i = 0; i < r; i++)
				pool_record(p, qi, &buf[i]);
		}
	}
}

/* Wait (bounded) until no queue of the pool has a ready kevent. */
bool pool_wait_quiet(struct pool *p, long cap_ms)
{
	long long t0 = kt_mono_ns();

	while (elapsed_ms(t0) < cap_ms) {
		bool quiet = true;

		for (int qi = 0; qi < p->nq; qi++)
			if (kevent_fdinfo(p->q[qi].fd, KFD_READY) != 0)
				quiet = false;
		if (quiet)
			return true;
		kt_msleep(5);
	}
	return false;
}

/* fdinfo after the drain: counters agree with each other and with us. */
void pool_check_fdinfo(struct pool *p, int qi, long long want_registered)
{
	struct kst_fdinfo fi;

	if (!kst_check_fdinfo(p->q[qi].fd, &fi))
		return;
	kt_log("queue %d: registered %lld added %lld removed %lld marked %lld delivered %lld wakeups %lld",
	       qi, fi.registered, fi.added, fi.removed, fi.marked, fi.delivered, fi.wakeups);
	KT_EXPECT_EQ(fi.ready, 0);
	KT_EXPECT_EQ(fi.waiters, 0);
	if (want_registered >= 0)
		KT_EXPECT_EQ(fi.registered, want_registered);
	KT_EXPECT_EQ(fi.delivered, p->q[qi].seen);
	if (p->q[qi].has_ring) {
		KT_EXPECT_EQ(fi.ring_free, p->q[qi].rs.size);
		KT_EXPECT_EQ(fi.ring_kidx, (long long)(p->q[qi].rs.read % p->q[qi].rs.size));
		KT_EXPECT_EQ(fi.ring_uidx, fi.ring_kidx);
	}
}

void *watcher_fn(void *arg)
{
	struct watcher *w = arg;
	struct kst_fdinfo fi;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		for (int qi = 0; qi < w->p->nq; qi++) {
			if (kst_fdinfo_read(w->p->q[qi].fd, &fi, NULL, 0)) {
				SFAIL("fdinfo of queue %d: %s", qi, strerror(errno));
				continue;
			}
			if (fi.registered != fi.added - fi.removed || fi.nlines != fi.registered ||
			    fi.ready > fi.registered)
				SFAIL("queue %d snapshot: registered %lld added %lld removed %lld lines %d ready %lld",
				      qi, fi.registered, fi.added, fi.removed, fi.nlines, fi.ready);
			w->snaps++;
		}
		kt_msleep(3);
	}
	return NULL;
}
