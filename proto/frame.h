/*
 * The forkpool wire format: one framing for every link (supervisor and
 * worker, client and supervisor).  doc/PROTOCOL.md is the specification;
 * this header is its C form.
 *
 * Bump FRAME_VERSION whenever the header layout, a body layout or the
 * meaning of a field changes; peers refuse a version they do not speak.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC0		0x46	/* 'F' */
#define FRAME_MAGIC1		0x50	/* 'P' */
#define FRAME_VERSION		1
#define FRAME_HEADER_SIZE	24
#define FRAME_BODY_MIN		8	/* two empty length prefixes */
#define FRAME_MAX_DEFAULT	(16U * 1024 * 1024)

/* Message types, numbered in blocks: 0x01.. worker link, 0x10.. clients. */
enum frame_type {
	FRAME_HELLO =		0x01,	/* worker -> supervisor: aux slot, arg pid */
	FRAME_JOB =		0x02,	/* supervisor -> worker: aux attempt, arg timeout ms */
	FRAME_RESULT =		0x03,	/* either way: aux status */
	FRAME_ERROR =		0x04,	/* either way: payload is a message */
	FRAME_HEARTBEAT =	0x05,	/* worker -> supervisor: id of the job running */

	FRAME_SUBMIT =		0x10,	/* client -> supervisor: a job */
	FRAME_STATUS =		0x11,	/* client <-> supervisor: status request/reply */
	FRAME_CONTROL =		0x12,	/* client -> supervisor: an operation */
};

/* Flags; a bit not defined here must be zero. */
#define FRAME_F_HIGH		0x0001	/* SUBMIT/JOB: high priority lane */
#define FRAME_F_KEYED		0x0002	/* SUBMIT/JOB: the key orders the job */
#define FRAME_F_ALL		(FRAME_F_HIGH | FRAME_F_KEYED)

/* RESULT status (aux). */
enum frame_status {
	STATUS_OK =		0,
	STATUS_ERROR =		1,	/* the handler reported an error */
	STATUS_CRASHED =	2,	/* every attempt ended in a worker crash */
	STATUS_TIMEOUT =	3,	/* every attempt ran past the timeout */
	STATUS_REJECTED =	4,	/* the supervisor refused the job */
};

struct frame {
	uint8_t		 type;
	uint16_t	 flags;
	uint16_t	 aux;
	uint32_t	 arg;
	uint64_t	 id;
	const char	*key;
	uint32_t	 keylen;
	const char	*payload;
	uint32_t	 paylen;
};

enum frame_decode_result {
	FRAME_OK,		/* one frame decoded */
	FRAME_SHORT,		/* need more bytes; nothing consumed */
	FRAME_BAD,		/* the stream is broken; close the link */
};

/*
 * Decodes the frame at the start of buf.  The header is validated as soon
 * as it is complete, before the caller grows any buffer for the body:
 * *need then says how many bytes the whole frame takes.  On FRAME_OK the
 * frame's key and payload point into buf.
 */
enum frame_decode_result frame_decode(const void *buf, size_t len,
    uint32_t max, struct frame *, size_t *need, const char **why);

/* Bytes frame_encode() writes for a key and payload of these sizes. */
static inline size_t
frame_size(size_t keylen, size_t paylen)
{
	return FRAME_HEADER_SIZE + FRAME_BODY_MIN + keylen + paylen;
}

/* Writes the frame into dst, which has frame_size() bytes; returns that. */
size_t	frame_encode(void *dst, const struct frame *);

/*
 * Who sends a frame, for frame_check(): each direction has the types it may
 * carry and the fields each must have.
 */
enum frame_dir {
	FRAME_ANY,		/* the decoding checks only */
	FRAME_FROM_WORKER,	/* worker -> supervisor */
	FRAME_FROM_PROGRAM,	/* exec: program -> its worker */
	FRAME_TO_WORKER,	/* supervisor -> worker */
	FRAME_FROM_CLIENT,	/* client -> supervisor */
	FRAME_TO_CLIENT,	/* supervisor -> client */
};

/* The highest STATUS format a client may ask for (text, JSON, Prometheus). */
#define FRAME_STATUS_FORMAT_MAX	2

/*
 * Checks a decoded frame against what its direction may send, every field
 * that needs no state of the link: -1 with *why for one that breaks the
 * protocol.  What depends on the link (the job a RESULT answers, the slot
 * and pid of a HELLO) is its reader's to check.
 */
int	frame_check(const struct frame *, enum frame_dir, const char **);

/* Where the bytes of a frame frame_decode() returned begin. */
static inline const char *
frame_start(const struct frame *f)
{
	return f->key - 4 - FRAME_HEADER_SIZE;
}

struct buf;

/* Appends a frame with an empty key to b; -1 when out of memory. */
int	frame_append(struct buf *, uint8_t, uint16_t, uint32_t, uint64_t,
	    const char *, size_t);

const char	*frame_type_name(unsigned);
const char	*frame_status_name(unsigned);

#endif
