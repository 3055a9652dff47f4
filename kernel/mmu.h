// Control-register, paging and segment constants, shared by the assembly
// (boot/entry.S) and C.  Plain numbers only, so gas can read this file.

#ifndef KIT_MMU_H
#define KIT_MMU_H

// Control registers (SDM Vol. 3A 2.5 Control Registers) and IA32_EFER
// (SDM Vol. 3A 2.2.1 Extended Feature Enable Register).
#define CR0_PE   0x00000001     // protection enable: protected mode
#define CR0_NW   0x20000000     // not write-through; INIT sets it (10.1.1)
#define CR0_CD   0x40000000     // cache disable; INIT sets it too
#define CR0_PG   0x80000000     // paging
#define CR4_PAE  0x00000020     // physical-address extension; long mode needs it
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100     // long-mode enable; the CPU sets LMA when PG is set
#define MSR_GS_BASE 0xc0000101  // GS's base in 64-bit mode (SDM Vol. 3A 3.4.4)

// Paging-structure entry bits (SDM Vol. 3A 5.5 4-Level Paging, the entry
// formats of the PML4E, PDPTE and PDE).  A PDE with PS set maps a 2 MiB
// page directly.
#define PTE_P    0x001          // present
#define PTE_W    0x002          // writable
#define PTE_PS   0x080          // page size: this PDE maps a 2 MiB page
#define PGSIZE   0x1000
#define PDSIZE   0x200000       // bytes one PDE maps (2 MiB)
#define PDPSIZE  0x40000000     // bytes one PDPTE maps (1 GiB)

// boot/entry.S maps physical [0, IDMAP_END) at the same virtual addresses
// and nothing else: the whole 32-bit physical space, so RAM, the local
// APIC (0xfee00000), the I/O APIC (0xfec00000) and 32-bit PCI BARs are
// all reachable; the first access at or above IDMAP_END faults.
#define IDMAP_END 0x100000000

// Segment selectors: index << 3 with TI = 0 and RPL = 0 (SDM Vol. 3A 3.4.2
// Segment Selectors).  The GDT in boot/entry.S has this order.
#define SEG_KCODE   0x08        // 64-bit code
#define SEG_KDATA   0x10        // data
#define SEG_KCODE32 0x18        // 32-bit code, for boot/ap.S's protected-mode step

// An AP starts in real mode at the page its start-up IPI names (SDM Vol.
// 3A 11.6.1, Start-Up): kernel/smp.c copies boot/ap.S there.  Below 1 MiB
// and page-aligned, as the vector requires, and free RAM that nothing
// else uses: QEMU 7.2's PVH loader puts its start info, memory map and
// command line below 0x3000.
#define AP_BASE 0x8000

// Each CPU's kernel stack: the boot CPU's in boot/entry.S, the others'
// in kernel/smp.c.
#define KSTACKSIZE 16384

#endif
