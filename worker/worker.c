/*
 * The worker: a child of the supervisor that reads JOB frames from its
 * link, runs the handler on each, and answers with RESULT frames.  It reads
 * all that is there, handles every complete frame, and answers with one
 * write.  It owns nothing of the parent's but its link: no event loop, no
 * other descriptor, no signal handler.  An external handler (exec:,
 * lines:) has a loop of its own, external.c, after the same start.
 */
#include <sys/prctl.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/frame.h"
#include "handler.h"
#include "proto/link.h"
#include "proto/log.h"
#include "proto/proctitle.h"
#include "proto/subtree.h"
#include "worker.h"

#define EAGER_FRAMES	16	/* a batch this small answers job by job */
#define CLOCK_EVERY	64	/* jobs between looks at the clock */
#define FLUSH_DELAY_US	5000	/* results wait at most this behind a job */

/* The loop's state, which its callback takes one frame at a time. */
struct loop {
	const struct worker_conf *wc;
	void		*state;		/* the handler's */
	struct link	 link;
	struct buf	 res;
	unsigned	 i;		/* jobs run of this read */
	int		 eager;		/* a small batch: answer job by job */
	uint64_t	 tick;
};

static struct buf		*pending;	/* results not yet written */
static volatile sig_atomic_t	 job_running;
static struct slot_board	*my_board;

static void
reset_signals(void)
{
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGHUP, SIGPIPE,
	    SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGQUIT };
	sigset_t		 none;
	size_t			 i;

	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	/* ^C at the terminal is for the supervisor, which drains. */
	signal(SIGINT, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * SIGTERM (a timeout, or the supervisor's death through PR_SET_PDEATHSIG):
 * whatever the handler started goes first, however deep, then the worker
 * dies of the signal, so that the supervisor sees what it sent.
 */
static void
on_sigterm(int sig)
{
	subtree_kill();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A worker is a subreaper: what its handler starts stays its own to kill,
 * even once abandoned, and dies with it on every path.
 */
static void
own_descendants(pid_t parent)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigterm;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	/* Die with the supervisor, even if it died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	if (subtree_adopt() == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
}

/* The worker's end: nothing it started outlives it. */
void
worker_exit(int status)
{
	subtree_kill();
	_exit(status);
}

/* Leaves the link on WORKER_LINK_FD, stdio harmless, nothing else open. */
static void
own_descriptors(int fd)
{
	int	null;

	if (fd != WORKER_LINK_FD) {
		if (dup2(fd, WORKER_LINK_FD) == -1)
			fatal("dup2");
		close(fd);
	}
	if ((null = open("/dev/null", O_RDONLY)) == -1)
		fatal("/dev/null");
	dup2(null, STDIN_FILENO);
	if (null != STDIN_FILENO)
		close(null);
	/* Stray prints go to the log, never into the results. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	closefrom(WORKER_LINK_FD + 1);
}

static void
write_all(struct buf *out, int status)
{
	while (out->len > 0)
		if (buf_write(out, WORKER_LINK_FD) == -1) {
			if (errno == EPIPE)
				worker_exit(status);	/* the supervisor is gone */
			fatal("write");
		}
}

static void
send_frame(struct buf *out, uint8_t type, uint16_t aux, uint32_t arg,
    uint64_t id, const char *payload, size_t paylen)
{
	if (frame_append(out, type, aux, arg, id, payload, paylen) == -1)
		fatal("out of memory for a frame");
}

/* The coarse clock: cheap, good to a few ms, for batching results. */
uint64_t
worker_coarse_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t
worker_clock_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The handler cannot start: say why to the supervisor, which logs it and
 * stops the run on this exit status instead of starting workers in a
 * loop.  Only if it cannot be told is it said here.
 */
void
worker_start_failed(const char *why)
{
	struct buf	out;
	int		told;

	buf_init(&out);
	told = frame_append(&out, FRAME_ERROR, 0, 0, 0, why, strlen(why)) == 0;
	while (told && out.len > 0)
		told = buf_write(&out, WORKER_LINK_FD) != -1;
	if (!told)
		log_warnx("%s", why);
	worker_exit(EX_HANDLER_INIT);
}

/* Loads the plugin if the supervisor did not, and runs init. */
static void *
start_handler(struct handler *h)
{
	void	*state;
	char	 err[512], msg[768];

	if (handler_load(h, err, sizeof err) == -1)
		worker_start_failed(err);
	if (handler_init(h, &state, err, sizeof err) == -1) {
		snprintf(msg, sizeof msg, "handler %s: %s", h->spec, err);
		worker_start_failed(msg);
	}
	return state;
}

/*
 * Runs one JOB through an in-process handler, in a worker process or in
 * a thread, with the job on the board for the supervisor to see: the
 * RESULT's status, its payload in res; -1 when the job is to answer with
 * WORKER_GARBAGE instead.
 */
int
worker_handle(const struct handler *h, void *state, const struct frame *f,
    struct slot_board *board, struct buf *res)
{
	struct fp_job		job;
	struct handler_output	ho;
	int			status;

	job.id = f->id;
	job.attempt = f->aux;
	job.key = f->key;
	job.keylen = f->keylen;
	job.payload = f->payload;
	job.paylen = f->paylen;
	res->len = res->off = 0;
	handler_output_init(&ho, res);
	/* Only a job with a timeout needs its start time on the board. */
	if (f->arg != 0)
		board->started_ns = worker_clock_ns();
	__atomic_store_n(&board->job_id, f->id, __ATOMIC_RELEASE);
	status = handler_handle(h, state, &job, &ho);
	__atomic_store_n(&board->job_id, 0, __ATOMIC_RELEASE);
	return ho.corrupt ? -1 : status;
}

static void
run_job(struct loop *lp, const struct frame *f)
{
	struct buf	*out = &lp->link.out;
	int		 status;

	/* Room for the heartbeats that may come while it runs. */
	if (lp->wc->heartbeat_ns != 0 && buf_reserve(out, 64 *
	    (FRAME_HEADER_SIZE + FRAME_BODY_MIN)) == -1)
		fatal("out of memory for heartbeats");
	job_running = 1;
	status = worker_handle(lp->wc->handler, lp->state, f, lp->wc->board,
	    &lp->res);
	job_running = 0;
	if (status == -1) {
		if (buf_append(out, WORKER_GARBAGE, WORKER_GARBAGE_LEN) == -1)
			fatal("out of memory for a frame");
		return;
	}
	send_frame(out, FRAME_RESULT, status, 0, f->id, buf_head(&lp->res),
	    lp->res.len);
}

/*
 * Results wait in out to leave many per write, but a finished result must
 * not wait long behind a slow job.  In a big batch (tiny jobs) the clock
 * is looked at every CLOCK_EVERY jobs; in a small one (long jobs get a
 * shallow window) a timer lets the results out if the next job runs past
 * FLUSH_DELAY_US, so jobs of a millisecond or two cost no extra wake-up.
 */
static int
clock_says_answer(unsigned i, uint64_t *tick)
{
	uint64_t	now;

	if (i % CLOCK_EVERY != 0)
		return 0;
	now = worker_coarse_ns();
	if (now == *tick)
		return 0;
	*tick = now;
	return 1;
}

/*
 * The signal handlers below write while a job runs, when the loop does not
 * touch out until handle() returns; they never allocate.
 */
static void
write_pending(void)
{
	ssize_t	n;

	if (pending->len == 0)
		return;
	n = write(WORKER_LINK_FD, pending->data + pending->off, pending->len);
	if (n > 0) {
		pending->off += n;
		pending->len -= n;
		if (pending->len == 0)
			pending->off = 0;
	}
}

/* SIGALRM: results finished before this job go out. */
static void
flush_pending(int sig)
{
	int	saved = errno;

	(void)sig;
	if (job_running)
		write_pending();
	errno = saved;
}

/*
 * The heartbeat timer, while a job runs: a HEARTBEAT frame naming the job
 * tells the supervisor the worker still runs (--heartbeat-timeout), in
 * the room run_job() reserved.  A worker that is stopped, frozen or stuck
 * where no signal reaches it goes silent, and is replaced.
 */
static void
heartbeat(int sig)
{
	int		 saved = errno;
	struct frame	 f;

	(void)sig;
	if (!job_running)
		return;
	if (pending->cap - pending->off - pending->len >=
	    FRAME_HEADER_SIZE + FRAME_BODY_MIN) {
		memset(&f, 0, sizeof f);
		f.type = FRAME_HEARTBEAT;
		f.id = my_board->job_id;
		frame_encode(pending->data + pending->off + pending->len, &f);
		pending->len += FRAME_HEADER_SIZE + FRAME_BODY_MIN;
	}
	write_pending();
	errno = saved;
}

static void
start_heartbeat(uint64_t heartbeat_ns)
{
	struct sigaction	sa;
	struct sigevent		sev;
	struct itimerspec	its;
	timer_t			timer;
	uint64_t		every = heartbeat_ns / 4;

	if (heartbeat_ns == 0)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = heartbeat;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGALRM);	/* one writer at a time */
	sigaction(SIGUSR1, &sa, NULL);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) == -1)
		fatal("timer_create");
	if (every < 1000000)
		every = 1000000;
	its.it_interval.tv_sec = every / 1000000000ULL;
	its.it_interval.tv_nsec = every % 1000000000ULL;
	its.it_value = its.it_interval;
	if (timer_settime(timer, 0, &its, NULL) == -1)
		fatal("timer_settime");
}

static void
arm_flush_timer(void)
{
	struct itimerval	it;

	memset(&it, 0, sizeof it);
	it.it_value.tv_usec = FLUSH_DELAY_US;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* One JOB, the link's callback: results leave in batches, or at once. */
static int
take_job(void *arg, const struct frame *f)
{
	struct loop	*lp = arg;
	struct buf	*out = &lp->link.out;

	if (out->len > 0 && lp->eager)
		arm_flush_timer();
	else if (out->len > 0 && clock_says_answer(lp->i, &lp->tick))
		write_all(out, 0);
	lp->i++;
	run_job(lp, f);
	return 0;
}

void
worker_main(const struct worker_conf *wc, int fd)
{
	/* Static: still reachable when a signal ends a job, for valgrind. */
	static struct loop	 lp;
	struct link		*l = &lp.link;
	char			 name[32];
	ssize_t			 n;
	struct sigaction	 sa;

	reset_signals();
	own_descendants(wc->parent);
	own_descriptors(fd);
	snprintf(name, sizeof name, "worker %d", wc->slot);
	log_procname(name);
	proctitle_set("worker %d", wc->slot);
	worker_confine(wc);

	if (handler_relays(wc->handler))
		external_main(wc);

	lp.wc = wc;
	link_init(l, wc->frame_max, FRAME_TO_WORKER, take_job, &lp);
	buf_init(&lp.res);
	pending = &l->out;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = flush_pending;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);	/* one writer at a time */
	sigaction(SIGALRM, &sa, NULL);
	my_board = wc->board;
	start_heartbeat(wc->heartbeat_ns);
	lp.state = start_handler(wc->handler);
	send_frame(&l->out, FRAME_HELLO, wc->slot, (uint32_t)getpid(), 0,
	    NULL, 0);
	write_all(&l->out, 0);

	for (;;) {
		n = link_fill(l, WORKER_LINK_FD);
		if (n == 0)
			break;
		if (n == -1)
			fatal("read");
		lp.eager = link_count(l, EAGER_FRAMES) <= EAGER_FRAMES;
		lp.i = 0;
		if (link_take(l) == LINK_BAD) {
			log_warnx("protocol error: %s", l->why);
			worker_exit(EX_PROTOCOL);
		}
		write_all(&l->out, 0);
		buf_shrink(&l->in, 4 * LINK_READ_CHUNK);
		buf_shrink(&l->out, 4 * LINK_READ_CHUNK);
	}
	handler_fini(wc->handler, lp.state);
	worker_exit(0);
}
