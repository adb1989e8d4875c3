/*
 * The fixed-block allocator (lab 05, labs/05-fixed-block/block_heap.c): size classes of 8,
 * 16, ..., 2048 bytes in front of a list_heap (the fallback). Each class carves its blocks out
 * of slabs: 16 KiB taken from the fallback's free memory in one piece and cut into blocks of
 * the class size, with a record at the slab's end that keeps the slab's free blocks. A small
 * allocation pops a block off the first slab on its class's list, a small free pushes it back
 * onto its own slab, found from the block's address: no walk, no split, no merge. A slab whose
 * blocks are all free again goes back to the fallback whole. Requests above 2048 bytes are
 * fallback allocations. heap.h has the rules every allocator follows.
 *
 *   classes[0]  8 bytes     slabs -> [slab: 1 free of 2009] -> NULL
 *   classes[2]  32 bytes    slabs -> NULL                   (no slab with a free block: the
 *   ...                                                      next allocation carves a new one)
 *   classes[8]  2048 bytes  slabs -> [slab: 7 free of 7] -> [slab: 2 free of 7] -> NULL
 *   fallback    struct list_heap: the arena; every big request (more than 2048 bytes, or an
 *               alignment above 2048) is one of its allocations, every slab a piece of it
 *
 * One slab, in the window of the arena it owns: BLOCK_HEAP_SLAB_SIZE bytes at a multiple of
 * BLOCK_HEAP_SLAB_SIZE, so that rounding any address in it down gives its first byte. The
 * slab takes from the fallback the piece list_heap_alloc would take for the window's first
 * 16 KiB - 16 bytes: the window less its last 16 bytes, and the 16 bytes before it where the
 * fallback would put a header. Slabs side by side leave no gap between them.
 *
 *   base = p & ~(BLOCK_HEAP_SLAB_SIZE - 1)                          base + 16 KiB
 *   | block 0 | block 1 | ... | block n-1 | unused | struct block_slab | 16 bytes: the next
 *                                                    at base + BLOCK_HEAP_SLAB_RECORD    piece's
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "heap.h"
#include "list_heap.h"

#define BLOCK_HEAP_MIN_CLASS 8	  /* the smallest class: room for the free list's next pointer */
#define BLOCK_HEAP_MAX_CLASS 2048 /* the largest class; bigger requests go to the fallback */
#define BLOCK_HEAP_CLASSES   9	  /* 8, 16, 32, 64, 128, 256, 512, 1024, 2048 */

_Static_assert((BLOCK_HEAP_MIN_CLASS << (BLOCK_HEAP_CLASSES - 1)) == BLOCK_HEAP_MAX_CLASS,
	       "the classes are the powers of two from the smallest to the largest");

/* A slab's window: this many bytes, at a multiple of this many. */
#define BLOCK_HEAP_SLAB_SIZE (4 * PAGE_SIZE)
/* The bytes of its window a slab uses: all but the last LIST_HEAP_HEADER, which belong to
 * the piece after it (see the top of this file). */
#define BLOCK_HEAP_SLAB_BYTES (BLOCK_HEAP_SLAB_SIZE - LIST_HEAP_HEADER)
/* One bit per BLOCK_HEAP_MIN_CLASS bytes of a window: bits in a slab's live map. */
#define BLOCK_HEAP_SLAB_MAX_BLOCKS (BLOCK_HEAP_SLAB_SIZE / BLOCK_HEAP_MIN_CLASS)

/* The default settings (see struct block_heap_config and handouts/05-fixed-block.md). */
#define BLOCK_HEAP_DEFAULT_PREFILL 0
#define BLOCK_HEAP_DEFAULT_CAP	   1
/* A cap that never gives a slab back before block_heap_drain. */
#define BLOCK_HEAP_UNLIMITED ((unsigned)-1)

/* The settings of a block heap, fixed at block_heap_init. */
struct block_heap_config {
	unsigned prefill; /* empty slabs carved for each class at init (at most cap) */
	unsigned cap;	  /* the most empty slabs a class keeps: a slab whose last live block
			     is freed when its class holds cap empty slabs already goes back to
			     the fallback. 0: none kept; BLOCK_HEAP_UNLIMITED: all of them */
};

/* A free block: its first 8 bytes link it to the next free block of its slab. */
struct block_free {
	struct block_free *next;
};

/* The record at the end of every slab. */
struct block_slab {
	struct block_free *free;	/* its free blocks; NULL when all are live (full) */
	struct block_slab *next, *prev; /* on its class's list while it has a free block */
	uint32_t live;			/* blocks handed out and not freed yet */
	uint16_t class;			/* the class of its blocks */
	uint16_t blocks;		/* how many blocks it has: block_heap_slab_blocks(class) */
	uintptr_t check;		/* block_heap_slab_check(h, itself) while it is a slab of
					   h: free knows a slab from any other memory */
	uint64_t live_map[BLOCK_HEAP_SLAB_MAX_BLOCKS / 64]; /* bit k: 8 bytes at base + 8k; a
							       block's first bit set: it is live */
};

/* Where the record is in the window, and so where the blocks must end. */
#define BLOCK_HEAP_SLAB_RECORD (BLOCK_HEAP_SLAB_BYTES - sizeof(struct block_slab))

_Static_assert((BLOCK_HEAP_SLAB_SIZE & (BLOCK_HEAP_SLAB_SIZE - 1)) == 0 &&
		       BLOCK_HEAP_SLAB_SIZE <= 8 * PAGE_SIZE,
	       "a slab's window is a power of two, small enough for the heap's 64 KiB growth");
_Static_assert(BLOCK_HEAP_SLAB_RECORD % 8 == 0 &&
		       BLOCK_HEAP_SLAB_RECORD >= 4 * BLOCK_HEAP_MAX_CLASS,
	       "the record is aligned, and a slab holds a few blocks of the largest class");

struct block_class {
	struct block_slab *slabs; /* its slabs with a free block; allocations take the first */
	unsigned empty;		  /* how many of them have no live block */
};

struct block_heap {
	struct block_class classes[BLOCK_HEAP_CLASSES];
	struct list_heap fallback;
	struct block_heap_config config;
	size_t used_bytes;  /* class size of each live small block, max(size, align) of each big */
	size_t live_allocs; /* allocations returned and not freed yet */
	size_t slabs;	    /* slabs carved and not given back, full ones too */
	uintptr_t slab_lo, slab_span; /* a slab's window starts in [slab_lo, slab_lo +
					 slab_span]: free reads a record only there */
	uintptr_t cookie; /* different for every block_heap_init: a record left in the arena
			       by an earlier heap over the same memory is no slab of this one */
};

/* The block size of class c: 8 << c. */
static inline size_t block_heap_class_size(int c)
{
	return (size_t)BLOCK_HEAP_MIN_CLASS << c;
}

/* How many blocks a slab of class c holds: as many as fit before its record. */
static inline unsigned block_heap_slab_blocks(int c)
{
	return (unsigned)(BLOCK_HEAP_SLAB_RECORD / block_heap_class_size(c));
}

/* The first byte of the slab window that holds address p (its block 0). */
static inline uintptr_t block_heap_slab_base(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(BLOCK_HEAP_SLAB_SIZE - 1);
}

/* The record of the slab window that holds p. Only an address: whether a slab is there
 * is for its check to say (block_heap_free looks). */
static inline struct block_slab *block_heap_slab_of(const void *p)
{
	return (struct block_slab *)(block_heap_slab_base(p) + BLOCK_HEAP_SLAB_RECORD);
}

/* The check of slab record s of heap h: its address mixed with h's cookie. */
static inline uintptr_t block_heap_slab_check(const struct block_heap *h,
					      const struct block_slab *s)
{
	return (uintptr_t)s ^ h->cookie;
}

/*
 * Make h a heap over [start, start + len): the fallback gets the whole arena, then each
 * class gets config->prefill empty slabs (as many as fit: running out stops the carving, it
 * is not an error). config NULL: BLOCK_HEAP_DEFAULT_PREFILL and BLOCK_HEAP_DEFAULT_CAP. A
 * prefill larger than the cap panics ("block_heap_init: ...").
 */
void block_heap_init(struct block_heap *h, void *start, size_t len,
		     const struct block_heap_config *config);

/* Give h more memory: the fallback gets it (list_heap_add_region). */
void block_heap_add_region(struct block_heap *h, void *start, size_t len);

/*
 * size bytes at a multiple of align; NULL if there is no room (or size is 0). A request whose
 * max(size, align) is at most 2048 gets a block of the smallest class that holds it, which is
 * aligned to its own size; a bigger one is a fallback allocation of max(size, align) bytes.
 * align must be a power of two from 1 to HEAP_MAX_ALIGN, else a panic.
 */
void *block_heap_alloc(struct block_heap *h, size_t size, size_t align);

/*
 * Free p (NULL: nothing). A small block goes back onto its slab, and a slab left with no live
 * block goes back to the fallback if its class holds config.cap empty slabs already; a big
 * one goes back to the fallback. Panics "block_heap_free: ..." on a pointer that is not a
 * live allocation of h: a block freed already ("double free") or never handed out (a free
 * block either way: "not live: freed already ..., or never returned by block_heap_alloc"), the
 * middle of a block, a pointer the heap never returned.
 */
void block_heap_free(struct block_heap *h, void *p);

/*
 * The stats of h. used_bytes: as in struct block_heap; free_bytes: the fallback's free bytes
 * plus the free blocks of the slabs; overhead_bytes: the rest (the fallback's headers and
 * rounding, each slab's record and the end of its window that no block fills);
 * largest_free: the largest fallback region or free block; free_regions: the fallback's
 * regions plus the free blocks of the slabs.
 */
void block_heap_stats(const struct block_heap *h, struct heap_stats *s);

/* The bytes the caller may use at p (its class size, or max(size, align)), 0 if p is not a
 * live allocation of h. */
size_t block_heap_alloc_size(const struct block_heap *h, const void *p);

/*
 * Give every empty slab back to the fallback, where they can merge into bigger regions again
 * (the cap kept them for the next allocations of their class). For a caller short of memory:
 * the kernel heap drains before it maps more pages.
 */
void block_heap_drain(struct block_heap *h);

/* --- the steps of lab 05, exposed so that the tests can check each on its own --------------- */

/* Step 1. The class for a request: the smallest c with 8 << c >= max(size, align); -1 when
 * that is more than BLOCK_HEAP_MAX_CLASS (the fallback serves it). */
int block_heap_class(size_t size, size_t align);

/*
 * Step 2. A new slab for class c: a window from the fallback (slab_take in block_heap.c), its
 * record filled in (no block live, every block on its free list in address order, the check
 * set), first on class c's list, counted as empty. NULL, with nothing changed, when the
 * fallback has no room.
 */
struct block_slab *block_heap_slab_new(struct block_heap *h, int c);

/*
 * Step 3. A block of class c: popped off the first slab on the class's list (a new slab,
 * step 2, when the list is empty). A slab left with no free block leaves the list; one that
 * had no live block is no longer empty. NULL when a new slab was needed and the fallback has
 * no room. (block_heap_alloc marks the block live in the slab's live map.)
 */
void *block_heap_class_alloc(struct block_heap *h, int c);

/*
 * Step 4. Take back block p of class c (block_heap_free has checked it and cleared its bit
 * in the live map): push it on its slab's free list and put the slab first on the class's
 * list, so that the next allocation of the class reuses p. A slab left with no live block is
 * empty: kept if the class holds fewer than config.cap empty slabs, else given back to the
 * fallback (block_heap_slab_release).
 */
void block_heap_class_free(struct block_heap *h, int c, void *p);

/* Take slab s (empty, on its class's list) off the list and give its memory back to the
 * fallback. Given: steps 4 and block_heap_drain call it. */
void block_heap_slab_release(struct block_heap *h, struct block_slab *s);
