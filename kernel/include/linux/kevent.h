/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent - the hook of the file layer: POLL kevents do not pin the files
 * they watch; when a watched file's last reference goes, __fput() calls
 * kevent_release() and the kevents watching it are removed, as
 * eventpoll_release() does for epoll.
 */
#ifndef _LINUX_KEVENT_H
#define _LINUX_KEVENT_H

#include <linux/fs.h>
#include <uapi/linux/kevent.h>

#ifdef CONFIG_KEVENT_POLL

void kevent_release_file(struct file *file);

/**
 * kevent_release() - unhook the POLL kevents of a dying file
 * @file: a file whose last reference is being dropped (from __fput())
 *
 * Lockless test first: nobody can add a kevent to a file that has no
 * reference left, so an empty list stays empty.
 */
static inline void kevent_release(struct file *file)
{
	if (likely(!READ_ONCE(file->f_kevent.first)))
		return;
	kevent_release_file(file);
}

#else

static inline void kevent_release(struct file *file)
{
}

#endif /* CONFIG_KEVENT_POLL */

/*
 * SOCKET kevents (kevent/storage_socket.c): the default wake-up callbacks
 * of a sock report through sk_kevent_notify() in <net/sock.h>, and the
 * socket's close removes the kevents through sk_kevent_release().
 */
struct sock;

#ifdef CONFIG_KEVENT_SOCKET
void kevent_sock_notify(struct sock *sk, u32 event);
void kevent_sock_release(struct sock *sk);
#endif

#endif /* _LINUX_KEVENT_H */
