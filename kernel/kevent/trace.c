// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/trace.c - the definitions of kevent's tracepoints.
 *
 *
 * Overview
 * --------
 *
 * The events are declared in <trace/events/kevent.h>, which says what each
 * one records; this file instantiates them (CREATE_TRACE_POINTS) once for
 * the whole subsystem. The call sites are the one place of each step:
 * kevent_ctl() entries and the copy to an array in syscalls.c, the firing
 * of a source and the end of a delivery in core.c, wake-ups and the
 * dequeue in deliver.c, ring copies and kevent_commit() in ring.c, and the
 * error return of every system call where it returns. Disabled, each call
 * site is a static-key branch that is never taken (docs/trace.md).
 *
 *
 * Locking
 * -------
 *
 * None of its own: a tracepoint records what its caller shows it under the
 * caller's locks (the storage lock for kevent_storage_ready and
 * kevent_finish, queue->wq.lock for kevent_wake, ring_mutex for ring
 * copies and commits).
 *
 *
 * Field protection
 * ----------------
 *
 * None: no data of its own.
 */

#include "kevent.h"

#define CREATE_TRACE_POINTS
#include <trace/events/kevent.h>
