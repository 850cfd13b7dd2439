/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ring.c - consume a kevent ring with kevent_wait(2) and kevent_commit(2).
 *
 * Three USER kevents are readied six times over an 8-entry ring: 18
 * events, so the ring wraps twice. Exits 0 when every event arrived once,
 * in order, with its user data.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kevent.h>

#define RING_SIZE	8
#define NKEV		3
#define ROUNDS		6

#define die(msg)	do { perror(msg); exit(EXIT_FAILURE); } while (0)

static int kevent_init(struct kevent_ring *ring, unsigned int size,
		       unsigned int flags)
{
	return syscall(__NR_kevent_init, ring, size, flags);
}

static int kevent_ctl(int fd, unsigned int cmd, unsigned int num,
		      struct ukevent *arg)
{
	return syscall(__NR_kevent_ctl, fd, cmd, num, arg);
}

static int kevent_wait(int fd, unsigned int num, unsigned int old_uidx,
		       const struct __kernel_timespec *timeout,
		       unsigned int flags)
{
	return syscall(__NR_kevent_wait, fd, num, old_uidx, timeout, flags);
}

static int kevent_commit(int fd, unsigned int new_idx, unsigned int over)
{
	return syscall(__NR_kevent_commit, fd, new_idx, over);
}

/*
 * The kernel publishes ring_kidx and ring_over together in one 8-byte
 * store, after the entries: load them together, with acquire semantics,
 * and the entries before ring_kidx are visible.
 */
static void read_header(struct kevent_ring *ring, uint32_t *kidx,
			uint32_t *over)
{
	uint64_t word = __atomic_load_n((uint64_t *)ring, __ATOMIC_ACQUIRE);
	uint32_t hdr[2];

	memcpy(hdr, &word, sizeof(hdr));
	*kidx = hdr[0];
	*over = hdr[1];
}

int main(void)
{
	size_t len = sizeof(struct kevent_ring) +
		     RING_SIZE * sizeof(struct ukevent);
	struct __kernel_timespec timeout = { .tv_sec = 5 };
	struct ukevent uk[NKEV];
	struct kevent_ring *ring;
	uint32_t uidx = 0, kidx, over, expect = 0, got;
	int fd, i, n, round;

	/* Any 8-byte aligned, writable memory of this process will do. */
	ring = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED)
		die("mmap");
	fd = kevent_init(ring, RING_SIZE, KEVENT_INIT_CLOEXEC);
	if (fd == -1)
		die("kevent_init");

	memset(uk, 0, sizeof(uk));
	for (i = 0; i < NKEV; i++) {
		uk[i].type = KEVENT_USER;
		uk[i].id.raw_u64 = i;
		uk[i].user_u64 = 0xc0ffee00 + i;
	}
	/* ADD writes back only the entries that completed at once: none. */
	if (kevent_ctl(fd, KEVENT_CTL_ADD, NKEV, uk) != 0)
		die("kevent_ctl ADD");

	for (round = 0; round < ROUNDS; round++) {
		/* Fire all three, as an event source would. */
		if (kevent_ctl(fd, KEVENT_CTL_READY, NKEV, uk) != NKEV)
			die("kevent_ctl READY");

		for (got = 0; got < NKEV; ) {
			/*
			 * old_uidx is the ring_kidx we last saw: if the
			 * kernel wrote since, kevent_wait() returns 0 at
			 * once and we read the ring again.
			 */
			n = kevent_wait(fd, RING_SIZE, uidx, &timeout, 0);
			if (n == -1)
				die("kevent_wait");
			read_header(ring, &kidx, &over);
			if (n == 0 && kidx == uidx) {
				fprintf(stderr, "kevent_wait: timed out\n");
				exit(EXIT_FAILURE);
			}
			printf("kevent_wait: %d new, ring_kidx %u ring_over %u:",
			       n, kidx, over);
			for (; uidx != kidx; uidx = (uidx + 1) % RING_SIZE) {
				struct ukevent *e = &ring->event[uidx];

				if (e->user_u64 != 0xc0ffee00 + expect ||
				    !(e->ret_flags & KEVENT_RET_DONE)) {
					fprintf(stderr, "slot %u: bad event\n",
						uidx);
					exit(EXIT_FAILURE);
				}
				printf(" [%u] id %llu", uidx,
				       (unsigned long long)e->id.raw_u64);
				expect = (expect + 1) % NKEV;
				got++;
			}
			printf("\n");
			/*
			 * Everything before (over, kidx) is consumed: the
			 * kernel may write there again.
			 */
			if (kevent_commit(fd, kidx, over) == -1)
				die("kevent_commit");
		}
	}
	printf("%d events through a ring of %d entries, ring_over %u\n",
	       ROUNDS * NKEV, RING_SIZE, over);
	close(fd);
	munmap(ring, len);
	return EXIT_SUCCESS;
}
