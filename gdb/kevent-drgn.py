# SPDX-License-Identifier: GPL-2.0
#
# gdb/kevent-drgn.py - the kevent views of the GDB helpers under drgn, on a
# memory dump of the lab guest or on a live kernel's /proc/kcore. The walk
# and the text are gdb/kwalk/'s, the same code GDB's kevent-queues,
# kevent-ready, kevent-ring, kevent-storage, kevent-waiters and kevent-show
# run; the Target class below is drgn's side of it, on drgn.Object and
# drgn.helpers.linux (what the kernel's scripts/gdb/linux is to GDB).
#
#   drgn -c CORE -s vmlinux gdb/kevent-drgn.py --src TREE --core CORE [VIEW [ARG...]]...
#   drgn -s vmlinux gdb/kevent-drgn.py --src TREE        (live: /proc/kcore)
#
# TREE is the kernel tree vmlinux was built from (build/src/linux-source-6.12,
# where kernel/kevent/ is copied to kevent/):
# the names of types and flags are read from its headers. make drgn runs
# this (docs/drgn.md). Views, several separated by '--':
#
#   queues [PID] [-b]   every kevent queue (of process PID), its counters
#                       and kevents (-b: queue lines only)
#   ready QUEUE         the ready list, in delivery order
#   ring QUEUE [all]    the ring: kernel indexes, user header and entries
#   storage ST          a storage and the kevents watching it
#   waiters QUEUE       who sleeps on the queue
#   show KEVENT         one kevent in full
#   all                 queues, then the ready list and ring of each queue
#   panic               the panic message of the kernel log, the CPU and task
#                       that panicked and that CPU's stack (a dump of
#                       run-vm.sh --dump-on-panic)
#
# QUEUE is PID:FD or an address; ST and KEVENT are addresses. Without a
# view: an interactive drgn prompt with the same views as functions
# (kevent_queues(), kevent_ready(q), ...; help(kevent_ready)).

import argparse
import code
import importlib
import os
import struct
import sys

import drgn
from drgn import Object, TypeKind
from drgn.helpers.linux import (access_remote_vm, for_each_task,
                                list_for_each_entry,
                                rbtree_inorder_for_each_entry)
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.printk import get_dmesg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kwalk import walk  # noqa: E402
from kwalk.constants import K, ConstantsError  # noqa: E402


class KeventError(Exception):
    pass


def _strip(t):
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


class Target:
    """drgn's side of gdb/kwalk/walk.py (the list of what a target has is
    at the top of that file)."""

    Error = KeventError
    Fault = drgn.FaultError

    def __init__(self, prog):
        self.prog = prog

    def _struct_type(self, v):
        t = _strip(v.type_)
        if t.kind == TypeKind.POINTER:
            t = _strip(t.type)
        return t

    def _canonical(self, v):
        """v as a pointer to the struct type its name finds. The debug
        information of a CU can describe a struct with an anonymous member
        left incomplete (struct mm_struct, seen through task_struct.mm in
        some builds: 'has no member pgd'); drgn 0.0.22 keeps the type of
        the CU it came through, the name lookup finds a complete one."""
        t = self._struct_type(v)
        if t.kind not in (TypeKind.STRUCT, TypeKind.UNION) or not t.tag:
            return None
        ptr = v if _strip(v.type_).kind == TypeKind.POINTER else v.address_of_()
        return Object(self.prog, "%s %s *" % (t.kind.name.lower(), t.tag), value=int(ptr))

    def member(self, v, name):
        try:
            return v.member_(name)
        except LookupError:
            pass
        try:
            c = self._canonical(v)
            if c is not None:
                return c.member_(name)
        except (LookupError, ValueError):
            pass
        t = self._struct_type(v)
        fields = [m.name for m in getattr(t, "members", None) or () if m.name]
        raise KeventError("%s has no field '%s' (kernel changed? it has: %s)"
                          % (t.type_name(), name, ", ".join(fields)))

    def field_names(self, v):
        return [m.name for m in self._struct_type(v).members if m.name]

    def cast(self, addr, tag):
        return Object(self.prog, "struct %s *" % tag, value=int(addr))

    def container_of(self, ptr, tag, member):
        return drgn.container_of(ptr, "struct " + tag, member)

    def address_of(self, v):
        return v.address_of_().value_()

    def _pointer(self, v):
        return v if _strip(v.type_).kind == TypeKind.POINTER else v.address_of_()

    def list_entries(self, head, tag, member):
        return list_for_each_entry("struct " + tag, self._pointer(head), member)

    def rb_entries(self, root, tag, member):
        return rbtree_inorder_for_each_entry("struct " + tag, self._pointer(root), member)

    def tasks(self):
        return for_each_task(self.prog)

    def string(self, v):
        return v.string_().decode(errors="replace")

    def symbol(self, addr):
        try:
            sym = self.prog.symbol(addr)
        except LookupError:
            return None
        off = addr - sym.address
        return sym.name if not off else "%s + %d" % (sym.name, off)

    def symbol_address(self, name):
        try:
            return self.prog.symbol(name).address
        except LookupError:
            return None

    def sizeof(self, tag):
        return drgn.sizeof(self.prog.type("struct " + tag))

    def read(self, addr, size):
        return self.prog.read(addr, size)

    def read_user(self, mm, uaddr, length):
        try:
            return access_remote_vm(self._canonical(mm), uaddr, length)
        except drgn.FaultError:
            return None

    def from_bytes(self, data, tag):
        return Object.from_bytes_(self.prog, "struct " + tag, data)


# ---------------------------------------------------------------------------
# The views, as functions of the interactive prompt and of the command line


T = None
CORE = None


def _address(text):
    try:
        return int(text, 0)
    except ValueError:
        raise KeventError("'%s' is not an address" % text)


def _queue(q):
    """A struct kevent_queue * from an Object, an address or 'PID:FD'."""
    if isinstance(q, Object):
        return q
    if isinstance(q, str) and ":" in q:
        pid, fd = q.split(":", 1)
        return walk.queue_by_fd(T, int(pid), int(fd))
    return T.cast(_address(q) if isinstance(q, str) else q, "kevent_queue")


def _object(v, tag):
    if isinstance(v, Object):
        return v
    return T.cast(_address(v) if isinstance(v, str) else v, tag)


def _print(lines):
    for line in lines:
        print(line)


def kevent_queues(pid=None, brief=False):
    """Every kevent queue (of process pid), its counters and kevents."""
    _print(walk.queues_lines(T, pid, brief))


def kevent_ready(q):
    """The ready list of queue q (an Object, address or 'PID:FD'), head
    first, checked against ready_num."""
    _print(walk.ready_lines(T, _queue(q)))


def kevent_ring(q, show_all=False):
    """The ring of queue q: kernel indexes, then header and entries read
    from the owner's address space."""
    _print(walk.ring_lines(T, _queue(q), show_all))


def kevent_storage(st):
    """A struct kevent_storage * and the kevents watching it."""
    _print(walk.storage_lines(T, _object(st, "kevent_storage")))


def kevent_waiters(q):
    """The entries of q->wq and q->poll_wq."""
    _print(walk.waiters_lines(T, _queue(q)))


def kevent_show(k):
    """One struct kevent * in full."""
    _print(walk.show_lines(T, _object(k, "kevent"),
                           lambda items: "{" + ", ".join("%s = %s" % kv for kv in items) + "}"))


def kevent_all():
    """Every queue, then the ready list and ring of each."""
    kevent_queues()
    for task, fd, q in list(walk.all_queues(T)):
        print()
        kevent_ready(q)
        kevent_ring(q)


def _prstatus_registers(path):
    """The general registers of each vCPU, in CPU order, from the
    NT_PRSTATUS notes QEMU writes into an ELF dump (one per vCPU, in
    order): the bytes of a struct elf_prstatus's pr_reg, whose first 21
    registers are laid out as struct pt_regs."""
    regs = []
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF":
            return regs
        phoff, = struct.unpack_from("<Q", ehdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 0x36)
        f.seek(phoff)
        phdrs = f.read(phentsize * phnum)
        for i in range(phnum):
            ptype, _, off, _, _, size = struct.unpack_from("<IIQQQQ", phdrs, i * phentsize)
            if ptype != 4:  # PT_NOTE
                continue
            f.seek(off)
            notes = f.read(size)
            pos = 0
            while pos + 12 <= len(notes):
                namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
                name = notes[pos + 12:pos + 12 + namesz].rstrip(b"\0")
                desc = pos + 12 + ((namesz + 3) & ~3)
                if name == b"CORE" and ntype == 1:  # NT_PRSTATUS
                    # pr_reg follows siginfo, signals, ids and times
                    regs.append(notes[desc + 112:desc + descsz - 8])
                pos = desc + ((descsz + 3) & ~3)
    return regs


def kevent_panic():
    """Why and where the kernel panicked (a dump of run-vm.sh
    --dump-on-panic): the panic message of the kernel log, the CPU and
    task, and that CPU's stack from the dump's registers. drgn 0.0.22's
    own crashed_thread() is the first vCPU's, not the one that panicked,
    and its stack_trace() of a task running on a CPU starts from the
    task's last switch, so the registers are read from the dump here."""
    log = get_dmesg(T.prog).decode(errors="replace").split("\n")
    msgs = [line for line in log if "Kernel panic - not syncing" in line]
    _print(msgs or ["no 'Kernel panic' in the kernel log"])
    cpu = int(T.prog["panic_cpu"].counter)
    if cpu < 0:
        print("panic_cpu = -1: the kernel did not panic")
        return
    task = per_cpu(T.prog["runqueues"], cpu).curr
    print("panic on CPU %d, task pid %d (%s)"
          % (cpu, int(task.pid), walk.task_comm(T, task)))
    regs = _prstatus_registers(CORE) if CORE else []
    if cpu >= len(regs):
        print("no registers of CPU %d in %s" % (cpu, CORE or "a live kernel"))
        return
    size = drgn.sizeof(T.prog.type("struct pt_regs"))
    trace = T.prog.stack_trace(Object.from_bytes_(T.prog, "struct pt_regs",
                                                  regs[cpu][:size]))
    for i, frame in enumerate(trace):
        print("  #%-2d %s" % (i, frame.name or T.symbol(frame.pc) or "%#x" % frame.pc))


def _run_view(words):
    view, args = words[0], words[1:]
    if view == "queues":
        brief = "-b" in args
        args = [a for a in args if a != "-b"]
        kevent_queues(int(args[0], 0) if args else None, brief)
    elif view in ("ready", "ring", "waiters", "storage", "show"):
        if not args:
            raise KeventError("%s needs an argument (see the top of %s)" % (view, __file__))
        if view == "ready":
            kevent_ready(args[0])
        elif view == "ring":
            kevent_ring(args[0], "all" in args[1:])
        elif view == "waiters":
            kevent_waiters(args[0])
        elif view == "storage":
            kevent_storage(args[0])
        else:
            kevent_show(args[0])
    elif view == "all":
        kevent_all()
    elif view == "panic":
        kevent_panic()
    else:
        raise KeventError("no view '%s': queues, ready, ring, waiters, storage, "
                          "show, all, panic" % view)


def main(prog, argv):
    global T, CORE
    parser = argparse.ArgumentParser(prog="kevent-drgn.py")
    parser.add_argument("--src", required=True,
                        help="the kernel tree vmlinux was built from")
    parser.add_argument("--core", help="the dump drgn opened (its registers: panic)")
    parser.add_argument("view", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        K.load(os.path.join(args.src, "include/uapi/linux/kevent.h"),
               os.path.join(args.src, "kevent/kevent.h"))
    except ConstantsError as e:
        sys.exit("kevent-drgn: %s" % e)
    T = Target(prog)
    CORE = args.core
    views = [[]]
    for w in args.view:
        if w == "--":
            views.append([])
        else:
            views[-1].append(w)
    views = [v for v in views if v]
    if not views:
        banner = ("kevent views (help(NAME)): kevent_queues(pid=None, brief=False), "
                  "kevent_ready(q), kevent_ring(q, show_all=False), kevent_storage(st), "
                  "kevent_waiters(q), kevent_show(k), kevent_all(), kevent_panic()\n"
                  "q: a struct kevent_queue * Object, an address or 'PID:FD'; "
                  "drgn's helpers (from drgn.helpers.linux import *) are here too")
        importlib.import_module("readline")  # line editing for the prompt
        helpers = importlib.import_module("drgn.helpers.linux")
        env = {name: getattr(helpers, name) for name in helpers.__all__}
        env.update((name, v) for name, v in globals().items() if name.startswith("kevent_"))
        env.update(prog=prog, drgn=drgn, Object=Object, walk=walk, T=T)
        code.interact(banner=banner, local=env, exitmsg="")
        return
    for i, v in enumerate(views):
        if i:
            print()
        try:
            _run_view(v)
        except (KeventError, drgn.FaultError, LookupError, ValueError, AttributeError) as e:
            sys.exit("kevent-drgn: %s: %s" % (" ".join(v), e))


if __name__ == "__main__":
    if "prog" not in globals():
        sys.exit("run me with drgn: drgn -c CORE -s vmlinux %s --src TREE [VIEW]"
                 % sys.argv[0])
    main(globals()["prog"], sys.argv[1:])
