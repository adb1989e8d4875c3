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

#define DRAIN_CLASS  1024	      /* the class filled and freed in the drain test */
#define DRAIN_BLOCKS 200	      /* at most, fewer than the cap: all stay cached */
#define DRAIN_EXTRA  1024	      /* a request this much bigger than the largest free piece */
#define DRAIN_KEEP   (_UL(256) << 10) /* free room left beside the ballast before the fill */
/* Ballast blocks: above the largest class and below a page, so the heap serves them at every
 * checkpoint (from 06 on, a page or more comes from the buddy). SLACK: room for a block's
 * header and alignment inside the free piece it is cut from. */
#define BALLAST_MIN   (BLOCK_HEAP_MAX_CLASS + 1)
#define BALLAST_MAX   (PAGE_SIZE - 128)
#define BALLAST_SLACK 64
#define BALLAST_COUNT 512
#define BLOCK_FULL    0x5a

static void *blocks[DRAIN_BLOCKS];
static void *ballast[BALLAST_COUNT];
#define SMALL_COUNT (BLOCK_HEAP_DEFAULT_CAP + 1)
static void *small[SMALL_COUNT];
static int nballast;

/* Hold the heap's free pieces with ballast blocks until none is larger than keep (at least
 * BALLAST_MIN + BALLAST_SLACK). Each block fits in the largest piece, so the heap never grows. */
static bool hold_free_pieces(struct ktest *t, size_t keep)
{
	struct heap_stats s;

	for (kheap_stats(&s); s.largest_free > keep; kheap_stats(&s)) {
		if (nballast == BALLAST_COUNT) {
			FAIL(t,
			     "%d ballast blocks and the heap still has a free piece of %zu bytes",
			     nballast, s.largest_free);
			return false;
		}
		ballast[nballast] = kmalloc(MIN(BALLAST_MAX, s.largest_free - BALLAST_SLACK));
		if (!ballast[nballast]) {
			FAIL(t,
			     "kmalloc of a ballast block failed with %zu bytes free in one piece",
			     s.largest_free);
			return false;
		}
		nballast++;
	}
	return true;
}

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
 * only then grows the heap. The test fills the fallback with blocks of one class until the
 * heap must grow for one (or is at its limit), holds what is left of the fallback's free
 * pieces with ballast, frees the class blocks onto their list, and asks for more than the
 * largest free piece, below a page: only the drain makes that fit without growing.
 */
KTEST(kmalloc_block, cached_blocks_are_drained_before_the_heap_grows, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	int n = 0;

	if (!require_block_heap(t, &before))
		return;
	/* If earlier tests grew the heap, hold its big free pieces, so that a few hundred class
	 * blocks fill what is left. */
	nballast = 0;
	if (!hold_free_pieces(t, DRAIN_KEEP))
		goto out;
	/* Blocks of one class until the fallback has no room for another. */
	size_t size0 = kheap_size();
	while (n < DRAIN_BLOCKS && kheap_size() == size0 && (blocks[n] = kmalloc(DRAIN_CLASS)))
		n++;
	if (n == DRAIN_BLOCKS)
		FAIL(t, "%d blocks of %d bytes and the heap still had room", n, DRAIN_CLASS);
	/* What the growth added, held too: the request below must stay under a page. */
	bool held = hold_free_pieces(t, BALLAST_MIN + BALLAST_SLACK);
	/* All onto their class's list (n is below the cap): the memory stays cached. */
	for (int i = 0; i < n; i++)
		kfree(blocks[i]);
	if (!held)
		goto out;
	size_t grown = kheap_size();
	kheap_stats(&s);
	/* More than the largest free piece: it fits only once the cached blocks merge again. */
	size_t want = s.largest_free + DRAIN_EXTRA;
	ASSERT_LT(t, want, PAGE_SIZE);
	void *big = kmalloc(want);
	EXPECT_FALSE(t, big && (uintptr_t)big < KHEAP_BASE); /* from the heap, not the buddy */
	if (!big || kheap_size() != grown)
		FAIL(t,
		     "kmalloc(%zu) returned %p and the heap grew from %zu to %zu KiB, although %d "
		     "freed blocks of %d bytes were cached on their class list: kmalloc should "
		     "give them back (block_heap_drain), then fit the request without growing",
		     want, big, grown >> 10, kheap_size() >> 10, n, DRAIN_CLASS);
	kfree(big);
out:
	while (nballast > 0)
		kfree(ballast[--nballast]);
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc_block, runs_on_the_block_heap, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!require_block_heap(t, &before))
		return;
	/* should be: blocks of the 32-byte class, aligned to their size, counted as 32 bytes.
	 * One more than the class list can cache, so that some come new from the fallback. */
	int n = 0;
	while (n < SMALL_COUNT && (small[n] = kmalloc(24)) && (uintptr_t)small[n] % 32 == 0)
		n++;
	if (n < SMALL_COUNT)
		FAIL(t,
		     "kmalloc(24) number %d returned %p: expected a block of the 32-byte class, "
		     "aligned to 32",
		     n + 1, small[n]);
	else {
		kheap_stats(&s);
		EXPECT_EQ(t, s.used_bytes, before.stats.used_bytes + 32 * SMALL_COUNT);
		EXPECT_EQ(t, s.live_allocs, before.stats.live_allocs + SMALL_COUNT);
	}
	if (n < SMALL_COUNT && small[n])
		n++; /* the misaligned block is freed too */
	while (n > 0)
		kfree(small[--n]);
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
