# SPDX-License-Identifier: GPL-2.0
#
# gdb/kevent/ - GDB commands, convenience functions and pretty-printers for
# the kevent subsystem of the lab kernel, built on the kernel's own GDB
# helpers (scripts/gdb/linux, loaded by vmlinux-gdb.py from the build
# directory, which must be sourced first).
#
#   (gdb) source gdb/kevent-gdb.py    (make gdb and make gdb-attach do it)
#   (gdb) kevent-help                 what is here
#
#   constants.py  loads gdb/kwalk/constants.py's names from the headers of
#                 the kernel debugged
#   base.py       errors, field access, the command base class
#   target.py     GDB's side of the walk shared with drgn (gdb/kwalk/)
#   model.py      the shared walk bound to GDB, command arguments
#   printers.py   struct kevent, struct ukevent, struct kevent_ring_state
#   commands.py   inspection commands, convenience functions
#   runctl.py     kevent-run-to, kevent-finish, kevent-watch, wake-up traces
#
# Structure fields are looked up by name when a command runs, so the helpers
# follow kernel/kevent/ as long as the names they use exist; when one does
# not, the command says which field is missing instead of printing a
# traceback.

import os

import gdb

try:
    import linux.lists  # noqa: F401 (only checks it is there)
except ImportError:
    raise gdb.GdbError("kevent helpers: the kernel's GDB helpers are not "
                       "loaded: source vmlinux-gdb.py from the kernel's build "
                       "directory first (CONFIG_GDB_SCRIPTS)")

from . import constants  # noqa: E402,F401 (first: the names the rest print)
from . import commands, printers, runctl  # noqa: E402,F401 (they register)
from .base import COMMANDS, Command, command, out  # noqa: E402

_WALKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@command(gdb.COMMAND_SUPPORT)
class KeventHelp(Command):
    """List the kevent helpers and walkthroughs: kevent-help"""

    def run(self, arg, from_tty):
        out("kevent helpers (help COMMAND for details):")
        for cls in COMMANDS:
            out("  " + cls.__doc__.splitlines()[0])
        out("convenience functions: $kevent_with_user(st, USER), "
            "$kevent_first(st), $kevent_queue_of(st)")
        out("pretty-printers: struct kevent, struct ukevent, struct kevent_ring_state")
        out("walkthroughs (source FILE; see docs/gdb.md):")
        for name in sorted(os.listdir(_WALKS)):
            if name.startswith("walk-") and name.endswith(".gdb"):
                out("  source %s" % os.path.join(_WALKS, name))


printers.register()
