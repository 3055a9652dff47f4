// PCI: configuration space, the devices on bus 0, their BARs and
// capabilities (kernel/pci.c), and MSI-X (kernel/msix.c).
//
// Citations: "PCI" is the PCI Local Bus Specification, Revision 3.0.

#ifndef KIT_PCI_H
#define KIT_PCI_H

#include "types.h"

// Configuration-space registers of a type 0 header (PCI 6.1).
#define PCI_VENDOR      0x00    // u16; 0xffff: no function here
#define PCI_DEVICE      0x02    // u16
#define PCI_COMMAND     0x04    // u16
#define PCI_STATUS      0x06    // u16
#define PCI_CLASS       0x08    // u32: class, subclass, prog-if, revision
#define PCI_HEADER      0x0e    // u8: bit 7 multi-function, bits 6:0 layout
#define PCI_BAR0        0x10    // six u32 BARs
#define PCI_CAPS        0x34    // u8: offset of the first capability

#define CMD_IO          0x0001  // respond to I/O space (PCI 6.2.2)
#define CMD_MEM         0x0002  // respond to memory space
#define CMD_MASTER      0x0004  // may master the bus (DMA, MSI writes)
#define STATUS_CAPS     0x0010  // has a capability list (PCI 6.2.3)

#define CAP_VENDOR      0x09    // vendor-specific capability
#define CAP_MSIX        0x11    // MSI-X (PCI 6.8.2)

#define NBAR 6
#define NPCIDEV 32

// A memory or I/O range a BAR decodes, as the firmware placed it.
struct pcibar {
	u64 base;               // address; 0 if the BAR is unused
	u64 size;               // bytes it decodes, found by sizing; 0 if unused
	bool io;                // I/O space, not memory
	bool is64;              // a 64-bit memory BAR, which takes two slots
};

// One function of one device on bus 0.
struct pcidev {
	u8 bus, slot, fn;
	u16 vendor, device;
	u32 class;              // class code << 8 | revision (PCI_CLASS)
	struct pcibar bar[NBAR];
};

extern struct pcidev pcidevs[NPCIDEV];
extern int npcidev;

u32  pci_read32(const struct pcidev *d, u32 off);
u16  pci_read16(const struct pcidev *d, u32 off);
u8   pci_read8(const struct pcidev *d, u32 off);
void pci_write32(const struct pcidev *d, u32 off, u32 v);
void pci_write16(const struct pcidev *d, u32 off, u16 v);

void pci_init(void);
struct pcidev *pci_find(u16 vendor, u16 device);
u32  pci_cap(const struct pcidev *d, u8 id, u32 from);
void pci_enable(const struct pcidev *d);

// msix.c: one table entry, to one local APIC.
struct msix {
	u32 cap;                        // its capability's offset in configuration space
	u32 nentry;                     // entries in the table
	volatile u32 *table;            // the table, mapped in its BAR
};

bool msix_init(struct msix *m, const struct pcidev *d);
bool msix_route(struct msix *m, u32 entry, u32 vector, u32 apicid);
bool msix_enable(struct msix *m, const struct pcidev *d);
const char *msix_check(const struct msix *m, const struct pcidev *d, u32 entry, u32 vector, u32 apicid);

#endif
