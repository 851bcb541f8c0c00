/*
 * The inside of a struct fp_redis, shared by lib/redis.c (jobs and
 * results), lib/rcrouter.c (the links to Redis, and which one a key goes
 * to) and lib/redis-status.c (the pool's state).
 */
#ifndef RCLIENT_H
#define RCLIENT_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "forkpool.h"
#include "idset.h"
#include "proto/rcluster.h"
#include "proto/redisurl.h"

/* An XADD sent and not yet answered, kept to be sent again if lost. */
/* Redirections followed for one command, at most. */
#define REDIRECTS_MAX		16

struct rsent {
	uint64_t	 id;
	char		*cmd;
	size_t		 len;
	unsigned	 partition;
	int		 asking;	/* to the node that answered ASK: */
	int		 node;
	unsigned	 redirects;	/* MOVED or ASK so far */
};

/*
 * A link to one Redis: the only one, or a master of a cluster (by its
 * index in the slot map).  While it is connected, every XADD of its ring
 * has been written to it, oldest first.
 */
struct rlink {
	redisContext	*c;
	struct rsent	*sent;		/* a ring of the XADDs in flight */
	size_t		 head, queued, size;
};

struct fp_redis {
	struct redis_url url;
	struct rcluster_map map;	/* a cluster's: the owner of each slot */
	struct rlink	 link[RCLUSTER_NODES_MAX]; /* by node; 0 alone */
	int		 stale;		/* the map wants reading again */
	int		 moved;		/* an XADD went to another node */
	int		 busy;		/* a command found its link in use */
	int		 failed;	/* the node whose link failed, or -1 */
	int		 refused;	/* its credentials or database were */
	unsigned	 partitions;
	char		 meta[REDIS_KEY_MAX];
	char		 reply[REDIS_KEY_MAX];	/* this client's results */
	char		 lastid[48];		/* read up to here */
	char		 epoch[40];		/* the pool's, from its meta hash */
	unsigned	 rr;			/* the next unkeyed partition */
	int		 retry_ms;		/* waiting for Redis; -1: forever */
	char		*shown;			/* the URL, for messages */
	int		 broken;		/* Redis or the pool is lost */
	struct idset	 pending;		/* ids waiting for a result */
	redisReply	*batch;			/* results read, being returned */
	size_t		 batch_next;
	char		 error[FP_ERRBUF_SIZE];
};

int	rclient_error(struct fp_redis *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	rclient_reply_error(struct fp_redis *, redisContext *, redisReply *,
	    const char *);

/* lib/rcrouter.c */
int	 rclient_loading(const redisReply *);
struct rsent *rlink_at(struct rlink *, size_t);
void	 rcrouter_init(struct fp_redis *);
void	 rcrouter_free(struct fp_redis *);
int	 rcrouter_open(struct fp_redis *);
int	 rcrouter_refresh(struct fp_redis *);
int	 rcrouter_node(struct fp_redis *, const char *);
int	 rcrouter_link(struct fp_redis *, unsigned);
void	 rcrouter_drop(struct fp_redis *, unsigned);
size_t	 rcrouter_queued(const struct fp_redis *);
const char *rcrouter_name(struct fp_redis *, unsigned, char *, size_t);
void	 rcrouter_partition_key(struct fp_redis *, unsigned, char *, size_t);
redisReply *rcrouter_command(struct fp_redis *, const char *, int,
	    const char **, const size_t *);
redisReply *rcrouter_commandf(struct fp_redis *, const char *, const char *,
	    ...);
enum rcluster_redirect rcrouter_redirect(struct fp_redis *,
	    const redisReply *, int *);

#endif
