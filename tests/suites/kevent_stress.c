// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_stress - concurrency and lifetime stress, with exact accounting.
 *
 * Every test runs a bounded storm (a count of operations, cut short by a
 * generous time cap that only limits the amount of work, never decides
 * pass/fail), then quiesces, drains, and proves from the test's own ledger
 * and from the queues' fdinfo counters that
 *   - no event was lost or duplicated: a ONESHOT kevent readied at least
 *     once is delivered exactly once; for a level kevent that is still
 *     registered the deliveries' ret_data[1] add up to exactly the number
 *     of READYs the kernel accepted (coalescing loses no count);
 *   - an event reaches only its own queue, with its own id and user data;
 *   - fdinfo: registered == added - removed == the kevents the ledger says
 *     exist, ready == 0 after draining, delivered == deliveries seen;
 *   - no kevent is left charged to the user: the room under
 *     max_user_kevents measured at the end equals the room at the start.
 *
 * Consumers use kevent_get_events() and small rings (kevent_wait() +
 * kevent_commit()); they are cancelled (pthread_cancel, asynchronous, only
 * inside the system call) and replaced while they wait. A cancelled
 * get_events consumer's buffer is harvested by its cleanup handler (the
 * buffer is pre-filled with a sentinel, so exactly the entries the kernel
 * wrote are counted); a cancelled ring consumer leaves its events in the
 * ring, where the next consumer finds them.
 */
#include "kevent_stress_util.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#define MS		1000000LL
#define SENTINEL	0xdeadbeefu
#define ROOM_LIMIT	1024
#define MAX_FAIL_LOG	20

/* Time caps of the storm phases (work bounds, not pass/fail criteria). */
#define STORM_CAP_MS	12000
#define DRAIN_CAP_MS	60000

static long fail_logged;

/* Report a failure from any thread, at most MAX_FAIL_LOG lines per test. */
#define SFAIL(...)							\
	do {								\
		if (__atomic_add_fetch(&fail_logged, 1, __ATOMIC_RELAXED) <= MAX_FAIL_LOG) \
			kt_fail_at(__FILE__, __LINE__, __VA_ARGS__);	\
		else							\
			kt_fail_at(__FILE__, __LINE__, "(more failures)"); \
	} while (0)

static long long elapsed_ms(long long t0)
{
	return (kt_mono_ns() - t0) / MS;
}

static long probe_room(void)
{
	long room = kst_probe_room(ROOM_LIMIT);

	if (room == -2)
		kt_log("not root: per-user room not checked");
	return room;
}

static void check_room(long before)
{
	long after;

	if (before < 0)
		return;
	after = kst_probe_room(ROOM_LIMIT);
	kt_log("per-user room under max_user_kevents=%d: %ld before, %ld after",
	       ROOM_LIMIT, before, after);
	KT_EXPECT_EQ(after, before);
}

/* ======================================================================
 * A pool of consumers over up to 4 queues, some with a ring.
 * ====================================================================== */

struct ringstate {
	struct kevent_ring *ring;
	unsigned int size;
	pthread_mutex_t mu;
	unsigned long long read, committed;	/* absolute positions */
};

struct pool;
typedef void (*record_fn)(struct pool *p, int qi, const struct ukevent *e);

struct pq {
	int fd;
	bool has_ring;
	struct ringstate rs;
	long long seen;		/* deliveries recorded */
};

enum { C_GET, C_RING };

struct consumer {
	struct pool *p;
	int qi, kind, idx;
	pthread_t th;
	pid_t tid;
	bool running;
	struct kst_rng rng;
	unsigned int max;
	struct ukevent buf[8];
};

#define MAX_CONS 12

struct pool {
	int nq;
	struct pq q[4];
	record_fn rec;
	void *ctx;
	int stop;
	int ncons;
	struct consumer c[MAX_CONS];
	long cancels, rounds;
	long cancelled_in_get, rescued;	/* cleanup handler runs, events it saved */
};

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
static void pool_add_consumer(struct pool *p, int qi, int kind, uint64_t seed)
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
static void pool_open_queue(struct pool *p, int qi, unsigned int ring_size, bool dev)
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
static void pool_cancel_one(struct pool *p, int i)
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
static void pool_stop(struct pool *p)
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
static void pool_final_drain(struct pool *p)
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
static bool pool_wait_quiet(struct pool *p, long cap_ms)
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
static void pool_check_fdinfo(struct pool *p, int qi, long long want_registered)
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

/* Background fdinfo reader: every snapshot must be self-consistent. */
struct watcher {
	struct pool *p;
	int stop;
	long snaps;
	pthread_t th;
};

static void *watcher_fn(void *arg)
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

/* ======================================================================
 * user_storm: USER kevents added, modified, removed and readied by many
 * threads at once on three queues, consumed by cancelled-and-replaced
 * get_events and ring consumers.
 * ====================================================================== */

#define U_NQ		3
#define U_SLOTS		48
#define U_MUT		3
#define U_RDY		3
#define U_MUT_OPS	25000
#define U_RDY_OPS	25000
#define MAX_INST	(1 << 16)
#define U_MAGIC		0x5eedULL

struct inst {
	uint32_t slot;
	uint8_t qi, oneshot, created;
	int removed;		/* the owner's REMOVE succeeded */
	int vanished;		/* the owner's REMOVE/MODIFY found it gone */
	long accepted;		/* READYs the kernel accepted */
	long delivered;
	long fired;		/* sum of ret_data[1] of the deliveries */
};

struct ustorm {
	struct pool pool;
	struct inst *inst;
	uint32_t ninst;
	uint32_t slot[U_NQ][U_SLOTS];	/* current instance, 0 = none */
	int stop;
	long long t0;
	long adds, removes, modifies, readies, accepted, kicks;
};

static __u64 u_user(uint32_t inst)
{
	return U_MAGIC << 48 | inst;
}

static void u_record(struct pool *p, int qi, const struct ukevent *e)
{
	struct ustorm *s = p->ctx;
	uint32_t i = (uint32_t)e->user_u64;
	struct inst *in;
	long d;

	if (e->type != KEVENT_USER || e->user_u64 >> 48 != U_MAGIC || !i ||
	    i >= __atomic_load_n(&s->ninst, __ATOMIC_ACQUIRE)) {
		SFAIL("queue %d delivered a foreign event: type %u id %#llx user %#llx", qi,
		      e->type, (unsigned long long)e->id.raw_u64, (unsigned long long)e->user_u64);
		return;
	}
	in = &s->inst[i];
	if (in->qi != qi || e->id.raw_u64 != in->slot)
		SFAIL("instance %u (queue %u slot %u) delivered on queue %d with id %llu", i,
		      in->qi, in->slot, qi, (unsigned long long)e->id.raw_u64);
	if ((e->ret_flags & (KEVENT_RET_DONE | KEVENT_RET_BROKEN)) != KEVENT_RET_DONE)
		SFAIL("instance %u delivered with ret_flags %#x", i, e->ret_flags);
	if (e->ret_data[1] == 0)
		SFAIL("instance %u delivered with ret_data[1] == 0", i);
	if (e->ret_data[0] >> 16 != (i & 0xffff))
		SFAIL("instance %u delivered with the mask %#x of another", i, e->ret_data[0]);
	d = __atomic_add_fetch(&in->delivered, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&in->fired, e->ret_data[1], __ATOMIC_RELAXED);
	if (in->oneshot && d > 1)
		SFAIL("ONESHOT instance %u delivered %ld times", i, d);
}

static uint32_t u_new_inst(struct ustorm *s, int qi, uint32_t slot, bool oneshot)
{
	/* the counter is the id; the consumers accept ids below it */
	uint32_t i = __atomic_fetch_add(&s->ninst, 1, __ATOMIC_ACQ_REL);
	if (i >= MAX_INST)
		return 0;
	s->inst[i].slot = slot;
	s->inst[i].qi = (uint8_t)qi;
	s->inst[i].oneshot = oneshot;
	s->inst[i].created = 1;
	return i;
}

struct uthread {
	struct ustorm *s;
	int idx;
	pthread_t th;
	struct kst_rng rng;
};

/* The owner of slot % U_MUT == idx in every queue: ADD, MODIFY, REMOVE. */
static void *u_mutator(void *arg)
{
	struct uthread *t = arg;
	struct ustorm *s = t->s;

	for (int op = 0; op < U_MUT_OPS && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); op++) {
		int qi = (int)kst_below(&t->rng, U_NQ);
		uint32_t slot = (uint32_t)(kst_below(&t->rng, U_SLOTS / U_MUT) * U_MUT + t->idx);
		uint32_t cur = __atomic_load_n(&s->slot[qi][slot], __ATOMIC_ACQUIRE);
		int fd = s->pool.q[qi].fd, r;
		struct ukevent uk;

		if (!cur) {
			bool oneshot = kst_chance(&t->rng, 50);
			uint32_t i = u_new_inst(s, qi, slot, oneshot);

			if (!i)
				break;
			uk = ukevent_user(slot, u_user(i));
			uk.req_flags = (oneshot ? KEVENT_REQ_ONESHOT : 0) |
				       (kst_chance(&t->rng, 25) ? KEVENT_REQ_ET : 0) |
				       (kst_chance(&t->rng, 25) ? KEVENT_REQ_WAKEUP_ONE : 0);
			r = kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk);
			if (r != 0) {
				SFAIL("ADD slot %u inst %u: ret %d errno %d flags %#x data %u", slot, i,
				      r, errno, uk.ret_flags, uk.ret_data[0]);
				continue;
			}
			__atomic_store_n(&s->slot[qi][slot], i, __ATOMIC_RELEASE);
			__atomic_add_fetch(&s->adds, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (kst_chance(&t->rng, 25)) {
			uk = ukevent_user(slot, u_user(cur));
			r = kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk);
			if (r == 1) {
				s->inst[cur].removed = 1;
			} else if (r == 0 && uk.ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
				   uk.ret_data[0] == ENOENT) {
				s->inst[cur].vanished = 1;
			} else {
				SFAIL("REMOVE inst %u: ret %d errno %d flags %#x data %u", cur, r, errno,
				      uk.ret_flags, uk.ret_data[0]);
			}
			__atomic_store_n(&s->slot[qi][slot], 0, __ATOMIC_RELEASE);
			__atomic_add_fetch(&s->removes, 1, __ATOMIC_RELAXED);
		} else if (kst_chance(&t->rng, 40)) {
			uk = ukevent_user(slot, u_user(cur));
			uk.event = (uint32_t)kst_rand64(&t->rng);
			uk.req_flags = (s->inst[cur].oneshot ? KEVENT_REQ_ONESHOT : 0) |
				       (kst_chance(&t->rng, 50) ? KEVENT_REQ_ET : 0) |
				       (kst_chance(&t->rng, 50) ? KEVENT_REQ_WAKEUP_ONE : 0);
			r = kevent_ctl(fd, KEVENT_CTL_MODIFY, 1, &uk);
			if (r == 0 && uk.ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
			    uk.ret_data[0] == ENOENT) {
				s->inst[cur].vanished = 1;
				__atomic_store_n(&s->slot[qi][slot], 0, __ATOMIC_RELEASE);
			} else if (r != 1 || uk.ret_flags != KEVENT_RET_DONE) {
				SFAIL("MODIFY inst %u: ret %d errno %d flags %#x data %u", cur, r, errno,
				      uk.ret_flags, uk.ret_data[0]);
			}
			__atomic_add_fetch(&s->modifies, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* READY batches on whatever instances the slots hold right now. */
static void *u_readier(void *arg)
{
	struct uthread *t = arg;
	struct ustorm *s = t->s;
	struct ukevent arr[8];
	uint32_t who[8];

	for (int op = 0; op < U_RDY_OPS && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); op++) {
		int qi = (int)kst_below(&t->rng, U_NQ), n = 0, ok = 0, r;
		unsigned int want = 1 + kst_below(&t->rng, 8);

		if (kst_chance(&t->rng, 1)) {
			/* wake every waiter: they must cope with returning 0 */
			if (kevent_ctl(s->pool.q[qi].fd, KEVENT_CTL_READY, 0, NULL))
				SFAIL("READY num 0: %s", strerror(errno));
			__atomic_add_fetch(&s->kicks, 1, __ATOMIC_RELAXED);
			continue;
		}
		for (unsigned int k = 0; k < want; k++) {
			uint32_t slot = kst_below(&t->rng, U_SLOTS);
			uint32_t cur = __atomic_load_n(&s->slot[qi][slot], __ATOMIC_ACQUIRE);

			if (!cur)
				continue;
			arr[n] = ukevent_user(slot, u_user(cur));
			arr[n].event = (cur & 0xffff) << 16 | (uint32_t)kst_below(&t->rng, 0x10000);
			who[n++] = cur;
		}
		if (!n) {
			sched_yield();
			continue;
		}
		r = kevent_ctl(s->pool.q[qi].fd, KEVENT_CTL_READY, (unsigned int)n, arr);
		for (int k = 0; k < n; k++) {
			if (arr[k].ret_flags == KEVENT_RET_DONE) {
				__atomic_add_fetch(&s->inst[who[k]].accepted, 1, __ATOMIC_RELAXED);
				ok++;
			} else if (arr[k].ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) ||
				   arr[k].ret_data[0] != ENOENT) {
				SFAIL("READY entry of inst %u: flags %#x data %u", who[k],
				      arr[k].ret_flags, arr[k].ret_data[0]);
			}
		}
		if (r != ok)
			SFAIL("READY of %d returned %d (errno %d), %d entries succeeded", n, r,
			      errno, ok);
		__atomic_add_fetch(&s->readies, n, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->accepted, ok, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The ledger after the drain: exact per-instance accounting. */
static long long u_check_ledger(struct ustorm *s, int qi)
{
	long long registered = 0;
	long bad = 0;

	for (uint32_t i = 1; i < s->ninst && i < MAX_INST; i++) {
		struct inst *in = &s->inst[i];
		bool in_slot = s->slot[in->qi][in->slot] == i;

		if (in->qi != qi || !in->created)
			continue;
		if (in->oneshot) {
			if (in->vanished && in->delivered != 1) {
				SFAIL("ONESHOT inst %u vanished without delivery (delivered %ld)", i,
				      in->delivered);
				bad++;
			}
			if (in->delivered > 1 || in->fired > in->accepted) {
				SFAIL("ONESHOT inst %u: delivered %ld fired %ld accepted %ld", i,
				      in->delivered, in->fired, in->accepted);
				bad++;
			}
			if (in_slot && in->accepted && in->delivered != 1) {
				SFAIL("ONESHOT inst %u readied %ld times, delivered %ld", i,
				      in->accepted, in->delivered);
				bad++;
			}
			if (in_slot && !in->accepted && in->delivered) {
				SFAIL("ONESHOT inst %u delivered but never readied", i);
				bad++;
			}
			if (in_slot && !in->delivered)
				registered++;
		} else {
			if (in->vanished) {
				SFAIL("level inst %u vanished: REMOVE/MODIFY found no kevent", i);
				bad++;
			}
			if (in->fired > in->accepted || in->delivered > in->accepted) {
				SFAIL("level inst %u: delivered %ld fired %ld > accepted %ld", i,
				      in->delivered, in->fired, in->accepted);
				bad++;
			}
			if (in_slot && in->fired != in->accepted) {
				SFAIL("level inst %u: %ld READYs accepted, ret_data[1] sums to %ld (%ld deliveries)",
				      i, in->accepted, in->fired, in->delivered);
				bad++;
			}
			if (in_slot)
				registered++;
		}
	}
	if (bad)
		kt_log("queue %d: %ld instances with accounting errors", qi, bad);
	return registered;
}

TEST_TIMEOUT(user_storm, 240)
{
	static struct inst insts[MAX_INST];
	static struct ustorm s;
	struct uthread mut[U_MUT], rdy[U_RDY];
	struct watcher w = { 0 };
	long room;
	long long t0, last_cancel = 0;
	struct kst_rng rng;
	int ncancel = 0;

	room = probe_room();
	memset(&s, 0, sizeof(s));
	memset(insts, 0, sizeof(insts));
	s.inst = insts;
	s.ninst = 1;
	s.pool.rec = u_record;
	s.pool.ctx = &s;
	kst_rng_seed(&rng, 1);
	pool_open_queue(&s.pool, 0, 0, false);	/* plain */
	pool_open_queue(&s.pool, 1, 4, false);	/* small ring */
	pool_open_queue(&s.pool, 2, 0, true);	/* /dev/kevent */
	pool_add_consumer(&s.pool, 0, C_GET, 1);
	pool_add_consumer(&s.pool, 0, C_GET, 2);
	pool_add_consumer(&s.pool, 1, C_RING, 3);
	pool_add_consumer(&s.pool, 1, C_RING, 4);
	pool_add_consumer(&s.pool, 1, C_GET, 5);
	pool_add_consumer(&s.pool, 2, C_GET, 6);
	w.p = &s.pool;
	KT_ASSERT(!pthread_create(&w.th, NULL, watcher_fn, &w));

	t0 = kt_mono_ns();
	for (int i = 0; i < U_MUT; i++) {
		mut[i] = (struct uthread){ .s = &s, .idx = i };
		kst_rng_seed(&mut[i].rng, 100 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&mut[i].th, NULL, u_mutator, &mut[i]));
	}
	for (int i = 0; i < U_RDY; i++) {
		rdy[i] = (struct uthread){ .s = &s, .idx = i };
		kst_rng_seed(&rdy[i].rng, 200 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&rdy[i].th, NULL, u_readier, &rdy[i]));
	}
	/* the main thread cancels consumers mid-wait until the work is done */
	for (int left = U_MUT + U_RDY; left;) {
		for (int i = 0; i < U_MUT + U_RDY; i++) {
			struct uthread *t = i < U_MUT ? &mut[i] : &rdy[i - U_MUT];

			if (t->idx >= 0 && pthread_tryjoin_np(t->th, NULL) == 0) {
				t->idx = -1;	/* joined */
				left--;
			}
		}
		if (elapsed_ms(t0) > STORM_CAP_MS)
			__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
		if (elapsed_ms(t0) - last_cancel >= 15) {
			pool_cancel_one(&s.pool, (int)kst_below(&rng, (uint32_t)s.pool.ncons));
			ncancel++;
			last_cancel = elapsed_ms(t0);
		}
		kt_msleep(2);
	}
	kt_log("storm: %lld ms, %u instances, %ld adds %ld removes %ld modifies, %ld READY entries (%ld accepted), %ld kicks",
	       elapsed_ms(t0), s.ninst - 1, s.adds, s.removes, s.modifies, s.readies, s.accepted,
	       s.kicks);
	/* let the consumers drain what was readied, then stop them */
	if (!pool_wait_quiet(&s.pool, DRAIN_CAP_MS))
		kt_fail_at(__FILE__, __LINE__, "queues still have ready kevents after %d ms",
			   DRAIN_CAP_MS);
	pool_stop(&s.pool);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(w.th, NULL);
	pool_final_drain(&s.pool);
	kt_log("consumers: %ld rounds, %d cancel requests, %ld ended cancelled (%ld inside kevent_get_events, %ld events saved from their buffers); %ld fdinfo snapshots",
	       s.pool.rounds, ncancel, s.pool.cancels, s.pool.cancelled_in_get, s.pool.rescued,
	       w.snaps);
	for (int qi = 0; qi < U_NQ; qi++)
		pool_check_fdinfo(&s.pool, qi, u_check_ledger(&s, qi));
	for (int qi = 0; qi < U_NQ; qi++)
		close(s.pool.q[qi].fd);
	check_room(room);
}

/* ======================================================================
 * cancel_storm: one producer readies N ONESHOT kevents exactly once each;
 * ring and get_events consumers are cancelled at a high rate; every event
 * must arrive exactly once.
 * ====================================================================== */

#define C_N 12000

struct cstorm {
	struct pool pool;
	int count[2][C_N];
};

static void c_record(struct pool *p, int qi, const struct ukevent *e)
{
	struct cstorm *s = p->ctx;
	__u64 id = e->id.raw_u64;

	if (e->type != KEVENT_USER || id >= C_N || e->user_u64 != id * 3 + (__u64)qi ||
	    e->ret_data[1] != 1 || e->ret_data[0] != (__u32)id) {
		SFAIL("queue %d: unexpected event id %llu user %llu data %u/%u", qi,
		      (unsigned long long)id, (unsigned long long)e->user_u64, e->ret_data[0],
		      e->ret_data[1]);
		return;
	}
	__atomic_add_fetch(&s->count[qi][id], 1, __ATOMIC_RELAXED);
}

TEST_TIMEOUT(cancel_storm, 240)
{
	static struct cstorm s;
	static struct ukevent arr[C_N];
	struct kst_rng rng;
	long room, lost = 0, dup = 0;
	long long t0;
	int sent = 0;

	room = probe_room();
	memset(&s, 0, sizeof(s));
	s.pool.rec = c_record;
	s.pool.ctx = &s;
	kst_rng_seed(&rng, 7);
	pool_open_queue(&s.pool, 0, 8, false);
	pool_open_queue(&s.pool, 1, 0, false);
	for (int qi = 0; qi < 2; qi++) {
		for (int i = 0; i < C_N; i++) {
			arr[i] = ukevent_user((__u64)i, (__u64)i * 3 + (__u64)qi);
			arr[i].req_flags = KEVENT_REQ_ONESHOT;
		}
		for (int i = 0; i < C_N; i += KEVENT_MAX_BATCH) {
			int n = C_N - i < KEVENT_MAX_BATCH ? C_N - i : KEVENT_MAX_BATCH;

			KT_ASSERT_EQ(kevent_ctl(s.pool.q[qi].fd, KEVENT_CTL_ADD, (unsigned int)n,
						arr + i), 0);
		}
	}
	pool_add_consumer(&s.pool, 0, C_RING, 11);
	pool_add_consumer(&s.pool, 0, C_RING, 12);
	pool_add_consumer(&s.pool, 0, C_RING, 13);
	pool_add_consumer(&s.pool, 0, C_GET, 14);
	pool_add_consumer(&s.pool, 1, C_GET, 15);
	pool_add_consumer(&s.pool, 1, C_GET, 16);
	pool_add_consumer(&s.pool, 1, C_GET, 17);

	t0 = kt_mono_ns();
	while (sent < C_N && elapsed_ms(t0) < STORM_CAP_MS) {
		int n = 1 + (int)kst_below(&rng, 12);

		if (n > C_N - sent)
			n = C_N - sent;
		for (int qi = 0; qi < 2; qi++) {
			for (int k = 0; k < n; k++) {
				arr[k] = ukevent_user((__u64)(sent + k), (__u64)(sent + k) * 3 + (__u64)qi);
				arr[k].event = (__u32)(sent + k);
			}
			KT_ASSERT_EQ(kevent_ctl(s.pool.q[qi].fd, KEVENT_CTL_READY, (unsigned int)n, arr), n);
		}
		sent += n;
		if (kst_chance(&rng, 60))
			pool_cancel_one(&s.pool, (int)kst_below(&rng, (uint32_t)s.pool.ncons));
		if (kst_chance(&rng, 30))
			kt_msleep(1);
	}
	kt_log("readied %d of %d kevents on each queue in %lld ms", sent, C_N, elapsed_ms(t0));
	if (!pool_wait_quiet(&s.pool, DRAIN_CAP_MS))
		kt_fail_at(__FILE__, __LINE__, "queues not drained after %d ms", DRAIN_CAP_MS);
	pool_stop(&s.pool);
	pool_final_drain(&s.pool);
	kt_log("%ld consumer rounds, %ld consumers ended by cancellation (%ld inside kevent_get_events, %ld events saved from their buffers)",
	       s.pool.rounds, s.pool.cancels, s.pool.cancelled_in_get, s.pool.rescued);
	/* readied ones exactly once, the others never (and still registered) */
	for (int qi = 0; qi < 2; qi++)
		for (int i = 0; i < C_N; i++) {
			if (i < sent && s.count[qi][i] == 0 && lost++ < 10)
				kt_fail_at(__FILE__, __LINE__, "queue %d: event %d lost", qi, i);
			if (s.count[qi][i] > (i < sent) && dup++ < 10)
				kt_fail_at(__FILE__, __LINE__, "queue %d: event %d delivered %d times",
					   qi, i, s.count[qi][i]);
		}
	KT_EXPECT_EQ(lost, 0);
	KT_EXPECT_EQ(dup, 0);
	for (int qi = 0; qi < 2; qi++)
		pool_check_fdinfo(&s.pool, qi, C_N - sent);
	close(s.pool.q[0].fd);
	close(s.pool.q[1].fd);
	check_room(room);
}

/* ======================================================================
 * timer_storm: ONESHOT and periodic timers with periods of a few ms,
 * added and removed while consumers take their expiries.
 * ====================================================================== */

#define T_ONESHOT	1500
#define T_PERIODIC	12
#define T_MAX		(T_ONESHOT + 4 * T_PERIODIC + 8)

struct tinst {
	long long period_ns, add_ns, remove_ns;	/* remove_ns: after REMOVE returned */
	long long added_ns;	/* after ADD returned: the timer started before */
	int oneshot, removed, vanished;
	long delivered, fired;
	uint32_t first_ms;	/* lower bound of the first expiry (ms, u32) */
	uint32_t last_ms;	/* latest expiry stamp delivered */
	int have_last;
};

struct tstorm {
	struct pool pool;
	struct tinst t[T_MAX];
	int n;
};

/* (int32)(a - b): wrap-safe comparison of the u32 millisecond stamps. */
static int32_t ms_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static void t_record(struct pool *p, int qi, const struct ukevent *e)
{
	struct tstorm *s = p->ctx;
	uint32_t now_ms = (uint32_t)(kt_mono_ns() / MS), i = (uint32_t)e->user_u64;
	struct tinst *t;
	long d;

	(void)qi;
	if (e->type != KEVENT_TIMER || i >= (uint32_t)__atomic_load_n(&s->n, __ATOMIC_ACQUIRE)) {
		SFAIL("foreign event type %u user %llu", e->type, (unsigned long long)e->user_u64);
		return;
	}
	t = &s->t[i];
	if ((e->ret_flags & (KEVENT_RET_DONE | KEVENT_RET_BROKEN)) != KEVENT_RET_DONE ||
	    e->ret_data[1] == 0)
		SFAIL("timer %u: ret_flags %#x expiries %u", i, e->ret_flags, e->ret_data[1]);
	if (ms_diff(e->ret_data[0], t->first_ms) < 0)
		SFAIL("timer %u (period %lld ns) expired at %u ms, before its first period ended (%u ms)",
		      i, t->period_ns, e->ret_data[0], t->first_ms);
	if (ms_diff(now_ms, e->ret_data[0]) < 0)
		SFAIL("timer %u: expiry stamp %u ms is in the future (now %u)", i,
		      e->ret_data[0], now_ms);
	if (t->oneshot && e->ret_data[1] != 1)
		SFAIL("ONESHOT timer %u reports %u expiries", i, e->ret_data[1]);
	if (__atomic_load_n(&t->remove_ns, __ATOMIC_ACQUIRE) &&
	    ms_diff(e->ret_data[0], (uint32_t)(t->remove_ns / MS)) > 0)
		SFAIL("timer %u expired at %u ms, after REMOVE returned (%lld ms)", i,
		      e->ret_data[0], t->remove_ns / MS);
	d = __atomic_add_fetch(&t->delivered, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&t->fired, e->ret_data[1], __ATOMIC_RELAXED);
	if (t->oneshot && d > 1)
		SFAIL("ONESHOT timer %u delivered %ld times", i, d);
	/* the latest expiry stamp seen (consumers record concurrently) */
	for (;;) {
		uint32_t cur = __atomic_load_n(&t->last_ms, __ATOMIC_RELAXED);

		if (__atomic_load_n(&t->have_last, __ATOMIC_ACQUIRE) &&
		    ms_diff(e->ret_data[0], cur) <= 0)
			break;
		if (__atomic_compare_exchange_n(&t->last_ms, &cur, e->ret_data[0], false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
			__atomic_store_n(&t->have_last, 1, __ATOMIC_RELEASE);
			break;
		}
	}
}

/* ADD timer number i; its id (the period) is unique in the queue. */
static void t_add(struct tstorm *s, int fd, int i, bool oneshot, long long period_ns)
{
	struct tinst *t = &s->t[i];
	struct ukevent uk = ukevent_timer((__u32)(period_ns / 1000000000LL),
					  (__u32)(period_ns % 1000000000LL),
					  oneshot ? KEVENT_REQ_ONESHOT : 0);
	int r;

	uk.user_u64 = (__u64)i;
	t->period_ns = period_ns;
	t->oneshot = oneshot;
	t->add_ns = kt_mono_ns();
	t->first_ms = (uint32_t)((t->add_ns + period_ns) / MS);
	__atomic_store_n(&s->n, i + 1, __ATOMIC_RELEASE);
	r = kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk);
	t->added_ns = kt_mono_ns();
	if (r != 0)
		SFAIL("ADD timer %d (period %lld ns): ret %d errno %d flags %#x data %u", i,
		      period_ns, r, errno, uk.ret_flags, uk.ret_data[0]);
}

static void t_remove(struct tstorm *s, int fd, int i)
{
	struct tinst *t = &s->t[i];
	struct ukevent uk = ukevent_timer((__u32)(t->period_ns / 1000000000LL),
					  (__u32)(t->period_ns % 1000000000LL), 0);
	int r;

	uk.user_u64 = (__u64)i;
	r = kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk);
	if (r == 1) {
		t->removed = 1;
		__atomic_store_n(&t->remove_ns, kt_mono_ns(), __ATOMIC_RELEASE);
	} else if (r == 0 && t->oneshot && uk.ret_data[0] == ENOENT) {
		t->vanished = 1;
	} else {
		SFAIL("REMOVE timer %d: ret %d errno %d flags %#x data %u", i, r, errno,
		      uk.ret_flags, uk.ret_data[0]);
	}
}

TEST_TIMEOUT(timer_storm, 240)
{
	static struct tstorm s;
	struct kst_rng rng;
	int periodic[T_PERIODIC], oneshots = 0, n = 0, swaps = 0;
	long room, pending;
	long long t0, end_ns, unique = 0;

	room = probe_room();
	memset(&s, 0, sizeof(s));
	s.pool.rec = t_record;
	s.pool.ctx = &s;
	kst_rng_seed(&rng, 3);
	pool_open_queue(&s.pool, 0, 8, false);
	pool_add_consumer(&s.pool, 0, C_RING, 21);
	pool_add_consumer(&s.pool, 0, C_GET, 22);
	pool_add_consumer(&s.pool, 0, C_GET, 23);

	t0 = kt_mono_ns();
	/* periodic timers, 2..8 ms; a few ns more make every period unique */
	for (int k = 0; k < T_PERIODIC; k++) {
		periodic[k] = n;
		t_add(&s, s.pool.q[0].fd, n++, false,
		      (2 + k % 7) * MS + (++unique));
	}
	while (oneshots < T_ONESHOT && elapsed_ms(t0) < STORM_CAP_MS) {
		int batch = 1 + (int)kst_below(&rng, 8);

		for (int b = 0; b < batch && oneshots < T_ONESHOT; b++, oneshots++) {
			int i = n++;

			t_add(&s, s.pool.q[0].fd, i, true,
			      (1 + kst_below(&rng, 30)) * MS + (++unique));
			/* some are removed before (or after) they fire */
			if (kst_chance(&rng, 10))
				t_remove(&s, s.pool.q[0].fd, i);
		}
		if (kst_chance(&rng, 15) && swaps < 3 * T_PERIODIC) {
			int k = (int)kst_below(&rng, T_PERIODIC);

			t_remove(&s, s.pool.q[0].fd, periodic[k]);
			periodic[k] = n;
			t_add(&s, s.pool.q[0].fd, n++, false,
			      (2 + kst_below(&rng, 7)) * MS + (++unique));
			swaps++;
		}
		if (kst_chance(&rng, 20))
			pool_cancel_one(&s.pool, (int)kst_below(&rng, (uint32_t)s.pool.ncons));
		kt_msleep(1 + kst_below(&rng, 4));
	}
	/* every ONESHOT still registered must fire: wait (bounded) for it */
	for (long long w0 = kt_mono_ns(); elapsed_ms(w0) < DRAIN_CAP_MS; kt_msleep(10)) {
		pending = 0;
		for (int i = 0; i < n; i++)
			if (s.t[i].oneshot && !s.t[i].removed && !s.t[i].vanished &&
			    !__atomic_load_n(&s.t[i].delivered, __ATOMIC_RELAXED))
				pending++;
		if (!pending)
			break;
	}
	for (int k = 0; k < T_PERIODIC; k++)
		t_remove(&s, s.pool.q[0].fd, periodic[k]);
	end_ns = kt_mono_ns();
	KT_ASSERT(pool_wait_quiet(&s.pool, DRAIN_CAP_MS));
	pool_stop(&s.pool);
	pool_final_drain(&s.pool);
	kt_log("%d timers (%d ONESHOT), %d periodic swaps, %lld ms; %ld consumers cancelled",
	       n, oneshots, swaps, elapsed_ms(t0), s.pool.cancels);
	for (int i = 0; i < n; i++) {
		struct tinst *t = &s.t[i];
		long long until = t->removed ? t->remove_ns : end_ns;
		long long max_fires = (until - t->add_ns) / t->period_ns + 1;

		if (t->oneshot) {
			if (!t->removed && t->delivered != 1)
				SFAIL("ONESHOT timer %d (period %lld ns) delivered %ld times", i,
				      t->period_ns, t->delivered);
			if (t->vanished && t->delivered != 1)
				SFAIL("ONESHOT timer %d vanished undelivered", i);
			if (t->removed && t->delivered > 1)
				SFAIL("removed ONESHOT timer %d delivered %ld times", i, t->delivered);
		} else if (t->fired > max_fires) {
			SFAIL("periodic timer %d (period %lld ns, %lld ms alive) reported %ld expiries, at most %lld possible",
			      i, t->period_ns, (until - t->add_ns) / MS, t->fired, max_fires);
		} else if (t->have_last) {
			/*
			 * Expiries are counted from the period (abi.md): when the
			 * last delivered one was stamped, every period since the
			 * start had been counted, none lost. One period of slack
			 * for the stamp's rounding.
			 */
			long long span_ms = ms_diff(t->last_ms, (uint32_t)(t->added_ns / MS)) - 1;
			long long min_fires = span_ms > 0 ? span_ms * MS / t->period_ns - 1 : 0;

			if (t->fired < min_fires)
				SFAIL("periodic timer %d (period %lld ns): last expiry %lld ms after ADD, but only %ld expiries reported (at least %lld)",
				      i, t->period_ns, span_ms + 1, t->fired, min_fires);
		}
	}
	pool_check_fdinfo(&s.pool, 0, 0);
	close(s.pool.q[0].fd);
	check_room(room);
}

/* ======================================================================
 * poll_churn: POLL kevents on pipes, eventfds and sockets while other
 * threads write to them, close and replace the polled files and close and
 * replace whole queues (the last reference to a queue may go in a
 * consumer, with writers firing wake-ups at its kevents).
 * ====================================================================== */

#define P_NQ		3
#define P_NF		8
#define P_MAXFD		1024
#define P_OPS		10000
#define P_MAXI		(1 << 15)

struct pfile {
	pthread_rwlock_t lock;
	int kind;		/* 0 pipe, 1 eventfd, 2 socketpair */
	int polled, writer;	/* writer == polled for an eventfd */
};

struct pinst {
	uint32_t events, flags;
	int qslot, qgen;
	long delivered;
	int vanished;
};

struct pqueue {
	pthread_rwlock_t lock;
	int fd, gen;
	uint32_t reg[P_MAXFD];	/* fd number -> registered instance, this gen */
};

struct pchurn {
	struct pqueue q[P_NQ];
	struct pfile f[P_NF];
	struct pinst inst[P_MAXI];
	uint32_t ninst;
	int stop;
	long adds, completed, removes, eexist, qswaps, fswaps, writes, got;
};

static void pf_open(struct pfile *f, int kind)
{
	int p[2];

	f->kind = kind;
	if (kind == 0) {
		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		f->polled = p[0];
		f->writer = p[1];
	} else if (kind == 1) {
		f->polled = f->writer = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	} else {
		KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p));
		f->polled = p[0];
		f->writer = p[1];
	}
	KT_ASSERT(f->polled < P_MAXFD && f->writer < P_MAXFD);
}

static void pf_close(struct pfile *f)
{
	close(f->polled);
	if (f->writer != f->polled)
		close(f->writer);
}

static int pq_open(int gen)
{
	static struct kevent_ring *rings[64];
	int fd;

	switch (gen % 3) {
	case 0:
		return kevent_init(NULL, 0, 0);
	case 1:
		return open("/dev/kevent", O_RDWR | O_CLOEXEC);
	default:
		/* rings are leaked on purpose: a consumer may still use the queue */
		if (!rings[gen % 64])
			rings[gen % 64] = kevent_ring_alloc(4);
		fd = kevent_init(rings[gen % 64], 4, 0);
		return fd;
	}
}

struct pthr {
	struct pchurn *s;
	int idx;
	pthread_t th;
	struct kst_rng rng;
};

/* ADD and REMOVE POLL kevents of queue slot idx on random files. */
static void *p_registrar(void *arg)
{
	static const uint32_t masks[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLIN | POLLRDNORM,
					  POLLPRI | POLLIN };
	static const uint32_t flags[] = { 0, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT,
					  KEVENT_REQ_LAST_CHECK, KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK,
					  KEVENT_REQ_ALWAYS_QUEUE, KEVENT_REQ_WAKEUP_ONE,
					  KEVENT_REQ_ONESHOT | KEVENT_REQ_ALWAYS_QUEUE };
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	struct pqueue *q = &s->q[t->idx];

	for (int op = 0; op < P_OPS && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); op++) {
		struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];
		struct ukevent uk;
		uint32_t i, old;
		bool gone_ok;
		int r, pfd;

		pthread_rwlock_rdlock(&q->lock);
		pthread_rwlock_rdlock(&f->lock);
		pfd = kst_chance(&t->rng, 80) ? f->polled : f->writer;
		old = q->reg[pfd];
		if (old && kst_chance(&t->rng, 40)) {
			/* REMOVE the kevent keyed by this fd number */
			uk = ukevent_poll(pfd, s->inst[old].events, 0);
			uk.user_u64 = old;
			r = kevent_ctl(q->fd, KEVENT_CTL_REMOVE, 1, &uk);
			if (r == 0 && uk.ret_data[0] == ENOENT &&
			    (s->inst[old].flags & KEVENT_REQ_ONESHOT))
				s->inst[old].vanished = 1;
			else if (r != 1)
				SFAIL("REMOVE POLL inst %u: ret %d errno %d flags %#x data %u", old, r,
				      errno, uk.ret_flags, uk.ret_data[0]);
			q->reg[pfd] = 0;
			s->removes++;
		} else {
			i = __atomic_fetch_add(&s->ninst, 1, __ATOMIC_ACQ_REL);
			if (i >= P_MAXI) {
				pthread_rwlock_unlock(&f->lock);
				pthread_rwlock_unlock(&q->lock);
				break;
			}
			s->inst[i].events = masks[kst_below(&t->rng, 5)];
			s->inst[i].flags = flags[kst_below(&t->rng, 8)];
			s->inst[i].qslot = t->idx;
			s->inst[i].qgen = q->gen;
			uk = ukevent_poll(pfd, s->inst[i].events, s->inst[i].flags);
			uk.user_u64 = i;
			/* a delivered ONESHOT kevent is gone from the queue */
			gone_ok = old && (s->inst[old].flags & KEVENT_REQ_ONESHOT);
			r = kevent_ctl(q->fd, KEVENT_CTL_ADD, 1, &uk);
			if (r == 0 && (!old || gone_ok)) {
				if (old)
					s->inst[old].vanished = 1;
				q->reg[pfd] = i;
				s->adds++;
			} else if (r == 1 && uk.ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
				   uk.ret_data[0] == EEXIST && old) {
				s->eexist++;	/* a kevent on an earlier file with this number */
			} else if (r == 1 && uk.ret_flags == KEVENT_RET_DONE && (!old || gone_ok) &&
				   !(s->inst[i].flags & KEVENT_REQ_ALWAYS_QUEUE)) {
				/* ready at once: completed, not registered */
				if (!(uk.ret_data[0] & (s->inst[i].events | POLLERR | POLLHUP)))
					SFAIL("ADD completed at once with mask %#x for %#x",
					      uk.ret_data[0], s->inst[i].events);
				if (old)
					s->inst[old].vanished = 1;
				q->reg[pfd] = 0;
				s->completed++;
			} else {
				SFAIL("ADD POLL fd %d (old inst %u) events %#x flags %#x: ret %d errno %d flags %#x data %u",
				      pfd, old, s->inst[i].events, s->inst[i].flags, r, errno,
				      uk.ret_flags, uk.ret_data[0]);
			}
		}
		pthread_rwlock_unlock(&f->lock);
		pthread_rwlock_unlock(&q->lock);
		if (kst_chance(&t->rng, 30))
			sched_yield();
	}
	return NULL;
}

/* Write to (and drain) random files through a private dup of the end. */
static void *p_writer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	char buf[256];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];
		int w, p;
		uint64_t one = 1;

		pthread_rwlock_rdlock(&f->lock);
		w = dup(f->writer);
		p = dup(f->polled);
		pthread_rwlock_unlock(&f->lock);
		if (w < 0 || p < 0) {
			SFAIL("dup: %s", strerror(errno));
			break;
		}
		if (kst_chance(&t->rng, 60)) {
			if (write(w, &one, sizeof(one)) < 0 && errno != EAGAIN)
				SFAIL("write: %s", strerror(errno));
			s->writes++;
		} else {
			while (read(p, buf, sizeof(buf)) > 0)
				;
		}
		close(w);
		close(p);
		if (kst_chance(&t->rng, 50))
			kt_msleep(1);
	}
	return NULL;
}

/* Consume from a dup of queue slot idx; the last reference may be ours. */
static void *p_consumer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	struct pqueue *q = &s->q[t->idx];
	struct ukevent buf[16];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct __kernel_timespec ts = kevent_ts_ms(20);
		int fd, gen, r;

		pthread_rwlock_rdlock(&q->lock);
		fd = dup(q->fd);
		gen = q->gen;
		pthread_rwlock_unlock(&q->lock);
		if (fd < 0) {
			SFAIL("dup queue: %s", strerror(errno));
			break;
		}
		r = kevent_get_events(fd, 1, 16, &ts, buf, 0);
		if (r < 0)
			SFAIL("kevent_get_events: %s", strerror(errno));
		for (int k = 0; k < r; k++) {
			uint32_t i = (uint32_t)buf[k].user_u64;
			struct pinst *in;
			long d;

			if (buf[k].type != KEVENT_POLL || !i ||
			    i >= __atomic_load_n(&s->ninst, __ATOMIC_ACQUIRE)) {
				SFAIL("foreign event type %u user %llu", buf[k].type,
				      (unsigned long long)buf[k].user_u64);
				continue;
			}
			in = &s->inst[i];
			if (in->qslot != t->idx || in->qgen != gen)
				SFAIL("inst %u of queue %d gen %d delivered on queue %d gen %d", i,
				      in->qslot, in->qgen, t->idx, gen);
			if ((buf[k].ret_flags & (KEVENT_RET_DONE | KEVENT_RET_BROKEN)) != KEVENT_RET_DONE)
				SFAIL("inst %u delivered with ret_flags %#x", i, buf[k].ret_flags);
			if (!(buf[k].ret_data[0] & (in->events | POLLERR | POLLHUP)))
				SFAIL("inst %u (events %#x flags %#x) delivered with mask %#x", i,
				      in->events, in->flags, buf[k].ret_data[0]);
			d = __atomic_add_fetch(&in->delivered, 1, __ATOMIC_RELAXED);
			if ((in->flags & KEVENT_REQ_ONESHOT) && d > 1)
				SFAIL("ONESHOT POLL inst %u delivered %ld times", i, d);
			__atomic_add_fetch(&s->got, 1, __ATOMIC_RELAXED);
		}
		close(fd);
	}
	return NULL;
}

/* Close and replace polled files and whole queues. */
static void *p_closer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		kt_msleep(2 + kst_below(&t->rng, 10));
		if (kst_chance(&t->rng, 70)) {
			struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];

			pthread_rwlock_wrlock(&f->lock);
			pf_close(f);
			pf_open(f, (int)kst_below(&t->rng, 3));
			pthread_rwlock_unlock(&f->lock);
			s->fswaps++;
		} else {
			struct pqueue *q = &s->q[kst_below(&t->rng, P_NQ)];
			int nfd;

			pthread_rwlock_wrlock(&q->lock);
			/* wake its waiters, then drop our reference */
			kevent_ctl(q->fd, KEVENT_CTL_READY, 0, NULL);
			close(q->fd);
			q->gen++;
			nfd = pq_open(q->gen);
			if (nfd < 0)
				SFAIL("new queue: %s", strerror(errno));
			q->fd = nfd;
			memset(q->reg, 0, sizeof(q->reg));
			pthread_rwlock_unlock(&q->lock);
			s->qswaps++;
		}
	}
	return NULL;
}

/*
 * A queue still works as abi.md says after the churn: level (re-polled and
 * requeued after each delivery while readable; with LAST_CHECK never
 * delivered once no longer readable) and ET (once per write).
 */
static void p_check_usable(int qfd)
{
	struct ukevent uk, buf[4];
	int p[2], r;
	char c[8];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	for (int lc = 0; lc < 2; lc++) {
		uk = ukevent_poll(p[0], POLLIN, lc ? KEVENT_REQ_LAST_CHECK : 0);
		uk.user_u64 = 1;
		KT_ASSERT_EQ(kevent_ctl(qfd, KEVENT_CTL_ADD, 1, &uk), 0);
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
		KT_ASSERT_EQ(write(p[1], "ab", 2), 2);
		r = kt_get_now(qfd, buf, 4);
		KT_EXPECT_EQ(r, 1);
		if (r == 1)
			KT_EXPECT(buf[0].ret_data[0] & POLLIN);
		/* level: still readable, so delivered again, once per call */
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
		KT_EXPECT_EQ(read(p[0], c, sizeof(c)), 2);
		r = kt_get_now(qfd, buf, 4);
		if (lc)
			KT_EXPECT_EQ(r, 0);
		else	/* requeued while readable: one stale delivery at most */
			KT_EXPECT(r == 0 || r == 1);
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
		KT_EXPECT_EQ(kevent_ctl(qfd, KEVENT_CTL_REMOVE, 1, &uk), 1);
	}
	/* ET: once per write */
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ET);
	uk.user_u64 = 2;
	KT_ASSERT_EQ(kevent_ctl(qfd, KEVENT_CTL_ADD, 1, &uk), 0);
	KT_ASSERT_EQ(write(p[1], "a", 1), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
	KT_ASSERT_EQ(write(p[1], "b", 1), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
	KT_EXPECT_EQ(kevent_ctl(qfd, KEVENT_CTL_REMOVE, 1, &uk), 1);
	close(p[0]);
	close(p[1]);
}

TEST_TIMEOUT(poll_churn, 240)
{
	static struct pchurn s;
	struct pthr reg[P_NQ], cons[2 * P_NQ], wr[2], closer;
	struct ukevent buf[64];
	long room;
	long long t0;

	room = probe_room();
	memset(&s, 0, sizeof(s));
	s.ninst = 1;
	for (int i = 0; i < P_NF; i++) {
		pthread_rwlock_init(&s.f[i].lock, NULL);
		pf_open(&s.f[i], i % 3);
	}
	for (int i = 0; i < P_NQ; i++) {
		pthread_rwlock_init(&s.q[i].lock, NULL);
		s.q[i].gen = i;
		s.q[i].fd = pq_open(i);
		KT_ASSERT(s.q[i].fd >= 0);
	}
	t0 = kt_mono_ns();
	for (int i = 0; i < P_NQ; i++) {
		reg[i] = (struct pthr){ .s = &s, .idx = i };
		kst_rng_seed(&reg[i].rng, 300 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&reg[i].th, NULL, p_registrar, &reg[i]));
	}
	for (int i = 0; i < 2 * P_NQ; i++) {
		cons[i] = (struct pthr){ .s = &s, .idx = i % P_NQ };
		KT_ASSERT(!pthread_create(&cons[i].th, NULL, p_consumer, &cons[i]));
	}
	for (int i = 0; i < 2; i++) {
		wr[i] = (struct pthr){ .s = &s, .idx = i };
		kst_rng_seed(&wr[i].rng, 400 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&wr[i].th, NULL, p_writer, &wr[i]));
	}
	closer = (struct pthr){ .s = &s };
	kst_rng_seed(&closer.rng, 500);
	KT_ASSERT(!pthread_create(&closer.th, NULL, p_closer, &closer));

	for (int i = 0; i < P_NQ; i++) {
		while (pthread_tryjoin_np(reg[i].th, NULL) == EBUSY) {
			if (elapsed_ms(t0) > STORM_CAP_MS)
				__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
			kt_msleep(5);
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < P_NQ; i++)
		kevent_ctl(s.q[i].fd, KEVENT_CTL_READY, 0, NULL);
	for (int i = 0; i < 2 * P_NQ; i++)
		KT_ASSERT(kt_join(cons[i].th, NULL, KT_SOON_MS));
	for (int i = 0; i < 2; i++)
		KT_ASSERT(kt_join(wr[i].th, NULL, KT_SOON_MS));
	KT_ASSERT(kt_join(closer.th, NULL, KT_SOON_MS));
	kt_log("%lld ms: %u instances, %ld registered, %ld completed at ADD, %ld EEXIST, %ld removed, %ld file swaps, %ld queue swaps, %ld writes, %ld events",
	       elapsed_ms(t0), s.ninst - 1, s.adds, s.completed, s.eexist, s.removes, s.fswaps,
	       s.qswaps, s.writes, s.got);

	/*
	 * Quiescent: what the table says is registered is exactly what fdinfo
	 * says; REMOVE succeeds on all of it except delivered ONESHOTs (gone);
	 * then nothing is registered or ready, and nothing is delivered.
	 */
	for (int qi = 0; qi < P_NQ; qi++) {
		struct pqueue *q = &s.q[qi];
		struct kst_fdinfo fi;
		long long live = 0;

		for (int fd = 0; fd < P_MAXFD; fd++) {
			uint32_t i = q->reg[fd];

			if (i && !((s.inst[i].flags & KEVENT_REQ_ONESHOT) && s.inst[i].delivered))
				live++;
		}
		if (kst_check_fdinfo(q->fd, &fi))
			KT_EXPECT_EQ(fi.registered, live);
		for (int fd = 0; fd < P_MAXFD; fd++) {
			uint32_t i = q->reg[fd];
			struct ukevent uk;
			int r;

			if (!i)
				continue;
			uk = ukevent_poll(fd, s.inst[i].events, 0);
			uk.user_u64 = i;
			r = kevent_ctl(q->fd, KEVENT_CTL_REMOVE, 1, &uk);
			if ((s.inst[i].flags & KEVENT_REQ_ONESHOT) && s.inst[i].delivered) {
				if (r != 0 || uk.ret_data[0] != ENOENT)
					SFAIL("delivered ONESHOT inst %u still registered (REMOVE %d)", i, r);
			} else if (r != 1) {
				SFAIL("REMOVE inst %u (flags %#x, delivered %ld): ret %d data %u", i,
				      s.inst[i].flags, s.inst[i].delivered, r, uk.ret_data[0]);
			}
		}
		KT_EXPECT_EQ(kt_get_now(q->fd, buf, 64), 0);
		if (kst_check_fdinfo(q->fd, &fi)) {
			KT_EXPECT_EQ(fi.registered, 0);
			KT_EXPECT_EQ(fi.ready, 0);
		}
		p_check_usable(q->fd);
	}
	/* a ONESHOT found gone (REMOVE/ADD said so) was delivered exactly once */
	for (uint32_t i = 1; i < s.ninst && i < P_MAXI; i++)
		if (s.inst[i].vanished && s.inst[i].delivered != 1)
			SFAIL("ONESHOT POLL inst %u gone from its queue, delivered %ld times", i,
			      s.inst[i].delivered);
	for (int qi = 0; qi < P_NQ; qi++)
		close(s.q[qi].fd);
	for (int i = 0; i < P_NF; i++)
		pf_close(&s.f[i]);
	check_room(room);
}

/* ======================================================================
 * orphan_queues: child processes build queues full of kevents (armed
 * timers, polled pipes, ready events, blocked waiters, a grandchild that
 * shares the queues) and die without closing anything.
 * ====================================================================== */

#define O_CHILDREN	64
#define O_WAVE		4

static void *o_block_get(void *arg)
{
	struct ukevent buf[4];

	for (;;)
		kevent_get_events(*(int *)arg, 4, 4, NULL, buf, 0);
	return NULL;
}

struct o_ring {
	int fd;
	struct kevent_ring *ring;
};

static void *o_block_wait(void *arg)
{
	struct o_ring *o = arg;

	/* fills the ring, then sleeps for space that never comes */
	for (;;)
		kevent_wait(o->fd, 2, kevent_ring_kidx(o->ring), NULL, 0);
	return NULL;
}

static void *o_exit_group(void *arg)
{
	kt_msleep((long)(intptr_t)arg);
	_exit(0);	/* exit_group while the main thread sleeps in the kernel */
}

/* Returns only on the modes where the caller exits. */
static void orphan_child(int n, struct kst_chan *ready, int base)
{
	static int qs[3];
	static struct o_ring rq[3];
	struct kst_rng r;
	pthread_t th;
	int nq, mode, p[2];

	kst_rng_seed(&r, 1000 + (uint64_t)n);
	nq = 1 + (int)kst_below(&r, 3);
	mode = n % 4;
	for (int k = 0; k < nq; k++) {
		int kind = (int)kst_below(&r, 3);
		struct ukevent uk;

		if (kind == 0) {
			qs[k] = kevent_init(NULL, 0, 0);
		} else if (kind == 1) {
			unsigned int size = 2 + kst_below(&r, 6);

			rq[k].ring = kevent_ring_alloc(size);
			qs[k] = kevent_init(rq[k].ring, size, 0);
			rq[k].fd = qs[k];
		} else {
			qs[k] = open("/dev/kevent", O_RDWR | O_CLOEXEC);
		}
		KT_ASSERT(qs[k] >= 0);
		for (int i = 0; i < 8 + (int)kst_below(&r, 16); i++) {
			kt_add_user(qs[k], (__u64)i, (__u64)i, kst_chance(&r, 50) ? KEVENT_REQ_ONESHOT : 0);
			if (kst_chance(&r, 50))
				kt_ready_user(qs[k], (__u64)i, (__u64)i, 1);
		}
		for (int i = 0; i < 3; i++) {
			uk = ukevent_timer(0, 1000000 + (__u32)i * 1000 + kst_below(&r, 1000),
					   i == 2 ? KEVENT_REQ_ONESHOT : 0);
			KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		}
		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		uk = ukevent_poll(p[0], POLLIN, 0);
		KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		uk = ukevent_poll(p[1], POLLOUT, KEVENT_REQ_ALWAYS_QUEUE);
		KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		if (kst_chance(&r, 50))
			KT_EXPECT_EQ(write(p[1], "x", 1), 1);
		if (kst_chance(&r, 50)) {
			close(p[0]);
			close(p[1]);
		}
		if (k > 0 && kst_chance(&r, 30)) {
			/* a queue polled by another queue is refused */
			uk = ukevent_poll(qs[k - 1], POLLIN, 0);
			KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 1);
			KT_EXPECT_BROKEN(uk, ELOOP);
		}
		if (kind == 1 && kst_chance(&r, 60))
			pthread_create(&th, NULL, o_block_wait, &rq[k]);
		else if (kst_chance(&r, 60))
			pthread_create(&th, NULL, o_block_get, &qs[k]);
	}
	if (kst_chance(&r, 30) && fork() == 0) {
		/* a grandchild shares the queues, readies, and dies later */
		for (int i = 0; i < 4; i++) {
			struct ukevent uk = ukevent_user((__u64)i, (__u64)i);

			kevent_ctl(qs[0], KEVENT_CTL_READY, 1, &uk);
		}
		kt_msleep(kst_below(&r, 30));
		_exit(0);
	}
	if (kt_failed() > base)
		_exit(1);
	switch (mode) {
	case 0:
		_exit(0);
	case 1:
		kt_msleep(kst_below(&r, 20));
		_exit(0);
	case 2:
		kst_chan_post(ready, 'R');	/* the parent SIGKILLs us */
		for (;;)
			pause();
	default:
		pthread_create(&th, NULL, o_exit_group, (void *)(intptr_t)kst_below(&r, 10));
		o_block_get(&qs[0]);
	}
}

TEST_TIMEOUT(orphan_queues, 240)
{
	struct kst_chan ready;
	long room;
	int started = 0, status, reaped = 0, killed = 0, base;
	pid_t pid;

	room = probe_room();
	KT_ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	KT_ASSERT(kst_chan_open(&ready));
	while (started < O_CHILDREN) {
		pid_t wave[O_WAVE];
		int nw = 0;

		for (; nw < O_WAVE && started < O_CHILDREN; nw++, started++) {
			fflush(NULL);
			base = kt_failed();
			wave[nw] = fork();
			KT_ASSERT(wave[nw] >= 0);
			if (wave[nw] == 0) {
				orphan_child(started, &ready, base);
				_exit(0);
			}
		}
		for (int k = 0; k < nw; k++) {
			if ((started - nw + k) % 4 == 2) {
				KT_EXPECT_EQ(kst_chan_wait(&ready, KT_SOON_MS), 'R');
				/* whichever child posted, kill the one of this slot once ready */
			}
		}
		for (int k = 0; k < nw; k++)
			if ((started - nw + k) % 4 == 2) {
				kill(wave[k], SIGKILL);
				killed++;
			}
		for (int k = 0; k < nw; k++) {
			KT_ASSERT_EQ(waitpid(wave[k], &status, 0), wave[k]);
			reaped++;
			if ((started - nw + k) % 4 == 2)
				KT_EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			else if (!WIFEXITED(status) || WEXITSTATUS(status))
				kt_fail_at(__FILE__, __LINE__, "child %d ended with status %#x",
					   started - nw + k, status);
		}
	}
	/* grandchildren, reparented to us */
	while ((pid = waitpid(-1, &status, 0)) > 0)
		reaped++;
	kt_log("%d children (%d killed), %d processes reaped", started, killed, reaped);
	check_room(room);
}
