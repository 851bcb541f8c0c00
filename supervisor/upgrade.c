/*
 * An upgrade without a lost job, as unicorn and nginx do it.  On SIGUSR2
 * the service runs its binary again, from the path it was started from,
 * with the same arguments, and hands the new supervisor three descriptors:
 * the listening socket, the locked pidfile and a pipe back.  The new one
 * accepts at once, beside the old one; once its workers are up it writes
 * its pid in the pidfile and says so on the pipe.  Then the old one stops
 * accepting, finishes the jobs its clients gave it, closes them and exits.
 * A new binary that cannot run, exits, or is not ready within
 * start_timeout leaves the old one serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/subtree.h"
#include "proto/xmalloc.h"
#include "supervisor.h"

/* Where the new supervisor finds what it is handed. */
#define ENV_LISTEN	"FORKPOOL_LISTEN_FD"
#define ENV_OWNED	"FORKPOOL_LISTEN_OWNED"	/* ours to unlink at exit */
#define ENV_READY	"FORKPOOL_READY_FD"
#define ENV_PIDFILE	"FORKPOOL_PIDFILE_FD"
#define FD_LISTEN	3
#define FD_READY	4
#define FD_PIDFILE	5

static char		*exe_path;	/* the binary as started */
static char		**exe_argv;

/* The old supervisor's side. */
static pid_t		 starting = -1;	/* the new one, not yet ready */
static pid_t		 successor = -1; /* the new one, serving */
static int		 from_new = -1;
static struct event	*ev_from_new;
static struct event	*ev_deadline;

/* The new supervisor's side. */
static int		 got_listen = -1;
static int		 got_owned;
static int		 got_pidfile = -1;
static int		 to_old = -1;

/* A descriptor named in the environment, which is then cleared; or -1. */
static int
env_fd(const char *name)
{
	const char	*s = getenv(name), *errstr;
	int		 fd;

	if (s == NULL)
		return -1;
	fd = strtonum(s, 3, INT_MAX, &errstr);
	unsetenv(name);
	if (errstr != NULL || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warnx("%s=%s: not a descriptor handed over; ignored",
		    name, s);
		return -1;
	}
	return fd;
}

/*
 * At start, before the title overwrites the arguments: what to run on
 * SIGUSR2, and what a predecessor handed over.  A path with a slash is
 * kept as given (made absolute), so that a link switched to another
 * version is followed; one found on PATH is the binary running now.
 */
void
upgrade_init(int argc, char **argv)
{
	char	path[PATH_MAX], cwd[PATH_MAX];
	ssize_t	n;
	int	i;

	if (argc > 0 && argv[0][0] == '/')
		exe_path = xstrdup(argv[0]);
	else if (argc > 0 && strchr(argv[0], '/') != NULL &&
	    getcwd(cwd, sizeof cwd) != NULL &&
	    (size_t)snprintf(path, sizeof path, "%s/%s", cwd, argv[0]) <
	    sizeof path)
		exe_path = xstrdup(path);
	else if ((n = readlink("/proc/self/exe", path, sizeof path - 1)) > 0) {
		path[n] = '\0';
		exe_path = xstrdup(path);
	}
	exe_argv = xreallocarray(NULL, argc + 1, sizeof *exe_argv);
	for (i = 0; i < argc; i++)
		exe_argv[i] = xstrdup(argv[i]);
	exe_argv[argc] = NULL;

	got_owned = getenv(ENV_OWNED) != NULL;
	unsetenv(ENV_OWNED);
	got_listen = env_fd(ENV_LISTEN);
	got_pidfile = env_fd(ENV_PIDFILE);
	to_old = env_fd(ENV_READY);
}

/*
 * The listening socket handed over by the supervisor this one replaces,
 * or -1; *owned says whether its path is ours to remove at exit.
 */
int
upgrade_listen_fd(int *owned, int *pidfile)
{
	*owned = got_owned;
	*pidfile = got_pidfile;
	return got_listen;
}

/* The new supervisor's workers are up: the old one may go. */
void
upgrade_ready(void)
{
	if (to_old == -1)
		return;
	if (pidfile_rewrite() == -1)
		log_warn("upgrade: pidfile");
	if (write(to_old, "R", 1) != 1)
		log_warn("upgrade: telling the old supervisor");
	else
		log_info("upgrade: ready; the old supervisor stops accepting");
	close(to_old);
	to_old = -1;
}

/* The new supervisor, starting or serving, is no stray to kill. */
int
upgrade_spares(pid_t pid)
{
	return pid > 0 && (pid == starting || pid == successor);
}

static void
upgrade_end(void)
{
	if (ev_from_new != NULL)
		event_free(ev_from_new);
	if (ev_deadline != NULL)
		event_free(ev_deadline);
	ev_from_new = ev_deadline = NULL;
	if (from_new != -1)
		close(from_new);
	from_new = -1;
	starting = -1;
}

static void
upgrade_failed(const char *why)
{
	log_warnx("upgrade: %s; still serving", why);
	upgrade_end();
}

static void
new_said(evutil_socket_t fd, short ev, void *arg)
{
	char	msg[1 + sizeof(int)], why[PATH_MAX + 64];
	ssize_t	n;
	int	err;

	(void)ev;
	(void)arg;
	loop_tick();
	if ((n = read(fd, msg, sizeof msg)) == -1 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	if (n >= 1 && msg[0] == 'R') {
		log_info("upgrade: pid %d serves; finishing the jobs taken, "
		    "then exiting", (int)starting);
		successor = starting;
		notify_handover(successor);
		service_handover();
		upgrade_end();
	} else if (n == (ssize_t)sizeof msg && msg[0] == 'E') {
		memcpy(&err, msg + 1, sizeof err);
		snprintf(why, sizeof why, "cannot run %s: %s", exe_path,
		    strerror(err));
		upgrade_failed(why);
	} else {
		snprintf(why, sizeof why, "the new supervisor (pid %d) "
		    "exited before it was ready", (int)starting);
		upgrade_failed(why);
	}
	supervisor_wake();
}

static void
new_too_slow(evutil_socket_t fd, short ev, void *arg)
{
	char	why[128];

	(void)fd;
	(void)ev;
	(void)arg;
	kill(starting, SIGKILL);
	snprintf(why, sizeof why, "the new supervisor (pid %d) was not "
	    "ready within start_timeout; killed it", (int)starting);
	upgrade_failed(why);
}

/*
 * In the child, between fork and exec: only calls safe there.  Each
 * descriptor is first moved above the numbers it goes to, so that no
 * dup2 overwrites another still to be moved.
 */
static void __attribute__((noreturn))
run_new(int listen, int ready, int pidfile)
{
	int	fds[3] = { listen, ready, pidfile }, i, err, out = ready;
	char	msg[1 + sizeof(int)];

	for (i = 0; i < 3; i++)
		if (fds[i] != -1 &&
		    (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16)) == -1)
			goto fail;
	out = fds[1];
	for (i = 0; i < 3; i++) {
		if (fds[i] == -1)
			close(FD_LISTEN + i);
		else if (dup2(fds[i], FD_LISTEN + i) == -1)
			goto fail;
	}
	out = FD_READY;
	closefrom(FD_PIDFILE + 1);
	execv(exe_path, exe_argv);
fail:
	err = errno;
	msg[0] = 'E';
	memcpy(msg + 1, &err, sizeof err);
	(void)!write(out, msg, sizeof msg);
	_exit(127);
}

/* We stop: a new supervisor not yet serving goes too. */
void
upgrade_cancel(void)
{
	if (starting == -1)
		return;
	kill(starting, SIGKILL);
	log_warnx("upgrade: stopping; killed the new supervisor (pid %d)",
	    (int)starting);
	upgrade_end();
}

/* SIGUSR2. */
void
upgrade_start(void)
{
	char	*watchdog;
	int	 p[2], listen, pidfile;
	pid_t	 pid;

	if (intake != &service_intake) {
		log_warnx("SIGUSR2: an upgrade is for service mode; ignored");
		return;
	}
	if (starting != -1 || successor != -1) {
		log_warnx("SIGUSR2: an upgrade is under way (pid %d); ignored",
		    (int)(starting != -1 ? starting : successor));
		return;
	}
	if (service_draining()) {
		log_warnx("SIGUSR2: draining; not upgrading");
		return;
	}
	if (exe_path == NULL) {
		log_warnx("SIGUSR2: the path of the binary is unknown; "
		    "not upgrading");
		return;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("upgrade: pipe");
		return;
	}
	listen = service_listen_fd();
	pidfile = pidfile_fd();
	/*
	 * The environment is made here, not in the child, where only calls
	 * safe after fork are made.  WATCHDOG_PID names us: left out, it
	 * lets the new supervisor take the watchdog on.
	 */
	watchdog = getenv("WATCHDOG_PID");
	watchdog = watchdog != NULL ? xstrdup(watchdog) : NULL;
	unsetenv("WATCHDOG_PID");
	setenv(ENV_LISTEN, "3", 1);
	setenv(ENV_READY, "4", 1);
	if (pidfile != -1)
		setenv(ENV_PIDFILE, "5", 1);
	if (service_listen_owned())
		setenv(ENV_OWNED, "1", 1);
	pid = fork();
	if (pid == 0)
		run_new(listen, p[1], pidfile);
	unsetenv(ENV_LISTEN);
	unsetenv(ENV_READY);
	unsetenv(ENV_PIDFILE);
	unsetenv(ENV_OWNED);
	if (watchdog != NULL) {
		setenv("WATCHDOG_PID", watchdog, 1);
		free(watchdog);
	}
	close(p[1]);
	if (pid == -1) {
		log_warn("upgrade: fork");
		close(p[0]);
		return;
	}
	starting = pid;
	from_new = p[0];
	ev_from_new = event_new(base, from_new, EV_READ | EV_PERSIST,
	    new_said, NULL);
	ev_deadline = evtimer_new(base, new_too_slow, NULL);
	if (ev_from_new == NULL || ev_deadline == NULL) {
		kill(starting, SIGKILL);
		upgrade_failed("event_new failed");
		return;
	}
	event_add(ev_from_new, NULL);
	if (opts->start_timeout_ns > 0)
		timer_add_ns(ev_deadline, opts->start_timeout_ns);
	log_info("upgrade: started %s as pid %d", exe_path, (int)pid);
}

static int
kill_unspared(pid_t pid, void *arg)
{
	(void)arg;
	if (!upgrade_spares(pid)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	return 0;
}

/*
 * At exit, what is left of our subtree is killed; after an upgrade the
 * new supervisor, still our child, is spared.
 */
void
upgrade_subtree_kill(void)
{
	if (successor == -1) {
		subtree_kill();
		return;
	}
	subtree_children(kill_unspared, NULL);
}
