// probe.S: calibration guests.  Each is a PVH note and a 32-bit entry,
// nothing else, built from this file with one of:
//   -DPROBE_HALT  cli; hlt forever: the host's floor, an idle vCPU at best
//   -DPROBE_SPIN  jmp . forever: the ceiling, a vCPU that never stops
//   -DPROBE_EXIT  exit at the first instruction: the floor of boot time
// The loader enters with interrupts off and no stack (boot/pvh.h); the
// probes need neither.

#include "pvh.h"

	PVH_NOTE _start32

	.code32
	.text
	.globl _start32

#if defined(PROBE_HALT)
// The least a VM can cost: nothing runs and nothing ticks.  The firmware
// leaves the 8254 PIT's channel 0 interrupting at 18.2 Hz; with IF = 0 the
// CPU never takes those interrupts, but QEMU still wakes to emulate each
// tick.  Mode 0 (interrupt on terminal count) counts down once and stops
// (Intel 8254 datasheet, order 231164, "Mode 0"), so after at most 55 ms
// (a count of 0 means 65536) the machine is silent.  With IF = 0 only an
// NMI or SMI ends the hlt; then halt again.
_start32:
	cli
	movb $0x30, %al                 // channel 0, low then high byte, mode 0
	outb %al, $0x43
	xorl %eax, %eax
	outb %al, $0x40
	outb %al, $0x40
1:	hlt
	jmp 1b

#elif defined(PROBE_SPIN)
_start32:
	jmp _start32

#elif defined(PROBE_EXIT)
// Write 0x10 to QEMU's isa-debug-exit port: QEMU exits with 33 (see
// kernel/panic.c).  Without the device, halt as PROBE_HALT does.
_start32:
	movb $0x10, %al
	outb %al, $0xf4
1:	hlt
	jmp 1b

#else
#error "define PROBE_HALT, PROBE_SPIN or PROBE_EXIT"
#endif
