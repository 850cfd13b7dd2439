// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/kunit.c - boot-time KUnit tests of kevent's pure logic.
 *
 *  - kevent_ring: the ring index arithmetic of ring.c at the wrap
 *    boundaries: free space, full and empty, commit accepted or refused
 *    (stale lap, behind the last commit, ahead of the kernel, the lap
 *    before catching up, the 32-bit lap counter wrapping);
 *  - kevent_ready: the ready-list transitions of core.c, per request flag,
 *    on a queue without file and a storage type private to the tests whose
 *    readiness the test controls;
 *  - kevent_match: the (type, id) key order and the id + user matching of
 *    MODIFY/REMOVE/READY.
 */

#include <kunit/test.h>
#include <linux/slab.h>

#include "kevent.h"

/* ---- kevent_ring ----------------------------------------------------- */

static struct kevent_ring_state ring_of(u32 size)
{
	return (struct kevent_ring_state){ .size = size };
}

static void ring_write(struct kevent_ring_state *rs, unsigned int n)
{
	while (n--)
		kevent_ring_advance(rs);
}

static void kevent_ring_empty_full(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(4);

	KUNIT_EXPECT_EQ(test, kevent_ring_used(&rs), 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 4);
	ring_write(&rs, 3);
	KUNIT_EXPECT_EQ(test, rs.kidx, 3);
	KUNIT_EXPECT_EQ(test, rs.kover, 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 1);
	/* the fourth write wraps kidx onto uidx: full, not empty */
	ring_write(&rs, 1);
	KUNIT_EXPECT_EQ(test, rs.kidx, 0);
	KUNIT_EXPECT_EQ(test, rs.kover, 1);
	KUNIT_EXPECT_EQ(test, kevent_ring_used(&rs), 4);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 0);
	/* committing the whole lap empties it */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 0, 1), 4);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 4);
	KUNIT_EXPECT_EQ(test, rs.uover, 1);
}

static void kevent_ring_commit_partial(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(8);

	ring_write(&rs, 5);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 2, 0), 2);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 5);
	/* the same position again frees nothing */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 2, 0), 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 5, 0), 3);
	KUNIT_EXPECT_EQ(test, kevent_ring_used(&rs), 0);
}

static void kevent_ring_commit_refused(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(8), before;

	ring_write(&rs, 6);
	KUNIT_ASSERT_EQ(test, kevent_ring_commit(&rs, 3, 0), 3);
	before = rs;
	/* not an index of the ring */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 8, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, U32_MAX, 0), -EINVAL);
	/* behind the last commit */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 2, 0), -ERANGE);
	/* ahead of what the kernel wrote */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 7, 0), -ERANGE);
	/* a lap that was never written, a stale one */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 4, 1), -ERANGE);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 4, 2), -ERANGE);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 4, U32_MAX), -ERANGE);
	/* nothing changed */
	KUNIT_EXPECT_EQ(test, rs.uidx, before.uidx);
	KUNIT_EXPECT_EQ(test, rs.uover, before.uover);
}

/* The user read entries of lap n after the kernel moved to lap n + 1. */
static void kevent_ring_commit_over_minus_one(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(4);

	ring_write(&rs, 3);
	KUNIT_ASSERT_EQ(test, kevent_ring_commit(&rs, 3, 0), 3);
	ring_write(&rs, 3);		/* 3, then 0 and 1 of lap 1 */
	KUNIT_EXPECT_EQ(test, rs.kidx, 2);
	KUNIT_EXPECT_EQ(test, rs.kover, 1);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 1);
	/* ring_over is 1, the entry at 3 belongs to lap 0: over - 1 */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 0, 1), 1);
	/* a stale lap now that uidx wrapped */
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 1, 0), -ERANGE);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 2, 1), 2);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 4);
}

/* The 32-bit lap counters wrap; distances stay right. */
static void kevent_ring_lap_wrap(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(2);

	rs.kover = U32_MAX;
	rs.uover = U32_MAX;
	ring_write(&rs, 2);
	KUNIT_EXPECT_EQ(test, rs.kover, 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 1, U32_MAX), 1);
	KUNIT_EXPECT_EQ(test, kevent_ring_commit(&rs, 0, 0), 1);
	KUNIT_EXPECT_EQ(test, rs.uover, 0);
	KUNIT_EXPECT_EQ(test, kevent_ring_space(&rs), 2);
}

/* Writing and committing one at a time for many laps. */
static void kevent_ring_many_laps(struct kunit *test)
{
	struct kevent_ring_state rs = ring_of(3);
	unsigned int i;

	for (i = 0; i < 100; i++) {
		ring_write(&rs, 1);
		KUNIT_ASSERT_EQ(test, kevent_ring_used(&rs), 1);
		KUNIT_ASSERT_EQ(test,
				kevent_ring_commit(&rs, rs.kidx, rs.kover), 1);
	}
	KUNIT_EXPECT_EQ(test, rs.kover, 33);
	KUNIT_EXPECT_EQ(test, rs.kidx, 1);
}

static struct kunit_case kevent_ring_cases[] = {
	KUNIT_CASE(kevent_ring_empty_full),
	KUNIT_CASE(kevent_ring_commit_partial),
	KUNIT_CASE(kevent_ring_commit_refused),
	KUNIT_CASE(kevent_ring_commit_over_minus_one),
	KUNIT_CASE(kevent_ring_lap_wrap),
	KUNIT_CASE(kevent_ring_many_laps),
	{}
};

static struct kunit_suite kevent_ring_suite = {
	.name = "kevent_kunit_ring",
	.test_cases = kevent_ring_cases,
};

/* ---- kevent_ready ---------------------------------------------------- */

/*
 * A storage type for the tests: every kevent watches ctx->st, the type
 * callback returns ctx->cb_ret and the process-context check ctx->check.
 */
struct kevent_test_ctx {
	struct kevent_queue *q;
	struct kevent_storage st;
	int cb_ret;
	u32 check;
	unsigned int delivered_calls;
	bool delivered_inflight;
	unsigned int more;
};

static struct kevent_test_ctx *kevent_test_cur;

static int kevent_test_enqueue(struct kevent *k)
{
	kevent_storage_add(&kevent_test_cur->st, k);
	return 0;
}

static void kevent_test_dequeue(struct kevent *k)
{
	kevent_storage_del(k->st, k);
}

static int kevent_test_callback(struct kevent *k, u32 event)
{
	k->event.ret_data[0] = event;
	return kevent_test_cur->cb_ret;
}

static u32 kevent_test_check(struct kevent *k)
{
	return kevent_test_cur->check;
}

static const struct kevent_callbacks kevent_test_callbacks = {
	.enqueue	= kevent_test_enqueue,
	.dequeue	= kevent_test_dequeue,
	.callback	= kevent_test_callback,
	.check		= kevent_test_check,
};

/* A type that accounts its deliveries (as TIMER does): when does it run? */
static void kevent_test_delivered(struct kevent *k)
{
	kevent_test_cur->delivered_calls++;
	kevent_test_cur->delivered_inflight = k->flags & KEVENT_F_INFLIGHT;
}

static const struct kevent_callbacks kevent_test_accounting_callbacks = {
	.enqueue	= kevent_test_enqueue,
	.dequeue	= kevent_test_dequeue,
	.callback	= kevent_test_callback,
	.delivered	= kevent_test_delivered,
};

/* A type with a queue of ctx->more records left (as INODE has). */
static bool kevent_test_more(struct kevent *k)
{
	if (!kevent_test_cur->more)
		return false;
	kevent_test_cur->more--;
	return true;
}

static const struct kevent_callbacks kevent_test_more_callbacks = {
	.enqueue	= kevent_test_enqueue,
	.dequeue	= kevent_test_dequeue,
	.callback	= kevent_test_callback,
	.more		= kevent_test_more,
};

static int kevent_ready_init(struct kunit *test)
{
	struct kevent_test_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx),
						    GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->q = kevent_queue_alloc();
	if (!ctx->q)
		return -ENOMEM;
	kevent_storage_init(&ctx->st, ctx);
	ctx->cb_ret = KEVENT_CB_READY;
	test->priv = ctx;
	kevent_test_cur = ctx;
	return 0;
}

static void kevent_ready_exit(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	kevent_queue_destroy(ctx->q);
	kevent_test_cur = NULL;
}

static struct kevent *add_type(struct kunit *test, u64 id, u32 req_flags,
			       const struct kevent_callbacks *cb)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct ukevent uk = {
		.id.raw_u64 = id,
		.type = KEVENT_USER,
		.req_flags = req_flags,
	};
	struct kevent *k = kevent_alloc(ctx->q, &uk, cb);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, k);
	mutex_lock(&ctx->q->mutex);
	ret = kevent_queue_link(ctx->q, k);
	if (!ret) {
		kevent_test_enqueue(k);
		kevent_added(k, 0);
	}
	mutex_unlock(&ctx->q->mutex);
	if (ret)
		kevent_put(k);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return k;
}

static struct kevent *add(struct kunit *test, u64 id, u32 req_flags)
{
	return add_type(test, id, req_flags, &kevent_test_callbacks);
}

static void fire(struct kunit *test, u32 event)
{
	struct kevent_test_ctx *ctx = test->priv;

	kevent_storage_ready(&ctx->st, NULL, event);
}

static unsigned int ready_num(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	return READ_ONCE(ctx->q->ready_num);
}

/* A sink of the delivery engine that copies one event into kernel memory. */
struct kevent_test_sink {
	struct kevent_sink sink;
	struct ukevent uk;
};

static int kevent_test_reserve(struct kevent_sink *s)
{
	return 1;
}

static int kevent_test_copy(struct kevent_sink *s, const struct ukevent *uk)
{
	container_of(s, struct kevent_test_sink, sink)->uk = *uk;
	return 0;
}

static int kevent_test_release(struct kevent_sink *s, unsigned int n)
{
	return 0;
}

static const struct kevent_sink_ops kevent_test_sink_ops = {
	.reserve	= kevent_test_reserve,
	.copy		= kevent_test_copy,
	.release	= kevent_test_release,
};

/*
 * Deliver one event through the same dequeue-copy-finish loop as the
 * system calls: its id, or -1 if none was ready.
 */
static s64 deliver(struct kunit *test, struct ukevent *out)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct kevent_test_sink ts = {
		.sink = { .ops = &kevent_test_sink_ops, .q = ctx->q },
	};

	if (kevent_deliver(&ts.sink) != 1)
		return -1;
	if (out)
		*out = ts.uk;
	return ts.uk.id.raw_u64;
}

/* End by hand a delivery taken with kevent_dequeue_ready(). */
static void finish(struct kunit *test, struct kevent *k,
		   const struct ukevent *uk, bool copied)
{
	struct kevent_test_ctx *ctx = test->priv;

	if (!copied) {
		kevent_requeue_failed(k, uk->ret_data[0]);
	} else if (kevent_finish_copied(k, uk->ret_data[1], uk->req_flags)) {
		mutex_lock(&ctx->q->mutex);
		kevent_remove(ctx->q, k);
		mutex_unlock(&ctx->q->mutex);
	}
	kevent_put(k);
}

/* Ready once, FIFO, repeated firings counted in ret_data[1]. */
static void kevent_ready_fifo_once(struct kunit *test)
{
	struct kevent *a = add(test, 1, KEVENT_REQ_ET);
	struct kevent *b = add(test, 2, KEVENT_REQ_ET);
	struct ukevent uk;

	kevent_ready(b, 5);
	kevent_ready(a, 6);
	kevent_ready(b, 7);
	KUNIT_EXPECT_EQ(test, ready_num(test), 2);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 2);
	KUNIT_EXPECT_EQ(test, uk.ret_data[0], 7);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 2);
	KUNIT_EXPECT_TRUE(test, uk.ret_flags & KEVENT_RET_DONE);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	/* the count restarts after delivery */
	kevent_ready(a, 6);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 1);
}

static void kevent_ready_oneshot_removed(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	add(test, 1, KEVENT_REQ_ONESHOT);
	add(test, 2, 0);
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 2);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, ctx->q->kevent_num, 1);
	mutex_lock(&ctx->q->mutex);
	KUNIT_EXPECT_NULL(test, kevent_lookup(ctx->q, KEVENT_USER, 1));
	KUNIT_EXPECT_NOT_NULL(test, kevent_lookup(ctx->q, KEVENT_USER, 2));
	mutex_unlock(&ctx->q->mutex);
}

/*
 * Level: requeued after delivery "to be checked", and polled when dequeued
 * again: delivered if still ready, dropped as stale if not; ET: waits.
 */
static void kevent_ready_level_and_et(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct ukevent uk;

	add(test, 1, 0);
	add(test, 2, KEVENT_REQ_ET);

	ctx->check = 1;
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 1);
	/* 1 still ready: requeued behind 2 */
	KUNIT_EXPECT_EQ(test, ready_num(test), 2);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 2);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	/* still ready: delivered again; a re-poll is no firing */
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 0);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	/* no longer ready: dropped when dequeued, never reported stale */
	ctx->check = 0;
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 0);
	/* LAB(08) begin: the drop is counted */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->q->stat.stale), 1);
	/* LAB(08) end */
}

/* LAST_CHECK: not ready any more at dequeue goes back to waiting. */
static void kevent_ready_last_check(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct kevent *k = add(test, 1, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ET);
	struct ukevent uk;

	ctx->check = 0;
	fire(test, 4);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 0);
	KUNIT_EXPECT_EQ(test, ctx->q->kevent_num, 1);
	KUNIT_EXPECT_EQ(test, k->flags, 0);
	/* ready again, and confirmed: delivered with the checked mask */
	ctx->check = 8;
	fire(test, 4);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[0], 8);
	/* the first firing was not delivered, so it is still counted */
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 2);
}

/* A readiness without mask is checked at dequeue even without LAST_CHECK. */
static void kevent_ready_recheck(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	add(test, 1, KEVENT_REQ_ET);
	ctx->cb_ret = KEVENT_CB_RECHECK;
	ctx->check = 0;
	fire(test, 0);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	ctx->check = 1;
	fire(test, 0);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
}

/*
 * WAKEUP_ONE: only a kevent that woke a sleeper stops the other WAKEUP_ONE
 * kevents of its storage; with nobody asleep every one is marked (a busy
 * queue must not starve the others).
 */
static void kevent_ready_wakeup_one(struct kunit *test)
{
	add(test, 1, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	add(test, 2, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	add(test, 3, KEVENT_REQ_ET);
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 3);
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 3);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 2);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 3);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
}

/* A failed copy puts the event back at the head, counts intact. */
static void kevent_ready_copy_failed(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct kevent *a = add(test, 1, KEVENT_REQ_ONESHOT);
	struct ukevent uk;
	struct kevent *k;

	add(test, 2, KEVENT_REQ_ET);
	kevent_ready(a, 1);
	kevent_ready(a, 1);
	fire(test, 1);
	k = kevent_dequeue_ready(ctx->q, &uk);
	KUNIT_ASSERT_PTR_EQ(test, k, a);
	finish(test, k, &uk, false);
	KUNIT_EXPECT_EQ(test, ready_num(test), 2);
	KUNIT_EXPECT_EQ(test, ctx->q->kevent_num, 2);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 3);
	KUNIT_EXPECT_TRUE(test, uk.ret_flags & KEVENT_RET_COPY_FAILED);
	KUNIT_EXPECT_EQ(test, ctx->q->kevent_num, 1);
}

/* Firing while being delivered: not delivered twice, requeued after. */
static void kevent_ready_inflight(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct kevent *a = add(test, 1, KEVENT_REQ_ET);
	struct ukevent uk;
	struct kevent *k;

	kevent_ready(a, 1);
	k = kevent_dequeue_ready(ctx->q, &uk);
	KUNIT_ASSERT_PTR_EQ(test, k, a);
	kevent_ready(a, 2);
	KUNIT_EXPECT_EQ(test, ready_num(test), 0);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	finish(test, k, &uk, true);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, &uk), 1);
	KUNIT_EXPECT_EQ(test, uk.ret_data[0], 2);
	KUNIT_EXPECT_EQ(test, uk.ret_data[1], 1);
}

/*
 * The type accounts a delivery (TIMER: advances its last expiry, forgets
 * the READYs it reported) while the kevent is still in flight: once it is
 * back on the ready list another thread may take it, and a snapshot taken
 * before the accounting would count the same expiries again, or none.
 */
static void kevent_ready_delivered_in_flight(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	add_type(test, 1, 0, &kevent_test_accounting_callbacks);
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, ctx->delivered_calls, 1);
	KUNIT_EXPECT_TRUE(test, ctx->delivered_inflight);
}

/*
 * A type with more to deliver after a delivery (->more) is requeued and
 * its queue woken, once per record, without a new firing; then it waits.
 */
static void kevent_ready_more(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	long marked;

	add_type(test, 1, KEVENT_REQ_ET, &kevent_test_more_callbacks);
	ctx->more = 2;
	fire(test, 1);
	marked = atomic_long_read(&ctx->q->stat.marked_ready);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 0);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
	/* requeued, not fired: the count of readyings is the source's */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->q->stat.marked_ready),
			marked);
}

/* A removed kevent leaves the ready list and is never delivered. */
static void kevent_ready_remove(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;
	struct kevent *a = add(test, 1, 0);

	add(test, 2, 0);
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 2);
	mutex_lock(&ctx->q->mutex);
	kevent_remove(ctx->q, a);
	mutex_unlock(&ctx->q->mutex);
	KUNIT_EXPECT_EQ(test, ready_num(test), 1);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), 2);
	KUNIT_EXPECT_EQ(test, deliver(test, NULL), -1);
}

/* A type callback saying "not for me" leaves the kevent alone. */
static void kevent_ready_not_ready(struct kunit *test)
{
	struct kevent_test_ctx *ctx = test->priv;

	add(test, 1, 0);
	ctx->cb_ret = KEVENT_CB_NOT_READY;
	fire(test, 1);
	KUNIT_EXPECT_EQ(test, ready_num(test), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->q->stat.marked_ready), 0);
}

static struct kunit_case kevent_ready_cases[] = {
	KUNIT_CASE(kevent_ready_fifo_once),
	KUNIT_CASE(kevent_ready_oneshot_removed),
	KUNIT_CASE(kevent_ready_level_and_et),
	KUNIT_CASE(kevent_ready_last_check),
	KUNIT_CASE(kevent_ready_recheck),
	KUNIT_CASE(kevent_ready_wakeup_one),
	KUNIT_CASE(kevent_ready_copy_failed),
	KUNIT_CASE(kevent_ready_inflight),
	KUNIT_CASE(kevent_ready_delivered_in_flight),
	KUNIT_CASE(kevent_ready_more),
	KUNIT_CASE(kevent_ready_remove),
	KUNIT_CASE(kevent_ready_not_ready),
	{}
};

static struct kunit_suite kevent_ready_suite = {
	.name = "kevent_kunit_ready",
	.init = kevent_ready_init,
	.exit = kevent_ready_exit,
	.test_cases = kevent_ready_cases,
};

/* ---- kevent_match ---------------------------------------------------- */

static void kevent_match_key_order(struct kunit *test)
{
	struct kevent k = { .event = { .type = KEVENT_POLL,
				       .id.raw_u64 = 100 } };

	KUNIT_EXPECT_EQ(test, kevent_key_cmp(KEVENT_POLL, 100, &k), 0);
	KUNIT_EXPECT_LT(test, kevent_key_cmp(KEVENT_POLL, 99, &k), 0);
	KUNIT_EXPECT_GT(test, kevent_key_cmp(KEVENT_POLL, 101, &k), 0);
	/* the type sorts first */
	KUNIT_EXPECT_LT(test, kevent_key_cmp(KEVENT_TIMER, U64_MAX, &k), 0);
	KUNIT_EXPECT_GT(test, kevent_key_cmp(KEVENT_USER, 0, &k), 0);
	/* the id compares as one unsigned 64-bit number */
	KUNIT_EXPECT_GT(test, kevent_key_cmp(KEVENT_POLL, 1ULL << 63, &k), 0);
}

static void kevent_match_id_and_user(struct kunit *test)
{
	struct kevent k = { .event = { .type = KEVENT_USER,
				       .id.raw_u64 = 7,
				       .user_u64 = 0x1122334455667788ULL } };
	struct ukevent uk = k.event;

	KUNIT_EXPECT_TRUE(test, kevent_matches(&k, &uk));
	/* event, flags and returned data play no part */
	uk.event = 3;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	uk.ret_data[0] = 9;
	KUNIT_EXPECT_TRUE(test, kevent_matches(&k, &uk));
	uk.user[0] ^= 1;
	KUNIT_EXPECT_FALSE(test, kevent_matches(&k, &uk));
	uk = k.event;
	uk.user[1] ^= 0x80000000;
	KUNIT_EXPECT_FALSE(test, kevent_matches(&k, &uk));
	uk = k.event;
	uk.id.raw[1] = 1;
	KUNIT_EXPECT_FALSE(test, kevent_matches(&k, &uk));
	uk = k.event;
	uk.type = KEVENT_TIMER;
	KUNIT_EXPECT_FALSE(test, kevent_matches(&k, &uk));
}

static struct kunit_case kevent_match_cases[] = {
	KUNIT_CASE(kevent_match_key_order),
	KUNIT_CASE(kevent_match_id_and_user),
	{}
};

static struct kunit_suite kevent_match_suite = {
	.name = "kevent_kunit_match",
	.test_cases = kevent_match_cases,
};

kunit_test_suites(&kevent_ring_suite, &kevent_ready_suite,
		  &kevent_match_suite);
