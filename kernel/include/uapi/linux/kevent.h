/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kevent - unified event notification, user-visible ABI.
 *
 * A re-implementation of the 2006 kevent series ("take 26" ABI, with the
 * take 24 /dev/kevent character device kept).  Numeric values follow the
 * original series; docs/abi.md lists every value and every place where this
 * implementation had to choose something the original documents left open.
 *
 * This header is usable from userspace as is: it only needs <linux/types.h>
 * and <linux/time_types.h>.
 */
#ifndef _UAPI_LINUX_KEVENT_H
#define _UAPI_LINUX_KEVENT_H

#include <linux/types.h>
#include <linux/time_types.h>

/*
 * x86_64 system call numbers.  The original numbers (280-284) were taken by
 * mainline long ago, so the lab uses 500-504: a hole in the 6.12 table above
 * the last common entry (462, mseal) and below the x32 range (512-547), far
 * enough from the top of the table that mainline growth will not reach it
 * for years.
 */
#if defined(__x86_64__) && !defined(__ILP32__)
#ifndef __NR_kevent_init
#define __NR_kevent_init		500
#define __NR_kevent_ctl			501
#define __NR_kevent_get_events		502
#define __NR_kevent_wait		503
#define __NR_kevent_commit		504
#endif
#endif

/* Event types (struct ukevent.type). Values are the original series'. */
#define KEVENT_SOCKET		0	/* TCP and UNIX sockets */
#define KEVENT_INODE		1	/* entries of a directory, a file's data */
#define KEVENT_TIMER		2
#define KEVENT_POLL		3
#define KEVENT_NAIO		4	/* reserved, not implemented */
#define KEVENT_AIO		5	/* reserved, not implemented */
#define KEVENT_PIPE		6	/* pipes and FIFOs */
#define KEVENT_SIGNAL		7	/* signals sent to the adding process */
#define KEVENT_POSIX_TIMER	8	/* expiries of a timer_create() timer */
#define KEVENT_USER		9	/* fired by KEVENT_CTL_READY */
#define KEVENT_MAX_TYPES	10

/* kevent_ctl() commands. */
#define KEVENT_CTL_ADD		0
#define KEVENT_CTL_REMOVE	1
#define KEVENT_CTL_MODIFY	2
#define KEVENT_CTL_READY	3

/* Request flags (struct ukevent.req_flags). */
#define KEVENT_REQ_ONESHOT	0x1	/* remove the kevent once delivered */
#define KEVENT_REQ_WAKEUP_ONE	0x2	/* wake one waiter; one ready per storage */
#define KEVENT_REQ_ET		0x4	/* edge triggered: no re-check after delivery */
#define KEVENT_REQ_LAST_CHECK	0x8	/* re-check readiness when dequeued */
#define KEVENT_REQ_ALWAYS_QUEUE	0x10	/* ready at ADD: queue it, do not complete it */
#define KEVENT_REQ_MASK		0x1f

/* Return flags (struct ukevent.ret_flags). */
#define KEVENT_RET_BROKEN	0x1	/* request failed; ret_data[0] holds the errno */
#define KEVENT_RET_DONE		0x2	/* request processed */
#define KEVENT_RET_COPY_FAILED	0x4	/* event could not be copied to the ring */

/* KEVENT_TIMER events. */
#define KEVENT_TIMER_FIRED	0x1

/*
 * KEVENT_INODE events; id.raw[0] is a descriptor of the watched directory or
 * file at ADD.  CREATE and REMOVE are the original series' values; MODIFY is
 * an addition of this implementation.  Each delivery reports one record:
 * ret_data[0] one event with its flags, ret_data[1] the FNV-1a hash of the
 * entry's name (0 when the event has no name), see docs/abi.md.
 */
#define KEVENT_INODE_CREATE	0x1	/* an entry appeared: create, mkdir, link, rename in */
#define KEVENT_INODE_REMOVE	0x2	/* an entry went: unlink, rmdir, rename out */
#define KEVENT_INODE_MODIFY	0x4	/* data written: the file, or an entry of the directory */
/* Reported only, never asked for: */
#define KEVENT_INODE_GONE	0x8	/* the watched inode is gone: last event, kevent removed */
#define KEVENT_INODE_ISDIR	0x10	/* the entry is a directory */
#define KEVENT_INODE_MOVED	0x20	/* CREATE or REMOVE by a rename */
#define KEVENT_INODE_OVERFLOW	0x40	/* records were lost: this one merges them, no name */
/*
 * The name hash: FNV-1a, 32 bits, over the name's bytes (no NUL):
 * h = KEVENT_INODE_HASH_BASIS, then for each byte c:
 * h ^= c, h *= KEVENT_INODE_HASH_PRIME.
 */
#define KEVENT_INODE_HASH_BASIS	2166136261U
#define KEVENT_INODE_HASH_PRIME	16777619U

/* KEVENT_SOCKET events. */
#define KEVENT_SOCKET_RECV	0x1	/* data, or end of file, to read */
#define KEVENT_SOCKET_ACCEPT	0x2	/* a connection waits on a listener */
#define KEVENT_SOCKET_SEND	0x4	/* write space */

/*
 * KEVENT_PIPE events: the SOCKET values, as in the original series. The
 * readiness is the pipe's, whichever end id.raw[0] names.
 */
#define KEVENT_PIPE_RECV	0x1	/* data, or end of file, to read */
#define KEVENT_PIPE_SEND	0x4	/* room to write, or no reader left */

/*
 * KEVENT_SIGNAL events; id.raw_u64 is the signal number, plus
 * KEVENT_SIGNAL_NOMASK to take the signal instead of letting the process
 * receive it ("queue only, do not deliver", as in the original series).
 */
#define KEVENT_SIGNAL_DELIVERY	0x1
#define KEVENT_SIGNAL_NOMASK	0x8000000000000000ULL

/* KEVENT_POSIX_TIMER events; id.raw[0] is a timer id of the adding process. */
#define KEVENT_POSIX_TIMER_FIRED 0x1

/*
 * KEVENT_POLL events are the classic POLL* bits (POLLIN, POLLOUT, ...), as
 * in the original series.  KEVENT_USER events are opaque to the kernel.
 */

/* Flags of kevent_get_events() and kevent_wait(). */
#define KEVENT_FLAGS_ABSTIME	0x1	/* timeout is absolute CLOCK_REALTIME */
#define KEVENT_FLAGS_MASK	0x1

/* Flags of kevent_init(): O_CLOEXEC on x86 and the generic architectures. */
#define KEVENT_INIT_CLOEXEC	02000000
#define KEVENT_INIT_MASK	KEVENT_INIT_CLOEXEC

/* Upper bound of the num/max_nr argument of a single call. */
#define KEVENT_MAX_BATCH	4096

/**
 * struct kevent_id - what the event is about
 * @raw: type specific: the fd for KEVENT_POLL, KEVENT_SOCKET, KEVENT_PIPE
 *	 and KEVENT_INODE, seconds and nanoseconds of the period for
 *	 KEVENT_TIMER, the signal number for KEVENT_SIGNAL, the timer id for
 *	 KEVENT_POSIX_TIMER, anything for KEVENT_USER.
 * @raw_u64: the same eight bytes as one number (forces 8-byte alignment).
 */
struct kevent_id {
	union {
		__u32 raw[2];
		__aligned_u64 raw_u64;
	};
};

/**
 * struct ukevent - one event request, or one returned event
 * @id: what to watch; together with @type the key of the request
 * @type: KEVENT_TIMER, KEVENT_POLL, KEVENT_USER, ...
 * @event: event mask of interest (type specific)
 * @req_flags: KEVENT_REQ_*
 * @ret_flags: KEVENT_RET_*, filled by the kernel
 * @ret_data: filled by the event source (see docs/abi.md)
 * @user: opaque user data, copied back unchanged; part of the match for
 *	  KEVENT_CTL_MODIFY, KEVENT_CTL_REMOVE and KEVENT_CTL_READY
 * @ptr: the same eight bytes as a pointer
 */
struct ukevent {
	struct kevent_id id;
	__u32 type;
	__u32 event;
	__u32 req_flags;
	__u32 ret_flags;
	__u32 ret_data[2];
	union {
		__u32 user[2];
		void *ptr;
		__u64 user_u64;
	};
};

/**
 * struct kevent_ring - user-space ring filled by kevent_wait()
 * @ring_kidx: index where the kernel writes the next event
 * @ring_over: number of times @ring_kidx wrapped around
 * @event: the ring itself, ring_size entries
 */
struct kevent_ring {
	__u32 ring_kidx;
	__u32 ring_over;
	struct ukevent event[];
};

#endif /* _UAPI_LINUX_KEVENT_H */
