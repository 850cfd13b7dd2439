# SPDX-License-Identifier: GPL-2.0
#
# Loads the constants of gdb/kwalk/constants.py (imported first by the
# package, before any helper reads them) from the headers the debug
# information of the kernel being debugged says struct ukevent (the uapi
# header) and struct kevent (kernel/kevent/kevent.h) were declared in.

import gdb

from kwalk.constants import K, ConstantsError


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


try:
    K.load(_declared_in("ukevent"), _declared_in("kevent"))
except ConstantsError as e:
    raise gdb.GdbError(str(e))
