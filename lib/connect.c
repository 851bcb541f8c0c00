/*
 * Connecting to the supervisor: the socket, its first frame (HELLO, or an
 * ERROR that says why the connection is refused), and what the client
 * knows of the link.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define HELLO_PREFIX	"forkpool"

static int
hello(struct fp_client *c)
{
	struct frame	f;
	size_t		need;
	short		revents;
	int		r;

	while ((r = client_peek(c, &f, &need)) == 0) {
		if (c->eof) {
			client_error(c, ECONNRESET, "the supervisor closed the "
			    "connection before HELLO");
			return -1;
		}
		if (client_wait(c, POLLIN, &revents) == -1 ||
		    (client_fill(c) == -1 && errno != EAGAIN)) {
			client_error(c, errno, "read: %s", strerror(errno));
			return -1;
		}
	}
	if (r == -1)
		return -1;
	if (f.type == FRAME_ERROR) {
		/* Refused: the reason is the whole message. */
		client_copy_text(c->error, sizeof c->error, f.payload,
		    f.paylen);
		c->err = errno = EPERM;
		return -1;
	}
	if (f.type != FRAME_HELLO) {
		client_error(c, EPROTO, "protocol error: %s instead of HELLO",
		    frame_type_name(f.type));
		return -1;
	}
	if (f.flags != 0 || f.aux != 0 || f.id != 0 || f.keylen != 0 ||
	    f.arg == 0 || f.arg > INT32_MAX ||
	    f.paylen < sizeof HELLO_PREFIX - 1 ||
	    memcmp(f.payload, HELLO_PREFIX, sizeof HELLO_PREFIX - 1) != 0 ||
	    (f.paylen > sizeof HELLO_PREFIX - 1 &&
	    f.payload[sizeof HELLO_PREFIX - 1] != ' ')) {
		client_error(c, EPROTO, "protocol error: malformed HELLO");
		return -1;
	}
	c->server_pid = (pid_t)f.arg;
	need = f.paylen > sizeof HELLO_PREFIX ? f.paylen - sizeof HELLO_PREFIX :
	    0;
	if ((c->server_version = malloc(need + 1)) == NULL) {
		client_error(c, ENOMEM, "%s", strerror(ENOMEM));
		return -1;
	}
	client_copy_text(c->server_version, need + 1,
	    f.payload + sizeof HELLO_PREFIX, need);
	buf_consume(&c->in, frame_size(0, f.paylen));
	return 0;
}

static void
put_error(char *err, size_t errlen, const char *prefix, const char *msg)
{
	if (err == NULL || errlen == 0)
		return;
	if (prefix != NULL)
		snprintf(err, errlen, "%s: %s", prefix, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

/* Takes an already connected socket (and closes it on failure). */
struct fp_client *
fp_connect_fd(int fd, char *err, size_t errlen)
{
	struct fp_client	*c;
	int			 flags, saved;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		saved = errno;
		put_error(err, errlen, NULL, strerror(saved));
		close(fd);
		errno = saved;
		return NULL;
	}
	c->fd = fd;
	c->frame_max = FRAME_MAX_DEFAULT;
	buf_init(&c->in);
	buf_init(&c->held);
	buf_init(&c->out);
	idset_init(&c->pending);
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		client_error(c, errno, "fcntl: %s", strerror(errno));
	else if (hello(c) == 0)
		return c;
	saved = c->err;
	put_error(err, errlen, NULL, c->error);
	fp_close(c);
	errno = saved;
	return NULL;
}

/* Connects to the supervisor listening at path and reads its HELLO. */
struct fp_client *
fp_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct fp_client	*c;
	char			 msg[FP_ERRBUF_SIZE];
	int			 fd, saved;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		put_error(err, errlen, path, "socket path too long");
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		saved = errno;
		put_error(err, errlen, "socket", strerror(saved));
		errno = saved;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		put_error(err, errlen, path, strerror(saved));
		close(fd);
		errno = saved;
		return NULL;
	}
	if ((c = fp_connect_fd(fd, msg, sizeof msg)) == NULL) {
		saved = errno;
		put_error(err, errlen, path, msg);
		errno = saved;
	}
	return c;
}

void
fp_close(struct fp_client *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	buf_free(&c->in);
	buf_free(&c->held);
	buf_free(&c->out);
	idset_free(&c->pending);
	free(c->server_version);
	free(c);
}

int
fp_fd(const struct fp_client *c)
{
	return c->fd;
}

/* The mode of fp_flush() and fp_read(); the descriptor stays non-blocking. */
int
fp_set_nonblocking(struct fp_client *c, int on)
{
	c->nonblocking = on != 0;
	return 0;
}

int
fp_set_frame_max(struct fp_client *c, uint32_t max)
{
	if (max < FP_FRAME_MAX_MIN) {
		client_error(c, EINVAL, "a maximum frame size of %u bytes is "
		    "below %d", (unsigned)max, FP_FRAME_MAX_MIN);
		return -1;
	}
	c->frame_max = max;
	return 0;
}

const char *
fp_error(const struct fp_client *c)
{
	return c->error;
}

pid_t
fp_server_pid(const struct fp_client *c)
{
	return c->server_pid;
}

const char *
fp_server_version(const struct fp_client *c)
{
	return c->server_version;
}

size_t
fp_pending(const struct fp_client *c)
{
	return c->pending.count;
}
