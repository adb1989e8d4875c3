/*
 * The way into the kernel from ring 3 and back (see kernel/syscall.h for the frame it builds).
 */
/// STARTER: #include "todo.h"

/* Offsets in struct syscall_frame (kernel/syscall.h pins them). */
#define FRAME_RIP (13 * 8)

	.text
/*
 * syscall_entry: LSTAR points here. The CPU has just executed SYSCALL in ring 3:
 *   rcx = the program's rip after the syscall, r11 = its rflags, rflags &= ~SFMASK
 *   (interrupts are off), CS/SS = the kernel's; rsp is still the program's stack.
 *   rax = the number, rdi, rsi, rdx, r10, r8, r9 = the arguments.
 *
 * Switch to syscall_stack_top (the running program's kernel stack), push the frame (rsp,
 * rflags, rip, then r15 ... rbx, r9, r8, r10, rdx, rsi, rdi, rax: the struct from its end to
 * its start), interrupts on, syscall_handle(frame), then syscall_return(frame).
 * Saves: everything, in the frame. The stack pointer of the program passes through
 * syscall_user_rsp: with interrupts off nothing else runs in between (one CPU).
 */
	.globl syscall_entry
	.type syscall_entry, @function
syscall_entry:
/// SOLUTION BEGIN
	mov	%rsp, syscall_user_rsp(%rip)
	mov	syscall_stack_top(%rip), %rsp
	pushq	syscall_user_rsp(%rip)	/* rsp */
	push	%r11			/* rflags */
	push	%rcx			/* rip */
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbp
	push	%rbx
	push	%r9
	push	%r8
	push	%r10
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rax			/* rsp = the frame */
	xor	%ebp, %ebp		/* backtraces end here, not in the program's frames */
	mov	%rsp, %rdi
	sti				/* the frame is safe: interrupts may come */
	call	syscall_handle
	mov	%rsp, %rdi
	jmp	syscall_return
/// SOLUTION END
/// STARTER: 	TODO_ASM("syscall_entry", "step 2: rsp -> syscall_user_rsp, load syscall_stack_top; push rsp, r11, rcx, r15..r12, rbp, rbx, r9, r8, r10, rdx, rsi, rdi, rax; sti; syscall_handle(rsp); syscall_return(rsp)")
	.size syscall_entry, . - syscall_entry

/*
 * void syscall_return(struct syscall_frame *f)   rdi = f
 *
 * Interrupts off, rsp = f, pop every register of the frame, rcx = rip, r11 = rflags,
 * rsp = the program's, SYSRETQ. Never returns. If f->rip is not canonical (bits 63-47 not
 * all equal), SYSRET would raise #GP in ring 0 with the program's rsp already loaded: call
 * syscall_bad_return(f) instead, still on the kernel stack.
 */
	.globl syscall_return
	.type syscall_return, @function
syscall_return:
/// SOLUTION BEGIN
	cli
	mov	FRAME_RIP(%rdi), %rcx
	mov	%rcx, %r11
	shl	$16, %r11		/* canonical: sign-extending bit 47 gives it back */
	sar	$16, %r11
	cmp	%rcx, %r11
	jne	1f
	mov	%rdi, %rsp
	pop	%rax
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%r10
	pop	%r8
	pop	%r9
	pop	%rbx
	pop	%rbp
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rcx			/* rip */
	pop	%r11			/* rflags */
	pop	%rsp			/* the program's stack: nothing may touch the stack after this */
	sysretq
1:	mov	%rdi, %rsp		/* stay on the kernel stack, under the frame */
	call	syscall_bad_return	/* does not return */
/// SOLUTION END
/// STARTER: 	TODO_ASM("syscall_return", "step 2: cli; if f->rip is not canonical call syscall_bad_return(f); else rsp = f, pop the frame's registers in order (rcx = rip, r11 = rflags, rsp last), sysretq")
	.size syscall_return, . - syscall_return
