// sleepers.c: lesson 04's app, threads that sleep most of the time.
//
//   app=sleepers            periods of 10, 25 and 50 ms
//   app=sleepers sleep=<ms>   every sleeper's period <ms> (1 to 60000)
//
// After "kit: ready" each core gets NSLEEPER threads, created from the
// boot CPU (on the others by message).  Each loops: sleep its period, do
// a little work, count it.  So every core is idle nearly all the time,
// and what that costs the host is what its idle loop costs: with
// idle=spin, a whole host core per vCPU.  The host sees the wake-ups in
// each CPU's stats record (wakeups, ctx_switches).

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"

#define NSLEEPER 3
#define WORK     20000          // iterations of busy work a wake-up

static u64 period_ms[NSLEEPER] = { 10, 25, 50 };

// Invariant: loops[c][i] is the wake-ups of core c's sleeper i, and only
// that thread writes it.
static struct sleeper {
	int i;
	volatile u64 loops;
} sleepers[NCPU_MAX][NSLEEPER];

// Before "kit: ready": sleep=.
void
sleepers_init(void)
{
	if (cmdline_has("sleep")) {
		u64 ms = cmdline_num("sleep", 0, 1, 60000);
		for (int i = 0; i < NSLEEPER; i++)
			period_ms[i] = ms;
	}
}

// <<sleeper
static void
sleeper(void *arg)
{
	struct sleeper *s = arg;

	for (;;) {
		thread_sleep(period_ms[s->i]);
		for (volatile int k = 0; k < WORK; k++)
			;
		s->loops++;
	}
}
// >>sleeper

void
sleepers_start(void)
{
	sched_start();                  // every core schedules: the sleepers run there
	for (int c = 0; c < ncpu; c++)
		for (int i = 0; i < NSLEEPER; i++) {
			sleepers[c][i].i = i;
			thread_create(c, sleeper, &sleepers[c][i]);
		}
	kprintf("sleepers: %d threads on each of %d cpus, every %lu, %lu and %lu ms\n",
	    NSLEEPER, ncpu, period_ms[0], period_ms[1], period_ms[2]);
}
