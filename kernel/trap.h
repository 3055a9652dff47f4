// Exceptions and interrupts: the IDT and the trap frame (SDM Vol. 3A
// chapter 7, Interrupt and Exception Handling).

#ifndef KIT_TRAP_H
#define KIT_TRAP_H

#include "stage.h"

#define NIDT 256        // gates in the IDT: one per vector
#define NEXC 32         // vectors 0-31 are exceptions or reserved (7.2)

#define T_BP 3          // breakpoint (int3)
#define T_PF 14         // page fault

// The interrupt vectors above the exceptions, one row each:
//
//	X(vector, stage, handler, counter, name)
//
// from which come their entry stubs (vectors.S), their gates and the
// dispatch (trap.c), and the self-test of the IDT (boottest.c).  A row's
// vector has a gate from its stage on.  The handler runs in the idle
// loop with interrupts off, after the dispatch counted the interrupt in
// the counter of this CPU's struct cpustats (stats.h), and before its
// EOI; trap_none is for an interrupt that is its own news.  Handlers are
// referenced weakly, so a stage without a handler's file links it as
// NULL.  To add an interrupt source: a vector below, a row, and its
// handler (void name(void)) in its driver; a new counter goes in stats.h.
//
// 32 and up are free for software (7.2); the vector's upper four bits are
// its priority class (11.8.3.1), which orders the interrupts pending
// together (no handler runs while another waits to finish: interrupt
// gates clear IF, and no handler sets it).
#define T_IPI      0x30 // class 3: wake-up and message IPI between cores
// The network card's receive queue, by MSI-X (virtionet.c).  Class 3,
// with the IPI: it is a wake-up too, and a frame that waits loses
// nothing until the card's 128 receive buffers are all full.
#define T_NETRX    0x38
#define T_TIMER    0x40 // class 4, above the IPI: the periodic tick or a one-shot deadline
// COM1's receive interrupt, through the I/O APIC (ioapic.c).  Class 5,
// above the timer and the IPI: a byte left waiting can be lost, when the
// UART's 16-byte FIFO overruns, while a late tick or IPI loses nothing
// (both of the same vector pending are one, and the IPI's messages wait
// in the inbox).
#define T_UART     0x50
// The vector lapic.c writes to the spurious-interrupt vector register.
// A spurious interrupt is not put in service, so it takes no EOI (11.9).
#define T_SPURIOUS 0xff

#define IRQS(X)                                                                 \
	X(T_IPI,      STAGE_SCHED, trap_none,    ipis_received, "ipi")          \
	X(T_TIMER,    STAGE_SCHED, timer_irq,    timer_irqs,    "timer")        \
	X(T_UART,     STAGE_IDLE,  console_intr, uart_irqs,     "uart")         \
	X(T_NETRX,    STAGE_NET,   net_intr,     net_irqs,      "netrx")        \
	X(T_SPURIOUS, STAGE_SCHED, trap_none,    spurious_irqs, "spurious")

#ifndef __ASSEMBLER__          // vectors.S reads the numbers above
#include "types.h"

// A gate descriptor in 64-bit mode (7.14.1 64-Bit Mode IDT).
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
// EFLAGS.IF on entry (7.12.1), so handlers run with interrupts off.
#define GATE_INTR 0x8e

// The stack as trap() sees it.  From the top: the CPU pushed SS to RIP
// (7.14.2 64-Bit Mode Stack Frame), the error code too for some vectors;
// the stub in vectors.S pushed a zero error code for the others, then the
// vector; alltraps pushed the general registers.
struct trapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rdi, rsi, rbp, rdx, rcx, rbx, rax;
	u64 vector;
	u64 error;
	u64 rip, cs, rflags, rsp, ss;
};

#define ONE(...) + 1
enum { NIRQ = 0 IRQS(ONE) };            // rows in IRQS
#undef ONE

extern const u64 vectors[NEXC];         // vectors.S: stub n's address
extern const u64 irqvectors[NIRQ];      // vectors.S: row i's stub, 0 before its stage
void trap_none(void);
#endif // __ASSEMBLER__

#endif
