/*
 * forkpoolctl: submits jobs to a forkpool service and operates it, over
 * the supervisor's Unix socket, with libforkpool.  See forkpoolctl(1).
 *
 * Exit status: 0 when everything succeeded, 1 when a job failed or the
 * supervisor refused a command, 2 on a usage error or when the connection
 * failed.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <err.h>

#include "ctl.h"
#include "lib/forkpool.h"

/* The socket path, the same whatever the prefix (Makefile.am). */
#ifdef FORKPOOL_SOCKET
#define SOCKET_DEFAULT	FORKPOOL_SOCKET
#else
#define SOCKET_DEFAULT	FP_SOCKET_DEFAULT
#endif

#define STDIN_CHUNK	(64 * 1024)

static const char	*socket_path;
static const char	*redis_url;
static unsigned		 redis_partitions;
int			 json;

#define USAGE							\
	"usage: forkpoolctl [-hj] [-s socket] command [argument ...]\n"	\
	"       forkpoolctl [-hj] -r URL [-P partitions] submit|status|top ...\n"

/* The whole help with -h; after a mistake, the synopsis: the error shows. */
static void __attribute__((__noreturn__))
usage(int status)
{
	if (status != 0) {
		fprintf(stderr, USAGE "Try 'forkpoolctl -h'.\n");
		exit(status);
	}
	printf(USAGE
	    "commands:\n"
	    "  submit [-k key] [-p high|normal] [data ...]\n"
	    "                 run each data argument (or each line of\n"
	    "                 standard input) as a job; print the results\n"
	    "  status         the pool's workers and totals\n"
	    "  metrics        the same in Prometheus text format (JSON\n"
	    "                 with -j)\n"
	    "  top [--once]   a live view, refreshed each second; q quits\n"
	    "  scale N        run N workers\n"
	    "  reload         re-read the configuration, roll workers over\n"
	    "  drain          take no new jobs, exit when idle\n"
	    "  stop           stop the supervisor\n"
	    "options:\n"
	    "  -j, --json     JSON output\n"
	    "  -s, --socket SOCKET\n"
	    "                 the supervisor's socket (default:\n"
	    "                 $FORKPOOL_SOCKET, else " SOCKET_DEFAULT ")\n"
	    "  -r, --redis URL\n"
	    "                 a pool in Redis, redis://HOST[:PORT]/POOL,\n"
	    "                 redis+unix:///PATH/POOL or, on a Redis Cluster,\n"
	    "                 redis+cluster://HOST:PORT[,HOST:PORT...]/POOL\n"
	    "                 (default: $FORKPOOL_REDIS);\n"
	    "                 submit -d only queues the jobs;\n"
	    "                 submit --pack N puts up to N jobs in an entry\n"
	    "                 (default 64; 1: one each)\n"
	    "  -P, --partitions N\n"
	    "                 the pool's partitions, if Redis does not know them\n");
	exit(status);
}

static struct fp_client *
connect_or_die(void)
{
	struct fp_client	*c;
	char			 err[FP_ERRBUF_SIZE];

	if ((c = fp_connect(socket_path, err, sizeof err)) != NULL)
		return c;
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTSOCK:
		errx(EXIT_TROUBLE, "cannot connect to %s: %s "
		    "(is forkpool running?)", socket_path, strerror(errno));
	case EACCES:
		errx(EXIT_TROUBLE, "%s: permission denied", socket_path);
	}
	/* Refused by the supervisor, or a broken HELLO: its reason. */
	errx(EXIT_TROUBLE, "%s", err);
}

static void __attribute__((__noreturn__))
link_failed(struct fp_client *c)
{
	errx(EXIT_TROUBLE, "%s: %s", socket_path, fp_error(c));
}

/*
 * A JSON string: escapes what JSON requires, keeps valid UTF-8 and puts
 * U+FFFD in place of bytes that are not.
 */
void
json_string(FILE *f, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n, k;
	unsigned		 cp, min;

	putc('"', f);
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] == '\r')
			fputs("\\r", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else if (p[i] < 0x80)
			putc(p[i], f);
		else {
			if ((p[i] & 0xe0) == 0xc0) {
				n = 2, cp = p[i] & 0x1f, min = 0x80;
			} else if ((p[i] & 0xf0) == 0xe0) {
				n = 3, cp = p[i] & 0x0f, min = 0x800;
			} else if ((p[i] & 0xf8) == 0xf0) {
				n = 4, cp = p[i] & 0x07, min = 0x10000;
			} else {
				n = 0, cp = 0, min = 1;
			}
			for (k = 1; n > 0 && k < n; k++) {
				if (i + k >= len || (p[i + k] & 0xc0) != 0x80) {
					n = 0;
					break;
				}
				cp = cp << 6 | (p[i + k] & 0x3f);
			}
			if (n == 0 || cp < min || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff)) {
				fputs("\\ufffd", f);
				n = 1;
			} else
				fwrite(p + i, 1, n, f);
		}
	}
	putc('"', f);
}

/* --- submit --------------------------------------------------------------- */

/* submit -p: high or normal into flags; -1, said, for anything else. */
int
priority_flags(const char *arg, unsigned *flags)
{
	if (strcmp(arg, "high") == 0)
		*flags |= FP_F_HIGH;
	else if (strcmp(arg, "normal") == 0)
		*flags &= ~FP_F_HIGH;
	else {
		warnx("submit: -p takes high or normal");
		return -1;
	}
	return 0;
}

struct submit {
	struct fp_client	*c;
	const char		*key;
	size_t			 keylen;
	unsigned		 flags;
	uint64_t		 last_id;	/* ids count the jobs from 1 */
	size_t			 failed;
	char			*line;		/* an incomplete stdin line */
	size_t			 linelen;
	size_t			 linecap;
};

static void
submit_one(struct submit *s, const char *data, size_t len)
{
	if (fp_submit(s->c, ++s->last_id, s->key, s->keylen, data, len,
	    s->flags) == -1) {
		if (errno == EMSGSIZE)
			errx(EXIT_TROUBLE, "job %llu: %s",
			    (unsigned long long)s->last_id, fp_error(s->c));
		link_failed(s->c);
	}
}

/*
 * What a failed job's JSON says when the supervisor sent no text, as for a
 * crash or a timeout, where there is no handler's message to pass on.
 */
static const char *
failure(const struct fp_result *r, char *buf, size_t size)
{
	const char	*what;

	switch (r->status) {
	case FP_STATUS_CRASHED:
		what = "the worker crashed";
		break;
	case FP_STATUS_TIMEOUT:
		what = "timed out";
		break;
	case FP_STATUS_REJECTED:
		return "refused by the supervisor";
	default:
		return "the handler failed";
	}
	if (r->attempts > 1)
		snprintf(buf, size, "%s on each of %u attempts", what,
		    r->attempts);
	else
		snprintf(buf, size, "%s", what);
	return buf;
}

void
print_result(const struct fp_result *r, size_t *failed)
{
	char		 buf[64];
	const char	*why;

	if (r->status != FP_STATUS_OK)
		(*failed)++;
	if (json) {
		printf("{\"id\":%llu,\"status\":\"%s\",\"attempts\":%u,\"%s\":",
		    (unsigned long long)r->id, fp_status_name(r->status),
		    r->attempts, r->status == FP_STATUS_OK ? "result" :
		    "error");
		if (r->status != FP_STATUS_OK && r->len == 0) {
			why = failure(r, buf, sizeof buf);
			json_string(stdout, why, strlen(why));
		} else
			json_string(stdout, r->data, r->len);
		fputs("}\n", stdout);
		return;
	}
	if (r->status == FP_STATUS_OK) {
		fwrite(r->data, 1, r->len, stdout);
		putchar('\n');
		return;
	}
	fflush(stdout);
	fprintf(stderr, "forkpoolctl: job %llu: %s",
	    (unsigned long long)r->id, fp_status_name(r->status));
	if (r->attempts > 0)
		fprintf(stderr, " after %u attempt%s", r->attempts,
		    r->attempts == 1 ? "" : "s");
	if (r->len > 0)
		fprintf(stderr, ": %.*s", r->len > INT_MAX ? INT_MAX :
		    (int)r->len, r->data);
	fputc('\n', stderr);
}

static void
keep_partial(struct submit *s, const char *p, size_t n)
{
	char	*q;

	if (s->linelen + n > s->linecap) {
		s->linecap = (s->linelen + n) * 2;
		if ((q = realloc(s->line, s->linecap)) == NULL)
			err(EXIT_TROUBLE, "standard input");
		s->line = q;
	}
	memcpy(s->line + s->linelen, p, n);
	s->linelen += n;
}

/* Takes every job in a chunk of standard input; keeps a partial line. */
static void
take_input(struct submit *s, const char *p, size_t n, int eof)
{
	const char	*nl;
	size_t		 len;

	while ((nl = memchr(p, '\n', n)) != NULL) {
		len = nl - p;
		if (s->linelen > 0) {
			keep_partial(s, p, len);
			submit_one(s, s->line, s->linelen);
			s->linelen = 0;
		} else
			submit_one(s, p, len);
		p += len + 1;
		n -= len + 1;
	}
	if (n > 0)
		keep_partial(s, p, n);
	/* A last line without a newline is a job too. */
	if (eof && s->linelen > 0) {
		submit_one(s, s->line, s->linelen);
		s->linelen = 0;
	}
}

static int
cmd_submit(int argc, char **argv)
{
	struct submit	 s;
	struct pollfd	 pfd[2];
	struct fp_result r;
	char		*chunk = NULL;
	ssize_t		 n;
	int		 ch, more, in_done, lost = 0;

	memset(&s, 0, sizeof s);
	optreset = 1;
	optind = 1;
	while ((ch = getopt(argc, argv, "+k:p:")) != -1) {
		switch (ch) {
		case 'k':
			s.key = optarg;
			s.keylen = strlen(optarg);
			s.flags |= FP_F_KEYED;
			break;
		case 'p':
			if (priority_flags(optarg, &s.flags) == -1)
				usage(EXIT_TROUBLE);
			break;
		default:
			usage(EXIT_TROUBLE);
		}
	}
	argc -= optind;
	argv += optind;

	s.c = connect_or_die();
	fp_set_nonblocking(s.c, 1);
	for (; argc > 0; argc--, argv++)
		submit_one(&s, *argv, strlen(*argv));
	in_done = s.last_id > 0;
	if (!in_done && (chunk = malloc(STDIN_CHUNK)) == NULL)
		err(EXIT_TROUBLE, NULL);

	for (;;) {
		if ((more = lost ? 0 : fp_flush(s.c)) == -1) {
			/* Results already sent may still be read. */
			lost = 1;
			in_done = 1;
			more = 0;
		}
		if (in_done && !more && fp_pending(s.c) == 0)
			break;
		pfd[0].fd = fp_fd(s.c);
		pfd[0].events = POLLIN | (more ? POLLOUT : 0);
		/* Read no more jobs while the supervisor is not taking them. */
		pfd[1].fd = in_done || more ? -1 : STDIN_FILENO;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TROUBLE, "poll");
		}
		if (pfd[1].revents != 0) {
			n = read(STDIN_FILENO, chunk, STDIN_CHUNK);
			if (n == -1 && errno != EINTR && errno != EAGAIN)
				err(EXIT_TROUBLE, "standard input");
			if (n >= 0)
				take_input(&s, chunk, n, n == 0);
			in_done = n == 0;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			/* A failed read shows in fp_next(), after the rest. */
			(void)fp_read(s.c);
			while ((ch = fp_next(s.c, &r)) == 1)
				print_result(&r, &s.failed);
			fflush(stdout);
			if (ch == -1)
				link_failed(s.c);
		}
	}
	free(chunk);
	free(s.line);
	fp_close(s.c);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_TROUBLE, "standard output");
	return s.failed > 0 ? EXIT_FAILED : 0;
}

/* --- status, metrics and the operations --------------------------------- */

static int
print_text(const char *text)
{
	size_t	len = strlen(text);

	fputs(text, stdout);
	if (len > 0 && text[len - 1] != '\n')
		putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_TROUBLE, "standard output");
	return 0;
}

static int
show_status(unsigned format)
{
	struct fp_client	*c;
	char			*text;
	int			 r;

	c = connect_or_die();
	if ((r = fp_status(c, format, &text)) == -1)
		link_failed(c);
	fp_close(c);
	if (r == 1) {
		warnx("status: %s", text);
		free(text);
		return EXIT_FAILED;
	}
	print_text(text);
	free(text);
	return 0;
}

static int
cmd_status(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return show_status(json ? FP_FORMAT_JSON : FP_FORMAT_TEXT);
}

static int
cmd_metrics(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* --json: the same figures as status --json. */
	return show_status(json ? FP_FORMAT_JSON : FP_FORMAT_PROMETHEUS);
}

static int
control(const char *command)
{
	struct fp_client	*c;
	char			*reply;
	size_t			 len = strcspn(command, " ");
	int			 r;

	c = connect_or_die();
	if ((r = fp_control(c, command, &reply)) == -1)
		link_failed(c);
	fp_close(c);
	if (json) {
		fputs("{\"command\":", stdout);
		json_string(stdout, command, strlen(command));
		printf(",\"status\":\"%s\",\"reply\":", fp_status_name(r));
		json_string(stdout, reply, strlen(reply));
		fputs("}\n", stdout);
		fflush(stdout);
	} else if (r == 0)
		print_text(reply);
	else if (strncmp(reply, command, len) == 0 && reply[len] == ':')
		warnx("%s", reply);	/* it names the command already */
	else
		warnx("%.*s: %s", (int)len, command, reply);
	free(reply);
	return r == 0 ? 0 : EXIT_FAILED;
}

static int
cmd_scale(int argc, char **argv)
{
	char		 command[32];
	const char	*errstr;
	long long	 n;

	(void)argc;
	n = strtonum(argv[1], 0, INT_MAX, &errstr);
	if (errstr != NULL) {
		warnx("scale: %s: the number of workers is %s", argv[1],
		    errstr);
		usage(EXIT_TROUBLE);
	}
	snprintf(command, sizeof command, "scale %lld", n);
	return control(command);
}

static int
cmd_top(int argc, char **argv)
{
	return top(socket_path, NULL, 0, argc, argv);
}

static int
cmd_simple(int argc, char **argv)
{
	(void)argc;
	return control(argv[0]);
}

static const struct command {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: any, the command parses them */
	int		(*run)(int, char **);
} commands[] = {
	{ "submit",	0, -1, cmd_submit },
	{ "status",	0, 0, cmd_status },
	{ "metrics",	0, 0, cmd_metrics },
	{ "top",	0, 1, cmd_top },
	{ "scale",	1, 1, cmd_scale },
	{ "reload",	0, 0, cmd_simple },
	{ "drain",	0, 0, cmd_simple },
	{ "stop",	0, 0, cmd_simple },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL,	'h' },
		{ "json",	no_argument,		NULL,	'j' },
		{ "socket",	required_argument,	NULL,	's' },
		{ "redis",	required_argument,	NULL,	'r' },
		{ "partitions",	required_argument,	NULL,	'P' },
		{ NULL,		0,			NULL,	0 }
	};
	const struct command	*cmd;
	const char		*errstr;
	size_t			 i;
	int			 ch, socket_given = 0, redis_given = 0;

	if ((socket_path = getenv("FORKPOOL_SOCKET")) == NULL ||
	    *socket_path == '\0')
		socket_path = SOCKET_DEFAULT;
	if ((redis_url = getenv("FORKPOOL_REDIS")) != NULL &&
	    *redis_url == '\0')
		redis_url = NULL;
	while ((ch = getopt_long(argc, argv, "+hjs:r:P:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 's':
			socket_path = optarg;
			socket_given = 1;
			break;
		case 'r':
			redis_url = optarg;
			redis_given = 1;
			break;
		case 'P':
			redis_partitions = strtonum(optarg, 1, 1 << 20,
			    &errstr);
			if (errstr != NULL) {
				warnx("partitions %s: %s", optarg, errstr);
				usage(EXIT_TROUBLE);
			}
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_TROUBLE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(EXIT_TROUBLE);
	if (socket_given && !redis_given)
		redis_url = NULL;	/* -s wins over $FORKPOOL_REDIS */
	if (redis_url != NULL) {
		if (strcmp(argv[0], "submit") == 0)
			return redis_submit(redis_url, redis_partitions, argc,
			    argv);
		if (strcmp(argv[0], "status") == 0 && argc == 1)
			return redis_status(redis_url, redis_partitions);
		if (strcmp(argv[0], "top") == 0)
			return top(NULL, redis_url, redis_partitions, argc,
			    argv);
		warnx("%s: with --redis, only submit, status and top",
		    argv[0]);
		usage(EXIT_TROUBLE);
	}

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof commands / sizeof commands[0]) {
		warnx("unknown command: %s", argv[0]);
		usage(EXIT_TROUBLE);
	}
	cmd = &commands[i];
	if (argc - 1 < cmd->min_args ||
	    (cmd->max_args >= 0 && argc - 1 > cmd->max_args)) {
		warnx("%s: wrong number of arguments", cmd->name);
		usage(EXIT_TROUBLE);
	}
	return cmd->run(argc, argv);
}
