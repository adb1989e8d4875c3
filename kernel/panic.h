/* Stopping the kernel when an invariant breaks: panic() and KASSERT(). */
#pragma once

#include <stdint.h>
#include "compiler.h"

/*
 * Print "PANIC: <message>" and a backtrace, then stop the machine (QEMU exits with code
 * QEMU_EXIT_PANIC). By convention the message starts with the function's name:
 * panic("frame_free: double free of 0x%lx", pa).
 * Inside a test that expects it (EXPECT_PANIC), the test catches it instead.
 */
__noreturn void panic(const char *fmt, ...) __printf(1, 2);

/* Print the frame-pointer chain starting at frame pointer rbp (0: the caller's own). */
void backtrace_print(uint64_t rbp);

#define KASSERT(cond)                                                                        \
	do {                                                                                 \
		if (unlikely(!(cond)))                                                       \
			panic("%s: assertion failed: %s (%s:%d)", __func__, #cond, __FILE__, \
			      __LINE__);                                                     \
	} while (0)
