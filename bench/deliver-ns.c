// SPDX-License-Identifier: GPL-2.0
/*
 * deliver-ns - cost of delivering one ready event, in nanoseconds, for
 * epoll_wait(), kevent_get_events() and the kevent ring (kevent_wait() +
 * kevent_commit()), measured in the same boot.
 *
 * N eventfds are made readable once and stay readable; every interface
 * watches them level-triggered, so each call delivers all N again. Every
 * call is checked: exactly N events, each eventfd exactly once, or the
 * program fails (a fast wrong answer does not count). A bare getppid() is
 * measured as the unit of one system call.
 *
 * Usage: deliver-ns [N [ROUNDS]]   (defaults 64 and 2000)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kevent_syscall.h"

#define MAX_N 1024

static unsigned int n_fds = 64, rounds = 2000;
static int fds[MAX_N];
static unsigned char seen[MAX_N];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "deliver-ns: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Every eventfd exactly once in one call's events. */
static void check_once(const char *who, unsigned int got, const uint64_t *ids)
{
	unsigned int i;

	if (got != n_fds) {
		fprintf(stderr, "deliver-ns: %s delivered %u events, expected %u\n",
			who, got, n_fds);
		exit(1);
	}
	memset(seen, 0, n_fds);
	for (i = 0; i < got; i++) {
		if (ids[i] >= n_fds || seen[ids[i]]++) {
			fprintf(stderr, "deliver-ns: %s delivered fd #%llu twice or unknown\n",
				who, (unsigned long long)ids[i]);
			exit(1);
		}
	}
}

static double bench_syscall(void)
{
	long long t0 = now_ns();
	unsigned int i;

	for (i = 0; i < rounds * 16; i++)
		syscall(SYS_getppid);
	return (double)(now_ns() - t0) / (rounds * 16);
}

static double bench_epoll(void)
{
	struct epoll_event ev[MAX_N];
	uint64_t ids[MAX_N];
	int ep = epoll_create1(0), got, i;
	unsigned int r;
	long long t0;

	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < (int)n_fds; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e))
			die("epoll_ctl");
	}
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		got = epoll_wait(ep, ev, n_fds, 0);
		if (got < 0)
			die("epoll_wait");
		for (i = 0; i < got; i++)
			ids[i] = ev[i].data.u64;
		check_once("epoll_wait", got, ids);
	}
	close(ep);
	return (double)(now_ns() - t0) / ((double)rounds * n_fds);
}

static void add_poll_kevents(int kfd)
{
	unsigned int i;

	for (i = 0; i < n_fds; i++) {
		struct ukevent uk = {
			.type = KEVENT_POLL,
			.event = POLLIN,
			.req_flags = KEVENT_REQ_ALWAYS_QUEUE,
			.user_u64 = i,
		};

		uk.id.raw[0] = fds[i];
		if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk) != 0)
			die("kevent_ctl ADD");
	}
}

static double bench_get_events(void)
{
	struct ukevent buf[MAX_N];
	struct __kernel_timespec zero = { 0, 0 };
	uint64_t ids[MAX_N];
	int kfd = kevent_init(NULL, 0, 0), got, i;
	unsigned int r;
	long long t0;

	if (kfd < 0)
		die("kevent_init");
	add_poll_kevents(kfd);
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		got = kevent_get_events(kfd, 0, n_fds, &zero, buf, 0);
		if (got < 0)
			die("kevent_get_events");
		for (i = 0; i < got; i++)
			ids[i] = buf[i].user_u64;
		check_once("kevent_get_events", got, ids);
	}
	close(kfd);
	return (double)(now_ns() - t0) / ((double)rounds * n_fds);
}

static double bench_ring(void)
{
	size_t size = sizeof(struct kevent_ring) + n_fds * sizeof(struct ukevent);
	struct __kernel_timespec zero = { 0, 0 };
	struct kevent_ring *ring = aligned_alloc(64, (size + 63) & ~(size_t)63);
	uint64_t ids[MAX_N];
	unsigned int r, i, idx = 0;
	int kfd, got;
	long long t0;

	if (!ring)
		die("aligned_alloc");
	kfd = kevent_init(ring, n_fds, 0);
	if (kfd < 0)
		die("kevent_init ring");
	add_poll_kevents(kfd);
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		got = kevent_wait(kfd, n_fds, idx, &zero, 0);
		if (got < 0)
			die("kevent_wait");
		for (i = 0; i < (unsigned int)got; i++)
			ids[i] = ring->event[(idx + i) % n_fds].user_u64;
		check_once("kevent_wait", got, ids);
		idx = ring->ring_kidx;
		if (kevent_commit(kfd, idx, ring->ring_over) != got)
			die("kevent_commit");
	}
	close(kfd);
	free(ring);
	return (double)(now_ns() - t0) / ((double)rounds * n_fds);
}

int main(int argc, char **argv)
{
	double sc, ep, ge, rg;
	unsigned int i;

	if (argc > 1)
		n_fds = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		rounds = strtoul(argv[2], NULL, 0);
	if (!n_fds || n_fds > MAX_N || !rounds) {
		fprintf(stderr, "usage: deliver-ns [N (1..%d) [ROUNDS]]\n", MAX_N);
		return 2;
	}
	for (i = 0; i < n_fds; i++) {
		fds[i] = eventfd(1, EFD_NONBLOCK);
		if (fds[i] < 0)
			die("eventfd");
	}
	sc = bench_syscall();
	ep = bench_epoll();
	ge = bench_get_events();
	rg = bench_ring();
	printf("# %u ready level-triggered eventfds, %u rounds, every event checked\n",
	       n_fds, rounds);
	printf("syscall            %8.1f ns/call\n", sc);
	printf("epoll_wait         %8.1f ns/event  1.00 x epoll\n", ep);
	printf("kevent_get_events  %8.1f ns/event  %.2f x epoll\n", ge, ge / ep);
	printf("kevent_wait (ring) %8.1f ns/event  %.2f x epoll\n", rg, rg / ep);
	return 0;
}
