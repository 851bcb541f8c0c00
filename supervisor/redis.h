/*
 * The Redis job source (doc/SCALING.md), inside the supervisor:
 *	rconn.c		the link: connect, reconnect with backoff, a timeout
 *			on every command, nothing blocking
 *	rnodes.c	on a Redis Cluster, the links to its masters and
 *			each command sent to the master of its slot
 *	rpool.c		the pool's keys, its set-up, the consumer's lease and
 *			the heartbeat that keeps this consumer's entries its own
 *	redis.c		the intake: entries become jobs, taken as there is
 *			room for them
 *	rfinish.c	the finish: results go back with the acks, failed
 *			jobs to the dead letters, lost finishes again
 *	rpack.c		packed entries: many jobs in one entry, and their
 *			results in one result entry
 *	rforward.c	on a Redis Cluster, results from a partition's outbox
 *			on to their streams
 *	rscript.c	the Lua scripts that make each step atomic in Redis
 */
#ifndef REDIS_H
#define REDIS_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "proto/redisurl.h"
#include "supervisor.h"

#define ID_MAX		48	/* an entry id, with its NUL */
#define REF_MAX		256
#define PACK_MAX	1024	/* jobs of a packed entry; "packs" in meta */

/* rconn.c */
typedef void	 rconn_fn(void *, redisReply *);	/* NULL: link lost */

/* A command's arguments and their lengths, grown as needed. */
struct rargv {
	const char	**v;
	size_t		 *len;
	size_t		  cap;
};
int		 rargv_room(struct rargv *, size_t);

void		 rconn_init(const struct redis_url *, void (*)(void),
		    void (*)(void));
void		 rconn_ready(void);
int		 rconn_is_ready(void);
int		 rconn_up(void);
int		 rconn_command(rconn_fn *, void *, int, int, const char **,
		    const size_t *);
unsigned	 rconn_outstanding(void);
unsigned	 rconn_room(void);
void		 rconn_drop(const char *);
const char	*rconn_where(void);
int		 rconn_cluster(void);

/* rconn.c, for rnodes.c */
void		 rconn_linked(void);
void		 rconn_failed(const char *);
void		 rconn_lost(const char *);
void		 rconn_handshake_done(void *, redisReply *);
void		 rconn_refused_at_start(const char *, const char *);

/* rnodes.c */
void		 rnodes_init(const struct redis_url *);
void		 rnodes_connect(void);
int		 rnodes_command(rconn_fn *, void *, int, int, const char **,
		    const size_t *);
unsigned	 rnodes_outstanding(void);
unsigned	 rnodes_room(void);
int		 rnodes_open(void);
void		 rnodes_close(void);
const char	*rnodes_overdue(uint64_t, uint64_t);

/* rpool.c */
struct rpool {
	struct redis_url	 url;
	const char		*consumer;
	char			 token[33];	/* this process, in the lease */
	char			**stream;	/* partition -> stream key */
	char			**outbox;	/* cluster: its outbox */
	int			 *pslot;	/* cluster: its hash slot */
	char			 fwd[REDIS_KEY_MAX];	/* cluster */
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

/* rforward.c */
void		 rforward_init(void);
void		 rforward_send(uint32_t, const redisReply *);
unsigned	 rforward_busy(void);
void		 rforward_lost(void);

/* redis.c, for rpool.c */
void		 redis_lost_entries(uint32_t, unsigned);
uint32_t	 redis_partition_live(uint32_t);

/* What the ledger does not hold of a job from Redis, by ledger index. */
struct rpack;
struct rjob {
	char		 id[ID_MAX];	/* the entry's id in its stream */
	uint32_t	 stream;
	uint32_t	 deliveries;
	uint32_t	 replylen;	/* meta: the reply stream, then ref */
	uint32_t	 reflen;
	uint8_t		 sent;		/* a finish went out before */
	struct rpack	*pack;		/* the packed entry it is a job of */
	struct bytes	 meta;
};

/* redis.c, for rpack.c and rfinish.c */
extern struct rjob	*rjobs;
int		 redis_field_is(const redisReply *, const char *);
int		 redis_field_next(const redisReply *, size_t *,
		    const redisReply **, const redisReply **, const char **);
const char	*redis_reply_bad(const redisReply *);
uint32_t	 redis_job_open(uint32_t, const redisReply *, uint32_t);
const char	*redis_job_bad(uint32_t, const char *, size_t, size_t);
void		 redis_job_end(uint32_t, int, const char *);
void		 redis_refuse(uint32_t, int, const char *);
void		 redis_too_often(char *, size_t, uint32_t);
void		 redis_entry_taken(uint32_t, uint32_t);
void		 redis_needs_room(uint32_t, uint32_t);

/* redis.c, for rfinish.c */
uint32_t	 redis_held(uint32_t);
const char	*redis_partnum(uint32_t);
void		 redis_entry_released(uint32_t, uint32_t);

/* rfinish.c */
struct rfinish_totals {
	uint64_t	 done, dead, refused, finishes;
};

void		 rfinish_init(void);
void		 redis_finish_push(uint32_t);
const char	*redis_dead_reason(const struct job *, char *, size_t);
int		 rfinish_due(int);
int		 rfinish_send(void);
unsigned	 rfinish_queued(void);
void		 rfinish_lost(void);
const struct rfinish_totals *rfinish_totals(void);

/* rpack.c */
struct rpack {				/* its jobs in the ledger */
	uint32_t	 n;
	uint32_t	 left;		/* jobs not done */
	char		*reply;		/* NULL: the pool's results */
	size_t		 replylen;
	const char	*prio;		/* NULL: none given */
	int		 keyed, refs;
	struct buf	 args;		/* its finish arguments, once done */
	size_t		*arg;		/* offset and length of each */
	uint32_t	 nargs;
	uint32_t	 idx[];		/* job i's ledger index */
};
#define RPACK_HEAD	5	/* arguments before the result's stream */

int		 rpack_is(const redisReply *);
int		 rpack_take(uint32_t, const redisReply *, uint32_t);
void		 rpack_free(struct rpack *);
int		 rpack_build(struct rpack *, uint32_t);
int		 rpack_args(const struct rpack *, int, const char **,
		    size_t *, const char *, size_t);

/* rscript.c */
extern const char	 script_setup[];
extern const char	 script_take[];
extern const char	 script_finish[];
extern const char	 script_heartbeat[];
extern const char	 script_release[];
extern const char	 script_ctake[];
extern const char	 script_cfinish[];
extern const char	 script_forward[];
extern const char	 script_cheartbeat[];

#endif
