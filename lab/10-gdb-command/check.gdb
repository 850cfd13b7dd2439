# lab/10-gdb-command's checker, run by check.sh in gdb -batch against a
# guest that runs 'kevent-demo ring': stop twice in the demo's queue and
# compare what kevent-stats prints with the structure read directly.
set pagination off
set confirm off
kevent-run-to kevent_storage_ready if $_caller_is("kevent_queue_ready") && $kevent_with_user(st, 0xc0ffee)
set $q = $kevent_with_user(st, 0xc0ffee)->queue
source lab/10-gdb-command/check.py
python lab_check("first stop")
kevent-watch $q->rs.kover
kevent-watch $q->rs.kover
python lab_check("after two wraps of the ring")
python lab_check_deref()
python lab_done()
