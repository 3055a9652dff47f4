// idle.c: what a CPU does when it has nothing to do.
//
// The host cannot ask an idle guest what it is doing without waking it,
// so each loop reports its progress in the CPU's record of kit_stats
// (stats.h), which the host reads from guest RAM.  Only this CPU writes
// its record.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "stats.h"
#include "x86.h"

enum idle_policy
idle_policy(const char *name)
{
	if (name == NULL || strcmp(name, "hlt") == 0)
		return IDLE_HLT;
	if (strcmp(name, "spin") == 0)
		return IDLE_SPIN;
	panic("unknown idle policy '%s' (idle=spin or idle=hlt)", name);
}

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
// Halt until an interrupt.  Interrupts are off everywhere in this loop
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
// In this stage there is no work to look for and no interrupt source (the
// PIC is masked and no timer is armed), so the CPU halts once, for good;
// the host adds the ongoing halt, now - halt_since, itself.  The counters
// of a halt change inside seq, which is odd while they change.
static _Noreturn void
idle_hlt(volatile struct cpustats *c)
{
	for (;;) {
		cli();          // interrupts stay off until the hlt
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
