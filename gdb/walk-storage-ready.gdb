# gdb/walk-storage-ready.gdb - one event from its source to the user's ring.
#
#   (gdb) source gdb/walk-storage-ready.gdb      then, in the guest:
#   # kevent-demo timer
#
# kevent-demo (gdb/guest/kevent-demo.c) puts a thread to sleep in
# kevent_wait() on a queue with a 4-entry ring, then adds a ONESHOT 20 ms
# TIMER kevent whose user data is 0xc0ffee. This walkthrough follows that
# event:
#
#   1. the hrtimer fires: kevent_timer_fn() -> kevent_storage_ready() ->
#      kevent_storage_notify(), the one path by which kevents become ready
#   2. mark ready: the kevent goes on the queue's ready list, and
#      kevent_queue_wake() calls __wake_up(&q->wq)
#   3. wake-up: kevent_wake_function() wakes the sleeping thread (it would
#      refuse a thread that could not take the event)
#   4. dequeue: that thread, back in kevent_wait(), runs the delivery engine
#      (deliver.c): kevent_wait_deliver() -> kevent_deliver() ->
#      kevent_dequeue_ready() takes the kevent off the ready list and
#      snapshots it (a TIMER counts its expiries here, from the clock)
#   5. copy to the ring: the ring's copy step kevent_ring_copy() writes the
#      entry to user memory; its release, kevent_ring_release(), publishes
#      the call's entries with one store of the ring header, then moves the
#      kernel's index q->rs.kidx on (a hardware watchpoint)
#   6. the thread leaves the system call: the delivery is complete (ONESHOT:
#      the kevent is removed)
#
# Other sources: 'set $walk_source = "pipe"' (kevent-demo pipe: a write to a
# pipe watched by a POLL kevent, whose wait-queue hook kevent_poll_wake()
# calls kevent_storage_notify() directly) or "user" (kevent-demo user:
# KEVENT_CTL_READY) before sourcing. Works from a guest halted at reset
# (make gdb) or running (make gdb-attach), and in batch mode (make gdb-walk,
# scripts/gdb-tests.sh).

set pagination off
set confirm off
if $_isvoid($walk_source)
  set $walk_source = "timer"
end

echo \n=== walk-storage-ready: waiting for the event. In the guest, run:\n
if $_streq($walk_source, "timer")
  echo ===   kevent-demo timer\n
end
if $_streq($walk_source, "pipe")
  echo ===   kevent-demo pipe\n
end
if $_streq($walk_source, "user")
  echo ===   kevent-demo user\n
end

# ---- 1. the source fires ---------------------------------------------------
# Stop in kevent_storage_notify() only when reached from the chosen source
# for a storage watched by the demo's kevent (user data 0xc0ffee): nothing
# else that uses kevents stops us. The timer and KEVENT_CTL_READY go through
# the wrapper kevent_storage_ready() (frame 1), the POLL hook does not.
if $_streq($walk_source, "timer")
  kevent-run-to kevent_storage_notify if $_caller_is("kevent_storage_ready") && $_caller_is("kevent_timer_fn", 2) && $kevent_with_user(st, 0xc0ffee)
end
if $_streq($walk_source, "pipe")
  kevent-run-to kevent_storage_notify if $_caller_is("kevent_poll_wake") && $kevent_with_user(st, 0xc0ffee)
end
if $_streq($walk_source, "user")
  # KEVENT_CTL_READY readies the USER kevent's own storage.
  kevent-run-to kevent_storage_notify if $_caller_is("kevent_storage_ready") && $_caller_is("kevent_queue_ready", 2) && $kevent_with_user(st, 0xc0ffee)
end
set $st = st
set $k = $kevent_with_user($st, 0xc0ffee)
set $q = $k->queue
echo \n=== 1. the source fired: who called kevent_storage_notify()\n
bt 12
echo \n=== 1. the storage and its kevents (the demo's kevent is still 'waiting')\n
kevent-storage $st
echo \n=== 1. the queues of the demo process (one kevent, nothing ready, one waiter)\n
kevent-queues
echo \n=== 1. who sleeps on the queue\n
kevent-waiters $q
echo \n=== 1. the kevent before the event\n
print *$k

# ---- 2. mark ready -----------------------------------------------------------
# kevent_fire_locked() ran the type callback, linked the kevent on
# q->ready_list and now wakes the queue.
kevent-run-to __wake_up if wq_head == &$q->wq
echo \n=== 2. marked ready: the kevent is on the ready list, __wake_up(&q->wq) is next\n
bt 4
# nr_exclusive: 1 wakes one exclusive waiter (a WAKEUP_ONE kevent), 0 all
print nr_exclusive
kevent-ready $q
print *$k

# ---- 3. wake-up ----------------------------------------------------------------
# (*function: the entry address only; the plain name resolves to two
# locations in this function)
kevent-run-to *kevent_wake_function if ((struct kevent_waiter *) wait)->sink->q == $q
echo \n=== 3. wake-up: kevent_wake_function() wakes this waiter (marked ->)\n
kevent-waiters $q
print *((struct kevent_waiter *) wait)->sink
set $tid = ((struct task_struct *) wait->private)->pid
printf "the thread woken: tid %d (%s)\n", $tid, ((struct task_struct *) wait->private)->comm

# ---- 4. dequeue -------------------------------------------------------------------
kevent-run-to kevent_dequeue_ready if q == $q
echo \n=== 4. the woken thread, back in its system call, dequeues\n
bt 8
kevent-ready $q
kevent-finish
echo \n=== 4. dequeued: off the ready list, INFLIGHT while it is copied\n
kevent-ready $q
print *$k
# kevent_deliver()'s copy of the event: what goes to user space
print uk

# ---- 5. copy to the ring ---------------------------------------------------------
# The ring's copy step, kevent_ring_copy(), writes the snapshot to
# ring->event[kidx]; at the end of the pass kevent_ring_release() publishes
# ring_kidx/ring_over (one store for all the call's entries), then records
# the new position in q->rs: a hardware watchpoint on q->rs.kidx stops
# right after.
kevent-watch $q->rs.kidx
echo \n=== 5. copied: the entry and the ring header are in user memory, q->rs moved on\n
bt 5
print $q->rs
kevent-ring $q

# ---- 6. back to user space -----------------------------------------------------------
# kevent_deliver() finishes what it copied only after the ring's mutex is
# released (the ONESHOT kevent is removed then): by the time the woken
# thread leaves the system call, the delivery is complete.
kevent-run-to syscall_exit_to_user_mode if $lx_current()->pid == $tid
echo \n=== 6. the thread returns to user space: delivery complete, ONESHOT kevent removed\n
kevent-queues
kevent-ready $q
kevent-ring $q

echo \n=== walk-storage-ready: done. 'continue' lets the guest run on.\n
