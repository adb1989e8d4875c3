/* Leaving QEMU (see qemu.h). */
#include "qemu.h"
#include "x86.h"

void qemu_exit(enum qemu_exit_code code)
{
	cli();
	outb(QEMU_EXIT_PORT, (uint8_t)code);
	for (;;) /* no exit device: stop here */
		hlt();
}
