// SPDX-License-Identifier: GPL-2.0
/*
 * kevent/storage_timer.c - KEVENT_TIMER: periodic and one-shot timers.
 *
 *
 * Overview
 * --------
 *
 * The period is id.raw[0] seconds plus id.raw[1] nanoseconds. Each kevent
 * owns an hrtimer on CLOCK_MONOTONIC, first expiring one period after ADD.
 *
 * The hrtimer fires once and readies the kevent; it is not re-armed while
 * that expiry waits undelivered. The expiries are counted at delivery,
 * from the clock: the snapshot taken when the kevent is dequeued reports
 * every whole period elapsed since the last delivered expiry (plus the
 * KEVENT_CTL_READYs, which count as one expiry each), saturating at
 * U32_MAX, and only once the event reached user space is the count
 * consumed and the timer re-armed for the next period (as timerfd derives
 * its count from elapsed time and re-arms when read). A timer nobody reads
 * thus costs one interrupt, whatever its period, and a period shorter than
 * the delivery loop still gets an exact count.
 *
 * ret_data[1] holds the count, ret_data[0] the low 32 bits of
 * CLOCK_MONOTONIC in milliseconds at the last expiry counted (at the
 * READY, when only READYs are counted).
 *
 *
 * Locking
 * -------
 *
 * The hrtimer callback runs in hard interrupt context and only calls
 * kevent_storage_ready(), whose locks are IRQ-safe. The timer is armed at
 * ADD and after a delivery, under the storage lock if the kevent is still
 * linked; removal unlinks under that lock, then cancels the timer (waiting
 * for a running callback) before the kevent can be freed.
 *
 *
 * Field protection
 * ----------------
 *
 * struct kevent_timer:
 *   timer                - hrtimer core
 *   st                   - self
 *   period, k            - immutable
 *   last                 - the storage lock once the kevent is registered
 *                          (written at delivery, read by the snapshot)
 *   expiring             - the storage lock (set by the filter of the
 *                          hrtimer's kevent_storage_ready(), consumed by
 *                          the type callback in the same pass)
 *   readies              - the storage lock
 *   snap_periods, snap_readies - the storage lock; the snapshot of the
 *                          delivery in flight, consumed by ->delivered
 */

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/time64.h>

#include "kevent.h"

/**
 * struct kevent_timer - a TIMER kevent's source
 * @timer: the hrtimer
 * @st: the kevent's storage
 * @period: the period
 * @last: the last expiry delivered (ADD time before the first)
 * @expiring: the callback in progress comes from the hrtimer, not READY
 * @readies: KEVENT_CTL_READYs since the last delivery
 * @snap_periods: periods reported by the delivery in flight
 * @snap_readies: READYs reported by the delivery in flight
 * @k: the kevent
 */
struct kevent_timer {
	struct hrtimer timer;
	struct kevent_storage st;
	ktime_t period;
	ktime_t last;
	bool expiring;
	u32 readies;
	u64 snap_periods;
	u32 snap_readies;
	struct kevent *k;
};

static void kevent_timer_arm(struct kevent_timer *kt)
{
	hrtimer_start(&kt->timer, ktime_add_safe(kt->last, kt->period),
		      HRTIMER_MODE_ABS);
}

/* Filter of the hrtimer's kevent_storage_ready(): an expiry, not a READY. */
static int kevent_timer_expiring(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	kt->expiring = true;
	return 1;
}

static enum hrtimer_restart kevent_timer_fn(struct hrtimer *timer)
{
	struct kevent_timer *kt = container_of(timer, struct kevent_timer,
					       timer);

	/* LAB(05) begin: report the expiry through the kevent's storage */
	kevent_storage_ready(&kt->st, kevent_timer_expiring, KEVENT_TIMER_FIRED);
	/* LAB(05) end */
	/* Re-armed by kevent_timer_delivered(), once this expiry is read. */
	return HRTIMER_NORESTART;
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
	kt->last = ktime_get();
	kevent_storage_add(&kt->st, k);
	kevent_timer_arm(kt);
	return 0;
}

static void kevent_timer_dequeue(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	/* Unlink first: a delivery finishing meanwhile cannot re-arm. */
	kevent_storage_del(&kt->st, k);
	hrtimer_cancel(&kt->timer);
}

static void kevent_timer_destroy(struct kevent *k)
{
	kfree(k->priv);
}

/*
 * Storage lock held; hard interrupt context for an expiry, process context
 * for KEVENT_CTL_READY (which counts as one expiry). The core's firing
 * count is not used: the snapshot computes the count.
 */
static int kevent_timer_callback(struct kevent *k, u32 event)
{
	struct kevent_timer *kt = k->priv;

	if (kt->expiring)
		kt->expiring = false;
	else if (kt->readies != U32_MAX)
		kt->readies++;
	return KEVENT_CB_READY;
}

/* Storage lock held: count the expiries of the delivery being taken. */
static void kevent_timer_snapshot(struct kevent *k, struct ukevent *uk)
{
	struct kevent_timer *kt = k->priv;
	ktime_t now = ktime_get(), at = now;
	u64 periods = 0;

	/* LAB(05) begin: count the whole periods elapsed since kt->last */
	if (ktime_compare(now, ktime_add_safe(kt->last, kt->period)) >= 0) {
		periods = div64_u64(ktime_sub(now, kt->last), kt->period);
		if (k->event.req_flags & KEVENT_REQ_ONESHOT)
			periods = 1;
		at = ktime_add_safe(kt->last, periods * kt->period);
	}
	/* LAB(05) end */
	kt->snap_periods = periods;
	kt->snap_readies = kt->readies;
	uk->ret_data[0] = (u32)ktime_to_ms(at);
	uk->ret_data[1] = min_t(u64, U32_MAX, periods + kt->readies);
}

/* Storage lock held: the snapshot reached user space; wait for the next. */
static void kevent_timer_delivered(struct kevent *k)
{
	struct kevent_timer *kt = k->priv;

	lockdep_assert_held(&kt->st.lock);
	kt->last = ktime_add_safe(kt->last, kt->snap_periods * kt->period);
	kt->readies -= min(kt->readies, kt->snap_readies);
	kt->snap_periods = 0;
	kt->snap_readies = 0;
	/*
	 * Re-arm unless removed, under the storage lock: the removal path
	 * unlinks under it before it cancels the timer, so a timer armed
	 * here is always cancelled there.
	 */
	/* LAB(05) begin: re-arm for the next period unless removed or ONESHOT */
	if (!list_empty(&k->storage_entry) &&
	    !(k->event.req_flags & KEVENT_REQ_ONESHOT))
		kevent_timer_arm(kt);
	/* LAB(05) end */
}

/*
 * Storage lock held (queue.c). An hrtimer whose callback is running is no
 * longer queued, yet its expiry is on its way while the callback waits for
 * that lock to ready the kevent: armed until the kevent is ready.
 */
static void kevent_timer_show_fdinfo(struct seq_file *m, struct kevent *k)
{
	struct kevent_timer *kt = k->priv;
	bool armed;

	lockdep_assert_held(&kt->st.lock);
	armed = hrtimer_is_queued(&kt->timer) ||
		(hrtimer_callback_running(&kt->timer) &&
		 !(k->flags & KEVENT_F_READY));
	seq_printf(m, " armed=%d", armed);
}

const struct kevent_callbacks kevent_timer_callbacks = {
	.validate	= kevent_timer_validate,
	.enqueue	= kevent_timer_enqueue,
	.dequeue	= kevent_timer_dequeue,
	.destroy	= kevent_timer_destroy,
	.callback	= kevent_timer_callback,
	.snapshot	= kevent_timer_snapshot,
	.delivered	= kevent_timer_delivered,
	.show_fdinfo	= kevent_timer_show_fdinfo,
};
