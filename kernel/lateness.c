// lateness.c: lesson 05's app, how late a sleeping thread wakes.
//
//   app=lateness             one sampler thread on each core
//   sleeps=<n>               sleeps each, from 1 to MAXSLEEPS (default 300)
//
// After "kit: ready" each core's sampler sleeps n times, each for a
// pseudo-random 200 us to 3 ms, until a TSC deadline, and records how
// late it woke: the TSC when thread_sleep_until() returned, less the
// deadline.  A thread on the boot CPU joins the samplers, sorts every
// sample and prints one line, then the VM idles on:
//
//   lateness: n=<N> min=<ns> p50=<ns> p90=<ns> p99=<ns> max=<ns> ns
//
// Lateness is the time a core takes to notice a deadline (timer.c): with
// idle=spin, a pass of the spinning loop; with idle=hlt tick=none, the
// one-shot LAPIC timer's interrupt ends the halt, and the lateness is
// that interrupt's latency; with idle=hlt and a periodic tick, the
// deadline waits for the next tick, up to a whole period.  (A sampler
// woken by a tick starts its next sleep just after one, so with a tick
// slower than the longest sleep its lateness is the period less the
// duration, spread by the random durations.)
//
// A sleep never ends before its deadline: the core makes a thread ready
// only once the TSC has passed it (sched_poll).  A sample below 0 would
// be a kernel bug, and is a panic.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

#define MAXSLEEPS 5000
#define DEFSLEEPS 300
#define MIN_US    200
#define MAX_US    3000

static int nsleeps;

// Invariant: late[c * MAXSLEEPS + i] is core c's sample i in ns, and
// only core c's sampler writes it, until the boot CPU's thread has
// joined that sampler.
static u64 late[NCPU_MAX * MAXSLEEPS];

// Before "kit: ready": sleeps=.
void
lateness_init(void)
{
	nsleeps = cmdline_num("sleeps", DEFSLEEPS, 1, MAXSLEEPS);
}

// <<lateness-sampler
// One core's sampler.  xorshift64 (Marsaglia 2003), seeded by the core's
// number: each core its own sequence, the same at every run.
static void
sampler(void *arg)
{
	(void)arg;
	int c = cpunum();
	u64 x = 0x9e3779b97f4a7c15ULL * (c + 1), *out = &late[c * MAXSLEEPS];

	for (int i = 0; i < nsleeps; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u64 deadline = rdtsc() + us_to_tsc(MIN_US + x % (MAX_US - MIN_US + 1));
		thread_sleep_until(deadline);
		u64 now = rdtsc();
		if (now < deadline)
			panic("lateness: cpu %d woke %lu ns before its deadline",
			    c, tsc_to_ns(deadline - now));
		out[i] = tsc_to_ns(now - deadline);
	}
}
// >>lateness-sampler

// On the boot CPU: a sampler on every core, then the report.
static void
report(void *arg)
{
	(void)arg;
	struct thread *t[NCPU_MAX];
	struct percentiles p;
	char head[32];
	int n = 0;

	for (int c = 0; c < ncpu; c++)
		t[c] = thread_create(c, sampler, NULL);
	for (int c = 0; c < ncpu; c++) {       // the samples to the front, core by core
		thread_join(t[c]);              // [n, n + nsleeps) ends before core c + 1's samples
		memmove(&late[n], &late[c * MAXSLEEPS], nsleeps * sizeof late[0]);
		n += nsleeps;
	}
	p = percentiles(late, n);
	ksnprintf(head, sizeof head, "lateness: n=%d", n);
	percentiles_print(head, &p);
}

void
lateness_start(void)
{
	sched_start();                  // every core schedules: the samplers run there
	thread_create(cpunum(), report, NULL);
}
