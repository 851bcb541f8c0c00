/*
 * Routing: a keyed job goes to its partition (hash(key) mod P), and each
 * partition belongs to one worker slot, so the jobs of one key reach one
 * worker in submission order and are never on two workers at once.  An
 * unkeyed job waits in the shared queue for whichever worker has room.
 * Each worker has a window of jobs in flight, deep for tiny jobs and
 * shallow for long ones, so tiny jobs are not bound by one round trip each.
 */
#include <math.h>

#include "log.h"
#include "supervisor.h"

#define SHARE_CHUNK	64	/* shared jobs a worker takes per round */
#define WINDOW_TARGET_NS 5000000.0 /* work a full window should hold */
#define WINDOW_MIN	2	/* one running, one waiting: no idle round trip */

static struct jobq	 shared;
static unsigned		 rotor;

void
dispatch_init(void)
{
	jobq_init(&shared);
}

uint32_t
partition_of(const char *key, size_t len)
{
	uint32_t	h = 2166136261U;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619U;
	}
	return h % opts.partitions;
}

static struct worker *
owner_of(uint32_t partition)
{
	return &workers[partition % opts.workers];
}

void
dispatch_submit(uint32_t idx)
{
	struct job	*j = ledger_job(idx);

	if (j->partition == PARTITION_NONE)
		jobq_push(&shared, idx);
	else
		jobq_push(&owner_of(j->partition)->keyed, idx);
}

/*
 * Puts a lost worker's jobs back at the head of their queues, in the order
 * they were sent, so the next worker in the slot sees them first.
 */
void
dispatch_requeue(struct worker *w)
{
	struct jobq	 keyed, unkeyed;
	uint32_t	 idx;
	struct job	*j;

	jobq_init(&keyed);
	jobq_init(&unkeyed);
	while ((idx = jobq_pop(&w->inflight)) != JOB_NONE) {
		j = ledger_job(idx);
		j->state = JOB_QUEUED;
		j->worker = -1;
		if (j->partition == PARTITION_NONE)
			jobq_push(&unkeyed, idx);
		else
			jobq_push(&keyed, idx);
	}
	jobq_requeue_front(&w->keyed, &keyed);
	jobq_requeue_front(&shared, &unkeyed);
}

uint32_t
dispatch_queued(void)
{
	uint32_t	n = shared.count;
	int		i;

	for (i = 0; i < opts.workers; i++)
		n += workers[i].keyed.count;
	return n;
}

/* Fills each ready worker's window: its own partitions first. */
void
dispatch_run(void)
{
	struct worker	*w;
	uint32_t	 room, take, idx;
	int		 i, progress;

	do {
		progress = 0;
		for (i = 0; i < opts.workers; i++) {
			w = &workers[(rotor + i) % opts.workers];
			if (w->state != W_READY)
				continue;
			while (w->inflight.count < w->window &&
			    (idx = jobq_pop(&w->keyed)) != JOB_NONE)
				if (wlink_send_job(w, idx) == -1) {
					jobq_push_front(&w->keyed, idx);
					break;
				}
			if (w->state != W_READY || shared.count == 0 ||
			    w->inflight.count >= w->window)
				continue;
			room = w->window - w->inflight.count;
			take = room < SHARE_CHUNK ? room : SHARE_CHUNK;
			while (take-- > 0 &&
			    (idx = jobq_pop(&shared)) != JOB_NONE) {
				if (wlink_send_job(w, idx) == -1) {
					jobq_push_front(&shared, idx);
					break;
				}
				progress = 1;
			}
		}
	} while (progress && shared.count > 0);
	rotor++;
}

/*
 * Learns the service time from results: k results arrived over the time
 * the worker was busy, so each took about that much.  The window then
 * holds WINDOW_TARGET_NS of work.
 */
void
dispatch_adapt(struct worker *w, unsigned k, uint64_t now)
{
	double		 per, win;

	if (opts.window != 0 || k == 0)
		return;
	if (w->busy_since_ns != 0 && now > w->busy_since_ns) {
		per = (double)(now - w->busy_since_ns) / k;
		w->job_ns = w->job_ns == 0 ? per : 0.7 * w->job_ns + 0.3 * per;
		win = ceil(WINDOW_TARGET_NS / (w->job_ns > 1 ? w->job_ns : 1));
		if (win < WINDOW_MIN)
			win = WINDOW_MIN;
		if (win > WINDOW_MAX)
			win = WINDOW_MAX;
		w->window = (uint32_t)win;
	}
	w->busy_since_ns = w->inflight.count > 0 ? now : 0;
}
