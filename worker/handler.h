/*
 * What a worker runs for each job.  init (optional) runs once in the
 * worker with the handler's arguments; handle turns one job into a result
 * or an error message; fini (optional) runs on a graceful exit.
 */
#ifndef HANDLER_H
#define HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct handler_job {
	uint64_t	 id;
	unsigned	 attempt;	/* 1 for the first run */
	const char	*key;
	size_t		 keylen;
	const char	*payload;
	size_t		 paylen;
};

struct handler {
	const char	*name;
	/* 0 on success; on failure a message in err. */
	int		(*init)(int, char **, char *, size_t);
	/* Appends the result (or an error message) to out; returns a
	 * STATUS_OK or STATUS_ERROR. */
	int		(*handle)(const struct handler_job *, struct buf *);
	void		(*fini)(void);
};

const struct handler	*builtin_find(const char *);
const char		*builtin_names(void);

void			 worker_corrupt_result(void);

/* The worker's end of its link is always this descriptor. */
#define WORKER_LINK_FD	3

#endif
