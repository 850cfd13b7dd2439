// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/syscalls.c - kevent_init(), kevent_ctl() and kevent_get_events().
 *
 *
 * Overview
 * --------
 *
 * kevent_init() creates a queue (queue.c) and its file; kevent_ctl() runs
 * each entry of a batch through the queue's commands under queue->mutex;
 * kevent_get_events() is a sink of the delivery engine (deliver.c) whose
 * copy step writes to the caller's array.
 *
 *
 * Locking
 * -------
 *
 * queue->mutex is taken per kevent_ctl() entry (never across the user
 * copies of a batch); kevent_get_events() takes no lock of its own.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_buf_sink: on the calling thread's stack.
 */

#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <trace/events/kevent.h>

#include "kevent.h"

/* ---- kevent_init ----------------------------------------------------- */

static long kevent_do_init(struct kevent_ring __user *ring,
			   unsigned int ring_size, unsigned int flags)
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
		/* ring_kidx and ring_over are published in one 8-byte store. */
		if (!IS_ALIGNED((unsigned long)ring, sizeof(u64)))
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
		/*
		 * The ring is an address of this process: only threads of
		 * this address space may fill it (as aio binds its context
		 * to the creator's mm). The reference keeps the mm_struct,
		 * not the address space, so the comparison stays sound.
		 */
		mmgrab(current->mm);
		q->ring_mm = current->mm;
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

SYSCALL_DEFINE3(kevent_init, struct kevent_ring __user *, ring,
		unsigned int, ring_size, unsigned int, flags)
{
	long ret = kevent_do_init(ring, ring_size, flags);

	if (ret < 0)
		trace_kevent_error(KEVENT_TRACE_INIT, -1, 0, ret);
	return ret;
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
		trace_kevent_ctl_add(uk, ret);
		break;
	case KEVENT_CTL_REMOVE:
		ret = kevent_queue_remove(q, uk);
		trace_kevent_ctl_remove(uk, ret);
		break;
	case KEVENT_CTL_MODIFY:
		ret = kevent_queue_modify(q, uk);
		trace_kevent_ctl_modify(uk, ret);
		break;
	default:
		ret = kevent_queue_ready(q, uk);
		trace_kevent_ctl_ready(uk, ret);
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
	long ret = -EBADF;

	if (!fd_empty(f))
		ret = kevent_do_ctl(kevent_queue_from_file(fd_file(f)), cmd,
				    num, arg);
	if (ret < 0)
		trace_kevent_error(KEVENT_TRACE_CTL, fd, cmd, ret);
	return ret;
}

/* ---- kevent_get_events ----------------------------------------------- */

/**
 * struct kevent_buf_sink - kevent_get_events()'s destination
 * @sink: the delivery engine's view
 * @buf: the caller's array
 * @max_nr: its length
 * @n: entries written by this pass
 */
struct kevent_buf_sink {
	struct kevent_sink sink;
	struct ukevent __user *buf;
	unsigned int max_nr;
	unsigned int n;
};

static int kevent_buf_reserve(struct kevent_sink *s)
{
	struct kevent_buf_sink *b = container_of(s, struct kevent_buf_sink,
						 sink);

	b->n = 0;
	return b->max_nr;
}

static int kevent_buf_copy(struct kevent_sink *s, const struct ukevent *uk)
{
	struct kevent_buf_sink *b = container_of(s, struct kevent_buf_sink,
						 sink);

	int ret = kevent_copy_out(b->buf + b->n, uk);

	trace_kevent_copy_buf(uk, b->n, 0, 0, ret);
	if (ret)
		return ret;
	b->n++;
	return 0;
}

static int kevent_buf_release(struct kevent_sink *s, unsigned int n)
{
	return 0;
}

static const struct kevent_sink_ops kevent_buf_sink_ops = {
	.reserve	= kevent_buf_reserve,
	.copy		= kevent_buf_copy,
	.release	= kevent_buf_release,
};

static long kevent_do_get_events(struct kevent_queue *q, unsigned int min_nr,
				 unsigned int max_nr,
				 const struct __kernel_timespec __user *timeout,
				 struct ukevent __user *buf, unsigned int flags)
{
	struct kevent_buf_sink b = {
		.sink = { .ops = &kevent_buf_sink_ops, .q = q,
			  .min_nr = min_nr },
		.buf = buf,
		.max_nr = max_nr,
	};
	struct kevent_timeout t;
	int ret;

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

	b.sink.kick = atomic_read(&q->kick);
	return kevent_wait_deliver(&b.sink, &t);
}

SYSCALL_DEFINE6(kevent_get_events, int, fd, unsigned int, min_nr,
		unsigned int, max_nr,
		const struct __kernel_timespec __user *, timeout,
		struct ukevent __user *, buf, unsigned int, flags)
{
	CLASS(fd, f)(fd);
	long ret = -EBADF;

	if (!fd_empty(f))
		ret = kevent_do_get_events(kevent_queue_from_file(fd_file(f)),
					   min_nr, max_nr, timeout, buf, flags);
	if (ret < 0)
		trace_kevent_error(KEVENT_TRACE_GET_EVENTS, fd, 0, ret);
	return ret;
}
