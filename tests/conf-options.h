/*
 * For the tests of config_load() (test-config.c, fuzz/fuzz-config.c): the
 * options as main.c sets them before it reads a file, and the freeing of
 * what a loaded file allocated, so that valgrind and LeakSanitizer see no
 * leak.  Static: each test program includes it once.
 */
#ifndef CONF_OPTIONS_H
#define CONF_OPTIONS_H

#include <stdlib.h>
#include <string.h>

#include "supervisor/conf.h"
#include "supervisor/supervisor.h"

static char	 default_handler[] = "builtin:echo";

static void
options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->workers = 3;
	o->partitions = 256;
	o->queue_max = 16384;
	o->attempts = 3;
	o->kill_grace_ns = 1000000000ULL;
	o->start_timeout_ns = 10000000000ULL;
	o->shutdown_timeout_ns = 30000000000ULL;
	o->frame_max = 16777216;
	o->listen_mode = 0600;
	o->listen_group = (gid_t)-1;
	o->restart_max = 5;
	o->restart_period_ns = 10000000000ULL;
	o->idle_timeout_ns = 10000000000ULL;
	o->max_clients = MAX_CLIENTS_DEFAULT;
	o->client_budget = CLIENT_BUDGET_DEFAULT;
	o->handler = default_handler;
}

/* Frees what config_load() allocated, and sets the defaults again. */
static void
options_drop(struct options *o)
{
	struct options	d;

	options_defaults(&d);
	config_free(o, &d);
	options_defaults(o);
}

#endif
