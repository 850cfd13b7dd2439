// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_stress - concurrency and lifetime stress, with exact accounting.
 * This file: user_storm, cancel_storm, timer_storm; teardown.c: poll_churn,
 * orphan_queues. The consumer pool is stress_pool.c in libktest.a.
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
#include "stress_pool.h"

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
