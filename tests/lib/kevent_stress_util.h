/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_stress_util.h - helpers of the reliability suites (kevent_stress,
 * kevent_fuzz, kevent_caps). Header only, on top of kevent_test.h.
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

static inline uint64_t kst_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct kst_rng {
	uint64_t s;
};

static inline void kst_rng_seed(struct kst_rng *r, uint64_t seed)
{
	r->s = kst_mix64(seed + 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t kst_rand64(struct kst_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return kst_mix64(r->s);
}

/* Uniform in [0, n); n == 0 gives 0. */
static inline uint32_t kst_below(struct kst_rng *r, uint32_t n)
{
	return n ? (uint32_t)(kst_rand64(r) % n) : 0;
}

/* True with probability pct / 100. */
static inline bool kst_chance(struct kst_rng *r, unsigned int pct)
{
	return kst_below(r, 100) < pct;
}

/* A string hash, to derive per-test streams from one seed. */
static inline uint64_t kst_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

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
static inline int kst_fdinfo_read(int fd, struct kst_fdinfo *fi,
				  struct kst_kline *lines, int max)
{
	char path[64], line[512];
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	fi->registered = fi->ready = fi->added = fi->removed = -1;
	fi->marked = fi->delivered = fi->wakeups = fi->waiters = -1;
	fi->ring_size = fi->ring_kidx = fi->ring_uidx = fi->ring_over = -1;
	fi->ring_free = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	/* seq_file: the kernel prints the whole text under the queue mutex */
	while (fgets(line, sizeof(line), f)) {
		long long v;
		char key[32];

		if (!strncmp(line, "kevent:", 7)) {
			struct kst_kline kl;

			memset(&kl, 0, sizeof(kl));
			fi->nlines++;
			if (lines && fi->nparsed < max &&
			    sscanf(line + 7, " type=%u id=%llx event=%x req_flags=%x user=%llx state=%11s",
				   &kl.type, &kl.id, &kl.event, &kl.req_flags,
				   &kl.user, kl.state) == 6)
				lines[fi->nparsed++] = kl;
			continue;
		}
		if (sscanf(line, "%31[^:]:%lld", key, &v) != 2)
			continue;
		if (!strcmp(key, KFD_REGISTERED))
			fi->registered = v;
		else if (!strcmp(key, KFD_READY))
			fi->ready = v;
		else if (!strcmp(key, KFD_ADDED))
			fi->added = v;
		else if (!strcmp(key, KFD_REMOVED))
			fi->removed = v;
		else if (!strcmp(key, KFD_MARKED))
			fi->marked = v;
		else if (!strcmp(key, KFD_DELIVERED))
			fi->delivered = v;
		else if (!strcmp(key, KFD_WAKEUPS))
			fi->wakeups = v;
		else if (!strcmp(key, KFD_WAITERS))
			fi->waiters = v;
		else if (!strcmp(key, "ring_size"))
			fi->ring_size = v;
		else if (!strcmp(key, "ring_kidx"))
			fi->ring_kidx = v;
		else if (!strcmp(key, "ring_uidx"))
			fi->ring_uidx = v;
		else if (!strcmp(key, "ring_over"))
			fi->ring_over = v;
		else if (!strcmp(key, "ring_free"))
			fi->ring_free = v;
	}
	fclose(f);
	if (fi->registered < 0 || fi->ready < 0 || fi->added < 0 ||
	    fi->removed < 0 || fi->delivered < 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * The per-snapshot invariants of a queue: registered == added - removed ==
 * number of "kevent:" lines, 0 <= ready <= registered (a ready kevent is a
 * registered one). Reports failures at the caller's line; returns true if
 * all hold.
 */
#define kst_check_fdinfo(fd, fi) kst_check_fdinfo_at(__FILE__, __LINE__, fd, fi)
static inline bool kst_check_fdinfo_at(const char *file, int line, int fd,
				       struct kst_fdinfo *fi)
{
	bool ok = true;

	if (kst_fdinfo_read(fd, fi, NULL, 0)) {
		kt_fail_at(file, line, "fdinfo of queue %d: %s", fd, strerror(errno));
		return false;
	}
	if (fi->registered != fi->added - fi->removed) {
		kt_fail_at(file, line, "queue %d: registered %lld != added %lld - removed %lld",
			   fd, fi->registered, fi->added, fi->removed);
		ok = false;
	}
	if (fi->nlines != fi->registered) {
		kt_fail_at(file, line, "queue %d: %d kevent lines, registered %lld",
			   fd, fi->nlines, fi->registered);
		ok = false;
	}
	if (fi->ready < 0 || fi->ready > fi->registered) {
		kt_fail_at(file, line, "queue %d: ready %lld, registered %lld",
			   fd, fi->ready, fi->registered);
		ok = false;
	}
	return ok;
}

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

static inline bool kst_guard_start(struct kst_guard *g, const char *path)
{
	int p[2];

	g->path = path;
	g->pid = -1;
	g->wfd = -1;
	g->old = kt_sysctl_read(path);
	if (g->old < 0)
		return false;
	if (pipe2(p, O_CLOEXEC))
		return false;
	g->pid = fork();
	if (g->pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (g->pid == 0) {
		char c;
		int r = p[0];

		if (r != 3) {
			dup2(r, 3);
			r = 3;
		}
		syscall(SYS_close_range, 4U, ~0U, 0U);
		close(0);
		setsid();
		while (read(r, &c, 1) < 0 && errno == EINTR)
			;
		kt_sysctl_write(path, g->old);
		_exit(0);
	}
	close(p[0]);
	g->wfd = p[1];
	return true;
}

/* Write the saved value back now and retire the helper. */
static inline void kst_guard_end(struct kst_guard *g)
{
	if (g->pid <= 0)
		return;
	kt_sysctl_write(g->path, g->old);
	close(g->wfd);
	waitpid(g->pid, NULL, 0);
	g->pid = -1;
}

/* ---- per-user room probe ---------------------------------------------- */

/*
 * How many USER kevents the calling user can still register while
 * max_user_kevents is `limit` (the sysctl must already be set to it by the
 * caller): fills a fresh queue until ADD reports BROKEN/ENOSPC, checks that
 * every failure is ENOSPC, closes the queue. Returns the room, or -1 on an
 * unexpected result (reported at the caller's line).
 */
#define kst_user_room(limit) kst_user_room_at(__FILE__, __LINE__, limit)
static inline long kst_user_room_at(const char *file, int line, long limit)
{
	static __thread struct ukevent arr[256];
	long room = 0;
	int fd = kevent_init(NULL, 0, 0);
	bool full = false;

	if (fd < 0) {
		kt_fail_at(file, line, "room probe: kevent_init: %s", strerror(errno));
		return -1;
	}
	while (!full && room <= limit) {
		int r;

		for (int i = 0; i < 256; i++) {
			arr[i] = ukevent_user(0x5ca1ab1e00000000ULL + room + i, 7);
		}
		r = kevent_ctl(fd, KEVENT_CTL_ADD, 256, arr);
		if (r < 0) {
			kt_fail_at(file, line, "room probe: ADD: %s", strerror(errno));
			close(fd);
			return -1;
		}
		for (int i = 0; i < r; i++) {
			if (arr[i].ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) ||
			    arr[i].ret_data[0] != ENOSPC) {
				kt_fail_at(file, line,
					   "room probe: entry flags %#x data %u, expected BROKEN/ENOSPC",
					   arr[i].ret_flags, arr[i].ret_data[0]);
				close(fd);
				return -1;
			}
		}
		room += 256 - r;
		full = r > 0;
	}
	if (kevent_fdinfo(fd, KFD_REGISTERED) != room) {
		kt_fail_at(file, line, "room probe: registered %lld, counted %ld",
			   kevent_fdinfo(fd, KFD_REGISTERED), room);
		room = -1;
	}
	close(fd);
	return room;
}

/*
 * Lower max_user_kevents to `limit` under a guard, measure the room, put it
 * back. Returns the room, -1 on failure, -2 if the sysctl is not writable
 * (not root).
 */
#define kst_probe_room(limit) kst_probe_room_at(__FILE__, __LINE__, limit)
static inline long kst_probe_room_at(const char *file, int line, long limit)
{
	struct kst_guard g;
	long room;

	if (geteuid() != 0)
		return -2;
	if (!kst_guard_start(&g, KT_MAX_USER_PATH)) {
		kt_fail_at(file, line, "cannot guard %s: %s", KT_MAX_USER_PATH, strerror(errno));
		return -1;
	}
	if (kt_sysctl_write(KT_MAX_USER_PATH, limit)) {
		kt_fail_at(file, line, "cannot write %s: %s", KT_MAX_USER_PATH, strerror(errno));
		kst_guard_end(&g);
		return -1;
	}
	room = kst_user_room_at(file, line, limit);
	kst_guard_end(&g);
	return room;
}

/* ---- another uid ------------------------------------------------------ */

/*
 * End a forked child: 0 if it added no failure to the count it inherited
 * (base, read before the fork), 1 otherwise.
 */
static inline _Noreturn void kst_child_exit(int base)
{
	fflush(NULL);
	_exit(kt_failed() > base ? 1 : 0);
}

/* Become uid/gid for good (in a forked child). */
static inline bool kst_become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return false;
	return getuid() == uid && geteuid() == uid;
}

/*
 * Start fn(arg) in a forked child running as uid (made dumpable again, so
 * that /proc access between processes depends on the uid only). The child
 * reports its own failures and exits 0 if it passed. Returns the pid, or -1.
 */
#define kst_spawn_as(uid, fn, arg) kst_spawn_as_at(__FILE__, __LINE__, uid, fn, arg)
static inline pid_t kst_spawn_as_at(const char *file, int line, uid_t uid,
				    void (*fn)(void *), void *arg)
{
	int base = kt_failed();
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		kt_fail_at(file, line, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (!kst_become(uid)) {
			kt_fail_at(file, line, "cannot become uid %u: %s", (unsigned)uid,
				   strerror(errno));
			kt_end_test();
		}
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		fn(arg);
		kst_child_exit(base);
	}
	return pid;
}

/* Reap a child started by kst_spawn_as(); true if it exited 0. */
#define kst_wait_ok(pid, what) kst_wait_ok_at(__FILE__, __LINE__, pid, what)
static inline bool kst_wait_ok_at(const char *file, int line, pid_t pid,
				  const char *what)
{
	int status;

	if (pid <= 0)
		return false;
	while (waitpid(pid, &status, 0) != pid) {
		if (errno != EINTR) {
			kt_fail_at(file, line, "waitpid %s: %s", what, strerror(errno));
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		kt_fail_at(file, line, "%s failed (status %#x)", what, status);
		return false;
	}
	return true;
}

/* Run fn(arg) as uid in a child and wait for it; true if it passed. */
#define kst_run_as(uid, fn, arg)					\
	kst_wait_ok_at(__FILE__, __LINE__,				\
		       kst_spawn_as_at(__FILE__, __LINE__, uid, fn, arg), \
		       "child as uid " #uid)

/* ---- one-byte pipe signals between processes ---------------------------- */

struct kst_chan {
	int rd, wr;
};

static inline bool kst_chan_open(struct kst_chan *c)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return false;
	c->rd = p[0];
	c->wr = p[1];
	return true;
}

static inline void kst_chan_post(struct kst_chan *c, char v)
{
	while (write(c->wr, &v, 1) < 0 && errno == EINTR)
		;
}

/* Wait up to timeout_ms for one byte; returns it, or -1 (timeout/EOF). */
static inline int kst_chan_wait(struct kst_chan *c, long timeout_ms)
{
	struct pollfd pfd = { .fd = c->rd, .events = POLLIN };
	unsigned char v;
	int r;

	do
		r = poll(&pfd, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || read(c->rd, &v, 1) != 1)
		return -1;
	return v;
}

#endif /* KLAB_KEVENT_STRESS_UTIL_H */
