// vectors.S: the entry stubs of vectors 0-31 and the common trap path.
// From the sched stage on, also the stubs of the interrupt vectors that
// trap.h's table IRQS gives the stage; an interrupt frame has no error
// code, so their stubs push a zero, and all of them share alltraps and
// its iretq.
//
// On an exception in 64-bit mode the CPU aligns RSP to 16 bytes, then
// pushes SS, RSP, RFLAGS, CS, RIP and, for some vectors, an error code
// (SDM Vol. 3A 7.14.2 64-Bit Mode Stack Frame).  Each stub makes the
// frames alike: it pushes a zero where the CPU pushes no error code, then
// its vector number, and jumps to alltraps, which saves the general
// registers and calls trap(struct trapframe *) (trap.h).

#include "stage.h"
#include "trap.h"

// The vectors whose exceptions push an error code: #DF 8, #TS 10, #NP 11,
// #SS 12, #GP 13, #PF 14, #AC 17 and #CP 21 (SDM Vol. 3A 7.15 and table
// 7-1), and on AMD CPUs #VC 29 and #SX 30 (AMD64 APM Vol. 2, 8.2).
#define ERRCODE ((1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | \
		 (1 << 14) | (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30))

// <<stub
// stub n: the entry of vector n; its address goes to vectors[n].
.macro stub n
1:	.if \n >= 32 || ((ERRCODE >> (\n & 31)) & 1) == 0
	pushq $0
	.endif
	pushq $\n
	jmp alltraps
	.pushsection .rodata
	.quad 1b
	.popsection
.endm
// >>stub

	.section .rodata
	.balign 8
	.globl vectors
vectors:

	.text
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \n
	.endr

// <<alltraps
// 5 words from the CPU, 2 from the stub and 15 here: 22 words, so RSP is
// still 16-byte aligned at the call, as the System V ABI requires.
alltraps:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld                     // the ABI wants DF = 0; the trapped code may have set it
	movq %rsp, %rdi
	call trap
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp          // the vector and the error code
	iretq                   // restores RFLAGS, DF included
// >>alltraps

// The stubs of trap.h's interrupt vectors, after the exceptions' in
// .rodata: irqvectors[i] is the stub of row i of IRQS, or 0 before the
// row's stage.  cpp makes each row one line; in gas ';' separates its
// statements.
#define IRQSTUB(vector, stage, handler, counter, name) \
	.if (stage) <= KIT_STAGE_LEVEL ; stub vector ; \
	.else ; .pushsection .rodata ; .quad 0 ; .popsection ; .endif ;

	.section .rodata
	.globl irqvectors
irqvectors:
	.text
	IRQS(IRQSTUB)
