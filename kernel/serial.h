/* The 16550 UART on COM1: the kernel's console, which QEMU connects to -serial. */
#pragma once

void serial_init(void);
void serial_putc(char c);
