/*
 * Reloading the configuration (SIGHUP, forkpoolctl reload).  The file is
 * read again under the command line, which still wins over it; a file
 * that does not check out changes nothing.  When the handler changes, one
 * new worker is first started with the new configuration: only once it
 * has said HELLO does anything change, and pool.c then rolls the other
 * workers over, new before old.  What only a restart can change (the
 * socket, the queue, the partitions, the frame size) is kept, with a
 * warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto/log.h"
#include "supervisor.h"

static const char		*config_path;
static struct options		 cli_opts;	/* defaults and command line */
static struct config_set	 cli_set;

/* A reload whose first new worker is starting. */
static struct options		 pending;
static int			 pending_set;
static reload_done_fn		 pending_done;
static void			*pending_arg;
static uint64_t			 pending_id;

void
reload_init(const char *path, const struct options *cli,
    const struct config_set *set)
{
	config_path = path;
	cli_opts = *cli;
	cli_set = *set;
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

/*
 * Settings fixed at start: warns about each one the file changes, and
 * keeps the running value of those a new worker would see.
 */
static void
keep_fixed(struct options *next)
{
	static const char	 later[] = "reload: %s changed in %s; it "
	    "takes effect at the next start";

	if (!same_string(next->listen_path, opts->listen_path))
		log_warnx(later, "listen", config_path);
	if (!same_string(next->pidfile, opts->pidfile))
		log_warnx(later, "pidfile", config_path);
	if (!same_string(next->source, opts->source))
		log_warnx(later, "source", config_path);
	if (!same_string(next->consumer, opts->consumer))
		log_warnx(later, "consumer", config_path);
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
	next->listen_mode = opts->listen_mode;
	next->listen_group = opts->listen_group;
	next->queue_max = opts->queue_max;
	next->partitions = opts->partitions;
	next->frame_max = opts->frame_max;
	next->isolation = opts->isolation;
	next->claim_idle_ns = opts->claim_idle_ns;
}

/* A string of next the file allocated gives way to the running one. */
static void
keep_string(const char **next, const char *running, const char *cli)
{
	if (*next != running && *next != cli)
		free((char *)*next);
	*next = running;
}

/* A string the old configuration's file had allocated, now unused. */
static void
drop_string(const char *old, const char *now, const char *cli)
{
	if (old != now && old != cli)
		free((char *)old);
}

/* Makes next the running configuration; next's storage is taken over. */
static void
apply(struct options *next)
{
	struct options	old = *opts;

	keep_string(&next->listen_path, old.listen_path, cli_opts.listen_path);
	keep_string(&next->pidfile, old.pidfile, cli_opts.pidfile);
	keep_string(&next->source, old.source, cli_opts.source);
	keep_string(&next->consumer, old.consumer, cli_opts.consumer);
	*opts = *next;

	/* What the old configuration's file had allocated and is unused. */
	if (old.allow_uids != opts->allow_uids &&
	    old.allow_uids != cli_opts.allow_uids)
		free(old.allow_uids);
	if (old.allow_gids != opts->allow_gids &&
	    old.allow_gids != cli_opts.allow_gids)
		free(old.allow_gids);
	drop_string(old.user, opts->user, cli_opts.user);
	drop_string(old.group, opts->group, cli_opts.group);
	drop_string(old.chroot_dir, opts->chroot_dir, cli_opts.chroot_dir);
	if (old.handler_obj != opts->handler_obj)
		handler_drop(old.handler_obj);
	if (old.handler != opts->handler && old.handler != cli_opts.handler) {
		free((char *)old.handler);
		free(old.handler_argv);
	}
	log_init("forkpool", opts->verbose);
	scale_reconfigure(&old);
	autoscale_update();
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
	struct options	next;
	char		err[512];

	if (config_path == NULL) {
		finish(done, arg, id, 0, "no configuration file: forkpool "
		    "was started without -f");
		return;
	}
	if (pending_set) {
		finish(done, arg, id, 0, "an earlier reload is still "
		    "starting its first worker");
		return;
	}
	if (pool_stopping()) {
		finish(done, arg, id, 0, "the pool is stopping");
		return;
	}
	notify_reloading();
	next = cli_opts;
	if (config_load(config_path, &next, &cli_set, err, sizeof err) == -1) {
		finish(done, arg, id, 0, err);
		return;
	}
	keep_fixed(&next);
	if (handler_check(&next, next.preload, err, sizeof err) == -1) {
		config_free(&next, &cli_opts);
		finish(done, arg, id, 0, err);
		return;
	}
	if (confine_check(&next, err, sizeof err) == -1 ||
	    isolation_check(&next, err, sizeof err) == -1) {
		handler_drop(next.handler_obj);
		config_free(&next, &cli_opts);
		finish(done, arg, id, 0, err);
		return;
	}
	if (!workers_differ(&next, opts)) {
		/* The same handler: the loaded one stays. */
		handler_drop(next.handler_obj);
		next.handler_obj = opts->handler_obj;
		apply(&next);
		finish(done, arg, id, 1, "configuration reloaded");
		return;
	}
	pending = next;
	pending_set = 1;
	pending_done = done;
	pending_arg = arg;
	pending_id = id;
	log_info("reload: the handler changed: starting a worker with it "
	    "first");
	replace_roll(&pending, reload_started);
}

/* pool.c: the first worker of the pending configuration is up, or not. */
void
reload_started(int ok, const char *why)
{
	if (!pending_set)
		return;
	pending_set = 0;
	if (ok) {
		/* Workers started from here on get the new configuration. */
		replace_roll_commit();
		apply(&pending);
		finish(pending_done, pending_arg, pending_id, 1,
		    "configuration reloaded; rolling the workers over");
	} else {
		handler_drop(pending.handler_obj);
		config_free(&pending, &cli_opts);
		finish(pending_done, pending_arg, pending_id, 0, why);
	}
}
