# gdb/walk-herd.gdb - KEVENT_REQ_WAKEUP_ONE: which waiter is woken?
#
#   (gdb) source gdb/walk-herd.gdb      then, in the guest:
#   # kevent-demo herd
#
# kevent-demo herd puts 3 threads to sleep in kevent_get_events() on one
# queue that has two POLL kevents (user data 0xc0ffee): one on pipe A with
# KEVENT_REQ_WAKEUP_ONE, one on pipe B without. It writes to pipe A, waits
# until all threads sleep again, then writes to pipe B.
#
# Each POLL kevent hooks its own entry on the pipe's wait queue, as epoll
# hooks an epitem; a WAKEUP_ONE kevent's entry is *exclusive*, as with
# EPOLLEXCLUSIVE (storage_poll.c).
#
#   A. pipe_write() wakes the pipe's readers, one exclusive entry at most
#      (nr_exclusive=1): our hook, kevent_poll_wake() ->
#      kevent_storage_notify(). The WAKEUP_ONE kevent is readied and
#      __wake_up(&q->wq, nr_exclusive=1) wakes one thread that can take it:
#      the first on the list. kevent_poll_wake() then returns 1, "I woke
#      somebody", which ends the pipe's wake-one there; had nobody been
#      asleep on the queue it would return 0 and the pipe's wake-up would go
#      on to its next exclusive entry (another queue's kevent, a reader).
#   B. the same for pipe B, whose hook is not exclusive: nr_exclusive=0
#      wakes all three (each can take the event when the wake function
#      asks); one of them gets it, the others find nothing and sleep again
#
# kevent-trace-wakeups reports each wake-up without stopping the guest.

set pagination off
set confirm off
echo \n=== walk-herd: waiting for the event. In the guest, run:\n
echo ===   kevent-demo herd\n

# ---- A. pipe A, WAKEUP_ONE --------------------------------------------------
kevent-run-to kevent_storage_notify if $_caller_is("kevent_poll_wake") && $kevent_with_user(st, 0xc0ffee)
set $st_a = st
set $k = $kevent_with_user(st, 0xc0ffee)
set $q = $k->queue
echo \nA. === a write to pipe A: pipe_write() wakes the pipe's readers, among them our hook kevent_poll_wake()\n
bt 8
echo \nA. === the kevent on pipe A asks for WAKEUP_ONE: its hook on the pipe is exclusive\n
print *$k
kevent-storage $st_a
echo \nA. === three threads sleep on the queue, as exclusive waiters\n
kevent-waiters $q
kevent-trace-wakeups $q
# Only this CPU runs until the ready list has been shown: the other one
# would otherwise run the woken thread, which takes the event at once.
set scheduler-locking on
echo \nA. === finish kevent_storage_notify(), reporting every wake-up on the way\n
kevent-finish
echo \nA. === kevent_poll_wake() learns that a thread was woken, and tells the pipe\n
print woke
kevent-finish
kevent-trace-wakeups off
echo \nA. === woken threads (WAKEUP_ONE):\n
print $kevent_woken
kevent-ready $q
set scheduler-locking off

# ---- B. pipe B, no WAKEUP_ONE --------------------------------------------------
kevent-run-to kevent_storage_notify if $_caller_is("kevent_poll_wake") && st != $st_a && $kevent_with_user(st, 0xc0ffee)
set $k = $kevent_with_user(st, 0xc0ffee)
echo \nB. === a write to pipe B: its kevent has no WAKEUP_ONE, its hook is shared\n
print *$k
kevent-storage st
kevent-waiters $q
kevent-trace-wakeups $q
kevent-finish
kevent-trace-wakeups off
echo \nB. === woken threads (no WAKEUP_ONE):\n
print $kevent_woken
kevent-ready $q

echo \n=== walk-herd: done. 'continue' lets the guest run on.\n
