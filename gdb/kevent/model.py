# SPDX-License-Identifier: GPL-2.0
#
# The kevent data structures as the helpers see them: queues found through
# the processes' file tables, the kevents of a queue's tree, ready list and
# storages, the wait-queue entries of its waiters, a struct ukevent as text,
# the user ring read from its owner's address space, and the resolution of
# command arguments into those objects. Walks of lists, trees, tasks and
# page tables are the kernel's own (scripts/gdb/linux); what is here is
# only what they do not know about.

import re

import gdb

from linux import lists, pgtable, rbtree, tasks, utils

from .base import (KeventError, address_of_struct, as_pointer, expr, field,
                   frame_var, pointee_tag, pointer_to, symbol_at,
                   u64)
from .constants import (K, event_names, flag_names, id_text, kflags_text,
                        state_text, type_name)

# ---------------------------------------------------------------------------
# Tasks and files


def processes():
    """One task_struct * per thread group that has its own file table."""
    try:
        # paging is not set up while the guest is halted at reset
        gdb.parse_and_eval("init_task.tasks.next").fetch_lazy()
    except gdb.MemoryError:
        raise KeventError("the kernel has not started yet (init_task cannot "
                          "be read): 'continue' to boot it first")
    seen = set()
    for task in tasks.task_lists():
        files = int(task["files"])
        if files and files not in seen:
            seen.add(files)
            yield task


def task_comm(task):
    try:
        return task["comm"].string(errors="replace")
    except gdb.error:
        return "?"


def task_state(task):
    """ps-style letter of a task's state."""
    state = int(task["__state"])
    if state == 0:
        return "R"
    if state & 0x400:  # TASK_NOLOAD: idle kernel threads
        return "I"
    for letter, bit in (("S", 1), ("D", 2), ("T", 4), ("t", 8), ("X", 16),
                        ("Z", 32)):
        if state & bit:
            return letter
    return "%#x" % state


def task_files(task):
    """(fd, struct file *) of a task's open files."""
    fdt = task["files"]["fdt"]
    if not int(fdt):
        return
    max_fds = int(fdt["max_fds"])
    fd_array = int(fdt["fd"])
    if not fd_array or max_fds <= 0 or max_fds > 1 << 20:
        return
    file_ptr = pointer_to("struct file")
    # one read of the whole fd array: a target read per fd is slow
    raw = bytes(gdb.selected_inferior().read_memory(fd_array, 8 * max_fds))
    for fd in range(max_fds):
        addr = int.from_bytes(raw[8 * fd:8 * fd + 8], "little")
        if addr:
            yield fd, gdb.Value(addr).cast(file_ptr)


def _kevent_fops_addr():
    try:
        return int(gdb.parse_and_eval("&kevent_fops"))
    except gdb.error:
        raise KeventError("symbol kevent_fops not found: is this the lab "
                          "kernel with CONFIG_KEVENT?")


def queue_ptr_type():
    return pointer_to("struct kevent_queue")


def all_queues(pid=None):
    """(task, fd, queue) for every kevent file of every process (or pid)."""
    fops = _kevent_fops_addr()
    for proc in processes():
        if pid is not None and int(proc["tgid"]) != pid:
            continue
        for fd, f in task_files(proc):
            try:
                if int(f["f_op"]) != fops:
                    continue
                q = f["private_data"].cast(queue_ptr_type())
            except gdb.MemoryError:
                continue
            yield proc, fd, q


def queue_owner(q):
    """(task, fd) of the first process with q open, or (None, None)."""
    for task, fd, qq in all_queues():
        if int(qq) == int(q):
            return task, fd
    return None, None


# ---------------------------------------------------------------------------
# kevents, storages, queues, waiters


def storage_kevents(st):
    return lists.list_for_each_entry(field(st, "list"), pointer_to("struct kevent"),
                                     "storage_entry")


def queue_kevents(q):
    return rbtree.rb_inorder_for_each_entry(field(q, "tree"), pointer_to("struct kevent"),
                                            "node")


def ready_kevents(q):
    return lists.list_for_each_entry(field(q, "ready_list"), pointer_to("struct kevent"),
                                     "ready_entry")


def wait_entries(wqh):
    return lists.list_for_each_entry(field(wqh, "head"),
                                     pointer_to("struct wait_queue_entry"), "entry")


def waiter_sink(entry):
    """The struct kevent_sink * a thread waits with, from its entry on
    queue->wq (a struct kevent_waiter of deliver.c), or None."""
    try:
        return field(utils.container_of(entry, pointer_to("struct kevent_waiter"),
                                        "wait"), "sink")
    except (gdb.error, KeventError):
        return None


def sink_wants(sink):
    """What a waiter waits for, as text: its min_nr and, for kevent_wait(),
    a free ring slot."""
    return "%d event%s%s" % (int(field(sink, "min_nr")),
                             "" if int(field(sink, "min_nr")) == 1 else "s",
                             " and a ring slot" if int(field(sink, "need_space")) else "")


def sink_refusal(sink):
    """Why kevent_wake_function() would refuse this waiter an ordinary
    (not a kick) wake-up now, or None if it would wake it: the same test as
    kevent_sink_ready() and kevent_sink_kicked() of deliver.c."""
    q = field(sink, "q")
    if int(field(q, "kick")["counter"]) != int(field(sink, "kick")):
        return None
    ready = int(field(q, "ready_num"))
    if ready < int(field(sink, "min_nr")):
        return "ready_num=%d < min_nr=%d" % (ready, int(field(sink, "min_nr")))
    if int(field(sink, "need_space")) and not int(field(q, "ring_free")):
        return "no free ring slot"
    return None


def on_list(entry):
    """Is a struct list_head linked (not pointing to itself)?"""
    return int(entry["next"]) != int(entry.address)


def ukevent_fields(uk):
    """The fields of a struct ukevent value as a dict of ints."""
    ident = field(uk, "id")
    raw = field(ident, "raw")
    ret_data = field(uk, "ret_data")
    return {
        "raw0": int(raw[0]), "raw1": int(raw[1]),
        "id": u64(field(ident, "raw_u64")),
        "type": int(field(uk, "type")), "event": int(field(uk, "event")),
        "req_flags": int(field(uk, "req_flags")),
        "ret_flags": int(field(uk, "ret_flags")),
        "ret_data": (int(ret_data[0]), int(ret_data[1])),
        "user": u64(field(uk, "user_u64")),
    }


def ukevent_text(uk, short=False):
    f = ukevent_fields(uk)
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


def kevent_line(k):
    """One line describing a struct kevent *."""
    flags = int(field(k, "flags"))
    return ("kevent %#x %s fired=%d flags=%s st=%#x: %s"
            % (int(k), state_text(flags), int(field(k, "fired")),
               kflags_text(flags), int(field(k, "st")),
               ukevent_text(field(k, "event"), short=True)))


def ring_indexes(rs):
    """The fields of a struct kevent_ring_state as a dict of ints."""
    return {n: int(field(rs, n)) for n in ("size", "kidx", "kover", "uidx", "uover")}


def ring_used(f):
    if f["kover"] == f["uover"]:
        return (f["kidx"] - f["uidx"]) & 0xffffffff
    return (f["size"] - f["uidx"] + f["kidx"]) & 0xffffffff


def _counter(v):
    """An atomic_long_t's value, or a plain counter's (marked_ready is one)."""
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        return int(v["counter"])
    return int(v)


def queue_stats(q):
    """The counters of q->stat (fdinfo's), as 'name=value' text."""
    stat = field(q, "stat")
    t = stat.type.strip_typedefs()
    return " ".join("%s=%d" % (f.name, _counter(stat[f.name]))
                    for f in t.fields() if f.name)


def queue_summary(q):
    rs = field(q, "rs")
    return ("registered=%d ready=%d waiters=%d ring=%s"
            % (int(field(q, "kevent_num")), int(field(q, "ready_num")),
               int(field(q, "waiters")["counter"]),
               "none" if not int(field(rs, "size")) else
               "%d entries kidx=%d over=%d uidx=%d free=%d"
               % (int(rs["size"]), int(rs["kidx"]), int(rs["kover"]),
                  int(rs["uidx"]), int(field(q, "ring_free")))))


# ---------------------------------------------------------------------------
# What a kevent's type keeps (k->priv): a TIMER's hrtimer, a POLL kevent's
# file and wait-queue hooks (storage_timer.c, storage_poll.c)


def is_type(k, name):
    """Is kevent k of type KEVENT_<name>?"""
    return int(field(k, "event.type")) == K["KEVENT_" + name]


def timer_of(k):
    return as_pointer(field(k, "priv"), "struct kevent_timer")


def timer_armed(kt):
    """Is the hrtimer queued (hrtimer_is_queued(), fdinfo's armed=)?"""
    return bool(int(field(kt, "timer.state")) & K["HRTIMER_STATE_ENQUEUED"])


def poll_of(k):
    return as_pointer(field(k, "priv"), "struct kevent_poll")


def poll_hooks(kp):
    """The struct kevent_poll_hook * of a POLL kevent, in kp->hooks order."""
    hook = field(kp, "hooks")
    while int(hook):
        yield hook
        hook = field(hook, "next")


def poll_hook_kevent(entry):
    """The kevent of a kevent_poll_wake() entry on a watched file's wait
    queue."""
    hook = utils.container_of(entry, pointer_to("struct kevent_poll_hook"), "wait")
    return field(field(hook, "kp"), "k")


# ---------------------------------------------------------------------------
# User memory: the ring lives in the address space of the queue's owner


def user_to_kernel(mm, uaddr):
    """Kernel (direct map) address of user address uaddr in mm, or None,
    walking mm's page tables with the kernel's pgtable helpers (so it works
    whatever process the CPU is running)."""
    pob = int(pgtable._page_offset_base())
    levels = 5 if int(gdb.parse_and_eval("__pgtable_l5_enabled")) else 4
    entry = pgtable.Cr3(int(field(mm, "pgd")) - pob, levels).next_entry(uaddr)
    while entry is not None:
        if not entry.entry_present[1]:
            return None
        if entry.is_page:
            size = 1 << (12 + 9 * (entry.page_hierarchy_level - 1))
            return pob + int(entry.page_physical_address) + (uaddr & (size - 1))
        entry = entry.next_entry(uaddr)
    return None


def read_user(mm, uaddr, length):
    """Bytes at user address uaddr of mm (page by page), or None."""
    data = b""
    while length > 0:
        chunk = min(length, 4096 - (uaddr & 0xfff))
        kaddr = user_to_kernel(mm, uaddr)
        if kaddr is None:
            return None
        data += bytes(gdb.selected_inferior().read_memory(kaddr, chunk))
        uaddr += chunk
        length -= chunk
    return data


# ---------------------------------------------------------------------------
# Command arguments


def _to_queue(v, text):
    v = address_of_struct(v)
    tag = pointee_tag(v)
    if tag == "kevent_queue":
        return v
    if tag == "kevent":
        return v["queue"]
    if tag == "file":
        if int(v["f_op"]) != _kevent_fops_addr():
            raise KeventError("%s is not a kevent file (f_op is %s)"
                              % (text, symbol_at(v["f_op"])))
        return v["private_data"].cast(queue_ptr_type())
    if v.type.strip_typedefs().code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_PTR):
        return as_pointer(v, "struct kevent_queue")
    raise KeventError("%s is a %s, not a queue" % (text, v.type))


def queue_arg(arg):
    """A struct kevent_queue * from a command argument (or the frame)."""
    arg = arg.strip()
    if arg:
        m = re.match(r"^(\d+):(\d+)$", arg)
        if m:
            pid, fd = int(m.group(1)), int(m.group(2))
            for task, f, q in all_queues(pid):
                if f == fd:
                    return q
            raise KeventError("process %d has no kevent queue on fd %d" % (pid, fd))
        return _to_queue(expr(arg), arg)
    for name in ("q", "queue"):
        v = frame_var(name, "kevent_queue")
        if v is not None:
            return v
    for name in ("k", "kevent"):
        v = frame_var(name, "kevent")
        if v is not None:
            return v["queue"]
    st = frame_var("st", "kevent_storage")
    if st is not None:
        for k in storage_kevents(st):
            return k["queue"]
    qs = list(all_queues())
    if len(qs) == 1:
        return qs[0][2]
    raise KeventError("which queue? Give an expression (a struct kevent_queue *, "
                      "struct kevent *, struct file *, address) or PID:FD; "
                      "kevent-queues lists %d queue(s)" % len(qs))


def kevent_arg(arg):
    arg = arg.strip()
    if not arg:
        for name in ("k", "kevent"):
            v = frame_var(name, "kevent")
            if v is not None:
                return v
        raise KeventError("which kevent? give a struct kevent * expression")
    return as_pointer(address_of_struct(expr(arg)), "struct kevent")


def storage_arg(arg):
    arg = arg.strip()
    if not arg:
        v = frame_var("st", "kevent_storage")
        if v is not None:
            return v
        k = frame_var("k", "kevent")
        if k is not None:
            return k["st"]
        raise KeventError("which storage? give a struct kevent_storage * or "
                          "struct kevent * expression")
    v = address_of_struct(expr(arg))
    if pointee_tag(v) == "kevent":
        return v["st"]
    return as_pointer(v, "struct kevent_storage")


def first_kevent(st, user=None):
    """The first kevent of storage st (whose user data is user, if given),
    or a NULL struct kevent *."""
    for k in storage_kevents(st):
        if user is None or u64(field(k, "event.user_u64")) == u64(user):
            return k
    return gdb.Value(0).cast(pointer_to("struct kevent"))

