/* Log lines to stderr, each naming the program and the process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char	*log_program = "forkpool";
static char		 log_proc[32] = "supervisor";
static int		 log_verbose;

/* verbose: 0 warnings only, 1 adds info, 2 adds debug. */
void
log_init(const char *program, int verbose)
{
	log_program = program;
	log_verbose = verbose;
}

void
log_procname(const char *name)
{
	snprintf(log_proc, sizeof log_proc, "%s", name);
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
vlog(const char *fmt, va_list ap, const char *err)
{
	char	msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (err != NULL)
		fprintf(stderr, "%s: %s: %s: %s\n", log_program, log_proc, msg,
		    err);
	else
		fprintf(stderr, "%s: %s: %s\n", log_program, log_proc, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(fmt, ap, strerror(saved));
	va_end(ap);
	exit(2);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
	exit(2);
}
