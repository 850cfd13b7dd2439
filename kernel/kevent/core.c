// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/core.c - kevents, storages and the ready list.
 *
 *
 * Overview
 * --------
 *
 * A kevent queue (queue.c) holds registered requests, struct kevent, in a
 * tree. Each kevent watches one *storage*: the list an event source keeps of
 * the kevents interested in it. The current types each give a kevent a
 * storage of its own (a POLL kevent's is hooked on its file's wait queues
 * as an epoll item is, storage_poll.c); a source with many watchers (the
 * original's sockets and inodes) keeps them all on one storage.
 *
 * When something happens, the source calls kevent_storage_ready(). That is
 * the only way a kevent becomes ready: for each kevent of the storage the
 * type callback decides whether the event concerns it and records the
 * event's data; a ready kevent is appended once to its queue's FIFO ready
 * list and the queue's waiters are woken (one of them for a
 * KEVENT_REQ_WAKEUP_ONE kevent, all of them otherwise).
 *
 * Delivery (deliver.c) takes kevents off the head of the ready list with
 * kevent_pop_ready(), which makes them INFLIGHT and snapshots their event,
 * copies each snapshot to user space and then ends the INFLIGHT period
 * here: kevent_requeue_failed() puts it back at the head if the copy
 * failed (no event is ever lost), kevent_finish_copied() subtracts what was
 * delivered and requeues it if it fired meanwhile, or, level triggered,
 * requeues it "to be checked" so that the next dequeue polls it again
 * and drops it if it is no longer ready (as epoll re-polls an item when it
 * transfers it). This file decides a kevent's state; deliver.c decides
 * when.
 *
 * While a kevent is INFLIGHT (being added, or being delivered) it is on no
 * list, and a source firing meanwhile only sets PENDING (and counts the
 * firing), so that the kevent cannot be delivered twice at once. PENDING
 * requeues it when the INFLIGHT period ends.
 *
 * KEVENT_REQ_WAKEUP_ONE is done the EPOLLEXCLUSIVE way: marking such a
 * kevent wakes at most one thread of its queue, and only a thread that can
 * take what is ready (deliver.c's wake function refuses otherwise, so the
 * wake-up passes on). When one source is watched by WAKEUP_ONE kevents of
 * several queues, they are tried in turn and the first one whose queue had
 * a sleeper to wake ends the search; a queue nobody sleeps on (a worker
 * busy elsewhere) is marked but does not stop it.
 *
 *
 * Locking
 * -------
 *
 * From outer to inner:
 *
 *   queue->ring_mutex   (kevent_wait/kevent_commit; held across
 *                        copy_to_user() into the ring)
 *     > queue->mutex    (kevent_ctl, the kevent tree, removal)
 *       > file->f_lock  (storage_poll.c: a watched file's kevent list)
 *       > wait-queue head lock of a polled file
 *         > storage->lock      (IRQ-safe)
 *           > queue->ready_lock (IRQ-safe)
 *             > queue->wq.lock
 *
 *   queue->poll_wq.lock is never taken under any of these: pollers of the
 *   queue fd are woken from queue->poll_work (an irq_work), so a cycle
 *   through epoll (a kevent of queue A polls an epoll that watches A) cannot
 *   take A's locks recursively.
 *
 * Rationale:
 *   - storage->lock and queue->ready_lock are spinlocks taken with
 *     interrupts disabled because sources fire from hard interrupt context:
 *     hrtimer callbacks and wake-ups of polled files (whose wait-queue
 *     callback runs under the wait-queue head lock).
 *   - A storage may be shared by kevents of several queues, so the storage
 *     lock is outside the per-queue ready lock: one pass over a storage
 *     takes the ready lock of each kevent's queue in turn.
 *   - Waiters are woken under the ready lock, which keeps "put on the list"
 *     and "wake" atomic with respect to a concurrent dequeue.
 *   - The mutexes are sleepable because their holders copy to and from
 *     user space, allocate, and call f_op->poll() (process context only;
 *     the wait-queue callback never calls f_op->poll()).
 *   - Dequeue must find a kevent through the ready list (ready_lock) but
 *     the storage lock ranks first. kevent_pop_ready() holds the ready
 *     lock and *tries* the head's storage lock (a trylock cannot
 *     deadlock); only when the source is firing at that moment does it
 *     pin the head with a reference, drop the ready lock, take storage
 *     then ready lock and re-check that the kevent is still the head.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_storage:
 *   list                 - storage->lock
 *   origin               - immutable
 *
 * struct kevent:
 *   node                 - queue->mutex
 *   storage_entry        - storage->lock
 *   ready_entry, flags   - queue->ready_lock
 *   event.event, event.req_flags, event.ret_flags, event.ret_data, fired
 *                        - storage->lock (written under queue->mutex too
 *                          for event and req_flags)
 *   event.id/type/user, queue, cb
 *                        - immutable
 *   st, priv             - written once by the type's enqueue, under
 *                          queue->mutex, before any source can see it
 *   refcnt               - atomic; the tree owns one reference and each
 *                          in-flight delivery another. The last put runs
 *                          in process context (kevent_put() may sleep).
 *
 * struct kevent_queue: see queue.c.
 */

#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <trace/events/kevent.h>

#include "kevent.h"

/* Storage types, indexed by KEVENT_* type; NULL for unimplemented ones. */
static const struct kevent_callbacks *const kevent_types[KEVENT_MAX_TYPES] = {
#ifdef CONFIG_KEVENT_SOCKET
	[KEVENT_SOCKET]	= &kevent_socket_callbacks,
#endif
#ifdef CONFIG_KEVENT_INODE
	[KEVENT_INODE]	= &kevent_inode_callbacks,
#endif
#ifdef CONFIG_KEVENT_TIMER
	[KEVENT_TIMER]	= &kevent_timer_callbacks,
#endif
#ifdef CONFIG_KEVENT_POLL
	[KEVENT_POLL]	= &kevent_poll_callbacks,
#endif
#ifdef CONFIG_KEVENT_USER
	[KEVENT_USER]	= &kevent_user_callbacks,
#endif
#ifdef CONFIG_KEVENT_SIGNAL
	[KEVENT_SIGNAL]	= &kevent_signal_callbacks,
#endif
#ifdef CONFIG_KEVENT_POSIX_TIMER
	[KEVENT_POSIX_TIMER] = &kevent_posix_timer_callbacks,
#endif
#ifdef CONFIG_KEVENT_PIPE
	[KEVENT_PIPE]	= &kevent_pipe_callbacks,
#endif
};

/**
 * kevent_type_callbacks() - look up the operations of a storage type
 * @type: a KEVENT_* type from user space
 *
 * Return: the type's operations, or NULL if @type is unknown or not built.
 */
const struct kevent_callbacks *kevent_type_callbacks(u32 type)
{
	if (type >= KEVENT_MAX_TYPES)
		return NULL;
	return kevent_types[array_index_nospec(type, KEVENT_MAX_TYPES)];
}

/**
 * kevent_alloc() - allocate a kevent for a request
 * @q: the queue it will belong to
 * @uk: the request
 * @cb: its type's operations
 *
 * The kevent starts with one reference (the queue tree's) and with the
 * kernel-filled fields of the request cleared.
 *
 * Return: the kevent, or NULL if out of memory.
 */
struct kevent *kevent_alloc(struct kevent_queue *q, const struct ukevent *uk,
			    const struct kevent_callbacks *cb)
{
	struct kevent *k = kzalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);

	if (!k)
		return NULL;
	RB_CLEAR_NODE(&k->node);
	INIT_LIST_HEAD(&k->storage_entry);
	INIT_LIST_HEAD(&k->ready_entry);
	k->event = *uk;
	k->event.ret_flags = 0;
	k->event.ret_data[0] = 0;
	k->event.ret_data[1] = 0;
	/* In flight until kevent_added(): ADD decides before any consumer. */
	k->flags = KEVENT_F_INFLIGHT;
	refcount_set(&k->refcnt, 1);
	k->queue = q;
	k->cb = cb;
	return k;
}

/**
 * kevent_get() - take a reference on a kevent
 * @k: a kevent the caller knows to be alive
 */
void kevent_get(struct kevent *k)
{
	refcount_inc(&k->refcnt);
}

/**
 * kevent_put() - drop a reference on a kevent, freeing it on the last one
 * @k: the kevent
 *
 * The last reference releases the type's resources (which may sleep), so
 * this must be called in process context without spinlocks.
 */
void kevent_put(struct kevent *k)
{
	might_sleep();
	if (!refcount_dec_and_test(&k->refcnt))
		return;
	if (k->cb->destroy)
		k->cb->destroy(k);
	kfree(k);
}

/**
 * kevent_storage_init() - initialise an event source's storage
 * @st: the storage
 * @origin: the object it belongs to
 */
void kevent_storage_init(struct kevent_storage *st, void *origin)
{
	spin_lock_init(&st->lock);
	INIT_LIST_HEAD(&st->list);
	st->origin = origin;
}

/**
 * kevent_storage_add() - make a kevent watch a storage
 * @st: the storage
 * @k: a kevent being enqueued (not yet visible to any source)
 *
 * From now on kevent_storage_ready() on @st can ready @k.
 */
void kevent_storage_add(struct kevent_storage *st, struct kevent *k)
{
	unsigned long flags;

	k->st = st;
	spin_lock_irqsave(&st->lock, flags);
	list_add_tail(&k->storage_entry, &st->list);
	spin_unlock_irqrestore(&st->lock, flags);
}

/* Take @k off the ready list; ready lock held. */
static void kevent_unlink_ready(struct kevent_queue *q, struct kevent *k)
{
	lockdep_assert_held(&q->ready_lock);

	if (k->flags & KEVENT_F_READY) {
		list_del_init(&k->ready_entry);
		WRITE_ONCE(q->ready_num, q->ready_num - 1);
		k->flags &= ~KEVENT_F_READY;
	}
}

/* Put @k on the ready list (at the head to undo a failed copy). */
static void kevent_link_ready(struct kevent_queue *q, struct kevent *k,
			      bool head)
{
	lockdep_assert_held(&q->ready_lock);

	k->flags |= KEVENT_F_READY;
	if (head)
		list_add(&k->ready_entry, &q->ready_list);
	else
		list_add_tail(&k->ready_entry, &q->ready_list);
	WRITE_ONCE(q->ready_num, q->ready_num + 1);
}

/*
 * Wake the queue's waiters: at most one thread, or all of them, among
 * those that can take what is ready (the wake function in deliver.c
 * refuses the others, so a wake-one passes on to a thread that can).
 * Returns the number of threads woken. The barrier pairs with the one of
 * set_current_state() in prepare_to_wait_exclusive() (and poll_wait()'s
 * in a poller of the queue fd), as wq_has_sleeper() does for one head.
 *
 * Pollers of the queue fd (select/poll/epoll) are on poll_wq and are
 * woken from an irq_work, with none of our locks held: an epoll watching
 * this queue may itself be watched by a kevent of this queue, and waking it
 * inline would take our own locks recursively.
 */
static int kevent_queue_wake(struct kevent_queue *q, bool one)
{
	int woken = 0;

	/* wq_has_sleeper() of both heads, with one barrier for the two */
	smp_mb();
	/* a waiter's set_current_state() pairs with the smp_mb() above */
	if (waitqueue_active(&q->wq))
		woken = __wake_up(&q->wq, TASK_NORMAL, one ? 1 : 0, NULL);
	/* a poller's poll_wait() pairs with the smp_mb() above */
	if (waitqueue_active(&q->poll_wq))
		irq_work_queue(&q->poll_work);
	return woken;
}

/**
 * kevent_queue_wake_one() - pass a wake-up on to one more waiter
 * @q: the queue
 *
 * For a woken waiter that leaves without taking anything (signal,
 * timeout) while events are ready: the wake-up it took goes to the next
 * thread that can use it.
 */
void kevent_queue_wake_one(struct kevent_queue *q)
{
	if (READ_ONCE(q->ready_num))
		kevent_queue_wake(q, true);
}

/*
 * Does readying @k wake one thread of its queue (KEVENT_REQ_WAKEUP_ONE,
 * the EPOLLEXCLUSIVE way) rather than all of them?
 */
static bool kevent_wakes_one(const struct kevent *k)
{
	/* LAB(03) begin: a WAKEUP_ONE kevent wakes one thread, not the herd */
	if (k->event.req_flags & KEVENT_REQ_WAKEUP_ONE)
		return true;
	/* LAB(03) end */
	return false;
}

/* Results of kevent_fire_locked(). */
#define KEVENT_FIRE_IGNORED	0	/* not for this kevent */
#define KEVENT_FIRE_TAKEN	1	/* recorded; nobody woken for it */
#define KEVENT_FIRE_WOKE	2	/* recorded, and a sleeper was woken */

/* The source of @st fired with @event for @k: the heart of notification. */
static int kevent_fire_locked(struct kevent_storage *st, struct kevent *k,
			      u32 event, bool count)
{
	struct kevent_queue *q = k->queue;
	int verdict = KEVENT_TRACE_ALREADY;
	int ret, woken = 0;

	lockdep_assert_held(&st->lock);

	ret = k->cb->callback(k, event);
	if (ret <= KEVENT_CB_NOT_READY) {
		trace_kevent_storage_ignored(&k->event, k->fired, event,
					     KEVENT_TRACE_IGNORED, false);
		return KEVENT_FIRE_IGNORED;
	}
	if (count && k->fired != U32_MAX)
		k->fired++;

	spin_lock(&q->ready_lock);
	if (ret == KEVENT_CB_RECHECK)
		k->flags |= KEVENT_F_RECHECK;
	if (k->flags & KEVENT_F_INFLIGHT) {
		k->flags |= KEVENT_F_PENDING;
		verdict = KEVENT_TRACE_PENDING;
	} else if (!(k->flags & KEVENT_F_READY)) {
		kevent_link_ready(q, k, false);
		atomic_long_inc(&q->stat.marked_ready);
		verdict = KEVENT_TRACE_QUEUED;
	}
	/* before the wake-up, so that the threads it wakes follow it */
	trace_kevent_storage_ready(&k->event, k->fired, event, verdict,
				   kevent_wakes_one(k));
	if (verdict == KEVENT_TRACE_QUEUED)
		woken = kevent_queue_wake(q, kevent_wakes_one(k));
	spin_unlock(&q->ready_lock);
	return woken ? KEVENT_FIRE_WOKE : KEVENT_FIRE_TAKEN;
}

/**
 * kevent_storage_notify() - report an event of a source to its kevents
 * @st: the source's storage
 * @ready_callback: optional filter run first for each kevent of @st; a
 *		    return value <= 0 skips the kevent
 * @event: what happened (type specific: a POLL* mask, KEVENT_TIMER_FIRED,
 *	   the mask given to KEVENT_CTL_READY)
 * @woke: if not NULL, set to whether a KEVENT_REQ_WAKEUP_ONE kevent woke a
 *	  sleeper of its queue (a wait-queue callback of an exclusive hook
 *	  returns it, so that the file's wake-up goes on to the next hook
 *	  until one really woke somebody, as ep_poll_callback() does)
 *
 * This is the one path through which kevents become ready. For each kevent
 * of @st, the type callback decides whether @event concerns it and records
 * the event data; a ready kevent is appended once to its queue's ready list
 * and that queue's waiters are woken: one thread able to take it for a
 * KEVENT_REQ_WAKEUP_ONE kevent, all of them otherwise. Once a WAKEUP_ONE
 * kevent of @st has woken a thread, the other WAKEUP_ONE kevents of @st
 * are left alone; kevents of queues with nobody asleep do not count.
 *
 * Context: any, including hard interrupt; takes @st->lock with interrupts
 * disabled.
 * Return: the number of kevents that took the event.
 */
int kevent_storage_notify(struct kevent_storage *st,
			  kevent_callback_t ready_callback, u32 event,
			  bool *woke)
{
	bool one_woke = false, one;
	unsigned long flags;
	struct kevent *k;
	int n = 0, ret;

	spin_lock_irqsave(&st->lock, flags);
	list_for_each_entry(k, &st->list, storage_entry) {
		one = kevent_wakes_one(k);
		/* LAB(03) begin: one WAKEUP_ONE wake-up per firing */
		if (one && one_woke)
			continue;
		/* LAB(03) end */
		if (ready_callback && ready_callback(k) <= 0)
			continue;
		ret = kevent_fire_locked(st, k, event, true);
		if (ret != KEVENT_FIRE_IGNORED)
			n++;
		/* LAB(03) begin: did a WAKEUP_ONE kevent wake a thread? */
		if (one && ret == KEVENT_FIRE_WOKE)
			one_woke = true;
		/* LAB(03) end */
	}
	spin_unlock_irqrestore(&st->lock, flags);
	if (woke)
		*woke = one_woke;
	return n;
}

/**
 * kevent_storage_ready() - report an event of a source to its kevents
 * @st: the source's storage
 * @ready_callback: optional per-kevent filter, see kevent_storage_notify()
 * @event: what happened
 *
 * kevent_storage_notify() for sources that do not need to know whether a
 * thread was woken.
 *
 * Context: any, including hard interrupt.
 * Return: the number of kevents that took the event.
 */
int kevent_storage_ready(struct kevent_storage *st,
			 kevent_callback_t ready_callback, u32 event)
{
	return kevent_storage_notify(st, ready_callback, event, NULL);
}

static int __kevent_ready(struct kevent *k, u32 event, bool count)
{
	struct kevent_storage *st = k->st;
	unsigned long flags;
	int ret = 0;

	if (!st)
		return 0;
	spin_lock_irqsave(&st->lock, flags);
	if (!list_empty(&k->storage_entry))
		ret = kevent_fire_locked(st, k, event, count) !=
		      KEVENT_FIRE_IGNORED;
	spin_unlock_irqrestore(&st->lock, flags);
	return ret;
}

/**
 * kevent_ready() - ready one kevent through its storage
 * @k: a kevent
 * @event: as for kevent_storage_ready()
 *
 * The same as kevent_storage_ready() on @k's storage with a filter
 * selecting @k only (KEVENT_CTL_READY). Does nothing if @k was removed.
 *
 * Return: 1 if @k took the event, 0 otherwise.
 */
int kevent_ready(struct kevent *k, u32 event)
{
	return __kevent_ready(k, event, true);
}

/**
 * kevent_ready_checked() - ready a kevent found ready by its type's check
 * @k: a kevent
 * @mask: what the check found
 *
 * As kevent_ready(), but the source did not fire: nothing is added to the
 * count of notifications reported in ret_data[1] (MODIFY).
 *
 * Return: 1 if @k took the event, 0 otherwise.
 */
int kevent_ready_checked(struct kevent *k, u32 mask)
{
	return __kevent_ready(k, mask, false);
}

/**
 * kevent_added() - end the INFLIGHT period of a kevent being added
 * @k: a kevent whose type's enqueue succeeded, registered for good
 * @mask: the ready mask enqueue found (0: not ready)
 *
 * A kevent ready at ADD (KEVENT_REQ_ALWAYS_QUEUE) is queued with @mask; one
 * whose source fired while ADD was deciding is queued as fired. Until now
 * no consumer could see it, so an ADD that reports the request completed
 * at once never races with a delivery of the same event.
 */
void kevent_added(struct kevent *k, u32 mask)
{
	struct kevent_storage *st = k->st;
	struct kevent_queue *q = k->queue;
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	if (mask)
		k->event.ret_data[0] = mask;
	spin_lock(&q->ready_lock);
	k->flags &= ~KEVENT_F_INFLIGHT;
	if (!(k->flags & KEVENT_F_DEAD) &&
	    (mask || (k->flags & KEVENT_F_PENDING))) {
		kevent_link_ready(q, k, false);
		atomic_long_inc(&q->stat.marked_ready);
		trace_kevent_storage_ready_at_add(&k->event, k->fired, mask,
						  KEVENT_TRACE_QUEUED,
						  kevent_wakes_one(k));
		kevent_queue_wake(q, kevent_wakes_one(k));
	}
	k->flags &= ~KEVENT_F_PENDING;
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
}

/* Both locks held: unlink the head @k, make it INFLIGHT, snapshot it. */
static void kevent_pop_locked(struct kevent_queue *q, struct kevent *k,
			      struct ukevent *uk, bool *recheck)
{
	kevent_unlink_ready(q, k);
	k->flags |= KEVENT_F_INFLIGHT;
	*recheck = k->flags & KEVENT_F_RECHECK;
	k->flags &= ~KEVENT_F_RECHECK;
	*uk = k->event;
	uk->ret_data[1] = k->fired;
	uk->ret_flags |= KEVENT_RET_DONE;
	if (k->event.req_flags & KEVENT_REQ_ET)
		k->event.ret_data[0] = 0;
	if (k->cb->snapshot)
		k->cb->snapshot(k, uk);
}

/**
 * kevent_pop_ready() - take the head of a ready list for delivery
 * @q: the queue
 * @uk: filled with a snapshot of the event
 * @recheck: set if the kevent must be polled before it is delivered
 *
 * The head kevent becomes INFLIGHT. The snapshot and the unlinking happen
 * together under the storage lock so that firings are either in the
 * snapshot or counted for the next delivery. An edge-triggered kevent's
 * ret_data[0] starts accumulating afresh (the snapshot holds what was
 * accumulated).
 *
 * Return: the kevent with a reference, or NULL if the list is empty.
 */
struct kevent *kevent_pop_ready(struct kevent_queue *q, struct ukevent *uk,
				bool *recheck)
{
	struct kevent_storage *st;
	unsigned long flags;
	struct kevent *k;

	/*
	 * Fast path, one hold of the ready lock: the storage lock ranks
	 * above it, but a trylock cannot deadlock, and while both are held
	 * the head cannot change or go away.
	 */
	spin_lock_irqsave(&q->ready_lock, flags);
	k = list_first_entry_or_null(&q->ready_list, struct kevent,
				     ready_entry);
	if (!k) {
		spin_unlock_irqrestore(&q->ready_lock, flags);
		return NULL;
	}
	if (spin_trylock(&k->st->lock)) {
		kevent_get(k);
		kevent_pop_locked(q, k, uk, recheck);
		spin_unlock(&k->st->lock);
		spin_unlock_irqrestore(&q->ready_lock, flags);
		return k;
	}
	spin_unlock_irqrestore(&q->ready_lock, flags);

	/* The source is firing: take the locks in order and re-check. */
	for (;;) {
		spin_lock_irq(&q->ready_lock);
		k = list_first_entry_or_null(&q->ready_list, struct kevent,
					     ready_entry);
		if (k)
			kevent_get(k);
		spin_unlock_irq(&q->ready_lock);
		if (!k)
			return NULL;

		st = k->st;
		spin_lock_irqsave(&st->lock, flags);
		spin_lock(&q->ready_lock);
		if ((k->flags & KEVENT_F_READY) &&
		    list_first_entry(&q->ready_list, struct kevent,
				     ready_entry) == k) {
			kevent_pop_locked(q, k, uk, recheck);
			spin_unlock(&q->ready_lock);
			spin_unlock_irqrestore(&st->lock, flags);
			return k;
		}
		/* Raced with another consumer or a removal: try again. */
		spin_unlock(&q->ready_lock);
		spin_unlock_irqrestore(&st->lock, flags);
		kevent_put(k);
	}
}

/*
 * End an INFLIGHT period; ready lock and storage lock held. The kevent is
 * requeued if @requeue, or if it fired meanwhile (PENDING); @head puts it
 * first (a failed copy keeps its place). Returns true if it was requeued.
 */
static bool kevent_end_inflight(struct kevent *k, bool requeue, bool head,
				bool wake)
{
	struct kevent_queue *q = k->queue;
	bool linked = false;

	k->flags &= ~KEVENT_F_INFLIGHT;
	if (!(k->flags & KEVENT_F_DEAD) &&
	    (requeue || (k->flags & KEVENT_F_PENDING))) {
		kevent_link_ready(q, k, head);
		linked = true;
		if (k->flags & KEVENT_F_PENDING)
			atomic_long_inc(&q->stat.marked_ready);
		if (wake || (k->flags & KEVENT_F_PENDING))
			kevent_queue_wake(q, kevent_wakes_one(k));
	}
	k->flags &= ~KEVENT_F_PENDING;
	return linked;
}

/**
 * kevent_drop_inflight() - a dequeued kevent turned out not to be ready
 * @k: a kevent from kevent_pop_ready()
 *
 * It goes back to waiting for its source, or to the ready list if the
 * source fired while it was being checked. Drops nothing: the caller
 * still owns its reference.
 *
 * Return: true if it went back to the ready list (it fired meanwhile).
 */
bool kevent_drop_inflight(struct kevent *k)
{
	struct kevent_storage *st = k->st;
	unsigned long flags;
	bool requeued;

	spin_lock_irqsave(&st->lock, flags);
	spin_lock(&k->queue->ready_lock);
	requeued = kevent_end_inflight(k, false, false, false);
	spin_unlock(&k->queue->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
	return requeued;
}

/**
 * kevent_requeue_failed() - a dequeued kevent could not be copied out
 * @k: a kevent from kevent_pop_ready()
 * @mask: the snapshot's ret_data[0], which did not reach user space
 *
 * Back to the head of the ready list with its firing count intact and
 * KEVENT_RET_COPY_FAILED set, so nothing is lost. The snapshot's mask goes
 * back into the kevent (it may come from a poll at dequeue): merged into
 * an edge-triggered one, or as the mask unless the source fired meanwhile
 * with a newer one.
 */
void kevent_requeue_failed(struct kevent *k, u32 mask)
{
	struct kevent_storage *st = k->st;
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	k->event.ret_flags |= KEVENT_RET_COPY_FAILED;
	spin_lock(&k->queue->ready_lock);
	if (k->event.req_flags & KEVENT_REQ_ET)
		k->event.ret_data[0] |= mask;
	else if (!(k->flags & KEVENT_F_PENDING))
		k->event.ret_data[0] = mask;
	kevent_end_inflight(k, true, true, true);
	spin_unlock(&k->queue->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
}

/* What the end of @k's delivery is about to do, for the trace. */
static int kevent_finish_verdict(const struct kevent *k, bool oneshot,
				 bool level)
{
	if (oneshot)
		return KEVENT_TRACE_ONESHOT;
	if (k->flags & KEVENT_F_DEAD)
		return KEVENT_TRACE_GONE;
	if (k->flags & KEVENT_F_PENDING)
		return KEVENT_TRACE_FIRED;
	return level ? KEVENT_TRACE_RECHECK : KEVENT_TRACE_DONE;
}

/*
 * Both locks held: end the delivery of @k (see kevent_finish_copied()).
 * Returns true for a ONESHOT kevent, which stays INFLIGHT for removal.
 */
static bool kevent_finish_locked(struct kevent *k, u32 fired, u32 req_flags)
{
	bool oneshot = req_flags & KEVENT_REQ_ONESHOT;
	bool level = k->cb->check && !(req_flags & KEVENT_REQ_ET);
	bool more = false;

	k->fired -= min(k->fired, fired);
	k->event.ret_flags &= ~KEVENT_RET_COPY_FAILED;
	trace_kevent_finish(&k->event, k->fired,
			    kevent_finish_verdict(k, oneshot, level));
	if (oneshot)
		return true;
	/*
	 * The type accounts the delivery while the kevent is still in
	 * flight: requeued, another thread could take it at once, and its
	 * snapshot must see this delivery accounted (TIMER would otherwise
	 * count the same expiries twice, or none).
	 */
	if (k->cb->delivered)
		k->cb->delivered(k);
	if (k->cb->more)
		more = k->cb->more(k);
	if (level)
		k->flags |= KEVENT_F_RECHECK;
	/* More to deliver is as good as a new firing: requeue and wake. */
	kevent_end_inflight(k, level || more, false, more);
	return false;
}

/**
 * kevent_finish_copied() - a dequeued kevent reached user space
 * @k: a kevent from kevent_pop_ready()
 * @fired: the firing count the snapshot reported
 * @req_flags: the request flags of the snapshot
 *
 * The delivered firings are subtracted. A kevent that fired again during
 * the delivery is requeued (and wakes a waiter). A level-triggered kevent
 * that has a check (POLL) is requeued "to be checked", without waking
 * anybody: the thread that just got it is expected to act on it, and the
 * next dequeue polls it and drops it if it is no longer ready, so it is
 * never reported stale. The type's ->delivered runs first, before the
 * kevent can be taken again. A delivered ONESHOT kevent stays INFLIGHT;
 * the caller removes it.
 *
 * Return: true if the caller must remove @k (ONESHOT).
 */
bool kevent_finish_copied(struct kevent *k, u32 fired, u32 req_flags)
{
	struct kevent_storage *st = k->st;
	struct kevent_queue *q = k->queue;
	unsigned long flags;
	bool oneshot;

	spin_lock_irqsave(&st->lock, flags);
	spin_lock(&q->ready_lock);
	oneshot = kevent_finish_locked(k, fired, req_flags);
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
	atomic_long_inc(&q->stat.delivered);
	return oneshot;
}

/**
 * kevent_finish_list() - finish a pass's delivered kevents at once
 * @q: their queue
 * @batch: kevents from kevent_pop_ready() that reached user space, linked
 *	   by ready_entry, with snap_fired and snap_req_flags set; emptied
 * @oneshots: receives the ONESHOT kevents, still INFLIGHT, for removal
 *	      (the caller also drops their dequeue reference)
 * @last_refs: receives the kevents whose dequeue reference is the last one
 *	       (removed meanwhile), for the caller to put where it may sleep
 *
 * kevent_finish_copied() for each, in order, in one hold of the ready
 * lock: the storage lock ranks above it, but a trylock cannot deadlock,
 * and only a storage whose source fires at that moment costs a drop and
 * retake in order. The other dequeue references are dropped here.
 */
void kevent_finish_list(struct kevent_queue *q, struct list_head *batch,
			struct list_head *oneshots, struct list_head *last_refs)
{
	struct kevent *k, *next;
	unsigned long flags;
	long n = 0;

	local_irq_save(flags);
	spin_lock(&q->ready_lock);
	list_for_each_entry_safe(k, next, batch, ready_entry) {
		struct kevent_storage *st = k->st;

		list_del_init(&k->ready_entry);
		if (!spin_trylock(&st->lock)) {
			spin_unlock(&q->ready_lock);
			spin_lock(&st->lock);
			spin_lock(&q->ready_lock);
		}
		if (kevent_finish_locked(k, k->snap_fired, k->snap_req_flags))
			list_add_tail(&k->ready_entry, oneshots);
		/*
		 * Not the last reference: the tree still holds one. The last
		 * one (removed meanwhile: DEAD, on no list) is put later.
		 */
		else if (!refcount_dec_not_one(&k->refcnt))
			list_add_tail(&k->ready_entry, last_refs);
		spin_unlock(&st->lock);
		n++;
	}
	spin_unlock(&q->ready_lock);
	local_irq_restore(flags);
	atomic_long_add(n, &q->stat.delivered);
}

/**
 * kevent_storage_del() - stop a kevent watching its storage
 * @st: the storage
 * @k: the kevent
 *
 * Also takes @k off its queue's ready list: a removed kevent is never
 * delivered. After this no kevent_storage_ready() on @st reaches @k.
 *
 * Return: true if @k was ready and not yet delivered.
 */
bool kevent_storage_del(struct kevent_storage *st, struct kevent *k)
{
	struct kevent_queue *q = k->queue;
	unsigned long flags;
	bool was_ready;

	spin_lock_irqsave(&st->lock, flags);
	list_del_init(&k->storage_entry);
	spin_lock(&q->ready_lock);
	was_ready = k->flags & KEVENT_F_READY;
	kevent_unlink_ready(q, k);
	k->flags |= KEVENT_F_DEAD;
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
	return was_ready;
}

/**
 * kevent_queue_kick() - make every waiter of a queue return
 * @q: the queue
 *
 * KEVENT_CTL_READY with num == 0: threads sleeping in kevent_get_events()
 * or kevent_wait() return 0, so that a program can stop them.
 */
void kevent_queue_kick(struct kevent_queue *q)
{
	atomic_inc(&q->kick);
	__wake_up(&q->wq, TASK_NORMAL, 0, KEVENT_WAKE_ANY);
}

/**
 * kevent_record_mask() - the type callback of a storage whose events are a mask
 * @k: a kevent of the storage being readied (storage lock held)
 * @mask: what the source reported that @k asks for
 *
 * Records @mask as @k's ready mask: an edge-triggered kevent accumulates
 * the events it has not delivered yet, a level-triggered one keeps the
 * latest (it is checked again before a later delivery). Shared by the
 * POLL, SOCKET and PIPE callbacks.
 *
 * Return: KEVENT_CB_READY, or KEVENT_CB_NOT_READY if @mask is empty.
 */
int kevent_record_mask(struct kevent *k, u32 mask)
{
	if (!mask)
		return KEVENT_CB_NOT_READY;
	if (k->event.req_flags & KEVENT_REQ_ET)
		k->event.ret_data[0] |= mask;
	else
		k->event.ret_data[0] = mask;
	return KEVENT_CB_READY;
}
