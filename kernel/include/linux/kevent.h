/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kevent - the hooks of the rest of the kernel, one per source that lives
 * outside kevent/:
 *
 *  - the file layer: POLL kevents do not pin the files they watch; when a
 *    watched file's last reference goes, __fput() calls kevent_release()
 *    and the kevents watching it are removed, as eventpoll_release() does
 *    for epoll;
 *  - signals: __send_signal_locked() offers each signal it accepted to the
 *    SIGNAL kevents of the receiving process (kevent_signal()), and
 *    free_signal_struct() forgets a dead process (kevent_signal_free());
 *  - POSIX timers: an expiry of a timer watched by a POSIX_TIMER kevent is
 *    reported to the kevent instead of queuing the timer's signal
 *    (kevent_posix_timer_fire()), and a freed timer is forgotten
 *    (kevent_posix_timer_release()).
 *  - pipes: the pipe code reports to the PIPE kevents of a pipe where it
 *    wakes the pipe's readers or writers (kevent_pipe_notify()), and a
 *    freed pipe's kevents are removed (kevent_pipe_free()).
 *
 * The signal and timer hooks find their kevents in tables of their own
 * (kevent/storage_signal.c, kevent/storage_posix_timer.c) rather than in a
 * field of signal_struct or k_itimer: no core structure changes layout.
 */
#ifndef _LINUX_KEVENT_H
#define _LINUX_KEVENT_H

#include <linux/fs.h>
#include <uapi/linux/kevent.h>

struct k_itimer;
struct kernel_siginfo;
struct signal_struct;
struct task_struct;

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

#ifdef CONFIG_KEVENT_SIGNAL

bool kevent_signal(struct task_struct *t, int sig,
		   struct kernel_siginfo *info);
void kevent_signal_free(struct signal_struct *sig);

#else

static inline bool kevent_signal(struct task_struct *t, int sig,
				 struct kernel_siginfo *info)
{
	return false;
}

static inline void kevent_signal_free(struct signal_struct *sig)
{
}

#endif /* CONFIG_KEVENT_SIGNAL */

#ifdef CONFIG_KEVENT_POSIX_TIMER

bool kevent_posix_timer_fire(struct k_itimer *timr);
void kevent_posix_timer_release(struct k_itimer *timr);
/* kernel/time/posix-timers.c: run @fn on the caller's timer @id, locked */
int posix_timer_kevent_attach(int id, int (*fn)(struct k_itimer *, void *),
			      void *arg);

#else

static inline bool kevent_posix_timer_fire(struct k_itimer *timr)
{
	return false;
}

static inline void kevent_posix_timer_release(struct k_itimer *timr)
{
}

#endif /* CONFIG_KEVENT_POSIX_TIMER */

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

/*
 * PIPE kevents (kevent/storage_pipe.c): called through pipe_kevent_notify()
 * and pipe_kevent_free() of <linux/pipe_fs_i.h>, only for a pipe that has
 * kevents.
 */
struct pipe_inode_info;

#ifdef CONFIG_KEVENT_PIPE
void kevent_pipe_notify(struct pipe_inode_info *pipe, u32 event);
void kevent_pipe_free(struct pipe_inode_info *pipe);
#endif

#endif /* _LINUX_KEVENT_H */
