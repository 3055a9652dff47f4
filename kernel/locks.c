// locks.c: lesson 03's app, every CPU against one lock.
//
//   app=locks lock=tas|ttas|ticket|none pause=0|1 ms=<milliseconds>
//
// After "kit: ready" every CPU, the boot CPU too, increments one shared
// counter under the lock, as often as it can, for ms milliseconds (2000
// if not given) of its own TSC time.  Then the boot CPU checks that the
// counter equals the increments the CPUs made and says "locks: OK" or
// "locks: FAIL lost <k> of <n> increments", and every CPU idles.
//
// lock=none increments with a plain load, add and store: when two CPUs
// load the same value, both store value + 1 and one increment is lost.
//
// Each CPU publishes its increments and its spins in its stats record
// (lock_acquires, lock_spins) after every increment, so the host can
// plot each CPU's rate while the app runs.  The spin-lock self-test
// (spinlockstest.c) runs the same loop, locks_contend(), for a few
// milliseconds per lock kind.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "spinlock.h"
#include "stats.h"
#include "x86.h"

#define DEFAULT_MS 2000

const char *const lock_kinds[NLOCKKIND] = {
	[LOCK_TAS] = "tas",
	[LOCK_TTAS] = "ttas",
	[LOCK_TICKET] = "ticket",
};

// One contention run: every CPU increments counter under lock (or with
// no lock, if it is NULL) for ticks TSC ticks.  Invariant: count[n] is
// the increments CPU n made, and only CPU n writes it.
struct run {
	struct spinlock *lock;
	u64 ticks;
	volatile u32 arrived;   // CPUs at the start line
	u64 count[NCPU_MAX];
};

// The lock and the counter on cache lines of their own, so that the
// traffic measured is the lock's and the counter's, not their neighbours'.
static struct spinlock lock __attribute__((aligned(64)));
static volatile u64 counter __attribute__((aligned(64)));

static struct {
	bool locked;            // lock= is not none
	u64 ms;
} app;

static void
contend(void *arg)
{
	struct run *r = arg;
	volatile struct cpustats *st = mystats();
	u64 n = 0, spins = 0;

	// Start together.  A vCPU is a host thread that may run late; the
	// others would have the lock to themselves meanwhile.
	__atomic_add_fetch(&r->arrived, 1, __ATOMIC_SEQ_CST);
	while (r->arrived != (u32)ncpu)
		pause();

	u64 start = rdtsc();
	while (rdtsc() - start < r->ticks) {
		if (r->lock != NULL) {
			spins += acquire(r->lock);
			counter++;
			release(r->lock);
		} else {
			u64 v = counter;        // no lock: load,
			counter = v + 1;        // add, store
		}
		n++;
		st->lock_acquires = n;
		st->lock_spins = spins;
	}
	r->count[cpunum()] = n;
}

// Every CPU increments one counter, from zero, under l (none if NULL)
// for ticks TSC ticks.  Returns the increments made, and in *lost those
// the counter does not show.  Before the schedulers start: it runs on
// every CPU through onall().
u64
locks_contend(struct spinlock *l, u64 ticks, u64 *lost)
{
	static struct run r;
	u64 sum = 0;

	r = (struct run){ .lock = l, .ticks = ticks };
	counter = 0;
	onall(contend, &r);
	for (int i = 0; i < ncpu; i++)
		sum += r.count[i];
	*lost = sum - counter;
	return sum;
}

// Read lock= and ms= before "kit: ready", so a mistake is a panic before
// the host starts to measure.
void
locks_init(void)
{
	const char *k = cmdline_get("lock");

	app.ms = cmdline_num("ms", DEFAULT_MS, 1, 1000000000);
	if (k == NULL)
		panic("app=locks needs lock=tas, ttas, ticket or none");
	if (strcmp(k, "none") == 0)
		return;
	for (int i = 0; i < NLOCKKIND; i++)
		if (strcmp(k, lock_kinds[i]) == 0) {
			lock.kind = i;
			app.locked = true;
			return;
		}
	panic("unknown lock '%s' (lock=tas, ttas, ticket or none)", k);
}

void
locks_start(void)
{
	u64 hz = kit_stats.tsc_hz, lost;
	u64 t0 = rdtsc();
	u64 n = locks_contend(app.locked ? &lock : NULL, app.ms * hz / 1000, &lost);
	u64 us = (rdtsc() - t0) * 1000000 / hz;

	kprintf("locks: %s pause=%d: %d cpus, %lu increments in %lu ms, %lu/s\n",
	    app.locked ? lock_kinds[lock.kind] : "none", spin_pause, ncpu, n, us / 1000,
	    n * 1000000 / us);
	if (lost == 0)
		kprintf("locks: OK\n");
	else
		kprintf("locks: FAIL lost %lu of %lu increments\n", lost, n);
}
