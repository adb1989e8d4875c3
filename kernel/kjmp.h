/*
 * Non-local jumps (setjmp/longjmp) for the kernel. The host build of the tests uses the C
 * library's own, so the same code compiles in both places.
 */
#pragma once

#ifdef KTEST_HOST
#include <setjmp.h>
typedef jmp_buf kjmp_buf;
#define kjmp_set(buf)	      setjmp(buf)
#define kjmp_jump(buf, value) longjmp(buf, value)
#else
#include <stdint.h>
#include "compiler.h"

/* rbx, rbp, r12, r13, r14, r15, rsp, rip: what kernel/kjmp.S saves. */
typedef uint64_t kjmp_buf[8];

/* Save the callee-saved registers in buf; returns 0, then again `value` after kjmp_jump. */
int kjmp_set(kjmp_buf buf) __attribute__((returns_twice));
/* Resume at the kjmp_set that filled buf, making it return value (never 0). */
__noreturn void kjmp_jump(kjmp_buf buf, int value);
#endif
