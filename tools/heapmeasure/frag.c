/*
 * Fragmentation of the lab 04 list heap: first fit, best fit, and first fit without merging
 * (a free that only puts blocks back), on the same randomized sequences. Quoted in
 * handouts/04-linked-list.md.
 *
 * Build and run from the top of the repository (deterministic: same numbers everywhere):
 *
 *   mkdir -p build/heapmeasure
 *   gcc -O2 -Ikernel -o build/heapmeasure/frag tools/heapmeasure/frag.c \
 *       solutions/04-linked-list/list_heap.c
 *   build/heapmeasure/frag
 *
 * For each policy, SEEDS runs of STEPS random operations on a 1 MiB arena, sizes and alignments
 * from measure.h's mix. The heap is kept under pressure: a phase that mostly allocates (70%)
 * until the live bytes reach HIGH% of the arena, then one that mostly frees until they drop
 * to LOW%, and so on (build with -DHIGH=95 -DLOW=70, say, to try another pressure).
 * It prints, averaged over the runs:
 *   failed      allocations that returned NULL, per 1000 requests
 *   with room   of those, the ones that failed although the free bytes added up to more than
 *               the block needed: failures caused by fragmentation alone
 *   regions     free regions on the list (sampled every 100 steps): the length of the walk
 *   frag        external fragmentation, 1 - largest free region / free bytes (sampled)
 *   live at     how full the arena was (live bytes / arena) when requests failed, on average:
 *   failure     the lower, the more memory fragmentation made useless
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "list_heap.h"
#include "measure.h"

#define ARENA	     (1u << 20)
#define STEPS	     100000
#define SEEDS	     5
#define MAX_LIVE     4096
#define MAX_REQUEST  8192
#define SAMPLE_EVERY 100
#ifndef HIGH
#define HIGH 90 /* percent of the arena */
#endif
#ifndef LOW
#define LOW 60
#endif

static uint8_t arena[ARENA] __attribute__((aligned(4096)));
static void *live[MAX_LIVE];
static size_t live_size[MAX_LIVE];

struct policy {
	const char *name;
	enum list_heap_fit fit;
	bool merge;
};

struct result {
	double failed, with_room, regions, frag, live_at_failure;
};

static size_t block_bytes(size_t size)
{
	return LIST_HEAP_HEADER + ((size + LIST_HEAP_GRAIN - 1) & ~(size_t)(LIST_HEAP_GRAIN - 1));
}

/* Free without merging: the block goes back on the list (in address order, so that first fit
 * still means the lowest address), never merged with its neighbours. */
static void free_without_merge(struct list_heap *h, void *p)
{
	size_t size = list_heap_alloc_size(h, p);
	uintptr_t block = (uintptr_t)p - LIST_HEAP_HEADER;
	struct list_region **link = &h->head;

	if (!size)
		panic("free_without_merge: %p is not allocated", p);
	h->used_bytes -= size;
	h->live_allocs--;
	while (*link && (uintptr_t)*link < block)
		link = &(*link)->next;
	list_heap_add_free_region(link, block, block_bytes(size));
}

static void run(const struct policy *pol, uint64_t seed, struct result *res)
{
	struct list_heap h;
	struct heap_stats s;
	unsigned long requests = 0, failed = 0, with_room = 0, samples = 0;
	double regions = 0, frag = 0, live_at_failure = 0;
	size_t live_bytes = 0;
	int nlive = 0;
	bool filling = true;

	rng_state = seed;
	list_heap_init(&h, arena, ARENA);
	list_heap_set_fit(&h, pol->fit);
	for (int step = 0; step < STEPS; step++) {
		if (filling && live_bytes >= (size_t)ARENA * HIGH / 100)
			filling = false;
		else if (!filling && live_bytes <= (size_t)ARENA * LOW / 100)
			filling = true;
		if (nlive > 0 && (nlive == MAX_LIVE || rng_range(0, 99) >= (filling ? 70u : 30u))) {
			int i = (int)rng_range(0, (uint64_t)nlive - 1);
			if (pol->merge)
				list_heap_free(&h, live[i]);
			else
				free_without_merge(&h, live[i]);
			live_bytes -= live_size[i];
			nlive--;
			live[i] = live[nlive];
			live_size[i] = live_size[nlive];
		} else {
			size_t size = mix_size(MAX_REQUEST), align = mix_align();
			void *p = list_heap_alloc(&h, size, align);
			requests++;
			if (!p) {
				/* A failed allocation leaves the heap as it was: its free bytes are
				 * the ones the request found. */
				list_heap_stats(&h, &s);
				failed++;
				with_room += s.free_bytes >= block_bytes(size);
				live_at_failure += (double)live_bytes / ARENA;
			} else {
				live[nlive] = p;
				live_size[nlive++] = size;
				live_bytes += size;
			}
		}
		if (step % SAMPLE_EVERY == 0) {
			list_heap_stats(&h, &s);
			regions += (double)s.free_regions;
			frag += s.free_bytes ? 1.0 - (double)s.largest_free / (double)s.free_bytes
					     : 0;
			samples++;
		}
	}
	res->failed += 1000.0 * (double)failed / (double)requests / SEEDS;
	res->with_room += 1000.0 * (double)with_room / (double)requests / SEEDS;
	res->regions += regions / (double)samples / SEEDS;
	res->frag += frag / (double)samples / SEEDS;
	res->live_at_failure += (failed ? live_at_failure / (double)failed : 1.0) / SEEDS;
}

int main(void)
{
	static const struct policy policies[] = {
		{"first fit", LIST_HEAP_FIRST_FIT, true},
		{"best fit", LIST_HEAP_BEST_FIT, true},
		{"first fit, no merging", LIST_HEAP_FIRST_FIT, false},
	};

	printf("%d runs (seeds 1-%d) of %d steps, arena %u KiB, requests 1-%d bytes, live bytes "
	       "cycling between %d%% and %d%% of the arena\n",
	       SEEDS, SEEDS, STEPS, ARENA / 1024, MAX_REQUEST, LOW, HIGH);
	printf("%-22s %11s %11s %9s %7s %16s\n", "policy", "failed/1000", "with room", "regions",
	       "frag", "live at failure");
	for (size_t k = 0; k < sizeof(policies) / sizeof(policies[0]); k++) {
		struct result r = {0, 0, 0, 0, 0};
		for (uint64_t seed = 1; seed <= SEEDS; seed++)
			run(&policies[k], seed, &r);
		printf("%-22s %11.1f %11.1f %9.1f %6.0f%% %15.0f%%\n", policies[k].name, r.failed,
		       r.with_room, r.regions, 100 * r.frag, 100 * r.live_at_failure);
	}
	return 0;
}
