/*
 * STATUS and CONTROL: a request and the wait for its reply, while RESULTs
 * of jobs that come first are checked and set aside for fp_next().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/*
 * An id for a STATUS or CONTROL: from the top (op_id starts at 0 and
 * wraps), never one of a job still pending.
 */
static uint64_t
op_id(struct fp_client *c)
{
	do
		c->op_id--;
	while (c->op_id == 0 || idset_has(&c->pending, c->op_id));
	return c->op_id;
}

static int
reply_text(struct fp_client *c, const struct frame *f, char **text)
{
	char	*p;

	if ((p = malloc((size_t)f->paylen + 1)) == NULL) {
		client_error(c, ENOMEM, "%s", strerror(ENOMEM));
		return -1;
	}
	memcpy(p, f->payload, f->paylen);
	p[f->paylen] = '\0';
	*text = p;
	return 0;
}

/*
 * Sends a STATUS or CONTROL and waits for its reply.  RESULTs of jobs that
 * come first are checked and set aside for fp_next().  Returns 0 (ok) or 1
 * (the supervisor answered with an error) with *text, or -1.
 */
static int
request(struct fp_client *c, uint8_t type, uint16_t aux, const char *cmd,
    char **text)
{
	struct frame	 f;
	uint64_t	 id;
	size_t		 need;
	short		 revents;
	int		 n;

	*text = NULL;
	if (client_is_down(c))
		return client_still_down(c);
	id = op_id(c);
	if (client_queue(c, type, 0, aux, id, NULL, 0, cmd,
	    cmd == NULL ? 0 : strlen(cmd)) == -1)
		return -1;
	if (client_flush(c, 1) == -1)
		return -1;
	for (;;) {
		if ((n = client_peek(c, &f, &need)) == -1)
			return -1;
		if (n == 0) {
			if (c->eof || c->rerr != 0)
				return client_lost(c);
			if (client_wait(c, POLLIN, &revents) == -1) {
				client_error(c, errno, "poll: %s",
				    strerror(errno));
				return -1;
			}
			(void)client_fill(c);
			continue;
		}
		if (f.type == FRAME_ERROR) {
			buf_consume(&c->in, need);
			return client_server_error(c, &f);
		}
		if (f.type == FRAME_RESULT && f.id == id) {
			/* The answer to a CONTROL, or an error for either. */
			if (f.flags != 0 || f.keylen != 0 ||
			    f.aux > STATUS_ERROR ||
			    (type == FRAME_STATUS && f.aux != STATUS_ERROR))
				return client_broken(c, EPROTO,
				    "malformed reply");
			n = reply_text(c, &f, text);
			buf_consume(&c->in, need);
			return n == -1 ? -1 : f.aux;
		}
		if (f.type == FRAME_STATUS && type == FRAME_STATUS &&
		    f.id == id) {
			if (f.flags != 0 || f.keylen != 0 || f.aux != aux)
				return client_broken(c, EPROTO,
				    "malformed STATUS");
			n = reply_text(c, &f, text);
			buf_consume(&c->in, need);
			return n;
		}
		if (f.type != FRAME_RESULT)
			return client_broken(c, EPROTO,
			    "unexpected message type");
		if (client_check_result(c, &f) == -1)
			return -1;
		if (buf_append(&c->held, buf_head(&c->in), need) == -1) {
			client_error(c, ENOMEM, "%s", strerror(ENOMEM));
			return -1;
		}
		buf_consume(&c->in, need);
	}
}

/* The pool's status as text in a format: 0 and *text (to free), 1, -1. */
int
fp_status(struct fp_client *c, unsigned format, char **text)
{
	if (format > FP_FORMAT_PROMETHEUS) {
		*text = NULL;
		client_error(c, EINVAL, "unknown status format %u", format);
		return -1;
	}
	return request(c, FRAME_STATUS, format, NULL, text);
}

/* An operation ("scale 4", "reload", "drain", "stop"): 0 or 1, *reply. */
int
fp_control(struct fp_client *c, const char *command, char **reply)
{
	return request(c, FRAME_CONTROL, 0, command, reply);
}
