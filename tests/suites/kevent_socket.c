// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_socket - the SOCKET storage (type 0) on TCP (127.0.0.1, ::1) and
 * UNIX sockets: ACCEPT on listeners, RECV for data and end of file, SEND
 * for write space; ret_data; the request flags (ONESHOT, ET, level
 * re-check, LAST_CHECK, ALWAYS_QUEUE, WAKEUP_ONE for threads of one queue
 * and for one queue per worker, and its pass-on when a ready WAKEUP_ONE
 * kevent is removed); MODIFY; every refused request with its exact errno;
 * and the close of a socket while kevents watch it (they are removed,
 * whatever their state, also while other threads dequeue them).
 * docs/abi.md is the contract.
 *
 * "Must wake" checks are bounded (KT_SOON_MS); nothing here asserts a
 * time. Sleepers are seen asleep in their system call before anything
 * fires.
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "kt_socket.h"

#define RECV	KEVENT_SOCKET_RECV
#define ACCEPT	KEVENT_SOCKET_ACCEPT
#define SEND	KEVENT_SOCKET_SEND

static void put(int fd, const char *s)
{
	KT_ASSERT(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

/* ADD one request expected to fail with err in ret_data[0]. */
static void expect_broken(int q, struct ukevent uk, int err)
{
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, err);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* ---- refused requests ---------------------------------------------- */

TEST(refused_requests)
{
	int q = kt_queue(), p[2], s[2], efd, nl, udp;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	/* a descriptor that is not open */
	expect_broken(q, ukevent_socket(1000, RECV, 0), EBADF);
	/* not a socket: a pipe, an eventfd, the queue itself */
	expect_broken(q, ukevent_socket(p[0], RECV, 0), ENOTSOCK);
	efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	expect_broken(q, ukevent_socket(efd, RECV, 0), ENOTSOCK);
	expect_broken(q, ukevent_socket(q, RECV, 0), ENOTSOCK);
	/* a family whose callbacks do not report: netlink */
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl >= 0)
		expect_broken(q, ukevent_socket(nl, RECV, 0), EAFNOSUPPORT);
	else
		kt_log("no netlink socket (errno %d): EAFNOSUPPORT not checked", errno);
	/* an INET socket that is not TCP */
	udp = (int)KT_ASSERT_OK(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	expect_broken(q, ukevent_socket(udp, RECV, 0), EPROTONOSUPPORT);
	/* masks: empty, unknown bits */
	expect_broken(q, ukevent_socket(s[0], 0, 0), EINVAL);
	expect_broken(q, ukevent_socket(s[0], 0x8, 0), EINVAL);
	expect_broken(q, ukevent_socket(s[0], RECV | 0x100, 0), EINVAL);
	/* an unknown request flag */
	expect_broken(q, ukevent_socket(s[0], RECV, 0x20), EINVAL);
	/* a duplicate key */
	kt_add_socket(q, s[0], RECV, 0, 1);
	{
		struct ukevent uk = ukevent_socket(s[0], SEND, 0);

		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
		KT_EXPECT_BROKEN(uk, EEXIST);
	}
	/* MODIFY/REMOVE of what is not there */
	{
		struct ukevent uk = ukevent_socket(s[1], RECV, 0);

		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 0);
		KT_EXPECT_BROKEN(uk, ENOENT);
		uk = ukevent_socket(s[1], RECV, 0);
		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 0);
		KT_EXPECT_BROKEN(uk, ENOENT);
		/* MODIFY to an invalid mask */
		uk = ukevent_socket(s[0], 0x40, 0);
		uk.user_u64 = 1;
		KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 0);
		KT_EXPECT_BROKEN(uk, EINVAL);
	}
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* ---- sources --------------------------------------------------------- */

TEST(unix_stream_recv)
{
	int q = kt_queue(), s[2];
	struct ukevent ev, buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, 0, 0x11);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(s[1], "hello");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.type, KEVENT_SOCKET);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)s[0]);
	KT_EXPECT_EQ(ev.user_u64, 0x11);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
}

TEST(unix_dgram_recv_and_send)
{
	int q = kt_queue(), s[2];
	struct ukevent ev, uk;

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, 0, 1);
	put(s[1], "one");
	put(s[1], "two");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	/* two datagrams, two data_ready notifications */
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	/* an empty send buffer: SEND is ready at ADD, completes at once */
	uk = ukevent_socket(s[1], SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT_EQ(uk.ret_data[0], SEND);
}

TEST(tcp_accept_recv_eof)
{
	struct sockaddr_in sa;
	int q = kt_queue(), ls, cs, as;
	struct ukevent ev, buf[2];

	ls = kt_tcp_listener(&sa, 8);
	kt_add_socket(q, ls, ACCEPT, 0, 0x1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	cs = kt_tcp_connect(&sa);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x1);
	KT_EXPECT_EQ(ev.ret_data[0], ACCEPT);
	as = (int)KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	/* accepted: the level re-check finds nothing more to accept */
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);

	kt_add_socket(q, as, RECV, 0, 0x2);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(cs, "data");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x2);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(kt_drain_socket(as), 4);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* the peer's FIN is a state change: RECV, read() returns 0 */
	close(cs);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x2);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(recv(as, buf, 1, MSG_DONTWAIT), 0);
}

/* TCP over IPv6 (::1): ACCEPT and RECV as over IPv4. */
TEST(tcp6_accept_recv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sa);
	int q = kt_queue(), ls, cs, as;
	struct ukevent ev;
	long long deadline;

	kt_loopback_up();
	ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ls < 0)
		kt_skip("no IPv6 sockets");
	/* ::1 appears on lo shortly after lo comes up */
	deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	while (bind(ls, (struct sockaddr *)&sa, sizeof(sa)))
		if (errno != EADDRNOTAVAIL || kt_mono_ns() > deadline)
			kt_skip("cannot bind ::1");
		else
			kt_msleep(10);
	KT_ASSERT_OK(listen(ls, 8));
	KT_ASSERT_OK(getsockname(ls, (struct sockaddr *)&sa, &len));
	kt_add_socket(q, ls, ACCEPT, 0, 0x6);
	cs = (int)KT_ASSERT_OK(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
	KT_ASSERT_OK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)));
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], ACCEPT);
	as = (int)KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	kt_add_socket(q, as, RECV, KEVENT_REQ_ONESHOT, 0x7);
	put(cs, "v6");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x7);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
}

/* A connection to a listener does not reach the listener's kevent later. */
TEST(tcp_child_not_watched)
{
	struct sockaddr_in sa;
	int q = kt_queue(), ls, cs, as;
	struct ukevent ev, buf[2];

	ls = kt_tcp_listener(&sa, 8);
	kt_add_socket(q, ls, ACCEPT | RECV | SEND, KEVENT_REQ_ET, 0x1);
	cs = kt_tcp_connect(&sa);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], ACCEPT);
	as = (int)KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	/* traffic on the accepted socket: not the listener's business */
	put(cs, "x");
	put(as, "y");
	KT_ASSERT_EQ(recv(cs, buf, 1, 0), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_MARKED), 1);
}

TEST(unix_accept)
{
	struct sockaddr_un sa;
	socklen_t len;
	int q = kt_queue(), ls, cs, as;
	struct ukevent ev;

	ls = kt_unix_listener(&sa, &len, 8);
	kt_add_socket(q, ls, ACCEPT, 0, 0x7);
	cs = kt_unix_connect(&sa, len);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], ACCEPT);
	as = (int)KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	KT_EXPECT(as >= 0);
	(void)cs;
}

/*
 * Write space: a full send buffer, then the peer reads. TCP keeps sending
 * what was queued as the window opens, so the peer reads until the sender
 * has space enough to be writable (as poll() would say) and SEND fires.
 */
static void send_space(int a, int b)
{
	struct __kernel_timespec ts = kevent_ts_ms(100);
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	int q = kt_queue(), r = 0;
	struct ukevent buf[2];

	KT_EXPECT(kt_fill_socket(a) > 0);
	kt_add_socket(q, a, SEND, 0, 0x5);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	while (r == 0 && kt_mono_ns() < deadline) {
		kt_drain_socket(b);
		r = kevent_get_events(q, 1, 1, &ts, buf, 0);
	}
	KT_ASSERT_EQ(r, 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x5);
	KT_EXPECT_EQ(buf[0].ret_data[0], SEND);
	KT_EXPECT(buf[0].ret_data[1] >= 1);
}

TEST(unix_stream_send)
{
	int s[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	send_space(s[0], s[1]);
}

TEST(tcp_send)
{
	struct sockaddr_in sa;
	int ls, cs, as, small = 4096;

	ls = kt_tcp_listener(&sa, 8);
	cs = kt_tcp_connect(&sa);
	as = (int)KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	KT_ASSERT_OK(setsockopt(cs, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	KT_ASSERT_OK(setsockopt(as, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	send_space(cs, as);
}

/* ---- ADD-time readiness ---------------------------------------------- */

TEST(ready_at_add_completes_or_queues)
{
	int q = kt_queue(), s[2];
	struct ukevent uk, buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	put(s[1], "x");
	uk = ukevent_socket(s[0], RECV | SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT_EQ(uk.ret_data[0], RECV | SEND);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	/* ALWAYS_QUEUE: registered and on the ready list */
	uk = ukevent_socket(s[0], RECV, KEVENT_REQ_ALWAYS_QUEUE);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
}

/* ---- flags ----------------------------------------------------------- */

/* Level: unread data is reported again; once read, the re-check drops it. */
TEST(level_rechecked)
{
	int q = kt_queue(), s[2];
	struct ukevent buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, 0, 0);
	put(s[1], "x");
	for (int i = 0; i < 3; i++) {
		KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
		KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
	}
	KT_EXPECT_EQ(kt_drain_socket(s[0]), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT(kevent_fdinfo(q, "stale") >= 1);
	KT_EXPECT(kevent_fdinfo(q, "rechecked") >= 3);
}

/* ET: one delivery per notification, accumulated until delivered. */
TEST(edge_triggered)
{
	int q = kt_queue(), s[2];
	struct ukevent buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, KEVENT_REQ_ET, 0);
	put(s[1], "a");
	put(s[1], "b");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
	KT_EXPECT_EQ(buf[0].ret_data[1], 2);
	/* unread, but no new notification: nothing */
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(s[1], "c");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[1], 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, "rechecked"), 0);
}

TEST(oneshot_removed)
{
	int q = kt_queue(), s[2];
	struct ukevent buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, KEVENT_REQ_ONESHOT, 0);
	put(s[1], "a");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REMOVED), 1);
	put(s[1], "b");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
}

/* LAST_CHECK: data consumed before the dequeue is not reported. */
TEST(last_check_drops_consumed)
{
	int q = kt_queue(), s[2];
	struct ukevent buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ET, 0);
	put(s[1], "a");
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	KT_EXPECT_EQ(kt_drain_socket(s[0]), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, "stale"), 1);
	put(s[1], "b");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
}

/* MODIFY changes the mask and re-checks: SEND is ready at once. */
TEST(modify_rechecks)
{
	int q = kt_queue(), s[2];
	struct ukevent uk, buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q, s[0], RECV, 0, 9);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	uk = ukevent_socket(s[0], RECV | SEND, 0);
	uk.user_u64 = 9;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 1);
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], SEND);
}

/* Two queues and two ids on one socket: each kevent is told. */
TEST(shared_storage)
{
	int q1 = kt_queue(), q2 = kt_queue(), s[2];
	struct ukevent uk, buf[4];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q1, s[0], RECV, KEVENT_REQ_ET, 1);
	kt_add_socket(q2, s[0], RECV, KEVENT_REQ_ET, 2);
	uk = ukevent_socket(s[0], RECV, KEVENT_REQ_ET);
	uk.id.raw[1] = 1;
	uk.user_u64 = 3;
	kt_ctl1_must(q2, KEVENT_CTL_ADD, &uk, 0, "ADD second id");
	put(s[1], "a");
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 4), 1);
	KT_EXPECT_EQ(kt_ready_now(q2, buf, 4), 2);
	/* REMOVE one; the others still work */
	uk = ukevent_socket(s[0], RECV, 0);
	uk.user_u64 = 2;
	KT_EXPECT_EQ(kt_ctl1(q2, KEVENT_CTL_REMOVE, &uk), 1);
	put(s[1], "b");
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 4), 1);
	KT_ASSERT_EQ(kt_ready_now(q2, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 3);
}

/* ---- WAKEUP_ONE ------------------------------------------------------ */

#define HERD 4

static void start_getter(struct kt_waiter *w, int q)
{
	kt_waiter_init(w, q, KT_WAIT_GET);
	w->min_nr = 1;
	w->max_nr = 1;
	w->ts = kevent_ts(60, 0);
	if (!kt_waiter_start_blocked(w)) {
		kt_fail_at(__FILE__, __LINE__, "waiter never slept: ret %d errno %d", w->ret, w->err);
		kt_end_test();
	}
}

/* Index of the first waiter that returned within KT_SOON_MS, or -1. */
/*
 * HERD threads of one queue sleep on one WAKEUP_ONE ACCEPT kevent of a
 * listener; one connection wakes exactly one of them (fdinfo wakeups).
 * Without the flag every sleeper is woken.
 */
static void herd_one_queue(__u32 flags, long long want_wakeups)
{
	struct sockaddr_in sa;
	struct kt_waiter w[HERD];
	int q = kt_queue(), ls, i;

	ls = kt_tcp_listener(&sa, 64);
	kt_add_socket(q, ls, ACCEPT, flags, 0x42);
	for (i = 0; i < HERD; i++)
		start_getter(&w[i], q);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_WAITERS), HERD);
	kt_tcp_connect(&sa);
	i = kt_waiter_first_done(w, HERD, KT_SOON_MS);
	KT_ASSERT(i >= 0);
	KT_EXPECT_EQ(w[i].ret, 1);
	KT_EXPECT_EQ(w[i].buf[0].ret_data[0], ACCEPT);
	if (want_wakeups == 1) {
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), 1);
	} else {
		/* all were woken; the others go back to sleep (none returns) */
		long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

		while (kevent_fdinfo(q, KFD_WAKEUPS) < want_wakeups && kt_mono_ns() < deadline)
			kt_msleep(1);
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), want_wakeups);
	}
	KT_ASSERT_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC));
	kt_release_waiters(q, w, HERD);
}

/* ET in both: a level re-arm would let the woken herd take it again. */
TEST(wakeup_one_threads)
{
	herd_one_queue(KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET, 1);
}

TEST(wakeup_all_threads)
{
	herd_one_queue(KEVENT_REQ_ET, HERD);
}

/*
 * One queue per worker (pre-fork style), each with a WAKEUP_ONE ACCEPT
 * kevent on the same listener and one sleeper: one connection wakes one
 * worker, in total, across the queues.
 */
TEST(wakeup_one_queues)
{
	struct sockaddr_in sa;
	struct kt_waiter w[HERD];
	int q[HERD], ls, i, c;
	long long total = 0;

	ls = kt_tcp_listener(&sa, 64);
	for (i = 0; i < HERD; i++) {
		q[i] = kt_queue();
		kt_add_socket(q[i], ls, ACCEPT, KEVENT_REQ_WAKEUP_ONE, (__u64)i);
		start_getter(&w[i], q[i]);
	}
	kt_tcp_connect(&sa);
	c = kt_waiter_first_done(w, HERD, KT_SOON_MS);
	KT_ASSERT(c >= 0);
	KT_EXPECT_EQ(w[c].ret, 1);
	KT_EXPECT_EQ(w[c].buf[0].user_u64, (__u64)c);
	for (i = 0; i < HERD; i++)
		total += kevent_fdinfo(q[i], KFD_WAKEUPS);
	KT_EXPECT_EQ(total, 1);
	for (i = 0; i < HERD; i++)
		kt_release_waiters(q[i], &w[i], 1);
}

/*
 * A WAKEUP_ONE kevent removed while its event waited undelivered may have
 * been the one its connection's wake-up stopped at: the removal passes it
 * on to the socket's other kevents if a connection is still pending.
 * Queue B (ET) has already taken its event; A's is still ready when A
 * removes it: B is told again. Without WAKEUP_ONE on A, nothing is passed.
 */
static void removal_passes_on(__u32 a_flags, int want_b)
{
	struct sockaddr_in sa;
	int qa = kt_queue(), qb = kt_queue(), ls;
	struct ukevent uk, buf[2];

	ls = kt_tcp_listener(&sa, 8);
	kt_add_socket(qa, ls, ACCEPT, a_flags, 0xa);
	kt_add_socket(qb, ls, ACCEPT, KEVENT_REQ_ET, 0xb);
	kt_tcp_connect(&sa);
	/* nobody sleeps: the connection marks both */
	KT_ASSERT_EQ(kt_ready_now(qb, buf, 2), 1);
	KT_EXPECT_EQ(kt_ready_now(qb, buf, 2), 0);
	KT_ASSERT_EQ(kevent_fdinfo(qa, KFD_READY), 1);
	uk = ukevent_socket(ls, ACCEPT, 0);
	uk.user_u64 = 0xa;
	KT_EXPECT_EQ(kt_ctl1(qa, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_EQ(kt_ready_now(qb, buf, 2), want_b);
	if (want_b)
		KT_EXPECT_EQ(buf[0].ret_data[0], ACCEPT);
}

TEST(wakeup_one_removal_passes_on)
{
	removal_passes_on(KEVENT_REQ_WAKEUP_ONE, 1);
}

TEST(removal_without_wakeup_one_passes_nothing)
{
	removal_passes_on(0, 0);
}

/* ---- close while registered ------------------------------------------ */

/* Closing the socket removes its kevents, waiting or ready, everywhere. */
TEST(close_removes)
{
	int q1 = kt_queue(), q2 = kt_queue(), s[2], d;
	struct ukevent buf[2];

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
	kt_add_socket(q1, s[0], RECV, 0, 1);
	kt_add_socket(q2, s[0], RECV, KEVENT_REQ_WAKEUP_ONE, 2);
	put(s[1], "x");
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_READY), 1);
	/* a dup keeps the socket open: the kevents stay */
	d = (int)KT_ASSERT_OK(dup(s[0]));
	close(s[0]);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 1);
	close(d);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REMOVED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 2), 0);
	KT_EXPECT_EQ(kt_ready_now(q2, buf, 2), 0);
	/* the peer still works */
	KT_EXPECT_EQ(send(s[1], "y", 1, MSG_NOSIGNAL), -1);
}

/* A closed TCP listener with sleeping waiters and a pending connection. */
TEST(close_listener_with_waiters)
{
	struct sockaddr_in sa;
	struct kt_waiter w;
	int q = kt_queue(), ls;

	ls = kt_tcp_listener(&sa, 8);
	kt_add_socket(q, ls, ACCEPT, KEVENT_REQ_WAKEUP_ONE, 1);
	start_getter(&w, q);
	close(ls);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_ctl(q, KEVENT_CTL_READY, 0, NULL), 0);
	KT_EXPECT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 0);
}

/* The queue goes first, then the socket; and a socket that had kevents. */
TEST(queue_closed_first)
{
	struct sockaddr_in sa;
	int q = kt_queue(), ls, cs;

	ls = kt_tcp_listener(&sa, 8);
	kt_add_socket(q, ls, ACCEPT | RECV, 0, 1);
	cs = kt_tcp_connect(&sa);
	close(q);
	/* the sock still reports: nobody listens, nothing breaks */
	cs = kt_tcp_connect(&sa);
	close(ls);
	close(cs);
}

/* Many sockets, each closed while its kevent is ready or waiting. */
TEST(close_churn)
{
	int q = kt_queue();

	for (int i = 0; i < 200; i++) {
		int s[2];

		KT_ASSERT_OK(socketpair(AF_UNIX, (i & 1 ? SOCK_DGRAM : SOCK_STREAM) |
					SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
		kt_add_socket(q, s[0], RECV, (__u32)(i % 3 == 0 ? KEVENT_REQ_ET : 0), (__u64)i);
		kt_add_socket(q, s[1], SEND | RECV, KEVENT_REQ_ALWAYS_QUEUE, (__u64)i);
		if (i & 2)
			put(s[1], "z");
		close(s[i & 1]);
		close(s[!(i & 1)]);
	}
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
}

/*
 * Sockets closed while a thread dequeues their kevents, and while the
 * loopback delivers to them (softirq notifications racing the release):
 * for the debug kernel (KASAN, lockdep) more than for the counts.
 */
/*
 * ADD with id.raw[1] = gen: the key is the fd number, and a socket closed
 * here may be released a little later by a drainer whose dequeue check
 * held the last reference; its kevent (same fd number) stays registered
 * until then, so a new socket on that number needs another key.
 */
static void add_gen(int q, int fd, __u32 gen, __u32 events, __u32 flags)
{
	struct ukevent uk = ukevent_socket(fd, events, flags);

	uk.id.raw[1] = gen;
	uk.user_u64 = gen;
	kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, "ADD socket, generation id");
}

TEST(close_race)
{
	static const __u32 flags[] = { 0, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT,
				       KEVENT_REQ_WAKEUP_ONE, KEVENT_REQ_LAST_CHECK };
	struct kt_drainers d;
	int q = kt_queue();
	struct sockaddr_in sa;
	int ls, i;

	ls = kt_tcp_listener(&sa, 256);
	kt_add_socket(q, ls, ACCEPT, 0, 0xa);
	kt_drainers_start(&d, q, 2);
	for (i = 0; i < 300; i++) {
		__u32 f = flags[i % 5];
		int s[2], cs, as;

		KT_ASSERT_OK(socketpair(AF_UNIX, (i & 1 ? SOCK_DGRAM : SOCK_STREAM) |
					SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s));
		add_gen(q, s[0], (__u32)i, RECV, f);
		add_gen(q, s[1], (__u32)i, SEND | RECV, f | KEVENT_REQ_ALWAYS_QUEUE);
		send(s[1], "r", 1, MSG_NOSIGNAL);
		close(s[i % 2]);
		send(s[!(i % 2)], "r", 1, MSG_NOSIGNAL);
		close(s[!(i % 2)]);
		if (i % 10)
			continue;
		/* TCP: a connection whose both ends have kevents, closed */
		cs = kt_tcp_connect(&sa);
		as = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (as < 0) {
			close(cs);
			continue;
		}
		add_gen(q, as, 0x1000 + (__u32)i, RECV, f);
		add_gen(q, cs, 0x1000 + (__u32)i, RECV | SEND, KEVENT_REQ_ALWAYS_QUEUE);
		send(cs, "x", 1, MSG_NOSIGNAL);
		close(i % 20 ? as : cs);
		send(i % 20 ? cs : as, "y", 1, MSG_NOSIGNAL);
		close(i % 20 ? cs : as);
	}
	KT_EXPECT(kt_drainers_stop(&d));
	close(ls);
	/* the drainers have exited: every release they held has run */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	kt_log("%ld events dequeued while their sockets closed", d.got);
}
