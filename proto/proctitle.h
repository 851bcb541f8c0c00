/* Process titles ("forkpool: worker 3") through libbsd's setproctitle. */
#ifndef PROCTITLE_H
#define PROCTITLE_H

void	proctitle_init(int, char **, char **);
void	proctitle_set(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
