// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_errno (see doc.c): the inputs of each row of docs/errors.md. A
 * check feeds them to the kernel in the order the row's result lists their
 * outcomes (CALL(k, ...), ENTRY(k, ...)); the expected errno comes from the
 * document, not from here. Each check runs in a fresh process and world.
 */
#include "kevent_errno.h"

void env_open(struct env *e)
{
	char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	KT_ASSERT(m != MAP_FAILED);
	e->max = kt_sysctl_read(KT_MAX_RING_PATH);
	KT_ASSERT(e->max >= 2 && e->max <= (1 << 20));
	e->m = m;
	e->ro_page = m + 4 * PAGE;
	e->none = m + 5 * PAGE;
	/* far from every mapping, so that no later mmap() fills it */
	e->unmapped = (char *)0x300000000ULL;
	KT_ASSERT(kt_is_unmapped(e->unmapped));
	KT_ASSERT_OK(mprotect(m + 3 * PAGE, PAGE, PROT_NONE));	/* guard after 3 pages */
	KT_ASSERT_OK(mprotect(e->none, PAGE, PROT_NONE));
	e->ro = (struct ukevent *)e->ro_page;
	e->ro[0] = ukevent_user(5, 5);
	KT_ASSERT_OK(mprotect(e->ro_page, PAGE, PROT_READ));
	e->big = kevent_ring_alloc((unsigned int)e->max + 1);
	KT_ASSERT(e->big);
	e->ring = kevent_ring_alloc(4);
	KT_ASSERT(e->ring);
	e->ts0 = kevent_ts(0, 0);
	e->fd = kt_queue();
	e->rfd = (int)KT_ASSERT_OK(kevent_init(e->ring, 4, 0));
	e->dev = (int)KT_ASSERT_OK(open("/dev/kevent", O_RDWR | O_CLOEXEC));
	KT_ASSERT_OK(pipe2(e->p, O_CLOEXEC | O_NONBLOCK));
	e->efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, e->sk));
	e->null = (int)KT_ASSERT_OK(open("/dev/null", O_RDWR | O_CLOEXEC));
	e->file = (int)KT_ASSERT_OK(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
	e->dir = (int)KT_ASSERT_OK(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	e->opath = (int)KT_ASSERT_OK(open("/", O_PATH | O_CLOEXEC));
	e->ep = (int)KT_ASSERT_OK(epoll_create1(EPOLL_CLOEXEC));
	e->closed = (int)KT_ASSERT_OK(dup2(e->p[0], 901));
	close(e->closed);
	e->guard_arr = (struct ukevent *)(m + 3 * PAGE - 2 * sizeof(struct ukevent) - 8);
}

/* USER kevents 10 and 11 (user 0) registered, as an ADD of guard_arr leaves them. */
void add_10_11(struct env *e)
{
	kt_add_user(e->fd, 10, 0, 0);
	kt_add_user(e->fd, 11, 0, 0);
}

/* The ring of rfd (4 entries) with one event written by the kernel, uncommitted. */
void ring_one_written(struct env *e)
{
	kt_add_user(e->rfd, 1, 1, 0);
	kt_ready_user(e->rfd, 1, 1, 0);
	KT_ASSERT_EQ(kevent_wait(e->rfd, 4, 0, &e->ts0, 0), 1);
	KT_ASSERT_EQ(kevent_ring_kidx(e->ring), 1);
}

struct ukevent user_flags(__u64 id, __u32 flags)
{
	struct ukevent uk = ukevent_user(id, 0);

	uk.req_flags = flags;
	return uk;
}

struct ukevent of_type(__u32 type)
{
	struct ukevent uk = ukevent_user(1, 0);

	uk.type = type;
	return uk;
}

/* ---- the checks: each row's inputs, in the order of its result ------------------ */

/* kevent_init */

static void row_I1(struct env *e)
{
	(void)e;
	CALL(0, kevent_init(NULL, 0, 1));
	CALL(0, kevent_init(NULL, 0, O_NONBLOCK));
	CALL(0, kevent_init(NULL, 0, 0x80000000u));
	CALL(0, kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC | 2));
}

static void row_I2(struct env *e)
{
	CALL(0, kevent_init(e->big, 1, 0));
}

static void row_I3(struct env *e)
{
	CALL(0, kevent_init(e->big, 0, 0));
}

static void row_I4(struct env *e)
{
	CALL(0, kevent_init(e->big, (unsigned int)e->max + 1, 0));
	CALL(0, kevent_init(e->big, 0x80000000u, 0));
	CALL(0, kevent_init(e->big, 0xffffffffu, 0));
}

static void row_I5(struct env *e)
{
	CALL(0, kevent_init(NULL, 2, 0));
	CALL(0, kevent_init(NULL, (unsigned int)e->max, 0));
}

static void row_I6(struct env *e)
{
	CALL(0, kevent_init((struct kevent_ring *)e->ro_page, 2, 0));
}

static void row_I7(struct env *e)
{
	CALL(0, kevent_init((struct kevent_ring *)e->none, 2, 0));
	CALL(0, kevent_init((struct kevent_ring *)e->unmapped, 2, 0));
}

static void row_I8(struct env *e)
{
	(void)e;
	CALL(0, kevent_init((struct kevent_ring *)0xffff800000000000ull, 2, 0));
	CALL(0, kevent_init((struct kevent_ring *)0xffffffff81000000ull, 2, 0));
}

static void row_I9(struct env *e)
{
	(void)e;
	CALL(0, kevent_init((struct kevent_ring *)0x8000000000000000ull, 2, 0));
}

static void row_I10(struct env *e)
{
	int s;

	/* 3 pages then the guard: the ring of 308 entries fits, 309 does not */
	CALL(0, kevent_init((struct kevent_ring *)e->m, (3 * PAGE - 8) / 40 + 1, 0));
	s = (int)CALL(1, kevent_init((struct kevent_ring *)e->m, (3 * PAGE - 8) / 40, 0));
	if (s >= 0)
		close(s);
}

static void row_I11(struct env *e)
{
	memset(e->m, 0x77, 16);
	CALL(0, kevent_init((struct kevent_ring *)(e->m + 1), 8, 0));
	CALL(1, kevent_init((struct kevent_ring *)(e->m + 4), 8, 0));
	KT_EXPECT(!memcmp(e->m, "\x77\x77\x77\x77\x77\x77\x77\x77", 8));
}

static void row_I13(struct env *e)
{
	(void)e;
	CALL(0, kevent_init(NULL, 1, 0x40));
}

/* kevent_ctl, the whole call */

static void row_C1(struct env *e)
{
	struct ukevent uk = ukevent_user(1, 0);

	CALL(0, kevent_ctl(-1, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->closed, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(1 << 20, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(INT_MAX, KEVENT_CTL_READY, 0, NULL));
}

static void row_C2(struct env *e)
{
	struct ukevent uk = ukevent_user(1, 0);

	CALL(0, kevent_ctl(e->opath, KEVENT_CTL_ADD, 1, &uk));
}

static void row_C3(struct env *e)
{
	struct ukevent uk = ukevent_user(1, 0);

	CALL(0, kevent_ctl(e->p[0], KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->efd, KEVENT_CTL_READY, 0, NULL));
	CALL(0, kevent_ctl(e->sk[0], KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->null, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->file, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->dir, KEVENT_CTL_ADD, 1, &uk));
	CALL(0, kevent_ctl(e->ep, KEVENT_CTL_ADD, 1, &uk));
}

static void row_C4(struct env *e)
{
	struct ukevent uk = ukevent_user(1, 0);

	CALL(0, kevent_ctl(e->fd, 4, 1, &uk));
	CALL(0, kevent_ctl(e->fd, 0x100, 1, &uk));
	CALL(0, kevent_ctl(e->fd, 0xffffffffu, 0, NULL));
}

static void row_C5(struct env *e)
{
	struct ukevent uk = ukevent_user(1, 0);

	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_ADD, KEVENT_MAX_BATCH + 1, &uk));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_READY, 0x80000000u, &uk));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_REMOVE, 0xffffffffu, NULL));
}

static void row_C6(struct env *e)
{
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_ADD, 1, NULL));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_MODIFY, 2, (struct ukevent *)e->unmapped));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_REMOVE, 1, (struct ukevent *)e->none));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_READY, 1, (struct ukevent *)0xffffffff81000000ull));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_ADD, 1, (struct ukevent *)(e->m + 3 * PAGE - 8)));
}

static void row_C7(struct env *e)
{
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_ADD, 0, (struct ukevent *)e->unmapped));
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_READY, 0, NULL));
}

/* a read-only array is read, processed, and the write-back fails */
static void row_C8(struct env *e)
{
	struct ukevent arr[4];

	kt_add_user(e->fd, 5, 5, 0);
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_READY, 1, e->ro));
	KT_EXPECT_EQ(kevent_fdinfo(e->fd, KFD_READY), 1);	/* the READY took effect */
	KT_EXPECT_EQ(kt_get_now(e->fd, arr, 4), 1);
}

/* an ADD of 2 readable entries then an unreadable third: 2 processed */
static void row_C9(struct env *e)
{
	e->guard_arr[0] = ukevent_user(10, 0);
	e->guard_arr[1] = ukevent_user(11, 0);
	CALL(0, kevent_ctl(e->fd, KEVENT_CTL_ADD, 3, e->guard_arr));
	KT_EXPECT_EQ(kevent_fdinfo(e->fd, KFD_REGISTERED), 2);
}

/* kevent_ctl, per entry */

static void row_E1(struct env *e)
{
	for (__u32 t = KEVENT_NAIO; t <= KEVENT_AIO; t++)
		ENTRY(0, e->fd, KEVENT_CTL_ADD, of_type(t));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, of_type(KEVENT_MAX_TYPES));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, of_type(0xffffffffu));
}

static void row_E2(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, user_flags(20, 0x20));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, user_flags(20, 0x80000000u));
}

static void row_E3(struct env *e)
{
	struct ukevent uk = ukevent_timer(0, 1000000, 0);

	uk.event = 2;
	ENTRY(0, e->fd, KEVENT_CTL_ADD, uk);
	uk.event = 0;
	ENTRY(0, e->fd, KEVENT_CTL_ADD, uk);
}

static void row_E4(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_timer(0, 0, 0));
}

static void row_E5(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_timer(1, 1000000000u, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_timer(0, 0xffffffffu, 0));
}

static void row_E6(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->p[0], 0, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->p[0], 0x80000000u, 0));
}

static void row_E7(struct env *e)
{
	add_10_11(e);
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_user(10, 99));
}

static void row_E8(struct env *e)
{
	add_10_11(e);
	ENTRY(0, e->fd, KEVENT_CTL_REMOVE, ukevent_user(12345, 0));
	ENTRY(0, e->fd, KEVENT_CTL_MODIFY, ukevent_user(10, 1));	/* user differs */
	ENTRY(0, e->fd, KEVENT_CTL_READY, of_type(KEVENT_TIMER));
}

static void row_E9(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->closed, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(-1, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->opath, POLLIN, 0));
}

static void row_E10(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->fd, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->rfd, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->dev, POLLIN, 0));
}

static void row_E11(struct env *e)
{
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->null, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->file, POLLIN, 0));
	ENTRY(0, e->fd, KEVENT_CTL_ADD, ukevent_poll(e->dir, POLLIN, 0));
}

static void row_E13(struct env *e)
{
	struct ukevent uk = ukevent_user(10, 0);

	add_10_11(e);
	uk.req_flags = 0x40;
	ENTRY(0, e->fd, KEVENT_CTL_MODIFY, uk);
}

static void row_E14(struct env *e)
{
	struct ukevent uk = ukevent_timer(100, 0, 0);

	KT_ASSERT_EQ(kevent_ctl(e->fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk = ukevent_timer(100, 0, 0);
	uk.event = 4;
	ENTRY(0, e->fd, KEVENT_CTL_MODIFY, uk);
	uk = ukevent_poll(e->p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(e->fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk.event = 0;
	ENTRY(0, e->fd, KEVENT_CTL_MODIFY, uk);
}

/* kevent_get_events */

static void row_G1(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(-1, 0, 1, &e->ts0, arr, 0));
	CALL(0, kevent_get_events(e->closed, 0, 1, &e->ts0, arr, 0));
	CALL(0, kevent_get_events(e->opath, 0, 1, &e->ts0, arr, 0));
}

static void row_G2(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(e->p[0], 0, 1, &e->ts0, arr, 0));
	CALL(0, kevent_get_events(e->ep, 0, 1, &e->ts0, arr, 0));
}

static void row_G3(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(e->fd, 0, 1, &e->ts0, arr, 2));
	CALL(0, kevent_get_events(e->fd, 0, 1, &e->ts0, arr, KEVENT_FLAGS_ABSTIME | 4));
	CALL(0, kevent_get_events(e->fd, 0, 1, &e->ts0, arr, 0x80000000u));
}

static void row_G4(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(e->fd, 0, KEVENT_MAX_BATCH + 1, &e->ts0, arr, 0));
	CALL(0, kevent_get_events(e->fd, 0, 0xffffffffu, &e->ts0, arr, 0));
}

static void row_G5(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(e->fd, 2, 1, &e->ts0, arr, 0));
}

static void row_G6(struct env *e)
{
	struct __kernel_timespec bad_ts;
	struct ukevent arr[4];

	bad_ts = kevent_ts(0, 1000000000);
	CALL(0, kevent_get_events(e->fd, 0, 1, &bad_ts, arr, 0));
	bad_ts = kevent_ts(0, -1);
	CALL(0, kevent_get_events(e->fd, 0, 1, &bad_ts, arr, 0));
	bad_ts = kevent_ts(-1, 0);
	CALL(0, kevent_get_events(e->fd, 1, 1, &bad_ts, arr, 0));
	CALL(0, kevent_get_events(e->fd, 1, 1, &bad_ts, arr, KEVENT_FLAGS_ABSTIME));
}

static void row_G7(struct env *e)
{
	struct ukevent arr[4];

	CALL(0, kevent_get_events(e->fd, 1, 1, (struct __kernel_timespec *)e->unmapped, arr, 0));
	CALL(0, kevent_get_events(e->fd, 1, 1, (struct __kernel_timespec *)e->none, arr, 0));
	CALL(0, kevent_get_events(e->fd, 0, 1, (struct __kernel_timespec *)1, arr, 0));
	CALL(0, kevent_get_events(e->fd, 0, 1, (struct __kernel_timespec *)0xffffffff81000000ull,
				  arr, 0));
}

static void row_G8(struct env *e)
{
	CALL(0, kevent_get_events(e->fd, 0, 1, &e->ts0, (struct ukevent *)0xffffffff81000000ull, 0));
	CALL(0, kevent_get_events(e->fd, 0, 0, &e->ts0, (struct ukevent *)0x8000000000000000ull, 0));
}

static void row_G9(struct env *e)
{
	struct ukevent arr[4];

	add_10_11(e);
	kt_ready_user(e->fd, 10, 0, 1);
	CALL(0, kevent_get_events(e->fd, 0, 4, &e->ts0, NULL, 0));
	CALL(0, kevent_get_events(e->fd, 0, 4, &e->ts0, (struct ukevent *)e->unmapped, 0));
	CALL(0, kevent_get_events(e->fd, 0, 4, &e->ts0, e->ro, 0));
	CALL(0, kevent_get_events(e->fd, 0, 4, &e->ts0, (struct ukevent *)e->none, 0));
	KT_EXPECT_EQ(kt_get_now(e->fd, arr, 4), 1);	/* not lost */
	KT_EXPECT_EQ(arr[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
}

/* nothing ready: nothing to copy, so no fault */
static void row_G10(struct env *e)
{
	add_10_11(e);
	CALL(0, kevent_get_events(e->fd, 0, 4, &e->ts0, NULL, 0));
}

/* room for one entry before the guard, two ready: one returned */
static void row_G11(struct env *e)
{
	struct ukevent arr[4];

	add_10_11(e);
	kt_ready_user(e->fd, 10, 0, 1);
	kt_ready_user(e->fd, 11, 0, 1);
	CALL(0, kevent_get_events(e->fd, 0, 2, &e->ts0, e->guard_arr + 1, 0));
	KT_EXPECT_EQ(kt_get_now(e->fd, arr, 4), 1);
}

static void row_G12(struct env *e)
{
	struct ukevent arr[4];

	/* a {0, 0} timespec in the read-only page */
	CALL(0, kevent_get_events(e->fd, 0, 1, (struct __kernel_timespec *)(e->ro_page + 64), arr, 0));
}

/* kevent_wait */

static void row_W1(struct env *e)
{
	CALL(0, kevent_wait(-1, 1, 0, &e->ts0, 0));
	CALL(0, kevent_wait(e->opath, 1, 0, &e->ts0, 0));
}

static void row_W2(struct env *e)
{
	CALL(0, kevent_wait(e->p[1], 1, 0, &e->ts0, 0));
}

static void row_W3(struct env *e)
{
	CALL(0, kevent_wait(e->fd, 1, 0, &e->ts0, 0));
	CALL(0, kevent_wait(e->dev, 1, 0, &e->ts0, 0));
}

static void row_W4(struct env *e)
{
	CALL(0, kevent_wait(e->rfd, 0, 0, &e->ts0, 0));
}

static void row_W5(struct env *e)
{
	CALL(0, kevent_wait(e->rfd, KEVENT_MAX_BATCH + 1, 0, &e->ts0, 0));
	CALL(0, kevent_wait(e->rfd, 0xffffffffu, 0, &e->ts0, 0));
}

static void row_W6(struct env *e)
{
	CALL(0, kevent_wait(e->rfd, 1, 0, &e->ts0, 2));
}

static void row_W7(struct env *e)
{
	struct __kernel_timespec bad_ts = kevent_ts(0, 1000000000);

	CALL(0, kevent_wait(e->rfd, 1, 0, &bad_ts, 0));
}

static void row_W8(struct env *e)
{
	CALL(0, kevent_wait(e->rfd, 1, 0, (struct __kernel_timespec *)e->unmapped, 0));
}

static void row_W9(struct env *e)
{
	kt_add_user(e->rfd, 1, 1, 0);
	kt_ready_user(e->rfd, 1, 1, 0);
	KT_ASSERT_OK(mprotect(e->ring, PAGE, PROT_READ));
	CALL(0, kevent_wait(e->rfd, 1, 0, &e->ts0, 0));
	KT_ASSERT_OK(mprotect(e->ring, PAGE, PROT_READ | PROT_WRITE));
	KT_EXPECT_EQ(kevent_wait(e->rfd, 4, 0, &e->ts0, 0), 1);	/* the event was kept */
	KT_EXPECT_EQ(kevent_ring_kidx(e->ring), 1);
}

static void row_W10(struct env *e)
{
	kt_add_user(e->rfd, 1, 1, 0);
	kt_ready_user(e->rfd, 1, 1, 0);
	CALL(0, kevent_wait(e->rfd, 1, 3, &e->ts0, 0));	/* stale old_uidx */
	KT_EXPECT_EQ(kevent_ring_kidx(e->ring), 0);
}

/* kevent_commit: ring of 4, one written */

static void row_K1(struct env *e)
{
	CALL(0, kevent_commit(-1, 0, 0));
	CALL(0, kevent_commit(e->opath, 0, 0));
}

static void row_K2(struct env *e)
{
	CALL(0, kevent_commit(e->p[0], 0, 0));
	CALL(0, kevent_commit(e->fd, 0, 0));
}

static void row_K3(struct env *e)
{
	ring_one_written(e);
	CALL(0, kevent_commit(e->rfd, 4, 0));
	CALL(0, kevent_commit(e->rfd, 0xffffffffu, 0));
}

/* stale or garbage lap */
static void row_K4(struct env *e)
{
	ring_one_written(e);
	CALL(0, kevent_commit(e->rfd, 1, 1));
	CALL(0, kevent_commit(e->rfd, 1, 0xffffffffu));
}

/* behind the last commit */
static void row_K5(struct env *e)
{
	ring_one_written(e);
	KT_EXPECT_EQ(kevent_commit(e->rfd, 1, 0), 1);
	CALL(0, kevent_commit(e->rfd, 0, 0));
}

/* ahead of kidx */
static void row_K6(struct env *e)
{
	ring_one_written(e);
	CALL(0, kevent_commit(e->rfd, 2, 0));
}

/* nothing consumed */
/*
 * kevent_wait() (or kevent_commit()) on rfd in a forked child, another
 * address space: its return value, with errno as the child saw it.
 */
static long ring_call_in_child(struct env *e, bool commit)
{
	long res[2] = { 0, 0 };
	int pfd[2], status;
	pid_t pid;

	KT_ASSERT_OK(pipe(pfd));
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		errno = 0;
		res[0] = commit ? kevent_commit(e->rfd, 0, 0) :
				  kevent_wait(e->rfd, 1, 0, &e->ts0, 0);
		res[1] = errno;
		_exit(write(pfd[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(pfd[1]);
	KT_ASSERT(read(pfd[0], res, sizeof(res)) == sizeof(res));
	close(pfd[0]);
	KT_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	errno = (int)res[1];
	return res[0];
}

static void row_W11(struct env *e)
{
	ring_one_written(e);
	CALL(0, ring_call_in_child(e, false));
	/* the creator still works */
	KT_EXPECT_EQ(kevent_commit(e->rfd, 1, 0), 1);
}

static void row_K8(struct env *e)
{
	ring_one_written(e);
	CALL(0, ring_call_in_child(e, true));
	KT_EXPECT_EQ(kevent_commit(e->rfd, 1, 0), 1);
}

static void row_K7(struct env *e)
{
	ring_one_written(e);
	CALL(0, kevent_commit(e->rfd, 0, 0));
}

/* sysctls */

static void row_S2(struct env *e)
{
	int tfd;

	if (geteuid() != 0)
		kt_skip("not root: the sysctl is not writable");
	tfd = open(KT_MAX_RING_PATH, O_WRONLY | O_CLOEXEC);
	KT_ASSERT(tfd >= 0);
	CALL(0, write(tfd, "1\n", 2));
	CALL(0, write(tfd, "16777217\n", 9));
	close(tfd);
	KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), e->max);
}

#define CHECK(id) { #id, row_##id }

const struct check errno_checks[] = {
	CHECK(I1), CHECK(I2), CHECK(I3), CHECK(I4), CHECK(I5), CHECK(I6), CHECK(I7),
	CHECK(I8), CHECK(I9), CHECK(I10), CHECK(I11), CHECK(I13),
	CHECK(C1), CHECK(C2), CHECK(C3), CHECK(C4), CHECK(C5), CHECK(C6), CHECK(C7),
	CHECK(C8), CHECK(C9),
	CHECK(E1), CHECK(E2), CHECK(E3), CHECK(E4), CHECK(E5), CHECK(E6), CHECK(E7),
	CHECK(E8), CHECK(E9), CHECK(E10), CHECK(E11), CHECK(E13), CHECK(E14),
	CHECK(G1), CHECK(G2), CHECK(G3), CHECK(G4), CHECK(G5), CHECK(G6), CHECK(G7),
	CHECK(G8), CHECK(G9), CHECK(G10), CHECK(G11), CHECK(G12),
	CHECK(W1), CHECK(W2), CHECK(W3), CHECK(W4), CHECK(W5), CHECK(W6), CHECK(W7),
	CHECK(W8), CHECK(W9), CHECK(W10), CHECK(W11),
	CHECK(K1), CHECK(K2), CHECK(K3), CHECK(K4), CHECK(K5), CHECK(K6), CHECK(K7), CHECK(K8),
	CHECK(S2),
};

const size_t errno_nchecks = sizeof(errno_checks) / sizeof(errno_checks[0]);
