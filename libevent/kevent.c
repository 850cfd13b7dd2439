// SPDX-License-Identifier: GPL-2.0
/*
 * kevent.c - a libevent backend (struct eventop "kevent") on the kevent
 * lab's system calls (docs/abi.md), beside libevent's epoll.c.
 *
 * scripts/libevent.sh copies this file into Debian's libevent source and
 * libevent/patches/ adds it to the build and to the front of the eventop
 * table: a base prefers kevent over epoll wherever the kernel has kevent
 * (kevent_init() failing with ENOSYS makes libevent fall back to epoll,
 * silently). EVENT_NOKEVENT=1 disables it as libevent's other switches
 * disable theirs.
 *
 * Mapping (see docs/libevent.md for the measurements behind the choices):
 *
 * - One KEVENT_POLL kevent per fd, keyed (KEVENT_POLL, fd) with the fd also
 *   in ->user (MODIFY and REMOVE match on it), its mask the union of what
 *   libevent wants on the fd: EV_READ = POLLIN, EV_WRITE = POLLOUT,
 *   EV_CLOSED = POLLRDHUP. That is epoll's model, so epoll.c's op table
 *   (epolltable-internal.h) computes the operation from the old events and
 *   the change: EPOLL_CTL_ADD/MOD/DEL become KEVENT_CTL_ADD/MODIFY/REMOVE.
 * - Every ADD and MODIFY carries KEVENT_REQ_ALWAYS_QUEUE: without it a fd
 *   already ready at ADD completes at once and is *not* registered
 *   (docs/abi.md, ADD), which would turn every persistent libevent event on
 *   a readable fd into a one-shot.
 * - EV_ET is KEVENT_REQ_ET, level otherwise (a level POLL kevent is
 *   re-polled at dequeue, so it is never reported stale, as with epoll).
 * - One-shot: libevent never asks a backend for one (a non-persistent
 *   event is deleted by the core through ->del after it fires, and
 *   EV_CHANGE_PERSIST is unused), so KEVENT_REQ_ONESHOT is not used.
 * - The fd closed under a registration: the kernel removes the POLL kevents
 *   of a file at its last close, so a MODIFY may find nothing (ENOENT: the
 *   fd was closed and reopened; retried as ADD) and a REMOVE may find
 *   nothing (already gone: fine). An ADD that finds the key taken (EEXIST:
 *   the fd number was closed while a dup kept its old file open, so the
 *   kevent still watches that old file) removes it and adds again; epoll.c
 *   retries such an ADD as MOD, which here would keep watching the old file.
 * - Signals: libevent's evsig self-pipe (evsig_init_), as epoll.c. KEVENT_SIGNAL
 *   is a reserved type that the lab does not implement.
 * - Timers: libevent's min-heap, its next expiry passed as the timeout of
 *   the wait. The wait takes a struct __kernel_timespec, so timeouts are
 *   nanosecond-precise without the timerfd epoll.c needs for
 *   EVENT_BASE_FLAG_PRECISE_TIMER, and a KEVENT_TIMER per libevent timer
 *   would cost a kevent_ctl() for every timer added or deleted, which the
 *   heap does in user space for free.
 * - Changelist: "kevent" applies each add/del at once (as "epoll");
 *   "kevent (with changelist)" (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST or
 *   EVENT_KEVENT_USE_CHANGELIST, as epoll's switches) queues them in
 *   libevent's changelist and applies them in dispatch, batched: one
 *   kevent_ctl() per command for all the changes of a loop iteration.
 * - Waiting: kevent_get_events() into a growing array, or the ring
 *   (kevent_wait()/kevent_commit(), EVENT_KEVENT_RING=1). The ring commits
 *   lazily (only once half of it is consumed), so most waits are one system
 *   call either way; which is the default is decided by make
 *   bench-libevent (docs/performance.md).
 */
#include "event2/event-config.h"
#include "evconfig-private.h"

#ifdef EVENT__HAVE_KEVENT

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>

#include "event-internal.h"
#include "evsignal-internal.h"
#include "event2/thread.h"
#include "evthread-internal.h"
#include "log-internal.h"
#include "evmap-internal.h"
#include "changelist-internal.h"
#include "mm-internal.h"
#include "epolltable-internal.h"

/* The lab's system call wrappers (tests/lib/): declared once, for everyone. */
#include "kevent_syscall.h"

#define KQ_INITIAL_NEVENT 32
#define KQ_RING_SIZE 1024

struct keventop {
	int kfd;
	/* kevent_get_events(): the array, doubled when a call fills it. */
	struct ukevent *events;
	unsigned int nevents;
	/* The ring: seen = the position (lap, index) up to which we read,
	 * pending = entries read but not yet committed. */
	struct kevent_ring *ring;
	unsigned int seen_idx, seen_lap, pending;
};

static void *kq_init(struct event_base *);
static int kq_add(struct event_base *, evutil_socket_t, short, short, void *);
static int kq_del(struct event_base *, evutil_socket_t, short, short, void *);
static int kq_dispatch(struct event_base *, struct timeval *);
static void kq_dealloc(struct event_base *);

const struct eventop keventops = {
	"kevent",
	kq_init,
	kq_add,
	kq_del,
	kq_dispatch,
	kq_dealloc,
	1, /* need reinit: a queue is shared with a forked child, a ring is not */
	EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE,
	0
};

static const struct eventop keventops_changelist = {
	"kevent (with changelist)",
	kq_init,
	event_changelist_add_,
	event_changelist_del_,
	kq_dispatch,
	kq_dealloc,
	1,
	EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE,
	EVENT_CHANGELIST_FDINFO_SIZE
};

static const char *kq_getenv(struct event_base *base, const char *name)
{
	if (base->flags & EVENT_BASE_FLAG_IGNORE_ENV)
		return NULL;
	return evutil_getenv_(name);
}

static void *kq_init(struct event_base *base)
{
	struct keventop *kq;
	const char *ring = kq_getenv(base, "EVENT_KEVENT_RING");

	kq = mm_calloc(1, sizeof(*kq));
	if (!kq)
		return NULL;
	if (ring && strcmp(ring, "0")) {
		/* An aligned, zeroed ring of our own (the kernel checks both). */
		kq->ring = kevent_ring_alloc(KQ_RING_SIZE);
		if (!kq->ring)
			goto fail;
		kq->kfd = kevent_init(kq->ring, KQ_RING_SIZE, KEVENT_INIT_CLOEXEC);
	} else {
		kq->events = mm_calloc(KQ_INITIAL_NEVENT, sizeof(*kq->events));
		if (!kq->events)
			goto fail;
		kq->nevents = KQ_INITIAL_NEVENT;
		kq->kfd = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
	}
	if (kq->kfd < 0) {
		/* No kevent in this kernel: the next backend (epoll) is used. */
		if (errno != ENOSYS)
			event_warn("kevent_init");
		goto fail;
	}
	if ((base->flags & EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) ||
	    kq_getenv(base, "EVENT_KEVENT_USE_CHANGELIST"))
		base->evsel = &keventops_changelist;
	evsig_init_(base);
	return kq;
fail:
	kevent_ring_free(kq->ring, KQ_RING_SIZE);
	mm_free(kq->events);
	mm_free(kq);
	return NULL;
}

/* A POLL request for fd: the epoll op table's EPOLL* bits as POLL* bits. */
static struct ukevent kq_request(evutil_socket_t fd, int epoll_events, int et)
{
	__u32 mask = 0;
	struct ukevent uk;

	if (epoll_events & EPOLLIN)
		mask |= POLLIN;
	if (epoll_events & EPOLLOUT)
		mask |= POLLOUT;
	if (epoll_events & EPOLLRDHUP)
		mask |= POLLRDHUP;
	uk = ukevent_poll(fd, mask, KEVENT_REQ_ALWAYS_QUEUE | (et ? KEVENT_REQ_ET : 0));
	uk.user_u64 = (__u64)fd;
	return uk;
}

/* One entry through kevent_ctl(): 0, or -1 with errno the entry's errno. */
static int kq_ctl1(int kfd, unsigned int cmd, struct ukevent *uk)
{
	struct ukevent req = *uk;
	int r = kevent_ctl(kfd, cmd, 1, &req);

	if (r < 0)
		return -1;
	if (req.ret_flags & KEVENT_RET_BROKEN) {
		errno = (int)req.ret_data[0];
		return -1;
	}
	/* ADD returns the entries that completed at once (only broken ones,
	 * with ALWAYS_QUEUE); MODIFY and REMOVE those that succeeded. */
	if (cmd != KEVENT_CTL_ADD && r != 1) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* The fallbacks of a failed entry (see the top of the file); 0 when one
 * of them, or the failure itself, is fine. */
static int kq_recover(int kfd, unsigned int cmd, struct ukevent *uk, int err)
{
	if (cmd == KEVENT_CTL_MODIFY && err == ENOENT)
		return kq_ctl1(kfd, KEVENT_CTL_ADD, uk);
	if (cmd == KEVENT_CTL_ADD && err == EEXIST) {
		if (kq_ctl1(kfd, KEVENT_CTL_REMOVE, uk) && errno != ENOENT)
			return -1;
		return kq_ctl1(kfd, KEVENT_CTL_ADD, uk);
	}
	if (cmd == KEVENT_CTL_REMOVE && err == ENOENT)
		return 0;
	errno = err;
	return -1;
}

static const char *const kq_cmd_name[] = { "ADD", "REMOVE", "MODIFY" };

/* The command and request of one change, from epoll.c's table; 0 when the
 * change changes nothing. */
static int kq_change(const struct event_change *ch, unsigned int *cmd, struct ukevent *uk)
{
	int idx = EPOLL_OP_TABLE_INDEX(ch);
	int op = epoll_op_table[idx].op;
	int events = epoll_op_table[idx].events;
	int et = (ch->read_change | ch->write_change | ch->close_change) & EV_CHANGE_ET;

	if (!events) {
		EVUTIL_ASSERT(op == 0);
		return 0;
	}
	*cmd = op == EPOLL_CTL_ADD ? KEVENT_CTL_ADD :
	       op == EPOLL_CTL_MOD ? KEVENT_CTL_MODIFY : KEVENT_CTL_REMOVE;
	*uk = kq_request(ch->fd, events, et);
	return 1;
}

static int kq_apply_one(struct keventop *kq, const struct event_change *ch)
{
	unsigned int cmd;
	struct ukevent uk;

	if (!kq_change(ch, &cmd, &uk))
		return 0;
	if (!kq_ctl1(kq->kfd, cmd, &uk))
		return 0;
	if (!kq_recover(kq->kfd, cmd, &uk, errno))
		return 0;
	event_warn("kevent_ctl %s on fd %d (events 0x%x)", kq_cmd_name[cmd], ch->fd, uk.event);
	return -1;
}

static int kq_add_del(struct event_base *base, evutil_socket_t fd, short old,
		      short events, int change)
{
	struct event_change ch;

	ch.fd = fd;
	ch.old_events = old;
	ch.read_change = ch.write_change = ch.close_change = 0;
	if (events & EV_WRITE)
		ch.write_change = change | (events & EV_ET);
	if (events & EV_READ)
		ch.read_change = change | (events & EV_ET);
	if (events & EV_CLOSED)
		ch.close_change = change | (events & EV_ET);
	return kq_apply_one(base->evbase, &ch);
}

static int kq_add(struct event_base *base, evutil_socket_t fd, short old, short events, void *p)
{
	(void)p;
	return kq_add_del(base, fd, old, events, EV_CHANGE_ADD);
}

static int kq_del(struct event_base *base, evutil_socket_t fd, short old, short events, void *p)
{
	(void)p;
	return kq_add_del(base, fd, old, events, EV_CHANGE_DEL);
}

/*
 * The changelist in three batched kevent_ctl() calls, REMOVE, MODIFY, ADD
 * (a changelist has one change per fd, so their order between fds does not
 * matter). A failed entry is retried on its own (kq_recover()).
 */
static int kq_apply_changelist(struct event_base *base)
{
	struct event_changelist *cl = &base->changelist;
	struct keventop *kq = base->evbase;
	static const unsigned int order[] = { KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY, KEVENT_CTL_ADD };
	struct ukevent stack[64], *batch = stack, *orig = NULL;
	unsigned int c, cmd, n;
	int i, r, ret = 0;

	if (!cl->n_changes)
		return 0;
	if ((size_t)cl->n_changes > sizeof(stack) / sizeof(stack[0])) {
		batch = mm_calloc(2 * (size_t)cl->n_changes, sizeof(*batch));
		if (!batch) {
			/* No memory for a batch: one call per change. */
			for (i = 0; i < cl->n_changes; i++)
				ret |= kq_apply_one(kq, &cl->changes[i]);
			return ret;
		}
	}
	for (c = 0; c < sizeof(order) / sizeof(order[0]); c++) {
		for (n = 0, i = 0; i < cl->n_changes; i++) {
			struct ukevent uk;

			if (kq_change(&cl->changes[i], &cmd, &uk) && cmd == order[c])
				batch[n++] = uk;
		}
		if (!n)
			continue;
		for (unsigned int done = 0; done < n; done += (unsigned int)r) {
			unsigned int num = n - done > KEVENT_MAX_BATCH ? KEVENT_MAX_BATCH : n - done;

			r = kevent_ctl(kq->kfd, order[c], num, batch + done);
			if (r < 0) {
				event_warn("kevent_ctl %s of %u changes", kq_cmd_name[order[c]], num);
				ret = -1;
				break;
			}
			/* ADD moved its broken entries to the front and
			 * counted them; the others were processed in place. */
			for (unsigned int k = 0; k < num; k++) {
				struct ukevent *uk = &batch[done + k];

				if (order[c] == KEVENT_CTL_ADD && k >= (unsigned int)r)
					break;
				if (!(uk->ret_flags & KEVENT_RET_BROKEN))
					continue;
				orig = uk;
				orig->ret_flags = 0;
				if (kq_recover(kq->kfd, order[c], orig, (int)uk->ret_data[0])) {
					event_warn("kevent_ctl %s on fd %d", kq_cmd_name[order[c]],
						   (int)orig->id.raw[0]);
					ret = -1;
				}
			}
			r = (int)num;
		}
	}
	if (batch != stack)
		mm_free(batch);
	return ret;
}

/* One returned event to libevent, as epoll.c maps epoll's bits. */
static void kq_report(struct event_base *base, const struct ukevent *uk)
{
	__u32 what = uk->ret_data[0];
	short ev = 0;

	if (uk->type != KEVENT_POLL)
		return;
	if (what & POLLERR) {
		ev = EV_READ | EV_WRITE;
	} else if ((what & POLLHUP) && !(what & POLLRDHUP)) {
		ev = EV_READ | EV_WRITE;
	} else {
		if (what & (POLLIN | POLLRDNORM))
			ev |= EV_READ;
		if (what & (POLLOUT | POLLWRNORM))
			ev |= EV_WRITE;
		if (what & POLLRDHUP)
			ev |= EV_CLOSED;
	}
	if (ev)
		evmap_io_active_(base, (evutil_socket_t)uk->id.raw[0], ev | EV_ET);
}

static int kq_wait_array(struct event_base *base, struct keventop *kq,
			 const struct __kernel_timespec *ts)
{
	int i, res;

	EVBASE_RELEASE_LOCK(base, th_base_lock);
	res = kevent_get_events(kq->kfd, 1, kq->nevents, ts, kq->events, 0);
	EVBASE_ACQUIRE_LOCK(base, th_base_lock);
	if (res < 0)
		return res;
	for (i = 0; i < res; i++)
		kq_report(base, &kq->events[i]);
	if ((unsigned int)res == kq->nevents && kq->nevents < KEVENT_MAX_BATCH) {
		/* A full array: more may be waiting, take more next time. */
		struct ukevent *bigger = mm_realloc(kq->events, 2 * kq->nevents * sizeof(*bigger));

		if (bigger) {
			kq->events = bigger;
			kq->nevents *= 2;
		}
	}
	return 0;
}

static int kq_wait_ring(struct event_base *base, struct keventop *kq,
			const struct __kernel_timespec *ts)
{
	int i, res;

	/* Commit lazily: a commit is a system call, and half a ring of room
	 * is plenty for one wait. */
	if (kq->pending >= KQ_RING_SIZE / 2) {
		if (kevent_commit(kq->kfd, kq->seen_idx, kq->seen_lap) < 0) {
			event_warn("kevent_commit");
			return -1;
		}
		kq->pending = 0;
	}
	EVBASE_RELEASE_LOCK(base, th_base_lock);
	res = kevent_wait(kq->kfd, KQ_RING_SIZE - kq->pending, kq->seen_idx, ts, 0);
	EVBASE_ACQUIRE_LOCK(base, th_base_lock);
	if (res < 0)
		return res;
	/* Only this base waits on its ring, so the kernel wrote exactly res
	 * entries from where we stopped reading. */
	for (i = 0; i < res; i++) {
		kq_report(base, &kq->ring->event[kq->seen_idx]);
		if (++kq->seen_idx == KQ_RING_SIZE) {
			kq->seen_idx = 0;
			kq->seen_lap++;
		}
	}
	kq->pending += (unsigned int)res;
	return 0;
}

static int kq_dispatch(struct event_base *base, struct timeval *tv)
{
	struct keventop *kq = base->evbase;
	struct __kernel_timespec ts, *tsp = NULL;
	int res;

	if (tv) {
		ts.tv_sec = tv->tv_sec;
		ts.tv_nsec = (long long)tv->tv_usec * 1000;
		tsp = &ts;
	}
	if (base->evsel == &keventops_changelist) {
		kq_apply_changelist(base);
		event_changelist_remove_all_(&base->changelist, base);
	}
	res = kq->ring ? kq_wait_ring(base, kq, tsp) : kq_wait_array(base, kq, tsp);
	if (res < 0) {
		if (errno == EINTR)
			return 0;
		event_warn(kq->ring ? "kevent_wait" : "kevent_get_events");
		return -1;
	}
	return 0;
}

static void kq_dealloc(struct event_base *base)
{
	struct keventop *kq = base->evbase;

	/* Only close: after a fork the queue is still the parent's, and
	 * removing our kevents from it would remove the parent's. */
	evsig_dealloc_(base);
	if (kq->kfd >= 0)
		close(kq->kfd);
	kevent_ring_free(kq->ring, KQ_RING_SIZE);
	mm_free(kq->events);
	memset(kq, 0, sizeof(*kq));
	mm_free(kq);
}

#endif /* EVENT__HAVE_KEVENT */
