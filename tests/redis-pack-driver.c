/*
 * A producer for tests/redis-pack-prod.sh, on libforkpool: it submits
 * each line of standard input, "FLAGS KEY PAYLOAD", as a job whose id is
 * its line number, and exits once Redis holds them all, waiting for no
 * result.  FLAGS are letters: k keyed (by KEY), h high priority, d
 * detached, b big (PAYLOAD is a size: the payload is that many bytes),
 * or "-" for none.  Jobs are packed as libforkpool does by default.
 *
 *   redis-pack-driver URL
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkpool.h"

int
main(int argc, char **argv)
{
	struct fp_redis	*r;
	char		 line[1024], err[FP_ERRBUF_SIZE], *key, *payload, *big;
	unsigned	 flags;
	size_t		 len;
	uint64_t	 id = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: redis-pack-driver URL\n");
		return 2;
	}
	if ((r = fp_redis_connect(argv[1], 0, err, sizeof err)) == NULL) {
		fprintf(stderr, "redis-pack-driver: %s\n", err);
		return 2;
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((key = strchr(line, ' ')) == NULL ||
		    (payload = strchr(key + 1, ' ')) == NULL) {
			fprintf(stderr, "redis-pack-driver: a bad line\n");
			return 2;
		}
		*key++ = '\0';
		*payload++ = '\0';
		flags = (strchr(line, 'k') ? FP_F_KEYED : 0) |
		    (strchr(line, 'h') ? FP_F_HIGH : 0) |
		    (strchr(line, 'd') ? FP_F_DETACHED : 0);
		len = strlen(payload);
		big = NULL;
		if (strchr(line, 'b') != NULL) {
			len = strtoul(payload, NULL, 10);
			if ((payload = big = malloc(len + 1)) == NULL)
				return 2;
			memset(big, 'x', len);
		}
		if (fp_redis_submit(r, ++id, key, strlen(key), payload, len,
		    flags) == -1) {
			fprintf(stderr, "redis-pack-driver: %s\n",
			    fp_redis_error(r));
			return 2;
		}
		free(big);
	}
	if (fp_redis_flush(r) == -1) {
		fprintf(stderr, "redis-pack-driver: %s\n", fp_redis_error(r));
		return 2;
	}
	fp_redis_close(r);
	return 0;
}
