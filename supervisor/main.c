/*
 * forkpool: a pre-fork worker supervisor.  This file reads the options,
 * sets up the event loop and its signal events, and runs the loop until
 * every job has ended and every worker has gone.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "options.h"
#include "worker/handler.h"
#include "proto/log.h"
#include "proto/proctitle.h"
#include "proto/subtree.h"
#include "supervisor.h"

const struct options	*opts;		/* the running generation (reload.c) */
struct event_base	*base;
const struct intake	*intake = &batch_intake;

static struct event	*ev_settle;	/* the end of a turn that changed things */
static struct event	*ev_drain;	/* --shutdown-timeout */
static int		 finishing;
static int		 interrupts;

/* getopt_long's tables, made from the table of options.c. */
static struct option	 longopts[OPTIONS_MAX + 1];
static char		 shortopts[3 * OPTIONS_MAX + 2];

static void
getopt_tables(void)
{
	const struct optdef	*d;
	struct option		*lo = longopts;
	char			*s = shortopts;
	size_t			 i;

	*s++ = '+';	/* the handler's words are its own */
	for (i = 0; i < options_count; i++) {
		d = &options_table[i];
		if (d->name == NULL)
			continue;
		lo->name = d->name;
		lo->has_arg = d->flags & OPT_NOARG ? no_argument :
		    required_argument;
		lo->flag = NULL;
		lo->val = d->letter != 0 ? d->letter : 256 + (int)i;
		lo++;
		if (d->letter != 0) {
			*s++ = d->letter;
			if (!(d->flags & OPT_NOARG))
				*s++ = ':';
		}
	}
	*s = '\0';
}

/* The line of the table getopt_long's answer ch stands for, or NULL. */
static const struct optdef *
cli_option(int ch)
{
	size_t	i;

	if (ch >= 256 && (size_t)(ch - 256) < options_count)
		return &options_table[ch - 256];
	for (i = 0; i < options_count; i++)
		if (options_table[i].name != NULL &&
		    options_table[i].letter == ch)
			return &options_table[i];
	return NULL;
}

static void
usage(FILE *fp)
{
	fputs(
"usage: forkpool [options] HANDLER [ARGS...] < jobs > results\n"
"       forkpool --listen SOCKET [options] HANDLER [ARGS...]\n"
"       forkpool --source redis://HOST:PORT/POOL [options] HANDLER [ARGS...]\n"
"       forkpool [-n] [-f FILE] [options]   (default FILE: " FORKPOOL_CONF ")\n"
"\n"
"Runs each line of standard input as a job on a pool of worker processes\n"
"and writes one result line per job to standard output; or, with --listen,\n"
"serves jobs from clients (forkpoolctl, libforkpool) on a Unix socket\n"
"(the service's, as installed: " FORKPOOL_SOCKET ");\n"
"or, with --source, takes them from a pool in Redis shared across hosts.\n"
"\n", fp);
	options_usage(fp);
	fprintf(fp, "\n"
"HANDLER is builtin:NAME (%s), a C plugin PATH.so,\n"
"exec:CMD (a program speaking the framed protocol on stdin and stdout) or\n"
"lines:CMD (a program answering each line with a line); CMD is one argument,\n"
"split into words as a shell would, with no expansion.\n"
"Exit status: 0 all jobs succeeded, 1 some failed, 2 usage or start-up\n"
"error, 128+N stopped by signal N (the jobs running finish first).  With\n"
"--listen or --source: 0 when stopped (SIGTERM, SIGINT, forkpoolctl stop or\n"
"drain, an upgrade's end), 2 on a start-up error, 130 on a second SIGINT.\n",
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

/* A Redis source (its URL checked as it was set), in a build with Redis. */
static void
check_source(const struct options *o, int check_only)
{
	if (o->source == NULL)
		return;
	if (o->listen_path != NULL)
		usage_error("%s--source and --listen exclude each other", "");
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
		why = "an exec:, lines: or cmd: handler runs programs of its "
		    "own, which no thread can run in-process";
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
			    strchr(shortopts, a[1]) != NULL)
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

/* The first option set that only a run over standard input can use. */
static const char *
batch_only(const struct options *o)
{
	if (o->halt_when != HALT_NEVER)
		return "--halt";
	if (o->progress || o->eta || o->bar)
		return o->progress ? "--progress" : o->eta ? "--eta" : "--bar";
	if (o->tag)
		return "--tag";
	if (o->failed_line != NULL)
		return "--failed-line";
	if (o->joblog_path != NULL)
		return "--joblog";
	if (o->resume || o->resume_failed)
		return o->resume ? "--resume" : "--resume-failed";
	if (o->null_records)
		return "-0";
	return NULL;
}

/*
 * The command line makes a generation of its own, kept for reloads (set
 * says which settings it gave); the file is read into a copy of it.
 */
static void
parse_options(int argc, char **argv)
{
	/* Static: an exit on a bad setting leaves them reachable, not lost. */
	static struct options	*cli, *run;
	const struct optdef	*d;
	const char		*config_path = NULL;
	const char		*batch_opt;
	char			 err[512], what[64];
	uint64_t		 set = 0;
	int			 ch, check_only = 0;

	getopt_tables();
	cli = options_new();
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	    -1) {
		if ((d = cli_option(ch)) == NULL) {
			fprintf(stderr, "Try 'forkpool --help'.\n");
			exit(2);
		}
		switch (d->kind) {
		case OPT_CONFIG:
			config_path = optarg;
			break;
		case OPT_CHECK:
			check_only = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("forkpool %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			snprintf(what, sizeof what, "--%s", d->name);
			if (options_set(cli, d, what, d->flags & OPT_NOARG ?
			    d->noarg : optarg, err, sizeof err) == -1)
				usage_error("%s", err);
			set |= OPTIONS_BIT(d - options_table);
			break;
		}
	}
	argc -= optind;
	argv += optind;
	/* With neither a handler nor -f, the service's own file. */
	if (argc < 1 && config_path == NULL && access(FORKPOOL_CONF, F_OK) == 0)
		config_path = FORKPOOL_CONF;
	if (argc >= 1) {
		options_set_handler(cli, argc, argv);
		set |= OPTIONS_BIT(options_key("handler") - options_table);
	}
	run = options_dup(cli);
	if (config_path != NULL && config_load(config_path, run, set, err,
	    sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	check_source(run, check_only);
	if (run->handler == NULL)
		usage_error("%sno handler given", "");
	/* -n loads a plugin even with no preload: that is the check. */
	if (handler_check(run, run->preload || check_only, err,
	    sizeof err) == -1 || confine_check(run, err, sizeof err) == -1) {
		fprintf(stderr, "forkpool: %s\n", err);
		exit(check_only ? 1 : 2);
	}
	if (run->chroot_dir != NULL && handler_is_external(run->handler_obj))
		usage_error("%s--chroot is for builtin and plugin handlers: an "
		    "exec:, lines: or cmd: program would need its files "
		    "inside", "");
	if (isolation_check(run, err, sizeof err) == -1)
		usage_error("%s", err);
	if ((batch_opt = batch_only(run)) != NULL &&
	    (run->listen_path != NULL || run->source != NULL))
		usage_error("%s: the options of a run over standard input "
		    "(--halt, --progress, --eta, --bar, --tag, --failed-line, "
		    "--joblog, --resume, -0) are for batch mode", batch_opt);
	/* A reload starts again from cli: defaults and command line. */
	reload_init(config_path, cli, set, run);
	opts = run;
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
	case SIGUSR2:
		upgrade_start();
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
	upgrade_init(argc, argv);
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
	add_signal(SIGUSR2);

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

	upgrade_subtree_kill();
	intake->flush();
	return intake->exit_status();
}
