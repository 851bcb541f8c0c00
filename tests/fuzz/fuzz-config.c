/*
 * libFuzzer target for forkpool.conf(5): the input is the file, read by
 * config_load() itself from a memfd (through its /proc/self/fd path, as
 * any other path).  A hash of the input chooses which settings the command
 * line "has given" and how small the error buffer is, so that those paths
 * run too.  Checks, on any input:
 *   - a bad file leaves the options exactly as they were, and says why,
 *     starting with the file's name, within the error buffer;
 *   - a good file gives values within the ranges forkpool.conf(5) states;
 *   - a setting the command line has given is left alone;
 *   - nothing leaks (options_purge() frees what the file allocated).
 */
#include <sys/mman.h>
#include <sys/un.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/conf-options.h"
#include "supervisor/conf.h"
#include "supervisor/options.h"
#include "supervisor/supervisor.h"

#define CANARY	0x5a

static uint64_t
fnv(const uint8_t *p, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	while (len-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
seconds_ok(uint64_t ns)
{
	return ns >= 1000000ULL && ns <= 1000000000000000ULL;
}

static void
check_ranges(const struct options *o)
{
	int	i;

	if (o->workers < 1 || o->workers > 1024)
		abort();
	if (o->workers_max != 0 && (o->workers_min != o->workers ||
	    o->workers_max <= o->workers_min || o->workers_max > 1024))
		abort();
	if (o->workers_max == 0 && o->workers_min != 0)
		abort();
	if (o->queue_max < 1 || o->queue_max > (1 << 24) ||
	    o->window > WINDOW_MAX || o->attempts < 1 || o->attempts > 1000 ||
	    o->frame_max < 64 || o->partitions < 1 ||
	    o->partitions > (1 << 20) || o->listen_mode < 1 ||
	    o->listen_mode > 0777 ||
	    o->restart_max < 1 || o->restart_max > 1000000 ||
	    o->verbose < 0 || o->verbose > 2)
		abort();
	if ((o->timeout_ns != 0 && !seconds_ok(o->timeout_ns)) ||
	    !seconds_ok(o->kill_grace_ns) || !seconds_ok(o->idle_timeout_ns) ||
	    !seconds_ok(o->restart_period_ns) ||
	    (o->shutdown_timeout_ns != 0 &&
	    !seconds_ok(o->shutdown_timeout_ns)))
		abort();
	if (!isfinite(o->rate_limit) || o->rate_limit < 0 ||
	    o->rate_limit > 1e9)
		abort();
	if (o->listen_path != NULL &&
	    strlen(o->listen_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		abort();
	if (o->pidfile != NULL && o->pidfile[0] == '\0')
		abort();
	if (o->handler_argc < 0 || (o->handler != NULL &&
	    (o->handler_argv == NULL || o->handler_argv[o->handler_argc] != NULL)))
		abort();
	for (i = 0; i < o->handler_argc; i++)
		if (o->handler_argv[i] == NULL || o->handler_argv[i][0] == '\0')
			abort();
	if ((o->nallow_uids > 0) != (o->allow_uids != NULL) ||
	    (o->nallow_gids > 0) != (o->allow_gids != NULL))
		abort();
}

/* What the command line has given stays as it was. */
static void
check_cli(const struct options *o, const struct options *d, uint64_t cli)
{
#define GIVEN(key)	((cli & cli_bit(key)) != 0)
	if ((GIVEN("workers") && (o->workers != d->workers ||
	    o->workers_max != 0)) ||
	    (GIVEN("listen") && o->listen_path != NULL) ||
	    (GIVEN("listen_mode") && o->listen_mode != d->listen_mode) ||
	    (GIVEN("listen_group") && o->listen_group != d->listen_group) ||
	    (GIVEN("allow_users") && o->allow_uids != NULL) ||
	    (GIVEN("allow_groups") && o->allow_gids != NULL) ||
	    (GIVEN("pidfile") && o->pidfile != NULL) ||
	    (GIVEN("queue") && o->queue_max != d->queue_max) ||
	    (GIVEN("window") && o->window != d->window) ||
	    (GIVEN("attempts") && o->attempts != d->attempts) ||
	    (GIVEN("timeout") && o->timeout_ns != d->timeout_ns) ||
	    (GIVEN("kill_grace") && o->kill_grace_ns != d->kill_grace_ns) ||
	    (GIVEN("shutdown_timeout") &&
	    o->shutdown_timeout_ns != d->shutdown_timeout_ns) ||
	    (GIVEN("frame_max") && o->frame_max != d->frame_max) ||
	    (GIVEN("partitions") && o->partitions != d->partitions) ||
	    (GIVEN("restart_intensity") && (o->restart_max != d->restart_max ||
	    o->restart_period_ns != d->restart_period_ns)) ||
	    (GIVEN("idle_timeout") && o->idle_timeout_ns != d->idle_timeout_ns) ||
	    (GIVEN("rate_limit") && o->rate_limit != d->rate_limit) ||
	    (GIVEN("log_level") && o->verbose != d->verbose) ||
	    (GIVEN("handler") && o->handler != NULL))
		abort();
#undef GIVEN
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int		 fd = -1;
	static char		 path[64];
	struct options		 o, before;
	uint64_t		 cli;
	char			 err[512];
	size_t			 errlen, i;
	uint64_t		 h = fnv(data, len);
	int			 rc;

	if (fd == -1) {
		if ((fd = memfd_create("forkpool.conf", MFD_CLOEXEC)) == -1)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 ||
	    (len > 0 && pwrite(fd, data, len, 0) != (ssize_t)len))
		abort();

	/* One input in four has the command line give nothing. */
	cli = h % 4 != 0 ? h >> 8 : 0;
	errlen = (h >> 40) % 4 == 0 ? (h >> 44) % 64 : 256;
	memset(err, CANARY, sizeof err);

	options_defaults(&o);
	before = o;
	rc = config_load(path, &o, cli, err, errlen);
	for (i = errlen; i < sizeof err; i++)
		if ((unsigned char)err[i] != CANARY)
			abort();
	if (rc == -1) {
		if (memcmp(&o, &before, sizeof o) != 0)
			abort();
		if (errlen > 0 && (memchr(err, '\0', errlen) == NULL ||
		    strncmp(err, path, errlen - 1 < strlen(path) ?
		    errlen - 1 : strlen(path)) != 0))
			abort();
		return 0;
	}
	if (rc != 0)
		abort();
	check_ranges(&o);
	check_cli(&o, &before, cli);
	options_purge(&o);
	return 0;
}
