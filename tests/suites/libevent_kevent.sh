#!/bin/sh
# libevent's regression suite on its kevent backend, one KTAP result per test
# (rootfs/bin/klab-libevent; docs/libevent.md).
exec klab-libevent regress kevent
