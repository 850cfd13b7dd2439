// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_fuzz - a seeded, bounded fuzzer of the five kevent system calls,
 * with a model of every queue as its oracle (the fuzzer is fuzz_*.c in
 * libktest.a; fuzz.h says how to give a seed and replay a failure).
 *
 * Inputs: random and boundary values for every argument: huge num,
 * max_nr, ring_size; NULL, kernel, non-canonical, unmapped, PROT_NONE,
 * read-only, unaligned pointers and arrays that run into a guard page;
 * bad, unaligned, read-only and unmapped rings; wrapped indices and stale
 * or garbage `over`; invalid types, flags, commands, events and timeouts;
 * descriptors of every kind (closed, -1, huge, O_PATH, pipe, eventfd,
 * sockets, /dev/null, a file, a directory, epoll, another queue,
 * /dev/kevent, the queue itself as a POLL target).
 *
 * Oracle: every return is success or an errno that docs/abi.md allows
 * for that call (docs/errors.md, "What the fuzzer accepts"); when the
 * model knows which violations an input has, the errno must be one of
 * exactly those, and a valid input must succeed. Side effects are checked
 * against fdinfo after every call (the set of registered kevents, the ring
 * indexes), deliveries against the model (USER events exactly: delivered
 * once per READY batch, with the count and mask of the READYs), and at the
 * end of every batch every queue must still work: pending events drain
 * exactly once and a fresh USER event readied is delivered exactly once.
 *
 * Each test is one mix of operations; the regressions below are fuzzer
 * findings reduced to a deterministic case.
 */
#include "kevent_test.h"
#include "fuzz.h"

#include <sys/mman.h>

#define PAGE 4096

TEST_TIMEOUT(fuzz_init, 300)
{
	fz_run("fuzz_init", FZ_OP_INIT, 8, 400);
}

TEST_TIMEOUT(fuzz_ctl, 300)
{
	fz_run("fuzz_ctl", FZ_OP_CTL | FZ_OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_get_events, 300)
{
	fz_run("fuzz_get_events", FZ_OP_CTL | FZ_OP_GET | FZ_OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_ring, 300)
{
	fz_run("fuzz_ring", FZ_OP_CTL | FZ_OP_WAIT | FZ_OP_COMMIT | FZ_OP_SABOTAGE | FZ_OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_mixed, 300)
{
	fz_run("fuzz_mixed", FZ_OP_INIT | FZ_OP_CTL | FZ_OP_GET | FZ_OP_WAIT | FZ_OP_COMMIT |
			     FZ_OP_SABOTAGE | FZ_OP_MISC | FZ_OP_CHURN, 24, 600);
}

/* ======================================================================
 * Regressions: fuzzer findings reduced to a deterministic case.
 * ====================================================================== */

/*
 * fuzz_mixed (seed 1, batch 1): a POLL kevent readied by a wake-up without
 * a key (here: the pipe's last writer closes) is polled when dequeued; if
 * the copy to user space then fails, it must come back with its mask, not
 * with ret_data[0] == 0. The ring path (kevent_wait into a read-only ring)
 * is the same.
 */
TEST(regress_poll_mask_after_copy_fault)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct kevent_ring *ring = kevent_ring_alloc(4);
	struct ukevent uk, buf[4];
	int q, rq, p[2], r;

	KT_ASSERT(ring);
	q = kt_queue();
	rq = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk), 0);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(rq, KEVENT_CTL_ADD, 1, &uk), 0);
	close(p[1]);	/* POLLHUP, announced by a wake-up without a key */

	KT_EXPECT_ERRNO(kevent_get_events(q, 0, 4, &zero, NULL, 0), EFAULT);
	r = kevent_get_events(q, 0, 4, &zero, buf, 0);
	KT_ASSERT_EQ(r, 1);
	KT_EXPECT_EQ(buf[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	if (!(buf[0].ret_data[0] & POLLHUP))
		kt_fail_at(__FILE__, __LINE__,
			   "get_events after a failed copy: ret_data[0] %#x, expected POLLHUP (%#x)",
			   buf[0].ret_data[0], POLLHUP);

	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ));
	KT_EXPECT_ERRNO(kevent_wait(rq, 4, 0, &zero, 0), EFAULT);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ | PROT_WRITE));
	KT_ASSERT_EQ(kevent_wait(rq, 1, 0, &zero, 0), 1);
	if (!(ring->event[0].ret_data[0] & POLLHUP))
		kt_fail_at(__FILE__, __LINE__,
			   "kevent_wait after a failed copy: ret_data[0] %#x, expected POLLHUP (%#x)",
			   ring->event[0].ret_data[0], POLLHUP);
	close(p[0]);
	close(q);
	close(rq);
}
