// ioapic.c: the I/O APIC, which turns device interrupt lines into
// messages to local APICs (Intel 82093AA I/O Advanced Programmable
// Interrupt Controller datasheet, order 290566-001).
//
// The MADT gives the first I/O APIC's address and the first global
// system interrupt (GSI) it serves (acpi.c): its input pin n is GSI
// gsibase + n.  Each pin has a redirection entry that says which vector
// goes to which local APIC, how the line signals, and whether the pin is
// masked.  ISA devices name IRQs, which the MADT's overrides map to GSIs
// (acpi_isa_gsi).
//
// Its registers are reached through two memory-mapped ones (3.1 Memory
// Mapped Registers for Accessing IOAPIC Registers): IOREGSEL at +0x00
// selects a register, and IOWIN at +0x10 reads or writes the selected
// one, 32 bits at a time.
// Cache type: the I/O APIC lies at 0xfec00000 on PCs, in the top of the
// 32-bit space that the firmware's MTRRs make uncacheable, as the local
// APIC's page (lapic.c says why that is enough).
//
// Invariants:
//  - Every pin is masked but those ioapic_route() unmasked: a device this
//    kernel does not drive interrupts nobody.
//  - A select and its access are one step under lock: two CPUs could
//    otherwise each select and then read the other's register.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "cpu.h"
#include "ioapic.h"
#include "spinlock.h"

static volatile u32 *regs;      // at machine.ioapic; NULL when there is none
static int npin;                // its redirection entries
static struct spinlock lock = { .kind = LOCK_TAS };
static u32 routed[NPIN_MAX];    // the low half ioapic_route() wrote a pin; 0: masked
static u32 routedto[NPIN_MAX];  // and the high half

u32
ioapic_read(u32 reg)
{
	acquire(&lock);
	regs[IOREGSEL / 4] = reg;
	u32 v = regs[IOWIN / 4];
	release(&lock);
	return v;
}

static void
ioapic_write(u32 reg, u32 v)
{
	acquire(&lock);
	regs[IOREGSEL / 4] = reg;
	regs[IOWIN / 4] = v;
	release(&lock);
}

// Once, on the boot CPU: find the I/O APIC and mask every pin.  Reset
// leaves them masked (3.2.4: the mask bit is 1 after reset), but the
// firmware may have unmasked some for its own use.  Returns whether this
// machine has one.
bool
ioapic_init(void)
{
	if (machine.ioapic == 0) {
		kprintf("ioapic: none\n");
		return false;
	}
	regs = (volatile u32 *)(uptr)machine.ioapic;
	u32 ver = ioapic_read(IOAPICVER);
	npin = (ver >> 16 & 0xff) + 1;
	if (npin > NPIN_MAX)
		npin = NPIN_MAX;
	for (int n = 0; n < npin; n++) {
		ioapic_write(IOREDTBL + 2 * n, RED_MASKED);
		ioapic_write(IOREDTBL + 2 * n + 1, 0);
	}
	kprintf("ioapic: 0x%x id %u version 0x%x, %d pins from gsi %u, all masked\n",
	    machine.ioapic, machine.ioapic_id, ver & 0xff, npin, machine.ioapic_gsi);
	return true;
}

// <<ioapic-route
// Deliver global system interrupt gsi as vector to the CPU whose local
// APIC id is apicid; flags (acpi.h, ACPI_POL_* | ACPI_TRIG_*) say how the
// line signals, and 0 means as the ISA bus does: edge, active high.  The
// high half goes first, while the pin is still masked, and the low half,
// written last, unmasks it, so no interrupt leaves with half an entry.
void
ioapic_route(u32 gsi, u32 vector, u32 apicid, u32 flags)
{
	u32 pin = gsi - machine.ioapic_gsi;

	if (regs == NULL || gsi < machine.ioapic_gsi || pin >= (u32)npin)
		panic("ioapic: gsi %u is not on the I/O APIC", gsi);
	u32 lo = RED_FIXED | (vector & RED_VECTOR);     // physical destination
	if ((flags & ACPI_POL_MASK) == ACPI_POL_LOW)
		lo |= RED_LOW;
	if ((flags & ACPI_TRIG_MASK) == ACPI_TRIG_LEVEL)
		lo |= RED_LEVEL;
	ioapic_write(IOREDTBL + 2 * pin, RED_MASKED);
	ioapic_write(IOREDTBL + 2 * pin + 1, apicid << RED_DEST_SHIFT);
	ioapic_write(IOREDTBL + 2 * pin, lo);
	routed[pin] = lo;
	routedto[pin] = apicid << RED_DEST_SHIFT;
}
// >>ioapic-route

// The same for an ISA device's IRQ, through the MADT's overrides: the
// GSI it drives and how (acpi_isa_gsi).  Returns the GSI.
u32
ioapic_route_isa(int irq, u32 vector, u32 apicid)
{
	u32 flags, gsi = acpi_isa_gsi(irq, &flags);

	ioapic_route(gsi, vector, apicid, flags);
	return gsi;
}

// The low half of gsi's redirection entry, as the I/O APIC holds it.
u32
ioapic_entry(u32 gsi)
{
	u32 pin = gsi - machine.ioapic_gsi;

	if (regs == NULL || gsi < machine.ioapic_gsi || pin >= (u32)npin)
		return RED_MASKED;
	return ioapic_read(IOREDTBL + 2 * pin);
}

// How many pins the I/O APIC has, 0 if there is none; and what
// ioapic_route() wrote pin n: its entry's low half (RED_MASKED if it
// never routed the pin) and high half.
int
ioapic_npin(void)
{
	return regs != NULL ? npin : 0;
}

void
ioapic_routed(int n, u32 *lo, u32 *hi)
{
	*lo = routed[n] != 0 ? routed[n] : RED_MASKED;
	*hi = routedto[n];
}
