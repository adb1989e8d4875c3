/* COM1 driver: polled output, 115200 baud, 8 data bits, no parity, one stop bit. */
#include "serial.h"
#include "x86.h"

#define COM1		 0x3f8
#define UART_DATA	 0 /* transmit holding register (write) */
#define UART_IER	 1 /* interrupt enable */
#define UART_DIVISOR_LO	 0 /* with DLAB set */
#define UART_DIVISOR_HI	 1 /* with DLAB set */
#define UART_FCR	 2 /* FIFO control */
#define UART_LCR	 3 /* line control */
#define UART_MCR	 4 /* modem control */
#define UART_LSR	 5 /* line status */

#define LCR_8N1		 0x03
#define LCR_DLAB	 0x80
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS	 0x03
#define LSR_THR_EMPTY	 0x20

void serial_init(void)
{
	outb(COM1 + UART_IER, 0); /* polled: no interrupts */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DIVISOR_LO, 1); /* 115200 / 1 */
	outb(COM1 + UART_DIVISOR_HI, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY))
		cpu_relax();
	outb(COM1 + UART_DATA, (uint8_t)c);
}
