# SPDX-License-Identifier: GPL-2.0
#
# Inspection commands (they read the stopped guest, never run it) and the
# convenience functions the walkthroughs' breakpoint conditions use.

import gdb

from kwalk import walk

from .base import Command, KeventError, command, field, frame_var, out
from .model import T, first_kevent, kevent_arg, queue_arg, queue_ptr_type, storage_arg
from .printers import struct_text


@command(gdb.COMMAND_DATA)
class KeventQueues(Command):
    """List kevent queues and their kevents: kevent-queues [PID] [-b]

Finds every open kevent file (anon inode of kevent_init() or /dev/kevent)
by walking the task list and each process's file table, and prints one line
per queue (PID, command, fd, address, counts, ring indexes), its counters
(those of fdinfo: added, removed, marked_ready, delivered, wakeups,
rechecked, stale) and one line per registered kevent (from the queue's
tree, in key order).

  kevent-queues          all processes
  kevent-queues 62       the queues of process 62
  kevent-queues -b       queue lines only (brief)"""

    def run(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        brief = "-b" in args
        args = [a for a in args if a != "-b"]
        pid = None
        if args:
            try:
                pid = int(args[0], 0)
            except ValueError:
                raise KeventError("kevent-queues takes a PID, got '%s'" % args[0])
        for line in walk.queues_lines(T, pid, brief):
            out(line)


@command(gdb.COMMAND_DATA)
class KeventReady(Command):
    """Show a queue's ready list: kevent-ready [QUEUE]

Prints the kevents on queue->ready_list in delivery order (head first), with
their state, flags and request, and checks that the list length matches
queue->ready_num. QUEUE is an expression (struct kevent_queue *, struct
kevent *, struct file *, an address) or PID:FD; without it, the q, k or st
of the selected frame, or the only queue there is."""

    def run(self, arg, from_tty):
        for line in walk.ready_lines(T, queue_arg(arg)):
            out(line)


@command(gdb.COMMAND_DATA)
class KeventRing(Command):
    """Show a queue's ring: kevent-ring [QUEUE] [all]

Prints the kernel's view (queue->rs: size, kidx, kover, uidx, uover, used,
free), then reads the user-space ring from the address space of the process
that owns the queue (through its page tables, so it works from any context):
the header ring_kidx/ring_over as user space sees it and the entries, each
marked 'used' (written, not yet committed) or 'free', with the positions of
uidx and kidx. Rings of more than 16 entries show only the used ones
unless 'all' is given. QUEUE as for kevent-ready."""

    def run(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        show_all = "all" in args
        args = [a for a in args if a != "all"]
        for line in walk.ring_lines(T, queue_arg(" ".join(args)), show_all):
            out(line)


@command(gdb.COMMAND_DATA)
class KeventStorage(Command):
    """Show a storage and the kevents watching it: kevent-storage [ST]

ST is a struct kevent_storage * (or a struct kevent *, meaning its storage);
without it, the st (or k) of the selected frame, e.g. inside
kevent_storage_notify(). Prints the origin (the kevent of a TIMER or USER
storage, the watched file of a POLL one) and one line per kevent on
st->list with the queue it belongs to, followed by what its type keeps: a
TIMER's hrtimer (armed or not), a POLL kevent's file and its wait-queue
hooks on it, with every entry of those wait queues."""

    def run(self, arg, from_tty):
        for line in walk.storage_lines(T, storage_arg(arg)):
            out(line)


@command(gdb.COMMAND_DATA)
class KeventWaiters(Command):
    """Show who sleeps on a queue: kevent-waiters [QUEUE]

Lists the entries of queue->wq (threads in kevent_get_events() and
kevent_wait(), all exclusive) and of queue->poll_wq (poll/select/epoll of
the queue fd), with the wake function and, for threads, their tid, command
and state; for a thread in kevent_get_events()/kevent_wait() also what it
waits for (min_nr events, and a free ring slot for kevent_wait()) and
whether kevent_wake_function() would wake it now or refuse it (a refused
wake-one goes on to the next waiter). When the selected frame is a wake
function (its argument 'wait' or 'curr'), that entry is marked '->'. QUEUE
as for kevent-ready."""

    def run(self, arg, from_tty):
        q = queue_arg(arg)
        current = None
        for name in ("wait", "curr", "wq_entry"):
            v = frame_var(name, "wait_queue_entry")
            if v is not None:
                current = int(v)
                break
        for line in walk.waiters_lines(T, q, current):
            out(line)


@command(gdb.COMMAND_DATA)
class KeventShow(Command):
    """Show one kevent in full: kevent-show [KEVENT]

KEVENT is a struct kevent * expression (default: k of the selected frame).
The same as 'print *KEVENT' with the pretty-printer, plus the lists it is
on and what its type keeps (as kevent-storage: a TIMER's hrtimer, a POLL
kevent's file and wait-queue hooks)."""

    def run(self, arg, from_tty):
        for line in walk.show_lines(T, kevent_arg(arg), struct_text):
            out(line)


# ---------------------------------------------------------------------------
# Convenience functions, for breakpoint conditions


class _KeventWithUser(gdb.Function):
    """$kevent_with_user(ST, USER): the kevent of storage ST whose user data
is USER, as a struct kevent * (0 when there is none)."""

    def __init__(self):
        super().__init__("kevent_with_user")

    def invoke(self, st, user):
        return first_kevent(st, user)


class _KeventFirst(gdb.Function):
    """$kevent_first(ST): the first kevent of storage ST (0 if none)."""

    def __init__(self):
        super().__init__("kevent_first")

    def invoke(self, st):
        return first_kevent(st)


class _KeventQueueOf(gdb.Function):
    """$kevent_queue_of(ST): the queue of the first kevent of storage ST."""

    def __init__(self):
        super().__init__("kevent_queue_of")

    def invoke(self, st):
        k = first_kevent(st)
        return field(k, "queue") if int(k) else gdb.Value(0).cast(queue_ptr_type())


_KeventWithUser()
_KeventFirst()
_KeventQueueOf()
