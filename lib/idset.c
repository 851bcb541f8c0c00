/* A hash set of job ids: linear probing, deletion by backward shift. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

#define IDSET_MIN	64	/* slots of the first table */
#define IDSET_KEEP	4096	/* an empty set gives back a larger table */

/* Client ids are often sequential: mix them before masking. */
static inline size_t
home(uint64_t id, size_t mask)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id & mask;
}

void
idset_init(struct idset *s)
{
	memset(s, 0, sizeof *s);
}

void
idset_free(struct idset *s)
{
	free(s->slot);
	idset_init(s);
}

static void
put(uint64_t *slot, size_t mask, uint64_t id)
{
	size_t	i;

	for (i = home(id, mask); slot[i] != 0; i = (i + 1) & mask)
		continue;
	slot[i] = id;
}

static int
resize(struct idset *s, size_t cap)
{
	uint64_t	*slot;
	size_t		 i;

	if ((slot = calloc(cap, sizeof *slot)) == NULL)
		return -1;
	if (s->slot != NULL) {
		for (i = 0; i <= s->mask; i++)
			if (s->slot[i] != 0)
				put(slot, cap - 1, s->slot[i]);
		free(s->slot);
	}
	s->slot = slot;
	s->mask = cap - 1;
	return 0;
}

/* Adds a nonzero id: 0 when added, 1 when already there, -1 on ENOMEM. */
int
idset_add(struct idset *s, uint64_t id)
{
	size_t	cap, i;

	/* Keep the load at most one half, then one probe finds or adds. */
	cap = s->slot == NULL ? 0 : s->mask + 1;
	if ((s->count + 1) * 2 > cap) {
		if (cap > SIZE_MAX / 2 / sizeof *s->slot) {
			errno = ENOMEM;
			return -1;
		}
		if (resize(s, cap == 0 ? IDSET_MIN : cap * 2) == -1)
			return -1;
	}
	for (i = home(id, s->mask); s->slot[i] != 0; i = (i + 1) & s->mask)
		if (s->slot[i] == id)
			return 1;
	s->slot[i] = id;
	s->count++;
	return 0;
}

int
idset_has(const struct idset *s, uint64_t id)
{
	size_t	i;

	if (s->slot == NULL || id == 0)
		return 0;
	for (i = home(id, s->mask); s->slot[i] != 0; i = (i + 1) & s->mask)
		if (s->slot[i] == id)
			return 1;
	return 0;
}

/* Removes an id: 1 when it was there, 0 when not. */
int
idset_del(struct idset *s, uint64_t id)
{
	size_t	i, j, k;

	if (s->slot == NULL || id == 0)
		return 0;
	for (i = home(id, s->mask); s->slot[i] != id; i = (i + 1) & s->mask)
		if (s->slot[i] == 0)
			return 0;
	/*
	 * Shift later members of the probe run back into the hole, so that
	 * lookups never need tombstones: a member at j may move to the hole
	 * at i unless its home lies cyclically in (i, j].
	 */
	for (j = i;;) {
		j = (j + 1) & s->mask;
		if (s->slot[j] == 0)
			break;
		k = home(s->slot[j], s->mask);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->slot[i] = s->slot[j];
		i = j;
	}
	s->slot[i] = 0;
	if (--s->count == 0 && s->mask + 1 > IDSET_KEEP)
		idset_free(s);
	return 1;
}
