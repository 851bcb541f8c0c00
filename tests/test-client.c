/*
 * libforkpool against a supervisor played by the test: real sockets (a
 * socketpair, or a listening socket in a temporary directory), real frames
 * written on the server's end, by the test itself or by a thread when the
 * client must block meanwhile.  Only the public API (forkpool.h) is used.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkpool.h"
#include "tap.h"

/* --- the server's end --------------------------------------------------- */

struct srv {
	int		 fd;
	unsigned char	*buf;		/* bytes read, not yet decoded */
	size_t		 len;
	size_t		 cap;
	size_t		 taken;		/* bytes of the frame returned last */
};

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
write_all(int fd, const void *p, size_t len)
{
	const char	*s = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		s += n;
		len -= n;
	}
}

/* Encodes a frame into a malloc'd buffer of *size bytes. */
static unsigned char *
encode(uint8_t type, uint16_t flags, uint16_t aux, uint32_t arg, uint64_t id,
    const char *key, const char *payload, size_t paylen, size_t *size)
{
	struct fp_frame	 f;
	unsigned char	*p;

	memset(&f, 0, sizeof f);
	f.type = type;
	f.flags = flags;
	f.aux = aux;
	f.arg = arg;
	f.id = id;
	f.key = key;
	f.keylen = key == NULL ? 0 : strlen(key);
	f.payload = payload;
	f.paylen = paylen;
	*size = fp_frame_size(f.keylen, paylen);
	if ((p = malloc(*size)) == NULL)
		die("malloc");
	if (fp_frame_encode(p, &f) != *size) {
		printf("Bail out! fp_frame_encode\n");
		exit(1);
	}
	return p;
}

static void
send_frame(int fd, uint8_t type, uint16_t aux, uint32_t arg, uint64_t id,
    const char *payload)
{
	unsigned char	*p;
	size_t		 size;

	p = encode(type, 0, aux, arg, id, NULL, payload,
	    payload == NULL ? 0 : strlen(payload), &size);
	write_all(fd, p, size);
	free(p);
}

static void
send_hello(int fd)
{
	send_frame(fd, FP_MSG_HELLO, 0, 4242, 0, "forkpool 0.1.0");
}

/*
 * Reads the next frame the client sent: 1, 0 at end of file, -1 on a bad
 * frame, 2 when none is whole yet and block is 0.
 */
static int
srv_frame_wait(struct srv *s, struct fp_frame *f, int block)
{
	const char	*why;
	size_t		 need;
	ssize_t		 n;
	int		 r;

	if (s->taken > 0) {
		memmove(s->buf, s->buf + s->taken, s->len - s->taken);
		s->len -= s->taken;
		s->taken = 0;
	}
	for (;;) {
		r = fp_frame_decode(s->buf, s->len, FP_FRAME_MAX_DEFAULT, f,
		    &need, &why);
		if (r == 1) {
			s->taken = need;
			return 1;
		}
		if (r == -1)
			return -1;
		if (s->cap - s->len < 65536 || need > s->cap) {
			s->cap = (need > s->len + 65536 ? need : s->len +
			    65536) * 2;
			if ((s->buf = realloc(s->buf, s->cap)) == NULL)
				die("realloc");
		}
		if ((n = recv(s->fd, s->buf + s->len, s->cap - s->len,
		    block ? 0 : MSG_DONTWAIT)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && !block)
				return 2;
			die("read");
		}
		if (n == 0)
			return 0;
		s->len += n;
	}
}

static int
srv_frame(struct srv *s, struct fp_frame *f)
{
	return srv_frame_wait(s, f, 1);
}

static void
srv_free(struct srv *s)
{
	free(s->buf);
	if (s->fd != -1)
		close(s->fd);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

/* A socketpair whose server end has said HELLO, and the client on it. */
static struct fp_client *
pair(struct srv *s)
{
	struct fp_client	*c;
	char			 err[FP_ERRBUF_SIZE];
	int			 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	memset(s, 0, sizeof *s);
	s->fd = sv[1];
	send_hello(s->fd);
	if ((c = fp_connect_fd(sv[0], err, sizeof err)) == NULL) {
		printf("Bail out! fp_connect_fd: %s\n", err);
		exit(1);
	}
	return c;
}

/* --- threads that play the server while the client blocks --------------- */

struct script {
	int		 fd;
	const void	*bytes;		/* written by the thread */
	size_t		 len;
	int		 listen_fd;	/* accept: then send what is below */
	int		 refuse;	/* accept: ERROR instead of HELLO */
	int		 ok;		/* what the thread saw was right */
	const char	*reply;		/* status/control: the reply text */
	int		 reply_error;
	int		 interleave;	/* status: RESULTs 1..n first */
	int		 dup;		/* ... and RESULT 1 once more */
	unsigned	 format;
};

static void *
dribble(void *arg)
{
	struct script		*sc = arg;
	const unsigned char	*p = sc->bytes;
	size_t			 i;

	for (i = 0; i < sc->len; i++) {
		write_all(sc->fd, p + i, 1);
		if (i % 7 == 0)
			usleep(100);
	}
	return NULL;
}

/* Writes the bytes as fast as the client takes them. */
static void *
writer(void *arg)
{
	struct script	*sc = arg;

	write_all(sc->fd, sc->bytes, sc->len);
	return NULL;
}

static void *
acceptor(void *arg)
{
	struct script	*sc = arg;
	int		 fd;

	if ((fd = accept(sc->listen_fd, NULL, NULL)) == -1)
		die("accept");
	if (sc->refuse)
		send_frame(fd, FP_MSG_ERROR, 0, 0, 0,
		    "uid 1001 is not allowed");
	else
		send_hello(fd);
	close(fd);
	return NULL;
}

/* Answers RESULT frames with the payload, as they come, blocking. */
static void *
echo_server(void *arg)
{
	struct script	*sc = arg;
	struct srv	 s;
	struct fp_frame	 f;
	unsigned char	*p;
	size_t		 size;

	memset(&s, 0, sizeof s);
	s.fd = sc->fd;
	sc->ok = 1;
	while (srv_frame(&s, &f) == 1) {
		if (f.type != FP_MSG_SUBMIT) {
			sc->ok = 0;
			break;
		}
		p = encode(FP_MSG_RESULT, 0, FP_STATUS_OK, 1, f.id, NULL,
		    f.payload, f.paylen, &size);
		write_all(s.fd, p, size);
		free(p);
	}
	free(s.buf);
	return NULL;
}

/* Reads one STATUS or CONTROL and answers it (after RESULTs 1..n). */
static void *
op_server(void *arg)
{
	struct script	*sc = arg;
	struct srv	 s;
	struct fp_frame	 f;
	char		 msg[32];
	int		 i;

	memset(&s, 0, sizeof s);
	s.fd = sc->fd;
	sc->ok = 0;
	if (srv_frame(&s, &f) != 1)
		goto out;
	for (i = 1; i <= sc->interleave; i++) {
		snprintf(msg, sizeof msg, "result %d", i);
		send_frame(s.fd, FP_MSG_RESULT, FP_STATUS_OK, 1, i, msg);
	}
	if (sc->dup)
		send_frame(s.fd, FP_MSG_RESULT, FP_STATUS_OK, 1, 1, "again");
	if (f.type == FP_MSG_STATUS) {
		sc->ok = f.aux == sc->format && f.flags == 0 && f.keylen == 0 &&
		    f.paylen == 0 && f.id != 0;
		if (sc->reply_error)
			send_frame(s.fd, FP_MSG_RESULT, FP_STATUS_ERROR, 0,
			    f.id, sc->reply);
		else
			send_frame(s.fd, FP_MSG_STATUS, f.aux, 0, f.id,
			    sc->reply);
	} else if (f.type == FP_MSG_CONTROL) {
		sc->ok = f.flags == 0 && f.aux == 0 && f.keylen == 0 &&
		    f.paylen == strlen("scale 4") &&
		    memcmp(f.payload, "scale 4", f.paylen) == 0;
		send_frame(s.fd, FP_MSG_RESULT, sc->reply_error ?
		    FP_STATUS_ERROR : FP_STATUS_OK, 0, f.id, sc->reply);
	}
out:
	free(s.buf);
	return NULL;
}

static pthread_t
start(void *(*fn)(void *), struct script *sc)
{
	pthread_t	t;

	if ((errno = pthread_create(&t, NULL, fn, sc)) != 0)
		die("pthread_create");
	return t;
}

/* --- the tests ---------------------------------------------------------- */

static int
nothing_to_read(int fd)
{
	char	ch;

	return recv(fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK) == -1 &&
	    errno == EAGAIN;
}

static void
test_connect(void)
{
	struct fp_client	*c;
	struct srv		 s;
	struct script		 sc;
	struct sockaddr_un	 sun;
	char			 dir[] = "/tmp/test-client.XXXXXX", path[128];
	char			 err[FP_ERRBUF_SIZE], want[256];
	unsigned char		*p;
	size_t			 size;
	pthread_t		 t;
	int			 sv[2], lfd;

	c = pair(&s);
	tap_ok(fp_server_pid(c) == 4242 &&
	    strcmp(fp_server_version(c), "0.1.0") == 0 && fp_pending(c) == 0,
	    "HELLO: the supervisor's pid and version are read");
	fp_close(c);
	srv_free(&s);

	/* A real listening socket, and a supervisor that accepts late. */
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof path, "%s/sock", dir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(lfd, 4) == -1)
		die("listen");
	memset(&sc, 0, sizeof sc);
	sc.listen_fd = lfd;
	t = start(acceptor, &sc);
	c = fp_connect(path, err, sizeof err);
	pthread_join(t, NULL);
	tap_ok(c != NULL && fp_server_pid(c) == 4242,
	    "fp_connect: connects to a socket path and reads the HELLO");
	fp_close(c);

	sc.refuse = 1;
	t = start(acceptor, &sc);
	errno = 0;
	c = fp_connect(path, err, sizeof err);
	pthread_join(t, NULL);
	snprintf(want, sizeof want, "%s: uid 1001 is not allowed", path);
	tap_ok(c == NULL && errno == EPERM && strcmp(err, want) == 0,
	    "ERROR instead of HELLO: refused, with the supervisor's reason "
	    "(%s)", err);
	close(lfd);
	unlink(path);

	errno = 0;
	c = fp_connect(path, err, sizeof err);
	snprintf(want, sizeof want, "%s: %s", path, strerror(ENOENT));
	tap_ok(c == NULL && errno == ENOENT && strcmp(err, want) == 0,
	    "a missing socket: ENOENT (%s)", err);
	rmdir(dir);

	/* The supervisor closes before HELLO. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	close(sv[1]);
	errno = 0;
	c = fp_connect_fd(sv[0], err, sizeof err);
	tap_ok(c == NULL && errno == ECONNRESET,
	    "end of file before HELLO: ECONNRESET (%s)", err);

	/* A HELLO with a field out of place; garbage; a RESULT first. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	send_frame(sv[1], FP_MSG_HELLO, 3, 4242, 0, "forkpool 0.1.0");
	errno = 0;
	c = fp_connect_fd(sv[0], err, sizeof err);
	tap_ok(c == NULL && errno == EPROTO && strstr(err, "HELLO") != NULL,
	    "a HELLO with aux set is refused (%s)", err);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	write_all(sv[1], "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
	errno = 0;
	c = fp_connect_fd(sv[0], err, sizeof err);
	tap_ok(c == NULL && errno == EPROTO && strstr(err, "bad magic"),
	    "garbage instead of HELLO: a protocol error (%s)", err);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	send_frame(sv[1], FP_MSG_RESULT, 0, 0, 1, "x");
	errno = 0;
	c = fp_connect_fd(sv[0], err, sizeof err);
	tap_ok(c == NULL && errno == EPROTO && strstr(err, "RESULT"),
	    "a RESULT instead of HELLO: a protocol error (%s)", err);
	close(sv[1]);

	/* A HELLO that arrives one byte at a time. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	p = encode(FP_MSG_HELLO, 0, 0, 77, 0, NULL, "forkpool 9.9", 12, &size);
	memset(&sc, 0, sizeof sc);
	sc.fd = sv[1];
	sc.bytes = p;
	sc.len = size;
	t = start(dribble, &sc);
	c = fp_connect_fd(sv[0], err, sizeof err);
	pthread_join(t, NULL);
	tap_ok(c != NULL && fp_server_pid(c) == 77 &&
	    strcmp(fp_server_version(c), "9.9") == 0,
	    "a HELLO split into single bytes is read whole");
	fp_close(c);
	close(sv[1]);
	free(p);
}

#define NJOBS	100

static void
test_pipeline(void)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct fp_frame		 f;
	struct srv		 s;
	char			 pay[64], key[16];
	unsigned		 flags;
	int			 i, bad, seen[NJOBS + 1];

	c = pair(&s);
	for (i = 1; i <= NJOBS; i++) {
		snprintf(pay, sizeof pay, "payload %d", i);
		snprintf(key, sizeof key, "k%d", i % 3);
		flags = (i % 2 ? FP_F_KEYED : 0) | (i % 5 == 0 ? FP_F_HIGH : 0);
		if (fp_submit(c, i, i % 2 ? key : NULL, i % 2 ? strlen(key) :
		    0, pay, strlen(pay), flags) == -1)
			break;
	}
	tap_ok(i == NJOBS + 1 && fp_pending(c) == NJOBS,
	    "%d jobs queued, all pending", NJOBS);
	tap_ok(nothing_to_read(s.fd), "fp_submit queues: nothing is written "
	    "before fp_flush");
	tap_ok(fp_flush(c) == 0, "fp_flush writes them all (blocking mode)");

	bad = 0;
	for (i = 1; i <= NJOBS; i++) {
		snprintf(pay, sizeof pay, "payload %d", i);
		snprintf(key, sizeof key, "k%d", i % 3);
		flags = (i % 2 ? FP_F_KEYED : 0) | (i % 5 == 0 ? FP_F_HIGH : 0);
		if (srv_frame(&s, &f) != 1 || f.type != FP_MSG_SUBMIT ||
		    f.id != (uint64_t)i || f.flags != flags || f.aux != 0 ||
		    f.arg != 0 || f.paylen != strlen(pay) ||
		    memcmp(f.payload, pay, f.paylen) != 0 ||
		    f.keylen != (i % 2 ? strlen(key) : 0) ||
		    (i % 2 && memcmp(f.key, key, f.keylen) != 0))
			bad++;
	}
	tap_ok(bad == 0 && nothing_to_read(s.fd), "the supervisor reads %d "
	    "exact SUBMITs: ids, flags, keys, payloads (%d bad)", NJOBS, bad);

	/* Answer in reverse order, with every status. */
	for (i = NJOBS; i >= 1; i--) {
		snprintf(pay, sizeof pay, "answer %d", i);
		send_frame(s.fd, FP_MSG_RESULT, i % 5, i % 4, i, pay);
	}
	memset(seen, 0, sizeof seen);
	bad = 0;
	for (i = NJOBS; i >= 1; i--) {
		snprintf(pay, sizeof pay, "answer %d", i);
		if (fp_receive(c, &r) != 1 || r.id != (uint64_t)i ||
		    r.status != (unsigned)i % 5 ||
		    r.attempts != (unsigned)i % 4 ||
		    r.len != strlen(pay) || memcmp(r.data, pay, r.len) != 0)
			bad++;
		else
			seen[i]++;
	}
	tap_ok(bad == 0, "fp_receive returns the %d results in completion "
	    "order, each exact (%d bad)", NJOBS, bad);
	tap_ok(fp_pending(c) == 0 && fp_receive(c, &r) == 0,
	    "then nothing is pending, and fp_receive returns 0");

	/* Arguments fp_submit refuses; the client still works after them. */
	tap_ok(fp_submit(c, 0, NULL, 0, "x", 1, 0) == -1 && errno == EINVAL,
	    "job id 0: EINVAL (%s)", fp_error(c));
	tap_ok(fp_submit(c, 7, "k", 1, "x", 1, 0) == -1 && errno == EINVAL,
	    "a key without FP_F_KEYED: EINVAL");
	tap_ok(fp_submit(c, 7, NULL, 0, "x", 1, 0x80) == -1 && errno == EINVAL,
	    "undefined flags: EINVAL");
	fp_submit(c, 7, NULL, 0, "x", 1, 0);
	tap_ok(fp_submit(c, 7, NULL, 0, "y", 1, 0) == -1 && errno == EEXIST,
	    "an id already pending: EEXIST (%s)", fp_error(c));
	memset(pay, 'x', sizeof pay);
	tap_ok(fp_set_frame_max(c, 10) == -1 && fp_set_frame_max(c, 64) == 0 &&
	    fp_submit(c, 8, NULL, 0, pay, 33, 0) == -1 && errno == EMSGSIZE &&
	    fp_submit(c, 8, NULL, 0, pay, 32, 0) == 0,
	    "a job over the maximum frame size: EMSGSIZE; one at it: taken");
	fp_flush(c);
	srv_frame(&s, &f);
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 7, "seven");
	srv_frame(&s, &f);
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 8, "eight");
	tap_ok(fp_receive(c, &r) == 1 && r.id == 7 && fp_receive(c, &r) == 1 &&
	    r.id == 8 && nothing_to_read(s.fd),
	    "after refused submits, the client goes on");
	fp_close(c);
	srv_free(&s);
}

static void
test_split(void)
{
	struct fp_client	*c;
	struct fp_result	 r, r1;
	struct srv		 s;
	struct script		 sc;
	unsigned char		*stream, *p;
	char			 pay[32], *big;
	size_t			 len = 0, size, half;
	pthread_t		 t;
	int			 i, bad;

	/* 20 results, written one byte at a time. */
	c = pair(&s);
	stream = NULL;
	for (i = 1; i <= 20; i++) {
		fp_submit(c, i, NULL, 0, "j", 1, 0);
		snprintf(pay, sizeof pay, "split result %d", i);
		p = encode(FP_MSG_RESULT, 0, 0, 1, i, NULL, pay, strlen(pay),
		    &size);
		if ((stream = realloc(stream, len + size)) == NULL)
			die("realloc");
		memcpy(stream + len, p, size);
		len += size;
		free(p);
	}
	memset(&sc, 0, sizeof sc);
	sc.fd = s.fd;
	sc.bytes = stream;
	sc.len = len;
	t = start(dribble, &sc);
	bad = 0;
	for (i = 1; i <= 20; i++) {
		snprintf(pay, sizeof pay, "split result %d", i);
		if (fp_receive(c, &r) != 1 || r.id != (uint64_t)i ||
		    r.len != strlen(pay) || memcmp(r.data, pay, r.len) != 0)
			bad++;
	}
	pthread_join(t, NULL);
	tap_ok(bad == 0, "20 results arriving one byte at a time decode the "
	    "same (%d bad)", bad);
	free(stream);

	/* Non-blocking: half a frame, then the rest. */
	fp_set_nonblocking(c, 1);
	fp_submit(c, 100, NULL, 0, "j", 1, 0);
	tap_ok(fp_flush(c) == 0, "non-blocking fp_flush: all written, "
	    "returns 0");
	tap_ok(fp_read(c) == -1 && errno == EAGAIN && fp_next(c, &r) == 0,
	    "non-blocking fp_read with nothing there: EAGAIN; fp_next: 0");
	p = encode(FP_MSG_RESULT, 0, 0, 2, 100, NULL, "hundred", 7, &size);
	half = size / 2;
	write_all(s.fd, p, half);
	tap_ok(fp_read(c) == (ssize_t)half && fp_next(c, &r) == 0,
	    "half a frame read: no result yet");
	write_all(s.fd, p + half, size - half);
	tap_ok(fp_read(c) == (ssize_t)(size - half) && fp_next(c, &r) == 1 &&
	    r.id == 100 && r.attempts == 2 && r.len == 7 &&
	    memcmp(r.data, "hundred", 7) == 0 && fp_next(c, &r) == 0,
	    "the rest read: the result, whole");
	free(p);

	/* Two results in one read: the first stays valid after fp_next. */
	fp_submit(c, 101, NULL, 0, "j", 1, 0);
	fp_submit(c, 102, NULL, 0, "j", 1, 0);
	fp_flush(c);
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 102, "one-oh-two");
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 101, "one-oh-one");
	fp_read(c);
	tap_ok(fp_next(c, &r1) == 1 && fp_next(c, &r) == 1 && r1.id == 102 &&
	    r.id == 101 && memcmp(r1.data, "one-oh-two", 10) == 0 &&
	    memcmp(r.data, "one-oh-one", 10) == 0,
	    "results read together stay valid through fp_next");

	/* A result of 3 MiB: larger than any socket buffer or read. */
	fp_set_nonblocking(c, 0);
	if ((big = malloc(3 << 20)) == NULL)
		die("malloc");
	for (i = 0; i < 3 << 20; i++)
		big[i] = 'a' + i % 26;
	fp_submit(c, 103, NULL, 0, "j", 1, 0);
	fp_flush(c);
	stream = encode(FP_MSG_RESULT, 0, 0, 1, 103, NULL, big, 3 << 20, &size);
	sc.bytes = stream;
	sc.len = size;
	sc.fd = s.fd;
	t = start(writer, &sc);
	tap_ok(fp_receive(c, &r) == 1 && r.id == 103 && r.len == 3 << 20 &&
	    memcmp(r.data, big, r.len) == 0, "a 3 MiB result arrives whole");
	pthread_join(t, NULL);
	free(stream);
	free(big);
	fp_close(c);
	srv_free(&s);
}

/* A client fed one frame after a RESULT for job 1; returns what fp_receive
 * says after the good result. */
static int
after_bad(const void *bytes, size_t len, const char *desc, const char *want)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct srv		 s;
	int			 got, first;

	c = pair(&s);
	fp_submit(c, 1, NULL, 0, "a", 1, 0);
	fp_submit(c, 2, NULL, 0, "b", 1, 0);
	fp_flush(c);
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 1, "first");
	write_all(s.fd, bytes, len);
	first = fp_receive(c, &r) == 1 && r.id == 1;
	errno = 0;
	got = fp_receive(c, &r);
	tap_ok(first && got == -1 && (errno == EPROTO ||
	    errno == ECONNABORTED) && strstr(fp_error(c), want) != NULL &&
	    fp_receive(c, &r) == -1 && fp_submit(c, 3, NULL, 0, "c", 1, 0) ==
	    -1, "%s: the result before it, then an error on this client only "
	    "(%s)", desc, fp_error(c));
	fp_close(c);
	srv_free(&s);
	return got;
}

static void
test_bad_frames(void)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct srv		 s;
	unsigned char		*p;
	size_t			 size;

	p = encode(FP_MSG_RESULT, 0, 0, 1, 2, NULL, "x", 1, &size);
	p[0] = 'G';
	after_bad(p, size, "bad magic", "bad magic");
	free(p);

	p = encode(FP_MSG_RESULT, 0, 0, 1, 99, NULL, "x", 1, &size);
	after_bad(p, size, "a RESULT for an id never submitted",
	    "not submitted");
	free(p);

	p = encode(FP_MSG_RESULT, 0, 9, 1, 2, NULL, "x", 1, &size);
	after_bad(p, size, "a RESULT with status 9", "unknown status");
	free(p);

	p = encode(FP_MSG_RESULT, FP_F_KEYED, 0, 1, 2, "key", "x", 1, &size);
	after_bad(p, size, "a RESULT with a key", "malformed RESULT");
	free(p);

	p = encode(FP_MSG_JOB, 0, 1, 0, 2, NULL, "x", 1, &size);
	after_bad(p, size, "a JOB sent to a client", "unexpected");
	free(p);

	p = encode(FP_MSG_RESULT, 0, 0, 1, 2, NULL, "x", 1, &size);
	p[FP_HEADER_SIZE + 7] = 9;	/* paylen 9: does not add up */
	after_bad(p, size, "lengths that do not add up", "add up");
	free(p);

	p = encode(FP_MSG_ERROR, 0, 0, 0, 0, NULL, "draining", 8, &size);
	after_bad(p, size, "an ERROR from the supervisor", "supervisor: "
	    "draining");
	free(p);

	/* Refused from the header alone: the body never comes. */
	c = pair(&s);
	fp_set_frame_max(c, 1024);
	fp_submit(c, 1, NULL, 0, "a", 1, 0);
	fp_flush(c);
	p = encode(FP_MSG_RESULT, 0, 0, 1, 1, NULL, NULL, 0, &size);
	p[14] = 0x10;	/* bodylen 4104 */
	write_all(s.fd, p, FP_HEADER_SIZE);
	tap_ok(fp_receive(c, &r) == -1 && errno == EPROTO &&
	    strstr(fp_error(c), "maximum frame size") != NULL,
	    "an oversized RESULT is refused from its header alone (%s)",
	    fp_error(c));
	free(p);
	fp_close(c);
	srv_free(&s);

	/* The supervisor goes away with a job unanswered. */
	c = pair(&s);
	fp_submit(c, 1, NULL, 0, "a", 1, 0);
	fp_submit(c, 2, NULL, 0, "b", 1, 0);
	fp_flush(c);
	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 2, "two");
	srv_free(&s);
	tap_ok(fp_receive(c, &r) == 1 && r.id == 2 && fp_receive(c, &r) == -1 &&
	    errno == ECONNRESET && strstr(fp_error(c), "1 job unanswered"),
	    "end of file: the results before it, then the loss is reported "
	    "(%s)", fp_error(c));
	tap_ok(fp_set_frame_max(c, 1) == -1 && errno == EINVAL &&
	    fp_submit(c, 5, NULL, 0, "e", 1, 0) == -1 && errno == ECONNRESET &&
	    strstr(fp_error(c), "1 job unanswered") != NULL &&
	    fp_next(c, &r) == -1 && errno == ECONNRESET,
	    "a later call refused for its arguments does not hide why the "
	    "link is down");
	fp_close(c);

	/* Writing to a supervisor that said why it closed. */
	c = pair(&s);
	send_frame(s.fd, FP_MSG_ERROR, 0, 0, 0, "malformed SUBMIT");
	srv_free(&s);
	fp_submit(c, 1, NULL, 0, "a", 1, 0);
	tap_ok(fp_flush(c) == -1 && strstr(fp_error(c), "malformed SUBMIT"),
	    "a failed write reports the supervisor's ERROR (%s); no SIGPIPE",
	    fp_error(c));
	fp_close(c);
}

static void
test_nonblocking(void)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct fp_frame		 f;
	struct srv		 s;
	struct pollfd		 pfd;
	char			 pay[1024];
	unsigned char		 out[4096];
	size_t			 len, size;
	int			 i, more, got, bad, n;

	c = pair(&s);
	fp_set_nonblocking(c, 1);
	memset(pay, 'p', sizeof pay);
	for (i = 1; i <= 4000; i++)
		fp_submit(c, i, NULL, 0, pay, sizeof pay, 0);
	more = fp_flush(c);
	tap_ok(more == 1, "non-blocking fp_flush of 4 MiB: returns 1, more "
	    "remains, without blocking");
	/*
	 * The event loop: write when writable, take what arrived; the
	 * supervisor (this thread too) answers what it has read, in one write.
	 */
	got = bad = n = 0;
	while (got < 4000) {
		len = 0;
		while (n < 4000 && srv_frame_wait(&s, &f, 0) == 1) {
			n++;
			size = fp_frame_size(0, 2);
			f.type = FP_MSG_RESULT;
			f.flags = f.aux = 0;
			f.arg = 1;
			f.key = NULL;
			f.keylen = 0;
			f.payload = "ok";
			f.paylen = 2;
			fp_frame_encode(out + len, &f);
			len += size;
			if (len + size > sizeof out)
				break;
		}
		write_all(s.fd, out, len);
		pfd.fd = fp_fd(c);
		pfd.events = POLLIN | (more ? POLLOUT : 0);
		if (poll(&pfd, 1, 1000) == -1)
			die("poll");
		if (pfd.revents & POLLOUT)
			more = fp_flush(c);
		if (pfd.revents & POLLIN) {
			if (fp_read(c) <= 0)
				break;
			while (fp_next(c, &r) == 1) {
				got++;
				if (r.len != 2 || memcmp(r.data, "ok", 2) != 0)
					bad++;
			}
		}
	}
	tap_ok(got == 4000 && bad == 0 && more == 0 && fp_pending(c) == 0,
	    "a poll loop on fp_fd gets all 4,000 results (%d, %d bad)", got,
	    bad);
	fp_close(c);
	srv_free(&s);
}

static void
test_no_deadlock(void)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct srv		 s;
	struct script		 sc;
	pthread_t		 t;
	char			*pay;
	int			 i, got = 0, bad = 0;

	/*
	 * The supervisor answers each job before it reads the next, with
	 * blocking writes: a client that only wrote would deadlock with it.
	 */
	c = pair(&s);
	if ((pay = malloc(4096)) == NULL)
		die("malloc");
	memset(&sc, 0, sizeof sc);
	sc.fd = s.fd;
	t = start(echo_server, &sc);
	for (i = 1; i <= 4000; i++) {
		snprintf(pay, 4096, "%06d", i);
		memset(pay + 6, 'e', 4096 - 6);
		fp_submit(c, i, NULL, 0, pay, 4096, 0);
	}
	tap_ok(fp_flush(c) == 0, "blocking fp_flush of 16 MiB to a supervisor "
	    "that answers as it reads: no deadlock");
	while (fp_receive(c, &r) == 1) {
		got++;
		snprintf(pay, 4096, "%06llu", (unsigned long long)r.id);
		if (r.len != 4096 || memcmp(r.data, pay, 6) != 0)
			bad++;
	}
	tap_ok(got == 4000 && bad == 0, "and every result comes back (%d, %d "
	    "bad)", got, bad);
	shutdown(s.fd, SHUT_RDWR);
	fp_close(c);
	pthread_join(t, NULL);
	tap_ok(sc.ok, "the supervisor saw only SUBMITs");
	free(pay);
	srv_free(&s);
}

static void
test_ops(void)
{
	struct fp_client	*c;
	struct fp_result	 r;
	struct srv		 s;
	struct script		 sc;
	pthread_t		 t;
	char			*text;
	int			 i, rc, ok;

	c = pair(&s);
	for (i = 1; i <= 3; i++)
		fp_submit(c, i, NULL, 0, "j", 1, 0);
	memset(&sc, 0, sizeof sc);
	sc.fd = s.fd;
	sc.format = FP_FORMAT_JSON;
	sc.reply = "{\"workers\":2}";
	sc.interleave = 2;
	/* The thread reads the SUBMITs too: skip them. */
	fp_flush(c);
	{
		struct fp_frame	f;

		for (i = 0; i < 3; i++)
			srv_frame(&s, &f);
		memmove(s.buf, s.buf + s.taken, s.len - s.taken);
		s.len -= s.taken;
		s.taken = 0;
		if (s.len != 0)
			die("leftover");
	}
	t = start(op_server, &sc);
	rc = fp_status(c, FP_FORMAT_JSON, &text);
	pthread_join(t, NULL);
	tap_ok(rc == 0 && sc.ok && strcmp(text, "{\"workers\":2}") == 0,
	    "fp_status: an exact STATUS request; the reply, as a string");
	free(text);
	ok = fp_pending(c) == 3;
	for (i = 1; i <= 2; i++)
		ok &= fp_next(c, &r) == 1 && r.id == (uint64_t)i &&
		    r.len == 8 && memcmp(r.data, "result ", 7) == 0 &&
		    r.data[7] == '0' + i;
	tap_ok(ok && fp_next(c, &r) == 0 && fp_pending(c) == 1,
	    "RESULTs that came before the reply are kept for fp_next, in "
	    "order");

	sc.reply = "scaling to 4 workers";
	sc.interleave = 0;
	t = start(op_server, &sc);
	rc = fp_control(c, "scale 4", &text);
	pthread_join(t, NULL);
	tap_ok(rc == 0 && sc.ok && strcmp(text, "scaling to 4 workers") == 0,
	    "fp_control: an exact CONTROL; ok and the reply");
	free(text);

	sc.reply = "no such number";
	sc.reply_error = 1;
	t = start(op_server, &sc);
	rc = fp_control(c, "scale 4", &text);
	pthread_join(t, NULL);
	tap_ok(rc == 1 && strcmp(text, "no such number") == 0,
	    "fp_control: an error reply returns 1 with the message");
	free(text);

	sc.reply = "out of memory";
	sc.format = FP_FORMAT_TEXT;
	t = start(op_server, &sc);
	rc = fp_status(c, FP_FORMAT_TEXT, &text);
	pthread_join(t, NULL);
	tap_ok(rc == 1 && strcmp(text, "out of memory") == 0,
	    "fp_status: an error RESULT returns 1 with the message");
	free(text);
	tap_ok(fp_status(c, 7, &text) == -1 && errno == EINVAL,
	    "an unknown status format: EINVAL");

	send_frame(s.fd, FP_MSG_RESULT, 0, 1, 3, "three");
	tap_ok(fp_receive(c, &r) == 1 && r.id == 3 && fp_pending(c) == 0,
	    "the last job still answers after the operations");
	fp_close(c);
	srv_free(&s);

	/* A result sent twice while the client waited for a reply. */
	c = pair(&s);
	fp_submit(c, 1, NULL, 0, "j", 1, 0);
	fp_flush(c);
	{
		struct fp_frame	f;

		srv_frame(&s, &f);
	}
	memset(&sc, 0, sizeof sc);
	sc.fd = s.fd;
	sc.reply = "fine";
	sc.interleave = 1;
	sc.dup = 1;
	free(s.buf);
	s.buf = NULL;
	s.len = s.cap = s.taken = 0;
	t = start(op_server, &sc);
	rc = fp_status(c, FP_FORMAT_TEXT, &text);
	pthread_join(t, NULL);
	free(text);
	tap_ok(rc == 0 && fp_next(c, &r) == 1 && r.id == 1 &&
	    fp_next(c, &r) == -1 && errno == EPROTO &&
	    strstr(fp_error(c), "second RESULT") != NULL,
	    "a RESULT delivered twice is refused, never returned twice (%s)",
	    fp_error(c));
	fp_close(c);
	srv_free(&s);
}

static void
test_codec(void)
{
	struct fp_frame	 f, g;
	unsigned char	 buf[128];
	const char	*why = NULL;
	size_t		 size, need;
	int		 ok = 1;

	memset(&f, 0, sizeof f);
	f.type = FP_MSG_SUBMIT;
	f.flags = FP_F_KEYED | FP_F_HIGH;
	f.id = 0x0102030405060708ULL;
	f.key = "user7";
	f.keylen = 5;
	f.payload = "user7 hello";
	f.paylen = 11;
	size = fp_frame_encode(buf, &f);
	tap_ok(size == fp_frame_size(5, 11) && size == 48 && buf[0] == 'F' &&
	    buf[1] == 'P' && buf[2] == FP_PROTOCOL_VERSION &&
	    buf[3] == FP_MSG_SUBMIT && buf[5] == 3 && buf[15] == 24 &&
	    buf[23] == 8, "fp_frame_encode lays the header out as the "
	    "protocol says");
	for (need = 0; need < size; need++) {
		size_t	n;

		if (fp_frame_decode(buf, need, FP_FRAME_MAX_DEFAULT, &g, &n,
		    &why) != 0 || n > size || (need >= FP_HEADER_SIZE &&
		    n != size))
			ok = 0;
	}
	tap_ok(ok, "fp_frame_decode of a prefix: 0, and how many bytes are "
	    "needed");
	tap_ok(fp_frame_decode(buf, size, FP_FRAME_MAX_DEFAULT, &g, &need,
	    &why) == 1 && need == size && g.type == f.type &&
	    g.flags == f.flags && g.id == f.id && g.keylen == 5 &&
	    memcmp(g.key, "user7", 5) == 0 && g.paylen == 11 &&
	    memcmp(g.payload, "user7 hello", 11) == 0,
	    "fp_frame_decode: the frame round-trips");
	buf[2] = 2;
	tap_ok(fp_frame_decode(buf, size, FP_FRAME_MAX_DEFAULT, &g, &need,
	    &why) == -1 && strcmp(why, "unsupported protocol version") == 0,
	    "fp_frame_decode: a bad frame is -1 with the reason");
	tap_ok(fp_frame_size(UINT32_MAX, 1) == 0 &&
	    fp_frame_size(0, UINT32_MAX - 8) == (size_t)UINT32_MAX + 24,
	    "fp_frame_size: 0 for what no frame can carry");
	tap_ok(strcmp(fp_status_name(FP_STATUS_CRASHED), "crashed") == 0 &&
	    strcmp(fp_type_name(FP_MSG_CONTROL), "CONTROL") == 0,
	    "status and type names");
}

static void
test_exports(void)
{
	if (dlsym(RTLD_DEFAULT, "fp_frame_decode") == NULL) {
		printf("ok %d - only fp_ names are exported # SKIP linked "
		    "statically\n", ++tap_count);
		return;
	}
	tap_ok(dlsym(RTLD_DEFAULT, "frame_decode") == NULL &&
	    dlsym(RTLD_DEFAULT, "buf_grow") == NULL &&
	    dlsym(RTLD_DEFAULT, "idset_add") == NULL,
	    "the shared library exports only fp_ names");
}

int
main(void)
{
	/* A deadlock fails the test instead of hanging it. */
	alarm(120);
	signal(SIGPIPE, SIG_DFL);
	tap_plan(59);
	test_connect();
	test_pipeline();
	test_split();
	test_bad_frames();
	test_nonblocking();
	test_no_deadlock();
	test_ops();
	test_codec();
	test_exports();
	return tap_done();
}
