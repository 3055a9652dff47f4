// idle.c: what a CPU does when it has nothing to do, before the
// scheduler (stages boot to spinlocks).  From the sched stage on, each
// core's idle thread takes its place (idlethread.c).
//
// The idle loop is all a CPU does after its work.  The host cannot ask
// an idle guest what it is doing without waking it, so each loop reports
// its progress in the CPU's record of kit_stats (stats.h), which the
// host reads from guest RAM.  Only this CPU writes its record.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "stats.h"
#include "x86.h"

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

// <<idle-hlt
// Before the scheduler there is no work to look for and no interrupt
// source (the PIC is masked and no timer is armed), so the CPU halts once,
// for good; the host adds the ongoing halt, now - halt_since, itself.
static _Noreturn void
idle_hlt(volatile struct cpustats *c)
{
	for (;;) {
		cli();          // interrupts stay off until the hlt
		halt(c);        // halt.c
	}
}
// >>idle-hlt

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
