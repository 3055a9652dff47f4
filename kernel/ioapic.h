// The I/O APIC's registers and the bits of a redirection entry (Intel
// 82093AA I/O Advanced Programmable Interrupt Controller datasheet, order
// 290566-001), for ioapic.c and its self-test (idletest.c).

#ifndef KIT_IOAPIC_H
#define KIT_IOAPIC_H

#include "types.h"

// Registers, by index (3.2 IOAPIC Registers).
#define IOREGSEL  0x00          // the index of the register IOWIN reaches
#define IOWIN     0x10          // that register's data
#define IOAPICID  0x00          // bits 24-27: the I/O APIC's id (3.2.1)
#define IOAPICVER 0x01          // bits 0-7 version, 16-23 the last entry's number (3.2.2)
#define IOREDTBL  0x10          // entry n: low half at 0x10 + 2n, high half after (3.2.4)

// A redirection entry's bits (3.2.4, IOREDTBL[23:0]): low half, then the
// destination in the high half.
#define RED_VECTOR  0x000000ff  // 0x10-0xfe
#define RED_FIXED   0x00000000  // delivery mode 000: the vector, to the destination
#define RED_LOGICAL 0x00000800  // destination mode; 0 is physical: an APIC id
#define RED_LOW     0x00002000  // interrupt input pin polarity: active low
#define RED_LEVEL   0x00008000  // trigger mode: level; 0 is edge
#define RED_MASKED  0x00010000  // interrupt mask
#define RED_MASK    0x0001afff  // the bits software writes: not delivery status or remote IRR
#define RED_DEST_SHIFT 24       // high half: the destination APIC id in bits 56-63
#define NPIN_MAX    240         // vectors 0x10-0xfe at most, one a pin

// ioapic.c; ioapic_init, ioapic_route and the rest are in defs.h.
u32  ioapic_read(u32 reg);
int  ioapic_npin(void);
void ioapic_routed(int n, u32 *lo, u32 *hi);

#endif
