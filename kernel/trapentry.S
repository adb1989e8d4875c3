/*
 * Trap entry: one small stub per vector makes every trap look the same (an error code and
 * the vector number on the stack), then trap_common saves the registers as a
 * struct trap_frame (trap.h) and calls trap_dispatch(frame).
 *
 * The .cfi_ lines describe the stack to a debugger: where the interrupted code's rip, rsp and
 * registers are saved at each instruction. With them GDB's `bt` in a handler (or in a thread
 * the timer preempted) goes on through the trap frame into the interrupted function and its
 * callers. The CPU pushed ss, rsp, rflags, cs and rip (and, for some vectors, an error code);
 * the canonical frame address (CFA) is the address right above ss, and .cfi_signal_frame
 * tells GDB that the saved rip is where the code was stopped, not a return address.
 */
	.cfi_sections .debug_frame	/* as the C code's: the kernel keeps no .eh_frame */

/* Start a trap's CFI: the interrupted rip is at rsp + \rip_at, then cs, rflags, rsp, ss. */
	.macro trap_cfi_start rip_at
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa rsp, \rip_at + 5*8
	.cfi_offset rip, -5*8
	.cfi_offset rsp, -2*8
	.endm

/* Push a register of the interrupted code, and say where it is. */
	.macro save reg
	push	%\reg
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset \reg, 0
	.endm

	.macro restore reg
	pop	%\reg
	.cfi_adjust_cfa_offset -8
	.cfi_restore \reg
	.endm

/* Vectors for which the CPU pushes an error code itself. */
#define HAS_ERROR_CODE(n) ((n) == 8 || ((n) >= 10 && (n) <= 14) || (n) == 17 || (n) == 21 || (n) == 29 || (n) == 30)

	.text
	.macro trap_stub n
	.align 16
trap_stub_\n:
	.if HAS_ERROR_CODE(\n)
	trap_cfi_start 8
	.else
	trap_cfi_start 0
	pushq	$0			/* the error code the CPU did not push */
	.cfi_adjust_cfa_offset 8
	.endif
	pushq	$\n
	.cfi_adjust_cfa_offset 8
	jmp	trap_common
	.cfi_endproc
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
	trap_cfi_start 16		/* the stub pushed the vector and an error code */
	cld
	save	rax
	save	rbx
	save	rcx
	save	rdx
	save	rsi
	save	rdi
	save	rbp
	save	r8
	save	r9
	save	r10
	save	r11
	save	r12
	save	r13
	save	r14
	save	r15
	mov	%rsp, %rdi		/* struct trap_frame * */
	pushq	17*8(%rdi)		/* fake frame: the trapped rip ... */
	.cfi_adjust_cfa_offset 8
	push	%rbp			/* ... and rbp */
	.cfi_adjust_cfa_offset 8
	mov	%rsp, %rbp
	call	trap_dispatch
	add	$16, %rsp		/* drop the fake frame */
	.cfi_adjust_cfa_offset -16
	restore	r15
	restore	r14
	restore	r13
	restore	r12
	restore	r11
	restore	r10
	restore	r9
	restore	r8
	restore	rbp
	restore	rdi
	restore	rsi
	restore	rdx
	restore	rcx
	restore	rbx
	restore	rax
	add	$16, %rsp		/* vector and error code */
	.cfi_adjust_cfa_offset -16
	iretq
	.cfi_endproc
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
