/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent - internal interfaces shared by the core, the queue, the delivery
 * engine, the system calls, the ring and the storages (event sources).
 *
 * Layering, each file using only those before it: core.c (a kevent's
 * state) < queue.c (the tree, kevent_ctl() commands, the file) < deliver.c
 * (waiting, dequeue-copy-finish) < syscalls.c, ring.c; the storages use
 * core.c and queue.c.
 *
 * Vocabulary (see core.c for the full picture and the locking rules):
 *
 *  - a *queue* (struct kevent_queue) is what a kevent file descriptor
 *    refers to: a tree of registered kevents, a FIFO list of ready ones,
 *    the waiters and, optionally, a user-space ring;
 *  - a *kevent* (struct kevent) is one registered request of a queue;
 *  - a *storage* (struct kevent_storage) is where an event source keeps the
 *    kevents that watch it; sources report through kevent_storage_ready();
 *  - a storage *type* (struct kevent_callbacks) gives the per-type
 *    operations, one set per KEVENT_* type.
 */
#ifndef _KEVENT_KEVENT_H
#define _KEVENT_KEVENT_H

#include <linux/atomic.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <uapi/linux/kevent.h>

struct kevent;
struct kevent_queue;
struct mm_struct;
struct seq_file;

/*
 * struct kevent.flags, protected by the owning queue's ready_lock (which
 * is always taken inside the kevent's storage lock).
 */
#define KEVENT_F_READY		0x01	/* linked on queue->ready_list */
#define KEVENT_F_INFLIGHT	0x02	/* off the list: being added or delivered */
#define KEVENT_F_PENDING	0x04	/* fired again while INFLIGHT */
#define KEVENT_F_RECHECK	0x08	/* mask unknown or stale: poll at dequeue */
#define KEVENT_F_DEAD		0x20	/* unlinked from its storage */

/* Return values of kevent_callbacks.callback. */
#define KEVENT_CB_NOT_READY	0
#define KEVENT_CB_READY		1
#define KEVENT_CB_RECHECK	2	/* ready, mask unknown: check at dequeue */

/**
 * typedef kevent_callback_t - per-kevent hook of kevent_storage_ready()
 * @k: a kevent of the storage being readied
 *
 * Called with the storage lock held (any context, interrupts off) before
 * the type callback; a return value <= 0 leaves @k alone.
 */
typedef int (*kevent_callback_t)(struct kevent *k);

/**
 * struct kevent_storage - an event source's list of watching kevents
 * @lock: protects @list and the type data of the kevents on @list (their
 *	  ret_data, fired count, event and req_flags). IRQ-safe: timers and
 *	  wait-queue callbacks take it from interrupt context.
 * @list: kevents watching this source (struct kevent.storage_entry)
 * @origin: the object the storage belongs to (for diagnostics)
 */
struct kevent_storage {
	spinlock_t lock;		/* IRQ-safe, see above */
	struct list_head list;
	void *origin;
};

/**
 * struct kevent_callbacks - operations of one storage type
 * @validate: check the type-specific fields of a request (ADD and MODIFY);
 *	      0 or a negative errno. Process context.
 * @enqueue: attach a new kevent to its source: set k->st with
 *	     kevent_storage_add() and arm the source. Returns a negative
 *	     errno, 0 if registered and not ready, or a positive ready mask if
 *	     the kevent is ready right away (the core then completes or
 *	     queues it). Process context, queue mutex held; the kevent is
 *	     INFLIGHT until the ADD has decided, so a source firing meanwhile
 *	     only marks it PENDING. On error the type must have undone
 *	     everything but @destroy's part.
 * @dequeue: detach from the source (stop it, kevent_storage_del()). After
 *	     it returns no callback of the source may reach the kevent.
 *	     Process context, queue mutex held.
 * @destroy: release what @enqueue allocated; called on the last reference,
 *	     in process context. Must cope with a failed @enqueue.
 * @callback: the source fired with @event: update the kevent's ret_data
 *	      and say whether it is ready (KEVENT_CB_*). Storage lock held,
 *	      any context: must not sleep and must not call into the source.
 * @check: process-context readiness check (KEVENT_REQ_LAST_CHECK, level
 *	   triggered re-arm, MODIFY). Returns the ready mask, 0 if not ready;
 *	   at dequeue the mask becomes the kevent's ret_data[0]. NULL means
 *	   "always ready once fired".
 * @modify: the request's event/req_flags were changed by MODIFY; returns
 *	    a ready mask (> 0) if the kevent must be readied now. Optional.
 * @snapshot: fill the event data of a delivery being taken (@uk is the
 *	      copy going to user space) when the type computes it at
 *	      delivery rather than at firing. Storage lock held. Optional.
 * @delivered: @k's event reached user space (after a @snapshot): account
 *	       for it and re-arm the source. Storage lock held, @k still
 *	       in flight (nobody can take it again before this returns).
 *	       Optional.
 * @more: after @delivered: has @k more to deliver (a queue of records,
 *	  storage_inode.c)? It is then requeued at the tail and its queue
 *	  woken, as if it had fired. Storage lock held. Optional.
 * @show_fdinfo: append type state to the kevent's fdinfo line; called under
 *	the storage lock (must not sleep). Optional.
 */
struct kevent_callbacks {
	int (*validate)(const struct ukevent *uk);
	int (*enqueue)(struct kevent *k);
	void (*dequeue)(struct kevent *k);
	void (*destroy)(struct kevent *k);
	int (*callback)(struct kevent *k, u32 event);
	u32 (*check)(struct kevent *k);
	u32 (*modify)(struct kevent *k);
	void (*snapshot)(struct kevent *k, struct ukevent *uk);
	void (*delivered)(struct kevent *k);
	bool (*more)(struct kevent *k);
	void (*show_fdinfo)(struct seq_file *m, struct kevent *k);
};

/**
 * struct kevent - one registered request
 * @node: in queue->tree, keyed by (type, id); queue->mutex
 * @storage_entry: in st->list; st->lock
 * @ready_entry: in queue->ready_list; queue->ready_lock. While INFLIGHT,
 *		 owned by the delivering thread (its batch, deliver.c)
 * @event: the request as given by the user; event, req_flags, ret_flags and
 *	   ret_data change under st->lock, the rest is immutable
 * @flags: KEVENT_F_*; queue->ready_lock
 * @fired: notifications since the last delivery; st->lock
 * @snap_fired: while INFLIGHT and delivered, @fired as copied to the user
 * @snap_req_flags: while INFLIGHT and delivered, req_flags as copied
 * @snap_mask: while INFLIGHT and delivered, ret_data[0] as copied (put
 *	       back if the sink cannot publish it)
 * @refcnt: one reference for the queue tree, one per in-flight delivery
 * @queue: the owning queue; immutable
 * @st: the storage the kevent watches; set once by the type's enqueue
 * @cb: the type's operations; immutable
 * @priv: type-private data (timer, poll storage, ...)
 */
struct kevent {
	struct rb_node node;
	struct list_head storage_entry;
	struct list_head ready_entry;
	struct ukevent event;
	unsigned int flags;
	u32 fired;
	u32 snap_fired;
	u32 snap_req_flags;
	u32 snap_mask;
	refcount_t refcnt;
	struct kevent_queue *queue;
	struct kevent_storage *st;
	const struct kevent_callbacks *cb;
	void *priv;
};

/**
 * struct kevent_ring_state - kernel view of a user ring (see ring.c)
 * @size: number of entries, 0 if the queue has no ring
 * @kidx: next slot the kernel writes
 * @kover: times @kidx wrapped around (the user-visible ring_over)
 * @uidx: first slot not yet committed by the user
 * @uover: times @uidx wrapped around
 */
struct kevent_ring_state {
	u32 size;
	u32 kidx;
	u32 kover;
	u32 uidx;
	u32 uover;
};

struct kevent_user_account;

/**
 * struct kevent_stats - counters shown in fdinfo
 * @added: kevents registered by ADD
 * @removed: kevents unregistered (REMOVE, ONESHOT delivery, close)
 * @marked_ready: times a kevent was put on the ready list
 * @delivered: events copied to user space
 * @wakeups: times a waiting thread was actually woken
 * @rechecked: dequeues that polled a kevent again (level re-arm,
 *	       LAST_CHECK, wake-up without a mask)
 * @stale: of those, kevents found no longer ready and not delivered
 */
struct kevent_stats {
	atomic_long_t added;
	atomic_long_t removed;
	atomic_long_t marked_ready;
	atomic_long_t delivered;
	atomic_long_t wakeups;
	atomic_long_t rechecked;
	/* LAB(08) begin: the counter */
	atomic_long_t stale;
	/* LAB(08) end */
};

/**
 * struct kevent_queue - a kevent file's private data
 * @refs: the queue file's reference, plus temporary ones taken by
 *	  kevent_release_file() to reach the queue of a dying watched file
 * @mutex: serializes kevent_ctl(), protects @tree and @kevent_num
 * @tree: registered kevents keyed by (type, id.raw_u64)
 * @kevent_num: number of kevents in @tree
 * @ready_lock: IRQ-safe; protects @ready_list, @ready_num and kevent flags
 * @ready_list: FIFO of ready kevents
 * @ready_num: length of @ready_list (read locklessly by waiters)
 * @wq: threads waiting for events, all exclusive; the wake function
 *	only wakes a thread that can take what is ready (deliver.c)
 * @poll_wq: pollers of the queue fd (select, poll, epoll)
 * @poll_work: wakes @poll_wq outside the locks of the readying source
 * @kick: bumped by KEVENT_CTL_READY with num == 0: waiters leave
 * @waiters: threads sleeping in kevent_get_events()/kevent_wait()
 * @ring_mutex: protects @rs and writes to the user ring
 * @ring: the user ring, NULL if none; immutable
 * @ring_mm: the address space @ring belongs to (the creator's); immutable
 * @rs: ring indexes
 * @ring_free: free ring slots, a lockless hint for waiters
 * @account: per-user accounting of registered kevents; immutable
 * @stat: counters for fdinfo
 */
struct kevent_queue {
	refcount_t refs;
	struct mutex mutex;		/* kevent_ctl(), the tree */
	struct rb_root tree;
	unsigned int kevent_num;

	spinlock_t ready_lock;		/* IRQ-safe: the ready list */
	struct list_head ready_list;
	unsigned int ready_num;

	wait_queue_head_t wq;
	wait_queue_head_t poll_wq;
	struct irq_work poll_work;
	atomic_t kick;
	atomic_t waiters;

	struct mutex ring_mutex;	/* ring indexes and ring writes */
	struct kevent_ring __user *ring;
	struct mm_struct *ring_mm;
	struct kevent_ring_state rs;
	u32 ring_free;

	struct kevent_user_account *account;
	struct kevent_stats stat;
};

/* core.c: kevents, storages, the ready list */

/* key of wake-ups that every waiter takes (a kick) */
#define KEVENT_WAKE_ANY		((void *)1)

const struct kevent_callbacks *kevent_type_callbacks(u32 type);
struct kevent *kevent_alloc(struct kevent_queue *q, const struct ukevent *uk,
			    const struct kevent_callbacks *cb);
void kevent_get(struct kevent *k);
void kevent_put(struct kevent *k);
void kevent_storage_init(struct kevent_storage *st, void *origin);
void kevent_storage_add(struct kevent_storage *st, struct kevent *k);
bool kevent_storage_del(struct kevent_storage *st, struct kevent *k);
int kevent_storage_notify(struct kevent_storage *st,
			  kevent_callback_t ready_callback, u32 event,
			  bool *woke);
int kevent_storage_ready(struct kevent_storage *st,
			 kevent_callback_t ready_callback, u32 event);
int kevent_ready(struct kevent *k, u32 event);
int kevent_ready_checked(struct kevent *k, u32 mask);
int kevent_record_mask(struct kevent *k, u32 mask);
void kevent_added(struct kevent *k, u32 mask);
struct kevent *kevent_pop_ready(struct kevent_queue *q, struct ukevent *uk,
				bool *recheck);
bool kevent_drop_inflight(struct kevent *k);
void kevent_requeue_failed(struct kevent *k, u32 mask);
bool kevent_finish_copied(struct kevent *k, u32 fired, u32 req_flags);
void kevent_finish_list(struct kevent_queue *q, struct list_head *batch,
			struct list_head *oneshots, struct list_head *last_refs);
void kevent_queue_wake_one(struct kevent_queue *q);
void kevent_queue_kick(struct kevent_queue *q);

/* queue.c: the queue object, its tree and its file */
extern const struct file_operations kevent_fops;
struct kevent_queue *kevent_queue_alloc(void);
void kevent_queue_destroy(struct kevent_queue *q);
bool kevent_queue_tryget(struct kevent_queue *q);
void kevent_queue_put(struct kevent_queue *q);
struct kevent_queue *kevent_queue_from_file(struct file *file);
bool kevent_file_is_queue(const struct file *file);
int kevent_key_cmp(u32 type, u64 id, const struct kevent *k);
bool kevent_matches(const struct kevent *k, const struct ukevent *uk);
struct kevent *kevent_lookup(struct kevent_queue *q, u32 type, u64 id);
int kevent_queue_link(struct kevent_queue *q, struct kevent *k);
void kevent_remove(struct kevent_queue *q, struct kevent *k);
void kevent_storage_remove_all(struct kevent_storage *st);
int kevent_queue_add(struct kevent_queue *q, struct ukevent *uk);
int kevent_queue_modify(struct kevent_queue *q, const struct ukevent *uk);
int kevent_queue_remove(struct kevent_queue *q, const struct ukevent *uk);
int kevent_queue_ready(struct kevent_queue *q, const struct ukevent *uk);

/* deliver.c: waiting, and the one dequeue-copy-finish loop */

/**
 * struct kevent_timeout - a parsed timeout argument
 * @expires: absolute expiry on @clock
 * @to: &@expires, or NULL to wait forever
 * @clock: CLOCK_MONOTONIC (relative timeouts) or CLOCK_REALTIME (ABSTIME)
 * @poll: zero relative timeout: never sleep
 */
struct kevent_timeout {
	ktime_t expires;
	ktime_t *to;
	clockid_t clock;
	bool poll;
};

struct kevent_sink;

/**
 * struct kevent_sink_ops - where a system call copies its events
 * @reserve: called once per pass before anything is dequeued: make room
 *	     (take locks) and return how many events may be copied, or a
 *	     negative errno
 * @copy: copy one event out; 0 or -EFAULT. An event whose copy failed is
 *	  put back at the head of the ready list and ends the pass
 * @release: end of the pass (@n events copied): publish, drop locks.
 *	     0, or -EFAULT if the events could not be published: they
 *	     are then put back at the head of the ready list, in order
 */
struct kevent_sink_ops {
	int (*reserve)(struct kevent_sink *s);
	int (*copy)(struct kevent_sink *s, const struct ukevent *uk);
	int (*release)(struct kevent_sink *s, unsigned int n);
};

/**
 * struct kevent_sink - one delivery's destination
 * @ops: how to copy
 * @q: the queue delivering
 * @min_nr: events to wait for before a pass (0: never wait)
 * @need_space: also wait for a free ring slot
 * @kick: q->kick when the call started
 */
struct kevent_sink {
	const struct kevent_sink_ops *ops;
	struct kevent_queue *q;
	unsigned int min_nr;
	bool need_space;
	int kick;
};

int kevent_get_timeout(const struct __kernel_timespec __user *uts,
		       unsigned int flags, struct kevent_timeout *t);
struct kevent *kevent_dequeue_ready(struct kevent_queue *q,
				    struct ukevent *uk);
int kevent_deliver(struct kevent_sink *s);
int kevent_copy_out(struct ukevent __user *dst, const struct ukevent *uk);
long kevent_wait_deliver(struct kevent_sink *s, struct kevent_timeout *t);

/* ring.c: ring index arithmetic */
u32 kevent_ring_used(const struct kevent_ring_state *rs);
u32 kevent_ring_space(const struct kevent_ring_state *rs);
void kevent_ring_advance(struct kevent_ring_state *rs);
long kevent_ring_commit(struct kevent_ring_state *rs, u32 new_idx, u32 over);

/* limits.c: sysctls and per-user accounting */
extern unsigned int kevent_max_ring_entries;
struct kevent_user_account *kevent_account_get(kuid_t uid);
void kevent_account_put(struct kevent_user_account *acct);
int kevent_account_charge(struct kevent_user_account *acct);
void kevent_account_uncharge(struct kevent_user_account *acct);

/**
 * kevent_check_file() - a file-watching storage's readiness test
 * @k: the kevent, of a storage that watches a file without holding it
 * @filep: the storage's pointer to that file
 * @poll: the storage's test of @file for @k, in process context
 *
 * A file whose last reference is gone is being torn down, and its storage
 * with it: it is not ready, and is not polled.
 *
 * Return: what @poll returns, or 0.
 */
static inline u32 kevent_check_file(struct kevent *k, struct file **filep,
				    u32 (*poll)(const struct kevent *k,
						struct file *file))
{
	struct file *file = get_file_active(filep);
	u32 mask;

	if (!file)
		return 0;
	mask = poll(k, file);
	fput(file);
	return mask;
}

/* The storage types, defined by storage_*.c. */
extern const struct kevent_callbacks kevent_user_callbacks;
extern const struct kevent_callbacks kevent_timer_callbacks;
extern const struct kevent_callbacks kevent_poll_callbacks;
extern const struct kevent_callbacks kevent_signal_callbacks;
extern const struct kevent_callbacks kevent_posix_timer_callbacks;
extern const struct kevent_callbacks kevent_socket_callbacks;
extern const struct kevent_callbacks kevent_pipe_callbacks;
extern const struct kevent_callbacks kevent_inode_callbacks;

#endif /* _KEVENT_KEVENT_H */
