/*
 * What forkpoolctl.c shares with ctl/redis.c, the commands on a pool in
 * Redis.
 */
#ifndef CTL_H
#define CTL_H

#include <stddef.h>
#include <stdio.h>

#include "lib/forkpool.h"

#define EXIT_FAILED	1
#define EXIT_TROUBLE	2

extern int	 json;

int	priority_flags(const char *, unsigned *);
void	json_string(FILE *, const char *, size_t);
void	print_result(const struct fp_result *, size_t *);

int	redis_submit(const char *, unsigned, int, char **);
int	redis_status(const char *, unsigned);

int	top(const char *, const char *, unsigned, int, char **);

#endif
