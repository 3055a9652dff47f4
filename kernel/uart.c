// uart.c: the console, COM1, a 16550 UART polled by the CPU.
//
// Register offsets and bits from the PC16550D datasheet (National
// Semiconductor, "Register Summary").  Output is polled.  Bytes go out as
// given: "\n" is not expanded to "\r\n"; the host side deals with line
// ends.  Until the idle stage its interrupts are left off; from idle on,
// the byte the host types raises one (console.c reads it).

#include "types.h"
#include "defs.h"
#include "x86.h"

#define COM1 0x3f8

#define THR 0           // transmit holding register (DLAB = 0)
#define DLL 0           // divisor latch, low byte (DLAB = 1)
#define IER 1           // interrupt enable (DLAB = 0)
#define DLM 1           // divisor latch, high byte (DLAB = 1)
#define FCR 2           // FIFO control
#define LCR 3           // line control
#define MCR 4           // modem control
#define LSR 5           // line status

#define LCR_8N1   0x03  // 8 data bits, no parity, 1 stop bit
#define LCR_DLAB  0x80  // divisor-latch access
#define FCR_FIFO  0x07  // enable the FIFOs and clear both
#define MCR_READY 0x03  // DTR and RTS
#define LSR_THRE  0x20  // transmit holding register empty

#define RBR 0           // receiver buffer register (DLAB = 0, read)
#define IER_RDA   0x01  // interrupt when received data is available
#define MCR_OUT2  0x08  // OUT2: on PCs it connects the INTR output to the IRQ line
#define LSR_DR    0x01  // data ready: RBR or the receiver FIFO holds a byte

void
uart_init(void)
{
	outb(COM1 + IER, 0);
	outb(COM1 + LCR, LCR_DLAB);
	outb(COM1 + DLL, 1);            // 115200 baud = 1.8432 MHz / (16 * 1)
	outb(COM1 + DLM, 0);
	outb(COM1 + LCR, LCR_8N1);
	outb(COM1 + FCR, FCR_FIFO);
	outb(COM1 + MCR, MCR_READY);
}

// Wait until the transmitter can take a byte.  An absent UART reads as
// 0xff, which has THRE set, so this never waits forever.
void
uart_putc(char c)
{
	while ((inb(COM1 + LSR) & LSR_THRE) == 0)
		;
	outb(COM1 + THR, c);
}

#if KIT_STAGE_LEVEL >= STAGE_IDLE
// Interrupt when a byte arrives.  The UART raises its INTR output while
// the receiver holds data (IIR priority 2, "Received Data Available";
// with the FIFOs on, at the trigger level FCR_FIFO leaves at 1 byte, or
// after a character timeout), and drops it once the data is read.  A PC
// carries INTR to ISA IRQ 4 only while MCR's OUT2 is set.
void
uart_rx_enable(void)
{
	outb(COM1 + MCR, MCR_READY | MCR_OUT2);
	outb(COM1 + IER, IER_RDA);
}

// The next byte received, or -1 if none waits.  Reading RBR takes it
// from the FIFO; when the FIFO is empty, the interrupt condition ends.
// An absent UART reads 0xff, DR included: no byte either.
int
uart_getc(void)
{
	u8 lsr = inb(COM1 + LSR);

	if (lsr == 0xff || (lsr & LSR_DR) == 0)
		return -1;
	return inb(COM1 + RBR);
}
#endif
