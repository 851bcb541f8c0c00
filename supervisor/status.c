/*
 * What the pool is doing, for forkpoolctl status, top and metrics: per
 * worker slot, per partition, totals since start and the recent windows
 * of window.c, as a text table, JSON, or the Prometheus text exposition.
 * The three formats show the same figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"

#define LATENCY_BUCKETS	32	/* powers of two of microseconds */

/* The windows status shows, in seconds. */
static const unsigned spans[] = { 1, 10, WINDOW_MAX_S };
#define NSPANS	(sizeof spans / sizeof spans[0])

static uint64_t	latency[LATENCY_BUCKETS];
static uint64_t	latency_sum_us;
static uint64_t	by_status[STATUS_REJECTED + 1];

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

	/* Bucket b holds latencies up to 2^(b+1) us. */
	b = us > 1 ? 63 - __builtin_clzll(us) : 0;
	if (b > LATENCY_BUCKETS - 1)
		b = LATENCY_BUCKETS - 1;
	latency[b]++;
	latency_sum_us += us;
	if (j->status <= STATUS_REJECTED)
		by_status[j->status]++;
	window_add(now, us);
}

/*
 * The CPU time a process has used, in seconds, from /proc/PID/stat; -1
 * when it cannot be read.  top turns two readings into a percentage.
 */
static double
cpu_s(pid_t pid)
{
	char			 path[64], line[1024], *p;
	FILE			*fp;
	unsigned long long	 user, sys;
	int			 ok;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	ok = fgets(line, sizeof line, fp) != NULL;
	fclose(fp);
	/* The name may hold anything: the fields follow its last ')'. */
	if (!ok || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &user, &sys) != 2)
		return -1;
	return (double)(user + sys) / sysconf(_SC_CLK_TCK);
}

/* Workers with a process taking jobs. */
static int
workers_up(void)
{
	int	i, n = pool_size(), up = 0;

	for (i = 0; i < n; i++)
		if (pool_slot(i)->proc != NULL)
			up++;
	return up;
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
windows_get(uint64_t now, struct window *w)
{
	unsigned	i;

	for (i = 0; i < NSPANS; i++)
		window_get(now, spans[i], &w[i]);
}

/* A line of the windows' table: one figure of each window. */
static void
window_row(struct text *t, const char *label, const struct window *win,
    size_t field, int decimals)
{
	unsigned	k;

	put(t, "  %-8s", label);
	for (k = 0; k < NSPANS; k++)
		put(t, " %10.*f", decimals,
		    *(const double *)(const void *)((const char *)&win[k] +
		    field));
	put(t, "\n");
}

static void
render_text(struct text *t, uint64_t now, const uint32_t *depths)
{
	const struct slot	*s;
	const struct proc	*w;
	struct window		 win[NSPANS];
	uint32_t		 p;
	unsigned		 k;
	int			 i, n = pool_size(), any = 0;

	windows_get(now, win);
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
	put(t, "recent:   ");
	for (k = 0; k < NSPANS; k++)
		put(t, " %9us", win[k].span);
	put(t, "\n");
	window_row(t, "jobs/s", win, offsetof(struct window, rate), 1);
	window_row(t, "p50 us", win, offsetof(struct window, p50_us), 0);
	window_row(t, "p99 us", win, offsetof(struct window, p99_us), 0);
	put(t, "workers: %d of %d", workers_up(), pool_target());
	if (opts->workers_max != 0)
		put(t, ", sized by the pool within %d to %d",
		    opts->workers_min, opts->workers_max);
	put(t, "\nclients: %u%s\n", service_clients(),
	    service_draining() ? "; draining" : "");
	if (pool_degraded())
		put(t, "degraded: workers restart too often\n");
}

static void
render_json(struct text *t, uint64_t now, const uint32_t *depths)
{
	const struct slot	*s;
	const struct proc	*w;
	struct window		 win[NSPANS];
	uint32_t		 p;
	unsigned		 k;
	int			 i, n = pool_size(), first = 1;

	windows_get(now, win);
	put(t, "{\"workers\":[");
	for (i = 0; i < n; i++) {
		s = pool_slot(i);
		w = s->proc;
		put(t, "%s{\"slot\":%d,\"pid\":%d,\"state\":\"%s\","
		    "\"jobs\":%llu,\"restarts\":%u,\"recycles\":%u,\"rss_kib\":%ld,"
		    "\"cpu_s\":%.2f,\"job_age_s\":%.3f", i ? "," : "", s->index,
		    (int)pid_of(w), state_name(w),
		    (unsigned long long)s->jobs_done, s->restarts, s->recycles,
		    pool_rss_kib(pid_of(w)), cpu_s(pid_of(w)), age_s(w, now));
		if ((w = other_of(s)) != NULL)
			put(t, ",\"%s\":{\"pid\":%d,\"state\":\"%s\"}",
			    w->state == P_RETIRING ? "replaced" : "replacement",
			    (int)w->pid, state_name(w));
		put(t, "}");
	}
	put(t, "],\"up\":%d,\"target\":%d,\"degraded\":%s", workers_up(),
	    pool_target(), pool_degraded() ? "true" : "false");
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
	    "\"queued\":%u,\"in_flight\":%u},\"windows\":{",
	    (unsigned long long)service_totals.submitted,
	    (unsigned long long)by_status[STATUS_OK],
	    (unsigned long long)(done_total() - by_status[STATUS_OK]),
	    dispatch_queued(), ledger_live() - dispatch_queued());
	for (k = 0; k < NSPANS; k++)
		put(t, "%s\"%us\":{\"jobs\":%llu,\"jobs_per_s\":%.1f,"
		    "\"mean_us\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f}",
		    k ? "," : "", win[k].span,
		    (unsigned long long)win[k].jobs, win[k].rate,
		    win[k].mean_us, win[k].p50_us, win[k].p99_us);
	put(t, "},\"clients\":%u,\"draining\":%s}\n", service_clients(),
	    service_draining() ? "true" : "false");
}

/* The HELP and TYPE lines of a metric. */
static void
family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP forkpool_%s %s\n# TYPE forkpool_%s %s\n", name, help,
	    name, type);
}

/* A metric without labels. */
static void
single(struct text *t, const char *name, const char *type, const char *help,
    double v)
{
	family(t, name, type, help);
	put(t, "forkpool_%s %.17g\n", name, v);
}

/* What each worker process is doing. */
static const char *const states[] = {
	"starting", "idle", "busy", "retiring", "stopping", "restarting"
};

static void
render_prometheus(struct text *t, uint64_t now, const uint32_t *depths)
{
	const struct slot	*sl;
	const struct proc	*w;
	struct window		 win[NSPANS];
	uint64_t		 cum = 0;
	uint32_t		 p;
	unsigned		 b, s, k;
	int			 i, n = pool_size();

	windows_get(now, win);
	family(t, "jobs_total", "counter", "Jobs ended, by status.");
	for (s = 0; s <= STATUS_REJECTED; s++)
		put(t, "forkpool_jobs_total{status=\"%s\"} %llu\n",
		    frame_status_name(s), (unsigned long long)by_status[s]);
	single(t, "jobs_submitted_total", "counter",
	    "Jobs taken from clients.", (double)service_totals.submitted);
	single(t, "jobs_queued", "gauge", "Jobs waiting for a worker.",
	    dispatch_queued());
	single(t, "jobs_in_flight", "gauge", "Jobs sent to workers.",
	    ledger_live() - dispatch_queued());
	family(t, "partition_jobs_queued", "gauge",
	    "Jobs waiting, by partition with any.");
	for (p = 0; p < opts->partitions; p++)
		if (depths[p] > 0)
			put(t, "forkpool_partition_jobs_queued{partition=\"%u\"}"
			    " %u\n", p, depths[p]);
	single(t, "workers", "gauge", "Workers with a process taking jobs.",
	    workers_up());
	single(t, "workers_target", "gauge", "Workers the pool runs.",
	    pool_target());
	if (opts->workers_max != 0) {
		single(t, "workers_min", "gauge", "The least the pool sizes to.",
		    opts->workers_min);
		single(t, "workers_max", "gauge", "The most the pool sizes to.",
		    opts->workers_max);
	}
	single(t, "degraded", "gauge", "1 while workers restart too often.",
	    pool_degraded());
	single(t, "clients", "gauge", "Clients connected.", service_clients());
	single(t, "draining", "gauge", "1 while taking no new jobs.",
	    service_draining());

	family(t, "worker_pid", "gauge", "The process in a slot; -1: none.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		put(t, "forkpool_worker_pid{slot=\"%d\"} %d\n", sl->index,
		    (int)pid_of(sl->proc));
	}
	family(t, "worker_state", "gauge",
	    "1 for the state the process of a slot is in.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		for (k = 0; k < sizeof states / sizeof states[0]; k++)
			put(t, "forkpool_worker_state{slot=\"%d\",state=\"%s\"}"
			    " %d\n", sl->index, states[k],
			    strcmp(state_name(sl->proc), states[k]) == 0);
	}
	family(t, "worker_jobs_total", "counter", "Jobs done, by slot.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		put(t, "forkpool_worker_jobs_total{slot=\"%d\"} %llu\n",
		    sl->index, (unsigned long long)sl->jobs_done);
	}
	family(t, "worker_restarts_total", "counter", "Restarts, by slot.");
	for (i = 0; i < n; i++)
		put(t, "forkpool_worker_restarts_total{slot=\"%d\"} %u\n",
		    pool_slot(i)->index, pool_slot(i)->restarts);
	family(t, "worker_recycles_total", "counter", "Recycles, by slot.");
	for (i = 0; i < n; i++)
		put(t, "forkpool_worker_recycles_total{slot=\"%d\"} %u\n",
		    pool_slot(i)->index, pool_slot(i)->recycles);
	family(t, "worker_rss_bytes", "gauge",
	    "Resident memory of the process in a slot.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		if ((w = sl->proc) != NULL && pool_rss_kib(w->pid) >= 0)
			put(t, "forkpool_worker_rss_bytes{slot=\"%d\"} %ld\n",
			    sl->index, pool_rss_kib(w->pid) * 1024);
	}
	family(t, "worker_cpu_seconds_total", "counter",
	    "CPU time of the process in a slot; a new process starts at 0.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		if ((w = sl->proc) != NULL && cpu_s(w->pid) >= 0)
			put(t, "forkpool_worker_cpu_seconds_total{slot=\"%d\"} "
			    "%.2f\n", sl->index, cpu_s(w->pid));
	}
	family(t, "worker_job_age_seconds", "gauge",
	    "How long the process in a slot has been on its current job.");
	for (i = 0; i < n; i++) {
		sl = pool_slot(i);
		put(t, "forkpool_worker_job_age_seconds{slot=\"%d\"} %.3f\n",
		    sl->index, age_s(sl->proc, now));
	}

	family(t, "jobs_per_second", "gauge",
	    "Jobs ended per second over a recent window.");
	for (k = 0; k < NSPANS; k++)
		put(t, "forkpool_jobs_per_second{window=\"%us\"} %.1f\n",
		    win[k].span, win[k].rate);
	family(t, "job_latency_recent_seconds", "gauge",
	    "Latency percentiles over a recent window.");
	for (k = 0; k < NSPANS; k++)
		put(t, "forkpool_job_latency_recent_seconds{window=\"%us\","
		    "percentile=\"50\"} %g\n"
		    "forkpool_job_latency_recent_seconds{window=\"%us\","
		    "percentile=\"99\"} %g\n", win[k].span,
		    win[k].p50_us / 1e6, win[k].span, win[k].p99_us / 1e6);

	family(t, "job_latency_seconds", "histogram",
	    "Submit to result, since start.");
	for (b = 0; b < LATENCY_BUCKETS; b++) {
		cum += latency[b];
		put(t, "forkpool_job_latency_seconds_bucket{le=\"%g\"} %llu\n",
		    (double)(2ULL << b) / 1e6, (unsigned long long)cum);
	}
	put(t, "forkpool_job_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "forkpool_job_latency_seconds_sum %.6f\n"
	    "forkpool_job_latency_seconds_count %llu\n",
	    (unsigned long long)cum, latency_sum_us / 1e6,
	    (unsigned long long)cum);
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
		render_prometheus(&t, now, depths);
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
