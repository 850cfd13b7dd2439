// SPDX-License-Identifier: GPL-2.0
/*
 * kbench - the kevent lab's event-notification benchmark (make bench).
 *
 * One static guest program that measures, in one boot and interleaved per
 * repetition (every API is measured once per repetition before the next
 * repetition starts, so all of them see the same machine):
 *
 *  readiness     N watched fds (pipes, eventfds, UNIX and TCP loopback
 *                sockets), A of them made readable per round; ns per
 *                delivered event of poll(2), epoll LT/ET, io_uring multishot
 *                poll, kevent_get_events() LT/ET/LAST_CHECK and the kevent
 *                ring (kevent_wait() + kevent_commit()) LT/ET;
 *  registration  64 fds: one batched kevent_ctl() vs 64 epoll_ctl() vs 64
 *                io_uring POLL_ADD SQEs in one io_uring_enter();
 *                and the same ADDs from 1 and 2 threads on their own queues;
 *  herd          T threads, each with its own queue on one eventfd:
 *                wake-ups and empty returns per event, kevent WAKEUP_ONE
 *                (level and ET) vs EPOLLEXCLUSIVE (and both without); and
 *                T threads on one queue with a WAKEUP_ONE USER or TIMER;
 *  writer        the producer side: ns per eventfd write with no watcher,
 *                an epoll LT/ET item, a kevent POLL LT/ET, an io_uring poll;
 *  timers        1,000 periodic kevent TIMERs vs 1,000 timerfds in epoll:
 *                consumer CPU time per expiry; also 1,000 undelivered periodic timers: timer interrupts
 *                and armed timers after a window; the kernel log is
 *                scanned for "hrtimer: interrupt took".
 *
 * Every run also checks exactly-once delivery for every API: an event that
 * never came (lost), came twice (dup), or came with nothing to read (empty)
 * is counted, and the program exits 1 if any count is non-zero: a fast wrong
 * answer must not win. Timings are printed, never asserted.
 *
 * io_uring is driven through its raw system calls (<linux/io_uring.h> of
 * the libc headers), no liburing. The file is also the guest suite
 * tests/suites/kevent_bench/ (compiled with KBENCH_SUITE defined), which
 * runs the quick configuration and checks only the exactly-once counters.
 *
 * Usage: kbench [options]  (kbench -h)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/io_uring.h>

#include "kevent_syscall.h"
#ifdef KBENCH_SUITE
#include "ktest.h"
#endif

/* ---- configuration ---------------------------------------------------- */

#define MAX_GRID 16
#define MAX_BATCH 256		/* events fetched per call */
#define RING_SIZE 1024		/* kevent ring entries (> largest A) */
#define REG_FDS 64
#define MAX_THREADS 32
#define WAIT_MS 3000		/* a wait that long without the event: lost */

enum src { SRC_PIPE, SRC_EVENTFD, SRC_UNIX, SRC_TCP, NSRC };
static const char *const src_name[NSRC] = { "pipe", "eventfd", "unix", "tcp" };

enum api {
	API_POLL, API_EPOLL_LT, API_EPOLL_ET, API_URING,
	API_KEV_LT, API_KEV_ET, API_KEV_LC, API_RING_LT, API_RING_ET, NAPI
};
static const char *const api_name[NAPI] = {
	"poll", "epoll-lt", "epoll-et", "io_uring",
	"kevent-lt", "kevent-et", "kevent-lc", "ring-lt", "ring-et",
};

struct config {
	unsigned int reps;
	unsigned int n[MAX_GRID], nn;
	unsigned int a[MAX_GRID], na;
	unsigned int src_mask, api_mask;
	unsigned int round_ms;		/* time budget of one measurement */
	unsigned int min_rounds, max_rounds;
	unsigned int reg_iters;
	unsigned int herd_threads, herd_events, herd_timer_ms;
	unsigned int timers, timer_period_ms, timer_ms;
	unsigned int idle_period_us, idle_ms;	/* undelivered timers window */
	unsigned int writer_fds, reg_threads;
	bool readiness, registration, herd, timer, writer;
	bool quiet;
	bool inject;		/* self-test: one unasked-for event per API */
	const char *json, *accel;
};

static struct config cfg;

static void config_full(struct config *c)
{
	static const unsigned int n[] = { 10, 100, 1000, 10000 };
	static const unsigned int a[] = { 1, 10, 100 };

	memset(c, 0, sizeof(*c));
	c->reps = 5;
	memcpy(c->n, n, sizeof(n));
	c->nn = 4;
	memcpy(c->a, a, sizeof(a));
	c->na = 3;
	c->src_mask = (1u << NSRC) - 1;
	c->api_mask = (1u << NAPI) - 1;
	c->round_ms = 60;
	c->min_rounds = 3;
	c->max_rounds = 2000;
	c->reg_iters = 50;
	c->herd_threads = 4;
	c->herd_events = 50;
	c->herd_timer_ms = 20;
	c->timers = 1000;
	c->timer_period_ms = 100;
	c->timer_ms = 1500;
	c->idle_period_us = 1000;
	c->idle_ms = 1000;
	c->writer_fds = 100;
	c->reg_threads = 2;
	c->readiness = c->registration = c->herd = c->timer = c->writer = true;
	c->accel = "unknown";
}

static void config_quick(struct config *c)
{
	static const unsigned int n[] = { 10, 100 };
	static const unsigned int a[] = { 1, 10 };

	config_full(c);
	c->reps = 1;
	memcpy(c->n, n, sizeof(n));
	c->nn = 2;
	memcpy(c->a, a, sizeof(a));
	c->na = 2;
	c->round_ms = 5;
	c->min_rounds = 3;
	c->max_rounds = 50;
	c->reg_iters = 3;
	c->herd_events = 8;
	c->timers = 1000;
	c->timer_ms = 400;
	c->idle_ms = 200;
}

/* ---- exactly-once counters -------------------------------------------- */

struct check {
	unsigned long long events, lost, dup, empty;
};

enum part { PART_READY, PART_WRITER, PART_REG, PART_HERD, PART_TIMER, NPART };
static const char *const part_name[NPART] = { "readiness", "writer", "registration", "herd", "timers" };
/* Indexed by part and API slot (the part's own list of names). */
static struct check checks[NPART][NAPI];

/* The last two register from cfg.reg_threads threads, each on its own queue. */
static const char *const reg_api[] = { "epoll_ctl", "kevent_ctl", "io_uring", "epoll_ctl-threads",
				       "kevent_ctl-threads" };
/*
 * The first four watch one eventfd from a queue per thread; the USER and
 * TIMER kevents live in one queue shared by the threads.
 */
enum herd_kind { H_EPOLL, H_EPOLL_EXCL, H_KEV, H_KEV_ONE, H_KEV_ONE_ET, H_USER_ONE, H_TIMER_ONE, NHERD };
static const char *const herd_api[NHERD] = { "epoll", "epoll-exclusive", "kevent", "kevent-wakeone",
					     "kevent-wakeone-et", "user-wakeone", "timer-wakeone" };
/* The last two: 1,000 periodic timers nobody reads during a window. */
static const char *const timer_api[] = { "timerfd+epoll", "kevent-timer", "timerfd-unread",
					 "kevent-timer-undelivered" };
/*
 * The writer side reuses the readiness machinery (slots of enum api): poll(2)
 * hooks no wait queue between its calls, so its writes are the bare write.
 */
static const char *const writer_api[NAPI] = { "no-watcher", "epoll-lt", "epoll-et", "io_uring",
					      "kevent-lt", "kevent-et", "kevent-lc", "ring-lt", "ring-et" };
#define WRITER_APIS ((1u << API_POLL) | (1u << API_EPOLL_LT) | (1u << API_EPOLL_ET) | \
		     (1u << API_URING) | (1u << API_KEV_LT) | (1u << API_KEV_ET))

static unsigned long long check_bad(const struct check *c)
{
	return c->lost + c->dup + c->empty;
}

/* ---- small helpers ----------------------------------------------------- */

static FILE *json;
static bool json_first;
static char fail_msg[256];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	if (cfg.quiet)
		return;
	va_start(ap, fmt);
	fputs("kbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A setup step that must not fail: the run stops, reported as a failure. */
static void die(const char *what)
{
	snprintf(fail_msg, sizeof(fail_msg), "%s: %s", what, strerror(errno));
#ifdef KBENCH_SUITE
	kt_fail_at(__FILE__, __LINE__, "%s", fail_msg);
	kt_end_test();
#else
	fprintf(stderr, "kbench: error: %s\n", fail_msg);
	exit(1);
#endif
}

static void json_rec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void json_rec(const char *fmt, ...)
{
	va_list ap;

	if (!json)
		return;
	fputs(json_first ? "\n  " : ",\n  ", json);
	json_first = false;
	va_start(ap, fmt);
	vfprintf(json, fmt, ap);
	va_end(ap);
}

/*
 * A marker in the kernel log before each part (and sub-part: detail, may be
 * NULL), so that a kernel message is blamed on what ran when it came. One
 * write(2) of the whole line: glibc's dprintf() first seeks the fd with
 * SEEK_CUR, which /dev/kmsg refuses (EINVAL), and then writes nothing.
 */
static void kmsg_marker(const char *part, const char *detail)
{
	char line[160];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC), len;

	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "<5>klab: test kevent_bench.%s%s%s\n", part,
		       detail ? "." : "", detail ? detail : "");
	if (len > 0 && write(fd, line, (size_t)len) != len)
		progress("kernel log marker not written: %s", strerror(errno));
	close(fd);
}

static uint64_t prng_state;

static uint64_t prng(void)
{
	uint64_t x = prng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	prng_state = x;
	return x;
}

static void raise_nofile(void)
{
	struct rlimit rl = { 1 << 17, 1 << 17 };

	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static double getpid_ns(void)
{
	unsigned int i, n = 20000;
	long long t0 = now_ns();

	for (i = 0; i < n; i++)
		syscall(SYS_getpid);
	return (double)(now_ns() - t0) / n;
}

/* ---- io_uring through raw system calls --------------------------------- */

struct uring {
	int fd;
	unsigned int setup_flags;
	unsigned int *sq_head, *sq_tail, *sq_mask, *sq_array, sq_entries;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_ptr, *cq_ptr;
	size_t sq_sz, cq_sz, sqes_sz;
	unsigned int to_submit;
};

static const char *uring_mode = "none";

static int uring_init(struct uring *u, unsigned int entries, unsigned int cq_entries)
{
	struct io_uring_params p;
	unsigned int tries[] = {
		IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_CQSIZE,
	};
	unsigned int t;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	for (t = 0; t < 2 && u->fd < 0; t++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[t];
		p.cq_entries = cq_entries;
		u->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
		u->setup_flags = p.flags;
	}
	if (u->fd < 0)
		return -1;
	uring_mode = (u->setup_flags & IORING_SETUP_DEFER_TASKRUN) ?
		"multishot poll, DEFER_TASKRUN|SINGLE_ISSUER" : "multishot poll";
	u->sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	u->cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_sz > u->sq_sz)
			u->sq_sz = u->cq_sz;
		u->cq_sz = u->sq_sz;
	}
	u->sq_ptr = mmap(NULL, u->sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 u->fd, IORING_OFF_SQ_RING);
	if (u->sq_ptr == MAP_FAILED)
		return -1;
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		u->cq_ptr = u->sq_ptr;
	} else {
		u->cq_ptr = mmap(NULL, u->cq_sz, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
		if (u->cq_ptr == MAP_FAILED)
			return -1;
	}
	u->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return -1;
	u->sq_head = (unsigned int *)((char *)u->sq_ptr + p.sq_off.head);
	u->sq_tail = (unsigned int *)((char *)u->sq_ptr + p.sq_off.tail);
	u->sq_mask = (unsigned int *)((char *)u->sq_ptr + p.sq_off.ring_mask);
	u->sq_array = (unsigned int *)((char *)u->sq_ptr + p.sq_off.array);
	u->sq_entries = p.sq_entries;
	u->cq_head = (unsigned int *)((char *)u->cq_ptr + p.cq_off.head);
	u->cq_tail = (unsigned int *)((char *)u->cq_ptr + p.cq_off.tail);
	u->cq_mask = (unsigned int *)((char *)u->cq_ptr + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_ptr + p.cq_off.cqes);
	return 0;
}

static void uring_exit(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_sz);
	if (u->cq_ptr && u->cq_ptr != MAP_FAILED && u->cq_ptr != u->sq_ptr)
		munmap(u->cq_ptr, u->cq_sz);
	if (u->sq_ptr && u->sq_ptr != MAP_FAILED)
		munmap(u->sq_ptr, u->sq_sz);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/*
 * io_uring_enter: submit what is queued, wait for wait_nr completions (at
 * most timeout_ms; -1 forever). Always GETEVENTS, so DEFER_TASKRUN's
 * task work runs. Returns the syscall's result (-1, errno ETIME on timeout).
 */
static int uring_enter(struct uring *u, unsigned int wait_nr, int timeout_ms)
{
	struct __kernel_timespec ts = kevent_ts_ms(timeout_ms < 0 ? 0 : timeout_ms);
	struct io_uring_getevents_arg arg = {
		.sigmask = 0, .sigmask_sz = _NSIG / 8,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned int flags = IORING_ENTER_GETEVENTS;
	int ret;

	if (timeout_ms >= 0)
		flags |= IORING_ENTER_EXT_ARG;
	ret = (int)syscall(__NR_io_uring_enter, u->fd, u->to_submit, wait_nr, flags,
			   timeout_ms >= 0 ? (void *)&arg : NULL,
			   timeout_ms >= 0 ? sizeof(arg) : (size_t)(_NSIG / 8));
	if (ret >= 0)
		u->to_submit = 0;
	return ret;
}

static struct io_uring_sqe *uring_sqe(struct uring *u)
{
	unsigned int tail = *u->sq_tail, head;
	struct io_uring_sqe *sqe;

	head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
	if (tail - head >= u->sq_entries) {
		if (uring_enter(u, 0, 0) < 0 && errno != ETIME)
			die("io_uring_enter (submit)");
		head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
		if (tail - head >= u->sq_entries)
			die("io_uring SQ full");
	}
	sqe = &u->sqes[tail & *u->sq_mask];
	memset(sqe, 0, sizeof(*sqe));
	u->sq_array[tail & *u->sq_mask] = tail & *u->sq_mask;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	u->to_submit++;
	return sqe;
}

static void uring_poll_add(struct uring *u, int fd, uint64_t data)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->len = IORING_POLL_ADD_MULTI;
	sqe->user_data = data;
}

static void uring_poll_remove(struct uring *u, uint64_t data, uint64_t tag)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	sqe->opcode = IORING_OP_POLL_REMOVE;
	sqe->fd = -1;
	sqe->addr = data;
	sqe->user_data = tag;
}

/* Call fn for each completion; returns how many. */
static unsigned int uring_reap(struct uring *u, void (*fn)(void *, const struct io_uring_cqe *),
			       void *ctx)
{
	unsigned int head = *u->cq_head, tail, n = 0;

	tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
	while (head != tail) {
		fn(ctx, &u->cqes[head & *u->cq_mask]);
		head++;
		n++;
	}
	__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
	return n;
}

/* ---- event sources ----------------------------------------------------- */

struct fdset {
	enum src src;
	unsigned int n;
	int *rfd, *wfd;		/* watched, written (same fd for eventfd) */
};

static int tcp_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)addr, sizeof(*addr)) || listen(l, 4096) ||
	    getsockname(l, (struct sockaddr *)addr, &len))
		die("tcp listen on loopback");
	return l;
}

static void fdset_open(struct fdset *s, enum src src, unsigned int n)
{
	struct sockaddr_in addr;
	unsigned int i;
	int l = -1, one = 1, p[2];

	s->src = src;
	s->n = n;
	s->rfd = calloc(n, sizeof(int));
	s->wfd = calloc(n, sizeof(int));
	if (!s->rfd || !s->wfd)
		die("calloc");
	if (src == SRC_TCP)
		l = tcp_listener(&addr);
	for (i = 0; i < n; i++) {
		switch (src) {
		case SRC_PIPE:
			if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
				die("pipe2");
			s->rfd[i] = p[0];
			s->wfd[i] = p[1];
			break;
		case SRC_EVENTFD:
			s->rfd[i] = s->wfd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (s->rfd[i] < 0)
				die("eventfd");
			break;
		case SRC_UNIX:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p))
				die("socketpair");
			s->rfd[i] = p[0];
			s->wfd[i] = p[1];
			break;
		case SRC_TCP:
			s->wfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s->wfd[i] < 0)
				die("socket");
			if (connect(s->wfd[i], (struct sockaddr *)&addr, sizeof(addr)))
				die("connect to loopback");
			s->rfd[i] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (s->rfd[i] < 0)
				die("accept4");
			setsockopt(s->wfd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		default:
			break;
		}
	}
	if (l >= 0)
		close(l);
}

static void fdset_close(struct fdset *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		if (s->wfd[i] != s->rfd[i])
			close(s->wfd[i]);
		close(s->rfd[i]);
	}
	free(s->rfd);
	free(s->wfd);
	memset(s, 0, sizeof(*s));
}

static void fd_activate(const struct fdset *s, unsigned int i)
{
	uint64_t one = 1;
	ssize_t r;

	if (s->src == SRC_EVENTFD)
		r = write(s->wfd[i], &one, sizeof(one));
	else
		r = write(s->wfd[i], "x", 1);
	if (r <= 0)
		die("write to activate an fd");
}

/* Consume what fd i holds: true if there was something to read. */
static bool fd_consume(const struct fdset *s, unsigned int i)
{
	char buf[64];
	ssize_t r = read(s->rfd[i], buf, sizeof(buf));

	if (r > 0)
		return true;
	if (r < 0 && errno != EAGAIN)
		die("read of an active fd");
	return false;
}

/* ---- readiness --------------------------------------------------------- */

struct rd {
	enum api api;
	struct fdset *s;
	unsigned int a;
	uint32_t round;		/* tag of the current round, never 0 */
	uint32_t *expect, *seen;
	unsigned int got;	/* expected events seen this round */
	unsigned long long calls;
	struct check *chk;
	/* per-API state */
	int qfd;
	struct pollfd *pfd;
	struct uring u;
	struct kevent_ring *ring;
	unsigned int ridx;
};

/* One reported event for fd index i: classify it, consume the fd. */
static void rd_event(struct rd *r, uint64_t i)
{
	if (i >= r->s->n) {
		r->chk->dup++;
		return;
	}
	if (r->seen[i] == r->round) {
		/* reported twice in one round; consume whatever is there */
		fd_consume(r->s, i);
		r->chk->dup++;
		return;
	}
	if (!fd_consume(r->s, i)) {
		r->chk->empty++;
		return;
	}
	if (r->expect[i] != r->round) {
		r->chk->dup++;	/* data nobody wrote this round */
		return;
	}
	r->seen[i] = r->round;
	r->got++;
	r->chk->events++;
}

static void rd_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	struct rd *r = ctx;

	if (cqe->res < 0) {
		r->chk->lost++;	/* the multishot poll ended with an error */
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && cqe->user_data < r->s->n)
		uring_poll_add(&r->u, r->s->rfd[cqe->user_data], cqe->user_data);
	rd_event(r, cqe->user_data);
}

static void kev_add_all(struct rd *r, int kfd, uint32_t flags)
{
	struct ukevent *uk = calloc(KEVENT_MAX_BATCH, sizeof(*uk));
	unsigned int i = 0, k;

	if (!uk)
		die("calloc");
	while (i < r->s->n) {
		for (k = 0; k < KEVENT_MAX_BATCH && i < r->s->n; k++, i++) {
			uk[k] = ukevent_poll(r->s->rfd[i], POLLIN, flags);
			uk[k].user_u64 = i;
		}
		if (kevent_ctl(kfd, KEVENT_CTL_ADD, k, uk) != 0)
			die("kevent_ctl ADD (POLL)");
	}
	free(uk);
}

static void rd_setup(struct rd *r)
{
	unsigned int i, n = r->s->n;
	int et;

	switch (r->api) {
	case API_POLL:
		r->pfd = calloc(n, sizeof(*r->pfd));
		if (!r->pfd)
			die("calloc");
		for (i = 0; i < n; i++) {
			r->pfd[i].fd = r->s->rfd[i];
			r->pfd[i].events = POLLIN;
		}
		break;
	case API_EPOLL_LT:
	case API_EPOLL_ET:
		et = r->api == API_EPOLL_ET ? EPOLLET : 0;
		r->qfd = epoll_create1(EPOLL_CLOEXEC);
		if (r->qfd < 0)
			die("epoll_create1");
		for (i = 0; i < n; i++) {
			struct epoll_event e = { .events = EPOLLIN | et, .data.u64 = i };

			if (epoll_ctl(r->qfd, EPOLL_CTL_ADD, r->s->rfd[i], &e))
				die("epoll_ctl ADD");
		}
		break;
	case API_URING:
		if (uring_init(&r->u, 256, n * 2 < 4096 ? 4096 : n * 2))
			die("io_uring_setup");
		for (i = 0; i < n; i++)
			uring_poll_add(&r->u, r->s->rfd[i], i);
		if (uring_enter(&r->u, 0, 0) < 0 && errno != ETIME)
			die("io_uring_enter (arm)");
		uring_reap(&r->u, rd_cqe, r);
		break;
	case API_KEV_LT:
	case API_KEV_ET:
	case API_KEV_LC:
		r->qfd = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
		if (r->qfd < 0)
			die("kevent_init");
		kev_add_all(r, r->qfd, r->api == API_KEV_ET ? KEVENT_REQ_ET :
			    r->api == API_KEV_LC ? KEVENT_REQ_LAST_CHECK : 0);
		break;
	case API_RING_LT:
	case API_RING_ET:
		r->ring = kevent_ring_alloc(RING_SIZE);
		if (!r->ring)
			die("ring mmap");
		r->qfd = kevent_init(r->ring, RING_SIZE, KEVENT_INIT_CLOEXEC);
		if (r->qfd < 0)
			die("kevent_init (ring)");
		r->ridx = 0;
		kev_add_all(r, r->qfd, r->api == API_RING_ET ? KEVENT_REQ_ET : 0);
		break;
	default:
		break;
	}
}

static void rd_teardown(struct rd *r)
{
	free(r->pfd);
	r->pfd = NULL;
	if (r->api == API_URING)
		uring_exit(&r->u);
	else if (r->qfd > 0)
		close(r->qfd);
	r->qfd = -1;
	if (r->ring)
		kevent_ring_free(r->ring, RING_SIZE);
	r->ring = NULL;
}

/*
 * One call of the API; timeout_ms 0 polls, else waits at most that long.
 * Every reported event goes through rd_event(). Returns events reported.
 */
static int rd_call(struct rd *r, int timeout_ms)
{
	struct epoll_event ev[MAX_BATCH];
	struct ukevent buf[MAX_BATCH];
	struct __kernel_timespec ts = kevent_ts_ms(timeout_ms);
	unsigned int i, n = r->s->n, before;
	int got;

	r->calls++;
	switch (r->api) {
	case API_POLL:
		got = poll(r->pfd, n, timeout_ms);
		if (got < 0)
			die("poll");
		for (i = 0; i < n && got > 0; i++)
			if (r->pfd[i].revents)
				rd_event(r, i);
		return got;
	case API_EPOLL_LT:
	case API_EPOLL_ET:
		got = epoll_wait(r->qfd, ev, MAX_BATCH, timeout_ms);
		if (got < 0)
			die("epoll_wait");
		for (i = 0; i < (unsigned int)got; i++)
			rd_event(r, ev[i].data.u64);
		return got;
	case API_URING:
		got = (int)uring_reap(&r->u, rd_cqe, r);
		if (got)
			return got;
		if (uring_enter(&r->u, timeout_ms ? 1 : 0, timeout_ms) < 0 &&
		    errno != ETIME && errno != EINTR)
			die("io_uring_enter");
		return (int)uring_reap(&r->u, rd_cqe, r);
	case API_KEV_LT:
	case API_KEV_ET:
	case API_KEV_LC:
		got = kevent_get_events(r->qfd, timeout_ms ? 1 : 0, MAX_BATCH, &ts, buf, 0);
		if (got < 0)
			die("kevent_get_events");
		for (i = 0; i < (unsigned int)got; i++)
			rd_event(r, buf[i].user_u64);
		return got;
	case API_RING_LT:
	case API_RING_ET:
		got = kevent_wait(r->qfd, MAX_BATCH, r->ridx, &ts, 0);
		if (got < 0)
			die("kevent_wait");
		before = r->ridx;
		for (i = 0; i < (unsigned int)got; i++)
			rd_event(r, r->ring->event[(before + i) % RING_SIZE].user_u64);
		if (got > 0) {
			r->ridx = kevent_ring_kidx(r->ring);
			if (kevent_commit(r->qfd, r->ridx, kevent_ring_over(r->ring)) != got)
				die("kevent_commit");
		}
		return got;
	default:
		return 0;
	}
}

struct rd_result {
	double ns_per_event, calls_per_event;
	unsigned long long rounds, events;
};

/*
 * Measure one API on one fd set: register (untimed), rounds of "make A
 * random fds readable, harvest them", a final check that nothing more is
 * reported, teardown (untimed). The readiness part (PART_READY) times the
 * harvest. The writer part (PART_WRITER) times the writes instead: what the
 * producer pays for the watcher's wake-up callback; the harvest and one more
 * non-blocking call, which drops the level re-checks epoll and kevent keep
 * queued after a delivery, run untimed so that every round's writes find
 * the watchers waiting, as the first write did.
 */
static struct rd_result rd_measure(enum part part, enum api api, struct fdset *s, unsigned int a,
				   uint64_t seed, uint32_t *expect, uint32_t *seen,
				   unsigned int *perm)
{
	struct rd r = { .api = api, .s = s, .a = a, .expect = expect, .seen = seen,
			.chk = &checks[part][api], .qfd = -1 };
	struct rd_result res = { 0 };
	long long budget = (long long)cfg.round_ms * 1000000LL, spent = 0;
	unsigned long long calls = 0;
	unsigned int i, round;
	bool writes = part == PART_WRITER;

	memset(expect, 0, s->n * sizeof(*expect));
	memset(seen, 0, s->n * sizeof(*seen));
	for (i = 0; i < s->n; i++)
		perm[i] = i;
	prng_state = seed;
	rd_setup(&r);
	for (round = 0; round < cfg.max_rounds &&
	     (round < cfg.min_rounds || spent < budget); round++) {
		long long t0;

		r.round = round + 1;
		r.got = 0;
		for (i = 0; i < a; i++) {	/* a random A-subset, same for all APIs */
			unsigned int j = i + (unsigned int)(prng() % (s->n - i)), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
			expect[perm[i]] = r.round;
		}
		t0 = now_ns();
		for (i = 0; i < a; i++)
			fd_activate(s, perm[i]);
		if (writes)
			spent += now_ns() - t0;
		if (cfg.inject && round == 0 && a < s->n) {
			/*
			 * Self-test of the counters (-X): one more fd made
			 * readable that no round expects. Whenever it is
			 * reported, it must count as exactly one dup.
			 */
			expect[perm[a]] = UINT32_MAX;
			fd_activate(s, perm[a]);
		}
		calls = r.calls;
		t0 = now_ns();
		while (r.got < a) {
			if (rd_call(&r, WAIT_MS) == 0 && r.got < a) {
				r.chk->lost += a - r.got;
				break;
			}
		}
		if (!writes)
			spent += now_ns() - t0;
		else
			while (rd_call(&r, 0) > 0)
				;	/* anything here is a dup of this round */
		res.rounds++;
		res.events += a;
		res.calls_per_event += (double)(r.calls - calls);
	}
	/* Nothing may be left: a level re-check drops, an edge has no new event. */
	r.round++;
	while (rd_call(&r, 0) > 0)
		;
	rd_teardown(&r);
	res.ns_per_event = (double)spent / (double)res.events;
	res.calls_per_event /= (double)res.events;
	return res;
}

static void bench_readiness(unsigned int rep, double gp)
{
	unsigned int si, ni, ai, k;
	uint32_t *expect, *seen;
	unsigned int *perm, maxn = 0;

	for (ni = 0; ni < cfg.nn; ni++)
		if (cfg.n[ni] > maxn)
			maxn = cfg.n[ni];
	expect = calloc(maxn, sizeof(*expect));
	seen = calloc(maxn, sizeof(*seen));
	perm = calloc(maxn, sizeof(*perm));
	if (!expect || !seen || !perm)
		die("calloc");
	for (si = 0; si < NSRC; si++) {
		if (!(cfg.src_mask & (1u << si)))
			continue;
		for (ni = 0; ni < cfg.nn; ni++) {
			struct fdset s;
			unsigned int n = cfg.n[ni];
			long long t0 = now_ns();

			fdset_open(&s, si, n);
			for (ai = 0; ai < cfg.na; ai++) {
				unsigned int a = cfg.a[ai];
				uint64_t seed = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)rep << 40) ^
						((uint64_t)n << 16) ^ a;
				char line[512];
				int len = 0;

				if (a > n)
					continue;
				len += snprintf(line + len, sizeof(line) - len,
						"rep %u/%u readiness %-7s N=%-5u A=%-3u", rep + 1,
						cfg.reps, src_name[si], n, a);
				/* Rotate the API order per repetition: none is always first. */
				for (k = 0; k < NAPI; k++) {
					enum api api = (k + rep) % NAPI;
					struct rd_result res;

					if (!(cfg.api_mask & (1u << api)))
						continue;
					res = rd_measure(PART_READY, api, &s, a, seed, expect, seen, perm);
					json_rec("{\"kind\":\"readiness\",\"rep\":%u,\"source\":\"%s\",\"n\":%u,\"a\":%u,\"api\":\"%s\",\"rounds\":%llu,\"events\":%llu,\"ns_per_event\":%.1f,\"calls_per_event\":%.3f,\"getpid_ns\":%.1f}",
						 rep, src_name[si], n, a, api_name[api], res.rounds,
						 res.events, res.ns_per_event, res.calls_per_event, gp);
					if (api == API_EPOLL_LT || api == API_KEV_LT || api == API_RING_LT)
						len += snprintf(line + len, sizeof(line) - len,
								" %s %.0f", api_name[api], res.ns_per_event);
				}
				progress("%s ns/ev", line);
			}
			fdset_close(&s);
			(void)t0;
		}
	}
	free(expect);
	free(seen);
	free(perm);
}

/* ---- writer side ------------------------------------------------------- */

/*
 * The producer's cost of a watcher: cfg.writer_fds eventfds, each watched
 * by one registration of the API (none for "no-watcher", the bare write),
 * all written once per round while nobody blocks in a wait; ns per write.
 * rd_measure() drains and checks every round untimed: each written fd must
 * be reported exactly once, so a callback that drops events cannot win.
 */
static void bench_writer(unsigned int rep, double gp)
{
	unsigned int n = cfg.writer_fds, k;
	uint32_t *expect = calloc(n, sizeof(*expect)), *seen = calloc(n, sizeof(*seen));
	unsigned int *perm = calloc(n, sizeof(*perm));
	uint64_t seed = 0x5851f42d4c957f2dULL ^ ((uint64_t)rep << 40) ^ n;
	char line[512];
	int len = 0;
	struct fdset s;

	if (!expect || !seen || !perm)
		die("calloc");
	fdset_open(&s, SRC_EVENTFD, n);
	/*
	 * One untimed pass first: the first writes of a boot pay for TCG's
	 * translation of the write path, which would land on whichever API
	 * the rotation puts first (its events are checked all the same).
	 */
	rd_measure(PART_WRITER, API_POLL, &s, n, seed, expect, seen, perm);
	len += snprintf(line, sizeof(line), "rep %u/%u writer eventfd N=%-5u", rep + 1, cfg.reps, n);
	for (k = 0; k < NAPI; k++) {
		enum api api = (k + rep) % NAPI;
		struct rd_result res;

		if (!(WRITER_APIS & (1u << api)))
			continue;
		res = rd_measure(PART_WRITER, api, &s, n, seed, expect, seen, perm);
		json_rec("{\"kind\":\"writer\",\"rep\":%u,\"source\":\"eventfd\",\"fds\":%u,\"api\":\"%s\",\"rounds\":%llu,\"ns_per_write\":%.1f,\"getpid_ns\":%.1f}",
			 rep, n, writer_api[api], res.rounds, res.ns_per_event, gp);
		len += snprintf(line + len, sizeof(line) - len, " %s %.0f", writer_api[api],
				res.ns_per_event);
	}
	progress("%s ns/write", line);
	fdset_close(&s);
	free(expect);
	free(seen);
	free(perm);
}

/* ---- registration ------------------------------------------------------ */

static void reg_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
	unsigned int *cnt = ctx;

	if (cqe->user_data >= (1ull << 32)) {
		if (cqe->res == 0)
			cnt[1]++;	/* POLL_REMOVE done */
	} else if (cqe->res == -ECANCELED) {
		cnt[0]++;		/* the poll it removed */
	} else {
		cnt[2]++;		/* anything else: an event nobody caused */
	}
}

/*
 * One registration round of api (0 epoll_ctl, 1 kevent_ctl, 2 io_uring on
 * the ring u): add the REG_FDS fds, remove them; *add and *del get the ns.
 * epoll and kevent use a fresh queue per round (as a new connection's
 * worker would); counts anything but "every ADD registered, every REMOVE
 * matched" in c.
 */
static void reg_once(unsigned int api, const int *efd, struct ukevent *uk, struct uring *u,
		     struct check *c, long long *add, long long *del)
{
	unsigned int i, cnt[3] = { 0 };
	long long t0, t1, t2;
	int q = -1, ret;

	if (api == 0) {
		q = epoll_create1(EPOLL_CLOEXEC);
		if (q < 0)
			die("epoll_create1");
		t0 = now_ns();
		for (i = 0; i < REG_FDS; i++) {
			struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };

			if (epoll_ctl(q, EPOLL_CTL_ADD, efd[i], &e))
				c->lost++;
		}
		t1 = now_ns();
		for (i = 0; i < REG_FDS; i++)
			if (epoll_ctl(q, EPOLL_CTL_DEL, efd[i], NULL))
				c->lost++;
		t2 = now_ns();
	} else if (api == 1) {
		q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
		if (q < 0)
			die("kevent_init");
		for (i = 0; i < REG_FDS; i++) {
			uk[i] = ukevent_poll(efd[i], POLLIN, 0);
			uk[i].user_u64 = i;
		}
		t0 = now_ns();
		ret = kevent_ctl(q, KEVENT_CTL_ADD, REG_FDS, uk);
		t1 = now_ns();
		if (ret != 0)	/* entries completed or broken at ADD */
			c->lost += ret < 0 ? REG_FDS : (unsigned int)ret;
		ret = kevent_ctl(q, KEVENT_CTL_REMOVE, REG_FDS, uk);
		t2 = now_ns();
		if (ret != REG_FDS)
			c->lost += ret < 0 ? REG_FDS : (unsigned int)(REG_FDS - ret);
	} else {
		t0 = now_ns();
		for (i = 0; i < REG_FDS; i++)
			uring_poll_add(u, efd[i], i);
		if (uring_enter(u, 0, 0) < 0 && errno != ETIME)
			die("io_uring_enter");
		t1 = now_ns();
		for (i = 0; i < REG_FDS; i++)
			uring_poll_remove(u, i, (1ull << 32) | i);
		if (uring_enter(u, 2 * REG_FDS, WAIT_MS) < 0 && errno != ETIME)
			die("io_uring_enter");
		uring_reap(u, reg_cqe, cnt);
		t2 = now_ns();
		if (cnt[0] != REG_FDS || cnt[1] != REG_FDS)
			c->lost += 2 * REG_FDS - cnt[0] - cnt[1];
		c->dup += cnt[2];
	}
	if (q >= 0)
		close(q);
	c->events += REG_FDS;
	*add = t1 - t0;
	*del = t2 - t1;
}

static void reg_open(int *efd)
{
	unsigned int i;

	for (i = 0; i < REG_FDS; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[i] < 0)
			die("eventfd");
	}
}

static void reg_close(const int *efd)
{
	unsigned int i;

	for (i = 0; i < REG_FDS; i++)
		close(efd[i]);
}

/* One thread of the scaling measurement: its own fds, its own queues. */
struct reg_thread {
	pthread_t th;
	pthread_barrier_t *start;
	unsigned int api;
	int efd[REG_FDS];
	struct ukevent uk[REG_FDS];
	struct check c;		/* summed into checks[] after the join */
	long long add;
};

static void *reg_thread_run(void *arg)
{
	struct reg_thread *t = arg;
	long long add, del;
	unsigned int it;

	pthread_barrier_wait(t->start);
	for (it = 0; it < cfg.reg_iters; it++) {
		reg_once(t->api, t->efd, t->uk, NULL, &t->c, &add, &del);
		t->add += add;
	}
	return NULL;
}

/*
 * ADDs from T threads at once, each on its own queue (epoll instance) with
 * its own fds, started together: ns per fd added, averaged over the
 * threads. Adds that serialize on one lock take T times as long per fd.
 */
static double reg_threads(unsigned int api, unsigned int nt)
{
	struct reg_thread *t = calloc(nt, sizeof(*t));
	struct check *c = &checks[PART_REG][3 + api];
	pthread_barrier_t start;
	long long add = 0;
	unsigned int i;

	if (!t || pthread_barrier_init(&start, NULL, nt))
		die("reg threads");
	for (i = 0; i < nt; i++) {
		t[i].start = &start;
		t[i].api = api;
		reg_open(t[i].efd);
	}
	for (i = 0; i < nt; i++)
		if (pthread_create(&t[i].th, NULL, reg_thread_run, &t[i]))
			die("pthread_create");
	for (i = 0; i < nt; i++) {
		pthread_join(t[i].th, NULL);
		reg_close(t[i].efd);
		add += t[i].add;
		c->events += t[i].c.events;
		c->lost += t[i].c.lost;
		c->dup += t[i].c.dup;
	}
	pthread_barrier_destroy(&start);
	free(t);
	return (double)add / ((double)nt * cfg.reg_iters * REG_FDS);
}

static void bench_registration(unsigned int rep, double gp)
{
	int efd[REG_FDS];
	struct ukevent uk[REG_FDS];
	double add[3] = { 0 }, del[3] = { 0 }, per_fd[2][2];
	struct uring u;
	unsigned int it, k, nt;

	reg_open(efd);
	if (uring_init(&u, 2 * REG_FDS, 4 * REG_FDS))
		die("io_uring_setup");
	for (it = 0; it < cfg.reg_iters; it++) {
		for (k = 0; k < 3; k++) {
			unsigned int api = (k + it + rep) % 3;
			long long a, d;

			reg_once(api, efd, uk, &u, &checks[PART_REG][api], &a, &d);
			add[api] += (double)a / REG_FDS;
			del[api] += (double)d / REG_FDS;
		}
	}
	for (k = 0; k < 3; k++)
		json_rec("{\"kind\":\"registration\",\"rep\":%u,\"api\":\"%s\",\"fds\":%u,\"iters\":%u,\"add_ns_per_fd\":%.1f,\"del_ns_per_fd\":%.1f,\"getpid_ns\":%.1f}",
			 rep, reg_api[k], REG_FDS, cfg.reg_iters, add[k] / cfg.reg_iters,
			 del[k] / cfg.reg_iters, gp);
	progress("rep %u/%u registration of %u fds, ns/fd add: epoll_ctl %.0f kevent_ctl %.0f io_uring %.0f",
		 rep + 1, cfg.reps, REG_FDS, add[0] / cfg.reg_iters, add[1] / cfg.reg_iters,
		 add[2] / cfg.reg_iters);
	uring_exit(&u);
	reg_close(efd);
	/* Scaling: 1 thread, then cfg.reg_threads at once, each API in turn. */
	for (nt = 0; nt < 2; nt++)
		for (k = 0; k < 2; k++) {
			unsigned int api = (k + rep) % 2, threads = nt ? cfg.reg_threads : 1;

			per_fd[api][nt] = reg_threads(api, threads);
			json_rec("{\"kind\":\"regscale\",\"rep\":%u,\"api\":\"%s\",\"threads\":%u,\"fds\":%u,\"iters\":%u,\"add_ns_per_fd\":%.1f,\"getpid_ns\":%.1f}",
				 rep, reg_api[api], threads, REG_FDS, cfg.reg_iters, per_fd[api][nt], gp);
		}
	progress("rep %u/%u registration from 1 and %u threads, ns/fd add: epoll_ctl %.0f %.0f kevent_ctl %.0f %.0f",
		 rep + 1, cfg.reps, cfg.reg_threads, per_fd[0][0], per_fd[0][1], per_fd[1][0],
		 per_fd[1][1]);
}

/* ---- timer counts ------------------------------------------------------ */

/*
 * Check the expiries counted for n timers of period base + i ns against the
 * clock: timer i was armed between t_lo[i] and t_hi[i], and drained (its
 * last count taken) between d_start and d_end. The herd's periodic timer
 * and the timers part share it.
 */
static void timer_check(struct check *c, unsigned int n, long long base,
			const unsigned long long *count, const long long *t_lo,
			const long long *t_hi, long long d_start, long long d_end)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		long long p = base + i;
		/* one expiry of slack below: an hrtimer interrupt not run yet */
		long long lo = (d_start - t_hi[i]) / p - 1, hi = (d_end - t_lo[i]) / p;

		c->events += count[i];
		if ((long long)count[i] < lo)
			c->lost += lo - count[i];
		if ((long long)count[i] > hi)
			c->dup += count[i] - hi;
	}
}

/* Expiries in the TIMER events of a batch (ret_data[1]); *empties: none. */
static unsigned long long timer_expiries(const struct ukevent *uk, int n, unsigned int max_user,
					 unsigned long long *count, unsigned long long *empties)
{
	unsigned long long sum = 0;
	int j;

	for (j = 0; j < n; j++) {
		if (uk[j].user_u64 < max_user && uk[j].ret_data[1]) {
			if (count)
				count[uk[j].user_u64] += uk[j].ret_data[1];
			sum += uk[j].ret_data[1];
		} else {
			(*empties)++;
		}
	}
	return sum;
}

/* ---- thundering herd --------------------------------------------------- */

struct herd;

struct worker {
	struct herd *h;
	pthread_t th;
	pid_t tid;
	int q;
	unsigned long long returns, empties, consumed;
};

struct herd {
	enum herd_kind api;
	int efd, stopfd;
	int q;			/* the shared queue of USER and TIMER, else -1 */
	struct ukevent uk;	/* the shared queue's kevent */
	atomic_int stop;
	atomic_ullong consumed;	/* eventfd counts, USER readies, TIMER expiries */
	atomic_ullong delivered;	/* returns that consumed something */
	struct worker w[MAX_THREADS];
};

static bool herd_epoll(const struct herd *h)
{
	return h->api == H_EPOLL || h->api == H_EPOLL_EXCL;
}

static bool herd_shared(const struct herd *h)
{
	return h->api == H_USER_ONE || h->api == H_TIMER_ONE;
}

static long herd_nr(const struct herd *h)
{
	return herd_epoll(h) ? SYS_epoll_wait : __NR_kevent_get_events;
}

/* What one return of the wait call brought: the units it consumed. */
static unsigned long long herd_take(struct worker *w, const struct ukevent *uk, int n)
{
	struct herd *h = w->h;
	unsigned long long got = 0;
	uint64_t v;

	if (herd_shared(h))
		return timer_expiries(uk, n, 1, NULL, &w->empties);
	if (read(h->efd, &v, sizeof(v)) == sizeof(v))
		got = v;
	else
		w->empties++;
	return got;
}

static void *herd_worker(void *arg)
{
	struct worker *w = arg;
	struct herd *h = w->h;

	w->tid = (pid_t)syscall(SYS_gettid);
	while (!atomic_load(&h->stop)) {
		struct epoll_event ev[4];
		struct ukevent uk[4];
		struct __kernel_timespec ts = kevent_ts_ms(10000);
		unsigned long long got;
		bool stopping;
		int n;

		if (herd_epoll(h))
			n = (int)syscall(SYS_epoll_wait, w->q, ev, 4, 10000);
		else
			n = kevent_get_events(w->q, 1, 4, &ts, uk, 0);
		stopping = atomic_load(&h->stop);
		/* a shared queue's event is real even at the stop: count it */
		if (n <= 0 || (stopping && !herd_shared(h)))
			continue;
		if (!stopping)
			w->returns++;
		got = herd_take(w, uk, n);
		if (got) {
			w->consumed += got;
			atomic_fetch_add(&h->consumed, got);
			atomic_fetch_add(&h->delivered, 1);
		}
	}
	return NULL;
}

/* The thread sleeps inside system call nr (/proc/self/task/TID/syscall). */
static bool blocked_in(pid_t tid, long nr)
{
	char path[64], buf[128];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = 0;
	return strtol(buf, NULL, 10) == nr && strncmp(buf, "running", 7);
}

/*
 * Scan the lines of a /proc file: the number after needle on the first line
 * that starts with it (count false), or how many lines contain needle
 * (count true); -1 if the file cannot be read.
 */
static long long proc_scan(const char *path, const char *needle, bool count)
{
	char line[256];
	long long v = -1;
	size_t len = strlen(needle);
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (count)
		v = 0;
	while (fgets(line, sizeof(line), f)) {
		if (count) {
			v += strstr(line, needle) != NULL;
		} else if (!strncmp(line, needle, len)) {
			v = strtoll(line + len, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static long long nvcsw(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	return proc_scan(path, "voluntary_ctxt_switches:", false);
}

/* Wait until every worker sleeps in its wait call; false after WAIT_MS. */
static bool herd_all_blocked(struct herd *h, unsigned int t)
{
	long long deadline = now_ns() + WAIT_MS * 1000000LL;
	unsigned int i;

	for (i = 0; i < t; i++) {
		while (!h->w[i].tid || !blocked_in(h->w[i].tid, herd_nr(h))) {
			if (now_ns() > deadline)
				return false;
			usleep(200);
		}
	}
	return true;
}

/*
 * The workers' voluntary context switches and the deliveries, taken
 * together while every worker sleeps: every wake-up is followed by one more
 * sleep, so switches per delivery are wake-ups per event. A periodic timer
 * fires on its own, so the pair is read again until no delivery happened
 * in between.
 */
static void herd_snapshot(struct herd *h, unsigned int t, long long *csw,
			  unsigned long long *delivered)
{
	unsigned long long d;
	unsigned int i;

	do {
		d = atomic_load(&h->delivered);
		if (!herd_all_blocked(h, t))
			die("herd workers did not go back to sleep");
		for (i = 0, *csw = 0; i < t; i++)
			*csw += nvcsw(h->w[i].tid);
		if (!herd_all_blocked(h, t))
			die("herd workers did not go back to sleep");
	} while (d != atomic_load(&h->delivered));
	*delivered = d;
}

/* Set up the queues of one herd and start its workers. */
static void herd_start(struct herd *h, unsigned int t)
{
	unsigned int i;

	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0 || h->stopfd < 0)
		die("eventfd");
	h->q = -1;
	if (herd_shared(h)) {
		h->q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
		if (h->q < 0)
			die("kevent_init");
	}
	for (i = 0; i < t; i++) {
		struct worker *w = &h->w[i];

		w->h = h;
		if (herd_epoll(h)) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
			struct epoll_event sv = { .events = EPOLLIN, .data.u32 = 1 };

			if (h->api == H_EPOLL_EXCL)
				ev.events |= EPOLLEXCLUSIVE;
			w->q = epoll_create1(EPOLL_CLOEXEC);
			if (w->q < 0 || epoll_ctl(w->q, EPOLL_CTL_ADD, h->efd, &ev) ||
			    epoll_ctl(w->q, EPOLL_CTL_ADD, h->stopfd, &sv))
				die("epoll for the herd");
		} else if (herd_shared(h)) {
			w->q = h->q;
		} else {
			__u32 flags = h->api == H_KEV ? 0 : h->api == H_KEV_ONE ? KEVENT_REQ_WAKEUP_ONE :
				      KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET;
			struct ukevent uk = ukevent_poll(h->efd, POLLIN, flags);

			w->q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
			if (w->q < 0 || kevent_ctl(w->q, KEVENT_CTL_ADD, 1, &uk) != 0)
				die("kevent for the herd");
		}
		if (pthread_create(&w->th, NULL, herd_worker, w))
			die("pthread_create");
	}
}

/* Make the next event happen: a write, a READY, or (a timer) nothing to do. */
static void herd_fire(struct herd *h)
{
	uint64_t one = 1;
	struct ukevent uk = h->uk;

	if (h->api == H_TIMER_ONE)
		return;
	if (h->api == H_USER_ONE) {
		uk.event = 1;
		if (kevent_ctl(h->q, KEVENT_CTL_READY, 1, &uk) != 1)
			die("kevent_ctl READY (USER)");
	} else if (write(h->efd, &one, sizeof(one)) != sizeof(one)) {
		die("eventfd write");
	}
}

static void bench_herd(unsigned int rep, double gp)
{
	unsigned int t = cfg.herd_threads, k, i, e;
	long long period = (long long)cfg.herd_timer_ms * 1000000LL;

	for (k = 0; k < NHERD; k++) {
		enum herd_kind api = (k + rep) % NHERD;
		struct herd *h = calloc(1, sizeof(*h));
		struct check *c = &checks[PART_HERD][api];
		unsigned long long returns = 0, empties = 0, busiest = 0, d0, d1, consumed;
		unsigned long long expiries = 0;
		long long csw0, csw1, t0, elapsed = 0, t_lo = 0, t_hi = 0, d_start = 0, d_end = 0;

		if (!h)
			die("calloc");
		h->api = api;
		herd_start(h, t);
		herd_snapshot(h, t, &csw0, &d0);
		if (h->api == H_USER_ONE) {
			h->uk = ukevent_user(0x4e5244, 0);
			h->uk.req_flags = KEVENT_REQ_WAKEUP_ONE;
		} else if (h->api == H_TIMER_ONE) {
			h->uk = ukevent_timer(0, (__u32)period, KEVENT_REQ_WAKEUP_ONE);
		}
		if (herd_shared(h)) {
			struct ukevent uk = h->uk;

			t_lo = now_ns();
			if (kevent_ctl(h->q, KEVENT_CTL_ADD, 1, &uk) != 0)
				die("kevent_ctl ADD (herd)");
			t_hi = now_ns();
		}
		for (e = 0; e < cfg.herd_events; e++) {
			long long deadline, dummy;
			unsigned long long d;

			t0 = now_ns();
			herd_fire(h);
			deadline = now_ns() + WAIT_MS * 1000000LL;
			while (atomic_load(&h->delivered) < e + 1 && now_ns() < deadline)
				sched_yield();
			elapsed += now_ns() - t0;
			if (atomic_load(&h->delivered) < e + 1)
				break;	/* lost: counted below */
			herd_snapshot(h, t, &dummy, &d);
		}
		herd_snapshot(h, t, &csw1, &d1);
		atomic_store(&h->stop, 1);
		if (herd_epoll(h)) {
			uint64_t one = 1;

			if (write(h->stopfd, &one, sizeof(one)) != sizeof(one))
				die("eventfd write");
		} else {
			for (i = 0; i < t; i++)
				kevent_ctl(h->w[i].q, KEVENT_CTL_READY, 0, NULL);
		}
		for (i = 0; i < t; i++) {
			pthread_join(h->w[i].th, NULL);
			if (!herd_shared(h))
				close(h->w[i].q);
			returns += h->w[i].returns;
			empties += h->w[i].empties;
			if (h->w[i].consumed > busiest)
				busiest = h->w[i].consumed;
		}
		consumed = atomic_load(&h->consumed);
		if (herd_shared(h)) {
			/* What is left undelivered in the queue is still counted once. */
			struct ukevent uk[4];
			struct __kernel_timespec ts = kevent_ts_ms(0);
			unsigned long long none = 0;
			int n;

			d_start = now_ns();
			while ((n = kevent_get_events(h->q, 0, 4, &ts, uk, 0)) > 0)
				consumed += timer_expiries(uk, n, 1, NULL, &none);
			d_end = now_ns();
			c->empty += none;
			close(h->q);
		}
		if (h->api == H_TIMER_ONE) {
			expiries = consumed;
			timer_check(c, 1, period, &expiries, &t_lo, &t_hi, d_start, d_end);
		} else {
			c->events += cfg.herd_events;
			if (consumed < cfg.herd_events)
				c->lost += cfg.herd_events - consumed;
			if (consumed > cfg.herd_events)
				c->dup += consumed - cfg.herd_events;
		}
		d1 -= d0;
		if (!d1)
			d1 = 1;
		/* A timer's event has no write to time from: no latency. */
		json_rec("{\"kind\":\"herd\",\"rep\":%u,\"api\":\"%s\",\"threads\":%u,\"events\":%llu,\"wakeups_per_event\":%.3f,\"returns_per_event\":%.3f,\"empty_per_event\":%.3f,\"busiest_share\":%.3f,\"ns_per_event\":%.1f,\"getpid_ns\":%.1f}",
			 rep, herd_api[api], t, d1, (double)(csw1 - csw0) / d1,
			 (double)returns / d1, (double)empties / d1, consumed ? (double)busiest / consumed : 0.0,
			 api == H_TIMER_ONE ? 0.0 : (double)elapsed / cfg.herd_events, gp);
		progress("rep %u/%u herd %-17s T=%u: %.2f wake-ups, %.2f empty returns per event",
			 rep + 1, cfg.reps, herd_api[api], t, (double)(csw1 - csw0) / d1,
			 (double)empties / d1);
		close(h->efd);
		close(h->stopfd);
		free(h);
	}
}

/* ---- timers ------------------------------------------------------------ */

/*
 * A TIMER kevent is keyed by its period (id.raw[0] s + id.raw[1] ns): a
 * second timer of the same period in one queue is EEXIST. Timer i gets the
 * period base + i ns, 1,000 distinct keys less than a microsecond apart; the
 * timerfds get exactly the same periods.
 */
struct timer_set {
	unsigned int api;	/* even: timerfds in an epoll, odd: kevent TIMERs */
	unsigned int n;
	long long base;		/* ns; timer i has period base + i */
	unsigned long long *count;
	long long *t_lo, *t_hi;	/* timer i was armed between these */
	int *tfd;
	struct ukevent *uk;
	int q;
};

static void timers_arm(struct timer_set *s, unsigned int api, unsigned int n, long long base)
{
	unsigned int i;
	long long lo, hi;

	memset(s, 0, sizeof(*s));
	s->api = api;
	s->n = n;
	s->base = base;
	s->count = calloc(n, sizeof(*s->count));
	s->t_lo = calloc(n, sizeof(*s->t_lo));
	s->t_hi = calloc(n, sizeof(*s->t_hi));
	s->tfd = calloc(n, sizeof(*s->tfd));
	s->uk = calloc(n > MAX_BATCH ? n : MAX_BATCH, sizeof(*s->uk));
	if (!s->count || !s->t_lo || !s->t_hi || !s->tfd || !s->uk)
		die("calloc");
	if (!(api & 1)) {
		s->q = epoll_create1(EPOLL_CLOEXEC);
		if (s->q < 0)
			die("epoll_create1");
		for (i = 0; i < n; i++) {
			long long p = base + i;
			struct itimerspec its = {
				.it_value = { p / 1000000000LL, p % 1000000000LL },
				.it_interval = { p / 1000000000LL, p % 1000000000LL },
			};
			struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

			s->tfd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
			if (s->tfd[i] < 0 || epoll_ctl(s->q, EPOLL_CTL_ADD, s->tfd[i], &e))
				die("timerfd");
			s->t_lo[i] = now_ns();
			if (timerfd_settime(s->tfd[i], 0, &its, NULL))
				die("timerfd_settime");
			s->t_hi[i] = now_ns();
		}
		return;
	}
	s->q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
	if (s->q < 0)
		die("kevent_init");
	for (i = 0; i < n; i++) {
		long long p = base + i;

		s->uk[i] = ukevent_timer((__u32)(p / 1000000000LL), (__u32)(p % 1000000000LL), 0);
		s->uk[i].user_u64 = i;
	}
	lo = now_ns();
	for (i = 0; i < n; i += KEVENT_MAX_BATCH) {
		unsigned int b = n - i < KEVENT_MAX_BATCH ? n - i : KEVENT_MAX_BATCH;

		if (kevent_ctl(s->q, KEVENT_CTL_ADD, b, s->uk + i) != 0)
			die("kevent_ctl ADD (TIMER): a duplicate period is EEXIST");
	}
	hi = now_ns();
	for (i = 0; i < n; i++) {
		s->t_lo[i] = lo;
		s->t_hi[i] = hi;
	}
}

static long long timers_last_armed(const struct timer_set *s)
{
	long long end = 0;
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->t_hi[i] > end)
			end = s->t_hi[i];
	return end;
}

/* Timer t was counted during the drain: the first time, one more drained. */
static void drain_seen(unsigned char *drained, unsigned int *n_drained, unsigned int n,
		       unsigned long long t)
{
	if (t < n && !drained[t]) {
		drained[t] = 1;
		(*n_drained)++;
	}
}

/*
 * The consumer: block until expiries, count them, until end; then drain
 * (an end in the past only drains). Checks the counts against the clock
 * into c; returns the expiries counted, *calls the wait calls made.
 *
 * The drain ends when a call finds nothing ready, or when every timer has
 * been counted since it started: a count taken after d_start covers every
 * expiry up to d_start, which is all timer_check() asks. Timers that expire
 * faster than one pass reads them are never all quiet at once, and a drain
 * that waited for that would not end.
 */
static unsigned long long timers_consume(struct timer_set *s, long long end, struct check *c,
					 unsigned long long *calls)
{
	struct epoll_event ev[MAX_BATCH];
	unsigned long long expiries = 0, empties = 0;
	unsigned char *drained = calloc(s->n, 1);
	unsigned int i, n_drained = 0;
	long long d_start = 0;
	int n, j;

	if (!drained)
		die("calloc");
	for (;;) {
		long long left = end - now_ns();
		int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);

		if (!ms && !d_start)
			d_start = now_ns();	/* the final drain starts */
		(*calls)++;
		if (!(s->api & 1)) {
			n = epoll_wait(s->q, ev, MAX_BATCH, ms);
			if (n < 0)
				die("epoll_wait");
			for (j = 0; j < n; j++) {
				unsigned int t = ev[j].data.u32;
				uint64_t v;

				if (read(s->tfd[t], &v, sizeof(v)) == sizeof(v))
					s->count[t] += v;
				else
					empties++;
				if (d_start)
					drain_seen(drained, &n_drained, s->n, t);
			}
		} else {
			struct __kernel_timespec ts = kevent_ts_ms(ms);

			n = kevent_get_events(s->q, ms ? 1 : 0, MAX_BATCH, &ts, s->uk, 0);
			if (n < 0)
				die("kevent_get_events");
			timer_expiries(s->uk, n, s->n, s->count, &empties);
			for (j = 0; d_start && j < n; j++)
				drain_seen(drained, &n_drained, s->n, s->uk[j].user_u64);
		}
		if (!ms && (n == 0 || n_drained == s->n))
			break;	/* the end, and drained */
	}
	free(drained);
	timer_check(c, s->n, s->base, s->count, s->t_lo, s->t_hi, d_start, now_ns());
	c->empty += empties;
	for (i = 0; i < s->n; i++)
		expiries += s->count[i];
	return expiries;
}

static void timers_close(struct timer_set *s)
{
	unsigned int i;

	if (!(s->api & 1))
		for (i = 0; i < s->n; i++)
			close(s->tfd[i]);
	close(s->q);
	free(s->count);
	free(s->t_lo);
	free(s->t_hi);
	free(s->tfd);
	free(s->uk);
}

/* Local timer interrupts of all CPUs so far (the LOC line of /proc/interrupts). */
static long long local_timer_irqs(void)
{
	char line[4096];
	long long sum = -1;
	FILE *f = fopen("/proc/interrupts", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "LOC:", 4))
			continue;
		for (p += 4, sum = 0;; p = end) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
		break;
	}
	fclose(f);
	return sum;
}

/* TIMER kevents of queue q whose hrtimer is queued (" armed=1" in fdinfo). */
static long long kevent_armed(int q)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", q);
	return proc_scan(path, " armed=1", true);
}

static void sleep_until(long long t)
{
	long long left;

	while ((left = t - now_ns()) > 0) {
		struct timespec ts = { left / 1000000000LL, left % 1000000000LL };

		nanosleep(&ts, NULL);
	}
}

/*
 * An undelivered periodic timer must not re-arm every period: cfg.timers
 * periodic timers of cfg.idle_period_us (+i ns) that nobody reads for
 * cfg.idle_ms, against the same window with no timers at all. Counted: the
 * local timer interrupts of the window (re-arming every period would need
 * idle_ms * 1000 / idle_period_us of them at least) and, for kevent, the
 * timers still armed at its end (fdinfo). The one drain after the window
 * must count every period elapsed (timer_check()): not firing is not losing.
 */
static void bench_undelivered(unsigned int rep, double gp)
{
	long long base = (long long)cfg.idle_period_us * 1000LL;
	long long irq_idle = 0;
	unsigned int k;

	for (k = 0; k < 3; k++) {
		/* idle first: the baseline the two others are read against */
		unsigned int api = k == 0 ? 0 : 2 + (k - 1 + rep) % 2;
		struct check *c = &checks[PART_TIMER][api];
		unsigned long long calls = 0, expiries = 0;
		long long t0, irq0, irq, armed = -1;
		struct timer_set s;

		if (k == 0) {
			irq0 = local_timer_irqs();
			sleep_until(now_ns() + (long long)cfg.idle_ms * 1000000LL);
			irq_idle = local_timer_irqs() - irq0;
			continue;
		}
		kmsg_marker("timers", timer_api[api]);
		timers_arm(&s, api, cfg.timers, base);
		t0 = timers_last_armed(&s);
		irq0 = local_timer_irqs();
		sleep_until(t0 + (long long)cfg.idle_ms * 1000000LL);
		irq = local_timer_irqs() - irq0;
		if (api & 1)
			armed = kevent_armed(s.q);
		expiries = timers_consume(&s, 0, c, &calls);
		timers_close(&s);
		json_rec("{\"kind\":\"timer_idle\",\"rep\":%u,\"api\":\"%s\",\"timers\":%u,\"period_us\":%u,\"ms\":%u,\"irqs\":%lld,\"idle_irqs\":%lld,\"armed\":%lld,\"expiries\":%llu,\"getpid_ns\":%.1f}",
			 rep, timer_api[api], cfg.timers, cfg.idle_period_us, cfg.idle_ms, irq,
			 irq_idle, armed, expiries, gp);
		progress("rep %u/%u timers %-24s %u timers of %u us unread for %u ms: %lld timer interrupts (idle %lld), %lld armed, %llu expiries counted by one drain",
			 rep + 1, cfg.reps, timer_api[api], cfg.timers, cfg.idle_period_us, cfg.idle_ms,
			 irq, irq_idle, armed, expiries);
	}
}

/*
 * "hrtimer: interrupt took N ns" is the kernel's warning that an hrtimer
 * interrupt ran so long the next expiry had passed (printed once per boot).
 * Scan the whole kernel log: how often it appears and after which marker
 * (kmsg_marker(), or a test's) it came.
 */
static unsigned int kmsg_hrtimer_took(char *where, size_t len)
{
	char rec[2048];
	unsigned int n = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ssize_t r;

	snprintf(where, len, "boot");
	if (fd < 0) {
		snprintf(where, len, "no /dev/kmsg");
		return 0;
	}
	for (;;) {
		char *msg, *nl;

		r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;	/* overwritten while reading: next record */
		if (r <= 0)
			break;
		rec[r] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(msg, "klab: test ", 11) && !n)
			snprintf(where, len, "%s", msg + 11);
		else if (strstr(msg, "hrtimer: interrupt took"))
			n++;
	}
	close(fd);
	if (!n)
		snprintf(where, len, "-");
	return n;
}

static void bench_timers(unsigned int rep, double gp)
{
	unsigned int k;
	char where[128];
	unsigned int took;

	for (k = 0; k < 2; k++) {
		unsigned int api = (k + rep) % 2;
		unsigned long long expiries, calls = 0;
		long long cpu0, cpu, end;
		struct timer_set s;

		kmsg_marker("timers", timer_api[api]);
		timers_arm(&s, api, cfg.timers, (long long)cfg.timer_period_ms * 1000000LL);
		/*
		 * The window ends half a period after timer_ms past the last
		 * ADD: every timer has then expired timer_ms / period times,
		 * well away from an expiry racing the end.
		 */
		end = timers_last_armed(&s) + (long long)cfg.timer_ms * 1000000LL + s.base / 2;
		cpu0 = thread_cpu_ns();
		expiries = timers_consume(&s, end, &checks[PART_TIMER][api], &calls);
		cpu = thread_cpu_ns() - cpu0;
		timers_close(&s);
		json_rec("{\"kind\":\"timers\",\"rep\":%u,\"api\":\"%s\",\"timers\":%u,\"period_ms\":%u,\"ms\":%u,\"expiries\":%llu,\"calls\":%llu,\"cpu_ns_per_expiry\":%.1f,\"getpid_ns\":%.1f}",
			 rep, timer_api[api], cfg.timers, cfg.timer_period_ms, cfg.timer_ms, expiries, calls,
			 expiries ? (double)cpu / expiries : 0.0, gp);
		progress("rep %u/%u timers %-13s %u timers: %llu expiries, %.0f ns consumer CPU each",
			 rep + 1, cfg.reps, timer_api[api], cfg.timers, expiries,
			 expiries ? (double)cpu / expiries : 0.0);
	}
	bench_undelivered(rep, gp);
	took = kmsg_hrtimer_took(where, sizeof(where));
	json_rec("{\"kind\":\"kmsg\",\"rep\":%u,\"hrtimer_interrupt_took\":%u,\"after\":\"%s\"}",
		 rep, took, where);
	progress("rep %u/%u kernel log: \"hrtimer: interrupt took\" %u time(s)%s%s", rep + 1, cfg.reps,
		 took, took ? ", first after the marker " : "", took ? where : "");
}

/* ---- the run ----------------------------------------------------------- */

static const char *const *part_apis(enum part p, unsigned int *n)
{
	switch (p) {
	case PART_READY: *n = NAPI; return api_name;
	case PART_WRITER: *n = NAPI; return writer_api;
	case PART_REG: *n = 5; return reg_api;
	case PART_HERD: *n = NHERD; return herd_api;
	default: *n = 4; return timer_api;
	}
}

/* Slot i of part p's API list is measured in this configuration. */
static bool slot_on(enum part p, unsigned int i)
{
	if (p == PART_READY)
		return cfg.api_mask & (1u << i);
	if (p == PART_WRITER)
		return WRITER_APIS & (1u << i);
	return true;
}

/* Run everything; the exactly-once counters are in checks[][]. */
static void run_all(void)
{
	unsigned int rep;
	struct utsname un;
	long long t0 = now_ns();

	raise_nofile();
	memset(checks, 0, sizeof(checks));
	uname(&un);
	if (json) {
		fprintf(json, "{\n\"meta\": {\"accel\":\"%s\",\"kernel\":\"%s\",\"cpus\":%ld,\"reps\":%u,\"round_ms\":%u,\"herd_threads\":%u,\"herd_events\":%u,\"timers\":%u,\"timer_period_ms\":%u,\"timer_ms\":%u,\"reg_fds\":%u,\"reg_iters\":%u,\"ring_size\":%u,\"herd_timer_ms\":%u,\"idle_period_us\":%u,\"idle_ms\":%u,\"writer_fds\":%u,\"reg_threads\":%u},\n\"records\": [",
			cfg.accel, un.release, sysconf(_SC_NPROCESSORS_ONLN), cfg.reps, cfg.round_ms,
			cfg.herd_threads, cfg.herd_events, cfg.timers, cfg.timer_period_ms,
			cfg.timer_ms, REG_FDS, cfg.reg_iters, RING_SIZE, cfg.herd_timer_ms,
			cfg.idle_period_us, cfg.idle_ms, cfg.writer_fds, cfg.reg_threads);
		json_first = true;
	}
	progress("%s, %ld CPUs, accelerator %s, %u repetition(s)", un.release,
		 sysconf(_SC_NPROCESSORS_ONLN), cfg.accel, cfg.reps);
	for (rep = 0; rep < cfg.reps; rep++) {
		double gp = getpid_ns();

		json_rec("{\"kind\":\"getpid\",\"rep\":%u,\"ns\":%.1f}", rep, gp);
		progress("rep %u/%u getpid() %.0f ns (%.0fs so far)", rep + 1, cfg.reps, gp,
			 (now_ns() - t0) / 1e9);
		if (cfg.readiness) {
			kmsg_marker("readiness", NULL);
			bench_readiness(rep, gp);
		}
		if (cfg.writer) {
			kmsg_marker("writer", NULL);
			bench_writer(rep, gp);
		}
		if (cfg.registration) {
			kmsg_marker("registration", NULL);
			bench_registration(rep, gp);
		}
		if (cfg.herd) {
			kmsg_marker("herd", NULL);
			bench_herd(rep, gp);
		}
		if (cfg.timer) {
			kmsg_marker("timers", NULL);
			bench_timers(rep, gp);
		}
	}
	if (uring_mode[0] != 'n')
		progress("io_uring: %s", uring_mode);
	progress("done in %.0fs", (now_ns() - t0) / 1e9);
}

#ifndef KBENCH_SUITE

static bool part_on(enum part p)
{
	return p == PART_READY ? cfg.readiness : p == PART_WRITER ? cfg.writer :
	       p == PART_REG ? cfg.registration : p == PART_HERD ? cfg.herd : cfg.timer;
}

/*
 * Every exactly-once counter of the parts and APIs that ran, in order:
 * @emit (may be NULL) sees each one; returns the number of bad events.
 */
static unsigned long long walk_checks(void (*emit)(unsigned int part, const char *api,
						   const struct check *c))
{
	unsigned long long bad = 0;
	unsigned int p, i, n;

	for (p = 0; p < NPART; p++) {
		const char *const *names = part_apis(p, &n);

		if (!part_on(p))
			continue;
		for (i = 0; i < n; i++) {
			const struct check *c = &checks[p][i];

			if (!slot_on(p, i))
				continue;
			bad += check_bad(c);
			if (emit)
				emit(p, names[i], c);
		}
	}
	return bad;
}

static void json_check(unsigned int p, const char *api, const struct check *c)
{
	json_rec("{\"kind\":\"check\",\"part\":\"%s\",\"api\":\"%s\",\"events\":%llu,\"lost\":%llu,\"dup\":%llu,\"empty\":%llu}",
		 part_name[p], api, c->events, c->lost, c->dup, c->empty);
}

/* JSON records of the checks and the closing of the document. */
static unsigned long long finish_json(void)
{
	unsigned long long bad = walk_checks(json_check);

	if (json) {
		fprintf(json, "\n],\n\"io_uring\": \"%s\",\n\"exactly_once_failures\": %llu\n}\n",
			uring_mode, bad);
		fclose(json);
		json = NULL;
	}
	return bad;
}

static void print_check(unsigned int p, const char *api, const struct check *c)
{
	printf("%-13s %-16s %10llu %6llu %6llu %6llu%s\n", part_name[p], api,
	       c->events, c->lost, c->dup, c->empty, check_bad(c) ? "  FAIL" : "");
}

/* The exactly-once table on stdout; returns the number of bad events. */
static unsigned long long print_checks(void)
{
	printf("%-13s %-16s %10s %6s %6s %6s\n", "part", "api", "events", "lost", "dup", "empty");
	return walk_checks(print_check);
}

static unsigned int parse_list(const char *s, unsigned int *out, unsigned int max)
{
	unsigned int n = 0;
	char *end;

	while (*s && n < max) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || !v)
			return 0;
		out[n++] = (unsigned int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return 0;
	}
	return n;
}

static unsigned int parse_names(const char *s, const char *const *names, unsigned int count)
{
	char buf[256], *tok, *save;
	unsigned int mask = 0, i;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < count; i++)
			if (!strcmp(tok, names[i]))
				break;
		if (i == count)
			return 0;
		mask |= 1u << i;
	}
	return mask;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kbench [-q] [-r REPS] [-n N,N,...] [-a A,A,...] [-s SOURCES] [-i APIS]\n"
		"              [-p PARTS] [-m ROUND_MS] [-t THREADS] [-e HERD_EVENTS]\n"
		"              [-T TIMER_MS] [-o FILE.json] [-A ACCEL] [-Q] [-X]\n"
		"  -q  quick: a correctness smoke test (N=10,100 A=1,10, 1 repetition)\n"
		"  -s  sources: pipe,eventfd,unix,tcp\n"
		"  -p  parts: readiness,writer,registration,herd,timers\n"
		"  -i  readiness APIs: poll,epoll-lt,epoll-et,io_uring,kevent-lt,kevent-et,\n"
		"      kevent-lc,ring-lt,ring-et          -Q  no progress lines\n"
		"  -A  the accelerator the guest runs under (recorded in the JSON)\n"
		"  -X  self-test: plant one unexpected event per readiness API (must fail)\n"
		"Exit status 1 if any event was lost, duplicated or empty.\n");
}

int main(int argc, char **argv)
{
	unsigned long long bad;
	unsigned int mask;
	int opt, i;

	config_full(&cfg);
	for (i = 1; i < argc; i++)	/* -q first: the other options override it */
		if (!strcmp(argv[i], "-q"))
			config_quick(&cfg);
	while ((opt = getopt(argc, argv, "qr:n:a:s:i:p:m:t:e:T:o:A:QXh")) != -1) {
		switch (opt) {
		case 'q': break;
		case 'r': cfg.reps = (unsigned int)atoi(optarg); break;
		case 'n': cfg.nn = parse_list(optarg, cfg.n, MAX_GRID); break;
		case 'a': cfg.na = parse_list(optarg, cfg.a, MAX_GRID); break;
		case 's': cfg.src_mask = parse_names(optarg, src_name, NSRC); break;
		case 'i': cfg.api_mask = parse_names(optarg, api_name, NAPI); break;
		case 'p':
			mask = parse_names(optarg, part_name, NPART);
			if (!mask) {
				usage(stderr);
				return 2;
			}
			cfg.readiness = mask & (1u << PART_READY);
			cfg.writer = mask & (1u << PART_WRITER);
			cfg.registration = mask & (1u << PART_REG);
			cfg.herd = mask & (1u << PART_HERD);
			cfg.timer = mask & (1u << PART_TIMER);
			break;
		case 'm': cfg.round_ms = (unsigned int)atoi(optarg); break;
		case 't': cfg.herd_threads = (unsigned int)atoi(optarg); break;
		case 'e': cfg.herd_events = (unsigned int)atoi(optarg); break;
		case 'T': cfg.timer_ms = (unsigned int)atoi(optarg); break;
		case 'o': cfg.json = optarg; break;
		case 'A': cfg.accel = optarg; break;
		case 'Q': cfg.quiet = true; break;
		case 'X': cfg.inject = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfg.reps || !cfg.nn || !cfg.na || !cfg.src_mask || !cfg.api_mask ||
	    !cfg.herd_threads || cfg.herd_threads > MAX_THREADS || !cfg.herd_events ||
	    !cfg.timer_ms) {
		usage(stderr);
		return 2;
	}
	if (cfg.json) {
		json = fopen(cfg.json, "we");
		if (!json)
			die(cfg.json);
	}
	run_all();
	bad = finish_json();
	print_checks();
	if (bad) {
		printf("kbench: FAIL: %llu events lost, duplicated or empty\n", bad);
		return 1;
	}
	printf("kbench: exactly-once: every event delivered once, nothing lost, duplicated or empty\n");
	return 0;
}

#endif /* !KBENCH_SUITE */
