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
 * the kevents interested in it. USER and TIMER kevents own their storage;
 * all POLL kevents on one open file share the file's storage.
 *
 * When something happens, the source calls kevent_storage_ready(). That is
 * the only way a kevent becomes ready: for each kevent of the storage the
 * type callback decides whether the event concerns it and records the
 * event's data; a ready kevent is appended once to its queue's FIFO ready
 * list and the queue's waiters are woken (one of them for a
 * KEVENT_REQ_WAKEUP_ONE kevent, all of them otherwise).
 *
 * Delivery (kevent_get_events(), kevent_wait()) takes kevents off the head
 * of the ready list one at a time with kevent_dequeue_ready(), copies a
 * snapshot of each to user space and then calls kevent_finish_delivery(),
 * which decides the kevent's future: requeued at the head if the copy
 * failed (no event is ever lost), removed if ONESHOT, re-polled and
 * requeued if level triggered and still ready, left waiting otherwise.
 *
 * While a kevent is being delivered it is INFLIGHT: it is on no list, and
 * a source firing meanwhile only sets PENDING (and counts the firing), so
 * that the kevent cannot be delivered twice at once. PENDING requeues it
 * when the delivery finishes.
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
 *       > kevent_poll_mutex (storage_poll.c: the per-file storage hash)
 *         > wait-queue head lock of a polled file
 *           > storage->lock      (IRQ-safe)
 *             > queue->ready_lock (IRQ-safe)
 *               > queue->wq.lock / queue->space_wq.lock
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
 *     has to take the storage lock first; it pins the head kevent with a
 *     reference, drops the ready lock, takes storage then ready lock and
 *     re-checks that the kevent is still the head (kevent_pop()).
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_storage:
 *   list, ready_one      - storage->lock
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

#include "kevent.h"

/* Storage types, indexed by KEVENT_* type; NULL for unimplemented ones. */
static const struct kevent_callbacks *const kevent_types[KEVENT_MAX_TYPES] = {
#ifdef CONFIG_KEVENT_TIMER
	[KEVENT_TIMER]	= &kevent_timer_callbacks,
#endif
#ifdef CONFIG_KEVENT_POLL
	[KEVENT_POLL]	= &kevent_poll_callbacks,
#endif
#ifdef CONFIG_KEVENT_USER
	[KEVENT_USER]	= &kevent_user_callbacks,
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
 * The last reference releases the type's resources (a file reference for
 * POLL), so this must be called in process context without spinlocks.
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
	st->ready_one = 0;
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

/* Take @k off the ready list; both locks held. */
static void kevent_unlink_ready(struct kevent_queue *q,
				struct kevent_storage *st, struct kevent *k)
{
	lockdep_assert_held(&st->lock);
	lockdep_assert_held(&q->ready_lock);

	if (k->flags & KEVENT_F_READY) {
		list_del_init(&k->ready_entry);
		WRITE_ONCE(q->ready_num, q->ready_num - 1);
		k->flags &= ~KEVENT_F_READY;
	}
	if (k->flags & KEVENT_F_COUNTED_ONE) {
		st->ready_one--;
		k->flags &= ~KEVENT_F_COUNTED_ONE;
	}
}

/* Put @k on the ready list (at the head to undo a failed copy). */
static void kevent_link_ready(struct kevent_queue *q,
			      struct kevent_storage *st, struct kevent *k,
			      bool head)
{
	lockdep_assert_held(&st->lock);
	lockdep_assert_held(&q->ready_lock);

	k->flags |= KEVENT_F_READY;
	if (k->event.req_flags & KEVENT_REQ_WAKEUP_ONE) {
		k->flags |= KEVENT_F_COUNTED_ONE;
		st->ready_one++;
	}
	if (head)
		list_add(&k->ready_entry, &q->ready_list);
	else
		list_add_tail(&k->ready_entry, &q->ready_list);
	WRITE_ONCE(q->ready_num, q->ready_num + 1);
}

/*
 * Wake the queue's waiters: exactly one thread, or all of them. The threads
 * wait exclusively (syscalls.c), so __wake_up() with nr 1 wakes one.
 * wq_has_sleeper() pairs with the barrier of set_current_state() in
 * prepare_to_wait_exclusive().
 *
 * Pollers of the queue fd (select/poll/epoll) are on poll_wq and are
 * woken from an irq_work, with none of our locks held: an epoll watching
 * this queue may itself be watched by a kevent of this queue, and waking it
 * inline would take our own locks recursively.
 */
static void kevent_queue_wake(struct kevent_queue *q, bool one)
{
	if (wq_has_sleeper(&q->wq))
		__wake_up(&q->wq, TASK_NORMAL, one ? 1 : 0, NULL);
	if (wq_has_sleeper(&q->poll_wq))
		irq_work_queue(&q->poll_work);
}

/*
 * The source of @st fired with @event for @k: the heart of
 * kevent_storage_ready(). Returns 1 if @k took the event.
 */
static int kevent_fire_locked(struct kevent_storage *st, struct kevent *k,
			      u32 event, bool count)
{
	struct kevent_queue *q = k->queue;
	bool one = k->event.req_flags & KEVENT_REQ_WAKEUP_ONE;
	int ret;

	lockdep_assert_held(&st->lock);

	/*
	 * Thundering herd: while one WAKEUP_ONE kevent of this storage is
	 * ready, the others are not marked; the ready one stands for the
	 * storage. COUNTED_ONE only changes under st->lock, which we hold.
	 */
	if (one && st->ready_one &&
	    !(READ_ONCE(k->flags) & KEVENT_F_COUNTED_ONE))
		return 0;

	ret = k->cb->callback(k, event);
	if (ret <= KEVENT_CB_NOT_READY)
		return 0;
	if (count)
		k->fired++;

	spin_lock(&q->ready_lock);
	if (ret == KEVENT_CB_RECHECK)
		k->flags |= KEVENT_F_RECHECK;
	if (k->flags & KEVENT_F_INFLIGHT) {
		k->flags |= KEVENT_F_PENDING;
	} else if (!(k->flags & KEVENT_F_READY)) {
		kevent_link_ready(q, st, k, false);
		atomic_long_inc(&q->stat.marked_ready);
		kevent_queue_wake(q, one);
	}
	spin_unlock(&q->ready_lock);
	return 1;
}

/**
 * kevent_storage_ready() - report an event of a source to its kevents
 * @st: the source's storage
 * @ready_callback: optional filter run first for each kevent of @st; a
 *		    return value <= 0 skips the kevent
 * @event: what happened (type specific: a POLL* mask, KEVENT_TIMER_FIRED,
 *	   the mask given to KEVENT_CTL_READY)
 *
 * This is the one path through which kevents become ready. For each kevent
 * of @st, the type callback decides whether @event concerns it and records
 * the event data; a ready kevent is appended once to its queue's ready list
 * and that queue's waiters are woken: exactly one waiting thread for a
 * KEVENT_REQ_WAKEUP_ONE kevent, all of them otherwise. While a WAKEUP_ONE
 * kevent of @st is ready, further WAKEUP_ONE kevents of @st are skipped.
 *
 * Context: any, including hard interrupt; takes @st->lock with interrupts
 * disabled.
 * Return: the number of kevents that took the event.
 */
int kevent_storage_ready(struct kevent_storage *st,
			 kevent_callback_t ready_callback, u32 event)
{
	unsigned long flags;
	struct kevent *k;
	int n = 0;

	spin_lock_irqsave(&st->lock, flags);
	list_for_each_entry(k, &st->list, storage_entry) {
		if (ready_callback && ready_callback(k) <= 0)
			continue;
		n += kevent_fire_locked(st, k, event, true);
	}
	spin_unlock_irqrestore(&st->lock, flags);
	return n;
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
		ret = kevent_fire_locked(st, k, event, count);
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
 * count of notifications reported in ret_data[1] (ALWAYS_QUEUE at ADD,
 * MODIFY, level-triggered re-arm after delivery).
 *
 * Return: 1 if @k took the event, 0 otherwise.
 */
int kevent_ready_checked(struct kevent *k, u32 mask)
{
	return __kevent_ready(k, mask, false);
}

/*
 * Take the head of the ready list and mark it INFLIGHT, filling @uk with a
 * snapshot of the event. The snapshot and the unlinking happen together
 * under the storage lock so that firings are either in the snapshot or
 * counted for the next delivery. Returns the kevent with a reference.
 */
static struct kevent *kevent_pop(struct kevent_queue *q, struct ukevent *uk,
				 bool *recheck)
{
	struct kevent_storage *st;
	unsigned long flags;
	struct kevent *k;

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
			kevent_unlink_ready(q, st, k);
			k->flags |= KEVENT_F_INFLIGHT;
			*recheck = k->flags & KEVENT_F_RECHECK;
			k->flags &= ~KEVENT_F_RECHECK;
			*uk = k->event;
			uk->ret_data[1] = k->fired;
			uk->ret_flags |= KEVENT_RET_DONE;
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
 * End an INFLIGHT period without delivering: the kevent goes back to
 * waiting for its source, or to the ready list if it fired meanwhile.
 */
static void kevent_unpop(struct kevent_queue *q, struct kevent *k)
{
	struct kevent_storage *st = k->st;
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	spin_lock(&q->ready_lock);
	k->flags &= ~KEVENT_F_INFLIGHT;
	if ((k->flags & (KEVENT_F_PENDING | KEVENT_F_DEAD)) ==
	    KEVENT_F_PENDING) {
		kevent_link_ready(q, st, k, false);
		atomic_long_inc(&q->stat.marked_ready);
		kevent_queue_wake(q, k->event.req_flags & KEVENT_REQ_WAKEUP_ONE);
	}
	k->flags &= ~KEVENT_F_PENDING;
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
}

/*
 * Record a mask found by the type's check in the kevent too: if the copy
 * fails, the requeued event must still carry it.
 */
static void kevent_set_checked(struct kevent *k, u32 mask)
{
	unsigned long flags;

	spin_lock_irqsave(&k->st->lock, flags);
	k->event.ret_data[0] = mask;
	spin_unlock_irqrestore(&k->st->lock, flags);
}

/**
 * kevent_dequeue_ready() - take the next event to deliver
 * @q: the queue
 * @uk: filled with the event to copy to user space
 *
 * Pops the ready list in order. A kevent with KEVENT_REQ_LAST_CHECK, or one
 * readied without knowing the mask, is checked again here in process
 * context; if it is no longer ready it silently goes back to waiting and
 * the next one is tried. The returned kevent is INFLIGHT: the caller must
 * hand it to kevent_finish_delivery() whether or not the copy succeeded.
 *
 * Context: process, may sleep (the check may call f_op->poll()).
 * Return: the kevent (with a reference), or NULL if none is ready.
 */
struct kevent *kevent_dequeue_ready(struct kevent_queue *q, struct ukevent *uk)
{
	unsigned int budget = READ_ONCE(q->ready_num) + 1;
	struct kevent *k;
	bool recheck;
	u32 mask;

	while (budget--) {
		k = kevent_pop(q, uk, &recheck);
		if (!k)
			return NULL;
		if (!k->cb->check ||
		    !(recheck || (uk->req_flags & KEVENT_REQ_LAST_CHECK)))
			return k;
		mask = k->cb->check(k);
		if (mask) {
			kevent_set_checked(k, mask);
			uk->ret_data[0] = mask;
			return k;
		}
		kevent_unpop(q, k);
		kevent_put(k);
	}
	return NULL;
}

static void __kevent_finish(struct kevent_queue *q, struct kevent *k,
			    u32 fired, u32 req_flags, bool copied)
{
	bool oneshot = copied && (req_flags & KEVENT_REQ_ONESHOT);
	struct kevent_storage *st = k->st;
	bool requeued = false, dead;
	unsigned long flags;
	u32 mask;

	spin_lock_irqsave(&st->lock, flags);
	if (copied) {
		k->fired -= min(k->fired, fired);
		k->event.ret_flags &= ~KEVENT_RET_COPY_FAILED;
	} else {
		k->event.ret_flags |= KEVENT_RET_COPY_FAILED;
	}
	spin_lock(&q->ready_lock);
	dead = k->flags & KEVENT_F_DEAD;
	/* A delivered ONESHOT kevent stays INFLIGHT until it is removed. */
	if (!oneshot) {
		k->flags &= ~KEVENT_F_INFLIGHT;
		if (!dead && (!copied || (k->flags & KEVENT_F_PENDING))) {
			kevent_link_ready(q, st, k, !copied);
			if (copied)
				atomic_long_inc(&q->stat.marked_ready);
			kevent_queue_wake(q, k->event.req_flags &
					  KEVENT_REQ_WAKEUP_ONE);
			requeued = true;
		}
		k->flags &= ~KEVENT_F_PENDING;
	}
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);

	if (copied)
		atomic_long_inc(&q->stat.delivered);

	if (oneshot) {
		mutex_lock(&q->mutex);
		kevent_remove(q, k);
		mutex_unlock(&q->mutex);
	} else if (copied && !requeued && !dead && k->cb->check &&
		   !(req_flags & KEVENT_REQ_ET)) {
		mask = k->cb->check(k);
		if (mask)
			kevent_ready_checked(k, mask);
	}
	kevent_put(k);
}

/**
 * kevent_finish_delivery() - decide what happens to a dequeued kevent
 * @q: the queue
 * @k: a kevent returned by kevent_dequeue_ready()
 * @uk: the snapshot that was (or was not) copied
 * @copied: whether user space got @uk
 *
 * Not copied: @k goes back to the head of the ready list, with its firing
 * count intact and KEVENT_RET_COPY_FAILED set, so nothing is lost.
 * Copied: the delivered firings are subtracted; then a ONESHOT kevent is
 * removed, a kevent that fired again during the delivery is requeued, a
 * level-triggered one with a check (POLL) is checked again and requeued if
 * still ready, and an edge-triggered one waits for its next notification.
 *
 * Context: process; takes @q->mutex for ONESHOT removal.
 */
void kevent_finish_delivery(struct kevent_queue *q, struct kevent *k,
			    const struct ukevent *uk, bool copied)
{
	__kevent_finish(q, k, uk->ret_data[1], uk->req_flags, copied);
}

/**
 * kevent_defer_delivery() - record a successful copy, finish it later
 * @k: a kevent returned by kevent_dequeue_ready(), copied to user space
 * @uk: the snapshot that was copied
 * @batch: the caller's list of delivered kevents
 *
 * A system call delivers each kevent at most once: kevents that are
 * requeued after delivery (level triggered and still ready, or fired again
 * meanwhile) must not be seen again by the same call, so the calls finish
 * their deliveries only after the copy loop, with kevent_finish_deferred().
 * While INFLIGHT, @k's ready_entry is free to link it on @batch.
 */
void kevent_defer_delivery(struct kevent *k, const struct ukevent *uk,
			   struct list_head *batch)
{
	k->snap_fired = uk->ret_data[1];
	k->snap_req_flags = uk->req_flags;
	list_add_tail(&k->ready_entry, batch);
}

/**
 * kevent_finish_deferred() - finish the deliveries of a batch
 * @q: the queue
 * @batch: kevents given to kevent_defer_delivery()
 *
 * Context: process; see kevent_finish_delivery().
 */
void kevent_finish_deferred(struct kevent_queue *q, struct list_head *batch)
{
	struct kevent *k, *next;

	list_for_each_entry_safe(k, next, batch, ready_entry) {
		list_del_init(&k->ready_entry);
		__kevent_finish(q, k, k->snap_fired, k->snap_req_flags, true);
	}
}

/**
 * kevent_storage_del() - stop a kevent watching its storage
 * @st: the storage
 * @k: the kevent
 *
 * Also takes @k off its queue's ready list: a removed kevent is never
 * delivered. After this no kevent_storage_ready() on @st reaches @k.
 */
void kevent_storage_del(struct kevent_storage *st, struct kevent *k)
{
	struct kevent_queue *q = k->queue;
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	list_del_init(&k->storage_entry);
	spin_lock(&q->ready_lock);
	kevent_unlink_ready(q, st, k);
	k->flags |= KEVENT_F_DEAD;
	spin_unlock(&q->ready_lock);
	spin_unlock_irqrestore(&st->lock, flags);
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
	wake_up_all(&q->wq);
	wake_up_all(&q->space_wq);
}
