/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_stress_util.h - helpers of the reliability suites (kevent_stress,
 * kevent_fuzz, kevent_caps), on top of kevent_test.h. The code is in
 * kevent_stress_util.c, part of libktest.a.
 *
 * - a small seeded PRNG (splitmix64), reproducible from a printed seed;
 * - a consistent snapshot of a queue's fdinfo (all counters and every
 *   "kevent:" line read in one pass, which the kernel prints under the
 *   queue mutex) and the invariant registered == added - removed;
 * - a sysctl guard: a process outside the test's process group that puts a
 *   sysctl back when the test ends, even when the harness SIGKILLs it;
 * - the per-user kevent room probe: how many more kevents the calling user
 *   can register under a given max_user_kevents (leak detector);
 * - running a function as another uid in a forked child.
 */
#ifndef KLAB_KEVENT_STRESS_UTIL_H
#define KLAB_KEVENT_STRESS_UTIL_H

#include <grp.h>
#include <inttypes.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "kevent_test.h"

/* ---- PRNG ------------------------------------------------------------ */

/* The splitmix64 finaliser: a well-mixed 64-bit value from any input. */
uint64_t kst_mix64(uint64_t z);

struct kst_rng {
	uint64_t s;
};

/* The same seed gives the same stream: failures replay from a printed seed. */
void kst_rng_seed(struct kst_rng *r, uint64_t seed);
uint64_t kst_rand64(struct kst_rng *r);

/* Uniform in [0, n); n == 0 gives 0. */
uint32_t kst_below(struct kst_rng *r, uint32_t n);

/* True with probability pct / 100. */
bool kst_chance(struct kst_rng *r, unsigned int pct);

/* A string hash, to derive per-test streams from one seed. */
uint64_t kst_hash_str(const char *s);

/* ---- fdinfo snapshot -------------------------------------------------- */

#define KST_MAX_LINES 8192

struct kst_kline {
	unsigned int type;
	unsigned long long id;
	unsigned int event, req_flags;
	unsigned long long user;
	char state[12];
};

struct kst_fdinfo {
	long long registered, ready, added, removed, marked, delivered;
	long long wakeups, waiters;
	long long ring_size, ring_kidx, ring_uidx, ring_over, ring_free;
	int nlines;		/* "kevent:" lines */
	int nparsed;		/* of which stored in line[] (if given) */
};

/*
 * Read /proc/self/fdinfo/<fd> in one pass. "kevent:" lines are counted and
 * stored in lines[0..max) if lines is not NULL. Returns 0, or -1 with errno
 * if the file cannot be read or a counter is missing.
 */
int kst_fdinfo_read(int fd, struct kst_fdinfo *fi, struct kst_kline *lines, int max);

/*
 * The per-snapshot invariants of a queue: registered == added - removed ==
 * number of "kevent:" lines, 0 <= ready <= registered (a ready kevent is a
 * registered one). Reports failures at the caller's line; returns true if
 * all hold.
 */
#define kst_check_fdinfo(fd, fi) kst_check_fdinfo_at(__FILE__, __LINE__, fd, fi)
bool kst_check_fdinfo_at(const char *file, int line, int fd, struct kst_fdinfo *fi);

/* ---- sysctl guard ----------------------------------------------------- */

/*
 * While a guard lives, a helper process (in its own session, so the
 * harness's kill of the test's process group misses it) waits for the
 * test process to end and writes the saved value back. Start guards before
 * creating queues: the helper closes every other descriptor it inherits.
 */
struct kst_guard {
	const char *path;
	long long old;
	pid_t pid;
	int wfd;
};

/* Save the sysctl at path and start the helper; false (errno) on failure. */
bool kst_guard_start(struct kst_guard *g, const char *path);

/* Write the saved value back now and retire the helper. */
void kst_guard_end(struct kst_guard *g);

/* ---- per-user room probe ---------------------------------------------- */

/*
 * How many USER kevents the calling user can still register while
 * max_user_kevents is `limit` (the sysctl must already be set to it by the
 * caller): fills a fresh queue until ADD reports BROKEN/ENOSPC, checks that
 * every failure is ENOSPC, closes the queue. Returns the room, or -1 on an
 * unexpected result (reported at the caller's line).
 */
#define kst_user_room(limit) kst_user_room_at(__FILE__, __LINE__, limit)
long kst_user_room_at(const char *file, int line, long limit);

/*
 * Lower max_user_kevents to `limit` under a guard, measure the room, put it
 * back. Returns the room, -1 on failure, -2 if the sysctl is not writable
 * (not root).
 */
#define kst_probe_room(limit) kst_probe_room_at(__FILE__, __LINE__, limit)
long kst_probe_room_at(const char *file, int line, long limit);

/* ---- another uid ------------------------------------------------------ */

/*
 * End a forked child: 0 if it added no failure to the count it inherited
 * (base, read before the fork), 1 otherwise.
 */
_Noreturn void kst_child_exit(int base);

/* Become uid/gid for good (in a forked child). */
bool kst_become(uid_t uid);

/*
 * Start fn(arg) in a forked child running as uid (made dumpable again, so
 * that /proc access between processes depends on the uid only). The child
 * reports its own failures and exits 0 if it passed. Returns the pid, or -1.
 */
#define kst_spawn_as(uid, fn, arg) kst_spawn_as_at(__FILE__, __LINE__, uid, fn, arg)
pid_t kst_spawn_as_at(const char *file, int line, uid_t uid, void (*fn)(void *), void *arg);

/* Reap a child started by kst_spawn_as(); true if it exited 0. */
#define kst_wait_ok(pid, what) kst_wait_ok_at(__FILE__, __LINE__, pid, what)
bool kst_wait_ok_at(const char *file, int line, pid_t pid, const char *what);

/* Run fn(arg) as uid in a child and wait for it; true if it passed. */
#define kst_run_as(uid, fn, arg)					\
	kst_wait_ok_at(__FILE__, __LINE__,				\
		       kst_spawn_as_at(__FILE__, __LINE__, uid, fn, arg), \
		       "child as uid " #uid)

/* ---- one-byte pipe signals between processes ---------------------------- */

struct kst_chan {
	int rd, wr;
};

/* A pipe (close-on-exec); false on failure. */
bool kst_chan_open(struct kst_chan *c);
/* Send one byte. */
void kst_chan_post(struct kst_chan *c, char v);

/* Wait up to timeout_ms for one byte; returns it, or -1 (timeout/EOF). */
int kst_chan_wait(struct kst_chan *c, long timeout_ms);

#endif /* KLAB_KEVENT_STRESS_UTIL_H */
