/*
 * The number of worker slots: forkpoolctl scale, SIGTTIN and SIGTTOU, the
 * pool that sizes itself (autoscale.c) and a reload all come here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto/log.h"
#include "pool.h"

int
pool_retiring(const struct worker *w)
{
	return w->slot >= pool_target_n;
}

int
pool_target(void)
{
	return pool_target_n;
}

int
pool_stopping(void)
{
	return pool_shutting_down;
}

/* Slots in use with jobs in flight. */
int
pool_busy(void)
{
	int	i, n = 0;

	for (i = 0; i < pool_target_n && i < opts->workers; i++)
		if (workers[i].inflight.count > 0)
			n++;
	return n;
}

/* Whether the pool may be scaled to n workers; if not, why in err. */
int
pool_scale_allowed(int n, char *err, size_t len)
{
	if (pool_shutting_down) {
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
pool_scale(int n)
{
	int	i;

	if (n < 1 || n > WORKERS_CAP || pool_shutting_down)
		return;
	log_info("scaling from %d to %d workers", pool_target_n, n);
	pool_target_n = n;
	for (i = opts->workers; i < n; i++)
		workers[i].failed_starts = 0;
	if (n > opts->workers)
		opts->workers = n;
	for (i = 0; i < n; i++)
		if (workers[i].state == W_EMPTY &&
		    !evtimer_pending(workers[i].ev_timer, NULL))
			pool_spawn(&workers[i], opts);
	dispatch_rebalance(pool_target_n);
}

/*
 * After a reload: settings the pool keeps state for, and the number of
 * workers the file asks for (within MIN and MAX if the pool sizes itself).
 */
void
pool_reconfigure(const struct options *old, int want)
{
	int	i;

	if (opts->restart_max != old->restart_max &&
	    pool_restart_intensity() == -1) {
		log_warn("reload: restart intensity");
		opts->restart_max = old->restart_max;
	}
	if (opts->heartbeat_ns != old->heartbeat_ns)
		pool_watch_heartbeats();
	if (opts->window != old->window)
		for (i = 0; i < 2 * WORKERS_CAP; i++)
			workers[i].window = opts->window != 0 ? opts->window :
			    WINDOW_START;
	if (opts->workers_max != 0) {
		want = pool_target_n;
		if (want < opts->workers_min)
			want = opts->workers_min;
		if (want > opts->workers_max)
			want = opts->workers_max;
	}
	if (want != pool_target_n)
		pool_scale(want);
	autoscale_update();
}

/*
 * Each turn while scaling or pool_rolling over: finish moves, retire slots and
 * old processes that hold nothing, start the next replacement.
 */
void
pool_scale_settle(void)
{
	struct worker	*w;
	int		 i;

	if (pool_target_n == opts->workers && !dispatch_moving() &&
	    pool_ntwins == 0 && !pool_rolling_all && pool_canary == NULL)
		return;
	pool_replace_settle();
	dispatch_rebalance(pool_target_n);
	for (i = pool_target_n; i < opts->workers; i++) {
		w = &workers[i];
		if ((w->state == W_READY || w->state == W_STARTING) &&
		    w->inflight.count == 0 && w->keyed.count == 0 &&
		    !dispatch_owns_any(i))
			pool_stop_worker(w);
		else if (w->state == W_EMPTY)
			evtimer_del(w->ev_timer);
	}
	while (opts->workers > pool_target_n &&
	    workers[opts->workers - 1].state == W_EMPTY &&
	    TWIN(opts->workers - 1)->state == W_EMPTY)
		opts->workers--;
	pool_notify();
}
