/*
 * The relay between a worker's link and an external program: external.c
 * runs it for exec: and lines:, and lines.c keeps a lines: filter's
 * answers in step with its jobs.
 */
#ifndef RELAY_H
#define RELAY_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/link.h"
#include "handler.h"

/* A program silent this long with lines or jobs to answer gets a hint. */
#define HINT_S		3
#define HINT_NS		(HINT_S * 1000000000ULL)

struct worker_conf;

/* A job sent to the program, or (lines:) refused, waiting for its turn. */
struct sent {
	uint64_t	 id;
	size_t		 len;		/* its bytes in relay.jobs */
	int		 timed;		/* the job has a timeout */
	int		 refused;	/* lines: never sent; answers an error */
};

struct relay {
	const struct worker_conf *wc;
	const struct handler	*h;
	struct slot_board	*board;
	pid_t			 pid;		/* the program, its group too */
	int			 to_child;	/* its stdin; -1 once closed */
	int			 from_child;	/* its stdout */
	struct link		 link;		/* to and from the supervisor */
	struct buf		 jobs;		/* the unanswered jobs' bytes */
	size_t			 written;	/* of jobs, to the program */
	struct link		 prog;		/* from the program: its in */
	size_t			 careful;	/* jobs to send one at a time */
	struct sent		*ring;		/* oldest first, from head */
	size_t			 head;
	size_t			 count;
	size_t			 cap;
	uint64_t		 board_id;	/* what the board says runs */
	uint64_t		 beat_ns;	/* the last heartbeat sent */
	uint64_t		 heard_ns;	/* its last output, or input */
	int			 hinted;	/* said it may be buffering */

	/* lines: the window of jobs given and not yet settled (lines.c). */
	size_t			 win;		/* its jobs, from the head */
	size_t			 win_bytes;	/* their bytes in jobs */
	size_t			 win_next;	/* the next one's size */
	size_t			 got;		/* lines answered in it */
	size_t			 held;		/* their bytes in prog.in */
	size_t			 seen;		/* prog.in searched for '\n' */
	size_t			 got_open;	/* got when its input closed */
	int			 telling;	/* input closed, to see the rest */
	int			 said;		/* out of step, and logged */
	uint64_t		 opened_ns;	/* when it was opened */
	uint64_t		 line_ns;	/* the filter's time per line */
	uint64_t		 look_ns;	/* when to look at it next */
	uint64_t		 look_wait_ns;	/* and how long after that */
	size_t			 unread;	/* of it, at the last look */
};

static inline const char *
program(const struct relay *r)
{
	return r->h->cmd[0];
}

static inline struct sent *
ring_at(const struct relay *r, size_t i)
{
	return &r->ring[(r->head + i) % r->cap];
}

/* external.c */
void	 relay_answer(struct relay *, int, const char *, size_t);
void	 relay_board_point(struct relay *);
void	 relay_exit(struct relay *, int) __attribute__((noreturn));
void	 relay_protocol_error(struct relay *, const char *)
	    __attribute__((noreturn));
int	 relay_reap(struct relay *, int, char *, size_t);
void	 relay_respawn(struct relay *);
void	 relay_hint(struct relay *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* lines.c */
size_t	 lines_writable(const struct relay *);
struct sent *lines_running(const struct relay *);
void	 lines_take(struct relay *);
void	 lines_step(struct relay *);
uint64_t lines_look_ns(const struct relay *);
void	 lines_ended(struct relay *, const char *);

#endif
