# gdb/walk-ring-wrap.gdb - the ring wraps around: stop when ring_over grows.
#
#   (gdb) source gdb/walk-ring-wrap.gdb      then, in the guest:
#   # kevent-demo ring
#
# kevent-demo ring creates a queue with a 4-entry ring and one USER kevent
# (user data 0xc0ffee), then 10 times: KEVENT_CTL_READY, kevent_wait() (one
# event into the ring), kevent_commit(). The kernel's write index kidx goes
# 0 1 2 3 and back to 0, and each time it wraps the lap counter kover
# (published to user space as ring_over) grows: 0 -> 1 after 4 events,
# 1 -> 2 after 8.
#
# A hardware watchpoint on q->rs.kover stops exactly there: in
# kevent_ring_release(), the end of the ring's pass of the delivery engine
# (kevent_deliver() in deliver.c), right after the entries were written by
# kevent_ring_copy() and the new ring_kidx/ring_over published to user
# space in one store.

set pagination off
set confirm off
echo \n=== walk-ring-wrap: waiting for the demo. In the guest, run:\n
echo ===   kevent-demo ring\n

# The first KEVENT_CTL_READY of the demo tells us its queue.
kevent-run-to kevent_storage_ready if $_caller_is("kevent_queue_ready") && $kevent_with_user(st, 0xc0ffee)
set $q = $kevent_with_user(st, 0xc0ffee)->queue
echo \n=== the demo's queue and its empty ring\n
kevent-queues
kevent-ring $q

echo \n=== first wrap: watch q->rs.kover\n
kevent-watch $q->rs.kover
bt 4
print $q->rs
kevent-ring $q

echo \n=== second wrap\n
kevent-watch $q->rs.kover
print $q->rs
kevent-ring $q

echo \n=== walk-ring-wrap: done. 'continue' lets the guest run on.\n
