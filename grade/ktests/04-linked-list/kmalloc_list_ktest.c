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

/* Blocks freed in any order merge back: afterwards the free memory is in the same pieces as
 * before. Requests above 2048 bytes, so that the list heap serves them rather than lab 05's
 * classes; from checkpoint 06 on, those of a page or more (and the room) come from the buddy,
 * and the blocks below a page are the ones that test the merging. */
KTEST(kmalloc_list, freed_blocks_merge_back, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	void *p[MERGE_BLOCKS];
	size_t size[MERGE_BLOCKS];

	if (!require_list_heap(t, &before))
		return;
	/* Room first (the heap may grow here, and the block heap give its empty slabs back),
	 * so that the blocks below need neither: the free pieces must change only by them. */
	for (size_t i = 0; i < ROOM_PIECES; i++) {
		room[i] = kmalloc(ROOM_PIECE);
		ASSERT_NOT_NULL(t, room[i]);
	}
	for (size_t i = 0; i < ROOM_PIECES; i++)
		kfree(room[i]);
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
