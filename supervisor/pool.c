/*
 * Worker processes: spawning, reaping, restarting with backoff, and the
 * ways a job can kill its worker (a crash, a timeout, silence).  A slot
 * keeps its number across restarts; the process in it changes.  Every
 * lost worker comes through worker_reaped(), the one place its jobs are
 * put back.  Replacing a worker new before old is replace.c's, the number
 * of slots scale.c's.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/handler.h"
#include "proto/log.h"
#include "pool.h"
#include "proto/subtree.h"
#include "proto/xmalloc.h"

#define BACKOFF_BASE_NS		10000000ULL	/* 10 ms */
#define BACKOFF_CAP_NS		5000000000ULL	/* 5 s */
#define HELLO_FAILURES_MAX	5
#define CRASH_LOOP		3		/* crash-loop ends in a row */

struct worker		*workers;
int			 pool_shutting_down;
int			 pool_target_n;	/* slots wanted; opts->workers: in use */
unsigned		 pool_ntwins;	/* twins with a process */
unsigned		 pool_generation; /* of the configuration workers get */
static struct slot_board *boards;
static unsigned		 hello_failures;
static uint64_t		*restart_times;	/* ring of the last restart_max */
static unsigned		 restart_next;
static int		 degraded;

static void	worker_timer(evutil_socket_t, short, void *);

void
pool_timer_in(struct worker *w, uint64_t ns)
{
	timer_add_ns(w->ev_timer, ns);
}

int
pool_is_twin(const struct worker *w)
{
	return w - workers >= WORKERS_CAP;
}

void
pool_init(void)
{
	int	i;

	/*
	 * Room for every slot scaling may add and for their twins: events
	 * hold pointers, so the array never moves.
	 */
	workers = xcalloc(2 * WORKERS_CAP, sizeof *workers);
	if (opts->isolation == ISOLATION_THREAD)
		tlink_init();
	pool_target_n = opts->workers;
	restart_times = xcalloc(opts->restart_max, sizeof *restart_times);
	/* Shared with the workers: each writes which job it is running. */
	boards = mmap(NULL, 2 * WORKERS_CAP * sizeof *boards,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (boards == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < 2 * WORKERS_CAP; i++) {
		workers[i].slot = i % WORKERS_CAP;
		workers[i].fd = -1;
		workers[i].state = W_EMPTY;
		workers[i].board = &boards[i];
		jobq_init(&workers[i].inflight);
		jobq_init(&workers[i].keyed);
		workers[i].ev_timer = evtimer_new(base, worker_timer,
		    &workers[i]);
		if (workers[i].ev_timer == NULL)
			fatalx("evtimer_new failed");
	}
}

/* A new restart_max: the ring of restart times starts again. */
int
pool_restart_intensity(void)
{
	uint64_t	*times;

	if ((times = calloc(opts->restart_max, sizeof *times)) == NULL)
		return -1;
	free(restart_times);
	restart_times = times;
	restart_next = 0;
	return 0;
}

void
pool_start(void)
{
	int	i;

	pool_watch_heartbeats();
	for (i = 0; i < opts->workers; i++)
		pool_spawn(&workers[i], opts);
}

/*
 * Restart intensity, as OTP supervisors have it, counted over crash-loop
 * restarts only: more than restart_max within restart_period marks the
 * pool degraded, and a slot that keeps failing then waits the longest
 * backoff, until the storm has passed: fewer than restart_max within twice
 * the period.
 */
static void
calm_down(uint64_t now)
{
	uint64_t	oldest = restart_times[restart_next];

	if (degraded && (oldest == 0 ||
	    now - oldest >= 2 * opts->restart_period_ns)) {
		log_warnx("restarts have calmed down: the pool is no longer "
		    "degraded");
		degraded = 0;
	}
}

int
pool_degraded(void)
{
	calm_down(now_ns());
	return degraded;
}

static void
count_restart(void)
{
	uint64_t	now = now_ns(), oldest;

	oldest = restart_times[restart_next];
	restart_times[restart_next] = now;
	restart_next = (restart_next + 1) % opts->restart_max;
	if (oldest != 0 && now - oldest < opts->restart_period_ns) {
		if (!degraded)
			log_warnx("more than %u workers failed before a "
			    "first result within %.3g s: the pool is "
			    "degraded; a slot that keeps failing waits %.3g s",
			    opts->restart_max, opts->restart_period_ns / 1e9,
			    BACKOFF_CAP_NS / 1e9);
		degraded = 1;
	} else
		calm_down(now);
}

/*
 * failed_starts is how many of the slot's processes in a row ended in a
 * crash loop's way (crash_looping()).  None: its replacement starts at
 * once.  Otherwise the delay doubles each time; in a degraded pool a slot
 * that keeps failing waits the longest at once.  Two such ends in a row
 * are not yet that: a poison job's later attempts kill fresh workers too,
 * and it fails after its attempts anyway.
 */
void
pool_schedule_restart(struct worker *w)
{
	uint64_t	delay;
	unsigned	shift;

	if (w->failed_starts == 0) {
		log_info("worker %d: restarting at once", w->slot);
		pool_timer_in(w, 0);
		return;
	}
	shift = w->failed_starts - 1;
	delay = shift >= 20 ? BACKOFF_CAP_NS : BACKOFF_BASE_NS << shift;
	if (delay > BACKOFF_CAP_NS || (degraded &&
	    w->failed_starts >= CRASH_LOOP))
		delay = BACKOFF_CAP_NS;
	/* Jitter of +-25% keeps slots that died together from restarting
	 * in lockstep. */
	delay = delay * 3 / 4 + arc4random_uniform((uint32_t)(delay / 2000000
	    + 1)) * 1000000ULL;
	log_info("worker %d: restarting in %llu ms", w->slot,
	    (unsigned long long)(delay / 1000000));
	pool_timer_in(w, delay);
}

/* Starts a process in w, configured by o (a reload's first one: not opts). */
void
pool_spawn(struct worker *w, const struct options *o)
{
	struct worker_conf	wc;
	int			sv[2];
	pid_t			pid, self = getpid();

	memset(w->board, 0, sizeof *w->board);
	if (o->isolation == ISOLATION_THREAD) {
		if ((sv[0] = tlink_start(w, o)) == -1) {
			log_warn("worker %d: a thread", w->slot);
			w->failed_starts++;
			pool_schedule_restart(w);
			return;
		}
		pid = 0;	/* the thread says its id in its HELLO */
		goto started;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", w->slot);
		w->failed_starts++;
		pool_schedule_restart(w);
		return;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("worker %d: fork", w->slot);
		close(sv[0]);
		close(sv[1]);
		w->failed_starts++;
		pool_schedule_restart(w);
		return;
	case 0:
		close(sv[0]);
		wconf_fill(&wc, o, w->slot, w->board, self);
		worker_main(&wc, sv[1]);
	}
	close(sv[1]);
started:
	if (pool_is_twin(w))
		pool_ntwins++;
	w->pid = pid;
	w->gen = pool_generation;
	w->state = W_STARTING;
	w->greeted = 0;
	w->end = END_NONE;
	w->culprit = JOB_NONE;
	w->job_ns = 0;
	w->busy_since_ns = 0;
	w->jobs_sent = 0;
	w->rss_checked_ns = 0;
	w->recycle_at = o->max_jobs == 0 ? 0 : o->max_jobs +
	    arc4random_uniform((uint32_t)(o->max_jobs_jitter + 1));
	w->window = opts->window != 0 ? opts->window : WINDOW_START;
	wlink_open(w, sv[0]);
	if (o->start_timeout_ns != 0)
		pool_timer_in(w, o->start_timeout_ns);
	log_debug("worker %d: started, pid %d", w->slot, (int)pid);
}

void
pool_notify(void)
{
	int	i, ready = 0;

	for (i = 0; i < opts->workers; i++)
		if (workers[i].state == W_READY)
			ready++;
	notify_pool(ready, pool_target_n);
}

void
pool_ready(struct worker *w)
{
	evtimer_del(w->ev_timer);	/* its start deadline */
	w->state = W_READY;
	w->greeted = 1;
	if (pool_is_twin(w)) {
		log_info("worker %d: replacement ready, pid %d", w->slot,
		    (int)w->pid);
		if (pool_canary != NULL) {
			pool_canary = NULL;
			reload_started(1, NULL);
		}
		return;
	}
	hello_failures = 0;
	log_info("worker %d: ready, pid %d", w->slot, (int)w->pid);
	pool_notify();
}

/* Resident memory of a process in KiB, from /proc; -1 if unknown. */
long
pool_rss_kib(pid_t pid)
{
	char	 path[64];
	FILE	*fp;
	long	 pages = -1, resident = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(fp);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
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
	id = __atomic_load_n(&w->board->job_id, __ATOMIC_ACQUIRE);
	if (id == 0)
		return JOB_NONE;
	for (idx = w->inflight.head; idx != JOB_NONE;
	    idx = ledger_job(idx)->next)
		if ((uint64_t)idx + 1 == id)
			return idx;
	return w->inflight.head;	/* a scribbled board: blame the oldest */
}

/* A process gets the signal; a thread, which cannot, is given up on. */
static void
signal_worker(struct worker *w, int sig)
{
	if (opts->isolation != ISOLATION_THREAD)
		kill(w->pid, sig);
	else if (w->tl != NULL)
		tlink_abandon(w);
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
	signal_worker(w, SIGKILL);
}

/* The per-job timeout: the board says how long the running job has run. */
static void
check_timeout(struct worker *w)
{
	struct slot_board	*b = w->board;
	uint64_t		 now = now_ns(), started, id;
	uint32_t		 idx;

	if (w->inflight.count == 0)
		return;
	id = __atomic_load_n(&b->job_id, __ATOMIC_ACQUIRE);
	started = b->started_ns;
	idx = find_culprit(w, END_TIMEOUT);
	if (idx == JOB_NONE || id != (uint64_t)idx + 1 || started == 0 ||
	    started > now) {
		pool_timer_in(w, opts->timeout_ns);	/* between two jobs */
		return;
	}
	if (now - started < opts->timeout_ns) {
		pool_timer_in(w, opts->timeout_ns - (now - started));
		return;
	}
	log_warnx("worker %d: line %llu ran past the %.3g s timeout; %s %d",
	    w->slot, (unsigned long long)ledger_job(idx)->line,
	    opts->timeout_ns / 1e9, opts->isolation == ISOLATION_THREAD ?
	    "its thread takes no more jobs: giving up on thread" :
	    "killing pid", (int)w->pid);
	w->state = W_STOPPING;
	w->end = END_TIMEOUT;
	w->culprit = idx;
	wlink_close(w);
	signal_worker(w, SIGTERM);
	pool_timer_in(w, opts->kill_grace_ns);
}

/*
 * Liveness, apart from the per-job timeout: a worker that holds jobs and
 * has sent nothing, not even a HEARTBEAT, for --heartbeat-timeout is
 * killed, and its jobs go to another.
 */
static void
check_silence(struct worker *w, uint64_t now)
{
	if ((w->state != W_READY && w->state != W_RETIRING) ||
	    w->inflight.count == 0 || now - w->heard_ns < opts->heartbeat_ns)
		return;
	log_warnx("worker %d: pid %d sent no heartbeat for %.3g s; killing it",
	    w->slot, (int)w->pid, (now - w->heard_ns) / 1e9);
	pool_fail_worker(w, END_SILENT, "no heartbeat");
}

static void
heartbeat_due(evutil_socket_t fd, short ev, void *arg)
{
	static uint64_t	last;
	uint64_t	now;
	int		i;

	(void)fd;
	(void)ev;
	(void)arg;
	loop_tick();
	now = loop_now_ns();
	/*
	 * Late by half the timeout: the supervisor itself was stopped or
	 * starved, and heard nothing either way.  Everyone gets a new start.
	 */
	if (last != 0 && now - last > opts->heartbeat_ns / 4 +
	    opts->heartbeat_ns / 2) {
		log_warnx("heartbeats: the supervisor did not run for %.3g s; "
		    "not counting that against the workers",
		    (now - last) / 1e9);
		for (i = 0; i < 2 * WORKERS_CAP; i++)
			workers[i].heard_ns = now;
	}
	last = now;
	for (i = 0; i < opts->workers; i++) {
		check_silence(&workers[i], now);
		check_silence(TWIN(i), now);
	}
	supervisor_wake();
}

/* The look for silent workers, four times per --heartbeat-timeout. */
void
pool_watch_heartbeats(void)
{
	static struct event	*ev;
	uint64_t		 every = opts->heartbeat_ns / 4;
	struct timeval		 tv;

	if (ev == NULL && (ev = event_new(base, -1, EV_PERSIST, heartbeat_due,
	    NULL)) == NULL)
		fatalx("event_new failed");
	evtimer_del(ev);
	if (opts->heartbeat_ns == 0)
		return;
	if (every < 1000000)
		every = 1000000;
	tv.tv_sec = every / 1000000000ULL;
	tv.tv_usec = every % 1000000000ULL / 1000;
	evtimer_add(ev, &tv);
}

void
pool_watch_timeout(struct worker *w)
{
	if (opts->timeout_ns == 0 || evtimer_pending(w->ev_timer, NULL))
		return;
	pool_timer_in(w, opts->timeout_ns);
}

/* What a worker that has not said HELLO is likely waiting for. */
static const char *
start_cause(const struct handler *h)
{
	switch (h->kind) {
	case HANDLER_BUILTIN:
	case HANDLER_PLUGIN:
		return "its init() has not returned";
	case HANDLER_EXEC:
		return "the program has sent no HELLO (does it speak the "
		    "framed protocol? see exec: in forkpool(1))";
	case HANDLER_LINES:
		break;
	}
	return "the worker has not said HELLO";
}

/*
 * --start-timeout: a worker that has not said HELLO in time will not.
 * The first workers of a run, or any restart of a slot, stop the run, as
 * a handler that fails to start does; a replacement is given up on.
 */
static void
start_expired(struct worker *w)
{
	const struct options	*o = opts;
	char			 why[512];

	if (pool_is_twin(w) && pool_canary != NULL &&
	    pool_rolling == w->slot)
		o = pool_canary;
	snprintf(why, sizeof why, "handler %s did not start within %.3g s "
	    "(--start-timeout): %s", o->handler_obj->spec,
	    o->start_timeout_ns / 1e9, start_cause(o->handler_obj));
	if (!pool_is_twin(w)) {
		log_warnx("worker %d: %s; stopping", w->slot, why);
		supervisor_abort(2);
	}
	log_warnx("worker %d: %s", w->slot, why);
	pool_fail_worker(w, END_START, why);
}

static void
worker_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)ev;
	loop_tick();
	switch (w->state) {
	case W_EMPTY:
		/* A twin's timer only paces the next try of a replacement. */
		if (pool_shutting_down)
			break;
		if (!pool_is_twin(w))
			pool_spawn(w, opts);
		else
			pool_recycle_due(&workers[w->slot]);
		break;
	case W_READY:
	case W_RETIRING:
		check_timeout(w);
		break;
	case W_STARTING:
		start_expired(w);
		break;
	case W_STOPPING:
		/* The grace after SIGTERM or EOF is over. */
		log_warnx("worker %d: pid %d did not exit; sending SIGKILL",
		    w->slot, (int)w->pid);
		signal_worker(w, SIGKILL);
		break;
	}
	supervisor_wake();
}

static void
describe_exit(struct worker *w, int status, char *out, size_t len)
{
	if (opts->isolation == ISOLATION_THREAD && WIFSIGNALED(status))
		snprintf(out, len, "thread %d given up on (a thread cannot be "
		    "killed: it is left to finish its job)", (int)w->pid);
	else if (opts->isolation == ISOLATION_THREAD)
		snprintf(out, len, "thread %d ended with status %d",
		    (int)w->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "pid %d killed by signal %d (%s)",
		    (int)w->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "pid %d exited with status %d",
		    (int)w->pid, WEXITSTATUS(status));
}

/*
 * Whether a worker's end is a crash loop's: it died before its HELLO, or
 * on its own before its first result.  One that returned results was
 * working.  One that said HELLO and then died of a SIGKILL or SIGTERM that
 * was not ours was killed from outside (the OOM killer, an operator),
 * however young: a killer that picks the workers that are up would
 * otherwise make a crash loop of the replacements of those it killed.
 */
static int
crash_looping(const struct worker *w, int status)
{
	int	sig;

	if (!w->greeted)
		return 1;
	/* Each job it was sent is in flight until its result comes. */
	if (w->jobs_sent > w->inflight.count)
		return 0;
	if (!WIFSIGNALED(status) || (w->end != END_NONE && w->end != END_CRASH))
		return 1;
	sig = WTERMSIG(status);
	return sig != SIGKILL && sig != SIGTERM;
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
	if (j->attempt < opts->attempts) {
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
	j->status = w->end == END_TIMEOUT || w->end == END_SILENT ?
	    STATUS_TIMEOUT : STATUS_CRASHED;
	intake->job_done(idx, NULL, 0);
}

void
worker_reaped(struct worker *w, int status)
{
	char	what[128];
	int	before_hello = !w->greeted, init_failed, looping;

	looping = crash_looping(w, status);
	describe_exit(w, status, what, sizeof what);
	init_failed = before_hello && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EX_HANDLER_INIT;
	if (init_failed)
		wlink_last_words(w);
	if (init_failed && !pool_is_twin(w)) {
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
		    w->end == END_PROTOCOL ? " after a protocol error" :
		    w->end == END_SILENT ? " after it went silent" :
		    w->end == END_START ? " after its start deadline" : "");
	else
		log_debug("worker %d: %s", w->slot, what);
	wlink_close(w);
	evtimer_del(w->ev_timer);
	charge_culprit(w);
	dispatch_requeue(w);
	w->state = W_EMPTY;
	w->pid = -1;
	if (pool_is_twin(w)) {
		pool_ntwins--;
		w->recycling = 0;
		if (w->end == END_START && !pool_shutting_down)
			pool_replacement_failed(w, "its handler took longer "
			    "than --start-timeout", 0);
		else if (before_hello && !pool_shutting_down)
			pool_replacement_failed(w, what, init_failed);
		else
			pool_recycle_due(&workers[w->slot]);
		return;
	}
	if (pool_shutting_down || pool_retiring(w))
		return;
	if (before_hello && ++hello_failures >= HELLO_FAILURES_MAX) {
		log_warnx("workers keep dying before they start (last: %s); "
		    "stopping", what);
		supervisor_abort(2);
	}
	w->restarts++;
	/*
	 * Only a crash loop is backed off and counts toward the restart
	 * intensity; any other end is replaced at once, degraded pool or not
	 * (a job that killed its worker has been charged for it).
	 */
	if (looping) {
		w->failed_starts++;
		count_restart();
	} else
		w->failed_starts = 0;
	pool_schedule_restart(w);
	pool_notify();
}

/*
 * A thread has left, or been given up on (status -1): its record, if it
 * still has one, is reaped as a process's would be.
 */
void
pool_thread_gone(struct tlink *tl, int status)
{
	struct worker	*w;
	int		 i;

	for (i = 0; i < 2 * WORKERS_CAP; i++) {
		w = &workers[i];
		if (w->tl != tl)
			continue;
		wlink_close(w);
		w->tl = NULL;
		worker_reaped(w, status == -1 ? SIGKILL : (status & 0xff) << 8);
		return;
	}
}

static struct worker *
worker_by_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < opts->workers; i++) {
		if (workers[i].pid == pid)
			return &workers[i];
		if (TWIN(i)->pid == pid)
			return TWIN(i);
	}
	return NULL;
}

static int
count_child(pid_t pid, void *arg)
{
	(void)pid;
	(*(int *)arg)++;
	return 0;
}

static int
kill_stray(pid_t pid, void *arg)
{
	(void)arg;
	if (worker_by_pid(pid) != NULL)
		return 0;
	log_debug("killing pid %d, left behind by a worker", (int)pid);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	return 0;
}

/*
 * The supervisor is a subreaper: what a worker's handler started and a
 * dead worker left behind is reparented here, and killed.  Its end comes
 * back through SIGCHLD, with whatever it left behind in turn.
 */
static void
kill_strays(void)
{
	int	children = 0, i, processes = 0;

	if (opts->isolation == ISOLATION_THREAD)
		return;
	for (i = 0; i < opts->workers; i++)
		processes += (workers[i].state != W_EMPTY) +
		    (TWIN(i)->state != W_EMPTY);
	if (subtree_children(count_child, &children) == -1 ||
	    children <= processes)
		return;
	subtree_children(kill_stray, NULL);
}

void
pool_sigchld(void)
{
	struct worker	*w;
	pid_t		 pid;
	int		 status, reaped = 0;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		reaped = 1;
		if ((w = worker_by_pid(pid)) != NULL)
			worker_reaped(w, status);
	}
	if (reaped)
		kill_strays();
}

/* Tells a worker to exit: EOF on its link, SIGKILL after the grace. */
void
pool_stop_worker(struct worker *w)
{
	if (w->state == W_EMPTY) {
		evtimer_del(w->ev_timer);
		return;
	}
	if (w->state != W_STOPPING) {
		w->state = W_STOPPING;
		w->end = END_SHUTDOWN;
		wlink_close(w);
	}
	pool_timer_in(w, opts->kill_grace_ns);
}

void
pool_shutdown(void)
{
	int	i;

	pool_shutting_down = 1;
	pool_rolling = -1;
	if (pool_canary != NULL) {
		pool_canary = NULL;
		reload_started(0, "the pool is stopping");
	}
	for (i = 0; i < opts->workers; i++) {
		pool_stop_worker(&workers[i]);
		pool_stop_worker(TWIN(i));
	}
}

/* Whether every slot's first process has said HELLO or died. */
int
pool_settled(void)
{
	int	i;

	for (i = 0; i < opts->workers; i++)
		if (workers[i].state == W_STARTING)
			return 0;
	return 1;
}

int
pool_alive(void)
{
	int	i, n = 0;

	for (i = 0; i < opts->workers; i++)
		if (workers[i].state != W_EMPTY)
			n++;
	return n + pool_ntwins;
}

/* At exit: no worker may outlive the supervisor. */
void
pool_kill_all(void)
{
	int	i;

	if (workers == NULL)
		return;
	if (opts->isolation == ISOLATION_THREAD) {
		/* They end with the process, which is about to exit. */
		for (i = 0; i < WORKERS_CAP + opts->workers; i++)
			if (workers[i].tl != NULL)
				tlink_abandon(&workers[i]);
		return;
	}
	for (i = 0; i < WORKERS_CAP + opts->workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0)
			kill(workers[i].pid, SIGKILL);
	for (i = 0; i < WORKERS_CAP + opts->workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0) {
			while (waitpid(workers[i].pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
			workers[i].state = W_EMPTY;
			workers[i].pid = -1;
		}
	/* And what they left behind, reparented here as they died. */
	subtree_kill();
}
