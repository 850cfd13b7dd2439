/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_socket - sockets for the SOCKET storage's suites: TCP on 127.0.0.1
 * (an ephemeral port), UNIX stream listeners in the abstract namespace,
 * and the ADD of a SOCKET kevent that must register.
 */
#ifndef KLAB_KT_SOCKET_H
#define KLAB_KT_SOCKET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kevent_test.h"

/* A non-blocking TCP listener on 127.0.0.1:0; *sa gets its address. */
int kt_tcp_listener(struct sockaddr_in *sa, int backlog);
/* A blocking connect() to sa; the socket is then made non-blocking. */
int kt_tcp_connect(const struct sockaddr_in *sa);
/* A non-blocking UNIX stream listener at an abstract address of its own. */
int kt_unix_listener(struct sockaddr_un *sa, socklen_t *len, int backlog);
/* A blocking connect() to a UNIX address; then non-blocking. */
int kt_unix_connect(const struct sockaddr_un *sa, socklen_t len);
/* Fill the send buffer of a non-blocking socket until EAGAIN; bytes sent. */
long kt_fill_socket(int fd);
/* Read everything there is; bytes read. */
long kt_drain_socket(int fd);

/* Register a SOCKET kevent that must not complete at ADD, or end the test. */
#define kt_add_socket(...) kt_add_socket_at(__FILE__, __LINE__, __VA_ARGS__)
void kt_add_socket_at(const char *file, int line, int q, int fd, __u32 events,
		      __u32 flags, __u64 user);

#endif /* KLAB_KT_SOCKET_H */
