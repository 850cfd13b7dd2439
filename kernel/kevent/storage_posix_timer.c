// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_posix_timer.c - KEVENT_POSIX_TIMER: expiries of a
 * timer_create() timer.
 *
 *
 * Overview
 * --------
 *
 * The process creates a timer with timer_create() (any clock, SIGEV_SIGNAL
 * or SIGEV_THREAD_ID: a SIGEV_NONE timer is never armed by the kernel),
 * then ADDs a POSIX_TIMER kevent whose id.raw[0] is the timer id. From then
 * on every expiry is reported to the kevent instead of queuing the timer's
 * signal; timer_settime(), timer_gettime() and timer_delete() work as
 * before. One kevent at most watches a timer (EBUSY otherwise).
 *
 * kernel/time/posix-timers.c calls kevent_posix_timer_fire() where it would
 * queue the signal, under the timer's lock, from the timer's interrupt (or
 * the CPU-timer and alarm-timer paths). A taken expiry is reported to the
 * posix-timer code as an ignored signal would be: a periodic timer re-arms
 * itself at once, counting the periods it skips in it_overrun (and, for a
 * period shorter than a tick, re-arming one tick later, as for an ignored
 * signal). The hook turns the growth of it_overrun since its previous call
 * into the kevent's overrun count, then readies the kevent through
 * kevent_storage_ready().
 *
 * ret_data[0] holds the overruns since the last delivery: expiries that
 * were not reported on their own (the timer was late, or its period
 * shorter than a tick), which the kernel learns when it re-arms the timer,
 * so they are reported with the expiry after the late one. ret_data[1]
 * holds the expiries reported since the last delivery (counted by the
 * core); their sum is the number of periods elapsed. timer_getoverrun()
 * only counts the overruns of queued signals and stays 0.
 *
 * A kevent is found from its timer in a hash table keyed by the k_itimer
 * (no field is added to struct k_itimer). Deleting the timer (timer_delete,
 * exec, exit) unhashes the kevent; the kevent stays registered and silent
 * until it is removed, and until then the key stays taken (a new timer
 * that reuses the id gets EEXIST).
 *
 *
 * Locking
 * -------
 *
 *   timer->it_lock (IRQ-safe; the firing path holds it)
 *     > kevent_ptimer_lock (IRQ-safe; attach and detach)
 *     > storage->lock > (the rest of the order, core.c)
 *
 * The firing path finds the kevent under RCU; detaching (REMOVE, close of
 * the queue) unhashes it under kevent_ptimer_lock and then waits for an
 * RCU grace period before the kevent's storage is freed, so a firing
 * that found it just before finishes on live memory (and finds the kevent
 * unlinked from its storage by then). The release of a timer runs before
 * its memory is freed and unhashes the same way.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_ptimer:
 *   node, timr           - kevent_ptimer_lock; node RCU for the firing path
 *   last_overrun, late   - the timer's it_lock (the firing path, attach)
 *   expiring             - the storage lock (set by the filter, consumed
 *                          by the type callback of the same pass)
 *   overrun, snap_overrun - the storage lock
 *   st                   - self
 */

#include <linux/hashtable.h>
#include <linux/minmax.h>
#include <linux/posix-timers.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/kevent.h>

#include "kevent.h"

/**
 * struct kevent_ptimer - a POSIX_TIMER kevent's type data
 * @node: in kevent_ptimer_table while attached to a timer
 * @rcu: frees it after the firing paths that may have found it
 * @timr: the timer watched, NULL once detached (a key only outside
 *	  the firing path, which holds its lock)
 * @last_overrun: the timer's it_overrun at the previous expiry
 * @late: overruns learnt at the expiry being reported
 * @expiring: the callback in progress reports an expiry, not a READY
 * @overrun: overruns since the last delivery
 * @snap_overrun: overruns reported by the delivery in flight
 * @st: the kevent's storage
 */
struct kevent_ptimer {
	struct hlist_node node;
	struct rcu_head rcu;
	struct k_itimer *timr;
	s64 last_overrun;
	u32 late;
	bool expiring;
	u32 overrun;
	u32 snap_overrun;
	struct kevent_storage st;
};

static DEFINE_HASHTABLE(kevent_ptimer_table, 6);
static DEFINE_SPINLOCK(kevent_ptimer_lock);
/* attached kevents: the firing paths' lockless "nobody watches" test */
static atomic_t kevent_ptimers = ATOMIC_INIT(0);

static struct kevent_ptimer *kevent_ptimer_lookup(const struct k_itimer *timr)
{
	struct kevent_ptimer *kp;

	hash_for_each_possible_rcu(kevent_ptimer_table, kp, node,
				   (unsigned long)timr)
		if (kp->timr == timr)
			return kp;
	return NULL;
}

/* Unhash @kp if still attached; kevent_ptimer_lock held. */
static void kevent_ptimer_unhash(struct kevent_ptimer *kp)
{
	lockdep_assert_held(&kevent_ptimer_lock);
	if (!kp->timr)
		return;
	hash_del_rcu(&kp->node);
	kp->timr = NULL;
	atomic_dec(&kevent_ptimers);
}

/* Filter of the firing path's kevent_storage_ready(): an expiry. */
static int kevent_ptimer_expiring(struct kevent *k)
{
	struct kevent_ptimer *kp = k->priv;

	kp->expiring = true;
	return 1;
}

/**
 * kevent_posix_timer_fire() - report an expiry of a timer to its kevent
 * @timr: the timer, expiring
 *
 * Called by posix_timer_queue_signal() instead of queuing the signal.
 *
 * Context: @timr->it_lock held, interrupts off, any context.
 * Return: true if a kevent took the expiry: the caller treats the signal
 * as ignored (and re-arms a periodic timer).
 */
bool kevent_posix_timer_fire(struct k_itimer *timr)
{
	struct kevent_ptimer *kp;
	s64 d;

	lockdep_assert_held(&timr->it_lock);
	if (!atomic_read(&kevent_ptimers))
		return false;
	rcu_read_lock();
	kp = kevent_ptimer_lookup(timr);
	if (kp) {
		/* timer_settime() restarts the count at -1 */
		if (timr->it_overrun < kp->last_overrun)
			kp->last_overrun = -1;
		d = timr->it_overrun - kp->last_overrun;
		kp->last_overrun = timr->it_overrun;
		kp->late = d > 1 ? min_t(s64, d - 1, U32_MAX) : 0;
		kevent_storage_ready(&kp->st, kevent_ptimer_expiring,
				     KEVENT_POSIX_TIMER_FIRED);
	}
	rcu_read_unlock();
	return kp;
}

/**
 * kevent_posix_timer_release() - forget a timer being freed
 * @timr: the timer, deleted (no longer armed nor reachable by its id)
 *
 * Its kevent, if any, stays registered and never fires again.
 *
 * Context: process.
 */
void kevent_posix_timer_release(struct k_itimer *timr)
{
	struct kevent_ptimer *kp;
	unsigned long flags;

	if (!atomic_read(&kevent_ptimers))
		return;
	spin_lock_irqsave(&kevent_ptimer_lock, flags);
	kp = kevent_ptimer_lookup(timr);
	if (kp)
		kevent_ptimer_unhash(kp);
	spin_unlock_irqrestore(&kevent_ptimer_lock, flags);
}

static int kevent_ptimer_validate(const struct ukevent *uk)
{
	if (uk->event != KEVENT_POSIX_TIMER_FIRED)
		return -EINVAL;
	/* timer ids are non-negative ints */
	if (uk->id.raw[1] || uk->id.raw[0] > INT_MAX)
		return -EINVAL;
	return 0;
}

/* Under the timer's lock (posix_timer_kevent_attach()). */
static int kevent_ptimer_attach(struct k_itimer *timr, void *arg)
{
	struct kevent_ptimer *kp = arg;
	int ret = 0;

	lockdep_assert_held(&timr->it_lock);
	spin_lock(&kevent_ptimer_lock);
	if (kevent_ptimer_lookup(timr)) {
		ret = -EBUSY;
	} else {
		kp->timr = timr;
		kp->last_overrun = timr->it_overrun;
		hash_add_rcu(kevent_ptimer_table, &kp->node,
			     (unsigned long)timr);
		atomic_inc(&kevent_ptimers);
	}
	spin_unlock(&kevent_ptimer_lock);
	return ret;
}

static int kevent_ptimer_enqueue(struct kevent *k)
{
	struct kevent_ptimer *kp = kzalloc(sizeof(*kp), GFP_KERNEL_ACCOUNT);
	int ret;

	if (!kp)
		return -ENOMEM;
	kevent_storage_init(&kp->st, k);
	k->priv = kp;
	/* Linked first: an expiry right after the attach is not lost. */
	kevent_storage_add(&kp->st, k);
	ret = posix_timer_kevent_attach(k->event.id.raw[0],
					kevent_ptimer_attach, kp);
	if (ret)
		kevent_storage_del(&kp->st, k);
	return ret;
}

static void kevent_ptimer_dequeue(struct kevent *k)
{
	struct kevent_ptimer *kp = k->priv;
	unsigned long flags;

	spin_lock_irqsave(&kevent_ptimer_lock, flags);
	kevent_ptimer_unhash(kp);
	spin_unlock_irqrestore(&kevent_ptimer_lock, flags);
	kevent_storage_del(&kp->st, k);
}

static void kevent_ptimer_destroy(struct kevent *k)
{
	struct kevent_ptimer *kp = k->priv;

	/* A firing path may still hold it (found before the unhash). */
	if (kp)
		kfree_rcu(kp, rcu);
}

/*
 * Storage lock held: an expiry (under the timer's lock, reported by the
 * filter) or a KEVENT_CTL_READY, which counts as one expiry.
 */
static int kevent_ptimer_callback(struct kevent *k, u32 event)
{
	struct kevent_ptimer *kp = k->priv;

	if (kp->expiring) {
		kp->expiring = false;
		kp->overrun = min_t(u64, U32_MAX, (u64)kp->overrun + kp->late);
	}
	return KEVENT_CB_READY;
}

/* Storage lock held: the overruns of the delivery being taken. */
static void kevent_ptimer_snapshot(struct kevent *k, struct ukevent *uk)
{
	struct kevent_ptimer *kp = k->priv;

	kp->snap_overrun = kp->overrun;
	uk->ret_data[0] = kp->overrun;
}

/* Storage lock held: the snapshot reached user space. */
static void kevent_ptimer_delivered(struct kevent *k)
{
	struct kevent_ptimer *kp = k->priv;

	kp->overrun -= min(kp->overrun, kp->snap_overrun);
	kp->snap_overrun = 0;
}

const struct kevent_callbacks kevent_posix_timer_callbacks = {
	.validate	= kevent_ptimer_validate,
	.enqueue	= kevent_ptimer_enqueue,
	.dequeue	= kevent_ptimer_dequeue,
	.destroy	= kevent_ptimer_destroy,
	.callback	= kevent_ptimer_callback,
	.snapshot	= kevent_ptimer_snapshot,
	.delivered	= kevent_ptimer_delivered,
};
