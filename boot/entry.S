// entry.S: from the PVH loader's 32-bit protected mode to kmain() in
// 64-bit long mode.
//
// State on entry (PVH boot ABI, boot/pvh.h): protected mode, paging off,
// flat CS, DS and ES, EFLAGS.IF = 0, EBX = physical address of the
// struct hvm_start_info.  There is no stack, and DF, SS and the other
// registers are unspecified.
//
// The switch follows Intel SDM Vol. 3A 10.8.5 (Initializing IA-32e Mode):
// with paging off, set CR4.PAE, load CR3 with the PML4, set IA32_EFER.LME,
// then set CR0.PG.  The CPU then activates IA-32e mode (EFER.LMA = 1) in
// compatibility mode, and a far jump to a code segment with L = 1 enters
// 64-bit mode.  All of this runs at identity-mapped addresses, so the
// instruction after the MOV to CR0 is fetched from the same place before
// and after paging is on (10.8.5).

#include "mmu.h"
#include "pvh.h"
#include "stage.h"

// Segment-descriptor fields (SDM Vol. 3A 3.4.5 Segment Descriptors).
#define DESC_G        (1 << 55)     // limit counts 4 KiB pages
#define DESC_DB       (1 << 54)     // 32-bit segment
#define DESC_L        (1 << 53)     // 64-bit code segment
#define DESC_P        (1 << 47)     // present
#define DESC_S        (1 << 44)     // code or data, not a system segment
#define DESC_TYPE(t)  ((t) << 40)
#define DESC_LIMIT4G  (0xffff | (0xf << 48))    // limit 0xfffff: with G, 4 GiB
#define TYPE_CODE     0xb           // execute/read, accessed
#define TYPE_DATA     0x3           // read/write, accessed

	PVH_NOTE _start32

	.code32
	.text
	.globl _start32
_start32:
	cld                             // the C ABI requires DF = 0 at every call

	// Zero .bss before anything uses it: the stack, the stats block and
	// every C static live there.  The loader put hvm_start_info outside the
	// image (it allocated the image, bss included), and rep stos leaves EBX
	// alone, so the start-info pointer survives.
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

// <<long-mode
	lgdt gdtdesc                    // in 32-bit mode lgdt reads a 32-bit base

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4

	movl $pml4, %eax
	movl %eax, %cr3

	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr

	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0                 // IA-32e mode active, compatibility mode

	ljmp $SEG_KCODE, $start64       // load CS with L = 1: 64-bit mode
// >>long-mode

	.code64
start64:
	// 64-bit mode ignores the base and limit of DS, ES and SS (SDM Vol. 3A
	// 3.4.4), but the selectors still index the GDT: an interrupt pushes SS
	// and IRETQ reloads it, so SS must name a descriptor of this GDT, not
	// of the loader's.
	movl $SEG_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs

	movq $bootstack + KSTACKSIZE, %rsp      // 16-byte aligned, as the ABI wants at a call
	movl %ebx, %edi                 // kmain(start info); movl zero-extends into RDI
	call kmain
	ud2                             // kmain never returns; if it did, #UD says so

// The GDT.  In 64-bit mode the CPU ignores base and limit; the code
// descriptor needs P, S, a code type and L = 1 with D = 0 (SDM Vol. 3A
// 6.2.1 Code-Segment Descriptor in 64-bit Mode).  The accessed bit of each
// type is preset, so the CPU never writes this table when it loads a
// selector and the table can live in .rodata.
	.section .rodata
	.balign 8
gdt:
	.quad 0                                                 // null
	.quad DESC_L | DESC_P | DESC_S | DESC_TYPE(TYPE_CODE)   // SEG_KCODE
	.quad DESC_P | DESC_S | DESC_TYPE(TYPE_DATA)            // SEG_KDATA
#if KIT_STAGE_LEVEL >= STAGE_CORES
	// SEG_KCODE32: flat 32-bit code, for the step through protected mode
	// that an AP's trampoline takes on its way to 64-bit mode (boot/ap.S).
	.quad DESC_G | DESC_DB | DESC_P | DESC_S | DESC_TYPE(TYPE_CODE) | DESC_LIMIT4G
#endif
gdt_end:

// The operand of lgdt: a 16-bit limit, then the base.  32-bit code reads
// the low 4 bytes of the base, 64-bit code all 8, so both can use it.
gdtdesc:
	.word gdt_end - gdt - 1
	.quad gdt

// <<page-tables
// The identity map of [0, IDMAP_END) (SDM Vol. 3A 5.5 4-Level Paging): the
// PML4's first entry points to the PDPT, whose first IDMAP_END / 1 GiB
// entries point to as many page directories, whose entries map 2 MiB pages
// (PDE.PS = 1).  1 GiB pages would need CPUID.80000001H:EDX.Page1GB, which
// QEMU's default CPU model lacks.
// Invariants: virtual == physical below IDMAP_END, nothing is mapped above
// it, and the assembler writes the tables: no code builds them.
	.data
	.balign PGSIZE
pml4:
	.quad pdpt + (PTE_P | PTE_W)
	.fill 511, 8, 0
pdpt:
	.set i, 0
	.rept IDMAP_END / PDPSIZE
	.quad pd + i * PGSIZE + (PTE_P | PTE_W)
	.set i, i + 1
	.endr
	.fill 512 - IDMAP_END / PDPSIZE, 8, 0
pd:
	.set pa, 0
	.rept IDMAP_END / PDSIZE
	.quad pa + (PTE_P | PTE_W | PTE_PS)
	.set pa, pa + PDSIZE
	.endr
// >>page-tables

	.bss
	.balign 16
	.globl bootstack
bootstack:                              // the boot CPU's stack; kernel/smp.c knows it
	.skip KSTACKSIZE
