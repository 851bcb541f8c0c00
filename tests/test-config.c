/*
 * forkpool.conf(5) through config_load(): every key, comments, the command
 * line's precedence, and each kind of error with its exact line.
 */
#include <sys/stat.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not "config.h": that name finds autoconf's header first from tests/. */
#include "supervisor/conf.h"
#include "supervisor/supervisor.h"
#include "conf-options.h"
#include "tap.h"

static char	 dir[] = "/tmp/test-config.XXXXXX";
static char	 path[sizeof dir + 32];
static int	 nfiles;
static char	 err[512];
static char	 me[64];	/* our user's name */
static char	 mygroup[64];

static const char *
write_conf(const char *text)
{
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%d.conf", dir, ++nfiles);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF) {
		perror(path);
		exit(99);
	}
	return path;
}

static int
load(const char *text, struct options *o, uint64_t cli)
{
	return config_load(write_conf(text), o, cli, err, sizeof err);
}

/* The file must fail with exactly "PATH:" want, and leave o alone. */
static void
fails(const char *text, const char *want)
{
	struct options	o, before;
	char		full[sizeof path + 256];
	int		rc;

	options_defaults(&o);
	before = o;
	rc = load(text, &o, 0);
	snprintf(full, sizeof full, "%s:%s", path, want);
	if (!tap_ok(rc == -1 && strcmp(err, full) == 0 &&
	    memcmp(&o, &before, sizeof o) == 0, "error: %s", want))
		tap_diag("got %d, \"%s\"", rc, err);
}

static void
test_full(void)
{
	struct options	o;
	char		text[2048];
	int		rc;

	options_defaults(&o);
	snprintf(text, sizeof text,
	    "workers = 5\n"
	    "listen = /run/forkpool/forkpool.sock\n"
	    "listen_mode = 0660\n"
	    "listen_group = %s\n"
	    "allow_users = %s 4000001\n"
	    "allow_groups = %s 4000002\n"
	    "pidfile = /run/forkpool.pid\n"
	    "max_clients = 64\n"
	    "client_budget = 1048576\n"
	    "queue = 1000\n"
	    "window = 16\n"
	    "attempts = 7\n"
	    "timeout = 2.5\n"
	    "kill_grace = 0.25\n"
	    "shutdown_timeout = 60\n"
	    "frame_max = 65536\n"
	    "partitions = 1024\n"
	    "restart_intensity = 3 20.5\n"
	    "idle_timeout = 30\n"
	    "rate_limit = 250.5\n"
	    "max_jobs = 500\n"
	    "max_jobs_jitter = 50\n"
	    "max_rss = 256\n"
	    "heartbeat_timeout = 5\n"
	    "log_level = debug\n"
	    "handler = builtin:cpu 100\n", mygroup, me, mygroup);
	rc = load(text, &o, 0);
	if (!tap_ok(rc == 0, "a file with every key loads"))
		tap_diag("%s", err);
	tap_ok(o.workers == 5 && o.workers_min == 0 && o.workers_max == 0,
	    "workers");
	tap_ok(o.listen_path != NULL &&
	    strcmp(o.listen_path, "/run/forkpool/forkpool.sock") == 0,
	    "listen");
	tap_ok(o.listen_mode == 0660, "listen_mode");
	tap_ok(o.listen_group == getgid(), "listen_group");
	tap_ok(o.nallow_uids == 2 && o.allow_uids[0] == getuid() &&
	    o.allow_uids[1] == 4000001, "allow_users");
	tap_ok(o.nallow_gids == 2 && o.allow_gids[0] == getgid() &&
	    o.allow_gids[1] == 4000002, "allow_groups");
	tap_ok(o.pidfile != NULL && strcmp(o.pidfile, "/run/forkpool.pid") == 0,
	    "pidfile");
	tap_ok(o.max_clients == 64, "max_clients");
	tap_ok(o.client_budget == 1048576, "client_budget");
	tap_ok(o.queue_max == 1000, "queue");
	tap_ok(o.window == 16, "window");
	tap_ok(o.attempts == 7, "attempts");
	tap_ok(o.timeout_ns == 2500000000ULL, "timeout");
	tap_ok(o.kill_grace_ns == 250000000ULL, "kill_grace");
	tap_ok(o.shutdown_timeout_ns == 60000000000ULL, "shutdown_timeout");
	tap_ok(o.frame_max == 65536, "frame_max");
	tap_ok(o.partitions == 1024, "partitions");
	tap_ok(o.restart_max == 3 && o.restart_period_ns == 20500000000ULL,
	    "restart_intensity");
	tap_ok(o.idle_timeout_ns == 30000000000ULL, "idle_timeout");
	tap_ok(o.rate_limit == 250.5, "rate_limit");
	tap_ok(o.max_jobs == 500 && o.max_jobs_jitter == 50,
	    "max_jobs, max_jobs_jitter");
	tap_ok(o.max_rss_kib == 256 * 1024, "max_rss, in MiB");
	tap_ok(o.heartbeat_ns == 5000000000ULL, "heartbeat_timeout");
	tap_ok(o.verbose == 2, "log_level");
	tap_ok(strcmp(o.handler, "builtin:cpu") == 0 && o.handler_argc == 1 &&
	    strcmp(o.handler_argv[0], "100") == 0 &&
	    o.handler_argv[1] == NULL, "handler and its argument");
	options_purge(&o);
}

static void
test_words(void)
{
	struct options	o;
	int		rc;

	options_defaults(&o);
	rc = load("timeout = none\nwindow = adaptive\nrate_limit = none\n"
	    "shutdown_timeout = none\nlog_level = info\n", &o, 0);
	tap_ok(rc == 0 && o.timeout_ns == 0 && o.window == 0 &&
	    o.rate_limit == 0 && o.shutdown_timeout_ns == 0 && o.verbose == 1,
	    "none, adaptive and info");
	options_purge(&o);
	o.window = 8;
	o.rate_limit = 10;
	rc = load("window = adaptive\nrate_limit = 0\n", &o, 0);
	tap_ok(rc == 0 && o.window == 0 && o.rate_limit == 0,
	    "adaptive and a rate limit of 0 undo earlier values");
	options_purge(&o);
	rc = load("handler = builtin:fnv\n", &o, 0);
	tap_ok(rc == 0 && strcmp(o.handler, "builtin:fnv") == 0 &&
	    o.handler_argc == 0 && o.handler_argv[0] == NULL,
	    "a handler without arguments");
	options_purge(&o);
	rc = load("handler = builtin:sleep\t 10   20 \n", &o, 0);
	tap_ok(rc == 0 && strcmp(o.handler, "builtin:sleep") == 0 &&
	    o.handler_argc == 2 && strcmp(o.handler_argv[0], "10") == 0 &&
	    strcmp(o.handler_argv[1], "20") == 0 && o.handler_argv[2] == NULL,
	    "handler arguments split on blanks");
	options_purge(&o);
}

static void
test_comments(void)
{
	struct options	o, before;
	int		rc;

	options_defaults(&o);
	before = o;
	rc = load("# forkpool.conf\n"
	    "\n"
	    "; another comment\n"
	    "   \t\n"
	    "   # an indented comment\n"
	    "queue = 77 ; a comment after a value\n"
	    "\n"
	    "attempts = 9\r\n"
	    "#workers = 100\n"
	    "partitions = 8", &o, 0);
	if (!tap_ok(rc == 0 && o.queue_max == 77 && o.attempts == 9 &&
	    o.partitions == 8 && o.workers == before.workers,
	    "comments, blank lines, CRLF and a last line without newline"))
		tap_diag("%d %s", rc, err);
	options_defaults(&o);
	before = o;
	rc = load("", &o, 0);
	tap_ok(rc == 0 && memcmp(&o, &before, sizeof o) == 0,
	    "an empty file changes nothing");
	options_defaults(&o);
	rc = load("\xef\xbb\xbfqueue = 5\n", &o, 0);
	tap_ok(rc == 0 && o.queue_max == 5, "a UTF-8 byte order mark");
}

static void
test_workers(void)
{
	struct options	o;
	int		rc;

	options_defaults(&o);
	rc = load("workers = 2 8\n", &o, 0);
	tap_ok(rc == 0 && o.workers == 2 && o.workers_min == 2 &&
	    o.workers_max == 8, "workers = 2 8 is a dynamic pool");
	options_defaults(&o);
	rc = load("workers =   4  4\n", &o, 0);
	tap_ok(rc == 0 && o.workers == 4 && o.workers_min == 0 &&
	    o.workers_max == 0, "workers = 4 4 is a fixed pool");
	options_defaults(&o);
	o.workers_min = 1;
	o.workers_max = 9;
	rc = load("workers = 6\n", &o, 0);
	tap_ok(rc == 0 && o.workers == 6 && o.workers_min == 0 &&
	    o.workers_max == 0, "workers = 6 is a fixed pool");
}

static void
test_modes(void)
{
	struct options	o;
	int		rc;

	options_defaults(&o);
	rc = load("listen_mode = 0660\n", &o, 0);
	tap_ok(rc == 0 && o.listen_mode == 0660, "listen_mode 0660");
	options_defaults(&o);
	rc = load("listen_mode = 770\n", &o, 0);
	tap_ok(rc == 0 && o.listen_mode == 0770, "listen_mode 770 is octal");
	fails("listen_mode = 0\n",
	    "1: listen_mode 0: not an octal mode from 1 to 0777");
	fails("listen_mode = 0680\n",
	    "1: listen_mode 0680: not an octal mode from 1 to 0777");
	fails("listen_mode = 01777\n",
	    "1: listen_mode 01777: not an octal mode from 1 to 0777");
	fails("listen_mode = -660\n",
	    "1: listen_mode -660: not an octal mode from 1 to 0777");
	fails("listen_mode = rw\n",
	    "1: listen_mode rw: not an octal mode from 1 to 0777");
}

static void
test_ids(void)
{
	struct options	o;
	char		text[256];
	int		rc;

	options_defaults(&o);
	rc = load("allow_users = 4000001 0\nallow_groups = 4000002\n"
	    "listen_group = 4000003\n", &o, 0);
	tap_ok(rc == 0 && o.nallow_uids == 2 && o.allow_uids[0] == 4000001 &&
	    o.allow_uids[1] == 0 && o.nallow_gids == 1 &&
	    o.allow_gids[0] == 4000002 && o.listen_group == 4000003,
	    "numeric uids and gids need no name");
	snprintf(text, sizeof text, "\nallow_users = %s "
	    "forkpool-no-such-user\n", me);
	fails(text, "2: allow_users: no user forkpool-no-such-user");
	fails("allow_groups = forkpool-no-such-group\n",
	    "1: allow_groups: no group forkpool-no-such-group");
	fails("listen_group = forkpool-no-such-group\n",
	    "1: listen_group: no group forkpool-no-such-group");
	fails("allow_users = 4294967295\n",
	    "1: allow_users: no user 4294967295");
	options_purge(&o);
}

static void
test_cli(void)
{
	struct options	o;
	uint64_t	cli;
	int		rc;

	cli = cli_bit("workers") | cli_bit("queue") | cli_bit("handler") |
	    cli_bit("log_level");
	options_defaults(&o);
	o.workers = 11;
	o.queue_max = 12;
	o.handler = strdup("builtin:fnv");
	o.verbose = 1;
	rc = load("workers = 2 8\nqueue = 99\nattempts = 5\n"
	    "handler = builtin:echo x\nlog_level = debug\n", &o, cli);
	tap_ok(rc == 0 && o.workers == 11 && o.workers_min == 0 &&
	    o.workers_max == 0 && o.queue_max == 12 &&
	    strcmp(o.handler, "builtin:fnv") == 0 && o.verbose == 1,
	    "the command line wins over the file");
	tap_ok(o.attempts == 5, "the file gives what the command line did not");
	options_purge(&o);
	rc = load("attempts = 5\nqueue = 0\n", &o, cli);
	tap_ok(rc == -1 && strstr(err, ":2: queue 0: too small") != NULL &&
	    o.attempts == 3,
	    "a bad value is an error even where the command line wins");
}

static void
test_errors(void)
{
	struct options	o;
	char		text[512], want[sizeof text + 64];

	fails("workers = 4\nbogus = 1\n", "2: unknown key bogus");
	fails("workers = 4\n[pool]\nqueue = 5\n", "2: unknown section [pool]");
	fails("# comment\nworkers 4\n", "2: expected KEY = VALUE");
	fails("workers: 4\n", "1: expected KEY = VALUE");
	fails("\n\n= 4\n", "3: expected KEY = VALUE");
	fails("queue = 10\n\nqueue = 20\n",
	    "3: queue set twice, first at line 1");
	fails("; c\nqueue = 10\nworkers = 2\nqueue = 10\n",
	    "4: queue set twice, first at line 2");
	fails("pidfile =\n", "1: pidfile has no value");
	fails("workers = 4\n  8\n", "2: a line must not start with a blank "
	    "(there are no continuation lines)");
	fails("queue = 1\nbad = 1\nworse = 2\n", "2: unknown key bad");
	fails("Workers = 4\n", "1: unknown key Workers");

	fails("workers = 0\n", "1: workers 0: too small (expected 1 to 1024)");
	fails("workers = 1025\n",
	    "1: workers 1025: too large (expected 1 to 1024)");
	fails("workers = 8 2\n", "1: workers 8 2: MAX is below MIN");
	fails("workers = 1 2 3\n", "1: workers 1 2 3: expected N or MIN-MAX");
	fails("workers = four\n",
	    "1: workers four: invalid (expected 1 to 1024)");
	fails("max_clients = 0\n",
	    "1: max_clients 0: too small (expected 1 to 1000000)");
	fails("client_budget = 1023\n", "1: client_budget 1023: too small "
	    "(expected 1024 to 1099511627776)");
	fails("queue = 16777217\n",
	    "1: queue 16777217: too large (expected 1 to 16777216)");
	fails("window = 4097\n",
	    "1: window 4097: too large (expected 1 to 4096)");
	fails("window = 0\n", "1: window 0: too small (expected 1 to 4096)");
	fails("attempts = 0\n",
	    "1: attempts 0: too small (expected 1 to 1000)");
	fails("timeout = 0\n", "1: timeout 0: out of range "
	    "(expected 0.001 to 1000000 seconds)");
	fails("timeout = 0x10\n", "1: timeout 0x10: not a number");
	fails("timeout = inf\n", "1: timeout inf: not a number");
	fails("timeout = 1s\n", "1: timeout 1s: not a number");
	fails("kill_grace = 1e7\n", "1: kill_grace 1e7: out of range "
	    "(expected 0.001 to 1000000 seconds)");
	fails("kill_grace = none\n", "1: kill_grace none: not a number");
	fails("shutdown_timeout = 1.2.3\n",
	    "1: shutdown_timeout 1.2.3: not a number");
	fails("frame_max = 63\n",
	    "1: frame_max 63: too small (expected 64 to 4294967295)");
	fails("frame_max = 4294967296\n",
	    "1: frame_max 4294967296: too large (expected 64 to 4294967295)");
	fails("partitions = 1048577\n",
	    "1: partitions 1048577: too large (expected 1 to 1048576)");
	fails("restart_intensity = 5\n",
	    "1: restart_intensity 5: expected RESTARTS/SECONDS, as in 5/10");
	fails("restart_intensity = 0 10\n",
	    "1: restart_intensity 0: too small (expected 1 to 1000000)");
	fails("restart_intensity = 5 0\n", "1: restart_intensity 0: out of "
	    "range (expected 0.001 to 1000000 seconds)");
	fails("idle_timeout = -1\n", "1: idle_timeout -1: out of range "
	    "(expected 0.001 to 1000000 seconds)");
	fails("rate_limit = -5\n", "1: rate_limit -5: out of range "
	    "(expected none, or 0 to 1000000000 jobs per second)");
	fails("rate_limit = fast\n", "1: rate_limit fast: not a number");
	fails("log_level = verbose\n",
	    "1: log_level verbose: expected warning, info or debug");

	/* sun_path holds 107 bytes and the NUL. */
	memset(text, 0, sizeof text);
	strlcpy(text, "listen = /", sizeof text);
	memset(text + 10, 'x', 107);
	snprintf(want, sizeof want, "1: listen %s: longer than 107 bytes",
	    text + strlen("listen = "));
	strlcat(text, "\n", sizeof text);
	fails(text, want);

	/* libinih's line buffer is 200 bytes in its default build. */
	memset(text, 0, sizeof text);
	strlcpy(text, "queue = 1\n# ", sizeof text);
	memset(text + 12, 'x', 400);
	strlcat(text, "\nattempts = 2\n", sizeof text);
	write_conf(text);
	options_defaults(&o);
	tap_ok(config_load(path, &o, 0, err, sizeof err) == -1 &&
	    strstr(err, ":2: line longer than ") != NULL,
	    "a line too long for libinih is an error: %s", err);
}

static void
test_files(void)
{
	struct options	o, before;
	char		full[sizeof path + 64], small[12];
	int		rc;

	options_defaults(&o);
	before = o;
	snprintf(path, sizeof path, "%s/missing.conf", dir);
	rc = config_load(path, &o, 0, err, sizeof err);
	snprintf(full, sizeof full, "%s: No such file or directory", path);
	tap_ok(rc == -1 && strcmp(err, full) == 0 &&
	    memcmp(&o, &before, sizeof o) == 0, "a missing file: %s", err);
	rc = config_load(dir, &o, 0, err, sizeof err);
	snprintf(full, sizeof full, "%s: Is a directory", dir);
	tap_ok(rc == -1 && strcmp(err, full) == 0, "a directory: %s", err);

	write_conf("queue = 5\n");
	if (geteuid() == 0)
		tap_ok(1, "an unreadable file # SKIP root reads any file");
	else {
		chmod(path, 0);
		rc = config_load(path, &o, 0, err, sizeof err);
		snprintf(full, sizeof full, "%s: Permission denied", path);
		tap_ok(rc == -1 && strcmp(err, full) == 0,
		    "an unreadable file: %s", err);
	}

	write_conf("bogus = 1\n");
	memset(small, '@', sizeof small);
	rc = config_load(path, &o, 0, small, 8);
	tap_ok(rc == -1 && strlen(small) == 7 && small[8] == '@',
	    "a short error buffer is not overrun");
}

/* The example shipped in contrib/ must stay a valid file. */
static void
test_contrib(void)
{
	struct options	 o;
	const char	*srcdir;
	char		 example[4096];

	if ((srcdir = getenv("TESTS_SRCDIR")) == NULL) {
		tap_ok(1, "contrib/forkpool.conf # SKIP TESTS_SRCDIR not set");
		return;
	}
	snprintf(example, sizeof example, "%s/../contrib/forkpool.conf",
	    srcdir);
	options_defaults(&o);
	if (!tap_ok(config_load(example, &o, 0, err, sizeof err) == 0 &&
	    o.listen_path != NULL, "contrib/forkpool.conf loads"))
		tap_diag("%s", err);
	options_purge(&o);
}

/*
 * A value means the same from the command line as from the file: both
 * take it, into the same options, or both refuse it.
 */
static void
same(const char *key, const char *value)
{
	const struct optdef	*d = options_key(key);
	struct options		 file, cli, a, b;
	char			 text[256], what[64], clierr[512];
	int			 frc, crc, equal;

	snprintf(text, sizeof text, "%s = %s\n", key, value);
	snprintf(what, sizeof what, "--%s", d->name);
	options_defaults(&file);
	options_defaults(&cli);
	frc = load(text, &file, 0);
	crc = options_set(&cli, d, what, value, clierr, sizeof clierr);
	/* The lists are the same if what they hold is. */
	a = file;
	b = cli;
	equal = a.nallow_gids == b.nallow_gids && (a.nallow_gids == 0 ||
	    memcmp(a.allow_gids, b.allow_gids, a.nallow_gids *
	    sizeof *a.allow_gids) == 0);
	a.allow_gids = b.allow_gids = NULL;
	equal = equal && memcmp(&a, &b, sizeof a) == 0;
	if (!tap_ok(d->name != NULL && frc == crc && (frc == -1 || equal),
	    "%s %s: the same from the file (%s) and %s", key, value,
	    frc == 0 ? "taken" : "refused", what))
		tap_diag("file: %d %s; command line: %d %s", frc,
		    frc == 0 ? "" : err, crc, crc == 0 ? "" : clierr);
	options_purge(&file);
	options_purge(&cli);
}

static void
test_same(void)
{
	same("listen_mode", "0");
	same("listen_mode", "0660");
	same("rate_limit", "0");
	same("rate_limit", "none");
	same("rate_limit", "2.5");
	same("timeout", "none");
	same("timeout", "0.0015");
	same("timeout", "1e-3");
	same("kill_grace", "0.0004");
	same("heartbeat_timeout", "none");
	same("shutdown_timeout", "none");
	same("max_rss", "none");
	same("max_jobs", "none");
	same("window", "adaptive");
	same("workers", "2-8");
	same("workers", "2 8");
	same("workers", "4-4");
	same("restart_intensity", "3/2.5");
	same("restart_intensity", "3 2.5");
	same("restart_intensity", "0/10");
	same("isolation", "thread");
	same("preload", "no");
	same("queue", "0");
	same("frame_max", "64");
	same("rlimit_as", "2");
	same("listen_group", "4000003");
	same("allow_groups", "4000002");
}

/* The defaults forkpool(1) and forkpool.conf(5) state. */
static void
test_defaults(void)
{
	struct options	o;
	long		ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	options_defaults(&o);
	tap_ok(o.workers == (ncpu > 0 ? ncpu : 1) && o.workers_max == 0,
	    "default: a worker per online CPU");
	tap_ok(o.queue_max == 16384 && o.attempts == 3 && o.window == 0 &&
	    o.partitions == 256 && o.frame_max == 16777216 &&
	    o.order == ORDER_INPUT && o.key_field == 0,
	    "defaults: queue, attempts, window, partitions, frame, order");
	tap_ok(o.timeout_ns == 0 && o.kill_grace_ns == 1000000000ULL &&
	    o.start_timeout_ns == 10000000000ULL &&
	    o.shutdown_timeout_ns == 30000000000ULL &&
	    o.idle_timeout_ns == 10000000000ULL &&
	    o.claim_idle_ns == 30000000000ULL && o.heartbeat_ns == 0,
	    "defaults: the timeouts");
	tap_ok(o.restart_max == 5 && o.restart_period_ns == 10000000000ULL,
	    "default: restart intensity 5/10");
	tap_ok(o.listen_mode == 0600 && o.listen_group == (gid_t)-1 &&
	    o.max_clients == 256 && o.client_budget == 16777216 &&
	    o.rate_limit == 0 && o.pidfile == NULL,
	    "defaults: the service's socket and clients");
	tap_ok(o.preload == 1 && o.isolation == ISOLATION_PROCESS &&
	    o.handler == NULL && o.verbose == 0,
	    "defaults: preload, isolation, no handler, log level warning");
}

static void
cleanup(void)
{
	int	i;

	for (i = 1; i <= nfiles; i++) {
		snprintf(path, sizeof path, "%s/%d.conf", dir, i);
		unlink(path);
	}
	if (rmdir(dir) == -1)
		tap_diag("could not remove %s", dir);
}

int
main(void)
{
	struct passwd	*pw;
	struct group	*gr;

	if ((pw = getpwuid(getuid())) == NULL ||
	    (gr = getgrgid(getgid())) == NULL) {
		printf("1..0 # SKIP our uid or gid has no name\n");
		return 0;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	strlcpy(me, pw->pw_name, sizeof me);
	strlcpy(mygroup, gr->gr_name, sizeof mygroup);

	tap_plan(130);
	test_full();
	test_words();
	test_comments();
	test_workers();
	test_modes();
	test_ids();
	test_cli();
	test_errors();
	test_files();
	test_contrib();
	test_same();
	test_defaults();

	cleanup();
	return tap_done();
}
