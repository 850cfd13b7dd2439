/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - the kevent fuzzer (fuzz_*.c in libktest.a): seeded, bounded
 * batches of random and boundary calls of the five system calls, checked
 * against a model of every queue. docs/errors.md ("What the fuzzer accepts")
 * describes the oracle; the kevent_fuzz suite is its list of tests.
 *
 * Seed: KEVENT_FUZZ_SEED in the environment, or "seed=N" / "--seed=N" on
 * the command line, or the clock. It is printed at the start of every
 * test; a failure prints the seed, the batch and the iteration, and the
 * line that reproduces it:
 *
 *	KEVENT_FUZZ_SEED=N KEVENT_FUZZ_BATCH=B kevent_fuzz <test>
 *
 * (KEVENT_FUZZ_ITERS=K overrides the iterations per batch.)
 */
#ifndef KLAB_FUZZ_H
#define KLAB_FUZZ_H

/* The operations a test lets the fuzzer draw from. */
enum {
	FZ_OP_INIT = 1, FZ_OP_CTL = 2, FZ_OP_GET = 4, FZ_OP_WAIT = 8, FZ_OP_COMMIT = 16,
	FZ_OP_SABOTAGE = 32, FZ_OP_MISC = 64, FZ_OP_CHURN = 128,
};

/*
 * Run `batches` batches of `iters` iterations of the operations in ops, each
 * batch in a forked child with fresh queues, for at most 10 s of batches.
 * `test` names the random stream (with the seed and the batch number) and
 * the replay line. Failures are reported on the calling test.
 */
void fz_run(const char *test, unsigned int ops, long batches, long iters);

#endif /* KLAB_FUZZ_H */
