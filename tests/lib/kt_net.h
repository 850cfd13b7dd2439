/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_net - the guest network set-up shared by the test suites and the
 * benchmarks (bench/ compiles kt_net.c alone: it needs nothing of ktest).
 */
#ifndef KLAB_KT_NET_H
#define KLAB_KT_NET_H

/*
 * Bring the loopback interface up: the initramfs's init does not, and TCP
 * on 127.0.0.1 needs it. Quiet on failure: the connect() that follows says
 * what is wrong.
 */
void kt_loopback_up(void);

#endif
