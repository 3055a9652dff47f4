// halt.c: halt until an interrupt, and account for the halt in this
// CPU's record of kit_stats (stats.h), which the host reads from guest
// RAM.  Both idle loops halt here: the one before the scheduler
// (idle.c) and each core's idle thread from the sched stage on
// (idlethread.c).

#include "types.h"
#include "defs.h"
#include "stats.h"
#include "x86.h"

// <<halt
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
void
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
// >>halt
