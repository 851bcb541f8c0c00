/*
 * Batch progress on standard error: --bar (a bar, when the number of
 * jobs is known or can be estimated), --progress (jobs done and running,
 * per worker) and --eta (the time left).  One line, drawn by a timer four
 * times a second, never by a job, so the jobs pay nothing for it.  On a
 * terminal the line is redrawn in place and left, finished, at the end;
 * elsewhere, as in a log file, a plain line is written every few seconds.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"
#include "progress.h"

#define TICK_MS		250
#define PLAIN_TICKS	20	/* not a terminal: a line every 5 s */
#define LINE_MAX_BYTES	1024
#define BAR_WIDTH_MAX	40

static struct event	*ev_tick;
static int		 tty;
static int		 drawn;		/* an unfinished line is on the terminal */
static unsigned		 ticks;
static off_t		 input_size = -1;	/* a regular file's, or -1 */
static off_t		 input_start;

/* Appends to line[LINE_MAX_BYTES] at *n, as much as fits. */
static void
add(char *line, int *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add(char *line, int *n, const char *fmt, ...)
{
	va_list	ap;
	int	k;

	if (*n >= LINE_MAX_BYTES - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(line + *n, LINE_MAX_BYTES - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n += k < LINE_MAX_BYTES - *n ? k : LINE_MAX_BYTES - 1 - *n;
}

static int
columns(void)
{
	struct winsize	ws;

	if (tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

/*
 * The number of jobs in all: exact once the input has all been taken;
 * before, from a file's size and how much of it was read; 0 if unknown.
 */
static double
jobs_total(const struct batch_tally *t)
{
	off_t	pos;

	if (t->input_done)
		return t->taken;
	if (input_size <= input_start || t->taken == 0 ||
	    (pos = lseek(STDIN_FILENO, 0, SEEK_CUR)) <= input_start)
		return 0;
	return t->taken * (double)(input_size - input_start) /
	    (pos - input_start);
}

static void
duration(char *line, int *n, double s)
{
	if (s >= 3600)
		add(line, n, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
	else if (s >= 60)
		add(line, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else
		add(line, n, "%ds", (int)(s + 0.5));
}

static void
draw(int last)
{
	struct batch_tally	 t;
	struct slot		*s;
	char			 line[LINE_MAX_BYTES];
	double			 total, wall, rate, frac = -1;
	uint64_t		 ended;
	uint32_t		 running = 0, r;
	int			 i, k, n = 0, width, cols = columns();

	batch_tally(&t);
	ended = t.ok + t.failed;
	for (i = 0; i < pool_size(); i++) {
		s = pool_slot(i);
		running += (s->proc != NULL ? s->proc->inflight.count : 0) +
		    (s->prev != NULL ? s->prev->inflight.count : 0);
	}
	total = jobs_total(&t);
	if (total > 0)
		frac = ended >= total ? 1 : ended / total;
	add(line, &n, tty ? "\r" : "forkpool: progress: ");
	if (opts->bar) {
		width = cols / 3 < BAR_WIDTH_MAX ? cols / 3 : BAR_WIDTH_MAX;
		add(line, &n, "[");
		for (k = 0; k < width; k++)
			add(line, &n, "%c", frac >= 0 && k < frac * width ?
			    '#' : frac < 0 && k == (int)(ticks % width) ?
			    '=' : '.');
		if (frac >= 0)
			add(line, &n, "] %3d%% ", (int)(frac * 100));
		else
			add(line, &n, "] ");
	}
	add(line, &n, "%llu", (unsigned long long)ended);
	if (total > 0)
		add(line, &n, "/%s%.0f", t.input_done ? "" : "~", total);
	add(line, &n, " done");
	if (t.failed > 0)
		add(line, &n, " (%llu failed)", (unsigned long long)t.failed);
	add(line, &n, ", %u running", running);
	if (opts->progress)
		add(line, &n, ", %u queued", dispatch_queued());
	if (opts->eta) {
		wall = t.started_ns != 0 ? (now_ns() - t.started_ns) / 1e9 : 0;
		rate = wall > 0 ? ended / wall : 0;
		add(line, &n, "; ETA ");
		if (last)
			add(line, &n, "0s");
		else if (total > 0 && rate > 0)
			duration(line, &n, (total - ended) / rate);
		else
			add(line, &n, "n/a");
	}
	if (opts->progress) {
		add(line, &n, "; worker done+running:");
		for (i = 0; i < pool_size(); i++) {
			s = pool_slot(i);
			r = (s->proc != NULL ? s->proc->inflight.count : 0) +
			    (s->prev != NULL ? s->prev->inflight.count : 0);
			add(line, &n, " %d:%llu+%u", i + 1,
			    (unsigned long long)s->jobs_done, r);
		}
	}
	/* A terminal's line must not wrap, or it cannot be redrawn. */
	if (tty && n > cols) {
		n = cols - 1;
		memcpy(line + n - 3, "...", 3);
	}
	if (tty)
		add(line, &n, "\033[K%s", last ? "\n" : "");
	else
		add(line, &n, "\n");
	(void)!write(STDERR_FILENO, line, n);
	drawn = tty && !last;
}

static void
tick(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (tty || ++ticks % PLAIN_TICKS == 0)
		draw(0);
	if (tty)
		ticks++;
}

void
progress_start(void)
{
	struct stat	st;
	struct timeval	tv = { 0, TICK_MS * 1000 };

	if (!opts->progress && !opts->eta && !opts->bar)
		return;
	tty = isatty(STDERR_FILENO);
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		input_size = st.st_size;
		if ((input_start = lseek(STDIN_FILENO, 0, SEEK_CUR)) == -1)
			input_start = 0;
	}
	if ((ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL)) == NULL ||
	    event_add(ev_tick, &tv) == -1)
		fatalx("event_new failed");
}

/* Before another line on stderr: the terminal's line goes, to come back. */
void
progress_clear(void)
{
	static const char	erase[] = "\r\033[K";

	if (!drawn)
		return;
	(void)!write(STDERR_FILENO, erase, sizeof erase - 1);
	drawn = 0;
}

/* The run is over: the last figures, on a line of their own. */
void
progress_end(void)
{
	if (ev_tick == NULL)
		return;
	event_free(ev_tick);
	ev_tick = NULL;
	draw(1);
}
