# SPDX-License-Identifier: GPL-2.0
#
# The kevent data structures as the GDB helpers see them. The walks
# (queues found through the processes' file tables, the kevents of a
# queue's tree, ready list and storages, waiters, the user ring) and the
# text of the views are gdb/kwalk/walk.py's, shared with drgn: here they
# are bound to GDB's target (target.py). What is GDB's alone is below: the
# resolution of command arguments (expressions, the selected frame).

import functools
import re

import gdb

from kwalk import walk

from .base import (KeventError, address_of_struct, as_pointer, expr,
                   frame_var, pointee_tag, pointer_to)
from .target import GdbTarget

T = GdbTarget()


def _bind(fn):
    return functools.partial(fn, T)


processes = _bind(walk.processes)
task_comm = _bind(walk.task_comm)
task_state = _bind(walk.task_state)
all_queues = _bind(walk.all_queues)
queue_owner = _bind(walk.queue_owner)
storage_kevents = _bind(walk.storage_kevents)
queue_kevents = _bind(walk.queue_kevents)
ready_kevents = _bind(walk.ready_kevents)
wait_entries = _bind(walk.wait_entries)
waiter_sink = _bind(walk.waiter_sink)
sink_wants = _bind(walk.sink_wants)
sink_refusal = _bind(walk.sink_refusal)
on_list = _bind(walk.on_list)
ukevent_text = _bind(walk.ukevent_text)
kevent_line = _bind(walk.kevent_line)
ring_indexes = _bind(walk.ring_indexes)
ring_used = walk.ring_used
read_user = T.read_user


def queue_ptr_type():
    return pointer_to("struct kevent_queue")


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
        return walk.queue_of_file(T, v, text)
    if v.type.strip_typedefs().code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_PTR):
        return as_pointer(v, "struct kevent_queue")
    raise KeventError("%s is a %s, not a queue" % (text, v.type))


def queue_arg(arg):
    """A struct kevent_queue * from a command argument (or the frame)."""
    arg = arg.strip()
    if arg:
        m = re.match(r"^(\d+):(\d+)$", arg)
        if m:
            return walk.queue_by_fd(T, int(m.group(1)), int(m.group(2)))
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
    k = walk.first_kevent(T, st, user)
    return k if k is not None else gdb.Value(0).cast(pointer_to("struct kevent"))

