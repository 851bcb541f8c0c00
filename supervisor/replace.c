/*
 * Replacing a worker new before old: slot i's replacement starts in its
 * twin record, workers[WORKERS_CAP + i], and once it has said HELLO the
 * two swap (wlink_swap): the old process finishes its jobs in the twin,
 * taking no more, then leaves.  A reload rolls every slot over this way,
 * one at a time, after a first replacement has tried the new
 * configuration out; --max-jobs and --max-rss recycle one worker.
 */
#include <stdio.h>

#include "proto/log.h"
#include "pool.h"

int			 pool_rolling = -1;	/* replacement starting */
const struct options	*pool_canary;	/* a reload's, until it starts */
int			 pool_rolling_all;	/* a roll-over is under way */

/* Slot i's other process, starting to replace it or replaced; or NULL. */
struct worker *
pool_twin(int i)
{
	return TWIN(i)->state == W_EMPTY ? NULL : TWIN(i);
}

/* Whether slot w's old process still has jobs: keyed ones must wait. */
int
pool_predecessor_busy(const struct worker *w)
{
	const struct worker	*t;

	if (pool_ntwins == 0)
		return 0;
	t = TWIN(w->slot);
	return t->state != W_EMPTY && t->inflight.count > 0;
}

/*
 * Recycling: a worker that has run its --max-jobs, or grown past
 * --max-rss, gets a replacement started in its twin; the replacement
 * takes over once it is up, so capacity never dips.
 */
static void
recycle(struct worker *w, const char *why)
{
	struct worker	*t = TWIN(w->slot);

	if (pool_shutting_down || t->state != W_EMPTY ||
	    evtimer_pending(t->ev_timer, NULL))
		return;
	log_info("worker %d: pid %d %s: starting its replacement", w->slot,
	    (int)w->pid, why);
	t->recycling = 1;
	pool_spawn(t, opts);
}

/*
 * The replacement of a worker near the end of its --max-jobs starts while
 * the last window of its allowance runs.  Looked at after results, and
 * when a twin frees up for the slot.
 */
int
pool_recycle_due(struct worker *w)
{
	char	why[64];

	if (w->recycle_at == 0 || w->state != W_READY ||
	    w->jobs_sent + w->window < w->recycle_at)
		return 0;
	snprintf(why, sizeof why, "takes its last %llu jobs",
	    (unsigned long long)(w->recycle_at - w->jobs_sent +
	    w->inflight.count));
	recycle(w, why);
	return 1;
}

/* k results have come from w. */
void
pool_result(struct worker *w, unsigned k)
{
	uint64_t	now;
	long		rss;
	char		why[64];

	(void)k;
	w->failed_starts = 0;
	if (pool_is_twin(w) || w->state != W_READY || pool_recycle_due(w))
		return;
	/* /proc is read at most ten times a second per worker. */
	if (opts->max_rss_kib == 0)
		return;
	now = loop_now_ns();
	if (now - w->rss_checked_ns < 100000000ULL)
		return;
	w->rss_checked_ns = now;
	if ((rss = pool_rss_kib(w->pid)) > opts->max_rss_kib) {
		snprintf(why, sizeof why, "holds %ld KiB", rss);
		recycle(w, why);
	}
}

/*
 * A replacement died before it took over.  The first one of a reload
 * decides whether the reload stands; a later one is tried again after a
 * backoff, the old process going on meanwhile.
 */
void
pool_replacement_failed(struct worker *t, const char *what, int init_failed)
{
	char	why[192];

	if (pool_rolling == t->slot)
		pool_rolling = -1;
	if (pool_canary != NULL) {
		pool_canary = NULL;
		snprintf(why, sizeof why, "the first worker of the new "
		    "configuration did not start: %s", init_failed ?
		    "its handler failed to start" : what);
		reload_started(0, why);
		return;
	}
	t->failed_starts++;
	pool_schedule_restart(t);
}

/*
 * A replacement has said HELLO: it takes the slot, and the process it
 * replaces finishes its jobs in the twin, taking no more.
 */
static void
take_over(struct worker *w, struct worker *t)
{
	pid_t	old = w->pid;

	switch (w->state) {
	case W_STOPPING:
		return;		/* the old one is dying anyway: reap it first */
	case W_STARTING:
		/* It was restarted meanwhile: the replacement is not needed. */
		pool_stop_worker(t);
		t->recycling = 0;
		if (pool_rolling == w->slot)
			pool_rolling = -1;
		return;
	case W_EMPTY:
		evtimer_del(w->ev_timer);	/* no restart: here is one */
		break;
	case W_READY:
	case W_RETIRING:
		break;
	}
	wlink_flush_all();
	wlink_swap(w, t);
	t->failed_starts = 0;
	if (pool_rolling == w->slot)
		pool_rolling = -1;
	if (t->recycling) {
		t->recycling = 0;
		w->recycles++;
	}
	log_info("worker %d: pid %d takes over from pid %d", w->slot,
	    (int)w->pid, (int)old);
	if (t->state == W_READY || t->state == W_RETIRING) {
		t->state = W_RETIRING;
		if (t->inflight.count > 0)
			pool_watch_timeout(t);
	}
	pool_notify();
}

/*
 * A roll-over, one slot at a time: a slot still running a process of an
 * older configuration gets a replacement started in its twin, which takes
 * over once it is up.  Capacity never dips, and no job is lost: the old
 * process finishes what it holds.
 */
static void
roll_settle(void)
{
	struct worker	*w, *t;
	int		 i;

	if (pool_rolling != -1)
		return;		/* one replacement starting at a time */
	for (i = 0; i < pool_target_n; i++) {
		w = &workers[i];
		t = TWIN(i);
		if (w->state != W_READY || t->state != W_EMPTY ||
		    evtimer_pending(t->ev_timer, NULL))
			continue;
		if (pool_canary != NULL || w->gen != pool_generation) {
			pool_rolling = i;
			pool_spawn(t, pool_canary != NULL ? pool_canary :
			    opts);
			return;
		}
	}
}

static int
rolled_over(void)
{
	int	i;

	if (pool_rolling != -1 || pool_canary != NULL)
		return 0;
	for (i = 0; i < pool_target_n; i++)
		if (workers[i].state != W_EMPTY &&
		    workers[i].gen != pool_generation)
			return 0;
	return 1;
}

/* Replacements that are up take over; old processes done with their
 * jobs leave. */
static void
settle_twins(void)
{
	struct worker	*t;
	int		 i;

	for (i = 0; i < opts->workers; i++) {
		t = TWIN(i);
		if (t->state == W_READY)
			take_over(&workers[i], t);
		if (t->state == W_RETIRING && t->inflight.count == 0)
			pool_stop_worker(t);
	}
}

/*
 * A reload needs new workers: o is the new configuration, which a first
 * replacement tries out before anything else changes.  reload_started()
 * hears whether it came up.
 */
void
pool_roll(const struct options *o)
{
	pool_canary = o;
}

/* The first replacement is up and opts is the new configuration. */
void
pool_roll_commit(void)
{
	pool_generation++;
	pool_rolling_all = 1;
	if (pool_rolling != -1)
		TWIN(pool_rolling)->gen = pool_generation;
	log_info("pool_rolling the workers over to the new configuration");
}

/* Each turn while replacements start or old processes finish. */
void
pool_replace_settle(void)
{
	if (pool_ntwins > 0)
		settle_twins();
	if ((pool_rolling_all || pool_canary != NULL) && !pool_shutting_down) {
		roll_settle();
		if (pool_rolling_all && rolled_over()) {
			pool_rolling_all = 0;
			log_info("every worker runs the new configuration");
		}
	}
}
