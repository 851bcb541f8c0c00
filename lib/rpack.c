/*
 * Packed entries (doc/SCALING.md): many jobs of a partition travel in
 * one stream entry, and their results come back in one, so that what
 * Redis spends per entry is shared by all of them.  A producer packs
 * only when the pool's meta hash says its supervisors read packs
 * (`packs`, the most jobs per entry), and only jobs that wait for their
 * results.  Each partition has one pack being filled; it goes when it
 * is full, before a job that may not join it (the partition's order is
 * kept), and whenever the producer flushes, reads results or closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rclient.h"

/* The most jobs per entry now: the caller's, capped by the pool's. */
unsigned
rpack_max(const struct fp_redis *r)
{
	return r->pack_want < r->packs ? r->pack_want : r->packs;
}

static void
pack_clear(struct rpack *rp)
{
	buf_consume(&rp->payloads, rp->payloads.len);
	buf_consume(&rp->keys, rp->keys.len);
	buf_consume(&rp->refs, rp->refs.len);
	rp->n = 0;
	rp->bytes = 0;
}

void
rpack_free(struct fp_redis *r)
{
	struct rpack	*rp;
	unsigned	 p;

	if (r->pack == NULL)
		return;
	for (p = 0; p < r->partitions; p++) {
		if ((rp = r->pack[p]) == NULL)
			continue;
		buf_free(&rp->payloads);
		buf_free(&rp->keys);
		buf_free(&rp->refs);
		free(rp->ids);
		free(rp);
	}
	free(r->pack);
	r->pack = NULL;
	r->packed = 0;
}

/* Partition p's pack, made when first used. */
static struct rpack *
pack_of(struct fp_redis *r, unsigned p)
{
	struct rpack	*rp;

	if (r->pack == NULL &&
	    (r->pack = calloc(r->partitions, sizeof *r->pack)) == NULL)
		return NULL;
	if ((rp = r->pack[p]) != NULL)
		return rp;
	if ((rp = calloc(1, sizeof *rp)) == NULL)
		return NULL;
	buf_init(&rp->payloads);
	buf_init(&rp->keys);
	buf_init(&rp->refs);
	r->pack[p] = rp;
	return rp;
}

/* The first string of a pack's field: a pack of one goes plain. */
static const char *
first(const struct buf *b, size_t *len)
{
	struct netstr	 ns;
	const char	*s = "";

	*len = 0;
	netstr_begin(&ns, b->data + b->off, b->len);
	(void)netstr_next(&ns, &s, len);
	return s;
}

static void
arg(const char **argv, size_t *argvlen, int *argc, const void *s,
    size_t len)
{
	argv[*argc] = s;
	argvlen[(*argc)++] = len;
}

/*
 * Sends partition p's pack, if it has jobs: one XADD, in the window as
 * any other.  On error its jobs are no longer waited for.
 */
int
rpack_send(struct fp_redis *r, unsigned p)
{
	struct rpack	*rp;
	const char	*argv[16], *key, *payload;
	size_t		 argvlen[16], keylen, len, n;
	char		 stream[REDIS_KEY_MAX], count[24];
	uint64_t	*ids;
	int		 argc = 0, rc;

	if (r->pack == NULL || (rp = r->pack[p]) == NULL || rp->n == 0)
		return 0;
	n = rp->n;
	r->packed -= n;
	/* Unkeyed jobs go on to the next partition once a pack is sent. */
	if (!(rp->flags & FP_F_KEYED) && p == r->rr % r->partitions)
		r->rr++;
	if (n == 1) {
		payload = first(&rp->payloads, &len);
		key = first(&rp->keys, &keylen);
		rc = rclient_plain(r, p, rp->ids[0], key, keylen, payload,
		    len, rp->flags);
		pack_clear(rp);
		return rc;
	}
	/* The XADD takes the ids; the next pack has its own. */
	ids = rp->ids;
	rp->ids = NULL;
	rcrouter_partition_key(r, p, stream, sizeof stream);
	snprintf(count, sizeof count, "%zu", n);
	arg(argv, argvlen, &argc, "XADD", 4);
	arg(argv, argvlen, &argc, stream, strlen(stream));
	arg(argv, argvlen, &argc, "*", 1);
	arg(argv, argvlen, &argc, "jobs", 4);
	arg(argv, argvlen, &argc, count, strlen(count));
	arg(argv, argvlen, &argc, "payloads", 8);
	arg(argv, argvlen, &argc, rp->payloads.data + rp->payloads.off,
	    rp->payloads.len);
	if (rp->flags & FP_F_KEYED) {
		arg(argv, argvlen, &argc, "keys", 4);
		arg(argv, argvlen, &argc, rp->keys.data + rp->keys.off,
		    rp->keys.len);
	}
	arg(argv, argvlen, &argc, "refs", 4);
	arg(argv, argvlen, &argc, rp->refs.data + rp->refs.off,
	    rp->refs.len);
	if (rp->flags & FP_F_HIGH) {
		arg(argv, argvlen, &argc, "priority", 8);
		arg(argv, argvlen, &argc, "high", 4);
	}
	arg(argv, argvlen, &argc, "reply", 5);
	arg(argv, argvlen, &argc, r->reply, strlen(r->reply));
	rc = rclient_xadd(r, p, argc, argv, argvlen, ids[0], ids, n);
	pack_clear(rp);
	return rc;
}

int
rpack_send_all(struct fp_redis *r)
{
	unsigned	p;
	int		rc = 0;

	for (p = 0; r->packed > 0 && p < r->partitions; p++)
		if (rpack_send(r, p) == -1)
			rc = -1;
	return rc;
}

/*
 * A job (pending already) joins partition p's pack; the pack goes first
 * if the job may not join it, and after if it is full.  On error the
 * job is no longer waited for.
 */
int
rpack_add(struct fp_redis *r, unsigned p, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t len, unsigned flags)
{
	struct rpack	*rp;
	char		 ref[24];
	size_t		 reflen, size;

	flags &= FP_F_KEYED | FP_F_HIGH;
	reflen = (size_t)snprintf(ref, sizeof ref, "%llu",
	    (unsigned long long)id);
	size = netstr_size(len) + netstr_size(reflen) +
	    ((flags & FP_F_KEYED) ? netstr_size(keylen) : 0);
	if ((rp = pack_of(r, p)) == NULL)
		goto nomem;
	if (rp->n > 0 && (rp->flags != flags || rp->n >= rpack_max(r) ||
	    rp->bytes + size > PACK_BYTES) && rpack_send(r, p) == -1) {
		idset_del(&r->pending, id);
		return -1;
	}
	/* Room first, so that a pack never holds part of a job. */
	if (rp->ids == NULL) {
		rp->idcap = rpack_max(r);
		if ((rp->ids = calloc(rp->idcap, sizeof *rp->ids)) == NULL)
			goto nomem;
	}
	if (buf_reserve(&rp->payloads, netstr_size(len)) == -1 ||
	    buf_reserve(&rp->refs, netstr_size(reflen)) == -1 ||
	    buf_reserve(&rp->keys, netstr_size(keylen)) == -1)
		goto nomem;
	(void)netstr_put(&rp->payloads, payload, len);
	(void)netstr_put(&rp->refs, ref, reflen);
	if (flags & FP_F_KEYED)
		(void)netstr_put(&rp->keys, key, keylen);
	rp->flags = flags;
	rp->ids[rp->n++] = id;
	rp->bytes += size;
	r->packed++;
	/* A job bigger than a pack goes alone. */
	if (rp->n >= rp->idcap || rp->n >= rpack_max(r) ||
	    rp->bytes >= PACK_BYTES)
		return rpack_send(r, p);
	return 0;
nomem:
	idset_del(&r->pending, id);
	return rclient_error(r, ENOMEM, "%s", strerror(ENOMEM));
}
