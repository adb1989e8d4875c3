/*
 * Scenario bench_block_heap: instructions per block_heap_alloc/block_heap_free pair in the
 * kernel (checkpoint 05 on), on a private arena, built as the kernel builds lab 05 (HEAP_DEBUG
 * on). Beside bench_kmalloc's pair of the same size, the difference is what kmalloc and kfree
 * add around the heap: the lock and the compares of their inline fast path (kernel/heap.h).
 *
 * The lines marked ADAPT follow lab 05's interface (kernel/block_heap.h).
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#if CHECKPOINT >= 5 && __has_include("block_heap.h")
#include "block_heap.h"

#define BH_PAIRS  256
#define BH_WARMUP 16
#define BH_ARENA  (256 * 1024)
#define BH_ALIGN  8 /* what kmalloc asks (KMALLOC_ALIGN) */

static uint8_t bh_arena[BH_ARENA] __attribute__((aligned(PAGE_SIZE)));
static struct block_heap bh; /* ADAPT */

static uint64_t bh_loop(size_t size, int pairs, bool calls)
{
	uint64_t start = bench_ticks();

	for (int i = 0; i < pairs; i++) {
		if (calls) {
			void *p = block_heap_alloc(&bh, size, BH_ALIGN); /* ADAPT */
			bench_escape(p);
			block_heap_free(&bh, p); /* ADAPT */
		} else {
			bench_escape(NULL);
		}
	}
	return bench_ticks() - start;
}

KTEST_SCENARIO(bench_block_heap)
{
	static const size_t sizes[] = {16, 64, 256, 1024};

	block_heap_init(&bh, bh_arena, sizeof(bh_arena), NULL); /* ADAPT */
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		size_t size = sizes[k];
		bh_loop(size, BH_WARMUP, true);
		uint64_t empty = bh_loop(size, BH_PAIRS, false);
		uint64_t ticks = bh_loop(size, BH_PAIRS, true);
		kprintf("bench: block_heap size=%zu pairs=%d ticks=%lu empty=%lu\n", size, BH_PAIRS,
			ticks, empty);
	}
}

#endif
