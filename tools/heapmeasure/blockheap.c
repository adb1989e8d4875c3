/*
 * The lab 05 block heap measured: internal fragmentation of its classes, what prefill and the
 * cap do, and its speed next to the list heap alone. Quoted in handouts/05-fixed-block.md.
 *
 * Build and run from the top of the repository (HEAP_DEBUG=0: no poisoning and no debug
 * walks, as a benchmark would build it; --wrap counts the calls into the fallback):
 *
 *   mkdir -p build/heapmeasure
 *   gcc -O2 -DHEAP_DEBUG=0 -Ikernel -o build/heapmeasure/blockheap \
 *       tools/heapmeasure/blockheap.c solutions/04-linked-list/list_heap.c \
 *       solutions/05-fixed-block/block_heap.c \
 *       -Wl,--wrap=list_heap_alloc,--wrap=list_heap_free
 *   build/heapmeasure/blockheap
 *
 * The counts are deterministic; the times (ns per operation, the best of REPEAT runs) are of
 * the machine it runs on. The workload: the small-object mix of measure.h, aligned as kmalloc
 * asks (KMALLOC_ALIGN), with the live set cycling between LIVE_LOW and LIVE_HIGH blocks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "block_heap.h"
#include "list_heap.h"
#include "measure.h"

#define ARENA	  (1u << 20)
#define OPS	  200000
#define REPEAT	  5
#define LIVE_LOW  200
#define LIVE_HIGH 1000
#define ALIGN	  KMALLOC_ALIGN

static uint8_t arena[ARENA] __attribute__((aligned(4096)));
static void *live[LIVE_HIGH];

/* Calls into the fallback, counted through the linker's --wrap. */
static unsigned long fallback_allocs, fallback_frees;
void *__real_list_heap_alloc(struct list_heap *h, size_t size, size_t align);
void __real_list_heap_free(struct list_heap *h, void *p);

void *__wrap_list_heap_alloc(struct list_heap *h, size_t size, size_t align)
{
	fallback_allocs++;
	return __real_list_heap_alloc(h, size, align);
}

void __wrap_list_heap_free(struct list_heap *h, void *p)
{
	fallback_frees++;
	__real_list_heap_free(h, p);
}

/* One of the two allocators under test. */
struct heap {
	bool block;
	struct list_heap list;
	struct block_heap blocks;
};

static void *heap_alloc(struct heap *h, size_t size)
{
	return h->block ? block_heap_alloc(&h->blocks, size, ALIGN)
			: list_heap_alloc(&h->list, size, ALIGN);
}

static void heap_free(struct heap *h, void *p)
{
	if (h->block)
		block_heap_free(&h->blocks, p);
	else
		list_heap_free(&h->list, p);
}

/*
 * OPS operations of the small-object mix: returns the nanoseconds they took. With regions
 * non-NULL (an untimed run of the list heap), also the average number of free regions.
 */
static uint64_t churn(struct heap *h, uint64_t seed, double *regions)
{
	int nlive = 0, samples = 0;
	bool filling = true;
	uint64_t start = now_ns();

	rng_state = seed;
	for (int op = 0; op < OPS; op++) {
		if (nlive == LIVE_HIGH)
			filling = false;
		else if (nlive == LIVE_LOW)
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
		if (regions && op % 1000 == 0) {
			struct heap_stats s;
			list_heap_stats(&h->list, &s);
			*regions += (double)s.free_regions;
			samples++;
		}
	}
	uint64_t ns = now_ns() - start;
	while (nlive > 0)
		heap_free(h, live[--nlive]);
	if (regions)
		*regions /= samples;
	return ns;
}

static void init(struct heap *h, bool block, const struct block_heap_config *config)
{
	h->block = block;
	if (block)
		block_heap_init(&h->blocks, arena, ARENA, config);
	else
		list_heap_init(&h->list, arena, ARENA);
}

/* Bytes sitting on the class lists. */
static size_t cached_bytes(const struct block_heap *h)
{
	size_t n = 0;

	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		n += h->classes[c].count * block_heap_class_size(c);
	return n;
}

/* Internal fragmentation: what rounding up to a class costs on the small mix. */
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
	printf("%8s %9s\n", "class", "requests");
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		printf("%8zu %8.1f%%\n", block_heap_class_size(c), 100.0 * (double)count[c] / OPS);
	printf("asked %lu bytes, got blocks of %lu: %.1f%% of each block unused on average "
	       "(plus a %zu-byte fallback header per block)\n",
	       asked, given, 100.0 * (double)(given - asked) / (double)given, LIST_HEAP_HEADER);
}

/* Speed: the list heap alone against the block heap, same operations. */
static void speed(void)
{
	struct heap h;
	uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
	double regions = 0;

	for (int r = 0; r < REPEAT; r++) {
		for (int b = 0; b < 2; b++) {
			init(&h, b, NULL);
			uint64_t ns = churn(&h, 1, NULL);
			best[b] = ns < best[b] ? ns : best[b];
		}
	}
	init(&h, false, NULL);
	churn(&h, 1, &regions);
	printf("\n== speed: %d operations of the small mix, live blocks cycling %d-%d, best of %d\n",
	       OPS, LIVE_LOW, LIVE_HIGH, REPEAT);
	printf("list heap alone       %6.1f ns per operation (%.0f free regions on its list, on "
	       "average)\n",
	       (double)best[0] / OPS, regions);
	printf("block heap (defaults) %6.1f ns per operation (%.1fx faster)\n",
	       (double)best[1] / OPS, (double)best[0] / (double)best[1]);
}

/* Prefill: memory held at init, and fallback calls in the first allocations. */
static void prefill(void)
{
	static const unsigned fills[] = {0, 1, 2, 4, 16, 64};
	enum { FIRST = 500 };

	printf("\n== prefill (cap %d): the first %d allocations of the small mix, no frees\n",
	       BLOCK_HEAP_DEFAULT_CAP, FIRST);
	printf("%8s %12s %16s %14s\n", "prefill", "held at init", "fallback calls", "ns per alloc");
	for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
		struct block_heap_config cfg = {fills[k], fills[k] > BLOCK_HEAP_DEFAULT_CAP
								  ? fills[k]
								  : BLOCK_HEAP_DEFAULT_CAP};
		struct heap h;
		uint64_t best = UINT64_MAX;
		unsigned long calls = 0;
		size_t held = 0;

		for (int r = 0; r < 200; r++) {
			init(&h, true, &cfg);
			held = cached_bytes(&h.blocks);
			fallback_allocs = 0;
			rng_state = 7;
			uint64_t t0 = now_ns();
			for (int i = 0; i < FIRST; i++)
				live[i] = heap_alloc(&h, mix_small_size());
			uint64_t ns = now_ns() - t0;
			calls = fallback_allocs;
			best = ns < best ? ns : best;
		}
		printf("%8u %10zu B %16lu %14.1f\n", fills[k], held, calls, (double)best / FIRST);
	}
}

/* The cap: fallback traffic in the churn, and memory kept on the lists after a burst. */
static void cap(void)
{
	static const unsigned caps[] = {0, 8, 32, 64, 128, 256, 1024, BLOCK_HEAP_UNLIMITED};
	enum { BURST = LIVE_HIGH, BIG = 64 << 10 };

	printf("\n== cap (prefill 0): the churn, then a burst of %d small blocks all freed, then "
	       "as many %d KiB blocks as fit\n",
	       BURST, BIG >> 10);
	printf("%10s %20s %14s %16s %10s\n", "cap", "fallback calls/1000", "ns per op",
	       "held after burst", "64K fit");
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		struct block_heap_config cfg = {0, caps[k]};
		struct heap h;
		uint64_t best = UINT64_MAX;
		unsigned long calls = 0;

		for (int r = 0; r < REPEAT; r++) {
			init(&h, true, &cfg);
			fallback_allocs = fallback_frees = 0;
			uint64_t ns = churn(&h, 1, NULL);
			calls = fallback_allocs + fallback_frees;
			best = ns < best ? ns : best;
		}
		init(&h, true, &cfg);
		rng_state = 3;
		for (int i = 0; i < BURST; i++)
			live[i] = heap_alloc(&h, mix_small_size());
		for (int i = 0; i < BURST; i++)
			heap_free(&h, live[i]);
		size_t held = cached_bytes(&h.blocks);
		int big = 0;
		while (block_heap_alloc(&h.blocks, BIG, ALIGN))
			big++;
		char name[16];
		snprintf(name, sizeof(name), caps[k] == BLOCK_HEAP_UNLIMITED ? "unlimited" : "%u",
			 caps[k]);
		printf("%10s %20.1f %14.1f %14zu B %10d\n", name, 1000.0 * (double)calls / OPS,
		       (double)best / OPS, held, big);
	}
}

int main(void)
{
	printf("arena %u KiB; defaults: prefill %d, cap %d\n", ARENA >> 10,
	       BLOCK_HEAP_DEFAULT_PREFILL, BLOCK_HEAP_DEFAULT_CAP);
	classes();
	speed();
	prefill();
	cap();
	return 0;
}
