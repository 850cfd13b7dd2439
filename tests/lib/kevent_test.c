// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_test.c - the helpers declared in kevent_test.h: clocks, thread
 * introspection through /proc, kevent_ctl() short-hands, the waiter thread,
 * sysctls and the loopback interface.
 */
#include "kevent_test.h"

#include <sys/mman.h>

long long kt_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long kt_mono_ns(void)
{
	return kt_clock_ns(CLOCK_MONOTONIC);
}

void kt_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

pid_t kt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

int kt_read_task_file(pid_t tid, const char *name, char *buf, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

char kt_thread_state(pid_t tid)
{
	char buf[1024], *p;

	if (kt_read_task_file(tid, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

long kt_thread_syscall(pid_t tid)
{
	char buf[512], *end;
	long nr;

	if (kt_read_task_file(tid, "syscall", buf, sizeof(buf)))
		return -1;
	nr = strtol(buf, &end, 10);
	return end == buf ? -1 : nr;
}

long long kt_thread_nvcsw(pid_t tid)
{
	char buf[4096], *p;

	if (kt_read_task_file(tid, "status", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!p)
		return -1;
	return strtoll(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
}

/*
 * Are all n threads asleep (interruptibly) inside system call nr? *bad: the
 * first that is not. User-Mode Linux has no /proc/PID/syscall (no
 * HAVE_ARCH_TRACEHOOK): there a sleeping thread counts as blocked when it
 * has not run for 20 ms (no voluntary context switch), and that one pause
 * is shared by all the threads asked about. Where the file exists, the
 * system call number decides.
 */
static bool all_blocked_in(const pid_t *tids, int n, long nr, int *bad)
{
	long long csw[KT_MAX_THREADS];
	bool pause = false;
	int i;

	if (n > KT_MAX_THREADS) {
		kt_fail_at(__FILE__, __LINE__, "%d threads, at most %d", n, KT_MAX_THREADS);
		kt_end_test();
	}
	for (i = 0; i < n; i++) {
		*bad = i;
		csw[i] = -1;
		if (tids[i] <= 0 || kt_thread_state(tids[i]) != 'S')
			return false;
		if (kt_thread_syscall(tids[i]) == nr)
			continue;
		if (!kt_uml())
			return false;
		csw[i] = kt_thread_nvcsw(tids[i]);
		if (csw[i] < 0)
			return false;
		pause = true;
	}
	if (pause)
		kt_msleep(20);
	for (i = 0; i < n; i++) {
		*bad = i;
		if (csw[i] >= 0 &&
		    (kt_thread_state(tids[i]) != 'S' || kt_thread_nvcsw(tids[i]) != csw[i]))
			return false;
	}
	return true;
}

bool kt_thread_blocked_in(pid_t tid, long nr)
{
	int bad;

	return all_blocked_in(&tid, 1, nr, &bad);
}

int kt_wait_all_blocked(const pid_t *tids, int n, long nr, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL;
	int bad = 0;

	while (kt_mono_ns() < deadline) {
		if (all_blocked_in(tids, n, nr, &bad)) {
			kt_msleep(2);
			if (all_blocked_in(tids, n, nr, &bad))
				return -1;
		}
		kt_msleep(1);
	}
	return bad;
}

bool kt_wait_blocked(pid_t tid, long nr, long timeout_ms)
{
	return kt_wait_all_blocked(&tid, 1, nr, timeout_ms) < 0;
}

bool kt_join(pthread_t th, void **ret, long timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, ret, &ts) == 0;
}

int kt_ctl1(int fd, unsigned int cmd, struct ukevent *uk)
{
	return kevent_ctl(fd, cmd, 1, uk);
}

void kt_ctl1_must_at(const char *file, int line, int fd, unsigned int cmd,
		     struct ukevent *uk, int want, const char *what)
{
	int r = kt_ctl1(fd, cmd, uk);

	if (r != want) {
		kt_fail_at(file, line,
			   "%s: ret %d errno %d ret_flags %#x ret_data %u",
			   what, r, errno, uk->ret_flags, uk->ret_data[0]);
		kt_end_test();
	}
}

/* A USER request on one entry that must return want, or the test ends. */
static void kt_user_must(const char *file, int line, int fd, unsigned int cmd,
			 struct ukevent uk, int want)
{
	char what[64];

	snprintf(what, sizeof(what), "%s user id %llu", cmd == KEVENT_CTL_ADD ? "ADD" : "READY",
		 (unsigned long long)uk.id.raw_u64);
	kt_ctl1_must_at(file, line, fd, cmd, &uk, want, what);
}

void kt_add_user_at(const char *file, int line, int fd, __u64 id, __u64 user,
		    __u32 req_flags)
{
	struct ukevent uk = ukevent_user(id, user);

	uk.req_flags = req_flags;
	kt_user_must(file, line, fd, KEVENT_CTL_ADD, uk, 0);
}

void kt_ready_user_at(const char *file, int line, int fd, __u64 id, __u64 user,
		      __u32 event)
{
	struct ukevent uk = ukevent_user(id, user);

	uk.event = event;
	kt_user_must(file, line, fd, KEVENT_CTL_READY, uk, 1);
}

int kt_get_now(int fd, struct ukevent *buf, unsigned int max)
{
	struct __kernel_timespec ts = kevent_ts(0, 0);

	return kevent_get_events(fd, 0, max, &ts, buf, 0);
}

int kt_ready_now_at(const char *file, int line, int fd, struct ukevent *buf, unsigned int max)
{
	int r = kt_get_now(fd, buf, max);

	if (r < 0) {
		kt_fail_at(file, line, "get_events: %s", strerror(errno));
		kt_end_test();
	}
	return r;
}

struct ukevent kt_wait_one_at(const char *file, int line, int q, long long timeout_ms)
{
	struct __kernel_timespec ts = kevent_ts_ms(timeout_ms);
	struct ukevent buf[2];
	int r = kevent_get_events(q, 1, 1, &ts, buf, 0);

	if (r != 1) {
		kt_fail_at(file, line, "expected one event, got %d (errno %d)", r, errno);
		kt_end_test();
	}
	return buf[0];
}

void kt_add_poll_at(const char *file, int line, int q, int fd, __u32 events, __u32 flags,
		    __u64 user)
{
	struct ukevent uk = ukevent_poll(fd, events, flags);
	char what[80];

	uk.user_u64 = user;
	snprintf(what, sizeof(what), "ADD poll fd %d events %#x flags %#x", fd, events, flags);
	kt_ctl1_must_at(file, line, q, KEVENT_CTL_ADD, &uk, 0, what);
}

void *kt_waiter_fn(void *arg)
{
	struct kt_waiter *w = (struct kt_waiter *)arg;
	const struct __kernel_timespec *ts = w->infinite ? NULL : &w->ts;
	int r;

	if (w->async_cancel)
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	__atomic_store_n(&w->tid, kt_gettid(), __ATOMIC_RELEASE);
	if (w->kind == KT_WAIT_GET)
		r = kevent_get_events(w->fd, w->min_nr, w->max_nr, ts, w->buf, w->flags);
	else
		r = kevent_wait(w->fd, w->max_nr, w->old_uidx, ts, w->flags);
	w->err = r < 0 ? errno : 0;
	w->ret = r;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

void kt_waiter_init(struct kt_waiter *w, int fd, enum kt_waiter_kind kind)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->kind = kind;
	w->min_nr = 1;
	w->max_nr = kind == KT_WAIT_GET ? 64 : 1;
	w->ts = kevent_ts(120, 0);
}

void kt_waiter_start(struct kt_waiter *w)
{
	int e = pthread_create(&w->th, NULL, kt_waiter_fn, w);

	if (e) {
		kt_fail_at(__FILE__, __LINE__, "pthread_create: %s", strerror(e));
		kt_end_test();
	}
}

long kt_waiter_nr(const struct kt_waiter *w)
{
	return w->kind == KT_WAIT_GET ? __NR_kevent_get_events : __NR_kevent_wait;
}

bool kt_waiter_start_blocked(struct kt_waiter *w)
{
	long long deadline;

	kt_waiter_start(w);
	deadline = kt_mono_ns() + KT_SOON_MS * 1000000LL;
	while (!__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) && kt_mono_ns() < deadline)
		kt_msleep(1);
	if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
		return false;
	return kt_wait_blocked(w->tid, kt_waiter_nr(w), KT_SOON_MS);
}

bool kt_waiter_done(const struct kt_waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

bool kt_waiter_join(struct kt_waiter *w, long timeout_ms)
{
	return kt_join(w->th, NULL, timeout_ms);
}

int kt_waiter_first_done(const struct kt_waiter *w, int n, long timeout_ms)
{
	long long deadline = kt_mono_ns() + timeout_ms * 1000000LL;

	do {
		for (int i = 0; i < n; i++)
			if (kt_waiter_done(&w[i]))
				return i;
		kt_msleep(1);
	} while (kt_mono_ns() < deadline);
	return -1;
}

void kt_release_waiters_at(const char *file, int line, int q, struct kt_waiter *w, int n)
{
	if (kevent_ctl(q, KEVENT_CTL_READY, 0, NULL) != 0)
		kt_fail_at(file, line, "READY 0: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		if (!kt_waiter_join(&w[i], KT_SOON_MS))
			kt_fail_at(file, line, "waiter %d did not leave after READY 0", i);
}

static void *kt_drain_fn(void *arg)
{
	struct kt_drainers *d = arg;
	struct __kernel_timespec ts = kevent_ts_ms(5);
	struct ukevent buf[64];

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		int r = kevent_get_events(d->q, 1, 64, &ts, buf, 0);

		if (r > 0)
			__atomic_fetch_add(&d->got, r, __ATOMIC_RELAXED);
	}
	return NULL;
}

void kt_drainers_start(struct kt_drainers *d, int q, int n)
{
	memset(d, 0, sizeof(*d));
	d->q = q;
	d->n = n;
	KT_ASSERT(n > 0 && n <= KT_DRAINERS_MAX);
	for (int i = 0; i < n; i++)
		KT_ASSERT(pthread_create(&d->th[i], NULL, kt_drain_fn, d) == 0);
}

bool kt_drainers_stop(struct kt_drainers *d)
{
	bool ok = true;

	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < d->n; i++)
		ok &= kt_join(d->th[i], NULL, KT_SOON_MS);
	return ok;
}

long long kt_sysctl_read(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

int kt_sysctl_write(const char *path, long long v)
{
	char buf[64];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n, r;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%lld\n", v);
	r = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return r;
}

bool kt_is_unmapped(const void *p)
{
	unsigned char v;

	/* mincore() fails with ENOMEM on an unmapped page. */
	return mincore((void *)p, 4096, &v) < 0 && errno == ENOMEM;
}

void *kt_bad_page(int prot)
{
	void *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		kt_fail_at(__FILE__, __LINE__, "mmap: %s", strerror(errno));
		kt_end_test();
	}
	return p;
}

void kt_add_timer_at(const char *file, int line, int q, __u32 sec, __u32 nsec, __u32 flags,
		     __u64 user)
{
	struct ukevent uk = ukevent_timer(sec, nsec, flags);
	char what[64];

	uk.user_u64 = user;
	snprintf(what, sizeof(what), "ADD timer %u.%09u", sec, nsec);
	kt_ctl1_must_at(file, line, q, KEVENT_CTL_ADD, &uk, 0, what);
}
