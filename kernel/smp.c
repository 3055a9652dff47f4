// smp.c: start the other CPUs, give each its per-CPU data, hand them work.
//
// At power-on one CPU, the bootstrap processor, runs the firmware and
// then this kernel; the others, the application processors (APs), wait
// until a CPU sends them INIT and then start-up IPIs (SDM Vol. 3A 9.4
// Multiple-Processor (MP) Initialization).  QEMU's firmware, SeaBIOS, has
// done so once already, to count them and give them the boot CPU's MTRRs,
// and left each in cli; hlt: an INIT resets it from there.  The boot
// CPU becomes CPU 0; it starts the APs one at a time, in MADT order, as
// CPUs 1, 2, ...
// Each AP runs boot/ap.S and then apmain(), prints "kit: cpu <n> up" and
// waits for work from the boot CPU: onall() runs a function on every CPU.
//
// Invariants:
//  - ncpu counts the CPUs up; cpus[0 .. ncpu) are theirs (cpu.h), and
//    kit_stats.ncpu follows ncpu, so the host reads the records in use.
//  - An AP sets c->up after its line is out, and the boot CPU starts the
//    next AP only then: the lines come in CPU order.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "cpu.h"
#include "mmu.h"
#include "stats.h"
#include "x86.h"

struct cpu cpus[NCPU_MAX];
int ncpu = 1;

extern char bootstack[];        // boot/entry.S: the boot CPU's stack
static char apstack[NCPU_MAX - 1][KSTACKSIZE] __attribute__((aligned(16)));

// boot/ap.S: the trampoline and its arguments, as linked.  APCOPY(sym) is
// the address of sym in the copy at AP_BASE, where the APs run it.
extern char ap_start[], ap_end[], ap_gdtr[], ap_cr3[], ap_stack[], ap_cpu[];
#define APCOPY(sym) ((void *)(AP_BASE + ((sym) - ap_start)))

// The delays of SDM Vol. 3A 9.4.4.1, Typical BSP Initialization Sequence:
// 10 ms after INIT, 200 us after each start-up IPI.  No longer: an AP
// that is up ends the wait early.
#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200

// How long an AP may take from its start-up IPIs to saying it is up,
// beyond the manual's delays: under TCG an AP is a host thread, which may
// wait for a host core.  An AP that takes longer is a panic.
#define UP_TIMEOUT_US 2000000

static void (*volatile work)(void *);   // what the APs run next
static void *volatile workarg;
static volatile u32 workgen;            // bumped for each new work
static volatile u32 workdone;           // APs done with the current work

static void
cpu_fill(struct cpu *c, int id, u32 apicid, uptr stack)
{
	c->self = c;
	c->id = id;
	c->apicid = apicid;
	c->stats = &kit_stats.cpu[id];
	c->stack = stack;
}

// The boot CPU's per-CPU data.  kmain calls this first, so that mycpu()
// and the console lock, which uses it, work from the first line on.
void
cpu0_init(void)
{
	struct cpu *c = &cpus[0];

	cpu_fill(c, 0, 0, (uptr)bootstack);     // the APIC id follows in smp_init
	c->stats->up_tsc = rdtsc();
	wrmsr(MSR_GS_BASE, (uptr)c);
}

// Whether CPU c says it is up within us microseconds.
static bool
wait_up(struct cpu *c, u64 us)
{
	u64 start = rdtsc(), ticks = us * kit_stats.tsc_hz / 1000000;

	while (!c->up)
		if (rdtsc() - start >= ticks)
			return false;
		else
			pause();
	return true;
}

// <<init-sipi
// INIT resets the AP, whatever the firmware left it doing, to wait for a
// start-up IPI, which starts it at the page its vector names.  The APIC
// does not retry a start-up IPI that fails; software sends it again
// (11.6.1, Start-Up), hence the second, unless the AP is up already.
static void
start_ap(struct cpu *c)
{
	*(u64 *)APCOPY(ap_stack) = c->stack + KSTACKSIZE;
	*(struct cpu **)APCOPY(ap_cpu) = c;

	lapic_ipi(c->apicid, ICR_INIT | ICR_ASSERT);
	udelay(INIT_DELAY_US);
	for (int i = 0; i < 2 && !c->up; i++) {
		lapic_ipi(c->apicid, ICR_STARTUP | ICR_ASSERT | AP_BASE >> 12);
		wait_up(c, SIPI_DELAY_US);
	}
	if (!wait_up(c, UP_TIMEOUT_US))
		panic("smp: cpu %d (APIC id %u) did not start", c->id, c->apicid);
}
// >>init-sipi

void
smp_init(void)
{
	struct cpu *me = mycpu();
	int n = machine.ncpu < NCPU_MAX ? machine.ncpu : NCPU_MAX;
	bool listed = false;

	me->apicid = lapic_id();
	kprintf("kit: cpu 0 up\n");

	// The trampoline, and what every AP shares with this CPU: the GDT
	// and the page tables.
	memcpy((void *)AP_BASE, ap_start, ap_end - ap_start);
	sgdt(APCOPY(ap_gdtr));
	*(u64 *)APCOPY(ap_cr3) = rcr3();

	for (int i = 0; i < n; i++) {
		u32 id = machine.apicid[i];
		if (id == me->apicid) {
			listed = true;
			continue;
		}
		if (id >= 0xff)         // 0xff is the xAPIC broadcast address
			panic("smp: APIC id %u needs x2APIC mode, which this kernel does not use", id);
		struct cpu *c = &cpus[ncpu];
		cpu_fill(c, ncpu, id, (uptr)apstack[ncpu - 1]);
		if (ncpu == 1)
			me->stats->sipi_tsc = rdtsc();  // just before the first INIT
		start_ap(c);
		kit_stats.ncpu = ++ncpu;
	}
	if (!listed)
		panic("smp: the boot CPU (APIC id %u) is not among the MADT's first %d CPUs",
		    me->apicid, n);

	if (ncpu == 1) {
		kprintf("smp: no other cpu to start\n");
		return;
	}
	u64 last = cpus[ncpu - 1].stats->up_tsc - me->stats->sipi_tsc;
	kprintf("smp: %d cpus up, the last %lu us after the first INIT\n",
	    ncpu, last * 1000000 / kit_stats.tsc_hz);
}

// An AP's first C, with interrupts off, as they stay in this stage but
// for the idle loop's sti; hlt.
void
apmain(struct cpu *c)
{
	u64 now = rdtsc();

	wrmsr(MSR_GS_BASE, (uptr)c);    // mycpu() works from here on
	idt_load();                     // the boot CPU's table: traps name this CPU
	c->stats->up_tsc = now;
	lapic_enable();
	kprintf("kit: cpu %d up\n", c->id);
	c->up = true;

	// Run each work the boot CPU posts, once.  Loads are not reordered
	// with other loads (SDM Vol. 3A 9.2.2), so a CPU that sees the new
	// workgen sees the work posted before it.
	for (u32 seen = 0;; seen++) {
		while (workgen == seen)
			pause();
		work(workarg);
		__atomic_add_fetch(&workdone, 1, __ATOMIC_SEQ_CST);
	}
}

// Post fn(arg) to every AP, which runs it once, as soon as it sees it.
// Stores are not reordered with other stores (9.2.2), so an AP that sees
// the new workgen sees work, workarg and the reset workdone.  Nothing may
// be posted again before every AP is done: onall() waits for that, and
// idle() posts last.
void
onaps(void (*fn)(void *), void *arg)
{
	work = fn;
	workarg = arg;
	workdone = 0;
	workgen++;
}

// Run fn(arg) on every CPU, this one included, and return once all of
// them have returned.
void
onall(void (*fn)(void *), void *arg)
{
	onaps(fn, arg);
	fn(arg);
	while (workdone != (u32)ncpu - 1)
		pause();
}
