/*
 * forkpool.conf(5): one key at a time.  confread.c reads the file; this
 * file finds each key in the table of options.c, which checks its value
 * as it checks the command line's, and stores it in a copy of the
 * options that replaces the caller's only once the whole file is good: a
 * bad file read again on SIGHUP leaves the running configuration alone.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confparse.h"
#include "options.h"

/* Records the first error only: later ones are likely its echoes. */
int
config_fail(struct parse *p, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (p->failed)
		return -1;
	p->failed = 1;
	if (p->errlen == 0)
		return -1;
	if (p->lineno > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, p->lineno);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->path);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * One key and its value, at line p->lineno: checked, and taken unless the
 * command line has set it.  0, or -1 with the first error in p.
 */
int
config_key(struct parse *p, const char *name, const char *value)
{
	const struct optdef	*d;
	struct options		 scratch;
	char			 msg[512];
	size_t			 i;
	int			 rc;

	if ((d = options_key(name)) == NULL)
		return config_fail(p, "unknown key %s", name);
	i = d - options_table;
	if (p->first[i] != 0)
		return config_fail(p, "%s set twice, first at line %d", name,
		    p->first[i]);
	p->first[i] = p->lineno;
	p->key = name;
	if (*value == '\0')
		return config_fail(p, "%s has no value", name);
	if (!(p->cli & OPTIONS_BIT(i)))
		rc = options_set(p->next, d, name, value, msg, sizeof msg);
	else {
		/* The command line wins, but a bad value is still an error
		 * (-n). */
		options_defaults(&scratch);
		rc = options_set(&scratch, d, name, value, msg, sizeof msg);
		options_purge(&scratch);
	}
	if (rc == -1)
		return config_fail(p, "%s", msg);
	return 0;
}
