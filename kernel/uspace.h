/*
 * A program's address space (checkpoint 08): its own page tables, the lower half for the
 * program and the upper half shared with the kernel. Lab 08 writes it
 * (labs/08-user/uspace.c): building and tearing down a space (step 3), and checking and
 * copying what a program hands the kernel (step 5).
 *
 *   0xffffffffffffffff  +---------------------------+
 *                       | the kernel: the upper 256 | the same tables as kernel_vm: the
 *                       | PML4 entries of kernel_vm | space's PML4 points at them; no page
 *   0xffff800000000000  +---------------------------+ there has PTE_USER
 *                       | (not canonical)           |
 *   USER_TOP            +---------------------------+ 0x00007ffffffff000: the lower half's
 *                       | stack, USER_STACK_SIZE    | last page stays unmapped
 *                       | guard page: never mapped  |
 *                       |          ...              |
 *                       | heap [heap_start, brk) ^  | grows with sbrk, at most USER_HEAP_MAX
 *                       |   a random gap            |
 *                       | the image: code (r-x),    |
 *                       | rodata (r--), data (rw-)  | below USER_LOAD_MAX
 *   USER_BOTTOM         +---------------------------+ 0x400000: nothing mapped below, so a
 *                       | never mapped              | null pointer (or one near it) faults
 *   0                   +---------------------------+
 *
 * Every page of the program has PTE_USER; code is read-only and executable, everything else
 * no-execute (PTE_NO_EXECUTE), and only data, heap and stack are writable. Where each part
 * begins is chosen at random for each start (ASLR, aslr.h), inside the ranges below.
 *
 * The kernel half is shared by pointing at the kernel's own level-3 tables: uspace_init copies
 * the upper 256 entries of kernel_vm's PML4. The kernel's regions that change while programs
 * run (heap, thread stacks) keep those tables for good (the heap never shrinks below its first
 * pages, the idle thread's stack is never unmapped), so what the kernel maps later shows in
 * every space. Tearing a space down must never give those tables back (uspace_destroy).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "user_abi.h"
#include "vm.h"

#define USER_BOTTOM	   _UL(0x0000000000400000) /* the lowest page a program may have */
#define USER_TOP	   _UL(0x00007ffffffff000) /* one past the highest */
#define USER_LOAD_MAX	   _UL(0x0000010000000000) /* 1 TiB: the image ends below */
#define USER_HEAP_GAP_MAX  _UL(0x0000000040000000) /* 1 GiB: image end .. heap start */
#define USER_HEAP_MAX	   _UL(0x0000000040000000) /* 1 GiB: the most sbrk grows the heap */
#define USER_STACK_PAGES   16
#define USER_STACK_SIZE	   (USER_STACK_PAGES * PAGE_SIZE) /* 64 KiB, mapped at the start */
#define USER_STACK_TOP_MIN _UL(0x00007f0000000000)
#define USER_STACK_TOP_MAX (USER_TOP - PAGE_SIZE) /* a free page between stack and USER_TOP */
#define USER_PML4_KERNEL   256			  /* PML4 entries 256..511 are the kernel's */

/* What uspace_map accepts in prot; every page also gets PTE_USER. */
#define USPACE_PROT (PTE_WRITABLE | PTE_NO_EXECUTE)

_Static_assert(USER_LOAD_MAX + USER_HEAP_GAP_MAX + USER_HEAP_MAX <
		       USER_STACK_TOP_MIN - USER_STACK_SIZE - PAGE_SIZE,
	       "the heap can never reach the stack's guard page");

struct uspace {
	struct vm_space vm;	   /* its page tables; vm.pml4 == 0: none (destroyed) */
	uint64_t pages;		   /* pages of the program mapped (each holds one frame) */
	struct user_layout layout; /* where its parts are (filled in by whoever loads it) */
};

/* ---- lab 08, step 3 (labs/08-user/uspace.c) ---------------------------------------------- */

/*
 * An empty space: a PML4 from the kernel's frames (vm_init with kframe_alloc, kframe_free)
 * whose upper half is a copy of kernel_vm's, no page of the program mapped, pages 0, layout
 * zeroed. Returns 0, or -ENOMEM (nothing kept).
 */
int uspace_init(struct uspace *s);

/*
 * Map [va, va + len) for the program: a fresh zeroed frame per page, PTE_USER | prot (prot a
 * subset of USPACE_PROT). Returns 0, or -ENOMEM when a frame or a table cannot be had; then
 * nothing of this call stays mapped or allocated. Panics ("uspace_map: ...") if va or len is
 * not page-aligned, len is 0, the range is not inside [USER_BOTTOM, USER_TOP), or prot has
 * other bits; vm_map panics if a page is mapped already.
 */
int uspace_map(struct uspace *s, uint64_t va, uint64_t len, uint64_t prot);

/* Unmap the pages of [va, va + len) that are mapped (page-aligned) and free their frames. */
void uspace_unmap(struct uspace *s, uint64_t va, uint64_t len);

/*
 * Free every page of the program with its frame, then every table of the lower half and the
 * PML4, leaving the kernel's tables (the upper half) alone; vm.pml4 becomes 0. s must not be
 * the live address space (its PML4 in CR3): that panics. Does nothing for a space already
 * destroyed.
 */
void uspace_destroy(struct uspace *s);

/* ---- lab 08, step 5 (labs/08-user/uspace.c): what a program hands the kernel -------------- */

/*
 * True if the program may read (write: and write) every byte of [uaddr, uaddr + len): the
 * range lies in [USER_BOTTOM, USER_TOP) without wrapping around, and every page it touches is
 * present with PTE_USER (and PTE_WRITABLE for write). len 0 is always fine.
 */
bool uaccess_ok(const struct uspace *s, uint64_t uaddr, size_t len, bool write);

/* Copy len bytes from the program's uaddr into dst: 0, or -EFAULT (uaccess_ok refused; then
 * dst is untouched). */
int copyin(const struct uspace *s, void *dst, uint64_t uaddr, size_t len);

/* Copy len bytes from src to the program's uaddr, which must be writable: 0, or -EFAULT
 * (nothing written). */
int copyout(const struct uspace *s, uint64_t uaddr, const void *src, size_t len);

/*
 * Copy the program's NUL-terminated string at uaddr, and its NUL, into dst[size] (size >= 1).
 * Returns the length of the string, not counting its NUL, as strlen would ("hi": 2, and 3 bytes
 * copied); -EFAULT if a byte up to the NUL is not readable by the program, or -ENAMETOOLONG if
 * there is no NUL in its first size bytes.
 */
long copyinstr(const struct uspace *s, char *dst, uint64_t uaddr, size_t size);

/* ---- given (kernel/layers/08-user/uspace_util.c) ----------------------------------------- */

/*
 * Call fn(va, pte, arg) for each page of the program mapped in [lo, hi) (lower half only,
 * 4 KiB pages), in address order, until fn returns false. fn may change the entry *pte
 * (clear it, say), not the tables. Walking is by tables: empty ones cost one step.
 */
void uspace_walk(const struct uspace *s, uint64_t lo, uint64_t hi,
		 bool (*fn)(uint64_t va, uint64_t *pte, void *arg), void *arg);

/*
 * Write len bytes at va in the space whatever the pages' permissions (the loader fills pages
 * that are read-only for the program): 0, or -EFAULT if a page is not mapped (what came
 * before it is written).
 */
int uspace_poke(struct uspace *s, uint64_t va, const void *src, size_t len);

/* Make s the live address space (load CR3), or the kernel's when s is NULL. */
void uspace_activate(const struct uspace *s);

/*
 * Which part of s's layout addr is in, in words, into buf[size] (as ksnprintf; returns what it
 * returns): "in the heap, below the break 0x4c5a010", "in the guard page under the stack (...)",
 * "below USER_BOTTOM (...)", ... For the reports of a page fault: the kernel's own, while step
 * 7 is not written, and the tests'. The layout is read as it is now (s->layout).
 */
int uspace_where(char *buf, size_t size, const struct uspace *s, uint64_t addr);
