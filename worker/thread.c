/*
 * A worker thread (--isolation thread): the in-process twin of worker.c's
 * loop.  It takes every JOB frame the supervisor has handed over, runs the
 * handler on each with its own state, and hands the RESULT frames back,
 * many at a time.  It shares everything with the supervisor, so a handler
 * that crashes takes the whole process down: that is what this mode is
 * for, to show what isolation buys.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "handler.h"
#include "proto/link.h"
#include "proto/log.h"
#include "thread.h"
#include "worker.h"

#define EAGER_FRAMES	16	/* a batch this small answers job by job */
#define CLOCK_EVERY	64	/* jobs between looks at the clock */

/* A batch being run: the link's callback takes its jobs one at a time. */
struct batch {
	struct tlink	*tl;
	void		*state;		/* the handler's */
	struct link	 link;		/* in: the jobs; out: their results */
	struct buf	 res;
	size_t		 n;		/* jobs run of this batch */
	int		 eager;		/* a small batch: answer job by job */
	uint64_t	 tick;
	int		 nomem;
};

int	handler_threaded;

/* Hands the frames in out to the supervisor; wakes it if it had none. */
static int
publish(struct tlink *tl, struct buf *out)
{
	uint64_t	one = 1;
	int		was_empty, rc = 0;

	if (out->len == 0)
		return 0;
	pthread_mutex_lock(&tl->mu);
	was_empty = tl->results.len == 0;
	if (buf_append(&tl->results, buf_head(out), out->len) == -1)
		rc = -1;
	pthread_mutex_unlock(&tl->mu);
	out->len = out->off = 0;
	if (was_empty && write(tl->efd, &one, sizeof one) == -1 &&
	    errno != EAGAIN)
		log_warn("thread %d: eventfd", tl->conf.slot);
	return rc;
}

/* Waits for jobs; swaps them into in.  0 when the thread is to leave. */
static int
take_jobs(struct tlink *tl, struct buf *in)
{
	struct buf	tmp;
	int		go;

	pthread_mutex_lock(&tl->mu);
	while (tl->jobs.len == 0 && !tl->closing && !tl->abandoned)
		pthread_cond_wait(&tl->cv, &tl->mu);
	go = !tl->abandoned && tl->jobs.len > 0;
	if (go) {
		tmp = *in;
		*in = tl->jobs;
		tl->jobs = tmp;
	}
	pthread_mutex_unlock(&tl->mu);
	return go;
}

/* One JOB into a RESULT frame in out; -1 when out of memory. */
static int
run_job(struct batch *b, const struct frame *f)
{
	struct buf	*out = &b->link.out;
	int		 status;

	status = worker_handle(b->tl->conf.handler, b->state, f,
	    b->tl->conf.board, &b->res);
	if (status == -1)
		return buf_append(out, WORKER_GARBAGE, WORKER_GARBAGE_LEN);
	return frame_append(out, FRAME_RESULT, status, 0, f->id,
	    buf_head(&b->res), b->res.len);
}

/*
 * One JOB, the link's callback: results are handed over job by job in a
 * small batch and, in a big one, whenever the coarse clock has moved, so
 * that a slow job's result never waits long behind the next.
 */
static int
take_job(void *arg, const struct frame *f)
{
	struct batch	*b = arg;
	uint64_t	 now;

	if (b->tl->abandoned)
		return 1;
	if (run_job(b, f) == -1) {
		b->nomem = 1;
		return 1;
	}
	if (!b->eager && ++b->n % CLOCK_EVERY == 0 &&
	    (now = worker_coarse_ns()) != b->tick)
		b->tick = now;
	else if (!b->eager)
		return 0;
	if (publish(b->tl, &b->link.out) == -1) {
		b->nomem = 1;
		return 1;
	}
	return 0;
}

/* Runs the batch in the link; -1 when out of memory. */
static int
run_batch(struct batch *b)
{
	b->eager = link_count(&b->link, EAGER_FRAMES) <= EAGER_FRAMES;
	b->n = 0;
	b->tick = worker_coarse_ns();
	/* The supervisor's own frames: a bad one cannot come. */
	if (link_take(&b->link) == LINK_BAD)
		log_warnx("thread %d: protocol error: %s", b->tl->conf.slot,
		    b->link.why);
	if (b->nomem)
		return -1;
	return publish(b->tl, &b->link.out);
}

/* The thread's end, last in it: the supervisor reaps its record. */
static void
thread_exited(struct tlink *tl)
{
	pthread_mutex_lock(&tl->mu);
	tl->exited = 1;
	pthread_mutex_unlock(&tl->mu);
	tl->gone(tl);
}

void *
thread_main(void *arg)
{
	struct tlink	*tl = arg;
	struct batch	 b;
	struct buf	*out;
	sigset_t	 all;
	char		 err[512], msg[768];
	pid_t		 tid = (pid_t)syscall(SYS_gettid);

	/*
	 * Signals are the supervisor's loop's, never a worker thread's; but
	 * for those a crash raises, which must reach the thread that crashed.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	memset(&b, 0, sizeof b);
	b.tl = tl;
	link_init(&b.link, tl->conf.frame_max, FRAME_TO_WORKER, take_job, &b);
	buf_init(&b.res);
	out = &b.link.out;
	if (handler_init(tl->conf.handler, &b.state, err, sizeof err) == -1) {
		snprintf(msg, sizeof msg, "handler %s: %s",
		    tl->conf.handler->spec, err);
		if (frame_append(out, FRAME_ERROR, 0, 0, 0, msg,
		    strlen(msg)) == -1 || publish(tl, out) == -1)
			log_warnx("thread %d: %s", tl->conf.slot, msg);
		tl->status = EX_HANDLER_INIT;
		goto done;
	}
	if (frame_append(out, FRAME_HELLO, tl->conf.slot, (uint32_t)tid, 0,
	    NULL, 0) == -1 || publish(tl, out) == -1) {
		tl->status = EX_NOMEM;
		goto fini;
	}
	while (take_jobs(tl, &b.link.in)) {
		if (run_batch(&b) == -1) {
			tl->status = EX_NOMEM;
			break;
		}
		b.link.in.len = b.link.in.off = 0;
	}
fini:
	handler_fini(tl->conf.handler, b.state);
done:
	link_free(&b.link);
	buf_free(&b.res);
	thread_exited(tl);
	return NULL;
}
