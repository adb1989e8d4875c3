/* The kernel console: kprintf's output goes to COM1, with "\n" sent as "\r\n" for terminals. */
#include "kprintf.h"
#include "serial.h"
#include "x86.h"

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

unsigned long console_lock(void)
{
	unsigned long flags = read_rflags();

	cli();
	return flags;
}

void console_unlock(unsigned long flags)
{
	if (flags & RFLAGS_IF)
		sti();
}
