/*
 * The links of a producer to Redis, and which one each key goes to.  A
 * single Redis has one link, node 0, for every key.  A Redis Cluster has
 * one link per master, made when first needed, and a map of which master
 * owns each slot, read with CLUSTER SLOTS from any node that answers (the
 * URL's seeds first time).  A command sent here follows the cluster's
 * redirections: MOVED fixes the map and goes to the new owner (the whole
 * map is read again later), ASK goes once to the node named, TRYAGAIN is
 * sent again after a short pause.  Every link gives AUTH and SELECT as
 * the URL says.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rclient.h"

#define CONNECT_TIMEOUT	{ 5, 0 }
#define IO_TIMEOUT	{ 10, 0 }	/* longer than any XREAD BLOCK */
#define TRYAGAIN_MS	20

int
rclient_loading(const redisReply *rep)
{
	return rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "LOADING", 7) == 0;
}

/* AUTH's or SELECT's answer: 0, -1 (lost, or loading), -2 (refused). */
static int
handshake_answer(struct fp_redis *r, redisContext *c, redisReply *rep,
    const char *what, int errnum)
{
	char	refused[32];

	if (rep != NULL && rep->type != REDIS_REPLY_ERROR) {
		freeReplyObject(rep);
		return 0;
	}
	if (rep == NULL || rclient_loading(rep))
		return rclient_reply_error(r, c, rep, what);
	snprintf(refused, sizeof refused, "%s refused", what);
	rclient_reply_error(r, c, rep, refused);
	errno = errnum;
	return -2;
}

/*
 * A link that Redis accepts, to node n: AUTH and SELECT as the URL says.
 * The context, or NULL with r->error and *rc -1 when it failed, -2 when
 * it cannot work (a refused password or database).
 */
static redisContext *
dial(struct fp_redis *r, unsigned n, int *rc)
{
	struct timeval	 ct = CONNECT_TIMEOUT, io = IO_TIMEOUT;
	struct rcluster_node *node = &r->map.node[n];
	redisContext	*c;
	const char	*argv[3];
	size_t		 argvlen[3];
	char		 shown[2100];
	int		 argc;

	if (!r->url.cluster && r->url.path[0] != '\0')
		c = redisConnectUnixWithTimeout(r->url.path, ct);
	else
		c = redisConnectWithTimeout(node->host, node->port, ct);
	*rc = -1;
	if (c == NULL || c->err) {
		redis_url_mask(r->shown, shown, sizeof shown);
		if (r->url.cluster)
			rclient_error(r, ECONNREFUSED, "cannot connect to "
			    "Redis at %s:%d (of %s): %s", node->host,
			    node->port, shown, c != NULL ? c->errstr :
			    strerror(ENOMEM));
		else
			rclient_error(r, ECONNREFUSED, "cannot connect to "
			    "Redis at %s: %s", shown, c != NULL ? c->errstr :
			    strerror(ENOMEM));
		if (c == NULL)
			*rc = -2;
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, io) != REDIS_OK)
		*rc = rclient_reply_error(r, c, NULL, "connect");
	else if ((argc = redis_url_auth_argv(&r->url, argv, argvlen)) > 0)
		*rc = handshake_answer(r, c, redisCommandArgv(c, argc, argv,
		    argvlen), "AUTH", EACCES);
	else
		*rc = 0;
	if (*rc == 0 && r->url.db != 0)
		*rc = handshake_answer(r, c, redisCommand(c, "SELECT %d",
		    r->url.db), "SELECT", EINVAL);
	if (*rc == 0)
		return c;
	if (*rc == -2)
		r->refused = 1;
	redisFree(c);
	return NULL;
}

void
rcrouter_init(struct fp_redis *r)
{
	rcluster_map_init(&r->map);
	if (!r->url.cluster) {
		/* One node owns every slot. */
		r->map.nnodes = 1;
		snprintf(r->map.node[0].host, sizeof r->map.node[0].host,
		    "%s", r->url.path[0] != '\0' ? r->url.path : r->url.host);
		r->map.node[0].port = r->url.port;
		memset(r->map.owner, 0, sizeof r->map.owner);
	}
}

struct rsent *
rlink_at(struct rlink *l, size_t i)
{
	return &l->sent[(l->head + i) % l->size];
}

/*
 * Node n's link, connected: one made now carries at once the XADDs its
 * ring holds, oldest first (ASKING before those that go where ASK said).
 * 0; -1 or -2 as dial().
 */
int
rcrouter_link(struct fp_redis *r, unsigned n)
{
	struct rlink	*l = &r->link[n];
	struct rsent	*s;
	size_t		 i;
	int		 rc;

	if (l->c != NULL)
		return 0;
	if ((l->c = dial(r, n, &rc)) == NULL)
		return rc;
	for (i = 0; i < l->queued; i++) {
		s = rlink_at(l, i);
		if ((s->asking && redisAppendCommand(l->c, "ASKING") !=
		    REDIS_OK) || redisAppendFormattedCommand(l->c, s->cmd,
		    s->len) != REDIS_OK) {
			rcrouter_drop(r, n);
			return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		}
	}
	return 0;
}

/* The XADDs in flight, on every link. */
size_t
rcrouter_queued(const struct fp_redis *r)
{
	size_t		n = 0;
	unsigned	i;

	for (i = 0; i < r->map.nnodes; i++)
		n += r->link[i].queued;
	return n;
}

/* The link to node n is lost: the next use makes a new one. */
void
rcrouter_drop(struct fp_redis *r, unsigned n)
{
	redisFree(r->link[n].c);
	r->link[n].c = NULL;
}

void
rcrouter_free(struct fp_redis *r)
{
	unsigned	n;

	for (n = 0; n < RCLUSTER_NODES_MAX; n++)
		rcrouter_drop(r, n);
}

/* The map of slots from a node, on a link of its own. */
static int
refresh_from(struct fp_redis *r, unsigned n)
{
	redisContext	*c;
	redisReply	*rep;
	char		 why[256];
	int		 rc;

	if ((c = dial(r, n, &rc)) == NULL)
		return rc;
	rep = redisCommand(c, "CLUSTER SLOTS");
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		/*
		 * Refused, it is not a cluster, or not one we may use; a
		 * node still loading its data may be followed by another.
		 */
		rc = rep != NULL && !rclient_loading(rep) ? -2 : -1;
		rclient_reply_error(r, c, rep, "CLUSTER SLOTS");
	} else {
		if ((rc = rcluster_map_load(&r->map, rep, why,
		    sizeof why)) == -1)
			rclient_error(r, EPROTO, "redis: CLUSTER SLOTS from "
			    "%s:%d: %s", r->map.node[n].host,
			    r->map.node[n].port, why);
		freeReplyObject(rep);
	}
	redisFree(c);
	return rc;
}

/*
 * Reads the slot map again, from the masters known, then the URL's
 * seeds.  0; -1 when no node answered (r->error says why); -2 when one
 * cannot work (refused credentials, not a cluster).
 */
int
rcrouter_refresh(struct fp_redis *r)
{
	unsigned	i, tried = r->map.nnodes;
	int		n, rc = -1;

	if (!r->url.cluster)
		return 0;
	for (i = 0; i < tried + r->url.nseeds; i++) {
		n = i < tried ? (int)i : rcluster_map_node(&r->map,
		    r->url.seed[i - tried].host, r->url.seed[i - tried].port);
		if (n == -1)
			continue;
		if ((rc = refresh_from(r, n)) == 0) {
			r->stale = 0;
			return 0;
		}
		if (rc == -2)
			return -2;
	}
	return -1;
}

/* The node that owns key's slot, or -1 (r->error) when none is known. */
int
rcrouter_node(struct fp_redis *r, const char *key)
{
	unsigned	slot;
	int		rc;

	if (!r->url.cluster)
		return 0;
	slot = rcluster_slot(key, strlen(key));
	if (r->map.owner[slot] == RCLUSTER_NONE &&
	    (rc = rcrouter_refresh(r)) != 0)
		return rc;
	if (r->map.owner[slot] == RCLUSTER_NONE)
		return rclient_error(r, ENXIO, "redis: no node of the cluster "
		    "serves slot %u (of %s)", slot, key);
	return r->map.owner[slot];
}

/*
 * What an error reply redirects to: for MOVED and ASK, the node (*n),
 * and MOVED fixes the map at once and has the whole of it read again
 * later, when no link is in use.
 */
enum rcluster_redirect
rcrouter_redirect(struct fp_redis *r, const redisReply *rep, int *n)
{
	enum rcluster_redirect	 kind;
	unsigned		 slot;
	char			 host[256];
	int			 port;

	if (!r->url.cluster)
		return RCLUSTER_NOT;
	kind = rcluster_redirect(rep, &slot, host, sizeof host, &port);
	if (kind != RCLUSTER_MOVED && kind != RCLUSTER_ASK)
		return kind;
	/* A full map: as if the cluster were down until it is read again. */
	if (slot >= RCLUSTER_SLOTS ||
	    (*n = rcluster_map_node(&r->map, host, port)) == -1) {
		r->stale = 1;
		return RCLUSTER_DOWN;
	}
	if (kind == RCLUSTER_MOVED) {
		r->map.owner[slot] = *n;
		r->stale = 1;
	}
	return kind;
}

const char *
rcrouter_name(struct fp_redis *r, unsigned n, char *buf, size_t size)
{
	if (n >= r->map.nnodes)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%s:%d", r->map.node[n].host,
		    r->map.node[n].port);
	return buf;
}

void
rcrouter_partition_key(struct fp_redis *r, unsigned p, char *buf,
    size_t size)
{
	snprintf(buf, size, r->url.cluster ? REDIS_KEY_CPARTITION :
	    REDIS_KEY_PARTITION, r->url.pool, p);
}

static void
pause_tryagain(void)
{
	struct timespec	ts = { 0, TRYAGAIN_MS * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * A formatted command about key, to the node that owns it, following
 * redirections; its reply, or NULL when a link failed (r->error).  The
 * link it uses must have no XADD in flight: when it has, NULL with
 * r->busy set.
 */
static redisReply *
routed(struct fp_redis *r, const char *key, const char *what,
    const char *cmd, size_t len)
{
	redisContext	*c;
	redisReply	*rep = NULL;
	void		*v;
	int		 n, asking = 0, tries;

	r->busy = 0;
	r->failed = -1;
	if ((n = rcrouter_node(r, key)) < 0)
		return NULL;
	for (tries = 0; tries < REDIRECTS_MAX; tries++) {
		if (r->link[n].queued > 0) {
			r->busy = 1;
			rclient_error(r, EBUSY, "redis: a link is in use");
			return NULL;
		}
		r->failed = n;
		if (rcrouter_link(r, n) != 0)
			return NULL;
		c = r->link[n].c;
		if ((asking && redisAppendCommand(c, "ASKING") != REDIS_OK) ||
		    redisAppendFormattedCommand(c, cmd, len) != REDIS_OK) {
			rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
			return NULL;
		}
		if (asking && redisGetReply(c, &v) == REDIS_OK)
			freeReplyObject(v);
		if (redisGetReply(c, &v) != REDIS_OK) {
			rclient_reply_error(r, c, NULL, what);
			return NULL;
		}
		r->failed = -1;
		rep = v;
		asking = 0;
		switch (rcrouter_redirect(r, rep, &n)) {
		case RCLUSTER_ASK:
			asking = 1;
			break;
		case RCLUSTER_MOVED:
			break;
		case RCLUSTER_TRYAGAIN:
			pause_tryagain();
			break;
		default:
			return rep;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	rclient_error(r, EPROTO, "redis: %s %s: redirected %d times",
	    what, key, REDIRECTS_MAX);
	return NULL;
}

redisReply *
rcrouter_command(struct fp_redis *r, const char *key, int argc,
    const char **argv, const size_t *argvlen)
{
	redisReply	*rep;
	char		*cmd;
	int		 len;

	if ((len = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0) {
		rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		return NULL;
	}
	rep = routed(r, key, argv[0], cmd, len);
	redisFreeCommand(cmd);
	return rep;
}

redisReply *
rcrouter_commandf(struct fp_redis *r, const char *key, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;
	char		*cmd, what[16];
	int		 len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
		return NULL;
	}
	snprintf(what, sizeof what, "%.*s", (int)strcspn(fmt, " "), fmt);
	rep = routed(r, key, what, cmd, len);
	redisFreeCommand(cmd);
	return rep;
}
