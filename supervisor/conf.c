/*
 * forkpool.conf(5): its keys and their values.  confread.c reads the file;
 * this file checks every value exactly and stores it in a copy of the
 * options, which replaces the caller's only once the whole file is good:
 * a bad file read again on SIGHUP leaves the running configuration alone.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confparse.h"
#include "proto/redisurl.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

#define WORKERS_MAX	1024		/* as -w */
#define QUEUE_MAX	(1 << 24)	/* as -q */
#define PARTITIONS_MAX	(1 << 20)	/* as --partitions */
#define ATTEMPTS_MAX	1000		/* as -a */
#define RATE_MAX	1e9
#define SECONDS_RANGE	"0.001 to 1000000"
/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(2) and setresuid(2). */
#define ID_MAX		((long long)UINT32_MAX - 1)


struct key {
	const char	*name;
	size_t		 set;	/* its flag in struct config_set */
	int		(*parse)(struct parse *, const char *,
			    struct options *);
};

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

static int
get_int(struct parse *p, const char *s, long long min, long long max,
    long long *out)
{
	const char	*errstr;

	*out = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		return config_fail(p, "%s %s: %s (expected %lld to %lld)", p->key, s,
		    errstr, min, max);
	return 0;
}

/*
 * A decimal number, for the file and the command line alike: strtod alone
 * would also take hex, blanks, "inf" and "nan".
 */
int
conf_decimal(const char *s, double *out)
{
	char	*end;

	if (s[strspn(s, "0123456789.eE+-")] != '\0')
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0)
		return -1;
	return 0;
}

/* Octal digits only, up to 0777: strtol would also take signs, blanks
 * and "0x". */
int
conf_octal_mode(const char *s, unsigned *mode)
{
	*mode = 0;
	for (; *s >= '0' && *s <= '7'; s++) {
		*mode = *mode * 8 + (*s - '0');
		if (*mode > 0777)
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

static int
get_number(struct parse *p, const char *s, double min, double max,
    const char *range, double *out)
{
	if (conf_decimal(s, out) == -1)
		return config_fail(p, "%s %s: not a number", p->key, s);
	if (*out < min || *out > max)
		return config_fail(p, "%s %s: out of range (expected %s)", p->key, s,
		    range);
	return 0;
}

static int
get_seconds(struct parse *p, const char *s, uint64_t *ns)
{
	double	sec;

	if (get_number(p, s, 0.001, 1e6, SECONDS_RANGE " seconds", &sec) == -1)
		return -1;
	*ns = (uint64_t)(sec * 1e9 + 0.5);
	return 0;
}

/* Splits s in place at blanks; returns the number of words, max + 1 if more. */
static int
split(char *s, char **words, int max)
{
	char	*w;
	int	 n = 0;

	while ((w = strsep(&s, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (n == max)
			return max + 1;
		words[n++] = w;
	}
	return n;
}

/* A user name, or a uid that need not have a name (as chown(8) takes). */
static int
get_uid(struct parse *p, const char *s, uid_t *uid)
{
	struct passwd	*pw;
	const char	*errstr;
	long long	 n;

	if ((pw = getpwnam(s)) != NULL) {
		*uid = pw->pw_uid;
		return 0;
	}
	n = strtonum(s, 0, ID_MAX, &errstr);
	if (errstr != NULL)
		return config_fail(p, "%s: no user %s", p->key, s);
	*uid = (uid_t)n;
	return 0;
}

static int
get_gid(struct parse *p, const char *s, gid_t *gid)
{
	struct group	*gr;
	const char	*errstr;
	long long	 n;

	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	n = strtonum(s, 0, ID_MAX, &errstr);
	if (errstr != NULL)
		return config_fail(p, "%s: no group %s", p->key, s);
	*gid = (gid_t)n;
	return 0;
}

static int
parse_workers(struct parse *p, const char *v, struct options *o)
{
	char		*copy, *w[2];
	long long	 min, max;
	int		 n, rc = -1;

	copy = xstrdup(v);
	n = split(copy, w, 2);
	if (n != 1 && n != 2) {
		config_fail(p, "workers %s: expected N or MIN MAX", v);
		goto out;
	}
	if (get_int(p, w[0], 1, WORKERS_MAX, &min) == -1)
		goto out;
	max = min;
	if (n == 2 && get_int(p, w[1], 1, WORKERS_MAX, &max) == -1)
		goto out;
	if (max < min) {
		config_fail(p, "workers %s: MAX is below MIN", v);
		goto out;
	}
	o->workers = min;
	/* MIN equal to MAX is a fixed pool. */
	o->workers_min = max > min ? min : 0;
	o->workers_max = max > min ? max : 0;
	rc = 0;
out:
	free(copy);
	return rc;
}

static int
parse_listen(struct parse *p, const char *v, struct options *o)
{
	struct sockaddr_un	sun;

	if (strlen(v) >= sizeof sun.sun_path)
		return config_fail(p, "listen %s: longer than %zu bytes", v,
		    sizeof sun.sun_path - 1);
	o->listen_path = xstrdup(v);
	return 0;
}

static int
parse_listen_mode(struct parse *p, const char *v, struct options *o)
{
	unsigned	mode;

	if (conf_octal_mode(v, &mode) == -1)
		return config_fail(p, "listen_mode %s: not an octal mode from 0 to "
		    "0777", v);
	o->listen_mode = mode;
	return 0;
}

static int
parse_listen_group(struct parse *p, const char *v, struct options *o)
{
	return get_gid(p, v, &o->listen_group);
}

static int
parse_allow_users(struct parse *p, const char *v, struct options *o)
{
	char	*copy, *s, *w;
	uid_t	*uids = NULL;
	size_t	 n = 0;

	copy = s = xstrdup(v);
	while ((w = strsep(&s, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		uids = xreallocarray(uids, n + 1, sizeof *uids);
		if (get_uid(p, w, &uids[n++]) == -1) {
			free(uids);
			free(copy);
			return -1;
		}
	}
	free(copy);
	o->allow_uids = uids;
	o->nallow_uids = n;
	return 0;
}

static int
parse_allow_groups(struct parse *p, const char *v, struct options *o)
{
	char	*copy, *s, *w;
	gid_t	*gids = NULL;
	size_t	 n = 0;

	copy = s = xstrdup(v);
	while ((w = strsep(&s, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		gids = xreallocarray(gids, n + 1, sizeof *gids);
		if (get_gid(p, w, &gids[n++]) == -1) {
			free(gids);
			free(copy);
			return -1;
		}
	}
	free(copy);
	o->allow_gids = gids;
	o->nallow_gids = n;
	return 0;
}

static int
parse_pidfile(struct parse *p, const char *v, struct options *o)
{
	(void)p;
	o->pidfile = xstrdup(v);
	return 0;
}

static int
parse_max_clients(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, MAX_CLIENTS_MAX, &n) == -1)
		return -1;
	o->max_clients = n;
	return 0;
}

static int
parse_client_budget(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, CLIENT_BUDGET_MIN, CLIENT_BUDGET_MAX, &n) == -1)
		return -1;
	o->client_budget = n;
	return 0;
}

static int
parse_queue(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, QUEUE_MAX, &n) == -1)
		return -1;
	o->queue_max = n;
	return 0;
}

static int
parse_window(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (strcmp(v, "adaptive") == 0) {
		o->window = 0;
		return 0;
	}
	if (get_int(p, v, 1, WINDOW_MAX, &n) == -1)
		return -1;
	o->window = n;
	return 0;
}

static int
parse_attempts(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, ATTEMPTS_MAX, &n) == -1)
		return -1;
	o->attempts = n;
	return 0;
}

static int
parse_timeout(struct parse *p, const char *v, struct options *o)
{
	if (strcmp(v, "none") == 0) {
		o->timeout_ns = 0;
		return 0;
	}
	return get_seconds(p, v, &o->timeout_ns);
}

static int
parse_kill_grace(struct parse *p, const char *v, struct options *o)
{
	return get_seconds(p, v, &o->kill_grace_ns);
}

static int
parse_start_timeout(struct parse *p, const char *v, struct options *o)
{
	return get_seconds(p, v, &o->start_timeout_ns);
}

/* "none" waits for every job, however long they take. */
static int
parse_shutdown_timeout(struct parse *p, const char *v, struct options *o)
{
	if (strcmp(v, "none") == 0) {
		o->shutdown_timeout_ns = 0;
		return 0;
	}
	return get_seconds(p, v, &o->shutdown_timeout_ns);
}

static int
parse_frame_max(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 64, UINT32_MAX, &n) == -1)
		return -1;
	o->frame_max = n;
	return 0;
}

static int
parse_partitions(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, PARTITIONS_MAX, &n) == -1)
		return -1;
	o->partitions = n;
	return 0;
}

static int
parse_restart_intensity(struct parse *p, const char *v, struct options *o)
{
	char		*copy, *w[2];
	long long	 r;
	uint64_t	 t;
	int		 rc = -1;

	copy = xstrdup(v);
	if (split(copy, w, 2) != 2)
		config_fail(p, "restart_intensity %s: expected RESTARTS SECONDS", v);
	else if (get_int(p, w[0], 1, RESTARTS_MAX, &r) == 0 &&
	    get_seconds(p, w[1], &t) == 0) {
		o->restart_max = r;
		o->restart_period_ns = t;
		rc = 0;
	}
	free(copy);
	return rc;
}

static int
parse_idle_timeout(struct parse *p, const char *v, struct options *o)
{
	return get_seconds(p, v, &o->idle_timeout_ns);
}

static int
parse_rate_limit(struct parse *p, const char *v, struct options *o)
{
	double	rate;

	if (strcmp(v, "none") == 0) {
		o->rate_limit = 0;
		return 0;
	}
	if (get_number(p, v, 0, RATE_MAX, "none, or 0 to 1000000000 jobs "
	    "per second", &rate) == -1)
		return -1;
	o->rate_limit = rate;
	return 0;
}

static int
parse_max_jobs(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (strcmp(v, "none") == 0) {
		o->max_jobs = 0;
		return 0;
	}
	if (get_int(p, v, 1, UINT32_MAX, &n) == -1)
		return -1;
	o->max_jobs = n;
	return 0;
}

static int
parse_max_jobs_jitter(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 0, UINT32_MAX - 1, &n) == -1)
		return -1;
	o->max_jobs_jitter = n;
	return 0;
}

/* In MiB, as --max-rss. */
static int
parse_max_rss(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (strcmp(v, "none") == 0) {
		o->max_rss_kib = 0;
		return 0;
	}
	if (get_int(p, v, 1, 1 << 30, &n) == -1)
		return -1;
	o->max_rss_kib = n * 1024;
	return 0;
}

static int
parse_heartbeat_timeout(struct parse *p, const char *v, struct options *o)
{
	if (strcmp(v, "none") == 0) {
		o->heartbeat_ns = 0;
		return 0;
	}
	return get_seconds(p, v, &o->heartbeat_ns);
}

static int
parse_source(struct parse *p, const char *v, struct options *o)
{
	struct redis_url	url;
	char			err[512];

	if (redis_url_parse(v, &url, err, sizeof err) == -1)
		return config_fail(p, "%s", err);
	o->source = xstrdup(v);
	return 0;
}

static int
parse_consumer(struct parse *p, const char *v, struct options *o)
{
	if (!redis_consumer_valid(v))
		return config_fail(p, "consumer %s: 1 to %d printable bytes without "
		    "blanks", v, REDIS_CONSUMER_MAX);
	o->consumer = xstrdup(v);
	return 0;
}

static int
parse_claim_idle(struct parse *p, const char *v, struct options *o)
{
	return get_seconds(p, v, &o->claim_idle_ns);
}

/* Names, resolved when the whole file is in (confine_check()). */
static int
parse_user(struct parse *p, const char *v, struct options *o)
{
	(void)p;
	o->user = xstrdup(v);
	return 0;
}

static int
parse_group(struct parse *p, const char *v, struct options *o)
{
	(void)p;
	o->group = xstrdup(v);
	return 0;
}

static int
parse_chroot(struct parse *p, const char *v, struct options *o)
{
	struct stat	st;

	if (*v != '/')
		return config_fail(p, "chroot %s: not an absolute path", v);
	if (stat(v, &st) == -1 || !S_ISDIR(st.st_mode))
		return config_fail(p, "chroot %s: not a directory", v);
	o->chroot_dir = xstrdup(v);
	return 0;
}

static int
parse_rlimit_as(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, 1LL << 40, &n) == -1)
		return -1;
	o->rlimit_as = (unsigned long long)n << 20;
	return 0;
}

static int
parse_rlimit_cpu(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 1, 1LL << 40, &n) == -1)
		return -1;
	o->rlimit_cpu = n;
	return 0;
}

static int
parse_rlimit_nofile(struct parse *p, const char *v, struct options *o)
{
	long long	n;

	if (get_int(p, v, 8, 1 << 30, &n) == -1)
		return -1;
	o->rlimit_nofile = n;
	return 0;
}

static int
parse_isolation(struct parse *p, const char *v, struct options *o)
{
	if (strcmp(v, "process") == 0)
		o->isolation = ISOLATION_PROCESS;
	else if (strcmp(v, "thread") == 0)
		o->isolation = ISOLATION_THREAD;
	else
		return config_fail(p, "isolation %s: expected process or thread", v);
	return 0;
}

static int
parse_log_level(struct parse *p, const char *v, struct options *o)
{
	static const char	*levels[] = { "warning", "info", "debug" };
	int			 i;

	for (i = 0; i < 3; i++) {
		if (strcmp(v, levels[i]) == 0) {
			o->verbose = i;
			return 0;
		}
	}
	return config_fail(p, "log_level %s: expected warning, info or debug", v);
}

/*
 * The first word is the handler, the others its arguments, as on the
 * command line; main.c checks the handler's name.  The handler and its
 * argv point into one copy of the value, which libinih has stripped of
 * leading blanks, so the handler string is that copy's start.  For
 * exec:CMD and lines:CMD the whole value is the handler: CMD is split
 * into words later, with its quotes, as it is from the command line.
 */
static int
parse_handler(struct parse *p, const char *v, struct options *o)
{
	char	*s, *w, **argv = NULL;
	int	 argc = 0;

	(void)p;
	s = xstrdup(v);
	if (strncmp(s, "exec:", 5) == 0 || strncmp(s, "lines:", 6) == 0) {
		o->handler = s;
		s = NULL;
	} else
		o->handler = strsep(&s, " \t");
	while ((w = strsep(&s, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		argv = xreallocarray(argv, argc + 2, sizeof *argv);
		argv[argc++] = w;
	}
	if (argv == NULL)
		argv = xcalloc(1, sizeof *argv);
	argv[argc] = NULL;
	o->handler_argc = argc;
	o->handler_argv = argv;
	return 0;
}

/* yes: a plugin is loaded before the workers are forked; no: in each. */
static int
parse_preload(struct parse *p, const char *v, struct options *o)
{
	if (strcmp(v, "yes") == 0)
		o->preload = 1;
	else if (strcmp(v, "no") == 0)
		o->preload = 0;
	else
		return config_fail(p, "preload %s: expected yes or no", v);
	return 0;
}

#define KEY(name, fn)	{ #name, offsetof(struct config_set, name), fn }

static const struct key keys[] = {
	KEY(workers,		parse_workers),
	KEY(listen,		parse_listen),
	KEY(listen_mode,	parse_listen_mode),
	KEY(listen_group,	parse_listen_group),
	KEY(allow_users,	parse_allow_users),
	KEY(allow_groups,	parse_allow_groups),
	KEY(pidfile,		parse_pidfile),
	KEY(max_clients,	parse_max_clients),
	KEY(client_budget,	parse_client_budget),
	KEY(queue,		parse_queue),
	KEY(window,		parse_window),
	KEY(attempts,		parse_attempts),
	KEY(timeout,		parse_timeout),
	KEY(kill_grace,		parse_kill_grace),
	KEY(start_timeout,	parse_start_timeout),
	KEY(shutdown_timeout,	parse_shutdown_timeout),
	KEY(frame_max,		parse_frame_max),
	KEY(partitions,		parse_partitions),
	KEY(restart_intensity,	parse_restart_intensity),
	KEY(idle_timeout,	parse_idle_timeout),
	KEY(rate_limit,		parse_rate_limit),
	KEY(max_jobs,		parse_max_jobs),
	KEY(max_jobs_jitter,	parse_max_jobs_jitter),
	KEY(max_rss,		parse_max_rss),
	KEY(heartbeat_timeout,	parse_heartbeat_timeout),
	KEY(source,		parse_source),
	KEY(consumer,		parse_consumer),
	KEY(claim_idle,		parse_claim_idle),
	KEY(user,		parse_user),
	KEY(group,		parse_group),
	KEY(chroot,		parse_chroot),
	KEY(rlimit_as,		parse_rlimit_as),
	KEY(rlimit_cpu,		parse_rlimit_cpu),
	KEY(rlimit_nofile,	parse_rlimit_nofile),
	KEY(isolation,		parse_isolation),
	{ "log_level", offsetof(struct config_set, verbose), parse_log_level },
	KEY(handler,		parse_handler),
	KEY(preload,		parse_preload),
};
#define NKEYS	(sizeof keys / sizeof keys[0])

/* Frees what the parsers allocated in new, which old does not share. */
void
config_free(struct options *new, const struct options *old)
{
	if (new->listen_path != old->listen_path)
		free((char *)new->listen_path);
	if (new->pidfile != old->pidfile)
		free((char *)new->pidfile);
	if (new->source != old->source)
		free((char *)new->source);
	if (new->consumer != old->consumer)
		free((char *)new->consumer);
	if (new->user != old->user)
		free((char *)new->user);
	if (new->group != old->group)
		free((char *)new->group);
	if (new->chroot_dir != old->chroot_dir)
		free((char *)new->chroot_dir);
	if (new->allow_uids != old->allow_uids)
		free(new->allow_uids);
	if (new->allow_gids != old->allow_gids)
		free(new->allow_gids);
	if (new->handler != old->handler) {
		free((char *)new->handler);
		free(new->handler_argv);
	}
}

static int
cli_has(const struct config_set *cli, const struct key *k)
{
	return *(const int *)(const void *)((const char *)cli + k->set);
}

/*
 * One key and its value, at line p->lineno: checked, and taken unless the
 * command line has set it.  0, or -1 with the first error in p.
 */
int
config_key(struct parse *p, const char *name, const char *value)
{
	struct options	 scratch;
	size_t		 i;
	int		 rc;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(name, keys[i].name) == 0)
			break;
	if (i == NKEYS)
		return config_fail(p, "unknown key %s", name);
	if (p->first[i] != 0)
		return config_fail(p, "%s set twice, first at line %d", name,
		    p->first[i]);
	p->first[i] = p->lineno;
	p->key = name;
	if (*value == '\0')
		return config_fail(p, "%s has no value", name);
	if (!cli_has(p->cli, &keys[i]))
		return keys[i].parse(p, value, p->next);

	/* The command line wins, but a bad value is still an error (-n). */
	scratch = *p->next;
	rc = keys[i].parse(p, value, &scratch);
	config_free(&scratch, p->next);
	return rc;
}

size_t
config_nkeys(void)
{
	return NKEYS;
}
