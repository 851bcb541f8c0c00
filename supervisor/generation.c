/*
 * A generation of the options: the defaults, a copy that owns its own
 * strings and arrays, and freeing it whole.  The settings themselves are
 * read in options.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "proto/field.h"
#include "proto/frame.h"
#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

/* The one place defaults are set: main.c, reload.c and the tests. */
void
options_defaults(struct options *o)
{
	long	ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof *o);
	o->workers = ncpu > 0 ? (ncpu < WORKERS_CAP ? (int)ncpu :
	    WORKERS_CAP) : 1;
	o->partitions = 256;
	o->queue_max = 16384;
	o->attempts = 3;
	o->kill_grace_ns = 1000000000ULL;
	o->start_timeout_ns = 10000000000ULL;
	o->shutdown_timeout_ns = 30000000000ULL;
	o->frame_max = FRAME_MAX_DEFAULT;
	o->order = ORDER_INPUT;
	o->preload = 1;
	o->isolation = ISOLATION_PROCESS;
	o->listen_mode = 0600;
	o->listen_group = (gid_t)-1;
	o->max_clients = MAX_CLIENTS_DEFAULT;
	o->client_budget = CLIENT_BUDGET_DEFAULT;
	o->idle_timeout_ns = 10000000000ULL;
	o->restart_max = 5;
	o->restart_period_ns = 10000000000ULL;
	o->claim_idle_ns = 30000000000ULL;
}

struct options *
options_new(void)
{
	struct options	*o = xmalloc(sizeof *o);

	options_defaults(o);
	return o;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static char **
dup_argv(int argc, char *const *argv)
{
	char	**copy;
	int	  i;

	copy = xcalloc(argc + 1, sizeof *copy);
	for (i = 0; i < argc; i++)
		copy[i] = xstrdup(argv[i]);
	return copy;
}

/* A copy of n items of size each, or NULL for none. */
static void *
dup_array(const void *a, size_t n, size_t size)
{
	void	*copy;

	if (n == 0)
		return NULL;
	copy = xreallocarray(NULL, n, size);
	memcpy(copy, a, n * size);
	return copy;
}

/* A copy that owns its own strings and arrays; no handler resolved. */
struct options *
options_dup(const struct options *from)
{
	struct options	*o = xmalloc(sizeof *o);

	*o = *from;
	o->handler_obj = NULL;
	o->failed_path = dup_or_null(from->failed_path);
	o->joblog_path = dup_or_null(from->joblog_path);
	o->failed_line = dup_or_null(from->failed_line);
	if (from->colsep != NULL &&
	    (o->colsep = field_sep_dup(from->colsep)) == NULL)
		fatalx("out of memory");
	o->handler = dup_or_null(from->handler);
	o->handler_argv = from->handler_argv != NULL ?
	    dup_argv(from->handler_argc, from->handler_argv) : NULL;
	o->user = dup_or_null(from->user);
	o->group = dup_or_null(from->group);
	o->chroot_dir = dup_or_null(from->chroot_dir);
	o->listen_path = dup_or_null(from->listen_path);
	o->pidfile = dup_or_null(from->pidfile);
	o->source = dup_or_null(from->source);
	o->consumer = dup_or_null(from->consumer);
	o->password_file = dup_or_null(from->password_file);
	o->allow_uids = dup_array(from->allow_uids, from->nallow_uids,
	    sizeof *o->allow_uids);
	o->allow_gids = dup_array(from->allow_gids, from->nallow_gids,
	    sizeof *o->allow_gids);
	return o;
}

static void
free_argv(char **argv)
{
	char	**a;

	if (argv == NULL)
		return;
	for (a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

/* Frees what o owns, the handler it resolved too, and sets defaults. */
void
options_purge(struct options *o)
{
	handler_drop(o->handler_obj);
	free(o->failed_path);
	free(o->joblog_path);
	free(o->failed_line);
	field_sep_free(o->colsep);
	free(o->handler);
	free_argv(o->handler_argv);
	free(o->user);
	free(o->group);
	free(o->chroot_dir);
	free(o->listen_path);
	free(o->pidfile);
	free(o->source);
	free(o->consumer);
	free(o->password_file);
	free(o->allow_uids);
	free(o->allow_gids);
	options_defaults(o);
}

void
options_free(struct options *o)
{
	if (o == NULL)
		return;
	options_purge(o);
	free(o);
}

/* The handler and its arguments, as the command line gives them. */
void
options_set_handler(struct options *o, int argc, char **argv)
{
	free(o->handler);
	free_argv(o->handler_argv);
	o->handler = xstrdup(argv[0]);
	o->handler_argc = argc - 1;
	o->handler_argv = dup_argv(argc - 1, argv + 1);
}
