/*
 * Lab 05: kmalloc on the block heap. From checkpoint 05 on the kernel heap runs on lab 05's
 * block heap; these tests fail when the kernel had to skip it while booting and kmalloc fell
 * back to the list heap (or below).
 */
#include <stddef.h>
#include <stdint.h>
#include "block_heap.h"
#include "heap.h"
#include "kheap_check.h"
#include "ktest.h"

#define DRAIN_CLASS  1024 /* the class filled and freed in cached_blocks_are_drained... */
#define DRAIN_BLOCKS 512
#define DRAIN_EXTRA  4096 /* a request this much bigger than the largest free piece */
#define BLOCK_FULL   0x5a

static void *blocks[DRAIN_BLOCKS];

static bool require_block_heap(struct ktest *t, struct kheap_snapshot *before)
{
	if (!kheap_require(t, before))
		return false;
	if (kheap_backend() == KHEAP_BLOCK)
		return true;
	FAIL(t,
	     "kmalloc runs on %s: the kernel could not bring up lab 05's block heap while "
	     "booting (see what it skipped)",
	     kheap_backend_name(kheap_backend()));
	return false;
}

/*
 * The block heap lends the fallback's memory to its class lists: when a request finds no
 * room, kmalloc first gives the cached blocks back (block_heap_drain), where they merge, and
 * only then grows the heap. First in the file, while the heap is small.
 */
KTEST(kmalloc_block, cached_blocks_are_drained_before_the_heap_grows, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	size_t size0;
	int n = 0;

	if (!require_block_heap(t, &before))
		return;
	/* Blocks of one class until the heap has to grow for one: the fallback is full. */
	size0 = kheap_size();
	while (n < DRAIN_BLOCKS && kheap_size() == size0) {
		blocks[n] = kmalloc(DRAIN_CLASS);
		ASSERT_NOT_NULL(t, blocks[n]);
		n++;
	}
	ASSERT_GT(t, kheap_size(), size0);
	/* All back to their class's list (the cap is more than n): the memory stays cached. */
	for (int i = 0; i < n; i++)
		kfree(blocks[i]);
	size_t grown = kheap_size();
	kheap_stats(&s);
	/* More than the largest free piece: it fits only once the cached blocks merge again. */
	size_t want = s.largest_free + DRAIN_EXTRA;
	void *big = kmalloc(want);
	ASSERT_NOT_NULL(t, big);
	if (kheap_size() != grown)
		FAIL(t,
		     "kmalloc(%zu) made the heap grow from %zu to %zu KiB, although %d freed "
		     "blocks of %d bytes were cached on their class list: it should give them back "
		     "(block_heap_drain) before growing",
		     want, grown >> 10, kheap_size() >> 10, n, DRAIN_CLASS);
	kfree(big);
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc_block, runs_on_the_block_heap, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!require_block_heap(t, &before))
		return;
	/* should be: a block of the 32-byte class, aligned to its size, counted as 32 bytes */
	void *p = kmalloc(24);
	ASSERT_NOT_NULL(t, p);
	EXPECT_EQ(t, (uintptr_t)p % 32, 0);
	kheap_stats(&s);
	EXPECT_EQ(t, s.used_bytes, before.stats.used_bytes + 32);
	EXPECT_EQ(t, s.live_allocs, before.stats.live_allocs + 1);
	kfree(p);
	kheap_expect_no_leak(t, &before);
}

/* Each class: kmalloc of the class size gets a block aligned to it; freed, it is the next
 * block of its class (the last freed is the first reused). */
KTEST(kmalloc_block, small_requests_use_their_class, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!require_block_heap(t, &before))
		return;
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		size_t size = block_heap_class_size(c);
		uint8_t *p = kmalloc(size);
		ASSERT_NOT_NULL(t, p);
		kheap_stats(&s);
		if ((uintptr_t)p % size || s.used_bytes != before.stats.used_bytes + size)
			FAIL(t,
			     "kmalloc(%zu) returned %p and used grew by %zu: expected a block of "
			     "the %zu-byte class, aligned to its size",
			     size, p, s.used_bytes - before.stats.used_bytes, size);
		memset(p, BLOCK_FULL, size);
		kfree(p);
		/* a smaller request of the same class: the block just freed */
		void *again = kmalloc(size / 2 + 1);
		EXPECT_EQ(t, again, (void *)p);
		kfree(again);
	}
	kheap_expect_no_leak(t, &before);
}
