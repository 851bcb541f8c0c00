/*
 * What pool.c (worker processes), replace.c (replacements, new before
 * old) and scale.c (the number of slots) share, and nothing else sees.
 */
#ifndef POOL_H
#define POOL_H

#include "supervisor.h"

/* Slot i's other record: its replacement while it starts, or the process
 * it replaced while that finishes its jobs. */
#define TWIN(slot)	(&workers[WORKERS_CAP + (slot)])

extern int			 pool_shutting_down;
extern int			 pool_target_n;
extern unsigned			 pool_ntwins;
extern unsigned			 pool_generation;
extern int			 pool_rolling;
extern const struct options	*pool_canary;
extern int			 pool_rolling_all;

/* pool.c */
int	pool_is_twin(const struct worker *);
void	pool_spawn(struct worker *, const struct options *);
void	pool_stop_worker(struct worker *);
void	pool_schedule_restart(struct worker *);
void	pool_timer_in(struct worker *, uint64_t);
void	pool_watch_heartbeats(void);
void	pool_notify(void);
int	pool_restart_intensity(void);

/* replace.c */
void	pool_replacement_failed(struct worker *, const char *, int);
int	pool_recycle_due(struct worker *);
void	pool_replace_settle(void);

#endif
