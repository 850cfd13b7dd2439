// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_stale - the "stale" line of a queue's fdinfo counts exactly the
 * kevents that a dequeue polled again and dropped because they were no
 * longer ready (lab/08-fdinfo-counter: the test that comes with the
 * counter).
 *
 * Exact counts, not ">= 1": a counter that also counted re-polls that
 * found the kevent ready, or counted a drop twice, must fail here.
 */
#include "kevent_test.h"

#define KFD_STALE	"stale"
#define KFD_RECHECKED	"rechecked"

static int make_pipe_kevent(int q, int p[2], __u32 flags)
{
	struct ukevent uk;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = ukevent_poll(p[0], POLLIN, flags);
	kt_ctl1_must_at(__FILE__, __LINE__, q, KEVENT_CTL_ADD, &uk, 0, "ADD poll");
	return p[0];
}

/* A new queue has the line, at 0. */
TEST(stale_starts_at_zero)
{
	int q = kt_queue();

	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_STALE), 0);
}

/*
 * Level triggered: each delivered-then-drained pipe is dropped once at the
 * next dequeue; a pipe still holding data is re-polled but not stale.
 */
TEST(stale_counts_each_level_drop_once)
{
	int q = kt_queue(), p[3][2], i;
	struct ukevent buf[8];
	char c;

	for (i = 0; i < 3; i++) {
		make_pipe_kevent(q, p[i], 0);
		KT_ASSERT(write(p[i][1], "x", 1) == 1);
	}
	KT_ASSERT_EQ(kt_get_now(q, buf, 8), 3);
	/* drain two of the three */
	KT_ASSERT(read(p[0][0], &c, 1) == 1);
	KT_ASSERT(read(p[2][0], &c, 1) == 1);
	KT_ASSERT_EQ(kt_get_now(q, buf, 8), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_STALE), 2);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_RECHECKED), 3);
	/* nothing requeued is dropped twice */
	KT_ASSERT(read(p[1][0], &c, 1) == 1);
	KT_ASSERT_EQ(kt_get_now(q, buf, 8), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_STALE), 3);
	KT_ASSERT_EQ(kt_get_now(q, buf, 8), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_STALE), 3);
}

/* LAST_CHECK: readied, drained before the dequeue, dropped: one stale. */
TEST(stale_counts_last_check_drop)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[4];
	char c;

	make_pipe_kevent(q, p, KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	KT_ASSERT(read(p[0], &c, 1) == 1);
	KT_ASSERT_EQ(kt_get_now(q, buf, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_STALE), 1);
}
