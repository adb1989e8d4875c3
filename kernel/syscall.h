/*
 * System calls (checkpoint 08): how a program in ring 3 asks the kernel for something. Lab 08
 * writes the entry (labs/08-user/syscall_entry.S and syscall.c, step 2) and the calls
 * themselves (syscall.c, step 6); the numbers and the calling convention are in user_abi.h.
 *
 * The SYSCALL instruction, in ring 3: rcx = rip of the next instruction, r11 = rflags,
 * rflags &= ~SFMASK (the kernel clears IF there: no interrupt before the kernel has a stack),
 * CS/SS = the kernel's segments (STAR), rip = LSTAR; still on the program's stack. So the
 * entry's first job is to find its own stack: syscall_stack_top, which the kernel sets for
 * the thread that runs (the same value as the TSS's rsp0). It saves the program's registers
 * there as a struct syscall_frame, turns interrupts on and calls syscall_handle(frame). The
 * way back, syscall_return(frame), restores them and runs SYSRET (rip = rcx, rflags = r11,
 * CS/SS = the user segments of STAR), unless the frame's rip is not canonical: then SYSRET
 * would fault in ring 0 on the program's stack, so the program is ended instead
 * (syscall_bad_return).
 *
 * The frame on the thread's kernel stack, highest address first (the order the entry pushes
 * it in; struct syscall_frame lists the same fields from the lowest address, rax, up):
 *
 *     syscall_stack_top ->  +-------------------+
 *                           | rsp   (program's) |  frame + 120, pushed first
 *                           | rflags  (r11)     |
 *                           | rip     (rcx)     |  frame + 104
 *                           | r15 ... rbx       |  kept for the program
 *                           | r9 r8 r10 rdx rsi |  arguments 6 .. 2
 *                           | rdi               |  argument 1
 *         frame, rsp ->     | rax               |  frame + 0: the number; the result goes here
 *                           +-------------------+
 *
 * The table. Each number has at most one handler, long handler(struct syscall_frame *f),
 * whose result syscall_dispatch stores in f->rax. Layer 08 registers its calls at boot
 * (syscall_register); a later layer adds its own numbers the same way and edits nothing here.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "user_abi.h"
#include "x86.h"

/* The model-specific registers of SYSCALL/SYSRET (Intel SDM vol. 4, table 2-2). */
#define MSR_STAR	  0xc0000081 /* bits 47-32: kernel CS (SS = +8); 63-48: base of user SS/CS */
#define MSR_LSTAR	  0xc0000082 /* the entry point (64-bit) */
#define MSR_SFMASK	  0xc0000084 /* rflags bits SYSCALL clears */
#define STAR_KERNEL_SHIFT 32
#define STAR_USER_SHIFT	  48

/* rflags bits a system call must start without. */
#define RFLAGS_TF     (_UL(1) << 8)  /* trap flag: single-step */
#define RFLAGS_DF     (_UL(1) << 10) /* direction flag: string instructions go downwards */
#define RFLAGS_AC     (_UL(1) << 18) /* alignment check */
#define RFLAGS_ALWAYS (_UL(1) << 1)  /* reads as 1 */

struct syscall_frame {
	uint64_t rax;			       /* the number in, the result out */
	uint64_t rdi, rsi, rdx, r10, r8, r9;   /* the arguments, 1 to 6 */
	uint64_t rbx, rbp, r12, r13, r14, r15; /* the program's, given back as they were */
	uint64_t rip;			       /* where SYSRET returns: rcx at the entry */
	uint64_t rflags;		       /* r11 at the entry */
	uint64_t rsp;			       /* the program's stack pointer */
};

/* syscall_entry.S depends on this layout. */
_Static_assert(offsetof(struct syscall_frame, rdi) == 1 * 8, "syscall_frame layout");
_Static_assert(offsetof(struct syscall_frame, r9) == 6 * 8, "syscall_frame layout");
_Static_assert(offsetof(struct syscall_frame, rbx) == 7 * 8, "syscall_frame layout");
_Static_assert(offsetof(struct syscall_frame, r15) == 12 * 8, "syscall_frame layout");
_Static_assert(offsetof(struct syscall_frame, rip) == 13 * 8, "syscall_frame layout");
_Static_assert(offsetof(struct syscall_frame, rsp) == 15 * 8, "syscall_frame layout");
_Static_assert(sizeof(struct syscall_frame) == 16 * 8, "syscall_frame layout");

/* A system call: its result (>= 0, or -E...) goes back to the program in rax. */
typedef long (*syscall_fn_t)(struct syscall_frame *f);

/* ---- lab 08, step 2 (labs/08-user/syscall_entry.S, syscall.c) ---------------------------- */

/*
 * Where SYSCALL enters the kernel (LSTAR): switch to syscall_stack_top, save the frame, turn
 * interrupts on, syscall_handle(frame), then syscall_return(frame). Never called from C.
 */
void syscall_entry(void);

/*
 * Back to ring 3 with the registers of f (on the current thread's kernel stack): interrupts
 * off, every register from f, SYSRET. If f->rip is not canonical, SYSRET must not run (it
 * would fault in ring 0 with the program's rsp): call syscall_bad_return(f) instead. A new
 * program's first entry into ring 3 comes here too, with a frame the kernel built.
 */
__noreturn void syscall_return(struct syscall_frame *f);

/*
 * Turn SYSCALL on (EFER.SCE) and set STAR (the segments of segments.h), LSTAR
 * (syscall_entry) and SFMASK (IF, DF, TF and AC cleared on entry). At boot, after
 * segments_init.
 */
void syscall_init(void);

/*
 * Run system call f->rax: the handler registered for it, its result in f->rax; -ENOSYS in
 * f->rax for a number with no handler or outside the table (any 64-bit value may arrive).
 */
void syscall_dispatch(struct syscall_frame *f);

/* ---- lab 08, step 6 (labs/08-user/syscall.c): the calls of user_abi.h ---------------------- */

long sys_exit(struct syscall_frame *f);	  /* rdi: status. Ends the program: no return */
long sys_write(struct syscall_frame *f);  /* rdi: fd, rsi: buf, rdx: len */
long sys_getpid(struct syscall_frame *f); /* the program's pid */
long sys_yield(struct syscall_frame *f);  /* thread_yield; 0 */
long sys_sleep(struct syscall_frame *f);  /* rdi: ms; thread_sleep; 0 */
long sys_sbrk(struct syscall_frame *f);	  /* rdi: delta (signed); the old break */

/* ---- the kernel (kernel/layers/08-user) -------------------------------------------------- */

/* The handler of each number; NULL: none (-ENOSYS). Filled by syscall_register. */
extern syscall_fn_t syscall_table[SYSCALL_MAX];

/*
 * Give number nr the handler fn (before any program uses it). Panics ("syscall_register:
 * ...") if nr is outside the table or has a handler already.
 */
void syscall_register(unsigned nr, syscall_fn_t fn);

/* The kernel stack of the program's thread that runs (its top), for syscall_entry; the
 * program's rsp while the entry switches stacks. One CPU: one of each. */
extern uint64_t syscall_stack_top;
extern uint64_t syscall_user_rsp;

/* Called by syscall_entry with interrupts on: syscall_dispatch(f), then, if the program was
 * told to stop meanwhile (program_kill), it ends there. */
void syscall_handle(struct syscall_frame *f);

/* Called by syscall_return for a frame whose rip is not canonical: the program ends with a
 * general-protection fault at that rip, as if the CPU had raised it in ring 3. */
__noreturn void syscall_bad_return(struct syscall_frame *f);
