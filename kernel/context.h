/*
 * A thread's saved CPU context, and the routine that switches from one thread to another:
 * lab 07 writes it in assembly (labs/07-threads/switch.S).
 *
 * context_switch is an ordinary function call as far as its C caller can tell. The System V
 * calling convention lets a call clobber rax, rcx, rdx, rsi, rdi, r8-r11 and the flags, so
 * the caller keeps nothing there across it; what a callee must preserve is rbx, rbp and
 * r12-r15, and the stack pointer. So that is all a switch saves: it pushes those six
 * registers on the stack of the thread that stops, under the return address its call
 * pushed, and the stack pointer then points at a struct context:
 *
 *     higher addresses
 *     | ...the caller's frame... |
 *     | return address           |  rip   <- pushed by `call context_switch`
 *     | rbp                      |        \
 *     | rbx                      |         |
 *     | r12                      |         |  pushed by context_switch, in this order
 *     | r13                      |         |
 *     | r14                      |         |
 *     | r15                      |  <- rsp/
 *     lower addresses                 = the struct context * saved in the thread
 *
 * Switching back pops them in the opposite order and `ret` returns into the caller. A new
 * thread gets a struct context built by hand at the top of its stack (thread_setup), whose
 * rip is where it starts.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* What context_switch leaves on a stack, lowest address first. */
struct context {
	uint64_t r15, r14, r13, r12, rbx, rbp;
	uint64_t rip; /* the return address: where the thread continues */
};

/* switch.S pushes and pops in exactly this order. */
_Static_assert(offsetof(struct context, r15) == 0 * 8, "context layout");
_Static_assert(offsetof(struct context, r14) == 1 * 8, "context layout");
_Static_assert(offsetof(struct context, r13) == 2 * 8, "context layout");
_Static_assert(offsetof(struct context, r12) == 3 * 8, "context layout");
_Static_assert(offsetof(struct context, rbx) == 4 * 8, "context layout");
_Static_assert(offsetof(struct context, rbp) == 5 * 8, "context layout");
_Static_assert(offsetof(struct context, rip) == 6 * 8, "context layout");
_Static_assert(sizeof(struct context) == 7 * 8, "context layout");

/*
 * Save the callee-saved registers on the current stack as a struct context, store its
 * address in *save, then switch to the stack at load and restore the context found there:
 * the call returns wherever the thread that saved load called context_switch (or, for a new
 * thread, at load->rip). Interrupts must be off: an interrupt between the two halves would
 * run on a stack that belongs to no thread yet.
 */
void context_switch(struct context **save, struct context *load);
