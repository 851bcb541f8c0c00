/*
 * The worker's contract: what the supervisor tells a worker (struct
 * worker_conf, filled by supervisor/wconf.c), what the worker tells it
 * back besides its frames (the slot board, its exit status), and the
 * entry points of the runtimes that share it: the in-process loop
 * (worker.c), the relay to an external program (external.c) and the
 * thread (thread.c).  A worker knows nothing of the supervisor but this.
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/types.h>
#include <stdint.h>

#include "handler.h"

/* The worker's end of its link is always this descriptor. */
#define WORKER_LINK_FD	3

/* Exit statuses the supervisor reads. */
#define EX_HANDLER_INIT	78	/* the handler failed to start */
#define EX_PROTOCOL	76	/* a bad frame, from the link or the program */
#define EX_CHILD	75	/* the external program ended */
#define EX_NOMEM	71	/* a thread out of memory gives up */

/* What a job answers instead of its RESULT when builtin:crash says GARBAGE. */
#define WORKER_GARBAGE		"this is not a forkpool frame...."
#define WORKER_GARBAGE_LEN	(sizeof WORKER_GARBAGE - 1)

/* What the worker writes for the supervisor to read after a crash. */
struct slot_board {
	volatile uint64_t job_id;	/* the job being handled, 0 when idle */
	volatile uint64_t started_ns;	/* CLOCK_MONOTONIC when it began */
};

/*
 * Everything a worker is told, fixed before it starts: the configuration
 * it was started with, never the supervisor's running one.
 */
struct worker_conf {
	int			 slot;
	struct slot_board	*board;		/* the supervisor reads it */
	pid_t			 parent;	/* die with it */
	struct handler		*handler;	/* its arguments, its cmd */
	uint32_t		 frame_max;
	uint64_t		 heartbeat_ns;	/* 0: none */
	uint64_t		 start_timeout_ns; /* exec: for HELLO */
	uint64_t		 kill_grace_ns;	/* then it is killed */

	/* What it gives up before it takes a job (confine.c). */
	uid_t			 run_uid;
	gid_t			 run_gid;
	int			 drop_privileges; /* to run_uid/gid */
	const char		*chroot_dir;	/* NULL: none */
	unsigned long long	 rlimit_as;	/* bytes; 0: unchanged */
	unsigned long long	 rlimit_cpu;	/* seconds */
	unsigned long long	 rlimit_nofile;
};

struct buf;
struct frame;

/* worker.c: the process, from the fork on, with its link on fd. */
void		 worker_main(const struct worker_conf *, int)
		    __attribute__((noreturn));
uint64_t	 worker_clock_ns(void);
uint64_t	 worker_coarse_ns(void);
int		 worker_handle(const struct handler *, void *,
		    const struct frame *, struct slot_board *, struct buf *);
void		 worker_start_failed(const char *) __attribute__((noreturn));
void		 worker_exit(int) __attribute__((noreturn));

/* confine.c */
void		 worker_confine(const struct worker_conf *);

/* external.c */
void		 external_main(const struct worker_conf *)
		    __attribute__((noreturn));

#endif
