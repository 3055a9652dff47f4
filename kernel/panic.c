// panic.c: the ways out of the kernel.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "x86.h"

// <<exit-device
// QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,
// iosize=0x04) ends QEMU when the guest writes a value v to its port; the
// exit status is (v << 1) | 1 (QEMU hw/misc/debugexit.c).  So a guest can
// never make QEMU exit 0: with -no-reboot, status 0 means a triple fault.
#define EXIT_PORT 0xf4

void
exit_qemu(u8 code)
{
	outb(EXIT_PORT, code);
	// Without the device the write does nothing: stop here.  With
	// interrupts off only an NMI or SMI ends a hlt, and the loop halts again.
	for (;;) {
		cli();
		hlt();
	}
}
// >>exit-device

// 1 + the number of the first CPU to panic, 0 before any panic.  Only
// that CPU reports; a fault while it prints would panic again, and that
// second panic exits at once instead of recursing.  Another CPU that
// panics meanwhile stops, silent: one report, whole, is worth more.
static volatile int panicking;

static char why[256];           // only the first CPU to panic writes it

void
panic(const char *fmt, ...)
{
	va_list ap;
	int me = cpunum() + 1;

	cli();
	int first = __sync_val_compare_and_swap(&panicking, 0, me);   // lock cmpxchg
	if (first == me)
		exit_qemu(KIT_EXIT_FAILURE);
	if (first != 0)
		for (;;)
			hlt();          // interrupts are off: for good

	va_start(ap, fmt);
	kvsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	kprintf("kit: panic %s\n", why);       // one kprintf: one line, whole
	exit_qemu(KIT_EXIT_FAILURE);
}
