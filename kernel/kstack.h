/*
 * Thread stacks, each above an unmapped guard page, in the kernel's stack area at
 * KSTACKS_BASE (memlayout.h). Lab 07 writes kstack_alloc and kstack_free
 * (labs/07-threads/kstack.c); kernel/layers/07-threads/slots.c hands out the slots.
 *
 * The area is an array of THREAD_SLOTS slots of THREAD_SLOT_SIZE bytes. The stack of a
 * thread fills the top half of its slot, THREAD_STACK_PAGES pages of frames from the
 * kernel's frame source (the buddy allocator), mapped writable and no-execute; the bottom
 * half is never mapped, and its top page is the guard page:
 *
 *     slot s starts at KSTACKS_BASE + s * THREAD_SLOT_SIZE (32 KiB each)
 *
 *     +0 KiB            +12 KiB       +16 KiB                                +32 KiB
 *     | never mapped    | guard page  | stack: 4 pages, mapped               |
 *     |.................|.............|######################################|
 *                                      ^ bottom                   top = where rsp starts ^
 *
 * A stack grows down. When a thread uses more than its 16 KiB, its next push touches the
 * guard page and faults; the CPU cannot push the page fault's own frame on that stack
 * either, so the fault becomes a double fault, which runs on a stack of its own (the TSS's
 * IST, kernel/gdt.c), and the kernel reports "kernel stack overflow" naming the thread
 * (kernel/layers/07-threads tells kernel/trap.c whose guard it was). The 12 KiB below the guard stay
 * unmapped too, so that even a function whose frame skips the guard page in one step faults
 * in the slot of the thread it belongs to, never in its neighbour's stack.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "memlayout.h"
#include "pte.h"

#define THREAD_STACK_PAGES 4
#define THREAD_STACK_SIZE  (THREAD_STACK_PAGES * PAGE_SIZE)
#define THREAD_SLOT_SIZE   (2 * THREAD_STACK_SIZE)
#define THREAD_SLOTS	   2048 /* at most this many threads have a stack at once */
#define KSTACKS_SIZE	   ((uint64_t)THREAD_SLOTS * THREAD_SLOT_SIZE)
/* Stack pages: the kernel's data, never code. */
#define KSTACK_PTE_FLAGS (PTE_WRITABLE | PTE_NO_EXECUTE | PTE_GLOBAL)

_Static_assert(KSTACKS_BASE + KSTACKS_SIZE <= KERNEL_VMA, "the stacks run into the kernel");

struct thread;

/* A thread's stack: [bottom, top), THREAD_STACK_PAGES mapped pages in slot `slot`. */
struct kstack {
	int slot;	 /* -1: not in the stack area (the boot stack of the main thread) */
	uint64_t bottom; /* lowest mapped byte: right above the guard page */
	uint64_t top;	 /* one past the highest byte: a thread's rsp starts here */
};

/* The first address of slot s (its unmapped bottom half). */
static inline uint64_t kstack_slot_base(int slot)
{
	return KSTACKS_BASE + (uint64_t)slot * THREAD_SLOT_SIZE;
}

/* ---- lab 07 (labs/07-threads/kstack.c) ----------------------------------------------------- */

/*
 * A stack for owner: take a free slot (kstack_slot_get), map THREAD_STACK_PAGES fresh frames
 * (kframe_alloc, kmap_page with KSTACK_PTE_FLAGS) over the top half of the slot, and fill in
 * *ks. Returns 0, or -1 when there is no free slot, frame or page table; then nothing is kept
 * (frames given back, pages unmapped, slot returned) and *ks is unchanged.
 */
int kstack_alloc(struct kstack *ks, struct thread *owner);

/* Unmap the pages of a stack from kstack_alloc, give their frames back and free its slot. */
void kstack_free(struct kstack *ks);

/* ---- the kernel (kernel/layers/07-threads) --------------------------------------------------------- */

/* A free slot, now owned by owner; -1 if all THREAD_SLOTS are in use. */
int kstack_slot_get(struct thread *owner);

/* Give back a slot from kstack_slot_get. Panics "kstack_slot_put: ..." if it is not in use. */
void kstack_slot_put(int slot);

/* How many slots are in use: one per thread that has a stack (for leak checks). */
size_t kstack_slots_used(void);
