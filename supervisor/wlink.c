/*
 * The supervisor's end of a worker link: JOB frames out, RESULT frames in.
 * Frames are appended to the worker's buffer as jobs are routed and written
 * once per loop turn, many per syscall; write interest is armed only while
 * bytes wait.  A worker is trusted no further than its frames check out: a
 * bad one is killed and replaced, and its jobs go back to the queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/link.h"
#include "proto/log.h"
#include "supervisor.h"

#define BUF_KEEP	(1024 * 1024)	/* shrink link buffers above this */
#define WINDOW_TARGET_NS 5000000.0 /* work a full window should hold */
#define WINDOW_MIN	2	/* one running, one waiting: no idle round trip */

/* The processes with frames to write this turn. */
static LIST_HEAD(, proc) dirty = LIST_HEAD_INITIALIZER(dirty);

static unsigned	results;	/* taken in this read */

static void	wlink_read(evutil_socket_t, short, void *);
static void	wlink_writable(evutil_socket_t, short, void *);
static int	take_frame(void *, const struct frame *);

void
wlink_open(struct proc *p, int fd)
{
	p->fd = fd;
	link_init(&p->link, opts->frame_max, FRAME_FROM_WORKER, take_frame, p);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("fcntl O_NONBLOCK");
	p->ev_read = event_new(base, p->fd, EV_READ | EV_PERSIST, wlink_read,
	    p);
	p->ev_write = event_new(base, p->fd, EV_WRITE | EV_PERSIST,
	    wlink_writable, p);
	if (p->ev_read == NULL || p->ev_write == NULL)
		fatalx("event_new failed");
	event_add(p->ev_read, NULL);
}

void
wlink_close(struct proc *p)
{
	if (p->fd == -1)
		return;
	event_free(p->ev_read);
	event_free(p->ev_write);
	p->ev_read = p->ev_write = NULL;
	if (p->tl != NULL)
		tlink_close(p);		/* its eventfd is the thread's */
	else
		close(p->fd);
	p->fd = -1;
	link_free(&p->link);
	/* What it had to write goes nowhere now. */
	if (p->dirty) {
		p->dirty = 0;
		LIST_REMOVE(p, dirty_entry);
	}
}

static void
mark_dirty(struct proc *p)
{
	if (p->dirty)
		return;
	p->dirty = 1;
	LIST_INSERT_HEAD(&dirty, p, dirty_entry);
}

int
wlink_send_job(struct proc *p, uint32_t idx)
{
	struct job	*j = ledger_job(idx);
	struct frame	 f;
	char		*dst;

	f.type = FRAME_JOB;
	f.flags = j->partition == PARTITION_NONE ? 0 : FRAME_F_KEYED;
	f.aux = j->attempt;
	f.arg = (uint32_t)((opts->timeout_ns + 999999) / 1000000);
	f.id = j->line;		/* the job's number, as {#} of cmd: */
	f.key = j->data.p;
	f.keylen = j->keylen;
	f.payload = j->data.p + j->keylen;
	f.paylen = j->data.len - j->keylen;
	if ((dst = buf_append_space(&p->link.out, frame_size(f.keylen,
	    f.paylen))) == NULL) {
		log_warn("worker %d: queueing a job", p->slot->index);
		return -1;
	}
	frame_encode(dst, &f);
	if (p->inflight.count == 0) {
		p->busy_since_ns = p->heard_ns = now_ns();
		pool_watch_timeout(p);
	}
	j->state = JOB_INFLIGHT;
	j->worker = p->slot->index;
	if (opts->joblog_path != NULL) {
		if (j->started_ns == 0)
			j->started_ns = now_ns();
		j->pid = p->pid;
	}
	p->jobs_sent++;
	jobq_push(&p->inflight, idx);
	mark_dirty(p);
	return 0;
}

static void
flush_worker(struct proc *p)
{
	ssize_t	n;

	if (p->fd == -1)
		return;
	if (p->tl != NULL) {
		if (p->link.out.len > 0 && tlink_deliver(p) == -1)
			pool_fail_worker(p, END_CRASH, "out of memory");
		return;
	}
	n = link_flush(&p->link, p->fd);
	if (n == -1 && errno != EAGAIN) {
		pool_fail_worker(p, END_CRASH, strerror(errno));
		return;
	}
	if (p->link.out.len > 0)
		event_add(p->ev_write, NULL);
	else {
		event_del(p->ev_write);
		buf_shrink(&p->link.out, BUF_KEEP);
	}
}

/* Writes every worker's queued frames: one syscall each per loop turn. */
void
wlink_flush_all(void)
{
	struct proc	*p;

	while ((p = LIST_FIRST(&dirty)) != NULL) {
		LIST_REMOVE(p, dirty_entry);
		p->dirty = 0;
		flush_worker(p);
	}
}

static void
wlink_writable(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	flush_worker(arg);
	supervisor_wake();
}

/*
 * Learns the service time from results: k results arrived over the time
 * the worker was busy, so each took about that much.  The window then
 * holds WINDOW_TARGET_NS of work.
 */
static void
adapt(struct proc *p, unsigned k, uint64_t now)
{
	double		 per, win;

	if (opts->window != 0 || k == 0)
		return;
	if (p->busy_since_ns != 0 && now > p->busy_since_ns) {
		per = (double)(now - p->busy_since_ns) / k;
		p->job_ns = p->job_ns == 0 ? per : 0.7 * p->job_ns + 0.3 * per;
		win = ceil(WINDOW_TARGET_NS / (p->job_ns > 1 ? p->job_ns : 1));
		if (win < WINDOW_MIN)
			win = WINDOW_MIN;
		if (win > WINDOW_MAX)
			win = WINDOW_MAX;
		p->window = (uint32_t)win;
	}
	p->busy_since_ns = p->inflight.count > 0 ? now : 0;
}

/* Takes one RESULT: it must answer the oldest job in flight. */
static int
take_result(struct proc *p, const struct frame *f)
{
	uint32_t	 idx;

	idx = p->inflight.head;
	if (idx == JOB_NONE || f->id != ledger_job(idx)->line) {
		p->link.why = "result for a job it was not running";
		return -1;
	}
	jobq_pop(&p->inflight);
	p->slot->jobs_done++;
	pool_job_done(idx, f->aux, f->payload, f->paylen);
	return 0;
}

/*
 * A worker's ERROR, for the log.  Why a handler cannot start is the same
 * for every worker of the pool, so the same reason is said only once.
 */
static void
log_error(const struct proc *p, const struct frame *f)
{
	static char	 last[256];
	char		 msg[sizeof last];
	const char	*opt;

	snprintf(msg, sizeof msg, "%.*s", (int)f->paylen, f->payload);
	if (!p->greeted && strcmp(msg, last) == 0)
		return;
	if (!p->greeted)
		strlcpy(last, msg, sizeof last);
	/* A handler that did not start may have been given our options. */
	if (!p->greeted && (opt = handler_option_arg()) != NULL)
		log_warnx("worker %d: %s (%s is an argument of the handler: "
		    "options go before the handler)", p->slot->index, msg, opt);
	else
		log_warnx("worker %d: %s", p->slot->index, msg);
}

static int
last_word(void *arg, const struct frame *f)
{
	if (f->type == FRAME_ERROR)
		log_error(arg, f);
	return 0;
}

/*
 * A worker that failed to start may have died before its ERROR was read:
 * what its link still holds is read now, for the log, and nothing else.
 */
void
wlink_last_words(struct proc *p)
{
	if (p->fd == -1 || p->tl != NULL)
		return;
	while (link_fill(&p->link, p->fd) > 0)
		continue;
	p->link.fn = last_word;
	link_take(&p->link);
}

/*
 * Each frame of a worker, checked by frame_check() already: what is left
 * to check is what depends on the worker's state.  Stops once the link
 * has been closed under it.
 */
static int
take_frame(void *arg, const struct frame *f)
{
	struct proc	*p = arg;

	switch (f->type) {
	case FRAME_RESULT:
		if (p->state != P_READY && p->state != P_RETIRING &&
		    p->state != P_STOPPING)
			break;
		if (take_result(p, f) == -1)
			return -1;
		results++;
		return p->fd == -1;
	case FRAME_HELLO:
		if (p->state != P_STARTING)
			break;
		/* A thread says its id here: its record had none. */
		if (p->tl != NULL && p->pid == 0)
			p->pid = (pid_t)f->arg;
		if (f->aux != p->slot->index || f->arg != (uint32_t)p->pid) {
			p->link.why = "HELLO with the wrong slot or pid";
			return -1;
		}
		pool_ready(p);
		return p->fd == -1;
	case FRAME_ERROR:
		log_error(p, f);
		return 0;
	case FRAME_HEARTBEAT:
		return 0;	/* the read itself is what counts */
	}
	p->link.why = "unexpected message type";
	return -1;
}

static void
wlink_read(evutil_socket_t fd, short ev, void *arg)
{
	struct proc	*p = arg;
	ssize_t		 n;

	(void)ev;
	loop_tick();
	if (p->tl != NULL) {
		/* A thread's end comes apart, through tlink.c. */
		if ((n = tlink_collect(p)) == 0)
			return;
	} else
		n = link_fill(&p->link, fd);
	if (n == -1 && errno == EAGAIN)
		return;
	p->heard_ns = loop_now_ns();
	if (n <= 0) {
		pool_fail_worker(p, END_CRASH, n == 0 ? "closed its link" :
		    strerror(errno));
		supervisor_wake();
		return;
	}
	results = 0;
	if (link_take(&p->link) == LINK_BAD) {
		log_warnx("worker %d: protocol error: %s", p->slot->index,
		    p->link.why);
		pool_fail_worker(p, END_PROTOCOL, p->link.why);
		supervisor_wake();
		return;
	}
	if (results > 0) {
		adapt(p, results, loop_now_ns());
		pool_result(p, results);
	}
	if (p->fd != -1 && p->link.in.len == 0)
		buf_shrink(&p->link.in, BUF_KEEP);
	supervisor_wake();
}
