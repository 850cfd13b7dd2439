// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/deliver.c - the one delivery engine: waiting for events, and the
 * dequeue-copy-finish loop shared by kevent_get_events() (syscalls.c) and
 * kevent_wait() (ring.c).
 *
 *
 * Overview
 * --------
 *
 * A system call that delivers events describes where they go with a
 * struct kevent_sink (a user buffer, the ring) and calls
 * kevent_wait_deliver(). That function waits until the queue holds what
 * the sink asks for, then runs one pass of kevent_deliver():
 *
 *   reserve   the sink says how many events it can take (the ring takes
 *             its mutex and counts its free slots)
 *   dequeue   kevent_dequeue_ready() pops the head of the ready list
 *             (core.c makes it INFLIGHT) and, when the kevent must be
 *             polled again (level re-arm, LAST_CHECK, a wake-up without
 *             a mask), polls it and drops it if it is no longer ready
 *   copy      the sink copies the snapshot out; a failed copy puts the
 *             event back at the head of the ready list and ends the pass
 *   release   the sink publishes what it copied and drops its locks
 *   finish    only then are the delivered kevents finished, all together:
 *             a kevent requeued by its finish (level triggered, or fired
 *             meanwhile) is never seen twice by one call; the type is
 *             told (TIMER re-arms) before the kevent can be taken again,
 *             ONESHOT kevents are removed here, and the references taken
 *             by the dequeue are dropped.
 *
 * If everything that was ready vanished (another thread took it, or a
 * poll found it stale), a blocking call waits again.
 *
 *
 * Waiting
 * -------
 *
 * Threads wait on queue->wq as *exclusive* waiters. The entry's wake
 * function only wakes a thread that can take what is ready: enough events
 * for its min_nr and, for kevent_wait(), a free ring slot; it refuses the
 * others, and a refused or already running entry does not count against a
 * wake-one, which thus reaches a thread that can consume (io_uring's wake
 * functions check their waiter's condition the same way). Kicks and
 * kevent_commit() wake with KEVENT_WAKE_ANY or re-check the ring. A woken
 * thread that leaves without consuming (signal, timeout) passes the
 * wake-up on. Pollers of the queue fd wait on queue->poll_wq (queue.c).
 *
 * The wake function counts the threads actually woken (the "wakeups" line
 * of fdinfo), which is how the thundering-herd behaviour is observed from
 * user space. A woken entry leaves the wait queue and re-enters it at the
 * tail if its thread sleeps again, so wake-ones rotate among sleepers.
 *
 *
 * Locking
 * -------
 *
 * No lock of this file's own. reserve/release are the sink's (ring_mutex,
 * outermost); the dequeue and finish steps take the storage and ready
 * locks in core.c; ONESHOT removal takes queue->mutex, after the sink's
 * release, once per pass. The wait loop takes queue->wq.lock through the
 * wait-queue API, and the wake function runs under it, possibly inside a
 * source's storage and ready locks (core.c's order).
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_waiter: on the waiting thread's stack; min_nr, need_space
 * and kick are immutable while queued; woken is written by the wake
 * function under queue->wq.lock and read by the thread after finish_wait().
 */

#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/time.h>
#include <linux/time64.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <trace/events/kevent.h>

#include "kevent.h"

/**
 * kevent_get_timeout() - read a timeout argument
 * @uts: user timespec, NULL to wait forever
 * @flags: KEVENT_FLAGS_ABSTIME for an absolute CLOCK_REALTIME time
 * @t: the parsed timeout
 *
 * Relative timeouts are turned into an absolute CLOCK_MONOTONIC expiry so
 * that going back to sleep after a spurious wake-up does not extend them.
 *
 * Return: 0, -EFAULT or -EINVAL (negative, or tv_nsec out of range).
 */
int kevent_get_timeout(const struct __kernel_timespec __user *uts,
		       unsigned int flags, struct kevent_timeout *t)
{
	struct timespec64 ts;

	t->to = NULL;
	t->poll = false;
	t->clock = CLOCK_MONOTONIC;
	if (!uts)
		return 0;
	if (get_timespec64(&ts, uts))
		return -EFAULT;
	if (!timespec64_valid(&ts))
		return -EINVAL;
	if (flags & KEVENT_FLAGS_ABSTIME) {
		t->clock = CLOCK_REALTIME;
		t->expires = timespec64_to_ktime(ts);
	} else if (!ts.tv_sec && !ts.tv_nsec) {
		t->poll = true;
		t->expires = 0;
	} else {
		t->expires = ktime_add_safe(ktime_get(), timespec64_to_ktime(ts));
	}
	t->to = &t->expires;
	return 0;
}

/**
 * kevent_copy_out() - copy one event to user space
 * @dst: the user's struct ukevent (a buffer element or a ring slot)
 * @uk: the event
 *
 * One user-access window and five 8-byte stores: for a 40-byte structure
 * that is cheaper than copy_to_user()'s generic copy loop, and it is the
 * one copy of every event of both sinks.
 *
 * Context: process, may fault.
 * Return: 0, or -EFAULT.
 */
int kevent_copy_out(struct ukevent __user *dst, const struct ukevent *uk)
{
	if (!user_access_begin(dst, sizeof(*dst)))
		return -EFAULT;
	unsafe_copy_to_user((char __user *)dst, (const char *)uk, sizeof(*uk),
			    efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/**
 * struct kevent_waiter - a thread waiting in kevent_wait_deliver()
 * @wait: the entry on queue->wq
 * @sink: what the thread waits for (queue, min_nr, need_space, kick)
 * @woken: the wake function woke this thread
 */
struct kevent_waiter {
	struct wait_queue_entry wait;
	const struct kevent_sink *sink;
	bool woken;
};

/* Can the waiter of @s take what the queue holds now? */
static bool kevent_sink_ready(const struct kevent_sink *s)
{
	struct kevent_queue *q = s->q;

	return READ_ONCE(q->ready_num) >= s->min_nr &&
	       (!s->need_space || READ_ONCE(q->ring_free));
}

static bool kevent_sink_kicked(const struct kevent_sink *s)
{
	return atomic_read(&s->q->kick) != s->kick;
}

/*
 * queue->wq.lock held, any context. Refuse (return 0) a wake-up the
 * thread could not use, so that a wake-one goes on to the next waiter.
 */
static int kevent_wake_function(struct wait_queue_entry *wait,
				unsigned int mode, int sync, void *key)
{
	struct kevent_waiter *w = container_of(wait, struct kevent_waiter,
					       wait);
	int ret;

	if (key != KEVENT_WAKE_ANY && !kevent_sink_kicked(w->sink) &&
	    !kevent_sink_ready(w->sink))
		return 0;
	ret = autoremove_wake_function(wait, mode, sync, key);
	if (ret) {
		w->woken = true;
		atomic_long_inc(&w->sink->q->stat.wakeups);
		trace_kevent_wake(wait->private, key == KEVENT_WAKE_ANY);
	}
	return ret;
}

/* Results of kevent_wait_events() besides -EINTR. */
#define KEVENT_WAIT_TIMEOUT	0
#define KEVENT_WAIT_READY	1
#define KEVENT_WAIT_KICKED	2

/*
 * Sleep until the sink can be served, the timeout expires, a kick or a
 * signal comes. The condition is checked after prepare_to_wait_exclusive()
 * and before signals or the timeout, so a thread chosen by a wake-up
 * consumes the event even if a signal arrives at the same time.
 */
static int kevent_wait_events(struct kevent_sink *s, struct kevent_timeout *t)
{
	struct kevent_waiter w = { .sink = s };
	struct kevent_queue *q = s->q;
	bool timed_out = t->poll;
	int ret;

	/*
	 * Events already there: take them without touching the wait queue
	 * (epoll checks ep_events_available() before it sleeps the same way).
	 */
	if (kevent_sink_kicked(s))
		return KEVENT_WAIT_KICKED;
	if (kevent_sink_ready(s))
		return KEVENT_WAIT_READY;

	init_waitqueue_func_entry(&w.wait, kevent_wake_function);
	w.wait.private = current;
	INIT_LIST_HEAD(&w.wait.entry);
	atomic_inc(&q->waiters);
	for (;;) {
		prepare_to_wait_exclusive(&q->wq, &w.wait, TASK_INTERRUPTIBLE);
		if (kevent_sink_kicked(s)) {
			ret = KEVENT_WAIT_KICKED;
			break;
		}
		if (kevent_sink_ready(s)) {
			ret = KEVENT_WAIT_READY;
			break;
		}
		if (timed_out) {
			ret = KEVENT_WAIT_TIMEOUT;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (!schedule_hrtimeout_range_clock(t->to,
						    current->timer_slack_ns,
						    HRTIMER_MODE_ABS, t->clock))
			timed_out = true;
	}
	finish_wait(&q->wq, &w.wait);
	atomic_dec(&q->waiters);
	/* Leaving without consuming: the wake-up we took goes on. */
	if (w.woken && ret != KEVENT_WAIT_READY)
		kevent_queue_wake_one(q);
	return ret;
}

/**
 * kevent_dequeue_ready() - take the next event to deliver
 * @q: the queue
 * @uk: filled with the event to copy to user space
 *
 * Pops the ready list in order. A kevent that must be polled again (level
 * triggered and re-armed by its last delivery, KEVENT_REQ_LAST_CHECK, or
 * readied without knowing the mask) is checked here in process context;
 * if it is no longer ready it silently goes back to waiting (counted as
 * stale) and the next one is tried. The returned kevent is INFLIGHT: the
 * caller must hand it to kevent_requeue_failed() or kevent_finish_copied().
 *
 * Context: process, may sleep (the check may call f_op->poll()).
 * Return: the kevent (with a reference), or NULL if none is ready.
 */
struct kevent *kevent_dequeue_ready(struct kevent_queue *q, struct ukevent *uk)
{
	unsigned int budget = READ_ONCE(q->ready_num) + 1;
	struct kevent *k;
	bool recheck;
	int why;

	while (budget--) {
		k = kevent_pop_ready(q, uk, &recheck);
		if (!k)
			return NULL;
		why = KEVENT_TRACE_CHECK_NONE;
		/* LAB(04) begin: poll again a kevent that asks for it, drop it if stale */
		if (k->cb->check &&
		    (recheck || (uk->req_flags & KEVENT_REQ_LAST_CHECK))) {
			bool requeued;
			u32 mask;

			why = recheck ? KEVENT_TRACE_CHECK_RECHECK :
					KEVENT_TRACE_CHECK_LAST;
			atomic_long_inc(&q->stat.rechecked);
			mask = k->cb->check(k);
			if (!mask) {
				/* LAB(08) begin: count the kevents found stale */
				atomic_long_inc(&q->stat.stale);
				/* LAB(08) end */
				uk->ret_data[0] = 0;
				requeued = kevent_drop_inflight(k);
				trace_kevent_dequeue_drop(uk, why, requeued ?
							  KEVENT_TRACE_REFIRED :
							  KEVENT_TRACE_NOT_READY);
				kevent_put(k);
				continue;
			}
			/* kevent_requeue_failed() keeps it if the copy fails */
			uk->ret_data[0] = mask;
		}
		/* LAB(04) end */
		trace_kevent_dequeue(uk, why, why ? KEVENT_TRACE_STILL :
					      KEVENT_TRACE_DELIVER);
		return k;
	}
	return NULL;
}

/*
 * Finish the kevents of a pass, after the sink released its locks. While
 * INFLIGHT a kevent's ready_entry belongs to the delivering thread, which
 * links it on @batch; snap_fired/snap_req_flags keep what was copied.
 */
static void kevent_finish_batch(struct kevent_queue *q,
				struct list_head *batch)
{
	LIST_HEAD(oneshots);
	LIST_HEAD(last_refs);
	struct kevent *k, *next;

	kevent_finish_list(q, batch, &oneshots, &last_refs);
	if (!list_empty(&oneshots)) {
		mutex_lock(&q->mutex);
		list_for_each_entry(k, &oneshots, ready_entry)
			kevent_remove(q, k);
		mutex_unlock(&q->mutex);
	}
	list_splice(&oneshots, &last_refs);
	list_for_each_entry_safe(k, next, &last_refs, ready_entry) {
		list_del_init(&k->ready_entry);
		kevent_put(k);
	}
}

/*
 * The sink could not publish the pass: every kevent of @batch goes back
 * to the head of the ready list, the last first so that the order is
 * kept, and nothing is lost.
 */
static void kevent_requeue_batch(struct list_head *batch)
{
	struct kevent *k, *prev;

	list_for_each_entry_safe_reverse(k, prev, batch, ready_entry) {
		list_del_init(&k->ready_entry);
		kevent_requeue_failed(k, k->snap_mask);
		kevent_put(k);
	}
}

/**
 * kevent_deliver() - one pass of the dequeue-copy-finish loop
 * @s: the sink
 *
 * Copies up to what the sink reserved, each ready kevent at most once.
 * Never sleeps waiting for events.
 *
 * Context: process.
 * Return: the number of events copied; -EFAULT if the first copy failed
 * or the sink could not publish the pass, or the sink's reserve error.
 */
int kevent_deliver(struct kevent_sink *s)
{
	struct kevent_queue *q = s->q;
	int room, n = 0, ret = 0;
	LIST_HEAD(batch);
	struct ukevent uk;
	struct kevent *k;

	room = s->ops->reserve(s);
	if (room < 0)
		return room;
	while (n < room) {
		k = kevent_dequeue_ready(q, &uk);
		if (!k)
			break;
		if (s->ops->copy(s, &uk)) {
			kevent_requeue_failed(k, uk.ret_data[0]);
			kevent_put(k);
			ret = -EFAULT;
			break;
		}
		k->snap_fired = uk.ret_data[1];
		k->snap_req_flags = uk.req_flags;
		k->snap_mask = uk.ret_data[0];
		list_add_tail(&k->ready_entry, &batch);
		n++;
	}
	if (s->ops->release(s, n)) {
		kevent_requeue_batch(&batch);
		return -EFAULT;
	}
	kevent_finish_batch(q, &batch);
	return n ? n : ret;
}

/**
 * kevent_wait_deliver() - wait for events, then deliver them
 * @s: the sink; s->min_nr == 0 never waits
 * @t: the timeout
 *
 * After a timeout the events that are ready (fewer than min_nr, possibly
 * none) are delivered. A kick makes the call return 0 at once.
 *
 * Context: process.
 * Return: as kevent_deliver(), 0 on timeout or kick, or -EINTR.
 */
long kevent_wait_deliver(struct kevent_sink *s, struct kevent_timeout *t)
{
	int ret;

	for (;;) {
		bool timed_out = false;

		if (s->min_nr) {
			ret = kevent_wait_events(s, t);
			if (ret < 0)
				return ret;
			if (ret == KEVENT_WAIT_KICKED)
				return 0;
			timed_out = ret == KEVENT_WAIT_TIMEOUT;
		}
		ret = kevent_deliver(s);
		if (ret || !s->min_nr || timed_out)
			return ret;
	}
}
