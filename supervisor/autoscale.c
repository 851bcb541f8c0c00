/*
 * A pool that sizes itself, as php-fpm's dynamic mode does: with
 * "workers MIN MAX" (--workers MIN-MAX) a tick looks at the pool ten
 * times a second.  While jobs wait for a worker the pool grows, a worker
 * a tick, up to MAX; workers that were not needed for a whole
 * idle_timeout are let go, down to MIN.  Slots come and go as with
 * forkpoolctl scale, so no job is lost and every key keeps its order.
 */
#include "proto/log.h"
#include "supervisor.h"

#define TICK_US		100000

static struct event	*ev_tick;
static uint64_t		 since_ns;	/* start of the idle window */
static int		 peak;		/* most workers busy at once in it */

static void
tick(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	now = now_ns();
	int		target = pool_target(), busy, want;

	(void)fd;
	(void)ev;
	(void)arg;
	if (opts->workers_max == 0 || pool_stopping())
		return;
	busy = scale_busy();
	if (dispatch_queued() > 0) {
		if (target < opts->workers_max) {
			log_info("jobs are waiting: growing to %d workers",
			    target + 1);
			scale_to(target + 1);
			supervisor_wake();
		}
		/* Every worker is needed, the new one too, for a while. */
		since_ns = now;
		peak = pool_target();
		return;
	}
	if (busy > peak)
		peak = busy;
	if (now - since_ns < opts->idle_timeout_ns)
		return;
	want = peak > opts->workers_min ? peak : opts->workers_min;
	if (want < target) {
		log_info("%d worker%s idle for %.3g s: shrinking to %d",
		    target - want, target - want == 1 ? "" : "s",
		    opts->idle_timeout_ns / 1e9, want);
		scale_to(want);
		supervisor_wake();
	}
	since_ns = now;
	peak = busy;
}

/* At start and after a reload: ticks only while the pool sizes itself. */
void
autoscale_update(void)
{
	struct timeval	tv = { 0, TICK_US };

	if (ev_tick == NULL &&
	    (ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL)) == NULL) {
		log_warnx("autoscale: event_new failed");
		return;
	}
	if (opts->workers_max == 0) {
		evtimer_del(ev_tick);
		return;
	}
	if (!evtimer_pending(ev_tick, NULL)) {
		since_ns = now_ns();
		peak = 0;
		evtimer_add(ev_tick, &tv);
	}
}
