/*
 * Leaving QEMU through its isa-debug-exit device (-device isa-debug-exit,iobase=0xf4). QEMU
 * exits with status (code << 1) | 1, so the harness sees 33, 35 or 37. A triple fault under
 * -no-reboot makes QEMU exit with 0, which the harness reports as a machine reset.
 */
#pragma once

#include "compiler.h"

#define QEMU_EXIT_PORT 0xf4

enum qemu_exit_code {
	QEMU_EXIT_SUCCESS = 0x10, /* status 33: finished, every test passed */
	QEMU_EXIT_FAILURE = 0x11, /* status 35: finished, some test failed */
	QEMU_EXIT_PANIC = 0x12,	  /* status 37: the kernel panicked */
};

/* Stop the machine. Without the exit device (another emulator, real hardware) just halt. */
__noreturn void qemu_exit(enum qemu_exit_code code);
