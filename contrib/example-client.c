/*
 * An example client of a forkpool service, written against libforkpool
 * alone: it submits N jobs without waiting ("job 1" ... "job N"), then
 * prints each result as it comes, in completion order.
 *
 *	cc -o example-client example-client.c \
 *	    $(pkg-config --cflags --libs forkpool)
 *	forkpool --listen /tmp/fp.sock -w 4 builtin:fnv &
 *	./example-client /tmp/fp.sock 10
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <forkpool.h>

int
main(int argc, char **argv)
{
	struct fp_client	*c;
	struct fp_result	 r;
	char			 err[FP_ERRBUF_SIZE], job[32];
	unsigned long		 i, n;
	int			 got, failed = 0;

	if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: example-client SOCKET N\n");
		return 2;
	}
	if ((c = fp_connect(argv[1], err, sizeof err)) == NULL) {
		fprintf(stderr, "example-client: %s\n", err);
		return 2;
	}
	printf("connected to forkpool %s, pid %ld\n", fp_server_version(c),
	    (long)fp_server_pid(c));

	/* Queue every job; fp_receive() sends them all before it waits. */
	for (i = 1; i <= n; i++) {
		snprintf(job, sizeof job, "job %lu", i);
		if (fp_submit(c, i, NULL, 0, job, strlen(job), 0) == -1) {
			fprintf(stderr, "example-client: %s\n", fp_error(c));
			return 2;
		}
	}

	/* r.data points into the client's buffer until the next call. */
	while ((got = fp_receive(c, &r)) == 1) {
		printf("%llu %s %.*s\n", (unsigned long long)r.id,
		    fp_status_name(r.status), (int)r.len, r.data);
		if (r.status != FP_STATUS_OK)
			failed++;
	}
	if (got == -1) {
		fprintf(stderr, "example-client: %s\n", fp_error(c));
		fp_close(c);
		return 2;
	}
	fp_close(c);
	return failed > 0;
}
