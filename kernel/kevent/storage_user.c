// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_user.c - KEVENT_USER: events fired by user space.
 *
 * A USER kevent has no source in the kernel: it becomes ready only when
 * KEVENT_CTL_READY names it. Its id and event mask are free for the user.
 * Each kevent owns a storage of its own, so READY goes through
 * kevent_storage_ready() like every other source.
 *
 * ret_data[0] is the event mask given to the last READY, ret_data[1] the
 * number of READYs since the last delivery (counted by the core).
 */

#include <linux/slab.h>

#include "kevent.h"

static int kevent_user_enqueue(struct kevent *k)
{
	struct kevent_storage *st = kmalloc(sizeof(*st), GFP_KERNEL_ACCOUNT);

	if (!st)
		return -ENOMEM;
	kevent_storage_init(st, k);
	k->priv = st;
	kevent_storage_add(st, k);
	return 0;
}

static void kevent_user_dequeue(struct kevent *k)
{
	kevent_storage_del(k->st, k);
}

static void kevent_user_destroy(struct kevent *k)
{
	kfree(k->priv);
}

/* Storage lock held: record the mask; a READY always makes it ready. */
static int kevent_user_callback(struct kevent *k, u32 event)
{
	k->event.ret_data[0] = event;
	return KEVENT_CB_READY;
}

const struct kevent_callbacks kevent_user_callbacks = {
	.enqueue	= kevent_user_enqueue,
	.dequeue	= kevent_user_dequeue,
	.destroy	= kevent_user_destroy,
	.callback	= kevent_user_callback,
};
