/*
 * Scenario bench_kmalloc: instructions per kmalloc/kfree pair in the kernel (checkpoint 03 on),
 * counted with the time-stamp counter under -icount (icount.h). For each size it times a loop
 * of pairs and the same loop without the calls; the driver takes the difference. Then a batch
 * of mixed sizes, all allocated before any is freed.
 *
 * The kernel heap's interface (kmalloc, kfree) is the only thing used here. If its header is
 * not found the scenario is left out, and `make bench` reports the kernel heap as not there.
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#if CHECKPOINT >= 3 && __has_include("kmalloc.h")
#include "kmalloc.h"
#define BENCH_HAVE_KMALLOC 1
#elif CHECKPOINT >= 3 && __has_include("heap.h")
#include "heap.h"
#define BENCH_HAVE_KMALLOC 1
#endif

#ifdef BENCH_HAVE_KMALLOC

#define KMALLOC_PAIRS	  256
#define KMALLOC_WARMUP	  16
#define KMALLOC_BATCH	  100
#define KMALLOC_MAX_SIZE  16384
#define KMALLOC_MIN_SIZE  16
#define KMALLOC_SIZE_STEP 4 /* sizes 16, 64, 256, 1024, 4096, 16384 */

/* Ticks of `pairs` kmalloc/kfree pairs of `size` bytes, or of the bare loop if !calls. */
static uint64_t kmalloc_loop(size_t size, int pairs, bool calls)
{
	uint64_t start = bench_ticks();

	for (int i = 0; i < pairs; i++) {
		if (calls) {
			void *p = kmalloc(size);
			bench_escape(p);
			kfree(p);
		} else {
			bench_escape(NULL);
		}
	}
	return bench_ticks() - start;
}

/* Sizes for the batch: mostly small, like the host benchmark's batch. */
static size_t batch_size(int i)
{
	static const size_t sizes[] = {16, 24, 32, 48, 64, 96, 128, 200, 512, 1000};

	return sizes[(i * 7) % ARRAY_SIZE(sizes)];
}

KTEST_SCENARIO(bench_kmalloc)
{
	static void *block[KMALLOC_BATCH];

	for (size_t size = KMALLOC_MIN_SIZE; size <= KMALLOC_MAX_SIZE; size *= KMALLOC_SIZE_STEP) {
		kmalloc_loop(size, KMALLOC_WARMUP, true);
		uint64_t empty = kmalloc_loop(size, KMALLOC_PAIRS, false);
		void *probe = kmalloc(size);
		if (!probe) {
			kprintf("bench: kmalloc size=%zu failed\n", size);
			continue;
		}
		kfree(probe);
		uint64_t ticks = kmalloc_loop(size, KMALLOC_PAIRS, true);
		kprintf("bench: kmalloc size=%zu pairs=%d ticks=%lu empty=%lu\n", size,
			KMALLOC_PAIRS, ticks, empty);
	}

	uint64_t start = bench_ticks();
	int got = 0;
	for (int i = 0; i < KMALLOC_BATCH; i++) {
		block[i] = kmalloc(batch_size(i));
		got += block[i] != NULL;
	}
	for (int i = 0; i < KMALLOC_BATCH; i++)
		if (block[i])
			kfree(block[i]);
	kprintf("bench: kmalloc_batch pairs=%d ticks=%lu\n", got, bench_ticks() - start);
}

#endif /* BENCH_HAVE_KMALLOC */
