/*
 * The ids of a client's jobs not yet answered: an open-addressing hash set
 * of nonzero 64-bit ids, so that a RESULT is matched exactly to a SUBMIT.
 */
#ifndef IDSET_H
#define IDSET_H

#include <stddef.h>
#include <stdint.h>

struct idset {
	uint64_t	*slot;		/* 0 marks a free slot */
	size_t		 mask;		/* capacity - 1; capacity is 2^n */
	size_t		 count;
};

void	idset_init(struct idset *);
void	idset_free(struct idset *);
int	idset_add(struct idset *, uint64_t);
int	idset_has(const struct idset *, uint64_t);
int	idset_del(struct idset *, uint64_t);

#endif
