/*
 * Between the values of forkpool.conf(5) (conf.c) and the reader of the
 * file (confread.c): the state of one reading, and one key at a time.
 */
#ifndef CONFPARSE_H
#define CONFPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct options;

struct parse {
	const char		*path;
	FILE			*fp;
	int			 lineno;	/* the line being read */
	int			 failed;	/* err has the first error */
	char			*err;
	size_t			 errlen;
	uint64_t		 cli;		/* what the command line set */
	struct options		*next;		/* what the file makes */
	const char		*key;		/* the key being read */
	int			*first;		/* each key's line, or 0 */
};

int	config_fail(struct parse *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	config_key(struct parse *, const char *, const char *);

#endif
