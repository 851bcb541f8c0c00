/* Netstrings: well-formed ones read back, every malformed one refused. */
#include <string.h>

#include "proto/netstr.h"
#include "tap.h"

/* Whether s (len bytes) is exactly the strings want[], in order. */
static int
reads_as(const char *s, size_t len, const char **want, int nwant)
{
	struct netstr	 ns;
	const char	*p;
	size_t		 n;
	int		 i = 0, rc;

	netstr_begin(&ns, s, len);
	while ((rc = netstr_next(&ns, &p, &n)) == 1) {
		if (i == nwant || n != strlen(want[i]) ||
		    memcmp(p, want[i], n) != 0)
			return 0;
		i++;
	}
	return rc == 0 && i == nwant;
}

int
main(void)
{
	static const char	*bad[] = { "5:abc,", "3:abcd", "3:abc", "3abc,",
				    ":abc,", "03:abc,", "-1:,", "1:a,x",
				    "12345678901:a,", "3:abc;", " 3:abc,",
				    "3 :abc,", "4294967296:," };
	const char		*three[] = { "a", "", "xyz" };
	const char		*one[] = { "a,b:c" };
	struct buf		 b;
	char			 big[70000];
	const char		*bigs[] = { big };
	size_t			 i;
	int			 refused = 1;

	tap_plan(9);
	tap_ok(reads_as("1:a,0:,3:xyz,", 13, three, 3),
	    "three strings, one empty, read back");
	tap_ok(reads_as("5:a,b:c,", 8, one, 1),
	    "a string holding ':' and ',' is read whole");
	tap_ok(reads_as("", 0, three, 0), "no bytes are no strings");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (netstr_count(bad[i], strlen(bad[i]), 100) != -1) {
			tap_diag("accepted: %s", bad[i]);
			refused = 0;
		}
	tap_ok(refused, "%zu malformed inputs are refused",
	    sizeof bad / sizeof bad[0]);
	tap_ok(netstr_count("1:a,1:b,1:c,", 12, 2) == -1 &&
	    netstr_count("1:a,1:b,1:c,", 12, 3) == 3,
	    "a count past the most allowed is refused");
	tap_ok(netstr_count("1:a\0", 4, 9) == -1,
	    "a NUL after the last string is refused");

	buf_init(&b);
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	netstr_put(&b, "a", 1);
	netstr_put(&b, "", 0);
	netstr_put(&b, "xyz", 3);
	tap_ok(b.len == 13 && memcmp(buf_head(&b), "1:a,0:,3:xyz,", 13) == 0,
	    "netstr_put writes what is read back");
	buf_consume(&b, b.len);
	netstr_put(&b, big, strlen(big));
	tap_ok(reads_as(buf_head(&b), b.len, bigs, 1),
	    "a 69,999-byte string goes and comes back");
	tap_ok(netstr_size(strlen(big)) == b.len && netstr_size(0) == 3,
	    "netstr_size counts what netstr_put writes");
	buf_free(&b);
	return tap_done();
}
