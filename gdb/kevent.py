# SPDX-License-Identifier: GPL-2.0
#
# gdb/kevent.py - GDB commands, convenience functions and pretty-printers for
# the kevent subsystem of the lab kernel.
#
#   (gdb) source gdb/kevent.py        (make gdb and make gdb-attach do it)
#   (gdb) kevent-help                 what is here
#
# Everything is looked up by name in the kernel's debug information at the
# time a command runs, so the helpers follow changes of kernel/kevent/ as
# long as the names they use exist; when one does not, the command says
# which field or symbol is missing instead of printing a Python traceback.
# The numeric constants (types, flags) are read from the headers of the
# repository, kernel/include/uapi/linux/kevent.h and kernel/kevent/kevent.h.

import os
import re

import gdb

# ---------------------------------------------------------------------------
# Constants, read from the headers (with the values of the ABI as fallback)

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
_UAPI_H = os.path.join(_ROOT, "kernel", "include", "uapi", "linux", "kevent.h")
_KEVENT_H = os.path.join(_ROOT, "kernel", "kevent", "kevent.h")

_FALLBACK = {
    "KEVENT_SOCKET": 0, "KEVENT_INODE": 1, "KEVENT_TIMER": 2, "KEVENT_POLL": 3,
    "KEVENT_NAIO": 4, "KEVENT_AIO": 5, "KEVENT_PIPE": 6, "KEVENT_SIGNAL": 7,
    "KEVENT_POSIX_TIMER": 8, "KEVENT_USER": 9, "KEVENT_MAX_TYPES": 10,
    "KEVENT_REQ_ONESHOT": 0x1, "KEVENT_REQ_WAKEUP_ONE": 0x2,
    "KEVENT_REQ_ET": 0x4, "KEVENT_REQ_LAST_CHECK": 0x8,
    "KEVENT_REQ_ALWAYS_QUEUE": 0x10,
    "KEVENT_RET_BROKEN": 0x1, "KEVENT_RET_DONE": 0x2,
    "KEVENT_RET_COPY_FAILED": 0x4,
    "KEVENT_TIMER_FIRED": 0x1,
    "KEVENT_F_READY": 0x01, "KEVENT_F_INFLIGHT": 0x02,
    "KEVENT_F_PENDING": 0x04, "KEVENT_F_RECHECK": 0x08,
    "KEVENT_F_COUNTED_ONE": 0x10, "KEVENT_F_DEAD": 0x20,
}

_POLL_BITS = [
    ("POLLIN", 0x1), ("POLLPRI", 0x2), ("POLLOUT", 0x4), ("POLLERR", 0x8),
    ("POLLHUP", 0x10), ("POLLNVAL", 0x20), ("POLLRDNORM", 0x40),
    ("POLLRDBAND", 0x80), ("POLLWRNORM", 0x100), ("POLLWRBAND", 0x200),
    ("POLLMSG", 0x400), ("POLLRDHUP", 0x2000),
]

_DEFINE_RE = re.compile(r"^\s*#\s*define\s+(KEVENT_\w+)\s+(0[xX][0-9a-fA-F]+|\d+)\b")


def _parse_defines(path):
    values = {}
    try:
        with open(path) as f:
            for line in f:
                m = _DEFINE_RE.match(line)
                if not m:
                    continue
                text = m.group(2)
                if text.lower().startswith("0x"):
                    values[m.group(1)] = int(text, 16)
                elif len(text) > 1 and text.startswith("0"):
                    values[m.group(1)] = int(text, 8)
                else:
                    values[m.group(1)] = int(text)
    except OSError:
        pass
    return values


def _load_constants():
    c = dict(_FALLBACK)
    c.update(_parse_defines(_UAPI_H))
    c.update(_parse_defines(_KEVENT_H))
    max_types = c.get("KEVENT_MAX_TYPES", 10)
    not_types = ("KEVENT_CTL_", "KEVENT_REQ_", "KEVENT_RET_", "KEVENT_FLAGS_",
                 "KEVENT_INIT_", "KEVENT_MAX_", "KEVENT_F_", "KEVENT_CB_",
                 "KEVENT_TIMER_FIRED", "KEVENT_WAIT_", "KEVENT_POLL_")
    types = {}
    for name, value in c.items():
        if name.startswith(not_types) or value >= max_types:
            continue
        types.setdefault(value, name)

    def bits(prefix, skip=("MASK",)):
        out = [(n, v) for n, v in c.items()
               if n.startswith(prefix) and n[len(prefix):] not in skip and v]
        return sorted(out, key=lambda nv: nv[1])

    return {
        "types": types,
        "req": bits("KEVENT_REQ_"),
        "ret": bits("KEVENT_RET_"),
        "kflags": bits("KEVENT_F_"),
        "all": c,
    }


K = _load_constants()


def _const(name):
    return K["all"].get(name, _FALLBACK.get(name))


def type_name(t):
    return K["types"].get(int(t), "type %d" % int(t))


def flag_names(value, table, strip=""):
    """'A|B|0x40' for the bits of value named in table [(name, bit)]."""
    value = int(value)
    names = []
    rest = value
    for name, bit in table:
        if value & bit == bit:
            names.append(name[len(strip):] if strip and name.startswith(strip) else name)
            rest &= ~bit
    if rest:
        names.append("%#x" % rest)
    return "|".join(names) if names else "0"


def event_names(etype, event):
    etype, event = int(etype), int(event)
    if etype == _const("KEVENT_TIMER"):
        return flag_names(event, [("TIMER_FIRED", _const("KEVENT_TIMER_FIRED"))])
    if etype == _const("KEVENT_POLL"):
        return flag_names(event, _POLL_BITS)
    return "%#x" % event


def id_text(etype, raw0, raw1, raw_u64):
    etype = int(etype)
    if etype == _const("KEVENT_TIMER"):
        return "%#x (period %d.%09d s)" % (raw_u64, raw0, raw1)
    if etype == _const("KEVENT_POLL"):
        return "%#x (fd %d)" % (raw_u64, raw0)
    return "%#x" % raw_u64


# ---------------------------------------------------------------------------
# Small GDB helpers

class KeventError(gdb.GdbError):
    pass


def _lookup_type(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        raise KeventError("type '%s' not found in the debug info: is vmlinux "
                          "loaded (file vmlinux) and built with kevent?" % name)


def _has_field(val, name):
    t = val.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_PTR:
        t = t.target().strip_typedefs()
    return _find_field(t, name) is not None


def _find_field(t, name):
    """The gdb.Field of t named name, looking into anonymous unions."""
    for f in t.fields():
        if f.name == name:
            return f
        if f.name is None:
            sub = _find_field(f.type.strip_typedefs(), name)
            if sub is not None:
                return sub
    return None


def field(val, path):
    """val.a.b for path 'a.b', with a clear error if a field is missing."""
    for name in path.split("."):
        t = val.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_PTR:
            val = val.dereference()
            t = val.type.strip_typedefs()
        if _find_field(t, name) is None:
            fields = [f.name for f in t.fields() if f.name]
            raise KeventError("%s has no field '%s' (kernel changed? it has: %s)"
                              % (t, name, ", ".join(fields)))
        val = val[name]
    return val


def offset_of(typ, path):
    """Byte offset of member path ('a.b') in struct type typ."""
    off = 0
    t = typ.strip_typedefs()
    for name in path.split("."):
        f = _find_field_path(t, name)
        if f is None:
            raise KeventError("%s has no field '%s'" % (typ, name))
        for part in f:
            off += part.bitpos // 8
        t = f[-1].type.strip_typedefs()
    return off


def _find_field_path(t, name):
    for f in t.fields():
        if f.name == name:
            return [f]
        if f.name is None:
            sub = _find_field_path(f.type.strip_typedefs(), name)
            if sub is not None:
                return [f] + sub
    return None


def container_of(ptr, typename, member):
    typ = _lookup_type(typename)
    addr = int(ptr) - offset_of(typ, member)
    return gdb.Value(addr).cast(typ.pointer())


def list_entries(head, typename, member, limit=100000):
    """The entries of a struct list_head, as 'typename *' values."""
    head_addr = int(head.address) if head.type.code != gdb.TYPE_CODE_PTR else int(head)
    if head.type.code == gdb.TYPE_CODE_PTR:
        head = head.dereference()
    node = head["next"]
    prev = head_addr
    n = 0
    while int(node) != head_addr:
        if int(node) == 0:
            raise KeventError("list at %#x: NULL next pointer (corrupt or "
                              "uninitialised list)" % head_addr)
        if int(node["prev"]) != prev:
            raise KeventError("list at %#x: entry %#x has prev %#x, expected "
                              "%#x (corrupt list, or it changed while read)"
                              % (head_addr, int(node), int(node["prev"]), prev))
        yield container_of(node, typename, member)
        n += 1
        if n >= limit:
            raise KeventError("list at %#x: more than %d entries, giving up"
                              % (head_addr, limit))
        prev = int(node)
        node = node["next"]


def rb_inorder(root, limit=100000):
    """rb_node pointers of a struct rb_root, in order."""
    node = root["rb_node"]
    stack = []
    n = 0
    while stack or int(node):
        while int(node):
            stack.append(node)
            node = node["rb_left"]
        node = stack.pop()
        yield node
        n += 1
        if n >= limit:
            raise KeventError("rbtree: more than %d nodes, giving up" % limit)
        node = node["rb_right"]


def symbol_at(addr):
    addr = int(addr)
    if not addr:
        return "NULL"
    try:
        block = gdb.block_for_pc(addr)
        if block is not None and block.function is not None:
            return block.function.name
    except (RuntimeError, gdb.error):
        pass
    try:
        out = gdb.execute("info symbol %#x" % addr, to_string=True).strip()
        if not out.startswith("No symbol"):
            return out.split(" in section")[0].replace(" + 0", "")
    except gdb.error:
        pass
    return "%#x" % addr


def read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), "little")


def _expr(arg):
    try:
        return gdb.parse_and_eval(arg)
    except gdb.error as e:
        raise KeventError("cannot evaluate '%s': %s" % (arg, e))


def _frame_var(name):
    """A variable of the selected frame, or None."""
    try:
        frame = gdb.selected_frame()
        v = frame.read_var(name)
        if v.is_optimized_out:
            return None
        return v
    except (gdb.error, ValueError, RuntimeError):
        return None


# ---------------------------------------------------------------------------
# Tasks and files

def _task_type():
    return _lookup_type("struct task_struct")


def processes():
    init = gdb.parse_and_eval("init_task")
    try:
        started = int(init["tasks"]["next"]) != 0
    except gdb.MemoryError:
        started = False  # paging not set up yet: halted at reset
    if not started:
        raise KeventError("the kernel has not started yet (init_task is "
                          "empty): 'continue' to boot it first")
    yield init.address
    for t in list_entries(init["tasks"], "struct task_struct", "tasks"):
        yield t


def task_comm(task):
    try:
        return task["comm"].string(errors="replace")
    except gdb.error:
        return "?"


def task_state(task):
    """ps-style letter of a task's state."""
    name = "__state" if _has_field(task, "__state") else "state"
    state = int(task[name])
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
    files = task["files"]
    if not int(files):
        return
    fdt = files["fdt"]
    if not int(fdt):
        return
    max_fds = int(fdt["max_fds"])
    fd_array = int(fdt["fd"])
    if not fd_array or max_fds <= 0 or max_fds > 1 << 20:
        return
    file_ptr = _lookup_type("struct file").pointer()
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
    return _lookup_type("struct kevent_queue").pointer()


def all_queues(pid=None):
    """(task, fd, queue) for every kevent file of every process (or pid)."""
    fops = _kevent_fops_addr()
    seen = set()
    for proc in processes():
        if pid is not None and int(proc["tgid"]) != pid:
            continue
        files = int(proc["files"])
        if not files or files in seen:
            continue
        seen.add(files)
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
# Arguments

def queue_arg(arg):
    """A struct kevent_queue * from a command argument (or the frame)."""
    arg = arg.strip()
    qtype = queue_ptr_type()
    if arg:
        m = re.match(r"^(\d+):(\d+)$", arg)
        if m:
            pid, fd = int(m.group(1)), int(m.group(2))
            for task, f, q in all_queues(pid):
                if f == fd:
                    return q
            raise KeventError("process %d has no kevent queue on fd %d" % (pid, fd))
        v = _expr(arg)
        return _to_queue(v, arg)
    for name in ("q", "queue"):
        v = _frame_var(name)
        if v is not None and _pointee_tag(v) == "kevent_queue":
            return v
    for name in ("k", "kevent"):
        v = _frame_var(name)
        if v is not None and _pointee_tag(v) == "kevent":
            return v["queue"]
    st = _frame_var("st")
    if st is not None and _pointee_tag(st) == "kevent_storage":
        for k in storage_kevents(st):
            return k["queue"]
    qs = list(all_queues())
    if len(qs) == 1:
        return qs[0][2]
    raise KeventError("which queue? Give an expression (a struct kevent_queue *, "
                      "struct kevent *, struct file *, address) or PID:FD; "
                      "kevent-queues lists %d queue(s)" % len(qs))


def _pointee_tag(v):
    t = v.type.strip_typedefs()
    if t.code != gdb.TYPE_CODE_PTR:
        return t.tag
    return t.target().strip_typedefs().tag


def _to_queue(v, text):
    tag = _pointee_tag(v)
    t = v.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_STRUCT:
        v = v.address
    if tag == "kevent_queue":
        return v
    if tag == "kevent":
        return v["queue"]
    if tag == "file":
        if int(v["f_op"]) != _kevent_fops_addr():
            raise KeventError("%s is not a kevent file (f_op is %s)"
                              % (text, symbol_at(v["f_op"])))
        return v["private_data"].cast(queue_ptr_type())
    if t.code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_PTR):
        return v.cast(gdb.lookup_type("unsigned long")).cast(queue_ptr_type())
    raise KeventError("%s is a %s, not a queue" % (text, v.type))


def kevent_arg(arg):
    arg = arg.strip()
    if not arg:
        for name in ("k", "kevent"):
            v = _frame_var(name)
            if v is not None and _pointee_tag(v) == "kevent":
                return v
        raise KeventError("which kevent? give a struct kevent * expression")
    v = _expr(arg)
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        v = v.address
    return v.cast(gdb.lookup_type("unsigned long")).cast(
        _lookup_type("struct kevent").pointer())


def storage_arg(arg):
    arg = arg.strip()
    sttype = _lookup_type("struct kevent_storage").pointer()
    if not arg:
        v = _frame_var("st")
        if v is not None and _pointee_tag(v) == "kevent_storage":
            return v
        k = _frame_var("k")
        if k is not None and _pointee_tag(k) == "kevent":
            return k["st"]
        raise KeventError("which storage? give a struct kevent_storage * or "
                          "struct kevent * expression")
    v = _expr(arg)
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        v = v.address
    if _pointee_tag(v) == "kevent":
        return v["st"]
    return v.cast(gdb.lookup_type("unsigned long")).cast(sttype)


# ---------------------------------------------------------------------------
# kevents, storages, queues

def storage_kevents(st):
    return list_entries(field(st, "list"), "struct kevent", "storage_entry")


def queue_kevents(q):
    for node in rb_inorder(field(q, "tree")):
        yield container_of(node, "struct kevent", "node")


def ready_kevents(q):
    return list_entries(field(q, "ready_list"), "struct kevent", "ready_entry")


def kflags_text(flags):
    return flag_names(flags, K["kflags"], "KEVENT_F_")


def state_text(flags):
    flags = int(flags)
    if flags & _const("KEVENT_F_READY"):
        return "ready"
    if flags & _const("KEVENT_F_INFLIGHT"):
        return "inflight"
    if flags & _const("KEVENT_F_DEAD"):
        return "dead"
    return "waiting"


def _u(v):
    return int(v) & 0xffffffffffffffff


def ukevent_fields(uk):
    """The fields of a struct ukevent value as a dict of ints."""
    ident = field(uk, "id")
    raw = field(ident, "raw")
    return {
        "raw0": int(raw[0]), "raw1": int(raw[1]),
        "id": _u(field(ident, "raw_u64")),
        "type": int(field(uk, "type")), "event": int(field(uk, "event")),
        "req_flags": int(field(uk, "req_flags")),
        "ret_flags": int(field(uk, "ret_flags")),
        "ret_data": (int(field(uk, "ret_data")[0]), int(field(uk, "ret_data")[1])),
        "user": _u(field(uk, "user_u64")),
    }


def ukevent_text(uk, short=False):
    f = ukevent_fields(uk)
    if short:
        return ("%s id=%s event=%s req=%s ret=%s ret_data={%d, %d} user=%#x"
                % (type_name(f["type"]).replace("KEVENT_", ""), "%#x" % f["id"],
                   event_names(f["type"], f["event"]),
                   flag_names(f["req_flags"], K["req"], "KEVENT_REQ_"),
                   flag_names(f["ret_flags"], K["ret"], "KEVENT_RET_"),
                   f["ret_data"][0], f["ret_data"][1], f["user"]))
    return ("{type = %s, id = %s, event = %s, req_flags = %s, ret_flags = %s, "
            "ret_data = {%d, %d}, user = %#x}"
            % (type_name(f["type"]), id_text(f["type"], f["raw0"], f["raw1"], f["id"]),
               event_names(f["type"], f["event"]),
               flag_names(f["req_flags"], K["req"]),
               flag_names(f["ret_flags"], K["ret"]),
               f["ret_data"][0], f["ret_data"][1], f["user"]))


def kevent_line(k):
    """One line describing a struct kevent *."""
    flags = int(field(k, "flags"))
    return ("kevent %#x %s fired=%d flags=%s st=%#x: %s"
            % (int(k), state_text(flags), int(field(k, "fired")),
               kflags_text(flags), int(field(k, "st")),
               ukevent_text(field(k, "event"), short=True)))


def refcount_value(r):
    try:
        return int(r["refs"]["counter"])
    except gdb.error:
        return int(r)


# ---------------------------------------------------------------------------
# User memory: the ring lives in the address space of the queue's owner

def _page_offset_base():
    try:
        return int(gdb.parse_and_eval("page_offset_base"))
    except gdb.error:
        return 0xffff888000000000


def _l5_enabled():
    try:
        return bool(int(gdb.parse_and_eval("__pgtable_l5_enabled")))
    except gdb.error:
        return False


_PHYS_MASK = 0x000ffffffffff000


def user_to_kernel(mm, uaddr):
    """Kernel (direct map) address of user address uaddr in mm, or None."""
    pob = _page_offset_base()
    table = int(field(mm, "pgd"))
    shifts = (48, 39, 30, 21, 12) if _l5_enabled() else (39, 30, 21, 12)
    for shift in shifts:
        entry = read_u64(table + ((uaddr >> shift) & 511) * 8)
        if not entry & 1:
            return None
        if shift in (30, 21) and entry & 0x80:
            mask = (1 << shift) - 1
            return pob + ((entry & _PHYS_MASK) & ~mask) + (uaddr & mask)
        if shift == 12:
            return pob + (entry & _PHYS_MASK) + (uaddr & 0xfff)
        table = pob + (entry & _PHYS_MASK)
    return None


def read_user(mm, uaddr, length):
    """Bytes at user address uaddr of mm (page by page), or None."""
    out = b""
    while length > 0:
        chunk = min(length, 4096 - (uaddr & 0xfff))
        kaddr = user_to_kernel(mm, uaddr)
        if kaddr is None:
            return None
        out += bytes(gdb.selected_inferior().read_memory(kaddr, chunk))
        uaddr += chunk
        length -= chunk
    return out


# ---------------------------------------------------------------------------
# Pretty-printers

def _pretty():
    try:
        return bool(gdb.parameter("print pretty"))
    except RuntimeError:
        return False


def _struct_text(items):
    if _pretty():
        return "{\n" + ",\n".join("  %s = %s" % kv for kv in items) + "\n}"
    return "{" + ", ".join("%s = %s" % kv for kv in items) + "}"


class UkeventPrinter:
    """struct ukevent with its type, event and flags named."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            return ukevent_text(self.val)
        except (gdb.error, KeventError) as e:
            return "<struct ukevent: %s>" % e


class KeventPrinter:
    """struct kevent: state and flags named, the request decoded."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        try:
            flags = int(field(v, "flags"))
            items = [
                ("state", state_text(flags)),
                ("flags", kflags_text(flags)),
                ("fired", int(field(v, "fired"))),
            ]
            # fields some versions of the kernel have
            if _has_field(v, "snap_fired"):
                items.append(("snap_fired", int(v["snap_fired"])))
            if _has_field(v, "snap_req_flags"):
                items.append(("snap_req_flags",
                              flag_names(v["snap_req_flags"], K["req"])))
            items += [
                ("refcnt", refcount_value(field(v, "refcnt"))),
                ("queue", "%#x" % int(field(v, "queue"))),
                ("st", "%#x" % int(field(v, "st"))),
                ("cb", "&" + symbol_at(field(v, "cb"))),
                ("priv", "%#x" % int(field(v, "priv"))),
                ("event", ukevent_text(field(v, "event"))),
            ]
            return _struct_text(items)
        except (gdb.error, KeventError) as e:
            return "<struct kevent: %s>" % e


class RingStatePrinter:
    """struct kevent_ring_state with the used/free counts."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        try:
            names = ("size", "kidx", "kover", "uidx", "uover")
            f = {n: int(field(v, n)) for n in names}
            used = ring_used(f)
            items = [(n, f[n]) for n in names] + [("used", used), ("free", f["size"] - used)]
            return _struct_text(items)
        except (gdb.error, KeventError) as e:
            return "<struct kevent_ring_state: %s>" % e


def ring_used(f):
    if f["kover"] == f["uover"]:
        return (f["kidx"] - f["uidx"]) & 0xffffffff
    return (f["size"] - f["uidx"] + f["kidx"]) & 0xffffffff


_PRINTERS = {
    "ukevent": UkeventPrinter,
    "kevent": KeventPrinter,
    "kevent_ring_state": RingStatePrinter,
}


def _lookup_printer(val):
    t = val.type.strip_typedefs()
    if t.code != gdb.TYPE_CODE_STRUCT:
        return None
    cls = _PRINTERS.get(t.tag)
    return cls(val) if cls else None


def _register_printers():
    for i, p in enumerate(gdb.pretty_printers):
        if getattr(p, "__name__", "") == "_lookup_printer":
            gdb.pretty_printers[i] = _lookup_printer
            return
    gdb.pretty_printers.append(_lookup_printer)


# ---------------------------------------------------------------------------
# Commands

_COMMANDS = []


class _KCommand(gdb.Command):
    """Base of the kevent commands: GDB errors become one-line messages."""

    def invoke(self, arg, from_tty):
        try:
            self.run(arg, from_tty)
        except gdb.GdbError:
            raise
        except gdb.MemoryError as e:
            raise KeventError("%s: %s (a stale or wrong address? is the kernel "
                              "in the middle of changing it?)" % (self.name, e))
        except gdb.error as e:
            raise KeventError("%s: %s" % (self.name, e))


def _command(cls):
    _COMMANDS.append(cls)
    cls()
    return cls


def _out(text=""):
    gdb.write(text + "\n")


def queue_summary(q):
    rs = field(q, "rs")
    return ("registered=%d ready=%d waiters=%d ring=%s"
            % (int(field(q, "kevent_num")), int(field(q, "ready_num")),
               int(field(q, "waiters")["counter"]),
               "none" if not int(field(rs, "size")) else
               "%d entries kidx=%d over=%d uidx=%d free=%d"
               % (int(rs["size"]), int(rs["kidx"]), int(rs["kover"]),
                  int(rs["uidx"]), int(field(q, "ring_free")))))


@_command
class KeventQueues(_KCommand):
    """List kevent queues and their kevents: kevent-queues [PID] [-b]

Finds every open kevent file (anon inode of kevent_init() or /dev/kevent)
by walking the task list and each process's file table, and prints one line
per queue (PID, command, fd, address, counts, ring indexes) followed by one
line per registered kevent (from the queue's tree, in key order).

  kevent-queues          all processes
  kevent-queues 62       the queues of process 62
  kevent-queues -b       queue lines only (brief)"""

    def __init__(self):
        self.name = "kevent-queues"
        super().__init__("kevent-queues", gdb.COMMAND_DATA)

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
            _out("pid %d (%s) fd %d: queue %#x %s"
                 % (int(task["tgid"]), task_comm(task), fd, int(q), queue_summary(q)))
            if brief:
                continue
            for k in queue_kevents(q):
                _out("    " + kevent_line(k))
        if not n:
            _out("no kevent queue open%s" % ("" if pid is None else " in process %d" % pid))


@_command
class KeventReady(_KCommand):
    """Show a queue's ready list: kevent-ready [QUEUE]

Prints the kevents on queue->ready_list in delivery order (head first), with
their state, flags and request, and checks that the list length matches
queue->ready_num. QUEUE is an expression (struct kevent_queue *, struct
kevent *, struct file *, an address) or PID:FD; without it, the q, k or st
of the selected frame, or the only queue there is."""

    def __init__(self):
        self.name = "kevent-ready"
        super().__init__("kevent-ready", gdb.COMMAND_DATA)

    def run(self, arg, from_tty):
        q = queue_arg(arg)
        entries = list(ready_kevents(q))
        num = int(field(q, "ready_num"))
        _out("queue %#x ready list: %d kevent(s), ready_num=%d"
             % (int(q), len(entries), num))
        for i, k in enumerate(entries):
            _out("  #%d %s" % (i, kevent_line(k)))
        if not entries:
            _out("  (empty)")
        if num != len(entries):
            _out("  warning: ready_num %d but %d entries on the list"
                 " (in the middle of an update?)" % (num, len(entries)))


@_command
class KeventRing(_KCommand):
    """Show a queue's ring: kevent-ring [QUEUE] [all]

Prints the kernel's view (queue->rs: size, kidx, kover, uidx, uover, used,
free), then reads the user-space ring from the address space of the process
that owns the queue (through its page tables, so it works from any context):
the header ring_kidx/ring_over as user space sees it and the entries, each
marked 'used' (written, not yet committed) or 'free', with the positions of
uidx and kidx. Rings of more than 16 entries show only the used ones
unless 'all' is given. QUEUE as for kevent-ready."""

    def __init__(self):
        self.name = "kevent-ring"
        super().__init__("kevent-ring", gdb.COMMAND_DATA)

    def run(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        show_all = "all" in args
        args = [a for a in args if a != "all"]
        q = queue_arg(" ".join(args))
        rs = field(q, "rs")
        f = {n: int(field(rs, n)) for n in ("size", "kidx", "kover", "uidx", "uover")}
        if not f["size"]:
            _out("queue %#x has no ring" % int(q))
            return
        used = ring_used(f)
        ring = int(field(q, "ring"))
        _out("queue %#x ring at user address %#x, %d entries"
             % (int(q), ring, f["size"]))
        _out("  kernel: kidx=%d kover=%d uidx=%d uover=%d used=%d free=%d ring_free=%d"
             % (f["kidx"], f["kover"], f["uidx"], f["uover"], used,
                f["size"] - used, int(field(q, "ring_free"))))
        task, fd = queue_owner(q)
        if task is None or not int(task["mm"]):
            _out("  user memory: no process with this queue open; cannot read the ring")
            return
        uk_type = _lookup_type("struct ukevent")
        esize = uk_type.sizeof
        hdr_size = _lookup_type("struct kevent_ring").sizeof
        data = read_user(task["mm"], ring, hdr_size + f["size"] * esize)
        if data is None:
            _out("  user memory of pid %d at %#x is not resident"
                 % (int(task["tgid"]), ring))
            return
        hdr = gdb.Value(data[:hdr_size], _lookup_type("struct kevent_ring"))
        _out("  user (pid %d %s): ring_kidx=%d ring_over=%d"
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
            _out("  [%d] %-4s %-9s %s" % (i, "used" if is_used else "free",
                                         "<-" + ",".join(marks) if marks else "",
                                         text))


@_command
class KeventStorage(_KCommand):
    """Show a storage and the kevents watching it: kevent-storage [ST]

ST is a struct kevent_storage * (or a struct kevent *, meaning its storage);
without it, the st (or k) of the selected frame, e.g. inside
kevent_storage_ready(). Prints the origin, the WAKEUP_ONE ready count and
one line per kevent on st->list with the queue it belongs to."""

    def __init__(self):
        self.name = "kevent-storage"
        super().__init__("kevent-storage", gdb.COMMAND_DATA)

    def run(self, arg, from_tty):
        st = storage_arg(arg)
        kevents = list(storage_kevents(st))
        _out("storage %#x origin=%s ready_one=%d: %d kevent(s)"
             % (int(st), symbol_or_hex(field(st, "origin")),
                int(field(st, "ready_one")), len(kevents)))
        for k in kevents:
            _out("  queue %#x %s" % (int(field(k, "queue")), kevent_line(k)))
        if not kevents:
            _out("  (no kevent)")


def symbol_or_hex(v):
    addr = int(v)
    s = symbol_at(addr)
    return s if not s.startswith("0x") else "%#x" % addr


def waiter_queue(entry):
    """The kevent queue of a kevent_waiter's wait-queue entry, or None."""
    try:
        w = container_of(entry, "struct kevent_waiter", "wait")
        return w["q"]
    except (gdb.error, KeventError):
        return None


def wait_entries(wqh):
    return list_entries(field(wqh, "head"), "struct wait_queue_entry", "entry")


def entry_line(e, mark=None):
    flags = int(field(e, "flags"))
    func = symbol_at(field(e, "func"))
    private = int(field(e, "private"))
    who = ""
    if func in ("kevent_wake_function", "default_wake_function",
                "autoremove_wake_function", "woken_wake_function") and private:
        t = gdb.Value(private).cast(_task_type().pointer())
        who = "tid %d (%s) state %s" % (int(t["pid"]), task_comm(t), task_state(t))
    return ("%s entry %#x %s func=%s %s"
            % ("->" if mark else "  ", int(e),
               "exclusive" if flags & 0x01 else "shared   ", func, who)).rstrip()


@_command
class KeventWaiters(_KCommand):
    """Show who sleeps on a queue: kevent-waiters [QUEUE]

Lists the entries of queue->wq (threads in kevent_get_events() and
kevent_wait(), exclusive), of queue->space_wq (kevent_wait() callers
waiting for ring space) and of queue->poll_wq (poll/select/epoll of the
queue fd, where the kernel has it; otherwise those are on wq), with the
wake function and, for threads, their tid, command and state. When the
selected frame is a wake function (its argument 'wait' or 'curr'), that
entry is marked '->'. QUEUE as for kevent-ready."""

    def __init__(self):
        self.name = "kevent-waiters"
        super().__init__("kevent-waiters", gdb.COMMAND_DATA)

    def run(self, arg, from_tty):
        q = queue_arg(arg)
        current = None
        for name in ("wait", "curr", "wq_entry"):
            v = _frame_var(name)
            if v is not None and _pointee_tag(v) == "wait_queue_entry":
                current = int(v)
                break
        _out("queue %#x: waiters=%d wakeups=%d"
             % (int(q), int(field(q, "waiters")["counter"]),
                int(field(q, "stat.wakeups")["counter"])))
        for name in ("wq", "space_wq", "poll_wq"):
            if name == "poll_wq" and not _has_field(q, name):
                continue
            entries = list(wait_entries(field(q, name)))
            _out("  %s: %d entr%s" % (name, len(entries), "y" if len(entries) == 1 else "ies"))
            for e in entries:
                _out("    " + entry_line(e, current == int(e)))


@_command
class KeventShow(_KCommand):
    """Show one kevent in full: kevent-show [KEVENT]

KEVENT is a struct kevent * expression (default: k of the selected frame).
The same as 'print *KEVENT' with the pretty-printer, plus the lists it is
on."""

    def __init__(self):
        self.name = "kevent-show"
        super().__init__("kevent-show", gdb.COMMAND_DATA)

    def run(self, arg, from_tty):
        k = kevent_arg(arg)
        _out("kevent %#x = %s" % (int(k), KeventPrinter(k.dereference()).to_string()))
        ready = field(k, "ready_entry")
        on_ready = int(ready["next"]) != int(ready.address)
        _out("  on the ready list: %s; on its storage list: %s"
             % ("yes" if on_ready else "no",
                "yes" if int(field(k, "storage_entry")["next"]) !=
                int(field(k, "storage_entry").address) else "no"))


# ---- running to a point -------------------------------------------------

class _Param(gdb.Parameter):
    """Breakpoint kind used by kevent-run-to, kevent-watch and the tracers.

auto: hardware breakpoints when the guest runs under KVM (where software
breakpoints written into guest memory are unreliable), software ones under
TCG. hw / sw force one kind."""

    set_doc = "Set the breakpoint kind of the kevent helpers (auto, hw, sw)."
    show_doc = "Show the breakpoint kind of the kevent helpers."

    def __init__(self):
        super().__init__("kevent-breakpoints", gdb.COMMAND_BREAKPOINTS,
                         gdb.PARAM_ENUM, ["auto", "hw", "sw"])
        self.value = "auto"

    def get_show_string(self, svalue):
        return "kevent helpers use %s breakpoints (now: %s)" % (
            svalue, "hardware" if use_hw() else "software")


_BP_KIND = _Param()
_KVM = {}


def use_hw():
    if _BP_KIND.value != "auto":
        return _BP_KIND.value == "hw"
    if "kvm" not in _KVM:
        try:
            out = gdb.execute("monitor info kvm", to_string=True)
            _KVM["kvm"] = "enabled" in out
        except gdb.error:
            return False
    return _KVM["kvm"]


def _forget_target(event):
    _KVM.clear()


try:
    gdb.events.exited.connect(_forget_target)
except AttributeError:
    pass


class _StopAt(gdb.Breakpoint):
    def __init__(self, spec, cond):
        kind = gdb.BP_HARDWARE_BREAKPOINT if use_hw() else gdb.BP_BREAKPOINT
        super().__init__(spec, type=kind)
        self.cond_text = cond
        self.reached = False
        self.warned = False

    def stop(self):
        if self.cond_text:
            try:
                if not bool(gdb.parse_and_eval(self.cond_text)):
                    return False
            except gdb.error as e:
                if not self.warned:
                    gdb.write("kevent-run-to: condition '%s' failed here (%s); "
                              "not stopping\n" % (self.cond_text, e))
                    self.warned = True
                return False
        self.reached = True
        return True


def _continue_until(bp, what):
    try:
        gdb.execute("continue")
    except gdb.error as e:
        raise KeventError("%s: the guest stopped being debuggable before "
                          "reaching it (%s)" % (what, e))
    if not bp.reached:
        raise KeventError("%s: stopped for another reason before reaching it "
                          "(Ctrl-C or another breakpoint)" % what)


@_command
class KeventRunTo(_KCommand):
    """Let the guest run until it reaches a point: kevent-run-to LOCATION [if COND]

Sets a breakpoint at LOCATION (a function, file:line, *address), continues
the guest and returns once the breakpoint is hit with COND true (COND is
evaluated in the frame of the hit; a COND that cannot be evaluated there
counts as false). The breakpoint is then deleted. Hardware breakpoints are
used under KVM (see 'show kevent-breakpoints'). Examples:

  kevent-run-to kevent_storage_ready if $_caller_is("kevent_timer_fn")
  kevent-run-to kevent_dequeue_ready if q == $q

Fails, ending a sourced walkthrough, if the guest stops for another reason
(Ctrl-C) or goes away."""

    def __init__(self):
        self.name = "kevent-run-to"
        super().__init__("kevent-run-to", gdb.COMMAND_RUNNING)

    def run(self, arg, from_tty):
        m = re.match(r"^\s*(\S+)(?:\s+if\s+(.*))?$", arg)
        if not m:
            raise KeventError("usage: kevent-run-to LOCATION [if COND]")
        spec, cond = m.group(1), m.group(2)
        bp = _StopAt(spec, cond)
        if getattr(bp, "pending", False):
            bp.delete()
            raise KeventError("no code location '%s' in this kernel" % spec)
        try:
            _continue_until(bp, spec)
        finally:
            if bp.is_valid():
                bp.delete()
        try:
            frame = gdb.selected_frame()
            # QEMU's gdb stub: thread N is CPU N-1
            cpu = gdb.selected_thread().num - 1
            _out("kevent-run-to: stopped in %s on CPU %d" % (frame.name(), cpu))
        except gdb.error:
            pass


class _ReturnTo(_StopAt):
    """Breakpoint at a return address, stopping only in the frame that
    returns there: the stack pointer after the return is unique to it."""

    def __init__(self, pc, sp):
        super().__init__("*%#x" % pc, None)
        self.sp = sp

    def stop(self):
        try:
            if int(gdb.selected_frame().read_register("rsp")) != self.sp:
                return False
        except gdb.error:
            return False
        self.reached = True
        return True


@_command
class KeventFinish(_KCommand):
    """Run until the selected function returns: kevent-finish

Like GDB's 'finish', but with a breakpoint of the kind kevent-run-to uses
(hardware under KVM), stopping only when this very call returns (same
stack), and printing the return value with its type. Used by the
walkthroughs; works from an inlined frame too (it finishes the real call
that contains it)."""

    def __init__(self):
        self.name = "kevent-finish"
        super().__init__("kevent-finish", gdb.COMMAND_RUNNING)

    def run(self, arg, from_tty):
        frame = gdb.selected_frame()
        while frame.type() == gdb.INLINE_FRAME:
            frame = frame.older()
        caller = frame.older()
        if caller is None:
            raise KeventError("the selected frame has no caller to return to")
        func = frame.function()
        name = frame.name() or "??"
        # after 'ret' the stack pointer is the caller's at the call plus the
        # popped return address: the caller frame's unwound rsp
        sp = int(caller.read_register("rsp"))
        bp = _ReturnTo(caller.pc(), sp)
        try:
            _continue_until(bp, "the return of %s" % name)
        finally:
            if bp.is_valid():
                bp.delete()
        _out("kevent-finish: %s returned to %s" % (name, gdb.selected_frame().name()))
        rtype = func.type.target() if func is not None and func.type is not None else None
        if rtype is not None and rtype.code != gdb.TYPE_CODE_VOID:
            rax = gdb.selected_frame().read_register("rax")
            val = rax.cast(gdb.lookup_type("unsigned long")).cast(rtype) \
                if rtype.code == gdb.TYPE_CODE_PTR else rax.cast(rtype)
            gdb.set_convenience_variable("kevent_ret", val)
            _out("kevent-finish: return value $kevent_ret = (%s) %s" % (rtype, val))


class _Watch(gdb.Breakpoint):
    def __init__(self, spec, cond):
        super().__init__(spec, gdb.BP_WATCHPOINT, gdb.WP_WRITE)
        self.cond_text = cond
        self.reached = False

    def stop(self):
        if self.cond_text:
            try:
                if not bool(gdb.parse_and_eval(self.cond_text)):
                    return False
            except gdb.error:
                return False
        self.reached = True
        return True


@_command
class KeventWatch(_KCommand):
    """Run until a kernel variable changes: kevent-watch EXPR [if COND]

Puts a hardware write watchpoint on the location of EXPR (evaluated now, so
the watch stays on that memory whatever the frame), continues the guest and
returns when the value changed (and COND holds), printing old and new
values; then removes the watchpoint. Example, stop when the ring wraps:

  kevent-watch $q->rs.kover"""

    def __init__(self):
        self.name = "kevent-watch"
        super().__init__("kevent-watch", gdb.COMMAND_RUNNING)

    def run(self, arg, from_tty):
        m = re.match(r"^\s*(.+?)(?:\s+if\s+(.*))?$", arg)
        if not m:
            raise KeventError("usage: kevent-watch EXPR [if COND]")
        expr, cond = m.group(1), m.group(2)
        v = _expr(expr)
        if v.address is None:
            raise KeventError("'%s' is not in memory" % expr)
        addr = int(v.address)
        old = int(v)
        spec = "*(%s *) %#x" % (v.type, addr)
        wp = _Watch(spec, cond)
        try:
            _continue_until(wp, "a change of %s" % expr)
        finally:
            if wp.is_valid():
                wp.delete()
        new = int(_expr(spec))
        _out("kevent-watch: %s changed %d -> %d in %s"
             % (expr, old, new, gdb.selected_frame().name()))


class _WakeTrace(gdb.Breakpoint):
    """Non-stopping breakpoint that reports wake-ups of one queue."""

    def __init__(self, spec, q, kind, log):
        bpkind = gdb.BP_HARDWARE_BREAKPOINT if use_hw() else gdb.BP_BREAKPOINT
        super().__init__(spec, type=bpkind, internal=True)
        self.q = int(q)
        self.kind = kind
        self.log = log

    def stop(self):
        try:
            if self.kind == "wake_up":
                wqh = int(gdb.parse_and_eval("wq_head"))
                q = gdb.Value(self.q).cast(queue_ptr_type())
                for name in ("wq", "space_wq"):
                    if wqh == int(field(q, name).address):
                        nr = int(gdb.parse_and_eval("nr_exclusive"))
                        n = len(list(wait_entries(field(q, name))))
                        _out("kevent-trace: __wake_up(&q->%s, nr_exclusive=%d): %s, %d entr%s on the list"
                             % (name, nr, "wake ONE exclusive waiter" if nr == 1
                                else "wake ALL" if nr == 0 else "wake %d" % nr,
                                n, "y" if n == 1 else "ies"))
            else:
                wait = gdb.parse_and_eval("wait")
                wq = waiter_queue(wait)
                if wq is not None and int(wq) == self.q:
                    t = gdb.Value(int(wait["private"])).cast(_task_type().pointer())
                    state = task_state(t)
                    if state == "R":
                        _out("kevent-trace: kevent_wake_function: tid %d (%s) is already "
                             "running: not woken, the wake-up passes on"
                             % (int(t["pid"]), task_comm(t)))
                    else:
                        self.log.append(int(t["pid"]))
                        _out("kevent-trace: wake-up #%d: kevent_wake_function wakes tid %d (%s), state %s"
                             % (len(self.log), int(t["pid"]), task_comm(t), state))
        except (gdb.error, KeventError) as e:
            _out("kevent-trace: cannot decode this hit: %s" % e)
        return False


_TRACE = {"bps": [], "log": [], "q": None}


@_command
class KeventTraceWakeups(_KCommand):
    """Report every wake-up of a queue's waiters: kevent-trace-wakeups [QUEUE | off]

Without stopping the guest, prints each __wake_up() call on the queue's
wait queues (with nr_exclusive: 1 = wake one, 0 = wake all) and each
thread that kevent_wake_function() wakes (tid, command). 'off' removes the
trace and prints how many threads were woken; the count is also left in
$kevent_woken. QUEUE as for kevent-ready."""

    def __init__(self):
        self.name = "kevent-trace-wakeups"
        super().__init__("kevent-trace-wakeups", gdb.COMMAND_RUNNING)

    def run(self, arg, from_tty):
        if arg.strip() == "off":
            for bp in _TRACE["bps"]:
                if bp.is_valid():
                    bp.delete()
            _TRACE["bps"] = []
            log = _TRACE["log"]
            _out("kevent-trace: %d thread(s) woken%s"
                 % (len(log), (": tid " + ", ".join(str(t) for t in log)) if log else ""))
            gdb.set_convenience_variable("kevent_woken", len(log))
            return
        q = queue_arg(arg)
        for bp in _TRACE["bps"]:
            if bp.is_valid():
                bp.delete()
        _TRACE["log"] = []
        _TRACE["q"] = int(q)
        _TRACE["bps"] = [
            # '*function': the entry address only (a plain function name
            # can resolve to several locations inside it)
            _WakeTrace("*__wake_up", q, "wake_up", _TRACE["log"]),
            _WakeTrace("*kevent_wake_function", q, "wake", _TRACE["log"]),
        ]
        _out("kevent-trace: tracing wake-ups of queue %#x" % int(q))


@_command
class KeventHelp(_KCommand):
    """List the kevent helpers and walkthroughs: kevent-help"""

    def __init__(self):
        self.name = "kevent-help"
        super().__init__("kevent-help", gdb.COMMAND_SUPPORT)

    def run(self, arg, from_tty):
        _out("kevent helpers (help COMMAND for details):")
        for cls in _COMMANDS:
            doc = (cls.__doc__ or "").splitlines()[0]
            _out("  " + doc)
        _out("convenience functions: $kevent_with_user(st, USER), "
             "$kevent_first(st), $kevent_queue_of(st)")
        _out("pretty-printers: struct kevent, struct ukevent, struct kevent_ring_state")
        _out("walkthroughs (source FILE; see docs/gdb.md):")
        for name in sorted(os.listdir(_HERE)):
            if name.startswith("walk-") and name.endswith(".gdb"):
                _out("  source %s" % os.path.join(_HERE, name))


# ---------------------------------------------------------------------------
# Convenience functions, for breakpoint conditions

class _KeventWithUser(gdb.Function):
    """$kevent_with_user(ST, USER): the kevent of storage ST whose user data
is USER, as a struct kevent * (0 when there is none)."""

    def __init__(self):
        super().__init__("kevent_with_user")

    def invoke(self, st, user):
        kptr = _lookup_type("struct kevent").pointer()
        for k in storage_kevents(st):
            if _u(field(k, "event.user_u64")) == _u(user):
                return k
        return gdb.Value(0).cast(kptr)


class _KeventFirst(gdb.Function):
    """$kevent_first(ST): the first kevent of storage ST (0 if none)."""

    def __init__(self):
        super().__init__("kevent_first")

    def invoke(self, st):
        for k in storage_kevents(st):
            return k
        return gdb.Value(0).cast(_lookup_type("struct kevent").pointer())


class _KeventQueueOf(gdb.Function):
    """$kevent_queue_of(ST): the queue of the first kevent of storage ST."""

    def __init__(self):
        super().__init__("kevent_queue_of")

    def invoke(self, st):
        for k in storage_kevents(st):
            return field(k, "queue")
        return gdb.Value(0).cast(queue_ptr_type())


_KeventWithUser()
_KeventFirst()
_KeventQueueOf()
_register_printers()
