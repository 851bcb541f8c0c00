/*
 * The Redis job source (doc/SCALING.md), inside the supervisor:
 *	rconn.c		the link: connect, reconnect with backoff, a timeout
 *			on every command, nothing blocking
 *	rpool.c		the pool's keys, its set-up, the consumer's lease and
 *			the heartbeat that keeps this consumer's entries its own
 *	redis.c		the intake: entries become jobs, results go back
 *	rscript.c	the Lua scripts that make each step atomic in Redis
 */
#ifndef REDIS_H
#define REDIS_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "proto/redisurl.h"

/* rconn.c */
typedef void	 rconn_fn(void *, redisReply *);	/* NULL: link lost */

void		 rconn_init(const struct redis_url *, void (*)(void),
		    void (*)(void));
void		 rconn_ready(void);
int		 rconn_is_ready(void);
int		 rconn_up(void);
int		 rconn_command(rconn_fn *, void *, int, const char **,
		    const size_t *);
unsigned	 rconn_outstanding(void);
void		 rconn_drop(const char *);
const char	*rconn_where(void);

/* rpool.c */
struct rpool {
	struct redis_url	 url;
	const char		*consumer;
	char			 token[33];	/* this process, in the lease */
	char			**stream;	/* partition -> stream key */
	char			 meta[REDIS_KEY_MAX];
	char			 results[REDIS_KEY_MAX];
	char			 dead[REDIS_KEY_MAX];
	char			 lease[REDIS_KEY_MAX];
	char			 reply_prefix[REDIS_KEY_MAX];
	uint64_t		 claim_idle_ms;
	int			 claim_due;	/* the next take may claim */
};
extern struct rpool	 rpool;

void		 rpool_init(void);
void		 rpool_connected(void);
void		 rpool_release(void (*)(void));
uint32_t	 rpool_held(uint32_t);

/* redis.c, for rpool.c */
void		 redis_lost_entries(uint32_t, unsigned);
uint32_t	 redis_partition_live(uint32_t);

/* rscript.c */
extern const char	 script_setup[];
extern const char	 script_take[];
extern const char	 script_finish[];
extern const char	 script_heartbeat[];
extern const char	 script_release[];

#endif
