/*
 * Batch mode: jobs are the lines of standard input, results the lines of
 * standard output, in input order (through a reorder ring) or in completion
 * order.  Input is read only while the ledger has room, so memory stays
 * flat however long the input.  A job that fails is reported on stderr
 * (and in --failed FILE), never dropped; so is every job not run, and the
 * input never read, when a signal or --halt stops the run early.  Each job
 * that ran is logged in --joblog FILE once its result is out; --resume
 * skips those logged.
 */
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/field.h"
#include "proto/log.h"
#include "supervisor.h"
#include "progress.h"
#include "proto/xmalloc.h"

#define INPUT_CHUNK	(64 * 1024)
#define OUTPUT_FLUSH	(64 * 1024)
#define FAILURES_SHOWN	5	/* failures told one by one; the rest summed */
#define HALT_PERCENT_MIN 3	/* jobs ended before fail=N% can be judged */
#define UNREAD_WAIT_MS	100	/* a pipe silent this long is left unread */
#define UNREAD_MAX	(16 * 1024 * 1024)	/* as is one past this much */

/*
 * A job taken that will not be run to its end: withdrawn from its queue,
 * or stopped at its worker.  The batch intake's own status, never sent.
 */
#define STATUS_NOT_RUN	0xff

static struct buf	 in;
static struct buf	 out;
static struct event	*ev_input;
static int		 input_pollable;
static int		 input_eof;
static int		 input_stopped;	/* by a signal: drain what is taken */
static int		 skipping;	/* discarding an overlong line */
static int		 have_line;	/* in holds a complete line */
static int		 stop_signal;
static uint64_t		 next_line = 1;
static uint64_t		 next_seq = 1;
static uint64_t		 out_next = 1;
static uint32_t		*reorder;
static uint32_t		 reorder_mask;
static uint64_t		 nfailed;
static uint64_t		 nkeyless;	/* lines with no field -k N */
static FILE		*failed_fp;
static int		 halting;	/* --halt: 1 due, 2 done */
static char		 sep = '\n';	/* ends a record: -0 makes it NUL */
static int		 resuming;	/* --resume, --resume-failed */
static int		 halt_status = -1;	/* the exit status it gives */
static int		 interrupted;	/* SIGINT and SIGTERM heard */
static int		 jobs_finished;	/* every job taken is written out */
static uint64_t		 nok;
static uint64_t		 nshown;	/* failures told one by one */
static uint64_t		 nwithdrawn;	/* not run: queued when stopped */
static uint64_t		 nunfinished;	/* not run: stopped at a worker */
static const char	*unfinished_when = "unfinished when the run stopped";
static uint64_t		 nunread;	/* lines never read, copied */
static const char	*unread_left;	/* why input is left unread, or NULL */
static uint64_t		 started_ns;


static void	input_ready(evutil_socket_t, short, void *);
static void	halt(void);
static void	finish_now(const char *, int) __attribute__((noreturn));

static void
batch_init(void)
{
	struct stat	st;
	uint32_t	size = 1;

	buf_init(&in);
	buf_init(&out);
	while (size < opts->queue_max)
		size <<= 1;
	reorder = xcalloc(size, sizeof *reorder);
	reorder_mask = size - 1;
	if (opts->failed_path != NULL &&
	    (failed_fp = fopen(opts->failed_path, "w")) == NULL)
		fatal("%s", opts->failed_path);
	if (opts->null_records)
		sep = '\0';
	else if (opts->failed_line != NULL &&
	    strchr(opts->failed_line, '\n') != NULL)
		fatalx("--failed-line: TEXT holds a newline: it would be more "
		    "than one result line");
	resuming = opts->resume || opts->resume_failed;
	if (resuming && opts->joblog_path == NULL)
		fatalx("--resume and --resume-failed need --joblog FILE");
	if (opts->joblog_path != NULL)
		joblog_open();
	/*
	 * Pipes and terminals are polled; regular files and devices such as
	 * /dev/null cannot be, and are read whenever there is room.
	 */
	if (fstat(STDIN_FILENO, &st) == -1)
		fatal("standard input");
	input_pollable = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    isatty(STDIN_FILENO);
	/* Someone who typed no input may be waiting for something to happen. */
	if (isatty(STDIN_FILENO))
		log_warnx("reading jobs from the terminal, one %s; end with "
		    "Ctrl-D", opts->null_records ? "per NUL byte" : "a line");
	ev_input = event_new(base, input_pollable ? STDIN_FILENO : -1,
	    input_pollable ? EV_READ | EV_PERSIST : 0, input_ready, NULL);
	if (ev_input == NULL)
		fatalx("event_new failed");
}

/*
 * Writes every result waiting.  Standard output may be non-blocking, left
 * so by whoever shares it: then a full pipe waits for room here.
 */
static void
write_output(void)
{
	struct pollfd	pfd;
	ssize_t		n;

	while (out.len > 0) {
		n = buf_write(&out, STDOUT_FILENO);
		if (n == -1) {
			if (errno == EAGAIN) {
				pfd.fd = STDOUT_FILENO;
				pfd.events = POLLOUT;
				(void)poll(&pfd, 1, -1);
				continue;
			}
			if (errno == EPIPE) {
				log_info("standard output closed; stopping");
				supervisor_abort(1);
			}
			fatal("writing standard output");
		}
	}
	buf_shrink(&out, 4 * OUTPUT_FLUSH);
	/* Only now: the log has no job whose result is not out. */
	if (opts->joblog_path != NULL)
		joblog_flush();
}

static void
failed_write(const char *p, size_t len, int end)
{
	if (failed_fp == NULL)
		return;
	if (len > 0)
		fwrite(p, 1, len, failed_fp);
	if (end) {
		fputc(sep, failed_fp);
		fflush(failed_fp);
	}
}

/*
 * --halt: whether enough jobs have failed, succeeded or ended.  Acted on
 * at the end of the loop turn, not inside an emit.  A percentage of fail
 * or success is of the jobs ended so far (the total is not known before
 * the input ends), once a few have; one of done, of every line once the
 * input has all been read.
 */
static void
halt_check(void)
{
	uint64_t	ended = nok + nfailed, n, of;

	if (opts->halt_when == HALT_NEVER || halting)
		return;
	n = opts->halt_why == HALT_FAIL ? nfailed :
	    opts->halt_why == HALT_SUCCESS ? nok : ended;
	if (opts->halt_percent == 0) {
		if (n >= opts->halt_count)
			halting = 1;
		return;
	}
	if (opts->halt_why != HALT_DONE)
		of = ended >= HALT_PERCENT_MIN ? ended : 0;
	else
		of = input_eof && in.len == 0 ? next_line - 1 : 0;
	if (of > 0 && n * 100.0 >= opts->halt_percent * of)
		halting = 1;
}

/* A job that failed, or a line that could not become one. */
static void
count_failure(void)
{
	nfailed++;
	halt_check();
}

/* A job has ended at its worker (or was withdrawn). */
static void
count_ended(const struct job *j)
{
	if (j->status == STATUS_NOT_RUN || j->hole)
		return;		/* not run, or counted as it was refused */
	if (j->status != STATUS_OK) {
		count_failure();
		return;
	}
	nok++;
	if (opts->halt_when != HALT_NEVER)
		halt_check();
}

/*
 * The first few failures are told one by one, the rest in one line at the
 * end; a job not run is only counted, for the summary.  Each goes to
 * --failed, in input order with -o input.
 */
static void
report_failure(struct job *j, const char *msg, size_t msglen)
{
	const char	*line = j->data.p + j->keylen;
	size_t		 len = j->data.len - j->keylen;

	if (j->status != STATUS_NOT_RUN && ++nshown <= FAILURES_SHOWN) {
		progress_clear();
		if (j->status == STATUS_ERROR || j->status == STATUS_REJECTED)
			log_warnx("line %llu failed: %s: %.*s",
			    (unsigned long long)j->line,
			    frame_status_name(j->status), (int)msglen, msg);
		else
			log_warnx("line %llu failed: %s after %u attempt%s: "
			    "%.*s", (unsigned long long)j->line,
			    frame_status_name(j->status), j->attempt,
			    j->attempt == 1 ? "" : "s",
			    (int)(len > 80 ? 80 : len), line);
	}
	failed_write(line, len, 1);
}

/*
 * A record of the output: with --tag, the job's input line (its key with
 * -k) and a tab come first.  -1: no memory to hold it.
 */
static int
put_result(const struct job *j, const char *res, size_t len)
{
	const char	*tag = j->data.p + j->keylen;
	size_t		 taglen = j->data.len - j->keylen, n = 0;
	char		*p;

	if (opts->tag && opts->key_field > 0) {
		tag = j->data.p;
		taglen = j->keylen;
	}
	if (opts->tag)
		n = taglen + 1;
	if ((p = buf_append_space(&out, n + len + 1)) == NULL)
		return -1;
	if (n > 0) {
		if (taglen > 0)
			memcpy(p, tag, taglen);
		p[taglen] = '\t';
		p += n;
	}
	if (len > 0)
		memcpy(p, res, len);
	p[len] = sep;
	return 0;
}

/* Writes one finished job out and frees its record. */
static void
emit(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);

	if (j->hole)
		;	/* a line refused at input, reported then */
	else if (j->status != STATUS_OK)
		report_failure(j, res, len);
	else if (put_result(j, res, len) == -1) {
		log_warn("line %llu: holding its result",
		    (unsigned long long)j->line);
		j->status = STATUS_ERROR;
		report_failure(j, "out of memory", 13);
	}
	if (j->status != STATUS_OK && opts->failed_line != NULL &&
	    put_result(j, opts->failed_line, strlen(opts->failed_line)) == -1)
		log_warn("line %llu: holding its --failed-line",
		    (unsigned long long)j->line);
	/* A job no worker finished is not logged: a resume runs it. */
	if (opts->joblog_path != NULL && j->started_ns != 0 &&
	    j->status != STATUS_REJECTED && j->status != STATUS_NOT_RUN)
		joblog_record(j, len);
	ledger_release(idx);
	if (out.len >= OUTPUT_FLUSH || (opts->joblog_path != NULL &&
	    joblog_pending() >= OUTPUT_FLUSH))
		write_output();
}

static void
batch_job_done(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);

	if (opts->joblog_path != NULL)
		j->ended_ns = now_ns();
	count_ended(j);
	if (opts->order == ORDER_COMPLETION) {
		emit(idx, res, len);
		return;
	}
	if (j->seq != out_next) {
		/* Early: hold the result until the lines before it are out. */
		if (bytes_set(&j->result, res, len, NULL, 0) == -1) {
			j->status = STATUS_ERROR;
			bytes_set(&j->result, "out of memory", 13, NULL, 0);
		}
		return;
	}
	emit(idx, res, len);
	out_next++;
	while (out_next < next_seq) {
		idx = reorder[out_next & reorder_mask];
		j = ledger_job(idx);
		if (j->state != JOB_DONE)
			break;
		emit(idx, j->result.p, j->result.len);
		out_next++;
	}
}

/*
 * --failed-line: a line refused at input keeps its place in the output,
 * as a job that is done already.  There is room: lines are taken only
 * while the ledger has some.
 */
static void
hold_place(uint64_t line)
{
	uint32_t	 idx;
	struct job	*j;

	if ((idx = ledger_alloc()) == JOB_NONE)
		return;
	j = ledger_job(idx);
	j->line = line;
	j->seq = next_seq++;
	j->hole = 1;
	j->started_ns = 0;
	j->state = JOB_DONE;
	j->status = STATUS_REJECTED;
	reorder[j->seq & reorder_mask] = idx;
	batch_job_done(idx, NULL, 0);
}

/* A line that cannot become a job; an overlong one is still being read. */
static void
reject_line(const char *why, const char *line, size_t len, int whole)
{
	count_failure();
	if (++nshown <= FAILURES_SHOWN) {
		progress_clear();
		log_warnx("line %llu failed: rejected: %s",
		    (unsigned long long)next_line, why);
	}
	next_line++;
	failed_write(line, len, whole);
	if (opts->failed_line != NULL)
		hold_place(next_line - 1);
}

static void
take_line(const char *line, size_t len)
{
	const char	*key = NULL;
	size_t		 keylen = 0;
	uint32_t	 idx;
	struct job	*j;

	if (resuming && joblog_skip(next_line, line, len)) {
		next_line++;
		return;
	}
	if (opts->key_field > 0) {
		field_get(opts->colsep, line, len, opts->key_field, &key,
		    &keylen);
		if (keylen == 0 && nkeyless++ == 0)
			log_warnx("line %llu has no field %d: such lines share "
			    "the empty key, and run one at a time",
			    (unsigned long long)next_line, opts->key_field);
	}
	if (frame_size(keylen, len) > opts->frame_max) {
		reject_line("longer than the maximum frame size", line, len, 1);
		return;
	}
	idx = ledger_alloc();
	j = ledger_job(idx);
	if (bytes_set(&j->data, key, keylen, line, len) == -1) {
		ledger_release(idx);
		reject_line("out of memory", line, len, 1);
		return;
	}
	j->line = next_line++;
	j->seq = next_seq++;
	j->keylen = keylen;
	j->hole = 0;
	j->signal = 0;
	j->started_ns = 0;
	j->pid = 0;
	if (opts->key_field > 0)
		j->partition = partition_of(key, keylen);
	reorder[j->seq & reorder_mask] = idx;
	dispatch_submit(idx);
}

/* Turns buffered lines into jobs while the ledger has room. */
static void
take_lines(void)
{
	char	*p, *nl;
	size_t	 len;

	have_line = 0;
	while (in.len > 0) {
		p = buf_head(&in);
		nl = memchr(p, sep, in.len);
		if (ledger_room() == 0) {
			have_line = nl != NULL || input_eof;
			break;
		}
		if (skipping) {
			/* The rest of an overlong line goes to --failed. */
			failed_write(p, nl != NULL ? (size_t)(nl - p) : in.len,
			    nl != NULL);
			if (nl == NULL) {
				buf_consume(&in, in.len);
				break;
			}
			skipping = 0;
			buf_consume(&in, nl - p + 1);
			continue;
		}
		if (nl == NULL) {
			if (in.len < opts->frame_max && !input_eof)
				break;
			if (!input_eof) {
				/* No newline within a frame's size: drop it. */
				reject_line("longer than the maximum frame size",
				    p, in.len, 0);
				skipping = 1;
				buf_consume(&in, in.len);
				break;
			}
			len = in.len;	/* the last line, without newline */
		} else
			len = nl - p;
		take_line(p, len);
		buf_consume(&in, nl != NULL ? len + 1 : len);
	}
	if (in.len == 0)
		buf_shrink(&in, 4 * INPUT_CHUNK);
}

static int
wants_input(void)
{
	return !input_eof && !input_stopped && ledger_room() > 0 && !have_line;
}

static void
input_ready(evutil_socket_t fd, short ev, void *arg)
{
	ssize_t	n;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!wants_input())
		return;
	n = buf_read(&in, STDIN_FILENO, INPUT_CHUNK);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1)
		fatal("reading standard input");
	if (n == 0) {
		input_eof = 1;
		if (skipping)
			failed_write(NULL, 0, 1);
	}
	supervisor_wake();
}

/*
 * Called every loop turn: takes input while there is room for it.  Input
 * that cannot be polled is read on a timer of no delay, not by making the
 * event active: the loop then looks at its descriptors and signals
 * between two reads, even while lines too long to take go by.
 */
static void
batch_room(void)
{
	struct timeval	now = { 0, 0 };

	if (halting == 1)
		halt();		/* before more jobs are sent */
	if (input_stopped)
		return;
	take_lines();
	if (wants_input()) {
		if (input_pollable) {
			if (!event_pending(ev_input, EV_READ, NULL))
				event_add(ev_input, NULL);
		} else if (!event_pending(ev_input, EV_TIMEOUT, NULL))
			event_add(ev_input, &now);
	} else if (input_pollable && event_pending(ev_input, EV_READ, NULL))
		event_del(ev_input);
}

static void
batch_flush(void)
{
	if (started_ns == 0) {
		started_ns = now_ns();
		progress_start();
	}
	if (halting == 1)
		halt();
	if (out.len > 0 || (opts->joblog_path != NULL &&
	    joblog_pending() > 0))
		write_output();
}

/* What progress.c shows. */
void
batch_tally(struct batch_tally *t)
{
	t->ok = nok;
	t->failed = nfailed;
	t->taken = next_seq - 1;
	t->input_done = input_eof && in.len == 0;
	t->started_ns = started_ns;
}

/* Takes no more input; what was read and not taken stays for --failed. */
static void
stop_input(void)
{
	input_stopped = 1;
	event_del(ev_input);
}

static uint32_t
jobs_running(void)
{
	uint32_t	idx, n = ledger_size(), running = 0;

	for (idx = 0; idx < n; idx++)
		if (ledger_job(idx)->state == JOB_INFLIGHT)
			running++;
	return running;
}

/* A job that waited for a worker is not run: stopped, or --halt soon. */
static void
withdrawn(uint32_t idx)
{
	nwithdrawn++;
	ledger_job(idx)->state = JOB_DONE;
	ledger_job(idx)->status = STATUS_NOT_RUN;
	batch_job_done(idx, "", 0);
}

/*
 * The first SIGINT or SIGTERM: start no more jobs.  Those at a worker
 * finish, within the shutdown timeout; those queued are withdrawn, to
 * --failed.  A second signal stops at once (a second SIGINT in main.c).
 */
static void
batch_stop_input(int sig)
{
	const char	*name = sig == SIGINT ? "interrupt" : "SIGTERM";
	const char	*again = sig == SIGINT ? "Ctrl-C" : "SIGTERM";
	char		 within[64];
	uint32_t	 running;

	if (interrupted++ > 0) {
		progress_clear();
		log_warnx("%s again: stopping now", name);
		finish_now("stopped by a second signal", 128 + stop_signal);
	}
	stop_signal = sig;
	stop_input();
	dispatch_withdraw(withdrawn);
	running = jobs_running();
	progress_clear();
	if (running == 0) {
		log_warnx("%s: stopping; no job running", name);
	} else {
		if (opts->shutdown_timeout_ns > 0)
			snprintf(within, sizeof within, " within %g s",
			    opts->shutdown_timeout_ns / 1e9);
		else
			within[0] = '\0';
		log_warnx("%s: stopping; %u job%s running finish%s%s; %s again "
		    "to stop now", name, running, running == 1 ? "" : "s",
		    running == 1 ? "es" : "", within, again);
	}
	supervisor_draining();
}

/* A job taken is not run to its end: stopped at its worker, or queued. */
static void
not_finished(uint32_t idx)
{
	struct job	*j = ledger_job(idx);

	if (j->state == JOB_QUEUED)
		nwithdrawn++;
	else
		nunfinished++;
	j->state = JOB_DONE;
	j->status = STATUS_NOT_RUN;
	emit(idx, "", 0);
}

static int
by_seq(const void *a, const void *b)
{
	uint64_t	x = ledger_job(*(const uint32_t *)a)->seq;
	uint64_t	y = ledger_job(*(const uint32_t *)b)->seq;

	return x < y ? -1 : x > y;
}

/*
 * Writes out every job taken, the workers gone: the results that
 * finished, and the jobs that did not as not run, in input order.
 */
static void
finish_jobs(void)
{
	struct job	*j;
	uint32_t	 idx, n = ledger_size(), *live;
	size_t		 k = 0, i;

	if (reorder == NULL || jobs_finished)
		return;
	jobs_finished = 1;
	/* Finished results waiting for their turn are written all the same. */
	for (; opts->order == ORDER_INPUT && out_next < next_seq; out_next++) {
		idx = reorder[out_next & reorder_mask];
		j = ledger_job(idx);
		if (j->state != JOB_DONE)
			not_finished(idx);
		else
			emit(idx, j->result.p, j->result.len);
	}
	/* In completion order the jobs left are in no order: sort them. */
	live = reallocarray(NULL, ledger_live() + 1, sizeof *live);
	for (idx = 0; idx < n; idx++) {
		if (ledger_job(idx)->state == JOB_FREE)
			continue;
		if (live != NULL)
			live[k++] = idx;
		else
			not_finished(idx);
	}
	if (live == NULL)
		return;
	qsort(live, k, sizeof *live, by_seq);
	for (i = 0; i < k; i++)
		not_finished(live[i]);
	free(live);
}

/* Stops here: the workers are killed, and every job taken written out. */
static void __attribute__((noreturn))
finish_now(const char *when, int status)
{
	pool_kill_all();
	unfinished_when = when;
	finish_jobs();
	supervisor_abort(status);
}

/* The drain took too long: what is unfinished is reported, not lost. */
static void
batch_expired(void)
{
	uint32_t	running = jobs_running();

	progress_clear();
	log_warnx("shutdown timeout: stopping the %u job%s still running",
	    running, running == 1 ? "" : "s");
	finish_now("unfinished at the shutdown timeout", 128 + stop_signal);
}

/*
 * --halt: enough jobs have failed, succeeded or ended.  now: stop at once;
 * soon: read no more input, start no job that waits, let those the
 * workers hold finish.  Halting on failures exits 1, on successes 0, on
 * jobs ended as any run does.
 */
static void
halt(void)
{
	static const char	*whats[] = { "failed", "succeeded", "ended" };
	static const char	*whys[] = { "fail", "success", "done" };
	uint64_t		 n;
	char			 of[64], spec[64];

	halting = 2;
	n = opts->halt_why == HALT_FAIL ? nfailed :
	    opts->halt_why == HALT_SUCCESS ? nok : nok + nfailed;
	of[0] = '\0';
	if (opts->halt_percent > 0) {
		snprintf(of, sizeof of, " of %llu", opts->halt_why ==
		    HALT_DONE ? (unsigned long long)(next_line - 1) :
		    (unsigned long long)(nok + nfailed));
		snprintf(spec, sizeof spec, "%g%%", opts->halt_percent);
	} else
		snprintf(spec, sizeof spec, "%lu",
		    (unsigned long)opts->halt_count);
	progress_clear();
	log_warnx("halting: %llu job%s%s %s (--halt %s,%s=%s)",
	    (unsigned long long)n, n == 1 ? "" : "s", of,
	    whats[opts->halt_why], opts->halt_when == HALT_NOW ? "now" :
	    "soon", whys[opts->halt_why], spec);
	if (opts->halt_why == HALT_FAIL)
		halt_status = 1;
	else if (opts->halt_why == HALT_SUCCESS)
		halt_status = 0;
	if (opts->halt_when == HALT_NOW)
		finish_now("stopped by --halt now", halt_status >= 0 ?
		    halt_status : nfailed > 0);
	stop_input();
	dispatch_withdraw(withdrawn);
}

/*
 * Copies the whole lines of in, all of it at the end of the input, to
 * --failed, and counts them.  The rest of an overlong line being skipped
 * was counted as it was rejected.
 */
static void
copy_lines(void)
{
	const char	*p = buf_head(&in), *nl, *end;
	size_t		 len = in.len;

	if (!input_eof) {
		nl = memrchr(p, sep, in.len);
		if (nl == NULL && in.len < opts->frame_max)
			return;
		if (nl != NULL)
			len = nl - p + 1;
	}
	failed_write(p, len, 0);
	for (end = p + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, sep, end - p)) == NULL) {
			if (input_eof) {
				failed_write(NULL, 0, 1);
				nunread++;
			}
			break;
		}
		if (skipping)
			skipping = 0;
		else
			nunread++;
	}
	buf_consume(&in, len);
}

/*
 * What was never read of the input goes to --failed after the jobs taken,
 * so that the file holds every line not run, in input order.  A file is
 * read to its end.  A pipe is read while it gives more within a moment,
 * up to a bound: a producer that got the same ^C ends at once, but one
 * such as yes(1) never does.  A terminal is not read.
 */
static void
copy_unread(void)
{
	struct pollfd	pfd;
	struct stat	st;
	size_t		total = 0;
	ssize_t		n;
	int		regular;

	if (unread_left != NULL || (input_eof && in.len == 0))
		return;
	if (failed_fp == NULL) {
		unread_left = "";
		return;
	}
	regular = fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	for (;;) {
		copy_lines();
		if (input_eof)
			break;
		if (isatty(STDIN_FILENO)) {
			unread_left = "standard input is a terminal";
			break;
		}
		if (!regular && total >= UNREAD_MAX) {
			unread_left = "standard input did not end";
			break;
		}
		if (!regular && poll(&pfd, 1, UNREAD_WAIT_MS) == 0) {
			unread_left = "standard input did not end";
			break;
		}
		n = buf_read(&in, STDIN_FILENO, INPUT_CHUNK);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			log_warn("reading standard input for %s",
			    opts->failed_path);
			unread_left = "it could not be read";
			break;
		}
		if (n == 0)
			input_eof = 1;
		total += n;
	}
	fflush(failed_fp);
}

/* The end of a run: what did not run and, with -v, how it went. */
static void
batch_summary(void)
{
	static int	 done;
	char		 why[256];
	uint64_t	 notrun = nwithdrawn + nunfinished + nunread, ended;
	double		 wall;
	int		 n = 0;

	if (done++)
		return;
	progress_end();
	if (nshown > FAILURES_SHOWN)
		log_warnx("... and %llu more failure%s; %s%s",
		    (unsigned long long)(nshown - FAILURES_SHOWN),
		    nshown - FAILURES_SHOWN == 1 ? "" : "s",
		    failed_fp != NULL ? "see " : "--failed FILE keeps "
		    "their lines", failed_fp != NULL ? opts->failed_path : "");
	why[0] = '\0';
	if (nunfinished > 0)
		n += snprintf(why + n, sizeof why - n, "%s%llu %s",
		    n > 0 ? ", " : "", (unsigned long long)nunfinished,
		    unfinished_when);
	if (nwithdrawn > 0 && n < (int)sizeof why)
		n += snprintf(why + n, sizeof why - n, "%s%llu queued",
		    n > 0 ? ", " : "", (unsigned long long)nwithdrawn);
	if (nunread > 0 && n < (int)sizeof why)
		n += snprintf(why + n, sizeof why - n, "%s%llu not read",
		    n > 0 ? ", " : "", (unsigned long long)nunread);
	if (notrun > 0 && failed_fp != NULL && unread_left != NULL)
		log_warnx("%llu job%s not run (%s); written to %s; input "
		    "after line %llu not read: %s", (unsigned long long)notrun,
		    notrun == 1 ? "" : "s", why, opts->failed_path,
		    (unsigned long long)(next_line - 1 + nunread), unread_left);
	else if (notrun > 0 && failed_fp != NULL)
		log_warnx("%llu job%s not run (%s); written to %s",
		    (unsigned long long)notrun, notrun == 1 ? "" : "s", why,
		    opts->failed_path);
	else if (notrun > 0)
		log_warnx("%llu job%s not run (%s)%s; --failed FILE would "
		    "keep them", (unsigned long long)notrun,
		    notrun == 1 ? "" : "s", why, unread_left != NULL ?
		    ", nor the input after them" : "");
	else if (unread_left != NULL)
		log_warnx("input from line %llu on not read%s%s",
		    (unsigned long long)next_line, *unread_left != '\0' ?
		    ": " : "", unread_left);
	ended = nok + nfailed;
	wall = started_ns != 0 ? (now_ns() - started_ns) / 1e9 : 0;
	log_info("%llu ok, %llu failed, %llu not run%s in %.2f s: %.0f jobs/s",
	    (unsigned long long)nok, (unsigned long long)nfailed,
	    (unsigned long long)notrun, unread_left != NULL ? " (and input "
	    "not read)" : "", wall, wall > 0 ? ended / wall : 0);
}

static int
batch_finished(void)
{
	return (input_stopped || (input_eof && in.len == 0)) &&
	    ledger_live() == 0;
}

static int
batch_status(void)
{
	copy_unread();
	batch_summary();
	if (nkeyless > 0)
		log_warnx("%llu line%s had no field %d", (unsigned long long)
		    nkeyless, nkeyless == 1 ? "" : "s", opts->key_field);
	if (stop_signal != 0)
		return 128 + stop_signal;
	if (halt_status >= 0)
		return halt_status;
	return nfailed > 0 ? 1 : 0;
}

/*
 * Before an early exit, the workers gone: the results ready still go out,
 * and every job not run to --failed.
 */
static void
batch_abort(void)
{
	static int	aborting;

	if (aborting++)
		return;
	if (interrupted > 0 && !jobs_finished)
		unfinished_when = "stopped by a second signal";
	finish_jobs();
	while (out.len > 0 && buf_write(&out, STDOUT_FILENO) > 0)
		;
	/* The log says no more than standard output got. */
	if (out.len == 0 && opts->joblog_path != NULL)
		joblog_flush();
	copy_unread();
	batch_summary();
}

const struct intake batch_intake = {
	.init = batch_init,
	.room = batch_room,
	.flush = batch_flush,
	.job_done = batch_job_done,
	.stop = batch_stop_input,
	.finished = batch_finished,
	.expired = batch_expired,
	.abort = batch_abort,
	.exit_status = batch_status,
};

