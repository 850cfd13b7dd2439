// SPDX-License-Identifier: GPL-2.0
/*
 * lab_guest - the guest itself is what the lab promises: SMP (except under
 * User-Mode Linux, uniprocessor in 6.12), the pseudo
 * filesystems, and the event mechanisms kevent is compared against.
 */
#include "ktest.h"

#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

TEST(at_least_two_cpus_online)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	kt_log("%ld CPUs online", n);
	kt_need_cpus(2);
}

TEST(proc_sys_dev_mounted)
{
	char buf[4096] = "";
	FILE *f = fopen("/proc/mounts", "r");

	KT_ASSERT(f != NULL);
	KT_EXPECT(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	KT_EXPECT(strstr(buf, "proc /proc proc") != NULL);
	KT_EXPECT(strstr(buf, "sysfs /sys sysfs") != NULL);
	KT_EXPECT(strstr(buf, "devtmpfs /dev devtmpfs") != NULL);
	KT_EXPECT(access("/proc/self/fdinfo", R_OK) == 0);
}

TEST(kernel_is_6_12)
{
	struct utsname u;

	KT_ASSERT_OK(uname(&u));
	kt_log("release %s", u.release);
	KT_EXPECT(!strncmp(u.release, "6.12.", 5));
}

TEST(eventfd_wakes_epoll)
{
	int ep = KT_ASSERT_OK(epoll_create1(EPOLL_CLOEXEC));
	int efd = KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 }, out;
	uint64_t one = 1;

	KT_ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	KT_EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
	KT_ASSERT_EQ(write(efd, &one, sizeof(one)), sizeof(one));
	KT_ASSERT_EQ(epoll_wait(ep, &out, 1, 1000), 1);
	KT_EXPECT_EQ(out.data.u64, 42);
	KT_EXPECT(out.events & EPOLLIN);
}

TEST(timerfd_expires_not_early)
{
	struct itimerspec its = { .it_value = { .tv_nsec = 20 * 1000 * 1000 } };
	struct timespec a, b;
	uint64_t ticks = 0;
	int tfd = KT_ASSERT_OK(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
	long long elapsed_ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	KT_ASSERT_OK(timerfd_settime(tfd, 0, &its, NULL));
	KT_ASSERT_EQ(read(tfd, &ticks, sizeof(ticks)), sizeof(ticks));
	clock_gettime(CLOCK_MONOTONIC, &b);
	elapsed_ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	KT_EXPECT_EQ(ticks, 1);
	KT_EXPECT(elapsed_ns >= 20 * 1000 * 1000);
}

TEST(io_uring_available)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		kt_log("io_uring_setup: %s", strerror(errno));
	KT_EXPECT(fd >= 0);
	KT_EXPECT(p.sq_entries >= 4);
}
