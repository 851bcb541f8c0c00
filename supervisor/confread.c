/*
 * Reading forkpool.conf(5).  libinih splits the file into keys and values,
 * and conf.c checks each; this file holds the format to what forkpool.conf
 * is, line by line, so that every error names its line.  Without libinih
 * (./configure --without-inih) there are no configuration files, and -f
 * says so.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confparse.h"
#include "options.h"

#ifdef HAVE_INIH
#include <ini.h>

/* libinih's callback: non-zero to go on. */
static int
on_key(void *arg, const char *section, const char *name, const char *value)
{
	struct parse	*p = arg;

	if (p->failed)
		return 0;
	if (*section != '\0') {	/* read_line refuses them first */
		config_fail(p, "unknown section [%s]", section);
		return 0;
	}
	return config_key(p, name, value) == 0;
}

/*
 * Lines that libinih would take in ways this format does not want: a
 * [section] would quietly scope the keys below it, an indented line would
 * continue the value above, and "key: value" is configparser's spelling.
 */
static int
check_line(struct parse *p, const char *line)
{
	const char	*s;

	/* libinih skips a UTF-8 byte order mark. */
	if (p->lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (s = line; isspace((unsigned char)*s); s++)
		;
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (s != line)
		return config_fail(p, "a line must not start with a blank "
		    "(there are no continuation lines)");
	if (*s == '[')
		return config_fail(p, "unknown section %.*s", (int)strcspn(s, "\r\n"),
		    s);
	if (*s == '=' || s[strcspn(s, "=:")] != '=')
		return config_fail(p, "expected KEY = VALUE");
	return 0;
}

/*
 * libinih's reader, fgets(3) with a line count: the callback learns the
 * line it is called for, which the library does not pass in every build.
 */
static char *
read_line(char *buf, int size, void *arg)
{
	struct parse	*p = arg;
	size_t		 len;

	if (p->failed)
		return NULL;
	if (fgets(buf, size, p->fp) == NULL) {
		if (ferror(p->fp)) {
			p->lineno++;
			config_fail(p, "read error: %s", strerror(errno));
		}
		return NULL;
	}
	p->lineno++;
	len = strlen(buf);
	/* libinih would take the rest of a long line as a line of its own. */
	if (len == (size_t)size - 1 && buf[len - 1] != '\n' &&
	    getc(p->fp) != EOF) {
		config_fail(p, "line longer than %d bytes", size - 2);
		return NULL;
	}
	if (check_line(p, buf) == -1)
		return NULL;
	return buf;
}

/*
 * The file is read into a copy of o that owns its own strings: on success
 * it replaces o, whose storage is freed; on failure it is freed, and o is
 * as it was.
 */
int
config_load(const char *path, struct options *o, uint64_t cli, char *err,
    size_t errlen)
{
	struct parse	 p;
	struct options	*next;
	struct stat	 st;
	int		*first, rc;

	memset(&p, 0, sizeof p);
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	p.cli = cli;
	if (errlen > 0)
		*err = '\0';
	if ((first = calloc(options_count, sizeof *first)) == NULL)
		return config_fail(&p, "%s", strerror(errno));
	p.first = first;

	if ((p.fp = fopen(path, "re")) == NULL) {
		free(first);
		return config_fail(&p, "%s", strerror(errno));
	}
	if (fstat(fileno(p.fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(p.fp);
		free(first);
		return config_fail(&p, "%s", strerror(EISDIR));
	}
	p.next = next = options_dup(o);
	rc = ini_parse_stream(read_line, &p, on_key, &p);
	fclose(p.fp);
	free(first);
	if (rc != 0 && !p.failed) {
		/* A line libinih refused that check_line let through. */
		p.lineno = rc > 0 ? rc : 0;
		config_fail(&p, rc == -2 ? "out of memory" : "expected KEY = VALUE");
	}
	if (p.failed) {
		options_free(next);
		return -1;
	}
	/* o's handler, if it had resolved one, is no longer the one. */
	options_purge(o);
	*o = *next;
	free(next);
	return 0;
}

#else

int
config_load(const char *path, struct options *o, uint64_t cli, char *err,
    size_t errlen)
{
	(void)o;
	(void)cli;
	snprintf(err, errlen, "%s: configuration files need libinih, and "
	    "this forkpool was built without it", path);
	return -1;
}

#endif
