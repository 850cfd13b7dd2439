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

#endif /* _LINUX_KEVENT_H */
