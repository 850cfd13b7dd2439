# SPDX-License-Identifier: GPL-2.0
#
# The kevent data structures as both debuggers see them, and the text of
# their views: queues found through the processes' file tables, the
# kevents of a queue's tree, ready list and storages, the wait-queue
# entries of its waiters, a struct ukevent as text, the ring indexes and
# the user ring read from its owner's address space.
#
# Every function takes the target t first: the debugger's side of the seam
# (gdb/kwalk/__init__.py). A target has
#
#   Error, Fault          exception classes: a helper's error (a missing
#                         field, a bad argument), a read that faulted
#   member(v, name)       member name of struct v, or of what pointer v
#                         points to; Error naming the fields if it has none
#   field_names(v)        the named members of struct v
#   cast(addr, tag)       address as a struct tag *
#   container_of(p, tag, member)
#   address_of(v)         the address of an lvalue, as an int
#   list_entries(head, tag, member), rb_entries(root, tag, member)
#                         the struct tag * of a list_head / rb_root (in
#                         order), given the head or root or a pointer to it
#   tasks()               every task_struct *
#   string(v)             a char array as text
#   symbol(addr)          the symbol at addr as text ('name', 'name + off'),
#                         or None
#   symbol_address(name)  the address of a kernel symbol, or None
#   sizeof(tag)           size of struct tag
#   read(addr, n)         n bytes of kernel memory
#   read_user(mm, uaddr, n)  n bytes of the user address space mm, or None
#   from_bytes(data, tag) a struct tag value made of bytes
#
# Values are the debugger's (gdb.Value, drgn.Object); int() of one is its
# number or address, v[i] an array element: what both have in common.

from .constants import (K, event_names, flag_names, id_text, kflags_text,
                        state_text, type_name)


def field(t, v, path):
    """v.a.b for path 'a.b' (through pointers)."""
    for name in path.split("."):
        v = t.member(v, name)
    return v


def num(t, v, path):
    return int(field(t, v, path))


def u64(v):
    return int(v) & 0xffffffffffffffff


def symbol_at(t, addr):
    """A code or data address as its symbol, 'NULL', or hex."""
    addr = int(addr)
    if not addr:
        return "NULL"
    return t.symbol(addr) or "%#x" % addr


# ---------------------------------------------------------------------------
# Tasks and files


def processes(t):
    """One task_struct * per thread group that has its own file table."""
    seen = set()
    for task in t.tasks():
        files = num(t, task, "files")
        if files and files not in seen:
            seen.add(files)
            yield task


def task_comm(t, task):
    try:
        return t.string(field(t, task, "comm"))
    except t.Fault:
        return "?"


def task_state(t, task):
    """ps-style letter of a task's state."""
    state = num(t, task, "__state")
    if state == 0:
        return "R"
    if state & 0x400:  # TASK_NOLOAD: idle kernel threads
        return "I"
    for letter, bit in (("S", 1), ("D", 2), ("T", 4), ("t", 8), ("X", 16),
                        ("Z", 32)):
        if state & bit:
            return letter
    return "%#x" % state


def task_files(t, task):
    """(fd, struct file *) of a task's open files."""
    fdt = field(t, task, "files.fdt")
    if not int(fdt):
        return
    max_fds = num(t, fdt, "max_fds")
    fd_array = num(t, fdt, "fd")
    if not fd_array or max_fds <= 0 or max_fds > 1 << 20:
        return
    # one read of the whole fd array: a target read per fd is slow
    raw = t.read(fd_array, 8 * max_fds)
    for fd in range(max_fds):
        addr = int.from_bytes(raw[8 * fd:8 * fd + 8], "little")
        if addr:
            yield fd, t.cast(addr, "file")


def kevent_fops(t):
    addr = t.symbol_address("kevent_fops")
    if addr is None:
        raise t.Error("symbol kevent_fops not found: is this the lab "
                      "kernel with CONFIG_KEVENT?")
    return addr


def all_queues(t, pid=None):
    """(task, fd, queue) for every kevent file of every process (or pid)."""
    fops = kevent_fops(t)
    for proc in processes(t):
        if pid is not None and num(t, proc, "tgid") != pid:
            continue
        for fd, f in task_files(t, proc):
            try:
                if num(t, f, "f_op") != fops:
                    continue
                q = t.cast(num(t, f, "private_data"), "kevent_queue")
            except t.Fault:
                continue
            yield proc, fd, q


def queue_owner(t, q):
    """(task, fd) of the first process with q open, or (None, None)."""
    for task, fd, qq in all_queues(t):
        if int(qq) == int(q):
            return task, fd
    return None, None


def queue_of_file(t, f, text):
    """The queue of struct file * f, or an error naming text."""
    if num(t, f, "f_op") != kevent_fops(t):
        raise t.Error("%s is not a kevent file (f_op is %s)"
                      % (text, symbol_at(t, field(t, f, "f_op"))))
    return t.cast(num(t, f, "private_data"), "kevent_queue")


def queue_by_fd(t, pid, fd):
    """The queue process pid has open on fd (the PID:FD argument)."""
    for task, f, q in all_queues(t, pid):
        if f == fd:
            return q
    raise t.Error("process %d has no kevent queue on fd %d" % (pid, fd))


# ---------------------------------------------------------------------------
# kevents, storages, queues, waiters


def storage_kevents(t, st):
    return t.list_entries(field(t, st, "list"), "kevent", "storage_entry")


def queue_kevents(t, q):
    return t.rb_entries(field(t, q, "tree"), "kevent", "node")


def ready_kevents(t, q):
    return t.list_entries(field(t, q, "ready_list"), "kevent", "ready_entry")


def wait_entries(t, wqh):
    return t.list_entries(field(t, wqh, "head"), "wait_queue_entry", "entry")


def first_kevent(t, st, user=None):
    """The first kevent of storage st (whose user data is user, if given),
    or None."""
    for k in storage_kevents(t, st):
        if user is None or u64(field(t, k, "event.user_u64")) == u64(user):
            return k
    return None


def waiter_sink(t, entry):
    """The struct kevent_sink * a thread waits with, from its entry on
    queue->wq (a struct kevent_waiter of deliver.c), or None."""
    try:
        return field(t, t.container_of(entry, "kevent_waiter", "wait"), "sink")
    except (t.Error, t.Fault):
        return None


def sink_wants(t, sink):
    """What a waiter waits for, as text: its min_nr and, for kevent_wait(),
    a free ring slot."""
    min_nr = num(t, sink, "min_nr")
    return "%d event%s%s" % (min_nr, "" if min_nr == 1 else "s",
                             " and a ring slot" if num(t, sink, "need_space") else "")


def sink_refusal(t, sink):
    """Why kevent_wake_function() would refuse this waiter an ordinary
    (not a kick) wake-up now, or None if it would wake it: the same test as
    kevent_sink_ready() and kevent_sink_kicked() of deliver.c."""
    q = field(t, sink, "q")
    if num(t, q, "kick.counter") != num(t, sink, "kick"):
        return None
    ready = num(t, q, "ready_num")
    if ready < num(t, sink, "min_nr"):
        return "ready_num=%d < min_nr=%d" % (ready, num(t, sink, "min_nr"))
    if num(t, sink, "need_space") and not num(t, q, "ring_free"):
        return "no free ring slot"
    return None


def on_list(t, entry):
    """Is a struct list_head linked (not pointing to itself)?"""
    return num(t, entry, "next") != t.address_of(entry)


def ukevent_fields(t, uk):
    """The fields of a struct ukevent value as a dict of ints."""
    ident = field(t, uk, "id")
    raw = field(t, ident, "raw")
    ret_data = field(t, uk, "ret_data")
    return {
        "raw0": int(raw[0]), "raw1": int(raw[1]),
        "id": u64(field(t, ident, "raw_u64")),
        "type": num(t, uk, "type"), "event": num(t, uk, "event"),
        "req_flags": num(t, uk, "req_flags"),
        "ret_flags": num(t, uk, "ret_flags"),
        "ret_data": (int(ret_data[0]), int(ret_data[1])),
        "user": u64(field(t, uk, "user_u64")),
    }


def ukevent_text(t, uk, short=False):
    f = ukevent_fields(t, uk)
    if short:
        return ("%s id=%s event=%s req=%s ret=%s ret_data={%d, %d} user=%#x"
                % (type_name(f["type"]).replace("KEVENT_", ""), "%#x" % f["id"],
                   event_names(f["type"], f["event"]),
                   flag_names(f["req_flags"], K.req, "KEVENT_REQ_"),
                   flag_names(f["ret_flags"], K.ret, "KEVENT_RET_"),
                   f["ret_data"][0], f["ret_data"][1], f["user"]))
    return ("{type = %s, id = %s, event = %s, req_flags = %s, ret_flags = %s, "
            "ret_data = {%d, %d}, user = %#x}"
            % (type_name(f["type"]), id_text(f["type"], f["raw0"], f["raw1"], f["id"]),
               event_names(f["type"], f["event"]),
               flag_names(f["req_flags"], K.req),
               flag_names(f["ret_flags"], K.ret),
               f["ret_data"][0], f["ret_data"][1], f["user"]))


def kevent_line(t, k):
    """One line describing a struct kevent *."""
    flags = num(t, k, "flags")
    return ("kevent %#x %s fired=%d flags=%s st=%#x: %s"
            % (int(k), state_text(flags), num(t, k, "fired"),
               kflags_text(flags), num(t, k, "st"),
               ukevent_text(t, field(t, k, "event"), short=True)))


def kevent_items(t, k):
    """struct kevent as (name, text) pairs: state and flags named, the
    request decoded (GDB's pretty-printer, drgn's kevent_show())."""
    flags = num(t, k, "flags")
    return [
        ("state", state_text(flags)),
        ("flags", kflags_text(flags)),
        ("fired", num(t, k, "fired")),
        ("snap_fired", num(t, k, "snap_fired")),
        ("snap_req_flags", flag_names(num(t, k, "snap_req_flags"), K.req)),
        ("refcnt", num(t, k, "refcnt.refs.counter")),
        ("queue", "%#x" % num(t, k, "queue")),
        ("st", "%#x" % num(t, k, "st")),
        ("cb", "&" + symbol_at(t, field(t, k, "cb"))),
        ("priv", "%#x" % num(t, k, "priv")),
        ("event", ukevent_text(t, field(t, k, "event"))),
    ]


def ring_indexes(t, rs):
    """The fields of a struct kevent_ring_state as a dict of ints."""
    return {n: num(t, rs, n) for n in ("size", "kidx", "kover", "uidx", "uover")}


def ring_used(f):
    if f["kover"] == f["uover"]:
        return (f["kidx"] - f["uidx"]) & 0xffffffff
    return (f["size"] - f["uidx"] + f["kidx"]) & 0xffffffff


def queue_stats(t, q):
    """The counters of q->stat (fdinfo's), as 'name=value' text."""
    stat = field(t, q, "stat")
    return " ".join("%s=%d" % (name, num(t, stat, name + ".counter"))
                    for name in t.field_names(stat))


def queue_summary(t, q):
    rs = field(t, q, "rs")
    return ("registered=%d ready=%d waiters=%d ring=%s"
            % (num(t, q, "kevent_num"), num(t, q, "ready_num"),
               num(t, q, "waiters.counter"),
               "none" if not num(t, rs, "size") else
               "%d entries kidx=%d over=%d uidx=%d free=%d"
               % (num(t, rs, "size"), num(t, rs, "kidx"), num(t, rs, "kover"),
                  num(t, rs, "uidx"), num(t, q, "ring_free"))))


# ---------------------------------------------------------------------------
# What a kevent's type keeps (k->priv): a TIMER's hrtimer, a POLL kevent's
# file and wait-queue hooks (storage_timer.c, storage_poll.c)


def is_type(t, k, name):
    """Is kevent k of type KEVENT_<name>?"""
    return num(t, k, "event.type") == K["KEVENT_" + name]


def timer_of(t, k):
    return t.cast(num(t, k, "priv"), "kevent_timer")


def timer_armed(t, kt):
    """Is the hrtimer queued (hrtimer_is_queued(), fdinfo's armed=)?"""
    return bool(num(t, kt, "timer.state") & K["HRTIMER_STATE_ENQUEUED"])


def poll_of(t, k):
    return t.cast(num(t, k, "priv"), "kevent_poll")


def poll_hooks(t, kp):
    """The struct kevent_poll_hook * of a POLL kevent, in kp->hooks order."""
    hook = field(t, kp, "hooks")
    while int(hook):
        yield hook
        hook = field(t, hook, "next")


def poll_hook_kevent(t, entry):
    """The kevent of a kevent_poll_wake() entry on a watched file's wait
    queue."""
    hook = t.container_of(entry, "kevent_poll_hook", "wait")
    return field(t, field(t, hook, "kp"), "k")


# ---------------------------------------------------------------------------
# The views: the lines GDB's kevent-queues, kevent-ready, kevent-ring,
# kevent-storage and kevent-waiters print, and drgn's functions of the same
# names (docs/gdb.md, docs/drgn.md)


def queues_lines(t, pid=None, brief=False):
    """Every kevent queue (of process pid) with its counters and kevents."""
    lines = []
    for task, fd, q in all_queues(t, pid):
        lines.append("pid %d (%s) fd %d: queue %#x %s"
                     % (num(t, task, "tgid"), task_comm(t, task), fd, int(q),
                        queue_summary(t, q)))
        if brief:
            continue
        lines.append("    stat: " + queue_stats(t, q))
        for k in queue_kevents(t, q):
            lines.append("    " + kevent_line(t, k))
    if not lines:
        lines.append("no kevent queue open%s"
                     % ("" if pid is None else " in process %d" % pid))
    return lines


def ready_lines(t, q):
    """q's ready list in delivery order, checked against ready_num."""
    entries = list(ready_kevents(t, q))
    n = num(t, q, "ready_num")
    lines = ["queue %#x ready list: %d kevent(s), ready_num=%d"
             % (int(q), len(entries), n)]
    for i, k in enumerate(entries):
        lines.append("  #%d %s" % (i, kevent_line(t, k)))
    if not entries:
        lines.append("  (empty)")
    if n != len(entries):
        lines.append("  warning: ready_num %d but %d entries on the list"
                     " (in the middle of an update?)" % (n, len(entries)))
    return lines


def ring_lines(t, q, show_all=False):
    """q's ring: the kernel's indexes, then the header and entries read
    from the address space of the process that owns the queue."""
    f = ring_indexes(t, field(t, q, "rs"))
    if not f["size"]:
        return ["queue %#x has no ring" % int(q)]
    used = ring_used(f)
    ring = num(t, q, "ring")
    lines = ["queue %#x ring at user address %#x, %d entries" % (int(q), ring, f["size"]),
             "  kernel: kidx=%d kover=%d uidx=%d uover=%d used=%d free=%d ring_free=%d"
             % (f["kidx"], f["kover"], f["uidx"], f["uover"], used,
                f["size"] - used, num(t, q, "ring_free"))]
    task, fd = queue_owner(t, q)
    if task is None or not num(t, task, "mm"):
        lines.append("  user memory: no process with this queue open; cannot read the ring")
        return lines
    esize = t.sizeof("ukevent")
    hdr_size = t.sizeof("kevent_ring")
    data = t.read_user(field(t, task, "mm"), ring, hdr_size + f["size"] * esize)
    if data is None:
        lines.append("  user memory of pid %d at %#x is not resident"
                     % (num(t, task, "tgid"), ring))
        return lines
    hdr = t.from_bytes(data[:hdr_size], "kevent_ring")
    lines.append("  user (pid %d %s): ring_kidx=%d ring_over=%d"
                 % (num(t, task, "tgid"), task_comm(t, task), num(t, hdr, "ring_kidx"),
                    num(t, hdr, "ring_over")))
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
            text = ukevent_text(t, t.from_bytes(raw, "ukevent"), short=True)
        else:
            text = "(zero)"
        lines.append("  [%d] %-4s %-9s %s" % (i, "used" if is_used else "free",
                                             "<-" + ",".join(marks) if marks else "",
                                             text))
    return lines


# wake functions whose entry's private is the sleeping task
_TASK_WAKE_FUNCTIONS = ("kevent_wake_function", "default_wake_function",
                        "autoremove_wake_function", "woken_wake_function")


def entry_line(t, e, mark=False):
    """One entry of a wait queue: exclusive or not, its wake function and
    whom it wakes: a thread (with what a kevent waiter waits for) or, for a
    POLL kevent's hook on a watched file, the kevent and its queue."""
    flags = num(t, e, "flags")
    func = symbol_at(t, field(t, e, "func"))
    private = num(t, e, "private")
    who = ""
    if func in _TASK_WAKE_FUNCTIONS and private:
        task = t.cast(private, "task_struct")
        who = "tid %d (%s) state %s" % (num(t, task, "pid"), task_comm(t, task),
                                        task_state(t, task))
        if func == "kevent_wake_function":
            sink = waiter_sink(t, e)
            why = sink_refusal(t, sink)
            # what kevent_wake_function() would do with a wake-up now
            who += ", wants %s; wake function now: %s" % (
                sink_wants(t, sink), "refuse (%s)" % why if why else "wake")
    elif func == "kevent_poll_wake":
        k = poll_hook_kevent(t, e)
        who = "kevent %#x of queue %#x" % (int(k), num(t, k, "queue"))
    return ("%s entry %#x %s func=%s %s"
            % ("->" if mark else "  ", int(e),
               "exclusive" if flags & 0x01 else "shared   ", func, who)).rstrip()


def wait_queue_lines(t, wqh, indent, current=None):
    """(number of entries, their lines) of a wait_queue_head; the entry
    at address current is marked '->'."""
    entries = list(wait_entries(t, wqh))
    return len(entries), [indent + entry_line(t, e, current == int(e)) for e in entries]


def type_lines(t, k):
    """What the kevent's type keeps beyond struct kevent: a TIMER's hrtimer
    (armed or not: it fires once and is re-armed only once its expiry was
    delivered), a POLL kevent's file and its hooks on the file's wait
    queues (exclusive for WAKEUP_ONE, as EPOLLEXCLUSIVE), each wait queue
    with all its entries."""
    lines = []
    if is_type(t, k, "TIMER"):
        kt = timer_of(t, k)
        lines.append("timer %#x: armed=%d period=%dns readies=%d"
                     % (int(kt), timer_armed(t, kt), num(t, kt, "period"),
                        num(t, kt, "readies")))
    elif is_type(t, k, "POLL"):
        kp = poll_of(t, k)
        f = field(t, kp, "file")
        lines.append("file %#x %s, %s hooks"
                     % (int(f), "f_op=%s" % symbol_at(t, field(t, f, "f_op")) if int(f)
                        else "(gone: the kevent is being removed)",
                        "exclusive (WAKEUP_ONE)" if num(t, kp, "exclusive")
                        else "shared"))
        for hook in poll_hooks(t, kp):
            whead = field(t, hook, "whead")
            if not int(whead):
                lines.append("hook %#x: unhooked by POLLFREE" % int(hook))
                continue
            n, entries = wait_queue_lines(t, whead, "  ",
                                          t.address_of(field(t, hook, "wait")))
            lines.append("hook %#x on wait queue %#x, %d entr%s (-> this hook):"
                         % (int(hook), int(whead), n, "y" if n == 1 else "ies"))
            lines.extend(entries)
    return lines


def storage_lines(t, st):
    """A storage, its origin and the kevents on st->list, each with what
    its type keeps."""
    kevents = list(storage_kevents(t, st))
    origin = num(t, st, "origin")
    if any(int(k) == origin for k in kevents):
        origin_text = "kevent %#x (its own storage)" % origin
    elif any(is_type(t, k, "POLL") for k in kevents):
        origin_text = "file %#x" % origin
    else:
        origin_text = symbol_at(t, origin)
    lines = ["storage %#x origin=%s: %d kevent(s)" % (int(st), origin_text, len(kevents))]
    for k in kevents:
        lines.append("  queue %#x %s" % (num(t, k, "queue"), kevent_line(t, k)))
        for line in type_lines(t, k):
            lines.append("    " + line)
    if not kevents:
        lines.append("  (no kevent)")
    return lines


def waiters_lines(t, q, current=None):
    """Who sleeps on q: the entries of q->wq and q->poll_wq."""
    # what kevent_wake_function() decides on: ready events, free slots
    lines = ["queue %#x: waiters=%d wakeups=%d ready_num=%d%s"
             % (int(q), num(t, q, "waiters.counter"), num(t, q, "stat.wakeups.counter"),
                num(t, q, "ready_num"),
                " ring_free=%d" % num(t, q, "ring_free") if num(t, q, "rs.size") else "")]
    for name in ("wq", "poll_wq"):
        n, entries = wait_queue_lines(t, field(t, q, name), "    ", current)
        lines.append("  %s: %d entr%s" % (name, n, "y" if n == 1 else "ies"))
        lines.extend(entries)
    return lines


def show_lines(t, k, struct_text):
    """One kevent in full: struct_text(items) of kevent_items(), the lists
    it is on, what its type keeps."""
    lines = ["kevent %#x = %s" % (int(k), struct_text(kevent_items(t, k))),
             "  on the ready list: %s; on its storage list: %s"
             % ("yes" if on_list(t, field(t, k, "ready_entry")) else "no",
                "yes" if on_list(t, field(t, k, "storage_entry")) else "no")]
    lines.extend("  " + line for line in type_lines(t, k))
    return lines
