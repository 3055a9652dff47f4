// idlethread.c: each core's idle thread, from the sched stage on.
//
// The idle thread (sched.h) runs when no other thread of its core is
// ready.  It runs the ready threads, and when none is left waits by the
// idle policy (policy.c): spin (the default in sched, as Toro did) or hlt
// (the default again from idle on).  From idle on the console changes
// the policy at run time (idle_set).  As before the scheduler (idle.c),
// each wait reports its progress in this CPU's record of kit_stats.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

// Spin, the scheduler's way: one pass looks for work (the caller's
// schedule() polls the inbox and the timer queue) and opens a window for
// interrupts.  The host thread of this CPU never sleeps.
static void
idle_spin(volatile struct cpustats *c)
{
	c->idle_passes++;
	c->last_tsc = rdtsc();
	intr_window();
}

// <<idle-sched-hlt
// Halt, race-free: with interrupts off, look for work once more (a
// message or a deadline may have come since schedule() looked), arm the
// one-shot for the earliest deadline if tickless, then halt().  What
// comes after the look raises an interrupt (an IPI from sched_post, the
// timer), which stays pending until the sti, and then ends the hlt (see
// halt() for why the pair is atomic).
static void
idle_halt(volatile struct cpustats *c)
{
#if KIT_STAGE_LEVEL >= STAGE_POLL
	if (poll_before_halt(c))
		return;                 // work came: while it spun, or in the last look (poll.c)
#else
	if (sched_poll())
		return;                 // work came: run it first
#endif
	timer_arm(&mysched()->timers);
	halt(c);
#if KIT_STAGE_LEVEL >= STAGE_POLL
	poll_after_halt();              // Toro's pollers wake (poll.c)
#endif
}
// >>idle-sched-hlt

// The idle thread of a core: run the ready threads; when none is left,
// wait by the policy, and look again.  Interrupts are off here too, but
// inside the waits above, which are the only places in the kernel where
// they are on (trap.c).  Returns once thread t has exited and has been
// reaped (the self-tests wait so), never if t is NULL.
void
idle_until(struct thread *t)
{
	volatile struct cpustats *c = mystats();

	for (;;) {
		schedule();             // back when no thread is ready
		if (t != NULL && thread_reap(t))
			return;
#if KIT_STAGE_LEVEL >= STAGE_IDLE
		timer_sync();           // the tick changed at run time: reprogram it here
#endif
		if (sched_policy == IDLE_SPIN)
			idle_spin(c);
		else
			idle_halt(c);
	}
}

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// The policy at run time (console.c).  idle_until() reads sched_policy
// afresh on each pass (it calls out of this file in between, so the
// compiler cannot keep it in a register), so a spinning core switches on
// its next pass; but a halted core makes no pass until an interrupt, and
// tickless with nothing to wait for, none may come.  So each other core
// gets an IPI, which ends its halt; it finds no message, and goes round
// by the new policy.
void
idle_set(enum idle_policy policy)
{
	__atomic_store_n(&sched_policy, policy, __ATOMIC_SEQ_CST);
	sched_kick_others();
}
#endif

// Every core runs its scheduler, if an app has not started them yet:
// the APs' idle threads start in sched_start(), and this one's here.
void
idle(enum idle_policy policy)
{
	(void)policy;                   // sched_init() took it
	sched_start();
	idle_until(NULL);
	panic("idle: the idle thread returned");
}
