// pci.c: PCI configuration space through configuration mechanism #1, the
// functions on bus 0, their BARs and their capability lists.
//
// Mechanism #1 (PCI 3.2.2.3.2): a write of enable bit 31 | bus << 16 |
// device << 11 | function << 8 | register to CONFIG_ADDRESS (port
// 0xcf8) selects a dword of one function's 256-byte space, which
// CONFIG_DATA (port 0xcfc to 0xcff) then reads or writes.
//
// Invariants:
//  - A select and its access are one step: only the boot CPU touches
//    configuration space, before "kit: ready" or in the self-tests, which
//    it runs alone; no lock is needed while that holds.
//  - pcidevs[] is filled once, by pci_init(), and read-only afterwards.
//  - A device's Memory Space, I/O Space and Bus Master bits are as the
//    firmware left them, except for the one card a driver takes
//    (pci_enable): this kernel answers no other device's DMA or
//    interrupts.

#include "types.h"
#include "defs.h"
#include "pci.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA    0xcfc

struct pcidev pcidevs[NPCIDEV];
int npcidev;

static inline void
outl(u16 port, u32 v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u32
inl(u16 port)
{
	u32 v;
	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void
select(u8 bus, u8 slot, u8 fn, u32 off)
{
	outl(CONFIG_ADDRESS, 0x80000000u | (u32)bus << 16 | (u32)slot << 11 |
	    (u32)fn << 8 | (off & 0xfc));
}

static u32
cfg_read(u8 bus, u8 slot, u8 fn, u32 off)
{
	select(bus, slot, fn, off);
	return inl(CONFIG_DATA);
}

u32
pci_read32(const struct pcidev *d, u32 off)
{
	return cfg_read(d->bus, d->slot, d->fn, off);
}

// Narrower reads take their bytes out of the dword; the register's
// offset within it is its low bits.
u16
pci_read16(const struct pcidev *d, u32 off)
{
	return pci_read32(d, off) >> (8 * (off & 2));
}

u8
pci_read8(const struct pcidev *d, u32 off)
{
	return pci_read32(d, off) >> (8 * (off & 3));
}

void
pci_write32(const struct pcidev *d, u32 off, u32 v)
{
	select(d->bus, d->slot, d->fn, off);
	outl(CONFIG_DATA, v);
}

// A 16-bit write through a 16-bit port access at CONFIG_DATA + (off & 2),
// which enables only the two bytes addressed: a read-modify-write of the
// dword could write back status bits that clear when written with 1
// (PCI 6.2.3).
void
pci_write16(const struct pcidev *d, u32 off, u16 v)
{
	select(d->bus, d->slot, d->fn, off);
	asm volatile("outw %0, %1" : : "a"(v), "Nd"((u16)(CONFIG_DATA + (off & 2))));
}

// Size BAR i (PCI 6.2.5.1): write all ones, read back which address bits
// stick, restore.  Decoding is off meanwhile, so that the all-ones
// address never claims a cycle meant for something else.  Returns the
// slots it took: 2 for a 64-bit BAR, whose upper half is the next one.
static int
bar_size(struct pcidev *d, int i)
{
	u32 off = PCI_BAR0 + 4 * i;
	u32 lo = pci_read32(d, off), hi = 0, szlo, szhi = 0xffffffff;
	struct pcibar *b = &d->bar[i];
	u16 cmd = pci_read16(d, PCI_COMMAND);

	b->io = lo & 1;
	b->is64 = !b->io && (lo & 6) == 4;      // type 10b: 64-bit (PCI 6.2.5.1)
	if (b->is64 && i + 1 < NBAR)
		hi = pci_read32(d, off + 4);
	pci_write16(d, PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEM));
	pci_write32(d, off, 0xffffffff);
	szlo = pci_read32(d, off);
	pci_write32(d, off, lo);
	if (b->is64) {
		pci_write32(d, off + 4, 0xffffffff);
		szhi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, hi);
	}
	pci_write16(d, PCI_COMMAND, cmd);

	u64 mask = b->io ? (szlo & ~3u) | 0xffff0000u : szlo & ~15u;
	mask |= (u64)szhi << 32;
	if ((mask & 0xffffffff) == 0) {         // nothing sticks: the BAR is not implemented
		*b = (struct pcibar){ 0 };
		return 1;
	}
	b->size = ~mask + 1;
	b->base = (b->io ? lo & ~3u : lo & ~15u) | (u64)hi << 32;
	return b->is64 ? 2 : 1;
}

static const char *
classname(u32 class)
{
	switch (class >> 16) {
	case 0x0100: return "scsi";
	case 0x0101: return "ide";
	case 0x0106: return "sata";
	case 0x0200: return "net";
	case 0x0300: return "vga";
	case 0x0600: return "host-bridge";
	case 0x0601: return "isa-bridge";
	case 0x0604: return "pci-bridge";
	case 0x0680: return "bridge";
	}
	return "other";
}

// v as n hex digits with leading zeros, at p; returns the end.  (kprintf
// has no field width.)
static char *
hex(char *p, u32 v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		*p++ = "0123456789abcdef"[v >> (4 * i) & 15];
	*p = 0;
	return p;
}

static void
add(u8 slot, u8 fn)
{
	if (npcidev == NPCIDEV) {
		kprintf("pci: more than %d functions, 00:%02x.%x and on ignored\n", NPCIDEV, slot, fn);
		return;
	}
	struct pcidev *d = &pcidevs[npcidev++];
	d->bus = 0;
	d->slot = slot;
	d->fn = fn;
	u32 id = pci_read32(d, PCI_VENDOR);
	d->vendor = id;
	d->device = id >> 16;
	d->class = pci_read32(d, PCI_CLASS);
	if ((pci_read8(d, PCI_HEADER) & 0x7f) == 0)     // only type 0 headers have six BARs
		for (int i = 0; i < NBAR; )
			i += bar_size(d, i);
	char bdf[8], ids[10], *p;
	p = hex(bdf, d->bus, 2);
	*p++ = ':';
	p = hex(p, d->slot, 2);
	*p++ = '.';
	hex(p, d->fn, 1);
	p = hex(ids, d->vendor, 4);
	*p++ = ':';
	hex(p, d->device, 4);
	kprintf("pci: %s %s %s\n", bdf, ids, classname(d->class));
}

// Once, on the boot CPU: find every function on bus 0, the only bus of
// QEMU's pc machine without a bridge, and print one line each.  A
// function 0 whose header has bit 7 set has functions 1 to 7 too
// (PCI 6.2.1).
void
pci_init(void)
{
	for (u8 slot = 0; slot < 32; slot++) {
		if ((cfg_read(0, slot, 0, PCI_VENDOR) & 0xffff) == 0xffff)
			continue;
		add(slot, 0);
		if (!(cfg_read(0, slot, 0, PCI_HEADER & ~3u) >> 16 & 0x80))
			continue;
		for (u8 fn = 1; fn < 8; fn++)
			if ((cfg_read(0, slot, fn, PCI_VENDOR) & 0xffff) != 0xffff)
				add(slot, fn);
	}
}

struct pcidev *
pci_find(u16 vendor, u16 device)
{
	for (int i = 0; i < npcidev; i++)
		if (pcidevs[i].vendor == vendor && pcidevs[i].device == device)
			return &pcidevs[i];
	return NULL;
}

// <<pci-cap
// The offset of d's next capability with this id after the one at from
// (0: from the start), or 0 if there is none (PCI 6.7).  The two low bits
// of each pointer are reserved; a list longer than the space can hold is
// cut, should it loop.
u32
pci_cap(const struct pcidev *d, u8 id, u32 from)
{
	if (!(pci_read16(d, PCI_STATUS) & STATUS_CAPS))
		return 0;
	u32 p = from == 0 ? pci_read8(d, PCI_CAPS) : pci_read8(d, from + 1);
	for (int n = 0; p >= 0x40 && n < 48; n++) {
		p &= ~3u;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, p + 1);
	}
	return 0;
}
// >>pci-cap

// Let d decode its memory BARs and master the bus, which a virtio device
// needs to read its rings and to send MSI-X messages.  Its legacy INTx
// line stays unused: Interrupt Disable (bit 10) set (PCI 6.2.2).
void
pci_enable(const struct pcidev *d)
{
	u16 cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd | CMD_MEM | CMD_MASTER | 0x400);
}
