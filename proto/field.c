#include "field.h"

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
