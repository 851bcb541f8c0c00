/*
 * cmd:TEMPLATE: the worker runs one command per job, as GNU parallel does,
 * with no shell unless the template names one.  The template is split
 * once into words, as exec: commands are (cmdline.c); for each job, the
 * replacement strings in a word are replaced by parts of the job's line:
 *
 *	{}	the line		{#}	the job's number
 *	{N}	field N (--colsep)	{.}	the line without its extension
 *	{/}	its basename		{//}	its dirname
 *	{/.}	its basename without extension
 *
 * and {N.}, {N/}, {N//}, {N/.} the same of field N.  A replacement is part
 * of one argument, never split again; a template with none gets the line
 * as its last argument.  The command's stdout is the result, its exit
 * status the job's: its stderr is forkpool's, its stdin /dev/null.
 *
 * The command runs in a process group of its own, which ^C at a terminal
 * does not reach (forkpool lets the jobs running finish), and dies with
 * its worker, however the worker ends: SIGKILL by PR_SET_PDEATHSIG, and
 * the worker's SIGTERM kills all it started.  What the command leaves
 * running in its group when it exits is killed: a job is over when its
 * command is.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/buf.h"
#include "proto/field.h"
#include "proto/frame.h"
#include "handler.h"
#include "worker.h"

#define READ_CHUNK	16384
#define NO_SUBST	SIZE_MAX	/* a word taken as it is */

enum rs_kind {
	RS_LINE,	/* {} or {N} */
	RS_NOEXT,	/* {.} */
	RS_BASE,	/* {/} */
	RS_DIR,		/* {//} */
	RS_BASE_NOEXT,	/* {/.} */
	RS_SEQ,		/* {#} */
};

struct rs {
	enum rs_kind	kind;
	int		field;	/* 0: the whole line */
};

struct cmd_state {
	char *const		*words;
	int			 nwords;
	int			 append;	/* the line is the last argument */
	const struct field_sep	*colsep;
	size_t			 result_max;
	pid_t			 self;
	char			**argv;		/* one job's */
	size_t			*at;		/* each word's offset in args */
	struct buf		 args;		/* the words replaced, per job */
	struct buf		 out;		/* the command's stdout */
};

/*
 * The replacement string at p, which starts with '{': its length, or 0
 * when it is none (then the '{' is a character like any other).
 */
static size_t
rs_parse(const char *p, struct rs *r)
{
	static const struct {
		const char	*end;
		enum rs_kind	 kind;
	} ends[] = {
		{ "}", RS_LINE }, { ".}", RS_NOEXT }, { "/}", RS_BASE },
		{ "//}", RS_DIR }, { "/.}", RS_BASE_NOEXT },
	};
	const char	*q = p + 1;
	long		 field = 0;
	size_t		 i, n;

	if (strncmp(p, "{#}", 3) == 0) {
		r->kind = RS_SEQ;
		r->field = 0;
		return 3;
	}
	if (*q >= '1' && *q <= '9')
		for (; *q >= '0' && *q <= '9'; q++)
			if ((field = field * 10 + (*q - '0')) > INT32_MAX)
				return 0;
	for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		n = strlen(ends[i].end);
		if (strncmp(q, ends[i].end, n) == 0) {
			r->kind = ends[i].kind;
			r->field = (int)field;
			return q + n - p;
		}
	}
	return 0;
}

int
cmd_has_replacement(const char *word)
{
	struct rs	r;

	for (; (word = strchr(word, '{')) != NULL; word++)
		if (rs_parse(word, &r) > 0)
			return 1;
	return 0;
}

/* {.}: less what follows the last dot, if no slash follows it. */
static size_t
without_extension(const char *s, size_t len)
{
	const char	*dot = memrchr(s, '.', len);

	if (dot == NULL || memchr(dot, '/', len - (dot - s)) != NULL)
		return len;
	return dot - s;
}

/* {//}: as dirname(1), a directory of "." or "/" when it has no other. */
static void
dirname_of(const char **s, size_t *len)
{
	const char	*p = *s;
	size_t		 n = *len;

	while (n > 1 && p[n - 1] == '/')
		n--;
	while (n > 0 && p[n - 1] != '/')
		n--;
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n == 0) {
		*s = ".";
		n = 1;
	}
	*len = n;
}

/* The value of a replacement string for a line; num holds {#}'s digits. */
static void
rs_value(const struct cmd_state *st, const struct rs *r,
    const struct fp_job *job, char *num, size_t numlen, const char **v,
    size_t *vlen)
{
	const char	*slash;

	if (r->kind == RS_SEQ) {
		*vlen = snprintf(num, numlen, "%llu",
		    (unsigned long long)job->id);
		*v = num;
		return;
	}
	*v = job->payload;
	*vlen = job->paylen;
	if (r->field > 0)
		field_get(st->colsep, job->payload, job->paylen, r->field, v,
		    vlen);
	switch (r->kind) {
	case RS_NOEXT:
		*vlen = without_extension(*v, *vlen);
		break;
	case RS_BASE:
	case RS_BASE_NOEXT:
		if ((slash = memrchr(*v, '/', *vlen)) != NULL) {
			*vlen -= slash + 1 - *v;
			*v = slash + 1;
		}
		if (r->kind == RS_BASE_NOEXT)
			*vlen = without_extension(*v, *vlen);
		break;
	case RS_DIR:
		dirname_of(v, vlen);
		break;
	default:
		break;
	}
}

/* One word of the template with its replacements done, into args. */
static int
replace_word(struct cmd_state *st, const char *w, const struct fp_job *job)
{
	struct rs	 r;
	char		 num[24];
	const char	*v;
	size_t		 n, vlen;

	while (*w != '\0') {
		if (*w == '{' && (n = rs_parse(w, &r)) > 0) {
			rs_value(st, &r, job, num, sizeof num, &v, &vlen);
			w += n;
		} else {
			v = w;
			vlen = 1 + strcspn(w + 1, "{");
			w += vlen;
		}
		if (buf_append(&st->args, v, vlen) == -1)
			return -1;
	}
	return buf_append(&st->args, "", 1);
}

/* The job's argv; -1 when out of memory. */
static int
make_argv(struct cmd_state *st, const struct fp_job *job)
{
	int	i, n = st->nwords;

	st->args.len = st->args.off = 0;
	for (i = 0; i < n; i++) {
		if (st->at[i] == NO_SUBST)
			continue;
		st->at[i] = st->args.len;
		if (replace_word(st, st->words[i], job) == -1)
			return -1;
	}
	if (st->append) {
		st->at[n] = st->args.len;
		if ((job->paylen > 0 && buf_append(&st->args, job->payload,
		    job->paylen) == -1) ||
		    buf_append(&st->args, "", 1) == -1)
			return -1;
		n++;
	}
	/* Only now: args may have moved as it grew. */
	for (i = 0; i < n; i++)
		st->argv[i] = st->at[i] == NO_SUBST ? st->words[i] :
		    st->args.data + st->at[i];
	st->argv[n] = NULL;
	return 0;
}

/*
 * The child between vfork() and exec: it shares the worker's memory, so
 * it only makes system calls, and tells why an exec failed in *errp.
 */
static void __attribute__((noreturn))
child(char **argv, int fd, const sigset_t *mask, pid_t parent,
    volatile int *errp)
{
	static const int	sigs[] = { SIGTERM, SIGALRM, SIGUSR1, SIGINT };
	size_t			i;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(fd, STDOUT_FILENO) == -1) {
		*errp = errno;
		_exit(127);
	}
	/* The worker's handlers, and its ignoring ^C, are not the command's. */
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	*errp = errno;
	_exit(127);
}

/*
 * Starts the job's command with its stdout on a pipe, whose end to read
 * is *fdp: its pid, or -1 with a message.
 */
static pid_t
spawn(struct cmd_state *st, int *fdp, char *err, size_t errlen)
{
	volatile int	 exec_errno = 0;
	sigset_t	 all, old;
	pid_t		 pid;
	int		 pfd[2], status;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* No handler of the worker may run in the child before its exec. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = vfork()) == 0)
		child(st->argv, pfd[1], &old, st->self, &exec_errno);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pfd[1]);
	if (pid == -1 || exec_errno != 0) {
		snprintf(err, errlen, "%s: %s", pid == -1 ? "fork" :
		    st->argv[0], strerror(pid == -1 ? errno : exec_errno));
		while (pid != -1 && waitpid(pid, &status, 0) == -1 &&
		    errno == EINTR)
			;
		close(pfd[0]);
		return -1;
	}
	*fdp = pfd[0];
	return pid;
}

/*
 * Reads the command's stdout to its end, so that it can finish: 0, or -1
 * with why when the result cannot hold it.
 */
static int
read_output(struct cmd_state *st, int fd, const char **why)
{
	struct buf	*b = &st->out;
	char		 sink[512];
	ssize_t		 n;

	*why = NULL;
	b->len = b->off = 0;
	for (;;) {
		if (*why == NULL && buf_reserve(b, READ_CHUNK) == -1)
			*why = "out of memory for its output";
		if (*why != NULL)
			n = read(fd, sink, sizeof sink);
		else
			n = read(fd, b->data + b->len, READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (*why != NULL)
			continue;
		b->len += n;
		if (b->len > st->result_max)
			*why = "its output is longer than a result can be "
			    "(--frame-max)";
	}
	return *why != NULL ? -1 : 0;
}

/*
 * A result is one line: the trailing newlines go, as from $(...) in a
 * shell, and each newline within becomes a space.
 */
static void
one_line(struct buf *b)
{
	char	*p, *end;

	while (b->len > 0 && b->data[b->len - 1] == '\n')
		b->len--;
	for (p = b->data, end = b->data + b->len;
	    (p = memchr(p, '\n', end - p)) != NULL; p++)
		*p = ' ';
}

static int
fail(struct fp_output *out, const char *msg)
{
	fp_output_append(out, msg, strlen(msg));
	return FP_HANDLER_ERROR;
}

static int
cmd_handle(void *arg, const struct fp_job *job, struct fp_output *out)
{
	struct cmd_state	*st = arg;
	const char		*toolong;
	siginfo_t		 info;
	char			 msg[256];
	pid_t			 pid;
	int			 fd, status;

	if (job->paylen > 0 && memchr(job->payload, '\0', job->paylen) != NULL)
		return fail(out, "the line holds a NUL byte, which no "
		    "argument can");
	if (make_argv(st, job) == -1)
		return fail(out, "out of memory for the command's arguments");
	if ((pid = spawn(st, &fd, msg, sizeof msg)) == -1)
		return fail(out, msg);
	read_output(st, fd, &toolong);
	close(fd);
	/*
	 * What it left behind in its group is killed while its zombie keeps
	 * the group's id from being taken; then it is reaped, and so is what
	 * was reparented to us.
	 */
	while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) == -1 &&
	    errno == EINTR)
		;
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (WIFSIGNALED(status)) {
		snprintf(msg, sizeof msg, "killed by signal %d",
		    WTERMSIG(status));
		return fail(out, msg);
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(msg, sizeof msg, "exit %d", WEXITSTATUS(status));
		return fail(out, msg);
	}
	if (toolong != NULL)
		return fail(out, toolong);
	one_line(&st->out);
	/* Nothing to append to a result buffer not yet allocated is no error. */
	if (st->out.len > 0 &&
	    fp_output_append(out, st->out.data, st->out.len) == -1)
		return FP_HANDLER_ERROR;
	buf_shrink(&st->out, 4 * READ_CHUNK);
	return FP_HANDLER_OK;
}

static void
cmd_fini(void *arg)
{
	struct cmd_state	*st = arg;

	if (st == NULL)
		return;
	buf_free(&st->args);
	buf_free(&st->out);
	free(st->argv);
	free(st->at);
	free(st);
}

int
cmd_init(const struct handler *h, void **state, char *err, size_t errlen)
{
	struct cmd_state	*st;
	uint32_t		 max = h->frame_max;
	int			 i, n;

	if (handler_threaded) {
		snprintf(err, errlen, "a command per job runs from a worker "
		    "process: not with --isolation thread");
		return -1;
	}
	for (n = 0; h->cmd[n] != NULL; n++)
		;
	if ((st = calloc(1, sizeof *st)) == NULL ||
	    (st->argv = calloc(n + 2, sizeof *st->argv)) == NULL ||
	    (st->at = calloc(n + 1, sizeof *st->at)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		cmd_fini(st);
		return -1;
	}
	st->words = h->cmd;
	st->nwords = n;
	st->append = 1;
	for (i = 0; i < n; i++) {
		st->at[i] = NO_SUBST;
		if (cmd_has_replacement(h->cmd[i])) {
			st->at[i] = 0;
			st->append = 0;
		}
	}
	st->colsep = h->colsep;
	if (max == 0)
		max = FRAME_MAX_DEFAULT;
	st->result_max = max - FRAME_HEADER_SIZE - FRAME_BODY_MIN;
	st->self = getpid();
	buf_init(&st->args);
	buf_init(&st->out);
	/* The worker's link is not the commands'. */
	fcntl(WORKER_LINK_FD, F_SETFD, FD_CLOEXEC);
	*state = st;
	return 0;
}

const struct fp_handler	cmd_handler = {
	.abi_version = FP_HANDLER_ABI_VERSION,
	.name = "cmd",
	.handle = cmd_handle,
	.fini = cmd_fini,
};
