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
 *  herd          T threads, each with its own queue on one eventfd:
 *                wake-ups and empty returns per event, kevent WAKEUP_ONE vs
 *                EPOLLEXCLUSIVE (and both without);
 *  timers        1,000 periodic kevent TIMERs vs 1,000 timerfds in epoll:
 *                consumer CPU time per expiry.
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
	unsigned int herd_threads, herd_events;
	unsigned int timers, timer_period_ms, timer_ms;
	bool readiness, registration, herd, timer;
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
	c->timers = 1000;
	c->timer_period_ms = 100;
	c->timer_ms = 1500;
	c->readiness = c->registration = c->herd = c->timer = true;
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
}

/* ---- exactly-once counters -------------------------------------------- */

struct check {
	unsigned long long events, lost, dup, empty;
};

enum part { PART_READY, PART_REG, PART_HERD, PART_TIMER, NPART };
static const char *const part_name[NPART] = { "readiness", "registration", "herd", "timers" };
/* Indexed by part and API slot (the part's own list of names). */
static struct check checks[NPART][NAPI];

static const char *const reg_api[] = { "epoll_ctl", "kevent_ctl", "io_uring" };
static const char *const herd_api[] = { "epoll", "epoll-exclusive", "kevent", "kevent-wakeone" };
static const char *const timer_api[] = { "timerfd+epoll", "kevent-timer" };

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
 * random fds readable (untimed), harvest them (timed)", a final check that
 * nothing more is reported, teardown (untimed).
 */
static struct rd_result rd_measure(enum api api, struct fdset *s, unsigned int a,
				   uint64_t seed, uint32_t *expect, uint32_t *seen,
				   unsigned int *perm)
{
	struct rd r = { .api = api, .s = s, .a = a, .expect = expect, .seen = seen,
			.chk = &checks[PART_READY][api], .qfd = -1 };
	struct rd_result res = { 0 };
	long long budget = (long long)cfg.round_ms * 1000000LL, spent = 0;
	unsigned long long calls = 0;
	unsigned int i, round;

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
			fd_activate(s, perm[i]);
		}
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
		spent += now_ns() - t0;
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
					res = rd_measure(api, &s, a, seed, expect, seen, perm);
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

static void bench_registration(unsigned int rep, double gp)
{
	int efd[REG_FDS];
	struct ukevent uk[REG_FDS];
	double add[3] = { 0 }, del[3] = { 0 };
	struct uring u;
	unsigned int i, it, k;

	for (i = 0; i < REG_FDS; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[i] < 0)
			die("eventfd");
	}
	if (uring_init(&u, 2 * REG_FDS, 4 * REG_FDS))
		die("io_uring_setup");
	for (it = 0; it < cfg.reg_iters; it++) {
		for (k = 0; k < 3; k++) {
			unsigned int api = (k + it + rep) % 3, cnt[3] = { 0 };
			struct check *c = &checks[PART_REG][api];
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
					uring_poll_add(&u, efd[i], i);
				if (uring_enter(&u, 0, 0) < 0 && errno != ETIME)
					die("io_uring_enter");
				t1 = now_ns();
				for (i = 0; i < REG_FDS; i++)
					uring_poll_remove(&u, i, (1ull << 32) | i);
				if (uring_enter(&u, 2 * REG_FDS, WAIT_MS) < 0 && errno != ETIME)
					die("io_uring_enter");
				uring_reap(&u, reg_cqe, cnt);
				t2 = now_ns();
				if (cnt[0] != REG_FDS || cnt[1] != REG_FDS)
					c->lost += 2 * REG_FDS - cnt[0] - cnt[1];
				c->dup += cnt[2];
			}
			if (q >= 0)
				close(q);
			c->events += REG_FDS;
			add[api] += (double)(t1 - t0) / REG_FDS;
			del[api] += (double)(t2 - t1) / REG_FDS;
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
	for (i = 0; i < REG_FDS; i++)
		close(efd[i]);
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
	unsigned int api;	/* index into herd_api */
	int efd, stopfd;
	atomic_int stop;
	atomic_ullong consumed;
	struct worker w[MAX_THREADS];
};

static long herd_nr(const struct herd *h)
{
	return h->api < 2 ? SYS_epoll_wait : __NR_kevent_get_events;
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
		uint64_t v;
		int n;

		if (h->api < 2)
			n = (int)syscall(SYS_epoll_wait, w->q, ev, 4, 10000);
		else
			n = kevent_get_events(w->q, 1, 4, &ts, uk, 0);
		if (n <= 0 || atomic_load(&h->stop))
			continue;
		w->returns++;
		if (read(h->efd, &v, sizeof(v)) == sizeof(v)) {
			w->consumed += v;
			atomic_fetch_add(&h->consumed, v);
		} else {
			w->empties++;
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

static long long nvcsw(pid_t tid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
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

static void bench_herd(unsigned int rep, double gp)
{
	unsigned int t = cfg.herd_threads, k, i, e;

	for (k = 0; k < 4; k++) {
		unsigned int api = (k + rep) % 4;
		struct herd *h = calloc(1, sizeof(*h));
		struct check *c = &checks[PART_HERD][api];
		unsigned long long returns = 0, empties = 0, busiest = 0;
		long long csw0 = 0, csw1 = 0, t0, elapsed = 0;

		if (!h)
			die("calloc");
		h->api = api;
		h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		h->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (h->efd < 0 || h->stopfd < 0)
			die("eventfd");
		for (i = 0; i < t; i++) {
			struct worker *w = &h->w[i];

			w->h = h;
			if (api < 2) {
				struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
				struct epoll_event sv = { .events = EPOLLIN, .data.u32 = 1 };

				if (api == 1)
					ev.events |= EPOLLEXCLUSIVE;
				w->q = epoll_create1(EPOLL_CLOEXEC);
				if (w->q < 0 || epoll_ctl(w->q, EPOLL_CTL_ADD, h->efd, &ev) ||
				    epoll_ctl(w->q, EPOLL_CTL_ADD, h->stopfd, &sv))
					die("epoll for the herd");
			} else {
				struct ukevent uk = ukevent_poll(h->efd, POLLIN,
								 api == 3 ? KEVENT_REQ_WAKEUP_ONE : 0);

				w->q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
				if (w->q < 0 || kevent_ctl(w->q, KEVENT_CTL_ADD, 1, &uk) != 0)
					die("kevent for the herd");
			}
			if (pthread_create(&w->th, NULL, herd_worker, w))
				die("pthread_create");
		}
		if (!herd_all_blocked(h, t))
			die("herd workers never blocked");
		for (i = 0; i < t; i++)
			csw0 += nvcsw(h->w[i].tid);
		for (e = 0; e < cfg.herd_events; e++) {
			uint64_t one = 1;
			long long deadline;

			t0 = now_ns();
			if (write(h->efd, &one, sizeof(one)) != sizeof(one))
				die("eventfd write");
			deadline = now_ns() + WAIT_MS * 1000000LL;
			while (atomic_load(&h->consumed) < e + 1 && now_ns() < deadline)
				sched_yield();
			elapsed += now_ns() - t0;
			if (atomic_load(&h->consumed) < e + 1)
				break;	/* lost: counted below */
			if (!herd_all_blocked(h, t))
				die("herd workers did not go back to sleep");
		}
		for (i = 0; i < t; i++)
			csw1 += nvcsw(h->w[i].tid);
		atomic_store(&h->stop, 1);
		if (api < 2) {
			uint64_t one = 1;

			if (write(h->stopfd, &one, sizeof(one)) != sizeof(one))
				die("eventfd write");
		} else {
			for (i = 0; i < t; i++)
				kevent_ctl(h->w[i].q, KEVENT_CTL_READY, 0, NULL);
		}
		for (i = 0; i < t; i++) {
			pthread_join(h->w[i].th, NULL);
			close(h->w[i].q);
			returns += h->w[i].returns;
			empties += h->w[i].empties;
			if (h->w[i].consumed > busiest)
				busiest = h->w[i].consumed;
		}
		c->events += cfg.herd_events;
		if (atomic_load(&h->consumed) < cfg.herd_events)
			c->lost += cfg.herd_events - atomic_load(&h->consumed);
		if (atomic_load(&h->consumed) > cfg.herd_events)
			c->dup += atomic_load(&h->consumed) - cfg.herd_events;
		json_rec("{\"kind\":\"herd\",\"rep\":%u,\"api\":\"%s\",\"threads\":%u,\"events\":%u,\"wakeups_per_event\":%.3f,\"returns_per_event\":%.3f,\"empty_per_event\":%.3f,\"busiest_share\":%.3f,\"ns_per_event\":%.1f,\"getpid_ns\":%.1f}",
			 rep, herd_api[api], t, cfg.herd_events,
			 (double)(csw1 - csw0) / cfg.herd_events,
			 (double)returns / cfg.herd_events, (double)empties / cfg.herd_events,
			 (double)busiest / cfg.herd_events,
			 (double)elapsed / cfg.herd_events, gp);
		progress("rep %u/%u herd %-15s T=%u: %.2f wake-ups, %.2f empty returns per event",
			 rep + 1, cfg.reps, herd_api[api], t,
			 (double)(csw1 - csw0) / cfg.herd_events, (double)empties / cfg.herd_events);
		close(h->efd);
		close(h->stopfd);
		free(h);
	}
}

/* ---- timers ------------------------------------------------------------ */

/*
 * A TIMER kevent is keyed by its period (id.raw[0] s + id.raw[1] ns): a
 * second timer of the same period in one queue is EEXIST. Timer i gets the
 * period P + i ns, 1,000 distinct keys less than a microsecond apart; the
 * timerfds get exactly the same periods.
 */
static long long timer_period(unsigned int i)
{
	return (long long)cfg.timer_period_ms * 1000000LL + i;
}

/* Check the expiries counted for each timer against the clock. */
static void timer_check(struct check *c, const unsigned long long *count,
			const long long *t_lo, const long long *t_hi,
			long long d_start, long long d_end)
{
	unsigned int i;

	for (i = 0; i < cfg.timers; i++) {
		long long p = timer_period(i);
		/* one expiry of slack below: an hrtimer interrupt not run yet */
		long long lo = (d_start - t_hi[i]) / p - 1, hi = (d_end - t_lo[i]) / p;

		c->events += count[i];
		if ((long long)count[i] < lo)
			c->lost += lo - count[i];
		if ((long long)count[i] > hi)
			c->dup += count[i] - hi;
	}
}

static void bench_timers(unsigned int rep, double gp)
{
	unsigned int nt = cfg.timers, k, i;
	unsigned long long *count = calloc(nt, sizeof(*count));
	long long *t_lo = calloc(nt, sizeof(*t_lo)), *t_hi = calloc(nt, sizeof(*t_hi));
	int *tfd = calloc(nt, sizeof(*tfd));
	struct ukevent *uk = calloc(nt > MAX_BATCH ? nt : MAX_BATCH, sizeof(*uk));
	struct epoll_event ev[MAX_BATCH];

	if (!count || !t_lo || !t_hi || !tfd || !uk)
		die("calloc");
	for (k = 0; k < 2; k++) {
		unsigned int api = (k + rep) % 2;
		struct check *c = &checks[PART_TIMER][api];
		unsigned long long expiries = 0, calls = 0, empties = 0;
		long long end, cpu0, cpu, d_start, d_end, lo, hi;
		int q, n, j;

		memset(count, 0, nt * sizeof(*count));
		if (api == 0) {
			q = epoll_create1(EPOLL_CLOEXEC);
			if (q < 0)
				die("epoll_create1");
			for (i = 0; i < nt; i++) {
				long long p = timer_period(i);
				struct itimerspec its = {
					.it_value = { p / 1000000000LL, p % 1000000000LL },
					.it_interval = { p / 1000000000LL, p % 1000000000LL },
				};
				struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

				tfd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
				if (tfd[i] < 0 || epoll_ctl(q, EPOLL_CTL_ADD, tfd[i], &e))
					die("timerfd");
				t_lo[i] = now_ns();
				if (timerfd_settime(tfd[i], 0, &its, NULL))
					die("timerfd_settime");
				t_hi[i] = now_ns();
			}
		} else {
			q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
			if (q < 0)
				die("kevent_init");
			for (i = 0; i < nt; i++) {
				long long p = timer_period(i);

				uk[i] = ukevent_timer((__u32)(p / 1000000000LL),
						      (__u32)(p % 1000000000LL), 0);
				uk[i].user_u64 = i;
			}
			lo = now_ns();
			for (i = 0; i < nt; i += KEVENT_MAX_BATCH) {
				unsigned int b = nt - i < KEVENT_MAX_BATCH ? nt - i : KEVENT_MAX_BATCH;

				if (kevent_ctl(q, KEVENT_CTL_ADD, b, uk + i) != 0)
					die("kevent_ctl ADD (TIMER): a duplicate period is EEXIST");
			}
			hi = now_ns();
			for (i = 0; i < nt; i++) {
				t_lo[i] = lo;
				t_hi[i] = hi;
			}
		}
		/*
		 * The window ends half a period after timer_ms past the last
		 * ADD: every timer has then expired timer_ms / period times,
		 * well away from an expiry racing the end.
		 */
		for (i = 0, end = 0; i < nt; i++)
			if (t_hi[i] > end)
				end = t_hi[i];
		end += (long long)cfg.timer_ms * 1000000LL + timer_period(0) / 2;
		cpu0 = thread_cpu_ns();
		/* The consumer: block until expiries, count them, until the end. */
		for (;;) {
			long long left = end - now_ns();
			int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);

			d_start = now_ns();
			calls++;
			if (api == 0) {
				n = epoll_wait(q, ev, MAX_BATCH, ms);
				if (n < 0)
					die("epoll_wait");
				for (j = 0; j < n; j++) {
					uint64_t v;

					if (read(tfd[ev[j].data.u32], &v, sizeof(v)) == sizeof(v))
						count[ev[j].data.u32] += v;
					else
						empties++;
				}
			} else {
				struct __kernel_timespec ts = kevent_ts_ms(ms);

				n = kevent_get_events(q, ms ? 1 : 0, MAX_BATCH, &ts, uk, 0);
				if (n < 0)
					die("kevent_get_events");
				for (j = 0; j < n; j++) {
					if (uk[j].user_u64 < nt && uk[j].ret_data[1])
						count[uk[j].user_u64] += uk[j].ret_data[1];
					else
						empties++;
				}
			}
			if (!ms && n == 0)
				break;	/* the end, and drained */
		}
		d_end = now_ns();
		cpu = thread_cpu_ns() - cpu0;
		for (i = 0; i < nt; i++)
			expiries += count[i];
		timer_check(c, count, t_lo, t_hi, d_start, d_end);
		c->empty += empties;
		if (api == 0)
			for (i = 0; i < nt; i++)
				close(tfd[i]);
		close(q);
		json_rec("{\"kind\":\"timers\",\"rep\":%u,\"api\":\"%s\",\"timers\":%u,\"period_ms\":%u,\"ms\":%u,\"expiries\":%llu,\"calls\":%llu,\"cpu_ns_per_expiry\":%.1f,\"getpid_ns\":%.1f}",
			 rep, timer_api[api], nt, cfg.timer_period_ms, cfg.timer_ms, expiries, calls,
			 expiries ? (double)cpu / expiries : 0.0, gp);
		progress("rep %u/%u timers %-13s %u timers: %llu expiries, %.0f ns consumer CPU each",
			 rep + 1, cfg.reps, timer_api[api], nt, expiries,
			 expiries ? (double)cpu / expiries : 0.0);
	}
	free(count);
	free(t_lo);
	free(t_hi);
	free(tfd);
	free(uk);
}

/* ---- the run ----------------------------------------------------------- */

static void kmsg_marker(const char *what)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	dprintf(fd, "<5>klab: test kevent_bench.%s\n", what);
	close(fd);
}

static const char *const *part_apis(enum part p, unsigned int *n)
{
	switch (p) {
	case PART_READY: *n = NAPI; return api_name;
	case PART_REG: *n = 3; return reg_api;
	case PART_HERD: *n = 4; return herd_api;
	default: *n = 2; return timer_api;
	}
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
		fprintf(json, "{\n\"meta\": {\"accel\":\"%s\",\"kernel\":\"%s\",\"cpus\":%ld,\"reps\":%u,\"round_ms\":%u,\"herd_threads\":%u,\"herd_events\":%u,\"timers\":%u,\"timer_period_ms\":%u,\"timer_ms\":%u,\"reg_fds\":%u,\"reg_iters\":%u,\"ring_size\":%u},\n\"records\": [",
			cfg.accel, un.release, sysconf(_SC_NPROCESSORS_ONLN), cfg.reps, cfg.round_ms,
			cfg.herd_threads, cfg.herd_events, cfg.timers, cfg.timer_period_ms,
			cfg.timer_ms, REG_FDS, cfg.reg_iters, RING_SIZE);
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
			kmsg_marker("readiness");
			bench_readiness(rep, gp);
		}
		if (cfg.registration) {
			kmsg_marker("registration");
			bench_registration(rep, gp);
		}
		if (cfg.herd) {
			kmsg_marker("herd");
			bench_herd(rep, gp);
		}
		if (cfg.timer) {
			kmsg_marker("timers");
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
	return p == PART_READY ? cfg.readiness : p == PART_REG ? cfg.registration :
	       p == PART_HERD ? cfg.herd : cfg.timer;
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

			if (p == PART_READY && !(cfg.api_mask & (1u << i)))
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
		"  -s  sources: pipe,eventfd,unix,tcp     -p  parts: readiness,registration,herd,timers\n"
		"  -i  readiness APIs: poll,epoll-lt,epoll-et,io_uring,kevent-lt,kevent-et,\n"
		"      kevent-lc,ring-lt,ring-et          -Q  no progress lines\n"
		"  -A  the accelerator the guest runs under (recorded in the JSON)\n"
		"  -X  self-test: plant one unexpected event per readiness API (must fail)\n"
		"Exit status 1 if any event was lost, duplicated or empty.\n");
}

int main(int argc, char **argv)
{
	static const char *const parts[] = { "readiness", "registration", "herd", "timers" };
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
			mask = parse_names(optarg, parts, 4);
			if (!mask) {
				usage(stderr);
				return 2;
			}
			cfg.readiness = mask & 1;
			cfg.registration = mask & 2;
			cfg.herd = mask & 4;
			cfg.timer = mask & 8;
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
