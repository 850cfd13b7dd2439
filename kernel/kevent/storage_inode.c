// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_inode.c - KEVENT_INODE: entries created and removed in a
 * directory, data written to a file, reported by fsnotify.
 *
 *
 * Overview
 * --------
 *
 * id.raw[0] is a descriptor of the caller at ADD (id.raw[1] is free: several
 * kevents of one queue may watch one inode); event is a mask of
 * KEVENT_INODE_CREATE (an entry appeared: create, mkdir, mknod, symlink,
 * link, rename into the directory), KEVENT_INODE_REMOVE (an entry went:
 * unlink, rmdir, rename out of the directory) and KEVENT_INODE_MODIFY (data
 * written to the watched file, or to a file of the watched directory).
 *
 * No filesystem is edited: the storage is built on fsnotify, the mechanism
 * of inotify and fanotify. kevent owns one fsnotify group; an inode watched
 * by INODE kevents carries one mark of that group, embedded in the
 * inode's storage (struct kevent_inode), and every kevent of every queue
 * that watches the inode is on that storage. The VFS reports to the mark
 * (kevent_inode_handle()), which maps the fsnotify event to a kevent one and
 * reports it through kevent_storage_ready(). fsnotify owns the mark's
 * lifetime: each kevent holds a reference, the last INODE kevent removed
 * destroys the mark, and fsnotify frees it (and so the storage) after its
 * SRCU grace period, once the last reference is gone.
 *
 * Records. An INODE event is an edge with a name: "b was created". A
 * kevent keeps the events it has not delivered in a FIFO of at most
 * KEVENT_INODE_RECORDS records, each one event mask and the FNV-1a hash of
 * the entry's name; it is ready while a record waits, and each delivery
 * copies the oldest record into ret_data (its mask in ret_data[0], its name
 * hash in ret_data[1]). The hash is what fits a fixed-size struct ukevent:
 * a program that listed the directory knows the name of a REMOVE by its
 * hash, and finds a CREATE's name by hashing the names readdir() returns.
 * Names are not kept, so the memory of a kevent is fixed and charged with
 * the kevent. When the FIFO is full, further events are merged into one
 * last record flagged KEVENT_INODE_OVERFLOW, without a name (as inotify's
 * IN_Q_OVERFLOW), delivered after the FIFO's records: the program knows it
 * must list the directory again.
 *
 * Every record is delivered once: after a delivery the record is dropped
 * and, if others wait, the kevent is requeued at once (->more). There
 * is no readiness to re-check, so LAST_CHECK changes nothing, and ET does
 * not either: every record is its own edge.
 *
 * The end. When the watched inode goes (its last link removed and its last
 * user gone, or its filesystem unmounted), fsnotify reports FS_DELETE_SELF
 * (deletion only), then destroys every mark on it and tells the group
 * (->freeing_mark): at the first of the two each kevent gets a last record,
 * KEVENT_INODE_GONE, takes nothing after it, and is removed when that
 * record is delivered (the delivered copy carries KEVENT_REQ_ONESHOT). The kevents never touch the
 * inode: it is only reached through the descriptor at ADD, so a kevent
 * outliving its inode (not yet read, or its queue elsewhere) holds only
 * its reference on the detached mark.
 *
 * WAKEUP_ONE: in one kevent_storage_notify() pass the first WAKEUP_ONE
 * kevent whose queue had a sleeper takes the record and ends the search
 * (core.c), so workers with a WAKEUP_ONE kevent each on one spool directory
 * share its files, one worker per event. Records are not handed on when a
 * kevent is removed (see kevent_inode_dequeue()). GONE is every kevent's.
 *
 *
 * Locking
 * -------
 *
 *   queue->mutex              (ADD, MODIFY, removal)
 *     > kevent_inode_mutex     (ADD, MODIFY and removal: finding, creating
 *                               and destroying the mark; its fsnotify mask)
 *       > group->mark_mutex    (fsnotify_add_mark(), fsnotify_destroy_mark())
 *       > kevent_inode.fire_lock  (one report at a time per inode)
 *         > storage->lock      (kevent_storage_ready())
 *
 * The handler runs in process context under fsnotify's SRCU, with the
 * locks of the VFS operation held (a directory's i_rwsem); it takes only
 * fire_lock and what kevent_storage_ready() takes. ->freeing_mark may run
 * inside our removal (kevent_inode_mutex held), at eviction or at unmount,
 * and takes the same locks as the handler.
 *
 * kevent_inode_mutex serializes "find the inode's mark or attach a new
 * one, then add the kevent to it" against "remove the kevent, and destroy
 * the mark if it was the last": an ADD never joins a mark being destroyed.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_inode:
 *   mark                 - fsnotify's; mark.mask under mark.lock and
 *                          kevent_inode_mutex
 *   st                   - its own lock (core.c)
 *   fire_lock            - self
 *   name                 - fire_lock (written by a report, read by the
 *                          storage's callbacks during that report)
 *   dir                  - immutable
 *
 * struct kevent_inode_watch: storage->lock, except ki (immutable). from_fs
 * is set by the report's filter and consumed by the type callback that
 * follows it for the same kevent, in one hold of the storage lock.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsnotify_backend.h>
#include <linux/init.h>
#include <linux/mutex.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kevent.h"

/* Undelivered records a kevent keeps before it merges them (OVERFLOW). */
#define KEVENT_INODE_RECORDS	16

/* What a request may ask for; GONE and the flags are always reported. */
#define KEVENT_INODE_VALID	(KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE | \
				 KEVENT_INODE_MODIFY)
#define KEVENT_INODE_FLAGS	(KEVENT_INODE_ISDIR | KEVENT_INODE_MOVED)

/* The fsnotify events every mark gets; MODIFY only when asked (costly). */
#define KEVENT_INODE_FS_MASK	(FS_CREATE | FS_DELETE | FS_MOVED_FROM | \
				 FS_MOVED_TO | FS_DELETE_SELF)

/**
 * struct kevent_inode - the storage of the INODE kevents of one inode
 * @mark: our group's fsnotify mark on the inode
 * @st: the kevents watching the inode
 * @fire_lock: one report at a time: protects @name
 * @name: name hash of the report being made
 * @dir: the inode is a directory (MODIFY then means its entries')
 */
struct kevent_inode {
	struct fsnotify_mark mark;
	struct kevent_storage st;
	spinlock_t fire_lock;		/* outside st.lock */
	u32 name;
	bool dir;
};

/**
 * struct kevent_inode_rec - one undelivered event
 * @mask: KEVENT_INODE_* event and flags
 * @name: FNV-1a hash of the entry's name, 0 without a name
 */
struct kevent_inode_rec {
	u32 mask;
	u32 name;
};

/**
 * struct kevent_inode_watch - an INODE kevent's records
 * @ki: the inode's storage (a mark reference), NULL until ADD found it
 * @head: oldest record in @rec
 * @count: records waiting
 * @lost: events merged once @rec was full, delivered after it (OVERFLOW)
 * @lost_more: events merged while @lost is being delivered
 * @snap_lost: the delivery in flight took @lost, not a record
 * @from_fs: the report being made comes from fsnotify: its name is @ki's
 * @gone: KEVENT_INODE_GONE recorded; nothing else is taken
 * @rec: the FIFO
 */
struct kevent_inode_watch {
	struct kevent_inode *ki;
	unsigned int head;
	unsigned int count;
	u32 lost;
	u32 lost_more;
	bool snap_lost;
	bool from_fs;
	bool gone;
	struct kevent_inode_rec rec[KEVENT_INODE_RECORDS];
};

static struct fsnotify_group *kevent_inode_group __ro_after_init;
static DEFINE_MUTEX(kevent_inode_mutex);

/* FNV-1a, 32 bits: the name hash of ret_data[1] (uapi header, abi.md). */
static u32 kevent_inode_hash(const struct qstr *name)
{
	u32 h = KEVENT_INODE_HASH_BASIS;
	unsigned int i;

	for (i = 0; i < name->len; i++) {
		h ^= name->name[i];
		h *= KEVENT_INODE_HASH_PRIME;
	}
	return h;
}

/*
 * kevent_storage_ready() filter of the reports of kevent_inode_report():
 * the type callback that follows for the same kevent, under the same hold
 * of the storage lock, takes the report's name.
 */
static int kevent_inode_from_fs(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	kw->from_fs = true;
	return 1;
}

/*
 * Report @mask about the entry hashed @name to the kevents of @ki: to one
 * WAKEUP_ONE kevent with a sleeper and every other kevent, as any source.
 * GONE is for every kevent: a pass that reached a kevent that had not
 * taken it may have left WAKEUP_ONE ones out, so pass again until none
 * takes it (a kevent takes GONE once).
 */
static void kevent_inode_report(struct kevent_inode *ki, u32 mask, u32 name)
{
	int n;

	spin_lock(&ki->fire_lock);
	ki->name = name;
	do {
		n = kevent_storage_ready(&ki->st, kevent_inode_from_fs, mask);
	} while (n && (mask & KEVENT_INODE_GONE));
	spin_unlock(&ki->fire_lock);
}

/* Storage lock held: queue a record, or merge it once the FIFO is full. */
static void kevent_inode_record(struct kevent_inode_watch *kw, u32 mask,
				u32 name)
{
	struct kevent_inode_rec *r;

	/* After an overflow everything merges until it is delivered: order. */
	if (kw->lost || kw->count == KEVENT_INODE_RECORDS) {
		if (kw->snap_lost)
			kw->lost_more |= mask;
		else
			kw->lost |= mask;
		return;
	}
	r = &kw->rec[(kw->head + kw->count) % KEVENT_INODE_RECORDS];
	r->mask = mask;
	r->name = name;
	kw->count++;
}

/*
 * Storage lock held, any context. @event: KEVENT_INODE_* from a report of
 * the handler or ->freeing_mark, or the mask of a KEVENT_CTL_READY (which
 * can only give the events the kevent asks for, without a name).
 */
static int kevent_inode_callback(struct kevent *k, u32 event)
{
	struct kevent_inode_watch *kw = k->priv;
	bool from_fs = kw->from_fs;
	u32 mask;

	kw->from_fs = false;
	if (kw->gone)
		return KEVENT_CB_NOT_READY;
	if (from_fs && (event & KEVENT_INODE_GONE)) {
		kw->gone = true;
		kevent_inode_record(kw, KEVENT_INODE_GONE, 0);
		return KEVENT_CB_READY;
	}
	mask = event & k->event.event & KEVENT_INODE_VALID;
	if (!mask)
		return KEVENT_CB_NOT_READY;
	if (from_fs)
		mask |= event & KEVENT_INODE_FLAGS;
	kevent_inode_record(kw, mask, from_fs ? kw->ki->name : 0);
	return KEVENT_CB_READY;
}

/*
 * Storage and ready locks held, @k being taken: the oldest record goes
 * out, or the merged ones. A GONE record ends the kevent: the copy asks
 * the delivery for a ONESHOT removal.
 */
static void kevent_inode_snapshot(struct kevent *k, struct ukevent *uk)
{
	struct kevent_inode_watch *kw = k->priv;

	kw->snap_lost = !kw->count;
	/*
	 * ret_data[1] is the name, not the core's firing count: each record
	 * is one firing, so that count is not needed.
	 */
	if (kw->count) {
		uk->ret_data[0] = kw->rec[kw->head].mask;
		uk->ret_data[1] = kw->rec[kw->head].name;
	} else {
		/* a copy that failed left some in lost_more: all go now */
		kw->lost |= kw->lost_more;
		kw->lost_more = 0;
		uk->ret_data[0] = kw->lost ? kw->lost | KEVENT_INODE_OVERFLOW : 0;
		uk->ret_data[1] = 0;
	}
	if (uk->ret_data[0] & KEVENT_INODE_GONE)
		uk->req_flags |= KEVENT_REQ_ONESHOT;
}

/* Storage and ready locks held: the snapshot's record reached the user. */
static void kevent_inode_delivered(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	if (kw->snap_lost) {
		kw->lost = kw->lost_more;
		kw->lost_more = 0;
		kw->snap_lost = false;
	} else if (kw->count) {
		kw->head = (kw->head + 1) % KEVENT_INODE_RECORDS;
		kw->count--;
	}
}

/* Storage lock held, after a delivery: records wait, deliver again. */
static bool kevent_inode_more(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	return kw->count || kw->lost;
}

static int kevent_inode_validate(const struct ukevent *uk)
{
	if (!uk->event || (uk->event & ~KEVENT_INODE_VALID))
		return -EINVAL;
	return 0;
}

/*
 * kevent_inode_mutex held: the fsnotify events the mark must get. MODIFY
 * is asked of fsnotify only while a kevent wants it: for a directory it
 * makes every write to its files call the handler.
 */
static void kevent_inode_update_mask(struct kevent_inode *ki)
{
	u32 want = KEVENT_INODE_FS_MASK;
	struct kevent *k;
	bool changed;

	lockdep_assert_held(&kevent_inode_mutex);
	spin_lock_irq(&ki->st.lock);
	list_for_each_entry(k, &ki->st.list, storage_entry)
		if (k->event.event & KEVENT_INODE_MODIFY)
			want |= FS_MODIFY | (ki->dir ? FS_EVENT_ON_CHILD : 0);
	spin_unlock_irq(&ki->st.lock);

	/* the group's mutex keeps the mark attached while we recalc */
	fsnotify_group_lock(kevent_inode_group);
	spin_lock(&ki->mark.lock);
	changed = (ki->mark.flags & FSNOTIFY_MARK_FLAG_ATTACHED) &&
		  ki->mark.mask != want;
	if (changed)
		ki->mark.mask = want;
	spin_unlock(&ki->mark.lock);
	if (changed)
		fsnotify_recalc_mask(ki->mark.connector);
	fsnotify_group_unlock(kevent_inode_group);
}

/* kevent_inode_mutex held: the storage of @inode, with a reference. */
static struct kevent_inode *kevent_inode_get(struct inode *inode)
{
	struct fsnotify_mark *mark;
	struct kevent_inode *ki;
	int err;

	lockdep_assert_held(&kevent_inode_mutex);
	mark = fsnotify_find_inode_mark(inode, kevent_inode_group);
	if (mark)
		return container_of(mark, struct kevent_inode, mark);

	ki = kzalloc(sizeof(*ki), GFP_KERNEL_ACCOUNT);
	if (!ki)
		return ERR_PTR(-ENOMEM);
	fsnotify_init_mark(&ki->mark, kevent_inode_group);
	kevent_storage_init(&ki->st, inode);
	spin_lock_init(&ki->fire_lock);
	ki->dir = S_ISDIR(inode->i_mode);
	ki->mark.mask = KEVENT_INODE_FS_MASK;
	/* the mark's first reference becomes the caller's */
	err = fsnotify_add_inode_mark(&ki->mark, inode, 0);
	if (err) {
		fsnotify_put_mark(&ki->mark);
		return ERR_PTR(err);
	}
	return ki;
}

/* Files of pseudo filesystems (pipes, sockets, anon inodes) are refused. */
static int kevent_inode_usable(struct file *file)
{
	struct inode *inode = file_inode(file);
	int err;

	if (inode->i_sb->s_flags & SB_NOUSER)
		return -EOPNOTSUPP;
	/* As inotify_add_watch(): watching reveals names, reading does. */
	err = inode_permission(file_mnt_idmap(file), inode, MAY_READ);
	if (err)
		return err;
	return security_path_notify(&file->f_path, KEVENT_INODE_FS_MASK |
				    FS_MODIFY, FSNOTIFY_OBJ_TYPE_INODE);
}

static int kevent_inode_enqueue(struct kevent *k)
{
	struct kevent_inode_watch *kw;
	struct kevent_inode *ki;
	struct file *file;
	int err;

	if (!kevent_inode_group)
		return -ENOMEM;
	file = fget(k->event.id.raw[0]);
	if (!file)
		return -EBADF;
	err = kevent_inode_usable(file);
	if (err)
		goto out;
	kw = kzalloc(sizeof(*kw), GFP_KERNEL_ACCOUNT);
	if (!kw) {
		err = -ENOMEM;
		goto out;
	}
	k->priv = kw;

	mutex_lock(&kevent_inode_mutex);
	ki = kevent_inode_get(file_inode(file));
	if (IS_ERR(ki)) {
		err = PTR_ERR(ki);
	} else {
		kw->ki = ki;
		kevent_storage_add(&ki->st, k);
		kevent_inode_update_mask(ki);
	}
	mutex_unlock(&kevent_inode_mutex);
out:
	fput(file);
	/* never ready at ADD: an event is something that happens after */
	return err;
}

/*
 * Queue mutex held (REMOVE, queue close, ONESHOT and GONE deliveries). The
 * kevent's undelivered records go with it, WAKEUP_ONE or not: the other
 * kevents that should see an event took it when it came, and handing on
 * a record could give one an event it already has (a WAKEUP_ONE kevent
 * that was already ready woke nobody, so the next one took it too).
 */
static void kevent_inode_dequeue(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;
	struct kevent_inode *ki = kw->ki;
	bool last;

	mutex_lock(&kevent_inode_mutex);
	kevent_storage_del(&ki->st, k);
	spin_lock_irq(&ki->st.lock);
	last = list_empty(&ki->st.list);
	spin_unlock_irq(&ki->st.lock);
	if (last)
		/* detached now: no ADD finds it; freed with its last reference */
		fsnotify_destroy_mark(&ki->mark, kevent_inode_group);
	else
		kevent_inode_update_mask(ki);
	mutex_unlock(&kevent_inode_mutex);
}

static void kevent_inode_destroy(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	if (kw && kw->ki)
		fsnotify_put_mark(&kw->ki->mark);
	kfree(kw);
}

/* MODIFY may have added or dropped MODIFY: what fsnotify must report. */
static u32 kevent_inode_modify(struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	mutex_lock(&kevent_inode_mutex);
	kevent_inode_update_mask(kw->ki);
	mutex_unlock(&kevent_inode_mutex);
	return 0;
}

static void kevent_inode_show_fdinfo(struct seq_file *m, struct kevent *k)
{
	struct kevent_inode_watch *kw = k->priv;

	seq_printf(m, " records=%u lost=0x%x", kw->count,
		   kw->lost | kw->lost_more);
}

/* The VFS reports to a mark of ours: process context, may hold VFS locks. */
static int kevent_inode_handle(struct fsnotify_mark *mark, u32 mask,
			       struct inode *inode, struct inode *dir,
			       const struct qstr *name, u32 cookie)
{
	struct kevent_inode *ki = container_of(mark, struct kevent_inode,
					       mark);
	u32 event = 0;

	if (mask & FS_DELETE_SELF) {
		kevent_inode_report(ki, KEVENT_INODE_GONE, 0);
		return 0;
	}
	if (mask & FS_CREATE)
		event |= KEVENT_INODE_CREATE;
	if (mask & FS_MOVED_TO)
		event |= KEVENT_INODE_CREATE | KEVENT_INODE_MOVED;
	if (mask & FS_DELETE)
		event |= KEVENT_INODE_REMOVE;
	if (mask & FS_MOVED_FROM)
		event |= KEVENT_INODE_REMOVE | KEVENT_INODE_MOVED;
	if (mask & FS_MODIFY)
		event |= KEVENT_INODE_MODIFY;
	if (!event)
		return 0;
	if (mask & FS_ISDIR)
		event |= KEVENT_INODE_ISDIR;
	kevent_inode_report(ki, event, name ? kevent_inode_hash(name) : 0);
	return 0;
}

/*
 * The mark is being destroyed: by our last removal (no kevent left), or
 * because the inode is gone (evicted after its deletion, or unmounted),
 * and then it is the last event of every kevent still on it.
 */
static void kevent_inode_freeing_mark(struct fsnotify_mark *mark,
				      struct fsnotify_group *group)
{
	kevent_inode_report(container_of(mark, struct kevent_inode, mark),
			    KEVENT_INODE_GONE, 0);
}

/* The last reference, after fsnotify's SRCU grace period. */
static void kevent_inode_free_mark(struct fsnotify_mark *mark)
{
	kfree(container_of(mark, struct kevent_inode, mark));
}

static const struct fsnotify_ops kevent_inode_fsnotify_ops = {
	.handle_inode_event	= kevent_inode_handle,
	.freeing_mark		= kevent_inode_freeing_mark,
	.free_mark		= kevent_inode_free_mark,
};

static int __init kevent_inode_init(void)
{
	struct fsnotify_group *group;

	group = fsnotify_alloc_group(&kevent_inode_fsnotify_ops, 0);
	if (IS_ERR(group))
		return PTR_ERR(group);
	kevent_inode_group = group;
	return 0;
}
fs_initcall(kevent_inode_init);

const struct kevent_callbacks kevent_inode_callbacks = {
	.validate	= kevent_inode_validate,
	.enqueue	= kevent_inode_enqueue,
	.dequeue	= kevent_inode_dequeue,
	.destroy	= kevent_inode_destroy,
	.callback	= kevent_inode_callback,
	.modify		= kevent_inode_modify,
	.snapshot	= kevent_inode_snapshot,
	.delivered	= kevent_inode_delivered,
	.more		= kevent_inode_more,
	.show_fdinfo	= kevent_inode_show_fdinfo,
};
