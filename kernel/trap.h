/*
 * Traps: CPU exceptions (vectors 0-31) and interrupts (32-255) arrive through the stubs in
 * trapentry.S, which save every general-purpose register into a struct trap_frame and call
 * trap_dispatch().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRAP_VECTORS 256

/* Exception vectors (Intel SDM vol. 3, table 6-1). */
enum {
	VEC_DE = 0,	   /* divide error */
	VEC_DB = 1,	   /* debug */
	VEC_NMI = 2,	   /* non-maskable interrupt */
	VEC_BP = 3,	   /* breakpoint (int3) */
	VEC_OF = 4,	   /* overflow */
	VEC_BR = 5,	   /* bound range exceeded */
	VEC_UD = 6,	   /* invalid opcode */
	VEC_NM = 7,	   /* device not available */
	VEC_DF = 8,	   /* double fault */
	VEC_TS = 10,	   /* invalid TSS */
	VEC_NP = 11,	   /* segment not present */
	VEC_SS = 12,	   /* stack-segment fault */
	VEC_GP = 13,	   /* general protection */
	VEC_PF = 14,	   /* page fault */
	VEC_MF = 16,	   /* x87 floating-point error */
	VEC_AC = 17,	   /* alignment check */
	VEC_MC = 18,	   /* machine check */
	VEC_XM = 19,	   /* SIMD floating-point */
	VEC_IRQ_BASE = 32, /* first vector free for interrupts */
};

/* Page-fault error code bits (the CPU pushes them for VEC_PF). */
#define PF_PRESENT (1u << 0) /* 0: page not present; 1: protection violation */
#define PF_WRITE   (1u << 1) /* 0: read; 1: write */
#define PF_USER	   (1u << 2) /* 0: kernel mode; 1: user mode */
#define PF_RSVD	   (1u << 3) /* a reserved bit was set in a paging entry */
#define PF_INSTR   (1u << 4) /* the access was an instruction fetch */

/* Everything trapentry.S saves, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector; /* pushed by the vector's stub */
	uint64_t error;	 /* pushed by the CPU, or 0 by the stub for vectors without one */
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* trapentry.S depends on this layout. */
_Static_assert(offsetof(struct trap_frame, rbp) == 8 * 8, "trap_frame layout");
_Static_assert(offsetof(struct trap_frame, vector) == 15 * 8, "trap_frame layout");
_Static_assert(offsetof(struct trap_frame, rip) == 17 * 8, "trap_frame layout");
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame layout");

/* The entry stub of each vector, for the IDT (defined in trapentry.S). */
extern void *const trap_stubs[TRAP_VECTORS];

/* How many traps are being handled right now (0 in normal code). */
extern int trap_depth;

/* A handler for one vector; runs with interrupts disabled. */
typedef void (*trap_handler_t)(struct trap_frame *tf);

/*
 * Route `vector` to handler, replacing the earlier one, which it returns (NULL: none), so that
 * a handler for an exception can pass on what it does not handle: to the earlier handler, or
 * to trap_exception_default when there was none.
 */
trap_handler_t trap_register(int vector, trap_handler_t handler);

/*
 * What the kernel does with an exception nobody handles: lab 01's report (and the page-fault
 * report, if set), then a panic; a breakpoint continues after its report.
 */
void trap_exception_default(struct trap_frame *tf);

/* Called by trapentry.S for every trap. */
void trap_dispatch(struct trap_frame *tf);

/*
 * Whose guard page holds addr: write a description ("thread 'worker'") into buf and return
 * true, or return false if addr is in no guard page the function knows of.
 */
typedef bool (*trap_guard_owner_t)(uint64_t addr, char *buf, size_t size);

/*
 * Tell the fault reports about more stacks with guard pages than the boot stack (the thread
 * stacks: kernel/layers/07-threads). A double fault, or a page fault nothing catches, whose
 * address is in one of them then panics with "kernel stack overflow: <owner> ran into ...".
 */
void trap_set_guard_owner(trap_guard_owner_t owner);

/*
 * A report printed after lab 01's for every page fault nothing handles: lab 02's words for the
 * error code (kernel/layers/02-paging sets it). It must never stop the caller.
 */
typedef void (*trap_fault_report_t)(const struct trap_frame *tf, uint64_t addr);
void trap_set_page_fault_report(trap_fault_report_t report);

/* "#PF page fault" for 14, "interrupt" for 32 and up. */
const char *trap_name(uint64_t vector);
