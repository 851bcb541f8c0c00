/*
 * The results a producer reads from its reply stream (doc/SCALING.md,
 * "Result entries"): a plain entry is one job's result, a packed one
 * (with `jobs`) the results of a packed job entry, returned job by job.
 * Each job of ours pending is returned once; what is not ours, or not
 * well formed, is skipped.  The data returned stays in the reply read,
 * valid until the next call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rclient.h"

static unsigned
status_code(const char *s, size_t len)
{
	static const char	*names[] = { "ok", "error", "crashed",
				    "timeout", "rejected" };
	unsigned		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (len == strlen(names[i]) && memcmp(s, names[i], len) == 0)
			return i;
	return FP_STATUS_ERROR;
}

/* A field's netstrings, exactly n of them, into *ns. */
static int
strings(struct netstr *ns, const redisReply *v, long n)
{
	if (v == NULL || netstr_count(v->str, v->len, n) != n)
		return 0;
	netstr_begin(ns, v->str, v->len);
	return 1;
}

/* A decimal number of at most 20 digits, without sign or spaces. */
static int
number(const char *s, size_t len, unsigned long long *n)
{
	char	digits[24];
	size_t	i;

	if (len == 0 || len >= sizeof digits)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	memcpy(digits, s, len);
	digits[len] = '\0';
	errno = 0;
	*n = strtoull(digits, NULL, 10);
	return errno == 0;
}

/*
 * Whether a result entry's fields are a packed result's (they have
 * `jobs`): its jobs are then returned by rpack_next(), none if it is
 * malformed or has no refs (none of its jobs can be ours).
 */
static int
packed(struct fp_redis *r, const redisReply *fields)
{
	const redisReply	*f, *v, *jobs = NULL, *statuses = NULL,
				*attempts = NULL, *results = NULL, *refs = NULL;
	struct runpack		*u = &r->unpack;
	unsigned long long	 n;
	size_t			 i;

	u->left = 0;
	for (i = 0; i < fields->elements; i += 2) {
		f = fields->element[i];
		v = fields->element[i + 1];
		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(f->str, "jobs") == 0)
			jobs = v;
		else if (strcmp(f->str, "statuses") == 0)
			statuses = v;
		else if (strcmp(f->str, "attempts") == 0)
			attempts = v;
		else if (strcmp(f->str, "results") == 0)
			results = v;
		else if (strcmp(f->str, "refs") == 0)
			refs = v;
	}
	if (jobs == NULL)
		return 0;
	if (number(jobs->str, jobs->len, &n) && n >= 1 && n <= PACK_MAX &&
	    strings(&u->statuses, statuses, n) &&
	    strings(&u->attempts, attempts, n) &&
	    strings(&u->results, results, n) && strings(&u->refs, refs, n))
		u->left = n;
	return 1;
}

/*
 * The next job of the packed result being read that is one of ours: 1,
 * or 0 when none is left.  Its data stays in the reply read.
 */
static int
packed_next(struct fp_redis *r, struct fp_result *res)
{
	struct runpack		*u = &r->unpack;
	const char		*status, *attempts, *ref;
	size_t			 slen, alen, rlen;
	unsigned long long	 id, tries;

	while (u->left > 0) {
		u->left--;
		(void)netstr_next(&u->statuses, &status, &slen);
		(void)netstr_next(&u->attempts, &attempts, &alen);
		(void)netstr_next(&u->results, &res->data, &res->len);
		(void)netstr_next(&u->refs, &ref, &rlen);
		/* Each result is returned once, and only for a job of ours. */
		if (!number(ref, rlen, &id) ||
		    idset_del(&r->pending, id) != 1)
			continue;
		res->id = id;
		res->status = status_code(status, slen);
		res->attempts = number(attempts, alen, &tries) &&
		    tries <= 1U << 30 ? (unsigned)tries : 0;
		return 1;
	}
	return 0;
}

/* A result entry for one of our pending jobs: 1, else 0 (skipped). */
static int
take_entry(struct fp_redis *r, const redisReply *e, struct fp_result *res)
{
	const redisReply	*f, *v, *fields;
	char			 num[24];
	size_t			 i;
	int			 have_ref = 0;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= sizeof r->lastid)
		return 0;
	memcpy(r->lastid, e->element[0]->str, e->element[0]->len + 1);
	fields = e->element[1];
	if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
		return 0;
	/* A packed result: its jobs are returned one by one. */
	if (packed(r, fields))
		return packed_next(r, res);
	memset(res, 0, sizeof *res);
	res->data = "";
	for (i = 0; i < fields->elements; i += 2) {
		f = fields->element[i];
		v = fields->element[i + 1];
		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			return 0;
		if (strcmp(f->str, "ref") == 0 && v->len < sizeof num) {
			memcpy(num, v->str, v->len + 1);
			res->id = strtoull(num, NULL, 10);
			have_ref = 1;
		} else if (strcmp(f->str, "status") == 0)
			res->status = status_code(v->str, v->len);
		else if (strcmp(f->str, "attempts") == 0)
			res->attempts = (unsigned)strtoul(v->str, NULL, 10);
		else if (strcmp(f->str, "result") == 0) {
			res->data = v->str;
			res->len = v->len;
		}
	}
	/*
	 * Each result is returned once, and only for a job of ours: a job
	 * sent twice after a lost answer has its second result skipped.
	 */
	if (!have_ref || idset_del(&r->pending, res->id) != 1)
		return 0;
	return 1;
}

/* The next result of ours in the entries read: 1, or 0 when none is. */
int
rresult_next(struct fp_redis *r, struct fp_result *res)
{
	const redisReply	*entries;

	while (r->batch != NULL) {
		if (packed_next(r, res))
			return 1;
		entries = r->batch->element[0]->element[1];
		if (r->batch_next >= entries->elements) {
			freeReplyObject(r->batch);
			r->batch = NULL;
			break;
		}
		if (take_entry(r, entries->element[r->batch_next++], res))
			return 1;
	}
	return 0;
}
