/*
 * Descendants through /proc: each task's "children" file lists the
 * processes it forked or adopted.  Where the kernel has no such file,
 * every process's stat is read for its parent instead.  Only raw system
 * calls and hand-made paths here: a signal handler may call in.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "subtree.h"

#define PATH_SIZE	64
#define KILL_BATCH	64

int
subtree_adopt(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Appends s to a path being built in p (PATH_SIZE bytes), at *len. */
static void
path_add(char *p, size_t *len, const char *s)
{
	while (*s != '\0' && *len < PATH_SIZE - 1)
		p[(*len)++] = *s++;
	p[*len] = '\0';
}

static void
path_add_number(char *p, size_t *len, unsigned long n)
{
	char	digits[24];
	size_t	i = sizeof digits - 1;

	digits[i] = '\0';
	do {
		digits[--i] = '0' + n % 10;
		n /= 10;
	} while (n != 0 && i > 0);
	path_add(p, len, digits + i);
}

/* A directory entry's name as a number, or 0 when it is not one. */
static unsigned long
name_number(const char *s)
{
	unsigned long	n = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/*
 * Calls each(number, arg) for each numbered entry of a directory until it
 * returns non-zero, which is returned; -1 if the directory cannot be read.
 */
static int
each_numbered(const char *dir, int (*each)(unsigned long, void *), void *arg)
{
	char		 buf[4096];
	struct dirent64	*d;
	ssize_t		 n, off;
	unsigned long	 num;
	int		 fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	while (rc == 0 && (n = getdents64(fd, buf, sizeof buf)) > 0) {
		for (off = 0; rc == 0 && off < n; off += d->d_reclen) {
			d = (struct dirent64 *)(void *)(buf + off);
			if ((num = name_number(d->d_name)) != 0)
				rc = each(num, arg);
		}
	}
	close(fd);
	return rc;
}

struct walk {
	int	(*fn)(pid_t, void *);
	void	*arg;
	pid_t	 self;
	int	 missing;	/* no children file: the kernel lacks them */
};

/* One task's children file: its pids, separated by blanks. */
static int
task_children(unsigned long tid, void *arg)
{
	struct walk	*w = arg;
	char		 path[PATH_SIZE], buf[512];
	size_t		 len = 0;
	ssize_t		 n, i;
	pid_t		 pid = 0;
	int		 fd, rc = 0;

	path_add(path, &len, "/proc/self/task/");
	path_add_number(path, &len, tid);
	path_add(path, &len, "/children");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			w->missing = 1;
		return 0;
	}
	/* A pid may be cut between two reads: it carries over in pid. */
	while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
		for (i = 0; rc == 0 && i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9')
				pid = pid * 10 + (buf[i] - '0');
			else if (pid != 0) {
				rc = w->fn(pid, w->arg);
				pid = 0;
			}
		}
	}
	if (rc == 0 && pid != 0)
		rc = w->fn(pid, w->arg);
	close(fd);
	return rc;
}

/* Without children files: a process whose stat names us as its parent. */
static int
process_parent(unsigned long pid, void *arg)
{
	struct walk	*w = arg;
	char		 path[PATH_SIZE], buf[512], *p;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 ppid = 0;
	int		 fd;

	path_add(path, &len, "/proc/");
	path_add_number(path, &len, pid);
	path_add(path, &len, "/stat");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold anything; the last ')'
	 * ends it. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0' ||
	    p[3] != ' ')
		return 0;
	for (p += 4; *p >= '0' && *p <= '9'; p++)
		ppid = ppid * 10 + (*p - '0');
	return ppid == w->self ? w->fn((pid_t)pid, w->arg) : 0;
}

int
subtree_children(int (*fn)(pid_t, void *), void *arg)
{
	struct walk	w;

	w.fn = fn;
	w.arg = arg;
	w.self = getpid();
	w.missing = 0;
	if (each_numbered("/proc/self/task", task_children, &w) == -1)
		return -1;
	if (!w.missing)
		return 0;
	return each_numbered("/proc", process_parent, &w) == -1 ? -1 : 0;
}

struct batch {
	pid_t	pids[KILL_BATCH];
	int	n;
};

static int
collect(pid_t pid, void *arg)
{
	struct batch	*b = arg;

	b->pids[b->n++] = pid;
	return b->n == KILL_BATCH;
}

/*
 * Each round kills the children there are and waits for them; what they
 * leave behind is reparented to us as they die, and is the next round's.
 * __WALL: a child cloned with another exit signal (a sanitizer's tracer,
 * say) is reaped too.  A round that reaps nothing is the last, so that a
 * child we cannot wait for never holds us here.
 */
int
subtree_kill(void)
{
	struct batch	b;
	int		i, reaped, killed = 0, saved = errno;

	do {
		b.n = 0;
		if (subtree_children(collect, &b) == -1 || b.n == 0)
			break;
		for (i = 0; i < b.n; i++) {
			kill(-b.pids[i], SIGKILL);
			kill(b.pids[i], SIGKILL);
		}
		for (i = reaped = 0; i < b.n; i++) {
			pid_t	pid;

			while ((pid = waitpid(b.pids[i], NULL, __WALL)) == -1 &&
			    errno == EINTR)
				;
			if (pid == b.pids[i])
				reaped++;
		}
		killed += reaped;
	} while (reaped > 0);
	errno = saved;
	return killed;
}
