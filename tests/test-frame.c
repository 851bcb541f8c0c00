/* The frame codec: round trips, every split of a stream, and bad headers. */
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"
#include "tap.h"

#define NFRAMES	5

static size_t
encode_stream(unsigned char *dst)
{
	static const char	*keys[NFRAMES] = { "", "k1", "", "key-3", "x" };
	static const char	*pays[NFRAMES] = { "hello", "", "a\nb\0c", "",
	    "payload five" };
	struct frame		 f;
	size_t			 off = 0;
	int			 i;

	for (i = 0; i < NFRAMES; i++) {
		memset(&f, 0, sizeof f);
		f.type = i % 2 ? FRAME_RESULT : FRAME_JOB;
		f.flags = i == 1 ? FRAME_F_KEYED : 0;
		f.aux = i;
		f.arg = 1000u * i;
		f.id = 0x0102030405060708ULL + i;
		f.key = keys[i];
		f.keylen = strlen(keys[i]);
		f.payload = pays[i];
		f.paylen = i == 2 ? 5 : strlen(pays[i]);
		off += frame_encode(dst + off, &f);
	}
	return off;
}

/* Feeds the stream in pieces cut at a and b; checks every frame. */
static int
decode_split(const unsigned char *s, size_t len, size_t a, size_t b)
{
	unsigned char	 acc[1024];
	size_t		 have = 0, fed = 0, need, cut[3] = { a, b, len };
	struct frame	 f;
	const char	*why;
	int		 got = 0, c;

	for (c = 0; c < 3; c++) {
		memcpy(acc + have, s + fed, cut[c] - fed);
		have += cut[c] - fed;
		fed = cut[c];
		for (;;) {
			enum frame_decode_result r = frame_decode(acc, have,
			    FRAME_MAX_DEFAULT, &f, &need, &why);
			if (r == FRAME_SHORT)
				break;
			if (r == FRAME_BAD)
				return -1;
			if (f.aux != got || f.id != 0x0102030405060708ULL +
			    (uint64_t)got)
				return -1;
			if (got == 2 && (f.paylen != 5 ||
			    memcmp(f.payload, "a\nb\0c", 5) != 0))
				return -1;
			if (got == 3 && (f.keylen != 5 ||
			    memcmp(f.key, "key-3", 5) != 0 || f.paylen != 0))
				return -1;
			got++;
			memmove(acc, acc + need, have - need);
			have -= need;
		}
	}
	return have == 0 ? got : -1;
}

static enum frame_decode_result
decode_bytes(const unsigned char *p, size_t len, uint32_t max,
    const char **why)
{
	struct frame	f;
	size_t		need;

	*why = "";
	return frame_decode(p, len, max, &f, &need, why);
}

int
main(void)
{
	unsigned char	 s[1024], h[64];
	size_t		 len, a, b, need;
	int		 bad = 0;
	const char	*why;
	struct frame	 f;

	tap_plan(17);
	len = encode_stream(s);
	tap_ok(decode_split(s, len, len, len) == NFRAMES,
	    "a stream of %d frames decodes whole", NFRAMES);

	for (a = 0; a <= len; a++)
		for (b = a; b <= len; b++)
			if (decode_split(s, len, a, b) != NFRAMES)
				bad++;
	tap_ok(bad == 0, "every split into three pieces decodes the same "
	    "frames (%d bad)", bad);

	for (a = 0; a < FRAME_HEADER_SIZE; a++)
		if (decode_bytes(s, a, FRAME_MAX_DEFAULT, &why) != FRAME_SHORT)
			bad++;
	tap_ok(bad == 0, "a short header asks for more bytes");

	memset(h, 0, sizeof h);
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "an all-zero header is refused (%s)", why);

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[0] = 'X';
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD && strcmp(why, "bad magic") == 0, "bad magic is refused");

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[2] = 9;
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "an unknown version is refused (%s)", why);

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[3] = 0x7f;
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "an unknown type is refused (%s)", why);

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[4] = 0x80;
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "undefined flags are refused (%s)", why);

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[12] = 0xff;	/* body length ~4 GiB */
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "an oversized frame is refused from its header alone "
	    "(%s)", why);

	memcpy(h, s, FRAME_HEADER_SIZE);
	h[12] = h[13] = h[14] = 0;
	h[15] = 7;
	tap_ok(decode_bytes(h, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "a body shorter than its length prefixes is refused "
	    "(%s)", why);

	tap_ok(decode_bytes(s, len, frame_size(0, 4), &why) == FRAME_BAD,
	    "a frame over a configured maximum is refused (%s)", why);

	/* Key length pointing past the body. */
	memcpy(h, s, frame_size(0, 5));
	h[FRAME_HEADER_SIZE + 3] = 50;
	tap_ok(decode_bytes(h, frame_size(0, 5), FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "a key length past the body is refused (%s)", why);

	/* Payload length that does not add up. */
	memcpy(h, s, frame_size(0, 5));
	h[FRAME_HEADER_SIZE + 7] = 4;
	tap_ok(decode_bytes(h, frame_size(0, 5), FRAME_MAX_DEFAULT, &why) ==
	    FRAME_BAD, "lengths that do not add up are refused (%s)", why);

	memset(h, 'G', sizeof h);
	tap_ok(decode_bytes(h, sizeof h, FRAME_MAX_DEFAULT, &why) == FRAME_BAD,
	    "garbage is refused (%s)", why);

	tap_ok(decode_bytes(s, len, FRAME_MAX_DEFAULT, &why) == FRAME_OK,
	    "the first frame of the stream decodes");
	frame_decode(s, len, FRAME_MAX_DEFAULT, &f, &need, &why);
	tap_ok(need == frame_size(0, 5) && f.type == FRAME_JOB &&
	    f.arg == 0 && f.paylen == 5 && memcmp(f.payload, "hello", 5) == 0,
	    "its fields round-trip");
	tap_ok(s[0] == 'F' && s[1] == 'P' && s[2] == 1 && s[3] == FRAME_JOB &&
	    s[15] == 8 + 5 && s[16] == 1 && s[23] == 8,
	    "the header is laid out as doc/PROTOCOL.md says");
	return tap_done();
}
