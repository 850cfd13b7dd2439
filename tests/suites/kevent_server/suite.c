// SPDX-License-Identifier: GPL-2.0
/*
 * kevent_server - the event-driven TCP server of bench/kserver.c, on
 * kevent (SOCKET kevents, the ring, a TIMER sweep of idle connections)
 * and on epoll, under a short loopback load: every request must get its
 * response on both, and every idle connection must be closed by the
 * server's timer. The herd part checks that a WAKEUP_ONE SOCKET kevent
 * accepts every connection exactly once with one wake-up each.
 * Requests/s and syscalls per request are printed as diagnostics and
 * never asserted: make bench-server measures.
 *
 * The program is compiled in here with KSERVER_SUITE (no main()).
 */
#define KSERVER_SUITE 1
#include "../../../bench/kserver.c"

#include "ktest.h"

static void small_config(struct ks_config *c)
{
	ks_config_default(c);
	c->conns = 100;
	c->reqs = 5;
	c->idle = 5;
	/*
	 * A busy connection waits for its turn of the client loop: on the
	 * debug kernel (under 200 requests/s) a turn came more than a second
	 * apart, and a 1 s idle limit closed busy connections too.
	 */
	c->idle_ms = 4000;
	c->limit_s = 60;
	c->herd_threads = 3;
	c->herd_conns = 5;
	ks_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
}

static void load(enum srv_api api, bool et)
{
	struct ks_config cfg;
	struct ks_result r;

	small_config(&cfg);
	cfg.et = et;
	run_load(&cfg, api, &r);
	kt_log("%s %s: %llu/%llu ok, %llu bad, %llu lost, idle closed %u/%u, %.0f requests/s, %.2f syscalls/request",
	       srv_name[api], et ? "ET" : "LT", r.ok, (unsigned long long)cfg.conns * cfg.reqs, r.bad, r.lost,
	       r.idle_closed, cfg.idle, r.seconds > 0 ? (double)r.ok / r.seconds : 0.0,
	       r.ok ? (double)r.syscalls / (double)r.ok : 0.0);
	KT_EXPECT_EQ(r.ok, (unsigned long long)cfg.conns * cfg.reqs);
	KT_EXPECT_EQ(r.bad, 0);
	KT_EXPECT_EQ(r.lost, 0);
	KT_EXPECT_EQ(r.idle_closed, cfg.idle);
	KT_EXPECT_EQ(r.conns_done, cfg.conns);
}

TEST_TIMEOUT(load_kevent, 90)
{
	load(SRV_KEVENT, false);
}

TEST_TIMEOUT(load_epoll, 90)
{
	load(SRV_EPOLL, false);
}

TEST_TIMEOUT(load_kevent_et, 90)
{
	load(SRV_KEVENT, true);
}

TEST_TIMEOUT(load_epoll_et, 90)
{
	load(SRV_EPOLL, true);
}

static void herd(enum herd_mode mode)
{
	struct ks_config cfg;
	struct herd_result hr;

	small_config(&cfg);
	KT_EXPECT(run_herd(&cfg, HERD_SOCKET_ONE, mode, &hr));
	kt_log("%s: %u/%u accepted, %.2f wake-ups, %.2f switches, %.2f empty accepts per connection",
	       herd_mode_name[mode], hr.accepted, cfg.herd_conns, hr.wakeups,
	       hr.nvcsw, hr.empty);
	KT_EXPECT_EQ(hr.accepted, cfg.herd_conns);
	/* one kevent wake-up per connection, never an accept() that finds none */
	KT_EXPECT(hr.wakeups == 1.0);
	KT_EXPECT(hr.empty == 0.0);
}

TEST_TIMEOUT(herd_wakeup_one_threads, 90)
{
	herd(HERD_SHARED);
}

TEST_TIMEOUT(herd_wakeup_one_queues, 90)
{
	herd(HERD_THREADS);
}

TEST_TIMEOUT(herd_wakeup_one_processes, 90)
{
	herd(HERD_PROCS);
}
