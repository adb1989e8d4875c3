/*
 * The linked-list allocator (lab 04, labs/04-linked-list/list_heap.c): the free regions of the
 * arena on a list kept in address order, with each list node stored in the free memory it
 * describes. An allocation takes the first region that fits (or the smallest, with best fit)
 * and gives back the parts it does not use; a free puts the block back in its place on the
 * list and merges it with the free regions on either side. heap.h has the rules every
 * allocator follows.
 *
 * Every allocated block starts with a header, so that free knows the block's size:
 *
 *   block                 p = what list_heap_alloc returns
 *   | struct list_header  | size bytes, rounded up to LIST_HEAP_GRAIN |
 *   [ size  | check       ][#########################################)
 *      16 bytes of overhead per block, plus the rounding
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "heap.h"

/* Every region and block starts at a multiple of 8 bytes and is a multiple of 8 bytes long. */
#define LIST_HEAP_GRAIN 8

/* A free region: its first bytes hold this node. */
struct list_region {
	size_t size;		  /* bytes in the region, node included */
	struct list_region *next; /* the next free region, at a higher address; NULL at the end */
};

/* The header in front of every allocated block. */
struct list_header {
	size_t size;	 /* the size the caller asked for */
	uintptr_t check; /* a value derived from the block's address while it is allocated: free
			    knows a pointer list_heap_alloc returned from one it did not */
};

#define LIST_HEAP_NODE	 sizeof(struct list_region) /* the smallest free region: 16 bytes */
#define LIST_HEAP_HEADER sizeof(struct list_header) /* 16 bytes */

_Static_assert(LIST_HEAP_NODE % LIST_HEAP_GRAIN == 0 && LIST_HEAP_HEADER % LIST_HEAP_GRAIN == 0,
	       "nodes and headers keep every address a multiple of the grain");
_Static_assert(LIST_HEAP_HEADER >= LIST_HEAP_NODE, "a freed block must have room for a node");

/* Which free region an allocation takes when several fit. */
enum list_heap_fit {
	LIST_HEAP_FIRST_FIT, /* the first on the list, at the lowest address (the default) */
	LIST_HEAP_BEST_FIT,  /* the smallest; the lowest of those when several are as small */
};

struct list_heap {
	struct list_region *head; /* the free regions, in address order, none touching another */
	enum list_heap_fit fit;
	uintptr_t lo, hi;   /* the lowest and highest address ever given to the heap */
	size_t total_bytes; /* every byte given by list_heap_init and list_heap_add_region */
	size_t used_bytes;  /* sum of the sizes asked for by the live allocations */
	size_t live_allocs; /* allocations returned and not freed yet */
};

/*
 * Make h a heap over [start, start + len): one free region, first fit. The range is trimmed
 * to multiples of LIST_HEAP_GRAIN; if less than a list node is left, the heap starts empty.
 */
void list_heap_init(struct list_heap *h, void *start, size_t len);

/*
 * Give h the memory [start, start + len) too (trimmed like list_heap_init; a piece smaller
 * than a list node is ignored). It is merged with a free region it touches, so memory added
 * right after the heap's end makes the last free region longer. Memory that overlaps a free
 * region panics ("list_heap_insert_free: ..."). list_heap_free's checks may read any address
 * between the lowest and the highest byte the heap was given, so memory between separate
 * regions must be readable (the kernel heap is one contiguous range).
 */
void list_heap_add_region(struct list_heap *h, void *start, size_t len);

/* Choose first fit or best fit for the following allocations. */
void list_heap_set_fit(struct list_heap *h, enum list_heap_fit fit);

/*
 * size bytes at a multiple of align, or NULL if no free region can hold them with their
 * header (or the arithmetic would overflow); NULL for size 0. The heap is unchanged when it
 * returns NULL. align must be a power of two from 1 to HEAP_MAX_ALIGN, else a panic. Every
 * block is at least LIST_HEAP_GRAIN-aligned.
 */
void *list_heap_alloc(struct list_heap *h, size_t size, size_t align);

/*
 * Free p (NULL: nothing): its block goes back on the list, merged with its free neighbours.
 * Panics "list_heap_free: double free of ..." or "list_heap_free: ... was never returned by
 * list_heap_alloc" when p is not a live allocation of h.
 */
void list_heap_free(struct list_heap *h, void *p);

/*
 * The stats of h. used_bytes: the sizes asked for by the live allocations; overhead_bytes:
 * one header per live allocation plus the rounding of each size up to LIST_HEAP_GRAIN;
 * free_bytes, largest_free, free_regions: from the list.
 */
void list_heap_stats(const struct list_heap *h, struct heap_stats *s);

/* The size p was allocated with, or 0 if p is not a live allocation of h. Never panics. */
size_t list_heap_alloc_size(const struct list_heap *h, const void *p);

/* --- the steps of lab 04, exposed so that the tests can check each on its own --------------- */

/*
 * Where a block goes in a free region, as list_heap_alloc_from_region plans it, and where the
 * region was on the list, as list_heap_find_region found it:
 *
 *   start        block                   block + size           end
 *   [ front gap  ][ header | payload     ][ tail                 )
 *     0 or >= LIST_HEAP_NODE bytes          0 or >= LIST_HEAP_NODE bytes
 */
struct list_fit {
	struct list_region **link; /* the pointer that pointed at the region */
	uintptr_t start, end;	   /* the region: [start, end) */
	uintptr_t block;	   /* the block's first byte: its header */
	size_t size;		   /* the block's bytes: the header and the payload rounded up */
};

/*
 * Step 1. Write a free-region node for [addr, addr + size) at addr and link it in at *link
 * (link is &h->head, or &prev->next of the region before it), so that *link is the new node
 * and its next is the region *link pointed at before. size must be at least LIST_HEAP_NODE.
 */
void list_heap_add_free_region(struct list_region **link, uintptr_t addr, size_t size);

/*
 * Step 2. Walk the list for a region that can hold size bytes at a multiple of align (asking
 * list_heap_alloc_from_region): the first one, or with LIST_HEAP_BEST_FIT the smallest one.
 * Unlink it and return it, with *fit holding the plan and fit->link where it was; NULL (list
 * unchanged) if no region fits.
 */
struct list_region *list_heap_find_region(struct list_heap *h, size_t size, size_t align,
					  struct list_fit *fit);

/*
 * Step 3. Plan a block of size bytes at a multiple of align in the free region r; fill *fit
 * (start, end, block, size; not link) and return true, or return false, rejecting r, when
 *   1. the arithmetic overflows,
 *   2. the block's end would pass the region's end, or
 *   3. what is left after the block is not zero but smaller than a list node.
 * The payload starts at block + LIST_HEAP_HEADER and takes size bytes rounded up to
 * LIST_HEAP_GRAIN. A gap in front of the block is either zero or big enough for a node (if
 * the first aligned place leaves a smaller gap, the block moves up by one more align).
 */
bool list_heap_alloc_from_region(const struct list_region *r, size_t size, size_t align,
				 struct list_fit *fit);

/*
 * Step 3. Split: give the parts of the region that the block does not use (the front gap and
 * the tail, those that are not empty) back to the list, in address order, where the region
 * was (fit->link).
 */
void list_heap_split_region(const struct list_fit *fit);

/*
 * Step 4. Put the free memory [addr, addr + size) back on h's list at its place in address
 * order, merged with the region before it if that one ends at addr and with the region after
 * it if that one starts at addr + size. Panics if it overlaps a free region.
 */
void list_heap_insert_free(struct list_heap *h, uintptr_t addr, size_t size);
