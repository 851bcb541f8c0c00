/*
 * The supervisor's end of a worker link: JOB frames out, RESULT frames in.
 * Frames are appended to the worker's buffer as jobs are routed and written
 * once per loop turn, many per syscall; write interest is armed only while
 * bytes wait.  A worker is trusted no further than its frames check out: a
 * bad one is killed and replaced, and its jobs go back to the queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"

#define READ_CHUNK	(256 * 1024)
#define BUF_KEEP	(1024 * 1024)	/* shrink link buffers above this */

struct worker	*dirty_workers;

static void	wlink_read(evutil_socket_t, short, void *);
static void	wlink_writable(evutil_socket_t, short, void *);

/* The link's events, which name the record they belong to. */
static void
attach(struct worker *w)
{
	w->ev_read = event_new(base, w->fd, EV_READ | EV_PERSIST, wlink_read,
	    w);
	w->ev_write = event_new(base, w->fd, EV_WRITE | EV_PERSIST,
	    wlink_writable, w);
	if (w->ev_read == NULL || w->ev_write == NULL)
		fatalx("event_new failed");
	event_add(w->ev_read, NULL);
	if (w->out.len > 0)
		event_add(w->ev_write, NULL);
}

static void
detach(struct worker *w)
{
	event_free(w->ev_read);
	event_free(w->ev_write);
	w->ev_read = w->ev_write = NULL;
}

void
wlink_open(struct worker *w, int fd)
{
	w->fd = fd;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("fcntl O_NONBLOCK");
	attach(w);
}

#define SWAP(a, b, field) do {						\
	__typeof__((a)->field) swap_tmp = (a)->field;			\
	(a)->field = (b)->field;					\
	(b)->field = swap_tmp;						\
} while (0)

/*
 * Swaps the processes of two records, a slot and its twin: the process,
 * its link with its buffers and events, and its jobs in flight.  What
 * belongs to the slot (its queue, its counters, its timer) stays.  Neither
 * may have frames waiting for wlink_flush_all().
 */
void
wlink_swap(struct worker *a, struct worker *b)
{
	if (a->fd != -1)
		detach(a);
	if (b->fd != -1)
		detach(b);
	SWAP(a, b, pid);
	SWAP(a, b, gen);
	SWAP(a, b, board);
	SWAP(a, b, tl);
	SWAP(a, b, state);
	SWAP(a, b, end);
	SWAP(a, b, greeted);
	SWAP(a, b, fd);
	SWAP(a, b, in);
	SWAP(a, b, out);
	SWAP(a, b, inflight);
	SWAP(a, b, window);
	SWAP(a, b, culprit);
	SWAP(a, b, job_ns);
	SWAP(a, b, busy_since_ns);
	SWAP(a, b, jobs_sent);
	SWAP(a, b, recycle_at);
	SWAP(a, b, rss_checked_ns);
	SWAP(a, b, heard_ns);
	if (a->fd != -1)
		attach(a);
	if (b->fd != -1)
		attach(b);
}

void
wlink_close(struct worker *w)
{
	if (w->fd == -1)
		return;
	detach(w);
	if (w->tl != NULL)
		tlink_close(w);		/* its eventfd is the thread's */
	else
		close(w->fd);
	w->fd = -1;
	buf_free(&w->in);
	buf_free(&w->out);
}

static void
mark_dirty(struct worker *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	w->next_dirty = dirty_workers;
	dirty_workers = w;
}

int
wlink_send_job(struct worker *w, uint32_t idx)
{
	struct job	*j = ledger_job(idx);
	struct frame	 f;
	char		*p;

	f.type = FRAME_JOB;
	f.flags = j->partition == PARTITION_NONE ? 0 : FRAME_F_KEYED;
	f.aux = j->attempt;
	f.arg = (uint32_t)((opts->timeout_ns + 999999) / 1000000);
	f.id = (uint64_t)idx + 1;
	f.key = j->data.p;
	f.keylen = j->keylen;
	f.payload = j->data.p + j->keylen;
	f.paylen = j->data.len - j->keylen;
	if ((p = buf_append_space(&w->out, frame_size(f.keylen,
	    f.paylen))) == NULL) {
		log_warn("worker %d: queueing a job", w->slot);
		return -1;
	}
	frame_encode(p, &f);
	if (w->inflight.count == 0) {
		w->busy_since_ns = w->heard_ns = now_ns();
		pool_watch_timeout(w);
	}
	j->state = JOB_INFLIGHT;
	j->worker = w->slot;
	w->jobs_sent++;
	jobq_push(&w->inflight, idx);
	dispatch_sent(j);
	mark_dirty(w);
	return 0;
}

static void
flush_worker(struct worker *w)
{
	ssize_t	n;

	if (w->fd == -1)
		return;
	if (w->tl != NULL) {
		if (w->out.len > 0 && tlink_deliver(w) == -1)
			pool_fail_worker(w, END_CRASH, "out of memory");
		return;
	}
	n = buf_write(&w->out, w->fd);
	if (n == -1 && errno != EAGAIN) {
		pool_fail_worker(w, END_CRASH, strerror(errno));
		return;
	}
	if (w->out.len > 0)
		event_add(w->ev_write, NULL);
	else {
		event_del(w->ev_write);
		buf_shrink(&w->out, BUF_KEEP);
	}
}

/* Writes every worker's queued frames: one syscall each per loop turn. */
void
wlink_flush_all(void)
{
	struct worker	*w;

	while ((w = dirty_workers) != NULL) {
		dirty_workers = w->next_dirty;
		w->dirty = 0;
		flush_worker(w);
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

/* Takes one RESULT; -1 (with *why) when the worker broke the protocol. */
static int
take_result(struct worker *w, const struct frame *f, const char **why)
{
	uint32_t	 idx;
	struct job	*j;

	idx = w->inflight.head;
	if (idx == JOB_NONE || f->id != (uint64_t)idx + 1) {
		*why = "result for a job it was not running";
		return -1;
	}
	if (f->keylen != 0 || f->flags != 0 || f->arg != 0 ||
	    (f->aux != STATUS_OK && f->aux != STATUS_ERROR)) {
		*why = "malformed RESULT";
		return -1;
	}
	jobq_pop(&w->inflight);
	j = ledger_job(idx);
	dispatch_left_worker(j);
	j->state = JOB_DONE;
	j->worker = -1;
	j->status = f->aux;
	workers[w->slot].jobs_done++;
	intake->job_done(idx, f->payload, f->paylen);
	return 0;
}

/*
 * A worker's ERROR, for the log.  Why a handler cannot start is the same
 * for every worker of the pool, so the same reason is said only once.
 */
static void
log_error(const struct worker *w, const struct frame *f)
{
	static char	 last[256];
	char		 msg[sizeof last];
	const char	*opt;

	snprintf(msg, sizeof msg, "%.*s", (int)f->paylen, f->payload);
	if (!w->greeted && strcmp(msg, last) == 0)
		return;
	if (!w->greeted)
		strlcpy(last, msg, sizeof last);
	/* A handler that did not start may have been given our options. */
	if (!w->greeted && (opt = handler_option_arg()) != NULL)
		log_warnx("worker %d: %s (%s is an argument of the handler: "
		    "options go before the handler)", w->slot, msg, opt);
	else
		log_warnx("worker %d: %s", w->slot, msg);
}

/*
 * A worker that failed to start may have died before its ERROR was read:
 * what its link still holds is read now, for the log, and nothing else.
 */
void
wlink_last_words(struct worker *w)
{
	struct frame	 f;
	const char	*why;
	size_t		 need;

	if (w->fd == -1 || w->tl != NULL)
		return;
	while (buf_read(&w->in, w->fd, READ_CHUNK) > 0)
		continue;
	while (frame_decode(buf_head(&w->in), w->in.len, opts->frame_max, &f,
	    &need, &why) == FRAME_OK) {
		if (f.type == FRAME_ERROR)
			log_error(w, &f);
		buf_consume(&w->in, need);
	}
}

static int
take_frame(struct worker *w, const struct frame *f, const char **why)
{
	switch (f->type) {
	case FRAME_RESULT:
		if (w->state != W_READY && w->state != W_RETIRING &&
		    w->state != W_STOPPING)
			break;
		return take_result(w, f, why);
	case FRAME_HELLO:
		if (w->state != W_STARTING)
			break;
		/* A thread says its id here: its record had none. */
		if (w->tl != NULL && w->pid == 0)
			w->pid = (pid_t)f->arg;
		if (f->aux != w->slot || f->arg != (uint32_t)w->pid ||
		    f->flags != 0 || f->id != 0 || f->keylen != 0 ||
		    f->paylen != 0) {
			*why = "HELLO with the wrong slot or pid";
			return -1;
		}
		pool_ready(w);
		return 0;
	case FRAME_ERROR:
		log_error(w, f);
		return 0;
	case FRAME_HEARTBEAT:
		if (f->flags != 0 || f->aux != 0 || f->arg != 0 ||
		    f->keylen != 0 || f->paylen != 0) {
			*why = "malformed HEARTBEAT";
			return -1;
		}
		return 0;	/* the read itself is what counts */
	}
	*why = "unexpected message type";
	return -1;
}

static void
wlink_read(evutil_socket_t fd, short ev, void *arg)
{
	struct worker		*w = arg;
	struct frame		 f;
	const char		*why = NULL;
	size_t			 need;
	ssize_t			 n;
	unsigned		 results = 0;
	enum frame_decode_result r;

	(void)ev;
	loop_tick();
	if (w->tl != NULL) {
		/* A thread's end comes apart, through tlink.c. */
		if ((n = tlink_collect(w)) == 0)
			return;
	} else
		n = buf_read(&w->in, fd, READ_CHUNK);
	if (n == -1 && errno == EAGAIN)
		return;
	w->heard_ns = loop_now_ns();
	if (n <= 0) {
		pool_fail_worker(w, END_CRASH, n == 0 ? "closed its link" :
		    strerror(errno));
		supervisor_wake();
		return;
	}
	for (;;) {
		r = frame_decode(buf_head(&w->in), w->in.len, opts->frame_max,
		    &f, &need, &why);
		if (r == FRAME_SHORT)
			break;
		if (r == FRAME_OK && f.type == FRAME_RESULT)
			results++;
		if (r == FRAME_BAD || take_frame(w, &f, &why) == -1) {
			log_warnx("worker %d: protocol error: %s", w->slot, why);
			pool_fail_worker(w, END_PROTOCOL, why);
			supervisor_wake();
			return;
		}
		buf_consume(&w->in, need);
		if (w->fd == -1)
			break;
	}
	if (results > 0) {
		dispatch_adapt(w, results, loop_now_ns());
		pool_result(w, results);
	}
	if (w->fd != -1 && w->in.len == 0)
		buf_shrink(&w->in, BUF_KEEP);
	supervisor_wake();
}
