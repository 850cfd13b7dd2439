// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_level - what a POLL kevent reports is true when it is reported.
 *
 * - Level triggered: a kevent requeued after a delivery (because the file
 *   was still ready then) is polled again when it is dequeued and dropped
 *   if the user consumed the readiness meanwhile, as epoll re-polls an item
 *   when it transfers it to user space. fdinfo counts those re-polls
 *   ("rechecked") and the ones found not ready ("stale"). A loop that
 *   reads what each event says is there never finds nothing to read.
 * - Edge triggered: two different edges (POLLIN, then POLLOUT) before one
 *   delivery are both reported, in one event.
 * - ADD of a ONESHOT kevent that becomes ready while ADD runs reports it
 *   once: completed at ADD or delivered, never both.
 */
#include <sys/resource.h>

#include "kevent_test.h"

#define KFD_RECHECKED	"rechecked"
#define KFD_STALE	"stale"

static void make_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
}

/* ---- level: no stale readiness ---------------------------------------- */

/*
 * One byte, one event; the byte is read; the next call must report
 * nothing, and the re-poll that dropped the requeued kevent is counted.
 */
TEST(level_no_stale_after_read)
{
	int q = kt_queue(), p[2], n;
	struct ukevent buf[4];
	long long rechecked, stale;
	char c;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x1);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x1);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	KT_ASSERT(read(p[0], &c, 1) == 1);
	n = kt_ready_now(q, buf, 4);
	if (n)
		kt_log("%d event(s) for an empty pipe (ret_data[0] %#x)", n, buf[0].ret_data[0]);
	KT_EXPECT_EQ(n, 0);
	rechecked = kevent_fdinfo(q, KFD_RECHECKED);
	stale = kevent_fdinfo(q, KFD_STALE);
	kt_log("fdinfo rechecked %lld stale %lld", rechecked, stale);
	KT_EXPECT(stale >= 1);
	KT_EXPECT(rechecked >= stale);
	/* still registered, and the next byte is reported */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT(write(p[1], "y", 1) == 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 4), 1);
}

/* Still ready after a partial read: reported again; drained: not. */
TEST(level_still_ready_is_reported_again)
{
	int q = kt_queue(), p[2], n;
	struct ukevent buf[4];
	char c;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x2);
	KT_ASSERT(write(p[1], "ab", 2) == 2);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 4), 1);
	KT_ASSERT(read(p[0], &c, 1) == 1);
	/* one byte left: level reports it again */
	KT_ASSERT_EQ(kt_ready_now(q, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x2);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	KT_ASSERT(read(p[0], &c, 1) == 1);
	n = kt_ready_now(q, buf, 4);
	if (n)
		kt_log("%d event(s) after the last byte was read", n);
	KT_EXPECT_EQ(n, 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
}

/*
 * An event loop over many pipes: random writes, then one wait, then for
 * each event read what is there. Every level event must find data.
 */
#define LOOP_PIPES	1000
#define LOOP_ROUNDS	300
#define LOOP_WRITES	24

TEST_TIMEOUT(level_loop_1000_pipes, 240)
{
	static int rfd[LOOP_PIPES], wfd[LOOP_PIPES];
	struct rlimit rl;
	struct __kernel_timespec ts = kevent_ts(5, 0);
	struct ukevent buf[64];
	unsigned int seed = 0x5eed;
	long long real = 0, stale = 0, events = 0;
	int q, npipes = LOOP_PIPES;
	char data[4096];

	KT_ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < 2 * LOOP_PIPES + 64) {
		struct rlimit want = { 2 * LOOP_PIPES + 64, 2 * LOOP_PIPES + 64 };

		if (want.rlim_max < rl.rlim_max)
			want.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want)) {
			npipes = 200;
			kt_log("RLIMIT_NOFILE %llu, cannot raise it (%s): %d pipes",
			       (unsigned long long)rl.rlim_cur, strerror(errno), npipes);
		}
	}
	q = kt_queue();
	for (int i = 0; i < npipes; i++) {
		int p[2];

		make_pipe(p);
		rfd[i] = p[0];
		wfd[i] = p[1];
		kt_add_poll(q, p[0], POLLIN, 0, (__u64)i);
	}
	for (int round = 0; round < LOOP_ROUNDS; round++) {
		int n;

		for (int i = 0; i < LOOP_WRITES; i++) {
			seed = seed * 1103515245u + 12345u;
			KT_ASSERT(write(wfd[(seed >> 8) % (unsigned int)npipes], "x", 1) == 1);
		}
		/* a blocking wait, as an event loop does: something is ready */
		n = kevent_get_events(q, 1, 64, &ts, buf, 0);
		KT_ASSERT(n > 0);
		events += n;
		for (int i = 0; i < n; i++) {
			__u64 idx = buf[i].user_u64;
			ssize_t r;

			KT_ASSERT(idx < (__u64)npipes);
			r = read(rfd[idx], data, sizeof(data));
			if (r > 0) {
				real++;
				while (read(rfd[idx], data, sizeof(data)) > 0)
					;
			} else {
				KT_ASSERT(r == -1 && errno == EAGAIN);
				stale++;
			}
		}
	}
	kt_log("%d pipes, %d rounds: %lld events, %lld real, %lld stale (fdinfo rechecked %lld, stale %lld)",
	       npipes, LOOP_ROUNDS, events, real, stale, kevent_fdinfo(q, KFD_RECHECKED),
	       kevent_fdinfo(q, KFD_STALE));
	KT_EXPECT(real > 0);
	KT_EXPECT_EQ(stale, 0);
}

/* ---- edge triggered: edges accumulate --------------------------------- */

/*
 * An ET kevent for POLLIN|POLLOUT on one end of a UNIX stream pair whose
 * send buffer is full (so nothing is ready at ADD). The peer writes (a
 * POLLIN edge), then drains everything (a POLLOUT edge); one dequeue then
 * reports both.
 */
TEST(et_accumulates_edges)
{
	int q = kt_queue(), sv[2], n;
	struct ukevent buf[4];
	static char big[65536];
	long long filled = 0;
	ssize_t r;

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	while ((r = write(sv[0], big, sizeof(big))) > 0)
		filled += r;
	KT_ASSERT_EQ(errno, EAGAIN);
	kt_add_poll(q, sv[0], POLLIN | POLLOUT, KEVENT_REQ_ET, 0x5);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 4), 0);
	/* POLLIN edge */
	KT_ASSERT(write(sv[1], "p", 1) == 1);
	/* POLLOUT edge: the peer consumes all that sv[0] sent */
	while (filled > 0 && (r = read(sv[1], big, sizeof(big))) > 0)
		filled -= r;
	KT_ASSERT_EQ(filled, 0);
	n = kt_ready_now(q, buf, 4);
	KT_ASSERT_EQ(n, 1);
	kt_log("ret_data[0] %#x ret_data[1] %u", buf[0].ret_data[0], buf[0].ret_data[1]);
	KT_EXPECT_EQ(buf[0].user_u64, 0x5);
	KT_EXPECT_EQ(buf[0].ret_data[0] & (POLLIN | POLLOUT), POLLIN | POLLOUT);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 4), 0);
}

/* ---- ADD of a ONESHOT kevent racing its own readiness ------------------ */

/*
 * ADD hooks a POLL kevent on the file, then checks whether the file is
 * ready. A write in between readies the kevent through its hook; a
 * kevent_get_events() running at that moment may deliver it, and ADD must
 * then not also report it as completed (nor the reverse): a ONESHOT event
 * is reported exactly once.
 *
 * The guest has two CPUs, so two threads: the main thread ADDs; a helper
 * writes one byte while the ADD runs and at once loops on
 * kevent_get_events(timeout 0) until the ADD has returned. The delay
 * before the write adapts: a write that came too early (ADD found the
 * byte: completed) delays the next one, a write that came too late
 * (registered, delivered later) advances it, so the writes keep landing
 * around the moment ADD checks the file.
 */
#define OS_ITER	2000

struct os_race {
	int q, wfd;
	int stop;
	int go;			/* iteration to write in */
	int added;		/* iteration whose ADD has returned */
	int done;		/* iteration the helper has finished */
	unsigned int delay;	/* spin iterations before the write */
	unsigned char delivered[OS_ITER];
	int foreign;		/* events with a tag of another iteration */
};

static void os_take(struct os_race *r, int it, const struct ukevent *buf, int n)
{
	for (int i = 0; i < n; i++) {
		if (buf[i].user_u64 == (__u64)it)
			__atomic_add_fetch(&r->delivered[it], 1, __ATOMIC_RELEASE);
		else
			__atomic_add_fetch(&r->foreign, 1, __ATOMIC_RELEASE);
	}
}

static void *os_helper(void *arg)
{
	struct os_race *r = arg;
	struct ukevent buf[4];
	int last = -1;

	for (;;) {
		int it;

		while ((it = __atomic_load_n(&r->go, __ATOMIC_ACQUIRE)) == last &&
		       !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
			;
		if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
			return NULL;
		last = it;
		for (volatile unsigned int i = __atomic_load_n(&r->delay, __ATOMIC_ACQUIRE); i; i--)
			;
		if (write(r->wfd, "x", 1) != 1)
			kt_fail_at(__FILE__, __LINE__, "write: %s", strerror(errno));
		/* take what is ready while the ADD runs, and once after it */
		for (;;) {
			bool after = __atomic_load_n(&r->added, __ATOMIC_ACQUIRE) == it;

			os_take(r, it, buf, kt_get_now(r->q, buf, 4));
			if (after)
				break;
		}
		__atomic_store_n(&r->done, it, __ATOMIC_RELEASE);
	}
}

TEST_TIMEOUT(add_oneshot_reported_once, 240)
{
	static struct os_race r;
	int p[2], twice = 0, never = 0, completed_n = 0;
	unsigned int seed = 0x1234, delay = 0;
	struct __kernel_timespec ts = kevent_ts_ms(2000);
	struct ukevent buf[4];
	pthread_t th;
	char drain[64];

	make_pipe(p);
	r.q = kt_queue();
	r.wfd = p[1];
	r.go = r.added = r.done = -1;
	KT_ASSERT(!pthread_create(&th, NULL, os_helper, &r));
	for (int it = 0; it < OS_ITER; it++) {
		struct ukevent uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ONESHOT);
		int ret, completed, seen;

		uk.user_u64 = (__u64)it;
		seed = seed * 1103515245u + 12345u;
		__atomic_store_n(&r.delay, delay + (seed >> 16) % 16, __ATOMIC_RELEASE);
		__atomic_store_n(&r.go, it, __ATOMIC_RELEASE);
		ret = kt_ctl1(r.q, KEVENT_CTL_ADD, &uk);
		__atomic_store_n(&r.added, it, __ATOMIC_RELEASE);
		KT_ASSERT(ret == 0 || ret == 1);
		completed = ret == 1;
		if (completed) {
			KT_EXPECT_EQ(uk.ret_flags, KEVENT_RET_DONE);
			KT_EXPECT(uk.ret_data[0] & POLLIN);
		}
		completed_n += completed;
		while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != it)
			;
		/* registered and not delivered yet: the byte is there, it must come */
		if (!completed && !r.delivered[it]) {
			int n = kevent_get_events(r.q, 1, 4, &ts, buf, 0);

			os_take(&r, it, buf, n > 0 ? n : 0);
		}
		seen = completed + r.delivered[it];
		if (seen > 1 && twice++ < 5)
			kt_fail_at(__FILE__, __LINE__,
				   "iteration %d: ONESHOT reported %d times (completed at ADD %d, delivered %d)",
				   it, seen, completed, r.delivered[it]);
		if (seen == 0 && never++ < 5)
			kt_fail_at(__FILE__, __LINE__, "iteration %d: ONESHOT never reported", it);
		/* too early: write later next time; too late: earlier */
		if (completed)
			delay += 4;
		else if (delay >= 4)
			delay -= 4;
		/* clean slate: nothing registered, nothing readable */
		uk = ukevent_poll(p[0], POLLIN, 0);
		uk.user_u64 = (__u64)it;
		kt_ctl1(r.q, KEVENT_CTL_REMOVE, &uk);
		while (read(p[0], drain, sizeof(drain)) > 0)
			;
		if (kevent_fdinfo(r.q, KFD_REGISTERED) != 0) {
			kt_fail_at(__FILE__, __LINE__, "iteration %d: %lld kevents left registered", it,
				   kevent_fdinfo(r.q, KFD_REGISTERED));
			break;
		}
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	KT_EXPECT(kt_join(th, NULL, KT_SOON_MS));
	kt_log("%d iterations: %d completed at ADD, %d reported twice, %d never; final delay %u",
	       OS_ITER, completed_n, twice, never, delay);
	KT_EXPECT_EQ(twice, 0);
	KT_EXPECT_EQ(never, 0);
	KT_EXPECT_EQ(r.foreign, 0);
}
