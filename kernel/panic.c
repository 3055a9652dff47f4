// panic.c: the ways out of the kernel.

#include "types.h"
#include "defs.h"
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

// Set by the first panic.  A fault while the panic prints would panic
// again; that second panic exits at once instead of recursing.
static bool panicking;

// <<panic
void
panic(const char *fmt, ...)
{
	va_list ap;

	cli();
	if (panicking)
		exit_qemu(KIT_EXIT_FAILURE);
	panicking = true;

	kprintf("kit: panic ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	exit_qemu(KIT_EXIT_FAILURE);
}
// >>panic
