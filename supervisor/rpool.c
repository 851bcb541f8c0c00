/*
 * A pool in Redis: its keys, the set-up run on every new link (the
 * layout and partition count agreed, the consumer's lease, the streams
 * and their consumer group), and the heartbeat.  On a Redis Cluster the
 * streams are in slots of their own: the set-up takes two steps (the
 * meta hash and lease in the pool's slot, then each stream's group), and
 * the heartbeat one script per slot.  The lease keeps two supervisors
 * from running as one consumer, which would make the ownership checks
 * meaningless; the heartbeat renews it and makes this consumer's entries
 * look fresh, so that a slow job is never taken over from a live host.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/rcluster.h"
#include "supervisor.h"
#include "redis.h"
#include "proto/xmalloc.h"

#define LEASE_RETRY_NS	250000000ULL	/* a held lease is asked again */

struct rpool		 rpool;

static struct event	*ev_heartbeat, *ev_claim, *ev_setup;
static int		 lease_warned;
static void		(*released)(void);
static const char	**scratch_argv;	/* a command with a key per partition */
static size_t		*scratch_len;
static uint32_t		 groups_next;	/* cluster: the groups to make */
static uint32_t		 groups_left;

static void	setup_send(void);
static void	groups_send(void);

static uint64_t
heartbeat_ns(void)
{
	return rpool.claim_idle_ms * 1000000ULL / 3;
}

static void
setup_ok(void)
{
	if (lease_warned)
		log_warnx("consumer %s: the lease is ours now", rpool.consumer);
	lease_warned = 0;
	rconn_ready();
}

/* The meta hash says the pool is laid out otherwise. */
static void
layout_refused(const char *version)
{
	if (strcmp(version, REDIS_LAYOUT_CLUSTER) == 0)
		log_warnx("pool %s is laid out for a Redis Cluster (version "
		    "%s); use redis+cluster://", rpool.url.pool, version);
	else if (strcmp(version, REDIS_LAYOUT_SINGLE) == 0)
		log_warnx("pool %s is laid out for a single Redis (version "
		    "%s); use redis://", rpool.url.pool, version);
	else
		log_warnx("pool %s has layout version %s, which this "
		    "supervisor does not know", rpool.url.pool, version);
	supervisor_abort(2);
}

static void
setup_done(void *arg, redisReply *r)
{
	const char	*what;

	(void)arg;
	if (r == NULL)
		return;		/* rconn retries; set-up runs again */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		log_warnx("redis %s: set-up failed: %s", rconn_where(),
		    r->type == REDIS_REPLY_ERROR ? r->str : "a strange reply");
		rconn_drop("set-up failed");
		return;
	}
	what = r->element[0]->str;
	if (strcmp(what, "ok") == 0 && rconn_cluster()) {
		groups_next = 0;
		groups_left = opts->partitions;
		groups_send();
		return;
	}
	if (strcmp(what, "ok") == 0) {
		setup_ok();
		return;
	}
	if (r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING) {
		rconn_drop("set-up: a strange reply");
		return;
	}
	if (strcmp(what, "layout") == 0)
		layout_refused(r->element[1]->str);
	if (strcmp(what, "partitions") == 0) {
		log_warnx("pool %s has %s partitions in Redis (%s), not %u: "
		    "start with --partitions %s", rpool.url.pool,
		    r->element[1]->str, rpool.meta, opts->partitions,
		    r->element[1]->str);
		supervisor_abort(2);
	}
	if (strcmp(what, "lease") == 0) {
		if (!lease_warned)
			log_warnx("consumer %s is in use by another supervisor "
			    "(lease %s, %s ms left); waiting for it to end; "
			    "give each supervisor its own --consumer",
			    rpool.consumer, rpool.lease, r->element[1]->str);
		lease_warned = 1;
		timer_add_ns(ev_setup, LEASE_RETRY_NS);
		return;
	}
	log_warnx("redis %s: set-up failed: %s", rconn_where(),
	    r->element[1]->str);
	supervisor_abort(2);
}

static void
setup_send(void)
{
	const char	**argv = scratch_argv;
	char		  nkeys[16], parts[16], ttl[24], packs[16];
	uint32_t	  p, n = rconn_cluster() ? 2 : opts->partitions + 2;
	int		  argc = 0, i;

	snprintf(nkeys, sizeof nkeys, "%u", n);
	snprintf(parts, sizeof parts, "%u", opts->partitions);
	snprintf(ttl, sizeof ttl, "%llu",
	    (unsigned long long)rpool.claim_idle_ms);
	argv[argc++] = "EVAL";
	argv[argc++] = script_setup;
	argv[argc++] = nkeys;
	argv[argc++] = rpool.meta;
	argv[argc++] = rpool.lease;
	for (p = 0; p + 2 < n; p++)
		argv[argc++] = rpool.stream[p];
	argv[argc++] = rpool.url.pool;
	argv[argc++] = parts;
	argv[argc++] = rpool.token;
	argv[argc++] = ttl;
	argv[argc++] = rconn_cluster() ? REDIS_LAYOUT_CLUSTER :
	    REDIS_LAYOUT_SINGLE;
	/* No pack more than the ledger holds, which could never be taken. */
	snprintf(packs, sizeof packs, "%u", ledger_size() < PACK_MAX ?
	    ledger_size() : PACK_MAX);
	argv[argc++] = packs;
	for (i = 0; i < argc; i++)
		scratch_len[i] = strlen(argv[i]);
	if (rconn_command(setup_done, NULL, -1, argc, argv,
	    scratch_len) == -1 && rconn_up())
		timer_add_ns(ev_setup, LEASE_RETRY_NS);
}

static void
group_done(void *arg, redisReply *r)
{
	(void)arg;
	if (r == NULL)
		return;		/* rconn retries; set-up runs again */
	if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "BUSYGROUP", 9) != 0) {
		log_warnx("redis %s: set-up failed: %s", rconn_where(),
		    r->str);
		rconn_drop("set-up failed");
		return;
	}
	if (--groups_left == 0)
		setup_ok();
	else
		groups_send();
}

/*
 * Cluster set-up, second step: each stream and its group, in its own
 * slot, as many at once as the link takes; each answer sends more.
 */
static void
groups_send(void)
{
	const char	*argv[6] = { "XGROUP", "CREATE", NULL, rpool.url.pool,
			    "0", "MKSTREAM" };
	size_t		 len[6];
	int		 i;

	while (groups_next < opts->partitions) {
		argv[2] = rpool.stream[groups_next];
		for (i = 0; i < 6; i++)
			len[i] = strlen(argv[i]);
		if (rconn_command(group_done, NULL, rpool.pslot[groups_next],
		    6, argv, len) == -1)
			return;
		groups_next++;
	}
}

static void
setup_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	setup_send();
}

/* rconn.c: a new link. */
void
rpool_connected(void)
{
	setup_send();
}

/* Cluster: what one partition's refresh counted of its entries. */
static void
part_heartbeat_done(void *arg, redisReply *r)
{
	uint32_t	p = (uint32_t)(uintptr_t)arg, live;

	if (r == NULL)
		return;
	if (r->type != REDIS_REPLY_INTEGER) {
		log_warnx("redis: heartbeat of partition %u: %s", p,
		    r->type == REDIS_REPLY_ERROR ? r->str : "a strange reply");
		return;
	}
	live = redis_partition_live(p);
	if ((uint64_t)r->integer < live)
		redis_lost_entries(p, live - (unsigned)r->integer);
}

/* Cluster: the heartbeat of each partition held, in its own slot. */
static void
part_heartbeat_send(void)
{
	const char	*argv[6] = { "EVAL", script_cheartbeat, "1", NULL,
			    rpool.url.pool, rpool.consumer };
	size_t		 len[6];
	uint32_t	 p;
	int		 i;

	for (p = 0; p < opts->partitions; p++) {
		if (redis_partition_live(p) == 0)
			continue;
		argv[3] = rpool.stream[p];
		for (i = 0; i < 6; i++)
			len[i] = strlen(argv[i]);
		if (rconn_command(part_heartbeat_done, (void *)(uintptr_t)p,
		    rpool.pslot[p], 6, argv, len) == -1)
			return;
	}
}

static void
heartbeat_done(void *arg, redisReply *r)
{
	uint32_t	*held = arg, i, p, k, live;

	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		log_warnx("redis: heartbeat: %s", r->type ==
		    REDIS_REPLY_ERROR ? r->str : "a strange reply");
		goto out;
	}
	if (r->element[0]->integer == 0) {
		log_warnx("consumer %s: another supervisor holds the lease "
		    "(%s): stopping", rpool.consumer, rpool.lease);
		intake->stop(SIGTERM);
	}
	/*
	 * held: the count, then each partition sent.  Redis ran the
	 * heartbeat after every command sent before it, whose replies are
	 * in: what is held here now is what it should have counted.
	 */
	for (i = 0, k = 1; held != NULL && i < held[0] && k < r->elements;
	    i++, k++) {
		p = held[1 + i];
		live = redis_partition_live(p);
		if (r->element[k]->type == REDIS_REPLY_INTEGER &&
		    (uint64_t)r->element[k]->integer < live)
			redis_lost_entries(p, live -
			    (unsigned)r->element[k]->integer);
	}
out:
	free(held);
}

/*
 * Renews the lease and refreshes the entries of every partition this
 * supervisor holds.  Entries finished after the heartbeat was sent are
 * still counted here and there alike, since Redis runs commands in order.
 */
static void
heartbeat_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint32_t	*held, p, n = 0;
	char		 nkeys[16], ttl[24];
	int		 argc = 0, i;

	(void)fd;
	(void)ev;
	(void)arg;
	timer_add_ns(ev_heartbeat, heartbeat_ns());
	if (!rconn_is_ready())
		return;
	if ((held = malloc((1 + opts->partitions) * sizeof *held)) == NULL)
		return;
	scratch_argv[argc++] = "EVAL";
	scratch_argv[argc++] = script_heartbeat;
	scratch_argv[argc++] = nkeys;
	scratch_argv[argc++] = rpool.lease;
	for (p = 0; p < opts->partitions && !rconn_cluster(); p++)
		if (redis_partition_live(p) > 0) {
			scratch_argv[argc++] = rpool.stream[p];
			held[1 + n++] = p;
		}
	held[0] = n;
	snprintf(nkeys, sizeof nkeys, "%u", n + 1);
	snprintf(ttl, sizeof ttl, "%llu",
	    (unsigned long long)rpool.claim_idle_ms);
	scratch_argv[argc++] = rpool.url.pool;
	scratch_argv[argc++] = rpool.consumer;
	scratch_argv[argc++] = rpool.token;
	scratch_argv[argc++] = ttl;
	for (i = 0; i < argc; i++)
		scratch_len[i] = strlen(scratch_argv[i]);
	if (rconn_command(heartbeat_done, held, -1, argc, scratch_argv,
	    scratch_len) == -1)
		free(held);
	else if (rconn_cluster())
		part_heartbeat_send();
}

/* Every few seconds the next take also looks for dead consumers. */
static void
claim_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	every = rpool.claim_idle_ms * 1000000ULL / 2;

	(void)fd;
	(void)ev;
	(void)arg;
	if (every > 5000000000ULL)
		every = 5000000000ULL;
	timer_add_ns(ev_claim, every);
	rpool.claim_due = 1;
	supervisor_wake();
}

static void
release_done(void *arg, redisReply *r)
{
	(void)arg;
	(void)r;
	if (released != NULL)
		released();
	released = NULL;
}

/* At a clean exit: the lease goes, so a restart need not wait for it. */
void
rpool_release(void (*done)(void))
{
	const char	*argv[5] = { "EVAL", script_release, "1", rpool.lease,
			    rpool.token };
	size_t		 len[5];
	int		 i;

	for (i = 0; i < 5; i++)
		len[i] = strlen(argv[i]);
	released = done;
	if (rconn_command(release_done, NULL, -1, 5, argv, len) == -1) {
		released = NULL;
		done();
	}
}

static void
random_token(char *out, size_t size)
{
	uint8_t	bytes[16];
	size_t	i;

	arc4random_buf(bytes, sizeof bytes);
	for (i = 0; i < sizeof bytes && 2 * i + 2 < size; i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

void
rpool_init(void)
{
	char		 err[512], host[256], *name;
	const char	*pool;
	uint32_t	 p;

	if (redis_url_parse(opts->source, &rpool.url, err, sizeof err) == -1)
		fatalx("%s", err);
	pool = rpool.url.pool;
	if (opts->consumer != NULL)
		rpool.consumer = xstrdup(opts->consumer);
	else {
		if (gethostname(host, sizeof host) == -1)
			fatal("gethostname");
		host[sizeof host - 1] = '\0';
		name = xmalloc(strlen(host) + strlen(pool) + 2);
		sprintf(name, "%s:%s", host, pool);
		if (!redis_consumer_valid(name))
			fatalx("consumer %s: not a usable name; give one with "
			    "--consumer", name);
		rpool.consumer = name;
	}
	random_token(rpool.token, sizeof rpool.token);
	rpool.claim_idle_ms = opts->claim_idle_ns / 1000000;
	if (rpool.claim_idle_ms == 0)
		rpool.claim_idle_ms = 1;
	rpool.stream = xcalloc(opts->partitions, sizeof *rpool.stream);
	rpool.pslot = xcalloc(opts->partitions, sizeof *rpool.pslot);
	if (rpool.url.cluster)
		rpool.outbox = xcalloc(opts->partitions,
		    sizeof *rpool.outbox);
	for (p = 0; p < opts->partitions; p++) {
		rpool.stream[p] = xmalloc(REDIS_KEY_MAX);
		rpool.pslot[p] = -1;
		if (!rpool.url.cluster) {
			snprintf(rpool.stream[p], REDIS_KEY_MAX,
			    REDIS_KEY_PARTITION, pool, p);
			continue;
		}
		snprintf(rpool.stream[p], REDIS_KEY_MAX, REDIS_KEY_CPARTITION,
		    pool, p);
		rpool.outbox[p] = xmalloc(REDIS_KEY_MAX);
		snprintf(rpool.outbox[p], REDIS_KEY_MAX, REDIS_KEY_COUTBOX,
		    pool, p);
		rpool.pslot[p] = (int)rcluster_slot(rpool.stream[p],
		    strlen(rpool.stream[p]));
	}
	snprintf(rpool.fwd, sizeof rpool.fwd, REDIS_KEY_FWD, pool);
	snprintf(rpool.meta, sizeof rpool.meta, REDIS_KEY_META, pool);
	snprintf(rpool.results, sizeof rpool.results, REDIS_KEY_RESULTS, pool);
	snprintf(rpool.dead, sizeof rpool.dead, REDIS_KEY_DEAD, pool);
	snprintf(rpool.lease, sizeof rpool.lease, REDIS_KEY_LEASE, pool,
	    rpool.consumer);
	snprintf(rpool.reply_prefix, sizeof rpool.reply_prefix,
	    REDIS_KEY_REPLY, pool);
	scratch_argv = xcalloc(opts->partitions + 16, sizeof *scratch_argv);
	scratch_len = xcalloc(opts->partitions + 16, sizeof *scratch_len);
	ev_heartbeat = evtimer_new(base, heartbeat_cb, NULL);
	ev_claim = evtimer_new(base, claim_cb, NULL);
	ev_setup = evtimer_new(base, setup_cb, NULL);
	if (ev_heartbeat == NULL || ev_claim == NULL || ev_setup == NULL)
		fatalx("evtimer_new failed");
	timer_add_ns(ev_heartbeat, heartbeat_ns());
	/* At start the first take may claim at once. */
	rpool.claim_due = 1;
	timer_add_ns(ev_claim, rpool.claim_idle_ms * 1000000ULL / 2);
	log_info("pool %s: %u partitions, consumer %s, claim idle %llu ms",
	    pool, opts->partitions, rpool.consumer,
	    (unsigned long long)rpool.claim_idle_ms);
}
