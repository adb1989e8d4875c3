/*
 * The context switch (see kernel/context.h for the struct context it leaves on a stack).
 */
/// STARTER: #include "todo.h"

	.text
/*
 * void context_switch(struct context **save, struct context *load)
 *                     rdi                    rsi
 *
 * Saves: rbp, rbx, r12, r13, r14, r15 (the callee-saved registers), pushed on the current
 * stack under the return address that the call pushed; that is a struct context, and its
 * address goes to *save. Loads: rsp = load, then pops the same registers in the opposite
 * order and returns through load's rip. Every other register the C caller expects to lose in
 * a call anyway. Interrupts must be off.
 */
	.globl context_switch
	.type context_switch, @function
context_switch:
/// SOLUTION BEGIN
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, (%rdi)		/* *save = the struct context just built */
	mov	%rsi, %rsp		/* now on the other thread's stack */
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret				/* into the other thread */
/// SOLUTION END
/// STARTER: 	TODO_ASM("context_switch", "step 3: push rbp, rbx, r12-r15; *save = rsp; rsp = load; pop the six back in the opposite order; ret")
	.size context_switch, . - context_switch
