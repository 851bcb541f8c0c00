/*
 * Routing: a keyed job goes to its partition (hash(key) mod P), and each
 * partition belongs to one worker slot, so the jobs of one key reach one
 * worker in submission order and are never on two workers at once.  An
 * unkeyed job waits in the shared queue for whichever worker has room.
 * Each worker has a window of jobs in flight, deep for tiny jobs and
 * shallow for long ones, so tiny jobs are not bound by one round trip each.
 */
#include <string.h>

#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

#define SHARE_CHUNK	64	/* shared jobs a worker takes per round */

static struct jobq	 shared;		/* unkeyed, normal lane */
static struct jobq	 shared_high;		/* unkeyed, high lane */
static unsigned		 rotor;
static double		 tokens;		/* --rate-limit bucket */
static uint64_t		 tokens_ns;
static struct event	*ev_tokens;

static uint32_t		*owner;		/* partition -> slot */
static uint8_t		*moving;	/* waits for its old slot to drain */
static struct jobq	*parked;	/* a moving partition's jobs */
static struct jobq	*unparked;	/* dispatch_requeue's scratch */
static uint32_t		*partition_inflight;
static uint32_t		 nmoving;


void
dispatch_init(void)
{
	uint32_t	p;

	jobq_init(&shared);
	jobq_init(&shared_high);
	owner = xcalloc(opts->partitions, sizeof *owner);
	moving = xcalloc(opts->partitions, sizeof *moving);
	parked = xcalloc(opts->partitions, sizeof *parked);
	unparked = xcalloc(opts->partitions, sizeof *unparked);
	partition_inflight = xcalloc(opts->partitions,
	    sizeof *partition_inflight);
	for (p = 0; p < opts->partitions; p++) {
		owner[p] = p % opts->workers;
		jobq_init(&parked[p]);
		jobq_init(&unparked[p]);
	}
	if ((ev_tokens = evtimer_new(base, supervisor_wake_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
	tokens = opts->rate_limit > 1 ? opts->rate_limit / 10 : 1;
	tokens_ns = now_ns();
}

/*
 * The rate limit is a token bucket holding a tenth of a second's worth of
 * jobs: short bursts pass, the average stays at the limit.  When it is
 * empty, a timer wakes the dispatcher when the next token is due.
 */
static int
take_token(void)
{
	double		 cap = opts->rate_limit > 10 ? opts->rate_limit / 10 : 1;
	uint64_t	 now;
	struct timeval	 tv;

	if (opts->rate_limit <= 0)
		return 1;
	now = now_ns();
	tokens += (now - tokens_ns) / 1e9 * opts->rate_limit;
	tokens_ns = now;
	if (tokens > cap)
		tokens = cap;
	if (tokens >= 1) {
		tokens -= 1;
		return 1;
	}
	if (!evtimer_pending(ev_tokens, NULL)) {
		tv.tv_sec = 0;
		tv.tv_usec = (long)((1 - tokens) / opts->rate_limit * 1e6) + 1;
		if (tv.tv_usec >= 1000000) {
			tv.tv_sec = tv.tv_usec / 1000000;
			tv.tv_usec %= 1000000;
		}
		evtimer_add(ev_tokens, &tv);
	}
	return 0;
}

/* The next unkeyed job: the high lane first. */
static struct jobq *
shared_lane(void)
{
	return shared_high.count > 0 ? &shared_high : &shared;
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
	return h % opts->partitions;
}

static struct slot *
owner_of(uint32_t partition)
{
	return pool_slot(owner[partition]);
}

void
dispatch_submit(uint32_t idx)
{
	struct job	*j = ledger_job(idx);

	if (j->partition == PARTITION_NONE)
		jobq_push(j->high ? &shared_high : &shared, idx);
	else if (moving[j->partition])
		jobq_push(&parked[j->partition], idx);
	else
		jobq_push(&owner_of(j->partition)->keyed, idx);
}

/*
 * Puts a lost worker's jobs back at the head of their queues, in the order
 * they were sent, so the next worker in the slot sees them first.
 */
void
dispatch_requeue(struct proc *w)
{
	struct jobq	 keyed, unkeyed, unkeyed_high;
	uint32_t	 idx, p;
	struct job	*j;

	jobq_init(&keyed);
	jobq_init(&unkeyed);
	jobq_init(&unkeyed_high);
	while ((idx = jobq_pop(&w->inflight)) != JOB_NONE) {
		j = ledger_job(idx);
		j->state = JOB_QUEUED;
		j->worker = -1;
		dispatch_left_worker(j);
		if (j->partition == PARTITION_NONE)
			jobq_push(j->high ? &unkeyed_high : &unkeyed, idx);
		else if (moving[j->partition])
			jobq_push(&unparked[j->partition], idx);
		else
			jobq_push(&keyed, idx);
	}
	/* A moving partition's jobs were sent before those it parked. */
	if (nmoving > 0)
		for (p = 0; p < opts->partitions; p++)
			if (unparked[p].count > 0)
				jobq_requeue_front(&parked[p], &unparked[p]);
	jobq_requeue_front(&w->slot->keyed, &keyed);
	jobq_requeue_front(&shared, &unkeyed);
	jobq_requeue_front(&shared_high, &unkeyed_high);
}

/* A keyed job leaves its worker: answered, failed or put back. */
void
dispatch_left_worker(const struct job *j)
{
	if (j->partition != PARTITION_NONE)
		partition_inflight[j->partition]--;
}

/* A job has gone to its worker. */
static void
sent(const struct job *j)
{
	if (j->partition != PARTITION_NONE)
		partition_inflight[j->partition]++;
}

/*
 * Moves partitions to the slots that own them when there are target
 * slots.  A partition moves in two steps, so that its jobs are never on
 * two workers at once: its queued jobs are parked at once, and when none
 * of its jobs is in flight on the old slot any more, it changes hands and
 * the parked jobs follow, in order.
 */
void
dispatch_rebalance(int target)
{
	struct slot	*from;
	struct jobq	 keep;
	uint32_t	 p, idx, want;

	for (p = 0; p < opts->partitions; p++) {
		want = p % target;
		if (owner[p] != want && !moving[p]) {
			from = pool_slot(owner[p]);
			jobq_init(&keep);
			while ((idx = jobq_pop(&from->keyed)) != JOB_NONE)
				jobq_push(ledger_job(idx)->partition == p ?
				    &parked[p] : &keep, idx);
			from->keyed = keep;
			moving[p] = 1;
			nmoving++;
		}
		if (moving[p] && partition_inflight[p] == 0) {
			owner[p] = want;
			moving[p] = 0;
			nmoving--;
			/* They have waited longest: first in the new slot. */
			jobq_requeue_front(&pool_slot(want)->keyed,
			    &parked[p]);
		}
	}
}

int
dispatch_moving(void)
{
	return nmoving > 0;
}

/* Whether a slot owns a partition. */
int
dispatch_owns_any(int slot)
{
	uint32_t	p;

	for (p = 0; p < opts->partitions; p++)
		if (owner[p] == (uint32_t)slot)
			return 1;
	return 0;
}

/*
 * Sorts a list of jobs by sequence number, as a merge sort of the linked
 * list: nothing to allocate, and the queues it merges are each in order
 * already, so the runs are long.
 */
static uint32_t
sort_by_seq(uint32_t head, uint32_t n)
{
	uint32_t	 a, b, i, first = JOB_NONE, *tail = &first;

	if (n < 2)
		return head;
	b = head;
	for (i = 1; i < n / 2; i++)
		b = ledger_job(b)->next;
	a = head;
	head = ledger_job(b)->next;
	ledger_job(b)->next = JOB_NONE;
	a = sort_by_seq(a, n / 2);
	b = sort_by_seq(head, n - n / 2);
	while (a != JOB_NONE && b != JOB_NONE) {
		if (ledger_job(a)->seq <= ledger_job(b)->seq) {
			*tail = a;
			a = ledger_job(a)->next;
		} else {
			*tail = b;
			b = ledger_job(b)->next;
		}
		tail = &ledger_job(*tail)->next;
	}
	*tail = a != JOB_NONE ? a : b;
	return first;
}

/*
 * Takes every job that waits for a worker out of the queues and gives
 * each to fn in submission order, across lanes, slots and partitions, so
 * that what is not run can be reported in input order.
 */
void
dispatch_withdraw(void (*fn)(uint32_t))
{
	struct jobq	 all;
	uint32_t	 idx, next, p;
	int		 i, n = pool_size();

	jobq_init(&all);
	jobq_requeue_front(&all, &shared);
	jobq_requeue_front(&all, &shared_high);
	for (i = 0; i < n; i++)
		jobq_requeue_front(&all, &pool_slot(i)->keyed);
	for (p = 0; p < opts->partitions; p++)
		jobq_requeue_front(&all, &parked[p]);
	for (idx = sort_by_seq(all.head, all.count); idx != JOB_NONE;
	    idx = next) {
		next = ledger_job(idx)->next;
		fn(idx);
	}
}

uint32_t
dispatch_queued(void)
{
	uint32_t	n = shared.count + shared_high.count;
	int		i, size = pool_size();

	for (i = 0; i < size; i++)
		n += pool_slot(i)->keyed.count;
	return n;
}

/* Counts the jobs waiting in each partition into depth[partitions]. */
void
dispatch_partition_depths(uint32_t *depth)
{
	uint32_t	idx, p;
	int		i, n = pool_size();

	memset(depth, 0, opts->partitions * sizeof *depth);
	for (i = 0; i < n; i++)
		for (idx = pool_slot(i)->keyed.head; idx != JOB_NONE;
		    idx = ledger_job(idx)->next)
			depth[ledger_job(idx)->partition]++;
	for (p = 0; p < opts->partitions; p++)
		depth[p] += parked[p].count;
}

/* Sends job idx, taken from q, to p; puts it back if it cannot go. */
static int
send_job(struct proc *p, struct jobq *q, uint32_t idx)
{
	if (wlink_send_job(p, idx) == -1) {
		jobq_push_front(q, idx);
		return -1;
	}
	sent(ledger_job(idx));
	return 0;
}

/* Fills each ready worker's window: its own partitions first. */
void
dispatch_run(void)
{
	struct slot	*s;
	struct proc	*p;
	struct jobq	*lane;
	uint32_t	 room, take;
	int		 i, n = pool_size(), progress;

	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			s = pool_slot((rotor + i) % n);
			if ((p = s->proc) == NULL || p->state != P_READY)
				continue;
			/* Keyed jobs wait while the process replaced holds some. */
			while (proc_room(p) > 0 && s->keyed.count > 0 &&
			    !slot_predecessor_busy(s) && take_token() &&
			    send_job(p, &s->keyed, jobq_pop(&s->keyed)) == 0)
				;
			if (p->state != P_READY || pool_retiring(s) ||
			    (room = proc_room(p)) == 0)
				continue;
			take = room < SHARE_CHUNK ? room : SHARE_CHUNK;
			while (take-- > 0 && shared_lane()->count > 0 &&
			    take_token()) {
				lane = shared_lane();
				if (send_job(p, lane, jobq_pop(lane)) == -1)
					break;
				progress = 1;
			}
		}
	} while (progress && shared_lane()->count > 0);
	rotor++;
}
