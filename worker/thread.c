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
#include "proto/log.h"
#include "supervisor/supervisor.h"
#include "thread.h"
#include "worker.h"

#define EAGER_FRAMES	16	/* a batch this small answers job by job */
#define CLOCK_EVERY	64	/* jobs between looks at the clock */
#define EX_NOMEM	71	/* a thread out of memory gives up */

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
		log_warn("thread %d: eventfd", tl->slot);
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
run_job(struct tlink *tl, void *state, const struct frame *f,
    struct buf *res, struct buf *out)
{
	int	status;

	status = worker_handle(tl->handler, state, f, tl->board, res);
	if (status == -1)
		return buf_append(out, WORKER_GARBAGE, WORKER_GARBAGE_LEN);
	return frame_append(out, FRAME_RESULT, status, 0, f->id, buf_head(res),
	    res->len);
}

/* Whether in holds few jobs: they are long ones, answered one by one. */
static int
small_batch(const struct tlink *tl, const struct buf *in)
{
	struct frame	 f;
	const char	*why;
	size_t		 off = 0, need;
	int		 n;

	for (n = 0; n <= EAGER_FRAMES; n++) {
		if (frame_decode(buf_head(in) + off, in->len - off,
		    tl->frame_max, &f, &need, &why) != FRAME_OK)
			break;
		off += need;
	}
	return n <= EAGER_FRAMES;
}

/*
 * Runs the batch in in, handing results over job by job in a small batch
 * and, in a big one, whenever the coarse clock has moved: a slow job's
 * result never waits long behind the next.  -1 when out of memory.
 */
static int
run_batch(struct tlink *tl, void *state, struct buf *in, struct buf *res,
    struct buf *out)
{
	struct frame	 f;
	const char	*why;
	size_t		 need, n = 0;
	uint64_t	 tick = worker_coarse_ns(), now;
	int		 eager = small_batch(tl, in);

	while (frame_decode(buf_head(in), in->len, tl->frame_max, &f, &need,
	    &why) == FRAME_OK && !tl->abandoned) {
		if (run_job(tl, state, &f, res, out) == -1)
			return -1;
		buf_consume(in, need);
		if (!eager && ++n % CLOCK_EVERY == 0 &&
		    (now = worker_coarse_ns()) != tick)
			tick = now;
		else if (!eager)
			continue;
		if (publish(tl, out) == -1)
			return -1;
	}
	return publish(tl, out);
}

void *
thread_main(void *arg)
{
	struct tlink	*tl = arg;
	struct buf	 in, out, res;
	sigset_t	 all;
	void		*state;
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
	buf_init(&in);
	buf_init(&out);
	buf_init(&res);
	if (handler_init(tl->handler, &state, err, sizeof err) == -1) {
		snprintf(msg, sizeof msg, "handler %s: %s", tl->handler->spec,
		    err);
		if (frame_append(&out, FRAME_ERROR, 0, 0, 0, msg,
		    strlen(msg)) == -1 || publish(tl, &out) == -1)
			log_warnx("thread %d: %s", tl->slot, msg);
		tl->status = EX_HANDLER_INIT;
		goto done;
	}
	if (frame_append(&out, FRAME_HELLO, tl->slot, (uint32_t)tid, 0, NULL,
	    0) == -1 || publish(tl, &out) == -1) {
		tl->status = EX_NOMEM;
		goto fini;
	}
	while (take_jobs(tl, &in)) {
		if (run_batch(tl, state, &in, &res, &out) == -1) {
			tl->status = EX_NOMEM;
			break;
		}
		in.len = in.off = 0;
	}
fini:
	handler_fini(tl->handler, state);
done:
	buf_free(&in);
	buf_free(&out);
	buf_free(&res);
	thread_exited(tl);
	return NULL;
}
