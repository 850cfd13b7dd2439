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
 * room (and wakes kevent_wait() callers sleeping on queue->space_wq).
 *
 * The arithmetic below works on struct kevent_ring_state only, so that
 * KUnit can check it at the wrap boundaries (kunit.c).
 *
 * Locking: queue->ring_mutex serializes every change of the indexes and
 * every write to the ring, including the copy_to_user() calls; it is
 * outside queue->mutex (a ONESHOT removal after a copy takes the latter).
 */

#include <linux/syscalls.h>
#include <linux/uaccess.h>

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

/*
 * Copy up to @num ready events into the ring, never more than the free
 * slots. ring_kidx/ring_over are published with each event, in one 8-byte
 * store. An event whose copy fails goes back to the head of the ready list.
 */
static int kevent_ring_fill(struct kevent_queue *q, unsigned int num)
{
	struct kevent_ring __user *ring = q->ring;
	struct kevent_ring_state next;
	LIST_HEAD(batch);
	struct ukevent uk;
	struct kevent *k;
	unsigned int i, n;
	int ret = 0;
	struct {
		u32 kidx;
		u32 over;
	} hdr;

	lockdep_assert_held(&q->ring_mutex);
	n = min(num, kevent_ring_space(&q->rs));
	for (i = 0; i < n; i++) {
		k = kevent_dequeue_ready(q, &uk);
		if (!k)
			break;
		next = q->rs;
		kevent_ring_advance(&next);
		hdr.kidx = next.kidx;
		hdr.over = next.kover;
		if (copy_to_user(&ring->event[q->rs.kidx], &uk, sizeof(uk)) ||
		    copy_to_user(ring, &hdr, sizeof(hdr))) {
			kevent_finish_delivery(q, k, &uk, false);
			ret = -EFAULT;
			break;
		}
		kevent_defer_delivery(k, &uk, &batch);
		q->rs = next;
		WRITE_ONCE(q->ring_free, kevent_ring_space(&next));
	}
	kevent_finish_deferred(q, &batch);
	return i ? i : ret;
}

static long kevent_do_wait(struct kevent_queue *q, unsigned int num,
			   unsigned int old_uidx,
			   const struct __kernel_timespec __user *timeout,
			   unsigned int flags)
{
	struct kevent_timeout t;
	bool timed_out, stale;
	int kick, ret;

	if (!q || !q->ring || !num || (flags & ~KEVENT_FLAGS_MASK))
		return -EINVAL;
	if (num > KEVENT_MAX_BATCH)
		return -E2BIG;
	ret = kevent_get_timeout(timeout, flags, &t);
	if (ret)
		return ret;

	kick = atomic_read(&q->kick);
	/* The caller's view is stale: events were written since it looked. */
	mutex_lock(&q->ring_mutex);
	stale = old_uidx != q->rs.kidx;
	mutex_unlock(&q->ring_mutex);
	if (stale)
		return 0;

	for (;;) {
		ret = kevent_wait_events(q, 1, true, &t, kick);
		if (ret < 0)
			return ret;
		if (ret == KEVENT_WAIT_KICKED)
			return 0;
		timed_out = !ret;
		if (mutex_lock_interruptible(&q->ring_mutex))
			return -EINTR;
		ret = kevent_ring_fill(q, num);
		mutex_unlock(&q->ring_mutex);
		if (ret || timed_out)
			return ret;
	}
}

SYSCALL_DEFINE5(kevent_wait, int, fd, unsigned int, num,
		unsigned int, old_uidx,
		const struct __kernel_timespec __user *, timeout,
		unsigned int, flags)
{
	CLASS(fd, f)(fd);

	if (fd_empty(f))
		return -EBADF;
	return kevent_do_wait(kevent_queue_from_file(fd_file(f)), num,
			      old_uidx, timeout, flags);
}

static long kevent_do_commit(struct kevent_queue *q, unsigned int new_idx,
			     unsigned int over)
{
	long ret;

	if (!q || !q->ring)
		return -EINVAL;

	mutex_lock(&q->ring_mutex);
	ret = kevent_ring_commit(&q->rs, new_idx, over);
	if (ret > 0) {
		WRITE_ONCE(q->ring_free, kevent_ring_space(&q->rs));
		wake_up_all(&q->space_wq);
	}
	mutex_unlock(&q->ring_mutex);
	return ret;
}

SYSCALL_DEFINE3(kevent_commit, int, fd, unsigned int, new_idx,
		unsigned int, over)
{
	CLASS(fd, f)(fd);

	if (fd_empty(f))
		return -EBADF;
	return kevent_do_commit(kevent_queue_from_file(fd_file(f)), new_idx,
				over);
}
