/*
 * The recent windows of status and metrics: jobs ended and their latency
 * over the last 1, 10 and 60 seconds, as load averages are, so that the
 * figures fall to nothing while the pool is idle instead of averaging the
 * whole life of the supervisor.
 *
 * A ring of per-second buckets, each a count, a latency sum and a
 * log-linear histogram: a job costs an index computation and three
 * increments.  Percentiles are interpolated within a histogram bucket,
 * whose width is an eighth of its power of two.
 */
#include <string.h>

#include "supervisor.h"

#define RING		(WINDOW_MAX_S + 1) /* the current second too */
#define LINEAR		16		/* 0-15 us: a bucket each */
#define SUB		8		/* sub-buckets of a power of two */
#define SUB_BITS	3
#define TOP_EXP		40		/* 2^40 us, 12 days: the last */
#define HIST		(LINEAR + (TOP_EXP - 4) * SUB)

struct second {
	uint64_t	 sec;		/* which second it holds */
	uint32_t	 jobs;
	uint64_t	 sum_us;
	uint32_t	 hist[HIST];
};

static struct second	ring[RING];

static unsigned
hist_index(uint64_t us)
{
	unsigned	e, i;

	if (us < LINEAR)
		return us;
	e = 63 - __builtin_clzll(us);
	i = LINEAR + (e - 4) * SUB + ((us >> (e - SUB_BITS)) & (SUB - 1));
	return i < HIST ? i : HIST - 1;
}

/* The latencies bucket i holds: [*lo, *hi) microseconds. */
static void
hist_bounds(unsigned i, double *lo, double *hi)
{
	unsigned	e, sub;

	if (i < LINEAR) {
		*lo = i;
		*hi = i + 1;
		return;
	}
	e = 4 + (i - LINEAR) / SUB;
	sub = (i - LINEAR) % SUB;
	*lo = (double)((uint64_t)(SUB + sub) << (e - SUB_BITS));
	*hi = (double)((uint64_t)(SUB + sub + 1) << (e - SUB_BITS));
}

/* A job ended at now (ns) after us microseconds. */
void
window_add(uint64_t now, uint64_t us)
{
	uint64_t	 sec = now / 1000000000;
	struct second	*s = &ring[sec % RING];

	if (s->sec != sec) {
		memset(s, 0, sizeof *s);
		s->sec = sec;
	}
	s->jobs++;
	s->sum_us += us;
	s->hist[hist_index(us)]++;
}

static double
percentile(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t	seen = 0;
	double		rank = q * total, lo, hi;
	unsigned	i;

	if (total == 0)
		return 0;
	for (i = 0; i < HIST; i++) {
		if (hist[i] == 0)
			continue;
		if (seen + hist[i] >= rank) {
			/* Spread evenly within the bucket. */
			hist_bounds(i, &lo, &hi);
			return lo + (hi - lo) * (rank - seen) / hist[i];
		}
		seen += hist[i];
	}
	hist_bounds(HIST - 1, &lo, &hi);
	return hi;
}

/*
 * The figures of the last span seconds at now.  The current second is
 * partly over: the oldest second counts for the part of it still inside
 * the window, so the rate moves smoothly.
 */
void
window_get(uint64_t now, unsigned span, struct window *w)
{
	static uint64_t	 hist[HIST];
	uint64_t	 sec = now / 1000000000, total = 0, sum = 0, n;
	double		 part = (now % 1000000000) / 1e9, jobs = 0;
	const struct second *s;
	unsigned	 k, i;

	if (span < 1)
		span = 1;
	if (span > RING - 1)
		span = RING - 1;
	memset(hist, 0, sizeof hist);
	for (k = 0; k <= span; k++) {
		if (k > sec)
			break;
		s = &ring[(sec - k) % RING];
		if (s->sec != sec - k || s->jobs == 0)
			continue;
		n = s->jobs;
		/* The oldest second, partly inside. */
		jobs += k == span ? n * (1 - part) : n;
		total += n;
		sum += s->sum_us;
		for (i = 0; i < HIST; i++)
			hist[i] += s->hist[i];
	}
	w->span = span;
	w->rate = jobs / span;
	w->jobs = total;
	w->mean_us = total > 0 ? (double)sum / total : 0;
	w->p50_us = percentile(hist, total, 0.50);
	w->p99_us = percentile(hist, total, 0.99);
}
