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

static bool on;                 // app=lateness
static int nsleeps = DEFSLEEPS;

// Invariant: late[c * MAXSLEEPS + i] is core c's sample i in ns, and
// only core c's sampler writes it, until the boot CPU's thread has
// joined that sampler.
static u64 late[NCPU_MAX * MAXSLEEPS];

void
lateness_init(void)
{
	const char *a = cmdline_get("app"), *v = cmdline_get("sleeps");

	on = a != NULL && strcmp(a, "lateness") == 0;
	if (!on || v == NULL)
		return;
	long n = 0;
	for (const char *p = v; *p != '\0' && n <= MAXSLEEPS; p++)
		n = *p >= '0' && *p <= '9' ? n * 10 + (*p - '0') : MAXSLEEPS + 1;
	if (n == 0 || n > MAXSLEEPS)
		panic("bad sleeps '%s' (sleeps=<n> from 1 to %d)", v, MAXSLEEPS);
	nsleeps = n;
}

// TSC ticks in ns, without overflow for any d: the whole seconds first.
static u64
tsc_to_ns(u64 d)
{
	u64 hz = kit_stats.tsc_hz;

	return d / hz * 1000000000 + d % hz * 1000000000 / hz;
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

// Heapsort, ascending: a[0 .. n) sorted in place, in O(n log n) and no
// memory more.  sift() lets a[i] sink into the heap a[i .. n).
static void
sift(u64 *a, int i, int n)
{
	for (int child; (child = 2 * i + 1) < n; i = child) {
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[i] >= a[child])
			return;
		u64 t = a[i];
		a[i] = a[child];
		a[child] = t;
	}
}

static void
sort(u64 *a, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		sift(a, i, n);
	for (int end = n - 1; end > 0; end--) {
		u64 t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift(a, 0, end);
	}
}

// The p-th percentile of the sorted a[0 .. n), by nearest rank: the
// least sample that at least p% of the samples do not exceed.
static u64
pct(const u64 *a, int n, int p)
{
	int rank = (p * n + 99) / 100;

	return a[rank > 0 ? rank - 1 : 0];
}

// On the boot CPU: a sampler on every core, then the report.
static void
report(void *arg)
{
	(void)arg;
	struct thread *t[NCPU_MAX];
	int n = 0;

	for (int c = 0; c < ncpu; c++)
		t[c] = thread_create(c, sampler, NULL);
	for (int c = 0; c < ncpu; c++) {       // the samples to the front, core by core
		thread_join(t[c]);              // [n, n + nsleeps) ends before core c + 1's samples
		memmove(&late[n], &late[c * MAXSLEEPS], nsleeps * sizeof late[0]);
		n += nsleeps;
	}
	sort(late, n);
	kprintf("lateness: n=%d min=%lu p50=%lu p90=%lu p99=%lu max=%lu ns\n",
	    n, late[0], pct(late, n, 50), pct(late, n, 90), pct(late, n, 99), late[n - 1]);
}

void
lateness_start(void)
{
	if (on)
		thread_create(cpunum(), report, NULL);
}
