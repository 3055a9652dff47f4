// prodcons.c: lesson 06's app, a consumer that polls a variable.
//
//   app=prodcons poll=spin|toro|wait period=<us> n=<messages> start=<ms>
//
// A producer thread on core 0 and a consumer thread on core 1 (on core 0
// too if there is one CPU).  The producer sleeps start ms after "kit:
// ready" (default 2000: the host measures the idle VM meanwhile), then
// every period us (default 10000) writes a message, the TSC when it
// writes, n times (default 200).  The consumer takes each new value and
// notes its reaction, its own TSC then minus the stamp.  How it waits for
// the next value is the lesson:
//
//	spin    read the variable, and yield while it has not changed: its
//	        core never idles
//	toro    the same, but tell the scheduler how each look went, with
//	        poll_nothing() and poll_worked() (poll.h): its core halts once
//	        the consumer has found nothing for the grace period, and then
//	        sees a message only at its next interrupt (with tick=none,
//	        maybe never: a fair outcome, which the report shows)
//	wait    pollvar_wait(): blocked until the value changes; its core
//	        halts at once, and the producer's pollvar_set() wakes it
//
// The console says, in this order (with one CPU, a line after the first
// says that the consumer shares cpu 0):
//
//	prodcons: poll=<mode> period=<us> us n=<n> consumer on cpu <c>
//	prodcons: traffic
//	prodcons: poll=<mode> sent=<n> seen=<k> min=<ns> p50=<ns> p90=<ns> p99=<ns> max=<ns> ns
//	prodcons: quiet
//
// seen counts the values the consumer saw: fewer than sent when a message
// was overwritten before it looked.  The percentiles are nearest-rank
// over the seen ones, "-" if it saw none.  The report comes 2 periods and
// 50 ms after the last message, whatever the consumer did; then the VM
// idles, the consumer still waiting.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "poll.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

#define MAXMSG 100000

enum mode { SPIN, TORO, WAIT };
static const char *const modename[] = { [SPIN] = "spin", [TORO] = "toro", [WAIT] = "wait" };

static enum mode mode;
static u64 period_us, nmsg, start_ms;
static int conscpu;

static struct pollvar msg;      // the last message: a TSC stamp, 0 before the first

// Invariant: only the consumer writes react[] and nseen, react[i] before
// nseen passes i, so the producer may read react[0 .. nseen - 1].
static u64 react[MAXMSG];       // ns from each seen message's stamp to its sighting
static volatile u64 nseen;

// Before "kit: ready": poll=, period=, n= and start=.
void
prodcons_init(void)
{
	const char *p = cmdline_get("poll");

	if (p == NULL || strcmp(p, "spin") == 0)
		mode = SPIN;
	else if (strcmp(p, "toro") == 0)
		mode = TORO;
	else if (strcmp(p, "wait") == 0)
		mode = WAIT;
	else
		panic("unknown poll '%s' (poll=spin, poll=toro or poll=wait)", p);
	period_us = cmdline_num("period", 10000, 1, 10000000);
	nmsg = cmdline_num("n", 200, 1, MAXMSG);
	start_ms = cmdline_num("start", 2000, 0, 3600000);
	if (period_us == 0)
		panic("bad period 0 (period=<us>, 1 and up)");
}

// The consumer saw v at TSC now.
static void
seen(u64 v, u64 now)
{
	u64 ns = now > v ? tsc_to_ns(now - v) : 0;     // cores' TSCs agree, but not to the cycle

	if (nseen < MAXMSG) {
		react[nseen] = ns;
		__atomic_store_n(&nseen, nseen + 1, __ATOMIC_RELEASE);
	}
}

static void
consume_spin(void)
{
	u64 last = 0, v;

	for (;;) {
		while ((v = pollvar_read(&msg)) == last)
			thread_yield();
		seen(v, rdtsc());
		last = v;
	}
}

// <<consume-toro
static void
consume_toro(void)
{
	u64 last = 0, v;

	for (;;) {
		while ((v = pollvar_read(&msg)) == last)
			poll_nothing();
		seen(v, rdtsc());
		poll_worked();
		last = v;
	}
}
// >>consume-toro

// <<consume-wait
static void
consume_wait(void)
{
	u64 last = 0, v;

	for (;;) {
		v = pollvar_wait(&msg, last);
		seen(v, rdtsc());
		last = v;
	}
}
// >>consume-wait

static void
consumer(void *arg)
{
	(void)arg;
	if (mode == SPIN)
		consume_spin();
	else if (mode == TORO)
		consume_toro();
	else
		consume_wait();
}

static void
report(void)
{
	u64 k = __atomic_load_n(&nseen, __ATOMIC_ACQUIRE);
	struct percentiles p;
	char head[64];

	ksnprintf(head, sizeof head, "prodcons: poll=%s sent=%lu seen=%lu", modename[mode], nmsg, k);
	if (k > 0)
		p = percentiles(react, k);              // a late sighting writes past k only
	percentiles_print(head, k > 0 ? &p : NULL);
}

// Each message goes out at a period boundary, counted from the first; a
// boundary the producer overslept is skipped, not crowded in.  The stamp
// grows strictly, so no message equals the one before.
static void
producer(void *arg)
{
	u64 period = us_to_tsc(period_us), next, last = 0;

	(void)arg;
	thread_sleep_until(kit_stats.ready_tsc + ms_to_tsc(start_ms));
	kprintf("prodcons: traffic\n");
	next = rdtsc();
	for (u64 i = 0; i < nmsg; i++) {
		u64 now = rdtsc();
		next += period;
		if (next <= now)
			next += ((now - next) / period + 1) * period;
		thread_sleep_until(next);
		u64 stamp = rdtsc();
		if (stamp <= last)
			stamp = last + 1;
		pollvar_set(&msg, stamp);
		last = stamp;
	}
	thread_sleep_until(rdtsc() + 2 * period + ms_to_tsc(50));      // the stragglers' time
	report();
	kprintf("prodcons: quiet\n");
}

// After "kit: ready", on the boot CPU.
void
prodcons_start(void)
{
	sched_start();                  // every core schedules: the consumer runs on core 1
	conscpu = ncpu > 1 ? 1 : 0;
	kprintf("prodcons: poll=%s period=%lu us n=%lu consumer on cpu %d\n",
	    modename[mode], period_us, nmsg, conscpu);
	if (conscpu == 0)
		kprintf("prodcons: one cpu: the consumer shares cpu 0 with the producer\n");
	thread_create(conscpu, consumer, NULL);
	thread_create(0, producer, NULL);
}
