/*
 * The buddy allocator for physical frames (lab 06: labs/06-buddy/buddy.c). It hands out
 * blocks of 2^order contiguous frames, order 0 (one 4 KiB frame) up to BUDDY_MAX_ORDER
 * (1024 frames, 4 MiB), each block aligned to its own size in frame numbers. It is pure C over
 * frame numbers (pfn = physical address / PAGE_SIZE), so the same code runs in the kernel and
 * in host test programs.
 *
 * One struct buddy_region manages the frames [base_pfn, base_pfn + nframes) of one usable
 * memory-map area; neither the start nor the size needs to be a power of two. The caller
 * provides two things:
 *
 *   the frame table    one byte per frame (BUDDY_FREE | order, BUDDY_USED | order,
 *                      BUDDY_INSIDE or BUDDY_RESERVED), nframes bytes of storage anywhere;
 *   frame_ptr(ctx, pfn)  where the free-list node of a free block starting at frame pfn is
 *                      kept. The kernel answers with the frame itself, through the direct
 *                      map, except on 2 MiB boundaries, where it answers with a slot of a
 *                      small array (kernel/layers/06-buddy/init.c says why); a test answers with a slot of a
 *                      small array of its own.
 *
 * What that costs: the table is 1 byte per frame (4 MiB for 16 GiB of RAM, 1/4096 of it), and
 * the free lists cost little more, since most nodes live inside the free frames. In
 * exchange every list operation writes into the block it links (a cache miss on a frame
 * nobody else is using), and a stray write into a free frame corrupts a list: every node
 * carries its own frame number, and the allocator panics when it finds a node that does not
 * match its frame.
 *
 * A region starts with every frame reserved; buddy_add_free_range() then gives it the runs of
 * frames that are really free (not the kernel image, not boot data, not the table itself).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

/* Orders 0..BUDDY_MAX_ORDER: blocks of 1 frame (4 KiB) up to 1024 frames (4 MiB). */
#define BUDDY_MAX_ORDER 10
#define BUDDY_ORDERS	(BUDDY_MAX_ORDER + 1)

/* What buddy_alloc returns when it has no block to give: never a valid frame number. */
#define BUDDY_NO_FRAME UINT64_MAX

/*
 * One byte of the frame table per frame: a state in the top two bits and, for the first frame
 * of a block, the block's order in the low bits.
 *
 *   frames 8..15 as one free order-3 block, 16..17 allocated as order 1, 18 reserved:
 *
 *   pfn   8      9      10 ... 15     16     17      18
 *       FREE|3 INSIDE INSIDE  INSIDE USED|1 INSIDE RESERVED
 */
enum buddy_frame_state {
	BUDDY_RESERVED = 0x00, /* not the allocator's: never given by buddy_add_free_range */
	BUDDY_FREE = 0x40,     /* first frame of a free block (| its order) */
	BUDDY_USED = 0x80,     /* first frame of an allocated block (| its order) */
	BUDDY_INSIDE = 0xc0,   /* any other frame of a block, free or allocated */
};
#define BUDDY_STATE_MASK 0xc0
#define BUDDY_ORDER_MASK 0x3f

_Static_assert(BUDDY_MAX_ORDER <= BUDDY_ORDER_MASK, "an order must fit in the frame byte");

/*
 * A free-list node, kept in the first frame of every free block (or wherever frame_ptr
 * says). The lists are doubly linked and end in NULL, so a block can be unlinked from the
 * middle of its list in O(1) when its buddy is freed.
 */
struct buddy_node {
	struct buddy_node *next, *prev;
	uint64_t pfn; /* the block's first frame: to find it from the node, and to check it */
};

struct buddy_region {
	uint64_t base_pfn;		       /* first frame of the region */
	uint64_t nframes;		       /* frames [base_pfn, base_pfn + nframes) */
	uint8_t *frames;		       /* the frame table: frames[pfn - base_pfn] */
	struct buddy_node *free[BUDDY_ORDERS]; /* free blocks of each order, NULL if none */
	uint64_t nr_free[BUDDY_ORDERS];	       /* how many blocks each list holds */
	uint64_t free_frames;		       /* sum of nr_free[k] << k */
	void *(*frame_ptr)(void *ctx, uint64_t pfn);
	void *ctx;
};

/*
 * Make r manage the frames [base_pfn, base_pfn + nframes), all of them reserved for now, with
 * every free list empty. frames is the caller's storage for the frame table (nframes bytes,
 * BUDDY_TABLE_BYTES(nframes)); frame_ptr(ctx, pfn) must return writable memory for one
 * struct buddy_node for any frame of the region, distinct for distinct frames. The region
 * holds no pointer to itself, so a caller may copy r before it is used.
 */
void buddy_region_init(struct buddy_region *r, uint64_t base_pfn, uint64_t nframes, uint8_t *frames,
		       void *(*frame_ptr)(void *ctx, uint64_t pfn), void *ctx);

#define BUDDY_TABLE_BYTES(nframes) ((nframes) * sizeof(uint8_t))

/*
 * Give the reserved frames [pfn, pfn + count) to the allocator: they become free as the fewest
 * blocks that are each aligned to their size (maximal aligned blocks), each merged with its
 * buddy if that is free already (from an earlier range). The cost is one pass over their
 * bytes of the frame table and O(log count) list operations per block, not work per frame. A
 * frame the kernel took before the allocator existed can come back this way, one at a time.
 * Panics "buddy_add_free_range: ..." if the range leaves the region or was already given
 * (checked at the ends of each block).
 */
void buddy_add_free_range(struct buddy_region *r, uint64_t pfn, uint64_t count);

/*
 * Allocate a block of 2^order frames, aligned to 2^order frames. Returns its first frame,
 * or BUDDY_NO_FRAME if no free block is large enough (or order > BUDDY_MAX_ORDER): running
 * out is not an error, the caller decides.
 */
uint64_t buddy_alloc(struct buddy_region *r, unsigned order);

/*
 * Free the block of 2^order frames at pfn that buddy_alloc(r, order) returned, merging it with
 * its buddy as long as the buddy is free too. Panics "buddy_free: ..." on a frame outside the
 * region, a frame that does not start an allocated block (never allocated, double free, the
 * middle of a block) or an order other than the one it was allocated with.
 */
void buddy_free(struct buddy_region *r, uint64_t pfn, unsigned order);

/* The order of the allocated block starting at frame pfn, or -1 if no allocated block starts
 * there (for a caller that frees without remembering the size, such as a heap). */
int buddy_block_order(const struct buddy_region *r, uint64_t pfn);

/*
 * The first frame of the block, free or allocated, that holds frame pfn, found from the frame
 * table: blocks are aligned to their size, so it starts at pfn rounded down to some power of
 * two. BUDDY_NO_FRAME if pfn is reserved or outside the region.
 */
uint64_t buddy_block_holding(const struct buddy_region *r, uint64_t pfn);

/* ---- for a set of regions (the kernel has one per usable memory-map area): given ---------- */

/* The region of regions[0..count) that holds frame pfn, or NULL if none does. */
struct buddy_region *buddy_find_region(struct buddy_region *regions, size_t count, uint64_t pfn);

/* buddy_alloc from the first of regions[0..count) that has a block of this order, or
 * BUDDY_NO_FRAME. */
uint64_t buddy_alloc_first(struct buddy_region *regions, size_t count, unsigned order);

/* The region's free blocks per order 0..BUDDY_MAX_ORDER as text, "0 1 0 1 ... 31" (for logs:
 * this is what fragmentation looks like). Returns buf. */
#define BUDDY_COUNTS_TEXT_MAX 128
const char *buddy_format_counts(const struct buddy_region *r, char *buf, size_t size);

static inline bool buddy_region_contains(const struct buddy_region *r, uint64_t pfn)
{
	return pfn >= r->base_pfn && pfn - r->base_pfn < r->nframes;
}

/* The frame-table byte of frame pfn, which must be in the region. */
static inline uint8_t buddy_frame(const struct buddy_region *r, uint64_t pfn)
{
	return r->frames[pfn - r->base_pfn];
}

/* How many free blocks of this order the region has: print them all to see fragmentation. */
static inline uint64_t buddy_free_blocks(const struct buddy_region *r, unsigned order)
{
	return order <= BUDDY_MAX_ORDER ? r->nr_free[order] : 0;
}

/* How many frames of the region are free, in blocks of every order. */
static inline uint64_t buddy_free_frames(const struct buddy_region *r)
{
	return r->free_frames;
}

/* How many frames regions[0..count) hold, reserved ones included. */
static inline uint64_t buddy_count_frames(const struct buddy_region *regions, size_t count)
{
	uint64_t n = 0;

	for (size_t i = 0; i < count; i++)
		n += regions[i].nframes;
	return n;
}

/* How many frames of regions[0..count) are free. */
static inline uint64_t buddy_count_free(const struct buddy_region *regions, size_t count)
{
	uint64_t n = 0;

	for (size_t i = 0; i < count; i++)
		n += buddy_free_frames(&regions[i]);
	return n;
}

/* The smallest order whose blocks hold npages frames (npages >= 1): 1 -> 0, 2 -> 1, 3 -> 2.
 * It can exceed BUDDY_MAX_ORDER, and buddy_alloc then fails. */
static inline unsigned buddy_order_for(uint64_t npages)
{
	return log2_ceil(npages);
}
