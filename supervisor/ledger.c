/*
 * The job ledger: a slab of job records, allocated once and reused, so the
 * hot path never allocates for a tiny job.  A job is queued, then in flight
 * on one worker at one attempt, then done; its index is its id on the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

struct job		*ledger_jobs;
static uint32_t		 njobs;
static struct jobq	 freelist;

void
ledger_init(uint32_t size)
{
	uint32_t	i;

	njobs = size;
	ledger_jobs = xcalloc(size, sizeof *ledger_jobs);
	jobq_init(&freelist);
	for (i = 0; i < size; i++) {
		ledger_jobs[i].data.p = ledger_jobs[i].data.small;
		ledger_jobs[i].data.cap = BYTES_INLINE;
		ledger_jobs[i].result.p = ledger_jobs[i].result.small;
		ledger_jobs[i].result.cap = BYTES_INLINE;
		jobq_push(&freelist, i);
	}
}

uint32_t
ledger_index(const struct job *j)
{
	return (uint32_t)(j - ledger_jobs);
}

/* Takes a free record, or JOB_NONE when the ledger is full. */
uint32_t
ledger_alloc(void)
{
	uint32_t	 idx;
	struct job	*j;

	if ((idx = jobq_pop(&freelist)) == JOB_NONE)
		return JOB_NONE;
	j = &ledger_jobs[idx];
	j->attempt = 1;
	j->state = JOB_QUEUED;
	j->status = STATUS_OK;
	j->worker = -1;
	j->partition = PARTITION_NONE;
	j->keylen = 0;
	j->high = 0;
	j->client = NULL;
	j->data.len = 0;
	j->result.len = 0;
	return idx;
}

/*
 * What a record keeps of a job's buffers for the next job.  The free list
 * hands out every record in turn, so whatever each keeps, the ledger holds
 * queue times over, for good: a large buffer goes back at once.
 */
#define BYTES_KEEP	1024

static void
bytes_trim(struct bytes *b)
{
	if (b->p != b->small && b->cap > BYTES_KEEP) {
		free(b->p);
		b->p = b->small;
		b->cap = BYTES_INLINE;
	}
	b->len = 0;
}

void
ledger_release(uint32_t idx)
{
	struct job	*j = &ledger_jobs[idx];

	bytes_trim(&j->data);
	bytes_trim(&j->result);
	j->state = JOB_FREE;
	jobq_push(&freelist, idx);
}

uint32_t
ledger_room(void)
{
	return freelist.count;
}

uint32_t
ledger_size(void)
{
	return njobs;
}

uint32_t
ledger_live(void)
{
	return njobs - freelist.count;
}

/* Stores a then b; -1 on ENOMEM (the job is then left unchanged). */
int
bytes_set(struct bytes *dst, const char *a, size_t alen, const char *b,
    size_t blen)
{
	size_t	 need = alen + blen, cap;
	char	*p;

	if (need > UINT32_MAX)
		return -1;
	if (need > dst->cap) {
		cap = dst->cap;
		while (cap < need)
			cap = cap * 2 > UINT32_MAX ? UINT32_MAX : cap * 2;
		p = dst->p == dst->small ? malloc(cap) : realloc(dst->p, cap);
		if (p == NULL)
			return -1;
		dst->p = p;
		dst->cap = cap;
	}
	if (alen > 0)
		memcpy(dst->p, a, alen);
	if (blen > 0)
		memcpy(dst->p + alen, b, blen);
	dst->len = need;
	return 0;
}

/* Puts the whole of src, in its order, in front of dst; empties src. */
void
jobq_requeue_front(struct jobq *dst, struct jobq *src)
{
	if (src->head == JOB_NONE)
		return;
	ledger_jobs[src->tail].next = dst->head;
	if (dst->tail == JOB_NONE)
		dst->tail = src->tail;
	dst->head = src->head;
	dst->count += src->count;
	jobq_init(src);
}
