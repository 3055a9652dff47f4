// crash.c: failure on request (crash=<kind>), so the host's error
// reporting can be tested against each way a kernel can end badly.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "mmu.h"
#include "x86.h"

#if KIT_STAGE_LEVEL >= STAGE_CORES
static void
ud_on_cpu1(void *arg)
{
	(void)arg;
	if (cpunum() == 1)
		asm volatile("ud2");
}
#endif

void
crash(const char *kind)
{
	if (strcmp(kind, "panic") == 0)
		panic("crash requested");

	if (strcmp(kind, "ud") == 0)
		asm volatile("ud2");    // #UD, reported by trap()

	if (strcmp(kind, "pf") == 0)
		(void)*(volatile u64 *)IDMAP_END;   // #PF: the first unmapped byte

	// With an empty IDT, int3 cannot be delivered, which raises #GP; #GP
	// cannot be delivered either, which raises #DF; a fault while invoking
	// the #DF handler shuts the CPU down (SDM Vol. 3A 7.15, Interrupt 8).
	// QEMU treats shutdown as a reset, and with -no-reboot exits with 0.
	if (strcmp(kind, "triple") == 0) {
		struct dtr none = { .limit = 0, .base = 0 };
		lidt(&none);
		asm volatile("int3");
	}

#if KIT_STAGE_LEVEL >= STAGE_CORES
	// #UD on CPU 1, once it is up: the panic must name CPU 1.
	if (strcmp(kind, "ap-ud") == 0) {
		if (ncpu < 2)
			panic("crash=ap-ud: no AP to crash, this machine has one CPU");
		onall(ud_on_cpu1, NULL);        // never returns: CPU 1's panic ends the run
	}
#endif

	// Stop before "kit: ready", so the host's wait for it times out.
	if (strcmp(kind, "hang") == 0)
		for (;;) {
			cli();
			hlt();
		}

#if KIT_STAGE_LEVEL >= STAGE_CORES
	panic("unknown crash kind '%s' (panic, ud, pf, triple, hang or ap-ud)", kind);
#else
	panic("unknown crash kind '%s' (panic, ud, pf, triple or hang)", kind);
#endif
}
