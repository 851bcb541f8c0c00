/*
 * Packed entries (doc/SCALING.md, "Packed entries"): an entry with a
 * field "jobs" carries n jobs, their payloads, keys and refs as n
 * netstrings each, so that Redis moves one entry for n jobs.  Its jobs
 * are finished together, as one result entry with their statuses,
 * attempts, results and refs as netstrings, in one item of a finish
 * script.  Here: reading such an entry, and building that item.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "proto/netstr.h"
#include "supervisor.h"
#include "redis.h"

#define DEAD_FIELDS	22	/* a job's dead letter, at most */

/* A packed entry as read, its fields still in the reply. */
struct rpack_in {
	uint32_t		 n;
	const redisReply	*payloads, *keys, *refs, *reply, *prio;
	int			 high;
};

/* An entry with a field "jobs" is packed. */
int
rpack_is(const redisReply *fields)
{
	size_t	i;

	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return 0;
	for (i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    redis_field_is(fields->element[i], "jobs"))
			return 1;
	return 0;
}

/* n, from "jobs": 1 to PACK_MAX, decimal, no sign or leading zero. */
static uint32_t
jobs_count(const redisReply *v)
{
	uint32_t	n = 0;
	size_t		i;

	if (v->len == 0 || v->len > 4 || v->str[0] == '0')
		return 0;
	for (i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return 0;
		n = n * 10 + (uint32_t)(v->str[i] - '0');
	}
	return n <= PACK_MAX ? n : 0;
}

/* Whether v holds exactly n netstrings. */
static int
strings_ok(const redisReply *v, uint32_t n)
{
	return netstr_count(v->str, v->len, n) == (long)n;
}

/* Whether the netstrings of v, all well formed, are refs. */
static int
refs_ok(const redisReply *v)
{
	struct netstr	 ns;
	const char	*s;
	size_t		 len;

	netstr_begin(&ns, v->str, v->len);
	while (netstr_next(&ns, &s, &len) == 1)
		if (len > REF_MAX)
			return 0;
	return 1;
}

/*
 * Reads a packed entry's fields into in; NULL when they make n jobs, or
 * why the whole entry is refused.  As for a plain entry, everything is
 * read before anything is judged, so that a valid reply stream hears of
 * the refusal.
 */
static const char *
rpack_read(const redisReply *fields, struct rpack_in *in)
{
	const redisReply	*f, *v, *jobs = NULL;
	const char		*bad = NULL, *why;
	size_t			 i;
	int			 replies = 0, plain = 0;

	memset(in, 0, sizeof *in);
	if (fields->elements % 2 != 0)
		bad = "malformed fields";
	for (i = 0; redis_field_next(fields, &i, &f, &v, &bad); ) {
#define ONCE(name, var) \
		if (redis_field_is(f, name)) { \
			if (var != NULL && bad == NULL) \
				bad = name " given twice"; \
			var = v; \
			continue; \
		}
		ONCE("jobs", jobs)
		ONCE("payloads", in->payloads)
		ONCE("keys", in->keys)
		ONCE("refs", in->refs)
		ONCE("priority", in->prio)
#undef ONCE
		if (redis_field_is(f, "reply")) {
			replies++;
			in->reply = v;
		} else if (redis_field_is(f, "payload") || redis_field_is(f, "key") || redis_field_is(f, "ref"))
			plain = 1;
		/* Other fields are the producer's own: kept, not read. */
	}
	if (replies > 1) {
		in->reply = NULL;
		if (bad == NULL)
			bad = "reply given twice";
	}
	if (in->reply != NULL && (why = redis_reply_bad(in->reply)) != NULL) {
		in->reply = NULL;
		if (bad == NULL)
			bad = why;
	}
	if (bad != NULL)
		return bad;
	if (plain)
		return "a packed entry has payloads, keys and refs, not "
		    "payload, key or ref";
	if ((in->n = jobs_count(jobs)) == 0)
		return "jobs must be a number from 1 to 1024";
	if (in->payloads == NULL || !strings_ok(in->payloads, in->n))
		return "payloads must be as many netstrings as jobs";
	if (in->keys != NULL && !strings_ok(in->keys, in->n))
		return "keys must be as many netstrings as jobs";
	if (in->refs != NULL && !strings_ok(in->refs, in->n))
		return "refs must be as many netstrings as jobs";
	if (in->refs != NULL && !refs_ok(in->refs))
		return "a ref longer than 256 bytes";
	if (in->prio != NULL && !redis_field_is(in->prio, "high") &&
	    !redis_field_is(in->prio, "normal"))
		return "priority must be high or normal";
	in->high = in->prio != NULL && redis_field_is(in->prio, "high");
	return NULL;
}

static struct rpack *
rpack_new(const struct rpack_in *in)
{
	struct rpack	*pk;

	if ((pk = calloc(1, sizeof *pk + in->n * sizeof pk->idx[0])) == NULL)
		return NULL;
	pk->n = pk->left = in->n;
	if (in->reply != NULL) {
		if ((pk->reply = malloc(in->reply->len + 1)) == NULL) {
			free(pk);
			return NULL;
		}
		memcpy(pk->reply, in->reply->str, in->reply->len);
		pk->reply[in->reply->len] = '\0';
		pk->replylen = in->reply->len;
	}
	if (in->prio != NULL)
		pk->prio = in->high ? "high" : "normal";
	pk->keyed = in->keys != NULL;
	pk->refs = in->refs != NULL;
	buf_init(&pk->args);
	return pk;
}

void
rpack_free(struct rpack *pk)
{
	if (pk == NULL)
		return;
	buf_free(&pk->args);
	free(pk->arg);
	free(pk->reply);
	free(pk);
}

/* A packed entry refused whole: answered as a plain entry would be. */
static void
pack_refuse(uint32_t p, const redisReply *e, uint32_t d,
    const struct rpack_in *in, const char *why)
{
	struct rjob	*rj;
	uint32_t	 idx;

	if ((idx = redis_job_open(p, e->element[0], d)) == JOB_NONE)
		return;
	redis_entry_taken(p, 1);
	rj = &rjobs[idx];
	if (in->reply != NULL && bytes_set(&rj->meta, in->reply->str,
	    in->reply->len, NULL, 0) == 0)
		rj->replylen = in->reply->len;
	redis_refuse(idx, STATUS_REJECTED, why);
}

/*
 * A packed entry: its n jobs, each as a plain entry added after the one
 * before would be.  Returns -1 when they do not fit the ledger now: the
 * entry stays pending to this consumer, with the rest of its partition's
 * entries in this take, and is read again later.
 */
int
rpack_take(uint32_t p, const redisReply *e, uint32_t d)
{
	struct rpack_in	 in;
	struct rpack	*pk;
	struct netstr	 pl, ks, rs;
	struct job	*j;
	struct rjob	*rj;
	const char	*why, *pay, *key = NULL, *ref = NULL;
	size_t		 plen, klen = 0, rlen = 0;
	uint32_t	 i, idx, bad = 0;
	char		 msg[160], first[160];

	why = rpack_read(e->element[1], &in);
	if (why == NULL && in.n > ledger_size()) {
		snprintf(msg, sizeof msg, "%u jobs, more than the %u this "
		    "supervisor holds at once (--queue)", in.n,
		    ledger_size());
		why = msg;
	}
	if (why != NULL) {
		pack_refuse(p, e, d, &in, why);
		return 0;
	}
	if (ledger_room() < in.n) {
		redis_needs_room(p, in.n);
		return -1;
	}
	if ((pk = rpack_new(&in)) == NULL)
		fatalx("out of memory");
	redis_entry_taken(p, in.n);
	netstr_begin(&pl, in.payloads->str, in.payloads->len);
	if (in.keys != NULL)
		netstr_begin(&ks, in.keys->str, in.keys->len);
	if (in.refs != NULL)
		netstr_begin(&rs, in.refs->str, in.refs->len);
	/* Every job is in the ledger before any can end. */
	pk->left = in.n + 1;
	for (i = 0; i < in.n; i++) {
		/* rpack_read counted them: each is there. */
		netstr_next(&pl, &pay, &plen);
		if (in.keys != NULL)
			netstr_next(&ks, &key, &klen);
		if (in.refs != NULL)
			netstr_next(&rs, &ref, &rlen);
		idx = pk->idx[i] = redis_job_open(p, e->element[0], d);
		rj = &rjobs[idx];
		j = ledger_job(idx);
		rj->pack = pk;
		if (bytes_set(&rj->meta, NULL, 0, ref, rlen) == 0)
			rj->reflen = rlen;
		if (bytes_set(&j->data, key, klen, pay, plen) == -1) {
			j->data.len = j->keylen = 0;
			redis_job_end(idx, STATUS_REJECTED, "out of memory");
			continue;
		}
		j->keylen = klen;
		j->partition = key != NULL ? p : PARTITION_NONE;
		j->high = in.high;
	}
	if (d > opts->attempts)
		redis_too_often(msg, sizeof msg, d);
	for (i = 0; i < in.n; i++) {
		j = ledger_job(idx = pk->idx[i]);
		if (j->state == JOB_DONE)
			continue;
		why = d > opts->attempts ? msg : redis_job_bad(p, pk->keyed ?
		    j->data.p : NULL, j->keylen, j->data.len - j->keylen);
		if (why == NULL) {
			dispatch_submit(idx);
			continue;
		}
		/* The first reason goes in the log, for the entry. */
		if (bad++ == 0)
			snprintf(first, sizeof first, "%s", why);
		redis_job_end(idx, d > opts->attempts ? STATUS_CRASHED :
		    STATUS_REJECTED, why);
	}
	if (bad > 0)
		log_warnx("partition %u: entry %s: %u of its %u jobs failed "
		    "(%s%s); moved to %s", p, e->element[0]->str, bad, in.n,
		    first, bad > 1 ? ", ..." : "", rpool.dead);
	redis_finish_push(pk->idx[0]);	/* the hold */
	return 0;
}

/* One argument, at the end of args: its offset and length noted. */
static int
arg_add(struct rpack *pk, const void *s, size_t len)
{
	size_t	at = pk->args.len;

	if (len > 0 && buf_append(&pk->args, s, len) == -1)
		return -1;
	pk->arg[2 * pk->nargs] = at;
	pk->arg[2 * pk->nargs + 1] = len;
	pk->nargs++;
	return 0;
}

static int
arg_str(struct rpack *pk, const char *s)
{
	return arg_add(pk, s, strlen(s));
}

/*
 * One netstring argument: the n strings f(i) put one after another
 * (built at the end of args, then noted).
 */
static int
arg_strings(struct rpack *pk, int (*put)(struct rpack *, uint32_t,
    struct buf *))
{
	size_t		at = pk->args.len;
	uint32_t	i;

	for (i = 0; i < pk->n; i++)
		if (put(pk, i, &pk->args) == -1)
			return -1;
	pk->arg[2 * pk->nargs] = at;
	pk->arg[2 * pk->nargs + 1] = pk->args.len - at;
	pk->nargs++;
	return 0;
}

static int
put_status(struct rpack *pk, uint32_t i, struct buf *b)
{
	const char	*s = frame_status_name(ledger_job(pk->idx[i])->status);

	return netstr_put(b, s, strlen(s));
}

static int
put_attempts(struct rpack *pk, uint32_t i, struct buf *b)
{
	char	att[12];
	int	len = snprintf(att, sizeof att, "%u",
		    ledger_job(pk->idx[i])->attempt);

	return netstr_put(b, att, (size_t)len);
}

static int
put_result(struct rpack *pk, uint32_t i, struct buf *b)
{
	const struct job	*j = ledger_job(pk->idx[i]);
	char			 why[128];
	const char		*s;

	if (j->status == STATUS_OK || j->status == STATUS_ERROR)
		return netstr_put(b, j->result.p, j->result.len);
	s = redis_dead_reason(j, why, sizeof why);
	return netstr_put(b, s, strlen(s));
}

static int
put_ref(struct rpack *pk, uint32_t i, struct buf *b)
{
	const struct rjob	*rj = &rjobs[pk->idx[i]];

	return netstr_put(b, rj->meta.p + rj->replylen, rj->reflen);
}

/* Job i's dead letter: its field count, then its fields. */
static int
dead_letter(struct rpack *pk, uint32_t i, uint32_t p)
{
	const struct job	*j = ledger_job(pk->idx[i]);
	const struct rjob	*rj = &rjobs[pk->idx[i]];
	char			 why[128], num[12], pt[12], att[12];
	uint32_t		 at = pk->nargs;
	int			 rc = 0;

	snprintf(num, sizeof num, "%u", i);
	snprintf(pt, sizeof pt, "%u", p);
	snprintf(att, sizeof att, "%u", j->attempt);
	rc |= arg_str(pk, "");		/* the count, set below */
	rc |= arg_str(pk, "job");
	rc |= arg_str(pk, rj->id);
	rc |= arg_str(pk, "index");
	rc |= arg_str(pk, num);
	rc |= arg_str(pk, "partition");
	rc |= arg_str(pk, pt);
	rc |= arg_str(pk, "reason");
	rc |= arg_str(pk, redis_dead_reason(j, why, sizeof why));
	rc |= arg_str(pk, "consumer");
	rc |= arg_str(pk, rpool.consumer);
	rc |= arg_str(pk, "attempts");
	rc |= arg_str(pk, att);
	rc |= arg_str(pk, "payload");
	rc |= arg_add(pk, j->data.p + j->keylen, j->data.len - j->keylen);
	if (pk->keyed) {
		rc |= arg_str(pk, "key");
		rc |= arg_add(pk, j->data.p, j->keylen);
	}
	if (pk->refs) {
		rc |= arg_str(pk, "ref");
		rc |= arg_add(pk, rj->meta.p + rj->replylen, rj->reflen);
	}
	if (pk->reply != NULL) {
		rc |= arg_str(pk, "reply");
		rc |= arg_add(pk, pk->reply, pk->replylen);
	}
	if (pk->prio != NULL) {
		rc |= arg_str(pk, "priority");
		rc |= arg_str(pk, pk->prio);
	}
	if (rc != 0)
		return -1;
	/* The count goes last into args; its offset is noted at its place. */
	snprintf(num, sizeof num, "%u", pk->nargs - at - 1);
	pk->arg[2 * at] = pk->args.len;
	pk->arg[2 * at + 1] = strlen(num);
	return buf_append(&pk->args, num, strlen(num));
}

/*
 * Once its last job is done: the pack's arguments in a finish script
 * (after its id and "P"): n, statuses, attempts, results, refs ("" if it
 * has none), [the result's stream, given at the send], the count of dead
 * letters, then each: its field count and its fields.
 */
int
rpack_build(struct rpack *pk, uint32_t p)
{
	const struct job	*j;
	char			 n[12];
	uint32_t		 i, dead = 0;

	for (i = 0; i < pk->n; i++) {
		j = ledger_job(pk->idx[i]);
		if (j->status != STATUS_OK && j->status != STATUS_ERROR)
			dead++;
	}
	free(pk->arg);
	pk->nargs = 0;
	buf_free(&pk->args);
	buf_init(&pk->args);
	if ((pk->arg = calloc(2 * (RPACK_HEAD + 1 + dead * (DEAD_FIELDS + 1)),
	    sizeof *pk->arg)) == NULL)
		return -1;
	snprintf(n, sizeof n, "%u", pk->n);
	if (arg_str(pk, n) == -1 || arg_strings(pk, put_status) == -1 ||
	    arg_strings(pk, put_attempts) == -1 ||
	    arg_strings(pk, put_result) == -1 ||
	    (pk->refs ? arg_strings(pk, put_ref) : arg_str(pk, "")) == -1)
		return -1;
	snprintf(n, sizeof n, "%u", dead);
	if (arg_str(pk, n) == -1)
		return -1;
	for (i = 0; i < pk->n; i++) {
		j = ledger_job(pk->idx[i]);
		if (j->status != STATUS_OK && j->status != STATUS_ERROR &&
		    dead_letter(pk, i, p) == -1)
			return -1;
	}
	return 0;
}

/*
 * The pack's arguments from argc on, the result's stream (to) after the
 * first RPACK_HEAD; returns the next argc.
 */
int
rpack_args(const struct rpack *pk, int argc, const char **v, size_t *len,
    const char *to, size_t tolen)
{
	const char	*at = buf_head(&pk->args);
	uint32_t	 i;

	for (i = 0; i < pk->nargs; i++) {
		if (i == RPACK_HEAD) {
			v[argc] = to;
			len[argc++] = tolen;
		}
		v[argc] = at + pk->arg[2 * i];
		len[argc++] = pk->arg[2 * i + 1];
	}
	return argc;
}
