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
int	 buf_grow(struct buf *, size_t);
int	 buf_append(struct buf *, const void *, size_t);
ssize_t	 buf_read(struct buf *, int, size_t);
ssize_t	 buf_write(struct buf *, int);
void	 buf_shrink(struct buf *, size_t);

/* Makes room for n more bytes after the end; -1 with errno on ENOMEM. */
static inline int
buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->off - b->len >= n)
		return 0;
	return buf_grow(b, n);
}

/* Reserves n bytes at the end and counts them as written. */
static inline char *
buf_append_space(struct buf *b, size_t n)
{
	char	*p;

	if (buf_reserve(b, n) == -1)
		return NULL;
	p = b->data + b->off + b->len;
	b->len += n;
	return p;
}

static inline void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

static inline char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

#endif
