/*
 * Process titles through libbsd's setproctitle, less one quirk: when the
 * title is shorter than the original argv[0], libbsd leaves a '.' where
 * argv[0] ended (a ' ' when it is just as long), and ps shows
 * "forkpool: worker 0      .".  The rest of the area is zeroed, so
 * putting the NUL back gives a clean title.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctitle.h"

static char	*arg0_end;	/* where the original argv[0] ended */

void
proctitle_init(int argc, char **argv, char **envp)
{
	if (argc > 0 && argv[0] != NULL)
		arg0_end = argv[0] + strlen(argv[0]);
	setproctitle_init(argc, argv, envp);
}

void
proctitle_set(const char *fmt, ...)
{
	char	title[128];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(title, sizeof title, fmt, ap);
	va_end(ap);
	setproctitle("%s", title);
	if (arg0_end == NULL)
		return;
	/* A title ending right where argv[0] did gets a ' ' there instead. */
	if (*arg0_end == '.' || (*arg0_end == ' ' && arg0_end[1] == '\0'))
		*arg0_end = '\0';
}
