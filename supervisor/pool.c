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

#define TWIN(slot)		(&workers[WORKERS_CAP + (slot)])

struct worker		*workers;
static struct slot_board *boards;
static unsigned		 generation;	/* of the configuration workers get */
static int		 rolling = -1;	/* slot whose replacement starts */
static const struct options *canary_opts; /* a reload's, until it starts */
static int		 rolling_all;	/* a roll-over is under way */
static unsigned		 ntwins;	/* twins with a process */
static unsigned		 hello_failures;
static int		 shutting_down;
static uint64_t		*restart_times;	/* ring of the last restart_max */
static unsigned		 restart_next;
static int		 degraded;
static int		 target;	/* slots wanted; opts.workers: in use */

static void	worker_timer(evutil_socket_t, short, void *);
static void	spawn(struct worker *, const struct options *);
static void	watch_heartbeats(void);

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The clock read once per callback that takes many frames, for the
 * latency of each of them: the time of the wake-up is precise enough.
 */
static uint64_t	turn_ns;

void
loop_tick(void)
{
	turn_ns = now_ns();
}

uint64_t
loop_now_ns(void)
{
	return turn_ns;
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

static int
is_twin(const struct worker *w)
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
	target = opts.workers;
	restart_times = xcalloc(opts.restart_max, sizeof *restart_times);
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

void
pool_start(void)
{
	int	i;

	watch_heartbeats();
	for (i = 0; i < opts.workers; i++)
		spawn(&workers[i], &opts);
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

/* Starts a process in w, configured by o (a reload's first one: not opts). */
static void
spawn(struct worker *w, const struct options *o)
{
	int	sv[2];
	pid_t	pid, self = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", w->slot);
		w->failed_starts++;
		schedule_restart(w);
		return;
	}
	memset(w->board, 0, sizeof *w->board);
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
		if (o != &opts)
			opts = *o;
		worker_main(sv[1], w->slot, self, w->board);
	}
	close(sv[1]);
	if (is_twin(w))
		ntwins++;
	w->pid = pid;
	w->gen = generation;
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
	if (is_twin(w)) {
		log_info("worker %d: replacement ready, pid %d", w->slot,
		    (int)w->pid);
		if (canary_opts != NULL) {
			canary_opts = NULL;
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
 * Recycling: a worker that has run its --max-jobs, or grown past
 * --max-rss, gets a replacement started in its twin; the replacement
 * takes over once it is up, so capacity never dips.
 */
static void
recycle(struct worker *w, const char *why)
{
	struct worker	*t = TWIN(w->slot);

	if (shutting_down || t->state != W_EMPTY ||
	    evtimer_pending(t->ev_timer, NULL))
		return;
	log_info("worker %d: pid %d %s: starting its replacement", w->slot,
	    (int)w->pid, why);
	t->recycling = 1;
	spawn(t, &opts);
}

/*
 * The replacement of a worker near the end of its --max-jobs starts while
 * the last window of its allowance runs.  Looked at after results, and
 * when a twin frees up for the slot.
 */
static int
recycle_due(struct worker *w)
{
	char	why[64];

	if (w->recycle_at == 0 || w->state != W_READY ||
	    w->jobs_sent + w->window < w->recycle_at)
		return 0;
	snprintf(why, sizeof why, "takes its last %llu jobs",
	    (unsigned long long)(w->recycle_at - w->jobs_sent +
	    w->inflight.count));
	recycle(w, why);
	return 1;
}

/* k results have come from w. */
void
pool_result(struct worker *w, unsigned k)
{
	uint64_t	now;
	long		rss;
	char		why[64];

	(void)k;
	w->failed_starts = 0;
	if (is_twin(w) || w->state != W_READY || recycle_due(w))
		return;
	/* /proc is read at most ten times a second per worker. */
	if (opts.max_rss_kib == 0)
		return;
	now = loop_now_ns();
	if (now - w->rss_checked_ns < 100000000ULL)
		return;
	w->rss_checked_ns = now;
	if ((rss = pool_rss_kib(w->pid)) > opts.max_rss_kib) {
		snprintf(why, sizeof why, "holds %ld KiB", rss);
		recycle(w, why);
	}
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

/*
 * Liveness, apart from the per-job timeout: a worker that holds jobs and
 * has sent nothing, not even a HEARTBEAT, for --heartbeat-timeout is
 * killed, and its jobs go to another.
 */
static void
check_silence(struct worker *w, uint64_t now)
{
	if ((w->state != W_READY && w->state != W_RETIRING) ||
	    w->inflight.count == 0 || now - w->heard_ns < opts.heartbeat_ns)
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
	if (last != 0 && now - last > opts.heartbeat_ns / 4 +
	    opts.heartbeat_ns / 2) {
		log_warnx("heartbeats: the supervisor did not run for %.3g s; "
		    "not counting that against the workers", (now - last) / 1e9);
		for (i = 0; i < 2 * WORKERS_CAP; i++)
			workers[i].heard_ns = now;
	}
	last = now;
	for (i = 0; i < opts.workers; i++) {
		check_silence(&workers[i], now);
		check_silence(TWIN(i), now);
	}
	supervisor_settle();
}

/* The look for silent workers, four times per --heartbeat-timeout. */
static void
watch_heartbeats(void)
{
	static struct event	*ev;
	uint64_t		 every = opts.heartbeat_ns / 4;
	struct timeval		 tv;

	if (ev == NULL && (ev = event_new(base, -1, EV_PERSIST, heartbeat_due,
	    NULL)) == NULL)
		fatalx("event_new failed");
	evtimer_del(ev);
	if (opts.heartbeat_ns == 0)
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
	loop_tick();
	switch (w->state) {
	case W_EMPTY:
		/* A twin's timer only paces the next try of a replacement. */
		if (shutting_down)
			break;
		if (!is_twin(w))
			spawn(w, &opts);
		else
			recycle_due(&workers[w->slot]);
		break;
	case W_READY:
	case W_RETIRING:
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
	j->status = w->end == END_TIMEOUT || w->end == END_SILENT ?
	    STATUS_TIMEOUT : STATUS_CRASHED;
	intake->job_done(idx, NULL, 0);
}

/*
 * A replacement died before it took over.  The first one of a reload
 * decides whether the reload stands; a later one is tried again after a
 * backoff, the old process going on meanwhile.
 */
static void
replacement_failed(struct worker *t, const char *what, int init_failed)
{
	char	why[192];

	if (rolling == t->slot)
		rolling = -1;
	if (canary_opts != NULL) {
		canary_opts = NULL;
		snprintf(why, sizeof why, "the first worker of the new "
		    "configuration did not start: %s", init_failed ?
		    "its handler failed to start" : what);
		reload_started(0, why);
		return;
	}
	t->failed_starts++;
	schedule_restart(t);
}

static void
worker_reaped(struct worker *w, int status)
{
	char	what[128];
	int	before_hello = !w->greeted, init_failed;

	describe_exit(w, status, what, sizeof what);
	init_failed = before_hello && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EX_HANDLER_INIT;
	if (init_failed && !is_twin(w)) {
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
		    w->end == END_SILENT ? " after it went silent" : "");
	else
		log_debug("worker %d: %s", w->slot, what);
	wlink_close(w);
	evtimer_del(w->ev_timer);
	charge_culprit(w);
	dispatch_requeue(w);
	w->state = W_EMPTY;
	w->pid = -1;
	if (is_twin(w)) {
		ntwins--;
		w->recycling = 0;
		if (before_hello && !shutting_down)
			replacement_failed(w, what, init_failed);
		else
			recycle_due(&workers[w->slot]);
		return;
	}
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
		for (i = 0; i < opts.workers; i++) {
			if (workers[i].pid == pid) {
				worker_reaped(&workers[i], status);
				break;
			}
			if (TWIN(i)->pid == pid) {
				worker_reaped(TWIN(i), status);
				break;
			}
		}
	}
}

/* Tells a worker to exit: EOF on its link, SIGKILL after the grace. */
static void
stop_worker(struct worker *w)
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
	timer_in(w, opts.kill_grace_ns);
}

void
pool_shutdown(void)
{
	int	i;

	shutting_down = 1;
	rolling = -1;
	if (canary_opts != NULL) {
		canary_opts = NULL;
		reload_started(0, "the pool is stopping");
	}
	for (i = 0; i < opts.workers; i++) {
		stop_worker(&workers[i]);
		stop_worker(TWIN(i));
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
	log_info("scaling from %d to %d workers", target, n);
	target = n;
	for (i = opts.workers; i < n; i++)
		workers[i].failed_starts = 0;
	if (n > opts.workers)
		opts.workers = n;
	for (i = 0; i < n; i++)
		if (workers[i].state == W_EMPTY &&
		    !evtimer_pending(workers[i].ev_timer, NULL))
			spawn(&workers[i], &opts);
	dispatch_rebalance(target);
}

int
pool_target(void)
{
	return target;
}

/* Whether the pool may be scaled to n workers; if not, why in err. */
int
pool_scale_allowed(int n, char *err, size_t len)
{
	if (shutting_down) {
		snprintf(err, len, "the pool is stopping");
		return 0;
	}
	if (opts.workers_max != 0 && (n < opts.workers_min ||
	    n > opts.workers_max)) {
		snprintf(err, len, "the pool sizes itself between %d and %d "
		    "workers", opts.workers_min, opts.workers_max);
		return 0;
	}
	if (n < 1 || n > WORKERS_CAP) {
		snprintf(err, len, "%d workers: expected 1 to %d", n,
		    WORKERS_CAP);
		return 0;
	}
	return 1;
}

/* Slots in use with jobs in flight. */
int
pool_busy(void)
{
	int	i, n = 0;

	for (i = 0; i < target && i < opts.workers; i++)
		if (workers[i].inflight.count > 0)
			n++;
	return n;
}

/* Slot i's other process, starting to replace it or replaced; or NULL. */
struct worker *
pool_twin(int i)
{
	return TWIN(i)->state == W_EMPTY ? NULL : TWIN(i);
}

int
pool_stopping(void)
{
	return shutting_down;
}

/*
 * After a reload: settings the pool keeps state for, and the number of
 * workers the file asks for (within MIN and MAX if the pool sizes itself).
 */
void
pool_reconfigure(const struct options *old, int want)
{
	uint64_t	*times;
	int		 i;

	if (opts.restart_max != old->restart_max) {
		if ((times = calloc(opts.restart_max, sizeof *times)) == NULL) {
			log_warn("reload: restart intensity");
			opts.restart_max = old->restart_max;
		} else {
			free(restart_times);
			restart_times = times;
			restart_next = 0;
		}
	}
	if (opts.heartbeat_ns != old->heartbeat_ns)
		watch_heartbeats();
	if (opts.window != old->window)
		for (i = 0; i < 2 * WORKERS_CAP; i++)
			workers[i].window = opts.window != 0 ? opts.window :
			    WINDOW_START;
	if (opts.workers_max != 0) {
		want = target;
		if (want < opts.workers_min)
			want = opts.workers_min;
		if (want > opts.workers_max)
			want = opts.workers_max;
	}
	if (want != target)
		pool_scale(want);
	autoscale_update();
}

/*
 * A replacement has said HELLO: it takes the slot, and the process it
 * replaces finishes its jobs in the twin, taking no more.
 */
static void
take_over(struct worker *w, struct worker *t)
{
	pid_t	old = w->pid;

	switch (w->state) {
	case W_STOPPING:
		return;		/* the old one is dying anyway: reap it first */
	case W_STARTING:
		/* It was restarted meanwhile: the replacement is not needed. */
		stop_worker(t);
		t->recycling = 0;
		if (rolling == w->slot)
			rolling = -1;
		return;
	case W_EMPTY:
		evtimer_del(w->ev_timer);	/* no restart: here is one */
		break;
	case W_READY:
	case W_RETIRING:
		break;
	}
	wlink_flush_all();
	wlink_swap(w, t);
	t->failed_starts = 0;
	if (rolling == w->slot)
		rolling = -1;
	if (t->recycling) {
		t->recycling = 0;
		w->recycles++;
	}
	log_info("worker %d: pid %d takes over from pid %d", w->slot,
	    (int)w->pid, (int)old);
	if (t->state == W_READY || t->state == W_RETIRING) {
		t->state = W_RETIRING;
		if (t->inflight.count > 0)
			pool_watch_timeout(t);
	}
	pool_notify();
}

/*
 * A roll-over, one slot at a time: a slot still running a process of an
 * older configuration gets a replacement started in its twin, which takes
 * over once it is up.  Capacity never dips, and no job is lost: the old
 * process finishes what it holds.
 */
static void
roll_settle(void)
{
	struct worker	*w, *t;
	int		 i;

	if (rolling != -1)
		return;		/* one replacement starting at a time */
	for (i = 0; i < target; i++) {
		w = &workers[i];
		t = TWIN(i);
		if (w->state != W_READY || t->state != W_EMPTY ||
		    evtimer_pending(t->ev_timer, NULL))
			continue;
		if (canary_opts != NULL || w->gen != generation) {
			rolling = i;
			spawn(t, canary_opts != NULL ? canary_opts : &opts);
			return;
		}
	}
}

static int
rolled_over(void)
{
	int	i;

	if (rolling != -1 || canary_opts != NULL)
		return 0;
	for (i = 0; i < target; i++)
		if (workers[i].state != W_EMPTY && workers[i].gen != generation)
			return 0;
	return 1;
}

/* Replacements that are up take over; old processes done with their
 * jobs leave. */
static void
settle_twins(void)
{
	struct worker	*t;
	int		 i;

	for (i = 0; i < opts.workers; i++) {
		t = TWIN(i);
		if (t->state == W_READY)
			take_over(&workers[i], t);
		if (t->state == W_RETIRING && t->inflight.count == 0)
			stop_worker(t);
	}
}

/*
 * A reload needs new workers: o is the new configuration, which a first
 * replacement tries out before anything else changes.  reload_started()
 * hears whether it came up.
 */
void
pool_roll(const struct options *o)
{
	canary_opts = o;
}

/* The first replacement is up and opts is the new configuration. */
void
pool_roll_commit(void)
{
	generation++;
	rolling_all = 1;
	if (rolling != -1)
		TWIN(rolling)->gen = generation;
	log_info("rolling the workers over to the new configuration");
}

/* Whether slot w's old process still has jobs: keyed ones must wait. */
int
pool_predecessor_busy(const struct worker *w)
{
	const struct worker	*t;

	if (ntwins == 0)
		return 0;
	t = TWIN(w->slot);
	return t->state != W_EMPTY && t->inflight.count > 0;
}

/*
 * Each turn while scaling or rolling over: finish moves, retire slots and
 * old processes that hold nothing, start the next replacement.
 */
void
pool_scale_settle(void)
{
	struct worker	*w;
	int		 i;

	if (target == opts.workers && !dispatch_moving() && ntwins == 0 &&
	    !rolling_all && canary_opts == NULL)
		return;
	if (ntwins > 0)
		settle_twins();
	if ((rolling_all || canary_opts != NULL) && !shutting_down) {
		roll_settle();
		if (rolling_all && rolled_over()) {
			rolling_all = 0;
			log_info("every worker runs the new configuration");
		}
	}
	dispatch_rebalance(target);
	for (i = target; i < opts.workers; i++) {
		w = &workers[i];
		if ((w->state == W_READY || w->state == W_STARTING) &&
		    w->inflight.count == 0 && w->keyed.count == 0 &&
		    !dispatch_owns_any(i))
			stop_worker(w);
		else if (w->state == W_EMPTY)
			evtimer_del(w->ev_timer);
	}
	while (opts.workers > target &&
	    workers[opts.workers - 1].state == W_EMPTY &&
	    TWIN(opts.workers - 1)->state == W_EMPTY)
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
	return n + ntwins;
}

/* At exit: no worker may outlive the supervisor. */
void
pool_kill_all(void)
{
	int	i;

	if (workers == NULL)
		return;
	for (i = 0; i < WORKERS_CAP + opts.workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0)
			kill(workers[i].pid, SIGKILL);
	for (i = 0; i < WORKERS_CAP + opts.workers; i++)
		if (workers[i].state != W_EMPTY && workers[i].pid > 0) {
			while (waitpid(workers[i].pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
			workers[i].state = W_EMPTY;
			workers[i].pid = -1;
		}
}
