/*
 * FNV-1a 64, the hash of the fnv and cpu handlers, as one header so that
 * the built-in handlers, the test plugin and the example exec: worker
 * give the same answer by construction.  (tests/fnvref.c stays a
 * separate reference.)
 */
#ifndef FNV_H
#define FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET	14695981039346656037ULL
#define FNV_PRIME	1099511628211ULL
#define FNV_HEX_LEN	16

static inline uint64_t
fnv1a(uint64_t h, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* The hash over s repeated iter times: "cpu ITER", and "fnv" at 1. */
static inline uint64_t
fnv1a_repeat(const char *s, size_t n, long long iter)
{
	uint64_t	h = FNV_OFFSET;
	long long	r;

	for (r = 0; r < iter; r++)
		h = fnv1a(h, s, n);
	return h;
}

/* Writes h as 16 lowercase hex digits, no NUL. */
static inline void
fnv_hex(uint64_t h, char out[FNV_HEX_LEN])
{
	static const char	 hex[] = "0123456789abcdef";
	int			 i;

	for (i = FNV_HEX_LEN - 1; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 15];
}

#endif
