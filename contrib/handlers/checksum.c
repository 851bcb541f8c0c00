/*
 * An example plugin with state (forkpool_handler(3)), on zlib:
 *
 *	checksum.so crc32	the CRC-32 of the payload, 8 hex digits
 *	checksum.so adler32	its Adler-32, 8 hex digits
 *	checksum.so deflate [LEVEL]
 *				the size in bytes of the payload compressed
 *				with deflate at LEVEL (0 to 9, default 6)
 *
 * Each worker (or thread) gets its own state from init: the algorithm,
 * and for deflate a z_stream and an output buffer, set up once and reset
 * for each job rather than allocated per job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "forkpool_handler.h"

enum algorithm { CRC32, ADLER32, DEFLATE };

struct checksum {
	enum algorithm	 algorithm;
	z_stream	 z;
	unsigned char	*buf;
	size_t		 bufsize;
};

static int
checksum_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	struct checksum	*c;
	char		*end;
	long		 level = Z_DEFAULT_COMPRESSION;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (argc == 1 && strcmp(argv[0], "crc32") == 0)
		c->algorithm = CRC32;
	else if (argc == 1 && strcmp(argv[0], "adler32") == 0)
		c->algorithm = ADLER32;
	else if ((argc == 1 || argc == 2) && strcmp(argv[0], "deflate") == 0) {
		c->algorithm = DEFLATE;
		if (argc == 2) {
			level = strtol(argv[1], &end, 10);
			if (*argv[1] == '\0' || *end != '\0' || level < 0 ||
			    level > 9) {
				snprintf(err, errlen, "deflate LEVEL: %s: "
				    "expected 0 to 9", argv[1]);
				free(c);
				return -1;
			}
		}
		if (deflateInit(&c->z, (int)level) != Z_OK) {
			snprintf(err, errlen, "deflateInit: %s",
			    c->z.msg != NULL ? c->z.msg : "failed");
			free(c);
			return -1;
		}
		c->bufsize = 64 * 1024;
		if ((c->buf = malloc(c->bufsize)) == NULL) {
			snprintf(err, errlen, "%s", strerror(errno));
			deflateEnd(&c->z);
			free(c);
			return -1;
		}
	} else {
		snprintf(err, errlen, "usage: checksum.so crc32 | adler32 | "
		    "deflate [LEVEL]");
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

/* The compressed size: the output is counted, not kept. */
static int
deflated_size(struct checksum *c, const struct fp_job *job,
    unsigned long long *size)
{
	const char	*p = job->payload;
	size_t		 left = job->paylen;
	uInt		 chunk;
	int		 rc, flush;

	if (deflateReset(&c->z) != Z_OK)
		return -1;
	*size = 0;
	do {
		/* avail_in is a uInt: feed a large payload in pieces. */
		chunk = left > 1U << 30 ? 1U << 30 : (uInt)left;
		c->z.next_in = (Bytef *)(uintptr_t)p;
		c->z.avail_in = chunk;
		p += chunk;
		left -= chunk;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			c->z.next_out = c->buf;
			c->z.avail_out = (uInt)c->bufsize;
			rc = deflate(&c->z, flush);
			if (rc == Z_STREAM_ERROR)
				return -1;
			*size += c->bufsize - c->z.avail_out;
		} while (c->z.avail_out == 0);
	} while (flush != Z_FINISH);
	return rc == Z_STREAM_END ? 0 : -1;
}

static int
checksum_handle(void *state, const struct fp_job *job, struct fp_output *out)
{
	static const char	 failed[] = "deflate failed";
	struct checksum		*c = state;
	unsigned long long	 size;
	unsigned long		 sum;
	char			 buf[32];
	int			 n;

	switch (c->algorithm) {
	case CRC32:
		sum = crc32_z(crc32(0, Z_NULL, 0),
		    (const Bytef *)job->payload, job->paylen);
		n = snprintf(buf, sizeof buf, "%08lx", sum);
		break;
	case ADLER32:
		sum = adler32_z(adler32(0, Z_NULL, 0),
		    (const Bytef *)job->payload, job->paylen);
		n = snprintf(buf, sizeof buf, "%08lx", sum);
		break;
	default:
		if (deflated_size(c, job, &size) == -1) {
			fp_output_append(out, failed, sizeof failed - 1);
			return FP_HANDLER_ERROR;
		}
		n = snprintf(buf, sizeof buf, "%llu", size);
		break;
	}
	if (fp_output_append(out, buf, n) == -1)
		return FP_HANDLER_ERROR;
	return FP_HANDLER_OK;
}

static void
checksum_fini(void *state)
{
	struct checksum	*c = state;

	if (c->algorithm == DEFLATE) {
		deflateEnd(&c->z);
		free(c->buf);
	}
	free(c);
}

const struct fp_handler forkpool_handler = {
	.abi_version = FP_HANDLER_ABI_VERSION,
	.name = "checksum",
	.init = checksum_init,
	.handle = checksum_handle,
	.fini = checksum_fini,
};
