/*
 * The supervisor: one libevent loop that owns the job ledger, the pool
 * and the input.  Jobs enter through an intake (batch.c, service.c or
 * redis.c), wait in ledger.c, are routed in dispatch.c and cross to a
 * process in wlink.c; results come back the same way.  pool.c alone owns
 * the slots and their processes (struct slot, struct proc); replace.c and
 * scale.c work on it through its functions.  The configuration is an
 * immutable generation (options.h), swapped whole by reload.c.  Callbacks
 * only wake the loop; settling (take input, route, flush) runs once per
 * turn.  A worker knows only worker/worker.h.
 */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "supervisor/options.h"
#include "worker/worker.h"
#include "proto/link.h"

#define JOB_NONE	UINT32_MAX	/* end of a job list */
#define PARTITION_NONE	UINT32_MAX	/* an unkeyed job */

/* Inline space for small payloads and results, so tiny jobs never malloc. */
#define BYTES_INLINE	24

struct bytes {
	char		*p;
	uint32_t	 len;
	uint32_t	 cap;
	char		 small[BYTES_INLINE];
};

enum job_state {
	JOB_FREE,
	JOB_QUEUED,
	JOB_INFLIGHT,
	JOB_DONE,	/* finished, waiting for its turn at the output */
};

struct job {
	uint64_t	 seq;		/* output order, from 1 */
	uint64_t	 line;		/* input line number, for reports */
	uint32_t	 next;		/* link in a queue or in-flight list */
	uint32_t	 partition;
	uint32_t	 keylen;	/* data holds key then payload */
	uint16_t	 attempt;	/* the attempt being (or next to be) run */
	uint8_t		 state;
	uint8_t		 status;	/* enum frame_status, once done */
	uint8_t		 high;		/* in the high-priority lane */
	uint8_t		 signal;	/* batch: killed its worker with this */
	uint8_t		 hole;		/* batch: a line refused, its place */
	int		 worker;	/* slot while in flight */
	struct client	*client;	/* service mode: who asked */
	uint64_t	 client_id;	/* the id the client gave it */
	uint64_t	 submitted_ns;
	/* Batch mode's job log: when and where it ran. */
	uint64_t	 started_ns;	/* first sent to a worker; 0: never */
	uint64_t	 ended_ns;
	pid_t		 pid;		/* the worker it was sent to last */
	struct bytes	 data;
	struct bytes	 result;
};

/* A FIFO of jobs linked through job.next. */
struct jobq {
	uint32_t	 head;
	uint32_t	 tail;
	uint32_t	 count;
};

enum proc_state {
	P_STARTING,	/* forked, no HELLO yet */
	P_READY,	/* takes jobs */
	P_RETIRING,	/* replaced: takes no jobs, finishes those it has */
	P_STOPPING,	/* told to go (SIGTERM or EOF); jobs requeue at reap */
};

enum worker_end {
	END_NONE,
	END_CRASH,	/* died on its own */
	END_TIMEOUT,	/* killed for a job past its timeout */
	END_PROTOCOL,	/* killed for a bad frame */
	END_SILENT,	/* killed for sending no heartbeat */
	END_SHUTDOWN,	/* told to exit */
	END_START,	/* killed for not saying HELLO in time */
};

/*
 * A worker process (or thread), from its fork to its reaping, and its
 * link.  It lives in a slot; what outlives it (the slot's queue, its
 * counters) is the slot's.
 */
struct proc {
	struct slot	*slot;
	pid_t		 pid;
	unsigned	 gen;		/* the configuration it was started with */
	struct slot_board *board;
	struct tlink	*tl;		/* --isolation thread: its thread */
	enum proc_state	 state;
	enum worker_end	 end;
	int		 greeted;	/* said HELLO */
	int		 recycling;	/* a replacement for --max-jobs, --max-rss */
	int		 fd;
	struct event	*ev_read;
	struct event	*ev_write;
	struct event	*ev_timer;	/* start deadline, timeout, kill grace */
	struct link	 link;		/* its frames, in and out */
	struct jobq	 inflight;	/* in the order sent = the order answered */
	uint32_t	 window;
	uint32_t	 culprit;	/* job charged for the current end */
	double		 job_ns;	/* moving average of the service time */
	uint64_t	 busy_since_ns;
	uint64_t	 jobs_sent;	/* to this process */
	uint64_t	 recycle_at;	/* jobs it may take; 0: no limit */
	uint64_t	 rss_checked_ns;
	uint64_t	 heard_ns;	/* its last frame, while it held jobs */
	int		 dirty;		/* out has frames not yet written */
	LIST_ENTRY(proc) dirty_entry;
};

/*
 * A worker slot: a number that keeps its partitions and its counters
 * across the processes that come and go in it.  A replacement starts as
 * next and, once it has said HELLO, becomes proc; the process it replaced
 * becomes prev and finishes its jobs there, taking no more.  At most one
 * of next and prev is set.
 */
struct slot {
	int		 index;
	struct proc	*proc;		/* the one taking jobs; NULL: none */
	struct proc	*next;		/* its replacement, starting */
	struct proc	*prev;		/* the one it replaced, finishing */
	struct jobq	 keyed;		/* queued jobs of its partitions */
	uint64_t	 jobs_done;
	unsigned	 restarts;
	unsigned	 recycles;	/* replaced for --max-jobs, --max-rss */
	unsigned	 failed_starts;	/* ends in a row without a result */
	unsigned	 failed_replacements; /* replacements that died so */
	struct event	*ev_respawn;	/* the next start of proc */
	struct event	*ev_retry;	/* the next try of a replacement */
	struct slot_board *boards;	/* two: one each for proc, next/prev */
};

struct client;

/* Service mode: what clients may make the supervisor hold. */
#define MAX_CLIENTS_DEFAULT	256
#define MAX_CLIENTS_MAX		1000000
#define CLIENT_BUDGET_DEFAULT	(16ULL * 1024 * 1024)
#define CLIENT_BUDGET_MIN	1024
#define CLIENT_BUDGET_MAX	(1LL << 40)

#define ISOLATION_PROCESS	0
#define ISOLATION_THREAD	1

#define WINDOW_MAX	4096
#define WORKERS_CAP	1024	/* slots scaling may reach */
#define WINDOW_START	2	/* grows once results show the job cost */
#define RESTARTS_MAX	1000000	/* restart intensity: R at most */

extern const struct options *opts;	/* the running generation: read only */
extern struct event_base *base;

/* ledger.c */
extern struct job	*ledger_jobs;
void		 ledger_init(uint32_t);
uint32_t	 ledger_index(const struct job *);
uint32_t	 ledger_alloc(void);
void		 ledger_release(uint32_t);
uint32_t	 ledger_room(void);
uint32_t	 ledger_live(void);
uint32_t	 ledger_size(void);
int		 bytes_set(struct bytes *, const char *, size_t, const char *,
		    size_t);
void		 jobq_requeue_front(struct jobq *, struct jobq *);

/* The hot accessors are inline: a tiny job passes through each many times. */
static inline struct job *
ledger_job(uint32_t idx)
{
	return &ledger_jobs[idx];
}

static inline void
jobq_init(struct jobq *q)
{
	q->head = q->tail = JOB_NONE;
	q->count = 0;
}

static inline void
jobq_push(struct jobq *q, uint32_t idx)
{
	ledger_jobs[idx].next = JOB_NONE;
	if (q->tail == JOB_NONE)
		q->head = idx;
	else
		ledger_jobs[q->tail].next = idx;
	q->tail = idx;
	q->count++;
}

static inline void
jobq_push_front(struct jobq *q, uint32_t idx)
{
	ledger_jobs[idx].next = q->head;
	q->head = idx;
	if (q->tail == JOB_NONE)
		q->tail = idx;
	q->count++;
}

static inline uint32_t
jobq_pop(struct jobq *q)
{
	uint32_t	idx = q->head;

	if (idx == JOB_NONE)
		return JOB_NONE;
	q->head = ledger_jobs[idx].next;
	if (q->head == JOB_NONE)
		q->tail = JOB_NONE;
	q->count--;
	return idx;
}

/* How many more jobs p may take now: its window, and its --max-jobs. */
static inline uint32_t
proc_room(const struct proc *p)
{
	uint32_t	room = p->inflight.count < p->window ?
			    p->window - p->inflight.count : 0;

	if (p->recycle_at != 0 && p->recycle_at - p->jobs_sent < room)
		room = p->recycle_at - p->jobs_sent;
	return room;
}

/* Whether the process s replaced still has jobs: keyed ones must wait. */
static inline int
slot_predecessor_busy(const struct slot *s)
{
	return s->prev != NULL && s->prev->inflight.count > 0;
}

/* dispatch.c */
void		 dispatch_init(void);
void		 dispatch_submit(uint32_t);
void		 dispatch_requeue(struct proc *);
void		 dispatch_run(void);
uint32_t	 dispatch_queued(void);
void		 dispatch_withdraw(void (*)(uint32_t));
void		 dispatch_partition_depths(uint32_t *);
void		 dispatch_left_worker(const struct job *);
void		 dispatch_rebalance(int);
int		 dispatch_moving(void);
int		 dispatch_owns_any(int);
uint32_t	 partition_of(const char *, size_t);

/* wlink.c */
void		 wlink_open(struct proc *, int);
void		 wlink_close(struct proc *);
void		 wlink_last_words(struct proc *);
int		 wlink_send_job(struct proc *, uint32_t);
void		 wlink_flush_all(void);

/* pool.c */
void		 pool_init(void);
void		 pool_start(void);
struct slot	*pool_slot(int);
int		 pool_size(void);
int		 pool_target(void);
int		 pool_retiring(const struct slot *);
int		 pool_stopping(void);
uint32_t	 pool_windows(void);
void		 pool_ready(struct proc *);
void		 pool_result(struct proc *, unsigned);
void		 pool_job_done(uint32_t, unsigned, const char *, size_t);
long		 pool_rss_kib(pid_t);
void		 pool_fail_worker(struct proc *, enum worker_end,
		    const char *);
void		 pool_watch_timeout(struct proc *);
void		 pool_sigchld(void);
void		 pool_thread_gone(struct tlink *, int);
void		 pool_shutdown(void);
void		 pool_kill_all(void);
int		 pool_alive(void);
int		 pool_settled(void);
int		 pool_degraded(void);

/* replace.c */
void		 replace_roll(const struct options *,
		    void (*)(int, const char *));
void		 replace_roll_commit(void);

/* scale.c */
void		 scale_to(int);
int		 scale_allowed(int, char *, size_t);
void		 scale_settle(void);
void		 scale_reconfigure(const struct options *);
int		 scale_busy(void);

/* tlink.c: --isolation thread, the supervisor's end of a thread */
void		 tlink_init(void);
int		 tlink_start(struct proc *, const struct options *);
int		 tlink_deliver(struct proc *);
ssize_t		 tlink_collect(struct proc *);
void		 tlink_close(struct proc *);
void		 tlink_abandon(struct proc *);

/* autoscale.c */
void		 autoscale_update(void);

/* reload.c */
typedef void	(*reload_done_fn)(void *, uint64_t, int, const char *);
void		 reload_init(const char *, struct options *, uint64_t,
		    struct options *);
void		 reload_start(reload_done_fn, void *, uint64_t);
void		 reload_started(int, const char *);

/* caps.c */
void		 caps_limit(void);

/* notify.c */
void		 notify_init(void);
void		 notify_pool(int, int);
void		 notify_stopping(void);
void		 notify_reloading(void);
void		 notify_reloaded(void);
void		 notify_handover(pid_t);
uint64_t	 now_ns(void);
uint64_t	 loop_now_ns(void);
void		 loop_tick(void);
void		 timer_add_ns(struct event *, uint64_t);

/*
 * Where jobs come from and where results go: batch.c (standard input and
 * output), service.c (the job socket) or redis.c (Redis Streams).
 */
struct intake {
	void	(*init)(void);
	void	(*room)(void);		/* each turn: take work while room */
	void	(*flush)(void);		/* write what results wait */
	void	(*job_done)(uint32_t, const char *, size_t);
	void	(*stop)(int);		/* SIGTERM, SIGINT: take no more */
	int	(*finished)(void);	/* nothing more will come or wait */
	void	(*expired)(void);	/* the drain took too long: exits */
	void	(*abort)(void);		/* last words before exit */
	int	(*exit_status)(void);
};

extern const struct intake	 batch_intake;
extern const struct intake	 service_intake;
extern const struct intake	 redis_intake;
extern const struct intake	*intake;

/* service.c */
struct service_totals {
	uint64_t	 submitted;
};
extern struct service_totals	 service_totals;
int		 service_draining(void);
unsigned	 service_clients(void);
void		 service_handover(void);
int		 service_listen_fd(void);
int		 service_listen_owned(void);

/* upgrade.c: SIGUSR2 */
void		 upgrade_init(int, char **);
int		 upgrade_listen_fd(int *, int *);
void		 upgrade_ready(void);
int		 upgrade_spares(pid_t);
void		 upgrade_start(void);
void		 upgrade_cancel(void);
void		 upgrade_subtree_kill(void);

/* joblog.c: batch mode's --joblog and --resume */
void		 joblog_open(void);
int		 joblog_skip(uint64_t, const char *, size_t);
void		 joblog_record(const struct job *, size_t);
size_t		 joblog_pending(void);
void		 joblog_flush(void);

/* pidfile.c */
int		 pidfile_take(const char *, pid_t *, const char **);
void		 pidfile_drop(void);
int		 pidfile_rewrite(void);
int		 pidfile_fd(void);
int		 pidfile_adopt(int, const char *);
void		 pidfile_release(void);

/* refusal.c */
void		 refusal_init(void);
void		 refusal_log(uint64_t, uid_t, pid_t, const char *);
void		 refusal_flush(void);

/* request.c */
enum control_op {
	CONTROL_DRAIN,
	CONTROL_STOP,
	CONTROL_RELOAD,
	CONTROL_SCALE,
	CONTROL_REFUSED,	/* unknown, or a bad argument */
};
enum frame_decode_result request_decode(const void *, size_t, uint32_t,
		    struct frame *, size_t *, const char **);
enum control_op	 request_control(const struct frame *, int *, char *,
		    size_t);

/* redis.c, or redis-none.c in a build without hiredis */
int		 redis_supported(void);

/* status.c */
#define STATUS_FORMAT_TEXT		0
#define STATUS_FORMAT_JSON		1
#define STATUS_FORMAT_PROMETHEUS	2
void		 status_job_done(const struct job *, uint64_t);
char		*status_render(unsigned, size_t *);

/* window.c */
#define WINDOW_MAX_S	60
struct window {
	unsigned	 span;		/* seconds */
	uint64_t	 jobs;		/* ended in it */
	double		 rate;		/* jobs/s */
	double		 mean_us;
	double		 p50_us;
	double		 p99_us;
};
void		 window_add(uint64_t, uint64_t);
void		 window_get(uint64_t, unsigned, struct window *);

/* main.c */
struct handler;
int		 handler_check(struct options *, int, char *, size_t);
int		 confine_check(struct options *, char *, size_t);
int		 isolation_check(const struct options *, char *, size_t);
void		 handler_drop(struct handler *);
void		 supervisor_wake(void);
void		 supervisor_wake_cb(evutil_socket_t, short, void *);
void		 supervisor_draining(void);
void		 supervisor_abort(int) __attribute__((noreturn));
const char	*handler_option_arg(void);

/* wconf.c: what a worker is told, from the configuration it starts with */
void		 wconf_fill(struct worker_conf *, const struct options *, int,
		    struct slot_board *, pid_t);

#endif
