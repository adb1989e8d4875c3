/*
 * Checking a buddy region (kernel/buddy.h) against the invariants of its design, for the
 * tests of lab 06 and for tests of the kernel's own regions:
 *
 *   - the frame table is a sequence of blocks: a first frame (BUDDY_FREE or BUDDY_USED with
 *     its order) followed by 2^order - 1 BUDDY_INSIDE frames, or a BUDDY_RESERVED frame, so no
 *     frame is in two blocks and every block lies inside the region;
 *   - every block is aligned to its size;
 *   - no two free buddies of the same order are left unmerged;
 *   - each free list holds exactly the free blocks of its order, linked both ways, each node
 *     where frame_ptr puts it and naming its own frame;
 *   - nr_free and free_frames agree with the table.
 *
 * The cost is one pass over the frame table plus one over the lists.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "buddy.h"
#include "kprintf.h"
#include "ktest.h"

#define BUDDY_CHECK_MSG_MAX 240

/* Check every invariant of r. On the first one broken, describe it in why and return false. */
static inline bool buddy_check(const struct buddy_region *r, char *why, size_t size)
{
	uint64_t heads[BUDDY_ORDERS] = {0}, end = r->base_pfn + r->nframes, frames = 0;

	for (uint64_t p = r->base_pfn; p < end;) {
		uint8_t b = buddy_frame(r, p);
		unsigned state = b & BUDDY_STATE_MASK, k = b & BUDDY_ORDER_MASK;

		if (b == BUDDY_RESERVED) {
			p++;
			continue;
		}
		if (state == BUDDY_INSIDE) {
			ksnprintf(why, size,
				  "frame %lu is marked BUDDY_INSIDE but no block covers it", p);
			return false;
		}
		const char *what = state == BUDDY_FREE ? "free" : "allocated";
		if (k > BUDDY_MAX_ORDER || (state == BUDDY_RESERVED)) {
			ksnprintf(why, size, "frame %lu has the impossible frame byte 0x%02x", p,
				  b);
			return false;
		}
		uint64_t n = UINT64_C(1) << k;
		if (p & (n - 1)) {
			ksnprintf(why, size,
				  "the %s order-%u block at frame %lu is not aligned to %lu frames",
				  what, k, p, n);
			return false;
		}
		if (n > end - p) {
			ksnprintf(
				why, size,
				"the %s order-%u block at frame %lu runs past the region's end %lu",
				what, k, p, end);
			return false;
		}
		for (uint64_t q = p + 1; q < p + n; q++) {
			if (buddy_frame(r, q) != BUDDY_INSIDE) {
				ksnprintf(
					why, size,
					"frame %lu, inside the %s order-%u block at frame %lu, is marked 0x%02x (in two blocks?)",
					q, what, k, p, buddy_frame(r, q));
				return false;
			}
		}
		if (state == BUDDY_FREE) {
			uint64_t buddy = p ^ n;
			if (k < BUDDY_MAX_ORDER && buddy_region_contains(r, buddy) &&
			    buddy_frame(r, buddy) == (BUDDY_FREE | k)) {
				ksnprintf(
					why, size,
					"the free order-%u blocks at frames %lu and %lu are buddies but were not merged",
					k, p, buddy);
				return false;
			}
			heads[k]++;
			frames += n;
		}
		p += n;
	}

	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		if (heads[k] != r->nr_free[k]) {
			ksnprintf(
				why, size,
				"the frame table has %lu free order-%u blocks but nr_free[%u] = %lu",
				heads[k], k, k, r->nr_free[k]);
			return false;
		}
		uint64_t len = 0;
		const struct buddy_node *prev = NULL;
		for (const struct buddy_node *n = r->free[k]; n; prev = n, n = n->next) {
			/* What the node is, first: a node left on the list after its block was
			 * taken names a frame that is no longer free. */
			if (!buddy_region_contains(r, n->pfn)) {
				ksnprintf(
					why, size,
					"free list %u, %s: the node at %p names frame %lu, outside "
					"the region [%lu, %lu) (a node unlinked or overwritten?)",
					k, prev ? "further on" : "at its head", (const void *)n,
					n->pfn, r->base_pfn, end);
				return false;
			}
			uint8_t b = buddy_frame(r, n->pfn);
			if (b != (BUDDY_FREE | k)) {
				ksnprintf(
					why, size,
					"free list %u, %s: the node of frame %lu, whose frame byte 0x%02x says %s, not a free order-%u block%s",
					k, prev ? "further on" : "at its head", n->pfn, b,
					b == BUDDY_RESERVED ? "reserved"
					: b == BUDDY_INSIDE ? "inside a block"
					: (b & BUDDY_STATE_MASK) == BUDDY_USED
						? "allocated"
						: "free, of another order",
					k,
					(b & BUDDY_STATE_MASK) == BUDDY_USED
						? " (taken, but left on the list?)"
						: "");
				return false;
			}
			if (n->prev != prev) {
				ksnprintf(
					why, size,
					"free list %u: the node of frame %lu has a wrong prev link",
					k, n->pfn);
				return false;
			}
			if (++len > heads[k]) {
				ksnprintf(
					why, size,
					"free list %u goes round: it comes back to frame %lu after "
					"the %lu free order-%u blocks the frame table has",
					k, n->pfn, heads[k], k);
				return false;
			}
			if (r->frame_ptr(r->ctx, n->pfn) != (const void *)n) {
				ksnprintf(
					why, size,
					"free list %u: the node naming frame %lu is not where frame_ptr puts it",
					k, n->pfn);
				return false;
			}
		}
		if (len != heads[k]) {
			ksnprintf(why, size, "free list %u holds %lu blocks, the frame table %lu",
				  k, len, heads[k]);
			return false;
		}
	}
	if (frames != r->free_frames) {
		ksnprintf(why, size, "the free blocks hold %lu frames but free_frames = %lu",
			  frames, r->free_frames);
		return false;
	}
	return true;
}

/* Record a failure, with what is wrong, unless r keeps every invariant. */
#define EXPECT_BUDDY_OK(t, r)                                                       \
	do {                                                                        \
		char buddy_why_[BUDDY_CHECK_MSG_MAX];                               \
		if (!buddy_check((r), buddy_why_, sizeof(buddy_why_)))              \
			ktest_fail(t, false, __FILE__, __LINE__, "%s", buddy_why_); \
	} while (0)

/* The same, ending the test. */
#define ASSERT_BUDDY_OK(t, r)                                                      \
	do {                                                                       \
		char buddy_why_[BUDDY_CHECK_MSG_MAX];                              \
		if (!buddy_check((r), buddy_why_, sizeof(buddy_why_)))             \
			ktest_fail(t, true, __FILE__, __LINE__, "%s", buddy_why_); \
	} while (0)
