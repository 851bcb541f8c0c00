/*
 * For the tests of config_load() (test-config.c, fuzz/fuzz-config.c): the
 * bits that say which settings the command line gave, and the one thing of
 * the supervisor options.c needs that the tests have none of.  Static:
 * each test program includes it once.
 */
#ifndef CONF_OPTIONS_H
#define CONF_OPTIONS_H

#include <stdint.h>
#include <stdlib.h>

#include "supervisor/conf.h"
#include "supervisor/options.h"
#include "supervisor/supervisor.h"

/* The tests resolve no handler: options_purge() has none to drop. */
void
handler_drop(struct handler *h)
{
	(void)h;
}

/* The bit of the file's key name. */
static uint64_t
cli_bit(const char *name)
{
	const struct optdef	*d;

	if ((d = options_key(name)) == NULL)
		abort();
	return OPTIONS_BIT(d - options_table);
}

#endif
