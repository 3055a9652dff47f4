// spinlockstest.c: the self-test of lesson 03, run by selftest.c once every
// CPU is up and before the schedulers start (it needs onall()).

#include "types.h"
#include "defs.h"
#include "spinlock.h"
#include "stats.h"

#define TEST_MS 20

// Each lock kind keeps the count exact with every CPU contending, in the
// lock app's own loop (locks.c).
const char *
test_spinlock(void)
{
	static struct spinlock l __attribute__((aligned(64)));
	u64 lost;

	for (int k = 0; k < NLOCKKIND; k++) {
		l = (struct spinlock){ .kind = k };
		u64 n = locks_contend(&l, TEST_MS * kit_stats.tsc_hz / 1000, &lost);
		if (n == 0 || lost != 0)
			return fail("%s: lost %lu of %lu increments", lock_kinds[k], lost, n);
	}
	return NULL;
}
