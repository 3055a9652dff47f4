// spinlockstest.c: the self-test of lesson 03, run by selftest.c once every
// CPU is up and before the schedulers start (it needs onall()).

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "spinlock.h"
#include "stats.h"
#include "x86.h"

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

// First come, first served: while CPU 0 holds a ticket lock, the other
// CPUs take tickets one at a time in an order CPU 0 chooses, and once it
// releases they must enter in that order.  CPU 0 lets the next CPU go
// only once next shows the last one's ticket taken, so the order of the
// tickets is known whatever the host's scheduler does with the vCPUs.
// Each round uses another order (rotated, forwards and backwards), so no
// fixed preference among the CPUs can pass for the ticket order.
#define TICKET_WAIT_S 5         // for one vCPU to take its ticket: a loaded host is slow

static struct {
	struct spinlock lock __attribute__((aligned(64)));
	volatile u32 go[NCPU_MAX];      // CPU n acquires once go[n] is set
	int want[NCPU_MAX];             // the order of the tickets: CPU numbers
	volatile int got[NCPU_MAX];     // the order of entry, under the lock
	volatile int nin;               // entries so far, under the lock
	int late;                       // a CPU that took no ticket in time, or 0
} fifo;

static void
fifo_round(void *arg)
{
	(void)arg;
	int me = cpunum();

	if (me != 0) {
		while (!fifo.go[me])
			pause();
		fifo.go[me] = 0;
		acquire(&fifo.lock);
		fifo.got[fifo.nin++] = me;
		release(&fifo.lock);
		return;
	}
	acquire(&fifo.lock);
	u32 taken = fifo.lock.next;     // tickets handed out, CPU 0's included
	for (int k = 0; k < ncpu - 1; k++) {
		int cpu = fifo.want[k];
		fifo.go[cpu] = 1;
		if (fifo.late != 0)
			continue;
		u64 start = rdtsc();
		while (fifo.lock.next == taken + k) {
			if (rdtsc() - start > TICKET_WAIT_S * kit_stats.tsc_hz) {
				fifo.late = cpu;
				break;
			}
			pause();
		}
	}
	release(&fifo.lock);
}

const char *
test_ticketorder(void)
{
	int m = ncpu - 1;               // CPUs that take tickets

	fifo.lock = (struct spinlock){ .kind = LOCK_TICKET };
	for (int round = 0; round < 2 * m; round++) {
		for (int k = 0; k < m; k++) {
			int step = round % 2 == 0 ? k : m - k;
			fifo.want[k] = 1 + (round / 2 + step) % m;
		}
		fifo.nin = 0;
		fifo.late = 0;
		onall(fifo_round, NULL);
		if (fifo.late != 0)
			return fail("cpu %d called acquire but took no ticket in %d s",
			    fifo.late, TICKET_WAIT_S);
		for (int k = 0; k < m; k++)
			if (fifo.got[k] != fifo.want[k])
				return fail("round %d: entry %d was cpu %d, ticket %d was cpu %d's",
				    round, k + 1, fifo.got[k], k + 1, fifo.want[k]);
	}
	return NULL;
}
