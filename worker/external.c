/*
 * External handlers: exec:CMD and lines:CMD.  The worker spawns CMD once
 * and relays jobs to it, over the program's standard input and output:
 *
 *	exec:	JOB frames in, RESULT frames out (doc/PROTOCOL.md, "External
 *		workers"); the program greets with HELLO first.
 *	lines:	a payload and a newline in, a line out per job; nothing
 *		in a line names its job, so lines.c passes the answers on
 *		only once they are known to be in step.
 *
 * The relay is pipelined: JOBs go on to the program as they arrive and
 * results go back as they come (a lines: filter gets them in windows),
 * with poll() on every descriptor and nothing ever blocking, so neither
 * side can fill a pipe and wait on the other.  The program answers in
 * order, so the oldest unanswered job is the one it is running: the slot
 * board points at it for the supervisor's timeout and crash accounting.
 *
 * Whatever the program writes is checked as the supervisor checks a
 * worker: a bad frame, a result out of turn or a line with no job is a
 * protocol error, and the worker exits, so the supervisor starts another
 * and delivers the unanswered jobs again; a result that did not check out
 * is never passed on.  The program is killed when the worker exits, and
 * dies with it if the worker is killed (PR_SET_PDEATHSIG).
 *
 * An exec: program that dies holding one job died of it: the board names
 * it, the worker exits, and the supervisor charges it an attempt.  One
 * that dies holding several may have finished some and not yet written
 * their results (a program may answer a batch with one write), so the
 * worker starts it again and gives it those jobs one at a time: the job
 * it dies on now is the culprit.  If none kills it, nobody is charged.
 * (A lines: filter's end is counted against the lines it read: lines.c.)
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/frame.h"
#include "idle.h"
#include "proto/link.h"
#include "proto/log.h"
#include "relay.h"
#include "proto/subtree.h"
#include "worker.h"

#define RELAY_HIGH	(1024 * 1024)	/* a buffer this full stops its feeder */
#define EXIT_GRACE_MS	1000		/* after EOF on its stdin, at most */

static void	spawn_child(struct relay *);
static void	await_hello(struct relay *);

static void
set_nonblocking(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("fcntl O_NONBLOCK");
}

/* In the forked child: descriptors 0, 1 and 2, then the program. */
static void
exec_child(const struct relay *r, int in, int out, int errpipe, pid_t worker)
{
	int	e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker)
		_exit(127);
	setpgid(0, 0);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(errpipe, WORKER_LINK_FD) == -1)
		_exit(127);
	/* The exec error pipe replaces the link, closed at exec. */
	fcntl(WORKER_LINK_FD, F_SETFD, FD_CLOEXEC);
	closefrom(WORKER_LINK_FD + 1);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	execvp(r->h->cmd[0], r->h->cmd);
	e = errno;
	if (write(WORKER_LINK_FD, &e, sizeof e) == -1)
		_exit(126);
	_exit(127);
}

/* Waits up to ms for the program to exit: 0 once it has, -1 if not. */
static int
wait_exit(struct relay *r, int ms)
{
	struct timespec	ts = { 0, 5000000 };
	siginfo_t	si;

	for (;;) {
		/* WNOWAIT: a zombie keeps its group's id from being reused
		 * until the group has been killed below. */
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, r->pid, &si, WEXITED | WNOHANG | WNOWAIT)
		    == 0 && si.si_pid == r->pid)
			return 0;
		if (ms <= 0)
			return -1;
		nanosleep(&ts, NULL);
		ms -= 5;
	}
}

/*
 * Kills what is left of the program's group and reaps the program, then
 * whatever it started elsewhere: the worker is a subreaper, so all that
 * the program left behind is the worker's own children now.
 */
static int
reap(struct relay *r, int grace_ms)
{
	int	status = 0;

	if (r->pid <= 0)
		return 0;
	wait_exit(r, grace_ms);
	kill(-r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) == -1 && errno == EINTR)
		;
	r->pid = -1;
	subtree_kill();
	return status;
}

static void
describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
}

/* Writes out to the link, blocking: the worker is on its way out. */
static void
drain_out(struct relay *r)
{
	struct pollfd	pfd = { WORKER_LINK_FD, POLLOUT, 0 };

	while (r->link.out.len > 0) {
		if (link_flush(&r->link, WORKER_LINK_FD) != -1)
			continue;
		if (errno != EAGAIN)
			return;		/* the supervisor is gone */
		poll(&pfd, 1, -1);
	}
}

/*
 * Ends the worker: the results that checked out go to the supervisor
 * first, the program is killed and reaped, and the worker exits.
 */
void
relay_exit(struct relay *r, int status)
{
	drain_out(r);
	if (r->to_child != -1)
		close(r->to_child);
	reap(r, 0);
	worker_exit(status);
}

void
relay_protocol_error(struct relay *r, const char *why)
{
	log_warnx("%s: protocol error: %s", program(r), why);
	relay_exit(r, EX_PROTOCOL);
}

/*
 * Reaps the program (after a moment to exit, with grace), reads what it
 * wrote before it ended, and says how it ended, in what.
 */
int
relay_reap(struct relay *r, int grace, char *what, size_t len)
{
	int	status;

	status = reap(r, grace ? EXIT_GRACE_MS : 0);
	while (link_fill(&r->prog, r->from_child) > 0)
		;
	describe(status, what, len);
	return status;
}

/*
 * A new program in place of the old one, which is killed if it still
 * runs; the jobs not yet answered go to the new one from the start.
 */
void
relay_respawn(struct relay *r)
{
	if (r->to_child != -1)
		close(r->to_child);
	reap(r, 0);
	close(r->from_child);
	r->to_child = r->from_child = -1;
	r->prog.in.off = r->prog.in.len = 0;
	r->written = 0;
	/* Should it fail to start now, no job is to blame. */
	__atomic_store_n(&r->board->job_id, 0, __ATOMIC_RELEASE);
	r->board_id = 0;
	spawn_child(r);
	if (r->h->kind == HANDLER_EXEC)
		await_hello(r);
	r->heard_ns = worker_clock_ns();
	relay_board_point(r);
}

/*
 * exec: the program ended on its own.  Holding one job, it died of that
 * one, which the board names: the worker exits, and the supervisor
 * charges it and delivers the rest again.  Holding more, it starts again
 * and takes them one at a time, so that the board can name the culprit.
 * (A lines: filter's end is lines_ended()'s.)
 */
static void
child_ended(struct relay *r, const char *how)
{
	char	what[128];
	pid_t	pid = r->pid;

	if (r->h->kind == HANDLER_LINES) {
		lines_ended(r, how);
		return;
	}
	describe(reap(r, EXIT_GRACE_MS), what, sizeof what);
	log_warnx("%s (pid %d)%s %s; %zu job%s unanswered", program(r),
	    (int)pid, how, what, r->count, r->count == 1 ? "" : "s");
	if (r->count <= 1 || r->careful > 0)
		relay_exit(r, EX_CHILD);
	log_warnx("%s: starting it again, to run them one at a time",
	    program(r));
	r->careful = r->count;
	relay_respawn(r);
}

/* Said once: a program that holds its answers is likely buffering. */
void
relay_hint(struct relay *r, const char *fmt, ...)
{
	char	what[128];
	va_list	ap;

	if (r->hinted)
		return;
	r->hinted = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	log_warnx("%s %s: its output is likely block-buffered; %s", program(r),
	    what, r->h->kind == HANDLER_LINES ? "make it line-buffered "
	    "(sed -u, grep --line-buffered, python3 -u, stdbuf -oL)" :
	    "make it flush each result (python3 -u, stdbuf -oL, fflush)");
}

static void
start_failed(struct relay *r, const char *fmt, const char *arg)
{
	char	why[1024], msg[1280];

	snprintf(why, sizeof why, fmt, arg);
	snprintf(msg, sizeof msg, "handler %s: %s", r->h->spec, why);
	if (r->to_child != -1)
		close(r->to_child);
	reap(r, 0);
	worker_start_failed(msg);
}

static void
spawn_child(struct relay *r)
{
	int	in[2], out[2], ep[2], e;
	ssize_t	n;
	pid_t	self = getpid();

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (r->pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		exec_child(r, in[0], out[1], ep[1], self);
	}
	setpgid(r->pid, r->pid);	/* either side may be first */
	close(in[0]);
	close(out[1]);
	close(ep[1]);
	r->to_child = in[1];
	r->from_child = out[0];
	/* The pipe closes at exec; a number through it is exec's errno. */
	while ((n = read(ep[0], &e, sizeof e)) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n == sizeof e)
		start_failed(r, "%s", strerror(e));
	set_nonblocking(r->to_child);
	set_nonblocking(r->from_child);
	set_nonblocking(WORKER_LINK_FD);
	log_debug("%s: started, pid %d", program(r), (int)r->pid);
}

/* --- the board and the jobs in order ------------------------------------ */

static void
ring_push(struct relay *r, uint64_t id, size_t len, int timed, int refused)
{
	struct sent	*s;
	size_t		 i;

	if (r->count == r->cap) {
		s = reallocarray(NULL, r->cap * 2 + 64, sizeof *s);
		if (s == NULL)
			fatal("out of memory for a job");
		for (i = 0; i < r->count; i++)
			s[i] = r->ring[(r->head + i) % r->cap];
		free(r->ring);
		r->ring = s;
		r->head = 0;
		r->cap = r->cap * 2 + 64;
	}
	s = &r->ring[(r->head + r->count++) % r->cap];
	s->id = id;
	s->len = len;
	s->timed = timed;
	s->refused = refused;
}

static struct sent *
ring_head(struct relay *r)
{
	return r->count == 0 ? NULL : &r->ring[r->head];
}

/* Bytes of jobs the program may be given now. */
static size_t
writable(const struct relay *r)
{
	size_t	limit = r->jobs.len;

	if (r->h->kind == HANDLER_LINES)
		return lines_writable(r);
	if (r->careful > 0 && r->count > 0)
		limit = r->ring[r->head].len;
	return limit > r->written ? limit - r->written : 0;
}

/*
 * The program runs its jobs in order, so the oldest unanswered one is
 * running, since it was sent or since the one before it was answered.
 * (A lines: filter's answers are held until they are known in step: the
 * oldest job it has not answered runs.)
 */
void
relay_board_point(struct relay *r)
{
	struct sent	*s = r->h->kind == HANDLER_LINES ? lines_running(r) :
			    ring_head(r);
	uint64_t	 id = s != NULL ? s->id : 0;

	if (id == r->board_id)
		return;
	if (s != NULL && s->timed)
		r->board->started_ns = worker_clock_ns();
	__atomic_store_n(&r->board->job_id, id, __ATOMIC_RELEASE);
	r->board_id = id;
}

static void	answered(struct relay *);

/* The oldest job's result, to the link. */
void
relay_answer(struct relay *r, int status, const char *p, size_t len)
{
	if (frame_append(&r->link.out, FRAME_RESULT, status, 0,
	    ring_head(r)->id, p, len) == -1)
		fatal("out of memory for a result");
	answered(r);
}

/* Answers the refused jobs now at the head: their turn has come. */
static void
answer_refused(struct relay *r)
{
	static const char	 msg[] = "the payload holds a newline: "
	    "lines: takes one line per job";
	struct sent		*s;

	while ((s = ring_head(r)) != NULL && s->refused)
		relay_answer(r, STATUS_ERROR, msg, sizeof msg - 1);
	relay_board_point(r);
}

/* The oldest job has its result: its bytes go, the next one runs. */
static void
answered(struct relay *r)
{
	struct sent	*s = ring_head(r);

	buf_consume(&r->jobs, s->len);
	r->written -= s->len;
	if (r->jobs.len == 0)
		buf_shrink(&r->jobs, 4 * LINK_READ_CHUNK);
	r->head = (r->head + 1) % r->cap;
	r->count--;
	if (r->careful > 0)
		r->careful--;
	answer_refused(r);
}

/* A result may come only for a job the program has been given whole. */
static void
check_sent(struct relay *r)
{
	struct sent	*s = ring_head(r);

	if (s == NULL)
		relay_protocol_error(r, "output with no job waiting for it");
	if (s->len > r->written)
		relay_protocol_error(r, "an answer to a job not yet sent whole");
}

/* --- from the link ------------------------------------------------------ */

/* One JOB from the link, the link's callback. */
static int
take_job(void *arg, const struct frame *f)
{
	struct relay	*r = arg;
	char		*p;

	if (r->h->kind == HANDLER_EXEC) {
		/* The program takes the JOB frame just as it came. */
		if (buf_append(&r->jobs, frame_start(f), frame_size(f->keylen,
		    f->paylen)) == -1)
			fatal("out of memory for a job");
		ring_push(r, f->id, frame_size(f->keylen, f->paylen),
		    f->arg != 0, 0);
	} else if (memchr(f->payload, '\n', f->paylen) != NULL)
		ring_push(r, f->id, 0, 0, 1);
	else {
		if ((p = buf_append_space(&r->jobs, f->paylen + 1)) == NULL)
			fatal("out of memory for a job");
		memcpy(p, f->payload, f->paylen);
		p[f->paylen] = '\n';
		ring_push(r, f->id, f->paylen + 1, f->arg != 0, 0);
	}
	if (r->count == 1)
		answer_refused(r);
	return 0;
}

/* 0 on EOF from the supervisor: time to go. */
static int
read_link(struct relay *r)
{
	ssize_t	n;

	n = link_fill(&r->link, WORKER_LINK_FD);
	if (n == 0)
		return 0;
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 1;
		fatal("read");
	}
	if (link_take(&r->link) == LINK_BAD) {
		log_warnx("protocol error: %s", r->link.why);
		relay_exit(r, EX_PROTOCOL);
	}
	buf_shrink(&r->link.in, 4 * LINK_READ_CHUNK);
	return 1;
}

/* --- from the program --------------------------------------------------- */

/*
 * exec: one frame from the program, the callback of its link, which has
 * checked it as the supervisor checks a worker's; what depends on the jobs
 * is checked here.
 */
static int
take_child_frame(void *arg, const struct frame *f)
{
	struct relay	*r = arg;
	struct sent	*s = ring_head(r);

	switch (f->type) {
	case FRAME_RESULT:
		if (s == NULL || f->id != s->id) {
			r->prog.why = "RESULT for a job it was not running";
			return -1;
		}
		check_sent(r);
		/* Checked: it goes on as it came. */
		if (buf_append(&r->link.out, frame_start(f),
		    frame_size(f->keylen, f->paylen)) == -1)
			fatal("out of memory for a result");
		answered(r);
		return 0;
	case FRAME_HEARTBEAT:
		if (f->id != 0 && (s == NULL || f->id != s->id)) {
			r->prog.why = "HEARTBEAT for a job it was not running";
			return -1;
		}
		return 0;
	case FRAME_ERROR:
		log_warnx("%s: %.*s", program(r), (int)f->paylen, f->payload);
		return 0;
	}
	r->prog.why = "unexpected message type";	/* a second HELLO */
	return -1;
}

static void
take_child_frames(struct relay *r)
{
	if (link_take(&r->prog) == LINK_BAD)
		relay_protocol_error(r, r->prog.why);
}

static void
read_child(struct relay *r)
{
	ssize_t	n;

	n = link_fill(&r->prog, r->from_child);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1)
		fatal("read from %s", program(r));
	if (n == 0) {
		child_ended(r, "");
		return;
	}
	r->heard_ns = worker_clock_ns();
	if (r->h->kind == HANDLER_EXEC)
		take_child_frames(r);
	else
		lines_take(r);
	buf_shrink(&r->prog.in, 4 * LINK_READ_CHUNK);
}

/*
 * The program closed its input: it will take no more jobs, so it is taken
 * as ended, once what it has answered has been read.
 */
static void
input_closed(struct relay *r)
{
	if (r->h->kind == HANDLER_LINES) {
		lines_ended(r, " closed its input and");
		return;
	}
	while (link_fill(&r->prog, r->from_child) > 0)
		;
	take_child_frames(r);
	child_ended(r, " closed its input and");
}

static void
write_child(struct relay *r)
{
	size_t	len = writable(r);
	ssize_t	n;

	if (len == 0)
		return;
	n = write(r->to_child, buf_head(&r->jobs) + r->written, len);
	if (n > 0) {
		r->written += n;
		r->heard_ns = worker_clock_ns();
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (errno != EPIPE)
		fatal("write to %s", program(r));
	input_closed(r);
}

static void
write_link(struct relay *r)
{
	if (link_flush(&r->link, WORKER_LINK_FD) != -1 || errno == EAGAIN ||
	    errno == EINTR)
		return;
	if (errno == EPIPE)
		relay_exit(r, 0);	/* the supervisor is gone */
	fatal("write");
}

/* --- start and end --------------------------------------------------------- */

/*
 * exec: the program's first frame, the callback of its link until then:
 * HELLO, checked here, or ERROR if it cannot start.
 */
static int
take_hello(void *arg, const struct frame *f)
{
	struct relay	*r = arg;
	const char	*why;
	char		 msg[512];

	if (f->type == FRAME_ERROR) {
		snprintf(msg, sizeof msg, "%.*s", (int)f->paylen, f->payload);
		start_failed(r, "%s", msg);
	}
	if (f->type != FRAME_HELLO)
		start_failed(r, "protocol error: %s before HELLO",
		    frame_type_name(f->type));
	if (frame_check(f, FRAME_FROM_PROGRAM, &why) == -1)
		start_failed(r, "protocol error: %s", why);
	return 1;
}

static void
await_hello(struct relay *r)
{
	struct pollfd	 pfd = { 0, POLLIN, 0 };
	char		 msg[512];
	ssize_t		 n;
	uint64_t	 deadline, now;
	int		 left;
	enum link_stop	 rc;

	pfd.fd = r->from_child;
	deadline = worker_clock_ns() + r->wc->start_timeout_ns;
	/* Before HELLO, any frame is the program's first: take_hello's. */
	r->prog.dir = FRAME_ANY;
	r->prog.fn = take_hello;
	for (;;) {
		rc = link_take(&r->prog);
		if (rc == LINK_BAD)
			start_failed(r, "protocol error before HELLO: %s",
			    r->prog.why);
		if (rc == LINK_STOPPED)
			break;
		if ((now = worker_clock_ns()) >= deadline)
			start_failed(r, "%s sent no HELLO within the start "
			    "timeout (--start-timeout)", program(r));
		left = (int)((deadline - now) / 1000000) + 1;
		if (poll(&pfd, 1, left) == -1 && errno != EINTR)
			fatal("poll");
		n = link_fill(&r->prog, r->from_child);
		if (n == 0) {
			describe(reap(r, EXIT_GRACE_MS), msg, sizeof msg);
			start_failed(r, "the program %s before its HELLO", msg);
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			fatal("read from %s", program(r));
	}
	r->prog.dir = FRAME_FROM_PROGRAM;
	r->prog.fn = take_child_frame;
}

/*
 * The moment a program gets to exit once its input is closed: within the
 * supervisor's --kill-grace, which then kills the worker, so that the
 * worker is still there to kill what the program leaves behind.
 */
static uint64_t
exit_grace_ns(const struct relay *r)
{
	uint64_t	grace = r->wc->kill_grace_ns / 2;

	return grace < EXIT_GRACE_MS * 1000000ULL ? grace :
	    EXIT_GRACE_MS * 1000000ULL;
}

/*
 * EOF from the supervisor: the program gets EOF on its input and a
 * moment to exit; what it still writes has nowhere to go.
 */
static void
relay_finish(struct relay *r)
{
	struct pollfd	pfd = { 0, POLLIN, 0 };
	uint64_t	deadline, now;
	char		sink[4096];

	pfd.fd = r->from_child;
	close(r->to_child);
	r->to_child = -1;
	deadline = worker_clock_ns() + exit_grace_ns(r);
	while ((now = worker_clock_ns()) < deadline) {
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		if (read(r->from_child, sink, sizeof sink) == 0)
			break;
	}
	/* Its output closed: a moment more to exit by itself. */
	now = worker_clock_ns();
	reap(r, now < deadline ? (int)((deadline - now) / 1000000) : 0);
	worker_exit(0);
}

/*
 * Heartbeats (--heartbeat-timeout): while the program holds jobs and runs,
 * the relay sends them for it.  A program that is stopped (SIGSTOP, a
 * debugger) gets none sent, so the supervisor finds its worker silent.
 */
static uint64_t
beat_every(const struct relay *r)
{
	uint64_t	every = r->wc->heartbeat_ns / 4;

	return every < 1000000 ? 1000000 : every;
}

static void
heartbeat(struct relay *r)
{
	uint64_t	now;

	if (r->wc->heartbeat_ns == 0 || r->count == 0)
		return;
	now = worker_clock_ns();
	if (now - r->beat_ns < beat_every(r))
		return;
	r->beat_ns = now;
	if (program_runs(r->pid) && frame_append(&r->link.out,
	    FRAME_HEARTBEAT, 0, 0, ring_head(r)->id, NULL, 0) == -1)
		fatal("out of memory for a heartbeat");
}

/*
 * exec: a program given its jobs whole that has said nothing for HINT_NS,
 * and is idle or cannot be seen, is likely holding its results in a
 * buffer.  One seen busy is working: it is looked at again later.
 */
static void
exec_hint(struct relay *r, uint64_t now)
{
	if (r->hinted || r->count == 0 || writable(r) > 0 ||
	    now < r->heard_ns + HINT_NS || now < r->look_ns)
		return;
	if (program_state(r->pid) == PROGRAM_BUSY) {
		r->look_ns = now + HINT_NS;
		return;
	}
	relay_hint(r, "has said nothing for %d s with jobs to answer", HINT_S);
}

/* How long poll() may wait: for a heartbeat, a hint, a look at a filter. */
static uint64_t
relay_wait_ns(struct relay *r)
{
	uint64_t	now = worker_clock_ns(), wait = UINT64_MAX, at;

	if (r->wc->heartbeat_ns != 0 && r->count > 0)
		wait = beat_every(r);
	if (r->h->kind == HANDLER_LINES)
		at = lines_look_ns(r);
	else if (!r->hinted && r->count > 0 && writable(r) == 0)
		at = r->heard_ns + HINT_NS > r->look_ns ?
		    r->heard_ns + HINT_NS : r->look_ns;
	else
		at = UINT64_MAX;
	if (at != UINT64_MAX && (at > now ? at - now : 0) < wait)
		wait = at > now ? at - now : 0;
	return wait;
}

/* poll() interest, from what each buffer holds. */
static int
relay_poll(struct relay *r, int link_open)
{
	struct pollfd	pfd[3];
	struct timespec	ts, *tsp = NULL;
	pid_t		pid = r->pid;
	uint64_t	wait;
	int		n;

	pfd[0].fd = WORKER_LINK_FD;
	pfd[0].events = (link_open && r->jobs.len - r->written < RELAY_HIGH ?
	    POLLIN : 0) | (r->link.out.len > 0 ? POLLOUT : 0);
	pfd[1].fd = r->to_child;
	pfd[1].events = writable(r) > 0 ? POLLOUT : 0;
	pfd[2].fd = r->from_child;
	pfd[2].events = r->link.out.len < RELAY_HIGH ? POLLIN : 0;
	if ((wait = relay_wait_ns(r)) != UINT64_MAX) {
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		tsp = &ts;
	}
	if ((n = ppoll(pfd, 3, tsp, NULL)) == -1) {
		if (errno == EINTR)
			return 1;
		fatal("poll");
	}
	if (pfd[2].revents != 0)
		read_child(r);
	/* A program started again has descriptors poll() did not see. */
	if (r->pid != pid)
		return 1;
	/* POLLERR comes whether asked or not: nobody reads the pipe. */
	if (pfd[1].revents & (POLLERR | POLLHUP)) {
		input_closed(r);
		return 1;
	}
	if (pfd[1].revents & POLLOUT)
		write_child(r);
	/* A hang-up is read even when the jobs wait: it is the end. */
	if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
	    read_link(r) == 0)
		return 0;
	if (pfd[0].revents & POLLOUT)
		write_link(r);
	return 1;
}

void
external_main(const struct worker_conf *wc)
{
	struct relay	r;

	memset(&r, 0, sizeof r);
	r.wc = wc;
	r.h = wc->handler;
	r.board = wc->board;
	r.to_child = r.from_child = -1;
	link_init(&r.link, wc->frame_max, FRAME_TO_WORKER, take_job, &r);
	link_init(&r.prog, wc->frame_max, FRAME_FROM_PROGRAM, take_child_frame,
	    &r);
	buf_init(&r.jobs);
	/* Never a NULL buffer: lines.c looks at empty ones too. */
	if (buf_reserve(&r.link.in, LINK_READ_CHUNK) == -1 ||
	    buf_reserve(&r.jobs, LINK_READ_CHUNK) == -1 ||
	    buf_reserve(&r.prog.in, LINK_READ_CHUNK) == -1)
		fatal("out of memory for buffers");
	/* A write to a program that has gone must be an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	r.win_next = 1;
	spawn_child(&r);
	if (r.h->kind == HANDLER_EXEC)
		await_hello(&r);
	if (frame_append(&r.link.out, FRAME_HELLO, wc->slot,
	    (uint32_t)getpid(), 0, NULL, 0) == -1)
		fatal("out of memory for a frame");
	drain_out(&r);

	for (;;) {
		if (!relay_poll(&r, 1))
			relay_finish(&r);
		heartbeat(&r);
		if (r.h->kind == HANDLER_LINES)
			lines_step(&r);
		else
			exec_hint(&r, worker_clock_ns());
		/* Pass on at once what the turn made: one write each. */
		if (writable(&r) > 0)
			write_child(&r);
		if (r.link.out.len > 0)
			write_link(&r);
	}
}
