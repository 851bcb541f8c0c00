/*
 * What a client may send on the job socket (doc/PROTOCOL.md, "The client
 * link"), checked exactly, apart from the socket and the event loop:
 * service.c acts only on what passes here, and tests/fuzz/fuzz-submit.c
 * feeds these functions any bytes at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

/*
 * Decodes the client frame at the head of buf as frame_decode() does, and
 * checks it is one a client may send, with its fields as the protocol has
 * them: FRAME_BAD (with *why) for anything else.
 */
enum frame_decode_result
request_decode(const void *buf, size_t len, uint32_t max, struct frame *f,
    size_t *need, const char **why)
{
	enum frame_decode_result r;

	if ((r = frame_decode(buf, len, max, f, need, why)) != FRAME_OK)
		return r;
	return frame_check(f, FRAME_FROM_CLIENT, why) == 0 ? FRAME_OK :
	    FRAME_BAD;
}

/*
 * The command of a CONTROL frame, the whole payload: bytes after a NUL do
 * not vanish.  For scale, *n is the number of workers; CONTROL_REFUSED
 * comes with the reply in msg.
 */
enum control_op
request_control(const struct frame *f, int *n, char *msg, size_t msglen)
{
	char		 cmd[64];
	const char	*errstr;
	long long	 v;

	if (f->paylen >= sizeof cmd ||
	    memchr(f->payload, '\0', f->paylen) != NULL) {
		snprintf(msg, msglen, "unknown command");
		return CONTROL_REFUSED;
	}
	memcpy(cmd, f->payload, f->paylen);
	cmd[f->paylen] = '\0';
	if (strcmp(cmd, "drain") == 0)
		return CONTROL_DRAIN;
	if (strcmp(cmd, "stop") == 0)
		return CONTROL_STOP;
	if (strcmp(cmd, "reload") == 0)
		return CONTROL_RELOAD;
	if (strncmp(cmd, "scale ", 6) == 0) {
		v = strtonum(cmd + 6, 1, WORKERS_CAP, &errstr);
		if (errstr != NULL) {
			snprintf(msg, msglen, "scale: %s: %s", cmd + 6, errstr);
			return CONTROL_REFUSED;
		}
		*n = (int)v;
		return CONTROL_SCALE;
	}
	snprintf(msg, msglen, "unknown command");
	return CONTROL_REFUSED;
}
