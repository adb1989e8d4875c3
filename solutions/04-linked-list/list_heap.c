/*
 * The linked-list allocator: a heap that reuses freed memory (see kernel/list_heap.h).
 *
 * Theory of operation. The free memory of the arena is a list of regions in address order;
 * the node describing a region (its size and the next region) sits in the region's own first
 * 16 bytes, so the list costs no memory of its own. To allocate, walk the list (step 2) and
 * ask of each region whether the block fits (step 3): a header, then the payload at a
 * multiple of the alignment. The first region that fits is unlinked, and what the block does
 * not use of it goes back on the list (the split). To free, read the block's size from its
 * header, and put the block back at its place in address order (step 4), merged with the free
 * regions that touch it, so that free memory never stays cut into pieces that could be one.
 *
 * Worked example, an arena of 256 bytes at 0x1000 (headers and nodes are 16 bytes):
 *
 *   start          list: [0x1000, 256 bytes)
 *   alloc(20, 8)   header at 0x1000, payload at 0x1010, 20 rounded up to 24 bytes: the block
 *                  is [0x1000, 0x1028), 40 bytes; the tail [0x1028, 0x1100) goes back.
 *                  list: [0x1028, 216)                               returns 0x1010
 *   alloc(64, 64)  in [0x1028, 216): the first multiple of 64 after room for a header is
 *                  0x1040, but its header at 0x1030 would leave a gap of 8 bytes in front,
 *                  too small for a node; one more 64 up: payload 0x1080, header 0x1070. The
 *                  block is [0x1070, 0x10c0), 16 + 64 = 80 bytes; the gap [0x1028, 0x1070)
 *                  and the tail [0x10c0, 0x1100) go back.
 *                  list: [0x1028, 72) -> [0x10c0, 64)                returns 0x1080
 *   free(0x1010)   block [0x1000, 0x1028) ends where the region 0x1028 starts: merged.
 *                  list: [0x1000, 112) -> [0x10c0, 64)
 *   free(0x1080)   block [0x1070, 0x10c0): the region before ends at 0x1070, the one after
 *                  starts at 0x10c0, so all three become one.
 *                  list: [0x1000, 256)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "list_heap.h"
#include "panic.h"
/// STARTER: #include "todo.h"

/* header->check while a block is allocated, and after it is freed, xor the payload address. */
#define LIST_HEAP_LIVE	0x4c4956454c495645ul /* "LIVELIVE" */
#define LIST_HEAP_FREED 0x4652454546524545ul /* "FREEFREE" */
/* What an unlinked node's next holds: a pointer that faults if anyone still follows it. */
#define LIST_HEAP_NODE_POISON ((struct list_region *)0xdead000000000100ul)

static size_t round_to_grain(size_t n)
{
	return (n + LIST_HEAP_GRAIN - 1) & ~(size_t)(LIST_HEAP_GRAIN - 1);
}

/* Step 1: a node at addr, linked in at *link. */
void list_heap_add_free_region(struct list_region **link, uintptr_t addr, size_t size)
{
	/// SOLUTION BEGIN
	struct list_region *r = (struct list_region *)addr;

	KASSERT(size >= LIST_HEAP_NODE && addr % LIST_HEAP_GRAIN == 0);
	r->size = size;
	r->next = *link;
	*link = r;
	/// SOLUTION END
	/// STARTER: TODO("step 1: write a node {size, next = *link} at addr, then make *link point at it");
}

/* Step 2: the first region that fits (or the smallest, for best fit), unlinked. */
struct list_region *list_heap_find_region(struct list_heap *h, size_t size, size_t align,
					  struct list_fit *fit)
{
	/// SOLUTION BEGIN
	struct list_region **best = NULL;
	struct list_fit plan;

	for (struct list_region **link = &h->head; *link; link = &(*link)->next) {
		/* A region smaller than the request cannot hold it: skip it before the arithmetic
		 * of step 3. This is the hot loop when many small holes come first. */
		if ((*link)->size < size || !list_heap_alloc_from_region(*link, size, align, &plan))
			continue;
		if (!best || (*link)->size < (*best)->size) {
			best = link;
			*fit = plan;
		}
		if (h->fit == LIST_HEAP_FIRST_FIT)
			break;
	}
	if (!best)
		return NULL;

	struct list_region *r = *best;

	fit->link = best;
	*best = r->next;
	r->next = LIST_HEAP_NODE_POISON;
	return r;
	/// SOLUTION END
	/// STARTER: TODO("step 2: walk the list (keep a pointer to the link that points at each region); for the first region list_heap_alloc_from_region accepts (best fit: the smallest), record the link in fit->link, unlink the region and return it; NULL if none fits");
}

/* Step 3: does the block fit in r, and where? */
bool list_heap_alloc_from_region(const struct list_region *r, size_t size, size_t align,
				 struct list_fit *fit)
{
	/// SOLUTION BEGIN
	uintptr_t start = (uintptr_t)r, end = start + r->size;
	uintptr_t payload, block, block_end;
	size_t block_size;

	/* 1. Overflow: the block's size, the first aligned payload, the block's end. */
	if (__builtin_add_overflow(size, LIST_HEAP_GRAIN - 1, &block_size) ||
	    __builtin_add_overflow(block_size & ~(size_t)(LIST_HEAP_GRAIN - 1), LIST_HEAP_HEADER,
				   &block_size))
		return false;
	if (__builtin_add_overflow(start, LIST_HEAP_HEADER + align - 1, &payload))
		return false;
	payload &= ~(uintptr_t)(align - 1);
	block = payload - LIST_HEAP_HEADER;
	/* A gap in front becomes a free region of its own: it must hold a node. */
	if (block != start && block - start < LIST_HEAP_NODE) {
		if (__builtin_add_overflow(block, align, &block))
			return false;
	}
	if (__builtin_add_overflow(block, block_size, &block_end))
		return false;
	/* 2. The block must end inside the region. */
	if (block_end > end)
		return false;
	/* 3. What is left after it must be nothing, or a region that can hold a node. */
	if (block_end != end && end - block_end < LIST_HEAP_NODE)
		return false;

	fit->start = start;
	fit->end = end;
	fit->block = block;
	fit->size = block_size;
	return true;
	/// SOLUTION END
	/// STARTER: TODO("step 3: header then payload at a multiple of align (a front gap is 0 or >= a node); reject on overflow, on a block end past the region's end, on a tail that is not 0 but < a node; else fill fit");
}

/* Step 3: the front gap and the tail go back where the region was. */
void list_heap_split_region(const struct list_fit *fit)
{
	/// SOLUTION BEGIN
	uintptr_t block_end = fit->block + fit->size;

	/* Both go in at fit->link: the tail first, so that the front gap ends up before it. */
	if (block_end != fit->end)
		list_heap_add_free_region(fit->link, block_end, fit->end - block_end);
	if (fit->block != fit->start)
		list_heap_add_free_region(fit->link, fit->start, fit->block - fit->start);
	/// SOLUTION END
	/// STARTER: TODO("step 3: give the tail [block + size, end) and the front gap [start, block) back at fit->link with list_heap_add_free_region, the ones that are not empty, in address order");
}

/* Step 4: back on the list in address order, merged with the neighbours it touches. */
void list_heap_insert_free(struct list_heap *h, uintptr_t addr, size_t size)
{
	/// SOLUTION BEGIN
	struct list_region **link = &h->head, *prev = NULL;

	while (*link && (uintptr_t)*link < addr) {
		prev = *link;
		link = &prev->next;
	}
	struct list_region *next = *link;

	if ((prev && (uintptr_t)prev + prev->size > addr) ||
	    (next && addr + size > (uintptr_t)next))
		panic("list_heap_insert_free: [0x%lx, +%zu) overlaps a free region (double free?)",
		      addr, size);
	if (next && addr + size == (uintptr_t)next) {
		size += next->size;
		*link = next->next;
		next->next = LIST_HEAP_NODE_POISON;
	}
	if (prev && (uintptr_t)prev + prev->size == addr)
		prev->size += size;
	else
		list_heap_add_free_region(link, addr, size);
	/// SOLUTION END
	/// STARTER: TODO("step 4: find the first region above addr (and the one before it); panic on overlap; merge with the next region if it starts at addr + size, with the previous one if it ends at addr, else link a new node in between");
}

/* [start, start + len) trimmed to the grain: false if less than a node is left. A range that
 * wraps around the address space is the caller's bug: panic in its name, who. */
static bool trim_region(const char *who, void *start, size_t len, uintptr_t *addr, size_t *size)
{
	uintptr_t a = (uintptr_t)start, b;

	if (__builtin_add_overflow(a, len, &b))
		panic("%s: region %p + %zu wraps around the address space", who, start, len);
	a = round_to_grain(a);
	b &= ~(uintptr_t)(LIST_HEAP_GRAIN - 1);
	if (b < a || b - a < LIST_HEAP_NODE)
		return false;
	*addr = a;
	*size = b - a;
	return true;
}

void list_heap_init(struct list_heap *h, void *start, size_t len)
{
	uintptr_t addr;
	size_t size;

	h->head = NULL;
	h->fit = LIST_HEAP_FIRST_FIT;
	h->lo = h->hi = 0;
	h->total_bytes = h->used_bytes = h->live_allocs = 0;
	if (!trim_region(__func__, start, len, &addr, &size))
		return;
	h->lo = addr;
	h->hi = addr + size;
	h->total_bytes = size;
	list_heap_add_free_region(&h->head, addr, size);
}

void list_heap_add_region(struct list_heap *h, void *start, size_t len)
{
	uintptr_t addr;
	size_t size;

	if (!trim_region(__func__, start, len, &addr, &size))
		return;
	list_heap_insert_free(h, addr, size);
	if (h->total_bytes == 0 || addr < h->lo)
		h->lo = addr;
	if (h->total_bytes == 0 || addr + size > h->hi)
		h->hi = addr + size;
	h->total_bytes += size;
}

void list_heap_set_fit(struct list_heap *h, enum list_heap_fit fit)
{
	h->fit = fit;
}

void *list_heap_alloc(struct list_heap *h, size_t size, size_t align)
{
	struct list_fit fit;

	if (!heap_align_valid(align))
		panic("list_heap_alloc: bad alignment %zu (a power of two from 1 to %lu)", align,
		      HEAP_MAX_ALIGN);
	if (size == 0 || !list_heap_find_region(h, size, align, &fit))
		return NULL;
	list_heap_split_region(&fit);

	struct list_header *hdr = (struct list_header *)fit.block;
	uintptr_t p = fit.block + LIST_HEAP_HEADER;

	hdr->size = size;
	hdr->check = LIST_HEAP_LIVE ^ p;
	h->used_bytes += size;
	h->live_allocs++;
	return (void *)p;
}

/* The header of p if p is a live allocation of h, else NULL. Reads only inside [lo, hi). */
static struct list_header *live_header(const struct list_heap *h, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	if (a % LIST_HEAP_GRAIN || a < h->lo + LIST_HEAP_HEADER || a >= h->hi)
		return NULL;
	struct list_header *hdr = (struct list_header *)(a - LIST_HEAP_HEADER);
	if (hdr->check != (LIST_HEAP_LIVE ^ a) || hdr->size == 0 || hdr->size > h->hi - a)
		return NULL;
	return hdr;
}

/* True if p looks freed already: its header says so, or it lies in a free region. */
static bool looks_freed(const struct list_heap *h, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	if (a % LIST_HEAP_GRAIN == 0 && a >= h->lo + LIST_HEAP_HEADER && a < h->hi &&
	    ((struct list_header *)(a - LIST_HEAP_HEADER))->check == (LIST_HEAP_FREED ^ a))
		return true;
	for (const struct list_region *r = h->head; r && (uintptr_t)r < a; r = r->next)
		if (a < (uintptr_t)r + r->size)
			return true;
	return false;
}

void list_heap_free(struct list_heap *h, void *p)
{
	if (!p)
		return;
	struct list_header *hdr = live_header(h, p);
	if (!hdr) {
		if (looks_freed(h, p))
			panic("list_heap_free: double free of %p", p);
		panic("list_heap_free: %p was never returned by list_heap_alloc", p);
	}

	size_t size = hdr->size, block_size = LIST_HEAP_HEADER + round_to_grain(size);

	hdr->check = LIST_HEAP_FREED ^ (uintptr_t)p;
	if (HEAP_DEBUG)
		memset(p, HEAP_POISON_BYTE, block_size - LIST_HEAP_HEADER);
	h->used_bytes -= size;
	h->live_allocs--;
	list_heap_insert_free(h, (uintptr_t)hdr, block_size);
}

void list_heap_stats(const struct list_heap *h, struct heap_stats *s)
{
	s->free_bytes = s->largest_free = s->free_regions = 0;
	for (const struct list_region *r = h->head; r; r = r->next) {
		s->free_bytes += r->size;
		s->largest_free = r->size > s->largest_free ? r->size : s->largest_free;
		s->free_regions++;
	}
	s->total_bytes = h->total_bytes;
	s->used_bytes = h->used_bytes;
	s->overhead_bytes = h->total_bytes - h->used_bytes - s->free_bytes;
	s->live_allocs = h->live_allocs;
}

size_t list_heap_alloc_size(const struct list_heap *h, const void *p)
{
	const struct list_header *hdr = live_header(h, p);

	return hdr ? hdr->size : 0;
}
