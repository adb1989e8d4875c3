/*
 * TODO(what) marks code a student has yet to write. Reaching it stops the current test with
 * "not implemented: <function>() at <file>:<line>: <what>", or panics with that message
 * outside a test. The grading harness shows the message, so `what` should say what to do.
 *
 * In an assembly routine (a .S file), TODO_ASM(function, what) does the same: it calls
 * todo_reached with the routine's name, the file and the line.
 */
#pragma once

#ifndef __ASSEMBLER__
#include "compiler.h"

#define TODO(what)  todo_reached(__func__, __FILE__, __LINE__, what)
#define TODO_PREFIX "not implemented: " /* how the message of a TODO begins */

__noreturn void todo_reached(const char *func, const char *file, int line, const char *what);
#else
/* A frame for backtraces (and an aligned stack), then todo_reached(func, file, line, what). */
// clang-format off
#define TODO_ASM(func, what)                                                    \
	push %rbp;                                                              \
	mov %rsp, %rbp;                                                         \
	lea 901f(%rip), %rdi;                                                   \
	lea 902f(%rip), %rsi;                                                   \
	mov $__LINE__, %edx;                                                    \
	lea 903f(%rip), %rcx;                                                   \
	call todo_reached;                                                      \
	.pushsection .rodata;                                                   \
	901: .asciz func;                                                      \
	902: .asciz __FILE__;                                                  \
	903: .asciz what;                                                      \
	.popsection
// clang-format on
#endif
