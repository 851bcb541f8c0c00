/* Splitting exec:CMD and lines:CMD into words as a shell would. */
#include <stdlib.h>
#include <string.h>

#include "worker/cmdline.h"
#include "tap.h"

/* The command as one TAP line: a newline shown as \n. */
static const char *
shown(const char *cmd)
{
	static char	 buf[256];
	char		*p = buf;

	for (; *cmd != '\0' && p < buf + sizeof buf - 3; cmd++) {
		if (*cmd == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else
			*p++ = *cmd;
	}
	*p = '\0';
	return buf;
}

/* want: the words joined with '|', or NULL for an error. */
static void
split_is(const char *cmd, const char *want)
{
	char	**words, got[512] = "", err[256];
	int	  n, i;

	if (cmdline_split(cmd, &words, &n, err, sizeof err) == -1) {
		tap_ok(want == NULL, "[%s] is refused: %s", shown(cmd), err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(got, "|", sizeof got);
		strlcat(got, words[i], sizeof got);
	}
	tap_ok(want != NULL && strcmp(got, want) == 0 && words[n] == NULL,
	    "[%s] is [%s]", shown(cmd), got);
	if (want != NULL && strcmp(got, want) != 0)
		tap_diag("want [%s]", want);
	cmdline_free(words);
}

int
main(void)
{
	char	err[256];

	tap_plan(27);
	split_is("sed -u s/a/b/", "sed|-u|s/a/b/");
	split_is("  awk\t'{ print $1 }'  ", "awk|{ print $1 }");
	split_is("printf '%s\\n' \"a b\" c", "printf|%s\\n|a b|c");
	split_is("a'b'\"c\"d", "abcd");
	split_is("echo ''", "echo|");
	split_is("echo \"\" x", "echo||x");
	split_is("a\\ b c", "a b|c");
	split_is("a\\\\b", "a\\b");
	split_is("\"a\\\"b\\\\c\\$d\\`e\\x\"", "a\"b\\c$d`e\\x");
	split_is("'it'\\''s'", "it's");
	split_is("a \\\n b", "a|b");
	split_is("a\\\nb", "ab");
	split_is("\"a\\\nb\"", "ab");
	split_is("echo $HOME * ~ #x", "echo|$HOME|*|~|#x");
	split_is("sh -c 'a | b; c > d'", "sh|-c|a | b; c > d");
	split_is("python3 -u \"my worker.py\" --mode=fnv",
	    "python3|-u|my worker.py|--mode=fnv");
	split_is("'unclosed", NULL);
	split_is("\"unclosed", NULL);
	split_is("trailing\\", NULL);
	split_is("a | b", NULL);
	split_is("a;b", NULL);
	split_is("a > out", NULL);
	split_is("$(date)", NULL);
	split_is("`date`", NULL);
	split_is("   ", NULL);

	tap_ok(cmdline_find("sh", err, sizeof err) == 0,
	    "sh is found in PATH");
	tap_ok(cmdline_find("forkpool-no-such-program", err, sizeof err) ==
	    -1 && strstr(err, "command not found") != NULL,
	    "a missing program: %s", err);
	return tap_done();
}
