/*
 * A plugin for the tests (forkpool_handler(3)), built three ways: as it
 * is; with TEST_PLUGIN_ABI set to another ABI version; and with
 * TEST_PLUGIN_NO_SYMBOL, exporting nothing under FP_HANDLER_SYMBOL.
 *
 *	fnv, cpu ITER, echo	as the builtins, to compare with them
 *	count			"PID N": the worker and how many jobs its
 *				state has seen, to show one init per worker
 *	error			every job fails with a message
 *	leak KIB MS		each job keeps KIB KiB more, touched, and
 *				sleeps MS ms; answers "PAYLOAD PID"
 *	fail MESSAGE		init fails with MESSAGE
 *	hang			init never returns
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/fnv.h"
#include "forkpool_handler.h"

#ifndef TEST_PLUGIN_ABI
#define TEST_PLUGIN_ABI	FP_HANDLER_ABI_VERSION
#endif

enum mode { FNV, CPU, ECHO, COUNT, ERROR, LEAK };

struct state {
	enum mode	 mode;
	long long	 iter;
	unsigned long	 jobs;
	long		 leak_kib;
	long		 leak_ms;
	void		**kept;		/* what leak holds, freed at fini */
	size_t		 nkept;
};

static int
test_init(int argc, char *const argv[], void **statep, char *err,
    size_t errlen)
{
	struct state	*st;
	char		*end;

	if (argc == 1 && strcmp(argv[0], "hang") == 0)
		for (;;)
			pause();
	if (argc >= 1 && strcmp(argv[0], "fail") == 0) {
		snprintf(err, errlen, "%s", argc > 1 ? argv[1] : "failing");
		return -1;
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	st->iter = 1;
	if (argc == 1 && strcmp(argv[0], "fnv") == 0)
		st->mode = FNV;
	else if (argc == 2 && strcmp(argv[0], "cpu") == 0) {
		st->mode = CPU;
		st->iter = strtoll(argv[1], &end, 10);
		if (*end != '\0' || st->iter < 1) {
			snprintf(err, errlen, "cpu ITER: %s: not a count",
			    argv[1]);
			free(st);
			return -1;
		}
	} else if (argc == 1 && strcmp(argv[0], "echo") == 0)
		st->mode = ECHO;
	else if (argc == 1 && strcmp(argv[0], "count") == 0)
		st->mode = COUNT;
	else if (argc == 1 && strcmp(argv[0], "error") == 0)
		st->mode = ERROR;
	else if (argc == 3 && strcmp(argv[0], "leak") == 0 &&
	    (st->leak_kib = atol(argv[1])) > 0 &&
	    (st->leak_ms = atol(argv[2])) >= 0)
		st->mode = LEAK;
	else {
		snprintf(err, errlen, "usage: fnv | cpu ITER | echo | count | "
		    "error | leak KIB MS | fail MESSAGE");
		free(st);
		return -1;
	}
	*statep = st;
	return 0;
}

/* Grows on purpose: a handler that leaks, for --max-rss. */
static int
leak(struct state *st, const struct fp_job *job, struct fp_output *out)
{
	struct timespec	 ts;
	void		**kept, *p;
	char		 buf[32];
	int		 n;

	kept = realloc(st->kept, (st->nkept + 1) * sizeof *kept);
	if (kept == NULL || (p = malloc(st->leak_kib * 1024)) == NULL)
		return FP_HANDLER_ERROR;
	st->kept = kept;
	memset(p, 1, st->leak_kib * 1024);	/* resident, not just mapped */
	st->kept[st->nkept++] = p;
	ts.tv_sec = st->leak_ms / 1000;
	ts.tv_nsec = st->leak_ms % 1000 * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
	n = snprintf(buf, sizeof buf, " %ld", (long)getpid());
	if (fp_output_append(out, job->payload, job->paylen) == -1 ||
	    fp_output_append(out, buf, n) == -1)
		return FP_HANDLER_ERROR;
	return FP_HANDLER_OK;
}

static int
test_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	struct state	*st = state;
	char		 buf[64];
	int		 n;

	st->jobs++;
	switch (st->mode) {
	case FNV:
	case CPU:
		fnv_hex(fnv1a_repeat(job->payload, job->paylen, st->iter), buf);
		return fp_output_append(out, buf, FNV_HEX_LEN) == 0 ?
		    FP_HANDLER_OK : FP_HANDLER_ERROR;
	case ECHO:
		return fp_output_append(out, job->payload, job->paylen) == 0 ?
		    FP_HANDLER_OK : FP_HANDLER_ERROR;
	case COUNT:
		n = snprintf(buf, sizeof buf, "%ld %lu", (long)getpid(),
		    st->jobs);
		fp_output_append(out, buf, n);
		return FP_HANDLER_OK;
	case ERROR:
		n = snprintf(buf, sizeof buf, "refused job %llu",
		    (unsigned long long)job->id);
		fp_output_append(out, buf, n);
		return FP_HANDLER_ERROR;
	case LEAK:
		return leak(st, job, out);
	}
	return FP_HANDLER_ERROR;
}

static void
test_fini(void *state)
{
	struct state	*st = state;
	size_t		 i;

	for (i = 0; i < st->nkept; i++)
		free(st->kept[i]);
	free(st->kept);
	free(st);
}

#ifdef TEST_PLUGIN_NO_SYMBOL
#define EXPORTED	test_handler_misnamed
#else
#define EXPORTED	forkpool_handler
#endif

const struct fp_handler EXPORTED = {
	.abi_version = TEST_PLUGIN_ABI,
	.name = "test-plugin",
	.init = test_init,
	.handle = test_handle,
	.fini = test_fini,
};
