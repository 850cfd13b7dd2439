# SPDX-License-Identifier: GPL-2.0
#
# Inspection commands (they read the stopped guest, never run it) and the
# convenience functions the walkthroughs' breakpoint conditions use.

import gdb

from .base import (Command, KeventError, command, field, frame_var, out,
                   pointer_to, symbol_at)
from .model import (all_queues, first_kevent, is_type, kevent_arg, kevent_line,
                    on_list, poll_hook_kevent, poll_hooks, poll_of, queue_arg,
                    queue_kevents, queue_owner, queue_ptr_type, queue_stats,
                    queue_summary, read_user, ready_kevents, ring_indexes,
                    ring_used, sink_refusal, sink_wants, storage_arg,
                    storage_kevents, task_comm, task_state, timer_armed,
                    timer_of, ukevent_text, wait_entries, waiter_sink)
from .printers import KeventPrinter


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
        n = 0
        for task, fd, q in all_queues(pid):
            n += 1
            out("pid %d (%s) fd %d: queue %#x %s"
                % (int(task["tgid"]), task_comm(task), fd, int(q), queue_summary(q)))
            if brief:
                continue
            out("    stat: " + queue_stats(q))
            for k in queue_kevents(q):
                out("    " + kevent_line(k))
        if not n:
            out("no kevent queue open%s" % ("" if pid is None else " in process %d" % pid))


@command(gdb.COMMAND_DATA)
class KeventReady(Command):
    """Show a queue's ready list: kevent-ready [QUEUE]

Prints the kevents on queue->ready_list in delivery order (head first), with
their state, flags and request, and checks that the list length matches
queue->ready_num. QUEUE is an expression (struct kevent_queue *, struct
kevent *, struct file *, an address) or PID:FD; without it, the q, k or st
of the selected frame, or the only queue there is."""

    def run(self, arg, from_tty):
        q = queue_arg(arg)
        entries = list(ready_kevents(q))
        num = int(field(q, "ready_num"))
        out("queue %#x ready list: %d kevent(s), ready_num=%d"
            % (int(q), len(entries), num))
        for i, k in enumerate(entries):
            out("  #%d %s" % (i, kevent_line(k)))
        if not entries:
            out("  (empty)")
        if num != len(entries):
            out("  warning: ready_num %d but %d entries on the list"
                " (in the middle of an update?)" % (num, len(entries)))


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
        q = queue_arg(" ".join(args))
        f = ring_indexes(field(q, "rs"))
        if not f["size"]:
            out("queue %#x has no ring" % int(q))
            return
        used = ring_used(f)
        ring = int(field(q, "ring"))
        out("queue %#x ring at user address %#x, %d entries"
            % (int(q), ring, f["size"]))
        out("  kernel: kidx=%d kover=%d uidx=%d uover=%d used=%d free=%d ring_free=%d"
            % (f["kidx"], f["kover"], f["uidx"], f["uover"], used,
               f["size"] - used, int(field(q, "ring_free"))))
        task, fd = queue_owner(q)
        if task is None or not int(task["mm"]):
            out("  user memory: no process with this queue open; cannot read the ring")
            return
        uk_type = pointer_to("struct ukevent").target()
        ring_type = pointer_to("struct kevent_ring").target()
        esize = uk_type.sizeof
        hdr_size = ring_type.sizeof
        data = read_user(task["mm"], ring, hdr_size + f["size"] * esize)
        if data is None:
            out("  user memory of pid %d at %#x is not resident"
                % (int(task["tgid"]), ring))
            return
        hdr = gdb.Value(data[:hdr_size], ring_type)
        out("  user (pid %d %s): ring_kidx=%d ring_over=%d"
            % (int(task["tgid"]), task_comm(task), int(field(hdr, "ring_kidx")),
               int(field(hdr, "ring_over"))))
        for i in range(f["size"]):
            # slot i is used if it lies in [uidx, kidx) going round the ring
            is_used = ((i - f["uidx"]) % f["size"]) < used
            if f["size"] > 16 and not show_all and not is_used and i != f["kidx"]:
                continue
            marks = []
            if i == f["uidx"]:
                marks.append("uidx")
            if i == f["kidx"]:
                marks.append("kidx")
            off = hdr_size + i * esize
            raw = data[off:off + esize]
            if any(raw):
                text = ukevent_text(gdb.Value(raw, uk_type), short=True)
            else:
                text = "(zero)"
            out("  [%d] %-4s %-9s %s" % (i, "used" if is_used else "free",
                                        "<-" + ",".join(marks) if marks else "",
                                        text))


def symbol_or_hex(v):
    addr = int(v)
    s = symbol_at(addr)
    return s if not s.startswith("0x") else "%#x" % addr


# wake functions whose entry's private is the sleeping task
_TASK_WAKE_FUNCTIONS = ("kevent_wake_function", "default_wake_function",
                        "autoremove_wake_function", "woken_wake_function")


def entry_line(e, mark=None):
    """One entry of a wait queue: exclusive or not, its wake function and
    whom it wakes: a thread (with what a kevent waiter waits for) or, for a
    POLL kevent's hook on a watched file, the kevent and its queue."""
    flags = int(field(e, "flags"))
    func = symbol_at(field(e, "func"))
    private = int(field(e, "private"))
    who = ""
    if func in _TASK_WAKE_FUNCTIONS and private:
        t = gdb.Value(private).cast(pointer_to("struct task_struct"))
        who = "tid %d (%s) state %s" % (int(t["pid"]), task_comm(t), task_state(t))
        if func == "kevent_wake_function":
            sink = waiter_sink(e)
            why = sink_refusal(sink)
            # what kevent_wake_function() would do with a wake-up now
            who += ", wants %s; wake function now: %s" % (
                sink_wants(sink), "refuse (%s)" % why if why else "wake")
    elif func == "kevent_poll_wake":
        k = poll_hook_kevent(e)
        who = "kevent %#x of queue %#x" % (int(k), int(field(k, "queue")))
    return ("%s entry %#x %s func=%s %s"
            % ("->" if mark else "  ", int(e),
               "exclusive" if flags & 0x01 else "shared   ", func, who)).rstrip()


def wait_queue_lines(wqh, indent, current=None):
    entries = list(wait_entries(wqh))
    lines = []
    for e in entries:
        lines.append(indent + entry_line(e, current == int(e)))
    return len(entries), lines


def type_lines(k):
    """What the kevent's type keeps beyond struct kevent: a TIMER's hrtimer
    (armed or not: it fires once and is re-armed only once its expiry was
    delivered), a POLL kevent's file and its hooks on the file's wait
    queues (exclusive for WAKEUP_ONE, as EPOLLEXCLUSIVE), each wait queue
    with all its entries."""
    lines = []
    if is_type(k, "TIMER"):
        kt = timer_of(k)
        lines.append("timer %#x: armed=%d period=%dns readies=%d"
                     % (int(kt), timer_armed(kt), int(field(kt, "period")),
                        int(field(kt, "readies"))))
    elif is_type(k, "POLL"):
        kp = poll_of(k)
        f = field(kp, "file")
        lines.append("file %#x %s, %s hooks"
                     % (int(f), "f_op=%s" % symbol_at(field(f, "f_op")) if int(f)
                        else "(gone: the kevent is being removed)",
                        "exclusive (WAKEUP_ONE)" if int(field(kp, "exclusive"))
                        else "shared"))
        for hook in poll_hooks(kp):
            whead = field(hook, "whead")
            if not int(whead):
                lines.append("hook %#x: unhooked by POLLFREE" % int(hook))
                continue
            n, entries = wait_queue_lines(whead, "  ", int(field(hook, "wait").address))
            lines.append("hook %#x on wait queue %#x, %d entr%s (-> this hook):"
                         % (int(hook), int(whead), n, "y" if n == 1 else "ies"))
            lines.extend(entries)
    return lines


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
        st = storage_arg(arg)
        kevents = list(storage_kevents(st))
        origin = int(field(st, "origin"))
        if any(int(k) == origin for k in kevents):
            origin_text = "kevent %#x (its own storage)" % origin
        elif any(is_type(k, "POLL") for k in kevents):
            origin_text = "file %#x" % origin
        else:
            origin_text = symbol_or_hex(field(st, "origin"))
        out("storage %#x origin=%s: %d kevent(s)" % (int(st), origin_text, len(kevents)))
        for k in kevents:
            out("  queue %#x %s" % (int(field(k, "queue")), kevent_line(k)))
            for line in type_lines(k):
                out("    " + line)
        if not kevents:
            out("  (no kevent)")


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
        # what kevent_wake_function() decides on: ready events, free slots
        out("queue %#x: waiters=%d wakeups=%d ready_num=%d%s"
            % (int(q), int(field(q, "waiters")["counter"]),
               int(field(q, "stat.wakeups")["counter"]), int(field(q, "ready_num")),
               " ring_free=%d" % int(field(q, "ring_free"))
               if int(field(q, "rs.size")) else ""))
        for name in ("wq", "poll_wq"):
            n, lines = wait_queue_lines(field(q, name), "    ", current)
            out("  %s: %d entr%s" % (name, n, "y" if n == 1 else "ies"))
            for line in lines:
                out(line)


@command(gdb.COMMAND_DATA)
class KeventShow(Command):
    """Show one kevent in full: kevent-show [KEVENT]

KEVENT is a struct kevent * expression (default: k of the selected frame).
The same as 'print *KEVENT' with the pretty-printer, plus the lists it is
on and what its type keeps (as kevent-storage: a TIMER's hrtimer, a POLL
kevent's file and wait-queue hooks)."""

    def run(self, arg, from_tty):
        k = kevent_arg(arg)
        out("kevent %#x = %s" % (int(k), KeventPrinter(k.dereference()).to_string()))
        out("  on the ready list: %s; on its storage list: %s"
            % ("yes" if on_list(field(k, "ready_entry")) else "no",
               "yes" if on_list(field(k, "storage_entry")) else "no"))
        for line in type_lines(k):
            out("  " + line)


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
