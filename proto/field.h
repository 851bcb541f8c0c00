/*
 * A field of a job's line, as the key of -k N (batch mode) and of
 * forkpoolctl -r URL submit -f N: fields are separated by blanks.
 */
#ifndef FIELD_H
#define FIELD_H

#include <stddef.h>

void	line_field(const char *, size_t, int, const char **, size_t *);

#endif
