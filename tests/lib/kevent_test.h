/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_test.h - helpers shared by the kevent test suites, the one header
 * a suite includes (it brings in ktest.h and kevent_syscall.h). The code is
 * in kevent_test.c, part of libktest.a.
 *
 * - clocks and sleeping;
 * - thread introspection through /proc/self/task/<tid>: is a thread asleep
 *   inside a given system call, how many times did it sleep;
 * - short-hands for common kevent_ctl() calls that end the test on failure;
 * - a "waiter": a thread blocked in kevent_get_events() or kevent_wait()
 *   whose result the test collects with a bounded join;
 * - sysctl read/write, loopback bring-up.
 */
#ifndef KLAB_KEVENT_TEST_H
#define KLAB_KEVENT_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktest.h"
#include "kevent_syscall.h"
#include "kt_net.h"

/*
 * fdinfo keys of a kevent queue (kernel/kevent show_fdinfo, docs/abi.md
 * "Introspection"). Kept in one place so that a rename is a one-line change.
 */
#define KFD_REGISTERED	"registered"
#define KFD_READY	"ready"
#define KFD_ADDED	"added"
#define KFD_REMOVED	"removed"
#define KFD_MARKED	"marked_ready"
#define KFD_DELIVERED	"delivered"
#define KFD_WAKEUPS	"wakeups"
#define KFD_WAITERS	"waiters"

/* A generous bound for "this must happen soon" under TCG emulation. */
#define KT_SOON_MS	30000

/* ---- clocks ---------------------------------------------------------- */

/* A clock in nanoseconds; kt_mono_ns() is CLOCK_MONOTONIC. */
long long kt_clock_ns(clockid_t clk);
long long kt_mono_ns(void);
/* Sleep ms milliseconds, resumed after signals. */
void kt_msleep(long ms);

/* ---- threads --------------------------------------------------------- */

pid_t kt_gettid(void);

/* /proc/<tid>/<name> into buf (NUL-terminated); 0 or -1. A thread id of
 * this process or the pid of another: /proc/<id>/ reaches both. */
int kt_read_task_file(pid_t tid, const char *name, char *buf, size_t len);

/* The state letter of a thread ('R', 'S', 'D', ...), or 0 if gone. */
char kt_thread_state(pid_t tid);

/* The system call a thread is inside (/proc/.../syscall), or -1. */
long kt_thread_syscall(pid_t tid);

/* voluntary_ctxt_switches of a thread: how many times it went to sleep. */
long long kt_thread_nvcsw(pid_t tid);

/* True if the thread sleeps interruptibly inside system call nr. */
bool kt_thread_blocked_in(pid_t tid, long nr);

/*
 * Wait (bounded) until thread tid is asleep inside system call nr. Seen
 * asleep twice 2 ms apart, so that a thread caught between setting its
 * state and scheduling away is not taken for a sleeper too early.
 */
bool kt_wait_blocked(pid_t tid, long nr, long timeout_ms);

/*
 * The same for n threads at once (at most KT_MAX_THREADS): -1 when all of
 * them sleep in nr, else the index of one that did not by the timeout.
 * Under User-Mode Linux the threads share each 20 ms look (see
 * kt_thread_blocked_in), where one call per thread would take n of them.
 */
#define KT_MAX_THREADS 64
int kt_wait_all_blocked(const pid_t *tids, int n, long nr, long timeout_ms);

/* pthread_join bounded by timeout_ms; false if the thread did not end. */
bool kt_join(pthread_t th, void **ret, long timeout_ms);

/* ---- kevent short-hands ---------------------------------------------- */

/* A per-entry result: DONE and BROKEN with ret_data[0] == err. */
#define KT_EXPECT_BROKEN(uk, err)					\
	do {								\
		const struct ukevent *kt_uk_ = &(uk);			\
		if (kt_uk_->ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) || \
		    kt_uk_->ret_data[0] != (__u32)(err))		\
			kt_fail_at(__FILE__, __LINE__,			\
				   "%s: ret_flags %#x ret_data[0] %u (%s), expected DONE|BROKEN and %d (%s)", \
				   #uk, kt_uk_->ret_flags, kt_uk_->ret_data[0], \
				   strerror((int)kt_uk_->ret_data[0]), (int)(err), strerror(err)); \
	} while (0)

/* A per-entry result: DONE, not BROKEN. */
#define KT_EXPECT_DONE(uk)						\
	do {								\
		const struct ukevent *kt_uk_ = &(uk);			\
		if ((kt_uk_->ret_flags & (KEVENT_RET_DONE | KEVENT_RET_BROKEN)) != KEVENT_RET_DONE) \
			kt_fail_at(__FILE__, __LINE__,			\
				   "%s: ret_flags %#x ret_data[0] %u, expected DONE without BROKEN", \
				   #uk, kt_uk_->ret_flags, kt_uk_->ret_data[0]); \
	} while (0)

/* A queue without ring; ends the test on failure. */
#define kt_queue() ((int)KT_ASSERT_OK(kevent_init(NULL, 0, 0)))

/* kevent_ctl on one entry; returns the call's result, entry updated. */
int kt_ctl1(int fd, unsigned int cmd, struct ukevent *uk);

/*
 * kevent_ctl on one entry that must return `want`; otherwise the test ends
 * with the call's result and the entry's ret_flags/ret_data, described by
 * `what` (e.g. "ADD user id 3").
 */
void kt_ctl1_must_at(const char *file, int line, int fd, unsigned int cmd,
		     struct ukevent *uk, int want, const char *what);
#define kt_ctl1_must(...) kt_ctl1_must_at(__FILE__, __LINE__, __VA_ARGS__)

/* ADD one USER kevent that must register (return 0). */
#define kt_add_user(...) kt_add_user_at(__FILE__, __LINE__, __VA_ARGS__)
void kt_add_user_at(const char *file, int line, int fd, __u64 id, __u64 user,
		    __u32 req_flags);

/* READY one USER kevent that must match (return 1). */
#define kt_ready_user(...) kt_ready_user_at(__FILE__, __LINE__, __VA_ARGS__)
void kt_ready_user_at(const char *file, int line, int fd, __u64 id, __u64 user,
		      __u32 event);

/* Non-blocking dequeue of up to max events (max <= KEVENT_MAX_BATCH). */
int kt_get_now(int fd, struct ukevent *buf, unsigned int max);
/* kt_get_now() that ends the test if the call fails. */
#define kt_ready_now(...) kt_ready_now_at(__FILE__, __LINE__, __VA_ARGS__)
int kt_ready_now_at(const char *file, int line, int fd, struct ukevent *buf, unsigned int max);
/*
 * Wait (up to KT_SOON_MS, or ms) for exactly one event of queue q and
 * return it; anything else (timeout, error) ends the test.
 */
#define kt_wait_one(q) kt_wait_one_at(__FILE__, __LINE__, (q), KT_SOON_MS)
#define kt_wait_one_ms(q, ms) kt_wait_one_at(__FILE__, __LINE__, (q), (ms))
struct ukevent kt_wait_one_at(const char *file, int line, int q, long long timeout_ms);
/* Register a POLL kevent that must not complete at ADD, or end the test. */
#define kt_add_poll(...) kt_add_poll_at(__FILE__, __LINE__, __VA_ARGS__)
void kt_add_poll_at(const char *file, int line, int q, int fd, __u32 events, __u32 flags,
		    __u64 user);
/* Register a TIMER kevent of period sec.nsec, or end the test. */
#define kt_add_timer(...) kt_add_timer_at(__FILE__, __LINE__, __VA_ARGS__)
void kt_add_timer_at(const char *file, int line, int q, __u32 sec, __u32 nsec, __u32 flags,
		     __u64 user);

/* ---- waiter thread --------------------------------------------------- */

enum kt_waiter_kind { KT_WAIT_GET, KT_WAIT_RING };

struct kt_waiter {
	/* set by the test */
	int fd;
	enum kt_waiter_kind kind;
	unsigned int min_nr, max_nr;	/* KT_WAIT_GET; max_nr also num of RING */
	unsigned int old_uidx;		/* KT_WAIT_RING */
	unsigned int flags;
	bool infinite;			/* NULL timeout */
	struct __kernel_timespec ts;	/* else this timeout */
	bool async_cancel;		/* PTHREAD_CANCEL_ASYNCHRONOUS */
	/* set by the thread */
	pthread_t th;
	pid_t tid;
	int ret, err;
	int done;
	struct ukevent buf[64];
};

/* The thread function: one call as described by *w, result into *w. */
void *kt_waiter_fn(void *arg);
/* Fill defaults: get_events(min 1, max 64) with a 120 s timeout. */
void kt_waiter_init(struct kt_waiter *w, int fd, enum kt_waiter_kind kind);
/* Start the thread (the test ends if it cannot be created). */
void kt_waiter_start(struct kt_waiter *w);
/* The system call number the waiter sleeps in. */
long kt_waiter_nr(const struct kt_waiter *w);
/* Start a waiter and wait until it sleeps in its system call. */
bool kt_waiter_start_blocked(struct kt_waiter *w);
/* True once the waiter's call has returned. */
bool kt_waiter_done(const struct kt_waiter *w);

/* Bounded join; false if the waiter is still blocked after timeout_ms. */
bool kt_waiter_join(struct kt_waiter *w, long timeout_ms);
/* The first of n waiters whose call returned within timeout_ms, or -1. */
int kt_waiter_first_done(const struct kt_waiter *w, int n, long timeout_ms);
/*
 * KEVENT_CTL_READY with num 0 on q, so that its waiters return, then join
 * w[0..n-1]; a failed READY, or a waiter still there after KT_SOON_MS,
 * fails the test at the caller's line.
 */
#define kt_release_waiters(q, w, n) kt_release_waiters_at(__FILE__, __LINE__, (q), (w), (n))
void kt_release_waiters_at(const char *file, int line, int q, struct kt_waiter *w, int n);

/*
 * Drainers: threads that dequeue a queue's events (get_events, 5 ms
 * timeout) until stopped, counting them; the other side of a test that
 * closes sources while their kevents are delivered.
 */
#define KT_DRAINERS_MAX 4
struct kt_drainers {
	int q, n;
	int stop;	/* atomic */
	long got;	/* atomic: events dequeued */
	pthread_t th[KT_DRAINERS_MAX];
};

/* Start n (<= KT_DRAINERS_MAX) drainers of queue q (the test ends if not). */
void kt_drainers_start(struct kt_drainers *d, int q, int n);
/* Stop and join them; false if one is still there after KT_SOON_MS. */
bool kt_drainers_stop(struct kt_drainers *d);

/* ---- system ---------------------------------------------------------- */

/* Read an integer sysctl (or any /proc file holding one); -1 on failure. */
long long kt_sysctl_read(const char *path);
/* Write one; 0 or -1. */
int kt_sysctl_write(const char *path, long long v);

#define KT_MAX_RING_PATH	"/proc/sys/kevent/max_ring_entries"
#define KT_MAX_USER_PATH	"/proc/sys/kevent/max_user_kevents"

/* True if the page at p (page-aligned) has no mapping at all. */
bool kt_is_unmapped(const void *p);

/*
 * A fresh page mapped with prot (PROT_READ, PROT_NONE, ...): an address
 * that faults for the accesses prot lacks. Ends the test if mmap fails.
 */
void *kt_bad_page(int prot);

#endif /* KLAB_KEVENT_TEST_H */
