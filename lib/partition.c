/*
 * The partition of a key, as the supervisor's dispatch computes it: a
 * producer that adds a keyed job to a pool in Redis must pick the same
 * partition stream (doc/SCALING.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "forkpool.h"

/* FNV-1a 32 of the key, modulo the partitions. */
unsigned
fp_partition(const void *key, size_t len, unsigned partitions)
{
	const unsigned char	*p = key;
	uint32_t		 h = 2166136261U;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return partitions > 0 ? h % partitions : 0;
}
