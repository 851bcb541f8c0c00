/*
 * The link to Redis: one hiredis context on the supervisor's event_base,
 * never a blocking call.  Every command has a deadline: hiredis 0.14 has
 * no timeouts of its own, so the commands in flight are kept in a ring in
 * the order sent (Redis answers in that order) and a watchdog timer drops
 * the link when the oldest has waited too long.  A lost link is retried
 * with exponential backoff and jitter; the owner (rpool.c) runs its
 * set-up on each new link and says when it is ready for work.  Each new
 * link first sends AUTH and SELECT if the URL asks for them: a refusal
 * before the first link was ever ready is fatal (a wrong password does
 * not fix itself), later it is retried like a lost link.  On a Redis
 * Cluster the links are rnodes.c's, one per master, and all of them are
 * the link here: one lost is all lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "proto/log.h"
#include "supervisor.h"
#include "redis.h"

#define COMMAND_TIMEOUT_NS	5000000000ULL	/* a reply or the link */
#define WATCH_NS		250000000ULL
#define BACKOFF_MIN_NS		100000000ULL	/* 0.1 s */
#define BACKOFF_MAX_NS		5000000000ULL	/* 5 s */
#define INFLIGHT_MAX		64		/* commands in flight */

enum rconn_state {
	RC_DOWN,	/* no link; a retry is scheduled */
	RC_CONNECTING,
	RC_SETUP,	/* connected; the owner's set-up runs */
	RC_READY,
};

struct call {
	rconn_fn	*fn;
	void		*arg;
	uint64_t	 sent_ns;
};

static const struct redis_url	*url;
static struct redis_url		 link_url;	/* with the password file's */
static void			(*on_connected)(void);
static void			(*on_lost)(void);
static redisAsyncContext	*ac;
static enum rconn_state		 state;
static struct call		 calls[INFLIGHT_MAX];
static unsigned			 call_head, call_count;
static uint64_t			 connect_ns, backoff_ns;
static struct event		*ev_retry, *ev_watch, *ev_drop;
static char			 drop_why[128];
static char			 where_text[300];
static int			 was_ready;	/* a loss is worth a warning */
static int			 failures;	/* connects failed in a row */
static int			 ever_ready;	/* since start */
static int			 cluster;	/* the links are rnodes.c's */

static void	connect_now(void);

const char *
rconn_where(void)
{
	return where_text;
}

static void
retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	connect_now();
}

/* The link is gone: say so once, tell the owner, and retry later. */
static void
link_failed(const char *why)
{
	uint64_t	delay;

	ac = NULL;
	state = RC_DOWN;
	call_head = call_count = 0;
	if (was_ready)
		log_warnx("redis %s: connection lost: %s; reconnecting",
		    where_text, why);
	else if (failures++ == 0)
		log_warnx("redis %s: cannot connect: %s; retrying",
		    where_text, why);
	else
		log_debug("redis %s: cannot connect: %s", where_text, why);
	was_ready = 0;
	backoff_ns = backoff_ns == 0 ? BACKOFF_MIN_NS : backoff_ns * 2;
	if (backoff_ns > BACKOFF_MAX_NS)
		backoff_ns = BACKOFF_MAX_NS;
	/* Jitter of -25% to +25%: supervisors that lost Redis together do
	 * not all come back at once. */
	delay = backoff_ns * 3 / 4 +
	    arc4random_uniform((uint32_t)(backoff_ns / 2000000 + 1)) * 1000000;
	timer_add_ns(ev_retry, delay);
	on_lost();
	supervisor_wake();
}

/*
 * The server refused what a link needs first (AUTH, SELECT, or the slot
 * map of a cluster that is not one), saying why, never the password.
 * Before any connection was ready that will not fix itself: exit 2.
 * After, the caller retries it like a lost link.
 */
void
rconn_refused_at_start(const char *what, const char *why)
{
	if (!ever_ready) {
		log_warnx("redis %s: %s refused: %s", where_text, what, why);
		supervisor_abort(2);
	}
}

/* AUTH or SELECT answered. */
void
rconn_handshake_done(void *arg, redisReply *r)
{
	const char	*what = arg;

	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	rconn_refused_at_start(what, r->str);
	log_warnx("redis %s: %s refused: %s; retrying", where_text, what,
	    r->str);
	rconn_drop("handshake refused");
}

/* AUTH and SELECT, sent ahead of the owner's set-up on the same link. */
static void
handshake_send(void)
{
	const char	*argv[3];
	size_t		 argvlen[3];
	char		 db[16];
	int		 argc;

	if ((argc = redis_url_auth_argv(url, argv, argvlen)) > 0)
		(void)rconn_command(rconn_handshake_done, "AUTH", -1, argc,
		    argv, argvlen);
	if (url->db != 0) {
		snprintf(db, sizeof db, "%d", url->db);
		argv[0] = "SELECT";
		argv[1] = db;
		argvlen[0] = 6;
		argvlen[1] = strlen(db);
		(void)rconn_command(rconn_handshake_done, "SELECT", -1, 2,
		    argv, argvlen);
	}
}

/* rnodes.c: the slot map is in, the links to the masters open. */
void
rconn_linked(void)
{
	state = RC_SETUP;
	on_connected();
	supervisor_wake();
}

/* rnodes.c: no link came up. */
void
rconn_failed(const char *why)
{
	link_failed(why);
}

/*
 * rnodes.c: a link is lost, or the cluster is down: all are dropped,
 * even when the one lost was the only one open.
 */
void
rconn_lost(const char *why)
{
	state = RC_DOWN;
	if (drop_why[0] != '\0')
		return;
	snprintf(drop_why, sizeof drop_why, "%s", why);
	event_active(ev_drop, 0, 0);
}

static void
on_connect(const redisAsyncContext *c, int status)
{
	if (status != REDIS_OK) {
		/* hiredis frees the context when this returns. */
		link_failed(c->errstr[0] != '\0' ? c->errstr : "failed");
		return;
	}
	state = RC_SETUP;
	handshake_send();
	on_connected();
	supervisor_wake();
}

static void
on_disconnect(const redisAsyncContext *c, int status)
{
	const char	*why;

	if (drop_why[0] != '\0')
		why = drop_why;
	else if (status == REDIS_OK)
		why = "closed";
	else
		why = c->errstr[0] != '\0' ? c->errstr : "closed";
	link_failed(why);
}

static void
connect_now(void)
{
	redisAsyncContext	*c;

	drop_why[0] = '\0';
	if (cluster) {
		state = RC_CONNECTING;
		connect_ns = now_ns();
		rnodes_connect();
		return;
	}
	if (url->path[0] != '\0')
		c = redisAsyncConnectUnix(url->path);
	else
		c = redisAsyncConnect(url->host, url->port);
	if (c == NULL) {
		link_failed(strerror(ENOMEM));
		return;
	}
	if (c->err) {
		char	why[128];

		snprintf(why, sizeof why, "%s", c->errstr);
		redisAsyncFree(c);
		link_failed(why);
		return;
	}
	if (redisLibeventAttach(c, base) != REDIS_OK) {
		redisAsyncFree(c);
		link_failed("cannot watch the connection");
		return;
	}
	redisAsyncSetConnectCallback(c, on_connect);
	redisAsyncSetDisconnectCallback(c, on_disconnect);
	ac = c;
	state = RC_CONNECTING;
	connect_ns = now_ns();
}

static void
drop_cb(evutil_socket_t fd, short ev, void *arg)
{
	redisAsyncContext	*c = ac;

	(void)fd;
	(void)ev;
	(void)arg;
	if (cluster) {
		state = RC_DOWN;
		rnodes_close();
		link_failed(drop_why);
		return;
	}
	if (c == NULL)
		return;
	/*
	 * Answers every command in flight with NULL, then calls
	 * on_disconnect if the link was up; a link still connecting has
	 * no such call.
	 */
	state = RC_DOWN;
	redisAsyncFree(c);
	if (ac == c)
		link_failed(drop_why);
}

/*
 * Drops the link (a timeout, a reply that makes no sense): outside
 * hiredis's callbacks, where freeing the context is safe.
 */
void
rconn_drop(const char *why)
{
	if ((cluster ? !rnodes_open() : ac == NULL) || drop_why[0] != '\0')
		return;
	snprintf(drop_why, sizeof drop_why, "%s", why);
	event_active(ev_drop, 0, 0);
}

static void
watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	 now = now_ns();
	const char	*why;

	(void)fd;
	(void)ev;
	(void)arg;
	if (state == RC_CONNECTING && now - connect_ns > COMMAND_TIMEOUT_NS)
		rconn_drop("connect timed out");
	else if (cluster) {
		if ((why = rnodes_overdue(now, COMMAND_TIMEOUT_NS)) != NULL)
			rconn_drop(why);
	} else if (call_count > 0 &&
	    now - calls[call_head].sent_ns > COMMAND_TIMEOUT_NS)
		rconn_drop("no reply within 5 s");
	timer_add_ns(ev_watch, WATCH_NS);
}

static void
on_reply(redisAsyncContext *c, void *reply, void *priv)
{
	struct call	*call = priv, done;

	(void)c;
	if (call_count == 0 || call != &calls[call_head]) {
		/* Replies come in order; anything else is a bug here. */
		fatalx("redis: a reply out of order");
	}
	done = *call;
	call_head = (call_head + 1) % INFLIGHT_MAX;
	call_count--;
	if (reply == NULL)
		state = RC_DOWN;	/* the rest come back NULL too */
	done.fn(done.arg, reply);
	supervisor_wake();
}

/*
 * Sends one command, for a key of hash slot (-1: the pool's own; a
 * single Redis has them all); fn gets its reply, or NULL if the link is
 * lost first.  -1 when the link is not up or has too much in flight:
 * the caller tries again on a later turn.
 */
int
rconn_command(rconn_fn *fn, void *arg, int hslot, int argc,
    const char **argv, const size_t *argvlen)
{
	struct call	*call;
	unsigned	 slot;

	if (cluster)
		return state == RC_SETUP || state == RC_READY ?
		    rnodes_command(fn, arg, hslot, argc, argv, argvlen) : -1;
	if (ac == NULL || (state != RC_SETUP && state != RC_READY) ||
	    call_count == INFLIGHT_MAX)
		return -1;
	slot = (call_head + call_count) % INFLIGHT_MAX;
	call = &calls[slot];
	call->fn = fn;
	call->arg = arg;
	call->sent_ns = now_ns();
	call_count++;
	if (redisAsyncCommandArgv(ac, on_reply, call, argc, argv,
	    argvlen) != REDIS_OK) {
		call_count--;
		return -1;
	}
	return 0;
}

/* Room in a for n arguments; -1 if memory ran out (a is as it was). */
int
rargv_room(struct rargv *a, size_t n)
{
	const char	**v;
	size_t		 *len;

	if (n <= a->cap)
		return 0;
	if ((v = reallocarray(a->v, n, sizeof *v)) == NULL)
		return -1;
	a->v = v;
	if ((len = reallocarray(a->len, n, sizeof *len)) == NULL)
		return -1;
	a->len = len;
	a->cap = n;
	return 0;
}

unsigned
rconn_outstanding(void)
{
	return cluster ? rnodes_outstanding() : call_count;
}

/* Commands that may be sent now, before the link is full. */
unsigned
rconn_room(void)
{
	return cluster ? rnodes_room() : INFLIGHT_MAX - call_count;
}

int
rconn_cluster(void)
{
	return cluster;
}

/* The owner's set-up is done: work may flow. */
void
rconn_ready(void)
{
	if (state != RC_SETUP)
		return;
	state = RC_READY;
	if (failures > 0 || backoff_ns > 0)
		log_warnx("redis %s: connected", where_text);
	else
		log_info("redis %s: connected", where_text);
	backoff_ns = 0;
	failures = 0;
	was_ready = 1;
	ever_ready = 1;
}

int
rconn_is_ready(void)
{
	return state == RC_READY;
}

/* Connected, ready or in set-up. */
int
rconn_up(void)
{
	return state == RC_SETUP || state == RC_READY;
}

void
rconn_init(const struct redis_url *u, void (*connected)(void),
    void (*lost)(void))
{
	char	err[512];

	link_url = *u;
	if (opts->password_file != NULL &&
	    redis_url_password_file(&link_url, opts->password_file, err,
	    sizeof err) == -1)
		fatalx("%s", err);
	url = &link_url;
	on_connected = connected;
	on_lost = lost;
	cluster = u->cluster;
	if (cluster)
		rnodes_init(url);
	if (cluster && u->nseeds > 1)
		snprintf(where_text, sizeof where_text, "cluster %s:%d and %u "
		    "other seed%s", u->host, u->port, u->nseeds - 1,
		    u->nseeds == 2 ? "" : "s");
	else if (cluster)
		snprintf(where_text, sizeof where_text, "cluster %s:%d",
		    u->host, u->port);
	else if (u->path[0] != '\0')
		snprintf(where_text, sizeof where_text, "%s", u->path);
	else if (strchr(u->host, ':') != NULL)
		snprintf(where_text, sizeof where_text, "[%s]:%d", u->host,
		    u->port);
	else
		snprintf(where_text, sizeof where_text, "%s:%d", u->host,
		    u->port);
	if (u->db != 0)
		snprintf(where_text + strlen(where_text), sizeof where_text -
		    strlen(where_text), " db %d", u->db);
	ev_retry = evtimer_new(base, retry_cb, NULL);
	ev_watch = evtimer_new(base, watch_cb, NULL);
	ev_drop = event_new(base, -1, 0, drop_cb, NULL);
	if (ev_retry == NULL || ev_watch == NULL || ev_drop == NULL)
		fatalx("event_new failed");
	timer_add_ns(ev_watch, WATCH_NS);
	connect_now();
}
