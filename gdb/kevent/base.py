# SPDX-License-Identifier: GPL-2.0
#
# What every module of the package shares: the error type, field access that
# names a missing field instead of printing a traceback, the frame and
# expression helpers the commands resolve their arguments with, and the base
# class and registry of the kevent commands.

import gdb

from linux import utils


class KeventError(gdb.GdbError):
    pass


_TYPES = {}


def lookup_type(name):
    """The gdb.Type of name, cached until a new objfile is loaded (the
    kernel's CachedType), with an error that says what to load."""
    cached = _TYPES.setdefault(name, utils.CachedType(name))
    try:
        return cached.get_type()
    except gdb.error:
        raise KeventError("type '%s' not found in the debug info: is vmlinux "
                          "loaded (file vmlinux) and built with kevent?" % name)


def pointer_to(name):
    return lookup_type(name).pointer()


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
    """val.a.b for path 'a.b'. A field renamed in kernel/kevent/ gives an
    error naming it and listing what the structure has now, not a wrong
    value or a traceback."""
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


def as_pointer(v, name):
    """v (a pointer, integer or address) as a 'name *'."""
    return v.cast(utils.get_ulong_type()).cast(pointer_to(name))


def address_of_struct(v):
    """A struct value's address; anything else unchanged."""
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        return v.address
    return v


def pointee_tag(v):
    """'kevent' for a struct kevent or struct kevent *, None for scalars."""
    t = v.type.strip_typedefs()
    if t.code != gdb.TYPE_CODE_PTR:
        return t.tag
    return t.target().strip_typedefs().tag


def expr(arg):
    try:
        return gdb.parse_and_eval(arg)
    except gdb.error as e:
        raise KeventError("cannot evaluate '%s': %s" % (arg, e))


def frame_var(name, tag=None):
    """A variable of the selected frame (pointing to struct tag, if given),
    or None."""
    try:
        v = gdb.selected_frame().read_var(name)
    except (gdb.error, ValueError, RuntimeError):
        return None
    if v.is_optimized_out:
        return None
    if tag is not None and pointee_tag(v) != tag:
        return None
    return v


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
        text = gdb.execute("info symbol %#x" % addr, to_string=True).strip()
        if not text.startswith("No symbol"):
            return text.split(" in section")[0].replace(" + 0", "")
    except gdb.error:
        pass
    return "%#x" % addr


def out(text=""):
    gdb.write(text + "\n")


COMMANDS = []


class Command(gdb.Command):
    """Base of the kevent commands: the class docstring is the help text,
    its first line 'What it does: NAME ARGS' names the command; GDB errors
    become one-line messages instead of tracebacks."""

    def __init__(self, category):
        self.name = self.__doc__.splitlines()[0].rsplit(": ", 1)[1].split()[0]
        super().__init__(self.name, category)

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


def command(category):
    """Class decorator: register a Command under category, in the order
    kevent-help lists them."""
    def register(cls):
        COMMANDS.append(cls)
        cls(category)
        return cls
    return register
