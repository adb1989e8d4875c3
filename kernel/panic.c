/*
 * panic() and backtraces. The harness (and `make qemu`)
 * turns each "#N 0x..." backtrace line into function and file:line with addr2line.
 */
#include <stdarg.h>
#include "attest.h"
#include "kprintf.h"
#include "ktry.h"
#include "memlayout.h"
#include "panic.h"
#include "qemu.h"
#include "x86.h"

#define BACKTRACE_MAX 24

/* A frame as -fno-omit-frame-pointer lays it out: saved rbp, then the return address. */
struct stack_frame {
	struct stack_frame *rbp;
	uint64_t rip;
};

static int is_kernel_address(uint64_t a)
{
	return a >= KERNEL_VMA || (a >= DIRECT_MAP_BASE && a < KHEAP_BASE) ||
	       (a >= KSTACKS_BASE && a < KERNEL_VMA);
}

void backtrace_print(uint64_t rbp)
{
	struct stack_frame *f = (struct stack_frame *)(rbp ? rbp : read_rbp());

	kprintf("backtrace:\n");
	for (int i = 0; i < BACKTRACE_MAX && f; i++) {
		if (!is_kernel_address((uint64_t)f) || ((uint64_t)f & 7))
			break;
		if (!f->rip)
			break;
		kprintf("  #%d 0x%016lx\n", i, f->rip);
		if (f->rbp <= f) /* stacks grow down: callers' frames are above */
			break;
		f = f->rbp;
	}
}

void panic(const char *fmt, ...)
{
	static int panicking;
	char msg[KTRY_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	uint64_t rbp = read_rbp(); /* this frame: the trace starts at panic's caller */

	ktry_raise_traced(KTRY_PANIC, msg, rbp, rbp); /* returns unless a catch point takes it */

	cli();
	if (panicking++) { /* a panic while panicking: say so and stop at once */
		kprintf("\nPANIC (nested): %s\n", msg);
		qemu_exit(QEMU_EXIT_PANIC);
	}
	kprintf("\nPANIC: %s\n", msg);
	attest_printf("panic %s", msg); /* signed, for the grader: lab code cannot fake a panic */
	backtrace_print(0);
	qemu_exit(QEMU_EXIT_PANIC);
}
