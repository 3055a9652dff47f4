// msix.c: MSI-X, a device's interrupts as memory writes that a local
// APIC takes as interrupts (PCI 6.8.2; SDM Vol. 3A 11.11 Message
// Signalled Interrupts).
//
// The capability (PCI 6.8.2.1): Message Control at +2 (bits 10:0 the
// table's size minus one, bit 14 Function Mask, bit 15 MSI-X Enable),
// the table's BAR and offset at +4 (BIR in bits 2:0, the offset, 8-byte
// aligned, above).  Each table entry is 16 bytes (PCI 6.8.2.6 to 6.8.2.9):
// Message Address, Message Upper Address, Message Data, Vector Control
// (bit 0: the entry is masked).
//
// The message for a local APIC (SDM Vol. 3A 11.11.1, 11.11.2): address
// 0xfee00000 | destination APIC id << 12, with redirection hint and
// destination mode 0 (physical); data = the vector, with delivery mode
// 000 (fixed) and trigger mode 0 (edge).
//
// Invariant: an entry is written while masked and unmasked last, so the
// device never sends half of a message.

#include "types.h"
#include "defs.h"
#include "pci.h"

#define MSIX_CTRL       2               // Message Control
#define MSIX_TABLE      4               // table BIR and offset
#define CTRL_SIZE       0x07ff
#define CTRL_MASKALL    0x4000
#define CTRL_ENABLE     0x8000

#define ENTRY_ADDR      0               // u32 words of an entry
#define ENTRY_UADDR     1
#define ENTRY_DATA      2
#define ENTRY_CTRL      3
#define ENTRY_MASKED    1

#define MSI_ADDR        0xfee00000u     // the local APICs' message window

// Find d's MSI-X capability and its table.  The table lies in one of d's
// memory BARs, which must decode (pci_enable) before it is written.
bool
msix_init(struct msix *m, const struct pcidev *d)
{
	m->cap = pci_cap(d, CAP_MSIX, 0);
	if (m->cap == 0)
		return false;
	u16 ctrl = pci_read16(d, m->cap + MSIX_CTRL);
	u32 t = pci_read32(d, m->cap + MSIX_TABLE);
	const struct pcibar *b = &d->bar[t & 7];
	m->nentry = (ctrl & CTRL_SIZE) + 1;
	if ((t & 7) >= NBAR || b->io || b->size < (t & ~7u) + 16 * m->nentry)
		return false;
	m->table = (volatile u32 *)(uptr)(b->base + (t & ~7u));
	return true;
}

// <<msix-route
// Send entry's interrupts as vector to the local APIC apicid (fixed,
// edge, physical destination); msix_check() reads it back.  The entry may
// be written before the function is enabled (PCI 6.8.2.9).
bool
msix_route(struct msix *m, u32 entry, u32 vector, u32 apicid)
{
	volatile u32 *e = m->table + 4 * entry;

	if (entry >= m->nentry)
		return false;
	e[ENTRY_CTRL] |= ENTRY_MASKED;
	e[ENTRY_ADDR] = MSI_ADDR | apicid << 12;
	e[ENTRY_UADDR] = 0;
	e[ENTRY_DATA] = vector & 0xff;
	e[ENTRY_CTRL] &= ~ENTRY_MASKED;
	return true;
}
// >>msix-route

// Whether entry goes to vector on apicid, unmasked, with MSI-X enabled
// and the function not masked, all read back from the device: NULL, or
// what is wrong.
const char *
msix_check(const struct msix *m, const struct pcidev *d, u32 entry, u32 vector, u32 apicid)
{
	const volatile u32 *e = m->table + 4 * entry;
	u16 ctrl = pci_read16(d, m->cap + MSIX_CTRL);

	if (!(ctrl & CTRL_ENABLE))
		return fail("MSI-X not enabled (message control 0x%x)", ctrl);
	if (ctrl & CTRL_MASKALL)
		return fail("MSI-X function mask set (message control 0x%x)", ctrl);
	if (e[ENTRY_CTRL] & ENTRY_MASKED)
		return fail("MSI-X entry %u masked (vector control 0x%x)", entry, e[ENTRY_CTRL]);
	if (e[ENTRY_ADDR] != (MSI_ADDR | apicid << 12) || e[ENTRY_UADDR] != 0)
		return fail("MSI-X entry %u address 0x%x:%x, want 0x%x", entry,
		    e[ENTRY_UADDR], e[ENTRY_ADDR], MSI_ADDR | apicid << 12);
	if (e[ENTRY_DATA] != vector)
		return fail("MSI-X entry %u data 0x%x, want 0x%x", entry, e[ENTRY_DATA], vector);
	return NULL;
}

// Enable MSI-X for the function, its function mask clear; returns whether
// Message Control reads back so.
bool
msix_enable(struct msix *m, const struct pcidev *d)
{
	u16 ctrl = pci_read16(d, m->cap + MSIX_CTRL);

	ctrl = (ctrl | CTRL_ENABLE) & ~CTRL_MASKALL;
	pci_write16(d, m->cap + MSIX_CTRL, ctrl);
	return (pci_read16(d, m->cap + MSIX_CTRL) & (CTRL_ENABLE | CTRL_MASKALL)) == CTRL_ENABLE;
}
