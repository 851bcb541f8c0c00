/*
 * Batch mode's job log (--joblog FILE), in GNU parallel's format: a header,
 * then one line for each job that ran, written as its result goes out, so
 * that a run stopped in any way leaves a list of what is done that a
 * --resume, ours or parallel's, can trust.  A line goes to the file only
 * after the result it stands for has gone to standard output, and lines
 * are written whole, with one write(2) on a descriptor opened to append:
 * a run killed at any moment leaves at most its last line cut short.
 *
 * --resume reads the log first and keeps, for each job in it, its number,
 * whether it failed and a hash of its input line: not the lines.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

#define JOBLOG_HEADER	"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t" \
			"Exitval\tSignal\tCommand\n"
#define FNV32_OFFSET	2166136261U
#define FNV32_PRIME	16777619U

/* A job the log has: --resume skips it, or with --resume-failed reruns it. */
struct logged {
	uint64_t	 seq;
	uint32_t	 hash;		/* of its Command */
	uint32_t	 ok;
};

static int		 log_fd = -1;
static struct buf	 pending;	/* lines whose results are not out yet */
static int64_t		 epoch_offset_ns;	/* CLOCK_REALTIME - MONOTONIC */
static struct logged	*logged;
static size_t		 nlogged;
static size_t		 cursor;	/* input only goes forward */
static int		 warned_memory;

/*
 * The hash of a Command as the log holds it.  A newline is written there
 * as a NUL byte (as GNU parallel does: a log line is one line), so the
 * input line is hashed so too.
 */
static uint32_t
command_hash(const char *p, size_t len)
{
	uint32_t	h = FNV32_OFFSET;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)(p[i] == '\n' ? '\0' : p[i]);
		h *= FNV32_PRIME;
	}
	return h;
}

static int
by_seq(const void *a, const void *b)
{
	const struct logged	*x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * One line of the log, without its newline: Seq and Exitval, Signal and
 * Command matter; the columns between are only checked to be there.
 * Returns -1 if it is not a job log line.
 */
static int
parse_line(char *line, size_t len, struct logged *l)
{
	char		*p = line, *end = line + len, *tab;
	const char	*errstr;
	char		*field[8];
	int		 i;

	for (i = 0; i < 8; i++) {
		if ((tab = memchr(p, '\t', end - p)) == NULL)
			return -1;
		*tab = '\0';
		field[i] = p;
		p = tab + 1;
	}
	if (field[0][0] < '1' || field[0][0] > '9')
		return -1;
	l->seq = strtonum(field[0], 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	for (i = 1; i < 8; i++)
		if (field[i][0] == '\0')
			return -1;
	/* As parallel's --resume-failed: done is exit 0 and no signal. */
	l->ok = strcmp(field[6], "0") == 0 && strcmp(field[7], "0") == 0;
	l->hash = command_hash(p, end - p);
	return 0;
}

/*
 * Reads the log for --resume; returns the length of its whole lines,
 * where appending starts: a last line cut short by a kill is dropped (its
 * job runs again).
 */
static off_t
read_log(const char *path)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0, alloc = 0, i, n;
	ssize_t		 len;
	off_t		 whole = 0;
	uint64_t	 lineno = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		fatal("%s", path);
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (line[len - 1] != '\n') {
			log_warnx("%s: its last line is cut short; that job "
			    "runs again", path);
			break;
		}
		whole += len;
		if (lineno == 1 && strcmp(line, JOBLOG_HEADER) == 0)
			continue;
		if (nlogged == alloc) {
			alloc = alloc == 0 ? 1024 : alloc * 2;
			logged = xreallocarray(logged, alloc, sizeof *logged);
		}
		if (parse_line(line, len - 1, &logged[nlogged]) == -1)
			fatalx("%s: line %llu is not a job log line", path,
			    (unsigned long long)lineno);
		nlogged++;
	}
	if (ferror(fp))
		fatal("%s", path);
	free(line);
	fclose(fp);

	/* One entry per job: done if any run of it was. */
	qsort(logged, nlogged, sizeof *logged, by_seq);
	for (i = 0, n = 0; i < nlogged; i++) {
		if (n > 0 && logged[n - 1].seq == logged[i].seq) {
			logged[n - 1].ok |= logged[i].ok;
			continue;
		}
		logged[n++] = logged[i];
	}
	nlogged = n;
	return whole;
}

/* At start-up: reads the log for --resume, and opens it to write. */
void
joblog_open(void)
{
	const char	*path = opts->joblog_path;
	struct timespec	 rt;
	off_t		 whole = 0;
	int		 flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;

	if (opts->resume || opts->resume_failed)
		whole = read_log(path);
	else
		flags |= O_TRUNC;
	if ((log_fd = open(path, flags, 0666)) == -1)
		fatal("%s", path);
	if (ftruncate(log_fd, whole) == -1 && whole > 0)
		fatal("%s", path);
	buf_init(&pending);
	if (whole == 0 && buf_append(&pending, JOBLOG_HEADER,
	    sizeof JOBLOG_HEADER - 1) == -1)
		fatal("%s", path);
	joblog_flush();
	clock_gettime(CLOCK_REALTIME, &rt);
	epoch_offset_ns = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec -
	    (int64_t)now_ns();
}

/*
 * --resume: whether input record seq is to be skipped, the log having it
 * as done (or, with --resume-failed, as done without failing).  A record
 * that is not the line the log has for it stops the run: the input is
 * not the one the log was written for.
 */
int
joblog_skip(uint64_t seq, const char *line, size_t len)
{
	const struct logged	*l;

	while (cursor < nlogged && logged[cursor].seq < seq)
		cursor++;
	if (cursor == nlogged || logged[cursor].seq != seq)
		return 0;
	l = &logged[cursor];
	if (command_hash(line, len) != l->hash) {
		log_warnx("line %llu differs from the Command of job %llu in "
		    "%s: not the input that log was written for; stopping",
		    (unsigned long long)seq, (unsigned long long)seq,
		    opts->joblog_path);
		supervisor_abort(2);
	}
	return opts->resume_failed ? l->ok : 1;
}

/*
 * A job that ran has finished: its line, queued until its result has
 * been written.  Host is the worker's pid; Exitval the job's status (0
 * ok, 1 error, 2 crashed, 3 timeout); Signal what killed its worker.
 */
void
joblog_record(const struct job *j, size_t received)
{
	const char	*cmd = j->data.p + j->keylen;
	size_t		 cmdlen = j->data.len - j->keylen, i;
	uint64_t	 start = j->started_ns + epoch_offset_ns;
	uint64_t	 ran = j->ended_ns > j->started_ns ?
			    j->ended_ns - j->started_ns : 0;
	char		 head[160], *p;
	int		 n;

	n = snprintf(head, sizeof head, "%llu\t%d\t%llu.%03llu\t%10.3f\t%zu\t"
	    "%zu\t%u\t%u\t", (unsigned long long)j->line, (int)j->pid,
	    (unsigned long long)(start / 1000000000ULL),
	    (unsigned long long)(start % 1000000000ULL / 1000000),
	    ran / 1e9, cmdlen, received, (unsigned)j->status,
	    (unsigned)j->signal);
	if ((p = buf_append_space(&pending, n + cmdlen + 1)) == NULL) {
		/* Not logged is safe: a resume runs it again. */
		if (warned_memory++ == 0)
			log_warn("line %llu: not in the job log",
			    (unsigned long long)j->line);
		return;
	}
	memcpy(p, head, n);
	p += n;
	for (i = 0; i < cmdlen; i++)
		p[i] = cmd[i] == '\n' ? '\0' : cmd[i];
	p[cmdlen] = '\n';
}

size_t
joblog_pending(void)
{
	return log_fd == -1 ? 0 : pending.len;
}

/* Writes the lines whose results are out, in one write(2) if it can. */
void
joblog_flush(void)
{
	const char	*path = opts->joblog_path;
	ssize_t		 n;

	if (log_fd == -1)
		return;
	while (pending.len > 0) {
		if ((n = buf_write(&pending, log_fd)) <= 0) {
			log_warn("%s: writing the job log; stopping", path);
			close(log_fd);
			log_fd = -1;
			supervisor_abort(2);
		}
	}
	buf_shrink(&pending, 64 * 1024);
}
