/*
 * The log of refused clients, at a bounded rate.  The first refusal after
 * a quiet spell is logged at once, in full, as any warning; those that
 * follow within the spell are only counted, by uid, and summed up in one
 * line every REFUSAL_INTERVAL.  A storm of refused connections then costs
 * the log a line every ten seconds, however fast it comes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "supervisor.h"

#define REFUSAL_INTERVAL	10ULL	/* seconds between two summaries */
#define REFUSAL_UIDS		8	/* uids a summary names */

struct refused {
	uid_t		 uid;
	uint64_t	 count;
};

static struct refused	 refused[REFUSAL_UIDS];
static unsigned		 nrefused;
static uint64_t		 others;	/* of uids past the table */
static uint64_t		 total;
static uint64_t		 since_ns;	/* the start of the interval */
static struct event	*ev_summary;

static void	summary_due(evutil_socket_t, short, void *);

static void
arm(void)
{
	since_ns = now_ns();
	timer_add_ns(ev_summary, REFUSAL_INTERVAL * 1000000000ULL);
}

static void
count(uid_t uid)
{
	unsigned	i;

	total++;
	for (i = 0; i < nrefused; i++)
		if (refused[i].uid == uid) {
			refused[i].count++;
			return;
		}
	if (nrefused < REFUSAL_UIDS) {
		refused[nrefused].uid = uid;
		refused[nrefused++].count = 1;
	} else
		others++;
}

static int
most_first(const void *a, const void *b)
{
	const struct refused	*x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* Logs what was counted, the uids refused most first, and starts again. */
static void
summarize(void)
{
	char		 line[512];
	size_t		 n;
	unsigned	 i;
	uint64_t	 secs;

	if (total == 0)
		return;
	secs = (now_ns() - since_ns + 500000000ULL) / 1000000000ULL;
	qsort(refused, nrefused, sizeof refused[0], most_first);
	n = snprintf(line, sizeof line, "refused %llu more connections in "
	    "the last %llu s:", (unsigned long long)total,
	    (unsigned long long)(secs > 0 ? secs : 1));
	for (i = 0; i < nrefused && n < sizeof line; i++) {
		if (refused[i].uid == (uid_t)-1)
			n += snprintf(line + n, sizeof line - n,
			    "%s unknown uid (%llu)", i > 0 ? "," : "",
			    (unsigned long long)refused[i].count);
		else
			n += snprintf(line + n, sizeof line - n,
			    "%s uid %u (%llu)", i > 0 ? "," : "",
			    (unsigned)refused[i].uid,
			    (unsigned long long)refused[i].count);
	}
	if (others > 0 && n < sizeof line)
		snprintf(line + n, sizeof line - n, ", other uids (%llu)",
		    (unsigned long long)others);
	log_warnx("%s", line);
	nrefused = 0;
	others = total = 0;
}

/* A spell goes on while refusals come; an interval without any ends it. */
static void
summary_due(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (total == 0)
		return;
	summarize();
	arm();
}

void
refusal_init(void)
{
	if ((ev_summary = evtimer_new(base, summary_due, NULL)) == NULL)
		fatalx("evtimer_new failed");
}

/* A client refused, and why: logged now, or counted for the summary. */
void
refusal_log(uint64_t serial, uid_t uid, pid_t pid, const char *why)
{
	if (evtimer_pending(ev_summary, NULL)) {
		count(uid);
		return;
	}
	if (uid == (uid_t)-1)
		log_warnx("client %llu: %s", (unsigned long long)serial, why);
	else
		log_warnx("client %llu (uid %u, pid %d): %s",
		    (unsigned long long)serial, (unsigned)uid, (int)pid, why);
	arm();
}

/* At exit: the refusals counted are not left unsaid. */
void
refusal_flush(void)
{
	summarize();
}
