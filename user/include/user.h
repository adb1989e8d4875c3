/*
 * The C library of the programs in user/ (checkpoint 08 on): system calls, formatted output
 * over write, a heap over sbrk (lab 04's list heap, the same code as the kernel's), and the
 * kernel's own string functions. A program is `int main(int argc, char **argv)`; returning
 * from main is exit(its value).
 *
 * What a program may rely on, and what it may not: see kernel/user_abi.h (the system calls)
 * and handouts/08-user.md; the calls of processes (fork, exec, wait, read) are checkpoint
 * 09's (kernel/process_abi.h, handouts/09-process.md): at checkpoint 08 they return -ENOSYS. There is no floating point: the programs are built without the
 * x87 and SSE, whose registers the kernel does not save across switches.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "compiler.h"
#include "process_abi.h"
#include "user_abi.h"

#define USER_EXIT_PANIC 127 /* panic() in a program: its exit status */
#define USER_EXIT_TODO	126 /* a TODO reached (lab 04's list heap, not written yet) */

/* ---- system calls: the raw result, >= 0 or -E... ------------------------------------------ */

static inline long syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long syscall3(long nr, long a1, long a2, long a3)
{
	return syscall6(nr, a1, a2, a3, 0, 0, 0);
}

__noreturn void exit(int status);
long write(int fd, const void *buf, size_t len);
int getpid(void);
void yield(void);
long sleep_ms(uint64_t ms);
long sys_sbrk(int64_t delta); /* the old break, or -E... */
void *sbrk(intptr_t delta);   /* the old break, or (void *)-1 */
long layout(struct user_layout *out);
long find(const char *name); /* the size of the program image of that name, or -ENOENT */

/* ---- processes (checkpoint 09): the raw result, >= 0 or -E... -------------------------- */

int fork(void);					/* the child's pid, 0 in the child */
int exec(const char *name, char *const argv[]); /* returns only on an error */
int wait(int *status);				/* any child: its pid; status may be NULL */
int waitpid(int pid, int *status);		/* that child (-1: any) */
long read(int fd, void *buf, size_t len);	/* fd 0: a line of the console; 0 at its end */
int getppid(void);
long image(unsigned long i, char *name, size_t size); /* image i's size, its name in name */
long frames_free(void);				      /* the kernel's free frames */

/* What an error number means, in a few words: "no such program" for -ENOENT. */
const char *errstr(long err);

/* How a child ended, as wait reported it: "exit status 3", "#PF page fault", ... */
const char *wait_describe(int status, char *buf, size_t size);

/* ---- output ---------------------------------------------------------------------------- */

int printf(const char *fmt, ...) __printf(1, 2);
int dprintf(int fd, const char *fmt, ...) __printf(2, 3);
int vdprintf(int fd, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int puts(const char *s); /* s and a newline */

/* ---- memory ---------------------------------------------------------------------------- */

void *malloc(size_t size); /* 16-byte aligned, or NULL */
void *calloc(size_t n, size_t size);
void free(void *p);

/* ---- the rest -------------------------------------------------------------------------- */

/* The time-stamp counter (under QEMU -icount: instructions retired). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* A decimal number (with an optional '-'), or dflt if s is not one. */
long atol_or(const char *s, long dflt);

/* The program's own code, for the program to find its image. */
int main(int argc, char **argv);
