/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lab/01-ring-consumer: the interface the checker (check.c) calls. Do not
 * change it; write consumer.c.
 */
#ifndef LAB_CONSUMER_H
#define LAB_CONSUMER_H

#include "kevent_syscall.h"

/* What a consumer of a kevent ring keeps between calls. */
struct ring_consumer {
	int q;				/* the queue (kevent_init with this ring) */
	struct kevent_ring *ring;	/* the ring, size entries */
	unsigned int size;
	unsigned int uidx;		/* next entry to read */
	unsigned int over;		/* lap of uidx */
};

typedef void (*consume_fn)(const struct ukevent *uk, void *arg);

/*
 * Wait up to timeout_ms for events with kevent_wait(), hand every event
 * the kernel wrote to the ring to fn, in order and each once, then give the
 * entries back with kevent_commit(). Returns how many events fn saw (0 on
 * timeout), or -1 with errno set.
 */
int ring_consume(struct ring_consumer *c, int timeout_ms, consume_fn fn,
		 void *arg);

#endif /* LAB_CONSUMER_H */
