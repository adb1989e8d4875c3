/*
 * Lab 04: the linked-list allocator, step by step and then as a whole, on private arenas
 * (runs in the kernel and on the host). Headers and list nodes are 16 bytes, sizes round up
 * to 8: a block for n bytes takes 16 + round_up(n, 8).
 */
#include <stddef.h>
#include <stdint.h>
#include "heap_check.h"
#include "ktest.h"
#include "test_arena.h"
#include "list_check.h"
#include "list_heap.h"

#define ARENA_SIZE (16 * PAGE_SIZE)

TEST_ARENA(arena, ARENA_SIZE, HEAP_MAX_ALIGN); /* guarded on the host: test_arena.h */
static struct heap_model model;
static char text[200];

/* The bytes of the block list_heap_alloc(size) takes: header + size rounded up to 8. */
static size_t block_bytes(size_t size)
{
	return LIST_HEAP_HEADER + ((size + LIST_HEAP_GRAIN - 1) & ~(size_t)(LIST_HEAP_GRAIN - 1));
}

static const char *shape(const struct list_heap *h)
{
	return list_describe(h, arena, ARENA_SIZE, text, sizeof(text));
}

/* The list must be exactly these regions, given as offsets in the arena and sizes. */
#define EXPECT_LIST(t, h, ...)                                                            \
	do {                                                                              \
		const size_t want_[] = {__VA_ARGS__};                                     \
		expect_list(t, h, want_, sizeof(want_) / sizeof(want_[0]) / 2, __LINE__); \
	} while (0)

static void expect_list(struct ktest *t, const struct list_heap *h, const size_t *want, size_t n,
			int line)
{
	const struct list_region *r = h->head;

	for (size_t i = 0; i < n; i++, r = r->next) {
		if (!r || (uint8_t *)r != arena + want[2 * i] || r->size != want[2 * i + 1]) {
			FAIL(t, "line %d: free region %zu should be [+%zu, +%zu), the list is %s",
			     line, i, want[2 * i], want[2 * i] + want[2 * i + 1], shape(h));
			return;
		}
	}
	if (r)
		FAIL(t, "line %d: the list should have %zu regions, it is %s", line, n, shape(h));
}

/* A stretch of the arena, [lo, hi): a free region, or memory given back to the heap. */
struct span {
	uintptr_t lo, hi;
};

#define SPANS_MAX 32

/* Offset of an address in the arena, for the messages. */
static long off(uintptr_t a)
{
	return (long)(a - (uintptr_t)arena);
}

/* The regions of h's list in s; -1 if the list is longer than SPANS_MAX, or leaves the arena
 * (list_describe says where): then the checks that need the whole list say nothing. */
static int list_spans(const struct list_heap *h, struct span *s)
{
	uintptr_t lo = (uintptr_t)arena, hi = lo + ARENA_SIZE;
	int n = 0;

	for (const struct list_region *r = h->head; r; r = r->next) {
		if (n == SPANS_MAX || !list_node_readable(r, lo, hi) || r->size > hi - (uintptr_t)r)
			return -1;
		s[n++] = (struct span){(uintptr_t)r, (uintptr_t)r + r->size};
	}
	return n;
}

/* The first address of [lo, hi) that no region of s covers, with the end of that uncovered
 * stretch in *end; hi if all of it is covered. */
static uintptr_t uncovered(const struct span *s, int n, uintptr_t lo, uintptr_t hi, uintptr_t *end)
{
	uintptr_t x = lo;

	for (bool moved = true; moved && x < hi;) {
		moved = false;
		for (int i = 0; i < n; i++)
			if (s[i].lo <= x && x < s[i].hi) {
				x = s[i].hi;
				moved = true;
			}
	}
	if (x >= hi)
		return hi;
	*end = hi;
	for (int i = 0; i < n; i++)
		if (s[i].lo > x && s[i].lo < *end)
			*end = s[i].lo;
	return x;
}

/* What a message calls old, a free region before [lo, hi) was given back. */
static const char *whose(const struct span *old, uintptr_t lo, uintptr_t hi)
{
	return old->lo == hi   ? "the region after it"
	       : old->hi == lo ? "the region before it"
			       : "a free region";
}

/*
 * Step 4 was just given [lo, hi) back by who ("free" or "list_heap_add_region"; what: "the
 * freed block" or "the added memory"), and the list before was old[0 .. n_old). Expect what
 * it must have done: every byte that was free, and every byte of [lo, hi), on the list; and
 * [lo, hi) merged with the region that ends where it starts (the region before it) and with
 * the one that starts where it ends (the region after it). Otherwise say which, and end the
 * test: what follows would only fail for the same reason.
 */
static void expect_merged(struct ktest *t, const struct list_heap *h, const struct span *old,
			  int n_old, uintptr_t lo, uintptr_t hi, const char *what, const char *who,
			  int line)
{
	struct span now[SPANS_MAX];
	int n = list_spans(h, now);
	uintptr_t gap, end = 0;
	bool before = false;

	if (n < 0 || n_old < 0)
		return; /* EXPECT_LIST and the invariants say what is wrong with such a list */
	for (int i = 0; i < n_old; i++)
		before |= old[i].hi == lo;
	gap = uncovered(now, n, lo, hi, &end);
	if (gap < hi)
		ktest_fail(t, true, __FILE__, line,
			   "%s [+%ld, +%ld) is not all on the list: its bytes [+%ld, +%ld) are in "
			   "no free region, the list is %s. %s",
			   what, off(lo), off(hi), off(gap), off(end), shape(h),
			   before ? "When it merges with the region before it, that region must "
				    "grow by its size (prev->size += size)"
				  : "Step 4 must link a node for it, or merge it into a neighbour");
	for (int i = 0; i < n_old; i++) {
		gap = uncovered(now, n, old[i].lo, old[i].hi, &end);
		if (gap == old[i].hi)
			continue;
		char part[48] = "";
		if (gap != old[i].lo || end != old[i].hi)
			ksnprintf(part, sizeof(part), " (its bytes [+%ld, +%ld))", off(gap),
				  off(end));
		ktest_fail(
			t, true, __FILE__, line,
			"after %s [+%ld, +%ld) was given back, %s, [+%ld, +%ld), went missing%s: "
			"no free region holds %s, the list is %s.%s",
			what, off(lo), off(hi), whose(&old[i], lo, hi), off(old[i].lo),
			off(old[i].hi), part, part[0] ? "them" : "it", shape(h),
			old[i].lo == hi ? " It was unlinked, but its size was not added to the "
					  "merged region's (size += next->size)"
					: "");
	}
	/* Every byte is there: now [lo, hi) must be inside one region, touching no other. */
	for (int i = 0; i < n; i++) {
		if (now[i].hi == lo)
			ktest_fail(
				t, true, __FILE__, line,
				"the region before it, [+%ld, +%ld), ends where %s [+%ld, +%ld) "
				"starts: %s must merge with it too (prev->size += size). The list "
				"is %s",
				off(now[i].lo), off(now[i].hi), what, off(lo), off(hi), who,
				shape(h));
		if (now[i].lo == hi)
			ktest_fail(
				t, true, __FILE__, line,
				"the region after it, [+%ld, +%ld), starts where %s [+%ld, +%ld) "
				"ends: %s must merge with it too (absorb it: size += next->size, "
				"unlink it). The list is %s",
				off(now[i].lo), off(now[i].hi), what, off(lo), off(hi), who,
				shape(h));
	}
}

/* list_heap_free(h, p), then expect_merged for its block. */
#define FREE_MERGED(t, h, p) free_merged(t, h, p, __LINE__)

static void free_merged(struct ktest *t, struct list_heap *h, void *p, int line)
{
	struct span old[SPANS_MAX];
	int n_old = list_spans(h, old);
	size_t size = list_heap_alloc_size(h, p);
	uintptr_t lo = (uintptr_t)p - LIST_HEAP_HEADER;

	list_heap_free(h, p);
	if (size)
		expect_merged(t, h, old, n_old, lo, lo + block_bytes(size), "the freed block",
			      "free", line);
}

/* list_heap_add_region(h, start, len), then expect_merged for the memory it adds. */
#define ADD_MERGED(t, h, start, len) add_merged(t, h, start, len, __LINE__)

static void add_merged(struct ktest *t, struct list_heap *h, uint8_t *start, size_t len, int line)
{
	struct span old[SPANS_MAX];
	int n_old = list_spans(h, old);

	list_heap_add_region(h, start, len);
	expect_merged(t, h, old, n_old, (uintptr_t)start, (uintptr_t)start + len,
		      "the added memory", "list_heap_add_region", line);
}

static void *ops_alloc(void *h, size_t size, size_t align)
{
	return list_heap_alloc(h, size, align);
}

static void ops_free(void *h, void *p)
{
	list_heap_free(h, p);
}

static void ops_stats(const void *h, struct heap_stats *s)
{
	list_heap_stats(h, s);
}

/* used: the sizes asked for; overhead: a header per block and the rounding; a sound list. */
static void ops_expect(struct ktest *t, struct heap_model *m, const struct heap_stats *s)
{
	size_t overhead = 0;

	for (int i = 0; i < m->count; i++)
		overhead += block_bytes(m->blocks[i].size) - m->blocks[i].size;
	if (s->used_bytes != m->live_bytes || s->overhead_bytes != overhead)
		HEAP_FAIL(t, m,
			  "list_heap stats: used %zu, overhead %zu; the live blocks make used %zu, "
			  "overhead %zu (16 per header + rounding)",
			  s->used_bytes, s->overhead_bytes, m->live_bytes, overhead);
	if (!list_check_invariants(t, m->heap))
		m->broken = true;
}

/* With the largest region this big, the block fits whatever the alignment does. */
static bool ops_must_fit(const struct heap_model *m, const struct heap_stats *s, size_t size,
			 size_t align)
{
	size_t need = block_bytes(size) + align + LIST_HEAP_GRAIN + LIST_HEAP_NODE;

	return size < ARENA_SIZE && need <= s->largest_free;
}

static const struct heap_ops list_ops = {
	.name = "list_heap",
	.alloc = ops_alloc,
	.free = ops_free,
	.stats = ops_stats,
	.expect = ops_expect,
	.must_fit = ops_must_fit,
};

/* --- step 1 ----------------------------------------------------------------------------------- */

KTEST(list_heap, add_free_region_links_a_node, 1)
{
	struct list_region *head = NULL;
	struct list_region *a = (void *)(arena + 256), *b = (void *)arena,
			   *c = (void *)(arena + 128);

	list_heap_add_free_region(&head, (uintptr_t)a, 64);
	/* should be: head -> a */
	EXPECT_EQ(t, head, a);
	EXPECT_EQ(t, a->size, 64);
	EXPECT_NULL(t, a->next);
	list_heap_add_free_region(&head, (uintptr_t)b, 32);
	/* should be: head -> b -> a */
	EXPECT_EQ(t, head, b);
	EXPECT_EQ(t, b->next, a);
	list_heap_add_free_region(&b->next, (uintptr_t)c, 48);
	/* should be: head -> b -> c -> a */
	EXPECT_EQ(t, b->next, c);
	EXPECT_EQ(t, c->next, a);
	EXPECT_EQ(t, c->size, 48);
}

KTEST(list_heap, init_makes_one_free_region, 1)
{
	struct list_heap h;
	struct heap_stats s;

	list_heap_init(&h, arena, 1024);
	EXPECT_LIST(t, &h, 0, 1024);
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 1024);
	EXPECT_EQ(t, s.free_bytes, 1024);
	EXPECT_EQ(t, s.free_regions, 1);

	/* trimmed to multiples of 8: [+3, +103) becomes [+8, +96) */
	list_heap_init(&h, arena + 3, 100);
	EXPECT_LIST(t, &h, 8, 88);
	/* too small for a node: an empty heap */
	list_heap_init(&h, arena, LIST_HEAP_NODE - 1);
	EXPECT_NULL(t, h.head);
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 0);
	EXPECT_EQ(t, s.free_regions, 0);
}

/* --- step 3 (alloc_from_region is what step 2 calls) ------------------------------------------ */

/* A request that a region of 128 bytes at the arena's start must reject, and why. */
static const struct {
	size_t size, align;
	const char *text, *why;
} rejects[] = {
	/* 1. the arithmetic overflows */
	{SIZE_MAX, 1, "SIZE_MAX", "case 1: size + 7, to round it up to 8, overflows"},
	{SIZE_MAX - 6, 1, "SIZE_MAX - 6", "case 1: size + 7, to round it up to 8, overflows"},
	{SIZE_MAX - 15, 8, "SIZE_MAX - 15",
	 "case 1: adding the 16-byte header to the size overflows"},
	{SIZE_MAX - 30, 8, "SIZE_MAX - 30",
	 "case 1: the block, SIZE_MAX - 7 bytes, fits in a size_t, but its end "
	 "(block + size) overflows and wraps around to just below the block"},
	{SIZE_MAX - PAGE_SIZE, PAGE_SIZE, "SIZE_MAX - PAGE_SIZE",
	 "case 1: the block's end, after the front gap of the alignment, overflows"},
	/* 2. the block ends past the region */
	{113, 1, "113", "case 2: the block, 16 + 120 bytes, ends past the region's 128"},
	{8, 256, "8", "case 2: no multiple of 256 in the region leaves room for the block"},
	/* 3. what is left is not 0 but less than a node */
	{104, 1, "104",
	 "case 3: the block, 16 + 104 = 120 bytes, would leave 8, too few for a node "
	 "(LIST_HEAP_NODE, 16 bytes): those 8 bytes could never go back on the list"},
	{97, 1, "97",
	 "case 3: the block, 16 + 104 (97 rounded up to 8) = 120 bytes, would leave 8, too "
	 "few for a node (LIST_HEAP_NODE, 16 bytes): those 8 bytes could never go back on "
	 "the list"},
};

KTEST(list_heap, alloc_from_region_rejects_three_ways, 2)
{
	struct list_region *r = (void *)arena;
	struct list_fit fit;

	r->size = 128;
	r->next = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(rejects); i++)
		if (list_heap_alloc_from_region(r, rejects[i].size, rejects[i].align, &fit))
			FAIL(t,
			     "list_heap_alloc_from_region(r, %s, %zu, &fit) accepted the region "
			     "[+0, +128): it must reject it, %s",
			     rejects[i].text, rejects[i].align, rejects[i].why);

	/* exact fit: 16 + 112 = 128, nothing left */
	ASSERT_TRUE(t, list_heap_alloc_from_region(r, 112, 1, &fit));
	EXPECT_EQ(t, fit.start, (uintptr_t)arena);
	EXPECT_EQ(t, fit.end, (uintptr_t)arena + 128);
	EXPECT_EQ(t, fit.block, (uintptr_t)arena);
	EXPECT_EQ(t, fit.size, 128);
	/* a node's worth left: 16 + 96 = 112, 16 left */
	ASSERT_TRUE(t, list_heap_alloc_from_region(r, 96, 1, &fit));
	EXPECT_EQ(t, fit.size, 112);
	ASSERT_TRUE(t, list_heap_alloc_from_region(r, 1, 1, &fit));
	EXPECT_EQ(t, fit.size, 24);
	EXPECT_EQ(t, fit.block, (uintptr_t)arena);
}

KTEST(list_heap, alloc_from_region_aligns_the_payload, 2)
{
	/* A region at arena + 8: not a multiple of anything above 8. */
	struct list_region *r = (void *)(arena + 8);
	uintptr_t start = (uintptr_t)r;
	struct list_fit fit;

	r->size = 3 * PAGE_SIZE;
	r->next = NULL;
	for (size_t align = 1; align <= HEAP_MAX_ALIGN; align *= 2) {
		/*
		 * should be: the first payload at a multiple of align with room for the header
		 * and a front gap of 0 or at least a node. Up to 8: right after the header. 16:
		 * +32 would leave a gap of 8, so +48; 32: +64 likewise; from 64 on: +align.
		 */
		uintptr_t want = align <= 8    ? start + 16
				 : align == 16 ? (uintptr_t)arena + 48
				 : align == 32 ? (uintptr_t)arena + 64
					       : (uintptr_t)arena + align;
		if (!list_heap_alloc_from_region(r, 24, align, &fit)) {
			FAIL(t,
			     "a block of 24 bytes aligned to %zu was rejected by a 12 KiB region",
			     align);
			continue;
		}
		if (fit.block + LIST_HEAP_HEADER != want || fit.size != 40)
			FAIL(t,
			     "24 bytes aligned to %zu in a region at arena + 8: payload at arena + "
			     "%ld (block of %zu bytes), expected arena + %ld (40 bytes)",
			     align, (long)(fit.block + LIST_HEAP_HEADER - (uintptr_t)arena),
			     fit.size, (long)(want - (uintptr_t)arena));
	}

	/*
	 * The front gap at its edge, 64-aligned. From arena + 32 the first payload, arena + 64,
	 * leaves a gap of 16 bytes, exactly a node: kept. From arena + 40 it would leave 8, less
	 * than a node: the payload moves on to arena + 128.
	 */
	static const struct {
		size_t start, payload;
	} edges[] = {{32, 64}, {40, 128}};
	for (size_t i = 0; i < ARRAY_SIZE(edges); i++) {
		r = (void *)(arena + edges[i].start);
		r->size = PAGE_SIZE;
		r->next = NULL;
		if (!list_heap_alloc_from_region(r, 24, 64, &fit))
			FAIL(t, "a block of 24 bytes aligned to 64 was rejected by a 4 KiB region");
		else if (fit.block + LIST_HEAP_HEADER != (uintptr_t)arena + edges[i].payload)
			FAIL(t,
			     "24 bytes aligned to 64 in a region at arena + %zu: payload at arena + "
			     "%ld, expected arena + %zu (a front gap of %zu bytes %s)",
			     edges[i].start,
			     (long)(fit.block + LIST_HEAP_HEADER - (uintptr_t)arena),
			     edges[i].payload, 48 - edges[i].start,
			     48 - edges[i].start >= LIST_HEAP_NODE ? "holds a node: kept"
								   : "cannot hold a node");
	}
}

/* --- step 2 ----------------------------------------------------------------------------------- */

/* A heap whose list is r1 [+0, 64) -> r2 [+256, 256) -> r3 [+1024, 128), made with step 1. */
static void three_regions(struct list_heap *h)
{
	list_heap_init(h, arena, 0);
	list_heap_add_free_region(&h->head, (uintptr_t)arena + 1024, 128);
	list_heap_add_free_region(&h->head, (uintptr_t)arena + 256, 256);
	list_heap_add_free_region(&h->head, (uintptr_t)arena, 64);
}

KTEST(list_heap, find_region_takes_the_first_fit, 2)
{
	struct list_heap h;
	struct list_fit fit;

	/* a heap set to best fit before: list_heap_init makes it first fit again */
	list_heap_set_fit(&h, LIST_HEAP_BEST_FIT);
	three_regions(&h);
	if (h.fit != LIST_HEAP_FIRST_FIT)
		FAIL(t,
		     "list_heap_init left the heap's fit at %d: it must make it first fit "
		     "(h->fit = LIST_HEAP_FIRST_FIT) whatever the heap was before",
		     (int)h.fit);
	/* 112 bytes need a block of 128: r1 is too small, r2 is the first that fits (r3 would
	 * fit exactly, but comes later) */
	struct list_region *r = list_heap_find_region(&h, 112, 8, &fit);
	EXPECT_EQ(t, (uint8_t *)r, arena + 256);
	EXPECT_EQ(t, fit.start, (uintptr_t)arena + 256);
	EXPECT_EQ(t, fit.block, (uintptr_t)arena + 256);
	EXPECT_EQ(t, fit.size, 128);
	/* where r2 was: r1's next */
	EXPECT_EQ(t, fit.link, &((struct list_region *)arena)->next);
	/* should be: head -> r1 -> r3 (r2 unlinked) */
	EXPECT_LIST(t, &h, 0, 64, 1024, 128);
}

KTEST(list_heap, best_fit_takes_the_smallest, 1)
{
	struct list_heap h;
	struct list_fit fit;

	three_regions(&h);
	list_heap_set_fit(&h, LIST_HEAP_BEST_FIT);
	/* 112 bytes need a block of 128: r2 (256) and r3 (exactly 128) fit; best fit takes r3 */
	struct list_region *r = list_heap_find_region(&h, 112, 8, &fit);
	EXPECT_EQ(t, (uint8_t *)r, arena + 1024);
	EXPECT_EQ(t, fit.link, &((struct list_region *)(arena + 256))->next);
	EXPECT_LIST(t, &h, 0, 64, 256, 256);
	/* a tie goes to the lower address: r1 fits 48 bytes exactly, so does a copy of it */
	three_regions(&h);
	list_heap_set_fit(&h, LIST_HEAP_BEST_FIT);
	list_heap_add_free_region(&((struct list_region *)(arena + 1024))->next,
				  (uintptr_t)arena + 2048, 64);
	r = list_heap_find_region(&h, 48, 8, &fit);
	EXPECT_EQ(t, (uint8_t *)r, arena);
	/* the plan is r1's, not that of a region that fitted after it (r2, r3, the copy) */
	if (fit.start != (uintptr_t)arena || fit.end != (uintptr_t)arena + 64 ||
	    fit.block != (uintptr_t)arena || fit.size != 64)
		FAIL(t,
		     "best fit returned r1 [+0, +64) but *fit plans [+%ld, +%ld) with a block at "
		     "+%ld of %zu bytes: *fit must hold the plan of the region it returns, not of "
		     "the last one that fitted",
		     (long)(fit.start - (uintptr_t)arena), (long)(fit.end - (uintptr_t)arena),
		     (long)(fit.block - (uintptr_t)arena), fit.size);
}

KTEST(list_heap, find_region_none_fits, 1)
{
	struct list_heap h;
	struct list_fit fit;

	three_regions(&h);
	EXPECT_NULL(t, list_heap_find_region(&h, 300, 8, &fit));  /* 320 > 256 */
	EXPECT_NULL(t, list_heap_find_region(&h, 8, 2048, &fit)); /* no aligned room */
	EXPECT_LIST(t, &h, 0, 64, 256, 256, 1024, 128);
}

/* --- step 3: the split ------------------------------------------------------------------------ */

KTEST(list_heap, split_gives_back_front_gap_and_tail, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena + 8, 1024); /* [+8, +1032) */
	/* 24 bytes at a multiple of 64: payload +64, header +48, gap [+8, +48), tail [+88, ...) */
	EXPECT_EQ(t, list_heap_alloc(&h, 24, 64), (void *)(arena + 64));
	EXPECT_LIST(t, &h, 8, 40, 88, 944);
}

KTEST(list_heap, split_boundary_at_node_size, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena, 128);
	/* 16 + 112 = 128: exact fit, nothing left on the list */
	void *p = list_heap_alloc(&h, 112, 1);
	EXPECT_EQ(t, p, (void *)(arena + 16));
	EXPECT_NULL(t, h.head);
	FREE_MERGED(t, &h, p);
	EXPECT_LIST(t, &h, 0, 128);
	/* 16 + 104 = 120 would leave 8 bytes, too few for a node: rejected */
	p = list_heap_alloc(&h, 104, 1);
	if (p) {
		FAIL(t,
		     "list_heap_alloc(104) took the one free region, [+0, +128): its block, 16 + 104 "
		     "= 120 bytes, would leave 8, too few for a node (LIST_HEAP_NODE, 16 bytes), "
		     "which could never go back on the list. Step 3 must reject the region (case 3)");
		return;
	}
	EXPECT_LIST(t, &h, 0, 128);
	/* 16 + 96 = 112 leaves exactly a node: split */
	EXPECT_EQ(t, list_heap_alloc(&h, 96, 1), (void *)(arena + 16));
	EXPECT_LIST(t, &h, 112, 16);
	/* and 16 bytes hold no block */
	EXPECT_NULL(t, list_heap_alloc(&h, 1, 1));
}

/* --- step 4 and the whole allocator ----------------------------------------------------------- */

KTEST(list_heap, free_merges_with_both_neighbours, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena, 256);
	uint8_t *a = list_heap_alloc(&h, 48, 8), *b = list_heap_alloc(&h, 48, 8),
		*c = list_heap_alloc(&h, 48, 8);
	ASSERT_NOT_NULL(t, c);
	/* blocks of 64: a [+0, 64), b [+64, 128), c [+128, 192), free [+192, 256) */
	FREE_MERGED(t, &h, a);
	EXPECT_LIST(t, &h, 0, 64, 192, 64);
	FREE_MERGED(t, &h, c); /* merges with the tail */
	EXPECT_LIST(t, &h, 0, 64, 128, 128);
	FREE_MERGED(t, &h, b); /* merges with both */
	EXPECT_LIST(t, &h, 0, 256);
}

KTEST(list_heap, coalesce_all_six_orders, 3)
{
	static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
					 {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	struct list_heap h;

	for (int o = 0; o < 6; o++) {
		/* A, B, C fill the arena exactly: 3 blocks of 16 + 48 bytes */
		list_heap_init(&h, arena, 192);
		void *blocks[3];
		bool freed[3] = {false, false, false};
		for (int i = 0; i < 3; i++)
			blocks[i] = list_heap_alloc(&h, 48, 8);
		ASSERT_NOT_NULL(t, blocks[2]);
		ASSERT_NULL(t, h.head);
		for (int k = 0; k < 3; k++) {
			int i = orders[o][k];
			FREE_MERGED(t, &h, blocks[i]);
			freed[i] = true;
			/* should be: one free region per run of freed neighbours */
			int runs = 0;
			for (int j = 0; j < 3; j++)
				runs += freed[j] && (j == 0 || !freed[j - 1]);
			if (list_count_regions(&h, arena, ARENA_SIZE) != runs)
				FAIL(t,
				     "order %c%c%c, after freeing %c: %d free regions expected, the "
				     "list is %s",
				     'A' + orders[o][0], 'A' + orders[o][1], 'A' + orders[o][2],
				     'A' + i, runs, shape(&h));
		}
		EXPECT_LIST(t, &h, 0, 192);
	}
}

KTEST(list_heap, alignment_1_to_4096, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena, ARENA_SIZE);
	for (size_t align = 1; align <= HEAP_MAX_ALIGN; align *= 2) {
		uint8_t *first = list_heap_alloc(&h, 1, 1);
		uint8_t *p = list_heap_alloc(&h, 8, align);
		if (!p || (uintptr_t)p % align || p < arena || p + 8 > arena + ARENA_SIZE)
			FAIL(t, "list_heap_alloc(8, %zu) returned %p (arena %p)", align, p, arena);
		FREE_MERGED(t, &h, first);
		FREE_MERGED(t, &h, p);
		EXPECT_LIST(t, &h, 0, ARENA_SIZE);
	}
}

/*
 * Bump's nemesis (see lab 03's one_long_lived_allocation_exhausts_it): one block stays live
 * while many short-lived ones come and go, 100 KB through a 1 KiB heap. A free list reuses
 * the space of each short-lived block, so the loop never runs out.
 */
KTEST(list_heap, reuse_with_a_long_lived_allocation, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena, 1024);
	void *keep = list_heap_alloc(&h, 16, 8);
	ASSERT_NOT_NULL(t, keep);
	for (int i = 0; i < 1000; i++) {
		void *p = list_heap_alloc(&h, 100, 8);
		if (!p) {
			FAIL(t, "short-lived allocation %d failed: %s", i, shape(&h));
			return;
		}
		FREE_MERGED(t, &h, p);
	}
	EXPECT_LIST(t, &h, 32, 1024 - 32);
	FREE_MERGED(t, &h, keep);
	EXPECT_LIST(t, &h, 0, 1024);
}

KTEST(list_heap, exhaustion_returns_null_and_heap_still_works, 2)
{
	struct list_heap h;
	struct heap_stats before, after;
	void *p[40];
	int n = 0;

	list_heap_init(&h, arena, PAGE_SIZE);
	/* blocks of 120 bytes: 34 take 4080, and the last 16 bytes hold no block */
	while (n < 40 && (p[n] = list_heap_alloc(&h, 100, 8)))
		n++;
	EXPECT_EQ(t, n, 34);
	list_heap_stats(&h, &before);
	EXPECT_NULL(t, list_heap_alloc(&h, 100, 8));
	list_heap_stats(&h, &after);
	EXPECT_EQ(t, after.free_bytes, before.free_bytes);
	EXPECT_EQ(t, after.live_allocs, before.live_allocs);
	/* still works: a freed block is reused */
	FREE_MERGED(t, &h, p[10]);
	EXPECT_EQ(t, list_heap_alloc(&h, 100, 8), p[10]);
	for (int i = 0; i < n; i++)
		FREE_MERGED(t, &h, p[i]);
	EXPECT_LIST(t, &h, 0, PAGE_SIZE);
}

KTEST(list_heap, stats_exact, 2)
{
	struct list_heap h;
	struct heap_stats s;

	list_heap_init(&h, arena, 1024);
	void *a = list_heap_alloc(&h, 5, 1);
	/* should be: a [+0, 24) (16 + 5 + 3), free [+24, 1024) */
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 1024);
	EXPECT_EQ(t, s.used_bytes, 5);
	EXPECT_EQ(t, s.overhead_bytes, 19);
	EXPECT_EQ(t, s.free_bytes, 1000);
	EXPECT_EQ(t, s.largest_free, 1000);
	EXPECT_EQ(t, s.free_regions, 1);
	EXPECT_EQ(t, s.live_allocs, 1);

	void *b = list_heap_alloc(&h, 64, 64);
	/* should be: a [+0, 24), gap [+24, 48), b [+48, 128) (payload at +64), free [+128, 1024) */
	EXPECT_EQ(t, b, (void *)(arena + 64));
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 69);
	EXPECT_EQ(t, s.overhead_bytes, 35);
	EXPECT_EQ(t, s.free_bytes, 920);
	EXPECT_EQ(t, s.largest_free, 896);
	EXPECT_EQ(t, s.free_regions, 2);
	EXPECT_EQ(t, s.live_allocs, 2);

	FREE_MERGED(t, &h, a);
	/* should be: free [+0, 48), b [+48, 128), free [+128, 1024) */
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.used_bytes, 64);
	EXPECT_EQ(t, s.overhead_bytes, 16);
	EXPECT_EQ(t, s.free_bytes, 944);
	EXPECT_EQ(t, s.free_regions, 2);
	EXPECT_EQ(t, s.live_allocs, 1);
	FREE_MERGED(t, &h, b);
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.free_bytes, 1024);
	EXPECT_EQ(t, s.overhead_bytes, 0);
	EXPECT_EQ(t, s.free_regions, 1);

	/* the largest region first: free [+0, 616), c [+616, 1008), free [+1008, 1024) */
	a = list_heap_alloc(&h, 600, 8);
	void *c = list_heap_alloc(&h, 376, 8);
	ASSERT_NOT_NULL(t, c);
	FREE_MERGED(t, &h, a);
	list_heap_stats(&h, &s);
	if (s.largest_free != 616)
		FAIL(t,
		     "free regions of 616 and 16 bytes: largest_free is %zu, expected 616 (the "
		     "largest of all regions, not the last one's)",
		     s.largest_free);
	FREE_MERGED(t, &h, c);
}

KTEST(list_heap, zero_size_and_null, 1)
{
	struct list_heap h;

	list_heap_init(&h, arena, 256);
	EXPECT_NULL(t, list_heap_alloc(&h, 0, 1));
	EXPECT_NULL(t, list_heap_alloc(&h, 0, 64));
	list_heap_free(&h, NULL);
	EXPECT_LIST(t, &h, 0, 256);
	EXPECT_EQ(t, h.live_allocs, 0);
}

KTEST(list_heap, overflow_arithmetic, 1)
{
	struct list_heap h;
	struct list_fit fit;

	/* Each larger than the heap: the walk's first test (region smaller than the request)
	 * skips them; a walk without it asks step 3, which must reject them. */
	list_heap_init(&h, arena, 1024);
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX, 1));
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX - 7, 8));
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX - 20, 8));
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX - 30, 8));
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX - 20, HEAP_MAX_ALIGN));
	EXPECT_NULL(t, list_heap_alloc(&h, SIZE_MAX / 2 + 1, 1));
	EXPECT_LIST(t, &h, 0, 1024);
	EXPECT_EQ(t, h.live_allocs, 0);

	/*
	 * Requests the walk's first test lets through, so that step 3's arithmetic must reject
	 * them: a region as large as each, which ends 8 bytes below the top of the address space
	 * (only its node, in the arena, is ever read). Each block needs 8 or 16 bytes more than
	 * the region has (a header and, aligned, a front gap of align - 16): its end is past the
	 * top, and wraps around to 0 or 8, which looks like an end inside the region.
	 */
	static const struct {
		size_t less, align; /* the request: the region's size less this many bytes */
	} wraps[] = {{8, 1}, {8, 8}, {48, 64}, {HEAP_MAX_ALIGN - 16, HEAP_MAX_ALIGN}};
	struct list_region *top = (void *)arena;

	list_heap_init(&h, arena, 0);
	for (size_t i = 0; i < ARRAY_SIZE(wraps); i++) {
		top->size = (size_t)0 - (uintptr_t)arena - LIST_HEAP_GRAIN;
		top->next = NULL;
		h.head = top;
		size_t size = top->size - wraps[i].less;
		if (list_heap_find_region(&h, size, wraps[i].align, &fit)) {
			FAIL(t,
			     "list_heap_find_region took a region of %zu bytes that ends 8 bytes below "
			     "the top of the address space for %zu bytes aligned to %zu: the block would "
			     "end past the top, so its end wraps around to a small address that looks "
			     "inside the region. Step 3 must reject a block whose end overflows "
			     "(__builtin_add_overflow(block, size, &end))",
			     top->size, size, wraps[i].align);
			break;
		}
		if (h.head != top || top->next)
			FAIL(t, "list_heap_find_region found nothing, but changed the list");
	}
}

KTEST(list_heap, double_free_panics, 2)
{
	struct list_heap h;

	list_heap_init(&h, arena, 1024);
	void *a = list_heap_alloc(&h, 32, 8), *b = list_heap_alloc(&h, 32, 8),
	     *c = list_heap_alloc(&h, 32, 8);
	ASSERT_NOT_NULL(t, c);
	FREE_MERGED(t, &h, b); /* b's block starts a free region: its header is now a node */
	EXPECT_PANIC(t, "list_heap_free: double free", list_heap_free(&h, b));
	FREE_MERGED(t, &h, a); /* a's block absorbs b's */
	EXPECT_PANIC(t, "list_heap_free: double free", list_heap_free(&h, a));
	FREE_MERGED(t, &h, c); /* c's block joins the region before it */
	EXPECT_PANIC(t, "list_heap_free: double free", list_heap_free(&h, c));
	EXPECT_LIST(t, &h, 0, 1024);
}

KTEST(list_heap, foreign_pointer_panics, 1)
{
	struct list_heap h;
	uint64_t local = 0;

	memset(arena, 0, 1024); /* no stale header from an earlier test */
	list_heap_init(&h, arena, 1024);
	uint8_t *a = list_heap_alloc(&h, 64, 8);
	ASSERT_NOT_NULL(t, a);
	EXPECT_PANIC(t, "list_heap_free: ", list_heap_free(&h, a + 8));	       /* inside a */
	EXPECT_PANIC(t, "list_heap_free: ", list_heap_free(&h, a + 1));	       /* misaligned */
	EXPECT_PANIC(t, "list_heap_free: ", list_heap_free(&h, &local));       /* not the heap's */
	EXPECT_PANIC(t, "list_heap_free: ", list_heap_free(&h, arena + 2048)); /* past its end */
	EXPECT_PANIC(t, "list_heap_free: ", list_heap_free(&h, arena + 512));  /* free memory */
	EXPECT_PANIC(t, "never returned", list_heap_free(&h, a + 16));
	EXPECT_PANIC(t, "list_heap_alloc", list_heap_alloc(&h, 8, 24));
	EXPECT_PANIC(t, "list_heap_alloc", list_heap_alloc(&h, 8, 2 * HEAP_MAX_ALIGN));
	/* nothing changed */
	EXPECT_EQ(t, h.live_allocs, 1);
	FREE_MERGED(t, &h, a);
	EXPECT_LIST(t, &h, 0, 1024);
}

KTEST(list_heap, alloc_size_is_the_requested_size, 1)
{
	struct list_heap h;

	list_heap_init(&h, arena, 1024);
	uint8_t *a = list_heap_alloc(&h, 5, 1), *b = list_heap_alloc(&h, 300, 64);
	EXPECT_EQ(t, list_heap_alloc_size(&h, a), 5);
	EXPECT_EQ(t, list_heap_alloc_size(&h, b), 300);
	EXPECT_EQ(t, list_heap_alloc_size(&h, a + 8), 0);
	FREE_MERGED(t, &h, a);
	EXPECT_EQ(t, list_heap_alloc_size(&h, a), 0);
}

KTEST(list_heap, add_region_merges_with_the_end, 2)
{
	struct list_heap h;
	struct heap_stats s;

	list_heap_init(&h, arena, 512);
	ASSERT_NOT_NULL(t, list_heap_alloc(&h, 400, 8)); /* [+0, 416), free [+416, 512) */
	/* the kernel maps the next pages and hands them over: the last region grows */
	ADD_MERGED(t, &h, arena + 512, 512);
	EXPECT_LIST(t, &h, 416, 608);
	void *above = list_heap_alloc(&h, 500, 8); /* [+416, +932): past the first 512 */
	ASSERT_NOT_NULL(t, above);
	/* a block in added memory is the heap's: list_heap_add_region must have raised hi */
	if (list_heap_alloc_size(&h, above) != 500) {
		FAIL(t,
		     "a block of 500 bytes that ends in memory added past the heap's end is not "
		     "taken for a live block (list_heap_alloc_size says %zu): list_heap_add_region "
		     "must raise h->hi to the end of the memory it adds",
		     list_heap_alloc_size(&h, above));
		return;
	}
	FREE_MERGED(t, &h, above);
	EXPECT_NOT_NULL(t, list_heap_alloc(&h, 500, 8));
	/* a region apart from the others becomes a region of its own */
	ADD_MERGED(t, &h, arena + 2048, 256);
	list_heap_stats(&h, &s);
	EXPECT_EQ(t, s.total_bytes, 512 + 512 + 256);
	/* should be: the tail after the block of 500, then [+2048, +2304) */
	EXPECT_LIST(t, &h, 936, 88, 2048, 256);
	/* memory that is free already cannot be added again */
	EXPECT_PANIC(t, "overlaps", list_heap_add_region(&h, arena + 2100, 64));

	/*
	 * The edges, each from both sides. Free: [+1024, +1280). A region that overlaps it by
	 * one grain, at its end or at its start, is refused; one that ends right where it starts,
	 * or starts right where it ends, merges with it.
	 */
	list_heap_init(&h, arena + 1024, 256);
	EXPECT_PANIC(t, "overlaps", list_heap_add_region(&h, arena + 1280 - LIST_HEAP_GRAIN, 64));
	EXPECT_PANIC(t, "overlaps", list_heap_add_region(&h, arena + 960 + LIST_HEAP_GRAIN, 64));
	EXPECT_LIST(t, &h, 1024, 256);
	ADD_MERGED(t, &h, arena + 1280, 64); /* should be [+1024, +1344) */
	ADD_MERGED(t, &h, arena + 960, 64);  /* should be [+960, +1344) */
	EXPECT_LIST(t, &h, 960, 384);
	/* a block below where the heap began is the heap's: add_region must have lowered lo */
	void *below = list_heap_alloc(&h, 32, 8);
	EXPECT_EQ(t, below, (void *)(arena + 976));
	if (list_heap_alloc_size(&h, below) != 32) {
		FAIL(t,
		     "a block of 32 bytes in memory added below the heap's start is not taken for "
		     "a live block (list_heap_alloc_size says %zu): list_heap_add_region must "
		     "lower h->lo to the start of the memory it adds",
		     list_heap_alloc_size(&h, below));
		return;
	}
	FREE_MERGED(t, &h, below);
	EXPECT_LIST(t, &h, 960, 384);
}

static void random_run(struct ktest *t, enum list_heap_fit fit)
{
	struct list_heap h;
	const struct heap_workload w = {.steps = 3000, .max_size = 3000, .max_align = 512};

	list_heap_init(&h, arena, 4 * PAGE_SIZE);
	list_heap_set_fit(&h, fit);
	heap_model_init(&model, &list_ops, &h, arena, 4 * PAGE_SIZE);
	heap_random_run(t, &model, &w);
	heap_model_free_all(t, &model);
	/* everything freed: one region, the whole arena */
	if (!model.broken)
		EXPECT_LIST(t, &h, 0, 4 * PAGE_SIZE);
	EXPECT_GT(t, model.allocs, w.steps / 4);
}

KTEST(list_heap, random_sequence_first_fit, 3)
{
	random_run(t, LIST_HEAP_FIRST_FIT);
}

KTEST(list_heap, random_sequence_best_fit, 2)
{
	random_run(t, LIST_HEAP_BEST_FIT);
}
