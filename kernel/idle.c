// idle.c: what a CPU does when it has nothing to do.
//
// The host cannot ask an idle guest what it is doing without waking it,
// so each loop reports its progress in the CPU's record of kit_stats
// (stats.h), which the host reads from guest RAM.  Only this CPU writes
// its record.
//
// Before the sched stage the idle loop is all a CPU does after its work.
// From sched on, it is each core's idle thread (sched.h), which runs when
// no thread is ready; the policy says how it waits: spin (the default in
// sched, as Toro did) or hlt (the default again from idle on).  From idle
// on the console changes the policy at run time (idle_set).

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "sched.h"
#include "stats.h"
#include "x86.h"

// The default: halt, but in the scheduler's first stage spin, as Toro did.
#if KIT_STAGE_LEVEL >= STAGE_SCHED && KIT_STAGE_LEVEL < STAGE_IDLE
#define IDLE_DEFAULT IDLE_SPIN
#else
#define IDLE_DEFAULT IDLE_HLT
#endif

enum idle_policy
idle_policy(const char *name)
{
	if (name == NULL)
		return IDLE_DEFAULT;
	if (strcmp(name, "hlt") == 0)
		return IDLE_HLT;
	if (strcmp(name, "spin") == 0)
		return IDLE_SPIN;
	panic("unknown idle policy '%s' (idle=spin or idle=hlt)", name);
}

#if KIT_STAGE_LEVEL < STAGE_SCHED
// <<idle-spin
// Spin: the CPU never stops, so the host thread that runs it burns a whole
// host core.  No pause either: that is a later lesson.
static _Noreturn void
idle_spin(volatile struct cpustats *c)
{
	for (;;) {
		c->idle_passes++;
		c->last_tsc = rdtsc();
	}
}
// >>idle-spin
#endif

// <<idle-hlt
// Halt until an interrupt.  Interrupts are off everywhere in the idle loop
// except inside "sti; hlt".
//
// Why that pair: a loop that looks for work with interrupts on and then
// halts can lose a wake-up, when the interrupt that brings the work comes
// after the look and before the hlt; the CPU then sleeps with work to do.
// With interrupts off the look cannot be overtaken, and STI lets the CPU
// recognise interrupts only after the instruction that follows it (SDM
// Vol. 2B, STI), so an interrupt pending at the sti is taken once hlt
// has begun, and ends it.  No interrupt slips in between.
//
// The counters of a halt change inside seq, which is odd while they
// change.  Called, and returns, with interrupts off.
static void
halt(volatile struct cpustats *c)
{
	c->seq++;
	c->halts++;
	c->halt_since = rdtsc();
	c->last_tsc = c->halt_since;
	c->seq++;

	sti_hlt();
	cli();          // no handler runs while seq is odd: the host waits less

	c->seq++;
	u64 now = rdtsc();
	c->halted_tsc += now - c->halt_since;
	c->halt_since = 0;
	c->last_tsc = now;
	c->seq++;
	c->idle_passes++;
}

#if KIT_STAGE_LEVEL < STAGE_SCHED
// Before the scheduler there is no work to look for and no interrupt
// source (the PIC is masked and no timer is armed), so the CPU halts once,
// for good; the host adds the ongoing halt, now - halt_since, itself.
static _Noreturn void
idle_hlt(volatile struct cpustats *c)
{
	for (;;) {
		cli();          // interrupts stay off until the hlt
		halt(c);
	}
}
#endif
// >>idle-hlt

#if KIT_STAGE_LEVEL >= STAGE_SCHED
// <<idle-sched-spin
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
// >>idle-sched-spin

// <<idle-sched-hlt
// Halt, race-free: with interrupts off, look for work once more (a
// message or a deadline may have come since schedule() looked), arm the
// one-shot for the earliest deadline if tickless, then halt().  What
// comes after the look raises an interrupt (an IPI from sched_post, the
// timer), which stays pending until the sti, and then ends the hlt (see
// halt() above for why the pair is atomic).
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

// <<idle-sched
// The idle thread of a core (sched.h): run the ready threads; when none
// is left, wait by the policy, and look again.  Interrupts are off here
// too, but inside the waits above, which are the only places in the
// kernel where they are on (trap.c).  Returns once thread t has exited
// and has been reaped (the self-tests wait so), never if t is NULL.
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
// >>idle-sched

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// <<idle-set
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
// >>idle-set
#endif

// Every CPU runs its scheduler, and the apps start: the APs' idle threads
// start in sched_start(), and this one's here.
void
idle(enum idle_policy policy)
{
	(void)policy;                   // sched_init() took it
	sched_start();
	sleepers_start();
#if KIT_STAGE_LEVEL >= STAGE_IDLE
	lateness_start();
	console_start();                // its thread lives on this core, where the UART interrupts
#endif
#if KIT_STAGE_LEVEL >= STAGE_POLL
	prodcons_start();
#endif
	idle_until(NULL);
	panic("idle: the idle thread returned");
}
#else
// This CPU idles by the policy *arg, on its own record.
static _Noreturn void
idle_here(void *arg)
{
	volatile struct cpustats *c = mystats();

	if (*(enum idle_policy *)arg == IDLE_SPIN)
		idle_spin(c);
	idle_hlt(c);
}

// Every CPU idles by the same policy: the APs as their last work
// (kernel/smp.c), and this one.
void
idle(enum idle_policy policy)
{
#if KIT_STAGE_LEVEL >= STAGE_CORES
	onaps(idle_here, &policy);      // idle() never returns: policy outlives the APs' reads
#endif
	idle_here(&policy);
}
#endif
