/*
 * The number of worker slots: forkpoolctl scale, SIGTTIN and SIGTTOU, the
 * pool that sizes itself (autoscale.c) and a reload all come here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto/log.h"
#include "pool.h"

/* Slots in use with jobs in flight. */
int
scale_busy(void)
{
	struct proc	*p;
	int		 i, n = 0, size = pool_size(), target = pool_target();

	for (i = 0; i < target && i < size; i++)
		if ((p = pool_slot(i)->proc) != NULL && p->inflight.count > 0)
			n++;
	return n;
}

/* Whether the pool may be scaled to n workers; if not, why in err. */
int
scale_allowed(int n, char *err, size_t len)
{
	if (pool_stopping()) {
		snprintf(err, len, "the pool is stopping");
		return 0;
	}
	if (opts->workers_max != 0 && (n < opts->workers_min ||
	    n > opts->workers_max)) {
		snprintf(err, len, "the pool sizes itself between %d and %d "
		    "workers", opts->workers_min, opts->workers_max);
		return 0;
	}
	if (n < 1 || n > WORKERS_CAP) {
		snprintf(err, len, "%d workers: expected 1 to %d", n,
		    WORKERS_CAP);
		return 0;
	}
	return 1;
}

/*
 * Scaling: new slots start at once; slots past the target stop taking
 * shared jobs, hand their partitions over (dispatch_rebalance), and are
 * told to exit once they hold nothing.
 */
void
scale_to(int n)
{
	if (n < 1 || n > WORKERS_CAP || pool_stopping())
		return;
	log_info("scaling from %d to %d workers", pool_target(), n);
	pool_resize(n);
	dispatch_rebalance(n);
}

/*
 * After a reload: settings the pool keeps state for, and the number of
 * workers the file asks for (within MIN and MAX if the pool sizes itself).
 */
void
scale_reconfigure(const struct options *old)
{
	int	want = opts->workers;

	pool_reconfigure(old);
	if (opts->workers_max != 0) {
		want = pool_target();
		if (want < opts->workers_min)
			want = opts->workers_min;
		if (want > opts->workers_max)
			want = opts->workers_max;
	}
	if (want != pool_target())
		scale_to(want);
}

/*
 * Each turn while scaling or rolling over: finish moves, retire slots and
 * old processes that hold nothing, start the next replacement.
 */
void
scale_settle(void)
{
	struct slot	*s;
	struct proc	*p;
	int		 i, target = pool_target();

	if (target == pool_size() && !dispatch_moving() &&
	    pool_others() == 0 && !replace_busy())
		return;
	replace_settle();
	dispatch_rebalance(target);
	for (i = target; i < pool_size(); i++) {
		s = pool_slot(i);
		if ((p = s->proc) == NULL)
			evtimer_del(s->ev_respawn);
		else if ((p->state == P_READY || p->state == P_STARTING) &&
		    p->inflight.count == 0 && s->keyed.count == 0 &&
		    !dispatch_owns_any(i))
			pool_stop_worker(p);
	}
	pool_trim();
	pool_notify();
}
