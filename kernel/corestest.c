// corestest.c: the self-tests of lesson 02, run by selftest.c once every
// CPU is up.  Each CPU reports what its own registers say, and the boot
// CPU compares the reports with what smp.c set up.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "cpu.h"
#include "mmu.h"
#include "stats.h"
#include "x86.h"

// What a CPU says about itself.  It finds its slot by its local APIC's
// id, not by its per-CPU data, which is what is being tested.
struct report {
	bool seen;              // the CPU wrote this report
	u64 gsbase;             // IA32_GS_BASE
	struct cpu *self;       // %gs:0
	int id;                 // mycpu()->id
	u64 sp;                 // its stack pointer
	struct dtr idt;         // its IDTR
};

static struct report reports[NCPU_MAX];

static void
report(void *arg)
{
	(void)arg;
	u32 apicid = lapic_id();

	for (int i = 0; i < ncpu; i++) {
		if (cpus[i].apicid != apicid)
			continue;
		struct report *r = &reports[i];
		r->gsbase = rdmsr(MSR_GS_BASE);
		r->self = mycpu();
		r->id = mycpu()->id;
		asm volatile("movq %%rsp, %0" : "=r"(r->sp));
		sidt(&r->idt);
		r->seen = true;
	}
}

// Every CPU's report, fresh.
static void
collect(void)
{
	memset(reports, 0, sizeof reports);
	onall(report, NULL);
}

// Every CPU the MADT lists, up to NCPU_MAX, came up, once each.
const char *
test_smp(void)
{
	int want = machine.ncpu < NCPU_MAX ? machine.ncpu : NCPU_MAX;

	if (ncpu != want || kit_stats.ncpu != (u32)want)
		return fail("%d cpus up (stats: %u), the MADT lists %d", ncpu, kit_stats.ncpu, want);
	for (int i = 0; i < want; i++) {
		int found = 0;
		for (int j = 0; j < ncpu; j++)
			found += cpus[j].apicid == machine.apicid[i];
		if (found != 1)
			return fail("APIC id %u is up %d times", machine.apicid[i], found);
	}
	for (int i = 1; i < ncpu; i++)
		if (!cpus[i].up || cpus[i].stats->up_tsc < kit_stats.cpu[0].sipi_tsc)
			return fail("cpu %d: up %d, up_tsc before the first INIT", i, cpus[i].up);
	return NULL;
}

// Each CPU's GS leads to its own struct cpu, which knows its number, and
// each loaded the one IDT.
const char *
test_percpu(void)
{
	struct dtr idt;

	sidt(&idt);
	collect();
	for (int i = 0; i < ncpu; i++) {
		const struct report *r = &reports[i];
		if (!r->seen)
			return fail("cpu %d (APIC id %u) did not report", i, cpus[i].apicid);
		if (r->gsbase != (uptr)&cpus[i] || r->self != &cpus[i] || r->id != i)
			return fail("cpu %d: GS base 0x%lx, self %p, id %d; want %p and %d",
			    i, r->gsbase, r->self, r->id, &cpus[i], i);
		if (cpus[i].stats != &kit_stats.cpu[i])
			return fail("cpu %d: stats record %p, want %p",
			    i, cpus[i].stats, &kit_stats.cpu[i]);
		if (r->idt.base != idt.base || r->idt.limit != idt.limit)
			return fail("cpu %d: IDT 0x%lx limit 0x%x, want 0x%lx limit 0x%x",
			    i, r->idt.base, r->idt.limit, idt.base, idt.limit);
	}
	return NULL;
}

// Each CPU runs on its own stack, and no two stacks overlap.
const char *
test_stacks(void)
{
	collect();
	for (int i = 0; i < ncpu; i++) {
		uptr lo = cpus[i].stack;
		if (reports[i].sp < lo || reports[i].sp >= lo + KSTACKSIZE)
			return fail("cpu %d: sp 0x%lx outside its stack [0x%lx, 0x%lx)",
			    i, reports[i].sp, lo, lo + KSTACKSIZE);
		for (int j = 0; j < i; j++) {
			uptr other = cpus[j].stack;
			if (lo < other + KSTACKSIZE && other < lo + KSTACKSIZE)
				return fail("the stacks of cpus %d and %d overlap", j, i);
		}
	}
	return NULL;
}
