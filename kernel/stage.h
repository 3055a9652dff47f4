// The lessons' stages, in order.  A stage is a superset of the one
// before, so code that a stage adds compiles from that stage on:
//
//	#if KIT_STAGE_LEVEL >= STAGE_CORES
//
// kernel/Makefile defines KIT_STAGE_LEVEL as the name of the stage it
// builds (-DKIT_STAGE_LEVEL=STAGE_CORES), so the numbers live here only,
// and -Wundef makes a file that forgot this header fail to compile instead
// of silently reading the level as 0.  Plain numbers: gas reads it too.

#ifndef KIT_STAGE_H
#define KIT_STAGE_H

#define STAGE_BOOT      1       // lesson 01: one CPU, serial console, idle loop
#define STAGE_CORES     2       // lesson 02: ACPI MADT, LAPIC, every core up
#define STAGE_SPINLOCKS 3       // lesson 03: three spin locks under contention
#define STAGE_SCHED     4       // lesson 04: threads, LAPIC timer, sleep, IPIs
#define STAGE_IDLE      5       // lesson 05: hlt and tickless by default, console commands
#define STAGE_POLL      6       // lesson 06: threads that wait on a variable
#define STAGE_NET       7       // lesson 07: PCI, virtio-net with MSI-X, ARP

// Their names, by number, as kernel/Makefile's src.<stage> spells them.
#define STAGE_NAMES { "", "boot", "cores", "spinlocks", "sched", "idle", "poll", "net" }

#endif
