/*
 * An exec: worker in C, on libforkpool's frame codec: the fnv and cpu
 * handlers of forkpool's builtins, run as an external program.
 *
 *	forkpool -w 4 'exec:exec-worker fnv'
 *	forkpool -w 4 'exec:exec-worker cpu 100000'
 *	forkpool -w 4 'lines:exec-worker -l fnv'
 *
 * It says HELLO, then reads as many JOB frames as there are, answers
 * each with a RESULT, and writes all the answers at once: forkpool keeps
 * many jobs in flight, so a worker that writes once per read is not bound
 * by one round trip per job.  With -l it speaks lines: instead, one line
 * in, one line out.  It is built in forkpool's tree (make check), where it
 * takes the hash from proto/fnv.h; the benchmark (bench/handlers) runs it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkpool.h"
#include "proto/fnv.h"

#define CHUNK	(256 * 1024)

static long long	iter = 1;

struct bytes {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
die(const char *what)
{
	fprintf(stderr, "exec-worker: %s\n", what);
	exit(1);
}

static char *
room(struct bytes *b, size_t n)
{
	if (b->cap - b->len < n) {
		while (b->cap - b->len < n)
			b->cap = b->cap ? b->cap * 2 : CHUNK;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			die("out of memory");
	}
	return b->p + b->len;
}

static void
write_all(struct bytes *b)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < b->len) {
		if ((n = write(STDOUT_FILENO, b->p + off, b->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			exit(0);	/* forkpool has gone */
		}
		off += n;
	}
	b->len = 0;
}

/* Reads what there is on standard input into in; 0 at its end. */
static int
read_more(struct bytes *in)
{
	ssize_t	n;

	while ((n = read(STDIN_FILENO, room(in, CHUNK), CHUNK)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0)
		return 0;
	in->len += n;
	return 1;
}

/* Drops the first n bytes of in, which have been handled. */
static void
consume(struct bytes *in, size_t n)
{
	memmove(in->p, in->p + n, in->len - n);
	in->len -= n;
}

/* Appends a frame with an empty key and this payload to out. */
static void
put_frame(struct bytes *out, unsigned type, uint64_t id, const char *p,
    size_t len)
{
	struct fp_frame	f;

	memset(&f, 0, sizeof f);
	f.type = type;
	f.id = id;
	f.payload = p;
	f.paylen = len;
	out->len += fp_frame_encode(room(out, fp_frame_size(0, len)), &f);
}

static void
serve_frames(void)
{
	struct bytes	 in = { 0 }, out = { 0 };
	struct fp_frame	 f;
	const char	*why;
	char		 hex[FNV_HEX_LEN];
	size_t		 off, need;
	int		 rc;

	put_frame(&out, FP_MSG_HELLO, 0, NULL, 0);
	write_all(&out);
	while (read_more(&in)) {
		off = 0;
		while ((rc = fp_frame_decode(in.p + off, in.len - off,
		    FP_FRAME_MAX_DEFAULT, &f, &need, &why)) == 1) {
			if (f.type != FP_MSG_JOB)
				die("not a JOB frame");
			fnv_hex(fnv1a_repeat(f.payload, f.paylen, iter), hex);
			put_frame(&out, FP_MSG_RESULT, f.id, hex, sizeof hex);
			off += need;
		}
		if (rc == -1)
			die(why);
		consume(&in, off);
		write_all(&out);
	}
	free(in.p);
	free(out.p);
}

static void
serve_lines(void)
{
	struct bytes	 in = { 0 }, out = { 0 };
	char		*nl, *line;
	size_t		 off;

	while (read_more(&in)) {
		off = 0;
		while ((nl = memchr(in.p + off, '\n', in.len - off)) != NULL) {
			line = in.p + off;
			fnv_hex(fnv1a_repeat(line, nl - line, iter),
			    room(&out, FNV_HEX_LEN + 1));
			out.p[out.len + FNV_HEX_LEN] = '\n';
			out.len += FNV_HEX_LEN + 1;
			off = nl + 1 - in.p;
		}
		consume(&in, off);
		write_all(&out);
	}
	free(in.p);
	free(out.p);
}

int
main(int argc, char **argv)
{
	int	lines = 0;

	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		lines = 1;
		argc--;
		argv++;
	}
	if (argc == 3 && strcmp(argv[1], "cpu") == 0) {
		iter = strtoll(argv[2], NULL, 10);
		if (iter < 1)
			die("cpu ITER: ITER must be at least 1");
	} else if (argc != 2 || strcmp(argv[1], "fnv") != 0) {
		fprintf(stderr, "usage: exec-worker [-l] fnv | cpu ITER\n");
		return 2;
	}
	if (lines)
		serve_lines();
	else
		serve_frames();
	return 0;
}
