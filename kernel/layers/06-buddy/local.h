/* Shared by the files of layer 06 only (kernel/layers/06-buddy; init.c tells the story). */
#pragma once

#include "buddy.h"
#include "kheap.h"
#include "layer_access.h"
#include "memmap.h"
#include "paging.h"

/* One region of the kernel's buddy allocator: the whole frames of a usable memory-map area. */
struct pages_region {
	struct buddy_region *buddy; /* lab 06's region: pages_buddies[i] for regions[i] */
	uint64_t *owned;	    /* bit pfn - base_pfn: a block from pages_alloc_bytes starts */
	struct buddy_node *nodes;   /* nodes of free blocks on a 2 MiB boundary (init.c) */
	uint64_t given;		    /* frames the takeover gave it */
};

/* The regions: pages_buddies[i], pages_tables[i] (layer_access.h: tests look at them too) and
 * the kernel's own part, regions[i], for i < pages_nregions. */
extern struct pages_region regions[MEMMAP_MAX];

/* The region holding frame pfn, or NULL. */
struct pages_region *region_of(uint64_t pfn);

/* frames.c: the buddy as the kernel's frame source and as kmalloc's whole pages. */
extern const struct kframe_source buddy_source;
extern const struct kheap_pages buddy_pages;

void buddy_tour(void); /* tour.c */
