/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_wait - wait for the next event of a queue, bounded: the "wait_one"
 * that suites need when an event must come (docs/lab.md, "Writing a test").
 */
#ifndef KLAB_KT_WAIT_H
#define KLAB_KT_WAIT_H

#include "kevent_test.h"

/* Time a kt_wait_one() waits before it fails the test. */
#define KT_WAIT_ONE_S	30

/*
 * Exactly one event of queue q within KT_WAIT_ONE_S seconds, or the test
 * fails and ends (reported at the caller's line).
 */
#define kt_wait_one(q) kt_wait_one_at(__FILE__, __LINE__, (q))
struct ukevent kt_wait_one_at(const char *file, int line, int q);

#endif /* KLAB_KT_WAIT_H */
