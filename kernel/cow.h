/*
 * Copy-on-write (checkpoint 09): fork gives the child a copy of the parent's address space
 * without copying a page, and the first write to a shared page copies that page alone. Lab
 * 09 writes it (labs/09-process/cow.c): the copy of the page tables (step 3) and the fault
 * that copies a page (step 4).
 *
 * After fork, both spaces map the same frames; every page that was writable is now
 * read-only in both, marked PTE_COW (a bit the CPU ignores, bit 9, free for the kernel), and
 * each frame has one more owner (kernel/frameref.h):
 *
 *     parent's tables              frames                  child's tables
 *     code  r-x      ------------>  C  count 2  <------------  code  r-x
 *     data  r-- COW  ------------>  D  count 2  <------------  data  r-- COW
 *     stack r-- COW  ------------>  S  count 2  <------------  stack r-- COW
 *
 * The child writes its stack: the CPU raises a page fault (present, write, user), and the
 * kernel (cow_fault) finds PTE_COW: it copies S into a new frame S' for the child, maps S'
 * writable there, and drops S to count 1. When the parent writes its stack next, S has one
 * owner left: no copy, the page is simply made writable again.
 *
 *     stack rw-      ------------>  S  count 1                 stack rw-  ---->  S' count 1
 *
 * A write to a page that was never writable (code, rodata) has no PTE_COW: it is a real
 * fault, and ends the program as in lab 08.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "pte.h"
#include "uspace.h"

#define PTE_COW \
	(_UL(1) << 9) /* a user page shared until written: read-only, writable once copied */

/* ---- lab 09, step 3 (labs/09-process/cow.c) ---------------------------------------------- */

/*
 * Make child, an empty space (uspace_init, no page mapped), a copy-on-write copy of parent:
 * every page of parent mapped at the same address in child, to the same frame, with one more
 * reference to the frame (frame_ref_take); every writable page made read-only and PTE_COW in
 * both spaces (the rest keep their flags); child's pages and layout as parent's. No page is
 * copied. The parent's TLB must not keep the old, writable entries (it may be the live space).
 * Returns 0, or -ENOMEM when a table for child cannot be had: then child holds what was copied
 * so far (the caller destroys it) and parent stays correct (its pages may stay PTE_COW).
 */
int uspace_fork(struct uspace *child, struct uspace *parent);

/* ---- lab 09, step 4 (labs/09-process/cow.c) ---------------------------------------------- */

/*
 * A page fault at va of space s with this error code (PF_* of trap.h), from the program that
 * runs in s: handle it if it is a write to a present PTE_COW page, and return 0 (the program
 * retries the write); return -EFAULT for any other fault (a real one: the program ends), and
 * -ENOMEM when the copy needs a frame there is none of. Handling: if the frame has other
 * owners, copy it into a new frame (kframe_alloc), map that one writable without PTE_COW and
 * drop the old frame (frame_ref_drop); if it has none (count 1), make the page writable again
 * without PTE_COW and copy nothing. Either way the TLB must forget the old entry.
 */
int cow_fault(struct uspace *s, uint64_t va, uint64_t error);

/* ---- given (kernel/layers/09-process) ---------------------------------------------------- */

/* The leaf entry (a level-1 table's) that maps the page of va in s, or NULL if no table
 * reaches it; the entry may be 0 (nothing mapped). Lower half only. */
uint64_t *uspace_pte(const struct uspace *s, uint64_t va);

/* Forget the TLB entry of the page at va, if s is the live space (invlpg). */
void uspace_invalidate(const struct uspace *s, uint64_t va);

/* Forget every TLB entry of s's pages, if s is the live space (CR3 written again). */
void uspace_flush(const struct uspace *s);
