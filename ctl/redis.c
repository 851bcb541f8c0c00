/*
 * forkpoolctl --redis URL: submit jobs to a pool in Redis and wait for
 * their results, or show the pool's state; see forkpoolctl(1).  The jobs
 * are read and sent as they come, and results printed as they arrive, a
 * bounded number waiting at a time.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "proto/field.h"

#define WAITING_MAX	100000	/* jobs sent and not answered, at most */
#define READ_EVERY	1024	/* jobs sent between reads of results */
#define STDIN_CHUNK	(64 * 1024)
#define INPUT_LOOK_MS	50	/* a quiet input is looked at this often */
#define PACK_DEFAULT	64	/* jobs per entry, at most, by default */
#define PACK_MAX	1024
#define EXIT_TIMEOUT	3	/* --timeout passed without a result */

struct rsubmit {
	struct fp_redis	*r;
	const char	*key;
	size_t		 keylen;
	unsigned	 flags;
	int		 key_field;	/* -f: the key is this field of a job */
	uint64_t	 last_id;
	size_t		 failed;
	int		 timeout_ms;	/* -1: none */
	const char	*timeout;
	unsigned	 pack;		/* jobs per entry, at most */
	uint64_t	 every;		/* results are read each so many jobs */
};

static void __attribute__((__noreturn__))
redis_failed(struct fp_redis *r)
{
	errx(EXIT_TROUBLE, "%s", fp_redis_error(r));
}

static struct fp_redis *
redis_open(const char *url, unsigned partitions)
{
	struct fp_redis	*r;
	char		 err[FP_ERRBUF_SIZE];

	if ((r = fp_redis_connect(url, partitions, err, sizeof err)) == NULL)
		errx(EXIT_TROUBLE, "%s", err);
	return r;
}

/*
 * Prints what results have come; if wait, waits for one first, for
 * --timeout at most.
 */
static void
drain(struct rsubmit *s, int wait)
{
	struct fp_result	res;
	int			rc, timeout_ms = wait ? s->timeout_ms : 0;
	size_t			n = 0;

	while ((rc = fp_redis_receive(s->r, &res, timeout_ms)) == 1) {
		print_result(&res, &s->failed);
		timeout_ms = 0;
		n++;
	}
	if (rc == -1)
		redis_failed(s->r);
	fflush(stdout);
	if (wait && n == 0 && fp_redis_pending(s->r) > 0) {
		warnx("timeout: no result for %s s; %zu jobs without one",
		    s->timeout, fp_redis_pending(s->r));
		fp_redis_close(s->r);
		exit(EXIT_TIMEOUT);
	}
}

/*
 * Reading results sends every partition's pack as it is: with packs,
 * results are read after enough jobs to fill a few in each partition
 * (keys spread jobs unevenly).
 */
static uint64_t
reading_interval(const struct rsubmit *s)
{
	uint64_t	every = (uint64_t)s->pack * fp_redis_partitions(s->r) * 4;

	if (every < READ_EVERY)
		return READ_EVERY;
	return every > WAITING_MAX / 4 ? WAITING_MAX / 4 : every;
}

static void
submit_one(struct rsubmit *s, const char *data, size_t len)
{
	if (s->key_field > 0)
		line_field(data, len, s->key_field, &s->key, &s->keylen);
	if (fp_redis_submit(s->r, ++s->last_id, s->key, s->keylen, data, len,
	    s->flags) == -1)
		redis_failed(s->r);
	/* Results are read as jobs go, so none wait long in Redis. */
	if (!(s->flags & FP_F_DETACHED) && s->last_id % s->every == 0)
		drain(s, fp_redis_pending(s->r) >= WAITING_MAX);
}

/*
 * Before waiting for more input, what is queued is sent, and while the
 * input stays quiet the results are printed as they come: jobs do not
 * wait in a pack, nor their results in Redis, for the next line.
 */
static void
input_pause(struct rsubmit *s)
{
	struct pollfd		pfd = { STDIN_FILENO, POLLIN, 0 };
	struct fp_result	res;
	int			rc;

	if (poll(&pfd, 1, 0) != 0)
		return;
	if (fp_redis_flush(s->r) == -1)
		redis_failed(s->r);
	if (s->flags & FP_F_DETACHED)
		return;
	drain(s, 0);
	/* Redis is waited on a little at a time, the input looked at between. */
	while (fp_redis_pending(s->r) > 0 && poll(&pfd, 1, 0) == 0) {
		if ((rc = fp_redis_receive(s->r, &res, INPUT_LOOK_MS)) == -1)
			redis_failed(s->r);
		if (rc == 1) {
			print_result(&res, &s->failed);
			drain(s, 0);
		}
	}
}

/* Each line of standard input is a job (a last one without '\n' too). */
static void
submit_stdin(struct rsubmit *s)
{
	char	*buf, *p, *nl, *bigger;
	size_t	 have = 0, cap = STDIN_CHUNK;
	ssize_t	 n;

	if ((buf = malloc(cap)) == NULL)
		err(EXIT_TROUBLE, NULL);
	for (;;) {
		for (p = buf; (nl = memchr(p, '\n', have - (p - buf))) != NULL;
		    p = nl + 1)
			submit_one(s, p, nl - p);
		have -= p - buf;
		memmove(buf, p, have);
		if (have == cap) {
			if ((bigger = realloc(buf, cap * 2)) == NULL)
				err(EXIT_TROUBLE, NULL);
			buf = bigger;
			cap *= 2;
		}
		input_pause(s);
		if ((n = read(STDIN_FILENO, buf + have, cap - have)) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TROUBLE, "standard input");
		}
		if (n == 0)
			break;
		have += n;
	}
	if (have > 0)
		submit_one(s, buf, have);
	free(buf);
}

int
redis_submit(const char *url, unsigned partitions, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "pack",	required_argument,	NULL,	'n' },
		{ "timeout",	required_argument,	NULL,	't' },
		{ NULL,		0,			NULL,	0 }
	};
	struct rsubmit			 s;
	const char			*errstr;
	int				 ch;

	memset(&s, 0, sizeof s);
	s.timeout_ms = -1;
	s.pack = PACK_DEFAULT;
	optreset = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+df:k:p:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			s.flags |= FP_F_DETACHED;
			break;
		case 'f':
			s.key_field = strtonum(optarg, 1, 1000, &errstr);
			if (errstr != NULL) {
				warnx("submit: -f %s: %s", optarg, errstr);
				return EXIT_TROUBLE;
			}
			s.flags |= FP_F_KEYED;
			break;
		case 'k':
			s.key = optarg;
			s.keylen = strlen(optarg);
			s.flags |= FP_F_KEYED;
			break;
		case 'n':
			s.pack = strtonum(optarg, 1, PACK_MAX, &errstr);
			if (errstr != NULL) {
				warnx("submit: --pack %s: %s (expected 1 to "
				    "%d jobs per entry)", optarg, errstr,
				    PACK_MAX);
				return EXIT_TROUBLE;
			}
			break;
		case 'p':
			if (priority_flags(optarg, &s.flags) == -1)
				return EXIT_TROUBLE;
			break;
		case 't':
			s.timeout_ms = strtonum(optarg, 1, 86400, &errstr) *
			    1000;
			if (errstr != NULL) {
				warnx("submit: --timeout %s: %s (expected 1 "
				    "to 86400 seconds)", optarg, errstr);
				return EXIT_TROUBLE;
			}
			s.timeout = optarg;
			break;
		default:
			warnx("usage: forkpoolctl -r URL submit [-d] "
			    "[-f field | -k key] [-p high|normal] "
			    "[-t sec] [--pack N] [data ...]");
			return EXIT_TROUBLE;
		}
	}
	argc -= optind;
	argv += optind;
	s.r = redis_open(url, partitions);
	/* Redis restarting is waited for, as long as --timeout allows. */
	fp_redis_set_retry(s.r, s.timeout_ms);
	if (fp_redis_set_pack(s.r, s.pack) == -1)
		redis_failed(s.r);
	s.every = reading_interval(&s);
	if (argc == 0)
		submit_stdin(&s);
	for (; argc > 0; argc--, argv++)
		submit_one(&s, *argv, strlen(*argv));
	if (fp_redis_flush(s.r) == -1)
		redis_failed(s.r);
	while (fp_redis_pending(s.r) > 0)
		drain(&s, 1);
	fp_redis_close(s.r);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_TROUBLE, "standard output");
	return s.failed > 0 ? EXIT_FAILED : 0;
}

int
redis_status(const char *url, unsigned partitions)
{
	struct fp_redis	*r = redis_open(url, partitions);
	char		*text;

	if (fp_redis_status(r, json ? FP_FORMAT_JSON : FP_FORMAT_TEXT,
	    &text) == -1)
		redis_failed(r);
	fp_redis_close(r);
	fputs(text, stdout);
	free(text);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_TROUBLE, "standard output");
	return 0;
}
