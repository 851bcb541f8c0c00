/*
 * forkpool: a pre-fork worker supervisor.  This file reads the options,
 * sets up the event loop and its signal events, and runs the loop until
 * every job has ended and every worker has gone.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "proctitle.h"
#include "supervisor.h"
#include "xmalloc.h"

struct options		 opts;
struct event_base	*base;
const struct intake	*intake = &batch_intake;

static struct handler	 handler;
static int		 finishing;
static int		 interrupts;

enum {
	OPT_KILL_GRACE = 256,
	OPT_WINDOW,
	OPT_PARTITIONS,
	OPT_FRAME_MAX,
	OPT_FAILED,
	OPT_SHUTDOWN_TIMEOUT,
	OPT_SOCKET_MODE,
	OPT_PIDFILE,
	OPT_RATE_LIMIT,
	OPT_ALLOW_USER,
	OPT_NO_PRELOAD,
};

static const struct option longopts[] = {
	{ "workers",		required_argument,	NULL, 'w' },
	{ "key-field",		required_argument,	NULL, 'k' },
	{ "order",		required_argument,	NULL, 'o' },
	{ "attempts",		required_argument,	NULL, 'a' },
	{ "timeout",		required_argument,	NULL, 't' },
	{ "queue",		required_argument,	NULL, 'q' },
	{ "kill-grace",		required_argument,	NULL, OPT_KILL_GRACE },
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
	{ "no-preload",		no_argument,		NULL, OPT_NO_PRELOAD },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 }
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: forkpool [options] HANDLER [ARGS...] < jobs > results\n"
"       forkpool --listen SOCKET [options] HANDLER [ARGS...]\n"
"       forkpool [-n] [-f FILE] [options]   (default FILE: " FORKPOOL_CONF ")\n"
"\n"
"Runs each line of standard input as a job on a pool of worker processes\n"
"and writes one result line per job to standard output; or, with --listen,\n"
"serves jobs from clients (forkpoolctl, libforkpool) on a Unix socket.\n"
"\n"
"  -w, --workers N       worker processes (default: online CPUs)\n"
"  -k, --key-field N     field N of each line is its key: jobs of one key\n"
"                        run one at a time, in input order\n"
"  -o, --order ORDER     input (default) or completion\n"
"  -a, --attempts N      tries per job before it fails (default 3)\n"
"  -t, --timeout SEC     kill a job's worker after SEC seconds (default: none)\n"
"      --kill-grace SEC  SIGKILL this long after SIGTERM (default 1)\n"
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
"      --rate-limit N    start at most N jobs per second (default: no limit)\n"
"      --no-preload      load a plugin in each worker, not before forking\n"
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
	char	*end;
	double	 s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(s) ||
	    s < 0.001 || s > 1e6) {
		fprintf(stderr, "forkpool: %s %s: not a number of seconds "
		    "from 0.001 to 1000000\n", what, arg);
		exit(2);
	}
	return (uint64_t)(s * 1e9);
}

static mode_t
octal_mode(const char *arg)
{
	char		*end;
	unsigned long	 mode;

	errno = 0;
	mode = strtoul(arg, &end, 8);
	if (errno != 0 || end == arg || *end != '\0' || mode > 0777 ||
	    mode == 0) {
		fprintf(stderr, "forkpool: socket mode %s: not an octal mode "
		    "from 1 to 0777\n", arg);
		exit(2);
	}
	return (mode_t)mode;
}

static double
rate(const char *arg)
{
	char	*end;
	double	 r;

	errno = 0;
	r = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(r) ||
	    r <= 0 || r > 1e9) {
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
	opts.allow_uids = xreallocarray(opts.allow_uids, opts.nallow_uids + 1,
	    sizeof *opts.allow_uids);
	opts.allow_uids[opts.nallow_uids++] = uid;
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
	opts.workers = ncpu > 0 ? (int)ncpu : 1;
	opts.partitions = 256;
	opts.queue_max = 16384;
	opts.attempts = 3;
	opts.kill_grace_ns = 1000000000ULL;
	opts.shutdown_timeout_ns = 30000000000ULL;
	opts.frame_max = FRAME_MAX_DEFAULT;
	opts.order = ORDER_INPUT;
	opts.listen_mode = 0600;
	opts.restart_max = 5;
	opts.restart_period_ns = 10000000000ULL;
	opts.idle_timeout_ns = 10000000000ULL;
	opts.listen_group = (gid_t)-1;
	opts.preload = 1;

	while ((ch = getopt_long(argc, argv, "+w:k:o:a:t:q:l:f:nvhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'w':
			opts.workers = number(optarg, 1, 1024, "workers");
			cli.workers = 1;
			break;
		case 'k':
			opts.key_field = number(optarg, 1, INT_MAX,
			    "key field");
			break;
		case 'o':
			if (strcmp(optarg, "input") == 0)
				opts.order = ORDER_INPUT;
			else if (strcmp(optarg, "completion") == 0)
				opts.order = ORDER_COMPLETION;
			else
				usage_error("order %s: use input or "
				    "completion", optarg);
			break;
		case 'a':
			opts.attempts = number(optarg, 1, 1000, "attempts");
			cli.attempts = 1;
			break;
		case 't':
			opts.timeout_ns = seconds(optarg, "timeout");
			cli.timeout = 1;
			break;
		case 'q':
			opts.queue_max = number(optarg, 1, 1 << 24, "queue");
			cli.queue = 1;
			break;
		case OPT_KILL_GRACE:
			opts.kill_grace_ns = seconds(optarg, "kill grace");
			cli.kill_grace = 1;
			break;
		case OPT_WINDOW:
			opts.window = number(optarg, 1, WINDOW_MAX, "window");
			cli.window = 1;
			break;
		case OPT_PARTITIONS:
			opts.partitions = number(optarg, 1, 1 << 20,
			    "partitions");
			cli.partitions = 1;
			break;
		case OPT_FRAME_MAX:
			opts.frame_max = number(optarg, 64, UINT32_MAX,
			    "frame max");
			cli.frame_max = 1;
			break;
		case OPT_FAILED:
			opts.failed_path = optarg;
			break;
		case OPT_SHUTDOWN_TIMEOUT:
			opts.shutdown_timeout_ns = seconds(optarg,
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
			opts.listen_path = optarg;
			cli.listen = 1;
			break;
		case OPT_SOCKET_MODE:
			opts.listen_mode = octal_mode(optarg);
			cli.listen_mode = 1;
			break;
		case OPT_PIDFILE:
			opts.pidfile = optarg;
			cli.pidfile = 1;
			break;
		case OPT_RATE_LIMIT:
			opts.rate_limit = rate(optarg);
			cli.rate_limit = 1;
			break;
		case OPT_ALLOW_USER:
			allow_user(optarg);
			cli.allow_users = 1;
			break;
		case OPT_NO_PRELOAD:
			opts.preload = 0;
			cli.preload = 1;
			break;
		case 'v':
			opts.verbose++;
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
		opts.handler = argv[0];
		opts.handler_argc = argc - 1;
		opts.handler_argv = argv + 1;
		cli.handler = 1;
	}
	if (config_path != NULL && config_load(config_path, &opts, &cli, err,
	    sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	if (opts.handler == NULL)
		usage_error("%sno handler given", "");
	/* -n loads a plugin even with no preload: that is the check. */
	if (handler_resolve(&handler, opts.handler, opts.handler_argc,
	    opts.handler_argv, opts.preload || check_only, err,
	    sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	opts.handler_obj = &handler;
	if (check_only) {
		printf("forkpool: configuration OK\n");
		exit(0);
	}
}

/*
 * After every event: take input while there is room, route what waits,
 * write what was routed, and see whether the run is over.
 */
void
supervisor_settle(void)
{
	intake->room();
	pool_scale_settle();
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
	(void)ev;
	(void)arg;
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
	case SIGTTIN:
		pool_scale(pool_target() + 1);
		break;
	case SIGTTOU:
		pool_scale(pool_target() - 1);
		break;
	}
	supervisor_settle();
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
	log_init("forkpool", opts.verbose);
	signal(SIGPIPE, SIG_IGN);

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	add_signal(SIGCHLD);
	add_signal(SIGINT);
	add_signal(SIGTERM);
	add_signal(SIGTTIN);
	add_signal(SIGTTOU);

	if (opts.listen_path != NULL)
		intake = &service_intake;
	ledger_init(opts.queue_max);
	dispatch_init();
	intake->init();
	notify_init();
	pool_init();
	proctitle_set("supervisor");
	pool_start();
	supervisor_settle();
	event_base_dispatch(base);

	intake->flush();
	return intake->exit_status();
}
