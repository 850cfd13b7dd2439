// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_ctl - the four commands, their whole-call errors, per-entry results
 * (ret_flags / ret_data[0] errno), mixed batches, READY with num == 0, and
 * that a removed kevent is never delivered.
 */
#include <poll.h>

#include "kevent_test.h"

/* Dequeue everything ready now into buf (up to max). */
static int drain(int fd, struct ukevent *buf, unsigned int max)
{
	return kt_get_now(fd, buf, max);
}

/* A pipe holding one byte: its read end is ready for POLLIN. */
static void readable_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	KT_ASSERT(write(p[1], "x", 1) == 1);
}

/* ---- happy paths ----------------------------------------------------- */

TEST(add_registers)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(42, 0xabcdef0123456789ull);
	struct ukevent out[4];

	uk.ret_flags = 0xdead;
	uk.ret_data[0] = 0xbeef;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	/* a registered entry is not written back */
	KT_EXPECT_EQ(uk.ret_flags, 0xdead);
	KT_EXPECT_EQ(uk.ret_data[0], 0xbeef);
	/* not ready yet */
	KT_EXPECT_EQ(drain(fd, out, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	/* registered: READY finds it */
	kt_ready_user(fd, 42, 0xabcdef0123456789ull, 1);
	KT_ASSERT_EQ(drain(fd, out, 4), 1);
	KT_EXPECT_EQ(out[0].id.raw_u64, 42);
	KT_EXPECT_EQ(out[0].type, KEVENT_USER);
	KT_EXPECT_EQ(out[0].user_u64, 0xabcdef0123456789ull);
}

TEST(num_zero_is_noop)
{
	int fd = kt_queue();

	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 0, NULL), 0);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_REMOVE, 0, NULL), 0);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_MODIFY, 0, NULL), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

TEST(remove_one)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(5, 55);

	kt_add_user(fd, 5, 55, 0);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_DONE(uk);
	/* gone: a second REMOVE and a READY do not find it */
	uk = ukevent_user(5, 55);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	uk = ukevent_user(5, 55);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_READY, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	/* the key is free again */
	kt_add_user(fd, 5, 56, 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
}

/* MODIFY replaces req_flags: a kevent made ONESHOT disappears once delivered. */
TEST(modify_flags)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(9, 99), out[2];

	kt_add_user(fd, 9, 99, 0);
	uk.req_flags = KEVENT_REQ_ONESHOT;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_MODIFY, &uk), 1);
	KT_EXPECT_DONE(uk);
	kt_ready_user(fd, 9, 99, 0);
	KT_EXPECT_EQ(drain(fd, out, 2), 1);
	uk = ukevent_user(9, 99);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_READY, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);

	/* and back: ONESHOT removed by MODIFY keeps the kevent */
	kt_add_user(fd, 10, 1, KEVENT_REQ_ONESHOT);
	uk = ukevent_user(10, 1);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_MODIFY, &uk), 1);
	kt_ready_user(fd, 10, 1, 0);
	KT_EXPECT_EQ(drain(fd, out, 2), 1);
	kt_ready_user(fd, 10, 1, 0);
	KT_EXPECT_EQ(drain(fd, out, 2), 1);
}

/* MODIFY re-checks at once: a POLL kevent whose new mask is ready fires. */
TEST(modify_rechecks)
{
	int fd = kt_queue(), p[2];
	struct ukevent uk, out[2];

	readable_pipe(p);
	/* edge triggered: only the re-check at MODIFY can make it ready */
	uk = ukevent_poll(p[0], POLLPRI, KEVENT_REQ_ET);	/* never on a pipe */
	uk.user_u64 = 7;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(drain(fd, out, 2), 0);
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ET);
	uk.user_u64 = 7;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_MODIFY, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_ASSERT_EQ(drain(fd, out, 2), 1);
	KT_EXPECT_EQ(out[0].id.raw[0], (__u32)p[0]);
	KT_EXPECT_EQ(out[0].user_u64, 7);
	KT_EXPECT(out[0].ret_data[0] & POLLIN);
	KT_EXPECT_EQ(drain(fd, out, 2), 0);
}

TEST(ready_one)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(3, 4), out[2];

	kt_add_user(fd, 3, 4, 0);
	uk.event = 0x1234;
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_READY, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_ASSERT_EQ(drain(fd, out, 2), 1);
	KT_EXPECT_EQ(out[0].ret_data[0], 0x1234);
	KT_EXPECT_EQ(out[0].user_u64, 4);
}

/* ---- whole-call errors ----------------------------------------------- */

TEST(bad_fd)
{
	struct ukevent uk = ukevent_user(1, 0);
	int fd = kt_queue();

	KT_EXPECT_ERRNO(kt_ctl1(-1, KEVENT_CTL_ADD, &uk), EBADF);
	KT_EXPECT_ERRNO(kt_ctl1(1000000, KEVENT_CTL_ADD, &uk), EBADF);
	close(fd);
	KT_EXPECT_ERRNO(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), EBADF);
	/* O_PATH descriptors are not usable either */
	int opath = open("/proc/self", O_PATH | O_CLOEXEC);

	KT_ASSERT(opath >= 0);
	errno = 0;
	int r = kt_ctl1(opath, KEVENT_CTL_ADD, &uk);

	KT_EXPECT(r == -1 && (errno == EBADF || errno == EINVAL));
}

TEST(not_a_queue)
{
	struct ukevent uk = ukevent_user(1, 0);
	int p[2], efd = open("/dev/null", O_RDWR | O_CLOEXEC);

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_EXPECT_ERRNO(kt_ctl1(p[0], KEVENT_CTL_ADD, &uk), EINVAL);
	KT_EXPECT_ERRNO(kt_ctl1(p[1], KEVENT_CTL_READY, &uk), EINVAL);
	KT_EXPECT_ERRNO(kt_ctl1(efd, KEVENT_CTL_REMOVE, &uk), EINVAL);
	KT_EXPECT_ERRNO(kt_ctl1(efd, KEVENT_CTL_READY, NULL), EINVAL);
	KT_EXPECT_ERRNO(kevent_ctl(efd, KEVENT_CTL_READY, 0, NULL), EINVAL);
}

TEST(unknown_cmd)
{
	struct ukevent uk = ukevent_user(1, 0);
	int fd = kt_queue();

	KT_EXPECT_ERRNO(kt_ctl1(fd, 4, &uk), EINVAL);
	KT_EXPECT_ERRNO(kt_ctl1(fd, 0x100, &uk), EINVAL);
	KT_EXPECT_ERRNO(kt_ctl1(fd, 0xffffffffu, &uk), EINVAL);
	KT_EXPECT_ERRNO(kevent_ctl(fd, 4, 0, NULL), EINVAL);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

TEST(too_big)
{
	int fd = kt_queue();
	struct ukevent *arr = calloc(KEVENT_MAX_BATCH + 1, sizeof(*arr));

	KT_ASSERT(arr);
	for (unsigned int i = 0; i <= KEVENT_MAX_BATCH; i++)
		arr[i] = ukevent_user(i, i);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_ADD, KEVENT_MAX_BATCH + 1, arr), E2BIG);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_READY, 0xffffffffu, arr), E2BIG);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_REMOVE, 0x80000000u, arr), E2BIG);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	/* exactly the maximum is accepted */
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, KEVENT_MAX_BATCH, arr), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), KEVENT_MAX_BATCH);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_REMOVE, KEVENT_MAX_BATCH, arr), KEVENT_MAX_BATCH);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	free(arr);
}

TEST(bad_pointer)
{
	int fd = kt_queue();
	void *none = kt_bad_page(PROT_NONE);

	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_ADD, 1, NULL), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, NULL), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_MODIFY, 1, NULL), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_READY, 1, NULL), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_ADD, 3, none), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_READY, 1, none), EFAULT);
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_ADD, 1,
				   (struct ukevent *)0xffffffff81000000ull), EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* A later entry that cannot be read ends the batch; earlier ones count. */
TEST(batch_ends_at_unreadable_entry)
{
	int fd = kt_queue();
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ukevent *arr, out[4];

	KT_ASSERT(p != MAP_FAILED);
	KT_ASSERT_OK(mprotect(p + 4096, 4096, PROT_NONE));
	arr = (struct ukevent *)(p + 4096 - sizeof(struct ukevent));
	kt_add_user(fd, 1, 11, 0);
	arr[0] = ukevent_user(1, 11);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 3, arr), 1);
	KT_EXPECT_DONE(arr[0]);
	KT_EXPECT_EQ(drain(fd, out, 4), 1);
	/* ADD: the first one is registered, the call reports no completion */
	arr[0] = ukevent_user(2, 22);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 2, arr), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 2);
}

/* An entry that cannot be written back: EFAULT, but it was processed. */
TEST(unwritable_entry_efault_after_processing)
{
	int fd = kt_queue();
	struct ukevent *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), out[4];

	KT_ASSERT(ro != MAP_FAILED);
	kt_add_user(fd, 1, 11, 0);
	ro[0] = ukevent_user(1, 11);
	KT_ASSERT_OK(mprotect(ro, 4096, PROT_READ));
	KT_EXPECT_ERRNO(kevent_ctl(fd, KEVENT_CTL_READY, 1, ro), EFAULT);
	KT_EXPECT_EQ(drain(fd, out, 4), 1);
	/* a registered ADD is not written back, so read-only memory is fine */
	KT_ASSERT_OK(mprotect(ro, 4096, PROT_READ | PROT_WRITE));
	ro[0] = ukevent_user(2, 22);
	KT_ASSERT_OK(mprotect(ro, 4096, PROT_READ));
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 1, ro), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 2);
}

/* ---- per-entry errors ------------------------------------------------ */

static void expect_add_broken(int fd, struct ukevent uk, int err, const char *what)
{
	int r = kt_ctl1(fd, KEVENT_CTL_ADD, &uk);

	if (r != 1)
		kt_fail_at(__FILE__, __LINE__, "%s: ADD returned %d (errno %d), expected 1",
			   what, r, errno);
	if (uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) || uk.ret_data[0] != (__u32)err)
		kt_fail_at(__FILE__, __LINE__,
			   "%s: ret_flags %#x ret_data[0] %u, expected DONE|BROKEN and %d",
			   what, uk.ret_flags, uk.ret_data[0], err);
}

TEST(add_bad_type)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(1, 0);
	static const __u32 bad[] = {
		KEVENT_MAX_TYPES, 11, 1000, 0xffffffffu,
		KEVENT_NAIO, KEVENT_AIO,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[32];

		uk.type = bad[i];
		snprintf(what, sizeof(what), "type %u", bad[i]);
		expect_add_broken(fd, uk, EINVAL, what);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

TEST(add_bad_req_flags)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(1, 0);
	static const __u32 bad[] = { 0x20, 0x40, 0x100, 0x80000000u, KEVENT_REQ_MASK + 1,
				     0xffffffffu };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[32];

		uk.req_flags = bad[i];
		snprintf(what, sizeof(what), "req_flags %#x", bad[i]);
		expect_add_broken(fd, uk, EINVAL, what);
	}
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	/* every defined flag together is fine */
	kt_add_user(fd, 2, 0, KEVENT_REQ_MASK);
}

TEST(add_duplicate)
{
	int fd = kt_queue();
	struct ukevent uk = ukevent_user(8, 1), two[2];

	kt_add_user(fd, 8, 1, 0);
	/* same key, even with other user data */
	expect_add_broken(fd, ukevent_user(8, 1), EEXIST, "same id/user");
	expect_add_broken(fd, ukevent_user(8, 2), EEXIST, "same id");
	/* duplicate inside one batch: the second one fails */
	two[0] = ukevent_user(20, 1);
	two[1] = ukevent_user(20, 2);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 2, two), 1);
	KT_EXPECT_EQ(two[0].user_u64, 2);
	KT_EXPECT_BROKEN(two[0], EEXIST);
	/* the key is (type, id): the same id with another type is another kevent */
	uk = ukevent_timer(8, 0, 0);
	KT_EXPECT_EQ(uk.id.raw_u64, 8);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 3);
}

/* REMOVE, MODIFY and READY match (type, id) and user. */
TEST(no_match)
{
	static const unsigned int cmds[] = { KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY,
					     KEVENT_CTL_READY };
	int fd = kt_queue();
	struct ukevent uk, out[2];

	kt_add_user(fd, 100, 0x1111222233334444ull, 0);
	for (size_t i = 0; i < 3; i++) {
		kt_log("cmd %u", cmds[i]);
		/* wrong id */
		uk = ukevent_user(101, 0x1111222233334444ull);
		KT_EXPECT_EQ(kt_ctl1(fd, cmds[i], &uk), 0);
		KT_EXPECT_BROKEN(uk, ENOENT);
		/* right id, wrong user data (either half) */
		uk = ukevent_user(100, 0x1111222233334445ull);
		KT_EXPECT_EQ(kt_ctl1(fd, cmds[i], &uk), 0);
		KT_EXPECT_BROKEN(uk, ENOENT);
		uk = ukevent_user(100, 0x0111222233334444ull);
		KT_EXPECT_EQ(kt_ctl1(fd, cmds[i], &uk), 0);
		KT_EXPECT_BROKEN(uk, ENOENT);
		/* right id and user, wrong type */
		uk = ukevent_user(100, 0x1111222233334444ull);
		uk.type = KEVENT_TIMER;
		KT_EXPECT_EQ(kt_ctl1(fd, cmds[i], &uk), 0);
		KT_EXPECT(uk.ret_flags & KEVENT_RET_BROKEN);
	}
	/* nothing happened to the kevent */
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	KT_EXPECT_EQ(drain(fd, out, 2), 0);
	kt_ready_user(fd, 100, 0x1111222233334444ull, 0);
	KT_EXPECT_EQ(drain(fd, out, 2), 1);
}

/* ---- batches --------------------------------------------------------- */

/*
 * ADD: completed entries (broken, or ready at ADD) are copied to the front in
 * order and counted; the others are registered.
 */
TEST(add_batch_compaction)
{
	int fd = kt_queue(), p[2];
	struct ukevent arr[7], out[8];

	readable_pipe(p);
	kt_add_user(fd, 1, 0, 0);
	arr[0] = ukevent_user(10, 100);			/* ok */
	arr[1] = ukevent_user(11, 101);			/* bad type */
	arr[1].type = 77;
	arr[2] = ukevent_user(12, 102);			/* ok */
	arr[3] = ukevent_poll(p[0], POLLIN, 0);		/* ready at ADD: done */
	arr[3].user_u64 = 103;
	arr[4] = ukevent_user(1, 104);			/* duplicate of an old one */
	arr[5] = ukevent_user(15, 105);			/* bad flags */
	arr[5].req_flags = 0x40;
	arr[6] = ukevent_user(16, 106);			/* ok */

	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 7, arr), 4);
	KT_EXPECT_EQ(arr[0].user_u64, 101);
	KT_EXPECT_EQ(arr[0].type, 77);
	KT_EXPECT_BROKEN(arr[0], EINVAL);
	KT_EXPECT_EQ(arr[1].user_u64, 103);
	KT_EXPECT_EQ(arr[1].type, KEVENT_POLL);
	KT_EXPECT_DONE(arr[1]);
	KT_EXPECT(arr[1].ret_data[0] & POLLIN);
	KT_EXPECT_EQ(arr[2].user_u64, 104);
	KT_EXPECT_BROKEN(arr[2], EEXIST);
	KT_EXPECT_EQ(arr[3].user_u64, 105);
	KT_EXPECT_BROKEN(arr[3], EINVAL);

	/* old one + three ok ones; the ready POLL is done, not registered */
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 4);
	KT_EXPECT_EQ(drain(fd, out, 8), 0);
	for (__u64 id = 10; id <= 16; id += (id == 10 ? 2 : 4))
		kt_ready_user(fd, id, id + 90, 0);
	KT_EXPECT_EQ(drain(fd, out, 8), 3);
}

/* MODIFY/REMOVE/READY: results in place, count of successes returned. */
TEST(inplace_batches)
{
	int fd = kt_queue();
	struct ukevent arr[5], out[8];

	for (int i = 0; i < 4; i++)
		kt_add_user(fd, i, 1000 + i, 0);

	/* READY [0] [nomatch] [2] [wrong user of 3] [3] */
	arr[0] = ukevent_user(0, 1000);
	arr[1] = ukevent_user(50, 1050);
	arr[2] = ukevent_user(2, 1002);
	arr[3] = ukevent_user(3, 9999);
	arr[4] = ukevent_user(3, 1003);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 5, arr), 3);
	KT_EXPECT_DONE(arr[0]);
	KT_EXPECT_BROKEN(arr[1], ENOENT);
	KT_EXPECT_DONE(arr[2]);
	KT_EXPECT_BROKEN(arr[3], ENOENT);
	KT_EXPECT_DONE(arr[4]);
	KT_EXPECT_EQ(arr[1].user_u64, 1050);	/* in place, not compacted */
	KT_EXPECT_EQ(drain(fd, out, 8), 3);

	/* MODIFY [1 -> ONESHOT] [nomatch] */
	arr[0] = ukevent_user(1, 1001);
	arr[0].req_flags = KEVENT_REQ_ONESHOT;
	arr[1] = ukevent_user(1, 1000);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_MODIFY, 2, arr), 1);
	KT_EXPECT_DONE(arr[0]);
	KT_EXPECT_BROKEN(arr[1], ENOENT);

	/* REMOVE [nomatch] [0] [0 again] [2] */
	arr[0] = ukevent_user(7, 1007);
	arr[1] = ukevent_user(0, 1000);
	arr[2] = ukevent_user(0, 1000);
	arr[3] = ukevent_user(2, 1002);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_REMOVE, 4, arr), 2);
	KT_EXPECT_BROKEN(arr[0], ENOENT);
	KT_EXPECT_DONE(arr[1]);
	KT_EXPECT_BROKEN(arr[2], ENOENT);
	KT_EXPECT_DONE(arr[3]);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 2);
}

/* ---- READY with num == 0 -------------------------------------------- */

TEST_TIMEOUT(ready_zero_wakes_waiters, 120)
{
	struct kevent_ring *ring = kevent_ring_alloc(4);
	int fd = KT_ASSERT_OK(kevent_init(ring, 4, 0));
	struct kt_waiter w[3];

	kt_add_user(fd, 1, 0, 0);	/* registered, never readied */
	kt_waiter_init(&w[0], fd, KT_WAIT_GET);
	kt_waiter_init(&w[1], fd, KT_WAIT_GET);
	w[1].infinite = true;
	kt_waiter_init(&w[2], fd, KT_WAIT_RING);
	w[2].infinite = true;
	for (int i = 0; i < 3; i++)
		KT_ASSERT(kt_waiter_start_blocked(&w[i]));
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 0, NULL), 0);
	for (int i = 0; i < 3; i++) {
		if (!kt_waiter_join(&w[i], KT_SOON_MS)) {
			kt_fail_at(__FILE__, __LINE__, "waiter %d still blocked after READY 0", i);
			kt_end_test();
		}
		KT_EXPECT_EQ(w[i].ret, 0);
		KT_EXPECT_EQ(w[i].err, 0);
	}
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 0);
	/* READY 0 with nobody waiting is harmless, and readies nothing */
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 0, NULL), 0);
	KT_EXPECT_EQ(kt_get_now(fd, w[0].buf, 4), 0);
}

/* ---- REMOVE of a ready kevent ---------------------------------------- */

TEST(removed_never_delivered)
{
	struct kevent_ring *ring = kevent_ring_alloc(4);
	int fd = KT_ASSERT_OK(kevent_init(ring, 4, 0)), p[2];
	struct __kernel_timespec ts = kevent_ts_ms(200);
	struct ukevent uk, out[8];

	kt_add_user(fd, 1, 11, 0);
	kt_add_user(fd, 2, 22, 0);
	kt_ready_user(fd, 1, 11, 0);
	kt_ready_user(fd, 2, 22, 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 2);
	uk = ukevent_user(1, 11);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);
	/* the ring sees only the other one */
	KT_EXPECT_EQ(kevent_wait(fd, 4, 0, &ts, 0), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);
	KT_EXPECT_EQ(ring->event[0].id.raw_u64, 2);
	KT_EXPECT_EQ(kevent_wait(fd, 4, 1, &ts, 0), 0);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);

	/* a ready POLL kevent (ALWAYS_QUEUE) removed: never returned */
	readable_pipe(p);
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ALWAYS_QUEUE);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_ADD, &uk), 0);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_EXPECT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 8, &ts, out, 0), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
}

/* Removing and re-adding the same key many times, with readiness between. */
TEST(add_remove_churn)
{
	int fd = kt_queue();
	struct ukevent uk, out[4];
	int got = 0;

	for (int i = 0; i < 2000; i++) {
		kt_add_user(fd, 1, i, 0);
		if (i % 2)
			kt_ready_user(fd, 1, i, 0);
		uk = ukevent_user(1, i);
		if (i % 4 == 1) {
			KT_ASSERT_EQ(drain(fd, out, 4), 1);
			KT_EXPECT_EQ(out[0].user_u64, (__u64)i);
			got++;
		}
		KT_ASSERT_EQ(kt_ctl1(fd, KEVENT_CTL_REMOVE, &uk), 1);
		KT_ASSERT_EQ(drain(fd, out, 4), 0);
	}
	KT_EXPECT_EQ(got, 500);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 0);
}

/* ---- per-user limit -------------------------------------------------- */

TEST(max_user_kevents)
{
	long long old = kt_sysctl_read(KT_MAX_USER_PATH);
	int fd = kt_queue(), r, ok = 0, nospc = 0, order_ok = 1;
	struct ukevent arr[64];

	KT_ASSERT(old > 0);
	if (kt_sysctl_write(KT_MAX_USER_PATH, 16))
		kt_skip("max_user_kevents is not writable");
	for (int i = 0; i < 64; i++)
		arr[i] = ukevent_user(i, i);
	r = kevent_ctl(fd, KEVENT_CTL_ADD, 64, arr);
	KT_EXPECT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, old), 0);
	KT_ASSERT(r > 0);
	/* the completed (failed) ones are at the front, all ENOSPC */
	for (int i = 0; i < r; i++) {
		if (arr[i].ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
		    arr[i].ret_data[0] == ENOSPC)
			nospc++;
		if (i && arr[i].user_u64 <= arr[i - 1].user_u64)
			order_ok = 0;
	}
	ok = (int)kevent_fdinfo(fd, KFD_REGISTERED);
	kt_log("limit 16: %d registered, %d ENOSPC", ok, nospc);
	KT_EXPECT_EQ(nospc, r);
	KT_EXPECT(order_ok);
	KT_EXPECT(ok <= 16);
	KT_EXPECT_EQ(ok + r, 64);
	/* under the restored limit, adding works again */
	kt_add_user(fd, 1000, 0, 0);
}

/*
 * REMOVE racing with deliveries in another thread: no crash, no leak, and
 * once REMOVE has returned and the consumer's in-flight call is over, the
 * kevent is never seen again.
 */
struct churn {
	int fd;
	int stop;
	long long got;
};

static void *churn_consumer(void *arg)
{
	struct churn *c = arg;
	struct __kernel_timespec ts = kevent_ts_ms(50);
	struct ukevent buf[16];

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int r = kevent_get_events(c->fd, 1, 16, &ts, buf, 0);

		if (r > 0)
			__atomic_add_fetch(&c->got, r, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST_TIMEOUT(remove_races_delivery, 120)
{
	struct churn c = { .fd = kt_queue() };
	pthread_t th[2];
	struct ukevent uk, out[16];

	for (int i = 0; i < 2; i++)
		KT_ASSERT(!pthread_create(&th[i], NULL, churn_consumer, &c));
	for (int i = 0; i < 3000; i++) {
		__u32 flags = (i % 3 == 0) ? KEVENT_REQ_ONESHOT : 0;

		kt_add_user(c.fd, i % 16, i, flags);
		uk = ukevent_user(i % 16, i);
		kt_ctl1(c.fd, KEVENT_CTL_READY, &uk);
		uk = ukevent_user(i % 16, i);
		/* ONESHOT: may already be delivered and gone (ENOENT) */
		int r = kt_ctl1(c.fd, KEVENT_CTL_REMOVE, &uk);

		if (r != 1 && !(flags && r == 0 && uk.ret_data[0] == ENOENT)) {
			kt_fail_at(__FILE__, __LINE__, "REMOVE %d: ret %d ret_data %u", i, r,
				   uk.ret_data[0]);
			break;
		}
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		KT_ASSERT(kt_join(th[i], NULL, KT_SOON_MS));
	kt_log("%lld of 3000 readied kevents were delivered before their REMOVE", c.got);
	KT_EXPECT(c.got <= 3000);
	KT_EXPECT_EQ(kevent_fdinfo(c.fd, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(c.fd, KFD_READY), 0);
	KT_EXPECT_EQ(drain(c.fd, out, 16), 0);
}
