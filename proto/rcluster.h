/*
 * Routing by slot for a pool spread over a Redis Cluster (doc/SCALING.md),
 * shared by the supervisor, forkpoolctl and libforkpool.  Debian's hiredis
 * has no cluster support, so this is the part of a cluster client they
 * all need: the key's slot (CRC16 as Redis computes it, with the {tag}
 * rule), the map of slots to masters from CLUSTER SLOTS, and the reading
 * of a redirection (MOVED, ASK) or a refusal (TRYAGAIN, CLUSTERDOWN).
 * Sending, and what to do on each, is each program's own.
 */
#ifndef RCLUSTER_H
#define RCLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define RCLUSTER_SLOTS		16384
#define RCLUSTER_NODES_MAX	64
#define RCLUSTER_NONE		0xff	/* a slot no known master serves */

struct rcluster_node {
	char	 host[256];
	int	 port;
};

struct rcluster_map {
	unsigned		 nnodes;
	struct rcluster_node	 node[RCLUSTER_NODES_MAX];	/* masters seen */
	uint8_t			 owner[RCLUSTER_SLOTS];	/* slot -> node */
};

enum rcluster_redirect {
	RCLUSTER_NOT,		/* an answer, or an error of the command's own */
	RCLUSTER_MOVED,		/* the slot lives elsewhere now: fix the map */
	RCLUSTER_ASK,		/* this once, ASKING and the command there */
	RCLUSTER_TRYAGAIN,	/* keys in the middle of a migration */
	RCLUSTER_DOWN,		/* the cluster serves no commands now */
};

uint16_t	rcluster_crc16(const void *, size_t);
unsigned	rcluster_slot(const char *, size_t);

void		rcluster_map_init(struct rcluster_map *);
int		rcluster_map_node(struct rcluster_map *, const char *, int);
int		rcluster_map_load(struct rcluster_map *, const redisReply *,
		    char *, size_t);
enum rcluster_redirect
		rcluster_redirect(const redisReply *, unsigned *, char *,
		    size_t, int *);

#endif
