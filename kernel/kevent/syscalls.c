// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/syscalls.c - kevent_init(), kevent_ctl(), kevent_get_events(), and
 * the wait loop shared with kevent_wait() (ring.c).
 *
 *
 * Waiting
 * -------
 *
 * Threads wait on queue->wq as *exclusive* waiters, so that the storage
 * can choose between waking exactly one of them (KEVENT_REQ_WAKEUP_ONE)
 * and waking all (see kevent_queue_wake() in core.c); pollers of the queue
 * fd wait on queue->poll_wq and are always woken. A wake-up that
 * reaches a thread which is already running does not count as exclusive, so
 * it passes on to the next sleeper. kevent_wait() callers whose ring is full
 * wait on queue->space_wq instead, which kevent_commit() wakes: a thread
 * that could not take an event must not absorb an exclusive wake-up meant
 * for one that can.
 *
 * The entry's wake function counts the threads actually woken (the
 * "wakeups" line of fdinfo), which is how the thundering-herd behaviour is
 * observed from user space.
 *
 * The condition is checked after prepare_to_wait_exclusive() and before
 * looking at signals or the timeout, so an exclusive waiter selected by a
 * wake-up consumes the event even if a signal arrives at the same time.
 */

#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/syscalls.h>
#include <linux/time64.h>
#include <linux/uaccess.h>

#include "kevent.h"

/**
 * kevent_get_timeout() - read a timeout argument
 * @uts: user timespec, NULL to wait forever
 * @flags: KEVENT_FLAGS_ABSTIME for an absolute CLOCK_REALTIME time
 * @t: the parsed timeout
 *
 * Relative timeouts are turned into an absolute CLOCK_MONOTONIC expiry so
 * that going back to sleep after a spurious wake-up does not extend them.
 *
 * Return: 0, -EFAULT or -EINVAL (negative, or tv_nsec out of range).
 */
int kevent_get_timeout(const struct __kernel_timespec __user *uts,
		       unsigned int flags, struct kevent_timeout *t)
{
	struct timespec64 ts;

	t->to = NULL;
	t->poll = false;
	t->clock = CLOCK_MONOTONIC;
	if (!uts)
		return 0;
	if (get_timespec64(&ts, uts))
		return -EFAULT;
	if (!timespec64_valid(&ts))
		return -EINVAL;
	if (flags & KEVENT_FLAGS_ABSTIME) {
		t->clock = CLOCK_REALTIME;
		t->expires = timespec64_to_ktime(ts);
	} else if (!ts.tv_sec && !ts.tv_nsec) {
		t->poll = true;
		t->expires = 0;
	} else {
		t->expires = ktime_add_safe(ktime_get(), timespec64_to_ktime(ts));
	}
	t->to = &t->expires;
	return 0;
}

struct kevent_waiter {
	struct wait_queue_entry wait;
	struct kevent_queue *q;
};

/*
 * Wake the thread, and count it if it really was asleep. A woken waiter
 * leaves the wait queue (as epoll's do) and re-enters it at the tail if it
 * sleeps again: otherwise a thread that went back to sleep would keep its
 * place at the head and take every wake-one, starving the others.
 */
static int kevent_wake_function(struct wait_queue_entry *wait,
				unsigned int mode, int sync, void *key)
{
	struct kevent_waiter *w = container_of(wait, struct kevent_waiter,
					       wait);
	int ret = autoremove_wake_function(wait, mode, sync, key);

	if (ret)
		atomic_long_inc(&w->q->stat.wakeups);
	return ret;
}

static wait_queue_head_t *kevent_pick_wq(struct kevent_queue *q,
					 bool need_space)
{
	return need_space && !READ_ONCE(q->ring_free) ? &q->space_wq : &q->wq;
}

/**
 * kevent_wait_events() - sleep until events are ready
 * @q: the queue
 * @min_nr: how many ready events are enough (>= 1)
 * @need_space: also wait for a free ring slot (kevent_wait())
 * @t: the timeout
 * @kick: q->kick read at the start of the system call
 *
 * Return: 1 when the condition holds, 0 on timeout, KEVENT_WAIT_KICKED
 * after KEVENT_CTL_READY with num == 0, or -EINTR.
 */
int kevent_wait_events(struct kevent_queue *q, unsigned int min_nr,
		       bool need_space, struct kevent_timeout *t, int kick)
{
	struct kevent_waiter w = { .q = q };
	wait_queue_head_t *cur = NULL, *wqh;
	bool timed_out = t->poll;
	int ret;

	init_waitqueue_func_entry(&w.wait, kevent_wake_function);
	w.wait.private = current;
	INIT_LIST_HEAD(&w.wait.entry);
	atomic_inc(&q->waiters);
	for (;;) {
		wqh = kevent_pick_wq(q, need_space);
		if (wqh != cur) {
			if (cur)
				finish_wait(cur, &w.wait);
			cur = wqh;
		}
		prepare_to_wait_exclusive(cur, &w.wait, TASK_INTERRUPTIBLE);
		if (atomic_read(&q->kick) != kick) {
			ret = KEVENT_WAIT_KICKED;
			break;
		}
		if (READ_ONCE(q->ready_num) >= min_nr &&
		    (!need_space || READ_ONCE(q->ring_free))) {
			ret = 1;
			break;
		}
		/* The ring filled or emptied meanwhile: sleep elsewhere. */
		if (kevent_pick_wq(q, need_space) != cur)
			continue;
		if (timed_out) {
			ret = 0;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (!schedule_hrtimeout_range_clock(t->to,
						    current->timer_slack_ns,
						    HRTIMER_MODE_ABS, t->clock))
			timed_out = true;
	}
	finish_wait(cur, &w.wait);
	atomic_dec(&q->waiters);
	return ret;
}

/* ---- kevent_init ----------------------------------------------------- */

SYSCALL_DEFINE3(kevent_init, struct kevent_ring __user *, ring,
		unsigned int, ring_size, unsigned int, flags)
{
	struct kevent_queue *q;
	int fd;

	BUILD_BUG_ON(KEVENT_INIT_CLOEXEC != O_CLOEXEC);

	if (flags & ~KEVENT_INIT_MASK)
		return -EINVAL;
	if (ring || ring_size) {
		if (ring_size < 2 ||
		    ring_size > READ_ONCE(kevent_max_ring_entries))
			return -EINVAL;
		/*
		 * The whole ring must be writable. Entries first: if they
		 * fault, the header is left as it was.
		 */
		if (clear_user(ring->event,
			       array_size(ring_size, sizeof(struct ukevent))))
			return -EFAULT;
		if (put_user(0, &ring->ring_kidx) ||
		    put_user(0, &ring->ring_over))
			return -EFAULT;
	}

	q = kevent_queue_alloc();
	if (!q)
		return -ENOMEM;
	if (ring_size) {
		q->ring = ring;
		q->rs.size = ring_size;
		q->ring_free = ring_size;
	}
	fd = anon_inode_getfd("[kevent]", &kevent_fops, q,
			      O_RDWR | (flags & O_CLOEXEC));
	if (fd < 0)
		kevent_queue_destroy(q);
	return fd;
}

/* ---- kevent_ctl ------------------------------------------------------ */

static int kevent_ctl_one(struct kevent_queue *q, unsigned int cmd,
			  struct ukevent *uk)
{
	int ret;

	mutex_lock(&q->mutex);
	switch (cmd) {
	case KEVENT_CTL_ADD:
		ret = kevent_queue_add(q, uk);
		break;
	case KEVENT_CTL_REMOVE:
		ret = kevent_queue_remove(q, uk);
		break;
	case KEVENT_CTL_MODIFY:
		ret = kevent_queue_modify(q, uk);
		break;
	default:
		ret = kevent_queue_ready(q, uk);
		break;
	}
	mutex_unlock(&q->mutex);
	return ret;
}

/*
 * ADD writes completed entries (broken or ready at once) to the front of
 * the array and returns their number; the other commands write every entry
 * back in place and return the number that succeeded. An unreadable entry
 * other than the first ends the batch early.
 */
static long kevent_ctl_batch(struct kevent_queue *q, unsigned int cmd,
			     unsigned int num, struct ukevent __user *arg)
{
	unsigned int i, out = 0, ok = 0;
	struct ukevent uk;
	int ret;

	for (i = 0; i < num; i++) {
		if (copy_from_user(&uk, arg + i, sizeof(uk))) {
			if (!i)
				return -EFAULT;
			break;
		}
		ret = kevent_ctl_one(q, cmd, &uk);
		if (ret < 0) {
			uk.ret_flags = KEVENT_RET_DONE | KEVENT_RET_BROKEN;
			uk.ret_data[0] = -ret;
		} else {
			uk.ret_flags = KEVENT_RET_DONE;
			ok++;
		}
		if (cmd == KEVENT_CTL_ADD) {
			if (!ret)
				continue;	/* registered: not written back */
			if (copy_to_user(arg + out, &uk, sizeof(uk)))
				return -EFAULT;
			out++;
		} else if (copy_to_user(arg + i, &uk, sizeof(uk))) {
			return -EFAULT;
		}
	}
	return cmd == KEVENT_CTL_ADD ? out : ok;
}

static long kevent_do_ctl(struct kevent_queue *q, unsigned int cmd,
			  unsigned int num, struct ukevent __user *arg)
{
	if (!q || cmd > KEVENT_CTL_READY)
		return -EINVAL;
	if (num > KEVENT_MAX_BATCH)
		return -E2BIG;
	if (!num) {
		if (cmd == KEVENT_CTL_READY)
			kevent_queue_kick(q);
		return 0;
	}
	return kevent_ctl_batch(q, cmd, num, arg);
}

SYSCALL_DEFINE4(kevent_ctl, int, fd, unsigned int, cmd, unsigned int, num,
		struct ukevent __user *, arg)
{
	CLASS(fd, f)(fd);

	if (fd_empty(f))
		return -EBADF;
	return kevent_do_ctl(kevent_queue_from_file(fd_file(f)), cmd, num, arg);
}

/* ---- kevent_get_events ----------------------------------------------- */

/*
 * Copy up to @max_nr ready events to @buf. An event that cannot be copied
 * goes back to the head of the ready list; -EFAULT if it was the first.
 */
static int kevent_copy_events(struct kevent_queue *q,
			      struct ukevent __user *buf, unsigned int max_nr)
{
	LIST_HEAD(batch);
	struct ukevent uk;
	struct kevent *k;
	bool fault = false;
	unsigned int i;

	for (i = 0; i < max_nr; i++) {
		k = kevent_dequeue_ready(q, &uk);
		if (!k)
			break;
		if (copy_to_user(buf + i, &uk, sizeof(uk))) {
			kevent_finish_delivery(q, k, &uk, false);
			fault = true;
			break;
		}
		kevent_defer_delivery(k, &uk, &batch);
	}
	kevent_finish_deferred(q, &batch);
	return !i && fault ? -EFAULT : i;
}

static long kevent_do_get_events(struct kevent_queue *q, unsigned int min_nr,
				 unsigned int max_nr,
				 const struct __kernel_timespec __user *timeout,
				 struct ukevent __user *buf, unsigned int flags)
{
	struct kevent_timeout t;
	int kick, ret;

	if (!q || (flags & ~KEVENT_FLAGS_MASK))
		return -EINVAL;
	if (max_nr > KEVENT_MAX_BATCH)
		return -E2BIG;
	if (min_nr > max_nr)
		return -EINVAL;
	ret = kevent_get_timeout(timeout, flags, &t);
	if (ret)
		return ret;
	if (!access_ok(buf, array_size(max_nr, sizeof(struct ukevent))))
		return -EFAULT;

	kick = atomic_read(&q->kick);
	for (;;) {
		bool timed_out = false;

		if (min_nr) {
			ret = kevent_wait_events(q, min_nr, false, &t, kick);
			if (ret < 0)
				return ret;
			if (ret == KEVENT_WAIT_KICKED)
				return 0;
			timed_out = !ret;
		}
		ret = kevent_copy_events(q, buf, max_nr);
		/*
		 * Everything that was ready vanished (another thread took it,
		 * or a LAST_CHECK found it no longer ready): wait again.
		 */
		if (ret || !min_nr || timed_out)
			return ret;
	}
}

SYSCALL_DEFINE6(kevent_get_events, int, fd, unsigned int, min_nr,
		unsigned int, max_nr,
		const struct __kernel_timespec __user *, timeout,
		struct ukevent __user *, buf, unsigned int, flags)
{
	CLASS(fd, f)(fd);

	if (fd_empty(f))
		return -EBADF;
	return kevent_do_get_events(kevent_queue_from_file(fd_file(f)), min_nr,
				    max_nr, timeout, buf, flags);
}
