// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_stress_util.c - the helpers declared in kevent_stress_util.h: PRNG,
 * fdinfo snapshots, sysctl guards, the per-user room probe, children running
 * as another uid, one-byte pipe signals.
 */
#include "kevent_stress_util.h"

uint64_t kst_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void kst_rng_seed(struct kst_rng *r, uint64_t seed)
{
	r->s = kst_mix64(seed + 0x9e3779b97f4a7c15ULL);
}

uint64_t kst_rand64(struct kst_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return kst_mix64(r->s);
}

uint32_t kst_below(struct kst_rng *r, uint32_t n)
{
	return n ? (uint32_t)(kst_rand64(r) % n) : 0;
}

bool kst_chance(struct kst_rng *r, unsigned int pct)
{
	return kst_below(r, 100) < pct;
}

uint64_t kst_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

int kst_fdinfo_read(int fd, struct kst_fdinfo *fi, struct kst_kline *lines, int max)
{
	char path[64], line[512];
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	fi->registered = fi->ready = fi->added = fi->removed = -1;
	fi->marked = fi->delivered = fi->wakeups = fi->waiters = -1;
	fi->ring_size = fi->ring_kidx = fi->ring_uidx = fi->ring_over = -1;
	fi->ring_free = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	/* seq_file: the kernel prints the whole text under the queue mutex */
	while (fgets(line, sizeof(line), f)) {
		long long v;
		char key[32];

		if (!strncmp(line, "kevent:", 7)) {
			struct kst_kline kl;

			memset(&kl, 0, sizeof(kl));
			fi->nlines++;
			if (lines && fi->nparsed < max &&
			    sscanf(line + 7, " type=%u id=%llx event=%x req_flags=%x user=%llx state=%11s",
				   &kl.type, &kl.id, &kl.event, &kl.req_flags,
				   &kl.user, kl.state) == 6)
				lines[fi->nparsed++] = kl;
			continue;
		}
		if (sscanf(line, "%31[^:]:%lld", key, &v) != 2)
			continue;
		if (!strcmp(key, KFD_REGISTERED))
			fi->registered = v;
		else if (!strcmp(key, KFD_READY))
			fi->ready = v;
		else if (!strcmp(key, KFD_ADDED))
			fi->added = v;
		else if (!strcmp(key, KFD_REMOVED))
			fi->removed = v;
		else if (!strcmp(key, KFD_MARKED))
			fi->marked = v;
		else if (!strcmp(key, KFD_DELIVERED))
			fi->delivered = v;
		else if (!strcmp(key, KFD_WAKEUPS))
			fi->wakeups = v;
		else if (!strcmp(key, KFD_WAITERS))
			fi->waiters = v;
		else if (!strcmp(key, "ring_size"))
			fi->ring_size = v;
		else if (!strcmp(key, "ring_kidx"))
			fi->ring_kidx = v;
		else if (!strcmp(key, "ring_uidx"))
			fi->ring_uidx = v;
		else if (!strcmp(key, "ring_over"))
			fi->ring_over = v;
		else if (!strcmp(key, "ring_free"))
			fi->ring_free = v;
	}
	fclose(f);
	if (fi->registered < 0 || fi->ready < 0 || fi->added < 0 ||
	    fi->removed < 0 || fi->delivered < 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

bool kst_check_fdinfo_at(const char *file, int line, int fd, struct kst_fdinfo *fi)
{
	bool ok = true;

	if (kst_fdinfo_read(fd, fi, NULL, 0)) {
		kt_fail_at(file, line, "fdinfo of queue %d: %s", fd, strerror(errno));
		return false;
	}
	if (fi->registered != fi->added - fi->removed) {
		kt_fail_at(file, line, "queue %d: registered %lld != added %lld - removed %lld",
			   fd, fi->registered, fi->added, fi->removed);
		ok = false;
	}
	if (fi->nlines != fi->registered) {
		kt_fail_at(file, line, "queue %d: %d kevent lines, registered %lld",
			   fd, fi->nlines, fi->registered);
		ok = false;
	}
	if (fi->ready < 0 || fi->ready > fi->registered) {
		kt_fail_at(file, line, "queue %d: ready %lld, registered %lld",
			   fd, fi->ready, fi->registered);
		ok = false;
	}
	return ok;
}

bool kst_guard_start(struct kst_guard *g, const char *path)
{
	int p[2];

	g->path = path;
	g->pid = -1;
	g->wfd = -1;
	g->old = kt_sysctl_read(path);
	if (g->old < 0)
		return false;
	if (pipe2(p, O_CLOEXEC))
		return false;
	g->pid = fork();
	if (g->pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (g->pid == 0) {
		char c;
		int r = p[0];

		if (r != 3) {
			dup2(r, 3);
			r = 3;
		}
		syscall(SYS_close_range, 4U, ~0U, 0U);
		close(0);
		setsid();
		while (read(r, &c, 1) < 0 && errno == EINTR)
			;
		kt_sysctl_write(path, g->old);
		_exit(0);
	}
	close(p[0]);
	g->wfd = p[1];
	return true;
}

void kst_guard_end(struct kst_guard *g)
{
	if (g->pid <= 0)
		return;
	kt_sysctl_write(g->path, g->old);
	close(g->wfd);
	waitpid(g->pid, NULL, 0);
	g->pid = -1;
}

long kst_user_room_at(const char *file, int line, long limit)
{
	static __thread struct ukevent arr[256];
	long room = 0;
	int fd = kevent_init(NULL, 0, 0);
	bool full = false;

	if (fd < 0) {
		kt_fail_at(file, line, "room probe: kevent_init: %s", strerror(errno));
		return -1;
	}
	while (!full && room <= limit) {
		int r;

		for (int i = 0; i < 256; i++) {
			arr[i] = ukevent_user(0x5ca1ab1e00000000ULL + room + i, 7);
		}
		r = kevent_ctl(fd, KEVENT_CTL_ADD, 256, arr);
		if (r < 0) {
			kt_fail_at(file, line, "room probe: ADD: %s", strerror(errno));
			close(fd);
			return -1;
		}
		for (int i = 0; i < r; i++) {
			if (arr[i].ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) ||
			    arr[i].ret_data[0] != ENOSPC) {
				kt_fail_at(file, line,
					   "room probe: entry flags %#x data %u, expected BROKEN/ENOSPC",
					   arr[i].ret_flags, arr[i].ret_data[0]);
				close(fd);
				return -1;
			}
		}
		room += 256 - r;
		full = r > 0;
	}
	if (kevent_fdinfo(fd, KFD_REGISTERED) != room) {
		kt_fail_at(file, line, "room probe: registered %lld, counted %ld",
			   kevent_fdinfo(fd, KFD_REGISTERED), room);
		room = -1;
	}
	close(fd);
	return room;
}

long kst_probe_room_at(const char *file, int line, long limit)
{
	struct kst_guard g;
	long room;

	if (geteuid() != 0)
		return -2;
	if (!kst_guard_start(&g, KT_MAX_USER_PATH)) {
		kt_fail_at(file, line, "cannot guard %s: %s", KT_MAX_USER_PATH, strerror(errno));
		return -1;
	}
	if (kt_sysctl_write(KT_MAX_USER_PATH, limit)) {
		kt_fail_at(file, line, "cannot write %s: %s", KT_MAX_USER_PATH, strerror(errno));
		kst_guard_end(&g);
		return -1;
	}
	room = kst_user_room_at(file, line, limit);
	kst_guard_end(&g);
	return room;
}

_Noreturn void kst_child_exit(int base)
{
	fflush(NULL);
	_exit(kt_failed() > base ? 1 : 0);
}

bool kst_become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return false;
	return getuid() == uid && geteuid() == uid;
}

pid_t kst_spawn_as_at(const char *file, int line, uid_t uid, void (*fn)(void *), void *arg)
{
	int base = kt_failed();
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		kt_fail_at(file, line, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (!kst_become(uid)) {
			kt_fail_at(file, line, "cannot become uid %u: %s", (unsigned)uid,
				   strerror(errno));
			kt_end_test();
		}
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		fn(arg);
		kst_child_exit(base);
	}
	return pid;
}

bool kst_wait_ok_at(const char *file, int line, pid_t pid, const char *what)
{
	int status;

	if (pid <= 0)
		return false;
	while (waitpid(pid, &status, 0) != pid) {
		if (errno != EINTR) {
			kt_fail_at(file, line, "waitpid %s: %s", what, strerror(errno));
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		kt_fail_at(file, line, "%s failed (status %#x)", what, status);
		return false;
	}
	return true;
}

bool kst_chan_open(struct kst_chan *c)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return false;
	c->rd = p[0];
	c->wr = p[1];
	return true;
}

void kst_chan_post(struct kst_chan *c, char v)
{
	while (write(c->wr, &v, 1) < 0 && errno == EINTR)
		;
}

int kst_chan_wait(struct kst_chan *c, long timeout_ms)
{
	struct pollfd pfd = { .fd = c->rd, .events = POLLIN };
	unsigned char v;
	int r;

	do
		r = poll(&pfd, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || read(c->rd, &v, 1) != 1)
		return -1;
	return v;
}
