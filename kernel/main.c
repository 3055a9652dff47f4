// main.c: kmain, where the C kernel starts.
//
// boot/entry.S calls kmain in 64-bit mode on the boot stack, with
// interrupts off and .bss zeroed.  The loader put the start info and the
// command line in low memory, which the identity map covers.
//
// Each stage adds its steps here, under #if KIT_STAGE_LEVEL (stage.h).

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "pvh.h"
#include "spinlock.h"
#include "stats.h"
#include "x86.h"
#if KIT_STAGE_LEVEL >= STAGE_NET
#include "net.h"
#endif

#if !defined(KIT_STAGE_NAME) || KIT_STAGE_LEVEL < STAGE_BOOT
#error "KIT_STAGE_NAME or KIT_STAGE_LEVEL is undefined: build with kernel/Makefile"
#endif

// The name of the stage numbered level (stage.h), for messages.
const char *
stage_name(int level)
{
	static const char *const names[] = STAGE_NAMES;

	if (level < 1 || level >= (int)(sizeof names / sizeof names[0]))
		return "?";
	return names[level];
}

// <<kmain
void
kmain(struct hvm_start_info *si)
{
#if KIT_STAGE_LEVEL >= STAGE_CORES
	cpu0_init();                    // first: mycpu() and the console lock need it
#endif
	uart_init();
	kprintf("kit: boot %s\n", KIT_STAGE_NAME);
	trap_init();
	pic_disable();

	if (si->magic != HVM_START_MAGIC)
		panic("bad PVH start info magic 0x%x", si->magic);
	const char *args = si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
	kprintf("cmdline: %s\n", args);
	cmdline_init(args);

	stats_init();
	tsc_init();

	enum idle_policy policy = idle_policy(cmdline_get("idle"));
#if KIT_STAGE_LEVEL >= STAGE_CORES
	spinlock_init();
	acpi_init(si);
	lapic_init();
	smp_init();                     // every CPU up, the APs waiting for work
#endif
#if KIT_STAGE_LEVEL >= STAGE_SCHED
	sched_init(policy);             // tick=; this core's scheduler
#endif
#if KIT_STAGE_LEVEL >= STAGE_IDLE
	ioapic_init();                  // every pin masked
	console_init();                 // but COM1's: typed lines interrupt this core
#endif
#if KIT_STAGE_LEVEL >= STAGE_NET
	net_init();                     // PCI, and the network card if there is one
#endif
	app_init();                     // app=, and the app's own options (app.c)
	if (cmdline_has("crash"))
		crash(cmdline_get("crash"));
	if (cmdline_has("test"))
		selftest();

	kit_stats.ready_tsc = rdtsc();
	kprintf("kit: ready\n");
	app_start();                    // the app app= chose, if any: on this CPU
#if KIT_STAGE_LEVEL >= STAGE_IDLE
	console_start();                // its thread lives on this core, where the UART interrupts
#endif
#if KIT_STAGE_LEVEL >= STAGE_NET
	net_start();                    // its thread lives where the card's interrupts go
#endif
	idle(policy);                   // every CPU
}
// >>kmain
