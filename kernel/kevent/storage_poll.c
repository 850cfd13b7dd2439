// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_poll.c - KEVENT_POLL: readiness of any pollable file.
 *
 *
 * Overview
 * --------
 *
 * id.raw[0] is a descriptor of the caller; event is a mask of POLL* bits
 * (POLLERR and POLLHUP are always reported, as by poll(2) and epoll).
 *
 * Every open file watched by at least one POLL kevent has one storage,
 * struct kevent_poll_storage, found through a global hash keyed by the
 * struct file pointer and shared by all POLL kevents on that file, in any
 * queue; this is what lets KEVENT_REQ_WAKEUP_ONE pick one of them. The
 * storage holds a reference to the file, so the file (and the pointer used
 * as key) stays valid while kevents watch it, even after the descriptor is
 * closed.
 *
 * When the storage is created, f_op->poll() is called once with a poll
 * table whose queue function (like epoll's ep_ptable_queue_proc()) hooks a
 * wait-queue entry on each wait queue the file uses. The entries' wake
 * function, kevent_poll_wake(), runs under the wait-queue head lock,
 * possibly in interrupt context: it passes the wake-up key (the POLL* mask
 * of what happened) to kevent_storage_ready() and never calls f_op->poll().
 * A wake-up without a key readies the kevents with "mask unknown"; the core
 * then checks them with f_op->poll() in process context before delivery.
 * f_op->poll() is otherwise called only in process context: at ADD and
 * MODIFY, for KEVENT_REQ_LAST_CHECK, and to re-arm level-triggered kevents
 * after delivery.
 *
 * A kevent queue cannot be polled (ELOOP): a queue watching another queue
 * could form reference and wake-up cycles. Files without f_op->poll are
 * refused with EPERM.
 *
 *
 * Locking
 * -------
 *
 *   queue->mutex
 *     > kevent_poll_mutex      (hash, storage users count, hook list)
 *       > wait-queue head lock (add/remove_wait_queue, wake callback)
 *         > storage->lock      (kevent_storage_ready())
 *
 * POLLFREE: a file that frees a wait-queue head while the file lives
 * (signalfd, binder) wakes it with POLLFREE first. The wake function then
 * unhooks its entry and publishes whead = NULL with smp_store_release();
 * the teardown reads whead with smp_load_acquire() under rcu_read_lock()
 * and only removes the entry if it is still hooked, exactly as epoll does
 * (ep_remove_wait_queue()).
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_poll_storage:
 *   link, users          - kevent_poll_mutex
 *   hooks                - written during creation only, under
 *                          kevent_poll_mutex; read at teardown
 *   file, st             - immutable / storage->lock
 *
 * struct kevent_poll_hook:
 *   wait                 - the wait-queue head's lock
 *   whead                - set at creation; cleared by POLLFREE
 *                          (release/acquire, see above)
 *   ps, next             - immutable
 */

#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "kevent.h"

/* POLL* bits a request may ask for; ERR and HUP are always reported. */
#define KEVENT_POLL_VALID	(POLLIN | POLLPRI | POLLOUT | POLLERR | \
				 POLLHUP | POLLNVAL | POLLRDNORM | \
				 POLLRDBAND | POLLWRNORM | POLLWRBAND | \
				 POLLMSG | POLLRDHUP)
#define KEVENT_POLL_ALWAYS	(POLLERR | POLLHUP)

/**
 * struct kevent_poll_storage - the storage of one watched open file
 * @st: the storage, shared by every POLL kevent on @file
 * @link: in kevent_poll_hash
 * @file: the watched file (a reference is held)
 * @users: POLL kevents using this storage
 * @hooks: our entries on the file's wait queues
 */
struct kevent_poll_storage {
	struct kevent_storage st;
	struct hlist_node link;
	struct file *file;
	unsigned int users;
	struct kevent_poll_hook *hooks;
};

/**
 * struct kevent_poll_hook - one entry on a wait queue of a watched file
 * @wait: the entry, with kevent_poll_wake() as function
 * @whead: the wait-queue head, NULL once POLLFREE unhooked us
 * @ps: the storage to ready
 * @next: next hook of @ps
 */
struct kevent_poll_hook {
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;
	struct kevent_poll_storage *ps;
	struct kevent_poll_hook *next;
};

/* Poll table used to hook a new storage on the file's wait queues. */
struct kevent_poll_table {
	poll_table pt;
	struct kevent_poll_storage *ps;
	int error;
};

static DEFINE_MUTEX(kevent_poll_mutex);
static DEFINE_HASHTABLE(kevent_poll_hash, 8);

/* Wait-queue callback: any context, head lock held. Never polls. */
static int kevent_poll_wake(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct kevent_poll_hook *hook = container_of(wait,
						     struct kevent_poll_hook,
						     wait);
	__poll_t mask = key_to_poll(key);

	kevent_storage_ready(&hook->ps->st, NULL, mangle_poll(mask));

	if (mask & POLLFREE) {
		/* The head is going away: unhook ourselves from it. */
		list_del_init(&wait->entry);
		/*
		 * Publish NULL: pairs with the acquire in kevent_poll_unhook(),
		 * after which the hook may be freed at any moment, so this
		 * must be our last access to it.
		 */
		smp_store_release(&hook->whead, NULL);
	}
	return 0;
}

static void kevent_poll_queue_proc(struct file *file,
				   wait_queue_head_t *whead, poll_table *pt)
{
	struct kevent_poll_table *kpt = container_of(pt,
						     struct kevent_poll_table,
						     pt);
	struct kevent_poll_storage *ps = kpt->ps;
	struct kevent_poll_hook *hook;

	if (kpt->error)
		return;
	hook = kmalloc(sizeof(*hook), GFP_KERNEL_ACCOUNT);
	if (!hook) {
		kpt->error = -ENOMEM;
		return;
	}
	init_waitqueue_func_entry(&hook->wait, kevent_poll_wake);
	hook->whead = whead;
	hook->ps = ps;
	hook->next = ps->hooks;
	ps->hooks = hook;
	add_wait_queue(whead, &hook->wait);
}

static void kevent_poll_unhook(struct kevent_poll_storage *ps)
{
	struct kevent_poll_hook *hook, *next;
	wait_queue_head_t *whead;

	for (hook = ps->hooks; hook; hook = next) {
		next = hook->next;
		rcu_read_lock();
		/* See kevent_poll_wake(): NULL means POLLFREE unhooked it. */
		whead = smp_load_acquire(&hook->whead);
		if (whead)
			remove_wait_queue(whead, &hook->wait);
		rcu_read_unlock();
		kfree(hook);
	}
	ps->hooks = NULL;
}

/* Find or create the storage of @file and take a use of it. */
static struct kevent_poll_storage *kevent_poll_storage_get(struct file *file)
{
	struct kevent_poll_table kpt = { .error = 0 };
	struct kevent_poll_storage *ps;

	mutex_lock(&kevent_poll_mutex);
	hash_for_each_possible(kevent_poll_hash, ps, link, (unsigned long)file) {
		if (ps->file == file) {
			ps->users++;
			goto out;
		}
	}

	ps = kzalloc(sizeof(*ps), GFP_KERNEL_ACCOUNT);
	if (!ps) {
		ps = ERR_PTR(-ENOMEM);
		goto out;
	}
	kevent_storage_init(&ps->st, file);
	ps->file = get_file(file);
	ps->users = 1;

	kpt.ps = ps;
	init_poll_funcptr(&kpt.pt, kevent_poll_queue_proc);
	vfs_poll(file, &kpt.pt);
	if (kpt.error) {
		kevent_poll_unhook(ps);
		fput(file);
		kfree(ps);
		ps = ERR_PTR(kpt.error);
		goto out;
	}
	hash_add(kevent_poll_hash, &ps->link, (unsigned long)file);
out:
	mutex_unlock(&kevent_poll_mutex);
	return ps;
}

static void kevent_poll_storage_put(struct kevent_poll_storage *ps)
{
	mutex_lock(&kevent_poll_mutex);
	if (--ps->users) {
		mutex_unlock(&kevent_poll_mutex);
		return;
	}
	hash_del(&ps->link);
	kevent_poll_unhook(ps);
	mutex_unlock(&kevent_poll_mutex);

	WARN_ON_ONCE(!list_empty(&ps->st.list));
	fput(ps->file);
	kfree(ps);
}

/* Process context: what is ready now, among what @k asks for. */
static u32 kevent_poll_check(struct kevent *k)
{
	struct kevent_poll_storage *ps = k->priv;
	u32 interest = READ_ONCE(k->event.event) | KEVENT_POLL_ALWAYS;
	poll_table pt;

	init_poll_funcptr(&pt, NULL);
	pt._key = demangle_poll(interest);
	return mangle_poll(vfs_poll(ps->file, &pt)) & interest;
}

static int kevent_poll_validate(const struct ukevent *uk)
{
	if (!uk->event || (uk->event & ~KEVENT_POLL_VALID))
		return -EINVAL;
	return 0;
}

static int kevent_poll_enqueue(struct kevent *k)
{
	struct kevent_poll_storage *ps;
	struct file *file;

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
	ps = kevent_poll_storage_get(file);
	fput(file);
	if (IS_ERR(ps))
		return PTR_ERR(ps);
	k->priv = ps;
	/* Hook first, then check: a wake-up in between is not lost. */
	kevent_storage_add(&ps->st, k);
	return kevent_poll_check(k);
}

static void kevent_poll_dequeue(struct kevent *k)
{
	kevent_storage_del(k->st, k);
}

static void kevent_poll_destroy(struct kevent *k)
{
	if (k->priv)
		kevent_poll_storage_put(k->priv);
}

/*
 * Storage lock held, any context. @event is the wake-up key as POLL* bits;
 * 0 when the waker gave no key: ready, to be checked at dequeue.
 */
static int kevent_poll_callback(struct kevent *k, u32 event)
{
	u32 mask;

	if (!event)
		return KEVENT_CB_RECHECK;
	mask = event & (k->event.event | KEVENT_POLL_ALWAYS);
	if (!mask)
		return KEVENT_CB_NOT_READY;
	k->event.ret_data[0] = mask;
	return KEVENT_CB_READY;
}

const struct kevent_callbacks kevent_poll_callbacks = {
	.validate	= kevent_poll_validate,
	.enqueue	= kevent_poll_enqueue,
	.dequeue	= kevent_poll_dequeue,
	.destroy	= kevent_poll_destroy,
	.callback	= kevent_poll_callback,
	.check		= kevent_poll_check,
	.modify		= kevent_poll_check,
};
