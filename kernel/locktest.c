// locktest.c: lesson 03's app, every CPU against one lock.
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
// plot each CPU's rate while the app runs.  The self-test runs the same
// loop for a few milliseconds per lock kind.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "spinlock.h"
#include "stats.h"
#include "x86.h"

#define DEFAULT_MS 2000
#define TEST_MS    20

static const char *const kinds[] = {
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
	bool on;                // app=locks
	bool locked;            // lock= is not none
	u64 ms;
} app;

// <<contend
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
// >>contend

// Run r on every CPU from a zero counter; return the increments made,
// and in *lost those the counter does not show.
static u64
run(struct run *r, u64 *lost)
{
	u64 sum = 0;

	counter = 0;
	onall(contend, r);
	for (int i = 0; i < ncpu; i++)
		sum += r->count[i];
	*lost = sum - counter;
	return sum;
}

// The apps of this stage, each in its own file: app= must name one.
#if KIT_STAGE_LEVEL >= STAGE_POLL
#define APPS "app=locks, sleepers, lateness or prodcons"
static const char *const apps[] = { "locks", "sleepers", "lateness", "prodcons" };
#elif KIT_STAGE_LEVEL >= STAGE_IDLE
#define APPS "app=locks, sleepers or lateness"
static const char *const apps[] = { "locks", "sleepers", "lateness" };
#elif KIT_STAGE_LEVEL >= STAGE_SCHED
#define APPS "app=locks or app=sleepers"
static const char *const apps[] = { "locks", "sleepers" };
#else
#define APPS "app=locks"
static const char *const apps[] = { "locks" };
#endif

static bool
app_known(const char *a)
{
	for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++)
		if (strcmp(a, apps[i]) == 0)
			return true;
	return false;
}

// Read app=, lock= and ms= before "kit: ready", so a mistake is a panic
// before the host starts to measure.
void
locktest_init(void)
{
	const char *a = cmdline_get("app"), *k = cmdline_get("lock");

	if (a == NULL)
		return;
	if (!app_known(a))
		panic("unknown app '%s' (%s)", a, APPS);
	if (strcmp(a, "locks") != 0)
		return;                 // another app's: its own file reads its options
	app.on = true;
	app.ms = cmdline_num("ms", DEFAULT_MS, 1, 1000000000);
	if (k == NULL)
		panic("app=locks needs lock=tas, ttas, ticket or none");
	if (strcmp(k, "none") == 0)
		return;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(k, kinds[i]) == 0) {
			lock.kind = i;
			app.locked = true;
			return;
		}
	panic("unknown lock '%s' (lock=tas, ttas, ticket or none)", k);
}

// <<locktest
void
locktest(void)
{
	static struct run r;
	u64 hz = kit_stats.tsc_hz, lost;

	if (!app.on)
		return;
	r.lock = app.locked ? &lock : NULL;
	r.ticks = app.ms * hz / 1000;
	u64 t0 = rdtsc();
	u64 n = run(&r, &lost);
	u64 us = (rdtsc() - t0) * 1000000 / hz;

	kprintf("locks: %s pause=%d: %d cpus, %lu increments in %lu ms, %lu/s\n",
	    app.locked ? kinds[lock.kind] : "none", spin_pause, ncpu, n, us / 1000,
	    n * 1000000 / us);
	if (lost == 0)
		kprintf("locks: OK\n");
	else
		kprintf("locks: FAIL lost %lu of %lu increments\n", lost, n);
}
// >>locktest

// Each lock kind keeps the count exact with every CPU contending.
const char *
test_spinlock(void)
{
	static struct run r;
	static struct spinlock l __attribute__((aligned(64)));
	u64 lost;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		l = (struct spinlock){ .kind = k };
		r = (struct run){ .lock = &l, .ticks = TEST_MS * kit_stats.tsc_hz / 1000 };
		u64 n = run(&r, &lost);
		if (n == 0 || lost != 0)
			return fail("%s: lost %lu of %lu increments", kinds[k], lost, n);
	}
	return NULL;
}
