/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent_errno: what doc.c (the table of docs/errors.md, one test per row)
 * and checks.c (the inputs of each row) share.
 */
#ifndef KLAB_KEVENT_ERRNO_H
#define KLAB_KEVENT_ERRNO_H

#include "kevent_test.h"

#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#define PAGE 4096

/* ---- doc.c: outcomes of the running row -------------------------------------- */

/*
 * The call's return r and errno err against outcome k (0, 1, ...: one per
 * ";"-separated input) of the row's result; reported at line. Returns r.
 */
long expect_call(int k, const char *call, const char *file, int line, long r, int err);

/* CALL(k, call): the call must give outcome k of the row; evaluates to its return. */
#define CALL(k, call)							\
	({								\
		errno = 0;						\
		long r_ = (long)(call);					\
		expect_call(k, #call, __FILE__, __LINE__, r_, errno);		\
	})

/* One entry of kevent_ctl(): BROKEN with the errno of outcome k. */
void expect_entry(int k, const char *file, int line, int fd, unsigned int cmd,
		  struct ukevent uk);
#define ENTRY(k, fd, cmd, uk) expect_entry(k, __FILE__, __LINE__, fd, cmd, uk)

/* ---- checks.c: the world of a row and the checks ------------------------------- */

struct env {
	long long max;		/* max_ring_entries */
	char *m;		/* 3 RW pages, a guard, RO, PROT_NONE, 2 RW */
	char *ro_page, *none, *unmapped;
	struct kevent_ring *ring, *big;	/* ring of 4 (of rfd); max + 1 entries */
	struct ukevent *ro;		/* RO page, entry 0: USER id 5 user 5 */
	struct ukevent *guard_arr;	/* 2 entries, then 8 bytes, then the guard */
	struct __kernel_timespec ts0;
	int fd, rfd, dev, p[2], efd, sk[2], null, file, dir, opath, ep, closed;
};

void env_open(struct env *e);
/* USER kevents 10 and 11 (user 0) registered, as an ADD of guard_arr leaves them. */
void add_10_11(struct env *e);
/* The ring of rfd (4 entries) with one event written by the kernel, uncommitted. */
void ring_one_written(struct env *e);
struct ukevent user_flags(__u64 id, __u32 flags);
struct ukevent of_type(__u32 type);

/* The inputs of row id (docs/errors.md), fed to the kernel through CALL/ENTRY. */
struct check {
	const char *id;
	void (*fn)(struct env *e);
};

extern const struct check errno_checks[];
extern const size_t errno_nchecks;

#endif /* KLAB_KEVENT_ERRNO_H */
