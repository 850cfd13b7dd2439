// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_init - creating queues: with and without ring, the CLOEXEC flag,
 * every error of kevent_init(), and the /dev/kevent character device.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kevent_test.h"

static unsigned int max_ring(void)
{
	long long v = kt_sysctl_read(KT_MAX_RING_PATH);

	if (v < 2) {
		kt_fail_at(__FILE__, __LINE__, "cannot read %s (%lld)", KT_MAX_RING_PATH, v);
		kt_end_test();
	}
	return (unsigned int)v;
}

/* A ring whose header holds garbage, so that the kernel's reset shows. */
static struct kevent_ring *dirty_ring(unsigned int n)
{
	struct kevent_ring *ring = kevent_ring_alloc(n);

	if (!ring) {
		kt_fail_at(__FILE__, __LINE__, "mmap ring of %u: %s", n, strerror(errno));
		kt_end_test();
	}
	ring->ring_kidx = 0xdeadbeef;
	ring->ring_over = 0xfeedface;
	return ring;
}

/* A queue created with a ring of n entries works with kevent_wait(). */
static void check_ring_queue(unsigned int n)
{
	struct kevent_ring *ring = dirty_ring(n);
	struct __kernel_timespec ts = kevent_ts_ms(5000);
	int fd = KT_ASSERT_OK(kevent_init(ring, n, 0));

	KT_EXPECT_EQ(ring->ring_kidx, 0);
	KT_EXPECT_EQ(ring->ring_over, 0);
	kt_add_user(fd, 7, 0x77, 0);
	kt_ready_user(fd, 7, 0x77, 0x5);
	KT_EXPECT_EQ(kevent_wait(fd, 1, 0, &ts, 0), 1);
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);
	KT_EXPECT_EQ(ring->event[0].id.raw_u64, 7);
	KT_EXPECT_EQ(ring->event[0].user_u64, 0x77);
	KT_EXPECT_EQ(ring->event[0].type, KEVENT_USER);
	close(fd);
	kevent_ring_free(ring, n);
}

TEST(no_ring)
{
	int fd = KT_ASSERT_OK(kevent_init(NULL, 0, 0));
	struct __kernel_timespec ts = kevent_ts(0, 0);

	KT_EXPECT(fd >= 0);
	KT_EXPECT(!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	/* usable with kevent_ctl/get_events, not with the ring calls */
	kt_add_user(fd, 1, 2, 0);
	kt_ready_user(fd, 1, 2, 0);
	KT_EXPECT_EQ(kevent_get_events(fd, 0, 4, &ts, (struct ukevent[4]){}, 0), 1);
	KT_EXPECT_ERRNO(kevent_wait(fd, 1, 0, &ts, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_commit(fd, 0, 0), EINVAL);
	KT_EXPECT_EQ(close(fd), 0);
}

TEST(ring_of_two)
{
	check_ring_queue(2);
}

TEST(ring_of_max)
{
	check_ring_queue(max_ring());
}

TEST(cloexec)
{
	int fd = KT_ASSERT_OK(kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC));
	struct kevent_ring *ring = dirty_ring(4);
	int fd2 = KT_ASSERT_OK(kevent_init(ring, 4, KEVENT_INIT_CLOEXEC));

	KT_EXPECT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	KT_EXPECT(fcntl(fd2, F_GETFD) & FD_CLOEXEC);
	KT_EXPECT_EQ(ring->ring_kidx, 0);
}

TEST(many_queues_distinct_fds)
{
	int fds[16];

	for (int i = 0; i < 16; i++) {
		fds[i] = KT_ASSERT_OK(kevent_init(NULL, 0, 0));
		for (int j = 0; j < i; j++)
			KT_EXPECT(fds[i] != fds[j]);
	}
	/* queues are independent: an event of one is not seen by another */
	kt_add_user(fds[0], 1, 0, 0);
	kt_ready_user(fds[0], 1, 0, 0);
	for (int i = 1; i < 16; i++)
		KT_EXPECT_EQ(kt_get_now(fds[i], (struct ukevent[1]){}, 1), 0);
	KT_EXPECT_EQ(kt_get_now(fds[0], (struct ukevent[1]){}, 1), 1);
	for (int i = 0; i < 16; i++)
		KT_EXPECT_EQ(close(fds[i]), 0);
}

TEST(bad_flags)
{
	struct kevent_ring *ring = dirty_ring(4);

	KT_EXPECT_ERRNO(kevent_init(NULL, 0, 1), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(NULL, 0, O_NONBLOCK), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(NULL, 0, 0x80000000u), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC | 2), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 4, 4), EINVAL);
	/* a refused call does not touch the ring */
	KT_EXPECT_EQ(ring->ring_kidx, 0xdeadbeef);
}

TEST(bad_ring_size)
{
	unsigned int max = max_ring();
	struct kevent_ring *ring = dirty_ring(max + 1);

	KT_EXPECT_ERRNO(kevent_init(ring, 1, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 0, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, max + 1, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 0xffffffffu, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_init(ring, 0x80000000u, 0), EINVAL);
	KT_EXPECT_EQ(ring->ring_kidx, 0xdeadbeef);
	kevent_ring_free(ring, max + 1);
}

/* The limit is the sysctl's current value, not a constant. */
TEST(max_ring_entries_sysctl)
{
	unsigned int old = max_ring();
	struct kevent_ring *ring = dirty_ring(17);
	int fd;

	if (kt_sysctl_write(KT_MAX_RING_PATH, 16))
		kt_skip("max_ring_entries is not writable");
	/* settable within 2 .. 2^24 only */
	KT_EXPECT(kt_sysctl_write(KT_MAX_RING_PATH, 1) != 0);
	KT_EXPECT(kt_sysctl_write(KT_MAX_RING_PATH, (1 << 24) + 1) != 0);
	KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), 16);
	KT_EXPECT_ERRNO(kevent_init(ring, 17, 0), EINVAL);
	fd = kevent_init(ring, 16, 0);
	KT_EXPECT(fd >= 0);
	KT_EXPECT_EQ(kt_sysctl_write(KT_MAX_RING_PATH, old), 0);
	KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), old);
	/* the queue created under the lower limit keeps working */
	if (fd >= 0) {
		kt_add_user(fd, 1, 0, 0);
		kt_ready_user(fd, 1, 0, 0);
		KT_EXPECT_EQ(kevent_wait(fd, 4, 0, &(struct __kernel_timespec){ 5, 0 }, 0), 1);
	}
}

TEST(null_ring_with_size)
{
	KT_EXPECT_ERRNO(kevent_init(NULL, 2, 0), EFAULT);
	KT_EXPECT_ERRNO(kevent_init(NULL, 64, 0), EFAULT);
}

TEST(unmapped_ring)
{
	void *p = kt_bad_page(PROT_NONE);

	munmap(p, 4096);
	KT_EXPECT_ERRNO(kevent_init(p, 2, 0), EFAULT);
	/* kernel addresses are never a user ring */
	KT_EXPECT_ERRNO(kevent_init((void *)0xffffffff81000000ull, 2, 0), EFAULT);
	/* non-canonical */
	KT_EXPECT_ERRNO(kevent_init((void *)0x0000800000000000ull, 2, 0), EFAULT);
}

/* Only the tail of the ring is unmapped: the whole ring must be writable. */
TEST(partially_unmapped_ring)
{
	char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kevent_ring *ring;
	unsigned int n = 8;

	KT_ASSERT(p != MAP_FAILED);
	KT_ASSERT_OK(munmap(p + 4096, 4096));
	/* header and first entries in the first page, last ones beyond it */
	ring = (struct kevent_ring *)(p + 4096 - kevent_ring_bytes(n) + 40);
	ring->ring_kidx = 0xdeadbeef;
	KT_EXPECT_ERRNO(kevent_init(ring, n, 0), EFAULT);
	/* exactly fitting is fine */
	ring = (struct kevent_ring *)(p + 4096 - kevent_ring_bytes(n));
	int fd = kevent_init(ring, n, 0);
	KT_EXPECT(fd >= 0);
	KT_EXPECT_EQ(ring->ring_kidx, 0);
}

TEST(read_only_ring)
{
	struct kevent_ring *ring = dirty_ring(4);

	KT_ASSERT_OK(mprotect(ring, kevent_ring_bytes(4), PROT_READ));
	KT_EXPECT_ERRNO(kevent_init(ring, 4, 0), EFAULT);
	KT_EXPECT_EQ(ring->ring_kidx, 0xdeadbeef);

	/* a read-only file mapping too */
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	KT_ASSERT(ro != MAP_FAILED);
	KT_EXPECT_ERRNO(kevent_init(ro, 2, 0), EFAULT);
}

/* Closing a queue with registered and ready kevents frees everything. */
TEST(close_with_pending)
{
	for (int round = 0; round < 50; round++) {
		struct kevent_ring *ring = dirty_ring(4);
		int fd = KT_ASSERT_OK(kevent_init(ring, 4, 0));

		for (int i = 0; i < 20; i++)
			kt_add_user(fd, i, i, 0);
		for (int i = 0; i < 10; i++)
			kt_ready_user(fd, i, i, 0);
		KT_EXPECT_EQ(kevent_wait(fd, 2, 0, &(struct __kernel_timespec){ 5, 0 }, 0), 2);
		KT_EXPECT_EQ(close(fd), 0);
		kevent_ring_free(ring, 4);
	}
}

/* Open /dev/kevent, creating the node from /proc/misc if devtmpfs lacks it. */
static int open_dev_kevent(void)
{
	char line[128], name[64];
	int minor, fd;
	FILE *f;

	fd = open("/dev/kevent", O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	f = fopen("/proc/misc", "re");
	if (!f)
		return -1;
	minor = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %63s", &minor, name) == 2 && !strcmp(name, "kevent"))
			break;
		else
			minor = -1;
	fclose(f);
	if (minor < 0) {
		kt_log("no kevent line in /proc/misc");
		errno = ENOENT;
		return -1;
	}
	kt_log("/dev/kevent missing, misc minor %d: creating a node", minor);
	unlink("/tmp/kevent-node");
	if (mknod("/tmp/kevent-node", S_IFCHR | 0600, makedev(10, minor)))
		return -1;
	return open("/tmp/kevent-node", O_RDWR | O_CLOEXEC);
}

TEST(dev_kevent)
{
	struct __kernel_timespec ts = kevent_ts_ms(5000);
	struct ukevent out[2];
	struct stat st;
	int fd = open_dev_kevent(), fd2;

	if (fd < 0) {
		kt_fail_at(__FILE__, __LINE__, "open /dev/kevent: %s", strerror(errno));
		kt_end_test();
	}
	KT_ASSERT_OK(fstat(fd, &st));
	KT_EXPECT(S_ISCHR(st.st_mode));
	KT_EXPECT_EQ(major(st.st_rdev), 10);
	if (!stat("/dev/kevent", &st))
		KT_EXPECT_EQ(st.st_mode & 07777, 0666);
	/* a full queue: ADD/READY/get_events work */
	kt_add_user(fd, 3, 33, 0);
	kt_ready_user(fd, 3, 33, 9);
	KT_EXPECT_EQ(kevent_get_events(fd, 1, 2, &ts, out, 0), 1);
	KT_EXPECT_EQ(out[0].user_u64, 33);
	/* but without ring */
	KT_EXPECT_ERRNO(kevent_wait(fd, 1, 0, &ts, 0), EINVAL);
	KT_EXPECT_ERRNO(kevent_commit(fd, 0, 0), EINVAL);
	/* every open is a new queue */
	fd2 = open_dev_kevent();
	KT_ASSERT(fd2 >= 0);
	struct ukevent uk = ukevent_user(3, 33);

	KT_EXPECT_EQ(kt_ctl1(fd2, KEVENT_CTL_READY, &uk), 0);
	KT_EXPECT_BROKEN(uk, ENOENT);
	KT_EXPECT_EQ(close(fd), 0);
	KT_EXPECT_EQ(close(fd2), 0);
}
