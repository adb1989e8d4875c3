/*
 * The kernel heap: what every heap allocator promises and reports (struct heap_stats), and
 * kmalloc and its friends, which the kernel runs over the allocator of the current checkpoint.
 *
 * Three allocators implement one interface, each an instance over a range of memory (its
 * arena) that the caller owns, so a test can make one over a static buffer:
 *
 *   checkpoint  allocator          header        idea
 *   03          struct bump        bump.h        a pointer that only moves forward
 *   04          struct list_heap   list_heap.h   a list of free regions, reused and merged
 *   05, 06, 07  struct block_heap  block_heap.h  size classes in front of a list_heap
 *
 *   X_init(h, start, len)        the arena is [start, start + len)
 *   X_alloc(h, size, align)      size bytes at a multiple of align, or NULL
 *   X_free(h, p)                 give p back
 *   X_stats(h, &stats)           the numbers below
 *   bump_extend(h, len)          grow: the len bytes right after the arena join it
 *   list_heap_add_region(h, start, len), block_heap_add_region(h, start, len)
 *                                grow: more memory, merged with a free region it touches
 *   X_alloc_size(h, p)           how many bytes the caller may use at p (for krealloc)
 *
 * The rules, the same for the three (each header adds its own details):
 *   - align is a power of two from 1 to HEAP_MAX_ALIGN (one page). Anything else is a bug in
 *     the caller and panics: "bump_alloc: bad alignment 24 ...".
 *   - A request for 0 bytes returns NULL and changes nothing, and freeing NULL does nothing,
 *     so `p = X_alloc(h, n, a); ...; X_free(h, p);` is right for every n, including 0.
 *   - Running out of room returns NULL, never panics, and leaves the heap as it was. A size
 *     so large that size + alignment arithmetic would overflow is just more than there is:
 *     NULL too.
 *   - Freeing a pointer the allocator never returned, or freeing one twice, panics with the
 *     function's name ("list_heap_free: double free of 0x..."), as far as the allocator can
 *     tell: bump keeps too little to catch every case (bump.h says which).
 *   - No locking: the caller serializes (kmalloc and friends run with interrupts disabled,
 *     which on one CPU keeps every other thread out).
 *
 * The kernel heap (kmalloc, kernel/layers/03-bump/heap.c) is a fixed range of virtual addresses, KHEAP_BASE
 * (memlayout.h) to KHEAP_BASE + KHEAP_MAX. The kernel maps KHEAP_INITIAL bytes of fresh frames
 * there and gives them to the most advanced allocator of its checkpoint that comes up without
 * a TODO (a lab still being written falls back to the one before it). When an allocation
 * fails, the block heap first gives its cached blocks back (block_heap_drain) and tries again;
 * then the kernel maps more frames right after the heap's current end (at least
 * KHEAP_GROW_MIN bytes, enough for the request), hands them over (bump_extend,
 * list_heap_add_region, block_heap_add_region) and tries once more. Past KHEAP_MAX, or when
 * no frame is left, kmalloc returns NULL. The heap never shrinks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "irq.h"
#include "memlayout.h"

/*
 * What an allocator instance reports about its arena. Every byte it was given (init and
 * growth) is counted in exactly one of used, free and overhead:
 *
 *     used_bytes + free_bytes + overhead_bytes == total_bytes
 *
 * The exact meaning of "used" for each allocator is in its header; in short:
 *   bump        the sizes asked for since the heap was last empty (bump cannot tell which of
 *               them are freed already)
 *   list_heap   the sizes asked for by the live allocations
 *   block_heap  the class size of each live small allocation, max(size, align) of each big one
 */
struct heap_stats {
	size_t total_bytes;    /* the arena: every byte given by init and by growing */
	size_t used_bytes;     /* bytes of allocations, counted as the allocator says above */
	size_t free_bytes;     /* bytes a later allocation can still get */
	size_t overhead_bytes; /* the rest: headers, rounding, alignment gaps, bytes freed but
				  not reusable yet (bump) */
	size_t largest_free;   /* bytes in the largest free piece: a bigger request fails */
	size_t free_regions;   /* how many separate free pieces (1 when nothing is split) */
	size_t live_allocs;    /* allocations returned and not freed yet */
};

/* The largest alignment any heap allocator accepts: one page. */
#define HEAP_MAX_ALIGN PAGE_SIZE

/* True if align is a power of two from 1 to HEAP_MAX_ALIGN. */
static inline bool heap_align_valid(size_t align)
{
	return align != 0 && (align & (align - 1)) == 0 && align <= HEAP_MAX_ALIGN;
}

/*
 * Debug help, on unless a build says -DHEAP_DEBUG=0 (a benchmark, say): freed memory is
 * filled with HEAP_POISON_BYTE, so a use after free reads 0x6b6b6b6b... (easy to recognize in
 * a panic report), and the checks that cost more than O(1) run.
 */
#ifndef HEAP_DEBUG
#define HEAP_DEBUG 1
#endif
#define HEAP_POISON_BYTE 0x6b

/* --- the kernel heap ------------------------------------------------------------------------ */

/*
 * The alignment kmalloc gives: 8, enough for every type the kernel has (it is built without
 * SSE and x87, so no 16-byte long double or vector), as Linux's kmalloc on x86_64. A caller
 * that needs more asks kmalloc_aligned.
 */
#define KMALLOC_ALIGN 8

/* The most the kernel heap grows to: 64 MiB of virtual addresses from KHEAP_BASE. */
#define KHEAP_MAX (_UL(64) << 20)
/* Mapped when the heap starts, and the least that one growth step maps. */
#define KHEAP_INITIAL  (_UL(64) << 10)
#define KHEAP_GROW_MIN (_UL(64) << 10)

_Static_assert(KHEAP_BASE + KHEAP_MAX <= KSTACKS_BASE, "the heap runs into the thread stacks");
_Static_assert(KHEAP_INITIAL % PAGE_SIZE == 0 && KHEAP_GROW_MIN % PAGE_SIZE == 0,
	       "the heap grows by whole pages");
_Static_assert(KHEAP_INITIAL <= KHEAP_MAX, "the initial heap is larger than its limit");

/*
 * size bytes aligned to KMALLOC_ALIGN, or NULL when the heap cannot grow enough (never a
 * panic). kmalloc(0) returns NULL. The memory is not cleared. (Inline: see the end of this
 * file.)
 */
static inline void *kmalloc(size_t size);

/* The same at a multiple of align (a power of two up to HEAP_MAX_ALIGN, else a panic). */
void *kmalloc_aligned(size_t size, size_t align);

/* n objects of size bytes, cleared to zero; NULL when n * size overflows or is 0. */
void *kcalloc(size_t n, size_t size);

/*
 * Resize the allocation p to size bytes, keeping its contents up to the smaller of the two
 * sizes; returns the new address (which may be p), aligned to KMALLOC_ALIGN whatever p's
 * alignment was. krealloc(NULL, n) is kmalloc(n); krealloc(p, 0) frees p and returns NULL.
 * On failure returns NULL and leaves p as it was. A p kmalloc never returned panics.
 */
void *krealloc(void *p, size_t size);

/*
 * Give back p (NULL: nothing). A pointer outside the heap panics ("kfree: ..."); freeing twice,
 * or a pointer inside the heap kmalloc never returned, panics in the allocator's free as far
 * as it can tell (bump.h says what bump cannot). (Inline: see the end of this file.)
 */
static inline void kfree(void *p);

/* The statistics of the kernel heap's allocator (see struct heap_stats). */
void kheap_stats(struct heap_stats *s);

/* Which allocator kmalloc runs on (kernel/layers/03-bump/kheap.h says how it is chosen at boot). */
enum kheap_backend {
	KHEAP_NONE,  /* no heap: the kernel's page tables or every allocator was skipped */
	KHEAP_BUMP,  /* struct bump, lab 03 */
	KHEAP_LIST,  /* struct list_heap, lab 04 */
	KHEAP_BLOCK, /* struct block_heap, lab 05 */
};

/* The allocator kmalloc runs on: fixed at boot, the same until the kernel stops. */
enum kheap_backend kheap_backend(void);

/* Its name for messages: "the bump allocator (lab 03)", ... */
const char *kheap_backend_name(enum kheap_backend b);

/*
 * Bytes mapped at KHEAP_BASE: the heap's current size, every byte of it given to the
 * allocator (0 without a heap). It only grows: the heap never unmaps a page.
 */
size_t kheap_size(void);

/* --- the common case, inline ------------------------------------------------------------------ */

/*
 * Most calls are a kmalloc of less than a page or a kfree of memory from the heap's arena, and
 * from checkpoint 05 on the block heap (lab 05) serves them. So kmalloc and kfree are inlined
 * where they are called: interrupts off, one compare against kheap_fast, and a direct call of
 * block_heap_alloc or block_heap_free on the kernel's block heap. Everything else takes the
 * whole path in kernel/layers/03-bump/heap.c (__kmalloc, __kfree): another allocator (lab 05
 * skipped, or checkpoints 03 and 04, where the fast path is not compiled in), 0 bytes or a
 * page or more, a block heap with no room (drain, grow, ask again), NULL, or a pointer outside
 * the arena (the panic "kfree: ... is not in the kernel heap"). The fast path only skips tests
 * whose answer it knows: the block heap's own checks (a double free, a pointer no block
 * starts at) run on every free.
 *
 * A pair of kmalloc(16) and kfree costs the block heap's own pair and about 20 instructions
 * (`make bench`, docs/bench.md).
 */
struct kheap_fast {
	size_t alloc_below; /* kmalloc(n) calls the block heap if n - 1 < alloc_below; 0: never */
	size_t free_span;   /* kfree(p) calls it if p - KHEAP_BASE < free_span; 0: never */
};

/* Set by heap.c while the block heap serves kmalloc (alloc_below PAGE_SIZE - 1, free_span the
 * heap's size), all 0 otherwise; read and written with interrupts off. */
extern struct kheap_fast kheap_fast;

/* kmalloc and kfree for the caller that turned interrupts off already (irq_save): every
 * case, the same answers and panics (heap.c). */
void *__kmalloc(size_t size);
void __kfree(void *p);

/* The fast path needs the block heap in the kernel: layer 05, whose folder is on the include
 * path from checkpoint 05 on, declares it (kernel/layers/05-fixed-block/kmalloc_fast.h). */
#if __has_include("kmalloc_fast.h")
#include "kmalloc_fast.h"
#else
#define KHEAP_FAST_PATH 0
#endif

static inline void *kmalloc(size_t size)
{
	unsigned long flags = irq_save();
	void *p = NULL;

#if KHEAP_FAST_PATH
	if (likely(size - 1 < kheap_fast.alloc_below))
		p = block_heap_alloc(&kheap_block_heap, size, KMALLOC_ALIGN);
#endif
	if (unlikely(!p))
		p = __kmalloc(size);
	/* One value from here on, not one of two: a caller that keeps p across a setjmp
	 * (EXPECT_PANIC) would otherwise get GCC's warning that p might be clobbered. No
	 * instruction. */
	__asm__("" : "+r"(p));
	irq_restore(flags);
	return p;
}

static inline void kfree(void *p)
{
	unsigned long flags = irq_save();

#if KHEAP_FAST_PATH
	if (likely((uintptr_t)p - KHEAP_BASE < kheap_fast.free_span))
		block_heap_free(&kheap_block_heap, p);
	else
#endif
		__kfree(p);
	irq_restore(flags);
}
