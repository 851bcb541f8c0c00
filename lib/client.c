/*
 * A client of a forkpool service: one Unix-domain connection to the
 * supervisor, with an output buffer of SUBMITs written many per syscall
 * and an input buffer decoded into RESULTs.  doc/PROTOCOL.md describes the
 * frames; forkpool(3) the API.
 *
 * The descriptor is always non-blocking: "blocking" calls wait in poll(),
 * and while one waits to write it also reads, so that a client that sends
 * many jobs before it reads a result cannot deadlock with the supervisor.
 * Every frame from the supervisor is checked exactly: a bad frame ends the
 * connection with a reason, never the program.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

#define READ_BURST	(1024 * 1024)	/* fp_read() returns after this much */

/* Records why the last call failed; errno is set to errnum. */
void
client_error(struct fp_client *c, int errnum, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof c->error, fmt, ap);
	va_end(ap);
	c->err = errnum;
	errno = errnum;
}

/*
 * Records why the link is down, which every later call that needs it
 * reports again (a call refused for its arguments does not hide it).
 */
int
client_down(struct fp_client *c, int errnum, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->down, sizeof c->down, fmt, ap);
	va_end(ap);
	c->down_err = errnum;
	memcpy(c->error, c->down, sizeof c->error);
	c->err = errno = errnum;
	return -1;
}

/* Fails a call on a link that is down, with the reason it went down. */
int
client_still_down(struct fp_client *c)
{
	if (c->down_err == 0)
		return client_down(c, ECONNRESET, "the supervisor closed the "
		    "connection");
	memcpy(c->error, c->down, sizeof c->error);
	c->err = errno = c->down_err;
	return -1;
}

/* Copies a message from the supervisor, made printable, as a C string. */
void
client_copy_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i;

	if (size == 0)
		return;
	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++) {
		unsigned char	ch = src[i];

		dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	dst[len] = '\0';
}

/* The link broke on the supervisor's input: nothing more is decoded. */
int
client_broken(struct fp_client *c, int errnum, const char *why)
{
	c->bad = 1;
	return client_down(c, errnum, "protocol error: %s", why);
}

int
client_server_error(struct fp_client *c, const struct frame *f)
{
	char	msg[FP_ERRBUF_SIZE - 16];

	c->bad = 1;
	client_copy_text(msg, sizeof msg, f->payload, f->paylen);
	return client_down(c, ECONNABORTED, "supervisor: %s", msg);
}

/* Once reading has ended and no whole frame is left: say why. */
int
client_lost(struct fp_client *c)
{
	size_t	n = c->pending.count;

	if (c->bad)
		return client_still_down(c);
	c->bad = 1;
	if (c->rerr != 0)
		return client_down(c, c->rerr, "read: %s", strerror(c->rerr));
	if (c->in.len > 0)
		return client_down(c, ECONNRESET, "the supervisor closed the "
		    "connection in the middle of a frame");
	if (n > 0)
		return client_down(c, ECONNRESET, "the supervisor closed the "
		    "connection with %zu job%s unanswered", n, n == 1 ? "" :
		    "s");
	return client_down(c, ECONNRESET, "the supervisor closed the "
	    "connection");
}

/*
 * One read into the input buffer, with room for the frame at its head.
 * Returns the bytes read, 0 at end of file, -1 with errno (EAGAIN too).
 */
ssize_t
client_fill(struct fp_client *c)
{
	size_t	want = READ_CHUNK;
	ssize_t	n;

	if (c->eof)
		return 0;
	if (c->rerr != 0) {
		errno = c->rerr;
		return -1;
	}
	if (c->in.len == 0)
		buf_shrink(&c->in, 4 * READ_CHUNK);
	else if (c->in_need > c->in.len && c->in_need - c->in.len > want)
		want = c->in_need - c->in.len;
	n = buf_read(&c->in, c->fd, want);
	if (n == -1 && errno == ECONNRESET)
		n = 0;	/* it closed before reading all we sent */
	if (n == 0)
		c->eof = 1;
	else if (n == -1 && errno != EAGAIN) {
		c->rerr = errno;
		errno = c->rerr;
	}
	return n;
}

/* Waits until the descriptor is ready for events: 0, or -1 with errno. */
int
client_wait(struct fp_client *c, short events, short *revents)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = c->fd;
	pfd.events = events;
	do
		n = poll(&pfd, 1, -1);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	*revents = pfd.revents;
	return 0;
}

/*
 * After a failed write: the supervisor may have said why before it closed
 * (an ERROR frame).  Reads what is left and looks, consuming nothing.
 */
static int
explain_write_error(struct fp_client *c, int errnum)
{
	struct frame	 f;
	const char	*why;
	size_t		 off = 0, need;
	char		 msg[FP_ERRBUF_SIZE - 16];

	c->werr = errnum;
	if (errnum != EPIPE && errnum != ECONNRESET)
		return client_down(c, errnum, "write: %s", strerror(errnum));
	while (client_fill(c) > 0)
		continue;
	while (c->in.len > off && frame_decode(buf_head(&c->in) + off,
	    c->in.len - off, c->frame_max, &f, &need, &why) == FRAME_OK) {
		if (f.type == FRAME_ERROR) {
			client_copy_text(msg, sizeof msg, f.payload, f.paylen);
			return client_down(c, ECONNABORTED, "supervisor: %s",
			    msg);
		}
		off += need;
	}
	return client_down(c, errnum, "the supervisor closed the connection");
}

/* Writes what is queued; 1 when some remains (non-blocking), 0, -1. */
int
client_flush(struct fp_client *c, int block)
{
	ssize_t	n;
	short	revents;

	if (c->werr != 0)
		return client_still_down(c);
	while (c->out.len > 0) {
		n = send(c->fd, buf_head(&c->out), c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->out, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!block)
				return 1;
			/* Read while waiting: the supervisor may be, too. */
			if (client_wait(c, POLLOUT | (c->eof || c->rerr ? 0 :
			    POLLIN), &revents) == -1)
				return explain_write_error(c, errno);
			if (revents & POLLIN)
				(void)client_fill(c);
			continue;
		}
		return explain_write_error(c, n == 0 ? EPIPE : errno);
	}
	buf_shrink(&c->out, 4 * READ_CHUNK);
	return 0;
}

int
client_queue(struct fp_client *c, uint8_t type, uint16_t flags, uint16_t aux,
    uint64_t id, const void *key, size_t keylen, const void *payload,
    size_t len)
{
	struct frame	 f;
	size_t		 size;
	char		*p;

	size = fp_frame_size(keylen, len);
	if (size == 0 || size > c->frame_max) {
		client_error(c, EMSGSIZE, "%zu bytes of key and payload exceed "
		    "the maximum frame size (%u bytes)", keylen + len,
		    (unsigned)c->frame_max);
		return -1;
	}
	if ((p = buf_append_space(&c->out, size)) == NULL) {
		client_error(c, ENOMEM, "%s", strerror(ENOMEM));
		return -1;
	}
	memset(&f, 0, sizeof f);
	f.type = type;
	f.flags = flags;
	f.aux = aux;
	f.id = id;
	f.key = key;
	f.keylen = keylen;
	f.payload = payload;
	f.paylen = len;
	frame_encode(p, &f);
	return 0;
}

/*
 * Decodes the frame at the head of the input buffer without consuming it:
 * 1 with the frame and its size, 0 when it is not all there, -1 when it is
 * bad (the connection is then broken).
 */
int
client_peek(struct fp_client *c, struct frame *f, size_t *need)
{
	const char	*why = NULL;

	if (c->bad)
		return client_still_down(c);
	if (c->in.len < FRAME_HEADER_SIZE) {
		/* (An empty buffer may have no memory at all yet.) */
		c->in_need = FRAME_HEADER_SIZE;
		return 0;
	}
	switch (frame_decode(buf_head(&c->in), c->in.len, c->frame_max, f,
	    need, &why)) {
	case FRAME_SHORT:
		c->in_need = *need;
		return 0;
	case FRAME_BAD:
		return client_broken(c, EPROTO, why);
	case FRAME_OK:
		break;
	}
	c->in_need = 0;
	return 1;
}

static int
check_result_fields(struct fp_client *c, const struct frame *f)
{
	if (f->flags != 0 || f->keylen != 0)
		return client_broken(c, EPROTO, "malformed RESULT");
	if (f->aux > STATUS_REJECTED)
		return client_broken(c, EPROTO,
		    "RESULT with an unknown status");
	return 0;
}

static int
not_submitted(struct fp_client *c)
{
	return client_broken(c, EPROTO, "RESULT for a job not submitted");
}

/* A RESULT for one of our jobs, checked exactly. */
int
client_check_result(struct fp_client *c, const struct frame *f)
{
	if (check_result_fields(c, f) == -1)
		return -1;
	if (!idset_has(&c->pending, f->id))
		return not_submitted(c);
	return 0;
}

/* Fills a result for the user; 0 when its job was no longer pending. */
static int
to_result(struct fp_client *c, const struct frame *f, struct fp_result *r)
{
	if (!idset_del(&c->pending, f->id))
		return 0;
	r->id = f->id;
	r->status = f->aux;
	r->attempts = f->arg;
	r->data = f->payload;
	r->len = f->paylen;
	return 1;
}

/* Queues a job; no syscall.  fp_flush() or fp_receive() sends it. */
int
fp_submit(struct fp_client *c, uint64_t id, const void *key, size_t keylen,
    const void *payload, size_t len, unsigned flags)
{
	int	r;

	if (client_is_down(c))
		return client_still_down(c);
	if (id == 0) {
		client_error(c, EINVAL, "a job id must not be 0");
		return -1;
	}
	if ((flags & ~(unsigned)FRAME_F_ALL) != 0) {
		client_error(c, EINVAL, "undefined flags 0x%x", flags);
		return -1;
	}
	if (keylen > 0 && !(flags & FRAME_F_KEYED)) {
		client_error(c, EINVAL, "a key without FP_F_KEYED");
		return -1;
	}
	if ((r = idset_add(&c->pending, id)) != 0) {
		if (r == 1)
			client_error(c, EEXIST, "job id %llu is already "
			    "pending", (unsigned long long)id);
		else
			client_error(c, ENOMEM, "%s", strerror(ENOMEM));
		return -1;
	}
	if (client_queue(c, FRAME_SUBMIT, flags, 0, id, key, keylen, payload,
	    len) == -1) {
		r = errno;
		idset_del(&c->pending, id);
		errno = r;
		return -1;
	}
	return 0;
}

/*
 * Writes the queued frames: all of them in blocking mode (0), as much as
 * the socket takes in non-blocking mode (1 when some remain).  -1 on error.
 */
int
fp_flush(struct fp_client *c)
{
	return client_flush(c, !c->nonblocking);
}

/*
 * The next result already read: 1 and *r, 0 when no whole result is
 * buffered, -1 when the connection is broken or closed and none is left.
 */
int
fp_next(struct fp_client *c, struct fp_result *r)
{
	struct frame	 f;
	const char	*why;
	size_t		 need;
	int		 n;

	if (c->held.len > 0) {
		/* Checked when it was set aside. */
		(void)frame_decode(buf_head(&c->held), c->held.len,
		    UINT32_MAX, &f, &need, &why);
		buf_consume(&c->held, need);
		if (!to_result(c, &f, r))
			return client_broken(c, EPROTO,
			    "a second RESULT for a job");
		return 1;
	}
	if ((n = client_peek(c, &f, &need)) == -1)
		return -1;
	if (n == 0)
		return c->eof || c->rerr != 0 ? client_lost(c) : 0;
	buf_consume(&c->in, need);
	switch (f.type) {
	case FRAME_RESULT:
		/* The lookup that takes the id checks that it was pending. */
		if (check_result_fields(c, &f) == -1)
			return -1;
		return to_result(c, &f, r) ? 1 : not_submitted(c);
	case FRAME_ERROR:
		return client_server_error(c, &f);
	}
	return client_broken(c, EPROTO, "unexpected message type");
}

/*
 * Reads what the socket holds.  Returns the bytes read, 0 at end of file,
 * -1 with errno (EAGAIN: nothing there, in non-blocking mode).
 */
ssize_t
fp_read(struct fp_client *c)
{
	ssize_t	n, total = 0;
	short	revents;

	if (!c->nonblocking && !c->eof && c->rerr == 0 &&
	    client_wait(c, POLLIN, &revents) == -1)
		return -1;
	while (total < READ_BURST) {
		if ((n = client_fill(c)) > 0) {
			total += n;
			continue;
		}
		if (total > 0)
			break;
		if (n == -1 && errno != EAGAIN)
			(void)client_down(c, errno, "read: %s",
			    strerror(errno));
		return n;
	}
	return total;
}

/*
 * Waits for the next result, whatever the mode, after sending what is
 * queued: 1 and *r, 0 when no job is pending, -1 on error.
 */
int
fp_receive(struct fp_client *c, struct fp_result *r)
{
	short	revents;
	int	n;

	/* A failed write still leaves the results already on their way. */
	(void)client_flush(c, 1);
	for (;;) {
		if (c->pending.count == 0 && c->held.len == 0 &&
		    c->in.len == 0)
			return 0;
		if ((n = fp_next(c, r)) != 0)
			return n;
		/* A blocking descriptor waits in read(2): no poll first. */
		if (c->nonblocking &&
		    client_wait(c, POLLIN, &revents) == -1) {
			client_error(c, errno, "poll: %s", strerror(errno));
			return -1;
		}
		(void)client_fill(c);
	}
}
