// Per-CPU data, reached through GS.
//
// From lesson 02 on, each CPU has a struct cpu and keeps its address in
// its GS base (the IA32_GS_BASE MSR; in 64-bit mode the CPU adds it to
// every %gs: address, SDM Vol. 3A 3.4.4 Segment Loading Instructions in
// IA-32e Mode).  The struct's first field points to itself, so mycpu() is
// one load, from %gs:0.
//
// Invariants:
//  - cpus[n] is CPU n's: n is 0 for the boot CPU, then 1 .. ncpu - 1 for
//    the APs in MADT order.  The boot CPU fills cpus[n] before it starts
//    CPU n; after that only CPU n writes it.
//  - c->self == c, at offset 0.
//  - A CPU's GS base is set (kernel/smp.c) before its first mycpu() and
//    never changes: nothing loads the GS selector afterwards, which would
//    reset the base.

#ifndef KIT_CPU_H
#define KIT_CPU_H

#include "types.h"
#include "stage.h"
#include "stats.h"

#if KIT_STAGE_LEVEL >= STAGE_CORES
// <<struct-cpu
struct cpu {
	struct cpu *self;               // this struct: %gs:0
	int id;                         // CPU number, the n of "kit: cpu <n> up"
	u32 apicid;                     // its local APIC's id
	volatile struct cpustats *stats;        // its record, &kit_stats.cpu[id]
	uptr stack;                     // the lowest byte of its kernel stack
	volatile bool up;               // set by the CPU once it has said so
} __attribute__((aligned(64)));         // one cache line a CPU: no false sharing

extern struct cpu cpus[NCPU_MAX];
extern int ncpu;                        // CPUs up; the boot CPU counts them

// volatile: the load must stay after the write of IA32_GS_BASE.
static inline struct cpu *
mycpu(void)
{
	struct cpu *c;

	asm volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}
// >>struct-cpu

static inline int
cpunum(void)
{
	return mycpu()->id;
}

static inline volatile struct cpustats *
mystats(void)
{
	return mycpu()->stats;
}
#else
static inline int
cpunum(void)
{
	return 0;               // one CPU in this stage
}

static inline volatile struct cpustats *
mystats(void)
{
	return &kit_stats.cpu[0];
}
#endif

#endif
