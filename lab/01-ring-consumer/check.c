// SPDX-License-Identifier: GPL-2.0
/*
 * The checker of lab/01-ring-consumer, run in the guest: drives the
 * student's ring_consume() (consumer.c) over an 8-entry ring and checks
 * that every event arrives once and in order, across many wraps, with a
 * full ring, with batches larger than the ring, and that every entry is
 * committed. Prints "ok"/"FAIL" lines; exit status 0 only if all pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"

#define RING	8
#define NKEV	64
#define ROUNDS	400

static int failures;

static void result(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		failures++;
}

struct seen {
	unsigned long long ids[NKEV * 2];
	unsigned int n;
	int overflow;
};

static void record(const struct ukevent *uk, void *arg)
{
	struct seen *s = arg;

	if (s->n < NKEV * 2)
		s->ids[s->n++] = uk->user_u64;
	else
		s->overflow = 1;
}

/* READY matches the type, the id and the user data (docs/abi.md) */
static int ready(int q, unsigned int id)
{
	struct ukevent uk = ukevent_user(id, 0x1000 + id);

	return kevent_ctl(q, KEVENT_CTL_READY, 1, &uk);
}

int main(int argc, char **argv)
{
	struct ring_consumer c = { .size = RING };
	unsigned int seed = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 1;
	unsigned int round, i, order[NKEV], want, lost = 0, misorder = 0, full = 0;
	unsigned long long total = 0;
	struct seen s;
	char what[160];
	int r, bad_ret = 0;

	srand(seed);
	c.ring = kevent_ring_alloc(RING);
	c.q = kevent_init(c.ring, RING, 0);
	if (c.q < 0) {
		perror("kevent_init");
		return 2;
	}
	for (i = 0; i < NKEV; i++) {
		struct ukevent uk = ukevent_user(i, 0x1000 + i);

		if (kevent_ctl(c.q, KEVENT_CTL_ADD, 1, &uk) != 0) {
			perror("KEVENT_CTL_ADD");
			return 2;
		}
	}

	/* Nothing ready: a timeout, 0 events, no error. */
	memset(&s, 0, sizeof(s));
	r = ring_consume(&c, 20, record, &s);
	snprintf(what, sizeof(what), "nothing ready: ring_consume returns 0 after its timeout (got %d%s%s)",
		 r, r < 0 ? ", " : "", r < 0 ? strerror(errno) : "");
	result(r == 0 && s.n == 0, what);

	for (round = 0; round < ROUNDS; round++) {
		/* A random batch of distinct kevents, readied in a random order;
		 * every 4th round exactly one ring's worth (a full ring). */
		want = round % 4 == 0 ? RING : 1 + (unsigned int)rand() % 20;
		for (i = 0; i < NKEV; i++)
			order[i] = i;
		for (i = 0; i < want; i++) {
			unsigned int j = i + (unsigned int)rand() % (NKEV - i), t = order[i];

			order[i] = order[j];
			order[j] = t;
			if (ready(c.q, order[i]) != 1) {
				perror("KEVENT_CTL_READY");
				return 2;
			}
		}
		memset(&s, 0, sizeof(s));
		/* Several calls: the ring holds 8, a batch up to 20. */
		for (i = 0; i < 8 && s.n < want; i++) {
			r = ring_consume(&c, 200, record, &s);
			if (r < 0 || r > RING)
				bad_ret++;
			/* events are ready: a correct consumer never times out here */
			if (r <= 0)
				break;
		}
		if (round % 4 == 0 && s.n == RING)
			full++;
		if (s.n != want || s.overflow)
			lost++;
		for (i = 0; i < s.n && i < want; i++)
			if (s.ids[i] != 0x1000 + order[i])
				misorder++;
		total += s.n;
		/* fail fast: a broken consumer would cost a timeout per round */
		if (lost >= 3)
			break;
	}
	snprintf(what, sizeof(what), "%u rounds: every round's events arrive, none lost or doubled (%u bad rounds)",
		 round < ROUNDS ? round + 1 : ROUNDS, lost);
	result(lost == 0, what);
	snprintf(what, sizeof(what), "events arrive in the order they were readied (%u out of place)", misorder);
	result(misorder == 0 && lost == 0, what);
	snprintf(what, sizeof(what), "a full ring (8 written, kidx back at uidx) is read whole (%u of %u)",
		 full, ROUNDS / 4);
	result(full == ROUNDS / 4, what);
	snprintf(what, sizeof(what), "ring_consume returns 0..%u, never an error (%d bad returns)", RING, bad_ret);
	result(bad_ret == 0, what);
	snprintf(what, sizeof(what), "every entry committed at the end (fdinfo ring_free %lld of %d)",
		 kevent_fdinfo(c.q, "ring_free"), RING);
	result(kevent_fdinfo(c.q, "ring_free") == RING, what);
	snprintf(what, sizeof(what), "the consumer's position matches the kernel's (uidx %u, ring_uidx %lld)",
		 c.uidx, kevent_fdinfo(c.q, "ring_uidx"));
	result((long long)c.uidx == kevent_fdinfo(c.q, "ring_uidx"), what);
	printf("# %llu events over %llu wraps of an %d-entry ring (seed %u)\n", total, total / RING, RING, seed);
	return failures ? 1 : 0;
}
