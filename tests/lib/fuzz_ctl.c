// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ctl.c - kevent_ctl() under the fuzzer: requests an application would
 * make and garbage, each entry's outcome predicted from the model.
 */
#include "fuzz_internal.h"

/* ---- kevent_ctl ----------------------------------------------------------- */

/* A request an application might make (keys collide on purpose). */
struct ukevent gen_sensible(struct mq *q)
{
	static const uint32_t pmask[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI,
					  POLLIN | POLLRDHUP, POLLHUP };
	static const uint32_t periods_ns[] = { 1000000, 3000000, 10000000, 50000000, 0 };
	struct ukevent e;
	uint32_t roll = kst_below(&fzw.r, 100);

	if (roll < 55 || !q) {
		e = ukevent_user(kst_below(&fzw.r, 12), kst_below(&fzw.r, 3));
		e.event = (uint32_t)kst_rand64(&fzw.r);
	} else if (roll < 70) {
		uint32_t p = periods_ns[kst_below(&fzw.r, 5)];

		e = p ? ukevent_timer(0, p, 0) : ukevent_timer(1 + kst_below(&fzw.r, 100), 0, 0);
		e.user_u64 = kst_below(&fzw.r, 2);
	} else {
		e = ukevent_poll(fzw.fds[kst_below(&fzw.r, (uint32_t)fzw.nfds)].fd,
				 pmask[kst_below(&fzw.r, 6)], 0);
		e.user_u64 = kst_below(&fzw.r, 2);
	}
	if (kst_chance(&fzw.r, 50)) {
		static const uint32_t fl[] = { KEVENT_REQ_ONESHOT, KEVENT_REQ_ET, KEVENT_REQ_LAST_CHECK,
					       KEVENT_REQ_ALWAYS_QUEUE, KEVENT_REQ_WAKEUP_ONE };

		e.req_flags |= fl[kst_below(&fzw.r, 5)];
	}
	/* matching requests for MODIFY/REMOVE/READY: reuse a registered key */
	if (q && q->n && kst_chance(&fzw.r, 40)) {
		struct mkev *k = &q->k[kst_below(&fzw.r, (uint32_t)q->n)];

		e.type = k->type;
		e.id.raw_u64 = k->id;
		e.user_u64 = kst_chance(&fzw.r, 90) ? k->user : k->user + 1;
		e.event = k->type == KEVENT_TIMER ? KEVENT_TIMER_FIRED :
			  k->type == KEVENT_POLL ? pmask[kst_below(&fzw.r, 6)] : e.event;
		e.req_flags = k->flags ^ (kst_chance(&fzw.r, 30) ? KEVENT_REQ_ET : 0);
	}
	return e;
}

/* Garbage: random or boundary values in every field. */
struct ukevent gen_garbage(void)
{
	static const uint32_t types[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff, 0xffffffff };
	struct ukevent e;

	memset(&e, 0, sizeof(e));
	e.id.raw_u64 = kst_chance(&fzw.r, 50) ? kst_rand64(&fzw.r) : kst_below(&fzw.r, 4);
	e.type = kst_chance(&fzw.r, 80) ? types[kst_below(&fzw.r, 14)] : (uint32_t)kst_rand64(&fzw.r);
	e.event = kst_chance(&fzw.r, 50) ? (uint32_t)kst_rand64(&fzw.r) : kst_below(&fzw.r, 4);
	e.req_flags = kst_chance(&fzw.r, 50) ? (uint32_t)kst_rand64(&fzw.r) : kst_below(&fzw.r, 0x40);
	e.ret_flags = (uint32_t)kst_rand64(&fzw.r);
	e.ret_data[0] = (uint32_t)kst_rand64(&fzw.r);
	e.ret_data[1] = (uint32_t)kst_rand64(&fzw.r);
	e.user_u64 = kst_chance(&fzw.r, 50) ? kst_rand64(&fzw.r) : kst_below(&fzw.r, 3);
	if (e.type == KEVENT_TIMER && kst_chance(&fzw.r, 50)) {
		e.id.raw[0] = 0;
		e.id.raw[1] = kst_chance(&fzw.r, 50) ? (uint32_t)NSEC : 1000000;
	}
	return e;
}

static unsigned int gen_num(void)
{
	static const unsigned int nums[] = { 0, 1, 1, 2, 3, 5, 8, 16, KEVENT_MAX_BATCH,
					     KEVENT_MAX_BATCH + 1, 0x7fffffff, 0xffffffff };

	return kst_chance(&fzw.r, 70) ? 1 + kst_below(&fzw.r, 6) : nums[kst_below(&fzw.r, 12)];
}

/* What an entry will do, and the outcome the model allows. */
struct epred {
	unsigned int errs;	/* errors the entry may fail with */
	bool may_ok;		/* success possible */
	bool may_complete;	/* POLL ADD: may complete at once */
	bool may_register;
};

static struct epred predict_entry(struct mq *q, unsigned int cmd, const struct ukevent *e)
{
	struct epred p = { 0, false, false, false };
	struct mkev *k;

	if (cmd == KEVENT_CTL_ADD) {
		p.errs = m_validate(e);
		if (m_find(q, e->type, e->id.raw_u64))
			p.errs |= B_EEXIST;
		if (e->type == KEVENT_POLL && !m_validate(e))
			p.errs |= fd_poll_errs((int)e->id.raw[0]);
		if (e->type == KEVENT_SOCKET && !m_validate(e))
			p.errs |= fd_sock_errs((int)e->id.raw[0]);
		if (e->type == KEVENT_PIPE && !m_validate(e))
			p.errs |= fd_pipe_errs((int)e->id.raw[0]);
		if (e->type == KEVENT_INODE && !m_validate(e))
			p.errs |= fd_inode_errs((int)e->id.raw[0]);
		if (p.errs & B_UNKNOWN) {
			p.errs &= ~B_UNKNOWN;
			/* what a descriptor we did not open may answer, or success */
			if (!(p.errs & ~(B_EPERM | B_ENOTSOCK | B_EAFNOSUPPORT | B_EPROTONOSUPPORT |
					 B_EBADF | B_EOPNOTSUPP))) {
				p.may_ok = p.may_register = true;
				/* an INODE kevent is never ready at ADD */
				p.may_complete = e->type != KEVENT_INODE &&
						 !(e->req_flags & KEVENT_REQ_ALWAYS_QUEUE);
			}
			return p;
		}
		if (!p.errs) {
			p.may_ok = true;
			p.may_register = true;
			p.may_complete = (e->type == KEVENT_POLL || e->type == KEVENT_SOCKET ||
					  e->type == KEVENT_PIPE) &&
					 !(e->req_flags & KEVENT_REQ_ALWAYS_QUEUE);
		}
		return p;
	}
	k = m_match(q, e);
	if (!k) {
		p.errs = B_ENOENT;
		/* a MODIFY with bad flags may be refused before the lookup */
		if (cmd == KEVENT_CTL_MODIFY && m_validate(e))
			p.errs |= B_EINVAL;
		return p;
	}
	if (cmd == KEVENT_CTL_MODIFY)
		p.errs = m_validate(e);
	p.may_ok = !p.errs;
	return p;
}

/* Apply a successful entry to the model. completed: POLL ADD done at once. */
static void apply_entry(struct mq *q, unsigned int cmd, const struct ukevent *e, bool completed)
{
	struct mkev *k;

	switch (cmd) {
	case KEVENT_CTL_ADD:
		if (!completed)
			m_add(q, e);
		break;
	case KEVENT_CTL_REMOVE:
		k = m_match(q, e);
		if (k)
			m_del(q, k);
		break;
	case KEVENT_CTL_MODIFY:
		k = m_match(q, e);
		if (k) {
			k->event = e->event;
			k->flags = e->req_flags;
		}
		break;
	case KEVENT_CTL_READY:
		k = m_match(q, e);
		if (k && k->type == KEVENT_USER) {
			k->pending = true;
			k->fired++;
			k->mask = e->event;
		}
		break;
	}
}

static bool same_request(const struct ukevent *a, const struct ukevent *b)
{
	return a->type == b->type && a->id.raw_u64 == b->id.raw_u64 && a->user_u64 == b->user_u64 &&
	       a->event == b->event && a->req_flags == b->req_flags;
}

static const char *const cmd_name[] = { "ADD", "REMOVE", "MODIFY", "READY" };

void op_ctl(bool sensible_only)
{
	static struct ukevent in[KEVENT_MAX_BATCH + 8];
	const struct fdent *d = pick_fd(85);
	struct mq *q = d->kind == F_QUEUE ? &fzw.q[d->q] : NULL;
	unsigned int cmd = kst_chance(&fzw.r, 95) ? kst_below(&fzw.r, 4) :
			   (kst_chance(&fzw.r, 50) ? 4 + kst_below(&fzw.r, 4) : (uint32_t)kst_rand64(&fzw.r));
	unsigned int num = sensible_only ? 1 + kst_below(&fzw.r, 4) : gen_num();
	unsigned int gen = num < KEVENT_MAX_BATCH + 8 ? num : KEVENT_MAX_BATCH + 8;
	struct fptr arg;
	unsigned int werr = 0, nread, i, out = 0, ok = 0;
	struct ukevent *res;
	int r, e;

	fzw.op = "kevent_ctl";
	if (gen > 64 && kst_chance(&fzw.r, 80))
		gen = 64;	/* content beyond 64 entries: a repeat */
	for (i = 0; i < gen; i++)
		in[i] = sensible_only || kst_chance(&fzw.r, 75) ? gen_sensible(q) : gen_garbage();
	for (; i < num && i < KEVENT_MAX_BATCH + 8; i++)
		in[i] = in[i % 64];
	arg = sensible_only ? ptr_A(kst_below(&fzw.r, 64) * 8) :
			      gen_ptr((size_t)(num < KEVENT_MAX_BATCH + 8 ? num : 64) * sizeof(struct ukevent), 8);
	put_entries(&arg, in, num < KEVENT_MAX_BATCH + 8 ? num : KEVENT_MAX_BATCH + 8);

	werr |= fd_queue_errs(d);
	if (cmd > KEVENT_CTL_READY)
		werr |= B_EINVAL;
	if (num > KEVENT_MAX_BATCH)
		werr |= B_E2BIG;
	nread = (unsigned int)(arg.rd / sizeof(struct ukevent));
	if (num && !werr && !nread)
		werr |= B_EFAULT;
	if (ptr_kernelish(&arg) && num)
		werr |= B_EFAULT;

	errno = 0;
	r = kevent_ctl(d->fd, cmd, num, (struct ukevent *)arg.p);
	e = errno;
	fzw.calls++;
	if (r < 0 && !(ebit(e) & ALLOW_CTL)) {
		FZF("kevent_ctl: errno %d (%s) is not allowed by abi.md", e, strerror(e));
		return;
	}
	if (werr) {
		if (r != -1 || !(ebit(e) & werr))
			FZF("kevent_ctl(fd kind %d, cmd %u, num %u, arg %s): ret %d errno %d (%s), expected one of %#x",
			    d->kind, cmd, num, pkind_name[arg.kind], r, e, strerror(e), werr);
		if (q)
			m_verify(q);
		return;
	}
	if (!num) {
		if (r != 0)
			FZF("kevent_ctl(%s, num 0) = %d errno %d", cmd_name[cmd], r, e);
		m_verify(q);
		return;
	}
	if (arg.kind != P_A || arg.rw < arg.rd) {
		/* write-back into read-only memory: processed up to it, then EFAULT */
		if (r < 0 && e != EFAULT)
			FZF("kevent_ctl on a read-only array: errno %d (%s)", e, strerror(e));
		/* READYs may have landed before the failed write-back */
		for (int k = 0; k < q->n; k++)
			if (q->k[k].pending)
				q->k[k].fuzzy = true;
		q->uncertain = true;
		m_resync(q);
		return;
	}
	/* the kernel stops at the first entry it cannot read */
	if (nread > num)
		nread = num;
	if (r < 0) {
		FZF("kevent_ctl(%s, num %u, %u readable): failed %d (%s)", cmd_name[cmd], num, nread, e,
		    strerror(e));
		m_resync(q);
		return;
	}
	res = (struct ukevent *)arg.p;
	for (i = 0; i < nread; i++) {
		struct epred p = predict_entry(q, cmd, &in[i]);
		const struct ukevent *wb = NULL;
		bool completed = false, failed;

		if (cmd == KEVENT_CTL_ADD) {
			/*
			 * Written back (completed or broken) ones are at the front,
			 * in order. An entry expected to fail must be the next one
			 * written back; one that may complete is, if the next
			 * written back is it, done and not broken.
			 */
			bool next = out < (unsigned int)r && same_request(&res[out], &in[i]);

			if (p.errs && !p.may_ok && !next)
				FZF("ADD entry %u (type %u id %#llx): expected to fail (%#x), not written back",
				    i, in[i].type, (unsigned long long)in[i].id.raw_u64, p.errs);
			if ((p.errs && !p.may_ok && next) ||
			    (p.may_complete && next && !(res[out].ret_flags & KEVENT_RET_BROKEN)) ||
			    (p.errs && p.may_ok && next))
				wb = &res[out];
		} else {
			wb = &res[i];
		}
		failed = wb && (wb->ret_flags & KEVENT_RET_BROKEN);
		if (wb && !(wb->ret_flags & KEVENT_RET_DONE))
			FZF("%s entry %u: ret_flags %#x without DONE", cmd_name[cmd], i, wb->ret_flags);
		if (failed) {
			unsigned int b = ebit((int)wb->ret_data[0]);

			if (!(b & ALLOW_ENTRY))
				FZF("%s entry %u: BROKEN with errno %u, not allowed by abi.md", cmd_name[cmd],
				    i, wb->ret_data[0]);
			else if (!(b & p.errs))
				FZF("%s entry %u (type %u id %#llx user %#llx event %#x flags %#x): BROKEN %u (%s), expected %s%#x",
				    cmd_name[cmd], i, in[i].type, (unsigned long long)in[i].id.raw_u64,
				    (unsigned long long)in[i].user_u64, in[i].event, in[i].req_flags,
				    wb->ret_data[0], strerror((int)wb->ret_data[0]),
				    p.errs ? "one of " : "success, not ", p.errs);
		} else {
			if (!p.may_ok)
				FZF("%s entry %u (type %u id %#llx user %#llx event %#x flags %#x): succeeded, expected one of %#x",
				    cmd_name[cmd], i, in[i].type, (unsigned long long)in[i].id.raw_u64,
				    (unsigned long long)in[i].user_u64, in[i].event, in[i].req_flags, p.errs);
			if (cmd == KEVENT_CTL_ADD && wb) {
				completed = true;
				if (!wb->ret_data[0])
					FZF("ADD entry %u completed at once with an empty mask", i);
			}
			if (cmd != KEVENT_CTL_ADD)
				ok++;
			if (p.may_ok)
				apply_entry(q, cmd, &in[i], completed);
			else
				q->uncertain = true;
		}
		if (cmd == KEVENT_CTL_ADD && wb)
			out++;
	}
	if (cmd == KEVENT_CTL_ADD ? (unsigned int)r != out : (unsigned int)r != ok)
		FZF("kevent_ctl(%s, num %u, %u processed) returned %d, entries say %u", cmd_name[cmd], num,
		    nread, r, cmd == KEVENT_CTL_ADD ? out : ok);
	if (cmd != KEVENT_CTL_ADD && nread < num && arg.rd >= (size_t)(nread + 1) * sizeof(struct ukevent))
		FZF("stopped early");
	m_verify(q);
}
