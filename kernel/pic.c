// pic.c: the two legacy 8259A interrupt controllers.
//
// No stage takes the PICs' interrupts (the sched stage takes only the
// local APIC's), so every stage masks every line of both PICs:
// writing OCW1 to the odd port (0x21 on the master, 0xa1 on the slave) sets
// the interrupt mask register, a 1 bit masking its line (Intel 8259A
// datasheet, "Operation Command Words").  A masked line never raises INTR,
// so the vectors the firmware left programmed (IRQ 0 at vector 8 by the
// BIOS convention, which is #DF) never reach the CPU, and nothing ends the
// idle loop's hlt in the stages before sched.

#include "types.h"
#include "defs.h"
#include "x86.h"

#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

void
pic_disable(void)
{
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
}
