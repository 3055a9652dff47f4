// main.c: kmain, where the C kernel starts.
//
// boot/entry.S calls kmain in 64-bit mode on the boot stack, with
// interrupts off and .bss zeroed.  The loader put the start info and the
// command line in low memory, which the identity map covers.

#include "types.h"
#include "defs.h"
#include "pvh.h"
#include "stats.h"
#include "x86.h"

#ifndef KIT_STAGE_NAME
#error "KIT_STAGE_NAME is undefined: build with kernel/Makefile"
#endif

// <<kmain
void
kmain(struct hvm_start_info *si)
{
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
	if (cmdline_has("crash"))
		crash(cmdline_get("crash"));
	if (cmdline_has("test"))
		selftest();

	kit_stats.ready_tsc = rdtsc();
	kprintf("kit: ready\n");
	idle(policy);
}
// >>kmain
