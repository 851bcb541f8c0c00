/*
 * The source URL of a pool in Redis, checked exactly: a URL that names
 * no pool, a port out of range or a path too long for a socket address
 * is refused with the reason, before anything connects.  A password in
 * it is never shown: messages print the URL masked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redisurl.h"

#define URL_MAX		2048

static int
url_error(char *err, size_t errlen, const char *url, const char *why)
{
	char	shown[URL_MAX + 16];

	redis_url_mask(url, shown, sizeof shown);
	if (errlen > 0)
		snprintf(err, errlen, "source %s: %s (expected "
		    "redis://[[USER]:PASSWORD@]HOST[:PORT]/POOL[?db=N], "
		    "redis+unix://[[USER]:PASSWORD@]/PATH/POOL[?db=N] or "
		    "redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]"
		    "...]/POOL)",
		    shown, why);
	return -1;
}

/*
 * The '@' that ends the credentials of the part after the scheme, or
 * NULL.  Over TCP it is the last '@' (no host, pool or db has one); over
 * a Unix socket, whose path begins with '/', the first "@/".
 */
static const char *
userinfo_end(const char *s, int is_unix)
{
	if (is_unix)
		return *s == '/' ? NULL : strstr(s, "@/");
	return strrchr(s, '@');
}

static const char *
after_scheme(const char *url, int *is_unix, int *is_cluster)
{
	*is_unix = *is_cluster = 0;
	if (strncmp(url, "redis://", 8) == 0)
		return url + 8;
	if (strncmp(url, "redis+unix://", 13) == 0) {
		*is_unix = 1;
		return url + 13;
	}
	if (strncmp(url, "redis+cluster://", 16) == 0) {
		*is_cluster = 1;
		return url + 16;
	}
	return NULL;
}

/* The URL with its password replaced by "***", for messages. */
void
redis_url_mask(const char *url, char *out, size_t outlen)
{
	const char	*s, *at, *colon;
	int		 is_unix, is_cluster;

	if ((s = after_scheme(url, &is_unix, &is_cluster)) == NULL) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	/* A Unix URL with credentials but no absolute path is masked too. */
	if ((at = userinfo_end(s, is_unix)) == NULL && *s != '/')
		at = strrchr(s, '@');
	if (at == NULL) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	colon = memchr(s, ':', at - s);
	if (colon != NULL)
		snprintf(out, outlen, "%.*s***%s", (int)(colon + 1 - url), url,
		    at);
	else
		snprintf(out, outlen, "%.*s***%s", (int)(s - url), url, at);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undoes %XX escapes into out (NUL-terminated); -1 if it cannot. */
static int
unescape(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	i, n = 0;
	int	hi, lo;

	for (i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return -1;
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hexval(s[i + 1])) == -1 ||
		    (lo = hexval(s[i + 2])) == -1 || (hi == 0 && lo == 0))
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';
	return 0;
}

static int
parse_userinfo(const char *url, const char *s, size_t len,
    struct redis_url *u, char *err, size_t errlen)
{
	const char	*colon = memchr(s, ':', len);
	size_t		 ulen = colon != NULL ? (size_t)(colon - s) : 0;
	const char	*pw = colon != NULL ? colon + 1 : s;
	size_t		 pwlen = len - (pw - s);

	if (unescape(s, ulen, u->user, sizeof u->user) == -1)
		return url_error(err, errlen, url, "a bad or too long user");
	/* USER: with no password is for a password file, or nopass. */
	if (pwlen == 0 && ulen == 0)
		return url_error(err, errlen, url, "an empty password");
	if (unescape(pw, pwlen, u->password, sizeof u->password) == -1)
		return url_error(err, errlen, url, "a bad or too long "
		    "password (escape '%', '@', '/' and ':' as %XX)");
	return 0;
}

/* The query: db=N, nothing else. */
static int
parse_query(const char *url, const char *q, struct redis_url *u,
    char *err, size_t errlen)
{
	char	*end;
	long	 n;

	if (strncmp(q, "db=", 3) != 0)
		return url_error(err, errlen, url, "the only parameter is "
		    "db=N");
	errno = 0;
	n = strtol(q + 3, &end, 10);
	if (errno != 0 || end == q + 3 || *end != '\0' || n < 0 ||
	    n > REDIS_DB_MAX || q[3] < '0' || q[3] > '9')
		return url_error(err, errlen, url, "db=N: N must be a number "
		    "from 0 to 1000000");
	u->db = (int)n;
	return 0;
}

/* A pool name: letters, digits and "_.-", so that it fits in a hash tag. */
static int
pool_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > REDIS_POOL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]) == NULL)
			return 0;
	return 1;
}

/* A consumer name: printable, without blanks, at most 128 bytes. */
int
redis_consumer_valid(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > REDIS_CONSUMER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
parse_port(const char *s, size_t len, int *port)
{
	size_t	i;
	long	n = 0;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n < 1 || n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

/* HOST[:PORT] in s (len bytes), with HOST perhaps an [IPv6] address. */
static int
parse_hostport(const char *url, const char *s, size_t len, char *host,
    size_t hostsize, int *port, char *err, size_t errlen)
{
	const char	*end = s + len, *hostend, *colon = NULL, *h = s;
	size_t		 hostlen, i;

	if (*s == '[') {
		if ((hostend = memchr(s, ']', len)) == NULL)
			return url_error(err, errlen, url, "no ] after [");
		h = s + 1;
		hostlen = hostend - h;
		for (i = 0; i < hostlen; i++)
			if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL)
				return url_error(err, errlen, url,
				    "not an IPv6 address in [ ]");
		if (hostend + 1 != end) {
			if (hostend[1] != ':')
				return url_error(err, errlen, url,
				    "expected :PORT after ]");
			colon = hostend + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		hostend = colon != NULL ? colon : end;
		hostlen = hostend - s;
		for (i = 0; i < hostlen; i++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
			    "TUVWXYZ0123456789.-", s[i]) == NULL)
				return url_error(err, errlen, url,
				    "a bad character in the host");
	}
	if (hostlen == 0)
		return url_error(err, errlen, url, "no host");
	if (hostlen >= hostsize)
		return url_error(err, errlen, url, "host too long");
	memcpy(host, h, hostlen);
	host[hostlen] = '\0';
	*port = REDIS_PORT_DEFAULT;
	if (colon != NULL && parse_port(colon + 1, end - colon - 1,
	    port) == -1)
		return url_error(err, errlen, url, "not a port from 1 to 65535");
	return 0;
}

static int
parse_pool(const char *url, const char *s, struct redis_url *u, char *err,
    size_t errlen)
{
	if (!pool_valid(s, strlen(s)))
		return url_error(err, errlen, url, "the pool must be 1 to 64 "
		    "letters, digits, '_', '.' or '-'");
	memcpy(u->pool, s, strlen(s) + 1);
	return 0;
}

static int
parse_tcp(const char *url, const char *s, struct redis_url *u, char *err,
    size_t errlen)
{
	const char	*slash;

	if ((slash = strchr(s, '/')) == NULL)
		return url_error(err, errlen, url, "no pool");
	if (parse_hostport(url, s, slash - s, u->host, sizeof u->host,
	    &u->port, err, errlen) == -1)
		return -1;
	return parse_pool(url, slash + 1, u, err, errlen);
}

/*
 * The seeds of a cluster, HOST[:PORT] separated by commas: any of them
 * gives the slot map.  The first is also the URL's host and port.
 */
static int
parse_cluster(const char *url, const char *s, struct redis_url *u,
    char *err, size_t errlen)
{
	const char		*slash, *comma;
	struct redis_seed	*seed;

	if ((slash = strchr(s, '/')) == NULL)
		return url_error(err, errlen, url, "no pool");
	if (u->db != 0)
		return url_error(err, errlen, url, "a cluster has only "
		    "database 0");
	u->cluster = 1;
	for (;;) {
		if ((comma = memchr(s, ',', slash - s)) == NULL)
			comma = slash;
		if (u->nseeds == REDIS_SEEDS_MAX)
			return url_error(err, errlen, url, "more than 16 "
			    "nodes");
		seed = &u->seed[u->nseeds++];
		if (parse_hostport(url, s, comma - s, seed->host,
		    sizeof seed->host, &seed->port, err, errlen) == -1)
			return -1;
		if (comma == slash)
			break;
		s = comma + 1;
	}
	snprintf(u->host, sizeof u->host, "%s", u->seed[0].host);
	u->port = u->seed[0].port;
	return parse_pool(url, slash + 1, u, err, errlen);
}

static int
parse_unix(const char *url, const char *s, struct redis_url *u, char *err,
    size_t errlen)
{
	const char	*slash;
	size_t		 len;

	if (*s != '/')
		return url_error(err, errlen, url, "the socket path must be "
		    "absolute");
	slash = strrchr(s, '/');
	len = slash - s;
	if (len == 0)
		return url_error(err, errlen, url, "no socket path before "
		    "the pool");
	if (len >= sizeof u->path)
		return url_error(err, errlen, url, "socket path too long");
	memcpy(u->path, s, len);
	u->path[len] = '\0';
	return parse_pool(url, slash + 1, u, err, errlen);
}

/* Fills u from url; -1 with the reason in err when it is not one. */
int
redis_url_parse(const char *url, struct redis_url *u, char *err,
    size_t errlen)
{
	char		 body[URL_MAX + 1], *q;
	const char	*s, *at;
	int		 is_unix, is_cluster;

	memset(u, 0, sizeof *u);
	if (strlen(url) > URL_MAX)
		return url_error(err, errlen, "(a URL)", "longer than 2048 "
		    "bytes");
	if ((s = after_scheme(url, &is_unix, &is_cluster)) == NULL)
		return url_error(err, errlen, url, "not a Redis URL");
	if ((at = userinfo_end(s, is_unix)) != NULL) {
		if (parse_userinfo(url, s, at - s, u, err, errlen) == -1)
			return -1;
		s = at + 1;
	}
	snprintf(body, sizeof body, "%s", s);
	if ((q = strchr(body, '?')) != NULL) {
		*q++ = '\0';
		if (parse_query(url, q, u, err, errlen) == -1)
			return -1;
	}
	if (is_unix)
		return parse_unix(url, body, u, err, errlen);
	if (is_cluster)
		return parse_cluster(url, body, u, err, errlen);
	return parse_tcp(url, body, u, err, errlen);
}

/*
 * The password from the first line of a file, so that it need not be on
 * a command line; it replaces one in the URL.
 */
int
redis_url_password_file(struct redis_url *u, const char *path, char *err,
    size_t errlen)
{
	FILE	*f;
	char	 line[sizeof u->password + 1];
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "password file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	if (line[n] == '\0' && n == sizeof line - 1) {
		snprintf(err, errlen, "password file %s: a password longer "
		    "than %zu bytes", path, sizeof u->password - 1);
		return -1;
	}
	line[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "password file %s: no password on its "
		    "first line", path);
		return -1;
	}
	memcpy(u->password, line, n + 1);
	explicit_bzero(line, sizeof line);
	return 0;
}

/* The AUTH command for u in argv (3 slots): its argc, 0 for none. */
int
redis_url_auth_argv(const struct redis_url *u, const char **argv,
    size_t *argvlen)
{
	int	argc = 0, i;

	if (u->password[0] == '\0' && u->user[0] == '\0')
		return 0;
	argv[argc++] = "AUTH";
	if (u->user[0] != '\0')
		argv[argc++] = u->user;
	argv[argc++] = u->password;
	for (i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	return argc;
}
