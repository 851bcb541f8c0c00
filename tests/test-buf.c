/* Link buffers: partial writes keep every byte, in order. */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "proto/buf.h"
#include "tap.h"

int
main(void)
{
	struct buf	 out, in;
	int		 sv[2], sz = 4096, i, ok = 1, eagain = 0;
	char		 chunk[1000];
	size_t		 total = 0, want = 2000 * sizeof chunk;
	ssize_t		 n;

	tap_plan(3);
	buf_init(&out);
	buf_init(&in);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < 2000; i++) {
		memset(chunk, 'a' + i % 26, sizeof chunk);
		buf_append(&out, chunk, sizeof chunk);
	}
	/* Alternate short writes (a tiny socket buffer) and reads. */
	while (total < want) {
		n = buf_write(&out, sv[0]);
		if ((n == -1 && errno == EAGAIN) || (n > 0 && out.len > 0))
			eagain++;
		while ((n = buf_read(&in, sv[1], 512)) > 0)
			total += n;
	}
	tap_ok(eagain > 0, "the writer saw short writes (%d times)", eagain);
	tap_ok(in.len == want && out.len == 0, "every byte arrived (%zu)",
	    in.len);
	for (i = 0; i < 2000 && ok; i++)
		if (buf_head(&in)[i * sizeof chunk] != 'a' + i % 26 ||
		    buf_head(&in)[i * sizeof chunk + 999] != 'a' + i % 26)
			ok = 0;
	tap_ok(ok, "in the order written");
	buf_free(&out);
	buf_free(&in);
	close(sv[0]);
	close(sv[1]);
	return tap_done();
}
