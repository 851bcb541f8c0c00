/*
 * fp_redis_status(): what a pool in Redis holds, read with one pipeline:
 * for each partition stream its length, its pending entries and who
 * holds them, and each consumer with its pending count and how long it
 * has been idle (a dead host's consumer only grows older).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "rclient.h"

struct consumer {
	char		 name[REDIS_CONSUMER_MAX + 1];
	long long	 pending;
	long long	 idle_ms;	/* the least over the streams */
};

struct census {
	long long	*length;
	long long	*pending;
	char		**holder;	/* the consumers holding a stream's */
	struct consumer	*consumers;
	size_t		 nconsumers;
	long long	 results, dead;
};

static void
census_free(struct census *cs, unsigned n)
{
	unsigned	i;

	if (cs->holder != NULL)
		for (i = 0; i < n; i++)
			free(cs->holder[i]);
	free(cs->holder);
	free(cs->length);
	free(cs->pending);
	free(cs->consumers);
}

static struct consumer *
consumer_find(struct census *cs, const char *name)
{
	struct consumer	*c;
	size_t		 i;

	for (i = 0; i < cs->nconsumers; i++)
		if (strcmp(cs->consumers[i].name, name) == 0)
			return &cs->consumers[i];
	c = reallocarray(cs->consumers, cs->nconsumers + 1, sizeof *c);
	if (c == NULL)
		return NULL;
	cs->consumers = c;
	c = &c[cs->nconsumers++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->pending = 0;
	c->idle_ms = -1;
	return c;
}

/* XINFO CONSUMERS: [name, N, pending, N, idle, N, ...] per consumer. */
static int
take_consumers(struct census *cs, const redisReply *rep)
{
	const redisReply	*e, *k, *v;
	struct consumer		*c;
	const char		*name;
	long long		 pending, idle;
	size_t			 i, j;

	if (rep->type != REDIS_REPLY_ARRAY)
		return 0;	/* no group yet */
	for (i = 0; i < rep->elements; i++) {
		e = rep->element[i];
		if (e->type != REDIS_REPLY_ARRAY)
			continue;
		name = NULL;
		pending = 0;
		idle = -1;
		for (j = 0; j + 1 < e->elements; j += 2) {
			k = e->element[j];
			v = e->element[j + 1];
			if (k->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(k->str, "name") == 0 &&
			    v->type == REDIS_REPLY_STRING)
				name = v->str;
			else if (strcmp(k->str, "pending") == 0 &&
			    v->type == REDIS_REPLY_INTEGER)
				pending = v->integer;
			else if (strcmp(k->str, "idle") == 0 &&
			    v->type == REDIS_REPLY_INTEGER)
				idle = v->integer;
		}
		if (name == NULL)
			continue;
		if ((c = consumer_find(cs, name)) == NULL)
			return -1;
		c->pending += pending;
		if (idle >= 0 && (c->idle_ms < 0 || idle < c->idle_ms))
			c->idle_ms = idle;
	}
	return 0;
}

/* XPENDING's summary: [count, min, max, [[consumer, count], ...]]. */
static char *
holders(const redisReply *rep, long long *count)
{
	struct buf	 b;
	const redisReply *list;
	size_t		 i;
	char		 nul = '\0';

	*count = 0;
	buf_init(&b);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4)
		return calloc(1, 1);
	if (rep->element[0]->type == REDIS_REPLY_INTEGER)
		*count = rep->element[0]->integer;
	list = rep->element[3];
	for (i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements;
	    i++) {
		if (list->element[i]->type != REDIS_REPLY_ARRAY ||
		    list->element[i]->elements < 1 ||
		    list->element[i]->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if ((b.len > 0 && buf_append(&b, " ", 1) == -1) ||
		    buf_append(&b, list->element[i]->element[0]->str,
		    list->element[i]->element[0]->len) == -1) {
			buf_free(&b);
			return NULL;
		}
	}
	if (buf_append(&b, &nul, 1) == -1) {
		buf_free(&b);
		return NULL;
	}
	return buf_head(&b);
}

static int
census_take(struct fp_redis *r, struct census *cs)
{
	char		 key[REDIS_KEY_MAX];
	redisReply	*rep;
	unsigned	 n = r->partitions, i, k;
	void		*v;
	int		 rc = 0;

	cs->length = calloc(n, sizeof *cs->length);
	cs->pending = calloc(n, sizeof *cs->pending);
	cs->holder = calloc(n, sizeof *cs->holder);
	if (cs->length == NULL || cs->pending == NULL || cs->holder == NULL)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, REDIS_KEY_PARTITION, r->url.pool, i);
		redisAppendCommand(r->c, "XLEN %s", key);
		redisAppendCommand(r->c, "XPENDING %s %s", key, r->url.pool);
		redisAppendCommand(r->c, "XINFO CONSUMERS %s %s", key,
		    r->url.pool);
	}
	snprintf(key, sizeof key, REDIS_KEY_RESULTS, r->url.pool);
	redisAppendCommand(r->c, "XLEN %s", key);
	snprintf(key, sizeof key, REDIS_KEY_DEAD, r->url.pool);
	redisAppendCommand(r->c, "XLEN %s", key);
	/* Every reply is read, whatever fails, to keep the link in step. */
	for (i = 0; i < 3 * n + 2; i++) {
		if (redisGetReply(r->c, &v) != REDIS_OK)
			return rclient_reply_error(r, NULL, "status");
		rep = v;
		k = i / 3;
		if (i >= 3 * n) {
			if (rep->type == REDIS_REPLY_INTEGER)
				*(i == 3 * n ? &cs->results : &cs->dead) =
				    rep->integer;
		} else if (i % 3 == 0 && rep->type == REDIS_REPLY_INTEGER)
			cs->length[k] = rep->integer;
		else if (i % 3 == 1) {
			if ((cs->holder[k] = holders(rep, &cs->pending[k])) ==
			    NULL)
				rc = rclient_error(r, ENOMEM, "%s",
				    strerror(ENOMEM));
		} else if (i % 3 == 2 && take_consumers(cs, rep) == -1)
			rc = rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		freeReplyObject(rep);
	}
	return rc;
}

static int
render_text(struct fp_redis *r, struct census *cs, struct buf *b)
{
	char		 line[512];
	long long	 len = 0, pending = 0;
	unsigned	 i, j;
	size_t		 k;
	int		 n;

	for (i = 0; i < r->partitions; i++) {
		len += cs->length[i];
		pending += cs->pending[i];
	}
	n = snprintf(line, sizeof line, "pool %s: %u partitions, %lld "
	    "entries (%lld waiting, %lld pending), %lld results, %lld dead "
	    "letters\n\n%-9s %8s %8s  %s\n", r->url.pool, r->partitions, len,
	    len - pending, pending, cs->results, cs->dead, "partition",
	    "length", "pending", "held by");
	if (buf_append(b, line, n) == -1)
		return -1;
	for (i = 0; i < r->partitions; i = j) {
		/* A run of empty partitions takes one line. */
		for (j = i; j < r->partitions && cs->length[j] == 0 &&
		    cs->pending[j] == 0; j++)
			;
		if (j == i + 1)
			n = snprintf(line, sizeof line, "partition %u: empty\n",
			    i);
		else if (j > i)
			n = snprintf(line, sizeof line,
			    "partitions %u-%u: empty\n", i, j - 1);
		else {
			n = snprintf(line, sizeof line, "%-9u %8lld %8lld  %s\n",
			    i, cs->length[i], cs->pending[i], cs->holder[i]);
			j = i + 1;
		}
		if (buf_append(b, line, n > (int)sizeof line - 1 ?
		    (int)sizeof line - 1 : n) == -1)
			return -1;
	}
	n = snprintf(line, sizeof line, "\n%-32s %8s %10s\n", "consumer",
	    "pending", "idle s");
	if (buf_append(b, line, n) == -1)
		return -1;
	for (k = 0; k < cs->nconsumers; k++) {
		n = snprintf(line, sizeof line, "%-32s %8lld %10.1f\n",
		    cs->consumers[k].name, cs->consumers[k].pending,
		    cs->consumers[k].idle_ms / 1000.0);
		if (buf_append(b, line, n) == -1)
			return -1;
	}
	return 0;
}

/* Names are checked (pool) or printable without blanks (consumers);
 * a '"' or '\\' in a consumer's name is escaped. */
static int
json_name(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		if ((*s == '"' || *s == '\\') && buf_append(b, "\\", 1) == -1)
			return -1;
		else if (buf_append(b, s, 1) == -1)
			return -1;
	return 0;
}

static int
render_json(struct fp_redis *r, struct census *cs, struct buf *b)
{
	char		 line[128];
	unsigned	 i;
	size_t		 k;
	int		 n;

	n = snprintf(line, sizeof line, "{\"pool\":\"%s\",\"partitions\":%u,"
	    "\"results\":%lld,\"dead\":%lld,\"streams\":[", r->url.pool,
	    r->partitions, cs->results, cs->dead);
	if (buf_append(b, line, n) == -1)
		return -1;
	for (i = 0; i < r->partitions; i++) {
		n = snprintf(line, sizeof line, "%s{\"partition\":%u,"
		    "\"length\":%lld,\"pending\":%lld,\"held_by\":\"",
		    i > 0 ? "," : "", i, cs->length[i], cs->pending[i]);
		if (buf_append(b, line, n) == -1 ||
		    json_name(b, cs->holder[i]) == -1 ||
		    buf_append(b, "\"}", 2) == -1)
			return -1;
	}
	if (buf_append(b, "],\"consumers\":[", 15) == -1)
		return -1;
	for (k = 0; k < cs->nconsumers; k++) {
		if (buf_append(b, k > 0 ? ",{\"name\":\"" : "{\"name\":\"",
		    k > 0 ? 10 : 9) == -1 ||
		    json_name(b, cs->consumers[k].name) == -1)
			return -1;
		n = snprintf(line, sizeof line, "\",\"pending\":%lld,"
		    "\"idle_ms\":%lld}", cs->consumers[k].pending,
		    cs->consumers[k].idle_ms);
		if (buf_append(b, line, n) == -1)
			return -1;
	}
	return buf_append(b, "]}\n", 3);
}

/* The pool's state as text or JSON in *text (free it): 0, or -1. */
int
fp_redis_status(struct fp_redis *r, unsigned format, char **text)
{
	struct census	 cs;
	struct buf	 b;
	int		 rc;

	*text = NULL;
	if (format != FP_FORMAT_TEXT && format != FP_FORMAT_JSON)
		return rclient_error(r, EINVAL, "status: text or JSON only");
	if (r->queued > 0 && fp_redis_flush(r) == -1 && r->c->err)
		return -1;
	memset(&cs, 0, sizeof cs);
	buf_init(&b);
	rc = census_take(r, &cs);
	if (rc == 0)
		rc = format == FP_FORMAT_JSON ? render_json(r, &cs, &b) :
		    render_text(r, &cs, &b);
	if (rc == 0 && buf_append(&b, "", 1) == -1)
		rc = -1;
	census_free(&cs, r->partitions);
	if (rc == -1) {
		buf_free(&b);
		if (errno == ENOMEM)
			rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		return -1;
	}
	*text = buf_head(&b);
	return 0;
}
