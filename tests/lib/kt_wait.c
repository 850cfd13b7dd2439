// SPDX-License-Identifier: GPL-2.0
/*
 * kt_wait.c - kt_wait_one(): one event, with a bounded blocking wait.
 */
#include <errno.h>

#include "kt_wait.h"

struct ukevent kt_wait_one_at(const char *file, int line, int q)
{
	struct __kernel_timespec ts = kevent_ts(KT_WAIT_ONE_S, 0);
	struct ukevent ev;
	int r = kevent_get_events(q, 1, 1, &ts, &ev, 0);

	if (r != 1) {
		kt_fail_at(file, line, "expected one event, got %d (errno %d)", r, errno);
		kt_end_test();
	}
	return ev;
}
