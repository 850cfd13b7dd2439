// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_socket.c - KEVENT_SOCKET: connections, data and write
 * space of TCP and UNIX sockets, fed by the sockets' own callbacks.
 *
 *
 * Overview
 * --------
 *
 * id.raw[0] is a socket descriptor of the caller at ADD (id.raw[1] is free:
 * several kevents of one queue may watch one socket); event is a mask of
 * KEVENT_SOCKET_RECV (data or end of file to read), KEVENT_SOCKET_ACCEPT (a
 * connection waits on a listening socket) and KEVENT_SOCKET_SEND (write
 * space). ret_data[0] is the ready mask, ret_data[1] the notifications
 * since the last delivery. TCP (IPv4 and IPv6) and every UNIX socket type
 * are supported; another socket is refused with EAFNOSUPPORT (family) or
 * EPROTONOSUPPORT (an INET socket that is not TCP), another file with
 * ENOTSOCK.
 *
 * Unlike a POLL kevent, which hooks a wait-queue entry of its own, a
 * SOCKET kevent is on one storage per sock, shared by every kevent of
 * every queue that watches the sock (struct kevent_sock, sk->sk_kevent,
 * allocated by the first ADD). The sock's default wake-up callbacks report
 * to it directly: sock_def_readable() (RECV, or ACCEPT when the sock
 * listens: a TCP or UNIX listener's data_ready means a connection was
 * queued), sk_stream_write_space() and unix_write_space() (SEND), and
 * sock_def_wakeup()/sock_def_error_report() (a state change or an error:
 * readiness unknown, so the kevent is readied "to be checked" and its
 * mask computed at dequeue). Each calls sk_kevent_notify() after its
 * wake-up of the socket's wait queue, so the other users of the callback
 * (sleepers in recv()/accept(), epoll, fasync, sockmap which replaces the
 * callbacks and calls the saved default ones) are untouched, and a sock
 * without kevents pays one load. Chaining sk->sk_data_ready and friends
 * with functions of ours was the alternative; it was rejected because
 * several kevents and other chainers (sockmap, kTLS, in-kernel users)
 * would have to restore the pointers in exact reverse order, which
 * nothing enforces, and because the hooked callbacks would have to be
 * saved per sock and per callback. The hooks are in
 * kernel/patches/0005-kevent-socket.patch.
 *
 * No ->poll is called in the notification path: the callbacks say what
 * happened, and that is the event. The socket's ->poll is only called in
 * process context: at ADD (is it ready already?), at MODIFY, and at
 * dequeue for KEVENT_REQ_LAST_CHECK, level-triggered re-arms and state
 * changes, as for POLL kevents; its POLL* mask is translated (IN, RDHUP,
 * HUP, ERR: RECV, or ACCEPT on a listener; OUT, HUP, ERR: SEND).
 *
 * KEVENT_REQ_WAKEUP_ONE works through the shared storage: in one
 * kevent_storage_notify() pass, the first WAKEUP_ONE kevent whose queue
 * had a sleeper to wake ends the search (core.c), so N acceptor threads
 * on one queue, or N processes with a queue each, get one wake-up per
 * connection. A WAKEUP_ONE kevent removed while its event waited
 * undelivered re-reads the socket and, if still ready, notifies the
 * storage again, so a pending connection is never left untold.
 *
 * Teardown: the kevents hold no reference to the socket. When the socket
 * is closed (its file's last reference, __sock_release()), before the
 * protocol releases it, sk_kevent_release() removes every kevent of the
 * storage from its queue and unpublishes sk->sk_kevent; the storage itself
 * is freed after an RCU grace period once its last kevent is destroyed
 * (a kevent being delivered may still point at it).
 *
 *
 * Locking
 * -------
 *
 *   queue->mutex            (ADD, MODIFY, removal; kevent_sock_release()
 *                            takes it per kevent after picking the kevent
 *                            under the storage lock and dropping it)
 *     > lock_sock(sk)       (ADD: serializes the creation of sk_kevent)
 *     > the sock's spinlock, socket wait-queue locks (callbacks run under
 *       them, in softirq or process context)
 *       > storage->lock     (kevent_storage_ready())
 *
 * storage->lock is IRQ-safe and innermost of the socket's locks, so the
 * callbacks may report from any context. The socket's ->poll is never
 * called under the storage lock.
 *
 * Ordering: ADD links the kevent on the storage, publishes sk->sk_kevent,
 * issues smp_mb() and then polls the socket; a callback updates the
 * socket's queues, issues smp_mb() (skwq_has_sleeper()) and then loads
 * sk->sk_kevent. Either the poll sees the update or the callback sees the
 * kevent, as with a sleeper and its waker.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_sock:
 *   st                   - its own lock (core.c)
 *   file                 - set at creation; cleared (WRITE_ONCE) by
 *                          kevent_sock_release(); read with
 *                          get_file_active()
 *   refs                 - atomic: one for sk->sk_kevent, one per kevent
 *   rcu                  - the last put
 *
 * sk->sk_kevent           - written under lock_sock() by ADD (the file is
 *                          held, so no release runs) and by
 *                          kevent_sock_release() (no file: no ADD runs);
 *                          read under RCU by the callbacks
 */

#include <linux/file.h>
#include <linux/kevent.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <net/sock.h>

#include "kevent.h"

#define KEVENT_SOCKET_VALID	(KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT | \
				 KEVENT_SOCKET_SEND)

/**
 * struct kevent_sock - the storage of the SOCKET kevents of one sock
 * @st: the kevents watching the sock
 * @file: the socket's file (no reference), NULL once it is closed
 * @refs: sk->sk_kevent's reference and one per kevent
 * @rcu: frees the storage after the callbacks that may still read it
 */
struct kevent_sock {
	struct kevent_storage st;
	struct file *file;
	refcount_t refs;
	struct rcu_head rcu;
};

static void kevent_sock_put(struct kevent_sock *ks)
{
	if (refcount_dec_and_test(&ks->refs))
		kfree_rcu(ks, rcu);
}

/* The socket's POLL* mask as SOCKET events; @sk listening: ACCEPT. */
static u32 kevent_sock_mask(const struct sock *sk, __poll_t p)
{
	u32 mask = 0;

	if (p & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		mask |= READ_ONCE(sk->sk_state) == TCP_LISTEN ?
			KEVENT_SOCKET_ACCEPT : KEVENT_SOCKET_RECV;
	if (p & (EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR))
		mask |= KEVENT_SOCKET_SEND;
	return mask;
}

/* Process context, @file held: what is ready now among what @k asks for. */
static u32 kevent_sock_poll(const struct kevent *k, struct file *file)
{
	struct socket *sock = sock_from_file(file);
	poll_table pt;

	init_poll_funcptr(&pt, NULL);
	pt._key = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLOUT | EPOLLWRNORM;
	return kevent_sock_mask(sock->sk, vfs_poll(file, &pt)) &
	       READ_ONCE(k->event.event);
}

/* ->check: a closed socket is being unhooked, hence not ready. */
static u32 kevent_sock_check(struct kevent *k)
{
	struct kevent_sock *ks = k->priv;

	return kevent_check_file(k, &ks->file, kevent_sock_poll);
}

static int kevent_sock_validate(const struct ukevent *uk)
{
	if (!uk->event || (uk->event & ~KEVENT_SOCKET_VALID))
		return -EINVAL;
	return 0;
}

/* Sockets whose callbacks report to kevent (see the Overview). */
static int kevent_sock_supported(const struct sock *sk)
{
	switch (sk->sk_family) {
	case AF_UNIX:
		return 0;
	case AF_INET:
	case AF_INET6:
		if (sk->sk_type == SOCK_STREAM &&
		    sk->sk_protocol == IPPROTO_TCP)
			return 0;
		return -EPROTONOSUPPORT;
	default:
		return -EAFNOSUPPORT;
	}
}

/* The storage of @sk, created by the first ADD; with a reference. */
static struct kevent_sock *kevent_sock_get(struct sock *sk, struct file *file)
{
	struct kevent_sock *ks;

	lock_sock(sk);
	ks = rcu_dereference_protected(sk->sk_kevent, lockdep_sock_is_held(sk));
	if (ks) {
		refcount_inc(&ks->refs);
		goto out;
	}
	ks = kzalloc(sizeof(*ks), GFP_KERNEL_ACCOUNT);
	if (!ks)
		goto out;
	kevent_storage_init(&ks->st, sk);
	ks->file = file;
	/* sk->sk_kevent's reference and the caller's */
	refcount_set(&ks->refs, 2);
	rcu_assign_pointer(sk->sk_kevent, ks);
out:
	release_sock(sk);
	return ks;
}

static int kevent_sock_enqueue(struct kevent *k)
{
	struct kevent_sock *ks;
	struct socket *sock;
	struct file *file;
	int err;
	u32 mask;

	file = fget(k->event.id.raw[0]);
	if (!file)
		return -EBADF;
	sock = sock_from_file(file);
	if (!sock) {
		err = -ENOTSOCK;
		goto out;
	}
	err = kevent_sock_supported(sock->sk);
	if (err)
		goto out;
	ks = kevent_sock_get(sock->sk, file);
	if (!ks) {
		err = -ENOMEM;
		goto out;
	}
	k->priv = ks;
	kevent_storage_add(&ks->st, k);
	/* Pairs with skwq_has_sleeper() in the callbacks (see Locking). */
	smp_mb();
	mask = kevent_sock_poll(k, file);
	fput(file);
	return mask;
out:
	fput(file);
	return err;
}

/* Queue mutex held (REMOVE, queue close, ONESHOT, the socket's close). */
static void kevent_sock_dequeue(struct kevent *k)
{
	struct kevent_sock *ks = k->priv;
	u32 mask;

	if (!kevent_storage_del(&ks->st, k) ||
	    !(k->event.req_flags & KEVENT_REQ_WAKEUP_ONE))
		return;
	/* Its wake-up may have been the one of this event: pass it on. */
	mask = kevent_sock_check(k);
	if (mask)
		kevent_storage_ready(&ks->st, NULL, mask);
}

static void kevent_sock_destroy(struct kevent *k)
{
	if (k->priv)
		kevent_sock_put(k->priv);
}

/*
 * Storage lock held, any context. @event: what the callback reported, 0
 * for a state change or an error (ready, to be checked at dequeue). An
 * edge-triggered kevent accumulates the events it has not delivered yet.
 */
static int kevent_sock_callback(struct kevent *k, u32 event)
{
	if (!event)
		return KEVENT_CB_RECHECK;
	return kevent_record_mask(k, event & k->event.event);
}

/**
 * kevent_sock_notify() - a sock's callback reports to its SOCKET kevents
 * @sk: a sock with kevents (sk_kevent_notify() tested sk->sk_kevent)
 * @event: KEVENT_SOCKET_RECV (data_ready), KEVENT_SOCKET_SEND (write
 *	   space), 0 (state change or error: readiness unknown)
 *
 * Context: any (softirq for received segments), may hold the sock's locks.
 */
void kevent_sock_notify(struct sock *sk, u32 event)
{
	struct kevent_sock *ks;

	rcu_read_lock();
	ks = rcu_dereference(sk->sk_kevent);
	if (ks) {
		/* A listener's data_ready: a connection was queued. */
		if (event == KEVENT_SOCKET_RECV &&
		    READ_ONCE(sk->sk_state) == TCP_LISTEN)
			event = KEVENT_SOCKET_ACCEPT;
		kevent_storage_ready(&ks->st, NULL, event);
	}
	rcu_read_unlock();
}

/**
 * kevent_sock_release() - remove the SOCKET kevents of a closing socket
 * @sk: the sock of a socket being released (its file's last reference
 *	is gone, so no ADD can reach it any more)
 *
 * Every kevent of the storage is removed from its queue
 * (kevent_storage_remove_all()), then sk->sk_kevent is unpublished and
 * its reference dropped; callbacks still reading it are covered by RCU.
 *
 * Context: process; takes queue mutexes.
 */
void kevent_sock_release(struct sock *sk)
{
	struct kevent_sock *ks = rcu_dereference_protected(sk->sk_kevent, 1);

	WRITE_ONCE(ks->file, NULL);
	kevent_storage_remove_all(&ks->st);
	RCU_INIT_POINTER(sk->sk_kevent, NULL);
	kevent_sock_put(ks);
}

const struct kevent_callbacks kevent_socket_callbacks = {
	.validate	= kevent_sock_validate,
	.enqueue	= kevent_sock_enqueue,
	.dequeue	= kevent_sock_dequeue,
	.destroy	= kevent_sock_destroy,
	.callback	= kevent_sock_callback,
	.check		= kevent_sock_check,
	.modify		= kevent_sock_check,
};
