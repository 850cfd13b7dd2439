/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_syscall.h - userspace wrappers of the five kevent system calls and
 * small helpers around the ABI (docs/abi.md). Header only (static inline), so
 * that tests, tools and benchmarks can share it without a library.
 *
 *	int fd = kevent_init(NULL, 0, 0);		queue without ring
 *	struct ukevent uk = ukevent_user(1, 0xcafe);	a USER request
 *	kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk);
 *	struct __kernel_timespec ts = kevent_ts_ms(100);
 *	kevent_get_events(fd, 1, 1, &ts, &uk, 0);
 *
 * All wrappers return what syscall(2) returns: -1 with errno on failure.
 */
#ifndef KLAB_KEVENT_SYSCALL_H
#define KLAB_KEVENT_SYSCALL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kevent.h>
#include <linux/time_types.h>

#if !defined(__NR_kevent_init)
#error "kevent system call numbers are only defined for x86_64"
#endif

/* ---- system calls ---------------------------------------------------- */

static inline int kevent_init(struct kevent_ring *ring, unsigned int ring_size,
			      unsigned int flags)
{
	return (int)syscall(__NR_kevent_init, ring, ring_size, flags);
}

static inline int kevent_ctl(int fd, unsigned int cmd, unsigned int num,
			     struct ukevent *arg)
{
	return (int)syscall(__NR_kevent_ctl, fd, cmd, num, arg);
}

static inline int kevent_get_events(int fd, unsigned int min_nr,
				    unsigned int max_nr,
				    const struct __kernel_timespec *timeout,
				    struct ukevent *buf, unsigned int flags)
{
	return (int)syscall(__NR_kevent_get_events, fd, min_nr, max_nr,
			    timeout, buf, flags);
}

static inline int kevent_wait(int fd, unsigned int num, unsigned int old_uidx,
			      const struct __kernel_timespec *timeout,
			      unsigned int flags)
{
	return (int)syscall(__NR_kevent_wait, fd, num, old_uidx, timeout, flags);
}

static inline int kevent_commit(int fd, unsigned int new_idx, unsigned int over)
{
	return (int)syscall(__NR_kevent_commit, fd, new_idx, over);
}

/* ---- struct ukevent builders ----------------------------------------- */

/* A KEVENT_USER request: any 64-bit id, any 64-bit user data. */
static inline struct ukevent ukevent_user(__u64 id, __u64 user)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw_u64 = id;
	uk.type = KEVENT_USER;
	uk.user_u64 = user;
	return uk;
}

/* A KEVENT_TIMER request with a period of sec + nsec, KEVENT_TIMER_FIRED. */
static inline struct ukevent ukevent_timer(__u32 sec, __u32 nsec, __u32 req_flags)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw[0] = sec;
	uk.id.raw[1] = nsec;
	uk.type = KEVENT_TIMER;
	uk.event = KEVENT_TIMER_FIRED;
	uk.req_flags = req_flags;
	return uk;
}

/* A KEVENT_POLL request on fd for the POLL* bits in events. */
static inline struct ukevent ukevent_poll(int fd, __u32 events, __u32 req_flags)
{
	struct ukevent uk;

	memset(&uk, 0, sizeof(uk));
	uk.id.raw[0] = (__u32)fd;
	uk.type = KEVENT_POLL;
	uk.event = events;
	uk.req_flags = req_flags;
	return uk;
}

/* A KEVENT_SOCKET request on socket fd for the KEVENT_SOCKET_* bits. */
static inline struct ukevent ukevent_socket(int fd, __u32 events, __u32 req_flags)
{
	struct ukevent uk = ukevent_poll(fd, events, req_flags);

	uk.type = KEVENT_SOCKET;
	return uk;
}

/* A KEVENT_PIPE request on pipe or FIFO fd for the KEVENT_PIPE_* bits. */
static inline struct ukevent ukevent_pipe(int fd, __u32 events, __u32 req_flags)
{
	struct ukevent uk = ukevent_poll(fd, events, req_flags);

	uk.type = KEVENT_PIPE;
	return uk;
}

/* ---- timeouts -------------------------------------------------------- */

static inline struct __kernel_timespec kevent_ts(long long sec, long long nsec)
{
	struct __kernel_timespec ts = { .tv_sec = sec, .tv_nsec = nsec };

	return ts;
}

static inline struct __kernel_timespec kevent_ts_ms(long long ms)
{
	return kevent_ts(ms / 1000, (ms % 1000) * 1000000LL);
}

/* ---- ring ------------------------------------------------------------ */

static inline size_t kevent_ring_bytes(unsigned int n)
{
	return sizeof(struct kevent_ring) + (size_t)n * sizeof(struct ukevent);
}

/* mmap()ed, zeroed, writable ring of n entries; NULL (errno set) on failure. */
static inline struct kevent_ring *kevent_ring_alloc(unsigned int n)
{
	void *p = mmap(NULL, kevent_ring_bytes(n), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : (struct kevent_ring *)p;
}

static inline void kevent_ring_free(struct kevent_ring *ring, unsigned int n)
{
	if (ring)
		munmap(ring, kevent_ring_bytes(n));
}

/* The kernel writes ring_kidx/ring_over while other threads read them. */
static inline __u32 kevent_ring_kidx(const struct kevent_ring *ring)
{
	return __atomic_load_n(&ring->ring_kidx, __ATOMIC_ACQUIRE);
}

static inline __u32 kevent_ring_over(const struct kevent_ring *ring)
{
	return __atomic_load_n(&ring->ring_over, __ATOMIC_ACQUIRE);
}

/* ---- /proc/self/fdinfo ----------------------------------------------- */

/*
 * Read the integer after "key:" in /proc/self/fdinfo/<fd>. The key must
 * start a line and be followed by ':' (e.g. "wakeups:\t3"). Returns 0 and
 * stores the value, or -1 (errno ENOENT if the key is absent).
 */
static inline int kevent_fdinfo_get(int fd, const char *key, long long *val)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, klen) || p[klen] != ':')
			continue;
		p += klen + 1;
		errno = 0;
		*val = strtoll(p, &end, 0);
		if (end != p && !errno) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	if (ret)
		errno = ENOENT;
	return ret;
}

/* As kevent_fdinfo_get(), -1 when the key is absent. */
static inline long long kevent_fdinfo(int fd, const char *key)
{
	long long v;

	return kevent_fdinfo_get(fd, key, &v) ? -1 : v;
}

#endif /* KLAB_KEVENT_SYSCALL_H */
