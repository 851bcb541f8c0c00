/* Encoding and incremental decoding of forkpool frames (doc/PROTOCOL.md). */
#include <endian.h>
#include <string.h>

#include "buf.h"
#include "frame.h"

/* Unaligned big-endian access; compilers turn these into one load each. */
static inline uint16_t
get16(const unsigned char *p)
{
	uint16_t	v;

	memcpy(&v, p, sizeof v);
	return be16toh(v);
}

static inline uint32_t
get32(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof v);
	return be32toh(v);
}

static inline uint64_t
get64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof v);
	return be64toh(v);
}

static inline void
put16(unsigned char *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof v);
}

static inline void
put32(unsigned char *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof v);
}

static inline void
put64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof v);
}

static int
type_known(unsigned type)
{
	switch (type) {
	case FRAME_HELLO:
	case FRAME_JOB:
	case FRAME_RESULT:
	case FRAME_ERROR:
	case FRAME_HEARTBEAT:
	case FRAME_SUBMIT:
	case FRAME_STATUS:
	case FRAME_CONTROL:
		return 1;
	}
	return 0;
}

enum frame_decode_result
frame_decode(const void *buf, size_t len, uint32_t max, struct frame *f,
    size_t *need, const char **why)
{
	const unsigned char	*p = buf;
	uint32_t		 bodylen, keylen, paylen;

	*need = FRAME_HEADER_SIZE;
	if (len < FRAME_HEADER_SIZE)
		return FRAME_SHORT;

	if (p[0] != FRAME_MAGIC0 || p[1] != FRAME_MAGIC1) {
		*why = "bad magic";
		return FRAME_BAD;
	}
	if (p[2] != FRAME_VERSION) {
		*why = "unsupported protocol version";
		return FRAME_BAD;
	}
	if (!type_known(p[3])) {
		*why = "unknown message type";
		return FRAME_BAD;
	}
	if ((get16(p + 4) & ~FRAME_F_ALL) != 0) {
		*why = "undefined flag bits set";
		return FRAME_BAD;
	}
	bodylen = get32(p + 12);
	if (bodylen < FRAME_BODY_MIN) {
		*why = "body shorter than its two length prefixes";
		return FRAME_BAD;
	}
	if (max < FRAME_HEADER_SIZE + FRAME_BODY_MIN ||
	    bodylen > max - FRAME_HEADER_SIZE) {
		*why = "frame larger than the maximum frame size";
		return FRAME_BAD;
	}
	*need = FRAME_HEADER_SIZE + (size_t)bodylen;
	if (len < *need)
		return FRAME_SHORT;

	keylen = get32(p + FRAME_HEADER_SIZE);
	if (keylen > bodylen - FRAME_BODY_MIN) {
		*why = "key length exceeds the body";
		return FRAME_BAD;
	}
	paylen = get32(p + FRAME_HEADER_SIZE + 4 + keylen);
	if (paylen != bodylen - FRAME_BODY_MIN - keylen) {
		*why = "key and payload lengths do not add up to the body";
		return FRAME_BAD;
	}

	f->type = p[3];
	f->flags = get16(p + 4);
	f->aux = get16(p + 6);
	f->arg = get32(p + 8);
	f->id = get64(p + 16);
	f->keylen = keylen;
	f->key = (const char *)p + FRAME_HEADER_SIZE + 4;
	f->paylen = paylen;
	f->payload = f->key + keylen + 4;
	return FRAME_OK;
}

/* A worker's, or an exec: program's: RESULT 0 or 1, ERROR, HEARTBEAT. */
static int
check_worker(const struct frame *f, const char **why)
{
	switch (f->type) {
	case FRAME_RESULT:
		if (f->flags != 0 || f->arg != 0 || f->keylen != 0 ||
		    (f->aux != STATUS_OK && f->aux != STATUS_ERROR)) {
			*why = "malformed RESULT";
			return -1;
		}
		return 0;
	case FRAME_ERROR:
		return 0;
	case FRAME_HEARTBEAT:
		if (f->flags != 0 || f->aux != 0 || f->arg != 0 ||
		    f->keylen != 0 || f->paylen != 0) {
			*why = "malformed HEARTBEAT";
			return -1;
		}
		return 0;
	}
	*why = "unexpected message type";
	return -1;
}

/* A worker takes nothing but JOB, whatever its fields. */
static int
check_to_worker(const struct frame *f, const char **why)
{
	static const char *const unexpected[] = {
		[FRAME_HELLO] =		"unexpected HELLO",
		[FRAME_RESULT] =	"unexpected RESULT",
		[FRAME_ERROR] =		"unexpected ERROR",
		[FRAME_HEARTBEAT] =	"unexpected HEARTBEAT",
		[FRAME_SUBMIT] =	"unexpected SUBMIT",
		[FRAME_STATUS] =	"unexpected STATUS",
		[FRAME_CONTROL] =	"unexpected CONTROL",
	};

	if (f->type == FRAME_JOB)
		return 0;
	*why = f->type < sizeof unexpected / sizeof unexpected[0] &&
	    unexpected[f->type] != NULL ? unexpected[f->type] :
	    "unexpected unknown";
	return -1;
}

static int
check_from_client(const struct frame *f, const char **why)
{
	switch (f->type) {
	case FRAME_SUBMIT:
		if (f->id == 0 || f->aux != 0 || f->arg != 0 ||
		    (!(f->flags & FRAME_F_KEYED) && f->keylen != 0)) {
			*why = "malformed SUBMIT";
			return -1;
		}
		return 0;
	case FRAME_STATUS:
		if (f->flags != 0 || f->aux > FRAME_STATUS_FORMAT_MAX ||
		    f->keylen != 0 || f->paylen != 0) {
			*why = "malformed STATUS";
			return -1;
		}
		return 0;
	case FRAME_CONTROL:
		if (f->flags != 0 || f->aux != 0 || f->keylen != 0) {
			*why = "malformed CONTROL";
			return -1;
		}
		return 0;
	}
	*why = "unexpected message type";
	return -1;
}

/* The greeting's text and a reply's status are the client's to check. */
static int
check_to_client(const struct frame *f, const char **why)
{
	switch (f->type) {
	case FRAME_HELLO:
		if (f->flags != 0 || f->aux != 0 || f->id != 0 ||
		    f->keylen != 0 || f->arg == 0 || f->arg > INT32_MAX) {
			*why = "malformed HELLO";
			return -1;
		}
		return 0;
	case FRAME_RESULT:
		if (f->flags != 0 || f->keylen != 0) {
			*why = "malformed RESULT";
			return -1;
		}
		if (f->aux > STATUS_REJECTED) {
			*why = "RESULT with an unknown status";
			return -1;
		}
		return 0;
	case FRAME_STATUS:
		if (f->flags != 0 || f->keylen != 0) {
			*why = "malformed STATUS";
			return -1;
		}
		return 0;
	case FRAME_ERROR:
		return 0;
	}
	*why = "unexpected message type";
	return -1;
}

int
frame_check(const struct frame *f, enum frame_dir dir, const char **why)
{
	switch (dir) {
	case FRAME_ANY:
		return 0;
	case FRAME_FROM_WORKER:
		/* Its slot and pid are the supervisor's to compare. */
		if (f->type != FRAME_HELLO)
			return check_worker(f, why);
		if (f->flags != 0 || f->id != 0 || f->keylen != 0 ||
		    f->paylen != 0) {
			*why = "HELLO with the wrong slot or pid";
			return -1;
		}
		return 0;
	case FRAME_FROM_PROGRAM:
		/* Its arg may hold its pid, which nobody checks. */
		if (f->type != FRAME_HELLO)
			return check_worker(f, why);
		if (f->flags != 0 || f->aux != 0 || f->id != 0 ||
		    f->keylen != 0 || f->paylen != 0) {
			*why = "malformed HELLO";
			return -1;
		}
		return 0;
	case FRAME_TO_WORKER:
		return check_to_worker(f, why);
	case FRAME_FROM_CLIENT:
		return check_from_client(f, why);
	case FRAME_TO_CLIENT:
		return check_to_client(f, why);
	}
	*why = "unknown direction";
	return -1;
}

size_t
frame_encode(void *dst, const struct frame *f)
{
	unsigned char	*p = dst;

	p[0] = FRAME_MAGIC0;
	p[1] = FRAME_MAGIC1;
	p[2] = FRAME_VERSION;
	p[3] = f->type;
	put16(p + 4, f->flags);
	put16(p + 6, f->aux);
	put32(p + 8, f->arg);
	put32(p + 12, FRAME_BODY_MIN + f->keylen + f->paylen);
	put64(p + 16, f->id);
	p += FRAME_HEADER_SIZE;
	put32(p, f->keylen);
	if (f->keylen > 0)
		memcpy(p + 4, f->key, f->keylen);
	p += 4 + f->keylen;
	put32(p, f->paylen);
	if (f->paylen > 0)
		memcpy(p + 4, f->payload, f->paylen);
	return frame_size(f->keylen, f->paylen);
}

int
frame_append(struct buf *b, uint8_t type, uint16_t aux, uint32_t arg,
    uint64_t id, const char *payload, size_t len)
{
	struct frame	 f;
	char		*p;

	memset(&f, 0, sizeof f);
	f.type = type;
	f.aux = aux;
	f.arg = arg;
	f.id = id;
	f.payload = payload;
	f.paylen = len;
	if ((p = buf_append_space(b, frame_size(0, len))) == NULL)
		return -1;
	frame_encode(p, &f);
	return 0;
}

const char *
frame_type_name(unsigned type)
{
	switch (type) {
	case FRAME_HELLO:	return "HELLO";
	case FRAME_JOB:		return "JOB";
	case FRAME_RESULT:	return "RESULT";
	case FRAME_ERROR:	return "ERROR";
	case FRAME_HEARTBEAT:	return "HEARTBEAT";
	case FRAME_SUBMIT:	return "SUBMIT";
	case FRAME_STATUS:	return "STATUS";
	case FRAME_CONTROL:	return "CONTROL";
	}
	return "unknown";
}

const char *
frame_status_name(unsigned status)
{
	switch (status) {
	case STATUS_OK:		return "ok";
	case STATUS_ERROR:	return "error";
	case STATUS_CRASHED:	return "crashed";
	case STATUS_TIMEOUT:	return "timeout";
	case STATUS_REJECTED:	return "rejected";
	}
	return "unknown";
}
