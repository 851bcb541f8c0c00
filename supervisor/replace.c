/*
 * Replacing a worker new before old: a slot's replacement starts as its
 * next process, and once it has said HELLO it takes the slot: the old
 * process becomes the slot's prev and finishes its jobs there, taking no
 * more, then leaves.  A reload rolls every slot over this way, one at a
 * time, after a first replacement has tried the new configuration out;
 * --max-jobs and --max-rss recycle one worker.
 */
#include <stdio.h>

#include "proto/log.h"
#include "pool.h"

/* A roll-over: what replace.c alone decides on. */
static struct {
	int			 slot;		/* replacement starting; -1 */
	const struct options	*canary;	/* a reload's, until it starts */
	void			(*started)(int, const char *);
	int			 all;		/* a roll-over is under way */
} roll = { -1, NULL, NULL, 0 };

/* The first replacement of a reload is up, or is not going to be. */
static void
canary_done(int ok, const char *why)
{
	roll.canary = NULL;
	roll.started(ok, why);
}

/* The configuration slot s's replacement was started with. */
const struct options *
replace_options(const struct slot *s)
{
	return roll.canary != NULL && roll.slot == s->index ? roll.canary :
	    opts;
}

/*
 * Recycling: a worker that has run its --max-jobs, or grown past
 * --max-rss, gets a replacement started; the replacement takes over once
 * it is up, so capacity never dips.
 */
static void
recycle(struct proc *p, const char *why)
{
	struct slot	*s = p->slot;
	struct proc	*t;

	if (pool_stopping() || s->next != NULL || s->prev != NULL ||
	    evtimer_pending(s->ev_retry, NULL))
		return;
	log_info("worker %d: pid %d %s: starting its replacement", s->index,
	    (int)p->pid, why);
	if ((t = pool_spawn(s, 1, opts)) != NULL)
		t->recycling = 1;
}

/*
 * The replacement of a worker near the end of its --max-jobs starts while
 * the last window of its allowance runs.  Looked at after results, and
 * when the slot may start a replacement again.
 */
int
replace_recycle_due(struct slot *s)
{
	struct proc	*p = s->proc;
	char		 why[64];

	if (p == NULL || p->recycle_at == 0 || p->state != P_READY ||
	    p->jobs_sent + p->window < p->recycle_at)
		return 0;
	snprintf(why, sizeof why, "takes its last %llu jobs",
	    (unsigned long long)(p->recycle_at - p->jobs_sent +
	    p->inflight.count));
	recycle(p, why);
	return 1;
}

/* Results have come from p, a slot's ready process. */
void
replace_result(struct proc *p)
{
	uint64_t	now;
	long		rss;
	char		why[64];

	if (replace_recycle_due(p->slot))
		return;
	/* /proc is read at most ten times a second per worker. */
	if (opts->max_rss_kib == 0)
		return;
	now = loop_now_ns();
	if (now - p->rss_checked_ns < 100000000ULL)
		return;
	p->rss_checked_ns = now;
	if ((rss = pool_rss_kib(p->pid)) > opts->max_rss_kib) {
		snprintf(why, sizeof why, "holds %ld KiB", rss);
		recycle(p, why);
	}
}

/* A replacement has said HELLO. */
void
replace_ready(struct proc *t)
{
	log_info("worker %d: replacement ready, pid %d", t->slot->index,
	    (int)t->pid);
	if (roll.canary != NULL)
		canary_done(1, NULL);
}

/*
 * A replacement died before it took over.  The first one of a reload
 * decides whether the reload stands; a later one is tried again after a
 * backoff, the old process going on meanwhile.
 */
void
replace_failed(struct slot *s, const char *what, int init_failed)
{
	char	why[192];

	if (roll.slot == s->index)
		roll.slot = -1;
	if (roll.canary != NULL) {
		snprintf(why, sizeof why, "the first worker of the new "
		    "configuration did not start: %s", init_failed ?
		    "its handler failed to start" : what);
		canary_done(0, why);
		return;
	}
	s->failed_replacements++;
	pool_schedule_restart(s, 1);
}

/* The pool is stopping: no replacement is wanted any more. */
void
replace_stop(void)
{
	roll.slot = -1;
	if (roll.canary != NULL)
		canary_done(0, "the pool is stopping");
}

/*
 * A replacement has said HELLO: it takes the slot, and the process it
 * replaces finishes its jobs as the slot's prev, taking no more.
 */
static void
take_over(struct slot *s)
{
	struct proc	*old = s->proc, *t = s->next;

	if (old != NULL && old->state == P_STOPPING)
		return;		/* the old one is dying anyway: reap it first */
	if (old != NULL && old->state == P_STARTING) {
		/* It was restarted meanwhile: the replacement is not needed. */
		pool_stop_worker(t);
		t->recycling = 0;
		if (roll.slot == s->index)
			roll.slot = -1;
		return;
	}
	if (old == NULL)
		evtimer_del(s->ev_respawn);	/* no restart: here is one */
	pool_hand_over(s);
	s->failed_replacements = 0;
	if (roll.slot == s->index)
		roll.slot = -1;
	if (t->recycling) {
		t->recycling = 0;
		s->recycles++;
	}
	log_info("worker %d: pid %d takes over from pid %d", s->index,
	    (int)t->pid, old != NULL ? (int)old->pid : -1);
	if (old != NULL) {
		old->state = P_RETIRING;
		if (old->inflight.count > 0)
			pool_watch_timeout(old);
	}
	pool_notify();
}

/*
 * A roll-over, one slot at a time: a slot still running a process of an
 * older configuration gets a replacement started, which takes over once
 * it is up.  Capacity never dips, and no job is lost: the old process
 * finishes what it holds.
 */
static void
roll_settle(void)
{
	struct slot	*s;
	int		 i, n = pool_target();

	if (roll.slot != -1)
		return;		/* one replacement starting at a time */
	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		if (s->proc == NULL || s->proc->state != P_READY ||
		    s->next != NULL || s->prev != NULL ||
		    evtimer_pending(s->ev_retry, NULL))
			continue;
		if (roll.canary != NULL ||
		    s->proc->gen != pool_generation()) {
			roll.slot = i;
			pool_spawn(s, 1, roll.canary != NULL ? roll.canary :
			    opts);
			return;
		}
	}
}

static int
rolled_over(void)
{
	struct slot	*s;
	int		 i, n = pool_target();

	if (roll.slot != -1 || roll.canary != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		if (s->proc != NULL && s->proc->gen != pool_generation())
			return 0;
	}
	return 1;
}

/* Replacements that are up take over; old processes done with their
 * jobs leave. */
static void
settle_others(void)
{
	struct slot	*s;
	int		 i, n = pool_size();

	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		if (s->next != NULL && s->next->state == P_READY)
			take_over(s);
		if (s->prev != NULL && s->prev->state == P_RETIRING &&
		    s->prev->inflight.count == 0)
			pool_stop_worker(s->prev);
	}
}

/*
 * A reload needs new workers: o is the new configuration, which a first
 * replacement tries out before anything else changes.  started() hears
 * whether it came up.
 */
void
replace_roll(const struct options *o, void (*started)(int, const char *))
{
	roll.canary = o;
	roll.started = started;
}

/* The first replacement is up and opts is the new configuration. */
void
replace_roll_commit(void)
{
	unsigned	gen = pool_new_generation();

	roll.all = 1;
	if (roll.slot != -1 && pool_slot(roll.slot)->next != NULL)
		pool_slot(roll.slot)->next->gen = gen;
	log_info("rolling the workers over to the new configuration");
}

/* Whether a roll-over is under way or waits for its first replacement. */
int
replace_busy(void)
{
	return roll.all || roll.canary != NULL;
}

/* Each turn while replacements start or old processes finish. */
void
replace_settle(void)
{
	if (pool_others() > 0)
		settle_others();
	if (replace_busy() && !pool_stopping()) {
		roll_settle();
		if (roll.all && rolled_over()) {
			roll.all = 0;
			log_info("every worker runs the new configuration");
		}
	}
}
