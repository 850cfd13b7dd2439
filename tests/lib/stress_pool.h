/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stress_pool.h - the consumer pool of the stress suites (stress_pool.c in
 * libktest.a), and what the storms share.
 *
 * A pool holds up to 4 queues (plain, with a small ring, or /dev/kevent)
 * and up to MAX_CONS consumer threads. A get_events consumer dequeues into
 * a buffer pre-filled with a sentinel; a ring consumer waits with
 * kevent_wait() and commits what the kernel wrote. Consumers can be
 * cancelled (asynchronously, only inside their system call) and replaced
 * while they wait: a cancelled get_events consumer's cleanup handler
 * records exactly the entries the kernel wrote, a cancelled ring consumer
 * leaves its events in the ring for the next one. Every delivery goes to
 * the test's record function, so the test keeps an exact ledger:
 *
 *	struct pool p = { .rec = my_record, .ctx = &ledger };
 *	pool_open_queue(&p, 0, 0, false);	   plain queue
 *	pool_open_queue(&p, 1, 4, false);	   ring of 4
 *	pool_add_consumer(&p, 0, C_GET, seed);
 *	... storm, pool_cancel_one() now and then ...
 *	pool_stop(&p);
 *	pool_final_drain(&p);
 *	pool_check_fdinfo(&p, 0, 0);
 */
#ifndef KLAB_STRESS_POOL_H
#define KLAB_STRESS_POOL_H

#include <sys/eventfd.h>
#include <sys/socket.h>

#include "kevent_stress_util.h"

#define MS		1000000LL
#define MAX_FAIL_LOG	20

/* Time caps of the storm phases (work bounds, not pass/fail criteria). */
#define STORM_CAP_MS	12000
#define DRAIN_CAP_MS	60000

/* Failures reported through SFAIL() so far in this test process. */
extern long kst_fail_logged;

/*
 * Report a failure from any thread, at most MAX_FAIL_LOG lines per test: a
 * storm that goes wrong goes wrong thousands of times.
 */
#define SFAIL(...)							\
	do {								\
		if (__atomic_add_fetch(&kst_fail_logged, 1, __ATOMIC_RELAXED) <= MAX_FAIL_LOG) \
			kt_fail_at(__FILE__, __LINE__, __VA_ARGS__);	\
		else							\
			kt_fail_at(__FILE__, __LINE__, "(more failures)"); \
	} while (0)

/* Milliseconds since t0 (a kt_mono_ns() value). */
long long elapsed_ms(long long t0);

/*
 * The calling user's room for kevents under max_user_kevents = 1024, before
 * a storm (-1 or -2 when it cannot be measured: not root); check_room()
 * measures it again after the storm and expects it unchanged (no leak).
 */
long probe_room(void);
void check_room(long before);

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

/* Background fdinfo reader: every snapshot must be self-consistent. */
struct watcher {
	struct pool *p;
	int stop;
	long snaps;
	pthread_t th;
};

/* Queue qi: a ring of ring_size entries (0: none) or /dev/kevent. */
void pool_open_queue(struct pool *p, int qi, unsigned int ring_size, bool dev);
/* Add a consumer of kind (C_GET, C_RING) on queue qi, and start it. */
void pool_add_consumer(struct pool *p, int qi, int kind, uint64_t seed);
/* Cancel consumer i (wherever it is) and start a fresh one in its place. */
void pool_cancel_one(struct pool *p, int i);
/* Stop all consumers: flag, wake them with READY num == 0, join. */
void pool_stop(struct pool *p);
/* With every consumer stopped: take whatever is still ready or in a ring. */
void pool_final_drain(struct pool *p);
/* Wait (bounded) until no queue of the pool has a ready kevent. */
bool pool_wait_quiet(struct pool *p, long cap_ms);
/*
 * fdinfo after the drain: counters agree with each other and with the
 * pool's count of deliveries; registered must be want_registered (-1: any).
 */
void pool_check_fdinfo(struct pool *p, int qi, long long want_registered);
/* Thread function of a struct watcher (arg). */
void *watcher_fn(void *arg);

#endif /* KLAB_STRESS_POOL_H */
