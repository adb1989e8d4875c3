/*
 * The buddy allocator as the kernel's frame source (the kframe_* calls, pages.h): single
 * frames are order-0 blocks, kframe_alloc_contig(n) one block of buddy_order_for(n), from the
 * first region that has one. A frame lab 02's bitmap handed out before the switch (a page
 * table, the heap's first pages) is reserved in the buddy; kframe_free gives it to the buddy
 * for the first time.
 */
#include "local.h"
#include "panic.h"

/* The region holding frame pa, or a panic naming fn. */
static struct pages_region *region_of_frame(phys_addr_t pa, const char *fn)
{
	if (pa & (PAGE_SIZE - 1))
		panic("%s: 0x%lx is not the address of a frame (not page-aligned)", fn, pa);
	struct pages_region *pr = pages_region_of(pa >> PAGE_SHIFT);
	if (!pr)
		panic("%s: 0x%lx is not a frame of RAM the buddy allocator manages", fn, pa);
	return pr;
}

/*
 * The buddy has frame pa reserved: panic (naming fn) unless the bitmap handed it out before
 * the switch, that is unless it is none of frame 0, lab 02's reserved ranges (the low 1 MiB,
 * the kernel image, the bitmap) and the buddy's own frame tables.
 */
static void check_frame_from_before(phys_addr_t pa, const char *fn)
{
	if (pa == 0)
		panic("%s: frame 0 is never handed out", fn);
	for (int i = 0; i < kernel_frames.nreserved; i++)
		if (pa + PAGE_SIZE > kernel_frames.reserved[i].start &&
		    pa < kernel_frames.reserved[i].end)
			panic("%s: 0x%lx is reserved (low memory, the kernel image or the frame "
			      "bitmap): it was never handed out",
			      fn, pa);
	for (size_t i = 0; i < nregions; i++)
		if ((pa >> PAGE_SHIFT) - regions[i].table_pfn < regions[i].table_frames)
			panic("%s: 0x%lx holds the buddy allocator's frame table of region %zu: it "
			      "was never handed out",
			      fn, pa, i);
}

phys_addr_t buddy_alloc_frames(unsigned order)
{
	if (order > BUDDY_MAX_ORDER)
		return 0;
	for (size_t i = 0; i < nregions; i++) {
		uint64_t pfn = buddy_alloc(&buddies[i], order);
		if (pfn != BUDDY_NO_FRAME)
			return pfn << PAGE_SHIFT;
	}
	return 0;
}

static phys_addr_t source_alloc(void)
{
	return buddy_alloc_frames(0);
}

static void source_free(phys_addr_t pa)
{
	struct pages_region *pr = region_of_frame(pa, "kframe_free");
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (buddy_frame(pr->buddy, pfn) == BUDDY_RESERVED) {
		check_frame_from_before(pa, "kframe_free");
		buddy_add_free_range(pr->buddy, pfn, 1); /* it joins the buddy */
		return;
	}
	if (pages_owned(pr, pfn))
		panic("kframe_free: 0x%lx is a block from pages_alloc_bytes: give it back with kfree",
		      pa);
	buddy_free(pr->buddy, pfn, 0); /* its own checks name any other misuse */
}

static phys_addr_t source_alloc_contig(size_t n)
{
	return n ? buddy_alloc_frames(buddy_order_for(n)) : 0;
}

static void source_free_contig(phys_addr_t pa, size_t n)
{
	if (n == 0)
		return;
	struct pages_region *pr = region_of_frame(pa, "kframe_free_contig");
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (pages_owned(pr, pfn))
		panic("kframe_free_contig: 0x%lx is a block from pages_alloc_bytes: give it back "
		      "with kfree",
		      pa);
	if (buddy_block_order(pr->buddy, pfn) != (int)buddy_order_for(n))
		panic("kframe_free_contig: 0x%lx, %zu frames: not a block kframe_alloc_contig(%zu) "
		      "returned (that is an order-%u block; %s)",
		      pa, n, n, buddy_order_for(n),
		      buddy_block_order(pr->buddy, pfn) < 0
			      ? "no allocated block starts there"
			      : "the block there has another order");
	buddy_free(pr->buddy, pfn, buddy_order_for(n));
}

static uint64_t source_count_free(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nregions; i++)
		n += buddy_free_frames(&buddies[i]);
	return n;
}

static uint64_t source_count_total(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nregions; i++)
		n += buddies[i].nframes;
	return n;
}

const struct kframe_source buddy_source = {
	.name = "the buddy allocator (lab 06)",
	.alloc = source_alloc,
	.free = source_free,
	.alloc_contig = source_alloc_contig,
	.free_contig = source_free_contig,
	.count_free = source_count_free,
	.count_total = source_count_total,
};

phys_addr_t pages_buddy_alloc_frames(unsigned order)
{
	return buddy_alloc_frames(order);
}
