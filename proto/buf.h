/*
 * A growable byte buffer for one direction of a link: bytes are appended at
 * the end and consumed from the front, so many frames move per syscall.
 */
#ifndef BUF_H
#define BUF_H

#include <sys/types.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 off;		/* first unconsumed byte */
	size_t	 len;		/* unconsumed bytes from off */
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
int	 buf_reserve(struct buf *, size_t);
char	*buf_append_space(struct buf *, size_t);
int	 buf_append(struct buf *, const void *, size_t);
void	 buf_consume(struct buf *, size_t);
ssize_t	 buf_read(struct buf *, int, size_t);
ssize_t	 buf_write(struct buf *, int);
void	 buf_shrink(struct buf *, size_t);

static inline char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

#endif
