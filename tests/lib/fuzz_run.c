// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_run.c - seed and knobs of the fuzzer, and its batches: each runs in a
 * forked child, so a crash is reported with the iteration it happened in.
 */
#include "fuzz_internal.h"

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

/* ---- batches ------------------------------------------------------------------ */

static void q_open(int qi, enum qkind kind)
{
	struct mq *q = &fzw.q[qi];

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
		q->size = 2 + kst_below(&fzw.r, 7);
		/* Q_URING: a ring that does not start its page (8-byte aligned, as required) */
		q->off = kind == Q_URING ? 8 * (1 + kst_below(&fzw.r, 7)) : 0;
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

/* Close and reopen a queue, or a pipe whose number POLL kevents may use. */
static void op_churn(void)
{
	int qi = (int)kst_below(&fzw.r, NQ), p[2];

	fzw.op = "churn";
	/* remap the unmapped rings first: a new mapping could take their place */
	for (int i = 0; i < NQ; i++)
		if (fzw.q[i].size)
			ring_map(&fzw.q[i], 0);
	if (kst_chance(&fzw.r, 50)) {
		int fi = fd_of_queue(qi);

		close(fzw.q[qi].fd);
		if (fzw.q[qi].map)
			munmap(fzw.q[qi].map, fzw.q[qi].maplen);
		q_open(qi, fzw.q[qi].kind);
		fzw.fds[fi].fd = fzw.q[qi].fd;
		return;
	}
	for (int i = 0; i < fzw.nfds; i++)
		if (fzw.fds[i].kind == F_PIPE_R) {
			/*
			 * The pipe's last references go: its POLL kevents are
			 * removed from every queue, as epoll's items are, and
			 * its PIPE kevents with the pipe.
			 */
			for (int q = 0; q < NQ; q++)
				for (int k = fzw.q[q].n - 1; k >= 0; k--) {
					struct mkev *mk = &fzw.q[q].k[k];

					if ((mk->type == KEVENT_POLL || mk->type == KEVENT_PIPE) &&
					    ((int)(uint32_t)mk->id == fzw.fds[i].fd ||
					     (int)(uint32_t)mk->id == fzw.fds[i + 1].fd))
						m_del(&fzw.q[q], mk);
				}
			close(fzw.fds[i].fd);
			close(fzw.fds[i + 1].fd);
			KT_ASSERT_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
			fzw.fds[i].fd = p[0];
			fzw.fds[i + 1].fd = p[1];
			break;
		}
}

static void run_batch(const char *test, long batch, unsigned int ops, long iters, long *progress)
{
	struct sigaction sa;
	char *m;

	memset(&fzw, 0, sizeof(fzw));
	fzw.test = test;
	fzw.batch = batch;
	kst_rng_seed(&fzw.r, fz_seed ^ kst_hash_str(test) ^ ((uint64_t)batch << 40));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_noop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	fzw.max_ring = (unsigned int)kt_sysctl_read(KT_MAX_RING_PATH);
	KT_ASSERT(fzw.max_ring >= 2);

	fzw.A_len = A_PAGES * PAGE;
	m = mmap(NULL, (A_PAGES + 6) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(m != MAP_FAILED);
	fzw.A = m;
	KT_ASSERT_OK(mprotect(m + A_PAGES * PAGE, PAGE, PROT_NONE));	/* guard */
	fzw.RO = m + (A_PAGES + 1) * PAGE;
	for (int i = 0; i < PAGE / (int)sizeof(struct ukevent); i++) {
		struct ukevent e = kst_chance(&fzw.r, 50) ? gen_sensible(NULL) : gen_garbage();

		memcpy(fzw.RO + i * sizeof(e), &e, sizeof(e));
	}
	memset(fzw.RO + PAGE - 64, 0, 64);	/* a {0, 0} timespec at the end */
	KT_ASSERT_OK(mprotect(fzw.RO, PAGE, PROT_READ));
	fzw.NONE = m + (A_PAGES + 2) * PAGE;
	KT_ASSERT_OK(mprotect(fzw.NONE, PAGE, PROT_NONE));
	KT_ASSERT_OK(munmap(m + (A_PAGES + 3) * PAGE, PAGE));
	/*
	 * A hole next to our mappings would be reused by later mmap()s: the
	 * unmapped address is one far from everything, checked unmapped.
	 */
	fzw.HOLE = (char *)0x300000000ULL;
	KT_ASSERT(kt_is_unmapped(fzw.HOLE));
	KT_ASSERT(kt_is_unmapped((char *)0x7ffffffff000ULL - PAGE));
	fzw.TS = m + (A_PAGES + 4) * PAGE;
	KT_ASSERT_OK(mprotect(fzw.TS + PAGE, PAGE, PROT_NONE));

	q_open(0, Q_PLAIN);
	q_open(1, Q_RING);
	q_open(2, Q_DEV);
	q_open(3, Q_URING);
	for (int i = 0; i < NQ; i++)
		fd_add(fzw.q[i].fd, F_QUEUE, i);
	fds_open();

	for (fzw.iter = 0; fzw.iter < iters; fzw.iter++) {
		uint32_t roll = kst_below(&fzw.r, 100);

		__atomic_store_n(progress, fzw.iter, __ATOMIC_RELAXED);
		if ((ops & FZ_OP_INIT) && roll < 12)
			op_init();
		else if ((ops & FZ_OP_CTL) && roll < 50)
			op_ctl(!(ops & ~(FZ_OP_CTL | FZ_OP_MISC)) ? false : kst_chance(&fzw.r, 30));
		else if ((ops & FZ_OP_GET) && roll < 62)
			op_get_events(false);
		else if ((ops & FZ_OP_WAIT) && roll < 72)
			op_wait(false);
		else if ((ops & FZ_OP_COMMIT) && roll < 80)
			op_commit(false);
		else if ((ops & FZ_OP_SABOTAGE) && roll < 84)
			op_sabotage();
		else if ((ops & FZ_OP_MISC) && roll < 90)
			op_misc();
		else if ((ops & FZ_OP_CHURN) && roll < 92)
			op_churn();
		else if (ops & (FZ_OP_GET | FZ_OP_WAIT | FZ_OP_COMMIT))
			/* keep events flowing through the valid paths too */
			kst_chance(&fzw.r, 50) ? op_get_events(true) :
			(kst_chance(&fzw.r, 50) ? op_wait(true) : op_commit(true));
		else if (ops & FZ_OP_CTL)
			op_ctl(true);
		else
			op_init();
	}
	fzw.iter = -1;
	for (int i = 0; i < NQ; i++)
		final_check(&fzw.q[i]);
	progress[1] = fzw.calls;
	progress[2] = fzw.deliveries;
}

#define FUZZ_CAP_MS	10000

/*
 * Run `batches` batches of `iters` iterations, each in a forked child; a
 * crash or a failure is reported with the seed, batch and iteration.
 */
void fz_run(const char *test, unsigned int ops, long batches, long iters)
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
