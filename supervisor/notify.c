/*
 * The systemd notify protocol, without libsystemd: one datagram per message
 * to $NOTIFY_SOCKET.  READY=1 goes once every worker has said HELLO; a
 * STATUS= line follows the pool; WATCHDOG=1 is sent at half the interval
 * systemd asks for in $WATCHDOG_USEC.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"

static int			 notify_fd = -1;
static struct sockaddr_un	 notify_addr;
static socklen_t		 notify_len;
static struct event		*ev_watchdog;
static int			 ready_sent;

static void
notify_send(const char *msg)
{
	if (notify_fd == -1)
		return;
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_len) == -1)
		log_debug("notify: %s", strerror(errno));
}

static void
watchdog(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	notify_send("WATCHDOG=1");
}

void
notify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET"), *usec, *pid, *errstr;
	struct timeval	 tv;
	long long	 us;
	size_t		 len;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof notify_addr.sun_path) {
		log_warnx("NOTIFY_SOCKET too long");
		return;
	}
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = offsetof(struct sockaddr_un, sun_path) + len;
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd == -1) {
		log_warn("notify socket");
		return;
	}
	usec = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	if (usec == NULL || (pid != NULL && atol(pid) != getpid()))
		return;
	us = strtonum(usec, 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return;
	us /= 2;
	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	ev_watchdog = event_new(base, -1, EV_PERSIST, watchdog, NULL);
	if (ev_watchdog != NULL)
		evtimer_add(ev_watchdog, &tv);
}

/* Called as workers come and go: READY once, STATUS when it changes. */
void
notify_pool(int ready, int total)
{
	static char	last[128];
	char		msg[128];

	if (!ready_sent && ready == total) {
		ready_sent = 1;
		upgrade_ready();
		notify_send("READY=1");
	}
	if (notify_fd == -1)
		return;
	snprintf(msg, sizeof msg, "STATUS=%d of %d workers ready%s", ready,
	    total, pool_degraded() ? "; degraded: restarting too often" : "");
	if (strcmp(msg, last) != 0) {
		strlcpy(last, msg, sizeof last);
		notify_send(msg);
	}
}

/*
 * An upgrade: the new supervisor is the service's main process now, and
 * the one to watch.  We say nothing more, not even STOPPING=1, which
 * would be taken as the service's.
 */
void
notify_handover(pid_t pid)
{
	char	msg[64];

	snprintf(msg, sizeof msg, "MAINPID=%d", (int)pid);
	notify_send(msg);
	if (ev_watchdog != NULL)
		event_del(ev_watchdog);
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

/* A reload, as systemd's ExecReload waits for it: RELOADING=1, READY=1. */
void
notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void
notify_reloaded(void)
{
	if (ready_sent)
		notify_send("READY=1");
}
