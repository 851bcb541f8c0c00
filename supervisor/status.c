/*
 * What the pool is doing, for forkpoolctl status and metrics: per worker
 * slot, per partition, totals and job latency, as a text table, JSON, or
 * the Prometheus text exposition.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"

#define LATENCY_BUCKETS	32	/* powers of two of microseconds */

static uint64_t	latency[LATENCY_BUCKETS];
static uint64_t	by_status[STATUS_REJECTED + 1];
static uint64_t	started_ns;

struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static void
put(struct text *t, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*p;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += n;
			return;
		}
		if ((p = realloc(t->p, t->cap * 2 + n + 1)) == NULL) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = t->cap * 2 + n + 1;
	}
}

/* A job has ended; now and its submitted_ns are loop_now_ns() times. */
void
status_job_done(const struct job *j, uint64_t now)
{
	uint64_t	us = now > j->submitted_ns ?
			    (now - j->submitted_ns) / 1000 : 0;
	unsigned	b;

	if (started_ns == 0)
		started_ns = now_ns();
	/* Bucket b holds latencies up to 2^(b+1) us. */
	b = us > 1 ? 63 - __builtin_clzll(us) : 0;
	if (b > LATENCY_BUCKETS - 1)
		b = LATENCY_BUCKETS - 1;
	latency[b]++;
	if (j->status <= STATUS_REJECTED)
		by_status[j->status]++;
}

/* The upper bound, in microseconds, under which a fraction of jobs ended. */
static double
percentile(double q)
{
	uint64_t	total = 0, seen = 0;
	unsigned	b;

	for (b = 0; b < LATENCY_BUCKETS; b++)
		total += latency[b];
	if (total == 0)
		return 0;
	for (b = 0; b < LATENCY_BUCKETS; b++) {
		seen += latency[b];
		if (seen >= q * total)
			return (double)(2ULL << b);
	}
	return (double)(2ULL << (LATENCY_BUCKETS - 1));
}

/* A slot without a process is waiting for its restart. */
static const char *
state_name(const struct proc *p)
{
	if (p == NULL)
		return "restarting";
	switch (p->state) {
	case P_STARTING:	return "starting";
	case P_READY:		return p->inflight.count > 0 ? "busy" : "idle";
	case P_RETIRING:	return "retiring";
	case P_STOPPING:	return "stopping";
	}
	return "unknown";
}

static pid_t
pid_of(const struct proc *p)
{
	return p != NULL ? p->pid : -1;
}

static double
age_s(const struct proc *p, uint64_t now)
{
	if (p == NULL || p->inflight.count == 0 || p->busy_since_ns == 0 ||
	    now < p->busy_since_ns)
		return 0;
	return (now - p->busy_since_ns) / 1e9;
}

/* The process replacing a slot's, or the one it replaced; or NULL. */
static const struct proc *
other_of(const struct slot *s)
{
	return s->next != NULL ? s->next : s->prev;
}

static uint64_t
done_total(void)
{
	uint64_t	n = 0;
	unsigned	s;

	for (s = 0; s <= STATUS_REJECTED; s++)
		n += by_status[s];
	return n;
}

static void
render_text(struct text *t, uint64_t now, const uint32_t *depths)
{
	const struct slot	*s;
	const struct proc	*w;
	double			 up = started_ns ? (now - started_ns) / 1e9 : 0;
	uint32_t		 p;
	int			 i, n = pool_size(), any = 0;

	put(t, "slot  pid      state       jobs  restarts  recycles  "
	    "rss_kib  job_age_s\n");
	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		w = s->proc;
		put(t, "%-5d %-8d %-10s %6llu %9u %9u %8ld %10.3f\n",
		    s->index, (int)pid_of(w), state_name(w),
		    (unsigned long long)s->jobs_done, s->restarts,
		    s->recycles, pool_rss_kib(pid_of(w)), age_s(w, now));
		/* The process replacing it, or the one it replaced. */
		if ((w = other_of(s)) != NULL)
			put(t, "%-5s %-8d %-10s %6s %9s %9s %8ld %10.3f\n",
			    w->state == P_RETIRING ? "(old)" : "(new)",
			    (int)w->pid, state_name(w), "-", "-", "-",
			    pool_rss_kib(w->pid), age_s(w, now));
	}
	put(t, "partitions with jobs waiting:");
	for (p = 0; p < opts->partitions; p++)
		if (depths[p] > 0) {
			put(t, " p%u=%u", p, depths[p]);
			any = 1;
		}
	put(t, "%s\n", any ? "" : " none");
	put(t, "jobs: %llu submitted, %llu ok, %llu failed, %u queued, "
	    "%u in flight\n",
	    (unsigned long long)service_totals.submitted,
	    (unsigned long long)by_status[STATUS_OK],
	    (unsigned long long)(done_total() - by_status[STATUS_OK]),
	    dispatch_queued(), ledger_live() - dispatch_queued());
	put(t, "throughput: %.1f jobs/s; latency p50 %.0f us, p99 %.0f us\n",
	    up > 0 ? done_total() / up : 0.0, percentile(0.5),
	    percentile(0.99));
	put(t, "clients: %u%s\n", service_clients(),
	    service_draining() ? "; draining" : "");
	if (opts->workers_max != 0)
		put(t, "workers: %d, sized by the pool within %d to %d\n",
		    pool_target(), opts->workers_min, opts->workers_max);
	if (pool_degraded())
		put(t, "degraded: workers restart too often\n");
}

static void
render_json(struct text *t, uint64_t now, const uint32_t *depths)
{
	const struct slot	*s;
	const struct proc	*w;
	uint32_t		 p;
	int			 i, n = pool_size(), first = 1;

	put(t, "{\"workers\":[");
	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		w = s->proc;
		put(t, "%s{\"slot\":%d,\"pid\":%d,\"state\":\"%s\","
		    "\"jobs\":%llu,\"restarts\":%u,\"recycles\":%u,\"rss_kib\":%ld,"
		    "\"job_age_s\":%.3f", i ? "," : "", s->index,
		    (int)pid_of(w), state_name(w),
		    (unsigned long long)s->jobs_done, s->restarts, s->recycles,
		    pool_rss_kib(pid_of(w)), age_s(w, now));
		if ((w = other_of(s)) != NULL)
			put(t, ",\"%s\":{\"pid\":%d,\"state\":\"%s\"}",
			    w->state == P_RETIRING ? "replaced" : "replacement",
			    (int)w->pid, state_name(w));
		put(t, "}");
	}
	put(t, "],\"target\":%d,\"degraded\":%s", pool_target(),
	    pool_degraded() ? "true" : "false");
	if (opts->workers_max != 0)
		put(t, ",\"workers_min\":%d,\"workers_max\":%d",
		    opts->workers_min, opts->workers_max);
	put(t, ",\"partitions\":{");
	for (p = 0; p < opts->partitions; p++)
		if (depths[p] > 0) {
			put(t, "%s\"%u\":%u", first ? "" : ",", p, depths[p]);
			first = 0;
		}
	put(t, "},\"jobs\":{\"submitted\":%llu,\"ok\":%llu,\"failed\":%llu,"
	    "\"queued\":%u,\"in_flight\":%u},\"latency_us\":{\"p50\":%.0f,"
	    "\"p99\":%.0f},\"clients\":%u,\"draining\":%s}\n",
	    (unsigned long long)service_totals.submitted,
	    (unsigned long long)by_status[STATUS_OK],
	    (unsigned long long)(done_total() - by_status[STATUS_OK]),
	    dispatch_queued(), ledger_live() - dispatch_queued(),
	    percentile(0.5), percentile(0.99), service_clients(),
	    service_draining() ? "true" : "false");
}

static void
render_prometheus(struct text *t)
{
	const struct slot	*sl;
	uint64_t		 cum = 0;
	unsigned		 b, s;
	int			 i, n = pool_size();

	put(t, "# HELP forkpool_jobs_total Jobs ended, by status.\n"
	    "# TYPE forkpool_jobs_total counter\n");
	for (s = 0; s <= STATUS_REJECTED; s++)
		put(t, "forkpool_jobs_total{status=\"%s\"} %llu\n",
		    frame_status_name(s), (unsigned long long)by_status[s]);
	put(t, "# HELP forkpool_jobs_queued Jobs waiting for a worker.\n"
	    "# TYPE forkpool_jobs_queued gauge\nforkpool_jobs_queued %u\n",
	    dispatch_queued());
	put(t, "# HELP forkpool_jobs_in_flight Jobs sent to workers.\n"
	    "# TYPE forkpool_jobs_in_flight gauge\n"
	    "forkpool_jobs_in_flight %u\n", ledger_live() - dispatch_queued());
	put(t, "# HELP forkpool_worker_jobs_total Jobs done, by slot.\n"
	    "# TYPE forkpool_worker_jobs_total counter\n");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		put(t, "forkpool_worker_jobs_total{slot=\"%d\"} %llu\n",
		    sl->index, (unsigned long long)sl->jobs_done);
	}
	put(t, "# HELP forkpool_worker_restarts_total Restarts, by slot.\n"
	    "# TYPE forkpool_worker_restarts_total counter\n");
	for (i = 0; i < n; i++)
		put(t, "forkpool_worker_restarts_total{slot=\"%d\"} %u\n",
		    i, pool_slot(i)->restarts);
	put(t, "# HELP forkpool_worker_recycles_total Recycles, by slot.\n"
	    "# TYPE forkpool_worker_recycles_total counter\n");
	for (i = 0; i < n; i++)
		put(t, "forkpool_worker_recycles_total{slot=\"%d\"} %u\n",
		    i, pool_slot(i)->recycles);
	put(t, "# HELP forkpool_job_latency_seconds Submit to result.\n"
	    "# TYPE forkpool_job_latency_seconds histogram\n");
	for (b = 0; b < LATENCY_BUCKETS; b++) {
		cum += latency[b];
		put(t, "forkpool_job_latency_seconds_bucket{le=\"%g\"} %llu\n",
		    (double)(2ULL << b) / 1e6, (unsigned long long)cum);
	}
	put(t, "forkpool_job_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "forkpool_job_latency_seconds_count %llu\n",
	    (unsigned long long)cum, (unsigned long long)cum);
}

/* The status in a format; NULL when out of memory. */
char *
status_render(unsigned format, size_t *len)
{
	struct text	 t;
	uint64_t	 now = now_ns();
	uint32_t	*depths;

	t.cap = 4096;
	t.len = 0;
	t.failed = 0;
	if ((t.p = malloc(t.cap)) == NULL)
		return NULL;
	if ((depths = calloc(opts->partitions, sizeof *depths)) == NULL) {
		free(t.p);
		return NULL;
	}
	dispatch_partition_depths(depths);
	if (format == STATUS_FORMAT_JSON)
		render_json(&t, now, depths);
	else if (format == STATUS_FORMAT_PROMETHEUS)
		render_prometheus(&t);
	else
		render_text(&t, now, depths);
	free(depths);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
