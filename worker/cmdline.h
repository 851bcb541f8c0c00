/*
 * The command of exec:CMD and lines:CMD, split into words as a POSIX
 * shell splits them, with no expansion of anything: see cmdline.c.
 */
#ifndef CMDLINE_H
#define CMDLINE_H

#include <stddef.h>

int	 cmdline_split(const char *, char ***, int *, char *, size_t);
void	 cmdline_free(char **);
int	 cmdline_find(const char *, char *, size_t);

#endif
