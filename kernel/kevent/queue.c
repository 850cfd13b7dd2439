// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/queue.c - the kevent queue: its tree of requests, the kevent_ctl()
 * commands, and the file behind a queue descriptor (shared by the anon
 * inode of kevent_init() and the /dev/kevent misc device).
 *
 *
 * Overview
 * --------
 *
 * A queue is the private data of a file whose f_op is kevent_fops, which is
 * also how a descriptor is recognised as a queue. Requests are kept in an
 * rbtree keyed by (type, id.raw_u64); the ready list, the waiters and the
 * ring are described in core.c, deliver.c and ring.c.
 *
 * A queue lives as long as its file, plus the short while a dying watched
 * file needs to reach it (kevent_release_file() in storage_poll.c takes a
 * temporary reference in queue->refs). Closing the last descriptor (also
 * at process exit) removes every kevent: timers are cancelled and poll
 * hooks are unregistered before the memory goes. No system call can be
 * running on the queue then (each holds a file reference), so the
 * kevents' references all come from the tree.
 *
 *
 * Locking
 * -------
 *
 * See core.c for the global order. In this file:
 *   - queue->mutex serializes each kevent_ctl() entry, removal (including
 *     ONESHOT removal after delivery) and the fdinfo walk of the tree;
 *   - queue->ring_mutex is taken in fdinfo only to read the ring indexes,
 *     before and apart from queue->mutex (the documented order is
 *     ring_mutex, then mutex).
 *   - fdinfo only *tries* queue->mutex (kevent_fdinfo_trylock()): it runs
 *     under the seq_file's mutex, which splice() into a pipe takes under
 *     that pipe's mutex, while a PIPE ADD holds queue->mutex and takes the
 *     pipe's mutex (storage_pipe.c). Waiting here would close the circle
 *     pipe->mutex > seq_file > queue->mutex > pipe->mutex (sendfile() of
 *     a queue's fdinfo into a pipe it watches, beside an ADD on it).
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_queue:
 *   mutex                - self
 *   tree, kevent_num     - mutex (fdinfo reads kevent_num with READ_ONCE)
 *   ready_lock           - self (IRQ-safe)
 *   ready_list           - ready_lock
 *   ready_num            - ready_lock for writes, READ_ONCE for waiters
 *   refs                 - atomic
 *   wq, poll_wq          - their own locks
 *   poll_work            - irq_work, synced before the queue is freed
 *   kick, waiters, stat  - atomic
 *   ring_mutex           - self
 *   rs, ring_free        - ring_mutex (ring_free also READ_ONCE by waiters)
 *   ring, ring_mm, account - immutable after creation
 */

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kevent.h"

/* Wake the pollers of a queue fd, with no kevent lock held. */
static void kevent_poll_work(struct irq_work *work)
{
	struct kevent_queue *q = container_of(work, struct kevent_queue,
					      poll_work);

	wake_up_poll(&q->poll_wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * kevent_queue_alloc() - create an empty queue without ring
 *
 * The queue is charged to the current user for kevent accounting.
 *
 * Return: the queue, or NULL if out of memory.
 */
struct kevent_queue *kevent_queue_alloc(void)
{
	struct kevent_queue *q = kzalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);

	if (!q)
		return NULL;
	q->account = kevent_account_get(current_uid());
	if (!q->account) {
		kfree(q);
		return NULL;
	}
	refcount_set(&q->refs, 1);
	mutex_init(&q->mutex);
	q->tree = RB_ROOT;
	spin_lock_init(&q->ready_lock);
	INIT_LIST_HEAD(&q->ready_list);
	init_waitqueue_head(&q->wq);
	init_waitqueue_head(&q->poll_wq);
	init_irq_work(&q->poll_work, kevent_poll_work);
	mutex_init(&q->ring_mutex);
	return q;
}

/**
 * kevent_queue_tryget() - take a temporary reference on a queue
 * @q: a queue known to be alive (its refs not yet zero)
 *
 * Return: true if a reference was taken.
 */
bool kevent_queue_tryget(struct kevent_queue *q)
{
	return refcount_inc_not_zero(&q->refs);
}

/**
 * kevent_queue_put() - drop a queue reference, freeing it on the last one
 * @q: the queue
 */
void kevent_queue_put(struct kevent_queue *q)
{
	if (!refcount_dec_and_test(&q->refs))
		return;
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&q->tree));
	WARN_ON_ONCE(!list_empty(&q->ready_list));
	/* Sources are detached; wait for a poller wake-up still queued. */
	irq_work_sync(&q->poll_work);
	kevent_account_put(q->account);
	if (q->ring_mm)
		mmdrop(q->ring_mm);
	mutex_destroy(&q->ring_mutex);
	mutex_destroy(&q->mutex);
	kfree(q);
}

/**
 * kevent_queue_destroy() - remove every kevent of a queue and drop it
 * @q: a queue whose file is being released
 */
void kevent_queue_destroy(struct kevent_queue *q)
{
	struct rb_node *node;

	mutex_lock(&q->mutex);
	while ((node = rb_first(&q->tree)))
		kevent_remove(q, rb_entry(node, struct kevent, node));
	mutex_unlock(&q->mutex);
	kevent_queue_put(q);
}

/**
 * kevent_file_is_queue() - is this file a kevent queue?
 * @file: any file
 *
 * Return: true for files from kevent_init() and /dev/kevent.
 */
bool kevent_file_is_queue(const struct file *file)
{
	return file->f_op == &kevent_fops;
}

/**
 * kevent_queue_from_file() - the queue behind a file
 * @file: any file
 *
 * Return: the queue, or NULL if @file is not a kevent queue.
 */
struct kevent_queue *kevent_queue_from_file(struct file *file)
{
	return kevent_file_is_queue(file) ? file->private_data : NULL;
}

/* ---- the tree --------------------------------------------------------- */

/**
 * kevent_key_cmp() - order a key against a kevent
 * @type: KEVENT_* type of the key
 * @id: id.raw_u64 of the key
 * @k: the kevent to compare with
 *
 * Return: <0, 0 or >0 as (@type, @id) sorts before, equal to, or after @k.
 */
int kevent_key_cmp(u32 type, u64 id, const struct kevent *k)
{
	if (type != k->event.type)
		return type < k->event.type ? -1 : 1;
	if (id != k->event.id.raw_u64)
		return id < k->event.id.raw_u64 ? -1 : 1;
	return 0;
}

/**
 * kevent_matches() - does a MODIFY/REMOVE/READY entry designate a kevent?
 * @k: a registered kevent
 * @uk: the user's entry
 *
 * Return: true if type, id and user data all match.
 */
bool kevent_matches(const struct kevent *k, const struct ukevent *uk)
{
	return !kevent_key_cmp(uk->type, uk->id.raw_u64, k) &&
	       k->event.user_u64 == uk->user_u64;
}

/**
 * kevent_lookup() - find a kevent by key
 * @q: the queue, mutex held
 * @type: KEVENT_* type
 * @id: id.raw_u64
 *
 * Return: the kevent or NULL.
 */
struct kevent *kevent_lookup(struct kevent_queue *q, u32 type, u64 id)
{
	struct rb_node *n = q->tree.rb_node;

	lockdep_assert_held(&q->mutex);
	while (n) {
		struct kevent *k = rb_entry(n, struct kevent, node);
		int c = kevent_key_cmp(type, id, k);

		if (!c)
			return k;
		n = c < 0 ? n->rb_left : n->rb_right;
	}
	return NULL;
}

/**
 * kevent_queue_link() - insert a new kevent in its queue's tree
 * @q: the queue, mutex held
 * @k: a kevent from kevent_alloc()
 *
 * Charges the kevent to the queue owner's per-user count.
 *
 * Return: 0, -EEXIST if the key is taken, -ENOSPC if the user is at
 * max_user_kevents.
 */
int kevent_queue_link(struct kevent_queue *q, struct kevent *k)
{
	struct rb_node **p = &q->tree.rb_node, *parent = NULL;
	int c;

	lockdep_assert_held(&q->mutex);
	while (*p) {
		parent = *p;
		c = kevent_key_cmp(k->event.type, k->event.id.raw_u64,
				   rb_entry(parent, struct kevent, node));
		if (!c)
			return -EEXIST;
		p = c < 0 ? &parent->rb_left : &parent->rb_right;
	}
	if (kevent_account_charge(q->account))
		return -ENOSPC;
	rb_link_node(&k->node, parent, p);
	rb_insert_color(&k->node, &q->tree);
	WRITE_ONCE(q->kevent_num, q->kevent_num + 1);
	return 0;
}

/* Undo kevent_queue_link() and the type's enqueue; drops the tree's ref. */
static void kevent_unlink(struct kevent_queue *q, struct kevent *k,
			  bool enqueued)
{
	lockdep_assert_held(&q->mutex);
	rb_erase(&k->node, &q->tree);
	RB_CLEAR_NODE(&k->node);
	WRITE_ONCE(q->kevent_num, q->kevent_num - 1);
	if (enqueued)
		k->cb->dequeue(k);
	kevent_account_uncharge(q->account);
	kevent_put(k);
}

/**
 * kevent_remove() - unregister a kevent
 * @q: its queue, mutex held
 * @k: the kevent; nothing happens if it was already removed
 *
 * The source is stopped and the kevent taken off the ready list before the
 * tree's reference is dropped; an in-flight delivery keeps its own.
 */
void kevent_remove(struct kevent_queue *q, struct kevent *k)
{
	lockdep_assert_held(&q->mutex);
	if (RB_EMPTY_NODE(&k->node))
		return;
	kevent_unlink(q, k, true);
	atomic_long_inc(&q->stat.removed);
}

/**
 * kevent_storage_remove_all() - remove every kevent of a dying source
 * @st: the storage of a source going away; no new kevent can join it
 *	(nothing can name the source any more: its file's last reference
 *	is gone)
 *
 * Each kevent is picked under the storage lock with references on it and
 * on its queue (listed: still in its queue's tree, and the queue alive),
 * then removed under its queue's mutex; a concurrent removal (REMOVE, the
 * queue's close) wins or loses that mutex and the loop sees one kevent
 * less either way. Shared by the storages whose one storage holds the
 * kevents of many queues (SOCKET, PIPE).
 *
 * Context: process; takes queue mutexes, so no lock of the source may be
 * held.
 */
void kevent_storage_remove_all(struct kevent_storage *st)
{
	struct kevent_queue *q;
	struct kevent *k;

	for (;;) {
		spin_lock_irq(&st->lock);
		k = list_first_entry_or_null(&st->list, struct kevent,
					     storage_entry);
		if (!k) {
			spin_unlock_irq(&st->lock);
			return;
		}
		q = k->queue;
		kevent_get(k);
		if (WARN_ON_ONCE(!kevent_queue_tryget(q))) {
			list_del_init(&k->storage_entry);
			spin_unlock_irq(&st->lock);
			kevent_put(k);
			continue;
		}
		spin_unlock_irq(&st->lock);

		mutex_lock(&q->mutex);
		kevent_remove(q, k);
		mutex_unlock(&q->mutex);
		kevent_put(k);
		kevent_queue_put(q);
	}
}

/* ---- kevent_ctl() commands ------------------------------------------- */

static int kevent_check_request(const struct kevent_callbacks *cb,
				const struct ukevent *uk)
{
	if (!cb || (uk->req_flags & ~KEVENT_REQ_MASK))
		return -EINVAL;
	return cb->validate ? cb->validate(uk) : 0;
}

/**
 * kevent_queue_add() - KEVENT_CTL_ADD of one entry
 * @q: the queue, mutex held
 * @uk: the entry; on completion ret_data[0] holds the ready mask
 *
 * Return: 0 if registered, 1 if the request completed at once (it was
 * ready and KEVENT_REQ_ALWAYS_QUEUE was not given: it is not registered),
 * or a negative errno.
 */
int kevent_queue_add(struct kevent_queue *q, struct ukevent *uk)
{
	const struct kevent_callbacks *cb = kevent_type_callbacks(uk->type);
	struct kevent *k;
	int ret;

	lockdep_assert_held(&q->mutex);
	ret = kevent_check_request(cb, uk);
	if (ret)
		return ret;
	k = kevent_alloc(q, uk, cb);
	if (!k)
		return -ENOMEM;
	ret = kevent_queue_link(q, k);
	if (ret) {
		kevent_put(k);
		return ret;
	}
	/*
	 * The kevent is INFLIGHT until kevent_added(): a source firing from
	 * now on only marks it PENDING, so no consumer can deliver it while
	 * ADD may still report it completed at once.
	 */
	ret = cb->enqueue(k);
	if (ret < 0) {
		kevent_unlink(q, k, false);
		return ret;
	}
	if (ret > 0 && !(uk->req_flags & KEVENT_REQ_ALWAYS_QUEUE)) {
		/* Ready right away: the request completes, unregistered. */
		uk->ret_data[0] = ret;
		uk->ret_data[1] = 0;
		kevent_unlink(q, k, true);
		return 1;
	}
	kevent_added(k, ret > 0 ? ret : 0);
	atomic_long_inc(&q->stat.added);
	return 0;
}

static struct kevent *kevent_find(struct kevent_queue *q,
				  const struct ukevent *uk)
{
	struct kevent *k = kevent_lookup(q, uk->type, uk->id.raw_u64);

	return k && kevent_matches(k, uk) ? k : NULL;
}

/**
 * kevent_queue_modify() - KEVENT_CTL_MODIFY of one entry
 * @q: the queue, mutex held
 * @uk: the entry: new event and req_flags for the matching kevent
 *
 * The kevent is checked again at once and may become ready.
 *
 * Return: 0 or a negative errno.
 */
int kevent_queue_modify(struct kevent_queue *q, const struct ukevent *uk)
{
	struct kevent *k = kevent_find(q, uk);
	unsigned long flags;
	int ret;
	u32 mask;

	lockdep_assert_held(&q->mutex);
	if (!k)
		return -ENOENT;
	ret = kevent_check_request(k->cb, uk);
	if (ret)
		return ret;
	spin_lock_irqsave(&k->st->lock, flags);
	k->event.event = uk->event;
	k->event.req_flags = uk->req_flags;
	spin_unlock_irqrestore(&k->st->lock, flags);
	if (k->cb->modify) {
		mask = k->cb->modify(k);
		if (mask)
			kevent_ready_checked(k, mask);
	}
	return 0;
}

/**
 * kevent_queue_remove() - KEVENT_CTL_REMOVE of one entry
 * @q: the queue, mutex held
 * @uk: the entry
 *
 * Return: 0 or -ENOENT.
 */
int kevent_queue_remove(struct kevent_queue *q, const struct ukevent *uk)
{
	struct kevent *k = kevent_find(q, uk);

	lockdep_assert_held(&q->mutex);
	if (!k)
		return -ENOENT;
	kevent_remove(q, k);
	return 0;
}

/**
 * kevent_queue_ready() - KEVENT_CTL_READY of one entry
 * @q: the queue, mutex held
 * @uk: the entry; its event is passed to the storage as the event mask
 *
 * Return: 0 or -ENOENT.
 */
int kevent_queue_ready(struct kevent_queue *q, const struct ukevent *uk)
{
	struct kevent *k = kevent_find(q, uk);

	lockdep_assert_held(&q->mutex);
	if (!k)
		return -ENOENT;
	/*
	 * A USER kevent is the only kevent of its storage, so readying the
	 * storage readies exactly this kevent, through the same
	 * kevent_storage_ready() every event source uses. A storage of
	 * another type may have several kevents; there only the named kevent
	 * is readied, by the same marking code.
	 */
	if (k->event.type == KEVENT_USER)
		kevent_storage_ready(k->st, NULL, uk->event);
	else
		kevent_ready(k, uk->event);
	return 0;
}

/* ---- the file --------------------------------------------------------- */

/* /dev/kevent: every open is a new queue, without ring. */
static int kevent_dev_open(struct inode *inode, struct file *file)
{
	struct kevent_queue *q = kevent_queue_alloc();

	if (!q)
		return -ENOMEM;
	file->private_data = q;
	return 0;
}

static int kevent_release(struct inode *inode, struct file *file)
{
	kevent_queue_destroy(file->private_data);
	return 0;
}

/* The queue fd is readable while events are ready (select/poll/epoll). */
static __poll_t kevent_poll(struct file *file, poll_table *wait)
{
	struct kevent_queue *q = file->private_data;

	poll_wait(file, &q->poll_wq, wait);
	/*
	 * Order our entry on poll_wq before reading ready_num: pairs with the
	 * barrier of wq_has_sleeper() in the waker, which writes ready_num
	 * first (as sock_poll_wait() does).
	 */
	smp_mb();
	return READ_ONCE(q->ready_num) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const char *kevent_state_name(unsigned int flags)
{
	if (flags & KEVENT_F_READY)
		return "ready";
	if (flags & KEVENT_F_INFLIGHT)
		return "inflight";
	return "waiting";
}

/*
 * queue->mutex for the fdinfo walk, without waiting for it (see Locking):
 * tried for up to a second, sleeping between tries, which only an ADD,
 * MODIFY or REMOVE of this queue that long (or the circle above) exhausts.
 */
static bool kevent_fdinfo_trylock(struct kevent_queue *q)
{
	unsigned long deadline = jiffies + HZ;

	while (!mutex_trylock(&q->mutex)) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(50, 200);
	}
	return true;
}

/*
 * /proc/<pid>/fdinfo/<fd>: "key:\tvalue" lines (documented in docs/abi.md,
 * parsed by the tests), then one "kevent:" line per registered kevent.
 */
static void kevent_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kevent_queue *q = file->private_data;
	struct kevent_ring_state rs;
	struct rb_node *n;
	bool locked;

	/* ring_mutex is outside mutex (ring.c): take it first, alone. */
	mutex_lock(&q->ring_mutex);
	rs = q->rs;
	mutex_unlock(&q->ring_mutex);

	locked = kevent_fdinfo_trylock(q);
	seq_printf(m, "registered:\t%u\n", READ_ONCE(q->kevent_num));
	seq_printf(m, "ready:\t%u\n", READ_ONCE(q->ready_num));
	seq_printf(m, "added:\t%ld\n", atomic_long_read(&q->stat.added));
	seq_printf(m, "removed:\t%ld\n", atomic_long_read(&q->stat.removed));
	seq_printf(m, "marked_ready:\t%ld\n",
		   atomic_long_read(&q->stat.marked_ready));
	seq_printf(m, "delivered:\t%ld\n",
		   atomic_long_read(&q->stat.delivered));
	seq_printf(m, "wakeups:\t%ld\n", atomic_long_read(&q->stat.wakeups));
	seq_printf(m, "rechecked:\t%ld\n",
		   atomic_long_read(&q->stat.rechecked));
	/* LAB(08) begin: show it */
	seq_printf(m, "stale:\t%ld\n", atomic_long_read(&q->stat.stale));
	/* LAB(08) end */
	seq_printf(m, "waiters:\t%d\n", atomic_read(&q->waiters));
	seq_printf(m, "ring_size:\t%u\n", rs.size);
	seq_printf(m, "ring_kidx:\t%u\n", rs.kidx);
	seq_printf(m, "ring_uidx:\t%u\n", rs.uidx);
	seq_printf(m, "ring_over:\t%u\n", rs.kover);
	seq_printf(m, "ring_free:\t%u\n", READ_ONCE(q->ring_free));
	if (!locked) {
		seq_puts(m, "busy:\t1\n");
		return;
	}

	for (n = rb_first(&q->tree); n; n = rb_next(n)) {
		struct kevent *k = rb_entry(n, struct kevent, node);

		/*
		 * One snapshot per line: under the storage lock no source
		 * can ready the kevent and no delivery can take or finish
		 * it, so the state and the type's fields agree (a TIMER
		 * shown "waiting" is armed). seq_printf() does not sleep.
		 */
		spin_lock_irq(&k->st->lock);
		seq_printf(m,
			   "kevent:\ttype=%u id=0x%llx event=0x%x req_flags=0x%x user=0x%llx state=%s",
			   k->event.type, k->event.id.raw_u64, k->event.event,
			   k->event.req_flags, k->event.user_u64,
			   kevent_state_name(k->flags));
		if (k->cb->show_fdinfo)
			k->cb->show_fdinfo(m, k);
		spin_unlock_irq(&k->st->lock);
		seq_putc(m, '\n');
	}
	mutex_unlock(&q->mutex);
}

const struct file_operations kevent_fops = {
	.owner		= THIS_MODULE,
	.open		= kevent_dev_open,
	.release	= kevent_release,
	.poll		= kevent_poll,
	.llseek		= noop_llseek,
	.show_fdinfo	= kevent_show_fdinfo,
};

static struct miscdevice kevent_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kevent",
	.fops	= &kevent_fops,
	.mode	= 0666,
};

static int __init kevent_dev_init(void)
{
	/* The ABI: sizes and offsets user space relies on. */
	BUILD_BUG_ON(sizeof(struct kevent_id) != 8);
	BUILD_BUG_ON(sizeof(struct ukevent) != 40);
	BUILD_BUG_ON(__alignof__(struct ukevent) != 8);
	BUILD_BUG_ON(offsetof(struct ukevent, id) != 0);
	BUILD_BUG_ON(offsetof(struct ukevent, type) != 8);
	BUILD_BUG_ON(offsetof(struct ukevent, event) != 12);
	BUILD_BUG_ON(offsetof(struct ukevent, req_flags) != 16);
	BUILD_BUG_ON(offsetof(struct ukevent, ret_flags) != 20);
	BUILD_BUG_ON(offsetof(struct ukevent, ret_data) != 24);
	BUILD_BUG_ON(offsetof(struct ukevent, user) != 32);
	BUILD_BUG_ON(offsetof(struct ukevent, ptr) != 32);
	BUILD_BUG_ON(offsetof(struct kevent_ring, ring_kidx) != 0);
	BUILD_BUG_ON(offsetof(struct kevent_ring, ring_over) != 4);
	BUILD_BUG_ON(offsetof(struct kevent_ring, event) != 8);
	BUILD_BUG_ON(sizeof(struct kevent_ring) != 8);

	return misc_register(&kevent_miscdev);
}
device_initcall(kevent_dev_init);
