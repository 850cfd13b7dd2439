// SPDX-License-Identifier: GPL-2.0
/*
 * kserver - a small event-driven TCP server on kevent, the same server on
 * epoll, and a loopback load test of both in one process (issue 15).
 *
 * The server is one thread. kevent: a SOCKET ACCEPT kevent on the
 * listener, a SOCKET RECV kevent per connection (added in one kevent_ctl()
 * batch per accept burst, with ALWAYS_QUEUE), a periodic TIMER kevent that sweeps idle
 * connections, a USER kevent to stop; events come through the ring
 * (kevent_wait(), and kevent_commit() once half the ring is consumed).
 * epoll: the listener, the connections, a timerfd and an eventfd, level
 * triggered, epoll_wait(). Both read once per readiness (level: what is
 * left is reported again) and answer every whole request; edge-triggered
 * (KEVENT_REQ_ET, EPOLLET) they read until a read leaves the buffer
 * partly empty.
 *
 * The protocol: a request is 32 bytes {magic, conn, seq, ...}; the
 * response is the same 32 bytes with the response magic and a checksum.
 * The load generator (another thread, on epoll for both servers) opens
 * `conns` connections that each send `reqs` requests one after the
 * other, plus `idle` connections that never send: the server must close
 * those after idle_ms. It checks every response (right connection, right
 * sequence, right checksum) and every idle close, within a time bound.
 *
 * Every system call of the server thread goes through SYS(), which counts
 * it: syscalls per request are the server's calls divided by the requests
 * answered. Requests per second are measured by the load generator.
 *
 * The herd part: N acceptors on one listening socket, threads with one
 * queue for all or one queue each, or processes with one queue each, with a SOCKET ACCEPT kevent with
 * KEVENT_REQ_WAKEUP_ONE, or a POLL POLLIN kevent without it, on the same
 * socket. One connection at a time; the queues' fdinfo "wakeups" and the
 * acceptors' voluntary context switches give the wake-ups per connection.
 *
 * kserver [-c conns] [-r reqs] [-i idle] [-I idle_ms] [-t limit_s]
 *         [-n herd_threads] [-k herd_conns] [-p load|herd|all] [-R reps]
 * (the load runs reps times: kevent and epoll, level- then edge-triggered,
 * interleaved)
 * Exit status 1 if any request, response or idle close went wrong.
 * Compiled into the guest suite kevent_server with KSERVER_SUITE (no main).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>

#include "kevent_syscall.h"
#include "kt_net.h"

#define REQ_SIZE	32
#define REQ_MAGIC	0x4b524551u	/* "KREQ" */
#define RESP_MAGIC	0x4b525350u	/* "KRSP" */
#define MAX_FDS		4096
#define RING_SIZE	1024
#define BATCH		256

#define TAG_LISTEN	(~0ULL)
#define TAG_TIMER	(~0ULL - 1)
#define TAG_STOP	(~0ULL - 2)

enum srv_api { SRV_KEVENT, SRV_EPOLL };
static const char *const srv_name[] = { "kevent", "epoll" };

struct ks_config {
	unsigned int conns, reqs, idle, idle_ms, limit_s;
	unsigned int herd_threads, herd_conns, reps;
	bool et;	/* connections edge-triggered (kevent ET, EPOLLET) */
	bool quiet;
};

struct ks_result {
	unsigned long long requests, ok, bad, lost;
	unsigned int idle_closed, conns_done;
	unsigned long long syscalls;
	long long rechecked, stale;	/* kevent: the queue's fdinfo counters */
	double seconds;
};

static long long ks_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ks_die(const char *what)
{
	fprintf(stderr, "kserver: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void ks_raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < MAX_FDS) {
		rl.rlim_cur = rl.rlim_max < MAX_FDS ? rl.rlim_max : MAX_FDS;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int ks_listener(struct sockaddr_in *sa, int backlog)
{
	socklen_t len = sizeof(*sa);
	int fd, one = 1;

	kt_loopback_up();
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		ks_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) || listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)sa, &len))
		ks_die("listener");
	return fd;
}

/* ---- the server -------------------------------------------------------- */

struct conn {
	unsigned int gen;	/* bumped when the fd is closed */
	bool open;
	unsigned int inlen, outlen;
	long long last_ns;
	unsigned char in[4096];
	unsigned char out[4096];
};

struct server {
	enum srv_api api;
	int lfd, qfd, tfd, efd;
	unsigned int idle_ms;
	bool et;
	struct kevent_ring *ring;
	unsigned int ridx, uncommitted;
	struct conn *c;		/* indexed by fd */
	atomic_ullong syscalls;
	unsigned long long answered;
	atomic_bool stop;
};

/* Count every system call of the server thread. */
#define SYS(s, call) (atomic_fetch_add_explicit(&(s)->syscalls, 1, memory_order_relaxed), (call))

static uint64_t conn_tag(const struct server *s, int fd)
{
	return (uint64_t)s->c[fd].gen << 32 | (uint32_t)fd;
}

static uint32_t resp_sum(uint32_t conn, uint32_t seq)
{
	return conn * 2654435761u ^ seq * 40503u;
}

static void srv_close(struct server *s, int fd)
{
	struct conn *c = &s->c[fd];

	/* closing the socket removes its kevent / epoll item too */
	SYS(s, close(fd));
	c->open = false;
	c->gen++;
}

/* Ask for write space (a response did not fit) or stop asking. */
static void srv_want_send(struct server *s, int fd, bool on)
{
	if (s->api == SRV_KEVENT) {
		struct ukevent uk = ukevent_socket(fd, KEVENT_SOCKET_RECV |
						   (on ? KEVENT_SOCKET_SEND : 0),
						   s->et ? KEVENT_REQ_ET : 0);

		uk.user_u64 = conn_tag(s, fd);
		SYS(s, kevent_ctl(s->qfd, KEVENT_CTL_MODIFY, 1, &uk));
	} else {
		struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0) |
						    (s->et ? EPOLLET : 0),
					  .data.u64 = conn_tag(s, fd) };

		SYS(s, epoll_ctl(s->qfd, EPOLL_CTL_MOD, fd, &ev));
	}
}

static void srv_flush(struct server *s, int fd)
{
	struct conn *c = &s->c[fd];
	ssize_t n;

	if (!c->outlen)
		return;
	n = SYS(s, send(fd, c->out, c->outlen, MSG_DONTWAIT | MSG_NOSIGNAL));
	if (n < 0 && errno != EAGAIN) {
		srv_close(s, fd);
		return;
	}
	if (n > 0) {
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (unsigned int)n;
	}
	if (c->outlen)
		srv_want_send(s, fd, true);
}

/*
 * Level: one read per readiness, what is left is reported again. Edge: read
 * until a read does not fill the buffer (the socket was drained then; data
 * arriving later is a new edge).
 */
static void srv_readable(struct server *s, int fd)
{
	struct conn *c = &s->c[fd];
	bool had_out = c->outlen;
	unsigned int off, space;
	ssize_t n;

	do {
		space = sizeof(c->in) - c->inlen;
		n = SYS(s, recv(fd, c->in + c->inlen, space, MSG_DONTWAIT));
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			srv_close(s, fd);
			return;
		}
		if (n < 0)
			break;
		c->inlen += (unsigned int)n;
		c->last_ns = ks_now_ns();
		off = 0;
		while (c->inlen - off >= REQ_SIZE && c->outlen + REQ_SIZE <= sizeof(c->out)) {
			uint32_t w[REQ_SIZE / 4];

			memcpy(w, c->in + off, REQ_SIZE);
			off += REQ_SIZE;
			if (w[0] != REQ_MAGIC) {
				srv_close(s, fd);
				return;
			}
			w[0] = RESP_MAGIC;
			w[3] = resp_sum(w[1], w[2]);
			memcpy(c->out + c->outlen, w, REQ_SIZE);
			c->outlen += REQ_SIZE;
			s->answered++;
		}
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	} while (s->et && (size_t)n == space);
	if (!had_out)
		srv_flush(s, fd);
}

static void srv_writable(struct server *s, int fd)
{
	struct conn *c = &s->c[fd];

	srv_flush(s, fd);
	if (c->open && !c->outlen)
		srv_want_send(s, fd, false);
}

/* Accept every pending connection; register them (kevent: one batch). */
static void srv_accept(struct server *s)
{
	struct ukevent uk[BATCH];
	unsigned int n = 0;
	int fd;

	for (;;) {
		fd = SYS(s, accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (fd < 0)
			break;
		if (fd >= MAX_FDS) {
			SYS(s, close(fd));
			continue;
		}
		memset(&s->c[fd], 0, offsetof(struct conn, in));
		s->c[fd].gen = s->c[fd].gen + 1;
		s->c[fd].open = true;
		s->c[fd].last_ns = ks_now_ns();
		if (s->api == SRV_KEVENT) {
			uk[n] = ukevent_socket(fd, KEVENT_SOCKET_RECV, KEVENT_REQ_ALWAYS_QUEUE |
					       (s->et ? KEVENT_REQ_ET : 0));
			uk[n].user_u64 = conn_tag(s, fd);
			if (++n == BATCH) {
				SYS(s, kevent_ctl(s->qfd, KEVENT_CTL_ADD, n, uk));
				n = 0;
			}
		} else {
			struct epoll_event ev = { .events = EPOLLIN | (s->et ? EPOLLET : 0),
						  .data.u64 = conn_tag(s, fd) };

			SYS(s, epoll_ctl(s->qfd, EPOLL_CTL_ADD, fd, &ev));
		}
	}
	/*
	 * ALWAYS_QUEUE: a connection whose request is already there is
	 * registered and queued, not completed at ADD (which would need a
	 * second ADD); only broken entries come back.
	 */
	if (n) {
		int done = SYS(s, kevent_ctl(s->qfd, KEVENT_CTL_ADD, n, uk));

		for (int i = 0; i < done; i++)
			srv_close(s, (int)(uint32_t)uk[i].user_u64);
	}
}

static void srv_sweep(struct server *s)
{
	long long now = ks_now_ns(), idle = (long long)s->idle_ms * 1000000LL;

	for (int fd = 0; fd < MAX_FDS; fd++)
		if (s->c[fd].open && fd != s->lfd && now - s->c[fd].last_ns > idle)
			srv_close(s, fd);
}

static void srv_event(struct server *s, uint64_t tag, bool in, bool out)
{
	int fd;

	if (tag == TAG_LISTEN) {
		srv_accept(s);
		return;
	}
	if (tag == TAG_TIMER) {
		if (s->api == SRV_EPOLL) {
			uint64_t x;

			SYS(s, read(s->tfd, &x, sizeof(x)));
		}
		srv_sweep(s);
		return;
	}
	if (tag == TAG_STOP) {
		atomic_store(&s->stop, true);
		return;
	}
	fd = (int)(uint32_t)tag;
	if (fd < 0 || fd >= MAX_FDS || !s->c[fd].open || s->c[fd].gen != tag >> 32)
		return;		/* an event of a connection since closed */
	if (out)
		srv_writable(s, fd);
	if (in && s->c[fd].open)
		srv_readable(s, fd);
}

static void srv_setup(struct server *s, enum srv_api api, int lfd, unsigned int idle_ms, bool et)
{
	unsigned int sweep_ms = idle_ms / 4 ? idle_ms / 4 : 1;

	memset(s, 0, sizeof(*s));
	s->api = api;
	s->lfd = lfd;
	s->idle_ms = idle_ms;
	s->et = et;
	s->c = calloc(MAX_FDS, sizeof(*s->c));
	if (!s->c)
		ks_die("calloc");
	if (api == SRV_KEVENT) {
		struct ukevent uk[3];

		s->ring = kevent_ring_alloc(RING_SIZE);
		if (!s->ring)
			ks_die("ring");
		s->qfd = kevent_init(s->ring, RING_SIZE, KEVENT_INIT_CLOEXEC);
		if (s->qfd < 0)
			ks_die("kevent_init");
		uk[0] = ukevent_socket(lfd, KEVENT_SOCKET_ACCEPT, 0);
		uk[0].user_u64 = TAG_LISTEN;
		uk[1] = ukevent_timer(sweep_ms / 1000, (sweep_ms % 1000) * 1000000u, 0);
		uk[1].user_u64 = TAG_TIMER;
		uk[2] = ukevent_user(1, TAG_STOP);
		if (kevent_ctl(s->qfd, KEVENT_CTL_ADD, 3, uk) != 0)
			ks_die("kevent_ctl ADD listener, timer, stop");
	} else {
		struct itimerspec its = { .it_interval = { sweep_ms / 1000, (sweep_ms % 1000) * 1000000L } };
		struct epoll_event ev = { .events = EPOLLIN };

		its.it_value = its.it_interval;
		s->qfd = epoll_create1(EPOLL_CLOEXEC);
		s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->qfd < 0 || s->tfd < 0 || s->efd < 0 || timerfd_settime(s->tfd, 0, &its, NULL))
			ks_die("epoll setup");
		ev.data.u64 = TAG_LISTEN;
		epoll_ctl(s->qfd, EPOLL_CTL_ADD, lfd, &ev);
		ev.data.u64 = TAG_TIMER;
		epoll_ctl(s->qfd, EPOLL_CTL_ADD, s->tfd, &ev);
		ev.data.u64 = TAG_STOP;
		if (epoll_ctl(s->qfd, EPOLL_CTL_ADD, s->efd, &ev))
			ks_die("epoll_ctl");
	}
}

static void srv_loop_kevent(struct server *s)
{
	while (!atomic_load(&s->stop)) {
		int got = SYS(s, kevent_wait(s->qfd, RING_SIZE, s->ridx, NULL, 0));

		if (got < 0) {
			if (errno == EINTR)
				continue;
			ks_die("kevent_wait");
		}
		for (int i = 0; i < got; i++) {
			const struct ukevent *e = &s->ring->event[(s->ridx + (unsigned int)i) % RING_SIZE];

			srv_event(s, e->user_u64, e->ret_data[0] & KEVENT_SOCKET_RECV,
				  e->type == KEVENT_SOCKET && (e->ret_data[0] & KEVENT_SOCKET_SEND));
		}
		s->ridx = (s->ridx + (unsigned int)got) % RING_SIZE;
		s->uncommitted += (unsigned int)got;
		/* committing costs a call: only once half the ring is used */
		if (s->uncommitted >= RING_SIZE / 2) {
			if (SYS(s, kevent_commit(s->qfd, s->ridx, kevent_ring_over(s->ring))) < 0)
				ks_die("kevent_commit");
			s->uncommitted = 0;
		}
	}
}

static void srv_loop_epoll(struct server *s)
{
	struct epoll_event ev[BATCH];

	while (!atomic_load(&s->stop)) {
		int got = SYS(s, epoll_wait(s->qfd, ev, BATCH, -1));

		if (got < 0) {
			if (errno == EINTR)
				continue;
			ks_die("epoll_wait");
		}
		for (int i = 0; i < got; i++)
			srv_event(s, ev[i].data.u64, ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR),
				  ev[i].events & EPOLLOUT);
	}
}

static void *srv_thread(void *arg)
{
	struct server *s = arg;

	if (s->api == SRV_KEVENT)
		srv_loop_kevent(s);
	else
		srv_loop_epoll(s);
	return NULL;
}

static void srv_teardown(struct server *s)
{
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (s->c[fd].open)
			close(fd);
	close(s->qfd);
	if (s->api == SRV_EPOLL) {
		close(s->tfd);
		close(s->efd);
	} else {
		kevent_ring_free(s->ring, RING_SIZE);
	}
	free(s->c);
}

static void srv_stop(struct server *s)
{
	if (s->api == SRV_KEVENT) {
		struct ukevent uk = ukevent_user(1, TAG_STOP);

		kevent_ctl(s->qfd, KEVENT_CTL_READY, 1, &uk);
	} else {
		uint64_t one = 1;

		if (write(s->efd, &one, sizeof(one)) != sizeof(one))
			ks_die("eventfd write");
	}
}

/* ---- the load generator ------------------------------------------------ */

struct lconn {
	int fd;
	unsigned int seq, got;
	unsigned char buf[REQ_SIZE];
};

static bool load_send(struct lconn *l, unsigned int id)
{
	uint32_t w[REQ_SIZE / 4] = { REQ_MAGIC, id, l->seq };

	return send(l->fd, w, REQ_SIZE, MSG_NOSIGNAL) == REQ_SIZE;
}

/* Connect with retries: a full accept backlog answers later, not never. */
static int load_connect(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		ks_die("client socket");
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		ks_die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void run_load(const struct ks_config *cfg, enum srv_api api, struct ks_result *r)
{
	struct sockaddr_in sa;
	struct server *s = calloc(1, sizeof(*s));
	struct lconn *lc = calloc(cfg->conns, sizeof(*lc));
	int *idle = calloc(cfg->idle + 1, sizeof(int));
	struct epoll_event ev[BATCH];
	long long t0, deadline, t_end;
	unsigned int active, i;
	pthread_t th;
	int ep, lfd;

	if (!s || !lc || !idle)
		ks_die("calloc");
	memset(r, 0, sizeof(*r));
	lfd = ks_listener(&sa, 4096);
	srv_setup(s, api, lfd, cfg->idle_ms, cfg->et);
	if (pthread_create(&th, NULL, srv_thread, s))
		ks_die("pthread_create");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		ks_die("epoll_create1");
	deadline = ks_now_ns() + (long long)cfg->limit_s * 1000000000LL;

	for (i = 0; i < cfg->idle; i++)
		idle[i] = load_connect(&sa);
	t0 = ks_now_ns();
	for (i = 0; i < cfg->conns; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		lc[i].fd = load_connect(&sa);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lc[i].fd, &e))
			ks_die("client epoll_ctl");
		load_send(&lc[i], i);
		r->requests++;
	}
	active = cfg->conns;
	while (active && ks_now_ns() < deadline) {
		int got = epoll_wait(ep, ev, BATCH, 100);

		for (int k = 0; k < got; k++) {
			struct lconn *l = &lc[ev[k].data.u32];
			unsigned int id = ev[k].data.u32;
			ssize_t n = recv(l->fd, l->buf + l->got, REQ_SIZE - l->got, 0);

			if (n <= 0) {
				if (n < 0 && errno == EAGAIN)
					continue;
				/* closed by the server with a request unanswered */
				close(l->fd);
				active--;
				continue;
			}
			l->got += (unsigned int)n;
			if (l->got < REQ_SIZE)
				continue;
			l->got = 0;
			{
				uint32_t w[REQ_SIZE / 4];

				memcpy(w, l->buf, REQ_SIZE);
				if (w[0] == RESP_MAGIC && w[1] == id && w[2] == l->seq &&
				    w[3] == resp_sum(id, l->seq))
					r->ok++;
				else
					r->bad++;
			}
			if (++l->seq == cfg->reqs) {
				close(l->fd);
				active--;
				r->conns_done++;
				continue;
			}
			r->requests++;
			load_send(l, id);
		}
	}
	t_end = ks_now_ns();
	/* every request sent and not answered (a failed send included) */
	r->lost = r->requests - r->ok - r->bad;
	r->seconds = (double)(t_end - t0) / 1e9;
	/* the idle connections: the server's sweep must close each */
	for (i = 0; i < cfg->idle; i++) {
		struct pollfd p = { .fd = idle[i], .events = POLLIN };
		char c;

		while (ks_now_ns() < deadline) {
			if (poll(&p, 1, 100) == 1) {
				if (recv(idle[i], &c, 1, MSG_DONTWAIT) == 0)
					r->idle_closed++;
				break;
			}
		}
		close(idle[i]);
	}
	srv_stop(s);
	pthread_join(th, NULL);
	r->syscalls = atomic_load(&s->syscalls);
	if (api == SRV_KEVENT) {
		r->rechecked = kevent_fdinfo(s->qfd, "rechecked");
		r->stale = kevent_fdinfo(s->qfd, "stale");
	}
	srv_teardown(s);
	close(lfd);
	close(ep);
	free(idle);
	free(lc);
	free(s);
}

#ifndef KSERVER_SUITE
static bool load_ok(const struct ks_config *cfg, const struct ks_result *r)
{
	return r->ok == (unsigned long long)cfg->conns * cfg->reqs && !r->bad && !r->lost &&
	       r->idle_closed == cfg->idle;
}
#endif

#ifndef KSERVER_SUITE
static void print_load(const struct ks_config *cfg, enum srv_api api, const struct ks_result *r)
{
	printf("server %-6s %s conns %u reqs/conn %u: %llu/%llu responses ok, %llu bad, %llu lost, idle closed %u/%u; %.0f requests/s, %.2f syscalls/request (%.2f s)",
	       srv_name[api], cfg->et ? "ET" : "LT", cfg->conns, cfg->reqs, r->ok,
	       (unsigned long long)cfg->conns * cfg->reqs, r->bad, r->lost, r->idle_closed, cfg->idle,
	       r->seconds > 0 ? (double)r->ok / r->seconds : 0.0,
	       r->ok ? (double)r->syscalls / (double)r->ok : 0.0, r->seconds);
	if (api == SRV_KEVENT && r->ok)
		printf("; %.2f re-checks, %.2f stale per request",
		       (double)r->rechecked / (double)r->ok, (double)r->stale / (double)r->ok);
	printf("\n");
	fflush(stdout);
}
#endif

/* ---- the herd: acceptors on one listening socket ----------------------- */

enum herd_kind { HERD_SOCKET_ONE, HERD_POLL_ALL };
static const char *const herd_name[] = { "socket-wakeone", "poll" };

/* Threads of one queue, threads with a queue each, processes with one each. */
enum herd_mode { HERD_SHARED, HERD_THREADS, HERD_PROCS };
static const char *const herd_mode_name[] = { "threads, one queue", "threads, queue each",
					       "processes, queue each" };

struct acceptor {
	pthread_t th;
	pid_t pid;		/* HERD_PROCS */
	atomic_int tid;
	int q, lfd;
	atomic_uint accepted, empty;
	atomic_bool quit;
};

static void *acceptor_fn(void *arg)
{
	struct acceptor *a = arg;
	struct ukevent uk[4];

	atomic_store(&a->tid, (int)syscall(SYS_gettid));
	/* the queue's fdinfo waiters, read by the driver, says when it sleeps */
	while (!atomic_load(&a->quit)) {
		int n = kevent_get_events(a->q, 1, 4, NULL, uk, 0), fd;

		if (n <= 0)
			continue;
		fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			atomic_fetch_add(&a->empty, 1);
			continue;
		}
		atomic_fetch_add(&a->accepted, 1);
		close(fd);
	}
	return NULL;
}

static long long task_nvcsw(int tid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct herd_result {
	double wakeups, nvcsw, empty;
	unsigned int accepted, conns;
};

/* Threads of one queue (shared) or one queue per thread; all asleep? */
static bool herd_asleep(struct acceptor *a, unsigned int n, bool shared, long long deadline)
{
	while (ks_now_ns() < deadline) {
		long long w = 0;

		for (unsigned int i = 0; i < (shared ? 1 : n); i++)
			w += kevent_fdinfo(a[i].q, "waiters");
		if (w == n)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * The queues are created here, also for processes: a queue belongs to no
 * process, each acceptor waits on its own, and this driver keeps the
 * descriptors to read their fdinfo and to make their waiters leave. The
 * acceptors' counters are in shared memory.
 */
static bool run_herd(const struct ks_config *cfg, enum herd_kind kind, enum herd_mode mode,
		     struct herd_result *hr)
{
	bool shared = mode == HERD_SHARED;
	unsigned int n = cfg->herd_threads, i, c;
	struct acceptor *a = mmap(NULL, n * sizeof(*a), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long deadline = ks_now_ns() + (long long)cfg->limit_s * 1000000000LL;
	long long w0 = 0, w1 = 0, v0 = 0, v1 = 0;
	unsigned int total = 0, empty = 0;
	struct sockaddr_in sa;
	int lfd, q0 = -1;
	bool ok = true;

	if (a == MAP_FAILED)
		ks_die("mmap");
	memset(hr, 0, sizeof(*hr));
	lfd = ks_listener(&sa, 64);
	for (i = 0; i < n; i++) {
		struct ukevent uk = kind == HERD_SOCKET_ONE ?
			ukevent_socket(lfd, KEVENT_SOCKET_ACCEPT, KEVENT_REQ_WAKEUP_ONE) :
			ukevent_poll(lfd, POLLIN, 0);

		a[i].lfd = lfd;
		if (shared && i) {
			a[i].q = q0;
		} else {
			a[i].q = kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC);
			if (a[i].q < 0 || kevent_ctl(a[i].q, KEVENT_CTL_ADD, 1, &uk) != 0)
				ks_die("herd queue");
			q0 = a[i].q;
		}
		if (mode == HERD_PROCS) {
			a[i].pid = fork();
			if (a[i].pid < 0)
				ks_die("fork");
			if (!a[i].pid) {
				acceptor_fn(&a[i]);
				_exit(0);
			}
		} else if (pthread_create(&a[i].th, NULL, acceptor_fn, &a[i])) {
			ks_die("pthread_create");
		}
	}
	ok = herd_asleep(a, n, shared, deadline);
	for (i = 0; i < n; i++) {
		while (!atomic_load(&a[i].tid))
			usleep(1000);
		v0 += task_nvcsw(atomic_load(&a[i].tid));
	}
	for (i = 0; i < (shared ? 1 : n); i++)
		w0 += kevent_fdinfo(a[i].q, "wakeups");
	for (c = 0; ok && c < cfg->herd_conns; c++) {
		int fd = load_connect(&sa);

		while (ks_now_ns() < deadline) {
			total = 0;
			for (i = 0; i < n; i++)
				total += atomic_load(&a[i].accepted);
			if (total > c)
				break;
			usleep(1000);
		}
		close(fd);
		ok = total > c && herd_asleep(a, n, shared, deadline);
	}
	for (i = 0; i < (shared ? 1 : n); i++)
		w1 += kevent_fdinfo(a[i].q, "wakeups");
	for (i = 0; i < n; i++) {
		v1 += task_nvcsw(atomic_load(&a[i].tid));
		empty += atomic_load(&a[i].empty);
	}
	hr->conns = c;
	hr->accepted = total;
	if (c) {
		hr->wakeups = (double)(w1 - w0) / c;
		hr->nvcsw = (double)(v1 - v0) / c;
		hr->empty = (double)empty / c;
	}
	for (i = 0; i < n; i++)
		atomic_store(&a[i].quit, true);
	for (i = 0; i < (shared ? 1 : n); i++)
		kevent_ctl(a[i].q, KEVENT_CTL_READY, 0, NULL);
	for (i = 0; i < n; i++) {
		if (mode == HERD_PROCS)
			waitpid(a[i].pid, NULL, 0);
		else
			pthread_join(a[i].th, NULL);
	}
	for (i = 0; i < (shared ? 1 : n); i++)
		close(a[i].q);
	close(lfd);
	munmap(a, n * sizeof(*a));
	return ok && hr->accepted == cfg->herd_conns;
}

#ifndef KSERVER_SUITE
static void print_herd(const struct ks_config *cfg, enum herd_kind kind, enum herd_mode mode,
		       const struct herd_result *hr)
{
	printf("herd   %-14s %-21s x%u: %u/%u connections accepted; %.2f wake-ups, %.2f voluntary switches, %.2f empty accepts per connection\n",
	       herd_name[kind], herd_mode_name[mode], cfg->herd_threads,
	       hr->accepted, cfg->herd_conns, hr->wakeups, hr->nvcsw, hr->empty);
	fflush(stdout);
}
#endif

static void ks_config_default(struct ks_config *c)
{
	c->conns = 400;
	c->reqs = 50;
	c->idle = 20;
	c->idle_ms = 2000;
	c->limit_s = 120;
	c->herd_threads = 4;
	c->herd_conns = 50;
	c->reps = 3;
	c->et = false;
	c->quiet = false;
}

#ifndef KSERVER_SUITE
int main(int argc, char **argv)
{
	struct ks_config cfg;
	const char *part = "all";
	int opt, rc = 0;

	ks_config_default(&cfg);
	while ((opt = getopt(argc, argv, "c:r:i:I:t:n:k:p:R:")) != -1) {
		switch (opt) {
		case 'c': cfg.conns = (unsigned int)atoi(optarg); break;
		case 'r': cfg.reqs = (unsigned int)atoi(optarg); break;
		case 'i': cfg.idle = (unsigned int)atoi(optarg); break;
		case 'I': cfg.idle_ms = (unsigned int)atoi(optarg); break;
		case 't': cfg.limit_s = (unsigned int)atoi(optarg); break;
		case 'n': cfg.herd_threads = (unsigned int)atoi(optarg); break;
		case 'k': cfg.herd_conns = (unsigned int)atoi(optarg); break;
		case 'p': part = optarg; break;
		case 'R': cfg.reps = (unsigned int)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: kserver [-c conns] [-r reqs] [-i idle] [-I idle_ms] [-t limit_s] [-n herd_threads] [-k herd_conns] [-p load|herd|all] [-R reps]\n");
			return 2;
		}
	}
	if (cfg.conns + cfg.idle + 64 > MAX_FDS / 2) {
		fprintf(stderr, "kserver: at most %d connections\n", MAX_FDS / 2 - 64);
		return 2;
	}
	ks_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(part, "load") || !strcmp(part, "all")) {
		/* interleaved, so that a change of the machine's load hits all */
		for (unsigned int rep = 0; rep < cfg.reps; rep++)
			for (int et = 0; et <= 1; et++)
				for (int api = SRV_KEVENT; api <= SRV_EPOLL; api++) {
					struct ks_result r;

					cfg.et = et;
					run_load(&cfg, (enum srv_api)api, &r);
					print_load(&cfg, (enum srv_api)api, &r);
					if (!load_ok(&cfg, &r))
						rc = 1;
				}
	}
	if (!strcmp(part, "herd") || !strcmp(part, "all")) {
		for (int m = HERD_SHARED; m <= HERD_PROCS; m++)
			for (int k = HERD_SOCKET_ONE; k <= HERD_POLL_ALL; k++) {
				struct herd_result hr;

				if (!run_herd(&cfg, (enum herd_kind)k, (enum herd_mode)m, &hr))
					rc = 1;
				print_herd(&cfg, (enum herd_kind)k, (enum herd_mode)m, &hr);
			}
	}
	return rc;
}
#endif
