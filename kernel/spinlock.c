// spinlock.c: spin locks.
//
// A spin lock makes CPUs take turns at a critical section: acquire()
// returns once this CPU holds the lock, trying again and again, spinning,
// until it does; release() lets the next CPU in.  No CPU sleeps, and no
// interrupt handler takes a lock: in these stages interrupts are off
// everywhere but the idle loop's sti; hlt.
//
// Invariants:
//  - At most one CPU holds a lock, and only the holder releases it.
//  - A CPU never acquires a lock it holds, which would spin forever: that
//    is a panic instead.
//  - The critical section stays inside: the locked instruction that takes
//    a lock is a full barrier, which no load or store passes, and the
//    plain store that frees it is not reordered with the loads and stores
//    before it (SDM Vol. 3A 9.2.2 Memory Ordering in P6 and More Recent
//    Processor Families).  The "memory" clobbers keep gcc from moving the
//    section's accesses across either.
//
// Lesson 02 needs one lock, for the console, and uses test-and-set.
// Lesson 03 adds test-and-test-and-set and the ticket lock, and
// the locks app (kernel/locks.c) makes every CPU fight for one of them.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "spinlock.h"
#include "x86.h"

// <<pause
// PAUSE tells the CPU that it is in a spin-wait loop (SDM Vol. 2B PAUSE).
// The CPU then waits a little before the next try, so that leaving the
// loop does not pay for a mis-speculated memory order, and draws less
// power; on a core with two hardware threads it leaves the pipeline to the
// other thread meanwhile (SDM Vol. 3A 9.10.6.1 Use the PAUSE Instruction
// in Spin-Wait Loops).  A hypervisor may watch for it too: with PAUSE-loop
// exiting, a vCPU that loops on pause for long exits to the host (SDM Vol.
// 3C, Instructions That Cause VM Exits Conditionally), which can run
// another vCPU instead, perhaps the lock's holder.
//
// What pause never does is stop the CPU.  Under QEMU's TCG it ends the
// block of translated code and returns to the vCPU's loop "to let another
// CPU run" (target/i386/tcg/misc_helper.c), which helps only when one host
// thread takes the vCPUs in turn; with a thread per vCPU that thread runs
// on, and the host core it occupies stays busy with or without pause.
bool spin_pause = true;         // pause=0 on the command line turns it off

static inline void
relax(void)
{
	if (spin_pause)
		pause();
}
// >>pause

// <<tas
// XCHG with a memory operand is atomic without a LOCK prefix: the CPU
// locks it on its own (SDM Vol. 3A 9.1.2.1 Automatic Locking).
static inline u32
xchg(volatile u32 *p, u32 v)
{
	asm volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

// Test-and-set: swap in 1; the CPU that swaps out a 0 holds the lock.
// Every try is a locked write, which needs the lock's cache line in this
// CPU's cache exclusively, so while one CPU holds the lock the others
// pass the line from cache to cache with every try, and the holder waits
// for the line too when it comes to release.
static u64
tas_acquire(struct spinlock *l)
{
	u64 spins = 0;

	while (xchg(&l->locked, 1) != 0) {
		spins++;
		relax();
	}
	return spins;
}
// >>tas

#if KIT_STAGE_LEVEL >= STAGE_SPINLOCKS
// <<ttas
// Test-and-test-and-set: wait with plain loads until the lock reads free,
// then try the xchg.  A line that only loads touch can sit in every
// waiter's cache at once (shared), so waiting costs no traffic; the line
// moves when the holder's release invalidates the copies, and then every
// waiter misses, reloads and races with its xchg, one wins and the rest
// go back to reading.  The traffic is a burst per release, not a storm
// per try.
static u64
ttas_acquire(struct spinlock *l)
{
	u64 spins = 0;

	for (;;) {
		while (l->locked != 0) {
			spins++;
			relax();
		}
		if (xchg(&l->locked, 1) == 0)
			return spins;
	}
}
// >>ttas

// <<ticket
// Fetch-and-add: add v to *p and return the old value, atomically with
// the LOCK prefix (SDM Vol. 2B XADD; Vol. 3A 9.1.2.2 Software Controlled
// Bus Locking).
static inline u32
xadd(volatile u32 *p, u32 v)
{
	asm volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

// Ticket lock: take a number, wait until it is called.  One locked
// instruction per acquire hands out distinct tickets in the order CPUs
// arrive, and owner moves up one ticket at a time, so CPUs enter in
// ticket order: first come, first served.  No CPU can be overtaken, and
// one with n CPUs ahead of it waits for n critical sections at most;
// test-and-set promises nothing of the kind, since whichever xchg reaches
// the line first wins.  The price: every waiter rereads owner after every
// release, and if the CPU whose turn it is does not run (a vCPU the host
// has descheduled), everyone behind it waits too.
static u64
ticket_acquire(struct spinlock *l)
{
	u32 ticket = xadd(&l->next, 1);
	u64 spins = 0;

	while (l->owner != ticket) {
		spins++;
		relax();
	}
	return spins;
}
// >>ticket
#endif

u64
acquire(struct spinlock *l)
{
	u64 spins;

	if (holding(l))
		panic("acquire: cpu %d already holds the lock", cpunum());
	switch (l->kind) {
	case LOCK_TAS:
		spins = tas_acquire(l);
		break;
#if KIT_STAGE_LEVEL >= STAGE_SPINLOCKS
	case LOCK_TTAS:
		spins = ttas_acquire(l);
		break;
	case LOCK_TICKET:
		spins = ticket_acquire(l);
		break;
#endif
	default:
		panic("acquire: lock kind %d is not in stage %s", l->kind, KIT_STAGE_NAME);
	}
	l->holder = mycpu();
	return spins;
}

void
release(struct spinlock *l)
{
	if (!holding(l))
		panic("release: cpu %d does not hold the lock", cpunum());
	l->holder = NULL;
	asm volatile("" : : : "memory");        // gcc: the critical section ends here
	if (l->kind == LOCK_TICKET)
		l->owner = l->owner + 1;        // only the holder writes owner: no atomic needed
	else
		l->locked = 0;
}

// Only this CPU can make holder point to it, so the answer is exact for
// this CPU, whatever the others do meanwhile.
bool
holding(const struct spinlock *l)
{
	return l->holder == mycpu();
}

void
spinlock_init(void)
{
	const char *p = cmdline_get("pause");

	if (p == NULL || strcmp(p, "1") == 0)
		spin_pause = true;
	else if (strcmp(p, "0") == 0)
		spin_pause = false;
	else
		panic("unknown pause '%s' (pause=0 or pause=1)", p);
}
