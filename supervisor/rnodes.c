/*
 * The links to a Redis Cluster: one hiredis context per master, all on
 * the supervisor's event_base, and the slot map that says which master
 * serves a key (proto/rcluster.c).  The map comes from CLUSTER SLOTS,
 * asked of a seed on a link of its own that is closed once answered.
 *
 * A command goes to the owner of its slot and is kept, formatted, until
 * its final reply, so that it can be sent again: a MOVED sends it to the
 * new owner and has the map asked again (once for many MOVEDs), an ASK
 * sends it to the node named, after ASKING, a TRYAGAIN sends it again a
 * little later.  A CLUSTERDOWN, or any link lost, is the whole link lost
 * for rconn.c: everything is dropped and built again from the seeds, so
 * that the owner keeps the one state machine of a single Redis.
 *
 * Redis answers each link in order, but not one link against another.
 * While a command of a slot is being sent elsewhere, later commands of
 * that slot wait until it is answered: a partition's finishes, which
 * must run in the order sent, are never overtaken by a redirection.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "proto/log.h"
#include "proto/rcluster.h"
#include "proto/xmalloc.h"
#include "supervisor.h"
#include "redis.h"

#define CALLS_MAX	256		/* commands not yet answered */
#define REDIRECTS_MAX	16		/* MOVED or ASK for one command */
#define TRYAGAIN_NS	20000000ULL	/* 20 ms */
#define TRYAGAIN_MAX	250		/* 5 s of them */
#define NO_SLOT		(-1)		/* CLUSTER SLOTS: any node */

struct ncall {
	TAILQ_ENTRY(ncall)	 entry;
	rconn_fn		*fn;
	void			*arg;
	char			*cmd;	/* formatted, for another try */
	size_t			 len;
	int			 slot;
	unsigned		 redirects;
	unsigned		 tryagains;
	uint64_t		 sent_ns;
};
TAILQ_HEAD(ncalls, ncall);

struct nlink {
	redisAsyncContext	*ac;
	struct ncalls		 sent;	/* answered in this order */
	uint64_t		 connect_ns;
	int			 connected;
	char			 name[300];
};

static const struct redis_url	*url;
static unsigned			 home;		/* the pool's slot */
static struct rcluster_map	 map;
static struct nlink		 links[RCLUSTER_NODES_MAX];
static redisAsyncContext	*boot;		/* asks a seed for the map */
static int			 boot_done;	/* closed on purpose */
static unsigned			 seed_next;
static struct rcluster_node	 known[RCLUSTER_NODES_MAX];	/* masters */
static unsigned			 nknown;	/* seen in the last map */
static struct ncalls		 parked;	/* wait for their slot */
static struct ncalls		 again;		/* wait for a TRYAGAIN */
static uint16_t			 inflight[RCLUSTER_SLOTS];
static uint8_t			 unsettled[RCLUSTER_SLOTS];
static unsigned			 ncalls;
static int			 broken;	/* a link lost: no more sends */
static int			 refreshing;
static struct event		*ev_again;

static void	call_send(struct ncall *);

static void
node_name(char *out, size_t size, const char *host, int port)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%d", host, port);
	else
		snprintf(out, size, "%s:%d", host, port);
}

/* Everything is dropped: rconn.c closes the links and starts again. */
static void lost(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
lost(const char *fmt, ...)
{
	va_list	ap;
	char	why[400];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	broken = 1;
	rconn_lost(why);
}

static void
auth_done(void *arg, redisReply *r)
{
	rconn_handshake_done(arg, r);
}

static void
auth_reply(redisAsyncContext *c, void *reply, void *priv)
{
	(void)c;
	auth_done(priv, reply);
}

/* AUTH goes first on every link, when the URL names a password. */
static int
auth_send(redisAsyncContext *c)
{
	const char	*argv[3];
	size_t		 argvlen[3];
	int		 argc;

	if ((argc = redis_url_auth_argv(url, argv, argvlen)) <= 0)
		return 0;
	return redisAsyncCommandArgv(c, auth_reply, "AUTH", argc, argv,
	    argvlen) == REDIS_OK ? 0 : -1;
}

static redisAsyncContext *
open_context(const char *host, int port, void *data,
    redisConnectCallback *conn, redisDisconnectCallback *disc, char *err,
    size_t errsize)
{
	redisAsyncContext	*c;

	if ((c = redisAsyncConnect(host, port)) == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(err, errsize, "%s", c->errstr);
		redisAsyncFree(c);
		return NULL;
	}
	if (redisLibeventAttach(c, base) != REDIS_OK) {
		redisAsyncFree(c);
		snprintf(err, errsize, "cannot watch the connection");
		return NULL;
	}
	c->data = data;
	redisAsyncSetConnectCallback(c, conn);
	redisAsyncSetDisconnectCallback(c, disc);
	if (auth_send(c) == -1) {
		redisAsyncFree(c);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	return c;
}

static void
link_connected(const redisAsyncContext *c, int status)
{
	struct nlink	*l = c->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context when this returns. */
		l->ac = NULL;
		if (!broken)
			lost("cannot connect to %s", l->name);
		return;
	}
	l->connected = 1;
}

static void
link_disconnected(const redisAsyncContext *c, int status)
{
	struct nlink	*l = c->data;

	(void)status;
	l->ac = NULL;
	l->connected = 0;
	if (!broken)
		lost("lost the link to %s", l->name);
}

/* The link to a master, opened when first needed. */
static struct nlink *
link_get(unsigned n)
{
	struct nlink	*l = &links[n];
	char		 err[256];

	if (l->ac != NULL)
		return l;
	node_name(l->name, sizeof l->name, map.node[n].host, map.node[n].port);
	l->ac = open_context(map.node[n].host, map.node[n].port, l,
	    link_connected, link_disconnected, err, sizeof err);
	if (l->ac == NULL) {
		log_warnx("redis %s: %s", l->name, err);
		return NULL;
	}
	l->connected = 0;
	l->connect_ns = now_ns();
	return l;
}

static void	call_reply(redisAsyncContext *, void *, void *);

/* Sends a call to node n, after ASKING for an ASK redirection. */
static void
call_to(struct ncall *c, unsigned n, int asking)
{
	struct nlink	*l;

	if (broken)
		goto fail;
	if ((l = link_get(n)) == NULL) {
		lost("cannot connect to %s", links[n].name);
		goto fail;
	}
	if (asking && redisAsyncCommand(l->ac, NULL, NULL, "ASKING") !=
	    REDIS_OK) {
		lost("cannot send to %s", l->name);
		goto fail;
	}
	if (redisAsyncFormattedCommand(l->ac, call_reply, c, c->cmd,
	    c->len) != REDIS_OK) {
		lost("cannot send to %s", l->name);
		goto fail;
	}
	c->sent_ns = now_ns();
	TAILQ_INSERT_TAIL(&l->sent, c, entry);
	return;
fail:
	/* Parked: answered NULL with everything else when the links go. */
	TAILQ_INSERT_TAIL(&parked, c, entry);
}

/* Any node with a link, for a command that is not a key's. */
static unsigned
any_node(void)
{
	unsigned	n;

	for (n = 0; n < map.nnodes; n++)
		if (links[n].ac != NULL)
			return n;
	return map.owner[home] != RCLUSTER_NONE ? map.owner[home] : 0;
}

static void
call_send(struct ncall *c)
{
	unsigned	n;

	if (c->slot == NO_SLOT) {
		call_to(c, any_node(), 0);
		return;
	}
	if (unsettled[c->slot]) {
		TAILQ_INSERT_TAIL(&parked, c, entry);
		return;
	}
	inflight[c->slot]++;
	/* A slot nobody serves: a node says where it is, or that the
	 * cluster is down. */
	n = map.owner[c->slot];
	call_to(c, n != RCLUSTER_NONE ? n : any_node(), 0);
}

/*
 * The final reply of a call.  Its slot settles once nothing of it is
 * in flight: the calls that waited behind go, in the order made.
 */
static void
call_end(struct ncall *c, redisReply *r)
{
	struct ncall	*p, *next;
	int		 s = c->slot;

	ncalls--;
	c->fn(c->arg, r);
	free(c->cmd);
	free(c);
	if (s == NO_SLOT || --inflight[s] > 0 || !unsettled[s])
		return;
	unsettled[s] = 0;
	for (p = TAILQ_FIRST(&parked); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->slot == s && !broken) {
			TAILQ_REMOVE(&parked, p, entry);
			call_send(p);
		}
	}
}

static void
refresh_done(void *arg, redisReply *r)
{
	char	err[256];

	(void)arg;
	refreshing = 0;
	if (r == NULL)
		return;
	if (rcluster_map_load(&map, r, err, sizeof err) == -1) {
		log_warnx("redis %s: the slot map: %s", rconn_where(), err);
		rconn_drop("a slot map that makes no sense");
		return;
	}
	log_info("redis %s: a slot moved: the slot map asked again, %u "
	    "masters", rconn_where(), map.nnodes);
}

/* The map changed: asked again of the node that knows, once at a time. */
static void
refresh(unsigned n)
{
	struct ncall	*c;
	const char	*argv[2] = { "CLUSTER", "SLOTS" };
	size_t		 argvlen[2] = { 7, 5 };
	int		 len;

	if (refreshing || broken)
		return;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return;
	if ((len = redisFormatCommandArgv(&c->cmd, 2, argv, argvlen)) < 0) {
		free(c);
		return;
	}
	c->len = (size_t)len;
	c->fn = refresh_done;
	c->slot = NO_SLOT;
	refreshing = 1;
	ncalls++;
	call_to(c, n, 0);
}

static void
again_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ncall	*c;
	unsigned	 n;

	(void)fd;
	(void)ev;
	(void)arg;
	while (!broken && (c = TAILQ_FIRST(&again)) != NULL) {
		TAILQ_REMOVE(&again, c, entry);
		n = map.owner[c->slot];
		call_to(c, n != RCLUSTER_NONE ? n : any_node(), 0);
	}
}

static void
call_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct nlink		*l = ac->data;
	struct ncall		*c = priv;
	redisReply		*r = reply;
	enum rcluster_redirect	 how;
	char			 host[256], name[300];
	unsigned		 slot;
	int			 port, n;

	TAILQ_REMOVE(&l->sent, c, entry);
	if (r == NULL) {
		/* The rest come back NULL too, then everything is dropped. */
		broken = 1;
		rconn_lost("the link is lost");
		call_end(c, NULL);
		return;
	}
	if (r->type != REDIS_REPLY_ERROR || c->slot == NO_SLOT) {
		call_end(c, r);
		supervisor_wake();
		return;
	}
	how = rcluster_redirect(r, &slot, host, sizeof host, &port);
	if (broken && how != RCLUSTER_NOT) {
		/* Everything goes: no more sending, and no reply. */
		call_end(c, NULL);
		return;
	}
	switch (how) {
	case RCLUSTER_MOVED:
	case RCLUSTER_ASK:
		if (++c->redirects > REDIRECTS_MAX) {
			lost("slot %s: redirected too often", r->str);
			call_end(c, NULL);
			return;
		}
		if ((n = rcluster_map_node(&map, host, port)) == -1) {
			node_name(name, sizeof name, host, port);
			lost("%s: more masters than this client knows", name);
			call_end(c, NULL);
			return;
		}
		unsettled[c->slot] = 1;
		if (how == RCLUSTER_MOVED) {
			if (slot < RCLUSTER_SLOTS)
				map.owner[slot] = (uint8_t)n;
			refresh((unsigned)n);
		}
		call_to(c, (unsigned)n, how == RCLUSTER_ASK);
		return;
	case RCLUSTER_TRYAGAIN:
		if (++c->tryagains > TRYAGAIN_MAX)
			break;
		unsettled[c->slot] = 1;
		TAILQ_INSERT_TAIL(&again, c, entry);
		if (!evtimer_pending(ev_again, NULL))
			timer_add_ns(ev_again, TRYAGAIN_NS);
		return;
	case RCLUSTER_DOWN:
		lost("the cluster is down: %s", r->str);
		call_end(c, NULL);
		return;
	case RCLUSTER_NOT:
		break;
	}
	call_end(c, r);
	supervisor_wake();
}

/*
 * Sends a command for a key of slot (-1: the pool's home slot).  -1 when
 * the links are not up or too much is in flight: the caller tries again
 * on a later turn.
 */
int
rnodes_command(rconn_fn *fn, void *arg, int slot, int argc,
    const char **argv, const size_t *argvlen)
{
	struct ncall	*c;
	int		 len;

	if (broken || ncalls >= CALLS_MAX || map.nnodes == 0)
		return -1;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return -1;
	if ((len = redisFormatCommandArgv(&c->cmd, argc, argv, argvlen)) < 0) {
		free(c);
		return -1;
	}
	c->len = (size_t)len;
	c->fn = fn;
	c->arg = arg;
	c->slot = slot >= 0 && slot < RCLUSTER_SLOTS ? slot : (int)home;
	ncalls++;
	call_send(c);
	return 0;
}

unsigned
rnodes_outstanding(void)
{
	return ncalls;
}

unsigned
rnodes_room(void)
{
	return ncalls < CALLS_MAX ? CALLS_MAX - ncalls : 0;
}

static void
boot_slots(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	char		 err[256];

	(void)ac;
	(void)priv;
	if (r == NULL || boot_done)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		/* Not a cluster, or not allowed to ask: no retry mends it. */
		if (strstr(r->str, "cluster support disabled") != NULL ||
		    strncmp(r->str, "NOPERM", 6) == 0)
			rconn_refused_at_start("CLUSTER SLOTS", r->str);
		lost("CLUSTER SLOTS: %s", r->str);
		return;
	}
	rcluster_map_init(&map);
	if (rcluster_map_load(&map, r, err, sizeof err) == -1) {
		lost("the slot map: %s", err);
		return;
	}
	boot_done = 1;
	redisAsyncDisconnect(boot);
	log_debug("redis %s: %u masters", rconn_where(), map.nnodes);
	broken = 0;
	rconn_linked();
}

static void
boot_connected(const redisAsyncContext *c, int status)
{
	if (status == REDIS_OK)
		return;
	boot = NULL;
	rconn_failed(c->errstr[0] != '\0' ? c->errstr : "failed");
}

static void
boot_disconnected(const redisAsyncContext *c, int status)
{
	(void)status;
	boot = NULL;
	if (!boot_done)
		rconn_failed(c->errstr[0] != '\0' ? c->errstr : "closed");
}

/*
 * A new start: a seed, the next one each time, is asked for the map, and
 * after the seeds each master of the last map, in case the seeds are
 * the nodes gone.
 */
void
rnodes_connect(void)
{
	const char	*host;
	unsigned	 i = seed_next++ % (url->nseeds + nknown);
	int		 port;
	char		 err[256];

	if (i < url->nseeds) {
		host = url->seed[i].host;
		port = url->seed[i].port;
	} else {
		host = known[i - url->nseeds].host;
		port = known[i - url->nseeds].port;
	}
	broken = 1;	/* until the map is in */
	boot_done = 0;
	boot = open_context(host, port, NULL, boot_connected,
	    boot_disconnected, err, sizeof err);
	if (boot == NULL) {
		rconn_failed(err);
		return;
	}
	if (redisAsyncCommand(boot, boot_slots, NULL, "CLUSTER SLOTS") !=
	    REDIS_OK) {
		redisAsyncFree(boot);
		boot = NULL;
		rconn_failed("cannot ask for the slot map");
	}
}

/* Any link open (or opening). */
int
rnodes_open(void)
{
	unsigned	n;

	if (boot != NULL)
		return 1;
	for (n = 0; n < RCLUSTER_NODES_MAX; n++)
		if (links[n].ac != NULL)
			return 1;
	return 0;
}

/*
 * Closes every link, outside hiredis's callbacks: what is in flight or
 * waits is answered NULL, in the order sent.
 */
void
rnodes_close(void)
{
	struct ncall		*c;
	redisAsyncContext	*ac;
	unsigned		 n;

	broken = 1;
	boot_done = 1;
	if ((ac = boot) != NULL) {
		boot = NULL;
		redisAsyncFree(ac);
	}
	for (n = 0; n < RCLUSTER_NODES_MAX; n++)
		if ((ac = links[n].ac) != NULL) {
			links[n].ac = NULL;
			redisAsyncFree(ac);
		}
	evtimer_del(ev_again);
	TAILQ_CONCAT(&again, &parked, entry);
	while ((c = TAILQ_FIRST(&again)) != NULL) {
		TAILQ_REMOVE(&again, c, entry);
		ncalls--;
		c->fn(c->arg, NULL);
		free(c->cmd);
		free(c);
	}
	memset(inflight, 0, sizeof inflight);
	memset(unsettled, 0, sizeof unsettled);
	ncalls = 0;
	refreshing = 0;
	if (map.nnodes > 0) {
		nknown = map.nnodes;
		memcpy(known, map.node, nknown * sizeof known[0]);
	}
	rcluster_map_init(&map);
}

/* Why a link is overdue (a connect, or the oldest reply), or NULL. */
const char *
rnodes_overdue(uint64_t now, uint64_t limit)
{
	static char	 why[400];
	struct nlink	*l;
	struct ncall	*c;
	unsigned	 n;

	for (n = 0; n < RCLUSTER_NODES_MAX; n++) {
		l = &links[n];
		if (l->ac == NULL)
			continue;
		if (!l->connected && now - l->connect_ns > limit) {
			snprintf(why, sizeof why, "connect to %s timed out",
			    l->name);
			return why;
		}
		if ((c = TAILQ_FIRST(&l->sent)) != NULL &&
		    now - c->sent_ns > limit) {
			snprintf(why, sizeof why, "no reply within 5 s from %s",
			    l->name);
			return why;
		}
	}
	return NULL;
}

void
rnodes_init(const struct redis_url *u)
{
	char		key[REDIS_KEY_MAX];
	unsigned	n;

	url = u;
	snprintf(key, sizeof key, REDIS_KEY_META, u->pool);
	home = rcluster_slot(key, strlen(key));
	TAILQ_INIT(&parked);
	TAILQ_INIT(&again);
	for (n = 0; n < RCLUSTER_NODES_MAX; n++)
		TAILQ_INIT(&links[n].sent);
	rcluster_map_init(&map);
	broken = 1;
	if ((ev_again = evtimer_new(base, again_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
}
