// ap.S: the AP trampoline, from real mode at the start-up IPI's page to
// apmain() in 64-bit mode.
//
// kernel/smp.c copies [ap_start, ap_end) to AP_BASE (mmu.h), fills in the
// arguments at its end, and sends an AP INIT and a start-up IPI whose
// vector is AP_BASE >> 12.  The AP starts in real mode with CS = vector <<
// 8, so CS's base is AP_BASE, and IP = 0 (SDM Vol. 3A 11.6.1, Start-Up).
// It climbs as the boot CPU did: to protected mode (10.9.1 Switching to
// Protected Mode), then to IA-32e mode (10.8.5 Initializing IA-32e Mode),
// with the boot CPU's GDT and page tables, and calls apmain(cpu) on the
// stack the arguments give.
//
// Invariants:
//  - This code runs at AP_BASE, not where it is linked.  It names its own
//    bytes by their offset from ap_start: from real mode through DS, whose
//    base is AP_BASE; from 32-bit mode as AP_BASE + offset, the segments
//    being flat; from 64-bit mode RIP-relatively.  It reaches the kernel
//    only through absolute addresses.
//  - One AP at a time runs it: the boot CPU changes the arguments only
//    after the AP before has reported up from C, long after it read them.
//  - Interrupts stay off: INIT leaves IF = 0 (10.1.1, table 10-1) and
//    nothing here sets it.
//
// The kernel never executes these bytes where they are linked, so they
// live with the read-only data.

#include "mmu.h"

	.section .rodata
	.globl ap_start, ap_end, ap_gdtr, ap_cr3, ap_stack, ap_cpu

// <<ap-real
	.code16
ap_start:
	cli
	movw %cs, %ax
	movw %ax, %ds                   // DS = CS: offsets from ap_start address this copy

	lgdtl ap_gdtr - ap_start        // the boot CPU's GDT: limit and 32-bit base
	movl ap_cr3 - ap_start, %esi    // its PML4, kept in ESI: the 32-bit code reads no memory

	// INIT left CD and NW set, caches off (10.1.1, table 10-1); clear them
	// (12.5.1 Cache Control Registers and Bits) as the PE bit goes on.
	movl %cr0, %eax
	andl $~(CR0_CD | CR0_NW), %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0                 // protected mode; CS still holds the real-mode segment

	ljmpl $SEG_KCODE32, $(AP_BASE + ap32 - ap_start)   // load CS: 32-bit code
// >>ap-real

// The boot CPU's steps of boot/entry.S, from PAE on.  The data segment
// registers still hold real-mode values; nothing here uses them.
	.code32
ap32:
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4

	movl %esi, %cr3

	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr

	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0                 // IA-32e mode active, compatibility mode

	ljmp $SEG_KCODE, $(AP_BASE + ap64 - ap_start)      // 64-bit mode

	.code64
ap64:
	movl $SEG_KDATA, %eax           // as in boot/entry.S's start64
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs                  // base 0 until apmain writes IA32_GS_BASE

	movq ap_stack(%rip), %rsp       // 16-byte aligned, as the ABI wants at a call
	movq ap_cpu(%rip), %rdi
	movq $apmain, %rax              // absolute: a relative call would be relative to this copy
	call *%rax
	ud2                             // apmain never returns

// The arguments, written by kernel/smp.c into the copy before each AP.
	.balign 8
ap_gdtr:
	.skip 10                        // the boot CPU's sgdt: a 2-byte limit, an 8-byte base
	.balign 8
ap_cr3:
	.quad 0                         // the boot CPU's CR3: below 4 GiB, as 32-bit code needs
ap_stack:
	.quad 0                         // the top of this AP's stack
ap_cpu:
	.quad 0                         // its struct cpu, apmain's argument
ap_end:
