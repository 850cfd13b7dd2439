// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_caps - resource limits and queue privacy (docs/abi.md "Limits").
 *
 * - max_user_kevents: a user at the cap gets BROKEN/ENOSPC from ADD, for
 *   every type and every queue of that user (/dev/kevent too); REMOVE, a
 *   ONESHOT delivery and closing a queue give the room back; raising or
 *   lowering the sysctl takes effect at once; nothing leaks (the room
 *   measured at the end equals the room at the start);
 * - the cap is per user: root, labuser (1000) and nobody (65534) each get
 *   the full cap at the same time; a user's count is released when its
 *   last queue reference goes, not when the creating process exits;
 * - max_ring_entries bounds ring_size (EINVAL above it, also after
 *   lowering it); only root can change the sysctls;
 * - a queue is private to the holders of its descriptor: another user
 *   cannot reach it through /proc/<pid>/fd, /proc/<pid>/fdinfo or
 *   pidfd_getfd(); an inherited or SCM_RIGHTS-passed descriptor works.
 *
 * Tests that lower a sysctl put it back through a guard process, even when
 * the harness kills the test.
 */
#include "kevent_stress_util.h"

#include <sys/socket.h>
#include <sys/uio.h>

#define UID_LAB		1000
#define UID_NOBODY	65534

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static void need_root(void)
{
	if (geteuid() != 0)
		kt_skip("needs root (lowers sysctls, changes uid)");
}

/* Lower max_user_kevents to limit under a guard; ends the test on failure. */
static void set_user_cap(struct kst_guard *g, long limit)
{
	need_root();
	if (!kst_guard_start(g, KT_MAX_USER_PATH)) {
		kt_fail_at(__FILE__, __LINE__, "guard of %s: %s", KT_MAX_USER_PATH,
			   strerror(errno));
		kt_end_test();
	}
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, limit), 0);
	KT_ASSERT_EQ(kt_sysctl_read(KT_MAX_USER_PATH), limit);
}

/* ADD one entry; returns the call's result, entry updated. */
static int add1(int fd, struct ukevent *uk)
{
	return kevent_ctl(fd, KEVENT_CTL_ADD, 1, uk);
}

/* ADD one USER kevent that must fail with BROKEN/ENOSPC. */
#define expect_full(fd, id) expect_full_at(__LINE__, fd, id)
static void expect_full_at(int line, int fd, __u64 id)
{
	struct ukevent uk = ukevent_user(id, 0);
	int r = add1(fd, &uk);

	if (r != 1 || uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) ||
	    uk.ret_data[0] != ENOSPC)
		kt_fail_at(__FILE__, line,
			   "ADD at the cap: ret %d (errno %d) flags %#x data %u, expected 1 BROKEN ENOSPC",
			   r, errno, uk.ret_flags, uk.ret_data[0]);
}

/* ADD n USER kevents (ids base..) one by one; every one must register. */
#define fill(fd, base, n) fill_at(__LINE__, fd, base, n)
static void fill_at(int line, int fd, __u64 base, long n)
{
	for (long i = 0; i < n; i++) {
		struct ukevent uk = ukevent_user(base + i, base + i);
		int r = add1(fd, &uk);

		if (r != 0) {
			kt_fail_at(__FILE__, line,
				   "ADD %ld of %ld: ret %d flags %#x data %u (%s)", i, n, r,
				   uk.ret_flags, uk.ret_data[0], strerror((int)uk.ret_data[0]));
			kt_end_test();
		}
	}
}

static int remove_user(int fd, __u64 id)
{
	struct ukevent uk = ukevent_user(id, id);

	return kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk);
}

/* ---- max_ring_entries -------------------------------------------------- */

struct ring_probe {
	struct kevent_ring *ring;
	long long max;
};

static void ring_cap_unprivileged(void *arg)
{
	struct ring_probe *rp = arg;
	int fd;

	/* the sysctls are root's */
	KT_EXPECT_ERRNO(open(KT_MAX_RING_PATH, O_WRONLY), EACCES);
	KT_EXPECT_ERRNO(open(KT_MAX_USER_PATH, O_WRONLY), EACCES);
	/* the same bound applies to everybody */
	KT_EXPECT_ERRNO(kevent_init(rp->ring, (unsigned int)rp->max + 1, 0), EINVAL);
	fd = (int)KT_ASSERT_OK(kevent_init(rp->ring, (unsigned int)rp->max, 0));
	close(fd);
}

TEST(ring_size_cap)
{
	long long max = kt_sysctl_read(KT_MAX_RING_PATH);
	struct kst_guard g;
	struct ring_probe rp;
	struct kevent_ring *ring, *big;
	struct __kernel_timespec ts = kevent_ts(10, 0);
	int fd, old;

	KT_ASSERT(max >= 2);
	if (max > (1 << 20))
		kt_skip("max_ring_entries too large to map a ring of that size");
	/* writable memory for max + 1 entries: only the size can be wrong */
	ring = kevent_ring_alloc((unsigned int)max + 1);
	KT_ASSERT(ring);
	fd = (int)KT_ASSERT_OK(kevent_init(ring, (unsigned int)max, 0));
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_size"), max);
	close(fd);
	KT_EXPECT_ERRNO(kevent_init(ring, (unsigned int)max + 1, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, (unsigned int)max * 2, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, ~0u, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 1, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 0, 0), EINVAL);

	need_root();
	/* a queue made before the sysctl is lowered keeps its ring */
	big = kevent_ring_alloc(64);
	KT_ASSERT(big);
	old = (int)KT_ASSERT_OK(kevent_init(big, 64, 0));
	KT_ASSERT(kst_guard_start(&g, KT_MAX_RING_PATH));
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_RING_PATH, 16), 0);
	KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), 16);
	fd = (int)KT_ASSERT_OK(kevent_init(ring, 16, 0));
	close(fd);
	fd = (int)KT_ASSERT_OK(kevent_init(ring, 2, 0));
	close(fd);
	KT_EXPECT_ERRNO(kevent_init(ring, 17, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 64, 0), EINVAL);
	for (int i = 0; i < 40; i++) {
		kt_add_user(old, i, i, KEVENT_REQ_ONESHOT);
		kt_ready_user(old, i, i, 0);
	}
	/* 40 events fit in the old 64-entry ring in one call */
	KT_EXPECT_EQ(kevent_wait(old, 64, 0, &ts, 0), 40);
	KT_EXPECT_EQ(kevent_ring_kidx(big), 40);
	for (int i = 0; i < 40; i++)
		KT_EXPECT_EQ(big->event[i].user_u64, (__u64)i);
	close(old);
	/* as root, the unprivileged view under the lowered bound */
	rp.ring = ring;
	rp.max = 16;
	kst_run_as(UID_LAB, ring_cap_unprivileged, &rp);
	kst_guard_end(&g);
	KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), max);
	/* restored: 17 is fine again */
	fd = (int)KT_ASSERT_OK(kevent_init(ring, 17, 0));
	close(fd);
	rp.max = max;
	kst_run_as(UID_LAB, ring_cap_unprivileged, &rp);
}

/* ---- max_user_kevents, one user ---------------------------------------- */

#define CAP_L 64

TEST_TIMEOUT(user_cap_enospc, 120)
{
	struct kst_guard g;
	struct ukevent uk, out[4];
	long room0, room_end;
	int q1, q2, q3, p[2], n2, n3;

	set_user_cap(&g, CAP_L);
	room0 = kst_user_room(CAP_L);
	kt_log("max_user_kevents %d: room %ld for uid 0", CAP_L, room0);
	KT_ASSERT(room0 >= 16);
	KT_ASSERT(room0 <= CAP_L);
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));

	q1 = kt_queue();
	fill(q1, 0, room0);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), room0);
	/* full: every type, every queue of the user */
	expect_full(q1, 100000);
	uk = ukevent_timer(0, 1000000, 0);
	KT_EXPECT_EQ(add1(q1, &uk), 1);
	KT_EXPECT_BROKEN(uk, ENOSPC);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_EXPECT_EQ(add1(q1, &uk), 1);
	KT_EXPECT_BROKEN(uk, ENOSPC);
	q2 = kt_queue();
	q3 = open("/dev/kevent", O_RDWR | O_CLOEXEC);
	KT_ASSERT(q3 >= 0);
	expect_full(q2, 1);
	expect_full(q3, 1);
	/* failed ADDs registered nothing, counted nothing */
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), room0);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_ADDED), room0);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q3, KFD_ADDED), 0);

	/* REMOVE gives exactly one slot back, usable from any queue */
	KT_EXPECT_EQ(remove_user(q1, 0), 1);
	fill(q2, 1000, 1);
	expect_full(q2, 1001);
	expect_full(q1, 0);

	/* a delivered ONESHOT kevent gives its slot back */
	KT_EXPECT_EQ(remove_user(q1, 1), 1);
	kt_add_user(q1, 5000, 5000, KEVENT_REQ_ONESHOT);
	expect_full(q3, 2);
	kt_ready_user(q1, 5000, 5000, 0);
	KT_EXPECT_EQ(kt_get_now(q1, out, 4), 1);
	KT_EXPECT_EQ(out[0].user_u64, 5000);
	fill(q3, 2000, 1);
	expect_full(q3, 2001);

	/* an ADD that completes at once (POLL, ready) is not left charged */
	KT_EXPECT_EQ(remove_user(q1, 2), 1);
	KT_ASSERT_EQ(write(p[1], "x", 1), 1);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_EXPECT_EQ(add1(q1, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT(uk.ret_data[0] & POLLIN);
	fill(q2, 1001, 1);	/* the slot is still free */
	expect_full(q2, 1002);

	/* closing a queue gives all its slots back */
	close(q1);
	fill(q2, 3000, room0 - 3);
	expect_full(q2, 9999);
	expect_full(q3, 9999);
	n2 = (int)kevent_fdinfo(q2, KFD_REGISTERED);
	n3 = (int)kevent_fdinfo(q3, KFD_REGISTERED);
	KT_EXPECT_EQ(n2 + n3, room0);

	/* raising the cap takes effect at once */
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, CAP_L + 10), 0);
	fill(q3, 4000, 10);
	expect_full(q3, 4010);
	/* lowering it below the usage: kevents stay and work, ADD fails */
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, CAP_L - 10), 0);
	expect_full(q2, 4010);
	kt_ready_user(q3, 4000, 4000, 7);
	KT_EXPECT_EQ(kt_get_now(q3, out, 4), 1);
	KT_EXPECT_EQ(out[0].ret_data[0], 7);
	/* usage is CAP_L + 10; 20 removals bring it to the cap: still full */
	for (int i = 0; i < 10; i++)
		KT_EXPECT_EQ(remove_user(q3, 4000 + i), 1);
	for (int i = 0; i < 10; i++)
		KT_EXPECT_EQ(remove_user(q2, 3000 + i), 1);
	expect_full(q2, 4010);
	KT_EXPECT_EQ(remove_user(q2, 3010), 1);
	fill(q2, 5000, 1);
	expect_full(q2, 5001);

	close(q2);
	close(q3);
	KT_ASSERT_EQ(kt_sysctl_write(KT_MAX_USER_PATH, CAP_L), 0);
	room_end = kst_user_room(CAP_L);
	KT_EXPECT_EQ(room_end, room0);
	kst_guard_end(&g);
	close(p[0]);
	close(p[1]);
}

/* ---- max_user_kevents, several users ----------------------------------- */

#define CAP_U 24

struct per_user {
	struct kst_chan full;	/* child -> parent: "I am at the cap" */
	struct kst_chan go;	/* parent -> child: "check again and exit" */
	bool dev;		/* use /dev/kevent */
};

/* Fill the whole cap (the user holds nothing else), hold it, recheck. */
static void user_fills_cap(void *arg)
{
	struct per_user *pu = arg;
	int fd = pu->dev ? open("/dev/kevent", O_RDWR | O_CLOEXEC) : kevent_init(NULL, 0, 0);

	if (fd < 0) {
		kt_fail_at(__FILE__, __LINE__, "uid %u: queue: %s", getuid(), strerror(errno));
		kt_end_test();
	}
	fill(fd, 0, CAP_U);
	expect_full(fd, CAP_U);
	kst_chan_post(&pu->full, 'F');
	KT_ASSERT_EQ(kst_chan_wait(&pu->go, KT_SOON_MS), 'G');
	/* the other users' activity did not touch this user's count */
	expect_full(fd, CAP_U);
	KT_EXPECT_EQ(remove_user(fd, 3), 1);
	fill(fd, 100, 1);
	expect_full(fd, 101);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), CAP_U);
}

static void probe_full_room(void *arg)
{
	long want = *(long *)arg, room = kst_user_room(CAP_U);

	KT_EXPECT_EQ(room, want);
}

TEST_TIMEOUT(cap_is_per_user, 120)
{
	struct kst_guard g;
	struct per_user a, b;
	long room0, full = CAP_U;
	pid_t pa, pb;
	int q;

	set_user_cap(&g, CAP_U);
	room0 = kst_user_room(CAP_U);
	KT_ASSERT(room0 >= 8);
	/* root holds its whole cap */
	q = kt_queue();
	fill(q, 0, room0);
	expect_full(q, 999);

	KT_ASSERT(kst_chan_open(&a.full) && kst_chan_open(&a.go));
	KT_ASSERT(kst_chan_open(&b.full) && kst_chan_open(&b.go));
	a.dev = false;
	b.dev = true;
	pa = kst_spawn_as(UID_LAB, user_fills_cap, &a);
	pb = kst_spawn_as(UID_NOBODY, user_fills_cap, &b);
	KT_EXPECT_EQ(kst_chan_wait(&a.full, KT_SOON_MS), 'F');
	KT_EXPECT_EQ(kst_chan_wait(&b.full, KT_SOON_MS), 'F');
	/* three users at their caps at once; root is still exactly full */
	expect_full(q, 999);
	KT_EXPECT_EQ(remove_user(q, 0), 1);
	fill(q, 500, 1);
	expect_full(q, 501);
	kst_chan_post(&a.go, 'G');
	kst_chan_post(&b.go, 'G');
	kst_wait_ok(pa, "uid 1000 at its cap");
	kst_wait_ok(pb, "uid 65534 at its cap");
	/* their exit gave their room back, root's is unchanged */
	kst_run_as(UID_LAB, probe_full_room, &full);
	kst_run_as(UID_NOBODY, probe_full_room, &full);
	expect_full(q, 502);
	close(q);
	KT_EXPECT_EQ(kst_user_room(CAP_U), room0);
	kst_guard_end(&g);
}

/* ---- release on exit ----------------------------------------------------- */

#define CAP_E 40

struct exiter {
	int mode;
	struct kst_chan ready;
	struct kst_chan release;	/* mode 3: grandchild holds until told */
};

static void *block_forever(void *arg)
{
	int fd = *(int *)arg;
	struct ukevent buf[4];

	for (;;)
		kevent_get_events(fd, 4, 4, NULL, buf, 0);
	return NULL;
}

static void *block_in_wait(void *arg)
{
	int fd = *(int *)arg;

	for (;;)
		kevent_wait(fd, 4, 0, NULL, 0);
	return NULL;
}

/*
 * Register the whole cap over two queues and three types, then end in one
 * of four ways without closing anything: exit, SIGKILL while blocked, exit
 * while another thread sleeps in kevent_wait(), or leave the queues to a
 * grandchild that outlives this process.
 */
static void exiter_fn(void *arg)
{
	static int fds[2];
	struct exiter *e = arg;
	struct kevent_ring *ring = kevent_ring_alloc(4);
	struct ukevent uk;
	pthread_t th;
	int p[2];

	KT_ASSERT(ring);
	fds[0] = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	fds[1] = open("/dev/kevent", O_RDWR | O_CLOEXEC);
	KT_ASSERT(fds[1] >= 0);
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	fill(fds[0], 0, CAP_E / 2 - 2);
	for (int i = 0; i < 2; i++) {
		uk = ukevent_poll(p[i], i ? POLLOUT : POLLIN, KEVENT_REQ_ALWAYS_QUEUE);
		uk.user_u64 = (__u64)i;
		KT_ASSERT_EQ(add1(fds[0], &uk), 0);
	}
	for (int i = 0; i < CAP_E / 2; i++) {
		uk = ukevent_timer(0, 1000000 + i * 1000, 0);
		KT_ASSERT_EQ(add1(fds[1], &uk), 0);
	}
	expect_full(fds[0], 999);
	expect_full(fds[1], 999);
	for (int i = 0; i < 5; i++)
		kt_ready_user(fds[0], i, i, 0);
	/*
	 * The pipe stays open until the exit: POLL kevents end with the last
	 * reference of their file, and the exit (or the grandchild, which
	 * inherits the fds) decides when that is.
	 */
	switch (e->mode) {
	case 0:
		break;
	case 1:
		pthread_create(&th, NULL, block_forever, &fds[1]);
		kst_chan_post(&e->ready, 'R');
		for (;;)
			pause();
	case 2:
		pthread_create(&th, NULL, block_in_wait, &fds[0]);
		kt_msleep(50);
		break;
	case 3:
		if (fork() == 0) {
			/* the grandchild keeps both queues */
			kst_chan_post(&e->ready, 'R');
			kst_chan_wait(&e->release, 60000);
			_exit(0);
		}
		break;
	}
	/* the caller _exit()s without closing anything */
}

TEST_TIMEOUT(cap_released_on_exit, 180)
{
	static const char *const how[] = {
		"exit without close", "SIGKILL while blocked",
		"exit while a thread waits", "queues left to a grandchild",
	};
	long full = CAP_E, zero = 0;
	struct kst_guard g;
	struct exiter e;
	int status;
	pid_t pid;

	set_user_cap(&g, CAP_E);
	/* orphaned grandchildren come back to us, so we can reap them */
	KT_ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	kst_run_as(UID_LAB, probe_full_room, &full);
	for (int mode = 0; mode < 4; mode++) {
		kt_log("mode %d: %s", mode, how[mode]);
		e.mode = mode;
		KT_ASSERT(kst_chan_open(&e.ready) && kst_chan_open(&e.release));
		pid = kst_spawn_as(UID_LAB, exiter_fn, &e);
		KT_ASSERT(pid > 0);
		if (mode == 1) {
			KT_EXPECT_EQ(kst_chan_wait(&e.ready, KT_SOON_MS), 'R');
			kt_msleep(20);
			kill(pid, SIGKILL);
			KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
			KT_EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		} else {
			kst_wait_ok(pid, how[mode]);
		}
		if (mode == 3) {
			KT_EXPECT_EQ(kst_chan_wait(&e.ready, KT_SOON_MS), 'R');
			/* the creator is gone but its queues live on: still charged */
			kst_run_as(UID_LAB, probe_full_room, &zero);
			kst_chan_post(&e.release, 'X');
			pid = waitpid(-1, &status, 0);
			KT_EXPECT(pid > 0 && WIFEXITED(status) && !WEXITSTATUS(status));
		}
		/* every kevent of the dead process was uncharged */
		kst_run_as(UID_LAB, probe_full_room, &full);
		close(e.ready.rd);
		close(e.ready.wr);
		close(e.release.rd);
		close(e.release.wr);
	}
	kst_guard_end(&g);
}

/* ---- privacy of the queue descriptor ------------------------------------- */

struct owner_info {
	pid_t pid;
	int q, dq;
};

struct privacy {
	struct owner_info *own;	/* shared memory */
	struct kst_chan ready, done;
};

/* uid 65534: owns an anon queue and a /dev/kevent queue with one kevent each. */
static void owner_fn(void *arg)
{
	struct privacy *pv = arg;
	struct ukevent buf[4];

	pv->own->pid = getpid();
	pv->own->q = kt_queue();
	pv->own->dq = open("/dev/kevent", O_RDWR | O_CLOEXEC);
	KT_ASSERT(pv->own->dq >= 0);
	kt_add_user(pv->own->q, 1, 11, 0);
	kt_add_user(pv->own->dq, 2, 22, 0);
	kst_chan_post(&pv->ready, 'R');
	KT_ASSERT_EQ(kst_chan_wait(&pv->done, 60000), 'D');
	/* only the same-uid process that took the fd by pidfd_getfd readied it */
	KT_EXPECT_EQ(kt_get_now(pv->own->q, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 11);
	KT_EXPECT_EQ(buf[0].ret_data[1], 1);
	KT_EXPECT_EQ(kt_get_now(pv->own->dq, buf, 4), 0);
	KT_EXPECT_EQ(kevent_fdinfo(pv->own->dq, KFD_REGISTERED), 1);
}

static int open_proc(pid_t pid, const char *dir, int fd, int flags)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/%s/%d", (int)pid, dir, fd);
	return open(path, flags | O_CLOEXEC);
}

static void expect_denied_at(int line, const char *what, int r)
{
	int e = errno;

	if (r >= 0 || (e != EACCES && e != EPERM))
		kt_fail_at(__FILE__, line, "%s: returned %d errno %d (%s), expected EACCES/EPERM",
			   what, r, r < 0 ? e : 0, r < 0 ? strerror(e) : "-");
	if (r >= 0)
		close(r);
}
#define expect_denied(what, r) expect_denied_at(__LINE__, what, r)

/* uid 1000: another user's queues are out of reach. */
static void intruder_fn(void *arg)
{
	struct owner_info *own = ((struct privacy *)arg)->own;
	char path[96], lnk[128];
	int pidfd;

	expect_denied("open /proc/pid/fd/<queue>", open_proc(own->pid, "fd", own->q, O_RDWR));
	expect_denied("open /proc/pid/fd/<queue> ro", open_proc(own->pid, "fd", own->q, O_RDONLY));
	expect_denied("open /proc/pid/fd/</dev/kevent>", open_proc(own->pid, "fd", own->dq, O_RDWR));
	expect_denied("open /proc/pid/fdinfo/<queue>", open_proc(own->pid, "fdinfo", own->q, O_RDONLY));
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)own->pid, own->q);
	expect_denied("readlink /proc/pid/fd/<queue>", (int)readlink(path, lnk, sizeof(lnk)));
	pidfd = (int)syscall(SYS_pidfd_open, own->pid, 0);
	KT_ASSERT(pidfd >= 0);
	expect_denied("pidfd_getfd(<queue>)", (int)syscall(SYS_pidfd_getfd, pidfd, own->q, 0));
	expect_denied("pidfd_getfd(</dev/kevent>)", (int)syscall(SYS_pidfd_getfd, pidfd, own->dq, 0));
	close(pidfd);
}

/*
 * uid 65534 too (positive control: same user, dumpable): fdinfo can be
 * read and pidfd_getfd() works, yet a path never leads to the queue itself:
 * an anon queue cannot be reopened through /proc/<pid>/fd and reopening
 * /dev/kevent that way makes a new, empty queue. Only the descriptor (here
 * taken with pidfd_getfd) reaches the queue.
 */
static void same_user_fn(void *arg)
{
	struct owner_info *own = ((struct privacy *)arg)->own;
	struct ukevent uk;
	int fd, pidfd, e;

	fd = open_proc(own->pid, "fdinfo", own->q, O_RDONLY);
	KT_EXPECT(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* the anon inode is not reopenable (root's 0600 inode, no open) */
	fd = open_proc(own->pid, "fd", own->q, O_RDWR);
	e = errno;
	kt_log("same uid reopening an anon queue through /proc: %d (%s)", fd,
	       fd < 0 ? strerror(e) : "opened");
	KT_EXPECT(fd < 0);
	if (fd >= 0)
		close(fd);
	fd = open_proc(own->pid, "fd", own->dq, O_RDWR);
	KT_ASSERT(fd >= 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
	uk = ukevent_user(2, 22);
	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_READY, 1, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	close(fd);
	pidfd = (int)syscall(SYS_pidfd_open, own->pid, 0);
	KT_ASSERT(pidfd >= 0);
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, own->q, 0);
	KT_ASSERT(fd >= 0);
	kt_ready_user(fd, 1, 11, 0);
	close(fd);
	close(pidfd);
}

TEST_TIMEOUT(queue_fd_private, 120)
{
	struct privacy pv;
	pid_t owner;

	need_root();
	pv.own = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(pv.own != MAP_FAILED);
	KT_ASSERT(kst_chan_open(&pv.ready) && kst_chan_open(&pv.done));
	owner = kst_spawn_as(UID_NOBODY, owner_fn, &pv);
	KT_ASSERT_EQ(kst_chan_wait(&pv.ready, KT_SOON_MS), 'R');
	kst_run_as(UID_LAB, intruder_fn, &pv);
	kst_run_as(UID_NOBODY, same_user_fn, &pv);
	kst_chan_post(&pv.done, 'D');
	kst_wait_ok(owner, "queue owner");
}

/* An inherited and an SCM_RIGHTS-passed queue work for another uid. */

struct passing {
	int inherited;
	int sock;
};

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { &data, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	int fd = -1;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = c.buf;
	msg.msg_controllen = sizeof(c.buf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int send_fd(int sock, int fd)
{
	char data = 'q';
	struct iovec iov = { &data, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = c.buf;
	msg.msg_controllen = sizeof(c.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static void passed_user_fn(void *arg)
{
	struct passing *ps = arg;
	int fd;

	/* inherited across fork and setuid */
	kt_ready_user(ps->inherited, 1, 1, 0x100);
	kt_add_user(ps->inherited, 7, 7, KEVENT_REQ_ONESHOT);
	/* received over a unix socket */
	fd = recv_fd(ps->sock);
	KT_ASSERT(fd >= 0);
	kt_ready_user(fd, 2, 2, 0x200);
	close(fd);
}

TEST(queue_passed_by_fd)
{
	struct passing ps;
	struct ukevent buf[4];
	int sv[2], q2;
	pid_t pid;
	long long added;

	need_root();
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ps.inherited = kt_queue();
	ps.sock = sv[1];
	kt_add_user(ps.inherited, 1, 1, 0);
	pid = kst_spawn_as(UID_LAB, passed_user_fn, &ps);
	/* made after the fork: the child can only get it through the socket */
	q2 = kt_queue();
	kt_add_user(q2, 2, 2, KEVENT_REQ_ONESHOT);
	KT_ASSERT_OK(send_fd(sv[0], q2));
	kst_wait_ok(pid, "uid 1000 using passed queues");
	KT_EXPECT_EQ(kt_get_now(ps.inherited, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], 0x100);
	KT_EXPECT_EQ(kt_get_now(q2, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].ret_data[0], 0x200);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	/* the ADD of uid 1000 went to the shared queue */
	added = kevent_fdinfo(ps.inherited, KFD_ADDED);
	KT_EXPECT_EQ(added, 2);
	KT_EXPECT_EQ(kevent_fdinfo(ps.inherited, KFD_REGISTERED), 2);
}

/*
 * Whose count does an ADD on a shared queue charge? The queue's owner's
 * (the creator, as epoll charges the epoll instance's user): uid 1000 at
 * its own cap can still add to root's queue, and doing so uses root's room.
 */
struct charge {
	int rootq;
	struct kst_chan full, go;
};

static void charge_fn(void *arg)
{
	struct charge *c = arg;
	int own = kt_queue();

	fill(own, 0, CAP_U);
	expect_full(own, CAP_U);
	/* root's queue: charged to root, who has room */
	fill(c->rootq, 100, 2);
	kst_chan_post(&c->full, 'F');
	KT_ASSERT_EQ(kst_chan_wait(&c->go, KT_SOON_MS), 'G');
	/* root is now full: the shared queue refuses, with ENOSPC */
	expect_full(c->rootq, 102);
	close(own);
}

TEST(cap_charged_to_queue_owner)
{
	struct kst_guard g;
	struct charge c;
	long room0, room;
	pid_t pid;

	set_user_cap(&g, CAP_U);
	room0 = kst_user_room(CAP_U);
	KT_ASSERT(room0 >= 8);
	c.rootq = kt_queue();
	KT_ASSERT(kst_chan_open(&c.full) && kst_chan_open(&c.go));
	pid = kst_spawn_as(UID_LAB, charge_fn, &c);
	KT_ASSERT_EQ(kst_chan_wait(&c.full, KT_SOON_MS), 'F');
	room = kst_user_room(CAP_U);
	kt_log("root room %ld before, %ld after uid 1000 added 2 to root's queue", room0, room);
	KT_EXPECT_EQ(room, room0 - 2);
	fill(c.rootq, 200, room0 - 2);
	kst_chan_post(&c.go, 'G');
	kst_wait_ok(pid, "uid 1000 adding to root's queue");
	close(c.rootq);
	KT_EXPECT_EQ(kst_user_room(CAP_U), room0);
	kst_guard_end(&g);
}

