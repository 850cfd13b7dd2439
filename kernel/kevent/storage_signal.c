// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_signal.c - KEVENT_SIGNAL: signals sent to a process.
 *
 *
 * Overview
 * --------
 *
 * A SIGNAL kevent watches one signal number (id.raw_u64 without
 * KEVENT_SIGNAL_NOMASK) of the process that added it: signals sent to the
 * process as a whole and to any of its threads. With KEVENT_SIGNAL_NOMASK
 * the kevent takes the signal: it is not queued, so the process never
 * receives it (no handler runs, sigwait() does not see it).
 *
 * The kevents of a process are kept in a *hub*, created by its first
 * SIGNAL ADD: one storage per signal number, so a signal only walks the
 * kevents that watch it. Hubs are found by their signal_struct in a hash
 * table (no field is added to signal_struct, whose layout half the kernel
 * depends on).
 *
 * kernel/signal.c calls kevent_signal() from __send_signal_locked() once
 * prepare_signal() has accepted the signal and before it is queued, so:
 *   - a signal the kernel discards as ignored (SIG_IGN, or a default action
 *     of "ignore", while not blocked) never reaches a kevent; a blocked
 *     signal is never discarded, whatever its action;
 *   - stop and continue signals have had their effect on the process;
 *   - every signal sent is counted, also the ones the pending set merges.
 * Signals of POSIX timers are queued by send_sigqueue(), not there: a timer
 * is watched with KEVENT_POSIX_TIMER instead.
 *
 * The hub's storage for the signal is readied through
 * kevent_storage_ready(); its filter records the sender in each kevent
 * that takes the signal and whether a NOMASK one did, in which case the
 * signal is not queued.
 *
 * ret_data[0] is the pid of the last sender as seen by the receiver (0 for
 * the kernel, or when the signal carries no sender), ret_data[1] the
 * number of signals since the last delivery (counted by the core).
 *
 * A hub lives as long as its process's signal_struct or its last kevent,
 * whichever goes last: the table holds one reference until
 * free_signal_struct() calls kevent_signal_free(), each kevent another.
 * An unhashed hub is never found again, so a new process whose
 * signal_struct reuses the memory cannot reach the old kevents.
 *
 *
 * Locking
 * -------
 *
 *   sighand->siglock (the sender, IRQ-safe)
 *     > storage->lock of the signal's storage
 *       > (the rest of the order, core.c)
 *
 * kevent_signal() runs under the receiver's siglock, with interrupts off,
 * possibly in interrupt context; the hash table is read under RCU, and a
 * hub is freed after a grace period. kevent_signal_table_lock (IRQ-safe:
 * free_signal_struct() may run in softirq context) serializes inserting
 * and unhashing hubs and nests inside nothing of ours. A hub is created
 * by its own process, whose signal_struct is alive, and unhashed when
 * that signal_struct is freed, when no sender can reach it any more: the
 * lockless count of hubs only lets senders skip the table when it is
 * empty.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_signal_hub:
 *   node                 - kevent_signal_table_lock, RCU for readers
 *   (kevent_signal_hubs  - atomic, written under kevent_signal_table_lock)
 *   sig                  - immutable
 *   refs                 - atomic
 *   st[]                 - their own locks
 *   from_pid, taken      - scratch of one kevent_signal() call: the
 *                          receiver's siglock, which every sender holds
 *
 * struct kevent_signal:
 *   hub                  - immutable
 *   sending              - the storage lock (set by the filter, consumed
 *                          by the type callback of the same pass)
 */

#include <linux/hashtable.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/kevent.h>

#include "kevent.h"

/* Signals whose NOMASK would take a fault away from the faulting thread. */
#define KEVENT_SIGNAL_SYNCHRONOUS \
	(sigmask(SIGSEGV) | sigmask(SIGBUS) | sigmask(SIGILL) | \
	 sigmask(SIGTRAP) | sigmask(SIGFPE) | sigmask(SIGSYS))

/**
 * struct kevent_signal_hub - the SIGNAL kevents of one process
 * @node: in kevent_signal_table
 * @rcu: frees the hub after the readers of the table
 * @sig: the process's signal_struct (a key only, never dereferenced)
 * @refs: the table's reference while hashed, one per kevent
 * @from_pid: sender of the signal being reported
 * @taken: a NOMASK kevent took the signal being reported
 * @st: one storage per signal number (signal n at n - 1)
 */
struct kevent_signal_hub {
	struct hlist_node node;
	struct rcu_head rcu;
	const struct signal_struct *sig;
	refcount_t refs;
	pid_t from_pid;
	bool taken;
	struct kevent_storage st[_NSIG];
};

/**
 * struct kevent_signal - a SIGNAL kevent's type data
 * @hub: its process's hub
 * @sending: the callback in progress reports a signal, not a READY
 */
struct kevent_signal {
	struct kevent_signal_hub *hub;
	bool sending;
};

static DEFINE_HASHTABLE(kevent_signal_table, 6);
static DEFINE_SPINLOCK(kevent_signal_table_lock);
/* hubs in the table: the senders' lockless "nobody watches" test */
static atomic_t kevent_signal_hubs = ATOMIC_INIT(0);

static struct kevent_signal_hub *kevent_signal_lookup(const struct signal_struct *sig)
{
	struct kevent_signal_hub *hub;

	hash_for_each_possible_rcu(kevent_signal_table, hub, node,
				   (unsigned long)sig)
		if (hub->sig == sig)
			return hub;
	return NULL;
}

static void kevent_signal_hub_put(struct kevent_signal_hub *hub)
{
	if (refcount_dec_and_test(&hub->refs))
		kfree_rcu(hub, rcu);
}

/* Find or create the hub of the calling process; with a reference. */
static struct kevent_signal_hub *kevent_signal_hub_get(void)
{
	struct signal_struct *sig = current->signal;
	struct kevent_signal_hub *hub, *new;
	unsigned long flags;
	int i;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	new->sig = sig;
	refcount_set(&new->refs, 2);	/* the table's and the caller's */
	for (i = 0; i < _NSIG; i++)
		kevent_storage_init(&new->st[i], new);

	spin_lock_irqsave(&kevent_signal_table_lock, flags);
	hub = kevent_signal_lookup(sig);
	if (hub) {
		refcount_inc(&hub->refs);
	} else {
		hash_add_rcu(kevent_signal_table, &new->node, (unsigned long)sig);
		atomic_inc(&kevent_signal_hubs);
		hub = new;
		new = NULL;
	}
	spin_unlock_irqrestore(&kevent_signal_table_lock, flags);
	kfree(new);
	return hub;
}

/**
 * kevent_signal_free() - forget a process whose signal_struct is freed
 * @sig: the signal_struct
 *
 * No signal can be sent to @sig any more. Its hub leaves the table; its
 * kevents stay registered and will never fire again.
 *
 * Context: any (free_signal_struct() may run in softirq context).
 */
void kevent_signal_free(struct signal_struct *sig)
{
	struct kevent_signal_hub *hub;
	unsigned long flags;

	if (!atomic_read(&kevent_signal_hubs))
		return;
	spin_lock_irqsave(&kevent_signal_table_lock, flags);
	hub = kevent_signal_lookup(sig);
	if (hub) {
		hash_del_rcu(&hub->node);
		atomic_dec(&kevent_signal_hubs);
	}
	spin_unlock_irqrestore(&kevent_signal_table_lock, flags);
	if (hub)
		kevent_signal_hub_put(hub);
}

/* The pid of the sender of @info as the receiver @t sees it; 0 if none. */
static pid_t kevent_signal_sender(struct task_struct *t, int sig,
				  struct kernel_siginfo *info)
{
	if (info == SEND_SIG_NOINFO)
		return task_tgid_nr_ns(current, task_active_pid_ns(t));
	if (info == SEND_SIG_PRIV)
		return 0;
	switch (siginfo_layout(sig, info->si_code)) {
	case SIL_KILL:
	case SIL_CHLD:
	case SIL_RT:
		/* already translated for @t by send_signal_locked() */
		return info->si_pid;
	default:
		return 0;
	}
}

/* Filter of kevent_signal()'s kevent_storage_ready(): a signal, not READY. */
static int kevent_signal_sent(struct kevent *k)
{
	struct kevent_signal *ks = k->priv;

	ks->sending = true;
	return 1;
}

/**
 * kevent_signal() - report a signal to the SIGNAL kevents of its receiver
 * @t: the thread the signal is sent to
 * @sig: the signal number
 * @info: its siginfo, or SEND_SIG_NOINFO / SEND_SIG_PRIV
 *
 * Called by __send_signal_locked() for a signal prepare_signal() accepted.
 *
 * Context: @t's siglock held, interrupts off, any context.
 * Return: true if a KEVENT_SIGNAL_NOMASK kevent took the signal: the
 * caller must not queue it.
 */
bool kevent_signal(struct task_struct *t, int sig, struct kernel_siginfo *info)
{
	struct kevent_signal_hub *hub;
	bool taken = false;

	lockdep_assert_held(&t->sighand->siglock);
	if (!atomic_read(&kevent_signal_hubs))
		return false;
	rcu_read_lock();
	hub = kevent_signal_lookup(t->signal);
	if (hub && !list_empty(&hub->st[sig - 1].list)) {
		hub->from_pid = kevent_signal_sender(t, sig, info);
		hub->taken = false;
		kevent_storage_ready(&hub->st[sig - 1], kevent_signal_sent,
				     KEVENT_SIGNAL_DELIVERY);
		taken = hub->taken;
	}
	rcu_read_unlock();
	return taken;
}

static int kevent_signal_validate(const struct ukevent *uk)
{
	u64 sig = uk->id.raw_u64 & ~KEVENT_SIGNAL_NOMASK;

	if (uk->event != KEVENT_SIGNAL_DELIVERY)
		return -EINVAL;
	/* SIGKILL and SIGSTOP cannot be caught, blocked or ignored */
	if (!sig || sig > _NSIG || sig_kernel_only(sig))
		return -EINVAL;
	/* a fault signal the thread never receives would fault forever */
	if ((uk->id.raw_u64 & KEVENT_SIGNAL_NOMASK) && sig < 32 &&
	    (sigmask(sig) & KEVENT_SIGNAL_SYNCHRONOUS))
		return -EINVAL;
	return 0;
}

static unsigned int kevent_signal_nr(const struct kevent *k)
{
	return k->event.id.raw_u64 & ~KEVENT_SIGNAL_NOMASK;
}

static int kevent_signal_enqueue(struct kevent *k)
{
	struct kevent_signal *ks = kzalloc(sizeof(*ks), GFP_KERNEL_ACCOUNT);

	if (!ks)
		return -ENOMEM;
	ks->hub = kevent_signal_hub_get();
	if (!ks->hub) {
		kfree(ks);
		return -ENOMEM;
	}
	k->priv = ks;
	kevent_storage_add(&ks->hub->st[kevent_signal_nr(k) - 1], k);
	return 0;
}

static void kevent_signal_dequeue(struct kevent *k)
{
	kevent_storage_del(k->st, k);
}

static void kevent_signal_destroy(struct kevent *k)
{
	struct kevent_signal *ks = k->priv;

	if (!ks)
		return;
	kevent_signal_hub_put(ks->hub);
	kfree(ks);
}

/*
 * Storage lock held: a signal (under the receiver's siglock, reported by
 * the filter) or a KEVENT_CTL_READY, which counts as a signal without a
 * sender.
 */
static int kevent_signal_callback(struct kevent *k, u32 event)
{
	struct kevent_signal *ks = k->priv;
	struct kevent_signal_hub *hub = ks->hub;

	if (!ks->sending) {
		k->event.ret_data[0] = 0;
		return KEVENT_CB_READY;
	}
	ks->sending = false;
	k->event.ret_data[0] = hub->from_pid;
	if (k->event.id.raw_u64 & KEVENT_SIGNAL_NOMASK)
		hub->taken = true;
	return KEVENT_CB_READY;
}

const struct kevent_callbacks kevent_signal_callbacks = {
	.validate	= kevent_signal_validate,
	.enqueue	= kevent_signal_enqueue,
	.dequeue	= kevent_signal_dequeue,
	.destroy	= kevent_signal_destroy,
	.callback	= kevent_signal_callback,
};
