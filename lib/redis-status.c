/*
 * fp_redis_status(): what a pool in Redis holds, read with one pipeline
 * per node: for each partition stream its length, its pending entries
 * and who holds them, and each consumer with its pending count and how
 * long it has been idle (a dead host's consumer only grows older).  On a
 * Redis Cluster, also the node that holds each partition's slot and the
 * partition's outbox (results stored, not yet forwarded), and a line per
 * node, so that the spread shows.
 */
#include <errno.h>
#include <stdarg.h>
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
	long long	*outbox;
	int		*node;		/* the node of each partition */
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
	free(cs->outbox);
	free(cs->node);
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

/* Appends a command about key to its node's link: the node, or -1. */
static int
ask(struct fp_redis *r, const char *key, const char *fmt, ...)
{
	va_list		ap;
	int		n, rc;

	if ((n = rcrouter_node(r, key)) < 0 || rcrouter_link(r, n) != 0)
		return -1;
	va_start(ap, fmt);
	rc = redisvAppendCommand(r->link[n].c, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	return n;
}

/* The commands per partition: XLEN, XPENDING, XINFO, and its outbox's. */
#define PER_PARTITION(r)	((r)->url.cluster ? 4 : 3)

static int
census_send(struct fp_redis *r, struct census *cs, int *home)
{
	char		 key[REDIS_KEY_MAX];
	unsigned	 i;
	int		 n;

	for (i = 0; i < r->partitions; i++) {
		rcrouter_partition_key(r, i, key, sizeof key);
		if ((n = ask(r, key, "XLEN %s", key)) < 0 ||
		    ask(r, key, "XPENDING %s %s", key, r->url.pool) < 0 ||
		    ask(r, key, "XINFO CONSUMERS %s %s", key,
		    r->url.pool) < 0)
			return -1;
		cs->node[i] = n;
		if (r->url.cluster) {
			snprintf(key, sizeof key, REDIS_KEY_COUTBOX,
			    r->url.pool, i);
			if (ask(r, key, "XLEN %s", key) < 0)
				return -1;
		}
	}
	snprintf(key, sizeof key, REDIS_KEY_RESULTS, r->url.pool);
	if ((*home = ask(r, key, "XLEN %s", key)) < 0)
		return -1;
	snprintf(key, sizeof key, REDIS_KEY_DEAD, r->url.pool);
	return ask(r, key, "XLEN %s", key) < 0 ? -1 : 0;
}

/*
 * Reads the census's answers, each from its node's link, in the order
 * they were asked.  1 when one was redirected (the slots moved: the
 * census is taken again, with the map read again), 0, or -1 (also when
 * the cluster is down).
 */
static int
census_read(struct fp_redis *r, struct census *cs, int home)
{
	redisReply	*rep;
	enum rcluster_redirect kind;
	unsigned	 per = PER_PARTITION(r), n = r->partitions, i, k, j;
	void		*v;
	int		 rc = 0, node, to;

	for (i = 0; i < per * n + 2; i++) {
		node = i < per * n ? cs->node[i / per] : home;
		if (redisGetReply(r->link[node].c, &v) != REDIS_OK)
			return rclient_reply_error(r, r->link[node].c, NULL,
			    "status");
		rep = v;
		k = i / per;
		j = i % per;
		kind = rcrouter_redirect(r, rep, &to);
		if (kind == RCLUSTER_MOVED || kind == RCLUSTER_ASK) {
			r->stale = 1;
			if (rc == 0)
				rc = 1;
		} else if (kind != RCLUSTER_NOT)
			rc = rclient_error(r, EAGAIN, "redis: status: %s",
			    rep->str);
		else if (i >= per * n) {
			if (rep->type == REDIS_REPLY_INTEGER)
				*(i == per * n ? &cs->results : &cs->dead) =
				    rep->integer;
		} else if (j == 0 && rep->type == REDIS_REPLY_INTEGER)
			cs->length[k] = rep->integer;
		else if (j == 1) {
			free(cs->holder[k]);
			if ((cs->holder[k] = holders(rep, &cs->pending[k])) ==
			    NULL)
				rc = rclient_error(r, ENOMEM, "%s",
				    strerror(ENOMEM));
		} else if (j == 2 && take_consumers(cs, rep) == -1)
			rc = rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		else if (j == 3 && rep->type == REDIS_REPLY_INTEGER)
			cs->outbox[k] = rep->integer;
		freeReplyObject(rep);
	}
	return rc;
}

static int
census_take(struct fp_redis *r, struct census *cs)
{
	unsigned	 n = r->partitions, tries;
	int		 home, rc;

	cs->length = calloc(n, sizeof *cs->length);
	cs->pending = calloc(n, sizeof *cs->pending);
	cs->outbox = calloc(n, sizeof *cs->outbox);
	cs->node = calloc(n, sizeof *cs->node);
	cs->holder = calloc(n, sizeof *cs->holder);
	if (cs->length == NULL || cs->pending == NULL || cs->outbox == NULL ||
	    cs->node == NULL || cs->holder == NULL)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	for (tries = 0; tries < 3; tries++) {
		cs->nconsumers = 0;
		/* Answers left unread: the links are made again. */
		if (census_send(r, cs, &home) == -1 ||
		    (rc = census_read(r, cs, home)) == -1) {
			rcrouter_free(r);
			return -1;
		}
		if (rc == 0)
			return 0;
		if (rcrouter_refresh(r) != 0)
			return -1;
	}
	return rclient_error(r, EAGAIN, "redis: status: the slots kept "
	    "moving; try again");
}

/* Nothing in a partition: its stream, pending entries and outbox. */
static int
is_empty(const struct census *cs, unsigned i)
{
	return cs->length[i] == 0 && cs->pending[i] == 0 &&
	    cs->outbox[i] == 0;
}

/* A cluster's nodes, each with its partitions, entries and outboxes. */
static int
render_nodes(struct fp_redis *r, struct census *cs, struct buf *b)
{
	char		 line[512], name[300];
	long long	 parts, len, outbox;
	unsigned	 i, n;
	int		 k;

	k = snprintf(line, sizeof line, "\n%-32s %10s %8s %8s\n", "node",
	    "partitions", "length", "outbox");
	if (buf_append(b, line, k) == -1)
		return -1;
	for (n = 0; n < r->map.nnodes; n++) {
		parts = len = outbox = 0;
		for (i = 0; i < r->partitions; i++)
			if (cs->node[i] == (int)n) {
				parts++;
				len += cs->length[i];
				outbox += cs->outbox[i];
			}
		if (parts == 0)
			continue;
		k = snprintf(line, sizeof line, "%-32s %10lld %8lld %8lld\n",
		    rcrouter_name(r, n, name, sizeof name), parts, len,
		    outbox);
		if (buf_append(b, line, k > (int)sizeof line - 1 ?
		    (int)sizeof line - 1 : k) == -1)
			return -1;
	}
	return 0;
}

static int
render_text(struct fp_redis *r, struct census *cs, struct buf *b)
{
	char		 line[512], name[300];
	long long	 len = 0, pending = 0, outbox = 0;
	unsigned	 i, j;
	size_t		 k;
	int		 n;

	for (i = 0; i < r->partitions; i++) {
		len += cs->length[i];
		pending += cs->pending[i];
		outbox += cs->outbox[i];
	}
	n = snprintf(line, sizeof line, "pool %s: %u partitions, %lld "
	    "entries (%lld waiting, %lld pending), %lld results, %lld dead "
	    "letters", r->url.pool, r->partitions, len, len - pending,
	    pending, cs->results, cs->dead);
	if (buf_append(b, line, n) == -1)
		return -1;
	if (r->url.cluster)
		n = snprintf(line, sizeof line, ", %lld in outboxes\n\n"
		    "%-9s %8s %8s %8s  %-21s  %s\n", outbox, "partition",
		    "length", "pending", "outbox", "node", "held by");
	else
		n = snprintf(line, sizeof line, "\n\n%-9s %8s %8s  %s\n",
		    "partition", "length", "pending", "held by");
	if (buf_append(b, line, n) == -1)
		return -1;
	for (i = 0; i < r->partitions; i = j) {
		/* A run of empty partitions takes one line. */
		for (j = i; j < r->partitions && is_empty(cs, j); j++)
			;
		if (j == i + 1)
			n = snprintf(line, sizeof line, "partition %u: empty\n",
			    i);
		else if (j > i)
			n = snprintf(line, sizeof line,
			    "partitions %u-%u: empty\n", i, j - 1);
		else {
			if (r->url.cluster)
				n = snprintf(line, sizeof line, "%-9u %8lld "
				    "%8lld %8lld  %-21s  %s\n", i,
				    cs->length[i], cs->pending[i],
				    cs->outbox[i], rcrouter_name(r,
				    cs->node[i], name, sizeof name),
				    cs->holder[i]);
			else
				n = snprintf(line, sizeof line, "%-9u %8lld "
				    "%8lld  %s\n", i, cs->length[i],
				    cs->pending[i], cs->holder[i]);
			j = i + 1;
		}
		if (buf_append(b, line, n > (int)sizeof line - 1 ?
		    (int)sizeof line - 1 : n) == -1)
			return -1;
	}
	if (r->url.cluster && render_nodes(r, cs, b) == -1)
		return -1;
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
	char		 line[512], name[300];
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
		    "\"length\":%lld,\"pending\":%lld,", i > 0 ? "," : "", i,
		    cs->length[i], cs->pending[i]);
		if (buf_append(b, line, n) == -1)
			return -1;
		/* A cluster's node names are its own: host:port. */
		if (r->url.cluster) {
			n = snprintf(line, sizeof line, "\"outbox\":%lld,"
			    "\"node\":\"%s\",", cs->outbox[i], rcrouter_name(r,
			    cs->node[i], name, sizeof name));
			if (buf_append(b, line, n > (int)sizeof line - 1 ?
			    (int)sizeof line - 1 : n) == -1)
				return -1;
		}
		if (buf_append(b, "\"held_by\":\"", 11) == -1 ||
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
	if (rcrouter_queued(r) > 0 && fp_redis_flush(r) == -1 && r->broken)
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
