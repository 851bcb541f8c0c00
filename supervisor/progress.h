/*
 * Batch progress on standard error (progress.c), from what batch.c
 * counts.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdint.h>

struct batch_tally {
	uint64_t	 ok;
	uint64_t	 failed;
	uint64_t	 taken;		/* jobs made of input lines so far */
	int		 input_done;	/* every line is taken: taken is all */
	uint64_t	 started_ns;
};

/* batch.c */
void		 batch_tally(struct batch_tally *);

/* progress.c */
void		 progress_start(void);
void		 progress_clear(void);
void		 progress_end(void);

#endif
