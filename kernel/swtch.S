// swtch.S: switch from one thread's stack to another's.
//
//	struct thread *swtch(struct thread *prev, struct thread *next);
//
// Saves the registers the System V AMD64 ABI makes callee-saved (RBX,
// RBP, R12-R15; section 3.2.1) on prev's stack, stores RSP in prev->sp
// (offset 0 of struct thread, sched.h), loads next->sp and pops next's.
// The caller-saved registers need no saving: swtch is a call, so the
// compiler assumes they are lost.  RFLAGS is not saved either: every
// switch happens with interrupts off (trap.c) and DF = 0 (the ABI).
//
// It returns prev, in the context of next: the thread that ran before,
// which thread_tail() finishes with (an exiting thread's stack is free
// only once the core is off it).

// <<swtch
	.text
	.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)               // prev->sp
	movq (%rsi), %rsp               // next->sp: now on next's stack
	movq %rdi, %rax                 // return prev
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

// A new thread's first return from swtch lands here (thread.c builds the
// frame): RSP is 16-byte aligned, as the ABI wants at a call, and RAX
// holds prev.
	.globl thread_start
thread_start:
	movq %rax, %rdi
	call thread_entry               // thread.c; never returns
	ud2
// >>swtch
