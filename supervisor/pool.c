/*
 * Worker slots: spawning, reaping, restarting with backoff, and the two
 * ways a job can kill its worker (a crash, a timeout).  A slot keeps its
 * number across restarts; the process in it changes.  Every lost worker
 * comes through worker_reaped(), the one place its jobs are put back.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"
#include "xmalloc.h"

#define BACKOFF_BASE_NS		10000000ULL	/* 10 ms */
#define BACKOFF_CAP_NS		5000000000ULL	/* 5 s */
#define EX_HANDLER_INIT		78		/* worker: handler init failed */
#define HELLO_FAILURES_MAX	5

struct worker		*workers;
static struct slot_board *boards;
static unsigned		 hello_failures;
static int		 shutting_down;
static uint64_t		*restart_times;	/* ring of the last restart_max */
static unsigned		 restart_next;
static int		 degraded;
static int		 target;	/* slots wanted; opts.workers: in use */

static void	worker_timer(evutil_socket_t, short, void *);
static void	spawn(struct worker *);

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Arms a timer event to fire in ns nanoseconds. */
void
timer_add_ns(struct event *ev, uint64_t ns)
{
	struct timeval	tv;

	tv.tv_sec = ns / 1000000000ULL;
	tv.tv_usec = (ns % 1000000000ULL) / 1000;
	evtimer_add(ev, &tv);
}

static void
timer_in(struct worker *w, uint64_t ns)
{
	timer_add_ns(w->ev_timer, ns);
}

void
pool_init(void)
{
	int	i;

	/* Room for every slot scaling may add: events hold pointers. */
	workers = xcalloc(WORKERS_CAP, sizeof *workers);
	target = opts.workers;
	restart_times = xcalloc(opts.restart_max, sizeof *restart_times);
	/* Shared with the workers: each writes which job it is running. */
	boards = mmap(NULL, WORKERS_CAP * sizeof *boards,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (boards == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < WORKERS_CAP; i++) {
		workers[i].slot = i;
		workers[i].fd = -1;
		workers[i].state = W_EMPTY;
		jobq_init(&workers[i].inflight);
		jobq_init(&workers[i].keyed);
		workers[i].ev_timer = evtimer_new(base, worker_timer,
		    &workers[i]);
		if (workers[i].ev_timer == NULL)
			fatalx("evtimer_new failed");
	}
}

void
pool_start(void)
{
	int	i;

	for (i = 0; i < opts.workers; i++)
		spawn(&workers[i]);
}

int
pool_degraded(void)
{
	return degraded;
}

/*
 * Restart intensity, as OTP supervisors have it: more than restart_max
 * restarts within restart_period marks the pool degraded, and restarts
 * then wait the longest backoff until the storm has passed.
 */
static void
count_restart(void)
{
	uint64_t	now = now_ns(), oldest;

	oldest = restart_times[restart_next];
	restart_times[restart_next] = now;
	restart_next = (restart_next + 1) % opts.restart_max;
	if (oldest != 0 && now - oldest < opts.restart_period_ns) {
		if (!degraded)
			log_warnx("%u restarts within %.3g s: the pool is "
			    "degraded; restarts back off to %.3g s",
			    opts.restart_max, opts.restart_period_ns / 1e9,
			    BACKOFF_CAP_NS / 1e9);
		degraded = 1;
	} else if (degraded && (oldest == 0 ||
	    now - oldest >= 2 * opts.restart_period_ns)) {
		log_warnx("restarts have calmed down: the pool is no longer "
		    "degraded");
		degraded = 0;
	}
}

static void
schedule_restart(struct worker *w)
{
	uint64_t	delay;
	unsigned	shift;

	shift = w->failed_starts > 0 ? w->failed_starts - 1 : 0;
	delay = shift >= 20 ? BACKOFF_CAP_NS : BACKOFF_BASE_NS << shift;
	if (delay > BACKOFF_CAP_NS || degraded)
		delay = BACKOFF_CAP_NS;
	/* Jitter of +-25% keeps slots that died together from restarting
	 * in lockstep. */
	delay = delay * 3 / 4 + arc4random_uniform((uint32_t)(delay / 2000000
	    + 1)) * 1000000ULL;
	log_info("worker %d: restarting in %llu ms", w->slot,
	    (unsigned long long)(delay / 1000000));
	timer_in(w, delay);
}

static void
spawn(struct worker *w)
{
	int	sv[2];
	pid_t	pid, self = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", w->slot);
		w->failed_starts++;
		schedule_restart(w);
		return;
	}
	memset(&boards[w->slot], 0, sizeof boards[w->slot]);
	switch (pid = fork()) {
	case -1:
		log_warn("worker %d: fork", w->slot);
		close(sv[0]);
		close(sv[1]);
		w->failed_starts++;
		schedule_restart(w);
		return;
	case 0:
		close(sv[0]);
		worker_main(sv[1], w->slot, self, &boards[w->slot]);
	}
	close(sv[1]);
	w->pid = pid;
	w->state = W_STARTING;
	w->greeted = 0;
	w->end = END_NONE;
	w->culprit = JOB_NONE;
	w->job_ns = 0;
	w->busy_since_ns = 0;
	w->window = opts.window != 0 ? opts.window : WINDOW_START;
	wlink_open(w, sv[0]);
	log_debug("worker %d: started, pid %d", w->slot, (int)pid);
}

static void
pool_notify(void)
{
	int	i, ready = 0;

	for (i = 0; i < opts.workers; i++)
		if (workers[i].state == W_READY)
			ready++;
	notify_pool(ready, target);
}

void
pool_ready(struct worker *w)
{
	w->state = W_READY;
	w->greeted = 1;
	hello_failures = 0;
	log_info("worker %d: ready, pid %d", w->slot, (int)w->pid);
	pool_notify();
}

void
pool_result(struct worker *w)
{
	w->failed_starts = 0;
}

/*
 * The job to charge for a worker's end.  A bad frame stood in place of
 * the oldest job's result.  A crash is charged to the job the board says
 * was running; a worker that died between jobs is charged nothing.
 */
static uint32_t
find_culprit(struct worker *w, enum worker_end end)
{
	uint64_t	id;
	uint32_t	idx;

	if (end == END_PROTOCOL)
		return w->inflight.head;
	id = __atomic_load_n(&boards[w->slot].job_id, __ATOMIC_ACQUIRE);
	if (id == 0)
		return JOB_NONE;
	for (idx = w->inflight.head; idx != JOB_NONE;
	    idx = ledger_job(idx)->next)
		if ((uint64_t)idx + 1 == id)
			return idx;
	return w->inflight.head;	/* a scribbled board: blame the oldest */
}

/* Stops using a worker; its jobs are put back when it has been reaped. */
void
pool_fail_worker(struct worker *w, enum worker_end end, const char *why)
{
	if (w->state == W_EMPTY || w->state == W_STOPPING)
		return;
	log_debug("worker %d: dropping: %s", w->slot, why);
	w->state = W_STOPPING;
	w->end = end;
	if (end != END_SHUTDOWN)
		w->culprit = find_culprit(w, end);
	wlink_close(w);
	kill(w->pid, SIGKILL);
}

/* The per-job timeout: the board says how long the running job has run. */
static void
check_timeout(struct worker *w)
{
	struct slot_board	*b = &boards[w->slot];
	uint64_t		 now = now_ns(), started, id;
	uint32_t		 idx;

	if (w->inflight.count == 0)
		return;
	id = __atomic_load_n(&b->job_id, __ATOMIC_ACQUIRE);
	started = b->started_ns;
	idx = find_culprit(w, END_TIMEOUT);
	if (idx == JOB_NONE || id != (uint64_t)idx + 1 || started == 0 ||
	    started > now) {
		timer_in(w, opts.timeout_ns);	/* between two jobs */
		return;
	}
	if (now - started < opts.timeout_ns) {
		timer_in(w, opts.timeout_ns - (now - started));
		return;
	}
	log_warnx("worker %d: line %llu ran past the %.3g s timeout; "
	    "killing pid %d", w->slot,
	    (unsigned long long)ledger_job(idx)->line,
	    opts.timeout_ns / 1e9, (int)w->pid);
	w->state = W_STOPPING;
	w->end = END_TIMEOUT;
	w->culprit = idx;
	wlink_close(w);
	kill(w->pid, SIGTERM);
	timer_in(w, opts.kill_grace_ns);
}

void
pool_watch_timeout(struct worker *w)
{
	if (opts.timeout_ns == 0 || evtimer_pending(w->ev_timer, NULL))
		return;
	timer_in(w, opts.timeout_ns);
}

static void
worker_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)ev;
	switch (w->state) {
	case W_EMPTY:
		if (!shutting_down)
			spawn(w);
		break;
	case W_READY:
		check_timeout(w);
		break;
	case W_STARTING:
		break;
	case W_STOPPING:
		/* The grace after SIGTERM or EOF is over. */
		log_warnx("worker %d: pid %d did not exit; sending SIGKILL",
		    w->slot, (int)w->pid);
		kill(w->pid, SIGKILL);
		break;
	}
	supervisor_settle();
}

static void
describe_exit(struct worker *w, int status, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "pid %d killed by signal %d (%s)",
		    (int)w->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "pid %d exited with status %d",
		    (int)w->pid, WEXITSTATUS(status));
}

/* Charges the culprit an attempt; fails it when it has none left. */
static void
charge_culprit(struct worker *w)
{
	struct job	*j;
	uint32_t	 idx = w->culprit, prev;

	if (idx == JOB_NONE)
		return;
	j = ledger_job(idx);
	if (j->attempt < opts.attempts) {
		j->attempt++;
		return;
	}
	/* Unlink it from the in-flight list and report it. */
	if (w->inflight.head == idx)
		jobq_pop(&w->inflight);
	else {
		for (prev = w->inflight.head; ledger_job(prev)->next != idx;
		    prev = ledger_job(prev)->next)
			;
		ledger_job(prev)->next = j->next;
		if (w->inflight.tail == idx)
			w->inflight.tail = prev;
		w->inflight.count--;
	}
	dispatch_left_worker(j);
	j->state = JOB_DONE;
	j->worker = -1;
	j->status = w->end == END_TIMEOUT ? STATUS_TIMEOUT : STATUS_CRASHED;
	intake->job_done(idx, NULL, 0);
}

static void
worker_reaped(struct worker *w, int status)
{
	char	what[128];
	int	before_hello = !w->greeted;

	describe_exit(w, status, what, sizeof what);
	if (before_hello && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EX_HANDLER_INIT) {
		log_warnx("worker %d: the handler failed to start; stopping",
		    w->slot);
		supervisor_abort(2);
	}
	if (w->end == END_NONE) {
		w->end = END_CRASH;
		w->culprit = find_culprit(w, END_CRASH);
	}
	if (w->end != END_SHUTDOWN)
		log_warnx("worker %d: %s%s", w->slot, what,
		    w->end == END_TIMEOUT ? " after a timeout" :
		    w->end == END_PROTOCOL ? " after a protocol error" : "");
	else
		log_debug("worker %d: %s", w->slot, what);
	wlink_close(w);
	evtimer_del(w->ev_timer);
	charge_culprit(w);
	dispatch_requeue(w);
	w->state = W_EMPTY;
	w->pid = -1;
	if (shutting_down || pool_retiring(w))
		return;
	if (before_hello && ++hello_failures >= HELLO_FAILURES_MAX) {
		log_warnx("workers keep dying before they start (last: %s); "
		    "stopping", what);
		supervisor_abort(2);
	}
	w->restarts++;
	w->failed_starts++;
	count_restart();
	schedule_restart(w);
	pool_notify();
}

void
pool_sigchld(void)
{
	pid_t	pid;
	int	status, i;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		for (i = 0; i < opts.workers; i++)
			if (workers[i].pid == pid) {
				worker_reaped(&workers[i], status);
				break;
			}
	}
}

/* Asks every worker to exit: EOF on its link, SIGKILL after the grace. */
void
pool_shutdown(void)
{
	struct worker	*w;
	int		 i;

	shutting_down = 1;
	for (i = 0; i < opts.workers; i++) {
		w = &workers[i];
		if (w->state == W_EMPTY) {
			evtimer_del(w->ev_timer);
			continue;
		}
		if (w->state != W_STOPPING) {
			w->state = W_STOPPING;
			w->end = END_SHUTDOWN;
			wlink_close(w);
		}
		timer_in(w, opts.kill_grace_ns);
	}
}

int
pool_retiring(const struct worker *w)
{
	return w->slot >= target;
}

/*
 * Scaling: new slots start at once; slots past the target stop taking
 * shared jobs, hand their partitions over (dispatch_rebalance), and are
 * told to exit once they hold nothing.
 */
void
pool_scale(int n)
{
	int	i;

	if (n < 1 || n > WORKERS_CAP || shutting_down)
		return;
	log_warnx("scaling from %d to %d workers", target, n);
	target = n;
	for (i = opts.workers; i < n; i++)
		workers[i].failed_starts = 0;
	if (n > opts.workers)
		opts.workers = n;
	for (i = 0; i < n; i++)
		if (workers[i].state == W_EMPTY &&
		    !evtimer_pending(workers[i].ev_timer, NULL))
			spawn(&workers[i]);
	dispatch_rebalance(target);
}

int
pool_target(void)
{
	return target;
}

/* Each turn while scaling: finish moves, retire slots that hold nothing. */
void
pool_scale_settle(void)
{
	struct worker	*w;
	int		 i;

	if (target == opts.workers && !dispatch_moving())
		return;
	dispatch_rebalance(target);
	for (i = target; i < opts.workers; i++) {
		w = &workers[i];
		if ((w->state == W_READY || w->state == W_STARTING) &&
		    w->inflight.count == 0 && w->keyed.count == 0 &&
		    !dispatch_owns_any(i)) {
			w->state = W_STOPPING;
			w->end = END_SHUTDOWN;
			wlink_close(w);
			timer_in(w, opts.kill_grace_ns);
		} else if (w->state == W_EMPTY)
			evtimer_del(w->ev_timer);
	}
	while (opts.workers > target &&
	    workers[opts.workers - 1].state == W_EMPTY)
		opts.workers--;
	pool_notify();
}

/* Whether every slot's first process has said HELLO or died. */
int
pool_settled(void)
{
	int	i;

	for (i = 0; i < opts.workers; i++)
		if (workers[i].state == W_STARTING)
			return 0;
	return 1;
}

int
pool_alive(void)
{
	int	i, n = 0;

	for (i = 0; i < opts.workers; i++)
		if (workers[i].state != W_EMPTY)
			n++;
	return n;
}

/* At exit: no worker may outlive the supervisor. */
void
pool_kill_all(void)
{
	int	i;

	if (workers == NULL)
		return;
	for (i = 0; i < opts.workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0)
			kill(workers[i].pid, SIGKILL);
	for (i = 0; i < opts.workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0) {
			while (waitpid(workers[i].pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
			workers[i].state = W_EMPTY;
			workers[i].pid = -1;
		}
}
