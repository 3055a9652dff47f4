// trap.c: the IDT and the exception handler.
//
// Every exception in this stage is fatal but one: the handler reports
// which CPU took which exception where, and ends the run with a failure.
// The exception is #BP (int3), a trap: the CPU saves the address of the
// next instruction (SDM Vol. 3A 7.5 Exception Classifications), so
// returning resumes the program, and the self-test uses it to check the
// whole round trip through the IDT, vectors.S and iretq.
//
// Gates exist for vectors 0-31, and for each interrupt vector of trap.h's
// table IRQS from its row's stage on.  A vector without a present gate
// raises #NP with the vector in the error code (SDM Vol. 3A 7.13 Error
// Code), so even a stray interrupt is reported.
//
// Interrupts (sched): EFLAGS.IF is 1 only inside the idle loop's waits
// (idlethread.c); every other path, threads included, runs with IF = 0.  So an
// interrupt handler only ever interrupts the idle loop between two of
// its passes, never a thread or a half-updated queue, and the handlers
// do no more than count, note, and acknowledge: the idle loop's next pass
// does the work (sched.c).  The UART's handler (idle) also takes the
// bytes out of the UART, and may make a thread of its own core ready,
// which the idle thread it interrupted runs at its next schedule().  An
// interrupt that comes while IF = 0 waits in the APIC's IRR until the
// next wait (SDM Vol. 3A 11.8.4); two of the same vector meanwhile are
// one.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "mmu.h"
#include "sched.h"
#include "stats.h"
#include "trap.h"
#include "x86.h"

static struct gate idt[NIDT];

static void
setgate(int v, u64 a)
{
	idt[v] = (struct gate){
		.off_lo = a,
		.sel = SEG_KCODE,
		.attr = GATE_INTR,
		.off_mid = a >> 16,
		.off_hi = a >> 32,
	};
}

// Mnemonics and names after SDM Vol. 3A table 7-1; 28-30 are AMD's.
static const char *const excname[NEXC] = {
	[0]  = "#DE divide error",
	[1]  = "#DB debug",
	[2]  = "NMI non-maskable interrupt",
	[3]  = "#BP breakpoint",
	[4]  = "#OF overflow",
	[5]  = "#BR bound range exceeded",
	[6]  = "#UD invalid opcode",
	[7]  = "#NM device not available",
	[8]  = "#DF double fault",
	[9]  = "coprocessor segment overrun",
	[10] = "#TS invalid TSS",
	[11] = "#NP segment not present",
	[12] = "#SS stack-segment fault",
	[13] = "#GP general protection",
	[14] = "#PF page fault",
	[16] = "#MF x87 floating-point error",
	[17] = "#AC alignment check",
	[18] = "#MC machine check",
	[19] = "#XM SIMD floating-point exception",
	[20] = "#VE virtualization exception",
	[21] = "#CP control protection",
	[28] = "#HV hypervisor injection",
	[29] = "#VC VMM communication",
	[30] = "#SX security exception",
};

// RIP saved by the last #BP: the address after its int3.
u64 trap_bp_rip;

// trap.h's table of interrupt vectors, as data.
#define DECLARE(vector, stage, handler, counter, name) \
	void handler(void) __attribute__((weak));
IRQS(DECLARE)
#undef DECLARE

static const struct irqsrc {
	u32 vector;
	int stage;              // it has a gate from this stage on
	void (*handler)(void);  // NULL in a stage without its file
	size_t counter;         // offset of its counter in struct cpustats
	const char *name;
} irqsrcs[NIRQ] = {
#define ROW(vector, stage, handler, counter, name) \
	{ vector, stage, handler, offsetof(struct cpustats, counter), name },
	IRQS(ROW)
#undef ROW
};

// The handler of an interrupt that is its own news: an IPI's message is
// in the inbox already, and the idle loop's next pass takes it.
void
trap_none(void)
{
}

void
trap_init(void)
{
	for (int v = 0; v < NEXC; v++)
		setgate(v, vectors[v]);
	for (int i = 0; i < NIRQ; i++) {
		const struct irqsrc *s = &irqsrcs[i];
		if (s->stage > KIT_STAGE_LEVEL)
			continue;
		if (s->handler == NULL)
			panic("trap: the handler of vector 0x%x (%s) is not linked", s->vector, s->name);
		setgate(s->vector, irqvectors[i]);
	}
	idt_load();
}

// Point this CPU's IDTR at the table.  Every CPU loads the same one.
void
idt_load(void)
{
	struct dtr d = { .limit = sizeof idt - 1, .base = (uptr)idt };
	lidt(&d);
}

#if KIT_STAGE_LEVEL >= STAGE_SCHED
// <<irq
// An interrupt of trap.h's table: count it, run its handler, and end it.
// A fixed interrupt stays in service in the local APIC until the handler
// writes EOI (11.8.5), which blocks its vector and every lower one until
// then.  One MMIO write, no waiting: Toro's EOI path ended with a delay of
// milliseconds.  A spurious interrupt is not put in service, so it must
// not be sent an EOI (11.9).
static void
irq(u64 v)
{
	const struct irqsrc *s = NULL;

	for (int i = 0; i < NIRQ; i++)
		if (irqsrcs[i].vector == v)
			s = &irqsrcs[i];
	if (s == NULL)
		panic("cpu %d: interrupt %lu has no row in IRQS", cpunum(), v);
	(*(volatile u64 *)((uptr)mystats() + s->counter))++;
	if (v == T_SPURIOUS)
		return;
	if (!sched_idling())
		panic("cpu %d: interrupt %lu outside the idle loop", cpunum(), v);
	s->handler();
	lapic_eoi();
}
// >>irq
#endif

void
trap(struct trapframe *tf)
{
	int cpu = cpunum();
	u64 v = tf->vector;
#if KIT_STAGE_LEVEL >= STAGE_SCHED
	if (v >= NEXC) {
		irq(v);
		return;
	}
#endif
	const char *name = excname[v] ? excname[v] : "reserved";

	if (v == T_BP) {
		trap_bp_rip = tf->rip;
		return;
	}
	if (v == T_PF)
		panic("cpu %d: exception %lu (%s) error 0x%lx rip 0x%lx cr2 0x%lx",
		    cpu, v, name, tf->error, tf->rip, rcr2());
	panic("cpu %d: exception %lu (%s) error 0x%lx rip 0x%lx",
	    cpu, v, name, tf->error, tf->rip);
}
