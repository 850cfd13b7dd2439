// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of lab/07-trace-stale: 32 pipes, each watched by a level
 * triggered POLL kevent whose user data is 0x7000 + its number. One byte
 * is written to every pipe and the 32 events are delivered; then a
 * random half of the pipes (seeded by argv[1]) is drained, and the queue
 * is read again. The next dequeue polls every requeued kevent again and
 * drops the drained ones as stale: which ones is what trace.sh must find.
 *
 *   workload SEED [EXPECTED]   EXPECTED: where the checker wants the truth
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "kevent_syscall.h"

#define NPIPES	32

int main(int argc, char **argv)
{
	unsigned int seed = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 1;
	struct ukevent buf[NPIPES];
	int q, p[NPIPES][2], i, n, drained[NPIPES] = { 0 };
	FILE *truth = NULL;
	char c;

	srand(seed);
	q = kevent_init(NULL, 0, 0);
	if (q < 0) {
		perror("kevent_init");
		return 2;
	}
	for (i = 0; i < NPIPES; i++) {
		struct ukevent uk;

		if (pipe2(p[i], O_NONBLOCK)) {
			perror("pipe2");
			return 2;
		}
		uk = ukevent_poll(p[i][0], POLLIN, 0);
		uk.user_u64 = 0x7000 + i;
		if (kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk) || write(p[i][1], "x", 1) != 1) {
			perror("ADD or write");
			return 2;
		}
	}
	n = kevent_get_events(q, NPIPES, NPIPES, NULL, buf, 0);
	if (n != NPIPES) {
		fprintf(stderr, "workload: %d events, expected %d\n", n, NPIPES);
		return 2;
	}
	for (i = 0; i < NPIPES; i++) {
		if (rand() % 2 && read(p[i][0], &c, 1) == 1)
			drained[i] = 1;
	}
	struct __kernel_timespec zero = kevent_ts(0, 0);

	n = kevent_get_events(q, 0, NPIPES, &zero, buf, 0);
	if (argc > 2)
		truth = fopen(argv[2], "w");
	for (i = 0; i < NPIPES; i++)
		if (drained[i] && truth)
			fprintf(truth, "0x%x\n", 0x7000 + i);
	if (truth)
		fclose(truth);
	printf("workload: seed %u, %d events re-delivered\n", seed, n);
	return 0;
}
