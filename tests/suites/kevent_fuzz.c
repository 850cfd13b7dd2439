// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_fuzz - a seeded, bounded fuzzer of the five kevent system calls,
 * with a model of every queue as its oracle.
 *
 * Seed: KEVENT_FUZZ_SEED in the environment, or "seed=N" / "--seed=N" on
 * the command line, or the clock. It is printed at the start of every
 * test; a failure prints the seed, the batch and the iteration, and the
 * line that reproduces it:
 *
 *	KEVENT_FUZZ_SEED=N KEVENT_FUZZ_BATCH=B kevent_fuzz <test>
 *
 * (KEVENT_FUZZ_ITERS=K overrides the iterations per batch.) Each batch
 * runs in a forked child with fresh queues, so a crash is caught and
 * reported with the iteration it happened in.
 *
 * Inputs: random and boundary values for every argument: huge num,
 * max_nr, ring_size; NULL, kernel, non-canonical, unmapped, PROT_NONE,
 * read-only, unaligned pointers and arrays that run into a guard page;
 * bad, unaligned, read-only and unmapped rings; wrapped indices and stale
 * or garbage `over`; invalid types, flags, commands, events and timeouts;
 * descriptors of every kind (closed, -1, huge, O_PATH, pipe, eventfd,
 * sockets, /dev/null, a file, a directory, epoll, another queue,
 * /dev/kevent, the queue itself as a POLL target).
 *
 * Oracle: every return is success or an errno that docs/abi.md allows
 * for that call (table below); when the model knows which violations an
 * input has, the errno must be one of exactly those, and a valid input
 * must succeed. Side effects are checked against fdinfo after every call
 * (the set of registered kevents, the ring indexes), deliveries against
 * the model (USER events exactly: delivered once per READY batch, with
 * the count and mask of the READYs), and at the end of every batch every
 * queue must still work: pending events drain exactly once and a fresh
 * USER event readied is delivered exactly once.
 *
 * errno_table checks, one row at a time, the table of docs/errors.md.
 */
#include "kevent_stress_util.h"

#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#define MS	1000000LL
#define NSEC	1000000000LL

/* ---- seed and knobs --------------------------------------------------- */

static uint64_t fz_seed;
static long fz_only_batch = -1;
static long fz_iters = -1;

static bool fz_seed_arg(const char *a, const char **val)
{
	if (!strncmp(a, "--seed=", 7))
		*val = a + 7;
	else if (!strncmp(a, "seed=", 5))
		*val = a + 5;
	else
		return false;
	return true;
}

/*
 * glibc passes argc/argv to constructors. A seed given on the command line
 * goes to the environment and the program re-executes itself without it,
 * so the harness only sees test names.
 */
__attribute__((constructor)) static void fz_init(int argc, char **argv, char **envp)
{
	const char *v, *e;
	char *args[64];
	int n = 0;
	bool found = false;

	(void)envp;
	for (int i = 1; argv && i < argc; i++)
		if (fz_seed_arg(argv[i], &v)) {
			setenv("KEVENT_FUZZ_SEED", v, 1);
			found = true;
		}
	if (found && argc < 64) {
		for (int i = 0; i < argc; i++)
			if (!i || !fz_seed_arg(argv[i], &v))
				args[n++] = argv[i];
		args[n] = NULL;
		execv("/proc/self/exe", args);
	}
	e = getenv("KEVENT_FUZZ_SEED");
	if (e && *e)
		fz_seed = strtoull(e, NULL, 0);
	else
		fz_seed = kst_mix64((uint64_t)kt_clock_ns(CLOCK_REALTIME) ^ (uint64_t)getpid()) %
			  1000000000000ULL;
	e = getenv("KEVENT_FUZZ_BATCH");
	if (e && *e)
		fz_only_batch = strtol(e, NULL, 0);
	e = getenv("KEVENT_FUZZ_ITERS");
	if (e && *e)
		fz_iters = strtol(e, NULL, 0);
}

/* ---- errnos ------------------------------------------------------------ */

/* Bits for sets of errnos. */
enum {
	B_EBADF = 1 << 0, B_EINVAL = 1 << 1, B_E2BIG = 1 << 2, B_EFAULT = 1 << 3,
	B_EINTR = 1 << 4, B_ERANGE = 1 << 5, B_ENOENT = 1 << 6, B_EEXIST = 1 << 7,
	B_EPERM = 1 << 8, B_ELOOP = 1 << 9, B_ENOSPC = 1 << 10, B_EMFILE = 1 << 11,
	B_ENFILE = 1 << 12, B_ENOMEM = 1 << 13,
	B_UNKNOWN = 1 << 20,	/* not an errno: success is possible too */
};

static unsigned int ebit(int e)
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
	default: return 0;
	}
}

/*
 * What docs/abi.md allows each call to return (the fuzzer's table): any
 * other errno is a failure whatever the input. EINTR only for calls that
 * can sleep.
 */
#define ALLOW_INIT	(B_EINVAL | B_EFAULT | B_EMFILE | B_ENFILE | B_ENOMEM)
#define ALLOW_CTL	(B_EBADF | B_EINVAL | B_E2BIG | B_EFAULT)
#define ALLOW_ENTRY	(B_EINVAL | B_EEXIST | B_ENOENT | B_EBADF | B_ENOSPC | B_EPERM | B_ELOOP)
#define ALLOW_GET	(B_EBADF | B_EINVAL | B_E2BIG | B_EFAULT | B_EINTR)
#define ALLOW_WAIT	(B_EBADF | B_EINVAL | B_E2BIG | B_EFAULT | B_EINTR)
#define ALLOW_COMMIT	(B_EBADF | B_EINVAL | B_ERANGE)

/* ---- the fuzzer's world -------------------------------------------------- */

#define A_PAGES		16
#define PAGE		4096
#define MAXK		512
#define MAXFD		40
#define NQ		4
#define MAXFAIL		8

enum qkind { Q_PLAIN, Q_RING, Q_DEV, Q_URING };

/* A kevent as the model knows it. */
struct mkev {
	uint32_t type, event, flags;
	uint64_t id, user;
	/* USER: READYs since the last delivery, mask of the last one */
	uint32_t fired, mask;
	bool pending;
	bool fuzzy;	/* state unknown (after a resync): accept one delivery */
};

struct mq {
	int fd;
	enum qkind kind;
	struct mkev k[MAXK];
	int n;
	bool uncertain;		/* resync from fdinfo before trusting */
	/* ring */
	char *map;		/* own mapping of the ring */
	size_t maplen, off;
	int map_state;		/* 0 RW, 1 RO, 2 unmapped */
	struct kevent_ring *ring;
	unsigned int size;
	unsigned long long C, W;	/* committed and written, absolute */
	bool hdr_dirty;
};

enum fkind {
	F_QUEUE, F_CLOSED, F_NEG, F_HUGE, F_OPATH, F_PIPE_R, F_PIPE_W, F_EVENTFD,
	F_SOCK, F_UDP, F_DEVNULL, F_FILE, F_DIR, F_EPOLL,
};

struct fdent {
	int fd;
	enum fkind kind;
	int q;		/* F_QUEUE: index */
};

struct fz {
	struct kst_rng r;
	const char *test;
	long batch, iter;
	const char *op;
	char *A;		/* A_PAGES RW pages, then a PROT_NONE guard */
	size_t A_len;
	char *RO, *NONE, *HOLE;
	char *TS;		/* timespecs, then a PROT_NONE guard */
	struct mq q[NQ];
	struct fdent fds[MAXFD];
	int nfds;
	unsigned int max_ring;
	uint64_t next_id;	/* fresh USER ids for the final check */
	long calls, deliveries;
	int fails;
};

static struct fz F;

#define FZF(fmt, ...)							\
	do {								\
		kt_fail_at(__FILE__, __LINE__, "[%s batch %ld iter %ld op %s] " fmt, \
			   F.test, F.batch, F.iter, F.op, ##__VA_ARGS__); \
		if (++F.fails >= MAXFAIL) {				\
			kt_log("too many failures in this batch");	\
			kt_end_test();					\
		}							\
	} while (0)

/* mincore() fails with ENOMEM on an unmapped page. */
static bool is_unmapped(char *p)
{
	unsigned char v;

	return mincore(p, PAGE, &v) < 0 && errno == ENOMEM;
}

static void alarm_noop(int sig)
{
	(void)sig;
}

/* A one-shot SIGALRM that turns a sleep into EINTR. */
static void arm(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- pointers ------------------------------------------------------------ */

enum pkind { P_A, P_RO, P_NONE, P_HOLE, P_NULL, P_KERN, P_NONCANON, P_TOP, P_ONE, P_MINUS1 };

struct fptr {
	char *p;
	enum pkind kind;
	size_t rd, rw;		/* bytes readable / writable from p */
};

static const char *const pkind_name[] = {
	"rw", "read-only", "PROT_NONE", "unmapped", "NULL", "kernel", "non-canonical",
	"top-of-user", "(void*)1", "(void*)-1",
};

static struct fptr ptr_A(size_t off)
{
	struct fptr f = { F.A + off, P_A, F.A_len - off, F.A_len - off };

	return f;
}

/* access_ok() certainly fails for these. */
static bool ptr_kernelish(const struct fptr *f)
{
	return f->kind == P_KERN || f->kind == P_NONCANON || f->kind == P_MINUS1;
}

/* A pointer for `need` bytes, usually fitting in the RW arena. */
static struct fptr gen_ptr(size_t need, size_t align)
{
	uint32_t roll = kst_below(&F.r, 100);
	struct fptr f = { NULL, P_NULL, 0, 0 };
	size_t off;

	if (roll < 60) {
		off = need <= F.A_len ? kst_below(&F.r, (uint32_t)(F.A_len - need + 1)) : 0;
		off -= off % align;
		if (kst_chance(&F.r, 20) && off + need + 8 <= F.A_len)
			off += 1 + kst_below(&F.r, 7);	/* unaligned */
		return ptr_A(off);
	}
	if (roll < 68) {
		/* runs into the guard page */
		off = F.A_len - (need ? 1 + kst_below(&F.r, (uint32_t)(need < F.A_len ? need : F.A_len)) : 0);
		return ptr_A(off);
	}
	if (roll < 76) {
		off = need < PAGE ? kst_below(&F.r, (uint32_t)(PAGE - need + 1)) : 0;
		off -= off % align;
		f.p = F.RO + off;
		f.kind = P_RO;
		f.rd = PAGE - off;
		return f;
	}
	if (roll < 80) {
		f.p = F.NONE + kst_below(&F.r, PAGE);
		f.kind = P_NONE;
	} else if (roll < 84) {
		f.p = F.HOLE;
		f.kind = P_HOLE;
	} else if (roll < 88) {
		f.kind = P_NULL;
	} else if (roll < 92) {
		f.p = (char *)(kst_chance(&F.r, 50) ? 0xffff800000000000ULL : 0xffffffff81000000ULL);
		f.kind = P_KERN;
	} else if (roll < 95) {
		f.p = (char *)0x8000000000000000ULL;
		f.kind = P_NONCANON;
	} else if (roll < 97) {
		/*
		 * The top of 4-level user space, or just above it (an unmapped
		 * user address with 5-level paging, as TCG's -cpu max has it).
		 */
		f.p = (char *)(kst_chance(&F.r, 50) ? 0x0000800000000000ULL :
			       0x7ffffffff000ULL - 8 - 8 * kst_below(&F.r, 4));
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
static void put_entries(const struct fptr *f, const struct ukevent *e, unsigned int n)
{
	size_t bytes = (size_t)n * sizeof(*e);

	if (f->kind != P_A)
		return;
	memcpy(f->p, e, bytes < f->rw ? bytes : f->rw);
}

/* ---- descriptors ----------------------------------------------------------- */

static int fd_add(int fd, enum fkind kind, int q)
{
	KT_ASSERT(F.nfds < MAXFD);
	F.fds[F.nfds] = (struct fdent){ fd, kind, q };
	return F.nfds++;
}

static void fds_open(void)
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
static int fd_of_queue(int qi)
{
	for (int i = 0; i < F.nfds; i++)
		if (F.fds[i].kind == F_QUEUE && F.fds[i].q == qi)
			return i;
	return -1;
}

static const struct fdent *pick_fd(int queue_pct)
{
	if (kst_chance(&F.r, (unsigned int)queue_pct)) {
		int qi = (int)kst_below(&F.r, NQ);

		return &F.fds[fd_of_queue(qi)];
	}
	return &F.fds[kst_below(&F.r, (uint32_t)F.nfds)];
}

/* Errors of a descriptor used as the queue argument (empty: a queue). */
static unsigned int fd_queue_errs(const struct fdent *d)
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

/* Errors of a descriptor as a KEVENT_POLL target (0: pollable). */
static unsigned int fd_poll_errs(int fd)
{
	for (int i = 0; i < F.nfds; i++) {
		if (F.fds[i].fd != fd || F.fds[i].kind == F_CLOSED)
			continue;
		switch (F.fds[i].kind) {
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

/* ---- the model ------------------------------------------------------------ */

static struct mkev *m_find(struct mq *q, uint32_t type, uint64_t id)
{
	for (int i = 0; i < q->n; i++)
		if (q->k[i].type == type && q->k[i].id == id)
			return &q->k[i];
	return NULL;
}

static struct mkev *m_match(struct mq *q, const struct ukevent *e)
{
	struct mkev *k = m_find(q, e->type, e->id.raw_u64);

	return k && k->user == e->user_u64 ? k : NULL;
}

static void m_del(struct mq *q, struct mkev *k)
{
	*k = q->k[--q->n];
}

static struct mkev *m_add(struct mq *q, const struct ukevent *e)
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

static int m_pending_user(const struct mq *q)
{
	int n = 0;

	for (int i = 0; i < q->n; i++)
		n += q->k[i].type == KEVENT_USER && q->k[i].pending && !q->k[i].fuzzy;
	return n;
}

/* Validation errors of a request for its type (ADD, and MODIFY). */
static unsigned int m_validate(const struct ukevent *e)
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
	case KEVENT_POLL:
		if (!e->event || (e->event & ~(uint32_t)(POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP |
							  POLLNVAL | POLLRDNORM | POLLRDBAND |
							  POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP)))
			err |= B_EINVAL;
		break;
	default:
		err |= B_EINVAL;
	}
	return err;
}

/*
 * Rebuild the model of a queue from its fdinfo "kevent:" lines (after a
 * call whose effect the model cannot know). Kevents that survive keep
 * their state; new or changed ones become fuzzy.
 */
static void m_resync(struct mq *q)
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
static void m_verify(struct mq *q)
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
static void m_delivered(struct mq *q, const struct ukevent *e, const char *how)
{
	struct mkev *k = m_find(q, e->type, e->id.raw_u64);

	F.deliveries++;
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
	if (!k->fuzzy && e->req_flags != k->flags)
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
		if (!e->ret_data[0])
			FZF("%s: POLL id %#llx (event %#x flags %#x) delivered with an empty mask (ret_flags %#x, ret_data[1] %u)",
			    how, (unsigned long long)k->id, e->event, e->req_flags, e->ret_flags,
			    e->ret_data[1]);
		break;
	}
	if (e->req_flags & KEVENT_REQ_ONESHOT)
		m_del(q, k);
}

/* ---- kevent_ctl ----------------------------------------------------------- */

/* A request an application might make (keys collide on purpose). */
static struct ukevent gen_sensible(struct mq *q)
{
	static const uint32_t pmask[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI,
					  POLLIN | POLLRDHUP, POLLHUP };
	static const uint32_t periods_ns[] = { 1000000, 3000000, 10000000, 50000000, 0 };
	struct ukevent e;
	uint32_t roll = kst_below(&F.r, 100);

	if (roll < 55 || !q) {
		e = ukevent_user(kst_below(&F.r, 12), kst_below(&F.r, 3));
		e.event = (uint32_t)kst_rand64(&F.r);
	} else if (roll < 70) {
		uint32_t p = periods_ns[kst_below(&F.r, 5)];

		e = p ? ukevent_timer(0, p, 0) : ukevent_timer(1 + kst_below(&F.r, 100), 0, 0);
		e.user_u64 = kst_below(&F.r, 2);
	} else {
		e = ukevent_poll(F.fds[kst_below(&F.r, (uint32_t)F.nfds)].fd,
				 pmask[kst_below(&F.r, 6)], 0);
		e.user_u64 = kst_below(&F.r, 2);
	}
	if (kst_chance(&F.r, 50)) {
		static const uint32_t fl[] = { KEVENT_REQ_ONESHOT, KEVENT_REQ_ET, KEVENT_REQ_LAST_CHECK,
					       KEVENT_REQ_ALWAYS_QUEUE, KEVENT_REQ_WAKEUP_ONE };

		e.req_flags |= fl[kst_below(&F.r, 5)];
	}
	/* matching requests for MODIFY/REMOVE/READY: reuse a registered key */
	if (q && q->n && kst_chance(&F.r, 40)) {
		struct mkev *k = &q->k[kst_below(&F.r, (uint32_t)q->n)];

		e.type = k->type;
		e.id.raw_u64 = k->id;
		e.user_u64 = kst_chance(&F.r, 90) ? k->user : k->user + 1;
		e.event = k->type == KEVENT_TIMER ? KEVENT_TIMER_FIRED :
			  k->type == KEVENT_POLL ? pmask[kst_below(&F.r, 6)] : e.event;
		e.req_flags = k->flags ^ (kst_chance(&F.r, 30) ? KEVENT_REQ_ET : 0);
	}
	return e;
}

/* Garbage: random or boundary values in every field. */
static struct ukevent gen_garbage(void)
{
	static const uint32_t types[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff, 0xffffffff };
	struct ukevent e;

	memset(&e, 0, sizeof(e));
	e.id.raw_u64 = kst_chance(&F.r, 50) ? kst_rand64(&F.r) : kst_below(&F.r, 4);
	e.type = kst_chance(&F.r, 80) ? types[kst_below(&F.r, 14)] : (uint32_t)kst_rand64(&F.r);
	e.event = kst_chance(&F.r, 50) ? (uint32_t)kst_rand64(&F.r) : kst_below(&F.r, 4);
	e.req_flags = kst_chance(&F.r, 50) ? (uint32_t)kst_rand64(&F.r) : kst_below(&F.r, 0x40);
	e.ret_flags = (uint32_t)kst_rand64(&F.r);
	e.ret_data[0] = (uint32_t)kst_rand64(&F.r);
	e.ret_data[1] = (uint32_t)kst_rand64(&F.r);
	e.user_u64 = kst_chance(&F.r, 50) ? kst_rand64(&F.r) : kst_below(&F.r, 3);
	if (e.type == KEVENT_TIMER && kst_chance(&F.r, 50)) {
		e.id.raw[0] = 0;
		e.id.raw[1] = kst_chance(&F.r, 50) ? (uint32_t)NSEC : 1000000;
	}
	return e;
}

static unsigned int gen_num(void)
{
	static const unsigned int nums[] = { 0, 1, 1, 2, 3, 5, 8, 16, KEVENT_MAX_BATCH,
					     KEVENT_MAX_BATCH + 1, 0x7fffffff, 0xffffffff };

	return kst_chance(&F.r, 70) ? 1 + kst_below(&F.r, 6) : nums[kst_below(&F.r, 12)];
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
		if (p.errs & B_UNKNOWN) {
			p.errs &= ~B_UNKNOWN;
			if (!(p.errs & ~B_EPERM)) {
				p.may_ok = p.may_register = true;
				p.may_complete = !(e->req_flags & KEVENT_REQ_ALWAYS_QUEUE);
			}
			return p;
		}
		if (!p.errs) {
			p.may_ok = true;
			p.may_register = true;
			p.may_complete = e->type == KEVENT_POLL &&
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

static void op_ctl(bool sensible_only)
{
	static struct ukevent in[KEVENT_MAX_BATCH + 8];
	const struct fdent *d = pick_fd(85);
	struct mq *q = d->kind == F_QUEUE ? &F.q[d->q] : NULL;
	unsigned int cmd = kst_chance(&F.r, 95) ? kst_below(&F.r, 4) :
			   (kst_chance(&F.r, 50) ? 4 + kst_below(&F.r, 4) : (uint32_t)kst_rand64(&F.r));
	unsigned int num = sensible_only ? 1 + kst_below(&F.r, 4) : gen_num();
	unsigned int gen = num < KEVENT_MAX_BATCH + 8 ? num : KEVENT_MAX_BATCH + 8;
	struct fptr arg;
	unsigned int werr = 0, nread, i, out = 0, ok = 0;
	struct ukevent *res;
	int r, e;

	F.op = "kevent_ctl";
	if (gen > 64 && kst_chance(&F.r, 80))
		gen = 64;	/* content beyond 64 entries: a repeat */
	for (i = 0; i < gen; i++)
		in[i] = sensible_only || kst_chance(&F.r, 75) ? gen_sensible(q) : gen_garbage();
	for (; i < num && i < KEVENT_MAX_BATCH + 8; i++)
		in[i] = in[i % 64];
	arg = sensible_only ? ptr_A(kst_below(&F.r, 64) * 8) :
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
	F.calls++;
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
	uint32_t roll = kst_below(&F.r, 100);
	size_t off;

	if (roll < 10)
		return t;	/* NULL: forever */
	if (roll < 80) {
		switch (kst_below(&F.r, 10)) {
		case 0: case 1: case 2:
			ts = kevent_ts(0, 0);
			break;
		case 3: case 4:
			ts = kevent_ts(0, 1000000 + kst_below(&F.r, 4000000));
			break;
		case 5:
			ts = kevent_ts(LLONG_MAX, 999999999);
			break;
		case 6:	/* absolute: long ago, or a second ago */
			ts = kevent_ts(kst_chance(&F.r, 50) ? 1 : kt_clock_ns(CLOCK_REALTIME) / NSEC - 1, 0);
			break;
		case 7:
			ts = kevent_ts(0, (long long)NSEC);
			t.errs = B_EINVAL;
			break;
		case 8:
			ts = kevent_ts(kst_chance(&F.r, 50) ? -1 : LLONG_MIN, 0);
			t.errs = B_EINVAL;
			break;
		default:
			ts = kevent_ts(0, -1);
			t.errs = B_EINVAL;
			break;
		}
		t.poll = !t.errs && !ts.tv_sec && !ts.tv_nsec && !(flags & KEVENT_FLAGS_ABSTIME);
		/* in the timespec page, sometimes unaligned */
		off = kst_below(&F.r, PAGE - sizeof(ts));
		if (kst_chance(&F.r, 70))
			off &= ~(size_t)7;
		memcpy(F.TS + off, &ts, sizeof(ts));
		t.p = (struct fptr){ F.TS + off, P_A, PAGE - off, PAGE - off };
		return t;
	}
	if (roll < 88) {
		/* a valid timespec ({0, 0}) in read-only memory is fine */
		t.p = (struct fptr){ F.RO + PAGE - 64, P_RO, 64, 0 };
		t.poll = !(flags & KEVENT_FLAGS_ABSTIME);
		return t;
	}
	t.p = gen_ptr(sizeof(ts), 8);
	if (t.p.kind == P_A) {
		/* moved to the timespec page: one that runs into its guard */
		off = PAGE - 1 - kst_below(&F.r, sizeof(ts) - 1);
		t.p = (struct fptr){ F.TS + off, P_A, PAGE - off, PAGE - off };
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

static void op_get_events(bool sane)
{
	static const unsigned int maxes[] = { 0, 1, 2, 7, 64, KEVENT_MAX_BATCH, KEVENT_MAX_BATCH + 1,
					      0x7fffffff, 0xffffffff };
	const struct fdent *d = pick_fd(sane ? 100 : 85);
	struct mq *q = d->kind == F_QUEUE ? &F.q[d->q] : NULL;
	unsigned int max = sane || kst_chance(&F.r, 60) ? 1 + kst_below(&F.r, 8) : maxes[kst_below(&F.r, 9)];
	unsigned int min = kst_chance(&F.r, 70) ? 0 : kst_below(&F.r, 4);
	unsigned int flags = kst_chance(&F.r, 85) ? 0 :
			     (kst_chance(&F.r, 50) ? KEVENT_FLAGS_ABSTIME : (uint32_t)kst_rand64(&F.r));
	struct tmo t = sane ? (struct tmo){ { NULL, P_NULL, 0, 0 }, 0, true } : gen_timeout(flags);
	size_t need = (size_t)(max < 64 ? max : 64) * sizeof(struct ukevent);
	struct fptr buf = sane ? ptr_A(0) : gen_ptr(need, 8);
	unsigned int werr = 0, w;
	struct __kernel_timespec zero = kevent_ts(0, 0);
	int r, e, pending = q ? m_pending_user(q) : 0;
	bool may_block;

	F.op = "kevent_get_events";
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
	F.calls++;
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
	return &F.q[kst_chance(&F.r, 50) ? Q_RING : Q_URING];
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

static void ring_map(struct mq *q, int state)
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

static void op_wait(bool sane)
{
	static const unsigned int nums[] = { 0, 1, 2, 3, KEVENT_MAX_BATCH, KEVENT_MAX_BATCH + 1,
					     0xffffffff };
	const struct fdent *d = sane || kst_chance(&F.r, 85) ? &F.fds[fd_of_queue(ring_queue() - F.q)] :
			       pick_fd(50);
	struct mq *q = d->kind == F_QUEUE ? &F.q[d->q] : NULL;
	unsigned int num = sane || kst_chance(&F.r, 75) ? 1 + kst_below(&F.r, 6) : nums[kst_below(&F.r, 7)];
	unsigned int flags = sane || kst_chance(&F.r, 90) ? 0 :
			     (kst_chance(&F.r, 50) ? KEVENT_FLAGS_ABSTIME : (uint32_t)kst_rand64(&F.r));
	struct tmo t = { { NULL, P_NULL, 0, 0 }, 0, true };
	struct __kernel_timespec zero = kevent_ts(0, 0);
	unsigned int werr = fd_queue_errs(d), old, space = 0;
	unsigned long long W0;
	int r, e, pending;
	bool stale;

	F.op = "kevent_wait";
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
	if (!sane && kst_chance(&F.r, 15))
		old = kst_chance(&F.r, 50) ? (uint32_t)kst_rand64(&F.r) : old + 1;
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
	F.calls++;
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

static void op_commit(bool sane)
{
	const struct fdent *d = sane || kst_chance(&F.r, 85) ? &F.fds[fd_of_queue(ring_queue() - F.q)] :
			       pick_fd(60);
	struct mq *q = d->kind == F_QUEUE ? &F.q[d->q] : NULL;
	unsigned int werr = fd_queue_errs(d), idx, over;
	unsigned long long target = 0;
	long want = 0;
	int r, e;

	F.op = "kevent_commit";
	if (q && q->size) {
		unsigned long long pos;

		/* a position between, at, before or after the valid range */
		switch (sane ? 0 : kst_below(&F.r, 6)) {
		case 0:
			pos = q->C + kst_below(&F.r, (uint32_t)(q->W - q->C + 1));
			break;
		case 1:
			pos = q->W + 1 + kst_below(&F.r, 3);
			break;
		case 2:
			pos = q->C ? q->C - 1 - kst_below(&F.r, (uint32_t)(q->C < 3 ? q->C : 3)) : 0;
			break;
		case 3:
			pos = q->W + q->size;	/* one lap ahead */
			break;
		default:
			pos = q->C;
		}
		idx = (unsigned int)(pos % q->size);
		over = (unsigned int)(pos / q->size);
		if (!sane && kst_chance(&F.r, 15))
			over = kst_chance(&F.r, 50) ? (uint32_t)kst_rand64(&F.r) : over - 1;
		if (!sane && kst_chance(&F.r, 10))
			idx = kst_chance(&F.r, 50) ? q->size + kst_below(&F.r, 3) : (uint32_t)kst_rand64(&F.r);
		target = (unsigned long long)over * q->size + idx;
		if (idx >= q->size)
			werr |= B_EINVAL;
		else if (target < q->C || target > q->W)
			werr |= B_ERANGE;
		else
			want = (long)(target - q->C);
	} else {
		idx = kst_below(&F.r, 8);
		over = kst_below(&F.r, 3);
		werr |= q ? B_EINVAL : 0;
	}
	errno = 0;
	r = kevent_commit(d->fd, idx, over);
	e = errno;
	F.calls++;
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
static void op_sabotage(void)
{
	struct mq *q = ring_queue();
	uint32_t roll = kst_below(&F.r, 10);

	F.op = "ring sabotage";
	if (roll < 3 && q->map_state == 0) {
		q->ring->ring_kidx = (uint32_t)kst_rand64(&F.r);
		q->ring->ring_over = (uint32_t)kst_rand64(&F.r);
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

static void op_init(void)
{
	static const unsigned int sizes[] = { 0, 1, 2, 3, 4, 64, 100, 65535, 65536, 65537, 1 << 20,
					      0x7fffffff, 0xffffffff };
	unsigned int size = kst_chance(&F.r, 40) ? 2 + kst_below(&F.r, 200) : sizes[kst_below(&F.r, 13)];
	unsigned int flags = kst_chance(&F.r, 80) ? (kst_chance(&F.r, 50) ? 0 : KEVENT_INIT_CLOEXEC) :
			     (uint32_t)kst_rand64(&F.r);
	size_t bytes = 8 + (size_t)size * sizeof(struct ukevent);
	struct fptr ring = kst_chance(&F.r, 10) ? (struct fptr){ NULL, P_NULL, 0, 0 } :
			   gen_ptr(bytes < F.A_len ? bytes : 64, kst_chance(&F.r, 50) ? 8 : 1);
	unsigned int werr = 0;
	int r, e;

	F.op = "kevent_init";
	if (kst_chance(&F.r, 10)) {
		ring = (struct fptr){ NULL, P_NULL, 0, 0 };
		size = 0;
	}
	bytes = 8 + (size_t)size * sizeof(struct ukevent);
	if (flags & ~KEVENT_INIT_MASK)
		werr |= B_EINVAL;
	if (ring.p || size) {
		if (size < 2 || size > F.max_ring)
			werr |= B_EINVAL;
		else if (ring.rw < bytes)
			werr |= B_EFAULT;
	}
	if (ring.kind == P_A && ring.rw >= 8)
		memset(ring.p, 0x5a, 8);	/* the kernel must zero the header */
	errno = 0;
	r = kevent_init((struct kevent_ring *)ring.p, size, flags);
	e = errno;
	F.calls++;
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
static void op_misc(void)
{
	struct mq *q = &F.q[kst_below(&F.r, NQ)];
	uint32_t roll = kst_below(&F.r, 10);
	uint64_t v = 1;
	char buf[64];

	F.op = "misc";
	if (roll < 2) {
		if (kevent_ctl(q->fd, KEVENT_CTL_READY, 0, NULL) != 0)
			FZF("READY num 0: %s", strerror(errno));
		if (kevent_ctl(q->fd, KEVENT_CTL_ADD, 0, (struct ukevent *)F.HOLE) != 0)
			FZF("ADD num 0 with a bad pointer: %s", strerror(errno));
		m_verify(q);
		return;
	}
	for (int i = 0; i < F.nfds; i++) {
		int fd = F.fds[i].fd;

		if (!kst_chance(&F.r, 30))
			continue;
		switch (F.fds[i].kind) {
		case F_PIPE_W:
		case F_SOCK:
			if (write(fd, "x", 1) < 0 && errno != EAGAIN)
				FZF("write: %s", strerror(errno));
			break;
		case F_EVENTFD:
			if (kst_chance(&F.r, 50) && write(fd, &v, 8) < 0 && errno != EAGAIN)
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

	F.op = "drain";
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
static void final_check(struct mq *q)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct ukevent uk, buf[8];
	struct kst_fdinfo fi;
	uint64_t id;
	int r;

	F.op = "final check";
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
	id = 0x4000000000000000ULL + F.next_id++;
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

/* ---- batches ------------------------------------------------------------------ */

static void q_open(int qi, enum qkind kind)
{
	struct mq *q = &F.q[qi];

	memset(q, 0, sizeof(*q));
	q->kind = kind;
	switch (kind) {
	case Q_PLAIN:
		q->fd = kevent_init(NULL, 0, 0);
		break;
	case Q_DEV:
		q->fd = open("/dev/kevent", O_RDWR | O_CLOEXEC);
		break;
	case Q_RING:
	case Q_URING:
		q->size = 2 + kst_below(&F.r, 7);
		q->off = kind == Q_URING ? 1 + kst_below(&F.r, 7) : 0;
		q->maplen = (8 + q->off + q->size * sizeof(struct ukevent) + PAGE - 1) & ~(size_t)(PAGE - 1);
		q->map = mmap(NULL, q->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		KT_ASSERT(q->map != MAP_FAILED);
		q->ring = (struct kevent_ring *)(q->map + q->off);
		q->fd = kevent_init(q->ring, q->size, 0);
		break;
	}
	if (q->fd < 0) {
		kt_fail_at(__FILE__, __LINE__, "queue kind %d (ring at offset %zu): %s", kind, q->off,
			   strerror(errno));
		kt_end_test();
	}
}

enum {
	OP_INIT = 1, OP_CTL = 2, OP_GET = 4, OP_WAIT = 8, OP_COMMIT = 16, OP_SABOTAGE = 32,
	OP_MISC = 64, OP_CHURN = 128,
};

/* Close and reopen a queue, or a pipe whose number POLL kevents may use. */
static void op_churn(void)
{
	int qi = (int)kst_below(&F.r, NQ), p[2];

	F.op = "churn";
	/* remap the unmapped rings first: a new mapping could take their place */
	for (int i = 0; i < NQ; i++)
		if (F.q[i].size)
			ring_map(&F.q[i], 0);
	if (kst_chance(&F.r, 50)) {
		int fi = fd_of_queue(qi);

		close(F.q[qi].fd);
		if (F.q[qi].map)
			munmap(F.q[qi].map, F.q[qi].maplen);
		q_open(qi, F.q[qi].kind);
		F.fds[fi].fd = F.q[qi].fd;
		return;
	}
	for (int i = 0; i < F.nfds; i++)
		if (F.fds[i].kind == F_PIPE_R) {
			close(F.fds[i].fd);
			close(F.fds[i + 1].fd);
			KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
			F.fds[i].fd = p[0];
			F.fds[i + 1].fd = p[1];
			break;
		}
}

static void run_batch(const char *test, long batch, unsigned int ops, long iters, long *progress)
{
	struct sigaction sa;
	char *m;

	memset(&F, 0, sizeof(F));
	F.test = test;
	F.batch = batch;
	kst_rng_seed(&F.r, fz_seed ^ kst_hash_str(test) ^ ((uint64_t)batch << 40));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_noop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	F.max_ring = (unsigned int)kt_sysctl_read(KT_MAX_RING_PATH);
	KT_ASSERT(F.max_ring >= 2);

	F.A_len = A_PAGES * PAGE;
	m = mmap(NULL, (A_PAGES + 6) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(m != MAP_FAILED);
	F.A = m;
	KT_ASSERT_OK(mprotect(m + A_PAGES * PAGE, PAGE, PROT_NONE));	/* guard */
	F.RO = m + (A_PAGES + 1) * PAGE;
	for (int i = 0; i < PAGE / (int)sizeof(struct ukevent); i++) {
		struct ukevent e = kst_chance(&F.r, 50) ? gen_sensible(NULL) : gen_garbage();

		memcpy(F.RO + i * sizeof(e), &e, sizeof(e));
	}
	memset(F.RO + PAGE - 64, 0, 64);	/* a {0, 0} timespec at the end */
	KT_ASSERT_OK(mprotect(F.RO, PAGE, PROT_READ));
	F.NONE = m + (A_PAGES + 2) * PAGE;
	KT_ASSERT_OK(mprotect(F.NONE, PAGE, PROT_NONE));
	KT_ASSERT_OK(munmap(m + (A_PAGES + 3) * PAGE, PAGE));
	/*
	 * A hole next to our mappings would be reused by later mmap()s: the
	 * unmapped address is one far from everything, checked unmapped.
	 */
	F.HOLE = (char *)0x300000000ULL;
	KT_ASSERT(is_unmapped(F.HOLE));
	KT_ASSERT(is_unmapped((char *)0x7ffffffff000ULL - PAGE));
	F.TS = m + (A_PAGES + 4) * PAGE;
	KT_ASSERT_OK(mprotect(F.TS + PAGE, PAGE, PROT_NONE));

	q_open(0, Q_PLAIN);
	q_open(1, Q_RING);
	q_open(2, Q_DEV);
	q_open(3, Q_URING);
	for (int i = 0; i < NQ; i++)
		fd_add(F.q[i].fd, F_QUEUE, i);
	fds_open();

	for (F.iter = 0; F.iter < iters; F.iter++) {
		uint32_t roll = kst_below(&F.r, 100);

		__atomic_store_n(progress, F.iter, __ATOMIC_RELAXED);
		if ((ops & OP_INIT) && roll < 12)
			op_init();
		else if ((ops & OP_CTL) && roll < 50)
			op_ctl(!(ops & ~(OP_CTL | OP_MISC)) ? false : kst_chance(&F.r, 30));
		else if ((ops & OP_GET) && roll < 62)
			op_get_events(false);
		else if ((ops & OP_WAIT) && roll < 72)
			op_wait(false);
		else if ((ops & OP_COMMIT) && roll < 80)
			op_commit(false);
		else if ((ops & OP_SABOTAGE) && roll < 84)
			op_sabotage();
		else if ((ops & OP_MISC) && roll < 90)
			op_misc();
		else if ((ops & OP_CHURN) && roll < 92)
			op_churn();
		else if (ops & (OP_GET | OP_WAIT | OP_COMMIT))
			/* keep events flowing through the valid paths too */
			kst_chance(&F.r, 50) ? op_get_events(true) :
			(kst_chance(&F.r, 50) ? op_wait(true) : op_commit(true));
		else if (ops & OP_CTL)
			op_ctl(true);
		else
			op_init();
	}
	F.iter = -1;
	for (int i = 0; i < NQ; i++)
		final_check(&F.q[i]);
	progress[1] = F.calls;
	progress[2] = F.deliveries;
}

#define FUZZ_CAP_MS	10000

/*
 * Run `batches` batches of `iters` iterations, each in a forked child; a
 * crash or a failure is reported with the seed, batch and iteration.
 */
static void fuzz(const char *test, unsigned int ops, long batches, long iters)
{
	long *progress = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long t0 = kt_mono_ns();
	long done = 0;

	long calls = 0, deliveries = 0;

	KT_ASSERT(progress != MAP_FAILED);
	if (fz_iters > 0)
		iters = fz_iters;
	kt_log("seed %llu (reproduce: KEVENT_FUZZ_SEED=%llu kevent_fuzz %s), %ld batches of %ld iterations",
	       (unsigned long long)fz_seed, (unsigned long long)fz_seed, test, batches, iters);
	for (long b = 0; b < batches; b++) {
		int status;
		pid_t pid;

		if (fz_only_batch >= 0 && b != fz_only_batch)
			continue;
		if (fz_only_batch < 0 && (kt_mono_ns() - t0) / MS > FUZZ_CAP_MS)
			break;
		progress[0] = -1;
		progress[1] = progress[2] = 0;
		fflush(NULL);
		pid = fork();
		KT_ASSERT(pid >= 0);
		if (pid == 0) {
			int base = kt_failed();

			run_batch(test, b, ops, iters, progress);
			fflush(NULL);
			_exit(kt_failed() > base ? 1 : 0);
		}
		KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
		done++;
		calls += progress[1];
		deliveries += progress[2];
		if (WIFSIGNALED(status))
			kt_fail_at(__FILE__, __LINE__,
				   "batch %ld killed by signal %d at iteration %ld; reproduce: KEVENT_FUZZ_SEED=%llu KEVENT_FUZZ_BATCH=%ld kevent_fuzz %s",
				   b, WTERMSIG(status), *progress, (unsigned long long)fz_seed, b, test);
		else if (WEXITSTATUS(status))
			kt_fail_at(__FILE__, __LINE__,
				   "batch %ld failed (iteration %ld); reproduce: KEVENT_FUZZ_SEED=%llu KEVENT_FUZZ_BATCH=%ld kevent_fuzz %s",
				   b, *progress, (unsigned long long)fz_seed, b, test);
	}
	kt_log("%ld batches in %lld ms: %ld calls, %ld deliveries checked", done,
	       (kt_mono_ns() - t0) / MS, calls, deliveries);
	KT_EXPECT(done > 0);
}

TEST_TIMEOUT(fuzz_init, 300)
{
	fuzz("fuzz_init", OP_INIT, 8, 400);
}

TEST_TIMEOUT(fuzz_ctl, 300)
{
	fuzz("fuzz_ctl", OP_CTL | OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_get_events, 300)
{
	fuzz("fuzz_get_events", OP_CTL | OP_GET | OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_ring, 300)
{
	fuzz("fuzz_ring", OP_CTL | OP_WAIT | OP_COMMIT | OP_SABOTAGE | OP_MISC, 24, 500);
}

TEST_TIMEOUT(fuzz_mixed, 300)
{
	fuzz("fuzz_mixed", OP_INIT | OP_CTL | OP_GET | OP_WAIT | OP_COMMIT | OP_SABOTAGE | OP_MISC |
			   OP_CHURN, 24, 600);
}

/* ======================================================================
 * errno_table: the rows of docs/errors.md, one check each, in its order.
 * ====================================================================== */

static int rows, row_fails;

/* A whole-call row: `call` must fail with `err` (0: must succeed). */
#define ROW(id, call, err)						\
	do {								\
		long r_;						\
		int e_;							\
		errno = 0;						\
		r_ = (long)(call);					\
		e_ = errno;						\
		rows++;							\
		if ((err) ? (r_ != -1 || e_ != (err)) : r_ < 0) {	\
			row_fails++;					\
			kt_fail_at(__FILE__, __LINE__, "row %s: %s returned %ld errno %d (%s), expected %s", \
				   id, #call, r_, e_, strerror(e_),	\
				   (err) ? strerror(err) : "success");	\
		}							\
	} while (0)

/* A per-entry row: one entry, BROKEN with ret_data[0] == err. */
static void row_entry(const char *id, int line, int fd, unsigned int cmd, struct ukevent uk, int err)
{
	int r = kevent_ctl(fd, cmd, 1, &uk);

	rows++;
	if (r != (cmd == KEVENT_CTL_ADD ? 1 : 0) ||
	    uk.ret_flags != (KEVENT_RET_DONE | KEVENT_RET_BROKEN) || uk.ret_data[0] != (__u32)err) {
		row_fails++;
		kt_fail_at(__FILE__, line,
			   "row %s: %s type %u id %#llx event %#x flags %#x: ret %d errno %d, ret_flags %#x ret_data[0] %u (%s), expected BROKEN %d (%s)",
			   id, cmd_name[cmd], uk.type, (unsigned long long)uk.id.raw_u64, uk.event,
			   uk.req_flags, r, errno, uk.ret_flags, uk.ret_data[0],
			   strerror((int)uk.ret_data[0]), err, strerror(err));
	}
}
#define ROW_ENTRY(id, fd, cmd, uk, err) row_entry(id, __LINE__, fd, cmd, uk, err)

static struct ukevent user_flags(__u64 id, __u32 flags)
{
	struct ukevent uk = ukevent_user(id, 0);

	uk.req_flags = flags;
	return uk;
}

static struct ukevent of_type(__u32 type)
{
	struct ukevent uk = ukevent_user(1, 0);

	uk.type = type;
	return uk;
}

TEST_TIMEOUT(errno_table, 120)
{
	long long max = kt_sysctl_read(KT_MAX_RING_PATH);
	char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kevent_ring *ring, *big;
	struct ukevent uk, arr[4], *ro, *guard_arr;
	struct __kernel_timespec ts0 = kevent_ts(0, 0), bad_ts;
	char *none, *ro_page, *unmapped;
	int fd, rfd, dev, p[2], efd, sk[2], null, file, dir, opath, ep, closed, tfd, s;

	KT_ASSERT(m != MAP_FAILED);
	KT_ASSERT(max >= 2 && max <= (1 << 20));
	ro_page = m + 4 * PAGE;
	none = m + 5 * PAGE;
	/* far from every mapping, so that no later mmap() fills it */
	unmapped = (char *)0x300000000ULL;
	KT_ASSERT(is_unmapped(unmapped));
	KT_ASSERT_OK(mprotect(m + 3 * PAGE, PAGE, PROT_NONE));	/* guard after 3 pages */
	KT_ASSERT_OK(mprotect(none, PAGE, PROT_NONE));
	ro = (struct ukevent *)ro_page;
	ro[0] = ukevent_user(5, 5);
	KT_ASSERT_OK(mprotect(ro_page, PAGE, PROT_READ));
	big = kevent_ring_alloc((unsigned int)max + 1);
	KT_ASSERT(big);
	ring = kevent_ring_alloc(4);
	fd = kt_queue();
	rfd = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	dev = (int)KT_ASSERT_OK(open("/dev/kevent", O_RDWR | O_CLOEXEC));
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	efd = (int)KT_ASSERT_OK(eventfd(0, EFD_CLOEXEC));
	KT_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk));
	null = (int)KT_ASSERT_OK(open("/dev/null", O_RDWR | O_CLOEXEC));
	file = (int)KT_ASSERT_OK(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
	dir = (int)KT_ASSERT_OK(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	opath = (int)KT_ASSERT_OK(open("/", O_PATH | O_CLOEXEC));
	ep = (int)KT_ASSERT_OK(epoll_create1(EPOLL_CLOEXEC));
	closed = (int)KT_ASSERT_OK(dup2(p[0], 901));
	close(closed);
	guard_arr = (struct ukevent *)(m + 3 * PAGE - 2 * sizeof(struct ukevent) - 8);

	/* ---- kevent_init ---- */
	ROW("I1", kevent_init(NULL, 0, 1), EINVAL);
	ROW("I1", kevent_init(NULL, 0, O_NONBLOCK), EINVAL);
	ROW("I1", kevent_init(NULL, 0, 0x80000000u), EINVAL);
	ROW("I1", kevent_init(NULL, 0, KEVENT_INIT_CLOEXEC | 2), EINVAL);
	ROW("I2", kevent_init(big, 1, 0), EINVAL);
	ROW("I3", kevent_init(big, 0, 0), EINVAL);
	ROW("I4", kevent_init(big, (unsigned int)max + 1, 0), EINVAL);
	ROW("I4", kevent_init(big, 0x80000000u, 0), EINVAL);
	ROW("I4", kevent_init(big, 0xffffffffu, 0), EINVAL);
	ROW("I5", kevent_init(NULL, 2, 0), EFAULT);
	ROW("I5", kevent_init(NULL, (unsigned int)max, 0), EFAULT);
	ROW("I6", kevent_init((struct kevent_ring *)ro_page, 2, 0), EFAULT);
	ROW("I7", kevent_init((struct kevent_ring *)none, 2, 0), EFAULT);
	ROW("I7", kevent_init((struct kevent_ring *)unmapped, 2, 0), EFAULT);
	ROW("I8", kevent_init((struct kevent_ring *)0xffff800000000000ull, 2, 0), EFAULT);
	ROW("I8", kevent_init((struct kevent_ring *)0xffffffff81000000ull, 2, 0), EFAULT);
	ROW("I9", kevent_init((struct kevent_ring *)0x8000000000000000ull, 2, 0), EFAULT);
	/* 3 pages then the guard: the ring of 308 entries fits, 309 does not */
	ROW("I10", kevent_init((struct kevent_ring *)m, (3 * PAGE - 8) / 40 + 1, 0), EFAULT);
	s = kevent_init((struct kevent_ring *)m, (3 * PAGE - 8) / 40, 0);
	ROW("I10", s, 0);
	if (s >= 0)
		close(s);
	memset(m + 1, 0x77, 8);
	s = kevent_init((struct kevent_ring *)(m + 1), 8, 0);
	ROW("I11", s, 0);
	KT_EXPECT(!memcmp(m + 1, "\0\0\0\0\0\0\0\0", 8));
	if (s >= 0)
		close(s);
	ROW("I13", kevent_init(NULL, 1, 0x40), EINVAL);

	/* ---- kevent_ctl, whole call ---- */
	uk = ukevent_user(1, 0);
	ROW("C1", kevent_ctl(-1, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(closed, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(1 << 20, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C1", kevent_ctl(INT_MAX, KEVENT_CTL_READY, 0, NULL), EBADF);
	ROW("C2", kevent_ctl(opath, KEVENT_CTL_ADD, 1, &uk), EBADF);
	ROW("C3", kevent_ctl(p[0], KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(efd, KEVENT_CTL_READY, 0, NULL), EINVAL);
	ROW("C3", kevent_ctl(sk[0], KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(null, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(file, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(dir, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C3", kevent_ctl(ep, KEVENT_CTL_ADD, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 4, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 0x100, 1, &uk), EINVAL);
	ROW("C4", kevent_ctl(fd, 0xffffffffu, 0, NULL), EINVAL);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_ADD, KEVENT_MAX_BATCH + 1, &uk), E2BIG);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_READY, 0x80000000u, &uk), E2BIG);
	ROW("C5", kevent_ctl(fd, KEVENT_CTL_REMOVE, 0xffffffffu, NULL), E2BIG);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_ADD, 1, NULL), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_MODIFY, 2, (struct ukevent *)unmapped), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_REMOVE, 1, (struct ukevent *)none), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_READY, 1, (struct ukevent *)0xffffffff81000000ull), EFAULT);
	ROW("C6", kevent_ctl(fd, KEVENT_CTL_ADD, 1, (struct ukevent *)(m + 3 * PAGE - 8)), EFAULT);
	ROW("C7", kevent_ctl(fd, KEVENT_CTL_ADD, 0, (struct ukevent *)unmapped), 0);
	ROW("C7", kevent_ctl(fd, KEVENT_CTL_READY, 0, NULL), 0);
	/* C8: a read-only array is read, processed, and the write-back fails */
	kt_add_user(fd, 5, 5, 0);
	ROW("C8", kevent_ctl(fd, KEVENT_CTL_READY, 1, ro), EFAULT);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_READY), 1);	/* the READY took effect */
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);
	/* C9: an ADD of 2 readable entries then an unreadable third: 2 processed */
	guard_arr[0] = ukevent_user(10, 0);
	guard_arr[1] = ukevent_user(11, 0);
	ROW("C9", kevent_ctl(fd, KEVENT_CTL_ADD, 3, guard_arr), 0);
	KT_EXPECT_EQ(kevent_fdinfo(fd, KFD_REGISTERED), 3);

	/* ---- kevent_ctl, per entry ---- */
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_SOCKET), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_INODE), EINVAL);
	for (__u32 t = KEVENT_NAIO; t <= KEVENT_POSIX_TIMER; t++)
		ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(t), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(KEVENT_MAX_TYPES), EINVAL);
	ROW_ENTRY("E1", fd, KEVENT_CTL_ADD, of_type(0xffffffffu), EINVAL);
	ROW_ENTRY("E2", fd, KEVENT_CTL_ADD, user_flags(20, 0x20), EINVAL);
	ROW_ENTRY("E2", fd, KEVENT_CTL_ADD, user_flags(20, 0x80000000u), EINVAL);
	uk = ukevent_timer(0, 1000000, 0);
	uk.event = 2;
	ROW_ENTRY("E3", fd, KEVENT_CTL_ADD, uk, EINVAL);
	uk.event = 0;
	ROW_ENTRY("E3", fd, KEVENT_CTL_ADD, uk, EINVAL);
	ROW_ENTRY("E4", fd, KEVENT_CTL_ADD, ukevent_timer(0, 0, 0), EINVAL);
	ROW_ENTRY("E5", fd, KEVENT_CTL_ADD, ukevent_timer(1, 1000000000u, 0), EINVAL);
	ROW_ENTRY("E5", fd, KEVENT_CTL_ADD, ukevent_timer(0, 0xffffffffu, 0), EINVAL);
	ROW_ENTRY("E6", fd, KEVENT_CTL_ADD, ukevent_poll(p[0], 0, 0), EINVAL);
	ROW_ENTRY("E6", fd, KEVENT_CTL_ADD, ukevent_poll(p[0], 0x80000000u, 0), EINVAL);
	ROW_ENTRY("E7", fd, KEVENT_CTL_ADD, ukevent_user(10, 99), EEXIST);
	ROW_ENTRY("E8", fd, KEVENT_CTL_REMOVE, ukevent_user(12345, 0), ENOENT);
	ROW_ENTRY("E8", fd, KEVENT_CTL_MODIFY, ukevent_user(10, 1), ENOENT);	/* user differs */
	ROW_ENTRY("E8", fd, KEVENT_CTL_READY, of_type(KEVENT_TIMER), ENOENT);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(closed, POLLIN, 0), EBADF);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(-1, POLLIN, 0), EBADF);
	ROW_ENTRY("E9", fd, KEVENT_CTL_ADD, ukevent_poll(opath, POLLIN, 0), EBADF);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(fd, POLLIN, 0), ELOOP);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(rfd, POLLIN, 0), ELOOP);
	ROW_ENTRY("E10", fd, KEVENT_CTL_ADD, ukevent_poll(dev, POLLIN, 0), ELOOP);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(null, POLLIN, 0), EPERM);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(file, POLLIN, 0), EPERM);
	ROW_ENTRY("E11", fd, KEVENT_CTL_ADD, ukevent_poll(dir, POLLIN, 0), EPERM);
	uk = ukevent_user(10, 0);
	uk.req_flags = 0x40;
	ROW_ENTRY("E13", fd, KEVENT_CTL_MODIFY, uk, EINVAL);
	uk = ukevent_timer(100, 0, 0);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk = ukevent_timer(100, 0, 0);
	uk.event = 4;
	ROW_ENTRY("E14", fd, KEVENT_CTL_MODIFY, uk, EINVAL);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(fd, KEVENT_CTL_ADD, 1, &uk), 0);
	uk.event = 0;
	ROW_ENTRY("E14", fd, KEVENT_CTL_MODIFY, uk, EINVAL);

	/* ---- kevent_get_events ---- */
	ROW("G1", kevent_get_events(-1, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G1", kevent_get_events(closed, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G1", kevent_get_events(opath, 0, 1, &ts0, arr, 0), EBADF);
	ROW("G2", kevent_get_events(p[0], 0, 1, &ts0, arr, 0), EINVAL);
	ROW("G2", kevent_get_events(ep, 0, 1, &ts0, arr, 0), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, 2), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, KEVENT_FLAGS_ABSTIME | 4), EINVAL);
	ROW("G3", kevent_get_events(fd, 0, 1, &ts0, arr, 0x80000000u), EINVAL);
	ROW("G4", kevent_get_events(fd, 0, KEVENT_MAX_BATCH + 1, &ts0, arr, 0), E2BIG);
	ROW("G4", kevent_get_events(fd, 0, 0xffffffffu, &ts0, arr, 0), E2BIG);
	ROW("G5", kevent_get_events(fd, 2, 1, &ts0, arr, 0), EINVAL);
	bad_ts = kevent_ts(0, 1000000000);
	ROW("G6", kevent_get_events(fd, 0, 1, &bad_ts, arr, 0), EINVAL);
	bad_ts = kevent_ts(0, -1);
	ROW("G6", kevent_get_events(fd, 0, 1, &bad_ts, arr, 0), EINVAL);
	bad_ts = kevent_ts(-1, 0);
	ROW("G6", kevent_get_events(fd, 1, 1, &bad_ts, arr, 0), EINVAL);
	ROW("G6", kevent_get_events(fd, 1, 1, &bad_ts, arr, KEVENT_FLAGS_ABSTIME), EINVAL);
	ROW("G7", kevent_get_events(fd, 1, 1, (struct __kernel_timespec *)unmapped, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 1, 1, (struct __kernel_timespec *)none, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)1, arr, 0), EFAULT);
	ROW("G7", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)0xffffffff81000000ull, arr, 0),
	    EFAULT);
	ROW("G8", kevent_get_events(fd, 0, 1, &ts0, (struct ukevent *)0xffffffff81000000ull, 0), EFAULT);
	ROW("G8", kevent_get_events(fd, 0, 0, &ts0, (struct ukevent *)0x8000000000000000ull, 0), EFAULT);
	/* nothing ready: nothing to copy, so no fault */
	ROW("G10", kevent_get_events(fd, 0, 4, &ts0, NULL, 0), 0);
	kt_ready_user(fd, 10, 0, 1);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, NULL, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, (struct ukevent *)unmapped, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, ro, 0), EFAULT);
	ROW("G9", kevent_get_events(fd, 0, 4, &ts0, (struct ukevent *)none, 0), EFAULT);
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);	/* not lost */
	KT_EXPECT_EQ(arr[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	/* G11: room for one entry before the guard, two ready: one returned */
	kt_ready_user(fd, 10, 0, 1);
	kt_ready_user(fd, 11, 0, 1);
	s = kevent_get_events(fd, 0, 2, &ts0, guard_arr + 1, 0);
	rows++;
	KT_EXPECT_EQ(s, 1);	/* row G11 */
	KT_EXPECT_EQ(kt_get_now(fd, arr, 4), 1);
	/* G12: a read-only timeout is fine */
	ROW("G12", kevent_get_events(fd, 0, 1, (struct __kernel_timespec *)(ro_page + 64), arr, 0), 0);

	/* ---- kevent_wait ---- */
	ROW("W1", kevent_wait(-1, 1, 0, &ts0, 0), EBADF);
	ROW("W1", kevent_wait(opath, 1, 0, &ts0, 0), EBADF);
	ROW("W2", kevent_wait(p[1], 1, 0, &ts0, 0), EINVAL);
	ROW("W3", kevent_wait(fd, 1, 0, &ts0, 0), EINVAL);
	ROW("W3", kevent_wait(dev, 1, 0, &ts0, 0), EINVAL);
	ROW("W4", kevent_wait(rfd, 0, 0, &ts0, 0), EINVAL);
	ROW("W5", kevent_wait(rfd, KEVENT_MAX_BATCH + 1, 0, &ts0, 0), E2BIG);
	ROW("W5", kevent_wait(rfd, 0xffffffffu, 0, &ts0, 0), E2BIG);
	ROW("W6", kevent_wait(rfd, 1, 0, &ts0, 2), EINVAL);
	bad_ts = kevent_ts(0, 1000000000);
	ROW("W7", kevent_wait(rfd, 1, 0, &bad_ts, 0), EINVAL);
	ROW("W8", kevent_wait(rfd, 1, 0, (struct __kernel_timespec *)unmapped, 0), EFAULT);
	kt_add_user(rfd, 1, 1, 0);
	kt_ready_user(rfd, 1, 1, 0);
	ROW("W10", kevent_wait(rfd, 1, 3, &ts0, 0), 0);	/* stale old_uidx */
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 0);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ));
	ROW("W9", kevent_wait(rfd, 1, 0, &ts0, 0), EFAULT);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ | PROT_WRITE));
	KT_EXPECT_EQ(kevent_wait(rfd, 4, 0, &ts0, 0), 1);	/* row W9: the event was kept */
	KT_EXPECT_EQ(kevent_ring_kidx(ring), 1);

	/* ---- kevent_commit: ring of 4, one written ---- */
	ROW("K1", kevent_commit(-1, 0, 0), EBADF);
	ROW("K1", kevent_commit(opath, 0, 0), EBADF);
	ROW("K2", kevent_commit(p[0], 0, 0), EINVAL);
	ROW("K2", kevent_commit(fd, 0, 0), EINVAL);
	ROW("K3", kevent_commit(rfd, 4, 0), EINVAL);
	ROW("K3", kevent_commit(rfd, 0xffffffffu, 0), EINVAL);
	ROW("K4", kevent_commit(rfd, 1, 1), ERANGE);	/* stale or garbage lap */
	ROW("K4", kevent_commit(rfd, 1, 0xffffffffu), ERANGE);
	ROW("K6", kevent_commit(rfd, 2, 0), ERANGE);	/* ahead of kidx */
	ROW("K7", kevent_commit(rfd, 0, 0), 0);		/* nothing consumed */
	KT_EXPECT_EQ(kevent_commit(rfd, 1, 0), 1);
	ROW("K5", kevent_commit(rfd, 0, 0), ERANGE);	/* behind the last commit */

	/* ---- sysctls ---- */
	if (geteuid() == 0) {
		tfd = open(KT_MAX_RING_PATH, O_WRONLY | O_CLOEXEC);
		KT_ASSERT(tfd >= 0);
		ROW("S2", write(tfd, "1\n", 2), EINVAL);
		ROW("S2", write(tfd, "16777217\n", 9), EINVAL);
		close(tfd);
		KT_EXPECT_EQ(kt_sysctl_read(KT_MAX_RING_PATH), max);
	}
	kt_log("%d rows checked, %d failed", rows, row_fails);
	close(fd);
	close(rfd);
	close(dev);
}

/* ======================================================================
 * Regressions: fuzzer findings reduced to a deterministic case.
 * ====================================================================== */

/*
 * fuzz_mixed (seed 1, batch 1): a POLL kevent readied by a wake-up without
 * a key (here: the pipe's last writer closes) is polled when dequeued; if
 * the copy to user space then fails, it must come back with its mask, not
 * with ret_data[0] == 0. The ring path (kevent_wait into a read-only ring)
 * is the same.
 */
TEST(regress_poll_mask_after_copy_fault)
{
	struct __kernel_timespec zero = kevent_ts(0, 0);
	struct kevent_ring *ring = kevent_ring_alloc(4);
	struct ukevent uk, buf[4];
	int q, rq, p[2], r;

	KT_ASSERT(ring);
	q = kt_queue();
	rq = (int)KT_ASSERT_OK(kevent_init(ring, 4, 0));
	KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk), 0);
	uk = ukevent_poll(p[0], POLLIN, 0);
	KT_ASSERT_EQ(kevent_ctl(rq, KEVENT_CTL_ADD, 1, &uk), 0);
	close(p[1]);	/* POLLHUP, announced by a wake-up without a key */

	KT_EXPECT_ERRNO(kevent_get_events(q, 0, 4, &zero, NULL, 0), EFAULT);
	r = kevent_get_events(q, 0, 4, &zero, buf, 0);
	KT_ASSERT_EQ(r, 1);
	KT_EXPECT_EQ(buf[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
	if (!(buf[0].ret_data[0] & POLLHUP))
		kt_fail_at(__FILE__, __LINE__,
			   "get_events after a failed copy: ret_data[0] %#x, expected POLLHUP (%#x)",
			   buf[0].ret_data[0], POLLHUP);

	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ));
	KT_EXPECT_ERRNO(kevent_wait(rq, 4, 0, &zero, 0), EFAULT);
	KT_ASSERT_OK(mprotect(ring, PAGE, PROT_READ | PROT_WRITE));
	KT_ASSERT_EQ(kevent_wait(rq, 1, 0, &zero, 0), 1);
	if (!(ring->event[0].ret_data[0] & POLLHUP))
		kt_fail_at(__FILE__, __LINE__,
			   "kevent_wait after a failed copy: ret_data[0] %#x, expected POLLHUP (%#x)",
			   ring->event[0].ret_data[0], POLLHUP);
	close(p[0]);
	close(q);
	close(rq);
}
