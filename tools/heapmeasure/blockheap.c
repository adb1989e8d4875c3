/*
 * The lab 05 block heap measured: internal fragmentation of its classes and slabs, how the
 * cost of an operation grows with the number of live blocks (the slabs against the naive
 * design, one fallback allocation per block), what prefill and the cap do, and its speed
 * next to the list heap alone. Quoted in handouts/05-fixed-block.md.
 *
 * Build and run from the top of the repository (HEAP_DEBUG=0: no poisoning, as a benchmark
 * would build it; --wrap counts the calls into the fallback's list walks):
 *
 *   mkdir -p build/heapmeasure
 *   gcc -O2 -DHEAP_DEBUG=0 -Ikernel -o build/heapmeasure/blockheap \
 *       tools/heapmeasure/blockheap.c solutions/04-linked-list/list_heap.c \
 *       solutions/05-fixed-block/block_heap.c \
 *       -Wl,--wrap=list_heap_alloc,--wrap=list_heap_free \
 *       -Wl,--wrap=list_heap_find_region,--wrap=list_heap_insert_free
 *   build/heapmeasure/blockheap
 *
 * The counts are deterministic; the times (ns per operation, the best of up to REPEAT runs) are
 * of the machine it runs on. The workload: the small-object mix of measure.h, aligned as kmalloc
 * asks (KMALLOC_ALIGN), with the live set cycling between a low and a high mark.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "block_heap.h"
#include "list_heap.h"
#include "measure.h"

#define ARENA	  (16u << 20)
#define OPS	  200000
#define REPEAT	  5
#define LIVE_LOW  200
#define LIVE_HIGH 1000
#define LIVE_MAX  16000
#define ALIGN	  KMALLOC_ALIGN

static uint8_t arena[ARENA] __attribute__((aligned(BLOCK_HEAP_SLAB_SIZE)));
static void *live[LIVE_MAX];

/* Walks of the fallback's list, counted through the linker's --wrap: an allocation or a
 * free of the fallback, a slab taken (find_region), a slab given back (insert_free). */
static unsigned long fallback_walks;
void *__real_list_heap_alloc(struct list_heap *h, size_t size, size_t align);
void __real_list_heap_free(struct list_heap *h, void *p);
struct list_region *__real_list_heap_find_region(struct list_heap *h, size_t size, size_t align,
						 struct list_fit *fit);
void __real_list_heap_insert_free(struct list_heap *h, uintptr_t addr, size_t size);

void *__wrap_list_heap_alloc(struct list_heap *h, size_t size, size_t align)
{
	fallback_walks++;
	return __real_list_heap_alloc(h, size, align);
}

void __wrap_list_heap_free(struct list_heap *h, void *p)
{
	fallback_walks++;
	__real_list_heap_free(h, p);
}

struct list_region *__wrap_list_heap_find_region(struct list_heap *h, size_t size, size_t align,
						 struct list_fit *fit)
{
	fallback_walks++;
	return __real_list_heap_find_region(h, size, align, fit);
}

void __wrap_list_heap_insert_free(struct list_heap *h, uintptr_t addr, size_t size)
{
	fallback_walks++;
	__real_list_heap_insert_free(h, addr, size);
}

/*
 * The naive design, for comparison: the same classes, but each block is an allocation of
 * the fallback of its class size, aligned to it; a class's list keeps at most NAIVE_CAP freed
 * blocks and gives the rest back (this lab's first version, before slabs). Free finds the
 * class from the fallback's header.
 */
#define NAIVE_CAP 256

struct naive {
	struct list_heap fallback;
	struct block_free *head[BLOCK_HEAP_CLASSES];
	unsigned count[BLOCK_HEAP_CLASSES];
};

static void *naive_alloc(struct naive *n, size_t size)
{
	int c = block_heap_class(size, ALIGN);
	if (c < 0)
		return list_heap_alloc(&n->fallback, size, ALIGN);
	struct block_free *b = n->head[c];
	if (b) {
		n->head[c] = b->next;
		n->count[c]--;
		return b;
	}
	return list_heap_alloc(&n->fallback, block_heap_class_size(c), block_heap_class_size(c));
}

static void naive_free(struct naive *n, void *p)
{
	int c = block_heap_class(list_heap_alloc_size(&n->fallback, p), 1);

	if (c < 0 || n->count[c] >= NAIVE_CAP) {
		list_heap_free(&n->fallback, p);
		return;
	}
	struct block_free *b = p;
	b->next = n->head[c];
	n->head[c] = b;
	n->count[c]++;
}

/* One of the allocators under test. */
enum kind { LIST, NAIVE, SLABS };
static const char *const kind_name[] = {"list heap alone", "naive classes", "slabs (lab 05)"};

struct heap {
	enum kind kind;
	struct list_heap list;
	struct naive naive;
	struct block_heap blocks;
};

static void init(struct heap *h, enum kind kind, const struct block_heap_config *config)
{
	h->kind = kind;
	if (kind == SLABS)
		block_heap_init(&h->blocks, arena, ARENA, config);
	else if (kind == NAIVE) {
		memset(&h->naive, 0, sizeof(h->naive));
		list_heap_init(&h->naive.fallback, arena, ARENA);
	} else
		list_heap_init(&h->list, arena, ARENA);
}

static void *heap_alloc(struct heap *h, size_t size)
{
	switch (h->kind) {
	case SLABS:
		return block_heap_alloc(&h->blocks, size, ALIGN);
	case NAIVE:
		return naive_alloc(&h->naive, size);
	default:
		return list_heap_alloc(&h->list, size, ALIGN);
	}
}

static void heap_free(struct heap *h, void *p)
{
	if (h->kind == SLABS)
		block_heap_free(&h->blocks, p);
	else if (h->kind == NAIVE)
		naive_free(&h->naive, p);
	else
		list_heap_free(&h->list, p);
}

/* Free regions on a list heap's list (the length of its walk). */
static size_t regions(const struct list_heap *l)
{
	struct heap_stats s;

	list_heap_stats(l, &s);
	return s.free_regions;
}

/*
 * OPS operations of the small-object mix with the live set cycling between low and high:
 * returns the nanoseconds they took. walk, if not NULL, gets the average number of free
 * regions on the list heap's list (the heap's own, or the fallback's; sampled every 1000
 * operations): how long a walk of it is.
 */
static uint64_t churn(struct heap *h, uint64_t seed, int low, int high, double *walk)
{
	int nlive = 0, samples = 0;
	bool filling = true;
	uint64_t start = now_ns();

	rng_state = seed;
	for (int op = 0; op < OPS; op++) {
		if (nlive >= high)
			filling = false;
		else if (nlive <= low)
			filling = true;
		if (nlive > 0 && rng_range(0, 99) >= (filling ? 70u : 30u)) {
			int i = (int)rng_range(0, (uint64_t)nlive - 1);
			heap_free(h, live[i]);
			live[i] = live[--nlive];
		} else {
			void *p = heap_alloc(h, mix_small_size());
			if (!p)
				panic("churn: out of memory after %d operations", op);
			live[nlive++] = p;
		}
		if (walk && op % 1000 == 0) {
			*walk += (double)regions(h->kind == LIST    ? &h->list
						 : h->kind == NAIVE ? &h->naive.fallback
								    : &h->blocks.fallback);
			samples++;
		}
	}
	uint64_t ns = now_ns() - start;
	while (nlive > 0)
		heap_free(h, live[--nlive]);
	if (walk && samples)
		*walk /= samples;
	return ns;
}

/* Internal fragmentation: what rounding up to a class, and the slabs, cost on the small mix. */
static void classes(void)
{
	unsigned long asked = 0, given = 0, count[BLOCK_HEAP_CLASSES] = {0};

	rng_state = 1;
	for (int i = 0; i < OPS; i++) {
		size_t n = mix_small_size();
		int c = block_heap_class(n, ALIGN);
		asked += n;
		given += block_heap_class_size(c);
		count[c]++;
	}
	printf("\n== size classes: %d requests of the small mix, %d-byte aligned\n", OPS, ALIGN);
	printf("%8s %9s %16s %12s\n", "class", "requests", "blocks per slab", "slab used");
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		printf("%8zu %8.1f%% %16u %11.1f%%\n", block_heap_class_size(c),
		       100.0 * (double)count[c] / OPS, block_heap_slab_blocks(c),
		       100.0 * (double)(block_heap_slab_blocks(c) * block_heap_class_size(c)) /
			       BLOCK_HEAP_SLAB_SIZE);
	printf("asked %lu bytes, got blocks of %lu: %.1f%% of each block unused on average\n",
	       asked, given, 100.0 * (double)(given - asked) / (double)given);
}

/* The cost of an operation as the live set grows: the naive design walks the fallback. */
static void scaling(void)
{
	static const int highs[] = {1000, 2000, 4000, 8000, 16000};

	printf("\n== live blocks: %d operations of the small mix, the live set cycling between half "
	       "the high mark and it\n",
	       OPS);
	printf("%10s  %-16s %12s %20s %16s\n", "high mark", "allocator", "ns per op",
	       "fallback walks/1000", "regions walked");
	for (size_t k = 0; k < sizeof(highs) / sizeof(highs[0]); k++) {
		for (enum kind kind = LIST; kind <= SLABS; kind++) {
			struct heap h;
			uint64_t best = UINT64_MAX;
			double walk = 0;
			unsigned long walks = 0;
			uint64_t spent = 0;

			/* REPEAT runs for the best time, or fewer once they took half a second
			 * (with the largest live sets one run takes that long, and its time
			 * varies little). The first also counts the walks: a walk of the list
			 * every 1000 operations, under 1% of the time of a run that long. */
			for (int r = 0; r < REPEAT && spent < 500000000; r++) {
				init(&h, kind, NULL);
				fallback_walks = 0;
				uint64_t ns =
					churn(&h, 1, highs[k] / 2, highs[k], r ? NULL : &walk);
				if (!r)
					walks = fallback_walks;
				best = ns < best ? ns : best;
				spent += ns;
			}
			printf("%10d  %-16s %12.1f %20.1f %16.0f\n", highs[k], kind_name[kind],
			       (double)best / OPS, 1000.0 * (double)walks / OPS, walk);
		}
	}
}

/* Speed: the list heap alone against the block heap, same operations. */
static void speed(void)
{
	struct heap h;
	uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
	double walk = 0;

	for (int r = 0; r < REPEAT; r++) {
		init(&h, LIST, NULL);
		uint64_t ns = churn(&h, 1, LIVE_LOW, LIVE_HIGH, NULL);
		best[0] = ns < best[0] ? ns : best[0];
		init(&h, SLABS, NULL);
		ns = churn(&h, 1, LIVE_LOW, LIVE_HIGH, NULL);
		best[1] = ns < best[1] ? ns : best[1];
	}
	init(&h, LIST, NULL);
	churn(&h, 1, LIVE_LOW, LIVE_HIGH, &walk);
	printf("\n== speed: %d operations of the small mix, live blocks cycling %d-%d, best of %d\n",
	       OPS, LIVE_LOW, LIVE_HIGH, REPEAT);
	printf("list heap alone       %6.1f ns per operation (%.0f free regions on its list, on "
	       "average)\n",
	       (double)best[0] / OPS, walk);
	printf("block heap (defaults) %6.1f ns per operation (%.1fx faster)\n",
	       (double)best[1] / OPS, (double)best[0] / (double)best[1]);
}

/* Bytes in the empty slabs the classes keep. */
static size_t kept_bytes(const struct block_heap *h)
{
	size_t n = 0;

	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		n += h->classes[c].empty * BLOCK_HEAP_SLAB_SIZE;
	return n;
}

/* Prefill: empty slabs carved at init, and fallback walks in the first allocations. */
static void prefill(void)
{
	static const unsigned fills[] = {0, 1, 2};
	enum { FIRST = 500 };

	printf("\n== prefill (cap = prefill or 1): the first %d allocations of the small mix, no "
	       "frees\n",
	       FIRST);
	printf("%8s %14s %16s %14s\n", "prefill", "held at init", "fallback walks", "ns per alloc");
	for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
		struct block_heap_config cfg = {fills[k], fills[k] ? fills[k] : 1};
		struct heap h;
		uint64_t best = UINT64_MAX;
		unsigned long walks = 0;
		size_t held = 0;

		for (int r = 0; r < 200; r++) {
			init(&h, SLABS, &cfg);
			held = kept_bytes(&h.blocks);
			fallback_walks = 0;
			rng_state = 7;
			uint64_t t0 = now_ns();
			for (int i = 0; i < FIRST; i++)
				live[i] = heap_alloc(&h, mix_small_size());
			uint64_t ns = now_ns() - t0;
			walks = fallback_walks;
			best = ns < best ? ns : best;
		}
		printf("%8u %12zu B %16lu %14.1f\n", fills[k], held, walks, (double)best / FIRST);
	}
}

/* The cap: fallback walks in a churn that empties slabs now and then, and memory kept after
 * a burst. */
static void cap(void)
{
	static const unsigned caps[] = {0, 1, 2, 4, BLOCK_HEAP_UNLIMITED};
	enum { BURST = 4000, LOW = 0, HIGH = 600 };

	printf("\n== cap (prefill 0): a churn emptying to %d live blocks and filling to %d, then a "
	       "burst of %d small blocks all freed\n",
	       LOW, HIGH, BURST);
	printf("%10s %20s %14s %16s\n", "cap", "fallback walks/1000", "ns per op",
	       "kept after burst");
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		struct block_heap_config cfg = {0, caps[k]};
		struct heap h;
		uint64_t best = UINT64_MAX;
		unsigned long walks = 0;

		for (int r = 0; r < REPEAT; r++) {
			init(&h, SLABS, &cfg);
			fallback_walks = 0;
			uint64_t ns = churn(&h, 1, LOW, HIGH, NULL);
			walks = fallback_walks;
			best = ns < best ? ns : best;
		}
		init(&h, SLABS, &cfg);
		rng_state = 3;
		for (int i = 0; i < BURST; i++)
			live[i] = heap_alloc(&h, mix_small_size());
		for (int i = 0; i < BURST; i++)
			heap_free(&h, live[i]);
		char name[16];
		snprintf(name, sizeof(name), caps[k] == BLOCK_HEAP_UNLIMITED ? "unlimited" : "%u",
			 caps[k]);
		printf("%10s %20.1f %14.1f %14zu B\n", name, 1000.0 * (double)walks / OPS,
		       (double)best / OPS, kept_bytes(&h.blocks));
	}
}

int main(void)
{
	printf("arena %u MiB; slabs of %lu KiB; defaults: prefill %d, cap %d\n", ARENA >> 20,
	       BLOCK_HEAP_SLAB_SIZE >> 10, BLOCK_HEAP_DEFAULT_PREFILL, BLOCK_HEAP_DEFAULT_CAP);
	classes();
	scaling();
	speed();
	prefill();
	cap();
	return 0;
}
