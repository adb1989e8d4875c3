/*
 * The kernel command line: words separated by spaces, each "key" or "key=value". QEMU passes
 * -append "..." through the multiboot loader, after the kernel's own file name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX 1024

/* Keep a copy of s (cut at CMDLINE_MAX - 1 characters) as the command line. */
void cmdline_set(const char *s);

/* The whole command line ("" before cmdline_set). */
const char *cmdline_raw(void);

/* True if the word `key` or `key=...` is present. */
bool cmdline_has(const char *key);

/*
 * Copy the value of key=value into buf (at most size - 1 characters, NUL-terminated).
 * Returns false, leaving buf alone, if the key is absent or has no value.
 */
bool cmdline_get(const char *key, char *buf, size_t size);

/* The value of key=N as a number (decimal, or hex with 0x), or dflt if absent or malformed. */
uint64_t cmdline_get_u64(const char *key, uint64_t dflt);

/* Parse a whole string as a number: decimal, or hex with a 0x prefix. False if it is not one. */
bool parse_u64(const char *s, size_t len, uint64_t *out);
