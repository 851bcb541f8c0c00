/*
 * libforkpool built without hiredis: the Redis calls exist, and say so.
 */
#include <errno.h>
#include <stdio.h>

#include "forkpool.h"

#define NO_REDIS	"libforkpool was built without Redis support"

struct fp_redis	*
fp_redis_connect(const char *url, unsigned partitions, char *err,
    size_t errlen)
{
	(void)url;
	(void)partitions;
	if (errlen > 0)
		snprintf(err, errlen, "%s", NO_REDIS);
	errno = ENOTSUP;
	return NULL;
}

/* No struct fp_redis is ever made, so the others are never reached. */
void
fp_redis_close(struct fp_redis *r)
{
	(void)r;
}

int
fp_redis_set_pack(struct fp_redis *r, unsigned jobs)
{
	(void)r;
	(void)jobs;
	errno = EINVAL;
	return -1;
}

void
fp_redis_set_retry(struct fp_redis *r, int ms)
{
	(void)r;
	(void)ms;
}

unsigned
fp_redis_partitions(const struct fp_redis *r)
{
	(void)r;
	return 0;
}

const char *
fp_redis_error(const struct fp_redis *r)
{
	(void)r;
	return NO_REDIS;
}

int
fp_redis_submit(struct fp_redis *r, uint64_t id, const void *key,
    size_t keylen, const void *payload, size_t len, unsigned flags)
{
	(void)r, (void)id, (void)key, (void)keylen, (void)payload, (void)len,
	    (void)flags;
	errno = ENOTSUP;
	return -1;
}

int
fp_redis_flush(struct fp_redis *r)
{
	(void)r;
	errno = ENOTSUP;
	return -1;
}

int
fp_redis_receive(struct fp_redis *r, struct fp_result *res, int timeout_ms)
{
	(void)r, (void)res, (void)timeout_ms;
	errno = ENOTSUP;
	return -1;
}

size_t
fp_redis_pending(const struct fp_redis *r)
{
	(void)r;
	return 0;
}

int
fp_redis_status(struct fp_redis *r, unsigned format, char **text)
{
	(void)r, (void)format;
	*text = NULL;
	errno = ENOTSUP;
	return -1;
}

