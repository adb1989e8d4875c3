/*
 * Lab 03: the bump allocator, on private arenas (runs in the kernel and on the host).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "bump.h"
#include "heap_check.h"
#include "kprintf.h"
#include "ktest.h"
#include "test_arena.h"

#define ARENA_SIZE (4 * PAGE_SIZE)

TEST_ARENA(arena, ARENA_SIZE, HEAP_MAX_ALIGN); /* guarded on the host: test_arena.h */

static struct heap_model model;
static size_t used_since_reset; /* what bump's used_bytes must be in a random run */

/*
 * When the last live allocation has been freed, bump must have reset: next back at start and
 * used_bytes 0 (then free_bytes is the whole arena). If it has not, what is missing, in words,
 * into buf: true. False if the reset is complete.
 */
static bool reset_missing(const struct bump *h, char *buf, size_t size)
{
	const char *what = "after the last live allocation was freed";

	if (h->next != h->start && h->used_bytes != 0)
		ksnprintf(buf, size,
			  "no reset: %s, next stayed at start + %lu and used_bytes at %zu; when "
			  "live_allocs drops to 0, bump_free must set next back to start and "
			  "used_bytes to 0",
			  what, h->next - h->start, h->used_bytes);
	else if (h->next != h->start)
		ksnprintf(buf, size,
			  "half a reset: %s, used_bytes went back to 0 but next stayed at start + "
			  "%lu (so only %lu of the arena's %lu bytes are free); bump_free must "
			  "also set next back to start",
			  what, h->next - h->start, h->end - h->next, h->end - h->start);
	else if (h->used_bytes != 0)
		ksnprintf(buf, size,
			  "half a reset: %s, next went back to start but used_bytes stayed at %zu; "
			  "bump_free must also set used_bytes to 0",
			  what, h->used_bytes);
	else
		return false;
	return true;
}

static void *ops_alloc(void *h, size_t size, size_t align)
{
	void *p = bump_alloc(h, size, align);

	used_since_reset += p ? size : 0;
	return p;
}

static void ops_free(void *h, void *p)
{
	bump_free(h, p);
	if (model.count == 0) /* the last live block: the arena is empty again */
		used_since_reset = 0;
}

static void ops_stats(const void *h, struct heap_stats *s)
{
	bump_stats(h, s);
}

/* Bump's exact accounting: used is every size since the last reset, free is one piece. */
static void ops_expect(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	const struct bump *h = m->heap;
	char why[KTRY_MSG_MAX];

	/* No live allocation: first of all, the reset must have happened (whole). */
	if (m->count == 0 && reset_missing(h, why, sizeof(why))) {
		HEAP_FAIL(t, m, "%s", why);
		return;
	}
	if (s->total_bytes != h->end - h->start || s->free_bytes != h->end - h->next ||
	    s->largest_free != s->free_bytes || s->free_regions != (s->free_bytes ? 1u : 0u))
		HEAP_FAIL(t, m,
			  "bump stats: total %zu, free %zu, largest %zu, regions %zu for the arena "
			  "[0x%lx, 0x%lx) with next 0x%lx",
			  s->total_bytes, s->free_bytes, s->largest_free, s->free_regions, h->start,
			  h->end, h->next);
	if (s->used_bytes != used_since_reset)
		HEAP_FAIL(t, m,
			  "bump stats: used %zu, but %zu bytes were allocated since the arena "
			  "was last empty",
			  s->used_bytes, used_since_reset);
}

/* Bump must succeed whenever the aligned block fits below end. */
static bool ops_must_fit(const struct heap_model *m, const struct heap_stats *s, size_t size,
			 size_t align)
{
	const struct bump *h = m->heap;
	uintptr_t aligned = (h->next + align - 1) & ~(uintptr_t)(align - 1);

	return aligned <= h->end && size <= h->end - aligned;
}

static const struct heap_ops bump_ops = {
	.name = "bump",
	.alloc = ops_alloc,
	.free = ops_free,
	.stats = ops_stats,
	.expect = ops_expect,
	.must_fit = ops_must_fit,
};

KTEST(bump, init_makes_an_empty_arena, 1)
{
	struct bump h;
	struct heap_stats s;

	memset(&h, 0xa5, sizeof(h)); /* a heap reused, or never cleared: init sets every field */
	bump_init(&h, arena, 1000);
	if (h.used_bytes != 0 || h.live_allocs != 0)
		FAIL(t,
		     "bump_init over a struct bump full of 0xa5 left used_bytes 0x%zx, live_allocs "
		     "0x%zx: it must set both to 0, whatever the struct held before",
		     h.used_bytes, h.live_allocs);
	bump_stats(&h, &s);
	/* should be: [........ 1000 bytes free ........) */
	EXPECT_EQ(t, s.total_bytes, 1000);
	EXPECT_EQ(t, s.free_bytes, 1000);
	EXPECT_EQ(t, s.largest_free, 1000);
	EXPECT_EQ(t, s.used_bytes, 0);
	EXPECT_EQ(t, s.live_allocs, 0);
	EXPECT_EQ(t, bump_alloc(&h, 1, 1), (void *)arena);
	/* an arena that would wrap around the top of the address space (never touched) */
	EXPECT_PANIC(t, "bump_init", bump_init(&h, (void *)(UINTPTR_MAX - 15), 32));
}

KTEST(bump, alignment_1_to_4096, 2)
{
	struct bump h;

	for (size_t align = 1; align <= HEAP_MAX_ALIGN; align *= 2) {
		bump_init(&h, arena, ARENA_SIZE);
		/* One byte first, so that next is odd and every alignment has work to do. */
		uint8_t *first = bump_alloc(&h, 1, 1);
		uint8_t *p = bump_alloc(&h, 8, align);
		/* should be: the first multiple of align after arena + 1 */
		uintptr_t want = ((uintptr_t)arena + 1 + align - 1) & ~(uintptr_t)(align - 1);

		EXPECT_EQ(t, first, arena);
		if ((uintptr_t)p != want)
			FAIL(t,
			     "bump_alloc(8, %zu) after 1 byte returned %p, expected %p (arena %p)",
			     align, p, (void *)want, arena);
	}
}

KTEST(bump, exhaustion_returns_null, 2)
{
	struct bump h;
	struct heap_stats before, after;

	bump_init(&h, arena, 256);
	ASSERT_NOT_NULL(t, bump_alloc(&h, 200, 1));
	bump_stats(&h, &before);
	/* 56 bytes left: 100 do not fit, nor 50 at the next multiple of 64 (256), and the
	 * failures change nothing */
	EXPECT_NULL(t, bump_alloc(&h, 100, 1));
	EXPECT_NULL(t, bump_alloc(&h, 50, 64));
	bump_stats(&h, &after);
	EXPECT_EQ(t, after.free_bytes, before.free_bytes);
	EXPECT_EQ(t, after.used_bytes, before.used_bytes);
	EXPECT_EQ(t, after.live_allocs, 1);
	/* the 56 bytes are still there */
	EXPECT_EQ(t, bump_alloc(&h, 56, 1), (void *)(arena + 200));
	EXPECT_NULL(t, bump_alloc(&h, 1, 1));
}

KTEST(bump, one_byte_left, 1)
{
	struct bump h;

	bump_init(&h, arena, 64);
	ASSERT_NOT_NULL(t, bump_alloc(&h, 63, 1));
	/* should be: [63 bytes used | 1 byte free] */
	EXPECT_EQ(t, bump_alloc(&h, 1, 1), (void *)(arena + 63));
	EXPECT_NULL(t, bump_alloc(&h, 1, 1));
	/* a 2-aligned byte would not fit at 64 either */
	bump_init(&h, arena, 64);
	ASSERT_NOT_NULL(t, bump_alloc(&h, 63, 1));
	EXPECT_NULL(t, bump_alloc(&h, 1, 2));
}

KTEST(bump, zero_size_returns_null, 1)
{
	struct bump h;
	struct heap_stats s;

	bump_init(&h, arena, 64);
	EXPECT_NULL(t, bump_alloc(&h, 0, 1));
	EXPECT_NULL(t, bump_alloc(&h, 0, HEAP_MAX_ALIGN));
	bump_free(&h, NULL);
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, 64);
	EXPECT_EQ(t, s.live_allocs, 0);
	EXPECT_EQ(t, bump_alloc(&h, 1, 1), (void *)arena);
}

KTEST(bump, reset_after_free_all, 2)
{
	struct bump h;
	struct heap_stats s;

	bump_init(&h, arena, 256);
	void *a = bump_alloc(&h, 10, 1), *b = bump_alloc(&h, 20, 8), *c = bump_alloc(&h, 30, 16);
	ASSERT_NOT_NULL(t, c);
	memset(a, 'a', 10);
	memset(b, 'b', 20);
	memset(c, 'c', 30);
	bump_free(&h, a);
	bump_free(&h, c);
	/* b is still live: nothing can be reused yet */
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.live_allocs, 1);
	EXPECT_EQ(t, s.free_bytes, 256 - 78); /* a [0, 10), b [16, 36), c [48, 78) */
	bump_free(&h, b);
	/* none live: first the reset (next at start, used 0), then what was handed out poisoned */
	if (h.live_allocs != 0) {
		FAIL(t,
		     "after all three allocations were freed, live_allocs is %zu: each bump_free "
		     "must count one live allocation less",
		     h.live_allocs);
		return;
	}
	char why[KTRY_MSG_MAX];
	if (reset_missing(&h, why, sizeof(why))) {
		FAIL(t, "%s", why);
		return;
	}
	for (size_t i = 0; HEAP_DEBUG && i < 78; i++) {
		if (arena[i] != HEAP_POISON_BYTE) {
			FAIL(t,
			     "after the reset, byte %zu of what was handed out is 0x%02x: fill "
			     "[start, next) with HEAP_POISON_BYTE (0x%x) before next goes back to "
			     "start",
			     i, arena[i], HEAP_POISON_BYTE);
			break;
		}
	}
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, 256);
	EXPECT_EQ(t, s.used_bytes, 0);
	EXPECT_EQ(t, s.overhead_bytes, 0);
	EXPECT_EQ(t, s.live_allocs, 0);
	EXPECT_EQ(t, bump_alloc(&h, 256, 1), (void *)arena);
}

KTEST(bump, overflow_arithmetic, 2)
{
	struct bump h;
	struct heap_stats s;

	bump_init(&h, arena, 256);
	ASSERT_NOT_NULL(t, bump_alloc(&h, 1, 1));
	/* aligned + size wraps around to just below aligned: it must not look like it fits */
	EXPECT_NULL(t, bump_alloc(&h, SIZE_MAX, 1));
	EXPECT_NULL(t, bump_alloc(&h, SIZE_MAX - 8, 16));
	EXPECT_NULL(t, bump_alloc(&h, SIZE_MAX - PAGE_SIZE, HEAP_MAX_ALIGN));
	EXPECT_NULL(t, bump_alloc(&h, SIZE_MAX / 2 + 1, 1));
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.live_allocs, 1);
	EXPECT_EQ(t, s.free_bytes, 255);

	/*
	 * An arena at the very top of the address space (never touched: bump does not write to
	 * its arena until a reset): next + align - 1 wraps.
	 */
	uintptr_t top = UINTPTR_MAX - 15;
	bump_init(&h, (void *)top, 8);
	EXPECT_NULL(t, bump_alloc(&h, 1, HEAP_MAX_ALIGN));
	EXPECT_NULL(t, bump_alloc(&h, 1, 32));
	EXPECT_EQ(t, h.next, top);
	EXPECT_EQ(t, h.live_allocs, 0);
	EXPECT_EQ(t, bump_alloc(&h, 8, 1), (void *)top);
}

KTEST(bump, extend_grows_the_arena, 2)
{
	struct bump h;
	struct heap_stats s;

	bump_init(&h, arena, 128);
	ASSERT_NOT_NULL(t, bump_alloc(&h, 100, 1));
	EXPECT_NULL(t, bump_alloc(&h, 100, 1));
	bump_extend(&h, 128);
	/* should be: [100 used | 156 free) */
	EXPECT_EQ(t, bump_alloc(&h, 100, 1), (void *)(arena + 100));
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 256);
	EXPECT_EQ(t, s.free_bytes, 56);
	/* an end that would wrap around the top of the address space (never touched) */
	bump_init(&h, (void *)(UINTPTR_MAX - 15), 8);
	EXPECT_PANIC(t, "bump_extend", bump_extend(&h, 16));
}

KTEST(bump, stats_exact, 2)
{
	struct bump h;
	struct heap_stats s;

	bump_init(&h, arena, 64);
	bump_alloc(&h, 5, 1);
	bump_alloc(&h, 8, 8);
	/* should be: [5 used | 3 padding | 8 used | 48 free) */
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 64);
	EXPECT_EQ(t, s.used_bytes, 13);
	EXPECT_EQ(t, s.overhead_bytes, 3);
	EXPECT_EQ(t, s.free_bytes, 48);
	EXPECT_EQ(t, s.largest_free, 48);
	EXPECT_EQ(t, s.free_regions, 1);
	EXPECT_EQ(t, s.live_allocs, 2);
	bump_alloc(&h, 48, 1);
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, 0);
	EXPECT_EQ(t, s.free_regions, 0);
	EXPECT_EQ(t, s.largest_free, 0);
}

KTEST(bump, alloc_size_reaches_the_bump_pointer, 1)
{
	struct bump h;

	bump_init(&h, arena, 64);
	uint8_t *a = bump_alloc(&h, 10, 1), *b = bump_alloc(&h, 6, 1);
	/* bump keeps no sizes: from a to next is 16 bytes, from b 6 */
	EXPECT_EQ(t, bump_alloc_size(&h, a), 16);
	EXPECT_EQ(t, bump_alloc_size(&h, b), 6);
	EXPECT_EQ(t, bump_alloc_size(&h, arena + 16), 0);
	EXPECT_EQ(t, bump_alloc_size(&h, arena + 64), 0);
}

/* Where p is, for a message: "arena + 16", or "NULL". */
static const char *in_arena(const void *p, char *buf, size_t size)
{
	if (!p)
		return "NULL";
	ksnprintf(buf, size, "arena + %ld", (long)((uintptr_t)p - (uintptr_t)arena));
	return buf;
}

/*
 * bump_free(h, p) must panic with "bump_free": p (the test's expression for it, expr) is what
 * `what` says, no block to free. If it returns, say so, and whether it counted p as a free.
 */
#define EXPECT_FREE_PANICS(t, h, p, what) expect_free_panics(t, h, p, #p, what, __LINE__)

static void expect_free_panics(struct ktest *t, struct bump *h, void *p, const char *expr,
			       const char *what, int line)
{
	struct ktry k;
	const size_t live = h->live_allocs;
	char where[32];

	ktry_push(&k, KTRY_PANIC);
	if (kjmp_set(k.jb) == 0) {
		bump_free(h, p);
		ktry_pop(&k);
		char counted[96] = "";
		if (h->live_allocs != live)
			ksnprintf(
				counted, sizeof(counted),
				". It also counted it as a free: live_allocs went from %zu to %zu",
				live, h->live_allocs);
		const char *at = in_arena(p, where, sizeof(where));
		ktest_fail(
			t, false, __FILE__, line,
			"expected bump_free(&h, %s) to panic with \"bump_free\", but it returned: "
			"%s%s%s%s is %s%s",
			expr, expr, strcmp(at, expr) ? " (" : "", strcmp(at, expr) ? at : "",
			strcmp(at, expr) ? ")" : "", what, counted);
	} else if (!strstr(k.res.msg, "bump_free")) {
		ktest_fail(t, false, __FILE__, line,
			   "expected bump_free(&h, %s) to panic with \"bump_free\", got: %s", expr,
			   k.res.msg);
	}
}

KTEST(bump, misuse_panics, 1)
{
	struct bump h;
	char wp[32], wq[32];

	bump_init(&h, arena + 16, 64);
	uint8_t *p = bump_alloc(&h, 8, 1), *q = bump_alloc(&h, 8, 1);
	if (p != arena + 16 || q != arena + 24) {
		FAIL(t,
		     "bump_alloc(&h, 8, 1) twice on a fresh arena [arena + 16, arena + 80) "
		     "returned p = %s and q = %s: expected arena + 16 and arena + 24, the first "
		     "two blocks one after the other",
		     in_arena(p, wp, sizeof(wp)), in_arena(q, wq, sizeof(wq)));
		return;
	}
	/* should be: [p: 8 bytes | q: 8 bytes | next ...), each edge tried on both sides */
	EXPECT_FREE_PANICS(t, &h, q + 8,
			   "the first byte past the last allocation (next): never handed out, so "
			   "it must be refused (only [start, next) was handed out)");
	EXPECT_FREE_PANICS(t, &h, arena + 48,
			   "past next (arena + 32), inside the arena but never handed out");
	EXPECT_FREE_PANICS(t, &h, arena + 200, "past the arena's end (arena + 80)");
	EXPECT_FREE_PANICS(t, &h, p - 1, "the byte before the arena's start (arena + 16)");
	/* The two frees below are legal: only if nothing above was counted as a free. */
	if (h.live_allocs != 2) {
		FAIL(t,
		     "after the frees above that should have panicked, live_allocs is %zu, not 2: "
		     "bump_free counted them; the test stops before freeing q + 7 and p, which "
		     "would find too few allocations live",
		     h.live_allocs);
		return;
	}
	bump_free(&h, q + 7); /* the last byte handed out is in [start, next): accepted */
	bump_free(&h, p);     /* the arena's first byte: accepted, and now it is empty */
	char why[KTRY_MSG_MAX];
	if (reset_missing(&h, why, sizeof(why)))
		FAIL(t, "%s", why);
	EXPECT_FREE_PANICS(
		t, &h, p,
		"freed already: the arena is empty, no allocation is live (a double free)");
	EXPECT_PANIC(t, "bump_alloc", bump_alloc(&h, 8, 3));
	EXPECT_PANIC(t, "bump_alloc", bump_alloc(&h, 8, 0));
	EXPECT_PANIC(t, "bump_alloc", bump_alloc(&h, 8, 2 * HEAP_MAX_ALIGN));
}

/*
 * The classic that suits bump: many short-lived allocations that add up to far more than
 * the arena. Each is freed before the next, so the arena empties and resets every time.
 */
KTEST(bump, short_lived_allocations_far_exceed_the_heap, 1)
{
	struct bump h;

	bump_init(&h, arena, 1024);
	for (int i = 0; i < 1000; i++) { /* 100 KB through a 1 KiB heap */
		void *p = bump_alloc(&h, 100, 8);
		if (p != arena) {
			FAIL(t, "allocation %d returned %p, expected the arena's start %p", i, p,
			     arena);
			return;
		}
		bump_free(&h, p);
	}
}

/*
 * The classic that breaks bump: the same loop while one allocation stays live. The count
 * never drops to zero, nothing is ever reused, and the arena runs out after (1024 - 16) / 100
 * = 10 of the short-lived blocks: the 11th returns NULL. Lab 04's list heap passes this.
 */
KTEST(bump, one_long_lived_allocation_exhausts_it, 2)
{
	struct bump h;
	int i;

	bump_init(&h, arena, 1024);
	void *keep = bump_alloc(&h, 16, 1);
	ASSERT_NOT_NULL(t, keep);
	for (i = 0; i < 1000; i++) {
		void *p = bump_alloc(&h, 100, 1);
		if (!p)
			break;
		bump_free(&h, p);
	}
	EXPECT_EQ(t, i, 10);
	/* once the long-lived one goes, the arena resets and the loop could go on */
	bump_free(&h, keep);
	EXPECT_EQ(t, bump_alloc(&h, 100, 1), (void *)arena);
}

KTEST(bump, random_sequence, 3)
{
	struct bump h;
	const struct heap_workload w = {.steps = 3000, .max_size = 2048, .max_align = 256};

	bump_init(&h, arena, ARENA_SIZE);
	heap_model_init(&model, &bump_ops, &h, arena, ARENA_SIZE);
	used_since_reset = 0;
	heap_random_run(t, &model, &w);
	heap_model_free_all(t, &model);
	if (model.broken) /* a check failed and said why: the run stopped there */
		return;
	/* everything freed: the arena is one free piece again */
	struct heap_stats s;
	bump_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, ARENA_SIZE);
	EXPECT_GT(t, model.allocs, w.steps / 4);
}
