/*
 * Lab 04: kmalloc on the list heap. From checkpoint 04 on the kernel heap runs on lab 04's
 * list heap: directly at 04, and from 05 on as the block heap's fallback, which serves every
 * request above 2048 bytes. So these tests hold at every checkpoint from 04 on; they fail
 * when the kernel had to skip the list heap while booting and kmalloc fell back to bump.
 */
#include <stddef.h>
#include <stdint.h>
#include "heap.h"
#include "kheap_check.h"
#include "ktest.h"
#include "layer.h"
#include "list_heap.h"

#define BIG	       3000 /* above the block heap's largest class: the list heap serves it */
#define REUSE_ROUNDS   2000
#define MERGE_BLOCKS   10
#define MERGE_MIN      2049
#define MERGE_MAX      5000
#define MERGE_HEADROOM (_UL(64) << 10) /* free room made first, so that nothing grows */
/* The room is made of pieces below a page, which the heap serves at every checkpoint (from 06
 * on, a page or more comes from the buddy). */
#define ROOM_PIECE  (PAGE_SIZE - 128)
#define ROOM_PIECES (MERGE_HEADROOM / ROOM_PIECE + 1)

static void *room[ROOM_PIECES];

/* True if kmalloc runs on the list heap (itself, or under the block heap); else fails. */
static bool require_list_heap(struct ktest *t, struct kheap_snapshot *before)
{
	if (!kheap_require(t, before))
		return false;
	enum kheap_backend b = kheap_backend();
	if (b == KHEAP_LIST || b == KHEAP_BLOCK)
		return true;
	FAIL(t,
	     "kmalloc runs on %s: the kernel could not bring up lab 04's list heap while booting "
	     "(see what it skipped)",
	     kheap_backend_name(b));
	return false;
}

/* A big request is one allocation of the list heap: its header holds the size asked for. */
KTEST(kmalloc_list, runs_on_the_list_heap, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!require_list_heap(t, &before))
		return;
	if (layer_top()->number == 4) /* at checkpoint 04 */
		EXPECT_EQ(t, kheap_backend(), KHEAP_LIST);
	uint8_t *p = kmalloc(BIG);
	ASSERT_NOT_NULL(t, p);
	const struct list_header *hdr = (const void *)(p - LIST_HEAP_HEADER);
	/* should be: [header: size 3000 | 3000 bytes] */
	EXPECT_EQ(t, hdr->size, BIG);
	kheap_stats(&s);
	EXPECT_EQ(t, s.used_bytes, before.stats.used_bytes + BIG);
	EXPECT_EQ(t, s.overhead_bytes, before.stats.overhead_bytes + LIST_HEAP_HEADER);
	EXPECT_EQ(t, s.live_allocs, before.stats.live_allocs + 1);
	kfree(p);
	kheap_expect_no_leak(t, &before);
}

/* The case bump fails (lab 03's one_long_lived_allocation): with one block kept, the freed
 * short-lived block is reused every time and the heap does not grow. */
KTEST(kmalloc_list, reuses_memory_beside_a_long_lived_allocation, 2)
{
	struct kheap_snapshot before;

	if (!require_list_heap(t, &before))
		return;
	void *keep = kmalloc(16), *first = kmalloc(100);
	ASSERT_NOT_NULL(t, keep);
	ASSERT_NOT_NULL(t, first);
	kfree(first);
	for (int i = 0; i < REUSE_ROUNDS; i++) {
		void *p = kmalloc(100);
		if (p != first) {
			FAIL(t,
			     "kmalloc(100) number %d returned %p, not the block %p freed before it",
			     i, p, first);
			kfree(p);
			break;
		}
		kfree(p);
	}
	kfree(keep);
	kheap_expect_no_growth(t, &before, "2000 kmalloc/kfree pairs beside a live block");
	kheap_expect_no_leak(t, &before);
}

/* The pieces of the room in address order (a few dozen: insertion sort). */
static void sort_by_address(void **p, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		void *x = p[i];
		size_t j = i;
		for (; j > 0 && (uintptr_t)p[j - 1] > (uintptr_t)x; j--)
			p[j] = p[j - 1];
		p[j] = x;
	}
}

/* True if the list heap's block for piece b starts where piece a's block ends. */
static bool side_by_side(const void *a, const void *b)
{
	return (uintptr_t)b - LIST_HEAP_HEADER == (uintptr_t)a + ROOM_PIECE;
}

/*
 * Free the pieces of the room one by one, upward (the region before each is the piece freed
 * just before it) or downward (the region after it). Each free of a piece beside the one freed
 * before must merge with it: the free list must not get longer. False if one did not merge.
 */
static bool free_room_merging(struct ktest *t, bool upward, int *pairs)
{
	struct heap_stats s;

	sort_by_address(room, ROOM_PIECES);
	kheap_stats(&s);
	for (size_t k = 0; k < ROOM_PIECES; k++) {
		size_t i = upward ? k : ROOM_PIECES - 1 - k;
		size_t regions = s.free_regions;
		bool beside = k > 0 && (upward ? side_by_side(room[i - 1], room[i])
					       : side_by_side(room[i], room[i + 1]));
		kfree(room[i]);
		kheap_stats(&s);
		if (!beside)
			continue;
		++*pairs;
		if (s.free_regions > regions) {
			FAIL(t,
			     "kfree(%p), a block of %lu bytes, made the free list longer (%zu "
			     "regions, then %zu): the region %s it, which holds the block at %p "
			     "freed just before, %s where this block %s: free must merge with it too",
			     room[i], ROOM_PIECE, regions, s.free_regions,
			     upward ? "before" : "after", upward ? room[i - 1] : room[i + 1],
			     upward ? "ends" : "starts", upward ? "starts" : "ends");
			for (size_t j = k + 1; j < ROOM_PIECES; j++)
				kfree(room[upward ? j : ROOM_PIECES - 1 - j]);
			return false;
		}
	}
	return true;
}

/*
 * Blocks freed merge with the free memory on both sides, checked against what a correct heap
 * does, not against what this one did before: room is made of pieces that lie side by side,
 * freed upward (each must merge with the region before it) and, allocated again, downward
 * (with the region after it). Then blocks freed in a random order merge back: the free memory
 * is in the same pieces as before them. Requests above 2048 bytes, so that the list heap
 * serves them rather than lab 05's classes; from checkpoint 06 on, those of a page or more
 * come from the buddy, and the blocks below a page are the ones that test the merging.
 */
KTEST(kmalloc_list, freed_blocks_merge_back, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	void *p[MERGE_BLOCKS];
	size_t size[MERGE_BLOCKS];
	int pairs = 0;

	if (!require_list_heap(t, &before))
		return;
	/* Room first (the heap may grow here, and the block heap give its empty slabs back),
	 * so that the blocks below need neither: the free pieces must change only by them. */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ROOM_PIECES; i++) {
			room[i] = kmalloc(ROOM_PIECE);
			ASSERT_NOT_NULL(t, room[i]);
		}
		if (!free_room_merging(t, round == 0, &pairs))
			return;
	}
	if (pairs == 0) {
		FAIL(t,
		     "no two of the %lu blocks of %lu bytes allocated one after the other lay side "
		     "by side (each block's header right after the one before), so nothing could "
		     "be checked: first fit carves a request from the start of the first region "
		     "that fits",
		     ROOM_PIECES, ROOM_PIECE);
		return;
	}
	struct heap_stats start;
	kheap_stats(&start);
	for (int i = 0; i < MERGE_BLOCKS; i++) {
		size[i] = ktest_random_range(t, MERGE_MIN, MERGE_MAX);
		p[i] = kmalloc(size[i]);
		ASSERT_NOT_NULL(t, p[i]);
	}
	for (int n = MERGE_BLOCKS; n > 0; n--) { /* in a random order */
		int i = (int)ktest_random_range(t, 0, (uint64_t)n - 1);
		kfree(p[i]);
		p[i] = p[n - 1];
	}
	kheap_stats(&s);
	/* should be: the free pieces exactly as before the blocks were allocated */
	if (s.free_regions != start.free_regions || s.largest_free != start.largest_free ||
	    s.free_bytes != start.free_bytes)
		FAIL(t,
		     "after %d blocks of %d-%d bytes were freed (seed %lu), the free memory is "
		     "%zu bytes in %zu pieces, largest %zu; before them it was %zu bytes in %zu "
		     "pieces, largest %zu: not merged back",
		     MERGE_BLOCKS, MERGE_MIN, MERGE_MAX, ktest_seed(), s.free_bytes, s.free_regions,
		     s.largest_free, start.free_bytes, start.free_regions, start.largest_free);
	kheap_expect_no_leak(t, &before);
}
