/*
 * A build without hiredis: main.c refuses a Redis source at start-up,
 * with the reason, before this intake could be used.
 */
#include <stdlib.h>

#include "proto/log.h"
#include "supervisor.h"

static void
none_init(void)
{
	fatalx("built without Redis support");
}

const struct intake redis_intake = {
	.init = none_init,
};

int
redis_supported(void)
{
	return 0;
}
