// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_pipe - the PIPE storage (type 6) on anonymous pipes and FIFOs:
 * RECV for data and end of file, SEND for room and a vanished reader, on
 * either end; data fed by write(), splice(), tee() and vmsplice(), room
 * made by read(), splice(), vmsplice() and F_SETPIPE_SZ; ret_data; the
 * request flags (ONESHOT, ET, level re-check, LAST_CHECK, ALWAYS_QUEUE,
 * WAKEUP_ONE for threads of one queue and for one queue per worker, and
 * its pass-on when a ready WAKEUP_ONE kevent is removed); MODIFY; every
 * refused request with its exact errno; and the teardown: one end closed
 * while events are pending, both ends closed (the kevents are removed,
 * whatever their state, also while other threads dequeue them), the queue
 * closed first, a process exiting. docs/abi.md is the contract.
 *
 * "Must wake" checks are bounded (KT_SOON_MS); nothing here asserts a
 * time. Sleepers are seen asleep in their system call before anything
 * fires.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "kevent_test.h"

#define RECV	KEVENT_PIPE_RECV
#define SEND	KEVENT_PIPE_SEND
#define PAGE	4096

/* A non-blocking pipe of one page: full after one page is written. */
static void small_pipe(int p[2])
{
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	KT_ASSERT_EQ(fcntl(p[1], F_SETPIPE_SZ, PAGE), PAGE);
}

static void put(int fd, const char *s)
{
	KT_ASSERT(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* Write until the pipe is full (EAGAIN); bytes written. */
static long fill(int fd)
{
	static char buf[PAGE];
	long n = 0;
	ssize_t r;

	while ((r = write(fd, buf, sizeof(buf))) > 0)
		n += r;
	KT_ASSERT(errno == EAGAIN);
	return n;
}

/* Read what there is, up to len bytes (everything if len < 0). */
static long take(int fd, long len)
{
	char buf[PAGE];
	long n = 0;
	ssize_t r;

	while (len < 0 || n < len) {
		size_t want = len < 0 || len - n > PAGE ? PAGE : (size_t)(len - n);

		r = read(fd, buf, want);
		if (r <= 0)
			break;
		n += r;
	}
	return n;
}

/* Register a PIPE kevent that must not complete at ADD. */
static void add_pipe(int q, int fd, __u32 events, __u32 flags, __u64 user)
{
	struct ukevent uk = ukevent_pipe(fd, events, flags);
	char what[80];

	uk.user_u64 = user;
	snprintf(what, sizeof(what), "ADD pipe fd %d events %#x flags %#x", fd, events, flags);
	kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, what);
}

/* ADD one request expected to fail with err in ret_data[0]. */
static void expect_broken(int q, struct ukevent uk, int err)
{
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, err);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* The one event of q, now; ends the test if there is not exactly one. */
static struct ukevent one_now(int q)
{
	struct ukevent buf[4];

	if (kt_ready_now(q, buf, 4) != 1) {
		kt_fail_at(__FILE__, __LINE__, "expected exactly one ready event");
		kt_end_test();
	}
	return buf[0];
}

/* ---- refused requests ---------------------------------------------- */

TEST(refused_requests)
{
	int q = kt_queue(), p[2], s[2], efd, nul, path;
	struct ukevent uk;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	/* a descriptor that is not open; an O_PATH descriptor of a FIFO */
	expect_broken(q, ukevent_pipe(1000, RECV, 0), EBADF);
	expect_broken(q, ukevent_pipe(-1, RECV, 0), EBADF);
	unlink("/tmp/kevent-pipe-opath");
	KT_ASSERT_OK(mkfifo("/tmp/kevent-pipe-opath", 0600));
	path = (int)KT_ASSERT_OK(open("/tmp/kevent-pipe-opath", O_PATH | O_CLOEXEC));
	expect_broken(q, ukevent_pipe(path, RECV, 0), EBADF);
	unlink("/tmp/kevent-pipe-opath");
	/* not a pipe: a socket, an eventfd, /dev/null, the queue itself */
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	expect_broken(q, ukevent_pipe(s[0], RECV, 0), EBADF);
	efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	expect_broken(q, ukevent_pipe(efd, RECV, 0), EBADF);
	nul = (int)KT_ASSERT_OK(open("/dev/null", O_RDWR | O_CLOEXEC));
	expect_broken(q, ukevent_pipe(nul, SEND, 0), EBADF);
	expect_broken(q, ukevent_pipe(q, RECV, 0), EBADF);
	/* masks: empty, ACCEPT (a SOCKET event), unknown bits */
	expect_broken(q, ukevent_pipe(p[0], 0, 0), EINVAL);
	expect_broken(q, ukevent_pipe(p[0], KEVENT_SOCKET_ACCEPT, 0), EINVAL);
	expect_broken(q, ukevent_pipe(p[0], 0x8, 0), EINVAL);
	expect_broken(q, ukevent_pipe(p[0], RECV | 0x100, 0), EINVAL);
	/* an unknown request flag */
	expect_broken(q, ukevent_pipe(p[0], RECV, 0x20), EINVAL);
	/* a duplicate key */
	add_pipe(q, p[0], RECV, 0, 1);
	uk = ukevent_pipe(p[0], SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_BROKEN(uk, EEXIST);
	/* MODIFY/REMOVE of what is not there */
	uk = ukevent_pipe(p[1], RECV, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	uk = ukevent_pipe(p[1], RECV, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	/* MODIFY to an invalid mask */
	uk = ukevent_pipe(p[0], KEVENT_SOCKET_ACCEPT, 0);
	uk.user_u64 = 1;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 0);
	KT_EXPECT_BROKEN(uk, EINVAL);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* ---- events on both ends ------------------------------------------- */

/* RECV on the read end and on the write end: each write is told. */
static void recv_on(int end)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[end], RECV, 0, 0x11);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(p[1], "hello");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.type, KEVENT_PIPE);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)p[end]);
	KT_EXPECT_EQ(ev.user_u64, 0x11);
	KT_EXPECT_EQ(ev.event, RECV);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(ev.ret_flags, KEVENT_RET_DONE);
	KT_EXPECT_EQ(take(p[0], -1), 5);
	/* read: the level re-check finds nothing */
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
}

TEST(recv_read_end)
{
	recv_on(0);
}

TEST(recv_write_end)
{
	recv_on(1);
}

/*
 * SEND on either end of a full pipe: reading part of the only buffer
 * leaves the pipe full (the pipe wakes its writers, kevent is not told);
 * emptying the buffer frees the slot: SEND.
 */
static void send_on(int end)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, uk, buf[2];
	long long marked;

	small_pipe(p);
	/* an empty pipe has room: SEND completes at ADD */
	uk = ukevent_pipe(p[end], SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT_EQ(uk.ret_data[0], SEND);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);

	KT_EXPECT_EQ(fill(p[1]), PAGE);
	add_pipe(q, p[end], SEND, 0, 0x22);
	marked = kevent_fdinfo(q, KFD_MARKED);
	KT_EXPECT_EQ(take(p[0], 1), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_MARKED), marked);
	KT_EXPECT_EQ(take(p[0], -1), PAGE - 1);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.user_u64, 0x22);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
}

TEST(send_write_end)
{
	send_on(1);
}

TEST(send_read_end)
{
	send_on(0);
}

/* A blocked writer of more than the pipe holds: the reader is told. */
struct big_write {
	int fd;
	long len;
	ssize_t ret;
};

static void *big_write_fn(void *arg)
{
	struct big_write *b = arg;
	static char buf[4 * PAGE];

	b->ret = write(b->fd, buf, (size_t)b->len);
	return NULL;
}

TEST(blocking_writer_tells_reader)
{
	struct big_write b = { .len = 4 * PAGE };
	int q = kt_queue(), p[2];
	pthread_t th;
	long got = 0;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC));
	KT_ASSERT_EQ(fcntl(p[1], F_SETPIPE_SZ, PAGE), PAGE);
	add_pipe(q, p[0], RECV, KEVENT_REQ_ET, 1);
	b.fd = p[1];
	KT_ASSERT(pthread_create(&th, NULL, big_write_fn, &b) == 0);
	/* each RECV: read what is there; the writer refills the pipe */
	while (got < b.len) {
		struct ukevent ev = kt_wait_one(q);

		KT_EXPECT_EQ(ev.ret_data[0], RECV);
		KT_ASSERT_OK(fcntl(p[0], F_SETFL, O_NONBLOCK));
		got += take(p[0], -1);
	}
	KT_EXPECT(kt_join(th, NULL, KT_SOON_MS));
	KT_EXPECT_EQ(b.ret, b.len);
	KT_EXPECT_EQ(got, b.len);
}

/* The last writer closes: RECV, read() returns 0; level: every dequeue. */
TEST(eof_when_writer_closes)
{
	int q = kt_queue(), p[2];
	struct ukevent ev;
	char c;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 3);
	close(p[1]);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(read(p[0], &c, 1), 0);
	/* end of file stays: reported again, once per dequeue */
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
}

/* The last reader closes on a full pipe: SEND, write() fails with EPIPE. */
TEST(epipe_when_reader_closes)
{
	int q = kt_queue(), p[2];
	struct ukevent ev;

	signal(SIGPIPE, SIG_IGN);
	small_pipe(p);
	fill(p[1]);
	add_pipe(q, p[1], SEND, KEVENT_REQ_ET, 4);
	close(p[0]);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_ERRNO(write(p[1], "x", 1), EPIPE);
}

/* F_SETPIPE_SZ makes room in a full pipe: SEND. */
TEST(resize_makes_room)
{
	int q = kt_queue(), p[2];
	struct ukevent ev;

	small_pipe(p);
	fill(p[1]);
	add_pipe(q, p[1], SEND, 0, 5);
	KT_ASSERT_EQ(fcntl(p[1], F_SETPIPE_SZ, 2 * PAGE), 2 * PAGE);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
}

/* ---- splice, tee, vmsplice ----------------------------------------- */

/* Into the pipe: splice() from another pipe, tee(), vmsplice(). */
TEST(splice_tee_vmsplice_feed)
{
	int q = kt_queue(), src[2], dst[2];
	struct iovec iov = { .iov_base = "vm", .iov_len = 2 };
	struct ukevent ev;

	KT_ASSERT_OK(pipe2(src, O_CLOEXEC | O_NONBLOCK));
	KT_ASSERT_OK(pipe2(dst, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, dst[0], RECV, KEVENT_REQ_ET, 6);

	put(src[1], "tee");
	KT_ASSERT_EQ(tee(src[0], dst[1], 3, SPLICE_F_NONBLOCK), 3);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(ev.ret_data[1], 1);

	KT_ASSERT_EQ(splice(src[0], NULL, dst[1], NULL, 3, SPLICE_F_NONBLOCK), 3);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(ev.ret_data[1], 1);

	KT_ASSERT_EQ(vmsplice(dst[1], &iov, 1, SPLICE_F_NONBLOCK), 2);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(take(dst[0], -1), 8);
}

/* splice() from a file into the pipe (the page-cache path). */
TEST(splice_from_file_feeds)
{
	int q = kt_queue(), p[2], f;
	struct ukevent ev;

	f = (int)KT_ASSERT_OK(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
	put(f, "file data");
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 7);
	{
		loff_t off = 0;

		KT_ASSERT_EQ(splice(f, &off, p[1], NULL, 9, SPLICE_F_NONBLOCK), 9);
	}
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(take(p[0], -1), 9);
}

/* Out of a full pipe: splice() to /dev/null, vmsplice() to memory. */
TEST(splice_vmsplice_drain)
{
	int q = kt_queue(), p[2], nul;
	static char mem[PAGE];
	struct iovec iov = { .iov_base = mem, .iov_len = sizeof(mem) };
	struct ukevent ev;

	nul = (int)KT_ASSERT_OK(open("/dev/null", O_WRONLY | O_CLOEXEC));
	small_pipe(p);
	fill(p[1]);
	add_pipe(q, p[1], SEND, KEVENT_REQ_ET, 8);
	KT_ASSERT_EQ(splice(p[0], NULL, nul, NULL, PAGE, SPLICE_F_NONBLOCK), PAGE);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);

	fill(p[1]);
	KT_ASSERT_EQ(vmsplice(p[0], &iov, 1, SPLICE_F_NONBLOCK), PAGE);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
}

/* ---- FIFOs ------------------------------------------------------------ */

#define FIFO "/tmp/kevent-pipe-fifo"

/*
 * A FIFO opened for reading before any writer: not at end of file (no
 * RECV) until a writer has come; data, then the writer's close, report.
 */
TEST(fifo)
{
	int q = kt_queue(), r, w, rw;
	struct ukevent ev, uk, buf[2];
	char c;

	unlink(FIFO);
	KT_ASSERT_OK(mkfifo(FIFO, 0600));
	r = (int)KT_ASSERT_OK(open(FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	add_pipe(q, r, RECV, 0, 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	w = (int)KT_ASSERT_OK(open(FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(w, "f");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(read(r, &c, 1), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* the writer has been and is gone: end of file */
	close(w);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(read(r, &c, 1), 0);
	/* O_RDWR: room at once, on the same pipe as r */
	rw = (int)KT_ASSERT_OK(open(FIFO, O_RDWR | O_NONBLOCK | O_CLOEXEC));
	uk = ukevent_pipe(rw, SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT_EQ(uk.ret_data[0], SEND);
	/* a writer again: no end of file, the level kevent is dropped */
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	put(rw, "g");
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)r);
	/* every file closed: the pipe goes, its kevents with it */
	close(r);
	close(rw);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	unlink(FIFO);
}

/* ---- ADD-time readiness ---------------------------------------------- */

TEST(ready_at_add_completes_or_queues)
{
	int q = kt_queue(), p[2];
	struct ukevent uk, ev;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	put(p[1], "x");
	uk = ukevent_pipe(p[0], RECV | SEND, 0);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 1);
	KT_EXPECT_DONE(uk);
	KT_EXPECT_EQ(uk.ret_data[0], RECV | SEND);
	KT_EXPECT_EQ(uk.ret_data[1], 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	/* ALWAYS_QUEUE: registered and on the ready list */
	uk = ukevent_pipe(p[0], RECV, KEVENT_REQ_ALWAYS_QUEUE);
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_ADD, &uk), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
}

/* ---- flags ----------------------------------------------------------- */

/*
 * Level: unread data is reported again, once per dequeue (never twice in
 * one call, however large the buffer); once read, the re-check drops it.
 */
TEST(level_once_per_dequeue)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[8];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 0);
	put(p[1], "x");
	put(p[1], "y");
	for (int i = 0; i < 3; i++) {
		KT_ASSERT_EQ(kt_ready_now(q, buf, 8), 1);
		KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
	}
	KT_EXPECT_EQ(take(p[0], -1), 2);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 8), 0);
	KT_EXPECT(kevent_fdinfo(q, "stale") >= 1);
	KT_EXPECT(kevent_fdinfo(q, "rechecked") >= 3);
}

/* ET: one delivery per batch of writes, the writes counted. */
TEST(edge_triggered)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, KEVENT_REQ_ET, 0);
	put(p[1], "a");
	put(p[1], "b");
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	/* unread, but no new write: nothing */
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	/* a write to a pipe that is not empty is an edge too */
	put(p[1], "c");
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[1], 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, "rechecked"), 0);
}

TEST(oneshot_removed)
{
	int q = kt_queue(), p[2];
	struct ukevent buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, KEVENT_REQ_ONESHOT, 0);
	put(p[1], "a");
	KT_ASSERT_EQ(kt_ready_now(q, buf, 2), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REMOVED), 1);
	put(p[1], "b");
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
}

/* LAST_CHECK: data consumed before the dequeue is not reported. */
TEST(last_check_drops_consumed)
{
	int q = kt_queue(), p[2];
	struct ukevent ev, buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ET, 0);
	put(p[1], "a");
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 1);
	KT_EXPECT_EQ(take(p[0], -1), 1);
	KT_EXPECT_EQ(kt_ready_now(q, buf, 2), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, "stale"), 1);
	put(p[1], "b");
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
}

/* MODIFY changes the mask and re-checks: SEND is ready at once. */
TEST(modify_rechecks)
{
	int q = kt_queue(), p[2];
	struct ukevent uk, ev;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 9);
	uk = ukevent_pipe(p[0], RECV | SEND, 0);
	uk.user_u64 = 9;
	KT_EXPECT_EQ(kt_ctl1(q, KEVENT_CTL_MODIFY, &uk), 1);
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
}

/* Two queues, both ends, two ids on one pipe: each kevent is told. */
TEST(shared_storage)
{
	int q1 = kt_queue(), q2 = kt_queue(), p[2];
	struct ukevent uk, buf[4];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q1, p[0], RECV, KEVENT_REQ_ET, 1);
	add_pipe(q2, p[1], RECV, KEVENT_REQ_ET, 2);
	uk = ukevent_pipe(p[0], RECV, KEVENT_REQ_ET);
	uk.id.raw[1] = 1;
	uk.user_u64 = 3;
	kt_ctl1_must(q2, KEVENT_CTL_ADD, &uk, 0, "ADD second id");
	put(p[1], "a");
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 4), 1);
	KT_EXPECT_EQ(kt_ready_now(q2, buf, 4), 2);
	/* REMOVE one; the others still work */
	uk = ukevent_pipe(p[1], RECV, 0);
	uk.user_u64 = 2;
	KT_EXPECT_EQ(kt_ctl1(q2, KEVENT_CTL_REMOVE, &uk), 1);
	put(p[1], "b");
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 4), 1);
	KT_ASSERT_EQ(kt_ready_now(q2, buf, 4), 1);
	KT_EXPECT_EQ(buf[0].user_u64, 3);
}

/*
 * An ADD racing a write on another CPU: the kevent either completes at
 * ADD (it saw the data) or is told by the write (the write saw it); the
 * event is never lost between the two (Ordering in storage_pipe.c).
 */
struct racer {
	int fd;
	atomic_int go;
};

static void *race_write_fn(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(&r->go))
		;
	if (write(r->fd, "r", 1) != 1)
		return (void *)1;
	return NULL;
}

TEST(add_races_write)
{
	int q = kt_queue(), completed = 0, told = 0;

	kt_need_cpus(2);
	for (int i = 0; i < 200; i++) {
		struct racer r = { 0 };
		struct ukevent uk;
		pthread_t th;
		void *ret;
		int p[2], n;

		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		r.fd = p[1];
		KT_ASSERT(pthread_create(&th, NULL, race_write_fn, &r) == 0);
		uk = ukevent_pipe(p[0], RECV, (__u32)(i & 1 ? KEVENT_REQ_ET : 0));
		atomic_store(&r.go, 1);
		n = kt_ctl1(q, KEVENT_CTL_ADD, &uk);
		KT_ASSERT(kt_join(th, &ret, KT_SOON_MS));
		KT_ASSERT(ret == NULL);
		if (n == 1) {
			KT_EXPECT_DONE(uk);
			KT_EXPECT_EQ(uk.ret_data[0], RECV);
			completed++;
		} else {
			struct ukevent ev;

			KT_ASSERT_EQ(n, 0);
			ev = kt_wait_one(q);
			KT_EXPECT_EQ(ev.ret_data[0], RECV);
			told++;
		}
		close(p[0]);
		close(p[1]);
		KT_ASSERT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	}
	kt_log("%d completed at ADD, %d told by the write", completed, told);
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

/* Index of a waiter, not in done[], that returned within KT_SOON_MS, or -1. */
static int next_done(struct kt_waiter *w, int n, bool *done)
{
	long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

	do {
		for (int i = 0; i < n; i++)
			if (!done[i] && kt_waiter_done(&w[i])) {
				done[i] = true;
				return i;
			}
		kt_msleep(1);
	} while (kt_mono_ns() < deadline);
	return -1;
}

/*
 * HERD threads of one queue sleep on one WAKEUP_ONE RECV kevent: each
 * write wakes exactly one of them (fdinfo wakeups), two writes two.
 * Without the flag every sleeper is woken.
 */
static void herd_one_queue(__u32 flags, long long want_wakeups)
{
	struct kt_waiter w[HERD];
	bool done[HERD] = { false };
	int q = kt_queue(), p[2], i;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, flags, 0x42);
	for (i = 0; i < HERD; i++)
		start_getter(&w[i], q);
	KT_ASSERT_EQ(kevent_fdinfo(q, KFD_WAITERS), HERD);
	put(p[1], "1");
	i = next_done(w, HERD, done);
	KT_ASSERT(i >= 0);
	KT_EXPECT_EQ(w[i].ret, 1);
	KT_EXPECT_EQ(w[i].buf[0].ret_data[0], RECV);
	if (want_wakeups == 1) {
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), 1);
		/* a second write: one more wake-up, of another thread */
		put(p[1], "2");
		i = next_done(w, HERD, done);
		KT_ASSERT(i >= 0);
		KT_EXPECT_EQ(w[i].ret, 1);
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), 2);
	} else {
		/* all were woken; the others go back to sleep (none returns) */
		long long deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;

		while (kevent_fdinfo(q, KFD_WAKEUPS) < want_wakeups && kt_mono_ns() < deadline)
			kt_msleep(1);
		KT_EXPECT_EQ(kevent_fdinfo(q, KFD_WAKEUPS), want_wakeups);
	}
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
 * One queue per worker, each with a WAKEUP_ONE RECV kevent on the same
 * pipe and one sleeper: one write wakes one worker, in total.
 */
TEST(wakeup_one_queues)
{
	struct kt_waiter w[HERD];
	bool done[HERD] = { false };
	int q[HERD], p[2], i, c;
	long long total = 0;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	for (i = 0; i < HERD; i++) {
		q[i] = kt_queue();
		add_pipe(q[i], p[0], RECV, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ET, (__u64)i);
		start_getter(&w[i], q[i]);
	}
	put(p[1], "x");
	c = next_done(w, HERD, done);
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
 * A WAKEUP_ONE kevent removed while its event waited undelivered passes
 * it on to the pipe's other kevents if the pipe is still ready. Queue B
 * (ET) has already taken its event; A's is still ready when A removes it:
 * B is told again. Without WAKEUP_ONE on A, nothing is passed.
 */
static void removal_passes_on(__u32 a_flags, int want_b)
{
	int qa = kt_queue(), qb = kt_queue(), p[2];
	struct ukevent uk, buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(qa, p[0], RECV, a_flags, 0xa);
	add_pipe(qb, p[0], RECV, KEVENT_REQ_ET, 0xb);
	put(p[1], "x");
	KT_ASSERT_EQ(kt_ready_now(qb, buf, 2), 1);
	KT_EXPECT_EQ(kt_ready_now(qb, buf, 2), 0);
	KT_ASSERT_EQ(kevent_fdinfo(qa, KFD_READY), 1);
	uk = ukevent_pipe(p[0], RECV, 0);
	uk.user_u64 = 0xa;
	KT_EXPECT_EQ(kt_ctl1(qa, KEVENT_CTL_REMOVE, &uk), 1);
	KT_EXPECT_EQ(kt_ready_now(qb, buf, 2), want_b);
	if (want_b)
		KT_EXPECT_EQ(buf[0].ret_data[0], RECV);
}

TEST(wakeup_one_removal_passes_on)
{
	removal_passes_on(KEVENT_REQ_WAKEUP_ONE, 1);
}

TEST(removal_without_wakeup_one_passes_nothing)
{
	removal_passes_on(0, 0);
}

/* ---- teardown -------------------------------------------------------- */

/*
 * The write end closes while a RECV kevent is pending: it stays, and is
 * delivered (data, then end of file). Then the read end: the pipe is gone
 * and so are its kevents, in every queue, ready or waiting.
 */
TEST(close_ends_while_pending)
{
	int q1 = kt_queue(), q2 = kt_queue(), p[2], d;
	struct ukevent ev, buf[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q1, p[0], RECV, KEVENT_REQ_ET, 1);
	add_pipe(q2, p[1], RECV | SEND, KEVENT_REQ_WAKEUP_ONE | KEVENT_REQ_ALWAYS_QUEUE, 2);
	put(p[1], "x");
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_READY), 1);
	close(p[1]);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 1);
	ev = one_now(q1);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	/* the write and the writer's close */
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	/* a dup keeps the read end open: the kevents stay */
	d = (int)KT_ASSERT_OK(dup(p[0]));
	close(p[0]);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 1);
	close(d);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q1, KFD_REMOVED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q2, KFD_REMOVED), 1);
	KT_EXPECT_EQ(kt_ready_now(q1, buf, 2), 0);
	KT_EXPECT_EQ(kt_ready_now(q2, buf, 2), 0);
}

/* The read end closes first: SEND (EPIPE) on its kevent; they stay. */
TEST(close_read_end_first)
{
	int q = kt_queue(), p[2];
	struct ukevent ev;

	small_pipe(p);
	fill(p[1]);
	add_pipe(q, p[0], SEND, 0, 1);
	close(p[0]);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.id.raw[0], (__u32)p[0]);
	KT_EXPECT_EQ(ev.ret_data[0], SEND);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 1);
	close(p[1]);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
}

/* A sleeper on a pipe whose ends close without an event for it. */
TEST(close_with_waiter)
{
	struct kt_waiter w;
	int q = kt_queue(), p[2];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, KEVENT_REQ_WAKEUP_ONE, 1);
	start_getter(&w, q);
	/* the reader goes first: EPIPE is not a RECV event */
	close(p[0]);
	close(p[1]);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT(!kt_waiter_done(&w));
	KT_EXPECT_EQ(kevent_ctl(q, KEVENT_CTL_READY, 0, NULL), 0);
	KT_EXPECT(kt_waiter_join(&w, KT_SOON_MS));
	KT_EXPECT_EQ(w.ret, 0);
}

/* The queue goes first, with a pending event; then the pipe works on. */
TEST(queue_closed_first)
{
	int q = kt_queue(), q2 = kt_queue(), p[2];
	struct ukevent ev;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 1);
	add_pipe(q2, p[0], RECV, KEVENT_REQ_ET, 2);
	put(p[1], "x");
	close(q);
	/* the storage still reports to the other queue */
	put(p[1], "y");
	ev = one_now(q2);
	KT_EXPECT_EQ(ev.ret_data[1], 2);
	close(q2);
	put(p[1], "z");
	KT_EXPECT_EQ(take(p[0], -1), 3);
	close(p[0]);
	close(p[1]);
}

/* Many pipes, each closed while its kevents are ready or waiting. */
TEST(close_churn)
{
	int q = kt_queue();

	for (int i = 0; i < 200; i++) {
		int p[2];

		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		add_pipe(q, p[0], RECV, (__u32)(i % 3 == 0 ? KEVENT_REQ_ET : 0), (__u64)i);
		{
			struct ukevent uk = ukevent_pipe(p[1], SEND | RECV, KEVENT_REQ_ALWAYS_QUEUE);

			kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, "ADD write end");
		}
		if (i & 2)
			put(p[1], "z");
		close(p[i & 1]);
		close(p[!(i & 1)]);
	}
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_READY), 0);
}

/*
 * A process holding the write end exits: the parent's kevent sees the
 * end of file. A process with a queue and kevents on its own pipe exits
 * without closing anything: nothing is left behind in the parent's view
 * (the child's pipe and queue go with it).
 */
TEST(process_exit)
{
	int q = kt_queue(), p[2], st;
	struct ukevent ev;
	pid_t pid;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	add_pipe(q, p[0], RECV, 0, 1);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		int cq = (int)kevent_init(NULL, 0, 0), cp[2];
		struct ukevent uk;

		if (cq < 0 || pipe(cp))
			_exit(1);
		uk = ukevent_pipe(cp[0], RECV, 0);
		kevent_ctl(cq, KEVENT_CTL_ADD, 1, &uk);
		uk = ukevent_pipe(p[0], RECV, KEVENT_REQ_ET);
		kevent_ctl(cq, KEVENT_CTL_ADD, 1, &uk);
		if (write(cp[1], "c", 1) != 1 || write(p[1], "p", 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	KT_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ev = kt_wait_one(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
	KT_EXPECT_EQ(take(p[0], -1), 1);
	/* data read; end of file remains */
	ev = one_now(q);
	KT_EXPECT_EQ(ev.ret_data[0], RECV);
}

/*
 * Pipes closed while threads dequeue their kevents and a writer feeds
 * them: for the debug kernel (KASAN, lockdep) more than for the counts.
 */
/* ADD with id.raw[1] = gen: a pipe's fd number is reused by the next. */
static void add_gen(int q, int fd, __u32 gen, __u32 events, __u32 flags)
{
	struct ukevent uk = ukevent_pipe(fd, events, flags);

	uk.id.raw[1] = gen;
	uk.user_u64 = gen;
	kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, "ADD pipe, generation id");
}

TEST(close_race)
{
	static const __u32 flags[] = { 0, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT,
				       KEVENT_REQ_WAKEUP_ONE, KEVENT_REQ_LAST_CHECK };
	struct kt_drainers d;
	int q = kt_queue();
	int i;

	signal(SIGPIPE, SIG_IGN);
	kt_drainers_start(&d, q, 2);
	for (i = 0; i < 300; i++) {
		__u32 f = flags[i % 5];
		int p[2];

		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		add_gen(q, p[0], (__u32)i, RECV, f);
		add_gen(q, p[1], (__u32)i, SEND | RECV, f | KEVENT_REQ_ALWAYS_QUEUE);
		if (write(p[1], "r", 1) < 0)
			KT_ASSERT(errno == EAGAIN);
		close(p[i % 2]);
		if (write(p[1], "w", 1) < 0)
			KT_ASSERT(errno == EPIPE || errno == EBADF);
		close(p[!(i % 2)]);
	}
	KT_EXPECT(kt_drainers_stop(&d));
	KT_EXPECT_EQ(kevent_fdinfo(q, KFD_REGISTERED), 0);
	kt_log("%ld events dequeued while their pipes closed", d.got);
}

/*
 * The queue's fdinfo spliced into a pipe the queue watches, beside ADDs
 * and REMOVEs of that pipe's kevent: sendfile() holds the pipe's mutex
 * while fdinfo runs, and an ADD holds the queue's mutex while it takes
 * the pipe's. fdinfo must not wait for the queue's mutex (queue.c,
 * Locking): the debug kernel's lockdep names the circle if it does, and
 * the two threads can deadlock.
 */
struct fdinfo_pump {
	int fdinfo, pw, pr;
	atomic_int stop;
	atomic_long rounds;
};

static void *fdinfo_pump_fn(void *arg)
{
	struct fdinfo_pump *f = arg;
	char buf[4096];

	while (!atomic_load(&f->stop)) {
		off_t off = 0;

		if (sendfile(f->pw, f->fdinfo, &off, sizeof(buf)) > 0)
			while (read(f->pr, buf, sizeof(buf)) > 0)
				;
		atomic_fetch_add(&f->rounds, 1);
	}
	return NULL;
}

TEST(fdinfo_spliced_beside_add)
{
	struct fdinfo_pump f = { .stop = 0 };
	int q = kt_queue(), p[2];
	char path[64];
	pthread_t th;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", q);
	f.fdinfo = open(path, O_RDONLY | O_CLOEXEC);
	KT_ASSERT(f.fdinfo >= 0);
	f.pw = p[1];
	f.pr = p[0];
	KT_ASSERT(pthread_create(&th, NULL, fdinfo_pump_fn, &f) == 0);
	for (int i = 0; i < 1000; i++) {
		struct ukevent uk = ukevent_pipe(p[0], RECV, KEVENT_REQ_ALWAYS_QUEUE);

		kt_ctl1_must(q, KEVENT_CTL_ADD, &uk, 0, "ADD pipe");
		KT_ASSERT_EQ(kt_ctl1(q, KEVENT_CTL_REMOVE, &uk), 1);
	}
	atomic_store(&f.stop, 1);
	KT_EXPECT(kt_join(th, NULL, KT_SOON_MS));
	KT_EXPECT(atomic_load(&f.rounds) > 0);
	kt_log("%ld fdinfo reads spliced into the watched pipe", atomic_load(&f.rounds));
	close(f.fdinfo);
}
