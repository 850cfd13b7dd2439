# SPDX-License-Identifier: GPL-2.0
#
# The numeric constants of kevent (types, request, return and state flags,
# poll bits, the hrtimer state bit of an armed timer) and their names, read
# from the headers of the kernel being debugged: the files its debug
# information says struct ukevent (the uapi header) and struct kevent
# (kernel/kevent/kevent.h) were declared in. There is no built-in copy to
# fall back on: a copy would silently print wrong names for a kernel whose
# ABI moved on, so a header that cannot be found or read stops the loading
# of the helpers with the reason.

import os
import re

import gdb

_DEFINE_RE = re.compile(r"^\s*#\s*define\s+(\w+)\s+(0[xX][0-9a-fA-F]+|\d+)\b")


def _declared_in(tag):
    """The source file struct tag was declared in, from the debug info."""
    sym = gdb.lookup_static_symbol(tag, gdb.SYMBOL_STRUCT_DOMAIN)
    if sym is None:
        sym = gdb.lookup_global_symbol(tag, gdb.SYMBOL_STRUCT_DOMAIN)
    if sym is None or sym.symtab is None:
        raise gdb.GdbError(
            "kevent helpers: struct %s is not in the debug info: load the "
            "lab kernel's vmlinux (file vmlinux) before the helpers" % tag)
    return sym.symtab.fullname()


def _parse_defines(path, prefix):
    """{name: value} of the '#define PREFIX... number' lines of path."""
    values = {}
    try:
        with open(path) as f:
            for line in f:
                m = _DEFINE_RE.match(line)
                if not m or not m.group(1).startswith(prefix):
                    continue
                text = m.group(2)
                if text.lower().startswith("0x"):
                    values[m.group(1)] = int(text, 16)
                elif len(text) > 1 and text.startswith("0"):
                    values[m.group(1)] = int(text, 8)
                else:
                    values[m.group(1)] = int(text)
    except OSError as e:
        raise gdb.GdbError("kevent helpers: cannot read %s, the header the "
                           "kernel was built with: %s" % (path, e))
    return values


# The uapi header's KEVENT_* numbers that are not event types.
_NOT_TYPES = ("KEVENT_CTL_", "KEVENT_REQ_", "KEVENT_RET_", "KEVENT_FLAGS_",
              "KEVENT_INIT_", "KEVENT_MAX_", "KEVENT_TIMER_FIRED",
              "KEVENT_SIGNAL_DELIVERY", "KEVENT_SIGNAL_NOMASK",
              "KEVENT_POSIX_TIMER_FIRED", "KEVENT_SOCKET_", "KEVENT_INODE_")

# What the helpers name or test; a header without one of these is not the
# kevent they were written for.
_NEEDED = ("KEVENT_TIMER", "KEVENT_POLL", "KEVENT_USER", "KEVENT_MAX_TYPES",
           "KEVENT_TIMER_FIRED", "KEVENT_REQ_ONESHOT", "KEVENT_RET_DONE",
           "KEVENT_F_READY", "KEVENT_F_INFLIGHT", "KEVENT_F_DEAD", "POLLIN",
           "HRTIMER_STATE_ENQUEUED")


def _bits(values, prefix):
    """[(name, bit)] of the non-zero PREFIX constants but the _MASK, by value."""
    found = [(n, v) for n, v in values.items()
             if n.startswith(prefix) and n != prefix + "MASK" and v]
    return sorted(found, key=lambda nv: nv[1])


class Constants:
    def __init__(self):
        self.uapi_h = _declared_in("ukevent")
        self.kevent_h = _declared_in("kevent")
        # the poll bits of a POLL kevent's event mask, from the same tree
        self.poll_h = os.path.join(os.path.dirname(os.path.dirname(self.uapi_h)),
                                   "asm-generic", "poll.h")
        # hrtimer states, to tell an armed TIMER kevent (as fdinfo's armed=)
        self.hrtimer_h = os.path.join(
            os.path.dirname(os.path.dirname(os.path.dirname(self.uapi_h))),
            "linux", "hrtimer.h")
        uapi = _parse_defines(self.uapi_h, "KEVENT_")
        self.values = dict(uapi)
        self.values.update(_parse_defines(self.kevent_h, "KEVENT_F_"))
        self.values.update(_parse_defines(self.poll_h, "POLL"))
        self.values.update(_parse_defines(self.hrtimer_h, "HRTIMER_STATE_"))
        missing = [n for n in _NEEDED if n not in self.values]
        if missing:
            raise gdb.GdbError("kevent helpers: %s not found in %s, %s, %s, %s"
                               % (", ".join(missing), self.uapi_h,
                                  self.kevent_h, self.poll_h, self.hrtimer_h))
        self.types = {}
        for name, value in uapi.items():
            if not name.startswith(_NOT_TYPES) and value < self.values["KEVENT_MAX_TYPES"]:
                self.types.setdefault(value, name)
        self.req = _bits(self.values, "KEVENT_REQ_")
        self.ret = _bits(self.values, "KEVENT_RET_")
        self.kflags = _bits(self.values, "KEVENT_F_")
        self.poll = _bits(self.values, "POLL")

    def __getitem__(self, name):
        return self.values[name]


K = Constants()


def type_name(t):
    return K.types.get(int(t), "type %d" % int(t))


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
    if etype == K["KEVENT_TIMER"]:
        return flag_names(event, [("TIMER_FIRED", K["KEVENT_TIMER_FIRED"])])
    if etype == K["KEVENT_POLL"]:
        return flag_names(event, K.poll)
    return "%#x" % event


def id_text(etype, raw0, raw1, raw_u64):
    etype = int(etype)
    if etype == K["KEVENT_TIMER"]:
        return "%#x (period %d.%09d s)" % (raw_u64, raw0, raw1)
    if etype == K["KEVENT_POLL"]:
        return "%#x (fd %d)" % (raw_u64, raw0)
    return "%#x" % raw_u64


def kflags_text(flags):
    return flag_names(flags, K.kflags, "KEVENT_F_")


def state_text(flags):
    flags = int(flags)
    if flags & K["KEVENT_F_READY"]:
        return "ready"
    if flags & K["KEVENT_F_INFLIGHT"]:
        return "inflight"
    if flags & K["KEVENT_F_DEAD"]:
        return "dead"
    return "waiting"
