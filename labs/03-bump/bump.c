/*
 * The bump allocator: the first kernel heap (see kernel/bump.h for the interface).
 *
 * Theory of operation. The arena is [start, end) and `next` splits it in two: below next,
 * bytes already handed out; from next on, free bytes. To allocate, round next up to the
 * alignment, hand out the block from there and move next past it. That is all the
 * bookkeeping there is, so a freed block cannot be given out again: free only counts the live
 * allocations, and when that count drops to zero the whole arena is free again (next = start).
 *
 * Worked example, an arena of 64 bytes at 0x1000 (end 0x1040):
 *
 *   bump_alloc(h, 5, 1)    next 0x1000 is a multiple of 1: block [0x1000, 0x1005),
 *                          next = 0x1005
 *   bump_alloc(h, 8, 8)    round 0x1005 up to a multiple of 8: (0x1005 + 7) & ~7 = 0x1008,
 *                          3 bytes of padding; block [0x1008, 0x1010), next = 0x1010
 *   bump_alloc(h, 64, 1)   0x1010 + 64 = 0x1050 > 0x1040: NULL, nothing changes
 *   bump_free(h, first)    one allocation still live: nothing else changes; the 5 bytes at
 *                          0x1000 stay unusable
 *   bump_free(h, second)   none live: next = 0x1000, all 64 bytes are free again
 *
 * The additions can wrap around the top of the address space (next + 7, or aligned + size
 * with a huge size): a wrapped result is a small number that would pass the check against
 * end, so each addition checks for overflow and a request that overflows gets NULL.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "bump.h"
#include "panic.h"
#include "todo.h"

/* Step 1: an empty arena [start, start + len). */
void bump_init(struct bump *h, void *start, size_t len)
{
	TODO("step 1: set start, next and end for the arena [start, start + len) (panic if it wraps), with no allocations");
}

/* Step 1: the len bytes after the end join the arena. */
void bump_extend(struct bump *h, size_t len)
{
	TODO("step 1: move end len bytes further (panic if it wraps)");
}

/* Step 2: round next up to align, hand out size bytes from there. */
void *bump_alloc(struct bump *h, size_t size, size_t align)
{
	if (!heap_align_valid(align))
		panic("bump_alloc: bad alignment %zu (a power of two from 1 to %lu)", align,
		      HEAP_MAX_ALIGN);
	if (size == 0)
		return NULL;
	TODO("step 2: round next up to a multiple of align, return NULL if size bytes from there overflow or pass end, else hand them out and move next");
}

/* Step 3: count the free; the last one empties the arena. */
void bump_free(struct bump *h, void *p)
{
	if (!p)
		return;
	TODO("step 3: panic if p is outside [start, next); count one live allocation less, and when none is left make the whole arena free again");
}

void bump_stats(const struct bump *h, struct heap_stats *s)
{
	s->total_bytes = h->end - h->start;
	s->used_bytes = h->used_bytes;
	s->free_bytes = h->end - h->next;
	s->overhead_bytes = (h->next - h->start) - h->used_bytes; /* the alignment padding */
	s->largest_free = s->free_bytes;
	s->free_regions = s->free_bytes ? 1 : 0;
	s->live_allocs = h->live_allocs;
}

size_t bump_alloc_size(const struct bump *h, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	return a >= h->start && a < h->next ? h->next - a : 0;
}
