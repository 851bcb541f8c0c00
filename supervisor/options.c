/*
 * Every setting once: its key in forkpool.conf(5), its command-line
 * option, its limits, how its value is read and its line in --help.  The
 * command line (main.c) and the file (conf.c) both set values through
 * options_set(), so a value is taken, refused and rounded the same way
 * from either.  generation.c sets the defaults and frees what is read.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "proto/field.h"
#include "proto/redisurl.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

#define SECONDS_MIN	0.001
#define SECONDS_MAX	1e6
#define RATE_MAX	1e9
/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(2) and setresuid(2). */
#define ID_MAX		((long long)UINT32_MAX - 1)

static int
fail(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * A decimal number: strtod alone would also take hex, blanks, "inf" and
 * "nan".
 */
static int
decimal(const char *s, double *out)
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
static int
octal_mode(const char *s, unsigned *mode)
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
get_int(const char *what, const char *s, long long min, long long max,
    long long *out, char *err, size_t len)
{
	const char	*errstr;

	*out = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		return fail(err, len, "%s %s: %s (expected %lld to %lld)",
		    what, s, errstr, min, max);
	return 0;
}

/*
 * Seconds are a decimal number from 0.001 to 1000000, rounded to the
 * nearest nanosecond, from the command line and the file alike.
 */
static int
get_seconds(const char *what, const char *s, uint64_t *ns, char *err,
    size_t len)
{
	double	sec;

	if (decimal(s, &sec) == -1)
		return fail(err, len, "%s %s: not a number", what, s);
	if (sec < SECONDS_MIN || sec > SECONDS_MAX)
		return fail(err, len, "%s %s: out of range (expected 0.001 "
		    "to 1000000 seconds)", what, s);
	*ns = (uint64_t)(sec * 1e9 + 0.5);
	return 0;
}

static void
store(struct options *o, const struct optdef *d, uint64_t v)
{
	char		*field = (char *)o + d->off;
	uint32_t	 v32 = (uint32_t)v;

	if (d->size == sizeof v32)
		memcpy(field, &v32, sizeof v32);
	else
		memcpy(field, &v, sizeof v);
}

/* A user name, or a uid that need not have a name (as chown(8) takes). */
static int
get_uid(const char *what, const char *s, uid_t *uid, char *err, size_t len)
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
		return fail(err, len, "%s: no user %s", what, s);
	*uid = (uid_t)n;
	return 0;
}

static int
get_gid(const char *what, const char *s, gid_t *gid, char *err, size_t len)
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
		return fail(err, len, "%s: no group %s", what, s);
	*gid = (gid_t)n;
	return 0;
}

/*
 * Splits a copy of s into at most two words at sep or at blanks; returns
 * the number of words, 3 if more.  "5/10" and "5 10" are the same value.
 */
static int
two_words(const char *s, int sep, char *copy, size_t len, char **w)
{
	char	*p, *word;
	int	 n = 0;

	if (strlcpy(copy, s, len) >= len)
		return 3;
	for (p = copy; *p != '\0'; p++)
		if (*p == sep)
			*p = ' ';
	if (strchr(s, sep) != NULL && (s[0] == sep ||
	    s[strlen(s) - 1] == sep || strchr(s, sep) != strrchr(s, sep)))
		return 3;
	p = copy;
	while ((word = strsep(&p, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (n == 2)
			return 3;
		w[n++] = word;
	}
	return n;
}

/* N, or MIN-MAX (MIN MAX) for a pool that sizes itself. */
static int
set_workers(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	char		 copy[64], *w[2];
	long long	 min, max;
	int		 n;

	n = two_words(v, '-', copy, sizeof copy, w);
	if (n != 1 && n != 2)
		return fail(err, len, "%s %s: expected N or MIN-MAX", what, v);
	if (get_int(what, w[0], d->min, d->max, &min, err, len) == -1)
		return -1;
	max = min;
	if (n == 2 && get_int(what, w[1], d->min, d->max, &max, err,
	    len) == -1)
		return -1;
	if (max < min)
		return fail(err, len, "%s %s: MAX is below MIN", what, v);
	o->workers = min;
	/* MIN equal to MAX is a fixed pool. */
	o->workers_min = max > min ? min : 0;
	o->workers_max = max > min ? max : 0;
	return 0;
}

/* R/T (R T): more than R failed starts in T seconds. */
static int
set_restart_intensity(struct options *o, const struct optdef *d,
    const char *what, const char *v, char *err, size_t len)
{
	char		 copy[64], *w[2];
	long long	 r;
	uint64_t	 t;

	if (two_words(v, '/', copy, sizeof copy, w) != 2)
		return fail(err, len, "%s %s: expected RESTARTS/SECONDS, as "
		    "in 5/10", what, v);
	if (get_int(what, w[0], d->min, d->max, &r, err, len) == -1 ||
	    get_seconds(what, w[1], &t, err, len) == -1)
		return -1;
	o->restart_max = r;
	o->restart_period_ns = t;
	return 0;
}

static int
set_listen(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	struct sockaddr_un	sun;

	(void)d;
	if (strlen(v) >= sizeof sun.sun_path)
		return fail(err, len, "%s %s: longer than %zu bytes", what, v,
		    sizeof sun.sun_path - 1);
	free(o->listen_path);
	o->listen_path = xstrdup(v);
	return 0;
}

/* A socket nobody may connect to is a mistake, never a default. */
static int
set_listen_mode(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	unsigned	mode;

	(void)d;
	if (octal_mode(v, &mode) == -1 || mode == 0)
		return fail(err, len, "%s %s: not an octal mode from 1 to "
		    "0777", what, v);
	o->listen_mode = mode;
	return 0;
}

static int
set_listen_group(struct options *o, const struct optdef *d,
    const char *what, const char *v, char *err, size_t len)
{
	(void)d;
	return get_gid(what, v, &o->listen_group, err, len);
}

static int
add_user(struct options *o, const char *what, const char *w, char *err,
    size_t len)
{
	uid_t	uid = 0;

	if (get_uid(what, w, &uid, err, len) == -1)
		return -1;
	o->allow_uids = xreallocarray(o->allow_uids, o->nallow_uids + 1,
	    sizeof *o->allow_uids);
	o->allow_uids[o->nallow_uids++] = uid;
	return 0;
}

static int
add_group(struct options *o, const char *what, const char *w, char *err,
    size_t len)
{
	gid_t	gid = 0;

	if (get_gid(what, w, &gid, err, len) == -1)
		return -1;
	o->allow_gids = xreallocarray(o->allow_gids, o->nallow_gids + 1,
	    sizeof *o->allow_gids);
	o->allow_gids[o->nallow_gids++] = gid;
	return 0;
}

/* Each word of v given to add: users, or groups, are added to a list. */
static int
each_word(struct options *o, const char *what, const char *v,
    int (*add)(struct options *, const char *, const char *, char *, size_t),
    char *err, size_t len)
{
	char	*copy, *s, *w;
	int	 rc = 0;

	copy = s = xstrdup(v);
	while (rc == 0 && (w = strsep(&s, " \t")) != NULL)
		if (*w != '\0')
			rc = add(o, what, w, err, len);
	free(copy);
	return rc;
}

static int
set_allow_users(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	(void)d;
	return each_word(o, what, v, add_user, err, len);
}

static int
set_allow_groups(struct options *o, const struct optdef *d,
    const char *what, const char *v, char *err, size_t len)
{
	(void)d;
	return each_word(o, what, v, add_group, err, len);
}

/* 0 and none are no limit: a rate of nothing at all is never meant. */
static int
set_rate_limit(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	double	rate;

	(void)d;
	if (strcmp(v, "none") == 0) {
		o->rate_limit = 0;
		return 0;
	}
	if (decimal(v, &rate) == -1)
		return fail(err, len, "%s %s: not a number", what, v);
	if (rate < 0 || rate > RATE_MAX)
		return fail(err, len, "%s %s: out of range (expected none, or "
		    "0 to 1000000000 jobs per second)", what, v);
	o->rate_limit = rate;
	return 0;
}

static int
set_source(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	struct redis_url	url;

	(void)d;
	(void)what;
	if (redis_url_parse(v, &url, err, len) == -1)
		return -1;
	free(o->source);
	o->source = xstrdup(v);
	return 0;
}

static int
set_consumer(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	(void)d;
	if (!redis_consumer_valid(v))
		return fail(err, len, "%s %s: 1 to %d printable bytes without "
		    "blanks", what, v, REDIS_CONSUMER_MAX);
	free(o->consumer);
	o->consumer = xstrdup(v);
	return 0;
}

/* Checked as it is set, so that forkpool -n finds a missing file. */
static int
set_password_file(struct options *o, const struct optdef *d,
    const char *what, const char *v, char *err, size_t len)
{
	struct redis_url	url;

	(void)d;
	memset(&url, 0, sizeof url);
	if (redis_url_password_file(&url, v, err, len) == -1)
		return -1;
	explicit_bzero(url.password, sizeof url.password);
	(void)what;
	free(o->password_file);
	o->password_file = xstrdup(v);
	return 0;
}

static int
set_chroot(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	struct stat	st;

	(void)d;
	if (*v != '/')
		return fail(err, len, "%s %s: not an absolute path", what, v);
	if (stat(v, &st) == -1 || !S_ISDIR(st.st_mode))
		return fail(err, len, "%s %s: not a directory", what, v);
	free(o->chroot_dir);
	o->chroot_dir = xstrdup(v);
	return 0;
}

/* One of two words, a or b, stored as av or bv. */
static int
set_choice(int *out, const char *what, const char *v, const char *a, int av,
    const char *b, int bv, char *err, size_t len)
{
	if (strcmp(v, a) == 0)
		*out = av;
	else if (strcmp(v, b) == 0)
		*out = bv;
	else
		return fail(err, len, "%s %s: expected %s or %s", what, v, a, b);
	return 0;
}

/* --colsep: compiled once, here, so that a bad one stops the start. */
static int
set_colsep(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	struct field_sep	*sep;
	char			 msg[128];

	(void)d;
	if ((sep = field_sep_new(v, msg, sizeof msg)) == NULL)
		return fail(err, len, "%s '%s': %s", what, v, msg);
	field_sep_free(o->colsep);
	o->colsep = sep;
	return 0;
}

static int
set_isolation(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	(void)d;
	return set_choice(&o->isolation, what, v, "process",
	    ISOLATION_PROCESS, "thread", ISOLATION_THREAD, err, len);
}

static int
set_order(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	int	order = 0;

	(void)d;
	if (set_choice(&order, what, v, "input", ORDER_INPUT, "completion",
	    ORDER_COMPLETION, err, len) == -1)
		return -1;
	o->order = order;
	return 0;
}

/* yes: a plugin is loaded before the workers are forked; no: in each. */
static int
set_preload(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	(void)d;
	return set_choice(&o->preload, what, v, "yes", 1, "no", 0, err, len);
}

/* log_level in the file; each -v on the command line is one step up. */
static int
set_verbose(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	static const char	*levels[] = { "warning", "info", "debug" };
	int			 i;

	(void)d;
	if (v == NULL) {
		o->verbose++;
		return 0;
	}
	for (i = 0; i < 3; i++) {
		if (strcmp(v, levels[i]) == 0) {
			o->verbose = i;
			return 0;
		}
	}
	return fail(err, len, "%s %s: expected warning, info or debug", what,
	    v);
}

/*
 * --halt as GNU parallel has it: WHEN,WHY=N or WHEN,WHY=N%, WHEN now or
 * soon and WHY fail, success or done; never; and parallel's older numbers
 * (0 never, 1 soon,fail=1, 2 now,fail=1, -1 soon,success=1, -2
 * now,success=1).
 */
static int
set_halt(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	static const char	*whens[] = { "never", "soon", "now" };
	static const char	*whys[] = { "fail", "success", "done" };
	static const char	*legacy[] = { "-2", "-1", "0", "1", "2" };
	char			 copy[64], *why, *n;
	double			 pct;
	long long		 count;
	size_t			 i;

	(void)d;
	for (i = 0; i < 5; i++) {
		if (strcmp(v, legacy[i]) != 0)
			continue;
		o->halt_when = i == 2 ? HALT_NEVER : i == 0 || i == 4 ?
		    HALT_NOW : HALT_SOON;
		o->halt_why = i < 2 ? HALT_SUCCESS : HALT_FAIL;
		o->halt_count = 1;
		o->halt_percent = 0;
		return 0;
	}
	if (strcmp(v, "never") == 0) {
		o->halt_when = HALT_NEVER;
		return 0;
	}
	if (strlcpy(copy, v, sizeof copy) >= sizeof copy ||
	    (why = strchr(copy, ',')) == NULL ||
	    (n = strchr(why, '=')) == NULL)
		goto bad;
	*why++ = '\0';
	*n++ = '\0';
	for (i = 1; i < 3 && strcmp(copy, whens[i]) != 0; i++)
		;
	if (i == 3)
		goto bad;
	o->halt_when = i;
	for (i = 0; i < 3 && strcmp(why, whys[i]) != 0; i++)
		;
	if (i == 3)
		goto bad;
	o->halt_why = i;
	if (*n != '\0' && n[strlen(n) - 1] == '%') {
		n[strlen(n) - 1] = '\0';
		if (decimal(n, &pct) == -1 || !(pct > 0 && pct <= 100))
			return fail(err, len, "%s %s: expected a percentage "
			    "above 0 and at most 100", what, v);
		o->halt_percent = pct;
		o->halt_count = 0;
		return 0;
	}
	if (get_int(what, n, 1, UINT32_MAX, &count, err, len) == -1)
		return -1;
	o->halt_count = count;
	o->halt_percent = 0;
	return 0;
bad:
	return fail(err, len, "%s %s: expected now,fail=N, soon,fail=N, "
	    "fail=N%%, success=N[%%], done=N[%%] or never", what, v);
}

/*
 * The file's handler: the first word is the handler, the others its
 * arguments, as on the command line.  For exec:CMD and lines:CMD the whole
 * value is the handler: CMD is split into words later, with its quotes,
 * as it is from the command line.
 */
static int
set_handler(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	char	*copy, *s, *w, **words;
	int	 n = 0;

	(void)d;
	copy = s = xstrdup(v);
	words = xcalloc(strlen(v) + 1, sizeof *words);
	if (strncmp(s, "exec:", 5) == 0 || strncmp(s, "lines:", 6) == 0)
		words[n++] = s;
	else
		while ((w = strsep(&s, " \t")) != NULL)
			if (*w != '\0')
				words[n++] = w;
	if (n > 0)
		options_set_handler(o, n, words);
	free(words);
	free(copy);
	return n > 0 ? 0 : fail(err, len, "%s: no handler", what);
}

#define FIELD(f)	.off = offsetof(struct options, f), \
			.size = sizeof(((struct options *)0)->f)

const struct optdef options_table[] = {
	{ .key = "workers", .name = "workers", .letter = 'w',
	  .kind = OPT_CUSTOM, .parse = set_workers, .min = 1,
	  .max = WORKERS_CAP, .arg = "N",
	  .help = "worker processes (default: online CPUs); MIN-MAX:\n"
	  "as many as the jobs need, within MIN and MAX" },
	{ .key = "idle_timeout", .name = "idle-timeout", .kind = OPT_SECONDS,
	  FIELD(idle_timeout_ns), .arg = "SEC",
	  .help = "with MIN-MAX, let a worker go once it has not\n"
	  "been needed for SEC seconds (default 10)" },
	{ .key = "max_jobs", .name = "max-jobs", .kind = OPT_INT,
	  FIELD(max_jobs), .min = 1, .max = UINT32_MAX, .none = "none",
	  .arg = "N", .help = "replace a worker after N jobs (default: never)" },
	{ .key = "max_jobs_jitter", .name = "max-jobs-jitter", .kind = OPT_INT,
	  FIELD(max_jobs_jitter), .min = 0, .max = UINT32_MAX - 1, .arg = "J",
	  .help = "... after N plus up to J more, at random" },
	{ .key = "max_rss", .name = "max-rss", .kind = OPT_INT,
	  FIELD(max_rss_kib), .min = 1, .max = 1 << 30, .unit = 1024,
	  .none = "none", .arg = "MB",
	  .help = "replace a worker that holds more than MB MiB" },
	{ .key = "heartbeat_timeout", .name = "heartbeat-timeout",
	  .kind = OPT_SECONDS, FIELD(heartbeat_ns), .none = "none",
	  .arg = "SEC", .help = "kill a worker that holds jobs and has sent no\n"
	  "heartbeat for SEC seconds (default: never)" },
	{ .key = "restart_intensity", .name = "restart-intensity",
	  .kind = OPT_CUSTOM, .parse = set_restart_intensity, .min = 1,
	  .max = RESTARTS_MAX, .arg = "R/T",
	  .help = "more than R workers failing before their first\n"
	  "result in T seconds: the pool is degraded and\n"
	  "backs off (default 5/10)" },
	{ .name = "key-field", .letter = 'k', .kind = OPT_INT,
	  FIELD(key_field), .min = 1, .max = INT32_MAX, .arg = "N",
	  .help = "field N of each line is its key: jobs of one key\n"
	  "run one at a time, in input order" },
	{ .key = "colsep", .name = "colsep", .kind = OPT_CUSTOM,
	  .parse = set_colsep, .arg = "REGEX",
	  .help = "fields are separated by REGEX (POSIX extended), for\n"
	  "-k N and the {N} of cmd: (default: blanks)" },
	{ .name = "order", .letter = 'o', .kind = OPT_CUSTOM,
	  .parse = set_order, .arg = "ORDER",
	  .help = "input (default) or completion" },
	{ .key = "attempts", .name = "attempts", .letter = 'a',
	  .kind = OPT_INT, FIELD(attempts), .min = 1, .max = 1000, .arg = "N",
	  .help = "tries per job before it fails (default 3)" },
	{ .key = "timeout", .name = "timeout", .letter = 't',
	  .kind = OPT_SECONDS, FIELD(timeout_ns), .none = "none",
	  .arg = "SEC",
	  .help = "kill a job's worker after SEC seconds (default: none)" },
	{ .key = "kill_grace", .name = "kill-grace", .kind = OPT_SECONDS,
	  FIELD(kill_grace_ns), .arg = "SEC",
	  .help = "SIGKILL this long after SIGTERM (default 1)" },
	{ .key = "start_timeout", .name = "start-timeout", .kind = OPT_SECONDS,
	  FIELD(start_timeout_ns), .arg = "SEC",
	  .help = "a worker whose handler has not started (init\n"
	  "returned, or the program said HELLO) after SEC\n"
	  "seconds stops the run (default 10)" },
	{ .key = "queue", .name = "queue", .letter = 'q', .kind = OPT_INT,
	  FIELD(queue_max), .min = 1, .max = 1 << 24, .arg = "N",
	  .help = "jobs held in memory at most (default 16384)" },
	{ .key = "window", .name = "window", .kind = OPT_INT, FIELD(window),
	  .min = 1, .max = WINDOW_MAX, .none = "adaptive", .arg = "N",
	  .help = "jobs in flight per worker (default: adaptive)" },
	{ .key = "partitions", .name = "partitions", .kind = OPT_INT,
	  FIELD(partitions), .min = 1, .max = 1 << 20, .arg = "N",
	  .help = "key partitions (default 256)" },
	{ .key = "frame_max", .name = "frame-max", .kind = OPT_INT,
	  FIELD(frame_max), .min = 64, .max = UINT32_MAX, .arg = "BYTES",
	  .help = "largest frame (default 16777216)" },
	{ .name = "failed", .kind = OPT_STRING, FIELD(failed_path),
	  .arg = "FILE",
	  .help = "write the input line of each failed job to FILE" },
	{ .key = "shutdown_timeout", .name = "shutdown-timeout",
	  .kind = OPT_SECONDS, FIELD(shutdown_timeout_ns), .none = "none",
	  .arg = "SEC",
	  .help = "after SIGTERM or SIGINT, wait this long for the\n"
	  "jobs taken, then report them failed (default 30)" },
	{ .name = "config", .letter = 'f', .kind = OPT_CONFIG, .arg = "FILE",
	  .help = "read settings from FILE (forkpool.conf(5)); the\n"
	  "command line wins over it" },
	{ .name = "check", .letter = 'n', .kind = OPT_CHECK,
	  .flags = OPT_NOARG,
	  .help = "check the configuration and the handler, then exit" },
	{ .key = "listen", .name = "listen", .letter = 'l', .kind = OPT_CUSTOM,
	  .parse = set_listen, .arg = "SOCKET",
	  .help = "service mode: take jobs from clients on SOCKET" },
	{ .key = "listen_mode", .name = "socket-mode", .kind = OPT_CUSTOM,
	  .parse = set_listen_mode, .arg = "MODE",
	  .help = "the socket's mode, octal (default 0600)" },
	{ .key = "listen_group", .name = "socket-group", .kind = OPT_CUSTOM,
	  .parse = set_listen_group, .arg = "GROUP",
	  .help = "the socket's group (default: as a new file's)" },
	{ .key = "pidfile", .name = "pidfile", .kind = OPT_STRING,
	  FIELD(pidfile), .arg = "FILE",
	  .help = "the service's pidfile (default SOCKET.pid)" },
	{ .key = "allow_users", .name = "allow-user", .kind = OPT_CUSTOM,
	  .parse = set_allow_users, .arg = "USER",
	  .help = "a user (name or uid) allowed to connect, besides\n"
	  "root and the service's own user; repeatable" },
	{ .key = "allow_groups", .name = "allow-group", .kind = OPT_CUSTOM,
	  .parse = set_allow_groups, .arg = "GROUP",
	  .help = "a group (name or gid) whose members may connect;\n"
	  "repeatable" },
	{ .key = "max_clients", .name = "max-clients", .kind = OPT_INT,
	  FIELD(max_clients), .min = 1, .max = MAX_CLIENTS_MAX, .arg = "N",
	  .help = "clients connected at once (default 256); more are\n"
	  "refused, told why" },
	{ .key = "client_budget", .name = "client-budget", .kind = OPT_INT,
	  FIELD(client_budget), .min = CLIENT_BUDGET_MIN,
	  .max = CLIENT_BUDGET_MAX, .arg = "BYTES",
	  .help = "bytes of jobs and unread results one client may\n"
	  "make the service hold before it is read no\n"
	  "further (default 16777216)" },
	{ .key = "rate_limit", .name = "rate-limit", .kind = OPT_CUSTOM,
	  .parse = set_rate_limit, .arg = "N",
	  .help = "start at most N jobs per second (default: none,\n"
	  "no limit)" },
	{ .key = "source", .name = "source", .kind = OPT_CUSTOM,
	  .parse = set_source, .arg = "URL",
	  .help = "take jobs from a pool in Redis, redis://HOST[:PORT]/POOL,\n"
	  "redis+unix:///PATH/POOL or redis+cluster://HOST:PORT,.../POOL;\n"
	  "--partitions streams" },
	{ .key = "consumer", .name = "consumer", .kind = OPT_CUSTOM,
	  .parse = set_consumer, .arg = "NAME",
	  .help = "this supervisor's name in the pool (default HOST:POOL)" },
	{ .key = "claim_idle", .name = "claim-idle", .kind = OPT_SECONDS,
	  FIELD(claim_idle_ns), .arg = "SEC",
	  .help = "take over a dead consumer's jobs after SEC (default 30)" },
	{ .key = "password_file", .name = "redis-password-file",
	  .kind = OPT_CUSTOM, .parse = set_password_file, .arg = "FILE",
	  .help = "the Redis password: the first line of FILE (read at\n"
	  "start; wins over one in --source)" },
	{ .key = "preload", .name = "no-preload", .kind = OPT_CUSTOM,
	  .flags = OPT_NOARG, .noarg = "no", .parse = set_preload,
	  .help = "load a plugin in each worker, not before forking" },
	{ .key = "user", .name = "user", .kind = OPT_STRING, FIELD(user),
	  .arg = "USER",
	  .help = "run the workers as USER (started as root)" },
	{ .key = "group", .name = "group", .kind = OPT_STRING, FIELD(group),
	  .arg = "GROUP",
	  .help = "run the workers in GROUP (started as root)" },
	{ .key = "chroot", .name = "chroot", .kind = OPT_CUSTOM,
	  .parse = set_chroot, .arg = "DIR",
	  .help = "workers of a builtin or plugin chroot to DIR" },
	{ .key = "rlimit_as", .name = "rlimit-as", .kind = OPT_INT,
	  FIELD(rlimit_as), .min = 1, .max = 1LL << 40, .unit = 1 << 20,
	  .arg = "MB", .help = "each worker's address space limit" },
	{ .key = "rlimit_cpu", .name = "rlimit-cpu", .kind = OPT_INT,
	  FIELD(rlimit_cpu), .min = 1, .max = 1LL << 40, .arg = "SEC",
	  .help = "each worker's CPU time limit" },
	{ .key = "rlimit_nofile", .name = "rlimit-nofile", .kind = OPT_INT,
	  FIELD(rlimit_nofile), .min = 8, .max = 1 << 30, .arg = "N",
	  .help = "each worker's open files limit" },
	{ .key = "isolation", .name = "isolation", .kind = OPT_CUSTOM,
	  .parse = set_isolation, .arg = "process|thread",
	  .help = "workers are processes (default), or threads of\n"
	  "the supervisor: no isolation, for comparison" },
	{ .name = "halt", .kind = OPT_CUSTOM, .parse = set_halt,
	  .arg = "WHEN,WHY=N",
	  .help = "batch: stop once N jobs (or N%) failed (WHY fail),\n"
	  "succeeded (success) or ended (done): at once (WHEN\n"
	  "now) or once the jobs running have finished (soon)" },
	{ .name = "tag", .kind = OPT_INT, .flags = OPT_NOARG, .noarg = "1",
	  FIELD(tag), .min = 0, .max = 1,
	  .help = "batch: each result starts with its input line (its\n"
	  "key with -k) and a tab" },
	{ .name = "failed-line", .kind = OPT_STRING, FIELD(failed_line),
	  .arg = "TEXT",
	  .help = "batch: a failed job's result is TEXT, so that\n"
	  "result N is job N" },
	{ .name = "joblog", .kind = OPT_STRING, FIELD(joblog_path),
	  .arg = "FILE",
	  .help = "batch: log each job run to FILE, as GNU\n"
	  "parallel's --joblog" },
	{ .name = "resume", .kind = OPT_INT, .flags = OPT_NOARG,
	  .noarg = "1", FIELD(resume), .min = 0, .max = 1,
	  .help = "with --joblog: run only the jobs not in FILE,\n"
	  "appending to it" },
	{ .name = "resume-failed", .kind = OPT_INT, .flags = OPT_NOARG,
	  .noarg = "1", FIELD(resume_failed), .min = 0, .max = 1,
	  .help = "... and run again those FILE has as failed" },
	{ .name = "null", .letter = '0', .kind = OPT_INT, .flags = OPT_NOARG,
	  .noarg = "1", FIELD(null_records), .min = 0, .max = 1,
	  .help = "batch: input records and results end in a NUL\n"
	  "byte, not a newline" },
	{ .name = "progress", .kind = OPT_INT, .flags = OPT_NOARG,
	  .noarg = "1", FIELD(progress), .min = 0, .max = 1,
	  .help = "batch: show jobs done and running, per worker,\n"
	  "on stderr" },
	{ .name = "eta", .kind = OPT_INT, .flags = OPT_NOARG, .noarg = "1",
	  FIELD(eta), .min = 0, .max = 1,
	  .help = "batch: show the time left, when the input is a file" },
	{ .name = "bar", .kind = OPT_INT, .flags = OPT_NOARG, .noarg = "1",
	  FIELD(bar), .min = 0, .max = 1,
	  .help = "batch: show a progress bar on stderr" },
	{ .key = "log_level", .name = "verbose", .letter = 'v',
	  .kind = OPT_CUSTOM, .flags = OPT_NOARG, .parse = set_verbose,
	  .help = "log more (twice for debug)" },
	{ .key = "handler", .kind = OPT_CUSTOM, .parse = set_handler },
	{ .name = "help", .letter = 'h', .kind = OPT_HELP, .flags = OPT_NOARG,
	  .help = "this text" },
	{ .name = "version", .letter = 'V', .kind = OPT_VERSION,
	  .flags = OPT_NOARG, .help = "the version" },
};
const size_t	options_count = sizeof options_table / sizeof options_table[0];

_Static_assert(sizeof options_table / sizeof options_table[0] <= OPTIONS_MAX,
    "a bit for each setting");

/* The line of forkpool.conf(5) key name, or NULL. */
const struct optdef *
options_key(const char *name)
{
	size_t	i;

	for (i = 0; i < options_count; i++)
		if (options_table[i].key != NULL &&
		    strcmp(options_table[i].key, name) == 0)
			return &options_table[i];
	return NULL;
}

/*
 * Sets d's value v in o, with errors such as "WHAT V: too small" in err:
 * WHAT is the key in the file and the option on the command line.
 */
int
options_set(struct options *o, const struct optdef *d, const char *what,
    const char *v, char *err, size_t len)
{
	long long	 n;
	uint64_t	 ns;
	char		**s;

	if (d->kind != OPT_CUSTOM && d->none != NULL &&
	    strcmp(v, d->none) == 0) {
		store(o, d, 0);
		return 0;
	}
	switch (d->kind) {
	case OPT_INT:
		if (get_int(what, v, d->min, d->max, &n, err, len) == -1)
			return -1;
		store(o, d, (uint64_t)n * (d->unit != 0 ? d->unit : 1));
		return 0;
	case OPT_SECONDS:
		if (get_seconds(what, v, &ns, err, len) == -1)
			return -1;
		store(o, d, ns);
		return 0;
	case OPT_STRING:
		s = (char **)(void *)((char *)o + d->off);
		free(*s);
		*s = xstrdup(v);
		return 0;
	case OPT_CUSTOM:
		return d->parse(o, d, what, v, err, len);
	default:
		return fail(err, len, "%s: not a setting", what);
	}
}

/* --help's list of options, from the table. */
void
options_usage(FILE *fp)
{
	const struct optdef	*d;
	const char		*h, *nl;
	size_t			 i;
	int			 n;

	for (i = 0; i < options_count; i++) {
		d = &options_table[i];
		if (d->name == NULL)
			continue;
		if (d->letter != 0)
			n = fprintf(fp, "  -%c, --%s", d->letter, d->name);
		else
			n = fprintf(fp, "      --%s", d->name);
		if (d->arg != NULL)
			n += fprintf(fp, " %s", d->arg);
		if (n > 22) {
			fputc('\n', fp);
			n = 0;
		}
		for (h = d->help; h != NULL; h = nl != NULL ? nl + 1 : NULL) {
			nl = strchr(h, '\n');
			fprintf(fp, "%*s%.*s\n", 24 - n, "", nl != NULL ?
			    (int)(nl - h) : (int)strlen(h), h);
			n = 0;
		}
	}
}
