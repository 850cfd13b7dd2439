# SPDX-License-Identifier: GPL-2.0
#
# Run control: let the guest run to a point, to the return of a call, to a
# change of memory, and trace wake-ups without stopping. Each command
# removes what it set before it returns, so a walkthrough never leaves
# breakpoints behind, and uses hardware breakpoints under KVM, where
# software breakpoints written into guest memory are unreliable.

import re

import gdb

from linux import cpus

from .base import (Command, KeventError, command, expr, field, out, pointer_to)
from .model import (queue_arg, queue_ptr_type, sink_refusal, task_comm, task_state,
                    wait_entries, waiter_sink)


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
            text = gdb.execute("monitor info kvm", to_string=True)
            _KVM["kvm"] = "enabled" in text
        except gdb.error:
            return False
    return _KVM["kvm"]


def _forget_target(event):
    _KVM.clear()


gdb.events.exited.connect(_forget_target)


def _code_bp_type():
    return gdb.BP_HARDWARE_BREAKPOINT if use_hw() else gdb.BP_BREAKPOINT


class _Stop(gdb.Breakpoint):
    """Stops only where COND (evaluated in the frame of the hit) holds, and
    records that it did, so that the command can tell its own stop from a
    Ctrl-C or another breakpoint. A COND that cannot be evaluated there
    counts as false, said once."""

    def __init__(self, spec, cond, who, **kind):
        super().__init__(spec, **kind)
        self.cond_text = cond
        self.who = who
        self.reached = False
        self.warned = False

    def holds(self):
        if not self.cond_text:
            return True
        try:
            return bool(gdb.parse_and_eval(self.cond_text))
        except gdb.error as e:
            if not self.warned:
                gdb.write("%s: condition '%s' failed here (%s); not stopping\n"
                          % (self.who, self.cond_text, e))
                self.warned = True
            return False

    def stop(self):
        self.reached = self.holds()
        return self.reached


def _continue_until(bp, what):
    """continue until bp stops the guest; bp is deleted whatever happens."""
    try:
        try:
            gdb.execute("continue")
        except gdb.error as e:
            raise KeventError("%s: the guest stopped being debuggable before "
                              "reaching it (%s)" % (what, e))
        if not bp.reached:
            raise KeventError("%s: stopped for another reason before reaching it "
                              "(Ctrl-C or another breakpoint)" % what)
    finally:
        if bp.is_valid():
            bp.delete()


@command(gdb.COMMAND_RUNNING)
class KeventRunTo(Command):
    """Let the guest run until it reaches a point: kevent-run-to LOCATION [if COND]

Sets a breakpoint at LOCATION (a function, file:line, *address), continues
the guest and returns once the breakpoint is hit with COND true (COND is
evaluated in the frame of the hit; a COND that cannot be evaluated there
counts as false). The breakpoint is then deleted. Hardware breakpoints are
used under KVM (see 'show kevent-breakpoints'). Examples:

  kevent-run-to kevent_storage_notify if $_caller_is("kevent_poll_wake")
  kevent-run-to kevent_dequeue_ready if q == $q

Fails, ending a sourced walkthrough, if the guest stops for another reason
(Ctrl-C) or goes away."""

    def run(self, arg, from_tty):
        m = re.match(r"^\s*(\S+)(?:\s+if\s+(.*))?$", arg)
        if not m:
            raise KeventError("usage: kevent-run-to LOCATION [if COND]")
        spec, cond = m.group(1), m.group(2)
        bp = _Stop(spec, cond, self.name, type=_code_bp_type())
        if bp.pending:
            bp.delete()
            raise KeventError("no code location '%s' in this kernel" % spec)
        _continue_until(bp, spec)
        try:
            out("kevent-run-to: stopped in %s on CPU %d"
                % (gdb.selected_frame().name(), cpus.get_current_cpu()))
        except (gdb.error, gdb.GdbError):
            pass


class _ReturnTo(_Stop):
    """Breakpoint at a return address, stopping only in the frame that
    returns there: the stack pointer after the return is unique to it."""

    def __init__(self, pc, sp):
        super().__init__("*%#x" % pc, None, "kevent-finish", type=_code_bp_type())
        self.sp = sp

    def holds(self):
        try:
            return int(gdb.selected_frame().read_register("rsp")) == self.sp
        except gdb.error:
            return False


@command(gdb.COMMAND_RUNNING)
class KeventFinish(Command):
    """Run until the selected function returns: kevent-finish

Like GDB's 'finish', but with a breakpoint of the kind kevent-run-to uses
(hardware under KVM), stopping only when this very call returns (same
stack), and printing the return value with its type. Used by the
walkthroughs; works from an inlined frame too (it finishes the real call
that contains it)."""

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
        _continue_until(_ReturnTo(caller.pc(), sp), "the return of %s" % name)
        out("kevent-finish: %s returned to %s" % (name, gdb.selected_frame().name()))
        rtype = func.type.target() if func is not None and func.type is not None else None
        if rtype is not None and rtype.code != gdb.TYPE_CODE_VOID:
            rax = gdb.selected_frame().read_register("rax")
            val = rax.cast(gdb.lookup_type("unsigned long")).cast(rtype) \
                if rtype.code == gdb.TYPE_CODE_PTR else rax.cast(rtype)
            gdb.set_convenience_variable("kevent_ret", val)
            out("kevent-finish: return value $kevent_ret = (%s) %s" % (rtype, val))


@command(gdb.COMMAND_RUNNING)
class KeventWatch(Command):
    """Run until a kernel variable changes: kevent-watch EXPR [if COND]

Puts a hardware write watchpoint on the location of EXPR (evaluated now, so
the watch stays on that memory whatever the frame), continues the guest and
returns when the value changed (and COND holds), printing old and new
values; then removes the watchpoint. Example, stop when the ring wraps:

  kevent-watch $q->rs.kover"""

    def run(self, arg, from_tty):
        m = re.match(r"^\s*(.+?)(?:\s+if\s+(.*))?$", arg)
        if not m:
            raise KeventError("usage: kevent-watch EXPR [if COND]")
        what, cond = m.group(1), m.group(2)
        v = expr(what)
        if v.address is None:
            raise KeventError("'%s' is not in memory" % what)
        old = int(v)
        spec = "*(%s *) %#x" % (v.type, int(v.address))
        _continue_until(_Stop(spec, cond, self.name, type=gdb.BP_WATCHPOINT,
                              wp_class=gdb.WP_WRITE),
                        "a change of %s" % what)
        out("kevent-watch: %s changed %d -> %d in %s"
            % (what, old, int(expr(spec)), gdb.selected_frame().name()))


class _WakeTrace(gdb.Breakpoint):
    """Non-stopping breakpoint that reports wake-ups of one queue."""

    def __init__(self, spec, q, log):
        super().__init__(spec, type=_code_bp_type(), internal=True)
        self.q = int(q)
        self.log = log

    def stop(self):
        try:
            self.report()
        except (gdb.error, KeventError) as e:
            out("kevent-trace: cannot decode this hit: %s" % e)
        return False


class _WakeUpTrace(_WakeTrace):
    """At __wake_up(): a wake-up of the queue's waiters, and how many."""

    def report(self):
        wqh = int(gdb.parse_and_eval("wq_head"))
        q = gdb.Value(self.q).cast(queue_ptr_type())
        if wqh == int(field(q, "wq").address):
            nr = int(gdb.parse_and_eval("nr_exclusive"))
            n = len(list(wait_entries(field(q, "wq"))))
            out("kevent-trace: __wake_up(&q->wq, nr_exclusive=%d): %s, %d entr%s on the list"
                % (nr, "wake ONE exclusive waiter" if nr == 1
                   else "wake ALL" if nr == 0 else "wake %d" % nr,
                   n, "y" if n == 1 else "ies"))


class _WakeFunctionTrace(_WakeTrace):
    """At kevent_wake_function(): the thread of the queue it wakes, or why
    it does not (already running, or it cannot take what is ready: the
    wake function refuses it and a wake-one goes on to the next waiter)."""

    def report(self):
        wait = gdb.parse_and_eval("wait")
        sink = waiter_sink(wait)
        if sink is None or int(field(sink, "q")) != self.q:
            return
        t = gdb.Value(int(wait["private"])).cast(pointer_to("struct task_struct"))
        # KEVENT_WAKE_ANY, (void *)1: a kick, which every waiter takes
        why = None if int(gdb.parse_and_eval("key")) == 1 else sink_refusal(sink)
        state = task_state(t)
        if why:
            out("kevent-trace: kevent_wake_function refuses tid %d (%s): %s; "
                "the wake-up passes on" % (int(t["pid"]), task_comm(t), why))
        elif state == "R":
            out("kevent-trace: kevent_wake_function: tid %d (%s) is already "
                "running: not woken, the wake-up passes on"
                % (int(t["pid"]), task_comm(t)))
        else:
            self.log.append(int(t["pid"]))
            out("kevent-trace: wake-up #%d: kevent_wake_function wakes tid %d (%s), state %s"
                % (len(self.log), int(t["pid"]), task_comm(t), state))


_TRACE = {"bps": [], "log": []}


def _trace_off():
    for bp in _TRACE["bps"]:
        if bp.is_valid():
            bp.delete()
    _TRACE["bps"] = []


@command(gdb.COMMAND_RUNNING)
class KeventTraceWakeups(Command):
    """Report every wake-up of a queue's waiters: kevent-trace-wakeups [QUEUE | off]

Without stopping the guest, prints each __wake_up() call on the queue's
wait queue q->wq (with nr_exclusive: 1 = wake one, 0 = wake all), each
thread that kevent_wake_function() wakes (tid, command) and each it refuses
because it cannot take what is ready (fewer than its min_nr events, no
free ring slot) or finds already running. 'off' removes the
trace and prints how many threads were woken; the count is also left in
$kevent_woken. QUEUE as for kevent-ready."""

    def run(self, arg, from_tty):
        if arg.strip() == "off":
            _trace_off()
            log = _TRACE["log"]
            out("kevent-trace: %d thread(s) woken%s"
                % (len(log), (": tid " + ", ".join(str(t) for t in log)) if log else ""))
            gdb.set_convenience_variable("kevent_woken", len(log))
            return
        q = queue_arg(arg)
        _trace_off()
        _TRACE["log"] = []
        _TRACE["bps"] = [
            # '*function': the entry address only (a plain function name
            # can resolve to several locations inside it)
            _WakeUpTrace("*__wake_up", q, _TRACE["log"]),
            _WakeFunctionTrace("*kevent_wake_function", q, _TRACE["log"]),
        ]
        out("kevent-trace: tracing wake-ups of queue %#x" % int(q))
