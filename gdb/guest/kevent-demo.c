// SPDX-License-Identifier: GPL-2.0
/*
 * kevent-demo - tiny guest programs that create the events the GDB
 * walkthroughs of gdb/ stop on. Each mode first makes sure the threads that
 * must be asleep are asleep (state S inside the expected system call), then
 * triggers the source, so what GDB sees never depends on timing.
 *
 *   kevent-demo timer   a ONESHOT 20 ms TIMER kevent, delivered by
 *                       kevent_wait() into a 4-entry ring
 *   kevent-demo pipe    the same with a POLL kevent on a pipe (a write)
 *   kevent-demo user    the same with a USER kevent (KEVENT_CTL_READY)
 *   kevent-demo herd    3 threads sleep in kevent_get_events(); a write to
 *                       pipe A readies a WAKEUP_ONE kevent (one thread
 *                       woken), then a write to pipe B a plain one (all)
 *   kevent-demo ring    USER events through a 4-entry ring, 10 rounds of
 *                       READY + kevent_wait() + kevent_commit(): the ring
 *                       wraps twice (ring_over 0 -> 1 -> 2); also
 *                       "ring-wrap", the name of its walkthrough
 *   kevent-demo last-check  a LAST_CHECK POLL kevent on a pipe whose byte
 *                       is read before the dequeue (dropped, not
 *                       delivered), then written again (delivered)
 *   kevent-demo level   a level-triggered POLL kevent on a pipe: delivered,
 *                       requeued to be polled, polled again after the
 *                       byte was read (dropped)
 *   kevent-demo error   system calls that fail (bad command, bad fd, too
 *                       big a batch, a bad commit) and a batch entry that
 *                       fails (ADD of a key already there)
 *   kevent-demo hold FILE
 *                       a queue in a known state, held until FILE exists
 *                       (the host takes a memory dump meanwhile: drgn,
 *                       docs/drgn.md): USER kevents 1..5, 5 and 2 delivered
 *                       to the 4-entry ring and 5 committed (kidx 2,
 *                       uidx 1), then 3, 1, 4 readied in that order; once
 *                       FILE appears it reads the three and checks the order
 *
 * All but hold are also the scenarios of make trace (scripts/trace.sh),
 * whose timelines docs/trace.md explains. Every kevent of the demo
 * carries the user data DEMO_USER, which the walkthroughs use to ignore
 * other kevent users. Exit status 0 when the program saw what it expected.
 */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "kevent_syscall.h"

#define DEMO_USER	0xc0ffeeULL
#define RING_SIZE	4
#define HERD		3

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "kevent-demo: FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read /proc/self/task/<tid>/<name> into buf; 0 if it cannot be read. */
static int read_task_file(pid_t tid, const char *name, char *buf, size_t size)
{
	char path[96];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = (int)read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return 1;
}

/* The thread's voluntary context switches, -1 if unknown. */
static long long nvcsw(pid_t tid)
{
	char buf[4096], *p;

	if (!read_task_file(tid, "status", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	return p ? strtoll(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10) : -1;
}

/*
 * User-Mode Linux has no /proc/PID/syscall (no HAVE_ARCH_TRACEHOOK): there
 * a sleeping thread counts as asleep in the call when it has not run for
 * 20 ms (no voluntary context switch).
 */
static int asleep_no_syscall_file(pid_t tid)
{
	long long before = nvcsw(tid);

	msleep(20);
	return before >= 0 && nvcsw(tid) == before;
}

/* Is thread tid asleep (S) inside system call nr? (/proc/self/task) */
static int asleep_in(pid_t tid, long nr)
{
	char buf[1024], *p;

	if (!read_task_file(tid, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[2] != 'S')
		return 0;
	if (!read_task_file(tid, "syscall", buf, sizeof(buf)))
		return asleep_no_syscall_file(tid);
	return strtol(buf, NULL, 10) == nr;
}

/* Wait until *tidp is set and that thread sleeps in nr (seen twice). */
static void wait_asleep(volatile pid_t *tidp, long nr)
{
	for (int i = 0; i < 60000; i++) {
		pid_t tid = *tidp;

		if (tid && asleep_in(tid, nr)) {
			msleep(2);
			if (asleep_in(tid, nr))
				return;
		}
		msleep(1);
	}
	fprintf(stderr, "kevent-demo: thread %d never fell asleep\n", (int)*tidp);
	exit(2);
}

static const char *type_name(unsigned int type)
{
	switch (type) {
	case KEVENT_TIMER: return "TIMER";
	case KEVENT_POLL: return "POLL";
	case KEVENT_USER: return "USER";
	default: return "?";
	}
}

static void print_ukevent(const char *what, const struct ukevent *uk)
{
	printf("kevent-demo: %s = {type=%s id=0x%llx event=0x%x req_flags=0x%x ret_flags=0x%x ret_data={%u, %u} user=0x%llx}\n",
	       what, type_name(uk->type), (unsigned long long)uk->id.raw_u64,
	       uk->event, uk->req_flags, uk->ret_flags, uk->ret_data[0],
	       uk->ret_data[1], (unsigned long long)uk->user_u64);
}

/* ---- one event from a source to the ring ----------------------------- */

struct ring_waiter {
	int fd;
	volatile pid_t tid;
	int ret;
};

static void *ring_waiter_fn(void *arg)
{
	struct ring_waiter *w = arg;

	w->tid = gettid_();
	w->ret = kevent_wait(w->fd, 1, 0, NULL, 0);
	return NULL;
}

/* A queue with a RING_SIZE-entry ring: its fd and the ring in *ringp, or -1. */
static int ring_queue(struct kevent_ring **ringp)
{
	struct kevent_ring *ring = kevent_ring_alloc(RING_SIZE);
	int fd;

	CHECK(ring, "ring mmap: %s", strerror(errno));
	if (!ring)
		return -1;
	fd = kevent_init(ring, RING_SIZE, 0);
	CHECK(fd >= 0, "kevent_init: %s", strerror(errno));
	*ringp = ring;
	return fd;
}

static int demo_source(const char *source)
{
	struct kevent_ring *ring;
	struct ring_waiter w = { 0 };
	struct ukevent uk;
	pthread_t th;
	int fd, p[2] = { -1, -1 };

	fd = ring_queue(&ring);
	if (fd < 0)
		return 1;
	printf("kevent-demo %s: pid %d, queue fd %d, ring %p (%d entries)\n",
	       source, (int)getpid(), fd, (void *)ring, RING_SIZE);

	/* A thread sleeps in kevent_wait() before the source fires. */
	w.fd = fd;
	pthread_create(&th, NULL, ring_waiter_fn, &w);
	wait_asleep(&w.tid, __NR_kevent_wait);
	printf("kevent-demo %s: thread %d asleep in kevent_wait()\n", source, (int)w.tid);
	fflush(stdout);

	if (!strcmp(source, "timer")) {
		uk = ukevent_timer(0, 20000000, KEVENT_REQ_ONESHOT);
		uk.user_u64 = DEMO_USER;
		CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD timer");
	} else if (!strcmp(source, "pipe")) {
		CHECK(pipe(p) == 0, "pipe");
		uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ONESHOT);
		uk.user_u64 = DEMO_USER;
		CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD poll");
		CHECK(write(p[1], "x", 1) == 1, "write");
	} else {
		uk = ukevent_user(7, DEMO_USER);
		uk.req_flags = KEVENT_REQ_ONESHOT;
		CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD user");
		uk = ukevent_user(7, DEMO_USER);
		uk.event = 0x5;
		CHECK(kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk) == 1, "READY");
	}
	pthread_join(th, NULL);

	CHECK(w.ret == 1, "kevent_wait returned %d", w.ret);
	printf("kevent-demo %s: kevent_wait() = %d, ring_kidx=%u ring_over=%u\n",
	       source, w.ret, kevent_ring_kidx(ring), kevent_ring_over(ring));
	print_ukevent("ring[0]", &ring->event[0]);
	CHECK(kevent_ring_kidx(ring) == 1, "ring_kidx %u", kevent_ring_kidx(ring));
	CHECK(ring->event[0].user_u64 == DEMO_USER, "ring[0] user data");
	CHECK(ring->event[0].ret_flags & KEVENT_RET_DONE, "ring[0] not DONE");
	CHECK(kevent_commit(fd, 1, 0) == 1, "commit");
	close(fd);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	kevent_ring_free(ring, RING_SIZE);
	return failures ? 1 : 0;
}

/* ---- WAKEUP_ONE herd -------------------------------------------------- */

struct herd_thread {
	int fd;
	int idx;
	volatile pid_t tid;
	volatile int events;
	volatile int returns;
};

static volatile int herd_stop;

static void *herd_fn(void *arg)
{
	struct herd_thread *t = arg;
	struct ukevent ev;

	t->tid = gettid_();
	while (!herd_stop) {
		int r = kevent_get_events(t->fd, 1, 1, NULL, &ev, 0);

		if (r > 0) {
			printf("kevent-demo herd: thread %d (tid %d) got event user=0x%llx id=0x%llx\n",
			       t->idx, (int)t->tid, (unsigned long long)ev.user_u64,
			       (unsigned long long)ev.id.raw_u64);
			fflush(stdout);
			__atomic_add_fetch(&t->events, 1, __ATOMIC_SEQ_CST);
		}
		__atomic_add_fetch(&t->returns, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int herd_returns(struct herd_thread *t)
{
	int n = 0;

	for (int i = 0; i < HERD; i++)
		n += __atomic_load_n(&t[i].returns, __ATOMIC_SEQ_CST);
	return n;
}

static void herd_all_asleep(struct herd_thread *t)
{
	for (int i = 0; i < HERD; i++)
		wait_asleep(&t[i].tid, __NR_kevent_get_events);
}

/*
 * With every thread asleep, write to pipe NAME (write end wfd), wait until
 * a thread returned with the event and all sleep again. Returns the count
 * of returns before the write.
 */
static int herd_write(struct herd_thread *t, int wfd, const char *name)
{
	int r0;

	printf("kevent-demo herd: %d threads asleep; writing to pipe %s\n", HERD, name);
	fflush(stdout);
	r0 = herd_returns(t);
	CHECK(write(wfd, name, 1) == 1, "write %s", name);
	while (herd_returns(t) < r0 + 1)
		msleep(1);
	herd_all_asleep(t);
	return r0;
}

static int demo_herd(void)
{
	struct herd_thread t[HERD] = { 0 };
	pthread_t th[HERD];
	struct ukevent uk;
	int fd, a[2], b[2], r0, events = 0;

	fd = kevent_init(NULL, 0, 0);
	CHECK(fd >= 0, "kevent_init: %s", strerror(errno));
	if (fd < 0 || pipe(a) || pipe(b))
		return 1;
	/* Pipe A: WAKEUP_ONE. Pipe B: wake everybody. Edge triggered. */
	uk = ukevent_poll(a[0], POLLIN, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET);
	uk.user_u64 = DEMO_USER;
	CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD pipe A");
	uk = ukevent_poll(b[0], POLLIN, KEVENT_REQ_ET);
	uk.user_u64 = DEMO_USER;
	CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD pipe B");
	printf("kevent-demo herd: pid %d, queue fd %d, pipe A fd %d (WAKEUP_ONE), pipe B fd %d\n",
	       (int)getpid(), fd, a[0], b[0]);

	for (int i = 0; i < HERD; i++) {
		t[i].fd = fd;
		t[i].idx = i;
		pthread_create(&th[i], NULL, herd_fn, &t[i]);
	}
	herd_all_asleep(t);
	r0 = herd_write(t, a[1], "A");
	msleep(20);
	CHECK(herd_returns(t) == r0 + 1, "pipe A: %d threads returned, expected 1",
	      herd_returns(t) - r0);
	herd_write(t, b[1], "B");

	herd_stop = 1;
	CHECK(kevent_ctl(fd, KEVENT_CTL_READY, 0, NULL) == 0, "READY 0");
	for (int i = 0; i < HERD; i++) {
		pthread_join(th[i], NULL);
		events += t[i].events;
	}
	CHECK(events == 2, "%d events delivered, expected 2", events);
	printf("kevent-demo herd: %d events delivered\n", events);
	close(fd);
	return failures ? 1 : 0;
}

/* ---- ring wraparound -------------------------------------------------- */

static int demo_ring(void)
{
	struct kevent_ring *ring;
	struct __kernel_timespec ts = kevent_ts(10, 0);
	unsigned int kidx = 0, over = 0;
	struct ukevent uk;
	int fd;

	fd = ring_queue(&ring);
	if (fd < 0)
		return 1;
	uk = ukevent_user(1, DEMO_USER);
	CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD user");
	printf("kevent-demo ring: pid %d, queue fd %d, ring %p (%d entries)\n",
	       (int)getpid(), fd, (void *)ring, RING_SIZE);
	for (unsigned int round = 0; round < 10; round++) {
		unsigned int slot = kidx;
		int r;

		uk = ukevent_user(1, DEMO_USER);
		uk.event = 0x100 + round;
		CHECK(kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk) == 1, "READY");
		r = kevent_wait(fd, 1, kidx, &ts, 0);
		CHECK(r == 1, "round %u: kevent_wait = %d", round, r);
		kidx = kevent_ring_kidx(ring);
		over = kevent_ring_over(ring);
		CHECK(ring->event[slot].ret_data[0] == 0x100 + round,
		      "round %u: ring[%u].ret_data[0] = 0x%x", round, slot,
		      ring->event[slot].ret_data[0]);
		printf("kevent-demo ring: round %u: slot %u, ring_kidx=%u ring_over=%u\n",
		       round, slot, kidx, over);
		fflush(stdout);
		CHECK(kevent_commit(fd, kidx, over) == 1, "commit");
	}
	CHECK(over == 2 && kidx == 2, "ring ended at kidx %u over %u", kidx, over);
	close(fd);
	kevent_ring_free(ring, RING_SIZE);
	return failures ? 1 : 0;
}

/* ---- re-polled POLL kevents ------------------------------------------- */

/* kevent_get_events() without waiting: the number of events delivered. */
static int get_now(int fd, struct ukevent *ev)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);

	return kevent_get_events(fd, 0, 1, &zero, ev, 0);
}

/*
 * A POLL kevent with @req_flags on a pipe. LAST_CHECK: the byte is read
 * before the dequeue, which polls, finds nothing and drops the kevent;
 * written again, it is delivered. Level: delivered, requeued to be polled;
 * the byte read, the next dequeue polls and drops it.
 */
static int demo_repoll(const char *mode, unsigned int req_flags)
{
	struct ukevent uk, ev;
	int fd, p[2], r;
	char c;

	fd = kevent_init(NULL, 0, 0);
	CHECK(fd >= 0, "kevent_init: %s", strerror(errno));
	if (fd < 0 || pipe(p))
		return 1;
	uk = ukevent_poll(p[0], POLLIN, req_flags);
	uk.user_u64 = DEMO_USER;
	CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD poll");
	printf("kevent-demo %s: pid %d, queue fd %d, pipe fd %d\n", mode,
	       (int)getpid(), fd, p[0]);
	CHECK(write(p[1], "x", 1) == 1, "write");
	if (req_flags & KEVENT_REQ_LAST_CHECK) {
		CHECK(read(p[0], &c, 1) == 1, "read");
		r = get_now(fd, &ev);
		CHECK(r == 0, "byte read before the dequeue: %d events", r);
		printf("kevent-demo %s: byte read first: %d events\n", mode, r);
		CHECK(write(p[1], "y", 1) == 1, "write");
		r = get_now(fd, &ev);
		CHECK(r == 1, "byte there at the dequeue: %d events", r);
		printf("kevent-demo %s: byte there: %d event\n", mode, r);
	} else {
		r = get_now(fd, &ev);
		CHECK(r == 1, "first dequeue: %d events", r);
		printf("kevent-demo %s: delivered: %d event\n", mode, r);
		CHECK(read(p[0], &c, 1) == 1, "read");
		r = get_now(fd, &ev);
		CHECK(r == 0, "byte read: %d events", r);
		printf("kevent-demo %s: byte read: %d events\n", mode, r);
	}
	close(fd);
	close(p[0]);
	close(p[1]);
	return failures ? 1 : 0;
}

/* ---- error returns ---------------------------------------------------- */

/* Expect call == -1 with errno @want. */
#define EXPECT_ERRNO(call, want) do {					\
	int r_ = (call);						\
	CHECK(r_ == -1 && errno == (want), "%s = %d (%s), expected %s",	\
	      #call, r_, strerror(errno), #want);			\
	printf("kevent-demo error: %s -> %s\n", #call, #want);		\
} while (0)

static int demo_error(void)
{
	struct ukevent uk[2], ev;
	struct kevent_ring *ring;
	int fd;

	fd = ring_queue(&ring);
	if (fd < 0)
		return 1;
	printf("kevent-demo error: pid %d, queue fd %d\n", (int)getpid(), fd);
	uk[0] = ukevent_user(1, DEMO_USER);
	EXPECT_ERRNO(kevent_ctl(fd, 7, 1, uk), EINVAL);
	EXPECT_ERRNO(kevent_ctl(-1, KEVENT_CTL_ADD, 1, uk), EBADF);
	EXPECT_ERRNO(kevent_get_events(fd, 0, KEVENT_MAX_BATCH + 1, NULL,
				       &ev, 0), E2BIG);
	EXPECT_ERRNO(kevent_commit(fd, 1, 0), ERANGE);
	/* The second ADD of one key fails in its entry, not the call. */
	uk[1] = uk[0];
	CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 2, uk) == 1, "ADD twice");
	CHECK(uk[0].ret_flags & KEVENT_RET_BROKEN && uk[0].ret_data[0] == EEXIST,
	      "second ADD: ret_flags 0x%x ret_data[0] %u", uk[0].ret_flags,
	      uk[0].ret_data[0]);
	printf("kevent-demo error: ADD of a key already there -> entry BROKEN, EEXIST\n");
	close(fd);
	kevent_ring_free(ring, RING_SIZE);
	return failures ? 1 : 0;
}

/* ---- a known queue state, held for a memory dump ------------------------ */

static const unsigned int hold_ring_ids[] = { 5, 2 };
static const unsigned int hold_ready_ids[] = { 3, 1, 4 };

static int demo_hold(const char *file)
{
	struct __kernel_timespec ts = kevent_ts(10, 0);
	struct ukevent uk, got[3];
	struct kevent_ring *ring;
	int fd, n;

	fd = ring_queue(&ring);
	if (fd < 0)
		return 1;
	for (unsigned int id = 1; id <= 5; id++) {
		uk = ukevent_user(id, DEMO_USER);
		CHECK(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) == 0, "ADD user %u", id);
	}
	for (unsigned int i = 0; i < 2; i++) {
		uk = ukevent_user(hold_ring_ids[i], DEMO_USER);
		uk.event = 0x100 + hold_ring_ids[i];
		CHECK(kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk) == 1, "READY %u", hold_ring_ids[i]);
	}
	n = kevent_wait(fd, 2, 0, &ts, 0);
	CHECK(n == 2, "kevent_wait = %d", n);
	CHECK(kevent_commit(fd, 1, 0) == 1, "commit 1: %s", strerror(errno));
	for (unsigned int i = 0; i < 3; i++) {
		uk = ukevent_user(hold_ready_ids[i], DEMO_USER);
		uk.event = 0x200 + hold_ready_ids[i];
		CHECK(kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk) == 1, "READY %u", hold_ready_ids[i]);
	}
	printf("kevent-demo hold: pid %d, queue fd %d, ring %p (%d entries): ring_kidx=%u ring_over=%u, ready ids 3 1 4; waiting for %s\n",
	       (int)getpid(), fd, (void *)ring, RING_SIZE, kevent_ring_kidx(ring),
	       kevent_ring_over(ring), file);
	for (int i = 0; access(file, F_OK) != 0; i++) {
		if (i == 60000) {
			fprintf(stderr, "kevent-demo: %s never appeared\n", file);
			return 2;
		}
		msleep(10);
	}
	n = kevent_get_events(fd, 3, 3, &ts, got, 0);
	CHECK(n == 3, "kevent_get_events = %d", n);
	printf("kevent-demo hold: got ids");
	for (int i = 0; i < n; i++) {
		printf(" %llu", (unsigned long long)got[i].id.raw_u64);
		CHECK(got[i].id.raw_u64 == hold_ready_ids[i], "event %d: id %llu", i,
		      (unsigned long long)got[i].id.raw_u64);
	}
	printf("\n");
	close(fd);
	kevent_ring_free(ring, RING_SIZE);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "timer") || !strcmp(mode, "pipe") || !strcmp(mode, "user"))
		ret = demo_source(mode);
	else if (!strcmp(mode, "herd"))
		ret = demo_herd();
	else if (!strcmp(mode, "ring") || !strcmp(mode, "ring-wrap"))
		ret = demo_ring();
	else if (!strcmp(mode, "last-check"))
		ret = demo_repoll(mode, KEVENT_REQ_LAST_CHECK);
	else if (!strcmp(mode, "level"))
		ret = demo_repoll(mode, 0);
	else if (!strcmp(mode, "error"))
		ret = demo_error();
	else if (!strcmp(mode, "hold") && argc > 2)
		ret = demo_hold(argv[2]);
	else {
		fprintf(stderr, "usage: kevent-demo timer|pipe|user|herd|ring|last-check|level|error|hold FILE\n");
		return 2;
	}
	printf("kevent-demo %s: %s\n", mode, ret ? "FAILED" : "done");
	return ret;
}
