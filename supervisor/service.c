/*
 * Service mode: jobs come from clients on a Unix-domain socket (SUBMIT)
 * and each goes back to its client as a RESULT, in completion order.
 * Every connection's peer is checked before it may speak; a client that
 * breaks the protocol is told why and dropped; one that goes away loses
 * its results and disturbs nobody.  When the ledger is full no client is
 * read, nor is a client whose jobs and unread results fill its budget
 * (backpressure): nothing is dropped, and what each client can make the
 * supervisor hold is bounded.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"
#include "proto/xmalloc.h"

#define READ_CHUNK	(64 * 1024)
#define ACCEPT_BACKOFF	{ 0, 100000 }	/* out of descriptors: wait 0.1 s */
#define REFUSE_LINGER	{ 1, 0 }	/* for a refused client to take its ERROR */

struct client {
	int			 fd;
	uint64_t		 serial;	/* for the log */
	uid_t			 uid;
	pid_t			 pid;
	struct event		*ev_read;
	struct event		*ev_write;
	struct buf		 in;
	struct buf		 out;
	size_t			 held;		/* bytes of its jobs in the ledger */
	unsigned		 pending;	/* jobs not yet answered */
	int			 gone;		/* disconnected, jobs pending */
	int			 reading;	/* ev_read is armed */
	int			 closing;	/* refused: its ERROR is going out */
	TAILQ_ENTRY(client)	 entry;
};

static TAILQ_HEAD(, client)	 clients = TAILQ_HEAD_INITIALIZER(clients);
static unsigned			 nclients;	/* records, gone ones too */
static int			 listen_fd = -1;
static struct event		*ev_accept;
static struct event		*ev_accept_again;
static uint64_t			 serials;
static int			 listen_owned;	/* its path is ours to remove */
static int			 draining;	/* no new jobs; exit when idle */
static int			 handed_over;	/* an upgrade serves: finish */
static int			 stopping;	/* a signal or a client said stop */

struct service_totals service_totals;

static void	client_read(evutil_socket_t, short, void *);
static void	client_writable(evutil_socket_t, short, void *);
static void	client_drop(struct client *, const char *);
static void	stop_for(const char *);

/*
 * A live socket is never stolen: the pidfile's lock says whether its
 * owner runs.  Holding the lock, a leftover socket file is stale.
 */
static void
take_pidfile(int handed)
{
	char		 path[PATH_MAX];
	const char	*why;
	pid_t		 other;

	if (opts->pidfile != NULL)
		strlcpy(path, opts->pidfile, sizeof path);
	else if ((size_t)snprintf(path, sizeof path, "%s.pid",
	    opts->listen_path) >= sizeof path)
		fatalx("%s: path too long", opts->listen_path);
	/* An upgrade's: locked by our predecessor, for us. */
	if (handed != -1) {
		if (pidfile_adopt(handed, path) == -1)
			fatal("pidfile %s", path);
		return;
	}
	if (pidfile_take(path, &other, &why) == -1) {
		if (why != NULL)
			fatalx("pidfile %s %s; not writing it", path, why);
		if (errno == EEXIST)
			fatalx("%s: already served by forkpool pid %d",
			    opts->listen_path, (int)other);
		fatal("pidfile %s", path);
	}
}

/*
 * The job socket; -1 when it cannot be had, with the reason logged, so
 * that the pidfile just taken is removed before the exit.
 */
static int
open_socket(void)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 rc;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, opts->listen_path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		log_warnx("%s: socket path too long", opts->listen_path);
		return -1;
	}
	/* A stale socket is replaced; anything else there is not ours. */
	if (lstat(opts->listen_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		log_warnx("%s: exists and is not a socket; not replacing it",
		    opts->listen_path);
		return -1;
	}
	if (unlink(opts->listen_path) == -1 && errno != ENOENT) {
		log_warn("%s", opts->listen_path);
		return -1;
	}
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (listen_fd == -1) {
		log_warn("socket");
		return -1;
	}
	/* The socket is born with its mode: no moment of wider access. */
	old = umask(~opts->listen_mode & 0777);
	rc = bind(listen_fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc == -1) {
		log_warn("%s", opts->listen_path);
		return -1;
	}
	/* What is at the path now may not be our socket: no link followed. */
	if (opts->listen_group != (gid_t)-1 &&
	    lchown(opts->listen_path, (uid_t)-1, opts->listen_group) == -1) {
		log_warn("%s: chown", opts->listen_path);
		unlink(opts->listen_path);
		return -1;
	}
	if (listen(listen_fd, 128) == -1) {
		log_warn("listen");
		unlink(opts->listen_path);
		return -1;
	}
	listen_owned = 1;
	return 0;
}

/*
 * A socket we did not open ourselves must be what we would have opened:
 * a listening Unix-domain stream socket.  Its path is written in path.
 */
static int
check_listener(int fd, const char *from, char *path, size_t len)
{
	struct sockaddr_un	sun;
	socklen_t		slen = sizeof sun;
	int			domain, type, listening, flags;
	socklen_t		ilen = sizeof domain;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &ilen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) ==
	    -1 || domain != AF_UNIX || type != SOCK_STREAM || !listening) {
		log_warnx("descriptor %d from %s: not a listening Unix-domain "
		    "stream socket", fd, from);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &slen) == -1 ||
	    sun.sun_path[0] == '\0')
		strlcpy(path, "(unnamed)", len);
	else
		strlcpy(path, sun.sun_path, len);
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("descriptor %d from %s", fd, from);
		return -1;
	}
	return 0;
}

/*
 * systemd's socket activation (sd_listen_fds(3)): the socket is passed as
 * descriptor 3, LISTEN_FDS says how many there are and LISTEN_PID for
 * whom.  The variables are cleared, so that no handler sees them.  1 when
 * the socket is ours, 0 when none was passed, -1 when what was passed is
 * unfit.
 */
static int
activated_socket(char *path, size_t len)
{
	const char	*fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	const char	*errstr;
	long long	 n;
	int		 ours;

	if (fds == NULL || pid == NULL)
		return 0;
	ours = strtonum(pid, 1, INT_MAX, &errstr) == getpid();
	n = strtonum(fds, 0, INT_MAX, &errstr);
	if (ours && (errstr != NULL || n != 1))
		log_warnx("LISTEN_FDS=%s: one socket expected", fds);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if (!ours)
		return 0;
	if (errstr != NULL || n != 1 ||
	    check_listener(3, "LISTEN_FDS", path, len) == -1)
		return -1;
	listen_fd = 3;
	return 1;
}

static int
peer_allowed(uid_t uid, gid_t gid)
{
	struct passwd	*pw;
	gid_t		 groups[64];
	int		 ngroups = 64, i;
	size_t		 k;

	if (uid == 0 || uid == geteuid())
		return 1;
	for (k = 0; k < opts->nallow_uids; k++)
		if (opts->allow_uids[k] == uid)
			return 1;
	if (opts->nallow_gids == 0)
		return 0;
	groups[0] = gid;
	if ((pw = getpwuid(uid)) == NULL ||
	    getgrouplist(pw->pw_name, gid, groups, &ngroups) == -1)
		ngroups = 1;
	for (i = 0; i < ngroups; i++)
		for (k = 0; k < opts->nallow_gids; k++)
			if (opts->allow_gids[k] == groups[i])
				return 1;
	return 0;
}

static int
queue_frame(struct client *c, uint8_t type, uint16_t aux, uint32_t arg,
    uint64_t id, const char *payload, size_t len)
{
	return frame_append(&c->out, type, aux, arg, id, payload, len);
}

static void
flush_client(struct client *c)
{
	ssize_t	n;

	if (c->gone || c->out.len == 0)
		return;
	n = buf_write(&c->out, c->fd);
	if (n == -1 && errno != EAGAIN) {
		client_drop(c, strerror(errno));
		return;
	}
	if (c->out.len > 0) {
		if (!c->closing)	/* its linger timeout stays */
			event_add(c->ev_write, NULL);
	} else if (c->closing)
		client_drop(c, "refused");
	else {
		event_del(c->ev_write);
		buf_shrink(&c->out, 256 * 1024);
	}
}

/*
 * Whether to take more from a client: the ledger has room, and the client
 * is within its budget, which its jobs' bytes held in the ledger and the
 * results it has not read count against.  A job's bytes count until its
 * result is queued, so what a job taken may still add is already counted,
 * for a result no larger than the job.  One that only sends cannot pile
 * up more than its budget and one frame.
 */
static int
client_room(const struct client *c)
{
	return ledger_room() > 0 &&
	    c->held + c->out.len < opts->client_budget;
}

/* What a job costs its client's budget while the ledger holds it. */
static size_t
job_bytes(const struct job *j)
{
	return frame_size(j->keylen, j->data.len - j->keylen);
}

static void
client_free(struct client *c)
{
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/*
 * Closes the link.  The record stays until its last job has ended, and is
 * freed only by service_flush(), once per loop turn: a caller deep in
 * reading or writing this client may still look at it.
 */
static void
client_drop(struct client *c, const char *why)
{
	if (c->gone)
		return;
	log_info("client %llu: %s", (unsigned long long)c->serial, why);
	event_free(c->ev_read);
	event_free(c->ev_write);
	close(c->fd);
	c->fd = -1;
	c->gone = 1;
}

/*
 * Tells a client why it is dropped: nothing more is read from it, and the
 * link closes once its ERROR is written whole, or after REFUSE_LINGER if
 * the client does not read it.  A cut frame would say nothing.
 */
static void
client_refuse(struct client *c, const char *why)
{
	struct timeval	tv = REFUSE_LINGER;

	refusal_log(c->serial, c->uid, c->pid, why);
	if (queue_frame(c, FRAME_ERROR, 0, 0, 0, why, strlen(why)) == -1) {
		client_drop(c, why);
		return;
	}
	c->closing = 1;
	event_del(c->ev_read);
	c->reading = 0;
	buf_consume(&c->in, c->in.len);
	event_add(c->ev_write, &tv);
	flush_client(c);
}

/*
 * Refuses a connection before it has a record: its ERROR goes out in one
 * write, which the empty buffer of a new socket takes whole, and the link
 * is closed at once.  A storm of refused connections leaves nothing to
 * free.
 */
static void
refuse_connection(int s, uid_t uid, pid_t pid, const char *why)
{
	char		 frame[FRAME_HEADER_SIZE + FRAME_BODY_MIN + 128];
	struct frame	 f;
	size_t		 len = strlen(why);

	if (len > sizeof frame - frame_size(0, 0))
		len = sizeof frame - frame_size(0, 0);
	memset(&f, 0, sizeof f);
	f.type = FRAME_ERROR;
	f.payload = why;
	f.paylen = len;
	refusal_log(++serials, uid, pid, why);
	if (write(s, frame, frame_encode(frame, &f)) == -1)
		log_debug("refused client: %s", strerror(errno));
	close(s);
}

static void
accept_again(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (listen_fd != -1 && !stopping)
		event_add(ev_accept, NULL);
}

static void
client_accept(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof cred;
	struct timeval	 tv = ACCEPT_BACKOFF;
	char		 hello[64], why[64];
	int		 s;

	(void)ev;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: stop accepting for a moment. */
			log_warn("accept");
			event_del(ev_accept);
			evtimer_add(ev_accept_again, &tv);
		} else if (errno != EAGAIN && errno != ECONNABORTED &&
		    errno != EINTR)
			log_warn("accept");
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		refuse_connection(s, (uid_t)-1, 0,
		    "cannot read the peer's credentials");
		return;
	}
	if (!peer_allowed(cred.uid, cred.gid)) {
		snprintf(why, sizeof why, "uid %d is not allowed",
		    (int)cred.uid);
		refuse_connection(s, cred.uid, cred.pid, why);
		return;
	}
	/* Each record may hold a budget: their number bounds the memory. */
	if (nclients >= opts->max_clients) {
		refuse_connection(s, cred.uid, cred.pid, "too many clients");
		return;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_warn("accept: client");
		close(s);
		return;
	}
	c->fd = s;
	c->serial = ++serials;
	c->uid = cred.uid;
	c->pid = cred.pid;
	buf_init(&c->in);
	buf_init(&c->out);
	c->ev_read = event_new(base, s, EV_READ | EV_PERSIST, client_read, c);
	c->ev_write = event_new(base, s, EV_WRITE | EV_PERSIST,
	    client_writable, c);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	if (c->ev_read == NULL || c->ev_write == NULL) {
		log_warnx("accept: event_new failed");
		if (c->ev_read != NULL)
			event_free(c->ev_read);
		if (c->ev_write != NULL)
			event_free(c->ev_write);
		close(s);
		c->gone = 1;
		client_free(c);
		return;
	}
	log_debug("client %llu: uid %d, pid %d", (unsigned long long)c->serial,
	    (int)c->uid, (int)c->pid);
	snprintf(hello, sizeof hello, "forkpool %s", PACKAGE_VERSION);
	queue_frame(c, FRAME_HELLO, 0, (uint32_t)getpid(), 0, hello,
	    strlen(hello));
	flush_client(c);
	if (!c->gone) {
		c->reading = 1;
		event_add(c->ev_read, NULL);
	}
	/* One gone before its HELLO could be written is freed now. */
	supervisor_wake();
}

static void
reply(struct client *c, uint64_t id, int status, const char *msg)
{
	if (queue_frame(c, FRAME_RESULT, status, 0, id, msg, strlen(msg)) ==
	    -1)
		client_drop(c, "out of memory for a reply");
}

static void
take_submit(struct client *c, const struct frame *f)
{
	uint32_t	 idx;
	struct job	*j;

	if (draining) {
		reply(c, f->id, STATUS_REJECTED, "draining: no new jobs");
		return;
	}
	idx = ledger_alloc();
	j = ledger_job(idx);
	if (bytes_set(&j->data, f->key, f->keylen, f->payload, f->paylen) ==
	    -1) {
		ledger_release(idx);
		reply(c, f->id, STATUS_REJECTED, "out of memory");
		return;
	}
	j->keylen = f->keylen;
	j->high = (f->flags & FRAME_F_HIGH) != 0;
	if (f->flags & FRAME_F_KEYED)
		j->partition = partition_of(f->key, f->keylen);
	j->client = c;
	j->client_id = f->id;
	j->submitted_ns = loop_now_ns();
	j->seq = ++service_totals.submitted;
	j->line = j->seq;
	c->pending++;
	c->held += job_bytes(j);
	dispatch_submit(idx);
}

/* A reload is answered when it has been applied or refused. */
static void
reload_done(void *arg, uint64_t id, int ok, const char *msg)
{
	struct client	*c = arg;

	if (!c->gone && !c->closing)
		reply(c, id, ok ? STATUS_OK : STATUS_ERROR, msg);
	c->pending--;
}

static void
take_control(struct client *c, const struct frame *f)
{
	char	msg[128], why[96];
	int	n;

	switch (request_control(f, &n, msg, sizeof msg)) {
	case CONTROL_DRAIN:
		log_info("client %llu: drain", (unsigned long long)c->serial);
		draining = 1;
		reply(c, f->id, STATUS_OK, "draining: exiting when idle");
		break;
	case CONTROL_STOP:
		reply(c, f->id, STATUS_OK, "stopping");
		snprintf(why, sizeof why, "client %llu asked to stop",
		    (unsigned long long)c->serial);
		stop_for(why);
		break;
	case CONTROL_RELOAD:
		log_info("client %llu: reload", (unsigned long long)c->serial);
		if (draining) {
			reply(c, f->id, STATUS_ERROR, "draining: not reloading");
			break;
		}
		c->pending++;
		reload_start(reload_done, c, f->id);
		break;
	case CONTROL_SCALE:
		if (!scale_allowed(n, why, sizeof why)) {
			snprintf(msg, sizeof msg, "scale: %s", why);
			reply(c, f->id, STATUS_ERROR, msg);
			break;
		}
		scale_to(n);
		snprintf(msg, sizeof msg, "scaling to %d workers", n);
		reply(c, f->id, STATUS_OK, msg);
		break;
	case CONTROL_REFUSED:
		reply(c, f->id, STATUS_ERROR, msg);
		break;
	}
}

/* One frame from a client, already checked by request_decode(). */
static void
take_frame(struct client *c, const struct frame *f)
{
	char	*text;
	size_t	 len;

	switch (f->type) {
	case FRAME_SUBMIT:
		take_submit(c, f);
		break;
	case FRAME_STATUS:
		if ((text = status_render(f->aux, &len)) == NULL) {
			reply(c, f->id, STATUS_ERROR, "out of memory");
			break;
		}
		if (queue_frame(c, FRAME_STATUS, f->aux, 0, f->id, text,
		    len) == -1)
			client_drop(c, "out of memory for a reply");
		free(text);
		break;
	case FRAME_CONTROL:
		take_control(c, f);
		break;
	}
}

/* Decodes buffered frames while the ledger has room for their jobs. */
static void
client_take(struct client *c)
{
	struct frame		 f;
	const char		*why = NULL;
	size_t			 need;
	enum frame_decode_result r;

	while (!c->gone && !c->closing && client_room(c)) {
		r = request_decode(buf_head(&c->in), c->in.len,
		    opts->frame_max, &f, &need, &why);
		if (r == FRAME_SHORT)
			break;
		if (r == FRAME_BAD) {
			client_refuse(c, why);
			return;
		}
		take_frame(c, &f);
		buf_consume(&c->in, need);
	}
	if (!c->gone && !c->closing && c->in.len == 0)
		buf_shrink(&c->in, 4 * READ_CHUNK);
}

static void
client_read(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;
	ssize_t		 n;

	(void)ev;
	loop_tick();
	n = buf_read(&c->in, fd, READ_CHUNK);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		client_drop(c, n == 0 ? "disconnected" : strerror(errno));
		supervisor_wake();
		return;
	}
	client_take(c);
	supervisor_wake();
}

static void
client_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	if (ev & EV_TIMEOUT)
		client_drop(c, "refused, and did not read why");
	else
		flush_client(c);
	supervisor_wake();
}

static void
service_init(void)
{
	char	 path[PATH_MAX];
	int	 handed_pidfile, rc;

	/* Handed over by an upgrade, passed by systemd, or our own. */
	if ((listen_fd = upgrade_listen_fd(&listen_owned,
	    &handed_pidfile)) != -1) {
		if (check_listener(listen_fd, "the old supervisor", path,
		    sizeof path) == -1)
			exit(2);
		take_pidfile(handed_pidfile);
		log_info("took over %s from pid %d", path, (int)getppid());
	} else if ((rc = activated_socket(path, sizeof path)) != 0) {
		if (rc == -1)
			exit(2);
		take_pidfile(-1);
		if (strcmp(path, opts->listen_path) != 0)
			log_warnx("the socket passed is %s, not %s: serving it",
			    path, opts->listen_path);
		log_info("listening on %s, passed by systemd", path);
	} else {
		take_pidfile(-1);
		if (open_socket() == -1) {
			pidfile_drop();
			exit(2);
		}
		log_info("listening on %s", opts->listen_path);
	}
	ev_accept = event_new(base, listen_fd, EV_READ | EV_PERSIST,
	    client_accept, NULL);
	ev_accept_again = evtimer_new(base, accept_again, NULL);
	if (ev_accept == NULL || ev_accept_again == NULL)
		fatalx("event_new failed");
	event_add(ev_accept, NULL);
	refusal_init();
}

/* Reads clients while there is room; stops reading them when full. */
static void
service_room(void)
{
	struct client	*c, *next;
	int		 room;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next) {
		if (c->gone || c->closing)
			continue;
		if (c->in.len > 0)
			client_take(c);
		if (c->gone)
			continue;
		room = client_room(c) && !handed_over;
		if (room && !c->reading) {
			event_add(c->ev_read, NULL);
			c->reading = 1;
		} else if (!room && c->reading) {
			event_del(c->ev_read);
			c->reading = 0;
		}
	}
}

/*
 * Writes what waits, and frees the records of clients done with; one gone
 * with jobs pending keeps only its record until they end.
 */
static void
service_flush(void)
{
	struct client	*c, *next;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next) {
		flush_client(c);
		/* Handed over: a client all answered is closed. */
		if (handed_over && !c->gone && !c->closing &&
		    c->pending == 0 && c->out.len == 0)
			client_drop(c, "closed: a new supervisor serves");
		if (!c->gone)
			continue;
		if (c->pending == 0)
			client_free(c);
		else {
			buf_free(&c->in);
			buf_free(&c->out);
		}
	}
}

static void
service_abort(void)
{
	struct client	*c, *next;

	/* A last, blocking-free try to deliver what is answered. */
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->gone && c->out.len > 0)
			(void)buf_write(&c->out, c->fd);
	refusal_flush();
	if (listen_fd != -1 && listen_owned)
		unlink(opts->listen_path);
	pidfile_drop();
	listen_fd = -1;
}

static void
service_job_done(uint32_t idx, const char *res, size_t len)
{
	struct job	*j = ledger_job(idx);
	struct client	*c = j->client;

	status_job_done(j, loop_now_ns());
	c->held -= job_bytes(j);
	if (!c->gone && !c->closing && queue_frame(c, FRAME_RESULT, j->status,
	    j->attempt, j->client_id, res, len) == -1)
		client_drop(c, "out of memory for a result");
	ledger_release(idx);
	c->pending--;
}

/*
 * The drain took too long: each unfinished job is answered as rejected,
 * so no client waits forever for a result that will not come.
 */
static void
service_expired(void)
{
	static const char	 unfinished[] =
	    "not finished before the shutdown timeout";
	struct job		*j;
	uint32_t		 idx, n = ledger_size();

	log_warnx("shutdown timeout: %u jobs unfinished; stopping the workers",
	    ledger_live());
	pool_kill_all();
	for (idx = 0; idx < n; idx++) {
		j = ledger_job(idx);
		if (j->state == JOB_QUEUED || j->state == JOB_INFLIGHT) {
			j->status = STATUS_REJECTED;
			service_job_done(idx, unfinished, strlen(unfinished));
		}
	}
	supervisor_abort(0);
}

/* Stops for why (a signal, or a client's stop): drains, then exits. */
static void
stop_for(const char *why)
{
	if (!stopping) {
		log_warnx("%s: finishing the jobs taken, then exiting", why);
		supervisor_draining();
	}
	stopping = 1;
	draining = 1;
	event_del(ev_accept);
	upgrade_cancel();
	notify_stopping();
}

static void
service_stop(int sig)
{
	stop_for(strsignal(sig));
}

static int
service_finished(void)
{
	if (handed_over)
		return ledger_live() == 0 && service_clients() == 0;
	return draining && ledger_live() == 0;
}

static int
service_exit_status(void)
{
	service_abort();
	return 0;
}

int
service_draining(void)
{
	return draining;
}

/*
 * A new supervisor serves, started by an upgrade: the socket is its, and
 * the pidfile; we take nothing more from our clients, answer what they
 * gave, and close each once it is answered.  A job a client sent that we
 * did not take gets no result here: a client that connects again sends
 * it again, to the new supervisor.
 */
void
service_handover(void)
{
	struct client	*c;

	handed_over = 1;
	event_del(ev_accept);
	close(listen_fd);
	listen_fd = -1;
	listen_owned = 0;
	pidfile_release();
	TAILQ_FOREACH(c, &clients, entry)
		if (!c->gone && c->reading) {
			event_del(c->ev_read);
			c->reading = 0;
		}
	supervisor_draining();
}

int
service_listen_fd(void)
{
	return listen_fd;
}

int
service_listen_owned(void)
{
	return listen_owned;
}

unsigned
service_clients(void)
{
	struct client	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (!c->gone)
			n++;
	return n;
}

const struct intake service_intake = {
	.init = service_init,
	.room = service_room,
	.flush = service_flush,
	.job_done = service_job_done,
	.stop = service_stop,
	.finished = service_finished,
	.expired = service_expired,
	.abort = service_abort,
	.exit_status = service_exit_status,
};
