/*
 * forkpoolctl top: a live view of a pool, refreshed each second, as top
 * and htop give of a host.  It polls the supervisor's JSON status over
 * the control socket (or a pool in Redis with -r) and draws it with
 * ncurses; jobs/s and CPU% of a worker come from two polls.  With --once
 * it prints one frame to standard output instead, for scripts.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <err.h>

#include "ctl.h"

#define REFRESH_MS	1000
#define NWINDOWS	3

static const char *const window_names[NWINDOWS] = { "1s", "10s", "60s" };

struct wrow {
	int		 slot;
	int		 pid;
	char		 state[16];
	double		 jobs;
	double		 restarts;
	double		 recycles;
	double		 rss_kib;
	double		 cpu_s;
	double		 age_s;
	double		 rate;		/* jobs/s since the last poll; -1 */
	double		 cpu_pct;	/* likewise */
};

struct sample {
	uint64_t	 when_ns;
	struct wrow	*w;
	size_t		 n;
	double		 up, target, queued, in_flight, clients;
	double		 submitted, ok, failed;
	double		 rate[NWINDOWS], p50[NWINDOWS], p99[NWINDOWS];
	int		 degraded, draining;
	char		*text;		/* a pool in Redis: its status */
	char		 error[FP_ERRBUF_SIZE + 512]; /* no figures: why */
};

enum sort_key { SORT_SLOT, SORT_RATE, SORT_CPU };
static enum sort_key	 sort_key;
static volatile sig_atomic_t quit;

static uint64_t
clock_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- reading our own JSON status ------------------------------------------ */

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' ||
	    *p == '\r'))
		p++;
	return p;
}

/* Past the string that starts at p; NULL when it does not end. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the value that starts at p; NULL when it does not end. */
static const char *
skip_value(const char *p, const char *end)
{
	int	depth = 0;

	while (p < end) {
		if (*p == '"') {
			if ((p = skip_string(p, end)) == NULL)
				return NULL;
			if (depth == 0)
				return p;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (*p == ',' && depth == 0)
			return p;
		p++;
	}
	return depth == 0 ? p : NULL;
}

/* The value of key in the object at obj, its end in *vend; or NULL. */
static const char *
member(const char *obj, const char *end, const char *key, const char **vend)
{
	const char	*p, *k, *kend, *v, *ve;
	size_t		 klen = strlen(key);

	if (obj == NULL || obj >= end || *obj != '{')
		return NULL;
	p = obj + 1;
	for (;;) {
		p = skip_space(p, end);
		if (p >= end || *p != '"')
			return NULL;
		k = p + 1;
		if ((p = skip_string(p, end)) == NULL)
			return NULL;
		kend = p - 1;
		p = skip_space(p, end);
		if (p >= end || *p != ':')
			return NULL;
		v = skip_space(p + 1, end);
		if ((ve = skip_value(v, end)) == NULL || ve == v)
			return NULL;
		if ((size_t)(kend - k) == klen && memcmp(k, key, klen) == 0) {
			*vend = ve;
			return v;
		}
		p = skip_space(ve, end);
		if (p >= end || *p != ',')
			return NULL;
		p++;
	}
}

static double
number(const char *obj, const char *end, const char *key)
{
	const char	*v, *ve;

	if ((v = member(obj, end, key, &ve)) == NULL)
		return -1;
	return strtod(v, NULL);
}

static int
boolean(const char *obj, const char *end, const char *key)
{
	const char	*v, *ve;

	return (v = member(obj, end, key, &ve)) != NULL && *v == 't';
}

static void
string(const char *obj, const char *end, const char *key, char *out,
    size_t size)
{
	const char	*v, *ve;
	size_t		 n;

	*out = '\0';
	if ((v = member(obj, end, key, &ve)) == NULL || *v != '"')
		return;
	n = ve - v - 2;
	if (n >= size)
		n = size - 1;
	memcpy(out, v + 1, n);
	out[n] = '\0';
}

static void
take_worker(struct wrow *w, const char *o, const char *end)
{
	w->slot = number(o, end, "slot");
	w->pid = number(o, end, "pid");
	string(o, end, "state", w->state, sizeof w->state);
	w->jobs = number(o, end, "jobs");
	w->restarts = number(o, end, "restarts");
	w->recycles = number(o, end, "recycles");
	w->rss_kib = number(o, end, "rss_kib");
	w->cpu_s = number(o, end, "cpu_s");
	w->age_s = number(o, end, "job_age_s");
	w->rate = w->cpu_pct = -1;
}

/* The supervisor's JSON status into s: 0, or -1 when it is not that. */
static int
take_status(struct sample *s, const char *json_text)
{
	const char	*end = json_text + strlen(json_text), *o = json_text;
	const char	*v, *ve, *p, *e, *sub, *sube;
	struct wrow	*w;
	unsigned	 k;

	if ((v = member(o, end, "workers", &ve)) == NULL || *v != '[')
		return -1;
	for (p = skip_space(v + 1, ve); p < ve && *p == '{';
	    p = skip_space(p, ve)) {
		if ((e = skip_value(p, ve)) == NULL)
			return -1;
		if ((w = reallocarray(s->w, s->n + 1, sizeof *w)) == NULL)
			err(EXIT_TROUBLE, NULL);
		s->w = w;
		take_worker(&s->w[s->n++], p, e);
		p = skip_space(e, ve);
		if (p < ve && *p == ',')
			p++;
	}
	s->up = number(o, end, "up");
	s->target = number(o, end, "target");
	s->degraded = boolean(o, end, "degraded");
	s->draining = boolean(o, end, "draining");
	s->clients = number(o, end, "clients");
	if ((v = member(o, end, "jobs", &ve)) != NULL) {
		s->submitted = number(v, ve, "submitted");
		s->ok = number(v, ve, "ok");
		s->failed = number(v, ve, "failed");
		s->queued = number(v, ve, "queued");
		s->in_flight = number(v, ve, "in_flight");
	}
	v = member(o, end, "windows", &ve);
	for (k = 0; k < NWINDOWS; k++) {
		s->rate[k] = s->p50[k] = s->p99[k] = -1;
		if (v == NULL ||
		    (sub = member(v, ve, window_names[k], &sube)) == NULL)
			continue;
		s->rate[k] = number(sub, sube, "jobs_per_s");
		s->p50[k] = number(sub, sube, "p50_us");
		s->p99[k] = number(sub, sube, "p99_us");
	}
	return 0;
}

/* --- polling -------------------------------------------------------------- */

struct source {
	const char		*socket_path;
	struct fp_client	*c;
	const char		*url;
	unsigned		 partitions;
	struct fp_redis		*r;
};

static void
sample_free(struct sample *s)
{
	free(s->w);
	free(s->text);
	memset(s, 0, sizeof *s);
}

/* A new sample; a failed one says why and reconnects at the next. */
static void
poll_source(struct source *src, struct sample *s)
{
	char	 errbuf[FP_ERRBUF_SIZE], *text;

	memset(s, 0, sizeof *s);
	s->when_ns = clock_ns();
	if (src->url != NULL) {
		if (src->r == NULL && (src->r = fp_redis_connect(src->url,
		    src->partitions, errbuf, sizeof errbuf)) == NULL) {
			snprintf(s->error, sizeof s->error, "%s", errbuf);
			return;
		}
		if (fp_redis_status(src->r, FP_FORMAT_TEXT, &s->text) == -1) {
			snprintf(s->error, sizeof s->error, "%s",
			    fp_redis_error(src->r));
			fp_redis_close(src->r);
			src->r = NULL;
		}
		return;
	}
	if (src->c == NULL && (src->c = fp_connect(src->socket_path, errbuf,
	    sizeof errbuf)) == NULL) {
		snprintf(s->error, sizeof s->error, "cannot connect to %s: %s",
		    src->socket_path, errno != 0 ? strerror(errno) : errbuf);
		return;
	}
	switch (fp_status(src->c, FP_FORMAT_JSON, &text)) {
	case 0:
		if (take_status(s, text) == -1)
			snprintf(s->error, sizeof s->error,
			    "%s: a status that is not forkpool's",
			    src->socket_path);
		free(text);
		return;
	case 1:
		snprintf(s->error, sizeof s->error, "status: %s", text);
		free(text);
		return;
	}
	snprintf(s->error, sizeof s->error, "%s: %s", src->socket_path,
	    fp_error(src->c));
	fp_close(src->c);
	src->c = NULL;
}

/* Rates of each worker from the previous sample of its slot. */
static void
derive(struct sample *s, const struct sample *prev)
{
	double	 dt;
	size_t	 i, j;

	if (prev->when_ns == 0 || s->when_ns <= prev->when_ns)
		return;
	dt = (s->when_ns - prev->when_ns) / 1e9;
	for (i = 0; i < s->n; i++)
		for (j = 0; j < prev->n; j++) {
			if (prev->w[j].slot != s->w[i].slot)
				continue;
			if (s->w[i].jobs >= prev->w[j].jobs)
				s->w[i].rate = (s->w[i].jobs -
				    prev->w[j].jobs) / dt;
			/* CPU time is the process's: the same one. */
			if (s->w[i].pid == prev->w[j].pid &&
			    s->w[i].cpu_s >= 0 && prev->w[j].cpu_s >= 0 &&
			    s->w[i].cpu_s >= prev->w[j].cpu_s)
				s->w[i].cpu_pct = (s->w[i].cpu_s -
				    prev->w[j].cpu_s) * 100 / dt;
			break;
		}
}

/* --- drawing -------------------------------------------------------------- */

static int
by_key(const void *a, const void *b)
{
	const struct wrow	*x = a, *y = b;
	double			 dx, dy;

	if (sort_key == SORT_SLOT)
		return x->slot - y->slot;
	dx = sort_key == SORT_RATE ? x->rate : x->cpu_pct;
	dy = sort_key == SORT_RATE ? y->rate : y->cpu_pct;
	if (dx != dy)
		return dx < dy ? 1 : -1;
	return x->slot - y->slot;
}

/* A latency for people: microseconds, milliseconds or seconds. */
static const char *
latency(double us, char *buf, size_t size)
{
	if (us < 0)
		snprintf(buf, size, "-");
	else if (us < 1000)
		snprintf(buf, size, "%.0f us", us);
	else if (us < 1e6)
		snprintf(buf, size, "%.1f ms", us / 1e3);
	else
		snprintf(buf, size, "%.2f s", us / 1e6);
	return buf;
}

static const char *
figure(double v, const char *fmt, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, fmt, v);
	return buf;
}

struct screen {
	int	 tty;		/* drawing with curses, else printing */
	int	 row;
	int	 rows, cols;
};

static void
line(struct screen *sc, int attr, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static void
line(struct screen *sc, int attr, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (!sc->tty) {
		puts(buf);
		return;
	}
	if (sc->row >= sc->rows)
		return;
	if (attr)
		attron(attr);
	mvaddnstr(sc->row, 0, buf, sc->cols);
	if (attr) {
		/* The bar of the column titles goes across. */
		hline(' ', sc->cols);
		attroff(attr);
	}
	sc->row++;
}

static void
draw_pool(struct screen *sc, struct sample *s)
{
	char		 a[32], b[32], c[32], d[32];
	struct wrow	*w;
	size_t		 i;

	line(sc, 0, "workers %.0f/%.0f   jobs/s %s (1s)  %s (10s)  %s (60s)",
	    s->up, s->target, figure(s->rate[0], "%.1f", a, sizeof a),
	    figure(s->rate[1], "%.1f", b, sizeof b),
	    figure(s->rate[2], "%.1f", c, sizeof c));
	line(sc, 0, "latency p50 %s  p99 %s (10s)   queued %.0f  "
	    "in flight %.0f  clients %.0f%s%s",
	    latency(s->p50[1], a, sizeof a), latency(s->p99[1], b, sizeof b),
	    s->queued, s->in_flight, s->clients,
	    s->degraded ? "  DEGRADED" : "", s->draining ? "  DRAINING" : "");
	line(sc, 0, "jobs %.0f submitted, %.0f ok, %.0f failed", s->submitted,
	    s->ok, s->failed);
	line(sc, 0, "%s", "");
	line(sc, A_REVERSE, "%5s %8s %-10s %10s %8s %8s %8s %8s %9s %6s",
	    "SLOT", "PID", "STATE", "JOBS", "JOBS/S", "JOB_AGE", "RESTARTS",
	    "RECYCLES", "RSS_KIB", "CPU%");
	qsort(s->w, s->n, sizeof *s->w, by_key);
	for (i = 0; i < s->n; i++) {
		w = &s->w[i];
		line(sc, 0, "%5d %8d %-10s %10.0f %8s %8s %8.0f %8.0f %9s %6s",
		    w->slot, w->pid, w->state, w->jobs,
		    figure(w->rate, "%.1f", a, sizeof a),
		    figure(w->age_s > 0 ? w->age_s : -1, "%.3f", b,
		    sizeof b), w->restarts, w->recycles,
		    figure(w->rss_kib, "%.0f", c, sizeof c),
		    figure(w->cpu_pct, "%.1f", d, sizeof d));
	}
}

static void
draw(struct screen *sc, const struct source *src, struct sample *s)
{
	static const char *const sorts[] = { "slot", "jobs/s", "CPU%" };
	char		 when[16];
	const char	*p, *nl;
	time_t		 t = time(NULL);

	sc->row = 0;
	if (sc->tty) {
		erase();
		getmaxyx(stdscr, sc->rows, sc->cols);
	}
	strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
	line(sc, A_BOLD, "forkpool %s  %s%s%s", src->url != NULL ? src->url :
	    src->socket_path, when, src->url == NULL ? "  sort: " : "",
	    src->url == NULL ? sorts[sort_key] : "");
	if (s->error[0] != '\0')
		line(sc, 0, "%s", s->error);
	else if (s->text != NULL) {
		for (p = s->text; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				nl = p + strlen(p);
			line(sc, 0, "%.*s", (int)(nl - p), p);
			if (*nl == '\0')
				break;
		}
	} else
		draw_pool(sc, s);
	if (sc->tty) {
		if (sc->row < sc->rows - 1)
			mvaddnstr(sc->rows - 1, 0, src->url != NULL ?
			    "q quit" : "q quit   s, j, c: sort by slot, "
			    "jobs/s, CPU%", sc->cols);
		refresh();
	}
}

/* --- the loop ------------------------------------------------------------- */

static void
on_signal(int sig)
{
	quit = sig;
}

/* One frame on standard output: two polls a second apart, for the rates. */
static int
top_once(struct source *src)
{
	struct screen	 sc = { 0, 0, 0, 0 };
	struct sample	 prev, s;
	char		 errbuf[FP_ERRBUF_SIZE], *text;
	struct timespec	 ts = { 1, 0 };
	int		 rc;

	if (json) {
		/* The figures top shows, as status --json gives them. */
		if (src->url != NULL)
			return redis_status(src->url, src->partitions);
		if ((src->c = fp_connect(src->socket_path, errbuf,
		    sizeof errbuf)) == NULL ||
		    fp_status(src->c, FP_FORMAT_JSON, &text) != 0)
			errx(EXIT_TROUBLE, "%s: %s", src->socket_path,
			    src->c != NULL ? fp_error(src->c) : errbuf);
		fputs(text, stdout);
		free(text);
		fp_close(src->c);
		return fflush(stdout) == EOF ? EXIT_TROUBLE : 0;
	}
	poll_source(src, &prev);
	if (prev.error[0] == '\0' && src->url == NULL)
		nanosleep(&ts, NULL);
	if (prev.error[0] == '\0')
		poll_source(src, &s);
	else
		s = prev, memset(&prev, 0, sizeof prev);
	derive(&s, &prev);
	draw(&sc, src, &s);
	rc = s.error[0] != '\0' ? EXIT_TROUBLE : 0;
	if (rc != 0)
		warnx("top: %s", s.error);
	sample_free(&prev);
	sample_free(&s);
	if (src->c != NULL)
		fp_close(src->c);
	if (src->r != NULL)
		fp_redis_close(src->r);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_TROUBLE, "standard output");
	return rc;
}

int
top(const char *socket_path, const char *url, unsigned partitions,
    int argc, char **argv)
{
	struct source		 src = { socket_path, NULL, url, partitions,
				    NULL };
	struct screen		 sc = { 1, 0, 0, 0 };
	struct sample		 prev, s;
	struct sigaction	 sa;
	SCREEN			*scr;
	uint64_t		 now, next;
	int			 ch, once = 0;

	if (argc == 2 && strcmp(argv[1], "--once") == 0)
		once = 1;
	else if (argc != 1) {
		warnx("top: only --once may follow");
		return EXIT_TROUBLE;
	}
	if (once)
		return top_once(&src);
	if (json) {
		warnx("top: --json with --once only");
		return EXIT_TROUBLE;
	}
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		warnx("top: not a terminal; top --once prints one frame");
		return EXIT_TROUBLE;
	}

	/* Installed before curses, which then leaves them to us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	memset(&prev, 0, sizeof prev);
	/* newterm, not initscr, which would exit on an unknown $TERM. */
	if ((scr = newterm(NULL, stdout, stdin)) == NULL)
		errx(EXIT_TROUBLE, "top: cannot use the terminal %s",
		    getenv("TERM") != NULL ? getenv("TERM") : "(no TERM)");
	poll_source(&src, &s);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	next = s.when_ns + REFRESH_MS * 1000000ULL;
	draw(&sc, &src, &s);
	while (!quit) {
		now = clock_ns();
		timeout(next > now ? (int)((next - now) / 1000000) : 0);
		ch = getch();
		if (quit || ch == 'q' || ch == 'Q')
			break;
		switch (ch) {
		case 's':
			sort_key = SORT_SLOT;
			break;
		case 'j':
			sort_key = SORT_RATE;
			break;
		case 'c':
			sort_key = SORT_CPU;
			break;
		}
		if (clock_ns() >= next) {
			sample_free(&prev);
			prev = s;
			poll_source(&src, &s);
			derive(&s, &prev);
			next = s.when_ns + REFRESH_MS * 1000000ULL;
		}
		/* A key, a resize (KEY_RESIZE) or the time: draw again. */
		draw(&sc, &src, &s);
	}
	endwin();
	delscreen(scr);
	sample_free(&prev);
	sample_free(&s);
	if (src.c != NULL)
		fp_close(src.c);
	if (src.r != NULL)
		fp_redis_close(src.r);
	return 0;
}
