/*
 * The inside of a struct fp_client, shared by the files of the library:
 * client.c (the link and the jobs), connect.c (connecting) and request.c
 * (STATUS and CONTROL).  None of these names is exported.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <sys/types.h>
#include <stdint.h>

#include "proto/buf.h"
#include "forkpool.h"
#include "proto/frame.h"
#include "idset.h"

#define READ_CHUNK	(64 * 1024)

struct fp_client {
	int		 fd;
	int		 nonblocking;
	uint32_t	 frame_max;
	struct buf	 in;		/* bytes from the supervisor */
	struct buf	 held;		/* RESULTs set aside by request.c */
	struct buf	 out;		/* frames not yet written */
	size_t		 in_need;	/* bytes the frame at the head needs */
	struct idset	 pending;	/* submitted, result not returned */
	uint64_t	 op_id;		/* last id of a STATUS or CONTROL */
	pid_t		 server_pid;
	char		*server_version;

	int		 eof;		/* the supervisor closed its end */
	int		 rerr;		/* errno of a failed read */
	int		 werr;		/* errno of a failed write */
	int		 bad;		/* bad frame or ERROR: decoding ended */
	int		 err;		/* errno that goes with error */
	char		 error[FP_ERRBUF_SIZE];	/* why the last call failed */
	int		 down_err;	/* the link is down: errno, and why */
	char		 down[FP_ERRBUF_SIZE];
};


void	client_error(struct fp_client *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	client_down(struct fp_client *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	client_still_down(struct fp_client *);
void	client_copy_text(char *, size_t, const char *, size_t);
int	client_broken(struct fp_client *, int, const char *);
int	client_server_error(struct fp_client *, const struct frame *);
int	client_lost(struct fp_client *);
ssize_t	client_fill(struct fp_client *);
int	client_wait(struct fp_client *, short, short *);
int	client_flush(struct fp_client *, int);
int	client_queue(struct fp_client *, uint8_t, uint16_t, uint16_t,
	    uint64_t, const void *, size_t, const void *, size_t);
int	client_peek(struct fp_client *, struct frame *, size_t *);
int	client_check_result(struct fp_client *, const struct frame *);

/* The link is down for sending: written off, or closed. */
static inline int
client_is_down(const struct fp_client *c)
{
	return c->werr != 0 || c->bad || c->eof || c->rerr != 0;
}

#endif
