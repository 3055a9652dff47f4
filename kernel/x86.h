// Wrappers for the x86 instructions C cannot express (SDM Vol. 2).
// The "memory" clobbers make cli, hlt and friends compiler barriers: no
// load or store moves across them.

#ifndef KIT_X86_H
#define KIT_X86_H

#include "types.h"

static inline u8
inb(u16 port)
{
	u8 v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void
outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

// RDTSC is not ordered with earlier instructions (SDM Vol. 2B RDTSC);
// at the time scales this kernel measures (microseconds and up) that does
// not matter.
static inline u64
rdtsc(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

static inline void
cli(void)
{
	asm volatile("cli" : : : "memory");
}

static inline void
hlt(void)
{
	asm volatile("hlt" : : : "memory");
}

// Enable interrupts and halt as one unit; see halt() in halt.c for
// why the pair is race-free.
static inline void
sti_hlt(void)
{
	asm volatile("sti; hlt" : : : "memory");
}

// A window for interrupts: STI lets the CPU take interrupts only after
// the instruction that follows it (SDM Vol. 2B, STI), so "sti; cli" would
// take none; an interrupt pending at the sti is taken after the nop.
static inline void
intr_window(void)
{
	asm volatile("sti; nop; cli" : : : "memory");
}

// The operand of lidt and sidt (SDM Vol. 3A 7.10 Interrupt Descriptor
// Table): a 16-bit limit (size - 1), then a 64-bit linear base.
struct dtr {
	u16 limit;
	u64 base;
} __attribute__((packed));

static inline void
lidt(const struct dtr *d)
{
	asm volatile("lidt %0" : : "m"(*d) : "memory");
}

static inline void
sidt(struct dtr *d)
{
	asm volatile("sidt %0" : "=m"(*d));
}

static inline void
sgdt(struct dtr *d)
{
	asm volatile("sgdt %0" : "=m"(*d));
}

// CR2 holds the linear address of the last page fault (SDM Vol. 3A 2.5).
static inline u64
rcr2(void)
{
	u64 v;
	asm volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

// CR3 holds the physical address of the PML4 (SDM Vol. 3A 5.5).
static inline u64
rcr3(void)
{
	u64 v;
	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

// Model-specific registers (SDM Vol. 2B RDMSR, WRMSR): ECX names the
// register, EDX:EAX holds the value.
static inline u64
rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (u64)hi << 32 | lo;
}

static inline void
wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

// The spin-wait hint (SDM Vol. 2B PAUSE); kernel/spinlock.c says what it
// does and what it does not.
static inline void
pause(void)
{
	asm volatile("pause" : : : "memory");
}

#endif
