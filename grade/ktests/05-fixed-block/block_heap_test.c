/*
 * Lab 05: the fixed-block allocator, step by step and then as a whole, on private arenas
 * (runs in the kernel and on the host). The fallback is a list_heap: each slab is one of its
 * allocations (BLOCK_HEAP_SLAB_BYTES at a multiple of BLOCK_HEAP_SLAB_SIZE), and so is each
 * request above 2048 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "block_heap.h"
#include "heap_check.h"
#include "ktest.h"
#include "test_arena.h"
#include "list_check.h"
#include "list_heap.h"

#define ARENA_SIZE (128 * PAGE_SIZE) /* 512 KiB: 32 slab windows */
#define SLAB	   BLOCK_HEAP_SLAB_SIZE
#define LIST_BOUND (ARENA_SIZE / SLAB) /* no class can have more slabs than windows */
#define TOP_CLASS  (BLOCK_HEAP_CLASSES - 1)

TEST_ARENA(arena, ARENA_SIZE, BLOCK_HEAP_SLAB_SIZE); /* guarded on the host: test_arena.h */
static struct heap_model model;
static uint64_t seen[BLOCK_HEAP_SLAB_MAX_BLOCKS / 64]; /* blocks met on one free list */

/* Settings for the step tests: no prefill, so that init needs none of the steps. */
static const struct block_heap_config no_prefill = {.prefill = 0, .cap = 8};

/* The class a request should get, computed here independently of step 1. */
static int expected_class(size_t size, size_t align)
{
	size_t need = size > align ? size : align;

	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		if (need <= block_heap_class_size(c))
			return c;
	return -1;
}

/* The bytes block_heap counts as used for a request. */
static size_t expected_used(size_t size, size_t align)
{
	int c = expected_class(size, align);

	return c >= 0 ? block_heap_class_size(c) : (size > align ? size : align);
}

/* The fallback's allocations: the big blocks (a slab is a piece of it, not an allocation). */
static size_t fallback_live(const struct block_heap *h)
{
	return h->fallback.live_allocs;
}

/* True if any byte of the window at base is inside a free region of the fallback. */
static bool window_in_free_region(const struct block_heap *h, uintptr_t base)
{
	for (const struct list_region *r = h->fallback.head; r; r = r->next)
		if (base < (uintptr_t)r + r->size && (uintptr_t)r < base + BLOCK_HEAP_SLAB_BYTES)
			return true;
	return false;
}

/* The slabs on class c's list (at most LIST_BOUND + 1 counted: a loop stops there). */
static unsigned slabs_listed(const struct block_heap *h, int c)
{
	unsigned n = 0;

	for (const struct block_slab *s = h->classes[c].slabs; s && n <= LIST_BOUND; s = s->next)
		n++;
	return n;
}

/* Blocks on slab s's free list (at most s->blocks + 1 counted). */
static unsigned free_listed(const struct block_slab *s)
{
	unsigned n = 0;

	for (const struct block_free *b = s->free; b && n <= s->blocks; b = b->next)
		n++;
	return n;
}

/* "s" after a count of n things but one. */
static const char *plural(unsigned long n)
{
	return n == 1 ? "" : "s";
}

/* The suffix of n as an ordinal: "st" for 1, "nd" for 2, "rd" for 3, "th" for 4 ... */
static const char *ordinal(unsigned n)
{
	if (n % 100 / 10 == 1)
		return "th";
	return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/*
 * Block p of class c was just freed: it must be first on the free list of its own slab, the
 * one whose window holds it (unless that slab, emptied, went back to the fallback). Returns
 * false after a failure that says where it went instead.
 */
static bool freed_to_its_own_slab(struct ktest *t, const struct block_heap *h, int c, const void *p)
{
	const struct block_slab *own = block_heap_slab_of(p), *first = h->classes[c].slabs;

	if (own->check != block_heap_slab_check(h, own) || own->free == p)
		return true;
	if (first && first != own && first->free == p)
		FAIL(t,
		     "block %p of class %d was freed onto the free list of the slab at %p, the "
		     "first on the class's list, not onto its own slab at %p (the window that "
		     "holds it): step 4 pushes a block on block_heap_slab_of(p)",
		     p, c, (void *)block_heap_slab_base(first), (void *)block_heap_slab_base(p));
	else
		FAIL(t,
		     "block %p of class %d was freed, but it is not first on the free list of its "
		     "own slab at %p (the window that holds it), which starts at %p: step 4 pushes "
		     "a block on the front of block_heap_slab_of(p)'s free list",
		     p, c, (void *)block_heap_slab_base(p), (void *)own->free);
	return false;
}

/* The slabs on class c's list that have no live block. */
static unsigned empty_listed(const struct block_heap *h, int c)
{
	unsigned n = 0, i = 0;

	for (const struct block_slab *s = h->classes[c].slabs; s && i <= LIST_BOUND;
	     s = s->next, i++)
		n += s->live == 0;
	return n;
}

/*
 * Class c has just had the `emptied`-th of its full slabs emptied, one after the other with no
 * allocation between: it keeps min(emptied, cap) of them and gave the others back, so the heap
 * has `slabs` slabs left. Returns false after a failure that says which way the cap is off.
 */
static bool cap_kept(struct ktest *t, const struct block_heap *h, int c, unsigned emptied,
		     size_t slabs)
{
	unsigned cap = h->config.cap, keep = emptied < cap ? emptied : cap;
	unsigned empty = empty_listed(h, c);

	if (empty > keep)
		FAIL(t,
		     "class %d: %u slab%s emptied, and it keeps %u of them (%zu slabs in the heap, "
		     "expected %zu): the cap is %u empty slab%s per class: the %u%s empty slab must "
		     "be given back (step 4: when the class held cap empty slabs already, "
		     "block_heap_slab_release)",
		     c, emptied, plural(emptied), empty, h->slabs, slabs, cap, plural(cap), cap + 1,
		     ordinal(cap + 1));
	else if (empty < keep)
		FAIL(t,
		     "class %d: %u slab%s emptied, and it keeps only %u of them (%zu slabs in the "
		     "heap, expected %zu): the cap is %u empty slab%s per class: a class keeps up to "
		     "%u, and gives back only a slab that empties (no live block left) when it holds "
		     "%u already",
		     c, emptied, plural(emptied), empty, h->slabs, slabs, cap, plural(cap), cap,
		     cap);
	else if (h->classes[c].empty != empty || h->slabs != slabs)
		FAIL(t,
		     "class %d: %u slab%s emptied, %u kept (right), but its count (empty) says %u "
		     "and the heap has %zu slabs (expected %zu)",
		     c, emptied, plural(emptied), empty, h->classes[c].empty, h->slabs, slabs);
	else
		return true;
	return false;
}

/* The live map's bit of block p: one bit per 8 bytes of the window, the block's first. */
static bool is_live(const struct block_slab *s, const void *p)
{
	size_t i = ((uintptr_t)p - block_heap_slab_base(p)) / BLOCK_HEAP_MIN_CLASS;

	return (s->live_map[i / 64] >> (i % 64)) & 1;
}

static void *ops_alloc(void *h, size_t size, size_t align)
{
	return block_heap_alloc(h, size, align);
}

static void ops_free(void *h, void *p)
{
	block_heap_free(h, p);
}

static void ops_stats(const void *h, struct heap_stats *s)
{
	block_heap_stats(h, s);
}

/* Slab s, on class c's list, is a well-formed slab: its record, its place in the fallback,
 * its free list. Returns its free blocks, or -1 after a failure. */
static long check_slab(struct ktest *t, struct heap_model *m, int c, const struct block_slab *s)
{
	const struct block_heap *h = m->heap;
	uintptr_t base = block_heap_slab_base(s);
	size_t size = block_heap_class_size(c);

	if ((uintptr_t)s != base + BLOCK_HEAP_SLAB_RECORD || base < m->lo || base >= m->hi) {
		HEAP_FAIL(t, m,
			  "class %d's list holds %p, which is not the record of a slab in the "
			  "arena",
			  c, (void *)s);
		return -1;
	}
	if (s->check != block_heap_slab_check(h, s) || s->class != c ||
	    s->blocks != block_heap_slab_blocks(c)) {
		HEAP_FAIL(t, m,
			  "slab %p on class %d's list: check %s, class %u, %u blocks (should be "
			  "%u), %u live",
			  (void *)base, c, s->check == block_heap_slab_check(h, s) ? "ok" : "wrong",
			  s->class, s->blocks, block_heap_slab_blocks(c), s->live);
		return -1;
	}
	if (window_in_free_region(h, base)) {
		HEAP_FAIL(t, m, "slab %p of class %d overlaps a free region of the fallback",
			  (void *)base, c);
		return -1;
	}
	/* The free list before the counts: a block of another slab on it explains them. */
	memset(seen, 0, sizeof(seen));
	unsigned n = 0;
	for (const struct block_free *b = s->free; b; b = b->next) {
		uintptr_t a = (uintptr_t)b;
		size_t i = (a - base) / size;
		/* check before following the link: a wrong one may point anywhere */
		if (block_heap_slab_base(b) != base && m->lo <= a && a < m->hi) {
			HEAP_FAIL(
				t, m,
				"slab %p of class %d: its free list holds %p, a block of the slab "
				"at %p: a freed block goes back on its own slab, the one whose "
				"window holds it (block_heap_slab_of(p) in step 4), not on the "
				"first slab of its class",
				(void *)base, c, (void *)b, (void *)block_heap_slab_base(b));
			return -1;
		}
		if (a < base || a % size || i >= s->blocks || ++n > s->blocks ||
		    (seen[i / 64] >> (i % 64)) & 1 || is_live(s, b)) {
			HEAP_FAIL(t, m,
				  "slab %p of class %d (%zu-byte blocks): its free list holds %p, "
				  "which is not a free block of it, or holds it twice",
				  (void *)base, c, size, (void *)b);
			return -1;
		}
		seen[i / 64] |= UINT64_C(1) << (i % 64);
	}
	if (s->live > s->blocks) {
		HEAP_FAIL(t, m,
			  "slab %p of class %d: %u live, more than its %u blocks (a live count "
			  "taken below 0 wraps around)",
			  (void *)base, c, s->live, s->blocks);
		return -1;
	}
	unsigned bits = 0;
	for (size_t w = 0; w < ARRAY_SIZE(s->live_map); w++)
		for (uint64_t x = s->live_map[w]; x; x &= x - 1) /* the kernel has no popcount */
			bits++;
	if (bits != s->live) {
		HEAP_FAIL(t, m, "slab %p of class %d: %u live, but %u bits set in its live map",
			  (void *)base, c, s->live, bits);
		return -1;
	}
	if (n != s->blocks - s->live || n == 0) {
		HEAP_FAIL(t, m,
			  "slab %p of class %d: %u blocks on its free list, %u live of %u: a slab "
			  "on the list has a free block, and every block is either live or free",
			  (void *)base, c, n, s->live, s->blocks);
		return -1;
	}
	return n;
}

/* Every class's list: well-formed slabs, linked both ways, empty ones counted and capped. */
static void check_class_lists(struct ktest *t, struct heap_model *m)
{
	const struct block_heap *h = m->heap;
	unsigned most = h->config.cap > h->config.prefill ? h->config.cap : h->config.prefill;

	for (int c = 0; c < BLOCK_HEAP_CLASSES && !m->broken; c++) {
		const struct block_slab *prev = NULL;
		unsigned n = 0, empty = 0;

		for (const struct block_slab *s = h->classes[c].slabs; s; prev = s, s = s->next) {
			if (++n > LIST_BOUND || s->prev != prev) {
				HEAP_FAIL(t, m,
					  "class %d's list of slabs is broken at %p (prev %p, "
					  "expected %p)",
					  c, (void *)s, n > LIST_BOUND ? NULL : (void *)s->prev,
					  (void *)prev);
				return;
			}
			if (check_slab(t, m, c, s) < 0)
				return;
			empty += s->live == 0;
		}
		if (empty > most) {
			HEAP_FAIL(
				t, m,
				"class %d keeps %u empty slabs, but the cap is %u empty slab%s per "
				"class: the %u%s empty slab must be given back (step 4: a slab that "
				"empties when its class holds cap empty slabs already goes to "
				"block_heap_slab_release)",
				c, empty, most, plural(most), most + 1, ordinal(most + 1));
		} else if (empty != h->classes[c].empty) {
			HEAP_FAIL(
				t, m,
				"class %d: %u empty slabs on its list, but its count (empty) says "
				"%u: one more when a slab is carved or its last live block is "
				"freed, one less when an empty slab gives a block",
				c, empty, h->classes[c].empty);
		}
	}
}

/*
 * No block in two places: every small block the test holds is live in its slab (and no slab
 * lies in a free region of the fallback: check_slab); the fallback's allocations are the
 * test's big blocks, nothing else.
 */
static void check_no_block_twice(struct ktest *t, struct heap_model *m)
{
	const struct block_heap *h = m->heap;
	size_t big = 0, big_bytes = 0;

	for (int i = 0; i < m->count && !m->broken; i++) {
		const struct heap_block *b = &m->blocks[i];
		if (expected_class(b->size, b->align) < 0) {
			big++;
			big_bytes += expected_used(b->size, b->align);
			continue;
		}
		const struct block_slab *s = block_heap_slab_of(b->p);
		if (s->check != block_heap_slab_check(h, s) || !is_live(s, b->p))
			HEAP_FAIL(t, m,
				  "the live block %p from step %u is not a live block of a slab",
				  (void *)b->p, b->step);
	}
	/* The fallback's allocations are the big blocks, nothing else; the slabs, full ones
	 * too, are pieces of it the heap counts. */
	size_t listed = 0;
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		listed += slabs_listed(h, c);
	if (fallback_live(h) != big || h->fallback.used_bytes != big_bytes || h->slabs < listed)
		HEAP_FAIL(t, m,
			  "the fallback has %zu allocations of %zu bytes, the test holds %zu big "
			  "blocks of %zu bytes; %zu slabs counted, %zu on the class lists",
			  fallback_live(h), h->fallback.used_bytes, big, big_bytes, h->slabs,
			  listed);
}

/* used: class sizes (big: max(size, align)); free: the fallback's + the slabs' free blocks. */
static void ops_expect(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	const struct block_heap *h = m->heap;
	struct heap_stats fb;
	size_t used = 0, cached = 0, blocks = 0;

	for (int i = 0; i < m->count; i++)
		used += expected_used(m->blocks[i].size, m->blocks[i].align);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		for (const struct block_slab *sl = h->classes[c].slabs; sl && !m->broken;
		     sl = sl->next) {
			cached += (size_t)(sl->blocks - sl->live) * block_heap_class_size(c);
			blocks += sl->blocks - sl->live;
		}
	list_heap_stats(&h->fallback, &fb);
	if (s->used_bytes != used || s->free_bytes != fb.free_bytes + cached ||
	    s->total_bytes != fb.total_bytes || s->free_regions != fb.free_regions + blocks)
		HEAP_FAIL(t, m,
			  "block_heap stats: used %zu, free %zu in %zu pieces; expected used %zu "
			  "(class sizes), free %zu (fallback %zu + slabs %zu) in %zu pieces",
			  s->used_bytes, s->free_bytes, s->free_regions, used,
			  fb.free_bytes + cached, fb.free_bytes, cached, fb.free_regions + blocks);
	if (!list_check_invariants(t, &h->fallback))
		m->broken = true;
	check_class_lists(t, m);
}

static void ops_expect_all(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	ops_expect(t, m, s);
	if (!m->broken)
		check_no_block_twice(t, m);
}

/* It must succeed when its class has a slab with a free block, or the fallback a region
 * large enough for a new slab (or for the big request). */
static bool ops_must_fit(const struct heap_model *m, const struct heap_stats *s, size_t size,
			 size_t align)
{
	const struct block_heap *h = m->heap;
	int c = expected_class(size, align);
	size_t n = expected_used(size, align), a = c >= 0 ? n : align;
	struct heap_stats fb;

	if (c >= 0 && h->classes[c].slabs)
		return true;
	list_heap_stats(&h->fallback, &fb);
	if (c >= 0) /* a slab: its window and a header in front, wherever the region starts */
		return 2 * SLAB + LIST_HEAP_NODE <= fb.largest_free;
	n = (n + LIST_HEAP_GRAIN - 1) & ~(size_t)(LIST_HEAP_GRAIN - 1);
	return n < ARENA_SIZE &&
	       LIST_HEAP_HEADER + n + a + LIST_HEAP_GRAIN + LIST_HEAP_NODE <= fb.largest_free;
}

static const struct heap_ops block_ops = {
	.name = "block_heap",
	.alloc = ops_alloc,
	.free = ops_free,
	.stats = ops_stats,
	.expect = ops_expect,
	.must_fit = ops_must_fit,
};
static const struct heap_ops block_ops_all = {
	.name = "block_heap",
	.alloc = ops_alloc,
	.free = ops_free,
	.stats = ops_stats,
	.expect = ops_expect_all,
	.must_fit = ops_must_fit,
};

/* --- step 1 ----------------------------------------------------------------------------------- */

KTEST(block_heap, class_of_each_request, 2)
{
	static const struct {
		size_t size, align;
		int class;
	} cases[] = {
		{1, 1, 0},     {8, 1, 0},     {8, 8, 0},     {9, 1, 1},	      {16, 16, 1},
		{17, 1, 2},    {32, 1, 2},    {33, 8, 3},    {64, 64, 3},     {100, 4, 4},
		{129, 1, 5},   {512, 1, 6},   {513, 1, 7},   {1024, 8, 7},    {1025, 1, 8},
		{2048, 1, 8},  {2049, 1, -1}, {3000, 8, -1}, {1, 16, 1},      {8, 256, 5},
		{100, 256, 5}, {1, 2048, 8},  {1, 4096, -1}, {2048, 2048, 8},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int c = block_heap_class(cases[i].size, cases[i].align);
		if (c != cases[i].class)
			FAIL(t, "block_heap_class(%zu, %zu) = %d, expected %d", cases[i].size,
			     cases[i].align, c, cases[i].class);
	}
}

/* --- step 2 ----------------------------------------------------------------------------------- */

KTEST(block_heap, slab_new_carves_a_whole_slab, 2)
{
	struct block_heap h;

	/* memory that held other data before: a new slab's record must not keep any of it */
	memset(arena, 0xa5, ARENA_SIZE);
	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		size_t size = block_heap_class_size(c);
		struct block_slab *s = block_heap_slab_new(&h, c);
		ASSERT_NOT_NULL(t, s);
		uintptr_t base = block_heap_slab_base(s);
		/* should be: a fallback allocation of a whole window, the record at its end */
		if (s != block_heap_slab_of((void *)base) || window_in_free_region(&h, base) ||
		    base < (uintptr_t)arena || base >= (uintptr_t)arena + ARENA_SIZE) {
			FAIL(t,
			     "block_heap_slab_new(class %d) = %p: not the record of a window of "
			     "the arena taken from the fallback's free memory (slab_take)",
			     c, (void *)s);
			continue;
		}
		EXPECT_EQ(t, s->class, c);
		EXPECT_EQ(t, s->blocks, block_heap_slab_blocks(c));
		EXPECT_EQ(t, s->live, 0);
		EXPECT_EQ(t, s->check, block_heap_slab_check(&h, s));
		unsigned bits = 0;
		for (size_t w = 0; w < ARRAY_SIZE(s->live_map); w++)
			bits += s->live_map[w] != 0;
		if (bits)
			FAIL(t,
			     "class %d: %u words of the new slab's live map are not 0 (left from what "
			     "the window held before): set live_map to 0 with the record's other fields",
			     c, bits);
		/* should be: free -> block 0 -> block 1 -> ... -> block n-1 -> NULL */
		unsigned i = 0;
		const struct block_free *b = s->free;
		for (; b && i < s->blocks; b = b->next, i++)
			if ((uintptr_t)b != base + i * size)
				break;
		if (i != s->blocks || b)
			FAIL(t,
			     "class %d: the slab's free list should be its %u blocks of %zu bytes "
			     "in address order from %p; it differs at block %u (%p)",
			     c, s->blocks, size, (void *)base, i, (void *)b);
		/* first on the class's list, and empty */
		EXPECT_EQ(t, h.classes[c].slabs, s);
		EXPECT_NULL(t, s->prev);
		EXPECT_EQ(t, h.classes[c].empty, 1);
	}
	EXPECT_EQ(t, h.slabs, BLOCK_HEAP_CLASSES);
	EXPECT_EQ(t, fallback_live(&h), 0);

	/* a second slab of a class goes first, before the other */
	struct block_slab *old = h.classes[3].slabs, *s = block_heap_slab_new(&h, 3);
	ASSERT_NOT_NULL(t, s);
	/* should be: class 3: s <-> old */
	EXPECT_EQ(t, h.classes[3].slabs, s);
	EXPECT_EQ(t, s->next, old);
	EXPECT_EQ(t, old->prev, s);
	EXPECT_EQ(t, h.classes[3].empty, 2);

	/* no room in the fallback: NULL, nothing changed */
	block_heap_init(&h, arena, SLAB, &no_prefill);
	EXPECT_NULL(t, block_heap_slab_new(&h, 0));
	EXPECT_NULL(t, h.classes[0].slabs);
	EXPECT_EQ(t, h.classes[0].empty, 0);
	EXPECT_EQ(t, h.slabs, 0);
}

/* --- step 3 ----------------------------------------------------------------------------------- */

KTEST(block_heap, class_alloc_pops_and_carves, 2)
{
	struct block_heap h;
	void *p[2 * 7 + 1];
	const unsigned n = block_heap_slab_blocks(TOP_CLASS);

	ASSERT_LT(t, 2 * n, ARRAY_SIZE(p));
	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	/* an empty list: a new slab; its first block */
	p[0] = block_heap_class_alloc(&h, TOP_CLASS);
	ASSERT_NOT_NULL(t, p[0]);
	struct block_slab *s = block_heap_slab_of(p[0]);
	EXPECT_EQ(t, (uintptr_t)p[0], block_heap_slab_base(s));
	EXPECT_EQ(t, h.slabs, 1);
	EXPECT_EQ(t, s->live, 1);
	EXPECT_EQ(t, h.classes[TOP_CLASS].empty, 0); /* it has a live block now */
	/* the next blocks of the same slab, in address order, no fallback call */
	for (unsigned i = 1; i < n; i++) {
		p[i] = block_heap_class_alloc(&h, TOP_CLASS);
		if (p[i] != (uint8_t *)p[0] + i * BLOCK_HEAP_MAX_CLASS)
			FAIL(t,
			     "allocation %u of class %d returned %p, expected block %u of the slab, %p",
			     i + 1, TOP_CLASS, p[i], i, (uint8_t *)p[0] + i * BLOCK_HEAP_MAX_CLASS);
	}
	EXPECT_EQ(t, h.slabs, 1);
	EXPECT_EQ(t, s->live, n);
	/* full: off the list */
	EXPECT_NULL(t, s->free);
	EXPECT_NULL(t, h.classes[TOP_CLASS].slabs);
	/* one more: a second slab */
	p[n] = block_heap_class_alloc(&h, TOP_CLASS);
	ASSERT_NOT_NULL(t, p[n]);
	EXPECT_NE(t, block_heap_slab_of(p[n]), s);
	EXPECT_EQ(t, h.slabs, 2);
	EXPECT_EQ(t, h.classes[TOP_CLASS].slabs, block_heap_slab_of(p[n]));

	/* an empty slab first on the list is used, and is no longer empty */
	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	s = block_heap_slab_new(&h, 2);
	ASSERT_NOT_NULL(t, s);
	EXPECT_EQ(t, block_heap_class_alloc(&h, 2), (void *)block_heap_slab_base(s));
	EXPECT_EQ(t, h.classes[2].empty, 0);
	EXPECT_EQ(t, h.slabs, 1);

	/* no room for a slab: NULL */
	block_heap_init(&h, arena, SLAB, &no_prefill);
	EXPECT_NULL(t, block_heap_class_alloc(&h, 0));
}

/* --- step 4 ----------------------------------------------------------------------------------- */

KTEST(block_heap, class_free_pushes_and_gives_back, 2)
{
	const struct block_heap_config cap1 = {.prefill = 0, .cap = 1};
	struct block_heap h;
	const unsigned n = block_heap_slab_blocks(TOP_CLASS);
	void *a[7], *b[7];

	ASSERT_EQ(t, n, ARRAY_SIZE(a));
	block_heap_init(&h, arena, ARENA_SIZE, &cap1);
	/* two full slabs: a's, then b's */
	for (unsigned i = 0; i < n; i++)
		a[i] = block_heap_class_alloc(&h, TOP_CLASS);
	for (unsigned i = 0; i < n; i++)
		b[i] = block_heap_class_alloc(&h, TOP_CLASS);
	ASSERT_NOT_NULL(t, b[n - 1]);
	struct block_slab *sa = block_heap_slab_of(a[0]), *sb = block_heap_slab_of(b[0]);
	ASSERT_NULL(t, h.classes[TOP_CLASS].slabs);

	/* a block of a full slab: the slab comes back on the list, the block on its list */
	block_heap_class_free(&h, TOP_CLASS, a[3]);
	/* should be: class: sa; sa: free -> a[3] */
	EXPECT_EQ(t, h.classes[TOP_CLASS].slabs, sa);
	EXPECT_EQ(t, sa->free, (struct block_free *)a[3]);
	EXPECT_EQ(t, sa->live, n - 1);
	/* a block of sb, while sa is first: it goes on sb, and sb goes first */
	block_heap_class_free(&h, TOP_CLASS, b[0]);
	if (!freed_to_its_own_slab(t, &h, TOP_CLASS, b[0]))
		return;
	/* should be: class: sb <-> sa; sb: free -> b[0] */
	EXPECT_EQ(t, sb->live, n - 1);
	EXPECT_EQ(t, sa->live, n - 1);
	ASSERT_EQ(t, h.classes[TOP_CLASS].slabs, sb);
	EXPECT_EQ(t, sb->next, sa);
	EXPECT_EQ(t, sa->prev, sb);
	/* a block of sa again: sa moves first, its block first: the next allocation takes it */
	block_heap_class_free(&h, TOP_CLASS, a[5]);
	if (!freed_to_its_own_slab(t, &h, TOP_CLASS, a[5]))
		return;
	/* should be: class: sa <-> sb; sa: free -> a[5] -> a[3] */
	ASSERT_EQ(t, h.classes[TOP_CLASS].slabs, sa);
	EXPECT_EQ(t, sa->next, sb);
	EXPECT_NULL(t, sa->prev);
	EXPECT_EQ(t, sb->prev, sa);
	EXPECT_NULL(t, sb->next);
	EXPECT_EQ(t, sa->free, (struct block_free *)a[5]);
	EXPECT_EQ(t, sa->free->next, (struct block_free *)a[3]);
	EXPECT_EQ(t, block_heap_class_alloc(&h, TOP_CLASS), a[5]);
	block_heap_class_free(&h, TOP_CLASS, a[5]);

	/* sa emptied: the class keeps it (cap 1) */
	for (unsigned i = 0; i < n; i++) {
		if (i == 3 || i == 5)
			continue;
		block_heap_class_free(&h, TOP_CLASS, a[i]);
		if (!freed_to_its_own_slab(t, &h, TOP_CLASS, a[i]))
			return;
	}
	EXPECT_EQ(t, sa->live, 0);
	if (!cap_kept(t, &h, TOP_CLASS, 1, 2))
		return;
	EXPECT_EQ(t, h.classes[TOP_CLASS].slabs, sa);
	/* sb emptied too: one empty slab is the cap, so sb goes back to the fallback */
	for (unsigned i = 1; i < n; i++) {
		block_heap_class_free(&h, TOP_CLASS, b[i]);
		if (!freed_to_its_own_slab(t, &h, TOP_CLASS, b[i]))
			return;
	}
	if (!cap_kept(t, &h, TOP_CLASS, 2, 1))
		return;
	EXPECT_EQ(t, h.classes[TOP_CLASS].slabs, sa);
	EXPECT_NULL(t, sa->next);
	EXPECT_NE(t, sb->check, block_heap_slab_check(&h, sb)); /* no longer a slab */
}

/* --- the settings: prefill at init, and the cap ------------------------------------------ */

KTEST(block_heap, prefill_carves_every_class, 1)
{
	const struct block_heap_config fill2 = {.prefill = 2, .cap = 3};
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &fill2);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		unsigned n = slabs_listed(&h, c);
		const struct block_slab *s = h.classes[c].slabs;
		if (n != 2 || h.classes[c].empty != 2 || !s || free_listed(s) != s->blocks ||
		    s->blocks != block_heap_slab_blocks(c))
			FAIL(t,
			     "class %d has %u slabs on its list (empty %u), expected 2 empty ones",
			     c, n, h.classes[c].empty);
	}
	EXPECT_EQ(t, h.slabs, 2 * BLOCK_HEAP_CLASSES);

	/* an arena too small for it all: carving stops, quietly, at the first slab that does
	 * not fit */
	block_heap_init(&h, arena, 4 * SLAB, &fill2);
	int c = 0;
	while (c < BLOCK_HEAP_CLASSES && h.classes[c].empty == 2)
		c++;
	ASSERT_LT(t, c, BLOCK_HEAP_CLASSES);
	EXPECT_EQ(t, h.slabs, 3); /* the three windows after the first */
	EXPECT_NULL(t, block_heap_slab_new(&h, c));
}

KTEST(block_heap, cap_honoured, 2)
{
	const struct block_heap_config cap2 = {.prefill = 0, .cap = 2};
	const unsigned n = block_heap_slab_blocks(TOP_CLASS), slabs = 5;
	struct block_heap h;
	void *p[5 * 7];

	ASSERT_EQ(t, slabs * n, ARRAY_SIZE(p));
	block_heap_init(&h, arena, ARENA_SIZE, &cap2);
	for (unsigned i = 0; i < slabs * n; i++)
		p[i] = block_heap_alloc(&h, BLOCK_HEAP_MAX_CLASS, 1);
	ASSERT_NOT_NULL(t, p[slabs * n - 1]);
	ASSERT_EQ(t, h.slabs, slabs);
	/* the slabs emptied one by one (p[k * n] ... p[k * n + n - 1] fill slab k): the first 2
	 * stay with the class, each one after them goes back to the fallback */
	for (unsigned k = 0; k < slabs; k++) {
		for (unsigned i = k * n; i < (k + 1) * n; i++) {
			block_heap_free(&h, p[i]);
			if (!freed_to_its_own_slab(t, &h, TOP_CLASS, p[i]))
				return;
		}
		if (!cap_kept(t, &h, TOP_CLASS, k + 1, k < 2 ? slabs : slabs - (k - 1)))
			return;
	}
	EXPECT_EQ(t, slabs_listed(&h, TOP_CLASS), 2);
	EXPECT_EQ(t, h.live_allocs, 0);
	/* drain gives back every empty slab of the class, not only the first */
	block_heap_drain(&h);
	if (h.slabs != 0 || h.classes[TOP_CLASS].slabs || h.classes[TOP_CLASS].empty != 0)
		FAIL(t,
		     "drained with 2 empty slabs in class %d: %zu slabs left (%u listed, empty %u), "
		     "expected none: drain must give back every empty slab on the list",
		     TOP_CLASS, h.slabs, slabs_listed(&h, TOP_CLASS), h.classes[TOP_CLASS].empty);

	/* cap 0: a slab goes back as soon as its last block is freed */
	const struct block_heap_config cap0 = {.prefill = 0, .cap = 0};
	block_heap_init(&h, arena, ARENA_SIZE, &cap0);
	block_heap_free(&h, block_heap_alloc(&h, 64, 1));
	EXPECT_NULL(t, h.classes[3].slabs);
	EXPECT_EQ(t, h.classes[3].empty, 0);
	EXPECT_EQ(t, h.slabs, 0);
}

/* --- the whole allocator ---------------------------------------------------------------------- */

KTEST(block_heap, every_class, 2)
{
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		size_t size = block_heap_class_size(c);
		for (size_t n = size / 2 + 1; n <= size; n += size / 2 - 1 ? size / 2 - 1 : 1) {
			uint8_t *p = block_heap_alloc(&h, n, 1);
			if (!p || (uintptr_t)p % size || block_heap_alloc_size(&h, p) != size) {
				FAIL(t,
				     "block_heap_alloc(%zu, 1) = %p: expected a block of class %d "
				     "(%zu bytes, aligned to it)",
				     n, p, c, size);
				continue;
			}
			block_heap_free(&h, p);
			/* should be: class c: slab -> ...; its free list: p -> ... */
			ASSERT_NOT_NULL(t, h.classes[c].slabs);
			EXPECT_EQ(t, h.classes[c].slabs->free, (void *)p);
			EXPECT_EQ(t, block_heap_alloc_size(&h, p), 0); /* freed */
		}
	}
}

KTEST(block_heap, boundary_2048_2049, 2)
{
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	void *small = block_heap_alloc(&h, 2048, 1), *big = block_heap_alloc(&h, 2049, 1);
	ASSERT_NOT_NULL(t, small);
	ASSERT_NOT_NULL(t, big);
	EXPECT_EQ(t, block_heap_alloc_size(&h, small), 2048);
	EXPECT_EQ(t, (uintptr_t)small % 2048, 0); /* a class block: aligned to its size */
	EXPECT_EQ(t, block_heap_alloc_size(&h, big), 2049);
	EXPECT_EQ(t, h.slabs, 1);	    /* of the 2048 class */
	EXPECT_EQ(t, fallback_live(&h), 1); /* big */
	block_heap_free(&h, small);	    /* back to its slab */
	EXPECT_EQ(t, h.classes[TOP_CLASS].slabs->free, small);
	EXPECT_EQ(t, h.slabs, 1);
	block_heap_free(&h, big); /* back to the fallback */
	EXPECT_EQ(t, fallback_live(&h), 0);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		EXPECT_EQ(t, slabs_listed(&h, c), c == TOP_CLASS ? 1u : 0u);
}

KTEST(block_heap, alignment_larger_than_the_size, 2)
{
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	uint8_t *a = block_heap_alloc(&h, 8, 256), *b = block_heap_alloc(&h, 1, 2048),
		*c = block_heap_alloc(&h, 8, 4096);
	ASSERT_NOT_NULL(t, c);
	/* 8 bytes aligned to 256: a block of the 256 class */
	EXPECT_EQ(t, (uintptr_t)a % 256, 0);
	EXPECT_EQ(t, block_heap_alloc_size(&h, a), 256);
	EXPECT_EQ(t, (uintptr_t)b % 2048, 0);
	EXPECT_EQ(t, block_heap_alloc_size(&h, b), 2048);
	/* aligned to more than the largest class: a fallback block of max(8, 4096) bytes */
	EXPECT_EQ(t, (uintptr_t)c % 4096, 0);
	EXPECT_EQ(t, block_heap_alloc_size(&h, c), 4096);
	block_heap_free(&h, a);
	EXPECT_EQ(t, h.classes[5].slabs->free, (void *)a);
	block_heap_free(&h, b);
	block_heap_free(&h, c);
	EXPECT_EQ(t, h.live_allocs, 0);
}

KTEST(block_heap, freed_block_returns_to_its_class, 2)
{
	struct block_heap h;
	void *p[BLOCK_HEAP_CLASSES];

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		p[c] = block_heap_alloc(&h, block_heap_class_size(c) / 2 + 1, 1);
	for (int c = BLOCK_HEAP_CLASSES - 1; c >= 0; c--)
		block_heap_free(&h, p[c]);
	/* should be: class c: its slab, empty, first on its free list p[c] */
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		const struct block_slab *s = h.classes[c].slabs;
		if (!s || s->free != p[c] || s->live != 0 || h.classes[c].empty != 1)
			FAIL(t,
			     "class %d: slab %p (free list %p, %u live), expected an empty slab "
			     "with %p first",
			     c, (void *)s, s ? (void *)s->free : NULL, s ? s->live : 0, p[c]);
		/* and the next allocation of the class reuses it */
		EXPECT_EQ(t, block_heap_alloc(&h, block_heap_class_size(c), 1), p[c]);
	}
	EXPECT_EQ(t, h.slabs, BLOCK_HEAP_CLASSES); /* one slab each, no more */

	/* The arena ends where the window of its last slab does: that slab is a slab too. */
	block_heap_init(&h, arena, 2 * SLAB - LIST_HEAP_HEADER, &no_prefill);
	void *q = block_heap_alloc(&h, 20, 8);
	ASSERT_EQ(t, q, (void *)(arena + SLAB));
	size_t n = block_heap_alloc_size(&h, q);
	if (n != 32)
		FAIL(t,
		     "block_heap_alloc_size(%p) = %zu, expected 32: the slab whose window ends "
		     "the arena is taken for no slab (slab_at's bounds must include its base)",
		     q, n);
	else
		block_heap_free(&h, q);
}

KTEST(block_heap, stats_exact, 2)
{
	struct block_heap h;
	struct heap_stats s;
	const size_t free32 = block_heap_slab_blocks(2) - 1;

	/* Two windows: the first cannot hold a slab (the fallback's header of a slab there would
	 * lie below the arena), the second can. */
	block_heap_init(&h, arena, 2 * SLAB, &no_prefill);
	void *p = block_heap_alloc(&h, 20, 8);
	/* a 32-byte block, block 0 of a slab at +SLAB; free: the fallback's [+0, +SLAB - 16)
	 * and [+2 SLAB - 16, +2 SLAB), and the slab's other blocks */
	EXPECT_EQ(t, p, (void *)(arena + SLAB));
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 2 * SLAB);
	EXPECT_EQ(t, s.used_bytes, 32);
	EXPECT_EQ(t, s.free_bytes, SLAB + free32 * 32);
	EXPECT_EQ(t, s.overhead_bytes, 2 * SLAB - 32 - SLAB - free32 * 32);
	EXPECT_EQ(t, s.largest_free, SLAB - LIST_HEAP_HEADER);
	EXPECT_EQ(t, s.free_regions, 2 + free32);
	EXPECT_EQ(t, s.live_allocs, 1);

	block_heap_free(&h, p);
	/* back on its slab: free, the slab kept (cap 8) */
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 0);
	EXPECT_EQ(t, s.free_bytes, SLAB + (free32 + 1) * 32);
	EXPECT_EQ(t, s.free_regions, 3 + free32);
	EXPECT_EQ(t, s.live_allocs, 0);

	void *big = block_heap_alloc(&h, 3000, 8);
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 3000);
	EXPECT_EQ(t, s.overhead_bytes,
		  2 * SLAB - 3000 - (SLAB - 3000 - LIST_HEAP_HEADER) - (free32 + 1) * 32);
	block_heap_free(&h, big);
	block_heap_drain(&h);
	/* drained: the empty slab went back, the fallback is whole again */
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, 2 * SLAB);
	EXPECT_EQ(t, s.overhead_bytes, 0);
	EXPECT_EQ(t, s.free_regions, 1);
	EXPECT_NULL(t, h.classes[2].slabs);
}

KTEST(block_heap, double_free_and_foreign_pointers_panic, 2)
{
	struct block_heap h;
	uint64_t local;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	uint8_t *a = block_heap_alloc(&h, 32, 8), *b = block_heap_alloc(&h, 32, 8);
	void *big = block_heap_alloc(&h, 3000, 8);
	ASSERT_NOT_NULL(t, big);
	block_heap_free(&h, a);
	/* a freed block, and a block of the slab that was never handed out: both free blocks,
	 * which the heap cannot tell apart */
	EXPECT_PANIC(t, "is not live: freed already", block_heap_free(&h, a));
	EXPECT_PANIC(t, "or never returned by block_heap_alloc", block_heap_free(&h, b + 64));
	/* the middle of a live block */
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, b + 8));
	block_heap_free(&h, big);
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, big));
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, &local));
	/* a fallback allocation the block heap did not make: no big request is 100 bytes */
	void *other = list_heap_alloc(&h.fallback, 100, 8);
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, other));
	/* nor is one of exactly the largest class: a class block would serve that size */
	void *edge = list_heap_alloc(&h.fallback, BLOCK_HEAP_MAX_CLASS, 8);
	EXPECT_PANIC(t, "never returned by block_heap_alloc", block_heap_free(&h, edge));
	EXPECT_PANIC(t, "block_heap_alloc", block_heap_alloc(&h, 8, 12));
	/* nothing changed by the refusals */
	EXPECT_EQ(t, h.live_allocs, 1);
	EXPECT_EQ(t, block_heap_slab_of(b)->live, 1);
	block_heap_free(&h, b);
	EXPECT_EQ(t, h.live_allocs, 0);
}

KTEST(block_heap, a_new_heap_ignores_an_old_one, 1)
{
	struct block_heap h;

	/* A heap leaves its slab records in the arena; a new heap over the same memory must not
	 * take them for its own when it frees a big block that lies where a slab was. */
	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		ASSERT_NOT_NULL(t, block_heap_alloc(&h, block_heap_class_size(c), 1));
	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	void *big[ARENA_SIZE / (8 * PAGE_SIZE)];
	for (size_t i = 0; i < ARRAY_SIZE(big); i++)
		big[i] = block_heap_alloc(&h, 8 * PAGE_SIZE - 64, 8);
	for (size_t i = 0; i < ARRAY_SIZE(big); i++)
		if (big[i])
			block_heap_free(&h, big[i]);
	EXPECT_EQ(t, h.live_allocs, 0);
	EXPECT_EQ(t, fallback_live(&h), 0);
}

KTEST(block_heap, zero_size_and_settings, 1)
{
	const struct block_heap_config bad = {.prefill = 8, .cap = 4};
	const struct block_heap_config one_over = {.prefill = 5, .cap = 4};
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	EXPECT_NULL(t, block_heap_alloc(&h, 0, 1));
	EXPECT_NULL(t, block_heap_alloc(&h, 0, 4096));
	block_heap_free(&h, NULL);
	EXPECT_EQ(t, fallback_live(&h), 0);
	EXPECT_PANIC(t, "block_heap_init", block_heap_init(&h, arena, ARENA_SIZE, &bad));
	EXPECT_PANIC(t, "block_heap_init", block_heap_init(&h, arena, ARENA_SIZE, &one_over));
	/* NULL settings: the defaults */
	block_heap_init(&h, arena, ARENA_SIZE, NULL);
	EXPECT_EQ(t, h.config.cap, BLOCK_HEAP_DEFAULT_CAP);
	EXPECT_EQ(t, h.config.prefill, BLOCK_HEAP_DEFAULT_PREFILL);
	EXPECT_EQ(t, slabs_listed(&h, 0), BLOCK_HEAP_DEFAULT_PREFILL);
	/* the default cap: a class keeps one empty slab */
	void *a = block_heap_alloc(&h, 64, 8), *b = block_heap_alloc(&h, 64, 8);
	ASSERT_NOT_NULL(t, b);
	block_heap_free(&h, a);
	block_heap_free(&h, b);
	EXPECT_EQ(t, h.classes[3].empty, 1);
	EXPECT_EQ(t, h.slabs, 1);
}

/*
 * The sizes of the random runs: most in the three largest classes, whose slabs hold 7, 15 and
 * 31 blocks, so that with RANDOM_LIVE blocks live a class spans several slabs (a freed block
 * must find its own among them, and emptied slabs meet the cap); the small mix and big
 * requests for the rest.
 */
#define RANDOM_LIVE 120

static size_t random_size(struct ktest *t, size_t max)
{
	uint64_t r = ktest_random_range(t, 0, 99);

	if (r < 30)
		return ktest_random_range(t, 1025, 2048); /* 2048-byte blocks, 7 a slab */
	if (r < 50)
		return ktest_random_range(t, 513, 1024); /* 15 a slab */
	if (r < 60)
		return ktest_random_range(t, 257, 512); /* 31 a slab */
	if (r < 95)
		return heap_random_size(t, 256);
	return ktest_random_range(t, 2049, max); /* the fallback */
}

/*
 * Random sequences; then the heap filled up to RANDOM_LIVE blocks (several slabs in each large
 * class), everything freed in a random order (so that those slabs empty one after the other,
 * the cap deciding which stay), and the empty slabs drained: the fallback must be one region
 * of the whole arena again.
 */
static void random_run(struct ktest *t, const struct heap_ops *ops,
		       const struct block_heap_config *config, unsigned steps)
{
	struct block_heap h;
	const struct heap_workload w = {.steps = steps,
					.max_size = 3000,
					.max_align = 4096,
					.max_live = RANDOM_LIVE,
					.size = random_size};

	block_heap_init(&h, arena, ARENA_SIZE, config);
	heap_model_init(&model, ops, &h, arena, ARENA_SIZE);
	heap_random_run(t, &model, &w);
	for (unsigned i = 0; i < RANDOM_LIVE && model.count < RANDOM_LIVE && !model.broken; i++)
		heap_model_alloc(t, &model, random_size(t, w.max_size),
				 heap_random_align(t, w.max_align));
	heap_model_free_all(t, &model);
	if (model.broken) /* the lists may be garbage: do not follow them */
		return;
	block_heap_drain(&h);
	if (h.fallback.head != (void *)arena || h.fallback.head->size != ARENA_SIZE ||
	    h.fallback.head->next)
		FAIL(t, "everything freed and drained, but the fallback is not one region of the "
			"whole arena");
	EXPECT_GT(t, model.allocs, w.steps / 4);
}

KTEST(block_heap, random_sequence, 3)
{
	random_run(t, &block_ops, NULL, 3000);
}

KTEST(block_heap, no_block_on_two_lists, 2)
{
	const struct block_heap_config small_cap = {.prefill = 1, .cap = 2};

	random_run(t, &block_ops_all, &small_cap, 1500);
}
