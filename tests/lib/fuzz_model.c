// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_model.c - the fuzzer's world and its model of every queue (see
 * fuzz_internal.h).
 */
#include "fuzz_internal.h"

unsigned int ebit(int e)
{
	switch (e) {
	case EBADF: return B_EBADF;
	case EINVAL: return B_EINVAL;
	case E2BIG: return B_E2BIG;
	case EFAULT: return B_EFAULT;
	case EINTR: return B_EINTR;
	case ERANGE: return B_ERANGE;
	case ENOENT: return B_ENOENT;
	case EEXIST: return B_EEXIST;
	case EPERM: return B_EPERM;
	case ELOOP: return B_ELOOP;
	case ENOSPC: return B_ENOSPC;
	case EMFILE: return B_EMFILE;
	case ENFILE: return B_ENFILE;
	case ENOMEM: return B_ENOMEM;
	case ENOTSOCK: return B_ENOTSOCK;
	case EAFNOSUPPORT: return B_EAFNOSUPPORT;
	case EPROTONOSUPPORT: return B_EPROTONOSUPPORT;
	case EOPNOTSUPP: return B_EOPNOTSUPP;
	case EACCES: return B_EACCES;
	default: return 0;
	}
}

/* The fuzzer's world: one per batch, in the batch's child process. */
struct fz fzw;

void alarm_noop(int sig)
{
	(void)sig;
}

/* A one-shot SIGALRM that turns a sleep into EINTR. */
void arm(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

void disarm(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

const char *const pkind_name[] = {
	"rw", "read-only", "PROT_NONE", "unmapped", "NULL", "kernel", "non-canonical",
	"top-of-user", "(void*)1", "(void*)-1",
};

struct fptr ptr_A(size_t off)
{
	struct fptr f = { fzw.A + off, P_A, fzw.A_len - off, fzw.A_len - off };

	return f;
}

/* access_ok() certainly fails for these. */
bool ptr_kernelish(const struct fptr *f)
{
	return f->kind == P_KERN || f->kind == P_NONCANON || f->kind == P_MINUS1;
}

/* A pointer for `need` bytes, usually fitting in the RW arena. */
struct fptr gen_ptr(size_t need, size_t align)
{
	uint32_t roll = kst_below(&fzw.r, 100);
	struct fptr f = { NULL, P_NULL, 0, 0 };
	size_t off;

	if (roll < 60) {
		off = need <= fzw.A_len ? kst_below(&fzw.r, (uint32_t)(fzw.A_len - need + 1)) : 0;
		off -= off % align;
		if (kst_chance(&fzw.r, 20) && off + need + 8 <= fzw.A_len)
			off += 1 + kst_below(&fzw.r, 7);	/* unaligned */
		return ptr_A(off);
	}
	if (roll < 68) {
		/* runs into the guard page */
		off = fzw.A_len - (need ? 1 + kst_below(&fzw.r, (uint32_t)(need < fzw.A_len ? need : fzw.A_len)) : 0);
		return ptr_A(off);
	}
	if (roll < 76) {
		off = need < PAGE ? kst_below(&fzw.r, (uint32_t)(PAGE - need + 1)) : 0;
		off -= off % align;
		f.p = fzw.RO + off;
		f.kind = P_RO;
		f.rd = PAGE - off;
		return f;
	}
	if (roll < 80) {
		f.p = fzw.NONE + kst_below(&fzw.r, PAGE);
		f.kind = P_NONE;
	} else if (roll < 84) {
		f.p = fzw.HOLE;
		f.kind = P_HOLE;
	} else if (roll < 88) {
		f.kind = P_NULL;
	} else if (roll < 92) {
		f.p = (char *)(kst_chance(&fzw.r, 50) ? 0xffff800000000000ULL : 0xffffffff81000000ULL);
		f.kind = P_KERN;
	} else if (roll < 95) {
		f.p = (char *)0x8000000000000000ULL;
		f.kind = P_NONCANON;
	} else if (roll < 97) {
		/*
		 * The top of 4-level user space, or just above it (an unmapped
		 * user address with 5-level paging, as TCG's -cpu max has it).
		 */
		f.p = (char *)(kst_chance(&fzw.r, 50) ? 0x0000800000000000ULL :
			       0x7ffffffff000ULL - 8 - 8 * kst_below(&fzw.r, 4));
		f.kind = P_TOP;
	} else if (roll < 98) {
		f.p = (char *)1;
		f.kind = P_ONE;
	} else {
		f.p = (char *)~0ULL;
		f.kind = P_MINUS1;
	}
	return f;
}

/* Write n entries at a pointer, as far as it is writable by us. */
void put_entries(const struct fptr *f, const struct ukevent *e, unsigned int n)
{
	size_t bytes = (size_t)n * sizeof(*e);

	if (f->kind != P_A)
		return;
	memcpy(f->p, e, bytes < f->rw ? bytes : f->rw);
}

/* ---- descriptors ----------------------------------------------------------- */

int fd_add(int fd, enum fkind kind, int q)
{
	KT_ASSERT(fzw.nfds < MAXFD);
	fzw.fds[fzw.nfds] = (struct fdent){ fd, kind, q };
	return fzw.nfds++;
}

void fds_open(void)
{
	int p[2], fd;

	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	fd_add(p[0], F_PIPE_R, -1);
	fd_add(p[1], F_PIPE_W, -1);
	fd_add((int)KT_ASSERT_OK(eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)), F_EVENTFD, -1);
	fd_add((int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), F_EVENTFD, -1);
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p));
	fd_add(p[0], F_SOCK, -1);
	fd_add(p[1], F_SOCK, -1);
	fd_add((int)KT_ASSERT_OK(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), F_UDP, -1);
	fd_add((int)KT_ASSERT_OK(open("/dev/null", O_RDWR | O_CLOEXEC)), F_DEVNULL, -1);
	fd_add((int)KT_ASSERT_OK(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)), F_FILE, -1);
	fd_add((int)KT_ASSERT_OK(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)), F_DIR, -1);
	fd_add((int)KT_ASSERT_OK(open("/", O_PATH | O_CLOEXEC)), F_OPATH, -1);
	fd = (int)KT_ASSERT_OK(epoll_create1(EPOLL_CLOEXEC));
	fd_add(fd, F_EPOLL, -1);
	/* a closed number that later opens will not reuse */
	fd = (int)KT_ASSERT_OK(dup2(p[0], 900));
	close(fd);
	fd_add(fd, F_CLOSED, -1);
	fd_add(-1, F_NEG, -1);
	fd_add(1 << 20, F_HUGE, -1);
	fd_add(INT_MAX, F_HUGE, -1);
}

/* The fd table entry of a queue. */
int fd_of_queue(int qi)
{
	for (int i = 0; i < fzw.nfds; i++)
		if (fzw.fds[i].kind == F_QUEUE && fzw.fds[i].q == qi)
			return i;
	return -1;
}

const struct fdent *pick_fd(int queue_pct)
{
	if (kst_chance(&fzw.r, (unsigned int)queue_pct)) {
		int qi = (int)kst_below(&fzw.r, NQ);

		return &fzw.fds[fd_of_queue(qi)];
	}
	return &fzw.fds[kst_below(&fzw.r, (uint32_t)fzw.nfds)];
}

/* Errors of a descriptor used as the queue argument (empty: a queue). */
unsigned int fd_queue_errs(const struct fdent *d)
{
	switch (d->kind) {
	case F_QUEUE:
		return 0;
	case F_CLOSED:
	case F_NEG:
	case F_HUGE:
	case F_OPATH:	/* O_PATH descriptors are not usable: EBADF, as everywhere */
		return B_EBADF;
	default:
		return B_EINVAL;
	}
}

/* The open descriptor fd of the fuzzer's table, or NULL (not one of ours). */
static const struct fdent *fd_ours(int fd)
{
	for (int i = 0; i < fzw.nfds; i++)
		if (fzw.fds[i].fd == fd && fzw.fds[i].kind != F_CLOSED)
			return &fzw.fds[i];
	return NULL;
}

/* Errors of a descriptor as a KEVENT_POLL target (0: pollable). */
unsigned int fd_poll_errs(int fd)
{
	const struct fdent *e = fd_ours(fd);

	if (e) {
		switch (e->kind) {
		case F_QUEUE:
			return B_ELOOP;
		case F_OPATH:
		case F_NEG:
		case F_HUGE:
			return B_EBADF;
		case F_DEVNULL:
		case F_FILE:
		case F_DIR:
			return B_EPERM;
		default:
			return 0;
		}
	}
	/* not a descriptor of ours (stdio, ...): anything but a queue */
	return fcntl(fd, F_GETFD) < 0 ? B_EBADF : B_UNKNOWN | B_EPERM;
}

/* Errors of a descriptor as a KEVENT_SOCKET target (0: a UNIX socket). */
unsigned int fd_sock_errs(int fd)
{
	const struct fdent *e = fd_ours(fd);

	if (e) {
		switch (e->kind) {
		case F_OPATH:
		case F_NEG:
		case F_HUGE:
			return B_EBADF;
		case F_SOCK:
			return 0;
		case F_UDP:
			return B_EPROTONOSUPPORT;
		default:
			return B_ENOTSOCK;
		}
	}
	/* not a descriptor of ours (stdio, ...): not a socket, or unknown */
	return fcntl(fd, F_GETFD) < 0 ? B_EBADF :
	       B_UNKNOWN | B_ENOTSOCK | B_EAFNOSUPPORT | B_EPROTONOSUPPORT;
}

/* Errors of a descriptor as a KEVENT_PIPE target (0: an end of our pipe). */
unsigned int fd_pipe_errs(int fd)
{
	const struct fdent *e = fd_ours(fd);

	if (e) {
		return e->kind == F_PIPE_R || e->kind == F_PIPE_W ? 0 : B_EBADF;
	}
	/* not a descriptor of ours (stdio may be a pipe): EBADF, or a pipe */
	return fcntl(fd, F_GETFD) < 0 ? B_EBADF : B_UNKNOWN | B_EBADF;
}

/*
 * Errors of a descriptor as a KEVENT_INODE target (0: a file of a real
 * filesystem). The fuzzer runs as root: never EACCES.
 */
unsigned int fd_inode_errs(int fd)
{
	const struct fdent *e = fd_ours(fd);

	if (e) {
		switch (e->kind) {
		case F_OPATH:
		case F_NEG:
		case F_HUGE:
			return B_EBADF;
		case F_DEVNULL:
		case F_FILE:
		case F_DIR:
			return 0;
		default:
			/* queues, pipes, eventfds, sockets: pseudo filesystems */
			return B_EOPNOTSUPP;
		}
	}
	/* not a descriptor of ours (stdio, ...): a device node, or not */
	return fcntl(fd, F_GETFD) < 0 ? B_EBADF : B_UNKNOWN | B_EOPNOTSUPP;
}

/* ---- the model ------------------------------------------------------------ */

struct mkev *m_find(struct mq *q, uint32_t type, uint64_t id)
{
	for (int i = 0; i < q->n; i++)
		if (q->k[i].type == type && q->k[i].id == id)
			return &q->k[i];
	return NULL;
}

struct mkev *m_match(struct mq *q, const struct ukevent *e)
{
	struct mkev *k = m_find(q, e->type, e->id.raw_u64);

	return k && k->user == e->user_u64 ? k : NULL;
}

void m_del(struct mq *q, struct mkev *k)
{
	*k = q->k[--q->n];
}

struct mkev *m_add(struct mq *q, const struct ukevent *e)
{
	struct mkev *k;

	if (q->n >= MAXK) {
		q->uncertain = true;
		return NULL;
	}
	k = &q->k[q->n++];
	memset(k, 0, sizeof(*k));
	k->type = e->type;
	k->id = e->id.raw_u64;
	k->user = e->user_u64;
	k->event = e->event;
	k->flags = e->req_flags;
	return k;
}

int m_pending_user(const struct mq *q)
{
	int n = 0;

	for (int i = 0; i < q->n; i++)
		n += q->k[i].type == KEVENT_USER && q->k[i].pending && !q->k[i].fuzzy;
	return n;
}

/* Validation errors of a request for its type (ADD, and MODIFY). */
unsigned int m_validate(const struct ukevent *e)
{
	unsigned int err = 0;

	if (e->req_flags & ~KEVENT_REQ_MASK)
		err |= B_EINVAL;
	switch (e->type) {
	case KEVENT_USER:
		break;
	case KEVENT_TIMER:
		if (e->event != KEVENT_TIMER_FIRED || e->id.raw[1] >= NSEC ||
		    (!e->id.raw[0] && !e->id.raw[1]))
			err |= B_EINVAL;
		break;
	case KEVENT_SOCKET:
		if (!e->event || (e->event & ~(uint32_t)(KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT |
							  KEVENT_SOCKET_SEND)))
			err |= B_EINVAL;
		break;
	case KEVENT_PIPE:
		if (!e->event || (e->event & ~(uint32_t)(KEVENT_PIPE_RECV | KEVENT_PIPE_SEND)))
			err |= B_EINVAL;
		break;
	case KEVENT_INODE:
		if (!e->event || (e->event & ~(uint32_t)(KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE |
							  KEVENT_INODE_MODIFY)))
			err |= B_EINVAL;
		break;
	case KEVENT_POLL:
		if (!e->event || (e->event & ~(uint32_t)(POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP |
							  POLLNVAL | POLLRDNORM | POLLRDBAND |
							  POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP)))
			err |= B_EINVAL;
		break;
	case KEVENT_SIGNAL: {
		uint64_t sig = e->id.raw_u64 & ~KEVENT_SIGNAL_NOMASK;
		bool nomask = e->id.raw_u64 & KEVENT_SIGNAL_NOMASK;

		if (e->event != KEVENT_SIGNAL_DELIVERY || !sig || sig > 64 ||
		    sig == SIGKILL || sig == SIGSTOP ||
		    (nomask && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
				sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS)))
			err |= B_EINVAL;
		break;
	}
	default:
		/* POSIX_TIMER too: the fuzzer creates no timer, no id exists */
		err |= B_EINVAL;
	}
	return err;
}

/*
 * Rebuild the model of a queue from its fdinfo "kevent:" lines (after a
 * call whose effect the model cannot know). Kevents that survive keep
 * their state; new or changed ones become fuzzy.
 */
void m_resync(struct mq *q)
{
	static struct kst_kline lines[MAXK + 8];
	static struct mkev old[MAXK];
	struct kst_fdinfo fi;
	int nold = q->n;

	if (kst_fdinfo_read(q->fd, &fi, lines, MAXK + 8)) {
		FZF("fdinfo of queue %d: %s", q->fd, strerror(errno));
		return;
	}
	memcpy(old, q->k, sizeof(old[0]) * (size_t)nold);
	q->n = 0;
	for (int i = 0; i < fi.nparsed && q->n < MAXK; i++) {
		struct mkev *k = &q->k[q->n++];
		bool kept = false;

		memset(k, 0, sizeof(*k));
		k->type = lines[i].type;
		k->id = lines[i].id;
		k->user = lines[i].user;
		k->event = lines[i].event;
		k->flags = lines[i].req_flags;
		for (int j = 0; j < nold; j++)
			if (old[j].type == k->type && old[j].id == k->id && old[j].user == k->user) {
				*k = old[j];
				k->event = lines[i].event;
				k->flags = lines[i].req_flags;
				kept = true;
			}
		if (k->type == KEVENT_USER && !strcmp(lines[i].state, "ready") &&
		    (!kept || !k->pending)) {
			k->pending = true;
			k->fuzzy = true;
		}
	}
	q->uncertain = fi.nparsed != fi.nlines;
}

/*
 * Compare the model with fdinfo: the same kevents (type, id, user, event,
 * flags), USER kevents ready exactly when pending, ring indexes equal.
 */
void m_verify(struct mq *q)
{
	static struct kst_kline lines[MAXK + 8];
	struct kst_fdinfo fi;

	if (q->uncertain) {
		m_resync(q);
		return;
	}
	if (kst_fdinfo_read(q->fd, &fi, lines, MAXK + 8)) {
		FZF("fdinfo of queue %d: %s", q->fd, strerror(errno));
		return;
	}
	if (fi.registered != fi.added - fi.removed || fi.registered != fi.nlines)
		FZF("queue %d fdinfo: registered %lld added %lld removed %lld lines %d", q->fd,
		    fi.registered, fi.added, fi.removed, fi.nlines);
	if (fi.registered != q->n) {
		FZF("queue %d: %lld kevents registered, the model has %d", q->fd, fi.registered, q->n);
		m_resync(q);
		return;
	}
	for (int i = 0; i < fi.nparsed; i++) {
		struct kst_kline *l = &lines[i];
		struct mkev *k = m_find(q, l->type, l->id);

		if (!k || k->user != l->user || k->event != l->event || k->flags != l->req_flags) {
			FZF("queue %d: kernel has type %u id %#llx user %#llx event %#x flags %#x, model %s",
			    q->fd, l->type, l->id, l->user, l->event, l->req_flags,
			    k ? "differs" : "has none");
			m_resync(q);
			return;
		}
		if (k->type == KEVENT_USER && !k->fuzzy &&
		    k->pending != !strcmp(l->state, "ready"))
			FZF("queue %d: USER id %#llx is %s, the model says %s", q->fd, l->id, l->state,
			    k->pending ? "pending" : "not pending");
	}
	if (q->size) {
		if (fi.ring_size != q->size || fi.ring_kidx != (long long)(q->W % q->size) ||
		    fi.ring_uidx != (long long)(q->C % q->size) ||
		    fi.ring_over != (long long)(uint32_t)(q->W / q->size) ||
		    fi.ring_free != (long long)(q->size - (q->W - q->C)))
			FZF("queue %d ring: size %lld kidx %lld uidx %lld over %lld free %lld; model W %llu C %llu size %u",
			    q->fd, fi.ring_size, fi.ring_kidx, fi.ring_uidx, fi.ring_over, fi.ring_free,
			    q->W, q->C, q->size);
	}
}

/* An event was delivered (get_events buffer or ring): check and account. */
void m_delivered(struct mq *q, const struct ukevent *e, const char *how)
{
	struct mkev *k = m_find(q, e->type, e->id.raw_u64);

	fzw.deliveries++;
	if (!k) {
		if (!q->uncertain)
			FZF("%s: delivered type %u id %#llx user %#llx, not registered", how, e->type,
			    (unsigned long long)e->id.raw_u64, (unsigned long long)e->user_u64);
		return;
	}
	if (k->user != e->user_u64)
		FZF("%s: type %u id %#llx delivered with user %#llx, registered with %#llx", how,
		    e->type, (unsigned long long)k->id, (unsigned long long)e->user_u64,
		    (unsigned long long)k->user);
	if (!(e->ret_flags & KEVENT_RET_DONE) ||
	    (e->ret_flags & ~(uint32_t)(KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED)))
		FZF("%s: ret_flags %#x", how, e->ret_flags);
	/* an INODE kevent's last event (GONE) ends it: ONESHOT is added */
	if (k->type == KEVENT_INODE && (e->ret_data[0] & KEVENT_INODE_GONE) &&
	    e->req_flags == (k->flags | KEVENT_REQ_ONESHOT))
		;
	else if (!k->fuzzy && e->req_flags != k->flags)
		FZF("%s: delivered req_flags %#x, registered %#x", how, e->req_flags, k->flags);
	switch (k->type) {
	case KEVENT_USER:
		if (k->fuzzy) {
			k->fuzzy = false;
		} else if (!k->pending) {
			FZF("%s: USER id %#llx delivered without a READY (duplicate)", how,
			    (unsigned long long)k->id);
		} else if (e->ret_data[1] != k->fired || e->ret_data[0] != k->mask) {
			FZF("%s: USER id %#llx: ret_data %#x/%u, expected mask %#x and %u READYs", how,
			    (unsigned long long)k->id, e->ret_data[0], e->ret_data[1], k->mask, k->fired);
		}
		k->pending = false;
		k->fired = 0;
		break;
	case KEVENT_TIMER:
		if (e->ret_data[1] < 1)
			FZF("%s: timer delivered with %u expiries", how, e->ret_data[1]);
		break;
	case KEVENT_POLL:
	case KEVENT_SOCKET:
	case KEVENT_PIPE:
	case KEVENT_INODE:
		if (!e->ret_data[0])
			FZF("%s: POLL/SOCKET/PIPE/INODE id %#llx (event %#x flags %#x) delivered with an empty mask (ret_flags %#x, ret_data[1] %u)",
			    how, (unsigned long long)k->id, e->event, e->req_flags, e->ret_flags,
			    e->ret_data[1]);
		break;
	}
	if (e->req_flags & KEVENT_REQ_ONESHOT)
		m_del(q, k);
}
