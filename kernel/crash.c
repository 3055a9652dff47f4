// crash.c: failure on request (crash=<kind>), so the host's error
// reporting can be tested against each way a kernel can end badly.

#include "types.h"
#include "defs.h"
#include "mmu.h"
#include "x86.h"

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
	// the #DF handler shuts the CPU down (SDM Vol. 3A 6.15, Interrupt 8).
	// QEMU treats shutdown as a reset, and with -no-reboot exits with 0.
	if (strcmp(kind, "triple") == 0) {
		struct dtr none = { .limit = 0, .base = 0 };
		lidt(&none);
		asm volatile("int3");
	}

	// Stop before "kit: ready", so the host's wait for it times out.
	if (strcmp(kind, "hang") == 0)
		for (;;) {
			cli();
			hlt();
		}

	panic("unknown crash kind '%s' (panic, ud, pf, triple or hang)", kind);
}
