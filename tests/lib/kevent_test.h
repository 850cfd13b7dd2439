/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_test.h - helpers shared by the kevent test suites (header only:
 * tests/Makefile links only ktest.c into a suite).
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
#include <net/if.h>
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

static inline long long kt_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline long long kt_mono_ns(void)
{
	return kt_clock_ns(CLOCK_MONOTONIC);
}

static inline void kt_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- threads --------------------------------------------------------- */

static inline pid_t kt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline int kt_read_task_file(pid_t tid, const char *name, char *buf, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The state letter of a thread ('R', 'S', 'D', ...), or 0 if gone. */
static inline char kt_thread_state(pid_t tid)
{
	char buf[1024], *p;

	if (kt_read_task_file(tid, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

/* The system call a thread is inside (/proc/.../syscall), or -1. */
static inline long kt_thread_syscall(pid_t tid)
{
	char buf[512], *end;
	long nr;

	if (kt_read_task_file(tid, "syscall", buf, sizeof(buf)))
		return -1;
	nr = strtol(buf, &end, 10);
	return end == buf ? -1 : nr;
}

/* voluntary_ctxt_switches of a thread: how many times it went to sleep. */
static inline long long kt_thread_nvcsw(pid_t tid)
{
	char buf[4096], *p;

	if (kt_read_task_file(tid, "status", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!p)
		return -1;
	return strtoll(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
}

/* True if the thread sleeps interruptibly inside system call nr. */
static inline bool kt_thread_blocked_in(pid_t tid, long nr)
{
	return kt_thread_state(tid) == 'S' && kt_thread_syscall(tid) == nr;
}

/*
 * Wait (bounded) until thread tid is asleep inside system call nr. Seen
 * asleep twice 2 ms apart, so that a thread caught between setting its
 * state and scheduling away is not taken for a sleeper too early.
 */
static inline bool kt_wait_blocked(pid_t tid, long nr, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL;

	while (kt_mono_ns() < deadline) {
		if (tid > 0 && kt_thread_blocked_in(tid, nr)) {
			kt_msleep(2);
			if (kt_thread_blocked_in(tid, nr))
				return true;
		}
		kt_msleep(1);
	}
	return false;
}

/* pthread_join bounded by timeout_ms; false if the thread did not end. */
static inline bool kt_join(pthread_t th, void **ret, long timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, ret, &ts) == 0;
}

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
static inline int kt_ctl1(int fd, unsigned int cmd, struct ukevent *uk)
{
	return kevent_ctl(fd, cmd, 1, uk);
}

/*
 * kevent_ctl on one entry that must return `want`; otherwise the test ends
 * with the call's result and the entry's ret_flags/ret_data, described by
 * `what` (e.g. "ADD user id 3").
 */
static inline void kt_ctl1_must_at(const char *file, int line, int fd,
				   unsigned int cmd, struct ukevent *uk,
				   int want, const char *what)
{
	int r = kt_ctl1(fd, cmd, uk);

	if (r != want) {
		kt_fail_at(file, line,
			   "%s: ret %d errno %d ret_flags %#x ret_data %u",
			   what, r, errno, uk->ret_flags, uk->ret_data[0]);
		kt_end_test();
	}
}

/* ADD one USER kevent that must register (return 0). */
#define kt_add_user(...) kt_add_user_at(__FILE__, __LINE__, __VA_ARGS__)
static inline void kt_add_user_at(const char *file, int line, int fd, __u64 id,
				  __u64 user, __u32 req_flags)
{
	struct ukevent uk = ukevent_user(id, user);
	char what[64];

	uk.req_flags = req_flags;
	snprintf(what, sizeof(what), "ADD user id %llu", (unsigned long long)id);
	kt_ctl1_must_at(file, line, fd, KEVENT_CTL_ADD, &uk, 0, what);
}

/* READY one USER kevent that must match (return 1). */
#define kt_ready_user(...) kt_ready_user_at(__FILE__, __LINE__, __VA_ARGS__)
static inline void kt_ready_user_at(const char *file, int line, int fd, __u64 id,
				    __u64 user, __u32 event)
{
	struct ukevent uk = ukevent_user(id, user);
	char what[64];

	uk.event = event;
	snprintf(what, sizeof(what), "READY user id %llu", (unsigned long long)id);
	kt_ctl1_must_at(file, line, fd, KEVENT_CTL_READY, &uk, 1, what);
}

/* Non-blocking dequeue of up to max events (max <= KEVENT_MAX_BATCH). */
static inline int kt_get_now(int fd, struct ukevent *buf, unsigned int max)
{
	struct __kernel_timespec ts = kevent_ts(0, 0);

	return kevent_get_events(fd, 0, max, &ts, buf, 0);
}

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

static inline void *kt_waiter_fn(void *arg)
{
	struct kt_waiter *w = (struct kt_waiter *)arg;
	const struct __kernel_timespec *ts = w->infinite ? NULL : &w->ts;
	int r;

	if (w->async_cancel)
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	__atomic_store_n(&w->tid, kt_gettid(), __ATOMIC_RELEASE);
	if (w->kind == KT_WAIT_GET)
		r = kevent_get_events(w->fd, w->min_nr, w->max_nr, ts, w->buf, w->flags);
	else
		r = kevent_wait(w->fd, w->max_nr, w->old_uidx, ts, w->flags);
	w->err = r < 0 ? errno : 0;
	w->ret = r;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Fill defaults: get_events(min 1, max 64) with a 120 s timeout. */
static inline void kt_waiter_init(struct kt_waiter *w, int fd, enum kt_waiter_kind kind)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->kind = kind;
	w->min_nr = 1;
	w->max_nr = kind == KT_WAIT_GET ? 64 : 1;
	w->ts = kevent_ts(120, 0);
}

static inline void kt_waiter_start(struct kt_waiter *w)
{
	int e = pthread_create(&w->th, NULL, kt_waiter_fn, w);

	if (e) {
		kt_fail_at(__FILE__, __LINE__, "pthread_create: %s", strerror(e));
		kt_end_test();
	}
}

static inline long kt_waiter_nr(const struct kt_waiter *w)
{
	return w->kind == KT_WAIT_GET ? __NR_kevent_get_events : __NR_kevent_wait;
}

/* Start a waiter and wait until it sleeps in its system call. */
static inline bool kt_waiter_start_blocked(struct kt_waiter *w)
{
	long long deadline;

	kt_waiter_start(w);
	deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	while (!__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) && kt_mono_ns() < deadline)
		kt_msleep(1);
	if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
		return false;
	return kt_wait_blocked(w->tid, kt_waiter_nr(w), KT_SOON_MS);
}

static inline bool kt_waiter_done(const struct kt_waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* Bounded join; false if the waiter is still blocked after timeout_ms. */
static inline bool kt_waiter_join(struct kt_waiter *w, long timeout_ms)
{
	return kt_join(w->th, NULL, timeout_ms);
}

/* ---- system ---------------------------------------------------------- */

static inline long long kt_sysctl_read(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static inline int kt_sysctl_write(const char *path, long long v)
{
	char buf[64];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n, r;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%lld\n", v);
	r = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return r;
}

#define KT_MAX_RING_PATH	"/proc/sys/kevent/max_ring_entries"
#define KT_MAX_USER_PATH	"/proc/sys/kevent/max_user_kevents"

/* Bring the loopback interface up (the guest's init may not have). */
static inline void kt_loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (!ioctl(s, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* A read-only, then an inaccessible page: addresses that fault. */
static inline void *kt_bad_page(int prot)
{
	void *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		kt_fail_at(__FILE__, __LINE__, "mmap: %s", strerror(errno));
		kt_end_test();
	}
	return p;
}

#endif /* KLAB_KEVENT_TEST_H */
