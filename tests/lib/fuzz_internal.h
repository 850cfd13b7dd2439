/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz_internal.h - what the files of the fuzzer share, and nothing a suite
 * should use (the suite's interface is fuzz.h):
 *
 *	fuzz_model.c	the world (arena, pointers, descriptors) and the model
 *			of each queue: what is registered, what must be delivered
 *	fuzz_ctl.c	kevent_ctl(): request generators, prediction of each
 *			entry's outcome, the call and its check
 *	fuzz_calls.c	kevent_get_events(), kevent_wait(), kevent_commit(),
 *			kevent_init(), ring sabotage, the end-of-batch check
 *	fuzz_run.c	seed and knobs, batches in child processes
 *
 * One batch runs in one child process, so the world is one global (fzw).
 */
#ifndef KLAB_FUZZ_INTERNAL_H
#define KLAB_FUZZ_INTERNAL_H

#include "kevent_stress_util.h"
#include "fuzz.h"

#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#define MS	1000000LL
#define NSEC	1000000000LL

/* ---- errnos ------------------------------------------------------------ */

/* Bits for sets of errnos. */
enum {
	B_EBADF = 1 << 0, B_EINVAL = 1 << 1, B_E2BIG = 1 << 2, B_EFAULT = 1 << 3,
	B_EINTR = 1 << 4, B_ERANGE = 1 << 5, B_ENOENT = 1 << 6, B_EEXIST = 1 << 7,
	B_EPERM = 1 << 8, B_ELOOP = 1 << 9, B_ENOSPC = 1 << 10, B_EMFILE = 1 << 11,
	B_ENFILE = 1 << 12, B_ENOMEM = 1 << 13, B_ENOTSOCK = 1 << 14,
	B_EAFNOSUPPORT = 1 << 15, B_EPROTONOSUPPORT = 1 << 16, B_EOPNOTSUPP = 1 << 17,
	B_EACCES = 1 << 18,
	B_UNKNOWN = 1 << 20,	/* not an errno: success is possible too */
};

/*
 * What docs/abi.md allows each call to return (the fuzzer's table): any
 * other errno is a failure whatever the input. EINTR only for calls that
 * can sleep.
 */
#define ALLOW_INIT	(B_EINVAL | B_EFAULT | B_EMFILE | B_ENFILE | B_ENOMEM)
#define ALLOW_CTL	(B_EBADF | B_EINVAL | B_E2BIG | B_EFAULT)
#define ALLOW_ENTRY	(B_EINVAL | B_EEXIST | B_ENOENT | B_EBADF | B_ENOSPC | B_EPERM | B_ELOOP | \
			 B_ENOTSOCK | B_EAFNOSUPPORT | B_EPROTONOSUPPORT | B_EOPNOTSUPP | B_EACCES)
#define ALLOW_GET	(B_EBADF | B_EINVAL | B_E2BIG | B_EFAULT | B_EINTR)
#define ALLOW_WAIT	(B_EBADF | B_EINVAL | B_EPERM | B_E2BIG | B_EFAULT | B_EINTR)
#define ALLOW_COMMIT	(B_EBADF | B_EINVAL | B_EPERM | B_ERANGE)

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

extern struct fz fzw;

#define FZF(fmt, ...)							\
	do {								\
		kt_fail_at(__FILE__, __LINE__, "[%s batch %ld iter %ld op %s] " fmt, \
			   fzw.test, fzw.batch, fzw.iter, fzw.op, ##__VA_ARGS__); \
		if (++fzw.fails >= MAXFAIL) {				\
			kt_log("too many failures in this batch");	\
			kt_end_test();					\
		}							\
	} while (0)

enum pkind { P_A, P_RO, P_NONE, P_HOLE, P_NULL, P_KERN, P_NONCANON, P_TOP, P_ONE, P_MINUS1 };

struct fptr {
	char *p;
	enum pkind kind;
	size_t rd, rw;		/* bytes readable / writable from p */
};

/* ---- fuzz_model.c ---------------------------------------------------------- */

unsigned int ebit(int e);
void alarm_noop(int sig);
void arm(long ms);
void disarm(void);
extern const char *const pkind_name[];
struct fptr ptr_A(size_t off);
bool ptr_kernelish(const struct fptr *f);
struct fptr gen_ptr(size_t need, size_t align);
void put_entries(const struct fptr *f, const struct ukevent *e, unsigned int n);

int fd_add(int fd, enum fkind kind, int q);
void fds_open(void);
int fd_of_queue(int qi);
const struct fdent *pick_fd(int queue_pct);
unsigned int fd_queue_errs(const struct fdent *d);
unsigned int fd_poll_errs(int fd);
unsigned int fd_sock_errs(int fd);
unsigned int fd_pipe_errs(int fd);
unsigned int fd_inode_errs(int fd);

struct mkev *m_find(struct mq *q, uint32_t type, uint64_t id);
struct mkev *m_match(struct mq *q, const struct ukevent *e);
void m_del(struct mq *q, struct mkev *k);
struct mkev *m_add(struct mq *q, const struct ukevent *e);
int m_pending_user(const struct mq *q);
unsigned int m_validate(const struct ukevent *e);
void m_resync(struct mq *q);
void m_verify(struct mq *q);
void m_delivered(struct mq *q, const struct ukevent *e, const char *how);

/* ---- fuzz_ctl.c ------------------------------------------------------------ */

struct ukevent gen_sensible(struct mq *q);
struct ukevent gen_garbage(void);
void op_ctl(bool sensible_only);

/* ---- fuzz_calls.c ---------------------------------------------------------- */

void op_get_events(bool sane);
void ring_map(struct mq *q, int state);
void op_wait(bool sane);
void op_commit(bool sane);
void op_sabotage(void);
void op_init(void);
void op_misc(void);
void final_check(struct mq *q);

#endif /* KLAB_FUZZ_INTERNAL_H */
