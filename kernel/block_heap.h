/*
 * The fixed-block allocator (lab 05, labs/05-fixed-block/block_heap.c): size classes of 8,
 * 16, ..., 2048 bytes, each a list of free blocks of that size, in front of a list_heap (the
 * fallback) that supplies the blocks and serves every larger request. A small allocation pops
 * a block off its class's list, a small free pushes it back: no walk, no split, no merge.
 * heap.h has the rules every allocator follows.
 *
 *   classes[0]  8 bytes     head -> [8] -> [8] -> NULL
 *   classes[1]  16 bytes    head -> NULL                (empty: the next block comes from
 *   ...                                                  the fallback)
 *   classes[8]  2048 bytes  head -> [2048] -> NULL
 *   fallback    struct list_heap: the arena; every class block and every big request
 *               (more than 2048 bytes, or an alignment above 2048) is one of its allocations
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

/* The default settings (see struct block_heap_config and handouts/05-fixed-block.md). */
#define BLOCK_HEAP_DEFAULT_PREFILL 2
#define BLOCK_HEAP_DEFAULT_CAP	   256
/* A cap that never stops a list from growing. */
#define BLOCK_HEAP_UNLIMITED ((unsigned)-1)

/* The settings of a block heap, fixed at block_heap_init. */
struct block_heap_config {
	unsigned prefill; /* blocks put on each class's list at init (at most cap) */
	unsigned cap;	  /* the most blocks a class's list keeps: a block freed when its list
			     is full goes back to the fallback. 0: none kept; BLOCK_HEAP_UNLIMITED */
};

/* A free block of a class: its first 8 bytes link it to the next one. */
struct block_free {
	struct block_free *next;
};

struct block_class {
	struct block_free *head; /* the free blocks of this class */
	unsigned count;		 /* how many there are */
};

struct block_heap {
	struct block_class classes[BLOCK_HEAP_CLASSES];
	struct list_heap fallback;
	struct block_heap_config config;
	size_t used_bytes;  /* class size of each live small block, max(size, align) of each big */
	size_t live_allocs; /* allocations returned and not freed yet */
};

/* The block size of class c: 8 << c. */
static inline size_t block_heap_class_size(int c)
{
	return (size_t)BLOCK_HEAP_MIN_CLASS << c;
}

/*
 * Make h a heap over [start, start + len): the fallback gets the whole arena, then each
 * class's list is filled with config->prefill blocks (as many as fit: running out stops the
 * filling, it is not an error). config NULL: BLOCK_HEAP_DEFAULT_PREFILL and
 * BLOCK_HEAP_DEFAULT_CAP. A prefill larger than the cap panics ("block_heap_init: ...").
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
 * Free p (NULL: nothing). A small block goes on its class's list, or back to the fallback if
 * the list holds config.cap blocks already; a big one goes back to the fallback. Panics
 * "block_heap_free: ..." on a pointer that is not a live allocation of h; a second free of a
 * block still on its class's list is caught when HEAP_DEBUG is on (a walk of that list).
 */
void block_heap_free(struct block_heap *h, void *p);

/*
 * The stats of h. used_bytes: as in struct block_heap; free_bytes: the fallback's free bytes
 * plus the blocks on the class lists; overhead_bytes: the fallback's overhead (a list header
 * per block, rounding, nothing else); largest_free: the largest fallback region or class
 * block; free_regions: the fallback's regions plus the blocks on the class lists.
 */
void block_heap_stats(const struct block_heap *h, struct heap_stats *s);

/* The bytes the caller may use at p (its class size, or max(size, align)), 0 if not h's. */
size_t block_heap_alloc_size(const struct block_heap *h, const void *p);

/*
 * Give every block on the class lists back to the fallback, where they can merge into
 * bigger regions again (after it, the stats look as if no small block had been freed to a
 * list). For a caller short of memory, and for tests that want to see the arena whole.
 */
void block_heap_drain(struct block_heap *h);

/* --- the steps of lab 05, exposed so that the tests can check each on its own --------------- */

/* Step 1. The class for a request: the smallest c with 8 << c >= max(size, align); -1 when
 * that is more than BLOCK_HEAP_MAX_CLASS (the fallback serves it). */
int block_heap_class(size_t size, size_t align);

/* Step 2. A block of class c: the head of its list, or when the list is empty a new block of
 * the class size, aligned to it, from the fallback; NULL when the fallback has no room. */
void *block_heap_class_alloc(struct block_heap *h, int c);

/* Step 3. Take back block p of class c: onto the list, or to the fallback if the list holds
 * config.cap blocks already. */
void block_heap_class_free(struct block_heap *h, int c, void *p);

/* Step 4. Fill each class's list with config.prefill blocks from the fallback; stop quietly
 * when the fallback runs out. */
void block_heap_prefill(struct block_heap *h);
