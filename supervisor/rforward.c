/*
 * On a Redis Cluster, results reach their streams in two steps
 * (doc/SCALING.md): a partition's finish script stores them in its
 * outbox together with the ack, since a script keeps to one slot, and
 * here they are forwarded to their streams in the pool's slot.  The
 * forward script skips what the pool's forward hash says was forwarded
 * before, so that forwarding twice (after a lost reply, or by two
 * supervisors) adds each result once and a partition's in order; the
 * outbox is trimmed after.  Any supervisor forwards what it finds in an
 * outbox: what a dead one left is forwarded by the next that reads the
 * partition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "supervisor.h"
#include "redis.h"
#include "proto/xmalloc.h"

#define REPLY_TTL_MS	"86400000"	/* as rfinish.c's */
#define ID_MAX		48
#define OUTBOX_MAX	1024		/* entries the scripts return */

struct forward {
	uint32_t	 p;
	char		 last[ID_MAX];	/* the outbox's, forwarded up to */
};

static unsigned		 out;		/* forwards and trims in flight */
static struct rargv	 fwd;		/* the forward being built */
static char		 (*nfields)[12];
static char		 (*partnum)[12];

static int
is_to(const redisReply *f)
{
	return f->type == REDIS_REPLY_STRING && f->len == 2 &&
	    memcmp(f->str, "to", 2) == 0;
}

/* An outbox entry: id, then fields, "to" and its stream first. */
static int
entry_valid(const redisReply *e)
{
	const redisReply	*f;
	size_t			 i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= ID_MAX)
		return 0;
	f = e->element[1];
	if (f->type != REDIS_REPLY_ARRAY || f->elements < 4 ||
	    f->elements % 2 != 0 || !is_to(f->element[0]))
		return 0;
	for (i = 1; i < f->elements; i++)
		if (f->element[i]->type != REDIS_REPLY_STRING)
			return 0;
	return 1;
}

static void
trim_done(void *arg, redisReply *r)
{
	uint32_t	p = (uint32_t)(uintptr_t)arg;

	if (out > 0)
		out--;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("partition %u: trimming %s: %s", p, rpool.outbox[p],
		    r->str);
}

/* Forwarded: the outbox loses what it held up to the last id. */
static void
trim_send(const struct forward *f)
{
	const char	*av[4] = { "XTRIM", rpool.outbox[f->p], "MINID", NULL };
	size_t		 len[4];
	char		*end, next[ID_MAX + 24];
	unsigned long long ms, seq;
	int		 i;

	/* MINID keeps the id given: the one after the last goes. */
	ms = strtoull(f->last, &end, 10);
	seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
	snprintf(next, sizeof next, "%llu-%llu", ms, seq + 1);
	av[3] = next;
	for (i = 0; i < 4; i++)
		len[i] = strlen(av[i]);
	if (rconn_command(trim_done, (void *)(uintptr_t)f->p,
	    rpool.pslot[f->p], 4, av, len) == 0)
		out++;
}

static void
forward_done(void *arg, redisReply *r)
{
	struct forward	*f = arg;

	if (out > 0)
		out--;
	if (r == NULL)
		;	/* the outbox keeps them: forwarded on a later read */
	else if (r->type == REDIS_REPLY_ERROR)
		log_warnx("partition %u: forwarding results: %s", f->p, r->str);
	else
		trim_send(f);
	free(f);
}

/*
 * Forwards the entries of partition p's outbox (a script's reply: up to
 * 1024, in outbox order), in one script at the pool's slot.
 */
void
rforward_send(uint32_t p, const redisReply *box)
{
	struct forward		*f;
	const redisReply	*e, *fl;
	size_t			 i, k, n = 0, args = 0;
	int			 argc = 0, bad = 0;

	if (box == NULL || box->type != REDIS_REPLY_ARRAY ||
	    box->elements == 0 || box->elements > OUTBOX_MAX)
		return;
	for (i = 0; i < box->elements; i++) {
		if (entry_valid(box->element[i]))
			args += 3 + box->element[i]->element[1]->elements;
		else
			bad++;
	}
	e = box->element[box->elements - 1];
	if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= ID_MAX)
		return;
	if (bad > 0)
		log_warnx("partition %u: %d outbox entr%s of %s not "
		    "understood; dropped", p, bad, bad == 1 ? "y" : "ies",
		    rpool.outbox[p]);
	if (rargv_room(&fwd, 8 + box->elements + args) == -1 ||
	    (f = malloc(sizeof *f)) == NULL)
		return;
	f->p = p;
	memcpy(f->last, e->element[0]->str, e->element[0]->len + 1);
	if (args == 0) {
		/* Nothing to add: the entries go all the same. */
		trim_send(f);
		free(f);
		return;
	}
	fwd.v[argc++] = "EVAL";
	fwd.v[argc++] = script_forward;
	fwd.v[argc++] = NULL;	/* the key count, once known */
	fwd.v[argc++] = rpool.fwd;
	fwd.v[argc++] = rpool.results;
	fwd.v[argc++] = rpool.dead;
	for (i = 0; i < 3 + 3; i++)
		fwd.len[i] = fwd.v[i] != NULL ? strlen(fwd.v[i]) : 0;
	for (i = 0; i < box->elements; i++) {
		if (!entry_valid(e = box->element[i]))
			continue;
		fwd.v[argc] = e->element[1]->element[1]->str;
		fwd.len[argc++] = e->element[1]->element[1]->len;
		n++;
	}
	snprintf(nfields[0], sizeof nfields[0], "%zu", 3 + n);
	fwd.v[2] = nfields[0];
	fwd.len[2] = strlen(nfields[0]);
	fwd.v[argc] = REPLY_TTL_MS;
	fwd.len[argc++] = strlen(REPLY_TTL_MS);
	fwd.v[argc] = partnum[p];
	fwd.len[argc++] = strlen(partnum[p]);
	for (i = 0, n = 0; i < box->elements; i++) {
		if (!entry_valid(e = box->element[i]))
			continue;
		fl = e->element[1];
		fwd.v[argc] = e->element[0]->str;
		fwd.len[argc++] = e->element[0]->len;
		snprintf(nfields[1 + n], sizeof nfields[0], "%zu",
		    fl->elements - 2);
		fwd.v[argc] = nfields[1 + n];
		fwd.len[argc++] = strlen(nfields[1 + n]);
		n++;
		for (k = 2; k < fl->elements; k++) {
			fwd.v[argc] = fl->element[k]->str;
			fwd.len[argc++] = fl->element[k]->len;
		}
	}
	if (rconn_command(forward_done, f, -1, argc, fwd.v, fwd.len) == -1) {
		free(f);
		return;
	}
	out++;
}

/* Forwards or trims in flight: a drain waits for them. */
unsigned
rforward_busy(void)
{
	return out;
}

/* The link was lost: what was in flight is answered, nothing is out. */
void
rforward_lost(void)
{
	out = 0;
}

void
rforward_init(void)
{
	uint32_t	p;

	nfields = xcalloc(1 + OUTBOX_MAX, sizeof *nfields);
	partnum = xcalloc(opts->partitions, sizeof *partnum);
	for (p = 0; p < opts->partitions; p++)
		snprintf(partnum[p], sizeof partnum[p], "%u", p);
}
