/*
 * What the buddy serves once it is the source: the kernel's frames (paging.h's kframe_*: a
 * frame is an order-0 block, kframe_alloc_contig(n) one block of order buddy_order_for(n), and
 * kframe_free_contig takes back only such a block), and kmalloc's whole pages (one block whose
 * start the region's owner bits mark, so kfree tells it from a frame or the middle of a block).
 * Misuse panics naming the function that noticed ("kframe_free: ...", "buddy_free: ...").
 */
#include "local.h"
#include "panic.h"

struct pages_region *region_of(uint64_t pfn)
{
	struct buddy_region *r = buddy_find_region(pages_buddies, pages_nregions, pfn);

	return r ? &regions[r - pages_buddies] : NULL;
}

/* True if a block from pages_alloc_bytes starts at frame pfn of pr. */
static bool pages_owned(const struct pages_region *pr, uint64_t pfn)
{
	uint64_t bit = pfn - pr->buddy->base_pfn;

	return pr->owned[bit / 64] >> (bit % 64) & 1;
}

/* Set by pages_alloc_bytes, cleared by pages_free_bytes: each flips the bit. */
static void flip_owned(struct pages_region *pr, uint64_t pfn)
{
	uint64_t bit = pfn - pr->buddy->base_pfn;

	pr->owned[bit / 64] ^= UINT64_C(1) << (bit % 64);
}

/* ---- frames ------------------------------------------------------------------------------ */

/* The region of frame pa, or a panic naming fn. */
static struct pages_region *frame_region(phys_addr_t pa, const char *fn)
{
	struct pages_region *pr = region_of(pa >> PAGE_SHIFT);

	if (pa & (PAGE_SIZE - 1))
		panic("%s: 0x%lx is not the address of a frame (not page-aligned)", fn, pa);
	if (!pr)
		panic("%s: 0x%lx is not a frame of RAM the buddy allocator manages", fn, pa);
	if (pages_owned(pr, pa >> PAGE_SHIFT))
		panic("%s: 0x%lx is a block from pages_alloc_bytes: give it back with kfree", fn,
		      pa);
	return pr;
}

/* One block of order buddy_order_for(n) from the first region that has one, or 0. */
static phys_addr_t source_alloc_contig(size_t n)
{
	if (n == 0)
		return 0;
	uint64_t pfn = buddy_alloc_first(pages_buddies, pages_nregions, buddy_order_for(n));

	return pfn == BUDDY_NO_FRAME ? 0 : pfn << PAGE_SHIFT;
}

static phys_addr_t source_alloc(void)
{
	return source_alloc_contig(1);
}

static void source_free(phys_addr_t pa)
{
	struct pages_region *pr = frame_region(pa, "kframe_free");
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (buddy_frame(pr->buddy, pfn) != BUDDY_RESERVED) {
		buddy_free(pr->buddy, pfn, 0); /* its checks name any other misuse */
		return;
	}
	/* Reserved in the buddy: fine if lab 02's bitmap handed it out before the switch. */
	if (frame_never_handed_out(&kernel_frames, pfn))
		panic("kframe_free: 0x%lx is reserved (frame 0, low memory, the kernel image or the "
		      "frame bitmap): it was never handed out",
		      pa);
	for (size_t i = 0; i < pages_nregions; i++)
		if (pa >= pages_tables[i].start && pa < pages_tables[i].end)
			panic("kframe_free: 0x%lx holds the buddy allocator's frame table of region "
			      "%zu: it was never handed out",
			      pa, i);
	buddy_add_free_range(pr->buddy, pfn, 1);
}

static void source_free_contig(phys_addr_t pa, size_t n)
{
	if (n == 0)
		return;
	struct pages_region *pr = frame_region(pa, "kframe_free_contig");
	int order = buddy_block_order(pr->buddy, pa >> PAGE_SHIFT);

	if (order != (int)buddy_order_for(n))
		panic("kframe_free_contig: 0x%lx: not the block of %zu frames (order %u) that "
		      "kframe_alloc_contig(%zu) returns: %s",
		      pa, n, buddy_order_for(n), n,
		      order < 0 ? "no allocated block starts there"
				: "the block has another order");
	buddy_free(pr->buddy, pa >> PAGE_SHIFT, (unsigned)order);
}

static uint64_t source_count_free(void)
{
	return buddy_count_free(pages_buddies, pages_nregions);
}

static uint64_t source_count_total(void)
{
	return buddy_count_frames(pages_buddies, pages_nregions);
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

/* ---- whole pages for kmalloc --------------------------------------------------------------- */

void *pages_alloc_bytes(size_t size)
{
	if (size == 0 || size > (PAGE_SIZE << BUDDY_MAX_ORDER))
		return NULL;
	phys_addr_t pa = source_alloc_contig(align_up(size, PAGE_SIZE) >> PAGE_SHIFT);
	if (pa)
		flip_owned(region_of(pa >> PAGE_SHIFT), pa >> PAGE_SHIFT);
	return pa ? phys_to_virt(pa) : NULL;
}

/* Why p is not a live block from pages_alloc_bytes, or NULL: it is one. */
static const char *why_not_pages(const void *p)
{
	uint64_t a = (uint64_t)p, pfn = virt_to_phys(p) >> PAGE_SHIFT, head;
	struct pages_region *pr = a >= DIRECT_MAP_BASE && a < KHEAP_BASE ? region_of(pfn) : NULL;

	if (!pr)
		return "is not an address in the direct map of the buddy's RAM";
	if (a & (PAGE_SIZE - 1))
		return "is not page-aligned: not the start of a block of pages";
	if (pages_owned(pr, pfn))
		return NULL;
	head = buddy_block_holding(pr->buddy, pfn);
	if (head != BUDDY_NO_FRAME && head != pfn && pages_owned(pr, head))
		return "is inside a block of pages, not its start";
	if (buddy_block_order(pr->buddy, pfn) >= 0)
		return "is a frame from kframe_alloc, not a block from pages_alloc_bytes";
	return "is no block of pages: a double free, or a frame never handed out";
}

bool pages_owns(const void *p)
{
	return !why_not_pages(p);
}

/* p's region, or a panic naming fn unless p is a live block from pages_alloc_bytes. */
static struct pages_region *check_owned(const void *p, const char *fn)
{
	const char *why = why_not_pages(p);

	if (why)
		panic("%s: %p %s", fn, p, why);
	return region_of(virt_to_phys(p) >> PAGE_SHIFT);
}

size_t pages_alloc_size(const void *p)
{
	struct pages_region *pr = check_owned(p, "pages_alloc_size");

	return PAGE_SIZE << buddy_block_order(pr->buddy, virt_to_phys(p) >> PAGE_SHIFT);
}

void pages_free_bytes(void *p)
{
	if (!p)
		return;
	struct pages_region *pr = check_owned(p, "pages_free_bytes");
	uint64_t pfn = virt_to_phys(p) >> PAGE_SHIFT;

	flip_owned(pr, pfn);
	buddy_free(pr->buddy, pfn, (unsigned)buddy_block_order(pr->buddy, pfn));
}

const struct kheap_pages buddy_pages = {
	.alloc = pages_alloc_bytes,
	.owns = pages_owns,
	.alloc_size = pages_alloc_size,
	.free = pages_free_bytes,
};
