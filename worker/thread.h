/*
 * --isolation thread: a worker is a thread of the supervisor, running the
 * same handler through the same frames, handed over in memory instead of
 * over a socket pair.  A struct tlink is the link between the supervisor
 * (supervisor/tlink.c) and one thread (worker/thread.c): two byte buffers
 * of frames under a mutex, a condition variable that wakes the thread
 * when jobs come, and an eventfd that wakes the supervisor's loop when
 * results do.  A thread cannot be killed: the supervisor gives up on one
 * (abandons it) and the thread leaves when its handler returns.
 */
#ifndef THREAD_H
#define THREAD_H

#include <sys/types.h>

#include <pthread.h>

#include "proto/buf.h"
#include "worker.h"

struct tlink {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* jobs came, or closing */
	struct buf		 jobs;		/* JOB frames, for the thread */
	struct buf		 results;	/* its frames, for the supervisor */
	int			 closing;	/* no more jobs: exit when idle */
	int			 abandoned;	/* its frames are not read */
	int			 exited;	/* thread_main() has returned */
	int			 status;	/* its exit status, then */
	int			 efd;		/* eventfd: results wait */
	int			 queued;	/* on the list of tlinks to reap */
	struct tlink		*next_queued;

	/* Set before the thread starts, never changed after. */
	struct worker_conf	 conf;
	void			(*gone)(struct tlink *); /* to be reaped */
	pthread_t		 thread;
};

void		*thread_main(void *);

#endif
