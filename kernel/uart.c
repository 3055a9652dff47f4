// uart.c: the console, COM1, a 16550 UART polled by the CPU.
//
// Register offsets and bits from the PC16550D datasheet (National
// Semiconductor, "Register Summary").  The port is polled and its
// interrupts are left off.  Bytes go out as given: "\n" is not expanded to
// "\r\n"; the host side deals with line ends.

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

// <<uart-init
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
// >>uart-init

// Wait until the transmitter can take a byte.  An absent UART reads as
// 0xff, which has THRE set, so this never waits forever.
// <<uart-putc
void
uart_putc(char c)
{
	while ((inb(COM1 + LSR) & LSR_THRE) == 0)
		;
	outb(COM1 + THR, c);
}
// >>uart-putc
