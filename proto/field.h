/*
 * A field of a job's line, as the key of -k N (batch mode), the {N} of a
 * cmd: template and forkpoolctl -r URL submit -f N.  By default fields
 * are separated by blanks; with a separator (--colsep REGEX), by each
 * match of a POSIX extended regular expression.
 */
#ifndef FIELD_H
#define FIELD_H

#include <stddef.h>

struct field_sep;

void	line_field(const char *, size_t, int, const char **, size_t *);

/* NULL with a message in err, for a regex that does not compile. */
struct field_sep	*field_sep_new(const char *, char *, size_t);
struct field_sep	*field_sep_dup(const struct field_sep *);
const char		*field_sep_source(const struct field_sep *);
void			 field_sep_free(struct field_sep *);

/* Field n of a line with a separator, or by line_field()'s rule if NULL. */
void	field_get(const struct field_sep *, const char *, size_t, int,
	    const char **, size_t *);

#endif
