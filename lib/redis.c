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
 *
 * On a Redis Cluster (redis+cluster://) each XADD goes to the master that
 * owns its partition's slot, and each master has a window of its own;
 * the meta hash and the reply stream are at the pool's home slot.  An
 * XADD redirected (MOVED, ASK) is sent on to the node named, after the
 * earlier ones of its node, so that a key's jobs keep their order.
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
rclient_reply_error(struct fp_redis *r, redisContext *c, redisReply *reply,
    const char *what)
{
	int	rc;

	if (reply == NULL)
		return rclient_error(r, c != NULL && c->err == REDIS_ERR_IO &&
		    errno != 0 ? errno : ECONNRESET, "redis: %s: %s", what,
		    c != NULL && c->errstr[0] != '\0' ? c->errstr :
		    "connection lost");
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

/*
 * Whether a reply says to wait: 0, no; 1, Redis is loading its data or
 * a slot is moving; 2, the cluster is down (the map wants reading again).
 */
static int
unready(struct fp_redis *r, const redisReply *rep)
{
	int	n;

	if (rclient_loading(rep))
		return 1;
	switch (rcrouter_redirect(r, rep, &n)) {
	case RCLUSTER_TRYAGAIN:
		return 1;
	case RCLUSTER_DOWN:
		return 2;
	default:
		return 0;
	}
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
	rep = rcrouter_commandf(r, r->meta, "HSETNX %s epoch %s", r->meta,
	    fresh);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		return rep == NULL ? -1 : rclient_reply_error(r, NULL, rep,
		    "HSETNX");
	freeReplyObject(rep);
	rep = rcrouter_commandf(r, r->meta, "HGET %s epoch", r->meta);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING ||
	    rep->len >= sizeof r->epoch)
		return rep == NULL ? -1 : rclient_reply_error(r, NULL, rep,
		    "HGET");
	memcpy(r->epoch, rep->str, rep->len + 1);
	freeReplyObject(rep);
	return 0;
}

/*
 * 0: the same pool (or its link is in use, to be checked later); -1: not
 * known yet (see r->error, and r->failed for a lost link); -2: it is lost.
 */
static int
epoch_check(struct fp_redis *r)
{
	redisReply	*rep;
	int		 same;

	rep = rcrouter_commandf(r, r->meta, "HGET %s epoch", r->meta);
	if (rep == NULL)
		return r->busy ? 0 : -1;
	if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)
		return rclient_reply_error(r, NULL, rep, "HGET");
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

/*
 * Whether the node that owns key answers: 0; -1 not yet (r->failed for
 * a lost link, r->stale when the cluster is down).  A node whose link
 * has XADDs in flight is answering.
 */
static int
probe(struct fp_redis *r, const char *key)
{
	redisReply	*rep;
	int		 rc;

	if ((rep = rcrouter_commandf(r, key, "EXISTS %s", key)) == NULL)
		return r->busy ? 0 : -1;
	if ((rc = unready(r, rep)) != 0) {
		if (rc == 2)
			r->stale = 1;
		return rclient_reply_error(r, NULL, rep, "EXISTS");
	}
	freeReplyObject(rep);
	return 0;
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
 * Redis went away (r->failed: the node whose link was lost), is loading
 * its data, or the cluster is down: waits for it with backoff and
 * jitter, as the supervisors do, until the node that owns key answers
 * and the pool is the same.  0 when it does; 1 when until (0: none)
 * passed first; -1 when it cannot come back: the pool is lost, the
 * credentials are refused, or it stayed away longer than the retry time.
 */
static int
recover(struct fp_redis *r, const char *key, uint64_t until)
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
		/* A lost node may have been replaced: the map is read again. */
		if (r->failed >= 0) {
			rcrouter_drop(r, r->failed);
			r->stale = r->url.cluster;
		}
		r->failed = -1;
		if (r->stale && (rc = rcrouter_refresh(r)) != 0) {
			if (rc == -2) {
				r->broken = 1;
				return -1;
			}
			snprintf(why, sizeof why, "%s", r->error);
			continue;
		}
		if ((rc = probe(r, key)) == 0 && (rc = epoch_check(r)) == 0)
			return 0;
		if (rc == -2 || r->refused) {
			r->broken = 1;
			return -1;
		}
		snprintf(why, sizeof why, "%s", r->error);
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
		rep = rcrouter_commandf(r, r->meta, "EXISTS %s", r->meta);
		if (rep == NULL)
			return -1;
		if (!unready(r, rep))
			break;
		if (r->retry_ms >= 0 &&
		    now_ms() - start >= (uint64_t)r->retry_ms)
			return rclient_reply_error(r, NULL, rep, "EXISTS");
		freeReplyObject(rep);
		pause_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	if (rep->type != REDIS_REPLY_INTEGER)
		return rclient_reply_error(r, NULL, rep, "EXISTS");
	freeReplyObject(rep);
	return 0;
}

/*
 * KEYS: meta.  ARGV: partitions ("" for none), layout.  Writes both when
 * the pool has no partition count yet, atomically, so that nobody sees
 * a pool without its layout; returns the partitions, the layout and the
 * most jobs per entry the supervisors read (none: plain entries only).
 */
static const char script_meta[] =
"if ARGV[1] ~= '' and\n"
"  redis.call('HSETNX', KEYS[1], 'partitions', ARGV[1]) == 1 and\n"
"  ARGV[2] ~= '' then\n"
"  redis.call('HSET', KEYS[1], 'version', ARGV[2])\n"
"end\n"
"return {redis.call('HGET', KEYS[1], 'partitions'),\n"
"  redis.call('HGET', KEYS[1], 'version'),\n"
"  redis.call('HGET', KEYS[1], 'packs')}\n";

/*
 * The pool's layout, from its meta hash's version: a single Redis's keys
 * (1, or none: written before there were two) or a cluster's (2).  It
 * must be the URL's.
 */
static int
check_layout(struct fp_redis *r, const redisReply *v)
{
	const char	*have = v->type == REDIS_REPLY_STRING ? v->str :
			    REDIS_LAYOUT_SINGLE;
	const char	*want = r->url.cluster ? REDIS_LAYOUT_CLUSTER :
			    REDIS_LAYOUT_SINGLE;

	if (strcmp(have, want) == 0)
		return 0;
	if (strcmp(have, REDIS_LAYOUT_CLUSTER) == 0)
		return rclient_error(r, EINVAL, "pool %s is laid out for a "
		    "Redis Cluster (version %s in %s); use redis+cluster://",
		    r->url.pool, have, r->meta);
	if (strcmp(have, REDIS_LAYOUT_SINGLE) == 0)
		return rclient_error(r, EINVAL, "pool %s is laid out for a "
		    "single Redis (version %s in %s); use redis://",
		    r->url.pool, have, r->meta);
	return rclient_error(r, EINVAL, "pool %s has a layout (version %.16s "
	    "in %s) this libforkpool does not know", r->url.pool, have,
	    r->meta);
}

/*
 * The pool's partition count: the meta hash's, which must agree with
 * the caller's if both are given; the caller's alone is written there,
 * with the layout of the URL.
 */
static int
agree_partitions(struct fp_redis *r, unsigned want)
{
	const char	*argv[6];
	size_t		 argvlen[6];
	redisReply	*rep;
	long		 have, packs;
	char		 n[16];
	int		 i;

	if (wait_loaded(r) == -1)
		return -1;
	if (want > 0)
		snprintf(n, sizeof n, "%u", want);
	else
		n[0] = '\0';
	argv[0] = "EVAL";
	argv[1] = script_meta;
	argv[2] = "1";
	argv[3] = r->meta;
	argv[4] = n;
	/* A single Redis's pool is written as it always was. */
	argv[5] = r->url.cluster ? REDIS_LAYOUT_CLUSTER : "";
	for (i = 0; i < 6; i++)
		argvlen[i] = strlen(argv[i]);
	if ((rep = rcrouter_command(r, r->meta, 6, argv, argvlen)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return rclient_reply_error(r, NULL, rep, "EVAL");
	if (rep->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(rep);
		return rclient_error(r, ENOENT, "pool %s has no partition "
		    "count in Redis (%s): start a supervisor of the pool "
		    "first, or give the partitions", r->url.pool, r->meta);
	}
	if (check_layout(r, rep->element[1]) == -1) {
		freeReplyObject(rep);
		return -1;
	}
	have = parse_count(rep->element[0]->str);
	/* A pool whose supervisors read packs says how many jobs, at most. */
	if (rep->element[2]->type == REDIS_REPLY_STRING &&
	    (packs = parse_count(rep->element[2]->str)) > 0)
		r->packs = packs > PACK_MAX ? PACK_MAX : (unsigned)packs;
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
	    (r->shown = strdup(url)) == NULL) {
		free(r);
		if (errlen > 0)
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	idset_init(&r->pending);
	r->pack_want = PACK_DEFAULT;
	r->retry_ms = RETRY_MS;
	r->failed = -1;
	if (redis_url_parse(url, &r->url, r->error, sizeof r->error) == -1) {
		errno = EINVAL;
		goto fail;
	}
	rcrouter_init(r);
	snprintf(r->meta, sizeof r->meta, REDIS_KEY_META, r->url.pool);
	name_reply_stream(r);
	nopipe_begin(&np);
	rc = rcrouter_refresh(r) != 0 || agree_partitions(r, partitions) ==
	    -1 || epoch_take(r) == -1 ? -1 : 0;
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

int
fp_redis_set_pack(struct fp_redis *r, unsigned jobs)
{
	if (r == NULL || r->broken) {
		errno = EINVAL;
		return -1;
	}
	/* Packs being filled go when a job finds one full. */
	r->pack_want = jobs;
	return 0;
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

/* Adds an XADD at the end of a ring, which grows when it is full. */
static int
ring_push(struct fp_redis *r, struct rlink *l, const struct rsent *s)
{
	struct rsent	*bigger;
	size_t		 i, size = l->size == 0 ? WINDOW_MAX : l->size * 2;

	if (l->queued == l->size) {
		if ((bigger = calloc(size, sizeof *bigger)) == NULL)
			return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		for (i = 0; i < l->queued; i++)
			bigger[i] = *rlink_at(l, i);
		free(l->sent);
		l->sent = bigger;
		l->size = size;
		l->head = 0;
	}
	*rlink_at(l, l->queued++) = *s;
	return 0;
}

/* Takes the oldest XADD of a ring out: it is answered, or goes again. */
static struct rsent
ring_pop(struct rlink *l)
{
	struct rsent	s = *rlink_at(l, 0);

	l->head = (l->head + 1) % l->size;
	l->queued--;
	return s;
}

/* An XADD that is answered, or given up: its command goes. */
static void
sent_free(struct rsent *s)
{
	redisFreeCommand(s->cmd);
	free(s->ids);
}

/* An XADD given up: its jobs are not waited for. */
static void
sent_forget(struct fp_redis *r, struct rsent *s)
{
	size_t	i;

	if (s->ids == NULL)
		idset_del(&r->pending, s->id);
	for (i = 0; i < s->nids; i++)
		idset_del(&r->pending, s->ids[i]);
	sent_free(s);
}

/* Redis will not come back: whether these jobs got there is not known,
 * and none is waited for. */
static void
ring_abandon(struct fp_redis *r, struct rlink *l)
{
	struct rsent	s;

	while (l->queued > 0) {
		s = ring_pop(l);
		sent_forget(r, &s);
	}
}

/*
 * Queues an XADD on node n's link, and writes it there if the link is
 * up; one that is down gets it when it is made again.
 */
static int
send_to(struct fp_redis *r, unsigned n, const struct rsent *s)
{
	struct rlink	*l = &r->link[n];
	struct nopipe	 np;

	if (ring_push(r, l, s) == -1)
		return -1;
	if (l->c == NULL) {
		/* Connecting writes AUTH: SIGPIPE is blocked for it. */
		nopipe_begin(&np);
		(void)rcrouter_link(r, n);
		nopipe_end(&np);
	} else if ((s->asking && redisAppendCommand(l->c, "ASKING") !=
	    REDIS_OK) || redisAppendFormattedCommand(l->c, s->cmd, s->len) !=
	    REDIS_OK)
		rcrouter_drop(r, n);	/* sent again when it is made */
	return 0;
}

/*
 * The XADDs that were not taken (again, in their order) go where they
 * belong now: where ASK said, or to their slot's owner.
 */
static int
send_again(struct fp_redis *r, struct rlink *again)
{
	struct rsent	s;
	char		stream[REDIS_KEY_MAX];
	int		n, rc = 0;

	while (again->queued > 0) {
		s = ring_pop(again);
		rcrouter_partition_key(r, s.partition, stream, sizeof stream);
		n = s.asking ? s.node : rcrouter_node(r, stream);
		if (n < 0 || send_to(r, n, &s) == -1) {
			sent_forget(r, &s);
			rc = -1;
		}
	}
	return rc;
}

/* Writes out what is queued on a link. */
static int
push(redisContext *c)
{
	int	done = 0;

	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	return 0;
}

/* The next answer on a link to an XADD: after ASKING's, if it had one. */
static redisReply *
answer(redisContext *c, const struct rsent *s)
{
	void	*v;

	if (s->asking) {
		if (redisGetReply(c, &v) != REDIS_OK)
			return NULL;
		freeReplyObject(v);
	}
	if (redisGetReply(c, &v) != REDIS_OK)
		return NULL;
	return v;
}

/*
 * Reads the answers to the oldest count XADDs in flight on node n: each
 * job is in Redis, or failed (also when redirected over and over).  One that must go again (the link lost,
 * Redis loading its data, the slot moved or moving) takes all the later
 * ones of the link with it, in order, so that no job of a key passes an
 * earlier one: they are sent again once Redis is back, or where the
 * cluster says.
 */
static int
collect(struct fp_redis *r, unsigned n, size_t count)
{
	struct rlink	*l = &r->link[n];
	struct rlink	 again;
	struct rsent	 s;
	redisReply	*rep;
	char		 stream[REDIS_KEY_MAX];
	enum rcluster_redirect to;
	int		 rc = 0, lost, wait;

	memset(&again, 0, sizeof again);
	wait = lost = rcrouter_link(r, n) != 0;
	while (count > 0 && l->queued > 0) {
		s = ring_pop(l);
		if (lost || (rep = answer(l->c, &s)) == NULL) {
			if (!lost)
				rclient_reply_error(r, l->c, NULL, "XADD");
			lost = wait = 1;
		} else if ((to = rclient_loading(rep) ? RCLUSTER_TRYAGAIN :
		    rcrouter_redirect(r, rep, &s.node)) != RCLUSTER_NOT &&
		    ((to != RCLUSTER_MOVED && to != RCLUSTER_ASK) ||
		    ++s.redirects <= REDIRECTS_MAX)) {
			s.asking = to == RCLUSTER_ASK;
			if (s.asking || to == RCLUSTER_MOVED)
				r->moved = 1;
			else {
				wait = 1;
				r->stale |= to == RCLUSTER_DOWN;
			}
			rclient_reply_error(r, NULL, rep, "XADD");
		} else {
			if (rep->type != REDIS_REPLY_STRING) {
				rclient_error(r, EPROTO, "job %llu%s: redis: "
				    "XADD: %s", (unsigned long long)s.id,
				    s.nids > 1 ? " (and its pack)" : "",
				    rep->type == REDIS_REPLY_ERROR ?
				    rep->str : "unexpected reply");
				sent_forget(r, &s);
				rc = -1;
			} else
				sent_free(&s);
			freeReplyObject(rep);
			count--;
			continue;
		}
		if (ring_push(r, &again, &s) == -1) {
			sent_forget(r, &s);
			rc = -1;
		}
		count = l->queued;
	}
	if (again.queued == 0)
		return rc;
	r->failed = lost ? (int)n : -1;
	rcrouter_partition_key(r, rlink_at(&again, 0)->partition, stream,
	    sizeof stream);
	if (wait && recover(r, stream, 0) != 0)
		rc = -1;
	else if (send_again(r, &again) == -1)
		rc = -1;
	ring_abandon(r, &again);
	free(again.sent);
	return rc;
}

/*
 * Reads the answers of the XADDs sent, on every link: each job is in
 * Redis, or not.  Then, with no link in use, the slot map is read again
 * if a redirection said it changed.
 */
static int
flush(struct fp_redis *r)
{
	unsigned	n;
	int		rc = 0, busy;

	do {
		busy = 0;
		for (n = 0; n < r->map.nnodes && !r->broken; n++) {
			if (r->link[n].queued == 0)
				continue;
			busy = 1;
			if (collect(r, n, r->link[n].queued) == -1)
				rc = -1;
		}
	} while (busy && !r->broken);
	if (r->broken)
		return -1;
	r->moved = 0;
	if (r->stale && rcrouter_refresh(r) == -2)
		r->broken = 1;
	return rc;
}

int
fp_redis_flush(struct fp_redis *r)
{
	struct nopipe	np;
	int		rc;

	if (r->broken)
		return -1;
	nopipe_begin(&np);
	rc = rpack_send_all(r);
	if (flush(r) == -1)
		rc = -1;
	nopipe_end(&np);
	return rc;
}

/*
 * The node that takes a job for stream, with room in its window: a full
 * one has its older half answered while the rest flows.  After an XADD
 * was redirected, every link is read to its end first, and the map with
 * it, so that a job never passes an earlier one of its key.
 */
static int
window(struct fp_redis *r, const char *stream)
{
	struct nopipe	np;
	int		n, rc;

	for (;;) {
		if ((n = rcrouter_node(r, stream)) < 0)
			return -1;
		if (!r->moved && r->link[n].queued < WINDOW_MAX)
			return n;
		/* Only reading answers writes: SIGPIPE is blocked for it. */
		nopipe_begin(&np);
		rc = r->moved ? flush(r) : collect(r, n, WINDOW_READ);
		nopipe_end(&np);
		if (rc == -1)
			return -1;
	}
}

/*
 * Sends an XADD of argv to partition p's stream (argv[1]), in the window
 * of the node that owns it: job id's, or the nids jobs of ids (a pack's,
 * freed with it).  On error its jobs are no longer waited for.
 */
int
rclient_xadd(struct fp_redis *r, unsigned p, int argc, const char **argv,
    const size_t *argvlen, uint64_t id, uint64_t *ids, size_t nids)
{
	struct nopipe	 np;
	struct rsent	 s;
	struct rlink	*l;
	int		 n, len;

	memset(&s, 0, sizeof s);
	s.partition = p;
	s.id = id;
	s.ids = ids;
	s.nids = nids;
	if ((n = window(r, argv[1])) < 0)
		goto fail;
	if ((len = redisFormatCommandArgv(&s.cmd, argc, argv, argvlen)) < 0) {
		rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		goto fail;
	}
	s.len = len;
	if (send_to(r, n, &s) == -1)
		goto fail;
	/*
	 * Each half window goes out at once, so that Redis works on it while
	 * the next is made; an error shows when the answers are read.
	 */
	l = &r->link[n];
	if (l->queued % WINDOW_READ == 0 && l->c != NULL) {
		nopipe_begin(&np);
		(void)push(l->c);
		nopipe_end(&np);
	}
	return 0;
fail:
	sent_forget(r, &s);
	return -1;
}

/* One job as a plain entry, of its own. */
int
rclient_plain(struct fp_redis *r, unsigned p, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t paylen, unsigned flags)
{
	const char	*argv[13];
	size_t		 argvlen[13];
	char		 stream[REDIS_KEY_MAX], ref[24];
	int		 argc = 0;

	rcrouter_partition_key(r, p, stream, sizeof stream);
	snprintf(ref, sizeof ref, "%llu", (unsigned long long)id);
	argv[argc] = "XADD", argvlen[argc++] = 4;
	argv[argc] = stream, argvlen[argc++] = strlen(stream);
	argv[argc] = "*", argvlen[argc++] = 1;
	argv[argc] = "payload", argvlen[argc++] = 7;
	argv[argc] = payload, argvlen[argc++] = paylen;
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
	return rclient_xadd(r, p, argc, argv, argvlen, id, NULL, 0);
}

int
fp_redis_submit(struct fp_redis *r, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t paylen, unsigned flags)
{
	unsigned	p;

	if (id == 0 || (flags & ~(FP_F_HIGH | FP_F_KEYED | FP_F_DETACHED)))
		return rclient_error(r, EINVAL, "job %llu: a bad id or flags",
		    (unsigned long long)id);
	if (!(flags & FP_F_DETACHED) && idset_has(&r->pending, id))
		return rclient_error(r, EEXIST, "job %llu is already pending",
		    (unsigned long long)id);
	if (r->broken)
		return -1;
	if (!(flags & FP_F_DETACHED) && rpack_max(r) > 1) {
		/* Unkeyed jobs fill one partition's pack at a time. */
		p = (flags & FP_F_KEYED) ? fp_partition(key, keylen,
		    r->partitions) : r->rr % r->partitions;
		if (idset_add(&r->pending, id) == -1)
			return rclient_error(r, ENOMEM, "%s",
			    strerror(ENOMEM));
		return rpack_add(r, p, id, key, keylen, payload, paylen,
		    flags);
	}
	p = (flags & FP_F_KEYED) ? fp_partition(key, keylen, r->partitions) :
	    r->rr++ % r->partitions;
	/* Jobs packed before this one in its partition go first. */
	if (r->packed > 0 && rpack_send(r, p) == -1)
		return -1;
	if (!(flags & FP_F_DETACHED) && idset_add(&r->pending, id) == -1)
		return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
	return rclient_plain(r, p, id, key, keylen, payload, paylen, flags);
}

/*
 * The next result: 1 and *res (its data valid until the next call), 0
 * when no job is pending or timeout_ms (-1: no limit) passed first, -1
 * on error.  A lost link or Redis loading is waited for (the results
 * wait in the reply stream); a second of quiet checks the pool is still
 * there.
 */
static int
receive(struct fp_redis *r, struct fp_result *res, int timeout_ms)
{
	redisReply		*rep;
	uint64_t		 start = now_ms(), waited, until;
	char			 block[24];
	long			 ms;
	int			 rc;

	if (r->broken || (rpack_send_all(r) == -1 && r->broken) ||
	    (rcrouter_queued(r) > 0 && flush(r) == -1 && r->broken))
		return -1;
	until = timeout_ms > 0 ? start + timeout_ms : 0;
	for (;;) {
		if (rresult_next(r, res))
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
			rep = rcrouter_commandf(r, r->reply, "XREAD COUNT "
			    READ_COUNT " STREAMS %s %s", r->reply, r->lastid);
		else
			rep = rcrouter_commandf(r, r->reply, "XREAD COUNT "
			    READ_COUNT " BLOCK %s STREAMS %s %s", block,
			    r->reply, r->lastid);
		if (rep == NULL || (rc = unready(r, rep)) != 0) {
			if (rep != NULL) {
				r->stale |= rc == 2;
				rclient_reply_error(r, NULL, rep, "XREAD");
			}
			if ((rc = recover(r, r->reply, until)) == -1)
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
				if ((rc = recover(r, r->meta, until)) == -1)
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
			return rclient_reply_error(r, NULL, rep, "XREAD");
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
	if (!r->broken && r->packed == 0 && rcrouter_queued(r) == 0 &&
	    rresult_next(r, res))
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
	unsigned	 n;

	if (r == NULL)
		return;
	nopipe_begin(&np);
	if (!r->broken)
		(void)rpack_send_all(r);
	if (!r->broken && rcrouter_queued(r) > 0)
		(void)flush(r);
	if (!r->broken && r->partitions > 0 && rcrouter_queued(r) == 0 &&
	    (rep = rcrouter_commandf(r, r->reply, "DEL %s", r->reply)) !=
	    NULL)
		freeReplyObject(rep);
	rcrouter_free(r);
	rpack_free(r);
	if (r->batch != NULL)
		freeReplyObject(r->batch);
	for (n = 0; n < RCLUSTER_NODES_MAX; n++) {
		ring_abandon(r, &r->link[n]);
		free(r->link[n].sent);
	}
	idset_free(&r->pending);
	explicit_bzero(r->url.password, sizeof r->url.password);
	free(r->shown);
	free(r);
	nopipe_end(&np);
}
