/*
 * Netstrings: reading them out of untrusted bytes (an entry any client
 * of Redis may have written) and appending them to a buffer.
 */
#include <stdio.h>
#include <string.h>

#include "proto/netstr.h"

void
netstr_begin(struct netstr *ns, const void *p, size_t len)
{
	ns->p = p;
	ns->left = len;
}

/*
 * The next string: 1 and its bytes (not NUL-terminated) in *s and *len,
 * 0 at the end of the input, -1 if what is left is not a netstring (the
 * reader stays there).
 */
int
netstr_next(struct netstr *ns, const char **s, size_t *len)
{
	size_t	i, n = 0;

	if (ns->left == 0)
		return 0;
	for (i = 0; i < ns->left && ns->p[i] >= '0' && ns->p[i] <= '9';
	    i++) {
		if (i == NETSTR_LEN_MAX || (i == 1 && ns->p[0] == '0'))
			return -1;
		n = n * 10 + (size_t)(ns->p[i] - '0');
	}
	/* Digits, ':', n bytes and ',' must all be there. */
	if (i == 0 || i == ns->left || ns->p[i] != ':' ||
	    ns->left - i - 1 < n + 1 || ns->p[i + 1 + n] != ',')
		return -1;
	*s = ns->p + i + 1;
	*len = n;
	ns->p += i + 2 + n;
	ns->left -= i + 2 + n;
	return 1;
}

/* The strings in p, all well formed, or -1; more than max is -1 too. */
long
netstr_count(const void *p, size_t len, long max)
{
	struct netstr	 ns;
	const char	*s;
	size_t		 n;
	long		 count = 0;
	int		 rc;

	netstr_begin(&ns, p, len);
	while ((rc = netstr_next(&ns, &s, &n)) == 1)
		if (++count > max)
			return -1;
	return rc == 0 ? count : -1;
}

/* The bytes a string of len takes as a netstring. */
size_t
netstr_size(size_t len)
{
	char	digits[24];

	return (size_t)snprintf(digits, sizeof digits, "%zu", len) + 2 + len;
}

/* Appends one netstring; -1 with errno on ENOMEM. */
int
netstr_put(struct buf *b, const void *s, size_t len)
{
	char	head[24];
	int	hl = snprintf(head, sizeof head, "%zu:", len);
	char	*p;

	if ((p = buf_append_space(b, (size_t)hl + len + 1)) == NULL)
		return -1;
	memcpy(p, head, hl);
	if (len > 0)
		memcpy(p + hl, s, len);
	p[hl + len] = ',';
	return 0;
}
