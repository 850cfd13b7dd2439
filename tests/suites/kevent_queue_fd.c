// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_queue_fd - the queue descriptor as a pollable file: readable for
 * poll(2) and epoll while events are ready, and epoll chains and cycles
 * through POLL kevents that never deadlock.
 */
#include <poll.h>
#include <sys/epoll.h>

#include "kevent_test.h"

/*
 * The queue fd itself is pollable (as in the original series): readable
 * while events are ready. poll(2) and epoll see it.
 */
TEST(queue_fd_pollable)
{
	int q = kt_queue(), e = epoll_create1(EPOLL_CLOEXEC);
	struct pollfd pfd = { .fd = q, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
	struct ukevent buf[2];

	KT_ASSERT(e >= 0);
	kt_add_user(q, 1, 0, 0);
	KT_EXPECT_EQ(poll(&pfd, 1, 0), 0);
	KT_ASSERT_OK(epoll_ctl(e, EPOLL_CTL_ADD, q, &ev));
	KT_EXPECT_EQ(epoll_wait(e, &ev, 1, 0), 0);
	kt_ready_user(q, 1, 0, 0);
	KT_EXPECT_EQ(poll(&pfd, 1, KT_SOON_MS), 1);
	KT_EXPECT(pfd.revents & POLLIN);
	KT_EXPECT_EQ(epoll_wait(e, &ev, 1, KT_SOON_MS), 1);
	KT_EXPECT_EQ(ev.data.u64, 7);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(poll(&pfd, 1, 0), 0);
}

/*
 * A kevent queue may watch an epoll fd that watches a kevent queue, even
 * the same queue (only direct polling of a queue is refused): events
 * propagate and nothing deadlocks on the way (wake-ups nest through
 * epoll's callback into kevent's).
 */
static void epoll_case(bool cycle)
{
	int q = kt_queue(), q2 = kt_queue(), e = epoll_create1(EPOLL_CLOEXEC);
	int target = cycle ? q : q2, r, user = 0, poll_e = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	struct __kernel_timespec ts = kevent_ts(30, 0);
	struct ukevent buf[4];

	KT_ASSERT(e >= 0);
	KT_ASSERT_OK(epoll_ctl(e, EPOLL_CTL_ADD, target, &ev));
	kt_add_poll(q, e, POLLIN, KEVENT_REQ_ET, 0xe);
	kt_add_user(target, 1, 0x1, 0);
	kt_ready_user(target, 1, 0x1, 0);
	/* e sees the target queue readable */
	KT_EXPECT_EQ(epoll_wait(e, &ev, 1, KT_SOON_MS), 1);
	/* q sees e readable (and, in the cycle, its own USER event) */
	r = kevent_get_events(q, cycle ? 2 : 1, 4, &ts, buf, 0);
	for (int i = 0; i < r; i++) {
		user += buf[i].type == KEVENT_USER;
		poll_e += buf[i].type == KEVENT_POLL && buf[i].user_u64 == 0xe &&
			  (buf[i].ret_data[0] & POLLIN);
	}
	KT_EXPECT_EQ(poll_e, 1);
	KT_EXPECT_EQ(user, cycle ? 1 : 0);
	if (!cycle)
		KT_EXPECT_EQ(kt_ready_now(q2, buf, 4), 1);
	/* everything consumed: the target queue is no longer readable */
	KT_EXPECT_EQ(epoll_wait(e, &ev, 1, 0), 0);
}

TEST(epoll_chain)
{
	epoll_case(false);
}

TEST(epoll_cycle)
{
	epoll_case(true);
}
