/*
 * Netstrings, LEN ":" BYTES ",": how a Redis pool packs many jobs, or
 * many results, into one stream entry (doc/SCALING.md, "Packed
 * entries").  LEN is decimal, without a sign or leading zeros.
 */
#ifndef NETSTR_H
#define NETSTR_H

#include <stddef.h>

#include "proto/buf.h"

#define NETSTR_LEN_MAX	9	/* digits of LEN: a string is under 1 GB */

struct netstr {
	const char	*p;
	size_t		 left;
};

void	netstr_begin(struct netstr *, const void *, size_t);
int	netstr_next(struct netstr *, const char **, size_t *);
long	netstr_count(const void *, size_t, long);
int	netstr_put(struct buf *, const void *, size_t);
size_t	netstr_size(size_t);

#endif
