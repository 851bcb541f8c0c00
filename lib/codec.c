/*
 * The public face of the frame codec: proto/frame.c behind the fp_ names,
 * with a struct of its own so that the library's ABI does not follow the
 * internal one.
 */
#include <stdint.h>
#include <string.h>

#include "forkpool.h"
#include "proto/frame.h"

/* The public constants are the protocol's; a change must break the build. */
_Static_assert(FP_HEADER_SIZE == FRAME_HEADER_SIZE, "header size");
_Static_assert(FP_PROTOCOL_VERSION == FRAME_VERSION, "protocol version");
_Static_assert(FP_FRAME_MAX_DEFAULT == FRAME_MAX_DEFAULT, "frame max");
_Static_assert(FP_MSG_HELLO == FRAME_HELLO && FP_MSG_JOB == FRAME_JOB &&
    FP_MSG_RESULT == FRAME_RESULT && FP_MSG_ERROR == FRAME_ERROR &&
    FP_MSG_HEARTBEAT == FRAME_HEARTBEAT && FP_MSG_SUBMIT == FRAME_SUBMIT &&
    FP_MSG_STATUS == FRAME_STATUS && FP_MSG_CONTROL == FRAME_CONTROL,
    "message types");
_Static_assert(FP_F_HIGH == FRAME_F_HIGH && FP_F_KEYED == FRAME_F_KEYED,
    "flags");
_Static_assert(FP_STATUS_OK == STATUS_OK && FP_STATUS_ERROR == STATUS_ERROR &&
    FP_STATUS_CRASHED == STATUS_CRASHED &&
    FP_STATUS_TIMEOUT == STATUS_TIMEOUT &&
    FP_STATUS_REJECTED == STATUS_REJECTED, "statuses");

/* 0 when no frame can carry a key and payload this large. */
size_t
fp_frame_size(size_t keylen, size_t paylen)
{
	if (keylen > UINT32_MAX - FRAME_BODY_MIN ||
	    paylen > UINT32_MAX - FRAME_BODY_MIN - keylen ||
	    FRAME_BODY_MIN + keylen + paylen > SIZE_MAX - FRAME_HEADER_SIZE)
		return 0;
	return frame_size(keylen, paylen);
}

size_t
fp_frame_encode(void *dst, const struct fp_frame *pf)
{
	struct frame	f;

	if (fp_frame_size(pf->keylen, pf->paylen) == 0)
		return 0;
	f.type = pf->type;
	f.flags = pf->flags;
	f.aux = pf->aux;
	f.arg = pf->arg;
	f.id = pf->id;
	f.key = pf->key;
	f.keylen = pf->keylen;
	f.payload = pf->payload;
	f.paylen = pf->paylen;
	return frame_encode(dst, &f);
}

/*
 * 1: a frame, whose key and payload point into buf, takes *need bytes;
 * 0: *need bytes are needed (the header is checked as soon as it is there);
 * -1: a bad frame, *why says how.
 */
int
fp_frame_decode(const void *buf, size_t len, uint32_t max,
    struct fp_frame *pf, size_t *need, const char **why)
{
	struct frame	f;
	const char	*w = NULL;

	switch (frame_decode(buf, len, max, &f, need, &w)) {
	case FRAME_SHORT:
		return 0;
	case FRAME_BAD:
		if (why != NULL)
			*why = w;
		return -1;
	case FRAME_OK:
		break;
	}
	pf->type = f.type;
	pf->flags = f.flags;
	pf->aux = f.aux;
	pf->arg = f.arg;
	pf->id = f.id;
	pf->key = f.key;
	pf->keylen = f.keylen;
	pf->payload = f.payload;
	pf->paylen = f.paylen;
	return 1;
}

const char *
fp_status_name(unsigned status)
{
	return frame_status_name(status);
}

const char *
fp_type_name(unsigned type)
{
	return frame_type_name(type);
}
