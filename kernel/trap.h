// Exceptions and interrupts: the IDT and the trap frame (SDM Vol. 3A
// chapter 6, Interrupt and Exception Handling).

#ifndef KIT_TRAP_H
#define KIT_TRAP_H

#include "stage.h"

#define NIDT 256        // gates in the IDT: one per vector
#define NEXC 32         // vectors 0-31 are exceptions or reserved (6.2)

#define T_BP 3          // breakpoint (int3)
#define T_PF 14         // page fault

#if KIT_STAGE_LEVEL >= STAGE_SCHED
// The local APIC's vectors (sched).  32 and up are free for software
// (6.2); the vector's upper four bits are its priority class (10.8.3.1),
// so the timer outranks the IPI.  The spurious vector is the one lapic.c
// writes to the spurious-interrupt vector register, 0xff (10.9).
#define T_IPI      0x30 // wake-up and message IPI between cores
#define T_TIMER    0x40 // LAPIC timer: the periodic tick or a one-shot deadline
#define T_SPURIOUS 0xff // spurious interrupt: no EOI (10.9)
#if KIT_STAGE_LEVEL >= STAGE_IDLE
// <<t-uart
// A device's vector (idle): COM1's receive interrupt, through the I/O
// APIC (ioapic.c).  Class 5, above the timer and the IPI: a byte left
// waiting can be lost, when the UART's 16-byte FIFO overruns, while a
// late tick or IPI loses nothing (both of the same vector pending are
// one, and the IPI's messages wait in the inbox).  No handler runs while
// another waits to finish (interrupt gates clear IF, and no handler sets
// it), so the class orders only the interrupts pending together.
#define T_UART     0x50 // COM1: received data available
#define NIRQ 4          // irqvectors[]: T_IPI, T_TIMER, T_SPURIOUS, T_UART, in that order
// >>t-uart
#else
#define NIRQ 3          // irqvectors[]: T_IPI, T_TIMER, T_SPURIOUS, in that order
#endif
#endif

#ifndef __ASSEMBLER__          // vectors.S reads the numbers above
#include "types.h"

// A gate descriptor in 64-bit mode (6.14.1 64-Bit Mode IDT).
struct gate {
	u16 off_lo;     // handler address, bits 0-15
	u16 sel;        // code-segment selector
	u8 ist;         // interrupt-stack-table index; 0: stay on this stack
	u8 attr;        // P, DPL, type
	u16 off_mid;    // bits 16-31
	u32 off_hi;     // bits 32-63
	u32 reserved;
};
_Static_assert(sizeof(struct gate) == 16, "a 64-bit gate is 16 bytes");

// attr of a present 64-bit interrupt gate with DPL 0: the CPU clears
// EFLAGS.IF on entry (6.12.1), so handlers run with interrupts off.
#define GATE_INTR 0x8e

// The stack as trap() sees it.  From the top: the CPU pushed SS to RIP
// (6.14.2 64-Bit Mode Stack Frame), the error code too for some vectors;
// the stub in vectors.S pushed a zero error code for the others, then the
// vector; alltraps pushed the general registers.
struct trapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rdi, rsi, rbp, rdx, rcx, rbx, rax;
	u64 vector;
	u64 error;
	u64 rip, cs, rflags, rsp, ss;
};

extern const u64 vectors[NEXC];         // vectors.S: stub n's address
#if KIT_STAGE_LEVEL >= STAGE_SCHED
extern const u64 irqvectors[NIRQ];      // vectors.S: the stubs of the APIC's vectors
#endif
#endif // __ASSEMBLER__

#endif
