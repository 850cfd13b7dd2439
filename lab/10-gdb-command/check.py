# SPDX-License-Identifier: GPL-2.0
# Compare kevent-stats (the student's lab/10-gdb-command/kevent_stats.py)
# with q->stat read field by field. Loaded by check.gdb.
import gdb

failures = []


def result(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def expected(q):
    stat = q.dereference()["stat"]
    return ["%s: %d" % (f.name, int(stat[f.name]["counter"]))
            for f in stat.type.strip_typedefs().fields()]


def run(arg):
    try:
        out = gdb.execute("kevent-stats " + arg, to_string=True)
    except gdb.error as e:
        return None, str(e)
    return [l.strip() for l in out.splitlines() if l.strip()], None


def lab_check(when):
    try:
        gdb.execute("source lab/10-gdb-command/kevent_stats.py", to_string=True)
    except gdb.error as e:
        result(False, "kevent_stats.py loads (%s)" % e)
        return
    want = expected(gdb.parse_and_eval("$q"))
    got, err = run("$q")
    if got is None:
        result(False, "%s: kevent-stats $q fails: %s" % (when, err))
        return
    result(got == want, "%s: kevent-stats $q prints %d counters as the kernel has them" % (when, len(want)))
    if got != want:
        print("# expected: %s" % "; ".join(want))
        print("# got:      %s" % "; ".join(got[:10]))


def lab_check_deref():
    want = expected(gdb.parse_and_eval("$q"))
    got, err = run("*$q")
    result(got == want, "kevent-stats also takes the queue itself (*$q)%s" % (": " + err if err else ""))


def lab_done():
    print("# %d failure(s)" % len(failures))
    if failures:
        raise gdb.GdbError("lab check failed")
