/*
 * Lab 03: kmalloc, kfree, kcalloc and krealloc in the kernel (kernel/layers/03-bump/heap.c), over the heap
 * the kernel brought up. These tests run at every checkpoint from 03 on, where kmalloc runs on
 * the most advanced allocator that works (bump at 03, the list heap at 04, the block heap
 * from 05 on), so they check what kmalloc promises whatever runs it; only the first test asks
 * which allocator that is, and only at checkpoint 03. Every test checks for leaks by counting
 * (kheap_check.h).
 */
#include <stddef.h>
#include <stdint.h>
#include "heap.h"
#include "heap_check.h"
#include "kheap_check.h"
#include "kprintf.h"
#include "ktest.h"
#include "layer.h"
#include "memlayout.h"
#include "paging.h"

#define SHORT_LIVED_ROUNDS 10000 /* of 100 bytes: about 1 MB through a 64 KiB heap */
#define SHORT_LIVED_SIZE   100
#define LONG_LIVED_SIZE	   16
#define LONG_LIVED_ROUNDS  2000
#define MANY_BLOCKS	   256 /* of BLOCK_BYTES: 250 KB, four times the first heap */
#define BLOCK_BYTES	   1000
#define ARRAY_LEN	   5000
#define APPENDS		   300
#define FRAMES_LEFT	   4 /* what out_of_frames leaves the kernel */
#define MAX_CHUNK	   (_UL(1) << 20)

static struct heap_model model;
static void *blocks[MANY_BLOCKS];
static char expected[APPENDS * 12];

/* The name of the free function of the allocator kmalloc runs on: its panics start with it. */
static const char *backend_free_name(void)
{
	switch (kheap_backend()) {
	case KHEAP_BUMP:
		return "bump_free";
	case KHEAP_LIST:
		return "list_heap_free";
	case KHEAP_BLOCK:
		return "block_heap_free";
	case KHEAP_NONE:
		break;
	}
	return "(no heap)";
}

/*
 * At checkpoint 03 kmalloc runs on lab 03's bump allocator: two requests in a row are next
 * to each other, the second at the first multiple of 8 after the first, and the stats count
 * exactly the sizes and the padding. Above 03 a later lab's allocator runs kmalloc when it
 * works; lab 03 then asks only that kmalloc has a heap (its own allocator is checked by the
 * bump suite, on private arenas).
 */
KTEST(kmalloc, runs_on_bump_at_checkpoint_03, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!kheap_require(t, &before))
		return;
	if (layer_top()->number == 3 && kheap_backend() != KHEAP_BUMP) {
		FAIL(t, "kmalloc runs on %s at checkpoint 03, not the bump allocator",
		     kheap_backend_name(kheap_backend()));
		return;
	}
	uint8_t *a = kmalloc(10), *b = kmalloc(10);
	ASSERT_NOT_NULL(t, a);
	ASSERT_NOT_NULL(t, b);
	EXPECT_TRUE(t, kheap_contains(a, 10) && kheap_contains(b, 10));
	kheap_stats(&s);
	EXPECT_EQ(t, s.live_allocs, before.stats.live_allocs + 2);
	if (kheap_backend() == KHEAP_BUMP) {
		/* should be: [a: 10 | 6 padding | b: 10 | free ... */
		EXPECT_EQ(t, b, a + 16);
		EXPECT_EQ(t, s.used_bytes, before.stats.used_bytes + 20);
		EXPECT_EQ(t, s.overhead_bytes, before.stats.overhead_bytes + 6);
	}
	kfree(a);
	kfree(b);
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc, zero_size_null_and_bad_alignment, 1)
{
	struct kheap_snapshot before;

	if (!kheap_require(t, &before))
		return;
	EXPECT_NULL(t, kmalloc(0));
	EXPECT_NULL(t, kmalloc_aligned(0, 64));
	kfree(NULL);
	EXPECT_PANIC(t, "kmalloc_aligned", kmalloc_aligned(8, 3));
	EXPECT_PANIC(t, "kmalloc_aligned", kmalloc_aligned(8, 0));
	EXPECT_PANIC(t, "kmalloc_aligned", kmalloc_aligned(8, 2 * PAGE_SIZE));
	kheap_expect_no_leak(t, &before);
	kheap_expect_no_growth(t, &before, "kmalloc(0)");
}

KTEST(kmalloc, aligned_from_1_to_4096_inside_the_heap, 2)
{
	struct kheap_snapshot before;
	void *p[13];
	int n = 0;

	if (!kheap_require(t, &before))
		return;
	for (size_t align = 1; align <= HEAP_MAX_ALIGN; align *= 2, n++) {
		p[n] = kmalloc_aligned(24, align);
		if (!p[n] || (uintptr_t)p[n] % align || !kheap_contains(p[n], 24))
			FAIL(t,
			     "kmalloc_aligned(24, %zu) returned %p: not a multiple of %zu inside "
			     "the heap [0x%lx, +%zu)",
			     align, p[n], align, KHEAP_BASE, kheap_size());
	}
	void *q = kmalloc(1);
	EXPECT_EQ(t, (uintptr_t)q % KMALLOC_ALIGN, 0);
	kfree(q);
	while (n > 0)
		kfree(p[--n]);
	kheap_expect_no_leak(t, &before);
}

/* kmalloc through the invariant checker of labs 03-05: no overlap, aligned, inside the heap's
 * range, contents kept, stats adding up; the heap grows whenever it must. */
static void *kmalloc_ops_alloc(void *h, size_t size, size_t align)
{
	return kmalloc_aligned(size, align);
}

static void kmalloc_ops_free(void *h, void *p)
{
	kfree(p);
}

static void kmalloc_ops_stats(const void *h, struct heap_stats *s)
{
	kheap_stats(s);
}

/* The heap can grow, so a request of a page or less must never fail. */
static bool kmalloc_ops_must_fit(const struct heap_model *m, const struct heap_stats *s,
				 size_t size, size_t align)
{
	return size <= PAGE_SIZE;
}

static const struct heap_ops kmalloc_ops = {
	.name = "kmalloc",
	.alloc = kmalloc_ops_alloc,
	.free = kmalloc_ops_free,
	.stats = kmalloc_ops_stats,
	.must_fit = kmalloc_ops_must_fit,
};

KTEST(kmalloc, random_sequence, 3)
{
	struct kheap_snapshot before;
	/* Requests the heap serves itself: from checkpoint 06 on a page or more comes as whole
	 * pages from the buddy, outside the heap's range (lab 06 tests those). */
	const struct heap_workload w = {.steps = 2000, .max_size = PAGE_SIZE - 1, .max_align = 256};

	if (!kheap_require(t, &before))
		return;
	ASSERT_EQ(t, before.stats.live_allocs, 0); /* the model counts every live block */
	heap_model_init(&model, &kmalloc_ops, NULL, (void *)KHEAP_BASE, KHEAP_MAX);
	heap_random_run(t, &model, &w);
	heap_model_free_all(t, &model);
	EXPECT_GT(t, model.allocs, w.steps / 4);
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc, kcalloc_clears_and_refuses_overflow, 1)
{
	struct kheap_snapshot before;

	if (!kheap_require(t, &before))
		return;
	/* Dirty memory first, so that a kcalloc that forgets to clear is caught. */
	uint8_t *dirty = kmalloc(256);
	ASSERT_NOT_NULL(t, dirty);
	memset(dirty, 0xa5, 256);
	kfree(dirty);
	uint64_t *z = kcalloc(32, sizeof(uint64_t));
	ASSERT_NOT_NULL(t, z);
	for (int i = 0; i < 32; i++) {
		if (z[i]) {
			FAIL(t, "kcalloc(32, 8): word %d is 0x%lx, not 0", i, z[i]);
			break;
		}
	}
	kfree(z);
	/* n * size wraps around to 64: without the check this would be a 64-byte block */
	EXPECT_NULL(t, kcalloc((_UL(1) << 60) + 4, 16));
	EXPECT_NULL(t, kcalloc(SIZE_MAX, 2));
	EXPECT_NULL(t, kcalloc(0, 16));
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc, krealloc_null_zero_and_failure, 1)
{
	struct kheap_snapshot before;
	struct heap_stats s;
	int local;

	if (!kheap_require(t, &before))
		return;
	/* krealloc(NULL, n) is kmalloc(n) */
	char *p = krealloc(NULL, 40);
	ASSERT_NOT_NULL(t, p);
	memset(p, 'x', 40);
	kheap_stats(&s);
	EXPECT_EQ(t, s.live_allocs, before.stats.live_allocs + 1);
	/* a failed krealloc leaves the block as it was */
	EXPECT_NULL(t, krealloc(p, KHEAP_MAX));
	for (int i = 0; i < 40; i++) {
		if (p[i] != 'x') {
			FAIL(t, "after a krealloc that failed, byte %d of the block is 0x%02x", i,
			     (uint8_t)p[i]);
			break;
		}
	}
	/* krealloc(p, 0) frees p */
	EXPECT_NULL(t, krealloc(p, 0));
	EXPECT_NULL(t, krealloc(NULL, 0));
	EXPECT_PANIC(t, "krealloc", krealloc(&local, 8));
	kheap_expect_no_leak(t, &before);
}

/* The blog series' classic: an array that grows by krealloc, doubling its room when full. */
KTEST(kmalloc, krealloc_grows_an_array, 2)
{
	struct kheap_snapshot before;
	uint32_t *array = NULL;
	size_t room = 0;

	if (!kheap_require(t, &before))
		return;
	for (uint32_t n = 0; n < ARRAY_LEN; n++) {
		if (n == room) {
			room = room ? 2 * room : 1;
			uint32_t *bigger = krealloc(array, room * sizeof(uint32_t));
			if (!bigger) {
				FAIL(t, "krealloc to %zu elements returned NULL", room);
				kfree(array);
				return;
			}
			array = bigger;
			/* should be: 0, 1, ..., n - 1 copied over */
			for (uint32_t i = 0; i < n; i++) {
				if (array[i] != i) {
					FAIL(t,
					     "after krealloc to %zu elements, element %u is %u: the "
					     "old contents were not copied",
					     room, i, array[i]);
					kfree(array);
					return;
				}
			}
		}
		array[n] = n;
	}
	kfree(array);
	kheap_expect_no_leak(t, &before);
}

/* The other classic: a string built by appending, one krealloc per piece. */
KTEST(kmalloc, string_built_by_appending, 2)
{
	struct kheap_snapshot before;
	size_t len = 0, want = 0;
	char *s = NULL;

	if (!kheap_require(t, &before))
		return;
	expected[0] = '\0';
	for (int i = 0; i < APPENDS; i++) {
		char piece[16];
		size_t add = (size_t)ksnprintf(piece, sizeof(piece), "%s%d", i ? "," : "", i);
		char *longer = krealloc(s, len + add + 1);
		if (!longer) {
			FAIL(t, "krealloc to %zu bytes returned NULL", len + add + 1);
			break;
		}
		s = longer;
		memcpy(s + len, piece, add + 1);
		len += add;
		want += (size_t)ksnprintf(expected + want, sizeof(expected) - want, "%s", piece);
	}
	if (s && strcmp(s, expected))
		FAIL(t, "the string is \"%.40s...\" (%zu bytes), expected \"%.40s...\" (%zu)", s,
		     strlen(s), expected, want);
	kfree(s);
	kheap_expect_no_leak(t, &before);
}

/* Many short-lived allocations, far more than the heap holds: each is freed before the
 * next, so every allocator serves them from the memory it has (bump: it empties each time). */
KTEST(kmalloc, short_lived_allocations_do_not_grow_the_heap, 2)
{
	struct kheap_snapshot before;

	if (!kheap_require(t, &before))
		return;
	for (int i = 0; i < SHORT_LIVED_ROUNDS; i++) {
		uint8_t *p = kmalloc(SHORT_LIVED_SIZE);
		if (!p) {
			FAIL(t, "kmalloc(%d) number %d returned NULL", SHORT_LIVED_SIZE, i);
			break;
		}
		p[0] = p[SHORT_LIVED_SIZE - 1] = (uint8_t)i;
		kfree(p);
	}
	kheap_expect_no_growth(t, &before, "10000 kmalloc/kfree pairs of 100 bytes");
	kheap_expect_no_leak(t, &before);
}

/*
 * The same while one allocation lives on. Bump frees nothing until the count drops to zero,
 * so every short-lived block takes new memory and the heap grows by the sum of them all (2000
 * x 100 bytes); the allocators of labs 04 and 05 reuse the block and do not grow. After the
 * long-lived block goes, bump is empty again, but the heap keeps the pages it grew by.
 */
KTEST(kmalloc, one_long_lived_allocation, 2)
{
	struct kheap_snapshot before;
	struct heap_stats s;

	if (!kheap_require(t, &before))
		return;
	ASSERT_EQ(t, before.stats.live_allocs, 0);
	void *keep = kmalloc(LONG_LIVED_SIZE);
	ASSERT_NOT_NULL(t, keep);
	for (int i = 0; i < LONG_LIVED_ROUNDS; i++) {
		void *p = kmalloc(SHORT_LIVED_SIZE);
		if (!p) {
			FAIL(t, "kmalloc(%d) number %d returned NULL", SHORT_LIVED_SIZE, i);
			break;
		}
		kfree(p);
	}
	kheap_stats(&s);
	if (kheap_backend() == KHEAP_BUMP) {
		size_t all = LONG_LIVED_SIZE + LONG_LIVED_ROUNDS * SHORT_LIVED_SIZE;
		EXPECT_EQ(t, s.used_bytes, all);
		EXPECT_GE(t, kheap_size(), all);
	} else {
		kheap_expect_no_growth(t, &before, "2000 short-lived kmallocs beside a live one");
	}
	kfree(keep);
	kheap_expect_no_leak(t, &before);
}

/* Fill blocks[0..n) with n blocks of BLOCK_BYTES, each holding its own number; false if one
 * could not be had. */
static bool fill_blocks(struct ktest *t, int n)
{
	for (int i = 0; i < n; i++) {
		blocks[i] = kmalloc(BLOCK_BYTES);
		if (!blocks[i]) {
			FAIL(t, "kmalloc(%d) number %d returned NULL (heap %zu KiB)", BLOCK_BYTES,
			     i, kheap_size() >> 10);
			while (i > 0)
				kfree(blocks[--i]);
			return false;
		}
		memset(blocks[i], i & 0xff, BLOCK_BYTES);
	}
	return true;
}

/* Check and free blocks[0..n). */
static void check_and_free_blocks(struct ktest *t, int n)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *b = blocks[i];
		for (int k = 0; k < BLOCK_BYTES; k++) {
			if (b[k] != (i & 0xff)) {
				FAIL(t, "block %d at %p: byte %d is 0x%02x, not 0x%02x", i, b, k,
				     b[k], i & 0xff);
				break;
			}
		}
	}
	for (int i = 0; i < n; i++)
		kfree(blocks[i]);
}

KTEST(kmalloc, grows_past_its_first_64_KiB_and_reuses_it, 2)
{
	struct kheap_snapshot before, grown;

	if (!kheap_require(t, &before))
		return;
	if (!fill_blocks(t, MANY_BLOCKS))
		return;
	/* 250 KB live: the heap must have grown past its first 64 KiB */
	EXPECT_GT(t, kheap_size(), MANY_BLOCKS * BLOCK_BYTES);
	check_and_free_blocks(t, MANY_BLOCKS);
	kheap_expect_no_leak(t, &before);

	/* the same again fits in the pages the heap has now */
	kheap_snapshot(&grown);
	if (!fill_blocks(t, MANY_BLOCKS))
		return;
	check_and_free_blocks(t, MANY_BLOCKS);
	kheap_expect_no_growth(t, &grown, "the same 256 blocks, a second time");
	kheap_expect_no_leak(t, &before);
}

KTEST(kmalloc, kfree_misuse_panics, 1)
{
	struct kheap_snapshot before;
	int local;

	if (!kheap_require(t, &before))
		return;
	ASSERT_EQ(t, before.stats.live_allocs, 0);
	EXPECT_PANIC(t, "kfree", kfree(&local));
	EXPECT_PANIC(t, "kfree", kfree((void *)(KHEAP_BASE + KHEAP_MAX - 64))); /* not mapped */
	/* a double free, with nothing else live: every allocator catches that one */
	void *p = kmalloc(32);
	ASSERT_NOT_NULL(t, p);
	kfree(p);
	EXPECT_PANIC(t, backend_free_name(), kfree(p));
	if (kheap_backend() != KHEAP_BUMP) { /* bump cannot tell (bump.h) */
		uint8_t *q = kmalloc(64);
		ASSERT_NOT_NULL(t, q);
		EXPECT_PANIC(t, backend_free_name(), kfree(q + 8));
		kfree(q);
	}
	kheap_expect_no_leak(t, &before);
}

/* Frame n of a chain threaded through the frames themselves (their first word). */
static phys_addr_t *frame_link(phys_addr_t frame)
{
	return phys_to_virt(frame);
}

/* When the kernel has no frame left for the heap, kmalloc returns NULL and the heap gives
 * back the frames of the growth it had begun. */
KTEST(kmalloc, out_of_frames_returns_null, 2)
{
	struct kheap_snapshot before, starved;
	phys_addr_t taken = 0, f;
	uint64_t ntaken = 0;

	if (!kheap_require(t, &before))
		return;
	/* Take every frame but FRAMES_LEFT, chained through their first words. */
	while (kframes_free() > FRAMES_LEFT && (f = kframe_alloc()) != 0) {
		*frame_link(f) = taken;
		taken = f;
		ntaken++;
	}
	kheap_snapshot(&starved);
	/* more than the whole heap: it must grow, by more pages than there are frames */
	size_t want = starved.size + KHEAP_GROW_MIN;
	void *p = kmalloc(want);
	struct kheap_snapshot after;
	kheap_snapshot(&after);
	while (taken) {
		f = taken;
		taken = *frame_link(f);
		kframe_free(f);
	}
	if (p) {
		FAIL(t, "kmalloc(%zu) with %lu frames left returned %p", want, starved.frames, p);
		kfree(p);
		return;
	}
	/* should be: nothing changed (the frames of the growth begun were given back) */
	EXPECT_EQ(t, after.frames, starved.frames);
	EXPECT_EQ(t, after.size, starved.size);
	EXPECT_EQ(t, after.stats.total_bytes, starved.stats.total_bytes);
	EXPECT_EQ(t, after.stats.used_bytes, starved.stats.used_bytes);
	EXPECT_EQ(t, after.stats.live_allocs, starved.stats.live_allocs);
	/* with its frames back, the same request succeeds */
	p = kmalloc(want);
	EXPECT_NOT_NULL(t, p);
	kfree(p);
	kheap_expect_no_leak(t, &before);
}

/* A chunk the heap itself serves at every checkpoint: from checkpoint 06 on, a request of a
 * page or more comes as whole pages from the buddy instead (kernel/heap.h). */
#define HEAP_CHUNK (PAGE_SIZE - 128)

/* The heap grows up to KHEAP_MAX and no further: then kmalloc returns NULL. Last in the file:
 * it leaves the heap at its largest. */
KTEST(kmalloc, stops_at_KHEAP_MAX_with_null, 2)
{
	struct kheap_snapshot before;
	static void *chunk[KHEAP_MAX / HEAP_CHUNK];
	size_t n = 0;

	if (!kheap_require(t, &before))
		return;
	EXPECT_NULL(t, kmalloc(KHEAP_MAX));
	kheap_expect_no_growth(t, &before, "kmalloc(KHEAP_MAX)");
	while (n < ARRAY_SIZE(chunk) && (chunk[n] = kmalloc(HEAP_CHUNK)) != NULL) {
		*(uint64_t *)chunk[n] = n;
		n++;
	}
	/* should be: the heap at (nearly) its limit, too full for one more chunk */
	EXPECT_LE(t, kheap_size(), KHEAP_MAX);
	EXPECT_GT(t, kheap_size() + 2 * HEAP_CHUNK, KHEAP_MAX);
	EXPECT_GE(t, n, ARRAY_SIZE(chunk) - ARRAY_SIZE(chunk) / 64); /* headers take some room */
	EXPECT_NULL(t, kmalloc(HEAP_CHUNK));
	for (size_t i = 0; i < n; i++) {
		if (*(uint64_t *)chunk[i] != i)
			FAIL(t, "chunk %zu at %p was overwritten", i, chunk[i]);
		kfree(chunk[i]);
	}
	kheap_expect_no_leak(t, &before);
}
