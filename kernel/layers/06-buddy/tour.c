/*
 * Layer 06's part of the tour: each region's free blocks per order, then a block split and
 * merged back before the reader's eyes.
 */
#include "kprintf.h"
#include "local.h"

#define TOUR_DEMO_PAGES 5 /* the tour's kmalloc-sized request: 5 pages, served as 8 */

static void tour_counts(const char *what, const struct buddy_region *r)
{
	char counts[BUDDY_COUNTS_TEXT_MAX];

	kprintf("  %-34s [%s]\n", what, buddy_format_counts(r, counts, sizeof(counts)));
}

void buddy_tour(void)
{
	if (!pages_ready) {
		kprintf("the kernel still takes its frames from lab 02's bitmap: lab 06 is not done "
			"yet (see the notes at boot).\n");
		return;
	}
	kprintf("frame source: %s, %zu regions, %lu of %lu frames free\n", buddy_source.name,
		pages_nregions, kframes_free(), kframes_total());
	for (size_t i = 0; i < pages_nregions; i++) {
		const struct buddy_region *r = &pages_buddies[i];

		kprintf("region %zu: frames 0x%lx-0x%lx: %lu frames (%lu MiB), %lu free; its table: "
			"%lu KiB at 0x%lx\n",
			i, r->base_pfn, r->base_pfn + r->nframes - 1, r->nframes,
			r->nframes >> (20 - PAGE_SHIFT), buddy_free_frames(r),
			(pages_tables[i].end - pages_tables[i].start) >> 10, pages_tables[i].start);
		tour_counts("free blocks per order 0..10:", r);
	}

	phys_addr_t pa = kframe_alloc_contig(8);
	struct pages_region *pr = pa ? region_of(pa >> PAGE_SHIFT) : NULL;
	if (!pr) {
		kprintf("no block of 8 frames is left to show splitting.\n");
		return;
	}
	size_t i = (size_t)(pr - regions);
	kprintf("kframe_alloc_contig(8) = 0x%lx, an order-3 block of region %zu:\n", pa, i);
	tour_counts("free blocks per order now:", pr->buddy);
	void *p = pages_alloc_bytes(TOUR_DEMO_PAGES * PAGE_SIZE);
	if (p) {
		kprintf("pages_alloc_bytes(%lu pages) = %p, %zu pages (kmalloc of a page or more)\n",
			(uint64_t)TOUR_DEMO_PAGES, p, pages_alloc_size(p) / PAGE_SIZE);
		tour_counts("and now:", region_of(virt_to_phys(p) >> PAGE_SHIFT)->buddy);
		pages_free_bytes(p);
	}
	kframe_free_contig(pa, 8);
	tour_counts("both freed, merged back:", pr->buddy);
}
