/*
 * Slots, the slot map and redirections of a Redis Cluster (rcluster.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcluster.h"

/*
 * CRC16-CCITT as XMODEM has it (polynomial 0x1021, no reflection, starting
 * from 0): the checksum Redis takes, modulo 16384, for a key's slot.  Bit
 * by bit: a key is hashed once per command, and a table would be 512
 * bytes to check against the specification for nothing measurable.
 */
uint16_t
rcluster_crc16(const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint16_t		 crc = 0;
	size_t			 i;
	int			 bit;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (bit = 0; bit < 8; bit++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) :
			    (uint16_t)(crc << 1);
	}
	return crc;
}

/*
 * A key's slot.  When the key holds a '{' with a '}' after it and
 * something between, only that something is hashed, so that keys sharing
 * it (a hash tag) share a slot; "{}" counts as no tag.
 */
unsigned
rcluster_slot(const char *key, size_t len)
{
	const char	*open, *close;

	if ((open = memchr(key, '{', len)) != NULL) {
		close = memchr(open + 1, '}', len - (open + 1 - key));
		if (close != NULL && close > open + 1)
			return rcluster_crc16(open + 1, close - open - 1) %
			    RCLUSTER_SLOTS;
	}
	return rcluster_crc16(key, len) % RCLUSTER_SLOTS;
}

void
rcluster_map_init(struct rcluster_map *m)
{
	m->nnodes = 0;
	memset(m->owner, RCLUSTER_NONE, sizeof m->owner);
}

/* The index of the master at host:port, added if new; -1 when full. */
int
rcluster_map_node(struct rcluster_map *m, const char *host, int port)
{
	unsigned	i;

	for (i = 0; i < m->nnodes; i++)
		if (m->node[i].port == port &&
		    strcmp(m->node[i].host, host) == 0)
			return (int)i;
	if (m->nnodes == RCLUSTER_NODES_MAX ||
	    strlen(host) >= sizeof m->node[0].host)
		return -1;
	snprintf(m->node[m->nnodes].host, sizeof m->node[0].host, "%s", host);
	m->node[m->nnodes].port = port;
	return (int)m->nnodes++;
}

static int
map_error(char *err, size_t errlen, const char *why)
{
	if (errlen > 0)
		snprintf(err, errlen, "CLUSTER SLOTS: %s", why);
	return -1;
}

/*
 * Replaces the owners of the map with a CLUSTER SLOTS reply: one entry
 * per range, {first, last, master {host, port, ...}, replicas...}.
 * Known masters keep their index, so that a program's links by index
 * stay valid; slots the reply does not name are served by nobody.
 */
int
rcluster_map_load(struct rcluster_map *m, const redisReply *r, char *err,
    size_t errlen)
{
	const redisReply	*range, *master;
	uint8_t			 owner[RCLUSTER_SLOTS];
	long long		 first, last;
	size_t			 i;
	int			 n;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		return map_error(err, errlen, r != NULL ? r->str :
		    "no reply");
	if (r->type != REDIS_REPLY_ARRAY)
		return map_error(err, errlen, "not an array");
	memset(owner, RCLUSTER_NONE, sizeof owner);
	for (i = 0; i < r->elements; i++) {
		range = r->element[i];
		if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
		    range->element[0]->type != REDIS_REPLY_INTEGER ||
		    range->element[1]->type != REDIS_REPLY_INTEGER)
			return map_error(err, errlen, "a strange range");
		first = range->element[0]->integer;
		last = range->element[1]->integer;
		master = range->element[2];
		if (first < 0 || last < first || last >= RCLUSTER_SLOTS)
			return map_error(err, errlen, "a slot out of range");
		if (master->type != REDIS_REPLY_ARRAY ||
		    master->elements < 2 ||
		    master->element[0]->type != REDIS_REPLY_STRING ||
		    master->element[1]->type != REDIS_REPLY_INTEGER ||
		    master->element[1]->integer < 1 ||
		    master->element[1]->integer > 65535)
			return map_error(err, errlen, "a strange master");
		if (master->element[0]->len == 0 ||
		    strcmp(master->element[0]->str, "?") == 0)
			return map_error(err, errlen, "a master whose address "
			    "is unknown");
		if ((n = rcluster_map_node(m, master->element[0]->str,
		    (int)master->element[1]->integer)) == -1)
			return map_error(err, errlen, "too many masters");
		memset(owner + first, n, last - first + 1);
	}
	memcpy(m->owner, owner, sizeof owner);
	return 0;
}

/*
 * What an error reply says of the cluster: for MOVED and ASK, the slot
 * and the node ("-MOVED 3999 127.0.0.1:6381"; an IPv6 address has
 * colons of its own, so the port follows the last one).
 */
enum rcluster_redirect
rcluster_redirect(const redisReply *r, unsigned *slot, char *host,
    size_t hostlen, int *port)
{
	enum rcluster_redirect	 kind;
	const char		*s, *sp, *colon;
	char			*end;
	unsigned long		 n;
	long			 p;

	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return RCLUSTER_NOT;
	if (strncmp(r->str, "TRYAGAIN", 8) == 0)
		return RCLUSTER_TRYAGAIN;
	if (strncmp(r->str, "CLUSTERDOWN", 11) == 0)
		return RCLUSTER_DOWN;
	if (strncmp(r->str, "MOVED ", 6) == 0) {
		kind = RCLUSTER_MOVED;
		s = r->str + 6;
	} else if (strncmp(r->str, "ASK ", 4) == 0) {
		kind = RCLUSTER_ASK;
		s = r->str + 4;
	} else
		return RCLUSTER_NOT;
	n = strtoul(s, &end, 10);
	if (end == s || *end != ' ' || n >= RCLUSTER_SLOTS)
		return RCLUSTER_NOT;
	sp = end + 1;
	if ((colon = strrchr(sp, ':')) == NULL || colon == sp ||
	    (size_t)(colon - sp) >= hostlen)
		return RCLUSTER_NOT;
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
		return RCLUSTER_NOT;
	/* An IPv6 address may come bracketed or not: keep it bare. */
	if (*sp == '[' && colon[-1] == ']')
		snprintf(host, hostlen, "%.*s", (int)(colon - sp - 2), sp + 1);
	else
		snprintf(host, hostlen, "%.*s", (int)(colon - sp), sp);
	*slot = (unsigned)n;
	*port = (int)p;
	return kind;
}
