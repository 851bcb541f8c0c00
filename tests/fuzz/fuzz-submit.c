/*
 * libFuzzer target for what a client sends to the service.  The bytes go
 * through the supervisor's own decoding and checks (request_decode() and
 * request_control(), which service.c runs on every frame), arriving in
 * the pieces the first byte chooses, into a struct buf as the socket
 * reads fill it; each SUBMIT let through is stored in a job record of a
 * real ledger, as take_submit() does.  Checks, on any input:
 *   - any split of the stream decodes to the same frames and ends with
 *     the same verdict, at the same byte;
 *   - a frame let through is one a client may send, with its fields as
 *     doc/PROTOCOL.md has them, and no larger than the maximum;
 *   - the job record holds exactly the key and the payload;
 *   - a CONTROL command is taken only when it is exactly that command.
 * The input: byte 0 chooses the pieces, byte 1 the maximum frame size, the
 * rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "supervisor/supervisor.h"

#define LEDGER_SIZE	4

struct outcome {
	uint64_t			 sum;	/* of every frame let through */
	unsigned			 frames;
	enum frame_decode_result	 last;	/* SHORT at the end, or BAD */
	const char			*why;
	size_t				 at;	/* stream offset of the verdict */
};

static uint64_t
fnv(const char *p, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	while (len-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
check_submit(const struct frame *f)
{
	struct job	*j;
	uint32_t	 idx;

	if (f->id == 0 || f->aux != 0 || f->arg != 0 ||
	    (f->flags & ~FRAME_F_ALL) != 0 ||
	    (!(f->flags & FRAME_F_KEYED) && f->keylen != 0))
		abort();
	if ((idx = ledger_alloc()) == JOB_NONE)
		abort();
	j = ledger_job(idx);
	if (bytes_set(&j->data, f->key, f->keylen, f->payload,
	    f->paylen) == -1)
		abort();
	if (j->data.len != f->keylen + f->paylen ||
	    (f->keylen > 0 && memcmp(j->data.p, f->key, f->keylen) != 0) ||
	    (f->paylen > 0 && memcmp(j->data.p + f->keylen, f->payload,
	    f->paylen) != 0))
		abort();
	ledger_release(idx);
}

static int
is(const struct frame *f, const char *cmd)
{
	return f->paylen == strlen(cmd) && memcmp(f->payload, cmd,
	    f->paylen) == 0;
}

static void
check_control(const struct frame *f)
{
	char	msg[128];
	int	n = 0;

	if (f->flags != 0 || f->aux != 0 || f->keylen != 0)
		abort();
	memset(msg, 0, sizeof msg);
	switch (request_control(f, &n, msg, sizeof msg)) {
	case CONTROL_DRAIN:
		if (!is(f, "drain"))
			abort();
		break;
	case CONTROL_STOP:
		if (!is(f, "stop"))
			abort();
		break;
	case CONTROL_RELOAD:
		if (!is(f, "reload"))
			abort();
		break;
	case CONTROL_SCALE:
		if (n < 1 || n > WORKERS_CAP || f->paylen < 7 ||
		    memcmp(f->payload, "scale ", 6) != 0 ||
		    memchr(f->payload, '\0', f->paylen) != NULL)
			abort();
		break;
	case CONTROL_REFUSED:
		if (msg[0] == '\0' || memchr(msg, '\0', sizeof msg) == NULL)
			abort();
		break;
	default:
		abort();
	}
}

static void
check_frame(const struct frame *f, size_t need, uint32_t max)
{
	if (need > max || need != frame_size(f->keylen, f->paylen))
		abort();
	switch (f->type) {
	case FRAME_SUBMIT:
		check_submit(f);
		break;
	case FRAME_STATUS:
		if (f->flags != 0 || f->aux > STATUS_FORMAT_PROMETHEUS ||
		    f->keylen != 0 || f->paylen != 0)
			abort();
		break;
	case FRAME_CONTROL:
		check_control(f);
		break;
	default:
		abort();
	}
}

/*
 * The client loop of service.c, on a stream read in pieces of 1 to cap
 * bytes (cap 0: in one piece).
 */
static void
run(const uint8_t *data, size_t len, uint32_t max, uint32_t seed,
    size_t cap, struct outcome *o)
{
	struct buf	 in;
	struct frame	 f;
	const char	*why = NULL;
	size_t		 fed = 0, done = 0, piece, need;
	enum frame_decode_result r = FRAME_SHORT;

	memset(o, 0, sizeof *o);
	buf_init(&in);
	while (fed < len) {
		/* xorshift32: the same pieces for the same seed. */
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		piece = cap == 0 ? len : 1 + seed % cap;
		if (piece > len - fed)
			piece = len - fed;
		if (buf_append(&in, data + fed, piece) == -1)
			abort();
		fed += piece;
		while ((r = request_decode(buf_head(&in), in.len, max, &f,
		    &need, &why)) == FRAME_OK) {
			check_frame(&f, need, max);
			o->sum = o->sum * 31 + fnv(f.key, f.keylen) +
			    fnv(f.payload, f.paylen) * 7 + f.type + f.flags +
			    f.aux + f.arg + f.id;
			o->frames++;
			buf_consume(&in, need);
			done += need;
		}
		if (r == FRAME_BAD)
			break;
	}
	o->last = r;
	o->why = r == FRAME_BAD ? why : NULL;
	o->at = done;
	buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int	 ready;
	struct outcome	 whole, split;
	uint32_t	 max;

	if (!ready) {
		ledger_init(LEDGER_SIZE);
		ready = 1;
	}
	if (len < 2)
		return 0;
	/* From the smallest maximum the options allow, to 4 kB. */
	max = 64 + data[1] * 16;
	run(data + 2, len - 2, max, 1, 0, &whole);
	run(data + 2, len - 2, max, data[0] | 0x100, 1 + (data[0] & 0x3f),
	    &split);
	if (whole.sum != split.sum || whole.frames != split.frames ||
	    whole.last != split.last || whole.why != split.why ||
	    whole.at != split.at)
		abort();
	if (ledger_room() != LEDGER_SIZE)
		abort();
	return 0;
}
