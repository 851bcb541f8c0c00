/*
 * One end of a link that carries frames: the bytes read and not yet taken
 * (in), the bytes to write (out), and what to do with each frame.  Every
 * reader of every direction decodes the same way: link_take() decodes each
 * whole frame in, checks it with frame_check() for the link's direction,
 * and hands it to the link's callback.  The link owns no descriptor: a
 * socket, a pipe or a buffer handed over under a mutex fill it alike.
 */
#ifndef LINK_H
#define LINK_H

#include <sys/types.h>
#include <stdint.h>

#include "buf.h"
#include "frame.h"

#define LINK_READ_CHUNK	(256 * 1024)	/* read at a time, at least */

/*
 * Called for each frame that checked out, already consumed from in (its
 * key and payload stay valid until in next grows): 0 to go on, 1 to stop
 * there, -1 when the frame breaks the protocol, with the reason in why.
 */
typedef int	link_fn(void *, const struct frame *);

struct link {
	struct buf	 in;
	struct buf	 out;
	uint32_t	 frame_max;
	enum frame_dir	 dir;		/* what the frames in are */
	link_fn		*fn;
	void		*arg;
	const char	*why;		/* why the last frame was bad */
};

enum link_stop {
	LINK_SHORT,		/* in holds no whole frame more */
	LINK_BAD,		/* a bad frame: the reason is in why */
	LINK_STOPPED,		/* the callback said to stop */
};

void		link_init(struct link *, uint32_t, enum frame_dir, link_fn *,
		    void *);
void		link_free(struct link *);
enum link_stop	link_take(struct link *);
unsigned	link_count(const struct link *, unsigned);
ssize_t		link_fill(struct link *, int);
ssize_t		link_flush(struct link *, int);

#endif
