/* Shared by the files of layer 06 only (kernel/layers/06-buddy). */
#pragma once

#include "kheap.h"
#include "memmap.h"
#include "pages.h"
#include "layer_access.h"
#include "paging.h"

#define COUNTS_TEXT_MAX 128 /* "c0 c1 ... c10" of one region */

/* The regions, one per usable memory-map area (buddies[] contiguous for buddy_find_region). */
extern struct buddy_region buddies[MEMMAP_MAX];
extern struct pages_region regions[MEMMAP_MAX];
extern size_t nregions;

/* The buddy as a frame source (frames.c), and whole pages for kmalloc (pages.c). */
extern const struct kframe_source buddy_source;
extern const struct kheap_pages buddy_pages;

/* A block of 2^order frames from the first region that has one (frames.c), or 0. */
phys_addr_t buddy_alloc_frames(unsigned order);

/* Bit "a block from pages_alloc_bytes starts at pfn" of its region. */
bool pages_owned(const struct pages_region *pr, uint64_t pfn);

/* "c0 c1 ... c10": a region's free blocks per order, for the log, the tour and the grader. */
const char *pages_format_counts(const struct buddy_region *r, char *buf, size_t size);

/* This layer's part of the tour (tour.c). */
void buddy_tour(void);
