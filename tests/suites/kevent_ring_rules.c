// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_ring_rules - who may use a ring, and where it may be.
 *
 * - The ring header (ring_kidx, ring_over) is published in one 8-byte
 *   store, so the ring must be 8-byte aligned: kevent_init() refuses
 *   anything else with EINVAL.
 * - A ring is an address in the memory of the process that created the
 *   queue. A process with another mm (a forked child, whose copy of a
 *   private ring is not the creator's) cannot kevent_wait() or
 *   kevent_commit() on it (EPERM); kevent_get_events(), which copies to
 *   the caller's own buffer, works for anybody holding the fd. The
 *   creator's ring is untouched by such a process.
 */
#include "kevent_test.h"

/* kevent_init at ring + off (bytes) into a mapping big enough for n entries. */
static int init_at(void *map, size_t off, unsigned int n)
{
	return kevent_init((struct kevent_ring *)((char *)map + off), n, 0);
}

TEST(ring_unaligned_einval)
{
	const unsigned int n = 4;
	size_t len = kevent_ring_bytes(n) + 16;
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd;

	KT_ASSERT(map != MAP_FAILED);
	for (size_t off = 1; off < 8; off++) {
		errno = 0;
		fd = init_at(map, off, n);
		if (fd >= 0) {
			kt_fail_at(__FILE__, __LINE__, "ring at page + %zu (not 8-byte aligned) accepted: fd %d",
				   off, fd);
			close(fd);
		} else if (errno != EINVAL) {
			kt_fail_at(__FILE__, __LINE__, "ring at page + %zu: errno %d (%s), expected EINVAL",
				   off, errno, strerror(errno));
		}
	}
	/* 8-byte aligned but not page aligned is fine */
	fd = (int)KT_ASSERT_OK(init_at(map, 8, n));
	close(fd);
	fd = (int)KT_ASSERT_OK(init_at(map, 0, n));
	close(fd);
}

/* Exit codes of the child of ring_bound_to_creator_mm. */
enum {
	RB_OK,
	RB_SETUP = 10,
	RB_WAIT_ACCEPTED,	/* kevent_wait() returned >= 0 */
	RB_WAIT_ERRNO,		/* kevent_wait() failed, not with EPERM */
	RB_COMMIT_ACCEPTED,
	RB_COMMIT_ERRNO,
	RB_GET,			/* kevent_get_events() did not return the event */
};

static const char *rb_what(int code)
{
	switch (code) {
	case RB_SETUP: return "setup failed";
	case RB_WAIT_ACCEPTED: return "kevent_wait() accepted in the child (wrote the child's copy of the ring)";
	case RB_WAIT_ERRNO: return "kevent_wait() failed with another errno than EPERM";
	case RB_COMMIT_ACCEPTED: return "kevent_commit() accepted in the child";
	case RB_COMMIT_ERRNO: return "kevent_commit() failed with another errno than EPERM";
	case RB_GET: return "kevent_get_events() in the child did not return the child's event";
	default: return "unexpected exit code";
	}
}

/* Run the checks of one child step; report the first failure in the exit code. */
static int rb_child(int fd)
{
	struct __kernel_timespec zero = kevent_ts(0, 0), ts = kevent_ts(2, 0);
	struct ukevent uk = ukevent_user(7, 0x77), ev[4];
	int r, code = RB_OK;

	if (kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk) != 0)
		return RB_SETUP;
	uk = ukevent_user(7, 0x77);
	uk.event = 0x7;
	if (kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk) != 1)
		return RB_SETUP;
	/* an event is ready and the ring has room: only the mm rule can refuse */
	errno = 0;
	r = kevent_wait(fd, 4, 0, &zero, 0);
	if (r >= 0)
		code = RB_WAIT_ACCEPTED;
	else if (errno != EPERM)
		code = RB_WAIT_ERRNO;
	errno = 0;
	r = kevent_commit(fd, 0, 0);
	if (code == RB_OK) {
		if (r >= 0)
			code = RB_COMMIT_ACCEPTED;
		else if (errno != EPERM)
			code = RB_COMMIT_ERRNO;
	}
	r = kevent_get_events(fd, 1, 4, &ts, ev, 0);
	if (code == RB_OK && (r != 1 || ev[0].id.raw_u64 != 7 || ev[0].ret_data[0] != 0x7))
		code = RB_GET;
	return code;
}

TEST(ring_bound_to_creator_mm)
{
	const unsigned int n = 4;
	struct kevent_ring *ring = kevent_ring_alloc(n);	/* MAP_PRIVATE */
	struct __kernel_timespec ts = kevent_ts(2, 0);
	int fd, status;
	pid_t pid;

	KT_ASSERT(ring);
	fd = (int)KT_ASSERT_OK(kevent_init(ring, n, 0));
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0)
		_exit(rb_child(fd));
	KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	KT_ASSERT(WIFEXITED(status));
	if (WEXITSTATUS(status) != RB_OK)
		kt_fail_at(__FILE__, __LINE__, "child: %s (exit %d)", rb_what(WEXITSTATUS(status)),
			   WEXITSTATUS(status));
	/* the creator's ring: nothing written, and it works as before */
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 0);
	KT_EXPECT_EQ(kevent_ring_over(ring), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_kidx"), 0);
	kt_add_user(fd, 9, 0x99, 0);
	kt_ready_user(fd, 9, 0x99, 0x9);
	KT_EXPECT_EQ(kevent_wait(fd, n, 0, &ts, 0), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);
	KT_EXPECT_EQ(ring->event[0].id.raw_u64, 9);
	KT_EXPECT_EQ(ring->event[0].user_u64, 0x99);
	KT_EXPECT_EQ(kevent_commit(fd, 1, 0), 1);
}
