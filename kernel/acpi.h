// What the ACPI MADT says about the machine's interrupt controllers and
// CPUs (kernel/acpi.c fills it once, at boot; read-only afterwards).

#ifndef KIT_ACPI_H
#define KIT_ACPI_H

#include "types.h"
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

void acpi_init(const struct hvm_start_info *si);

#endif
