/*
 * The settings of a run: one table (options.c) says, for each, its key in
 * forkpool.conf(5), its command-line option, its limits and how its value
 * is read, so that a value means the same from either.  A struct options
 * is one generation of the configuration (generation.c): it owns every
 * string and array in it, and options_free() frees it whole.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum order { ORDER_INPUT, ORDER_COMPLETION };
enum halt_when { HALT_NEVER, HALT_SOON, HALT_NOW };
enum halt_why { HALT_FAIL, HALT_SUCCESS, HALT_DONE };

struct handler;

struct options {
	int		 workers;
	uint32_t	 partitions;
	uint32_t	 queue_max;
	uint32_t	 window;	/* 0: adaptive up to WINDOW_MAX */
	unsigned	 attempts;
	uint64_t	 timeout_ns;	/* 0: none */
	uint64_t	 kill_grace_ns;
	uint64_t	 start_timeout_ns;	/* a start's deadline: HELLO */
	uint64_t	 shutdown_timeout_ns;	/* 0: wait for every job */
	uint32_t	 frame_max;
	enum order	 order;
	int		 key_field;	/* 0: unkeyed */
	struct field_sep *colsep;	/* NULL: fields are split at blanks */
	char		*failed_path;
	int		 verbose;
	char		*handler;	/* "builtin:fnv" */
	int		 handler_argc;
	char		**handler_argv;	/* NULL-terminated */
	struct handler	*handler_obj;	/* handler, resolved at start-up */
	int		 preload;	/* load a plugin before forking */

	/* What workers give up (worker/confine.c). */
	char		*user;
	char		*group;
	uid_t		 run_uid;
	gid_t		 run_gid;
	int		 drop_privileges;	/* run_uid/gid differ from ours */
	char		*chroot_dir;
	unsigned long long rlimit_as;		/* bytes; 0: unchanged */
	unsigned long long rlimit_cpu;		/* seconds */
	unsigned long long rlimit_nofile;

	int		 isolation;		/* ISOLATION_PROCESS, _THREAD */

	/* --halt: batch stops when enough jobs failed, succeeded or ended. */
	int		 halt_when;		/* HALT_NEVER, _SOON, _NOW */
	int		 halt_why;		/* HALT_FAIL, _SUCCESS, _DONE */
	uint32_t	 halt_count;		/* that many jobs ... */
	double		 halt_percent;		/* ... or, if not 0, this % */

	/* Batch progress on stderr (progress.c). */
	int		 progress;
	int		 eta;
	int		 bar;

	/* Batch mode's records (batch.c, joblog.c). */
	char		*joblog_path;		/* NULL: none */
	int		 resume;		/* skip the jobs logged */
	int		 resume_failed;		/* ... run again the failed */
	int		 tag;			/* results start with the input */
	char		*failed_line;		/* a failed job's result line */
	int		 null_records;		/* -0: records end in NUL */

	/* Service mode (forkpool.conf(5)); listen_path NULL: batch mode. */
	char		*listen_path;
	mode_t		 listen_mode;		/* default 0600 */
	gid_t		 listen_group;		/* (gid_t)-1: the default */
	uid_t		*allow_uids;		/* besides our own uid and root */
	size_t		 nallow_uids;
	gid_t		*allow_gids;
	size_t		 nallow_gids;
	char		*pidfile;		/* NULL: none */
	unsigned	 max_clients;		/* connections at once */
	uint64_t	 client_budget;		/* bytes each may make us hold */
	double		 rate_limit;		/* jobs per second, 0: none */
	int		 workers_min;		/* dynamic: 0 when fixed */
	int		 workers_max;
	uint64_t	 idle_timeout_ns;
	uint64_t	 max_jobs;		/* recycle after; 0: never */
	uint64_t	 max_jobs_jitter;
	long		 max_rss_kib;		/* recycle above; 0: never */
	uint64_t	 heartbeat_ns;		/* silent this long: killed */
	unsigned	 restart_max;		/* restart intensity: R ... */
	uint64_t	 restart_period_ns;	/* ... in T */

	/* The Redis source (doc/SCALING.md); source NULL: none. */
	char		*source;		/* redis://HOST:PORT/POOL */
	char		*consumer;		/* NULL: HOST:POOL */
	uint64_t	 claim_idle_ns;		/* a dead consumer's entries */
	char		*password_file;		/* NULL: the URL's, or none */
};

/* What a line of the table is. */
enum opt_kind {
	OPT_INT,	/* an integer from min to max, stored times unit */
	OPT_SECONDS,	/* decimal seconds, stored in nanoseconds */
	OPT_STRING,	/* a string of its own */
	OPT_CUSTOM,	/* read by its parse function */
	OPT_CONFIG,	/* -f FILE: the command line only, main.c's */
	OPT_CHECK,	/* -n */
	OPT_HELP,	/* -h */
	OPT_VERSION,	/* -V */
};

/* On the command line, takes no argument: it stands for noarg. */
#define OPT_NOARG	0x01

struct optdef {
	const char	*key;	/* in forkpool.conf(5); NULL: not there */
	const char	*name;	/* the long option; NULL: the file only */
	int		 letter;	/* the short option, or 0 */
	enum opt_kind	 kind;
	int		 flags;
	size_t		 off;	/* its field in struct options ... */
	size_t		 size;	/* ... and the field's size */
	long long	 min;
	long long	 max;
	long long	 unit;
	const char	*none;	/* the word that is 0 ("none"), or NULL */
	int		(*parse)(struct options *, const struct optdef *,
			    const char *, const char *, char *, size_t);
	const char	*noarg;	/* OPT_NOARG: the value it stands for */
	const char	*arg;	/* for --help: the argument's name */
	const char	*help;
};

extern const struct optdef	options_table[];
extern const size_t		options_count;

/* Which settings were given, one bit per line of the table. */
#define OPTIONS_MAX	64
#define OPTIONS_BIT(i)	((uint64_t)1 << (i))

/* generation.c */
void		 options_defaults(struct options *);
struct options	*options_new(void);
struct options	*options_dup(const struct options *);
void		 options_set_handler(struct options *, int, char **);
void		 options_purge(struct options *);
void		 options_free(struct options *);

/* options.c */
const struct optdef *options_key(const char *);
int		 options_set(struct options *, const struct optdef *,
		    const char *, const char *, char *, size_t);
void		 options_usage(FILE *);

#endif
