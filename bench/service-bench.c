/*
 * service-bench: the client side of bench/service, on libforkpool alone.
 *
 *	service-bench latency SOCKET ROUNDS WARMUP
 *	service-bench throughput SOCKET JOBS CLIENTS WINDOW
 *
 * latency: one job at a time (submit, flush, receive) to builtin:echo;
 * prints round trip percentiles in microseconds.  throughput: CLIENTS
 * forked processes share the JOBS lines of W1 ("k<i mod 1000> <i>"), each
 * with at most WINDOW pending, for builtin:fnv; prints the wall time from
 * the first connect to the last result.  Each client lays out its lines
 * before the clock starts, as batch mode finds its input in a file.  Both wait first for every worker
 * to be ready, so that worker start-up is not timed.
 */
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <forkpool.h>

#define SAMPLE		97	/* prime: spreads over clients and keys */
#define READY_TRIES	2000	/* 5 ms apart: 10 s */

static const struct timespec	five_ms = { 0, 5000000 };

struct tally {
	uint64_t	done;		/* results taken */
	uint64_t	checked;	/* hashes recomputed */
	uint64_t	end_ns;		/* when the last result came */
};

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Line i of W1, without its newline: the payload of job id i + 1.  By
 * hand, as snprintf() cost the clients a quarter of their CPU.
 */
static int
job_line(uint64_t i, char *buf)
{
	char		 tmp[48], *end = tmp + sizeof tmp, *p = end;
	uint64_t	 k = i % 1000;

	do
		*--p = '0' + i % 10;
	while ((i /= 10) > 0);
	*--p = ' ';
	do
		*--p = '0' + k % 10;
	while ((k /= 10) > 0);
	*--p = 'k';
	memcpy(buf, p, end - p);
	return end - p;
}

/* builtin:fnv's answer: FNV-1a 64 in 16 lowercase hex digits. */
static void
fnv_hex(const char *s, size_t n, char out[16])
{
	static const char	 hex[] = "0123456789abcdef";
	uint64_t		 h = 14695981039346656037ULL;
	size_t			 i;
	int			 k;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	for (k = 15; k >= 0; k--, h >>= 4)
		out[k] = hex[h & 15];
}

/* The script has just started the service: wait for it and its workers. */
static struct fp_client *
connect_ready(const char *path)
{
	struct fp_client	*c = NULL;
	char			 err[FP_ERRBUF_SIZE], *st;
	int			 i, busy;

	for (i = 0; i < READY_TRIES && c == NULL; i++)
		if ((c = fp_connect(path, err, sizeof err)) == NULL)
			nanosleep(&five_ms, NULL);
	if (c == NULL) {
		fprintf(stderr, "service-bench: %s\n", err);
		return NULL;
	}
	for (i = 0; i < READY_TRIES; i++) {
		if (fp_status(c, FP_FORMAT_JSON, &st) != 0) {
			fprintf(stderr, "service-bench: status: %s\n",
			    fp_error(c));
			break;
		}
		busy = strstr(st, "starting\"") != NULL;
		free(st);
		if (!busy)
			return c;
		nanosleep(&five_ms, NULL);
	}
	fp_close(c);
	return NULL;
}

static int
latency(const char *path, long rounds, long warm)
{
	struct fp_client	*c;
	struct fp_result	 r;
	double			*rt;
	char			 job[48];
	uint64_t		 t0;
	long			 i;
	int			 len;

	if ((c = connect_ready(path)) == NULL)
		return 2;
	if ((rt = calloc(rounds, sizeof *rt)) == NULL)
		return 2;
	for (i = 0; i < warm + rounds; i++) {
		len = job_line(i, job);
		t0 = now_ns();
		if (fp_submit(c, i + 1, NULL, 0, job, len, 0) == -1 ||
		    fp_flush(c) == -1 || fp_receive(c, &r) != 1) {
			fprintf(stderr, "service-bench: %s\n", fp_error(c));
			return 1;
		}
		if (i >= warm)
			rt[i - warm] = (now_ns() - t0) / 1e3;
		/* The echo must come back whole, for this very job. */
		if (r.id != (uint64_t)i + 1 ||
		    r.status != FP_STATUS_OK || r.len != (size_t)len ||
		    memcmp(r.data, job, len) != 0) {
			fprintf(stderr, "service-bench: bad echo for job %llu\n",
			    (unsigned long long)r.id);
			return 1;
		}
	}
	fp_close(c);
	qsort(rt, rounds, sizeof *rt, cmp_double);
	/* The same percentile indices as pingpong's. */
	printf("rounds %ld p50 %.2f p99 %.2f p999 %.2f max %.2f\n", rounds,
	    rt[rounds / 2], rt[rounds * 99 / 100], rt[rounds * 999 / 1000],
	    rt[rounds - 1]);
	free(rt);
	return 0;
}

/* One result of jobs [lo, hi): NULL, or what is wrong with it. */
static const char *
check(const struct fp_result *r, uint64_t lo, uint64_t hi,
    unsigned char *seen, struct tally *t)
{
	char		job[48], hex[16];
	uint64_t	i = r->id - 1;

	if (i < lo || i >= hi || (seen[(i - lo) / 8] & 1 << (i - lo) % 8))
		return "not pending";
	seen[(i - lo) / 8] |= 1 << (i - lo) % 8;
	if (r->status != FP_STATUS_OK || r->len != 16)
		return "not ok, or not 16 bytes";
	if (i % SAMPLE == 0) {
		fnv_hex(job, job_line(i, job), hex);
		if (memcmp(hex, r->data, 16) != 0)
			return "wrong hash";
		t->checked++;
	}
	t->done++;
	return NULL;
}

/*
 * Lines [lo, hi) of W1 laid out before the clock starts, as batch mode
 * finds its input in a file: line i is text + off[i - lo], up to the next.
 */
struct lines {
	char		*text;
	uint32_t	*off;
};

static int
lines_make(struct lines *l, uint64_t lo, uint64_t hi)
{
	uint64_t	i;
	size_t		at = 0;

	if ((l->off = calloc(hi - lo + 1, sizeof *l->off)) == NULL ||
	    (l->text = malloc((hi - lo) * 24 + 1)) == NULL)
		return -1;
	for (i = lo; i < hi; i++) {
		l->off[i - lo] = at;
		at += job_line(i, l->text + at);
	}
	l->off[hi - lo] = at;
	return 0;
}

/*
 * One pipelining client: submits while fewer than window are pending and
 * takes results as they come, never blocked on one side while the other
 * could go on.  Every result is checked: each id exactly once, ok, 16 hex
 * digits, and the hash itself for one job in SAMPLE.
 */
static int
pipeline(const char *path, const struct lines *l, uint64_t lo, uint64_t hi,
    size_t window, struct tally *t)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct pollfd		 pfd;
	const char		*why;
	unsigned char		*seen;
	char			 err[FP_ERRBUF_SIZE];
	uint64_t		 next = lo;
	ssize_t			 n;
	int			 more, got;

	if ((seen = calloc((hi - lo) / 8 + 1, 1)) == NULL)
		return -1;
	if ((c = fp_connect(path, err, sizeof err)) == NULL) {
		fprintf(stderr, "service-bench: %s\n", err);
		return -1;
	}
	fp_set_nonblocking(c, 1);
	pfd.fd = fp_fd(c);
	while (t->done < hi - lo) {
		for (; next < hi && fp_pending(c) < window; next++)
			if (fp_submit(c, next + 1, NULL, 0, l->text +
			    l->off[next - lo], l->off[next - lo + 1] -
			    l->off[next - lo], 0) == -1)
				goto fail;
		if ((more = fp_flush(c)) == -1)
			goto fail;
		pfd.events = POLLIN | (more ? POLLOUT : 0);
		if (poll(&pfd, 1, -1) == -1) {
			perror("service-bench: poll");
			return -1;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = fp_read(c);
		/* r.data lives until the next fp_read(): check it now. */
		while ((got = fp_next(c, &r)) == 1)
			if ((why = check(&r, lo, hi, seen, t)) != NULL) {
				fprintf(stderr, "service-bench: job %llu: %s\n",
				    (unsigned long long)r.id, why);
				return -1;
			}
		if (got == -1 || n == 0 || (n == -1 && errno != EAGAIN))
			goto fail;
	}
	t->end_ns = now_ns();
	fp_close(c);
	free(seen);
	return 0;
fail:
	fprintf(stderr, "service-bench: %s\n", fp_error(c));
	return -1;
}

static int
throughput(const char *path, uint64_t jobs, int clients, size_t window)
{
	struct fp_client	*c;
	struct tally		 t, all = { 0, 0, 0 };
	struct lines		 l;
	uint64_t		 lo, hi;
	uint64_t		 t0;
	int			 go[2], res[2], rdy[2], i, status, rc = 0;
	char			 b;

	if ((c = connect_ready(path)) == NULL)
		return 2;
	fp_close(c);
	if (pipe(go) == -1 || pipe(res) == -1 || pipe(rdy) == -1)
		return 2;
	for (i = 0; i < clients; i++) {
		switch (fork()) {
		case -1:
			perror("service-bench: fork");
			return 2;
		case 0:
			/* Held back until all are forked: one start line. */
			close(go[1]);
			close(res[0]);
			lo = jobs * i / clients;
			hi = jobs * (i + 1) / clients;
			/* Ready once its lines are made; go when all are. */
			if (lines_make(&l, lo, hi) == -1 ||
			    write(rdy[1], "r", 1) != 1 ||
			    read(go[0], &b, 1) == -1)
				_exit(1);
			memset(&t, 0, sizeof t);
			if (pipeline(path, &l, lo, hi, window, &t) == -1)
				_exit(1);
			/* Smaller than PIPE_BUF: one atomic write. */
			_exit(write(res[1], &t, sizeof t) != sizeof t);
		}
	}
	close(go[0]);
	close(res[1]);
	close(rdy[1]);
	for (i = 0; i < clients; i++)
		if (read(rdy[0], &b, 1) != 1)
			return 2;
	t0 = now_ns();
	close(go[1]);
	while (read(res[0], &t, sizeof t) == sizeof t) {
		all.done += t.done;
		all.checked += t.checked;
		if (t.end_ns > all.end_ns)
			all.end_ns = t.end_ns;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	if (all.done != jobs)
		rc = 1;
	printf("jobs %llu clients %d window %zu answered %llu checked %llu "
	    "wall %.6f\n", (unsigned long long)jobs, clients, window,
	    (unsigned long long)all.done, (unsigned long long)all.checked,
	    rc == 0 ? (all.end_ns - t0) / 1e9 : 0.0);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "latency") == 0 &&
	    atol(argv[3]) > 0 && atol(argv[4]) >= 0)
		return latency(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 6 && strcmp(argv[1], "throughput") == 0 &&
	    strtoull(argv[3], NULL, 10) > 0 && atoi(argv[4]) > 0 &&
	    atol(argv[5]) > 0)
		return throughput(argv[2], strtoull(argv[3], NULL, 10),
		    atoi(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: service-bench latency SOCKET ROUNDS WARMUP\n"
	    "       service-bench throughput SOCKET JOBS CLIENTS WINDOW\n");
	return 2;
}
