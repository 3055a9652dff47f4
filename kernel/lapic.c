// lapic.c: each CPU's local APIC, in xAPIC mode (SDM Vol. 3A chapter 11,
// Advanced Programmable Interrupt Controller (APIC)).
//
// Every local APIC answers at the same physical address, the one the MADT
// gives (0xfee00000 on PCs): an access there reaches the local APIC of the
// CPU that makes it (11.4.1 The Local APIC Block Diagram).  Its registers
// are 32 bits wide, one every 16 bytes, and are read and written with
// aligned 32-bit accesses only (11.4.1).
//
// Cache type: the identity map (boot/entry.S) maps the APIC's page as it
// maps RAM, write-back by its page-table bits (PAT entry 0), yet the
// registers must not be cached (11.4.1: map them strong uncacheable).
// They are not: the firmware's MTRRs make the top of the 32-bit space
// uncacheable (12.11 Memory Type Range Registers; QEMU's SeaBIOS sets one
// variable range, 2 GiB to 4 GiB, to UC), and an MTRR type of UC makes the
// effective type UC whatever the PAT says (12.5.2.2, table 12-7).  INIT
// leaves the MTRRs as they were (10.1.1, table 10-1), so the APs agree.
//
// The cores stage sends IPIs and measures the timer, with no local APIC
// interrupt unmasked.  The sched stage programs the timer (periodic or
// one-shot) and sends fixed IPIs to wake other cores.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "cpu.h"
#include "stats.h"
#include "x86.h"

// Register offsets (11.4.1, table 11-1).
#define ID      0x020   // local APIC id, bits 24-31 (11.4.6)
#define EOI     0x0b0   // end of interrupt (11.8.5)
#define SVR     0x0f0   // spurious-interrupt vector (11.9)
#define ICRLO   0x300   // interrupt command, low half: writing it sends (11.6.1)
#define ICRHI   0x310   // interrupt command, high half: destination in bits 24-31
#define LVT_TMR 0x320   // local vector table: timer (11.5.1)
#define TICR    0x380   // timer initial count (11.5.4)
#define TCCR    0x390   // timer current count
#define TDCR    0x3e0   // timer divide configuration

#define SVR_ENABLE  0x100       // APIC software enable
#define SVR_VECTOR  0xff        // spurious vector; bits 0-3 all 1 for older CPUs (11.9)
#define ICR_PENDING 0x1000      // delivery status: not yet accepted
#define LVT_MASKED  0x10000     // the timer counts but never interrupts
#define TDCR_DIV1   0xb         // count at the full bus clock (figure 11-10)
#define LVT_PERIODIC 0x20000    // timer mode 01: reload the initial count at 0 (figure 11-8)
#define ICR_FIXED   0x00000000  // delivery mode fixed: the vector, to the destination (11.6.1)

// IA32_APIC_BASE (11.4.4, figure 11-5).
#define MSR_APIC_BASE  0x1b
#define APIC_BASE_EXTD 0x400    // x2APIC mode
#define APIC_BASE_EN   0x800    // the APIC is on

#define CAL_US 10000            // the timer's rate is measured over 10 ms

u64 lapic_timer_hz;             // timer ticks a second at TDCR_DIV1

static volatile u32 *lapic;     // the registers, at machine.lapic

static u32
lapic_read(u32 reg)
{
	return lapic[reg / 4];
}

static void
lapic_write(u32 reg, u32 v)
{
	lapic[reg / 4] = v;
}

// Turn on this CPU's local APIC.  It is globally enabled in xAPIC mode at
// the MADT's address, as reset leaves it and the firmware kept it (11.4.3
// Enabling or Disabling the Local APIC), but software-disabled, as reset
// and INIT leave it (11.4.7.1, 11.4.7.3): setting the software-enable bit
// of the spurious-interrupt vector register turns it on.
void
lapic_enable(void)
{
	u64 base = rdmsr(MSR_APIC_BASE);

	if ((base & (APIC_BASE_EN | APIC_BASE_EXTD)) != APIC_BASE_EN ||
	    (base & ~0xfffUL) != machine.lapic)
		panic("lapic: cpu %d: IA32_APIC_BASE is 0x%lx, want xAPIC mode at 0x%lx",
		    cpunum(), base, machine.lapic);
	lapic_write(SVR, SVR_ENABLE | SVR_VECTOR);
}

u32
lapic_id(void)
{
	return lapic_read(ID) >> 24;
}

void
lapic_eoi(void)
{
	lapic_write(EOI, 0);
}

// <<icr
// Send the IPI cmd (delivery mode, level, vector) to the CPU with local
// APIC id apicid (11.6.1 Interrupt Command Register): the destination
// goes to the high half first, because writing the low half sends.  The
// delivery-status bit stays set until the APIC has sent the IPI; waiting
// for it to clear before and after keeps one IPI from overwriting another.
void
lapic_ipi(u32 apicid, u32 cmd)
{
	while (lapic_read(ICRLO) & ICR_PENDING)
		pause();
	lapic_write(ICRHI, apicid << 24);
	lapic_write(ICRLO, cmd);
	while (lapic_read(ICRLO) & ICR_PENDING)
		pause();
}
// >>icr

// Timer ticks a second.  The timer counts down from the initial count at
// the bus clock divided by TDCR (11.5.4 APIC Timer); let it run, masked,
// for CAL_US of TSC time and see how far it got.  Later stages program it.
static u64
timer_rate(void)
{
	u64 hz = kit_stats.tsc_hz, ticks = hz * CAL_US / 1000000;

	lapic_write(TDCR, TDCR_DIV1);
	lapic_write(LVT_TMR, LVT_MASKED);       // one-shot
	u64 t0 = rdtsc();
	lapic_write(TICR, 0xffffffff);
	while (rdtsc() - t0 < ticks)
		pause();
	u32 left = lapic_read(TCCR);
	u64 t1 = rdtsc();
	lapic_write(TICR, 0);                   // stop it
	return (0xffffffffUL - left) * hz / (t1 - t0);
}

// The boot CPU's APIC, before the APs start: it will send their IPIs.
void
lapic_init(void)
{
	if (kit_stats.tsc_hz == 0)
		panic("lapic: the TSC rate is unknown, and the AP start-up delays need it");
	lapic = (volatile u32 *)machine.lapic;
	lapic_enable();
	lapic_timer_hz = timer_rate();
	kprintf("lapic: timer %lu MHz\n", lapic_timer_hz / 1000000);
}

#if KIT_STAGE_LEVEL >= STAGE_SCHED
// A fixed IPI: interrupt vector on the CPU with local APIC id apicid.
// Unlike lapic_ipi(), this does not wait for the APIC to send it: it only
// waits, before writing, for the previous IPI to have left, so the two
// writes do not change an ICR still being read (11.6.1: software may
// check the delivery status, and a new IPI waits for the last to go).
// Under QEMU the status is always idle; on hardware it is idle within a
// few hundred bus cycles.  No delay of any kind: Toro's IPI path began
// with a 10 ms one.  Callers run with interrupts off (trap.c), so no
// handler writes the ICR between the two writes.
void
lapic_send(u32 apicid, u32 vector)
{
	while (lapic_read(ICRLO) & ICR_PENDING)
		pause();
	lapic_write(ICRHI, apicid << 24);
	lapic_write(ICRLO, ICR_FIXED | vector);
}

// <<lapic-timer
// The timer counts down from the initial count at the bus clock divided
// by TDCR, and interrupts with the LVT's vector when it reaches 0 (11.5.4
// APIC Timer).  In periodic mode it then reloads the initial count and
// goes on; in one-shot mode it stops.  Writing the initial count starts
// it; writing 0 stops it.  Both run at TDCR_DIV1, the rate lapic_init()
// measured.

// Interrupt hz times a second, until stopped.
void
lapic_timer_periodic(u32 vector, u64 hz)
{
	u64 count = lapic_timer_hz / hz;

	lapic_write(TDCR, TDCR_DIV1);
	lapic_write(LVT_TMR, LVT_PERIODIC | vector);
	lapic_write(TICR, count > 0xffffffff ? 0xffffffff : count ? count : 1);
}

// Interrupt once, after ticks timer ticks (at least 1, at most 2^32 - 1:
// a later deadline is reached in several steps, the caller re-arming).
void
lapic_timer_oneshot(u32 vector, u64 ticks)
{
	lapic_write(TDCR, TDCR_DIV1);
	lapic_write(LVT_TMR, vector);           // mode 00: one-shot
	lapic_write(TICR, ticks > 0xffffffff ? 0xffffffff : ticks ? ticks : 1);
}

void
lapic_timer_stop(void)
{
	lapic_write(TICR, 0);
}
// >>lapic-timer
#endif
