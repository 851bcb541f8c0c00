/*
 * libforkpool: the client side of a forkpool service (forkpool --listen),
 * and the frame codec of doc/PROTOCOL.md.  See forkpool(3).
 *
 * Every name is prefixed fp_ (FP_ for constants).  A struct fp_client is
 * one connection; it is not shared between threads without a lock.
 */
#ifndef FORKPOOL_H
#define FORKPOOL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FP_PROTOCOL_VERSION	1
#define FP_HEADER_SIZE		24
#define FP_FRAME_MAX_DEFAULT	(16U * 1024 * 1024)
#define FP_FRAME_MAX_MIN	64
#define FP_SOCKET_DEFAULT	"/run/forkpool/forkpool.sock"
#define FP_ERRBUF_SIZE		256

/* Message types. */
#define FP_MSG_HELLO		0x01
#define FP_MSG_JOB		0x02
#define FP_MSG_RESULT		0x03
#define FP_MSG_ERROR		0x04
#define FP_MSG_HEARTBEAT	0x05
#define FP_MSG_SUBMIT		0x10
#define FP_MSG_STATUS		0x11
#define FP_MSG_CONTROL		0x12

/* Flags of a job (fp_submit) and of a frame. */
#define FP_F_HIGH		0x0001	/* the high-priority lane */
#define FP_F_KEYED		0x0002	/* the key orders the job */
#define FP_F_DETACHED		0x0004	/* Redis: no result awaited; it goes
					   to the pool's results stream */

/* How a job ended: struct fp_result status. */
#define FP_STATUS_OK		0	/* data is the result */
#define FP_STATUS_ERROR		1	/* the handler failed; data says why */
#define FP_STATUS_CRASHED	2	/* every attempt crashed its worker */
#define FP_STATUS_TIMEOUT	3	/* every attempt ran past the timeout */
#define FP_STATUS_REJECTED	4	/* the supervisor refused the job */

/* Formats of fp_status(). */
#define FP_FORMAT_TEXT		0	/* a table for people */
#define FP_FORMAT_JSON		1
#define FP_FORMAT_PROMETHEUS	2	/* Prometheus text exposition */

struct fp_client;

struct fp_result {
	uint64_t	 id;		/* the id given to fp_submit() */
	unsigned	 status;	/* FP_STATUS_* */
	unsigned	 attempts;	/* attempts used */
	const char	*data;		/* result or message, no NUL */
	size_t		 len;
};

/* Connecting; NULL on failure, with errno and the reason in err. */
struct fp_client	*fp_connect(const char *path, char *err, size_t errlen);
struct fp_client	*fp_connect_fd(int fd, char *err, size_t errlen);
void			 fp_close(struct fp_client *);

int		 fp_fd(const struct fp_client *);
int		 fp_set_nonblocking(struct fp_client *, int);
int		 fp_set_frame_max(struct fp_client *, uint32_t);
const char	*fp_error(const struct fp_client *);
pid_t		 fp_server_pid(const struct fp_client *);
const char	*fp_server_version(const struct fp_client *);
size_t		 fp_pending(const struct fp_client *);

/* Jobs. */
int	 fp_submit(struct fp_client *, uint64_t id, const void *key,
	    size_t keylen, const void *payload, size_t len, unsigned flags);
int	 fp_flush(struct fp_client *);
int	 fp_receive(struct fp_client *, struct fp_result *);
ssize_t	 fp_read(struct fp_client *);
int	 fp_next(struct fp_client *, struct fp_result *);

/* Operating the pool; both always wait for the reply. */
int	 fp_status(struct fp_client *, unsigned format, char **text);
int	 fp_control(struct fp_client *, const char *command, char **reply);

const char	*fp_status_name(unsigned);
const char	*fp_type_name(unsigned);

/*
 * A pool in Redis Streams, shared by supervisors on many hosts
 * (forkpool --source; doc/SCALING.md).  A struct fp_redis is one
 * blocking connection; the calls fail with "built without Redis
 * support" when libforkpool was built without hiredis.
 */
struct fp_redis;

struct fp_redis	*fp_redis_connect(const char *url, unsigned partitions,
		    char *err, size_t errlen);
void		 fp_redis_close(struct fp_redis *);
void		 fp_redis_set_retry(struct fp_redis *, int ms);
int		 fp_redis_set_pack(struct fp_redis *, unsigned jobs);
unsigned	 fp_redis_partitions(const struct fp_redis *);
const char	*fp_redis_error(const struct fp_redis *);
int		 fp_redis_submit(struct fp_redis *, uint64_t id,
		    const void *key, size_t keylen, const void *payload,
		    size_t len, unsigned flags);
int		 fp_redis_flush(struct fp_redis *);
int		 fp_redis_receive(struct fp_redis *, struct fp_result *,
		    int timeout_ms);
size_t		 fp_redis_pending(const struct fp_redis *);
int		 fp_redis_status(struct fp_redis *, unsigned format,
		    char **text);
/* The partition of a key: FNV-1a 32 of the key, mod partitions. */
unsigned	 fp_partition(const void *key, size_t keylen,
		    unsigned partitions);

/* The codec: frames of doc/PROTOCOL.md. */
struct fp_frame {
	uint8_t		 type;		/* FP_MSG_* */
	uint16_t	 flags;
	uint16_t	 aux;
	uint32_t	 arg;
	uint64_t	 id;
	const char	*key;
	uint32_t	 keylen;
	const char	*payload;
	uint32_t	 paylen;
};

size_t	 fp_frame_size(size_t keylen, size_t paylen);
size_t	 fp_frame_encode(void *dst, const struct fp_frame *);
int	 fp_frame_decode(const void *buf, size_t len, uint32_t max,
	    struct fp_frame *, size_t *need, const char **why);

#ifdef __cplusplus
}
#endif

#endif
