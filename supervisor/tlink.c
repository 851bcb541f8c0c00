/*
 * The supervisor's end of a thread link (--isolation thread, see
 * worker/thread.h).  wlink.c moves a thread's frames through here instead
 * of a socket: its JOB frames are handed to the thread's buffer, and its
 * RESULT frames taken from the other when the eventfd says they wait.  A
 * thread that leaves, or that the supervisor gives up on, is put on a
 * list that wakes the loop through one more eventfd: there its record is
 * reaped, as a process would be after SIGCHLD.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"
#include "worker/thread.h"

static pthread_mutex_t	 queue_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tlink	*queue;
static int		 queue_efd = -1;
static struct event	*ev_queue;

static void	reap_queued(evutil_socket_t, short, void *);
static void	tlink_queue(struct tlink *);

void
tlink_init(void)
{
	if ((queue_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	ev_queue = event_new(base, queue_efd, EV_READ | EV_PERSIST,
	    reap_queued, NULL);
	if (ev_queue == NULL || event_add(ev_queue, NULL) == -1)
		fatalx("event_new failed");
}

static void
tlink_free(struct tlink *tl)
{
	close(tl->efd);
	buf_free(&tl->jobs);
	buf_free(&tl->results);
	pthread_cond_destroy(&tl->cv);
	pthread_mutex_destroy(&tl->mu);
	free(tl);
}

/* Starts a thread for w, as o says; returns the descriptor to watch. */
int
tlink_start(struct proc *w, const struct options *o)
{
	struct tlink	*tl;
	int		 e;

	if ((tl = calloc(1, sizeof *tl)) == NULL)
		return -1;
	pthread_mutex_init(&tl->mu, NULL);
	pthread_cond_init(&tl->cv, NULL);
	buf_init(&tl->jobs);
	buf_init(&tl->results);
	wconf_fill(&tl->conf, o, w->slot->index, w->board, getpid());
	tl->gone = tlink_queue;
	if ((tl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		e = errno;
		free(tl);
		errno = e;
		return -1;
	}
	if ((e = pthread_create(&tl->thread, NULL, thread_main, tl)) != 0) {
		tlink_free(tl);
		errno = e;
		return -1;
	}
	w->tl = tl;
	return tl->efd;
}

static void
swap_bufs(struct buf *a, struct buf *b)
{
	struct buf	t = *a;

	*a = *b;
	*b = t;
}

/* Hands what w->out holds to the thread; -1 when out of memory. */
int
tlink_deliver(struct proc *w)
{
	struct tlink	*tl = w->tl;
	int		 rc = 0;

	pthread_mutex_lock(&tl->mu);
	if (tl->jobs.len == 0)
		swap_bufs(&tl->jobs, &w->link.out);
	else if (buf_append(&tl->jobs, buf_head(&w->link.out), w->link.out.len) == -1)
		rc = -1;
	pthread_cond_signal(&tl->cv);
	pthread_mutex_unlock(&tl->mu);
	w->link.out.len = w->link.out.off = 0;
	return rc;
}

/* Takes the frames the thread has handed back into w->in: their bytes. */
ssize_t
tlink_collect(struct proc *w)
{
	struct tlink	*tl = w->tl;
	uint64_t	 n;
	ssize_t		 got;
	int		 rc = 0;

	if (read(tl->efd, &n, sizeof n) == -1 && errno != EAGAIN)
		return -1;
	pthread_mutex_lock(&tl->mu);
	got = tl->results.len;
	if (w->link.in.len == 0)
		swap_bufs(&w->link.in, &tl->results);
	else if (buf_append(&w->link.in, buf_head(&tl->results),
	    tl->results.len) == -1)
		rc = -1;
	else
		tl->results.len = tl->results.off = 0;
	pthread_mutex_unlock(&tl->mu);
	return rc == -1 ? -1 : got;
}

/* No more jobs: the thread leaves once it is idle. */
void
tlink_close(struct proc *w)
{
	pthread_mutex_lock(&w->tl->mu);
	w->tl->closing = 1;
	pthread_cond_signal(&w->tl->cv);
	pthread_mutex_unlock(&w->tl->mu);
}

/*
 * A thread cannot be killed: the supervisor gives up on it instead.  Its
 * frames are no longer read and its record is reaped on the next turn;
 * the thread leaves when its handler returns, if it ever does.
 */
void
tlink_abandon(struct proc *w)
{
	pthread_mutex_lock(&w->tl->mu);
	w->tl->abandoned = 1;
	pthread_cond_signal(&w->tl->cv);
	pthread_mutex_unlock(&w->tl->mu);
	tlink_queue(w->tl);
}

/* Any thread: this tlink's record wants reaping (the thread's tl->gone). */
static void
tlink_queue(struct tlink *tl)
{
	uint64_t	one = 1;

	pthread_mutex_lock(&queue_mu);
	if (!tl->queued) {
		tl->queued = 1;
		tl->next_queued = queue;
		queue = tl;
	}
	pthread_mutex_unlock(&queue_mu);
	if (write(queue_efd, &one, sizeof one) == -1 && errno != EAGAIN)
		log_warn("eventfd");
}

static void
reap_queued(evutil_socket_t fd, short ev, void *arg)
{
	struct tlink	*list, *tl;
	uint64_t	 n;
	int		 exited;

	(void)ev;
	(void)arg;
	loop_tick();
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_warn("eventfd");
	pthread_mutex_lock(&queue_mu);
	list = queue;
	queue = NULL;
	for (tl = list; tl != NULL; tl = tl->next_queued)
		tl->queued = 0;
	pthread_mutex_unlock(&queue_mu);
	while ((tl = list) != NULL) {
		list = tl->next_queued;
		pthread_mutex_lock(&tl->mu);
		exited = tl->exited;
		pthread_mutex_unlock(&tl->mu);
		pool_thread_gone(tl, exited ? tl->status : -1);
		if (exited) {
			pthread_join(tl->thread, NULL);
			tlink_free(tl);
		}
	}
	supervisor_wake();
}
