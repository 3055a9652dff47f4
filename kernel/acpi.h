// What the ACPI MADT says about the machine's interrupt controllers and
// CPUs (kernel/acpi.c fills it once, at boot; read-only afterwards).

#ifndef KIT_ACPI_H
#define KIT_ACPI_H

#include "types.h"
#include "stage.h"
#include "stats.h"

struct hvm_start_info;

struct machine {
	int ncpu;               // usable CPUs the MADT lists, all of them
	u32 apicid[NCPU_MAX];   // the local APIC ids of the first NCPU_MAX, in MADT order
	u64 lapic;              // physical address of every CPU's local APIC
	u32 ioapic;             // physical address of the first I/O APIC, 0 if none
	u8 ioapic_id;           //   its I/O APIC id
	u32 ioapic_gsi;         //   the first global system interrupt it serves
};

extern struct machine machine;

// The flags of an Interrupt Source Override (ACPI 5.2.12.5, table 5.50,
// MPS INTI flags): polarity in bits 0-1, trigger mode in bits 2-3.  "Bus"
// means as the bus signals: for ISA, active high and edge-triggered.
#define ACPI_POL_BUS   0x0      // polarity of the bus
#define ACPI_POL_HIGH  0x1      // active high
#define ACPI_POL_LOW   0x3      // active low
#define ACPI_POL_MASK  0x3
#define ACPI_TRIG_BUS  0x0      // trigger mode of the bus
#define ACPI_TRIG_EDGE 0x4      // edge-triggered
#define ACPI_TRIG_LEVEL 0xc     // level-triggered
#define ACPI_TRIG_MASK 0xc

void acpi_init(const struct hvm_start_info *si);
#if KIT_STAGE_LEVEL >= STAGE_IDLE
u32  acpi_isa_gsi(int irq, u32 *flags);
#endif

#endif
