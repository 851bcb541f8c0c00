/*
 * A tiny TAP producer for the C tests.  Functions, not macros, so that
 * arguments are evaluated once; the state lives in tap.c-less statics of
 * the one test program that includes this.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int	tap_count;
static int	tap_failed;

static inline void
tap_plan(int n)
{
	printf("1..%d\n", n);
}

static inline int
tap_ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static inline void
tap_diag(const char *fmt, ...)
{
	va_list	ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int
tap_done(void)
{
	return tap_failed > 0 ? 1 : 0;
}

#endif
