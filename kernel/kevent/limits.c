// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/limits.c - the sysctls under /proc/sys/kevent/ and the per-user
 * accounting of registered kevents.
 *
 * max_user_kevents bounds how many kevents one user may have registered
 * across all of its queues, as epoll's max_user_watches bounds epitems: a
 * kevent pins kernel memory for as long as it is registered. The count is
 * kept here, in a small hash of per-uid counters, rather than in struct
 * user_struct, to keep kevent self-contained. A queue
 * holds a reference to its creator's counter and charges every kevent to
 * it, whoever adds the kevent later (as epoll charges the epoll creator).
 *
 * max_ring_entries bounds the ring size accepted by kevent_init().
 *
 * Locking: kevent_accounts_lock protects the hash and the entries'
 * reference counts; the kevent counters themselves are atomic.
 */

#include <linux/bits.h>
#include <linux/hashtable.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysctl.h>
#include <linux/uidgid.h>

#include "kevent.h"

/* Largest ring accepted by the sysctl: keeps 8 + 40 * N far from 4 GiB. */
#define KEVENT_RING_ENTRIES_CAP	BIT(24)

/*
 * Memory a registered kevent pins: itself plus its source's part, the
 * largest being an INODE kevent's alone on its inode (its 16 records in
 * a 192-byte slab object, the inode's fsnotify mark and storage in a
 * 128-byte one: 320 bytes); a POLL kevent
 * pins struct kevent_poll and a wait-queue entry per wait queue of the
 * file, two for most files (about 200). Neither pins the watched file or
 * inode itself (storage_poll.c, storage_inode.c).
 */
#define KEVENT_ITEM_COST	(sizeof(struct kevent) + 320)

unsigned int kevent_max_ring_entries __read_mostly = 65536;
static unsigned long kevent_max_user_kevents __read_mostly;

/**
 * struct kevent_user_account - registered kevents of one user
 * @link: in kevent_accounts
 * @uid: the user
 * @refs: queues using this entry; kevent_accounts_lock
 * @kevents: kevents registered
 */
struct kevent_user_account {
	struct hlist_node link;
	kuid_t uid;
	unsigned int refs;
	atomic_long_t kevents;
};

static DEFINE_SPINLOCK(kevent_accounts_lock);
static DEFINE_HASHTABLE(kevent_accounts, 5);

static struct kevent_user_account *kevent_account_find(kuid_t uid)
{
	struct kevent_user_account *acct;

	lockdep_assert_held(&kevent_accounts_lock);
	hash_for_each_possible(kevent_accounts, acct, link, __kuid_val(uid))
		if (uid_eq(acct->uid, uid))
			return acct;
	return NULL;
}

/**
 * kevent_account_get() - the kevent counter of a user
 * @uid: the user
 *
 * Return: the counter with a reference taken, or NULL if out of memory.
 */
struct kevent_user_account *kevent_account_get(kuid_t uid)
{
	struct kevent_user_account *acct, *new;

	spin_lock(&kevent_accounts_lock);
	acct = kevent_account_find(uid);
	if (acct)
		acct->refs++;
	spin_unlock(&kevent_accounts_lock);
	if (acct)
		return acct;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return NULL;
	new->uid = uid;
	new->refs = 1;
	atomic_long_set(&new->kevents, 0);

	spin_lock(&kevent_accounts_lock);
	acct = kevent_account_find(uid);
	if (acct) {
		acct->refs++;
	} else {
		hash_add(kevent_accounts, &new->link, __kuid_val(uid));
		acct = new;
		new = NULL;
	}
	spin_unlock(&kevent_accounts_lock);
	kfree(new);
	return acct;
}

/**
 * kevent_account_put() - drop a reference from kevent_account_get()
 * @acct: the counter
 */
void kevent_account_put(struct kevent_user_account *acct)
{
	spin_lock(&kevent_accounts_lock);
	if (--acct->refs) {
		acct = NULL;
	} else {
		WARN_ON_ONCE(atomic_long_read(&acct->kevents));
		hash_del(&acct->link);
	}
	spin_unlock(&kevent_accounts_lock);
	kfree(acct);
}

/**
 * kevent_account_charge() - count one more registered kevent
 * @acct: the counter
 *
 * Return: 0, or -ENOSPC if the user is at max_user_kevents.
 */
int kevent_account_charge(struct kevent_user_account *acct)
{
	if (atomic_long_inc_return(&acct->kevents) >
	    READ_ONCE(kevent_max_user_kevents)) {
		atomic_long_dec(&acct->kevents);
		return -ENOSPC;
	}
	return 0;
}

/**
 * kevent_account_uncharge() - count one registered kevent less
 * @acct: the counter
 */
void kevent_account_uncharge(struct kevent_user_account *acct)
{
	atomic_long_dec(&acct->kevents);
}

static unsigned long kevent_ulong_zero;
static unsigned long kevent_ulong_max = LONG_MAX;
static unsigned int kevent_ring_min = 2;
static unsigned int kevent_ring_cap = KEVENT_RING_ENTRIES_CAP;

static struct ctl_table kevent_sysctls[] = {
	{
		.procname	= "max_user_kevents",
		.data		= &kevent_max_user_kevents,
		.maxlen		= sizeof(kevent_max_user_kevents),
		.mode		= 0644,
		.proc_handler	= proc_doulongvec_minmax,
		.extra1		= &kevent_ulong_zero,
		.extra2		= &kevent_ulong_max,
	},
	{
		.procname	= "max_ring_entries",
		.data		= &kevent_max_ring_entries,
		.maxlen		= sizeof(kevent_max_ring_entries),
		.mode		= 0644,
		.proc_handler	= proc_douintvec_minmax,
		.extra1		= &kevent_ring_min,
		.extra2		= &kevent_ring_cap,
	},
};

static int __init kevent_limits_init(void)
{
	struct sysinfo si;

	/* 4% of low memory, as epoll's max_user_watches. */
	si_meminfo(&si);
	kevent_max_user_kevents = (((si.totalram - si.totalhigh) / 25)
				   << PAGE_SHIFT) / KEVENT_ITEM_COST;
	register_sysctl_init("kevent", kevent_sysctls);
	return 0;
}
fs_initcall(kevent_limits_init);
