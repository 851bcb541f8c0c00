#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"

struct field_sep {
	regex_t	 re;
	char	*source;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Field n (1-based) of a line; empty when there are fewer fields. */
void
line_field(const char *line, size_t len, int n, const char **field,
    size_t *flen)
{
	size_t	i = 0, start;

	for (;;) {
		while (i < len && is_blank(line[i]))
			i++;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		if (--n <= 0 || start == len)
			break;
	}
	*field = line + start;
	*flen = i - start;
}

struct field_sep *
field_sep_new(const char *regex, char *err, size_t errlen)
{
	struct field_sep	*s;
	char			 msg[128];
	int			 rc;

	if (*regex == '\0') {
		snprintf(err, errlen, "an empty separator");
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->source = strdup(regex)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((rc = regcomp(&s->re, regex, REG_EXTENDED)) != 0) {
		regerror(rc, &s->re, msg, sizeof msg);
		snprintf(err, errlen, "%s", msg);
		free(s->source);
		free(s);
		return NULL;
	}
	return s;
}

/* A copy of its own: a compiled regex cannot be shared by two owners. */
struct field_sep *
field_sep_dup(const struct field_sep *from)
{
	char	err[128];

	return field_sep_new(from->source, err, sizeof err);
}

const char *
field_sep_source(const struct field_sep *s)
{
	return s->source;
}

void
field_sep_free(struct field_sep *s)
{
	if (s == NULL)
		return;
	regfree(&s->re);
	free(s->source);
	free(s);
}

/*
 * The text between two matches of the separator is a field, the first
 * one before the first match, so a line that starts with a separator has
 * an empty field 1, as with cut(1).  A match of no character separates
 * nothing: the search goes on from the next character.  The line need not
 * end with a NUL (REG_STARTEND).
 */
void
field_get(const struct field_sep *s, const char *line, size_t len, int n,
    const char **field, size_t *flen)
{
	regmatch_t	m;
	size_t		start = 0, from = 0, end = len;

	if (s == NULL) {
		line_field(line, len, n, field, flen);
		return;
	}
	for (;;) {
		m.rm_so = from;
		m.rm_eo = len;
		if (from > len || regexec(&s->re, line, 1, &m, REG_STARTEND |
		    (from > 0 ? REG_NOTBOL : 0)) != 0) {
			end = len;
			break;
		}
		if (m.rm_eo == m.rm_so) {
			from = m.rm_so + 1;
			continue;
		}
		if (--n <= 0) {
			end = m.rm_so;
			break;
		}
		start = from = m.rm_eo;
	}
	if (n > 1) {
		/* Fewer fields than n. */
		*field = line + len;
		*flen = 0;
		return;
	}
	*field = line + start;
	*flen = end - start;
}
