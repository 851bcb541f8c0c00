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
#include "proto/buf.h"
#include "proto/netstr.h"
#include "proto/rcluster.h"
#include "proto/redisurl.h"

/* An XADD sent and not yet answered, kept to be sent again if lost. */
/* Redirections followed for one command, at most. */
#define REDIRECTS_MAX		16

struct rsent {
	uint64_t	 id;		/* the job, or a pack's first */
	uint64_t	*ids;		/* a pack's jobs, or NULL */
	size_t		 nids;
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

/* Jobs per packed entry, at most (PACK_MAX), and their bytes. */
#define PACK_MAX		1024
#define PACK_BYTES		65536
#define PACK_DEFAULT		64

/*
 * The jobs of one partition waiting to go as one packed entry: all keyed
 * or none, all of one priority.
 */
struct rpack {
	size_t		 n;
	unsigned	 flags;		/* FP_F_KEYED, FP_F_HIGH */
	size_t		 bytes;		/* payloads, keys and refs */
	struct buf	 payloads, keys, refs;
	uint64_t	*ids;		/* room for idcap */
	size_t		 idcap;
};

/* A packed result entry being returned, job by job. */
struct runpack {
	size_t		 left;		/* jobs not yet looked at */
	struct netstr	 statuses, attempts, results, refs;
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
	struct runpack	 unpack;		/* in the batch's current entry */
	unsigned	 packs;			/* jobs per entry the pool reads */
	unsigned	 pack_want;		/* fp_redis_set_pack()'s */
	struct rpack	**pack;			/* by partition, made when used */
	size_t		 packed;		/* jobs in them */
	char		 error[FP_ERRBUF_SIZE];
};

int	rclient_error(struct fp_redis *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	rclient_reply_error(struct fp_redis *, redisContext *, redisReply *,
	    const char *);

int	rclient_xadd(struct fp_redis *, unsigned, int, const char **,
	    const size_t *, uint64_t, uint64_t *, size_t);
int	rclient_plain(struct fp_redis *, unsigned, uint64_t, const void *,
	    size_t, const void *, size_t, unsigned);

/* lib/rpack.c */
unsigned rpack_max(const struct fp_redis *);
void	 rpack_free(struct fp_redis *);
int	 rpack_add(struct fp_redis *, unsigned, uint64_t, const void *,
	    size_t, const void *, size_t, unsigned);
int	 rpack_send(struct fp_redis *, unsigned);
int	 rpack_send_all(struct fp_redis *);

/* lib/rresult.c */
int	 rresult_next(struct fp_redis *, struct fp_result *);

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
