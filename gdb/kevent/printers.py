# SPDX-License-Identifier: GPL-2.0
#
# Pretty-printers for struct kevent, struct ukevent and struct
# kevent_ring_state: flags, types and events by name instead of numbers
# (print/r still shows the raw structure).

import gdb

from kwalk import walk

from .base import KeventError
from .model import T


def _pretty():
    try:
        return bool(gdb.parameter("print pretty"))
    except RuntimeError:
        return False


def struct_text(items):
    if _pretty():
        return "{\n" + ",\n".join("  %s = %s" % kv for kv in items) + "\n}"
    return "{" + ", ".join("%s = %s" % kv for kv in items) + "}"


class _Printer:
    """A printer of struct TAG: text() of the value, or why it cannot be
    read (a printer must not raise: GDB would print a traceback in the
    middle of the output)."""

    tag = None

    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            return self.text(self.val)
        except (gdb.error, KeventError) as e:
            return "<struct %s: %s>" % (self.tag, e)


class UkeventPrinter(_Printer):
    """struct ukevent with its type, event and flags named."""

    tag = "ukevent"

    def text(self, v):
        return walk.ukevent_text(T, v)


class KeventPrinter(_Printer):
    """struct kevent: state and flags named, the request decoded."""

    tag = "kevent"

    def text(self, v):
        return struct_text(walk.kevent_items(T, v))


class RingStatePrinter(_Printer):
    """struct kevent_ring_state with the used/free counts."""

    tag = "kevent_ring_state"

    def text(self, v):
        f = walk.ring_indexes(T, v)
        used = walk.ring_used(f)
        return struct_text(list(f.items()) + [("used", used), ("free", f["size"] - used)])


_PRINTERS = {cls.tag: cls for cls in (UkeventPrinter, KeventPrinter, RingStatePrinter)}


def _lookup_printer(val):
    t = val.type.strip_typedefs()
    if t.code != gdb.TYPE_CODE_STRUCT:
        return None
    cls = _PRINTERS.get(t.tag)
    return cls(val) if cls else None


def register():
    """Add the printers, replacing those of an earlier load (gdb/kevent-gdb.py
    sourced again)."""
    for i, p in enumerate(gdb.pretty_printers):
        if getattr(p, "__qualname__", "") == "_lookup_printer" and \
                getattr(p, "__module__", "") == __name__:
            gdb.pretty_printers[i] = _lookup_printer
            return
    gdb.pretty_printers.append(_lookup_printer)
