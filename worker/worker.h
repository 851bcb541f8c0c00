/*
 * What the two worker runtimes share: the in-process loop (worker.c) and
 * the relay to an external program (external.c).
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdint.h>

#include "handler.h"

/* The worker's end of its link is always this descriptor. */
#define WORKER_LINK_FD	3

/* Exit statuses the supervisor reads (pool.c knows EX_HANDLER_INIT). */
#define EX_HANDLER_INIT	78	/* the handler failed to start */
#define EX_PROTOCOL	76	/* a bad frame, from the link or the program */
#define EX_CHILD	75	/* the external program ended */

/* What a job answers instead of its RESULT when builtin:crash says GARBAGE. */
#define WORKER_GARBAGE		"this is not a forkpool frame...."
#define WORKER_GARBAGE_LEN	(sizeof WORKER_GARBAGE - 1)

struct frame;
struct slot_board;

uint64_t	 worker_clock_ns(void);
uint64_t	 worker_coarse_ns(void);
int		 worker_handle(const struct handler *, void *,
		    const struct frame *, struct slot_board *, struct buf *);
void		 worker_confine(struct handler *);
void		 worker_start_failed(const char *) __attribute__((noreturn));
void		 worker_exit(int) __attribute__((noreturn));
void		 external_main(const struct handler *, int,
		    struct slot_board *) __attribute__((noreturn));

#endif
