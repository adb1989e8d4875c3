/*
 * Private buddy regions for the lab 06 tests, the same in the kernel and on the host: the
 * frame table and the free-list nodes come from a static pool instead of real frames, so a
 * test can put a region at any frame numbers (frame 3, 16 GiB...) without owning that memory.
 * Each frame has a node slot in the pool, and frame_ptr counts how often the allocator asks
 * for one: the work it does on its lists.
 */
#pragma once

#include <stdint.h>
#include "buddy.h"
#include "ktest.h"

/* Frames all the regions of one test may have together. */
#define TEST_POOL_FRAMES 4096

struct test_region {
	struct buddy_region r;
	struct buddy_node *nodes; /* the node slot of frame base_pfn + i is nodes[i] */
	uint64_t base_pfn, nframes;
	uint64_t node_lookups; /* calls of frame_ptr so far */
};

/* Suite hook: give the pool back before each test. */
void test_pool_reset(struct ktest *t);

/*
 * Initialize tr->r over the frames [base_pfn, base_pfn + nframes), all reserved, with storage
 * from the pool filled with junk first, and tr->r itself too (so nothing can rely on zeroed
 * memory or on fields left from an earlier region). Ends the test if the pool is too small.
 * Returns &tr->r.
 */
struct buddy_region *test_region(struct ktest *t, struct test_region *tr, uint64_t base_pfn,
				 uint64_t nframes);

/* The same, then every frame given to the allocator: one free range. */
struct buddy_region *test_region_free(struct ktest *t, struct test_region *tr, uint64_t base_pfn,
				      uint64_t nframes);

/* Copy the free counts of every order into counts. */
void test_counts(const struct buddy_region *r, uint64_t counts[BUDDY_ORDERS]);

/* Record a failure naming each order whose free count differs from expected[]. */
#define EXPECT_COUNTS(t, r, ...)                                         \
	do {                                                             \
		const uint64_t expected_[BUDDY_ORDERS] = __VA_ARGS__;    \
		test_expect_counts(t, __FILE__, __LINE__, r, expected_); \
	} while (0)
void test_expect_counts(struct ktest *t, const char *file, int line, const struct buddy_region *r,
			const uint64_t expected[BUDDY_ORDERS]);
