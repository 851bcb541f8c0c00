/*
 * fp_partition() is the supervisor's partition function: FNV-1a 32 of
 * the key modulo the partitions.  A producer that disagreed would put
 * keyed jobs in streams the supervisors refuse, so the hash is checked
 * against the published FNV-1a 32 test vectors.
 */
#include <stdint.h>
#include <string.h>

#include "forkpool.h"
#include "tap.h"

int
main(void)
{
	tap_plan(6);
	tap_ok(fp_partition("", 0, UINT32_MAX) == 0x811c9dc5U % UINT32_MAX,
	    "the empty key: the offset basis");
	tap_ok(fp_partition("a", 1, UINT32_MAX) == 0xe40c292cU % UINT32_MAX,
	    "FNV-1a 32 of \"a\"");
	tap_ok(fp_partition("foobar", 6, UINT32_MAX) ==
	    0xbf9cf968U % UINT32_MAX, "FNV-1a 32 of \"foobar\"");
	tap_ok(fp_partition("alice", 5, 16) == 7, "\"alice\" in 16 partitions");
	tap_ok(fp_partition("k\0ey", 4, 1) == 0, "one partition: always 0");
	tap_ok(fp_partition("x", 1, 0) == 0, "no partitions: 0, not a crash");
	return tap_done();
}
