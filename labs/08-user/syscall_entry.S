/*
 * The way into the kernel from ring 3 and back (see kernel/syscall.h for the frame it builds).
 */
#include "todo.h"

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
	TODO_ASM("syscall_entry", "step 2: rsp -> syscall_user_rsp, load syscall_stack_top; push rsp, r11, rcx, r15..r12, rbp, rbx, r9, r8, r10, rdx, rsi, rdi, rax; sti; syscall_handle(rsp); syscall_return(rsp)")
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
	TODO_ASM("syscall_return", "step 2: cli; if f->rip is not canonical call syscall_bad_return(f); else rsp = f, pop the frame's registers in order (rcx = rip, r11 = rflags, rsp last), sysretq")
	.size syscall_return, . - syscall_return
