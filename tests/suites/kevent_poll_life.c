// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_poll_life - the lifetime of POLL kevents and where they are hooked.
 *
 * - A POLL kevent does not pin the file it watches: when the open file's
 *   last reference goes (every fd closed, nobody else holding it), its
 *   POLL kevents are removed from their queues, as epoll removes a file's
 *   items on its final release. fdinfo shows them removed and the per-user
 *   charge is returned, so a reference cycle through SCM_RIGHTS (the queue
 *   fd in flight in the receive queue of the socket it watches) is freed.
 *   A dup()ed fd is another reference: the kevent lives on.
 * - Each POLL kevent is hooked in the context of the process that adds it.
 *   For a signalfd, whose poll waits on the calling process's signal
 *   handlers, a second process's kevent sees that process's signals, and
 *   the exit of one process (POLLFREE of its handlers) neither reports a
 *   spurious POLLHUP to the kevents of others nor leaves later ADDs deaf.
 */
#include <sys/signalfd.h>
#include <sys/uio.h>

#include "kevent_stress_util.h"
#include "kevent_test.h"

/* A thread or process that can take an event must have it within this. */
#define WAKE_MS 2000

static void make_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
}

/* Number of "kevent:" lines in the fdinfo of queue q, -1 on error. */
static int kevent_lines(int q)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", q);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "kevent:", 7);
	fclose(f);
	return n;
}

/*
 * Bounded wait for fdinfo "registered" of q to reach want. A file's final
 * release may be deferred (task work, or a work item when the last
 * reference is dropped outside a task), so allow it a moment.
 */
static long long wait_registered(int q, long long want, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL, v;

	while ((v = kevent_fdinfo(q, KFD_REGISTERED)) != want && kt_mono_ns() < deadline)
		kt_msleep(5);
	return v;
}

/* ---- POLL kevents do not pin files ------------------------------------ */

/* Both ends of the pipe closed: the kevent on the read end is removed. */
TEST(poll_close_removes_kevent)
{
	int q = kt_queue(), p[2];
	long long removed0, reg;

	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x1);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_EQ(kevent_lines(q), 1);
	removed0 = kevent_fdinfo(q, KFD_REMOVED);
	KT_ASSERT_OK(close(p[0]));
	KT_ASSERT_OK(close(p[1]));
	reg = wait_registered(q, 0, 1000);
	if (reg != 0)
		kt_log("the kevent still pins the closed pipe: registered %lld, state line %s", reg,
		       kevent_lines(q) ? "present" : "gone");
	KT_EXPECT_EQ(reg, 0);
	KT_EXPECT_EQ(kevent_lines(q), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REMOVED), removed0 + 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
	/* the key is free again: a new kevent with the same fd number registers */
	make_pipe(p);
	kt_add_poll(q, p[0], POLLIN, 0, 0x1);
}

/* A dup()ed fd keeps the open file alive: the kevent stays and fires. */
TEST(poll_dup_keeps_file_alive)
{
	int q = kt_queue(), p[2], d;
	struct __kernel_timespec ts = kevent_ts_ms(WAKE_MS);
	struct ukevent buf[4];

	make_pipe(p);
	d = dup(p[0]);
	KT_ASSERT(d >= 0);
	kt_add_poll(q, p[0], POLLIN, 0, 0x2);
	KT_ASSERT_OK(close(p[0]));
	kt_msleep(50);	/* a deferred release would have run by now */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_EXPECT_EQ(kevent_lines(q), 1);
	KT_ASSERT(write(p[1], "x", 1) == 1);
	KT_ASSERT_EQ(kevent_get_events(q, 1, 4, &ts, buf, 0), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 0x2);
	KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	/* the last fd closed too: now it goes */
	KT_ASSERT_OK(close(d));
	KT_EXPECT_EQ(wait_registered(q, 0, 1000), 0);
}

/* ---- a reference cycle through SCM_RIGHTS ------------------------------ */

/* Send fd over the UNIX socket s as SCM_RIGHTS. */
static int send_fd(int s, int fd)
{
	char byte = 'q';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&cm, 0, sizeof(cm));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(s, &msg, 0) == 1 ? 0 : -1;
}

/*
 * Try to ADD n USER kevents in a new queue; returns how many registered
 * (the queue is closed again, giving them back).
 */
static int room_for(int n, __u32 *last_err)
{
	int q = kt_queue(), got = 0;

	*last_err = 0;
	for (int i = 0; i < n; i++) {
		struct ukevent uk = ukevent_user((__u64)i + 1, 0);
		int r = kt_ctl1(q, KEVENT_CTL_ADD, &uk);

		if (r != 0) {
			*last_err = r == 1 ? uk.ret_data[0] : (__u32)errno;
			break;
		}
		got++;
	}
	close(q);
	return got;
}

/*
 * max_user_kevents = 2. Queue Q watches socket a; Q's own fd is sent over
 * b, so it sits in a's receive queue: a keeps Q alive, and (on a kernel
 * where POLL kevents pin files) Q's kevent keeps a alive. After closing
 * Q, a and b, nothing may stay charged: a new queue gets both kevents.
 */
TEST(poll_scm_cycle_freed)
{
	struct kst_guard g;
	long long deadline;
	int sv[2], q, got = 0, tries = 0;
	__u32 err;

	if (geteuid() != 0)
		kt_skip("needs root (lowers max_user_kevents)");
	KT_ASSERT(kst_guard_start(&g, KT_MAX_USER_PATH));
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, 2), 0);
	/* the room before: nothing else of root's may be charged */
	got = room_for(2, &err);
	if (got != 2) {
		kt_fail_at(__FILE__, __LINE__, "room %d of 2 before the test (%s): kevents of root leaked earlier",
			   got, strerror((int)err));
		kst_guard_end(&g);
		kt_end_test();
	}

	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	q = kt_queue();
	kt_add_poll(q, sv[0], POLLIN, 0, 0xa);
	KT_ASSERT_OK(send_fd(sv[1], q));	/* now in a's receive queue */
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	KT_ASSERT_OK(close(q));
	KT_ASSERT_OK(close(sv[0]));
	KT_ASSERT_OK(close(sv[1]));

	deadline = kt_mono_ns() + 1000 * 1000000LL;
	do {
		tries++;
		got = room_for(2, &err);
		if (got == 2)
			break;
		kt_msleep(10);
	} while (kt_mono_ns() < deadline);
	if (got != 2)
		kt_log("after closing the cycle: room %d of 2 (%s) after %d tries over 1 s: the cycle leaked",
		       got, strerror((int)err), tries);
	KT_EXPECT_EQ(got, 2);
	kst_guard_end(&g);
}

/* ---- signalfd: hooks per process --------------------------------------- */

static int make_signalfd(void)
{
	sigset_t set;
	int s;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	KT_ASSERT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
	s = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	KT_ASSERT(s >= 0);
	return s;
}

/* Bounded waitpid; SIGKILL and fail if the child does not end. */
static int reap(pid_t pid, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (kt_mono_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			kt_fail_at(__FILE__, __LINE__, "child %d did not end in %ld ms", (int)pid,
				   timeout_ms);
			return -1;
		}
		kt_msleep(2);
	}
	return status;
}

/* Exit codes of the child of signalfd_second_process_sees_its_signals. */
enum { CH_OK, CH_NO_QUEUE = 10, CH_ADD, CH_TIMEOUT, CH_BAD_EVENT, CH_BAD_MASK };

/*
 * The parent watches signalfd S; a forked child watches the same S in its
 * own queue and gets a SIGUSR1 (blocked): the child's kevent fires.
 */
TEST(signalfd_second_process_sees_its_signals)
{
	int q = kt_queue(), s = make_signalfd(), status;
	struct ukevent buf[4];
	pid_t pid;

	kt_add_poll(q, s, POLLIN, 0, 0x1);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		struct __kernel_timespec ts = kevent_ts_ms(WAKE_MS);
		struct ukevent uk = ukevent_poll(s, POLLIN, 0), ev[4];
		int cq = kevent_init(NULL, 0, 0), r;

		if (cq < 0)
			_exit(CH_NO_QUEUE);
		uk.user_u64 = 0x2;
		if (kevent_ctl(cq, KEVENT_CTL_ADD, 1, &uk) != 0)
			_exit(CH_ADD);
		kill(getpid(), SIGUSR1);	/* blocked: stays pending */
		r = kevent_get_events(cq, 1, 4, &ts, ev, 0);
		if (r == 0)
			_exit(CH_TIMEOUT);
		if (r != 1 || ev[0].user_u64 != 0x2)
			_exit(CH_BAD_EVENT);
		_exit(ev[0].ret_data[0] & POLLIN ? CH_OK : CH_BAD_MASK);
	}
	status = reap(pid, 10 * WAKE_MS);
	KT_ASSERT(status >= 0);
	KT_ASSERT(WIFEXITED(status));
	switch (WEXITSTATUS(status)) {
	case CH_OK:
		break;
	case CH_TIMEOUT:
		kt_fail_at(__FILE__, __LINE__,
			   "child's kevent on the shared signalfd not ready %d ms after its own SIGUSR1",
			   WAKE_MS);
		break;
	default:
		kt_fail_at(__FILE__, __LINE__, "child failed with exit code %d", WEXITSTATUS(status));
	}
	/* the child's signal is not the parent's */
	KT_EXPECT_EQ(kt_get_now(q, buf, 4), 0);
}

/*
 * A child adds the first POLL kevent on the parent's signalfd S (in its
 * own queue), the parent adds one in its queue, the child exits and is
 * reaped (its signal handlers are freed: POLLFREE on their wait queue).
 * The parent's kevent must not report anything; it must see the parent's
 * own SIGUSR1; and a kevent added on S afterwards, in a new queue, too.
 */
TEST(signalfd_pollfree_no_spurious_event)
{
	int q = kt_queue(), s = make_signalfd(), c2p[2], p2c[2], status, n, q3;
	struct __kernel_timespec ts = kevent_ts_ms(WAKE_MS);
	struct signalfd_siginfo si;
	struct ukevent buf[4];
	pid_t pid;
	char c;

	KT_ASSERT_OK(pipe2(c2p, O_CLOEXEC));
	KT_ASSERT_OK(pipe2(p2c, O_CLOEXEC));
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		struct ukevent uk = ukevent_poll(s, POLLIN, 0);
		int cq = kevent_init(NULL, 0, 0);

		uk.user_u64 = 0xc;
		if (cq < 0 || kevent_ctl(cq, KEVENT_CTL_ADD, 1, &uk) != 0)
			_exit(2);
		if (write(c2p[1], "a", 1) != 1)
			_exit(3);
		/* stay until the parent has added its kevent */
		if (read(p2c[0], &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	close(c2p[1]);
	close(p2c[0]);
	if (read(c2p[0], &c, 1) != 1) {
		status = reap(pid, KT_SOON_MS);
		kt_fail_at(__FILE__, __LINE__, "child failed to add its kevent: status %#x", status);
		kt_end_test();
	}
	kt_add_poll(q, s, POLLIN, 0, 0x1);
	KT_ASSERT(write(p2c[1], "g", 1) == 1);
	status = reap(pid, KT_SOON_MS);
	KT_ASSERT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* the child is gone: nothing happened to the parent's signalfd */
	n = kt_get_now(q, buf, 4);
	if (n > 0)
		kt_log("spurious event after the child's exit: user %#llx ret_data[0] %#x",
		       (unsigned long long)buf[0].user_u64, buf[0].ret_data[0]);
	KT_EXPECT_EQ(n, 0);

	/* the parent's own signal is seen */
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	n = kevent_get_events(q, 1, 4, &ts, buf, 0);
	if (n != 1)
		kt_log("parent's SIGUSR1: %d events in %d ms", n, WAKE_MS);
	KT_EXPECT_EQ(n, 1);
	if (n == 1)
		KT_EXPECT(buf[0].ret_data[0] & POLLIN);

	/* consume it, then a kevent added now in a new queue sees the next */
	KT_ASSERT(read(s, &si, sizeof(si)) == sizeof(si));
	KT_EXPECT_EQ(si.ssi_signo, SIGUSR1);
	q3 = kt_queue();
	kt_add_poll(q3, s, POLLIN, 0, 0x3);
	KT_ASSERT_OK(kill(getpid(), SIGUSR1));
	n = kevent_get_events(q3, 1, 4, &ts, buf, 0);
	if (n != 1)
		kt_log("new queue after the child's exit: %d events in %d ms for SIGUSR1", n, WAKE_MS);
	KT_EXPECT_EQ(n, 1);
	if (n == 1) {
		KT_EXPECT_EQ(buf[0].user_u64, 0x3);
		KT_EXPECT(buf[0].ret_data[0] & POLLIN);
	}
}
