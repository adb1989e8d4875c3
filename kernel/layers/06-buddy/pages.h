/*
 * What layer 06 gives the rest of the kernel (kernel/layers/06-buddy): lab 06's buddy allocator
 * (kernel/buddy.h) becomes the kernel's frame source, and heap requests of a page or more get
 * whole blocks from it.
 *
 * Regions. One buddy region per usable memory-map area, over the area's whole frames. A
 * region's frame table (one byte per frame), its owner bits (one bit per frame: "a block from
 * pages_alloc_bytes starts here") and its side nodes (the free-list nodes of blocks on a 2 MiB
 * boundary, init.c says why) sit in the first run of frames free in lab 02's bitmap inside
 * that area, or anywhere if the area has none (the 640 KiB below the BIOS hole); those frames
 * stay reserved for good. The other free-list nodes live in the free frames themselves,
 * reached through the direct map, so the buddy needs the kernel's own page tables.
 *
 * The takeover. The runs of frames still free in lab 02's bitmap (frame_for_each_free_run) go
 * to the regions (buddy_add_free_range). Only once every run is in is the bitmap retired
 * (frame_retire_all) and the buddy made the source (kframe_set_source); if lab 06's code
 * reaches a TODO on the way, nothing has been taken and the bitmap stays the source. The boot
 * log says which source the kernel uses.
 *
 * Frames through the buddy (the kframe_* calls of paging.h):
 *   kframe_alloc()            an order-0 block from the first region that has a free frame;
 *   kframe_alloc_contig(n)    one block of order buddy_order_for(n): 2^order frames aligned to
 *                             their size, so kframes_free() drops by 2^order; 0 if n exceeds
 *                             2^BUDDY_MAX_ORDER (4 MiB) or no block is left;
 *   kframe_free(pa)           buddy_free(order 0); a frame the bitmap handed out before the
 *                             switch (a page table, say) goes in with buddy_add_free_range;
 *   kframe_free_contig(pa, n) the block kframe_alloc_contig(n) returned, and nothing else.
 * Misuse panics naming the function that noticed ("kframe_free: ...", "buddy_free: ...").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buddy.h"
#include "memlayout.h"

/* One region of the kernel's buddy allocator: the whole frames of a usable memory-map area. */
struct pages_region {
	struct buddy_region *buddy; /* lab 06's region */
	/* Its frame table, owner bits and side nodes fill frames [table_pfn, table_pfn +
	 * table_frames), reserved (in this region or, for a region with no free frame, another). */
	uint64_t table_pfn, table_frames;
	uint64_t *owned; /* bit (pfn - base_pfn) set: a block from pages_alloc_bytes starts there */
	struct buddy_node *nodes; /* nodes of free blocks on a 2 MiB boundary (init.c) */
	uint64_t given;		  /* frames the takeover gave it */
};

/*
 * Whole pages for a heap request: at least size bytes, page-aligned, from the direct map, as
 * one buddy block of order buddy_order_for(pages), so a request of 5 pages gets 8. Returns NULL
 * for size 0 or when no block is large enough (more than 4 MiB, or none left): the heap then
 * serves the request itself. The memory is not cleared. kmalloc asks it (kheap_use_pages).
 */
void *pages_alloc_bytes(size_t size);

/* True if p is a block pages_alloc_bytes returned and nobody freed yet; false for any other
 * pointer (a heap pointer, a frame from kframe_alloc, the middle of a block, NULL). */
bool pages_owns(const void *p);

/* The bytes the caller may use at p, a block from pages_alloc_bytes: the whole block,
 * PAGE_SIZE << order (for krealloc). Panics "pages_alloc_size: ..." if pages_owns(p) is false. */
size_t pages_alloc_size(const void *p);

/*
 * Give back a block from pages_alloc_bytes (NULL: nothing). Panics "pages_free_bytes: ..." for
 * anything else: an address outside the direct map or not page-aligned, a frame that is no RAM
 * of the buddy's, the middle of a block, a frame from kframe_alloc, a double free.
 */
void pages_free_bytes(void *p);
