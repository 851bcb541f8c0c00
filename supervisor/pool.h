/*
 * What pool.c (slots and worker processes), replace.c (replacements, new
 * before old) and scale.c (the number of slots) give each other, and
 * nothing else sees.  The pool's state is pool.c's alone; the others ask.
 */
#ifndef POOL_H
#define POOL_H

#include "supervisor.h"

/* pool.c */
struct proc	*pool_spawn(struct slot *, int, const struct options *);
void		 pool_stop_worker(struct proc *);
void		 pool_schedule_restart(struct slot *, int);
void		 pool_watch_heartbeats(void);
void		 pool_notify(void);
void		 pool_reconfigure(const struct options *);
void		 pool_resize(int);
void		 pool_trim(void);
void		 pool_hand_over(struct slot *);
int		 pool_others(void);
unsigned	 pool_generation(void);
unsigned	 pool_new_generation(void);

/* replace.c */
void		 replace_ready(struct proc *);
void		 replace_result(struct proc *);
void		 replace_failed(struct slot *, const char *, int);
int		 replace_recycle_due(struct slot *);
const struct options *replace_options(const struct slot *);
void		 replace_stop(void);
int		 replace_busy(void);
void		 replace_settle(void);

#endif
