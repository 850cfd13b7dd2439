// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_abi - the binary interface: structure layout, constant values,
 * system call numbers, and that the running kernel provides the calls, the
 * sysctls and the fdinfo counters docs/abi.md promises.
 */
#include <stddef.h>

#include "kevent_test.h"

TEST(ukevent_layout)
{
	KT_EXPECT_EQ(sizeof(struct kevent_id), 8);
	KT_EXPECT_EQ(_Alignof(struct kevent_id), 8);
	KT_EXPECT_EQ(offsetof(struct kevent_id, raw), 0);
	KT_EXPECT_EQ(offsetof(struct kevent_id, raw_u64), 0);

	KT_EXPECT_EQ(sizeof(struct ukevent), 40);
	KT_EXPECT_EQ(_Alignof(struct ukevent), 8);
	KT_EXPECT_EQ(offsetof(struct ukevent, id), 0);
	KT_EXPECT_EQ(offsetof(struct ukevent, type), 8);
	KT_EXPECT_EQ(offsetof(struct ukevent, event), 12);
	KT_EXPECT_EQ(offsetof(struct ukevent, req_flags), 16);
	KT_EXPECT_EQ(offsetof(struct ukevent, ret_flags), 20);
	KT_EXPECT_EQ(offsetof(struct ukevent, ret_data), 24);
	KT_EXPECT_EQ(sizeof(((struct ukevent *)0)->ret_data), 8);
	KT_EXPECT_EQ(offsetof(struct ukevent, user), 32);
	KT_EXPECT_EQ(offsetof(struct ukevent, ptr), 32);
	KT_EXPECT_EQ(offsetof(struct ukevent, user_u64), 32);
	KT_EXPECT_EQ(sizeof(((struct ukevent *)0)->user), 8);
}

TEST(kevent_ring_layout)
{
	KT_EXPECT_EQ(offsetof(struct kevent_ring, ring_kidx), 0);
	KT_EXPECT_EQ(offsetof(struct kevent_ring, ring_over), 4);
	KT_EXPECT_EQ(offsetof(struct kevent_ring, event), 8);
	KT_EXPECT_EQ(sizeof(struct kevent_ring), 8);
	KT_EXPECT_EQ(_Alignof(struct kevent_ring), 8);
	KT_EXPECT_EQ(kevent_ring_bytes(3), 8 + 3 * 40);
}

TEST(constant_values)
{
	KT_EXPECT_EQ(__NR_kevent_init, 500);
	KT_EXPECT_EQ(__NR_kevent_ctl, 501);
	KT_EXPECT_EQ(__NR_kevent_get_events, 502);
	KT_EXPECT_EQ(__NR_kevent_wait, 503);
	KT_EXPECT_EQ(__NR_kevent_commit, 504);

	KT_EXPECT_EQ(KEVENT_CTL_ADD, 0);
	KT_EXPECT_EQ(KEVENT_CTL_REMOVE, 1);
	KT_EXPECT_EQ(KEVENT_CTL_MODIFY, 2);
	KT_EXPECT_EQ(KEVENT_CTL_READY, 3);

	KT_EXPECT_EQ(KEVENT_REQ_ONESHOT, 0x1);
	KT_EXPECT_EQ(KEVENT_REQ_WAKEUP_ONE, 0x2);
	KT_EXPECT_EQ(KEVENT_REQ_ET, 0x4);
	KT_EXPECT_EQ(KEVENT_REQ_LAST_CHECK, 0x8);
	KT_EXPECT_EQ(KEVENT_REQ_ALWAYS_QUEUE, 0x10);
	KT_EXPECT_EQ(KEVENT_REQ_MASK, 0x1f);

	KT_EXPECT_EQ(KEVENT_RET_BROKEN, 0x1);
	KT_EXPECT_EQ(KEVENT_RET_DONE, 0x2);
	KT_EXPECT_EQ(KEVENT_RET_COPY_FAILED, 0x4);

	KT_EXPECT_EQ(KEVENT_SOCKET, 0);
	KT_EXPECT_EQ(KEVENT_INODE, 1);
	KT_EXPECT_EQ(KEVENT_TIMER, 2);
	KT_EXPECT_EQ(KEVENT_POLL, 3);
	KT_EXPECT_EQ(KEVENT_NAIO, 4);
	KT_EXPECT_EQ(KEVENT_AIO, 5);
	KT_EXPECT_EQ(KEVENT_PIPE, 6);
	KT_EXPECT_EQ(KEVENT_SIGNAL, 7);
	KT_EXPECT_EQ(KEVENT_POSIX_TIMER, 8);
	KT_EXPECT_EQ(KEVENT_USER, 9);
	KT_EXPECT_EQ(KEVENT_MAX_TYPES, 10);

	KT_EXPECT_EQ(KEVENT_TIMER_FIRED, 0x1);
	KT_EXPECT_EQ(KEVENT_PIPE_RECV, 0x1);
	KT_EXPECT_EQ(KEVENT_PIPE_SEND, 0x4);
	/* INODE: CREATE and REMOVE are the original's; the rest are ours */
	KT_EXPECT_EQ(KEVENT_INODE_CREATE, 0x1);
	KT_EXPECT_EQ(KEVENT_INODE_REMOVE, 0x2);
	KT_EXPECT_EQ(KEVENT_INODE_MODIFY, 0x4);
	KT_EXPECT_EQ(KEVENT_INODE_GONE, 0x8);
	KT_EXPECT_EQ(KEVENT_INODE_ISDIR, 0x10);
	KT_EXPECT_EQ(KEVENT_INODE_MOVED, 0x20);
	KT_EXPECT_EQ(KEVENT_INODE_OVERFLOW, 0x40);
	KT_EXPECT_EQ(KEVENT_INODE_HASH_BASIS, 2166136261u);
	KT_EXPECT_EQ(KEVENT_INODE_HASH_PRIME, 16777619u);
	KT_EXPECT_EQ(KEVENT_FLAGS_ABSTIME, 0x1);
	KT_EXPECT_EQ(KEVENT_FLAGS_MASK, 0x1);
	KT_EXPECT_EQ(KEVENT_INIT_CLOEXEC, O_CLOEXEC);
	KT_EXPECT_EQ(KEVENT_INIT_MASK, O_CLOEXEC);
	KT_EXPECT_EQ(KEVENT_MAX_BATCH, 4096);
}

/* Every call exists in the running kernel (ENOSYS would mean it does not). */
TEST(syscalls_present)
{
	int fd;

	KT_EXPECT_ERRNO(kevent_ctl(-1, KEVENT_CTL_ADD, 0, NULL), EBADF);
	KT_EXPECT_ERRNO(kevent_get_events(-1, 0, 1, NULL, NULL, 0), EBADF);
	KT_EXPECT_ERRNO(kevent_wait(-1, 1, 0, NULL, 0), EBADF);
	KT_EXPECT_ERRNO(kevent_commit(-1, 0, 0), EBADF);
	fd = KT_ASSERT_OK(kevent_init(NULL, 0, 0));
	KT_EXPECT(fd >= 0);
	close(fd);
}

/* The queue is an anon inode named [kevent]. */
TEST(queue_is_anon_inode)
{
	char path[64], link[128];
	int fd = kt_queue();
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	KT_ASSERT(n > 0);
	link[n] = '\0';
	kt_log("queue fd links to %s", link);
	KT_EXPECT(!strcmp(link, "anon_inode:[kevent]"));
}

TEST(sysctls_present)
{
	long long max_ring = kt_sysctl_read(KT_MAX_RING_PATH);
	long long max_user = kt_sysctl_read(KT_MAX_USER_PATH);

	kt_log("max_ring_entries %lld max_user_kevents %lld", max_ring, max_user);
	KT_EXPECT_EQ(max_ring, 65536);
	KT_EXPECT(max_user > 0);
}

/* The counters docs/abi.md lists are in fdinfo, and start at zero. */
TEST(fdinfo_counters)
{
	static const char *const keys[] = {
		KFD_REGISTERED, KFD_READY, KFD_ADDED, KFD_REMOVED,
		KFD_MARKED, KFD_DELIVERED, KFD_WAKEUPS, KFD_WAITERS,
	};
	int fd = kt_queue();
	long long v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (kevent_fdinfo_get(fd, keys[i], &v)) {
			kt_fail_at(__FILE__, __LINE__, "fdinfo has no \"%s:\" line", keys[i]);
			continue;
		}
		KT_EXPECT_EQ(v, 0);
	}
	kt_add_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_ADDED), 1);
	kt_ready_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_MARKED), 1);
	/* a second READY of a ready kevent is not another marking */
	kt_ready_user(fd, 1, 0, 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_MARKED), 1);
	KT_EXPECT_EQ(kt_get_now(fd, (struct ukevent[2]){}, 2), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_DELIVERED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REMOVED), 0);
	struct ukevent uk = ukevent_user(1, 0);

	KT_EXPECT_EQ(kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, &uk), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REMOVED), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 0);
}

/* One "kevent:" line per registered kevent, with its state. */
static bool fdinfo_has_line(int fd, const char *want)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

TEST(fdinfo_kevent_lines)
{
	int fd = kt_queue();

	kt_add_user(fd, 42, 0xcafe, KEVENT_REQ_ONESHOT);
	KT_EXPECT(fdinfo_has_line(fd, "kevent:\ttype=9 id=0x2a event=0x0 req_flags=0x1 user=0xcafe state=waiting"));
	kt_ready_user(fd, 42, 0xcafe, 0);
	KT_EXPECT(fdinfo_has_line(fd, "kevent:\ttype=9 id=0x2a event=0x0 req_flags=0x1 user=0xcafe state=ready"));
	KT_EXPECT_EQ(kt_get_now(fd, (struct ukevent[2]){}, 2), 1);
	KT_EXPECT(!fdinfo_has_line(fd, "kevent:"));
}

/* The ring lines follow the ring. */
TEST(fdinfo_ring_lines)
{
	struct kevent_ring *ring = kevent_ring_alloc(4);
	int fd = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	struct __kernel_timespec ts = kevent_ts(5, 0);

	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_size"), 4);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_free"), 4);
	kt_add_user(fd, 1, 0, 0);
	kt_add_user(fd, 2, 0, 0);
	kt_ready_user(fd, 1, 0, 0);
	kt_ready_user(fd, 2, 0, 0);
	KT_ASSERT_EQ(kevent_wait(fd, 4, 0, &ts, 0), 2);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_kidx"), 2);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_uidx"), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_over"), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_free"), 2);
	KT_EXPECT_EQ(kevent_commit(fd, 1, 0), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_uidx"), 1);
	KT_EXPECT_EQ(kevent_fdinfo(fd, "ring_free"), 3);
	KT_EXPECT_EQ(kevent_fdinfo(kt_queue(), "ring_size"), 0);
}

/*
 * The harness marks each test in the kernel log before it runs, so that a
 * splat in dmesg or a vmcore names its test: this very test's marker must
 * be in /dev/kmsg, at KERN_NOTICE, which the lab console (loglevel=5) does
 * not print: on the console a printk would cut the KTAP lines the serial
 * port is still sending.
 */
TEST(kmsg_marks_this_test)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[2048], want[128];
	bool found = false;
	int level = -1;
	ssize_t r;

	KT_ASSERT(fd >= 0);
	snprintf(want, sizeof(want), ".%s\n", kt_current());
	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		char *msg;

		if (r < 0)
			continue;	/* records overwritten meanwhile */
		rec[r] = '\0';
		msg = strchr(rec, ';');
		if (!msg || strncmp(msg + 1, "klab: test ", 11))
			continue;
		r = (ssize_t)strlen(msg);
		if (r >= (ssize_t)strlen(want) && !strcmp(msg + r - strlen(want), want)) {
			found = true;
			level = atoi(rec) & 7;
		}
	}
	close(fd);
	KT_EXPECT(found);
	kt_log("marker level %d", level);
	KT_EXPECT_EQ(level, 5);
}
