// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_timer.c - KEVENT_TIMER: periodic and one-shot timers.
 *
 * The period is id.raw[0] seconds plus id.raw[1] nanoseconds. Each kevent
 * owns an hrtimer on CLOCK_MONOTONIC, first expiring one period after ADD,
 * and re-armed every period unless the kevent is ONESHOT. Expiries that
 * happen before the event is delivered are counted, not queued again:
 * ret_data[1] holds how many there were, ret_data[0] the low 32 bits of
 * CLOCK_MONOTONIC in milliseconds at the last one.
 *
 * Expiries are counted from the period, not from the callbacks: each
 * callback accounts for every period elapsed since the last accounted
 * expiry. That lets the timer re-arm no sooner than KEVENT_TIMER_MIN_REARM
 * after a callback, so a user asking for a 1 ns period gets an exact count
 * of expiries without an interrupt storm.
 *
 * The hrtimer callback runs in hard interrupt context; it only calls
 * kevent_storage_ready(), whose locks are IRQ-safe. Removal cancels the
 * timer (waiting for a running callback) before the kevent can be freed.
 */

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/time64.h>

#include "kevent.h"

/* Shortest interval between two callbacks of one periodic timer. */
#define KEVENT_TIMER_MIN_REARM	(100 * NSEC_PER_USEC)

/**
 * struct kevent_timer - a TIMER kevent's source
 * @timer: the hrtimer
 * @st: the kevent's storage
 * @period: the period
 * @last: the last expiry accounted for; hrtimer callback (or arming, when
 *	  the timer is not queued)
 * @pending: expiries the running hrtimer callback reports; hrtimer
 *	     callback only (it never runs concurrently with itself)
 * @k: the kevent, alive while the timer can run
 */
struct kevent_timer {
	struct hrtimer timer;
	struct kevent_storage st;
	ktime_t period;
	ktime_t last;
	u64 pending;
	struct kevent *k;
};

/* Arm for the first expiry, one period from now. */
static void kevent_timer_arm(struct kevent_timer *kt)
{
	kt->last = ktime_get();
	hrtimer_start(&kt->timer, ktime_add_safe(kt->last, kt->period),
		      HRTIMER_MODE_ABS);
}

/*
 * kevent_storage_ready() hook, storage lock held: the core counts one
 * firing, add the other periods this expiry accounts for.
 */
static int kevent_timer_account(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	if (kt->pending > 1)
		k->fired += min_t(u64, kt->pending - 1, U32_MAX - k->fired);
	return 1;
}

static enum hrtimer_restart kevent_timer_fn(struct hrtimer *timer)
{
	struct kevent_timer *kt = container_of(timer, struct kevent_timer,
					       timer);
	bool oneshot = READ_ONCE(kt->k->event.req_flags) & KEVENT_REQ_ONESHOT;
	ktime_t now = hrtimer_cb_get_time(timer);
	u64 n = 1;

	if (!oneshot) {
		/* Periods elapsed since the last one accounted: at least 1. */
		n = max_t(u64, 1, div64_u64(ktime_sub(now, kt->last),
					    kt->period));
		kt->last = ktime_add_safe(kt->last, n * kt->period);
	}
	kt->pending = n;
	kevent_storage_ready(&kt->st, kevent_timer_account, KEVENT_TIMER_FIRED);
	if (oneshot)
		return HRTIMER_NORESTART;
	hrtimer_set_expires(timer,
			    max(ktime_add_safe(kt->last, kt->period),
				ktime_add_ns(now, KEVENT_TIMER_MIN_REARM)));
	return HRTIMER_RESTART;
}

static int kevent_timer_validate(const struct ukevent *uk)
{
	if (uk->event != KEVENT_TIMER_FIRED)
		return -EINVAL;
	if (uk->id.raw[1] >= NSEC_PER_SEC)
		return -EINVAL;
	if (!uk->id.raw[0] && !uk->id.raw[1])
		return -EINVAL;
	return 0;
}

static int kevent_timer_enqueue(struct kevent *k)
{
	struct kevent_timer *kt = kzalloc(sizeof(*kt), GFP_KERNEL_ACCOUNT);

	if (!kt)
		return -ENOMEM;
	kt->k = k;
	kt->period = ktime_set(k->event.id.raw[0], k->event.id.raw[1]);
	kevent_storage_init(&kt->st, k);
	hrtimer_init(&kt->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	kt->timer.function = kevent_timer_fn;
	k->priv = kt;
	kevent_storage_add(&kt->st, k);
	kevent_timer_arm(kt);
	return 0;
}

static void kevent_timer_dequeue(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	hrtimer_cancel(&kt->timer);
	kevent_storage_del(&kt->st, k);
}

static void kevent_timer_destroy(struct kevent *k)
{
	kfree(k->priv);
}

/*
 * Storage lock held; hard interrupt context when the timer expired, process
 * context for KEVENT_CTL_READY (which counts as one expiry).
 */
static int kevent_timer_callback(struct kevent *k, u32 event)
{
	k->event.ret_data[0] = (u32)ktime_to_ms(ktime_get());
	return KEVENT_CB_READY;
}

/* MODIFY may turn an expired one-shot timer into a periodic one. */
static u32 kevent_timer_modify(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	if (!(READ_ONCE(k->event.req_flags) & KEVENT_REQ_ONESHOT) &&
	    !hrtimer_active(&kt->timer))
		kevent_timer_arm(kt);
	return 0;
}

const struct kevent_callbacks kevent_timer_callbacks = {
	.validate	= kevent_timer_validate,
	.enqueue	= kevent_timer_enqueue,
	.dequeue	= kevent_timer_dequeue,
	.destroy	= kevent_timer_destroy,
	.callback	= kevent_timer_callback,
	.modify		= kevent_timer_modify,
};
