/*
 * Lab 06: the buddy allocator on private regions (buddy_fixture.h), in the kernel and on the
 * host. Free counts are written [order 0, order 1, ..., order 10].
 */
#include "buddy.h"
#include "buddy_check.h"
#include "buddy_fixture.h"
#include "ktest.h"

KTEST_SUITE(buddy, test_pool_reset, NULL);

#define ONE(k) (UINT64_C(1) << (k))

KTEST(buddy, new_region_is_all_reserved, 1)
{
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 3, 1000);

	/* should be: 1000 reserved frames, every list empty, nothing to hand out */
	EXPECT_COUNTS(t, r, {0});
	EXPECT_EQ(t, buddy_free_frames(r), 0);
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
		if (r->free[k] != NULL) {
			FAIL(t,
			     "free list %u is %p after buddy_region_init, not NULL: the region's "
			     "memory held junk, and buddy_region_init must empty every list",
			     k, (void *)r->free[k]);
			break;
		}
	for (uint64_t p = 3; p < 1003; p++)
		if (buddy_frame(r, p) != BUDDY_RESERVED) {
			FAIL(t, "frame %lu is 0x%02x after buddy_region_init, not BUDDY_RESERVED",
			     p, buddy_frame(r, p));
			break;
		}
	EXPECT_EQ(t, buddy_alloc(r, 0), BUDDY_NO_FRAME);
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, free_range_inserts_maximal_aligned_blocks, 3)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 3, 1000);

	/*
	 * frames 3..1002 should be the fewest aligned blocks:
	 *   3 | 4..7 | 8..15 | 16..31 | 32..63 | 64..127 | 128..255 | 256..511 |
	 *   512..767 | 768..895 | 896..959 | 960..991 | 992..999 | 1000..1001 | 1002
	 */
	EXPECT_COUNTS(t, r, {2, 1, 1, 2, 1, 2, 2, 2, 2, 0, 0});
	EXPECT_EQ(t, buddy_free_frames(r), 1000);
	EXPECT_EQ(t, buddy_frame(r, 3), BUDDY_FREE | 0);
	EXPECT_EQ(t, buddy_frame(r, 4), BUDDY_FREE | 2);
	EXPECT_EQ(t, buddy_frame(r, 256), BUDDY_FREE | 8);
	EXPECT_EQ(t, buddy_frame(r, 512), BUDDY_FREE | 8);
	EXPECT_EQ(t, buddy_frame(r, 992), BUDDY_FREE | 3);
	EXPECT_EQ(t, buddy_frame(r, 1002), BUDDY_FREE | 0);
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, free_range_works_per_block_not_per_frame, 2)
{
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 0, 4096);

	/* 4096 frames from frame 0 are four order-10 blocks: a few node writes each, not one
	 * free (and merge) per frame */
	buddy_add_free_range(r, 0, 4096);
	EXPECT_LE(t, tr.node_lookups, 4 * 4);
	EXPECT_COUNTS(t, r, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4});
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, free_ranges_merge_across_their_boundary, 2)
{
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 0, 200);

	/*
	 * [0, 100) then [100, 200): 96..99 and 100..103 are buddies, and the merges go on up to
	 * 0..127, as if the 200 frames had come in one range:
	 *   0..127 | 128..191 | 192..199
	 */
	buddy_add_free_range(r, 0, 100);
	EXPECT_COUNTS(t, r, {0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0});
	buddy_add_free_range(r, 100, 100);
	EXPECT_COUNTS(t, r, {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0});
	EXPECT_BUDDY_OK(t, r);

	/* one frame kept back, returned later on its own: the same blocks again */
	test_pool_reset(t);
	r = test_region(t, &tr, 0, 200);
	buddy_add_free_range(r, 0, 150);
	buddy_add_free_range(r, 151, 49);
	buddy_add_free_range(r, 150, 1);
	EXPECT_COUNTS(t, r, {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0});
	EXPECT_EQ(t, buddy_free_frames(r), 200);
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, alloc_and_free_each_order, 3)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 2048);

	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		uint64_t p = buddy_alloc(r, k);

		ASSERT_NE(t, p, BUDDY_NO_FRAME);
		EXPECT_EQ(t, p % ONE(k), 0);
		EXPECT_LE(t, p + ONE(k), 2048);
		EXPECT_EQ(t, buddy_block_order(r, p), (int)k);
		EXPECT_EQ(t, buddy_free_frames(r), 2048 - ONE(k));
		EXPECT_BUDDY_OK(t, r);
		buddy_free(r, p, k);
		/* should be back to two order-10 blocks */
		EXPECT_COUNTS(t, r, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
		EXPECT_BUDDY_OK(t, r);
		if (t->failures) {
			/* the orders above would most likely repeat the same failures */
			FAIL(t, "stopped after order %u, the first order that failed", k);
			break;
		}
	}
}

KTEST(buddy, blocks_are_aligned_in_an_odd_region, 2)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 3, 1000);
	uint64_t got[9];

	for (unsigned k = 0; k <= 8; k++) {
		got[k] = buddy_alloc(r, k);
		ASSERT_NE(t, got[k], BUDDY_NO_FRAME);
		if (got[k] % ONE(k) || got[k] < 3 || got[k] + ONE(k) > 1003)
			FAIL(t,
			     "the order-%u block at frame %lu is not aligned to %lu frames inside [3, 1003)",
			     k, got[k], ONE(k));
	}
	EXPECT_BUDDY_OK(t, r);
	for (unsigned k = 0; k <= 8; k++)
		buddy_free(r, got[k], k);
	EXPECT_COUNTS(t, r, {2, 1, 1, 2, 1, 2, 2, 2, 2, 0, 0});
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, the_worked_example, 2)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 16);

	EXPECT_COUNTS(t, r, {0, 0, 0, 0, 1});
	uint64_t a = buddy_alloc(r, 0);
	/* 0..15 split four times: one free block of each order 0..3 is left over */
	EXPECT_COUNTS(t, r, {1, 1, 1, 1, 0});
	uint64_t b = buddy_alloc(r, 1);
	/* the order-1 leftover is handed out as it is */
	EXPECT_COUNTS(t, r, {1, 0, 1, 1, 0});
	ASSERT_NE(t, a, BUDDY_NO_FRAME);
	ASSERT_NE(t, b, BUDDY_NO_FRAME);
	EXPECT_BUDDY_OK(t, r);
	buddy_free(r, a, 0);
	/* a merges with its order-0 buddy; the order-1 buddy of that is b, still allocated */
	EXPECT_COUNTS(t, r, {0, 1, 1, 1, 0});
	EXPECT_BUDDY_OK(t, r);
	buddy_free(r, b, 1);
	/* b merges all the way up: 0..15 again */
	EXPECT_COUNTS(t, r, {0, 0, 0, 0, 1});
	EXPECT_BUDDY_OK(t, r);
}

/* Allocate every frame of r as order 0, checking each is new, and return how many there were. */
static uint64_t alloc_all_frames(struct ktest *t, struct buddy_region *r, uint64_t *frames,
				 uint64_t max)
{
	uint64_t n = 0;

	for (uint64_t p; (p = buddy_alloc(r, 0)) != BUDDY_NO_FRAME; n++) {
		if (n == max) {
			FAIL(t, "the region handed out more than its %lu frames", max);
			return n;
		}
		if (!buddy_region_contains(r, p) || buddy_block_order(r, p) != 0) {
			FAIL(t,
			     "frame %lu, allocation %lu, is not an allocated order-0 frame of the region",
			     p, n);
			return n;
		}
		frames[n] = p;
	}
	return n;
}

KTEST(buddy, split_everything_then_free_everything, 3)
{
	static uint64_t frames[1000];
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 3, 1000);
	uint64_t before[BUDDY_ORDERS];

	test_counts(r, before);
	/* all 1000 frames one by one, each once (the checker sees any frame in two blocks) */
	EXPECT_EQ(t, alloc_all_frames(t, r, frames, 1000), 1000);
	EXPECT_EQ(t, buddy_free_frames(r), 0);
	EXPECT_COUNTS(t, r, {0});
	ASSERT_BUDDY_OK(t, r);
	/* free them in a random order: everything merges back into the same blocks */
	for (int i = 999; i > 0; i--) {
		int j = (int)ktest_random_range(t, 0, (uint64_t)i);
		uint64_t tmp = frames[i];
		frames[i] = frames[j];
		frames[j] = tmp;
	}
	for (int i = 0; i < 1000; i++)
		buddy_free(r, frames[i], 0);
	EXPECT_COUNTS(t, r,
		      {before[0], before[1], before[2], before[3], before[4], before[5], before[6],
		       before[7], before[8], before[9], before[10]});
	EXPECT_EQ(t, buddy_free_frames(r), 1000);
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, merges_only_with_the_true_buddy, 3)
{
	static uint64_t frames[16];
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 16);

	ASSERT_EQ(t, alloc_all_frames(t, r, frames, 16), 16);
	/*
	 * free 4, 5 then 2, 3: two order-1 blocks 2..3 and 4..5 that touch, but the buddy of
	 * 2..3 is 0..1 and the buddy of 4..5 is 6..7: they must stay apart
	 *   [0 1 used][2 3 free][4 5 free][6 .. 15 used]
	 */
	buddy_free(r, 4, 0);
	buddy_free(r, 5, 0);
	buddy_free(r, 2, 0);
	buddy_free(r, 3, 0);
	EXPECT_COUNTS(t, r, {0, 2, 0, 0, 0});
	EXPECT_EQ(t, buddy_frame(r, 2), BUDDY_FREE | 1);
	EXPECT_EQ(t, buddy_frame(r, 4), BUDDY_FREE | 1);
	EXPECT_BUDDY_OK(t, r);
	/* 10, 11 then 8, 9 then 6, 7: 8..11 merges (buddies), 6..7 joins 4..5 into 4..7, and
	 * 4..7 does not join 8..11 (its buddy is 0..3) */
	buddy_free(r, 10, 0);
	buddy_free(r, 11, 0);
	buddy_free(r, 8, 0);
	buddy_free(r, 9, 0);
	buddy_free(r, 6, 0);
	buddy_free(r, 7, 0);
	EXPECT_COUNTS(t, r, {0, 1, 2, 0, 0});
	EXPECT_EQ(t, buddy_frame(r, 4), BUDDY_FREE | 2);
	EXPECT_EQ(t, buddy_frame(r, 8), BUDDY_FREE | 2);
	EXPECT_BUDDY_OK(t, r);
	/* 0, 1: 0..1 + 2..3 = 0..3, + 4..7 = 0..7; 8..11 still waits for 12..15 */
	buddy_free(r, 0, 0);
	buddy_free(r, 1, 0);
	EXPECT_COUNTS(t, r, {0, 0, 1, 1, 0});
	EXPECT_EQ(t, buddy_frame(r, 0), BUDDY_FREE | 3);
	EXPECT_BUDDY_OK(t, r);
	for (uint64_t p = 12; p < 16; p++)
		buddy_free(r, p, 0);
	EXPECT_COUNTS(t, r, {0, 0, 0, 0, 1});
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, merges_only_with_a_buddy_of_the_same_order, 2)
{
	static uint64_t frames[16];
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 16);

	ASSERT_EQ(t, alloc_all_frames(t, r, frames, 16), 16);
	/*
	 * free 4 (5 stays allocated), then 6 and 7 into 6..7: the buddy of 6..7 starts at 4,
	 * and frame 4 is free, but only as an order-0 block: no merge
	 *   [0..3 used][4 free][5 used][6 7 free][8..15 used]
	 */
	buddy_free(r, 4, 0);
	buddy_free(r, 6, 0);
	buddy_free(r, 7, 0);
	EXPECT_COUNTS(t, r, {1, 1, 0, 0, 0});
	EXPECT_EQ(t, buddy_frame(r, 4), BUDDY_FREE | 0);
	EXPECT_EQ(t, buddy_frame(r, 6), BUDDY_FREE | 1);
	EXPECT_EQ(t, buddy_block_order(r, 5), 0);
	EXPECT_BUDDY_OK(t, r);
	/* now 5: 4..5, then 4..7 */
	buddy_free(r, 5, 0);
	EXPECT_COUNTS(t, r, {0, 0, 1, 0, 0});
	EXPECT_EQ(t, buddy_frame(r, 4), BUDDY_FREE | 2);
	EXPECT_BUDDY_OK(t, r);
}

/* For ktry_call: region d of odd_regions_stay_in_their_bounds gets its frames. */
static void add_frames_5_to_7(void *d)
{
	buddy_add_free_range(d, 5, 3);
}

KTEST(buddy, odd_regions_stay_in_their_bounds, 2)
{
	/* {first frame, frames}: odd starts, odd sizes, one frame, far above 4 GiB */
	static const uint64_t regions[][2] = {
		{3, 1000}, {1, 1}, {1023, 2}, {0x100000 + 5, 77}, {0x400000 - 700, 1400}, {7, 9},
	};
	static uint64_t frames[1400];

	for (unsigned i = 0; i < ARRAY_SIZE(regions); i++) {
		uint64_t base = regions[i][0], n = regions[i][1];
		struct test_region tr;

		test_pool_reset(t);
		struct buddy_region *r = test_region_free(t, &tr, base, n);
		EXPECT_EQ(t, buddy_free_frames(r), n);
		EXPECT_BUDDY_OK(t, r);
		/* every frame exactly once, none outside [base, base + n) */
		EXPECT_EQ(t, alloc_all_frames(t, r, frames, n), n);
		EXPECT_BUDDY_OK(t, r);
		for (uint64_t j = 0; j < n; j++)
			buddy_free(r, frames[j], 0);
		EXPECT_EQ(t, buddy_free_frames(r), n);
		EXPECT_BUDDY_OK(t, r);
	}

	/*
	 * Merging at a region's last frame, and not past it. Region a is frames 0..5; region b,
	 * frames 6..7, is one free order-1 block, and its frame byte sits in the pool right
	 * after a's table: one past a's last frame, a byte that says "a free order-1 block".
	 * Freeing 5, then 4: 4 merges with its buddy 5, a's last frame, into 4..5. The buddy of
	 * 4..5 would be 6..7, outside a: no further, whatever the byte after a's table says.
	 *   a: [0 1 2 3: order 2][4 5: order 1] | b: [6 7: order 1]
	 */
	struct test_region ta, tb;
	test_pool_reset(t);
	struct buddy_region *a = test_region(t, &ta, 0, 6);
	struct buddy_region *b = test_region_free(t, &tb, 6, 2);
	ASSERT_EQ(t, buddy_frame(b, 6), BUDDY_FREE | 1);
	buddy_add_free_range(a, 0, 4);
	buddy_add_free_range(a, 5, 1);
	buddy_add_free_range(a, 4, 1);
	EXPECT_COUNTS(t, a, {0, 1, 1, 0, 0});
	EXPECT_EQ(t, buddy_frame(a, 4), BUDDY_FREE | 1);
	EXPECT_BUDDY_OK(t, a);
	EXPECT_BUDDY_OK(t, b);

	/*
	 * And not before its first frame. Region c is frames 0..4, all free: 0..3 and 4, a free
	 * order-0 block whose frame byte sits in the pool right before the table of region d,
	 * frames 5..7. The buddy of d's frame 5 is frame 4 and the buddy of 6..7 is 4..5, both
	 * outside d: d's frames go in as 5 and 6..7, merged with nothing.
	 *   c: [0 1 2 3: order 2][4: order 0] | d: [5: order 0][6 7: order 1]
	 */
	struct test_region tc, td;
	struct ktry_result res;
	test_pool_reset(t);
	struct buddy_region *c = test_region_free(t, &tc, 0, 5);
	ASSERT_EQ(t, buddy_frame(c, 4), BUDDY_FREE | 0);
	struct buddy_region *d = test_region(t, &td, 5, 3);
	if (ktry_call(add_frames_5_to_7, d, KTRY_PANIC, &res)) {
		FAIL(t,
		     "giving the region [5, 8) its frames panicked (%s): the buddy of frame 5 is "
		     "frame 4, below the region's first frame; check buddy_region_contains before "
		     "reading the buddy's frame byte",
		     res.msg);
		return;
	}
	EXPECT_COUNTS(t, d, {1, 1, 0, 0});
	EXPECT_EQ(t, buddy_frame(d, 5), BUDDY_FREE | 0);
	EXPECT_BUDDY_OK(t, c);
	EXPECT_BUDDY_OK(t, d);
}

KTEST(buddy, reserved_frames_are_never_handed_out, 2)
{
	static uint64_t frames[512];
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 0, 512);

	/* frames 100..159 hold "the kernel image": only the two runs around them are free */
	buddy_add_free_range(r, 0, 100);
	buddy_add_free_range(r, 160, 352);
	EXPECT_EQ(t, buddy_free_frames(r), 452);
	EXPECT_BUDDY_OK(t, r);
	uint64_t n = alloc_all_frames(t, r, frames, 452);
	EXPECT_EQ(t, n, 452);
	for (uint64_t i = 0; i < n; i++)
		if (frames[i] >= 100 && frames[i] < 160)
			FAIL(t, "reserved frame %lu was handed out", frames[i]);
	for (uint64_t p = 100; p < 160; p++)
		EXPECT_EQ(t, buddy_frame(r, p), BUDDY_RESERVED);
	for (uint64_t i = 0; i < n; i++)
		buddy_free(r, frames[i], 0);
	/* 0..63 | 64..95 | 96..99 || 160..191 | 192..255 | 256..511 */
	EXPECT_COUNTS(t, r, {0, 0, 1, 0, 0, 2, 2, 0, 1, 0, 0});
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, exhaustion_returns_no_frame, 2)
{
	static uint64_t frames[64];
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 64);

	EXPECT_EQ(t, buddy_alloc(r, 7), BUDDY_NO_FRAME); /* larger than the region */
	EXPECT_EQ(t, buddy_alloc(r, BUDDY_MAX_ORDER + 1), BUDDY_NO_FRAME);
	uint64_t all = buddy_alloc(r, 6);
	EXPECT_EQ(t, all, 0);
	EXPECT_EQ(t, buddy_alloc(r, 0), BUDDY_NO_FRAME); /* nothing left */
	EXPECT_BUDDY_OK(t, r);
	buddy_free(r, all, 6);

	/* fragmentation: 32 free frames, but no two of them are buddies, so no order-1 block */
	ASSERT_EQ(t, alloc_all_frames(t, r, frames, 64), 64);
	for (uint64_t p = 0; p < 64; p += 2)
		buddy_free(r, p, 0);
	EXPECT_EQ(t, buddy_free_frames(r), 32);
	EXPECT_COUNTS(t, r, {32, 0, 0, 0, 0, 0, 0});
	EXPECT_EQ(t, buddy_alloc(r, 1), BUDDY_NO_FRAME);
	EXPECT_BUDDY_OK(t, r);
}

static uint64_t frame_to_free;

/* For ktry_call: free frame_to_free of the region, as an order-0 block. */
static void free_that_frame(void *r)
{
	buddy_free(r, frame_to_free, 0);
}

KTEST(buddy, double_free_panics, 1)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 16);
	uint64_t a = buddy_alloc(r, 0), b = buddy_alloc(r, 2);

	ASSERT_NE(t, a, BUDDY_NO_FRAME);
	ASSERT_NE(t, b, BUDDY_NO_FRAME);
	buddy_free(r, b, 2);
	/* b's block is still free on its own: its first frame says BUDDY_FREE */
	EXPECT_PANIC(t, "double free", buddy_free(r, b, 2));
	buddy_free(r, a, 0);
	/* a has merged into 0..15: its frame is now inside a free block */
	EXPECT_PANIC(t, "double free", buddy_free(r, a, 0));
	EXPECT_COUNTS(t, r, {0, 0, 0, 0, 1});
	EXPECT_BUDDY_OK(t, r);

	/*
	 * Two buddies freed one after the other, in both orders, then either freed again. The
	 * second free merges them, and the block freed second goes inside the merged block: its
	 * frame byte must say so (BUDDY_INSIDE), or a second free of it looks like the free of
	 * an allocated frame.
	 *   alloc 0, alloc 1; free 0, 1 (or 1, 0): [0..15 free]; free 0 (or 1) again: panic
	 */
	struct ktry_result res;
	for (uint64_t first = 0; first < 2; first++)
		for (uint64_t again = 0; again < 2; again++) {
			test_pool_reset(t);
			r = test_region_free(t, &tr, 0, 16);
			ASSERT_EQ(t, buddy_alloc(r, 0), 0);
			ASSERT_EQ(t, buddy_alloc(r, 0), 1);
			buddy_free(r, first, 0);
			buddy_free(r, first ^ 1, 0);
			uint8_t b = buddy_frame(r, again);
			frame_to_free = again;
			if (ktry_call(free_that_frame, r, KTRY_PANIC, &res)) {
				if (!strstr(res.msg, "double free"))
					FAIL(t,
					     "frames %lu then %lu freed, freeing frame %lu again panicked, "
					     "but not with \"double free\": %s",
					     first, first ^ 1, again, res.msg);
				continue;
			}
			if (b == (BUDDY_USED | 0))
				FAIL(t,
				     "frames %lu then %lu freed, the second free of frame %lu did not "
				     "panic: frame %lu had merged into a free block, but its frame byte "
				     "still said BUDDY_USED | 0, so it looked allocated; free_block must "
				     "mark pfn BUDDY_INSIDE before it merges",
				     first, first ^ 1, again, again);
			else
				FAIL(t,
				     "frames %lu then %lu freed, the second free of frame %lu did not "
				     "panic (its frame byte was 0x%02x): buddy_free must panic with "
				     "\"double free\"",
				     first, first ^ 1, again, b);
			return;
		}

	/*
	 * A write into a free block (after a free, say) lands on its list node, and the
	 * allocator must notice when it next unlinks that node. Allocating one frame of 0..15
	 * leaves its buddy a free order-0 block; a stray write gives the buddy's node another
	 * frame number; freeing the frame merges it with its buddy, which unlinks the buddy's
	 * node: free_node must panic.
	 */
	test_pool_reset(t);
	r = test_region_free(t, &tr, 0, 16);
	frame_to_free = buddy_alloc(r, 0);
	ASSERT_LT(t, frame_to_free, 16);
	uint64_t buddy = frame_to_free ^ 1;
	ASSERT_EQ(t, buddy_frame(r, buddy), BUDDY_FREE | 0);
	tr.nodes[buddy].pfn = buddy ^ 8; /* the stray write */
	if (!ktry_call(free_that_frame, r, KTRY_PANIC, &res)) {
		if (buddy_frame(r, buddy) == (BUDDY_FREE | 0))
			FAIL(t,
			     "freeing frame %lu did not panic, and did not merge it with its buddy: "
			     "frame %lu's buddy at order 0 is %lu = %lu ^ (1 << 0), a free order-0 "
			     "block, and it still is one (its node, which a stray write had changed, "
			     "was never unlinked); free_block must look for the buddy at "
			     "pfn ^ (1 << order) and merge with it when it is a free block of that order",
			     frame_to_free, frame_to_free, buddy, frame_to_free);
		else
			FAIL(t,
			     "the node of free frame %lu said frame %lu, and freeing its buddy %lu "
			     "unlinked it without a panic: free_list_remove must get the node with "
			     "free_node, which checks it against the frame table",
			     buddy, buddy ^ 8, frame_to_free);
	} else if (!strstr(res.msg, "something wrote into a free frame"))
		FAIL(t,
		     "the node of free frame %lu said frame %lu; freeing its buddy %lu panicked, but "
		     "not with free_node's \"something wrote into a free frame\": %s",
		     buddy, buddy ^ 8, frame_to_free, res.msg);
}

KTEST(buddy, freeing_what_was_not_allocated_panics, 1)
{
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 3, 100);

	buddy_add_free_range(r, 3, 50); /* 53..102 stay reserved */
	uint64_t p = buddy_alloc(r, 3);
	ASSERT_NE(t, p, BUDDY_NO_FRAME);
	EXPECT_PANIC(t, "outside", buddy_free(r, 2, 0));
	EXPECT_PANIC(t, "outside", buddy_free(r, 103, 0));
	EXPECT_PANIC(t, "reserved", buddy_free(r, 60, 0));
	EXPECT_PANIC(t, "not its first frame", buddy_free(r, p + 1, 0));
	EXPECT_PANIC(t, "not its first frame", buddy_free(r, p + 4, 0)); /* the upper half */
	EXPECT_PANIC(t, "allocated with order 3, not order 2", buddy_free(r, p, 2));
	EXPECT_PANIC(t, "order", buddy_free(r, p, BUDDY_MAX_ORDER + 1));
	/* none of that changed anything */
	EXPECT_EQ(t, buddy_block_order(r, p), 3);
	EXPECT_EQ(t, buddy_free_frames(r), 50 - 8);
	EXPECT_BUDDY_OK(t, r);
	buddy_free(r, p, 3);
	EXPECT_EQ(t, buddy_free_frames(r), 50);
}

KTEST(buddy, adding_a_bad_free_range_panics, 1)
{
	struct test_region tr;
	struct buddy_region *r = test_region(t, &tr, 100, 100);

	EXPECT_PANIC(t, "not all in the region", buddy_add_free_range(r, 99, 10));
	EXPECT_PANIC(t, "not all in the region", buddy_add_free_range(r, 150, 51));
	buddy_add_free_range(r, 120, 30);
	EXPECT_PANIC(t, "already given", buddy_add_free_range(r, 120, 30));
	/* [100, 128) overlaps it only in 120..127, the end of its last block, 112..127: that
	 * block's first frame is still reserved, its last is not (both ends are checked) */
	EXPECT_PANIC(t, "already given", buddy_add_free_range(r, 100, 28));
	buddy_add_free_range(r, 150, 0); /* nothing to add: fine */
	EXPECT_EQ(t, buddy_free_frames(r), 30);
	EXPECT_BUDDY_OK(t, r);
}

KTEST(buddy, find_region_by_frame, 1)
{
	/* three memory-map areas, as QEMU gives them: low memory, the rest below 4 GiB, above */
	struct test_region tr[3];
	struct buddy_region regions[3];

	regions[0] = *test_region(t, &tr[0], 0, 159);
	regions[1] = *test_region(t, &tr[1], 256, 2000);
	regions[2] = *test_region(t, &tr[2], 0x100000, 1000);
	EXPECT_EQ(t, buddy_find_region(regions, 3, 0), &regions[0]);
	EXPECT_EQ(t, buddy_find_region(regions, 3, 158), &regions[0]);
	EXPECT_NULL(t, buddy_find_region(regions, 3, 159));
	EXPECT_NULL(t, buddy_find_region(regions, 3, 255));
	EXPECT_EQ(t, buddy_find_region(regions, 3, 256), &regions[1]);
	EXPECT_EQ(t, buddy_find_region(regions, 3, 2255), &regions[1]);
	EXPECT_NULL(t, buddy_find_region(regions, 3, 2256));
	EXPECT_EQ(t, buddy_find_region(regions, 3, 0x100000 + 999), &regions[2]);
	EXPECT_NULL(t, buddy_find_region(regions, 3, 0x100000 + 1000));
	EXPECT_NULL(t, buddy_find_region(regions, 0, 0));
	/* the kernel's counts over them: every frame, none free yet */
	EXPECT_EQ(t, buddy_count_frames(regions, 3), 159u + 2000u + 1000u);
	EXPECT_EQ(t, buddy_count_free(regions, 3), 0u);
}

KTEST(buddy, block_order_and_order_for, 1)
{
	struct test_region tr;
	struct buddy_region *r = test_region_free(t, &tr, 0, 64);
	uint64_t p = buddy_alloc(r, 3);

	ASSERT_NE(t, p, BUDDY_NO_FRAME);
	EXPECT_EQ(t, buddy_block_order(r, p), 3);
	EXPECT_EQ(t, buddy_block_order(r, p + 1), -1); /* inside, not the first frame */
	EXPECT_EQ(t, buddy_block_order(r, p ^ 8), -1); /* its buddy, free */
	EXPECT_EQ(t, buddy_block_order(r, 64), -1);    /* outside */
	buddy_free(r, p, 3);
	EXPECT_EQ(t, buddy_block_order(r, p), -1);
	EXPECT_EQ(t, buddy_order_for(1), 0);
	EXPECT_EQ(t, buddy_order_for(2), 1);
	EXPECT_EQ(t, buddy_order_for(3), 2);
	EXPECT_EQ(t, buddy_order_for(1024), 10);
	EXPECT_EQ(t, buddy_order_for(1025), 11);
}
