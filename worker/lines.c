/*
 * lines:CMD, a filter's answers kept in step with their jobs.
 *
 * A filter answers each line with one line, in order, and nothing in a
 * line says which job it answers.  One that breaks that contract (sed p
 * writes two lines, grep -v none, sed without -u holds them in a buffer)
 * would have its answers paired with the wrong jobs.  So the jobs go to it
 * in windows, and a window's answers are passed on only once it has
 * settled: the filter has read every line of it (the pipe to it is
 * empty), has answered exactly as many, and is idle, waiting for input
 * (idle.c), so that no answer to it can still be on its way.  Then the
 * next window goes.  Windows grow while the filter keeps in step, so the
 * pause at each costs little per line.
 *
 * What is not known in step is never passed on:
 *
 *	more answers than lines: out of step, as soon as it is idle again;
 *	fewer, and the filter idle: it dropped lines or holds them in a
 *	buffer.  Its input is closed to tell which: a buffered filter
 *	writes what it holds and exits (and is started again);
 *	the filter ends by itself: it answered each line it read (the pipe
 *	says how many it did not), or it is out of step.
 *
 * A window out of step is run again one line at a time on a new filter,
 * each line a window of its own, so the line that is not answered with
 * one line is found: that job alone fails, with the reason.
 *
 * Where /proc cannot tell (none mounted), or the program never rests (a
 * thread on a timer), the clock decides: a window answered in full is
 * taken as settled after QUIET_NS of silence (BUSY_QUIET_NS for one seen
 * busy), one answered short is looked into after HINT_NS.  Counting cannot
 * see an extra line and a dropped one that cancel out inside one window,
 * nor answers in another order.
 */
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "idle.h"
#include "proto/log.h"
#include "relay.h"
#include "worker.h"

#define WIN_MAX		4096		/* lines in a window */
#define WIN_HELD	(1024 * 1024)	/* answers held past this: smaller */
#define LOOK_MIN_NS	20000ULL	/* answered in full: look again */
#define LOOK_SHORT_NS	100000ULL	/* answered short: look again */
#define LOOK_MAX_NS	50000000ULL
#define QUIET_NS	100000000ULL	/* unseen: settled after this */
#define BUSY_QUIET_NS	1000000000ULL	/* never idle: after this */
#define FLOOD		64		/* extra lines past which none is
					   waited for */
#define QUOTE_MAX	24		/* of a job's line, in the log */

static const char	 in_out[] = "is it one line out per line in?";

size_t
lines_writable(const struct relay *r)
{
	if (r->to_child == -1 || r->win_bytes <= r->written)
		return 0;
	return r->win_bytes - r->written;
}

/* The job the filter runs: the oldest of its window not yet answered. */
struct sent *
lines_running(const struct relay *r)
{
	return r->got < r->win ? ring_at(r, r->got) : NULL;
}

static void
look_soon(struct relay *r)
{
	r->look_ns = 0;
	r->look_wait_ns = LOOK_MIN_NS;
}

/*
 * The next look, later each time: a filter answered in full is idle in a
 * moment; one answered short works on, or has stopped (rarely), and is
 * not looked at before it usually takes to answer the lines it owes.
 */
static void
look_later(struct relay *r, uint64_t now, int short_answered)
{
	uint64_t	pace = r->line_ns * (r->got < r->win ? r->win - r->got : 0);

	if (short_answered && r->look_wait_ns < pace)
		r->look_wait_ns = pace < LOOK_MAX_NS ? pace : LOOK_MAX_NS;
	if (short_answered && r->look_wait_ns < LOOK_SHORT_NS)
		r->look_wait_ns = LOOK_SHORT_NS;
	r->look_ns = now + r->look_wait_ns;
	r->look_wait_ns *= 2;
	if (r->look_wait_ns > LOOK_MAX_NS)
		r->look_wait_ns = LOOK_MAX_NS;
}

/* When lines_step() is to look at the filter again (UINT64_MAX: later). */
uint64_t
lines_look_ns(const struct relay *r)
{
	if (r->win == 0 || lines_writable(r) > 0)
		return UINT64_MAX;
	return r->look_ns;
}

/*
 * Counts the whole lines the filter has written.  The first ones of a
 * window are held in prog.in; past them, the window is out of step and
 * none will be passed on, so they are only counted.
 */
void
lines_take(struct relay *r)
{
	char	*p = buf_head(&r->prog.in), *nl;

	while ((nl = memchr(p + r->seen, '\n', r->prog.in.len - r->seen))
	    != NULL) {
		if (frame_size(0, nl - p - r->held) > r->prog.frame_max)
			relay_protocol_error(r, "a line longer than the "
			    "maximum frame size");
		r->seen = nl - p + 1;
		if (++r->got <= r->win)
			r->held = r->seen;
		else {
			buf_consume(&r->prog.in, r->seen);
			p = buf_head(&r->prog.in);
			r->seen = r->held = 0;
		}
	}
	r->seen = r->prog.in.len;
	if (frame_size(0, r->prog.in.len - r->held) > r->prog.frame_max)
		relay_protocol_error(r, "a line longer than the maximum frame "
		    "size");
	/* Answered in full (or more): it should be idle in a moment. */
	if (r->got >= r->win)
		look_soon(r);
	relay_board_point(r);
}

static void
close_window(struct relay *r)
{
	r->win = r->win_bytes = r->got = r->held = r->seen = 0;
	r->prog.in.off = r->prog.in.len = 0;
}

/* The window's first n answers go on, in order, and it is closed. */
static void
release(struct relay *r, size_t n)
{
	char	*p, *nl;

	r->win = r->got = 0;
	while (n-- > 0) {
		p = buf_head(&r->prog.in);
		nl = memchr(p, '\n', r->prog.in.len);
		relay_answer(r, STATUS_OK, p, nl - p);
		buf_consume(&r->prog.in, nl - p + 1);
	}
	close_window(r);
}

/* The next window: the jobs from the head up to a refused one. */
static void
open_window(struct relay *r)
{
	struct sent	*s;
	size_t		 n = 0, bytes = 0, limit;

	limit = r->careful > 0 ? 1 : r->win_next;
	while (n < limit && n < r->count && !(s = ring_at(r, n))->refused) {
		bytes += s->len;
		n++;
	}
	if (n == 0)
		return;
	r->win = n;
	r->win_bytes = bytes;
	r->unread = 0;
	r->opened_ns = r->heard_ns = worker_clock_ns();
	look_soon(r);
	relay_board_point(r);
}

/* A window job's line for the log: cut short, and only printable. */
static void
quote(const struct relay *r, size_t i, char *buf, size_t len)
{
	const char	*p = buf_head(&r->jobs);
	size_t		 j, n, k = 0;

	for (j = 0; j < i; j++)
		p += ring_at(r, j)->len;
	n = ring_at(r, i)->len - 1;
	for (j = 0; j < n && j < QUOTE_MAX && k + 1 < len; j++)
		buf[k++] = isprint((unsigned char)p[j]) ? p[j] : '?';
	buf[k] = '\0';
	if (j < n)
		strlcat(buf, "...", len);
}

/*
 * The window is out of step: said once, with its first and last line (the
 * worker does not know their line numbers), and its jobs run again one
 * at a time on a new filter.
 */
static void
out_of_step(struct relay *r, const char *fmt, ...)
{
	char	why[384], first[QUOTE_MAX + 4], last[QUOTE_MAX + 4];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	quote(r, 0, first, sizeof first);
	quote(r, r->win - 1, last, sizeof last);
	log_warnx("%s: out of step: %s; running the %zu lines from \"%s\" to "
	    "\"%s\" again, one at a time", program(r), why, r->win, first,
	    last);
	r->said = 1;
	r->careful = r->win;
	r->win_next = 1;
	close_window(r);
	relay_respawn(r);
}

/*
 * A window of one line not answered with one line: that job fails.  A
 * filter seen idle is in step again and goes on; any other is replaced.
 */
static void
fail_line(struct relay *r, int idle)
{
	char	msg[256], line[QUOTE_MAX + 4];

	if (r->got > 1 + FLOOD)
		snprintf(msg, sizeof msg, "%s answered more than %d lines "
		    "for 1: %s", program(r), 1 + FLOOD, in_out);
	else
		snprintf(msg, sizeof msg, "%s answered %zu lines for 1: %s",
		    program(r), r->got, in_out);
	if (!r->said) {
		quote(r, 0, line, sizeof line);
		log_warnx("%s: out of step on the line \"%s\": %s", program(r),
		    line, msg);
		r->said = 1;
	}
	r->win_next = 1;
	close_window(r);
	relay_answer(r, STATUS_ERROR, msg, strlen(msg));
	if (!idle)
		relay_respawn(r);
}

/* More answers than the n lines it read. */
static void
answered_more(struct relay *r, size_t n, int idle)
{
	if (r->win == 1)
		fail_line(r, idle);
	else
		out_of_step(r, "it answered %s%zu lines for %zu",
		    r->got > n + FLOOD ? "more than " : "",
		    r->got > n + FLOOD ? n + FLOOD : r->got, n);
}

/*
 * The whole window is in step: its answers go on, and the next window is
 * larger, unless the answers held were many bytes.
 */
static void
in_step(struct relay *r)
{
	uint64_t	per = (worker_clock_ns() - r->opened_ns) / r->win;
	size_t		n = r->win, held = r->held;
	int		careful = r->careful > 0;

	release(r, n);
	if (careful)
		return;
	r->said = 0;
	r->line_ns = r->line_ns == 0 ? per : (3 * r->line_ns + per) / 4;
	if (held > WIN_HELD && r->win_next > 1)
		r->win_next /= 2;
	else if (n == r->win_next && r->win_next < WIN_MAX)
		r->win_next *= 2;
}

/* Its input closed: a filter that holds lines writes them and exits. */
static void
tell(struct relay *r)
{
	r->got_open = r->got;
	r->telling = 1;
	close(r->to_child);
	r->to_child = -1;
	look_soon(r);
}

static size_t
pipe_holds(int fd)
{
	int	n;

	return fd == -1 || ioctl(fd, FIONREAD, &n) == -1 || n < 0 ? 0 :
	    (size_t)n;
}

/* All of the window given: whether it has settled, and how. */
static void
settle(struct relay *r, uint64_t now)
{
	enum program_state	st;
	size_t			unread = pipe_holds(r->to_child);
	int			part = r->prog.in.len > r->held;
	int			quiet;

	/* Reading its input is progress: look soon after it. */
	if (unread != r->unread) {
		r->unread = unread;
		r->look_wait_ns = LOOK_SHORT_NS;
	}
	if (unread > 0) {
		look_later(r, now, 1);
		return;
	}
	st = program_state(r->pid);
	quiet = now - r->heard_ns >= (st == PROGRAM_BUSY ? BUSY_QUIET_NS :
	    QUIET_NS);
	/* Idle, with output not yet read: read it, then look again. */
	if (st == PROGRAM_IDLE && pipe_holds(r->from_child) > 0) {
		look_later(r, now, 0);
		return;
	}
	if (r->telling) {
		/* One that does not exit when its input closes is ended. */
		if (st == PROGRAM_IDLE || now - r->heard_ns >= HINT_NS)
			lines_ended(r, "");
		else
			look_later(r, now, 1);
	} else if (r->got > r->win) {
		if (st == PROGRAM_IDLE || quiet)
			answered_more(r, r->win, st == PROGRAM_IDLE);
		else
			look_later(r, now, 0);
	} else if (r->got == r->win && !part) {
		if (st == PROGRAM_IDLE || quiet)
			in_step(r);
		else
			look_later(r, now, 0);
	} else if (st == PROGRAM_IDLE)
		tell(r);
	else if (st == PROGRAM_UNKNOWN && now - r->heard_ns >= HINT_NS) {
		relay_hint(r, "has been silent for %d s with lines to answer",
		    HINT_S);
		tell(r);
	} else
		look_later(r, now, 1);
}

/* Once a loop turn: a window opened, looked at, settled. */
void
lines_step(struct relay *r)
{
	uint64_t	now;

	/* A flood (yes(1)) is not waited for, read or not. */
	if (r->win > 0 && r->got > r->win + FLOOD)
		answered_more(r, r->win, 0);
	else if (r->win > 0 && lines_writable(r) == 0 &&
	    (now = worker_clock_ns()) >= r->look_ns)
		settle(r, now);
	if (r->win == 0) {
		if (r->got > 0 || r->prog.in.len > 0)
			relay_protocol_error(r, "output with no job waiting "
			    "for it");
		open_window(r);
	}
}

/* How many of the window's lines the filter read, of the bytes it read. */
static size_t
lines_read(const struct relay *r, size_t bytes)
{
	size_t	i, off = 0;

	for (i = 0; i < r->win && off < bytes; i++)
		off += ring_at(r, i)->len;
	return i;
}

/*
 * The filter's output has ended (it exited, or closed its input, or its
 * input was closed to tell).  What it wrote is counted against the lines
 * it read: the lines it did not read go to the next filter.
 */
void
lines_ended(struct relay *r, const char *how)
{
	char	what[128], ended[256];
	size_t	unread = pipe_holds(r->to_child), read = 0;
	pid_t	pid = r->pid;
	int	status, told = r->telling;

	status = relay_reap(r, 1, what, sizeof what);
	lines_take(r);
	if (r->prog.in.len > r->held) {
		/* A last line with no newline is a line. */
		if (buf_append(&r->prog.in, "\n", 1) == -1)
			fatal("out of memory for a line");
		lines_take(r);
	}
	r->telling = 0;
	snprintf(ended, sizeof ended, "%s (pid %d)%s %s", program(r),
	    (int)pid, how, what);
	if (told)
		read = r->win;
	else if (unread < r->written)
		read = lines_read(r, r->written - unread);
	if (r->win == 0 || (r->got == 0 && read == 0 && !told)) {
		/* It took nothing: nobody is to blame, and the worker goes. */
		log_warnx("%s; %zu job%s unanswered", ended, r->count,
		    r->count == 1 ? "" : "s");
		close_window(r);
		relay_board_point(r);
		relay_exit(r, EX_CHILD);
	}
	if (r->got == read) {
		if (told && r->got > r->got_open)
			relay_hint(r, "answered only once its input was "
			    "closed");
		else if (!told)
			log_warnx("%s, having answered the %zu line%s it read; "
			    "starting it again", ended, read,
			    read == 1 ? "" : "s");
		if (read == r->win)
			in_step(r);
		else
			release(r, read);
		relay_respawn(r);
	} else if (r->got > read)
		answered_more(r, read, 0);
	else if (r->got == 0 && read == 1 && (!told || WIFSIGNALED(status))) {
		/* It died of that line: the board names it. */
		log_warnx("%s; %zu job%s unanswered", ended, r->count,
		    r->count == 1 ? "" : "s");
		relay_exit(r, EX_CHILD);
	} else if (r->win == 1)
		fail_line(r, 0);
	else if (told)
		out_of_step(r, "it answered %zu lines for %zu, its input "
		    "closed", r->got, r->win);
	else
		out_of_step(r, "%s, having answered %zu of the %zu lines it "
		    "read", ended, r->got, read);
}
