// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_stress (see storms.c): files, queues and whole processes go away
 * under load. poll_churn closes and replaces polled files and queues while
 * other threads write to them and consume; orphan_queues lets processes die
 * with their queues full of kevents and blocked waiters.
 */
#include "stress_pool.h"

/* ======================================================================
 * poll_churn: POLL kevents on pipes, eventfds and sockets while other
 * threads write to them, close and replace the polled files and close and
 * replace whole queues (the last reference to a queue may go in a
 * consumer, with writers firing wake-ups at its kevents).
 * ====================================================================== */

#define P_NQ		3
#define P_NF		8
#define P_MAXFD		1024
#define P_OPS		10000
#define P_MAXI		(1 << 15)

struct pfile {
	pthread_rwlock_t lock;
	int kind;		/* 0 pipe, 1 eventfd, 2 socketpair */
	int polled, writer;	/* writer == polled for an eventfd */
	int gen;		/* bumped when the file is closed and replaced */
};

struct pinst {
	uint32_t events, flags;
	int qslot, qgen;
	int file, fgen;		/* the file watched, and its generation */
	long delivered;
	int vanished;
};

struct pqueue {
	pthread_rwlock_t lock;
	int fd, gen;
	uint32_t reg[P_MAXFD];	/* fd number -> registered instance, this gen */
};

struct pchurn {
	struct pqueue q[P_NQ];
	struct pfile f[P_NF];
	struct pinst inst[P_MAXI];
	uint32_t ninst;
	int stop;
	long adds, completed, removes, eexist, qswaps, fswaps, writes, got;
};

static void pf_open(struct pfile *f, int kind)
{
	int p[2];

	f->kind = kind;
	if (kind == 0) {
		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		f->polled = p[0];
		f->writer = p[1];
	} else if (kind == 1) {
		f->polled = f->writer = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	} else {
		KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p));
		f->polled = p[0];
		f->writer = p[1];
	}
	KT_ASSERT(f->polled < P_MAXFD && f->writer < P_MAXFD);
}

static void pf_close(struct pfile *f)
{
	close(f->polled);
	if (f->writer != f->polled)
		close(f->writer);
}

static int pq_open(int gen)
{
	static struct kevent_ring *rings[64];
	int fd;

	switch (gen % 3) {
	case 0:
		return kevent_init(NULL, 0, 0);
	case 1:
		return open("/dev/kevent", O_RDWR | O_CLOEXEC);
	default:
		/* rings are leaked on purpose: a consumer may still use the queue */
		if (!rings[gen % 64])
			rings[gen % 64] = kevent_ring_alloc(4);
		fd = kevent_init(rings[gen % 64], 4, 0);
		return fd;
	}
}

struct pthr {
	struct pchurn *s;
	int idx;
	pthread_t th;
	struct kst_rng rng;
};

/*
 * A POLL kevent goes with the last reference of its file: once the file of
 * instance i was replaced (closed), the kevent is gone, or about to go as
 * soon as a writer closes its private dup.
 */
static bool p_file_gone(const struct pchurn *s, uint32_t i)
{
	return __atomic_load_n(&s->f[s->inst[i].file].gen, __ATOMIC_ACQUIRE) != s->inst[i].fgen;
}

/* ADD and REMOVE POLL kevents of queue slot idx on random files. */
static void *p_registrar(void *arg)
{
	static const uint32_t masks[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLIN | POLLRDNORM,
					  POLLPRI | POLLIN };
	static const uint32_t flags[] = { 0, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT,
					  KEVENT_REQ_LAST_CHECK, KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK,
					  KEVENT_REQ_ALWAYS_QUEUE, KEVENT_REQ_WAKEUP_ONE,
					  KEVENT_REQ_ONESHOT | KEVENT_REQ_ALWAYS_QUEUE };
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	struct pqueue *q = &s->q[t->idx];

	for (int op = 0; op < P_OPS && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); op++) {
		struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];
		struct ukevent uk;
		uint32_t i, old;
		bool gone_ok;
		int r, pfd;

		pthread_rwlock_rdlock(&q->lock);
		pthread_rwlock_rdlock(&f->lock);
		pfd = kst_chance(&t->rng, 80) ? f->polled : f->writer;
		old = q->reg[pfd];
		if (old && kst_chance(&t->rng, 40)) {
			/* REMOVE the kevent keyed by this fd number */
			uk = ukevent_poll(pfd, s->inst[old].events, 0);
			uk.user_u64 = old;
			r = kevent_ctl(q->fd, KEVENT_CTL_REMOVE, 1, &uk);
			if (r == 0 && uk.ret_data[0] == ENOENT &&
			    ((s->inst[old].flags & KEVENT_REQ_ONESHOT) || p_file_gone(s, old)))
				s->inst[old].vanished = 1;
			else if (r != 1)
				SFAIL("REMOVE POLL inst %u: ret %d errno %d flags %#x data %u", old, r,
				      errno, uk.ret_flags, uk.ret_data[0]);
			q->reg[pfd] = 0;
			s->removes++;
		} else {
			i = __atomic_fetch_add(&s->ninst, 1, __ATOMIC_ACQ_REL);
			if (i >= P_MAXI) {
				pthread_rwlock_unlock(&f->lock);
				pthread_rwlock_unlock(&q->lock);
				break;
			}
			s->inst[i].events = masks[kst_below(&t->rng, 5)];
			s->inst[i].flags = flags[kst_below(&t->rng, 8)];
			s->inst[i].qslot = t->idx;
			s->inst[i].qgen = q->gen;
			s->inst[i].file = (int)(f - s->f);
			s->inst[i].fgen = f->gen;
			uk = ukevent_poll(pfd, s->inst[i].events, s->inst[i].flags);
			uk.user_u64 = i;
			/* a delivered ONESHOT kevent, or one whose file closed, is gone */
			gone_ok = old && ((s->inst[old].flags & KEVENT_REQ_ONESHOT) ||
					  p_file_gone(s, old));
			r = kevent_ctl(q->fd, KEVENT_CTL_ADD, 1, &uk);
			if (r == 0 && (!old || gone_ok)) {
				if (old)
					s->inst[old].vanished = 1;
				q->reg[pfd] = i;
				s->adds++;
			} else if (r == 1 && uk.ret_flags == (KEVENT_RET_DONE | KEVENT_RET_BROKEN) &&
				   uk.ret_data[0] == EEXIST && old) {
				s->eexist++;	/* a kevent on an earlier file with this number */
			} else if (r == 1 && uk.ret_flags == KEVENT_RET_DONE && (!old || gone_ok) &&
				   !(s->inst[i].flags & KEVENT_REQ_ALWAYS_QUEUE)) {
				/* ready at once: completed, not registered */
				if (!(uk.ret_data[0] & (s->inst[i].events | POLLERR | POLLHUP)))
					SFAIL("ADD completed at once with mask %#x for %#x",
					      uk.ret_data[0], s->inst[i].events);
				if (old)
					s->inst[old].vanished = 1;
				q->reg[pfd] = 0;
				s->completed++;
			} else {
				SFAIL("ADD POLL fd %d (old inst %u) events %#x flags %#x: ret %d errno %d flags %#x data %u",
				      pfd, old, s->inst[i].events, s->inst[i].flags, r, errno,
				      uk.ret_flags, uk.ret_data[0]);
			}
		}
		pthread_rwlock_unlock(&f->lock);
		pthread_rwlock_unlock(&q->lock);
		if (kst_chance(&t->rng, 30))
			sched_yield();
	}
	return NULL;
}

/* Write to (and drain) random files through a private dup of the end. */
static void *p_writer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	char buf[256];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];
		int w, p;
		uint64_t one = 1;

		pthread_rwlock_rdlock(&f->lock);
		w = dup(f->writer);
		p = dup(f->polled);
		pthread_rwlock_unlock(&f->lock);
		if (w < 0 || p < 0) {
			SFAIL("dup: %s", strerror(errno));
			break;
		}
		if (kst_chance(&t->rng, 60)) {
			if (write(w, &one, sizeof(one)) < 0 && errno != EAGAIN)
				SFAIL("write: %s", strerror(errno));
			s->writes++;
		} else {
			while (read(p, buf, sizeof(buf)) > 0)
				;
		}
		close(w);
		close(p);
		if (kst_chance(&t->rng, 50))
			kt_msleep(1);
	}
	return NULL;
}

/* Consume from a dup of queue slot idx; the last reference may be ours. */
static void *p_consumer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;
	struct pqueue *q = &s->q[t->idx];
	struct ukevent buf[16];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct __kernel_timespec ts = kevent_ts_ms(20);
		int fd, gen, r;

		pthread_rwlock_rdlock(&q->lock);
		fd = dup(q->fd);
		gen = q->gen;
		pthread_rwlock_unlock(&q->lock);
		if (fd < 0) {
			SFAIL("dup queue: %s", strerror(errno));
			break;
		}
		r = kevent_get_events(fd, 1, 16, &ts, buf, 0);
		if (r < 0)
			SFAIL("kevent_get_events: %s", strerror(errno));
		for (int k = 0; k < r; k++) {
			uint32_t i = (uint32_t)buf[k].user_u64;
			struct pinst *in;
			long d;

			if (buf[k].type != KEVENT_POLL || !i ||
			    i >= __atomic_load_n(&s->ninst, __ATOMIC_ACQUIRE)) {
				SFAIL("foreign event type %u user %llu", buf[k].type,
				      (unsigned long long)buf[k].user_u64);
				continue;
			}
			in = &s->inst[i];
			if (in->qslot != t->idx || in->qgen != gen)
				SFAIL("inst %u of queue %d gen %d delivered on queue %d gen %d", i,
				      in->qslot, in->qgen, t->idx, gen);
			if ((buf[k].ret_flags & (KEVENT_RET_DONE | KEVENT_RET_BROKEN)) != KEVENT_RET_DONE)
				SFAIL("inst %u delivered with ret_flags %#x", i, buf[k].ret_flags);
			if (!(buf[k].ret_data[0] & (in->events | POLLERR | POLLHUP)))
				SFAIL("inst %u (events %#x flags %#x) delivered with mask %#x", i,
				      in->events, in->flags, buf[k].ret_data[0]);
			d = __atomic_add_fetch(&in->delivered, 1, __ATOMIC_RELAXED);
			if ((in->flags & KEVENT_REQ_ONESHOT) && d > 1)
				SFAIL("ONESHOT POLL inst %u delivered %ld times", i, d);
			__atomic_add_fetch(&s->got, 1, __ATOMIC_RELAXED);
		}
		close(fd);
	}
	return NULL;
}

/* Close and replace polled files and whole queues. */
static void *p_closer(void *arg)
{
	struct pthr *t = arg;
	struct pchurn *s = t->s;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		kt_msleep(2 + kst_below(&t->rng, 10));
		if (kst_chance(&t->rng, 70)) {
			struct pfile *f = &s->f[kst_below(&t->rng, P_NF)];

			pthread_rwlock_wrlock(&f->lock);
			pf_close(f);
			__atomic_add_fetch(&f->gen, 1, __ATOMIC_RELEASE);
			pf_open(f, (int)kst_below(&t->rng, 3));
			pthread_rwlock_unlock(&f->lock);
			s->fswaps++;
		} else {
			struct pqueue *q = &s->q[kst_below(&t->rng, P_NQ)];
			int nfd;

			pthread_rwlock_wrlock(&q->lock);
			/* wake its waiters, then drop our reference */
			kevent_ctl(q->fd, KEVENT_CTL_READY, 0, NULL);
			close(q->fd);
			q->gen++;
			nfd = pq_open(q->gen);
			if (nfd < 0)
				SFAIL("new queue: %s", strerror(errno));
			q->fd = nfd;
			memset(q->reg, 0, sizeof(q->reg));
			pthread_rwlock_unlock(&q->lock);
			s->qswaps++;
		}
	}
	return NULL;
}

/*
 * A queue still works as abi.md says after the churn: level (delivered
 * again, once per call, while readable; never once no longer readable)
 * and ET (once per write).
 */
static void p_check_usable(int qfd)
{
	struct ukevent uk, buf[4];
	int p[2], r;
	char c[8];

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	for (int lc = 0; lc < 2; lc++) {
		uk = ukevent_poll(p[0], POLLIN, lc ? KEVENT_REQ_LAST_CHECK : 0);
		uk.user_u64 = 1;
		KT_ASSERT_EQ(kevent_ctl(qfd, KEVENT_CTL_ADD, 1, &uk), 0);
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
		KT_ASSERT_EQ(write(p[1], "ab", 2), 2);
		r = kt_get_now(qfd, buf, 4);
		KT_EXPECT_EQ(r, 1);
		if (r == 1)
			KT_EXPECT(buf[0].ret_data[0] & POLLIN);
		/* level: still readable, so delivered again, once per call */
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
		KT_EXPECT_EQ(read(p[0], c, sizeof(c)), 2);
		r = kt_get_now(qfd, buf, 4);
		if (lc)
			KT_EXPECT_EQ(r, 0);
		else	/* requeued "to be checked": polled, found empty, dropped */
			KT_EXPECT_EQ(r, 0);
		KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
		KT_EXPECT_EQ(kevent_ctl(qfd, KEVENT_CTL_REMOVE, 1, &uk), 1);
	}
	/* ET: once per write */
	uk = ukevent_poll(p[0], POLLIN, KEVENT_REQ_ET);
	uk.user_u64 = 2;
	KT_ASSERT_EQ(kevent_ctl(qfd, KEVENT_CTL_ADD, 1, &uk), 0);
	KT_ASSERT_EQ(write(p[1], "a", 1), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 0);
	KT_ASSERT_EQ(write(p[1], "b", 1), 1);
	KT_EXPECT_EQ(kt_get_now(qfd, buf, 4), 1);
	KT_EXPECT_EQ(kevent_ctl(qfd, KEVENT_CTL_REMOVE, 1, &uk), 1);
	close(p[0]);
	close(p[1]);
}

TEST_TIMEOUT(poll_churn, 240)
{
	static struct pchurn s;
	struct pthr reg[P_NQ], cons[2 * P_NQ], wr[2], closer;
	struct ukevent buf[64];
	long room;
	long long t0;

	room = probe_room();
	memset(&s, 0, sizeof(s));
	s.ninst = 1;
	for (int i = 0; i < P_NF; i++) {
		pthread_rwlock_init(&s.f[i].lock, NULL);
		pf_open(&s.f[i], i % 3);
	}
	for (int i = 0; i < P_NQ; i++) {
		pthread_rwlock_init(&s.q[i].lock, NULL);
		s.q[i].gen = i;
		s.q[i].fd = pq_open(i);
		KT_ASSERT(s.q[i].fd >= 0);
	}
	t0 = kt_mono_ns();
	for (int i = 0; i < P_NQ; i++) {
		reg[i] = (struct pthr){ .s = &s, .idx = i };
		kst_rng_seed(&reg[i].rng, 300 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&reg[i].th, NULL, p_registrar, &reg[i]));
	}
	for (int i = 0; i < 2 * P_NQ; i++) {
		cons[i] = (struct pthr){ .s = &s, .idx = i % P_NQ };
		KT_ASSERT(!pthread_create(&cons[i].th, NULL, p_consumer, &cons[i]));
	}
	for (int i = 0; i < 2; i++) {
		wr[i] = (struct pthr){ .s = &s, .idx = i };
		kst_rng_seed(&wr[i].rng, 400 + (uint64_t)i);
		KT_ASSERT(!pthread_create(&wr[i].th, NULL, p_writer, &wr[i]));
	}
	closer = (struct pthr){ .s = &s };
	kst_rng_seed(&closer.rng, 500);
	KT_ASSERT(!pthread_create(&closer.th, NULL, p_closer, &closer));

	for (int i = 0; i < P_NQ; i++) {
		while (pthread_tryjoin_np(reg[i].th, NULL) == EBUSY) {
			if (elapsed_ms(t0) > STORM_CAP_MS)
				__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
			kt_msleep(5);
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < P_NQ; i++)
		kevent_ctl(s.q[i].fd, KEVENT_CTL_READY, 0, NULL);
	for (int i = 0; i < 2 * P_NQ; i++)
		KT_ASSERT(kt_join(cons[i].th, NULL, KT_SOON_MS));
	for (int i = 0; i < 2; i++)
		KT_ASSERT(kt_join(wr[i].th, NULL, KT_SOON_MS));
	KT_ASSERT(kt_join(closer.th, NULL, KT_SOON_MS));
	kt_log("%lld ms: %u instances, %ld registered, %ld completed at ADD, %ld EEXIST, %ld removed, %ld file swaps, %ld queue swaps, %ld writes, %ld events",
	       elapsed_ms(t0), s.ninst - 1, s.adds, s.completed, s.eexist, s.removes, s.fswaps,
	       s.qswaps, s.writes, s.got);

	/*
	 * Quiescent: what the table says is registered is exactly what fdinfo
	 * says; REMOVE succeeds on all of it except delivered ONESHOTs (gone);
	 * then nothing is registered or ready, and nothing is delivered.
	 */
	for (int qi = 0; qi < P_NQ; qi++) {
		struct pqueue *q = &s.q[qi];
		struct kst_fdinfo fi;
		long long live = 0;

		for (int fd = 0; fd < P_MAXFD; fd++) {
			uint32_t i = q->reg[fd];

			if (i && !((s.inst[i].flags & KEVENT_REQ_ONESHOT) && s.inst[i].delivered) &&
			    !p_file_gone(&s, i))
				live++;
		}
		if (kst_check_fdinfo(q->fd, &fi))
			KT_EXPECT_EQ(fi.registered, live);
		for (int fd = 0; fd < P_MAXFD; fd++) {
			uint32_t i = q->reg[fd];
			struct ukevent uk;
			int r;

			if (!i)
				continue;
			uk = ukevent_poll(fd, s.inst[i].events, 0);
			uk.user_u64 = i;
			r = kevent_ctl(q->fd, KEVENT_CTL_REMOVE, 1, &uk);
			if (((s.inst[i].flags & KEVENT_REQ_ONESHOT) && s.inst[i].delivered) ||
			    p_file_gone(&s, i)) {
				if (r != 0 || uk.ret_data[0] != ENOENT)
					SFAIL("inst %u (delivered ONESHOT, or its file closed) still registered (REMOVE %d)",
					      i, r);
			} else if (r != 1) {
				SFAIL("REMOVE inst %u (flags %#x, delivered %ld): ret %d data %u", i,
				      s.inst[i].flags, s.inst[i].delivered, r, uk.ret_data[0]);
			}
		}
		KT_EXPECT_EQ(kt_get_now(q->fd, buf, 64), 0);
		if (kst_check_fdinfo(q->fd, &fi)) {
			KT_EXPECT_EQ(fi.registered, 0);
			KT_EXPECT_EQ(fi.ready, 0);
		}
		p_check_usable(q->fd);
	}
	/*
	 * a ONESHOT found gone (REMOVE/ADD said so) was delivered exactly once,
	 * unless its file was closed (then at most once, checked by consumers)
	 */
	for (uint32_t i = 1; i < s.ninst && i < P_MAXI; i++)
		if (s.inst[i].vanished && !p_file_gone(&s, i) && s.inst[i].delivered != 1)
			SFAIL("ONESHOT POLL inst %u gone from its queue, delivered %ld times", i,
			      s.inst[i].delivered);
	for (int qi = 0; qi < P_NQ; qi++)
		close(s.q[qi].fd);
	for (int i = 0; i < P_NF; i++)
		pf_close(&s.f[i]);
	check_room(room);
}

/* ======================================================================
 * orphan_queues: child processes build queues full of kevents (armed
 * timers, polled pipes, ready events, blocked waiters, a grandchild that
 * shares the queues) and die without closing anything.
 * ====================================================================== */

#define O_CHILDREN	64
#define O_WAVE		4

static void *o_block_get(void *arg)
{
	struct ukevent buf[4];

	for (;;)
		kevent_get_events(*(int *)arg, 4, 4, NULL, buf, 0);
	return NULL;
}

struct o_ring {
	int fd;
	struct kevent_ring *ring;
};

static void *o_block_wait(void *arg)
{
	struct o_ring *o = arg;

	/* fills the ring, then sleeps for space that never comes */
	for (;;)
		kevent_wait(o->fd, 2, kevent_ring_kidx(o->ring), NULL, 0);
	return NULL;
}

static void *o_exit_group(void *arg)
{
	kt_msleep((long)(intptr_t)arg);
	_exit(0);	/* exit_group while the main thread sleeps in the kernel */
}

/* Returns only on the modes where the caller exits. */
static void orphan_child(int n, struct kst_chan *ready, int base)
{
	static int qs[3];
	static struct o_ring rq[3];
	struct kst_rng r;
	pthread_t th;
	int nq, mode, p[2];

	kst_rng_seed(&r, 1000 + (uint64_t)n);
	nq = 1 + (int)kst_below(&r, 3);
	mode = n % 4;
	for (int k = 0; k < nq; k++) {
		int kind = (int)kst_below(&r, 3);
		struct ukevent uk;

		if (kind == 0) {
			qs[k] = kevent_init(NULL, 0, 0);
		} else if (kind == 1) {
			unsigned int size = 2 + kst_below(&r, 6);

			rq[k].ring = kevent_ring_alloc(size);
			qs[k] = kevent_init(rq[k].ring, size, 0);
			rq[k].fd = qs[k];
		} else {
			qs[k] = open("/dev/kevent", O_RDWR | O_CLOEXEC);
		}
		KT_ASSERT(qs[k] >= 0);
		for (int i = 0; i < 8 + (int)kst_below(&r, 16); i++) {
			kt_add_user(qs[k], (__u64)i, (__u64)i, kst_chance(&r, 50) ? KEVENT_REQ_ONESHOT : 0);
			if (kst_chance(&r, 50))
				kt_ready_user(qs[k], (__u64)i, (__u64)i, 1);
		}
		for (int i = 0; i < 3; i++) {
			uk = ukevent_timer(0, 1000000 + (__u32)i * 1000 + kst_below(&r, 1000),
					   i == 2 ? KEVENT_REQ_ONESHOT : 0);
			KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		}
		KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
		uk = ukevent_poll(p[0], POLLIN, 0);
		KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		uk = ukevent_poll(p[1], POLLOUT, KEVENT_REQ_ALWAYS_QUEUE);
		KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 0);
		if (kst_chance(&r, 50))
			KT_EXPECT_EQ(write(p[1], "x", 1), 1);
		if (kst_chance(&r, 50)) {
			close(p[0]);
			close(p[1]);
		}
		if (k > 0 && kst_chance(&r, 30)) {
			/* a queue polled by another queue is refused */
			uk = ukevent_poll(qs[k - 1], POLLIN, 0);
			KT_EXPECT_EQ(kevent_ctl(qs[k], KEVENT_CTL_ADD, 1, &uk), 1);
			KT_EXPECT_BROKEN(uk, ELOOP);
		}
		if (kind == 1 && kst_chance(&r, 60))
			pthread_create(&th, NULL, o_block_wait, &rq[k]);
		else if (kst_chance(&r, 60))
			pthread_create(&th, NULL, o_block_get, &qs[k]);
	}
	if (kst_chance(&r, 30) && fork() == 0) {
		/* a grandchild shares the queues, readies, and dies later */
		for (int i = 0; i < 4; i++) {
			struct ukevent uk = ukevent_user((__u64)i, (__u64)i);

			kevent_ctl(qs[0], KEVENT_CTL_READY, 1, &uk);
		}
		kt_msleep(kst_below(&r, 30));
		_exit(0);
	}
	if (kt_failed() > base)
		_exit(1);
	switch (mode) {
	case 0:
		_exit(0);
	case 1:
		kt_msleep(kst_below(&r, 20));
		_exit(0);
	case 2:
		kst_chan_post(ready, 'R');	/* the parent SIGKILLs us */
		for (;;)
			pause();
	default:
		pthread_create(&th, NULL, o_exit_group, (void *)(intptr_t)kst_below(&r, 10));
		o_block_get(&qs[0]);
	}
}

TEST_TIMEOUT(orphan_queues, 240)
{
	struct kst_chan ready;
	long room;
	int started = 0, status, reaped = 0, killed = 0, base;
	pid_t pid;

	room = probe_room();
	KT_ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	KT_ASSERT(kst_chan_open(&ready));
	while (started < O_CHILDREN) {
		pid_t wave[O_WAVE];
		int nw = 0;

		for (; nw < O_WAVE && started < O_CHILDREN; nw++, started++) {
			fflush(NULL);
			base = kt_failed();
			wave[nw] = fork();
			KT_ASSERT(wave[nw] >= 0);
			if (wave[nw] == 0) {
				orphan_child(started, &ready, base);
				_exit(0);
			}
		}
		for (int k = 0; k < nw; k++) {
			if ((started - nw + k) % 4 == 2) {
				KT_EXPECT_EQ(kst_chan_wait(&ready, KT_SOON_MS), 'R');
				/* whichever child posted, kill the one of this slot once ready */
			}
		}
		for (int k = 0; k < nw; k++)
			if ((started - nw + k) % 4 == 2) {
				kill(wave[k], SIGKILL);
				killed++;
			}
		for (int k = 0; k < nw; k++) {
			KT_ASSERT_EQ(waitpid(wave[k], &status, 0), wave[k]);
			reaped++;
			if ((started - nw + k) % 4 == 2)
				KT_EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			else if (!WIFEXITED(status) || WEXITSTATUS(status))
				kt_fail_at(__FILE__, __LINE__, "child %d ended with status %#x",
					   started - nw + k, status);
		}
	}
	/* grandchildren, reparented to us */
	while ((pid = waitpid(-1, &status, 0)) > 0)
		reaped++;
	kt_log("%d children (%d killed), %d processes reaped", started, killed, reaped);
	check_room(room);
}
