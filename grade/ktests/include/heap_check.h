/*
 * Checking a heap allocator from the outside, for the tests of labs 03, 04 and 05 (one piece
 * of code for the three). A struct heap_model records the blocks a test holds and checks
 * every allocation against them: aligned, inside the arena, apart from every other live
 * block; each block is filled with a pattern that must still be there when it is freed (an
 * allocator that writes into a live block is caught); the stats must add up and count the
 * live blocks. heap_random_run drives a randomized alloc/free sequence through it.
 *
 *     static struct heap_model m;        // static: too big for a kernel stack
 *     heap_model_init(&m, &bump_heap_ops, &h, arena, sizeof(arena));
 *     void *p = heap_model_alloc(t, &m, 100, 16);
 *     heap_model_free_all(t, &m);
 *
 * Failures name the step, the request and the blocks involved, with the seed to replay
 * them (make grade SEED=N).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "heap.h"
#include "ktest.h"

#define HEAP_MODEL_BLOCKS 160 /* the most blocks a model holds */
#define HEAP_RANDOM_LIVE  48  /* the most blocks live at once in a random run, by default */

struct heap_model;

/* How to drive one allocator; the tests of each lab define one (wrappers with void *). */
struct heap_ops {
	const char *name;
	void *(*alloc)(void *heap, size_t size, size_t align);
	void (*free)(void *heap, void *p);
	void (*stats)(const void *heap, struct heap_stats *s);
	/* Optional: the exact expectations of this allocator about its stats. */
	void (*expect)(struct ktest *t, struct heap_model *m, const struct heap_stats *s);
	/* Optional: true if alloc(size, align) cannot fail in this state (checked on NULL). */
	bool (*must_fit)(const struct heap_model *m, const struct heap_stats *s, size_t size,
			 size_t align);
};

struct heap_block {
	uint8_t *p;
	size_t size, align;
	uint8_t fill;  /* every byte of the block holds it */
	unsigned step; /* the step that allocated it */
};

struct heap_model {
	const struct heap_ops *ops;
	void *heap;
	uintptr_t lo, hi; /* every block must lie in [lo, hi) */
	struct heap_block blocks[HEAP_MODEL_BLOCKS];
	int count;
	size_t live_bytes; /* sum of the sizes of the blocks */
	unsigned step;	   /* allocations and frees so far */
	unsigned allocs, failed, frees;
	bool broken; /* a check failed: stop driving */
};

static inline void heap_model_init(struct heap_model *m, const struct heap_ops *ops, void *heap,
				   const void *arena, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->ops = ops;
	m->heap = heap;
	m->lo = (uintptr_t)arena;
	m->hi = (uintptr_t)arena + len;
}

/* Record a failure with the context of the model. */
#define HEAP_FAIL(t, m, fmt, ...)                                                 \
	do {                                                                      \
		FAIL(t, "%s, seed %llu, step %u: " fmt, (m)->ops->name,           \
		     (unsigned long long)ktest_seed(), (m)->step, ##__VA_ARGS__); \
		(m)->broken = true;                                               \
	} while (0)

/* The stats must add up, count the live blocks, and meet the allocator's own expectations. */
static inline void heap_model_check(struct ktest *t, struct heap_model *m)
{
	struct heap_stats s;

	m->ops->stats(m->heap, &s);
	if (s.used_bytes + s.free_bytes + s.overhead_bytes != s.total_bytes)
		HEAP_FAIL(t, m,
			  "stats do not add up: used %zu + free %zu + overhead %zu != total %zu",
			  s.used_bytes, s.free_bytes, s.overhead_bytes, s.total_bytes);
	if (s.live_allocs != (size_t)m->count)
		HEAP_FAIL(t, m, "stats say %zu live allocations, the test holds %d", s.live_allocs,
			  m->count);
	if (s.largest_free > s.free_bytes || (s.free_regions == 0) != (s.free_bytes == 0) ||
	    (s.largest_free == 0) != (s.free_bytes == 0))
		HEAP_FAIL(t, m, "stats disagree: free %zu bytes in %zu regions, largest %zu",
			  s.free_bytes, s.free_regions, s.largest_free);
	if (m->ops->expect)
		m->ops->expect(t, m, &s);
}

/* The fill byte of the block allocated at a step: never 0, never the poison byte. */
static inline uint8_t heap_model_fill(unsigned step)
{
	uint8_t f = (uint8_t)(step * 37u + 1u);

	return f == 0 || f == HEAP_POISON_BYTE ? 0x5a : f;
}

/*
 * alloc(size, align) through the allocator, checked: aligned, inside the arena, overlapping
 * no live block. Records and fills the block; returns it (NULL if the allocator had no room:
 * a failure only if must_fit says it has). Also checks the stats afterwards.
 */
static inline void *heap_model_alloc(struct ktest *t, struct heap_model *m, size_t size,
				     size_t align)
{
	struct heap_stats before;

	m->ops->stats(m->heap, &before);
	m->step++;
	uint8_t *p = m->ops->alloc(m->heap, size, align);
	uintptr_t a = (uintptr_t)p;

	if (!p) {
		m->failed++;
		if (size > 0 && m->ops->must_fit && m->ops->must_fit(m, &before, size, align))
			HEAP_FAIL(t, m,
				  "alloc(%zu, %zu) returned NULL, but %zu bytes are free (largest "
				  "piece %zu): it must fit",
				  size, align, before.free_bytes, before.largest_free);
		struct heap_stats after;
		m->ops->stats(m->heap, &after);
		if (memcmp(&before, &after, sizeof(before)))
			HEAP_FAIL(t, m,
				  "alloc(%zu, %zu) returned NULL but changed the stats (used "
				  "%zu -> %zu, free %zu -> %zu)",
				  size, align, before.used_bytes, after.used_bytes,
				  before.free_bytes, after.free_bytes);
		heap_model_check(t, m);
		return NULL;
	}
	if (size == 0)
		HEAP_FAIL(t, m, "alloc(0, %zu) returned %p instead of NULL", align, p);
	if (a % align)
		HEAP_FAIL(t, m, "alloc(%zu, %zu) returned %p, not a multiple of %zu", size, align,
			  p, align);
	if (a < m->lo || a > m->hi || size > m->hi - a)
		HEAP_FAIL(t, m,
			  "alloc(%zu, %zu) returned %p: the block is not inside the arena "
			  "[0x%lx, 0x%lx)",
			  size, align, p, m->lo, m->hi);
	for (int i = 0; i < m->count; i++) {
		const struct heap_block *b = &m->blocks[i];
		if (a < (uintptr_t)b->p + b->size && (uintptr_t)b->p < a + size)
			HEAP_FAIL(t, m,
				  "alloc(%zu, %zu) returned [%p, +%zu), which overlaps the "
				  "live block [%p, +%zu) from step %u",
				  size, align, p, size, b->p, b->size, b->step);
	}
	if (m->broken)
		return p;
	if (m->count == HEAP_MODEL_BLOCKS) {
		HEAP_FAIL(t, m, "the test holds more than %d blocks", HEAP_MODEL_BLOCKS);
		return p;
	}
	struct heap_block *b = &m->blocks[m->count++];
	*b = (struct heap_block){p, size, align, heap_model_fill(m->step), m->step};
	memset(p, b->fill, size);
	m->live_bytes += size;
	m->allocs++;
	heap_model_check(t, m);
	return p;
}

/* Free the i-th block the model holds, after checking that nobody wrote into it. */
static inline void heap_model_free_index(struct ktest *t, struct heap_model *m, int i)
{
	struct heap_block b = m->blocks[i];

	m->step++;
	for (size_t k = 0; k < b.size; k++) {
		if (b.p[k] != b.fill) {
			HEAP_FAIL(t, m,
				  "block [%p, +%zu) from step %u was overwritten at offset "
				  "%zu (0x%02x, not 0x%02x) while it was live",
				  b.p, b.size, b.step, k, b.p[k], b.fill);
			break;
		}
	}
	m->blocks[i] = m->blocks[--m->count];
	m->live_bytes -= b.size;
	m->ops->free(m->heap, b.p);
	m->frees++;
	heap_model_check(t, m);
}

/* Free block p (which the model must hold). */
static inline void heap_model_free(struct ktest *t, struct heap_model *m, void *p)
{
	for (int i = 0; i < m->count; i++) {
		if (m->blocks[i].p == p) {
			heap_model_free_index(t, m, i);
			return;
		}
	}
	HEAP_FAIL(t, m, "the test frees %p, which it does not hold", p);
}

/* Free every block, in a random order. */
static inline void heap_model_free_all(struct ktest *t, struct heap_model *m)
{
	while (m->count > 0 && !m->broken)
		heap_model_free_index(t, m, (int)ktest_random_range(t, 0, (uint64_t)m->count - 1));
}

/* A randomized workload: how long, how big, how aligned, how many blocks live at most. */
struct heap_workload {
	unsigned steps;
	size_t max_size;   /* the largest request */
	size_t max_align;  /* the largest alignment, a power of two */
	unsigned max_live; /* at most HEAP_MODEL_BLOCKS; 0: HEAP_RANDOM_LIVE */
	/* Optional: draws a request's size (at most max); NULL: heap_random_size. */
	size_t (*size)(struct ktest *t, size_t max);
};

/* A random power of two from 1 to max. */
static inline size_t heap_random_align(struct ktest *t, size_t max)
{
	size_t a = 1;
	uint64_t r = ktest_random_range(t, 0, 99);

	if (r < 60)
		a = (size_t)1 << ktest_random_range(t, 0, 3); /* 1 .. 8 */
	else if (r < 90)
		a = (size_t)1 << ktest_random_range(t, 4, 6); /* 16 .. 64 */
	else
		a = (size_t)1 << ktest_random_range(t, 7, 12); /* 128 .. 4096 */
	return a > max ? max : a;
}

/* A random size: mostly small, sometimes large, as in a kernel. */
static inline size_t heap_random_size(struct ktest *t, size_t max)
{
	uint64_t r = ktest_random_range(t, 0, 99);
	size_t n;

	if (r < 50)
		n = ktest_random_range(t, 1, 32);
	else if (r < 80)
		n = ktest_random_range(t, 33, 256);
	else if (r < 95)
		n = ktest_random_range(t, 257, 1024);
	else
		n = ktest_random_range(t, 1025, max > 1025 ? max : 1025);
	return n > max ? max : n;
}

/*
 * Run w->steps random operations: phases that mostly allocate alternate with phases that
 * mostly free (so the heap also empties now and then), up to w->max_live blocks live, sizes
 * (w->size, or as above) and alignments drawn, an occasional request of 0 bytes. Every
 * operation is checked as heap_model_alloc and heap_model_free say. Stops at the first
 * failure. Frees nothing at the end.
 */
static inline void heap_random_run(struct ktest *t, struct heap_model *m,
				   const struct heap_workload *w)
{
	unsigned alloc_percent = 70;
	int live = w->max_live ? (int)w->max_live : HEAP_RANDOM_LIVE;

	if (live > HEAP_MODEL_BLOCKS) {
		HEAP_FAIL(t, m, "the workload keeps up to %d blocks live, the model holds %d", live,
			  HEAP_MODEL_BLOCKS);
		return;
	}
	for (unsigned i = 0; i < w->steps && !m->broken; i++) {
		if (ktest_random_range(t, 0, 49) == 0) /* a new phase */
			alloc_percent = alloc_percent == 70 ? 30 : 70;
		bool alloc = m->count == 0 ||
			     (m->count < live && ktest_random_range(t, 0, 99) < alloc_percent);
		if (!alloc) {
			heap_model_free_index(
				t, m, (int)ktest_random_range(t, 0, (uint64_t)m->count - 1));
			continue;
		}
		size_t size = 0; /* now and then */
		if (ktest_random_range(t, 0, 99) != 0)
			size = w->size ? w->size(t, w->max_size) : heap_random_size(t, w->max_size);
		heap_model_alloc(t, m, size, heap_random_align(t, w->max_align));
	}
}
