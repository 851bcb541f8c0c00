/*
 * The producer's side of a pool in Redis (doc/SCALING.md, forkpool(3)):
 * jobs are added to the partition stream their key hashes to, with the
 * partition count the pool agreed on in its meta hash, and results are
 * read back from a reply stream of this client's own.  The calls block,
 * with hiredis's synchronous API.  XADDs are pipelined with a window:
 * each is kept until Redis answers it, so that when the link is lost or
 * Redis is loading its data they are sent again, in order, once it is
 * back; a job whose answer was lost may then be added twice, and its
 * second result is skipped (results are matched by id).  A Redis that
 * comes back without the pool (its epoch gone from the meta hash: it
 * restarted without its data) is an error: the jobs sent are lost.
 */
#include <sys/time.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rclient.h"

#define CONNECT_TIMEOUT	{ 5, 0 }
#define IO_TIMEOUT	{ 10, 0 }	/* longer than any XREAD BLOCK */
#define WINDOW_MAX	2048		/* XADDs sent before their answers */
#define WINDOW_READ	1024		/* answers read when it is full */
#define READ_COUNT	"512"
#define RETRY_MS	60000		/* waiting for Redis, by default */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

/* SIGPIPE blocked, and whether one was pending before. */
struct nopipe {
	sigset_t	old;
	int		pending;
};

/*
 * hiredis writes with write(2): a link that Redis closed would raise
 * SIGPIPE, which kills a producer by default.  It is blocked while a
 * call may write, and one it raised is taken back.
 */
static void
nopipe_begin(struct nopipe *np)
{
	sigset_t	set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	sigpending(&pend);
	np->pending = sigismember(&pend, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &np->old);
}

static void
nopipe_end(struct nopipe *np)
{
	const struct timespec	zero = { 0, 0 };
	sigset_t		set, pend;
	int			saved = errno;

	sigemptyset(&pend);
	if (!np->pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE)) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &np->old, NULL);
	errno = saved;
}

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


static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
is_loading(const redisReply *rep)
{
	return rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "LOADING", 7) == 0;
}

/* AUTH's or SELECT's answer: 0, -1 (lost, or loading), -2 (refused). */
static int
handshake_answer(struct fp_redis *r, redisReply *rep, const char *what,
    int errnum)
{
	char	refused[32];

	if (rep != NULL && rep->type != REDIS_REPLY_ERROR) {
		freeReplyObject(rep);
		return 0;
	}
	if (rep == NULL || is_loading(rep))
		return rclient_reply_error(r, rep, what);
	snprintf(refused, sizeof refused, "%s refused", what);
	rclient_reply_error(r, rep, refused);
	errno = errnum;
	return -2;
}

/*
 * A link that Redis accepts: AUTH and SELECT as the URL says.  0; -1
 * with r->error when it failed, -2 when it cannot work (a refused
 * password or database).
 */
static int
link_open(struct fp_redis *r, int again)
{
	struct timeval	 ct = CONNECT_TIMEOUT, io = IO_TIMEOUT;
	const char	*argv[3];
	size_t		 argvlen[3];
	char		 shown[2100];
	int		 argc, rc;

	if (again) {
		if (redisReconnect(r->c) != REDIS_OK)
			return rclient_reply_error(r, NULL, "connect");
	} else {
		if (r->url.path[0] != '\0')
			r->c = redisConnectUnixWithTimeout(r->url.path, ct);
		else
			r->c = redisConnectWithTimeout(r->url.host, r->url.port,
			    ct);
		if (r->c == NULL || r->c->err) {
			redis_url_mask(r->shown, shown, sizeof shown);
			rclient_error(r, ECONNREFUSED, "cannot connect to "
			    "Redis at %s: %s", shown, r->c != NULL ?
			    r->c->errstr : strerror(ENOMEM));
			return r->c == NULL ? -2 : -1;
		}
	}
	if (redisSetTimeout(r->c, io) != REDIS_OK)
		return rclient_reply_error(r, NULL, "connect");
	if ((argc = redis_url_auth_argv(&r->url, argv, argvlen)) > 0 &&
	    (rc = handshake_answer(r, redisCommandArgv(r->c, argc, argv,
	    argvlen), "AUTH", EACCES)) != 0)
		return rc;
	if (r->url.db != 0 && (rc = handshake_answer(r, redisCommand(r->c,
	    "SELECT %d", r->url.db), "SELECT", EINVAL)) != 0)
		return rc;
	return 0;
}

/*
 * The epoch names this life of the pool: made by the first producer
 * that finds none, it is gone when Redis loses the pool's keys.
 */
static int
epoch_take(struct fp_redis *r)
{
	redisReply	*rep;
	char		 fresh[20];

	snprintf(fresh, sizeof fresh, "%08x%08x", arc4random(), arc4random());
	rep = redisCommand(r->c, "HSETNX %s epoch %s", r->meta, fresh);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		return rclient_reply_error(r, rep, "HSETNX");
	freeReplyObject(rep);
	rep = redisCommand(r->c, "HGET %s epoch", r->meta);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING ||
	    rep->len >= sizeof r->epoch)
		return rclient_reply_error(r, rep, "HGET");
	memcpy(r->epoch, rep->str, rep->len + 1);
	freeReplyObject(rep);
	return 0;
}

/* 0: the same pool; -1: not known yet (see r->error); -2: it is lost. */
static int
epoch_check(struct fp_redis *r)
{
	redisReply	*rep;
	int		 same;

	rep = redisCommand(r->c, "HGET %s epoch", r->meta);
	if (rep == NULL || (rep->type != REDIS_REPLY_STRING &&
	    rep->type != REDIS_REPLY_NIL))
		return rclient_reply_error(r, rep, "HGET");
	same = rep->type == REDIS_REPLY_STRING &&
	    strcmp(rep->str, r->epoch) == 0;
	freeReplyObject(rep);
	if (same)
		return 0;
	rclient_error(r, ESTALE, "pool %s lost its jobs: its epoch %s is "
	    "gone from %s (Redis restarted without its data?); %zu jobs will "
	    "never be answered", r->url.pool, r->epoch, r->meta,
	    r->pending.count);
	return -2;
}

static void
pause_ms(uint64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Redis went away (relink) or is loading its data: waits for it with
 * backoff and jitter, as the supervisors do, until it answers with the
 * same pool.  0 when it does; 1 when until (0: none) passed first; -1
 * when it cannot come back: the pool is lost, the credentials are
 * refused, or it stayed away longer than the retry time.
 */
static int
recover(struct fp_redis *r, uint64_t until, int relink)
{
	uint64_t	 start = now_ms(), backoff = BACKOFF_MIN_MS, delay, now;
	char		 why[sizeof r->error];
	int		 rc;

	snprintf(why, sizeof why, "%s", r->error);
	for (;;) {
		delay = backoff * 3 / 4 + arc4random_uniform(backoff / 2 + 1);
		now = now_ms();
		if (until != 0 && now + delay > until) {
			if (now >= until)
				return 1;
			delay = until - now;
		}
		if (r->retry_ms >= 0 && now - start >= (uint64_t)r->retry_ms) {
			r->broken = 1;
			return rclient_error(r, ETIMEDOUT, "redis: gave up "
			    "after %d s: %s", r->retry_ms / 1000, why);
		}
		pause_ms(delay);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
		if (relink && (rc = link_open(r, 1)) != 0) {
			if (rc == -2) {
				r->broken = 1;
				return -1;
			}
			snprintf(why, sizeof why, "%s", r->error);
			continue;
		}
		relink = 0;
		if ((rc = epoch_check(r)) == 0)
			return 0;
		if (rc == -2) {
			r->broken = 1;
			return -1;
		}
		snprintf(why, sizeof why, "%s", r->error);
		relink = r->c->err != 0;
	}
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

/* Redis may be loading its data when a producer starts: wait for it. */
static int
wait_loaded(struct fp_redis *r)
{
	redisReply	*rep;
	uint64_t	 start = now_ms(), backoff = BACKOFF_MIN_MS;

	for (;;) {
		rep = redisCommand(r->c, "EXISTS %s", r->meta);
		if (!is_loading(rep))
			break;
		if (r->retry_ms >= 0 &&
		    now_ms() - start >= (uint64_t)r->retry_ms)
			return rclient_reply_error(r, rep, "EXISTS");
		freeReplyObject(rep);
		pause_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		return rclient_reply_error(r, rep, "EXISTS");
	freeReplyObject(rep);
	return 0;
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

	if (wait_loaded(r) == -1)
		return -1;
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
	struct nopipe	 np;
	struct fp_redis	*r;
	int		 saved, rc;

	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->sent = calloc(WINDOW_MAX, sizeof *r->sent)) == NULL ||
	    (r->shown = strdup(url)) == NULL) {
		free(r != NULL ? r->sent : NULL);
		free(r);
		if (errlen > 0)
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	idset_init(&r->pending);
	r->retry_ms = RETRY_MS;
	if (redis_url_parse(url, &r->url, r->error, sizeof r->error) == -1) {
		errno = EINVAL;
		goto fail;
	}
	snprintf(r->meta, sizeof r->meta, REDIS_KEY_META, r->url.pool);
	name_reply_stream(r);
	nopipe_begin(&np);
	rc = link_open(r, 0) != 0 || agree_partitions(r, partitions) == -1 ||
	    epoch_take(r) == -1 ? -1 : 0;
	nopipe_end(&np);
	if (rc == -1)
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

void
fp_redis_set_retry(struct fp_redis *r, int ms)
{
	r->retry_ms = ms < 0 ? -1 : ms;
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

static struct rsent *
sent_at(struct fp_redis *r, size_t i)
{
	return &r->sent[(r->sent_head + i) % WINDOW_MAX];
}

/* The oldest XADD in flight is answered (or failed): it is done with. */
static void
sent_pop(struct fp_redis *r)
{
	struct rsent	*s = sent_at(r, 0);

	redisFreeCommand(s->cmd);
	s->cmd = NULL;
	r->sent_head = (r->sent_head + 1) % WINDOW_MAX;
	r->queued--;
}

/* Redis will not come back: whether the jobs in flight got there is not
 * known, and none is waited for. */
static void
sent_abandon(struct fp_redis *r)
{
	while (r->queued > 0) {
		idset_del(&r->pending, sent_at(r, 0)->id);
		sent_pop(r);
	}
}

/* The XADDs in flight go again, in their order, once Redis is back. */
static int
sent_again(struct fp_redis *r, int relink)
{
	size_t	i;

	if (recover(r, 0, relink) != 0) {
		sent_abandon(r);
		return -1;
	}
	for (i = 0; i < r->queued; i++)
		if (redisAppendFormattedCommand(r->c, sent_at(r, i)->cmd,
		    sent_at(r, i)->len) != REDIS_OK) {
			sent_abandon(r);
			return rclient_error(r, ENOMEM, "%s",
			    strerror(ENOMEM));
		}
	return 0;
}

/* Writes out what is queued on the link. */
static int
push(struct fp_redis *r)
{
	int	done = 0;

	while (!done)
		if (redisBufferWrite(r->c, &done) != REDIS_OK)
			return -1;
	return 0;
}

/*
 * Reads the answers to the oldest n XADDs in flight: each job is in
 * Redis, or failed.  A lost link, or Redis loading its data, sends the
 * rest again.
 */
static int
collect(struct fp_redis *r, size_t n)
{
	struct rsent	*s;
	redisReply	*rep;
	size_t		 i;
	void		*v;
	int		 rc = 0, relink;

	while (n > 0 && r->queued > 0) {
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			rclient_reply_error(r, NULL, "XADD");
			if (sent_again(r, 1) == -1)
				return -1;
			continue;
		}
		rep = v;
		if (is_loading(rep)) {
			/* This one and the later ones go again, in order. */
			rclient_reply_error(r, rep, "XADD");
			relink = 0;
			for (i = 1; i < r->queued && !relink; i++) {
				if (redisGetReply(r->c, &v) != REDIS_OK)
					relink = 1;
				else
					freeReplyObject(v);
			}
			if (sent_again(r, relink) == -1)
				return -1;
			continue;
		}
		s = sent_at(r, 0);
		if (rep->type != REDIS_REPLY_STRING) {
			idset_del(&r->pending, s->id);
			rclient_error(r, EPROTO, "job %llu: redis: XADD: %s",
			    (unsigned long long)s->id,
			    rep->type == REDIS_REPLY_ERROR ? rep->str :
			    "unexpected reply");
			rc = -1;
		}
		freeReplyObject(rep);
		sent_pop(r);
		n--;
	}
	return rc;
}

/* Reads the answers of the XADDs sent: each job is in Redis, or not. */
static int
flush(struct fp_redis *r)
{
	if (r->broken)
		return -1;
	return collect(r, r->queued);
}

int
fp_redis_flush(struct fp_redis *r)
{
	struct nopipe	np;
	int		rc;

	nopipe_begin(&np);
	rc = flush(r);
	nopipe_end(&np);
	return rc;
}

int
fp_redis_submit(struct fp_redis *r, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t len, unsigned flags)
{
	const char	*argv[13];
	size_t		 argvlen[13];
	char		 stream[REDIS_KEY_MAX], ref[24], *cmd;
	struct nopipe	 np;
	struct rsent	*s;
	unsigned	 p;
	int		 argc = 0, n, rc;

	if (id == 0 || (flags & ~(FP_F_HIGH | FP_F_KEYED | FP_F_DETACHED)))
		return rclient_error(r, EINVAL, "job %llu: a bad id or flags",
		    (unsigned long long)id);
	if (!(flags & FP_F_DETACHED) && idset_has(&r->pending, id))
		return rclient_error(r, EEXIST, "job %llu is already pending",
		    (unsigned long long)id);
	if (r->broken)
		return -1;
	/* A full window: the older half is answered while the rest flows. */
	if (r->queued == WINDOW_MAX) {
		nopipe_begin(&np);
		rc = collect(r, WINDOW_READ);
		nopipe_end(&np);
		if (rc == -1)
			return -1;
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
	if ((n = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	if (!(flags & FP_F_DETACHED) && idset_add(&r->pending, id) == -1) {
		redisFreeCommand(cmd);
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	}
	if (redisAppendFormattedCommand(r->c, cmd, n) != REDIS_OK) {
		idset_del(&r->pending, id);
		redisFreeCommand(cmd);
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	}
	s = sent_at(r, r->queued++);
	s->id = id;
	s->cmd = cmd;
	s->len = n;
	/*
	 * Each half window goes out at once, so that Redis works on it while
	 * the next is made; an error shows when the answers are read.
	 */
	if (r->queued % WINDOW_READ == 0) {
		nopipe_begin(&np);
		(void)push(r);
		nopipe_end(&np);
	}
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
	/*
	 * Each result is returned once, and only for a job of ours: a job
	 * sent twice after a lost answer has its second result skipped.
	 */
	if (!have_ref || idset_del(&r->pending, res->id) != 1)
		return 0;
	return 1;
}

/*
 * The next result: 1 and *res (its data valid until the next call), 0
 * when no job is pending or timeout_ms (-1: no limit) passed first, -1
 * on error.  A lost link or Redis loading is waited for (the results
 * wait in the reply stream); a second of quiet checks the pool is still
 * there.
 */
/* The next result of ours in the entries read: 1, or 0 when none is. */
static int
from_batch(struct fp_redis *r, struct fp_result *res)
{
	const redisReply	*entries;

	while (r->batch != NULL) {
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

static int
receive(struct fp_redis *r, struct fp_result *res, int timeout_ms)
{
	redisReply		*rep;
	uint64_t		 start = now_ms(), waited, until;
	char			 block[24];
	long			 ms;
	int			 rc;

	if (r->broken || (r->queued > 0 && flush(r) == -1 &&
	    r->broken))
		return -1;
	until = timeout_ms > 0 ? start + timeout_ms : 0;
	for (;;) {
		if (from_batch(r, res))
			return 1;
		if (r->pending.count == 0)
			return 0;
		waited = now_ms() - start;
		if (timeout_ms > 0 && waited >= (uint64_t)timeout_ms)
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
		if (rep == NULL || is_loading(rep)) {
			rc = rep == NULL;
			rclient_reply_error(r, rep, "XREAD");
			if ((rc = recover(r, until, rc)) == -1)
				return -1;
			if (rc == 1)
				return 0;
			continue;
		}
		if (rep->type == REDIS_REPLY_NIL) {
			freeReplyObject(rep);
			if (timeout_ms == 0)
				return 0;
			if (ms == 1000 && (rc = epoch_check(r)) != 0) {
				if (rc == -2) {
					r->broken = 1;
					return -1;
				}
				if ((rc = recover(r, until,
				    r->c->err != 0)) == -1)
					return -1;
				if (rc == 1)
					return 0;
			}
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

int
fp_redis_receive(struct fp_redis *r, struct fp_result *res, int timeout_ms)
{
	struct nopipe	np;
	int		rc;

	/* Results already read need no system call. */
	if (!r->broken && r->queued == 0 && from_batch(r, res))
		return 1;
	nopipe_begin(&np);
	rc = receive(r, res, timeout_ms);
	nopipe_end(&np);
	return rc;
}

void
fp_redis_close(struct fp_redis *r)
{
	struct nopipe	 np;
	redisReply	*rep;

	if (r == NULL)
		return;
	nopipe_begin(&np);
	if (r->c != NULL && r->queued > 0)
		(void)flush(r);
	if (r->c != NULL && !r->c->err && !r->broken && r->partitions > 0 &&
	    (rep = redisCommand(r->c, "DEL %s", r->reply)) != NULL)
		freeReplyObject(rep);
	if (r->c != NULL)
		redisFree(r->c);
	if (r->batch != NULL)
		freeReplyObject(r->batch);
	sent_abandon(r);
	idset_free(&r->pending);
	explicit_bzero(r->url.password, sizeof r->url.password);
	free(r->sent);
	free(r->shown);
	free(r);
	nopipe_end(&np);
}
