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

#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#define PAGE 4096
static const char *const cmd_name[] = { "ADD", "REMOVE", "MODIFY", "READY" };
#define is_unmapped kt_is_unmapped

/* ======================================================================
 * errno_table: the rows of docs/errors.md, one check each, in its order.
 * ====================================================================== */

static int rows, row_fails;

/* A whole-call row: `call` must fail with `err` (0: must succeed). */
#define ROW(id, call, err)						\
	do {								\
		long r_;						\
		int e_;							\
		errno = 0;						\
		r_ = (long)(call);					\
		e_ = errno;						\
		rows++;							\
		if ((err) ? (r_ != -1 || e_ != (err)) : r_ < 0) {	\
			row_fails++;					\
			kt_fail_at(__FILE__, __LINE__, "row %s: %s returned %ld errno %d (%s), expected %s", \
				   id, #call, r_, e_, strerror(e_),	\
				   (err) ? strerror(err) : "success");	\
		}							\
	} while (0)

/* A per-entry row: one entry, BROKEN with ret_data[0] == err. */
static void row_entry(const char *id, int line, int fd, unsigned int cmd, struct ukevent uk, int err)
{
	int r = kevent_ctl(fd, cmd, 1, &uk);

	rows++;
	if (r != (cmd == KEVENT_CTL_ADD ? 1 : 0) ||
	    uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) || uk.ret_data[0] != (__u32)err) {
		row_fails++;
		kt_fail_at(__FILE__, line,
			   "row %s: %s type %u id %#llx event %#x flags %#x: ret %d errno %d, ret_flags %#x ret_data[0] %u (%s), expected BROKEN %d (%s)",
			   id, cmd_name[cmd], uk.type, (unsigned long long)uk.id.raw_u64, uk.event,
			   uk.req_flags, r, errno, uk.ret_flags, uk.ret_data[0],
			   strerror((int)uk.ret_data[0]), err, strerror(err));
	}
}
#define ROW_ENTRY(id, fd, cmd, uk, err) row_entry(id, __LINE__, fd, cmd, uk, err)

static struct ukevent user_flags(__u64 id, __u32 flags)
{
	struct ukevent uk = ukevent_user(id, 0);

	uk.req_flags = flags;
	return uk;
}

static struct ukevent of_type(__u32 type)
{
	struct ukevent uk = ukevent_user(1, 0);

	uk.type = type;
	return uk;
}

TEST_TIMEOUT(errno_table, 120)
{
	long long max = kt_sysctl_read(KT_MAX_RING_PATH);
	char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kevent_ring *ring, *big;
	struct ukevent uk, arr[4], *ro, *guard_arr;
	struct __kernel_timespec ts0 = kevent_ts(0, 0), bad_ts;
	char *none, *ro_page, *unmapped;
	int fd, rfd, dev, p[2], efd, sk[2], null, file, dir, opath, ep, closed, tfd, s;

	KT_ASSERT(m != MAP_FAILED);
	KT_ASSERT(max >= 2 && max <= (1 << 20));
	ro_page = m + 4 * PAGE;
	none = m + 5 * PAGE;
	/* far from every mapping, so that no later mmap() fills it */
	unmapped = (char *)0x300000000ULL;
	KT_ASSERT(is_unmapped(unmapped));
	KT_ASSERT_OK(mprotect(m + 3 * PAGE, PAGE, PROT_NONE));	/* guard after 3 pages */
	KT_ASSERT_OK(mprotect(none, PAGE, PROT_NONE));
	ro = (struct ukevent *)ro_page;
	ro[0] = ukevent_user(5, 5);
	KT_ASSERT_OK(mprotect(ro_page, PAGE, PROT_READ));
	big = kevent_ring_alloc((unsigned int)max + 1);
	KT_ASSERT(big);
	ring = kevent_ring_alloc(4);
	fd = kt_queue();
	rfd = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	dev = (int)KT_ASSERT_OK(open("/dev/kevent", O_RDWR | O_CLOEXEC));
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk));
	null = (int)KT_ASSERT_OK(open("/dev/null", O_RDWR | O_CLOEXEC));
	file = (int)KT_ASSERT_OK(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
	dir = (int)KT_ASSERT_OK(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	opath = (int)KT_ASSERT_OK(open("/", O_PATH | O_CLOEXEC));
	ep = (int)KT_ASSERT_OK(epoll_create1(EPOLL_CLOEXEC));
	closed = (int)KT_ASSERT_OK(dup2(p[0], 901));
	close(closed);
	guard_arr = (struct ukevent *)(m + 3 * PAGE - 2 * sizeof(struct ukevent) - 8);

	/* ---- kevent_init ---- */
	ROW("I1", kevent_init(NULL, 0, 1), EINVAL);
	ROW("I1", kevent_init(NULL, 0, O_NONBLOCK), EINVAL);
	ROW("I1", kevent_init(NULL, 0, 0x80000000u), EINVAL);
	ROW("I1", kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC | 2), EINVAL);
	ROW("I2", kevent_init(big, 1, 0), EINVAL);
	ROW("I3", kevent_init(big, 0, 0), EINVAL);
	ROW("I4", kevent_init(big, (unsigned int)max + 1, 0), EINVAL);
	ROW("I4", kevent_init(big, 0x80000000u, 0), EINVAL);
	ROW("I4", kevent_init(big, 0xffffffffu, 0), EINVAL);
	ROW("I5", kevent_init(NULL, 2, 0), EFAULT);
	ROW("I5", kevent_init(NULL, (unsigned int)max, 0), EFAULT);
	ROW("I6", kevent_init((struct kevent_ring *)ro_page, 2, 0), EFAULT);
	ROW("I7", kevent_init((struct kevent_ring *)none, 2, 0), EFAULT);
	ROW("I7", kevent_init((struct kevent_ring *)unmapped, 2, 0), EFAULT);
	ROW("I8", kevent_init((struct kevent_ring *)0xffff800000000000ull, 2, 0), EFAULT);
	ROW("I8", kevent_init((struct kevent_ring *)0xffffffff81000000ull, 2, 0), EFAULT);
	ROW("I9", kevent_init((struct kevent_ring *)0x8000000000000000ull, 2, 0), EFAULT);
	/* 3 pages then the guard: the ring of 308 entries fits, 309 does not */
	ROW("I10", kevent_init((struct kevent_ring *)m, (3 * PAGE - 8) / 40 + 1, 0), EFAULT);
	s = kevent_init((struct kevent_ring *)m, (3 * PAGE - 8) / 40, 0);
	ROW("I10", s, 0);
	if (s >= 0)
		close(s);
	memset(m + 1, 0x77, 8);
	s = kevent_init((struct kevent_ring *)(m + 1), 8, 0);
	ROW("I11", s, 0);
	KT_EXPECT(!memcmp(m + 1, "\0\0\0\0\0\0\0\0", 8));
	if (s >= 0)
		close(s);
	ROW("I13", kevent_init(NULL, 1, 0x40), EINVAL);

	/* ---- kevent_ctl, whole call ---- */
	uk = ukevent_user(1, 0);
	ROW("C1", kevent_ctl(-1, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(closed, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(1 << 20, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(INT_MAX, KEVENT_CTL_READY, 0, NULL), EBADF);
	ROW("C2", kevent_ctl(opath, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C3", kevent_ctl(p[0], KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(efd, KEVENT_CTL_READY, 0, NULL), EINVAL);
	ROW("C3", kevent_ctl(sk[0], KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(null, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(file, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(dir, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(ep, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 4, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 0x100, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 0xffffffffu, 0, NULL), EINVAL);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_ADD, KEVENT_MAX_BATCH + 1, &uk), E2BIG);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_READY, 0x80000000u, &uk), E2BIG);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_REMOVE, 0xffffffffu, NULL), E2BIG);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_ADD, 1, NULL), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_MODIFY, 2, (struct ukevent *)unmapped), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, (struct ukevent *)none), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_READY, 1, (struct ukevent *)0xffffffff81000000ull), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_ADD, 1, (struct ukevent *)(m + 3 * PAGE - 8)), EFAULT);
	ROW("C7", kevent_ctl(fd, KEVENT_CTL_ADD, 0, (struct ukevent *)unmapped), 0);
	ROW("C7", kevent_ctl(fd, KEVENT_CTL_READY, 0, NULL), 0);
	/* C8: a read-only array is read, processed, and the write-back fails */
	kt_add_user(fd, 5, 5, 0);
	ROW("C8", kevent_ctl(fd, KEVENT_CTL_READY, 1, ro), EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);	/* the READY took effect */
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);
	/* C9: an ADD of 2 readable entries then an unreadable third: 2 processed */
	guard_arr[0] = ukevent_user(10, 0);
	guard_arr[1] = ukevent_user(11, 0);
	ROW("C9", kevent_ctl(fd, KEVENT_CTL_ADD, 3, guard_arr), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 3);

	/* ---- kevent_ctl, per entry ---- */
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_SOCKET), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_INODE), EINVAL);
	for (__u32 t = KEVENT_NAIO; t <= KEVENT_POSIX_TIMER; t++)
		ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(t), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_MAX_TYPES), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(0xffffffffu), EINVAL);
	ROW_ENTRY("E2", fd, KEVENT_CTL_ADD, user_flags(20, 0x20), EINVAL);
	ROW_ENTRY("E2", fd, KEVENT_CTL_ADD, user_flags(20, 0x80000000u), EINVAL);
	uk = ukevent_timer(0, 1000000, 0);
	uk.event = 2;
	ROW_ENTRY("E3", fd, KEVENT_CTL_ADD, uk, EINVAL);
	uk.event = 0;
	ROW_ENTRY("E3", fd, KEVENT_CTL_ADD, uk, EINVAL);
	ROW_ENTRY("E4", fd, KEVENT_CTL_ADD, ukevent_timer(0, 0, 0), EINVAL);
	ROW_ENTRY("E5", fd, KEVENT_CTL_ADD, ukevent_timer(1, 1000000000u, 0), EINVAL);
	ROW_ENTRY("E5", fd, KEVENT_CTL_ADD, ukevent_timer(0, 0xffffffffu, 0), EINVAL);
	ROW_ENTRY("E6", fd, KEVENT_CTL_ADD, ukevent_poll(p[0], 0, 0), EINVAL);
	ROW_ENTRY("E6", fd, KEVENT_CTL_ADD, ukevent_poll(p[0], 0x80000000u, 0), EINVAL);
	ROW_ENTRY("E7", fd, KEVENT_CTL_ADD, ukevent_user(10, 99), EEXIST);
	ROW_ENTRY("E8", fd, KEVENT_CTL_REMOVE, ukevent_user(12345, 0), ENOENT);
	ROW_ENTRY("E8", fd, KEVENT_CTL_MODIFY, ukevent_user(10, 1), ENOENT);	/* user differs */
	ROW_ENTRY("E8", fd, KEVENT_CTL_READY, of_type(KEVENT_TIMER), ENOENT);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(closed, POLLIN, 0), EBADF);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(-1, POLLIN, 0), EBADF);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(opath, POLLIN, 0), EBADF);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(fd, POLLIN, 0), ELOOP);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(rfd, POLLIN, 0), ELOOP);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(dev, POLLIN, 0), ELOOP);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(null, POLLIN, 0), EPERM);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(file, POLLIN, 0), EPERM);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(dir, POLLIN, 0), EPERM);
	uk = ukevent_user(10, 0);
	uk.req_flags = 0x40;
	ROW_ENTRY("E13", fd, KEVENT_CTL_MODIFY, uk, EINVAL);
	uk = ukevent_timer(100, 0, 0);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk = ukevent_timer(100, 0, 0);
	uk.event = 4;
	ROW_ENTRY("E14", fd, KEVENT_CTL_MODIFY, uk, EINVAL);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk.event = 0;
	ROW_ENTRY("E14", fd, KEVENT_CTL_MODIFY, uk, EINVAL);

	/* ---- kevent_get_events ---- */
	ROW("G1", kevent_get_events(-1, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G1", kevent_get_events(closed, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G1", kevent_get_events(opath, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G2", kevent_get_events(p[0], 0, 1, &ts0, arr, 0), EINVAL);
	ROW("G2", kevent_get_events(ep, 0, 1, &ts0, arr, 0), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, 2), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, KEVENT_FLAGS_ABSTIME | 4), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, 0x80000000u), EINVAL);
	ROW("G4", kevent_get_events(fd, 0, KEVENT_MAX_BATCH + 1, &ts0, arr, 0), E2BIG);
	ROW("G4", kevent_get_events(fd, 0, 0xffffffffu, &ts0, arr, 0), E2BIG);
	ROW("G5", kevent_get_events(fd, 2, 1, &ts0, arr, 0), EINVAL);
	bad_ts = kevent_ts(0, 1000000000);
	ROW("G6", kevent_get_events(fd, 0, 1, &bad_ts, arr, 0), EINVAL);
	bad_ts = kevent_ts(0, -1);
	ROW("G6", kevent_get_events(fd, 0, 1, &bad_ts, arr, 0), EINVAL);
	bad_ts = kevent_ts(-1, 0);
	ROW("G6", kevent_get_events(fd, 1, 1, &bad_ts, arr, 0), EINVAL);
	ROW("G6", kevent_get_events(fd, 1, 1, &bad_ts, arr, KEVENT_FLAGS_ABSTIME), EINVAL);
	ROW("G7", kevent_get_events(fd, 1, 1, (struct __kernel_timespec *)unmapped, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 1, 1, (struct __kernel_timespec *)none, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)1, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)0xffffffff81000000ull, arr, 0),
	    EFAULT);
	ROW("G8", kevent_get_events(fd, 0, 1, &ts0, (struct ukevent *)0xffffffff81000000ull, 0), EFAULT);
	ROW("G8", kevent_get_events(fd, 0, 0, &ts0, (struct ukevent *)0x8000000000000000ull, 0), EFAULT);
	/* nothing ready: nothing to copy, so no fault */
	ROW("G10", kevent_get_events(fd, 0, 4, &ts0, NULL, 0), 0);
	kt_ready_user(fd, 10, 0, 1);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, NULL, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, (struct ukevent *)unmapped, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, ro, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, (struct ukevent *)none, 0), EFAULT);
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);	/* not lost */
	KT_EXPECT_EQ(arr[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	/* G11: room for one entry before the guard, two ready: one returned */
	kt_ready_user(fd, 10, 0, 1);
	kt_ready_user(fd, 11, 0, 1);
	s = kevent_get_events(fd, 0, 2, &ts0, guard_arr + 1, 0);
	rows++;
	KT_EXPECT_EQ(s, 1);	/* row G11 */
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);
	/* G12: a read-only timeout is fine */
	ROW("G12", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)(ro_page + 64), arr, 0), 0);

	/* ---- kevent_wait ---- */
	ROW("W1", kevent_wait(-1, 1, 0, &ts0, 0), EBADF);
	ROW("W1", kevent_wait(opath, 1, 0, &ts0, 0), EBADF);
	ROW("W2", kevent_wait(p[1], 1, 0, &ts0, 0), EINVAL);
	ROW("W3", kevent_wait(fd, 1, 0, &ts0, 0), EINVAL);
	ROW("W3", kevent_wait(dev, 1, 0, &ts0, 0), EINVAL);
	ROW("W4", kevent_wait(rfd, 0, 0, &ts0, 0), EINVAL);
	ROW("W5", kevent_wait(rfd, KEVENT_MAX_BATCH + 1, 0, &ts0, 0), E2BIG);
	ROW("W5", kevent_wait(rfd, 0xffffffffu, 0, &ts0, 0), E2BIG);
	ROW("W6", kevent_wait(rfd, 1, 0, &ts0, 2), EINVAL);
	bad_ts = kevent_ts(0, 1000000000);
	ROW("W7", kevent_wait(rfd, 1, 0, &bad_ts, 0), EINVAL);
	ROW("W8", kevent_wait(rfd, 1, 0, (struct __kernel_timespec *)unmapped, 0), EFAULT);
	kt_add_user(rfd, 1, 1, 0);
	kt_ready_user(rfd, 1, 1, 0);
	ROW("W10", kevent_wait(rfd, 1, 3, &ts0, 0), 0);	/* stale old_uidx */
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 0);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ));
	ROW("W9", kevent_wait(rfd, 1, 0, &ts0, 0), EFAULT);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ | PROT_WRITE));
	KT_EXPECT_EQ(kevent_wait(rfd, 4, 0, &ts0, 0), 1);	/* row W9: the event was kept */
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);

	/* ---- kevent_commit: ring of 4, one written ---- */
	ROW("K1", kevent_commit(-1, 0, 0), EBADF);
	ROW("K1", kevent_commit(opath, 0, 0), EBADF);
	ROW("K2", kevent_commit(p[0], 0, 0), EINVAL);
	ROW("K2", kevent_commit(fd, 0, 0), EINVAL);
	ROW("K3", kevent_commit(rfd, 4, 0), EINVAL);
	ROW("K3", kevent_commit(rfd, 0xffffffffu, 0), EINVAL);
	ROW("K4", kevent_commit(rfd, 1, 1), ERANGE);	/* stale or garbage lap */
	ROW("K4", kevent_commit(rfd, 1, 0xffffffffu), ERANGE);
	ROW("K6", kevent_commit(rfd, 2, 0), ERANGE);	/* ahead of kidx */
	ROW("K7", kevent_commit(rfd, 0, 0), 0);		/* nothing consumed */
	KT_EXPECT_EQ(kevent_commit(rfd, 1, 0), 1);
	ROW("K5", kevent_commit(rfd, 0, 0), ERANGE);	/* behind the last commit */

	/* ---- sysctls ---- */
	if (geteuid() == 0) {
		tfd = open(KT_MAX_RING_PATH, O_WRONLY | O_CLOEXEC);
		KT_ASSERT(tfd >= 0);
		ROW("S2", write(tfd, "1\n", 2), EINVAL);
		ROW("S2", write(tfd, "16777217\n", 9), EINVAL);
		close(tfd);
		KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), max);
	}
	kt_log("%d rows checked, %d failed", rows, row_fails);
	close(fd);
	close(rfd);
	close(dev);
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
