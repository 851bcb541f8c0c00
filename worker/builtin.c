/* The built-in handlers, for demos, tests and benchmarks (forkpool(1)). */
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "handler.h"

#define FNV_OFFSET	14695981039346656037ULL
#define FNV_PRIME	1099511628211ULL

static long long	cpu_iter = 1;
static long long	sleep_ms = -1;	/* -1: from the payload */

static int
hex_result(uint64_t h, struct buf *out)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*p;
	int			 i;

	if ((p = buf_append_space(out, 16)) == NULL)
		return STATUS_ERROR;
	for (i = 15; i >= 0; i--, h >>= 4)
		p[i] = hex[h & 15];
	return STATUS_OK;
}

static uint64_t
fnv1a(uint64_t h, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

static int
noargs_init(int argc, char **argv, char *err, size_t errlen)
{
	(void)argv;
	if (argc != 0) {
		snprintf(err, errlen, "this handler takes no arguments");
		return -1;
	}
	return 0;
}

static int
echo_handle(const struct handler_job *job, struct buf *out)
{
	if (buf_append(out, job->payload, job->paylen) == -1)
		return STATUS_ERROR;
	return STATUS_OK;
}

static int
fnv_handle(const struct handler_job *job, struct buf *out)
{
	return hex_result(fnv1a(FNV_OFFSET, job->payload, job->paylen), out);
}

static int
cpu_init(int argc, char **argv, char *err, size_t errlen)
{
	const char	*errstr;

	if (argc != 1) {
		snprintf(err, errlen, "cpu: usage: builtin:cpu ITER");
		return -1;
	}
	cpu_iter = strtonum(argv[0], 1, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "cpu: ITER %s: %s", argv[0], errstr);
		return -1;
	}
	return 0;
}

static int
cpu_handle(const struct handler_job *job, struct buf *out)
{
	uint64_t	h = FNV_OFFSET;
	long long	r;

	for (r = 0; r < cpu_iter; r++)
		h = fnv1a(h, job->payload, job->paylen);
	return hex_result(h, out);
}

static int
sleep_init(int argc, char **argv, char *err, size_t errlen)
{
	const char	*errstr;

	if (argc == 0)
		return 0;
	if (argc != 1) {
		snprintf(err, errlen, "sleep: usage: builtin:sleep [MS]");
		return -1;
	}
	sleep_ms = strtonum(argv[0], 0, 86400000, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "sleep: MS %s: %s", argv[0], errstr);
		return -1;
	}
	return 0;
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
sleep_handle(const struct handler_job *job, struct buf *out)
{
	struct timespec	 ts;
	long long	 ms;

	ms = sleep_ms >= 0 ? sleep_ms : last_field_ms(job->payload,
	    job->paylen);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return echo_handle(job, out);
}

static int
crash_init(int argc, char **argv, char *err, size_t errlen)
{
	struct rlimit	rl = { 0, 0 };

	(void)argv;
	if (argc != 0) {
		snprintf(err, errlen, "crash: takes no arguments");
		return -1;
	}
	/* Deliberate crashes should not litter the disk with cores. */
	setrlimit(RLIMIT_CORE, &rl);
	return 0;
}

static int
contains(const struct handler_job *job, const char *word)
{
	return memmem(job->payload, job->paylen, word, strlen(word)) != NULL;
}

/*
 * CRASH kills the worker with SIGSEGV; FLAKY does so at attempt 1 only;
 * GARBAGE, at attempt 1, answers with bytes that are not a frame.
 */
static int
crash_handle(const struct handler_job *job, struct buf *out)
{
	if (contains(job, "CRASH") || (job->attempt == 1 &&
	    contains(job, "FLAKY"))) {
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (job->attempt == 1 && contains(job, "GARBAGE"))
		worker_corrupt_result();
	return echo_handle(job, out);
}

static const struct handler builtins[] = {
	{ "echo",	noargs_init,	echo_handle,	NULL },
	{ "fnv",	noargs_init,	fnv_handle,	NULL },
	{ "cpu",	cpu_init,	cpu_handle,	NULL },
	{ "sleep",	sleep_init,	sleep_handle,	NULL },
	{ "crash",	crash_init,	crash_handle,	NULL },
};

const struct handler *
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
