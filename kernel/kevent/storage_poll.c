// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_poll.c - KEVENT_POLL: readiness of any pollable file.
 *
 *
 * Overview
 * --------
 *
 * id.raw[0] is a descriptor of the caller at ADD; event is a mask of POLL*
 * bits (POLLERR and POLLHUP are always reported, as by poll(2) and epoll).
 *
 * Each POLL kevent is hooked on the watched file the way epoll hooks an
 * epitem: at ADD, in the adder's context, f_op->poll() is called once with
 * a poll table whose queue function puts one wait-queue entry of this
 * kevent on each wait queue the file uses (a signalfd thus hooks the
 * adder's own signal wait queue). The kevent has a storage of its own; the
 * entries' wake function, kevent_poll_wake(), runs under the wait-queue
 * head lock, possibly in interrupt context, and passes the wake-up key
 * (the POLL* mask of what happened) to kevent_storage_notify(). A wake-up
 * without a key readies the kevent "to be checked": the delivery engine
 * polls it in process context before delivery. f_op->poll() is otherwise
 * only called in process context: at ADD and MODIFY, and at dequeue for
 * KEVENT_REQ_LAST_CHECK and level-triggered re-arms.
 *
 * The kevent holds no reference to the file. The file lists its kevents
 * (file->f_kevent, as file->f_ep lists epitems) and, when its last
 * reference goes, __fput() calls kevent_release_file(), which removes
 * them from their queues. So closing every descriptor of a file ends its
 * kevents, a file never outlives its users because of a kevent, and a
 * queue reachable from a file it watches (a UNIX socket carrying the queue
 * fd, an io_uring with the queue registered) is no reference cycle.
 *
 * KEVENT_REQ_WAKEUP_ONE kevents are hooked as *exclusive* entries, and
 * their wake function returns 1 only if it woke a thread of its queue that
 * can take the event: the file's wake-one then stops there, and otherwise
 * goes on to the next entry (another queue's kevent, a thread in accept()),
 * as EPOLLEXCLUSIVE does. A WAKEUP_ONE kevent removed while its event waits
 * undelivered passes the wake-up on, so a file that stays readable is never
 * left with no worker told.
 *
 * A kevent queue cannot be polled (ELOOP): a queue watching another queue
 * could form wake-up cycles. Files without f_op->poll are refused (EPERM).
 *
 *
 * Locking
 * -------
 *
 *   queue->mutex          (ADD, MODIFY, removal; kevent_release_file()
 *                          takes it per kevent, after picking the kevent
 *                          under f_lock and dropping f_lock)
 *     > file->f_lock      (the file's kevent list)
 *     > wait-queue head lock (add/remove_wait_queue, the wake function)
 *       > storage->lock   (kevent_storage_notify())
 *
 * A dying file and a removal exclude each other through queue->mutex: the
 * kevent is unlinked from the file only by its removal, under that mutex,
 * so while a kevent is on f_kevent its queue is alive (queue->refs >= 1)
 * and the file is alive (its __fput() waits in kevent_release_file()).
 * Outside the mutex (the dequeue-time check), the file is reached with
 * get_file_active() on kevent_poll.file, which the removal clears.
 *
 * POLLFREE: a file that frees a wait-queue head while the file lives
 * (signalfd, binder) wakes it with POLLFREE first. The wake function then
 * unhooks its entry and publishes whead = NULL with smp_store_release();
 * the teardown reads whead with smp_load_acquire() under rcu_read_lock()
 * and only removes the entry if it is still hooked, exactly as epoll does
 * (ep_remove_wait_queue()). POLLFREE is not an event.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_poll:
 *   st, k                - immutable
 *   file                 - set at ADD; cleared (WRITE_ONCE) by the removal
 *                          under queue->mutex; read with get_file_active()
 *   f_link               - file->f_lock
 *   hooks, exclusive     - queue->mutex (ADD, MODIFY, removal)
 *   error                - the adding thread, during vfs_poll() at ADD
 *
 * struct kevent_poll_hook:
 *   wait                 - the wait-queue head's lock
 *   whead                - set at ADD; cleared by POLLFREE
 *                          (release/acquire, see above)
 *   kp, next             - immutable
 */

#include <linux/file.h>
#include <linux/kevent.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "kevent.h"

/* POLL* bits a request may ask for; ERR and HUP are always reported. */
#define KEVENT_POLL_VALID	(POLLIN | POLLPRI | POLLOUT | POLLERR | \
				 POLLHUP | POLLNVAL | POLLRDNORM | \
				 POLLRDBAND | POLLWRNORM | POLLWRBAND | \
				 POLLMSG | POLLRDHUP)
#define KEVENT_POLL_ALWAYS	(POLLERR | POLLHUP)

/**
 * struct kevent_poll - a POLL kevent's hook on its file
 * @st: the kevent's storage
 * @k: the kevent
 * @file: the watched file (no reference), NULL once removed
 * @f_link: in file->f_kevent
 * @hooks: our entries on the file's wait queues
 * @exclusive: the entries are exclusive (KEVENT_REQ_WAKEUP_ONE)
 * @error: an allocation of the queue function failed
 */
struct kevent_poll {
	struct kevent_storage st;
	struct kevent *k;
	struct file *file;
	struct hlist_node f_link;
	struct kevent_poll_hook *hooks;
	bool exclusive;
	int error;
};

/**
 * struct kevent_poll_hook - one entry on a wait queue of a watched file
 * @wait: the entry, with kevent_poll_wake() as function
 * @whead: the wait-queue head, NULL once POLLFREE unhooked us
 * @kp: the kevent's hook
 * @next: next hook of @kp
 */
struct kevent_poll_hook {
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;
	struct kevent_poll *kp;
	struct kevent_poll_hook *next;
};

/* Poll table used to hook a new kevent on the file's wait queues. */
struct kevent_poll_table {
	poll_table pt;
	struct kevent_poll *kp;
};

static u32 kevent_poll_interest(const struct kevent *k)
{
	return READ_ONCE(k->event.event) | KEVENT_POLL_ALWAYS;
}

/*
 * Wait-queue callback: any context, head lock held. Never polls. For an
 * exclusive entry the return value says whether a thread was woken, so
 * that a wake-one goes on to the next entry otherwise.
 */
static int kevent_poll_wake(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct kevent_poll_hook *hook = container_of(wait,
						     struct kevent_poll_hook,
						     wait);
	__poll_t mask = key_to_poll(key);
	bool woke = false;

	if (mask & POLLFREE) {
		/* The head is going away: unhook ourselves from it. */
		list_del_init(&wait->entry);
		/*
		 * Publish NULL: pairs with the acquire in kevent_poll_unhook(),
		 * after which the hook may be freed at any moment, so this
		 * must be our last access to it.
		 */
		smp_store_release(&hook->whead, NULL);
		return 0;
	}
	kevent_storage_notify(&hook->kp->st, NULL, mangle_poll(mask), &woke);
	return woke;
}

static void kevent_poll_queue_proc(struct file *file,
				   wait_queue_head_t *whead, poll_table *pt)
{
	struct kevent_poll_table *kpt = container_of(pt,
						     struct kevent_poll_table,
						     pt);
	struct kevent_poll *kp = kpt->kp;
	struct kevent_poll_hook *hook;

	if (kp->error)
		return;
	hook = kmalloc(sizeof(*hook), GFP_KERNEL_ACCOUNT);
	if (!hook) {
		kp->error = -ENOMEM;
		return;
	}
	init_waitqueue_func_entry(&hook->wait, kevent_poll_wake);
	hook->whead = whead;
	hook->kp = kp;
	hook->next = kp->hooks;
	kp->hooks = hook;
	if (kp->exclusive)
		add_wait_queue_exclusive(whead, &hook->wait);
	else
		add_wait_queue(whead, &hook->wait);
}

/* Take every entry of @kp off its wait queue; @free: and free them. */
static void kevent_poll_unhook(struct kevent_poll *kp, bool free)
{
	struct kevent_poll_hook *hook, *next;
	wait_queue_head_t *whead;

	for (hook = kp->hooks; hook; hook = next) {
		next = hook->next;
		rcu_read_lock();
		/* See kevent_poll_wake(): NULL means POLLFREE unhooked it. */
		whead = smp_load_acquire(&hook->whead);
		if (whead)
			remove_wait_queue(whead, &hook->wait);
		rcu_read_unlock();
		if (free)
			kfree(hook);
	}
	if (free)
		kp->hooks = NULL;
}

/* Poll @file for what @k asks for; process context. */
static u32 kevent_poll_file(const struct kevent *k, struct file *file)
{
	u32 interest = kevent_poll_interest(k);
	poll_table pt;

	init_poll_funcptr(&pt, NULL);
	pt._key = demangle_poll(interest);
	return mangle_poll(vfs_poll(file, &pt)) & interest;
}

/* Process context: what is ready now, among what @k asks for. */
static u32 kevent_poll_check(struct kevent *k)
{
	struct kevent_poll *kp = k->priv;

	return kevent_check_file(k, &kp->file, kevent_poll_file);
}

static int kevent_poll_validate(const struct ukevent *uk)
{
	if (!uk->event || (uk->event & ~KEVENT_POLL_VALID))
		return -EINVAL;
	return 0;
}

/* Unlink @kp from its file; the caller guarantees the file is alive. */
static void kevent_poll_unlink_file(struct kevent_poll *kp)
{
	struct file *file = kp->file;

	spin_lock(&file->f_lock);
	hlist_del_init(&kp->f_link);
	spin_unlock(&file->f_lock);
	WRITE_ONCE(kp->file, NULL);
}

static int kevent_poll_enqueue(struct kevent *k)
{
	struct kevent_poll_table kpt;
	struct kevent_poll *kp;
	struct file *file;
	u32 mask;

	file = fget(k->event.id.raw[0]);
	if (!file)
		return -EBADF;
	if (kevent_file_is_queue(file)) {
		fput(file);
		return -ELOOP;
	}
	if (!file_can_poll(file)) {
		fput(file);
		return -EPERM;
	}
	kp = kzalloc(sizeof(*kp), GFP_KERNEL_ACCOUNT);
	if (!kp) {
		fput(file);
		return -ENOMEM;
	}
	kevent_storage_init(&kp->st, file);
	kp->k = k;
	kp->file = file;
	kp->exclusive = k->event.req_flags & KEVENT_REQ_WAKEUP_ONE;
	INIT_HLIST_NODE(&kp->f_link);
	k->priv = kp;
	kevent_storage_add(&kp->st, k);

	/* Listed on the file while we hold a reference: __fput() sees us. */
	spin_lock(&file->f_lock);
	hlist_add_head(&kp->f_link, &file->f_kevent);
	spin_unlock(&file->f_lock);

	/* Hook and check in one call: a wake-up after the hook is not lost. */
	kpt.kp = kp;
	init_poll_funcptr(&kpt.pt, kevent_poll_queue_proc);
	kpt.pt._key = demangle_poll(kevent_poll_interest(k));
	mask = mangle_poll(vfs_poll(file, &kpt.pt)) & kevent_poll_interest(k);
	if (kp->error) {
		int err = kp->error;

		kevent_poll_unhook(kp, true);
		kevent_poll_unlink_file(kp);
		fput(file);
		return err;
	}
	fput(file);
	return mask;
}

/*
 * A WAKEUP_ONE kevent removed while its event waited undelivered may have
 * been the one the file's wake-one stopped at: if the file is still ready,
 * wake it again so that another waiter (another queue's kevent) is told.
 */
static void kevent_poll_pass_on(struct kevent *k)
{
	struct kevent_poll *kp = k->priv;
	struct kevent_poll_hook *hook;
	wait_queue_head_t *whead;
	struct file *file;
	u32 mask;

	file = get_file_active(&kp->file);
	if (!file)
		return;
	mask = kevent_poll_file(k, file);
	for (hook = kp->hooks; mask && hook; hook = hook->next) {
		rcu_read_lock();
		/* pairs with the release of POLLFREE in kevent_poll_wake() */
		whead = smp_load_acquire(&hook->whead);
		if (whead)
			__wake_up(whead, TASK_NORMAL, 1,
				  poll_to_key(demangle_poll(mask)));
		rcu_read_unlock();
	}
	fput(file);
}

/* Queue mutex held (REMOVE, queue close, ONESHOT, the file's release). */
static void kevent_poll_dequeue(struct kevent *k)
{
	struct kevent_poll *kp = k->priv;
	bool was_ready;

	was_ready = kevent_storage_del(&kp->st, k);
	if (was_ready && kp->exclusive)
		kevent_poll_pass_on(k);
	kevent_poll_unhook(kp, true);
	kevent_poll_unlink_file(kp);
}

static void kevent_poll_destroy(struct kevent *k)
{
	kfree(k->priv);
}

/*
 * Storage lock held, any context. @event is the wake-up key as POLL* bits;
 * 0 when the waker gave no key: ready, to be checked at dequeue. An
 * edge-triggered kevent accumulates the edges it has not delivered yet.
 */
static int kevent_poll_callback(struct kevent *k, u32 event)
{
	if (!event)
		return KEVENT_CB_RECHECK;
	return kevent_record_mask(k, event & (k->event.event |
					      KEVENT_POLL_ALWAYS));
}

/*
 * Queue mutex held: new interest or flags. Entries follow WAKEUP_ONE
 * (exclusive entries go to the tail of their wait queues, as
 * add_wait_queue_exclusive() puts them); then poll again.
 */
static u32 kevent_poll_modify(struct kevent *k)
{
	struct kevent_poll *kp = k->priv;
	bool exclusive = k->event.req_flags & KEVENT_REQ_WAKEUP_ONE;
	struct kevent_poll_hook *hook;
	wait_queue_head_t *whead;

	if (exclusive != kp->exclusive) {
		kp->exclusive = exclusive;
		for (hook = kp->hooks; hook; hook = hook->next) {
			rcu_read_lock();
			/* pairs with the release of POLLFREE in kevent_poll_wake() */
			whead = smp_load_acquire(&hook->whead);
			if (whead) {
				remove_wait_queue(whead, &hook->wait);
				if (exclusive)
					add_wait_queue_exclusive(whead,
								 &hook->wait);
				else
					add_wait_queue(whead, &hook->wait);
			}
			rcu_read_unlock();
		}
	}
	return kevent_poll_check(k);
}

/**
 * kevent_release_file() - remove the POLL kevents of a dying file
 * @file: a file whose last reference is gone (called from __fput())
 *
 * Each kevent is picked under f_lock with references on it and on its
 * queue, then removed under its queue's mutex; a concurrent removal
 * (REMOVE, the queue's close) wins or loses that mutex and the loop sees
 * one entry less either way.
 *
 * Context: process; takes queue mutexes.
 */
void kevent_release_file(struct file *file)
{
	struct kevent_queue *q;
	struct kevent_poll *kp;
	struct kevent *k;

	for (;;) {
		spin_lock(&file->f_lock);
		if (hlist_empty(&file->f_kevent)) {
			spin_unlock(&file->f_lock);
			return;
		}
		kp = hlist_entry(file->f_kevent.first, struct kevent_poll,
				 f_link);
		k = kp->k;
		q = k->queue;
		/* Listed: still in its queue's tree, and the queue alive. */
		kevent_get(k);
		if (WARN_ON_ONCE(!kevent_queue_tryget(q))) {
			hlist_del_init(&kp->f_link);
			spin_unlock(&file->f_lock);
			kevent_put(k);
			continue;
		}
		spin_unlock(&file->f_lock);

		mutex_lock(&q->mutex);
		kevent_remove(q, k);
		mutex_unlock(&q->mutex);
		kevent_put(k);
		kevent_queue_put(q);
	}
}

const struct kevent_callbacks kevent_poll_callbacks = {
	.validate	= kevent_poll_validate,
	.enqueue	= kevent_poll_enqueue,
	.dequeue	= kevent_poll_dequeue,
	.destroy	= kevent_poll_destroy,
	.callback	= kevent_poll_callback,
	.check		= kevent_poll_check,
	.modify		= kevent_poll_modify,
};
