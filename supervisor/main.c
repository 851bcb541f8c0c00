/*
 * forkpool: a pre-fork worker supervisor.  This file reads the options,
 * sets up the event loop and its signal events, and runs the loop until
 * every job has ended and every worker has gone.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "worker/handler.h"
#include "proto/log.h"
#include "proto/proctitle.h"
#include "proto/redisurl.h"
#include "proto/subtree.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

static struct options	 running;
struct options		*opts = &running;
struct event_base	*base;
const struct intake	*intake = &batch_intake;

static struct event	*ev_settle;	/* the end of a turn that changed things */
static struct event	*ev_drain;	/* --shutdown-timeout */
static int		 finishing;
static int		 interrupts;

enum {
	OPT_KILL_GRACE = 256,
	OPT_START_TIMEOUT,
	OPT_WINDOW,
	OPT_PARTITIONS,
	OPT_FRAME_MAX,
	OPT_FAILED,
	OPT_SHUTDOWN_TIMEOUT,
	OPT_SOCKET_MODE,
	OPT_PIDFILE,
	OPT_RATE_LIMIT,
	OPT_ALLOW_USER,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_JOBS,
	OPT_MAX_JOBS_JITTER,
	OPT_MAX_RSS,
	OPT_HEARTBEAT_TIMEOUT,
	OPT_SOURCE,
	OPT_CONSUMER,
	OPT_CLAIM_IDLE,
	OPT_NO_PRELOAD,
	OPT_USER,
	OPT_GROUP,
	OPT_CHROOT,
	OPT_RLIMIT_AS,
	OPT_RLIMIT_CPU,
	OPT_RLIMIT_NOFILE,
	OPT_HALT,
	OPT_ISOLATION,
	OPT_MAX_CLIENTS,
	OPT_CLIENT_BUDGET,
	OPT_RESTART_INTENSITY,
};

static const struct option longopts[] = {
	{ "workers",		required_argument,	NULL, 'w' },
	{ "key-field",		required_argument,	NULL, 'k' },
	{ "order",		required_argument,	NULL, 'o' },
	{ "attempts",		required_argument,	NULL, 'a' },
	{ "timeout",		required_argument,	NULL, 't' },
	{ "queue",		required_argument,	NULL, 'q' },
	{ "kill-grace",		required_argument,	NULL, OPT_KILL_GRACE },
	{ "start-timeout",	required_argument,	NULL, OPT_START_TIMEOUT },
	{ "window",		required_argument,	NULL, OPT_WINDOW },
	{ "partitions",		required_argument,	NULL, OPT_PARTITIONS },
	{ "frame-max",		required_argument,	NULL, OPT_FRAME_MAX },
	{ "failed",		required_argument,	NULL, OPT_FAILED },
	{ "shutdown-timeout",	required_argument,	NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "config",		required_argument,	NULL, 'f' },
	{ "check",		no_argument,		NULL, 'n' },
	{ "listen",		required_argument,	NULL, 'l' },
	{ "socket-mode",	required_argument,	NULL, OPT_SOCKET_MODE },
	{ "pidfile",		required_argument,	NULL, OPT_PIDFILE },
	{ "rate-limit",		required_argument,	NULL, OPT_RATE_LIMIT },
	{ "allow-user",		required_argument,	NULL, OPT_ALLOW_USER },
	{ "max-clients",	required_argument,	NULL, OPT_MAX_CLIENTS },
	{ "client-budget",	required_argument,	NULL, OPT_CLIENT_BUDGET },
	{ "idle-timeout",	required_argument,	NULL, OPT_IDLE_TIMEOUT },
	{ "max-jobs",		required_argument,	NULL, OPT_MAX_JOBS },
	{ "max-jobs-jitter",	required_argument,	NULL, OPT_MAX_JOBS_JITTER },
	{ "max-rss",		required_argument,	NULL, OPT_MAX_RSS },
	{ "heartbeat-timeout",	required_argument,	NULL, OPT_HEARTBEAT_TIMEOUT },
	{ "source",		required_argument,	NULL, OPT_SOURCE },
	{ "consumer",		required_argument,	NULL, OPT_CONSUMER },
	{ "claim-idle",		required_argument,	NULL, OPT_CLAIM_IDLE },
	{ "no-preload",		no_argument,		NULL, OPT_NO_PRELOAD },
	{ "user",		required_argument,	NULL, OPT_USER },
	{ "group",		required_argument,	NULL, OPT_GROUP },
	{ "chroot",		required_argument,	NULL, OPT_CHROOT },
	{ "rlimit-as",		required_argument,	NULL, OPT_RLIMIT_AS },
	{ "rlimit-cpu",		required_argument,	NULL, OPT_RLIMIT_CPU },
	{ "rlimit-nofile",	required_argument,	NULL, OPT_RLIMIT_NOFILE },
	{ "halt",		required_argument,	NULL, OPT_HALT },
	{ "isolation",		required_argument,	NULL, OPT_ISOLATION },
	{ "restart-intensity",	required_argument,	NULL, OPT_RESTART_INTENSITY },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 }
};

#define SHORTOPTS	"+w:k:o:a:t:q:l:f:nvhV"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: forkpool [options] HANDLER [ARGS...] < jobs > results\n"
"       forkpool --listen SOCKET [options] HANDLER [ARGS...]\n"
"       forkpool --source redis://HOST:PORT/POOL [options] HANDLER [ARGS...]\n"
"       forkpool [-n] [-f FILE] [options]   (default FILE: " FORKPOOL_CONF ")\n"
"\n"
"Runs each line of standard input as a job on a pool of worker processes\n"
"and writes one result line per job to standard output; or, with --listen,\n"
"serves jobs from clients (forkpoolctl, libforkpool) on a Unix socket;\n"
"or, with --source, takes them from a pool in Redis shared across hosts.\n"
"\n"
"  -w, --workers N       worker processes (default: online CPUs); MIN-MAX:\n"
"                        as many as the jobs need, within MIN and MAX\n"
"      --idle-timeout SEC  with MIN-MAX, let a worker go once it has not\n"
"                        been needed for SEC seconds (default 10)\n"
"      --max-jobs N      replace a worker after N jobs (default: never)\n"
"      --max-jobs-jitter J  ... after N plus up to J more, at random\n"
"      --max-rss MB      replace a worker that holds more than MB MiB\n"
"      --heartbeat-timeout SEC\n"
"                        kill a worker that holds jobs and has sent no\n"
"                        heartbeat for SEC seconds (default: never)\n"
"      --restart-intensity R/T\n"
"                        more than R workers failing before their first\n"
"                        result in T seconds: the pool is degraded and\n"
"                        backs off (default 5/10)\n"
"  -k, --key-field N     field N of each line is its key: jobs of one key\n"
"                        run one at a time, in input order\n"
"  -o, --order ORDER     input (default) or completion\n"
"  -a, --attempts N      tries per job before it fails (default 3)\n"
"  -t, --timeout SEC     kill a job's worker after SEC seconds (default: none)\n"
"      --kill-grace SEC  SIGKILL this long after SIGTERM (default 1)\n"
"      --start-timeout SEC\n"
"                        a worker whose handler has not started (init\n"
"                        returned, or the program said HELLO) after SEC\n"
"                        seconds stops the run (default 10)\n"
"  -q, --queue N         jobs held in memory at most (default 16384)\n"
"      --window N        jobs in flight per worker (default: adaptive)\n"
"      --partitions N    key partitions (default 256)\n"
"      --frame-max BYTES largest frame (default 16777216)\n"
"      --failed FILE     write the input line of each failed job to FILE\n"
"      --shutdown-timeout SEC\n"
"                        after SIGTERM or SIGINT, wait this long for the\n"
"                        jobs taken, then report them failed (default 30)\n"
"  -f, --config FILE     read settings from FILE (forkpool.conf(5)); the\n"
"                        command line wins over it\n"
"  -n, --check           check the configuration and the handler, then exit\n"
"  -l, --listen SOCKET   service mode: take jobs from clients on SOCKET\n"
"      --socket-mode MODE  the socket's mode, octal (default 0600)\n"
"      --pidfile FILE    the service's pidfile (default SOCKET.pid)\n"
"      --allow-user USER a user (name or uid) allowed to connect, besides\n"
"                        root and the service's own user; repeatable\n"
"      --max-clients N   clients connected at once (default 256); more are\n"
"                        refused, told why\n"
"      --client-budget BYTES\n"
"                        bytes of jobs and unread results one client may\n"
"                        make the service hold before it is read no\n"
"                        further (default 16777216)\n"
"      --rate-limit N    start at most N jobs per second (default: no limit)\n"
"      --source URL      take jobs from a pool in Redis, redis://HOST[:PORT]/POOL\n"
"                        or redis+unix:///PATH/POOL; --partitions streams\n"
"      --consumer NAME   this supervisor's name in the pool (default HOST:POOL)\n"
"      --claim-idle SEC  take over a dead consumer's jobs after SEC (default 30)\n"
"      --no-preload      load a plugin in each worker, not before forking\n"
"      --user USER, --group GROUP\n"
"                        run the workers as USER and GROUP (started as root)\n"
"      --chroot DIR      workers of a builtin or plugin chroot to DIR\n"
"      --rlimit-as MB, --rlimit-cpu SEC, --rlimit-nofile N\n"
"                        resource limits of each worker\n"
"      --isolation process|thread\n"
"                        workers are processes (default), or threads of\n"
"                        the supervisor: no isolation, for comparison\n"
"      --halt now|soon,fail=N\n"
"                        batch: stop after N failed jobs, at once (now) or\n"
"                        once the jobs running have finished (soon)\n"
"  -v, --verbose         log more (twice for debug)\n"
"  -h, --help            this text\n"
"  -V, --version         the version\n"
"\n"
"HANDLER is builtin:NAME (%s), a C plugin PATH.so,\n"
"exec:CMD (a program speaking the framed protocol on stdin and stdout) or\n"
"lines:CMD (a program answering each line with a line); CMD is one argument,\n"
"split into words as a shell would, with no expansion.\n"
"Exit status: 0 all jobs succeeded, 1 some failed, 2 usage or start-up\n"
"error, 128+N stopped by signal N after finishing the jobs taken.\n",
	    builtin_names());
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "forkpool: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'forkpool --help'.\n");
	exit(2);
}

static long long
number(const char *arg, long long min, long long max, const char *what)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(arg, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "forkpool: %s %s: %s\n", what, arg, errstr);
		exit(2);
	}
	return n;
}

static uint64_t
seconds(const char *arg, const char *what)
{
	double	s;

	if (conf_decimal(arg, &s) == -1 || s < 0.001 || s > 1e6) {
		fprintf(stderr, "forkpool: %s %s: not a number of seconds "
		    "from 0.001 to 1000000\n", what, arg);
		exit(2);
	}
	return (uint64_t)(s * 1e9 + 0.5);
}

static mode_t
octal_mode(const char *arg)
{
	unsigned	mode;

	if (conf_octal_mode(arg, &mode) == -1 || mode == 0) {
		fprintf(stderr, "forkpool: socket mode %s: not an octal mode "
		    "from 1 to 0777\n", arg);
		exit(2);
	}
	return (mode_t)mode;
}

static double
rate(const char *arg)
{
	double	r;

	if (conf_decimal(arg, &r) == -1 || r <= 0 || r > 1e9) {
		fprintf(stderr, "forkpool: rate limit %s: not a positive number "
		    "of jobs per second\n", arg);
		exit(2);
	}
	return r;
}

static void
allow_user(const char *arg)
{
	struct passwd	*pw;
	const char	*errstr;
	uid_t		 uid;

	if ((pw = getpwnam(arg)) != NULL)
		uid = pw->pw_uid;
	else {
		uid = strtonum(arg, 0, UINT32_MAX - 1, &errstr);
		if (errstr != NULL) {
			fprintf(stderr, "forkpool: allow user %s: no such "
			    "user\n", arg);
			exit(2);
		}
	}
	opts->allow_uids = xreallocarray(opts->allow_uids, opts->nallow_uids + 1,
	    sizeof *opts->allow_uids);
	opts->allow_uids[opts->nallow_uids++] = uid;
}

/* A Redis source: a URL that parses, in a build that has Redis. */
static void
check_source(int check_only)
{
	struct redis_url	 url;
	char			 err[512];

	if (opts->source == NULL)
		return;
	if (opts->listen_path != NULL)
		usage_error("%s--source and --listen exclude each other", "");
	if (redis_url_parse(opts->source, &url, err, sizeof err) == -1)
		usage_error("%s", err);
	if (!redis_supported()) {
		fprintf(stderr, "forkpool: built without Redis support\n");
		exit(check_only ? 1 : 2);
	}
}

/*
 * What cannot work with the workers as threads of one process is refused,
 * never quietly ignored: -1 with why.  At start and for every reload.
 */
int
isolation_check(const struct options *o, char *err, size_t len)
{
	const char	*why = NULL;

	if (o->isolation != ISOLATION_THREAD)
		return 0;
	if (handler_is_external(o->handler_obj))
		why = "an exec: or lines: handler is a program of its own, "
		    "which no thread can run in-process";
	else if (!o->preload)
		why = "--no-preload: a plugin is loaded once, in the one "
		    "process the threads share";
	else if (o->max_rss_kib != 0)
		why = "--max-rss: the threads share one process and its "
		    "memory, so there is no worker's memory to recycle for";
	else if (o->user != NULL || o->group != NULL)
		why = "--user, --group: privileges belong to a process, and "
		    "the threads share the supervisor's";
	else if (o->chroot_dir != NULL)
		why = "--chroot: the root belongs to the process the threads "
		    "share";
	else if (o->rlimit_as != 0 || o->rlimit_cpu != 0 ||
	    o->rlimit_nofile != 0)
		why = "--rlimit-*: resource limits belong to a process, and "
		    "the threads share the supervisor's";
	else if (o->heartbeat_ns != 0)
		why = "--heartbeat-timeout: a thread that goes silent cannot "
		    "be killed";
	if (why == NULL)
		return 0;
	snprintf(err, len, "--isolation thread: %s", why);
	return -1;
}

/*
 * --isolation thread: a handler's crash is the whole process's, as it is
 * in a goroutine pool.  These are its last words.
 */
static void
thread_mode_crash(int sig)
{
	static const char	 head[] = "forkpool: a handler crashed the "
	    "whole process (";
	static const char	 tail[] = ") in thread mode: the pool and "
	    "every job in it are lost; with --isolation process one worker "
	    "would have been replaced and the job run again\n";
	const char		*name;

	switch (sig) {
	case SIGSEGV:	name = "SIGSEGV"; break;
	case SIGBUS:	name = "SIGBUS"; break;
	case SIGFPE:	name = "SIGFPE"; break;
	case SIGILL:	name = "SIGILL"; break;
	default:	name = "SIGABRT"; break;
	}
	(void)!write(STDERR_FILENO, head, sizeof head - 1);
	(void)!write(STDERR_FILENO, name, strlen(name));
	(void)!write(STDERR_FILENO, tail, sizeof tail - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
watch_crashes(void)
{
	static const int	 sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
	    SIGABRT };
	size_t			 i;

	if (opts->isolation != ISOLATION_THREAD)
		return;
	handler_threaded = 1;
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], thread_mode_crash);
}

/* --halt now,fail=N or soon,fail=N, as GNU parallel has it; or never. */
static void
halt_option(const char *arg)
{
	const char	*rest;

	if (strcmp(arg, "never") == 0) {
		opts->halt_fail = 0;
		return;
	}
	if (strncmp(arg, "now,fail=", 9) == 0) {
		opts->halt_now = 1;
		rest = arg + 9;
	} else if (strncmp(arg, "soon,fail=", 10) == 0) {
		opts->halt_now = 0;
		rest = arg + 10;
	} else
		usage_error("halt %s: expected now,fail=N, soon,fail=N or "
		    "never", arg);
	opts->halt_fail = number(rest, 1, UINT32_MAX, "halt fail");
}

/*
 * A value of two parts, A-B or A/B: A is copied into first (of size len),
 * and B is returned; NULL if sep is not there or A is empty or too long.
 */
static const char *
two_parts(const char *arg, int sep, char *first, size_t len)
{
	const char	*at = strchr(arg, sep);

	if (at == NULL || at == arg || (size_t)(at - arg) >= len)
		return NULL;
	memcpy(first, arg, at - arg);
	first[at - arg] = '\0';
	return at + 1;
}

/* -w N, or -w MIN-MAX for a pool that sizes itself. */
static void
workers_option(const char *arg)
{
	char		 min[16];
	const char	*max;

	opts->workers_min = opts->workers_max = 0;
	if (strchr(arg, '-') == NULL) {
		opts->workers = number(arg, 1, WORKERS_CAP, "workers");
		return;
	}
	if ((max = two_parts(arg, '-', min, sizeof min)) == NULL)
		usage_error("workers %s: expected N or MIN-MAX", arg);
	opts->workers_min = number(min, 1, WORKERS_CAP, "workers");
	opts->workers_max = number(max, 1, WORKERS_CAP, "workers");
	if (opts->workers_max < opts->workers_min)
		usage_error("workers %s: MAX is below MIN", arg);
	opts->workers = opts->workers_min;
	if (opts->workers_max == opts->workers_min)
		opts->workers_min = opts->workers_max = 0;
}

/* --restart-intensity R/T: as restart_intensity = R T in the file. */
static void
restart_intensity_option(const char *arg)
{
	char		 r[16];
	const char	*t;

	if ((t = two_parts(arg, '/', r, sizeof r)) == NULL)
		usage_error("restart intensity %s: expected RESTARTS/SECONDS, "
		    "as in 5/10", arg);
	opts->restart_max = number(r, 1, RESTARTS_MAX, "restart intensity");
	opts->restart_period_ns = seconds(t, "restart intensity period");
}

/*
 * The first argument of the handler that is also an option of forkpool,
 * as in "forkpool builtin:fnv -w 2", or NULL.  Words after the handler
 * are its own, so this is only a hint, given when the handler did not
 * start.
 */
const char *
handler_option_arg(void)
{
	const struct option	*lo;
	const char		*a;
	size_t			 len;
	int			 i;

	for (i = 0; i < opts->handler_argc; i++) {
		a = opts->handler_argv[i];
		if (a[0] != '-' || a[1] == '\0')
			continue;
		if (a[1] != '-') {
			if (a[1] != ':' && a[1] != '+' &&
			    strchr(SHORTOPTS, a[1]) != NULL)
				return a;
			continue;
		}
		len = strcspn(a + 2, "=");
		for (lo = longopts; lo->name != NULL; lo++)
			if (strlen(lo->name) == len &&
			    strncmp(lo->name, a + 2, len) == 0)
				return a;
	}
	return NULL;
}

/*
 * Resolves o's handler into a handler object of its own, a plugin loaded
 * now if load says so; -1 with a message otherwise.  At start, and for
 * every reload, which frees the old object once it is no longer needed.
 */
int
handler_check(struct options *o, int load, char *err, size_t len)
{
	struct handler	*h;

	if (o->handler == NULL) {
		snprintf(err, len, "no handler given");
		return -1;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		snprintf(err, len, "handler: %s", strerror(errno));
		return -1;
	}
	if (handler_resolve(h, o->handler, o->handler_argc, o->handler_argv,
	    load, err, len) == -1) {
		handler_drop(h);
		return -1;
	}
	o->handler_obj = h;
	return 0;
}

void
handler_drop(struct handler *h)
{
	if (h == NULL)
		return;
	handler_free(h);
	free(h);
}

static void
parse_options(int argc, char **argv)
{
	struct config_set	 cli;
	const char		*config_path = NULL;
	char			 err[512];
	long			 ncpu;
	int			 ch, check_only = 0;

	memset(&cli, 0, sizeof cli);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	opts->workers = ncpu > 0 ? (int)ncpu : 1;
	opts->partitions = 256;
	opts->queue_max = 16384;
	opts->attempts = 3;
	opts->kill_grace_ns = 1000000000ULL;
	opts->start_timeout_ns = 10000000000ULL;
	opts->shutdown_timeout_ns = 30000000000ULL;
	opts->frame_max = FRAME_MAX_DEFAULT;
	opts->order = ORDER_INPUT;
	opts->listen_mode = 0600;
	opts->restart_max = 5;
	opts->restart_period_ns = 10000000000ULL;
	opts->idle_timeout_ns = 10000000000ULL;
	opts->listen_group = (gid_t)-1;
	opts->claim_idle_ns = 30000000000ULL;
	opts->preload = 1;
	opts->max_clients = MAX_CLIENTS_DEFAULT;
	opts->client_budget = CLIENT_BUDGET_DEFAULT;

	while ((ch = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'w':
			workers_option(optarg);
			cli.workers = 1;
			break;
		case 'k':
			opts->key_field = number(optarg, 1, INT_MAX,
			    "key field");
			break;
		case 'o':
			if (strcmp(optarg, "input") == 0)
				opts->order = ORDER_INPUT;
			else if (strcmp(optarg, "completion") == 0)
				opts->order = ORDER_COMPLETION;
			else
				usage_error("order %s: use input or "
				    "completion", optarg);
			break;
		case 'a':
			opts->attempts = number(optarg, 1, 1000, "attempts");
			cli.attempts = 1;
			break;
		case 't':
			opts->timeout_ns = seconds(optarg, "timeout");
			cli.timeout = 1;
			break;
		case 'q':
			opts->queue_max = number(optarg, 1, 1 << 24, "queue");
			cli.queue = 1;
			break;
		case OPT_KILL_GRACE:
			opts->kill_grace_ns = seconds(optarg, "kill grace");
			cli.kill_grace = 1;
			break;
		case OPT_START_TIMEOUT:
			opts->start_timeout_ns = seconds(optarg,
			    "start timeout");
			cli.start_timeout = 1;
			break;
		case OPT_WINDOW:
			opts->window = number(optarg, 1, WINDOW_MAX, "window");
			cli.window = 1;
			break;
		case OPT_PARTITIONS:
			opts->partitions = number(optarg, 1, 1 << 20,
			    "partitions");
			cli.partitions = 1;
			break;
		case OPT_FRAME_MAX:
			opts->frame_max = number(optarg, 64, UINT32_MAX,
			    "frame max");
			cli.frame_max = 1;
			break;
		case OPT_FAILED:
			opts->failed_path = optarg;
			break;
		case OPT_SHUTDOWN_TIMEOUT:
			opts->shutdown_timeout_ns = seconds(optarg,
			    "shutdown timeout");
			cli.shutdown_timeout = 1;
			break;
		case 'f':
			config_path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'l':
			opts->listen_path = optarg;
			cli.listen = 1;
			break;
		case OPT_SOCKET_MODE:
			opts->listen_mode = octal_mode(optarg);
			cli.listen_mode = 1;
			break;
		case OPT_PIDFILE:
			opts->pidfile = optarg;
			cli.pidfile = 1;
			break;
		case OPT_RATE_LIMIT:
			opts->rate_limit = rate(optarg);
			cli.rate_limit = 1;
			break;
		case OPT_ALLOW_USER:
			allow_user(optarg);
			cli.allow_users = 1;
			break;
		case OPT_MAX_CLIENTS:
			opts->max_clients = number(optarg, 1, MAX_CLIENTS_MAX,
			    "max clients");
			cli.max_clients = 1;
			break;
		case OPT_CLIENT_BUDGET:
			opts->client_budget = number(optarg, CLIENT_BUDGET_MIN,
			    CLIENT_BUDGET_MAX, "client budget");
			cli.client_budget = 1;
			break;
		case OPT_IDLE_TIMEOUT:
			opts->idle_timeout_ns = seconds(optarg, "idle timeout");
			cli.idle_timeout = 1;
			break;
		case OPT_MAX_JOBS:
			opts->max_jobs = number(optarg, 1, UINT32_MAX, "max jobs");
			cli.max_jobs = 1;
			break;
		case OPT_MAX_JOBS_JITTER:
			opts->max_jobs_jitter = number(optarg, 0, UINT32_MAX - 1,
			    "max jobs jitter");
			cli.max_jobs_jitter = 1;
			break;
		case OPT_HEARTBEAT_TIMEOUT:
			opts->heartbeat_ns = seconds(optarg, "heartbeat timeout");
			cli.heartbeat_timeout = 1;
			break;
		case OPT_MAX_RSS:
			opts->max_rss_kib = number(optarg, 1, 1 << 30, "max rss") *
			    1024;
			cli.max_rss = 1;
			break;
		case OPT_SOURCE:
			opts->source = optarg;
			cli.source = 1;
			break;
		case OPT_CONSUMER:
			if (!redis_consumer_valid(optarg))
				usage_error("consumer %s: 1 to 128 printable "
				    "bytes without blanks", optarg);
			opts->consumer = optarg;
			cli.consumer = 1;
			break;
		case OPT_CLAIM_IDLE:
			opts->claim_idle_ns = seconds(optarg, "claim idle");
			cli.claim_idle = 1;
			break;
		case OPT_USER:
			opts->user = optarg;
			cli.user = 1;
			break;
		case OPT_GROUP:
			opts->group = optarg;
			cli.group = 1;
			break;
		case OPT_CHROOT:
			opts->chroot_dir = optarg;
			cli.chroot = 1;
			break;
		case OPT_RLIMIT_AS:
			opts->rlimit_as = number(optarg, 1, 1LL << 40,
			    "address space limit") << 20;
			cli.rlimit_as = 1;
			break;
		case OPT_RLIMIT_CPU:
			opts->rlimit_cpu = number(optarg, 1, 1LL << 40,
			    "CPU time limit");
			cli.rlimit_cpu = 1;
			break;
		case OPT_RLIMIT_NOFILE:
			opts->rlimit_nofile = number(optarg, 8, 1 << 30,
			    "open files limit");
			cli.rlimit_nofile = 1;
			break;
		case OPT_HALT:
			halt_option(optarg);
			break;
		case OPT_ISOLATION:
			if (strcmp(optarg, "process") == 0)
				opts->isolation = ISOLATION_PROCESS;
			else if (strcmp(optarg, "thread") == 0)
				opts->isolation = ISOLATION_THREAD;
			else
				usage_error("isolation %s: use process or "
				    "thread", optarg);
			cli.isolation = 1;
			break;
		case OPT_RESTART_INTENSITY:
			restart_intensity_option(optarg);
			cli.restart_intensity = 1;
			break;
		case OPT_NO_PRELOAD:
			opts->preload = 0;
			cli.preload = 1;
			break;
		case 'v':
			opts->verbose++;
			cli.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("forkpool %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'forkpool --help'.\n");
			exit(2);
		}
	}
	argc -= optind;
	argv += optind;
	/* With neither a handler nor -f, the service's own file. */
	if (argc < 1 && config_path == NULL && access(FORKPOOL_CONF, F_OK) == 0)
		config_path = FORKPOOL_CONF;
	if (argc >= 1) {
		opts->handler = argv[0];
		opts->handler_argc = argc - 1;
		opts->handler_argv = argv + 1;
		cli.handler = 1;
	}
	/* A reload starts again from here: defaults and command line. */
	reload_init(config_path, opts, &cli);
	if (config_path != NULL && config_load(config_path, opts, &cli, err,
	    sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	check_source(check_only);
	if (opts->handler == NULL)
		usage_error("%sno handler given", "");
	/* -n loads a plugin even with no preload: that is the check. */
	if (handler_check(opts, opts->preload || check_only, err,
	    sizeof err) == -1 || confine_check(opts, err, sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	if (opts->chroot_dir != NULL && handler_is_external(opts->handler_obj))
		usage_error("%s--chroot is for builtin and plugin handlers: an "
		    "exec: or lines: program would need its files inside", "");
	if (isolation_check(opts, err, sizeof err) == -1)
		usage_error("%s", err);
	if (opts->halt_fail != 0 && (opts->listen_path != NULL ||
	    opts->source != NULL))
		usage_error("%s--halt is for batch mode", "");
	if (check_only) {
		printf("forkpool: configuration OK\n");
		exit(0);
	}
}

/*
 * Once per loop turn, after the callbacks that woke it: take input while
 * there is room, route what waits, write what was routed, and see whether
 * the run is over.  Results that arrive together are routed together.
 */
static void
settle(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	intake->room();
	scale_settle();
	dispatch_run();
	wlink_flush_all();
	intake->flush();
	if (!finishing && intake->finished() && pool_settled()) {
		finishing = 1;
		pool_shutdown();
	}
	if (finishing && pool_alive() == 0)
		event_base_loopbreak(base);
}

/*
 * Something changed: settle at the end of this turn.  An event made
 * active now runs after those the loop has already made active, so many
 * callbacks in one turn cost one settle.
 */
void
supervisor_wake(void)
{
	event_active(ev_settle, EV_TIMEOUT, 0);
}

/* For a timer whose only work is to let the loop settle. */
void
supervisor_wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	supervisor_wake();
}

/* The drain took too long: the intake says what is unfinished, and exits. */
static void
drain_expired(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	intake->expired();
}

/* The intake takes no more work: its drain has --shutdown-timeout. */
void
supervisor_draining(void)
{
	if (opts->shutdown_timeout_ns > 0 &&
	    !evtimer_pending(ev_drain, NULL))
		timer_add_ns(ev_drain, opts->shutdown_timeout_ns);
}

/* Exits at once: no worker may outlive the supervisor. */
void
supervisor_abort(int status)
{
	pool_kill_all();
	intake->abort();
	exit(status);
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	char	why[128];
	int	n;

	(void)ev;
	(void)arg;
	loop_tick();
	switch (sig) {
	case SIGCHLD:
		pool_sigchld();
		break;
	case SIGINT:
		if (++interrupts > 1) {
			log_warnx("interrupted again: stopping now");
			supervisor_abort(128 + SIGINT);
		}
		/* FALLTHROUGH */
	case SIGTERM:
		intake->stop(sig);
		break;
	case SIGHUP:
		reload_start(NULL, NULL, 0);
		break;
	case SIGTTIN:
	case SIGTTOU:
		n = pool_target() + (sig == SIGTTIN ? 1 : -1);
		if (scale_allowed(n, why, sizeof why))
			scale_to(n);
		else
			log_warnx("%s: not scaling: %s", sig == SIGTTIN ?
			    "SIGTTIN" : "SIGTTOU", why);
		break;
	}
	supervisor_wake();
}

static void
add_signal(int sig)
{
	struct event	*ev;

	if ((ev = evsignal_new(base, sig, on_signal, NULL)) == NULL ||
	    evsignal_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
}

int
main(int argc, char **argv, char **envp)
{
	proctitle_init(argc, argv, envp);
	argv[0] = (char *)"forkpool";	/* getopt's messages name it */
	log_init("forkpool", 0);
	parse_options(argc, argv);
	log_init("forkpool", opts->verbose);
	signal(SIGPIPE, SIG_IGN);
	watch_crashes();

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_settle = event_new(base, -1, 0, settle, NULL);
	ev_drain = evtimer_new(base, drain_expired, NULL);
	if (ev_settle == NULL || ev_drain == NULL)
		fatalx("event_new failed");
	add_signal(SIGCHLD);
	add_signal(SIGINT);
	add_signal(SIGTERM);
	add_signal(SIGHUP);
	add_signal(SIGTTIN);
	add_signal(SIGTTOU);

	if (opts->listen_path != NULL)
		intake = &service_intake;
	else if (opts->source != NULL)
		intake = &redis_intake;
	/* What a handler starts and abandons is reparented here, to kill. */
	if (subtree_adopt() == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
	ledger_init(opts->queue_max);
	dispatch_init();
	intake->init();
	notify_init();
	caps_limit();
	pool_init();
	proctitle_set("supervisor");
	pool_start();
	autoscale_update();
	supervisor_wake();
	event_base_dispatch(base);

	subtree_kill();
	intake->flush();
	return intake->exit_status();
}
