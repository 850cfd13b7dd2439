# SPDX-License-Identifier: GPL-2.0
#
# gdb/kevent-gdb.py - loads the kevent helpers (the package gdb/kevent/),
# the way the kernel's vmlinux-gdb.py loads scripts/gdb/linux/:
#
#   (gdb) file build/obj-lab/vmlinux
#   (gdb) source build/obj-lab/vmlinux-gdb.py
#   (gdb) source gdb/kevent-gdb.py
#
# Sourcing it again reloads the package, to try a change of the helpers in a
# running session.

import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

if "kevent" in sys.modules or "kwalk" in sys.modules:
    for _name in sorted((n for n in sys.modules
                         if n.split(".")[0] in ("kevent", "kwalk")),
                        reverse=True):
        del sys.modules[_name]
importlib.import_module("kevent")
