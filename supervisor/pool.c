/*
 * Worker processes: spawning, reaping, restarting with backoff, and the
 * ways a job can kill its worker (a crash, a timeout, silence).  A slot
 * keeps its number, its partitions and its counters across restarts; the
 * process in it changes.  Every lost process comes through proc_reaped(),
 * the one place its jobs are put back.  Replacing a process new before
 * old is replace.c's, the number of slots scale.c's; both ask here for
 * what the pool holds.
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

struct pool {
	struct slot	*slots;		/* WORKERS_CAP; events point in */
	int		 target;	/* slots wanted */
	int		 size;		/* slots in use, draining ones too */
	int		 others;	/* replacements and replaced, alive */
	int		 shutting_down;
	unsigned	 generation;	/* of the configuration workers get */
	struct slot_board *boards;	/* shared with the workers */
	unsigned	 hello_failures;
	uint64_t	*restart_times;	/* ring of the last restart_max */
	unsigned	 restart_max;	/* the ring's length */
	unsigned	 restart_next;
	int		 degraded;
};

static struct pool	 pool;

static void	respawn_due(evutil_socket_t, short, void *);
static void	retry_due(evutil_socket_t, short, void *);
static void	proc_timer(evutil_socket_t, short, void *);

/* A slot's processes: 0 its own, 1 its replacement, 2 the one replaced. */
static struct proc *
slot_proc(const struct slot *s, int i)
{
	return i == 0 ? s->proc : i == 1 ? s->next : s->prev;
}

#define SLOT_PROCS	3

void
pool_init(void)
{
	struct slot	*s;
	int		 i;

	pool.slots = xcalloc(WORKERS_CAP, sizeof *pool.slots);
	if (opts->isolation == ISOLATION_THREAD)
		tlink_init();
	pool.target = pool.size = opts->workers;
	pool.restart_max = opts->restart_max;
	pool.restart_times = xcalloc(pool.restart_max,
	    sizeof *pool.restart_times);
	/*
	 * Shared with the workers: each writes which job it is running.  A
	 * slot has two, for its process and a replacement or the replaced.
	 */
	pool.boards = mmap(NULL, 2 * WORKERS_CAP * sizeof *pool.boards,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pool.boards == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < WORKERS_CAP; i++) {
		s = &pool.slots[i];
		s->index = i;
		s->boards = &pool.boards[2 * i];
		jobq_init(&s->keyed);
		s->ev_respawn = evtimer_new(base, respawn_due, s);
		s->ev_retry = evtimer_new(base, retry_due, s);
		if (s->ev_respawn == NULL || s->ev_retry == NULL)
			fatalx("evtimer_new failed");
	}
}

struct slot *
pool_slot(int i)
{
	return &pool.slots[i];
}

/* Slots in use: past the target while the last ones drain. */
int
pool_size(void)
{
	return pool.size;
}

int
pool_target(void)
{
	return pool.target;
}

/* A slot past the target takes no shared jobs and is let go. */
int
pool_retiring(const struct slot *s)
{
	return s->index >= pool.target;
}

int
pool_stopping(void)
{
	return pool.shutting_down;
}

int
pool_others(void)
{
	return pool.others;
}

unsigned
pool_generation(void)
{
	return pool.generation;
}

unsigned
pool_new_generation(void)
{
	return ++pool.generation;
}

/* The windows of the processes that take jobs now or soon. */
uint32_t
pool_windows(void)
{
	struct proc	*p;
	uint32_t	 n = 0;
	int		 i;

	for (i = 0; i < pool.size; i++) {
		p = pool.slots[i].proc;
		if (p != NULL && (p->state == P_READY ||
		    p->state == P_STARTING))
			n += p->window;
	}
	return n;
}

/* A new restart_max: the ring of restart times starts again. */
static int
restart_intensity(void)
{
	uint64_t	*times;

	if ((times = calloc(opts->restart_max, sizeof *times)) == NULL)
		return -1;
	free(pool.restart_times);
	pool.restart_times = times;
	pool.restart_max = opts->restart_max;
	pool.restart_next = 0;
	return 0;
}

void
pool_start(void)
{
	int	i;

	pool_watch_heartbeats();
	for (i = 0; i < pool.size; i++)
		pool_spawn(&pool.slots[i], 0, opts);
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
	uint64_t	oldest = pool.restart_times[pool.restart_next];

	if (pool.degraded && (oldest == 0 ||
	    now - oldest >= 2 * opts->restart_period_ns)) {
		log_warnx("restarts have calmed down: the pool is no longer "
		    "degraded");
		pool.degraded = 0;
	}
}

int
pool_degraded(void)
{
	calm_down(now_ns());
	return pool.degraded;
}

static void
count_restart(void)
{
	uint64_t	now = now_ns(), oldest;

	oldest = pool.restart_times[pool.restart_next];
	pool.restart_times[pool.restart_next] = now;
	pool.restart_next = (pool.restart_next + 1) % pool.restart_max;
	if (oldest != 0 && now - oldest < opts->restart_period_ns) {
		if (!pool.degraded)
			log_warnx("more than %u workers failed before a "
			    "first result within %.3g s: the pool is "
			    "degraded; a slot that keeps failing waits %.3g s",
			    pool.restart_max, opts->restart_period_ns / 1e9,
			    BACKOFF_CAP_NS / 1e9);
		pool.degraded = 1;
	} else
		calm_down(now);
}

/*
 * failed_starts is how many of the slot's processes in a row ended in a
 * crash loop's way (crash_looping()).  None: its replacement starts at
 * once.  Otherwise the delay doubles each time; in a degraded pool a slot
 * that keeps failing waits the longest at once.  Two such ends in a row
 * are not yet that: a poison job's later attempts kill fresh workers too,
 * and it fails after its attempts anyway.  A replacement that failed is
 * tried again the same way, on a count and a timer of its own.
 */
void
pool_schedule_restart(struct slot *s, int next)
{
	struct event	*ev = next ? s->ev_retry : s->ev_respawn;
	unsigned	 failed = next ? s->failed_replacements :
			    s->failed_starts;
	uint64_t	 delay;
	unsigned	 shift;

	if (failed == 0) {
		log_info("worker %d: restarting at once", s->index);
		timer_add_ns(ev, 0);
		return;
	}
	shift = failed - 1;
	delay = shift >= 20 ? BACKOFF_CAP_NS : BACKOFF_BASE_NS << shift;
	if (delay > BACKOFF_CAP_NS || (pool.degraded &&
	    failed >= CRASH_LOOP))
		delay = BACKOFF_CAP_NS;
	/* Jitter of +-25% keeps slots that died together from restarting
	 * in lockstep. */
	delay = delay * 3 / 4 + arc4random_uniform((uint32_t)(delay / 2000000
	    + 1)) * 1000000ULL;
	log_info("worker %d: restarting in %llu ms", s->index,
	    (unsigned long long)(delay / 1000000));
	timer_add_ns(ev, delay);
}

/* A start that failed before there was a process. */
static struct proc *
spawn_failed(struct slot *s, int next)
{
	if (next)
		s->failed_replacements++;
	else
		s->failed_starts++;
	pool_schedule_restart(s, next);
	return NULL;
}

static void
proc_free(struct proc *p)
{
	event_free(p->ev_timer);
	free(p);
}

/* A new process's board: the one of the two its slot's other one lacks. */
static struct slot_board *
free_board(struct slot *s)
{
	struct proc	*q;
	int		 i;

	for (i = 0; i < SLOT_PROCS; i++)
		if ((q = slot_proc(s, i)) != NULL)
			return q->board == &s->boards[0] ? &s->boards[1] :
			    &s->boards[0];
	return &s->boards[0];
}

/*
 * Starts a process in slot s, configured by o (a reload's first one: not
 * opts): its own one, or (next) a replacement for it.  NULL when it could
 * not, with another try scheduled.
 */
struct proc *
pool_spawn(struct slot *s, int next, const struct options *o)
{
	struct worker_conf	 wc;
	struct proc		*p;
	int			 sv[2];
	pid_t			 pid, self = getpid();

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->ev_timer = evtimer_new(base, proc_timer, p)) == NULL) {
		log_warn("worker %d: a process record", s->index);
		free(p);
		return spawn_failed(s, next);
	}
	p->slot = s;
	p->fd = -1;
	p->board = free_board(s);
	jobq_init(&p->inflight);
	memset(p->board, 0, sizeof *p->board);
	if (o->isolation == ISOLATION_THREAD) {
		if ((sv[0] = tlink_start(p, o)) == -1) {
			log_warn("worker %d: a thread", s->index);
			proc_free(p);
			return spawn_failed(s, next);
		}
		pid = 0;	/* the thread says its id in its HELLO */
		goto started;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", s->index);
		proc_free(p);
		return spawn_failed(s, next);
	}
	switch (pid = fork()) {
	case -1:
		log_warn("worker %d: fork", s->index);
		close(sv[0]);
		close(sv[1]);
		proc_free(p);
		return spawn_failed(s, next);
	case 0:
		close(sv[0]);
		wconf_fill(&wc, o, s->index, p->board, self);
		proc_free(p);	/* the parent's record; the child has wc */
		worker_main(&wc, sv[1]);
	}
	close(sv[1]);
started:
	if (next) {
		s->next = p;
		pool.others++;
	} else
		s->proc = p;
	p->pid = pid;
	p->gen = pool.generation;
	p->state = P_STARTING;
	p->end = END_NONE;
	p->culprit = JOB_NONE;
	p->recycle_at = o->max_jobs == 0 ? 0 : o->max_jobs +
	    arc4random_uniform((uint32_t)(o->max_jobs_jitter + 1));
	p->window = opts->window != 0 ? opts->window : WINDOW_START;
	wlink_open(p, sv[0]);
	if (o->start_timeout_ns != 0)
		timer_add_ns(p->ev_timer, o->start_timeout_ns);
	log_debug("worker %d: started, pid %d", s->index, (int)pid);
	return p;
}

/* Takes a reaped process out of its slot. */
static void
proc_unlink(struct proc *p)
{
	struct slot	*s = p->slot;

	if (s->proc == p) {
		s->proc = NULL;
		return;
	}
	if (s->next == p)
		s->next = NULL;
	else
		s->prev = NULL;
	pool.others--;
}

void
pool_notify(void)
{
	int	i, ready = 0;

	for (i = 0; i < pool.size; i++)
		if (pool.slots[i].proc != NULL &&
		    pool.slots[i].proc->state == P_READY)
			ready++;
	notify_pool(ready, pool.target);
}

void
pool_ready(struct proc *p)
{
	evtimer_del(p->ev_timer);	/* its start deadline */
	p->state = P_READY;
	p->greeted = 1;
	if (p != p->slot->proc) {
		replace_ready(p);
		return;
	}
	pool.hello_failures = 0;
	log_info("worker %d: ready, pid %d", p->slot->index, (int)p->pid);
	pool_notify();
}

/* k results have come from p. */
void
pool_result(struct proc *p, unsigned k)
{
	(void)k;
	if (p != p->slot->proc) {
		p->slot->failed_replacements = 0;
		return;
	}
	p->slot->failed_starts = 0;
	if (p->state == P_READY)
		replace_result(p);
}

/* A worker is done with job idx: it goes to the intake. */
void
pool_job_done(uint32_t idx, unsigned status, const char *result,
    size_t len)
{
	struct job	*j = ledger_job(idx);

	dispatch_left_worker(j);
	j->state = JOB_DONE;
	j->worker = -1;
	j->status = status;
	intake->job_done(idx, result, len);
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
find_culprit(struct proc *p, enum worker_end end)
{
	uint64_t	id;
	uint32_t	idx;

	if (end == END_PROTOCOL)
		return p->inflight.head;
	id = __atomic_load_n(&p->board->job_id, __ATOMIC_ACQUIRE);
	if (id == 0)
		return JOB_NONE;
	for (idx = p->inflight.head; idx != JOB_NONE;
	    idx = ledger_job(idx)->next)
		if (ledger_job(idx)->line == id)
			return idx;
	return p->inflight.head;	/* a scribbled board: blame the oldest */
}

/* A process gets the signal; a thread, which cannot, is given up on. */
static void
signal_worker(struct proc *p, int sig)
{
	if (opts->isolation != ISOLATION_THREAD)
		kill(p->pid, sig);
	else if (p->tl != NULL)
		tlink_abandon(p);
}

/* Stops using a worker; its jobs are put back when it has been reaped. */
void
pool_fail_worker(struct proc *p, enum worker_end end, const char *why)
{
	if (p->state == P_STOPPING)
		return;
	log_debug("worker %d: dropping: %s", p->slot->index, why);
	p->state = P_STOPPING;
	p->end = end;
	if (end != END_SHUTDOWN)
		p->culprit = find_culprit(p, end);
	wlink_close(p);
	signal_worker(p, SIGKILL);
}

/* The per-job timeout: the board says how long the running job has run. */
static void
check_timeout(struct proc *p)
{
	struct slot_board	*b = p->board;
	uint64_t		 now = now_ns(), started, id;
	uint32_t		 idx;

	if (p->inflight.count == 0)
		return;
	id = __atomic_load_n(&b->job_id, __ATOMIC_ACQUIRE);
	started = b->started_ns;
	idx = find_culprit(p, END_TIMEOUT);
	if (idx == JOB_NONE || id != ledger_job(idx)->line || started == 0 ||
	    started > now) {
		timer_add_ns(p->ev_timer, opts->timeout_ns); /* between jobs */
		return;
	}
	if (now - started < opts->timeout_ns) {
		timer_add_ns(p->ev_timer, opts->timeout_ns - (now - started));
		return;
	}
	log_warnx("worker %d: line %llu ran past the %.3g s timeout; %s %d",
	    p->slot->index, (unsigned long long)ledger_job(idx)->line,
	    opts->timeout_ns / 1e9, opts->isolation == ISOLATION_THREAD ?
	    "its thread takes no more jobs: giving up on thread" :
	    "killing pid", (int)p->pid);
	p->state = P_STOPPING;
	p->end = END_TIMEOUT;
	p->culprit = idx;
	wlink_close(p);
	signal_worker(p, SIGTERM);
	timer_add_ns(p->ev_timer, opts->kill_grace_ns);
}

/*
 * Liveness, apart from the per-job timeout: a worker that holds jobs and
 * has sent nothing, not even a HEARTBEAT, for --heartbeat-timeout is
 * killed, and its jobs go to another.
 */
static void
check_silence(struct proc *p, uint64_t now)
{
	if ((p->state != P_READY && p->state != P_RETIRING) ||
	    p->inflight.count == 0 || now - p->heard_ns < opts->heartbeat_ns)
		return;
	log_warnx("worker %d: pid %d sent no heartbeat for %.3g s; killing it",
	    p->slot->index, (int)p->pid, (now - p->heard_ns) / 1e9);
	pool_fail_worker(p, END_SILENT, "no heartbeat");
}

static void
heartbeat_due(evutil_socket_t fd, short ev, void *arg)
{
	static uint64_t	 last;
	struct proc	*p;
	uint64_t	 now;
	int		 i, k, late;

	(void)fd;
	(void)ev;
	(void)arg;
	loop_tick();
	now = loop_now_ns();
	/*
	 * Late by half the timeout: the supervisor itself was stopped or
	 * starved, and heard nothing either way.  Everyone gets a new start.
	 */
	late = last != 0 && now - last > opts->heartbeat_ns / 4 +
	    opts->heartbeat_ns / 2;
	if (late)
		log_warnx("heartbeats: the supervisor did not run for %.3g s; "
		    "not counting that against the workers",
		    (now - last) / 1e9);
	last = now;
	for (i = 0; i < pool.size; i++)
		for (k = 0; k < SLOT_PROCS; k++)
			if ((p = slot_proc(&pool.slots[i], k)) != NULL) {
				if (late)
					p->heard_ns = now;
				check_silence(p, now);
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
pool_watch_timeout(struct proc *p)
{
	if (opts->timeout_ns == 0 || evtimer_pending(p->ev_timer, NULL))
		return;
	timer_add_ns(p->ev_timer, opts->timeout_ns);
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
	case HANDLER_CMD:
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
start_expired(struct proc *p)
{
	const struct options	*o = opts;
	int			 replacement = p != p->slot->proc;
	char			 why[512];

	if (replacement)
		o = replace_options(p->slot);
	snprintf(why, sizeof why, "handler %s did not start within %.3g s "
	    "(--start-timeout): %s", o->handler_obj->spec,
	    o->start_timeout_ns / 1e9, start_cause(o->handler_obj));
	if (!replacement) {
		log_warnx("worker %d: %s; stopping", p->slot->index, why);
		supervisor_abort(2);
	}
	log_warnx("worker %d: %s", p->slot->index, why);
	pool_fail_worker(p, END_START, why);
}

/* A slot's next start is due. */
static void
respawn_due(evutil_socket_t fd, short ev, void *arg)
{
	struct slot	*s = arg;

	(void)fd;
	(void)ev;
	loop_tick();
	if (!pool.shutting_down && s->proc == NULL)
		pool_spawn(s, 0, opts);
	supervisor_wake();
}

/* The backoff after a failed replacement is over: it may be tried again. */
static void
retry_due(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	loop_tick();
	if (!pool.shutting_down)
		replace_recycle_due(arg);
	supervisor_wake();
}

static void
proc_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)ev;
	loop_tick();
	switch (p->state) {
	case P_READY:
	case P_RETIRING:
		check_timeout(p);
		break;
	case P_STARTING:
		start_expired(p);
		break;
	case P_STOPPING:
		/* The grace after SIGTERM or EOF is over. */
		log_warnx("worker %d: pid %d did not exit; sending SIGKILL",
		    p->slot->index, (int)p->pid);
		signal_worker(p, SIGKILL);
		break;
	}
	supervisor_wake();
}

static void
describe_exit(struct proc *p, int status, char *out, size_t len)
{
	if (opts->isolation == ISOLATION_THREAD && WIFSIGNALED(status))
		snprintf(out, len, "thread %d given up on (a thread cannot be "
		    "killed: it is left to finish its job)", (int)p->pid);
	else if (opts->isolation == ISOLATION_THREAD)
		snprintf(out, len, "thread %d ended with status %d",
		    (int)p->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "pid %d killed by signal %d (%s)",
		    (int)p->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "pid %d exited with status %d",
		    (int)p->pid, WEXITSTATUS(status));
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
crash_looping(const struct proc *p, int status)
{
	int	sig;

	if (!p->greeted)
		return 1;
	/* Each job it was sent is in flight until its result comes. */
	if (p->jobs_sent > p->inflight.count)
		return 0;
	if (!WIFSIGNALED(status) || (p->end != END_NONE && p->end != END_CRASH))
		return 1;
	sig = WTERMSIG(status);
	return sig != SIGKILL && sig != SIGTERM;
}

/*
 * Charges the culprit an attempt; fails it when it has none left, with
 * the signal that killed its worker, if one did.
 */
static void
charge_culprit(struct proc *p, int status)
{
	struct job	*j;
	uint32_t	 idx = p->culprit, prev;

	if (idx == JOB_NONE)
		return;
	j = ledger_job(idx);
	if (j->attempt < opts->attempts) {
		j->attempt++;
		return;
	}
	/* Unlink it from the in-flight list and report it. */
	if (p->inflight.head == idx)
		jobq_pop(&p->inflight);
	else {
		for (prev = p->inflight.head; ledger_job(prev)->next != idx;
		    prev = ledger_job(prev)->next)
			;
		ledger_job(prev)->next = j->next;
		if (p->inflight.tail == idx)
			p->inflight.tail = prev;
		p->inflight.count--;
	}
	j->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	pool_job_done(idx, p->end == END_TIMEOUT || p->end == END_SILENT ?
	    STATUS_TIMEOUT : STATUS_CRASHED, NULL, 0);
}

/*
 * A process has ended: its jobs go back, it leaves its slot, and the slot
 * gets another, or the replacement it was is tried again later.
 */
static void
proc_reaped(struct proc *p, int status)
{
	struct slot	*s = p->slot;
	char		 what[128];
	int		 before_hello = !p->greeted, init_failed, looping;
	int		 replacement = p != s->proc, start_deadline;

	looping = crash_looping(p, status);
	describe_exit(p, status, what, sizeof what);
	init_failed = before_hello && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EX_HANDLER_INIT;
	if (init_failed)
		wlink_last_words(p);
	if (init_failed && !replacement) {
		log_warnx("worker %d: the handler failed to start; stopping",
		    s->index);
		supervisor_abort(2);
	}
	if (p->end == END_NONE) {
		p->end = END_CRASH;
		p->culprit = find_culprit(p, END_CRASH);
	}
	if (p->end != END_SHUTDOWN)
		log_warnx("worker %d: %s%s", s->index, what,
		    p->end == END_TIMEOUT ? " after a timeout" :
		    p->end == END_PROTOCOL ? " after a protocol error" :
		    p->end == END_SILENT ? " after it went silent" :
		    p->end == END_START ? " after its start deadline" : "");
	else
		log_debug("worker %d: %s", s->index, what);
	wlink_close(p);
	evtimer_del(p->ev_timer);
	charge_culprit(p, status);
	dispatch_requeue(p);
	start_deadline = p->end == END_START;
	proc_unlink(p);
	proc_free(p);
	if (replacement) {
		if (start_deadline && !pool.shutting_down)
			replace_failed(s, "its handler took longer than "
			    "--start-timeout", 0);
		else if (before_hello && !pool.shutting_down)
			replace_failed(s, what, init_failed);
		else
			replace_recycle_due(s);
		return;
	}
	if (pool.shutting_down || pool_retiring(s))
		return;
	if (before_hello && ++pool.hello_failures >= HELLO_FAILURES_MAX) {
		log_warnx("workers keep dying before they start (last: %s); "
		    "stopping", what);
		supervisor_abort(2);
	}
	s->restarts++;
	/*
	 * Only a crash loop is backed off and counts toward the restart
	 * intensity; any other end is replaced at once, degraded pool or not
	 * (a job that killed its worker has been charged for it).
	 */
	if (looping) {
		s->failed_starts++;
		count_restart();
	} else
		s->failed_starts = 0;
	pool_schedule_restart(s, 0);
	pool_notify();
}

/* The process, alive, with the given pid or thread link; or NULL. */
static struct proc *
find_proc(pid_t pid, const struct tlink *tl)
{
	struct proc	*p;
	int		 i, k;

	for (i = 0; i < pool.size; i++)
		for (k = 0; k < SLOT_PROCS; k++)
			if ((p = slot_proc(&pool.slots[i], k)) != NULL &&
			    (tl != NULL ? p->tl == tl : p->pid == pid))
				return p;
	return NULL;
}

/*
 * A thread has left, or been given up on (status -1): its record, if it
 * still has one, is reaped as a process's would be.
 */
void
pool_thread_gone(struct tlink *tl, int status)
{
	struct proc	*p;

	if ((p = find_proc(0, tl)) == NULL)
		return;
	wlink_close(p);
	p->tl = NULL;
	proc_reaped(p, status == -1 ? SIGKILL : (status & 0xff) << 8);
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
	if (find_proc(pid, NULL) != NULL || upgrade_spares(pid))
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
	int	children = 0;

	if (opts->isolation == ISOLATION_THREAD)
		return;
	if (subtree_children(count_child, &children) == -1 ||
	    children <= pool_alive())
		return;
	subtree_children(kill_stray, NULL);
}

void
pool_sigchld(void)
{
	struct proc	*p;
	pid_t		 pid;
	int		 status, reaped = 0;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		reaped = 1;
		if ((p = find_proc(pid, NULL)) != NULL)
			proc_reaped(p, status);
	}
	if (reaped)
		kill_strays();
}

/* Tells a worker to exit: EOF on its link, SIGKILL after the grace. */
void
pool_stop_worker(struct proc *p)
{
	if (p->state != P_STOPPING) {
		p->state = P_STOPPING;
		p->end = END_SHUTDOWN;
		wlink_close(p);
	}
	timer_add_ns(p->ev_timer, opts->kill_grace_ns);
}

void
pool_shutdown(void)
{
	struct proc	*p;
	int		 i, k;

	pool.shutting_down = 1;
	replace_stop();
	for (i = 0; i < pool.size; i++) {
		evtimer_del(pool.slots[i].ev_respawn);
		evtimer_del(pool.slots[i].ev_retry);
		for (k = 0; k < SLOT_PROCS; k++)
			if ((p = slot_proc(&pool.slots[i], k)) != NULL)
				pool_stop_worker(p);
	}
}

/* Whether every slot's first process has said HELLO or died. */
int
pool_settled(void)
{
	int	i;

	for (i = 0; i < pool.size; i++)
		if (pool.slots[i].proc != NULL &&
		    pool.slots[i].proc->state == P_STARTING)
			return 0;
	return 1;
}

int
pool_alive(void)
{
	int	i, n = 0;

	for (i = 0; i < pool.size; i++)
		if (pool.slots[i].proc != NULL)
			n++;
	return n + pool.others;
}

/*
 * After a reload: settings the pool keeps state for.  A restart_max the
 * ring of restart times cannot be made for keeps the old ring.
 */
void
pool_reconfigure(const struct options *old)
{
	struct proc	*p;
	int		 i, k;

	if (opts->restart_max != old->restart_max &&
	    restart_intensity() == -1)
		log_warn("reload: restart intensity");
	if (opts->heartbeat_ns != old->heartbeat_ns)
		pool_watch_heartbeats();
	if (opts->window != old->window)
		for (i = 0; i < pool.size; i++)
			for (k = 0; k < SLOT_PROCS; k++)
				if ((p = slot_proc(&pool.slots[i], k)) != NULL)
					p->window = opts->window != 0 ?
					    opts->window : WINDOW_START;
}

/*
 * n slots wanted: new slots start at once, and any slot below n without
 * a process or a restart on the way gets one.  Slots past n stay in use
 * until scale.c has drained them (pool_trim()).
 */
void
pool_resize(int n)
{
	struct slot	*s;
	int		 i;

	pool.target = n;
	for (i = pool.size; i < n; i++)
		pool.slots[i].failed_starts = 0;
	if (n > pool.size)
		pool.size = n;
	for (i = 0; i < n; i++) {
		s = &pool.slots[i];
		if (s->proc == NULL && !evtimer_pending(s->ev_respawn, NULL))
			pool_spawn(s, 0, opts);
	}
}

/* The last slots past the target, once they have no process, are let go. */
void
pool_trim(void)
{
	struct slot	*s;

	while (pool.size > pool.target) {
		s = &pool.slots[pool.size - 1];
		if (s->proc != NULL || s->next != NULL || s->prev != NULL)
			break;
		pool.size--;
	}
}

/*
 * Slot s's replacement takes it over: the process it replaces, if it has
 * one, finishes as prev.  A slot without one has nothing left to count.
 */
void
pool_hand_over(struct slot *s)
{
	struct proc	*old = s->proc;

	s->proc = s->next;
	s->next = NULL;
	s->prev = old;
	if (old == NULL)
		pool.others--;
}

/* At exit: no worker may outlive the supervisor. */
void
pool_kill_all(void)
{
	struct proc	*p;
	int		 i, k;

	if (pool.slots == NULL)
		return;
	for (i = 0; i < pool.size; i++)
		for (k = 0; k < SLOT_PROCS; k++) {
			if ((p = slot_proc(&pool.slots[i], k)) == NULL)
				continue;
			/* Threads end with the process, about to exit. */
			if (opts->isolation == ISOLATION_THREAD) {
				if (p->tl != NULL)
					tlink_abandon(p);
			} else if (p->pid > 0)
				kill(p->pid, SIGKILL);
		}
	if (opts->isolation == ISOLATION_THREAD)
		return;
	for (i = 0; i < pool.size; i++)
		for (k = 0; k < SLOT_PROCS; k++) {
			if ((p = slot_proc(&pool.slots[i], k)) == NULL ||
			    p->pid <= 0)
				continue;
			while (waitpid(p->pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
			p->pid = -1;
		}
	/* And what they left behind, reparented here as they died. */
	subtree_kill();
}
