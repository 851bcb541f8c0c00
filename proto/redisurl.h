/*
 * Where a pool's jobs live in Redis: the source URL and the names of the
 * keys of a pool (doc/SCALING.md).  Shared by the supervisor and
 * libforkpool, so that producers and consumers name every key alike.
 *
 *	redis://HOST[:PORT]/POOL	TCP (PORT 6379 by default; HOST may
 *					be an [IPv6] address)
 *	redis+unix:///PATH/POOL		a Unix socket at /PATH
 *	redis+cluster://HOST[:PORT][,HOST[:PORT]...]/POOL
 *					a Redis Cluster; any node named is
 *					a seed for the slot map
 *
 * Either may carry credentials and a database number:
 * redis://[[USER]:]PASSWORD@HOST/POOL?db=N, redis+unix://PASSWORD@/PATH/POOL,
 * with '%XX' escapes in the user and password.
 *
 * A pool has one of two layouts, named by the version in its meta hash.
 * In layout 1 (redis:// and redis+unix://) every key carries the hash tag
 * {POOL}.  In layout 2 (redis+cluster://) each partition stream and its
 * outbox carry a tag of their own, {POOL:pN}, so that the partitions
 * spread over the cluster's slots, and the other keys keep {POOL}: the
 * pool's home slot.
 */
#ifndef REDISURL_H
#define REDISURL_H

#include <stddef.h>

#define REDIS_PORT_DEFAULT	6379
#define REDIS_POOL_MAX		64	/* bytes of a pool name */
#define REDIS_CONSUMER_MAX	128	/* bytes of a consumer name */
#define REDIS_KEY_MAX		(REDIS_POOL_MAX + REDIS_CONSUMER_MAX + 32)
#define REDIS_DB_MAX		1000000
#define REDIS_SEEDS_MAX		16	/* nodes named in a cluster URL */

struct redis_seed {
	char	 host[256];
	int	 port;
};

struct redis_url {
	char	 host[256];	/* TCP: a name or an address; "" for Unix */
	int	 port;
	char	 path[108];	/* Unix: the socket; "" for TCP */
	char	 pool[REDIS_POOL_MAX + 1];
	char	 user[128];	/* "": AUTH PASSWORD alone */
	char	 password[512];	/* "": no AUTH */
	int	 db;		/* SELECTed when not 0 */
	int	 cluster;	/* redis+cluster://: layout 2 */
	unsigned nseeds;
	struct redis_seed seed[REDIS_SEEDS_MAX];
};

int	redis_url_parse(const char *, struct redis_url *, char *, size_t);
int	redis_url_password_file(struct redis_url *, const char *, char *,
	    size_t);
void	redis_url_mask(const char *, char *, size_t);
int	redis_url_auth_argv(const struct redis_url *, const char **,
	    size_t *);
int	redis_consumer_valid(const char *);

/* The keys of a pool: partition streams, and the pool's other keys. */
#define REDIS_KEY_PARTITION	"forkpool:{%s}:p%u"
#define REDIS_KEY_META		"forkpool:{%s}:meta"
#define REDIS_KEY_RESULTS	"forkpool:{%s}:results"
#define REDIS_KEY_DEAD		"forkpool:{%s}:dead"
#define REDIS_KEY_LEASE		"forkpool:{%s}:lease:%s"
#define REDIS_KEY_REPLY		"forkpool:{%s}:reply:"	/* a prefix */

/* Layout 2: the partitions' own keys, and where forwarding got to. */
#define REDIS_KEY_CPARTITION	"forkpool:{%s:p%u}"
#define REDIS_KEY_COUTBOX	"forkpool:{%s:p%u}:done"
#define REDIS_KEY_FWD		"forkpool:{%s}:fwd"

#define REDIS_LAYOUT_SINGLE	"1"	/* meta's version */
#define REDIS_LAYOUT_CLUSTER	"2"

#endif
