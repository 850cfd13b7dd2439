// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_poll - the POLL storage on pipes, eventfds, UNIX socket pairs and
 * TCP sockets on 127.0.0.1: readiness masks, level vs edge-triggered,
 * LAST_CHECK, ALWAYS_QUEUE vs completion at ADD, refused files (kevent
 * queues ELOOP, unpollable EPERM, bad fd EBADF), and the lifetime of a polled
 * file that is closed while registered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include "kevent_test.h"

static void make_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
}

static void put(int fd, const char *s)
{
	KT_ASSERT((size_t)write(fd, s, strlen(s)) == strlen(s));
}

static void drain_fd(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * The read side of the pipe whose write end is wfd was released: a write
 * fails with EPIPE. The release may be deferred (fput from RCU or a work
 * item), so retry for a bounded time.
 */
static bool reader_gone(int wfd)
{
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

	signal(SIGPIPE, SIG_IGN);
	do {
		errno = 0;
		if (write(wfd, "", 1) == -1 && errno == EPIPE)
			return true;
		kt_msleep(1);
	} while (kt_mono_ns() < deadline);
	return false;
}

/* ---- sources --------------------------------------------------------- */

TEST(pipe_readable)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, buf[2];

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x11);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(p[1], "hello");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.type, KEVENT_POLL);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)p[0]);
	KT_EXPECT_EQ(ev.user_u64, 0x11);
	KT_EXPECT(ev.ret_data[0] & POLLIN);
	KT_EXPECT(!(ev.ret_data[0] & POLLOUT));
}

TEST(pipe_hangup)
{
	int q = kt_queue(), p[2];
	struct ukevent ev;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0);
	close(p[1]);
	ev = kt_wait_one(q);
	KT_EXPECT(ev.ret_data[0] & POLLHUP);
}

TEST(pipe_writable_again)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, buf[2];
	char big[4096];

	make_pipe(p);
	memset(big, 'x', sizeof(big));
	while (write(p[1], big, sizeof(big)) > 0)
		;
	KT_ASSERT_EQ(errno, EAGAIN);
	kt_add_poll(q, p[1], POLLOUT, 0, 0);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	drain_fd(p[0]);
	ev = kt_wait_one(q);
	KT_EXPECT(ev.ret_data[0] & POLLOUT);
}

TEST(eventfd_readable)
{
	int q = kt_queue(), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ukevent ev, buf[2];

	KT_ASSERT(efd >= 0);
	kt_add_poll(q, efd, POLLIN, 0, 0x22);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_ASSERT_OK(eventfd_write(efd, 3));
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x22);
	KT_EXPECT(ev.ret_data[0] & POLLIN);
}

TEST(socketpair_readable_and_writable)
{
	int q = kt_queue(), sv[2];
	struct ukevent uk, ev, buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	kt_add_poll(q, sv[0], POLLIN, 0, 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(sv[1], "ping");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 1);
	KT_EXPECT(ev.ret_data[0] & POLLIN);
	/* writable right away: completes at ADD */
	uk = ukevent_poll(sv[1], POLLOUT, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT(uk.ret_data[0] & POLLOUT);
	/* peer shutdown reports POLLRDHUP when asked for */
	drain_fd(sv[0]);
	uk = ukevent_poll(sv[0], POLLIN, 0);
	uk.user_u64 = 1;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 1);
	kt_add_poll(q, sv[0], POLLRDHUP, 0, 2);
	KT_ASSERT_OK(shutdown(sv[1], SHUT_WR));
	ev = kt_wait_one(q);
	KT_EXPECT(ev.ret_data[0] & POLLRDHUP);
}

TEST(tcp_accept_and_data)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int q = kt_queue(), ls, cs, as;
	struct ukevent ev, buf[2];

	kt_loopback_up();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	KT_ASSERT(ls >= 0);
	KT_ASSERT_OK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)));
	KT_ASSERT_OK(listen(ls, 8));
	KT_ASSERT_OK(getsockname(ls, (struct sockaddr *)&sa, &len));
	kt_add_poll(q, ls, POLLIN, 0, 0x1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);

	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	KT_ASSERT(cs >= 0);
	KT_ASSERT_OK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)));
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x1);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)ls);
	KT_EXPECT(ev.ret_data[0] & POLLIN);
	as = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	KT_ASSERT(as >= 0);

	kt_add_poll(q, as, POLLIN, 0, 0x2);
	/* the listener is level: it may report once more before accept() ran */
	for (int i = 0; i < 3 && kt_ready_now(q, buf, 2) > 0; i++)
		KT_EXPECT_EQ(buf[0].user_u64, 0x1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_ASSERT(send(cs, "data", 4, 0) == 4);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x2);
	KT_EXPECT(ev.ret_data[0] & POLLIN);
	/* the client side is writable at once */
	buf[0] = ukevent_poll(cs, POLLOUT, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &buf[0]), 1);
	KT_EXPECT(buf[0].ret_data[0] & POLLOUT);
}

/* ---- level / edge ---------------------------------------------------- */

/* Level: unread data keeps being reported; consumed data stops it. */
TEST(level_repeats)
{
	int q = kt_queue(), p[2], after;
	struct ukevent buf[2];

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0);
	put(p[1], "x");
	/* one at a time: level_once_per_call checks bigger reads */
	for (int i = 0; i < 5; i++) {
		KT_ASSERT_EQ(kt_ready_now(q, buf, 1), 1);
		KT_EXPECT(buf[0].ret_data[0] & POLLIN);
		/* the write's wake-up, then found again by re-polls */
		KT_EXPECT_EQ(buf[0].ret_data[1], i == 0 ? 1 : 0);
	}
	drain_fd(p[0]);
	/* at most one stale report of the requeued kevent, then nothing */
	after = kt_ready_now(q, buf, 1);
	if (after)
		kt_log("one report after the pipe was drained (requeued before the read)");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 1), 0);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 1), 0);
	/* and new data reports again */
	put(p[1], "y");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 1), 1);
}

/*
 * A level-triggered kevent is reported once per call, as epoll reports a
 * ready fd once per epoll_wait(): the re-armed kevent must not be dequeued
 * again by the call that just delivered it.
 */
TEST(level_once_per_call)
{
	int q = kt_queue(), p[2], n;
	struct ukevent buf[16];

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x77);
	put(p[1], "x");
	for (int i = 0; i < 3; i++) {
		n = kt_ready_now(q, buf, 16);
		kt_log("call %d: %d events for one readable pipe", i, n);
		KT_EXPECT_EQ(n, 1);
	}
	/* and the ready list still holds it for the next call */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	/* with another level kevent ready too: one each */
	int p2[2];

	make_pipe(p2);
	kt_add_poll(q, p2[0], POLLIN, 0, 0x88);
	put(p2[1], "x");
	n = kt_ready_now(q, buf, 16);
	KT_EXPECT_EQ(n, 2);
	if (n == 2)
		KT_EXPECT(buf[0].user_u64 != buf[1].user_u64);
}

/* The same through the ring: one slot per ready kevent and call. */
TEST(level_once_per_ring_fill)
{
	struct kevent_ring *ring = kevent_ring_alloc(8);
	int q = (int)KT_ASSERT_OK(kevent_init(ring, 8, 0)), p[2], n;
	struct __kernel_timespec ts = kevent_ts(5, 0);

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x77);
	put(p[1], "x");
	n = kevent_wait(q, 8, 0, &ts, 0);
	kt_log("kevent_wait: %d slots for one readable pipe", n);
	KT_EXPECT_EQ(n, 1);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);
}

/* Edge: reported once per write, not again while the data sits there. */
TEST(edge_triggered_once)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[2];

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ET, 0);
	put(p[1], "x");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* more data (still unread before): a new edge */
	put(p[1], "y");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* several writes before a dequeue: one event counting the wake-ups */
	put(p[1], "a");
	put(p[1], "b");
	put(p[1], "c");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[1], 3);
	KT_EXPECT_EQ(buf[0].ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

TEST(oneshot_poll)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[2];

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ONESHOT, 0);
	put(p[1], "x");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	put(p[1], "y");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
}

/* ---- LAST_CHECK ------------------------------------------------------- */

static void check_last_check(__u32 extra_flags)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[2];
	char c;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_LAST_CHECK | extra_flags, 0x5);
	put(p[1], "x");
	/* ready now... */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	/* ...but consumed before the dequeue: not delivered */
	KT_ASSERT(read(p[0], &c, 1) == 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
	/* still registered, and new data is delivered */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	put(p[1], "y");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 1), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x5);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
}

TEST(last_check_requeues)
{
	check_last_check(0);
}

TEST(last_check_requeues_et)
{
	check_last_check(KEVENT_REQ_ET);
}

/* LAST_CHECK + ONESHOT: a failed last check does not use up the shot. */
TEST(last_check_oneshot)
{
	check_last_check(KEVENT_REQ_ONESHOT);
}

/* Without LAST_CHECK an edge that was consumed is still reported. */
TEST(no_last_check_reports_stale_edge)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[2];
	char c;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ET, 0);
	put(p[1], "x");
	KT_ASSERT(read(p[0], &c, 1) == 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
}

/* ---- ADD-time readiness ------------------------------------------------ */

TEST(ready_at_add_completes)
{
	int q = kt_queue(), p[2];
	struct ukevent uk, buf[2];

	make_pipe(p);
	put(p[1], "x");
	uk = ukevent_poll(p[0], POLLIN, 0);
	uk.user_u64 = 0x33;
	KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT(uk.ret_data[0] & POLLIN);
	KT_EXPECT_EQ(uk.ret_data[1], 0);
	KT_EXPECT_EQ(uk.user_u64, 0x33);
	/* done: not registered, not queued */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	uk = ukevent_poll(p[0], POLLIN, 0);
	uk.user_u64 = 0x33;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	/* so the same key can be added again */
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
}

TEST(always_queue)
{
	int q = kt_queue(), p[2];
	struct ukevent uk, buf[2];

	make_pipe(p);
	put(p[1], "x");
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_ET);
	uk.user_u64 = 0x44;
	uk.ret_flags = 0xdead;
	KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(uk.ret_flags, 0xdead);	/* not written back */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x44);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* registered: it sees the next write */
	put(p[1], "y");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
	uk = ukevent_poll(p[0], POLLIN, 0);
	uk.user_u64 = 0x44;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 1);
	/* ALWAYS_QUEUE on a not-ready fd: just registered */
	drain_fd(p[0]);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ALWAYS_QUEUE, 0);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
}

/* ---- refused files --------------------------------------------------- */

TEST(poll_kevent_queue_eloop)
{
	int q = kt_queue(), q2 = kt_queue();
	struct ukevent uk;

	uk = ukevent_poll(q2, POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, ELOOP);
	uk = ukevent_poll(q, POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, ELOOP);
	uk = ukevent_poll(q, POLLIN, KEVENT_REQ_ALWAYS_QUEUE);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, ELOOP);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

TEST(poll_bad_event_mask)
{
	int q = kt_queue(), p[2];
	static const __u32 bad[] = { 0, 0x4000, 0x10000, 0x80000000u };
	struct ukevent uk;

	make_pipe(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uk = ukevent_poll(p[0], bad[i], 0);
		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
		KT_EXPECT_BROKEN(uk, EINVAL);
	}
	/* every valid bit at once is accepted */
	uk = ukevent_poll(p[0], POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL |
			  POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLMSG |
			  POLLRDHUP, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* POLLHUP is reported even when only POLLOUT was asked for. */
TEST(hup_always_reported)
{
	int q = kt_queue(), sv[2];
	struct ukevent uk, ev;
	char big[65536];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	memset(big, 0, sizeof(big));
	while (write(sv[0], big, sizeof(big)) > 0)
		;
	uk = ukevent_poll(sv[0], POLLOUT, KEVENT_REQ_ET);
	KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_ASSERT_OK(close(sv[1]));
	ev = kt_wait_one(q);
	KT_EXPECT(ev.ret_data[0] & POLLHUP);
}

TEST(poll_bad_fd)
{
	int q = kt_queue(), p[2];
	struct ukevent uk;

	make_pipe(p);
	close(p[1]);
	uk = ukevent_poll(p[1], POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, EBADF);
	uk = ukevent_poll(-1, POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, EBADF);
	uk = ukevent_poll(1 << 30, POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, EBADF);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

TEST(poll_unpollable_eperm)
{
	int q = kt_queue(), mfd = memfd_create("kevent-test", MFD_CLOEXEC);
	struct ukevent uk;

	KT_ASSERT(mfd >= 0);
	uk = ukevent_poll(mfd, POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, EPERM);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* ---- lifetime of the polled file ------------------------------------- */

/*
 * As epoll: the kevent does not keep the open file alive. Closing the last
 * fd of the file removes its kevent; the fd number is then free as a key.
 */
TEST(close_polled_fd)
{
	int q = kt_queue(), p[2], p2[2];
	long removed = kevent_fdinfo(q, KFD_REMOVED);
	struct ukevent uk;

	signal(SIGPIPE, SIG_IGN);
	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ET, 0x66);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_OK(close(p[0]));
	/* the read side is gone with its last fd: the writer sees it */
	KT_EXPECT(reader_gone(p[1]));
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REMOVED), removed + 1);
	KT_EXPECT_EQ(kt_get_now(q, &uk, 1), 0);
	/* the fd number, if reused, is a new key */
	make_pipe(p2);
	uk = ukevent_poll(p2[0], POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	/* REMOVE of the old registration finds nothing if the number differs */
	if (p2[0] != p[0]) {
		uk = ukevent_poll(p[0], POLLIN, 0);
		uk.user_u64 = 0x66;
		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 1);
		KT_EXPECT_BROKEN(uk, ENOENT);
	}
}

/*
 * Closing polled fds ends their kevents at once, ready or not, and the
 * queue closes cleanly afterwards.
 */
TEST(close_queue_after_polled_fds)
{
	for (int round = 0; round < 20; round++) {
		int q = kt_queue(), r[8], w[8];

		for (int i = 0; i < 8; i++) {
			int p[2];

			make_pipe(p);
			kt_add_poll(q, p[0], POLLIN, i % 2 ? KEVENT_REQ_ET : 0, i);
			r[i] = p[0];
			w[i] = p[1];
			if (i % 3 == 0)
				put(w[i], "z");
		}
		for (int i = 0; i < 8; i++) {
			close(r[i]);
			KT_EXPECT(reader_gone(w[i]));
			close(w[i]);
		}
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
		KT_ASSERT_OK(close(q));
	}
}

/* The same file through two fds of one queue: two kevents. */
TEST(dup_fds_are_two_kevents)
{
	int q = kt_queue(), p[2], d;
	struct ukevent buf[4];

	make_pipe(p);
	d = dup(p[0]);
	KT_ASSERT(d >= 0);
	kt_add_poll(q, p[0], POLLIN, KEVENT_REQ_ET, 1);
	kt_add_poll(q, d, POLLIN, KEVENT_REQ_ET, 2);
	put(p[1], "x");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 4), 2);
}

/* One pipe watched by many queues: each queue gets the event. */
TEST(many_queues_one_file)
{
	enum { N = 16 };
	int q[N], p[2];
	struct ukevent buf[2];

	make_pipe(p);
	for (int i = 0; i < N; i++) {
		q[i] = kt_queue();
		kt_add_poll(q[i], p[0], POLLIN, KEVENT_REQ_ET, i);
	}
	put(p[1], "x");
	for (int i = 0; i < N; i++) {
		KT_EXPECT_EQ(kt_ready_now(q[i], buf, 2), 1);
		KT_EXPECT_EQ(buf[0].user_u64, (__u64)i);
	}
	for (int i = 0; i < N; i += 2)
		close(q[i]);
	put(p[1], "y");
	for (int i = 1; i < N; i += 2)
		KT_EXPECT_EQ(kt_ready_now(q[i], buf, 2), 1);
}

/* Writers on other threads while the queue is being read: nothing lost. */
struct writer {
	int fd, n;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < w->n; i++) {
		KT_ASSERT_OK(eventfd_write(w->fd, 1));
		if (i % 16 == 0)
			sched_yield();
	}
	return NULL;
}

TEST_TIMEOUT(eventfd_concurrent_writes, 120)
{
	enum { T = 3, N = 2000 };
	int q = kt_queue(), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct writer w = { efd, N };
	long long total = 0, deadline = kt_mono_ns() + 90 * 1000000000LL;
	struct __kernel_timespec ts = kevent_ts_ms(100);
	struct ukevent buf[2];
	pthread_t th[T];
	eventfd_t v;

	KT_ASSERT(efd >= 0);
	kt_add_poll(q, efd, POLLIN, KEVENT_REQ_ET, 0);
	for (int i = 0; i < T; i++)
		KT_ASSERT(!pthread_create(&th[i], NULL, writer_fn, &w));
	/* every event announces a count that the read then collects */
	while (total < (long long)T * N && kt_mono_ns() < deadline) {
		/* a write during the copy may requeue it: up to 2 per call */
		int r = kevent_get_events(q, 1, 2, &ts, buf, 0);

		KT_ASSERT(r >= 0);
		if (r && eventfd_read(efd, &v) == 0)
			total += (long long)v;
	}
	for (int i = 0; i < T; i++)
		KT_ASSERT(kt_join(th[i], NULL, KT_SOON_MS));
	if (eventfd_read(efd, &v) == 0) {
		kt_fail_at(__FILE__, __LINE__, "%llu left in the eventfd without an event",
			   (unsigned long long)v);
		total += (long long)v;
	}
	KT_EXPECT_EQ(total, (long long)T * N);
}

/*
 * POLLFREE: a signalfd watched by a kevent whose process exits frees the
 * wait queue the kevent is hooked on. The kevent must unhook (as epoll
 * does); REMOVE and closing the queue afterwards must not touch freed
 * memory (the debug kernel's KASAN would report it).
 */
TEST(signalfd_pollfree)
{
	for (int round = 0; round < 10; round++) {
		int q = kt_queue(), status, cp[2], sfd;
		struct ukevent buf[4], uk;
		pid_t pid;

		sigset_t set;

		/* The file outlives the child; the child's hook is on its sighand. */
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		KT_ASSERT(sfd >= 0);
		KT_ASSERT_OK(pipe2(cp, O_CLOEXEC));
		pid = fork();
		KT_ASSERT(pid >= 0);
		if (pid == 0) {
			uk = ukevent_poll(sfd, POLLIN, round % 2 ? KEVENT_REQ_ET : 0);
			uk.user_u64 = 0x51;
			if (kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk) != 0)
				_exit(3);
			/* a pending signal: the kevent becomes ready */
			if (round % 3 == 0)
				kill(getpid(), SIGUSR2);
			if (write(cp[1], &sfd, sizeof(sfd)) != sizeof(sfd))
				_exit(4);
			_exit(0);	/* frees the sighand: POLLFREE */
		}
		close(cp[1]);
		KT_ASSERT(read(cp[0], &status, sizeof(sfd)) == sizeof(sfd));
		close(cp[0]);
		KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
		KT_ASSERT(WIFEXITED(status));
		KT_ASSERT_EQ(WEXITSTATUS(status), 0);
		/* the kevent outlives the process that added it */
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
		KT_EXPECT(kt_ready_now(q, buf, 4) >= 0);
		if (round % 2) {
			/* remove it explicitly; else leave it to the close */
			uk = ukevent_poll(sfd, POLLIN, 0);
			uk.user_u64 = 0x51;
			KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 1);
		}
		KT_ASSERT_OK(close(q));
		close(sfd);
	}
}
