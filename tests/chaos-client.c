/*
 * A client for the chaos soak (tests/chaos), on libforkpool: it keeps up
 * to WINDOW keyed jobs in flight on a "builtin:cpu REPEAT" service (cpu 1
 * is fnv), for N seconds or until it has submitted N jobs, then waits for
 * every result.  It checks that each job has exactly one result, that an
 * ok result is the FNV-1a of its payload repeated REPEAT times, and that
 * the results of each key come in the order the jobs were submitted.
 *
 *   chaos-client SOCKET NAME KEYS WINDOW REPEAT seconds|jobs N
 *
 * Job i (from 1) has key "k<i mod KEYS>" and payload "NAME k<...> i".  The
 * last line of output is
 *   NAME: jobs J ok O crashed C timeout T other X wrong W twice D order E
 * and the exit status 0 only if every job has its one right result.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forkpool.h"

static uint64_t
fnv(const char *p, size_t len, uint64_t repeat)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	while (repeat-- > 0)
		for (i = 0; i < len; i++) {
			h ^= (unsigned char)p[i];
			h *= 0x100000001b3ULL;
		}
	return h;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: chaos-client SOCKET NAME KEYS WINDOW REPEAT "
	    "seconds|jobs N\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct fp_client	*c;
	struct fp_result	 r;
	const char		*name;
	char			 err[FP_ERRBUF_SIZE], key[32], job[128], want[17];
	unsigned char		*answered;	/* per job: results seen */
	uint64_t		*last;		/* per key: last job answered */
	uint64_t		 i, n = 0, cap, limit = 0, keys, window, repeat;
	uint64_t		 pending;
	uint64_t		 ok = 0, crashed = 0, timeout = 0, other = 0;
	uint64_t		 wrong = 0, twice = 0, order = 0, k;
	double			 deadline = 0;
	int			 got;

	if (argc != 8)
		usage();
	name = argv[2];
	keys = strtoull(argv[3], NULL, 10);
	window = strtoull(argv[4], NULL, 10);
	repeat = strtoull(argv[5], NULL, 10);
	if (strcmp(argv[6], "seconds") == 0)
		deadline = now() + strtod(argv[7], NULL);
	else if (strcmp(argv[6], "jobs") == 0)
		limit = strtoull(argv[7], NULL, 10);
	else
		usage();
	if (keys == 0 || window == 0 || repeat == 0 ||
	    (deadline == 0 && limit == 0))
		usage();
	cap = limit > 0 ? limit : 1 << 20;
	if ((answered = calloc(cap + 1, 1)) == NULL ||
	    (last = calloc(keys, sizeof *last)) == NULL) {
		perror("chaos-client");
		return 2;
	}
	if ((c = fp_connect(argv[1], err, sizeof err)) == NULL) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 2;
	}
	for (pending = 0;;) {
		/* Top the window up in one batch, for one write. */
		while (pending < window && (limit > 0 ? n < limit :
		    now() < deadline)) {
			if (n == cap) {
				cap *= 2;
				if ((answered = realloc(answered, cap + 1)) ==
				    NULL) {
					perror("chaos-client");
					return 2;
				}
				memset(answered + n + 1, 0, cap - n);
			}
			i = ++n;
			snprintf(key, sizeof key, "k%llu",
			    (unsigned long long)(i % keys));
			snprintf(job, sizeof job, "%s %s %llu", name, key,
			    (unsigned long long)i);
			if (fp_submit(c, i, key, strlen(key), job, strlen(job),
			    FP_F_KEYED) == -1) {
				fprintf(stderr, "%s: submit: %s\n", name,
				    fp_error(c));
				return 2;
			}
			pending++;
		}
		if (pending == 0)
			break;
		if ((got = fp_receive(c, &r)) != 1) {
			fprintf(stderr, "%s: %s with %llu jobs unanswered\n",
			    name, got == 0 ? "no result" : fp_error(c),
			    (unsigned long long)pending);
			break;
		}
		pending--;
		if (r.id == 0 || r.id > n) {
			wrong++;
			continue;
		}
		if (answered[r.id]++ > 0) {
			twice++;
			continue;
		}
		k = r.id % keys;
		if (last[k] > r.id)
			order++;
		last[k] = r.id;
		switch (r.status) {
		case FP_STATUS_OK:
			ok++;
			snprintf(key, sizeof key, "k%llu",
			    (unsigned long long)k);
			snprintf(job, sizeof job, "%s %s %llu", name, key,
			    (unsigned long long)r.id);
			snprintf(want, sizeof want, "%016llx",
			    (unsigned long long)fnv(job, strlen(job), repeat));
			if (r.len != 16 || memcmp(r.data, want, 16) != 0)
				wrong++;
			break;
		case FP_STATUS_CRASHED:
			crashed++;
			break;
		case FP_STATUS_TIMEOUT:
			timeout++;
			break;
		default:
			other++;
			break;
		}
	}
	printf("%s: jobs %llu ok %llu crashed %llu timeout %llu other %llu "
	    "wrong %llu twice %llu order %llu unanswered %llu\n", name,
	    (unsigned long long)n, (unsigned long long)ok,
	    (unsigned long long)crashed, (unsigned long long)timeout,
	    (unsigned long long)other, (unsigned long long)wrong,
	    (unsigned long long)twice, (unsigned long long)order,
	    (unsigned long long)pending);
	fp_close(c);
	free(answered);
	free(last);
	return pending == 0 && wrong == 0 && twice == 0 && order == 0 &&
	    other == 0 && ok + crashed + timeout == n ? 0 : 1;
}
