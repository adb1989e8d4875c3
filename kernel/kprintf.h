/*
 * Formatted output: kprintf to the console, ksnprintf into a buffer.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%, with the length modifiers hh h l ll z t j,
 * the flags '-' (left-justify) and '0' (zero padding), a field width (a number or '*') and a
 * precision ('.' then a number or '*': at most that many characters of a %s, at least that
 * many digits of a number). %p prints "0x" and 16 hex digits. Both functions return the number
 * of characters the full output has, as printf does, even when a buffer cuts it short.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include "compiler.h"

/* Where formatted text goes: called with consecutive pieces of the output. */
typedef void (*kprintf_sink_t)(void *ctx, const char *s, size_t n);

int kvformat(kprintf_sink_t sink, void *ctx, const char *fmt, va_list ap);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* To the console (COM1 in the kernel, stdout in a host test program). Never fails. */
int kprintf(const char *fmt, ...) __printf(1, 2);
int kvprintf(const char *fmt, va_list ap);

/* Provided by the console of each build (kernel/console.c, kernel/host/host.c). */
void console_write(const char *s, size_t n);
/* Runs of console output that must not be split by an interrupt (one KTAP line, say). */
unsigned long console_lock(void);
void console_unlock(unsigned long flags);
