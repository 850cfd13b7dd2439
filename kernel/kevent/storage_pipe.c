// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_pipe.c - KEVENT_PIPE: data, end of file, room to write
 * and a vanished reader of pipes and FIFOs, reported where the pipe code
 * wakes its readers and writers.
 *
 *
 * Overview
 * --------
 *
 * id.raw[0] is a descriptor of either end of a pipe, or of a FIFO opened in
 * any mode, at ADD (id.raw[1] is free: several kevents of one queue may
 * watch one pipe); event is a mask of KEVENT_PIPE_RECV (data to read, or
 * end of file) and KEVENT_PIPE_SEND (room to write, or no reader left:
 * a write fails with EPIPE). The readiness is the pipe's, whichever end
 * was named: a RECV kevent on the write end tells that the pipe holds
 * data, as in the original series, whose pipe storage belonged to the
 * pipe's inode. ret_data[0] is the ready mask, ret_data[1] the
 * notifications since the last delivery. Any file that vmsplice() would
 * refuse - not a pipe, or a notification pipe (O_NOTIFICATION_PIPE, whose
 * messages are posted under the wait-queue lock without the pipe's mutex,
 * see Locking) - is refused with EBADF, as vmsplice() refuses it
 * (fcntl(F_SETPIPE_SZ) also answers EBADF for a file that is not a pipe).
 *
 * The PIPE kevents of a pipe, from every queue, are on one storage
 * (struct kevent_pipe, pipe->kevent, allocated by the first ADD). The pipe
 * code reports to it through pipe_kevent_notify() (<linux/pipe_fs_i.h>),
 * called next to the pipe's own wake-ups of its readers and writers, after
 * them, so the pipe's sleepers, epoll and fasync are untouched and a pipe
 * without kevents pays one load. The call sites, in
 * kernel/patches/0006-kevent-pipe.patch:
 *
 *  - RECV: every write() that stored data (epoll is woken for each one
 *    too, pipe->poll_usage), a blocking write() about to wait with data
 *    stored in an empty pipe, wakeup_pipe_readers() of splice(), tee()
 *    and vmsplice() into the pipe, the last writer's close (end of file)
 *    and the core dumper's hand-over to its helper;
 *  - SEND: a read() that took from a full pipe, wakeup_pipe_writers() of
 *    splice() and vmsplice() out of the pipe, a resize (F_SETPIPE_SZ) and
 *    the last reader's close (EPIPE).
 *
 * A report is filtered by the pipe's state at that moment, so a kevent is
 * never readied for what the pipe is not ready for (a read of part of a
 * buffer of a full pipe wakes the writers, but leaves the pipe full).
 *
 * The open of a FIFO wakes the other side's open, not a reader or writer
 * of data: a new writer ends an end of file and a new reader an EPIPE, so
 * it only makes the pipe less ready and does not report.
 *
 * Readiness is read from the pipe's state (head, tail, counts), as
 * pipe_poll() reads it, in process context only: at ADD, at MODIFY, and
 * at dequeue for level-triggered re-arms and KEVENT_REQ_LAST_CHECK.
 * pipe_poll() itself is not called: it answers for the one end it is
 * given, and marks the pipe as polled (poll_usage). End of file is no
 * writer left once one has been: a FIFO that no writer has opened yet is
 * not at end of file (as pipe_poll() reports no EPOLLHUP to a reader that
 * opened it before any writer), although read() returns 0 there.
 *
 * KEVENT_REQ_WAKEUP_ONE works through the shared storage (core.c): one
 * write wakes one of N threads waiting on one queue, or one of N
 * processes with a queue each. A WAKEUP_ONE kevent removed while its
 * event waited undelivered re-checks the pipe and, if it is still ready,
 * notifies the storage again, so no reader is left untold.
 *
 * Teardown: the kevents hold no reference to the pipe; they watch the
 * pipe, not the descriptor they named. When the pipe is freed (the last
 * file of either end, in every process, is closed: free_pipe_info()),
 * kevent_pipe_free() removes every kevent of the storage from its queue
 * and unpublishes pipe->kevent; the storage itself is freed after an RCU
 * grace period once its last kevent is destroyed (a kevent being
 * delivered may still point at it). Closing one end only reports (end of
 * file, EPIPE) and leaves the kevents registered.
 *
 *
 * Locking
 * -------
 *
 *   queue->mutex            (ADD, MODIFY, removal; kevent_pipe_free()
 *                            takes it per kevent, with no pipe lock held)
 *     > pipe->mutex         (ADD: creates pipe->kevent, links the kevent
 *                            and reads the state)
 *       > storage->lock     (kevent_storage_ready(), the dequeue check)
 *
 * Ordering: the pipe changes its state (data, counts) under pipe->mutex
 * and reports in or after that section; ADD links its kevent and reads
 * the state under pipe->mutex. If ADD's section comes first the report
 * sees the kevent, otherwise ADD sees the new state: no event is missed
 * without a barrier on the pipe's fast path. A notification pipe posts
 * without the mutex, which is why it is refused.
 *
 * storage->lock is IRQ-safe (core.c); it also guards the storage's
 * pointer to the pipe, so a dequeue check never reads a freed pipe.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_pipe:
 *   st                   - its own lock (core.c)
 *   pipe                 - set at creation; cleared by kevent_pipe_free()
 *                          under st.lock, read under st.lock
 *   fifo                 - immutable
 *   refs                 - atomic: one for pipe->kevent, one per kevent
 *   rcu                  - the last put
 *
 * pipe->kevent            - written under pipe->mutex by ADD (a file is
 *                          held, so the pipe is not freed) and by
 *                          kevent_pipe_free() (no file: no ADD runs);
 *                          read under RCU by the notifications
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kevent.h>
#include <linux/magic.h>
#include <linux/pipe_fs_i.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "kevent.h"

#define KEVENT_PIPE_VALID	(KEVENT_PIPE_RECV | KEVENT_PIPE_SEND)

/**
 * struct kevent_pipe - the storage of the PIPE kevents of one pipe
 * @st: the kevents watching the pipe
 * @pipe: the pipe (no reference), NULL once it is freed
 * @fifo: a FIFO: no end of file before a writer has opened it
 * @refs: pipe->kevent's reference and one per kevent
 * @rcu: frees the storage after the notifications that may still read it
 */
struct kevent_pipe {
	struct kevent_storage st;
	struct pipe_inode_info *pipe;
	bool fifo;
	refcount_t refs;
	struct rcu_head rcu;
};

static void kevent_pipe_put(struct kevent_pipe *kp)
{
	if (refcount_dec_and_test(&kp->refs))
		kfree_rcu(kp, rcu);
}

/*
 * What read() and write() would find, as pipe_poll() reads it: RECV for
 * data or end of file, SEND for a free slot or no reader. A FIFO's
 * w_counter starts at 1 and counts the opens for writing.
 */
static u32 kevent_pipe_mask(const struct pipe_inode_info *pipe, bool fifo)
{
	unsigned int head = READ_ONCE(pipe->head);
	unsigned int tail = READ_ONCE(pipe->tail);
	u32 mask = 0;

	if (!pipe_empty(head, tail) ||
	    (!READ_ONCE(pipe->writers) &&
	     (!fifo || READ_ONCE(pipe->w_counter) != 1)))
		mask |= KEVENT_PIPE_RECV;
	if (!pipe_full(head, tail, READ_ONCE(pipe->max_usage)) ||
	    !READ_ONCE(pipe->readers))
		mask |= KEVENT_PIPE_SEND;
	return mask;
}

/* ->check and ->modify: what is ready among what @k asks for. */
static u32 kevent_pipe_check(struct kevent *k)
{
	struct kevent_pipe *kp = k->priv;
	u32 mask = 0;

	spin_lock_irq(&kp->st.lock);
	if (kp->pipe)
		mask = kevent_pipe_mask(kp->pipe, kp->fifo) & k->event.event;
	spin_unlock_irq(&kp->st.lock);
	return mask;
}

static int kevent_pipe_validate(const struct ukevent *uk)
{
	if (!uk->event || (uk->event & ~KEVENT_PIPE_VALID))
		return -EINVAL;
	return 0;
}

/*
 * pipe->mutex held, @file one of the pipe's files: the storage, created by
 * the first ADD; with a reference.
 */
static struct kevent_pipe *kevent_pipe_get(struct pipe_inode_info *pipe,
					   struct file *file)
{
	struct kevent_pipe *kp;

	kp = rcu_dereference_protected(pipe->kevent,
				       lockdep_is_held(&pipe->mutex));
	if (kp) {
		refcount_inc(&kp->refs);
		return kp;
	}
	kp = kzalloc(sizeof(*kp), GFP_KERNEL_ACCOUNT);
	if (!kp)
		return NULL;
	kevent_storage_init(&kp->st, pipe);
	kp->pipe = pipe;
	kp->fifo = file_inode(file)->i_sb->s_magic != PIPEFS_MAGIC;
	/* pipe->kevent's reference and the caller's */
	refcount_set(&kp->refs, 2);
	rcu_assign_pointer(pipe->kevent, kp);
	return kp;
}

static int kevent_pipe_enqueue(struct kevent *k)
{
	struct pipe_inode_info *pipe;
	struct kevent_pipe *kp;
	struct file *file;
	int ret;

	file = fget(k->event.id.raw[0]);
	if (!file)
		return -EBADF;
	/* a pipe or a FIFO, not a notification pipe: what vmsplice() takes */
	pipe = get_pipe_info(file, true);
	if (!pipe) {
		ret = -EBADF;
		goto out;
	}
	/* The file is held: the pipe has files, so its mutex is in use. */
	mutex_lock(&pipe->mutex);
	kp = kevent_pipe_get(pipe, file);
	if (kp) {
		k->priv = kp;
		kevent_storage_add(&kp->st, k);
		/* Under the mutex: see Ordering in the Locking section. */
		ret = kevent_pipe_mask(pipe, kp->fifo) & k->event.event;
	} else {
		ret = -ENOMEM;
	}
	mutex_unlock(&pipe->mutex);
out:
	fput(file);
	return ret;
}

/* Queue mutex held (REMOVE, queue close, ONESHOT, the pipe's end). */
static void kevent_pipe_dequeue(struct kevent *k)
{
	struct kevent_pipe *kp = k->priv;
	u32 mask;

	if (!kevent_storage_del(&kp->st, k) ||
	    !(k->event.req_flags & KEVENT_REQ_WAKEUP_ONE))
		return;
	/* Its wake-up may have been the one of this event: pass it on. */
	mask = kevent_pipe_check(k);
	if (mask)
		kevent_storage_ready(&kp->st, NULL, mask);
}

static void kevent_pipe_destroy(struct kevent *k)
{
	if (k->priv)
		kevent_pipe_put(k->priv);
}

/* Storage lock held. @event: what the pipe reported, filtered by its state. */
static int kevent_pipe_callback(struct kevent *k, u32 event)
{
	return kevent_record_mask(k, event & k->event.event);
}

/**
 * kevent_pipe_notify() - the pipe reports to its PIPE kevents
 * @pipe: a pipe with kevents (pipe_kevent_notify() tested pipe->kevent)
 * @event: KEVENT_PIPE_RECV (data stored, or the last writer gone),
 *	   KEVENT_PIPE_SEND (room made, or the last reader gone), or both
 *
 * Only what the pipe is ready for now is reported: the pipe wakes its
 * writers after any read from a full pipe, also one that took part of a
 * buffer and left every slot in use, and a reader may have emptied the
 * pipe between a write and its report. The caller holds a file of the
 * pipe, so the state can be read.
 *
 * Context: process (the pipe's read, write, splice and release paths),
 * pipe->mutex held or just dropped by the caller after the change.
 */
void kevent_pipe_notify(struct pipe_inode_info *pipe, u32 event)
{
	struct kevent_pipe *kp;

	rcu_read_lock();
	kp = rcu_dereference(pipe->kevent);
	if (kp) {
		event &= kevent_pipe_mask(pipe, kp->fifo);
		if (event)
			kevent_storage_ready(&kp->st, NULL, event);
	}
	rcu_read_unlock();
}

/**
 * kevent_pipe_free() - remove the PIPE kevents of a pipe being freed
 * @pipe: a pipe with kevents and no file left (free_pipe_info()), so no
 *	  ADD and no notification can reach it any more
 *
 * The storage forgets the pipe first (a dequeue check then finds nothing
 * ready), every kevent is removed from its queue
 * (kevent_storage_remove_all()), then pipe->kevent is unpublished and its
 * reference dropped.
 *
 * Context: process; takes queue mutexes.
 */
void kevent_pipe_free(struct pipe_inode_info *pipe)
{
	struct kevent_pipe *kp = rcu_dereference_protected(pipe->kevent, 1);

	spin_lock_irq(&kp->st.lock);
	kp->pipe = NULL;
	spin_unlock_irq(&kp->st.lock);
	kevent_storage_remove_all(&kp->st);
	RCU_INIT_POINTER(pipe->kevent, NULL);
	kevent_pipe_put(kp);
}

const struct kevent_callbacks kevent_pipe_callbacks = {
	.validate	= kevent_pipe_validate,
	.enqueue	= kevent_pipe_enqueue,
	.dequeue	= kevent_pipe_dequeue,
	.destroy	= kevent_pipe_destroy,
	.callback	= kevent_pipe_callback,
	.check		= kevent_pipe_check,
	.modify		= kevent_pipe_check,
};
