/*
 * Batch mode: jobs are the lines of standard input, results the lines of
 * standard output, in input order (through a reorder ring) or in completion
 * order.  Input is read only while the ledger has room, so memory stays
 * flat however long the input.  A job that fails is reported on stderr
 * (and in --failed FILE), never dropped.
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
#include "proto/xmalloc.h"

#define INPUT_CHUNK	(64 * 1024)
#define OUTPUT_FLUSH	(64 * 1024)

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


static void	input_ready(evutil_socket_t, short, void *);
static void	halt(void);

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
	/*
	 * Pipes and terminals are polled; regular files and devices such as
	 * /dev/null cannot be, and are read whenever there is room.
	 */
	if (fstat(STDIN_FILENO, &st) == -1)
		fatal("standard input");
	input_pollable = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    isatty(STDIN_FILENO);
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
}

static void
failed_write(const char *p, size_t len, int end)
{
	if (failed_fp == NULL)
		return;
	if (len > 0)
		fwrite(p, 1, len, failed_fp);
	if (end) {
		fputc('\n', failed_fp);
		fflush(failed_fp);
	}
}

/* --halt: acted on at the end of the loop turn, not inside an emit. */
static void
count_failure(void)
{
	if (++nfailed >= opts->halt_fail && opts->halt_fail != 0 && !halting)
		halting = 1;
}

static void
report_failure(struct job *j, const char *msg, size_t msglen)
{
	const char	*line = j->data.p + j->keylen;
	size_t		 len = j->data.len - j->keylen;

	count_failure();
	if (j->status == STATUS_ERROR || j->status == STATUS_REJECTED)
		log_warnx("line %llu failed: %s: %.*s",
		    (unsigned long long)j->line,
		    frame_status_name(j->status), (int)msglen, msg);
	else
		log_warnx("line %llu failed: %s after %u attempt%s: %.*s",
		    (unsigned long long)j->line, frame_status_name(j->status),
		    j->attempt, j->attempt == 1 ? "" : "s",
		    (int)(len > 80 ? 80 : len), line);
	failed_write(line, len, 1);
}

/* Writes one finished job out and frees its record. */
static void
emit(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);
	char		*p;

	if (j->status != STATUS_OK)
		report_failure(j, res, len);
	else if ((p = buf_append_space(&out, len + 1)) != NULL) {
		memcpy(p, res, len);
		p[len] = '\n';
	} else {
		log_warn("line %llu: holding its result",
		    (unsigned long long)j->line);
		j->status = STATUS_ERROR;
		report_failure(j, "out of memory", 13);
	}
	ledger_release(idx);
	if (out.len >= OUTPUT_FLUSH)
		write_output();
}

static void
batch_job_done(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);

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

/* A line that cannot become a job; an overlong one is still being read. */
static void
reject_line(const char *why, const char *line, size_t len, int whole)
{
	count_failure();
	log_warnx("line %llu failed: rejected: %s",
	    (unsigned long long)next_line++, why);
	failed_write(line, len, whole);
}

static void
take_line(const char *line, size_t len)
{
	const char	*key = NULL;
	size_t		 keylen = 0;
	uint32_t	 idx;
	struct job	*j;

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
		nl = memchr(p, '\n', in.len);
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
	if (halting == 1)
		halt();
	if (out.len > 0)
		write_output();
}

/* SIGTERM or SIGINT: take no more input, finish what was taken. */
static void
batch_stop_input(int sig)
{
	if (input_stopped)
		return;
	input_stopped = 1;
	stop_signal = sig;
	event_del(ev_input);
	if (!input_eof || in.len > 0)
		log_warnx("%s: finishing the jobs taken, up to line %llu; "
		    "input after it is not read", strsignal(sig),
		    (unsigned long long)(next_line - 1));
	in.len = in.off = 0;
	supervisor_draining();
}

/*
 * Stops here: the workers are killed, the results that finished are
 * written, and every job not finished is reported as failed with why.
 */
static void __attribute__((noreturn))
finish_now(const char *unfinished, int status)
{
	struct job	*j;
	uint32_t	 idx, n = ledger_size();

	pool_kill_all();
	/* Finished results waiting for their turn are written all the same. */
	for (; opts->order == ORDER_INPUT && out_next < next_seq; out_next++) {
		idx = reorder[out_next & reorder_mask];
		j = ledger_job(idx);
		if (j->state != JOB_DONE) {
			j->status = STATUS_REJECTED;
			emit(idx, unfinished, strlen(unfinished));
		} else
			emit(idx, j->result.p, j->result.len);
	}
	for (idx = 0; idx < n; idx++) {
		j = ledger_job(idx);
		if (j->state != JOB_FREE) {
			j->status = STATUS_REJECTED;
			emit(idx, unfinished, strlen(unfinished));
		}
	}
	supervisor_abort(status);
}

/* The drain took too long: what is unfinished is reported, not lost. */
static void
batch_expired(void)
{
	uint32_t	idx, left, n = ledger_size();

	for (idx = 0, left = 0; idx < n; idx++)
		if (ledger_job(idx)->state == JOB_QUEUED ||
		    ledger_job(idx)->state == JOB_INFLIGHT)
			left++;
	log_warnx("shutdown timeout: %u job%s unfinished; stopping the "
	    "workers", left, left == 1 ? "" : "s");
	finish_now("not finished before the shutdown timeout",
	    128 + stop_signal);
}

static const char	 not_run[] = "not run: halted";

/* --halt soon: a job that was waiting for a worker is not run. */
static void
withdrawn(uint32_t idx)
{
	ledger_job(idx)->state = JOB_DONE;
	ledger_job(idx)->status = STATUS_REJECTED;
	batch_job_done(idx, not_run, sizeof not_run - 1);
}

/*
 * --halt: enough jobs have failed.  now: stop at once; soon: read no more
 * input, start no job that waits, let those the workers hold finish.
 */
static void
halt(void)
{
	halting = 2;
	log_warnx("halting: %llu job%s failed (--halt %s,fail=%lu)",
	    (unsigned long long)nfailed, nfailed == 1 ? "" : "s",
	    opts->halt_now ? "now" : "soon", opts->halt_fail);
	if (opts->halt_now)
		finish_now(not_run, 1);
	input_stopped = 1;
	event_del(ev_input);
	in.len = in.off = 0;
	dispatch_withdraw(withdrawn);
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
	if (nkeyless > 0)
		log_warnx("%llu line%s had no field %d", (unsigned long long)
		    nkeyless, nkeyless == 1 ? "" : "s", opts->key_field);
	if (stop_signal != 0)
		return 128 + stop_signal;
	return nfailed > 0 ? 1 : 0;
}

/* Before an early exit: what results are ready still go out. */
static void
batch_abort(void)
{
	while (out.len > 0 && buf_write(&out, STDOUT_FILENO) > 0)
		;
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

