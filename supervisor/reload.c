/*
 * Reloading the configuration (SIGHUP, forkpoolctl reload).  The file is
 * read again under the command line, which still wins over it; a file
 * that does not check out changes nothing.  When the handler changes, one
 * new worker is first started with the new configuration: only once it
 * has said HELLO does anything change, and pool.c then rolls the other
 * workers over, new before old.  What only a restart can change (the
 * socket, the queue, the partitions, the frame size) is kept, with a
 * warning.
 *
 * Each reload builds a whole new generation of the options: a copy of the
 * command line's, then the file.  It replaces the running one only once
 * it is checked (and, for a new handler, its first worker is up); the old
 * generation is then freed whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "options.h"
#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

static const char		*config_path;
static struct options		*running;	/* opts, which only this file
						 * replaces and frees */
static struct options		*cli_opts;	/* defaults and command line */
static uint64_t			 cli_set;

/* A reload whose first new worker is starting. */
static struct options		*pending;
static reload_done_fn		 pending_done;
static void			*pending_arg;
static uint64_t			 pending_id;

/* Takes over cli, the command line's generation, and run, the first. */
void
reload_init(const char *path, struct options *cli, uint64_t set,
    struct options *run)
{
	config_path = path;
	cli_opts = cli;
	cli_set = set;
	running = run;
}

static int
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Whether the workers must be replaced to run o. */
static int
workers_differ(const struct options *a, const struct options *b)
{
	int	i;

	if (!same_string(a->handler, b->handler) ||
	    a->handler_argc != b->handler_argc ||
	    a->preload != b->preload || a->heartbeat_ns != b->heartbeat_ns ||
	    !same_string(a->chroot_dir, b->chroot_dir) ||
	    a->drop_privileges != b->drop_privileges ||
	    a->run_uid != b->run_uid || a->run_gid != b->run_gid ||
	    a->rlimit_as != b->rlimit_as || a->rlimit_cpu != b->rlimit_cpu ||
	    a->rlimit_nofile != b->rlimit_nofile)
		return 1;
	for (i = 0; i < a->handler_argc; i++)
		if (strcmp(a->handler_argv[i], b->handler_argv[i]) != 0)
			return 1;
	return 0;
}

/* A string of next gives way to the running one, a copy of its own. */
static void
keep_string(char **next, const char *now, const char *name)
{
	static const char	 later[] = "reload: %s changed in %s; it "
	    "takes effect at the next start";

	if (!same_string(*next, now))
		log_warnx(later, name, config_path);
	free(*next);
	*next = now != NULL ? xstrdup(now) : NULL;
}

/*
 * Settings fixed at start: warns about each one the file changes, and
 * keeps the running value.
 */
static void
keep_fixed(struct options *next)
{
	static const char	 later[] = "reload: %s changed in %s; it "
	    "takes effect at the next start";

	keep_string(&next->listen_path, opts->listen_path, "listen");
	keep_string(&next->pidfile, opts->pidfile, "pidfile");
	keep_string(&next->source, opts->source, "source");
	keep_string(&next->consumer, opts->consumer, "consumer");
	keep_string(&next->password_file, opts->password_file,
	    "password_file");
	if (next->listen_mode != opts->listen_mode)
		log_warnx(later, "listen_mode", config_path);
	if (next->listen_group != opts->listen_group)
		log_warnx(later, "listen_group", config_path);
	if (next->queue_max != opts->queue_max)
		log_warnx(later, "queue", config_path);
	if (next->partitions != opts->partitions)
		log_warnx(later, "partitions", config_path);
	if (next->frame_max != opts->frame_max)
		log_warnx(later, "frame_max", config_path);
	if (next->isolation != opts->isolation)
		log_warnx(later, "isolation", config_path);
	if (next->claim_idle_ns != opts->claim_idle_ns)
		log_warnx(later, "claim_idle", config_path);
	next->listen_mode = opts->listen_mode;
	next->listen_group = opts->listen_group;
	next->queue_max = opts->queue_max;
	next->partitions = opts->partitions;
	next->frame_max = opts->frame_max;
	next->isolation = opts->isolation;
	next->claim_idle_ns = opts->claim_idle_ns;
}

/*
 * Makes next the running generation, and frees the old one whole: the
 * pool no longer points at it (pool_canary is cleared before
 * reload_started() is called).
 */
static void
apply(struct options *next)
{
	struct options	*old = running;

	opts = running = next;
	log_init("forkpool", opts->verbose);
	scale_reconfigure(old);
	autoscale_update();
	options_free(old);
}

/* The command line's generation, then the file, checked: 0 or -1. */
static int
build(struct options *next, char *err, size_t len)
{
	if (config_load(config_path, next, cli_set, err, len) == -1)
		return -1;
	keep_fixed(next);
	if (handler_check(next, next->preload, err, len) == -1 ||
	    confine_check(next, err, len) == -1 ||
	    isolation_check(next, err, len) == -1)
		return -1;
	return 0;
}

static void
finish(reload_done_fn done, void *arg, uint64_t id, int ok, const char *msg)
{
	if (ok)
		log_info("reload: %s", msg);
	else
		log_warnx("reload: %s; the running configuration stays",
		    msg);
	notify_reloaded();
	if (done != NULL)
		done(arg, id, ok, msg);
}

void
reload_start(reload_done_fn done, void *arg, uint64_t id)
{
	struct options	*next;
	char		 err[512];

	if (config_path == NULL) {
		finish(done, arg, id, 0, "no configuration file: forkpool "
		    "was started without -f");
		return;
	}
	if (pending != NULL) {
		finish(done, arg, id, 0, "an earlier reload is still "
		    "starting its first worker");
		return;
	}
	if (pool_stopping()) {
		finish(done, arg, id, 0, "the pool is stopping");
		return;
	}
	notify_reloading();
	next = options_dup(cli_opts);
	if (build(next, err, sizeof err) == -1) {
		options_free(next);
		finish(done, arg, id, 0, err);
		return;
	}
	if (!workers_differ(next, opts)) {
		/* The same handler: the loaded one goes over to next. */
		handler_drop(next->handler_obj);
		next->handler_obj = running->handler_obj;
		running->handler_obj = NULL;
		apply(next);
		finish(done, arg, id, 1, "configuration reloaded");
		return;
	}
	pending = next;
	pending_done = done;
	pending_arg = arg;
	pending_id = id;
	log_info("reload: the handler changed: starting a worker with it "
	    "first");
	replace_roll(pending, reload_started);
}

/* pool.c: the first worker of the pending configuration is up, or not. */
void
reload_started(int ok, const char *why)
{
	struct options	*next = pending;

	if (next == NULL)
		return;
	pending = NULL;
	if (ok) {
		/* Workers started from here on get the new configuration. */
		replace_roll_commit();
		apply(next);
		finish(pending_done, pending_arg, pending_id, 1,
		    "configuration reloaded; rolling the workers over");
	} else {
		options_free(next);
		finish(pending_done, pending_arg, pending_id, 0, why);
	}
}
