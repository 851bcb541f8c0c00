/*
 * The built-in handlers, for demos, tests and benchmarks (forkpool(1)),
 * written against the plugin ABI of forkpool_handler.h like any plugin.
 * What a handler's arguments set lives in its state, not in globals, so
 * that several threads may run one handler at once.
 */
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/fnv.h"
#include "handler.h"

/* The one number a handler's arguments give (cpu ITER, sleep MS). */
struct number_state {
	long long	n;
};

/*
 * Takes the handler's one argument, a number from min to max, into a new
 * state; an optional one absent is -1.
 */
static int
number_arg(int argc, char *const argv[], void **state, int optional,
    long long min, long long max, const char *usage, const char *what,
    char *err, size_t errlen)
{
	struct number_state	*st;
	const char		*errstr;
	long long		 n = -1;

	if (argc > 1 || (argc == 0 && !optional)) {
		snprintf(err, errlen, "usage: %s", usage);
		return -1;
	}
	if (argc == 1) {
		n = strtonum(argv[0], min, max, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "%s %s: %s", what, argv[0],
			    errstr);
			return -1;
		}
	}
	if ((st = malloc(sizeof *st)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	st->n = n;
	*state = st;
	return 0;
}

static void
number_fini(void *state)
{
	free(state);
}

static int
hex_result(uint64_t h, struct fp_output *out)
{
	char	hex[FNV_HEX_LEN];

	fnv_hex(h, hex);
	if (fp_output_append(out, hex, sizeof hex) == -1)
		return FP_HANDLER_ERROR;
	return FP_HANDLER_OK;
}

static int
noargs_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	(void)argv;
	if (argc != 0) {
		snprintf(err, errlen, "this handler takes no arguments");
		return -1;
	}
	*state = NULL;
	return 0;
}

static int
echo_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	(void)state;
	if (fp_output_append(out, job->payload, job->paylen) == -1)
		return FP_HANDLER_ERROR;
	return FP_HANDLER_OK;
}

static int
fnv_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	(void)state;
	return hex_result(fnv1a(FNV_OFFSET, job->payload, job->paylen), out);
}

static int
cpu_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	return number_arg(argc, argv, state, 0, 1, LLONG_MAX, "builtin:cpu ITER",
	    "cpu: ITER", err, errlen);
}

static int
cpu_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	const struct number_state	*st = state;

	return hex_result(fnv1a_repeat(job->payload, job->paylen, st->n), out);
}

/* MS is optional: -1 takes the milliseconds from each payload. */
static int
sleep_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	return number_arg(argc, argv, state, 1, 0, 86400000,
	    "builtin:sleep [MS]", "sleep: MS", err, errlen);
}

/* The integer in the payload's last whitespace-separated field. */
static long long
last_field_ms(const char *p, size_t n)
{
	size_t		 end = n, start;
	long long	 ms = 0;

	while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && p[start - 1] != ' ' && p[start - 1] != '\t')
		start--;
	for (; start < end; start++) {
		if (p[start] < '0' || p[start] > '9')
			return 0;
		if (ms < 86400000)
			ms = ms * 10 + (p[start] - '0');
	}
	return ms;
}

static int
sleep_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	const struct number_state	*st = state;
	struct timespec			 ts;
	long long			 ms;

	ms = st->n >= 0 ? st->n : last_field_ms(job->payload, job->paylen);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return echo_handle(NULL, job, out);
}

static int
crash_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	struct rlimit	rl = { 0, 0 };

	if (noargs_init(argc, argv, state, err, errlen) == -1)
		return -1;
	/* Deliberate crashes should not litter the disk with cores. */
	setrlimit(RLIMIT_CORE, &rl);
	return 0;
}

static int
contains(const struct fp_job *job, const char *word)
{
	return memmem(job->payload, job->paylen, word, strlen(word)) != NULL;
}

/*
 * CRASH kills the worker with SIGSEGV; FLAKY does so at attempt 1 only;
 * GARBAGE, at attempt 1, answers with bytes that are not a frame.
 */
static int
crash_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	if (contains(job, "CRASH") || (job->attempt == 1 &&
	    contains(job, "FLAKY"))) {
		/*
		 * A worker process dies of it as such, not of a sanitizer's
		 * report; a thread's crash first goes through the
		 * supervisor's last words (--isolation thread).
		 */
		if (!handler_threaded)
			signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (job->attempt == 1 && contains(job, "GARBAGE"))
		handler_output_corrupt(out);
	return echo_handle(state, job, out);
}

#define BUILTIN(n, i, h, f)	{ FP_HANDLER_ABI_VERSION, n, i, h, f }

static const struct fp_handler builtins[] = {
	BUILTIN("echo",		noargs_init,	echo_handle,	NULL),
	BUILTIN("fnv",		noargs_init,	fnv_handle,	NULL),
	BUILTIN("cpu",		cpu_init,	cpu_handle,	number_fini),
	BUILTIN("sleep",	sleep_init,	sleep_handle,	number_fini),
	BUILTIN("crash",	crash_init,	crash_handle,	NULL),
};

const struct fp_handler *
builtin_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

const char *
builtin_names(void)
{
	return "echo, fnv, cpu ITER, sleep [MS], crash";
}
