/*
 * A plugin for the tests (forkpool_handler(3)), built three ways: as it
 * is; with TEST_PLUGIN_ABI set to another ABI version; and with
 * TEST_PLUGIN_NO_SYMBOL, exporting nothing under FP_HANDLER_SYMBOL.
 *
 *	fnv, cpu ITER, echo	as the builtins, to compare with them
 *	count			"PID N": the worker and how many jobs its
 *				state has seen, to show one init per worker
 *	error			every job fails with a message
 *	fail MESSAGE		init fails with MESSAGE
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fnv.h"
#include "forkpool_handler.h"

#ifndef TEST_PLUGIN_ABI
#define TEST_PLUGIN_ABI	FP_HANDLER_ABI_VERSION
#endif

enum mode { FNV, CPU, ECHO, COUNT, ERROR };

struct state {
	enum mode	 mode;
	long long	 iter;
	unsigned long	 jobs;
};

static int
test_init(int argc, char *const argv[], void **statep, char *err,
    size_t errlen)
{
	struct state	*st;
	char		*end;

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
	else {
		snprintf(err, errlen, "usage: fnv | cpu ITER | echo | count | "
		    "error | fail MESSAGE");
		free(st);
		return -1;
	}
	*statep = st;
	return 0;
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
	}
	return FP_HANDLER_ERROR;
}

static void
test_fini(void *state)
{
	free(state);
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
