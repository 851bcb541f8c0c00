/*
 * The link: what each direction may send (frame_check) and the reader
 * every link shares (link_take), fed a stream in pieces.
 */
#include <stdint.h>
#include <string.h>

#include "proto/link.h"
#include "tap.h"

struct check {
	enum frame_dir	 dir;
	uint8_t		 type;
	uint16_t	 flags;
	uint16_t	 aux;
	uint32_t	 arg;
	uint64_t	 id;
	uint32_t	 keylen;
	uint32_t	 paylen;
	const char	*why;		/* NULL: it checks out */
};

static const struct check checks[] = {
	{ FRAME_FROM_WORKER, FRAME_HELLO, 0, 3, 99, 0, 0, 0, NULL },
	{ FRAME_FROM_WORKER, FRAME_HELLO, 1, 3, 99, 0, 0, 0,
	    "HELLO with the wrong slot or pid" },
	{ FRAME_FROM_WORKER, FRAME_HELLO, 0, 3, 99, 0, 0, 1,
	    "HELLO with the wrong slot or pid" },
	{ FRAME_FROM_WORKER, FRAME_RESULT, 0, STATUS_OK, 0, 7, 0, 5, NULL },
	{ FRAME_FROM_WORKER, FRAME_RESULT, 0, STATUS_ERROR, 0, 7, 0, 5, NULL },
	{ FRAME_FROM_WORKER, FRAME_RESULT, 0, STATUS_CRASHED, 0, 7, 0, 0,
	    "malformed RESULT" },
	{ FRAME_FROM_WORKER, FRAME_RESULT, 0, 0, 1, 7, 0, 0,
	    "malformed RESULT" },
	{ FRAME_FROM_WORKER, FRAME_RESULT, 0, 0, 0, 7, 2, 0,
	    "malformed RESULT" },
	{ FRAME_FROM_WORKER, FRAME_ERROR, 0, 0, 0, 0, 0, 9, NULL },
	{ FRAME_FROM_WORKER, FRAME_HEARTBEAT, 0, 0, 0, 7, 0, 0, NULL },
	{ FRAME_FROM_WORKER, FRAME_HEARTBEAT, 0, 1, 0, 7, 0, 0,
	    "malformed HEARTBEAT" },
	{ FRAME_FROM_WORKER, FRAME_HEARTBEAT, 0, 0, 0, 7, 0, 1,
	    "malformed HEARTBEAT" },
	{ FRAME_FROM_WORKER, FRAME_JOB, 0, 1, 0, 7, 0, 0,
	    "unexpected message type" },
	{ FRAME_FROM_WORKER, FRAME_SUBMIT, 0, 0, 0, 7, 0, 0,
	    "unexpected message type" },
	{ FRAME_FROM_PROGRAM, FRAME_HELLO, 0, 0, 1234, 0, 0, 0, NULL },
	{ FRAME_FROM_PROGRAM, FRAME_HELLO, 0, 3, 0, 0, 0, 0,
	    "malformed HELLO" },
	{ FRAME_FROM_PROGRAM, FRAME_HELLO, 0, 0, 0, 1, 0, 0,
	    "malformed HELLO" },
	{ FRAME_FROM_PROGRAM, FRAME_RESULT, 0, 2, 0, 7, 0, 0,
	    "malformed RESULT" },
	{ FRAME_FROM_PROGRAM, FRAME_STATUS, 0, 0, 0, 7, 0, 0,
	    "unexpected message type" },
	{ FRAME_TO_WORKER, FRAME_JOB, FRAME_F_KEYED, 1, 500, 7, 3, 5, NULL },
	{ FRAME_TO_WORKER, FRAME_RESULT, 0, 0, 0, 7, 0, 0,
	    "unexpected RESULT" },
	{ FRAME_TO_WORKER, FRAME_HELLO, 0, 0, 0, 0, 0, 0, "unexpected HELLO" },
	{ FRAME_FROM_CLIENT, FRAME_SUBMIT, 0, 0, 0, 7, 0, 5, NULL },
	{ FRAME_FROM_CLIENT, FRAME_SUBMIT, FRAME_F_KEYED, 0, 0, 7, 2, 5,
	    NULL },
	{ FRAME_FROM_CLIENT, FRAME_SUBMIT, 0, 0, 0, 0, 0, 5,
	    "malformed SUBMIT" },
	{ FRAME_FROM_CLIENT, FRAME_SUBMIT, 0, 0, 0, 7, 2, 5,
	    "malformed SUBMIT" },
	{ FRAME_FROM_CLIENT, FRAME_SUBMIT, 0, 1, 0, 7, 0, 5,
	    "malformed SUBMIT" },
	{ FRAME_FROM_CLIENT, FRAME_STATUS, 0, 2, 0, 7, 0, 0, NULL },
	{ FRAME_FROM_CLIENT, FRAME_STATUS, 0, 3, 0, 7, 0, 0,
	    "malformed STATUS" },
	{ FRAME_FROM_CLIENT, FRAME_CONTROL, 0, 0, 0, 7, 0, 5, NULL },
	{ FRAME_FROM_CLIENT, FRAME_CONTROL, FRAME_F_HIGH, 0, 0, 7, 0, 5,
	    "malformed CONTROL" },
	{ FRAME_FROM_CLIENT, FRAME_RESULT, 0, 0, 0, 7, 0, 5,
	    "unexpected message type" },
	{ FRAME_TO_CLIENT, FRAME_HELLO, 0, 0, 42, 0, 0, 8, NULL },
	{ FRAME_TO_CLIENT, FRAME_HELLO, 0, 0, 0, 0, 0, 8, "malformed HELLO" },
	{ FRAME_TO_CLIENT, FRAME_RESULT, 0, STATUS_REJECTED, 0, 7, 0, 0,
	    NULL },
	{ FRAME_TO_CLIENT, FRAME_RESULT, 0, STATUS_REJECTED + 1, 0, 7, 0, 0,
	    "RESULT with an unknown status" },
	{ FRAME_TO_CLIENT, FRAME_RESULT, 0, 0, 0, 7, 1, 0,
	    "malformed RESULT" },
	{ FRAME_TO_CLIENT, FRAME_STATUS, 0, 1, 0, 7, 0, 9, NULL },
	{ FRAME_TO_CLIENT, FRAME_JOB, 0, 1, 0, 7, 0, 9,
	    "unexpected message type" },
	{ FRAME_ANY, FRAME_CONTROL, 0, 9, 9, 9, 9, 9, NULL },
};

static int
check_one(const struct check *c)
{
	static const char	 bytes[16] = "0123456789abcdef";
	struct frame		 f;
	const char		*why = NULL;
	int			 rc;

	memset(&f, 0, sizeof f);
	f.type = c->type;
	f.flags = c->flags;
	f.aux = c->aux;
	f.arg = c->arg;
	f.id = c->id;
	f.key = bytes;
	f.keylen = c->keylen;
	f.payload = bytes;
	f.paylen = c->paylen;
	rc = frame_check(&f, c->dir, &why);
	if (c->why == NULL)
		return rc == 0;
	return rc == -1 && why != NULL && strcmp(why, c->why) == 0;
}

/* What the callback saw, and what it is to answer at which frame. */
struct seen {
	unsigned	 n;
	uint64_t	 ids[16];
	unsigned	 stop_at;	/* 1 at this frame (counted from 1) */
	unsigned	 bad_at;	/* -1 at this frame */
};

static int
see(void *arg, const struct frame *f)
{
	struct seen	*s = arg;

	s->ids[s->n++] = f->id;
	if (s->n == s->bad_at)
		return -1;
	return s->n == s->stop_at;
}

static int
see_bad(void *arg, const struct frame *f)
{
	struct link	*l = arg;

	(void)f;
	l->why = "result for a job it was not running";
	return -1;
}

static void
put_result(struct buf *b, uint64_t id, const char *p)
{
	frame_append(b, FRAME_RESULT, STATUS_OK, 0, id, p, strlen(p));
}

int
main(void)
{
	struct link	 l;
	struct seen	 s;
	struct buf	 stream;
	size_t		 i, cut, bad = 0, total;
	enum link_stop	 r;

	tap_plan(11);

	for (i = 0; i < sizeof checks / sizeof checks[0]; i++)
		if (!check_one(&checks[i])) {
			tap_diag("check %zu (type %s) is wrong", i,
			    frame_type_name(checks[i].type));
			bad++;
		}
	tap_ok(bad == 0, "frame_check takes and refuses what each direction "
	    "may send, with the reasons the readers give (%zu cases)",
	    sizeof checks / sizeof checks[0]);

	buf_init(&stream);
	for (i = 1; i <= 5; i++)
		put_result(&stream, i, i % 2 ? "odd" : "an even result");
	total = stream.len;

	/* Every cut in two: the same five frames, nothing left. */
	for (cut = 0; cut <= total; cut++) {
		memset(&s, 0, sizeof s);
		link_init(&l, FRAME_MAX_DEFAULT, FRAME_FROM_WORKER, see, &s);
		buf_append(&l.in, buf_head(&stream), cut);
		if (link_take(&l) != LINK_SHORT)
			bad++;
		buf_append(&l.in, buf_head(&stream) + cut, total - cut);
		if (link_take(&l) != LINK_SHORT || s.n != 5 ||
		    s.ids[0] != 1 || s.ids[4] != 5 || l.in.len != 0)
			bad++;
		link_free(&l);
	}
	tap_ok(bad == 0, "a stream cut anywhere gives each frame once, in "
	    "order");

	memset(&s, 0, sizeof s);
	link_init(&l, FRAME_MAX_DEFAULT, FRAME_FROM_WORKER, see, &s);
	tap_ok(link_take(&l) == LINK_SHORT && s.n == 0,
	    "an empty link with no memory yet is short");
	buf_append(&l.in, buf_head(&stream), total);
	tap_ok(link_count(&l, 3) == 4 && link_count(&l, 16) == 5,
	    "link_count counts whole frames up to one past its limit");
	s.stop_at = 2;
	r = link_take(&l);
	tap_ok(r == LINK_STOPPED && s.n == 2 &&
	    link_count(&l, 16) == 3, "a callback stops the reader after its "
	    "frame, which is consumed");
	r = link_take(&l);
	tap_ok(r == LINK_SHORT && s.n == 5 && s.ids[2] == 3,
	    "the next call takes up where it stopped");
	link_free(&l);

	memset(&s, 0, sizeof s);
	s.bad_at = 1;
	link_init(&l, FRAME_MAX_DEFAULT, FRAME_FROM_WORKER, see_bad, &l);
	buf_append(&l.in, buf_head(&stream), total);
	r = link_take(&l);
	tap_ok(r == LINK_BAD && l.why != NULL &&
	    strcmp(l.why, "result for a job it was not running") == 0,
	    "a callback refuses a frame with its own reason");
	link_free(&l);

	/* A RESULT where a worker takes only JOB. */
	memset(&s, 0, sizeof s);
	link_init(&l, FRAME_MAX_DEFAULT, FRAME_TO_WORKER, see, &s);
	buf_append(&l.in, buf_head(&stream), total);
	r = link_take(&l);
	tap_ok(r == LINK_BAD && s.n == 0 &&
	    strcmp(l.why, "unexpected RESULT") == 0,
	    "a frame the direction does not carry is bad before the callback "
	    "(%s)", l.why);
	link_free(&l);

	memset(&s, 0, sizeof s);
	link_init(&l, FRAME_MAX_DEFAULT, FRAME_FROM_WORKER, see, &s);
	buf_append(&l.in, buf_head(&stream), frame_size(0, 3));
	buf_append(&l.in, "garbage garbage garbage garbage", 31);
	r = link_take(&l);
	tap_ok(r == LINK_BAD && s.n == 1 && strcmp(l.why, "bad magic") == 0,
	    "the frames before a broken one are taken, then it is bad (%s)",
	    l.why);
	link_free(&l);

	memset(&s, 0, sizeof s);
	link_init(&l, frame_size(0, 3), FRAME_FROM_WORKER, see, &s);
	buf_append(&l.in, buf_head(&stream), total);
	r = link_take(&l);
	tap_ok(r == LINK_BAD && s.n == 1,
	    "a frame over the link's maximum is bad (%s)", l.why);
	link_free(&l);

	memset(&s, 0, sizeof s);
	link_init(&l, FRAME_MAX_DEFAULT, FRAME_ANY, see, &s);
	buf_append(&l.in, buf_head(&stream), frame_size(0, 3));
	r = link_take(&l);
	tap_ok(r == LINK_SHORT && s.n == 1 &&
	    frame_start(&(struct frame){ .key = buf_head(&stream) + 28 }) ==
	    buf_head(&stream), "FRAME_ANY takes any type; frame_start finds "
	    "a frame's first byte");
	link_free(&l);
	buf_free(&stream);
	return tap_done();
}
