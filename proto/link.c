/* The frame reader every link shares, and its descriptor helpers. */
#include <string.h>

#include "link.h"

void
link_init(struct link *l, uint32_t frame_max, enum frame_dir dir,
    link_fn *fn, void *arg)
{
	memset(l, 0, sizeof *l);
	buf_init(&l->in);
	buf_init(&l->out);
	l->frame_max = frame_max;
	l->dir = dir;
	l->fn = fn;
	l->arg = arg;
}

void
link_free(struct link *l)
{
	buf_free(&l->in);
	buf_free(&l->out);
}

/*
 * Decodes, checks and hands over every whole frame in, until there is no
 * whole frame left, one is bad or the callback says to stop.  A frame is
 * consumed before its callback runs, so that a callback may close the
 * link, or stop, and leave in as it is: what follows stays to be taken.
 */
enum link_stop
link_take(struct link *l)
{
	struct frame		 f;
	size_t			 need;
	int			 rc;
	enum frame_decode_result r;

	/* (An empty buffer may have no memory at all yet.) */
	while (l->in.len > 0) {
		r = frame_decode(buf_head(&l->in), l->in.len, l->frame_max, &f,
		    &need, &l->why);
		if (r == FRAME_SHORT)
			break;
		if (r == FRAME_BAD || frame_check(&f, l->dir, &l->why) == -1)
			return LINK_BAD;
		buf_consume(&l->in, need);
		if ((rc = l->fn(l->arg, &f)) == -1)
			return LINK_BAD;
		if (rc != 0)
			return LINK_STOPPED;
	}
	return LINK_SHORT;
}

/* The whole frames at the head of in, up to limit + 1: none taken. */
unsigned
link_count(const struct link *l, unsigned limit)
{
	struct frame	 f;
	const char	*why;
	size_t		 off = 0, need;
	unsigned	 n = 0;

	while (n <= limit && l->in.len > off &&
	    frame_decode(buf_head(&l->in) + off, l->in.len - off,
	    l->frame_max, &f, &need, &why) == FRAME_OK) {
		off += need;
		n++;
	}
	return n;
}

/* Reads what fd holds into in: bytes read, 0 at EOF, -1 with errno. */
ssize_t
link_fill(struct link *l, int fd)
{
	return buf_read(&l->in, fd, LINK_READ_CHUNK);
}

/* Writes what out holds to fd: bytes written, -1 with errno. */
ssize_t
link_flush(struct link *l, int fd)
{
	return buf_write(&l->out, fd);
}
