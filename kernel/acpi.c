// acpi.c: find the CPUs and interrupt controllers in the ACPI tables.
//
// Firmware describes the machine in tables (ACPI Specification 6.5,
// chapter 5.2).  This kernel follows one chain of them:
//
//   RSDP (5.2.5) -> XSDT (5.2.8), or the RSDT (5.2.7) before ACPI 2.0
//                -> MADT (5.2.12), signature "APIC"
//
// and reads from the MADT the local APIC of every usable CPU, the local
// APICs' address and the first I/O APIC.  Every table carries a checksum
// byte chosen so that all its bytes sum to 0 modulo 256.  A table that is
// missing, out of reach or fails its checks is a panic that names it: with
// a wrong list of CPUs nothing after this would work.
//
// Invariant: everything read lies below IDMAP_END, the end of the
// identity map (mmu.h); a table that reaches beyond it is a panic too.
// QEMU builds its tables in RAM below 4 GiB.

#include "types.h"
#include "defs.h"
#include "acpi.h"
#include "mmu.h"
#include "pvh.h"

struct machine machine;

// Root System Description Pointer (5.2.5.3).  ACPI 1.0's structure
// (revision 0) ends after rsdt; revision 2 and later add the rest.
struct rsdp {
	char sig[8];            // "RSD PTR "
	u8 checksum;            // over the first RSDP_V1_LEN bytes
	char oem[6];
	u8 revision;
	u32 rsdt;               // physical address of the RSDT
	u32 length;             // revision >= 2: of the whole structure
	u64 xsdt;               // revision >= 2: physical address of the XSDT
	u8 xchecksum;           // revision >= 2: over length bytes
	u8 reserved[3];
} __attribute__((packed));

#define RSDP_V1_LEN 20

// The header every system description table starts with (5.2.6).
struct sdt {
	char sig[4];
	u32 length;             // of the whole table, this header included
	u8 revision;
	u8 checksum;            // over length bytes
	char oem[6];
	char oemtable[8];
	u32 oemrevision;
	u32 creator;
	u32 creatorrevision;
} __attribute__((packed));

// The MADT: the header, two fields, then entries of varying type and
// length, each starting with its type and length bytes.
struct madt {
	struct sdt h;
	u32 lapic;              // physical address of the local APICs
	u32 flags;
} __attribute__((packed));

#define MADT_LAPIC      0       // Processor Local APIC (5.2.12.2)
#define MADT_IOAPIC     1       // I/O APIC (5.2.12.3)
#define MADT_ISO        2       // Interrupt Source Override (5.2.12.5)
#define MADT_LAPIC_ADDR 5       // Local APIC Address Override (5.2.12.8)
#define MADT_X2APIC     9       // Processor Local x2APIC (5.2.12.12)

struct madt_lapic {
	u8 type, length;
	u8 uid;                 // ACPI processor UID
	u8 apicid;
	u32 flags;              // LAPIC_*
} __attribute__((packed));

struct madt_ioapic {
	u8 type, length;
	u8 id;
	u8 reserved;
	u32 addr;               // physical address of its registers
	u32 gsibase;            // the first global system interrupt it serves
} __attribute__((packed));

struct madt_iso {
	u8 type, length;
	u8 bus;                 // 0: ISA
	u8 source;              // the bus's IRQ
	u32 gsi;                // the global system interrupt it drives
	u16 flags;              // MPS INTI flags: polarity, trigger mode
} __attribute__((packed));

struct madt_lapic_addr {
	u8 type, length;
	u16 reserved;
	u64 addr;               // replaces struct madt's lapic
} __attribute__((packed));

struct madt_x2apic {
	u8 type, length;
	u16 reserved;
	u32 apicid;
	u32 flags;              // LAPIC_*
	u32 uid;
} __attribute__((packed));

// The least length of each entry type read, so a short entry cannot make
// the walk read past it.
static const u8 minlen[] = {
	[MADT_LAPIC] = sizeof(struct madt_lapic),
	[MADT_IOAPIC] = sizeof(struct madt_ioapic),
	[MADT_ISO] = sizeof(struct madt_iso),
	[MADT_LAPIC_ADDR] = sizeof(struct madt_lapic_addr),
	[MADT_X2APIC] = sizeof(struct madt_x2apic),
};

// Local APIC flags, the same in both processor entries (5.2.12.2).  A CPU
// that is neither enabled nor online-capable must not be started.
#define LAPIC_ENABLED        0x1        // ready to use
#define LAPIC_ONLINE_CAPABLE 0x2        // ACPI 6.3 on: not enabled, but the OS may start it

// The bytes [p, p + n) sum to 0 modulo 256.
static bool
sums_to_zero(const void *p, size_t n)
{
	const u8 *b = p;
	u8 sum = 0;

	while (n-- > 0)
		sum += *b++;
	return sum == 0;
}

// Whether [pa, pa + n) lies inside the identity map.
static bool
reachable(u64 pa, u64 n)
{
	return pa != 0 && pa < IDMAP_END && n <= IDMAP_END - pa;
}

// ACPI 5.2.5.1, Finding the RSDP on IA-PC Systems: on a 16-byte boundary
// in the first KiB of the Extended BIOS Data Area, whose segment the BIOS
// data area holds at 0x40e, or in the BIOS ROM, 0xe0000-0xfffff.  A match
// needs the signature and the ACPI 1.0 checksum.
#define BDA_EBDA_SEG 0x40e

static const struct rsdp *
rsdp_scan(uptr from, uptr to)
{
	for (uptr p = from & ~(uptr)15; p + RSDP_V1_LEN <= to; p += 16)
		if (memcmp((const void *)p, "RSD PTR ", 8) == 0 &&
		    sums_to_zero((const void *)p, RSDP_V1_LEN))
			return (const struct rsdp *)p;
	return NULL;
}

// The PVH loader may pass the RSDP's address; otherwise search for it.
static const struct rsdp *
rsdp_find(const struct hvm_start_info *si)
{
	const struct rsdp *r;

	if (si->rsdp_paddr != 0) {
		r = (const struct rsdp *)si->rsdp_paddr;
		if (!reachable(si->rsdp_paddr, sizeof *r) || memcmp(r->sig, "RSD PTR ", 8) != 0)
			panic("acpi: RSDP at 0x%lx has no signature", si->rsdp_paddr);
	} else {
		uptr ebda = (uptr)*(const volatile u16 *)BDA_EBDA_SEG << 4;
		r = ebda != 0 ? rsdp_scan(ebda, ebda + 1024) : NULL;
		if (r == NULL)
			r = rsdp_scan(0xe0000, 0x100000);
		if (r == NULL)
			panic("acpi: no RSDP");
	}
	if (!sums_to_zero(r, RSDP_V1_LEN))
		panic("acpi: RSDP checksum bad");
	if (r->revision >= 2 && (r->length < sizeof *r || !reachable((uptr)r, r->length) ||
	    !sums_to_zero(r, r->length)))
		panic("acpi: RSDP extended checksum bad");
	return r;
}

// The table name, signature sig, at physical address pa, checked.
static const struct sdt *
table(u64 pa, const char *sig, const char *name)
{
	const struct sdt *t = (const struct sdt *)pa;

	if (!reachable(pa, sizeof *t))
		panic("acpi: %s at 0x%lx is out of reach", name, pa);
	if (memcmp(t->sig, sig, 4) != 0)
		panic("acpi: %s at 0x%lx has no signature", name, pa);
	if (t->length < sizeof *t || !reachable(pa, t->length))
		panic("acpi: %s length %u bad", name, t->length);
	if (!sums_to_zero(t, t->length))
		panic("acpi: %s checksum bad", name);
	return t;
}

// The MADT, through the XSDT if the RSDP has one, else the RSDT: both
// list the other tables' addresses after their header, the XSDT in 8
// bytes each, the RSDT in 4.
static const struct madt *
madt_find(const struct rsdp *r)
{
	bool x = r->revision >= 2 && r->xsdt != 0;
	const char *name = x ? "XSDT" : "RSDT";
	const struct sdt *root = table(x ? r->xsdt : r->rsdt, name, name);
	size_t width = x ? 8 : 4;
	const u8 *list = (const u8 *)(root + 1);

	for (size_t i = 0; i < (root->length - sizeof *root) / width; i++) {
		u64 pa = 0;
		memcpy(&pa, list + i * width, width);   // little-endian, and unaligned in the XSDT
		if (reachable(pa, 4) && memcmp((const void *)pa, "APIC", 4) == 0) {
			const struct madt *m = (const struct madt *)table(pa, "APIC", "MADT");
			if (m->h.length < sizeof *m)
				panic("acpi: MADT length %u bad", m->h.length);
			return m;
		}
	}
	panic("acpi: no MADT in the %s", name);
}

static void
add_cpu(u32 apicid, u32 flags)
{
	if ((flags & (LAPIC_ENABLED | LAPIC_ONLINE_CAPABLE)) == 0)
		return;
	if (machine.ncpu < NCPU_MAX)
		machine.apicid[machine.ncpu] = apicid;
	machine.ncpu++;
}

// <<madt
// Walk the MADT's entries.  Invariant: [p, end) holds the entries not yet
// read, and each one read lay wholly inside the table and was at least as
// long as the structure of its type.
static void
madt_parse(const struct madt *m)
{
	const u8 *p = (const u8 *)(m + 1), *end = (const u8 *)m + m->h.length;

	machine.lapic = m->lapic;
	for (; p < end; p += p[1]) {
		if (end - p < 2 || p[1] < 2 || p[1] > end - p ||
		    (p[0] < sizeof minlen && p[1] < minlen[p[0]]))
			panic("acpi: MADT entry at offset %ld malformed", (long)(p - (const u8 *)m));

		switch (p[0]) {
		case MADT_LAPIC: {
			const struct madt_lapic *e = (const void *)p;
			add_cpu(e->apicid, e->flags);
			break;
		}
		case MADT_X2APIC: {
			const struct madt_x2apic *e = (const void *)p;
			add_cpu(e->apicid, e->flags);
			break;
		}
		case MADT_IOAPIC: {
			const struct madt_ioapic *e = (const void *)p;
			if (machine.ioapic == 0) {      // the first; later stages need one
				machine.ioapic = e->addr;
				machine.ioapic_id = e->id;
				machine.ioapic_gsi = e->gsibase;
			}
			break;
		}
		case MADT_LAPIC_ADDR: {
			const struct madt_lapic_addr *e = (const void *)p;
			machine.lapic = e->addr;
			break;
		}
		}
	}
}
// >>madt

static const struct madt *madt;        // the table madt_parse() checked

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// The global system interrupt that ISA IRQ irq drives, and its polarity
// and trigger mode (ACPI_POL_* | ACPI_TRIG_*).  An ISA IRQ drives the GSI
// of its own number, edge-triggered and active high as the ISA bus
// signals, unless an Interrupt Source Override says otherwise (5.2.12.5;
// QEMU lists one for IRQ 0, the PIT, which drives GSI 2, and others for
// the PCI interrupts it puts on ISA numbers).  madt_parse() has checked
// every entry, so this walk needs no checks of its own.
u32
acpi_isa_gsi(int irq, u32 *flags)
{
	const u8 *p = (const u8 *)(madt + 1), *end = (const u8 *)madt + madt->h.length;

	for (; p < end; p += p[1]) {
		const struct madt_iso *e = (const void *)p;
		if (p[0] == MADT_ISO && e->bus == 0 && e->source == irq) {
			*flags = e->flags;
			return e->gsi;
		}
	}
	*flags = ACPI_POL_BUS | ACPI_TRIG_BUS;
	return irq;
}
#endif

void
acpi_init(const struct hvm_start_info *si)
{
	madt = madt_find(rsdp_find(si));
	madt_parse(madt);

	if (machine.ncpu == 0)
		panic("acpi: MADT lists no usable CPU");
	if (!reachable(machine.lapic, PGSIZE))
		panic("acpi: local APIC at 0x%lx is out of reach", machine.lapic);
	kprintf("acpi: %d cpus, ioapic 0x%x\n", machine.ncpu, machine.ioapic);
	if (machine.ncpu > NCPU_MAX)
		kprintf("acpi: using the first %d cpus (NCPU_MAX)\n", NCPU_MAX);
}
