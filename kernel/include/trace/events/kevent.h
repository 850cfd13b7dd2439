/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of kevent: one per step of an event's life, so that the path
 * from a source to user space can be watched at full speed (docs/trace.md).
 *
 *   kevent_ctl_add/modify/remove/ready  a kevent_ctl() entry and its result
 *   kevent_storage_ready                a source fired for one kevent: what
 *                                       the kevent did with it, and whether
 *                                       one waiter or all are woken
 *   kevent_storage_ignored              ... and the kevent's type said the
 *                                       event was not for it
 *   kevent_storage_ready_at_add         a kevent queued by its ADD (ready
 *                                       at once, or fired meanwhile)
 *   kevent_wake                         a waiting thread actually woken
 *   kevent_dequeue                      a delivery took a kevent, with the
 *                                       verdict of its re-poll if any
 *   kevent_dequeue_drop                 ... and its re-poll found it not
 *                                       ready
 *   kevent_copy_buf, kevent_copy_ring   the event copied to the caller's
 *                                       array or to a ring slot
 *   kevent_finish                       what became of it after the copy
 *   kevent_commit                       kevent_commit() freed ring slots
 *   kevent_error                        a kevent system call failed
 *
 * Each call site is the one place its step happens (core.c, deliver.c,
 * syscalls.c, ring.c); the tracepoints are defined in kevent/trace.c. The
 * fields are printed by name (types, request flags, errnos) so that a
 * timeline reads without the source.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kevent

#if !defined(_TRACE_KEVENT_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_KEVENT_H

#include <linux/sched.h>
#include <linux/tracepoint.h>
#include <uapi/linux/kevent.h>

#ifndef _TRACE_KEVENT_CONSTANTS
#define _TRACE_KEVENT_CONSTANTS

/* kevent_storage_ready: what the kevent did with the firing */
#define KEVENT_TRACE_IGNORED	0	/* the type callback: not for it */
#define KEVENT_TRACE_QUEUED	1	/* appended to the ready list */
#define KEVENT_TRACE_PENDING	2	/* in flight: requeued when that ends */
#define KEVENT_TRACE_ALREADY	3	/* already on the ready list */

/* kevent_dequeue: why the kevent was polled again */
#define KEVENT_TRACE_CHECK_NONE		0
#define KEVENT_TRACE_CHECK_RECHECK	1	/* level re-arm, or mask unknown */
#define KEVENT_TRACE_CHECK_LAST		2	/* KEVENT_REQ_LAST_CHECK */

/* kevent_dequeue: the verdict */
#define KEVENT_TRACE_DELIVER	0	/* delivered as fired */
#define KEVENT_TRACE_STILL	1	/* polled: still ready, delivered */
#define KEVENT_TRACE_NOT_READY	2	/* polled: not ready, back to waiting */
#define KEVENT_TRACE_REFIRED	3	/* not ready, but fired meanwhile */

/* kevent_finish: what the end of the delivery did */
#define KEVENT_TRACE_DONE	0	/* waits for its source again */
#define KEVENT_TRACE_ONESHOT	1	/* ONESHOT: removed */
#define KEVENT_TRACE_RECHECK	2	/* level: requeued, polled at dequeue */
#define KEVENT_TRACE_FIRED	3	/* fired meanwhile: requeued */
#define KEVENT_TRACE_GONE	4	/* removed while in flight */

/* kevent_error: the system call */
#define KEVENT_TRACE_INIT	0
#define KEVENT_TRACE_CTL	1
#define KEVENT_TRACE_GET_EVENTS	2
#define KEVENT_TRACE_WAIT	3
#define KEVENT_TRACE_COMMIT	4

#endif /* _TRACE_KEVENT_CONSTANTS */

#define kevent_show_type(t)						\
	__print_symbolic(t,						\
		{ KEVENT_SOCKET,	"SOCKET" },			\
		{ KEVENT_INODE,		"INODE" },			\
		{ KEVENT_TIMER,		"TIMER" },			\
		{ KEVENT_POLL,		"POLL" },			\
		{ KEVENT_NAIO,		"NAIO" },			\
		{ KEVENT_AIO,		"AIO" },			\
		{ KEVENT_PIPE,		"PIPE" },			\
		{ KEVENT_SIGNAL,	"SIGNAL" },			\
		{ KEVENT_POSIX_TIMER,	"POSIX_TIMER" },		\
		{ KEVENT_USER,		"USER" })

#define kevent_show_ret_flags(f)					\
	__print_flags(f, "|",						\
		{ KEVENT_RET_BROKEN,		"BROKEN" },		\
		{ KEVENT_RET_DONE,		"DONE" },		\
		{ KEVENT_RET_COPY_FAILED,	"COPY_FAILED" })

#define kevent_show_dequeue(v)						\
	__print_symbolic(v,						\
		{ KEVENT_TRACE_DELIVER,	"deliver" },			\
		{ KEVENT_TRACE_STILL,	"still ready, deliver" },	\
		{ KEVENT_TRACE_NOT_READY, "not ready, back to waiting" }, \
		{ KEVENT_TRACE_REFIRED,	"not ready, fired meanwhile: requeued" })

#define kevent_show_cmd(c)						\
	__print_symbolic(c,						\
		{ KEVENT_CTL_ADD,	"ADD" },			\
		{ KEVENT_CTL_REMOVE,	"REMOVE" },			\
		{ KEVENT_CTL_MODIFY,	"MODIFY" },			\
		{ KEVENT_CTL_READY,	"READY" })

/* The errnos of docs/errors.md, and what a wait or a fault returns. */
#define kevent_show_errno(e)						\
	__print_symbolic(e,						\
		{ EPERM,	"EPERM" },				\
		{ ENOENT,	"ENOENT" },				\
		{ EINTR,	"EINTR" },				\
		{ EBADF,	"EBADF" },				\
		{ E2BIG,	"E2BIG" },				\
		{ EAGAIN,	"EAGAIN" },				\
		{ ENOMEM,	"ENOMEM" },				\
		{ EFAULT,	"EFAULT" },				\
		{ EBUSY,	"EBUSY" },				\
		{ EEXIST,	"EEXIST" },				\
		{ ENOTDIR,	"ENOTDIR" },				\
		{ EINVAL,	"EINVAL" },				\
		{ ENFILE,	"ENFILE" },				\
		{ EMFILE,	"EMFILE" },				\
		{ ENOSPC,	"ENOSPC" },				\
		{ EPIPE,	"EPIPE" },				\
		{ ERANGE,	"ERANGE" },				\
		{ ESRCH,	"ESRCH" },				\
		{ ENOTSOCK,	"ENOTSOCK" },				\
		{ EOPNOTSUPP,	"EOPNOTSUPP" })

/* A kevent_ctl() entry: the request, and what the command returned. */
DECLARE_EVENT_CLASS(kevent_ctl_class,
		    TP_PROTO(const struct ukevent *uk, int ret),
		    TP_ARGS(uk, ret),
		    TP_STRUCT__entry(__field(u64, user)
				     __field(u32, id0)
				     __field(u32, id1)
				     __field(u32, type)
				     __field(u32, event)
				     __field(u32, req_flags)
				     __field(u32, mask)
				     __field(int, ret)),
		    TP_fast_assign(__entry->user = uk->user_u64;
				   __entry->id0 = uk->id.raw[0];
				   __entry->id1 = uk->id.raw[1];
				   __entry->type = uk->type;
				   __entry->event = uk->event;
				   __entry->req_flags = uk->req_flags;
				   __entry->mask = uk->ret_data[0];
				   __entry->ret = ret;),
		    TP_printk("%s id={%u,%u} user=0x%llx event=0x%x req_flags=%s ret=%d %s mask=0x%x",
			      kevent_show_type(__entry->type), __entry->id0,
			      __entry->id1, __entry->user, __entry->event,
			      __entry->req_flags ?
			      __print_flags(__entry->req_flags, "|",
					    { KEVENT_REQ_ONESHOT, "ONESHOT" },
					    { KEVENT_REQ_WAKEUP_ONE, "WAKEUP_ONE" },
					    { KEVENT_REQ_ET, "ET" },
					    { KEVENT_REQ_LAST_CHECK, "LAST_CHECK" },
					    { KEVENT_REQ_ALWAYS_QUEUE, "ALWAYS_QUEUE" }) :
			      "0",
			      __entry->ret,
			      __entry->ret < 0 ? kevent_show_errno(-__entry->ret) :
			      __entry->ret ? "completed" : "ok", __entry->mask)
);

/* ret of ADD: 0 registered, 1 ready at once and completed (mask), -errno */
DEFINE_EVENT(kevent_ctl_class, kevent_ctl_add,
	     TP_PROTO(const struct ukevent *uk, int ret),
	     TP_ARGS(uk, ret));

DEFINE_EVENT(kevent_ctl_class, kevent_ctl_modify,
	     TP_PROTO(const struct ukevent *uk, int ret),
	     TP_ARGS(uk, ret));

DEFINE_EVENT(kevent_ctl_class, kevent_ctl_remove,
	     TP_PROTO(const struct ukevent *uk, int ret),
	     TP_ARGS(uk, ret));

DEFINE_EVENT(kevent_ctl_class, kevent_ctl_ready,
	     TP_PROTO(const struct ukevent *uk, int ret),
	     TP_ARGS(uk, ret));

/*
 * A source fired with @event for the kevent whose request is @ev (storage
 * lock held; @fired: its firings not yet delivered). kevent_storage_ready:
 * the type's callback took the event, and the kevent's state gives the
 * verdict; a queued kevent then wakes one waiter (KEVENT_REQ_WAKEUP_ONE,
 * @one) or all of them, and each thread woken is a kevent_wake line right
 * after this one. kevent_storage_ignored: the callback said the event is
 * not for this kevent. (Two events, each called from one place, so that
 * the compiler keeps each test of a disabled event inline.)
 */
DECLARE_EVENT_CLASS(kevent_fire_class,
		    TP_PROTO(const struct ukevent *ev, u32 fired, u32 event,
			     int verdict, bool one),
		    TP_ARGS(ev, fired, event, verdict, one),
		    TP_STRUCT__entry(__field(u64, user)
				     __field(u32, id0)
				     __field(u32, id1)
				     __field(u32, type)
				     __field(u32, event)
				     __field(u32, mask)
				     __field(u32, fired)
				     __field(int, verdict)
				     __field(bool, one)),
		    TP_fast_assign(__entry->user = ev->user_u64;
				   __entry->id0 = ev->id.raw[0];
				   __entry->id1 = ev->id.raw[1];
				   __entry->type = ev->type;
				   __entry->event = event;
				   __entry->mask = ev->ret_data[0];
				   __entry->fired = fired;
				   __entry->verdict = verdict;
				   __entry->one = one;),
		    TP_printk("%s id={%u,%u} user=0x%llx event=0x%x mask=0x%x fired=%u -> %s%s",
			      kevent_show_type(__entry->type), __entry->id0,
			      __entry->id1, __entry->user, __entry->event,
			      __entry->mask, __entry->fired,
			      __print_symbolic(__entry->verdict,
					       { KEVENT_TRACE_IGNORED, "ignored" },
					       { KEVENT_TRACE_QUEUED, "queued" },
					       { KEVENT_TRACE_PENDING, "pending (in flight)" },
					       { KEVENT_TRACE_ALREADY, "already queued" }),
			      __entry->verdict != KEVENT_TRACE_QUEUED ? "" :
			      __entry->one ? ", wake one (WAKEUP_ONE)" : ", wake all")
);

DEFINE_EVENT(kevent_fire_class, kevent_storage_ready,
	     TP_PROTO(const struct ukevent *ev, u32 fired, u32 event,
		      int verdict, bool one),
	     TP_ARGS(ev, fired, event, verdict, one));

DEFINE_EVENT(kevent_fire_class, kevent_storage_ignored,
	     TP_PROTO(const struct ukevent *ev, u32 fired, u32 event,
		      int verdict, bool one),
	     TP_ARGS(ev, fired, event, verdict, one));

/*
 * ADD found the kevent ready (KEVENT_REQ_ALWAYS_QUEUE: @event is the mask
 * its type's enqueue returned), or its source fired while ADD was deciding
 * (@event 0, @fired counts it): queued at the end of the ADD.
 */
DEFINE_EVENT(kevent_fire_class, kevent_storage_ready_at_add,
	     TP_PROTO(const struct ukevent *ev, u32 fired, u32 event,
		      int verdict, bool one),
	     TP_ARGS(ev, fired, event, verdict, one));

/* A thread waiting in kevent_get_events()/kevent_wait() was woken. */
TRACE_EVENT(kevent_wake,
	    TP_PROTO(const struct task_struct *p, bool any),
	    TP_ARGS(p, any),
	    TP_STRUCT__entry(__array(char, comm, TASK_COMM_LEN)
			     __field(pid_t, pid)
			     __field(bool, any)),
	    TP_fast_assign(memcpy(__entry->comm, p->comm, TASK_COMM_LEN);
			   __entry->pid = p->pid;
			   __entry->any = any;),
	    TP_printk("woke pid=%d comm=%s%s", __entry->pid, __entry->comm,
		      __entry->any ? " (kick)" : "")
);

/*
 * Delivery took the head of the ready list; a kevent polled again (level
 * re-arm, mask unknown, LAST_CHECK) is delivered only if still ready.
 * kevent_dequeue: delivered; kevent_dequeue_drop: polled and found not
 * ready (one place each, as kevent_storage_ready/ignored).
 */
DECLARE_EVENT_CLASS(kevent_dequeue_class,
		    TP_PROTO(const struct ukevent *uk, int check, int verdict),
		    TP_ARGS(uk, check, verdict),
		    TP_STRUCT__entry(__field(u64, user)
				     __field(u32, id0)
				     __field(u32, id1)
				     __field(u32, type)
				     __field(u32, mask)
				     __field(u32, fired)
				     __field(int, check)
				     __field(int, verdict)),
		    TP_fast_assign(__entry->user = uk->user_u64;
				   __entry->id0 = uk->id.raw[0];
				   __entry->id1 = uk->id.raw[1];
				   __entry->type = uk->type;
				   __entry->mask = uk->ret_data[0];
				   __entry->fired = uk->ret_data[1];
				   __entry->check = check;
				   __entry->verdict = verdict;),
		    TP_printk("%s id={%u,%u} user=0x%llx mask=0x%x fired=%u poll=%s -> %s",
			      kevent_show_type(__entry->type), __entry->id0,
			      __entry->id1, __entry->user, __entry->mask,
			      __entry->fired,
			      __print_symbolic(__entry->check,
					       { KEVENT_TRACE_CHECK_NONE, "no" },
					       { KEVENT_TRACE_CHECK_RECHECK, "recheck" },
					       { KEVENT_TRACE_CHECK_LAST, "LAST_CHECK" }),
			      kevent_show_dequeue(__entry->verdict))
);

DEFINE_EVENT(kevent_dequeue_class, kevent_dequeue,
	     TP_PROTO(const struct ukevent *uk, int check, int verdict),
	     TP_ARGS(uk, check, verdict));

DEFINE_EVENT(kevent_dequeue_class, kevent_dequeue_drop,
	     TP_PROTO(const struct ukevent *uk, int check, int verdict),
	     TP_ARGS(uk, check, verdict));

/*
 * The copy of one event to user space: @idx is the element of the
 * caller's array (kevent_get_events()) or the ring slot, kidx
 * (kevent_wait()); for the ring, @over is the lap the slot is written in
 * (ring_over once published) and @uidx the first slot not yet committed.
 * @ret: 0, or -EFAULT (the event goes back to the head of the list).
 */
DECLARE_EVENT_CLASS(kevent_copy_class,
		    TP_PROTO(const struct ukevent *uk, u32 idx, u32 over,
			     u32 uidx, int ret),
		    TP_ARGS(uk, idx, over, uidx, ret),
		    TP_STRUCT__entry(__field(u64, user)
				     __field(u32, id0)
				     __field(u32, id1)
				     __field(u32, type)
				     __field(u32, ret_flags)
				     __field(u32, data0)
				     __field(u32, data1)
				     __field(u32, idx)
				     __field(u32, over)
				     __field(u32, uidx)
				     __field(int, ret)),
		    TP_fast_assign(__entry->user = uk->user_u64;
				   __entry->id0 = uk->id.raw[0];
				   __entry->id1 = uk->id.raw[1];
				   __entry->type = uk->type;
				   __entry->ret_flags = uk->ret_flags;
				   __entry->data0 = uk->ret_data[0];
				   __entry->data1 = uk->ret_data[1];
				   __entry->idx = idx;
				   __entry->over = over;
				   __entry->uidx = uidx;
				   __entry->ret = ret;),
		    TP_printk("%s id={%u,%u} user=0x%llx ret_flags=%s ret_data={0x%x,%u} -> buf[%u]%s",
			      kevent_show_type(__entry->type), __entry->id0,
			      __entry->id1, __entry->user,
			      kevent_show_ret_flags(__entry->ret_flags),
			      __entry->data0, __entry->data1, __entry->idx,
			      __entry->ret ? " EFAULT" : "")
);

DEFINE_EVENT(kevent_copy_class, kevent_copy_buf,
	     TP_PROTO(const struct ukevent *uk, u32 idx, u32 over, u32 uidx,
		      int ret),
	     TP_ARGS(uk, idx, over, uidx, ret));

DEFINE_EVENT_PRINT(kevent_copy_class, kevent_copy_ring,
		   TP_PROTO(const struct ukevent *uk, u32 idx, u32 over,
			    u32 uidx, int ret),
		   TP_ARGS(uk, idx, over, uidx, ret),
		   TP_printk("%s id={%u,%u} user=0x%llx ret_flags=%s ret_data={0x%x,%u} -> ring kidx=%u over=%u uidx=%u%s",
			     kevent_show_type(__entry->type), __entry->id0,
			     __entry->id1, __entry->user,
			     kevent_show_ret_flags(__entry->ret_flags),
			     __entry->data0, __entry->data1, __entry->idx,
			     __entry->over, __entry->uidx,
			     __entry->ret ? " EFAULT" : ""));

/*
 * The end of a delivery that reached user space (storage lock held);
 * @fired: firings since the snapshot that was copied.
 */
TRACE_EVENT(kevent_finish,
	    TP_PROTO(const struct ukevent *ev, u32 fired, int verdict),
	    TP_ARGS(ev, fired, verdict),
	    TP_STRUCT__entry(__field(u64, user)
			     __field(u32, id0)
			     __field(u32, id1)
			     __field(u32, type)
			     __field(u32, fired)
			     __field(int, verdict)),
	    TP_fast_assign(__entry->user = ev->user_u64;
			   __entry->id0 = ev->id.raw[0];
			   __entry->id1 = ev->id.raw[1];
			   __entry->type = ev->type;
			   __entry->fired = fired;
			   __entry->verdict = verdict;),
	    TP_printk("%s id={%u,%u} user=0x%llx fired_since=%u -> %s",
		      kevent_show_type(__entry->type), __entry->id0,
		      __entry->id1, __entry->user, __entry->fired,
		      __print_symbolic(__entry->verdict,
				       { KEVENT_TRACE_DONE, "waits for its source" },
				       { KEVENT_TRACE_ONESHOT, "ONESHOT, removed" },
				       { KEVENT_TRACE_RECHECK, "level, requeued to be polled" },
				       { KEVENT_TRACE_FIRED, "fired meanwhile, requeued" },
				       { KEVENT_TRACE_GONE, "removed meanwhile" }))
);

/*
 * kevent_commit(): the position asked for (@new_idx, @over), what it
 * returned (@ret: slots freed, or -errno) and the ring after it.
 */
TRACE_EVENT(kevent_commit,
	    TP_PROTO(u32 new_idx, u32 over, long ret, u32 uidx, u32 kidx,
		     u32 kover),
	    TP_ARGS(new_idx, over, ret, uidx, kidx, kover),
	    TP_STRUCT__entry(__field(long, ret)
			     __field(u32, new_idx)
			     __field(u32, over)
			     __field(u32, uidx)
			     __field(u32, kidx)
			     __field(u32, kover)),
	    TP_fast_assign(__entry->ret = ret;
			   __entry->new_idx = new_idx;
			   __entry->over = over;
			   __entry->uidx = uidx;
			   __entry->kidx = kidx;
			   __entry->kover = kover;),
	    TP_printk("new_idx=%u over=%u -> freed=%ld%s%s uidx=%u kidx=%u kover=%u",
		      __entry->new_idx, __entry->over,
		      __entry->ret > 0 ? __entry->ret : 0,
		      __entry->ret < 0 ? " " : "",
		      __entry->ret < 0 ? kevent_show_errno(-__entry->ret) : "",
		      __entry->uidx, __entry->kidx, __entry->kover)
);

/*
 * A kevent system call returns an error: which call, on which fd, its
 * command (kevent_ctl()'s; the others have none) and the errno. The error
 * of one entry of a kevent_ctl() batch is the ret of its kevent_ctl_* line.
 */
TRACE_EVENT(kevent_error,
	    TP_PROTO(int call, int fd, u32 cmd, long err),
	    TP_ARGS(call, fd, cmd, err),
	    TP_STRUCT__entry(__field(long, err)
			     __field(int, call)
			     __field(int, fd)
			     __field(u32, cmd)),
	    TP_fast_assign(__entry->err = err;
			   __entry->call = call;
			   __entry->fd = fd;
			   __entry->cmd = cmd;),
	    TP_printk("%s fd=%d cmd=%s -> %s (%ld)",
		      __print_symbolic(__entry->call,
				       { KEVENT_TRACE_INIT, "kevent_init" },
				       { KEVENT_TRACE_CTL, "kevent_ctl" },
				       { KEVENT_TRACE_GET_EVENTS, "kevent_get_events" },
				       { KEVENT_TRACE_WAIT, "kevent_wait" },
				       { KEVENT_TRACE_COMMIT, "kevent_commit" }),
		      __entry->fd,
		      __entry->call == KEVENT_TRACE_CTL ?
		      kevent_show_cmd(__entry->cmd) : "-",
		      kevent_show_errno(-__entry->err), __entry->err)
);

#endif /* _TRACE_KEVENT_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
