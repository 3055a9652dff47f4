// trap.c: the IDT and the exception handler.
//
// Every exception in this stage is fatal but one: the handler reports
// which CPU took which exception where, and ends the run with a failure.
// The exception is #BP (int3), a trap: the CPU saves the address of the
// next instruction (SDM Vol. 3A 6.5 Exception Classifications), so
// returning resumes the program, and the self-test uses it to check the
// whole round trip through the IDT, vectors.S and iretq.
//
// Gates exist for vectors 0-31 only.  A vector without a present gate
// raises #NP with the vector in the error code (SDM Vol. 3A 6.13 Error
// Code), so even a stray interrupt is reported.

#include "types.h"
#include "defs.h"
#include "cpu.h"
#include "mmu.h"
#include "trap.h"
#include "x86.h"

static struct gate idt[NIDT];

// Mnemonics and names after SDM Vol. 3A table 6-1; 28-30 are AMD's.
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

void
trap_init(void)
{
	for (int v = 0; v < NEXC; v++) {
		u64 a = vectors[v];
		idt[v] = (struct gate){
			.off_lo = a,
			.sel = SEG_KCODE,
			.attr = GATE_INTR,
			.off_mid = a >> 16,
			.off_hi = a >> 32,
		};
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

// <<trap
void
trap(struct trapframe *tf)
{
	int cpu = cpunum();
	u64 v = tf->vector;
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
// >>trap
