/*
 * What /proc says of an external program (idle.c).
 */
#ifndef IDLE_H
#define IDLE_H

#include <sys/types.h>

enum program_state {
	PROGRAM_UNKNOWN,	/* /proc cannot tell */
	PROGRAM_BUSY,		/* running, or waiting for something else */
	PROGRAM_IDLE,		/* all of it asleep, waiting for input */
};

enum program_state	 program_state(pid_t);
int			 program_runs(pid_t);

#endif
