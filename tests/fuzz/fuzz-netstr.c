/*
 * libFuzzer target for the netstring reader, which reads the packed jobs
 * and results of Redis entries that any client of Redis may write.
 * Checks, on any input, that it never reads out of bounds, that every
 * string it accepts re-encodes to the very bytes it came from, and that
 * netstr_count agrees with reading them one by one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/netstr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct netstr	 ns;
	struct buf	 re;
	const char	*s;
	size_t		 n, used = 0;
	long		 count = 0;
	int		 rc;

	buf_init(&re);
	netstr_begin(&ns, data, len);
	while ((rc = netstr_next(&ns, &s, &n)) == 1) {
		if (s < (const char *)data || s + n > (const char *)data + len)
			abort();
		if (netstr_put(&re, s, n) == -1)
			abort();
		if (re.len - used != netstr_size(n) ||
		    memcmp(buf_head(&re) + used, data + used, re.len - used))
			abort();
		used = re.len;
		count++;
	}
	/* A refusal leaves the reader where the bad string starts. */
	if ((rc == 0 && used != len) || (rc == -1 && ns.left != len - used))
		abort();
	if (netstr_count(data, len, count) != (rc == 0 ? count : -1))
		abort();
	buf_free(&re);
	return 0;
}
