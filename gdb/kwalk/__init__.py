# SPDX-License-Identifier: GPL-2.0
#
# gdb/kwalk/ - the walk of the kevent data structures written once for both
# debuggers of the lab: GDB (gdb/kevent/, values are gdb.Value) and drgn
# (gdb/kevent-drgn.py, values are drgn.Object).
#
#   constants.py  type and flag names, read from the kernel's own headers
#   walk.py       processes -> queue files -> queues -> kevents (tree, ready
#                 list, storages) -> waiters, ring indexes and the user ring,
#                 and the text of the views both debuggers print
#
# Nothing here imports gdb or drgn. What differs between the two is behind
# one small object, the target (gdb/kevent/target.py, the Target class of
# gdb/kevent-drgn.py): reading a member, casting an address to a struct
# pointer, container_of, walking a list_head and an rb_root, the task list,
# reading kernel and user memory, symbol names. The walks of lists, trees
# and tasks behind it are each debugger's own: the kernel's scripts/gdb/linux
# under GDB, drgn.helpers.linux under drgn.
