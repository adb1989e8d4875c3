/*
 * Whole pages for kmalloc (pages.h): a request of a page or more gets one buddy block, and the
 * region's owner bits remember that a block of pages starts there, so that kfree can tell it
 * from a frame of kframe_alloc and from the middle of a block, and krealloc knows its size.
 */
#include "local.h"
#include "panic.h"

#define BITS_PER_WORD 64

bool pages_owned(const struct pages_region *pr, uint64_t pfn)
{
	uint64_t bit = pfn - pr->buddy->base_pfn;

	return pr->owned[bit / BITS_PER_WORD] >> (bit % BITS_PER_WORD) & 1;
}

static void set_owned(struct pages_region *pr, uint64_t pfn, bool on)
{
	uint64_t bit = pfn - pr->buddy->base_pfn, mask = UINT64_C(1) << (bit % BITS_PER_WORD);

	if (on)
		pr->owned[bit / BITS_PER_WORD] |= mask;
	else
		pr->owned[bit / BITS_PER_WORD] &= ~mask;
}

/* The frame number behind a direct-map address, or BUDDY_NO_FRAME for any other address. */
static uint64_t direct_map_pfn(const void *p)
{
	uint64_t a = (uint64_t)p;

	if (a < DIRECT_MAP_BASE || a >= KHEAP_BASE)
		return BUDDY_NO_FRAME;
	return (a - DIRECT_MAP_BASE) >> PAGE_SHIFT;
}

void *pages_alloc_bytes(size_t size)
{
	if (size == 0 || size > (PAGE_SIZE << BUDDY_MAX_ORDER))
		return NULL;
	phys_addr_t pa =
		buddy_alloc_frames(buddy_order_for(align_up(size, PAGE_SIZE) >> PAGE_SHIFT));
	if (!pa)
		return NULL;
	set_owned(pages_region_of(pa >> PAGE_SHIFT), pa >> PAGE_SHIFT, true);
	return phys_to_virt(pa);
}

bool pages_owns(const void *p)
{
	uint64_t pfn = direct_map_pfn(p);
	struct pages_region *pr = pfn == BUDDY_NO_FRAME ? NULL : pages_region_of(pfn);

	return pr && ((uint64_t)p & (PAGE_SIZE - 1)) == 0 && pages_owned(pr, pfn);
}

/* Panic, naming fn, unless p is a live block from pages_alloc_bytes; returns its region. */
static struct pages_region *check_owned(const void *p, const char *fn)
{
	uint64_t pfn = direct_map_pfn(p);
	struct pages_region *pr = pfn == BUDDY_NO_FRAME ? NULL : pages_region_of(pfn);

	if (pfn == BUDDY_NO_FRAME)
		panic("%s: %p is not an address in the direct map: not a block of pages", fn, p);
	if ((uint64_t)p & (PAGE_SIZE - 1))
		panic("%s: %p is not page-aligned: not the start of a block of pages", fn, p);
	if (!pr)
		panic("%s: %p is not RAM the buddy allocator manages", fn, p);
	if (pages_owned(pr, pfn))
		return pr;

	uint64_t head = buddy_block_holding(pr->buddy, pfn);
	if (head == BUDDY_NO_FRAME)
		panic("%s: %p is a reserved frame: the buddy allocator never handed it out", fn, p);
	uint8_t b = buddy_frame(pr->buddy, head);
	if ((b & BUDDY_STATE_MASK) == BUDDY_FREE)
		panic("%s: double free of %p: the frame is free (in a free block of %u pages)", fn,
		      p, 1u << (b & BUDDY_ORDER_MASK));
	if (head != pfn && pages_owned(pr, head))
		panic("%s: %p is inside the block of %u pages at %p, not its start", fn, p,
		      1u << (b & BUDDY_ORDER_MASK), phys_to_virt(head << PAGE_SHIFT));
	panic("%s: %p is a frame from kframe_alloc, not a block from pages_alloc_bytes", fn, p);
}

size_t pages_alloc_size(const void *p)
{
	struct pages_region *pr = check_owned(p, "pages_alloc_size");

	return PAGE_SIZE << buddy_block_order(pr->buddy, direct_map_pfn(p));
}

void pages_free_bytes(void *p)
{
	if (!p)
		return;
	struct pages_region *pr = check_owned(p, "pages_free_bytes");
	uint64_t pfn = direct_map_pfn(p);
	int order = buddy_block_order(pr->buddy, pfn);

	if (order < 0)
		panic("pages_free_bytes: %p: the buddy allocator has no block there any more", p);
	set_owned(pr, pfn, false);
	buddy_free(pr->buddy, pfn, (unsigned)order);
}

const struct kheap_pages buddy_pages = {
	.alloc = pages_alloc_bytes,
	.owns = pages_owns,
	.alloc_size = pages_alloc_size,
	.free = pages_free_bytes,
};
