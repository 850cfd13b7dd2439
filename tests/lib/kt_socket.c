// SPDX-License-Identifier: GPL-2.0
/*
 * kt_socket - socket helpers of the SOCKET storage's suites (kt_socket.h).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kt_socket.h"

static void nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	KT_ASSERT_OK(fl);
	KT_ASSERT_OK(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

int kt_tcp_listener(struct sockaddr_in *sa, int backlog)
{
	socklen_t len = sizeof(*sa);
	int fd;

	kt_loopback_up();
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = (int)KT_ASSERT_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	KT_ASSERT_OK(bind(fd, (struct sockaddr *)sa, sizeof(*sa)));
	KT_ASSERT_OK(listen(fd, backlog));
	KT_ASSERT_OK(getsockname(fd, (struct sockaddr *)sa, &len));
	return fd;
}

int kt_tcp_connect(const struct sockaddr_in *sa)
{
	int fd = (int)KT_ASSERT_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	KT_ASSERT_OK(connect(fd, (const struct sockaddr *)sa, sizeof(*sa)));
	nonblock(fd);
	return fd;
}

int kt_unix_listener(struct sockaddr_un *sa, socklen_t *len, int backlog)
{
	static atomic_int seq;
	int fd, n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* abstract: sun_path[0] is 0, nothing to unlink */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "klab-sock-%d-%d",
		     (int)getpid(), atomic_fetch_add(&seq, 1));
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fd = (int)KT_ASSERT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	KT_ASSERT_OK(bind(fd, (struct sockaddr *)sa, *len));
	KT_ASSERT_OK(listen(fd, backlog));
	return fd;
}

int kt_unix_connect(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = (int)KT_ASSERT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));

	KT_ASSERT_OK(connect(fd, (const struct sockaddr *)sa, len));
	nonblock(fd);
	return fd;
}

long kt_fill_socket(int fd)
{
	static char chunk[4096];
	long total = 0;
	ssize_t n;

	while ((n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		total += n;
	KT_ASSERT(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
	return total;
}

long kt_drain_socket(int fd)
{
	char buf[4096];
	long total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += n;
	return total;
}

void kt_add_socket_at(const char *file, int line, int q, int fd, __u32 events, __u32 flags,
		      __u64 user)
{
	struct ukevent uk = ukevent_socket(fd, events, flags);
	char what[80];

	uk.user_u64 = user;
	snprintf(what, sizeof(what), "ADD socket fd %d events %#x flags %#x", fd, events, flags);
	kt_ctl1_must_at(file, line, q, KEVENT_CTL_ADD, &uk, 0, what);
}
