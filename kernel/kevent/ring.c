// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/ring.c - the user-space ring: index arithmetic, kevent_wait() and
 * kevent_commit().
 *
 * The ring is an array of N struct ukevent in user memory, preceded by
 * ring_kidx and ring_over. The kernel writes events at kidx and advances
 * it, counting laps in kover (published as ring_over); the user consumes
 * them and reports with kevent_commit() how far it got, which moves uidx
 * (with its own lap count uover). A position is the pair (lap, index).
 *
 * The kernel never writes past the last committed position: the number of
 * entries in use is the distance from (uover, uidx) to (kover, kidx), which
 * is always between 0 and N, and free slots are N minus that. When the ring
 * is full, ready events stay on the queue's ready list until a commit makes
 * room (and wakes the kevent_wait() callers that can now take an event).
 *
 * kevent_wait() is a sink of the delivery engine (deliver.c): reserve
 * takes ring_mutex and counts free slots, copy writes entries at the
 * sink's own write position, and release publishes them all with one
 * 8-byte store of (ring_kidx, ring_over) ordered after the entries (one
 * header store per call, not per event, as io_uring publishes its CQ
 * tail once per batch), then drops the mutex. If that store faults, the
 * entries are not published and the engine puts their kevents back.
 *
 * The ring is memory of the process that created the queue: kevent_wait()
 * and kevent_commit() are refused (EPERM) in any other address space (a
 * forked child, a process that received the fd).
 *
 * The arithmetic below works on struct kevent_ring_state only, so that
 * KUnit can check it at the wrap boundaries (kunit.c).
 *
 *
 * Locking
 * -------
 *
 * queue->ring_mutex serializes every change of the indexes and every
 * write to the ring, including the user copies; it is outside
 * queue->mutex (deliver.c removes ONESHOT kevents after releasing it, but
 * fdinfo and earlier code rely on the order).
 *
 *
 * Field protection
 * ----------------
 *
 * queue->rs: ring_mutex. queue->ring_free: ring_mutex for writes, read
 * locklessly by waiters and the wake function (READ_ONCE).
 */

#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <trace/events/kevent.h>

#include "kevent.h"

/**
 * kevent_ring_used() - entries written and not yet committed
 * @rs: ring state
 *
 * Return: the distance from (uover, uidx) to (kover, kidx), 0..size.
 */
u32 kevent_ring_used(const struct kevent_ring_state *rs)
{
	if (rs->kover == rs->uover)
		return rs->kidx - rs->uidx;
	/* kover == uover + 1: the writer is one lap ahead. */
	return rs->size - rs->uidx + rs->kidx;
}

/**
 * kevent_ring_space() - free slots
 * @rs: ring state
 *
 * Return: how many events can be written without overwriting an
 * uncommitted one.
 */
u32 kevent_ring_space(const struct kevent_ring_state *rs)
{
	return rs->size - kevent_ring_used(rs);
}

/**
 * kevent_ring_advance() - account for one event written at kidx
 * @rs: ring state; the caller checked kevent_ring_space() > 0
 */
void kevent_ring_advance(struct kevent_ring_state *rs)
{
	if (++rs->kidx == rs->size) {
		rs->kidx = 0;
		rs->kover++;
	}
}

/**
 * kevent_ring_commit() - validate and apply a kevent_commit()
 * @rs: ring state
 * @new_idx: index up to which (excluded) the user consumed the ring
 * @over: the lap of @new_idx: ring_over as read when @new_idx was seen
 *	  written, i.e. kover or kover - 1
 *
 * The position (@over, @new_idx) must lie between the committed position
 * (uover, uidx) and the written one (kover, kidx). Positions are compared
 * as distances from the committed one, which is correct across the wrap of
 * the 32-bit lap counters.
 *
 * Return: the number of entries freed (0 if the position is the committed
 * one), -EINVAL if @new_idx is not an index of the ring, -ERANGE if the
 * position is stale, behind the last commit or ahead of the kernel.
 */
long kevent_ring_commit(struct kevent_ring_state *rs, u32 new_idx, u32 over)
{
	u32 dist;

	if (new_idx >= rs->size)
		return -EINVAL;
	if (over == rs->uover) {
		if (new_idx < rs->uidx)
			return -ERANGE;
		dist = new_idx - rs->uidx;
	} else if (over == rs->uover + 1) {
		dist = rs->size - rs->uidx + new_idx;
	} else {
		return -ERANGE;
	}
	if (dist > kevent_ring_used(rs))
		return -ERANGE;
	rs->uidx = new_idx;
	rs->uover = over;
	return dist;
}

/**
 * struct kevent_ring_sink - kevent_wait()'s destination
 * @sink: the delivery engine's view
 * @num: most events the caller asked for
 * @next: the ring state after the entries written by this pass, published
 *	  into queue->rs and the user header by the release
 */
struct kevent_ring_sink {
	struct kevent_sink sink;
	unsigned int num;
	struct kevent_ring_state next;
};

static int kevent_ring_reserve(struct kevent_sink *s)
{
	struct kevent_ring_sink *r = container_of(s, struct kevent_ring_sink,
						  sink);
	struct kevent_queue *q = s->q;

	if (mutex_lock_interruptible(&q->ring_mutex))
		return -EINTR;
	r->next = q->rs;
	return min(r->num, kevent_ring_space(&q->rs));
}

/* Write one entry at the pass's write position; the release publishes it. */
static int kevent_ring_copy(struct kevent_sink *s, const struct ukevent *uk)
{
	struct kevent_ring_sink *r = container_of(s, struct kevent_ring_sink,
						  sink);
	struct kevent_ring __user *ring = s->q->ring;
	int ret;

	lockdep_assert_held(&s->q->ring_mutex);
	ret = kevent_copy_out(&ring->event[r->next.kidx], uk);
	trace_kevent_copy_ring(uk, r->next.kidx, r->next.kover, r->next.uidx,
			       ret);
	if (ret)
		return ret;
	kevent_ring_advance(&r->next);
	return 0;
}

/*
 * Publish the @n entries of the pass: one store of the header, ordered
 * after the entries, then the kernel's own state. A fault leaves both as
 * they were, and the engine requeues the kevents whose entries were
 * written but never published.
 */
static int kevent_ring_release(struct kevent_sink *s, unsigned int n)
{
	struct kevent_ring_sink *r = container_of(s, struct kevent_ring_sink,
						  sink);
	struct kevent_queue *q = s->q;
	union {
		struct {
			u32 kidx;
			u32 over;
		};
		u64 word;
	} hdr = { .kidx = r->next.kidx, .over = r->next.kover };
	int ret = 0;

	if (n) {
		/* entries before index: pairs with the reader's barrier */
		smp_wmb();
		if (put_user(hdr.word, (u64 __user *)&q->ring->ring_kidx)) {
			ret = -EFAULT;
		} else {
			q->rs = r->next;
			WRITE_ONCE(q->ring_free, kevent_ring_space(&r->next));
		}
	}
	mutex_unlock(&q->ring_mutex);
	return ret;
}

static const struct kevent_sink_ops kevent_ring_sink_ops = {
	.reserve	= kevent_ring_reserve,
	.copy		= kevent_ring_copy,
	.release	= kevent_ring_release,
};

/* A ring is only reachable from the address space that created it. */
static int kevent_ring_access(struct kevent_queue *q)
{
	if (!q || !q->ring)
		return -EINVAL;
	if (current->mm != q->ring_mm)
		return -EPERM;
	return 0;
}

static long kevent_do_wait(struct kevent_queue *q, unsigned int num,
			   unsigned int old_uidx,
			   const struct __kernel_timespec __user *timeout,
			   unsigned int flags)
{
	struct kevent_ring_sink r = {
		.sink = { .ops = &kevent_ring_sink_ops, .q = q, .min_nr = 1,
			  .need_space = true },
		.num = num,
	};
	struct kevent_timeout t;
	int ret;

	ret = kevent_ring_access(q);
	if (ret)
		return ret;
	if (!num || (flags & ~KEVENT_FLAGS_MASK))
		return -EINVAL;
	if (num > KEVENT_MAX_BATCH)
		return -E2BIG;
	ret = kevent_get_timeout(timeout, flags, &t);
	if (ret)
		return ret;

	r.sink.kick = atomic_read(&q->kick);
	/*
	 * The caller's view is stale: events were written since it looked.
	 * No lock: a pass publishing right after this read is the same race
	 * as one publishing right after a locked read, and kidx is one
	 * aligned word written under ring_mutex.
	 */
	if (old_uidx != data_race(READ_ONCE(q->rs.kidx)))
		return 0;
	return kevent_wait_deliver(&r.sink, &t);
}

SYSCALL_DEFINE5(kevent_wait, int, fd, unsigned int, num,
		unsigned int, old_uidx,
		const struct __kernel_timespec __user *, timeout,
		unsigned int, flags)
{
	CLASS(fd, f)(fd);
	long ret = -EBADF;

	if (!fd_empty(f))
		ret = kevent_do_wait(kevent_queue_from_file(fd_file(f)), num,
				     old_uidx, timeout, flags);
	if (ret < 0)
		trace_kevent_error(KEVENT_TRACE_WAIT, fd, 0, ret);
	return ret;
}

static long kevent_do_commit(struct kevent_queue *q, unsigned int new_idx,
			     unsigned int over)
{
	long ret;

	ret = kevent_ring_access(q);
	if (ret)
		return ret;

	mutex_lock(&q->ring_mutex);
	ret = kevent_ring_commit(&q->rs, new_idx, over);
	if (ret > 0)
		WRITE_ONCE(q->ring_free, kevent_ring_space(&q->rs));
	trace_kevent_commit(new_idx, over, ret, q->rs.uidx, q->rs.kidx,
			    q->rs.kover);
	mutex_unlock(&q->ring_mutex);
	/*
	 * Free slots: wake the waiters that can now take a ready event (the
	 * wake function checks each one's condition).
	 */
	if (ret > 0 && wq_has_sleeper(&q->wq))
		__wake_up(&q->wq, TASK_NORMAL, 0, NULL);
	return ret;
}

SYSCALL_DEFINE3(kevent_commit, int, fd, unsigned int, new_idx,
		unsigned int, over)
{
	CLASS(fd, f)(fd);
	long ret = -EBADF;

	if (!fd_empty(f))
		ret = kevent_do_commit(kevent_queue_from_file(fd_file(f)),
				       new_idx, over);
	if (ret < 0)
		trace_kevent_error(KEVENT_TRACE_COMMIT, fd, 0, ret);
	return ret;
}
