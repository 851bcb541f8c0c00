/* Byte buffers with batched reads and writes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof *b);
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

/* The slow path of buf_reserve(): slide the bytes down, or grow. */
int
buf_grow(struct buf *b, size_t n)
{
	size_t	 need, cap;
	char	*p;

	if (b->off > 0) {
		/* Slide the live bytes down before growing. */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	need = b->len + n;
	if (need < n) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap > 0 ? b->cap : 4096;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *src, size_t n)
{
	char	*p;

	if ((p = buf_append_space(b, n)) == NULL)
		return -1;
	memcpy(p, src, n);
	return 0;
}

/* Gives back memory after a burst of large frames. */
void
buf_shrink(struct buf *b, size_t keep)
{
	char	*p;

	if (b->cap <= keep || b->len > keep / 2)
		return;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if ((p = realloc(b->data, keep)) == NULL)
		return;
	b->data = p;
	b->cap = keep;
}

/*
 * Reads up to want bytes (at least what is already free) from fd.
 * Returns the count, 0 at EOF, -1 with errno (EAGAIN included).
 */
ssize_t
buf_read(struct buf *b, int fd, size_t want)
{
	ssize_t	n;
	size_t	room;

	if (buf_reserve(b, want) == -1)
		return -1;
	room = b->cap - b->off - b->len;
	do
		n = read(fd, b->data + b->off + b->len, room);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		b->len += n;
	return n;
}

/* Writes what is queued; returns bytes written or -1 with errno. */
ssize_t
buf_write(struct buf *b, int fd)
{
	ssize_t	n;

	if (b->len == 0)
		return 0;
	do
		n = write(fd, b->data + b->off, b->len);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_consume(b, n);
	return n;
}
