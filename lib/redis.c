/*
 * The producer's side of a pool in Redis (doc/SCALING.md, forkpool(3)):
 * jobs are added to the partition stream their key hashes to, with the
 * partition count the pool agreed on in its meta hash, and results are
 * read back from a reply stream of this client's own.  The calls block,
 * with hiredis's synchronous API; XADDs are pipelined, many per syscall.
 * While results are awaited a lost link is retried for a while: results
 * wait in the reply stream meanwhile.
 */
#include <sys/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rclient.h"

#define CONNECT_TIMEOUT	{ 5, 0 }
#define IO_TIMEOUT	{ 10, 0 }	/* longer than any XREAD BLOCK */
#define PIPELINE_MAX	1024		/* XADDs sent before their replies */
#define READ_COUNT	"512"
#define RECONNECT_MS	60000		/* a receive waits this long for Redis */

int
rclient_error(struct fp_redis *r, int errnum, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	errno = errnum;
	return -1;
}

/* A failed command: the link's error, or Redis's. */
int
rclient_reply_error(struct fp_redis *r, redisReply *reply, const char *what)
{
	int	rc;

	if (reply == NULL)
		return rclient_error(r, r->c->err == REDIS_ERR_IO &&
		    errno != 0 ? errno : ECONNRESET, "redis: %s: %s", what,
		    r->c->errstr[0] != '\0' ? r->c->errstr : "connection lost");
	if (reply->type == REDIS_REPLY_ERROR)
		rc = rclient_error(r, EPROTO, "redis: %s: %s", what, reply->str);
	else
		rc = rclient_error(r, EPROTO, "redis: %s: unexpected reply",
		    what);
	freeReplyObject(reply);
	return rc;
}


static long
parse_count(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 1 || n > 1 << 20)
		return -1;
	return n;
}

/*
 * The pool's partition count: the meta hash's, which must agree with
 * the caller's if both are given; the caller's alone is written there.
 */
static int
agree_partitions(struct fp_redis *r, unsigned want)
{
	redisReply	*rep;
	long		 have;
	char		 n[16];

	snprintf(n, sizeof n, "%u", want);
	if (want > 0) {
		rep = redisCommand(r->c, "HSETNX %s partitions %s", r->meta, n);
		if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
			return rclient_reply_error(r, rep, "HSETNX");
		freeReplyObject(rep);
	}
	rep = redisCommand(r->c, "HGET %s partitions", r->meta);
	if (rep == NULL || (rep->type != REDIS_REPLY_STRING &&
	    rep->type != REDIS_REPLY_NIL))
		return rclient_reply_error(r, rep, "HGET");
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return rclient_error(r, ENOENT, "pool %s has no partition "
		    "count in Redis (%s): start a supervisor of the pool "
		    "first, or give the partitions", r->url.pool, r->meta);
	}
	have = parse_count(rep->str);
	freeReplyObject(rep);
	if (have == -1)
		return rclient_error(r, EPROTO, "pool %s: a bad partition "
		    "count in %s", r->url.pool, r->meta);
	if (want > 0 && (unsigned)have != want)
		return rclient_error(r, EINVAL, "pool %s has %ld partitions "
		    "in Redis (%s), not %u", r->url.pool, have, r->meta, want);
	r->partitions = (unsigned)have;
	return 0;
}

static void
name_reply_stream(struct fp_redis *r)
{
	char		host[64];
	uint32_t	rnd;

	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "host");
	host[sizeof host - 1] = '\0';
	rnd = arc4random();
	snprintf(r->reply, sizeof r->reply, REDIS_KEY_REPLY "%s.%ld.%08x",
	    r->url.pool, host, (long)getpid(), rnd);
	snprintf(r->lastid, sizeof r->lastid, "0-0");
}

struct fp_redis *
fp_redis_connect(const char *url, unsigned partitions, char *err,
    size_t errlen)
{
	struct timeval	 ct = CONNECT_TIMEOUT, io = IO_TIMEOUT;
	struct fp_redis	*r;
	int		 saved;

	if ((r = calloc(1, sizeof *r)) == NULL) {
		if (errlen > 0)
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	idset_init(&r->pending);
	if (redis_url_parse(url, &r->url, r->error, sizeof r->error) == -1) {
		errno = EINVAL;
		goto fail;
	}
	snprintf(r->meta, sizeof r->meta, REDIS_KEY_META, r->url.pool);
	name_reply_stream(r);
	if (r->url.path[0] != '\0')
		r->c = redisConnectUnixWithTimeout(r->url.path, ct);
	else
		r->c = redisConnectWithTimeout(r->url.host, r->url.port, ct);
	if (r->c == NULL || r->c->err) {
		rclient_error(r, ECONNREFUSED, "cannot connect to Redis at "
		    "%s: %s", url, r->c != NULL ? r->c->errstr :
		    strerror(ENOMEM));
		goto fail;
	}
	if (redisSetTimeout(r->c, io) != REDIS_OK) {
		rclient_error(r, errno, "redis: %s", r->c->errstr);
		goto fail;
	}
	if (agree_partitions(r, partitions) == -1)
		goto fail;
	return r;
fail:
	saved = errno;
	if (errlen > 0)
		snprintf(err, errlen, "%s", r->error);
	fp_redis_close(r);
	errno = saved;
	return NULL;
}

unsigned
fp_redis_partitions(const struct fp_redis *r)
{
	return r->partitions;
}

const char *
fp_redis_error(const struct fp_redis *r)
{
	return r->error;
}

size_t
fp_redis_pending(const struct fp_redis *r)
{
	return r->pending.count;
}

/* Reads the answers of the XADDs sent: each job is in Redis, or not. */
int
fp_redis_flush(struct fp_redis *r)
{
	redisReply	*rep;
	size_t		 i, n = r->queued;
	int		 rc = 0;
	void		*v;

	r->queued = 0;
	for (i = 0; i < n; i++) {
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			/* Which of the rest got there is unknown. */
			for (; i < n; i++)
				idset_del(&r->pending, r->queued_ids[i]);
			return rclient_reply_error(r, NULL, "XADD");
		}
		rep = v;
		if (rep->type != REDIS_REPLY_STRING) {
			idset_del(&r->pending, r->queued_ids[i]);
			rclient_error(r, EPROTO, "job %llu: redis: XADD: %s",
			    (unsigned long long)r->queued_ids[i],
			    rep->type == REDIS_REPLY_ERROR ? rep->str :
			    "unexpected reply");
			rc = -1;
		}
		freeReplyObject(rep);
	}
	return rc;
}

int
fp_redis_submit(struct fp_redis *r, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t len, unsigned flags)
{
	const char	*argv[13];
	size_t		 argvlen[13];
	char		 stream[REDIS_KEY_MAX], ref[24];
	unsigned	 p;
	int		 argc = 0;
	uint64_t	*ids;

	if (id == 0 || (flags & ~(FP_F_HIGH | FP_F_KEYED | FP_F_DETACHED)))
		return rclient_error(r, EINVAL, "job %llu: a bad id or flags",
		    (unsigned long long)id);
	if (!(flags & FP_F_DETACHED) && idset_has(&r->pending, id))
		return rclient_error(r, EEXIST, "job %llu is already pending",
		    (unsigned long long)id);
	if (r->queued == r->queued_cap) {
		if ((ids = reallocarray(r->queued_ids, PIPELINE_MAX,
		    sizeof *ids)) == NULL)
			return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		r->queued_ids = ids;
		r->queued_cap = PIPELINE_MAX;
	}
	p = (flags & FP_F_KEYED) ? fp_partition(key, keylen, r->partitions) :
	    r->rr++ % r->partitions;
	snprintf(stream, sizeof stream, REDIS_KEY_PARTITION, r->url.pool, p);
	snprintf(ref, sizeof ref, "%llu", (unsigned long long)id);
	argv[argc] = "XADD", argvlen[argc++] = 4;
	argv[argc] = stream, argvlen[argc++] = strlen(stream);
	argv[argc] = "*", argvlen[argc++] = 1;
	argv[argc] = "payload", argvlen[argc++] = 7;
	argv[argc] = payload, argvlen[argc++] = len;
	if (flags & FP_F_KEYED) {
		argv[argc] = "key", argvlen[argc++] = 3;
		argv[argc] = key, argvlen[argc++] = keylen;
	}
	if (flags & FP_F_HIGH) {
		argv[argc] = "priority", argvlen[argc++] = 8;
		argv[argc] = "high", argvlen[argc++] = 4;
	}
	if (!(flags & FP_F_DETACHED)) {
		argv[argc] = "reply", argvlen[argc++] = 5;
		argv[argc] = r->reply, argvlen[argc++] = strlen(r->reply);
	}
	argv[argc] = "ref", argvlen[argc++] = 3;
	argv[argc] = ref, argvlen[argc++] = strlen(ref);
	if (!(flags & FP_F_DETACHED) && idset_add(&r->pending, id) == -1)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	if (redisAppendCommandArgv(r->c, argc, argv, argvlen) != REDIS_OK) {
		idset_del(&r->pending, id);
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	}
	r->queued_ids[r->queued++] = id;
	if (r->queued == PIPELINE_MAX)
		return fp_redis_flush(r);
	return 0;
}

static unsigned
status_code(const redisReply *v)
{
	static const char	*names[] = { "ok", "error", "crashed",
				    "timeout", "rejected" };
	unsigned		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (v->len == strlen(names[i]) &&
		    memcmp(v->str, names[i], v->len) == 0)
			return i;
	return FP_STATUS_ERROR;
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
			res->status = status_code(v);
		else if (strcmp(f->str, "attempts") == 0)
			res->attempts = (unsigned)strtoul(v->str, NULL, 10);
		else if (strcmp(f->str, "result") == 0) {
			res->data = v->str;
			res->len = v->len;
		}
	}
	/* Each result is returned once, and only for a job of ours. */
	if (!have_ref || idset_del(&r->pending, res->id) != 1)
		return 0;
	return 1;
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Redis went away while results were awaited: they wait there for us. */
static int
reconnect(struct fp_redis *r)
{
	struct timeval	io = IO_TIMEOUT;
	uint64_t	until = now_ms() + RECONNECT_MS;

	while (now_ms() < until) {
		usleep(200000);
		if (redisReconnect(r->c) == REDIS_OK &&
		    redisSetTimeout(r->c, io) == REDIS_OK)
			return 0;
	}
	return rclient_error(r, ECONNRESET, "redis: lost the connection "
	    "for %d s: %s", RECONNECT_MS / 1000, r->c->errstr);
}

/*
 * The next result: 1 and *res (its data valid until the next call), 0
 * when no job is pending or timeout_ms (-1: no limit) passed first, -1
 * on error.
 */
int
fp_redis_receive(struct fp_redis *r, struct fp_result *res, int timeout_ms)
{
	const redisReply	*entries;
	redisReply		*rep;
	uint64_t		 start = now_ms(), waited;
	char			 block[24];
	long			 ms;

	if (r->queued > 0 && fp_redis_flush(r) == -1 && r->c->err)
		return -1;
	for (;;) {
		while (r->batch != NULL) {
			entries = r->batch->element[0]->element[1];
			if (r->batch_next >= entries->elements) {
				freeReplyObject(r->batch);
				r->batch = NULL;
				break;
			}
			if (take_entry(r, entries->element[r->batch_next++],
			    res))
				return 1;
		}
		if (r->pending.count == 0)
			return 0;
		waited = now_ms() - start;
		if (timeout_ms >= 0 && waited >= (uint64_t)timeout_ms &&
		    timeout_ms > 0)
			return 0;
		ms = timeout_ms < 0 ? 1000 : (long)(timeout_ms - waited);
		if (ms > 1000)
			ms = 1000;
		snprintf(block, sizeof block, "%ld", ms);
		if (timeout_ms == 0)
			rep = redisCommand(r->c, "XREAD COUNT " READ_COUNT
			    " STREAMS %s %s", r->reply, r->lastid);
		else
			rep = redisCommand(r->c, "XREAD COUNT " READ_COUNT
			    " BLOCK %s STREAMS %s %s", block, r->reply,
			    r->lastid);
		if (rep == NULL) {
			if (reconnect(r) == -1)
				return -1;
			continue;
		}
		if (rep->type == REDIS_REPLY_NIL) {
			freeReplyObject(rep);
			if (timeout_ms == 0)
				return 0;
			continue;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
		    rep->element[0]->type != REDIS_REPLY_ARRAY ||
		    rep->element[0]->elements != 2 ||
		    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
			return rclient_reply_error(r, rep, "XREAD");
		r->batch = rep;
		r->batch_next = 0;
	}
}

void
fp_redis_close(struct fp_redis *r)
{
	redisReply	*rep;

	if (r == NULL)
		return;
	if (r->c != NULL && r->queued > 0)
		(void)fp_redis_flush(r);
	if (r->c != NULL && !r->c->err && r->partitions > 0 &&
	    (rep = redisCommand(r->c, "DEL %s", r->reply)) != NULL)
		freeReplyObject(rep);
	if (r->c != NULL)
		redisFree(r->c);
	if (r->batch != NULL)
		freeReplyObject(r->batch);
	idset_free(&r->pending);
	free(r->queued_ids);
	free(r);
}
