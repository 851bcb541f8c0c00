/*
 * The inside of a struct fp_redis, shared by lib/redis.c (jobs and
 * results) and lib/redis-status.c (the pool's state).
 */
#ifndef RCLIENT_H
#define RCLIENT_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "forkpool.h"
#include "idset.h"
#include "proto/redisurl.h"

/* An XADD sent and not yet answered, kept to be sent again if lost. */
struct rsent {
	uint64_t	 id;
	char		*cmd;
	size_t		 len;
};

struct fp_redis {
	redisContext	*c;
	struct redis_url url;
	unsigned	 partitions;
	char		 meta[REDIS_KEY_MAX];
	char		 reply[REDIS_KEY_MAX];	/* this client's results */
	char		 lastid[48];		/* read up to here */
	char		 epoch[40];		/* the pool's, from its meta hash */
	unsigned	 rr;			/* the next unkeyed partition */
	struct rsent	*sent;			/* a ring of the XADDs in flight */
	size_t		 sent_head, queued;
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
int	rclient_reply_error(struct fp_redis *, redisReply *, const char *);

#endif
