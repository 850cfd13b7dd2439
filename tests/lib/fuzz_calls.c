// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_calls.c - the other four calls under the fuzzer, ring sabotage, and
 * the end-of-batch check that every queue still works.
 */
#include "fuzz_internal.h"

/* ---- kevent_get_events ------------------------------------------------------ */

struct tmo {
	struct fptr p;
	unsigned int errs;	/* EINVAL/EFAULT it causes */
	bool poll;		/* never sleeps */
};

static struct tmo gen_timeout(unsigned int flags)
{
	struct __kernel_timespec ts = { 0, 0 };
	struct tmo t = { { NULL, P_NULL, 0, 0 }, 0, false };
	uint32_t roll = kst_below(&fzw.r, 100);
	size_t off;

	if (roll < 10)
		return t;	/* NULL: forever */
	if (roll < 80) {
		switch (kst_below(&fzw.r, 10)) {
		case 0: case 1: case 2:
			ts = kevent_ts(0, 0);
			break;
		case 3: case 4:
			ts = kevent_ts(0, 1000000 + kst_below(&fzw.r, 4000000));
			break;
		case 5:
			ts = kevent_ts(LLONG_MAX, 999999999);
			break;
		case 6:	/* absolute: long ago, or a second ago */
			ts = kevent_ts(kst_chance(&fzw.r, 50) ? 1 : kt_clock_ns(CLOCK_REALTIME) / NSEC - 1, 0);
			break;
		case 7:
			ts = kevent_ts(0, (long long)NSEC);
			t.errs = B_EINVAL;
			break;
		case 8:
			ts = kevent_ts(kst_chance(&fzw.r, 50) ? -1 : LLONG_MIN, 0);
			t.errs = B_EINVAL;
			break;
		default:
			ts = kevent_ts(0, -1);
			t.errs = B_EINVAL;
			break;
		}
		t.poll = !t.errs && !ts.tv_sec && !ts.tv_nsec && !(flags & KEVENT_FLAGS_ABSTIME);
		/* in the timespec page, sometimes unaligned */
		off = kst_below(&fzw.r, PAGE - sizeof(ts));
		if (kst_chance(&fzw.r, 70))
			off &= ~(size_t)7;
		memcpy(fzw.TS + off, &ts, sizeof(ts));
		t.p = (struct fptr){ fzw.TS + off, P_A, PAGE - off, PAGE - off };
		return t;
	}
	if (roll < 88) {
		/* a valid timespec ({0, 0}) in read-only memory is fine */
		t.p = (struct fptr){ fzw.RO + PAGE - 64, P_RO, 64, 0 };
		t.poll = !(flags & KEVENT_FLAGS_ABSTIME);
		return t;
	}
	t.p = gen_ptr(sizeof(ts), 8);
	if (t.p.kind == P_A) {
		/* moved to the timespec page: one that runs into its guard */
		off = PAGE - 1 - kst_below(&fzw.r, sizeof(ts) - 1);
		t.p = (struct fptr){ fzw.TS + off, P_A, PAGE - off, PAGE - off };
		t.errs = B_EFAULT;
	} else if (t.p.kind == P_RO) {
		if (t.p.rd < sizeof(ts)) {
			t.errs = B_EFAULT;
		} else {
			memcpy(&ts, t.p.p, sizeof(ts));
			if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= NSEC)
				t.errs = B_EINVAL;
			else
				t.poll = !ts.tv_sec && !ts.tv_nsec && !(flags & KEVENT_FLAGS_ABSTIME);
		}
	} else if (t.p.kind != P_NULL) {
		t.errs = B_EFAULT;
	}
	return t;
}

void op_get_events(bool sane)
{
	static const unsigned int maxes[] = { 0, 1, 2, 7, 64, KEVENT_MAX_BATCH, KEVENT_MAX_BATCH + 1,
					      0x7fffffff, 0xffffffff };
	const struct fdent *d = pick_fd(sane ? 100 : 85);
	struct mq *q = d->kind == F_QUEUE ? &fzw.q[d->q] : NULL;
	unsigned int max = sane || kst_chance(&fzw.r, 60) ? 1 + kst_below(&fzw.r, 8) : maxes[kst_below(&fzw.r, 9)];
	unsigned int min = kst_chance(&fzw.r, 70) ? 0 : kst_below(&fzw.r, 4);
	unsigned int flags = kst_chance(&fzw.r, 85) ? 0 :
			     (kst_chance(&fzw.r, 50) ? KEVENT_FLAGS_ABSTIME : (uint32_t)kst_rand64(&fzw.r));
	struct tmo t = sane ? (struct tmo){ { NULL, P_NULL, 0, 0 }, 0, true } : gen_timeout(flags);
	size_t need = (size_t)(max < 64 ? max : 64) * sizeof(struct ukevent);
	struct fptr buf = sane ? ptr_A(0) : gen_ptr(need, 8);
	unsigned int werr = 0, w;
	struct __kernel_timespec zero = kevent_ts(0, 0);
	int r, e, pending = q ? m_pending_user(q) : 0;
	bool may_block;

	fzw.op = "kevent_get_events";
	if (sane) {
		flags = 0;
		min = 0;
		t.p.p = (char *)&zero;
	}
	werr |= fd_queue_errs(d);
	if (flags & ~KEVENT_FLAGS_MASK)
		werr |= B_EINVAL;
	if (max > KEVENT_MAX_BATCH)
		werr |= B_E2BIG;
	if (min > max)
		werr |= B_EINVAL;
	werr |= t.errs;
	if (ptr_kernelish(&buf))
		werr |= B_EFAULT;
	w = buf.kind == P_A ? (unsigned int)(buf.rw / sizeof(struct ukevent)) : 0;
	if (w > max)
		w = max;
	/* canaries after what may be written */
	if (buf.kind == P_A && buf.rw > (size_t)w * sizeof(struct ukevent))
		memset(buf.p + (size_t)w * sizeof(struct ukevent), 0xa5,
		       buf.rw - (size_t)w * sizeof(struct ukevent) < 256 ?
		       buf.rw - (size_t)w * sizeof(struct ukevent) : 256);
	for (unsigned int i = 0; i < w && buf.kind == P_A; i++)
		((struct ukevent *)buf.p)[i].type = 0xa5a5a5a5;
	may_block = min > 0 && !t.poll;
	if (may_block)
		arm(15);
	errno = 0;
	r = kevent_get_events(d->fd, min, max, (struct __kernel_timespec *)t.p.p,
			      (struct ukevent *)buf.p, flags);
	e = errno;
	if (may_block)
		disarm();
	fzw.calls++;
	if (r < 0 && (!(ebit(e) & ALLOW_GET) || (e == EINTR && !may_block))) {
		FZF("kevent_get_events: errno %d (%s) is not allowed here by abi.md", e, strerror(e));
		return;
	}
	if (werr) {
		if (r != -1 || !(ebit(e) & werr))
			FZF("kevent_get_events(fd kind %d, min %u, max %u, timeout %s, buf %s, flags %#x): ret %d errno %d (%s), expected one of %#x",
			    d->kind, min, max, pkind_name[t.p.kind], pkind_name[buf.kind], flags, r, e,
			    strerror(e), werr);
		if (q)
			m_verify(q);
		return;
	}
	if (r < 0) {
		/* EINTR (the alarm) or EFAULT (nothing writable) */
		if (e == EFAULT && w)
			FZF("kevent_get_events: EFAULT with %u writable entries", w);
		m_verify(q);
		return;
	}
	if ((unsigned int)r > max || (unsigned int)r > w)
		FZF("kevent_get_events returned %d (max %u, %u writable)", r, max, w);
	if (!r && !min && pending && w)
		FZF("kevent_get_events(min 0) returned 0 with %d USER events pending", pending);
	for (int i = 0; i < r && (unsigned int)i < w; i++) {
		struct ukevent ev;

		memcpy(&ev, buf.p + (size_t)i * sizeof(ev), sizeof(ev));
		m_delivered(q, &ev, "kevent_get_events");
	}
	for (unsigned int i = (unsigned int)(r > 0 ? r : 0); i < w && buf.kind == P_A; i++)
		if (((struct ukevent *)buf.p)[i].type != 0xa5a5a5a5)
			FZF("kevent_get_events returned %d but wrote entry %u", r, i);
	/* (a partly writable entry before the guard may be partly written) */
	if (buf.kind == P_A && w == max && buf.rw > (size_t)w * sizeof(struct ukevent)) {
		const unsigned char *c = (const unsigned char *)buf.p + (size_t)w * sizeof(struct ukevent);
		size_t n = buf.rw - (size_t)w * sizeof(struct ukevent);

		for (size_t i = 0; i < n && i < 256; i++)
			if (c[i] != 0xa5) {
				FZF("kevent_get_events wrote past max_nr %u", max);
				break;
			}
	}
	m_verify(q);
}

/* ---- the ring: kevent_wait, kevent_commit, sabotage ------------------------- */

static struct mq *ring_queue(void)
{
	return &fzw.q[kst_chance(&fzw.r, 50) ? Q_RING : Q_URING];
}

/* Read the entries [from, to) the kernel just wrote into the ring. */
static void ring_take(struct mq *q, unsigned long long from, unsigned long long to)
{
	for (unsigned long long p = from; p < to; p++) {
		struct ukevent ev;

		memcpy(&ev, (char *)q->ring + 8 + (size_t)(p % q->size) * sizeof(ev), sizeof(ev));
		m_delivered(q, &ev, "kevent_wait");
	}
}

void ring_map(struct mq *q, int state)
{
	if (state == q->map_state)
		return;
	if (q->map_state == 2) {
		void *p = mmap(q->map, q->maplen, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		if (p != q->map)
			FZF("remap ring: %s", strerror(errno));
		q->hdr_dirty = true;	/* zeroes now */
	}
	if (state == 2)
		munmap(q->map, q->maplen);
	else
		mprotect(q->map, q->maplen, state ? PROT_READ : PROT_READ | PROT_WRITE);
	q->map_state = state;
}

void op_wait(bool sane)
{
	static const unsigned int nums[] = { 0, 1, 2, 3, KEVENT_MAX_BATCH, KEVENT_MAX_BATCH + 1,
					     0xffffffff };
	const struct fdent *d = sane || kst_chance(&fzw.r, 85) ? &fzw.fds[fd_of_queue(ring_queue() - fzw.q)] :
			       pick_fd(50);
	struct mq *q = d->kind == F_QUEUE ? &fzw.q[d->q] : NULL;
	unsigned int num = sane || kst_chance(&fzw.r, 75) ? 1 + kst_below(&fzw.r, 6) : nums[kst_below(&fzw.r, 7)];
	unsigned int flags = sane || kst_chance(&fzw.r, 90) ? 0 :
			     (kst_chance(&fzw.r, 50) ? KEVENT_FLAGS_ABSTIME : (uint32_t)kst_rand64(&fzw.r));
	struct tmo t = { { NULL, P_NULL, 0, 0 }, 0, true };
	struct __kernel_timespec zero = kevent_ts(0, 0);
	unsigned int werr = fd_queue_errs(d), old, space = 0;
	unsigned long long W0;
	int r, e, pending;
	bool stale;

	fzw.op = "kevent_wait";
	if (sane)
		t.p.p = (char *)&zero;
	else
		t = gen_timeout(flags);
	if (q && !q->size)
		werr |= B_EINVAL;
	if (!num || (flags & ~KEVENT_FLAGS_MASK))
		werr |= B_EINVAL;
	if (num > KEVENT_MAX_BATCH)
		werr |= B_E2BIG;
	werr |= t.errs;
	old = q && q->size ? (unsigned int)(q->W % q->size) : 0;
	if (!sane && kst_chance(&fzw.r, 15))
		old = kst_chance(&fzw.r, 50) ? (uint32_t)kst_rand64(&fzw.r) : old + 1;
	stale = q && q->size && old != q->W % q->size;
	if (q && q->size)
		space = q->size - (unsigned int)(q->W - q->C);
	pending = q ? m_pending_user(q) : 0;
	if (!werr && !stale)
		arm(15);
	errno = 0;
	r = kevent_wait(d->fd, num, old, (struct __kernel_timespec *)t.p.p, flags);
	e = errno;
	disarm();
	fzw.calls++;
	if (r < 0 && !(ebit(e) & ALLOW_WAIT)) {
		FZF("kevent_wait: errno %d (%s) is not allowed by abi.md", e, strerror(e));
		return;
	}
	if (werr) {
		if (r != -1 || !(ebit(e) & werr))
			FZF("kevent_wait(fd kind %d, num %u, flags %#x, timeout %s): ret %d errno %d (%s), expected one of %#x",
			    d->kind, num, flags, pkind_name[t.p.kind], r, e, strerror(e), werr);
		if (q)
			m_verify(q);
		return;
	}
	if (stale) {
		if (r != 0)
			FZF("kevent_wait with stale old_uidx %u (kidx %llu): ret %d errno %d, expected 0",
			    old, q->W % q->size, r, e);
		m_verify(q);
		return;
	}
	if (r < 0) {
		if (e == EFAULT && q->map_state == 0)
			FZF("kevent_wait: EFAULT with a writable ring");
		m_verify(q);
		return;
	}
	if ((unsigned int)r > num || (unsigned int)r > space)
		FZF("kevent_wait copied %d (num %u, %u free slots)", r, num, space);
	if (q->map_state != 0 && r > 0)
		FZF("kevent_wait copied %d events into a %s ring", r,
		    q->map_state == 1 ? "read-only" : "unmapped");
	if (!r && t.poll && pending && space && q->map_state == 0)
		FZF("kevent_wait(poll) returned 0 with %d USER events pending and %u free slots",
		    pending, space);
	W0 = q->W;
	q->W += (unsigned int)r;
	if (r > 0 && q->map_state == 0) {
		uint32_t kidx = kevent_ring_kidx(q->ring), over = kevent_ring_over(q->ring);

		if (kidx != q->W % q->size || over != (uint32_t)(q->W / q->size))
			FZF("ring header kidx %u over %u, expected %llu/%llu", kidx, over,
			    q->W % q->size, q->W / q->size);
		q->hdr_dirty = false;
		ring_take(q, W0, q->W);
	}
	m_verify(q);
}

void op_commit(bool sane)
{
	const struct fdent *d = sane || kst_chance(&fzw.r, 85) ? &fzw.fds[fd_of_queue(ring_queue() - fzw.q)] :
			       pick_fd(60);
	struct mq *q = d->kind == F_QUEUE ? &fzw.q[d->q] : NULL;
	unsigned int werr = fd_queue_errs(d), idx, over;
	unsigned long long target = 0;
	long want = 0;
	int r, e;

	fzw.op = "kevent_commit";
	if (q && q->size) {
		unsigned long long pos;

		/* a position between, at, before or after the valid range */
		switch (sane ? 0 : kst_below(&fzw.r, 6)) {
		case 0:
			pos = q->C + kst_below(&fzw.r, (uint32_t)(q->W - q->C + 1));
			break;
		case 1:
			pos = q->W + 1 + kst_below(&fzw.r, 3);
			break;
		case 2:
			pos = q->C ? q->C - 1 - kst_below(&fzw.r, (uint32_t)(q->C < 3 ? q->C : 3)) : 0;
			break;
		case 3:
			pos = q->W + q->size;	/* one lap ahead */
			break;
		default:
			pos = q->C;
		}
		idx = (unsigned int)(pos % q->size);
		over = (unsigned int)(pos / q->size);
		if (!sane && kst_chance(&fzw.r, 15))
			over = kst_chance(&fzw.r, 50) ? (uint32_t)kst_rand64(&fzw.r) : over - 1;
		if (!sane && kst_chance(&fzw.r, 10))
			idx = kst_chance(&fzw.r, 50) ? q->size + kst_below(&fzw.r, 3) : (uint32_t)kst_rand64(&fzw.r);
		target = (unsigned long long)over * q->size + idx;
		if (idx >= q->size)
			werr |= B_EINVAL;
		else if (target < q->C || target > q->W)
			werr |= B_ERANGE;
		else
			want = (long)(target - q->C);
	} else {
		idx = kst_below(&fzw.r, 8);
		over = kst_below(&fzw.r, 3);
		werr |= q ? B_EINVAL : 0;
	}
	errno = 0;
	r = kevent_commit(d->fd, idx, over);
	e = errno;
	fzw.calls++;
	if (r < 0 && !(ebit(e) & ALLOW_COMMIT)) {
		FZF("kevent_commit: errno %d (%s) is not allowed by abi.md", e, strerror(e));
		return;
	}
	if (werr) {
		if (r != -1 || !(ebit(e) & werr))
			FZF("kevent_commit(fd kind %d, idx %u, over %u) [C %llu W %llu]: ret %d errno %d (%s), expected one of %#x",
			    d->kind, idx, over, q ? q->C : 0, q ? q->W : 0, r, e, strerror(e), werr);
	} else if (r != want) {
		FZF("kevent_commit(idx %u, over %u) [C %llu W %llu size %u]: ret %d errno %d, expected %ld",
		    idx, over, q->C, q->W, q->size, r, e, want);
	} else {
		q->C = target;
	}
	if (q)
		m_verify(q);
}

/* Corrupt the ring header, make the ring read-only, unmap it, restore it. */
void op_sabotage(void)
{
	struct mq *q = ring_queue();
	uint32_t roll = kst_below(&fzw.r, 10);

	fzw.op = "ring sabotage";
	if (roll < 3 && q->map_state == 0) {
		q->ring->ring_kidx = (uint32_t)kst_rand64(&fzw.r);
		q->ring->ring_over = (uint32_t)kst_rand64(&fzw.r);
		q->hdr_dirty = true;
	} else if (roll < 5) {
		ring_map(q, 1);
	} else if (roll < 7) {
		ring_map(q, 2);
	} else {
		ring_map(q, 0);
	}
}

/* ---- kevent_init ------------------------------------------------------------ */

void op_init(void)
{
	static const unsigned int sizes[] = { 0, 1, 2, 3, 4, 64, 100, 65535, 65536, 65537, 1 << 20,
					      0x7fffffff, 0xffffffff };
	unsigned int size = kst_chance(&fzw.r, 40) ? 2 + kst_below(&fzw.r, 200) : sizes[kst_below(&fzw.r, 13)];
	unsigned int flags = kst_chance(&fzw.r, 80) ? (kst_chance(&fzw.r, 50) ? 0 : KEVENT_INIT_CLOEXEC) :
			     (uint32_t)kst_rand64(&fzw.r);
	size_t bytes = 8 + (size_t)size * sizeof(struct ukevent);
	struct fptr ring = kst_chance(&fzw.r, 10) ? (struct fptr){ NULL, P_NULL, 0, 0 } :
			   gen_ptr(bytes < fzw.A_len ? bytes : 64, kst_chance(&fzw.r, 50) ? 8 : 1);
	unsigned int werr = 0;
	int r, e;

	fzw.op = "kevent_init";
	if (kst_chance(&fzw.r, 10)) {
		ring = (struct fptr){ NULL, P_NULL, 0, 0 };
		size = 0;
	}
	bytes = 8 + (size_t)size * sizeof(struct ukevent);
	if (flags & ~KEVENT_INIT_MASK)
		werr |= B_EINVAL;
	if (ring.p || size) {
		if (size < 2 || size > fzw.max_ring) {
			werr |= B_EINVAL;
		} else {
			/* the header is published in one 8-byte store */
			if ((uintptr_t)ring.p % 8)
				werr |= B_EINVAL;
			if (ring.rw < bytes)
				werr |= B_EFAULT;
		}
	}
	if (ring.kind == P_A && ring.rw >= 8)
		memset(ring.p, 0x5a, 8);	/* the kernel must zero the header */
	errno = 0;
	r = kevent_init((struct kevent_ring *)ring.p, size, flags);
	e = errno;
	fzw.calls++;
	if (r < 0 && !(ebit(e) & ALLOW_INIT)) {
		FZF("kevent_init: errno %d (%s) is not allowed by abi.md", e, strerror(e));
		return;
	}
	if (werr) {
		if (r != -1 || !(ebit(e) & werr))
			FZF("kevent_init(ring %s+%zu bytes writable, size %u, flags %#x): ret %d errno %d (%s), expected one of %#x",
			    pkind_name[ring.kind], ring.rw, size, flags, r, e, strerror(e), werr);
		if (r >= 0)
			close(r);
		return;
	}
	if (r < 0) {
		FZF("kevent_init(ring %s, size %u, flags %#x): %s", pkind_name[ring.kind], size, flags,
		    strerror(e));
		return;
	}
	if (ring.p && (((struct kevent_ring *)ring.p)->ring_kidx ||
		       ((struct kevent_ring *)ring.p)->ring_over))
		FZF("kevent_init left the ring header %#x/%#x", ((struct kevent_ring *)ring.p)->ring_kidx,
		    ((struct kevent_ring *)ring.p)->ring_over);
	if (kevent_fdinfo(r, "ring_size") != size)
		FZF("kevent_init(size %u): fdinfo ring_size %lld", size, kevent_fdinfo(r, "ring_size"));
	if (!!(fcntl(r, F_GETFD) & FD_CLOEXEC) != !!(flags & KEVENT_INIT_CLOEXEC))
		FZF("kevent_init(flags %#x): FD_CLOEXEC is %d", flags, fcntl(r, F_GETFD));
	close(r);
}

/* ---- other operations --------------------------------------------------------- */

/* READY with num == 0 (wakes waiters; there are none) and toggling POLL readiness. */
void op_misc(void)
{
	struct mq *q = &fzw.q[kst_below(&fzw.r, NQ)];
	uint32_t roll = kst_below(&fzw.r, 10);
	uint64_t v = 1;
	char buf[64];

	fzw.op = "misc";
	if (roll < 2) {
		if (kevent_ctl(q->fd, KEVENT_CTL_READY, 0, NULL) != 0)
			FZF("READY num 0: %s", strerror(errno));
		if (kevent_ctl(q->fd, KEVENT_CTL_ADD, 0, (struct ukevent *)fzw.HOLE) != 0)
			FZF("ADD num 0 with a bad pointer: %s", strerror(errno));
		m_verify(q);
		return;
	}
	for (int i = 0; i < fzw.nfds; i++) {
		int fd = fzw.fds[i].fd;

		if (!kst_chance(&fzw.r, 30))
			continue;
		switch (fzw.fds[i].kind) {
		case F_PIPE_W:
		case F_SOCK:
			if (write(fd, "x", 1) < 0 && errno != EAGAIN)
				FZF("write: %s", strerror(errno));
			break;
		case F_EVENTFD:
			if (kst_chance(&fzw.r, 50) && write(fd, &v, 8) < 0 && errno != EAGAIN)
				FZF("write eventfd: %s", strerror(errno));
			else if (read(fd, &v, 8) < 0 && errno != EAGAIN)
				FZF("read eventfd: %s", strerror(errno));
			break;
		case F_PIPE_R:
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			break;
		default:
			break;
		}
	}
}

/* Take everything that is ready with valid calls. */
static void drain(struct mq *q)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct ukevent buf[64];
	int r;

	fzw.op = "drain";
	if (q->size) {
		ring_map(q, 0);
		for (int guard = 0; guard < 1000; guard++) {
			unsigned long long W0 = q->W;

			if (q->W != q->C) {
				r = kevent_commit(q->fd, (unsigned int)(q->W % q->size),
						  (unsigned int)(q->W / q->size));
				if (r != (int)(q->W - q->C))
					FZF("drain commit: %d errno %d, expected %llu", r, errno, q->W - q->C);
				q->C = q->W;
			}
			r = kevent_wait(q->fd, q->size, (unsigned int)(q->W % q->size), &zero, 0);
			if (r < 0) {
				FZF("drain kevent_wait: %s", strerror(errno));
				break;
			}
			if (!r)
				break;
			q->W += (unsigned int)r;
			ring_take(q, W0, q->W);
		}
	}
	for (int guard = 0; guard < 1000; guard++) {
		r = kevent_get_events(q->fd, 0, 64, &zero, buf, 0);
		if (r < 0)
			FZF("drain kevent_get_events: %s", strerror(errno));
		if (r <= 0)
			break;
		for (int i = 0; i < r; i++)
			m_delivered(q, &buf[i], "drain");
	}
}

/*
 * The end of a batch: after everything the batch did, each queue still
 * works. Timers and POLL kevents are removed, USER events drain exactly
 * once, and a fresh USER ONESHOT kevent readied is delivered exactly once.
 */
void final_check(struct mq *q)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct ukevent uk, buf[8];
	struct kst_fdinfo fi;
	uint64_t id;
	int r;

	fzw.op = "final check";
	ring_map(q, 0);
	m_verify(q);
	for (int i = q->n - 1; i >= 0; i--) {
		struct mkev *k = &q->k[i];

		if (k->type == KEVENT_USER)
			continue;
		memset(&uk, 0, sizeof(uk));
		uk.type = k->type;
		uk.id.raw_u64 = k->id;
		uk.user_u64 = k->user;
		r = kevent_ctl(q->fd, KEVENT_CTL_REMOVE, 1, &uk);
		if (r != 1)
			FZF("REMOVE type %u id %#llx: ret %d flags %#x data %u", k->type,
			    (unsigned long long)k->id, r, uk.ret_flags, uk.ret_data[0]);
		m_del(q, k);
	}
	drain(q);
	for (int i = 0; i < q->n; i++)
		if (q->k[i].pending && !q->k[i].fuzzy)
			FZF("USER id %#llx readied %u times, never delivered",
			    (unsigned long long)q->k[i].id, q->k[i].fired);
	id = 0x4000000000000000ULL + fzw.next_id++;
	uk = ukevent_user(id, 77);
	uk.req_flags = KEVENT_REQ_ONESHOT;
	if (kevent_ctl(q->fd, KEVENT_CTL_ADD, 1, &uk) != 0)
		FZF("final ADD failed: %s / %u", strerror(errno), uk.ret_data[0]);
	uk = ukevent_user(id, 77);
	uk.event = 0x1234;
	if (kevent_ctl(q->fd, KEVENT_CTL_READY, 1, &uk) != 1)
		FZF("final READY failed");
	if (q->size) {
		r = kevent_wait(q->fd, q->size, (unsigned int)(q->W % q->size), &zero, 0);
		if (r != 1) {
			FZF("final kevent_wait: %d (errno %d), expected 1", r, errno);
		} else {
			memcpy(&uk, (char *)q->ring + 8 + (size_t)(q->W % q->size) * sizeof(uk), sizeof(uk));
			q->W++;
			if (uk.id.raw_u64 != id || uk.ret_data[0] != 0x1234 || uk.ret_data[1] != 1)
				FZF("final event: id %#llx data %#x/%u", (unsigned long long)uk.id.raw_u64,
				    uk.ret_data[0], uk.ret_data[1]);
		}
		r = kevent_wait(q->fd, q->size, (unsigned int)(q->W % q->size), &zero, 0);
		if (r != 0)
			FZF("final event delivered again (%d)", r);
		r = kevent_commit(q->fd, (unsigned int)(q->W % q->size), (unsigned int)(q->W / q->size));
		if (r != (int)(q->W - q->C))
			FZF("final commit %d, expected %llu", r, q->W - q->C);
		q->C = q->W;
	} else {
		r = kevent_get_events(q->fd, 0, 8, &zero, buf, 0);
		if (r != 1 || buf[0].id.raw_u64 != id || buf[0].ret_data[1] != 1)
			FZF("final kevent_get_events: %d (errno %d), expected the one event", r, errno);
	}
	if (kevent_get_events(q->fd, 0, 8, &zero, buf, 0) != 0)
		FZF("final event delivered again");
	if (!kst_fdinfo_read(q->fd, &fi, NULL, 0)) {
		if (fi.registered != q->n || fi.ready != 0 || fi.registered != fi.added - fi.removed)
			FZF("final fdinfo: registered %lld (model %d) ready %lld added %lld removed %lld",
			    fi.registered, q->n, fi.ready, fi.added, fi.removed);
		if (q->size && (fi.ring_free != q->size || fi.ring_kidx != (long long)(q->W % q->size)))
			FZF("final ring: free %lld kidx %lld", fi.ring_free, fi.ring_kidx);
	}
}
