/*
 * The Redis source: jobs are the entries of a pool's partition streams,
 * results go back to each entry's reply stream (or the pool's results
 * stream), and an entry is acknowledged only together with its result,
 * by the consumer that still holds it (rscript.c).  Partition k of the
 * pool is partition k here, so dispatch.c keeps a key's jobs on one
 * worker, in order; the take script keeps them on one host.
 *
 * A partition is "held" while any of its entries is in the ledger, done
 * ones included until their finish is answered: the take script is not
 * asked about it meanwhile.  Finished jobs wait in a queue while Redis is
 * away and are sent again when it is back; the ownership check makes the
 * second try harmless.
 *
 * A packed entry (rpack.c) is n jobs in the ledger, held and finished
 * together: "held" counts jobs, and a take asks for as many entries as
 * bring about the jobs there is room for, at the recent jobs per entry.
 *
 * On a Redis Cluster each partition's stream is in a slot of its own: a
 * take is one script per partition, a finish one per partition (results
 * go to its outbox with the ack), and rforward.c takes the results on
 * to their streams.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "proto/netstr.h"
#include "supervisor.h"
#include "redis.h"
#include "proto/xmalloc.h"

#define TAKE_BATCH	128	/* entries of one partition per take */
#define FINISH_BATCH	256	/* jobs per finish script */
#define FINISH_BYTES	(4 * 1024 * 1024)
#define FINISH_INFLIGHT	8	/* finish scripts in flight */
#define FINISH_FULL	64	/* jobs that make a finish worth sending now */
#define TAKE_INFLIGHT	3	/* take scripts (cluster: rounds) in flight */
#define CFINISH_INFLIGHT 32	/* cluster: finish scripts in flight */
#define CFINISH_STREAMS	16	/* cluster: partitions of one batch */
#define POLL_MIN_NS	1000000ULL	/* an empty take: ask again in 1 ms, */
#define POLL_MAX_NS	100000000ULL	/* doubling up to 0.1 s */
#define REPLY_TTL_MS	"86400000"	/* a reply stream lives a day */
#define JPE_ONE		16	/* jobs per entry, in sixteenths */

struct finish_batch {
	unsigned	 n;
	uint32_t	 idx[];
};

/* A take in flight: the entries it may bring, its partitions. */
struct take {
	uint32_t	 want;
	uint32_t	 n;
	uint32_t	 part[];
};

/* Cluster: a round of takes, a script per partition. */
struct ctake;
struct ctake_one {
	struct ctake	*round;
	uint32_t	 p;
};
struct ctake {
	uint32_t	 want;
	uint32_t	 left;		/* scripts not answered */
	uint32_t	 got;
	int		 lost;
	struct ctake_one one[];
};

struct rjob		*rjobs;
static uint32_t		*held;		/* partition -> live jobs */
static uint32_t		*pentries;	/* partition -> live entries */
static uint32_t		*reread;	/* partition -> its own reads again */
static uint32_t		*need;		/* partition -> room it waits for */
static uint32_t		 jpe = JPE_ONE;	/* recent jobs per entry */
static char		(*partnum)[12];	/* partition -> its number */
static uint32_t		*slot;		/* partition -> its place in a finish */
static struct jobq	 finishq;	/* done, finish not yet sent */
static struct jobq	 retryq;	/* sent, answer lost: sent again first */
static uint8_t		*asking;	/* partition -> in a take in flight */
static unsigned		 takes_out;	/* takes in flight */
static uint32_t		 asked;		/* the entries they may bring */
static unsigned		 finishes_out;	/* finish scripts in flight */
static uint32_t		 rotor;
static uint64_t		 poll_ns;
static struct event	*ev_poll;
static int		 stopping, released, releasing;
static int		 waiting;	/* results wait for the link */
static struct rargv	 scratch;	/* a command being built */

static struct {
	uint64_t	 taken, done, refused, dead, taken_over, takes, finishes;
} totals;


uint32_t
redis_partition_live(uint32_t p)
{
	return pentries[p];
}

/* The heartbeat found fewer of its entries in Redis than it holds. */
void
redis_lost_entries(uint32_t p, unsigned n)
{
	log_warnx("partition %u: %u entr%s taken over by another consumer "
	    "(this one was out of touch longer than the claim idle time); "
	    "their results will be refused", p, n, n == 1 ? "y was" :
	    "ies were");
}

/*
 * Jobs to take: what the workers can start soon (twice their windows,
 * which adapt to the cost of a job), within the ledger's room.  A host
 * takes no more than it can use, so that other hosts get the rest.
 */
static uint32_t
budget(void)
{
	uint32_t	want = 2 * pool_windows(), live = ledger_live();
	uint32_t	room = ledger_room();

	want = want > live ? want - live : 0;
	return want < room ? want : room;
}

/* The entries that bring about so many jobs, at least one. */
static uint32_t
entries_for(uint32_t jobs)
{
	uint32_t	n = (uint32_t)((uint64_t)jobs * JPE_ONE / jpe);

	return n > 0 ? n : 1;
}

/*
 * The most entries a take may resume or take over in one partition, all
 * of them or none.  An idle host takes as many as it has room for jobs,
 * since a dead consumer's packed entries may be more than any budget of
 * entries; those past its room stay pending to it and are read once
 * there is room.  A busy one, as many as the jobs it wants.
 */
static uint32_t
resume_most(uint32_t want)
{
	uint32_t	room = ledger_room();

	return ledger_live() == 0 && room > want ? room : want;
}

static void
poll_soon(void)
{
	poll_ns = 0;
	evtimer_del(ev_poll);
}

/*
 * An entry's next field and its value from *i on, both strings; 0 at the
 * end.  A pair that is not is skipped, and *bad says so.
 */
int
redis_field_next(const redisReply *fields, size_t *i, const redisReply **f,
    const redisReply **v, const char **bad)
{
	for (; *i + 1 < fields->elements; *i += 2) {
		*f = fields->element[*i];
		*v = fields->element[*i + 1];
		if ((*f)->type == REDIS_REPLY_STRING &&
		    (*v)->type == REDIS_REPLY_STRING) {
			*i += 2;
			return 1;
		}
		if (*bad == NULL)
			*bad = "malformed fields";
	}
	return 0;
}

/* NULL if reply names a reply stream of this pool, or why not. */
const char *
redis_reply_bad(const redisReply *reply)
{
	static char	why[REDIS_KEY_MAX + 96];
	size_t		plen = strlen(rpool.reply_prefix);

	if (reply->len < REDIS_KEY_MAX && reply->len > plen &&
	    memcmp(reply->str, rpool.reply_prefix, plen) == 0 &&
	    memchr(reply->str, '\0', reply->len) == NULL)
		return NULL;
	snprintf(why, sizeof why, "the reply stream must be named %sNAME "
	    "(at most %d bytes)", rpool.reply_prefix, REDIS_KEY_MAX - 1);
	return why;
}

int
redis_field_is(const redisReply *f, const char *name)
{
	size_t	len = strlen(name);

	return f->len == len && memcmp(f->str, name, len) == 0;
}

/* NULL if a job of partition p may run with this key and payload. */
const char *
redis_job_bad(uint32_t p, const char *key, size_t keylen, size_t paylen)
{
	static char	why[160];

	if (key != NULL && partition_of(key, keylen) != p) {
		snprintf(why, sizeof why, "its key belongs in partition %u, "
		    "not %u: the producer does not use this pool's %u "
		    "partitions", partition_of(key, keylen), p,
		    opts->partitions);
		return why;
	}
	if (frame_size(keylen, paylen) > opts->frame_max)
		return "longer than the maximum frame size";
	return NULL;
}

/*
 * Reads an entry's fields; NULL when they make a job, or why not.  Every
 * field is read before anything is judged, so that the producer of an
 * entry refused for any reason hears of it on its reply stream, when it
 * named one that is valid (a ref that is not is dropped).
 */
static const char *
entry_fields(uint32_t p, const redisReply *fields, struct rjob *rj,
    const redisReply **key, const redisReply **payload, int *high)
{
	const redisReply	*f, *v, *reply = NULL, *ref = NULL,
				*prio = NULL;
	const char		*bad = NULL, *s;
	size_t			 i;
	int			 replies = 0, refs = 0;

	*key = *payload = NULL;
	*high = 0;
	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return "the entry has no fields (deleted or trimmed)";
	if (fields->elements % 2 != 0)
		bad = "malformed fields";
	for (i = 0; redis_field_next(fields, &i, &f, &v, &bad); ) {
		if (redis_field_is(f, "payload")) {
			if (*payload != NULL && bad == NULL)
				bad = "payload given twice";
			*payload = v;
		} else if (redis_field_is(f, "key")) {
			if (*key != NULL && bad == NULL)
				bad = "key given twice";
			*key = v;
		} else if (redis_field_is(f, "priority")) {
			if (prio != NULL && bad == NULL)
				bad = "priority given twice";
			prio = v;
		} else if (redis_field_is(f, "reply")) {
			replies++;
			reply = v;
		} else if (redis_field_is(f, "ref")) {
			refs++;
			ref = v;
		}
		/* Other fields are the producer's own: kept, not read. */
	}
	/* Two replies name no stream to answer on; two refs, no ref. */
	if (replies > 1) {
		reply = NULL;
		if (bad == NULL)
			bad = "reply given twice";
	}
	if (refs > 1) {
		ref = NULL;
		if (bad == NULL)
			bad = "ref given twice";
	}
	if (reply != NULL && (s = redis_reply_bad(reply)) != NULL) {
		reply = NULL;
		if (bad == NULL)
			bad = s;
	}
	if (ref != NULL && ref->len > REF_MAX) {
		ref = NULL;
		if (bad == NULL)
			bad = "ref longer than 256 bytes";
	}
	if (bytes_set(&rj->meta, reply != NULL ? reply->str : NULL,
	    reply != NULL ? reply->len : 0, ref != NULL ? ref->str : NULL,
	    ref != NULL ? ref->len : 0) == -1)
		return "out of memory";
	rj->replylen = reply != NULL ? reply->len : 0;
	rj->reflen = ref != NULL ? ref->len : 0;
	if (bad != NULL)
		return bad;
	if (*payload == NULL)
		return "no payload field";
	if (prio != NULL && !redis_field_is(prio, "high") &&
	    !redis_field_is(prio, "normal"))
		return "priority must be high or normal";
	*high = prio != NULL && redis_field_is(prio, "high");
	return redis_job_bad(p, *key != NULL ? (*key)->str : NULL,
	    *key != NULL ? (*key)->len : 0, (*payload)->len);
}

/* Ends a job at once, without a worker. */
void
redis_job_end(uint32_t idx, int status, const char *why)
{
	struct job	*j = ledger_job(idx);

	j->state = JOB_DONE;
	j->status = status;
	if (bytes_set(&j->result, why, strlen(why), NULL, 0) == -1)
		j->result.len = 0;
	redis_finish_push(idx);
}

/* A bad entry, or one run too often. */
void
redis_refuse(uint32_t idx, int status, const char *why)
{
	struct rjob	*rj = &rjobs[idx];

	log_warnx("partition %u: entry %s: %s; moved to %s", rj->stream,
	    rj->id, why, rpool.dead);
	redis_job_end(idx, status, why);
}

/* A job in the ledger for the entry id of partition p, or JOB_NONE. */
uint32_t
redis_job_open(uint32_t p, const redisReply *id, uint32_t deliveries)
{
	static uint64_t	 seq;
	struct job	*j;
	struct rjob	*rj;
	uint32_t	 idx;

	if ((idx = ledger_alloc()) == JOB_NONE)
		return JOB_NONE;
	held[p]++;
	j = ledger_job(idx);
	rj = &rjobs[idx];
	memcpy(rj->id, id->str, id->len + 1);
	rj->stream = p;
	rj->deliveries = deliveries;
	rj->sent = 0;
	rj->replylen = rj->reflen = 0;
	rj->pack = NULL;
	j->seq = j->line = ++seq;
	j->submitted_ns = now_ns();
	j->attempt = deliveries;
	return idx;
}

void
redis_too_often(char *msg, size_t size, uint32_t deliveries)
{
	snprintf(msg, size, "delivered %u times, more than the %u attempts "
	    "allowed (its supervisors died running it)", deliveries,
	    opts->attempts);
}

/* An entry of n jobs taken from partition p. */
void
redis_entry_taken(uint32_t p, uint32_t n)
{
	pentries[p]++;
	totals.taken++;
	jpe = (7 * jpe + n * JPE_ONE) / 8;
}

/* Partition p waits for room for n jobs before it is read again. */
void
redis_needs_room(uint32_t p, uint32_t n)
{
	need[p] = n;
}

/* Returns -1 when the entry does not fit the ledger now. */
static int
take_entry(uint32_t p, const redisReply *e, long long deliveries)
{
	const redisReply	*key, *payload;
	const char		*why;
	struct job		*j;
	struct rjob		*rj;
	uint32_t		 idx, d;
	int			 high;
	char			 msg[160];

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= ID_MAX) {
		log_warnx("partition %u: an entry without an id", p);
		return 0;
	}
	d = deliveries < 1 ? 1 : deliveries > 65535 ? 65535 :
	    (uint32_t)deliveries;
	if (rpack_is(e->element[1]))
		return rpack_take(p, e, d);
	if ((idx = redis_job_open(p, e->element[0], d)) == JOB_NONE) {
		/* The budget said there was room; it stays pending to us,
		 * and is read again once the partition is free. */
		log_warnx("partition %u: no room for entry %s", p,
		    e->element[0]->str);
		need[p] = 1;
		return -1;
	}
	redis_entry_taken(p, 1);
	j = ledger_job(idx);
	rj = &rjobs[idx];
	if ((why = entry_fields(p, e->element[1], rj, &key, &payload,
	    &high)) != NULL) {
		redis_refuse(idx, STATUS_REJECTED, why);
		return 0;
	}
	if (rj->deliveries > opts->attempts) {
		redis_too_often(msg, sizeof msg, rj->deliveries);
		redis_refuse(idx, STATUS_CRASHED, msg);
		return 0;
	}
	if (bytes_set(&j->data, key != NULL ? key->str : NULL,
	    key != NULL ? key->len : 0, payload->str, payload->len) == -1) {
		redis_refuse(idx, STATUS_REJECTED, "out of memory");
		return 0;
	}
	j->keylen = key != NULL ? key->len : 0;
	j->partition = key != NULL ? p : PARTITION_NONE;
	j->high = high;
	dispatch_submit(idx);
	return 0;
}

/*
 * One stream's part of a take's reply: its partition, entries, their
 * deliveries (one for all, or one each) and previous owners.  Returns
 * the entries taken.  Those that do not fit the ledger stay pending to
 * this consumer, and the partition is asked again once there is room:
 * each such read counts as a delivery in Redis, which is not an attempt,
 * so it is taken off again.
 */
static size_t
take_stream(const redisReply *part, const redisReply *entries,
    const redisReply *deliv, const redisReply *from)
{
	long long	d;
	uint32_t	p;
	size_t		k;

	if (part->type != REDIS_REPLY_INTEGER || part->integer < 0 ||
	    part->integer >= opts->partitions ||
	    entries->type != REDIS_REPLY_ARRAY ||
	    from->type != REDIS_REPLY_STRING ||
	    (deliv->type == REDIS_REPLY_ARRAY ?
	    deliv->elements != entries->elements :
	    deliv->type != REDIS_REPLY_INTEGER)) {
		log_warnx("redis: take: a strange reply");
		return 0;
	}
	p = (uint32_t)part->integer;
	need[p] = 0;
	if (from->len > 0) {
		reread[p] = 0;
		totals.taken_over += entries->elements;
		log_warnx("partition %u: took over %zu entr%s from consumer %s",
		    p, entries->elements, entries->elements == 1 ? "y" : "ies",
		    from->str);
	} else if (deliv->type == REDIS_REPLY_ARRAY && reread[p] == 0)
		/* Not those it left for want of room. */
		log_warnx("partition %u: resuming %zu entr%s this consumer "
		    "held before", p, entries->elements,
		    entries->elements == 1 ? "y" : "ies");
	for (k = 0; k < entries->elements; k++) {
		d = deliv->type == REDIS_REPLY_ARRAY ?
		    deliv->element[k]->integer : deliv->integer;
		if (deliv->type == REDIS_REPLY_ARRAY && from->len == 0)
			d = d > reread[p] ? d - reread[p] : 1;
		if (take_entry(p, entries->element[k], d) == -1)
			break;
	}
	if (k == entries->elements)
		reread[p] = 0;
	else {
		reread[p]++;
		log_debug("partition %u: %zu entr%s for room", p,
		    entries->elements - k,
		    entries->elements - k == 1 ? "y waits" : "ies wait");
	}
	return k;
}

/* A take came back with entries (ask again at once) or none (later). */
static void
take_polled(size_t got)
{
	if (got > 0)
		poll_ns = 0;
	else {
		poll_ns = poll_ns == 0 ? POLL_MIN_NS : poll_ns * 2;
		if (poll_ns > POLL_MAX_NS)
			poll_ns = POLL_MAX_NS;
		timer_add_ns(ev_poll, poll_ns);
	}
}

static void
take_done(void *arg, redisReply *r)
{
	struct take	*t = arg;
	size_t		 i, got = 0;

	for (i = 0; i < t->n; i++)
		asking[t->part[i]] = 0;
	if (takes_out > 0)
		takes_out--;
	asked = asked > t->want ? asked - t->want : 0;
	free(t);
	if (r == NULL)
		return;	/* entries read but not heard of are read again */
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 4 != 0) {
		log_warnx("redis: take: %s", r->type == REDIS_REPLY_ERROR ?
		    r->str : "a strange reply");
		rconn_drop("take failed");
		return;
	}
	for (i = 0; i < r->elements; i += 4)
		got += take_stream(r->element[i], r->element[i + 1],
		    r->element[i + 2], r->element[i + 3]);
	take_polled(got);
}

/*
 * Cluster: one partition's take, {partition, its outbox, then entries,
 * deliveries, previous owners if read}.  The round ends with its last.
 */
static void
ctake_done(void *arg, redisReply *r)
{
	struct ctake_one	*one = arg;
	struct ctake		*t = one->round;

	asking[one->p] = 0;
	if (r == NULL)
		t->lost = 1;
	else if (r->type != REDIS_REPLY_ARRAY ||
	    (r->elements != 2 && r->elements != 5) ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[0]->integer != one->p) {
		log_warnx("redis: take: %s", r->type == REDIS_REPLY_ERROR ?
		    r->str : "a strange reply");
		rconn_drop("take failed");
		t->lost = 1;
	} else {
		rforward_send(one->p, r->element[1]);
		if (r->elements == 5)
			t->got += take_stream(r->element[0], r->element[2],
			    r->element[3], r->element[4]);
	}
	if (--t->left > 0)
		return;
	if (takes_out > 0)
		takes_out--;
	asked = asked > t->want ? asked - t->want : 0;
	if (!t->lost)
		take_polled(t->got);
	free(t);
}

/*
 * A partition a take may ask about: nothing of it here or on the way,
 * and room for what it left pending before.
 */
static int
take_may_ask(uint32_t p)
{
	return held[p] == 0 && !asking[p] && ledger_room() >= need[p];
}

/*
 * Sends a take for the partitions free now.  Several may be in flight,
 * each for partitions the others do not ask about, so that a partition
 * freed while one is out is read again without waiting for it.
 */
static void
take_send(uint32_t want)
{
	struct take	*t;
	char		 claim[24], room[16], batch[16], nkeys[16], most[16];
	uint32_t	 i, p, n = 0, start = rotor++;
	int		 argc = 0, k;

	if (rargv_room(&scratch, 2 * opts->partitions + 9) == -1)
		return;
	scratch.v[argc++] = "EVAL";
	scratch.v[argc++] = script_take;
	scratch.v[argc++] = nkeys;
	/* Each take starts at the next partition: none waits behind all. */
	for (i = 0; i < opts->partitions; i++) {
		p = (start + i) % opts->partitions;
		if (take_may_ask(p)) {
			scratch.v[argc++] = rpool.stream[p];
			n++;
		}
	}
	if (n == 0 || (t = malloc(sizeof *t + n * sizeof t->part[0])) == NULL)
		return;
	t->want = want;
	t->n = 0;
	snprintf(nkeys, sizeof nkeys, "%u", n);
	snprintf(claim, sizeof claim, "%llu", rpool.claim_due ?
	    (unsigned long long)rpool.claim_idle_ms : 0ULL);
	snprintf(room, sizeof room, "%u", entries_for(want));
	snprintf(batch, sizeof batch, "%u", TAKE_BATCH);
	snprintf(most, sizeof most, "%u", resume_most(want));
	scratch.v[argc++] = rpool.url.pool;
	scratch.v[argc++] = rpool.consumer;
	scratch.v[argc++] = claim;
	scratch.v[argc++] = room;
	scratch.v[argc++] = batch;
	scratch.v[argc++] = most;
	for (i = 0; i < opts->partitions; i++) {
		p = (start + i) % opts->partitions;
		if (take_may_ask(p)) {
			scratch.v[argc++] = partnum[p];
			t->part[t->n++] = p;
		}
	}
	for (k = 0; k < argc; k++)
		scratch.len[k] = strlen(scratch.v[k]);
	if (rconn_command(take_done, t, -1, argc, scratch.v,
	    scratch.len) == -1) {
		free(t);
		return;
	}
	for (i = 0; i < t->n; i++)
		asking[t->part[i]] = 1;
	takes_out++;
	asked += want;
	rpool.claim_due = 0;
	totals.takes++;
}

/*
 * Cluster: a round of takes, one script per free partition, in slots of
 * their own.  The budget is shared out, so that the round takes no more
 * than one script would: a share each, as long as it lasts, starting at
 * the next partition each time.  A claiming round asks every free
 * partition, with no share left if need be, since taking over a dead
 * consumer's entries may not wait for a share.
 */
static void
ctake_send(uint32_t want)
{
	struct ctake		*t;
	struct ctake_one	*one;
	const char		*argv[12];
	size_t			 len[12];
	char			 claim[24], room[16], batch[16], most[16];
	uint32_t		 i, p, n = 0, per, share;
	uint32_t		 left = entries_for(want);
	uint32_t		 start = rotor;
	int			 k;

	for (p = 0; p < opts->partitions; p++)
		if (take_may_ask(p))
			n++;
	if (n == 0 || (t = malloc(sizeof *t + n * sizeof t->one[0])) == NULL)
		return;
	t->want = want;
	t->left = t->got = 0;
	t->lost = 0;
	per = (left + n - 1) / n;
	snprintf(claim, sizeof claim, "%llu", rpool.claim_due ?
	    (unsigned long long)rpool.claim_idle_ms : 0ULL);
	snprintf(batch, sizeof batch, "%u", TAKE_BATCH);
	snprintf(most, sizeof most, "%u", resume_most(want));
	argv[0] = "EVAL";
	argv[1] = script_ctake;
	argv[2] = "2";
	argv[5] = rpool.url.pool;
	argv[6] = rpool.consumer;
	argv[7] = claim;
	argv[8] = room;
	argv[9] = batch;
	argv[11] = most;
	for (i = 0; i < opts->partitions && (left > 0 || rpool.claim_due);
	    i++) {
		p = (start + i) % opts->partitions;
		if (!take_may_ask(p))
			continue;
		share = per < left ? per : left;
		snprintf(room, sizeof room, "%u", share);
		argv[3] = rpool.stream[p];
		argv[4] = rpool.outbox[p];
		argv[10] = partnum[p];
		for (k = 0; k < 12; k++)
			len[k] = strlen(argv[k]);
		one = &t->one[t->left];
		one->round = t;
		one->p = p;
		if (rconn_command(ctake_done, one, rpool.pslot[p], 12, argv,
		    len) == -1)
			break;
		asking[p] = 1;
		t->left++;
		left -= share;
	}
	rotor = (start + i) % opts->partitions;
	if (t->left == 0) {
		free(t);
		return;
	}
	takes_out++;
	asked += want;
	rpool.claim_due = 0;
	totals.takes++;
}

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
	pentries[p]--;
	held[p] -= n;
	if (held[p] == 0)
		poll_soon();
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
		snprintf(most, sizeof most, "%u", held[p]);
		argc = 0;
		scratch.v[argc++] = "EVAL";
		scratch.v[argc++] = script_cfinish;
		scratch.v[argc++] = "2";
		scratch.v[argc++] = rpool.stream[p];
		scratch.v[argc++] = rpool.outbox[p];
		scratch.v[argc++] = rpool.url.pool;
		scratch.v[argc++] = rpool.consumer;
		scratch.v[argc++] = partnum[p];
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
static int
finish_send(void)
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
		snprintf(most[k], sizeof most[k], "%u", held[spart[k]]);
		scratch.v[argc++] = partnum[spart[k]];
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

static void
redis_job_done(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);

	if (res == NULL)
		j->result.len = 0;
	else if (bytes_set(&j->result, res, len, NULL, 0) == -1) {
		j->status = STATUS_ERROR;
		bytes_set(&j->result, "out of memory", 13, NULL, 0);
	}
	redis_finish_push(idx);
	if (!rconn_is_ready() && !waiting) {
		log_info("redis: results wait for the connection");
		waiting = 1;
	}
}

static void
release_done(void)
{
	released = 1;
	supervisor_wake();
}

/* Each turn: take entries while there is room for them. */
static void
redis_room(void)
{
	uint32_t	want;

	if (stopping) {
		if (!releasing && ledger_live() == 0) {
			releasing = 1;
			if (rconn_is_ready())
				rpool_release(release_done);
			else
				released = 1;
		}
		return;
	}
	if (!rconn_is_ready() || takes_out >= TAKE_INFLIGHT ||
	    (evtimer_pending(ev_poll, NULL) && !rpool.claim_due))
		return;
	if ((want = budget()) <= asked)
		return;
	if (rconn_cluster())
		ctake_send(want - asked);
	else
		take_send(want - asked);
}

static void
redis_flush(void)
{
	if (waiting && rconn_is_ready()) {
		log_info("redis: sending the %u results that waited",
		    finishq.count + retryq.count);
		waiting = 0;
	}
	/*
	 * One finish goes at once; while it is out, more are sent only for
	 * a full batch, so that the jobs done meanwhile go together.  At
	 * a low rate each result goes alone and soon.
	 */
	while (rconn_is_ready() && finishq.count + retryq.count > 0 &&
	    (rconn_cluster() ? finishes_out < CFINISH_INFLIGHT :
	    rconn_outstanding() < FINISH_INFLIGHT) &&
	    (finishes_out == 0 || stopping || retryq.count > 0 ||
	    finishq.count >= FINISH_FULL) && finish_send() == 0)
		;
}

static void
lost(void)
{
	uint32_t	p;

	/* The replies in flight came back empty; nothing is on the way. */
	takes_out = finishes_out = 0;
	asked = 0;
	rforward_lost();
	for (p = 0; p < opts->partitions; p++)
		asking[p] = 0;
}

static void
redis_init(void)
{
	uint32_t	i, p;

	rpool_init();
	rjobs = xcalloc(ledger_size(), sizeof *rjobs);
	for (i = 0; i < ledger_size(); i++) {
		rjobs[i].meta.p = rjobs[i].meta.small;
		rjobs[i].meta.cap = BYTES_INLINE;
	}
	held = xcalloc(opts->partitions, sizeof *held);
	pentries = xcalloc(opts->partitions, sizeof *pentries);
	reread = xcalloc(opts->partitions, sizeof *reread);
	need = xcalloc(opts->partitions, sizeof *need);
	partnum = xcalloc(opts->partitions, sizeof *partnum);
	slot = xcalloc(opts->partitions, sizeof *slot);
	asking = xcalloc(opts->partitions, sizeof *asking);
	for (p = 0; p < opts->partitions; p++) {
		snprintf(partnum[p], sizeof partnum[p], "%u", p);
		slot[p] = JOB_NONE;
	}
	jobq_init(&finishq);
	jobq_init(&retryq);
	if ((ev_poll = evtimer_new(base, supervisor_wake_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
	if (rpool.url.cluster)
		rforward_init();
	rconn_init(&rpool.url, rpool_connected, lost);
}

/*
 * The drain took too long: what is unfinished stays pending in Redis,
 * for another supervisor after the claim idle time, or for this consumer
 * when it starts again.  Nothing is lost, nothing answered.
 */
static void
redis_expired(void)
{
	log_warnx("shutdown timeout: %u jobs unfinished; their entries stay "
	    "pending in Redis for another supervisor or the next start of "
	    "consumer %s", ledger_live(), rpool.consumer);
	supervisor_abort(0);
}

static void
redis_stop(int sig)
{
	if (stopping)
		return;
	stopping = 1;
	log_warnx("%s: finishing the jobs taken, then exiting",
	    strsignal(sig));
	evtimer_del(ev_poll);
	supervisor_draining();
	notify_stopping();
}

static int
redis_finished(void)
{
	return stopping && released && ledger_live() == 0 &&
	    rforward_busy() == 0;
}

static void
redis_abort(void)
{
}

static int
redis_exit_status(void)
{
	log_info("redis: %llu entries taken (%llu taken over), %llu "
	    "finished, %llu dead-lettered, %llu refused; %llu takes, %llu "
	    "finish scripts", (unsigned long long)totals.taken,
	    (unsigned long long)totals.taken_over,
	    (unsigned long long)totals.done,
	    (unsigned long long)totals.dead,
	    (unsigned long long)totals.refused,
	    (unsigned long long)totals.takes,
	    (unsigned long long)totals.finishes);
	return 0;
}

const struct intake redis_intake = {
	.init = redis_init,
	.room = redis_room,
	.flush = redis_flush,
	.job_done = redis_job_done,
	.stop = redis_stop,
	.finished = redis_finished,
	.expired = redis_expired,
	.abort = redis_abort,
	.exit_status = redis_exit_status,
};

int
redis_supported(void)
{
	return 1;
}
