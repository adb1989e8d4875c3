/*
 * Trap entry: one small stub per vector makes every trap look the same (an error code and
 * the vector number on the stack), then trap_common saves the registers as a
 * struct trap_frame (trap.h) and calls trap_dispatch(frame).
 */

/* Vectors for which the CPU pushes an error code itself. */
#define HAS_ERROR_CODE(n) ((n) == 8 || ((n) >= 10 && (n) <= 14) || (n) == 17 || (n) == 21 || (n) == 29 || (n) == 30)

	.text
	.macro trap_stub n
	.align 16
trap_stub_\n:
	.if !HAS_ERROR_CODE(\n)
	pushq	$0			/* the error code the CPU did not push */
	.endif
	pushq	$\n
	jmp	trap_common
	.endm

	.altmacro
	.set n, 0
	.rept 256
	trap_stub %n
	.set n, n + 1
	.endr

/*
 * Save the registers, call trap_dispatch(struct trap_frame *), restore, return from the trap.
 * Before the call, a fake stack frame (the trapped rip and rbp) lets backtraces continue
 * from the handler into the code that was interrupted.
 */
	.type trap_common, @function
trap_common:
	cld
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi		/* struct trap_frame * */
	pushq	17*8(%rdi)		/* fake frame: the trapped rip ... */
	push	%rbp			/* ... and rbp */
	mov	%rsp, %rbp
	call	trap_dispatch
	add	$16, %rsp		/* drop the fake frame */
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$16, %rsp		/* vector and error code */
	iretq
	.size trap_common, . - trap_common

/* void *const trap_stubs[256]: the address of each stub, for the IDT. */
	.section .rodata
	.align 8
	.globl trap_stubs
	.macro stub_address n
	.quad	trap_stub_\n
	.endm
trap_stubs:
	.set n, 0
	.rept 256
	stub_address %n
	.set n, n + 1
	.endr
