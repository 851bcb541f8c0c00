/*
 * proto/rcluster.c: the slot of a key must be the one Redis computes, or
 * every command goes to the wrong master and comes back MOVED.  The
 * expected slots were read from a redis-server with CLUSTER KEYSLOT.
 * Replies are parsed from RESP text with hiredis's own reader, as they
 * come off a link.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "proto/rcluster.h"
#include "proto/redisurl.h"
#include "tap.h"

static redisReply *
reply_of(const char *resp)
{
	redisReader	*rd = redisReaderCreate();
	void		*r = NULL;

	if (rd == NULL)
		return NULL;
	if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
	    redisReaderGetReply(rd, &r) != REDIS_OK)
		r = NULL;
	redisReaderFree(rd);
	return r;
}

static void
test_slots(void)
{
	static const struct {
		const char	*key;
		unsigned	 slot;
	} known[] = {
		{ "foo", 12182 },
		{ "bar", 5061 },
		{ "{user1000}.following", 3443 },
		{ "{user1000}.followers", 3443 },
		{ "foo{}{bar}", 8363 },		/* {} is no tag */
		{ "foo{{bar}}zap", 4015 },	/* the tag is "{bar" */
		{ "foo{bar}{zap}", 5061 },	/* the first tag only */
		{ "{", 4092 },
		{ "}{", 12793 },
		{ "", 0 },
		{ "forkpool:{jobs}:meta", 9631 },
		{ "forkpool:{jobs:p0}", 8919 },
		{ "forkpool:{jobs:p17}:done", 11873 },
	};
	size_t	i;

	tap_ok(rcluster_crc16("123456789", 9) == 0x31c3,
	    "CRC16-XMODEM of \"123456789\" is 0x31c3");
	tap_ok(rcluster_crc16("", 0) == 0, "CRC16 of nothing is 0");
	for (i = 0; i < sizeof known / sizeof known[0]; i++)
		tap_ok(rcluster_slot(known[i].key, strlen(known[i].key)) ==
		    known[i].slot, "slot of \"%s\" is %u", known[i].key,
		    known[i].slot);
	tap_ok(rcluster_slot("a{b\0c}d", 7) == rcluster_slot("b\0c", 3),
	    "a tag may hold a NUL byte");
}

static void
test_map(void)
{
	struct rcluster_map	 m;
	redisReply		*r;
	char			 err[128];
	int			 i;

	rcluster_map_init(&m);
	tap_ok(m.nnodes == 0 && m.owner[0] == RCLUSTER_NONE &&
	    m.owner[RCLUSTER_SLOTS - 1] == RCLUSTER_NONE,
	    "a new map: no masters, no owners");
	r = reply_of("*3\r\n"
	    "*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n"
	    "*4\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n"
	    "*2\r\n$9\r\n127.0.0.1\r\n:7005\r\n"
	    "*3\r\n:10923\r\n:16383\r\n*2\r\n$3\r\n::1\r\n:7003\r\n");
	tap_ok(r != NULL && rcluster_map_load(&m, r, err, sizeof err) == 0,
	    "a CLUSTER SLOTS reply of three masters loads");
	tap_ok(m.nnodes == 3, "three masters, no replica");
	tap_ok(m.owner[0] == 0 && m.owner[5460] == 0 &&
	    m.owner[5461] == 1 && m.owner[10922] == 1 &&
	    m.owner[10923] == 2 && m.owner[16383] == 2,
	    "each range belongs to its master");
	tap_ok(strcmp(m.node[2].host, "::1") == 0 && m.node[2].port == 7003,
	    "an IPv6 master");
	freeReplyObject(r);

	/* A reshard: 7003 took 0-99, and a new master joined. */
	r = reply_of("*3\r\n"
	    "*3\r\n:0\r\n:99\r\n*2\r\n$3\r\n::1\r\n:7003\r\n"
	    "*3\r\n:100\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7009\r\n"
	    "*3\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n");
	tap_ok(r != NULL && rcluster_map_load(&m, r, err, sizeof err) == 0,
	    "a second map loads");
	tap_ok(m.nnodes == 4 && m.node[0].port == 7001 &&
	    m.node[3].port == 7009, "known masters keep their index");
	tap_ok(m.owner[0] == 2 && m.owner[100] == 3 && m.owner[5461] == 1,
	    "owners follow the new map");
	tap_ok(m.owner[10923] == RCLUSTER_NONE,
	    "a slot the new map does not name has no owner");
	freeReplyObject(r);

	r = reply_of("-ERR This instance has cluster support disabled\r\n");
	tap_ok(rcluster_map_load(&m, r, err, sizeof err) == -1 &&
	    strstr(err, "cluster support disabled") != NULL,
	    "an error reply is an error, with its text: %s", err);
	tap_ok(m.owner[0] == 2, "and leaves the map as it was");
	freeReplyObject(r);
	r = reply_of("*1\r\n*3\r\n:10\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n");
	tap_ok(rcluster_map_load(&m, r, err, sizeof err) == -1,
	    "a slot past 16383 is refused");
	freeReplyObject(r);
	r = reply_of("*1\r\n*3\r\n:10\r\n:20\r\n*2\r\n$0\r\n\r\n:1\r\n");
	tap_ok(rcluster_map_load(&m, r, err, sizeof err) == -1,
	    "a master without an address is refused");
	freeReplyObject(r);
	r = reply_of("*1\r\n*2\r\n:10\r\n:20\r\n");
	tap_ok(rcluster_map_load(&m, r, err, sizeof err) == -1,
	    "a range without a master is refused");
	freeReplyObject(r);

	rcluster_map_init(&m);
	for (i = 0; i < RCLUSTER_NODES_MAX; i++)
		(void)rcluster_map_node(&m, "10.0.0.1", 1000 + i);
	tap_ok(rcluster_map_node(&m, "10.0.0.1", 1000) == 0 &&
	    rcluster_map_node(&m, "10.0.0.2", 1) == -1,
	    "a full map finds known masters and refuses new ones");
}

static void
test_redirects(void)
{
	static const struct {
		const char		*resp;
		enum rcluster_redirect	 kind;
		unsigned		 slot;
		const char		*host;
		int			 port;
		const char		*what;
	} cases[] = {
		{ "-MOVED 3999 127.0.0.1:6381\r\n", RCLUSTER_MOVED, 3999,
		    "127.0.0.1", 6381, "MOVED: its slot and node" },
		{ "-ASK 12182 ::1:7002\r\n", RCLUSTER_ASK, 12182, "::1", 7002,
		    "ASK to an IPv6 node: the port after the last colon" },
		{ "-TRYAGAIN Multiple keys request during rehashing of "
		    "slot\r\n", RCLUSTER_TRYAGAIN, 0, NULL, 0, "TRYAGAIN" },
		{ "-CLUSTERDOWN The cluster is down\r\n", RCLUSTER_DOWN, 0,
		    NULL, 0, "CLUSTERDOWN" },
		{ "-ERR wrong number of arguments\r\n", RCLUSTER_NOT, 0, NULL,
		    0, "another error is the command's own" },
		{ "-MOVED 16384 127.0.0.1:6381\r\n", RCLUSTER_NOT, 0, NULL, 0,
		    "MOVED to a slot out of range is not followed" },
		{ "-MOVED 12 127.0.0.1:0\r\n", RCLUSTER_NOT, 0, NULL, 0,
		    "MOVED to port 0 is not followed" },
		{ "-MOVED 12 nohost\r\n", RCLUSTER_NOT, 0, NULL, 0,
		    "MOVED without a port is not followed" },
		{ "+OK\r\n", RCLUSTER_NOT, 0, NULL, 0,
		    "an answer is no redirection" },
	};
	redisReply	*r;
	char		 host[64];
	unsigned	 slot;
	size_t		 i;
	int		 port, good;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = reply_of(cases[i].resp);
		slot = 0;
		port = 0;
		host[0] = '\0';
		good = r != NULL && rcluster_redirect(r, &slot, host,
		    sizeof host, &port) == cases[i].kind;
		if (good && cases[i].host != NULL)
			good = slot == cases[i].slot &&
			    strcmp(host, cases[i].host) == 0 &&
			    port == cases[i].port;
		tap_ok(good, "%s", cases[i].what);
		freeReplyObject(r);
	}
}

static void
test_urls(void)
{
	struct redis_url	u;
	char			err[1024];

	tap_ok(redis_url_parse("redis+cluster://10.0.0.1:7001,10.0.0.2,"
	    "[::1]:7003/jobs", &u, err, sizeof err) == 0 && u.cluster &&
	    u.nseeds == 3, "a cluster URL with three seeds");
	tap_ok(strcmp(u.seed[0].host, "10.0.0.1") == 0 &&
	    u.seed[0].port == 7001 && u.seed[1].port == 6379 &&
	    strcmp(u.seed[2].host, "::1") == 0 && u.seed[2].port == 7003 &&
	    strcmp(u.host, "10.0.0.1") == 0 && u.port == 7001 &&
	    strcmp(u.pool, "jobs") == 0, "its seeds, host and pool");
	tap_ok(redis_url_parse("redis+cluster://fp:s%40cret@h1:1,h2:2/p",
	    &u, err, sizeof err) == 0 && strcmp(u.user, "fp") == 0 &&
	    strcmp(u.password, "s@cret") == 0 && u.nseeds == 2,
	    "credentials on a cluster URL");
	tap_ok(redis_url_parse("redis+cluster://h1:1/p?db=0", &u, err,
	    sizeof err) == 0, "db=0 on a cluster");
	tap_ok(redis_url_parse("redis+cluster://h1:1/p?db=3", &u, err,
	    sizeof err) == -1 && strstr(err, "only database 0") != NULL,
	    "db=3 on a cluster: %s", err);
	tap_ok(redis_url_parse("redis+cluster://h1:1,/p", &u, err,
	    sizeof err) == -1 && strstr(err, "no host") != NULL,
	    "an empty seed is refused");
	tap_ok(redis_url_parse("redis+cluster:///p", &u, err,
	    sizeof err) == -1, "no seed is refused");
	tap_ok(redis_url_parse("redis+cluster://h1:1,h2:99999/p", &u, err,
	    sizeof err) == -1 && strstr(err, "port") != NULL,
	    "a bad port in any seed is refused");
	tap_ok(redis_url_parse("redis+cluster://h:1,h:2,h:3,h:4,h:5,h:6,"
	    "h:7,h:8,h:9,h:10,h:11,h:12,h:13,h:14,h:15,h:16,h:17/p", &u, err,
	    sizeof err) == -1 && strstr(err, "more than 16") != NULL,
	    "17 seeds are refused");
	tap_ok(redis_url_parse("redis+cluster://u:pw@h1:1,h2:2/p", &u, err,
	    sizeof err) == 0, "a password with two seeds");
	redis_url_mask("redis+cluster://u:pw@h1:1,h2:2/p", err, sizeof err);
	tap_ok(strcmp(err, "redis+cluster://u:***@h1:1,h2:2/p") == 0,
	    "its password is masked: %s", err);
	tap_ok(redis_url_parse("redis://h1:1/p", &u, err, sizeof err) == 0 &&
	    !u.cluster && u.nseeds == 0, "redis:// is no cluster");
}

int
main(void)
{
	tap_plan(52);
	test_slots();
	test_map();
	test_redirects();
	test_urls();
	return tap_done();
}
