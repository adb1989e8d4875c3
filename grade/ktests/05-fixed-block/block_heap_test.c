/*
 * Lab 05: the fixed-block allocator, step by step and then as a whole, on private arenas
 * (runs in the kernel and on the host). The fallback is a list_heap: each class block is one
 * of its allocations, with a 16-byte header in front.
 */
#include <stddef.h>
#include <stdint.h>
#include "block_heap.h"
#include "heap_check.h"
#include "ktest.h"
#include "list_check.h"
#include "list_heap.h"

#define ARENA_SIZE (16 * PAGE_SIZE)

static uint8_t arena[ARENA_SIZE] __aligned(HEAP_MAX_ALIGN);
static struct heap_model model;

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

static size_t fallback_live(const struct block_heap *h)
{
	return h->fallback.live_allocs;
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

/* The class lists: lengths as counted, within the cap, blocks of the right size. */
static void check_class_lists(struct ktest *t, struct heap_model *m)
{
	const struct block_heap *h = m->heap;
	unsigned most = h->config.cap > h->config.prefill ? h->config.cap : h->config.prefill;

	for (int c = 0; c < BLOCK_HEAP_CLASSES && !m->broken; c++) {
		unsigned n = 0;
		for (const struct block_free *b = h->classes[c].head; b && n <= most + 1;
		     b = b->next) {
			n++;
			/* check before following the link: a wrong one may point anywhere */
			if ((uintptr_t)b % block_heap_class_size(c) || (uintptr_t)b < m->lo ||
			    (uintptr_t)b >= m->hi ||
			    list_heap_alloc_size(&h->fallback, b) != block_heap_class_size(c)) {
				HEAP_FAIL(t, m,
					  "block %p on the list of class %d (%zu bytes) is not a "
					  "%zu-byte block of the fallback aligned to its size",
					  (void *)b, c, block_heap_class_size(c),
					  block_heap_class_size(c));
				return;
			}
		}
		if (n != h->classes[c].count || n > most)
			HEAP_FAIL(t, m, "class %d: %u blocks on its list, count says %u, cap %u", c,
				  n, h->classes[c].count, h->config.cap);
	}
}

/*
 * No block on two lists: every block on a class list appears once on all of them, is not
 * inside a free region of the fallback, and is not a block the test holds.
 */
static void check_no_block_twice(struct ktest *t, struct heap_model *m)
{
	const struct block_heap *h = m->heap;

	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		for (const struct block_free *b = h->classes[c].head; b && !m->broken;
		     b = b->next) {
			uintptr_t a = (uintptr_t)b;
			for (int d = c; d < BLOCK_HEAP_CLASSES; d++)
				for (const struct block_free *o = d == c ? b->next
									 : h->classes[d].head;
				     o; o = o->next)
					if (o == b)
						HEAP_FAIL(t, m,
							  "block %p is on class list %d and %d",
							  (void *)b, c, d);
			for (const struct list_region *r = h->fallback.head; r; r = r->next)
				if (a >= (uintptr_t)r && a < (uintptr_t)r + r->size)
					HEAP_FAIL(t, m,
						  "block %p of class %d is also inside the "
						  "fallback's free region [%p, +%zu)",
						  (void *)b, c, (void *)r, r->size);
			for (int i = 0; i < m->count; i++)
				if (a < (uintptr_t)m->blocks[i].p + m->blocks[i].size &&
				    (uintptr_t)m->blocks[i].p < a + block_heap_class_size(c))
					HEAP_FAIL(t, m,
						  "block %p of class %d overlaps the live block "
						  "%p from step %u",
						  (void *)b, c, m->blocks[i].p, m->blocks[i].step);
		}
	}
}

/* used: class sizes (big: max(size, align)); free and overhead: from the fallback + lists. */
static void ops_expect(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	const struct block_heap *h = m->heap;
	struct heap_stats fb;
	size_t used = 0, cached = 0;

	for (int i = 0; i < m->count; i++)
		used += expected_used(m->blocks[i].size, m->blocks[i].align);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		cached += h->classes[c].count * block_heap_class_size(c);
	list_heap_stats(&h->fallback, &fb);
	if (s->used_bytes != used || s->free_bytes != fb.free_bytes + cached ||
	    s->overhead_bytes != fb.overhead_bytes || s->total_bytes != fb.total_bytes)
		HEAP_FAIL(t, m,
			  "block_heap stats: used %zu, free %zu, overhead %zu; expected used "
			  "%zu (class sizes), free %zu (fallback %zu + lists %zu), overhead %zu",
			  s->used_bytes, s->free_bytes, s->overhead_bytes, used,
			  fb.free_bytes + cached, fb.free_bytes, cached, fb.overhead_bytes);
	if (!list_check_invariants(t, &h->fallback))
		m->broken = true;
	check_class_lists(t, m);
}

static void ops_expect_all(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	ops_expect(t, m, s);
	check_no_block_twice(t, m);
}

/* It must succeed when its class has a block, or the fallback a region large enough. */
static bool ops_must_fit(const struct heap_model *m, const struct heap_stats *s, size_t size,
			 size_t align)
{
	const struct block_heap *h = m->heap;
	int c = expected_class(size, align);
	size_t n = expected_used(size, align), a = c >= 0 ? n : align;
	struct heap_stats fb;

	if (c >= 0 && h->classes[c].count > 0)
		return true;
	list_heap_stats(&h->fallback, &fb);
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

KTEST(block_heap, class_alloc_pops_or_refills, 2)
{
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	/* an empty list: a new block from the fallback, aligned to its size */
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		uint8_t *p = block_heap_class_alloc(&h, c);
		size_t size = block_heap_class_size(c);
		if (!p || (uintptr_t)p % size || list_heap_alloc_size(&h.fallback, p) != size)
			FAIL(t,
			     "block_heap_class_alloc(class %d) = %p: not a %zu-byte fallback block "
			     "aligned to %zu",
			     c, p, size, size);
	}
	EXPECT_EQ(t, fallback_live(&h), BLOCK_HEAP_CLASSES);

	/* a block on the list: popped, no fallback call */
	struct block_free *b = block_heap_class_alloc(&h, 2);
	ASSERT_NOT_NULL(t, b);
	b->next = NULL;
	h.classes[2].head = b;
	h.classes[2].count = 1;
	/* should be: class 2: head -> b */
	EXPECT_EQ(t, block_heap_class_alloc(&h, 2), (void *)b);
	EXPECT_NULL(t, h.classes[2].head);
	EXPECT_EQ(t, h.classes[2].count, 0);
	EXPECT_EQ(t, fallback_live(&h), BLOCK_HEAP_CLASSES + 1);
}

/* --- step 3 ----------------------------------------------------------------------------------- */

KTEST(block_heap, class_free_pushes_until_the_cap, 2)
{
	const struct block_heap_config cap2 = {.prefill = 0, .cap = 2};
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &cap2);
	void *a = block_heap_class_alloc(&h, 3), *b = block_heap_class_alloc(&h, 3),
	     *c = block_heap_class_alloc(&h, 3);
	ASSERT_NOT_NULL(t, c);
	block_heap_class_free(&h, 3, a);
	/* should be: class 3: head -> a */
	EXPECT_EQ(t, h.classes[3].head, a);
	EXPECT_EQ(t, h.classes[3].count, 1);
	block_heap_class_free(&h, 3, b);
	/* should be: class 3: head -> b -> a */
	ASSERT_EQ(t, h.classes[3].head, b);
	EXPECT_EQ(t, h.classes[3].head->next, a);
	EXPECT_EQ(t, h.classes[3].count, 2);
	EXPECT_EQ(t, fallback_live(&h), 3);
	block_heap_class_free(&h, 3, c);
	/* the list is at its cap: c goes back to the fallback */
	EXPECT_EQ(t, h.classes[3].head, b);
	EXPECT_EQ(t, h.classes[3].count, 2);
	EXPECT_EQ(t, fallback_live(&h), 2);
}

/* --- step 4 ----------------------------------------------------------------------------------- */

KTEST(block_heap, prefill_fills_every_class, 1)
{
	const struct block_heap_config fill3 = {.prefill = 3, .cap = 8};
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &fill3);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		unsigned n = 0;
		for (struct block_free *b = h.classes[c].head; b && n < 10; b = b->next)
			n++;
		if (n != 3 || h.classes[c].count != 3)
			FAIL(t, "class %d has %u blocks on its list (count %u), expected 3", c, n,
			     h.classes[c].count);
	}
	EXPECT_EQ(t, fallback_live(&h), 3 * BLOCK_HEAP_CLASSES);

	/* an arena too small for it all: filling stops, quietly, at the first class that
	 * cannot get one more block */
	block_heap_init(&h, arena, 1024, &fill3);
	int c = 0;
	while (c < BLOCK_HEAP_CLASSES && h.classes[c].count == 3)
		c++;
	ASSERT_LT(t, c, BLOCK_HEAP_CLASSES);
	size_t size = block_heap_class_size(c);
	EXPECT_NULL(t, list_heap_alloc(&h.fallback, size, size));
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
			/* should be: class c: head -> p */
			EXPECT_EQ(t, h.classes[c].head, (void *)p);
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
	EXPECT_EQ(t, fallback_live(&h), 2);
	block_heap_free(&h, small); /* to the 2048 class */
	EXPECT_EQ(t, h.classes[BLOCK_HEAP_CLASSES - 1].head, small);
	EXPECT_EQ(t, fallback_live(&h), 2);
	block_heap_free(&h, big); /* back to the fallback */
	EXPECT_EQ(t, fallback_live(&h), 1);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		EXPECT_EQ(t, h.classes[c].count, c == BLOCK_HEAP_CLASSES - 1 ? 1u : 0u);
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
	EXPECT_EQ(t, h.classes[5].head, (void *)a);
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
	/* should be: class c: head -> p[c], one block each */
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		if (h.classes[c].head != p[c] || h.classes[c].count != 1)
			FAIL(t, "class %d: head %p (count %u), expected %p alone", c,
			     (void *)h.classes[c].head, h.classes[c].count, p[c]);
		/* and the next allocation of the class reuses it */
		EXPECT_EQ(t, block_heap_alloc(&h, block_heap_class_size(c), 1), p[c]);
	}
}

KTEST(block_heap, cap_honoured, 2)
{
	const struct block_heap_config cap4 = {.prefill = 0, .cap = 4};
	struct block_heap h;
	void *p[10];

	block_heap_init(&h, arena, ARENA_SIZE, &cap4);
	for (int i = 0; i < 10; i++)
		p[i] = block_heap_alloc(&h, 64, 1);
	ASSERT_NOT_NULL(t, p[9]);
	for (int i = 0; i < 10; i++)
		block_heap_free(&h, p[i]);
	/* 4 stay on the 64-byte list, 6 went back to the fallback */
	EXPECT_EQ(t, h.classes[3].count, 4);
	EXPECT_EQ(t, fallback_live(&h), 4);
	EXPECT_EQ(t, h.live_allocs, 0);

	/* cap 0: no list keeps anything */
	const struct block_heap_config cap0 = {.prefill = 0, .cap = 0};
	block_heap_init(&h, arena, ARENA_SIZE, &cap0);
	block_heap_free(&h, block_heap_alloc(&h, 64, 1));
	EXPECT_EQ(t, h.classes[3].count, 0);
	EXPECT_EQ(t, fallback_live(&h), 0);
}

KTEST(block_heap, stats_exact, 2)
{
	struct block_heap h;
	struct heap_stats s;

	block_heap_init(&h, arena, PAGE_SIZE, &no_prefill);
	void *p = block_heap_alloc(&h, 20, 8);
	/* a 32-byte block aligned to 32: header at +16, payload at +32; free [+0, 16) and
	 * [+64, 4096) */
	EXPECT_EQ(t, p, (void *)(arena + 32));
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, PAGE_SIZE);
	EXPECT_EQ(t, s.used_bytes, 32);
	EXPECT_EQ(t, s.overhead_bytes, 16);
	EXPECT_EQ(t, s.free_bytes, PAGE_SIZE - 48);
	EXPECT_EQ(t, s.largest_free, PAGE_SIZE - 64);
	EXPECT_EQ(t, s.free_regions, 2);
	EXPECT_EQ(t, s.live_allocs, 1);

	block_heap_free(&h, p);
	/* on the 32-byte list now: free, still with its fallback header */
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 0);
	EXPECT_EQ(t, s.overhead_bytes, 16);
	EXPECT_EQ(t, s.free_bytes, PAGE_SIZE - 16);
	EXPECT_EQ(t, s.free_regions, 3);
	EXPECT_EQ(t, s.live_allocs, 0);

	void *big = block_heap_alloc(&h, 3000, 8);
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 3000);
	EXPECT_EQ(t, s.overhead_bytes, 32);
	block_heap_free(&h, big);
	block_heap_drain(&h);
	/* drained: the fallback is whole again */
	block_heap_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, PAGE_SIZE);
	EXPECT_EQ(t, s.overhead_bytes, 0);
	EXPECT_EQ(t, s.free_regions, 1);
}

KTEST(block_heap, double_free_and_foreign_pointers_panic, 2)
{
	struct block_heap h;
	uint64_t local;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	void *a = block_heap_alloc(&h, 32, 8), *big = block_heap_alloc(&h, 3000, 8);
	ASSERT_NOT_NULL(t, big);
	block_heap_free(&h, a);
	EXPECT_PANIC(t, "block_heap_free: double free", block_heap_free(&h, a));
	block_heap_free(&h, big);
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, big));
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, &local));
	/* a fallback allocation the block heap did not make: 100 bytes is no class size */
	void *other = list_heap_alloc(&h.fallback, 100, 8);
	EXPECT_PANIC(t, "block_heap_free: ", block_heap_free(&h, other));
	EXPECT_PANIC(t, "block_heap_alloc", block_heap_alloc(&h, 8, 12));
	EXPECT_EQ(t, h.classes[2].count, 1);
	EXPECT_EQ(t, h.live_allocs, 0);
}

KTEST(block_heap, zero_size_and_settings, 1)
{
	const struct block_heap_config bad = {.prefill = 8, .cap = 4};
	struct block_heap h;

	block_heap_init(&h, arena, ARENA_SIZE, &no_prefill);
	EXPECT_NULL(t, block_heap_alloc(&h, 0, 1));
	EXPECT_NULL(t, block_heap_alloc(&h, 0, 4096));
	block_heap_free(&h, NULL);
	EXPECT_EQ(t, fallback_live(&h), 0);
	EXPECT_PANIC(t, "block_heap_init", block_heap_init(&h, arena, ARENA_SIZE, &bad));
	/* NULL settings: the defaults */
	block_heap_init(&h, arena, ARENA_SIZE, NULL);
	EXPECT_EQ(t, h.config.cap, BLOCK_HEAP_DEFAULT_CAP);
	EXPECT_EQ(t, h.classes[0].count, BLOCK_HEAP_DEFAULT_PREFILL);
}

/*
 * Random sequences, then everything freed and the lists drained: the fallback must be one
 * region of the whole arena again.
 */
static void random_run(struct ktest *t, const struct heap_ops *ops,
		       const struct block_heap_config *config, unsigned steps)
{
	struct block_heap h;
	const struct heap_workload w = {.steps = steps, .max_size = 3000, .max_align = 4096};

	block_heap_init(&h, arena, ARENA_SIZE / 2, config);
	heap_model_init(&model, ops, &h, arena, ARENA_SIZE / 2);
	heap_random_run(t, &model, &w);
	heap_model_free_all(t, &model);
	if (model.broken) /* the lists may be garbage: do not follow them */
		return;
	block_heap_drain(&h);
	if (h.fallback.head != (void *)arena || h.fallback.head->size != ARENA_SIZE / 2 ||
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
	const struct block_heap_config small_cap = {.prefill = 2, .cap = 6};

	random_run(t, &block_ops_all, &small_cap, 1500);
}
