/*
 * The Redis source's finish path: a job done goes back with its result
 * in a finish script that checks that this consumer still holds its
 * entry, acknowledges it and writes the result to its reply stream (or
 * the pool's results stream), or the dead-letter stream, at once
 * (rscript.c).  Finished jobs wait in a queue while Redis is away and
 * are sent again when it is back; the ownership check makes the second
 * try harmless.
 *
 * A packed entry (rpack.c) is finished as one item, once its last job
 * is done.  On a Redis Cluster a finish is one script per partition:
 * results go to its outbox with the ack, and rforward.c takes them on
 * to their streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "supervisor.h"
#include "redis.h"
#include "proto/xmalloc.h"

#define FINISH_BATCH	256	/* jobs per finish script */
#define FINISH_BYTES	(4 * 1024 * 1024)
#define FINISH_INFLIGHT	8	/* finish scripts in flight */
#define FINISH_FULL	64	/* jobs that make a finish worth sending now */
#define CFINISH_INFLIGHT 32	/* cluster: finish scripts in flight */
#define CFINISH_STREAMS	16	/* cluster: partitions of one batch */
#define REPLY_TTL_MS	"86400000"	/* a reply stream lives a day */

struct finish_batch {
	unsigned	 n;
	uint32_t	 idx[];
};

static uint32_t		*slot;		/* partition -> its place in a finish */
static struct jobq	 finishq;	/* done, finish not yet sent */
static struct jobq	 retryq;	/* sent, answer lost: sent again first */
static unsigned		 finishes_out;	/* finish scripts in flight */
static struct rargv	 scratch;	/* a command being built */
static struct rfinish_totals totals;

/*
 * A job done, its result ready to go.  A packed entry's jobs go as one
 * item, its first job's, once the last is done.
 */
void
redis_finish_push(uint32_t idx)
{
	struct rpack	*pk = rjobs[idx].pack;

	if (pk == NULL) {
		jobq_push(&finishq, idx);
		return;
	}
	if (--pk->left > 0)
		return;
	if (rpack_build(pk, rjobs[idx].stream) == -1)
		fatalx("out of memory");
	jobq_push(&finishq, pk->idx[0]);
}

/* An entry's jobs off the ledger: its partition may be read again when free. */
static void
finish_release(uint32_t idx)
{
	struct rpack	*pk = rjobs[idx].pack;
	uint32_t	 i, p = rjobs[idx].stream, n = 1;

	if (pk == NULL)
		ledger_release(idx);
	else {
		n = pk->n;
		for (i = 0; i < n; i++) {
			rjobs[pk->idx[i]].pack = NULL;
			ledger_release(pk->idx[i]);
		}
		rpack_free(pk);
	}
	redis_entry_released(p, n);
}

/* An entry finished: its jobs counted, the failed ones dead-lettered. */
static void
finish_count(uint32_t idx)
{
	struct rpack	*pk = rjobs[idx].pack;
	struct job	*j;
	uint32_t	 i, n = pk != NULL ? pk->n : 1;

	for (i = 0; i < n; i++) {
		j = ledger_job(pk != NULL ? pk->idx[i] : idx);
		totals.done++;
		if (j->status != STATUS_OK && j->status != STATUS_ERROR)
			totals.dead++;
	}
}

static void
finish_outcome(uint32_t idx, const redisReply *r)
{
	struct rjob	*rj = &rjobs[idx];

	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		finish_count(idx);
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0 &&
	    rj->sent)
		/* Our first try got there; only its answer was lost. */
		totals.done += rj->pack != NULL ? rj->pack->n : 1;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
		totals.refused++;
		log_warnx("partition %u: entry %s is no longer pending "
		    "(finished by another consumer); its result is dropped",
		    rj->stream, rj->id);
	} else if (r->type == REDIS_REPLY_STRING) {
		totals.refused++;
		log_warnx("partition %u: entry %s: ack refused: consumer %s "
		    "holds it now; its result is dropped", rj->stream, rj->id,
		    r->str);
	} else {
		/* Kept for another try, as if the link was lost. */
		rjobs[idx].sent = 1;
		jobq_push(&retryq, idx);
		return;
	}
	finish_release(idx);
}

static void
finish_done(void *arg, redisReply *r)
{
	struct finish_batch	*b = arg;
	unsigned		 i, cluster = rconn_cluster();
	uint32_t		 p = rjobs[b->idx[0]].stream;

	if (finishes_out > 0)
		finishes_out--;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY &&
	    r->elements == b->n + cluster) {
		for (i = 0; i < b->n; i++)
			finish_outcome(b->idx[i], r->element[i]);
		/* Cluster: the outbox, this batch's results and any left. */
		if (cluster)
			rforward_send(p, r->element[b->n]);
		free(b);
		return;
	}
	if (r != NULL) {
		log_warnx("redis: finish: %s", r->type == REDIS_REPLY_ERROR ?
		    r->str : "a strange reply");
		rconn_drop("finish failed");
	}
	/*
	 * Lost or failed: sent again before anything not yet sent.  Lost
	 * batches come back here in the order they were sent, so that a
	 * key's results are still written in order.
	 */
	for (i = 0; i < b->n; i++) {
		rjobs[b->idx[i]].sent = 1;
		jobq_push(&retryq, b->idx[i]);
	}
	free(b);
}

/* The dead-letter reason of a failed job; "" for a result. */
const char *
redis_dead_reason(const struct job *j, char *buf, size_t size)
{
	if (j->status == STATUS_OK || j->status == STATUS_ERROR)
		return "";
	if (j->result.len > 0) {
		snprintf(buf, size, "%.*s", (int)j->result.len, j->result.p);
		return buf;
	}
	snprintf(buf, size, "%s after %u attempt%s",
	    frame_status_name(j->status), j->attempt,
	    j->attempt == 1 ? "" : "s");
	return buf;
}

/* An entry id, "MS-SEQ", as a pair that sorts as Redis sorts them. */
static void
id_parse(const char *id, uint64_t *ms, uint64_t *seq)
{
	char	*end;

	*ms = strtoull(id, &end, 10);
	*seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

static int
id_less(const char *a, const char *b)
{
	uint64_t	ams, aseq, bms, bseq;

	id_parse(a, &ams, &aseq);
	id_parse(b, &bms, &bseq);
	return ams < bms || (ams == bms && aseq < bseq);
}

/* The stream a job's result goes to, at argc; returns the next argc. */
static int
result_stream_arg(uint32_t idx, int argc)
{
	struct rjob	*rj = &rjobs[idx];

	if (rj->pack != NULL && rj->pack->reply != NULL) {
		scratch.v[argc] = rj->pack->reply;
		scratch.len[argc++] = rj->pack->replylen;
	} else if (rj->replylen > 0) {
		scratch.v[argc] = rj->meta.p;
		scratch.len[argc++] = rj->replylen;
	} else {
		scratch.v[argc] = rpool.results;
		scratch.len[argc++] = strlen(rpool.results);
	}
	return argc;
}

/*
 * A job's arguments in a finish script, from argc on: entry id, status,
 * attempts, result, ref, dead-letter reason (made in att and why).
 * Returns the next argc.
 */
static int
finish_job_args(uint32_t idx, int argc, char att[8], char why[128])
{
	struct job	*j = ledger_job(idx);
	struct rjob	*rj = &rjobs[idx];
	const char	*s;

	snprintf(att, 8, "%u", j->attempt);
	scratch.v[argc] = rj->id;
	scratch.len[argc++] = strlen(rj->id);
	s = frame_status_name(j->status);
	scratch.v[argc] = s;
	scratch.len[argc++] = strlen(s);
	scratch.v[argc] = att;
	scratch.len[argc++] = strlen(att);
	scratch.v[argc] = j->result.p;
	scratch.len[argc++] = j->result.len;
	scratch.v[argc] = rj->meta.p + rj->replylen;
	scratch.len[argc++] = rj->reflen;
	s = redis_dead_reason(j, why, 128);
	scratch.v[argc] = s;
	scratch.len[argc++] = strlen(s);
	return argc;
}

/*
 * A packed entry's item in a finish script, from argc on: its id, "P",
 * then its arguments (rpack.c), the result's stream or kind (to) among
 * them.  Returns the next argc.
 */
static int
pack_item_args(uint32_t idx, int argc, const char *to, size_t tolen)
{
	scratch.v[argc] = rjobs[idx].id;
	scratch.len[argc++] = strlen(rjobs[idx].id);
	scratch.v[argc] = "P";
	scratch.len[argc++] = 1;
	return rpack_args(rjobs[idx].pack, argc, scratch.v, scratch.len, to,
	    tolen);
}

/*
 * Cluster: the batch b (the head of queue q), grouped by stream, stream
 * k's jobs ending at end[k], goes as one script per stream, each in its
 * slot, or not at all.
 */
static int
cfinish_send(struct jobq *q, struct finish_batch *b, uint32_t ns,
    const uint32_t *spart, const uint32_t *first, const uint32_t *last,
    const uint32_t *end, size_t extra)
{
	static char		 att[FINISH_BATCH][8], why[FINISH_BATCH][128];
	struct finish_batch	*sb;
	char			 most[12];
	uint32_t		 k, p, i, at;
	int			 argc;

	for (k = 0; k < ns; k++)
		slot[spart[k]] = JOB_NONE;
	if (rconn_room() < ns ||
	    rargv_room(&scratch, 8 + 7 * b->n + extra) == -1) {
		free(b);
		return -1;
	}
	/* Taken off the queue first: a script not sent goes back after. */
	for (i = 0; i < b->n; i++)
		jobq_pop(q);
	for (k = 0; k < ns; k++) {
		p = spart[k];
		at = k > 0 ? end[k - 1] : 0;
		if ((sb = malloc(sizeof *sb + (end[k] - at) *
		    sizeof sb->idx[0])) == NULL) {
			for (i = at; i < end[k]; i++)
				jobq_push(&retryq, b->idx[i]);
			continue;
		}
		sb->n = end[k] - at;
		memcpy(sb->idx, b->idx + at, sb->n * sizeof sb->idx[0]);
		snprintf(most, sizeof most, "%u", redis_held(p));
		argc = 0;
		scratch.v[argc++] = "EVAL";
		scratch.v[argc++] = script_cfinish;
		scratch.v[argc++] = "2";
		scratch.v[argc++] = rpool.stream[p];
		scratch.v[argc++] = rpool.outbox[p];
		scratch.v[argc++] = rpool.url.pool;
		scratch.v[argc++] = rpool.consumer;
		scratch.v[argc++] = redis_partnum(p);
		scratch.v[argc++] = rjobs[first[k]].id;
		scratch.v[argc++] = rjobs[last[k]].id;
		scratch.v[argc++] = most;
		scratch.v[argc++] = rpool.dead;
		for (i = 0; i < (uint32_t)argc; i++)
			scratch.len[i] = strlen(scratch.v[i]);
		for (i = 0; i < sb->n; i++) {
			if (rjobs[sb->idx[i]].pack != NULL) {
				/* The stream goes in its place, moved there. */
				argc = result_stream_arg(sb->idx[i], argc);
				argc = pack_item_args(sb->idx[i], argc - 1,
				    scratch.v[argc - 1], scratch.len[argc - 1]);
				continue;
			}
			argc = finish_job_args(sb->idx[i], argc, att[i],
			    why[i]);
			argc = result_stream_arg(sb->idx[i], argc);
		}
		if (rconn_command(finish_done, sb, rpool.pslot[p], argc,
		    scratch.v, scratch.len) == -1) {
			for (i = 0; i < sb->n; i++)
				jobq_push(&retryq, sb->idx[i]);
			free(sb);
			continue;
		}
		finishes_out++;
		totals.finishes++;
	}
	free(b);
	return 0;
}

/*
 * Sends one finish script for the jobs at the head of the queue, grouped
 * by stream (in queue order within each, so that a key's results keep
 * their order): the script checks and acknowledges a stream's jobs at
 * once.
 */
int
rfinish_send(void)
{
	struct jobq		*q = retryq.count > 0 ? &retryq : &finishq;
	struct finish_batch	*b;
	struct job		*j;
	struct rjob		*rj;
	static uint32_t		 order[FINISH_BATCH], first[FINISH_BATCH],
				 last[FINISH_BATCH], count[FINISH_BATCH],
				 spart[FINISH_BATCH];
	static char		 att[FINISH_BATCH][8], why[FINISH_BATCH][128],
				 place[FINISH_BATCH][8], most[FINISH_BATCH][12];
	char			 nkeys[16], nstreams[16];
	size_t			 bytes = 0, extra = 0;
	uint32_t		 idx, k, ns = 0, nsmax;
	unsigned		 n, i, at;
	int			 argc = 0;

	n = q->count < FINISH_BATCH ? q->count : FINISH_BATCH;
	nsmax = rconn_cluster() ? CFINISH_STREAMS : FINISH_BATCH;
	/* The jobs of the batch, and its streams in order of appearance. */
	for (i = 0, idx = q->head; i < n && idx != JOB_NONE; i++) {
		j = ledger_job(idx);
		rj = &rjobs[idx];
		bytes += rj->pack != NULL ? rj->pack->args.len : j->result.len;
		if ((i > 0 && bytes > FINISH_BYTES) ||
		    (slot[rj->stream] == JOB_NONE && ns == nsmax))
			break;
		order[i] = idx;
		if (rj->pack != NULL)
			extra += rj->pack->nargs + 1;
		if ((k = slot[rj->stream]) == JOB_NONE) {
			k = slot[rj->stream] = ns++;
			spart[k] = rj->stream;
			first[k] = last[k] = idx;
			count[k] = 0;
		} else if (id_less(rj->id, rjobs[first[k]].id))
			first[k] = idx;
		else if (id_less(rjobs[last[k]].id, rj->id))
			last[k] = idx;
		count[k]++;
		idx = j->next;
	}
	n = i;
	if (rargv_room(&scratch, 16 + 5 * ns + 9 * n + extra) == -1 ||
	    (b = malloc(sizeof *b + n * sizeof b->idx[0])) == NULL) {
		for (k = 0; k < ns; k++)
			slot[spart[k]] = JOB_NONE;
		return -1;
	}
	/* Stable by stream: count[k] becomes where stream k's jobs start. */
	for (k = 0, at = 0; k < ns; k++) {
		i = count[k];
		count[k] = at;
		at += i;
	}
	for (i = 0; i < n; i++)
		b->idx[count[slot[rjobs[order[i]].stream]]++] = order[i];
	b->n = n;
	if (rconn_cluster())
		return cfinish_send(q, b, ns, spart, first, last, count,
		    extra);

	nkeys[0] = '\0';	/* set once the keys are counted */
	scratch.v[argc++] = "EVAL";
	scratch.v[argc++] = script_finish;
	scratch.v[argc++] = nkeys;
	scratch.v[argc++] = rpool.dead;
	scratch.v[argc++] = rpool.results;
	for (k = 0; k < ns; k++)
		scratch.v[argc++] = rpool.stream[spart[k]];
	for (i = 0; i < (unsigned)argc; i++)
		scratch.len[i] = strlen(scratch.v[i]);
	for (i = 0; i < n; i++)
		argc = result_stream_arg(b->idx[i], argc);
	snprintf(nkeys, sizeof nkeys, "%d", argc - 3);
	scratch.len[2] = strlen(nkeys);
	snprintf(nstreams, sizeof nstreams, "%u", ns);
	scratch.v[argc++] = rpool.url.pool;
	scratch.v[argc++] = rpool.consumer;
	scratch.v[argc++] = REPLY_TTL_MS;
	scratch.v[argc++] = nstreams;
	for (i = argc - 4; i < (unsigned)argc; i++)
		scratch.len[i] = strlen(scratch.v[i]);
	for (k = 0; k < ns; k++) {
		/* What this consumer holds of the stream, at most. */
		snprintf(most[k], sizeof most[k], "%u",
		    redis_held(spart[k]));
		scratch.v[argc++] = redis_partnum(spart[k]);
		scratch.v[argc++] = rjobs[first[k]].id;
		scratch.v[argc++] = rjobs[last[k]].id;
		scratch.v[argc++] = most[k];
		for (i = argc - 4; i < (unsigned)argc; i++)
			scratch.len[i] = strlen(scratch.v[i]);
		slot[spart[k]] = JOB_NONE;
		snprintf(place[k], sizeof place[k], "%u", k + 1);
	}
	for (i = 0, k = 0; i < n; i++) {
		rj = &rjobs[b->idx[i]];
		while (k + 1 < ns && spart[k] != rj->stream)
			k++;
		scratch.v[argc] = place[k];
		scratch.len[argc++] = strlen(place[k]);
		if (rj->pack != NULL) {
			argc = pack_item_args(b->idx[i], argc,
			    rj->pack->reply != NULL ? "r" : "p", 1);
			continue;
		}
		argc = finish_job_args(b->idx[i], argc, att[i], why[i]);
		scratch.v[argc] = rj->replylen > 0 ? "r" : "p";
		scratch.len[argc++] = 1;
	}
	if (rconn_command(finish_done, b, -1, argc, scratch.v,
	    scratch.len) == -1) {
		free(b);
		return -1;
	}
	/* The batch was the head of the queue, in whatever order sent. */
	for (i = 0; i < n; i++)
		jobq_pop(q);
	finishes_out++;
	totals.finishes++;
	return 0;
}

/*
 * One finish goes at once; while it is out, more are sent only for
 * a full batch, so that the jobs done meanwhile go together.  At
 * a low rate each result goes alone and soon.
 */
int
rfinish_due(int stopping)
{
	return finishq.count + retryq.count > 0 &&
	    (rconn_cluster() ? finishes_out < CFINISH_INFLIGHT :
	    rconn_outstanding() < FINISH_INFLIGHT) &&
	    (finishes_out == 0 || stopping || retryq.count > 0 ||
	    finishq.count >= FINISH_FULL);
}

/* The results waiting to go. */
unsigned
rfinish_queued(void)
{
	return finishq.count + retryq.count;
}

/* The replies in flight came back empty. */
void
rfinish_lost(void)
{
	finishes_out = 0;
}

/* What the finishes came to, for the exit log. */
const struct rfinish_totals *
rfinish_totals(void)
{
	return &totals;
}

void
rfinish_init(void)
{
	uint32_t	p;

	slot = xcalloc(opts->partitions, sizeof *slot);
	for (p = 0; p < opts->partitions; p++)
		slot[p] = JOB_NONE;
	jobq_init(&finishq);
	jobq_init(&retryq);
}
