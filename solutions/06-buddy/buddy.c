/*
 * The buddy allocator: physical frames in blocks of 2^order, per memory-map region. The
 * interface, the frame table and the cost of the design are in kernel/buddy.h.
 *
 * Theory of operation. Every free frame of a region is in exactly one free block; a block of
 * order k is 2^k frames whose first frame number is a multiple of 2^k. Each order has a list
 * of its free blocks.
 *
 *   alloc(k)      Take a block from list k. If list k is empty, take one from the smallest
 *                 larger order j and split it in halves, again and again, putting each upper
 *                 half on the list of its order, until the lower half has order k.
 *
 *   free(pfn, k)  A block's buddy is the other half of the order-(k+1) block it was split from.
 *                 Flipping bit k of the frame number moves between the two halves, so the
 *                 buddy starts at pfn ^ (1 << k). If the buddy is a free block of order k too,
 *                 unlink it, merge the two into the order-(k+1) block starting at the lower of
 *                 the two, and try again one order up; otherwise put the block on list k.
 *
 * A worked example, in a region of frames 0..15 holding one free order-4 block:
 *
 *   alloc(0) = 0    split 0..15: 8..15 goes to list 3, 4..7 to list 2, 2..3 to list 1,
 *                   1 to list 0; frame 0 is the order-0 block handed out
 *   alloc(1) = 2    list 1 holds 2..3
 *   free(0, 0)      buddy 0 ^ 1 = 1 is a free order-0 block: merge into 0..1 (order 1);
 *                   buddy 0 ^ 2 = 2 is allocated: stop, 0..1 goes on list 1
 *   free(2, 1)      buddy 2 ^ 2 = 0 is a free order-1 block: merge into 0..3; buddy 0 ^ 4 = 4
 *                   is a free order-2 block: 0..7; buddy 0 ^ 8 = 8, order 3: 0..15 again
 *
 * A block never merges with a neighbour that is not its buddy: 2..3 and 4..5 touch, but the
 * buddy of 4..5 is 4 ^ 2 = 6..7, and a block 2..5 would not be aligned to its size.
 *
 * A run of free frames given to the region goes in as the fewest aligned blocks that cover it
 * (frames 3..1002 become 3, 4..7, 8..15, ..., 256..511, 512..767, ..., 1000..1001, 1002), each
 * freed like any other block, so it also merges with a free buddy from an earlier run. That is
 * a few list operations per block instead of one free per frame.
 */
#include <string.h>
#include "buddy.h"
#include "compiler.h"
#include "kprintf.h"
#include "panic.h"
/// STARTER: #include "todo.h"

void buddy_region_init(struct buddy_region *r, uint64_t base_pfn, uint64_t nframes, uint8_t *frames,
		       void *(*frame_ptr)(void *ctx, uint64_t pfn), void *ctx)
{
	KASSERT(frame_ptr != NULL);
	KASSERT(frames != NULL || nframes == 0);
	KASSERT(base_pfn + nframes >= base_pfn); /* no wrap-around */
	/// SOLUTION BEGIN
	r->base_pfn = base_pfn;
	r->nframes = nframes;
	r->frames = frames;
	r->frame_ptr = frame_ptr;
	r->ctx = ctx;
	memset(frames, BUDDY_RESERVED, BUDDY_TABLE_BYTES(nframes));
	for (int k = 0; k <= BUDDY_MAX_ORDER; k++) {
		r->free[k] = NULL;
		r->nr_free[k] = 0;
	}
	r->free_frames = 0;
	/// SOLUTION END
	/// STARTER: TODO("step 1: record the region's fields, mark every frame BUDDY_RESERVED in the frame table, empty every free list and zero the counts");
}

/*
 * The node of the free block of this order starting at pfn, checked against the frame table:
 * a mismatch means a list or a free frame was overwritten. (__unused: only your code calls it.)
 */
static __unused struct buddy_node *free_node(struct buddy_region *r, uint64_t pfn, unsigned order)
{
	if (!buddy_region_contains(r, pfn) || buddy_frame(r, pfn) != (BUDDY_FREE | order))
		panic("free_node: frame %lu is not the first frame of a free order-%u block (frame byte 0x%02x)",
		      pfn, order, buddy_region_contains(r, pfn) ? buddy_frame(r, pfn) : 0);

	struct buddy_node *n = r->frame_ptr(r->ctx, pfn);
	if (n->pfn != pfn)
		panic("free_node: the node of free frame %lu says frame %lu: something wrote into a free frame",
		      pfn, n->pfn);
	return n;
}

/* Put the free block (pfn, order) at the head of list `order`: its first frame becomes
 * BUDDY_FREE | order, and the counts grow. */
static __unused void free_list_push(struct buddy_region *r, uint64_t pfn, unsigned order)
{
	/// SOLUTION BEGIN
	struct buddy_node *n = r->frame_ptr(r->ctx, pfn);

	n->pfn = pfn;
	n->prev = NULL;
	n->next = r->free[order];
	if (n->next)
		n->next->prev = n;
	r->free[order] = n;
	r->frames[pfn - r->base_pfn] = BUDDY_FREE | order;
	r->nr_free[order]++;
	r->free_frames += UINT64_C(1) << order;
	/// SOLUTION END
	/// STARTER: TODO("step 2: link the block's node (r->frame_ptr) at the head of r->free[order], mark its first frame BUDDY_FREE | order, count it in nr_free and free_frames");
}

/* Unlink the free block (pfn, order) from list `order`, wherever it is in the list: its first
 * frame becomes BUDDY_INSIDE (the caller gives it its new state), and the counts shrink. */
static __unused void free_list_remove(struct buddy_region *r, uint64_t pfn, unsigned order)
{
	/// SOLUTION BEGIN
	struct buddy_node *n = free_node(r, pfn, order);

	if (n->prev)
		n->prev->next = n->next;
	else
		r->free[order] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
	r->frames[pfn - r->base_pfn] = BUDDY_INSIDE;
	r->nr_free[order]--;
	r->free_frames -= UINT64_C(1) << order;
	/// SOLUTION END
	/// STARTER: TODO("step 2: unlink the block's node (free_node finds it) from r->free[order], mark its first frame BUDDY_INSIDE, take it out of nr_free and free_frames");
}

/*
 * Make the block (pfn, order) free: while its buddy is a free block of the same order, unlink
 * the buddy and merge the two one order up; then push what is left. Every frame of the block
 * but the first must be BUDDY_INSIDE already; the caller has checked the request.
 */
static void free_block(struct buddy_region *r, uint64_t pfn, unsigned order)
{
	/// SOLUTION BEGIN
	r->frames[pfn - r->base_pfn] = BUDDY_INSIDE;
	while (order < BUDDY_MAX_ORDER) {
		uint64_t buddy = pfn ^ (UINT64_C(1) << order);

		if (!buddy_region_contains(r, buddy) ||
		    buddy_frame(r, buddy) != (BUDDY_FREE | order))
			break;
		free_list_remove(r, buddy, order);
		pfn = MIN(pfn, buddy);
		order++;
	}
	free_list_push(r, pfn, order);
	/// SOLUTION END
	/// STARTER: TODO("step 3: mark pfn BUDDY_INSIDE; while the buddy (pfn ^ (1 << order)) is in the region and a free block of the same order, unlink it and merge one order up; then push the merged block");
}

/* The order of the largest block that starts at pfn (aligned: pfn is a multiple of its size)
 * and fits in count >= 1 frames, at most BUDDY_MAX_ORDER. */
static unsigned largest_aligned_order(uint64_t pfn, uint64_t count)
{
	/// SOLUTION BEGIN
	unsigned order = 0;

	while (order < BUDDY_MAX_ORDER && !(pfn & (UINT64_C(1) << order)) &&
	       (UINT64_C(2) << order) <= count)
		order++;
	return order;
	/// SOLUTION END
	/// STARTER: TODO("step 4: the largest order <= BUDDY_MAX_ORDER such that 2^order divides pfn and 2^order <= count");
}

void buddy_add_free_range(struct buddy_region *r, uint64_t pfn, uint64_t count)
{
	if (count == 0)
		return;
	if (!buddy_region_contains(r, pfn) || count > r->nframes - (pfn - r->base_pfn))
		panic("buddy_add_free_range: frames [%lu, %lu) are not all in the region [%lu, %lu)",
		      pfn, pfn + count, r->base_pfn, r->base_pfn + r->nframes);
	/* Validate first: the ends of every block must still be reserved. */
	for (uint64_t p = pfn, left = count; left;) {
		unsigned order = largest_aligned_order(p, left);
		uint64_t size = UINT64_C(1) << order;

		if (size > left) /* it would run past the range (and left -= size wrap around) */
			panic("buddy_add_free_range: largest_aligned_order(%lu, %lu) gave order %u, a block of %lu frames, but only %lu are left: it must return the largest order whose block fits in count",
			      p, left, order, size, left);
		if (buddy_frame(r, p) != BUDDY_RESERVED ||
		    buddy_frame(r, p + size - 1) != BUDDY_RESERVED)
			panic("buddy_add_free_range: frames [%lu, %lu) were already given to the allocator",
			      p, p + size);
		p += size;
		left -= size;
	}
	/// SOLUTION BEGIN
	memset(&r->frames[pfn - r->base_pfn], BUDDY_INSIDE, BUDDY_TABLE_BYTES(count));
	while (count) {
		unsigned order = largest_aligned_order(pfn, count);

		free_block(r, pfn, order);
		pfn += UINT64_C(1) << order;
		count -= UINT64_C(1) << order;
	}
	/// SOLUTION END
	/// STARTER: TODO("step 4: mark the range BUDDY_INSIDE in the frame table (one memset), then free each largest aligned block with free_block");
}

uint64_t buddy_alloc(struct buddy_region *r, unsigned order)
{
	/// SOLUTION BEGIN
	if (order > BUDDY_MAX_ORDER)
		return BUDDY_NO_FRAME;

	unsigned k = order;
	while (k <= BUDDY_MAX_ORDER && !r->free[k])
		k++;
	if (k > BUDDY_MAX_ORDER)
		return BUDDY_NO_FRAME;

	uint64_t pfn = r->free[k]->pfn;
	free_list_remove(r, pfn, k);
	while (k > order) { /* split: keep the lower half, free the upper one */
		k--;
		free_list_push(r, pfn + (UINT64_C(1) << k), k);
	}
	r->frames[pfn - r->base_pfn] = BUDDY_USED | order;
	return pfn;
	/// SOLUTION END
	/// STARTER: TODO("step 5: take a block from the smallest non-empty list >= order (none: BUDDY_NO_FRAME), split it down to order putting each upper half on its list, mark it BUDDY_USED | order");
}

uint64_t buddy_block_holding(const struct buddy_region *r, uint64_t pfn)
{
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		uint64_t head = pfn & ~((UINT64_C(1) << k) - 1);

		if (!buddy_region_contains(r, head))
			break;
		uint8_t b = buddy_frame(r, head);
		if (b != BUDDY_INSIDE && b != BUDDY_RESERVED && (b & BUDDY_ORDER_MASK) >= k)
			return head;
	}
	return BUDDY_NO_FRAME;
}

/* Panic, naming the mistake, unless (pfn, order) is a block buddy_alloc handed out. */
static void free_check(const struct buddy_region *r, uint64_t pfn, unsigned order)
{
	if (!buddy_region_contains(r, pfn))
		panic("buddy_free: frame %lu is outside the region [%lu, %lu)", pfn, r->base_pfn,
		      r->base_pfn + r->nframes);
	if (order > BUDDY_MAX_ORDER)
		panic("buddy_free: frame %lu: order %u is above BUDDY_MAX_ORDER", pfn, order);

	uint8_t b = buddy_frame(r, pfn);
	if (b == (BUDDY_USED | order))
		return;
	if (b == BUDDY_RESERVED)
		panic("buddy_free: frame %lu is reserved: the allocator never gave it out", pfn);
	if ((b & BUDDY_STATE_MASK) == BUDDY_USED)
		panic("buddy_free: frame %lu was allocated with order %u, not order %u", pfn,
		      b & BUDDY_ORDER_MASK, order);

	uint64_t head = buddy_block_holding(r, pfn);
	if (head == BUDDY_NO_FRAME)
		panic("buddy_free: the frame table is corrupt around frame %lu", pfn);
	uint8_t hb = buddy_frame(r, head);
	if ((hb & BUDDY_STATE_MASK) == BUDDY_FREE)
		panic("buddy_free: double free: frame %lu is already free (in the free order-%u block at frame %lu)",
		      pfn, hb & BUDDY_ORDER_MASK, head);
	panic("buddy_free: frame %lu is inside the allocated order-%u block at frame %lu, not its first frame",
	      pfn, hb & BUDDY_ORDER_MASK, head);
}

void buddy_free(struct buddy_region *r, uint64_t pfn, unsigned order)
{
	free_check(r, pfn, order);
	free_block(r, pfn, order);
}

int buddy_block_order(const struct buddy_region *r, uint64_t pfn)
{
	if (!buddy_region_contains(r, pfn))
		return -1;
	uint8_t b = buddy_frame(r, pfn);
	return (b & BUDDY_STATE_MASK) == BUDDY_USED ? b & BUDDY_ORDER_MASK : -1;
}

struct buddy_region *buddy_find_region(struct buddy_region *regions, size_t count, uint64_t pfn)
{
	for (size_t i = 0; i < count; i++)
		if (buddy_region_contains(&regions[i], pfn))
			return &regions[i];
	return NULL;
}

uint64_t buddy_alloc_first(struct buddy_region *regions, size_t count, unsigned order)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t pfn = buddy_alloc(&regions[i], order);
		if (pfn != BUDDY_NO_FRAME)
			return pfn;
	}
	return BUDDY_NO_FRAME;
}

const char *buddy_format_counts(const struct buddy_region *r, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER && used < size; k++)
		used += (size_t)ksnprintf(buf + used, size - used, "%s%lu", k ? " " : "",
					  buddy_free_blocks(r, k));
	return buf;
}
