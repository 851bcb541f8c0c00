/*
 * The handler a pool runs, resolved once from its spec:
 *
 *	builtin:NAME	built into forkpool (builtin.c)
 *	PATH.so		a C plugin (plugin.c), the ABI of forkpool_handler.h
 *	exec:CMD	an external program speaking the framed protocol
 *	lines:CMD	an external program answering one line per line
 *	cmd:TEMPLATE	a command run per job, its stdout the result (cmd.c)
 *
 * Builtins and plugins are in-process handlers: both are a struct
 * fp_handler, so they run down one path, handler_init(), handler_handle()
 * and handler_fini(), in a worker process or in a thread of the
 * supervisor alike.  The external kinds run only in a worker process,
 * which relays jobs to the program (external.c).  cmd: is an in-process
 * handler that starts a process per job, so it runs only in a worker
 * process too.
 */
#ifndef HANDLER_H
#define HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "lib/forkpool_handler.h"

enum handler_kind {
	HANDLER_BUILTIN,
	HANDLER_PLUGIN,
	HANDLER_EXEC,
	HANDLER_LINES,
	HANDLER_CMD,
};

struct field_sep;

struct handler {
	enum handler_kind	 kind;
	const char		*spec;		/* as given */
	int			 argc;		/* init's arguments */
	char			**argv;
	const struct fp_handler	*abi;		/* NULL until loaded */
	char			*path;		/* plugin: its absolute path */
	void			*dl;		/* plugin: dlopen() handle */
	char			**cmd;		/* external, cmd: the words */
	/* cmd: what it takes of the configuration, set by wconf_fill(). */
	const struct field_sep	*colsep;	/* {N}; NULL: blanks */
	uint32_t		 frame_max;	/* the longest result */
};

/*
 * Where an in-process handler writes a job's result: the fp_output it is
 * given, over a byte buffer the runtime owns.
 */
struct handler_output {
	struct fp_output	 out;
	struct buf		*buf;
	int			 failed;	/* an append ran out of memory */
	int			 corrupt;	/* fault injection, see below */
};

/*
 * Resolves spec into h: finds a builtin, checks a plugin's file (and,
 * with load, loads it now: dlopen, symbol, ABI version), or splits and
 * finds an external command.  0, or -1 with a message in err.
 */
int	 handler_resolve(struct handler *, const char *, int, char **, int,
	    char *, size_t);
int	 handler_load(struct handler *, char *, size_t);
int	 handler_is_external(const struct handler *);
int	 handler_relays(const struct handler *);
void	 handler_free(struct handler *);

/* In-process handlers: once per worker (or thread), then per job. */
int	 handler_init(const struct handler *, void **, char *, size_t);
void	 handler_output_init(struct handler_output *, struct buf *);
int	 handler_handle(const struct handler *, void *, const struct fp_job *,
	    struct handler_output *);
void	 handler_fini(const struct handler *, void *);

/* Set in --isolation thread: the handlers run in the supervisor's threads. */
extern int	 handler_threaded;

/* builtin.c */
const struct fp_handler	*builtin_find(const char *);
const char		*builtin_names(void);

/* The crash builtin's GARBAGE: this job answers with bytes not a frame. */
void	 handler_output_corrupt(struct fp_output *);

/* cmd.c */
extern const struct fp_handler	cmd_handler;
int	 cmd_init(const struct handler *, void **, char *, size_t);
int	 cmd_has_replacement(const char *);

/* plugin.c */
int	 plugin_open(const char *, void **, const struct fp_handler **,
	    char *, size_t);
void	 plugin_close(void *);

#endif
