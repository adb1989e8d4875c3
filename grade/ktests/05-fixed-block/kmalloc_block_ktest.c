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

#define DRAIN_CLASS 2048 /* the class whose empty slab the drain test keeps */
#define DRAIN_WANT  2500 /* then a request above every class and every free piece */
/* Ballast blocks: above the largest class and below a page, so the heap serves them at every
 * checkpoint (from 06 on, a page or more comes from the buddy). SLACK: room for a block's
 * header and alignment inside the free piece it is cut from. The blocks are chained through
 * their first word, so there can be as many as the heap's size needs: when other tests ran
 * before this one in the same boot, the heap may already have grown to its limit. */
#define BALLAST_MIN   (BLOCK_HEAP_MAX_CLASS + 1)
#define BALLAST_MAX   (PAGE_SIZE - 128)
#define BALLAST_SLACK 64
#define BLOCK_FULL    0x5a

_Static_assert(DRAIN_WANT > BALLAST_MIN + BALLAST_SLACK && DRAIN_WANT < PAGE_SIZE,
	       "the drain test's request fits no piece the ballast leaves, and is below a page");

static void **ballast; /* the last ballast block; each one's first word: the one before */
/* Blocks of the 32-byte class: more than one slab holds. */
#define SMALL_COUNT ((int)BLOCK_HEAP_SLAB_MAX_BLOCKS / 4 + 1)
static void *small[SMALL_COUNT];
static void *drain_blocks[BLOCK_HEAP_SLAB_MAX_BLOCKS];
static int nballast;

/* Hold the heap's free pieces with ballast blocks until none is larger than keep (at least
 * BALLAST_MIN + BALLAST_SLACK). Each block fits in the largest piece, so the heap never grows. */
static bool hold_free_pieces(struct ktest *t, size_t keep)
{
	struct heap_stats s;
	int most = (int)(kheap_size() / BALLAST_MIN) + 1; /* enough to cover the whole heap */

	for (kheap_stats(&s); s.largest_free > keep; kheap_stats(&s)) {
		if (nballast == most) {
			FAIL(t,
			     "%d ballast blocks, as many as the %zu KiB heap can hold, and the heap "
			     "still has a free piece of %zu bytes",
			     nballast, kheap_size() >> 10, s.largest_free);
			return false;
		}
		void **block = kmalloc(MIN(BALLAST_MAX, s.largest_free - BALLAST_SLACK));
		if (!block) {
			FAIL(t,
			     "kmalloc of a ballast block failed with %zu bytes free in one piece",
			     s.largest_free);
			return false;
		}
		*block = ballast;
		ballast = block;
		nballast++;
	}
	return true;
}

static void free_ballast(void)
{
	while (ballast) {
		void **before = *ballast;
		kfree(ballast);
		ballast = before;
	}
	nballast = 0;
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
 * A class keeps an empty slab for its next allocations (the cap); when a request finds no
 * room, kmalloc first gives such slabs back (block_heap_drain), where they merge, and only
 * then grows the heap. The test empties a slab of the 2048-byte class (blocks until one comes
 * from a slab with no other live block, then all of them freed), holds every free piece of
 * the fallback with ballast, and asks for more than any piece and any class: only the drain
 * makes that fit without growing.
 */
KTEST(kmalloc_block, cached_blocks_are_drained_before_the_heap_grows, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	int n = 0;

	if (!require_block_heap(t, &before))
		return;
	/* Blocks of the class until one is the only live block of its slab. */
	do {
		drain_blocks[n] = kmalloc(DRAIN_CLASS);
		ASSERT_NOT_NULL(t, drain_blocks[n]);
	} while (block_heap_slab_of(drain_blocks[n++])->live != 1 &&
		 n < (int)ARRAY_SIZE(drain_blocks));
	struct block_slab *slab = block_heap_slab_of(drain_blocks[n - 1]);
	ASSERT_EQ(t, slab->live, 1);
	/* All freed: that slab is empty, and the class keeps it (or another empty one). */
	while (n > 0)
		kfree(drain_blocks[--n]);
	if (!hold_free_pieces(t, BALLAST_MIN + BALLAST_SLACK))
		goto out;
	size_t size0 = kheap_size();
	kheap_stats(&s);
	ASSERT_LT(t, s.largest_free, (size_t)DRAIN_WANT);
	void *big = kmalloc(DRAIN_WANT);
	EXPECT_FALSE(t, big && (uintptr_t)big < KHEAP_BASE); /* from the heap, not the buddy */
	if (!big || kheap_size() != size0)
		FAIL(t,
		     "kmalloc(%d) returned %p and the heap grew from %zu to %zu KiB, although the "
		     "%d-byte class kept an empty slab of %lu KiB: kmalloc should give it back "
		     "(block_heap_drain), then fit the request without growing",
		     DRAIN_WANT, big, size0 >> 10, kheap_size() >> 10, DRAIN_CLASS,
		     BLOCK_HEAP_SLAB_SIZE >> 10);
	kfree(big);
out:
	free_ballast();
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc_block, runs_on_the_block_heap, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!require_block_heap(t, &before))
		return;
	/* should be: blocks of the 32-byte class, aligned to their size, counted as 32 bytes.
	 * More than a slab holds, so that a new slab is carved on the way. */
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
