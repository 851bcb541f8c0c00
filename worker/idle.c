/*
 * What /proc says of an external program and the processes it started:
 * whether it is stopped (the heartbeats), and whether it is idle, every
 * thread of every process asleep waiting for input, so that it will write
 * nothing more until it is given more (the lines: relay, lines.c).
 *
 * Idle is read from each thread's state and the kernel function it sleeps
 * in (wchan): a pipe read, a poll, select or epoll wait, a futex or a wait
 * for a child.  A thread running, or asleep in anything else (a timer, a
 * socket, a full pipe), is busy.  One look cannot see all threads at one
 * moment: a thread looked at asleep may be woken by one that runs and then
 * sleeps before its turn.  So there are two looks in a row, and each
 * thread's schedstat, which counts the times it has run, must be the same
 * in both: then none ran in between, and all slept at once.  A thread
 * alone needs one look.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idle.h"

#define LOOK_TASKS	256	/* more threads than this: cannot tell */

struct look {
	size_t	 n;
	struct {
		long			 tid;
		unsigned long long	 ran;	/* ns on a CPU */
		unsigned long long	 runs;	/* times it was given one */
	} task[LOOK_TASKS];
};

/* The kernel functions a thread waiting for input sleeps in. */
static const char *const input_waits[] = {
	"pipe_read", "anon_pipe_read", "pipe_wait", "pipe_wait_readable",
	"poll_schedule_timeout", "do_sys_poll", "do_select",
	"core_sys_select", "ep_poll", "do_epoll_wait", "do_wait",
	"futex_wait_queue", "futex_wait_queue_me", "futex_do_wait",
	"futex_wait",
};

/* A small /proc file, NUL-terminated: its length, or -1 with errno. */
static ssize_t
read_small(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* A stat file's state letter, or -1 with errno if it cannot be read. */
static int
stat_state(const char *path)
{
	char	buf[512], *p;

	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	/* "pid (comm) S ...": comm may hold anything, the last ')' ends it. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ') {
		errno = EINVAL;
		return -1;
	}
	return (unsigned char)p[2];
}

/* Whether a process or thread that cannot be read has ended. */
static enum program_state
unreadable(void)
{
	return errno == ENOENT || errno == ESRCH ? PROGRAM_BUSY :
	    PROGRAM_UNKNOWN;
}

static int
input_wait(const char *wchan)
{
	size_t	i, len = strcspn(wchan, ".\n");

	for (i = 0; i < sizeof input_waits / sizeof input_waits[0]; i++)
		if (strlen(input_waits[i]) == len &&
		    strncmp(wchan, input_waits[i], len) == 0)
			return 1;
	return 0;
}

static enum program_state	look_process(long, struct look *);

static enum program_state
look_task(long pid, long tid, struct look *l)
{
	char			 path[64], buf[512], *p, *end;
	enum program_state	 st = PROGRAM_IDLE, c;
	long			 child;
	int			 state;

	snprintf(path, sizeof path, "/proc/%ld/task/%ld/stat", pid, tid);
	if ((state = stat_state(path)) == -1)
		return unreadable();
	if (state == 'S') {
		snprintf(path, sizeof path, "/proc/%ld/task/%ld/wchan", pid,
		    tid);
		if (read_small(path, buf, sizeof buf) <= 0)
			return unreadable();
		/*
		 * "0": on its way to sleep or woken (busy for a moment), or
		 * a thread the kernel will not show this worker (what it
		 * will not show of the thread's system call says so).
		 */
		if (strcmp(buf, "0") == 0) {
			snprintf(path, sizeof path,
			    "/proc/%ld/task/%ld/syscall", pid, tid);
			return read_small(path, buf, sizeof buf) == -1 &&
			    (errno == EACCES || errno == EPERM) ?
			    PROGRAM_UNKNOWN : PROGRAM_BUSY;
		}
		if (!input_wait(buf))
			return PROGRAM_BUSY;
	} else if (state != 'Z' && state != 'X')
		return PROGRAM_BUSY;
	if (l->n == LOOK_TASKS)
		return PROGRAM_UNKNOWN;
	snprintf(path, sizeof path, "/proc/%ld/task/%ld/schedstat", pid, tid);
	if (read_small(path, buf, sizeof buf) <= 0)
		return unreadable();
	l->task[l->n].tid = tid;
	if (sscanf(buf, "%llu %*u %llu", &l->task[l->n].ran,
	    &l->task[l->n].runs) != 2)
		return PROGRAM_UNKNOWN;
	l->n++;
	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, tid);
	if (read_small(path, buf, sizeof buf) == -1)
		return unreadable();
	for (p = buf; *p != '\0'; p = end) {
		child = strtol(p, &end, 10);
		if (end == p)
			break;
		if ((c = look_process(child, l)) == PROGRAM_BUSY)
			return c;
		if (c == PROGRAM_UNKNOWN)
			st = c;
	}
	return st;
}

/* Every thread of a process, and its children's. */
static enum program_state
look_process(long pid, struct look *l)
{
	char			 path[64];
	enum program_state	 st = PROGRAM_IDLE, t;
	struct dirent		*de;
	DIR			*d;
	long			 tid;

	snprintf(path, sizeof path, "/proc/%ld/task", pid);
	if ((d = opendir(path)) == NULL)
		return unreadable();
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		tid = strtol(de->d_name, NULL, 10);
		if ((t = look_task(pid, tid, l)) == PROGRAM_BUSY) {
			st = t;
			break;
		}
		if (t == PROGRAM_UNKNOWN)
			st = t;
	}
	closedir(d);
	return st;
}

enum program_state
program_state(pid_t pid)
{
	struct look		 a, b;
	enum program_state	 st;
	size_t			 i;

	a.n = b.n = 0;
	if ((st = look_process(pid, &a)) != PROGRAM_IDLE)
		return st;
	/* A thread alone: no other can have woken it behind the look. */
	if (a.n == 1)
		return st;
	if ((st = look_process(pid, &b)) != PROGRAM_IDLE)
		return st;
	if (a.n != b.n)
		return PROGRAM_BUSY;
	for (i = 0; i < a.n; i++)
		if (a.task[i].tid != b.task[i].tid ||
		    a.task[i].ran != b.task[i].ran ||
		    a.task[i].runs != b.task[i].runs)
			return PROGRAM_BUSY;
	return PROGRAM_IDLE;
}

/* Not stopped (SIGSTOP, a debugger); running if /proc cannot tell. */
int
program_runs(pid_t pid)
{
	char	path[64];
	int	state;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((state = stat_state(path)) == -1)
		return 1;	/* no /proc to tell: the link alone decides */
	return state != 'T' && state != 't';
}
