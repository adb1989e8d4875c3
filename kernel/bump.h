/*
 * The bump allocator (lab 03, labs/03-bump/bump.c): an arena and a pointer that only moves
 * forward. It cannot reuse a block on its own; the whole arena becomes free again when the
 * last live allocation is freed. heap.h has the rules every allocator follows.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "heap.h"

/*
 *   start            next                     end
 *   |  handed out    |  free                   |
 *   [################.........................)
 */
struct bump {
	uintptr_t start;    /* first byte of the arena */
	uintptr_t end;	    /* one past its last byte */
	uintptr_t next;	    /* the first byte not handed out yet */
	size_t used_bytes;  /* sum of the sizes allocated since the arena was last empty */
	size_t live_allocs; /* allocations returned and not freed yet */
};

/*
 * Step 1. Make h an empty heap over [start, start + len). An arena that would wrap around the
 * top of the address space panics ("bump_init: ...").
 */
void bump_init(struct bump *h, void *start, size_t len);

/*
 * Step 1. Grow the arena by the len bytes right after its end (the caller has made them
 * usable: the kernel maps fresh pages there). Panics if the end would wrap around.
 */
void bump_extend(struct bump *h, size_t len);

/*
 * Step 2. size bytes at a multiple of align, or NULL if they do not fit between next and end
 * (or the arithmetic would overflow); NULL for size 0. The heap is unchanged when it returns
 * NULL. align must be a power of two from 1 to HEAP_MAX_ALIGN, else a panic.
 */
void *bump_alloc(struct bump *h, size_t size, size_t align);

/*
 * Step 3. Free p (NULL: nothing). Bump keeps no record of its blocks, only a count: when the
 * count drops to zero the arena is empty again (next = start). It panics on a pointer outside
 * the handed-out part [start, next), which catches a free after the arena became empty and
 * pointers it never returned; it cannot catch a second free of a block while other blocks are
 * live (that free counts as one of theirs, and the reset comes too early).
 */
void bump_free(struct bump *h, void *p);

/*
 * The stats of h. used_bytes: the sizes allocated since the arena was last empty;
 * overhead_bytes: the alignment padding between them; free_bytes = largest_free = end - next,
 * one free region (none when next == end).
 */
void bump_stats(const struct bump *h, struct heap_stats *s);

/*
 * How many bytes from p on belong to h's handed-out part: next - p for a p in [start, next),
 * else 0. Bump does not know the size of a block, so this is an upper bound (it includes the
 * blocks after p): krealloc copies min(this, new size) bytes, which is always safe to read.
 */
size_t bump_alloc_size(const struct bump *h, const void *p);
