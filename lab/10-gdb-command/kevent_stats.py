# SPDX-License-Identifier: GPL-2.0
#
# lab/10-gdb-command: a GDB command of your own, beside the lab's helpers.
#
#   (gdb) source lab/10-gdb-command/kevent_stats.py
#   (gdb) kevent-stats $q
#   added: 1
#   removed: 0
#   ...
#
# Prints every counter of a queue's struct kevent_stats (q->stat), one
# "name: value" line each, in the order of the structure. The argument is
# any expression that evaluates to a struct kevent_queue * (or the queue
# itself). The field list comes from the debug information, so a counter
# added to the kernel shows up without changing this file.

import gdb


def stats_lines(q):
    """The 'name: value' lines of the counters of queue q (a gdb.Value)."""
    # LAB(10) begin: read q->stat field by field from the debug information
    if q.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        q = q.dereference()
    stat = q["stat"]
    lines = []
    for field in stat.type.strip_typedefs().fields():
        # atomic_long_t is a structure with one member, counter
        lines.append("%s: %d" % (field.name, int(stat[field.name]["counter"])))
    return lines
    # LAB(10) end
    raise gdb.GdbError("kevent-stats: not written yet")


class KeventStats(gdb.Command):
    """Print the counters of a kevent queue: kevent-stats QUEUE"""

    def __init__(self):
        super().__init__("kevent-stats", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: kevent-stats QUEUE")
        for line in stats_lines(gdb.parse_and_eval(arg)):
            gdb.write(line + "\n")


KeventStats()
