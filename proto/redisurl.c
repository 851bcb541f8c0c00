/*
 * The source URL of a pool in Redis, checked exactly: a URL that names
 * no pool, a port out of range or a path too long for a socket address
 * is refused with the reason, before anything connects.
 */
#include <stdio.h>
#include <string.h>

#include "redisurl.h"

static int
url_error(char *err, size_t errlen, const char *url, const char *why)
{
	if (errlen > 0)
		snprintf(err, errlen, "source %s: %s (expected "
		    "redis://HOST[:PORT]/POOL or redis+unix:///PATH/POOL)",
		    url, why);
	return -1;
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

static int
parse_tcp(const char *url, const char *s, struct redis_url *u, char *err,
    size_t errlen)
{
	const char	*slash, *hostend, *colon = NULL, *h = s;
	size_t		 hostlen, i;

	if ((slash = strchr(s, '/')) == NULL)
		return url_error(err, errlen, url, "no pool");
	if (*s == '[') {
		if ((hostend = memchr(s, ']', slash - s)) == NULL)
			return url_error(err, errlen, url, "no ] after [");
		h = s + 1;
		hostlen = hostend - h;
		for (i = 0; i < hostlen; i++)
			if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL)
				return url_error(err, errlen, url,
				    "not an IPv6 address in [ ]");
		if (hostend + 1 != slash) {
			if (hostend[1] != ':')
				return url_error(err, errlen, url,
				    "expected :PORT after ]");
			colon = hostend + 1;
		}
	} else {
		colon = memchr(s, ':', slash - s);
		hostend = colon != NULL ? colon : slash;
		hostlen = hostend - s;
		for (i = 0; i < hostlen; i++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
			    "TUVWXYZ0123456789.-", s[i]) == NULL)
				return url_error(err, errlen, url,
				    "a bad character in the host");
	}
	if (hostlen == 0)
		return url_error(err, errlen, url, "no host");
	if (hostlen >= sizeof u->host)
		return url_error(err, errlen, url, "host too long");
	memcpy(u->host, h, hostlen);
	u->host[hostlen] = '\0';
	u->port = REDIS_PORT_DEFAULT;
	if (colon != NULL && parse_port(colon + 1, slash - colon - 1,
	    &u->port) == -1)
		return url_error(err, errlen, url, "not a port from 1 to 65535");
	if (!pool_valid(slash + 1, strlen(slash + 1)))
		return url_error(err, errlen, url, "the pool must be 1 to 64 "
		    "letters, digits, '_', '.' or '-'");
	memcpy(u->pool, slash + 1, strlen(slash + 1) + 1);
	return 0;
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
	if (!pool_valid(slash + 1, strlen(slash + 1)))
		return url_error(err, errlen, url, "the pool must be 1 to 64 "
		    "letters, digits, '_', '.' or '-'");
	memcpy(u->path, s, len);
	u->path[len] = '\0';
	memcpy(u->pool, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

/* Fills u from url; -1 with the reason in err when it is not one. */
int
redis_url_parse(const char *url, struct redis_url *u, char *err,
    size_t errlen)
{
	memset(u, 0, sizeof *u);
	if (strncmp(url, "redis://", 8) == 0)
		return parse_tcp(url, url + 8, u, err, errlen);
	if (strncmp(url, "redis+unix://", 13) == 0)
		return parse_unix(url, url + 13, u, err, errlen);
	return url_error(err, errlen, url, "not a Redis URL");
}
