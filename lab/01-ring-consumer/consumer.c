// SPDX-License-Identifier: GPL-2.0
/*
 * lab/01-ring-consumer: consume a kevent ring with kevent_wait() and
 * kevent_commit(). The protocol is in docs/abi.md ("kevent_wait and the
 * ring"); the interface in consumer.h.
 */
#include <errno.h>

#include "consumer.h"

/*
 * The kernel publishes (ring_kidx, ring_over) in one 8-byte store after
 * the entries: one 8-byte acquire load gives a consistent position and
 * orders the entry reads after it.
 */
static void ring_position(const struct kevent_ring *ring, __u32 *kidx,
			  __u32 *over)
{
	__u64 word = __atomic_load_n((const __u64 *)&ring->ring_kidx,
				     __ATOMIC_ACQUIRE);

	/* little endian: ring_kidx is the low half, as the kernel stores it */
	*kidx = (__u32)word;
	*over = (__u32)(word >> 32);
}

int ring_consume(struct ring_consumer *c, int timeout_ms, consume_fn fn,
		 void *arg)
{
	/* LAB(01) begin: wait, read every written entry once, commit them */
	struct __kernel_timespec ts = kevent_ts_ms(timeout_ms);
	__u32 kidx, over;
	int n = 0;

	/*
	 * old_uidx is where we are: if the kernel wrote past it meanwhile,
	 * kevent_wait() returns 0 at once instead of sleeping on events we
	 * have not read yet.
	 */
	if (kevent_wait(c->q, c->size, c->uidx, &ts, 0) < 0)
		return -1;
	ring_position(c->ring, &kidx, &over);
	/*
	 * Compare positions, not indexes: a full ring has kidx == uidx, one
	 * lap ahead.
	 */
	while (c->uidx != kidx || c->over != over) {
		fn(&c->ring->event[c->uidx], arg);
		n++;
		if (++c->uidx == c->size) {
			c->uidx = 0;
			c->over++;
		}
	}
	/* (over, uidx) is the lap of the position we commit up to */
	if (n && kevent_commit(c->q, c->uidx, c->over) < 0)
		return -1;
	return n;
	/* LAB(01) end */
	(void)c;
	(void)timeout_ms;
	(void)fn;
	(void)arg;
	(void)ring_position;
	errno = ENOSYS;
	return -1;
}
