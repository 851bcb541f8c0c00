/*
 * Logging in the OpenBSD daemons' manner: every line names the process that
 * wrote it; log_warn adds errno's text; fatal and fatalx exit.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	log_init(const char *, int);
void	log_procname(const char *);
int	log_getverbose(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
