/*
 * The Redis source: jobs are the entries of a pool's partition streams,
 * results go back to each entry's reply stream (or the pool's results
 * stream), and an entry is acknowledged only together with its result,
 * by the consumer that still holds it (rscript.c).  Partition k of the
 * pool is partition k here, so dispatch.c keeps a key's jobs on one
 * worker, in order; the take script keeps them on one host.
 *
 * A partition is "held" while any of its entries is in the ledger, done
 * ones included until their finish is answered (rfinish.c): the take
 * script is not asked about it meanwhile.
 *
 * A packed entry (rpack.c) is n jobs in the ledger, held and finished
 * together: "held" counts jobs, and a take asks for as many entries as
 * bring about the jobs there is room for, at the recent jobs per entry.
 *
 * On a Redis Cluster each partition's stream is in a slot of its own: a
 * take is one script per partition, a finish one per partition (results
 * go to its outbox with the ack, rfinish.c), and rforward.c takes the
 * results on to their streams.
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
#define TAKE_INFLIGHT	3	/* take scripts (cluster: rounds) in flight */
#define POLL_MIN_NS	1000000ULL	/* an empty take: ask again in 1 ms, */
#define POLL_MAX_NS	100000000ULL	/* doubling up to 0.1 s */
#define JPE_ONE		16	/* jobs per entry, in sixteenths */

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
static uint8_t		*asking;	/* partition -> in a take in flight */
static unsigned		 takes_out;	/* takes in flight */
static uint32_t		 asked;		/* the entries they may bring */
static uint32_t		 rotor;
static uint64_t		 poll_ns;
static struct event	*ev_poll;
static int		 stopping, released, releasing;
static int		 waiting;	/* results wait for the link */
static struct rargv	 scratch;	/* a command being built */

static struct {
	uint64_t	 taken, taken_over, takes;
} totals;


uint32_t
redis_partition_live(uint32_t p)
{
	return pentries[p];
}

/* What this consumer holds of partition p, in jobs. */
uint32_t
redis_held(uint32_t p)
{
	return held[p];
}

/* Partition p's number, as an argument. */
const char *
redis_partnum(uint32_t p)
{
	return partnum[p];
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

/*
 * An entry of n jobs of partition p is off the ledger: the partition may
 * be read again once it is free.
 */
void
redis_entry_released(uint32_t p, uint32_t n)
{
	pentries[p]--;
	held[p] -= n;
	if (held[p] == 0)
		poll_soon();
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
		    rfinish_queued());
		waiting = 0;
	}
	while (rconn_is_ready() && rfinish_due(stopping) &&
	    rfinish_send() == 0)
		;
}

static void
lost(void)
{
	uint32_t	p;

	/* The replies in flight came back empty; nothing is on the way. */
	takes_out = 0;
	rfinish_lost();
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
	asking = xcalloc(opts->partitions, sizeof *asking);
	for (p = 0; p < opts->partitions; p++)
		snprintf(partnum[p], sizeof partnum[p], "%u", p);
	rfinish_init();
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
	const struct rfinish_totals	*ft = rfinish_totals();

	log_info("redis: %llu entries taken (%llu taken over), %llu "
	    "finished, %llu dead-lettered, %llu refused; %llu takes, %llu "
	    "finish scripts", (unsigned long long)totals.taken,
	    (unsigned long long)totals.taken_over,
	    (unsigned long long)ft->done,
	    (unsigned long long)ft->dead,
	    (unsigned long long)ft->refused,
	    (unsigned long long)totals.takes,
	    (unsigned long long)ft->finishes);
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
