/*
 * framebench adapter: lab 06's buddy allocator (kernel/buddy.h, solutions/06-buddy/), as the
 * kernel runs it: one region over the frames, its frame table to the side, and each free
 * block's list node in the block's first frame (here the host memory standing in for RAM).
 * Frame numbers are host addresses divided by the frame size, so the region is aligned
 * exactly as the benchmark's memory is.
 */
#include <stdint.h>
#include <stdlib.h>
#include "buddy.h"

#define ADAPTER_MAX_ORDER   BUDDY_MAX_ORDER
#define ADAPTER_FRAME_SHIFT 12
#define ADAPTER_FRAME_BYTES (1ul << ADAPTER_FRAME_SHIFT)

static struct buddy_region adapter_region;
static uint8_t *adapter_table;
static size_t adapter_table_frames;

static void *adapter_frame_ptr(void *ctx, uint64_t pfn)
{
	(void)ctx;
	return (void *)(uintptr_t)(pfn << ADAPTER_FRAME_SHIFT);
}

static void adapter_init(void *base, size_t nframes)
{
	uint64_t first = (uintptr_t)base >> ADAPTER_FRAME_SHIFT;

	if (nframes > adapter_table_frames) {
		free(adapter_table);
		adapter_table = malloc(BUDDY_TABLE_BYTES(nframes));
		if (!adapter_table)
			abort();
		adapter_table_frames = nframes;
	}
	buddy_region_init(&adapter_region, first, nframes, adapter_table, adapter_frame_ptr, NULL);
	buddy_add_free_range(&adapter_region, first, nframes);
}

static inline void *adapter_alloc(unsigned order)
{
	uint64_t pfn = buddy_alloc(&adapter_region, order);

	return pfn == BUDDY_NO_FRAME ? NULL : (void *)(uintptr_t)(pfn << ADAPTER_FRAME_SHIFT);
}

static inline void adapter_free(void *p, unsigned order)
{
	buddy_free(&adapter_region, (uintptr_t)p >> ADAPTER_FRAME_SHIFT, order);
}
