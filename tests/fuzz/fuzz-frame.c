/*
 * libFuzzer target for the frame decoder.  Checks, on any input, that the
 * decoder never reads out of bounds, that decoding is the same whatever
 * the split of the stream, and that every frame it accepts re-encodes to
 * the very bytes it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

#define MAX_FRAME	4096

/* Decodes a stream fed in two pieces; returns the frames seen (or -1). */
static int
decode_stream(const uint8_t *data, size_t len, size_t cut, uint64_t *sum)
{
	uint8_t		*acc;
	size_t		 have = 0, fed = 0, need, stop[2] = { cut, len };
	struct frame	 f;
	const char	*why;
	uint8_t		 re[MAX_FRAME];
	int		 n = 0, i;

	if ((acc = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < 2; i++) {
		memcpy(acc + have, data + fed, stop[i] - fed);
		have += stop[i] - fed;
		fed = stop[i];
		for (;;) {
			enum frame_decode_result r = frame_decode(acc, have,
			    MAX_FRAME, &f, &need, &why);
			if (r == FRAME_SHORT)
				break;
			if (r == FRAME_BAD) {
				free(acc);
				return n;	/* a broken stream ends here */
			}
			if (need > have || need > MAX_FRAME ||
			    frame_encode(re, &f) != need ||
			    memcmp(re, acc, need) != 0)
				abort();
			*sum = *sum * 31 + f.id + f.type + f.paylen + f.keylen;
			n++;
			memmove(acc, acc + need, have - need);
			have -= need;
		}
	}
	free(acc);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint64_t	whole = 0, split = 0;
	size_t		cut;

	if (len == 0)
		return 0;
	cut = data[0] % (len + 1);
	if (decode_stream(data, len, len, &whole) !=
	    decode_stream(data, len, cut, &split) || whole != split)
		abort();
	return 0;
}
