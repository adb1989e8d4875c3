/*
 * What a program in ring 3 and the kernel agree on (checkpoint 08): how a system call is made,
 * the numbers of the calls, the error codes, and the layout a program can ask for. The
 * programs in user/ include this header too, so it holds nothing but numbers and one struct.
 *
 * Making a system call (the same registers as Linux on x86_64):
 *
 *     rax = the call's number, rdi, rsi, rdx, r10, r8, r9 = its arguments 1-6
 *     syscall
 *     rax = the result: >= 0, or -E... on an error
 *
 * The CPU itself overwrites rcx (the return address) and r11 (the flags); every other
 * register comes back as it was. (The fourth argument is in r10, not rcx as in a C call,
 * because the syscall instruction uses rcx.)
 *
 * A program starts at its ELF entry point with rdi = argc, rsi = argv (argv[argc] is NULL,
 * the strings and the array on the program's stack) and rsp a multiple of 16.
 */
#pragma once

#include <stdint.h>

/* ---- system call numbers: the table has SYSCALL_MAX entries, a later layer adds more ---- */

#define SYS_exit    0 /* (int status): ends the program; does not return */
#define SYS_write   1 /* (int fd, const void *buf, size_t len): fd 1 or 2, the console */
#define SYS_getpid  2 /* (): the program's id, from 1 */
#define SYS_yield   3 /* (): let another thread run; 0 */
#define SYS_sleep   4 /* (uint64_t ms): sleep that long; 0 */
#define SYS_sbrk    5 /* (int64_t delta): move the end of the heap; the old end */
#define SYS_layout  6 /* (struct user_layout *out): where the program's parts are; 0 */
#define SYS_find    7 /* (const char *name): the size of the program of that name, or -ENOENT */

#define SYSCALL_MAX 64 /* numbers 0 .. SYSCALL_MAX - 1; 08 uses 0-7, 09 adds its own */

/* ---- errors: a system call returns -E... (Linux's numbers) ------------------------------ */

#define ENOENT	     2	/* no such program */
#define E2BIG	     7	/* arguments too long */
#define ENOEXEC	     8	/* not an ELF program this kernel runs */
#define EBADF	     9	/* not a file descriptor (write: only 1 and 2) */
#define ENOMEM	     12 /* out of memory, or the heap would run into the stack */
#define EFAULT	     14 /* a bad address: unmapped, not the program's, or not writable */
#define EINVAL	     22 /* an argument that makes no sense */
#define ENAMETOOLONG 36 /* a string longer than the call accepts */
#define ENOSYS	     38 /* no system call with that number */

/* ---- SYS_layout ------------------------------------------------------------------------- */

/* Where a program's parts are (chosen at random for each start: ASLR). */
struct user_layout {
	uint64_t load_base;    /* what was added to the image's addresses (0: not moved) */
	uint64_t image_start;  /* the image's lowest page ... */
	uint64_t image_end;    /* ... and one past its highest */
	uint64_t entry;	       /* where it started */
	uint64_t heap_start;   /* the heap: [heap_start, brk), grown and shrunk by SYS_sbrk */
	uint64_t brk;	       /*   the current end of the heap */
	uint64_t stack_bottom; /* the stack: [stack_bottom, stack_top); the page below is a guard */
	uint64_t stack_top;
};
