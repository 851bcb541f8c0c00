/* The supervisor's clocks and timers. */
#include <time.h>

#include "supervisor.h"

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
