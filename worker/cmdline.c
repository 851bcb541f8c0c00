/*
 * Splitting a command into words the way a POSIX shell does, so that
 * 'lines:sed -u "s/a b/c/"' means what it would at a prompt, while no
 * shell runs: blanks separate words; single quotes keep everything up to
 * the next one; double quotes keep everything but a backslash before
 * one of $ ` " \ or a newline; a backslash outside quotes keeps the next
 * character.  Nothing is expanded: $HOME, * and ~ stay as they are.
 * The operators a shell would act on (| & ; < > ( ) and `) are refused
 * unquoted, since taking them as words would run something else than
 * the user meant; a command that needs them names a shell: sh -c '...'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/*
 * Splits s into a NULL-terminated argv (*wordsp) of *nwords words, all in
 * one allocation freed by cmdline_free().  -1, with a message, on a
 * quote left open, a trailing backslash, an operator or no word at all.
 */
int
cmdline_split(const char *s, char ***wordsp, int *nwords, char *err,
    size_t errlen)
{
	const char	 *p = s;
	char		**words, *store, *out, *start;
	size_t		  len = strlen(s);
	int		  n = 0, some;

	/* Words are no longer than s; each ends with a NUL where s had at
	 * least one character (a blank or a quote) or at its end. */
	words = calloc(len / 2 + 2, sizeof *words);
	store = malloc(len + 1);
	if (words == NULL || store == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	out = store;
	for (;;) {
		while (blank(*p))
			p++;
		if (*p == '\0')
			break;
		start = out;
		some = 0;
		while (*p != '\0' && !blank(*p)) {
			if (*p == '\'') {
				some = 1;
				for (p++; *p != '\0' && *p != '\''; p++)
					*out++ = *p;
				if (*p++ == '\0') {
					snprintf(err, errlen, "a single quote "
					    "is not closed");
					goto fail;
				}
			} else if (*p == '"') {
				some = 1;
				for (p++; *p != '\0' && *p != '"'; p++) {
					if (*p == '\\' && p[1] == '\n') {
						p++;
						continue;
					}
					if (*p == '\\' && p[1] != '\0' &&
					    strchr("$`\"\\", p[1]) != NULL)
						p++;
					*out++ = *p;
				}
				if (*p++ == '\0') {
					snprintf(err, errlen, "a double quote "
					    "is not closed");
					goto fail;
				}
			} else if (*p == '\\') {
				if (p[1] == '\0') {
					snprintf(err, errlen, "a backslash "
					    "ends the command");
					goto fail;
				}
				if (p[1] != '\n') {
					*out++ = p[1];
					some = 1;
				}
				p += 2;
			} else if (strchr("|&;<>()`", *p) != NULL) {
				snprintf(err, errlen, "unquoted '%c': no shell "
				    "runs the command; quote it, or name a "
				    "shell: sh -c '...'", *p);
				goto fail;
			} else {
				*out++ = *p++;
				some = 1;
			}
		}
		if (!some)
			continue;	/* only a line continuation */
		*out++ = '\0';
		words[n++] = start;
	}
	if (n == 0) {
		snprintf(err, errlen, "no command");
		goto fail;
	}
	words[n] = NULL;
	*wordsp = words;
	*nwords = n;
	return 0;
fail:
	free(words);
	free(store);
	return -1;
}

void
cmdline_free(char **words)
{
	if (words == NULL)
		return;
	free(words[0]);		/* the first word starts the store */
	free(words);
}

/*
 * Whether the program would be found as execvp() finds it: a name with a
 * slash is a path; another is looked for in each directory of PATH.
 * 0, or -1 with a message.
 */
int
cmdline_find(const char *prog, char *err, size_t errlen)
{
	const char	*path, *dir, *end;
	char		 cand[4096];
	int		 len;

	if (strchr(prog, '/') != NULL) {
		if (access(prog, X_OK) == 0)
			return 0;
		snprintf(err, errlen, "%s: %s", prog, strerror(errno));
		return -1;
	}
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (dir = path; ; dir = end + 1) {
		if ((end = strchr(dir, ':')) == NULL)
			end = dir + strlen(dir);
		/* An empty entry is the current directory. */
		len = snprintf(cand, sizeof cand, "%.*s%s%s", (int)(end - dir),
		    dir, end == dir ? "." : "", "/");
		if (len > 0 && (size_t)len < sizeof cand &&
		    strlcat(cand, prog, sizeof cand) < sizeof cand &&
		    access(cand, X_OK) == 0)
			return 0;
		if (*end == '\0')
			break;
	}
	snprintf(err, errlen, "%s: command not found", prog);
	return -1;
}
