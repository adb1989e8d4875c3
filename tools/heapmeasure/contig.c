/*
 * Contiguous frames from lab 02's bitmap and from lab 06's buddy allocator, under the same
 * churn. Quoted in handouts/06-buddy.md.
 *
 * Build and run from the top of the repository (the counts are the same everywhere, the
 * times are this machine's):
 *
 *   mkdir -p build/heapmeasure
 *   gcc -O2 -Ikernel -o build/heapmeasure/contig tools/heapmeasure/contig.c solutions/02-paging/frame.c solutions/06-buddy/buddy.c
 *   build/heapmeasure/contig
 *
 * One region of 32768 frames (a 128 MiB machine), SEEDS runs of STEPS operations each. The
 * frames in use go up to HIGH% of the region with mostly allocations, down to LOW% with mostly
 * frees, and so on. A request is one frame (80%) or a run of 2 to 64 frames (20%: what a huge
 * page, a DMA buffer or a heap request of a few pages needs). The bitmap takes exactly n
 * frames with frame_alloc_contig(n); the buddy takes a block of order buddy_order_for(n),
 * rounded up to a power of two. Freed in a random order. It prints, for each allocator:
 *   failed      contiguous requests that returned nothing, per 1000 of them
 *   with room   of those, the ones that failed although the free frames numbered at least n
 *               (the bitmap) or 2^order (the buddy): failures of fragmentation alone
 *   largest     the largest run of free frames (bitmap) or the largest free block (buddy),
 *               in frames, averaged over samples taken every 1000 steps
 *   ns/contig   the time of one contiguous allocation, on average
 *   ns/frame    the time of one single-frame allocation, on average
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "buddy.h"
#include "frame.h"
#include "measure.h"
#include "memmap.h"

#define NFRAMES	 32768
#define STEPS	 200000
#define SEEDS	 5
#define MAX_LIVE 16384
#ifndef HIGH
#define HIGH 85
#endif
#ifndef LOW
#define LOW 60
#endif

struct live {
	uint64_t pfn;
	unsigned n; /* frames asked for */
};

struct result {
	uint64_t contig, contig_failed, contig_room, frames, largest_sum, samples;
	uint64_t contig_ns, frame_ns;
};

static struct live live[MAX_LIVE];
static uint64_t bitmap[NFRAMES / 64];
static uint8_t table[NFRAMES];
static struct buddy_node nodes[NFRAMES];

static void *node_of(void *ctx, uint64_t pfn)
{
	return &nodes[pfn];
}

struct alloc {
	const char *name;
	void (*init)(void);
	uint64_t (*get)(unsigned n); /* first frame, or UINT64_MAX */
	void (*put)(uint64_t pfn, unsigned n);
	uint64_t (*free_frames)(void);
	uint64_t (*largest)(void);
	uint64_t (*cost)(unsigned n); /* frames a request of n takes */
};

/* --- lab 02's bitmap --- */
static struct frame_allocator fa;
static struct memmap map = {.regions = {{0, (uint64_t)NFRAMES *PAGE_SIZE, MEMMAP_USABLE}},
			    .count = 1};

static void bm_init(void)
{
	frame_init(&fa, bitmap, 0, NFRAMES / 64, &map, NULL, 0);
}
static uint64_t bm_get(unsigned n)
{
	phys_addr_t pa = n == 1 ? frame_alloc(&fa) : frame_alloc_contig(&fa, n);
	return pa ? pa / PAGE_SIZE : UINT64_MAX;
}
static void bm_put(uint64_t pfn, unsigned n)
{
	if (n == 1)
		frame_free(&fa, pfn * PAGE_SIZE);
	else
		frame_free_contig(&fa, pfn * PAGE_SIZE, n);
}
static uint64_t bm_free(void)
{
	return frame_count_free(&fa);
}
static uint64_t bm_largest(void)
{
	uint64_t best = 0, run = 0;

	for (uint64_t f = 0; f < NFRAMES; f++) {
		run = (bitmap[f / 64] >> (f % 64)) & 1 ? 0 : run + 1;
		best = run > best ? run : best;
	}
	return best;
}
static uint64_t bm_cost(unsigned n)
{
	return n;
}

/* --- lab 06's buddy --- */
static struct buddy_region br;

static void bd_init(void)
{
	buddy_region_init(&br, 0, NFRAMES, table, node_of, NULL);
	buddy_add_free_range(&br, 1, NFRAMES - 1); /* frame 0 is never free, as in the bitmap */
}
static uint64_t bd_get(unsigned n)
{
	uint64_t pfn = buddy_alloc(&br, buddy_order_for(n));
	return pfn == BUDDY_NO_FRAME ? UINT64_MAX : pfn;
}
static void bd_put(uint64_t pfn, unsigned n)
{
	buddy_free(&br, pfn, buddy_order_for(n));
}
static uint64_t bd_free(void)
{
	return buddy_free_frames(&br);
}
static uint64_t bd_largest(void)
{
	for (int k = BUDDY_MAX_ORDER; k >= 0; k--)
		if (buddy_free_blocks(&br, (unsigned)k))
			return 1ULL << k;
	return 0;
}
static uint64_t bd_cost(unsigned n)
{
	return 1ULL << buddy_order_for(n);
}

static void run(const struct alloc *a, uint64_t seed, struct result *res)
{
	int nlive = 0;
	uint64_t used = 0;
	bool growing = true;

	rng_state = seed;
	a->init();
	for (int step = 0; step < STEPS; step++) {
		if (used * 100 >= (uint64_t)NFRAMES * HIGH)
			growing = false;
		else if (used * 100 <= (uint64_t)NFRAMES * LOW)
			growing = true;
		bool alloc =
			nlive == 0 || (nlive < MAX_LIVE && rng_range(0, 99) < (growing ? 70 : 30));
		if (alloc) {
			unsigned n = rng_range(0, 99) < 80 ? 1 : (unsigned)rng_range(2, 64);
			uint64_t t0 = now_ns();
			uint64_t pfn = a->get(n);
			uint64_t dt = now_ns() - t0;
			if (n > 1) {
				res->contig++;
				res->contig_ns += dt;
			} else {
				res->frames++;
				res->frame_ns += dt;
			}
			if (pfn == UINT64_MAX) {
				if (n > 1) {
					res->contig_failed++;
					if (a->free_frames() >= a->cost(n))
						res->contig_room++;
				}
				continue;
			}
			live[nlive++] = (struct live){pfn, n};
			used += a->cost(n);
		} else {
			int i = (int)rng_range(0, (uint64_t)nlive - 1);
			a->put(live[i].pfn, live[i].n);
			used -= a->cost(live[i].n);
			live[i] = live[--nlive];
		}
		if (step % 1000 == 0) {
			res->largest_sum += a->largest();
			res->samples++;
		}
	}
	while (nlive) {
		nlive--;
		a->put(live[nlive].pfn, live[nlive].n);
	}
}

int main(void)
{
	static const struct alloc allocs[] = {
		{"bitmap (lab 02)", bm_init, bm_get, bm_put, bm_free, bm_largest, bm_cost},
		{"buddy (lab 06)", bd_init, bd_get, bd_put, bd_free, bd_largest, bd_cost},
	};
	printf("%d frames, %d runs of %d steps, in use between %d%% and %d%%\n", NFRAMES, SEEDS,
	       STEPS, LOW, HIGH);
	printf("%-16s %8s %10s %9s %10s %9s\n", "allocator", "failed", "with room", "largest",
	       "ns/contig", "ns/frame");
	for (size_t k = 0; k < sizeof(allocs) / sizeof(allocs[0]); k++) {
		struct result r = {0};
		for (uint64_t s = 1; s <= SEEDS; s++)
			run(&allocs[k], s, &r);
		printf("%-16s %8.1f %10.1f %9.0f %10.0f %9.0f\n", allocs[k].name,
		       1000.0 * (double)r.contig_failed / (double)r.contig,
		       1000.0 * (double)r.contig_room / (double)r.contig,
		       (double)r.largest_sum / (double)r.samples,
		       (double)r.contig_ns / (double)r.contig,
		       (double)r.frame_ns / (double)r.frames);
	}
	return 0;
}
